//! `check --connect`: reach the target and look at its sign-in page, so that an unreachable host,
//! an untrusted certificate or a wrong selector is found in seconds, not after a 30-second run.
//!
//! Two looks, in order: a plain HTTP request to the start page (DNS, TCP and TLS failures are told
//! apart, with what to fix), then a headless browser that opens the start page, follows the
//! sign-in redirect and reports, for each configured selector of the sign-in form
//! (`pages.username_input`, `password_input`, `submit`), whether the page has it.

use std::fmt;
use std::time::{Duration, Instant};

use crate::config::target::{AuthMode, CrmLocation, Target};
use crate::engine::browser::{Browser, BrowserError, BrowserKind, Driver, LaunchOptions, Profile};
use crate::engine::embedded::{Embedded, EmbeddedOptions};
use crate::engine::probe::HttpTrust;

/// How the browser of the check is had.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// Browser family.
    pub browser: BrowserKind,
    /// A WebDriver server to use instead of starting chromedriver.
    pub webdriver: Option<String>,
    /// Show the browser window.
    pub headed: bool,
    /// How long the sign-in page may take to appear (redirects included).
    pub page_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            browser: BrowserKind::Chromium,
            webdriver: None,
            headed: false,
            page_timeout: crate::cmd::run::DEFAULT_PAGE_TIMEOUT,
        }
    }
}

/// Why the target could not be looked at. Each is exit 2, with what to do.
#[derive(Debug)]
pub enum ConnectError {
    /// The host name does not resolve.
    Dns {
        /// The host.
        host: String,
        /// The resolver's words.
        detail: String,
    },
    /// No TCP connection (refused, unreachable, timed out).
    Tcp {
        /// `host:port`.
        endpoint: String,
        /// The system's words.
        detail: String,
    },
    /// The server's certificate is not trusted (or not for this host).
    Certificate {
        /// The host.
        host: String,
        /// The TLS library's words.
        detail: String,
        /// Whether the target file already names a `tls.ca_file`.
        has_ca_file: bool,
    },
    /// Any other failure of the plain HTTP request.
    Http(String),
    /// `tls.ca_file` cannot be read or parsed.
    CaFile(String),
    /// No browser could be had.
    Browser(BrowserError),
    /// The browser could not open the start page or follow its redirects (a `net::ERR_...`).
    Navigation {
        /// The start page.
        url: String,
        /// The browser's words, with its `net::ERR_...` code.
        detail: String,
    },
    /// The embedded emulator did not start.
    Emulator(String),
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Dns { host, detail } => write!(
                f,
                "the host name {host} does not resolve ({detail}).\nCheck the host in the target's \
                 `crm` URL and this machine's DNS (or /etc/hosts)."
            ),
            ConnectError::Tcp { endpoint, detail } => write!(
                f,
                "no connection to {endpoint} ({detail}).\nIs the server up, and is the port open \
                 from this machine (firewall, proxy)?"
            ),
            ConnectError::Certificate {
                host,
                detail,
                has_ca_file,
            } => {
                writeln!(
                    f,
                    "the TLS certificate of {host} is not trusted ({detail})."
                )?;
                if *has_ca_file {
                    write!(
                        f,
                        "The target's `tls.ca_file` does not hold the CA that issued it: put that CA's \
                         certificate (PEM) there, and check that the certificate is issued for {host}."
                    )
                } else {
                    write!(
                        f,
                        "If your company's own CA issued it, add `tls: {{ca_file: /path/to/ca.pem}}` \
                         (the CA certificate, PEM) to the target file."
                    )
                }
            }
            ConnectError::Http(e) => write!(f, "{e}"),
            ConnectError::CaFile(e) => write!(f, "{e}"),
            ConnectError::Browser(e) => write!(
                f,
                "{e}\nThe sign-in page is looked at in a browser: run `ci/install-run` (installs Debian's \
                 chromium and chromium-driver), point --webdriver at a WebDriver server, or skip this \
                 look with --offline."
            ),
            ConnectError::Emulator(e) => write!(f, "{e}"),
            ConnectError::Navigation { url, detail } => {
                writeln!(f, "the browser could not open {url} ({detail}).")?;
                if detail.contains("ERR_CERT") {
                    write!(
                        f,
                        "The plain request trusted the certificate but the browser did not: the \
                         sign-in redirect may lead to a host whose certificate another CA issued \
                         (add it to `tls.ca_file`), or the certificate is not valid for the host name."
                    )
                } else if detail.contains("ERR_NAME_NOT_RESOLVED") {
                    write!(
                        f,
                        "A host on the way (the sign-in redirect often leads to another one, such as \
                         AD FS) does not resolve from this machine: check its DNS."
                    )
                } else {
                    write!(
                        f,
                        "Open the URL in a browser on this machine to see what happens on the way \
                         to the sign-in page."
                    )
                }
            }
        }
    }
}

