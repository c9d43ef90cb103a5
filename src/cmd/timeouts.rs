//! `logout-harness timeout`: the deployment's real idle timeout or session length, measured
//! ([`crate::observe::measure`]), judged against the value the target declares, with where to change it.
//!
//! A pipeline: check the configuration -> open the target (the embedded emulator started with
//! `--sim-*` timeouts, or the target's URL) -> sign sessions in (HTTP or browser contexts) ->
//! measure -> judge -> report (console, `--json`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::cmd::run::RunError;
use crate::config::target::{AuthMode, Credentials, CrmLocation, Pages, SignInBy, Target};
use crate::engine::browser::{BrowserKind, JarCookie, SharedBrowser};
use crate::engine::embedded::{Embedded, EmbeddedOptions, Timeouts};
use crate::engine::probe::Probe;
use crate::judge::{Observation, Outcome, Policy, RuleId, Verdict, VerdictContext};
use crate::observe::http_signin::Reentry;
use crate::observe::measure::{self, Finding, Plan, Probed, Record, Sessions, What, fmt_duration};

/// How a measurement is made: the staggered sessions, or the classic one session per round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// Many sessions, each probed once at its own idle age: about the timeout's own time.
    Staggered,
    /// A new session per round, left idle one step longer each round (what a Burp extension
    /// does): about `T² / (2 × step)`. For comparison in `bench/`.
    Sequential,
}

/// What `logout-harness timeout` was asked to do.
#[derive(Clone, Debug)]
pub struct TimeoutOptions {
    /// A target file, or `None` for the embedded emulator.
    pub target: Option<PathBuf>,
    /// The embedded emulator's mode.
    pub mode: AuthMode,
    /// Whose sessions are signed in (a key of the target's `users`).
    pub user: String,
    /// Session length instead of idle timeout.
    pub absolute: bool,
    /// The longest value looked for; default twice the declared value, else 1 hour.
    pub max: Option<Duration>,
    /// The widest interval wanted; default 1 s up to 2 minutes of --max, else --max / 100.
    pub resolution: Option<Duration>,
    /// How to measure.
    pub method: Method,
    /// The policy file.
    pub policy: PathBuf,
    /// JSON output.
    pub json: Option<PathBuf>,
    /// The embedded emulator's inactivity timeout.
    pub sim_idle_timeout: Option<Duration>,
    /// The embedded emulator's session length.
    pub sim_session_length: Option<Duration>,
    /// The embedded emulator's forms ticket (mode fba).
    pub sim_forms_ticket: Option<crm_sim::FormsTicket>,
    /// Browser family (browser sign-in).
    pub browser: BrowserKind,
    /// A WebDriver server instead of chromedriver (browser sign-in).
    pub webdriver: Option<String>,
    /// Emulator fault knobs.
    pub faults: Vec<crm_sim::Fault>,
}

/// The report of one measurement: the finding, the verdict, and where the value is set.
#[derive(Clone, Debug, Serialize)]
pub struct TimeoutReport {
    /// The target's name.
    pub target: String,
    /// Its mode.
    pub mode: AuthMode,
    /// How sessions were signed in.
    pub sign_in: SignInBy,
    /// The measurement.
    #[serde(flatten)]
    pub finding: Finding,
    /// The value the target declares (seconds), if any.
    pub configured_s: Option<f64>,
    /// What the target declares of each timeout (seconds), measured here or not: a report on
    /// the idle timeout of a target that declares only its session length says so.
    pub declared: Declared,
    /// The policy's verdict on the measured value against the declared one, if both exist.
    pub verdict: Option<Verdict>,
    /// Where an administrator changes this value in this mode.
    pub where_configured: Vec<String>,
}

impl TimeoutReport {
    /// Held (also when the policy judges nothing here), or violated.
    pub fn exit_code(&self) -> crate::report::ExitCode {
        match &self.verdict {
            Some(v) if !v.passed => crate::report::ExitCode::Violated,
            _ => crate::report::ExitCode::Held,
        }
    }
}

/// The timeouts a target declares (`timeouts.idle`, `timeouts.absolute`; for the embedded
/// emulator, the values it runs with), in seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Declared {
    /// `timeouts.idle`.
    pub idle_s: Option<f64>,
    /// `timeouts.absolute`.
    pub absolute_s: Option<f64>,
}

