//! Trust and credentials of the browsers against a target that is not the embedded emulator:
//! `logout-harness sim` runs as a separate server (its own CA, its own KDC) and the harness is
//! pointed at it with a target file, as a user points it at their CRM. Real browsers, real sockets.
//!
//! - `tls.ca_file` reaches the browsers (not only the probe), and trusts exactly that CA.
//! - A certificate the browser refuses is reported as such, with the fix.
//! - `resolve:` pins host names for the browsers and the probe.
//! - In IWA mode the browser "without a Kerberos ticket" never inherits the machine's ticket, and
//!   `kerberos_ccache` gives a user their own.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::cpu;
use crate::support::processes;

use crate::support::processes::{Guarded, spawn_ready};
use logout_harness::engine::browser::{
    Browser, BrowserError, BrowserKind, Driver, LaunchOptions, Profile,
};
use logout_harness::engine::credentials::BrowserTrustStore;

/// `logout-harness sim` running on its own, with what its ready line said.
struct Sim {
    _child: Guarded,
    crm: String,
    ca_file: PathBuf,
    krb5_config: Option<String>,
    ccache: Option<String>,
}

fn harness() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_logout-harness"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

/// The harness with a temp dir of its own (profiles, drivers, trust store, KDC live under it), so
/// that what it leaves behind can be told from anyone else's.
fn isolated(tmp: &Path) -> Command {
    let mut cmd = harness();
    cmd.env("TMPDIR", tmp);
    cmd
}

/// No process started under `tmp` may outlive the test's guards. Chromium's zygotes linger a
/// moment after a clean quit, so poll before judging.
fn assert_nothing_left(tmp: &Path) {
    processes::assert_no_processes_left(tmp);
    // And no trust store, credential cache, driver or KDC dir. (Profiles are not checked here:
    // Chromium may still write a closed profile's session files while it is removed, a race of
    // the scenario steps, not of trust.)
    let dirs: Vec<String> = std::fs::read_dir(tmp)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            [
                "logout-harness-trust-",
                "logout-harness-noticket-",
                "logout-harness-driver-",
                "logout-harness-run-",
                "krb5-realm-",
            ]
            .iter()
            .any(|p| n.starts_with(p))
        })
        .collect();
    assert!(dirs.is_empty(), "temp dirs left behind: {dirs:?}");
}

fn start_sim(dir: &Path, mode: &str) -> Sim {
    start_named_sim(dir, mode, mode)
}

fn start_named_sim(dir: &Path, mode: &str, name: &str) -> Sim {
    let ca_file = dir.join(format!("sim-{name}-ca.pem"));
    let (child, line) = spawn_ready(
        isolated(dir)
            .args(["sim", "--mode", mode, "--write-ca"])
            .arg(&ca_file),
    );
    let field = |name: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .map(str::to_string)
    };
    let crm = field("crm").unwrap_or_else(|| panic!("no crm= in {line:?}"));
    assert!(ca_file.is_file(), "--write-ca wrote no file");
    Sim {
        _child: child,
        crm,
        krb5_config: field("krb5_config"),
        ccache: field("ccache"),
        ca_file,
    }
}

/// A target file for `sim`: its URL, its host names pinned to loopback, `extra` appended.
fn target_file(dir: &Path, name: &str, sim: &Sim, mode: &str, users: &str, extra: &str) -> PathBuf {
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &path,
        format!(
            "name: {name}\ncrm: {crm}\nmode: {mode}\nusers:\n{users}resolve:\n  crm.contoso.test: 127.0.0.1\n  adfs.contoso.test: 127.0.0.1\n{extra}",
            crm = sim.crm
        ),
    )
    .unwrap();
    path
}

fn password_users() -> String {
    // The emulator's accounts, their passwords handed over through the environment.
    let mut users = String::new();
    for a in crm_sim::accounts() {
        users.push_str(&format!(
            "  {0}: {{password_env: TRUST_TEST_{1}_PASSWORD}}\n",
            a.username,
            a.username.to_uppercase()
        ));
    }
    users
}

fn with_passwords(cmd: &mut Command) -> &mut Command {
    for a in crm_sim::accounts() {
        cmd.env(
            format!("TRUST_TEST_{}_PASSWORD", a.username.to_uppercase()),
            a.password,
        );
    }
    cmd
}

