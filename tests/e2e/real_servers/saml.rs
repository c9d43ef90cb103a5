//! SAML 2.0 single sign-on made of Debian's packages: an application behind Apache httpd's
//! mod_auth_mellon (the service provider, `https://localhost:PORT/`) whose users sign in at
//! SimpleSAMLphp (the identity provider, `https://127.0.0.1:PORT/simplesaml/`, another host), in
//! one Apache (fixtures/real-servers/saml/httpd.conf says how). Correctly configured, the
//! application's Sign out is a SAML Single Logout that ends the IdP's session too; misconfigured
//! (the IdP metadata mellon was given has no SingleLogoutService), it ends mellon's session only,
//! and the IdP signs alice straight back in without her password.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::servers::{self, ChildGuard};
use super::{COOKIE_RULES, SIGN_OUT_RULES, harness, pki, set};
use crate::support::cpu;

/// What the service provider was told about the identity provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SamlConfig {
    /// The IdP metadata with its SingleLogoutService (`idp-metadata.xml`).
    Correct,
    /// The IdP metadata without one (`idp-metadata-no-slo.xml`): Sign out never reaches the IdP.
    SignOutNotReachingIdp,
}

/// Apache httpd serving SimpleSAMLphp (IdP) and mod_auth_mellon (SP) on two loopback ports, with
/// keys, certificates and metadata made for this run in its own temporary directory. Fields drop
/// in order: the server (and its workers) stop before the directory is removed.
pub struct SamlStack {
    _server: ChildGuard,
    /// The application (the SP): `https://localhost:PORT/`.
    pub url: String,
    /// The identity provider: `https://127.0.0.1:PORT/`.
    pub idp_url: String,
    /// The CA of both hosts' certificate.
    pub ca_file: PathBuf,
    /// How long from starting httpd until both ports listened.
    pub listen_time: Duration,
    /// How long the whole setup took (keys, metadata, server).
    pub setup_time: Duration,
    error_log: PathBuf,
    dir: tempfile::TempDir,
}

const SP_ENTITY: &str = "urn:logout-harness:saml:sp";

