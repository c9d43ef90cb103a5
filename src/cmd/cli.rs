//! The command line: `run`, `check`, `sim`. Exit codes: 0 every check holds; 1 the policy is
//! violated; 2 the harness could not judge (bad configuration, no browser, target unreachable).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::cmd::connect::{ConnectOptions, Found, Page};
use crate::cmd::run::{self, RunOptions};
use crate::config::duration::parse_duration;
use crate::config::target::{AuthMode, CrmLocation, Target, Ui};
use crate::engine::browser::{BrowserKind, Isolation};
use crate::engine::rundir::Unpacked;
use crate::judge::Policy;
use crate::observe::snapshot::SnapshotWrites;
use crate::report::ExitCode;

/// End-to-end logout tests for Microsoft Dynamics CRM on-premises.
#[derive(Debug, Parser)]
#[command(name = "logout-harness", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the features against a target (the embedded emulator by default) and judge them.
    Run(Box<RunArgs>),
    /// Validate a target and a policy; for a real target (or with --connect) also reach it and
    /// check the sign-in page's selectors. Runs no scenario.
    Check(CheckArgs),
    /// Measure the target's real idle timeout (or, with --absolute, session length) in about
    /// the time it takes, and judge it against the value the target declares.
    Timeout(Box<TimeoutArgs>),
    /// Measure when an administrator's change (a user disabled, sessions ended, a timeout
    /// shortened) reaches the sessions signed in before it, and judge it against --within.
    Revoke(Box<RevokeArgs>),
    /// Check, without a target, what a run will need (browser, driver and their versions, a
    /// display for --headed, the temp folder, Kerberos tools, the grid), each problem with its
    /// fix. Exit 0 or 2.
    Doctor(DoctorArgs),
    /// Run the embedded CRM emulator on its own until Ctrl-C.
    Sim(SimArgs),
    /// What changed between two runs (their --json reports, or the folders they are in):
    /// verdicts, scenarios newly not judged or not applicable, cookies per host. Exit 0 when
    /// nothing changed, 1 when something did.
    Compare(crate::cmd::compare::CompareArgs),
    /// Review and accept the cookie snapshots a run left for review, without cargo.
    Snapshots(crate::cmd::snapshots::SnapshotsArgs),
}

/// Which modes to run against the embedded emulator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ModeChoice {
    Ifd,
    Iwa,
    Fba,
    Claims,
    All,
}

/// Which web clients to run against the embedded emulator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum UiChoice {
    Classic,
    Uci,
    All,
}

/// A setting turned on or off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum OnOff {
    On,
    Off,
}