impl std::error::Error for ConnectError {}

/// The plain HTTP answer of the start page.
#[derive(Clone, Debug)]
pub struct Reached {
    /// The URL asked.
    pub url: url::Url,
    /// Its status.
    pub status: u16,
    /// Its `Location`, for a redirect.
    pub location: Option<String>,
    /// Its `WWW-Authenticate` challenges.
    pub challenges: Vec<String>,
}

impl fmt::Display for Reached {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GET {} -> {}", self.url, self.status)?;
        if let Some(l) = &self.location {
            write!(f, " (Location: {l})")?;
        }
        if !self.challenges.is_empty() {
            write!(f, " (WWW-Authenticate: {})", self.challenges.join(" | "))?;
        }
        Ok(())
    }
}

/// One configured selector of the sign-in page and whether the page has it.
#[derive(Clone, Debug, PartialEq)]
pub struct SelectorCheck {
    /// The target-file key, e.g. `username_input` (under `pages:`).
    pub key: &'static str,
    /// The CSS selector configured (or the mode's default).
    pub selector: String,
    /// Found, missing, or not a valid selector.
    pub found: Found,
}

/// Whether a selector matched.
#[derive(Clone, Debug, PartialEq)]
pub enum Found {
    /// At least one element matches.
    Yes,
    /// Nothing matches.
    No,
    /// The browser rejected the selector.
    Invalid(String),
}

/// What the browser saw.
#[derive(Clone, Debug)]
pub enum Page {
    /// The sign-in page, with a verdict per selector.
    SignIn {
        /// The page's URL (after the redirects).
        url: String,
        /// One per configured selector of the sign-in form.
        selectors: Vec<SelectorCheck>,
    },
    /// Windows authentication: there is no form; the browser has no ticket, so it is refused.
    NoForm {
        /// Why there is nothing to look at.
        reason: String,
    },
}

/// The result of `check --connect`.
#[derive(Debug)]
pub struct Connected {
    /// The plain HTTP request.
    pub reached: Reached,
    /// The page in the browser, or why the browser could not look at it.
    pub page: Result<Page, ConnectError>,
    /// For a real target with alice's password: what one sign-in showed, and the target file it
    /// proposes ([`crate::cmd::propose`]); or why no sign-in could be made.
    pub proposal: Option<Result<crate::cmd::propose::Proposal, String>>,
}

impl Connected {
    /// Whether the start page asks for Windows authentication (`Negotiate` or `NTLM`).
    pub fn asks_for_windows_sign_in(&self) -> bool {
        self.reached.challenges.iter().any(|c| {
            let c = c.trim_start().to_ascii_lowercase();
            c.starts_with("negotiate") || c.starts_with("ntlm")
        })
    }

