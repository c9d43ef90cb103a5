//! What a run found, written for people and machines: the findings ([`findings`]) and their
//! writers, console ([`console`]), JSON ([`json`]) and JUnit ([`junit`]), put on disk whole
//! ([`files`]); the progress line, which step failed, and the artifacts of a failed scenario.
//! Typed values reach this layer; strings are made here.

pub mod artifacts;
pub mod compare;
pub mod console;
pub mod files;
pub mod findings;
pub mod html;
pub mod json;
pub mod junit;
pub mod progress;
pub mod step_log;

pub use console::console;
pub use files::{
    ReportPaths, ReportsLock, check_writable, set_in_flight, write_file, write_interrupted,
};
pub use findings::{
    Collector, ExitCode, Findings, KnobsReached, NotApplicable, RunCost, ScenarioError,
    ScenarioRecord, ScenarioTiming, Screenshot, StepOutcome, StepRecord, redact_findings,
    redact_hosts,
};
pub use html::html;
pub use json::json;
pub use junit::junit;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::target::PassMode;
    use crate::judge::{Expected, Outcome, RuleId, Verdict, VerdictContext};

    fn verdict(passed: bool) -> Verdict {
        Verdict {
            rule: RuleId::ReplayRefused,
            requirements: vec!["WSTG-SESS-06".into(), "ASVS-v5.0.0-7.4.1".into()],
            expected: Expected(vec![Outcome::Refused]),
            observed: if passed {
                Outcome::Refused
            } else {
                Outcome::Accepted
            },
            passed,
            evidence: vec!["GET https://crm/x?a=1&b=2 -> 200".into()],
            detail: None,
            why: None,
            context: VerdictContext {
                feature: "Sign Out".into(),
                scenario: "S <1>".into(),
                mode: PassMode::default(),
                browser: "chromium".into(),
                target: "embedded-ifd".into(),
            },
            likely_cause: None,
            fix: Vec::new(),
        }
    }

    /// The policy's reason for a rule (its `why:`) is printed where the rule is violated, for
    /// whoever reads the failure; a rule that held needs no reason.
    #[test]
    fn the_policys_reason_is_shown_with_a_violation_only() {
        let why = "a session ended by Sign Out must be ended on the server";
        let shown = |passed| {
            Verdict {
                why: Some(why.into()),
                ..verdict(passed)
            }
            .to_string()
        };
        let violated = shown(false);
        assert!(
            violated.starts_with("FAIL sign-out.replay-refused [WSTG-SESS-06")
                && violated.contains("expected refused, observed accepted")
                && violated.contains(&format!("-> 200; policy: {why}")),
            "{violated}"
        );
        let held = shown(true);
        assert!(
            held.starts_with("PASS ") && !held.contains("policy:"),
            "{held}"
        );
    }

    #[test]
    fn exit_codes_follow_the_contract() {
        let mut f = Findings::default();
        assert_eq!(
            f.exit_code(),
            ExitCode::NotJudged,
            "nothing judged is not a pass"
        );
        f.verdicts.push(verdict(true));
        assert_eq!(f.exit_code(), ExitCode::Held);
        f.errors.push(ScenarioError {
            context: VerdictContext::default(),
            step: "s".into(),
            message: "m".into(),
        });
        assert_eq!(f.exit_code(), ExitCode::NotJudged);
        f.verdicts.push(verdict(false));
        assert_eq!(f.exit_code(), ExitCode::Violated);
    }

    #[test]
    fn an_interrupted_run_is_marked_in_both_reports() {
        let mut f = Findings {
            incomplete: true,
            ..Default::default()
        };
        let xml = junit(&f);
        assert!(
            xml.contains("<property name=\"incomplete\" value=\"true\"/>"),
            "{xml}"
        );
        f.verdicts.push(verdict(true));
        assert!(junit(&f).contains("name=\"incomplete\""));
        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(json["incomplete"], serde_json::json!(true));
    }

    #[test]
    fn check_writable_names_a_missing_folder_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let e = check_writable(&dir.path().join("nope/r.json")).unwrap_err();
        assert!(e.contains("does not exist"), "{e}");
        assert!(
            check_writable(dir.path())
                .unwrap_err()
                .contains("is a folder")
        );
        check_writable(&dir.path().join("r.json")).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    /// `--redact-hosts`: every host in every report is one `host-N.example`, the same everywhere
    /// (a URL in the evidence, a hop, a cookie's domain), a parent domain is replaced too, and
    /// screenshots are left out.
    #[test]
    fn redact_hosts_replaces_each_host_consistently_everywhere() {
        use crate::engine::recorder::TrailHop;
        use crate::observe::timeline::TimelineEvent;
        let mut v = verdict(false);
        v.evidence = vec![
            "GET https://crm.contoso.test/x -> 200; MSISAuth@adfs.contoso.test; cut: crm.contoso.t..."
                .into(),
        ];
        let mut record = ScenarioRecord::new(v.context.clone());
        record.timeline.push(TimelineEvent::Request {
            person: "alice".into(),
            hop: TrailHop {
                method: "GET".into(),
                url: "https://adfs.contoso.test/adfs/ls/?wa".into(),
                host: "adfs.contoso.test".into(),
                status: Some(200),
                failed: false,
                cookies_sent: None,
                set_cookies: vec![
                    crate::engine::recorder::SetCookie::parse("a=b; Domain=.contoso.test").unwrap(),
                ],
            },
            sent_auth: false,
        });
        record.screenshots.push(Screenshot {
            caption: "c".into(),
            png: vec![1, 2, 3],
        });
        let f = redact_hosts(Findings {
            verdicts: vec![v],
            scenarios: vec![record],
            ..Default::default()
        });
        let all = format!("{}{}{}", json(&f), junit(&f), html(&f));
        assert!(!all.contains("contoso"), "{all}");
        assert!(f.scenarios[0].screenshots.is_empty());
        let evidence = &f.verdicts[0].evidence[0];
        let TimelineEvent::Request { hop, .. } = &f.scenarios[0].timeline[0] else {
            unreachable!()
        };
        // adfs.contoso.test is one alias in the evidence and in the hop.
        assert!(
            evidence.contains(&format!("MSISAuth@{}", hop.host)),
            "{evidence} / {}",
            hop.host
        );
        assert!(hop.url.starts_with(&format!("https://{}/", hop.host)));
        assert_ne!(
            hop.set_cookies[0].domain.as_deref(),
            Some(hop.host.as_str()),
            "the parent domain has an alias of its own"
        );
    }

    #[test]
    fn junit_has_a_case_per_verdict_with_ids_as_properties() {
        let f = Findings {
            verdicts: vec![verdict(true), verdict(false)],
            ..Default::default()
        };
        let xml = junit(&f);
        assert_eq!(xml.matches("<testcase ").count(), 2);
        assert!(xml.contains("tests=\"2\" failures=\"1\""));
        assert!(xml.contains("<property name=\"requirement\" value=\"ASVS-v5.0.0-7.4.1\"/>"));
        assert!(xml.contains("S &lt;1&gt; [ifd, chromium] sign-out.replay-refused"));
        assert!(xml.contains("a=1&amp;b=2"));
        assert!(xml.contains("type=\"policy-violation\""));
    }
}

#[cfg(test)]
mod golden;
