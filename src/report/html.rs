//! The HTML report: one self-contained file a person opens offline in any browser (no script, no
//! font, no style sheet or image from anywhere but the file itself; screenshots are embedded as
//! `data:` URLs, and a Content-Security-Policy forbids everything else). Summary first (the
//! counts, per mode and browser, the exit code and what it means), then every scenario, failed
//! ones first and opened: its Gherkin steps and how each ended, its verdicts (rule, requirement
//! ids, expected, observed, likely cause, fix, evidence), and its sign-out timeline. Written from
//! the redacted findings like every other report: never a cookie value, a password or a token.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;

use crate::judge::{Verdict, VerdictContext};
use crate::observe::timeline::{Point, TimelineEvent, survivals};
use crate::report::findings::{
    ExitCode, Findings, NotApplicable, ScenarioError, ScenarioRecord, StepOutcome,
};
use crate::report::junit::xml_escape as esc;

/// How one scenario came out, as the report groups and colours it (worst first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Status {
    Violated,
    NotJudged,
    Held,
    NotApplicable,
    NothingJudged,
}

impl Status {
    fn class(self) -> &'static str {
        match self {
            Status::Violated => "violated",
            Status::NotJudged => "not-judged",
            Status::Held => "held",
            Status::NotApplicable => "not-applicable",
            Status::NothingJudged => "nothing-judged",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Status::Violated => "FAIL",
            Status::NotJudged => "NOT JUDGED",
            Status::Held => "PASS",
            Status::NotApplicable => "NOT APPLICABLE",
            Status::NothingJudged => "NOTHING JUDGED",
        }
    }
}

/// Everything the report shows of one scenario.
struct Scenario<'a> {
    context: &'a VerdictContext,
    verdicts: Vec<&'a Verdict>,
    errors: Vec<&'a ScenarioError>,
    not_applicable: Vec<&'a NotApplicable>,
    record: Option<&'a ScenarioRecord>,
}

impl Scenario<'_> {
    fn status(&self) -> Status {
        if self.verdicts.iter().any(|v| !v.passed) {
            Status::Violated
        } else if !self.errors.is_empty() {
            Status::NotJudged
        } else if !self.verdicts.is_empty() {
            Status::Held
        } else if !self.not_applicable.is_empty() {
            Status::NotApplicable
        } else {
            Status::NothingJudged
        }
    }
}

/// The findings gathered per scenario, worst first, then by feature, scenario, mode and browser
/// (so two runs of one suite list their scenarios alike).
fn scenarios(findings: &Findings) -> Vec<Scenario<'_>> {
    let mut by: BTreeMap<(String, String, String, String), Scenario<'_>> = BTreeMap::new();
    let key = |c: &VerdictContext| {
        (
            c.feature.clone(),
            c.scenario.clone(),
            c.mode.to_string(),
            c.browser.clone(),
        )
    };
    macro_rules! at {
        ($c:expr) => {
            by.entry(key($c)).or_insert_with(|| Scenario {
                context: $c,
                verdicts: Vec::new(),
                errors: Vec::new(),
                not_applicable: Vec::new(),
                record: None,
            })
        };
    }
    for r in &findings.scenarios {
        at!(&r.context).record = Some(r);
    }
    for v in &findings.verdicts {
        at!(&v.context).verdicts.push(v);
    }
    for e in &findings.errors {
        at!(&e.context).errors.push(e);
    }
    for n in &findings.not_applicable {
        at!(&n.context).not_applicable.push(n);
    }
    let mut all: Vec<Scenario<'_>> = by.into_values().collect();
    all.sort_by_key(|s| s.status());
    all
}

/// What an exit code means, as docs/running.md says it.
fn exit_meaning(code: ExitCode) -> &'static str {
    match code {
        ExitCode::Held => "every check holds",
        ExitCode::Violated => {
            "the policy is violated: the failed scenarios below name each rule and its \
             requirement ids"
        }
        ExitCode::NotJudged => {
            "the harness could not judge everything (a scenario could not observe, or nothing \
             was judged): see the scenarios not judged below"
        }
    }
}

