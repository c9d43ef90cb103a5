//! Browsers driven through WebDriver: a local chromedriver the harness owns, or any WebDriver URL
//! (a Selenium Grid, a driver someone else started).
//!
//! - [`Driver`] starts the browser's WebDriver server (chromedriver, msedgedriver, geckodriver) on a
//!   free port and ends it (and every browser it started).
//! - [`Profile`] is a browser profile directory; reopening a browser on the same profile is how
//!   "close the browser and open it again" is done.
//! - [`Browser`] is one WebDriver session ([W3C WebDriver §8](https://www.w3.org/TR/webdriver2/#sessions))
//!   with the harness's capabilities, plus the whole cookie jar through CDP (`Storage.getCookies`):
//!   plain WebDriver returns only the current document's cookies
//!   ([§14](https://www.w3.org/TR/webdriver2/#cookies)); Firefox's through WebDriver BiDi
//!   (`storage.getCookies`, see [`crate::firefox`]).

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::process::{ChildGuard, which};

/// Why a browser could not be had. Each of these is "the harness could not judge" (exit 2).
#[derive(Debug)]
pub enum BrowserError {
    /// chromedriver or the browser binary is not installed.
    NotInstalled {
        /// What is missing.
        what: String,
        /// How to get it.
        hint: String,
    },
    /// The WebDriver server did not start or answer in time.
    DriverStart(String),
    /// The WebDriver server refused to create a session (the browser did not start).
    NewSession(String),
    /// A WebDriver command failed.
    Command(String),
    /// The browser refused the server's certificate (Chromium showed its certificate error page):
    /// nothing can be observed until the browser trusts the right CA. The text names the host,
    /// Chromium's error code and the fix.
    Certificate(String),
    /// Writing the profile or the browser wrapper failed.
    Io(std::io::Error),
}

impl fmt::Display for BrowserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BrowserError::NotInstalled { what, hint } => {
                write!(f, "{what} is not installed; {hint}")
            }
            BrowserError::DriverStart(m) => write!(f, "the WebDriver server did not start: {m}"),
            BrowserError::NewSession(m) => write!(f, "the browser did not start: {m}"),
            BrowserError::Command(m) => write!(f, "WebDriver command failed: {m}"),
            BrowserError::Certificate(m) => f.write_str(m),
            BrowserError::Io(e) => write!(f, "browser profile: {e}"),
        }
    }
}

impl std::error::Error for BrowserError {}

impl BrowserError {
    /// Whether a navigation ended on the browser's network error page (a host that does not
    /// resolve, a refused connection): Chromium names a `net::ERR_` code, Firefox fails the
    /// navigation with "Reached error page: about:neterror?e=...".
    pub fn is_network_error_page(&self) -> bool {
        let text = self.to_string();
        text.contains("net::ERR_") || text.contains("about:neterror")
    }
}

impl From<fantoccini::error::CmdError> for BrowserError {
    fn from(e: fantoccini::error::CmdError) -> Self {
        BrowserError::Command(e.to_string())
    }
}

impl From<std::io::Error> for BrowserError {
    fn from(e: std::io::Error) -> Self {
        BrowserError::Io(e)
    }
}

/// Which browser family the capabilities are for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BrowserKind {
    /// Debian's Chromium (the default; what CI runs).
    Chromium,
    /// Google Chrome.
    Chrome,
    /// Microsoft Edge.
    Edge,
    /// Mozilla Firefox (Debian's firefox-esr), through geckodriver.
    Firefox,
}

impl BrowserKind {
    /// The WebDriver server the harness starts for this browser.
    pub fn driver_program(self) -> &'static str {
        match self {
            BrowserKind::Chromium | BrowserKind::Chrome => "chromedriver",
            BrowserKind::Edge => "msedgedriver",
            BrowserKind::Firefox => "geckodriver",
        }
    }

    /// Whether the browser's contexts come from the Chrome DevTools Protocol, so that one
    /// browser process serves the contexts of several WebDriver sessions (the Chromium family).
    pub fn has_devtools_contexts(self) -> bool {
        self != BrowserKind::Firefox
    }

    /// Where the WebDriver server is: on PATH, or (geckodriver) in the `ci-tools/bin` of the
    /// cargo target folder this program runs from (where `ci/setup` builds it in a checkout:
    /// `target/debug/logout-harness` finds `target/ci-tools/bin`), or where `cargo install`
    /// puts it, `~/.cargo/bin`. Never a path compiled in: an installed binary has no checkout.
    pub fn find_driver(self) -> Result<PathBuf, BrowserError> {
        let program = self.driver_program();
        let beside_build = std::env::current_exe().ok().and_then(|exe| {
            exe.ancestors()
                .skip(1)
                .take(3)
                .map(|dir| dir.join("ci-tools/bin").join(program))
                .find(|p| p.is_file())
        });
        let cargo_bin = std::env::var_os("HOME")
            .map(|home| Path::new(&home).join(".cargo/bin").join(program))
            .filter(|p| p.is_file());
        let found = which(program).or_else(|| {
            (self == BrowserKind::Firefox)
                .then(|| beside_build.or(cargo_bin))
                .flatten()
        });
        found.ok_or_else(|| BrowserError::NotInstalled {
            what: program.into(),
            hint: match self {
                BrowserKind::Chromium => "looked for `chromedriver` on PATH; install it with `ci/setup` \
                    (or `apt-get install chromium chromium-driver` on Debian), or pass --webdriver URL"
                    .into(),
                BrowserKind::Chrome => "looked for `chromedriver` on PATH; install the ChromeDriver \
                    of your Chrome's version (https://developer.chrome.com/docs/chromedriver/downloads), \
                    or pass --webdriver URL"
                    .into(),
                BrowserKind::Edge => "looked for `msedgedriver` on PATH; install the Microsoft Edge \
                    WebDriver of your Edge's version \
                    (https://developer.microsoft.com/microsoft-edge/tools/webdriver/), or pass \
                    --webdriver URL"
                    .into(),
                BrowserKind::Firefox => "looked for `geckodriver` on PATH, in the build's \
                    target/ci-tools/bin and in ~/.cargo/bin; install it with `cargo install \
                    --locked geckodriver` (in a checkout, `ci/setup` builds it into \
                    target/ci-tools/bin), or pass --webdriver URL"
                    .into(),
            },
        })
    }

    /// Where the browser itself is.
    pub fn find_binary(self) -> Result<PathBuf, BrowserError> {
        let candidates: &[&str] = match self {
            BrowserKind::Chromium => return chromium_binary().ok_or_else(|| BrowserError::NotInstalled {
                what: "Chromium".into(),
                hint: "looked for /usr/lib/chromium/chromium, then `chromium` and `google-chrome` on \
                       PATH; install it with `ci/setup` (or `apt-get install chromium \
                       chromium-driver` on Debian)"
                    .into(),
            }),
            BrowserKind::Chrome => &["google-chrome", "google-chrome-stable", "/opt/google/chrome/chrome"],
            BrowserKind::Edge => &[
                "microsoft-edge",
                "microsoft-edge-stable",
                "/opt/microsoft/msedge/msedge",
            ],
            BrowserKind::Firefox => &[
                "firefox-esr",
                "firefox",
                "/usr/lib/firefox-esr/firefox-esr",
                "/usr/lib/firefox/firefox",
            ],
        };
        candidates
            .iter()
            .find_map(|c| which(c))
            .ok_or_else(|| BrowserError::NotInstalled {
                what: match self {
                    BrowserKind::Chrome => "Google Chrome",
                    BrowserKind::Edge => "Microsoft Edge",
                    _ => "Firefox",
                }
                .into(),
                hint: format!(
                    "looked for {}; {}",
                    candidates.join(", "),
                    match self {
                        BrowserKind::Firefox => {
                            "install it with `ci/setup` (or `apt-get install firefox-esr` on Debian)"
                        }
                        _ => "install it, or pass --webdriver URL",
                    }
                ),
            })
    }
}

