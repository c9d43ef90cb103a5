//! `logout-harness doctor`: what a run will need, checked without a target, each problem with its
//! fix. Each check is the one the run itself makes (the same functions, so the same message when
//! a run meets the problem later): the browser and its driver, their versions, a display for
//! `--headed`, the temp folder, the Kerberos tools of modes iwa and claims, the grid.

use std::time::Duration;

use crate::config::target::AuthMode;
use crate::engine::browser::BrowserKind;
use crate::engine::browser::kind::{headed_display_problem, major_version, version_of};

/// What `doctor` is asked about: the flags of the run it prepares for.
#[derive(Clone, Debug)]
pub struct DoctorOptions {
    /// The browser family.
    pub browser: BrowserKind,
    /// A WebDriver server (a Selenium Grid) instead of the harness's own driver.
    pub webdriver: Option<String>,
    /// Whether the run shows its browser.
    pub headed: bool,
    /// The modes the run will use.
    pub modes: Vec<AuthMode>,
}

/// One check: what was looked at, and what is wrong with it (with the fix), if anything.
#[derive(Clone, Debug)]
pub struct Check {
    /// What was checked (`browser`, `driver`, ...).
    pub what: &'static str,
    /// What was found.
    pub found: String,
    /// What is wrong and how to fix it; `None` when the check holds.
    pub problem: Option<String>,
}

impl Check {
    fn ok(what: &'static str, found: impl Into<String>) -> Check {
        Check {
            what,
            found: found.into(),
            problem: None,
        }
    }

    fn failed(what: &'static str, problem: impl Into<String>) -> Check {
        Check {
            what,
            found: String::new(),
            problem: Some(problem.into()),
        }
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.problem {
            None => write!(f, "ok    {}: {}", self.what, self.found),
            Some(p) => write!(f, "FAIL  {}: {p}", self.what),
        }
    }
}

/// Every check, in the order a run meets them.
pub async fn doctor(opts: &DoctorOptions) -> Vec<Check> {
    let mut checks = Vec::new();
    match &opts.webdriver {
        None => checks.extend(browser_and_driver(opts.browser)),
        Some(url) => checks.push(grid(url, opts.browser).await),
    }
    checks.push(match (opts.headed, headed_display_problem()) {
        (true, Some(problem)) => Check::failed("display", problem),
        (true, None) => Check::ok("display", "set (for --headed)"),
        (false, _) => Check::ok("display", "not needed (headless)"),
    });
    checks.push(temp_folder());
    if opts
        .modes
        .iter()
        .any(|m| matches!(m, AuthMode::Iwa | AuthMode::Claims))
    {
        checks.push(match krb5_realm::check_tools() {
            Ok(()) => Check::ok(
                "kerberos",
                "krb5kdc, kdb5_util, kadmin.local and kinit found",
            ),
            Err(e) => Check::failed(
                "kerberos",
                format!("{e} (modes iwa and claims start a Kerberos realm of their own)"),
            ),
        });
    } else {
        checks.push(Check::ok("kerberos", "not needed (no mode iwa or claims)"));
    }
    checks
}

/// The browser, its driver, and whether their major versions match.
fn browser_and_driver(kind: BrowserKind) -> Vec<Check> {
    let mut checks = Vec::new();
    let browser = kind.find_binary();
    let driver = kind.find_driver();
    let describe = |path: &std::path::Path| match version_of(path) {
        Some(v) => format!("{v} ({})", path.display()),
        None => format!("{} (it did not say its version)", path.display()),
    };
    checks.push(match &browser {
        Ok(path) => Check::ok("browser", describe(path)),
        Err(e) => Check::failed("browser", e.to_string()),
    });
    checks.push(match &driver {
        Ok(path) => Check::ok("driver", describe(path)),
        Err(e) => Check::failed("driver", e.to_string()),
    });
    if let (Ok(_), Ok(_)) = (&browser, &driver)
        && kind.has_devtools_contexts()
    {
        checks.push(match kind.version_mismatch() {
            Some(problem) => Check::failed("versions", problem),
            None => Check::ok(
                "versions",
                match browser
                    .as_ref()
                    .ok()
                    .and_then(|p| version_of(p))
                    .and_then(|v| major_version(&v))
                {
                    Some(major) => format!("browser and driver are both {major}"),
                    None => "not told (neither says its major version)".into(),
                },
            ),
        });
    }
    checks
}

/// The temp folder: writable, room for a browser's profile, a path short enough for Chromium's
/// socket (a longer one gets the browsers a short folder in /tmp, which must then be writable).
fn temp_folder() -> Check {
    use crate::engine::browser::driver::{CHROMIUM_SOCKET_SUFFIX, UNIX_SOCKET_PATH_MAX};
    let dir = std::env::temp_dir();
    if let Err(e) = tempfile::tempdir_in(&dir) {
        return Check::failed(
            "temp folder",
            format!(
                "cannot create a folder in {} ({e}); point TMPDIR at a writable folder",
                dir.display()
            ),
        );
    }
    // The run keeps its files in a folder of its own inside, about 40 bytes longer.
    let long = dir.as_os_str().len() + 40 + CHROMIUM_SOCKET_SUFFIX > UNIX_SOCKET_PATH_MAX;
    if long && tempfile::tempdir_in("/tmp").is_err() {
        return Check::failed(
            "temp folder",
            format!(
                "TMPDIR {} is too long for Chromium's socket path ({UNIX_SOCKET_PATH_MAX} bytes), \
                 and /tmp has no room for a shorter one; set TMPDIR to a shorter path",
                dir.display()
            ),
        );
    }
    if let Some(problem) = crate::engine::rundir::low_space() {
        return Check::failed("temp folder", problem);
    }
    let free = crate::engine::rundir::free_bytes(&dir)
        .map(|b| format!(", {} MB free", b / (1024 * 1024)))
        .unwrap_or_default();
    let note = if long {
        "; too long for Chromium's socket, so the browsers get a short folder in /tmp"
    } else {
        ""
    };
    Check::ok(
        "temp folder",
        format!("{} writable{free}{note}", dir.display()),
    )
}

/// A WebDriver server the run is given: it answers its status, with slots for the browser.
async fn grid(url: &str, kind: BrowserKind) -> Check {
    let status =
        tokio::time::timeout(Duration::from_secs(20), crate::engine::grid::status(url)).await;
    let shown = crate::config::secrets::redact_known(url);
    match status {
        Ok(Ok(crate::engine::grid::Server::Plain)) => Check::ok(
            "webdriver",
            format!("{shown} answers (a WebDriver server, not a grid)"),
        ),
        Ok(Ok(crate::engine::grid::Server::Grid(grid))) => {
            let name = kind.browser_name();
            if grid.slots_for(name) == 0 {
                Check::failed(
                    "webdriver",
                    format!(
                        "{shown} is a Selenium Grid with no slot for {name}: {}; add a node for \
                         {kind}, or pass the --browser its nodes offer",
                        grid.describe()
                    ),
                )
            } else {
                Check::ok(
                    "webdriver",
                    format!("{shown} is a Selenium Grid: {}", grid.describe()),
                )
            }
        }
        Ok(Err(e)) => Check::failed("webdriver", e.to_string()),
        Err(_) => Check::failed(
            "webdriver",
            format!("{shown} did not answer its status within 20s"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_says_ok_or_fail_with_its_fix() {
        assert_eq!(
            Check::ok("browser", "Chromium 156").to_string(),
            "ok    browser: Chromium 156"
        );
        assert_eq!(
            Check::failed("driver", "not found; install it").to_string(),
            "FAIL  driver: not found; install it"
        );
    }
}
