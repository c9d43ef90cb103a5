//! The devices scenario with CRM's access token management (`WSFedNonceCookieEnabled`) off, on,
//! and on but broken (knob `signout-keeps-other-sessions`), in a real browser against the
//! emulator: its verdicts say whether the other device was signed out and whether the feature
//! was on, and `devices.access-token-management` is judged only where it is on.

use std::path::Path;

use serde_json::Value;

use crate::support::cpu;
use crate::support::harness;
use harness::Run;

use crate::support::processes;
use processes::assert_no_processes_left;

/// One run of the devices scenario on one device-pair in mode ifd; returns (exit code, report,
/// console text).
fn run_devices(tmp: &Path, name: &str, extra: &[&str]) -> (Option<i32>, Value, String) {
    let mut run = Run::new("atm-tests", name);
    run.command()
        .env("TMPDIR", tmp)
        .args(["--mode", "ifd", "--concurrency", "1"])
        .args(["--name", "Sign Out on one device"])
        .args(extra);
    let report = run.finish();
    (report.exit, report.json, report.output)
}

/// The verdict of `rule` in `report`.
fn verdict<'a>(report: &'a Value, rule: &str) -> Option<&'a Value> {
    report["verdicts"]
        .as_array()?
        .iter()
        .find(|v| v["rule"] == rule)
}

fn evidence(v: &Value) -> String {
    v["evidence"].to_string()
}

#[test]
fn the_devices_scenario_shows_whether_access_token_management_signed_the_other_device_out() {
    let _cpu = cpu::take(2);
    let tmp = tempfile::tempdir().unwrap();

    // Off (as CRM ships): the other device stays signed in, which the default policy accepts;
    // the access-token-management check is not applicable, and says why.
    let (code, report, text) = run_devices(tmp.path(), "off", &[]);
    assert_eq!(code, Some(0), "{text}");
    let other = verdict(&report, "devices.other-device-after-sign-out").expect(&text);
    assert_eq!(other["observed"], "signed-in", "{text}");
    assert!(
        evidence(other).contains("the other device stayed signed in")
            && evidence(other).contains("(WSFedNonceCookieEnabled): off"),
        "{other}"
    );
    assert!(verdict(&report, "devices.access-token-management").is_none());
    assert!(
        report["not_applicable"]
            .to_string()
            .contains("check devices.access-token-management: access token management"),
        "{}",
        report["not_applicable"]
    );

    // On: the other device is signed out, and the check holds.
    let (code, report, text) =
        run_devices(tmp.path(), "on", &["--sim-access-token-management", "on"]);
    assert_eq!(code, Some(0), "{text}");
    for rule in [
        "devices.other-device-after-sign-out",
        "devices.access-token-management",
    ] {
        let v = verdict(&report, rule).unwrap_or_else(|| panic!("{rule}: {text}"));
        assert_eq!(v["observed"], "signed-out", "{v}");
        assert_eq!(v["passed"], true, "{v}");
        assert!(
            evidence(v).contains("the other device was signed out")
                && evidence(v).contains("(WSFedNonceCookieEnabled): on"),
            "{v}"
        );
    }

    // On, but Sign Out revokes nothing elsewhere: exactly the access-token-management check
    // fails, with its cause and fix.
    let (code, report, text) = run_devices(
        tmp.path(),
        "knob",
        &["--fault", "signout-keeps-other-sessions"],
    );
    assert_eq!(code, Some(1), "{text}");
    let failed: Vec<&Value> = report["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["passed"] == false)
        .collect();
    assert_eq!(failed.len(), 1, "{text}");
    let v = failed[0];
    assert_eq!(v["rule"], "devices.access-token-management", "{v}");
    assert_eq!(v["observed"], "signed-in", "{v}");
    assert!(
        v["fix"].to_string().contains("WSFedNonceCookieEnabled"),
        "{v}"
    );
    assert!(evidence(v).contains("(WSFedNonceCookieEnabled): on"), "{v}");

    // Strict: the other device must be signed out whatever the setting.
    let (code, report, text) = run_devices(tmp.path(), "strict", &["--policy", "strict"]);
    assert_eq!(code, Some(1), "{text}");
    let v = verdict(&report, "devices.other-device-after-sign-out").expect(&text);
    assert_eq!(v["passed"], false, "{v}");
    assert!(v["fix"].to_string().contains("access token"), "{v}");

    assert_no_processes_left(tmp.path());
}
