//! What must hold: the policy (`fixtures/policies/*.yaml`) and the judgement of observations.
//!
//! Steps record [`Observation`]s (facts, with evidence). The policy turns each into a [`Verdict`]:
//! the rule, its requirement ids, what was expected, what was observed, and the evidence.
//! Nothing else in the harness decides pass or fail.
//!
//! Every rule's name, description and possible outcomes live in one table,
//! [`RULES`](crate::judge::rules::RULES) ([`crate::judge::rules`]).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::yaml::{self, ConfigError};
use crate::judge::rules::{Outcome, RULES, RuleId};
use crate::judge::verdict::{Expected, Observation, Verdict, VerdictContext};

/// One rule of a policy file.
#[derive(Clone, Debug, Serialize)]
pub struct Rule {
    /// The outcomes that satisfy the rule (one, or several when the policy accepts either).
    pub expect: Vec<Outcome>,
    /// Requirement ids this rule checks, with their version (`ASVS-v5.0.0-7.4.1`, `WSTG-SESS-06`).
    pub requirements: Vec<String>,
    /// Why the policy expects this (shown with failures).
    pub why: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    expect: OneOrMany,
    requirements: Vec<String>,
    #[serde(default)]
    why: Option<String>,
}

/// `expect: refused` or `expect: [lax, strict]`. A number or `true` is taken as written, so the
/// rule's check can say which outcomes are valid instead of "did not match any variant".
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        fn scalar(v: &serde_yaml::Value) -> Option<String> {
            match v {
                serde_yaml::Value::String(s) => Some(s.clone()),
                serde_yaml::Value::Number(n) => Some(n.to_string()),
                serde_yaml::Value::Bool(b) => Some(b.to_string()),
                _ => None,
            }
        }
        let shape = "expect is an outcome (e.g. `expect: refused`) or a list of outcomes \
                     (e.g. `expect: [lax, strict]`)";
        match serde_yaml::Value::deserialize(d)? {
            serde_yaml::Value::Sequence(items) => items
                .iter()
                .map(|i| scalar(i).ok_or_else(|| D::Error::custom(shape)))
                .collect::<Result<Vec<_>, _>>()
                .map(OneOrMany::Many),
            v => scalar(&v)
                .map(OneOrMany::One)
                .ok_or_else(|| D::Error::custom(shape)),
        }
    }
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    name: String,
    #[serde(default)]
    description: Option<String>,
    rules: RulesMap,
}

/// The `rules:` mapping, validated entry by entry so an error points at the rule it is about.
struct RulesMap(BTreeMap<RuleId, Rule>);

impl<'de> Deserialize<'de> for RulesMap {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RulesMap;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping from rule names to {expect, requirements}")
            }
            // `rules:` with nothing under it: empty, refused by `Policy::load` with the rule list.
            fn visit_unit<E: serde::de::Error>(self) -> Result<RulesMap, E> {
                Ok(RulesMap(BTreeMap::new()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RulesMap, A::Error> {
                use serde::de::Error;
                let mut rules = BTreeMap::new();
                while let Some(id) = map.next_key::<RuleId>()? {
                    let raw: RawRule = map.next_value()?;
                    let written = raw.expect.into_vec();
                    if written.is_empty() {
                        return Err(A::Error::custom(format!(
                            "key `{id}`: expect needs at least one outcome; valid: {}",
                            id.outcome_names()
                        )));
                    }
                    let mut expect = Vec::new();
                    for e in &written {
                        match Outcome::parse(e).filter(|o| id.outcomes().contains(o)) {
                            Some(o) => expect.push(o),
                            None => {
                                return Err(A::Error::custom(format!(
                                    "key `{id}`: expect `{e}` is not an outcome of this rule; valid: {}",
                                    id.outcome_names()
                                )));
                            }
                        }
                    }
                    if raw.requirements.is_empty() {
                        return Err(A::Error::custom(format!(
                            "key `{id}`: list the requirement ids this rule checks (e.g. WSTG-SESS-06)"
                        )));
                    }
                    if let Some(bad) = raw.requirements.iter().find(|r| !is_requirement_id(r)) {
                        return Err(A::Error::custom(format!(
                            "key `{id}`: `{bad}` is not a requirement id; write ASVS-v<version>-<n.n.n> or WSTG-<AREA>-<nn>"
                        )));
                    }
                    if rules.contains_key(&id) {
                        return Err(A::Error::custom(format!(
                            "key `{id}`: the rule appears twice"
                        )));
                    }
                    rules.insert(
                        id,
                        Rule {
                            expect,
                            requirements: raw.requirements,
                            why: raw.why,
                        },
                    );
                }
                Ok(RulesMap(rules))
            }
        }
        d.deserialize_map(Visitor)
    }
}

