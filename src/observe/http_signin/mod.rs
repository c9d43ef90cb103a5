//! Signing a user in with HTTP alone, as a browser would, where the target's sign-in is a plain
//! HTML form: for measurements that need dozens of independent sessions, which browsers make
//! slowly.
//!
//! What a browser does that matters to a server is reproduced: redirects (with a browser's method
//! changes), a cookie jar with RFC 6265's rules (and Chromium's, where they differ), forms
//! submitted with exactly the controls a browser would send, `Referer` and `Origin` as Chromium
//! sends them (CSRF checks such as Django's read them), and the auto-posting forms that identity
//! providers submit by script (AD FS's WS-Federation token form). What needs JavaScript beyond
//! that needs the browser.
//!
//! Not reproduced, on purpose: SameSite enforcement and the public suffix list (both need a
//! registrable-domain table; a harness talking to one target gains nothing from them), and
//! character sets other than UTF-8.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::header::{ACCEPT, CONTENT_TYPE, COOKIE, LOCATION, ORIGIN, REFERER, SET_COOKIE};
use scraper::{ElementRef, Html, Selector};
use url::Url;

use crate::config::target::Pages;
use crate::engine::browser::JarCookie;
use crate::engine::error::error_chain;
use crate::engine::probe::HttpTrust;

mod form;
mod jar;
mod navigation;

use form::*;
use jar::*;
use navigation::*;

/// Requests one sign-in may make before it gives up (Chromium's redirect limit, 20, for a
/// whole sign-in: the stock flows need 4 to 6).
const MAX_HOPS: usize = 20;

/// A page larger than this is cut here: a sign-in page is a few kilobytes, and the cap keeps a
/// misbehaving server from filling memory across dozens of parallel sign-ins.
const MAX_BODY: usize = 8 << 20;

/// What Chromium accepts on a navigation; servers (the emulator, CRM) tell browsers from API
/// clients by `text/html` in it.
const ACCEPT_HTML: &str =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

/// Chromium caps cookie lifetimes at 400 days (RFC 6265bis §5.5), and reports the capped expiry.
const MAX_COOKIE_AGE: f64 = 400.0 * 86_400.0;

/// URLs in messages are cut to this many characters (they can carry long tokens).
const URL_SHOWN: usize = 120;

/// Stores the `Set-Cookie` values of an answer from `url` into `cookies` as a browser's jar would
/// (RFC 6265 §5.3: a cookie set again with a new value or expiry replaces the old one, one set
/// with `Max-Age=0` or a past `Expires` is deleted) and says whether anything changed: a server
/// renewing its session cookie (Apache `mod_session` with `SessionMaxAge`,
/// https://httpd.apache.org/docs/2.4/mod/mod_session.html#sessionmaxage; ASP.NET's sliding forms
/// ticket) renews the session with that answer. Cookies past their expiry are kept, not dropped
/// as a browser would: the measurement asks whether the *server* still honours them.
pub fn keep_set_cookies(
    cookies: &mut Vec<JarCookie>,
    url: &Url,
    set_cookie: &[String],
    now: SystemTime,
) -> bool {
    if set_cookie.is_empty() {
        return false;
    }
    let mut jar = Jar::of(cookies);
    for header in set_cookie {
        jar.store(url, header, now);
    }
    // `store` replaces in place, appends new cookies and removes deleted ones, so the order
    // holds and a pairwise comparison finds every change.
    let kept: Vec<JarCookie> = jar.cookies.into_iter().map(|(c, _)| c).collect();
    let changed = kept.len() != cookies.len()
        || kept.iter().zip(cookies.iter()).any(|(a, b)| {
            (&a.name, &a.domain, &a.path, &a.value) != (&b.name, &b.domain, &b.path, &b.value)
                || a.expires != b.expires
        });
    *cookies = kept;
    changed
}

/// A reqwest-based client that signs users in through HTML forms (no browser).
///
/// One client serves any number of concurrent sign-ins: each [`HttpSignIn::sign_in`] has a cookie
/// jar of its own, so the sessions are as independent as separate browsers.
#[derive(Clone, Debug)]
pub struct HttpSignIn {
    http: reqwest::Client,
}

/// Why a sign-in failed. Messages never hold the password or a cookie value; URLs are shortened
/// and redacted of the password (a form submitted by GET carries it in the query).
#[derive(Clone, Debug, PartialEq)]
pub enum HttpSignInError {
    /// A page showed neither the signed-in page, nor a form that posts itself, nor the sign-in
    /// form.
    NoSignInForm {
        /// The last page's URL (shortened, redacted).
        url: String,
        /// The last page's HTTP status.
        status: u16,
        /// The last page's `<title>` (shortened, redacted), which often says what went wrong
        /// (Django's "403 Forbidden" of a failed CSRF check).
        title: Option<String>,
        /// Whether the credentials had been submitted by then.
        credentials_sent: bool,
    },
    /// The sign-in form came back after the credentials were submitted.
    CredentialsRefused {
        /// The page that showed the form again (shortened, redacted).
        url: String,
        /// The user name that was refused.
        username: String,
    },
    /// A `pages:` selector this module cannot use: not CSS that `scraper` parses, or matching
    /// nothing usable in the sign-in form.
    BadSelector {
        /// The key under `pages:` (`username_input`, ...).
        key: &'static str,
        /// The selector as configured.
        selector: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The signed-in page did not show within 20 requests.
    TooManyHops {
        /// The limit reached.
        limit: usize,
        /// The URL it would have asked next (shortened, redacted).
        url: String,
    },
    /// A request failed below HTTP: DNS, TCP, TLS, a timeout.
    Transport {
        /// Method and URL (shortened, redacted).
        request: String,
        /// The error and its causes.
        cause: String,
    },
    /// The server asked for something a browser would do but this module does not: a redirect
    /// or form action to a URL that is not http(s), a `method="dialog"` form.
    Unfollowable {
        /// The page or redirect (shortened, redacted).
        url: String,
        /// What could not be followed.
        problem: String,
    },
}

impl fmt::Display for HttpSignInError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpSignInError::NoSignInForm {
                url,
                status,
                title,
                credentials_sent: false,
            } => write!(
                f,
                "no sign-in form: {url} answered {status}{} with neither the signed-in page \
                 (pages.signed_in), nor the sign-in form (pages.username_input), nor a form that \
                 posts itself (pages.auto_post); check those selectors, or sign in with the \
                 browser if the page needs JavaScript",
                titled(title)
            ),
            HttpSignInError::NoSignInForm {
                url,
                status,
                title,
                credentials_sent: true,
            } => write!(
                f,
                "after the credentials were submitted, {url} answered {status}{} with neither the \
                 signed-in page (pages.signed_in) nor a form that posts itself (pages.auto_post); \
                 check pages.signed_in, or sign in with the browser if the page needs JavaScript \
                 (or asks for a second factor)",
                titled(title)
            ),
            HttpSignInError::CredentialsRefused { url, username } => write!(
                f,
                "the credentials of `{username}` were refused: the sign-in form came back at \
                 {url}; check the user name and the password the target gives for it"
            ),
            HttpSignInError::BadSelector {
                key,
                selector,
                problem,
            } => write!(
                f,
                "pages.{key} `{selector}` {problem}; fix key `{key}` under `pages:` in the target \
                 file"
            ),
            HttpSignInError::TooManyHops { limit, url } => write!(
                f,
                "no signed-in page after {limit} requests (a redirect loop?); the next would \
                 have been {url}"
            ),
            HttpSignInError::Transport { request, cause } => {
                write!(f, "{request}: {cause}")?;
                // rustls's refusal reads "invalid peer certificate: ..." (as in probe.rs).
                if cause.contains("invalid peer certificate") {
                    write!(
                        f,
                        "; if the server's certificate is issued by your organisation's own CA, \
                         set `tls.ca_file` in the target file to that CA's PEM file"
                    )?;
                }
                Ok(())
            }
            HttpSignInError::Unfollowable { url, problem } => {
                write!(
                    f,
                    "{url}: {problem}, which this HTTP-only sign-in cannot follow"
                )
            }
        }
    }
}