impl fmt::Display for BrowserKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BrowserKind::Chromium => "chromium",
            BrowserKind::Chrome => "chrome",
            BrowserKind::Edge => "edge",
            BrowserKind::Firefox => "firefox",
        })
    }
}

impl BrowserKind {
    /// The W3C `browserName` the harness asks for (Chromium calls itself `chrome`; a grid's node
    /// stereotype must say the same).
    pub fn browser_name(&self) -> &'static str {
        match self {
            BrowserKind::Chromium | BrowserKind::Chrome => "chrome",
            BrowserKind::Edge => "MicrosoftEdge",
            BrowserKind::Firefox => "firefox",
        }
    }
}

/// How scenarios are kept apart from each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Isolation {
    /// A fresh browser context of one shared browser per person (own cookie jar, cache,
    /// storage and HTTP-auth cache; Firefox: a user context, in a Firefox that serves one person
    /// at a time); a process only where a scenario needs one. The default with the harness's
    /// own driver.
    Context,
    /// A browser process on a fresh profile per person. The default with --webdriver (a grid's
    /// browsers are not on this machine, so their DevTools port cannot be reached).
    Process,
}

impl Isolation {
    /// The isolation of a run: as asked, else browser contexts with the harness's own driver
    /// (Chromium's through DevTools, Firefox's through WebDriver BiDi), and processes with
    /// --webdriver (a grid's browsers are not on this machine).
    pub fn choose(asked: Option<Isolation>, webdriver: bool) -> Isolation {
        match asked {
            Some(isolation) => isolation,
            None if webdriver => Isolation::Process,
            None => Isolation::Context,
        }
    }
}

/// A WebDriver server the harness started; ended (with its browsers) on drop.
#[derive(Debug)]
pub struct Driver {
    url: String,
    _guard: ChildGuard,
    _dir: tempfile::TempDir,
    chromium_wrapper: PathBuf,
}

/// How a WebDriver server of the harness's own is started: its program, and the environment it
/// and its browsers get.
#[derive(Debug)]
struct DriverSpawn {
    kind: BrowserKind,
    program: PathBuf,
    env: Vec<(OsString, OsString)>,
    scratch: PathBuf,
}

/// The harness's own Firefox drivers by URL. geckodriver serves one session at a time, so each
/// Firefox session is given a geckodriver of its own, started as the driver at that URL was (the
/// same environment: trust store, Kerberos cache).
static OWN_GECKODRIVERS: Mutex<Vec<(String, Arc<DriverSpawn>)>> = Mutex::new(Vec::new());

fn own_geckodriver(url: &str) -> Option<Arc<DriverSpawn>> {
    lock(&OWN_GECKODRIVERS)
        .iter()
        .find(|(u, _)| u == url)
        .map(|(_, spawn)| spawn.clone())
}

impl DriverSpawn {
    /// Starts the server on a free loopback port; its URL and process once it reports ready.
    async fn start(&self) -> Result<(String, ChildGuard), BrowserError> {
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
        let dir = crate::rundir::tempdir("logout-harness-driver-")?;
        crate::process::remove_on_signal(dir.path());
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
        let scratch = crate::rundir::current().unwrap_or_else(|| dir.path().to_path_buf());
        let spawn = Arc::new(DriverSpawn {
            kind,
            program,
            env: env.to_vec(),
            scratch,
        });
        let (url, guard) = spawn.start().await?;
        // Its sessions end with its process group; no DELETE needed on exit.
        crate::sessions::own_server(&url);
        if kind == BrowserKind::Firefox {
            lock(&OWN_GECKODRIVERS).push((url.clone(), spawn));
        }
        Ok(Driver {
            url,
            _guard: guard,
            _dir: dir,
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
    crate::process::on_spawner_thread(move || ChildGuard::spawn(cmd, &what_owned))
        .map_err(|e| BrowserError::DriverStart(format!("cannot run {what}: {e}")))
}

async fn wait_ready(url: &str, guard: &mut ChildGuard, limit: Duration) -> Result<(), String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| e.to_string())?;
    // A driver that exits while starting is an answer too: stop waiting for it.
    let exited = std::cell::RefCell::new(None);
    let ready = crate::wait::Wait::at_most(limit)
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
        crate::sessions::disown_server(&self.url);
        lock(&OWN_GECKODRIVERS).retain(|(url, _)| *url != self.url);
        crate::process::forget_dir(self._dir.path());
    }
}

