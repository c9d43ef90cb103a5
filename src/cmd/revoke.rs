//! `logout-harness revoke`: when an administrator's change reaches the sessions that already
//! exist ([`crate::observe::revoke`]), judged against the bound `--within` gives.
//!
//! A pipeline: check the configuration -> open the target (the embedded emulator, or the
//! target's URL) -> sign sessions in -> make the change (the target's `admin:` action, or a person
//! at the keyboard) -> look at the sessions until each is refused -> judge -> report.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::cmd::run::RunError;
use crate::cmd::timeouts::{OpenOptions, open_deployment};
use crate::config::target::{AdminSpec, AuthMode, CrmLocation, Target};
use crate::engine::browser::BrowserKind;
use crate::engine::embedded::Timeouts;
use crate::judge::{Observation, Outcome, Policy, RuleId, Verdict, VerdictContext};
use crate::observe::revoke::{Ask, RevokeFinding, RevokePlan, measure_revocation};

/// The change that is made while the sessions live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// The target's `admin.<key>` action (one of [`AdminSpec::KEYS`]).
    Admin(String),
    /// A person makes the change by hand and presses Enter.
    Manual,
}

impl Change {
    /// `manual`, or an action key of the target file (`-` and `_` alike).
    pub fn parse(s: &str) -> Result<Change, String> {
        if s == "manual" {
            return Ok(Change::Manual);
        }
        let key = s.replace('-', "_");
        if AdminSpec::KEYS.contains(&key.as_str()) {
            return Ok(Change::Admin(key));
        }
        Err(format!(
            "--change `{s}`: give `manual` or an administrator action of the target file: {}",
            AdminSpec::KEYS.join(", ")
        ))
    }

    /// Whether the change revokes persistent single sign-on cookies (`PersistentSsoCutoffTime`):
    /// it is about the identity provider, and about sessions signed in with "Keep me signed in".
    fn revokes_persistent_sso(&self) -> bool {
        matches!(self, Change::Admin(key) if key == "persistent_sso_cutoff")
    }
}

/// What `logout-harness revoke` was asked to do.
#[derive(Clone, Debug)]
pub struct RevokeOptions {
    /// A target file, or `None` for the embedded emulator.
    pub target: Option<PathBuf>,
    /// The embedded emulator's mode.
    pub mode: AuthMode,
    /// Whose sessions are signed in, and whom the change is about.
    pub user: String,
    /// The change.
    pub change: Change,
    /// The value a `set_*` action sets (`{value}`).
    pub value: Option<String>,
    /// Sessions signed in before the change.
    pub sessions: usize,
    /// What each look asks [default: by the change, [`default_ask`]].
    pub ask: Option<Ask>,
    /// Sign the sessions in with "Keep me signed in" ticked (always for
    /// `persistent_sso_cutoff`, which revokes what it leaves).
    pub keep_signed_in: bool,
    /// The bound: every session must be refused this soon after the change.
    pub within: Option<Duration>,
    /// How long after the change sessions are looked at.
    pub max: Option<Duration>,
    /// Time between looks.
    pub resolution: Duration,
    /// The policy file.
    pub policy: PathBuf,
    /// The embedded emulator's timeouts.
    pub sim: Timeouts,
    /// Emulator fault knobs.
    pub faults: Vec<crm_sim::Fault>,
    /// Browser family (browser sign-in).
    pub browser: BrowserKind,
    /// A WebDriver server instead of chromedriver (browser sign-in).
    pub webdriver: Option<String>,
}

/// The report of one measurement.
#[derive(Clone, Debug, Serialize)]
pub struct RevokeReport {
    /// The target's name.
    pub target: String,
    /// Its mode.
    pub mode: AuthMode,
    /// The change: `admin.<key>` or `manual`.
    pub change: String,
    /// What was seen.
    #[serde(flatten)]
    pub finding: RevokeFinding,
    /// The bound (s), if given.
    pub within_s: Option<f64>,
    /// The policy's verdict, when a bound was given and the interval decides it.
    pub verdict: Option<Verdict>,
    /// Why there is no verdict, when there is none.
    pub not_judged: Option<String>,
}