    /// When what the start page did contradicts the target's `mode`, what to say about it.
    pub fn mode_mismatch(&self, mode: AuthMode) -> Option<String> {
        let windows = self.asks_for_windows_sign_in();
        match mode {
            AuthMode::Iwa if !windows => Some(format!(
                "the start page did not ask for Windows authentication (status {}, no \
                 `WWW-Authenticate: Negotiate`), so key `mode: iwa` looks wrong: a redirect to AD FS \
                 is `mode: ifd`, CRM 4.0's sign-in form `mode: fba`",
                self.reached.status
            )),
            AuthMode::Ifd | AuthMode::Fba | AuthMode::Claims if windows => Some(format!(
                "the start page asks for Windows authentication (`WWW-Authenticate: {}`): if this \
                 deployment uses it, set key `mode: iwa`",
                self.reached.challenges.join(" | ")
            )),
            _ => None,
        }
    }

    /// The selectors the sign-in page lacks (or that are not valid CSS).
    pub fn missing(&self) -> Vec<&SelectorCheck> {
        match &self.page {
            Ok(Page::SignIn { selectors, .. }) => {
                selectors.iter().filter(|s| s.found != Found::Yes).collect()
            }
            _ => Vec::new(),
        }
    }
}

/// Reaches `target` and looks at its sign-in page. The embedded target gets an emulator of its
/// own, in the target's mode, for the duration of the check. An error is a failure to reach it;
/// a failure of the browser's look is in [`Connected::page`], after what was reached.
pub async fn check(target: &Target, opts: &ConnectOptions) -> Result<Connected, ConnectError> {
    match &target.spec.crm {
        CrmLocation::Embedded => {
            let e = Embedded::start(
                target.spec.mode,
                &EmbeddedOptions {
                    ui: target.spec.ui,
                    ..EmbeddedOptions::default()
                },
            )
            .await
            .map_err(|e| ConnectError::Emulator(e.to_string()))?;
            let (host_rules, trusted_spki, trust) = crate::engine::trust::emulator_trust(&e);
            let endpoint = Endpoint {
                crm: e.sim.crm_url().clone(),
                trust,
                host_rules,
                trusted_spki,
                has_ca_file: false,
                browser_trust: None,
            };
            let result = look(target, &endpoint, opts).await;
            e.shutdown().await;
            result
        }
        CrmLocation::Url(url) => {
            // The same trust and name resolution as a run: `resolve:` for both, and the CA of
            // `tls.ca_file` in the probe and in the browser's own certificate store.
            let trust = crate::engine::trust::probe_trust(target)
                .map_err(|e| ConnectError::CaFile(e.to_string()))?;
            let mut browser_trust = None;
            if let (Some(ca), Some(pem)) = (&target.spec.tls.ca_file, trust.roots_pem.first())
                && opts.webdriver.is_none()
            {
                browser_trust = Some(
                    crate::engine::credentials::BrowserTrustStore::with_ca_pem(pem, ca)
                        .map_err(|e| ConnectError::CaFile(e.to_string()))?,
                );
            }
            let endpoint = Endpoint {
                crm: url.clone(),
                trust,
                host_rules: target.host_rules(),
                trusted_spki: Vec::new(),
                has_ca_file: target.spec.tls.ca_file.is_some(),
                browser_trust,
            };
            look(target, &endpoint, opts).await
        }
    }
}

/// Where the target is and what to trust on the way.
struct Endpoint {
    crm: url::Url,
    trust: HttpTrust,
    host_rules: Vec<String>,
    trusted_spki: Vec<String>,
    has_ca_file: bool,
    /// The browser's certificate store holding `tls.ca_file` (kept until the check ends).
    browser_trust: Option<crate::engine::credentials::BrowserTrustStore>,
}

