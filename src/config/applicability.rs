//! What a scenario needs from the target, and whether the target has it.
//!
//! A scenario states its needs as tags (`@needs-user-bob`, `@needs-admin-end-sessions`,
//! `@needs-idle-timeout`, `@needs-absolute-timeout`, `@needs-reminder`, `@needs-password`,
//! `@needs-other-relying-party`, `@needs-kmsi`, `@needs-expiry-dialog`, `@needs-identity-provider`,
//! `@needs-ws-federation`). A
//! target that lacks one gets the scenario reported as not applicable, with the reason and how to
//! provide it: not a failure, and no change to the exit code. An unknown `@needs-` tag is a
//! mistake in a feature file (exit 2), never a silently skipped scenario.

use crate::config::target::{CrmLocation, SsoProtocol, Target};

/// One thing a scenario needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Need {
    /// A user of this name in the target's `users`.
    User(String),
    /// An administrator action that ends all of a user's sessions.
    AdminEndSessions,
    /// A declared idle timeout.
    IdleTimeout,
    /// A declared maximum session length.
    AbsoluteTimeout,
    /// A session-expiry reminder to look for (and a timeout after which it is due).
    Reminder,
    /// A password for `alice`, the user every scenario signs in as.
    Password,
    /// Another application signed in through the same AD FS (`other_relying_party`).
    OtherRelyingParty,
    /// A "Keep me signed in" checkbox on the sign-in page (`pages.kmsi`).
    Kmsi,
    /// A session-expired dialog with a Close button (`pages.expiry_close`), and a timeout after
    /// which it is due.
    ExpiryDialog,
    /// A sign-in through an identity provider on another host: AD FS in mode ifd, one the
    /// target file declares (`identity_provider`), or one the sign-in redirect chain went to.
    IdentityProvider,
    /// An identity provider that speaks WS-Federation (its `wreply`, its `wsignout1.0`).
    WsFederation,
}

/// Scenarios with this tag measure timeouts; against the emulator they get one started with the
/// target's (short) timeouts, and they get slots first and give them back while they wait.
pub const TIMEOUT_TAG: &str = "timeout";

/// Scenarios with this tag close a browser and open it again on the same profile: their people
/// need a profile on disk, a browser process each rather than a browser context.
pub const REOPENS_BROWSER_TAG: &str = "reopens-browser";

/// Scenarios with this tag hold two browsers open at once (two devices): where a slot stands for
/// a browser (a Selenium Grid), they take two slots together.
pub const TWO_BROWSERS_TAG: &str = "two-browsers";

/// What running a scenario takes from the run, read from its tags (feature, rule and scenario
/// tags, without `@`): never from the wording of its steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScenarioShape {
    /// It measures a timeout ([`TIMEOUT_TAG`]): served first, its slot given back while it waits.
    pub waits: bool,
    /// It reopens a browser ([`REOPENS_BROWSER_TAG`]).
    pub reopens_browser: bool,
    /// Browsers it holds open at once, at most ([`TWO_BROWSERS_TAG`]: 2, else 1).
    pub browsers_at_once: usize,
}

impl ScenarioShape {
    /// The shape of a scenario with `tags`.
    pub fn of_tags<'a>(tags: impl IntoIterator<Item = &'a String>) -> ScenarioShape {
        let mut shape = ScenarioShape {
            waits: false,
            reopens_browser: false,
            browsers_at_once: 1,
        };
        for tag in tags {
            match tag.as_str() {
                TIMEOUT_TAG => shape.waits = true,
                REOPENS_BROWSER_TAG => shape.reopens_browser = true,
                TWO_BROWSERS_TAG => shape.browsers_at_once = 2,
                _ => {}
            }
        }
        shape
    }
}

const PREFIX: &str = "needs-";

