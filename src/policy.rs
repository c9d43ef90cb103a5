//! What must hold: the policy (`fixtures/policies/*.yaml`) and the judgement of observations.
//!
//! Steps record [`Observation`]s (facts, with evidence). The policy turns each into a [`Verdict`]:
//! the rule, its requirement ids, what was expected, what was observed, and the evidence.
//! Nothing else in the harness decides pass or fail.
//!
//! Every rule's name, description and possible outcomes live in one table, [`RULES`]; outcomes
//! are the typed [`Outcome`], so a step cannot observe a word that no rule knows.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{self, ConfigError};

/// What a step can observe; each rule allows a few of these (see [`RULES`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// A page or dialog is shown.
    Shown,
    /// It is not shown.
    NotShown,
    /// No live credential is left.
    Removed,
    /// A live credential is left.
    Left,
    /// The server refuses.
    Refused,
    /// The server accepts.
    Accepted,
    /// Equal to the reviewed snapshot.
    MatchSnapshot,
    /// Different from the reviewed snapshot.
    Differ,
    /// The identity provider asks for credentials.
    CredentialsAsked,
    /// The user is signed in without being asked.
    SilentSignIn,
    /// No application data is shown.
    NoData,
    /// Application data is shown.
    DataShown,
    /// Pages carry `Cache-Control: no-store`.
    NoStore,
    /// Pages may be stored.
    Storable,
    /// Signed out.
    SignedOut,
    /// Signed in.
    SignedIn,
    /// The session is alive.
    Alive,
    /// The session has ended.
    Ended,
    /// The session survives.
    Survives,
    /// No prompt.
    Silent,
    /// A prompt.
    Prompted,
    /// The timeout is enforced at the configured value.
    Enforced,
    /// The session ends before the configured value.
    Early,
    /// The session outlives the configured value.
    NotEnforced,
    /// A cookie flag is set.
    Set,
    /// A cookie flag is missing.
    Missing,
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=Lax`.
    Lax,
    /// `SameSite=None`.
    None,
    /// No `SameSite` attribute.
    Unset,
    /// A session cookie.
    Session,
    /// A persistent cookie.
    Persistent,
    /// Nothing secret is present.
    Absent,
    /// Something secret is present.
    Present,
    /// A reply address on another host was not followed.
    NotFollowed,
    /// A reply address on another host was followed (an open redirect).
    Followed,
    /// Signed in again by a new Windows authentication (Negotiate) exchange at AD FS.
    WindowsAuthentication,
    /// Signed in again by an AD FS single sign-on session that outlived sign-out.
    AdfsSession,
}

impl Outcome {
    /// The outcome as written in policies and reports (`not-shown`).
    pub fn name(self) -> &'static str {
        OUTCOME_NAMES
            .iter()
            .find(|(o, _)| *o == self)
            .map(|(_, n)| *n)
            .unwrap_or("?")
    }

    /// The outcome written `name`, if there is one.
    pub fn parse(name: &str) -> Option<Outcome> {
        OUTCOME_NAMES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(o, _)| *o)
    }
}

const OUTCOME_NAMES: &[(Outcome, &str)] = &[
    (Outcome::Shown, "shown"),
    (Outcome::NotShown, "not-shown"),
    (Outcome::Removed, "removed"),
    (Outcome::Left, "left"),
    (Outcome::Refused, "refused"),
    (Outcome::Accepted, "accepted"),
    (Outcome::MatchSnapshot, "match-snapshot"),
    (Outcome::Differ, "differ"),
    (Outcome::CredentialsAsked, "credentials-asked"),
    (Outcome::SilentSignIn, "silent-sign-in"),
    (Outcome::NoData, "no-data"),
    (Outcome::DataShown, "data-shown"),
    (Outcome::NoStore, "no-store"),
    (Outcome::Storable, "storable"),
    (Outcome::SignedOut, "signed-out"),
    (Outcome::SignedIn, "signed-in"),
    (Outcome::Alive, "alive"),
    (Outcome::Ended, "ended"),
    (Outcome::Survives, "survives"),
    (Outcome::Silent, "silent"),
    (Outcome::Prompted, "prompted"),
    (Outcome::Enforced, "enforced"),
    (Outcome::Early, "early"),
    (Outcome::NotEnforced, "not-enforced"),
    (Outcome::Set, "set"),
    (Outcome::Missing, "missing"),
    (Outcome::Strict, "strict"),
    (Outcome::Lax, "lax"),
    (Outcome::None, "none"),
    (Outcome::NotFollowed, "not-followed"),
    (Outcome::Followed, "followed"),
    (Outcome::Unset, "unset"),
    (Outcome::Session, "session"),
    (Outcome::Persistent, "persistent"),
    (Outcome::Absent, "absent"),
    (Outcome::Present, "present"),
    (Outcome::WindowsAuthentication, "windows-authentication"),
    (Outcome::AdfsSession, "adfs-session"),
];

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The rules the harness knows how to observe. The policy file sets what each must be; their
/// names, descriptions and outcomes are in [`RULES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[allow(missing_docs)] // each variant is described in RULES
pub enum RuleId {
    SignedOutPage,
    AuthCookiesRemoved,
    ReplayRefused,
    LeftoverCookies,
    SsoReauthentication,
    SsoSignOutReply,
    BackButtonData,
    PagesNotStored,
    OtherTabAfterSignOut,
    SessionAfterTabClose,
    SessionAfterReopen,
    SessionAfterRestore,
    OtherDeviceAfterSignOut,
    AdminEndsAllSessions,
    FbaFreshLogin,
    IwaSilentSignIn,
    IwaReloginAfterSignOut,
    IwaNoTicketRefused,
    IdleTimeout,
    AbsoluteTimeout,
    TimeoutReminder,
    CookieSecure,
    CookieHttpOnly,
    CookieSameSite,
    CookieLifetime,
    CookieNoCredentials,
    SsoOtherRelyingParty,
    SsoOtherRelyingPartyBlocked,
    SsoKmsiAfterSignOut,
    ReplayAllRefused,
    ClaimsAdfsSignedOut,
    ClaimsReloginAfterSignOut,
    AccessTokenManagement,
    ExpiryDialogSignsOut,
    ReauthAfterExpiry,
    IwaPromptAfterSignOut,
    IwaPromptAfterBrowserClose,
}

