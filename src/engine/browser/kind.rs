//! Which browser a run drives and how its scenarios are kept apart: [`BrowserKind`] (with what
//! each family's WebDriver server and capabilities are called) and [`Isolation`].

use super::*;

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
                BrowserKind::Chromium => "looked for `chromedriver` on PATH; install it with `ci/install-run` \
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
                    --locked geckodriver` (in a checkout, `ci/install-run --browser firefox` builds it into \
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
                       PATH; install it with `ci/install-run` (or `apt-get install chromium \
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
                            "install it with `ci/install-run --browser firefox` (or `apt-get install firefox-esr` on Debian)"
                        }
                        _ => "install it, or pass --webdriver URL",
                    }
                ),
            })
    }
}

/// Why `--headed` cannot work here, if it cannot: a window needs a display, and without one
/// Chromium exits at start, saying only that it did. `run` and `doctor` say this alike.
pub fn headed_display_problem() -> Option<&'static str> {
    (std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none())
        .then_some(
            "--headed shows the browser in a window, and there is no display (neither DISPLAY nor \
         WAYLAND_DISPLAY is set); run without --headed, or under a display (e.g. xvfb-run)",
        )
}

/// What `program --version` prints (its first line), within 10 s; `None` if it says nothing.
pub fn version_of(program: &Path) -> Option<String> {
    let mut child = std::process::Command::new(program)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take()?, &mut out).ok()?;
    out.lines()
        .next()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
}

/// The major version in a `--version` line (`Chromium 156.0.8078.129 built on Debian`,
/// `ChromeDriver 156.0.8078.129 (...)`): the first number followed by a dot.
pub fn major_version(line: &str) -> Option<u32> {
    line.split(|c: char| !c.is_ascii_digit() && c != '.')
        .find(|w| w.contains('.') && w.starts_with(|c: char| c.is_ascii_digit()))
        .and_then(|w| w.split('.').next()?.parse().ok())
}

impl BrowserKind {
    /// Whether the browser and its driver found here differ in major version, which the
    /// Chromium family's drivers refuse ("This version of ChromeDriver only supports Chrome
    /// version N"): the sentence that says so, or `None` (same, or not known).
    pub fn version_mismatch(self) -> Option<String> {
        if !self.has_devtools_contexts() {
            return None;
        }
        let browser = version_of(&self.find_binary().ok()?)?;
        let driver = version_of(&self.find_driver().ok()?)?;
        let (b, d) = (major_version(&browser)?, major_version(&driver)?);
        (b != d).then(|| {
            format!(
                "the browser ({browser}) and its driver ({driver}) differ in major version; \
                 install the driver of the browser's version (on Debian, `chromium` and \
                 `chromium-driver` of one release)"
            )
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

/// Where Chromium lives: Debian puts the real binary behind a shell wrapper in /usr/bin.
pub fn chromium_binary() -> Option<PathBuf> {
    ["/usr/lib/chromium/chromium"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .or_else(|| which("chromium"))
        .or_else(|| which("google-chrome"))
}