/// Where Chromium lives: Debian puts the real binary behind a shell wrapper in /usr/bin.
pub fn chromium_binary() -> Option<PathBuf> {
    ["/usr/lib/chromium/chromium"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .or_else(|| which("chromium"))
        .or_else(|| which("google-chrome"))
}

/// A browser profile directory. A fresh one per simulated person; reused to "reopen the browser".
#[derive(Debug)]
pub struct Profile {
    dir: tempfile::TempDir,
    third_party_cookies_blocked: bool,
}

impl Profile {
    /// A new, empty profile under the run's private dir ([`crate::rundir`]), named so a leak
    /// check can find it.
    pub fn new() -> std::io::Result<Profile> {
        let dir = crate::rundir::tempdir("logout-harness-profile-")?;
        crate::process::remove_on_signal(dir.path());
        Ok(Profile {
            dir,
            third_party_cookies_blocked: false,
        })
    }

    /// The same profile, set to block third-party cookies (Chromium's "Block third-party
    /// cookies"), as some users' browsers are.
    pub fn blocking_third_party_cookies(mut self) -> Profile {
        self.third_party_cookies_blocked = true;
        self
    }

    /// Whether the profile blocks third-party cookies.
    pub fn blocks_third_party_cookies(&self) -> bool {
        self.third_party_cookies_blocked
    }

    /// The `--user-data-dir`.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Whether a browser has run on this profile (Chromium made its `Default` profile in it,
    /// Firefox its `prefs.js`).
    pub fn has_run(&self) -> bool {
        self.path().join("Default").is_dir() || self.path().join("prefs.js").is_file()
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        crate::process::forget_dir(self.dir.path());
    }
}

/// How sessions are launched: everything but the profile, which differs per browser.
#[derive(Clone, Debug)]
pub struct LaunchOptions {
    /// The browser family.
    pub kind: BrowserKind,
    /// A visible window (for watching a run); headless otherwise.
    pub headed: bool,
    /// The binary to run; `None` lets the driver pick.
    pub binary: Option<PathBuf>,
    /// `--host-resolver-rules` entries, e.g. `MAP *.contoso.test 127.0.0.1`.
    pub host_rules: Vec<String>,
    /// Base64 SHA-256 SPKI hashes of certificates to trust for this run only.
    pub trusted_spki: Vec<String>,
    /// Hosts allowed to receive Kerberos (Negotiate) credentials, e.g. `*.contoso.test`.
    pub negotiate_allowlist: Option<String>,
    /// CA certificates (PEM) to trust for this run only. Firefox, which has no switch like
    /// `trusted_spki` and reads only its profile's certificate database, gets them imported into
    /// each profile; the Chromium family is given `trusted_spki` or a trust store instead.
    pub trusted_ca_pem: Vec<String>,
    /// Firefox: the pass's warmed profile, whose start-up files seed each new profile
    /// ([`crate::firefox::ProfileSeed`]); `None` starts every profile empty.
    pub firefox_seed: Option<Arc<crate::firefox::ProfileSeed>>,
}

impl LaunchOptions {
    /// Whether a host browser launched with these options can serve browser contexts to more
    /// than one pass: a browser with contexts, and no Negotiate allowlist (a Kerberos pass's
    /// browsers carry its users' credential caches in their driver's environment).
    pub fn can_host_contexts(&self) -> bool {
        self.kind.has_devtools_contexts() && self.negotiate_allowlist.is_none()
    }

    /// Options for one host browser that serves the browsers of both `self` and `other`, or
    /// `None` when one browser cannot: the same browser, binary and window, the same name
    /// resolution (every rule alike, so that no pass reaches another's server by a name), and
    /// trust for the certificates either trusts (each embedded emulator makes its own CA for
    /// the run; a context trusting another pass's emulator changes nothing it reaches).
    pub fn merge_for_host(&self, other: &LaunchOptions) -> Option<LaunchOptions> {
        let same_rules = |a: &[String], b: &[String]| {
            let set = |v: &[String]| v.iter().cloned().collect::<std::collections::BTreeSet<_>>();
            set(a) == set(b)
        };
        if !self.can_host_contexts()
            || !other.can_host_contexts()
            || self.kind != other.kind
            || self.headed != other.headed
            || self.binary != other.binary
            || !same_rules(&self.host_rules, &other.host_rules)
        {
            return None;
        }
        let mut merged = self.clone();
        for spki in &other.trusted_spki {
            if !merged.trusted_spki.contains(spki) {
                merged.trusted_spki.push(spki.clone());
            }
        }
        for pem in &other.trusted_ca_pem {
            if !merged.trusted_ca_pem.contains(pem) {
                merged.trusted_ca_pem.push(pem.clone());
            }
        }
        Some(merged)
    }

    /// The W3C capabilities for one session on `profile`.
    ///
    /// The prefs fix a measured stall: without them the first navigation waits up to 5 s for
    /// Chromium's new-tab page (docs/browser-facts.md B1).
    pub fn capabilities(
        &self,
        profile: &Profile,
        restore_last_session: bool,
    ) -> serde_json::Map<String, Value> {
        if self.kind == BrowserKind::Firefox {
            return crate::firefox::capabilities(self, profile, restore_last_session);
        }
        let mut args = vec![
            "--no-sandbox".to_string(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            // The omnibox popups are WebUI pages preloaded in renderers of their own, two per
            // window, and every browser context opens a window (docs/browser-facts.md B6). The
            // spare renderer is a process started ahead for a navigation that may come: most
            // die unused. Neither changes what a page, a cookie or a request does.
            "--disable-features=Translate,OptimizationHints,MediaRouter,WebUIOmniboxPopup,\
             WebUIOmniboxAimPopup,SpareRendererForSitePerProcess"
                .into(),
            // Two processes fewer per launch: the compositor runs in the browser process (its GPU
            // is off anyway) and no crash handler is started. These two and the spare renderer
            // off took about 10 % off a default run's CPU (docs/browser-facts.md B9).
            "--in-process-gpu".into(),
            "--disable-breakpad".into(),
            "--password-store=basic".into(),
            // A context's window is not the focused one: without these, Chromium throttles its
            // timers (AD FS posts its token from a `setTimeout`) and lowers its renderer's
            // priority, and page loads took 1.5 times as long (bench/side-by-side.sh).
            "--disable-background-timer-throttling".into(),
            "--disable-backgrounding-occluded-windows".into(),
            "--disable-renderer-backgrounding".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        if !self.headed {
            args.push("--headless=new".into());
        }
        if !self.host_rules.is_empty() {
            args.push(format!(
                "--host-resolver-rules={}",
                self.host_rules.join(",")
            ));
        }
        if !self.trusted_spki.is_empty() {
            args.push(format!(
                "--ignore-certificate-errors-spki-list={}",
                self.trusted_spki.join(",")
            ));
        }
        if let Some(allow) = &self.negotiate_allowlist {
            args.push(format!("--auth-server-allowlist={allow}"));
        }
        // A profile Chromium never ran on has no last session: restoring it would open the
        // new-tab page and stall the first navigation (B1). The setting takes effect where it
        // matters, on the start after a close, which restores session cookies (B2).
        let restore_last_session = restore_last_session && profile.has_run();
        if restore_last_session {
            args.push("--restore-last-session".into());
        }
        let mut chrome_options = json!({
            "args": args,
            "prefs": {
                "session.restore_on_startup": if restore_last_session { 1 } else { 4 },
                "session.startup_urls": ["about:blank"],
                "profile.exit_type": "Normal",
                // Third-party cookies as in Chrome's and Edge's own default, allowed (0), unless
                // the profile blocks them (1). Chromium 156 on its own blocked them, and AD FS's
                // sign-out clean-up of a relying party on another site then reached it without
                // its cookie (docs/browser-facts.md B7).
                "profile.cookie_controls_mode":
                    if profile.blocks_third_party_cookies() { 1 } else { 0 },
            },
        });
        if self.negotiate_allowlist.is_some() {
            // Both are Local State prefs; the command-line switch for the CNAME lookup has no
            // effect, and without the first one the first Negotiate challenge fails
            // (docs/browser-facts.md B4).
            chrome_options["localState"] = json!({
                "net.received_http_auth_negotiate_headers": true,
                "auth.disable_negotiate_cname_lookup": true,
            });
        }
        if let Some(binary) = &self.binary {
            chrome_options["binary"] = json!(binary);
        }
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!(self.browser_name()));
        caps.insert("pageLoadStrategy".into(), json!("normal"));
        caps.insert(self.vendor_key().into(), chrome_options);
        caps
    }

    /// The W3C `browserName`.
    pub fn browser_name(&self) -> &'static str {
        self.kind.browser_name()
    }

    /// The capability key of the vendor's options.
    pub fn vendor_key(&self) -> &'static str {
        match self.kind {
            BrowserKind::Edge => "ms:edgeOptions",
            BrowserKind::Firefox => "moz:firefoxOptions",
            BrowserKind::Chromium | BrowserKind::Chrome => "goog:chromeOptions",
        }
    }
}

/// One browser as a person sees it: a WebDriver session on a profile of its own (a browser
/// process), or on a fresh browser context of a shared [`BrowserHost`] (see there).
#[derive(Debug)]
pub struct Browser {
    client: Client,
    closed: bool,
    context: Option<ContextLease>,
    kind: BrowserKind,
    /// Firefox: the session's WebDriver BiDi socket, for the whole cookie jar.
    bidi: Option<crate::cdp::Cdp>,
    /// Firefox: the geckodriver serving this session alone, ended after it.
    own_driver: Option<ChildGuard>,
    /// A profile this browser owns (a Firefox of a [`SharedBrowser`]), removed after it.
    own_profile: Option<Profile>,
    /// Firefox: the user context this person lives in, in a Firefox of a [`SharedBrowser`].
    user_context: Option<UserContext>,
}

/// A Firefox person's WebDriver BiDi user context (own cookie jar, HTTP cache, storage and
/// HTTP-auth cache: Firefox keys them all by the context's origin attributes), lent by a Firefox
/// of a [`SharedBrowser`] until the person's browser closes.
#[derive(Debug)]
struct UserContext {
    id: String,
    /// The tab of the default user context that the Firefox keeps between people: a WebDriver
    /// session ends with its last tab. No person ever navigates it.
    home: fantoccini::wd::WindowHandle,
    pool: Arc<FirefoxPool>,
}

/// The Firefox processes of a [`SharedBrowser`] that no person is using, each showing only its
/// home tab. geckodriver serves one session per Firefox and a WebDriver session drives one tab
/// at a time, so a Firefox serves one person at a time; between people only the user context
/// changes, instead of a start of about 2-3 s of CPU (README, "Browsers").
#[derive(Debug, Default)]
struct FirefoxPool {
    idle: Mutex<Vec<Browser>>,
    ended: AtomicBool,
}

impl FirefoxPool {
    /// Keeps `browser` for the next person, or hands it back if the pool has ended.
    fn keep(&self, browser: Browser) -> Option<Browser> {
        let mut idle = lock(&self.idle);
        if self.ended.load(Ordering::SeqCst) {
            return Some(browser);
        }
        idle.push(browser);
        None
    }

    /// Ends the pool: every idle Firefox is handed over to be closed, and none is kept after.
    fn end(&self) -> Vec<Browser> {
        let mut idle = lock(&self.idle);
        self.ended.store(true, Ordering::SeqCst);
        idle.drain(..).collect()
    }
}

/// The browser context a [`Browser`] runs in, lent by its host until the browser closes.
#[derive(Debug)]
struct ContextLease {
    host: Arc<BrowserHost>,
    id: String,
}

