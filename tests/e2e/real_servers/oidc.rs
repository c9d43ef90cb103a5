//! Single sign-on with OpenID Connect, made of third-party software only: Apache httpd with
//! mod_auth_openidc (Debian) as the relying party in front of a static application on
//! `https://localhost:PORT/`, and panva's oidc-provider (npm, run by Node.js with
//! `fixtures/real-servers/oidc/provider.mjs`) as the identity provider on `https://127.0.0.1:PORT2`,
//! another host with cookies of its own. Configured correctly (sign-out reaches the provider's
//! `end_session_endpoint`), and as deployments get it wrong: the provider's RP-initiated logout is
//! off, so the application's sign-out never reaches it, and the provider's session signs alice
//! straight back in. Target file: `fixtures/targets/examples/oidc-apache-openidc.yaml`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::harness;
use super::pki;
use super::servers::{self, ChildGuard, copy_dir, free_port, repo};
use crate::support::cpu;

/// Where `ci/setup` installs oidc-provider (npm).
fn provider_modules() -> PathBuf {
    repo().join("target/real-servers/oidc/node_modules")
}

const MOD_AUTH_OPENIDC: &str = "/usr/lib/apache2/modules/mod_auth_openidc.so";

/// How the provider is configured (`LH_OIDC_PROFILE` of provider.mjs); the relying party is the
/// same in both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OidcProfile {
    /// RP-initiated logout on: discovery advertises `end_session_endpoint`, mod_auth_openidc's
    /// logout sends the browser there, and the provider's session ends.
    Correct,
    /// RP-initiated logout off: no `end_session_endpoint`, so mod_auth_openidc's logout ends only
    /// its own session; the provider's session cookie signs alice back in without a password.
    SignOutNotReachingProvider,
}

impl OidcProfile {
    fn name(self) -> &'static str {
        match self {
            OidcProfile::Correct => "correct",
            OidcProfile::SignOutNotReachingProvider => "sign-out-not-reaching-provider",
        }
    }
}

/// The provider and the relying party, each a child process on a free loopback port, sharing one
/// temporary directory (certificates, logs, the application's pages). Fields drop in order: Apache
/// stops, then the provider, then the directory is removed.
pub struct OidcStack {
    _rp: ChildGuard,
    _provider: ChildGuard,
    /// The application (the relying party), `https://localhost:PORT/`.
    pub url: String,
    /// The provider's issuer, `https://127.0.0.1:PORT2`.
    pub provider_url: String,
    /// The CA of both servers' certificate.
    pub ca_file: PathBuf,
    /// How long the whole start took (certificates, provider, Apache).
    pub setup_time: Duration,
    _dir: tempfile::TempDir,
}

