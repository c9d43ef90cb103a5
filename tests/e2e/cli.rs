//! The command line as a user meets it: exit codes, configuration errors, and proof that each
//! check catches the fault it exists to catch (with the knob the scenario fails, without it passes).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::cpu;
use crate::support::loopback;
use loopback::{LoopbackServer, SIGN_IN_FORM, SIGNED_IN_PAGE};

use crate::support::harness::text;
use crate::support::processes;
use crate::support::processes::wait_exit;
use processes::{assert_no_processes_left as assert_no_leaked_processes, processes_using};

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_logout-harness"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    // Snapshots must be compared, never written, by these tests.
    cmd.env("INSTA_UPDATE", "no");
    cmd
}

fn artifacts(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/logout-harness/cli-tests");
    // Reports go into existing folders only (the run checks them first): a fresh clone has none.
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A run of the harness with a temp dir of its own, so that its processes (whose profiles, driver
/// wrapper and KDC live under it) can be told from anyone else's on the machine.
fn isolated(tmp: &Path) -> Command {
    let mut cmd = bin();
    cmd.env("TMPDIR", tmp);
    cmd
}

#[test]
fn clean_emulator_passes_and_fault_keep_server_session_fails_the_replay_check() {
    let _cpu = cpu::take(1);
    let tmp = tempfile::tempdir().unwrap();
    let clean = isolated(tmp.path())
        .args(["run", "--mode", "ifd", "--tags", "@sign_out", "--artifacts"])
        .arg(artifacts("clean"))
        .output()
        .unwrap();
    let clean_text = text(&clean);
    assert_eq!(clean.status.code(), Some(0), "{clean_text}");
    assert!(
        clean_text.contains("Verdicts: 5 held, 0 violated"),
        "{clean_text}"
    );

    let junit = artifacts("fault.xml");
    let faulty = isolated(tmp.path())
        .args([
            "run",
            "--mode",
            "ifd",
            "--tags",
            "@sign_out",
            "--fault",
            "keep-server-session",
            "--junit",
        ])
        .arg(&junit)
        .arg("--artifacts")
        .arg(artifacts("fault"))
        .output()
        .unwrap();
    let out = text(&faulty);
    assert_eq!(faulty.status.code(), Some(1), "{out}");
    let fail_line = out
        .lines()
        .find(|l| l.trim_start().starts_with("FAIL sign-out.replay-refused"))
        .unwrap_or_else(|| panic!("no failed replay verdict in:\n{out}"));
    assert!(fail_line.contains("WSTG-SESS-06"), "{fail_line}");
    assert!(fail_line.contains("ASVS-v5.0.0-7.4.1"), "{fail_line}");
    assert!(fail_line.contains("observed accepted"), "{fail_line}");
    // Under the violation: its likely cause and the fix, in this mode (CRM's access token
    // management), in the console and in JUnit.
    assert!(
        out.contains("    likely cause: The session is not ended on the server"),
        "{out}"
    );
    assert!(
        out.contains("    fix: CRM 8.2 and later: turn on access token management"),
        "{out}"
    );
    // Only the replay check owns this fault: the browser side of sign-out still looks right.
    assert!(!out.contains("FAIL sign-out.auth-cookies-removed"), "{out}");
    assert!(!out.contains("FAIL sign-out.signed-out-page"), "{out}");

    // The replay of every recorded request fails with it: no endpoint refuses the old cookies.
    assert!(out.contains("FAIL sign-out.replay-all-refused"), "{out}");

    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("failures=\"2\""), "{xml}");
    assert!(
        xml.contains("<property name=\"requirement\" value=\"ASVS-v5.0.0-7.4.1\"/>"),
        "{xml}"
    );
    assert!(
        xml.contains("[ifd, chromium] sign-out.replay-refused"),
        "{xml}"
    );
    assert!(
        xml.contains("<property name=\"likely_cause\" value=\"The session is not ended"),
        "{xml}"
    );
    assert!(
        xml.contains("<property name=\"fix\" value=\"CRM 8.2 and later")
            && xml.contains("WSFedNonceCookieEnabled"),
        "{xml}"
    );
    // A held verdict carries no cause and no fix: one per violation.
    assert_eq!(xml.matches("name=\"likely_cause\"").count(), 2, "{xml}");

    // The password never reaches any output.
    for (what, s) in [
        ("clean run", clean_text.as_str()),
        ("fault run", out.as_str()),
        ("junit", xml.as_str()),
    ] {
        assert!(
            !s.contains("Pass@word1"),
            "the password appears in the {what}"
        );
    }
    let mut stack = vec![artifacts("fault")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(s) = std::fs::read(&p) {
                assert!(
                    !String::from_utf8_lossy(&s).contains("Pass@word1"),
                    "password in {}",
                    p.display()
                );
            }
        }
    }
    assert_no_leaked_processes(tmp.path());
}

/// Observation 1 of the trust issue: a failed check must not hide the ones after it. With
/// `keep-auth-cookie` the auth-cookie check fails first; the replay check, the page check and the
/// snapshot after it are still judged, and the scenario fails once, at its end.
#[test]
fn a_failed_check_does_not_hide_the_checks_after_it() {
    let _cpu = cpu::take(1);
    let tmp = tempfile::tempdir().unwrap();
    let json = artifacts("keep-auth-cookie.json");
    let _ = std::fs::remove_file(&json);
    let out = isolated(tmp.path())
        .env("INSTA_UPDATE", "no")
        .args([
            "run",
            "--mode",
            "fba",
            "--tags",
            "@sign_out",
            "--fault",
            "keep-auth-cookie",
            "--json",
        ])
        .arg(&json)
        .arg("--artifacts")
        .arg(artifacts("keep-auth-cookie"))
        .output()
        .unwrap();
    let text = text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let judged: Vec<(String, bool)> = report["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["context"]["scenario"] == "Sign Out from the profile menu ends the session")
        .map(|v| {
            (
                v["rule"].as_str().unwrap().to_string(),
                v["passed"].as_bool().unwrap(),
            )
        })
        .collect();
    let rules: Vec<&str> = judged.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(
        rules,
        [
            "sign-out.signed-out-page",
            "sign-out.auth-cookies-removed",
            "sign-out.replay-refused",
            "sign-out.replay-all-refused",
            "sign-out.leftover-cookies"
        ],
        "every Then step is judged: {text}"
    );
    assert!(
        judged.contains(&("sign-out.auth-cookies-removed".into(), false)),
        "{judged:?}"
    );
    assert!(
        judged.contains(&("sign-out.replay-refused".into(), false)),
        "{judged:?}"
    );
    assert!(report["errors"].as_array().unwrap().is_empty(), "{text}");
    assert!(
        text.contains(
            "FAIL       \"Sign Out from the profile menu ends the session\" (fba/chromium)"
        ),
        "the scenario fails once, at its end: {text}"
    );
    assert_no_leaked_processes(tmp.path());
}

/// A scenario that cannot observe names the step that failed (from cucumber's events), not the
/// last step of the scenario: here the Sign Out control the target names does not exist.
#[test]
fn not_judged_names_the_step_that_failed() {
    let _cpu = cpu::take(1);
    let tmp = tempfile::tempdir().unwrap();
    let target = write(
        tmp.path(),
        "no-sign-out.yaml",
        "name: no-sign-out\ncrm: embedded\nmode: fba\nusers:\n  alice: {}\npages:\n  sign_out: '#no-such-control'\n",
    );
    let json = tmp.path().join("report.json");
    // The control is waited for --page-timeout (20 s unless told), then the step is not judged.
    let out = isolated(tmp.path())
        .args([
            "run",
            "--tags",
            "@sign_out",
            "--page-timeout",
            "2s",
            "--target",
        ])
        .arg(&target)
        .arg("--json")
        .arg(&json)
        .arg("--snapshots")
        .arg(tmp.path().join("snapshots"))
        .arg("--artifacts")
        .arg(artifacts("not-judged-step"))
        .output()
        .unwrap();
    let text = text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{text}");
    assert_eq!(
        errors[0]["step"], "When she signs out through the profile menu",
        "{text}"
    );
    let message = errors[0]["message"].as_str().unwrap();
    assert!(message.contains("#no-such-control"), "{text}");
    assert!(message.contains("not within 2.0s"), "{text}");
    assert!(
        text.contains("step \"When she signs out through the profile menu\""),
        "{text}"
    );
    assert_no_leaked_processes(tmp.path());
}

/// The summary's line for a scenario not judged, which names the step that could not observe.
fn not_judged_step_line(console: &str) -> &str {
    console
        .lines()
        .find(|l| l.trim_start().starts_with("NOT JUDGED") && l.contains("step \""))
        .unwrap_or_else(|| panic!("no NOT JUDGED line:\n{console}"))
}

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

#[test]
fn broken_policy_is_exit_2_with_file_line_and_key() {
    let _cpu = cpu::take(1);
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        dir.path(),
        "bad.yaml",
        "name: bad\nrules:\n  sign-out.replay-refused:\n    expect: refused\n    requirments: [WSTG-SESS-06]\n",
    );
    for cmd in ["check", "run"] {
        let out = bin()
            .arg(cmd)
            .arg("--policy")
            .arg(&policy)
            .output()
            .unwrap();
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {t}");
        assert!(
            t.contains("bad.yaml:5:5: key `requirments`: "),
            "{cmd}: {t}"
        );
        assert!(
            t.contains("rules.sign-out.replay-refused: unknown field"),
            "the path to the key: {t}"
        );
        assert!(
            t.contains("expected one of `expect`, `requirements`, `why`"),
            "{cmd}: {t}"
        );
        assert!(!t.contains("panicked"), "{t}");
    }
}

