//! The harness against real, third-party web applications with their own sign-in and sign-out,
//! which nobody in this project wrote: Django's admin (PyPI), Apache httpd's mod_auth_form and
//! mod_auth_gssapi (Debian), and single sign-on with OpenID Connect (mod_auth_openidc from Debian
//! in front of oidc-provider from npm, in `oidc.rs`), each started here on loopback, configured
//! correctly and wrongly.
//! Each test writes a target file from `fixtures/targets/examples/`, runs the `logout-harness`
//! binary, and checks the exit code and exactly which rules held and failed. Needs `ci/setup`
//! (it installs the servers).
//!
//! The tests run side by side, with the rest of the binary's (a share of its CPU budget each), but
//! the timeout measurement runs alone (the whole budget): its fixed-length case is held to half a
//! second, which a busy machine's round trips can exceed, and its browser sign-ins must outpace
//! the timeout.

mod harness;
mod oidc;
mod pki;
mod proposal;
mod saml;
mod servers;

use std::collections::BTreeSet;

use crate::support::cpu;
use servers::{Apache, ApacheSite, Django, DjangoProfile};

fn set(rules: &[&str]) -> BTreeSet<String> {
    rules.iter().map(|r| r.to_string()).collect()
}

/// The rules the sign-out and cookie features judge on a forms target.
const SIGN_OUT_RULES: [&str; 5] = [
    "sign-out.signed-out-page",
    "sign-out.auth-cookies-removed",
    "sign-out.replay-refused",
    "sign-out.leftover-cookies",
    "sign-out.replay-all-refused",
];
const COOKIE_RULES: [&str; 5] = [
    "cookie.auth-secure",
    "cookie.auth-httponly",
    "cookie.auth-samesite",
    "cookie.auth-lifetime",
    "cookie.no-credentials",
];

fn all_rules() -> BTreeSet<String> {
    SIGN_OUT_RULES
        .iter()
        .chain(&COOKIE_RULES)
        .map(|r| r.to_string())
        .collect()
}

/// The Django example target (`fixtures/targets/examples/django-admin.yaml`) pointed at `server`
/// and its CA, written into `dir`; alice's password comes from DJANGO_ALICE_PASSWORD.
fn django_target(server: &Django, dir: &std::path::Path) -> std::path::PathBuf {
    harness::target_from_example(
        "django-admin.yaml",
        dir,
        &server.url,
        Some(&server.ca_file),
        "DJANGO_ALICE_PASSWORD",
    )
}

/// Judged, and exactly `failing` failed: every other rule of sign-out and cookie held.
fn assert_exactly_failed(run: &harness::Run, failing: &[&str]) {
    let failing = set(failing);
    assert_eq!(run.failed(), failing, "{}", run.explain());
    let held: BTreeSet<String> = all_rules().difference(&failing).cloned().collect();
    assert_eq!(run.held(), held, "{}", run.explain());
}

#[test]
fn django_admin_correctly_configured_holds_every_rule() {
    let _cpu = cpu::take(1);
    let password = servers::fresh_password();
    let server = Django::start(DjangoProfile::Correct, &password).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "django (correct): gunicorn listened after {:?}; setup with migrations {:?}",
        server.listen_time, server.setup_time
    );
    let dir = tempfile::tempdir().unwrap();
    let target = django_target(&server, dir.path());
    let run = harness::run(
        &target,
        &[
            "features/sign_out.feature",
            "features/cookie.feature",
            // Django declares no timeouts in the target file: not applicable, not a failure.
            "features/timeout.feature",
        ],
        ("DJANGO_ALICE_PASSWORD", &password),
        dir.path(),
    );
    eprintln!("django (correct): harness run took {:?}", run.took);
    // First, as it holds whatever the verdicts: the password never leaves the environment.
    run.assert_password_nowhere(&password);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_exactly_failed(&run, &[]);
    // The server, not just the browser, ended the session: the old sessionid is sent to 302.
    assert_eq!(
        run.observed("sign-out.replay-refused").as_deref(),
        Some("refused")
    );
    // And so did every admin page the browser opened, each replayed with the old sessionid; the
    // static files Django serves to anyone are not counted.
    assert_eq!(
        run.observed("sign-out.replay-all-refused").as_deref(),
        Some("refused")
    );
    let evidence = run.evidence("sign-out.replay-all-refused");
    assert!(
        evidence.contains(" 0 accepted")
            && !evidence.contains("safe one(s) with the cookies from before sign-out: 0 refused"),
        "{evidence}"
    );
    let na = run.not_applicable();
    assert!(
        !na.is_empty(),
        "the timeout scenarios are not applicable: {}",
        run.explain()
    );
    for entry in &na {
        let reason = entry["reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains("timeout"),
            "a not-applicable scenario says why (the target declares no timeout): {entry}"
        );
    }
}