struct Ran {
    code: Option<i32>,
    text: String,
}

/// Runs the harness to its end (killed after `limit`), its output captured.
fn run(cmd: &mut Command, limit: Duration) -> Ran {
    let out_dir = tempfile::tempdir().unwrap();
    let stdout = std::fs::File::create(out_dir.path().join("out")).unwrap();
    let stderr = std::fs::File::create(out_dir.path().join("err")).unwrap();
    let mut child = Guarded(cmd.stdout(stdout).stderr(stderr).spawn().unwrap());
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(child);
    let text = format!(
        "{}{}",
        std::fs::read_to_string(out_dir.path().join("out")).unwrap_or_default(),
        std::fs::read_to_string(out_dir.path().join("err")).unwrap_or_default()
    );
    assert!(
        status.is_some(),
        "the run did not end within {limit:?}:\n{text}"
    );
    Ran {
        code: status.and_then(|s| s.code()),
        text,
    }
}

/// `rule -> passed` of the `--json` report.
fn verdicts(json: &Path) -> Vec<(String, bool)> {
    let text = std::fs::read_to_string(json).unwrap_or_else(|e| panic!("{}: {e}", json.display()));
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    report["verdicts"]
        .as_array()
        .expect("verdicts")
        .iter()
        .map(|v| {
            (
                v["rule"].as_str().unwrap_or_default().to_string(),
                v["passed"].as_bool().expect("passed"),
            )
        })
        .collect()
}

fn passed(verdicts: &[(String, bool)], rule: &str) -> bool {
    let of_rule: Vec<bool> = verdicts
        .iter()
        .filter(|(r, _)| r == rule)
        .map(|(_, p)| *p)
        .collect();
    assert!(!of_rule.is_empty(), "no verdict {rule} in {verdicts:?}");
    of_rule.iter().all(|p| *p)
}

/// A run over `target` with a snapshot folder of its own (recorded on this first run).
fn run_target(dir: &Path, target: &Path, tags: &str, json: &Path) -> Command {
    let mut cmd = isolated(dir);
    cmd.args(["run", "--target"])
        .arg(target)
        .args(["--tags", tags, "--update-snapshots", "--json"])
        .arg(json)
        .arg("--snapshots")
        .arg(dir.join("snapshots"))
        .arg("--artifacts")
        .arg(dir.join("artifacts"));
    with_passwords(&mut cmd);
    cmd
}

#[test]
fn with_tls_ca_file_the_browser_trusts_the_servers_ca_and_sign_out_is_judged() {
    let _cpu = cpu::take(1);
    let tmp = tempfile::tempdir().unwrap();
    let sim = start_sim(tmp.path(), "ifd");
    let ca = format!("tls:\n  ca_file: {}\n", sim.ca_file.display());
    let target = target_file(tmp.path(), "own-ca", &sim, "ifd", &password_users(), &ca);
    let json = tmp.path().join("report.json");
    let ran = run(
        &mut run_target(tmp.path(), &target, "@sign_out", &json),
        Duration::from_secs(180),
    );
    drop(sim);
    assert_nothing_left(tmp.path());
    assert_eq!(ran.code, Some(0), "{}", ran.text);
    let v = verdicts(&json);
    for rule in [
        "sign-out.signed-out-page",
        "sign-out.auth-cookies-removed",
        "sign-out.replay-refused",
    ] {
        assert!(passed(&v, rule), "{rule} in {v:?}\n{}", ran.text);
    }
}