async fn look(
    target: &Target,
    endpoint: &Endpoint,
    opts: &ConnectOptions,
) -> Result<Connected, ConnectError> {
    let start = endpoint
        .crm
        .join(&target.pages.start)
        .map_err(|e| ConnectError::Http(format!("pages.start `{}`: {e}", target.pages.start)))?;
    // A forms target whose file names no start page is most often an application that is not
    // CRM, where CRM 4.0's `main.aspx` means nothing: its URL itself is where it starts (a CRM
    // 4.0 organization URL leads to its sign-in too), and what the proposal names, unless that
    // answers 404.
    let mut start = start;
    let guess = target.spec.mode == AuthMode::Fba
        && target.spec.pages.start.is_none()
        && target.spec.crm != CrmLocation::Embedded;
    let mut reached = reach(&start, endpoint).await?;
    if guess && start != endpoint.crm {
        let root = reach(&endpoint.crm, endpoint).await?;
        if root.status != 404 {
            (start, reached) = (endpoint.crm.clone(), root);
        }
    }
    if target.spec.mode.kerberos() {
        let reason = match target.spec.mode {
            AuthMode::Claims => {
                "mode claims signs in at AD FS with Kerberos (Negotiate): there is no sign-in \
                 form whose selectors could be checked"
            }
            _ => {
                "mode iwa signs in with Kerberos (Negotiate): there is no sign-in form whose \
                 selectors could be checked"
            }
        };
        return Ok(Connected {
            reached,
            page: Ok(Page::NoForm {
                reason: reason.into(),
            }),
            proposal: None,
        });
    }
    let (page, proposal) = sign_in_page(target, endpoint, &start, opts).await;
    Ok(Connected {
        reached,
        page,
        proposal,
    })
}

/// The plain HTTP request: the first thing that can fail, and the clearest to report.
async fn reach(url: &url::Url, endpoint: &Endpoint) -> Result<Reached, ConnectError> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(15))
        .user_agent(concat!("logout-harness/", env!("CARGO_PKG_VERSION")));
    for pem in &endpoint.trust.roots_pem {
        let cert = reqwest::Certificate::from_pem(pem.as_bytes()).map_err(|e| {
            ConnectError::CaFile(format!(
                "tls.ca_file is not a PEM certificate ({e}); it must hold the CA's certificate, \
                 `-----BEGIN CERTIFICATE-----` ..."
            ))
        })?;
        builder = builder.add_root_certificate(cert);
    }
    for (host, addr) in &endpoint.trust.resolve {
        builder = builder.resolve(host, *addr);
    }
    let http = builder
        .build()
        .map_err(|e| ConnectError::Http(format!("cannot build the HTTP client: {e}")))?;
    let resp = http
        .get(url.clone())
        .send()
        .await
        .map_err(|e| classify(url, &e, endpoint.has_ca_file))?;
    let header = |name: &str| -> Vec<String> {
        resp.headers()
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_string)
            .collect()
    };
    Ok(Reached {
        url: url.clone(),
        status: resp.status().as_u16(),
        location: header("location").into_iter().next(),
        challenges: header("www-authenticate"),
    })
}

/// Tells DNS, TCP and TLS failures apart from the error's chain of causes.
fn classify(url: &url::Url, e: &reqwest::Error, has_ca_file: bool) -> ConnectError {
    let host = url.host_str().unwrap_or_default().to_string();
    let endpoint = format!("{host}:{}", url.port_or_known_default().unwrap_or(443));
    let mut chain = Vec::new();
    let mut io_kind = None;
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        chain.push(s.to_string());
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            io_kind = Some(io.kind());
        }
        source = s.source();
    }
    // The innermost cause is the one that says what happened; reqwest's outer layers repeat the URL.
    let detail = chain.last().cloned().unwrap_or_default();
    let all = chain.join(": ").to_lowercase();
    if all.contains("dns error") || all.contains("failed to lookup address") {
        return ConnectError::Dns { host, detail };
    }
    if all.contains("certificate")
        || all.contains("unknownissuer")
        || all.contains("notvalidforname")
    {
        return ConnectError::Certificate {
            host,
            detail,
            has_ca_file,
        };
    }
    if e.is_connect() || io_kind.is_some_and(|k| k == std::io::ErrorKind::ConnectionRefused) {
        return ConnectError::Tcp { endpoint, detail };
    }
    if e.is_timeout() {
        return ConnectError::Tcp {
            endpoint,
            detail: format!("no answer within 15 s: {detail}"),
        };
    }
    ConnectError::Http(format!("GET {url} failed: {}", chain.join(": ")))
}

