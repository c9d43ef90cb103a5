//! The selectors and URLs of the pages the scenarios work ([`Pages`]): CRM's defaults per mode and
//! web client, with the target file's overrides.

use super::*;

/// The selectors and pages the steps use, after defaults.
#[derive(Clone, Debug, Serialize)]
pub struct Pages {
    /// See [`PagesOverride::start`].
    pub start: String,
    /// See [`PagesOverride::username_input`].
    pub username_input: String,
    /// See [`PagesOverride::password_input`].
    pub password_input: String,
    /// See [`PagesOverride::submit`].
    pub submit: String,
    /// See [`PagesOverride::signed_in`].
    pub signed_in: String,
    /// See [`PagesOverride::user_menu`] (`None`: no menu to open first).
    pub user_menu: Option<String>,
    /// See [`PagesOverride::sign_out`].
    pub sign_out: String,
    /// See [`PagesOverride::data`].
    pub data: String,
    /// See [`PagesOverride::signed_out_text`].
    pub signed_out_text: String,
    /// See [`PagesOverride::auth_cookies`].
    pub auth_cookies: Vec<String>,
    /// See [`PagesOverride::auto_post`].
    pub auto_post: String,
    /// See [`PagesOverride::reminder`] (`None`: the application shows none).
    pub reminder: Option<String>,
    /// See [`PagesOverride::kmsi`] (`None`: the sign-in page offers no "Keep me signed in").
    pub kmsi: Option<String>,
    /// Whether `kmsi` is the mode's default (AD FS's checkbox) rather than the target file's:
    /// a sign-in page without it then has none, and the scenarios that tick it are not
    /// applicable; a declared one that is missing is a mistake in the file (not judged).
    pub kmsi_from_mode: bool,
    /// See [`PagesOverride::expiry_close`] (`None`: no session-expired dialog).
    pub expiry_close: Option<String>,
}

impl Pages {
    /// The pages of a stock deployment in `mode` serving `ui` (what the emulator reproduces).
    /// The Unified Interface's selectors are microsoft/EasyRepro's (docs/crm-adfs-facts.md
    /// S87): `App_Shell`, `Nav_AccountManagerButton`, `Nav_AccountManagerSignOutButton` and
    /// `Grid_Container`, written for Dynamics 365 online; an on-premises 9.x server may differ
    /// [I], which the `pages:` keys override.
    pub fn defaults_for(mode: AuthMode, ui: Ui) -> Pages {
        let classic = Pages::defaults(mode);
        match ui {
            Ui::Classic => classic,
            Ui::Uci => Pages {
                signed_in: "#ApplicationShell".into(),
                user_menu: Some("#mectrl_main_trigger".into()),
                sign_out: "#mectrl_body_signOut".into(),
                data: "[data-id='data-set-body-container']".into(),
                ..classic
            },
        }
    }

    /// The pages of a stock deployment in `mode` with the classic web client.
    pub fn defaults(mode: AuthMode) -> Pages {
        let (user, pass, submit) = match mode {
            // AD FS 3.0+ sign-in form ids (docs/crm-adfs-facts.md §2.3, S29).
            AuthMode::Ifd | AuthMode::Iwa | AuthMode::Claims => {
                ("#userNameInput", "#passwordInput", "#submitButton")
            }
            // CRM 4.0's form ids are not documented (§2.4): these are the emulator's.
            AuthMode::Fba => ("#txtUserName", "#txtPassword", "#btnSignIn"),
        };
        Pages {
            start: "main.aspx".into(),
            username_input: user.into(),
            password_input: pass.into(),
            submit: submit.into(),
            signed_in: "#crmTopBar".into(),
            // The classic web client's user menu (S41), from CRM 2013 on. CRM 4.0's Sign Out
            // link is not documented (§2.4): this one is the emulator's, on the page itself.
            user_menu: match mode {
                AuthMode::Fba => None,
                _ => Some("#navTabButtonUserInfoLinkId".into()),
            },
            sign_out: match mode {
                AuthMode::Fba => "#crm4SignOutLink".into(),
                _ => "#navTabButtonUserInfoSignOutId".into(),
            },
            data: "#crmGrid".into(),
            signed_out_text: "(?i)signed out".into(),
            auth_cookies: match mode {
                // CRM's WIF session cookie, chunked (S34, W5).
                AuthMode::Ifd | AuthMode::Claims => vec!["MSISAuth*".into()],
                // CRM 4.0's ticket cookie (S3).
                AuthMode::Fba => vec!["MSCRMSession".into()],
                // IWA has no application cookie (S19-S22).
                AuthMode::Iwa => vec![],
            },
            // WS-Federation's token form, which AD FS posts back to CRM by script (docs/crm-adfs-facts.md W1).
            auto_post: "input[name=wresult]".into(),
            reminder: Some("#sessionReminder".into()),
            // AD FS 3.0+'s "Keep me signed in" checkbox (docs/crm-adfs-facts.md §4.1, S53);
            // only AD FS has one.
            kmsi: match mode {
                AuthMode::Ifd => Some("#kmsiInput".into()),
                // With Windows authentication at AD FS there is no form, so no checkbox.
                AuthMode::Fba | AuthMode::Iwa | AuthMode::Claims => None,
            },
            kmsi_from_mode: true,
            // CRM 8.2/9.x's session-expired dialog and its Close button (the `MaxSession`
            // script's `_close_session`, docs/crm-adfs-facts.md §4.3, S43); session timeouts
            // need claims, so not CRM 4.0's forms or Windows authentication (S6).
            expiry_close: match mode {
                AuthMode::Ifd | AuthMode::Claims => Some("#_close_session".into()),
                AuthMode::Fba | AuthMode::Iwa => None,
            },
        }
    }