#[test]
fn without_tls_ca_file_the_run_names_the_certificate_problem_and_the_fix() {
    let _cpu = cpu::take(1);
    let tmp = tempfile::tempdir().unwrap();
    let sim = start_sim(tmp.path(), "ifd");
    let target = target_file(tmp.path(), "no-ca", &sim, "ifd", &password_users(), "");
    let json = tmp.path().join("report.json");
    let started = Instant::now();
    let ran = run(
        &mut run_target(tmp.path(), &target, "@sign_out", &json),
        Duration::from_secs(120),
    );
    drop(sim);
    assert_nothing_left(tmp.path());
    assert_eq!(ran.code, Some(2), "{}", ran.text);
    assert!(ran.text.contains("certificate"), "{}", ran.text);
    assert!(ran.text.contains("not trusted"), "{}", ran.text);
    assert!(ran.text.contains("crm.contoso.test"), "{}", ran.text);
    assert!(ran.text.contains("tls.ca_file"), "{}", ran.text);
    assert!(!ran.text.contains("neither a sign-in form"), "{}", ran.text);
    // Said at once, not after a page timeout.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_browser_that_refuses_the_certificate_is_reported_as_a_certificate_error() {
    let _cpu = cpu::take(1);
    // The probe trusts tls.ca_file, but the browsers behind --webdriver are someone else's and
    // do not: the scenario cannot judge, and says why instead of "no sign-in form appeared".
    let tmp = tempfile::tempdir().unwrap();
    let sim = start_sim(tmp.path(), "ifd");
    let ca = format!("tls:\n  ca_file: {}\n", sim.ca_file.display());
    let target = target_file(tmp.path(), "grid", &sim, "ifd", &password_users(), &ca);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let driver = rt
        .block_on(Driver::start(&[]))
        .expect("chromedriver starts");
    let json = tmp.path().join("report.json");
    let started = Instant::now();
    let ran = run(
        run_target(tmp.path(), &target, "@sign_out", &json)
            .arg("--webdriver")
            .arg(driver.url()),
        Duration::from_secs(120),
    );
    drop(driver);
    drop(sim);
    assert_nothing_left(tmp.path());
    assert_eq!(ran.code, Some(2), "{}", ran.text);
    assert!(
        ran.text
            .contains("refused the TLS certificate of crm.contoso.test"),
        "{}",
        ran.text
    );
    assert!(
        ran.text.contains("ERR_CERT_AUTHORITY_INVALID"),
        "{}",
        ran.text
    );
    assert!(ran.text.contains("tls.ca_file"), "{}", ran.text);
    assert!(
        started.elapsed() < Duration::from_secs(18),
        "{:?}",
        started.elapsed()
    );
}