/// The HTTP-only sign-in (`HttpSignIn`, no browser) through Django's own admin form, with the
/// example target's selectors: its CSRF token (hidden field and cookie) and its Origin check over
/// HTTPS pass, and the session it returns opens `admin/`, which refuses a request without it.
#[test]
fn django_admin_signs_in_over_http_without_a_browser() {
    let _cpu = cpu::take(1);
    use logout_harness::engine::probe::{HttpTrust, Probe};
    use logout_harness::observe::http_signin::{HttpSignIn, HttpSignInError};

    let password = servers::fresh_password();
    let server = Django::start(DjangoProfile::Correct, &password).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    let file = django_target(&server, dir.path());
    let target =
        logout_harness::config::target::Target::load(&file).unwrap_or_else(|e| panic!("{e}"));
    let trust = HttpTrust {
        roots_pem: vec![std::fs::read_to_string(&server.ca_file).unwrap()],
        resolve: Vec::new(),
    };
    let site = url::Url::parse(&server.url).unwrap();
    let start = site.join(&target.pages.start).unwrap();
    let whoami = site.join(&target.spec.whoami).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = HttpSignIn::new(&trust).unwrap();
        let probe = Probe::new(&trust).unwrap();
        let t0 = std::time::Instant::now();
        let cookies = client
            .sign_in(&start, &target.pages, "alice", &password)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        eprintln!("django: signed in over HTTP in {:?}", t0.elapsed());
        // The control: admin/ answers 302 to the sign-in page without the session.
        let anonymous = probe.get_with_cookies(&whoami, &[]).await.unwrap();
        assert!(!anonymous.authenticated(), "{anonymous}");
        let answer = probe.get_with_cookies(&whoami, &cookies).await.unwrap();
        assert!(answer.authenticated(), "{answer}");
        assert!(
            answer.cookies_sent.contains(&"sessionid".to_string()),
            "{answer}"
        );
        // As settings.py sets it, and as Chromium would report it: host-only, Lax, a session cookie.
        let session = cookies.iter().find(|c| c.name == "sessionid").unwrap();
        assert_eq!(
            (session.domain.as_str(), session.path.as_str()),
            ("localhost", "/")
        );
        assert!(session.secure && session.http_only && session.session);
        assert_eq!(session.same_site.as_deref(), Some("Lax"));

        let wrong = format!("{password}-wrong");
        let e = client
            .sign_in(&start, &target.pages, "alice", &wrong)
            .await
            .unwrap_err();
        assert!(
            matches!(e, HttpSignInError::CredentialsRefused { .. }),
            "{e}"
        );
        assert!(!e.to_string().contains(&wrong), "{e}");
    });
}

#[test]
fn django_admin_with_signed_cookie_sessions_fails_replay_lifetime_and_samesite() {
    let _cpu = cpu::take(1);
    let password = servers::fresh_password();
    let server =
        Django::start(DjangoProfile::SignedCookies, &password).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "django (signed cookies): gunicorn listened after {:?}; setup {:?}",
        server.listen_time, server.setup_time
    );
    let dir = tempfile::tempdir().unwrap();
    let target = harness::target_from_example(
        "django-admin-signed-cookies.yaml",
        dir.path(),
        &server.url,
        Some(&server.ca_file),
        "DJANGO_ALICE_PASSWORD",
    );
    let run = harness::run(
        &target,
        &["features/sign_out.feature", "features/cookie.feature"],
        ("DJANGO_ALICE_PASSWORD", &password),
        dir.path(),
    );
    eprintln!("django (signed cookies): harness run took {:?}", run.took);
    // First, as it holds whatever the verdicts: the password never leaves the environment.
    run.assert_password_nowhere(&password);
    assert_eq!(run.code, 1, "{}", run.explain());
    assert_exactly_failed(
        &run,
        &[
            "sign-out.replay-refused",
            "cookie.auth-lifetime",
            "cookie.auth-samesite",
            // Every admin page the browser opened accepts the signed cookie after logout too.
            "sign-out.replay-all-refused",
        ],
    );
    // Django deleted the browser's cookie, yet a copy from before still signs in.
    assert_eq!(
        run.observed("sign-out.auth-cookies-removed").as_deref(),
        Some("removed")
    );
    assert_eq!(
        run.observed("sign-out.replay-refused").as_deref(),
        Some("accepted")
    );
    assert_eq!(
        run.observed("cookie.auth-samesite").as_deref(),
        Some("none")
    );
}

