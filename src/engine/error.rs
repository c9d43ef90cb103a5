//! The errors that cross the engine's boundary, one enum per boundary (after fantoccini's
//! `error.rs`), and how any error is told with its causes.

use std::fmt;

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

impl From<CdpError> for BrowserError {
    fn from(e: CdpError) -> Self {
        BrowserError::Command(e.to_string())
    }
}

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

/// Why one pass could not be set up against its target (its probe, trust, drivers and browsers):
/// the run cannot judge the pass, exit 2 at the command's boundary.
#[derive(Debug)]
pub enum SetupError {
    /// The target could not be reached, or what it needs to be trusted could not be read.
    Target(String),
    /// The embedded emulator (or its KDC) could not give what the pass needs.
    Emulator(String),
    /// No browser could be had.
    Browser(BrowserError),
}

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SetupError::Target(e) | SetupError::Emulator(e) => f.write_str(e),
            SetupError::Browser(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SetupError {}

/// Why a probe, a direct HTTP request to the target, got no answer to judge.
#[derive(Debug)]
pub enum ProbeError {
    /// The HTTP client could not be made (a CA certificate that does not parse).
    Client(String),
    /// The request got no HTTP answer (refused, reset, timed out, TLS failed). `request` is the
    /// request as shown in reports, `METHOD URL`; `cause` is the error with its causes.
    NoAnswer {
        /// `METHOD URL`.
        request: String,
        /// What went wrong, outermost first.
        cause: String,
    },
    /// The target's TLS certificate is not trusted: fixed with `tls.ca_file`.
    UntrustedCertificate {
        /// The host whose certificate was refused.
        host: String,
        /// What the TLS library said.
        cause: String,
    },
    /// The target cannot be reached at all.
    Unreachable {
        /// The URL tried.
        url: String,
        /// What went wrong, outermost first.
        cause: String,
    },
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeError::Client(e) => f.write_str(e),
            ProbeError::NoAnswer { request, cause } => write!(f, "{request}: {cause}"),
            ProbeError::UntrustedCertificate { host, cause } => write!(
                f,
                "the TLS certificate of {host} is not trusted ({cause}). If it is issued by your \
                 organisation's own CA, set `tls.ca_file` in the target file to that CA's PEM \
                 file; the browsers and the probe then trust exactly that CA"
            ),
            ProbeError::Unreachable { url, cause } => write!(f, "{url} is unreachable: {cause}"),
        }
    }
}

impl std::error::Error for ProbeError {}

/// Steps and commands report a probe's failure as their message ("not judged", exit 2).
impl From<ProbeError> for String {
    fn from(e: ProbeError) -> String {
        e.to_string()
    }
}

/// Why the Chrome DevTools Protocol or WebDriver BiDi connection could not do what was asked.
#[derive(Debug)]
pub enum CdpError {
    /// The WebSocket could not be opened.
    Connect(String),
    /// The browser answered without what the harness needs of it (no tab, no session id).
    Answer(String),
    /// A command failed: the browser's error, or the connection closed before the answer.
    Command {
        /// The protocol method.
        method: String,
        /// What the browser (or the connection) said.
        cause: String,
    },
}

impl fmt::Display for CdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CdpError::Connect(e) | CdpError::Answer(e) => f.write_str(e),
            CdpError::Command { method, cause } => write!(f, "{method}: {cause}"),
        }
    }
}

impl std::error::Error for CdpError {}

/// Steps report a protocol failure as their message ("not judged").
impl From<CdpError> for String {
    fn from(e: CdpError) -> String {
        e.to_string()
    }
}

/// An error with its causes, outermost first, joined by `: ` (reqwest hides the useful part in
/// the innermost).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
