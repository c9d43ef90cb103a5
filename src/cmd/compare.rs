//! `logout-harness compare BEFORE AFTER`: what changed between two runs (before and after an
//! upgrade, a timeout change, a patch), printed and, with `--html`, written as a page.

use std::path::PathBuf;

use crate::report::compare;

/// The arguments of `compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The earlier run: its JSON report (--json), or the folder it is in.
    #[arg(value_name = "BEFORE")]
    before: PathBuf,
    /// The later run: its JSON report, or the folder it is in.
    #[arg(value_name = "AFTER")]
    after: PathBuf,
    /// Also write the comparison as a self-contained HTML page here.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

/// Compares the runs: exit 0 when nothing changed, 1 when something did, 2 when a report cannot
/// be read (the message names the file and what to give instead).
pub fn compare(args: &CompareArgs) -> i32 {
    let read = |p: &std::path::Path| compare::find_report(p).and_then(|f| compare::read_report(&f));
    let (before, after) = match (read(&args.before), read(&args.after)) {
        (Ok(b), Ok(a)) => (b, a),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let changes = compare::compare(&before, &after);
    print!("{}", compare::text(&before, &after, &changes));
    if let Some(path) = &args.html {
        if let Err(e) = crate::report::check_writable(path) {
            eprintln!("error: --html: {e}");
            return 2;
        }
        if let Err(e) = crate::report::write_file(path, &compare::html(&before, &after, &changes)) {
            eprintln!("error: --html {}: {e}", path.display());
            return 2;
        }
        eprintln!("comparison: {}", path.display());
    }
    if changes.is_empty() { 0 } else { 1 }
}