/// Starts Apache httpd serving `site` (whose password is `password`), describes it with the
/// example target `example`, and runs `features` against it. Before anything else is looked at,
/// the password is checked to be in no output of the run, whatever its verdicts.
fn run_apache_form(
    label: &str,
    site: ApacheSite<'_>,
    password: &str,
    example: &str,
    features: &[&str],
) -> harness::Run {
    let server = Apache::start(site).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "apache ({label}): httpd listened after {:?}",
        server.listen_time
    );
    let dir = tempfile::tempdir().unwrap();
    let target = harness::target_from_example(
        example,
        dir.path(),
        &server.url,
        server.ca_file.as_deref(),
        "APACHE_ALICE_PASSWORD",
    );
    let run = harness::run(
        &target,
        features,
        ("APACHE_ALICE_PASSWORD", password),
        dir.path(),
    );
    eprintln!("apache ({label}): harness run took {:?}", run.took);
    run.assert_password_nowhere(password);
    run
}

#[test]
fn apache_auth_form_as_documented_keeps_the_password_in_a_replayable_cookie() {
    let _cpu = cpu::take(1);
    let password = servers::fresh_password();
    let run = run_apache_form(
        "logout handler",
        ApacheSite::FormLogoutHandler {
            password: &password,
        },
        &password,
        "apache-auth-form.yaml",
        &["features/sign_out.feature", "features/cookie.feature"],
    );
    assert_eq!(run.code, 1, "{}", run.explain());
    assert_exactly_failed(
        &run,
        &[
            "cookie.no-credentials",
            "sign-out.replay-refused",
            "cookie.auth-secure",
            "cookie.auth-httponly",
            "sign-out.replay-all-refused",
        ],
    );
    // Apache's logout answers `session=expiry=...;Max-Age=1`: an emptied cookie that the browser
    // drops a second later is not a credential left behind (and replay is judged on its own).
    assert_eq!(
        run.observed("sign-out.auth-cookies-removed").as_deref(),
        Some("removed")
    );
    assert_eq!(
        run.observed("sign-out.replay-refused").as_deref(),
        Some("accepted")
    );
    // The finding names the cookie; neither its value nor the password is shown anywhere.
    assert!(
        run.evidence("cookie.no-credentials").contains("session"),
        "{}",
        run.explain()
    );
}

