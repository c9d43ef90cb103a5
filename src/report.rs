//! Writers for what a run found: the console summary, JUnit XML (each verdict a testcase, its
//! requirement ids as properties) and JSON. Reports hold evidence (URLs, status codes, cookie
//! names), never cookie values or passwords.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

use crate::policy::{Verdict, VerdictContext};

/// A scenario the harness could not judge (a step failed for a reason that is not a verdict:
/// an element never appeared, the browser crashed).
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioError {
    /// Where.
    pub context: VerdictContext,
    /// The failed step.
    pub step: String,
    /// What went wrong.
    pub message: String,
}

/// A scenario the target cannot support (no second user, no administrator action, no declared
/// timeouts): not a failure, and it changes no exit code.
#[derive(Clone, Debug, Serialize)]
pub struct NotApplicable {
    /// Where.
    pub context: VerdictContext,
    /// Why, and how to provide what is missing.
    pub reason: String,
}

/// Where one scenario's time went, for bench/ (figures, never asserted).
#[derive(Clone, Debug, Default, Serialize)]
pub struct ScenarioTiming {
    /// Where.
    pub context: VerdictContext,
    /// Whole scenario, seconds.
    pub total_s: f64,
    /// Starting and closing browsers.
    pub browser_launch_s: f64,
    /// Page loads: opening CRM, signing in and out (WebDriver navigation and waits for pages).
    pub navigation_s: f64,
    /// Waiting on purpose (timeouts being measured).
    pub deliberate_wait_s: f64,
}

/// `run --trace-knobs`: the emulator fault knobs whose code one scenario's requests reached, on
/// an emulator of the scenario's own with every knob off (`crm_sim::Sim::knobs_reached`).
#[derive(Clone, Debug, Serialize)]
pub struct KnobsReached {
    /// Which scenario.
    pub context: VerdictContext,
    /// The knobs, by their `sim --list-faults` names.
    pub knobs: Vec<String>,
}

/// How much the harness itself cost: its own CPU time, browsers and drivers excluded.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RunCost {
    /// Wall time of the run, seconds.
    pub wall_s: f64,
    /// CPU seconds the harness process used (user + system), children excluded.
    pub harness_cpu_s: f64,
}

/// Everything a run found, in the order found.
#[derive(Debug, Default, Serialize)]
pub struct Findings {
    /// Judged observations.
    pub verdicts: Vec<Verdict>,
    /// Scenarios that could not be judged.
    pub errors: Vec<ScenarioError>,
    /// Scenarios the target cannot support, with the reason.
    pub not_applicable: Vec<NotApplicable>,
    /// Notes about the whole run every report repeats (e.g. a target not reached over TLS).
    pub notes: Vec<String>,
    /// Scenarios that ran to their end.
    pub scenarios_passed: usize,
    /// Per-scenario time split.
    pub timings: Vec<ScenarioTiming>,
    /// The harness's own cost.
    pub cost: RunCost,
    /// `run --trace-knobs` only: the fault knobs each scenario reached.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub knobs_reached: Vec<KnobsReached>,
    /// The run was interrupted (Ctrl-C, SIGTERM): these are the findings up to then, and scenarios
    /// that had not ended are missing.
    pub incomplete: bool,
}

impl Findings {
    /// Whether any verdict failed.
    pub fn violated(&self) -> bool {
        self.verdicts.iter().any(|v| !v.passed)
    }

    /// The exit code: 1 when the policy is violated, 2 when something could not be judged (and
    /// nothing was violated), 0 otherwise.
    pub fn exit_code(&self) -> i32 {
        if self.violated() {
            1
        } else if !self.errors.is_empty() || self.verdicts.is_empty() {
            2
        } else {
            0
        }
    }
}

/// Findings shared by concurrently running scenarios.
#[derive(Debug, Default)]
pub struct Collector(Mutex<Findings>);

impl Collector {
    /// Records a verdict.
    pub fn verdict(&self, v: Verdict) {
        self.lock().verdicts.push(v);
    }

    /// Records a scenario the harness could not judge.
    pub fn error(&self, e: ScenarioError) {
        self.lock().errors.push(e);
    }

    /// Records a scenario the target cannot support.
    pub fn not_applicable(&self, n: NotApplicable) {
        self.lock().not_applicable.push(n);
    }

    /// Records the knobs one scenario reached (`run --trace-knobs`).
    pub fn knobs_reached(&self, k: KnobsReached) {
        self.lock().knobs_reached.push(k);
    }

    /// Records a note every report repeats.
    pub fn note(&self, note: String) {
        let mut f = self.lock();
        if !f.notes.contains(&note) {
            f.notes.push(note);
        }
    }

    /// The verdicts recorded so far for the scenario at `context` (to decide its result at its end).
    pub fn verdicts_of(&self, context: &VerdictContext) -> (usize, usize) {
        let f = self.lock();
        let of: Vec<&Verdict> = f
            .verdicts
            .iter()
            .filter(|v| v.context == *context)
            .collect();
        (of.len(), of.iter().filter(|v| !v.passed).count())
    }