#[test]
fn broken_target_is_exit_2_with_line_number() {
    let _cpu = cpu::take(1);
    let dir = tempfile::tempdir().unwrap();
    let target = write(
        dir.path(),
        "target.yaml",
        "name: prod\ncrm: https://crm.example.com/org/\nmode: ifd\nusers:\n  alice:\n    password: hunter2\n",
    );
    let out = bin()
        .arg("check")
        .arg("--target")
        .arg(&target)
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("target.yaml:6:5: key `password`"), "{t}");
    assert!(
        !t.contains("hunter2"),
        "a secret written by mistake is echoed back: {t}"
    );

    let wrong_type = write(
        dir.path(),
        "t2.yaml",
        "name: [1, 2]\ncrm: embedded\nmode: ifd\nusers: {alice: {}}\n",
    );
    let out = bin()
        .arg("check")
        .arg("--target")
        .arg(&wrong_type)
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("t2.yaml:1:"), "{t}");

    let bad_mode = write(
        dir.path(),
        "t3.yaml",
        "name: x\ncrm: embedded\nmode: kerberos\nusers: {alice: {}}\n",
    );
    let out = bin()
        .arg("check")
        .arg("--target")
        .arg(&bad_mode)
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("t3.yaml:3:7") && t.contains("`ifd`, `iwa`, `fba`"),
        "{t}"
    );
}

#[test]
fn shipped_configuration_is_valid() {
    let _cpu = cpu::take(1);
    let out = bin()
        .args([
            "check",
            "--target",
            "fixtures/targets/embedded-ifd.yaml",
            "--policy",
            "fixtures/policies/default.yaml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn missing_files_and_unknown_faults_are_exit_2_not_panics() {
    let _cpu = cpu::take(1);
    let out = bin()
        .args(["check", "--policy", "no/such/policy.yaml"])
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("no/such/policy.yaml") && t.contains("cannot read"),
        "{t}"
    );

    let out = bin()
        .args(["run", "--fault", "no-such-knob"])
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("keep-server-session"),
        "the error lists the valid knobs: {t}"
    );

    let out = bin()
        .args(["run", "--tags", "@no_such_behaviour"])
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "selecting nothing judges nothing: {t}"
    );
    assert!(
        t.contains("no scenario") && t.contains("@no_such_behaviour"),
        "{t}"
    );
}

#[test]
fn list_faults_names_each_knob_with_its_modes() {
    let _cpu = cpu::take(1);
    let out = bin().args(["sim", "--list-faults"]).output().unwrap();
    let t = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    let first = t
        .lines()
        .find(|l| l.starts_with("keep-server-session"))
        .expect("knob listed");
    let cols: Vec<&str> = first.split('\t').collect();
    assert_eq!(cols.len(), 3, "{first}");
    assert!(cols[1].contains("ifd"), "{first}");
}

#[test]
fn sim_prints_one_ready_line_then_serves_until_interrupted() {
    let _cpu = cpu::take(1);
    use std::io::{BufRead, BufReader};
    let mut child = bin()
        .args(["sim", "--mode", "ifd"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let re = regex::Regex::new(r"^ready crm=(https://crm\.contoso\.test:\d+/contoso/) adfs=(https://adfs\.contoso\.test:\d+/\S*)\n$").unwrap();
    assert!(re.is_match(&line), "{line:?}");
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = wait_exit(
        &mut child,
        Duration::from_secs(10),
        "sim did not stop on SIGINT",
    );
    assert_eq!(status.code(), Some(0));
}

#[test]
fn ctrl_c_mid_run_ends_every_browser_driver_and_kdc() {
    let _cpu = cpu::take(1);
    let tmp = tempfile::tempdir().unwrap();
    let mut child = isolated(tmp.path())
        .args(["run", "--mode", "iwa", "--artifacts"])
        .arg(artifacts("interrupted"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Interrupt once a browser is up (and so the driver and the KDC are too).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let procs = processes_using(tmp.path());
        if procs.iter().any(|p| p.contains("logout-harness-profile-")) {
            assert!(
                procs.iter().any(|p| p.contains("krb5kdc")),
                "the iwa run should have its own KDC: {procs:?}"
            );
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before a browser started"
        );
        assert!(Instant::now() < deadline, "no browser started within 60 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = wait_exit(
        &mut child,
        Duration::from_secs(15),
        "the harness did not stop on SIGINT",
    );
    assert_eq!(status.code(), Some(130));
    assert_no_leaked_processes(tmp.path());
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "temp dirs left behind: {left:?}");
}

/// `logout-harness ... | head -1`: the reader of stdout is gone before the harness writes. Rust's
/// `println!` would panic (exit 101); the harness must end as if the text had been read.
#[test]
fn a_closed_stdout_is_no_panic() {
    let _cpu = cpu::take(1);
    for args in [
        &["sim", "--list-faults"][..],
        &["check", "--offline"][..],
        &["check", "--offline", "--policy", "strict"][..],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = bin()
            .args(args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
    }
}

/// chromedriver listens on loopback only: its WebDriver port drives a browser holding the test
/// users' sessions. Read from the kernel's socket tables, not from the driver's own claims.
#[tokio::test]
async fn chromedriver_listens_on_loopback_only() {
    let _cpu = cpu::take(1);
    let driver = logout_harness::engine::browser::Driver::start(&[])
        .await
        .unwrap();
    let port: u16 = driver.url().rsplit(':').next().unwrap().parse().unwrap();
    let mut listening = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // local_address is ADDR:PORT in hex; state 0A is LISTEN.
            let (addr, p) = cols[1].split_once(':').unwrap();
            if cols[3] == "0A" && u16::from_str_radix(p, 16).unwrap() == port {
                listening.push(addr.to_string());
            }
        }
    }
    drop(driver);
    assert!(!listening.is_empty(), "found no listener on port {port}");
    for addr in &listening {
        // 127.0.0.1 is 0100007F (little-endian); ::1 is 0...01000000 in the kernel's word order.
        let loopback = addr == "0100007F" || addr == "00000000000000000000000001000000";
        assert!(
            loopback,
            "chromedriver listens on {addr} (port {port}): {listening:?}"
        );
    }
}

/// A scenario title too long for a file name still gets its cookie snapshot (cut, with a hash);
/// a snapshot folder that cannot be made is "not judged" (exit 2) with the cause, never a
/// difference (exit 1).
#[test]
fn long_snapshot_names_are_hashed_and_snapshot_errors_are_not_judged() {
    let _cpu = cpu::take(1);
    let dir = tempfile::tempdir().unwrap();
    let feature = dir.path().join("long.feature");
    std::fs::write(
        &feature,
        format!(
            "@ifd\nFeature: Long\n  Scenario: Sign out with a title far too long {}\n    Given alice is signed in to CRM\n    When she signs out through the profile menu\n    Then the cookies left in the browser match the snapshot\n",
            "x".repeat(300)
        ),
    )
    .unwrap();
    let snaps = dir.path().join("snaps");
    let out = bin()
        .args(["run", "--mode", "ifd", "--update-snapshots", "--snapshots"])
        .arg(&snaps)
        .arg(&feature)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let names: Vec<String> = std::fs::read_dir(&snaps)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(
        names[0].len() <= 255 && names[0].ends_with(".snap"),
        "{names:?}"
    );

    let blocked = dir.path().join("a-file");
    std::fs::write(&blocked, "").unwrap();
    let out = bin()
        .args(["run", "--mode", "ifd", "--snapshots"])
        .arg(blocked.join("snaps"))
        .arg(&feature)
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("NOT JUDGED") && t.contains("snapshot folder"),
        "{t}"
    );
    assert!(!t.contains("FAIL ") && !t.contains("panicked"), "{t}");
}

/// Ctrl-C during a run: the browsers end, the exit code is 130, and the reports hold what was
/// judged until then, marked incomplete.
#[test]
fn an_interrupted_run_writes_incomplete_reports() {
    let _cpu = cpu::take(1);
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap();
    let (json, junit) = (dir.path().join("r.json"), dir.path().join("r.xml"));
    let mut child = bin()
        .args(["run", "--mode", "ifd", "--concurrency", "1", "--json"])
        .arg(&json)
        .arg("--junit")
        .arg(&junit)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The first scenario's result line: something has been judged.
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.starts_with("PASS") || l.starts_with("FAIL"));
    assert!(first.is_some(), "no scenario ended");
    // SAFETY: kill with the pid of our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}\n{rest:?}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["incomplete"], serde_json::json!(true));
    assert!(
        !report["verdicts"].as_array().unwrap().is_empty(),
        "{report}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("<property name=\"incomplete\" value=\"true\"/>"),
        "{xml}"
    );
    assert!(xml.contains("<testcase "), "{xml}");
}

