//! The one rule table: every rule's name, description, requirement ids and possible outcomes
//! ([`RULES`]), and the typed [`Outcome`]s a step can observe, so a step cannot observe a word
//! that no rule knows.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Declares [`Outcome`] and the one table of its names: each variant is written once, with the
/// name policies and reports use for it.
macro_rules! outcomes {
    ($($(#[doc = $doc:literal])* $variant:ident = $name:literal,)+) => {
        /// What a step can observe; each rule allows a few of these (see [`RULES`]). Written in
        /// policies and reports by its name ([`Outcome::name`]), e.g. `not-shown`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Outcome {
            $($(#[doc = $doc])* $variant,)+
        }

        impl Outcome {
            /// Every outcome with its name, in declaration order.
            pub const NAMES: &'static [(Outcome, &'static str)] =
                &[$((Outcome::$variant, $name),)+];
        }
    };
}

outcomes! {
    /// A page or dialog is shown.
    Shown = "shown",
    /// It is not shown.
    NotShown = "not-shown",
    /// No live credential is left.
    Removed = "removed",
    /// A live credential is left.
    Left = "left",
    /// The server refuses.
    Refused = "refused",
    /// The server accepts.
    Accepted = "accepted",
    /// Equal to the reviewed snapshot.
    MatchSnapshot = "match-snapshot",
    /// Different from the reviewed snapshot.
    Differ = "differ",
    /// The identity provider asks for credentials.
    CredentialsAsked = "credentials-asked",
    /// The user is signed in without being asked.
    SilentSignIn = "silent-sign-in",
    /// No application data is shown.
    NoData = "no-data",
    /// Application data is shown.
    DataShown = "data-shown",
    /// Pages carry `Cache-Control: no-store`.
    NoStore = "no-store",
    /// Pages may be stored.
    Storable = "storable",
    /// Signed out.
    SignedOut = "signed-out",
    /// Signed in.
    SignedIn = "signed-in",
    /// The session is alive.
    Alive = "alive",
    /// The session has ended.
    Ended = "ended",
    /// The session survives.
    Survives = "survives",
    /// No prompt.
    Silent = "silent",
    /// A prompt.
    Prompted = "prompted",
    /// The timeout is enforced at the configured value.
    Enforced = "enforced",
    /// The session ends before the configured value.
    Early = "early",
    /// The session outlives the configured value.
    NotEnforced = "not-enforced",
    /// A cookie flag is set.
    Set = "set",
    /// A cookie flag is missing.
    Missing = "missing",
    /// `SameSite=Strict`.
    Strict = "strict",
    /// `SameSite=Lax`.
    Lax = "lax",
    /// `SameSite=None`.
    None = "none",
    /// No `SameSite` attribute.
    Unset = "unset",
    /// A session cookie.
    Session = "session",
    /// A persistent cookie.
    Persistent = "persistent",
    /// Nothing secret is present.
    Absent = "absent",
    /// Something secret is present.
    Present = "present",
    /// A reply address on another host was not followed.
    NotFollowed = "not-followed",
    /// A reply address on another host was followed (an open redirect).
    Followed = "followed",
    /// Signed in again by a new Windows authentication (Negotiate) exchange at AD FS.
    WindowsAuthentication = "windows-authentication",
    /// Signed in again by an AD FS single sign-on session that outlived sign-out.
    AdfsSession = "adfs-session",
    /// A new token from the identity provider renewed the session.
    NewToken = "new-token",
    /// The old session was extended without the identity provider.
    SessionExtended = "session-extended",
}

impl Outcome {
    /// The outcome as written in policies and reports (`not-shown`).
    pub fn name(self) -> &'static str {
        Outcome::NAMES
            .iter()
            .find(|(o, _)| *o == self)
            .map_or("?", |(_, n)| *n)
    }

    /// The outcome written `name`, if there is one.
    pub fn parse(name: &str) -> Option<Outcome> {
        Outcome::NAMES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(o, _)| *o)
    }
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Outcome {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Outcome::parse(&name).ok_or_else(|| {
            let valid: Vec<&str> = Outcome::NAMES.iter().map(|(_, n)| *n).collect();
            serde::de::Error::custom(format!(
                "unknown outcome `{name}`; valid: {}",
                valid.join(", ")
            ))
        })
    }
}

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
    OtherTabPageCleared,
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
    ReauthDialogThroughIdp,
    IwaPromptAfterSignOut,
    IwaPromptAfterBrowserClose,
    ChangeReachesSessions,
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
        "After Sign Out no live authentication cookie is left in the browser: none is left, or the server refuses the jar as it is now, however soon what is left expires (and an identity provider no longer signs the user in with its cookies left on its host).",
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
        "After sign-out, opening the application again asks for credentials (no silent re-login through AD FS or another identity provider).",
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
        OtherTabPageCleared,
        "tabs.other-tab-page-cleared",
        "After Sign Out in one tab, the page open in another tab stops showing application data without any action there (CRM 8.2/9.x's page script: localStorage oss_mustSignOut).",
        [NoData, DataShown]
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
        ReauthDialogThroughIdp,
        "timeout.reauth-dialog-through-identity-provider",
        "At the expiry warning, the re-authenticate dialog's Sign In renews the session with a new token from the identity provider (a new session cookie), not by extending the old session on the application alone.",
        [NewToken, SessionExtended, NotShown]
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
    rule!(
        ChangeReachesSessions,
        "admin.change-reaches-sessions",
        "An administrator's change (a user disabled, sessions ended, a timeout shortened) reaches the sessions signed in before it: their cookies are refused within the bound given (`logout-harness revoke`).",
        [Refused, Accepted]
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

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/requirements.md lists every rule once, in the table's order, and its "What is checked"
    /// cell is the rule's description here: written once, in this table, and copied into the docs
    /// by this test (`UPDATE_DOCS=1` rewrites the cells), never by hand.
    #[test]
    fn the_requirements_page_lists_every_rule_with_its_description() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/requirements.md");
        let text = std::fs::read_to_string(&path).unwrap();
        let mut rows = Vec::new();
        let mut updated = String::new();
        for line in text.split_inclusive('\n') {
            let cells: Vec<&str> = line.trim_end().split(" | ").collect();
            let name = cells.first().and_then(|c| {
                c.strip_prefix("| `")
                    .and_then(|c| c.strip_suffix('`'))
                    .filter(|n| RULES.iter().any(|r| r.name == *n))
            });
            match name {
                Some(name) if cells.len() == 4 => {
                    let rule = RULES.iter().find(|r| r.name == name).unwrap();
                    rows.push((name, cells[1].to_string(), rule.description));
                    updated.push_str(&format!(
                        "| `{name}` | {} | {} | {}\n",
                        rule.description, cells[2], cells[3]
                    ));
                }
                _ => updated.push_str(line),
            }
        }
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(&path, &updated).unwrap();
            return;
        }
        let listed: Vec<&str> = rows.iter().map(|(n, _, _)| *n).collect();
        let table: Vec<&str> = RULES.iter().map(|r| r.name).collect();
        assert_eq!(
            listed, table,
            "docs/requirements.md lists the rules of RULES, in its order"
        );
        for (name, cell, description) in &rows {
            assert_eq!(
                cell, description,
                "docs/requirements.md's `{name}` says what RULES does not: rerun with UPDATE_DOCS=1"
            );
        }
    }
}