/// `ASVS-v5.0.0-7.4.1`, `ASVS-v4.0.3-3.3.1`, `WSTG-SESS-06`.
fn is_requirement_id(s: &str) -> bool {
    let asvs = regex::Regex::new(r"^ASVS-v\d+\.\d+\.\d+-\d+\.\d+\.\d+$").expect("static regex");
    let wstg = regex::Regex::new(r"^WSTG-[A-Z]{4}-\d{2}$").expect("static regex");
    asvs.is_match(s) || wstg.is_match(s)
}

/// A loaded policy.
#[derive(Clone, Debug)]
pub struct Policy {
    /// The policy's name, for reports.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// The file it came from.
    pub file: PathBuf,
    rules: BTreeMap<RuleId, Rule>,
}

impl Policy {
    /// Reads and validates a policy file.
    pub fn load(path: &Path) -> Result<Policy, ConfigError> {
        let policy = Policy::from_raw(yaml::load(path)?, path);
        if policy.rules.is_empty() {
            // Nothing would be judged: every run would end "not judged" with nothing to show.
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let line = text
                .lines()
                .position(|l| l.trim_start().starts_with("rules:"))
                .map(|l| l + 1);
            return Err(ConfigError {
                line,
                key: Some("rules".into()),
                ..ConfigError::file(
                    path,
                    format!(
                        "the policy has no rules, so it would judge nothing; list at least one \
                         (e.g. `sign-out.replay-refused: {{expect: refused, requirements: \
                         [WSTG-SESS-06]}}`); rules: {}",
                        RULES.iter().map(|r| r.name).collect::<Vec<_>>().join(", ")
                    ),
                )
            });
        }
        Ok(policy)
    }

    fn from_raw(raw: RawPolicy, file: &Path) -> Policy {
        Policy {
            name: raw.name,
            description: raw.description,
            file: file.to_path_buf(),
            rules: raw.rules.0,
        }
    }

    /// The rule `id`, if the policy has it (a rule the policy leaves out is not judged).
    pub fn rule(&self, id: RuleId) -> Option<&Rule> {
        self.rules.get(&id)
    }

    /// Every rule the policy judges.
    pub fn rules(&self) -> impl Iterator<Item = (RuleId, &Rule)> {
        self.rules.iter().map(|(id, r)| (*id, r))
    }

