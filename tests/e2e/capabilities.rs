//! What the harness asks a WebDriver server for, per browser: the `POST /session` body as it
//! goes over a real socket.
//!
//! A loopback listener poses as the WebDriver endpoint given to `--webdriver`: it answers
//! `GET /status` as ready, records the body of `POST /session` and refuses the session (so the
//! run ends as "could not judge", exit 2, without a browser). The request is the one the harness's
//! own HTTP client sends to a real grid. Each browser's public capability format:
//! - Chromium and Chrome: `browserName: "chrome"`, `goog:chromeOptions`
//!   (<https://developer.chrome.com/docs/chromedriver/capabilities>);
//! - Edge: `browserName: "MicrosoftEdge"`, `ms:edgeOptions`
//!   (<https://learn.microsoft.com/en-us/microsoft-edge/webdriver-chromium/capabilities-edge-options>);
//! - Firefox: `browserName: "firefox"`, `moz:firefoxOptions`
//!   (<https://firefox-source-docs.mozilla.org/testing/geckodriver/Capabilities.html>) and
//!   `webSocketUrl: true` for WebDriver BiDi.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use crate::support::cpu;
use serde_json::Value;

/// A WebDriver endpoint that refuses every session and keeps the bodies it was sent.
struct Recorder {
    url: String,
    sessions: Arc<Mutex<Vec<Value>>>,
}

impl Recorder {
    fn start() -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let sessions = Arc::new(Mutex::new(Vec::new()));
        let seen = sessions.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':')
                        && k.eq_ignore_ascii_case("content-length")
                    {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let (status, answer) = if request_line.starts_with("GET /status") {
                    ("200 OK", r#"{"value":{"ready":true,"message":"recorder"}}"#)
                } else if request_line.starts_with("POST /session ") {
                    if let Ok(v) = serde_json::from_slice(&body) {
                        seen.lock().unwrap().push(v);
                    }
                    (
                        "500 Internal Server Error",
                        r#"{"value":{"error":"session not created","message":"recorded only","stacktrace":""}}"#,
                    )
                } else {
                    (
                        "404 Not Found",
                        r#"{"value":{"error":"unknown command","message":"","stacktrace":""}}"#,
                    )
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                );
            }
        });
        Recorder { url, sessions }
    }
}

/// The capabilities (`alwaysMatch`) of the first session a run with `--browser browser` asks for.
fn first_session(browser: &str) -> Value {
    session_in(
        browser,
        "ifd",
        "^Sign Out from the profile menu ends the session$",
    )
}

