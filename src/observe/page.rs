//! The vocabulary of a page, on top of [`crate::engine::browser`]: wait until something is visible,
//! settle after redirects, activate a link, button or form, read how a page was obtained, fetch
//! from inside the page. Steps compose these; they never poll the browser themselves.

use std::fmt;
use std::time::Duration;

use fantoccini::Locator;
use fantoccini::elements::Element;

use crate::engine::browser::Browser;
use crate::engine::wait::Wait;

/// What tells pages apart (from the target profile): signed in, a sign-in form, signed out, data.
#[derive(Clone, Debug)]
pub struct PageMarkers {
    /// An element present only when signed in.
    pub signed_in: String,
    /// The sign-in form's user name input.
    pub sign_in_form: String,
    /// A pattern the text of a signed-out page matches.
    pub signed_out: regex::Regex,
    /// An element holding application data.
    pub data: String,
    /// A form that posts itself on load (a redirect chain still under way).
    pub auto_post: String,
}

/// What a page shows once it has settled (see [`settle`]).
#[derive(Clone, Debug)]
pub struct PageState {
    /// The page's URL (shortened).
    pub url: String,
    /// Whether it settled before the deadline.
    pub settled: bool,
    /// The signed-in marker is shown.
    pub shows_app: bool,
    /// Application data is shown.
    pub shows_data: bool,
    /// A sign-in form is shown.
    pub sign_in_form: bool,
    /// The page says "signed out".
    pub says_signed_out: bool,
    /// The browser took the page from its HTTP cache instead of asking the server.
    pub from_cache: bool,
    /// AD FS refused the browser with its loop-detection error (MSIS7042).
    pub adfs_loop: bool,
    /// The browser's WebDriver session is gone (its grid node was lost), and why: the page was
    /// never seen, so nothing may be judged from this state.
    pub session_lost: Option<String>,
}

impl std::fmt::Display for PageState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = if self.shows_app {
            "the application signed in"
        } else if self.sign_in_form {
            "a sign-in form"
        } else if self.says_signed_out {
            "a signed-out page"
        } else {
            "neither the application nor a sign-in form"
        };
        write!(f, "page {} shows {shown}", self.url)?;
        if self.shows_data {
            write!(f, " with data")?;
        }
        if self.from_cache {
            write!(f, " (from the browser's HTTP cache, not the server)")?;
        }
        if !self.settled {
            write!(f, " (not settled in time)")?;
        }
        Ok(())
    }
}

/// Why a page verb could not observe what it was asked: the step is not judged, with this as its
/// message.
#[derive(Debug)]
pub enum PageError {
    /// The page did not settle within the page timeout; what it showed at the deadline.
    NotSettled {
        /// The page timeout.
        limit: Duration,
        /// What the page showed.
        state: String,
    },
    /// A control never became displayed.
    NotDisplayed {
        /// Its selector.
        css: String,
        /// What the wait saw.
        cause: String,
    },
    /// A WebDriver command failed, while `doing` (where it says more than the command).
    Command {
        /// What the command was for, if the error would not say.
        doing: Option<String>,
        /// The driver's error.
        cause: String,
    },
    /// The browser refused the server's certificate; the message names the fix.
    Certificate(String),
    /// AD FS showed its sign-in loop page.
    AdfsLoop,
    /// The page is not what the target file says it is (a field, a control or a page missing).
    Content(String),
    /// The scenario asks for something the target file does not give.
    Target(String),
}

impl PageError {
    fn command(doing: impl Into<String>) -> impl FnOnce(fantoccini::error::CmdError) -> PageError {
        let doing = doing.into();
        move |e| PageError::Command {
            doing: Some(doing),
            cause: if e.is_timeout() || e.is_script_timeout() {
                // The driver's own bound (browser::Browser::bound_waits): a page that did not
                // load, or a script that did not end, within --page-timeout and its margin.
                format!(
                    "the page did not finish loading within --page-timeout plus the driver's \
                     margin (the server answered slowly, partly or not at all): {e}"
                )
            } else {
                e.to_string()
            },
        }
    }

