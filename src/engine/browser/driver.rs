//! The WebDriver server the harness starts for a browser family ([`Driver`]): chromedriver,
//! msedgedriver or geckodriver on a free port, ended with every browser it started.

use super::*;

/// A WebDriver server the harness started; ended (with its browsers) on drop.
#[derive(Debug)]
pub struct Driver {
    pub(super) url: String,
    pub(super) _guard: ChildGuard,
    pub(super) _dir: tempfile::TempDir,
    /// The browsers' scratch dir when the run's own is too deep for Chromium's socket.
    pub(super) _short_scratch: Option<tempfile::TempDir>,
    pub(super) chromium_wrapper: PathBuf,
}

/// The longest Unix socket path (`sun_path` is 108 bytes with its NUL).
pub const UNIX_SOCKET_PATH_MAX: usize = 107;
/// What Chromium adds to TMPDIR for its socket: `/.org.chromium.Chromium.XXXXXX/SingletonSocket`.
pub const CHROMIUM_SOCKET_SUFFIX: usize = 46;

/// How a WebDriver server of the harness's own is started: its program, and the environment it
/// and its browsers get.
#[derive(Debug)]
pub(super) struct DriverSpawn {
    pub(super) kind: BrowserKind,
    pub(super) program: PathBuf,
    pub(super) env: Vec<(OsString, OsString)>,
    pub(super) scratch: PathBuf,
}

/// The harness's own Firefox drivers by URL. geckodriver serves one session at a time, so each
/// Firefox session is given a geckodriver of its own, started as the driver at that URL was (the
/// same environment: trust store, Kerberos cache). Process-wide only because sessions are asked
/// for by URL (a pass's drivers per person are URLs); the one static here that signal handling
/// does not need.
static OWN_GECKODRIVERS: Mutex<Vec<(String, Arc<DriverSpawn>)>> = Mutex::new(Vec::new());

pub(super) fn own_geckodriver(url: &str) -> Option<Arc<DriverSpawn>> {
    lock(&OWN_GECKODRIVERS)
        .iter()
        .find(|(u, _)| u == url)
        .map(|(_, spawn)| spawn.clone())
}

impl DriverSpawn {
    /// Starts the server on a free loopback port; its URL and process once it reports ready.
    pub(super) async fn start(&self) -> Result<(String, ChildGuard), BrowserError> {
        let mut last_err = String::new();
        for _attempt in 0..3 {
            let port = free_port()?;
            let mut cmd = Command::new(&self.program);
            cmd.arg(format!("--port={port}"));
            match self.kind {
                // --websocket-port=0: the BiDi port of each Firefox is its own (the default,
                // 9222, would be one port for every Firefox at once).
                BrowserKind::Firefox => {
                    cmd.args(["--host=127.0.0.1", "--log=error", "--websocket-port=0"])
                }
                // No --allowed-ips: with it chromedriver listens on every interface (it only
                // filters callers); without it, it binds 127.0.0.1 and ::1 alone (checked with
                // `ss -ltnp`).
                _ => cmd.arg("--log-level=OFF"),
            };
            cmd.stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            cmd.env("TMPDIR", &self.scratch);
            // Chromium keeps crash reports and caches under the XDG folders of $HOME even with a
            // profile of its own: the run's scratch dir keeps them out of the user's home.
            cmd.env("XDG_CONFIG_HOME", self.scratch.join("xdg-config"))
                .env("XDG_CACHE_HOME", self.scratch.join("xdg-cache"));
            for (k, v) in &self.env {
                cmd.env(k, v);
            }
            let mut guard = spawn_on_main_thread(cmd, self.kind.driver_program())?;
            let url = format!("http://127.0.0.1:{port}");
            match wait_ready(&url, &mut guard, Duration::from_secs(10)).await {
                Ok(()) => return Ok((url, guard)),
                Err(e) => last_err = e,
            }
        }
        Err(BrowserError::DriverStart(last_err))
    }
}

impl Driver {
    /// Starts chromedriver (for Chromium) on a free loopback port and waits until it reports
    /// ready; see [`Driver::start_for`].
    pub async fn start(env: &[(OsString, OsString)]) -> Result<Driver, BrowserError> {
        Driver::start_for(BrowserKind::Chromium, env).await
    }

