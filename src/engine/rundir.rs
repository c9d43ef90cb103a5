//! One private directory (mode 0700) per run of the harness, holding everything the run keeps on
//! disk: browser profiles (with live session cookies), the driver's scratch dir, the Kerberos
//! realm (keytabs, credential caches), the trust store, the built-in features' copy.
//!
//! Destructors and the signal handler remove it; a run that was killed with SIGKILL (or lost its
//! power) cannot, so each start sweeps the run dirs whose owner process is gone.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::config::builtin;

/// The prefix of every run dir in the system temp dir.
pub const PREFIX: &str = "logout-harness-run-";

/// The file in a run dir naming its owner: `pid start-time` (the start time tells a reused pid
/// apart from the owner).
const OWNER: &str = "owner";

/// The run dir of this process, while a [`RunDir`] lives. Process-wide because the signal
/// handler removes it, and every temp folder is made inside it, from no context but this.
static CURRENT: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Where the harness creates its temp dirs: the run dir while one lives, else the system temp dir.
pub fn base() -> PathBuf {
    CURRENT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_else(std::env::temp_dir)
}

/// The run dir, while one lives.
pub fn current() -> Option<PathBuf> {
    CURRENT.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// A temp dir builder under [`base`], named `prefix` + random.
pub fn tempdir(prefix: &str) -> io::Result<tempfile::TempDir> {
    tempfile::Builder::new().prefix(prefix).tempdir_in(base())
}

/// This process's run dir; removed (with everything in it) on drop and by the signal handler.
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// Sweeps the run dirs of dead runs, then creates this run's and makes it [`base`].
    pub fn enter() -> io::Result<RunDir> {
        let parent = std::env::temp_dir();
        sweep(&parent);
        let pid = std::process::id();
        let dir = tempfile::Builder::new()
            .prefix(&format!("{PREFIX}{pid}-"))
            .tempdir_in(&parent)?
            .keep();
        let guard = RunDir { path: dir };
        std::fs::set_permissions(
            &guard.path,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )?;
        let start = start_time(pid).unwrap_or_default();
        std::fs::write(
            guard.path.join(OWNER),
            format!("{pid} {start} {}\n", pid_namespace().unwrap_or_default()),
        )?;
        crate::engine::process::remove_on_signal(&guard.path);
        *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = Some(guard.path.clone());
        Ok(guard)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = None;
        crate::engine::process::forget_dir(&self.path);
        // A browser killed a moment ago may still be finishing a write: retry briefly.
        for _ in 0..10 {
            if std::fs::remove_dir_all(&self.path).is_ok() || !self.path.exists() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

/// Below this much free space where the run keeps its files, a browser may fail to start
/// (Chromium writes its profile and caches there, about 1-5 MB per browser; measured: one
/// Chromium 14x starts with 600 KB free and hangs at start with 200 KB free, until the new-session
/// deadline).
pub const LOW_SPACE: u64 = 16 * 1024 * 1024;

/// Free bytes (for this user) on the file system holding `path`, if the system says.
pub fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: `c` is a valid NUL-terminated path; `stat` is a plain struct written by the call.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: see above.
    if unsafe { libc::statvfs(c.as_ptr(), &mut stat) } != 0 {
        return None;
    }
    #[allow(clippy::unnecessary_cast)] // the field types differ between targets
    Some(stat.f_bavail as u64 * stat.f_frsize as u64)
}

/// A sentence naming a file system with too little room for a browser to start, where the run
/// keeps its files: `None` when there is room (or the system cannot say).
pub fn low_space() -> Option<String> {
    let free = free_bytes(&base())?;
    let dir = std::env::temp_dir();
    (free < LOW_SPACE).then(|| {
        format!(
            "the file system of the temp folder {} has only {} KB free; a browser writes its \
             profile there and may not start (free some space, or point TMPDIR at a file system \
             with room)",
            dir.display(),
            free / 1024
        )
    })
}

/// Removes the run dirs in `parent` whose owner process is gone (a run killed with SIGKILL);
/// returns how many. Only dirs of this user are touched.
pub fn sweep(parent: &Path) -> usize {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(parent) else {
        return 0;
    };
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)) else {
            continue;
        };
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
            continue;
        };
        if !meta.is_dir() || meta.uid() != me {
            continue;
        }
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let owner = std::fs::read_to_string(entry.path().join(OWNER)).ok();
        if !owner_is_gone(pid, owner.as_deref()) {
            continue;
        }
        if std::fs::remove_dir_all(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Whether the process that created a run dir has ended: no process `pid`, or one started at a
/// different time (the pid was reused). A run of another PID namespace (another container
/// sharing this temp dir) is never taken for gone: its pid means nothing here.
fn owner_is_gone(pid: u32, owner: Option<&str>) -> bool {
    let fields: Vec<&str> = owner
        .map(|o| o.split_whitespace().collect())
        .unwrap_or_default();
    // Written by a run that named its PID namespace: another namespace's is not ours to judge.
    // (One that named none is from an older harness, judged as before.)
    if let Some(ns) = fields.get(2)
        && Some(ns.to_string()) != pid_namespace()
    {
        return false;
    }
    let Some(now) = start_time(pid) else {
        return true;
    };
    // No owner file yet: the run is starting this very moment.
    let Some(recorded) = fields.get(1) else {
        return false;
    };
    *recorded != now.to_string()
}

/// This process's PID namespace (`pid:[4026531836]`), as `/proc/self/ns/pid` names it.
fn pid_namespace() -> Option<String> {
    std::fs::read_link("/proc/self/ns/pid")
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// When process `pid` started (clock ticks since boot, `/proc/PID/stat` field 22).
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses: count after the last `)`.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

/// The built-in files written to a private temp folder for one run; removed when dropped (and on
/// Ctrl-C, through the process module's cleanup).
#[derive(Debug)]
pub struct Unpacked {
    dir: tempfile::TempDir,
}

impl Unpacked {
    /// Writes every built-in file under a new temp folder, keeping the repository's layout.
    pub fn new() -> std::io::Result<Unpacked> {
        let dir = tempdir(builtin::PREFIX)?;
        crate::engine::process::remove_on_signal(dir.path());
        for (rel, text) in builtin::files() {
            let path = dir.path().join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, text)?;
        }
        Ok(Unpacked { dir })
    }

    /// The folder laid out like the repository (`features/`, `fixtures/policies/`).
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The built-in features folder.
    pub fn features(&self) -> PathBuf {
        self.root().join(builtin::FEATURES)
    }

    /// The built-in baseline snapshots of the embedded targets (a copy: compared, never kept).
    pub fn snapshots(&self) -> PathBuf {
        self.root().join(builtin::SNAPSHOTS)
    }

    /// The unpacked copy of the built-in policy `name`.
    pub fn policy(&self, name: &str) -> Option<PathBuf> {
        builtin::policy_path(name).map(|p| self.root().join(p))
    }

    /// How messages name `path`: see [`builtin::label`].
    pub fn label(&self, path: &Path) -> String {
        builtin::label(path)
    }
}

impl Drop for Unpacked {
    fn drop(&mut self) {
        crate::engine::process::forget_dir(self.dir.path());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_removes_dead_runs_only() {
        let parent = tempfile::tempdir().unwrap();
        let me = std::process::id();
        let mine = parent.path().join(format!("{PREFIX}{me}-a"));
        std::fs::create_dir(&mine).unwrap();
        std::fs::write(
            mine.join(OWNER),
            format!("{me} {}\n", start_time(me).unwrap()),
        )
        .unwrap();
        // A pid that cannot exist (above the kernel's pid_max limit of 2^22).
        let dead = parent.path().join(format!("{PREFIX}4999999-b"));
        std::fs::create_dir_all(dead.join("profile/Default")).unwrap();
        std::fs::write(dead.join("profile/Default/Cookies"), "session").unwrap();
        // This pid, but a different start time: a reused pid.
        let reused = parent.path().join(format!("{PREFIX}{me}-c"));
        std::fs::create_dir(&reused).unwrap();
        std::fs::write(reused.join(OWNER), format!("{me} 1\n")).unwrap();
        let other = parent.path().join("something-else");
        std::fs::create_dir(&other).unwrap();
        // A live run of another PID namespace (a container sharing the temp dir): its pid is
        // not visible here, and its dir is not ours to remove.
        let elsewhere = parent.path().join(format!("{PREFIX}4999998-d"));
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::write(elsewhere.join(OWNER), "4999998 77 pid:[1]\n").unwrap();
        assert_eq!(sweep(parent.path()), 2);
        assert!(mine.is_dir() && other.is_dir() && elsewhere.is_dir());
        assert!(!dead.exists() && !reused.exists());
    }

    #[test]
    fn start_time_reads_this_process() {
        assert!(start_time(std::process::id()).is_some());
        assert!(start_time(4_999_999).is_none());
    }
}
