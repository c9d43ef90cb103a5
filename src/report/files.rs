//! Writing reports to disk: whole or not at all ([`write_file`]), checked before a run starts
//! ([`check_writable`]), and written from what was judged when the run is interrupted
//! ([`write_interrupted`]).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::report::findings::{Collector, Findings, redact_findings, redact_hosts};
use crate::report::html::html;
use crate::report::json::json;
use crate::report::junit::junit;

/// The findings of the run under way and where its reports go, so an interrupted run can still
/// write what it judged ([`write_interrupted`]). Process-wide because the signal handler writes
/// them from no context but this.
pub(crate) type InFlight = (std::sync::Arc<Collector>, ReportPaths);

/// Where a run's reports go: `--junit`, `--json` and `--html` (each `None` when not written).
#[derive(Clone, Debug, Default)]
pub struct ReportPaths {
    /// JUnit XML.
    pub junit: Option<PathBuf>,
    /// JSON.
    pub json: Option<PathBuf>,
    /// The HTML report.
    pub html: Option<PathBuf>,
    /// `--redact-hosts`: host names replaced in every report.
    pub redact_hosts: bool,
}
static IN_FLIGHT: Mutex<Option<InFlight>> = Mutex::new(None);

/// Registers the run under way: its collector, and where its reports go.
pub fn set_in_flight(collector: std::sync::Arc<Collector>, paths: ReportPaths) {
    *IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner()) = Some((collector, paths));
}

/// The run's normal end claims its reports from the signal handler. `None`: the handler has
/// them (it writes them, marked incomplete, and exits the process). `Some`: the run writes them
/// while holding the guard, and a signal arriving meanwhile waits for it, finds nothing to write,
/// and leaves the run's reports whole.
pub(crate) fn claim_in_flight() -> Option<std::sync::MutexGuard<'static, Option<InFlight>>> {
    let mut guard = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner());
    guard.take().map(|_| guard)
}

/// On Ctrl-C or SIGTERM: writes the reports of what the run judged so far, marked incomplete
/// (JSON `"incomplete": true`, a JUnit property `incomplete`). Called first thing by the signal
/// handler, then the browsers are ended.
pub fn write_interrupted() {
    let Some((collector, paths)) = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner()).take()
    else {
        return;
    };
    // Redacted like every report (an evidence line may quote a URL that carries a password).
    let mut findings = redact_findings(collector.take());
    if paths.redact_hosts {
        findings = redact_hosts(findings);
    }
    findings.incomplete = true;
    findings.notes.push(
        "the run was interrupted: these are the findings up to then; scenarios that had not \
         ended are missing"
            .into(),
    );
    type Writer = fn(&Findings) -> String;
    let reports: [(&str, &Option<PathBuf>, Writer); 3] = [
        ("JUnit", &paths.junit, junit),
        ("JSON", &paths.json, json),
        ("HTML", &paths.html, html),
    ];
    for (what, path, writer) in reports {
        let Some(path) = path else { continue };
        match make_folder_of(path).and_then(|()| write_file(path, &writer(&findings))) {
            Ok(()) => eprintln!(
                "interrupted: partial {what} report written to {}",
                path.display()
            ),
            Err(e) => eprintln!(
                "interrupted: cannot write the {what} report {}: {e}",
                path.display()
            ),
        }
    }
}

/// Exclusive locks on the folders of a run's reports, held while it writes them: two runs that
/// end at once with the same `--json` and `--junit` leave one run's pair, never the JSON of one
/// and the JUnit of the other. Released on drop (and by the kernel if the process dies).
#[derive(Debug)]
pub struct ReportsLock {
    _dirs: Vec<std::fs::File>,
}

impl ReportsLock {
    /// Waits for, then takes, the lock of each folder that holds one of `paths` (in one order,
    /// so two runs never wait on each other crosswise). A folder that cannot be opened is not
    /// locked: the write itself then says what is wrong.
    pub fn take(paths: &[&Path]) -> ReportsLock {
        use std::os::fd::AsRawFd as _;
        let mut dirs: Vec<std::path::PathBuf> = paths
            .iter()
            .map(|p| {
                let dir = p
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
            })
            .collect();
        dirs.sort();
        dirs.dedup();
        let mut held = Vec::new();
        for dir in dirs {
            let Ok(f) = std::fs::File::open(&dir) else {
                continue;
            };
            // SAFETY: flock(2) on a descriptor this function owns.
            if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } == 0 {
                held.push(f);
            }
        }
        ReportsLock { _dirs: held }
    }
}

/// Makes the folder `path` is in, private (0700) as the artifacts' folders are, when it does not
/// exist yet: the HTML report's default place is `--artifacts`, which only a failed scenario
/// would otherwise make. A folder the checks before the run found is left as it is.
pub fn make_folder_of(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) if !dir.exists() => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir),
        _ => Ok(()),
    }
}

/// Writes `text` to `path` whole: to a temp file beside it, then renamed, so a reader never sees
/// half a report.
pub fn write_file(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // Written beside the target, synced, then renamed over it: a reader (or a crash) sees the old
    // report or the new one, never half of one.
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Whether a report can be written at `path`, checked before a run starts so a typo does not
/// cost the whole run: its folder exists and takes a new file, and `path` is not a folder.
/// Nothing is left behind.
pub fn check_writable(path: &Path) -> Result<(), String> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if dir.exists() && !dir.is_dir() {
        return Err(format!(
            "cannot write {}: {} is a file, not a folder; name a file in an existing folder",
            path.display(),
            dir.display()
        ));
    }
    if !dir.is_dir() {
        return Err(format!(
            "cannot write {}: the folder {} does not exist; create it or name a file in an \
             existing folder",
            path.display(),
            dir.display()
        ));
    }
    if path.is_dir() {
        return Err(format!(
            "{} is a folder; name a file (e.g. {})",
            path.display(),
            path.join("report").display()
        ));
    }
    // A report replaces its file whole (a temp file renamed over it): a device such as
    // /dev/null, a FIFO or a symbolic link would be replaced by a regular file, so only a
    // regular file (or a new one) is taken.
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        let what = if meta.file_type().is_symlink() {
            Some("a symbolic link")
        } else if !meta.is_file() {
            Some("not a regular file (a device, FIFO or socket)")
        } else {
            None
        };
        if let Some(what) = what {
            return Err(format!(
                "{} is {what}: reports are written to regular files only, whole, so it would be \
                 replaced; name a regular file (a new one or an earlier report)",
                path.display()
            ));
        }
    }
    tempfile::NamedTempFile::new_in(dir).map(drop).map_err(|e| {
        format!(
            "cannot write {}: the folder {} does not take new files ({e}); name a writable folder",
            path.display(),
            dir.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_of_the_same_reports_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("r.json");
        let junit = dir.path().join("r.xml");
        let first = ReportsLock::take(&[&json, &junit]);
        let (json2, junit2) = (json.clone(), junit.clone());
        let waited = std::thread::spawn(move || {
            let t = std::time::Instant::now();
            let _second = ReportsLock::take(&[&junit2, &json2]);
            t.elapsed()
        });
        std::thread::sleep(std::time::Duration::from_millis(300));
        drop(first);
        let waited = waited.join().unwrap();
        assert!(
            waited >= std::time::Duration::from_millis(250),
            "{waited:?}"
        );
    }
}
