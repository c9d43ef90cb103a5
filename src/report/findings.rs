//! What a run found, as typed values until a writer turns them into text: verdicts, scenarios
//! not judged or not applicable, notes, timings; gathered by a [`Collector`] shared by the
//! scenarios, and redacted before any writer sees them ([`redact_findings`]).

use std::sync::Mutex;

use serde::Serialize;

use crate::config::secrets::Redactor;
use crate::judge::{Verdict, VerdictContext};

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

/// How one Gherkin step of a scenario ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepOutcome {
    /// It ran to its end.
    Passed,
    /// It could not observe (the scenario is not judged from here on).
    Failed,
    /// No step definition matches it.
    Undefined,
    /// It never ran: a step before it failed, or the run was interrupted.
    NotRun,
}

/// One Gherkin step as written (`When she signs out through the profile menu`) and how it ended.
#[derive(Clone, Debug, Serialize)]
pub struct StepRecord {
    /// The keyword and the text.
    pub text: String,
    /// How it ended.
    pub outcome: StepOutcome,
}

/// A screenshot a report embeds, with what it shows.
#[derive(Clone, Debug)]
pub struct Screenshot {
    /// What it shows (`alice, as the scenario ended`).
    pub caption: String,
    /// The PNG, taken after every known secret on the page was blanked (see
    /// [`crate::report::artifacts`]).
    pub png: Vec<u8>,
}

/// What a report shows of one scenario beside its verdicts: its steps, its sign-out timeline,
/// and the screenshots of a failed one.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioRecord {
    /// Which scenario.
    pub context: VerdictContext,
    /// Its Gherkin steps in order, each with how it ended.
    pub steps: Vec<StepRecord>,
    /// Its timeline, in the order things happened.
    pub timeline: Vec<crate::observe::timeline::TimelineEvent>,
    /// Why part of the timeline is missing (a browser whose requests could not be recorded).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub timeline_gaps: Vec<String>,
    /// Screenshots of a failed scenario (the HTML report embeds them; never in JSON).
    #[serde(skip)]
    pub screenshots: Vec<Screenshot>,
}

impl ScenarioRecord {
    /// A record of the scenario at `context` with nothing in it yet.
    pub fn new(context: VerdictContext) -> ScenarioRecord {
        ScenarioRecord {
            context,
            steps: Vec::new(),
            timeline: Vec::new(),
            timeline_gaps: Vec::new(),
            screenshots: Vec::new(),
        }
    }
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
    /// The folders failed scenarios left their artifacts in (the run names each once at its end).
    #[serde(skip)]
    pub artifacts: std::collections::BTreeSet<std::path::PathBuf>,
    /// `run --trace-knobs` only: the fault knobs each scenario reached.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub knobs_reached: Vec<KnobsReached>,
    /// The run was interrupted (Ctrl-C, SIGTERM): these are the findings up to then, and scenarios
    /// that had not ended are missing.
    pub incomplete: bool,
    /// Where the HTML report is, as the JUnit file names it (relative to the JUnit file's folder
    /// when they share one): a CI server's test tab then points a reader to it.
    #[serde(skip)]
    pub html_report: Option<String>,
    /// Each scenario that ran: its steps and its sign-out timeline, in the order they ended.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scenarios: Vec<ScenarioRecord>,
}

impl Findings {
    /// Whether any verdict failed.
    pub fn violated(&self) -> bool {
        self.verdicts.iter().any(|v| !v.passed)
    }

    /// What the findings come to: violated when any verdict is, not judged when something could
    /// not be judged (and nothing was violated) or nothing was judged at all, held otherwise.
    pub fn exit_code(&self) -> ExitCode {
        if self.violated() {
            ExitCode::Violated
        } else if !self.errors.is_empty() || self.verdicts.is_empty() {
            ExitCode::NotJudged
        } else {
            ExitCode::Held
        }
    }
}

/// What a command's findings come to, as its exit code tells it (docs/running.md, "Exit codes"):
/// the contract pipelines read. Interruptions (130, 143, 129) are the signal handler's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCode {
    /// 0: every check holds.
    Held,
    /// 1: the policy is violated.
    Violated,
    /// 2: the harness could not judge.
    NotJudged,
}