/// The sign-in form's selectors, by target-file key.
fn form_selectors(target: &Target) -> [(&'static str, &str); 3] {
    [
        ("username_input", &target.pages.username_input),
        ("password_input", &target.pages.password_input),
        ("submit", &target.pages.submit),
    ]
}

type Proposed = Option<Result<crate::cmd::propose::Proposal, String>>;

async fn sign_in_page(
    target: &Target,
    endpoint: &Endpoint,
    start: &url::Url,
    opts: &ConnectOptions,
) -> (Result<Page, ConnectError>, Proposed) {
    match open_sign_in_page(target, endpoint, start, opts).await {
        Ok(looked) => looked,
        Err(e) => (Err(e), None),
    }
}

async fn open_sign_in_page(
    target: &Target,
    endpoint: &Endpoint,
    start: &url::Url,
    opts: &ConnectOptions,
) -> Result<(Result<Page, ConnectError>, Proposed), ConnectError> {
    let driver = match &opts.webdriver {
        Some(_) => None,
        None => {
            let env = endpoint
                .browser_trust
                .as_ref()
                .map(crate::engine::credentials::BrowserTrustStore::env)
                .unwrap_or_default();
            Some(
                Driver::start_for(opts.browser, &env)
                    .await
                    .map_err(ConnectError::Browser)?,
            )
        }
    };
    let webdriver_url = opts
        .webdriver
        .clone()
        .or_else(|| driver.as_ref().map(|d| d.url().to_string()))
        .unwrap_or_default();
    let launch = LaunchOptions {
        new_session_timeout: crate::engine::sessions::DEFAULT_NEW_SESSION_DEADLINE,
        kind: opts.browser,
        headed: opts.headed,
        binary: driver.as_ref().map(|d| d.browser_binary().to_path_buf()),
        host_rules: endpoint.host_rules.clone(),
        trusted_spki: endpoint.trusted_spki.clone(),
        negotiate_allowlist: None,
        trusted_ca_pem: match opts.webdriver {
            Some(_) => Vec::new(),
            None => endpoint.trust.roots_pem.clone(),
        },
        // One browser: nothing to seed.
        firefox_seed: None,
    };
    let profile = Profile::new().map_err(|e| ConnectError::Browser(BrowserError::Io(e)))?;
    let browser = Browser::launch(&webdriver_url, &launch, &profile, false)
        .await
        .map_err(ConnectError::Browser)?;
    let page = inspect(&browser, target, start, opts.page_timeout).await;
    let proposal = match &page {
        Ok(Page::SignIn { selectors, .. }) if target.spec.crm != CrmLocation::Embedded => {
            propose(&browser, target, endpoint, start, selectors, opts).await
        }
        _ => None,
    };
    // Closed before the driver and profile go, whatever the look found.
    let _ = browser.close().await;
    drop(profile);
    drop(driver);
    Ok((page, proposal))
}

/// The proposal of one sign-in on the sign-in page the browser shows: with the configured form
/// when the page has all of it, else with the form found on the page. `None` when the target
/// gives alice no password (nothing to sign in with) or the page has no form to find.
async fn propose(
    browser: &Browser,
    target: &Target,
    endpoint: &Endpoint,
    start: &url::Url,
    selectors: &[SelectorCheck],
    opts: &ConnectOptions,
) -> Proposed {
    let has_password = target
        .credentials("alice")
        .is_ok_and(|c| c.password.is_some());
    if !has_password {
        return None;
    }
    let configured = selectors.iter().all(|s| s.found == Found::Yes);
    let form = if configured {
        crate::observe::discover::SignInForm {
            username: target.pages.username_input.clone(),
            password: target.pages.password_input.clone(),
            submit: target.pages.submit.clone(),
        }
    } else {
        match crate::observe::discover::sign_in_form(browser).await {
            Ok(Some(form)) => form,
            Ok(None) => {
                return Some(Err(
                    "the sign-in page has no form with a password field and a submit button \
                     this check can find"
                        .into(),
                ));
            }
            Err(e) => return Some(Err(e.to_string())),
        }
    };
    let probe = match crate::engine::probe::Probe::new(&endpoint.trust) {
        Ok(p) => p,
        Err(e) => return Some(Err(e.to_string())),
    };
    let chain = crate::observe::sign_in_chain::follow(&probe, start).await;
    Some(
        crate::cmd::propose::from_one_sign_in(
            browser,
            target,
            &probe,
            chain,
            start,
            form,
            opts.page_timeout,
        )
        .await,
    )
}

/// Opens the start page, waits for the sign-in form (or for the page to stop changing), and checks
/// each selector once.
async fn inspect(
    browser: &Browser,
    target: &Target,
    start: &url::Url,
    limit: Duration,
) -> Result<Page, ConnectError> {
    browser.goto(start.as_str()).await.map_err(|e| {
        let detail = e.to_string();
        if detail.contains("net::ERR_") {
            ConnectError::Navigation {
                url: start.to_string(),
                detail,
            }
        } else {
            ConnectError::Browser(e)
        }
    })?;
    let page = look_at_form(browser, target, limit).await;
    page.map_err(ConnectError::Browser)
}

async fn look_at_form(
    browser: &Browser,
    target: &Target,
    limit: Duration,
) -> Result<Page, BrowserError> {
    let selectors = form_selectors(target);
    // The page is settled when one of the form's selectors is there, or when it has been loaded
    // and unchanged for a while (then a selector is really missing, not late).
    const STILL: Duration = Duration::from_secs(3);
    let last = std::cell::RefCell::new((String::new(), Instant::now()));
    let _ = crate::engine::wait::Wait::at_most(limit)
        .every(Duration::from_millis(100))
        .until(|| {
            let (last, selectors) = (&last, &selectors);
            async move {
                let url = browser.client().current_url().await.ok()?.to_string();
                {
                    let mut last = last.borrow_mut();
                    if last.0 != url {
                        *last = (url, Instant::now());
                    }
                }
                let complete = crate::observe::page::document_complete(browser).await;
                let mut any = false;
                for (_, css) in selectors.iter() {
                    any |= browser.has(css).await.unwrap_or(false);
                }
                let still = last.borrow().1.elapsed() >= STILL;
                (complete && (any || still)).then_some(())
            }
        })
        .await;
    let url = browser.client().current_url().await?.to_string();
    let mut checks = Vec::new();
    for (key, css) in selectors {
        let found = match browser.has(css).await {
            Ok(true) => Found::Yes,
            Ok(false) => Found::No,
            Err(e) => Found::Invalid(e.to_string()),
        };
        checks.push(SelectorCheck {
            key,
            selector: css.to_string(),
            found,
        });
    }
    Ok(Page::SignIn {
        url,
        selectors: checks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_closed_port_is_a_tcp_error_naming_host_and_port() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // The listener is gone: the port is closed.
        let url = url::Url::parse(&format!("http://127.0.0.1:{port}/org/main.aspx")).unwrap();
        let endpoint = Endpoint {
            crm: url.clone(),
            trust: HttpTrust::default(),
            host_rules: vec![],
            trusted_spki: vec![],
            has_ca_file: false,
            browser_trust: None,
        };
        let e = reach(&url, &endpoint).await.unwrap_err();
        assert!(
            matches!(&e, ConnectError::Tcp { endpoint, .. } if endpoint == &format!("127.0.0.1:{port}")),
            "{e:?}"
        );
        assert!(e.to_string().contains("firewall"), "{e}");
    }
}
