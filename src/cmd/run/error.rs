//! Why a run could not judge anything ([`RunError`]): exit code 2, with a message that says what to
//! do.

use super::*;

/// Why a run could not judge anything. Exit code 2, with a message that says what to do.
#[derive(Debug)]
pub enum RunError {
    /// A configuration file is broken.
    Config(crate::config::yaml::ConfigError),
    /// No browser could be had.
    Browser(BrowserError),
    /// The target could not be reached or started.
    Target(String),
    /// The embedded emulator (or its KDC) did not start.
    Emulator(String),
    /// The command line asked for something inconsistent.
    Usage(String),
    /// Writing a report failed.
    Report(String),
    /// The WebDriver server or Selenium Grid of `--webdriver` cannot serve the run; the message is
    /// the whole story (what the server said, what to do).
    Grid(crate::engine::grid::GridError),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Config(e) => write!(
                f,
                "{e}\nFix the file, then check it with `logout-harness check`."
            ),
            RunError::Browser(e) => write!(
                f,
                "{e}\nThe harness needs a browser to judge anything: run `ci/install-run` (installs Debian's \
                 chromium and chromium-driver), or point --webdriver at a running WebDriver server or grid."
            ),
            RunError::Target(e) => write!(
                f,
                "{e}\nCheck the target's `crm` URL, the network path to it and its certificate (`tls.ca_file`)."
            ),
            RunError::Emulator(e) => write!(
                f,
                "{e}\nThe embedded emulator needs the packages ci/install-run installs (krb5-kdc, \
                 krb5-admin-server, krb5-user for the modes iwa and claims): run `ci/install-run`, \
                 or leave out iwa and claims with --mode ifd,fba."
            ),
            RunError::Usage(e) => write!(f, "{e}"),
            RunError::Report(e) => write!(f, "cannot write the report: {e}"),
            RunError::Grid(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for RunError {}

impl From<crate::engine::error::SetupError> for RunError {
    fn from(e: crate::engine::error::SetupError) -> Self {
        use crate::engine::error::SetupError;
        match e {
            SetupError::Target(e) => RunError::Target(e),
            SetupError::Emulator(e) => RunError::Emulator(e),
            SetupError::Browser(e) => RunError::Browser(e),
        }
    }
}

impl From<crate::config::yaml::ConfigError> for RunError {
    fn from(e: crate::config::yaml::ConfigError) -> Self {
        RunError::Config(e)
    }
}