impl OnOff {
    fn on(self) -> bool {
        self == OnOff::On
    }
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// A target file, or `embedded` (the default).
    #[arg(long, value_name = "FILE|embedded")]
    target: Option<String>,
    /// Modes to run against the embedded emulator (repeat or comma-separate; `all` for every one)
    /// [default: all].
    #[arg(long, value_enum, value_delimiter = ',')]
    mode: Vec<ModeChoice>,
    /// The embedded emulator's web client: the classic web client, CRM 9.x's Unified Interface
    /// (modes ifd and iwa; CRM 4.0 has none), or `all` for each mode once per web client it
    /// serves [default: classic].
    #[arg(long, value_enum)]
    ui: Option<UiChoice>,
    /// A built-in policy by name (`default`, `strict`) or a policy file [default: default].
    #[arg(long, value_name = "NAME|FILE")]
    policy: Option<String>,
    /// Browser family.
    #[arg(long, value_enum, default_value_t = BrowserKind::Chromium)]
    browser: BrowserKind,
    /// Use this WebDriver server (e.g. a Selenium Grid) instead of starting chromedriver.
    #[arg(long, value_name = "URL")]
    webdriver: Option<String>,
    /// Show the browser window.
    #[arg(long)]
    headed: bool,
    /// Scenarios working a browser at once (scenarios waiting out a timeout run beside them)
    /// [default: 2; with --webdriver at a Selenium Grid, its free slots for the browser].
    #[arg(long, value_name = "N")]
    concurrency: Option<usize>,
    /// How long a new browser may take to start before its scenario is not judged (a Selenium
    /// Grid queues a request until a slot is free) [default: 60s].
    #[arg(long, value_parser = parse_duration, value_name = "DUR")]
    new_session_timeout: Option<Duration>,
    /// How long a page or an element may take (a sign-in through AD FS, a sign-out's redirects,
    /// a control to appear) before its step is not judged [default: 20s].
    #[arg(long, value_parser = parse_duration, value_name = "DUR")]
    page_timeout: Option<Duration>,
    /// How scenarios are kept apart: `context` gives each person a fresh browser context of a
    /// shared browser (Firefox: a user context of a Firefox serving one person at a time; a
    /// process only where a scenario needs one: reopening the browser, a Kerberos user's own
    /// ticket); `process` a browser process each. Default: `context`, or
    /// `process` with --webdriver.
    #[arg(long, value_enum, value_name = "HOW")]
    isolation: Option<Isolation>,
    /// Only scenarios matching this tag expression (e.g. `@sign_out and not @slow`).
    #[arg(long, value_name = "EXPR")]
    tags: Option<String>,
    /// Only scenarios whose name matches this regular expression.
    #[arg(long, value_name = "REGEX")]
    name: Option<String>,
    /// Write JUnit XML here (each verdict a testcase).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Write the verdicts as JSON here.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write the HTML report here (one file that opens offline). By default beside --json with
    /// its name (`r.json`: `r.html`), else `report.html` in --artifacts; neither given, none.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Where failed scenarios leave screenshots, pages and cookie jars.
    #[arg(long, value_name = "DIR")]
    artifacts: Option<PathBuf>,
    /// Replace every host name in the reports (console, JUnit, JSON, HTML) by `host-N.example`,
    /// one name per host, and leave screenshots out of the HTML: a run to hand to a vendor.
    #[arg(long)]
    redact_hosts: bool,
    /// Turn on an emulator fault (see `sim --list-faults`); repeatable.
    #[arg(long = "fault", value_name = "NAME")]
    faults: Vec<String>,
    /// For the fault matrix: run every scenario against an embedded emulator of its own, and list
    /// in the JSON report the fault knobs whose code each scenario's requests reached.
    #[arg(long)]
    trace_knobs: bool,
    /// Accept the cookies seen as the new snapshots (after reviewing an upgrade's diff).
    #[arg(long)]
    update_snapshots: bool,
    /// Where cookie snapshots live [default: for a target file, `snapshots/` beside it; for the
    /// embedded emulator, the repository's features/snapshots when run from the repository, else
    /// the built-in baseline (compared only)].
    #[arg(long, value_name = "DIR")]
    snapshots: Option<PathBuf>,
    /// The embedded emulator's inactivity timeout for the timeout scenarios (e.g. `20s`)
    /// [default: the target's `timeouts.idle`].
    #[arg(long, value_parser = parse_duration, value_name = "DUR")]
    sim_idle_timeout: Option<Duration>,
    /// The embedded emulator's maximum session length for the timeout scenarios [default: the
    /// target's `timeouts.absolute`].
    #[arg(long, value_parser = parse_duration, value_name = "DUR")]
    sim_session_length: Option<Duration>,
    /// The embedded emulator's access token management (CRM's WSFedNonceCookieEnabled; mode
    /// ifd): with it on, Sign Out ends the user's sessions in every browser. Every sign-out then
    /// ends the other scenarios' sessions of the same user, so run it with --concurrency 1
    /// [default: the target's `access_token_management`, else off, as CRM ships it].
    #[arg(long, value_enum, value_name = "on|off")]
    sim_access_token_management: Option<OnOff>,
    /// Feature files or directories [default: the built-in features].
    #[arg(value_name = "FEATURE_PATH")]
    features: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct TimeoutArgs {
    /// A target file, or `embedded` (the default).
    #[arg(long, value_name = "FILE|embedded")]
    target: Option<String>,
    /// The embedded emulator's mode (a target file states its own).
    #[arg(long, value_enum)]
    mode: Option<AuthMode>,
    /// Whose sessions are signed in: a user of the target.
    #[arg(long, default_value = "alice")]
    user: String,
    /// Measure the maximum session length (sessions kept busy) instead of the idle timeout.
    #[arg(long)]
    absolute: bool,
    /// The longest value looked for; a session alive then is "longer than --max" [default:
    /// twice the declared value, else 1h].
    #[arg(long, value_parser = parse_duration, value_name = "DUR")]
    max: Option<Duration>,
    /// The widest interval wanted [default: 1s up to a --max of 2m, else --max / 100].
    #[arg(long, value_parser = parse_duration, value_name = "DUR")]
    resolution: Option<Duration>,
    /// `staggered` (about the timeout's own time) or `sequential` (the classic method, for
    /// comparison).
    #[arg(long, value_enum, default_value_t = crate::cmd::timeouts::Method::Staggered)]
    method: crate::cmd::timeouts::Method,
    /// A built-in policy by name (`default`, `strict`) or a policy file [default: default].
    #[arg(long, value_name = "NAME|FILE")]
    policy: Option<String>,
    /// Write the result as JSON here (`lower_s`, `upper_s`, the verdict).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// The embedded emulator's inactivity timeout (e.g. `20s`). With either --sim-* flag the
    /// other value is CRM's default (no inactivity timeout, a 1440 min session); with neither,
    /// the built-in target's demo values (3s idle, 12s session).
    #[arg(long, value_parser = parse_duration, value_name = "DUR")]
    sim_idle_timeout: Option<Duration>,
    /// The embedded emulator's maximum session length (see --sim-idle-timeout).
    #[arg(long, value_parser = parse_duration, value_name = "DUR")]
    sim_session_length: Option<Duration>,
    /// Mode fba: the embedded emulator's forms ticket lifetime, sliding as ASP.NET's
    /// `slidingExpiration` (a request past half of it is answered with a new ticket; see
    /// --sim-idle-timeout for the other values).
    #[arg(long, value_parser = parse_duration, value_name = "DUR")]
    sim_forms_ticket: Option<Duration>,
    /// With --sim-forms-ticket: never renewed (`slidingExpiration="false"`), a fixed length.
    #[arg(long, requires = "sim_forms_ticket")]
    sim_forms_ticket_fixed: bool,
    #[command(flatten)]
    sign_in: SessionArgs,
}

#[derive(Debug, clap::Args)]
struct RevokeArgs {
    /// The change: an administrator action of the target file's `admin:` (end_sessions,
    /// deactivate_user, disable_in_directory, set_session_length, set_idle_timeout,
    /// persistent_sso_cutoff; the embedded emulator has them all), or `manual` (you make it and
    /// press Enter).
    #[arg(long, value_name = "ACTION|manual")]
    change: String,
    /// The value a set_* action sets (its `{value}`, e.g. `5m`).
    #[arg(long, value_name = "VALUE")]
    value: Option<String>,
    /// A target file, or `embedded` (the default).
    #[arg(long, value_name = "FILE|embedded")]
    target: Option<String>,
    /// The embedded emulator's mode (a target file states its own).
    #[arg(long, value_enum)]
    mode: Option<AuthMode>,
    /// Whose sessions are signed in, and whom the change is about: a user of the target.
    #[arg(long, default_value = "alice")]
    user: String,
    /// Sessions signed in before the change.
    #[arg(long, default_value_t = 3)]
    sessions: usize,
    /// What a look asks: `application` (its session, with the session's cookies),
    /// `identity-provider` (does it sign the user in again without a password), or `access`
    /// (the application, then the identity provider) [default: application for set_*,
    /// identity-provider for persistent_sso_cutoff, access otherwise].
    #[arg(long, value_name = "WHAT", value_parser = parse_ask)]
    ask: Option<crate::observe::revoke::Ask>,
    /// Sign the sessions in with "Keep me signed in" ticked (pages.kmsi); always so for
    /// persistent_sso_cutoff.
    #[arg(long)]
    keep_signed_in: bool,
    /// How soon after the change every session must be refused (e.g. `0s`, `5m`); without it
    /// the change is measured and not judged.
    #[arg(long, value_parser = parse_duration, value_name = "DUR")]
    within: Option<Duration>,
    /// How long after the change the sessions are looked at [default: twice --within, at
    /// least 10s more; else 1m].
    #[arg(long, value_parser = parse_duration, value_name = "DUR")]
    max: Option<Duration>,
    /// Time between two looks at a session: the widest interval wanted.
    #[arg(long, value_parser = parse_duration, value_name = "DUR", default_value = "1s")]
    resolution: Duration,
    /// A built-in policy by name (`default`, `strict`) or a policy file [default: default].
    #[arg(long, value_name = "NAME|FILE")]
    policy: Option<String>,
    /// Write the result as JSON here.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// The embedded emulator's inactivity timeout [default: none, as CRM ships].
    #[arg(long, value_parser = parse_duration, value_name = "DUR")]
    sim_idle_timeout: Option<Duration>,
    /// The embedded emulator's maximum session length [default: 1440 min, as CRM ships].
    #[arg(long, value_parser = parse_duration, value_name = "DUR")]
    sim_session_length: Option<Duration>,
    #[command(flatten)]
    sign_in: SessionArgs,
}

#[derive(Debug, clap::Args)]
struct DoctorArgs {
    /// The browser family the run will use.
    #[arg(long, value_enum, default_value_t = BrowserKind::Chromium)]
    browser: BrowserKind,
    /// The WebDriver server (a Selenium Grid) the run will use instead of starting a driver.
    #[arg(long, value_name = "URL")]
    webdriver: Option<String>,
    /// The run will show its browser.
    #[arg(long)]
    headed: bool,
    /// The modes the run will use [default: all of them, as `run` does].
    #[arg(long, value_enum)]
    mode: Vec<AuthMode>,
}

/// How `timeout` and `revoke` sign their sessions in, and the emulator's knobs.
#[derive(Debug, clap::Args)]
struct SessionArgs {
    /// Browser family (for a target that signs in by browser).
    #[arg(long, value_enum, default_value_t = BrowserKind::Chromium)]
    browser: BrowserKind,
    /// Use this WebDriver server instead of starting chromedriver.
    #[arg(long, value_name = "URL")]
    webdriver: Option<String>,
    /// Turn on an emulator fault (see `sim --list-faults`); repeatable.
    #[arg(long = "fault", value_name = "NAME")]
    faults: Vec<String>,
}

#[derive(Debug, clap::Args)]
struct CheckArgs {
    /// A target file, or `embedded` (the default).
    #[arg(long, value_name = "FILE|embedded")]
    target: Option<String>,
    /// The embedded emulator's mode to check (a target file states its own).
    #[arg(long, value_enum)]
    mode: Option<AuthMode>,
    /// A built-in policy by name (`default`, `strict`) or a policy file [default: default].
    #[arg(long, value_name = "NAME|FILE")]
    policy: Option<String>,
    /// Reach the target and check the sign-in page's selectors in a browser (the default for a
    /// real target; for the embedded emulator it starts one). With alice's password, also sign
    /// in once and propose the target file's keys.
    #[arg(long, conflicts_with = "offline")]
    connect: bool,
    /// Only validate the files; do not contact the target.
    #[arg(long)]
    offline: bool,
    /// Browser family (for --connect).
    #[arg(long, value_enum, default_value_t = BrowserKind::Chromium)]
    browser: BrowserKind,
    /// Use this WebDriver server instead of starting chromedriver (for --connect).
    #[arg(long, value_name = "URL")]
    webdriver: Option<String>,
    /// How long the sign-in page may take to load (for --connect) [default: 20s].
    #[arg(long, value_parser = parse_duration, value_name = "DUR")]
    page_timeout: Option<Duration>,
}

#[derive(Debug, clap::Args)]
struct SimArgs {
    /// Authentication mode.
    #[arg(long, value_enum, default_value_t = AuthMode::Ifd)]
    mode: AuthMode,
    /// The web client served after sign-in (uci: CRM 9.x's Unified Interface, modes ifd and iwa).
    #[arg(long, value_enum, default_value_t = Ui::Classic)]
    ui: Ui,
    /// Turn on a fault knob; repeatable.
    #[arg(long = "fault", value_name = "NAME")]
    faults: Vec<String>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
    /// Inactivity timeout (CRM's InactivityTimeoutInMins), e.g. `30m`, `20s`; off by default.
    #[arg(long, value_parser = parse_duration, value_name = "DUR")]
    idle_timeout: Option<Duration>,
    /// Maximum session length (CRM's SessionTimeoutInMins), e.g. `1440m`.
    #[arg(long, value_parser = parse_duration, value_name = "DUR")]
    session_timeout: Option<Duration>,
    /// Mode fba: the forms ticket's lifetime, sliding as ASP.NET's `slidingExpiration` (a request
    /// past half of it is answered with a new ticket); off by default.
    #[arg(long, value_parser = parse_duration, value_name = "DUR")]
    forms_ticket: Option<Duration>,
    /// With --forms-ticket: never renewed (`slidingExpiration="false"`), a fixed length.
    #[arg(long, requires = "forms_ticket")]
    forms_ticket_fixed: bool,
    /// Host-based organization URL (https://contoso.crm.contoso.test:PORT/).
    #[arg(long)]
    host_based: bool,
    /// CRM's access token management (WSFedNonceCookieEnabled; mode ifd): a nonce binds each
    /// sign-in to its browser, and Sign Out ends the user's sessions in every browser. Off by
    /// default, as CRM ships it.
    #[arg(long, value_enum, value_name = "on|off", default_value_t = OnOff::Off)]
    access_token_management: OnOff,
    /// List the fault knobs (name, modes, what it breaks) and exit.
    #[arg(long)]
    list_faults: bool,
    /// Write the run's CA certificate (PEM) to FILE, for a target file's `tls.ca_file`.
    #[arg(long, value_name = "FILE")]
    write_ca: Option<PathBuf>,
}

/// The repository's own snapshots folder, when the current directory is a checkout of this
/// project: the embedded targets keep their baseline there. Decided at run time only; the binary
/// holds no path of the tree it was built from.
fn repository_snapshots() -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    let manifest = std::fs::read_to_string(cwd.join("Cargo.toml")).ok()?;
    let snapshots = cwd.join("features/snapshots");
    (manifest.contains("name = \"logout-harness\"") && snapshots.is_dir()).then_some(snapshots)
}