/// Measures as asked. Errors are "could not measure" (exit 2).
pub async fn measure_timeout(
    opts: TimeoutOptions,
    on_progress: impl FnMut(measure::Status),
    record_slot: impl FnOnce(Arc<Record>),
) -> Result<TimeoutReport, RunError> {
    let policy = Policy::load(&opts.policy)?;
    let target = match &opts.target {
        Some(file) => {
            let t = Target::load(file)?;
            t.preflight()?;
            t
        }
        None => Target::embedded(opts.mode),
    };
    // The built-in CRM under Windows authentication has no session that could time out.
    if target.spec.crm == CrmLocation::Embedded && target.spec.mode == AuthMode::Iwa {
        return Err(RunError::Usage(CRM_IWA_HAS_NO_SESSION_TIMEOUT.into()));
    }
    if let Some(path) = &opts.json {
        crate::report::check_writable(path).map_err(|e| RunError::Usage(format!("--json: {e}")))?;
        let at = std::fs::canonicalize(path).ok();
        if at.is_some()
            && opts
                .target
                .as_ref()
                .map(std::fs::canonicalize)
                .and_then(Result::ok)
                == at
        {
            return Err(RunError::Usage(format!(
                "--json {} is the run's own target file: the report would overwrite it; name \
                 another file",
                path.display()
            )));
        }
    }
    let embedded_target = target.spec.crm == CrmLocation::Embedded;
    let any_sim = opts.sim_idle_timeout.is_some()
        || opts.sim_session_length.is_some()
        || opts.sim_forms_ticket.is_some();
    if !embedded_target && any_sim {
        return Err(RunError::Usage(
            "--sim-idle-timeout, --sim-session-length and --sim-forms-ticket set the embedded \
             emulator's timeouts; a real target has its own"
                .into(),
        ));
    }
    if opts.sim_forms_ticket.is_some() && target.spec.mode != AuthMode::Fba {
        return Err(RunError::Usage(format!(
            "--sim-forms-ticket is the lifetime of CRM 4.0's forms ticket (ASP.NET forms \
             authentication), which only mode fba has; this is mode {}: add --mode fba",
            target.spec.mode
        )));
    }
    let what = if opts.absolute {
        What::SessionLength
    } else {
        What::Idle
    };
    // The emulator runs with the --sim-* values (an unset one at CRM's default: no inactivity
    // timeout, a day's session), or with none given, with what the target declares (the
    // built-in target's short demo values). For the built-in target the declared value is the
    // emulator's own.
    let declared = &target.spec.timeouts;
    let sim = if any_sim {
        Timeouts {
            idle: opts.sim_idle_timeout,
            absolute: opts.sim_session_length,
            forms_ticket: opts.sim_forms_ticket,
        }
    } else {
        Timeouts {
            idle: declared.idle,
            absolute: declared.absolute,
            forms_ticket: None,
        }
    };
    // What the emulator's values make of its sessions: a sliding forms ticket is an idle
    // timeout, a fixed one a session length; the shorter of two limits is the one seen.
    let shorter = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let ticket = |sliding: bool| {
        sim.forms_ticket
            .filter(|t| t.sliding == sliding)
            .map(|t| t.timeout)
    };
    let sim_idle = shorter(sim.idle, ticket(true));
    let sim_absolute = shorter(sim.absolute, ticket(false));
    let declared_now = if opts.target.is_none() {
        Declared {
            idle_s: sim_idle.map(|d| d.as_secs_f64()),
            absolute_s: sim_absolute.map(|d| d.as_secs_f64()),
        }
    } else {
        Declared {
            idle_s: declared.idle.map(|d| d.as_secs_f64()),
            absolute_s: declared.absolute.map(|d| d.as_secs_f64()),
        }
    };
    let configured = match (what, opts.target.is_none()) {
        (What::Idle, true) => sim_idle,
        (What::SessionLength, true) => sim_absolute,
        (What::Idle, false) => declared.idle,
        (What::SessionLength, false) => declared.absolute,
    };
    let max = opts.max.unwrap_or_else(|| match configured {
        Some(c) => 2 * c,
        None => Duration::from_secs(3600),
    });
    let resolution = opts.resolution.unwrap_or_else(|| {
        if max <= Duration::from_secs(120) {
            Duration::from_secs(1)
        } else {
            max / 100
        }
    });
    let spec = &target.spec.timeouts.measure;
    let plan = Plan {
        max_sessions: spec.max_sessions,
        sign_in_concurrency: spec.sign_in_concurrency,
        sign_ins_per_second: spec.sign_ins_per_second,
        ..Plan::new(what, max, resolution)
    };
    plan.validate().map_err(RunError::Usage)?;
    let sign_in = target.sign_in_by();
    let opened = open_deployment(
        &target,
        &OpenOptions {
            user: &opts.user,
            sim,
            faults: opts.faults.clone(),
            browser: opts.browser,
            webdriver: opts.webdriver.clone(),
            sign_in_concurrency: plan.sign_in_concurrency,
            keep_signed_in: false,
        },
    )
    .await?;
    let deployment = &opened.deployment;

    let record = Record::new(plan);
    record_slot(record.clone());
    let measured = match opts.method {
        Method::Staggered => measure::measure(deployment, &record, on_progress).await,
        Method::Sequential => measure::measure_sequential(deployment, &record, on_progress).await,
    };
    opened.close().await;
    let finding = measured.map_err(|e| RunError::Usage(e.to_string()))?;

    let verdict = configured
        .map(|c| observe(what, c, &finding))
        .map(|obs| {
            policy.judge(
                &obs,
                &VerdictContext {
                    feature: "logout-harness timeout".into(),
                    scenario: format!("measured {what}"),
                    mode: target.pass_mode(),
                    browser: match sign_in {
                        SignInBy::Http => "http".into(),
                        SignInBy::Browser => opts.browser.to_string(),
                    },
                    target: target.spec.name.clone(),
                },
            )
        })
        .transpose()
        .map_err(RunError::Usage)?
        .flatten();
    Ok(TimeoutReport {
        target: target.spec.name.clone(),
        mode: target.spec.mode,
        sign_in,
        finding,
        configured_s: configured.map(|c| c.as_secs_f64()),
        declared: declared_now,
        verdict,
        where_configured: target
            .spec
            .mode
            .timeout_settings(what == What::SessionLength)
            .iter()
            .map(|s| s.to_string())
            .collect(),
    })
}