    fn from_display(e: impl fmt::Display) -> PageError {
        PageError::Command {
            doing: None,
            cause: e.to_string(),
        }
    }
}

impl fmt::Display for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PageError::NotSettled { limit, state } => write!(
                f,
                "could not judge: the page did not settle within {:.0}s (--page-timeout): {state}",
                limit.as_secs_f64()
            ),
            PageError::NotDisplayed { css, cause } => {
                write!(f, "`{css}` was not displayed ({cause})")
            }
            PageError::Command {
                doing: Some(doing),
                cause,
            } => write!(f, "{doing}: {cause}"),
            PageError::Command { doing: None, cause } => f.write_str(cause),
            PageError::Certificate(m) | PageError::Content(m) | PageError::Target(m) => {
                f.write_str(m)
            }
            PageError::AdfsLoop => f.write_str(ADFS_LOOP),
        }
    }
}

impl std::error::Error for PageError {}

/// Steps report a page verb's failure as their message ("not judged").
impl From<PageError> for String {
    fn from(e: PageError) -> String {
        e.to_string()
    }
}

impl PageState {
    /// The state, if the page settled; otherwise why it cannot be judged. A page still on its way
    /// (a slow sign-out chain, a server that hangs) shows what it showed at the deadline, which
    /// says nothing about what it will show: judging it could call a slow server a violation.
    pub fn settled_or_not_judged(self, limit: Duration) -> Result<PageState, PageError> {
        if self.settled {
            return Ok(self);
        }
        Err(PageError::NotSettled {
            limit,
            state: self.to_string(),
        })
    }
}

/// Waits (up to `limit`) until the page has settled on something a person can read: the
/// application signed in, a sign-in form, or a page that says "signed out" (redirect chains and
/// AD FS's auto-posting forms pass through pages that are none of these). A loaded page that is
/// none of the three (IIS's 401 page, an error page) counts as settled once it has stayed the
/// same, with no form about to post itself (`auto_post`), for 400 ms.
///
/// Each look is one script in the page (one WebDriver round trip, not one per marker), so a look
/// costs a few milliseconds and the wait ends as soon as the browser has settled.
pub async fn settle(browser: &Browser, markers: &PageMarkers, limit: Duration) -> PageState {
    let quiet = Duration::from_millis(400);
    let last: std::cell::RefCell<Option<(String, std::time::Instant)>> = Default::default();
    let lost: std::cell::RefCell<Option<String>> = Default::default();
    let (_, settled) = Wait::at_most(limit)
        .until_or_last(|| {
            // Errors while a navigation replaces the document mean "not yet"; a session that is
            // gone means "never": stop looking.
            let (last, lost) = (&last, &lost);
            async move {
                let look = match look(browser, markers).await {
                    Ok(look) => look,
                    Err(e) => {
                        let gone = crate::engine::browser::session_lost(&e);
                        let stop = gone.is_some();
                        *lost.borrow_mut() = gone;
                        return (stop, ());
                    }
                };
                let mut last = last.borrow_mut();
                let still = match &*last {
                    Some((u, since)) if *u == look.url && look.complete && !look.posting => {
                        since.elapsed() >= quiet
                    }
                    _ => {
                        *last = Some((look.url.clone(), std::time::Instant::now()));
                        false
                    }
                };
                let readable = look.app || look.form || look.says_signed_out || still;
                (look.complete && readable, ())
            }
        })
        .await;
    if let Some(lost) = lost.into_inner() {
        return PageState {
            url: String::new(),
            settled: false,
            shows_app: false,
            shows_data: false,
            sign_in_form: false,
            says_signed_out: false,
            from_cache: false,
            adfs_loop: false,
            session_lost: Some(lost),
        };
    }
    let look = look(browser, markers).await.unwrap_or_default();
    PageState {
        url: crate::config::secrets::shorten_redacted(&current_url(browser).await, 120),
        settled,
        shows_app: look.app,
        shows_data: look.data,
        sign_in_form: look.form,
        says_signed_out: look.says_signed_out,
        from_cache: look.from_cache,
        adfs_loop: look.adfs_loop,
        session_lost: None,
    }
}

