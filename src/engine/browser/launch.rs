//! How a browser is launched: its [`Profile`] directory (kept to "reopen the browser") and the
//! [`LaunchOptions`] every session of a pass shares, turned into WebDriver capabilities.

use super::*;

/// A browser profile directory. A fresh one per simulated person; reused to "reopen the browser".
#[derive(Debug)]
pub struct Profile {
    pub(super) dir: tempfile::TempDir,
    pub(super) third_party_cookies_blocked: bool,
}

impl Profile {
    /// A new, empty profile under the run's private dir ([`crate::engine::rundir`]), named so a leak
    /// check can find it.
    pub fn new() -> std::io::Result<Profile> {
        let dir = crate::engine::rundir::tempdir("logout-harness-profile-")?;
        crate::engine::process::remove_on_signal(dir.path());
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
        crate::engine::process::forget_dir(self.dir.path());
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
    /// ([`crate::engine::browser::firefox::ProfileSeed`]); `None` starts every profile empty.
    pub firefox_seed: Option<Arc<crate::engine::browser::firefox::ProfileSeed>>,
    /// How long a new-session request may take before the harness gives up on it (a grid queues
    /// requests it has no free slot for).
    pub new_session_timeout: Duration,
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
            return crate::engine::browser::firefox::capabilities(
                self,
                profile,
                restore_last_session,
            );
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