/// ` ("title")` after a status, when the page has a title.
fn titled(title: &Option<String>) -> String {
    title
        .as_ref()
        .map(|t| format!(" (\"{t}\")"))
        .unwrap_or_default()
}

impl std::error::Error for HttpSignInError {}

impl HttpSignIn {
    /// A client that trusts `trust` (extra roots, pinned host names), as [`crate::engine::probe::Probe`]
    /// does, so it reaches exactly what the probe reaches.
    pub fn new(trust: &HttpTrust) -> Result<HttpSignIn, crate::engine::error::ProbeError> {
        // Redirects are followed here, not by reqwest: the jar must see every Set-Cookie, and
        // the method, Referer and Origin change per hop as a browser's do.
        Ok(HttpSignIn {
            http: trust.client()?,
        })
    }

    /// Opens `start`, follows redirects (keeping cookies like a browser: RFC 6265 domain/path/
    /// Secure, host-only vs `Domain=`, Max-Age/Expires deletion), fills the sign-in form (the form
    /// holding the element matched by `pages.username_input`; that input and the one matched by
    /// `pages.password_input` get the credentials, every other successful control of that form is
    /// sent as the page gave it; the submit control matched by `pages.submit` is included if it
    /// has a name), submits it to its action, follows redirects, then submits "auto-post" forms
    /// (a page matching `pages.auto_post`), until a page matches `pages.signed_in`, or fails after
    /// 20 requests.
    ///
    /// Returns every cookie the jar holds at the end, as Chromium's CDP reports them (host-only
    /// domains without a leading dot, `Domain=` cookies with one; session cookies with
    /// `expires` -1), sorted by domain, path and name.
    pub async fn sign_in(
        &self,
        start: &Url,
        pages: &Pages,
        username: &str,
        password: &str,
    ) -> Result<Vec<JarCookie>, HttpSignInError> {
        self.sign_in_with(start, pages, username, password, false)
            .await
    }

    /// [`HttpSignIn::sign_in`], and with `keep_signed_in` the form's "Keep me signed in"
    /// (`pages.kmsi`) ticked, as a user who ticks it: AD FS then sets a persistent SSO cookie
    /// that outlives the browser (S53), which is what `PersistentSsoCutoffTime` revokes.
    pub async fn sign_in_with(
        &self,
        start: &Url,
        pages: &Pages,
        username: &str,
        password: &str,
        keep_signed_in: bool,
    ) -> Result<Vec<JarCookie>, HttpSignInError> {
        let creds = Credentials { username, password };
        let selectors = Selectors::compile(pages, keep_signed_in)?;
        match self
            .follow(start, &selectors, Jar::default(), Some(creds))
            .await?
        {
            Stop::SignedIn(jar) => Ok(jar.cookies(SystemTime::now())),
            Stop::SignInForm { url } => Err(HttpSignInError::CredentialsRefused {
                url,
                username: username.to_string(),
            }),
            Stop::Stuck {
                url,
                status,
                title,
                credentials_sent,
            } => Err(HttpSignInError::NoSignInForm {
                url,
                status,
                title,
                credentials_sent,
            }),
        }
    }

    /// Opens `start` with `cookies` and no password, as a user whose application session ended
    /// would: follows redirects and auto-posting forms (an identity provider with a live
    /// single sign-on session answers with its token form), and says whether that signed the
    /// session in again without anyone typing a password. What the answers set is not kept:
    /// each re-entry starts from `cookies`, so repeated looks do not add up to an identity
    /// provider's loop detection (AD FS counts tokens per browser in a cookie).
    pub async fn reenter(
        &self,
        start: &Url,
        pages: &Pages,
        cookies: &[JarCookie],
    ) -> Result<Reentry, HttpSignInError> {
        let selectors = Selectors::compile(pages, false)?;
        let jar = Jar::of(cookies);
        Ok(match self.follow(start, &selectors, jar, None).await? {
            Stop::SignedIn(_) => Reentry::SignedIn,
            Stop::SignInForm { url } => Reentry::AskedForPassword { url },
            Stop::Stuck {
                url, status, title, ..
            } => Reentry::NotSignedIn { url, status, title },
        })
    }