/// What one look at the page found (see [`look`]).
#[derive(Clone, Debug, Default)]
struct Look {
    url: String,
    complete: bool,
    app: bool,
    form: bool,
    data: bool,
    posting: bool,
    says_signed_out: bool,
    from_cache: bool,
    adfs_loop: bool,
}

/// One look at the page, in one script: its URL and load state, which markers match, its text
/// (matched here, with the target's Rust regex), and whether it came from the HTTP cache. An error
/// while a navigation replaces the document. A selector the page cannot parse matches nothing,
/// except `auto_post`, which then counts as "posting" (never settle on a page we cannot read).
async fn look(
    browser: &Browser,
    markers: &PageMarkers,
) -> Result<Look, fantoccini::error::CmdError> {
    let script = "const has = (css, otherwise) => { try { return !!document.querySelector(css); } \
                    catch (e) { return otherwise; } }; \
                  const n = performance.getEntriesByType('navigation')[0]; \
                  return { url: document.URL, ready: document.readyState, \
                    app: has(arguments[0], false), form: has(arguments[1], false), \
                    data: has(arguments[2], false), posting: has(arguments[3], true), \
                    text: document.body ? document.body.innerText : '', \
                    fromCache: !!n && n.transferSize === 0 && n.decodedBodySize > 0 \
                      && !/^(chrome-error|about):/.test(location.protocol) };";
    let args = [
        &markers.signed_in,
        &markers.sign_in_form,
        &markers.data,
        &markers.auto_post,
    ]
    .map(|css| serde_json::Value::String(css.clone()))
    .to_vec();
    let v = browser.client().execute(script, args).await?;
    let flag = |k: &str| v[k].as_bool().unwrap_or(false);
    Ok(Look {
        url: v["url"].as_str().unwrap_or_default().to_string(),
        complete: v["ready"].as_str() == Some("complete"),
        app: flag("app"),
        form: flag("form"),
        data: flag("data"),
        posting: v["posting"].as_bool().unwrap_or(true),
        says_signed_out: markers
            .signed_out
            .is_match(v["text"].as_str().unwrap_or_default()),
        from_cache: flag("fromCache"),
        adfs_loop: v["text"]
            .as_str()
            .is_some_and(|t| t.contains(ADFS_LOOP_CODE)),
    })
}

/// AD FS's loop-detection error: a browser that asked for more than 5 tokens within 20 s.
const ADFS_LOOP_CODE: &str = "MSIS7042";

/// What a run says when AD FS's loop detection refused a browser: never a verdict.
pub const ADFS_LOOP: &str = "could not judge: AD FS refused this browser with MSIS7042 (loop \
     detection: more than 5 sign-ins within 20 s). That is AD FS protecting itself, not a verdict \
     on sign-out: slow down (a lower --concurrency, fewer sign-ins per scenario), or on a test \
     farm raise Set-AdfsProperties -LoopDetectionMaximumTokensIssuedInInterval \
     (https://learn.microsoft.com/en-us/windows-server/identity/ad-fs/troubleshooting/ad-fs-tshoot-loop)";

/// Whether the browser shows AD FS's loop-detection error now.
pub async fn shows_adfs_loop(browser: &Browser) -> bool {
    browser
        .client()
        .execute(
            "return document.body ? document.body.innerText : '';",
            vec![],
        )
        .await
        .ok()
        .and_then(|v| v.as_str().map(|t| t.contains(ADFS_LOOP_CODE)))
        .unwrap_or(false)
}

/// Whether the current document has finished loading (an error while a navigation replaces it
/// counts as "not yet").
pub async fn document_complete(browser: &Browser) -> bool {
    browser
        .client()
        .execute("return document.readyState", vec![])
        .await
        .map(|v| v.as_str() == Some("complete"))
        .unwrap_or(false)
}