/// `n` random bytes as hex (secrets made per run, passed through the environment only).
fn random_hex(n: usize) -> Result<String, String> {
    let mut bytes = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .map_err(|e| format!("/dev/urandom: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl OidcStack {
    /// Starts oidc-provider (alice's password `password`, through the environment only) and then
    /// Apache with mod_auth_openidc in front of the application.
    pub fn start(profile: OidcProfile, password: &str) -> Result<OidcStack, String> {
        let t0 = Instant::now();
        let httpd = Path::new("/usr/sbin/apache2");
        if !httpd.exists() || !Path::new(MOD_AUTH_OPENIDC).exists() {
            return Err(format!(
                "{} or {MOD_AUTH_OPENIDC} is missing: run `ci/setup` (Debian apache2-bin, \
                 libapache2-mod-auth-openidc)",
                httpd.display()
            ));
        }
        let modules = provider_modules();
        if !modules.join("oidc-provider/package.json").exists() {
            return Err(format!(
                "oidc-provider is missing from {}: run `ci/setup` (it installs it from npm)",
                modules.display()
            ));
        }
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        // SAFETY: geteuid(2) has no preconditions and cannot fail.
        let as_root = unsafe { libc::geteuid() } == 0;
        // Run as root, httpd serves as `nobody`, which must reach the pages and the CA (read at
        // each back-channel request): the directory is traversable, not listable, and the pages
        // are a copy.
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Path, m: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m))
                .map_err(|e| format!("chmod {}: {e}", p.display()))
        };
        mode(dir.path(), 0o711)?;
        // ca.pem, server.pem, server.key: the names rp.conf expects in LH_OIDC_RUN.
        let pki = pki::make(dir.path())?;
        mode(&pki.ca_file, 0o644)?;

        let provider_port = free_port()?;
        let rp_port = loop {
            let p = free_port()?;
            if p != provider_port {
                break p;
            }
        };
        let rp_origin = format!("https://localhost:{rp_port}");
        let provider_url = format!("https://127.0.0.1:{provider_port}");

        // The application's pages, with its port in the Sign out link's return address.
        let docs = dir.path().join("htdocs");
        copy_dir(&repo().join("fixtures/real-servers/oidc/htdocs"), &docs)?;
        let index = docs.join("app/index.html");
        let page = std::fs::read_to_string(&index)
            .map_err(|e| format!("reading {}: {e}", index.display()))?;
        std::fs::write(&index, page.replace("@RP_PORT@", &rp_port.to_string()))
            .map_err(|e| format!("writing {}: {e}", index.display()))?;

        let client_secret = random_hex(24)?;

        let provider_log = dir.path().join("provider.log");
        let mut node = Command::new("node");
        node.arg(repo().join("fixtures/real-servers/oidc/provider.mjs"))
            .current_dir(dir.path())
            .env("LH_OIDC_MODULES", &modules)
            .env("LH_OIDC_PROFILE", profile.name())
            .env("LH_OIDC_PORT", provider_port.to_string())
            .env("LH_OIDC_RP_ORIGIN", &rp_origin)
            .env("LH_OIDC_CLIENT_SECRET", &client_secret)
            .env("LH_OIDC_ALICE_PASSWORD", password)
            .env("LH_OIDC_TLS_CERT", &pki.cert_file)
            .env("LH_OIDC_TLS_KEY", &pki.key_file)
            .env("LH_OIDC_LOG", &provider_log);
        let mut provider = ChildGuard::spawn("oidc-provider (node)", node)?;
        provider.wait_listening(provider_port, &provider_log)?;

        let mut apache = Command::new(httpd);
        apache
            .arg("-X")
            .arg("-f")
            .arg(repo().join("fixtures/real-servers/oidc/rp.conf"))
            .env("LH_OIDC_RUN", dir.path())
            .env("LH_OIDC_DOCS", &docs)
            .env("LH_OIDC_RP_PORT", rp_port.to_string())
            .env("LH_OIDC_PROVIDER", &provider_url)
            .env("LH_OIDC_CLIENT_SECRET", &client_secret)
            .env("LH_OIDC_CRYPTO", random_hex(24)?);
        if as_root {
            apache.arg("-DAsRoot");
        }
        let mut rp = ChildGuard::spawn("apache2 (mod_auth_openidc)", apache)?;
        rp.wait_listening(rp_port, &dir.path().join("error.log"))?;
        Ok(OidcStack {
            _rp: rp,
            _provider: provider,
            url: format!("{rp_origin}/"),
            provider_url,
            ca_file: pki.ca_file,
            setup_time: t0.elapsed(),
            _dir: dir,
        })
    }
}

const PASSWORD_ENV: &str = "OIDC_ALICE_PASSWORD";

fn set(rules: &[&str]) -> BTreeSet<String> {
    rules.iter().map(|r| r.to_string()).collect()
}

/// Exactly `failed` failed and exactly `held` held: every rule the run judged is named.
fn assert_rules(run: &harness::Run, failed: &[&str], held: &[&str]) {
    assert_eq!(run.failed(), set(failed), "{}", run.explain());
    assert_eq!(run.held(), set(held), "{}", run.explain());
}

