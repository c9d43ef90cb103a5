//! A likely cause and a fix for every violation: what CRM, AD FS, IIS and browser administrators
//! find behind each failed rule, and what to change, per authentication mode. Printed under a
//! violation and carried in JSON and JUnit as `likely_cause` and `fix`.
//!
//! Keyed by the rule and the outcome observed (an idle timeout that ends early has another cause
//! than one that is not enforced). Each text names its public source where one exists; the
//! project's docs/crm-adfs-facts.md §5 lists the known problems these come from.
//!
//! ```
//! use logout_harness::judge::{Outcome, RuleId};
//! use logout_harness::judge::remedy::remedy;
//! use logout_harness::config::target::AuthMode;
//! let r = remedy(RuleId::ReplayRefused, Outcome::Accepted, AuthMode::Ifd);
//! assert!(r.likely_cause.contains("not ended on the server"));
//! assert!(r.fix.iter().any(|f| f.contains("WSFedNonceCookieEnabled")));
//! ```

use serde::Serialize;

use crate::config::target::AuthMode;
use crate::judge::rules::{Outcome, RuleId};

/// Why a rule likely failed and what to change.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Remedy {
    /// The most likely cause, in a sentence.
    pub likely_cause: String,
    /// What to change, most likely first; each names where (CRM, AD FS, IIS, browser policy).
    pub fix: Vec<String>,
}

const SESSION_MGMT: &str = "https://learn.microsoft.com/en-us/dynamics365/customerengagement/on-premises/admin/user-session-management";
const ADFS_SSO: &str = "https://learn.microsoft.com/en-us/windows-server/identity/ad-fs/operations/ad-fs-single-sign-on-settings";
const OWASP_SESSION: &str =
    "https://cheatsheetseries.owasp.org/cheatsheets/Session_Management_Cheat_Sheet.html";
const IIS_HEADERS: &str = "https://learn.microsoft.com/en-us/iis/configuration/system.webserver/httpprotocol/customheaders/";
const HTTP_COOKIES: &str = "https://learn.microsoft.com/en-us/previous-versions/dotnet/netframework-4.0/ms228262(v=vs.100)";
const OIDC_LOGOUT: &str = "https://openid.net/specs/openid-connect-rpinitiated-1_0.html";
const CHROME_POLICY: &str = "https://chromeenterprise.google/policies/";
const IIS_APP_POOLS: &str =
    "https://learn.microsoft.com/en-us/iis/configuration/system.applicationhost/applicationpools/";

/// The likely cause of `observation` in `mode`, and the fixes, read from what was observed: the
/// rule, its outcome, and where the page came from (a signed-in page back from the server means
/// the session survived sign-out, not that the page was cached).
pub fn remedy_of(observation: &crate::judge::verdict::Observation, mode: AuthMode) -> Remedy {
    use crate::observe::page::PageOrigin;
    if observation.rule == RuleId::BackButtonData
        && observation.outcome == Outcome::DataShown
        && observation.page_origin == Some(PageOrigin::Network)
    {
        let replay = remedy(RuleId::ReplayRefused, Outcome::Accepted, mode);
        return Remedy {
            likely_cause:
                "The session survived sign-out: the page shown after Back (or on reload) \
                           came from the server, which still served it signed in (the application's \
                           session, or an identity provider's single sign-on session that signed \
                           the user straight back in); caching is not the cause."
                    .into(),
            fix: replay.fix,
        };
    }
    remedy(observation.rule, observation.outcome, mode)
}