/// A browser process that isolates scenarios from each other with browser contexts instead of
/// processes: Playwright's model, through WebDriver.
///
/// - The host's own session (the owner) launches the browser with the run's flags; closing it
///   quits the browser.
/// - Each person gets a new browser context (own cookie jar, HTTP cache, storage, HTTP-auth
///   cache) with one tab, and a WebDriver session attached to the same browser
///   (`goog:chromeOptions.debuggerAddress`) switched to that tab, so steps drive it like any
///   other browser. Window handles are DevTools target ids in chromedriver.
/// - Contexts are prepared ahead, off the critical path, and sessions are reused once their
///   context is disposed. Measured on 2 cores (Chromium 156): a browser launch 1.1-1.5 s;
///   a context with its tab 0.1-0.3 s, switching a session to it 0.1-0.25 s, attaching a
///   session 0.02-0.45 s.
///
/// What a context cannot give keeps a process of its own: a profile on disk (closing and
/// reopening the browser, "continue where you left off") and another process environment (a
/// Kerberos user's own credential cache).
#[derive(Debug)]
pub struct BrowserHost {
    webdriver_url: String,
    vendor_key: &'static str,
    browser_name: &'static str,
    debugger_address: String,
    owner: Client,
    cdp: crate::cdp::Cdp,
    idle_sessions: Mutex<Vec<Client>>,
    ready: Mutex<Vec<(Client, String)>>,
    _profile: Profile,
}

impl BrowserHost {
    /// Launches the host browser through the WebDriver server at `webdriver_url` (which must run
    /// on this machine: the DevTools port it reports is on loopback) and prepares `ahead`
    /// contexts in the background.
    pub async fn launch(
        webdriver_url: &str,
        options: &LaunchOptions,
        ahead: usize,
    ) -> Result<Arc<BrowserHost>, BrowserError> {
        if !options.kind.has_devtools_contexts() {
            return Err(BrowserError::NewSession(format!(
                "{} has no browser contexts the harness can create through DevTools",
                options.kind
            )));
        }
        let profile = Profile::new()?;
        let owner = new_session(webdriver_url, options.capabilities(&profile, false)).await?;
        let vendor_key = options.vendor_key();
        let debugger_address = owner
            .capabilities()
            .and_then(|c| c.get(vendor_key))
            .and_then(|o| o["debuggerAddress"].as_str())
            .map(str::to_string);
        let Some(debugger_address) = debugger_address else {
            let _ = end_session(owner).await;
            return Err(BrowserError::NewSession(format!(
                "the WebDriver server reported no `{vendor_key}.debuggerAddress`, which browser \
                 contexts need; use --isolation process"
            )));
        };
        let cdp = match crate::cdp::Cdp::connect(&debugger_address).await {
            Ok(cdp) => cdp,
            Err(e) => {
                let _ = end_session(owner).await;
                return Err(BrowserError::NewSession(e));
            }
        };
        let host = Arc::new(BrowserHost {
            webdriver_url: webdriver_url.to_string(),
            vendor_key,
            browser_name: options.browser_name(),
            debugger_address,
            owner,
            cdp,
            idle_sessions: Mutex::default(),
            ready: Mutex::default(),
            _profile: profile,
        });
        for _ in 0..ahead {
            host.prepare_in_background();
        }
        Ok(host)
    }

    /// A browser on a fresh context: one prepared ahead if there is one (another is then
    /// prepared in its place), else one prepared now.
    pub async fn open(self: &Arc<Self>) -> Result<Browser, BrowserError> {
        let ready = lock(&self.ready).pop();
        let (client, id) = match ready {
            Some(ready) => ready,
            None => self.prepare().await?,
        };
        self.prepare_in_background();
        Ok(Browser {
            client,
            closed: false,
            context: Some(ContextLease {
                host: self.clone(),
                id,
            }),
            kind: BrowserKind::Chromium,
            bidi: None,
            own_driver: None,
            own_profile: None,
            user_context: None,
        })
    }

    fn prepare_in_background(self: &Arc<Self>) {
        let host = self.clone();
        tokio::spawn(async move {
            if let Ok(ready) = host.prepare().await {
                lock(&host.ready).push(ready);
            }
        });
    }

    /// A new context with one blank tab, and a session switched to that tab.
    async fn prepare(&self) -> Result<(Client, String), BrowserError> {
        let context = self
            .cdp
            .call(
                "Target.createBrowserContext",
                json!({ "disposeOnDetach": true }),
            )
            .await
            .map_err(BrowserError::Command)?;
        let id = context["browserContextId"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let tab = self.new_tab_in(&id).await?;
        let idle = lock(&self.idle_sessions).pop();
        let client = match idle {
            Some(client) => client,
            None => self.attach().await?,
        };
        client.switch_to_window(tab).await?;
        Ok((client, id))
    }

    /// A WebDriver session attached to the host browser (its windows stay when it ends).
    async fn attach(&self) -> Result<Client, BrowserError> {
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!(self.browser_name));
        caps.insert("pageLoadStrategy".into(), json!("normal"));
        caps.insert(
            self.vendor_key.into(),
            json!({ "debuggerAddress": self.debugger_address }),
        );
        new_session(&self.webdriver_url, caps).await
    }

    /// A new blank tab in context `context_id`; its window handle.
    async fn new_tab_in(
        &self,
        context_id: &str,
    ) -> Result<fantoccini::wd::WindowHandle, BrowserError> {
        let target = self
            .cdp
            .call(
                "Target.createTarget",
                json!({ "url": "about:blank", "browserContextId": context_id }),
            )
            .await
            .map_err(BrowserError::Command)?;
        let id = target["targetId"].as_str().unwrap_or_default().to_string();
        fantoccini::wd::WindowHandle::try_from(id)
            .map_err(|e| BrowserError::Command(format!("Target.createTarget: {e}")))
    }

    /// The tabs of context `context_id`, as window handles.
    async fn tabs_of(
        &self,
        context_id: &str,
    ) -> Result<Vec<fantoccini::wd::WindowHandle>, BrowserError> {
        let targets = self
            .cdp
            .call("Target.getTargets", json!({}))
            .await
            .map_err(BrowserError::Command)?;
        Ok(targets["targetInfos"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["type"] == "page" && t["browserContextId"] == context_id)
            .filter_map(|t| t["targetId"].as_str())
            .filter_map(|id| fantoccini::wd::WindowHandle::try_from(id.to_string()).ok())
            .collect())
    }

    /// Disposes context `id` (its tabs close with it) and keeps `client` for the next one.
    async fn release(&self, id: &str, client: Client) -> Result<(), BrowserError> {
        let disposed = self
            .cdp
            .call(
                "Target.disposeBrowserContext",
                json!({ "browserContextId": id }),
            )
            .await
            .map_err(BrowserError::Command);
        lock(&self.idle_sessions).push(client);
        disposed.map(drop)
    }

    /// Ends every attached session, then the owner's, which quits the browser.
    pub async fn shutdown(&self) {
        let attached: Vec<Client> = lock(&self.idle_sessions)
            .drain(..)
            .chain(lock(&self.ready).drain(..).map(|(c, _)| c))
            .collect();
        for client in attached {
            let _ = end_session(client).await;
        }
        let _ = end_session(self.owner.clone()).await;
    }
}

/// A [`BrowserHost`] shared by the passes whose browsers it can serve (see
/// [`LaunchOptions::merge_for_host`]), launched when its first person needs a browser context (a
/// run whose people all need processes of their own never launches one). For Firefox, a pool
/// of Firefox processes, each lending one person at a time a user context of its own.
#[derive(Debug)]
pub struct SharedBrowser {
    host: tokio::sync::OnceCell<Arc<BrowserHost>>,
    firefox: Arc<FirefoxPool>,
    ahead: usize,
    webdriver_url: String,
    options: LaunchOptions,
}

impl SharedBrowser {
    /// A host not launched yet, that will be launched through `webdriver_url` with `options`
    /// and keep `ahead` contexts prepared.
    pub fn new(ahead: usize, webdriver_url: &str, options: &LaunchOptions) -> SharedBrowser {
        SharedBrowser {
            host: tokio::sync::OnceCell::new(),
            firefox: Arc::default(),
            ahead,
            webdriver_url: webdriver_url.to_string(),
            options: options.clone(),
        }
    }