/// The policy a `--policy` value names: a built-in one by name, else a file.
fn policy_choice(value: Option<&str>, builtin: &Unpacked) -> Result<PathBuf, String> {
    let value = value.unwrap_or("default");
    if crate::config::builtin::is_policy_name(value)
        && let Some(path) = builtin.policy(value)
    {
        return Ok(path);
    }
    let path = PathBuf::from(value);
    if !path.exists() && !value.contains(['/', '.']) {
        return Err(format!(
            "--policy `{value}`: no such file, and not a built-in policy (built-in: {}); \
             give a name or a path to a policy file",
            crate::config::builtin::policy_names().join(", ")
        ));
    }
    Ok(path)
}

fn unpack() -> Result<Unpacked, String> {
    Unpacked::new().map_err(|e| {
        format!("cannot unpack the built-in features and policies into a temp folder: {e}")
    })
}

/// What `timeout` and `revoke` settle before they start: the built-in files (kept while the
/// policy's path is in use), the policy, the target file (`None`: the embedded emulator) and the
/// emulator's knobs.
struct SessionsSetup {
    _builtin: Unpacked,
    policy: PathBuf,
    target: Option<PathBuf>,
    faults: Vec<crm_sim::Fault>,
}

fn sessions_setup(
    policy: Option<&str>,
    target: Option<&str>,
    mode: Option<AuthMode>,
    faults: &[String],
) -> Result<SessionsSetup, String> {
    let builtin = unpack()?;
    let policy = policy_choice(policy, &builtin)?;
    let target = match target {
        None | Some("embedded") => None,
        Some(_) if mode.is_some() => {
            return Err(
                "--mode chooses the embedded emulator's mode; a target file states its own `mode`"
                    .into(),
            );
        }
        Some(file) => Some(PathBuf::from(file)),
    };
    Ok(SessionsSetup {
        _builtin: builtin,
        policy,
        target,
        faults: parse_faults(faults)?,
    })
}

