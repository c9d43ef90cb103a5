//! Every scenario holds on the clean emulator: every mode, and in modes ifd and iwa both web
//! clients (the classic one and the 9.x Unified Interface), in real headless Chromium through a
//! real chromedriver, against the emulator over real sockets.
//!
//! The run is also the fault matrix's trace (`run --trace-knobs`: every scenario against an
//! emulator of its own, each reporting the knobs its code reached; `faults.rs`), so it is run
//! once for both tests ([`run`]), whichever asks first.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use crate::support::cpu;
use crate::support::harness::{Report, Run};

/// The clean run: `logout-harness run --ui all --trace-knobs`, every mode, knobs off. The first
/// caller runs it (with two units of the CPU budget: it runs two scenarios at once); callers
/// arriving meanwhile wait for the same run.
pub fn run() -> &'static Report {
    static CLEAN: OnceLock<Report> = OnceLock::new();
    CLEAN.get_or_init(|| {
        let _cpu = cpu::take(2);
        let mut run = Run::new("clean", "every-mode");
        run.command()
            .args(["--ui", "all", "--trace-knobs", "--concurrency", "2"]);
        run.finish()
    })
}

/// The Unified Interface's passes (labels `ifd-uci`, `iwa-uci`) judged the same (scenario, rule,
/// outcome) as the classic ones (`ifd`, `iwa`), and really on the app's page: its
/// `main.aspx?appid=` is in some verdict's evidence.
fn uci_matches_classic(report: &Report) -> Result<(), String> {
    let judged = |label: &str| -> BTreeSet<(String, String, bool)> {
        report
            .verdicts()
            .into_iter()
            .filter(|v| v["context"]["mode"] == label)
            .map(|v| {
                (
                    v["context"]["scenario"].as_str().unwrap_or_default().into(),
                    v["rule"].as_str().unwrap_or_default().into(),
                    v["passed"] == true,
                )
            })
            .collect()
    };
    for (classic_label, uci_label) in [("ifd", "ifd-uci"), ("iwa", "iwa-uci")] {
        let (classic, uci) = (judged(classic_label), judged(uci_label));
        if classic.is_empty() || classic != uci {
            return Err(format!(
                "the Unified Interface's verdicts ({uci_label}) differ from the classic web \
                 client's ({classic_label}), or there are none\n  classic only: {:?}\n  \
                 Unified Interface only: {:?}",
                classic.difference(&uci).collect::<Vec<_>>(),
                uci.difference(&classic).collect::<Vec<_>>()
            ));
        }
        let on_the_app = report.verdicts().into_iter().any(|v| {
            v["context"]["mode"] == uci_label
                && v["evidence"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|e| e.as_str().unwrap_or_default().contains("main.aspx?appid="))
        });
        if !on_the_app {
            return Err(format!(
                "no verdict of the {uci_label} pass has the app's page (main.aspx?appid=) in its \
                 evidence"
            ));
        }
    }
    Ok(())
}

#[test]
fn every_scenario_holds_on_the_clean_emulator_in_every_mode_and_web_client() {
    let report = run();
    assert_eq!(report.exit, Some(0), "{}", report.output);
    assert!(report.failures().is_empty(), "{:?}", report.failures());
    assert!(report.errors().is_empty(), "{:?}", report.errors());
    let modes: BTreeSet<&str> = report
        .verdicts()
        .into_iter()
        .filter_map(|v| v["context"]["mode"].as_str())
        .collect();
    for mode in ["ifd", "fba", "iwa", "claims", "ifd-uci", "iwa-uci"] {
        assert!(modes.contains(mode), "no verdict in {mode}: {modes:?}");
    }
    if let Err(e) = uci_matches_classic(report) {
        panic!("{e}\n{}", report.output);
    }
    println!(
        "clean emulator: {} verdicts held in {modes:?}",
        report.verdicts().len()
    );
}