    /// A browser on a fresh context of the host, launching the host first if need be (once:
    /// callers arriving meanwhile wait for the same launch). Firefox: a fresh user context in a
    /// Firefox no one is using, started if none is idle.
    pub async fn open(&self) -> Result<Browser, BrowserError> {
        let (webdriver_url, options) = (&self.webdriver_url, &self.options);
        if !options.kind.has_devtools_contexts() {
            return self.open_in_firefox().await;
        }
        let host = self
            .host
            .get_or_try_init(|| BrowserHost::launch(webdriver_url, options, self.ahead))
            .await?;
        host.open().await
    }

    /// A person in a new user context of an idle Firefox; a Firefox that fails to give one
    /// (it died while idle) is ended and the next is tried, down to a new one.
    async fn open_in_firefox(&self) -> Result<Browser, BrowserError> {
        loop {
            let idle = lock(&self.firefox.idle).pop();
            let fresh = idle.is_none();
            let mut browser = match idle {
                Some(browser) => browser,
                None => {
                    let profile = Profile::new()?;
                    let mut browser =
                        Browser::launch(&self.webdriver_url, &self.options, &profile, false)
                            .await?;
                    browser.own_profile = Some(profile);
                    browser
                }
            };
            match browser.enter_user_context(self.firefox.clone()).await {
                Ok(()) => return Ok(browser),
                Err(e) => {
                    // Ended, not kept: its user context goes with the process.
                    browser.user_context = None;
                    let _ = browser.close().await;
                    if fresh {
                        return Err(e);
                    }
                }
            }
        }
    }

    /// Quits the host browser, if it was launched, and every idle Firefox.
    pub async fn shutdown(&self) {
        let idle = self.firefox.end();
        futures::future::join_all(idle.into_iter().map(Browser::close)).await;
        if let Some(host) = self.host.get() {
            host.shutdown().await;
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One cookie of the browser's jar, as CDP reports it. `value` is kept only to replay it; it is
/// never printed, snapshotted or written to a report.
#[derive(Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct JarCookie {
    /// Cookie name.
    pub name: String,
    /// Secret: skipped by Serialize.
    #[serde(skip_serializing)]
    pub value: String,
    /// Domain (host-only cookies have no leading dot).
    pub domain: String,
    /// Path.
    pub path: String,
    /// Expiry as seconds since the epoch; -1 for session cookies.
    pub expires: f64,
    /// HttpOnly flag.
    pub http_only: bool,
    /// Secure flag.
    pub secure: bool,
    /// True for session cookies.
    pub session: bool,
    /// `Strict`, `Lax`, `None`, or absent when the server set no SameSite.
    #[serde(default)]
    pub same_site: Option<String>,
}

impl fmt::Debug for JarCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}{}", self.name, self.domain, self.path)
    }
}

impl JarCookie {
    /// Whether a request to `url` would carry this cookie (domain and path match; RFC 6265 §5.4).
    pub fn applies_to(&self, url: &url::Url) -> bool {
        let host = url.host_str().unwrap_or_default();
        let domain_ok = match self.domain.strip_prefix('.') {
            Some(parent) => host == parent || host.ends_with(&format!(".{parent}")),
            None => host == self.domain,
        };
        let path = url.path();
        let path_ok = path == self.path
            || (path.starts_with(&self.path)
                && (self.path.ends_with('/') || path[self.path.len()..].starts_with('/')));
        domain_ok && path_ok && (!self.secure || url.scheme() == "https")
    }
}

#[derive(Debug)]
struct CdpCommand {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for CdpCommand {
    fn endpoint(
        &self,
        base: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params });
        (http::Method::POST, Some(body.to_string()))
    }
}