/// The measured interval against the declared value: "early" if the sessions end before it,
/// "not-enforced" if they outlast it, by more than the resolution (the interval's own width).
fn observe(what: What, configured: Duration, f: &Finding) -> Observation {
    let c = configured.as_secs_f64();
    let slack = f.resolution_s;
    let outcome = match f.upper_s {
        Some(upper) if upper < c - slack => Outcome::Early,
        Some(_) if f.lower_s > c + slack => Outcome::NotEnforced,
        Some(_) => Outcome::Enforced,
        None if f.lower_s > c + slack => Outcome::NotEnforced,
        // Alive at every look, but none was past the declared value (interrupted early).
        None => Outcome::Enforced,
    };
    let rule = match what {
        What::Idle => RuleId::IdleTimeout,
        What::SessionLength => RuleId::AbsoluteTimeout,
    };
    let mut obs = Observation::new(rule, outcome)
        .evidence(format!("configured {what} {}", fmt_duration(configured)))
        .evidence(f.to_string());
    for e in &f.evidence {
        obs = obs.evidence(e.clone());
    }
    obs
}

/// Why `timeout` measures nothing on CRM in mode iwa (docs/crm-adfs-facts.md, S6).
const CRM_IWA_HAS_NO_SESSION_TIMEOUT: &str = "mode iwa has no session timeout to measure: CRM's \
    session and inactivity timeouts apply to claims-based authentication (modes ifd and claims), \
    not to Windows authentication, where every request signs in with Kerberos or NTLM \
    (Microsoft, \"Manage user session and access\", \
    https://learn.microsoft.com/en-us/dynamics365/customerengagement/on-premises/admin/user-session-management); \
    measure with --mode ifd or --mode claims";

/// What to check when a session just signed in is not signed in for the probe, by mode: under
/// Windows authentication the browser signs every request in, and cookies alone may sign in
/// nothing.
fn not_signed_in_hint(mode: AuthMode) -> &'static str {
    match mode {
        AuthMode::Iwa => {
            "in mode iwa the browser signs every request in with Windows authentication and the \
             probe replays cookies alone, so only a session cookie that signs requests in by \
             itself (named in `pages.auth_cookies`) has a timeout to measure; under Windows \
             authentication alone there is none"
        }
        _ => measure::CHECK_WHOAMI_AND_AUTH_COOKIES,
    }
}