    /// Starts the WebDriver server of `kind` on a free loopback port and waits until it reports
    /// ready.
    ///
    /// `env` is given to the driver process only (and so to the browsers it starts): this is how
    /// Kerberos variables reach the browser without touching the harness's own environment.
    pub async fn start_for(
        kind: BrowserKind,
        env: &[(OsString, OsString)],
    ) -> Result<Driver, BrowserError> {
        let program = kind.find_driver()?;
        let browser = kind.find_binary()?;
        let dir = crate::engine::rundir::tempdir("logout-harness-driver-")?;
        crate::engine::process::remove_on_signal(dir.path());
        // setpriv makes the browser die with its driver even if the harness is SIGKILLed
        // (chromedriver itself does not end Chromium on SIGTERM).
        let chromium_wrapper = dir.path().join(kind.to_string());
        // A driver that dies before the death signal is armed never sends it (prctl(2)): once
        // armed, the browser checks that its parent is still the driver that started it.
        let launcher = match which("setpriv") {
            Some(setpriv) => format!(
                "driver=$PPID\nexec {} --pdeathsig KILL /bin/sh -c \
                 '[ \"$(cut -d\" \" -f4 /proc/$$/stat)\" = \"$0\" ] || exit 1; exec \"$@\"' \
                 \"$driver\" {}",
                setpriv.display(),
                browser.display()
            ),
            None => format!("exec {}", browser.display()),
        };
        std::fs::write(&chromium_wrapper, format!("#!/bin/sh\n{launcher} \"$@\"\n"))?;
        std::fs::set_permissions(
            &chromium_wrapper,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )?;
        // The browser's own scratch dirs go under ours, so nothing of a run outlives it: the run
        // dir itself when there is one, since Chromium's SingletonSocket path (under TMPDIR)
        // must stay within the 108 bytes of a Unix socket address.
        let scratch = crate::engine::rundir::current().unwrap_or_else(|| dir.path().to_path_buf());
        // Chromium's socket is `<TMPDIR>/.org.chromium.Chromium.XXXXXX/SingletonSocket`: under a
        // long TMPDIR it passes the 107 bytes of a Unix socket address, and Chromium exits at
        // start with no word why. Such a run's browsers get a short private dir in /tmp.
        let (scratch, short_scratch) =
            if scratch.as_os_str().len() + CHROMIUM_SOCKET_SUFFIX > UNIX_SOCKET_PATH_MAX {
                let short = tempfile::Builder::new()
                .prefix("lh-")
                .tempdir_in("/tmp")
                .map_err(|e| {
                    BrowserError::DriverStart(format!(
                        "TMPDIR {} is too long for Chromium's socket path ({UNIX_SOCKET_PATH_MAX} \
                         bytes), and /tmp has no room for a shorter one ({e}); set TMPDIR to a \
                         shorter path",
                        scratch.display()
                    ))
                })?;
                crate::engine::process::remove_on_signal(short.path());
                (short.path().to_path_buf(), Some(short))
            } else {
                (scratch, None)
            };
        let spawn = Arc::new(DriverSpawn {
            kind,
            program,
            env: env.to_vec(),
            scratch,
        });
        let (url, guard) = spawn.start().await?;
        // Its sessions end with its process group; no DELETE needed on exit.
        crate::engine::sessions::own_server(&url);
        if kind == BrowserKind::Firefox {
            lock(&OWN_GECKODRIVERS).push((url.clone(), spawn));
        }
        Ok(Driver {
            url,
            _guard: guard,
            _dir: dir,
            _short_scratch: short_scratch,
            chromium_wrapper,
        })
    }

    /// The WebDriver URL to connect sessions to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The browser binary sessions of this driver use (a wrapper that dies with the driver).
    pub fn browser_binary(&self) -> &Path {
        &self.chromium_wrapper
    }
}

fn spawn_on_main_thread(cmd: Command, what: &str) -> Result<ChildGuard, BrowserError> {
    let what_owned = what.to_string();
    crate::engine::process::on_spawner_thread(move || ChildGuard::spawn(cmd, &what_owned))
        .map_err(|e| BrowserError::DriverStart(format!("cannot run {what}: {e}")))
}

async fn wait_ready(url: &str, guard: &mut ChildGuard, limit: Duration) -> Result<(), String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| e.to_string())?;
    // A driver that exits while starting is an answer too: stop waiting for it.
    let exited = std::cell::RefCell::new(None);
    let ready = crate::engine::wait::Wait::at_most(limit)
        .every(Duration::from_millis(15))
        .until(|| {
            let (http, exited, guard) = (&http, &exited, &mut *guard);
            let status = guard.exited();
            async move {
                if let Some(status) = status {
                    *exited.borrow_mut() = Some(status);
                    return Some(());
                }
                let resp = http.get(format!("{url}/status")).send().await.ok()?;
                let body = resp.json::<Value>().await.ok()?;
                (body["value"]["ready"].as_bool() == Some(true)).then_some(())
            }
        })
        .await;
    match (exited.into_inner(), ready) {
        (Some(status), _) => Err(format!("{} exited ({status})", guard.what())),
        (None, Ok(())) => Ok(()),
        (None, Err(_)) => Err(format!(
            "{} did not report ready within {limit:?}",
            guard.what()
        )),
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl Drop for Driver {
    fn drop(&mut self) {
        crate::engine::sessions::disown_server(&self.url);
        lock(&OWN_GECKODRIVERS).retain(|(url, _)| *url != self.url);
        crate::engine::process::forget_dir(self._dir.path());
    }
}