/// AD FS refuses a browser that asked for more than 5 tokens within 20 s (MSIS7042). A run that
/// trips it says "could not judge" with the advice to slow down, never a violation: here a
/// CRM-only sign-out (`skip-adfs-signout`) lets AD FS sign alice straight back in four times
/// (four violations of `sso.reauthentication`), and the fifth time AD FS refuses.
#[test]
fn adfs_loop_detection_is_not_judged_never_a_violation() {
    let _cpu = cpu::take(1);
    let tmp = tempfile::tempdir().unwrap();
    let feature = tmp.path().join("loop.feature");
    let mut gherkin = String::from(
        "@ifd\nFeature: AD FS loop detection\n  Scenario: CRM-only sign-outs\n    \
         Given alice is signed in to CRM\n",
    );
    for _ in 0..6 {
        gherkin.push_str(
            "    When she signs out through the profile menu\n    \
             Then opening CRM again asks for her credentials\n",
        );
    }
    std::fs::write(&feature, gherkin).unwrap();
    let out = isolated(tmp.path())
        .args(["run", "--mode", "ifd", "--fault", "skip-adfs-signout"])
        .arg(&feature)
        .arg("--artifacts")
        .arg(artifacts("loop"))
        .output()
        .unwrap();
    let t = text(&out);
    // Violations found before the run could not go on are still violations: exit 1, not 2.
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("Verdicts: 0 held, 4 violated; 0 scenario(s) not applicable, 1 not judged"),
        "{t}"
    );
    let not_judged = not_judged_step_line(&t);
    assert!(
        not_judged.contains("could not judge: AD FS refused this browser with MSIS7042"),
        "{not_judged}"
    );
    assert!(not_judged.contains("slow down"), "{not_judged}");
}

/// A page still changing at `--page-timeout` is not judged by what it showed then: a sign-out
/// that lands on a page reloading itself every 150 ms (never settled, never saying "signed out")
/// is `NOT JUDGED` with the wait named, not a missing signed-out page.
#[test]
fn a_page_that_never_settles_is_not_judged_never_a_violation() {
    let _cpu = cpu::take(1);
    let tmp = tempfile::tempdir().unwrap();
    let server = RestlessSignOut::start();
    let target = forms_target(
        tmp.path(),
        "restless-signed-out-page",
        server.port(),
        "RESTLESS_ALICE_PASSWORD",
    );
    let feature = write(
        tmp.path(),
        "restless.feature",
        "@fba\nFeature: A signed-out page that never settles\n  Scenario: Sign Out lands on a restless page\n    \
         Given alice is signed in to CRM\n    When she signs out through the profile menu\n    \
         Then the browser shows a signed-out page\n",
    );
    let out = isolated(tmp.path())
        .args(["run", "--page-timeout", "2s", "--target"])
        .arg(&target)
        .arg(&feature)
        .arg("--snapshots")
        .arg(tmp.path().join("snapshots"))
        .arg("--artifacts")
        .arg(artifacts("restless"))
        .env("RESTLESS_ALICE_PASSWORD", "not-a-secret-of-anyone")
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        !t.contains("FAIL "),
        "a page still changing was judged: {t}"
    );
    let not_judged = not_judged_step_line(&t);
    assert!(
        not_judged.contains("step \"Then the browser shows a signed-out page\""),
        "{not_judged}"
    );
    assert!(
        not_judged.contains("could not judge: the page did not settle within 2s (--page-timeout)"),
        "{not_judged}"
    );
    assert!(
        server.signed_out_pages() > 3,
        "the page did not keep reloading: {t}"
    );
    assert_no_leaked_processes(tmp.path());
}

/// A forms application on loopback whose Sign Out lands on a page that reloads itself every
/// 150 ms under a new URL and never says "signed out". Everything else is plain: a sign-in form,
/// a session cookie the server ends at Sign Out, a `whoami` that tells a live session. Stops when
/// dropped.
struct RestlessSignOut {
    server: LoopbackServer,
    bye_served: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl RestlessSignOut {
    fn start() -> RestlessSignOut {
        use std::sync::atomic::{AtomicBool, AtomicUsize};
        let signed_in = std::sync::Arc::new(AtomicBool::new(false));
        let bye_served = std::sync::Arc::new(AtomicUsize::new(0));
        let byes = bye_served.clone();
        let server = LoopbackServer::start(move |conn| serve_restless(conn, &signed_in, &byes));
        RestlessSignOut { server, bye_served }
    }

    fn port(&self) -> u16 {
        self.server.port
    }

    fn signed_out_pages(&self) -> usize {
        self.bye_served.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// The target file of one of the tests' own forms applications ([`forms_route`]'s pages) on
/// `port`, alice's password in `password_env`; written as `<name>.yaml` in `dir`.
fn forms_target(dir: &Path, name: &str, port: u16, password_env: &str) -> std::path::PathBuf {
    write(
        dir,
        &format!("{name}.yaml"),
        &format!(
            "name: {name}\ncrm: http://127.0.0.1:{port}/\nmode: fba\n\
             users:\n  alice:\n    username: alice\n    password_env: {password_env}\n\
             whoami: whoami\npages:\n  start: app\n  username_input: '#u'\n  password_input: '#p'\n\
             \x20 submit: '#go'\n  signed_in: '#user'\n  sign_out: '#signout'\n\
             \x20 signed_out_text: '(?i)signed out'\n  data: '#data'\n  auth_cookies: [sid]\n"
        ),
    )
}

/// One request of [`RestlessSignOut`] on its own connection (`Connection: close`).
fn serve_restless(
    conn: std::net::TcpStream,
    signed_in: &std::sync::atomic::AtomicBool,
    byes: &std::sync::atomic::AtomicUsize,
) {
    use std::sync::atomic::Ordering;
    let Some(request) = loopback::Request::read(conn) else {
        return;
    };
    let live = signed_in.load(Ordering::Relaxed) && request.cookie.contains("sid=s3ss10n");
    let path = request.path();
    let (status, headers, html) = match (request.is_post(), path.as_str()) {
        (false, "/app") if live => ("200 OK", String::new(), SIGNED_IN_PAGE.to_string()),
        (false, "/app") => ("302 Found", "Location: /login\r\n".into(), String::new()),
        (false, "/login") => ("200 OK", String::new(), SIGN_IN_FORM.to_string()),
        (true, "/login") => {
            signed_in.store(true, Ordering::Relaxed);
            (
                "302 Found",
                "Location: /app\r\nSet-Cookie: sid=s3ss10n; Path=/; HttpOnly\r\n".into(),
                String::new(),
            )
        }
        (false, "/whoami") if live => ("200 OK", String::new(), "alice".into()),
        (false, "/whoami") => ("401 Unauthorized", String::new(), String::new()),
        (false, "/signout") => {
            signed_in.store(false, Ordering::Relaxed);
            (
                "302 Found",
                "Location: /bye?n=0\r\nSet-Cookie: sid=; Path=/; Max-Age=0\r\n".into(),
                String::new(),
            )
        }
        (false, p) if p.starts_with("/bye") => {
            byes.fetch_add(1, Ordering::Relaxed);
            (
                "200 OK",
                String::new(),
                "<p>One moment</p><script>setTimeout(() => \
                     location.replace('/bye?n=' + Date.now()), 150)</script>"
                    .to_string(),
            )
        }
        _ => ("404 Not Found", String::new(), String::new()),
    };
    request.answer(status, &headers, &html);
}

/// One progress line for the whole run: plain lines in a log (first and last always), redrawn
/// in place on a terminal without ever sharing a row with a scenario's result line.
#[test]
fn one_progress_line_for_the_whole_run_in_a_log_and_on_a_terminal() {
    let _cpu = cpu::take(1);
    let tmp = tempfile::tempdir().unwrap();
    // A log (stderr is a pipe), two passes (ifd and fba) and a fault that violates verdicts.
    let out = isolated(tmp.path())
        .args([
            "run",
            "--mode",
            "ifd,fba",
            "--tags",
            "@sign_out",
            "--fault",
            "keep-server-session",
        ])
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let progress: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("progress: "))
        .collect();
    // The violations the run's summary counts ("Verdicts: N held, M violated; ...").
    let fails: usize = all
        .lines()
        .find_map(|l| l.strip_prefix("Verdicts: "))
        .and_then(|l| l.split(", ").nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no summary line: {all}"));
    assert!(fails >= 1, "{all}");
    let runs = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("PASS") || l.starts_with("FAIL"))
        .count();
    assert!(
        progress.first().is_some_and(|l| l.starts_with(&format!(
            "progress: 0/{runs} scenarios, 0 violations so far"
        ))),
        "{all}"
    );
    assert!(
        progress.last().is_some_and(|l| l.starts_with(&format!(
            "progress: {runs}/{runs} scenarios, {fails} violation{} so far",
            if fails == 1 { "" } else { "s" }
        ))),
        "{all}"
    );
    assert!(
        !stderr.contains('\r'),
        "no carriage returns in a log: {all}"
    );

    // A terminal: `script` runs the harness on a pseudo-terminal and keeps what it drew.
    let typescript = tmp.path().join("typescript");
    let command = format!(
        "{} run --mode fba --tags @sign_out",
        env!("CARGO_BIN_EXE_logout-harness")
    );
    let tty = on_a_terminal(tmp.path(), &command, &typescript)
        .output()
        .unwrap();
    assert_eq!(tty.status.code(), Some(0), "{}", text(&tty));
    let drawn = std::fs::read_to_string(&typescript).unwrap();
    assert!(drawn.contains("\r\x1b[2Kprogress: 0/"), "{drawn:?}");
    assert!(
        drawn.contains("\r\x1b[2Kprogress: 1/1 scenarios"),
        "{drawn:?}"
    );
    // Every result line starts a row of its own: the progress line is cleared before it.
    for (i, row) in drawn.split('\n').enumerate() {
        if let Some(at) = row.find("PASS ") {
            assert!(
                row[..at].ends_with("\r\x1b[2K") || at == 0,
                "row {i} mixes the progress line with a result: {row:?}"
            );
        }
    }
}

/// A command line run under `script(1)` (util-linux), which gives it a pseudo-terminal and keeps
/// what it drew in `typescript`; its temp dir is `tmp`, as with [`isolated`].
fn on_a_terminal(tmp: &Path, command: &str, typescript: &Path) -> Command {
    let mut script = Command::new("script");
    script
        .args(["-q", "-e", "-c", command])
        .arg(typescript)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("INSTA_UPDATE", "no")
        .env("TMPDIR", tmp)
        .stdin(std::process::Stdio::null());
    script
}

/// Mode claims (Windows authentication at AD FS): on the clean emulator the way back in after
/// Sign Out is a new Negotiate exchange at AD FS, which the default policy accepts with a note
/// naming the fix; with `skip-adfs-signout` it is AD FS's surviving session, and exactly the two
/// claims rules fail.
#[test]
fn claims_mode_tells_windows_authentication_from_an_adfs_session_left_by_sign_out() {
    let _cpu = cpu::take(1);
    let tmp = tempfile::tempdir().unwrap();
    let run = |name: &str, fault: Option<&str>| {
        let json = tmp.path().join(format!("{name}.json"));
        let mut cmd = isolated(tmp.path());
        cmd.args(["run", "--mode", "claims", "--concurrency", "1", "--json"])
            .arg(&json)
            .arg("--artifacts")
            .arg(artifacts(name));
        if let Some(f) = fault {
            cmd.args(["--fault", f]);
        }
        let out = cmd.output().unwrap();
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        let observed: Vec<(String, String, bool)> = report["verdicts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v["rule"].as_str().unwrap().to_string(),
                    v["observed"].as_str().unwrap().to_string(),
                    v["passed"].as_bool().unwrap(),
                )
            })
            .collect();
        (out, observed)
    };
    let owned = |v: &[(&str, &str, bool)]| -> Vec<(String, String, bool)> {
        v.iter()
            .map(|(r, o, p)| (r.to_string(), o.to_string(), *p))
            .collect()
    };

