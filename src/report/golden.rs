//! The writers proven against committed output, as cucumber-rs proves its JUnit writer: one fixed
//! set of findings (a verdict held, one violated with its cause, fix and diff, a scenario not
//! judged, one not applicable, a note, an interrupted run) written by the console, JSON and JUnit
//! writers and compared with `tests/golden/*.snap`. A change of format is a reviewed diff of those
//! files (`cargo insta review`, or `INSTA_UPDATE=always` and `git diff`), never a surprise in a
//! user's pipeline.

use crate::config::target::{AuthMode, PassMode, Ui};
use crate::judge::{Expected, Outcome, RuleId, Verdict, VerdictContext};
use crate::report::{
    Findings, NotApplicable, RunCost, ScenarioError, ScenarioTiming, console, json, junit,
};

fn context(scenario: &str, mode: PassMode) -> VerdictContext {
    VerdictContext {
        feature: "Sign Out".into(),
        scenario: scenario.into(),
        mode,
        browser: "chromium".into(),
        target: "embedded-ifd".into(),
    }
}

fn findings() -> Findings {
    let ifd = PassMode::default();
    let ifd_uci = PassMode {
        mode: AuthMode::Ifd,
        ui: Ui::Uci,
    };
    let held = Verdict {
        rule: RuleId::ReplayRefused,
        requirements: vec!["WSTG-SESS-06".into(), "ASVS-v5.0.0-7.4.1".into()],
        expected: Expected(vec![Outcome::Refused]),
        observed: Outcome::Refused,
        passed: true,
        evidence: vec!["GET https://crm.contoso.test/api/data/v9.0/WhoAmI -> 401".into()],
        detail: None,
        why: Some("a session ended by Sign Out must be ended on the server".into()),
        context: context("Sign Out ends the session on the server", ifd),
        likely_cause: None,
        fix: Vec::new(),
    };
    let violated = Verdict {
        rule: RuleId::LeftoverCookies,
        requirements: vec!["ASVS-v5.0.0-7.4.1".into()],
        expected: Expected(vec![Outcome::MatchSnapshot]),
        observed: Outcome::Differ,
        passed: false,
        evidence: vec![
            "cookies left after sign-out differ from snapshot features/snapshots/x.snap".into(),
            "a & b < c > \"d\" 'e'".into(),
        ],
        detail: Some("+ MSISAuth (adfs.contoso.test, persistent ~7d)\n- ReqClientId".into()),
        why: None,
        context: context("Leftover cookies <match> the snapshot", ifd_uci),
        likely_cause: Some("sign-out no longer clears AD FS's cookie".into()),
        fix: vec![
            "AD FS: Set-AdfsProperties -EnableKmsi $false".into(),
            "accept the new snapshot once the change is intended".into(),
        ],
    };
    Findings {
        verdicts: vec![held, violated],
        errors: vec![
            ScenarioError {
                context: context("Back after Sign Out shows no data", ifd),
                step: "When she signs out through the profile menu".into(),
                message: "waiting for `#navTabButtonUserInfoSignOutId`: not shown within 20s"
                    .into(),
            },
            ScenarioError {
                context: context("A scenario whose step is not known", ifd),
                step: String::new(),
                message: "a step could not observe".into(),
            },
        ],
        not_applicable: vec![NotApplicable {
            context: context("Two users", ifd),
            reason: "the target has no user `bob`; add one under `users`".into(),
        }],
        notes: vec!["the target was reached over plain HTTP".into()],
        scenarios_passed: 1,
        timings: vec![ScenarioTiming {
            context: context("Sign Out ends the session on the server", ifd),
            total_s: 1.5,
            browser_launch_s: 0.25,
            navigation_s: 1.0,
            deliberate_wait_s: 0.0,
        }],
        cost: RunCost {
            wall_s: 12.5,
            harness_cpu_s: 0.5,
        },
        artifacts: Default::default(),
        knobs_reached: Vec::new(),
        incomplete: false,
    }
}

fn interrupted() -> Findings {
    let mut f = findings();
    f.incomplete = true;
    f.notes.push(
        "the run was interrupted: these are the findings up to then; scenarios that had not \
         ended are missing"
            .into(),
    );
    f
}

fn assert_golden(name: &str, text: &str) {
    insta::with_settings!({
        snapshot_path => "../../tests/golden",
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name, text);
    });
}

#[test]
fn console_writer() {
    assert_golden("console", &console(&findings()));
    assert_golden("console-interrupted", &console(&interrupted()));
}

#[test]
fn json_writer() {
    assert_golden("json", &json(&findings()));
    assert_golden("json-interrupted", &json(&interrupted()));
}

#[test]
fn junit_writer() {
    assert_golden("junit", &junit(&findings()));
    assert_golden("junit-interrupted", &junit(&interrupted()));
}

/// The JUnit file is well-formed XML whatever the text it carries (the fixed set holds every
/// character XML escapes).
#[test]
fn junit_is_well_formed() {
    let xml = junit(&findings());
    for bad in ["& ", "<match>", "'e'\""] {
        assert!(!xml.contains(bad), "unescaped {bad:?} in:\n{xml}");
    }
}