    /// Counts a scenario that ran to its end.
    pub fn scenario_passed(&self) {
        self.lock().scenarios_passed += 1;
    }

    /// Names the failed step of each not-judged scenario that names none yet, from
    /// `(feature, scenario) -> step` (cucumber's events; see [`crate::step_log`]).
    pub fn name_failed_steps(&self, failed: &[((String, String), String)]) {
        let mut f = self.lock();
        for e in f.errors.iter_mut().filter(|e| e.step.is_empty()) {
            let key = (e.context.feature.clone(), e.context.scenario.clone());
            if let Some((_, step)) = failed.iter().find(|(k, _)| *k == key) {
                e.step = step.clone();
            }
        }
    }

    /// Records where a scenario's time went.
    pub fn timing(&self, t: ScenarioTiming) {
        self.lock().timings.push(t);
    }

    /// Withdraws the verdicts of the scenario at `context` (its browser was lost: what it judged
    /// may rest on observations of nothing); returns how many.
    pub fn withdraw(&self, context: &VerdictContext) -> usize {
        let mut f = self.lock();
        let before = f.verdicts.len();
        f.verdicts.retain(|v| v.context != *context);
        before - f.verdicts.len()
    }

    /// Takes what was collected.
    pub fn take(&self) -> Findings {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Findings> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Cuts `s` to at most `max` characters, marking the cut.
pub fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let cut: String = s.chars().take(max).collect();
    format!("{cut}...")
}

/// The console summary printed after the scenarios.
pub fn console(findings: &Findings) -> String {
    let mut out = String::new();
    let failed: Vec<&Verdict> = findings.verdicts.iter().filter(|v| !v.passed).collect();
    let passed = findings.verdicts.len() - failed.len();
    for note in &findings.notes {
        let _ = writeln!(out, "\nNOTE: {note}");
    }
    let _ = writeln!(
        out,
        "\nVerdicts: {passed} held, {} violated; {} scenario(s) not applicable, {} not judged",
        failed.len(),
        findings.not_applicable.len(),
        findings.errors.len()
    );
    for v in &failed {
        let _ = writeln!(out, "  {v}");
        if let Some(detail) = &v.detail {
            for line in detail.lines() {
                let _ = writeln!(out, "      {line}");
            }
        }
    }
    for n in &findings.not_applicable {
        let _ = writeln!(
            out,
            "  NOT APPLICABLE ({}/{}) \"{}\": {}",
            n.context.mode, n.context.browser, n.context.scenario, n.reason
        );
    }
    for e in &findings.errors {
        let _ = writeln!(
            out,
            "  NOT JUDGED ({}/{}) \"{}\"{}: {}",
            e.context.mode,
            e.context.browser,
            e.context.scenario,
            if e.step.is_empty() {
                String::new()
            } else {
                format!(": step \"{}\"", e.step)
            },
            e.message
        );
    }
    out
}

fn xml_escape(s: &str) -> String {
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
        for (k, val) in [
            ("rule", v.rule.name()),
            ("expected", &v.expected),
            ("observed", &v.observed),
            ("mode", &v.context.mode),
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

/// The findings of the run under way and where its reports go, so an interrupted run can still
/// write what it judged ([`write_interrupted`]).
pub(crate) type InFlight = (std::sync::Arc<Collector>, Option<PathBuf>, Option<PathBuf>);
static IN_FLIGHT: Mutex<Option<InFlight>> = Mutex::new(None);

/// Registers the run under way: its collector, and its `--junit` and `--json` paths.
pub fn set_in_flight(
    collector: std::sync::Arc<Collector>,
    junit: Option<PathBuf>,
    json: Option<PathBuf>,
) {
    *IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner()) = Some((collector, junit, json));
}

/// The run's normal end claims its reports from the signal handler. `None`: the handler has
/// them (it writes them, marked incomplete, and exits the process). `Some`: the run writes them
/// while holding the guard, and a signal arriving meanwhile waits for it, finds nothing to write,
/// and leaves the run's reports whole.
pub(crate) fn claim_in_flight() -> Option<std::sync::MutexGuard<'static, Option<InFlight>>> {
    let mut guard = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner());
    guard.take().map(|_| guard)
}

