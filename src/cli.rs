//! The command line: `run`, `check`, `sim`. Exit codes: 0 every check holds; 1 the policy is
//! violated; 2 the harness could not judge (bad configuration, no browser, target unreachable).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::browser::BrowserKind;
use crate::policy::Policy;
use crate::run::{self, RunOptions};
use crate::target::{AuthMode, Target};

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
    /// Validate a target and a policy file; runs nothing.
    Check(CheckArgs),
    /// Run the embedded CRM emulator on its own until Ctrl-C.
    Sim(SimArgs),
}

/// Which modes to run against the embedded emulator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ModeChoice {
    Ifd,
    Iwa,
    Fba,
    All,
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
    /// The policy file [default: fixtures/policies/default.yaml].
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Browser family.
    #[arg(long, value_enum, default_value_t = BrowserKind::Chromium)]
    browser: BrowserKind,
    /// Use this WebDriver server (e.g. a Selenium Grid) instead of starting chromedriver.
    #[arg(long, value_name = "URL")]
    webdriver: Option<String>,
    /// Show the browser window.
    #[arg(long)]
    headed: bool,
    /// Scenarios at once.
    #[arg(long, default_value_t = 2)]
    concurrency: usize,
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
    /// Where failed scenarios leave screenshots, pages and cookie jars.
    #[arg(long, value_name = "DIR")]
    artifacts: Option<PathBuf>,
    /// Turn on an emulator fault (see `sim --list-faults`); repeatable.
    #[arg(long = "fault", value_name = "NAME")]
    faults: Vec<String>,
    /// Accept the cookies seen as the new snapshots (after reviewing an upgrade's diff).
    #[arg(long)]
    update_snapshots: bool,
    /// Where cookie snapshots live [default: features/snapshots].
    #[arg(long, value_name = "DIR")]
    snapshots: Option<PathBuf>,
    /// Feature files or directories [default: features/].
    #[arg(value_name = "FEATURE_PATH")]
    features: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct CheckArgs {
    /// The target file [default: the embedded emulator].
    #[arg(long, value_name = "FILE")]
    target: Option<PathBuf>,
    /// The policy file [default: fixtures/policies/default.yaml].
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct SimArgs {
    /// Authentication mode.
    #[arg(long, value_enum, default_value_t = AuthMode::Ifd)]
    mode: AuthMode,
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
    /// Host-based organization URL (https://contoso.crm.contoso.test:PORT/).
    #[arg(long)]
    host_based: bool,
    /// List the fault knobs (name, modes, what it breaks) and exit.
    #[arg(long)]
    list_faults: bool,
    /// Write the run's CA certificate (PEM) to FILE, for a target file's `tls.ca_file`.
    #[arg(long, value_name = "FILE")]
    write_ca: Option<PathBuf>,
}

/// Parses `90s`, `5m`, `2h`, `1d` or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{s}` is not a duration; write e.g. 30s, 5m, 2h"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" | "min" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("`{s}`: unit `{unit}` is not one of s, m, h, d")),
    };
    Ok(Duration::from_secs(secs))
}

/// The folder relative paths default to: the current directory when it holds `features/`, else
/// the project the binary was built from.
fn project_root() -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    if cwd.join("features").is_dir() {
        cwd
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }
}

fn parse_faults(names: &[String]) -> Result<Vec<crm_sim::Fault>, String> {
    names
        .iter()
        .map(|n| n.parse::<crm_sim::Fault>().map_err(|e| e.to_string()))
        .collect()
}

/// Entry point of the binary: parses the command line, runs, and returns the exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    if let Command::Run(args) = &cli.command
        && args.update_snapshots
    {
        // insta reads this at assertion time. Set before any thread exists, where it is sound.
        // SAFETY: single-threaded here (the runtime is built below).
        unsafe { std::env::set_var("INSTA_UPDATE", "always") };
    }
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
            Command::Check(args) => cmd_check(args),
            Command::Sim(args) => cmd_sim(args).await,
        }
    })
}

fn fail(message: impl std::fmt::Display) -> i32 {
    eprintln!("error: {message}");
    2
}

async fn cmd_run(args: RunArgs) -> i32 {
    let root = project_root();
    let mut opts = RunOptions::defaults(&root);
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
                    ModeChoice::All => true,
                })
            })
            .collect();
    }
    if let Some(p) = args.policy {
        opts.policy = p;
    }
    opts.browser = args.browser;
    opts.webdriver = args.webdriver;
    opts.headed = args.headed;
    opts.concurrency = args.concurrency;
    opts.tags = args.tags;
    opts.name = args.name;
    opts.junit = args.junit;
    opts.json = args.json;
    if let Some(a) = args.artifacts {
        opts.artifacts = a;
    }
    if let Some(s) = args.snapshots {
        opts.snapshots = s;
    }
    opts.faults = match parse_faults(&args.faults) {
        Ok(f) => f,
        Err(e) => return fail(e),
    };
    if !args.features.is_empty() {
        opts.features = args.features;
    }
    crate::process::install_signal_handler(|| {});
    match run::run(opts).await {
        Ok(outcome) => {
            let _ = std::io::stdout().flush();
            match outcome.exit_code {
                1 => eprintln!("result: the policy is violated (exit 1)"),
                2 => eprintln!(
                    "result: some scenarios could not be judged (exit 2); see NOT JUDGED above and the artifacts"
                ),
                _ => eprintln!("result: every check holds (exit 0)"),
            }
            outcome.exit_code
        }
        Err(e) => fail(e),
    }
}

fn cmd_check(args: CheckArgs) -> i32 {
    let root = project_root();
    let policy_path = args
        .policy
        .unwrap_or_else(|| root.join("fixtures/policies/default.yaml"));
    let target = match &args.target {
        Some(path) => Target::load(path),
        None => Ok(Target::embedded(AuthMode::Ifd)),
    };
    let target = match target {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let policy = match Policy::load(&policy_path) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    println!(
        "ok: target {} ({}; mode {}, {} user(s)); policy {} ({})",
        target.spec.name,
        target.source(),
        target.spec.mode,
        target.spec.users.len(),
        policy.name,
        display(&policy.file)
    );
    0
}

fn display(p: &Path) -> String {
    p.display().to_string()
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
    let timeouts = crate::embedded::Timeouts {
        idle: args.idle_timeout,
        absolute: args.session_timeout,
    };
    let embedded = match crate::embedded::Embedded::start(
        args.mode,
        &faults,
        timeouts,
        Some(args.listen),
        args.host_based,
    )
    .await
    {
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
    // Ctrl-C or SIGTERM: shut down in order, so the KDC ends and the temp dirs are removed.
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    embedded.shutdown().await;
    0
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("m").is_err());
    }
}