/// The stack started with `profile`, the example target pointed at it, and a directory for the
/// runs (report, artifacts, snapshots).
fn start(profile: OidcProfile, password: &str) -> (OidcStack, tempfile::TempDir, PathBuf) {
    let stack = OidcStack::start(profile, password).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "oidc ({}): provider {} and application {} up after {:?}",
        profile.name(),
        stack.provider_url,
        stack.url,
        stack.setup_time
    );
    let dir = tempfile::tempdir().unwrap();
    let target = harness::target_from_example(
        "oidc-apache-openidc.yaml",
        dir.path(),
        &stack.url,
        Some(&stack.ca_file),
        PASSWORD_ENV,
    );
    (stack, dir, target)
}

// The rules of the features these tests run, on this target (mode fba).
const SIGN_OUT: [&str; 5] = [
    "sign-out.signed-out-page",
    "sign-out.auth-cookies-removed",
    "sign-out.replay-refused",
    "sign-out.leftover-cookies",
    "sign-out.replay-all-refused",
];
const COOKIE: [&str; 5] = [
    "cookie.auth-secure",
    "cookie.auth-httponly",
    "cookie.auth-samesite",
    "cookie.auth-lifetime",
    "cookie.no-credentials",
];
const TABS: [&str; 2] = [
    "tabs.other-tab-after-sign-out",
    "tabs.session-after-tab-close",
];
const BACK_BUTTON: [&str; 2] = [
    "back-button.pages-not-stored",
    "back-button.data-after-sign-out",
];

#[test]
fn oidc_sign_out_that_reaches_the_provider_holds_and_the_next_visit_asks_for_the_password() {
    let _cpu = cpu::take(1);
    let password = servers::fresh_password();
    let (_stack, dir, target) = start(OidcProfile::Correct, &password);
    let run = harness::run(
        &target,
        &[
            "features/sign_out.feature",
            "features/cookie.feature",
            "features/tabs.feature",
            "features/sso.feature",
        ],
        (PASSWORD_ENV, &password),
        dir.path(),
    );
    eprintln!("oidc (correct): harness run took {:?}", run.took);
    // First, as it holds whatever the verdicts: the password never leaves the environment.
    run.assert_password_nowhere(&password);
    assert_eq!(run.code, 0, "{}", run.explain());
    let held: Vec<&str> = SIGN_OUT
        .iter()
        .chain(&COOKIE)
        .chain(&TABS)
        .chain(&["sso.reauthentication"])
        .copied()
        .collect();
    assert_rules(&run, &[], &held);
    // The sign-in redirect showed the provider, so the single sign-on scenarios ran; the
    // checks of other protocols and controls say why they did not.
    assert!(
        run.output.contains("identity provider: https://127.0.0.1:")
            && run
                .output
                .contains("(OpenID Connect, seen in the sign-in redirect"),
        "{}",
        run.output
    );
    let not_applicable = format!("{:?}", run.not_applicable());
    for reason in [
        "the sign-out reply address (`wreply`) is WS-Federation's",
        "needs another application that signs in through the same AD FS",
        "the sign-in page offers no Keep me signed in",
    ] {
        assert!(
            not_applicable.contains(reason),
            "{reason}: {not_applicable}"
        );
    }
    // Both hosts' session cookies were there before sign-out, and neither is after: the provider's
    // end_session deleted its own.
    let removed = run.evidence("sign-out.auth-cookies-removed");
    assert!(
        removed.contains("_session (127.0.0.1)")
            && removed.contains("mod_auth_openidc_session (localhost)")
            && removed.contains("after sign-out: none"),
        "{removed}"
    );
    // mod_auth_openidc deleted its session on the server: the old cookie is refused.
    assert_eq!(
        run.observed("sign-out.replay-refused").as_deref(),
        Some("refused")
    );
    // The other tab's next action led to the provider's sign-in form, not back in.
    let other_tab = run.evidence("tabs.other-tab-after-sign-out");
    assert!(
        other_tab.contains("127.0.0.1") && other_tab.contains("shows a sign-in form"),
        "{other_tab}"
    );

    // The leftover cookies (oidc-provider's interaction cookies, whose path holds the interaction's
    // id) compare equal to the snapshots just recorded: the built-in placeholders make them stable.
    // Five runs in a row, as a nightly job would make them.
    for i in 1..=5 {
        let again = harness::run_against_snapshots(
            &target,
            &["features/sign_out.feature", "features/sso.feature"],
            (PASSWORD_ENV, &password),
            dir.path(),
        );
        eprintln!(
            "oidc (correct): run {i} against the snapshots took {:?}",
            again.took
        );
        again.assert_password_nowhere(&password);
        assert_eq!(again.code, 0, "run {i}: {}", again.explain());
        let held: Vec<&str> = SIGN_OUT
            .iter()
            .chain(&["sso.reauthentication"])
            .copied()
            .collect();
        assert_rules(&again, &[], &held);
        assert_eq!(
            again.observed("sign-out.leftover-cookies").as_deref(),
            Some("match-snapshot"),
            "run {i}: {}",
            again.explain()
        );
    }
}

