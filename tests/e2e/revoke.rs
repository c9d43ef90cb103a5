//! `logout-harness revoke` against the embedded emulator: each administrator change measured
//! and judged against `--within`, the knobs where a change does not reach the sessions already
//! signed in caught (exit 1) and passing without them (exit 0), and S62 (a user disabled only
//! in Active Directory keeps the sessions they have) reported as the violation it is.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::faults::CAUGHT_BY_REVOKE;
use crate::support::cpu;
use crate::support::harness::text;

/// One `revoke` run: exit code, console, the JSON report.
fn revoke(args: &[&str], json: &std::path::Path) -> (Option<i32>, String, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_logout-harness"))
        .arg("revoke")
        .args(args)
        .arg("--json")
        .arg(json)
        .output()
        .unwrap();
    let report = std::fs::read_to_string(json)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    (out.status.code(), text(&out), report)
}

#[test]
fn each_knob_where_a_change_misses_live_sessions_is_caught_and_passes_without() {
    let _cpu = cpu::take(1);
    let dir = tempfile::tempdir().unwrap();
    let list = Command::new(env!("CARGO_BIN_EXE_logout-harness"))
        .args(["sim", "--list-faults"])
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout).to_string();
    let runs = CAUGHT_BY_REVOKE.iter().flat_map(|(knob, args)| {
        // Every mode the knob applies to (`sim --list-faults`: name, tab, modes).
        let modes: Vec<String> = list
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{knob}\t")))
            .unwrap_or_else(|| panic!("{knob} is not listed: {list}"))
            .split('\t')
            .next()
            .unwrap()
            .split(',')
            .map(str::to_string)
            .collect();
        modes.into_iter().map(move |mode| (*knob, *args, mode))
    });
    for (knob, args, mode) in runs {
        let args: Vec<&str> = args.iter().copied().chain(["--mode", &mode]).collect();
        let args = &args[..];
        let json = dir.path().join(format!("{knob}-{mode}.json"));
        let (code, console, report) = revoke(args, &json);
        assert_eq!(code, Some(0), "{knob} off ({mode}): {console}");
        assert_eq!(report["verdict"]["passed"], true, "{console}");
        assert!(report["upper_s"].as_f64().unwrap() <= 3.0, "{console}");

        let with: Vec<&str> = args.iter().copied().chain(["--fault", knob]).collect();
        let (code, console, report) = revoke(&with, &json);
        assert_eq!(code, Some(1), "{knob} on ({mode}): {console}");
        assert_eq!(
            report["verdict"]["rule"], "admin.change-reaches-sessions",
            "{console}"
        );
        assert_eq!(report["verdict"]["passed"], false, "{console}");
        assert!(console.contains("likely cause:"), "{console}");
    }
}

/// S62: disabling a user in Active Directory alone leaves the sessions they have (CRM's runs to
/// its own end), so `--within` is violated with the AD FS fix; disabling them in CRM ends every
/// session at once; both measured within the resolution and in about their own time.
#[test]
fn a_user_disabled_in_the_directory_keeps_the_sessions_they_have_s62() {
    let _cpu = cpu::take(1);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let started = Instant::now();
    let (code, console, report) = revoke(
        &[
            "--change",
            "disable_in_directory",
            "--within",
            "1s",
            "--max",
            "4s",
            "--sim-session-length",
            "60s",
        ],
        &json,
    );
    assert_eq!(code, Some(1), "{console}");
    assert_eq!(report["upper_s"], serde_json::Value::Null, "{console}");
    assert!(report["lower_s"].as_f64().unwrap() >= 3.0, "{console}");
    assert!(console.contains("SsoLifetime"), "{console}");
    assert!(started.elapsed() < Duration::from_secs(30), "{console}");

    let (code, console, report) = revoke(&["--change", "deactivate-user", "--within", "1s"], &json);
    assert_eq!(code, Some(0), "{console}");
    assert_eq!(report["sessions"].as_array().unwrap().len(), 3, "{console}");
    assert!(report["upper_s"].as_f64().unwrap() <= 1.0, "{console}");
    // The user's access was asked: the application refused, and so did the way back through
    // AD FS (its token for a disabled CRM user is refused by CRM).
    assert_eq!(report["ask"], "access", "{console}");
    assert!(
        console.contains("identity provider: not signed in"),
        "{console}"
    );
}

/// S62 again, from the identity provider's side: once CRM's session is gone, AD FS signs a user
/// disabled only in Active Directory straight back in, no password asked; that is what the
/// identity provider is asked (`--ask identity-provider`), and it is a violation. A target with
/// no single sign-on (CRM 4.0's forms) has nothing to ask there: exit 2, saying so.
#[test]
fn the_identity_provider_is_asked_whether_it_signs_the_user_back_in() {
    let _cpu = cpu::take(1);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let (code, console, report) = revoke(
        &[
            "--change",
            "disable_in_directory",
            "--ask",
            "identity-provider",
            "--within",
            "1s",
            "--max",
            "3s",
            "--sessions",
            "2",
        ],
        &json,
    );
    assert_eq!(code, Some(1), "{console}");
    assert_eq!(report["ask"], "identity-provider", "{console}");
    assert!(
        console.contains("identity provider: signed in again without a password"),
        "{console}"
    );

    let (code, console, _) = revoke(
        &[
            "--change",
            "end_sessions",
            "--ask",
            "identity-provider",
            "--mode",
            "fba",
        ],
        &json,
    );
    assert_eq!(code, Some(2), "{console}");
    assert!(
        console.contains("no single sign-on session for a change to revoke"),
        "{console}"
    );
}

/// Without `--within` the change is measured and not judged (exit 0, saying how to judge it);
/// mistakes in the command line are exit 2 before anything starts.
#[test]
fn revoke_without_a_bound_measures_and_bad_lines_are_exit_2() {
    let _cpu = cpu::take(1);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let (code, console, report) = revoke(&["--change", "end_sessions", "--sessions", "2"], &json);
    assert_eq!(code, Some(0), "{console}");
    assert!(console.contains("pass --within"), "{console}");
    assert_eq!(report["verdict"], serde_json::Value::Null, "{console}");
    for (args, says) in [
        (
            &["--change", "drop-database"][..],
            "give `manual` or an administrator action",
        ),
        (
            &["--change", "set_session_length"][..],
            "give it with --value",
        ),
        (
            &["--change", "end_sessions", "--value", "5m"][..],
            "takes none",
        ),
        (
            &["--change", "end_sessions", "--within", "1m", "--max", "10s"][..],
            "shorter than --within",
        ),
        (
            &["--change", "end_sessions", "--sessions", "0"][..],
            "at least 1",
        ),
        (
            &["--change", "end_sessions", "--ask", "everything"][..],
            "give one of application, identity-provider, access",
        ),
    ] {
        let (code, console, _) = revoke(args, &json);
        assert_eq!(code, Some(2), "{args:?}: {console}");
        assert!(console.contains(says), "{args:?}: {console}");
    }
}