/// One browser on its own driver (with `env`), opened on `url` of `sim`; closed afterwards.
async fn open(
    env: &[(std::ffi::OsString, std::ffi::OsString)],
    url: &str,
) -> Result<(), BrowserError> {
    let driver = Driver::start(env).await.expect("chromedriver starts");
    let options = LaunchOptions {
        new_session_timeout: logout_harness::engine::sessions::DEFAULT_NEW_SESSION_DEADLINE,
        kind: BrowserKind::Chromium,
        headed: false,
        binary: Some(driver.browser_binary().to_path_buf()),
        host_rules: vec!["MAP *.contoso.test 127.0.0.1".into()],
        trusted_spki: vec![],
        negotiate_allowlist: None,
        trusted_ca_pem: vec![],
        firefox_seed: None,
    };
    let profile = Profile::new().unwrap();
    let browser = Browser::launch(driver.url(), &options, &profile, false)
        .await
        .expect("the browser starts");
    let outcome = browser.goto(url).await;
    if outcome.is_ok() {
        assert_eq!(browser.certificate_error().await.unwrap(), None);
        // The emulator's own page (its AD FS sign-in form), not an error page.
        browser
            .wait_for("#userNameInput", Duration::from_secs(20))
            .await
            .expect("the sign-in form shows");
    }
    browser.close().await.unwrap();
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_trusts_exactly_the_ca_it_is_given() {
    let _cpu = cpu::take(1);
    let tmp = tempfile::tempdir().unwrap();
    let this = start_sim(tmp.path(), "ifd");
    let other = start_named_sim(tmp.path(), "ifd", "other");
    let pem = |s: &Sim| std::fs::read_to_string(&s.ca_file).unwrap();

    let right = BrowserTrustStore::with_ca_pem(&pem(&this), &this.ca_file).unwrap();
    open(&right.env(), &this.crm)
        .await
        .expect("a browser given the server's CA opens its page");

    let refused = |r: Result<(), BrowserError>, what: &str| match r {
        Err(BrowserError::Certificate(m)) => {
            assert!(m.contains("crm.contoso.test"), "{m}");
            assert!(m.contains("ERR_CERT_AUTHORITY_INVALID"), "{m}");
            assert!(m.contains("tls.ca_file"), "{m}");
        }
        other => panic!("{what}: expected a certificate error, got {other:?}"),
    };
    refused(open(&[], &this.crm).await, "a browser given no CA");
    // Another CA, however trusted, does not vouch for this server: nothing is ignored.
    let wrong = BrowserTrustStore::with_ca_pem(&pem(&other), &other.ca_file).unwrap();
    refused(
        open(&wrong.env(), &this.crm).await,
        "a browser given another CA",
    );
}

fn iwa_sim(dir: &Path) -> Sim {
    let sim = start_sim(dir, "iwa");
    assert!(
        sim.krb5_config.is_some() && sim.ccache.is_some(),
        "the iwa sim names its KDC"
    );
    sim
}

#[test]
fn the_browser_without_a_ticket_never_gets_the_machines_ticket() {
    let _cpu = cpu::take(1);
    // The machine's own ticket is alice's (KRB5CCNAME); the no-ticket browser must not use it.
    let tmp = tempfile::tempdir().unwrap();
    let sim = iwa_sim(tmp.path());
    let extra = format!("tls:\n  ca_file: {}\n", sim.ca_file.display());
    let target = target_file(
        tmp.path(),
        "iwa-ambient",
        &sim,
        "iwa",
        "  alice: {no_password: true}\n",
        &extra,
    );
    let json = tmp.path().join("report.json");
    let ran = run(
        run_target(tmp.path(), &target, "@iwa", &json)
            .env("KRB5_CONFIG", sim.krb5_config.as_deref().unwrap())
            .env(
                "KRB5CCNAME",
                format!("FILE:{}", sim.ccache.as_deref().unwrap()),
            ),
        Duration::from_secs(180),
    );
    drop(sim);
    assert_nothing_left(tmp.path());
    let v = verdicts(&json);
    assert!(passed(&v, "iwa.no-ticket-refused"), "{v:?}\n{}", ran.text);
    // alice herself signs in with the machine's ticket.
    assert!(passed(&v, "iwa.silent-sign-in"), "{v:?}\n{}", ran.text);
    assert_eq!(ran.code, Some(0), "{}", ran.text);
}

#[test]
fn kerberos_ccache_gives_a_user_her_own_ticket() {
    let _cpu = cpu::take(1);
    // The machine holds no ticket; alice's comes from the target file's kerberos_ccache.
    let tmp = tempfile::tempdir().unwrap();
    let sim = iwa_sim(tmp.path());
    let users = format!(
        "  alice: {{no_password: true, kerberos_ccache: {}}}\n",
        sim.ccache.as_deref().unwrap()
    );
    let extra = format!("tls:\n  ca_file: {}\n", sim.ca_file.display());
    let target = target_file(tmp.path(), "iwa-ccache", &sim, "iwa", &users, &extra);
    let json = tmp.path().join("report.json");
    let ran = run(
        run_target(tmp.path(), &target, "@iwa", &json)
            .env("KRB5_CONFIG", sim.krb5_config.as_deref().unwrap())
            .env(
                "KRB5CCNAME",
                format!("FILE:{}", tmp.path().join("no-such-cache").display()),
            ),
        Duration::from_secs(180),
    );
    drop(sim);
    assert_nothing_left(tmp.path());
    let v = verdicts(&json);
    assert!(passed(&v, "iwa.silent-sign-in"), "{v:?}\n{}", ran.text);
    assert!(passed(&v, "iwa.no-ticket-refused"), "{v:?}\n{}", ran.text);
    assert_eq!(ran.code, Some(0), "{}", ran.text);
}

#[test]
fn a_bad_resolve_address_is_a_config_error_with_line_and_key() {
    let _cpu = cpu::take(1);
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("bad.yaml");
    std::fs::write(
        &target,
        "name: bad\ncrm: https://crm.contoso.test/contoso/\nmode: ifd\nusers:\n  alice: {password_env: A}\nresolve:\n  crm.contoso.test: 127.0.0.999\n",
    )
    .unwrap();
    let ran = run(
        harness().args(["check", "--target"]).arg(&target),
        Duration::from_secs(30),
    );
    assert_eq!(ran.code, Some(2), "{}", ran.text);
    assert!(ran.text.contains("bad.yaml:7"), "{}", ran.text);
    assert!(ran.text.contains("key `crm.contoso.test`"), "{}", ran.text);
    assert!(ran.text.contains("not an IP address"), "{}", ran.text);
    assert!(!ran.text.contains("panicked"), "{}", ran.text);
}