#[test]
fn oidc_sign_out_that_never_reaches_the_provider_signs_alice_straight_back_in() {
    let _cpu = cpu::take(1);
    let password = servers::fresh_password();
    let (_stack, dir, target) = start(OidcProfile::SignOutNotReachingProvider, &password);
    let run = harness::run(
        &target,
        &[
            "features/sign_out.feature",
            "features/tabs.feature",
            "features/back_button.feature",
            "features/sso.feature",
        ],
        (PASSWORD_ENV, &password),
        dir.path(),
    );
    eprintln!(
        "oidc (sign-out not reaching the provider): harness run took {:?}",
        run.took
    );
    run.assert_password_nowhere(&password);
    assert_eq!(run.code, 1, "{}", run.explain());
    // The next visit to the application, from the other tab or through Back, goes to the provider,
    // whose session is alive, and comes back signed in without a password.
    let failed = [
        "tabs.other-tab-after-sign-out",
        "back-button.data-after-sign-out",
        "sign-out.auth-cookies-removed",
        "sso.reauthentication",
    ];
    let held: Vec<&str> = SIGN_OUT
        .iter()
        .chain(&TABS)
        .chain(&BACK_BUTTON)
        .chain(&["sso.reauthentication"])
        .copied()
        .filter(|r| !failed.contains(r))
        .collect();
    assert_rules(&run, &failed, &held);
    // The check that exists for this mistake names it, and its cause is the provider's session.
    assert_eq!(
        run.observed("sso.reauthentication").as_deref(),
        Some("silent-sign-in")
    );
    let cause = run.likely_cause("sso.reauthentication");
    assert!(
        cause.contains("identity provider's session survived"),
        "{cause}"
    );
    let other_tab = run.evidence("tabs.other-tab-after-sign-out");
    assert!(
        other_tab.contains("shows the application signed in with data"),
        "{other_tab}"
    );
    // The provider's session cookie outlives sign-out. The application's `whoami` is never sent
    // it; the provider, asked for a sign-in again with what is left, signs alice in silently.
    let removed = run.evidence("sign-out.auth-cookies-removed");
    assert!(
        removed.contains("after sign-out: _session@127.0.0.1")
            && removed.contains("still signs the user in without credentials"),
        "{removed}"
    );
    // mod_auth_openidc's own session did end: its old cookie is refused.
    assert_eq!(
        run.observed("sign-out.replay-refused").as_deref(),
        Some("refused")
    );
}