    /// Follows a sign-in from `start` with `jar` until the signed-in page, the sign-in form
    /// (filled with `creds` the first time, if given), or a page it cannot act on.
    async fn follow(
        &self,
        start: &Url,
        selectors: &Selectors,
        mut jar: Jar,
        creds: Option<Credentials<'_>>,
    ) -> Result<Stop, HttpSignInError> {
        let password = creds.map(|c| c.password).unwrap_or_default();
        let mut nav = Navigation::get(start.clone());
        let mut credentials_sent = false;
        for _ in 0..MAX_HOPS {
            if !matches!(nav.url.scheme(), "http" | "https") {
                return Err(HttpSignInError::Unfollowable {
                    url: shown(nav.url.as_str(), password),
                    problem: "the sign-in leads to a URL that is not http(s)".into(),
                });
            }
            let request = format!("{} {}", nav.method, shown(nav.url.as_str(), password));
            let transport = |e: reqwest::Error| HttpSignInError::Transport {
                request: request.clone(),
                // reqwest puts the URL in its message; ours is the redacted one above.
                cause: crate::config::secrets::redact(&error_chain(&e.without_url()), &[password]),
            };
            let mut resp = self.send(&nav, &jar).await.map_err(transport)?;
            let now = SystemTime::now();
            for value in resp.headers().get_all(SET_COOKIE) {
                jar.store(&nav.url, &String::from_utf8_lossy(value.as_bytes()), now);
            }
            let status = resp.status().as_u16();
            let header_policy = resp
                .headers()
                .get_all("referrer-policy")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .fold(None, |p, v| ReferrerPolicy::parse(v).or(p));
            if let Some(location) = redirect_location(status, resp.headers()) {
                let next = nav
                    .url
                    .join(&location)
                    .map_err(|e| HttpSignInError::Unfollowable {
                        url: shown(nav.url.as_str(), password),
                        problem: format!(
                            "the redirect's Location `{}` is not a URL ({e})",
                            shown(&location, password)
                        ),
                    })?;
                nav = nav.redirected(status, next, header_policy);
                continue;
            }
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(transport)? {
                let room = MAX_BODY - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if chunk.len() >= room {
                    break;
                }
            }
            let page = Page {
                url: &nav.url,
                body: &String::from_utf8_lossy(&body),
                referrer_policy: header_policy.unwrap_or_default(),
            };
            // Parsed and dropped in a plain function: scraper's tree is not Send, and the
            // caller runs sign-ins as tasks.
            match next_step(&page, selectors, creds.filter(|_| !credentials_sent))? {
                Step::SignedIn => return Ok(Stop::SignedIn(jar)),
                Step::Submit(next, fills_credentials) => {
                    credentials_sent |= fills_credentials;
                    nav = *next;
                }
                Step::SignInFormAgain => {
                    return Ok(Stop::SignInForm {
                        url: shown(nav.url.as_str(), password),
                    });
                }
                Step::Stuck(title) => {
                    return Ok(Stop::Stuck {
                        url: shown(nav.url.as_str(), password),
                        status,
                        title: title.map(|t| shown(&t, password)),
                        credentials_sent,
                    });
                }
            }
        }
        Err(HttpSignInError::TooManyHops {
            limit: MAX_HOPS,
            url: shown(nav.url.as_str(), password),
        })
    }

    /// One request of `nav`, with the jar's cookies and a browser's headers.
    async fn send(&self, nav: &Navigation, jar: &Jar) -> Result<reqwest::Response, reqwest::Error> {
        let mut req = self
            .http
            .request(nav.method.clone(), nav.url.clone())
            .header(ACCEPT, ACCEPT_HTML);
        if let Some(cookies) = jar.header_for(&nav.url, SystemTime::now()) {
            req = req.header(COOKIE, cookies);
        }
        if let Some(referer) = nav.referer() {
            req = req.header(REFERER, referer);
        }
        if let Some(origin) = nav.origin_header() {
            req = req.header(ORIGIN, origin);
        }
        if let Some((content_type, body)) = &nav.body {
            req = req.header(CONTENT_TYPE, content_type).body(body.clone());
        }
        req.send().await
    }
}

/// `url` as messages show it: the password removed (in any encoding), then shortened.
fn shown(url: &str, password: &str) -> String {
    crate::config::secrets::shorten_redacted(
        &crate::config::secrets::redact(url, &[password]),
        URL_SHOWN,
    )
}

/// The `Location` of a redirect a browser follows (301, 302, 303, 307, 308 with a Location).
fn redirect_location(status: u16, headers: &reqwest::header::HeaderMap) -> Option<String> {
    if !matches!(status, 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let value = headers.get(LOCATION)?;
    // Servers send UTF-8 in Location now and then; browsers take it as UTF-8.
    Some(String::from_utf8_lossy(value.as_bytes()).trim().to_string())
}

/// The user's credentials, for the one form that asks for them.
#[derive(Clone, Copy)]
struct Credentials<'a> {
    username: &'a str,
    password: &'a str,
}

/// The `pages:` selectors this module uses, compiled once per sign-in.
struct Selectors {
    username: (Selector, &'static str, String),
    password: (Selector, &'static str, String),
    submit: (Selector, &'static str, String),
    signed_in: Selector,
    auto_post: (Selector, &'static str, String),
    /// The "Keep me signed in" checkbox to tick, when asked to.
    kmsi: Option<(Selector, &'static str, String)>,
}

impl Selectors {
    fn compile(pages: &Pages, keep_signed_in: bool) -> Result<Selectors, HttpSignInError> {
        let one = |key: &'static str, css: &str| {
            Selector::parse(css)
                .map(|s| (s, key, css.to_string()))
                .map_err(|e| HttpSignInError::BadSelector {
                    key,
                    selector: css.to_string(),
                    problem: format!(
                        "is not a CSS selector the HTTP sign-in can use ({e}); it matches with \
                         the `scraper` crate, which knows CSS Selectors level 3 and some of level 4"
                    ),
                })
        };
        Ok(Selectors {
            username: one("username_input", &pages.username_input)?,
            password: one("password_input", &pages.password_input)?,
            submit: one("submit", &pages.submit)?,
            signed_in: one("signed_in", &pages.signed_in)?.0,
            auto_post: one("auto_post", &pages.auto_post)?,
            kmsi: match (keep_signed_in, &pages.kmsi) {
                (false, _) => None,
                (true, Some(css)) => Some(one("kmsi", css)?),
                (true, None) => {
                    return Err(HttpSignInError::BadSelector {
                        key: "kmsi",
                        selector: String::new(),
                        problem: "is not declared, so \"Keep me signed in\" cannot be ticked; \
                                  declare `pages.kmsi: SELECTOR` in the target file"
                            .into(),
                    });
                }
            },
        })
    }
}

/// Where following a sign-in stopped.
enum Stop {
    /// The signed-in page, and the jar then.
    SignedIn(Jar),
    /// The sign-in form, asking for credentials (again, if they were sent).
    SignInForm { url: String },
    /// A page this module cannot act on.
    Stuck {
        url: String,
        status: u16,
        title: Option<String>,
        credentials_sent: bool,
    },
}

/// What opening the application with a session's cookies and no password came to
/// ([`HttpSignIn::reenter`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Reentry {
    /// Signed in without a password: the identity provider's session signed the user in again.
    SignedIn,
    /// The sign-in form asked for a password.
    AskedForPassword {
        /// The form's page (shortened).
        url: String,
    },
    /// Neither: a page that is not signed in and asks for nothing this module knows (an error
    /// page, for example the application refusing a disabled user's token).
    NotSignedIn {
        /// The page (shortened).
        url: String,
        /// Its HTTP status.
        status: u16,
        /// Its `<title>`, if any.
        title: Option<String>,
    },
}

impl Reentry {
    /// Whether the user got in without a password.
    pub fn signed_in(&self) -> bool {
        matches!(self, Reentry::SignedIn)
    }
}

impl fmt::Display for Reentry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reentry::SignedIn => write!(f, "signed in again without a password"),
            Reentry::AskedForPassword { url } => write!(f, "asked for a password at {url}"),
            Reentry::NotSignedIn { url, status, title } => write!(
                f,
                "not signed in: {status} at {url}{}",
                title
                    .as_ref()
                    .map(|t| format!(" (\"{t}\")"))
                    .unwrap_or_default()
            ),
        }
    }
}