/// The address the browser shows, or why there is none.
pub async fn current_url(browser: &Browser) -> String {
    browser
        .client()
        .current_url()
        .await
        .map(|u| u.to_string())
        .unwrap_or_else(|e| format!("(no URL: {e})"))
}

/// Navigation Timing: a document with no bytes transferred came from the HTTP cache.
pub async fn from_http_cache(browser: &Browser) -> bool {
    browser
        .client()
        .execute(
            "const n = performance.getEntriesByType('navigation')[0]; \
             return !!n && n.transferSize === 0 && n.decodedBodySize > 0 \
               && !/^(chrome-error|about):/.test(location.protocol);",
            vec![],
        )
        .await
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

/// Marks the current document in its JavaScript state: only a back/forward-cache restore brings
/// the same document (and the mark) back; any load, even from the HTTP cache, starts afresh.
pub async fn mark_document(browser: &Browser) -> Result<(), PageError> {
    browser
        .client()
        .execute("window.__logoutHarnessMark = true; return true", vec![])
        .await
        .map(|_| ())
        .map_err(PageError::from_display)
}

/// Where a page a person saw came from: what a back-button violation's likely cause follows from
/// (a page from the network means the session was alive; one from a cache, that it was stored).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageOrigin {
    /// Restored whole from the back/forward cache (its scripts' state kept).
    BackForwardCache,
    /// Fetched from the browser's HTTP cache, no request to the server.
    HttpCache,
    /// Fetched from the server.
    Network,
}

impl PageOrigin {
    /// The origin a [`navigation_type`] text names, if it names one.
    pub fn of_navigation_type(text: &str) -> Option<PageOrigin> {
        if text == "back/forward cache" {
            Some(PageOrigin::BackForwardCache)
        } else if text.ends_with(", HTTP cache") {
            Some(PageOrigin::HttpCache)
        } else if text.ends_with(", network") {
            Some(PageOrigin::Network)
        } else {
            None
        }
    }
}