fn parse_faults(names: &[String]) -> Result<Vec<crm_sim::Fault>, String> {
    names
        .iter()
        .map(|n| n.parse::<crm_sim::Fault>().map_err(|e| e.to_string()))
        .collect()
}

/// Entry point of the binary: parses the command line, runs, and returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version (exit 0) or a usage error (exit 2), printed by clap.
            let _ = e.print();
            return e.exit_code();
        }
    };
    // A Selenium Grid behind basic authentication (`https://user:password@grid/`) is a
    // legitimate --webdriver: its password is a secret like the users', redacted wherever the
    // URL is written.
    let webdriver = match &cli.command {
        Command::Run(a) => a.webdriver.as_deref(),
        Command::Check(a) => a.webdriver.as_deref(),
        Command::Timeout(a) => a.sign_in.webdriver.as_deref(),
        Command::Revoke(a) => a.sign_in.webdriver.as_deref(),
        Command::Doctor(a) => a.webdriver.as_deref(),
        Command::Sim(_) | Command::Compare(_) | Command::Snapshots(_) => None,
    };
    if let Some(url) = webdriver {
        crate::config::secrets::remember_url_credentials(url);
    }
    *RELAY.lock().unwrap_or_else(|e| e.into_inner()) = StdoutRelay::start();
    let code = main_parsed(cli);
    finish_stdout();
    code
}

/// The stdout relay of this process, if one was started; taken by whoever ends the process first
/// (the end of `main`, or the signal handler, which exits without returning: hence process-wide).
static RELAY: std::sync::Mutex<Option<StdoutRelay>> = std::sync::Mutex::new(None);

/// [`crate::engine::process::install_signal_handler`] with `on_signal`, after which what is left of stdout
/// is copied out before the process exits: without it the relay's thread may not have copied
/// the last lines (a command's "interrupted: ..." report) when the handler exits, which a loaded
/// machine showed.
fn install_signal_handler(on_signal: impl Fn() + Send + Sync + 'static) {
    crate::engine::process::install_signal_handler(move || {
        on_signal();
        finish_stdout();
    });
}

/// Copies what is left of stdout before the process exits.
fn finish_stdout() {
    let relay = RELAY.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(relay) = relay {
        relay.finish();
    }
}

/// Keeps a closed stdout (`logout-harness run | head -1`) from ending the harness in a panic:
/// Rust's `println!` panics on EPIPE (exit 101), and restoring SIGPIPE's default would kill the
/// process before its Drop guards end the browsers and emulators it started. When stdout is a
/// pipe or socket, the harness's stdout becomes a private pipe that a thread copies to the real
/// one; once the reader has gone, the thread keeps draining and drops the text, so every print
/// (ours, cucumber's) succeeds, the run finishes, its reports are written and its exit code is
/// the verdict's.
struct StdoutRelay {
    done: std::sync::mpsc::Receiver<()>,
}

impl StdoutRelay {
    fn start() -> Option<StdoutRelay> {
        use std::os::fd::FromRawFd as _;
        // SAFETY: plain libc calls on file descriptors this process owns; every result is checked
        // and nothing is replaced unless all of them succeeded.
        unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            if libc::fstat(1, &mut st) != 0 {
                return None;
            }
            let kind = st.st_mode & libc::S_IFMT;
            if kind != libc::S_IFIFO && kind != libc::S_IFSOCK {
                return None;
            }
            let mut fds = [0; 2];
            if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
                return None;
            }
            let real = libc::fcntl(1, libc::F_DUPFD_CLOEXEC, 3);
            if real < 0 || libc::dup2(fds[1], 1) < 0 {
                libc::close(fds[0]);
                libc::close(fds[1]);
                if real >= 0 {
                    libc::close(real);
                }
                return None;
            }
            libc::close(fds[1]);
            let mut from = std::fs::File::from_raw_fd(fds[0]);
            let mut to = std::fs::File::from_raw_fd(real);
            let (tx, done) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                use std::io::Read as _;
                let mut open = true;
                let mut buf = [0u8; 8192];
                loop {
                    match from.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) if open => open = to.write_all(&buf[..n]).is_ok(),
                        Ok(_) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(_) => break,
                    }
                }
                let _ = tx.send(());
            });
            Some(StdoutRelay { done })
        }
    }

    /// Flushes what is left and waits (briefly) for the thread to copy it.
    fn finish(self) {
        let _ = std::io::stdout().flush();
        // Closing our end of the pipe is the thread's end of input; a child that inherited it
        // could keep it open, hence the bounded wait.
        if let Ok(null) = std::fs::File::open("/dev/null") {
            use std::os::fd::AsRawFd as _;
            // SAFETY: dup2 onto fd 1, which this process owns.
            unsafe { libc::dup2(null.as_raw_fd(), 1) };
        }
        let _ = self.done.recv_timeout(Duration::from_secs(2));
    }
}