impl SamlStack {
    /// Starts the stack, alice's password being `password` (handed to SimpleSAMLphp in Apache's
    /// environment only, never written to a file).
    pub fn start(config: SamlConfig, password: &str) -> Result<SamlStack, String> {
        let t0 = Instant::now();
        let httpd = Path::new("/usr/sbin/apache2");
        let php_module = std::fs::read_dir("/usr/lib/apache2/modules")
            .ok()
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                let name = p.file_name().unwrap_or_default().to_string_lossy();
                name.starts_with("libphp") && name.ends_with(".so")
            });
        let needed = [
            httpd,
            Path::new("/usr/lib/apache2/modules/mod_auth_mellon.so"),
            Path::new("/usr/share/simplesamlphp/www/index.php"),
            Path::new("/usr/sbin/mellon_create_metadata"),
            Path::new("/usr/bin/openssl"),
        ];
        let missing: Vec<String> = needed
            .iter()
            .filter(|p| !p.exists())
            .map(|p| p.display().to_string())
            .chain(
                php_module
                    .is_none()
                    .then(|| "/usr/lib/apache2/modules/libphp*.so".into()),
            )
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "{} missing: run `ci/setup` (Debian apache2-bin, libapache2-mod-auth-mellon, \
                 simplesamlphp, libapache2-mod-php, php-xml, openssl)",
                missing.join(", ")
            ));
        }
        let php_module = php_module.expect("checked above");

        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let run = dir.path();
        // SAFETY: geteuid(2) has no preconditions and cannot fail.
        let as_root = unsafe { libc::geteuid() } == 0;
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Path, m: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m))
                .map_err(|e| format!("chmod {}: {e}", p.display()))
        };
        // Run as root, httpd serves as `nobody`: the directory is traversable, not listable, and
        // what it reads is copied here (a checkout under a private home would not be readable).
        mode(run, 0o711)?;
        let fixtures = servers::repo().join("fixtures/real-servers/saml");
        servers::copy_dir(&fixtures.join("htdocs"), &run.join("htdocs"))?;
        servers::copy_dir(&fixtures.join("idp/config"), &run.join("idp/config"))?;
        servers::copy_dir(&fixtures.join("idp/metadata"), &run.join("idp/metadata"))?;
        for d in ["idp/cert", "idp/sessions", "idp/tmp", "idp/data", "sp"] {
            std::fs::create_dir_all(run.join(d)).map_err(|e| format!("mkdir {d}: {e}"))?;
        }
        // TLS for both hosts (server.pem, server.key: httpd.conf names them; read as root).
        let pki = pki::make(run)?;

        let idp_port = servers::free_port()?;
        let sp_port = loop {
            let port = servers::free_port()?;
            if port != idp_port {
                break port;
            }
        };
        let url = format!("https://localhost:{sp_port}/");
        let idp_url = format!("https://127.0.0.1:{idp_port}/");

        // The SP's key, certificate and metadata, by the tool mellon ships (in sp/, named after
        // the entity); renamed to what httpd.conf names.
        servers::run_to_end(
            "mellon_create_metadata",
            Command::new("/usr/sbin/mellon_create_metadata")
                .arg(SP_ENTITY)
                .arg(format!("{url}mellon"))
                .current_dir(run.join("sp")),
        )?;
        let made = SP_ENTITY.replace(|c: char| !c.is_ascii_alphanumeric() && c != '.', "_");
        for (ext, to) in [
            ("key", "sp.key"),
            ("cert", "sp.cert"),
            ("xml", "metadata.xml"),
        ] {
            let from = run.join("sp").join(format!("{made}.{ext}"));
            std::fs::rename(&from, run.join("sp").join(to))
                .map_err(|e| format!("mellon_create_metadata wrote no {}: {e}", from.display()))?;
        }

        // The IdP's signing key and certificate (SimpleSAMLphp reads them at every request).
        let key = run.join("idp/cert/idp.key");
        let cert = run.join("idp/cert/idp.crt");
        servers::run_to_end(
            "openssl (the IdP's signing key)",
            Command::new("/usr/bin/openssl")
                .args([
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                ])
                .args(["-subj", "/CN=logout-harness test IdP"])
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&cert),
        )?;
        let cert_pem =
            std::fs::read_to_string(&cert).map_err(|e| format!("{}: {e}", cert.display()))?;
        let cert_body: String = cert_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();

        // The IdP's metadata as mellon is given it: the one difference between the two.
        let template = match config {
            SamlConfig::Correct => "idp-metadata.xml",
            SamlConfig::SignOutNotReachingIdp => "idp-metadata-no-slo.xml",
        };
        let text = std::fs::read_to_string(fixtures.join(template))
            .map_err(|e| format!("{template}: {e}"))?;
        let idp_metadata = run.join("sp/idp-metadata.xml");
        std::fs::write(
            &idp_metadata,
            text.replace("@IDP_URL@", &idp_url)
                .replace("@IDP_CERT@", &cert_body),
        )
        .map_err(|e| format!("writing {}: {e}", idp_metadata.display()))?;
        // Read by the workers: mellon's IdP metadata at the first request, SimpleSAMLphp's SP
        // metadata (mellon_create_metadata made it world-readable) and its own key.
        mode(&idp_metadata, 0o644)?;
        if as_root {
            let (uid, gid) = servers::nobody()?;
            for d in ["idp/sessions", "idp/tmp", "idp/data", "idp/cert/idp.key"] {
                std::os::unix::fs::chown(run.join(d), Some(uid), Some(gid))
                    .map_err(|e| format!("chown {d}: {e}"))?;
            }
        }

        let mut salt = [0u8; 16];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut salt))
            .map_err(|e| format!("/dev/urandom: {e}"))?;
        let conf = fixtures.join("httpd.conf");
        let apache = |check: bool| {
            let mut cmd = Command::new(httpd);
            cmd.arg(if check { "-t" } else { "-DFOREGROUND" })
                .arg("-f")
                .arg(&conf)
                .env("LH_SAML_RUN", run)
                .env("LH_SAML_IDP_LISTEN", format!("127.0.0.1:{idp_port}"))
                .env("LH_SAML_SP_LISTEN", format!("127.0.0.1:{sp_port}"))
                .env("LH_SAML_PHP_MODULE", &php_module)
                // For PHP (getenv() in idp/config/*.php).
                .env("SIMPLESAMLPHP_CONFIG_DIR", run.join("idp/config"))
                .env("LH_SAML_IDP_URL", &idp_url)
                .env(
                    "LH_SAML_IDP_SECRET_SALT",
                    salt.iter().map(|b| format!("{b:02x}")).collect::<String>(),
                )
                .env("LH_SAML_ALICE_PASSWORD", password);
            if as_root {
                cmd.arg("-DAsRoot");
            }
            cmd
        };
        // A configuration error is reported on the console, which the server's guard discards.
        servers::run_to_end("apache2 -t (the SAML configuration)", &mut apache(true))?;
        let error_log = run.join("error.log");
        let t1 = Instant::now();
        let mut server = ChildGuard::spawn_group("apache2 (SAML IdP and SP)", apache(false))?;
        server.wait_listening(idp_port, &error_log)?;
        server.wait_listening(sp_port, &error_log)?;
        Ok(SamlStack {
            _server: server,
            url,
            idp_url,
            ca_file: pki.ca_file,
            listen_time: t1.elapsed(),
            setup_time: t0.elapsed(),
            error_log,
            dir,
        })
    }

    /// Apache's error log so far (mellon's and SimpleSAMLphp's messages).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(&self.error_log).unwrap_or_default()
    }

    /// What was asked of either host so far, and answered (status, Location).
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }
}

