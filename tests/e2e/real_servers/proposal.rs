//! `check --connect`'s proposed target file against real servers: a target file holding only the
//! URL, the user and the CA, checked with `--connect`, gets a fragment; pasted in, the run gives
//! the same verdicts as the hand-written example file of the same server.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::harness::{self, Run};
use super::oidc::{OidcProfile, OidcStack};
use super::saml::{SamlConfig, SamlStack};
use super::servers::{self, Django, DjangoProfile, repo};
use crate::support::cpu;

/// What `check --connect` printed, and the target file made of the minimal one and the proposed
/// fragment.
pub struct Proposed {
    pub output: String,
    pub code: i32,
    pub target: PathBuf,
}

/// Writes a target file with only `url`, mode fba, alice (password from `env`) and the CA, runs
/// `check --connect` on it, and writes `<name>-proposed.yaml`: that file with the proposed
/// fragment pasted below `users:`.
pub fn propose(name: &str, url: &str, ca: &Path, env: (&str, &str), dir: &Path) -> Proposed {
    let minimal = format!(
        "name: {name}\ncrm: {url}\nmode: fba\nusers:\n  alice:\n    password_env: {}\n\
         tls:\n  ca_file: {}\n",
        env.0,
        ca.display()
    );
    let min_path = dir.join(format!("{name}-minimal.yaml"));
    std::fs::write(&min_path, &minimal).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_logout-harness"))
        .args(["check", "--connect", "--target"])
        .arg(&min_path)
        .env(env.0, env.1)
        .current_dir(repo())
        .output()
        .expect("starting logout-harness check");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let output = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let fragment: Vec<&str> = stdout
        .lines()
        .skip_while(|l| *l != "---")
        .skip(1)
        .take_while(|l| *l != "---")
        .collect();
    assert!(
        !fragment.is_empty(),
        "check --connect proposed no target file:\n{output}"
    );
    let target = dir.join(format!("{name}-proposed.yaml"));
    std::fs::write(&target, format!("{minimal}{}\n", fragment.join("\n"))).unwrap();
    Proposed {
        output,
        code: out.status.code().unwrap_or(-1),
        target,
    }
}

