//! Two runs side by side (`logout-harness compare BEFORE AFTER`): the verdicts that changed, the
//! scenarios newly not judged or not applicable, and the cookies new, gone or changed in their
//! attributes, per host. Read from the runs' JSON reports (the harness's own format), typed here,
//! then written as text for the console and as a self-contained HTML page.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::observe::snapshot::Normaliser;
use crate::report::junit::xml_escape as esc;

/// Which scenario: feature, scenario, mode, browser.
pub type ScenarioKey = (String, String, String, String);

/// A verdict as a comparison needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerdictState {
    /// The policy held.
    pub passed: bool,
    /// The outcome observed.
    pub observed: String,
}

/// One run, as read from its JSON report.
#[derive(Debug, Default)]
pub struct RunReport {
    /// Where it was read from.
    pub file: PathBuf,
    /// (scenario, rule) -> the verdict.
    pub verdicts: BTreeMap<(ScenarioKey, String), VerdictState>,
    /// Scenarios not judged, with the message.
    pub not_judged: BTreeMap<ScenarioKey, String>,
    /// Scenarios (or checks) not applicable, with the reasons.
    pub not_applicable: BTreeMap<ScenarioKey, Vec<String>>,
    /// Every cookie any jar of the run's timelines held: host -> (name, path) -> its attributes
    /// (flags, SameSite, lifetime), volatile parts of names and paths replaced as snapshots do.
    pub cookies: BTreeMap<String, BTreeMap<(String, String), BTreeSet<String>>>,
}

