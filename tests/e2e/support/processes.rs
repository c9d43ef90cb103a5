//! Which processes a test's harness run left behind: the tests give each run a temp dir of its
//! own (`TMPDIR`), so its browsers, drivers and KDC can be told from anyone else's on the machine.

use std::path::Path;
use std::time::{Duration, Instant};

/// Processes whose command line or environment mentions `dir`.
pub fn processes_using(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy().into_owned();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(&needle)
            || String::from_utf8_lossy(&environ).contains(&needle)
        {
            found.push(format!(
                "{name}: {}",
                String::from_utf8_lossy(&cmdline).replace('\0', " ")
            ));
        }
    }
    found
}

/// None of the processes a run started under `dir` may outlive it. Chromium's zygotes linger
/// ~1.5 s after a clean quit (docs/browser-facts.md B3), so this polls for up to 8 s before
/// judging.
pub fn assert_no_processes_left(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        let left = processes_using(dir);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "processes left behind:\n{}",
            left.join("\n")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A child process ended on drop: SIGTERM first (a `logout-harness sim` then stops its KDC and
/// removes its temp dirs), SIGKILL if it lingers.
pub struct Guarded(pub std::process::Child);

impl Drop for Guarded {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.0.id()) {
            // SAFETY: signalling our own child by its pid.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits (up to `limit`) for `child` to exit and returns its status; fails the test with `what`
/// when it has not.
pub fn wait_exit(
    child: &mut std::process::Child,
    limit: Duration,
    what: &str,
) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Spawns `cmd` with its stdout piped (stderr dropped), ended on drop, and returns it with the
/// first line it printed (a server's ready line), waiting at most a minute for it.
pub fn spawn_ready(cmd: &mut std::process::Command) -> (Guarded, String) {
    use std::io::BufRead as _;
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the command starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let child = Guarded(child);
    // Read on a thread of its own: a child that prints nothing must not hang the test.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the command prints its ready line");
    (child, line)
}