    pub(super) fn with(mut self, o: &PagesOverride) -> Pages {
        let pick = |slot: &mut String, v: &Option<String>| {
            if let Some(v) = v {
                *slot = v.clone();
            }
        };
        pick(&mut self.start, &o.start);
        pick(&mut self.username_input, &o.username_input);
        pick(&mut self.password_input, &o.password_input);
        pick(&mut self.submit, &o.submit);
        pick(&mut self.signed_in, &o.signed_in);
        pick(&mut self.sign_out, &o.sign_out);
        pick(&mut self.data, &o.data);
        pick(&mut self.signed_out_text, &o.signed_out_text);
        pick(&mut self.auto_post, &o.auto_post);
        match (&o.user_menu, &o.sign_out) {
            (Some(menu), _) => self.user_menu = menu.clone(),
            // CRM's menu goes with CRM's Sign Out item: a Sign Out control of the target's own
            // with no menu named is on the page itself (a link, a button, a form).
            (None, Some(_)) => self.user_menu = None,
            (None, None) => {}
        }
        if let Some(reminder) = &o.reminder {
            self.reminder = reminder.clone();
        }
        if let Some(kmsi) = &o.kmsi {
            self.kmsi = kmsi.clone();
            self.kmsi_from_mode = false;
        }
        if let Some(close) = &o.expiry_close {
            self.expiry_close = close.clone();
        }
        if let Some(names) = &o.auth_cookies {
            self.auth_cookies = names.clone();
        }
        self
    }
}

/// One entry of `auth_cookies`: a cookie name, where a trailing `*` matches any ending (`MSISAuth*`
/// covers the chunks `MSISAuth`, `MSISAuth1`, ...), and after `@` the host the cookie belongs to.
/// Without a host, the entry means the cookies the browser sends to the organization URL; with
/// one, the cookies that host receives (an identity provider's session cookie, which is often what
/// signs a user straight back in). `@` never occurs in a cookie name (RFC 6265 tokens).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthCookie<'a> {
    /// The name, or a prefix ending in `*`.
    pub name: &'a str,
    /// The host, if the entry names one.
    pub host: Option<&'a str>,
}

impl<'a> AuthCookie<'a> {
    /// The entry as written in the target file.
    pub fn parse(entry: &'a str) -> AuthCookie<'a> {
        match entry.split_once('@') {
            Some((name, host)) => AuthCookie {
                name,
                host: Some(host),
            },
            None => AuthCookie {
                name: entry,
                host: None,
            },
        }
    }

    /// Why the entry cannot match anything, if so.
    pub fn problem(&self) -> Option<String> {
        if self.name.trim_end_matches('*').is_empty() {
            return Some("the cookie name is empty".into());
        }
        match self.host {
            Some(h) if h.is_empty() || h.contains(['/', ':', ' ']) => Some(format!(
                "`{h}` after `@` is not a host name (write `name@host.example.com`)"
            )),
            _ => None,
        }
    }

    /// Whether a cookie named `name` matches the entry's name.
    pub fn matches_name(&self, name: &str) -> bool {
        match self.name.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => name == self.name,
        }
    }

    /// Whether a cookie whose `Domain` is `domain` (`.parent` for a domain cookie) is sent to the
    /// entry's host; `None` when the entry names no host.
    pub fn matches_host(&self, domain: &str) -> Option<bool> {
        let host = self.host?.to_ascii_lowercase();
        let domain = domain.to_ascii_lowercase();
        Some(match domain.strip_prefix('.') {
            Some(parent) => host == parent || host.ends_with(&format!(".{parent}")),
            None => host == domain,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_auth_cookie_entry_names_a_cookie_and_maybe_its_host() {
        let crm = AuthCookie::parse("MSISAuth*");
        assert_eq!(crm.host, None);
        assert!(crm.matches_name("MSISAuth") && crm.matches_name("MSISAuth1"));
        assert!(!crm.matches_name("ReqClientId"));
        assert_eq!(crm.matches_host("crm.contoso.test"), None);

        let idp = AuthCookie::parse("_session@idp.contoso.test");
        assert_eq!((idp.name, idp.host), ("_session", Some("idp.contoso.test")));
        assert!(idp.matches_name("_session") && !idp.matches_name("_session2"));
        assert_eq!(idp.matches_host("idp.contoso.test"), Some(true));
        // A domain cookie of a parent domain is sent to the host too; another host's is not.
        assert_eq!(idp.matches_host(".contoso.test"), Some(true));
        assert_eq!(idp.matches_host("crm.contoso.test"), Some(false));
        assert_eq!(idp.matches_host(".other.test"), Some(false));
        assert_eq!(idp.problem(), None);
    }

    #[test]
    fn an_entry_that_cannot_match_is_a_problem() {
        assert!(AuthCookie::parse("sid@").problem().is_some());
        assert!(AuthCookie::parse("sid@https://idp/").problem().is_some());
        assert!(AuthCookie::parse("*").problem().is_some());
        assert!(AuthCookie::parse("@idp.contoso.test").problem().is_some());
    }
}