/// mod_auth_mellon's warning when the IdP metadata has no SingleLogoutService.
const LOCAL_LOGOUT_ONLY: &str =
    "Current identity provider does not support single logout. Destroying local session only.";

/// Given to both tests beside the features that see where Sign out led: its rule
/// `sso.reauthentication` (after sign-out, opening the application again must ask for
/// credentials) is the one this deployment is about. The feature is written for AD FS (`@ifd`)
/// and judges this target only once the harness applies it to `mode: fba` targets whose sign-in
/// goes to an identity provider on another host; until then it contributes no verdict, and the
/// tests expect exactly the `sso.*` verdicts the run reports: none, or the one below.
const SSO_FEATURE: &str = "features/sso.feature";

/// A stack in `config`, the example target pointed at it, and the harness run over `features`
/// in a directory of the test's (where the snapshots it recorded stay for a second run).
struct Started {
    stack: SamlStack,
    dir: tempfile::TempDir,
    target: PathBuf,
    password: String,
    run: harness::Run,
}

fn start_and_run(config: SamlConfig, features: &[&str]) -> Started {
    let password = servers::fresh_password();
    let stack = SamlStack::start(config, &password).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "saml ({config:?}): httpd listened after {:?}; setup with keys and metadata {:?}",
        stack.listen_time, stack.setup_time
    );
    let dir = tempfile::tempdir().unwrap();
    let target = harness::target_from_example(
        "saml-simplesamlphp-mellon.yaml",
        dir.path(),
        &stack.url,
        Some(&stack.ca_file),
        "SAML_ALICE_PASSWORD",
    );
    let run = harness::run(
        &target,
        features,
        ("SAML_ALICE_PASSWORD", &password),
        dir.path(),
    );
    eprintln!("saml ({config:?}): harness run took {:?}", run.took);
    // First, as it holds whatever the verdicts: the password never leaves the environment.
    run.assert_password_nowhere(&password);
    Started {
        stack,
        dir,
        target,
        password,
        run,
    }
}

/// The run's verdicts, and what the two hosts logged.
fn explain(stack: &SamlStack, run: &harness::Run) -> String {
    format!(
        "{}\n--- apache error.log ---\n{}\n--- apache access.log ---\n{}",
        run.explain(),
        stack.error_log(),
        stack.access_log()
    )
}