#[test]
fn apache_auth_form_with_server_side_sessions_over_https_holds_every_rule() {
    let _cpu = cpu::take(1);
    let password = servers::fresh_password();
    let run = run_apache_form(
        "server-side sessions",
        ApacheSite::FormServerSession {
            password: &password,
        },
        &password,
        "apache-auth-form-server-session.yaml",
        &["features/sign_out.feature", "features/cookie.feature"],
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_exactly_failed(&run, &[]);
    // Logout answers with an empty session's key and Max-Age=1: removed, and the old key refused.
    assert_eq!(
        run.observed("sign-out.auth-cookies-removed").as_deref(),
        Some("removed")
    );
    assert_eq!(
        run.observed("sign-out.replay-refused").as_deref(),
        Some("refused")
    );
}

#[test]
fn apache_sign_out_link_without_the_logout_handler_leaves_the_session() {
    let _cpu = cpu::take(1);
    let password = servers::fresh_password();
    let run = run_apache_form(
        "link only",
        ApacheSite::FormLinkOnly {
            password: &password,
        },
        &password,
        "apache-auth-form.yaml",
        &["features/sign_out.feature"],
    );
    assert_eq!(run.code, 1, "{}", run.explain());
    // Every check of the scenario is judged, though the first ones failed (the replay most of all).
    let failing = set(&[
        "sign-out.signed-out-page",
        "sign-out.auth-cookies-removed",
        "sign-out.replay-refused",
        "sign-out.replay-all-refused",
    ]);
    assert_eq!(run.failed(), failing, "{}", run.explain());
    assert_eq!(
        run.held(),
        set(&["sign-out.leftover-cookies"]),
        "{}",
        run.explain()
    );
    assert_eq!(
        run.observed("sign-out.auth-cookies-removed").as_deref(),
        Some("left")
    );
}

#[test]
fn apache_kerberos_signs_in_silently_and_refuses_a_browser_without_a_ticket() {
    let _cpu = cpu::take(1);
    let t = std::time::Instant::now();
    // The project's private KDC, with a service key for HTTP/localhost (Chromium asks for a ticket
    // to HTTP/<host of the URL>). Its users' passwords are made for this run.
    let realm = krb5_realm::Realm::start(
        krb5_realm::RealmOptions::new(servers::fresh_password()).service_host("localhost"),
    )
    .unwrap_or_else(|e| panic!("starting the test KDC: {e}"));
    let kdc_time = t.elapsed();
    let server =
        Apache::start(ApacheSite::Kerberos { realm: &realm }).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "apache (kerberos): KDC ready after {kdc_time:?}; httpd listened after {:?}",
        server.listen_time
    );
    let dir = tempfile::tempdir().unwrap();
    let source = servers::repo().join("fixtures/targets/examples/apache-kerberos.yaml");
    let text = std::fs::read_to_string(&source).unwrap();
    let target = dir.path().join("apache-kerberos.yaml");
    std::fs::write(&target, text.replace("http://localhost:8080/", &server.url)).unwrap();
    // alice's ticket is the harness's own credential cache, as on a user's workstation.
    let run = harness::run_with_env(
        &target,
        &["features/iwa.feature"],
        &realm.env_for_client("alice"),
        dir.path(),
    );
    eprintln!("apache (kerberos): harness run took {:?}", run.took);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(
        run.held(),
        set(&[
            "iwa.silent-sign-in",
            "iwa.relogin-after-sign-out",
            "iwa.no-ticket-refused",
            "sign-out.leftover-cookies",
        ]),
        "{}",
        run.explain()
    );
    assert!(run.failed().is_empty(), "{}", run.explain());
    // The browser without a ticket was refused by the server itself, with its challenge.
    assert!(
        run.evidence("iwa.no-ticket-refused").contains("401"),
        "{}",
        run.explain()
    );

    // The same run on a machine where alice has no ticket: nothing can be said of the silent
    // sign-in (no prompt appeared either), so it is not judged, naming the missing ticket; never
    // a violation of the deployment.
    let no_ticket = dir.path().join("no-ticket");
    let run = harness::run_with_env(
        &target,
        &["features/iwa.feature"],
        &[
            ("KRB5_CONFIG".into(), realm.krb5_config().into()),
            (
                "KRB5CCNAME".into(),
                format!("FILE:{}", no_ticket.join("none").display()).into(),
            ),
        ],
        dir.path(),
    );
    assert_eq!(run.code, 2, "{}", run.explain());
    assert!(run.failed().is_empty(), "{}", run.explain());
    assert!(
        run.output
            .contains("alice has no Kerberos ticket on this machine"),
        "{}",
        run.explain()
    );
}

