//! JUnit XML: one testsuite per feature, one testcase per verdict (and per scenario not judged or
//! not applicable), requirement ids, cause and fix as properties, for CI servers to show.

use std::fmt::Write as _;

use crate::judge::VerdictContext;
use crate::report::findings::Findings;

/// `s` escaped for XML (and HTML) text and attribute values; control characters XML cannot
/// carry are dropped.
pub(crate) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// The testcase name of a verdict: scenario, mode and browser, so a nightly report says which
/// deployment mode broke.
fn case_name(context: &VerdictContext, what: &str) -> String {
    format!(
        "{} [{}, {}] {}",
        context.scenario, context.mode, context.browser, what
    )
}

/// JUnit XML: one testsuite per feature, one testcase per verdict (and per unjudged scenario).
pub fn junit(findings: &Findings) -> String {
    use std::collections::BTreeMap;
    let mut suites: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut counts: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    for v in &findings.verdicts {
        let mut case = format!(
            "    <testcase classname=\"{}\" name=\"{}\">\n      <properties>\n",
            xml_escape(&v.context.feature),
            xml_escape(&case_name(&v.context, v.rule.name()))
        );
        for r in &v.requirements {
            let _ = writeln!(
                case,
                "        <property name=\"requirement\" value=\"{}\"/>",
                xml_escape(r)
            );
        }
        let (expected, mode) = (v.expected.to_string(), v.context.mode.to_string());
        for (k, val) in [
            ("rule", v.rule.name()),
            ("expected", &expected),
            ("observed", v.observed.name()),
            ("mode", &mode),
            ("browser", &v.context.browser),
            ("target", &v.context.target),
        ] {
            let _ = writeln!(
                case,
                "        <property name=\"{k}\" value=\"{}\"/>",
                xml_escape(val)
            );
        }
        for e in &v.evidence {
            let _ = writeln!(
                case,
                "        <property name=\"evidence\" value=\"{}\"/>",
                xml_escape(e)
            );
        }
        for (k, val) in v
            .likely_cause
            .iter()
            .map(|c| ("likely_cause", c))
            .chain(v.fix.iter().map(|f| ("fix", f)))
        {
            let _ = writeln!(
                case,
                "        <property name=\"{k}\" value=\"{}\"/>",
                xml_escape(val)
            );
        }
        case.push_str("      </properties>\n");
        if !v.passed {
            let mut body = v.evidence.join("\n");
            if let Some(d) = &v.detail {
                body.push('\n');
                body.push_str(d);
            }
            let _ = writeln!(
                case,
                "      <failure message=\"{}\" type=\"policy-violation\">{}</failure>",
                xml_escape(&format!(
                    "{} [{}]: expected {}, observed {}",
                    v.rule,
                    v.requirements.join(", "),
                    v.expected,
                    v.observed
                )),
                xml_escape(&body)
            );
        }
        case.push_str("    </testcase>\n");
        let c = counts.entry(&v.context.feature).or_default();
        c.0 += 1;
        if !v.passed {
            c.1 += 1;
        }
        suites.entry(&v.context.feature).or_default().push(case);
    }
    for e in &findings.errors {
        let case = format!(
            "    <testcase classname=\"{}\" name=\"{}\">\n      <error message=\"{}\" type=\"not-judged\">{}</error>\n    </testcase>\n",
            xml_escape(&e.context.feature),
            xml_escape(&case_name(&e.context, "(not judged)")),
            xml_escape(&if e.step.is_empty() {
                "a step could not observe".to_string()
            } else {
                format!("step \"{}\" failed", e.step)
            }),
            xml_escape(&e.message)
        );
        let c = counts.entry(&e.context.feature).or_default();
        c.0 += 1;
        c.2 += 1;
        suites.entry(&e.context.feature).or_default().push(case);
    }
    let mut skipped: BTreeMap<&str, usize> = BTreeMap::new();
    for n in &findings.not_applicable {
        let case = format!(
            "    <testcase classname=\"{}\" name=\"{}\">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
            xml_escape(&n.context.feature),
            xml_escape(&case_name(&n.context, "(not applicable)")),
            xml_escape(&format!("not applicable: {}", n.reason)),
        );
        counts.entry(&n.context.feature).or_default().0 += 1;
        *skipped.entry(&n.context.feature).or_default() += 1;
        suites.entry(&n.context.feature).or_default().push(case);
    }
    let total: (usize, usize, usize) = counts
        .values()
        .fold((0, 0, 0), |a, c| (a.0 + c.0, a.1 + c.1, a.2 + c.2));
    let mut notes: String = findings
        .notes
        .iter()
        .map(|n| {
            format!(
                "      <property name=\"note\" value=\"{}\"/>\n",
                xml_escape(n)
            )
        })
        .collect();
    if let Some(html) = &findings.html_report {
        notes.insert_str(
            0,
            &format!(
                "      <property name=\"html_report\" value=\"{}\"/>\n",
                xml_escape(html)
            ),
        );
    }
    if findings.incomplete {
        notes.insert_str(0, "      <property name=\"incomplete\" value=\"true\"/>\n");
        // Interrupted before any scenario ended: a suite still carries the mark.
        suites.entry("(interrupted)").or_default();
        counts.entry("(interrupted)").or_default();
    }
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"logout-harness\" tests=\"{}\" failures=\"{}\" errors=\"{}\">",
        total.0, total.1, total.2
    );
    for (feature, cases) in &suites {
        let (tests, failures, errors) = counts[feature];
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{}\">",
            xml_escape(feature),
            skipped.get(feature).copied().unwrap_or(0)
        );
        if !notes.is_empty() {
            let _ = write!(out, "    <properties>\n{notes}    </properties>\n");
        }
        for c in cases {
            out.push_str(c);
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