/// The provider's sign-in form is not a formality: signed in over HTTP alone (the harness's
/// `HttpSignIn`, through mod_auth_openidc's redirects to the provider and back), the right
/// password gives a session the application accepts, and a wrong one brings the form back.
#[test]
fn oidc_provider_signs_alice_in_over_http_and_refuses_a_wrong_password() {
    let _cpu = cpu::take(1);
    use logout_harness::engine::probe::{HttpTrust, Probe};
    use logout_harness::observe::http_signin::{HttpSignIn, HttpSignInError};

    let password = servers::fresh_password();
    let (stack, _dir, file) = start(OidcProfile::Correct, &password);
    let target =
        logout_harness::config::target::Target::load(&file).unwrap_or_else(|e| panic!("{e}"));
    let trust = HttpTrust {
        roots_pem: vec![std::fs::read_to_string(&stack.ca_file).unwrap()],
        resolve: Vec::new(),
    };
    let site = url::Url::parse(&stack.url).unwrap();
    let start = site.join(&target.pages.start).unwrap();
    let whoami = site.join(&target.spec.whoami).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = HttpSignIn::new(&trust).unwrap();
        let probe = Probe::new(&trust).unwrap();
        let t0 = Instant::now();
        let cookies = client
            .sign_in(&start, &target.pages, "alice", &password)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        eprintln!("oidc: signed in over HTTP in {:?}", t0.elapsed());
        // Both hosts' session cookies, as the target names them.
        for (name, host) in [
            ("mod_auth_openidc_session", "localhost"),
            ("_session", "127.0.0.1"),
        ] {
            assert!(
                cookies.iter().any(|c| c.name == name && c.domain == host),
                "no {name} for {host} among {:?}",
                cookies
                    .iter()
                    .map(|c| format!("{}@{}", c.name, c.domain))
                    .collect::<Vec<_>>()
            );
        }
        let anonymous = probe.get_with_cookies(&whoami, &[]).await.unwrap();
        assert!(!anonymous.authenticated(), "{anonymous}");
        let answer = probe.get_with_cookies(&whoami, &cookies).await.unwrap();
        assert!(answer.authenticated(), "{answer}");

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

/// The same correct deployment described as CRM behind AD FS (`mode: ifd`), as a user whose
/// single sign-on is not AD FS might write it: the re-login through the provider is judged; the
/// checks that exist only for AD FS say why they do not apply here (WS-Federation's `wreply`,
/// AD FS's "Keep me signed in" checkbox, which this sign-in form does not have) instead of ending
/// the run "not judged".
#[test]
fn oidc_described_as_mode_ifd_judges_the_re_login_and_says_why_the_ad_fs_checks_do_not_apply() {
    let _cpu = cpu::take(1);
    let password = servers::fresh_password();
    let (_stack, dir, target) = start(OidcProfile::Correct, &password);
    let text = std::fs::read_to_string(&target).unwrap();
    assert!(text.contains("mode: fba"), "{text}");
    std::fs::write(&target, text.replace("mode: fba", "mode: ifd")).unwrap();
    let run = harness::run(
        &target,
        &["features/sso.feature"],
        (PASSWORD_ENV, &password),
        dir.path(),
    );
    run.assert_password_nowhere(&password);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_rules(
        &run,
        &[],
        &["sso.reauthentication", "sign-out.leftover-cookies"],
    );
    let not_applicable = format!("{:?}", run.not_applicable());
    for reason in [
        // Seen in the sign-in redirect: OpenID Connect, not WS-Federation.
        "the sign-out reply address (`wreply`) is WS-Federation's, and the identity provider is https://127.0.0.1:",
        "OpenID Connect",
        // The mode's default checkbox is not on this sign-in form.
        "offers no \\\"Keep me signed in\\\" (AD FS's `#kmsiInput`",
    ] {
        assert!(
            not_applicable.contains(reason),
            "{reason}: {not_applicable}"
        );
    }
}