/// What [`open_deployment`] needs besides the target.
pub(crate) struct OpenOptions<'a> {
    /// Whose sessions are signed in.
    pub(crate) user: &'a str,
    /// The embedded emulator's timeouts.
    pub(crate) sim: Timeouts,
    /// The embedded emulator's fault knobs.
    pub(crate) faults: Vec<crm_sim::Fault>,
    /// Browser family (browser sign-in).
    pub(crate) browser: BrowserKind,
    /// A WebDriver server instead of chromedriver (browser sign-in).
    pub(crate) webdriver: Option<String>,
    /// Browser sign-ins at once.
    pub(crate) sign_in_concurrency: usize,
    /// Sign in with "Keep me signed in" (`pages.kmsi`) ticked.
    pub(crate) keep_signed_in: bool,
}

/// A target opened for sessions signed in and probed outside the scenarios (`timeout`,
/// `revoke`): the deployment, and what keeps it open (the embedded emulator, the driver, the
/// trust store). [`Opened::close`] ends them.
pub(crate) struct Opened {
    pub(crate) deployment: Deployment,
    /// The embedded emulator, when the target is.
    pub(crate) embedded: Option<Embedded>,
    shared_driver: Option<crate::engine::browser::Driver>,
    resources: crate::engine::trust::PassResources,
}

impl Opened {
    /// Ends the browsers, the driver, the trust store and the emulator.
    pub(crate) async fn close(self) {
        if let Signer::Browser { host, .. } = &self.deployment.signer {
            host.shutdown().await;
        }
        drop(self.resources);
        drop(self.shared_driver);
        if let Some(e) = self.embedded {
            e.shutdown().await;
        }
    }
}

/// Opens `target` (starting the embedded emulator if it is the target) for sessions of
/// `opts.user`, signed in as the target says (HTTP or a browser).
pub(crate) async fn open_deployment(
    target: &Target,
    opts: &OpenOptions<'_>,
) -> Result<Opened, RunError> {
    let creds = target.credentials(opts.user).map_err(RunError::Usage)?;
    let sign_in = target.sign_in_by();
    let embedded = if target.spec.crm == CrmLocation::Embedded {
        Some(
            Embedded::start(
                target.spec.mode,
                &EmbeddedOptions {
                    ui: target.spec.ui,
                    faults: opts.faults.clone(),
                    timeouts: opts.sim,
                    ..EmbeddedOptions::default()
                },
            )
            .await
            .map_err(|e| RunError::Emulator(e.to_string()))?,
        )
    } else {
        None
    };
    let (shared_driver, shared_url) = match sign_in {
        SignInBy::Browser => {
            crate::cmd::run::start_shared_driver(&opts.webdriver, opts.browser).await?
        }
        SignInBy::Http => (None, String::new()),
    };
    let browsers = crate::engine::trust::BrowserSetup {
        new_session_timeout: crate::engine::sessions::DEFAULT_NEW_SESSION_DEADLINE,
        kind: opts.browser,
        headed: false,
        binary: shared_driver
            .as_ref()
            .map(|d| d.browser_binary().to_path_buf()),
        webdriver: opts.webdriver.clone(),
        shared_url,
    };
    let setup =
        crate::engine::trust::prepare_pass(target, target.spec.mode, embedded.as_ref(), &browsers)
            .await?;
    let start = setup
        .crm_url
        .join(&target.pages.start)
        .map_err(|e| RunError::Usage(format!("start page `{}`: {e}", target.pages.start)))?;
    let whoami = setup
        .crm_url
        .join(&target.spec.whoami)
        .map_err(|e| RunError::Usage(format!("whoami `{}`: {e}", target.spec.whoami)))?;
    let http = crate::observe::http_signin::HttpSignIn::new(&setup.http_trust)
        .map_err(|e| RunError::Target(e.to_string()))?;
    let signer = match sign_in {
        SignInBy::Http => Signer::Http(http.clone()),
        SignInBy::Browser => Signer::Browser {
            host: Arc::new(SharedBrowser::new(
                opts.sign_in_concurrency,
                setup
                    .user_drivers
                    .get(opts.user)
                    .unwrap_or(&setup.webdriver_url),
                &setup.launch,
            )),
        },
    };
    Ok(Opened {
        deployment: Deployment {
            mode: target.spec.mode,
            probe: setup.probe.clone(),
            whoami,
            start,
            pages: target.pages.clone(),
            creds,
            signer,
            keep_signed_in: opts.keep_signed_in,
            reentry: http,
        },
        embedded,
        shared_driver,
        resources: setup.resources,
    })
}