/// The same, in `mode`, for the scenario named by `name`.
fn session_in(browser: &str, mode: &str, name: &str) -> Value {
    let recorder = Recorder::start();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_logout-harness"))
        .current_dir(root)
        .args(["run", "--mode", mode, "--browser", browser, "--webdriver"])
        .arg(&recorder.url)
        .args(["--name", name])
        .arg("--artifacts")
        .arg(
            root.join("target/logout-harness/capabilities")
                .join(browser),
        )
        .output()
        .unwrap();
    // The session was refused: could not judge, never a verdict.
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sessions = recorder.sessions.lock().unwrap();
    let body = sessions.first().unwrap_or_else(|| {
        panic!(
            "no POST /session reached the recorder:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    body["capabilities"]["alwaysMatch"].clone()
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .filter_map(Value::as_str)
        .collect()
}

/// fantoccini adds `goog:chromeOptions: {"w3c": true}` to every new session (its
/// `with_capabilities_and_connector`); another browser's driver ignores that extension
/// capability (W3C WebDriver, "Extensions"). Nothing of the harness's own may be in it.
fn assert_no_chrome_options(caps: &Value) {
    match caps.get("goog:chromeOptions") {
        None => {}
        Some(v) => assert_eq!(v, &serde_json::json!({"w3c": true}), "{caps:#}"),
    }
}

fn assert_chromium_family(caps: &Value, browser_name: &str, vendor: &str) {
    assert_eq!(caps["browserName"], browser_name, "{caps:#}");
    let options = &caps[vendor];
    let args = strings(&options["args"]);
    assert!(args.contains(&"--headless=new"), "{args:?}");
    assert!(
        args.iter().any(|a| a.starts_with("--user-data-dir=")),
        "{args:?}"
    );
    // The emulator's names, each mapped exactly, and its certificate trusted by its key only.
    assert!(
        args.iter().any(
            |a| a.starts_with("--host-resolver-rules=MAP crm.contoso.test 127.0.0.1")
                && a.contains("MAP adfs.contoso.test 127.0.0.1")
        ),
        "{args:?}"
    );
    assert!(
        args.iter()
            .any(|a| a.starts_with("--ignore-certificate-errors-spki-list=")),
        "{args:?}"
    );
    assert_eq!(
        options["prefs"]["session.restore_on_startup"], 4,
        "{options:#}"
    );
    // Third-party cookies allowed (Chrome's default; docs/browser-facts.md B7).
    assert_eq!(
        options["prefs"]["profile.cookie_controls_mode"], 0,
        "{caps:#}"
    );
    // A grid's browser is its own: no binary of this machine is named.
    assert!(options.get("binary").is_none(), "{options:#}");
}

#[test]
fn chromium_asks_for_chrome_with_goog_chrome_options() {
    let _cpu = cpu::take(1);
    let caps = first_session("chromium");
    assert_chromium_family(&caps, "chrome", "goog:chromeOptions");
    assert!(caps.get("ms:edgeOptions").is_none(), "{caps:#}");
}

#[test]
fn chrome_asks_for_chrome_with_goog_chrome_options() {
    let _cpu = cpu::take(1);
    let caps = first_session("chrome");
    assert_chromium_family(&caps, "chrome", "goog:chromeOptions");
    assert!(caps.get("ms:edgeOptions").is_none(), "{caps:#}");
}

#[test]
fn edge_asks_for_microsoft_edge_with_ms_edge_options() {
    let _cpu = cpu::take(1);
    let caps = first_session("edge");
    assert_chromium_family(&caps, "MicrosoftEdge", "ms:edgeOptions");
    assert_no_chrome_options(&caps);
}

#[test]
fn firefox_asks_for_firefox_with_prefs_and_bidi() {
    let _cpu = cpu::take(1);
    let caps = first_session("firefox");
    assert_eq!(caps["browserName"], "firefox", "{caps:#}");
    assert_eq!(caps["webSocketUrl"], true, "{caps:#}");
    assert_no_chrome_options(&caps);
    let options = &caps["moz:firefoxOptions"];
    let args = strings(&options["args"]);
    assert!(args.contains(&"-headless"), "{args:?}");
    let profile = args
        .iter()
        .position(|a| *a == "-profile")
        .expect("-profile");
    assert!(args.get(profile + 1).is_some(), "{args:?}");
    let prefs = &options["prefs"];
    assert_eq!(
        prefs["network.dns.localDomains"],
        "crm.contoso.test,adfs.contoso.test,portal.fabrikam.test",
        "{prefs:#}"
    );
    // Third-party cookies accepted, as in the Chromium profiles (docs/browser-facts.md B7).
    assert_eq!(prefs["network.cookie.cookieBehavior"], 0, "{prefs:#}");
    assert_eq!(prefs["browser.startup.page"], 0, "{prefs:#}");
    assert!(
        prefs.get("network.negotiate-auth.trusted-uris").is_none(),
        "{prefs:#}"
    );
    assert!(options.get("binary").is_none(), "{options:#}");
}

#[test]
fn firefox_in_iwa_mode_trusts_the_organization_for_kerberos() {
    let _cpu = cpu::take(1);
    let caps = session_in(
        "firefox",
        "iwa",
        "^Without a Kerberos ticket the server refuses and opens no session$",
    );
    let prefs = &caps["moz:firefoxOptions"]["prefs"];
    assert_eq!(
        prefs["network.negotiate-auth.trusted-uris"], "crm.contoso.test,.contoso.test",
        "{prefs:#}"
    );
}