    let (out, observed) = run("claims-clean", None);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert_eq!(
        observed,
        owned(&[
            ("sign-out.replay-refused", "refused", true),
            ("claims.adfs-signed-out", "ended", true),
            (
                "claims.relogin-after-sign-out",
                "windows-authentication",
                true
            ),
        ]),
        "{t}"
    );
    assert!(t.contains("NOTE: mode claims"), "{t}");
    assert!(t.contains("AuthServerAllowlist"), "{t}");

    let (out, observed) = run("claims-skip-adfs-signout", Some("skip-adfs-signout"));
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert_eq!(
        observed,
        owned(&[
            ("sign-out.replay-refused", "refused", true),
            ("claims.adfs-signed-out", "alive", false),
            ("claims.relogin-after-sign-out", "adfs-session", false),
        ]),
        "{t}"
    );
    assert!(t.contains("AD FS was never told"), "{t}");
    assert!(!t.contains("NOTE: mode claims"), "{t}");
}

/// Without `--artifacts`, a failed scenario's artifacts go beside the target file (as its
/// snapshots do), never into the folder the harness was started from, and the run names the
/// folder once at its end.
#[test]
fn artifacts_default_beside_the_target_file_and_are_named_once() {
    let _cpu = cpu::take(1);
    let tmp = tempfile::tempdir().unwrap();
    let targets = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let target = targets.path().join("embedded.yaml");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/targets/embedded-ifd.yaml"),
        &target,
    )
    .unwrap();
    // A policy that wants the opposite of what a correct sign-out does, so the run fails (a
    // fault knob is refused with a target file).
    let policy = targets.path().join("inverted.yaml");
    std::fs::write(
        &policy,
        "name: inverted\nrules:\n  sign-out.replay-refused:\n    expect: accepted\n    requirements: [WSTG-SESS-06]\n",
    )
    .unwrap();
    let out = isolated(tmp.path())
        .current_dir(cwd.path())
        .args(["run", "--tags", "@sign_out"])
        .arg("--target")
        .arg(&target)
        .arg("--policy")
        .arg(&policy)
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    let dir = targets.path().join("logout-harness-artifacts");
    let scenarios: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("no artifacts in {}: {e}\n{t}", dir.display()))
        .collect();
    assert!(!scenarios.is_empty(), "{t}");
    assert_eq!(
        std::fs::read_dir(cwd.path()).unwrap().count(),
        0,
        "the run wrote into the folder it was started from"
    );
    let named = format!("artifacts of the failed scenarios: {}", dir.display());
    assert_eq!(t.matches(&named).count(), 1, "{t}");
}

