//! The cucumber runner over `features/` against the embedded emulator, as `cargo test` runs it.
//!
//! Every scenario runs in every mode it applies to, in real headless Chromium through a real
//! chromedriver, against the emulator over real sockets. Exits non-zero when a verdict fails or a
//! scenario cannot be judged. Accepts `--tags EXPR`, `--name REGEX` and `--concurrency N` after `--`.

use std::path::Path;

use logout_harness::run::{self, RunOptions};

fn main() {
    // Profiles and the rest of the run's files live in one private run dir, as with the binary
    // (src/main.rs), not loose in the system temp dir: a Chromium that writes its profile a moment
    // after its quit (docs/browser-facts.md B3) then writes inside the run dir's path, which the
    // next run's sweep removes, instead of leaving a profile behind in /tmp.
    let run_dir = logout_harness::rundir::RunDir::enter().ok();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut opts = RunOptions::defaults(root);
    opts.artifacts = root.join("target/logout-harness/test-artifacts");
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
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let code = runtime.block_on(async {
        logout_harness::process::install_signal_handler(|| {});
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
                outcome.exit_code
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