/// The likely cause of `rule` observed as `observed` in `mode`, and the fixes. A rule observed
/// with an outcome that is not a violation of any policy still gets the general advice.
pub fn remedy(rule: RuleId, observed: Outcome, mode: AuthMode) -> Remedy {
    use AuthMode::{Claims, Fba, Ifd, Iwa};
    use Outcome as O;
    use RuleId as R;
    let (cause, fixes): (&str, Vec<String>) = match (rule, observed) {
        (R::SignedOutPage, _) => (
            "Sign Out did not end on a signed-out page: the application came back (a silent \
             sign-in through single sign-on) or the sign-out request failed.",
            match mode {
                Ifd | Claims => vec![
                    "AD FS: CRM's sign-out must reach AD FS with wa=wsignout1.0 and come back to \
                     CRM's signed-out page; check the relying party's WS-Federation endpoint and \
                     any reverse proxy in the way."
                        .into(),
                    "Target file: check pages.sign_out and pages.signed_out_text against the \
                     deployment's pages (logout-harness check)."
                        .into(),
                ],
                _ => vec![
                    "Target file: check pages.sign_out and pages.signed_out_text against the \
                     deployment's pages (logout-harness check)."
                        .into(),
                ],
            },
        ),
        (R::AuthCookiesRemoved, _) => (
            "The sign-out response does not expire the authentication cookies (a Set-Cookie \
             with a date in the past), so the browser keeps them.",
            match mode {
                Ifd | Claims => vec![
                    "CRM: its sign-out page clears the MSISAuth cookies; a customised sign-out \
                     link or a proxy that drops Set-Cookie headers leaves them."
                        .into(),
                ],
                Fba => vec![
                    "CRM 4.0: Log Out must delete the MSCRMSession cookie; check customisations \
                     of the sign-out page and any proxy."
                        .into(),
                ],
                Iwa => vec![
                    "Windows authentication sets no application cookie; a cookie \
                     left here comes from a customisation or another application on the site."
                        .into(),
                ],
            },
        ),
        (R::ReplayRefused, _) => (
            "The session is not ended on the server: the cookie carries a self-contained token \
             (or a signed session) that stays valid until it expires, so a copy taken before \
             sign-out still works.",
            match mode {
                Ifd | Claims => vec![
                    format!(
                        "CRM 8.2 and later: turn on access token management \
                         (SetAdvancedSettings.ps1 -ConfigurationEntityName ServerSettings \
                         -SettingName WSFedNonceCookieEnabled -SettingValue true), which refuses \
                         a signed-out token ({SESSION_MGMT})."
                    ),
                    "AD FS: lower the relying party's TokenLifetime, which bounds how long a \
                     copied token lives (Set-AdfsRelyingPartyTrust -TokenLifetime)."
                        .into(),
                ],
                _ => vec![format!(
                    "Keep sessions on the server and delete them at sign-out, so the old cookie \
                     names nothing ({OWASP_SESSION})."
                )],
            },
        ),
        (R::LeftoverCookies, _) => (
            "The cookies left after sign-out differ from the reviewed snapshot: an upgrade, a new \
             module, a proxy or a changed setting now leaves different cookies.",
            vec![
                "Review the diff; if the change is intended, record it with --update-snapshots \
                 and commit the snapshot."
                    .into(),
            ],
        ),
        // An application of another kind signing in through its own identity provider: its
        // sign-out must reach the provider in that provider's protocol.
        (R::SsoReauthentication, _) if matches!(mode, Fba | Iwa) => (
            "The identity provider's session survived the application's sign-out: Sign out \
             ended only the application's own session and never reached the provider, whose \
             session cookie signs the user straight back in.",
            vec![
                format!(
                    "Application (relying party): make Sign out send the browser to the \
                     provider's sign-out in its protocol: OpenID Connect RP-initiated logout to \
                     the provider's end_session_endpoint ({OIDC_LOGOUT}), SAML 2.0 Single Logout \
                     (the provider's metadata the application uses must list a \
                     SingleLogoutService), CAS /logout, WS-Federation wsignout1.0."
                ),
                "Identity provider: check that it advertises and honours that sign-out (an \
                 OpenID provider with RP-initiated logout turned off publishes no \
                 end_session_endpoint, and its relying parties then sign out locally only)."
                    .into(),
            ],
        ),
        (R::SsoReauthentication, _) => (
            "The identity provider's session outlives CRM's sign-out: the AD FS single sign-on \
             cookie (SsoLifetime), \"Keep me signed in\" or persistent SSO, or Kerberos to AD \
             FS from the Local intranet zone signs the user straight back in.",
            vec![
                format!(
                    "AD FS: shorten SsoLifetime and turn off KMSI and persistent SSO \
                     (Set-AdfsProperties -SsoLifetime, -EnableKmsi $false, -EnablePersistentSso \
                     $false) ({ADFS_SSO})."
                ),
                "CRM: make Sign Out also sign out of AD FS (wa=wsignout1.0), as the stock \
                 sign-out does; a customised sign-out link may skip it."
                    .into(),
                format!(
                    "Browser policy: take AD FS out of the Local intranet zone / the \
                     AuthServerAllowlist if users must type credentials again ({CHROME_POLICY})."
                ),
            ],
        ),
        (R::SsoSignOutReply, _) => (
            "AD FS's sign-out follows a reply address (wreply) on any host, so a sign-out link \
             can send users to an attacker's page that looks like the sign-in (an open \
             redirect).",
            vec![
                "AD FS: let sign-out redirect only beneath the relying parties' registered \
                 addresses (the stock behaviour); remove any customisation or proxy rule that \
                 redirects to the wreply as given."
                    .into(),
                "Reverse proxy or web application firewall: refuse wsignout1.0 requests whose \
                 wreply is not under a known relying party."
                    .into(),
            ],
        ),
        (R::BackButtonData, _) | (R::PagesNotStored, _) => (
            "Authenticated pages may be stored by the browser (no Cache-Control: no-store), so \
             Back shows them from the cache after sign-out.",
            vec![format!(
                "IIS: send Cache-Control: no-store on the CRM site's authenticated pages (HTTP \
                 Response Headers, or customHeaders in web.config) ({IIS_HEADERS})."
            )],
        ),
        (R::OtherTabAfterSignOut, _) | (R::AdminEndsAllSessions, _) => (
            "The session the other tab (or device) holds is not ended on the server, or single \
             sign-on opens a new one silently.",
            match mode {
                Ifd | Claims => vec![
                    format!(
                        "CRM: turn on access token management (WSFedNonceCookieEnabled) so \
                         every copy of a signed-out token is refused ({SESSION_MGMT})."
                    ),
                    format!("AD FS: shorten SsoLifetime, turn off KMSI ({ADFS_SSO})."),
                ],
                _ => vec![format!(
                    "Keep sessions on the server and end all of them at sign-out \
                     ({OWASP_SESSION})."
                )],
            },
        ),
        (R::OtherTabPageCleared, _) => (
            "The page open in the other tab did not hear of the sign-out: CRM's session script, \
             which keeps tabs in step through localStorage (oss_mustSignOut), is missing, \
             blocked or changed, so the signed-out user's data stays on screen there.",
            vec![
                "CRM: keep the stock session script (ClientGlobalContext.js.aspx and the page's \
                 session monitor) on every page, and let the browser use localStorage for the \
                 CRM site."
                    .into(),
                "Policy: where a deployment has no such script (before 8.2), expect data-shown \
                 and rely on tabs.other-tab-after-sign-out (the next action is refused)."
                    .into(),
            ],
        ),
        (R::ReauthDialogThroughIdp, O::NotShown) => (
            "The expiry warning showed no re-authenticate dialog (CRM 8.2/9.x's reAuthObject \
             with its Sign In, _sign_in).",
            vec![
                "CRM: keep the stock session script on every page; or, in the policy, leave \
                 this rule out where the deployment has no such dialog."
                    .into(),
            ],
        ),
        (R::ReauthDialogThroughIdp, _) => (
            "The re-authenticate dialog's Sign In extended the old session on CRM alone: no new \
             token came from the identity provider, so a session outlives the identity \
             provider's decision (a disabled user, an ended single sign-on session).",
            vec![format!(
                "CRM: keep the stock dlg_prompt_reauthenticate.aspx, which asks AD FS for a new \
                 token; remove any customisation that renews sessions itself ({SESSION_MGMT})."
            )],
        ),
        (R::SessionAfterTabClose, _) => (
            "Cookies belong to the browser profile, not to a tab: closing a tab (not the last \
             window) never ends a session in any browser.",
            vec![
                "Policy: expect the session to stay alive after a tab closes; rely on Sign Out \
                 and the idle timeout to end it."
                    .into(),
            ],
        ),
        (R::OtherDeviceAfterSignOut, O::SignedIn) => (
            "Sign Out ends only this browser's session; the other device keeps its own.",
            vec![format!(
                "CRM: if one sign-out must end every session, turn on access token \
                     management ({SESSION_MGMT}) or end the user's sessions as an administrator; \
                     otherwise expect this in the policy."
            )],
        ),
        (R::OtherDeviceAfterSignOut, _) => (
            "Signing out on one device ended the user's session on the other too.",
            vec!["Policy: expect it, if ending every session at sign-out is intended.".into()],
        ),
        (R::SessionAfterReopen, _) | (R::FbaFreshLogin, _) | (R::CookieLifetime, _) => (
            "An authentication cookie is persistent (it has Expires or Max-Age), so it survives \
             closing the browser.",
            match mode {
                Ifd | Claims => vec![format!(
                    "AD FS: \"Keep me signed in\" and persistent SSO make AD FS's cookies \
                     persistent: Set-AdfsProperties -EnableKmsi $false -EnablePersistentSso \
                     $false ({ADFS_SSO}); CRM's own MSISAuth cookies are session cookies."
                )],
                Fba => vec![
                    "CRM 4.0: the MSCRMSession ticket cookie must be a session cookie; check \
                     customisations of the sign-in page."
                        .into(),
                ],
                Iwa => vec![
                    "Windows authentication signs in again with the ticket on every \
                     new browser; see iwa.relogin-after-sign-out."
                        .into(),
                ],
            },
        ),
        (R::SessionAfterRestore, _) => (
            "\"Continue where you left off\" restores session cookies when the browser \
             reopens, so the session survives; the server cannot tell.",
            vec![
                format!(
                    "Browser policy: RestoreOnStartup other than 1 on managed machines \
                     ({CHROME_POLICY})."
                ),
                "CRM: an idle and a session timeout limit how long such a session lives.".into(),
            ],
        ),
        (R::IwaSilentSignIn, _) => (
            "The browser does not send Kerberos to CRM automatically: the site is not in the \
             Local intranet zone or the Negotiate allowlist, the user has no ticket, or CRM's \
             service principal name is missing.",
            vec![
                format!(
                    "Browser policy: add CRM's host to AuthServerAllowlist (Chrome, Edge) or the \
                     Local intranet zone ({CHROME_POLICY})."
                ),
                "Active Directory: register HTTP/<crm host> on the CRM application pool's \
                 account (setspn -S)."
                    .into(),
            ],
        ),
        (R::IwaReloginAfterSignOut, O::SilentSignIn) => (
            "With Windows authentication there is no application session to end: after Sign \
             Out the browser negotiates Kerberos/NTLM again and the user is back in without a \
             prompt.",
            vec![
                format!(
                    "Browser policy: turn off automatic logon for CRM (take it out of the Local \
                     intranet zone / AuthServerAllowlist), so the browser asks for credentials \
                     ({CHROME_POLICY})."
                ),
                "CRM: where Sign Out must prompt, use claims-based authentication (IFD or \
                 claims for internal access) instead of Windows authentication."
                    .into(),
            ],
        ),
        (R::IwaReloginAfterSignOut, _) => (
            "After Sign Out the browser asked for credentials: it does not send Kerberos to CRM \
             automatically.",
            vec![
                "Browser policy: if silent sign-in is expected, add CRM's host to \
                 AuthServerAllowlist or the Local intranet zone; else expect the prompt in the \
                 policy."
                    .into(),
            ],
        ),
        (R::IwaNoTicketRefused, _) => (
            "A browser without a Kerberos ticket got in: anonymous access, or another \
             authentication method, is enabled on the CRM site.",
            vec![
                "IIS: turn off Anonymous Authentication on the CRM web site and keep Windows \
                 Authentication only."
                    .into(),
            ],
        ),
        (R::IdleTimeout, O::Early) | (R::AbsoluteTimeout, O::Early) => (
            "The session ends sooner than configured: a shorter limit applies first (the AD FS \
             relying party's TokenLifetime, CRM's session length, an application pool recycle) \
             or the configured value is not the one in effect.",
            match mode {
                Ifd | Claims => vec![
                    "AD FS: compare the relying party's TokenLifetime (60 min by default for \
                     CRM) with CRM's timeouts (Get-AdfsRelyingPartyTrust)."
                        .into(),
                    format!("CRM: check System Settings > General ({SESSION_MGMT})."),
                ],
                _ => vec![
                    "IIS: check the forms and session-state timeouts in CRM's web.config and the \
                     application pool's recycling settings."
                        .into(),
                ],
            },
        ),
        (R::IdleTimeout, _) | (R::AbsoluteTimeout, _) => (
            "The timeout is not in effect, or is longer than configured (CRM ships with no \
             inactivity timeout and a 1440-minute session).",
            match mode {
                Ifd | Claims => vec![format!(
                    "CRM: allow the setting (SetAdvancedSettings.ps1 -ConfigurationEntityName \
                     ServerSettings -SettingName AllowCustomInactivityDuration / \
                     AllowCustomSessionDuration -SettingValue true), then set it in System \
                     Settings > General ({SESSION_MGMT})."
                )],
                Fba => vec![
                    "IIS/ASP.NET: the forms authentication timeout and session state timeout in \
                     CRM's web.config."
                        .into(),
                ],
                Iwa => vec![format!(
                    "CRM's session timeouts need claims-based authentication and do not apply to \
                     Windows authentication ({SESSION_MGMT})."
                )],
            },
        ),
        (R::TimeoutReminder, _) => (
            "No reminder before expiry: CRM shows it only with its session or inactivity \
             timeout turned on, and with a reminder time set.",
            vec![format!(
                "CRM: System Settings > General, \"how long before the session expires do you \
                 want to show a timeout warning\" ({SESSION_MGMT})."
            )],
        ),
        (R::CookieSecure, _) => (
            "An authentication cookie is sent over plain HTTP too (no Secure attribute).",
            vec![format!(
                "IIS/ASP.NET: <httpCookies requireSSL=\"true\" /> in web.config, and serve CRM \
                 over HTTPS only ({HTTP_COOKIES})."
            )],
        ),
        (R::CookieHttpOnly, _) => (
            "An authentication cookie can be read by page scripts (no HttpOnly attribute).",
            vec![format!(
                "IIS/ASP.NET: <httpCookies httpOnlyCookies=\"true\" /> in web.config \
                 ({HTTP_COOKIES})."
            )],
        ),
        (R::CookieSameSite, _) => (
            "An authentication cookie's SameSite is not the one the policy asks for.",
            vec![
                "IIS/ASP.NET (.NET 4.7.2 and later): the sameSite attribute of <httpCookies>, \
                 <sessionState cookieSameSite> or <forms cookieSameSite> in web.config; mind \
                 that AD FS's cross-site POST back to CRM needs the token cookie to arrive."
                    .into(),
            ],
        ),
        (R::SsoOtherRelyingParty, _) => (
            "AD FS's sign-out did not end the other application's session: AD FS sent it no \
             wsignoutcleanup1.0 request (the relying party trust has no WS-Federation \
             endpoint, or sign-out did not go through AD FS), or the application ignores it.",
            vec![
                "AD FS: give every relying party trust a WS-Federation passive endpoint \
                 (Set-AdfsRelyingPartyTrust -WSFedEndpoint), which is where AD FS sends \
                 wsignoutcleanup1.0 ([MS-MWBF] 3.2.5.3.4)."
                    .into(),
                "The other application: handle wa=wsignoutcleanup1.0 by ending its session and \
                 expiring its cookie (WIF's WSFederationAuthenticationModule does)."
                    .into(),
            ],
        ),
        (R::SsoOtherRelyingPartyBlocked, _) => (
            "AD FS's clean-up requests come from its sign-out page, another site than the \
             application: a browser that blocks third-party cookies sends them without the \
             application's cookie, so its session survives.",
            vec![
                "The other application: keep its sign-in on the same site as AD FS (one \
                 registrable domain), or end its sessions when AD FS's SSO session ends (short \
                 session lifetimes, re-checking with AD FS)."
                    .into(),
                format!(
                    "Browser policy: allow third-party cookies for the application's site \
                     (CookiesAllowedForUrls) ({CHROME_POLICY})."
                ),
            ],
        ),
        (R::CookieNoCredentials, _) => (
            "A cookie holds the user's password (in clear or encoded).",
            vec![
                "Remove the customisation or module that stores credentials in a cookie; \
                 change the exposed passwords."
                    .into(),
            ],
        ),
        (R::SsoKmsiAfterSignOut, O::CredentialsAsked) => (
            "After Sign Out and reopening the browser the user was asked for credentials: the \
             \"Keep me signed in\" session ended at sign-out, as it should.",
            vec![
                "Policy: expect credentials-asked (sign-out ending the persistent session is \
                 what AD FS and ASVS 7.4.1 ask); nothing to change at AD FS or CRM."
                    .into(),
            ],
        ),
        (R::SsoKmsiAfterSignOut, _) => (
            "AD FS's persistent single sign-on session (\"Keep me signed in\" or persistent SSO) \
             was not revoked at sign-out: its persistent MSISAuth cookie survives closing the \
             browser and AD FS still honours it, so the reopened browser is signed straight \
             back in.",
            match mode {
                Ifd | Claims => vec![
                    format!(
                        "AD FS: turn off \"Keep me signed in\" (Set-AdfsProperties -EnableKmsi \
                         $false), or lower KmsiLifetimeMins (1440 by default) and \
                         PersistentSsoLifetimeMins; -PersistentSsoCutoffTime revokes persistent \
                         SSO cookies issued before it ({ADFS_SSO})."
                    ),
                    "CRM: make Sign Out go through AD FS's wa=wsignout1.0 (the stock sign-out \
                     does; a customised sign-out link or a proxy may skip it), so that AD FS \
                     expires its cookies and ends its session."
                        .into(),
                ],
                Fba | Iwa => vec![
                    "There is no AD FS in this mode, so no \"Keep me signed in\": a persistent \
                     cookie of a customisation or a proxy in front of CRM signs the user back \
                     in; remove it or end its session at sign-out."
                        .into(),
                ],
            },
        ),
        (R::ReplayAllRefused, _) => (
            "An endpoint accepts the authentication cookie without the server-side session: \
             it runs in another application (another application pool, web farm node or \
             handler) that checks only the cookie's signature or a ticket it cached, or a cache \
             in front of it answers for the signed-in user. The accepted URLs in the evidence \
             name the endpoint family.",
            match mode {
                Ifd | Claims => vec![
                    format!(
                        "IIS: serve every path of the CRM web site (the Web API, \
                         XRMServices, downloads, web resources) from CRM's own application and \
                         application pool on every front-end server; a virtual directory or \
                         application added beneath the site with a pool of its own validates \
                         the cookie without CRM's session ({IIS_APP_POOLS})."
                    ),
                    format!(
                        "CRM 8.2 and later: turn on access token management \
                         (WSFedNonceCookieEnabled), which refuses a signed-out token on every \
                         request to CRM ({SESSION_MGMT})."
                    ),
                    "Reverse proxy or cache: never answer a request that carries a cookie from \
                     the cache (Cache-Control: private or no-store on the accepted URLs)."
                        .into(),
                ],
                _ => vec![
                    format!(
                        "Make every endpoint look the session up on the server and refuse one \
                         ended by Sign Out; a handler in another application or pool that trusts \
                         the cookie alone must share the session store ({OWASP_SESSION}, \
                         {IIS_APP_POOLS})."
                    ),
                    "Reverse proxy or cache: never answer a request that carries a cookie from \
                     the cache (Cache-Control: private or no-store on the accepted URLs)."
                        .into(),
                ],
            },
        ),
        (R::ClaimsAdfsSignedOut, _) => (
            "CRM signed out but AD FS was never told (the browser did not reach AD FS's \
             wa=wsignout1.0, or AD FS kept its session): AD FS's single sign-on cookie still \
             gets a token, so the next visit is signed straight back in without any Windows \
             authentication.",
            vec![
                "CRM: make Sign Out go through AD FS's wa=wsignout1.0 (the stock sign-out does; a \
                 customised sign-out link or a reverse proxy may skip it), so that AD FS expires \
                 its MSISAuth cookies and ends its session \
                 (https://learn.microsoft.com/en-us/previous-versions/dynamicscrm-2013/crm.6/gg188586(v=crm.6))."
                    .into(),
                format!(
                    "AD FS: a shorter SsoLifetime bounds how long such a session lives \
                     (Set-AdfsProperties -SsoLifetime) ({ADFS_SSO})."
                ),
            ],
        ),
        (R::ClaimsReloginAfterSignOut, O::AdfsSession) => (
            "The way back in was AD FS's single sign-on session, which outlived Sign Out: AD FS \
             was never told of the sign-out, so it issued a token without asking for Windows \
             authentication. This is a defect, not the expected Kerberos sign-in.",
            vec![
                "CRM: make Sign Out go through AD FS's wa=wsignout1.0, so that AD FS ends its \
                 session; after that only Windows authentication (or a prompt) can sign the user \
                 back in."
                    .into(),
                format!(
                    "AD FS: a shorter SsoLifetime bounds how long such a session lives \
                     (Set-AdfsProperties -SsoLifetime) ({ADFS_SSO})."
                ),
            ],
        ),
        (R::ClaimsReloginAfterSignOut, _) => (
            "Internal claims access: AD FS signs intranet browsers in with Windows authentication \
             (Kerberos), so after a complete sign-out (CRM and AD FS) the browser's ticket signs \
             the user straight back in without a prompt. Microsoft documents this as expected \
             (https://learn.microsoft.com/en-us/previous-versions/dynamicscrm-2013/crm.6/gg188586(v=crm.6)); \
             a deployment that must ask for credentials after Sign Out has to change it.",
            vec![
                "AD FS: use forms authentication for intranet users too \
                 (Set-AdfsGlobalAuthenticationPolicy -PrimaryIntranetAuthenticationProvider \
                 FormsAuthentication, https://learn.microsoft.com/powershell/module/adfs/set-adfsglobalauthenticationpolicy), \
                 or give CRM's users the internet-facing (IFD) address, whose AD FS shows the \
                 forms page."
                    .into(),
                format!(
                    "Browser policy: take AD FS out of the Local intranet zone and out of the \
                     Negotiate allowlist (Chrome and Edge policy AuthServerAllowlist, \
                     {CHROME_POLICY}#AuthServerAllowlist), so the browser no longer offers its \
                     ticket to AD FS."
                ),
            ],
        ),
        (R::AccessTokenManagement, O::SignedIn) => (
            "Access token management is declared on, but Sign Out did not revoke the user's \
             token in the other browser: the setting is not in effect for this organization, or \
             this CRM version does not have it, so the other device's self-contained token stays \
             valid until it expires.",
            vec![
                format!(
                    "CRM: turn access token management on for this organization \
                     (SetAdvancedSettings.ps1 -ConfigurationEntityName ServerSettings \
                     -SettingName WSFedNonceCookieEnabled -SettingValue true, or \
                     -ConfigurationEntityName Organization -Id <orgid> for one organization), on a \
                     version that has it (2015, 2016: 8.1 through support, 8.2 Update 2.2; 9.x) \
                     ({SESSION_MGMT})."
                ),
                "Target file: if the feature is off, declare `access_token_management: false`; \
                 the other device then stays signed in as devices.other-device-after-sign-out \
                 judges."
                    .into(),
            ],
        ),
        (R::AccessTokenManagement, _) => (
            "Sign Out on one device ended the user's session on the other too, as access token \
             management does.",
            vec![
                "Policy: expect signed-out with access token management on; nothing to change \
                 at CRM."
                    .into(),
            ],
        ),
        (R::ExpiryDialogSignsOut, O::NotShown) => (
            "No session-expired dialog appeared when the session ended: CRM shows it only with \
             its session or inactivity timeout in effect (CRM 8.2 and later, claims-based \
             authentication), or pages.expiry_close names another element.",
            vec![
                format!(
                    "CRM: System Settings > General, set session timeout / inactivity timeout \
                     ({SESSION_MGMT})."
                ),
                "Target file: point pages.expiry_close at the dialog's Close button, or set it \
                 to null when the deployment shows none."
                    .into(),
            ],
        ),
        (R::ExpiryDialogSignsOut, _) => (
            "The session-expired dialog's Close did not sign out of AD FS: a customised or \
             older client script reloads the page (or goes to a CRM-only sign-out), and AD FS's \
             single sign-on session, still alive, issues a new token without a prompt (the \
             problem reported in MicrosoftDocs/dynamics-365-customer-engagement issue 3217).",
            vec![
                "CRM: Close must navigate to main.aspx?signout=1, which signs out of AD FS too \
                 (wa=wsignout1.0); remove customisations of the session-timeout script and \
                 check that no proxy rewrites the sign-out."
                    .into(),
                format!(
                    "AD FS: shorten SsoLifetime and turn off \"Keep me signed in\" \
                     (Set-AdfsProperties -SsoLifetime, -EnableKmsi $false), so a reload after \
                     expiry meets no live single sign-on session ({ADFS_SSO})."
                ),
            ],
        ),
        (R::ReauthAfterExpiry, O::SilentSignIn) => (
            "CRM's session ended on the server, but AD FS's single sign-on session did not: \
             the next page went to AD FS, which issued a new token without a prompt (SsoLifetime \
             480 min by default outlives CRM's session and the relying party's 60-minute \
             TokenLifetime). The timeout did not force re-authentication.",
            match mode {
                Ifd => vec![
                    format!(
                        "AD FS: make SsoLifetime no longer than CRM's session (Set-AdfsProperties \
                         -SsoLifetime <minutes>) and turn off \"Keep me signed in\" and \
                         persistent SSO (-EnableKmsi $false -EnablePersistentSso $false) \
                         ({ADFS_SSO})."
                    ),
                    format!(
                        "AD FS: the relying party's TokenLifetime bounds CRM's session \
                         (Set-AdfsRelyingPartyTrust -TargetName <crm> -TokenLifetime <minutes>); \
                         CRM's maximum session length and inactivity timeout are in System \
                         Settings > General ({SESSION_MGMT})."
                    ),
                    "CRM: let the session-expired dialog's Close sign out (main.aspx?signout=1 \
                     reaches AD FS wsignout1.0); an expiry without it leaves AD FS signed in."
                        .into(),
                ],
                _ => vec![format!(
                    "Keep the session's end on the server and ask for credentials at the next \
                     request; a single sign-on in front of the application must end with it \
                     ({OWASP_SESSION})."
                )],
            },
        ),
        (R::ReauthAfterExpiry, _) => (
            "After the session expired the user had to sign in again: no single sign-on \
             session outlived it.",
            vec![
                "Policy: expect credentials-asked where a timeout must force re-authentication \
                 (the strict policy does); nothing to change at AD FS or CRM."
                    .into(),
            ],
        ),
        (R::IwaPromptAfterSignOut, O::SilentSignIn) => (
            "The browser kept the credentials typed into its prompt in its HTTP-auth cache and \
             answered CRM's Windows authentication challenge with them after Sign Out: with \
             Windows authentication there is no application session to end, and a browser \
             forgets typed credentials only when it closes.",
            vec![
                "Users: after Sign Out, close every browser window (Chromium and Edge keep typed \
                 Windows credentials until the browser process ends; Internet Explorer offered \
                 document.execCommand('ClearAuthenticationCache'))."
                    .into(),
                format!(
                    "CRM: where Sign Out itself must end access, use claims-based authentication \
                     (IFD, or claims for internal access), which has a session that sign-out \
                     ends ({SESSION_MGMT})."
                ),
            ],
        ),
        (R::IwaPromptAfterSignOut, _) => (
            "After Sign Out the browser asked for credentials again: it did not answer CRM's \
             challenge from its HTTP-auth cache.",
            vec![
                "Policy: if a silent return is what your users get, accept \
                 [credentials-asked, silent-sign-in] for this rule."
                    .into(),
            ],
        ),
        (R::IwaPromptAfterBrowserClose, O::SilentSignIn) => (
            "A browser that was closed and reopened got into CRM with no prompt although it \
             does not sign in to Windows automatically: something outlived the browser \
             process, such as a persistent cookie that CRM, a customisation or a proxy honours \
             instead of Windows authentication, or credentials the browser saved.",
            vec![
                "IIS: keep only Windows Authentication on the CRM web site (no Anonymous or Forms \
                 authentication that a cookie could satisfy), and remove persistent cookies that \
                 sign users in."
                    .into(),
                format!(
                    "Browser policy: do not save Windows credentials for CRM, and keep CRM out of \
                     AuthServerAllowlist if users must be asked ({CHROME_POLICY})."
                ),
            ],
        ),
        (R::ChangeReachesSessions, _) => (
            "The sessions signed in before the administrator's change kept working past the \
             bound: the change reaches new sign-ins only, or a layer in front keeps its own \
             session (a cached authorization, an identity provider's single sign-on session \
             that signs the user back in).",
            match mode {
                Ifd | Claims => vec![
                    "AD FS: a user disabled in Active Directory keeps signing in while the AD FS \
                     single sign-on session lives, 8 hours by default (SsoLifetime); disable the \
                     user in CRM too (CRM refuses a disabled user's requests), end the user's \
                     sessions, and lower SsoLifetime and the relying party's TokenLifetime (60 \
                     minutes by default) where the delay matters."
                        .into(),
                    "Persistent single sign-on and \"Keep me signed in\": Set-AdfsProperties \
                     -PersistentSsoCutoffTime rejects the persistent cookies issued before it."
                        .into(),
                ],
                _ => vec![
                    "Disable the user in the application itself, not only in the directory, and \
                     end the user's sessions; make settings that must reach live sessions apply \
                     per request, not per sign-in."
                        .into(),
                ],
            },
        ),
        (R::IwaPromptAfterBrowserClose, _) => (
            "After closing and reopening the browser it asked for credentials: the expected \
             end of a Windows-authenticated visit.",
            vec![
                "Policy: this outcome is the documented logout for Windows authentication; \
                 expect credentials-asked."
                    .into(),
            ],
        ),
    };
    Remedy {
        likely_cause: cause.to_string(),
        fix: fixes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_and_outcome_has_a_cause_and_a_fix_in_every_mode() {
        for rule in RuleId::all() {
            for outcome in rule.outcomes() {
                for mode in AuthMode::ALL {
                    let r = remedy(rule, *outcome, mode);
                    assert!(r.likely_cause.len() > 20, "{rule} {outcome} {mode}");
                    assert!(!r.fix.is_empty(), "{rule} {outcome} {mode}");
                }
            }
        }
    }

    /// Where the fix depends on the mode, a CRM behind AD FS (ifd, claims) is told what to change
    /// at AD FS or in CRM, and an application that signs in on its own (fba) is not sent to AD
    /// FS: an administrator acts on the fix as printed.
    #[test]
    fn a_crm_behind_ad_fs_gets_the_ad_fs_fix_and_a_forms_application_does_not() {
        use AuthMode::{Claims, Fba, Ifd};
        use RuleId as R;
        let both = [Ifd, Claims];
        let cases: [(RuleId, Option<Outcome>, &[AuthMode]); 10] = [
            (R::SignedOutPage, None, &both),
            (R::ReplayRefused, None, &both),
            (R::OtherTabAfterSignOut, None, &both),
            (R::AdminEndsAllSessions, None, &both),
            (R::IdleTimeout, Some(Outcome::Early), &both),
            (R::AbsoluteTimeout, Some(Outcome::Early), &both),
            (R::ReplayAllRefused, None, &both),
            (R::ReauthAfterExpiry, Some(Outcome::SilentSignIn), &[Ifd]),
            (R::ChangeReachesSessions, None, &both),
            (R::AuthCookiesRemoved, None, &both),
        ];
        for (rule, outcome, modes) in cases {
            let outcomes = match outcome {
                Some(o) => vec![o],
                None => rule.outcomes().to_vec(),
            };
            for outcome in outcomes {
                let forms = remedy(rule, outcome, Fba);
                assert!(
                    !forms.fix.iter().any(|f| f.contains("AD FS")),
                    "{rule} {outcome} fba: {forms:?}"
                );
                for mode in modes {
                    let r = remedy(rule, outcome, *mode);
                    assert_ne!(r.fix, forms.fix, "{rule} {outcome} {mode}");
                    assert!(
                        r.fix
                            .iter()
                            .any(|f| f.starts_with("AD FS") || f.contains("CRM")),
                        "{rule} {outcome} {mode}: {r:?}"
                    );
                }
            }
        }
    }

    /// An application signing in through its own identity provider (OpenID Connect, SAML) is
    /// told to send Sign out to that provider; a CRM behind AD FS, to shorten AD FS's single
    /// sign-on.
    #[test]
    fn a_silent_re_login_is_fixed_at_the_applications_own_identity_provider() {
        for outcome in RuleId::SsoReauthentication.outcomes() {
            for mode in [AuthMode::Fba, AuthMode::Iwa] {
                let r = remedy(RuleId::SsoReauthentication, *outcome, mode);
                assert!(r.fix[0].contains(OIDC_LOGOUT), "{mode}: {r:?}");
            }
            for mode in [AuthMode::Ifd, AuthMode::Claims] {
                let r = remedy(RuleId::SsoReauthentication, *outcome, mode);
                assert!(r.fix[0].contains("SsoLifetime"), "{mode}: {r:?}");
            }
        }
    }

    #[test]
    fn early_and_unenforced_timeouts_have_different_causes() {
        let early = remedy(RuleId::IdleTimeout, Outcome::Early, AuthMode::Ifd);
        let off = remedy(RuleId::IdleTimeout, Outcome::NotEnforced, AuthMode::Ifd);
        assert_ne!(early.likely_cause, off.likely_cause);
        assert!(off.fix[0].contains("AllowCustomInactivityDuration"));
    }

    #[test]
    fn a_token_kept_on_the_other_device_points_at_wsfed_nonce_cookie_enabled() {
        let r = remedy(
            RuleId::AccessTokenManagement,
            Outcome::SignedIn,
            AuthMode::Ifd,
        );
        assert!(r.likely_cause.contains("did not revoke"), "{r:?}");
        assert!(r.fix[0].contains("WSFedNonceCookieEnabled"), "{r:?}");
        assert!(r.fix[0].contains(SESSION_MGMT), "{r:?}");
    }

    #[test]
    fn a_kmsi_session_kept_after_sign_out_points_at_adfs_kmsi_settings() {
        let r = remedy(
            RuleId::SsoKmsiAfterSignOut,
            Outcome::SilentSignIn,
            AuthMode::Ifd,
        );
        assert!(r.likely_cause.contains("not revoked at sign-out"), "{r:?}");
        assert!(r.fix[0].contains("-EnableKmsi $false"), "{r:?}");
        assert!(r.fix[0].contains("KmsiLifetimeMins"), "{r:?}");
        assert!(r.fix[0].contains(ADFS_SSO), "{r:?}");
        assert!(r.fix[1].contains("wa=wsignout1.0"), "{r:?}");
    }

    #[test]
    fn windows_authentication_at_adfs_and_a_surviving_adfs_session_have_different_fixes() {
        let kerberos = remedy(
            RuleId::ClaimsReloginAfterSignOut,
            Outcome::WindowsAuthentication,
            AuthMode::Claims,
        );
        let defect = remedy(
            RuleId::ClaimsReloginAfterSignOut,
            Outcome::AdfsSession,
            AuthMode::Claims,
        );
        assert_ne!(kerberos.likely_cause, defect.likely_cause);
        assert!(
            kerberos.fix[0].contains("PrimaryIntranetAuthenticationProvider"),
            "{kerberos:?}"
        );
        assert!(
            kerberos.fix[1].contains("AuthServerAllowlist"),
            "{kerberos:?}"
        );
        assert!(defect.likely_cause.contains("never told"), "{defect:?}");
        assert!(defect.fix[0].contains("wa=wsignout1.0"), "{defect:?}");
    }
}