/// `auth_cookies` may name a cookie of another host (`name@host`: the identity provider's), which
/// is then checked with CRM's; an entry that matches no cookie before sign-out is named in a note
/// of every report, with the cookies each host held, never passed over in silence.
#[test]
fn auth_cookies_on_another_host_are_checked_and_unmatched_ones_are_named() {
    let _cpu = cpu::take(1);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = dir.path().join("embedded.yaml");
    let text_of_target = std::fs::read_to_string(repo.join("fixtures/targets/embedded-ifd.yaml"))
        .unwrap()
        + "pages:\n  auth_cookies: ['MSISAuth*', NoSuchCookie, 'MSISAuthenticated@adfs.contoso.test']\n";
    std::fs::write(&target, text_of_target).unwrap();
    let json = dir.path().join("r.json");
    let out = isolated(tmp.path())
        // CI: a snapshot difference writes no review file into the repository's baseline.
        .env("CI", "true")
        .args([
            "run",
            "--tags",
            "@sign_out",
            "--name",
            "Sign Out from the profile menu",
        ])
        .arg("--target")
        .arg(&target)
        .arg("--snapshots")
        .arg(repo.join("features/snapshots"))
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let notes = report["notes"].to_string();
    assert!(
        notes.contains("auth_cookies `NoSuchCookie` matched no cookie"),
        "{notes}"
    );
    assert!(
        !notes.contains("`MSISAuth*`") && !notes.contains("`MSISAuthenticated@"),
        "{notes}"
    );
    assert!(notes.contains("adfs.contoso.test: "), "{notes}");
    let removed = report["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["rule"] == "sign-out.auth-cookies-removed")
        .unwrap_or_else(|| panic!("no auth-cookie verdict: {t}"));
    let evidence = removed["evidence"].to_string();
    assert!(
        evidence.contains("MSISAuthenticated (adfs.contoso.test)"),
        "the identity provider's cookie was not checked: {evidence}"
    );
    assert!(
        t.contains("NOTE: target `embedded-ifd`: auth_cookies `NoSuchCookie`"),
        "{t}"
    );
}

/// A correct deployment whose cookies carry a new random token in their names and paths at every
/// sign-in (as identity providers' state cookies do) passes the snapshot every run after its
/// baseline: the tokens are shown as placeholders, and the cookie the server leaves and the ones
/// it sets are still compared.
#[test]
fn random_tokens_in_cookie_names_do_not_fail_the_snapshot() {
    let _cpu = cpu::take(1);
    let tmp = tempfile::tempdir().unwrap();
    let server = LoopbackServer::start(serve_random_cookies);
    let target = forms_target(
        tmp.path(),
        "random-cookie-names",
        server.port,
        "RANDOM_ALICE_PASSWORD",
    );
    let feature = write(
        tmp.path(),
        "random.feature",
        "@fba\nFeature: Random cookie names\n  Scenario: Sign out leaves the same cookies\n    \
         Given alice is signed in to CRM\n    When she signs out through the profile menu\n    \
         Then the cookies left in the browser match the snapshot\n",
    );
    let run = |extra: &[&str]| {
        let out = isolated(tmp.path())
            .args(["run", "--target"])
            .arg(&target)
            .arg(&feature)
            .args(extra)
            .arg("--snapshots")
            .arg(tmp.path().join("snapshots"))
            .arg("--artifacts")
            .arg(tmp.path().join("artifacts"))
            .env("RANDOM_ALICE_PASSWORD", "not-a-secret-of-anyone")
            .env("CI", "true")
            .output()
            .unwrap();
        (out.status.code(), text(&out))
    };
    let (code, t) = run(&["--update-snapshots"]);
    assert_eq!(code, Some(0), "the baseline: {t}");
    let snap = std::fs::read_dir(tmp.path().join("snapshots"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect::<String>();
    assert!(
        // The whole run of letters, digits, `_` and `-` is the token's placeholder: where the
        // token starts within it cannot be told reliably, and a stable name is what matters.
        snap.contains("name: '{token}'") && snap.contains("path: /flow/{token}"),
        "{snap}"
    );
    assert!(snap.contains("name: prefs"), "{snap}");
    for i in 1..=3 {
        let (code, t) = run(&[]);
        assert_eq!(code, Some(0), "run {i} after the baseline: {t}");
    }
}

/// One request of a forms application whose every sign-in sets a session cookie `sid` and a
/// state cookie named and scoped with a fresh random token; Sign Out ends the session and leaves
/// the state cookie and a persistent `prefs` cookie behind.
fn serve_random_cookies(conn: std::net::TcpStream) {
    use base64::Engine as _;
    let Some(request) = loopback::Request::read(conn) else {
        return;
    };
    // A token as identity providers make them: 16 bytes, base64url.
    let token = || {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
            .wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(nanos.to_le_bytes())
    };
    let live = request.cookie.contains("sid=live");
    let path = request.path();
    let (status, headers, html) = match (request.is_post(), path.as_str()) {
        (false, "/app") if live => ("200 OK", String::new(), SIGNED_IN_PAGE.to_string()),
        (false, "/app") => ("302 Found", "Location: /login\r\n".into(), String::new()),
        (false, "/login") => ("200 OK", String::new(), SIGN_IN_FORM.to_string()),
        (true, "/login") => (
            "302 Found",
            format!(
                "Location: /app\r\nSet-Cookie: sid=live; Path=/; HttpOnly\r\n\
                 Set-Cookie: state_{}=1; Path=/flow/{}; HttpOnly\r\n\
                 Set-Cookie: prefs=compact; Path=/; Max-Age=31536000\r\n",
                token(),
                token()
            ),
            String::new(),
        ),
        (false, "/whoami") if live => ("200 OK", String::new(), "alice".into()),
        (false, "/whoami") => ("401 Unauthorized", String::new(), String::new()),
        (false, "/signout") => (
            "302 Found",
            "Location: /bye\r\nSet-Cookie: sid=; Path=/; Max-Age=0\r\n".into(),
            String::new(),
        ),
        (false, "/bye") => ("200 OK", String::new(), "<p>You are signed out</p>".into()),
        _ => ("404 Not Found", String::new(), String::new()),
    };
    request.answer(status, &headers, &html);
}

/// After a silent re-login (Windows authentication signs the user straight back in), the
/// snapshot's evidence says which cookies sign-out left and which the browser got since, so a
/// cookie left behind is not taken for one the new sign-in set (here the remember-me cookie of
/// the fault knob, which survives sign-out unchanged).
#[test]
fn the_snapshot_after_a_silent_re_login_says_which_cookies_sign_out_left() {
    let _cpu = cpu::take(1);
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("r.json");
    let out = isolated(tmp.path())
        .env("CI", "true")
        .args([
            "run",
            "--mode",
            "iwa",
            "--fault",
            "iwa-remember-me-cookie",
            "--name",
            "After Sign Out, opening CRM again signs",
            "--json",
        ])
        .arg(&json)
        .arg("--artifacts")
        .arg(artifacts("re-login"))
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let leftover = report["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["rule"] == "sign-out.leftover-cookies")
        .unwrap_or_else(|| panic!("no snapshot verdict: {t}"));
    let evidence = leftover["evidence"].to_string();
    assert!(
        evidence.contains("as sign-out left them: IwaRememberMe (crm.contoso.test)")
            && evidence.contains("a silent sign-in): none"),
        "{evidence}"
    );
}

/// The back button's likely cause is read from where the signed-in page came from: a session
/// that survived sign-out (the page came back from the server) is not blamed on caching, and
/// cached pages are not blamed on the session.
#[test]
fn the_back_buttons_cause_follows_from_where_the_page_came_from() {
    let _cpu = cpu::take(1);
    let tmp = tempfile::tempdir().unwrap();
    let cause = |fault: &str| {
        let out = isolated(tmp.path())
            .env("CI", "true")
            .args(["run", "--mode", "ifd", "--fault", fault])
            .args([
                "--name",
                "Back after Sign Out shows no CRM data",
                "--artifacts",
            ])
            .arg(artifacts(&format!("back-{fault}")))
            .output()
            .unwrap();
        let t = text(&out);
        assert_eq!(out.status.code(), Some(1), "{fault}: {t}");
        let lines: Vec<&str> = t.lines().collect();
        let at = lines
            .iter()
            .position(|l| {
                l.trim_start()
                    .starts_with("FAIL back-button.data-after-sign-out")
            })
            .unwrap_or_else(|| panic!("{fault}: no back-button violation in:\n{t}"));
        lines[at + 1..]
            .iter()
            .find(|l| l.trim_start().starts_with("likely cause:"))
            .map(|l| l.to_string())
            .unwrap_or_else(|| panic!("{fault}: no cause in:\n{t}"))
    };
    let alive = cause("keep-auth-cookie");
    assert!(alive.contains("The session survived sign-out"), "{alive}");
    let cached = cause("cacheable-pages");
    assert!(cached.contains("stored by the browser"), "{cached}");
}

/// Reports are written to regular files only, and never over the run's own inputs: a FIFO, a
/// device, a symbolic link, the target file, a feature file, or the same path for both reports
/// is exit 2 before anything starts, and the file is left as it was. (A device node of the test's
/// own, never the machine's /dev.)
#[test]
fn reports_never_replace_a_special_file_or_the_runs_own_inputs() {
    use std::os::unix::fs::FileTypeExt as _;
    let _cpu = cpu::take(1);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fifo = dir.join("fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let link = dir.join("link.json");
    std::fs::write(dir.join("real.json"), "{}").unwrap();
    std::os::unix::fs::symlink(dir.join("real.json"), &link).unwrap();
    let device = dir.join("null");
    let has_device = Command::new("mknod")
        .arg(&device)
        .args(["c", "1", "3"])
        .status()
        .is_ok_and(|s| s.success());
    let target = dir.join("t.yaml");
    std::fs::copy(repo.join("fixtures/targets/embedded-ifd.yaml"), &target).unwrap();
    let feature = dir.join("f.feature");
    std::fs::copy(repo.join("features/sign_out.feature"), &feature).unwrap();

    let refused = |args: Vec<std::ffi::OsString>, why: &str| {
        let out = isolated(dir).arg("run").args(&args).output().unwrap();
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {t}");
        assert!(t.contains(why), "{args:?}: {t}");
    };
    let os = |s: &str| std::ffi::OsString::from(s);
    refused(
        vec![os("--json"), fifo.clone().into()],
        "not a regular file",
    );
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    refused(vec![os("--junit"), link.clone().into()], "a symbolic link");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    if has_device {
        refused(
            vec![os("--json"), device.clone().into()],
            "not a regular file",
        );
        assert!(
            std::fs::metadata(&device)
                .unwrap()
                .file_type()
                .is_char_device()
        );
    }
    let before = std::fs::read_to_string(&target).unwrap();
    refused(
        vec![
            os("--target"),
            target.clone().into(),
            os("--json"),
            target.clone().into(),
        ],
        "is the run's own target file",
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), before);
    refused(
        vec![
            os("--junit"),
            feature.clone().into(),
            feature.clone().into(),
        ],
        "is the run's own feature file",
    );
    let both = dir.join("report.out");
    refused(
        vec![
            os("--junit"),
            both.clone().into(),
            os("--json"),
            both.clone().into(),
        ],
        "both name",
    );
}

/// A `whoami` that answers 200 to everyone would make every replay "accepted": the harness
/// checks that it refuses a request without cookies, and says "fix whoami" (not judged, exit 2)
/// instead of a false `sign-out.replay-refused` violation of a sign-out that works.
#[test]
fn a_whoami_that_accepts_anyone_is_not_judged_never_a_replay_violation() {
    let _cpu = cpu::take(1);
    let tmp = tempfile::tempdir().unwrap();
    let server = LoopbackServer::start(serve_lying_whoami);
    let target = forms_target(
        tmp.path(),
        "lying-whoami",
        server.port,
        "LYING_ALICE_PASSWORD",
    );
    let json = tmp.path().join("r.json");
    let out = isolated(tmp.path())
        .args(["run", "--target"])
        .arg(&target)
        .arg("features/sign_out.feature")
        .arg("--json")
        .arg(&json)
        .arg("--artifacts")
        .arg(tmp.path().join("artifacts"))
        .arg("--snapshots")
        .arg(tmp.path().join("snapshots"))
        .arg("--update-snapshots")
        .env("LYING_ALICE_PASSWORD", "not-a-secret-of-anyone")
        .env("CI", "true")
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("answers as signed in without any cookie") && t.contains("Fix `whoami`"),
        "{t}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let violated: Vec<&serde_json::Value> = report["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["passed"] == false)
        .collect();
    assert!(violated.is_empty(), "{violated:?}\n{t}");
}

/// The forms application of [`forms_route`] with a working sign-out, but a `whoami` that
/// answers 200 to every request, signed in or not.
fn serve_lying_whoami(conn: std::net::TcpStream) {
    let Some(request) = loopback::Request::read(conn) else {
        return;
    };
    let (status, headers, html) = match (request.is_post(), request.path().as_str()) {
        (false, "/whoami") => ("200 OK", String::new(), "ok".into()),
        (false, "/signout") => (
            "302 Found",
            "Location: /bye\r\nSet-Cookie: sid=; Path=/; Max-Age=0\r\n".into(),
            String::new(),
        ),
        (false, "/bye") => ("200 OK", String::new(), "<p>You are signed out</p>".into()),
        _ => forms_route(&request, SIGNED_IN_PAGE),
    };
    request.answer(status, &headers, &html);
}

/// The routes the tests' forms applications share: `page` at /app with the session (else a
/// redirect to the sign-in form), the sign-in form, signing in (`sid=live`), a truthful
/// `whoami`, and 404 for anything else.
fn forms_route(request: &loopback::Request, page: &str) -> (&'static str, String, String) {
    let live = request.cookie.contains("sid=live");
    match (request.is_post(), request.path().as_str()) {
        (false, "/app") if live => ("200 OK", String::new(), page.to_string()),
        (false, "/app") => ("302 Found", "Location: /login\r\n".into(), String::new()),
        (false, "/login") => ("200 OK", String::new(), SIGN_IN_FORM.to_string()),
        (true, "/login") => (
            "302 Found",
            "Location: /app\r\nSet-Cookie: sid=live; Path=/; HttpOnly\r\n".into(),
            String::new(),
        ),
        (false, "/whoami") if live => ("200 OK", String::new(), "alice".into()),
        (false, "/whoami") => ("401 Unauthorized", String::new(), String::new()),
        _ => ("404 Not Found", String::new(), String::new()),
    }
}

/// `logout-harness ... 2>&1 | head -1`: both streams are a pipe nobody reads any more. Output is
/// lost, but the exit code still says what happened, never 101 (a panic on a failed write).
#[test]
fn closed_output_pipes_keep_the_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    for (args, expected) in [
        (vec!["check", "--target", "/nonexistent/target.yaml"], 2),
        (vec!["check"], 0),
        (vec!["run", "--mode", "fba", "--tags", "@no-such-tag"], 2),
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let status = isolated(tmp.path())
            .args(&args)
            .stdout(writer.try_clone().unwrap())
            .stderr(writer)
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(expected), "{args:?}");
    }
}

/// A report that cannot be written at the end (its folder gone, a full disk) leaves a found
/// violation at exit 1, with a message that the report is missing: a pipeline that treats exit 2
/// as a warning must not go green on it.
#[test]
fn a_violation_stays_exit_1_when_the_report_cannot_be_written() {
    use std::io::BufRead as _;
    let _cpu = cpu::take(1);
    let tmp = tempfile::tempdir().unwrap();
    let reports = tmp.path().join("reports");
    std::fs::create_dir(&reports).unwrap();
    let mut child = isolated(tmp.path())
        .args([
            "run",
            "--mode",
            "fba",
            "--tags",
            "@sign_out",
            "--fault",
            "keep-server-session",
            "--json",
        ])
        .arg(reports.join("r.json"))
        .arg("--artifacts")
        .arg(artifacts("report-gone"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The folder goes once the run has started (its checks of the report paths are behind it).
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap() > 0 {
        seen.push_str(&line);
        if line.starts_with("progress: ") {
            break;
        }
        line.clear();
    }
    std::fs::remove_dir_all(&reports).unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    seen.push_str(&rest);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{seen}");
    assert!(
        seen.contains("cannot write the report") && seen.contains("the report file is missing"),
        "{seen}"
    );
}

/// A sign-out request the server accepts and never answers (a hung AD FS): the step ends by the
/// page timeout plus a small margin, not by chromedriver's own five-minute page-load timeout,
/// and the scenario is not judged.
#[test]
fn a_sign_out_that_never_answers_ends_by_the_page_timeout() {
    let _cpu = cpu::take(1);
    let tmp = tempfile::tempdir().unwrap();
    let server = LoopbackServer::start(serve_hung_sign_out);
    let target = forms_target(
        tmp.path(),
        "hung-sign-out",
        server.port,
        "HUNG_ALICE_PASSWORD",
    );
    let t0 = std::time::Instant::now();
    let out = isolated(tmp.path())
        .args([
            "run",
            "--page-timeout",
            "3s",
            "--name",
            "Sign Out from the profile menu",
        ])
        .arg("--target")
        .arg(&target)
        .arg("features/sign_out.feature")
        .arg("--artifacts")
        .arg(tmp.path().join("artifacts"))
        .env("HUNG_ALICE_PASSWORD", "not-a-secret-of-anyone")
        .env("CI", "true")
        .output()
        .unwrap();
    let took = t0.elapsed();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    // 3 s of page timeout, the driver's 5 s margin, and the run's own start and end.
    assert!(took < std::time::Duration::from_secs(60), "{took:?}: {t}");
}

/// The forms application of [`forms_route`] whose `/signout` accepts the request and never
/// answers.
fn serve_hung_sign_out(conn: std::net::TcpStream) {
    let Some(request) = loopback::Request::read(conn) else {
        return;
    };
    if request.path() == "/signout" {
        // Holds the connection open, answering nothing, for longer than any bound here.
        std::thread::sleep(std::time::Duration::from_secs(120));
        return;
    }
    let (status, headers, html) = forms_route(&request, SIGNED_IN_PAGE);
    request.answer(status, &headers, &html);
}

/// The password a page shows where blanking texts cannot reach it (here a `placeholder`, a CSS
/// `content:` and a shadow root): the failed scenario's artifacts take no screenshot and say why;
/// every artifact is readable by its owner only.
#[test]
fn artifacts_take_no_screenshot_of_a_password_they_cannot_blank_and_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let _cpu = cpu::take(1);
    let tmp = tempfile::tempdir().unwrap();
    let server = LoopbackServer::start(serve_password_in_placeholder);
    let target = forms_target(
        tmp.path(),
        "password-shown",
        server.port,
        "SHOWN_ALICE_PASSWORD",
    );
    let artifacts = tmp.path().join("artifacts");
    let out = isolated(tmp.path())
        .args([
            "run",
            "--name",
            "Sign Out from the profile menu",
            "--target",
        ])
        .arg(&target)
        .arg("features/sign_out.feature")
        .arg("--artifacts")
        .arg(&artifacts)
        .arg("--snapshots")
        .arg(tmp.path().join("snapshots"))
        .arg("--update-snapshots")
        .env("SHOWN_ALICE_PASSWORD", SHOWN_PASSWORD)
        .env("CI", "true")
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    let mut files = Vec::new();
    let mut dirs = vec![artifacts.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                files.push(p);
            }
        }
        if d != artifacts {
            let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "{}", d.display());
        }
    }
    assert!(!files.is_empty(), "{t}");
    assert!(
        !files
            .iter()
            .any(|f| f.extension().is_some_and(|x| x == "png")),
        "{files:?}"
    );
    let probe = files
        .iter()
        .find(|f| f.ends_with("probe.txt"))
        .map(|f| std::fs::read_to_string(f).unwrap())
        .unwrap_or_default();
    assert!(
        probe.contains("screenshot: not taken") && probe.contains("blanking texts cannot reach"),
        "{probe}"
    );
    for f in &files {
        let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", f.display());
        let bytes = std::fs::read(f).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(SHOWN_PASSWORD),
            "{}",
            f.display()
        );
    }
}

