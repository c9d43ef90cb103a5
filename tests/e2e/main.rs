//! The end-to-end tests: the harness against the embedded emulator, real third-party servers, a
//! Selenium Grid and Firefox, over real sockets, in real browsers. One test binary, so that its
//! tests share one CPU budget (`support::cpu`): a test that mostly waits runs beside one that
//! works, and the fault matrix fills whatever the others leave. (`cargo test` runs test binaries
//! one after another, so in binaries of their own each waiting test held the whole machine.)
//!
//! Run one module with a filter: `cargo test --test e2e faults::`.

mod support;

/// The devices scenario with CRM's access token management off, on, and on but broken.
mod access_token_management;
/// The binary as installed (no source tree; built-in features and policies) and `check --connect`.
mod builtin;
/// What each --browser asks a WebDriver server for: the POST /session body, recorded on a socket.
mod capabilities;
/// Every scenario holds on the clean emulator, in every mode and web client (also the fault
/// matrix's trace).
mod clean;
/// The command line as a user meets it: exit codes, config errors, fault detection.
mod cli;
/// Auth cookies on a parent domain or expiring but still accepted, a leftover cookie losing
/// HttpOnly, a target declaring only a maximum session length: checks no emulator fault reaches.
mod cookie_scopes;
/// The bad-input corpus: every bad target, policy, feature file and command line is a clear exit 2.
mod corpus;
/// `logout-harness doctor`: what a run needs, checked without a target.
mod doctor;
/// Every emulator fault knob against every scenario: exactly the owning scenarios fail.
mod faults;
/// The features on Firefox (geckodriver, firefox-esr) against the emulator, every mode, and a
/// fault caught through Firefox's cookie jar.
mod firefox;
/// The harness through a real Selenium Grid 4 (a hub and two nodes on loopback).
mod grid;
/// HTTP-only sign-in (no browser) against the embedded emulator's AD FS and CRM 4.0 forms.
mod http_signin;
/// The run-only install, the developers' install and the Debian package agree on what a run
/// needs; no web server, JVM, Python framework or npm package for a run.
mod installs;
/// Browser contexts keep people apart: no cookie, cache, HTTP-auth entry or sign-out crosses.
mod isolation;
/// Windows authentication with automatic sign-in turned off: the browser's prompt, answered.
mod iwa_prompt;
/// The harness against real third-party web applications (Django admin, Apache mod_auth_form),
/// started on loopback; needs ci/setup.
mod real_servers;
/// Recording a browser context's requests through DevTools.
mod recorder;
/// The HTML report opened in a headless browser and read as a person would.
mod report;
/// `logout-harness revoke`: an administrator's change reaching the sessions already signed in.
mod revoke;
/// No password in any text the harness writes (a careless server that echoes it, a crm: URL with
/// credentials), and no run state left by SIGKILL or SIGHUP.
mod secrets;
/// The pipeline templates of ci/templates/: actionlint, their structure, and their shell steps run
/// against the emulator as a separate server.
mod templates;
/// `logout-harness timeout`: the measured interval, sliding or fixed, verdicts, bad input, Ctrl-C.
mod timeout;
/// tls.ca_file, resolve and Kerberos caches against `logout-harness sim` run as a separate server.
mod trust;
/// The Unified Interface of CRM 9.x (`run --ui`): a broken sign-out is caught there too.
mod uci;