/// One response page, as [`next_step`] judges it.
struct Page<'a> {
    url: &'a Url,
    body: &'a str,
    /// From the response's `Referrer-Policy` (a `<meta name="referrer">` overrides it).
    referrer_policy: ReferrerPolicy,
}

/// What to do after a page.
#[derive(Debug)]
enum Step {
    /// The signed-in page: done.
    SignedIn,
    /// Submit a form; `true` when it carries the credentials.
    Submit(Box<Navigation>, bool),
    /// The sign-in form again, after the credentials were submitted.
    SignInFormAgain,
    /// Nothing this module can act on; the page's title, if any.
    Stuck(Option<String>),
}

/// Judges a page: signed in, a form that posts itself, the sign-in form (filled with `creds`;
/// `None` once they were sent), or nothing to do.
fn next_step(
    page: &Page<'_>,
    sel: &Selectors,
    creds: Option<Credentials<'_>>,
) -> Result<Step, HttpSignInError> {
    let doc = Html::parse_document(page.body);
    let shown_url = |password: &str| shown(page.url.as_str(), password);
    let password = creds.map(|c| c.password).unwrap_or_default();
    if first_match(&doc, &sel.signed_in).is_some() {
        return Ok(Step::SignedIn);
    }
    let context = FormContext::of(&doc, page);
    if let Some(el) = first_match(&doc, &sel.auto_post.0) {
        let (_, key, css) = &sel.auto_post;
        let form = form_owner(el).ok_or_else(|| HttpSignInError::BadSelector {
            key,
            selector: css.clone(),
            problem: format!(
                "matches an element outside any form on {}, so there is no form to post",
                shown_url(password)
            ),
        })?;
        // A script's form.submit(): no submitter.
        let nav = context.submission(form, None, &[], password)?;
        return Ok(Step::Submit(Box::new(nav), false));
    }
    let Some(user_el) = first_match(&doc, &sel.username.0) else {
        let title = doc
            .root_element()
            .descendent_elements()
            .find(|e| e.value().name() == "title")
            .map(|t| {
                t.text()
                    .collect::<String>()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .filter(|t| !t.is_empty());
        return Ok(Step::Stuck(title));
    };
    let Some(creds) = creds else {
        return Ok(Step::SignInFormAgain);
    };
    let bad = |(_, key, css): &(Selector, &'static str, String), problem: String| {
        HttpSignInError::BadSelector {
            key,
            selector: css.clone(),
            problem,
        }
    };
    let form = form_owner(user_el).ok_or_else(|| {
        bad(
            &sel.username,
            format!(
                "matches an input outside any form on {}; this HTTP-only sign-in submits HTML \
                 forms (a sign-in done by script needs the browser)",
                shown_url(creds.password)
            ),
        )
    })?;
    let in_form = |s: &Selector| {
        doc.root_element()
            .descendent_elements()
            .filter(|e| s.matches(e))
            .find(|e| form_owner(*e) == Some(form))
    };
    let pass_el = in_form(&sel.password.0).ok_or_else(|| {
        bad(
            &sel.password,
            format!(
                "matches nothing in the sign-in form (the form of pages.username_input) on {}",
                shown_url(creds.password)
            ),
        )
    })?;
    for (el, s) in [(user_el, &sel.username), (pass_el, &sel.password)] {
        if el.attr("name").is_none_or(str::is_empty) {
            return Err(bad(
                s,
                "matches a control without a `name`, which a form submission leaves out".into(),
            ));
        }
    }
    // The control a click on pages.submit submits with: a submit button of this form. Anything
    // else (AD FS's <span> whose onclick calls form.submit()) submits with no submitter.
    let submitter = in_form(&sel.submit.0).filter(|e| is_submit_button(*e));
    if submitter.is_none() && first_match(&doc, &sel.submit.0).is_none() {
        return Err(bad(
            &sel.submit,
            format!(
                "matches nothing on the sign-in page {}",
                shown_url(creds.password)
            ),
        ));
    }
    let mut fills = vec![(user_el, creds.username), (pass_el, creds.password)];
    if let Some(kmsi) = &sel.kmsi {
        let checkbox = in_form(&kmsi.0)
            .filter(|e| {
                e.attr("type")
                    .is_some_and(|t| t.eq_ignore_ascii_case("checkbox"))
            })
            .ok_or_else(|| {
                bad(
                    kmsi,
                    format!(
                        "matches no checkbox in the sign-in form on {}: the deployment offers no \
                         \"Keep me signed in\" there (AD FS shows it with Set-AdfsProperties \
                         -EnableKmsi $true)",
                        shown_url(creds.password)
                    ),
                )
            })?;
        // A ticked checkbox submits its value ("on" without one).
        fills.push((checkbox, checkbox.attr("value").unwrap_or("on")));
    }
    let nav = context.submission(form, submitter, &fills, creds.password)?;
    Ok(Step::Submit(Box::new(nav), true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    const NOW: u64 = 1_800_000_000;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW)
    }

    fn jar_of(from: &str, lines: &[&str]) -> Jar {
        let mut jar = Jar::default();
        for line in lines {
            jar.store(&url(from), line, now());
        }
        jar
    }

    /// name -> (domain, path) of every live cookie.
    fn shapes(jar: &Jar) -> Vec<(String, String, String)> {
        jar.cookies(now())
            .into_iter()
            .map(|c| (c.name, c.domain, c.path))
            .collect()
    }

    fn shape(name: &str, domain: &str, path: &str) -> (String, String, String) {
        (name.into(), domain.into(), path.into())
    }

    /// Issue 28: a probe session keeps what the server sets, as a browser would: a cookie renewed
    /// with a new value, one renewed with a new expiry alone, one deleted, one added; the same
    /// cookie set again unchanged is no renewal.
    #[test]
    fn a_probe_session_keeps_what_the_server_sets() {
        let at = url("https://crm.contoso.test/contoso/api/data/v9.0/WhoAmI");
        let mut cookies = jar_of(
            "https://crm.contoso.test/",
            &["session=one; Path=/; Max-Age=4", "other=x; Path=/"],
        )
        .cookies(now());
        let none: &[String] = &[];
        assert!(!keep_set_cookies(&mut cookies, &at, none, now()));
        let same = ["other=x; Path=/".to_string()];
        assert!(!keep_set_cookies(&mut cookies, &at, &same, now()));
        let value = |c: &[JarCookie], name: &str| {
            c.iter()
                .find(|c| c.name == name)
                .map(|c| (c.value.clone(), c.expires))
        };
        let renewed = ["session=two; Path=/; Max-Age=4".to_string()];
        assert!(keep_set_cookies(&mut cookies, &at, &renewed, now()));
        assert_eq!(
            value(&cookies, "session"),
            Some(("two".into(), NOW as f64 + 4.0))
        );
        // The same value with a later expiry (Max-Age counted from a later answer) renews too.
        let later = now() + Duration::from_secs(2);
        assert!(keep_set_cookies(&mut cookies, &at, &renewed, later));
        assert_eq!(
            value(&cookies, "session"),
            Some(("two".into(), NOW as f64 + 6.0))
        );
        let deleted = ["other=; Path=/; Max-Age=0".to_string()];
        assert!(keep_set_cookies(&mut cookies, &at, &deleted, later));
        assert_eq!(value(&cookies, "other"), None);
        let added = ["fresh=1; Path=/".to_string()];
        assert!(keep_set_cookies(&mut cookies, &at, &added, later));
        assert_eq!(cookies.len(), 2);
        // Past its expiry the cookie stays in the session's jar: the server is what is asked.
        let much_later = now() + Duration::from_secs(60);
        assert!(!keep_set_cookies(&mut cookies, &at, &same[..0], much_later));
        assert!(value(&cookies, "session").is_some());
    }

    #[test]
    fn host_only_cookies_have_no_dot_and_domain_cookies_have_one() {
        let jar = jar_of(
            "https://crm.contoso.test:8443/contoso/main.aspx",
            &[
                "a=1; Path=/",
                "b=2; Domain=contoso.test; Path=/",
                "c=3; domain=.CRM.Contoso.test",
            ],
        );
        assert_eq!(
            shapes(&jar),
            [
                shape("b", ".contoso.test", "/"),
                shape("c", ".crm.contoso.test", "/contoso"),
                shape("a", "crm.contoso.test", "/"),
            ]
        );
        // The probe's rule sends the domain cookie to a sibling host, the host-only one not.
        let sibling = url("https://adfs.contoso.test:8443/adfs/ls/");
        assert_eq!(jar.header_for(&sibling, now()).as_deref(), Some("b=2"));
        let whoami = url("https://crm.contoso.test:8443/contoso/api/data/v9.0/WhoAmI");
        assert_eq!(
            jar.header_for(&whoami, now()).as_deref(),
            Some("c=3; a=1; b=2")
        );
    }

    #[test]
    fn foreign_public_and_ip_domains_are_refused_or_host_only() {
        let jar = jar_of(
            "https://crm.contoso.test/",
            &[
                "foreign=1; Domain=example.com",
                "parent_of_other=1; Domain=adfs.contoso.test",
                "tld=1; Domain=test",
                "ok=1",
            ],
        );
        assert_eq!(shapes(&jar), [shape("ok", "crm.contoso.test", "/")]);
        // A single label equal to the host (localhost) is host-only, as in Chromium.
        let jar = jar_of("http://localhost:8000/", &["l=1; Domain=localhost"]);
        assert_eq!(shapes(&jar), [shape("l", "localhost", "/")]);
        let jar = jar_of(
            "http://127.0.0.1:8000/x",
            &["ip=1; Domain=127.0.0.1", "part=1; Domain=0.0.1"],
        );
        assert_eq!(shapes(&jar), [shape("ip", "127.0.0.1", "/")]);
    }

    #[test]
    fn default_path_is_the_request_directory() {
        let jar = jar_of(
            "https://h.test/a/b/c?q=/x/y",
            &["dir=1", "relative=1; Path=rel", "root=1; Path=/"],
        );
        assert_eq!(
            shapes(&jar),
            [
                shape("root", "h.test", "/"),
                shape("dir", "h.test", "/a/b"),
                shape("relative", "h.test", "/a/b"),
            ]
        );
        assert_eq!(default_path(&url("https://h.test/a")), "/");
        assert_eq!(default_path(&url("https://h.test/")), "/");
    }

    #[test]
    fn max_age_and_expires_delete_and_set_lifetimes() {
        let from = "https://h.test/p/page";
        let mut jar = jar_of(
            from,
            &[
                "session=1; Path=/",
                "persistent=1; Path=/; Expires=Mon, 01 Mar 2027 00:00:00 GMT",
                "far=1; Path=/; Expires=Wed, 01 Jan 2031 00:00:00 GMT",
                "max_age_wins=1; Path=/; Max-Age=60; Expires=Sun, 06 Nov 1994 08:49:37 GMT",
                "capped=1; Path=/; Max-Age=999999999999",
                "gone=1; Path=/",
                "gone2=1; Path=/",
                "other_path=1; Path=/p",
            ],
        );
        let by_name = |jar: &Jar, n: &str| jar.cookies(now()).into_iter().find(|c| c.name == n);
        let session = by_name(&jar, "session").unwrap();
        assert!(session.session);
        assert_eq!(session.expires, -1.0);
        let persistent = by_name(&jar, "persistent").unwrap();
        assert!(!persistent.session);
        assert_eq!(persistent.expires, 1_803_859_200.0);
        assert_eq!(
            by_name(&jar, "far").unwrap().expires,
            NOW as f64 + MAX_COOKIE_AGE
        );
        assert_eq!(
            by_name(&jar, "max_age_wins").unwrap().expires,
            NOW as f64 + 60.0
        );
        assert_eq!(
            by_name(&jar, "capped").unwrap().expires,
            NOW as f64 + MAX_COOKIE_AGE
        );
        for line in [
            "gone=; Path=/; Max-Age=0",
            "gone2=x; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            // Deletion is by name, domain and path: this names another path.
            "other_path=; Path=/; Max-Age=-1",
        ] {
            jar.store(&url(from), line, now());
        }
        assert!(by_name(&jar, "gone").is_none());
        assert!(by_name(&jar, "gone2").is_none());
        assert!(by_name(&jar, "other_path").is_some());
        // A cookie that expires is no longer held or sent.
        let later = now() + Duration::from_secs(61);
        assert!(!jar.cookies(later).iter().any(|c| c.name == "max_age_wins"));
        assert!(
            !jar.header_for(&url(from), later)
                .unwrap()
                .contains("max_age_wins")
        );
    }

    #[test]
    fn secure_cookies_and_prefixes_follow_chromium() {
        let jar = jar_of(
            "http://crm.contoso.test/",
            &["s=1; Secure", "plain=1", "__Secure-x=1"],
        );
        assert_eq!(shapes(&jar), [shape("plain", "crm.contoso.test", "/")]);
        // Loopback over http is trustworthy: Chromium keeps Secure cookies from it.
        let jar = jar_of("http://localhost:8000/", &["s=1; Secure"]);
        assert_eq!(shapes(&jar), [shape("s", "localhost", "/")]);
        let jar = jar_of(
            "https://h.test/a/b",
            &[
                "__Host-ok=1; Secure; Path=/",
                "__Host-path=1; Secure",
                "__Host-domain=1; Secure; Path=/; Domain=h.test",
                "__host-insecure=1; Path=/",
                "__Secure-ok=1; Secure",
            ],
        );
        assert_eq!(
            shapes(&jar),
            [
                shape("__Host-ok", "h.test", "/"),
                shape("__Secure-ok", "h.test", "/a"),
            ]
        );
        // An insecure page cannot shadow a Secure cookie of the same name.
        let mut jar = jar_of("https://h.test/", &["sid=secret; Secure; Path=/"]);
        jar.store(&url("http://h.test/x/y"), "sid=evil; Path=/x", now());
        let all = jar.cookies(now());
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].value, "secret");
        assert!(all[0].secure);
    }

    #[test]
    fn replacing_keeps_one_cookie_and_sending_orders_by_path_then_age() {
        let mut jar = jar_of(
            "https://h.test/app/page",
            &[
                "old=1; Path=/",
                "deep=1; Path=/app",
                "new=1; Path=/",
                "old=2; Path=/; HttpOnly; SameSite=Lax",
            ],
        );
        assert_eq!(
            jar.header_for(&url("https://h.test/app/x"), now())
                .as_deref(),
            Some("deep=1; old=2; new=1")
        );
        let old = jar.cookies(now()).into_iter().find(|c| c.name == "old");
        let old = old.unwrap();
        assert!(old.http_only);
        assert_eq!(old.same_site.as_deref(), Some("Lax"));
        // Garbage is dropped, as browsers drop it.
        for line in ["novalue", "=x", "ctl=a\u{1}b", ""] {
            jar.store(&url("https://h.test/"), line, now());
        }
        assert_eq!(jar.cookies(now()).len(), 3);
    }

    /// The controls of a form a browser sends, in tree order.
    const FORM: &str = r#"<!doctype html><html><head><base href="/base/"></head><body>
        <input name="outside" value="no">
        <form id="f" action="submit?x=1">
          <input type="hidden" name="csrf" value="tok&amp;en">
          <input type="hidden" name="_charset_">
          <input name="user" value="pre&#10;filled">
          <input type="password" name="pass">
          <input name="nameless_is_skipped" value="" form="nonexistent">
          <input value="no name">
          <input type="checkbox" name="kmsi" value="true">
          <input type="checkbox" name="checked_default" checked>
          <input type="radio" name="r" value="a"><input type="radio" name="r" value="b" checked>
          <input name="dis" value="x" disabled>
          <fieldset disabled><legend><input name="in_legend" value="y"></legend>
            <input name="in_fieldset" value="z"></fieldset>
          <select name="one"><option disabled>skip</option><option>  First
             option </option><option value="2">Two</option></select>
          <select name="picked"><option value="1" selected>1</option><option value="2" selected>2</option></select>
          <select name="many" multiple><option value="a" selected>a</option><option value="b">b</option><option value="c" selected>c</option></select>
          <select name="listbox" size="3"><option value="a">a</option></select>
          <textarea name="t">line1
line2</textarea>
          <datalist><input name="in_datalist" value="d"></datalist>
          <input type="button" name="button_input" value="b">
          <input type="reset" name="reset" value="r">
          <button type="button" name="plain_button">x</button>
          <input type="submit" name="other_submit" value="Other">
          <button id="go" name="go" value="1">Go</button>
          <input type="file" name="upload">
        </form>
        <input name="owned_from_outside" value="o" form="f">
        </body></html>"#;

    fn by_id<'a>(doc: &'a Html, id: &str) -> ElementRef<'a> {
        first_match(doc, &Selector::parse(&format!("#{id}")).unwrap()).unwrap()
    }

    fn by_css<'a>(doc: &'a Html, css: &str) -> ElementRef<'a> {
        first_match(doc, &Selector::parse(css).unwrap()).unwrap()
    }

    #[test]
    fn form_entries_are_the_successful_controls_in_tree_order() {
        let doc = Html::parse_document(FORM);
        let form = by_id(&doc, "f");
        let user = by_css(&doc, "input[name=user]");
        let pass = by_css(&doc, "input[name=pass]");
        let entries = form_entries(
            form,
            Some(by_id(&doc, "go")),
            &[(user, "alice"), (pass, "s3cret")],
        );
        let got: Vec<(&str, &str)> = entries
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("csrf", "tok&en"),
                ("_charset_", "UTF-8"),
                ("user", "alice"),
                ("pass", "s3cret"),
                ("checked_default", "on"),
                ("r", "b"),
                ("in_legend", "y"),
                ("one", "First option"),
                ("picked", "2"),
                ("many", "a"),
                ("many", "c"),
                ("t", "line1\r\nline2"),
                ("go", "1"),
                ("upload", ""),
                ("owned_from_outside", "o"),
            ]
        );
        // Without a submitter (a script's submit()), no button is sent; an unfilled text field
        // sends its value attribute, line breaks stripped.
        let entries = form_entries(form, None, &[]);
        assert!(
            !entries
                .iter()
                .any(|(k, _)| k == "go" || k == "other_submit")
        );
        assert!(entries.contains(&("user".into(), "prefilled".into())));
    }

    fn page<'a>(url: &'a Url, body: &'a str) -> Page<'a> {
        Page {
            url,
            body,
            referrer_policy: ReferrerPolicy::default(),
        }
    }

    #[test]
    fn get_forms_put_the_entries_in_the_query_of_the_action_resolved_against_base() {
        let doc = Html::parse_document(FORM);
        let at = url("https://h.test/app/login?old=1#frag");
        let ctx = FormContext::of(&doc, &page(&at, FORM));
        let nav = ctx.submission(by_id(&doc, "f"), None, &[], "pw").unwrap();
        assert_eq!(nav.method, reqwest::Method::GET);
        assert!(nav.body.is_none());
        assert_eq!(nav.url.path(), "/base/submit");
        let query = nav.url.query().unwrap();
        assert!(query.starts_with("csrf=tok%26en&_charset_=UTF-8&user=prefilled"));
        assert!(!query.contains("x=1"), "the action's query is replaced");
        // A same-origin navigation: the full referrer, fragment dropped; no Origin on GET.
        assert_eq!(
            nav.referer().as_deref(),
            Some("https://h.test/app/login?old=1")
        );
        assert_eq!(nav.origin_header(), None);
    }

    #[test]
    fn post_forms_use_the_submitters_overrides_and_the_enctype() {
        let html = r#"<form method="POST" action="/a" enctype="multipart/form-data">
            <input name="n" value="v&quot;1"><button name="b" value="x" formaction="https://idp.test/b">Go</button></form>"#;
        let doc = Html::parse_document(html);
        let at = url("https://h.test/login");
        let ctx = FormContext::of(&doc, &page(&at, html));
        let button = by_css(&doc, "button");
        let nav = ctx
            .submission(by_css(&doc, "form"), Some(button), &[], "pw")
            .unwrap();
        assert_eq!(nav.method, reqwest::Method::POST);
        assert_eq!(nav.url.as_str(), "https://idp.test/b");
        let (content_type, body) = nav.body.clone().unwrap();
        let boundary = content_type
            .strip_prefix("multipart/form-data; boundary=")
            .unwrap();
        let body = String::from_utf8(body).unwrap();
        assert_eq!(
            body,
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"n\"\r\n\r\nv\"1\r\n\
                 --{boundary}\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\nx\r\n\
                 --{boundary}--\r\n"
            )
        );
        // Cross-origin under Chromium's default policy: the origin only, in both headers.
        assert_eq!(nav.referer().as_deref(), Some("https://h.test/"));
        assert_eq!(nav.origin_header().as_deref(), Some("https://h.test"));
        let (ct, body) = encode_body("", &[("a b".into(), "c&d".into())]);
        assert_eq!(ct, "application/x-www-form-urlencoded");
        assert_eq!(body, b"a+b=c%26d");
    }

    #[test]
    fn referer_and_origin_follow_the_referrer_policy_and_redirects() {
        let mut nav = Navigation::get(url("https://h.test/next"));
        nav.method = reqwest::Method::POST;
        nav.body = Some(("text/plain".into(), b"x".to_vec()));
        nav.referrer = Some(url("https://h.test/login?next=/admin/"));
        assert_eq!(
            nav.referer().as_deref(),
            Some("https://h.test/login?next=/admin/")
        );
        assert_eq!(nav.origin_header().as_deref(), Some("https://h.test"));
        nav.policy = ReferrerPolicy::parse("same-origin, bogus").unwrap();
        assert_eq!(nav.policy, ReferrerPolicy::SameOrigin);
        assert_eq!(nav.origin_header().as_deref(), Some("https://h.test"));
        nav.policy = ReferrerPolicy::NoReferrer;
        assert_eq!(nav.referer(), None);
        assert_eq!(nav.origin_header().as_deref(), Some("null"));
        nav.policy = ReferrerPolicy::default();
        // A downgrade to http: no Referer, Origin null.
        nav.url = url("http://h.test/next");
        assert_eq!(nav.referer(), None);
        assert_eq!(nav.origin_header().as_deref(), Some("null"));
        // 307 keeps the POST; a hop to another origin and on taints the Origin.
        nav.url = url("https://h.test/next");
        let nav = nav.redirected(307, url("https://other.test/x"), None);
        assert_eq!(nav.method, reqwest::Method::POST);
        assert_eq!(nav.origin_header().as_deref(), Some("https://h.test"));
        let nav = nav.redirected(308, url("https://third.test/y"), None);
        assert_eq!(nav.origin_header().as_deref(), Some("null"));
        // 302 after a POST, and 303 after anything, is a GET without body or Origin.
        let nav = nav.redirected(302, url("https://h.test/done"), None);
        assert_eq!(nav.method, reqwest::Method::GET);
        assert!(nav.body.is_none());
        assert_eq!(nav.origin_header(), None);
        let mut put = Navigation::get(url("https://h.test/"));
        put.method = reqwest::Method::PUT;
        assert_eq!(
            put.redirected(302, url("https://h.test/x"), None).method,
            reqwest::Method::PUT
        );
        let mut put = Navigation::get(url("https://h.test/"));
        put.method = reqwest::Method::PUT;
        assert_eq!(
            put.redirected(303, url("https://h.test/x"), None).method,
            reqwest::Method::GET
        );
    }

    fn pages() -> Pages {
        Pages::defaults(crate::config::target::AuthMode::Ifd)
    }

    fn step(
        at: &str,
        body: &str,
        pages: &Pages,
        creds: Option<Credentials<'_>>,
    ) -> Result<Step, HttpSignInError> {
        let at = url(at);
        next_step(
            &page(&at, body),
            &Selectors::compile(pages, false).unwrap(),
            creds,
        )
    }

    const ALICE: Credentials<'static> = Credentials {
        username: "alice@contoso.test",
        password: "Pa ss/word",
    };

    /// The AD FS sign-in form as the emulator serves it (fixtures/crm-sim/src/adfs.rs).
    const ADFS_FORM: &str = r#"<html><body><form method="post" id="loginForm" action="/adfs/ls/?wa=wsignin1.0&amp;wctx=rm%3d1">
        <input id="userNameInput" name="UserName" type="email" value="">
        <input id="passwordInput" name="Password" type="password">
        <input type="checkbox" name="Kmsi" id="kmsiInput" value="true">
        <span id="submitButton" onclick="document.forms['loginForm'].submit()">Sign in</span>
        <input id="optionForms" type="hidden" name="AuthMethod" value="FormsAuthentication"/>
        </form></body></html>"#;

    #[test]
    fn the_sign_in_form_is_filled_and_posted() {
        let at = "https://adfs.contoso.test/adfs/ls/?wa=wsignin1.0";
        let Ok(Step::Submit(nav, true)) = step(at, ADFS_FORM, &pages(), Some(ALICE)) else {
            panic!("the AD FS form is a sign-in form");
        };
        assert_eq!(nav.method, reqwest::Method::POST);
        assert_eq!(
            nav.url.as_str(),
            "https://adfs.contoso.test/adfs/ls/?wa=wsignin1.0&wctx=rm%3d1"
        );
        let (ct, body) = nav.body.unwrap();
        assert_eq!(ct, "application/x-www-form-urlencoded");
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "UserName=alice%40contoso.test&Password=Pa+ss%2Fword&AuthMethod=FormsAuthentication"
        );
        // The form again once the credentials went: refused.
        assert!(matches!(
            step(at, ADFS_FORM, &pages(), None),
            Ok(Step::SignInFormAgain)
        ));
    }

    /// Issue 28: "Keep me signed in" ticked submits the checkbox's value with the credentials
    /// (AD FS then sets its persistent SSO cookie); a form without the checkbox is an error
    /// that names `pages.kmsi`, not a sign-in that silently did not keep the user signed in.
    #[test]
    fn keep_me_signed_in_is_ticked_when_asked_and_its_absence_named() {
        let at = url("https://adfs.contoso.test/adfs/ls/?wa=wsignin1.0");
        let ticking = Selectors::compile(&pages(), true).unwrap();
        let Ok(Step::Submit(nav, true)) = next_step(&page(&at, ADFS_FORM), &ticking, Some(ALICE))
        else {
            panic!("the AD FS form is a sign-in form");
        };
        assert_eq!(
            String::from_utf8(nav.body.unwrap().1).unwrap(),
            "UserName=alice%40contoso.test&Password=Pa+ss%2Fword&Kmsi=true&AuthMethod=FormsAuthentication"
        );
        let without = ADFS_FORM.replace(
            r#"<input type="checkbox" name="Kmsi" id="kmsiInput" value="true">"#,
            "",
        );
        let Err(e) = next_step(&page(&at, &without), &ticking, Some(ALICE)) else {
            panic!("a form without the checkbox cannot keep the user signed in");
        };
        let e = e.to_string();
        assert!(e.contains("pages.kmsi") && e.contains("EnableKmsi"), "{e}");
        assert!(!e.contains(ALICE.password), "{e}");
    }

    #[test]
    fn auto_post_and_signed_in_pages_are_recognised() {
        let token = r#"<form method="POST" name="hiddenform" action="https://crm.contoso.test/contoso/"><input type="hidden" name="wa" value="wsignin1.0" /><input type="hidden" name="wresult" value="&lt;t:RSTR/&gt;" /><input type="hidden" name="wctx" value="rm=1&amp;id=x" /><noscript><p>Script is disabled.</p><input type="submit" value="Submit" /></noscript></form><script>document.forms[0].submit()</script>"#;
        let Ok(Step::Submit(nav, false)) = step(
            "https://adfs.contoso.test/adfs/ls/?x",
            token,
            &pages(),
            None,
        ) else {
            panic!("the token form posts itself");
        };
        assert_eq!(nav.url.as_str(), "https://crm.contoso.test/contoso/");
        assert_eq!(
            String::from_utf8(nav.body.unwrap().1).unwrap(),
            "wa=wsignin1.0&wresult=%3Ct%3ARSTR%2F%3E&wctx=rm%3D1%26id%3Dx"
        );
        let signed_in = r#"<div id="crmTopBar">CRM</div>"#;
        assert!(matches!(
            step(
                "https://crm.contoso.test/contoso/main.aspx",
                signed_in,
                &pages(),
                None
            ),
            Ok(Step::SignedIn)
        ));
        assert!(matches!(
            step(
                "https://crm.contoso.test/x",
                "<p>Server error</p>",
                &pages(),
                Some(ALICE)
            ),
            Ok(Step::Stuck(None))
        ));
        let titled = "<title>403\n  Forbidden </title><h1>CSRF verification failed</h1>";
        let Ok(Step::Stuck(Some(title))) =
            step("https://h.test/login", titled, &pages(), Some(ALICE))
        else {
            panic!("a page with nothing to act on");
        };
        assert_eq!(title, "403 Forbidden");
    }

    #[test]
    fn selectors_it_cannot_use_are_named() {
        let mut bad = pages();
        bad.password_input = "input[".into();
        let Err(HttpSignInError::BadSelector { key, .. }) = Selectors::compile(&bad, false) else {
            panic!("`input[` is no selector");
        };
        assert_eq!(key, "password_input");
        let at = "https://adfs.contoso.test/adfs/ls/?pw=Pa+ss%2Fword";
        let outside = r#"<input id="userNameInput" name="u"><form><input id="passwordInput" name="p"></form>"#;
        let e = step(at, outside, &pages(), Some(ALICE)).unwrap_err();
        assert!(
            matches!(
                &e,
                HttpSignInError::BadSelector {
                    key: "username_input",
                    ..
                }
            ),
            "{e}"
        );
        // The password is redacted from the URL the message shows.
        assert!(!e.to_string().contains("Pa+ss"), "{e}");
        assert!(e.to_string().contains("[redacted]"), "{e}");
        let no_password = r#"<form><input id="userNameInput" name="u"></form><input id="passwordInput" name="p">"#;
        let e = step(at, no_password, &pages(), Some(ALICE)).unwrap_err();
        assert!(
            matches!(
                &e,
                HttpSignInError::BadSelector {
                    key: "password_input",
                    ..
                }
            ),
            "{e}"
        );
        let nameless = r#"<form><input id="userNameInput"><input id="passwordInput" name="p"><span id="submitButton"></span></form>"#;
        let e = step(at, nameless, &pages(), Some(ALICE)).unwrap_err();
        assert!(
            matches!(
                &e,
                HttpSignInError::BadSelector {
                    key: "username_input",
                    ..
                }
            ),
            "{e}"
        );
        let no_submit = ADFS_FORM.replace("submitButton", "other");
        let e = step(at, &no_submit, &pages(), Some(ALICE)).unwrap_err();
        assert!(
            matches!(&e, HttpSignInError::BadSelector { key: "submit", .. }),
            "{e}"
        );
        assert!(
            e.to_string().contains("fix key `submit` under `pages:`"),
            "{e}"
        );
    }

    #[test]
    fn messages_never_hold_the_password() {
        let password = "Pa ss/word";
        let url = "https://h.test/login?user=alice&password=Pa+ss%2Fword&next=%2F";
        for e in [
            HttpSignInError::NoSignInForm {
                url: shown(url, password),
                status: 200,
                title: Some(shown("Echo: Pa ss/word", password)),
                credentials_sent: true,
            },
            HttpSignInError::TooManyHops {
                limit: MAX_HOPS,
                url: shown(url, password),
            },
        ] {
            let text = e.to_string();
            assert!(
                !text.contains("Pa+ss%2Fword") && !text.contains(password),
                "{text}"
            );
            assert!(text.contains("[redacted]"), "{text}");
        }
    }

    #[test]
    fn sign_in_futures_can_be_spawned() {
        fn assert_send<T: Send>(_: &T) {}
        let client = HttpSignIn::new(&HttpTrust::default()).unwrap();
        let start = url("https://h.test/");
        let pages = pages();
        assert_send(&client.sign_in(&start, &pages, "u", "p"));
    }
}
