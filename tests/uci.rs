//! The Unified Interface of CRM 9.x against the embedded emulator (`run --ui`): the same
//! scenarios pass on it as on the classic web client, under their own label, and a broken
//! sign-out is caught there too. Each run starts real Chromium through chromedriver.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "support/processes.rs"]
mod processes;
use processes::assert_no_processes_left;

/// A run of the harness with a temp dir of its own (so its processes can be told apart), that
/// compares snapshots and never writes them.
fn harness(tmp: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_logout-harness"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd.env("INSTA_UPDATE", "no");
    cmd.env("TMPDIR", tmp);
    cmd
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn report_path(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/logout-harness/uci-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

/// (scenario, rule, passed) of every verdict, by the mode label of its pass.
fn verdicts_by_label(json: &Path) -> BTreeMap<String, Vec<(String, String, bool)>> {
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    let mut by = BTreeMap::<String, Vec<(String, String, bool)>>::new();
    for v in report["verdicts"].as_array().unwrap() {
        by.entry(v["context"]["mode"].as_str().unwrap().to_string())
            .or_default()
            .push((
                v["context"]["scenario"].as_str().unwrap().to_string(),
                v["rule"].as_str().unwrap().to_string(),
                v["passed"].as_bool().unwrap(),
            ));
    }
    for list in by.values_mut() {
        list.sort();
    }
    by
}

/// `--ui all` runs the ifd scenarios once on the classic web client and once on the Unified
/// Interface (its start page `main.aspx?appid=...`, Sign Out in the profile flyout): the clean
/// emulator passes both with the same verdicts, the classic ones labelled `ifd` as before and
/// the others `ifd-uci`.
#[test]
fn clean_emulator_passes_on_the_unified_interface_with_the_classic_verdicts() {
    let tmp = tempfile::tempdir().unwrap();
    let json = report_path("clean-all.json");
    let out = harness(tmp.path())
        .args(["run", "--mode", "ifd", "--ui", "all", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    let text = text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let by = verdicts_by_label(&json);
    assert_eq!(
        by.keys().collect::<Vec<_>>(),
        ["ifd", "ifd-uci"],
        "one pass per web client: {text}"
    );
    let (classic, uci) = (&by["ifd"], &by["ifd-uci"]);
    assert!(!uci.is_empty(), "{text}");
    assert!(uci.iter().all(|(_, _, passed)| *passed), "{uci:?}");
    assert_eq!(classic, uci, "the same checks hold on both web clients");
    assert!(
        text.contains(
            "PASS       \"Sign Out from the profile menu ends the session\" (ifd-uci/chromium)"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "PASS       \"Sign Out from the profile menu ends the session\" (ifd/chromium)"
        ),
        "{text}"
    );
    // The Unified Interface's pass really was on the app's page (its URL is in the evidence).
    let report = std::fs::read_to_string(&json).unwrap();
    assert!(report.contains("main.aspx?appid="), "{report}");
    assert_no_processes_left(tmp.path());
}

/// A sign-out that leaves the auth cookie behind is caught on the Unified Interface too.
#[test]
fn keep_auth_cookie_is_caught_on_the_unified_interface() {
    let tmp = tempfile::tempdir().unwrap();
    let json = report_path("keep-auth-cookie-uci.json");
    let out = harness(tmp.path())
        .args([
            "run",
            "--mode",
            "ifd",
            "--ui",
            "uci",
            "--fault",
            "keep-auth-cookie",
            "--tags",
            "@sign_out",
            "--json",
        ])
        .arg(&json)
        .output()
        .unwrap();
    let text = text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let by = verdicts_by_label(&json);
    assert_eq!(by.keys().collect::<Vec<_>>(), ["ifd-uci"], "{text}");
    let failed: Vec<&str> = by["ifd-uci"]
        .iter()
        .filter(|(_, _, passed)| !passed)
        .map(|(_, rule, _)| rule.as_str())
        .collect();
    assert!(
        failed.contains(&"sign-out.auth-cookies-removed"),
        "{failed:?}: {text}"
    );
    assert!(
        text.contains("FAIL sign-out.auth-cookies-removed") && text.contains("(ifd-uci/chromium)"),
        "{text}"
    );
    assert_no_processes_left(tmp.path());
}

/// CRM 4.0 has no Unified Interface: asking for it in mode fba is a usage error (exit 2), before
/// any browser or emulator starts (tests/corpus.rs holds the other bad `--ui` and `ui:` inputs).
#[test]
fn ui_uci_with_mode_fba_is_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let out = harness(tmp.path())
        .args(["run", "--mode", "fba", "--ui", "uci"])
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("no Unified Interface") && t.contains("--ui classic"),
        "{t}"
    );
    let out = harness(tmp.path())
        .args(["sim", "--mode", "fba", "--ui", "uci"])
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("no Unified Interface"), "{t}");
    assert_no_processes_left(tmp.path());
}