/// `logout-harness timeout` against Django sessions of 6 s, one moved on by every request and
/// one that is not: the measured interval holds 6 s, and sliding and fixed are told apart.
///
/// The two are measured side by side: each mostly waits for its sessions to end, and its
/// sign-ins (Django hashes each password with PBKDF2) are done in its first seconds.
#[test]
fn timeout_tells_a_sliding_django_session_from_a_fixed_one() {
    let _cpu = cpu::alone();
    std::thread::scope(|scope| {
        let runs = [true, false].map(|sliding| {
            std::thread::Builder::new()
                .name(if sliding { "sliding" } else { "fixed" }.into())
                .spawn_scoped(scope, move || measure_django_timeout(sliding))
                .unwrap()
        });
        for run in runs {
            if let Err(panic) = run.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
}

/// `logout-harness timeout` against Apache httpd's forms sign-in (mod_auth_form) with sessions of
/// 4 s in a cookie (mod_session_cookie, `SessionMaxAge 4`), which Apache re-issues with a new
/// expiry on every request: the sliding session of issue 28, where the harness, sending the cookie
/// of the sign-in and never the renewed one, reported 2.6 s to 3.5 s. And the same with
/// `SessionExpiryUpdateInterval 4`, which stops the renewal: a fixed length of 4 s. The truth is
/// the configuration's: mod_session refuses a session whose expiry, written into the cookie as
/// the time it was issued plus `SessionMaxAge`, has passed
/// (https://httpd.apache.org/docs/2.4/mod/mod_session.html#sessionmaxage). Both ways of signing
/// in: over HTTP and with the browser.
#[test]
fn timeout_measures_apache_sessions_that_renew_their_cookie_and_ones_that_do_not() {
    let _cpu = cpu::alone();
    // Over HTTP, sliding and fixed side by side (each mostly waits for its sessions to end);
    // with the browser one after the other: browser sign-ins need the CPU, and side by side on a
    // loaded 2-core machine they took 13 s, longer than the sessions live.
    std::thread::scope(|scope| {
        let runs = [true, false].map(|sliding| {
            std::thread::Builder::new()
                .name(format!("apache {sliding} http"))
                .spawn_scoped(scope, move || measure_apache_timeout(sliding, "http"))
                .unwrap()
        });
        for run in runs {
            if let Err(panic) = run.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
    measure_apache_timeout(true, "browser");
    measure_apache_timeout(false, "browser");
}

fn measure_apache_timeout(sliding: bool, sign_in: &str) {
    // Over HTTP, the 4 s of the issue at half a second; a browser signs in more slowly (1 to 3 s
    // each, 4 at once), and every session must be signed in before the first one's time is up:
    // 10 s at 2 s (9 sessions).
    let (max_age_s, resolution, max): (u32, &str, &str) = match sign_in {
        "http" => (4, "500ms", "8s"),
        _ => (10, "2s", "14s"),
    };
    let resolution_s = logout_harness::config::duration::parse_duration(resolution)
        .unwrap()
        .as_secs_f64();
    let password = servers::fresh_password();
    let server = Apache::start(ApacheSite::FormShortSession {
        password: &password,
        max_age_s,
        sliding,
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    let target = harness::target_from_example(
        "apache-auth-form.yaml",
        dir.path(),
        &server.url,
        None,
        "APACHE_ALICE_PASSWORD",
    );
    let mut doc: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&target).unwrap()).unwrap();
    doc.as_mapping_mut().unwrap().insert(
        "timeouts".into(),
        serde_yaml::from_str(&format!(
            "{{idle: {max_age_s}s, measure: {{sign_in: {sign_in}}}}}"
        ))
        .unwrap(),
    );
    std::fs::write(&target, serde_yaml::to_string(&doc).unwrap()).unwrap();
    let json = dir.path().join("timeout.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_logout-harness"))
        .args([
            "timeout",
            "--resolution",
            resolution,
            "--max",
            max,
            "--json",
        ])
        .arg(&json)
        .arg("--target")
        .arg(&target)
        .env("APACHE_ALICE_PASSWORD", &password)
        .output()
        .expect("starting logout-harness");
    let console = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let kind = if sliding { "sliding" } else { "fixed" };
    let label = format!("apache ({kind}, {sign_in} sign-in)");
    assert!(
        !console.contains(&password),
        "{label}: the password was printed"
    );
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&json).unwrap_or_else(|e| panic!("{label}: {e}\n{console}")),
    )
    .unwrap();
    let lower = report["lower_s"].as_f64().unwrap();
    let upper = report["upper_s"].as_f64().unwrap_or(f64::NAN);
    let truth = f64::from(max_age_s);
    eprintln!(
        "{label}: {} (truth {truth}s)",
        console.lines().next().unwrap_or_default()
    );
    assert!(
        lower <= truth && truth <= upper,
        "{label}: the interval excludes the truth\n{console}"
    );
    assert_eq!(report["expiry"]["kind"], kind, "{label}\n{console}");
    // Renewed on every request, or never.
    assert_eq!(report["renews_cookies"], sliding, "{label}\n{console}");
    // A fixed length counts from a moment within the sign-in (a browser's takes a while), which
    // widens that interval by the longest sign-in; a busy loopback server's round trips vary
    // from look to look, which the interval honestly includes (a quarter second allowed).
    let widened = if sliding {
        0.0
    } else {
        report["longest_sign_in_s"].as_f64().unwrap()
    };
    assert!(
        upper - lower <= resolution_s + 0.25 + widened,
        "{label}: wider than the resolution\n{console}\n{report:#}"
    );
    assert_eq!(out.status.code(), Some(0), "{label}\n{console}");
}

fn measure_django_timeout(sliding: bool) {
    let password = servers::fresh_password();
    let server = Django::start(DjangoProfile::ShortSession { age_s: 6, sliding }, &password)
        .unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    let target = django_target(&server, dir.path());
    // Declared as configured; sessions signed in over HTTP (Django's form, CSRF token and
    // all), which the example does not allow by default.
    let mut doc: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&target).unwrap()).unwrap();
    doc.as_mapping_mut().unwrap().insert(
        "timeouts".into(),
        serde_yaml::from_str("{idle: 6s, measure: {sign_in: http}}").unwrap(),
    );
    std::fs::write(&target, serde_yaml::to_string(&doc).unwrap()).unwrap();
    let json = dir.path().join("timeout.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_logout-harness"))
        .args(["timeout", "--resolution", "1s", "--max", "15s", "--json"])
        .arg(&json)
        .arg("--target")
        .arg(&target)
        .env("DJANGO_ALICE_PASSWORD", &password)
        .output()
        .expect("starting logout-harness");
    let console = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{console}");
    assert!(!console.contains(&password), "the password was printed");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let lower = report["lower_s"].as_f64().unwrap();
    let upper = report["upper_s"].as_f64().unwrap();
    assert!(lower <= 6.0 && 6.0 <= upper, "{console}");
    // A fixed length counts from sign-in, a moment within the sign-in's own time. A busy
    // third-party server's round trips vary from look to look (100 ms spikes were seen under
    // CI load), which the interval honestly includes: half a second is allowed for them here,
    // while tests/e2e/timeout.rs holds the measurement to the resolution on the emulator.
    let widened = if sliding {
        0.0
    } else {
        report["longest_sign_in_s"].as_f64().unwrap()
    };
    assert!(upper - lower <= 1.5 + widened, "{console}\n{report:#}");
    let kind = if sliding { "sliding" } else { "fixed" };
    assert_eq!(report["expiry"]["kind"], kind, "{console}");
    assert_eq!(report["verdict"]["passed"], true, "{console}");
    eprintln!(
        "django ({kind}): {}",
        console.lines().next().unwrap_or_default()
    );
}

