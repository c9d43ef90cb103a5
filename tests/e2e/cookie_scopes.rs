//! The auth-cookie, snapshot and applicability checks against situations no emulator fault
//! reaches, each proven to fail where it must (issue 32: each was shown to miss a mutation of the
//! harness before these tests). The target is a forms application of the test's own on loopback,
//! reached by a host name (`app.shop.test`, through `resolve:`) so that its cookies can be scoped
//! to a parent domain:
//!
//! - an auth cookie with `Domain=` a parent of the application's host, as a proxy or a domain
//!   shared by several applications sets it: a sign-out that removes it passes, one that leaves
//!   it is caught;
//! - a sign-out that only shortens the auth cookie's life to a moment (`Max-Age=2`), while the
//!   server still accepts it: a live credential, however soon the browser drops it;
//! - a cookie left after sign-out that loses `HttpOnly` between two runs (an upgrade that weakens
//!   it): the snapshot shows the change;
//! - a target that declares only a maximum session length: the idle-timeout scenario is not
//!   applicable, and the run still exits 0.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::support::cpu;
use crate::support::harness::text;
use crate::support::loopback::{self, LoopbackServer, SIGN_IN_FORM, SIGNED_IN_PAGE};

/// The application's host; its cookies' parent domain is [`PARENT`].
const HOST: &str = "app.shop.test";
const PARENT: &str = "shop.test";

/// What the application's Sign out does with the session.
#[derive(Clone, Copy, PartialEq)]
enum SignOut {
    /// Ends the session on the server and expires the cookie (at the domain it was set for).
    Ends,
    /// Leaves the cookie and the session as they were.
    LeavesEverything,
    /// Re-sets the cookie with `Max-Age=2`, unchanged otherwise, and keeps the session: the
    /// browser holds it for two more seconds, and the server accepts it as long as it is sent.
    ShortensTheCookie,
}

/// A forms application whose session cookie `sid` is set for `Domain=shop.test` (or host-only),
/// with a persistent `prefs` cookie that sign-out leaves behind.
struct ShopApp {
    parent_domain: bool,
    sign_out: SignOut,
    /// Whether `prefs` is set `HttpOnly` (switched between runs).
    prefs_http_only: AtomicBool,
    live: Mutex<BTreeSet<String>>,
    issued: AtomicU64,
}

impl ShopApp {
    fn start(parent_domain: bool, sign_out: SignOut) -> (Arc<ShopApp>, LoopbackServer) {
        let app = Arc::new(ShopApp {
            parent_domain,
            sign_out,
            prefs_http_only: AtomicBool::new(true),
            live: Mutex::new(BTreeSet::new()),
            issued: AtomicU64::new(0),
        });
        let serving = app.clone();
        let server = LoopbackServer::start(move |conn| serving.serve(conn));
        (app, server)
    }

    /// The `; Domain=...` of the session cookie, or nothing for a host-only one.
    fn domain(&self) -> String {
        if self.parent_domain {
            format!("; Domain={PARENT}")
        } else {
            String::new()
        }
    }