/// One row of the rule table.
#[derive(Debug)]
pub struct RuleSpec {
    /// The rule.
    pub id: RuleId,
    /// Its name in policies and reports.
    pub name: &'static str,
    /// What it checks, in a sentence.
    pub description: &'static str,
    /// The outcomes an observation of it can have; a policy expects one or more of them.
    pub outcomes: &'static [Outcome],
}

macro_rules! rule {
    ($id:ident, $name:literal, $description:literal, [$($o:ident),+]) => {
        RuleSpec {
            id: RuleId::$id,
            name: $name,
            description: $description,
            outcomes: &[$(Outcome::$o),+],
        }
    };
}

/// Every rule, in report order: the one place rule names, descriptions and outcomes are written.
pub const RULES: &[RuleSpec] = &[
    rule!(
        SignedOutPage,
        "sign-out.signed-out-page",
        "After Sign Out the browser shows a signed-out page, not the application.",
        [Shown, NotShown]
    ),
    rule!(
        AuthCookiesRemoved,
        "sign-out.auth-cookies-removed",
        "After Sign Out no live authentication cookie is left in the browser (expired, expiring within 2 s, or refused by the server counts as removed).",
        [Removed, Left]
    ),
    rule!(
        ReplayRefused,
        "sign-out.replay-refused",
        "After Sign Out the server refuses the cookies from before sign-out.",
        [Refused, Accepted]
    ),
    rule!(
        LeftoverCookies,
        "sign-out.leftover-cookies",
        "The cookies left after Sign Out are the reviewed ones (a snapshot).",
        [MatchSnapshot, Differ]
    ),
    rule!(
        SsoReauthentication,
        "sso.reauthentication",
        "After sign-out, opening the application again asks for credentials (no silent re-login through AD FS).",
        [CredentialsAsked, SilentSignIn]
    ),
    rule!(
        SsoSignOutReply,
        "sso.sign-out-reply-checked",
        "A sign-out address whose reply (wreply) points to another host does not send the browser there.",
        [NotFollowed, Followed]
    ),
    rule!(
        BackButtonData,
        "back-button.data-after-sign-out",
        "After Sign Out, Back and reload show no application data.",
        [NoData, DataShown]
    ),
    rule!(
        PagesNotStored,
        "back-button.pages-not-stored",
        "Authenticated pages forbid storing (Cache-Control: no-store).",
        [NoStore, Storable]
    ),
    rule!(
        OtherTabAfterSignOut,
        "tabs.other-tab-after-sign-out",
        "After Sign Out in one tab, the other tab is signed out at its next action.",
        [SignedOut, SignedIn]
    ),
    rule!(
        SessionAfterTabClose,
        "tabs.session-after-tab-close",
        "Closing one tab (not the last) leaves the session as the policy says.",
        [Alive, Ended]
    ),
    rule!(
        SessionAfterReopen,
        "browser-close.session-after-reopen",
        "After closing the browser and reopening it on the same profile, the session is gone.",
        [Ended, Survives]
    ),
    rule!(
        SessionAfterRestore,
        "browser-close.session-after-restore",
        "With \"continue where you left off\", the session after reopening is as the policy says.",
        [Ended, Survives]
    ),
    rule!(
        OtherDeviceAfterSignOut,
        "devices.other-device-after-sign-out",
        "After Sign Out on one device, the other device's session is as the policy says.",
        [SignedIn, SignedOut]
    ),
    rule!(
        AdminEndsAllSessions,
        "devices.admin-end-all",
        "The administrator's \"end all sessions\" ends the sessions on every device.",
        [SignedOut, SignedIn]
    ),
    rule!(
        FbaFreshLogin,
        "fba.fresh-login-required",
        "CRM 4.0: after Log Out and reopening the browser, a fresh login is required.",
        [CredentialsAsked, SignedIn]
    ),
    rule!(
        IwaSilentSignIn,
        "iwa.silent-sign-in",
        "With a Kerberos ticket the browser signs in with no prompt.",
        [Silent, Prompted]
    ),
    rule!(
        IwaReloginAfterSignOut,
        "iwa.relogin-after-sign-out",
        "After Sign Out under Windows authentication, opening CRM again signs the user in silently.",
        [SilentSignIn, CredentialsAsked]
    ),
    rule!(
        IwaNoTicketRefused,
        "iwa.no-ticket-refused",
        "Without a Kerberos ticket the server answers 401 and opens no session.",
        [Refused, SignedIn]
    ),
    rule!(
        IdleTimeout,
        "timeout.idle",
        "Inactivity ends the session at the configured idle timeout.",
        [Enforced, Early, NotEnforced]
    ),
    rule!(
        AbsoluteTimeout,
        "timeout.absolute",
        "The session ends at the configured maximum session length, active or not.",
        [Enforced, Early, NotEnforced]
    ),
    rule!(
        TimeoutReminder,
        "timeout.reminder",
        "A reminder is shown before the session expires.",
        [Shown, NotShown]
    ),
    rule!(
        CookieSecure,
        "cookie.auth-secure",
        "Authentication cookies carry Secure.",
        [Set, Missing]
    ),
    rule!(
        CookieHttpOnly,
        "cookie.auth-httponly",
        "Authentication cookies carry HttpOnly.",
        [Set, Missing]
    ),
    rule!(
        CookieSameSite,
        "cookie.auth-samesite",
        "Authentication cookies carry the SameSite the policy asks for.",
        [Strict, Lax, None, Unset]
    ),
    rule!(
        CookieLifetime,
        "cookie.auth-lifetime",
        "Authentication cookies are session cookies (they die with the browser).",
        [Session, Persistent]
    ),
    rule!(
        CookieNoCredentials,
        "cookie.no-credentials",
        "No cookie holds the user's password, in clear, URL-encoded or base64.",
        [Absent, Present]
    ),
    rule!(
        SsoOtherRelyingParty,
        "sso.other-relying-party-signed-out",
        "After Sign Out of CRM, another application signed in through the same AD FS is signed out too (AD FS's wsignoutcleanup1.0).",
        [SignedOut, SignedIn]
    ),
    rule!(
        SsoOtherRelyingPartyBlocked,
        "sso.other-relying-party-third-party-cookies-blocked",
        "As sso.other-relying-party-signed-out, in a browser that blocks third-party cookies (AD FS's clean-up requests are cross-site there).",
        [SignedOut, SignedIn]
    ),
    rule!(
        SsoKmsiAfterSignOut,
        "sso.kmsi-after-sign-out",
        "After signing in with \"Keep me signed in\", signing out, and closing and reopening the browser, opening the application asks for credentials (sign-out revoked the persistent AD FS session).",
        [CredentialsAsked, SilentSignIn]
    ),
    rule!(
        ReplayAllRefused,
        "sign-out.replay-all-refused",
        "After Sign Out the server refuses every safe request (GET, HEAD) the browser made while signed in, replayed with the cookies from before sign-out.",
        [Refused, Accepted]
    ),
    rule!(
        ClaimsAdfsSignedOut,
        "claims.adfs-signed-out",
        "After Sign Out with Windows authentication at AD FS (internal claims access), AD FS's single sign-on session has ended: its cookies from before sign-out no longer get a token.",
        [Ended, Alive]
    ),
    rule!(
        ClaimsReloginAfterSignOut,
        "claims.relogin-after-sign-out",
        "After Sign Out with Windows authentication at AD FS, how opening CRM again signs the user in: a new Windows authentication (Negotiate) exchange at AD FS, an AD FS session that outlived sign-out, or a request for credentials.",
        [WindowsAuthentication, AdfsSession, CredentialsAsked]
    ),
    rule!(
        AccessTokenManagement,
        "devices.access-token-management",
        "With CRM's access token management on (WSFedNonceCookieEnabled), Sign Out on one device signs the user out on the other device too; not applicable when it is off or not declared.",
        [SignedOut, SignedIn]
    ),
    rule!(
        ExpiryDialogSignsOut,
        "timeout.expiry-dialog-signs-out",
        "When the session expires, the page shows the session-expired dialog, and its Close button signs out fully (through AD FS): opening the application again asks for credentials.",
        [CredentialsAsked, SilentSignIn, NotShown]
    ),
    rule!(
        ReauthAfterExpiry,
        "timeout.reauthentication-after-expiry",
        "After the session expired on the server while the user was away (no dialog, no Sign Out), opening the application again asks for credentials rather than signing in silently through AD FS single sign-on.",
        [CredentialsAsked, SilentSignIn]
    ),
    rule!(
        IwaPromptAfterSignOut,
        "iwa.prompt-after-sign-out",
        "Windows authentication with automatic sign-in turned off: after signing in through the browser's prompt and signing out, opening CRM again asks for credentials.",
        [CredentialsAsked, SilentSignIn]
    ),
    rule!(
        IwaPromptAfterBrowserClose,
        "iwa.prompt-after-browser-close",
        "Windows authentication with automatic sign-in turned off: after Sign Out and closing and reopening the browser, opening CRM asks for credentials.",
        [CredentialsAsked, SilentSignIn]
    ),
];

