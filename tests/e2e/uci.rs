//! The Unified Interface of CRM 9.x against the embedded emulator (`run --ui`): a broken sign-out
//! is caught there too, under the pass's own label, and CRM 4.0 has none. That every scenario
//! passes on it with the classic web client's verdicts is `clean.rs`, which runs modes ifd and
//! iwa on both. Each run starts real Chromium through chromedriver.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::support::cpu;
use crate::support::harness;
use harness::{Report, Run};

use crate::support::harness::text;
use crate::support::processes;
use processes::assert_no_processes_left;

/// A `run` with a temp dir of its own (so its processes can be told apart), reporting to
/// `target/logout-harness/uci-tests/<name>.json`.
fn run(name: &str, tmp: &Path, args: &[&str]) -> Report {
    let mut run = Run::new("uci-tests", name);
    run.command().env("TMPDIR", tmp).args(args);
    run.finish()
}

/// (scenario, rule, passed) of every verdict, by the mode label of its pass.
fn verdicts_by_label(report: &Report) -> BTreeMap<String, Vec<(String, String, bool)>> {
    let mut by = BTreeMap::<String, Vec<(String, String, bool)>>::new();
    for v in report.verdicts() {
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

/// A sign-out that leaves the auth cookie behind is caught on the Unified Interface too.
#[test]
fn keep_auth_cookie_is_caught_on_the_unified_interface() {
    let _cpu = cpu::take(1);
    let tmp = tempfile::tempdir().unwrap();
    let report = run(
        "keep-auth-cookie-uci",
        tmp.path(),
        &[
            "--mode",
            "ifd",
            "--ui",
            "uci",
            "--fault",
            "keep-auth-cookie",
            "--tags",
            "@sign_out",
        ],
    );
    let text = &report.output;
    assert_eq!(report.exit, Some(1), "{text}");
    let by = verdicts_by_label(&report);
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
/// any browser or emulator starts (tests/e2e/corpus.rs holds the other bad `--ui` and `ui:` inputs).
#[test]
fn ui_uci_with_mode_fba_is_exit_2() {
    let _cpu = cpu::take(1);
    let tmp = tempfile::tempdir().unwrap();
    let harness = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_logout-harness"))
            .env("TMPDIR", tmp.path())
            .args(args)
            .output()
            .unwrap()
    };
    let out = harness(&["run", "--mode", "fba", "--ui", "uci"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("no Unified Interface") && t.contains("--ui classic"),
        "{t}"
    );
    let out = harness(&["sim", "--mode", "fba", "--ui", "uci"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("no Unified Interface"), "{t}");
    assert_no_processes_left(tmp.path());
}
