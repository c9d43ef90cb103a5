//! A headless browser for the tests that drive one directly (not through a harness run): the
//! launch options with nothing to trust or resolve, and a host browser ended whatever happens.
#![allow(dead_code)]

use logout_harness::engine::browser::{BrowserHost, BrowserKind, Driver, LaunchOptions};

/// Options for a browser of `kind` started through `driver`, with nothing to trust or resolve.
pub fn launch_options(kind: BrowserKind, driver: &Driver) -> LaunchOptions {
    LaunchOptions {
        new_session_timeout: logout_harness::engine::sessions::DEFAULT_NEW_SESSION_DEADLINE,
        kind,
        headed: false,
        binary: Some(driver.browser_binary().to_path_buf()),
        host_rules: vec![],
        trusted_spki: vec![],
        negotiate_allowlist: None,
        trusted_ca_pem: vec![],
        firefox_seed: None,
    }
}

/// Ends the host browser whatever happens (the driver's own drop then ends chromedriver).
pub struct Host(pub std::sync::Arc<BrowserHost>);

impl Drop for Host {
    fn drop(&mut self) {
        let host = self.0.clone();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move { host.shutdown().await });
        }
    }
}
