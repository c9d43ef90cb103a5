//! No secret is left anywhere: a unique password, planted where a careless server puts it (a
//! sign-in form that submits by GET, pages that echo it, a redirect that carries it, base64 of
//! it), appears in no file the harness writes and nowhere on its console; a `crm:` URL with
//! `user:password@` is refused without being echoed; and a run killed by SIGKILL or ended by
//! SIGHUP leaves no browser profile, driver or KDC state behind (the next start sweeps a killed
//! run's private directory).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::cpu;
use crate::support::processes;
use crate::support::processes::wait_exit;
use processes::{assert_no_processes_left as assert_no_processes, processes_using};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_logout-harness"));
    cmd.current_dir(repo());
    cmd.env("INSTA_UPDATE", "no");
    cmd
}

/// A password no other run can have, with characters that every encoding changes.
fn unique_password() -> (String, String) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let id = format!("Uq{:x}{:x}", nanos, std::process::id());
    (format!("Pw {id} &+/@x"), id)
}

/// The careless server of `fixtures/echo-signin`, killed on drop.
struct EchoServer {
    child: Child,
    url: String,
}

impl EchoServer {
    fn start() -> EchoServer {
        let mut child = Command::new("python3")
            .arg(repo().join("fixtures/echo-signin/server.py"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 (ci/setup installs it)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .strip_prefix("ready ")
            .unwrap_or_else(|| panic!("the echo server said {line:?}"))
            .trim()
            .to_string();
        EchoServer { child, url }
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn form_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b' ' => out.push('+'),
            b if b.is_ascii_alphanumeric() || b"*-._".contains(&b) => out.push(b as char),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Every form of `password` a leak could take: in clear, URL-encoded (form and `%XX`, once and
/// twice, either case), HTML-escaped, base64 of it and of `alice:` + it. `id` (the password's
/// unique alphanumeric core) is enough for every text encoding; base64 hides it, so those are
/// listed whole.
fn needles(password: &str, id: &str) -> Vec<String> {
    let mut n = vec![
        id.to_string(),
        // A secret cut short (a shortened URL) is still a leak.
        id[..10].to_string(),
        id.to_ascii_lowercase(),
        password.to_string(),
        form_encode(password),
        percent_encode(password),
        percent_encode(&form_encode(password)),
        percent_encode(&percent_encode(password)),
        password.replace('&', "&amp;"),
    ];
    for text in [password.to_string(), format!("alice:{password}")] {
        for engine in [&STANDARD, &URL_SAFE] {
            let e = engine.encode(&text);
            n.push(e.trim_end_matches('=').to_string());
            n.push(percent_encode(&e));
        }
    }
    // The part of the base64 that depends on the password alone, at each byte alignment.
    for offset in 0..3usize {
        let mut bytes = vec![b'a'; offset];
        bytes.extend_from_slice(password.as_bytes());
        let e = STANDARD.encode(&bytes);
        let skip = (offset * 8).div_ceil(6);
        let keep = bytes.len() * 8 / 6;
        n.push(e[skip..keep].to_string());
    }
    n
}

fn files_under(dir: &Path, into: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, into);
        } else {
            into.push(p);
        }
    }
}

/// Where any of `needles` occurs in `text` (named by `what`).
fn leaks(what: &str, text: &[u8], needles: &[String]) -> Vec<String> {
    let text = String::from_utf8_lossy(text);
    let mut found: Vec<String> = needles
        .iter()
        .filter(|n| text.contains(n.as_str()))
        .map(|n| format!("{what}: contains {n:?}"))
        .collect();
    // And the library's own detector, token by token (base64 inside larger values).
    let password = &needles[3];
    for token in text.split(|c: char| c.is_whitespace() || "<>\"'(),".contains(c)) {
        if let Some(how) = logout_harness::config::secrets::find_in(token, password) {
            found.push(format!("{what}: {how} in {token:?}"));
        }
    }
    found
}

#[test]
fn a_password_the_server_echoes_is_written_nowhere() {
    let _cpu = cpu::take(1);
    let server = EchoServer::start();
    let (password, id) = unique_password();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("echo.yaml");
    std::fs::write(
        &target,
        format!(
            "name: echo-signin\ncrm: {}\nmode: fba\nusers:\n  alice:\n    username: alice\n    \
             password_env: ECHO_ALICE_PASSWORD\nwhoami: whoami\npages:\n  username_input: '#user'\n  \
             password_input: '#pw'\n  submit: '#go'\n  signed_in: '#signed-in'\n  sign_out: '#signout'\n  \
             signed_out_text: '(?i)you are signed out'\n  data: '#data'\n  auth_cookies: [sid]\n",
            server.url
        ),
    )
    .unwrap();
    let out_dir = dir.path().join("out");
    // Report folders must exist before a run (it checks them first, so no report is lost).
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = bin()
        .arg("run")
        .arg("--target")
        .arg(&target)
        .arg("--artifacts")
        .arg(out_dir.join("artifacts"))
        .arg("--json")
        .arg(out_dir.join("report.json"))
        .arg("--junit")
        .arg(out_dir.join("report.xml"))
        .arg("--snapshots")
        .arg(out_dir.join("snapshots"))
        .arg("--update-snapshots")
        .arg("features/sign_out.feature")
        .env("ECHO_ALICE_PASSWORD", &password)
        .env("TMPDIR", dir.path())
        .output()
        .unwrap();
    let console = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The server keeps the session alive after sign-out: a violation, so artifacts are saved.
    assert_eq!(out.status.code(), Some(1), "{console}");
    assert!(console.contains("sign-out.replay-refused"), "{console}");

    let mut files = Vec::new();
    files_under(&out_dir, &mut files);
    let name = |s: &str| files.iter().any(|f| f.to_string_lossy().ends_with(s));
    for expected in [
        "report.json",
        "report.xml",
        "report.html",
        "alice.html",
        "probe.txt",
        "alice.png",
    ] {
        assert!(name(expected), "no {expected} in {files:?}\n{console}");
    }
    let needles = needles(&password, &id);
    let mut found = leaks("console", console.as_bytes(), &needles);
    for f in &files {
        found.extend(leaks(
            &f.display().to_string(),
            &std::fs::read(f).unwrap(),
            &needles,
        ));
    }
    assert!(
        found.is_empty(),
        "the password leaked:\n{}",
        found.join("\n")
    );

    // The paths were exercised: what the server echoed was there, and was redacted.
    let html_file = files.iter().find(|f| f.ends_with("alice.html")).unwrap();
    let html = std::fs::read_to_string(html_file).unwrap();
    assert!(
        html.contains("Your password: [redacted]"),
        "the page's echo should be redacted in place: {html}"
    );
    // The signed-out page's URL (evidence in every report) carries it too, redacted.
    let json = std::fs::read_to_string(out_dir.join("report.json")).unwrap();
    assert!(json.contains("password%3D[redacted]"), "{json}");
    let junit = std::fs::read_to_string(out_dir.join("report.xml")).unwrap();
    assert!(junit.contains("password%3D[redacted]"), "{junit}");
    // The HTML report: the same redacted evidence, the timeline's hop of the form that submitted
    // by GET without its query's values, and the one image it embeds is the blanked screenshot.
    let report = std::fs::read_to_string(out_dir.join("report.html")).unwrap();
    assert!(report.contains("password%3D[redacted]"), "{report}");
    assert!(
        report.contains("class=\"hop"),
        "no timeline in the HTML report"
    );
    let png_file = files.iter().find(|f| f.ends_with("alice.png")).unwrap();
    let embedded = format!(
        "data:image/png;base64,{}",
        STANDARD.encode(std::fs::read(png_file).unwrap())
    );
    assert_eq!(
        report.matches("data:image/png;base64,").count(),
        1,
        "one screenshot, alice's"
    );
    assert!(
        report.contains(&embedded),
        "the HTML report's image is not the blanked screenshot"
    );
    let probe_file = files.iter().find(|f| f.ends_with("probe.txt")).unwrap();
    let probe = std::fs::read_to_string(probe_file).unwrap();
    assert!(
        probe.contains("alice url: ") && probe.contains("[redacted]"),
        "the URL carries the password, redacted: {probe}"
    );
    assert!(
        probe.contains("alice screenshot: taken after"),
        "the page showed the password: it must be blanked before the screenshot: {probe}"
    );
    // No run state is left in the temp dir.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("logout-harness-"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_crm_url_with_credentials_is_refused_and_not_echoed() {
    let _cpu = cpu::take(1);
    let (password, id) = unique_password();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("creds.yaml");
    let encoded = percent_encode(&password);
    std::fs::write(
        &target,
        format!(
            "name: creds\ncrm: https://alice:{encoded}@crm.contoso.test/org/\nmode: ifd\n\
             users:\n  alice: {{password_env: X_PW}}\n"
        ),
    )
    .unwrap();
    for command in ["check", "run"] {
        let out = bin()
            .arg(command)
            .arg("--target")
            .arg(&target)
            .env("TMPDIR", dir.path())
            .output()
            .unwrap();
        let console = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(2), "{command}: {console}");
        assert!(
            console.contains("creds.yaml:2") && console.contains("user:password@"),
            "{command}: the message names the file, line and cause: {console}"
        );
        let found = leaks("console", console.as_bytes(), &needles(&password, &id));
        assert!(found.is_empty(), "{command}: {}", found.join("\n"));
        assert!(!console.contains("alice:"), "{command}: {console}");
    }
}

/// Starts an iwa run (browser, driver and KDC) under its own temp dir and waits until a browser
/// runs on its profile.
fn run_until_a_browser_is_up(tmp: &Path) -> Child {
    let mut child = bin()
        .args(["run", "--mode", "iwa"])
        .arg("--artifacts")
        .arg(tmp.join("artifacts"))
        .env("TMPDIR", tmp)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let procs = processes_using(tmp);
        if procs.iter().any(|p| p.contains("logout-harness-profile-"))
            && procs.iter().any(|p| p.contains("krb5kdc"))
        {
            return child;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before a browser started"
        );
        assert!(Instant::now() < deadline, "no browser started within 60 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Entries of `tmp` (the artifacts dir aside).
fn left_in(tmp: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(tmp)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| !p.ends_with("artifacts"))
        .collect()
}

#[test]
fn a_run_killed_by_sigkill_is_swept_by_the_next_start() {
    let _cpu = cpu::take(1);
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let mut child = run_until_a_browser_is_up(tmp.path());
    // Everything is in one private run dir.
    let left = left_in(tmp.path());
    assert_eq!(left.len(), 1, "one run dir: {left:?}");
    let run_dir = left[0].clone();
    assert!(
        run_dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("logout-harness-run-"),
        "{run_dir:?}"
    );
    let mode = std::fs::metadata(&run_dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "the run dir is private");
    let mut inside = Vec::new();
    files_under(&run_dir, &mut inside);
    let text: Vec<String> = inside.iter().map(|p| p.display().to_string()).collect();
    for part in [
        "logout-harness-profile-",
        "logout-harness-driver-",
        "krb5-realm-",
    ] {
        assert!(
            text.iter().any(|p| p.contains(part)),
            "no {part} in {text:?}"
        );
    }

    child.kill().unwrap(); // SIGKILL: no destructor, no handler runs
    child.wait().unwrap();
    // The children die with the harness (PR_SET_PDEATHSIG), but the files stay.
    assert_no_processes(tmp.path());
    assert!(run_dir.is_dir(), "a SIGKILLed run cannot clean up");

    // The next start of the harness (any command) sweeps it.
    let out = bin()
        .args(["check", "--offline"])
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let left = left_in(tmp.path());
    assert!(
        left.is_empty(),
        "the dead run's state is still there: {left:?}"
    );
}

#[test]
fn sighup_ends_a_run_like_ctrl_c() {
    let _cpu = cpu::take(1);
    let tmp = tempfile::tempdir().unwrap();
    let mut child = run_until_a_browser_is_up(tmp.path());
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    let status = wait_exit(
        &mut child,
        Duration::from_secs(15),
        "the harness did not stop on SIGHUP",
    );
    assert_eq!(status.code(), Some(129));
    assert_no_processes(tmp.path());
    let left = left_in(tmp.path());
    assert!(left.is_empty(), "temp dirs left behind: {left:?}");
}