impl Browser {
    /// Starts a browser on `profile` through the WebDriver server at `webdriver_url`.
    pub async fn launch(
        webdriver_url: &str,
        options: &LaunchOptions,
        profile: &Profile,
        restore_last_session: bool,
    ) -> Result<Browser, BrowserError> {
        let mut url = webdriver_url.to_string();
        let mut own_driver = None;
        if options.kind == BrowserKind::Firefox {
            if let Some(seed) = &options.firefox_seed {
                seed.fill(profile, webdriver_url, options).await;
            }
            crate::firefox::trust_profile(profile, &options.trusted_ca_pem)?;
            // One session per geckodriver: this session gets its own (see OWN_GECKODRIVERS).
            if let Some(spawn) = own_geckodriver(webdriver_url) {
                let (own_url, guard) = spawn.start().await?;
                crate::sessions::own_server(&own_url);
                url = own_url;
                own_driver = Some(guard);
            }
        }
        let client = new_session(&url, options.capabilities(profile, restore_last_session)).await?;
        let socket = client
            .capabilities()
            .and_then(|c| c.get("webSocketUrl"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let bidi = match socket {
            Some(ws) if options.kind == BrowserKind::Firefox => {
                match crate::cdp::Cdp::connect_url(&ws).await {
                    Ok(bidi) => Some(bidi),
                    Err(e) => {
                        let _ = end_session(client).await;
                        return Err(BrowserError::NewSession(format!(
                            "Firefox's WebDriver BiDi socket: {e}"
                        )));
                    }
                }
            }
            _ => None,
        };
        Ok(Browser {
            client,
            closed: false,
            context: None,
            kind: options.kind,
            bidi,
            own_driver,
            own_profile: None,
            user_context: None,
        })
    }

    /// The DevTools address (`host:port`) chromedriver reports for a Chromium-family browser
    /// process of its own; `None` for a context or a browser without one (Firefox).
    pub fn debugger_address(&self) -> Option<String> {
        if self.context.is_some() {
            return None;
        }
        let vendor_key = match self.kind {
            BrowserKind::Edge => "ms:edgeOptions",
            BrowserKind::Chromium | BrowserKind::Chrome => "goog:chromeOptions",
            BrowserKind::Firefox => return None,
        };
        self.client
            .capabilities()
            .and_then(|c| c.get(vendor_key))
            .and_then(|o| o["debuggerAddress"].as_str())
            .map(str::to_string)
    }

    /// Whether this browser is a context of a shared browser (a Chromium host's browser context,
    /// a Firefox user context) rather than a process of its own.
    pub fn is_context(&self) -> bool {
        self.context.is_some() || self.user_context.is_some()
    }

    /// Firefox: moves this (idle) browser's session into a new user context with one tab of its
    /// own, lent from `pool` until [`Browser::close`].
    async fn enter_user_context(&mut self, pool: Arc<FirefoxPool>) -> Result<(), BrowserError> {
        let home = self.client.window().await?;
        let bidi = self.bidi()?;
        let created = bidi
            .call("browser.createUserContext", json!({}))
            .await
            .map_err(BrowserError::Command)?;
        let id = created["userContext"]
            .as_str()
            .ok_or_else(|| {
                BrowserError::Command(format!("browser.createUserContext answered {created}"))
            })?
            .to_string();
        let context = UserContext { id, home, pool };
        let tab = self.new_tab_in_user_context(&context.id, false).await;
        let switched = match tab {
            Ok(tab) => self.client.switch_to_window(tab).await.map_err(Into::into),
            Err(e) => Err(e),
        };
        // The context is the person's from here on: a failure below removes it with the browser.
        self.user_context = Some(context);
        switched
    }

    /// A new tab in Firefox user context `id` (`browsingContext.create`; a WebDriver New Window
    /// would open it in the default user context), in the background or made the selected tab.
    async fn new_tab_in_user_context(
        &self,
        id: &str,
        background: bool,
    ) -> Result<fantoccini::wd::WindowHandle, BrowserError> {
        let created = self
            .bidi()?
            .call(
                "browsingContext.create",
                json!({ "type": "tab", "userContext": id, "background": background }),
            )
            .await
            .map_err(BrowserError::Command)?;
        // Firefox's window handles are its BiDi browsing context ids.
        let context = created["context"].as_str().unwrap_or_default().to_string();
        fantoccini::wd::WindowHandle::try_from(context)
            .map_err(|e| BrowserError::Command(format!("browsingContext.create: {e}")))
    }

    /// Firefox: the session's WebDriver BiDi socket.
    fn bidi(&self) -> Result<&crate::cdp::Cdp, BrowserError> {
        self.bidi.as_ref().ok_or_else(|| {
            BrowserError::Command(
                "the Firefox session gave no WebDriver BiDi socket (`webSocketUrl`), which its \
                 user contexts and its whole cookie jar need"
                    .into(),
            )
        })
    }

    /// Firefox: removes this person's user context (its tabs close with it) and goes back to the
    /// home tab, so the browser can serve the next person.
    async fn leave_user_context(&self, context: &UserContext) -> Result<(), BrowserError> {
        self.bidi()?
            .call(
                "browser.removeUserContext",
                json!({ "userContext": context.id }),
            )
            .await
            .map_err(BrowserError::Command)?;
        self.client.switch_to_window(context.home.clone()).await?;
        Ok(())
    }

    /// Why this browser's WebDriver session is gone, if it is (its grid node was lost, its
    /// driver died): one cheap command, whose failure tells.
    pub async fn lost(&self) -> Option<String> {
        self.client
            .current_url()
            .await
            .err()
            .and_then(|e| session_lost(&e))
    }

    /// For a context: the host's browser-level DevTools connection and the context's id (what
    /// [`crate::recorder`] needs to watch its requests). `None` for a process of its own, whose
    /// DevTools port chromedriver does not share (events cannot be had through WebDriver).
    pub fn devtools(&self) -> Option<(&crate::cdp::Cdp, &str)> {
        self.context
            .as_ref()
            .map(|lease| (&lease.host.cdp, lease.id.as_str()))
    }

    /// Opens a new blank tab in this browser (in its context, for a context: WebDriver's New
    /// Window would open it in the host's default context) and returns its window handle; the
    /// current tab does not change.
    pub async fn new_tab(&self) -> Result<fantoccini::wd::WindowHandle, BrowserError> {
        if let Some(context) = &self.user_context {
            return self.new_tab_in_user_context(&context.id, true).await;
        }
        match &self.context {
            Some(lease) => lease.host.new_tab_in(&lease.id).await,
            None => Ok(self.client.new_window(true).await?.handle),
        }
    }

    /// This browser's tabs, as window handles (for a context, only its own: an attached session
    /// sees every tab of the host browser).
    pub async fn tabs(&self) -> Result<Vec<fantoccini::wd::WindowHandle>, BrowserError> {
        if let Some(context) = &self.user_context {
            let tree = self
                .bidi()?
                .call("browsingContext.getTree", json!({ "maxDepth": 0 }))
                .await
                .map_err(BrowserError::Command)?;
            return Ok(tree["contexts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| c["userContext"] == context.id.as_str())
                .filter_map(|c| c["context"].as_str())
                .filter_map(|id| fantoccini::wd::WindowHandle::try_from(id.to_string()).ok())
                .collect());
        }
        match &self.context {
            Some(lease) => lease.host.tabs_of(&lease.id).await,
            None => Ok(self.client.windows().await?),
        }
    }

    /// The WebDriver client, for navigation and elements.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Every cookie the browser holds, across all hosts and paths, HttpOnly included.
    pub async fn all_cookies(&self) -> Result<Vec<JarCookie>, BrowserError> {
        if self.kind == BrowserKind::Firefox {
            // A user context's jar is asked for by its storage key: without one, Firefox 153
            // also answered with another user context's cookie (docs/browser-facts.md F6).
            let params = match &self.user_context {
                Some(context) => json!({
                    "partition": { "type": "storageKey", "userContextId": context.id }
                }),
                None => json!({}),
            };
            let reply = self
                .bidi()?
                .call("storage.getCookies", params)
                .await
                .map_err(BrowserError::Command)?;
            let mut cookies =
                crate::firefox::jar_from_bidi(&reply).map_err(BrowserError::Command)?;
            cookies
                .sort_by(|a, b| (&a.domain, &a.path, &a.name).cmp(&(&b.domain, &b.path, &b.name)));
            return Ok(cookies);
        }
        let reply = match &self.context {
            // From a page, Storage.getCookies answers for the default context: ask the browser.
            Some(lease) => lease
                .host
                .cdp
                .call(
                    "Storage.getCookies",
                    json!({ "browserContextId": lease.id }),
                )
                .await
                .map_err(BrowserError::Command)?,
            None => {
                self.client
                    .issue_cmd(CdpCommand {
                        cmd: "Storage.getCookies",
                        params: json!({}),
                    })
                    .await?
            }
        };
        let cookies = reply
            .get("cookies")
            .cloned()
            .unwrap_or(Value::Array(vec![]));
        let mut cookies: Vec<JarCookie> = serde_json::from_value(cookies)
            .map_err(|e| BrowserError::Command(format!("Storage.getCookies: {e}")))?;
        cookies.sort_by(|a, b| (&a.domain, &a.path, &a.name).cmp(&(&b.domain, &b.path, &b.name)));
        Ok(cookies)
    }

    /// Navigates and waits for the load to finish. A page the browser refused for its certificate
    /// is an error ([`BrowserError::Certificate`]) at once, not a page that never shows a form.
    pub async fn goto(&self, url: &str) -> Result<(), BrowserError> {
        if let Err(e) = self.client.goto(url).await {
            // Firefox fails the navigation itself ("insecure certificate").
            if let Ok(Some(message)) = self.certificate_error().await {
                return Err(BrowserError::Certificate(message));
            }
            return Err(e.into());
        }
        // A page that cannot be asked (it is navigating on) is no certificate error.
        match self.certificate_error().await {
            Ok(Some(message)) => Err(BrowserError::Certificate(message)),
            _ => Ok(()),
        }
    }

    /// Whether the browser is showing Chromium's certificate (or TLS) error page instead of the
    /// server's page; if so, what to tell the user: the host, Chromium's error code and the fix.
    ///
    /// Chromium replaces a refused page with a document at `chrome-error://chromewebdata/` whose
    /// `loadTimeDataRaw.errorCode` (and visible text) carries the `net::ERR_CERT_*` code, while
    /// WebDriver still reports the URL that was asked for (Chromium `net/base/net_error_list.h`).
    pub async fn certificate_error(&self) -> Result<Option<String>, BrowserError> {
        if self.kind == BrowserKind::Firefox {
            // Firefox shows about:certerror, whose own script reads the error code.
            let code = self
                .client
                .execute(crate::firefox::CERT_ERROR_SCRIPT, vec![])
                .await?;
            let Some(code) = code.as_str() else {
                return Ok(None);
            };
            let asked = self.client.current_url().await?;
            let host = asked.host_str().unwrap_or("the server").to_string();
            return Ok(certificate_message(&host, code));
        }
        let page = self
            .client
            .execute(
                "return { url: document.URL, \
                          code: (typeof loadTimeDataRaw !== 'undefined' && loadTimeDataRaw \
                                 && loadTimeDataRaw.errorCode) || '', \
                          text: document.body ? document.body.innerText : '' }",
                vec![],
            )
            .await?;
        let url = page["url"].as_str().unwrap_or_default();
        if !url.starts_with("chrome-error://") {
            return Ok(None);
        }
        let text = page["text"].as_str().unwrap_or_default();
        let code = match page["code"].as_str().filter(|c| !c.is_empty()) {
            Some(code) => code.trim_start_matches("net::").to_string(),
            None => match regex::Regex::new(r"(?:NET::)?(ERR_(?:CERT|SSL)_[A-Z_]+)")
                .ok()
                .and_then(|re| re.captures(text))
            {
                Some(c) => c[1].to_string(),
                None => return Ok(None),
            },
        };
        let asked = self.client.current_url().await?;
        let host = asked.host_str().unwrap_or("the server").to_string();
        Ok(certificate_message(&host, &code))
    }

    /// Waits until `css` matches an element, up to `limit`; polls every
    /// [`crate::wait::Wait::DEFAULT_EVERY`]. When it does not
    /// appear because the browser refused a certificate, the error is [`BrowserError::Certificate`].
    ///
    /// A look that finds no element, or that the page's navigation cut short (chromedriver's
    /// "aborted by navigation": the AD FS form posting itself to CRM, say;
    /// docs/browser-facts.md B10), is looked at again; any other error (a session that is gone)
    /// ends the wait at once.
    pub async fn wait_for(
        &self,
        css: &str,
        limit: Duration,
    ) -> Result<fantoccini::elements::Element, BrowserError> {
        let cut_short = std::cell::Cell::new(false);
        let found = crate::wait::Wait::at_most(limit)
            .until(|| async {
                match self.client.find(Locator::Css(css)).await {
                    Ok(element) => Some(Ok(element)),
                    Err(e) if e.is_no_such_element() => None,
                    Err(e) if aborted_by_navigation(&e) => {
                        cut_short.set(true);
                        None
                    }
                    Err(e) => Some(Err(e)),
                }
            })
            .await;
        let why = match found {
            Ok(Ok(element)) => return Ok(element),
            Ok(Err(e)) => e.to_string(),
            Err(elapsed) if cut_short.get() => {
                format!("{elapsed} (a navigation cut a look short)")
            }
            Err(elapsed) => elapsed.to_string(),
        };
        // A redirect (to AD FS, say) may have landed on a refused certificate: say that.
        match self.certificate_error().await {
            Ok(Some(message)) => Err(BrowserError::Certificate(message)),
            _ => Err(BrowserError::Command(format!("waiting for `{css}`: {why}"))),
        }
    }

    /// Whether `css` matches an element right now.
    pub async fn has(&self, css: &str) -> Result<bool, BrowserError> {
        Ok(!self.client.find_all(Locator::Css(css)).await?.is_empty())
    }

    /// The visible text of the page body.
    pub async fn body_text(&self) -> Result<String, BrowserError> {
        let body = self.client.find(Locator::Css("body")).await?;
        Ok(body.text().await?)
    }

    /// Ends the browser: the WebDriver session (the browser quits and flushes its profile), or,
    /// for a context, the context with all its tabs (its session is kept for the next one).
    pub async fn close(mut self) -> Result<(), BrowserError> {
        // A Firefox person: the user context goes, the Firefox waits for the next person (or,
        // if leaving fails or the pool has ended, is ended below).
        if let Some(context) = self.user_context.take()
            && self.leave_user_context(&context).await.is_ok()
        {
            match context.pool.keep(self) {
                None => return Ok(()),
                Some(browser) => self = browser,
            }
        }
        self.closed = true;
        let closed = match self.context.take() {
            Some(lease) => lease.host.release(&lease.id, self.client.clone()).await,
            None => end_session(self.client.clone())
                .await
                .map_err(BrowserError::from),
        };
        self.bidi.take();
        // The session has ended (Firefox has quit): its own driver goes, then its profile.
        if let Some(driver) = self.own_driver.take() {
            let _ = tokio::task::spawn_blocking(move || drop(driver)).await;
        }
        self.own_profile.take();
        closed
    }
}

/// Starts a WebDriver session with `caps` at `webdriver_url`, within the new-session deadline
/// ([`crate::sessions::new_session_deadline`]), and notes it so it is ended on every exit.
///
/// A Selenium Grid queues a request it has no free slot for and answers only when one frees or
/// its own queue timeout passes; past the deadline the request is given up, with a message that
/// says so. A refusal carries the server's own message (the grid's "Could not start a new
/// session. ...").
async fn new_session(
    webdriver_url: &str,
    caps: serde_json::Map<String, Value>,
) -> Result<Client, BrowserError> {
    let Some(_request) = crate::sessions::Request::begin() else {
        return Err(BrowserError::NewSession(
            "the harness is ending; no new browser is started".into(),
        ));
    };
    let mut builder = ClientBuilder::rustls().map_err(BrowserError::Io)?;
    builder.capabilities(caps);
    let limit = crate::sessions::new_session_deadline();
    let client = match tokio::time::timeout(limit, builder.connect(webdriver_url)).await {
        Ok(Ok(client)) => client,
        Ok(Err(e)) => {
            return Err(BrowserError::NewSession(format!(
                "the WebDriver server at {webdriver_url} started no browser: {}",
                new_session_error(&e)
            )));
        }
        Err(_) => {
            return Err(BrowserError::NewSession(format!(
                "the WebDriver server at {webdriver_url} started no browser within {}s (a \
                 Selenium Grid queues a request until a slot matching the browser is free); the \
                 request was given up. Free or add slots on the grid, lower --concurrency, or \
                 raise --new-session-timeout",
                limit.as_secs_f64()
            )));
        }
    };
    if let Ok(Some(id)) = client.session_id().await {
        crate::sessions::opened(webdriver_url, &id);
    }
    Ok(client)
}

/// A refused new session in the server's own words: a grid's message (its first lines; the
/// rest is build and host information) rather than fantoccini's wrapping.
fn new_session_error(e: &fantoccini::error::NewSessionError) -> String {
    use fantoccini::error::NewSessionError;
    let text = match e {
        NewSessionError::SessionNotCreated(wd) => format!("session not created: {}", wd.message),
        NewSessionError::NotW3C(v) => {
            match v["message"].as_str().or(v["value"]["message"].as_str()) {
                Some(m) => format!("{}: {m}", v["error"].as_str().unwrap_or("error")),
                None => v.to_string(),
            }
        }
        NewSessionError::UnexpectedError(fantoccini::error::CmdError::Standard(wd)) => {
            format!("{}: {}", wd.error, wd.message)
        }
        other => other.to_string(),
    };
    text.lines()
        .take_while(|l| !l.starts_with("Build info:") && !l.starts_with("Host info:"))
        .collect::<Vec<_>>()
        .join(" ")
        .trim()
        .to_string()
}

/// Ends a session and forgets it ([`crate::sessions`]).
async fn end_session(client: Client) -> Result<(), fantoccini::error::CmdError> {
    let id = client.session_id().await.ok().flatten();
    let ended = client.close().await;
    // A session whose server no longer knows it is over all the same.
    if let Some(id) = id
        && (ended.is_ok() || ended.as_ref().is_err_and(|e| session_lost(e).is_some()))
    {
        crate::sessions::closed(&id);
    }
    ended
}

/// Whether `e` is chromedriver's answer to a command that a navigation of the page cut short:
/// "aborted by navigation", an error code outside the W3C list
/// (<https://w3c.github.io/webdriver/#errors>), so fantoccini keeps it as a non-conforming
/// response. It says nothing about the page the navigation leads to.
pub fn aborted_by_navigation(e: &fantoccini::error::CmdError) -> bool {
    matches!(e, fantoccini::error::CmdError::NotW3C(serde_json::Value::String(code))
        if code == "aborted by navigation")
}

/// Whether `e` says the browser's session is gone for good, and why: the server no longer knows
/// the session ("invalid session id": a grid node that was lost, a browser that died), or the
/// server itself does not answer.
pub fn session_lost(e: &fantoccini::error::CmdError) -> Option<String> {
    use fantoccini::error::CmdError;
    match e {
        CmdError::Standard(wd) if e.is_invalid_session_id() => Some(format!(
            "the browser's WebDriver session is gone: {}",
            wd.message.lines().next().unwrap_or_default()
        )),
        CmdError::Failed(_) | CmdError::FailedC(_) | CmdError::Lost(_) => Some(format!(
            "the WebDriver server does not answer: {}",
            crate::probe::error_chain(e)
        )),
        _ => None,
    }
}

/// The user-facing text for Chromium's error `code` on `host`, or `None` when the code is not
/// about the server's certificate or TLS (a refused connection, an unknown host).
pub fn certificate_message(host: &str, code: &str) -> Option<String> {
    let why_fix = match code {
        // Chromium's codes (net/base/net_error_list.h), then Firefox's (NSS and mozilla::pkix).
        "ERR_CERT_AUTHORITY_INVALID"
        | "SEC_ERROR_UNKNOWN_ISSUER"
        | "SEC_ERROR_UNTRUSTED_ISSUER"
        | "SEC_ERROR_CA_CERT_INVALID"
        | "MOZILLA_PKIX_ERROR_SELF_SIGNED_CERT"
        | "MOZILLA_PKIX_ERROR_MITM_DETECTED" => {
            "its certificate is issued by a CA the browser does not trust. If that is your \
             organisation's own CA, set `tls.ca_file` in the target file to that CA's PEM file: \
             the browsers the harness starts then trust exactly that CA (and the probe too; with \
             --webdriver, install the CA where those browsers run)"
        }
        "ERR_CERT_COMMON_NAME_INVALID" | "SSL_ERROR_BAD_CERT_DOMAIN" => {
            "its certificate does not name this host. Use in `crm` the host name the certificate \
             is issued for (and `resolve` to reach it without DNS); `tls.ca_file` does not help here"
        }
        "ERR_CERT_DATE_INVALID"
        | "SEC_ERROR_EXPIRED_CERTIFICATE"
        | "SEC_ERROR_EXPIRED_ISSUER_CERTIFICATE"
        | "MOZILLA_PKIX_ERROR_NOT_YET_VALID_CERTIFICATE"
        | "MOZILLA_PKIX_ERROR_NOT_YET_VALID_ISSUER_CERTIFICATE" => {
            "its certificate has expired or is not valid yet (or this machine's clock is wrong). \
             Renew the certificate; `tls.ca_file` does not help here"
        }
        c if c.starts_with("ERR_CERT_")
            || c.starts_with("SEC_ERROR_")
            || c.starts_with("MOZILLA_PKIX_ERROR_") =>
        {
            "the browser refused its certificate. If it is issued by your organisation's own CA, \
             set `tls.ca_file` in the target file to that CA's PEM file; otherwise fix the \
             certificate"
        }
        c if c.starts_with("ERR_SSL_") || c.starts_with("SSL_ERROR_") => {
            "the TLS handshake failed (is it an https URL for a server that speaks plain http, or \
             a server with old TLS settings?). Check the scheme in `crm` and the server's TLS \
             configuration"
        }
        _ => return None,
    };
    // Chromium's codes are net:: errors; Firefox's are shown as it shows them.
    let shown = match code.starts_with("ERR_") {
        true => format!("net::{code}"),
        false => code.to_string(),
    };
    Some(format!(
        "the browser refused the TLS certificate of {host} ({shown}): {why_fix}. The harness \
         never ignores certificate errors."
    ))
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.closed {
            // fantoccini ends the session from a spawned task when the last client drops; that
            // needs a live runtime, which the after-hook guarantees by closing explicitly.
            let client = self.client.clone();
            let context = self.context.take();
            let (driver, profile) = (self.own_driver.take(), self.own_profile.take());
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move {
                    match context {
                        Some(lease) => drop(lease.host.release(&lease.id, client).await),
                        None => drop(end_session(client).await),
                    }
                    drop((driver, profile));
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{
        BrowserKind, Isolation, LaunchOptions, aborted_by_navigation, certificate_message,
    };

    /// chromedriver's "aborted by navigation" is told from every other answer a look can get:
    /// a wait looks again after it, and only after it (or after "no such element").
    #[test]
    fn aborted_by_navigation_is_only_chromedrivers_code_for_it() {
        use fantoccini::error::{CmdError, ErrorStatus, WebDriver};
        let code = |s: &str| CmdError::NotW3C(serde_json::Value::String(s.into()));
        assert!(aborted_by_navigation(&code("aborted by navigation")));
        assert!(!aborted_by_navigation(&code("aborted by something else")));
        assert!(!aborted_by_navigation(&CmdError::NotW3C(
            serde_json::json!({"error": "aborted by navigation"})
        )));
        for status in [ErrorStatus::NoSuchElement, ErrorStatus::InvalidSessionId] {
            let e = CmdError::Standard(WebDriver::new(status, "aborted by navigation"));
            assert!(!aborted_by_navigation(&e));
        }
    }

    fn pass_options(spki: &str) -> LaunchOptions {
        LaunchOptions {
            kind: BrowserKind::Chromium,
            headed: false,
            binary: None,
            host_rules: vec![
                "MAP crm.contoso.test 127.0.0.1".into(),
                "MAP adfs.contoso.test 127.0.0.1".into(),
            ],
            trusted_spki: vec![spki.into()],
            negotiate_allowlist: None,
            trusted_ca_pem: vec![],
            firefox_seed: None,
        }
    }

    #[test]
    fn one_host_serves_passes_that_resolve_alike_and_trusts_each_emulator() {
        let (ifd, mut fba) = (pass_options("ifd-ca"), pass_options("fba-ca"));
        fba.host_rules.reverse();
        let merged = ifd
            .merge_for_host(&fba)
            .expect("same names, same addresses");
        assert_eq!(merged.trusted_spki, ["ifd-ca", "fba-ca"]);
        let again = merged.merge_for_host(&fba).unwrap();
        assert_eq!(again.trusted_spki, ["ifd-ca", "fba-ca"], "no SPKI twice");
    }

    #[test]
    fn passes_that_a_host_cannot_serve_alike_get_their_own() {
        let ifd = pass_options("a");
        let elsewhere = LaunchOptions {
            host_rules: vec!["MAP crm.contoso.test 127.0.0.2".into()],
            ..pass_options("b")
        };
        assert!(
            ifd.merge_for_host(&elsewhere).is_none(),
            "other name resolution"
        );
        let kerberos = LaunchOptions {
            negotiate_allowlist: Some("*.contoso.test".into()),
            ..pass_options("b")
        };
        assert!(!kerberos.can_host_contexts());
        assert!(ifd.merge_for_host(&kerberos).is_none(), "a Kerberos pass");
        let headed = LaunchOptions {
            headed: true,
            ..pass_options("b")
        };
        assert!(ifd.merge_for_host(&headed).is_none(), "another window");
        let firefox = LaunchOptions {
            kind: BrowserKind::Firefox,
            ..pass_options("b")
        };
        assert!(
            firefox.merge_for_host(&firefox).is_none(),
            "Firefox's user contexts serve one pass's people"
        );
    }

    #[test]
    fn contexts_by_default_with_an_own_driver_processes_with_a_webdriver_server() {
        let choose = Isolation::choose;
        assert_eq!(choose(None, false), Isolation::Context);
        assert_eq!(choose(None, true), Isolation::Process);
        assert_eq!(choose(Some(Isolation::Process), false), Isolation::Process);
        assert_eq!(choose(Some(Isolation::Context), true), Isolation::Context);
    }

    #[test]
    fn an_unknown_ca_points_at_tls_ca_file() {
        let m = certificate_message("crm.contoso.com", "ERR_CERT_AUTHORITY_INVALID").unwrap();
        assert!(m.contains("crm.contoso.com") && m.contains("net::ERR_CERT_AUTHORITY_INVALID"));
        assert!(m.contains("set `tls.ca_file`"), "{m}");
    }

    #[test]
    fn a_wrong_name_or_date_is_not_fixed_by_a_ca_file() {
        for code in ["ERR_CERT_COMMON_NAME_INVALID", "ERR_CERT_DATE_INVALID"] {
            let m = certificate_message("crm.contoso.com", code).unwrap();
            assert!(m.contains("`tls.ca_file` does not help"), "{m}");
        }
    }

    #[test]
    fn firefox_codes_get_the_same_advice() {
        let m = certificate_message("crm.contoso.com", "SEC_ERROR_UNKNOWN_ISSUER").unwrap();
        assert!(
            m.contains("(SEC_ERROR_UNKNOWN_ISSUER)") && m.contains("set `tls.ca_file`"),
            "{m}"
        );
        let m = certificate_message("crm.contoso.com", "SSL_ERROR_BAD_CERT_DOMAIN").unwrap();
        assert!(m.contains("`tls.ca_file` does not help"), "{m}");
    }

    #[test]
    fn other_network_errors_are_not_certificate_errors() {
        assert_eq!(
            certificate_message("crm.contoso.com", "ERR_CONNECTION_REFUSED"),
            None
        );
    }
}