/// The deployment as the measurement sees it.
pub(crate) struct Deployment {
    mode: AuthMode,
    pub(crate) probe: Probe,
    whoami: url::Url,
    start: url::Url,
    pages: Pages,
    pub(crate) creds: Credentials,
    signer: Signer,
    keep_signed_in: bool,
    /// Re-entries without a password go over HTTP whatever signs the sessions in: they
    /// follow redirects and the identity provider's auto-posting form, which needs no browser.
    reentry: crate::observe::http_signin::HttpSignIn,
}

enum Signer {
    Http(crate::observe::http_signin::HttpSignIn),
    Browser { host: Arc<SharedBrowser> },
}

impl Sessions for Deployment {
    async fn sign_in(&self) -> Result<Vec<JarCookie>, String> {
        match &self.signer {
            Signer::Http(http) => {
                let password = self
                    .creds
                    .password
                    .as_ref()
                    .ok_or("the target gives no password for this user")?;
                http.sign_in_with(
                    &self.start,
                    &self.pages,
                    &self.creds.username,
                    password.expose(),
                    self.keep_signed_in,
                )
                .await
                .map_err(|e| e.to_string())
            }
            Signer::Browser { host } => {
                let browser = host
                    .open()
                    .await
                    .map_err(|e| format!("cannot open a browser context: {e}"))?;
                let signed_in = crate::observe::page::sign_in_ticking(
                    &browser,
                    &self.start,
                    &self.pages,
                    &self.creds,
                    Duration::from_secs(20),
                    self.keep_signed_in,
                )
                .await;
                let jar = match signed_in {
                    Ok(crate::observe::page::Kmsi::NotOffered(why)) => Err(why),
                    Ok(_) => browser.all_cookies().await.map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                let _ = browser.close().await;
                jar
            }
        }
    }

    /// The look keeps what the answer sets, as the browser the session stands for would: a
    /// server that renews its cookie on requests (a sliding session) is measured with the
    /// cookie it renewed, not the one it issued at sign-in (issue 28).
    async fn probe(&self, cookies: &mut Vec<JarCookie>) -> Result<Probed, String> {
        let (answer, set) = self
            .probe
            .get_with_set_cookies(&self.whoami, cookies)
            .await?;
        let renewed = crate::observe::http_signin::keep_set_cookies(
            cookies,
            &self.whoami,
            &set.0,
            std::time::SystemTime::now(),
        );
        Ok(Probed { answer, renewed })
    }

    fn not_signed_in_hint(&self) -> &'static str {
        not_signed_in_hint(self.mode)
    }

    /// The cookies the application gets at `whoami` are left out (its session), and what is
    /// left (the identity provider's) opens the start page with no password.
    async fn reenter(&self, cookies: &[JarCookie]) -> Result<Reentry, String> {
        let without_app: Vec<JarCookie> = cookies
            .iter()
            .filter(|c| !c.applies_to(&self.whoami))
            .cloned()
            .collect();
        self.reentry
            .reenter(&self.start, &self.pages, &without_app)
            .await
            .map_err(|e| e.to_string())
    }
}

/// What the console says when the measured value is not declared: which value is missing, and
/// the other one if that is declared (it judges another measurement, `--absolute` or not).
fn not_declared(what: What, declared: Declared) -> String {
    let secs = |s: f64| fmt_duration(Duration::from_secs_f64(s));
    let (missing, other) = match what {
        What::Idle => (
            "timeouts.idle",
            declared.absolute_s.map(|s| {
                (
                    "timeouts.absolute",
                    secs(s),
                    "the session length, measured with --absolute",
                )
            }),
        ),
        What::SessionLength => (
            "timeouts.absolute",
            declared.idle_s.map(|s| {
                (
                    "timeouts.idle",
                    secs(s),
                    "the idle timeout, measured without --absolute",
                )
            }),
        ),
    };
    match other {
        Some((key, value, judges)) => format!(
            "{missing} is not declared in the target: nothing to judge the {what} against \
             ({key} is declared, {value}: it judges {judges})\n"
        ),
        None => format!(
            "no value is declared in the target (neither timeouts.idle nor timeouts.absolute): \
             nothing to judge the {what} against\n"
        ),
    }
}