/// Every verdict of `run` as (rule, held).
pub fn verdicts(run: &Run) -> Vec<(String, bool)> {
    let mut all: Vec<(String, bool)> = run
        .report
        .get("verdicts")
        .and_then(|v| v.as_array())
        .map(|vs| {
            vs.iter()
                .map(|v| {
                    (
                        v["rule"].as_str().unwrap_or_default().to_string(),
                        v["passed"].as_bool().unwrap_or(false),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    all.sort();
    all
}

#[test]
fn a_django_target_proposed_from_its_url_and_user_gives_the_hand_written_verdicts() {
    let _cpu = cpu::take(1);
    let password = servers::fresh_password();
    let server = Django::start(DjangoProfile::Correct, &password).expect("starting Django");
    let dir = tempfile::tempdir().unwrap();
    let env = ("DJANGO_ALICE_PASSWORD", password.as_str());
    // The start page is the one thing the user adds: the application's root is not Django's
    // admin. Everything else comes from the proposal.
    let url = format!("{}admin/", server.url);
    let proposed = propose("django", &url, &server.ca_file, env, dir.path());
    // The minimal file's default (CRM 4.0) form selectors are not on Django's page: exit 2, with
    // the proposal printed all the same.
    assert_eq!(proposed.code, 2, "{}", proposed.output);
    for expected in [
        "sessionid: authenticates",
        "csrftoken: does not authenticate",
        "sign-out control: #logout-form button[type=\"submit\"]",
        "identity provider: none seen",
        "username_input: '#id_username'",
        "auth_cookies: [sessionid]",
        "signed_out_text: (?i)logged out",
    ] {
        assert!(
            proposed.output.contains(expected),
            "missing `{expected}`:\n{}",
            proposed.output
        );
    }
    assert!(!proposed.output.contains(&password), "{}", proposed.output);

    let features = [
        "features/sign_out.feature",
        "features/cookie.feature",
        "features/back_button.feature",
    ];
    let run_dir = |n: &str| {
        let d = dir.path().join(n);
        std::fs::create_dir(&d).unwrap();
        d
    };
    let mine = harness::run(&proposed.target, &features, env, &run_dir("proposed"));
    // The hand-written file's start page is `admin/` of the server's root.
    let example = harness::target_from_example(
        "django-admin.yaml",
        dir.path(),
        &server.url,
        Some(&server.ca_file),
        "DJANGO_ALICE_PASSWORD",
    );
    let theirs = harness::run(&example, &features, env, &run_dir("hand-written"));
    assert_eq!(theirs.code, 0, "{}", theirs.explain());
    assert_eq!(mine.code, theirs.code, "{}", mine.explain());
    assert_eq!(
        verdicts(&mine),
        verdicts(&theirs),
        "proposed:\n{}\nhand-written:\n{}",
        mine.explain(),
        theirs.explain()
    );
    mine.assert_password_nowhere(&password);
}

/// The proposal for `url` against the hand-written `example`, both run over `features`: the same
/// exit code and the same verdicts. Returns the proposal's output, for what it must say.
fn proposal_matches_the_example(
    name: &str,
    (url, start): (&str, &str),
    ca: &Path,
    env: (&str, &str),
    example: &str,
    features: &[&str],
) -> String {
    let dir = tempfile::tempdir().unwrap();
    // The user gives the application's address (where a browser starts); the hand-written file
    // names its root and `pages.start`.
    let proposed = propose(name, &format!("{url}{start}"), ca, env, dir.path());
    assert!(!proposed.output.contains(env.1), "{}", proposed.output);
    let run_dir = |n: &str| {
        let d = dir.path().join(n);
        std::fs::create_dir(&d).unwrap();
        d
    };
    let mine = harness::run(&proposed.target, features, env, &run_dir("proposed"));
    let example = harness::target_from_example(example, dir.path(), url, Some(ca), env.0);
    let theirs = harness::run(&example, features, env, &run_dir("hand-written"));
    assert_eq!(
        mine.code,
        theirs.code,
        "proposed ({}):\n{}\nhand-written:\n{}",
        proposed.target.display(),
        mine.explain(),
        theirs.explain()
    );
    assert_eq!(
        verdicts(&mine),
        verdicts(&theirs),
        "{}\nproposed:\n{}\nhand-written:\n{}",
        proposed.output,
        mine.explain(),
        theirs.explain()
    );
    mine.assert_password_nowhere(env.1);
    proposed.output
}

/// What the proposal must get right on a single sign-on stack: the sign-out checks (the
/// application's and the provider's auth cookies) and the re-login through the provider. Kept to
/// these two: each stack runs them four times (two configurations, two target files).
const SSO_FEATURES: [&str; 2] = ["features/sign_out.feature", "features/sso.feature"];

#[test]
fn an_openid_connect_target_proposed_from_its_url_and_user_gives_the_hand_written_verdicts() {
    let _cpu = cpu::take(1);
    let password = servers::fresh_password();
    for profile in [
        OidcProfile::Correct,
        OidcProfile::SignOutNotReachingProvider,
    ] {
        let stack = OidcStack::start(profile, &password).unwrap_or_else(|e| panic!("{e}"));
        let output = proposal_matches_the_example(
            "oidc",
            (&stack.url, "app/"),
            &stack.ca_file,
            ("OIDC_ALICE_PASSWORD", &password),
            "oidc-apache-openidc.yaml",
            &SSO_FEATURES,
        );
        // Both hosts' session cookies were told apart by leaving each out: the application's by
        // its start page, the provider's by asking it for a sign-in again.
        for expected in [
            "mod_auth_openidc_session: authenticates",
            "_session: authenticates (the identity provider without it answered a sign-in form)",
            "identity_provider: {url: https://127.0.0.1:",
            "protocol: openid-connect}",
            // oidc-provider signs its session cookie: `_session.sig` authenticates with it.
            "auth_cookies: [mod_auth_openidc_session, _session@127.0.0.1, _session.sig@127.0.0.1]",
        ] {
            assert!(output.contains(expected), "missing `{expected}`:\n{output}");
        }
    }
}

#[test]
fn a_saml_target_proposed_from_its_url_and_user_gives_the_hand_written_verdicts() {
    let _cpu = cpu::take(1);
    let password = servers::fresh_password();
    for config in [SamlConfig::Correct, SamlConfig::SignOutNotReachingIdp] {
        let stack = SamlStack::start(config, &password).unwrap_or_else(|e| panic!("{e}"));
        let output = proposal_matches_the_example(
            "saml",
            (&stack.url, "app/"),
            &stack.ca_file,
            ("SAML_ALICE_PASSWORD", &password),
            "saml-simplesamlphp-mellon.yaml",
            &SSO_FEATURES,
        );
        for expected in [
            "mellon-cookie: authenticates",
            "identity_provider: {url: https://127.0.0.1:",
            "protocol: saml2}",
            "SimpleSAML@127.0.0.1",
        ] {
            assert!(output.contains(expected), "missing `{expected}`:\n{output}");
        }
    }
}
