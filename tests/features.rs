//! The cucumber runner over `features/` against the embedded emulator, in this process, for a
//! developer's selection: `cargo test --test features -- --tags @sign_out`. `cargo test` leaves
//! it out (`test = false`): `tests/e2e/clean.rs` runs every scenario through the binary, and that
//! run is the fault matrix's trace as well.
//!
//! Every scenario runs in every mode it applies to, and in modes ifd and iwa on both web clients
//! (the classic one and the 9.x Unified Interface), in real headless Chromium through a real
//! chromedriver, against the emulator over real sockets. Exits non-zero when a verdict fails, a
//! scenario cannot be judged, or the Unified Interface's verdicts differ from the classic web
//! client's. Accepts `--tags EXPR`, `--name REGEX` and `--concurrency N` after `--`.

use std::collections::BTreeSet;
use std::path::Path;

use logout_harness::cmd::run::{self, RunOptions};
use logout_harness::config::target::Ui;
use logout_harness::report::Findings;

/// The Unified Interface's passes (labels `ifd-uci`, `iwa-uci`) judged the same (scenario, rule,
/// outcome) as the classic ones (`ifd`, `iwa`), and, when every scenario ran (`whole`), really on
/// the app's page: its `main.aspx?appid=` is in some verdict's evidence (not in every scenario's,
/// so a selection may have none).
fn uci_matches_classic(findings: &Findings, whole: bool) -> Result<(), String> {
    let judged = |label: &str| -> BTreeSet<(String, String, bool)> {
        findings
            .verdicts
            .iter()
            .filter(|v| v.context.mode == label)
            .map(|v| (v.context.scenario.clone(), v.rule.to_string(), v.passed))
            .collect()
    };
    for (classic_label, uci_label) in [("ifd", "ifd-uci"), ("iwa", "iwa-uci")] {
        let (classic, uci) = (judged(classic_label), judged(uci_label));
        if classic != uci {
            return Err(format!(
                "the Unified Interface's verdicts ({uci_label}) differ from the classic web \
                 client's ({classic_label})\n  classic only: {:?}\n  Unified Interface only: {:?}",
                classic.difference(&uci).collect::<Vec<_>>(),
                uci.difference(&classic).collect::<Vec<_>>()
            ));
        }
        let on_the_app = findings.verdicts.iter().any(|v| {
            v.context.mode == uci_label && v.evidence.iter().any(|e| e.contains("main.aspx?appid="))
        });
        if whole && !on_the_app {
            return Err(format!(
                "no verdict of the {uci_label} pass has the app's page (main.aspx?appid=) in its \
                 evidence"
            ));
        }
    }
    Ok(())
}

fn main() {
    // Profiles and the rest of the run's files live in one private run dir, as with the binary
    // (src/main.rs), not loose in the system temp dir: a Chromium that writes its profile a moment
    // after its quit (docs/browser-facts.md B3) then writes inside the run dir's path, which the
    // next run's sweep removes, instead of leaving a profile behind in /tmp.
    let run_dir = logout_harness::engine::rundir::RunDir::enter().ok();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut opts = RunOptions::defaults(root);
    opts.artifacts = root.join("target/logout-harness/test-artifacts");
    opts.uis = vec![Ui::Classic, Ui::Uci];
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--tags" => opts.tags = args.next(),
            "--name" => opts.name = args.next(),
            "--concurrency" | "-c" => {
                opts.concurrency = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--concurrency N")
            }
            // libtest flags cargo may pass along (e.g. --nocapture) mean nothing here.
            _ => {}
        }
    }
    let whole = opts.tags.is_none() && opts.name.is_none();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let code = runtime.block_on(async {
        logout_harness::engine::process::install_signal_handler(|| {});
        match run::run(opts).await {
            Ok(outcome) => {
                let failed = outcome
                    .findings
                    .verdicts
                    .iter()
                    .filter(|v| !v.passed)
                    .count();
                let held = outcome.findings.verdicts.len() - failed;
                println!(
                    "features: {held} verdicts held, {failed} violated, {} not judged",
                    outcome.findings.errors.len()
                );
                match uci_matches_classic(&outcome.findings, whole) {
                    Ok(()) => outcome.exit_code.code(),
                    Err(e) => {
                        eprintln!("error: {e}");
                        outcome.exit_code.code().max(1)
                    }
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                2
            }
        }
    });
    drop(runtime);
    // `exit` runs no destructors.
    drop(run_dir);
    std::process::exit(code);
}