/// How the page shown now was obtained: restored from the back/forward cache (the mark of
/// [`mark_document`] survived), or fetched (and then whether from the HTTP cache).
pub async fn navigation_type(browser: &Browser) -> String {
    let script = "const n = performance.getEntriesByType('navigation')[0];
        if (window.__logoutHarnessMark) { return 'back/forward cache'; }
        // The browser's own error page (a redirect loop, no connection) has a navigation entry
        // that transferred nothing: it came from no cache and no server.
        if (/^(chrome-error|about):/.test(location.protocol)) { return 'the browser\\'s error page'; }
        if (!n) { return 'no navigation entry'; }
        return n.type + (n.transferSize === 0 ? ', HTTP cache' : ', network');";
    browser
        .client()
        .execute(script, vec![])
        .await
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

/// The answer to a request made from inside the page (so it carries whatever authenticates the
/// page: cookies, or a Kerberos ticket under Windows authentication).
#[derive(Clone, Debug)]
pub struct InPageAnswer {
    /// HTTP status.
    pub status: u16,
    /// The final URL.
    pub url: String,
    /// The `Cache-Control` header, if any.
    pub cache_control: Option<String>,
}

/// `GET url` with `fetch` from inside the page, bypassing the HTTP cache.
pub async fn fetch_in_page(browser: &Browser, url: &url::Url) -> Result<InPageAnswer, PageError> {
    let answer = browser
        .client()
        .execute(
            "return fetch(arguments[0], {credentials: 'include', cache: 'no-store'}) \
               .then(r => ({status: r.status, url: r.url, cacheControl: r.headers.get('cache-control')}));",
            vec![serde_json::Value::String(url.to_string())],
        )
        .await
        .map_err(PageError::command(format!("fetching {url} from the browser")))?;
    Ok(InPageAnswer {
        status: answer["status"].as_u64().unwrap_or_default() as u16,
        url: answer["url"].as_str().unwrap_or(url.as_str()).to_string(),
        cache_control: answer["cacheControl"].as_str().map(str::to_string),
    })
}

/// Fills form fields, each `(css, value)`, in one script: focus, set the value through the
/// element's native setter (so frameworks that watch it see the change), then `input` and
/// `change` events, which is what Playwright's `fill` does. Typing key by key through WebDriver
/// costs about 0.4 s per sign-in and proves nothing more about a sign-out. The error names the
/// selector that matched nothing, never a value.
pub async fn fill(browser: &Browser, fields: &[(&str, &str)]) -> Result<(), PageError> {
    let script = "for (const [css, value] of arguments[0]) { \
                    const el = document.querySelector(css); \
                    if (!el) { return css; } \
                    el.focus(); \
                    const proto = Object.getPrototypeOf(el); \
                    const setter = Object.getOwnPropertyDescriptor(proto, 'value'); \
                    if (setter && setter.set) { setter.set.call(el, value); } else { el.value = value; } \
                    el.dispatchEvent(new Event('input', { bubbles: true })); \
                    el.dispatchEvent(new Event('change', { bubbles: true })); \
                  } return null;";
    let pairs: Vec<serde_json::Value> = fields
        .iter()
        .map(|(css, value)| serde_json::json!([css, value]))
        .collect();
    let missing = browser
        .client()
        .execute(script, vec![serde_json::Value::Array(pairs)])
        .await
        // A WebDriver error names the command, never the script's arguments.
        .map_err(PageError::command("filling the form"))?;
    match missing.as_str() {
        Some(css) => Err(PageError::Content(format!("the form has no `{css}`"))),
        None => Ok(()),
    }
}

/// How often a control due on a timer is looked for (CRM's session reminder, its
/// session-expired dialog): it comes seconds to minutes after the wait starts.
pub const TIMER_LOOK_EVERY: Duration = Duration::from_millis(100);

/// Whether the element `arguments[0]` selects could be displayed: it exists and neither it nor
/// an ancestor has `display: none`. Every element WebDriver calls displayed passes, so this only
/// spares the expensive check while the answer is surely no.
const MAY_BE_DISPLAYED: &str = "let n = document.querySelector(arguments[0]); if (!n) { return false; } \
     for (; n; n = n.parentElement) { if (getComputedStyle(n).display === 'none') { return false; } } \
     return true;";

/// Waits (up to `limit`) until `css` matches a displayed element, looking `every` so often, and
/// returns it.
///
/// Each look is one short script ([`MAY_BE_DISPLAYED`]); WebDriver's own Element Displayed, whose
/// script is far larger, is asked only once that says yes. Measured on the emulator's
/// expiry-dialog scenario (a 3 s wait): with Find Element and Element Displayed every 100 ms,
/// Chromium used about 1.1 s more CPU than with a look every second.
pub async fn wait_displayed(
    browser: &Browser,
    css: &str,
    limit: Duration,
    every: Duration,
) -> Result<Element, PageError> {
    Wait::at_most(limit)
        .every(every)
        .until(|| async move {
            let may_be = browser
                .client()
                .execute(MAY_BE_DISPLAYED, vec![serde_json::json!(css)])
                .await
                .ok()?;
            if may_be != serde_json::Value::Bool(true) {
                return None;
            }
            let el = browser.client().find(Locator::Css(css)).await.ok()?;
            el.is_displayed().await.unwrap_or(false).then_some(el)
        })
        .await
        .map_err(|e| PageError::NotDisplayed {
            css: css.to_string(),
            cause: e.to_string(),
        })
}

/// Activates `element` the way a person would: clicks a link or button, submits a form (the
/// target's sign-out may be any of these). Waits (up to `limit`) until a new document has
/// replaced the current one and finished loading, however many redirects it took; returns whether
/// that happened in time.
pub async fn activate_and_wait_new_document(
    browser: &Browser,
    element: Element,
    limit: Duration,
) -> Result<bool, PageError> {
    let tag = element.tag_name().await.map_err(PageError::from_display)?;
    if tag.eq_ignore_ascii_case("form") {
        browser
            .client()
            .execute(
                "window.__logoutHarnessOldDocument = true; \
                 const f = arguments[0]; \
                 if (f.requestSubmit) { f.requestSubmit(); } else { f.submit(); } return true;",
                vec![serde_json::to_value(&element).map_err(PageError::from_display)?],
            )
            .await
            .map_err(PageError::command("submitting the form"))?;
        return wait_new_document(browser, limit).await;
    }
    browser
        .client()
        .execute(
            "window.__logoutHarnessOldDocument = true; return true",
            vec![],
        )
        .await
        .map_err(PageError::from_display)?;
    element
        .click()
        .await
        .map_err(PageError::command("clicking"))?;
    wait_new_document(browser, limit).await
}

/// Waits (up to `limit`) until the document marked before a navigation has been replaced by a
/// new one that finished loading, however many redirects it took, even on the same URL.
async fn wait_new_document(browser: &Browser, limit: Duration) -> Result<bool, PageError> {
    Ok(Wait::at_most(limit)
        .until(|| async move {
            let state = browser
                .client()
                .execute(
                    "return window.__logoutHarnessOldDocument ? 'old' : document.readyState",
                    vec![],
                )
                .await
                .ok()
                .and_then(|v| v.as_str().map(str::to_string));
            (state.as_deref() == Some("complete")).then_some(())
        })
        .await
        .is_ok())
}

/// Opens `start` and signs in with `creds`, until the signed-in page shows: a sign-in form is
/// filled and submitted; single sign-on (the application straight away) needs nothing.
pub async fn sign_in(
    browser: &Browser,
    start: &url::Url,
    pages: &crate::config::target::Pages,
    creds: &crate::config::target::Credentials,
    limit: Duration,
) -> Result<(), PageError> {
    sign_in_ticking(browser, start, pages, creds, limit, false)
        .await
        .map(drop)
}

/// What became of "Keep me signed in" in a sign-in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kmsi {
    /// The sign-in did not ask for it (or signed in without a form).
    NotAsked,
    /// It was ticked.
    Ticked,
    /// The form has no such control, and only the mode's default (AD FS's `#kmsiInput`) said
    /// it would: the deployment offers none. Why, for the reason the scenario is not applicable.
    NotOffered(String),
}

/// [`sign_in`], and with `kmsi` the form's "Keep me signed in" (`pages.kmsi`) is ticked before
/// it is submitted. A form without the control the target file declares is an error that says
/// how to declare there is none; without the mode's default one, the sign-in goes on unticked.
pub async fn sign_in_ticking(
    browser: &Browser,
    start: &url::Url,
    pages: &crate::config::target::Pages,
    creds: &crate::config::target::Credentials,
    limit: Duration,
    kmsi: bool,
) -> Result<Kmsi, PageError> {
    let mut ticked = Kmsi::NotAsked;
    browser
        .goto(start.as_str())
        .await
        .map_err(PageError::from_display)?;
    let form_or_app = format!("{}, {}", pages.username_input, pages.signed_in);
    if let Err(e) = browser.wait_for(&form_or_app, limit).await {
        return Err(match e {
            // The browser refused the server's certificate: say so, with the fix.
            crate::engine::browser::BrowserError::Certificate(m) => PageError::Certificate(m),
            _ if shows_adfs_loop(browser).await => PageError::AdfsLoop,
            e => PageError::Content(format!("neither a sign-in form nor CRM appeared: {e}")),
        });
    }
    if browser
        .has(&pages.username_input)
        .await
        .map_err(PageError::from_display)?
    {
        let password = creds.password.as_ref().ok_or_else(|| {
            PageError::Target("the page asks for a password and the target gives none".into())
        })?;
        fill(
            browser,
            &[
                (&pages.username_input, &creds.username),
                (&pages.password_input, password.expose()),
            ],
        )
        .await?;
        if kmsi {
            let css = pages.kmsi.as_deref().ok_or_else(|| {
                PageError::Target(
                    "the scenario ticks \"Keep me signed in\" but the target declares none \
                     (`pages.kmsi`)"
                        .into(),
                )
            })?;
            let offered = browser.has(css).await.map_err(PageError::from_display)?;
            ticked = if !offered && pages.kmsi_from_mode {
                let host = browser
                    .client()
                    .current_url()
                    .await
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_string))
                    .unwrap_or_else(|| "the sign-in page".into());
                Kmsi::NotOffered(format!(
                    "the sign-in form at {host} offers no \"Keep me signed in\" (AD FS's `{css}`, \
                     shown with Set-AdfsProperties -EnableKmsi $true); if it has one of its own, \
                     declare `pages.kmsi: SELECTOR` in the target file"
                ))
            } else {
                tick(browser, css).await?;
                Kmsi::Ticked
            };
        }
        browser
            .client()
            .find(fantoccini::Locator::Css(&pages.submit))
            .await
            .map_err(|e| {
                PageError::Content(format!("the sign-in form has no `{}`: {e}", pages.submit))
            })?
            .click()
            .await
            .map_err(PageError::from_display)?;
    }
    if let Err(e) = browser.wait_for(&pages.signed_in, limit).await {
        return Err(if shows_adfs_loop(browser).await {
            PageError::AdfsLoop
        } else {
            PageError::Content(format!(
                "CRM did not show the signed-in page: {e}; the browser shows {}",
                what_is_shown(browser).await
            ))
        });
    }
    Ok(ticked)
}

