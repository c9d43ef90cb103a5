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
//!   (`storage.getCookies`, see [`firefox`]).
//!
//! The parts: [`kind`] (which browser, which isolation), [`driver`] (the WebDriver server),
//! [`launch`] (profiles and capabilities), [`host`] (browser contexts of a shared browser),
//! [`jar`] (the cookie jar's cookies), [`firefox`] (what differs in Firefox); this file is one
//! session, [`Browser`].

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

pub use crate::engine::error::BrowserError;
use crate::engine::process::{ChildGuard, which};

pub mod driver;
pub mod firefox;
pub mod host;
pub mod jar;
pub mod kind;
pub mod launch;

pub use driver::*;
pub use host::*;
pub use jar::*;
pub use kind::*;
pub use launch::*;

/// One browser as a person sees it: a WebDriver session on a profile of its own (a browser
/// process), or on a fresh browser context of a shared [`BrowserHost`] (see there).
#[derive(Debug)]
pub struct Browser {
    client: Client,
    closed: bool,
    context: Option<ContextLease>,
    kind: BrowserKind,
    /// Firefox: the session's WebDriver BiDi socket, for the whole cookie jar.
    bidi: Option<crate::engine::cdp::Cdp>,
    /// Firefox: the geckodriver serving this session alone, ended after it.
    own_driver: Option<ChildGuard>,
    /// A profile this browser owns (a Firefox of a [`SharedBrowser`]), removed after it.
    own_profile: Option<Profile>,
    /// Firefox: the user context this person lives in, in a Firefox of a [`SharedBrowser`].
    user_context: Option<UserContext>,
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
            crate::engine::browser::firefox::trust_profile(profile, &options.trusted_ca_pem)?;
            // One session per geckodriver: this session gets its own (see OWN_GECKODRIVERS).
            if let Some(spawn) = own_geckodriver(webdriver_url) {
                let (own_url, guard) = spawn.start().await?;
                crate::engine::sessions::own_server(&own_url);
                url = own_url;
                own_driver = Some(guard);
            }
        }
        let client = new_session(
            &url,
            options.kind,
            options.capabilities(profile, restore_last_session),
            options.new_session_timeout,
        )
        .await?;
        let socket = client
            .capabilities()
            .and_then(|c| c.get("webSocketUrl"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let bidi = match socket {
            Some(ws) if options.kind == BrowserKind::Firefox => {
                match crate::engine::cdp::Cdp::connect_url(&ws).await {
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
            .map_err(BrowserError::from)?;
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
            .map_err(BrowserError::from)?;
        // Firefox's window handles are its BiDi browsing context ids.
        let context = created["context"].as_str().unwrap_or_default().to_string();
        fantoccini::wd::WindowHandle::try_from(context)
            .map_err(|e| BrowserError::Command(format!("browsingContext.create: {e}")))
    }

    /// Firefox: the session's WebDriver BiDi socket.
    fn bidi(&self) -> Result<&crate::engine::cdp::Cdp, BrowserError> {
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
            .map_err(BrowserError::from)?;
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
    /// [`crate::engine::recorder`] needs to watch its requests). `None` for a process of its own, whose
    /// DevTools port chromedriver does not share (events cannot be had through WebDriver).
    pub fn devtools(&self) -> Option<(&crate::engine::cdp::Cdp, &str)> {
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
                .map_err(BrowserError::from)?;
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
                .map_err(BrowserError::from)?;
            let mut cookies = crate::engine::browser::firefox::jar_from_bidi(&reply)
                .map_err(BrowserError::Command)?;
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
                .map_err(BrowserError::from)?,
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
                .execute(crate::engine::browser::firefox::CERT_ERROR_SCRIPT, vec![])
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
    /// [`crate::engine::wait::Wait::DEFAULT_EVERY`]. When it does not
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
        let found = crate::engine::wait::Wait::at_most(limit)
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

    /// Bounds how long the WebDriver server itself waits for a page to load: a navigation, or a
    /// click that navigates (a sign-in or sign-out POST), and a script. chromedriver's own
    /// page-load default is 300 s, so a server that accepts a request and never answers would
    /// hold a step five minutes past the harness's page timeout
    /// ([WebDriver, Set Timeouts](https://www.w3.org/TR/webdriver2/#set-timeouts)).
    pub async fn bound_waits(&self, limit: Duration) -> Result<(), BrowserError> {
        self.client
            .update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
                Some(limit),
                Some(limit),
                Some(Duration::ZERO),
            ))
            .await?;
        Ok(())
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
/// ([`crate::engine::sessions::new_session_deadline`]), and notes it so it is ended on every exit.
///
/// A Selenium Grid queues a request it has no free slot for and answers only when one frees or
/// its own queue timeout passes; past the deadline the request is given up, with a message that
/// says so. A refusal carries the server's own message (the grid's "Could not start a new
/// session. ...").
async fn new_session(
    webdriver_url: &str,
    kind: BrowserKind,
    caps: serde_json::Map<String, Value>,
    limit: Duration,
) -> Result<Client, BrowserError> {
    let Some(_request) = crate::engine::sessions::Request::begin() else {
        return Err(BrowserError::NewSession(
            "the harness is ending; no new browser is started".into(),
        ));
    };
    let mut builder = ClientBuilder::rustls().map_err(BrowserError::Io)?;
    builder.capabilities(caps);
    // The harness's own driver has no queue: a browser that does not start there has a cause on
    // this machine, most often a full temp folder (the profile cannot be written).
    let own = crate::engine::sessions::owns(webdriver_url);
    let local_cause = || {
        crate::engine::rundir::low_space()
            .or_else(|| kind.version_mismatch())
            .map(|why| format!("; likely cause: {why}"))
            .unwrap_or_default()
    };
    let client = match tokio::time::timeout(limit, builder.connect(webdriver_url)).await {
        Ok(Ok(client)) => client,
        Ok(Err(e)) => {
            let cause = if own { local_cause() } else { String::new() };
            return Err(BrowserError::NewSession(format!(
                "the WebDriver server at {webdriver_url} started no browser: {}{cause}",
                new_session_error(&e)
            )));
        }
        Err(_) if own => {
            return Err(BrowserError::NewSession(format!(
                "the harness's own driver at {webdriver_url} started no browser within {}s (the \
                 request was given up){}",
                limit.as_secs_f64(),
                local_cause()
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
        crate::engine::sessions::opened(webdriver_url, &id);
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

/// Ends a session and forgets it ([`crate::engine::sessions`]).
async fn end_session(client: Client) -> Result<(), fantoccini::error::CmdError> {
    let id = client.session_id().await.ok().flatten();
    let ended = client.close().await;
    // A session whose server no longer knows it is over all the same.
    if let Some(id) = id
        && (ended.is_ok() || ended.as_ref().is_err_and(|e| session_lost(e).is_some()))
    {
        crate::engine::sessions::closed(&id);
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
            crate::engine::error::error_chain(e)
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

    /// Issue 29: a switch or pref the docs do not list is a way the harness's browser may behave
    /// unlike a user's that nobody reviewed. Every one the code gives (every option set, a
    /// profile that ran, so that the restore switches show) is named in docs/browser-facts.md
    /// B11.
    #[test]
    fn every_launch_switch_and_pref_is_listed_in_browser_facts_b11() {
        let doc = include_str!("../../../docs/browser-facts.md");
        let b11 = doc
            .split("## B11.")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .expect("docs/browser-facts.md has a section B11");
        let profile = crate::engine::browser::Profile::new().unwrap();
        std::fs::create_dir(profile.path().join("Default")).unwrap();
        std::fs::write(profile.path().join("prefs.js"), "").unwrap();
        let mut named = Vec::new();
        for kind in [BrowserKind::Chromium, BrowserKind::Firefox] {
            let options = LaunchOptions {
                kind,
                negotiate_allowlist: Some("*.contoso.test".into()),
                ..pass_options("spki")
            };
            let caps = options.capabilities(&profile, true);
            named.extend(
                caps.keys()
                    .filter(|k| k.as_str() == "webSocketUrl")
                    .cloned(),
            );
            let vendor = &caps[options.vendor_key()];
            for arg in vendor["args"].as_array().unwrap() {
                let arg = arg.as_str().unwrap();
                if arg.starts_with('-') {
                    named.push(arg.split('=').next().unwrap().to_string());
                }
            }
            for key in ["prefs", "localState"] {
                if let Some(map) = vendor.get(key).and_then(|m| m.as_object()) {
                    named.extend(map.keys().cloned());
                }
            }
            assert!(named.len() > 5, "{kind:?}: {caps:?}");
        }
        let missing: Vec<&String> = named
            .iter()
            .filter(|n| !b11.contains(&format!("`{n}`")))
            .collect();
        assert!(
            missing.is_empty(),
            "give each a row in docs/browser-facts.md B11 (why, and whether it changes \
             behaviour): {missing:?}"
        );
    }

    fn pass_options(spki: &str) -> LaunchOptions {
        LaunchOptions {
            new_session_timeout: crate::engine::sessions::DEFAULT_NEW_SESSION_DEADLINE,
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
            new_session_timeout: crate::engine::sessions::DEFAULT_NEW_SESSION_DEADLINE,
            host_rules: vec!["MAP crm.contoso.test 127.0.0.2".into()],
            ..pass_options("b")
        };
        assert!(
            ifd.merge_for_host(&elsewhere).is_none(),
            "other name resolution"
        );
        let kerberos = LaunchOptions {
            new_session_timeout: crate::engine::sessions::DEFAULT_NEW_SESSION_DEADLINE,
            negotiate_allowlist: Some("*.contoso.test".into()),
            ..pass_options("b")
        };
        assert!(!kerberos.can_host_contexts());
        assert!(ifd.merge_for_host(&kerberos).is_none(), "a Kerberos pass");
        let headed = LaunchOptions {
            new_session_timeout: crate::engine::sessions::DEFAULT_NEW_SESSION_DEADLINE,
            headed: true,
            ..pass_options("b")
        };
        assert!(ifd.merge_for_host(&headed).is_none(), "another window");
        let firefox = LaunchOptions {
            new_session_timeout: crate::engine::sessions::DEFAULT_NEW_SESSION_DEADLINE,
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