const SHOWN_PASSWORD: &str = "Sh0wn-in-a-placeholder";

/// A forms application whose signed-in page shows the password in a placeholder, a style sheet
/// and a shadow root, and whose Sign out leads back to the application (a failed scenario).
fn serve_password_in_placeholder(conn: std::net::TcpStream) {
    let Some(request) = loopback::Request::read(conn) else {
        return;
    };
    let page = format!(
        "{SIGNED_IN_PAGE}<input placeholder='{SHOWN_PASSWORD}'>\
         <style>#hint::after {{ content: '{SHOWN_PASSWORD}'; }}</style><p id='hint'></p>\
         <div id='host'></div><script>document.getElementById('host').attachShadow({{mode: 'open'}})\
         .innerHTML = '<b>{SHOWN_PASSWORD}</b>';</script>"
    );
    let (status, headers, html) = match request.path().as_str() {
        // No sign-out at all: back to the application, still signed in.
        "/signout" => ("302 Found", "Location: /app\r\n".into(), String::new()),
        _ => forms_route(&request, &page),
    };
    request.answer(status, &headers, &html);
}

/// A Selenium Grid behind basic authentication is a legitimate `--webdriver`; its password is
/// never printed, here in the error that the grid cannot be reached.
#[test]
fn a_grid_password_in_webdriver_is_never_printed() {
    let tmp = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = isolated(tmp.path())
        .args(["run", "--mode", "fba", "--tags", "@sign_out", "--webdriver"])
        .arg(format!(
            "http://gridder:Gr1d-secret-pw@127.0.0.1:{port}/wd/hub"
        ))
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains(&format!("127.0.0.1:{port}")), "{t}");
    assert!(!t.contains("Gr1d-secret-pw"), "{t}");
}

