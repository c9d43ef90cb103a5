//! The writers proven against committed output, as cucumber-rs proves its JUnit writer: one fixed
//! set of findings (a verdict held, one violated with its cause, fix and diff, a scenario not
//! judged, one not applicable, a note, an interrupted run) written by the console, JSON and JUnit
//! writers and compared with `tests/golden/*.snap`. A change of format is a reviewed diff of those
//! files (`cargo insta review`, or `INSTA_UPDATE=always` and `git diff`), never a surprise in a
//! user's pipeline.

use crate::config::target::{AuthMode, PassMode, Ui};
use crate::engine::recorder::{SetCookie, TrailHop};
use crate::judge::{Expected, Outcome, RuleId, Verdict, VerdictContext};
use crate::observe::timeline::{Point, TimelineEvent, msis_auth};
use crate::report::{
    Findings, NotApplicable, RunCost, ScenarioError, ScenarioRecord, ScenarioTiming, Screenshot,
    StepOutcome, StepRecord, console, html, json, junit,
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
        html_report: Some("logout.html".into()),
        scenarios: vec![skipped_adfs_sign_out(context(
            "Leftover cookies <match> the snapshot",
            ifd_uci,
        ))],
    }
}

/// A 1x1 PNG: a screenshot the HTML report embeds.
const PNG_1X1: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

fn hop(method: &str, url: &str, status: u16, sent: &[&str], set: Vec<SetCookie>) -> TimelineEvent {
    let host = url::Url::parse(url)
        .unwrap()
        .host_str()
        .unwrap()
        .to_string();
    TimelineEvent::Request {
        person: "alice".into(),
        hop: TrailHop {
            method: method.into(),
            url: url.into(),
            host,
            status: Some(status),
            failed: false,
            cookies_sent: Some(sent.iter().map(|s| s.to_string()).collect()),
            set_cookies: set,
        },
        sent_auth: false,
    }
}

/// The sign-out that never reached AD FS, as its timeline records it: CRM's cookie cleared,
/// AD FS's left, and opening CRM again signed straight back in through AD FS.
fn skipped_adfs_sign_out(context: VerdictContext) -> ScenarioRecord {
    let step = |text: &str, outcome| StepRecord {
        text: text.into(),
        outcome,
    };
    let jar = |point, cookies| TimelineEvent::Jar {
        person: "alice".into(),
        point,
        cookies,
    };
    let mut timeline = vec![
        jar(Point::BeforeSignIn, vec![]),
        hop(
            "GET",
            "https://crm.contoso.test/contoso/main.aspx",
            302,
            &[],
            vec![],
        ),
        hop(
            "POST",
            "https://adfs.contoso.test/adfs/ls/?wa&wtrealm&wctx",
            302,
            &[],
            vec![
                SetCookie::parse(
                    "MSISAuth=VALUE-NEVER-SHOWN; path=/adfs; secure; HttpOnly; SameSite=None",
                )
                .unwrap(),
            ],
        ),
        jar(
            Point::SignedIn,
            vec![
                msis_auth("adfs.contoso.test", true),
                msis_auth("crm.contoso.test", true),
            ],
        ),
        jar(
            Point::BeforeSignOut,
            vec![
                msis_auth("adfs.contoso.test", true),
                msis_auth("crm.contoso.test", true),
            ],
        ),
        hop(
            "GET",
            "https://crm.contoso.test/contoso/signout.aspx",
            200,
            &["MSISAuth"],
            vec![
                SetCookie::parse("MSISAuth=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT")
                    .unwrap(),
            ],
        ),
        jar(Point::SignedOut, vec![msis_auth("adfs.contoso.test", true)]),
        TimelineEvent::Replay {
            request: "GET https://crm.contoso.test/contoso/api/data/v9.0/WhoAmI".into(),
            cookies_sent: vec![],
            status: 401,
            accepted: false,
        },
        hop(
            "GET",
            "https://adfs.contoso.test/adfs/ls/?wa&wtrealm",
            200,
            &["MSISAuth"],
            vec![],
        ),
        jar(
            Point::Reopened,
            vec![
                msis_auth("adfs.contoso.test", true),
                msis_auth("crm.contoso.test", true),
            ],
        ),
    ];
    crate::observe::timeline::mark_auth_sent(&mut timeline);
    ScenarioRecord {
        context,
        steps: vec![
            step("Given alice is signed in to CRM", StepOutcome::Passed),
            step(
                "When she signs out through the profile menu",
                StepOutcome::Passed,
            ),
            step(
                "Then the cookies left match the snapshot",
                StepOutcome::Failed,
            ),
            step(
                "And opening CRM again asks for her credentials",
                StepOutcome::NotRun,
            ),
        ],
        timeline,
        timeline_gaps: vec!["bob: the browser is a process of its own".into()],
        screenshots: vec![Screenshot {
            caption: "alice's browser as the scenario ended".into(),
            png: base64::Engine::decode(&base64::engine::general_purpose::STANDARD, PNG_1X1)
                .unwrap(),
        }],
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

#[test]
fn html_writer() {
    assert_golden("html", &html(&findings()));
    assert_golden("html-interrupted", &html(&interrupted()));
}

/// The HTML report shows no value of a cookie the timeline saw set, and escapes what it shows.
#[test]
fn html_shows_no_cookie_value_and_escapes() {
    let page = html(&findings());
    assert!(!page.contains("VALUE-NEVER-SHOWN"));
    for bad in ["<match>", "a & b"] {
        assert!(!page.contains(bad), "unescaped {bad:?}");
    }
    assert!(page.contains("&lt;match&gt;"));
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