impl RevokeReport {
    /// Held (also when nothing was judged for want of a bound), violated, or could not judge
    /// (the interval straddles the bound).
    pub fn exit_code(&self) -> crate::report::ExitCode {
        use crate::report::ExitCode;
        match (&self.verdict, &self.within_s) {
            (Some(v), _) if !v.passed => ExitCode::Violated,
            (Some(_), _) => ExitCode::Held,
            (None, Some(_)) => ExitCode::NotJudged,
            (None, None) => ExitCode::Held,
        }
    }
}

/// What a look asks when `--ask` is not given: a timeout set in the application is about the
/// application's sessions (the identity provider signing the user straight back in is not the
/// timeout's business); `PersistentSsoCutoffTime` is about the identity provider's persistent
/// sessions; disabling a user or ending the user's sessions is about the user's access, which
/// survives an ended application session while the identity provider signs the user back in.
pub fn default_ask(change: &Change) -> Ask {
    match change {
        Change::Admin(key) if AdminSpec::takes_value(key) => Ask::Application,
        _ if change.revokes_persistent_sso() => Ask::IdentityProvider,
        _ => Ask::Access,
    }
}

/// How long after the change sessions are looked at, when `--max` is not given: twice the
/// bound (at least 10 s more), else a minute.
fn default_max(within: Option<Duration>) -> Duration {
    match within {
        Some(w) => (2 * w).max(w + Duration::from_secs(10)),
        None => Duration::from_secs(60),
    }
}