#[test]
fn saml_single_logout_ends_the_idp_session_and_holds_every_rule() {
    let _cpu = cpu::take(1);
    let Started {
        stack,
        dir,
        target,
        password,
        run,
    } = start_and_run(
        SamlConfig::Correct,
        &[
            "features/sign_out.feature",
            "features/cookie.feature",
            "features/back_button.feature",
            SSO_FEATURE,
        ],
    );
    let why = explain(&stack, &run);
    assert_eq!(run.code, 0, "{why}");
    assert_eq!(run.failed(), BTreeSet::new(), "{why}");
    let mut held = set(&SIGN_OUT_RULES);
    held.extend(set(&COOKIE_RULES));
    held.extend(set(&[
        "back-button.data-after-sign-out",
        "back-button.pages-not-stored",
        // The sign-in redirect showed the IdP: the single sign-on scenarios ran.
        "sso.reauthentication",
    ]));
    assert_eq!(run.held(), held, "{why}");
    assert!(
        run.output
            .contains("(SAML 2.0, seen in the sign-in redirect"),
        "{why}"
    );
    // mellon sent a LogoutRequest to the IdP, and the IdP ended its session: reloading the
    // application after sign-out leads to SimpleSAMLphp's password form, not back in.
    assert!(!stack.error_log().contains(LOCAL_LOGOUT_ONLY), "{why}");
    assert!(
        stack
            .access_log()
            .contains("GET /simplesaml/saml2/idp/SingleLogoutService.php?SAMLRequest="),
        "{why}"
    );
    let back = run.evidence("back-button.data-after-sign-out");
    assert!(
        back.contains(&format!(
            "after reload: page {}simplesaml/module.php/core/loginuserpass.php",
            stack.idp_url
        )) && back.contains("shows a sign-in form"),
        "{why}"
    );
    // Both hosts' cookies are judged: mellon's on localhost, SimpleSAMLphp's on 127.0.0.1.
    let samesite = run.evidence("cookie.auth-samesite");
    for cookie in [
        "mellon-cookie@localhost",
        "SimpleSAML@127.0.0.1",
        "SimpleSAMLAuthToken@127.0.0.1",
    ] {
        assert!(samesite.contains(cookie), "{cookie}: {why}");
    }

    // Five nightly runs against that baseline: the cookies Sign out leaves (SimpleSAMLphp's,
    // named the same at every sign-in) match the snapshots the first run recorded.
    for i in 1..=5 {
        let again = harness::run_against_snapshots(
            &target,
            &["features/sign_out.feature", SSO_FEATURE],
            ("SAML_ALICE_PASSWORD", &password),
            dir.path(),
        );
        eprintln!(
            "saml (correct): run {i} against the snapshots took {:?}",
            again.took
        );
        again.assert_password_nowhere(&password);
        let why = explain(&stack, &again);
        assert_eq!(again.code, 0, "run {i}: {why}");
        assert_eq!(again.failed(), BTreeSet::new(), "run {i}: {why}");
        let mut held = set(&SIGN_OUT_RULES);
        held.insert("sso.reauthentication".into());
        assert_eq!(again.held(), held, "run {i}: {why}");
        assert!(
            again
                .evidence("sign-out.leftover-cookies")
                .contains("SimpleSAML (127.0.0.1), SimpleSAMLAuthToken (127.0.0.1)"),
            "run {i}: {why}"
        );
    }
}

#[test]
fn saml_sign_out_that_never_reaches_the_idp_signs_alice_straight_back_in() {
    let _cpu = cpu::take(1);
    let Started { stack, run, .. } = start_and_run(
        SamlConfig::SignOutNotReachingIdp,
        &[
            "features/sign_out.feature",
            "features/back_button.feature",
            "features/tabs.feature",
            SSO_FEATURE,
        ],
    );
    let why = explain(&stack, &run);
    assert_eq!(run.code, 1, "{why}");
    // The misconfiguration took effect as fixtures/real-servers/saml/idp-metadata-no-slo.xml says.
    assert!(stack.error_log().contains(LOCAL_LOGOUT_ONLY), "{why}");
    assert!(
        !stack.access_log().contains("SingleLogoutService.php"),
        "{why}"
    );
    // Opening the application again, the IdP signs alice straight back in: the other tab, a
    // reload after Back and opening the application after sign-out show her orders without a
    // password; the IdP's cookies left on 127.0.0.1 still sign her in when the IdP is asked.
    let failed = set(&[
        "back-button.data-after-sign-out",
        "tabs.other-tab-after-sign-out",
        "sso.reauthentication",
        "sign-out.auth-cookies-removed",
    ]);
    assert_eq!(run.failed(), failed, "{why}");
    let cause = run.likely_cause("sso.reauthentication");
    assert!(
        cause.contains("identity provider's session survived"),
        "{cause}"
    );
    assert!(
        run.evidence("sign-out.auth-cookies-removed")
            .contains("still signs the user in without credentials"),
        "{why}"
    );
    // mellon did end its own session: each rule that asks the application itself holds.
    let mut held = set(&SIGN_OUT_RULES);
    held.extend(set(&[
        "back-button.pages-not-stored",
        "tabs.session-after-tab-close",
        "sso.reauthentication",
        "sign-out.auth-cookies-removed",
    ]));
    let held: BTreeSet<String> = held.difference(&failed).cloned().collect();
    assert_eq!(run.held(), held, "{why}");
    assert_eq!(
        run.observed("sign-out.replay-refused").as_deref(),
        Some("refused"),
        "{why}"
    );
    let back = run.evidence("back-button.data-after-sign-out");
    assert!(
        back.contains(&format!(
            "after reload: page {}app/ shows the application signed in with data",
            stack.url
        )),
        "{why}"
    );
}
