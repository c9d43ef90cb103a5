//! Ownership of the processes the harness starts (WebDriver servers, browsers, emulator children).
//!
//! Every child is spawned in its own process group with `PR_SET_PDEATHSIG`, so that:
//! - dropping its [`ChildGuard`] ends the whole group (the driver *and* the browsers it started,
//!   which inherit the driver's group);
//! - Ctrl-C / SIGTERM / SIGHUP end every live group through [`kill_all`], called from the signal task;
//! - even a SIGKILL of the harness takes the driver down (the kernel sends the death signal).

use std::io;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Process groups that are alive right now, for the signal handler (which has no other way to
/// reach them: that is why this is process-wide).
static LIVE_GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// Temp dirs (profiles, KDC) that the signal handler removes, since `exit` runs no destructors.
static TEMP_DIRS: Mutex<Vec<std::path::PathBuf>> = Mutex::new(Vec::new());

/// Registers a temp dir to remove if the harness is interrupted.
pub fn remove_on_signal(path: &std::path::Path) {
    TEMP_DIRS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(path.to_path_buf());
}

/// Unregisters a temp dir its owner has removed.
pub fn forget_dir(path: &std::path::Path) {
    TEMP_DIRS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|p| p != path);
}

/// A child process that is ended, with its whole process group, when this guard drops.
#[derive(Debug)]
pub struct ChildGuard {
    child: Option<Child>,
    pgid: i32,
    what: String,
}

impl ChildGuard {
    /// Spawns `cmd` in a new process group that dies with the harness.
    ///
    /// Call from a long-lived thread: `PR_SET_PDEATHSIG` fires when the *spawning thread* exits,
    /// so spawning from a short-lived tokio blocking thread would kill the child early.
    pub fn spawn(mut cmd: Command, what: &str) -> io::Result<ChildGuard> {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0).stdin(Stdio::null());
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn()?;
        let pgid = child.id() as i32;
        LIVE_GROUPS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(pgid);
        Ok(ChildGuard {
            child: Some(child),
            pgid,
            what: what.to_string(),
        })
    }

    /// The child's pid (also its process group id).
    pub fn pid(&self) -> u32 {
        self.pgid as u32
    }

    /// Whether the child has exited; returns its status text if so.
    pub fn exited(&mut self) -> Option<String> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            _ => None,
        }
    }

    /// What this process is, for messages.
    pub fn what(&self) -> &str {
        &self.what
    }

    /// Ends the process group: SIGTERM, a bounded wait, then SIGKILL.
    pub fn end(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        kill_group(self.pgid, libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => {
                    kill_group(self.pgid, libc::SIGKILL);
                    let _ = child.wait();
                    break;
                }
            }
        }
        // Browsers in the group may outlive the driver by a moment; make sure none is left.
        kill_group(self.pgid, libc::SIGKILL);
        LIVE_GROUPS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|g| *g != self.pgid);
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.end();
    }
}

fn kill_group(pgid: i32, signal: i32) {
    // SAFETY: killpg on a group id we created; a stale group is harmless (ESRCH).
    unsafe {
        libc::killpg(pgid, signal);
    }
}

/// Ends every process group the harness started and removes its temp dirs. For the Ctrl-C /
/// SIGTERM handler.
pub fn kill_all() {
    let groups = std::mem::take(&mut *LIVE_GROUPS.lock().unwrap_or_else(|e| e.into_inner()));
    for pgid in groups {
        kill_group(pgid, libc::SIGKILL);
    }
    let dirs = std::mem::take(&mut *TEMP_DIRS.lock().unwrap_or_else(|e| e.into_inner()));
    for dir in dirs {
        // Browsers may still be writing for a moment after SIGKILL; one retry is enough.
        // (A dir inside the run dir is already gone with it.)
        if std::fs::remove_dir_all(&dir).is_err() && dir.exists() {
            std::thread::sleep(Duration::from_millis(100));
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

/// Installs a task that, on SIGINT, SIGTERM or SIGHUP (a closed terminal or SSH session), deletes
/// the WebDriver sessions open on servers the harness does not own ([`crate::engine::sessions`]), ends
/// every child group, removes the registered temp dirs (destructors do not run on `exit`), runs
/// `on_signal`, and exits with 130/143/129.
pub fn install_signal_handler(on_signal: impl Fn() + Send + Sync + 'static) {
    use tokio::signal::unix::{SignalKind, signal};
    tokio::spawn(async move {
        let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            return;
        };
        let code = tokio::select! {
            _ = int.recv() => 130,
            _ = term.recv() => 143,
            _ = hup.recv() => 129,
        };
        // What was judged up to the signal is written first, before the run's own end can
        // reach its reports: with every browser gone, its scenarios end at once as "not judged",
        // and that must not become the report (report::claim_in_flight).
        on_signal();
        // Sessions on a server the harness does not own (a Selenium Grid) outlive it unless
        // deleted; the harness's own drivers end theirs with their process group below.
        let left = crate::engine::sessions::end_on_exit(Duration::from_secs(5)).await;
        kill_all();
        for why in left {
            let _ = io::Write::write_all(
                &mut io::stderr(),
                format!("interrupted: a WebDriver session may be left open: {why}\n").as_bytes(),
            );
        }
        // Not eprintln!: with stderr gone (a closed pipe), it would panic this task, and the
        // process would never exit.
        let _ = io::Write::write_all(
            &mut io::stderr(),
            b"interrupted: every browser, driver and emulator process was ended\n",
        );
        std::process::exit(code);
    });
}

/// Runs `job` on one long-lived thread of the harness and returns its result.
///
/// `PR_SET_PDEATHSIG` fires when the thread that spawned a child ends, not the process; tokio's
/// blocking threads come and go, so every owned child (driver, KDC) is spawned from here.
pub fn on_spawner_thread<T: Send + 'static>(
    job: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    use std::sync::OnceLock;
    use std::sync::mpsc;
    type Job = Box<dyn FnOnce() + Send>;
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    let sender = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("logout-harness-spawner".into())
            .spawn(move || {
                for job in rx {
                    job();
                }
            })
            .expect("spawner thread");
        Mutex::new(tx)
    });
    let (tx, rx) = mpsc::channel();
    let gone = || io::Error::other("the spawner thread is gone");
    sender
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send(Box::new(move || {
            let _ = tx.send(job());
        }))
        .map_err(|_| gone())?;
    rx.recv().map_err(|_| gone())?
}

/// Adds a process group the harness did not spawn through [`ChildGuard`] (the KDC) to those the
/// signal handler ends.
pub fn adopt_group(pgid: i32) {
    LIVE_GROUPS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(pgid);
}

/// Removes a group added by [`adopt_group`] once its owner has ended it.
pub fn forget_group(pgid: i32) {
    LIVE_GROUPS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|g| *g != pgid);
}

/// Finds a program on PATH (or at an absolute path).
pub fn which(program: &str) -> Option<std::path::PathBuf> {
    let p = std::path::Path::new(program);
    if p.is_absolute() {
        return p.is_file().then(|| p.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}
