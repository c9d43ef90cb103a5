//! The instruments that act on a target: processes the harness owns, browsers through WebDriver
//! (Chromium's DevTools, Firefox's BiDi, a Selenium Grid), the HTTP probe, the request recorder,
//! what a pass trusts, and the embedded emulator. Imports only [`crate::config`].

pub mod browser;
pub mod cdp;
pub mod credentials;
pub mod embedded;
pub mod error;
pub mod grid;
pub mod probe;
pub mod process;
pub mod recorder;
pub mod rundir;
pub mod sessions;
pub mod slots;
pub mod trust;
pub mod wait;