const STYLE: &str = "\
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:75em;padding:1em 2em;color:#1b1b1b;background:#fff}
h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.25em;margin:1.4em 0 .4em;border-bottom:1px solid #ccc}
h3{font-size:1.05em;margin:1em 0 .3em}
table{border-collapse:collapse;margin:.3em 0}td,th{border:1px solid #d0d0d0;padding:.2em .5em;text-align:left;vertical-align:top}
th{background:#f2f2f2}.num{text-align:right}
.exit{font-size:1.1em;padding:.5em .8em;border-radius:4px;margin:.5em 0}
.exit-0{background:#e3f4e6}.exit-1{background:#fbe3e3}.exit-2{background:#fff1d6}
.badge{display:inline-block;min-width:8.5em;font-weight:bold;font-size:.85em;padding:.05em .4em;border-radius:3px;margin-right:.5em;text-align:center}
.violated>summary .badge,.badge.violated{background:#c62828;color:#fff}.not-judged>summary .badge{background:#ef8f00;color:#fff}
.held>summary .badge,.badge.held{background:#2e7d32;color:#fff}.not-applicable>summary .badge,.nothing-judged>summary .badge{background:#757575;color:#fff}
details.scenario{border:1px solid #d0d0d0;border-radius:4px;margin:.4em 0;padding:.3em .6em}
details.scenario>summary{cursor:pointer;font-weight:600}
.where{color:#555;font-weight:normal}
ol.steps{margin:.2em 0 .2em 1.5em;padding:0}ol.steps li{margin:0}
.step-passed::marker{color:#2e7d32}.step-failed{color:#c62828;font-weight:bold}.step-undefined{color:#c62828}.step-not-run{color:#888}
.outcome{font-size:.8em;color:#555;margin-left:.5em}
.verdict{border-left:4px solid #2e7d32;padding:.2em .7em;margin:.5em 0;background:#f7fbf7}
.verdict.violated{border-color:#c62828;background:#fdf5f5}
.verdict dl{display:grid;grid-template-columns:max-content 1fr;gap:.1em .8em;margin:.3em 0}.verdict dt{font-weight:600;color:#444}.verdict dd{margin:0}
pre{background:#f5f5f5;padding:.4em;overflow-x:auto;white-space:pre-wrap}
code,.mono{font-family:ui-monospace,'Cascadia Mono',Menlo,Consolas,monospace;font-size:.92em}
.timeline{width:100%;table-layout:fixed}.timeline td{font-size:.9em;overflow-wrap:anywhere}
.timeline col.n{width:2.5em}.timeline col.who{width:4.5em}.timeline col.req{width:34%}.timeline col.host{width:11em}.timeline col.status{width:4.5em}.timeline col.sent{width:13%}.timeline .jar td{background:#f4f7fb}.timeline .replay td{background:#fbf8f0}
.auth{font-weight:bold}.cleared{color:#2e7d32}.set{color:#1a4f8b}
tr.survived td{background:#fde0e0!important}.survived-cookie{background:#fbc4c4;font-weight:bold;padding:0 .2em}
.callout{border:2px solid #c62828;background:#fdf0f0;padding:.4em .8em;margin:.5em 0;border-radius:4px}
.gap{color:#8a5a00}
figure{display:inline-block;margin:.4em 1em .4em 0}figure img{max-width:36em;border:1px solid #bbb}
.notes li{color:#6b4e00}
";

/// The HTML report of `findings` (redacted already, see [`crate::report::redact_findings`]).
pub fn html(findings: &Findings) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let code = findings.exit_code();
    let failed = findings.verdicts.iter().filter(|v| !v.passed).count();
    let held = findings.verdicts.len() - failed;
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>logout-harness: {} held, {} violated</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n",
        held, failed
    );
    out.push_str("<h1>logout-harness report</h1>\n");
    let _ = writeln!(
        out,
        "<p class=\"exit exit-{n}\" id=\"exit\">Exit code <b>{n}</b>: {}{}</p>",
        exit_meaning(code),
        if findings.incomplete {
            ". <b>The run was interrupted</b>: these are the findings up to then; scenarios that \
             had not ended are missing"
        } else {
            ""
        },
        n = code.code()
    );
    summary(&mut out, findings, held, failed);
    if !findings.notes.is_empty() {
        out.push_str("<h2>Notes</h2>\n<ul class=\"notes\">\n");
        for n in &findings.notes {
            let _ = writeln!(out, "<li>{}</li>", esc(n));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("<h2 id=\"scenarios\">Scenarios</h2>\n");
    for (i, s) in scenarios(findings).iter().enumerate() {
        scenario(&mut out, i, s);
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// The counts, then one row per mode and browser.
fn summary(out: &mut String, findings: &Findings, held: usize, failed: usize) {
    out.push_str("<h2 id=\"summary\">Summary</h2>\n<table class=\"counts\">\n");
    for (what, n) in [
        ("held", held),
        ("violated", failed),
        ("not-judged", findings.errors.len()),
        ("not-applicable", findings.not_applicable.len()),
    ] {
        let label = match what {
            "held" => "verdicts held",
            "violated" => "verdicts violated",
            "not-judged" => "scenarios not judged",
            _ => "checks or scenarios not applicable",
        };
        let _ = writeln!(
            out,
            "<tr><th>{label}</th><td class=\"num\" data-count=\"{what}\">{n}</td></tr>"
        );
    }
    out.push_str("</table>\n");
    let mut rows: BTreeMap<(String, String), [usize; 4]> = BTreeMap::new();
    let row = |c: &VerdictContext| (c.mode.to_string(), c.browser.clone());
    for v in &findings.verdicts {
        rows.entry(row(&v.context)).or_default()[usize::from(!v.passed)] += 1;
    }
    for e in &findings.errors {
        rows.entry(row(&e.context)).or_default()[2] += 1;
    }
    for n in &findings.not_applicable {
        rows.entry(row(&n.context)).or_default()[3] += 1;
    }
    out.push_str(
        "<table class=\"per-mode\">\n<tr><th>mode</th><th>browser</th><th>held</th>\
         <th>violated</th><th>not judged</th><th>not applicable</th></tr>\n",
    );
    for ((mode, browser), [h, v, nj, na]) in &rows {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{h}</td><td class=\"num\">{v}</td>\
             <td class=\"num\">{nj}</td><td class=\"num\">{na}</td></tr>",
            esc(mode),
            esc(browser)
        );
    }
    out.push_str("</table>\n");
    let _ = writeln!(
        out,
        "<p>Run took {:.1} s; the harness itself used {:.2} s of CPU.</p>",
        findings.cost.wall_s, findings.cost.harness_cpu_s
    );
}

/// One scenario as a `<details>`: opened when it failed or could not be judged.
fn scenario(out: &mut String, i: usize, s: &Scenario<'_>) {
    let status = s.status();
    let c = s.context;
    let open = matches!(status, Status::Violated | Status::NotJudged);
    let _ = writeln!(
        out,
        "<details class=\"scenario {}\" id=\"scenario-{i}\"{}>\n<summary><span class=\"badge\">{}</span>{} \
         <span class=\"where\">({}/{}, {}) feature \"{}\"</span></summary>",
        status.class(),
        if open { " open" } else { "" },
        status.label(),
        esc(&c.scenario),
        esc(&c.mode.to_string()),
        esc(&c.browser),
        esc(&c.target),
        esc(&c.feature)
    );
    if let Some(r) = s.record
        && !r.steps.is_empty()
    {
        out.push_str("<h3>Steps</h3>\n<ol class=\"steps\">\n");
        for step in &r.steps {
            let (class, label) = match step.outcome {
                StepOutcome::Passed => ("passed", "passed"),
                StepOutcome::Failed => ("failed", "failed"),
                StepOutcome::Undefined => ("undefined", "no step definition matches"),
                StepOutcome::NotRun => ("not-run", "not run"),
            };
            let _ = writeln!(
                out,
                "<li class=\"step-{class}\">{}<span class=\"outcome\">{label}</span></li>",
                esc(&step.text)
            );
        }
        out.push_str("</ol>\n");
    }
    for e in &s.errors {
        let _ = writeln!(
            out,
            "<div class=\"verdict violated not-judged\"><b>Not judged</b>{}: {}</div>",
            if e.step.is_empty() {
                String::new()
            } else {
                format!(" at step \"{}\"", esc(&e.step))
            },
            esc(&e.message)
        );
    }
    if !s.verdicts.is_empty() {
        out.push_str("<h3>Verdicts</h3>\n");
    }
    // Violations first: they are what the reader opened the scenario for.
    let mut verdicts = s.verdicts.clone();
    verdicts.sort_by_key(|v| v.passed);
    for v in verdicts {
        verdict(out, v);
    }
    for n in &s.not_applicable {
        let _ = writeln!(
            out,
            "<p class=\"na\"><span class=\"badge\">not applicable</span>{}</p>",
            esc(&n.reason)
        );
    }
    if let Some(r) = s.record {
        timeline(out, r);
        if !r.screenshots.is_empty() {
            out.push_str("<h3>Screenshots</h3>\n");
        }
        for shot in &r.screenshots {
            let _ = writeln!(
                out,
                "<figure><img alt=\"{0}\" src=\"data:image/png;base64,{1}\"><figcaption>{0}</figcaption></figure>",
                esc(&shot.caption),
                base64::engine::general_purpose::STANDARD.encode(&shot.png)
            );
        }
    }
    out.push_str("</details>\n");
}

/// One verdict: rule, requirement ids, expected and observed, the policy's reason, and for a
/// violation its likely cause and fix; then the evidence and any detail (a diff).
fn verdict(out: &mut String, v: &Verdict) {
    let _ = writeln!(
        out,
        "<div class=\"verdict {}\">\n<div><span class=\"badge {}\">{}</span><code class=\"rule\">{}</code> \
         <span class=\"requirements\">{}</span></div>\n<dl>",
        if v.passed { "held" } else { "violated" },
        if v.passed { "held" } else { "violated" },
        if v.passed { "held" } else { "violated" },
        esc(v.rule.name()),
        esc(&v.requirements.join(", "))
    );
    let _ = writeln!(
        out,
        "<dt>expected</dt><dd>{}</dd>\n<dt>observed</dt><dd>{}</dd>",
        esc(&v.expected.to_string()),
        esc(v.observed.name())
    );
    if let Some(why) = &v.why {
        let _ = writeln!(out, "<dt>why</dt><dd>{}</dd>", esc(why));
    }
    if let Some(cause) = &v.likely_cause {
        let _ = writeln!(
            out,
            "<dt>likely cause</dt><dd class=\"cause\">{}</dd>",
            esc(cause)
        );
    }
    for fix in &v.fix {
        let _ = writeln!(out, "<dt>fix</dt><dd class=\"fix\">{}</dd>", esc(fix));
    }
    if !v.evidence.is_empty() {
        out.push_str("<dt>evidence</dt><dd><ul>");
        for e in &v.evidence {
            let _ = write!(out, "<li class=\"mono\">{}</li>", esc(e));
        }
        out.push_str("</ul></dd>\n");
    }
    out.push_str("</dl>\n");
    if let Some(detail) = &v.detail {
        let _ = writeln!(out, "<pre>{}</pre>", esc(detail));
    }
    out.push_str("</div>\n");
}

/// The sign-out timeline: what survived first, then every event in order.
fn timeline(out: &mut String, r: &ScenarioRecord) {
    if r.timeline.is_empty() && r.timeline_gaps.is_empty() {
        return;
    }
    out.push_str("<h3>Sign-out timeline</h3>\n");
    for gap in &r.timeline_gaps {
        let _ = writeln!(
            out,
            "<p class=\"gap\">Requests not recorded for {}</p>",
            esc(gap)
        );
    }
    let survived = survivals(&r.timeline);
    if !survived.unreached_hosts.is_empty() || !survived.surviving_hops.is_empty() {
        out.push_str("<div class=\"callout\"><b>Where the session survived sign-out:</b><ul>\n");
        for (host, names) in &survived.unreached_hosts {
            let _ = writeln!(
                out,
                "<li>{} still held {} after sign-out, and no request of the sign-out reached \
                 {}</li>",
                esc(host),
                esc(&names.join(", ")),
                esc(host)
            );
        }
        for &i in &survived.surviving_hops {
            if let TimelineEvent::Request { hop, .. } = &r.timeline[i] {
                let _ = writeln!(
                    out,
                    "<li>#{} {} {} sent an authentication cookie after sign-out and was answered \
                     {}</li>",
                    i + 1,
                    esc(&hop.method),
                    esc(&hop.url),
                    hop.status.map(|s| s.to_string()).unwrap_or_default()
                );
            }
        }
        out.push_str("</ul></div>\n");
    }
    if r.timeline.is_empty() {
        return;
    }
    out.push_str(
        "<table class=\"timeline\">\n<colgroup><col class=\"n\"><col class=\"who\"><col class=\"req\">\
         <col class=\"host\"><col class=\"status\"><col class=\"sent\"><col></colgroup>\n<tr><th>#</th><th>who</th><th>request</th><th>host</th>\
         <th>status</th><th>cookies sent</th><th>cookies set or cleared</th></tr>\n",
    );
    let signed_out = r.timeline.iter().position(|e| {
        matches!(
            e,
            TimelineEvent::Jar {
                point: Point::SignedOut,
                ..
            }
        )
    });
    for (i, e) in r.timeline.iter().enumerate() {
        let n = i + 1;
        match e {
            TimelineEvent::Request {
                person,
                hop,
                sent_auth,
            } => {
                let survived_here = survived.surviving_hops.contains(&i);
                let status = match (hop.status, hop.failed) {
                    (Some(s), _) => s.to_string(),
                    (None, true) => "failed".into(),
                    (None, false) => "no answer".into(),
                };
                let sent = match &hop.cookies_sent {
                    None => "(not reported)".to_string(),
                    Some(names) if names.is_empty() => String::new(),
                    Some(names) => esc(&names.join(", ")),
                };
                let set: Vec<String> = hop
                    .set_cookies
                    .iter()
                    .map(|c| {
                        let whose = c.domain.as_deref().unwrap_or(&hop.host);
                        format!(
                            "<span class=\"{}\">{} {}@{}{}</span>{}",
                            if c.clears { "cleared" } else { "set" },
                            if c.clears { "cleared" } else { "set" },
                            esc(&c.name),
                            esc(whose),
                            esc(c.path.as_deref().unwrap_or("")),
                            if c.attributes.is_empty() {
                                String::new()
                            } else {
                                format!(" ({})", esc(&c.attributes.join("; ")))
                            }
                        )
                    })
                    .collect();
                let _ = writeln!(
                    out,
                    "<tr class=\"hop{}{}\" id=\"hop-{}-{n}\"><td class=\"num\">{n}</td><td>{}</td>\
                     <td class=\"mono\">{} {}</td><td>{}</td><td>{status}</td><td{}>{sent}</td><td>{}</td></tr>",
                    if survived_here { " survived" } else { "" },
                    if signed_out.is_some_and(|s| i > s) {
                        " after-sign-out"
                    } else {
                        ""
                    },
                    esc(&r.context.scenario).replace(' ', "-"),
                    esc(person),
                    esc(&hop.method),
                    esc(&hop.url),
                    esc(&hop.host),
                    if *sent_auth { " class=\"auth\"" } else { "" },
                    set.join("<br>")
                );
            }
            TimelineEvent::Jar {
                person,
                point,
                cookies,
            } => {
                let mut hosts: BTreeMap<&str, Vec<String>> = BTreeMap::new();
                for c in cookies {
                    let survived_cookie = c.auth && *point == Point::SignedOut;
                    let shown = format!(
                        "{}{} ({}{}{}, SameSite={}){}",
                        esc(&c.shape.name),
                        if c.shape.path == "/" {
                            String::new()
                        } else {
                            esc(&c.shape.path)
                        },
                        esc(&c.shape.lifetime),
                        if c.shape.secure { ", Secure" } else { "" },
                        if c.shape.http_only { ", HttpOnly" } else { "" },
                        esc(&c.shape.same_site),
                        if c.auth { " [auth]" } else { "" }
                    );
                    hosts
                        .entry(c.shape.domain.as_str())
                        .or_default()
                        .push(if survived_cookie {
                            format!("<span class=\"survived-cookie\">{shown}</span>")
                        } else if c.auth {
                            format!("<span class=\"auth\">{shown}</span>")
                        } else {
                            shown
                        });
                }
                let jar = if hosts.is_empty() {
                    "no cookies".to_string()
                } else {
                    hosts
                        .iter()
                        .map(|(host, names)| format!("<b>{}</b>: {}", esc(host), names.join(", ")))
                        .collect::<Vec<_>>()
                        .join("<br>")
                };
                let _ = writeln!(
                    out,
                    "<tr class=\"jar point-{:?}\"><td class=\"num\">{n}</td><td>{}</td><td colspan=\"5\">\
                     <b>jar {}</b><br>{jar}</td></tr>",
                    point,
                    esc(person),
                    point.label()
                );
            }
            TimelineEvent::Replay {
                request,
                cookies_sent,
                status,
                accepted,
            } => {
                // Served without cookies too (the next replay, of the same request): public, not
                // a session that survived.
                let public = matches!(r.timeline.get(i + 1), Some(TimelineEvent::Replay {
                    request: again, cookies_sent: none, accepted: true, ..
                }) if again == request && none.is_empty());
                let _ = writeln!(
                    out,
                    "<tr class=\"replay{}\"><td class=\"num\">{n}</td><td>probe</td><td class=\"mono\">\
                     replay {}</td><td></td><td>{status} {}</td><td>{}</td><td></td></tr>",
                    if *accepted && !cookies_sent.is_empty() && !public {
                        " survived"
                    } else {
                        ""
                    },
                    esc(request),
                    if *accepted { "accepted" } else { "refused" },
                    if cookies_sent.is_empty() {
                        "no cookies".to_string()
                    } else {
                        esc(&cookies_sent.join(", "))
                    }
                );
            }
        }
    }
    out.push_str("</table>\n");
}