/// Where the browser is and the start of what the page says (redacted, on one line): what a
/// person would look at when a sign-in did not get through (a 403 page, an error, the form
/// again with "wrong password").
async fn what_is_shown(browser: &Browser) -> String {
    let url = current_url(browser).await;
    let text = browser.body_text().await.unwrap_or_default();
    let said = crate::config::secrets::shorten_redacted(
        &text.split_whitespace().collect::<Vec<_>>().join(" "),
        160,
    );
    if said.is_empty() {
        format!("{url} (an empty page)")
    } else {
        format!("{url}: \"{said}\"")
    }
}

/// Ticks the checkbox `css` (a click, as a person would, when it is not ticked yet) and checks
/// that it is ticked.
async fn tick(browser: &Browser, css: &str) -> Result<(), PageError> {
    let script = "const el = document.querySelector(arguments[0]); \
                  if (!el) { return null; } \
                  if (!el.checked) { el.click(); } \
                  return !!el.checked;";
    let ticked = browser
        .client()
        .execute(script, vec![serde_json::Value::String(css.to_string())])
        .await
        .map_err(PageError::command("ticking \"Keep me signed in\""))?;
    match ticked.as_bool() {
        Some(true) => Ok(()),
        Some(false) => Err(PageError::Content(format!(
            "\"Keep me signed in\" (`{css}`) did not stay ticked after a click"
        ))),
        None => Err(PageError::Content(format!(
            "the sign-in form has no \"Keep me signed in\" `{css}` (AD FS shows it only with \
             Set-AdfsProperties -EnableKmsi $true); if the deployment offers none, set \
             `pages.kmsi: null` in the target file"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(settled: bool) -> PageState {
        PageState {
            url: "https://crm.contoso.test/signout".into(),
            settled,
            shows_app: false,
            shows_data: false,
            sign_in_form: false,
            says_signed_out: false,
            from_cache: false,
            adfs_loop: false,
            session_lost: None,
        }
    }

    #[test]
    fn a_page_that_did_not_settle_is_not_judged_with_the_limit_named() {
        let e = state(false)
            .settled_or_not_judged(Duration::from_secs(3))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("could not judge: "), "{e}");
        assert!(e.contains("within 3s (--page-timeout)"), "{e}");
        assert!(e.contains("(not settled in time)"), "{e}");
        assert!(
            state(true)
                .settled_or_not_judged(Duration::from_secs(3))
                .is_ok()
        );
    }
}
