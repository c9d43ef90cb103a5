//! `logout-harness snapshots review|accept`: the cookie snapshots a run left for review
//! (`NAME.snap.new` beside `NAME.snap`), shown as diffs and accepted with the binary alone;
//! `cargo insta review` reads the same files, for those who have it.

use std::path::{Path, PathBuf};

use crate::observe::snapshot;

/// The arguments of `snapshots`.
#[derive(Debug, clap::Args)]
pub struct SnapshotsArgs {
    #[command(subcommand)]
    action: SnapshotsAction,
}

/// Where the snapshots are: `--snapshots`, else beside `--target` (as a run keeps them), else the
/// repository's `features/snapshots` when run from a checkout.
#[derive(Debug, clap::Args)]
struct Where {
    /// The snapshot folder (as given to `run --snapshots`).
    #[arg(long, value_name = "DIR")]
    snapshots: Option<PathBuf>,
    /// The target file whose snapshots these are (`snapshots/` beside it).
    #[arg(long, value_name = "FILE")]
    target: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
enum SnapshotsAction {
    /// Show each snapshot awaiting review with its diff (`+` seen by the run, `-` only in the
    /// baseline).
    Review(Where),
    /// Make the snapshots awaiting review (all, or those named) the new baseline.
    Accept {
        #[command(flatten)]
        place: Where,
        /// Only these snapshots (names as `review` lists them).
        names: Vec<String>,
    },
}

impl Where {
    fn dir(&self, repository: Option<PathBuf>) -> Result<PathBuf, String> {
        if let Some(dir) = &self.snapshots {
            return Ok(dir.clone());
        }
        if let Some(target) = &self.target {
            let beside = target
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            return Ok(beside.join("snapshots"));
        }
        repository.ok_or_else(|| {
            "name the snapshots: --snapshots DIR (as given to run), or --target FILE (its \
             snapshots/ folder)"
                .to_string()
        })
    }
}

/// Runs `snapshots review` or `accept`; `repository` is the checkout's `features/snapshots` when
/// run from one. Exit 0, or 2 with what to give.
pub fn snapshots(args: &SnapshotsArgs, repository: Option<PathBuf>) -> i32 {
    let place = match &args.action {
        SnapshotsAction::Review(w) => w,
        SnapshotsAction::Accept { place, .. } => place,
    };
    let dir = match place.dir(repository) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let pending = match snapshot::pending(&dir) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    match &args.action {
        SnapshotsAction::Review(_) => {
            for p in &pending {
                println!("{} ({}):", p.name, p.file.display());
                for line in p.diff.lines() {
                    println!("  {line}");
                }
            }
            if pending.is_empty() {
                println!("no snapshot awaits review in {}", dir.display());
            } else {
                println!(
                    "{} snapshot(s) await review; accept them with `logout-harness snapshots \
                     accept{}`",
                    pending.len(),
                    place_args(place)
                );
            }
            0
        }
        SnapshotsAction::Accept { names, .. } => {
            for name in names {
                if !pending.iter().any(|p| p.name == *name) {
                    eprintln!(
                        "error: no snapshot named {name} awaits review in {}; `logout-harness \
                         snapshots review{}` lists them",
                        dir.display(),
                        place_args(place)
                    );
                    return 2;
                }
            }
            let chosen = pending
                .iter()
                .filter(|p| names.is_empty() || names.contains(&p.name));
            let mut accepted = 0;
            for p in chosen {
                match snapshot::accept(&dir, &p.name) {
                    Ok(file) => {
                        accepted += 1;
                        println!("accepted {}", file.display());
                    }
                    Err(e) => {
                        eprintln!("error: {e}");
                        return 2;
                    }
                }
            }
            if accepted == 0 {
                println!("no snapshot awaits review in {}", dir.display());
            }
            0
        }
    }
}

/// The place options as given, to repeat them in advice.
fn place_args(place: &Where) -> String {
    match (&place.snapshots, &place.target) {
        (Some(d), _) => format!(" --snapshots {}", d.display()),
        (None, Some(t)) => format!(" --target {}", t.display()),
        (None, None) => String::new(),
    }
}