/// Every `@needs-` tag but `@needs-user-NAME`, with the need it states: the one list the parser
/// and its message read.
const NEED_TAGS: &[(&str, Need)] = &[
    ("admin-end-sessions", Need::AdminEndSessions),
    ("idle-timeout", Need::IdleTimeout),
    ("absolute-timeout", Need::AbsoluteTimeout),
    ("reminder", Need::Reminder),
    ("password", Need::Password),
    ("other-relying-party", Need::OtherRelyingParty),
    ("kmsi", Need::Kmsi),
    ("expiry-dialog", Need::ExpiryDialog),
    ("identity-provider", Need::IdentityProvider),
    ("ws-federation", Need::WsFederation),
];

/// The needs among `tags` (feature, rule and scenario tags, without `@`).
pub fn needs_of<'a>(tags: impl IntoIterator<Item = &'a String>) -> Result<Vec<Need>, String> {
    let mut needs = Vec::new();
    for tag in tags {
        let Some(what) = tag.strip_prefix(PREFIX) else {
            continue;
        };
        let need = if let Some((_, need)) = NEED_TAGS.iter().find(|(name, _)| *name == what) {
            need.clone()
        } else {
            match what.strip_prefix("user-") {
                Some(user) if !user.is_empty() => Need::User(user.to_string()),
                _ => {
                    let valid: Vec<String> = std::iter::once("@needs-user-NAME".to_string())
                        .chain(NEED_TAGS.iter().map(|(name, _)| format!("@{PREFIX}{name}")))
                        .collect();
                    return Err(format!("unknown tag @{tag}; valid: {}", valid.join(", ")));
                }
            }
        };
        needs.push(need);
    }
    Ok(needs)
}