/// The console's account of a report: the finding, the verdict, where to change the value.
pub fn describe(report: &TimeoutReport) -> String {
    let mut out = format!("{}\n", report.finding);
    match (&report.verdict, report.configured_s) {
        (Some(v), Some(c)) => out.push_str(&format!(
            "{} against the configured {}: {} (expected {}, rule {}, {})\n",
            if v.passed { "HELD" } else { "VIOLATED" },
            fmt_duration(Duration::from_secs_f64(c)),
            v.observed,
            v.expected,
            v.rule,
            v.requirements.join(", ")
        )),
        (None, Some(_)) => out.push_str("the policy does not judge this value\n"),
        _ => out.push_str(&not_declared(report.finding.what, report.declared)),
    }
    if let Some(v) = &report.verdict {
        if let Some(cause) = &v.likely_cause {
            out.push_str(&format!("  likely cause: {cause}\n"));
        }
        for fix in &v.fix {
            out.push_str(&format!("  fix: {fix}\n"));
        }
    }
    for e in &report.finding.evidence {
        out.push_str(&format!("  evidence: {e}\n"));
    }
    out.push_str(&format!(
        "{} sessions signed in by {} in {} (the longest sign-in {}), {} looks, {} in all\n",
        report.finding.sessions,
        match report.sign_in {
            SignInBy::Http => "HTTP",
            SignInBy::Browser => "browser",
        },
        fmt_duration(Duration::from_secs_f64(report.finding.sign_in_s)),
        fmt_duration(Duration::from_secs_f64(report.finding.longest_sign_in_s)),
        report.finding.probes,
        fmt_duration(Duration::from_secs_f64(report.finding.elapsed_s)),
    ));
    out.push_str("where it is configured:\n");
    for w in &report.where_configured {
        out.push_str(&format!("  - {w}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 28: a target declaring only `timeouts.absolute` is not told "no value is declared"
    /// about its idle timeout; it is told which value is missing and what the declared one judges.
    #[test]
    fn a_missing_value_is_named_and_the_declared_one_too() {
        let only_absolute = Declared {
            idle_s: None,
            absolute_s: Some(86_400.0),
        };
        let said = not_declared(What::Idle, only_absolute);
        assert!(!said.contains("no value is declared"), "{said}");
        assert!(said.contains("timeouts.idle is not declared"), "{said}");
        assert!(
            said.contains("timeouts.absolute is declared, 24h00m00s"),
            "{said}"
        );
        assert!(said.contains("--absolute"), "{said}");
        let only_idle = Declared {
            idle_s: Some(1200.0),
            absolute_s: None,
        };
        let said = not_declared(What::SessionLength, only_idle);
        assert!(said.contains("timeouts.absolute is not declared"), "{said}");
        assert!(said.contains("timeouts.idle is declared, 20m00s"), "{said}");
        let said = not_declared(What::Idle, Declared::default());
        assert!(
            said.contains("neither timeouts.idle nor timeouts.absolute"),
            "{said}"
        );
    }

    /// Under Windows authentication the hint says why cookies alone may sign nothing in, not to
    /// check `pages.auth_cookies` as if the target file were wrong.
    #[test]
    fn the_hint_for_a_session_the_probe_does_not_see_follows_the_mode() {
        let iwa = not_signed_in_hint(AuthMode::Iwa);
        assert!(iwa.contains("Windows authentication"), "{iwa}");
        assert!(iwa.contains("cookies alone"), "{iwa}");
        for mode in [AuthMode::Ifd, AuthMode::Fba, AuthMode::Claims] {
            let hint = not_signed_in_hint(mode);
            assert!(hint.contains("`whoami`"), "{mode:?}: {hint}");
            assert!(!hint.contains("Windows"), "{mode:?}: {hint}");
        }
    }
}
