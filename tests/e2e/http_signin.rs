//! `HttpSignIn` against the embedded emulator on real sockets: the AD FS (ifd) and CRM 4.0 (fba)
//! forms are filled over HTTP alone, and the cookies it returns are what the probe replays.
//!
//! Each sign-in is judged by the server, not by the jar: WhoAmI answers 2xx with the cookies and
//! not without them, and a wrong password is refused.

use std::time::Instant;

use crate::support::cpu;
use logout_harness::config::target::{AuthMode, Target};
use logout_harness::engine::browser::JarCookie;
use logout_harness::engine::embedded::Embedded;
use logout_harness::engine::probe::Probe;
use logout_harness::observe::http_signin::{HttpSignIn, HttpSignInError};
use logout_harness::observe::snapshot::{CookieShape, shapes};

/// A started emulator in `mode` and what a sign-in against it needs.
struct Rig {
    embedded: Embedded,
    target: Target,
    client: HttpSignIn,
    probe: Probe,
    start: url::Url,
    whoami: url::Url,
    username: String,
    password: String,
}

impl Rig {
    async fn start(mode: AuthMode) -> Rig {
        let embedded = Embedded::start(mode, &Default::default())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let (_, _, trust) = logout_harness::engine::trust::emulator_trust(&embedded);
        let target = Target::embedded(mode);
        let crm = embedded.sim.crm_url().clone();
        let creds = target.credentials("alice").unwrap();
        Rig {
            client: HttpSignIn::new(&trust).unwrap(),
            probe: Probe::new(&trust).unwrap(),
            start: crm.join(&target.pages.start).unwrap(),
            whoami: crm.join(&target.spec.whoami).unwrap(),
            username: creds.username,
            password: creds.password.unwrap().expose().to_string(),
            target,
            embedded,
        }
    }

    async fn sign_in(&self, password: &str) -> Result<Vec<JarCookie>, HttpSignInError> {
        self.client
            .sign_in(&self.start, &self.target.pages, &self.username, password)
            .await
    }

    /// Signs alice in and proves it with WhoAmI; returns her cookies.
    async fn signed_in(&self) -> Vec<JarCookie> {
        let t0 = Instant::now();
        let cookies = self
            .sign_in(&self.password)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        eprintln!(
            "{}: signed in over HTTP in {:?}",
            self.target.spec.name,
            t0.elapsed()
        );
        // The control: WhoAmI refuses a request without cookies, so a 2xx below is the session's.
        let anonymous = self
            .probe
            .get_with_cookies(&self.whoami, &[])
            .await
            .unwrap();
        assert!(!anonymous.authenticated(), "{anonymous}");
        let answer = self
            .probe
            .get_with_cookies(&self.whoami, &cookies)
            .await
            .unwrap();
        assert!(answer.authenticated(), "{answer}");
        // The authentication cookie is among those the probe sent.
        let auth = &self.target.pages.auth_cookies[0];
        let auth = auth.trim_end_matches('*');
        assert!(
            answer.cookies_sent.iter().any(|n| n == auth),
            "{auth} not sent: {answer}"
        );
        cookies
    }

    /// A wrong password is the credentials-refused error, and its message does not echo it.
    async fn refuses_a_wrong_password(&self) {
        let wrong = format!("{}-wrong", self.password);
        let e = self.sign_in(&wrong).await.unwrap_err();
        assert!(
            matches!(&e, HttpSignInError::CredentialsRefused { username, .. } if *username == self.username),
            "{e}"
        );
        let text = e.to_string();
        assert!(
            !text.contains(&wrong) && !text.contains(&self.password),
            "{text}"
        );
        eprintln!("{}: {text}", self.target.spec.name);
    }
}

fn shape(domain: &str, path: &str, name: &str, lifetime: &str) -> CookieShape {
    CookieShape {
        domain: domain.into(),
        path: path.into(),
        name: name.into(),
        secure: true,
        http_only: true,
        same_site: "unset".into(),
        lifetime: lifetime.into(),
    }
}