/// Why `target` cannot support a scenario with `needs`, and how to provide it; `None` when it can.
pub fn unmet(target: &Target, needs: &[Need]) -> Option<String> {
    let spec = &target.spec;
    let embedded = spec.crm == CrmLocation::Embedded;
    let file = target.source();
    needs.iter().find_map(|need| match need {
        Need::User(user) if !spec.users.contains_key(user) => Some(format!(
            "needs a second user `{user}`; add `users: {{{user}: {{password_env: ...}}}}` to {file}"
        )),
        Need::AdminEndSessions if !embedded && spec.admin.end_sessions.is_none() => Some(format!(
            "needs an administrator action that ends a user's sessions; configure \
             `admin: {{end_sessions: {{url: ..., method: POST}}}}` or `{{command: [...]}}` in {file}"
        )),
        Need::IdleTimeout if spec.timeouts.idle.is_none() => Some(format!(
            "needs the configured idle timeout; declare `timeouts: {{idle: 30m}}` in {file} \
             (CRM: System Settings, or IIS / AD FS token lifetimes)"
        )),
        Need::AbsoluteTimeout if spec.timeouts.absolute.is_none() => Some(format!(
            "needs the configured maximum session length; declare `timeouts: {{absolute: 1440m}}` in {file}"
        )),
        Need::Reminder if target.pages.reminder.is_none() => Some(format!(
            "the target declares no session-expiry reminder (`pages.reminder` is empty in {file})"
        )),
        Need::Reminder if spec.timeouts.idle.is_none() && spec.timeouts.absolute.is_none() => {
            Some(format!(
                "needs a declared timeout to know when the reminder is due; declare `timeouts:` in {file}"
            ))
        }
        Need::Password
            if !embedded
                && spec
                    .users
                    .get("alice")
                    .is_some_and(|u| u.password_env.is_none() && u.password_file.is_none()) =>
        {
            Some(format!(
                "needs alice's password (she has `no_password: true` in {file}); give her \
                 `password_env` or `password_file`"
            ))
        }
        Need::OtherRelyingParty if !embedded && spec.other_relying_party.is_none() => Some(format!(
            "needs another application that signs in through the same AD FS; declare \
             `other_relying_party: {{url: https://portal.contoso.com/, signed_in: '#userName'}}` in {file}"
        )),
        Need::Kmsi if target.pages.kmsi.is_none() => Some(format!(
            "the sign-in page offers no Keep me signed in (`pages.kmsi` is empty in {file}; AD FS \
             offers it with Set-AdfsProperties -EnableKmsi $true)"
        )),
        Need::ExpiryDialog if target.pages.expiry_close.is_none() => Some(format!(
            "the target declares no session-expired dialog (`pages.expiry_close` is empty in \
             {file}; CRM 8.2/9.x with claims shows one)"
        )),
        Need::ExpiryDialog if spec.timeouts.idle.is_none() && spec.timeouts.absolute.is_none() => {
            Some(format!(
                "needs a declared timeout to know when the session-expired dialog is due; \
                 declare `timeouts:` in {file}"
            ))
        }
        Need::IdentityProvider if target.identity_provider().is_none() && embedded => Some(
            format!(
                "{}: there is no identity provider to sign back in through",
                target.no_identity_provider_seen()
            ),
        ),
        Need::IdentityProvider if target.identity_provider().is_none() => Some(format!(
            "the sign-in goes through no identity provider on another host ({}); if it does \
             (a sign-in page a script opens, say), declare \
             `identity_provider: https://idp.contoso.com/` in {file}",
            target.no_identity_provider_seen()
        )),
        Need::WsFederation => {
            let idp = target.identity_provider();
            let speaks = match &idp {
                Some(idp) if idp.protocol == Some(SsoProtocol::WsFederation) => return None,
                Some(idp) => format!("the identity provider is {idp}"),
                None => format!(
                    "the sign-in goes through no identity provider ({})",
                    target.no_identity_provider_seen()
                ),
            };
            Some(format!(
                "the sign-out reply address (`wreply`) is WS-Federation's, and {speaks}; if it \
                 speaks WS-Federation, declare `identity_provider: {{url: ..., protocol: \
                 ws-federation}}` in {file}"
            ))
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::target::AuthMode;

    fn tags(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn tags_name_the_needs_and_a_typo_is_an_error() {
        let n = needs_of(&tags(&["ifd", "needs-user-bob", "needs-idle-timeout"])).unwrap();
        assert_eq!(n, vec![Need::User("bob".into()), Need::IdleTimeout]);
        let e = needs_of(&tags(&["needs-idle-timeuot"])).unwrap_err();
        assert!(e.contains("@needs-idle-timeout"), "{e}");
    }

    #[test]
    fn the_embedded_target_meets_every_need() {
        let t = Target::embedded(AuthMode::Ifd);
        let all = needs_of(&tags(&[
            "needs-user-bob",
            "needs-admin-end-sessions",
            "needs-idle-timeout",
            "needs-absolute-timeout",
            "needs-reminder",
            "needs-password",
            "needs-kmsi",
            "needs-expiry-dialog",
        ]))
        .unwrap();
        assert_eq!(unmet(&t, &all), None);
    }

    #[test]
    fn a_sign_in_page_without_keep_me_signed_in_makes_the_kmsi_scenario_not_applicable() {
        let needs = needs_of(&tags(&["ifd", "needs-kmsi"])).unwrap();
        assert_eq!(needs, vec![Need::Kmsi]);
        assert_eq!(unmet(&Target::embedded(AuthMode::Ifd), &needs), None);
        let reason = unmet(&Target::embedded(AuthMode::Fba), &needs).unwrap();
        assert!(
            reason.contains("the sign-in page offers no Keep me signed in"),
            "{reason}"
        );
        assert!(reason.contains("pages.kmsi"), "{reason}");
    }

    /// A deployment documents one of its timeouts only (CRM's maximum session length, say, and
    /// not IIS's idle timeout): the scenario that needs the other is not applicable, naming the
    /// key to declare; the one it documents applies.
    #[test]
    fn each_timeout_scenario_needs_its_own_timeout_declared() {
        let idle = needs_of(&tags(&["needs-idle-timeout"])).unwrap();
        let absolute = needs_of(&tags(&["needs-absolute-timeout"])).unwrap();
        let only_absolute = real("fba", "timeouts: {absolute: 8h}\n");
        let why = unmet(&only_absolute, &idle).unwrap();
        assert!(why.contains("`timeouts: {idle: 30m}`"), "{why}");
        assert_eq!(unmet(&only_absolute, &absolute), None);
        let only_idle = real("fba", "timeouts: {idle: 20m}\n");
        let why = unmet(&only_idle, &absolute).unwrap();
        assert!(why.contains("`timeouts: {absolute: 1440m}`"), "{why}");
        assert_eq!(unmet(&only_idle, &idle), None);
        let neither = real("fba", "");
        assert!(unmet(&neither, &idle).is_some() && unmet(&neither, &absolute).is_some());
    }

    fn real(mode: &str, extra: &str) -> Target {
        let spec: crate::config::target::TargetFile = serde_yaml::from_str(&format!(
            "name: t\ncrm: https://app.test/\nmode: {mode}\nusers: {{alice: {{password_env: P}}}}\n{extra}"
        ))
        .unwrap();
        Target::from_spec_for_tests(spec)
    }

    fn seen(t: &mut Target, protocol: Option<SsoProtocol>) {
        use crate::config::target::{IdentityProvider, KnownBy, SignInChain};
        t.sign_in_chain = Some(SignInChain {
            identity_provider: Some(IdentityProvider {
                origin: Some(url::Url::parse("https://idp.test/").unwrap()),
                protocol,
                known_by: KnownBy::Detected("https://idp.test/login".into()),
            }),
            seen: "the application's start page without a session: 302 -> https://idp.test/login"
                .into(),
            sign_in_request: None,
        });
    }

    #[test]
    fn single_sign_on_scenarios_follow_the_identity_provider_not_the_mode() {
        let sso = needs_of(&tags(&["sso", "ifd", "fba", "needs-identity-provider"])).unwrap();
        let wreply = needs_of(&tags(&["needs-identity-provider", "needs-ws-federation"])).unwrap();
        // The emulator: AD FS in mode ifd (WS-Federation), none in CRM 4.0's forms mode.
        assert_eq!(unmet(&Target::embedded(AuthMode::Ifd), &wreply), None);
        let fba = unmet(&Target::embedded(AuthMode::Fba), &sso).unwrap();
        assert!(fba.contains("CRM's own host"), "{fba}");
        assert!(!fba.contains("declare"), "{fba}");

        // A forms application whose sign-in stays on its host: not applicable, saying what was
        // seen and how to declare a provider the redirects do not show.
        let mut app = real("fba", "");
        app.sign_in_chain = Some(crate::config::target::SignInChain {
            identity_provider: None,
            seen:
                "the application's start page without a session: 302 -> https://app.test/login, 200"
                    .into(),
            sign_in_request: None,
        });
        let why = unmet(&app, &sso).unwrap();
        assert!(why.contains("302 -> https://app.test/login"), "{why}");
        assert!(why.contains("identity_provider:"), "{why}");

        // The same application seen redirecting to an OpenID provider: the re-login scenario
        // applies, WS-Federation's wreply does not, and says why.
        seen(&mut app, Some(SsoProtocol::OpenidConnect));
        assert_eq!(unmet(&app, &sso), None);
        let why = unmet(&app, &wreply).unwrap();
        assert!(why.contains("OpenID Connect"), "{why}");
        assert!(why.contains("protocol: ws-federation"), "{why}");
        seen(&mut app, Some(SsoProtocol::WsFederation));
        assert_eq!(unmet(&app, &wreply), None);

        // Declared, without a protocol: the scenarios apply; wreply waits for the protocol.
        let declared = real("fba", "identity_provider: https://idp.test/\n");
        assert_eq!(unmet(&declared, &sso), None);
        assert!(unmet(&declared, &wreply).is_some());
        let ws = real(
            "fba",
            "identity_provider: {url: https://idp.test/, protocol: ws-federation}\n",
        );
        assert_eq!(unmet(&ws, &wreply), None);

        // A real CRM in mode ifd signs in through AD FS whatever the chain showed; its wreply
        // check needs WS-Federation seen or declared.
        let mut crm = real("ifd", "");
        assert_eq!(unmet(&crm, &sso), None);
        assert!(
            unmet(&crm, &wreply)
                .unwrap()
                .contains("implied by mode ifd")
        );
        seen(&mut crm, Some(SsoProtocol::WsFederation));
        assert_eq!(unmet(&crm, &wreply), None);
    }
}