/// Measures as asked. Errors are "could not measure" (exit 2).
pub async fn revoke(opts: RevokeOptions) -> Result<RevokeReport, RunError> {
    let policy = Policy::load(&opts.policy)?;
    let target = match &opts.target {
        Some(file) => {
            let t = Target::load(file)?;
            t.preflight()?;
            t
        }
        None => Target::embedded(opts.mode),
    };
    if opts.sessions == 0 {
        return Err(RunError::Usage("--sessions must be at least 1".into()));
    }
    if opts.resolution < Duration::from_millis(100) {
        return Err(RunError::Usage(
            "--resolution must be at least 100ms (a look is an HTTP round trip)".into(),
        ));
    }
    let max = opts.max.unwrap_or_else(|| default_max(opts.within));
    if let Some(within) = opts.within
        && max < within
    {
        return Err(RunError::Usage(format!(
            "--max {} is shorter than --within {}: a session alive at --max would say nothing",
            crate::observe::measure::fmt_duration(max),
            crate::observe::measure::fmt_duration(within)
        )));
    }
    let embedded_target = target.spec.crm == CrmLocation::Embedded;
    if let Change::Admin(key) = &opts.change {
        match (AdminSpec::takes_value(key), &opts.value) {
            (true, None) => {
                return Err(RunError::Usage(format!(
                    "--change {key} sets a value: give it with --value (e.g. --value 5m)"
                )));
            }
            (false, Some(_)) => {
                return Err(RunError::Usage(format!(
                    "--value is for the set_* actions; --change {key} takes none"
                )));
            }
            _ => {}
        }
        if !embedded_target && target.spec.admin.action(key).is_none() {
            return Err(RunError::Usage(format!(
                "the target file declares no `admin: {{{key}: ...}}` ({}); give the action as \
                 `{{url: https://..., method: POST}}` or `{{command: [program, args...]}}`, or \
                 use --change manual",
                target.source()
            )));
        }
    }
    let username = target
        .credentials(&opts.user)
        .map_err(RunError::Usage)?
        .username;

    let opened = open_deployment(
        &target,
        &OpenOptions {
            user: &opts.user,
            sim: opts.sim,
            faults: opts.faults.clone(),
            browser: opts.browser,
            webdriver: opts.webdriver.clone(),
            sign_in_concurrency: 1,
            keep_signed_in: opts.keep_signed_in || opts.change.revokes_persistent_sso(),
        },
    )
    .await?;
    let action = match &opts.change {
        Change::Admin(key) => {
            let spec = match &opened.embedded {
                Some(e) => e.admin_spec(),
                None => target.spec.admin.clone(),
            };
            spec.action(key).cloned().map(|a| (key.clone(), a))
        }
        Change::Manual => None,
    };
    let plan = RevokePlan {
        ask: opts.ask.unwrap_or_else(|| default_ask(&opts.change)),
        sessions: opts.sessions,
        resolution: opts.resolution,
        max,
    };
    let deployment = &opened.deployment;
    let measured = measure_revocation(deployment, &plan, || async {
        match &action {
            Some((key, action)) => crate::observe::admin::perform_as(
                action,
                key,
                &username,
                opts.value.as_deref(),
                &deployment.probe,
            )
            .await
            .map(|done| format!("admin.{key}: {done}"))
            .map_err(|e| e.to_string()),
            None => press_enter(&username).await,
        }
    })
    .await;
    opened.close().await;
    let finding = measured.map_err(|e| RunError::Usage(e.to_string()))?;

    let change = match &opts.change {
        Change::Admin(key) => format!("admin.{key}"),
        Change::Manual => "manual".into(),
    };
    let (outcome, not_judged) = match opts.within {
        None => (
            None,
            Some(
                "no bound was given: pass --within DUR (how soon the sessions must be refused) \
                 to judge the change"
                    .to_string(),
            ),
        ),
        Some(within) => judge(&finding, within),
    };
    let verdict = outcome
        .map(|outcome| {
            let mut obs = Observation::new(RuleId::ChangeReachesSessions, outcome)
                .evidence(format!("{change}: {finding}"));
            for (i, s) in finding.sessions.iter().enumerate() {
                obs = obs.evidence(format!("session {}: {}", i + 1, s.evidence));
            }
            policy.judge(
                &obs,
                &VerdictContext {
                    feature: "logout-harness revoke".into(),
                    scenario: format!("{change} reaches the sessions signed in before it"),
                    mode: target.pass_mode(),
                    browser: match target.sign_in_by() {
                        crate::config::target::SignInBy::Http => "http".into(),
                        crate::config::target::SignInBy::Browser => opts.browser.to_string(),
                    },
                    target: target.spec.name.clone(),
                },
            )
        })
        .transpose()
        .map_err(RunError::Usage)?
        .flatten();
    Ok(RevokeReport {
        target: target.spec.name.clone(),
        mode: target.spec.mode,
        change,
        finding,
        within_s: opts.within.map(|w| w.as_secs_f64()),
        verdict,
        not_judged,
    })
}

/// The finding against the bound: refused when every session was refused by then, accepted
/// when one outlived it; otherwise the interval straddles the bound and says nothing.
fn judge(finding: &RevokeFinding, within: Duration) -> (Option<Outcome>, Option<String>) {
    let within_s = within.as_secs_f64();
    match finding.upper_s {
        Some(upper) if upper <= within_s => (Some(Outcome::Refused), None),
        _ if finding.lower_s > within_s => (Some(Outcome::Accepted), None),
        None if finding.max_s >= within_s => (Some(Outcome::Accepted), None),
        _ => (
            None,
            Some(format!(
                "the change reached the sessions between {:.1}s and {:.1}s after it was made, \
                 which straddles --within {within_s:.1}s: measure again with a finer \
                 --resolution",
                finding.lower_s,
                finding.upper_s.unwrap_or(finding.max_s)
            )),
        ),
    }
}

/// Waits for a person to make the change by hand and press Enter.
async fn press_enter(username: &str) -> Result<String, String> {
    eprintln!(
        "make the change for {username} now (for example disable the user, or change the \
         timeout), then press Enter"
    );
    let line = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|n| (n, line))
    })
    .await
    .map_err(|e| e.to_string())?;
    match line {
        Ok((0, _)) => Err("standard input is closed: nobody can press Enter (use an \
                           administrator action of the target file instead of --change manual)"
            .into()),
        Ok(_) => Ok("made by hand".into()),
        Err(e) => Err(format!("reading standard input: {e}")),
    }
}