/// On Ctrl-C or SIGTERM: writes the reports of what the run judged so far, marked incomplete
/// (JSON `"incomplete": true`, a JUnit property `incomplete`). Called first thing by the signal
/// handler, then the browsers are ended.
pub fn write_interrupted() {
    let Some((collector, junit_path, json)) =
        IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner()).take()
    else {
        return;
    };
    // Redacted like every report (an evidence line may quote a URL that carries a password).
    let mut findings = crate::secrets::redact_findings(collector.take());
    findings.incomplete = true;
    findings.notes.push(
        "the run was interrupted: these are the findings up to then; scenarios that had not \
         ended are missing"
            .into(),
    );
    if let Some(path) = junit_path {
        match write_file(&path, &junit(&findings)) {
            Ok(()) => eprintln!(
                "interrupted: partial JUnit report written to {}",
                path.display()
            ),
            Err(e) => eprintln!("interrupted: cannot write --junit {}: {e}", path.display()),
        }
    }
    if let Some(path) = json {
        let written = serde_json::to_string_pretty(&findings)
            .map_err(std::io::Error::other)
            .and_then(|text| write_file(&path, &text));
        match written {
            Ok(()) => eprintln!(
                "interrupted: partial JSON report written to {}",
                path.display()
            ),
            Err(e) => eprintln!("interrupted: cannot write --json {}: {e}", path.display()),
        }
    }
}

/// Writes `text` to `path` whole: to a temp file beside it, then renamed, so a reader never sees
/// half a report.
pub fn write_file(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // Written beside the target, synced, then renamed over it: a reader (or a crash) sees the old
    // report or the new one, never half of one.
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Whether a report can be written at `path`, checked before a run starts so a typo does not
/// cost the whole run: its folder exists and takes a new file, and `path` is not a folder.
/// Nothing is left behind.
pub fn check_writable(path: &Path) -> Result<(), String> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if dir.exists() && !dir.is_dir() {
        return Err(format!(
            "cannot write {}: {} is a file, not a folder; name a file in an existing folder",
            path.display(),
            dir.display()
        ));
    }
    if !dir.is_dir() {
        return Err(format!(
            "cannot write {}: the folder {} does not exist; create it or name a file in an \
             existing folder",
            path.display(),
            dir.display()
        ));
    }
    if path.is_dir() {
        return Err(format!(
            "{} is a folder; name a file (e.g. {})",
            path.display(),
            path.join("report").display()
        ));
    }
    tempfile::NamedTempFile::new_in(dir).map(drop).map_err(|e| {
        format!(
            "cannot write {}: the folder {} does not take new files ({e}); name a writable folder",
            path.display(),
            dir.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::RuleId;

    fn verdict(passed: bool) -> Verdict {
        Verdict {
            rule: RuleId::ReplayRefused,
            requirements: vec!["WSTG-SESS-06".into(), "ASVS-v5.0.0-7.4.1".into()],
            expected: "refused".into(),
            observed: if passed { "refused" } else { "accepted" }.into(),
            passed,
            evidence: vec!["GET https://crm/x?a=1&b=2 -> 200".into()],
            detail: None,
            why: None,
            context: VerdictContext {
                feature: "Sign Out".into(),
                scenario: "S <1>".into(),
                mode: "ifd".into(),
                browser: "chromium".into(),
                target: "embedded-ifd".into(),
            },
            likely_cause: None,
            fix: Vec::new(),
        }
    }

    #[test]
    fn exit_codes_follow_the_contract() {
        let mut f = Findings::default();
        assert_eq!(f.exit_code(), 2, "nothing judged is not a pass");
        f.verdicts.push(verdict(true));
        assert_eq!(f.exit_code(), 0);
        f.errors.push(ScenarioError {
            context: VerdictContext::default(),
            step: "s".into(),
            message: "m".into(),
        });
        assert_eq!(f.exit_code(), 2);
        f.verdicts.push(verdict(false));
        assert_eq!(f.exit_code(), 1);
    }

    #[test]
    fn an_interrupted_run_is_marked_in_both_reports() {
        let mut f = Findings {
            incomplete: true,
            ..Default::default()
        };
        let xml = junit(&f);
        assert!(
            xml.contains("<property name=\"incomplete\" value=\"true\"/>"),
            "{xml}"
        );
        f.verdicts.push(verdict(true));
        assert!(junit(&f).contains("name=\"incomplete\""));
        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(json["incomplete"], serde_json::json!(true));
    }

    #[test]
    fn check_writable_names_a_missing_folder_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let e = check_writable(&dir.path().join("nope/r.json")).unwrap_err();
        assert!(e.contains("does not exist"), "{e}");
        assert!(
            check_writable(dir.path())
                .unwrap_err()
                .contains("is a folder")
        );
        check_writable(&dir.path().join("r.json")).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn junit_has_a_case_per_verdict_with_ids_as_properties() {
        let f = Findings {
            verdicts: vec![verdict(true), verdict(false)],
            ..Default::default()
        };
        let xml = junit(&f);
        assert_eq!(xml.matches("<testcase ").count(), 2);
        assert!(xml.contains("tests=\"2\" failures=\"1\""));
        assert!(xml.contains("<property name=\"requirement\" value=\"ASVS-v5.0.0-7.4.1\"/>"));
        assert!(xml.contains("S &lt;1&gt; [ifd, chromium] sign-out.replay-refused"));
        assert!(xml.contains("a=1&amp;b=2"));
        assert!(xml.contains("type=\"policy-violation\""));
    }
}