impl ExitCode {
    /// The process's exit code.
    pub fn code(self) -> i32 {
        match self {
            ExitCode::Held => 0,
            ExitCode::Violated => 1,
            ExitCode::NotJudged => 2,
        }
    }
}

/// Findings shared by concurrently running scenarios.
#[derive(Debug, Default)]
pub struct Collector(Mutex<Findings>);

impl Collector {
    /// Notes that a failed scenario left its artifacts under `dir`.
    pub fn artifacts_in(&self, dir: &std::path::Path) {
        self.lock().artifacts.insert(dir.to_path_buf());
    }

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
    /// `(feature, scenario) -> step` (cucumber's events; see [`crate::report::step_log`]).
    pub fn name_failed_steps(&self, failed: &[((String, String), String)]) {
        let mut f = self.lock();
        for e in f.errors.iter_mut().filter(|e| e.step.is_empty()) {
            let key = (e.context.feature.clone(), e.context.scenario.clone());
            if let Some((_, step)) = failed.iter().find(|(k, _)| *k == key) {
                e.step = step.clone();
            }
        }
    }

    /// Records a scenario's timeline and screenshots (its after hook); its steps are added when
    /// the pass ends ([`Collector::steps_of`]).
    pub fn scenario(&self, record: ScenarioRecord) {
        let mut f = self.lock();
        match f.scenarios.iter_mut().find(|s| s.context == record.context) {
            Some(s) => {
                s.timeline = record.timeline;
                s.timeline_gaps = record.timeline_gaps;
                s.screenshots = record.screenshots;
            }
            None => f.scenarios.push(record),
        }
    }

