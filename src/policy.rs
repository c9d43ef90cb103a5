//! What must hold: the policy (`fixtures/policies/*.yaml`) and the judgement of observations.
//!
//! Steps record [`Observation`]s (facts, with evidence). The policy turns each into a [`Verdict`]:
//! the rule, its requirement ids, what was expected, what was observed, and the evidence.
//! Nothing else in the harness decides pass or fail.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{self, ConfigError};

/// The rules the harness knows how to observe. The policy file sets what each must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RuleId {
    /// After Sign Out the browser shows a signed-out page, not the application.
    #[serde(rename = "sign-out.signed-out-page")]
    SignedOutPage,
    /// After Sign Out no CRM authentication cookie is left in the browser.
    #[serde(rename = "sign-out.auth-cookies-removed")]
    AuthCookiesRemoved,
    /// After Sign Out the server refuses the cookies from before sign-out.
    #[serde(rename = "sign-out.replay-refused")]
    ReplayRefused,
    /// The cookies left after Sign Out are the reviewed ones (a snapshot).
    #[serde(rename = "sign-out.leftover-cookies")]
    LeftoverCookies,
    /// After CRM sign-out, opening CRM again asks for credentials (no silent re-login through AD FS).
    #[serde(rename = "sso.reauthentication")]
    SsoReauthentication,
    /// After Sign Out, Back and reload show no CRM data.
    #[serde(rename = "back-button.data-after-sign-out")]
    BackButtonData,
    /// Authenticated pages forbid storing (Cache-Control: no-store).
    #[serde(rename = "back-button.pages-not-stored")]
    PagesNotStored,
    /// After Sign Out in one tab, the other tab is signed out at its next action.
    #[serde(rename = "tabs.other-tab-after-sign-out")]
    OtherTabAfterSignOut,
    /// Closing one tab (not the last) leaves the session as the policy says.
    #[serde(rename = "tabs.session-after-tab-close")]
    SessionAfterTabClose,
    /// After closing the browser and reopening it on the same profile, the session is gone.
    #[serde(rename = "browser-close.session-after-reopen")]
    SessionAfterReopen,
    /// With "continue where you left off", the session after reopening is as the policy says.
    #[serde(rename = "browser-close.session-after-restore")]
    SessionAfterRestore,
    /// After Sign Out on one device, the other device's session is as the policy says.
    #[serde(rename = "devices.other-device-after-sign-out")]
    OtherDeviceAfterSignOut,
    /// The administrator's "end all sessions" ends the sessions on every device.
    #[serde(rename = "devices.admin-end-all")]
    AdminEndsAllSessions,
    /// CRM 4.0: after Log Out and reopening the browser, a fresh login is required.
    #[serde(rename = "fba.fresh-login-required")]
    FbaFreshLogin,
    /// With a Kerberos ticket the browser signs in with no prompt.
    #[serde(rename = "iwa.silent-sign-in")]
    IwaSilentSignIn,
    /// After Sign Out under Windows authentication, opening CRM again signs the user in silently.
    #[serde(rename = "iwa.relogin-after-sign-out")]
    IwaReloginAfterSignOut,
    /// Without a Kerberos ticket the server answers 401 and opens no session.
    #[serde(rename = "iwa.no-ticket-refused")]
    IwaNoTicketRefused,
    /// Inactivity ends the session at the configured idle timeout.
    #[serde(rename = "timeout.idle")]
    IdleTimeout,
    /// The session ends at the configured maximum session length, active or not.
    #[serde(rename = "timeout.absolute")]
    AbsoluteTimeout,
    /// A reminder is shown before the session expires.
    #[serde(rename = "timeout.reminder")]
    TimeoutReminder,
    /// Authentication cookies carry Secure.
    #[serde(rename = "cookie.auth-secure")]
    CookieSecure,
    /// Authentication cookies carry HttpOnly.
    #[serde(rename = "cookie.auth-httponly")]
    CookieHttpOnly,
    /// Authentication cookies carry the SameSite the policy asks for.
    #[serde(rename = "cookie.auth-samesite")]
    CookieSameSite,
    /// Authentication cookies are session cookies (they die with the browser).
    #[serde(rename = "cookie.auth-lifetime")]
    CookieLifetime,
}