/// The console's account of a report.
pub fn describe(report: &RevokeReport) -> String {
    let mut out = format!("{}: {}\n", report.change, report.finding);
    if let Some(note) = &report.finding.note {
        out.push_str(&format!("  note: {note}\n"));
    }
    for (i, s) in report.finding.sessions.iter().enumerate() {
        let when = match s.refused_by_s {
            Some(r) => format!(
                "refused between {:.1}s and {r:.1}s after the change",
                s.alive_at_least_s
            ),
            None => format!("still accepted {:.1}s after the change", s.alive_at_least_s),
        };
        out.push_str(&format!("  session {}: {when} ({})\n", i + 1, s.evidence));
    }
    match (&report.verdict, &report.not_judged, report.within_s) {
        (Some(v), _, Some(w)) => {
            out.push_str(&format!(
                "{} against --within {w:.1}s: {} (expected {}, rule {}, {})\n",
                if v.passed { "HELD" } else { "VIOLATED" },
                v.observed,
                v.expected,
                v.rule,
                v.requirements.join(", ")
            ));
            if let Some(cause) = &v.likely_cause {
                out.push_str(&format!("  likely cause: {cause}\n"));
            }
            for fix in &v.fix {
                out.push_str(&format!("  fix: {fix}\n"));
            }
        }
        (None, Some(why), _) => out.push_str(&format!("not judged: {why}\n")),
        _ => out.push_str("the policy does not judge this change\n"),
    }
    out.push_str(&format!(
        "the change took {:.1}s; {} looks after it, one every {:.1}s\n",
        report.finding.change_took_s, report.finding.probes, report.finding.resolution_s
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(lower_s: f64, upper_s: Option<f64>) -> RevokeFinding {
        RevokeFinding {
            change: "x".into(),
            change_took_s: 0.0,
            sessions: Vec::new(),
            lower_s,
            upper_s,
            max_s: 20.0,
            resolution_s: 1.0,
            probes: 0,
            ask: Ask::Access,
            note: None,
        }
    }

    #[test]
    fn the_interval_decides_only_when_it_lies_on_one_side_of_the_bound() {
        let w = Duration::from_secs(5);
        assert_eq!(judge(&finding(0.0, Some(1.0)), w).0, Some(Outcome::Refused));
        assert_eq!(
            judge(&finding(5.5, Some(6.5)), w).0,
            Some(Outcome::Accepted)
        );
        assert_eq!(judge(&finding(19.0, None), w).0, Some(Outcome::Accepted));
        let (none, why) = judge(&finding(4.5, Some(5.5)), w);
        assert_eq!(none, None);
        assert!(why.unwrap().contains("straddles"));
    }

    #[test]
    fn changes_are_the_target_files_actions_or_manual() {
        assert_eq!(
            Change::parse("deactivate-user"),
            Ok(Change::Admin("deactivate_user".into()))
        );
        assert_eq!(Change::parse("manual"), Ok(Change::Manual));
        let e = Change::parse("delete-everything").unwrap_err();
        assert!(e.contains("end_sessions") && e.contains("manual"), "{e}");
    }

    #[test]
    fn a_look_asks_what_the_change_is_about() {
        let ask = |s: &str| default_ask(&Change::parse(s).unwrap());
        assert_eq!(ask("set_idle_timeout"), Ask::Application);
        assert_eq!(ask("set_session_length"), Ask::Application);
        assert_eq!(ask("persistent_sso_cutoff"), Ask::IdentityProvider);
        assert_eq!(ask("disable_in_directory"), Ask::Access);
        assert_eq!(ask("deactivate_user"), Ask::Access);
        assert_eq!(ask("manual"), Ask::Access);
    }
}
