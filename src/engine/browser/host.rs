//! Browser contexts instead of processes ([`BrowserHost`], [`SharedBrowser`]): one browser
//! process whose contexts isolate people from each other, Playwright's model through WebDriver;
//! Firefox's processes kept for the next person in a pool.

use super::*;

/// A Firefox person's WebDriver BiDi user context (own cookie jar, HTTP cache, storage and
/// HTTP-auth cache: Firefox keys them all by the context's origin attributes), lent by a Firefox
/// of a [`SharedBrowser`] until the person's browser closes.
#[derive(Debug)]
pub(super) struct UserContext {
    pub(super) id: String,
    /// The tab of the default user context that the Firefox keeps between people: a WebDriver
    /// session ends with its last tab. No person ever navigates it.
    pub(super) home: fantoccini::wd::WindowHandle,
    pub(super) pool: Arc<FirefoxPool>,
}

/// The Firefox processes of a [`SharedBrowser`] that no person is using, each showing only its
/// home tab. geckodriver serves one session per Firefox and a WebDriver session drives one tab
/// at a time, so a Firefox serves one person at a time; between people only the user context
/// changes, instead of a start of about 2-3 s of CPU (docs/browsers.md).
#[derive(Debug, Default)]
pub(super) struct FirefoxPool {
    pub(super) idle: Mutex<Vec<Browser>>,
    pub(super) ended: AtomicBool,
}

impl FirefoxPool {
    /// Keeps `browser` for the next person, or hands it back if the pool has ended.
    pub(super) fn keep(&self, browser: Browser) -> Option<Browser> {
        let mut idle = lock(&self.idle);
        if self.ended.load(Ordering::SeqCst) {
            return Some(browser);
        }
        idle.push(browser);
        None
    }

    /// Ends the pool: every idle Firefox is handed over to be closed, and none is kept after.
    pub(super) fn end(&self) -> Vec<Browser> {
        let mut idle = lock(&self.idle);
        self.ended.store(true, Ordering::SeqCst);
        idle.drain(..).collect()
    }
}

/// The browser context a [`Browser`] runs in, lent by its host until the browser closes.
#[derive(Debug)]
pub(super) struct ContextLease {
    pub(super) host: Arc<BrowserHost>,
    pub(super) id: String,
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
    pub(super) webdriver_url: String,
    pub(super) vendor_key: &'static str,
    pub(super) browser_name: &'static str,
    pub(super) debugger_address: String,
    pub(super) owner: Client,
    pub(super) cdp: crate::engine::cdp::Cdp,
    pub(super) idle_sessions: Mutex<Vec<Client>>,
    pub(super) ready: Mutex<Vec<(Client, String)>>,
    pub(super) _profile: Profile,
    pub(super) new_session_timeout: Duration,
    pub(super) kind: BrowserKind,
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
        let owner = new_session(
            webdriver_url,
            options.kind,
            options.capabilities(&profile, false),
            options.new_session_timeout,
        )
        .await?;
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
        let cdp = match crate::engine::cdp::Cdp::connect(&debugger_address).await {
            Ok(cdp) => cdp,
            Err(e) => {
                let _ = end_session(owner).await;
                return Err(BrowserError::NewSession(e.to_string()));
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
            new_session_timeout: options.new_session_timeout,
            kind: options.kind,
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

    pub(super) fn prepare_in_background(self: &Arc<Self>) {
        let host = self.clone();
        tokio::spawn(async move {
            if let Ok(ready) = host.prepare().await {
                lock(&host.ready).push(ready);
            }
        });
    }

    /// A new context with one blank tab, and a session switched to that tab.
    pub(super) async fn prepare(&self) -> Result<(Client, String), BrowserError> {
        let context = self
            .cdp
            .call(
                "Target.createBrowserContext",
                json!({ "disposeOnDetach": true }),
            )
            .await
            .map_err(BrowserError::from)?;
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
    pub(super) async fn attach(&self) -> Result<Client, BrowserError> {
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!(self.browser_name));
        caps.insert("pageLoadStrategy".into(), json!("normal"));
        caps.insert(
            self.vendor_key.into(),
            json!({ "debuggerAddress": self.debugger_address }),
        );
        new_session(
            &self.webdriver_url,
            self.kind,
            caps,
            self.new_session_timeout,
        )
        .await
    }

    /// A new blank tab in context `context_id`; its window handle.
    pub(super) async fn new_tab_in(
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
            .map_err(BrowserError::from)?;
        let id = target["targetId"].as_str().unwrap_or_default().to_string();
        fantoccini::wd::WindowHandle::try_from(id)
            .map_err(|e| BrowserError::Command(format!("Target.createTarget: {e}")))
    }

    /// The tabs of context `context_id`, as window handles.
    pub(super) async fn tabs_of(
        &self,
        context_id: &str,
    ) -> Result<Vec<fantoccini::wd::WindowHandle>, BrowserError> {
        let targets = self
            .cdp
            .call("Target.getTargets", json!({}))
            .await
            .map_err(BrowserError::from)?;
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
    pub(super) async fn release(&self, id: &str, client: Client) -> Result<(), BrowserError> {
        let disposed = self
            .cdp
            .call(
                "Target.disposeBrowserContext",
                json!({ "browserContextId": id }),
            )
            .await
            .map_err(BrowserError::from);
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
    pub(super) host: tokio::sync::OnceCell<Arc<BrowserHost>>,
    pub(super) firefox: Arc<FirefoxPool>,
    pub(super) ahead: usize,
    pub(super) webdriver_url: String,
    pub(super) options: LaunchOptions,
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
    pub(super) async fn open_in_firefox(&self) -> Result<Browser, BrowserError> {
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

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