/// `logout-harness revoke` against a real Django admin: alice's account made inactive through
/// Django's own ORM (an `admin.deactivate_user` command of the target file) ends the sessions she
/// has at their next request (Django's ModelBackend refuses an inactive user's session), so
/// `--within 2s` holds; the sessions are signed in over HTTP through Django's own form.
#[test]
fn revoke_measures_a_django_user_made_inactive() {
    let _cpu = cpu::take(1);
    let password = servers::fresh_password();
    let server = Django::start(DjangoProfile::Correct, &password).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    let target = django_target(&server, dir.path());
    let python = servers::venv().join("bin/python");
    let manage = servers::repo().join("fixtures/real-servers/django/manage.py");
    let mut doc: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&target).unwrap()).unwrap();
    let map = doc.as_mapping_mut().unwrap();
    map.insert(
        "timeouts".into(),
        serde_yaml::from_str("{measure: {sign_in: http}}").unwrap(),
    );
    let deactivate = serde_yaml::to_value(serde_json::json!({
        "deactivate_user": {"command": [
            python.display().to_string(),
            manage.display().to_string(),
            "shell",
            "-c",
            "from django.contrib.auth.models import User; \
             User.objects.filter(username='{username}').update(is_active=False)",
        ]}
    }))
    .unwrap();
    map.insert("admin".into(), deactivate);
    std::fs::write(&target, serde_yaml::to_string(&doc).unwrap()).unwrap();
    let json = dir.path().join("revoke.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_logout-harness"))
        .args([
            "revoke",
            "--change",
            "deactivate_user",
            "--within",
            "2s",
            "--json",
        ])
        .arg(&json)
        .arg("--target")
        .arg(&target)
        .env("DJANGO_ALICE_PASSWORD", &password)
        // The command acts on this site's database: it runs with the harness's environment.
        .envs(server.env.iter().cloned())
        .output()
        .expect("starting logout-harness");
    let console = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{console}");
    assert!(!console.contains(&password), "the password was printed");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["verdict"]["passed"], true, "{console}");
    assert_eq!(report["sessions"].as_array().unwrap().len(), 3, "{console}");
    assert!(report["upper_s"].as_f64().unwrap() <= 2.0, "{console}");
    assert!(
        report["sessions"][0]["evidence"]
            .as_str()
            .unwrap()
            .contains("302"),
        "{console}"
    );
    // Django's admin has no single sign-on: opened without its session cookie it asks for the
    // password, so the user's access is the application's session alone, and the report says so.
    assert_eq!(report["ask"], "access", "{console}");
    assert!(
        report["note"]
            .as_str()
            .is_some_and(|n| n.contains("asked for a password")),
        "{console}"
    );
}