    fn serve(&self, conn: std::net::TcpStream) {
        let Some(request) = loopback::Request::read(conn) else {
            return;
        };
        // The cookie header is lower-cased by the reader: session ids are lower-case hex.
        let sid = request
            .cookie
            .split(';')
            .find_map(|c| c.trim().strip_prefix("sid="))
            .unwrap_or_default()
            .to_string();
        let live = self.live.lock().unwrap().contains(&sid);
        let domain = self.domain();
        let (status, headers, html) = match (request.is_post(), request.path().as_str()) {
            (false, "/app") if live => ("200 OK", String::new(), SIGNED_IN_PAGE.to_string()),
            (false, "/app") => ("302 Found", "Location: /login\r\n".into(), String::new()),
            (false, "/login") => ("200 OK", String::new(), SIGN_IN_FORM.to_string()),
            (true, "/login") => {
                let n = self.issued.fetch_add(1, Ordering::Relaxed);
                let sid = format!("{:016x}", (n + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                self.live.lock().unwrap().insert(sid.clone());
                let http_only = if self.prefs_http_only.load(Ordering::Relaxed) {
                    "; HttpOnly"
                } else {
                    ""
                };
                (
                    "302 Found",
                    format!(
                        "Location: /app\r\nSet-Cookie: sid={sid}; Path=/{domain}; HttpOnly\r\n\
                         Set-Cookie: prefs=compact; Path=/; Max-Age=31536000{http_only}\r\n"
                    ),
                    String::new(),
                )
            }
            (false, "/whoami") if live => ("200 OK", String::new(), "alice".into()),
            (false, "/whoami") => ("401 Unauthorized", String::new(), String::new()),
            (false, "/signout") => {
                let cookie = match self.sign_out {
                    SignOut::Ends => {
                        self.live.lock().unwrap().remove(&sid);
                        format!("Set-Cookie: sid=; Path=/{domain}; Max-Age=0\r\n")
                    }
                    SignOut::LeavesEverything => String::new(),
                    SignOut::ShortensTheCookie => {
                        format!("Set-Cookie: sid={sid}; Path=/{domain}; Max-Age=2; HttpOnly\r\n")
                    }
                };
                (
                    "302 Found",
                    format!("Location: /bye\r\n{cookie}"),
                    String::new(),
                )
            }
            (false, "/bye") => ("200 OK", String::new(), "<p>You are signed out</p>".into()),
            _ => ("404 Not Found", String::new(), String::new()),
        };
        request.answer(status, &headers, &html);
    }
}

/// A test's application: a temp folder, the application serving on loopback, and its target
/// file (with `extra` keys).
struct Shop {
    tmp: tempfile::TempDir,
    app: Arc<ShopApp>,
    _server: LoopbackServer,
    target: PathBuf,
}

impl Shop {
    fn start(parent_domain: bool, sign_out: SignOut, extra: &str) -> Shop {
        let tmp = tempfile::tempdir().unwrap();
        let (app, server) = ShopApp::start(parent_domain, sign_out);
        let port = server.port;
        let target = tmp.path().join("shop.yaml");
        std::fs::write(
            &target,
            format!(
                "name: shop\ncrm: http://{HOST}:{port}/\nmode: fba\nresolve:\n  {HOST}: 127.0.0.1\n\
                 users:\n  alice:\n    username: alice\n    password_env: SHOP_ALICE_PASSWORD\n\
                 whoami: whoami\npages:\n  start: app\n  username_input: '#u'\n  password_input: '#p'\n\
                 \x20 submit: '#go'\n  signed_in: '#user'\n  sign_out: '#signout'\n\
                 \x20 signed_out_text: '(?i)signed out'\n  data: '#data'\n  auth_cookies: [sid]\n{extra}"
            ),
        )
        .unwrap();
        Shop {
            tmp,
            app,
            _server: server,
            target,
        }
    }

    /// One run of `scenarios` (written out in full) against the application, its snapshots and
    /// JSON report in the temp folder: the exit code, the verdicts and the output.
    fn run(
        &self,
        scenarios: &str,
        extra: &[&str],
    ) -> (Option<i32>, Vec<serde_json::Value>, String) {
        let dir = self.tmp.path();
        let feature = dir.join("shop.feature");
        std::fs::write(&feature, format!("@fba\nFeature: Shop\n{scenarios}")).unwrap();
        let json = dir.join("report.json");
        let _ = std::fs::remove_file(&json);
        let out = Command::new(env!("CARGO_BIN_EXE_logout-harness"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("TMPDIR", dir)
            .env("INSTA_UPDATE", "no")
            .env("CI", "true")
            .env("SHOP_ALICE_PASSWORD", "not-a-secret-of-anyone")
            .args(["run", "--target"])
            .arg(&self.target)
            .arg(&feature)
            .arg("--json")
            .arg(&json)
            .arg("--artifacts")
            .arg(dir.join("artifacts"))
            .arg("--snapshots")
            .arg(dir.join("snapshots"))
            .args(extra)
            .output()
            .unwrap();
        let t = text(&out);
        let report: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(&json).unwrap_or_else(|e| panic!("no report ({e}): {t}")),
        )
        .unwrap();
        let verdicts = report["verdicts"].as_array().cloned().unwrap_or_default();
        (out.status.code(), verdicts, t)
    }
}

/// The verdict of `rule`: whether it held, and the whole verdict (evidence and detail) as JSON.
fn verdict(verdicts: &[serde_json::Value], rule: &str, t: &str) -> (bool, String) {
    let v = verdicts
        .iter()
        .find(|v| v["rule"] == rule)
        .unwrap_or_else(|| panic!("no verdict of {rule}: {t}"));
    (v["passed"] == true, v.to_string())
}

const SIGN_OUT_CHECKS: &str = "  Scenario: Sign out\n    Given alice is signed in to CRM\n    \
    When she signs out through the profile menu\n    \
    Then no CRM authentication cookie is left in the browser\n    \
    And replaying the cookies from before sign-out is refused by the server\n";

/// An auth cookie scoped to the parent domain is an auth cookie of the application: removed by
/// a working sign-out (exit 0), and caught when sign-out leaves it (exit 1), named with its
/// domain in the evidence.
#[test]
fn an_auth_cookie_on_a_parent_domain_is_checked() {
    let _cpu = cpu::take(1);
    for (sign_out, code) in [(SignOut::LeavesEverything, 1), (SignOut::Ends, 0)] {
        let shop = Shop::start(true, sign_out, "");
        let (exit, verdicts, t) = shop.run(SIGN_OUT_CHECKS, &[]);
        assert_eq!(exit, Some(code), "{t}");
        let (held, evidence) = verdict(&verdicts, "sign-out.auth-cookies-removed", &t);
        assert_eq!(
            held,
            code == 0,
            "sign-out leaves the cookie: {}\n{evidence}\n{t}",
            code == 1
        );
        assert!(
            evidence.contains(&format!("sid (.{PARENT})")),
            "the parent-domain cookie is not named as an auth cookie: {evidence}"
        );
        assert!(!t.contains("matched no cookie"), "{t}");
    }
}

/// A sign-out that re-sets the auth cookie to expire in two seconds while the server still
/// accepts it leaves a live credential: whoever reads the jar in that moment (a script, a
/// malicious extension, a copy of the profile) holds a working session. Caught, with the cookie
/// named as expiring in the evidence.
#[test]
fn an_expiring_auth_cookie_the_server_still_accepts_is_left() {
    let _cpu = cpu::take(1);
    let shop = Shop::start(false, SignOut::ShortensTheCookie, "");
    // The auth-cookie check right after sign-out, while the browser still holds the cookie.
    let (exit, verdicts, t) = shop.run(
        "  Scenario: Sign out\n    Given alice is signed in to CRM\n    \
         When she signs out through the profile menu\n    \
         Then no CRM authentication cookie is left in the browser\n",
        &[],
    );
    assert_eq!(exit, Some(1), "{t}");
    let (held, evidence) = verdict(&verdicts, "sign-out.auth-cookies-removed", &t);
    assert!(!held, "{evidence}");
    assert!(
        evidence.contains("expires within 2s") && evidence.contains("-> 200"),
        "not the expiring cookie the server accepts: {evidence}"
    );
}

/// A cookie that sign-out leaves behind and that loses `HttpOnly` (an upgrade that weakens it,
/// so that the page's scripts can read it) changes the snapshot: the run after the baseline
/// fails with the old and the new shape in the diff.
#[test]
fn a_leftover_cookie_that_loses_http_only_changes_the_snapshot() {
    let _cpu = cpu::take(1);
    let shop = Shop::start(false, SignOut::Ends, "");
    let snapshot = "  Scenario: Sign out leaves the same cookies\n    Given alice is signed in to CRM\n    \
         When she signs out through the profile menu\n    \
         Then the cookies left in the browser match the snapshot\n";
    let (exit, _, t) = shop.run(snapshot, &["--update-snapshots"]);
    assert_eq!(exit, Some(0), "the baseline: {t}");
    let (exit, _, t) = shop.run(snapshot, &[]);
    assert_eq!(exit, Some(0), "the same cookies again: {t}");

    shop.app.prefs_http_only.store(false, Ordering::Relaxed);
    let (exit, verdicts, t) = shop.run(snapshot, &[]);
    assert_eq!(exit, Some(1), "{t}");
    let (held, evidence) = verdict(&verdicts, "sign-out.leftover-cookies", &t);
    assert!(!held, "{evidence}");
    assert!(
        evidence.contains(&format!(
            "- prefs@{HOST}/ (persistent ~365d, HttpOnly, SameSite=unset)"
        )) && evidence.contains(&format!(
            "+ prefs@{HOST}/ (persistent ~365d, SameSite=unset)"
        )),
        "the diff does not show the lost HttpOnly: {evidence}"
    );
}

/// A deployment documents only its maximum session length (`timeouts: {absolute: ...}`): the
/// idle-timeout scenario cannot know when to expect the end, so it is not applicable, with the
/// key to declare, and the run's exit code is the other scenarios' (0).
#[test]
fn a_target_declaring_only_a_maximum_session_length_has_no_idle_timeout_scenario() {
    let _cpu = cpu::take(1);
    let shop = Shop::start(false, SignOut::Ends, "timeouts:\n  absolute: 8h\n");
    let idle = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("features/timeout.feature"),
    )
    .unwrap();
    // The shipped idle-timeout scenario, as it is, beside the sign-out checks.
    let start = idle.find("  @ifd @fba @needs-idle-timeout").unwrap();
    let end = start + idle[start..].find("\n\n").unwrap();
    let (exit, verdicts, t) = shop.run(&format!("{}\n\n{SIGN_OUT_CHECKS}", &idle[start..end]), &[]);
    assert_eq!(exit, Some(0), "{t}");
    assert!(
        t.contains("NOT APPLICABLE") && t.contains("needs the configured idle timeout"),
        "{t}"
    );
    assert!(
        t.contains("1 scenario(s) not applicable, 0 not judged"),
        "{t}"
    );
    assert!(verdicts.iter().all(|v| v["passed"] == true), "{t}");
    assert!(!verdicts.is_empty(), "{t}");
}