/// The cookie shapes Chromium recorded in this scenario's committed baseline snapshot.
fn chromium_baseline(file: &str) -> Vec<CookieShape> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("features/snapshots")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    // An insta snapshot: a `---` header, then the YAML body.
    let body = text.splitn(3, "---\n").nth(2).unwrap();
    serde_yaml::from_str(body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ifd_signs_in_through_ad_fs_over_http() {
    let _cpu = cpu::take(1);
    let rig = Rig::start(AuthMode::Ifd).await;
    let cookies = rig.signed_in().await;
    // Every cookie of AD FS and CRM, as Chromium's CDP reports them: host-only domains, the
    // paths the servers set, session cookies with expires -1, ReqClientId capped at 400 days.
    let crm = "crm.contoso.test";
    let adfs = "adfs.contoso.test";
    let got = shapes(&cookies);
    assert_eq!(
        got,
        [
            shape(adfs, "/adfs", "MSISAuth", "session"),
            shape(adfs, "/adfs", "MSISAuthenticated", "session"),
            shape(adfs, "/adfs", "MSISLoopDetectionCookie", "session"),
            shape(adfs, "/adfs", "MSISSignOut", "session"),
            shape(
                adfs,
                "/adfs/ls",
                "MSISIPSelectionPersistent",
                "persistent ~30d"
            ),
            shape(crm, "/", "MSISAuth", "session"),
            shape(crm, "/", "MSISAuth1", "session"),
            shape(crm, "/", "ReqClientId", "persistent ~400d"),
            shape(crm, "/", "orgId", "persistent ~400d"),
        ]
    );
    assert!(
        cookies
            .iter()
            .all(|c| c.session == (c.expires == -1.0) && !c.value.is_empty())
    );
    // What Chromium keeps after sign-out (the committed baseline) has the very same shapes here.
    for kept in chromium_baseline(
        "sign_out__sign_out_from_the_profile_menu_ends_the_session__embedded-ifd__chromium.snap",
    ) {
        // MSISSignOutReply is set by the sign-out itself (W2, W3), after this jar was taken.
        if kept.name == "MSISSignOutReply" {
            continue;
        }
        assert!(
            got.contains(&kept),
            "Chromium has {kept:?}; we have {got:#?}"
        );
    }
    rig.refuses_a_wrong_password().await;
    rig.embedded.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fba_signs_in_through_the_crm_4_form_over_http() {
    let _cpu = cpu::take(1);
    let rig = Rig::start(AuthMode::Fba).await;
    let cookies = rig.signed_in().await;
    assert_eq!(
        shapes(&cookies),
        [shape("crm.contoso.test", "/", "MSCRMSession", "session")]
    );
    rig.refuses_a_wrong_password().await;
    rig.embedded.shutdown().await;
}

/// What the timeout measurement does: many sign-ins at once on one client, each its own session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sign_ins_are_independent_sessions() {
    let _cpu = cpu::take(1);
    let rig = std::sync::Arc::new(Rig::start(AuthMode::Ifd).await);
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let rig = rig.clone();
            tokio::spawn(async move { rig.sign_in(&rig.password).await })
        })
        .collect();
    let mut sessions = std::collections::BTreeSet::new();
    for task in tasks {
        let cookies = task.await.unwrap().unwrap_or_else(|e| panic!("{e}"));
        let answer = rig
            .probe
            .get_with_cookies(&rig.whoami, &cookies)
            .await
            .unwrap();
        assert!(answer.authenticated(), "{answer}");
        let session: Vec<&str> = cookies
            .iter()
            .filter(|c| c.domain == "crm.contoso.test" && c.name.starts_with("MSISAuth"))
            .map(|c| c.value.as_str())
            .collect();
        sessions.insert(session.concat());
    }
    eprintln!("8 concurrent HTTP sign-ins in {:?}", t0.elapsed());
    assert_eq!(sessions.len(), 8, "every sign-in has a session of its own");
    match std::sync::Arc::try_unwrap(rig) {
        Ok(rig) => rig.embedded.shutdown().await,
        Err(_) => panic!("the tasks are done"),
    }
}

/// What a user gets wrong is told apart: a selector the AD FS page lacks, and a server whose
/// certificate is not trusted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_selector_and_an_untrusted_certificate_are_clear_errors() {
    let _cpu = cpu::take(1);
    let rig = Rig::start(AuthMode::Ifd).await;
    let mut pages = rig.target.pages.clone();
    pages.username_input = "#userName".into();
    let e = rig
        .client
        .sign_in(&rig.start, &pages, &rig.username, &rig.password)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &e,
            HttpSignInError::NoSignInForm {
                status: 200,
                credentials_sent: false,
                ..
            }
        ),
        "{e}"
    );
    let text = e.to_string();
    assert!(
        text.contains("https://adfs.contoso.test") && text.contains("(\"Sign In\")"),
        "{text}"
    );

    let (_, _, mut trust) = logout_harness::engine::trust::emulator_trust(&rig.embedded);
    trust.roots_pem.clear();
    let e = HttpSignIn::new(&trust)
        .unwrap()
        .sign_in(&rig.start, &rig.target.pages, &rig.username, &rig.password)
        .await
        .unwrap_err();
    assert!(matches!(&e, HttpSignInError::Transport { .. }), "{e}");
    assert!(e.to_string().contains("tls.ca_file"), "{e}");
    eprintln!("{e}");
    rig.embedded.shutdown().await;
}