/// A TMPDIR long enough that Chromium's socket under it would pass the 107 bytes of a Unix
/// socket address (Chromium then exits at start with no word why): the run's browsers get a
/// short private dir, and the run judges as usual.
#[test]
fn a_long_tmpdir_does_not_stop_chromium() {
    let _cpu = cpu::take(1);
    let tmp = tempfile::tempdir().unwrap();
    let mut long = tmp.path().to_path_buf();
    while long.as_os_str().len() < 90 {
        long.push("a-rather-long-folder-name");
    }
    std::fs::create_dir_all(&long).unwrap();
    let out = isolated(&long)
        .args(["run", "--mode", "fba", "--tags", "@sign_out"])
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
}

/// A run writes nothing into the user's home: Chromium's XDG config and cache folders go to the
/// run's scratch dir, which is removed at the end.
#[test]
fn a_run_leaves_the_home_folder_untouched() {
    let _cpu = cpu::take(1);
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let out = isolated(tmp.path())
        .env("HOME", &home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_CACHE_HOME")
        .args(["run", "--mode", "fba", "--tags", "@sign_out"])
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let left: Vec<_> = std::fs::read_dir(&home)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A sign-in the server refuses (403) is not judged, and the message shows where the browser is
/// and what the page says, not only that a wait ran out.
#[test]
fn a_refused_sign_in_says_what_the_page_shows() {
    let _cpu = cpu::take(1);
    let tmp = tempfile::tempdir().unwrap();
    let server = LoopbackServer::start(serve_forbidden_sign_in);
    let target = forms_target(
        tmp.path(),
        "forbidden-sign-in",
        server.port,
        "FORBIDDEN_ALICE_PASSWORD",
    );
    let out = isolated(tmp.path())
        .args([
            "run",
            "--page-timeout",
            "3s",
            "--name",
            "Sign Out from the profile menu",
        ])
        .arg("--target")
        .arg(&target)
        .arg("features/sign_out.feature")
        .env("FORBIDDEN_ALICE_PASSWORD", "not-a-secret-of-anyone")
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("/login: \"Forbidden: this account is locked\""),
        "{t}"
    );
}

/// The forms application of [`forms_route`] whose sign-in answers 403.
fn serve_forbidden_sign_in(conn: std::net::TcpStream) {
    let Some(request) = loopback::Request::read(conn) else {
        return;
    };
    let (status, headers, html) = match (request.is_post(), request.path().as_str()) {
        (true, "/login") => (
            "403 Forbidden",
            String::new(),
            "<h1>Forbidden: this account is locked</h1>".to_string(),
        ),
        _ => forms_route(&request, SIGNED_IN_PAGE),
    };
    request.answer(status, &headers, &html);
}

/// A run whose every selected scenario is not applicable judges nothing: exit 2, saying that and
/// why, not "see NOT JUDGED above" with nothing there.
#[test]
fn a_run_that_judges_nothing_says_why() {
    let _cpu = cpu::take(1);
    let tmp = tempfile::tempdir().unwrap();
    let server = LoopbackServer::start(serve_lying_whoami);
    let target = forms_target(tmp.path(), "nothing-to-judge", server.port, "NOTHING_PW");
    let out = isolated(tmp.path())
        .args(["run", "--name", "administrator ends all", "--target"])
        .arg(&target)
        .arg("features/devices.feature")
        .env("NOTHING_PW", "not-a-secret-of-anyone")
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("needs a second user `bob`")
            && t.contains("result: nothing was judged (exit 2)"),
        "{t}"
    );
    assert!(!t.contains("see NOT JUDGED above"), "{t}");
}

/// A step that no step definition matches (a typo in a feature file) is not judged, and the
/// report names it.
#[test]
fn an_unmatched_step_is_named_in_the_report() {
    let _cpu = cpu::take(1);
    let tmp = tempfile::tempdir().unwrap();
    let feature = write(
        tmp.path(),
        "typo.feature",
        "@fba\nFeature: A typo\n  Scenario: Sign out, misspelt\n    \
         Given alice is signed in to CRM\n    When she signs ot through the profile menu\n",
    );
    let json = tmp.path().join("r.json");
    let out = isolated(tmp.path())
        .args(["run", "--mode", "fba", "--json"])
        .arg(&json)
        .arg(&feature)
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(
        report["errors"][0]["step"], "When she signs ot through the profile menu",
        "{report}"
    );
}

/// After Sign out, the application answers with a redirect loop: the browser shows its own error
/// page, which is never taken for a page from the HTTP cache (the evidence and the cause of the
/// back-button checks follow from where a page came from).
#[test]
fn a_redirect_loop_error_page_is_not_a_page_from_the_http_cache() {
    let _cpu = cpu::take(1);
    let tmp = tempfile::tempdir().unwrap();
    let server = LoopbackServer::start(serve_loop_after_sign_out);
    let target = forms_target(
        tmp.path(),
        "redirect-loop",
        server.port,
        "LOOP_ALICE_PASSWORD",
    );
    let json = tmp.path().join("r.json");
    let out = isolated(tmp.path())
        .args(["run", "--page-timeout", "5s", "--target"])
        .arg(&target)
        .arg("features/back_button.feature")
        .arg("--json")
        .arg(&json)
        // The cookies' baseline is recorded, so that the back button is the run's only verdict
        // in question.
        .arg("--snapshots")
        .arg(tmp.path().join("snapshots"))
        .arg("--update-snapshots")
        .env("LOOP_ALICE_PASSWORD", "not-a-secret-of-anyone")
        .output()
        .unwrap();
    let t = text(&out);
    // The browser's error page shows no data of the application: every check holds.
    assert_eq!(out.status.code(), Some(0), "{t}");
    let report = std::fs::read_to_string(&json).unwrap_or_default();
    assert!(!report.is_empty(), "{t}");
    assert!(!report.contains("HTTP cache"), "{report}\n{t}");
}

/// The forms application of [`forms_route`] whose application page, once signed out, redirects
/// to itself for ever.
fn serve_loop_after_sign_out(conn: std::net::TcpStream) {
    let Some(request) = loopback::Request::read(conn) else {
        return;
    };
    let live = request.cookie.contains("sid=live");
    let signed_out = request.cookie.contains("out=1");
    let (status, headers, html) = match (request.is_post(), request.path().as_str()) {
        (false, "/app") if !live && signed_out => {
            ("302 Found", "Location: /app\r\n".into(), String::new())
        }
        (false, "/signout") => (
            "302 Found",
            "Location: /bye\r\nSet-Cookie: sid=; Path=/; Max-Age=0\r\nSet-Cookie: out=1; Path=/\r\n"
                .into(),
            String::new(),
        ),
        (false, "/bye") => ("200 OK", String::new(), "<p>You are signed out</p>".into()),
        _ => forms_route(&request, SIGNED_IN_PAGE),
    };
    request.answer(status, &headers, &html);
}

/// A full temp folder is named as the cause when the browser cannot start, not a Selenium Grid's
/// queue: the harness's own driver has none. Run in a private mount namespace on a small tmpfs of
/// the test's own (never the machine's temp folder), filled to 200 KB free, where Chromium hangs
/// at start (measured: it starts with 600 KB).
#[test]
fn a_full_temp_folder_is_named_when_the_browser_cannot_start() {
    let _cpu = cpu::take(1);
    let tmp = tempfile::tempdir().unwrap();
    let mount = tmp.path().join("small");
    std::fs::create_dir(&mount).unwrap();
    // The shell mounts the tmpfs, fills it, then runs the harness there; all of it ends with the
    // namespace.
    let script = r#"set -e
mount -t tmpfs -o size=4m tmpfs "$1"
dd if=/dev/zero of="$1/fill" bs=1k count=3896 2>/dev/null
shift
exec "$@""#;
    let namespace = ["-m", "-rm"]
        .into_iter()
        .find(|flag| {
            Command::new("unshare")
                .args([flag, "true"])
                .status()
                .is_ok_and(|s| s.success())
        })
        .expect("this test needs unshare(1) with mount namespaces (root, or user namespaces)");
    let started = Instant::now();
    let out = Command::new("unshare")
        .args([namespace, "sh", "-c", script, "sh"])
        .arg(&mount)
        .arg(env!("CARGO_BIN_EXE_logout-harness"))
        .args([
            "run",
            "--mode",
            "ifd",
            "--tags",
            "@sign_out",
            "--new-session-timeout",
            "10s",
        ])
        .env("TMPDIR", &mount)
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("the harness's own driver") && t.contains("KB free") && t.contains("TMPDIR"),
        "{t}"
    );
    assert!(!t.contains("Selenium Grid"), "{t}");
    assert!(started.elapsed() < Duration::from_secs(60), "{t}");
}