impl RuleId {
    /// Every rule, in report order.
    pub fn all() -> impl Iterator<Item = RuleId> {
        RULES.iter().map(|r| r.id)
    }

    /// The rule's row of [`RULES`].
    pub fn spec(self) -> &'static RuleSpec {
        RULES
            .iter()
            .find(|r| r.id == self)
            .expect("every rule has a row in RULES (tested)")
    }

    /// The rule's name as written in policies and reports.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// What the rule checks, in a sentence.
    pub fn description(self) -> &'static str {
        self.spec().description
    }

    /// The outcomes an observation of this rule can have; a policy expects one or more of them.
    pub fn outcomes(self) -> &'static [Outcome] {
        self.spec().outcomes
    }

    /// The outcomes as one comma-separated text, for messages.
    pub fn outcome_names(self) -> String {
        self.outcomes()
            .iter()
            .map(|o| o.name())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The rule named `name`, if there is one.
    pub fn parse(name: &str) -> Option<RuleId> {
        RULES.iter().find(|r| r.name == name).map(|r| r.id)
    }
}

impl Serialize for RuleId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for RuleId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        RuleId::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown rule `{s}`, expected one of {}",
                RULES.iter().map(|r| r.name).collect::<Vec<_>>().join(", ")
            ))
        })
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
        let policy = Policy::from_raw(config::load(path)?, path);
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
        let remedy = (!passed)
            .then(|| context.mode.parse::<crate::target::AuthMode>().ok())
            .flatten()
            .map(|mode| crate::remedy::remedy(id, observation.outcome, mode));
        Ok(Some(Verdict {
            rule: id,
            requirements: rule.requirements.clone(),
            expected: rule
                .expect
                .iter()
                .map(|o| o.name())
                .collect::<Vec<_>>()
                .join(" or "),
            observed: observation.outcome.name().to_string(),
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

/// A fact a step saw, as an outcome of one rule plus the evidence for it.
///
/// Evidence is URLs, status codes and cookie names; never cookie values or passwords.
#[derive(Clone, Debug, Serialize)]
pub struct Observation {
    /// The rule this observation answers.
    pub rule: RuleId,
    /// The outcome, one of [`RuleId::outcomes`].
    pub outcome: Outcome,
    /// Short facts that support the outcome.
    pub evidence: Vec<String>,
    /// A longer text for the report (a snapshot diff), if any.
    pub detail: Option<String>,
}

impl Observation {
    /// An observation of `rule` with `outcome`.
    pub fn new(rule: RuleId, outcome: Outcome) -> Observation {
        Observation {
            rule,
            outcome,
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
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
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
    /// For a violation: its likely cause ([`crate::remedy`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub likely_cause: Option<String>,
    /// For a violation: what to change, where.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fix: Vec<String>,
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
        if let Some(cause) = &self.likely_cause {
            write!(f, "\n    likely cause: {cause}")?;
        }
        for fix in &self.fix {
            write!(f, "\n    fix: {fix}")?;
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
    fn a_number_for_expect_names_the_valid_outcomes() {
        let e = parse("name: x\nrules:\n  sign-out.replay-refused:\n    expect: 7\n    requirements: [WSTG-SESS-06]\n")
            .err()
            .unwrap();
        assert!(e.message.contains("expect `7` is not an outcome"), "{e}");
        assert!(e.message.contains("valid: "), "{e}");
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
            assert!(e.message.contains("sign-out.replay-refused"), "{e}");
        }
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
        assert_eq!(v.expected, "lax or strict");
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
        for (o, name) in OUTCOME_NAMES {
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