    /// Turns an observation into a verdict. `Ok(None)` when the policy does not judge that rule;
    /// an error when the outcome is not one of the rule's (a harness bug, reported as "could not
    /// judge", never as a verdict either way).
    pub fn judge(
        &self,
        observation: &Observation,
        context: &VerdictContext,
    ) -> Result<Option<Verdict>, String> {
        let id = observation.rule;
        if !id.outcomes().contains(&observation.outcome) {
            return Err(format!(
                "internal error: `{}` is not an outcome of {id} (valid: {})",
                observation.outcome,
                id.outcome_names()
            ));
        }
        let Some(rule) = self.rule(id) else {
            return Ok(None);
        };
        let passed = rule.expect.contains(&observation.outcome);
        let remedy =
            (!passed).then(|| crate::judge::remedy::remedy_of(observation, context.mode.mode));
        Ok(Some(Verdict {
            rule: id,
            requirements: rule.requirements.clone(),
            expected: Expected(rule.expect.clone()),
            observed: observation.outcome,
            passed,
            evidence: observation.evidence.clone(),
            detail: observation.detail.clone(),
            why: rule.why.clone(),
            context: context.clone(),
            likely_cause: remedy.as_ref().map(|r| r.likely_cause.clone()),
            fix: remedy.map(|r| r.fix).unwrap_or_default(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::target::{AuthMode, PassMode, Ui};

    fn parse(text: &str) -> Result<RawPolicy, ConfigError> {
        yaml::parse(Path::new("p.yaml"), text)
    }

    /// The back button's cause follows from where the signed-in page came from: from the server,
    /// the session survived sign-out (the replay's fixes); from a cache, the page was stored.
    #[test]
    fn the_back_buttons_cause_follows_from_where_the_page_came_from() {
        use crate::observe::page::PageOrigin;
        let policy = Policy::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/policies/default.yaml"),
        )
        .unwrap();
        let context = VerdictContext::default();
        let judged = |origin| {
            policy
                .judge(
                    &Observation::new(RuleId::BackButtonData, Outcome::DataShown)
                        .page_origin(origin),
                    &context,
                )
                .unwrap()
                .unwrap()
        };
        let live = judged(Some(PageOrigin::Network));
        assert!(
            live.likely_cause
                .as_deref()
                .unwrap()
                .contains("session survived sign-out"),
            "{live:?}"
        );
        assert!(
            live.fix
                .iter()
                .any(|f| f.contains("WSFedNonceCookieEnabled")),
            "{live:?}"
        );
        for cached in [
            Some(PageOrigin::HttpCache),
            Some(PageOrigin::BackForwardCache),
            None,
        ] {
            let v = judged(cached);
            assert!(
                v.likely_cause
                    .as_deref()
                    .unwrap()
                    .contains("stored by the browser"),
                "{v:?}"
            );
        }
    }

    /// A violation reaches the user with its likely cause and a fix whatever the mode and web
    /// client: the remedy is chosen from the typed mode, so the Unified Interface's label
    /// (`ifd-uci`) cannot lose it, as it did when the label was parsed back into a mode.
    #[test]
    fn every_violation_carries_a_cause_and_a_fix_in_every_mode_and_web_client() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for file in ["default", "strict"] {
            let policy =
                Policy::load(&root.join(format!("fixtures/policies/{file}.yaml"))).unwrap();
            for mode in AuthMode::ALL {
                for ui in [Ui::Classic, Ui::Uci] {
                    let context = VerdictContext {
                        mode: PassMode { mode, ui },
                        ..Default::default()
                    };
                    // Every rule of the policy is checked, none passed over.
                    let judged: Vec<RuleId> = RuleId::all()
                        .filter(|id| policy.rule(*id).is_some())
                        .collect();
                    let listed: Vec<RuleId> = policy.rules().map(|(id, _)| id).collect();
                    assert!(!judged.is_empty() && listed == judged, "{file}: {listed:?}");
                    for (id, rule) in policy.rules() {
                        for outcome in id.outcomes().iter().filter(|o| !rule.expect.contains(o)) {
                            let v = policy
                                .judge(&Observation::new(id, *outcome), &context)
                                .unwrap()
                                .unwrap();
                            assert!(!v.passed);
                            assert!(
                                v.likely_cause.is_some() && !v.fix.is_empty(),
                                "{file}: {id} observed {outcome} in {} has no cause or fix",
                                context.mode
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn unknown_rule_lists_the_known_ones() {
        let e = parse("name: x\nrules:\n  sign-out.everything:\n    expect: shown\n    requirements: [WSTG-SESS-06]\n")
            .err()
            .unwrap();
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.message.contains("sign-out.replay-refused"), "{e}");
    }

    #[test]
    fn expect_must_be_an_outcome_of_the_rule() {
        let e = parse("name: x\nrules:\n  sign-out.replay-refused:\n    expect: maybe\n    requirements: [WSTG-SESS-06]\n")
            .err()
            .unwrap();
        assert_eq!(e.key.as_deref(), Some("sign-out.replay-refused"));
        assert!(e.message.contains("refused, accepted"), "{e}");
        assert!(e.line.is_some());
    }

    #[test]
    fn a_number_for_expect_names_the_valid_outcomes() {
        let e = parse("name: x\nrules:\n  sign-out.replay-refused:\n    expect: 7\n    requirements: [WSTG-SESS-06]\n")
            .err()
            .unwrap();
        assert!(e.message.contains("expect `7` is not an outcome"), "{e}");
        assert!(e.message.contains("valid: "), "{e}");
        // `expect: true`, as if the rule were a switch: named as written, with the outcomes.
        let e = parse("name: x\nrules:\n  sign-out.replay-refused:\n    expect: true\n    requirements: [WSTG-SESS-06]\n")
            .err()
            .unwrap();
        assert!(e.message.contains("expect `true` is not an outcome"), "{e}");
        assert!(e.message.contains("refused, accepted"), "{e}");
        let e = parse("name: x\nrules:\n  sign-out.replay-refused:\n    expect: {a: 1}\n    requirements: [WSTG-SESS-06]\n")
            .err()
            .unwrap();
        assert!(e.message.contains("e.g. `expect: refused`"), "{e}");
    }

    #[test]
    fn a_policy_without_rules_is_refused() {
        for text in ["name: x\nrules: {}\n", "name: x\nrules:\n"] {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("p.yaml");
            std::fs::write(&file, text).unwrap();
            let e = Policy::load(&file).unwrap_err();
            assert_eq!(e.key.as_deref(), Some("rules"), "{e}");
            assert_eq!(e.line, Some(2), "the line of `rules:`: {e}");
            assert!(e.message.contains("sign-out.replay-refused"), "{e}");
        }
    }

    /// Rules written as a list (`- sign-out.replay-refused`) instead of a mapping: the error says
    /// what `rules:` holds.
    #[test]
    fn rules_written_as_a_list_are_refused_with_the_shape_they_need() {
        let e = parse("name: x\nrules:\n  - sign-out.replay-refused\n")
            .err()
            .unwrap();
        assert!(
            e.message
                .contains("a mapping from rule names to {expect, requirements}"),
            "{e}"
        );
    }

    #[test]
    fn expect_may_list_several_outcomes() {
        let raw = parse("name: x\nrules:\n  cookie.auth-samesite:\n    expect: [lax, strict]\n    requirements: [ASVS-v5.0.0-3.3.2]\n")
            .unwrap();
        let policy = Policy::from_raw(raw, Path::new("p.yaml"));
        let judge = |o: &str| {
            policy
                .judge(
                    &Observation::new(RuleId::CookieSameSite, Outcome::parse(o).unwrap()),
                    &VerdictContext::default(),
                )
                .unwrap()
                .unwrap()
        };
        assert!(judge("lax").passed && judge("strict").passed);
        let v = judge("unset");
        assert!(!v.passed);
        assert_eq!(v.expected.to_string(), "lax or strict");
        let e = parse("name: x\nrules:\n  cookie.auth-samesite:\n    expect: [lax, sometimes]\n    requirements: [ASVS-v5.0.0-3.3.2]\n")
            .err()
            .unwrap();
        assert!(e.message.contains("`sometimes`"), "{e}");
    }

    #[test]
    fn every_rule_has_a_name_that_parses_back() {
        let mut seen = std::collections::BTreeSet::new();
        for id in RuleId::all() {
            let parsed: RuleId = serde_yaml::from_str(id.name()).unwrap();
            assert_eq!(parsed, id);
            assert!(id.outcomes().len() >= 2, "{id}");
            assert!(seen.insert(id), "{id} has two rows in RULES");
        }
        assert_eq!(seen.len(), RULES.len());
        for (o, name) in Outcome::NAMES {
            assert_eq!(Outcome::parse(name), Some(*o));
            let yaml: Outcome = serde_yaml::from_str(name).unwrap();
            assert_eq!(yaml, *o, "serde and the table agree on {name}");
        }
    }

    #[test]
    fn requirement_ids_carry_their_version() {
        let e = parse("name: x\nrules:\n  sign-out.replay-refused:\n    expect: refused\n    requirements: [ASVS-7.4.1]\n")
            .err()
            .unwrap();
        assert!(e.message.contains("ASVS-v<version>"), "{e}");
    }

    #[test]
    fn judging_compares_the_outcome_and_keeps_ids_and_evidence() {
        let raw = parse(
            "name: x\nrules:\n  sign-out.replay-refused:\n    expect: refused\n    requirements: [WSTG-SESS-06, ASVS-v5.0.0-7.4.1]\n",
        )
        .unwrap();
        let policy = Policy::from_raw(raw, Path::new("p.yaml"));
        let obs = Observation::new(RuleId::ReplayRefused, Outcome::Accepted)
            .evidence("GET /WhoAmI -> 200");
        let v = policy
            .judge(&obs, &VerdictContext::default())
            .unwrap()
            .unwrap();
        assert!(!v.passed);
        assert!(
            v.to_string().contains("WSTG-SESS-06, ASVS-v5.0.0-7.4.1"),
            "{v}"
        );
        assert!(v.to_string().contains("GET /WhoAmI -> 200"));
        let ok = policy
            .judge(
                &Observation::new(RuleId::ReplayRefused, Outcome::Refused),
                &VerdictContext::default(),
            )
            .unwrap()
            .unwrap();
        assert!(ok.passed);
        assert!(
            policy
                .judge(
                    &Observation::new(RuleId::SignedOutPage, Outcome::Shown),
                    &VerdictContext::default()
                )
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn an_outcome_the_rule_does_not_have_is_an_error_not_a_verdict() {
        let raw = parse(
            "name: x\nrules:\n  sign-out.replay-refused:\n    expect: refused\n    requirements: [WSTG-SESS-06]\n",
        )
        .unwrap();
        let policy = Policy::from_raw(raw, Path::new("p.yaml"));
        let e = policy
            .judge(
                &Observation::new(RuleId::ReplayRefused, Outcome::Shown),
                &VerdictContext::default(),
            )
            .unwrap_err();
        assert!(e.contains("refused, accepted"), "{e}");
    }
}