fn main_parsed(cli: Cli) -> i32 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return 2;
        }
    };
    runtime.block_on(async move {
        match cli.command {
            Command::Run(args) => cmd_run(*args).await,
            Command::Check(args) => cmd_check(args).await,
            Command::Timeout(args) => cmd_timeout(*args).await,
            Command::Revoke(args) => cmd_revoke(*args).await,
            Command::Doctor(args) => cmd_doctor(args).await,
            Command::Sim(args) => cmd_sim(args).await,
            Command::Compare(args) => crate::cmd::compare::compare(&args),
            Command::Snapshots(args) => {
                crate::cmd::snapshots::snapshots(&args, repository_snapshots())
            }
        }
    })
}

fn fail(message: impl std::fmt::Display) -> i32 {
    // An error may quote a URL or a page that carries a known password.
    eprintln!(
        "error: {}",
        crate::config::secrets::redact_known(&message.to_string())
    );
    2
}

async fn cmd_run(args: RunArgs) -> i32 {
    // Held for the whole run: the built-in features, policies and baseline snapshots.
    let builtin = match unpack() {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    let mut opts = RunOptions::defaults(builtin.root());
    match args.target.as_deref() {
        None | Some("embedded") => {}
        Some(file) => opts.target = Some(PathBuf::from(file)),
    }
    if !args.mode.is_empty() {
        if opts.target.is_some() {
            return fail(
                "--mode chooses the embedded emulator's mode; a target file states its own `mode`",
            );
        }
        opts.modes = AuthMode::ALL
            .into_iter()
            .filter(|m| {
                args.mode.iter().any(|c| match c {
                    ModeChoice::Ifd => *m == AuthMode::Ifd,
                    ModeChoice::Iwa => *m == AuthMode::Iwa,
                    ModeChoice::Fba => *m == AuthMode::Fba,
                    ModeChoice::Claims => *m == AuthMode::Claims,
                    ModeChoice::All => true,
                })
            })
            .collect();
    }
    if let Some(ui) = args.ui {
        if opts.target.is_some() {
            return fail(
                "--ui chooses the embedded emulator's web client; a target file states its own `ui`",
            );
        }
        opts.uis = match ui {
            UiChoice::Classic => vec![Ui::Classic],
            UiChoice::Uci => vec![Ui::Uci],
            UiChoice::All => vec![Ui::Classic, Ui::Uci],
        };
        let fba_asked = args.mode.contains(&ModeChoice::Fba);
        if !Ui::Uci.serves(AuthMode::Fba) && fba_asked && !opts.uis.contains(&Ui::Classic) {
            return fail(
                "--ui uci with --mode fba: CRM 4.0 (mode fba) has no Unified Interface; choose \
                 --mode ifd or iwa, or --ui classic or all",
            );
        }
    }
    opts.policy = match policy_choice(args.policy.as_deref(), &builtin) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    opts.browser = args.browser;
    opts.webdriver = args.webdriver;
    opts.headed = args.headed;
    if args.headed
        && let Some(problem) = crate::engine::browser::kind::headed_display_problem()
    {
        return fail(problem);
    }
    opts.concurrency_from_grid = args.concurrency.is_none();
    if let Some(n) = args.concurrency {
        opts.concurrency = n;
    }
    if let Some(limit) = args.new_session_timeout {
        if limit.is_zero() {
            return fail("--new-session-timeout must be at least 1s");
        }
        opts.new_session_timeout = limit;
    }
    if let Some(limit) = args.page_timeout {
        if limit.is_zero() {
            return fail("--page-timeout must be at least 1s");
        }
        if limit > MAX_PAGE_TIMEOUT {
            return fail(
                "--page-timeout must be at most 1h (a page that takes longer never loads)",
            );
        }
        opts.page_timeout = limit;
    }
    opts.isolation = args.isolation;
    opts.tags = args.tags;
    opts.name = args.name;
    opts.html = match (&args.html, &args.json, &args.artifacts) {
        (Some(html), _, _) => Some(html.clone()),
        // Named after the JSON report, so that runs writing theirs into one folder (a
        // pipeline's matrix, the tests) never replace each other's.
        (None, Some(json), _) => Some(json.with_extension("html")),
        // Made at the end with the report if no failed scenario made it first (as artifacts are).
        (None, None, Some(dir)) => Some(dir.join("report.html")),
        (None, None, None) => None,
    };
    opts.redact_hosts = args.redact_hosts;
    opts.junit = args.junit;
    opts.json = args.json;
    opts.artifacts = args.artifacts;
    // --snapshots wins; a user's target keeps its snapshots beside the target file (run.rs); the
    // embedded targets use the repository's when run from a checkout, else the built-in baseline.
    opts.snapshots = args.snapshots;
    opts.embedded_snapshots = match repository_snapshots() {
        Some(dir) => dir,
        None if args.update_snapshots && opts.snapshots.is_none() && opts.target.is_none() => {
            return fail(
                "--update-snapshots needs --snapshots DIR here: the embedded targets' baseline is \
                 built into the binary (and kept in the repository's features/snapshots, used \
                 when run from a checkout); name a folder to record into",
            );
        }
        None => builtin.snapshots(),
    };
    opts.faults = match parse_faults(&args.faults) {
        Ok(f) => f,
        Err(e) => return fail(e),
    };
    if !args.features.is_empty() {
        opts.features = args.features;
    }
    opts.sim_timeouts = crate::engine::embedded::Timeouts {
        idle: args.sim_idle_timeout,
        absolute: args.sim_session_length,
        forms_ticket: None,
    };
    opts.sim_access_token_management = args.sim_access_token_management.map(OnOff::on);
    opts.trace_knobs = args.trace_knobs;
    opts.snapshot_writes = if args.update_snapshots {
        SnapshotWrites::Accept
    } else if is_ci() {
        SnapshotWrites::Nothing
    } else {
        SnapshotWrites::Review
    };
    install_signal_handler(crate::report::write_interrupted);
    match run::run(opts).await {
        Ok(outcome) => {
            let _ = std::io::stdout().flush();
            match outcome.exit_code {
                ExitCode::Violated => eprintln!("result: the policy is violated (exit 1)"),
                // No verdict at all, and nothing not judged: every selected check was not
                // applicable (or the policy leaves them out), which judges nothing.
                ExitCode::NotJudged if outcome.findings.errors.is_empty() => eprintln!(
                    "result: nothing was judged (exit 2): every selected scenario or check is not \
                     applicable to this target (the reasons are listed above) or left out by the \
                     policy; select others, or give the target what they need"
                ),
                ExitCode::NotJudged => eprintln!(
                    "result: some scenarios could not be judged (exit 2); see NOT JUDGED above and the artifacts"
                ),
                ExitCode::Held => eprintln!("result: every check holds (exit 0)"),
            }
            outcome.exit_code.code()
        }
        Err(e) => fail(e),
    }
}

async fn cmd_timeout(args: TimeoutArgs) -> i32 {
    use crate::observe::measure::{Record, fmt_duration};
    use crate::report::progress::{ProgressLine, bar};
    let SessionsSetup {
        _builtin,
        policy,
        target,
        faults,
    } = match sessions_setup(
        args.policy.as_deref(),
        args.target.as_deref(),
        args.mode,
        &args.sign_in.faults,
    ) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    if target.is_some() && !faults.is_empty() {
        return fail("--fault applies to the embedded emulator only, not to a target file");
    }
    let opts = crate::cmd::timeouts::TimeoutOptions {
        target,
        mode: args.mode.unwrap_or(AuthMode::Ifd),
        user: args.user,
        absolute: args.absolute,
        max: args.max,
        resolution: args.resolution,
        method: args.method,
        policy,
        json: args.json.clone(),
        sim_idle_timeout: args.sim_idle_timeout,
        sim_session_length: args.sim_session_length,
        sim_forms_ticket: forms_ticket(args.sim_forms_ticket, args.sim_forms_ticket_fixed),
        browser: args.sign_in.browser,
        webdriver: args.sign_in.webdriver,
        faults,
    };
    // Ctrl-C reports the interval known so far (and writes --json), then ends every process.
    let record: Arc<std::sync::OnceLock<Arc<Record>>> = Arc::default();
    let on_signal = {
        let record = record.clone();
        let json = args.json.clone();
        move || {
            // A handler must not panic on a closed pipe: the process would never exit.
            let _ = writeln!(std::io::stderr());
            if let Some(r) = record.get() {
                let finding = r.finding(true);
                let _ = writeln!(std::io::stdout(), "interrupted: {finding}");
                if let Some(path) = &json {
                    let _ = write_json(path, &finding);
                }
            }
        }
    };
    install_signal_handler(on_signal);
    let mut line = ProgressLine::stderr();
    let progress = |s: crate::observe::measure::Status| {
        let done = s.elapsed.as_secs_f64() / s.expected.as_secs_f64().max(0.001);
        line.show(&format!(
            "{} {} of at most {} · {}/{} signed in · {} looks · {}",
            bar(done, 20),
            fmt_duration(s.elapsed),
            fmt_duration(s.expected),
            s.signed_in,
            s.sessions,
            s.probes,
            s.known
        ));
    };
    let measured = crate::cmd::timeouts::measure_timeout(opts, progress, |r| {
        let _ = record.set(r);
    })
    .await;
    line.finish();
    let report = match measured {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    print!("{}", crate::cmd::timeouts::describe(&report));
    if let Some(path) = &args.json
        && let Err(e) = write_json(path, &report)
    {
        return fail(format!("--json {}: {e}", path.display()));
    }
    report.exit_code().code()
}

async fn cmd_doctor(args: DoctorArgs) -> i32 {
    let opts = crate::cmd::doctor::DoctorOptions {
        browser: args.browser,
        webdriver: args.webdriver,
        headed: args.headed,
        modes: if args.mode.is_empty() {
            vec![
                AuthMode::Ifd,
                AuthMode::Iwa,
                AuthMode::Fba,
                AuthMode::Claims,
            ]
        } else {
            args.mode
        },
    };
    let checks = crate::cmd::doctor::doctor(&opts).await;
    for check in &checks {
        println!(
            "{}",
            crate::config::secrets::redact_known(&check.to_string())
        );
    }
    let failed = checks.iter().filter(|c| c.problem.is_some()).count();
    if failed == 0 {
        println!("everything a run needs is here (exit 0)");
        0
    } else {
        eprintln!("{failed} problem(s): fix each as its line says (exit 2)");
        2
    }
}

async fn cmd_revoke(args: RevokeArgs) -> i32 {
    let change = match crate::cmd::revoke::Change::parse(&args.change) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let SessionsSetup {
        _builtin,
        policy,
        target,
        faults,
    } = match sessions_setup(
        args.policy.as_deref(),
        args.target.as_deref(),
        args.mode,
        &args.sign_in.faults,
    ) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    if target.is_some()
        && (!faults.is_empty()
            || args.sim_idle_timeout.is_some()
            || args.sim_session_length.is_some())
    {
        return fail(
            "--fault and --sim-* apply to the embedded emulator only, not to a target file",
        );
    }
    if let Some(path) = &args.json
        && let Err(e) = crate::report::check_writable(path)
    {
        return fail(format!("--json: {e}"));
    }
    // Ctrl-C ends the browsers and the emulator (the handler's own work), with no report.
    install_signal_handler(|| {});
    let opts = crate::cmd::revoke::RevokeOptions {
        target,
        mode: args.mode.unwrap_or(AuthMode::Ifd),
        user: args.user,
        change,
        value: args.value,
        sessions: args.sessions,
        ask: args.ask,
        keep_signed_in: args.keep_signed_in,
        within: args.within,
        max: args.max,
        resolution: args.resolution,
        policy,
        sim: crate::engine::embedded::Timeouts {
            idle: args.sim_idle_timeout,
            absolute: args.sim_session_length,
            ..Default::default()
        },
        faults,
        browser: args.sign_in.browser,
        webdriver: args.sign_in.webdriver,
    };
    let report = match crate::cmd::revoke::revoke(opts).await {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    print!("{}", crate::cmd::revoke::describe(&report));
    if let Some(path) = &args.json
        && let Err(e) = write_json(path, &report)
    {
        return fail(format!("--json {}: {e}", path.display()));
    }
    report.exit_code().code()
}

/// Writes `value` as pretty JSON to `path` whole, or not at all (a temp file renamed over it).
fn write_json(path: &std::path::Path, value: &impl serde::Serialize) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let mut tmp = tempfile::NamedTempFile::new_in(dir.unwrap_or(std::path::Path::new(".")))?;
    std::io::Write::write_all(&mut tmp, text.as_bytes())?;
    tmp.persist(path).map(drop).map_err(|e| e.error)
}

/// The longest `--page-timeout`: every wait of a step is bounded by it, and the WebDriver
/// server's own page-load timeout is set from it.
const MAX_PAGE_TIMEOUT: Duration = Duration::from_secs(3600);

async fn cmd_check(args: CheckArgs) -> i32 {
    if args.page_timeout.is_some_and(|t| t.is_zero()) {
        return fail("--page-timeout must be at least 1s");
    }
    if args.page_timeout.is_some_and(|t| t > MAX_PAGE_TIMEOUT) {
        return fail("--page-timeout must be at most 1h (a page that takes longer never loads)");
    }
    // --connect starts a browser (and, for the embedded target, the emulator): Ctrl-C ends them.
    install_signal_handler(|| {});
    let builtin = match unpack() {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    let policy_path = match policy_choice(args.policy.as_deref(), &builtin) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let target = match args.target.as_deref() {
        None | Some("embedded") => Ok(Target::embedded(args.mode.unwrap_or(AuthMode::Ifd))),
        Some(_) if args.mode.is_some() => {
            return fail(
                "--mode chooses the embedded emulator's mode; a target file states its own `mode`",
            );
        }
        Some(path) => Target::load(Path::new(path)),
    };
    let target = match target {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let policy = match Policy::load(&policy_path) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    // What a run would fail on (an unset password_env, an unreadable password_file or ca_file)
    // is exit 2 here too; the connection is still checked, so one `check` shows every problem.
    let preflight_failed = match target.preflight() {
        Ok(()) => {
            println!(
                "ok: target {} ({}; mode {}, {} user(s)); policy {} ({})",
                target.spec.name,
                target.source(),
                target.spec.mode,
                target.spec.users.len(),
                policy.name,
                builtin.label(&policy.file)
            );
            false
        }
        Err(e) => {
            eprintln!(
                "error: {}",
                crate::config::secrets::redact_known(&e.to_string())
            );
            true
        }
    };
    let real = target.spec.crm != CrmLocation::Embedded;
    if !(args.connect || (real && !args.offline)) {
        return if preflight_failed { 2 } else { 0 };
    }
    let opts = ConnectOptions {
        browser: args.browser,
        webdriver: args.webdriver,
        page_timeout: args
            .page_timeout
            .unwrap_or(crate::cmd::run::DEFAULT_PAGE_TIMEOUT),
        ..ConnectOptions::default()
    };
    let code = check_connection(&target, &opts).await;
    if preflight_failed { 2 } else { code }
}

/// `check`'s second half: reach the target and look for the sign-in form's selectors.
async fn check_connection(target: &Target, opts: &ConnectOptions) -> i32 {
    let connected = match crate::cmd::connect::check(target, opts).await {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    println!("reach: {}", connected.reached);
    match &connected.page {
        Err(e) => return fail(e),
        Ok(Page::NoForm { reason }) => println!("sign-in page: none ({reason})"),
        Ok(Page::SignIn { url, selectors }) => {
            println!("sign-in page: {url}");
            for s in selectors {
                let state = match &s.found {
                    Found::Yes => "found  ".to_string(),
                    Found::No => "MISSING".to_string(),
                    Found::Invalid(_) => "INVALID".to_string(),
                };
                println!("  {state} pages.{:<15} {}", s.key, s.selector);
            }
        }
    }
    print_proposal(target, &connected);
    let missing = connected.missing();
    let mismatch = connected.mode_mismatch(target.spec.mode);
    if target.spec.mode.kerberos() {
        return match mismatch {
            Some(m) => fail(format!("{m} (in {})", target.source())),
            None if target.spec.mode == AuthMode::Claims => {
                println!(
                    "ok: the target answers; its AD FS signs in with Windows authentication, so \
                     there is no sign-in form to check"
                );
                0
            }
            None => {
                println!("ok: the target answers and asks for Windows authentication");
                0
            }
        };
    }
    if missing.is_empty() {
        println!("ok: the target answers and its sign-in page has every configured selector");
        return 0;
    }
    if let Some(m) = mismatch {
        eprintln!("note: {m} (in {})", target.source());
    }
    let url = match &connected.page {
        Ok(Page::SignIn { url, .. }) => url.as_str(),
        _ => "",
    };
    for s in &missing {
        let why = match &s.found {
            Found::Invalid(e) => format!("is not a valid CSS selector ({e})"),
            _ => "matches nothing".to_string(),
        };
        eprintln!(
            "error: pages.{key} `{sel}` {why} on the sign-in page {url}; fix key `{key}` under `pages:` \
             in {file} (the element's id or a CSS selector that finds it; the browser's developer \
             tools show it)",
            key = s.key,
            sel = s.selector,
            file = target.source(),
        );
    }
    2
}

/// What `check --connect`'s one sign-in showed, and the target-file keys it proposes; and the
/// configured `auth_cookies` entries that matched no cookie it held.
fn print_proposal(target: &Target, connected: &crate::cmd::connect::Connected) {
    let Some(proposal) = &connected.proposal else {
        return;
    };
    let proposal = match proposal {
        Ok(p) => p,
        Err(e) => {
            println!("proposed target file: none, no sign-in as alice: {e}");
            return;
        }
    };
    print!("{}", proposal.report());
    let app_host = connected.reached.url.host_str().unwrap_or_default();
    for entry in &target.pages.auth_cookies {
        let parsed = crate::config::target::AuthCookie::parse(entry);
        // Without a host, an entry means the cookies sent to the application.
        let matched = proposal.cookies.iter().any(|c| {
            parsed.matches_name(&c.name)
                && parsed
                    .matches_host(&c.host)
                    .unwrap_or_else(|| match c.host.strip_prefix('.') {
                        Some(parent) => {
                            app_host == parent || app_host.ends_with(&format!(".{parent}"))
                        }
                        None => c.host == app_host,
                    })
        });
        if !matched {
            eprintln!(
                "warning: pages.auth_cookies entry `{entry}` in {} matches no cookie the browser \
                 held after signing in (see the cookies above)",
                target.source()
            );
        }
    }
    println!(
        "proposed target file (paste below `users:` in {}, replacing the keys it repeats):",
        target.source()
    );
    println!("---");
    let start = match &target.spec.crm {
        CrmLocation::Url(base) => connected
            .reached
            .url
            .as_str()
            .strip_prefix(base.as_str())
            .unwrap_or(&target.pages.start)
            .to_string(),
        CrmLocation::Embedded => target.pages.start.clone(),
    };
    print!("{}", proposal.fragment(app_host, &start));
    println!("---");
}

async fn cmd_sim(args: SimArgs) -> i32 {
    if args.list_faults {
        for f in crm_sim::Fault::ALL {
            let modes: Vec<String> = f.modes().iter().map(|m| m.to_string()).collect();
            println!("{}\t{}\t{}", f.name(), modes.join(","), f.description());
        }
        return 0;
    }
    let faults = match parse_faults(&args.faults) {
        Ok(f) => f,
        Err(e) => return fail(e),
    };
    let timeouts = crate::engine::embedded::Timeouts {
        idle: args.idle_timeout,
        absolute: args.session_timeout,
        forms_ticket: forms_ticket(args.forms_ticket, args.forms_ticket_fixed),
    };
    // Ctrl-C or SIGTERM: shut down in order, so the KDC ends and the temp dirs are removed. The
    // signals are taken over before anything starts: one that arrives while the emulator starts,
    // or just after the ready line, must not kill the process with the KDC and temp dirs left.
    use tokio::signal::unix::{SignalKind, signal};
    let (mut interrupt, mut terminate) = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(i), Ok(t)) => (i, t),
        (Err(e), _) | (_, Err(e)) => return fail(format!("cannot handle signals: {e}")),
    };
    if !args.ui.serves(args.mode) {
        return fail(format!(
            "--ui {} with --mode {}: CRM 4.0 (mode fba) has no Unified Interface; choose --mode \
             ifd or iwa, or --ui classic",
            args.ui, args.mode
        ));
    }
    if args.access_token_management.on() && args.mode != AuthMode::Ifd {
        return fail(format!(
            "--access-token-management on with --mode {}: CRM's access token management needs \
             claims-based authentication; choose --mode ifd",
            args.mode
        ));
    }
    let options = crate::engine::embedded::EmbeddedOptions {
        ui: args.ui,
        faults,
        timeouts,
        listen: Some(args.listen),
        host_based: args.host_based,
        access_token_management: args.access_token_management.on(),
    };
    let embedded = match crate::engine::embedded::Embedded::start(args.mode, &options).await {
        Ok(e) => e,
        Err(e) => return fail(e),
    };
    let sim = &embedded.sim;
    if let Some(path) = &args.write_ca
        && let Err(e) = std::fs::write(path, sim.ca_pem())
    {
        embedded.shutdown().await;
        return fail(format!("--write-ca {}: {e}", path.display()));
    }
    let mut ready = sim.ready_line();
    if let Some((kdc, config, ccache)) = embedded.kerberos("alice") {
        ready.push_str(&format!(
            " kdc={kdc} krb5_config={} ccache={}",
            config.display(),
            ccache.display()
        ));
    }
    println!("{ready}");
    let _ = std::io::stdout().flush();
    let admin = sim.admin_url();
    eprintln!(
        "serving until Ctrl-C. The browser needs --host-resolver-rules=\"MAP *.contoso.test {ip}\" and trusts \
         the run's certificate with --ignore-certificate-errors-spki-list={spki} (or, as a target file's \
         tls.ca_file, the CA that --write-ca FILE writes).\n\
         Administrator: list sessions with `curl -k --resolve {host}:{port}:{ip} {admin}sessions`, end all with \
         `curl -k -X POST --resolve {host}:{port}:{ip} {admin}sessions/end-all` (or `.../end?user=alice`).",
        ip = sim.addr().ip(),
        port = sim.addr().port(),
        spki = sim.spki_sha256_base64(),
        host = admin.host_str().unwrap_or_default(),
    );
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    embedded.shutdown().await;
    0
}

/// Whether this runs in CI, as insta and most CI tools decide it: `CI` set to anything but
/// `false`, `0` or nothing; or Azure Pipelines' `TF_BUILD`. In CI a difference from a snapshot
/// writes no review file.
fn is_ci() -> bool {
    match std::env::var("CI").ok().as_deref() {
        Some("false" | "0" | "") => false,
        Some(_) => true,
        None => std::env::var_os("TF_BUILD").is_some(),
    }
}

/// The emulator's forms ticket from `--sim-forms-ticket DUR [--sim-forms-ticket-fixed]` (and
/// `sim --forms-ticket`): sliding unless fixed, as ASP.NET's `slidingExpiration` defaults to true.
fn forms_ticket(timeout: Option<Duration>, fixed: bool) -> Option<crm_sim::FormsTicket> {
    timeout.map(|timeout| crm_sim::FormsTicket {
        timeout,
        sliding: !fixed,
    })
}

/// `--ask`: what a look at a session asks.
fn parse_ask(s: &str) -> Result<crate::observe::revoke::Ask, String> {
    crate::observe::revoke::Ask::parse(s).ok_or_else(|| {
        format!(
            "`{s}`: give one of {}",
            crate::observe::revoke::Ask::NAMES.join(", ")
        )
    })
}