/// An Examples block's tags select its rows as they do in cucumber: `--tags` and the mode tags
/// see them (a run once planned the outline by its own tags only and said "no scenario
/// matches"), and the plan counts each row.
#[test]
fn tags_on_an_examples_block_select_its_rows() {
    let _cpu = cpu::take(1);
    let tmp = tempfile::tempdir().unwrap();
    let feature = tmp.path().join("outline.feature");
    std::fs::write(
        &feature,
        "Feature: outline\n  Scenario Outline: <who> signs out\n    Given <who> is signed in \
         to CRM\n    When she signs out through the profile menu\n    Then the browser shows a \
         signed-out page\n\n    @ifd @chosen\n    Examples:\n      | who   |\n      | alice |\n      \
         | bob   |\n\n    @fba @chosen\n    Examples:\n      | who   |\n      | alice |\n",
    )
    .unwrap();
    let out = isolated(tmp.path())
        .args(["run", "--mode", "ifd", "--mode", "fba", "--tags", "@chosen"])
        .arg(&feature)
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("\"alice signs out\" (ifd/chromium)"), "{t}");
    assert!(t.contains("\"bob signs out\" (ifd/chromium)"), "{t}");
    assert!(t.contains("\"alice signs out\" (fba/chromium)"), "{t}");
    assert!(!t.contains("\"bob signs out\" (fba"), "{t}");
    assert!(t.contains("Verdicts: 3 held, 0 violated"), "{t}");
}

/// What the hostile forms application of
/// [`hostile_servers_never_get_a_false_verdict_and_end_by_the_page_timeout`] does to a sign-out.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Hostile {
    /// Nothing: the control, a sign-out that works.
    None,
    /// The sign-out ends the session, then answers its page at one byte a second.
    Trickle,
    /// The connection is reset as the sign-out arrives; the session lives on.
    Reset,
    /// The sign-out answers 500 and ends nothing.
    ServerError,
    /// The sign-out ends the session and redirects to a signed-out page of 50 MB.
    Huge,
}

/// A hostile server, one switch at a time, against the sign-out scenario with a 3 s page timeout:
/// the verdict is never a false pass (the session lives on) nor a false violation (it ended),
/// every run ends within the page timeout plus margins, and the password is in no output.
#[test]
fn hostile_servers_never_get_a_false_verdict_and_end_by_the_page_timeout() {
    const PASSWORD: &str = "Hostile-Server-Secret-7q";
    let _cpu = cpu::take(2);
    let tmp = tempfile::tempdir().unwrap();
    // (switch, the exit codes that are true of it)
    let cases: [(Hostile, &[i32]); 5] = [
        (Hostile::None, &[0]),
        // The session ended: "held" or "not judged", never a violation.
        (Hostile::Trickle, &[0, 2]),
        (Hostile::Huge, &[0, 2]),
        // The session lives on: a violation or "not judged", never a pass.
        (Hostile::Reset, &[1, 2]),
        (Hostile::ServerError, &[1]),
    ];
    let runs: Vec<_> = cases
        .into_iter()
        .map(|(switch, allowed)| {
            let dir = tmp.path().join(format!("{switch:?}"));
            std::fs::create_dir(&dir).unwrap();
            std::thread::spawn(move || {
                let signed_in = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
                let server = LoopbackServer::start(move |conn| {
                    serve_hostile(conn, switch, &signed_in);
                });
                let target = forms_target(&dir, "hostile", server.port, "HOSTILE_PASSWORD");
                let t0 = Instant::now();
                let out = isolated(&dir)
                    .args(["run", "--page-timeout", "3s", "--target"])
                    .arg(&target)
                    .arg("--name")
                    .arg("Sign Out from the profile menu")
                    .arg("features/sign_out.feature")
                    .arg("--json")
                    .arg(dir.join("r.json"))
                    .arg("--artifacts")
                    .arg(dir.join("artifacts"))
                    .arg("--snapshots")
                    .arg(dir.join("snapshots"))
                    .arg("--update-snapshots")
                    .env("HOSTILE_PASSWORD", PASSWORD)
                    .env("CI", "true")
                    .output()
                    .unwrap();
                (switch, allowed, out, t0.elapsed(), dir)
            })
        })
        .collect();
    let mut wrong = Vec::new();
    for run in runs {
        let (switch, allowed, out, took, dir) = run.join().unwrap();
        let t = text(&out);
        let code = out.status.code().unwrap_or(-1);
        if !allowed.contains(&code) {
            wrong.push(format!(
                "{switch:?}: exit {code}, expected one of {allowed:?}:\n{t}"
            ));
        }
        // 3 s page timeout plus the driver's 5 s margin per wait, and a run's start and end.
        if took > Duration::from_secs(60) {
            wrong.push(format!("{switch:?}: took {took:?}"));
        }
        let mut files = Vec::new();
        let mut dirs = vec![dir];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    dirs.push(p);
                } else {
                    files.push(p);
                }
            }
        }
        let leaked: Vec<_> = files
            .iter()
            .filter(|f| {
                let bytes = std::fs::read(f).unwrap_or_default();
                String::from_utf8_lossy(&bytes).contains(PASSWORD)
            })
            .collect();
        // A "not judged" of a slow server names the bound it ran into.
        if code == 2 && !t.contains("--page-timeout") {
            wrong.push(format!(
                "{switch:?}: not judged without naming the page timeout:\n{t}"
            ));
        }
        // A page source is kept up to 2 MB (the huge page is 50 MB).
        for f in files
            .iter()
            .filter(|f| f.extension().is_some_and(|x| x == "html"))
        {
            let size = std::fs::metadata(f).unwrap().len();
            if size > 2 * 1024 * 1024 + 200 {
                wrong.push(format!("{switch:?}: {} is {size} bytes", f.display()));
            }
        }
        if t.contains(PASSWORD) || !leaked.is_empty() {
            wrong.push(format!(
                "{switch:?}: the password is in the output or {leaked:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

/// The forms application of [`forms_route`] with a server-side session (`signed_in`), and the
/// sign-out `switch` makes hostile.
fn serve_hostile(
    conn: std::net::TcpStream,
    switch: Hostile,
    signed_in: &std::sync::atomic::AtomicBool,
) {
    use std::io::Write as _;
    use std::sync::atomic::Ordering;
    let Some(request) = loopback::Request::read(conn) else {
        return;
    };
    let live = signed_in.load(Ordering::Relaxed) && request.cookie.contains("sid=live");
    let path = request.path();
    let signed_out = "Location: /bye\r\nSet-Cookie: sid=; Path=/; Max-Age=0\r\n";
    match (request.is_post(), path.as_str()) {
        (true, "/login") => {
            signed_in.store(true, Ordering::Relaxed);
            let (status, headers, html) = forms_route(&request, SIGNED_IN_PAGE);
            request.answer(status, &headers, &html);
        }
        (false, "/app" | "/whoami") if !live => {
            let (status, headers, html) = if path == "/app" {
                (
                    "302 Found",
                    "Location: /login\r\n".to_string(),
                    String::new(),
                )
            } else {
                ("401 Unauthorized", String::new(), String::new())
            };
            request.answer(status, &headers, &html);
        }
        (false, "/signout") => match switch {
            Hostile::None | Hostile::Huge => {
                signed_in.store(false, Ordering::Relaxed);
                request.answer("302 Found", signed_out, "");
            }
            Hostile::Trickle => {
                signed_in.store(false, Ordering::Relaxed);
                let mut conn = request.into_stream();
                let page = "<p>You are signed out</p>".repeat(100);
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\nSet-Cookie: sid=; Path=/; Max-Age=0\r\n\
                     Content-Type: text/html\r\nContent-Length: {}\r\n\r\n",
                    page.len()
                );
                for byte in page.bytes().take(60) {
                    if conn.write_all(&[byte]).is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
            Hostile::Reset => {
                let conn = request.into_stream();
                // SO_LINGER 0: closing sends a reset instead of a FIN.
                let linger = libc::linger {
                    l_onoff: 1,
                    l_linger: 0,
                };
                // SAFETY: a valid socket and a plain struct of the size given.
                unsafe {
                    libc::setsockopt(
                        std::os::fd::AsRawFd::as_raw_fd(&conn),
                        libc::SOL_SOCKET,
                        libc::SO_LINGER,
                        (&linger as *const libc::linger).cast(),
                        std::mem::size_of::<libc::linger>() as libc::socklen_t,
                    );
                }
                drop(conn);
            }
            Hostile::ServerError => {
                request.answer("500 Internal Server Error", "", "<p>Server Error</p>");
            }
        },
        (false, "/bye") if switch == Hostile::Huge => {
            let mut page = String::from("<p>You are signed out</p>");
            page.push_str(&"<p>padding</p>".repeat(50 * 1024 * 1024 / 14));
            request.answer("200 OK", "", &page);
        }
        (false, "/bye") => request.answer("200 OK", "", "<p>You are signed out</p>"),
        _ => {
            let (status, headers, html) = forms_route(&request, SIGNED_IN_PAGE);
            request.answer(status, &headers, &html);
        }
    }
}
