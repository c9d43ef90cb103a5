//! What `logout-harness run` was asked to do ([`RunOptions`]), and its defaults.

use super::*;

/// How long a page or an element may take before its step is not judged, unless
/// `--page-timeout` says otherwise: a sign-in through AD FS is five or so navigations, and a CRM
/// under load can take seconds for each.
pub const DEFAULT_PAGE_TIMEOUT: Duration = Duration::from_secs(20);

/// What `logout-harness run` was asked to do.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// A target file, or `None` for the embedded emulator.
    pub target: Option<PathBuf>,
    /// Modes to run against the embedded emulator (ignored for a target file, whose mode rules).
    pub modes: Vec<AuthMode>,
    /// Web clients to run against the embedded emulator, each mode once per web client that
    /// mode serves (ignored for a target file, whose `ui` rules).
    pub uis: Vec<Ui>,
    /// The policy file.
    pub policy: PathBuf,
    /// Browser family.
    pub browser: BrowserKind,
    /// A WebDriver server to use instead of starting chromedriver.
    pub webdriver: Option<String>,
    /// Show the browser window.
    pub headed: bool,
    /// Scenarios working a browser at once (scenarios waiting out a timeout do not count).
    pub concurrency: usize,
    /// With `--webdriver` at a Selenium Grid, take the concurrency from the grid's free slots for
    /// the browser (`--concurrency` not given); a plain WebDriver server keeps `concurrency`.
    pub concurrency_from_grid: bool,
    /// How long a new browser session may take before the scenario gives up on it (a grid queues
    /// requests it has no free slot for).
    pub new_session_timeout: Duration,
    /// How long a page or an element may take before its step is not judged
    /// ([`DEFAULT_PAGE_TIMEOUT`] unless `--page-timeout` says otherwise).
    pub page_timeout: Duration,
    /// How scenarios are kept apart; `None` picks [`Isolation::Context`] with the harness's
    /// own chromedriver and [`Isolation::Process`] with `--webdriver`.
    pub isolation: Option<Isolation>,
    /// A tag expression selecting scenarios.
    pub tags: Option<String>,
    /// A regex on scenario names.
    pub name: Option<String>,
    /// JUnit XML output.
    pub junit: Option<PathBuf>,
    /// JSON output.
    pub json: Option<PathBuf>,
    /// The HTML report (`--html`; by default beside `--json` with its name, else
    /// `report.html` in `--artifacts`).
    pub html: Option<PathBuf>,
    /// `--redact-hosts`: host names replaced in every report.
    pub redact_hosts: bool,
    /// Where failed scenarios leave screenshots, pages and cookie jars (`--artifacts`); by
    /// default a `logout-harness-artifacts/` folder beside the target file, or
    /// `target/logout-harness/artifacts` in the current folder for the embedded targets.
    pub artifacts: Option<PathBuf>,
    /// Emulator fault knobs.
    pub faults: Vec<crm_sim::Fault>,
    /// Feature files or directories.
    pub features: Vec<PathBuf>,
    /// Where cookie snapshots live (`--snapshots`); by default a `snapshots/` folder beside the
    /// target file, or [`RunOptions::embedded_snapshots`] for the embedded targets.
    pub snapshots: Option<PathBuf>,
    /// Where the embedded targets' snapshots live.
    pub embedded_snapshots: PathBuf,
    /// The embedded emulator's timeouts for the timeout scenarios (`--sim-idle-timeout`,
    /// `--sim-session-length`); unset ones are the target's declared values.
    pub sim_timeouts: Timeouts,
    /// The embedded emulator's access token management (`--sim-access-token-management`); unset,
    /// the target's `access_token_management` (off for the built-in targets).
    pub sim_access_token_management: Option<bool>,
    /// `--trace-knobs`: every scenario against an embedded emulator of its own, and the report
    /// lists the fault knobs each one reached ([`crate::report::KnobsReached`]).
    pub trace_knobs: bool,
    /// What a snapshot comparison may write (`--update-snapshots`: accept; else a review file
    /// outside CI, nothing in CI).
    pub snapshot_writes: crate::observe::snapshot::SnapshotWrites,
}

impl RunOptions {
    /// The defaults of `logout-harness run` with no arguments. `root` is laid out like the
    /// repository (`features/`, `fixtures/policies/`): the checkout itself, or the built-in files
    /// unpacked for the run ([`crate::config::builtin::Unpacked`]). Artifacts go under the current
    /// directory, never under `root`, which may be a temp folder removed after the run.
    pub fn defaults(root: &Path) -> RunOptions {
        RunOptions {
            target: None,
            modes: AuthMode::ALL.to_vec(),
            uis: vec![Ui::Classic],
            policy: root.join("fixtures/policies/default.yaml"),
            browser: BrowserKind::Chromium,
            webdriver: None,
            headed: false,
            concurrency: 2,
            concurrency_from_grid: false,
            new_session_timeout: crate::engine::sessions::DEFAULT_NEW_SESSION_DEADLINE,
            page_timeout: DEFAULT_PAGE_TIMEOUT,
            isolation: None,
            tags: None,
            name: None,
            junit: None,
            json: None,
            html: None,
            redact_hosts: false,
            artifacts: None,
            faults: Vec::new(),
            features: vec![root.join("features")],
            snapshots: None,
            embedded_snapshots: root.join("features/snapshots"),
            sim_timeouts: Timeouts::default(),
            sim_access_token_management: None,
            trace_knobs: false,
            snapshot_writes: crate::observe::snapshot::SnapshotWrites::Nothing,
        }
    }
}