    /// Records the steps of the scenario at `context`, as cucumber's events told them.
    pub fn steps_of(&self, context: &VerdictContext, steps: Vec<StepRecord>) {
        let mut f = self.lock();
        match f.scenarios.iter_mut().find(|s| s.context == *context) {
            Some(s) => s.steps = steps,
            None => {
                let mut record = ScenarioRecord::new(context.clone());
                record.steps = steps;
                f.scenarios.push(record);
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

/// `findings` with every [`remember`](crate::config::secrets::remember)ed secret redacted from each text they carry (evidence,
/// details, messages, reasons, notes, steps, timelines), before any report (console, JUnit, JSON,
/// HTML) is written from them: redacting before the report's own escaping means no escaped form
/// can slip through.
pub fn redact_findings(findings: Findings) -> Findings {
    let redactor = Redactor::known();
    if redactor.is_empty() {
        return findings;
    }
    rewrite_texts(findings, &|s: &str| redactor.redact(s))
}

/// `--redact-hosts`: every host name the findings carry (in URLs, the timeline's hops and cookie
/// domains) replaced by `host-N.example`, the same name for the same host everywhere, and the
/// organisation's name in them (`contoso`) by `name-N` wherever else it shows, so a run can be
/// handed to a vendor or an auditor. Screenshots are dropped: an image cannot be rewritten.
pub fn redact_hosts(findings: Findings) -> Findings {
    let mut hosts = std::collections::BTreeSet::new();
    let url = regex::Regex::new(r"(?i)\b(?:https?|wss?)://(?:[^@/\s]*@)?([a-z0-9][a-z0-9.-]*)")
        .expect("static regex");
    let mut seen_in = |t: &str| {
        for c in url.captures_iter(t) {
            hosts.insert(c[1].to_ascii_lowercase());
        }
    };
    rewrite_texts_ref(&findings, &mut seen_in);
    for s in &findings.scenarios {
        for e in &s.timeline {
            crate::observe::timeline::hosts_of(e, &mut |h: &str| {
                hosts.insert(h.trim_start_matches('.').to_ascii_lowercase());
            });
        }
    }
    hosts.retain(|h| h.contains('.') && h.parse::<std::net::IpAddr>().is_err());
    // Longest first: `crm.contoso.test` is replaced before the `contoso.test` of a domain cookie.
    let mut by_length: Vec<(String, String)> = hosts
        .iter()
        .enumerate()
        .map(|(i, h)| (h.clone(), format!("host-{}.example", i + 1)))
        .collect();
    by_length.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
    // Then the names inside them, wherever a host was cut short or encoded (`crm.contoso.t...`
    // in a shortened Location, `%2fcontoso%2f` in an encoded one, the organization's path):
    // every label but the first and the last (`contoso` of `crm.contoso.test`; of a two-label
    // host, its first), of 4 characters or more, wherever it appears.
    let mut names: Vec<String> = hosts
        .iter()
        .flat_map(|h| {
            let labels: Vec<&str> = h.split('.').collect();
            let inner = if labels.len() > 2 {
                &labels[1..labels.len() - 1]
            } else {
                &labels[..labels.len() - 1]
            };
            inner
                .iter()
                .filter(|l| l.len() >= 4)
                .map(|l| l.to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    names.sort();
    names.dedup();
    let replacements: Vec<(regex::Regex, String)> = by_length
        .iter()
        .map(|(host, alias)| (regex::escape(host), alias.clone()))
        .chain(
            names
                .iter()
                .enumerate()
                .map(|(i, n)| (regex::escape(n), format!("name-{}", i + 1))),
        )
        .map(|(pattern, alias)| {
            let re = regex::RegexBuilder::new(&pattern)
                .case_insensitive(true)
                .build()
                .expect("an escaped host or label is a regex");
            (re, alias)
        })
        .collect();
    let mut findings = rewrite_texts(findings, &|s: &str| {
        let mut out = s.to_string();
        for (re, alias) in &replacements {
            if re.is_match(&out) {
                out = re.replace_all(&out, alias.as_str()).into_owned();
            }
        }
        out
    });
    for s in &mut findings.scenarios {
        s.screenshots.clear();
    }
    findings
        .notes
        .push("host names are replaced (--redact-hosts): host-N.example is one host everywhere, name-N one name in them; screenshots are left out".into());
    findings
}

/// Calls `look` on every text of `findings` that [`rewrite_texts`] rewrites.
fn rewrite_texts_ref(findings: &Findings, look: &mut dyn FnMut(&str)) {
    for v in &findings.verdicts {
        v.evidence.iter().for_each(|t| look(t));
        v.detail.iter().for_each(|t| look(t));
        v.why.iter().for_each(|t| look(t));
    }
    for e in &findings.errors {
        look(&e.message);
    }
    for n in &findings.not_applicable {
        look(&n.reason);
    }
    findings.notes.iter().for_each(|t| look(t));
}

/// `findings` with `rewrite` applied to every text that could carry a secret or a host name.
fn rewrite_texts(mut findings: Findings, rewrite: &dyn Fn(&str) -> String) -> Findings {
    let r = |s: &mut String| *s = rewrite(s);
    for v in &mut findings.verdicts {
        v.evidence.iter_mut().for_each(r);
        v.detail.iter_mut().for_each(r);
        v.why.iter_mut().for_each(r);
        v.likely_cause.iter_mut().for_each(r);
        v.fix.iter_mut().for_each(r);
        r(&mut v.context.scenario);
        r(&mut v.context.target);
    }
    for e in &mut findings.errors {
        r(&mut e.step);
        r(&mut e.message);
        r(&mut e.context.scenario);
        r(&mut e.context.target);
    }
    for n in &mut findings.not_applicable {
        r(&mut n.reason);
        r(&mut n.context.scenario);
        r(&mut n.context.target);
    }
    findings.notes.iter_mut().for_each(r);
    for t in &mut findings.timings {
        r(&mut t.context.scenario);
        r(&mut t.context.target);
    }
    for s in &mut findings.scenarios {
        r(&mut s.context.scenario);
        r(&mut s.context.target);
        for step in &mut s.steps {
            r(&mut step.text);
        }
        crate::observe::timeline::redact(&mut s.timeline, rewrite);
        s.timeline_gaps.iter_mut().for_each(r);
    }
    findings
}