/// Why a report could not be read: the command's exit 2.
#[derive(Debug)]
pub struct ReadError(pub String);

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The JSON report at `path`: the file itself, or the one JSON report in a folder.
pub fn find_report(path: &Path) -> Result<PathBuf, ReadError> {
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    if !path.is_dir() {
        return Err(ReadError(format!(
            "{}: no such file or folder; name a run's JSON report (--json) or the folder it is in",
            path.display()
        )));
    }
    let mut reports: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| ReadError(format!("{}: cannot list the folder: {e}", path.display())))?
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json") && p.is_file())
        .collect();
    reports.sort();
    match reports.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(ReadError(format!(
            "{}: the folder holds no JSON report (*.json); name the run's --json file",
            path.display()
        ))),
        many => Err(ReadError(format!(
            "{}: the folder holds {} JSON files ({}); name one of them",
            path.display(),
            many.len(),
            many.iter()
                .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

fn key(context: &Value) -> ScenarioKey {
    let s = |k: &str| context[k].as_str().unwrap_or_default().to_string();
    (s("feature"), s("scenario"), s("mode"), s("browser"))
}

/// Reads the JSON report at `file` (see [`find_report`]).
pub fn read_report(file: &Path) -> Result<RunReport, ReadError> {
    let text = crate::config::input::read_text(file, 512 * 1024 * 1024)
        .map_err(|e| ReadError(format!("{}: {e}", file.display())))?;
    let json: Value = serde_json::from_str(&text).map_err(|e| {
        ReadError(format!(
            "{}:{}: not JSON ({e}); name a JSON report a run wrote with --json",
            file.display(),
            e.line()
        ))
    })?;
    let Some(verdicts) = json["verdicts"].as_array() else {
        return Err(ReadError(format!(
            "{}: not a logout-harness report (it has no `verdicts` list); name a JSON report a \
             run wrote with --json",
            file.display()
        )));
    };
    let mut run = RunReport {
        file: file.to_path_buf(),
        ..RunReport::default()
    };
    for v in verdicts {
        run.verdicts.insert(
            (
                key(&v["context"]),
                v["rule"].as_str().unwrap_or_default().into(),
            ),
            VerdictState {
                passed: v["passed"] == true,
                observed: v["observed"].as_str().unwrap_or_default().into(),
            },
        );
    }
    for e in json["errors"].as_array().into_iter().flatten() {
        run.not_judged.insert(
            key(&e["context"]),
            e["message"].as_str().unwrap_or_default().into(),
        );
    }
    for n in json["not_applicable"].as_array().into_iter().flatten() {
        run.not_applicable
            .entry(key(&n["context"]))
            .or_default()
            .push(n["reason"].as_str().unwrap_or_default().into());
    }
    let normaliser = Normaliser::default();
    let jars = json["scenarios"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["timeline"].as_array().into_iter().flatten())
        .filter(|e| e["kind"] == "jar")
        .flat_map(|e| e["cookies"].as_array().into_iter().flatten());
    for c in jars {
        let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
        let mut attributes = Vec::new();
        if c["secure"] == true {
            attributes.push("Secure".to_string());
        }
        if c["http_only"] == true {
            attributes.push("HttpOnly".to_string());
        }
        attributes.push(format!("SameSite={}", s("same_site")));
        attributes.push(s("lifetime"));
        run.cookies
            .entry(normaliser.text(&s("domain")))
            .or_default()
            .entry((normaliser.text(&s("name")), normaliser.text(&s("path"))))
            .or_default()
            .insert(attributes.join(", "));
    }
    Ok(run)
}

/// A verdict present in either run whose outcome changed (or that one run lacks).
#[derive(Debug, PartialEq, Eq)]
pub struct VerdictChange {
    /// Which scenario.
    pub scenario: ScenarioKey,
    /// Which rule.
    pub rule: String,
    /// Before (`None`: not judged then).
    pub before: Option<VerdictState>,
    /// After (`None`: not judged now).
    pub after: Option<VerdictState>,
}

/// A cookie of one host that is new, gone, or whose attributes changed.
#[derive(Debug, PartialEq, Eq)]
pub struct CookieChange {
    /// The host.
    pub host: String,
    /// Name and path.
    pub cookie: (String, String),
    /// Its attributes before (empty: not seen then).
    pub before: BTreeSet<String>,
    /// Its attributes after (empty: not seen now).
    pub after: BTreeSet<String>,
}

/// What changed between two runs.
#[derive(Debug, Default)]
pub struct Changes {
    /// Verdicts that changed.
    pub verdicts: Vec<VerdictChange>,
    /// Scenarios not judged now that were not before, with the message.
    pub newly_not_judged: Vec<(ScenarioKey, String)>,
    /// Scenarios not applicable now that were not before, with the reasons.
    pub newly_not_applicable: Vec<(ScenarioKey, Vec<String>)>,
    /// Cookies new, gone or changed, per host.
    pub cookies: Vec<CookieChange>,
    /// Either run had no timeline (an older harness, or a browser without DevTools): the
    /// cookies could not be compared.
    pub cookies_unknown: bool,
}

impl Changes {
    /// Nothing changed.
    pub fn is_empty(&self) -> bool {
        self.verdicts.is_empty()
            && self.newly_not_judged.is_empty()
            && self.newly_not_applicable.is_empty()
            && self.cookies.is_empty()
    }
}

/// What changed from `before` to `after`.
pub fn compare(before: &RunReport, after: &RunReport) -> Changes {
    let mut changes = Changes::default();
    let keys: BTreeSet<&(ScenarioKey, String)> = before
        .verdicts
        .keys()
        .chain(after.verdicts.keys())
        .collect();
    for k in keys {
        let (b, a) = (before.verdicts.get(k), after.verdicts.get(k));
        if b != a {
            changes.verdicts.push(VerdictChange {
                scenario: k.0.clone(),
                rule: k.1.clone(),
                before: b.cloned(),
                after: a.cloned(),
            });
        }
    }
    changes.newly_not_judged = after
        .not_judged
        .iter()
        .filter(|(k, _)| !before.not_judged.contains_key(*k))
        .map(|(k, m)| (k.clone(), m.clone()))
        .collect();
    changes.newly_not_applicable = after
        .not_applicable
        .iter()
        .filter(|(k, reasons)| before.not_applicable.get(*k) != Some(reasons))
        .map(|(k, r)| (k.clone(), r.clone()))
        .collect();
    changes.cookies_unknown = before.cookies.is_empty() || after.cookies.is_empty();
    let hosts: BTreeSet<&String> = before.cookies.keys().chain(after.cookies.keys()).collect();
    let none = BTreeMap::new();
    for host in hosts {
        let (b, a) = (
            before.cookies.get(host).unwrap_or(&none),
            after.cookies.get(host).unwrap_or(&none),
        );
        let names: BTreeSet<&(String, String)> = b.keys().chain(a.keys()).collect();
        for name in names {
            let (was, is) = (
                b.get(name).cloned().unwrap_or_default(),
                a.get(name).cloned().unwrap_or_default(),
            );
            if was != is {
                changes.cookies.push(CookieChange {
                    host: host.clone(),
                    cookie: name.clone(),
                    before: was,
                    after: is,
                });
            }
        }
    }
    changes
}

fn scenario_label(k: &ScenarioKey) -> String {
    format!("\"{}\" ({}/{})", k.1, k.2, k.3)
}

fn state(s: &Option<VerdictState>) -> String {
    match s {
        None => "not judged".into(),
        Some(v) => format!(
            "{} (observed {})",
            if v.passed { "held" } else { "violated" },
            v.observed
        ),
    }
}

fn attributes(a: &BTreeSet<String>) -> String {
    if a.is_empty() {
        "absent".into()
    } else {
        a.iter().cloned().collect::<Vec<_>>().join(" | ")
    }
}

/// The lines of each part of the comparison: (heading, lines), for both writers.
fn sections(changes: &Changes) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    out.push((
        format!("Verdicts that changed: {}", changes.verdicts.len()),
        changes
            .verdicts
            .iter()
            .map(|v| {
                format!(
                    "{} {}: {} -> {}",
                    v.rule,
                    scenario_label(&v.scenario),
                    state(&v.before),
                    state(&v.after)
                )
            })
            .collect(),
    ));
    out.push((
        format!(
            "Scenarios newly not judged: {}",
            changes.newly_not_judged.len()
        ),
        changes
            .newly_not_judged
            .iter()
            .map(|(k, m)| format!("{}: {m}", scenario_label(k)))
            .collect(),
    ));
    out.push((
        format!(
            "Scenarios or checks newly not applicable: {}",
            changes.newly_not_applicable.len()
        ),
        changes
            .newly_not_applicable
            .iter()
            .map(|(k, r)| format!("{}: {}", scenario_label(k), r.join("; ")))
            .collect(),
    ));
    let mut cookies = Vec::new();
    if changes.cookies_unknown {
        cookies.push(
            "(a run has no cookie jars in its timelines: written by an older harness, or its \
             browsers could not be read; cookies are compared only where both runs have them)"
                .to_string(),
        );
    }
    for c in &changes.cookies {
        let what = match (c.before.is_empty(), c.after.is_empty()) {
            (true, _) => "new",
            (_, true) => "gone",
            _ => "changed",
        };
        cookies.push(format!(
            "{}: {what} {}{}: {} -> {}",
            c.host,
            c.cookie.0,
            if c.cookie.1 == "/" {
                String::new()
            } else {
                format!(" (path {})", c.cookie.1)
            },
            attributes(&c.before),
            attributes(&c.after)
        ));
    }
    out.push((
        format!(
            "Cookies new, gone or changed, per host: {}",
            changes.cookies.len()
        ),
        cookies,
    ));
    out
}

/// The comparison as the console shows it.
pub fn text(before: &RunReport, after: &RunReport, changes: &Changes) -> String {
    let mut out = format!(
        "before: {} ({} verdicts)\nafter:  {} ({} verdicts)\n",
        before.file.display(),
        before.verdicts.len(),
        after.file.display(),
        after.verdicts.len()
    );
    for (heading, lines) in sections(changes) {
        let _ = writeln!(out, "\n{heading}");
        for l in lines {
            let _ = writeln!(out, "  {l}");
        }
    }
    if changes.is_empty() {
        out.push_str("\nNothing changed.\n");
    }
    out
}

/// The comparison as a self-contained HTML page (no script, no external resource).
pub fn html(before: &RunReport, after: &RunReport, changes: &Changes) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <title>logout-harness: before and after</title>\n<style>\n\
         body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:75em;padding:1em 2em}\
         h2{font-size:1.2em;border-bottom:1px solid #ccc}li{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.92em}\
         .none{color:#666}\n</style>\n</head>\n<body>\n<h1>logout-harness: before and after</h1>\n",
    );
    let _ = writeln!(
        out,
        "<p>before: <code>{}</code> ({} verdicts)<br>after: <code>{}</code> ({} verdicts)</p>",
        esc(&before.file.display().to_string()),
        before.verdicts.len(),
        esc(&after.file.display().to_string()),
        after.verdicts.len()
    );
    for (heading, lines) in sections(changes) {
        let _ = writeln!(out, "<h2>{}</h2>", esc(&heading));
        if lines.is_empty() {
            out.push_str("<p class=\"none\">none</p>\n");
            continue;
        }
        out.push_str("<ul>\n");
        for l in lines {
            let _ = writeln!(out, "<li>{}</li>", esc(&l));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(passed: bool, lifetime: &str, not_judged: bool) -> RunReport {
        let json = serde_json::json!({
            "verdicts": [{"rule": "browser-close.session-after-reopen", "passed": passed,
                "observed": if passed {"refused"} else {"accepted"},
                "context": {"feature": "F", "scenario": "Closing", "mode": "ifd", "browser": "chromium"}}],
            "errors": if not_judged { serde_json::json!([{"context": {"feature": "F", "scenario": "Other",
                "mode": "ifd", "browser": "chromium"}, "message": "m"}]) } else { serde_json::json!([]) },
            "not_applicable": [],
            "scenarios": [{"timeline": [{"kind": "jar", "cookies": [
                {"domain": "crm.contoso.test", "path": "/", "name": "MSISAuth", "secure": true,
                 "http_only": true, "same_site": "None", "lifetime": lifetime, "auth": true},
                {"domain": "crm.contoso.test", "path": "/", "name": "state_a1b2c3d4e5f6g7h8i9", "secure": true,
                 "http_only": true, "same_site": "Lax", "lifetime": "session", "auth": false}]}]}]
        });
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("r.json");
        std::fs::write(&file, json.to_string()).unwrap();
        read_report(&file).unwrap()
    }

    #[test]
    fn a_changed_verdict_a_changed_cookie_and_a_new_not_judged_are_named() {
        let before = report(true, "session", false);
        let after = report(false, "persistent ~7d", true);
        let changes = compare(&before, &after);
        let shown = text(&before, &after, &changes);
        assert!(
            shown.contains(
                "browser-close.session-after-reopen \"Closing\" (ifd/chromium): held (observed \
                 refused) -> violated (observed accepted)"
            ),
            "{shown}"
        );
        assert!(
            shown.contains(
                "crm.contoso.test: changed MSISAuth: Secure, HttpOnly, SameSite=None, session -> \
                 Secure, HttpOnly, SameSite=None, persistent ~7d"
            ),
            "{shown}"
        );
        assert!(shown.contains("Scenarios newly not judged: 1"), "{shown}");
        assert_eq!(changes.cookies.len(), 1, "a volatile name is no change");
        assert!(!changes.is_empty());
    }

    #[test]
    fn the_same_run_twice_changes_nothing() {
        let (a, b) = (
            report(true, "session", false),
            report(true, "session", false),
        );
        let changes = compare(&a, &b);
        assert!(changes.is_empty(), "{changes:?}");
        assert!(text(&a, &b, &changes).ends_with("Nothing changed.\n"));
    }

    #[test]
    fn a_file_that_is_not_a_report_is_named_with_what_to_give() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.json");
        std::fs::write(&file, "{\"a\": 1}").unwrap();
        let e = read_report(&file).unwrap_err().0;
        assert!(
            e.contains("x.json") && e.contains("no `verdicts` list"),
            "{e}"
        );
        std::fs::write(&file, "{").unwrap();
        let e = read_report(&file).unwrap_err().0;
        assert!(e.contains("x.json:1: not JSON"), "{e}");
        std::fs::write(dir.path().join("y.json"), "{}").unwrap();
        let e = find_report(dir.path()).unwrap_err().0;
        assert!(e.contains("2 JSON files (x.json, y.json)"), "{e}");
    }
}