impl RuleId {
    /// Every rule, in report order.
    pub const ALL: [RuleId; 24] = [
        RuleId::SignedOutPage,
        RuleId::AuthCookiesRemoved,
        RuleId::ReplayRefused,
        RuleId::LeftoverCookies,
        RuleId::SsoReauthentication,
        RuleId::BackButtonData,
        RuleId::PagesNotStored,
        RuleId::OtherTabAfterSignOut,
        RuleId::SessionAfterTabClose,
        RuleId::SessionAfterReopen,
        RuleId::SessionAfterRestore,
        RuleId::OtherDeviceAfterSignOut,
        RuleId::AdminEndsAllSessions,
        RuleId::FbaFreshLogin,
        RuleId::IwaSilentSignIn,
        RuleId::IwaReloginAfterSignOut,
        RuleId::IwaNoTicketRefused,
        RuleId::IdleTimeout,
        RuleId::AbsoluteTimeout,
        RuleId::TimeoutReminder,
        RuleId::CookieSecure,
        RuleId::CookieHttpOnly,
        RuleId::CookieSameSite,
        RuleId::CookieLifetime,
    ];

    /// The rule's name as written in policies and reports.
    pub fn name(self) -> &'static str {
        match self {
            RuleId::SignedOutPage => "sign-out.signed-out-page",
            RuleId::AuthCookiesRemoved => "sign-out.auth-cookies-removed",
            RuleId::ReplayRefused => "sign-out.replay-refused",
            RuleId::LeftoverCookies => "sign-out.leftover-cookies",
            RuleId::SsoReauthentication => "sso.reauthentication",
            RuleId::BackButtonData => "back-button.data-after-sign-out",
            RuleId::PagesNotStored => "back-button.pages-not-stored",
            RuleId::OtherTabAfterSignOut => "tabs.other-tab-after-sign-out",
            RuleId::SessionAfterTabClose => "tabs.session-after-tab-close",
            RuleId::SessionAfterReopen => "browser-close.session-after-reopen",
            RuleId::SessionAfterRestore => "browser-close.session-after-restore",
            RuleId::OtherDeviceAfterSignOut => "devices.other-device-after-sign-out",
            RuleId::AdminEndsAllSessions => "devices.admin-end-all",
            RuleId::FbaFreshLogin => "fba.fresh-login-required",
            RuleId::IwaSilentSignIn => "iwa.silent-sign-in",
            RuleId::IwaReloginAfterSignOut => "iwa.relogin-after-sign-out",
            RuleId::IwaNoTicketRefused => "iwa.no-ticket-refused",
            RuleId::IdleTimeout => "timeout.idle",
            RuleId::AbsoluteTimeout => "timeout.absolute",
            RuleId::TimeoutReminder => "timeout.reminder",
            RuleId::CookieSecure => "cookie.auth-secure",
            RuleId::CookieHttpOnly => "cookie.auth-httponly",
            RuleId::CookieSameSite => "cookie.auth-samesite",
            RuleId::CookieLifetime => "cookie.auth-lifetime",
        }
    }

    /// What the rule checks, in a sentence.
    pub fn description(self) -> &'static str {
        match self {
            RuleId::SignedOutPage => {
                "After Sign Out the browser shows a signed-out page, not the application."
            }
            RuleId::AuthCookiesRemoved => {
                "After Sign Out no CRM authentication cookie is left in the browser."
            }
            RuleId::ReplayRefused => {
                "After Sign Out the server refuses the cookies from before sign-out."
            }
            RuleId::LeftoverCookies => {
                "The cookies left after Sign Out are the reviewed ones (a snapshot)."
            }
            RuleId::SsoReauthentication => {
                "After CRM sign-out, opening CRM again asks for credentials (no silent re-login through AD FS)."
            }
            RuleId::BackButtonData => "After Sign Out, Back and reload show no CRM data.",
            RuleId::PagesNotStored => {
                "Authenticated pages forbid storing (Cache-Control: no-store)."
            }
            RuleId::OtherTabAfterSignOut => {
                "After Sign Out in one tab, the other tab is signed out at its next action."
            }
            RuleId::SessionAfterTabClose => {
                "Closing one tab (not the last) leaves the session as the policy says."
            }
            RuleId::SessionAfterReopen => {
                "After closing the browser and reopening it on the same profile, the session is gone."
            }
            RuleId::SessionAfterRestore => {
                "With \"continue where you left off\", the session after reopening is as the policy says."
            }
            RuleId::OtherDeviceAfterSignOut => {
                "After Sign Out on one device, the other device's session is as the policy says."
            }
            RuleId::AdminEndsAllSessions => {
                "The administrator's \"end all sessions\" ends the sessions on every device."
            }
            RuleId::FbaFreshLogin => {
                "CRM 4.0: after Log Out and reopening the browser, a fresh login is required."
            }
            RuleId::IwaSilentSignIn => {
                "With a Kerberos ticket the browser signs in with no prompt."
            }
            RuleId::IwaReloginAfterSignOut => {
                "After Sign Out under Windows authentication, opening CRM again signs the user in silently."
            }
            RuleId::IwaNoTicketRefused => {
                "Without a Kerberos ticket the server answers 401 and opens no session."
            }
            RuleId::IdleTimeout => "Inactivity ends the session at the configured idle timeout.",
            RuleId::AbsoluteTimeout => {
                "The session ends at the configured maximum session length, active or not."
            }
            RuleId::TimeoutReminder => "A reminder is shown before the session expires.",
            RuleId::CookieSecure => "Authentication cookies carry Secure.",
            RuleId::CookieHttpOnly => "Authentication cookies carry HttpOnly.",
            RuleId::CookieSameSite => {
                "Authentication cookies carry the SameSite the policy asks for."
            }
            RuleId::CookieLifetime => {
                "Authentication cookies are session cookies (they die with the browser)."
            }
        }
    }

    /// The outcomes an observation of this rule can have; a policy expects one or more of them.
    pub fn outcomes(self) -> &'static [&'static str] {
        match self {
            RuleId::SignedOutPage => &["shown", "not-shown"],
            RuleId::AuthCookiesRemoved => &["removed", "left"],
            RuleId::ReplayRefused => &["refused", "accepted"],
            RuleId::LeftoverCookies => &["match-snapshot", "differ"],
            RuleId::SsoReauthentication => &["credentials-asked", "silent-sign-in"],
            RuleId::BackButtonData => &["no-data", "data-shown"],
            RuleId::PagesNotStored => &["no-store", "storable"],
            RuleId::OtherTabAfterSignOut => &["signed-out", "signed-in"],
            RuleId::SessionAfterTabClose => &["alive", "ended"],
            RuleId::SessionAfterReopen => &["ended", "survives"],
            RuleId::SessionAfterRestore => &["ended", "survives"],
            RuleId::OtherDeviceAfterSignOut => &["signed-in", "signed-out"],
            RuleId::AdminEndsAllSessions => &["signed-out", "signed-in"],
            RuleId::FbaFreshLogin => &["credentials-asked", "signed-in"],
            RuleId::IwaSilentSignIn => &["silent", "prompted"],
            RuleId::IwaReloginAfterSignOut => &["silent-sign-in", "credentials-asked"],
            RuleId::IwaNoTicketRefused => &["refused", "signed-in"],
            RuleId::IdleTimeout => &["enforced", "early", "not-enforced"],
            RuleId::AbsoluteTimeout => &["enforced", "early", "not-enforced"],
            RuleId::TimeoutReminder => &["shown", "not-shown"],
            RuleId::CookieSecure => &["set", "missing"],
            RuleId::CookieHttpOnly => &["set", "missing"],
            RuleId::CookieSameSite => &["strict", "lax", "none", "unset"],
            RuleId::CookieLifetime => &["session", "persistent"],
        }
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One rule of a policy file.
#[derive(Clone, Debug, Serialize)]
pub struct Rule {
    /// The outcomes that satisfy the rule (one, or several when the policy accepts either).
    pub expect: Vec<String>,
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

/// `expect: refused` or `expect: [lax, strict]`.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
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
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RulesMap, A::Error> {
                use serde::de::Error;
                let mut rules = BTreeMap::new();
                while let Some(id) = map.next_key::<RuleId>()? {
                    let raw: RawRule = map.next_value()?;
                    let expect = raw.expect.into_vec();
                    if expect.is_empty() {
                        return Err(A::Error::custom(format!(
                            "key `{id}`: expect needs at least one outcome; valid: {}",
                            id.outcomes().join(", ")
                        )));
                    }
                    if let Some(bad) = expect.iter().find(|e| !id.outcomes().contains(&e.as_str()))
                    {
                        return Err(A::Error::custom(format!(
                            "key `{id}`: expect `{bad}` is not an outcome of this rule; valid: {}",
                            id.outcomes().join(", ")
                        )));
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
        Ok(Policy::from_raw(config::load(path)?, path))
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

    /// Turns an observation into a verdict. `None` when the policy does not judge that rule.
    pub fn judge(&self, observation: &Observation, context: &VerdictContext) -> Option<Verdict> {
        let rule = self.rule(observation.rule)?;
        Some(Verdict {
            rule: observation.rule,
            requirements: rule.requirements.clone(),
            expected: rule.expect.join(" or "),
            observed: observation.outcome.clone(),
            passed: rule.expect.contains(&observation.outcome),
            evidence: observation.evidence.clone(),
            detail: observation.detail.clone(),
            why: rule.why.clone(),
            context: context.clone(),
        })
    }
}

/// A fact a step saw, as an outcome of one rule plus the evidence for it.
///
/// Evidence is URLs, status codes and cookie names; never cookie values or passwords.
#[derive(Clone, Debug, Serialize)]
pub struct Observation {
    /// The rule this observation answers.
    pub rule: RuleId,
    /// The outcome, one of [`RuleId::outcomes`].
    pub outcome: String,
    /// Short facts that support the outcome.
    pub evidence: Vec<String>,
    /// A longer text for the report (a snapshot diff), if any.
    pub detail: Option<String>,
}

impl Observation {
    /// An observation of `rule` with `outcome`.
    pub fn new(rule: RuleId, outcome: &str) -> Observation {
        debug_assert!(rule.outcomes().contains(&outcome), "{rule}: {outcome}");
        Observation {
            rule,
            outcome: outcome.to_string(),
            evidence: Vec::new(),
            detail: None,
        }
    }

    /// Adds one piece of evidence.
    pub fn evidence(mut self, e: impl Into<String>) -> Observation {
        self.evidence.push(e.into());
        self
    }

    /// Adds a detail text (a diff).
    pub fn detail(mut self, d: impl Into<String>) -> Observation {
        self.detail = Some(d.into());
        self
    }
}

/// Where a verdict was reached: which scenario, against what.
#[derive(Clone, Debug, Default, Serialize)]
pub struct VerdictContext {
    /// Feature name.
    pub feature: String,
    /// Scenario name.
    pub scenario: String,
    /// Authentication mode.
    pub mode: String,
    /// Browser.
    pub browser: String,
    /// Target name.
    pub target: String,
}

/// A judged observation.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    /// The rule.
    pub rule: RuleId,
    /// Its requirement ids.
    pub requirements: Vec<String>,
    /// The outcome the policy expects.
    pub expected: String,
    /// The outcome observed.
    pub observed: String,
    /// Whether they agree.
    pub passed: bool,
    /// Evidence for the observed outcome.
    pub evidence: Vec<String>,
    /// A longer text (a snapshot diff).
    pub detail: Option<String>,
    /// The policy's reason.
    pub why: Option<String>,
    /// Where it was reached.
    pub context: VerdictContext,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} [{}] ({}/{}) \"{}\": expected {}, observed {}",
            if self.passed { "PASS" } else { "FAIL" },
            self.rule,
            self.requirements.join(", "),
            self.context.mode,
            self.context.browser,
            self.context.scenario,
            self.expected,
            self.observed,
        )?;
        if !self.evidence.is_empty() {
            write!(f, "; evidence: {}", self.evidence.join("; "))?;
        }
        if !self.passed
            && let Some(why) = &self.why
        {
            write!(f, "; policy: {why}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RawPolicy, ConfigError> {
        config::parse(Path::new("p.yaml"), text)
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
    fn expect_may_list_several_outcomes() {
        let raw = parse("name: x\nrules:\n  cookie.auth-samesite:\n    expect: [lax, strict]\n    requirements: [ASVS-v5.0.0-3.3.2]\n")
            .unwrap();
        let policy = Policy::from_raw(raw, Path::new("p.yaml"));
        let judge = |o: &str| {
            policy
                .judge(
                    &Observation::new(RuleId::CookieSameSite, o),
                    &VerdictContext::default(),
                )
                .unwrap()
        };
        assert!(judge("lax").passed && judge("strict").passed);
        let v = judge("unset");
        assert!(!v.passed);
        assert_eq!(v.expected, "lax or strict");
        let e = parse("name: x\nrules:\n  cookie.auth-samesite:\n    expect: [lax, sometimes]\n    requirements: [ASVS-v5.0.0-3.3.2]\n")
            .err()
            .unwrap();
        assert!(e.message.contains("`sometimes`"), "{e}");
    }

    #[test]
    fn every_rule_has_a_name_that_parses_back() {
        for id in RuleId::ALL {
            let parsed: RuleId = serde_yaml::from_str(id.name()).unwrap();
            assert_eq!(parsed, id);
            assert!(id.outcomes().len() >= 2, "{id}");
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
        let obs =
            Observation::new(RuleId::ReplayRefused, "accepted").evidence("GET /WhoAmI -> 200");
        let v = policy.judge(&obs, &VerdictContext::default()).unwrap();
        assert!(!v.passed);
        assert!(
            v.to_string().contains("WSTG-SESS-06, ASVS-v5.0.0-7.4.1"),
            "{v}"
        );
        assert!(v.to_string().contains("GET /WhoAmI -> 200"));
        let ok = policy
            .judge(
                &Observation::new(RuleId::ReplayRefused, "refused"),
                &VerdictContext::default(),
            )
            .unwrap();
        assert!(ok.passed);
        assert!(
            policy
                .judge(
                    &Observation::new(RuleId::SignedOutPage, "shown"),
                    &VerdictContext::default()
                )
                .is_none()
        );
    }
}
