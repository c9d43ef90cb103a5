//! Windows authentication with automatic sign-in turned off, in real headless Chromium against the
//! emulator's iwa mode: the browser has no Negotiate allowlist, asks for credentials, and signs in
//! with NTLMv2 and what was typed into its prompt (answered through DevTools). After Sign Out it
//! answers CRM's challenge from its HTTP-auth cache, with no prompt (docs/browser-facts.md B8):
//! the default policy accepts that and says so, the strict one fails exactly that rule with the
//! cause and the fix; a closed and reopened browser asks again under both.

use crate::support::cpu;
use crate::support::harness;
use harness::{Report, Run};

const SCENARIOS: &str = "automatic sign-in turned off";
const AFTER_SIGN_OUT: &str =
    "With automatic sign-in turned off, opening CRM after Sign Out asks for credentials";

/// The two scenarios in mode iwa under `policy`, one at a time.
fn run(policy: &str) -> Report {
    let mut run = Run::new("iwa-prompt", policy);
    run.command()
        .args(["--mode", "iwa", "--concurrency", "1", "--name", SCENARIOS])
        .args(["--policy", policy]);
    run.finish()
}

/// (rule, observed, passed) of every verdict, sorted.
fn verdicts(r: &Report) -> Vec<(String, String, bool)> {
    let mut v: Vec<_> = r.json["verdicts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| {
            (
                v["rule"].as_str().unwrap_or_default().to_string(),
                v["observed"].as_str().unwrap_or_default().to_string(),
                v["passed"] == true,
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_prompting_browser_signs_straight_back_in_after_sign_out_and_is_asked_after_reopening() {
    let _cpu = cpu::take(2);
    let default = run("default");
    assert_eq!(default.exit, Some(0), "{}", default.output);
    assert_eq!(
        verdicts(&default),
        [
            (
                "iwa.prompt-after-browser-close".into(),
                "credentials-asked".into(),
                true
            ),
            (
                "iwa.prompt-after-sign-out".into(),
                "silent-sign-in".into(),
                true
            ),
        ],
        "{}",
        default.output
    );
    // The verdict says how the browser got back in, and how it was asked after reopening.
    assert!(default.text.contains("HTTP-auth"), "{}", default.text);
    assert!(
        default.text.contains("ntlm prompt from"),
        "{}",
        default.text
    );

    let strict = run("strict");
    assert_eq!(strict.exit, Some(1), "{}", strict.output);
    assert_eq!(
        verdicts(&strict),
        [
            (
                "iwa.prompt-after-browser-close".into(),
                "credentials-asked".into(),
                true
            ),
            (
                "iwa.prompt-after-sign-out".into(),
                "silent-sign-in".into(),
                false
            ),
        ],
        "{}",
        strict.output
    );
    let failed = strict.json["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["passed"] == false)
        .unwrap();
    assert_eq!(failed["context"]["scenario"], AFTER_SIGN_OUT);
    assert!(
        failed["likely_cause"]
            .as_str()
            .unwrap()
            .contains("HTTP-auth cache"),
        "{failed}"
    );
    assert!(
        failed["fix"]
            .to_string()
            .contains("close every browser window"),
        "{failed}"
    );
    // The password typed into the prompt is in no report.
    let password = crm_sim::accounts()[0].password;
    for r in [&default, &strict] {
        assert!(
            !r.text.contains(password),
            "the password leaked into the report"
        );
        assert!(
            !r.output.contains(password),
            "the password leaked into the output"
        );
    }
}
