//! Where and how to sign in and out: the target profile (`fixtures/targets/*.yaml`).
//!
//! A target is either the embedded emulator (`crm: embedded`) or a real deployment (`crm:` its
//! organization URL). CRM facts the steps need (selectors, the start page, the probe URL) live here,
//! never in the steps, so a deployment whose pages differ is handled by editing YAML.
//!
//! Passwords never come from the YAML: a real target names an environment variable
//! (`password_env`) or a file (`password_file`) per user.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::yaml::{self, ConfigError};

/// The authentication mode of a deployment (docs/crm-adfs-facts.md §1).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Claims-based Internet-Facing Deployment through AD FS (CRM 2011 to 9.x).
    #[default]
    Ifd,
    /// Integrated Windows Authentication (Kerberos / NTLM).
    Iwa,
    /// CRM 4.0 forms authentication (`MSCRMSession` ticket).
    Fba,
    /// Claims-based authentication for internal access: CRM is AD FS's relying party as in
    /// `ifd`, but AD FS signs intranet users in with Windows authentication (Kerberos), not its
    /// forms page (docs/crm-adfs-facts.md §2.3, S23, S93).
    Claims,
}

impl AuthMode {
    /// Every mode, in the order a full run visits them.
    pub const ALL: [AuthMode; 4] = [
        AuthMode::Ifd,
        AuthMode::Iwa,
        AuthMode::Fba,
        AuthMode::Claims,
    ];

    /// The Gherkin tag of scenarios that apply to this mode.
    pub fn tag(self) -> &'static str {
        match self {
            AuthMode::Ifd => "ifd",
            AuthMode::Iwa => "iwa",
            AuthMode::Fba => "fba",
            AuthMode::Claims => "claims",
        }
    }

    /// Whether the browser signs in with a Kerberos ticket (Negotiate): at CRM itself (iwa) or
    /// at AD FS (claims). Such a browser needs the user's credential cache and the Negotiate
    /// allowlist.
    pub fn kerberos(self) -> bool {
        matches!(self, AuthMode::Iwa | AuthMode::Claims)
    }

    /// Whether CRM is a claims relying party of AD FS, with its `MSISAuth` session cookie.
    pub fn claims(self) -> bool {
        matches!(self, AuthMode::Ifd | AuthMode::Claims)
    }
}

impl AuthMode {
    /// Where an administrator sets the idle timeout (`session_length` false) or the session
    /// length in this mode, with the public source of each (docs/crm-adfs-facts.md §4).
    pub fn timeout_settings(self, session_length: bool) -> &'static [&'static str] {
        match (self, session_length) {
            (AuthMode::Ifd | AuthMode::Claims, false) => &[
                "CRM: Settings > Administration > System Settings > General > \"Set inactivity \
                 timeout\" (InactivityTimeoutInMins, at least 5 min; off by default). On-premises \
                 it is first allowed with SetAdvancedSettings.ps1 -ConfigurationEntityName \
                 ServerSettings -SettingName AllowCustomInactivityDuration -SettingValue true \
                 (https://learn.microsoft.com/en-us/dynamics365/customerengagement/on-premises/admin/user-session-management)",
                "AD FS: after CRM's session ends, the AD FS single sign-on session (SsoLifetime, \
                 480 min by default: Set-AdfsProperties -SsoLifetime) signs the user back in \
                 without credentials \
                 (https://learn.microsoft.com/en-us/windows-server/identity/ad-fs/operations/ad-fs-single-sign-on-settings)",
            ],
            (AuthMode::Ifd | AuthMode::Claims, true) => &[
                "CRM: Settings > Administration > System Settings > General > \"Set session \
                 timeout\" (SessionTimeoutInMins, 1440 min by default, at least 60). On-premises \
                 it is first allowed with SetAdvancedSettings.ps1 -ConfigurationEntityName \
                 ServerSettings -SettingName AllowCustomSessionDuration -SettingValue true \
                 (https://learn.microsoft.com/en-us/dynamics365/customerengagement/on-premises/admin/user-session-management)",
                "AD FS: the relying party's token lifetime (TokenLifetime, 60 min by default for \
                 CRM: Set-AdfsRelyingPartyTrust -TargetName <relying party> -TokenLifetime <min>) \
                 (https://learn.microsoft.com/en-us/archive/technet-wiki/7681.setting-the-adfs-timeout-for-crm-2011-crm-2013-crm-2015-or-crm-2016-internet-facing-deployments-ifd)",
                "AD FS: SsoLifetime (480 min by default) decides whether the user then signs in \
                 again without credentials \
                 (https://learn.microsoft.com/en-us/windows-server/identity/ad-fs/operations/ad-fs-single-sign-on-settings)",
            ],
            (AuthMode::Fba, _) => &[
                "CRM 4.0 forms authentication (IFD): the lifetime of the MSCRMSession ticket is set \
                 on the CRM server; Microsoft documents neither the setting nor its default, so \
                 this measurement is the way to know it \
                 (https://learn.microsoft.com/en-us/archive/blogs/jannemattila/adding-crm-4-0-to-your-own-win-app-with-web-form-authentication)",
                "IIS/ASP.NET: the forms authentication timeout (<forms timeout>, 30 min by \
                 default, slidingExpiration) and session state (<sessionState timeout>, 20 min by \
                 default) in CRM's web.config, where the deployment's sign-in uses them (not \
                 documented for CRM) \
                 (https://learn.microsoft.com/en-us/previous-versions/dotnet/netframework-4.0/1d3t3c61(v=vs.100), \
                 https://learn.microsoft.com/en-us/previous-versions/dotnet/netframework-4.0/h6bb9cz9(v=vs.100))",
            ],
            (AuthMode::Iwa, _) => &[
                "Windows authentication keeps no application session: CRM's session and inactivity \
                 timeouts need claims-based authentication and do not apply \
                 (https://learn.microsoft.com/en-us/dynamics365/customerengagement/on-premises/admin/user-session-management)",
                "The browser signs in again with its Kerberos ticket, whose lifetime is the domain's \
                 Kerberos policy \"Maximum lifetime for user ticket\" (10 hours by default) \
                 (https://learn.microsoft.com/en-us/previous-versions/windows/it-pro/windows-10/security/threat-protection/security-policy-settings/maximum-lifetime-for-user-ticket)",
            ],
        }
    }
}

impl std::str::FromStr for AuthMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AuthMode::ALL
            .into_iter()
            .find(|m| m.tag() == s)
            .ok_or_else(|| format!("`{s}` is not a mode (ifd, iwa, fba, claims)"))
    }
}

impl fmt::Display for AuthMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

impl From<AuthMode> for crm_sim::Mode {
    fn from(m: AuthMode) -> Self {
        match m {
            AuthMode::Ifd => crm_sim::Mode::Ifd,
            AuthMode::Iwa => crm_sim::Mode::Iwa,
            AuthMode::Fba => crm_sim::Mode::Fba,
            AuthMode::Claims => crm_sim::Mode::Claims,
        }
    }
}

/// The web client the deployment serves after sign-in, whose pages the scenarios work: CRM's
/// classic web client (2011 to 9.x), or the Unified Interface of CRM 9.x (profile button at the
/// top right, Sign Out in its flyout).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Ui {
    /// The classic web client (the default).
    #[default]
    Classic,
    /// The Unified Interface (CRM 9.x; not CRM 4.0, so not mode fba).
    Uci,
}

impl Ui {
    /// "classic" or "uci".
    pub fn tag(self) -> &'static str {
        match self {
            Ui::Classic => "classic",
            Ui::Uci => "uci",
        }
    }

    /// Whether a deployment in `mode` can serve this web client: the Unified Interface came
    /// with CRM 9.0, whose claims-based (ifd) and Windows (iwa) authentication serve it alike;
    /// CRM 4.0's forms authentication (fba) predates it.
    pub fn serves(self, mode: AuthMode) -> bool {
        self == Ui::Classic || mode != AuthMode::Fba
    }
}

impl fmt::Display for Ui {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

/// A pass's deployment as its verdicts carry it: the authentication mode and the web client.
/// Reports name it `ifd`, or `ifd-uci` for the Unified Interface (the classic web client's label
/// is the mode alone, as it was before there was a choice); whatever is decided from it (the
/// remedy of a violation) reads the typed fields, never the label.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PassMode {
    /// The authentication mode.
    pub mode: AuthMode,
    /// The web client.
    pub ui: Ui,
}

impl fmt::Display for PassMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ui {
            Ui::Classic => write!(f, "{}", self.mode),
            ui => write!(f, "{}-{ui}", self.mode),
        }
    }
}

impl Serialize for PassMode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl From<Ui> for crm_sim::Ui {
    fn from(u: Ui) -> Self {
        match u {
            Ui::Classic => crm_sim::Ui::Classic,
            Ui::Uci => crm_sim::Ui::Uci,
        }
    }
}

/// The person of the "browser without a Kerberos ticket" scenarios: not a user of the target, so
/// the run gives their browser the driver with an empty credential cache.
pub const NO_TICKET_PERSON: &str = "visitor";

/// The target file as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetFile {
    /// A name for reports and snapshot names, e.g. `contoso-prod`.
    pub name: String,
    /// `embedded`, or the organization URL of a real deployment (ending in `/`).
    pub crm: CrmLocation,
    /// The authentication mode of the deployment.
    pub mode: AuthMode,
    /// The people the scenarios sign in as, by the name the features use (`alice`, `bob`).
    pub users: BTreeMap<String, UserSpec>,
    /// Selector overrides for deployments whose pages differ from the defaults of `mode`.
    #[serde(default)]
    pub pages: PagesOverride,
    /// Extra certificate trust for a real deployment with an internal CA.
    #[serde(default)]
    pub tls: TlsSpec,
    /// Where the direct HTTP probe asks "who am I", relative to the organization URL.
    #[serde(default = "default_whoami")]
    pub whoami: String,
    /// The timeouts configured on the deployment, which the timeout scenarios measure.
    #[serde(default)]
    pub timeouts: TimeoutSpec,
    /// How an administrator acts on the deployment (ending a user's sessions); scenarios that need
    /// an action the target does not configure are not applicable.
    #[serde(default)]
    pub admin: AdminSpec,
    /// Host names pinned to addresses for the browsers and the probe, like curl's `--resolve`
    /// (a staging server without DNS): `{crm.contoso.test: 10.0.0.5}`.
    #[serde(default)]
    pub resolve: ResolveMap,
    /// Another application that signs in through the same AD FS, for the single sign-out
    /// scenarios; they are not applicable without one.
    #[serde(default)]
    pub other_relying_party: Option<OtherRelyingParty>,
    /// The web client the scenarios sign out of (`classic` by default, or `uci`); it picks the
    /// page selectors' defaults.
    #[serde(default)]
    pub ui: Ui,
    /// Whether CRM's access token management (`WSFedNonceCookieEnabled`) is on: `true` or
    /// `false`; unset, the checks that depend on it are not applicable. With `crm: embedded`
    /// the emulator is started with it on or off (off by default, as CRM ships it).
    #[serde(default)]
    pub access_token_management: Option<bool>,
}

/// Another relying party of the deployment's AD FS (a portal, SharePoint, another CRM
/// organization): where it starts, and what shows that the user is signed in there.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OtherRelyingParty {
    /// A page of the application that needs a session (it sends a browser without one to
    /// AD FS).
    #[serde(deserialize_with = "other_rp_url")]
    pub url: url::Url,
    /// A CSS selector found only on that page when the user is signed in (e.g. the user's name).
    pub signed_in: String,
}

/// Administrator actions a real target can offer the scenarios.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSpec {
    /// Ends every session of one user, on every device.
    #[serde(default)]
    pub end_sessions: Option<AdminAction>,
}

/// One administrator action: an HTTP request or a command. `{username}` in the URL or in an
/// argument is replaced by the user's sign-in name (URL-encoded in the URL).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, untagged)]
pub enum AdminAction {
    /// An HTTP request (`method` defaults to POST); success is a 2xx answer.
    Http {
        /// The URL to call.
        url: String,
        /// The HTTP method.
        #[serde(default = "default_admin_method")]
        method: String,
    },
    /// A command and its arguments (no shell); success is exit status 0.
    Command {
        /// Program and arguments.
        command: Vec<String>,
    },
}

fn default_admin_method() -> String {
    "POST".into()
}

/// The target file's `resolve:` map: host name -> IP address, validated while parsing so a bad
/// entry is reported at its line.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResolveMap(pub BTreeMap<String, std::net::IpAddr>);

impl<'de> Deserialize<'de> for ResolveMap {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A visitor, so that a bad entry fails while the parser stands at it (its line).
        struct Entries;
        impl<'de> serde::de::Visitor<'de> for Entries {
            type Value = ResolveMap;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of host names to IP addresses, e.g. `crm.contoso.com: 10.0.0.5`")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<ResolveMap, A::Error> {
                use serde::de::Error as _;
                let mut out = BTreeMap::new();
                while let Some(host) = map.next_key::<String>()? {
                    let addr: String = map.next_value()?;
                    if !is_host_name(&host) {
                        return Err(A::Error::custom(format!(
                            "key `{host}`: `resolve` maps plain host names (e.g. `crm.contoso.com`, \
                             no scheme, port or wildcard) to IP addresses"
                        )));
                    }
                    let ip = addr.trim().parse::<std::net::IpAddr>().map_err(|_| {
                        A::Error::custom(format!(
                            "key `{host}`: `{addr}` is not an IP address; `resolve` maps a host \
                             name to an IPv4 or IPv6 address, e.g. `{host}: 127.0.0.1`"
                        ))
                    })?;
                    out.insert(host.to_ascii_lowercase(), ip);
                }
                Ok(ResolveMap(out))
            }
        }
        d.deserialize_map(Entries)
    }
}

/// `s` with the user-info part of its authority (`user:password@`) replaced by `***@`.
fn without_userinfo(s: &str) -> String {
    let (scheme, rest) = match s.find("://") {
        Some(i) => s.split_at(i + 3),
        None => ("", s),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}***@{}", &rest[at + 1..]),
        None => s.to_string(),
    }
}

/// A DNS host name: letters, digits, `-` and `.`, not starting or ending with a dot.
fn is_host_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && !s.ends_with('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

/// Timeouts as configured in CRM's System Settings (durations such as `30m`, `20s`).
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutSpec {
    /// InactivityTimeoutInMins.
    #[serde(default, deserialize_with = "de_duration")]
    pub idle: Option<std::time::Duration>,
    /// SessionTimeoutInMins.
    #[serde(default, deserialize_with = "de_duration")]
    pub absolute: Option<std::time::Duration>,
    /// How `logout-harness timeout` may use the deployment to measure them.
    #[serde(default)]
    pub measure: MeasureSpec,
}

/// How `logout-harness timeout` may sign sessions in, and how many.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeasureSpec {
    /// `browser` (each session in a fresh browser context, as a user would) or `http` (the
    /// sign-in form posted without a browser: far cheaper, for plain HTML forms: AD FS's, CRM
    /// 4.0's, a generic one). Default: `http` for the embedded emulator, else `browser`.
    #[serde(default)]
    pub sign_in: Option<SignInBy>,
    /// Sessions signed in at once, at most (a deployment may limit a user's sessions).
    #[serde(default = "default_max_sessions")]
    pub max_sessions: usize,
    /// Sign-ins under way at once.
    #[serde(default = "default_sign_in_concurrency")]
    pub sign_in_concurrency: usize,
    /// Sign-ins started per second, at most (account lockout and AD FS loop detection watch the
    /// rate).
    #[serde(default = "default_sign_ins_per_second")]
    pub sign_ins_per_second: f64,
}

impl Default for MeasureSpec {
    fn default() -> Self {
        MeasureSpec {
            sign_in: None,
            max_sessions: default_max_sessions(),
            sign_in_concurrency: default_sign_in_concurrency(),
            sign_ins_per_second: default_sign_ins_per_second(),
        }
    }
}

/// The defaults a target may lower: few enough sign-ins at once and per second that neither an
/// account lockout policy nor AD FS's loop detection (5 token requests in 20 s from one browser,
/// MSIS7042) is near; each HTTP sign-in is a new client with no loop-detection cookie.
pub const DEFAULT_MAX_SESSIONS: usize = 200;
/// See [`DEFAULT_MAX_SESSIONS`].
pub const DEFAULT_SIGN_IN_CONCURRENCY: usize = 4;
/// See [`DEFAULT_MAX_SESSIONS`].
pub const DEFAULT_SIGN_INS_PER_SECOND: f64 = 20.0;

fn default_max_sessions() -> usize {
    DEFAULT_MAX_SESSIONS
}

fn default_sign_in_concurrency() -> usize {
    DEFAULT_SIGN_IN_CONCURRENCY
}

fn default_sign_ins_per_second() -> f64 {
    DEFAULT_SIGN_INS_PER_SECOND
}

/// `timeouts.measure`: limits that can work, and a sign-in the mode allows.
fn check_measure(spec: &TargetFile, path: &Path, file: Option<&Path>) -> Result<(), ConfigError> {
    let m = &spec.timeouts.measure;
    let problem = if m.sign_in == Some(SignInBy::Http) && spec.mode.kerberos() {
        Some((
            "sign_in",
            "`http` cannot sign in with Windows authentication (Kerberos needs the browser's \
             ticket); use `browser`"
                .to_string(),
        ))
    } else if m.max_sessions < 2 {
        Some((
            "max_sessions",
            format!(
                "{} is too few: a measurement needs at least 2 sessions (an idle one and a busy one)",
                m.max_sessions
            ),
        ))
    } else if m.sign_in_concurrency == 0 {
        Some((
            "sign_in_concurrency",
            "0 would sign nobody in; give 1 or more".into(),
        ))
    } else if !(m.sign_ins_per_second > 0.0 && m.sign_ins_per_second.is_finite()) {
        Some((
            "sign_ins_per_second",
            format!(
                "{} is not a positive rate; give e.g. 2 or 0.5",
                m.sign_ins_per_second
            ),
        ))
    } else {
        None
    };
    let Some((key, message)) = problem else {
        return Ok(());
    };
    let line = file
        .and_then(|f| std::fs::read_to_string(f).ok())
        .and_then(|text| {
            text.lines()
                .position(|l| l.trim_start().starts_with(&format!("{key}:")))
        })
        .map(|l| l + 1);
    Err(ConfigError {
        line,
        key: Some(format!("timeouts.measure.{key}")),
        ..ConfigError::file(path, message)
    })
}

/// How a measurement's sessions are signed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SignInBy {
    /// A fresh browser context per session.
    Browser,
    /// HTTP alone: the sign-in form posted by the harness.
    Http,
}

fn de_duration<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<std::time::Duration>, D::Error> {
    let s = String::deserialize(d)?;
    crate::config::duration::parse_duration(&s)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

fn default_whoami() -> String {
    "api/data/v9.0/WhoAmI".into()
}

/// Where the CRM is.
#[derive(Clone, Debug, PartialEq)]
pub enum CrmLocation {
    /// The emulator shipped with the harness, started for the run.
    Embedded,
    /// A real deployment's organization URL.
    Url(url::Url),
}

fn other_rp_url<'de, D: serde::Deserializer<'de>>(d: D) -> Result<url::Url, D::Error> {
    let s = String::deserialize(d)?;
    let shown = without_userinfo(&s);
    match url::Url::parse(&s) {
        Ok(u) if matches!(u.scheme(), "https" | "http") && shown == s => Ok(u),
        _ => Err(serde::de::Error::custom(format!(
            "its `url` `{shown}` must be an http(s) URL without credentials, e.g. \
             https://portal.contoso.com/"
        ))),
    }
}

impl<'de> Deserialize<'de> for CrmLocation {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s == "embedded" {
            return Ok(CrmLocation::Embedded);
        }
        // A `user:password@` part is refused, and never echoed: messages show it as `***@`.
        let shown = without_userinfo(&s);
        let url = url::Url::parse(&s).map_err(|e| {
            serde::de::Error::custom(format!(
                "key `crm`: `{shown}` is neither `embedded` nor an organization URL ({e}); \
                 write e.g. https://crm.contoso.com/contoso/"
            ))
        })?;
        if !url.username().is_empty() || url.password().is_some() || shown != s {
            return Err(serde::de::Error::custom(format!(
                "key `crm`: `{shown}` carries credentials (`user:password@`); write the URL \
                 without them (e.g. https://crm.contoso.com/contoso/) and give each user's \
                 password with `password_env` or `password_file` under `users:`"
            )));
        }
        let s = shown;
        if !matches!(url.scheme(), "https" | "http") || !url.path().ends_with('/') {
            return Err(serde::de::Error::custom(format!(
                "key `crm`: `{s}` must be an http(s) organization URL ending in `/`"
            )));
        }
        Ok(CrmLocation::Url(url))
    }
}

/// One user of the target file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    /// The sign-in name (e.g. `CONTOSO\alice`); defaults to the key.
    #[serde(default)]
    pub username: Option<String>,
    /// The environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// A file holding the password (its first line).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Whether the password is deliberately absent (IWA with Kerberos tickets needs none).
    #[serde(default)]
    pub no_password: bool,
    /// IWA: a file credential cache holding this user's Kerberos ticket (`kinit -c PATH`). Without
    /// it the user's browser uses the machine's own ticket (`KRB5CCNAME` or the default cache).
    #[serde(default)]
    pub kerberos_ccache: Option<PathBuf>,
}

/// Extra trust for a real deployment.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSpec {
    /// A PEM file with the CA that issued the deployment's certificates.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// Selector overrides; each `None` keeps the mode's default.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagesOverride {
    /// The page opened first, relative to the organization URL (default `main.aspx`).
    pub start: Option<String>,
    /// The sign-in form's user name input.
    pub username_input: Option<String>,
    /// The sign-in form's password input.
    pub password_input: Option<String>,
    /// The sign-in form's submit control.
    pub submit: Option<String>,
    /// An element present only when signed in.
    pub signed_in: Option<String>,
    /// The profile (user info) menu; `null` or `""` when Sign Out is on the page itself. Left out
    /// with `sign_out` set, there is no menu; left out with both left out, CRM's menu.
    #[serde(default, deserialize_with = "de_optional_selector")]
    pub user_menu: Option<Option<String>>,
    /// The Sign Out control: a link, a button, or a form (which is submitted).
    pub sign_out: Option<String>,
    /// An element holding CRM data (a grid), absent when signed out.
    pub data: Option<String>,
    /// A regular expression the signed-out page's text matches.
    pub signed_out_text: Option<String>,
    /// Names of the CRM authentication cookies (`Name*` matches chunks `Name`, `Name1`, ...).
    pub auth_cookies: Option<Vec<String>>,
    /// A form that posts itself on load (AD FS's token form): while it is on the page, a redirect
    /// chain is still under way.
    pub auto_post: Option<String>,
    /// The session-expiry reminder dialog; `null` or `""` when the application has none.
    #[serde(default, deserialize_with = "de_optional_selector")]
    pub reminder: Option<Option<String>>,
    /// The sign-in form's "Keep me signed in" checkbox; `null` or `""` when the sign-in page
    /// offers none (AD FS shows it only with `Set-AdfsProperties -EnableKmsi $true`).
    #[serde(default, deserialize_with = "de_optional_selector")]
    pub kmsi: Option<Option<String>>,
    /// The Close button of the dialog CRM 8.2/9.x shows when the session has expired; `null` or
    /// `""` when the application shows none.
    #[serde(default, deserialize_with = "de_optional_selector")]
    pub expiry_close: Option<Option<String>>,
}

/// `key: sel` -> `Some(Some(sel))`; `key: null` or `key: ""` -> `Some(None)` (there is none);
/// the key left out -> `None` (the mode's default).
fn de_optional_selector<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    let v: Option<String> = Option::deserialize(d)?;
    Ok(Some(v.filter(|s| !s.trim().is_empty())))
}

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
            // The classic web client's user menu (S41).
            user_menu: Some("#navTabButtonUserInfoLinkId".into()),
            sign_out: "#navTabButtonUserInfoSignOutId".into(),
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
            // CRM 8.2/9.x's session-expired dialog and its Close button (the `MaxSession`
            // script's `_close_session`, docs/crm-adfs-facts.md §4.3, S43); session timeouts
            // need claims, so not CRM 4.0's forms or Windows authentication (S6).
            expiry_close: match mode {
                AuthMode::Ifd | AuthMode::Claims => Some("#_close_session".into()),
                AuthMode::Fba | AuthMode::Iwa => None,
            },
        }
    }

    fn with(mut self, o: &PagesOverride) -> Pages {
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

/// A password. Never printed: `Debug` and `Display` say `[redacted]`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret, and remembers it so that every text the harness writes is redacted of it
    /// ([`crate::config::secrets::redact_known`]).
    pub fn new(s: impl Into<String>) -> Secret {
        let s = s.into();
        crate::config::secrets::remember(&s);
        Secret(s)
    }

    /// The secret itself, to type into a form. Keep the result out of messages.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Someone the scenarios sign in as.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The sign-in name.
    pub username: String,
    /// The password, when the mode needs one.
    pub password: Option<Secret>,
}

/// A loaded, validated target file; resolved into a [`crate::cmd::run::ResolvedTarget`] at run time.
#[derive(Clone, Debug)]
pub struct Target {
    /// The file it came from (`None` for the built-in embedded target).
    pub file: Option<PathBuf>,
    /// The file's content.
    pub spec: TargetFile,
    /// Selectors after defaults.
    pub pages: Pages,
}

impl Target {
    /// Reads and validates a target file.
    pub fn load(path: &Path) -> Result<Target, ConfigError> {
        let spec: TargetFile = yaml::load(path)?;
        Target::from_spec(spec, Some(path.to_path_buf()))
    }

    /// The built-in target for the embedded emulator in `mode`.
    pub fn embedded(mode: AuthMode) -> Target {
        Target::embedded_ui(mode, Ui::Classic)
    }

    /// The built-in target for the embedded emulator in `mode` serving `ui`. Its name is the
    /// same for every web client: the cookies are the same, so the cookie snapshots are shared.
    pub fn embedded_ui(mode: AuthMode, ui: Ui) -> Target {
        let spec = TargetFile {
            name: format!("embedded-{mode}"),
            crm: CrmLocation::Embedded,
            mode,
            users: ["alice", "bob"]
                .iter()
                .map(|u| (u.to_string(), UserSpec::default()))
                .collect(),
            pages: PagesOverride::default(),
            tls: TlsSpec::default(),
            whoami: default_whoami(),
            resolve: ResolveMap::default(),
            // The emulator's own portal, known once it runs.
            other_relying_party: None,
            // Short, so the timeout scenarios finish in seconds; the emulator is started with them.
            timeouts: TimeoutSpec {
                idle: Some(std::time::Duration::from_secs(3)),
                absolute: Some(std::time::Duration::from_secs(12)),
                measure: MeasureSpec::default(),
            },
            admin: AdminSpec::default(),
            ui,
            access_token_management: None,
        };
        Target::from_spec(spec, None).expect("the built-in target is valid")
    }

    fn from_spec(spec: TargetFile, file: Option<PathBuf>) -> Result<Target, ConfigError> {
        let path = file.clone().unwrap_or_else(|| PathBuf::from("<embedded>"));
        if spec.users.is_empty() {
            return Err(ConfigError {
                key: Some("users".into()),
                ..ConfigError::file(
                    &path,
                    "list at least one user (e.g. `alice: {password_env: CRM_ALICE_PASSWORD}`)",
                )
            });
        }
        if let CrmLocation::Url(_) = spec.crm {
            for (name, user) in &spec.users {
                let sources = [
                    user.password_env.is_some(),
                    user.password_file.is_some(),
                    user.no_password,
                ];
                if sources.iter().filter(|s| **s).count() != 1 {
                    let text = file
                        .as_ref()
                        .and_then(|f| std::fs::read_to_string(f).ok())
                        .unwrap_or_default();
                    let line = text
                        .lines()
                        .position(|l| l.trim_start().starts_with(&format!("{name}:")));
                    return Err(ConfigError {
                        line: line.map(|l| l + 1),
                        key: Some(name.clone()),
                        ..ConfigError::file(
                            &path,
                            "a user of a real target needs exactly one of `password_env: VAR`, \
                             `password_file: PATH` or `no_password: true` (passwords are never written in YAML)",
                        )
                    });
                }
            }
        }
        check_real_target_keys(&spec, &path)?;
        check_measure(&spec, &path, file.as_deref())?;
        if spec.access_token_management == Some(true) && spec.mode != AuthMode::Ifd {
            // S6: the feature needs claims-based authentication; declaring it elsewhere is a
            // mistake the devices scenario would silently ignore.
            let line = file
                .as_ref()
                .and_then(|f| std::fs::read_to_string(f).ok())
                .and_then(|t| {
                    t.lines()
                        .position(|l| l.trim_start().starts_with("access_token_management:"))
                })
                .map(|l| l + 1);
            return Err(ConfigError {
                line,
                key: Some("access_token_management".into()),
                ..ConfigError::file(
                    &path,
                    format!(
                        "access_token_management: true needs claims-based authentication (mode \
                         ifd); CRM's access token management (WSFedNonceCookieEnabled) does not \
                         apply to mode {}: write false or leave the key out",
                        spec.mode
                    ),
                )
            });
        }
        let pages = Pages::defaults_for(spec.mode, spec.ui).with(&spec.pages);
        regex::Regex::new(&pages.signed_out_text).map_err(|e| ConfigError {
            key: Some("signed_out_text".into()),
            ..ConfigError::file(&path, format!("not a valid regular expression: {e}"))
        })?;
        Ok(Target { file, spec, pages })
    }

    /// The mode and web client of this target, as its verdicts carry them ([`PassMode`]).
    pub fn pass_mode(&self) -> PassMode {
        PassMode {
            mode: self.spec.mode,
            ui: self.spec.ui,
        }
    }

    /// How `logout-harness timeout` signs sessions in (`timeouts.measure.sign_in`).
    pub fn sign_in_by(&self) -> SignInBy {
        self.spec.timeouts.measure.sign_in.unwrap_or(
            if self.spec.crm == CrmLocation::Embedded && !self.spec.mode.kerberos() {
                SignInBy::Http
            } else {
                SignInBy::Browser
            },
        )
    }

    /// What a run would fail on later, checked now (by `check` and before a run starts any
    /// browser): every user's password source is readable and `tls.ca_file` exists. The
    /// passwords read are dropped at once; only the cause is reported, never a value.
    pub fn preflight(&self) -> Result<(), ConfigError> {
        let path = self
            .file
            .clone()
            .unwrap_or_else(|| PathBuf::from("<embedded>"));
        let text = self
            .file
            .as_ref()
            .and_then(|f| std::fs::read_to_string(f).ok())
            .unwrap_or_default();
        let line_of = |needle: &str| {
            text.lines()
                .position(|l| l.trim_start().starts_with(needle))
                .map(|l| l + 1)
        };
        if self.spec.crm == CrmLocation::Embedded {
            return Ok(());
        }
        for (name, user) in &self.spec.users {
            if let Some(var) = &user.password_env
                && std::env::var_os(var).is_none()
            {
                return Err(ConfigError {
                    line: line_of(&format!("{name}:")),
                    key: Some(name.clone()),
                    ..ConfigError::file(
                        &path,
                        format!(
                            "password_env names the environment variable {var}, which is not set; \
                             export {var} with user `{name}`'s password before running, or use \
                             password_file: PATH"
                        ),
                    )
                });
            }
            if let Some(file) = &user.password_file
                && let Err(e) = std::fs::File::open(file)
            {
                return Err(ConfigError {
                    line: line_of(&format!("{name}:")),
                    key: Some(name.clone()),
                    ..ConfigError::file(
                        &path,
                        format!(
                            "password_file {} cannot be read ({e}); give the path of a file whose \
                             first line is user `{name}`'s password",
                            file.display()
                        ),
                    )
                });
            }
        }
        if let Some(ca) = &self.spec.tls.ca_file
            && let Err(e) = std::fs::read(ca)
        {
            return Err(ConfigError {
                line: line_of("ca_file:").or_else(|| line_of("tls:")),
                key: Some("ca_file".into()),
                ..ConfigError::file(
                    &path,
                    format!(
                        "tls.ca_file {} cannot be read ({e}); give the PEM file of the CA that \
                         issued the deployment's certificate, or remove `ca_file`",
                        ca.display()
                    ),
                )
            });
        }
        Ok(())
    }

    /// The credentials of `user` (a key of `users`), read from the environment or a file now.
    ///
    /// For the embedded emulator they are its test accounts.
    pub fn credentials(&self, user: &str) -> Result<Credentials, String> {
        let spec = self.spec.users.get(user).ok_or_else(|| {
            format!(
                "the target has no user `{user}` (it has: {})",
                self.user_names()
            )
        })?;
        if self.spec.crm == CrmLocation::Embedded {
            let account = crm_sim::accounts()
                .iter()
                .find(|a| a.username == user)
                .ok_or_else(|| format!("the emulator has no account `{user}`"))?;
            return Ok(Credentials {
                username: spec
                    .username
                    .clone()
                    .unwrap_or_else(|| account.username.to_string()),
                password: Some(Secret::new(account.password)),
            });
        }
        let password = if let Some(var) = &spec.password_env {
            Some(Secret::new(std::env::var(var).map_err(|_| {
                format!("user `{user}`: the environment variable {var} (password_env) is not set")
            })?))
        } else if let Some(path) = &spec.password_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                format!(
                    "user `{user}`: cannot read password_file {}: {e}",
                    path.display()
                )
            })?;
            Some(Secret::new(text.lines().next().unwrap_or_default()))
        } else {
            None
        };
        Ok(Credentials {
            username: spec.username.clone().unwrap_or_else(|| user.to_string()),
            password,
        })
    }

    fn user_names(&self) -> String {
        self.spec
            .users
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A warning every report carries when the target is reached over plain `http://`: nothing is
    /// encrypted, so what the run judges is not what a user of an https deployment gets.
    pub fn transport_warning(&self) -> Option<String> {
        match &self.spec.crm {
            CrmLocation::Url(url) if url.scheme() == "http" => Some(format!(
                "{url} is plain http: nothing between the browser and the server is encrypted, so \
                 cookies and passwords cross the network in clear and Secure cookies are not sent; \
                 judge a production deployment over https"
            )),
            _ => None,
        }
    }

    /// `--host-resolver-rules` entries for the target's `resolve:` map (`MAP host ip`).
    pub fn host_rules(&self) -> Vec<String> {
        self.spec
            .resolve
            .0
            .iter()
            .map(|(host, ip)| match ip {
                std::net::IpAddr::V4(v4) => format!("MAP {host} {v4}"),
                std::net::IpAddr::V6(v6) => format!("MAP {host} [{v6}]"),
            })
            .collect()
    }

    /// The `resolve:` map for the probe; the port is not used (the URL's port is).
    pub fn resolved_addrs(&self) -> Vec<(String, std::net::SocketAddr)> {
        self.spec
            .resolve
            .0
            .iter()
            .map(|(host, ip)| (host.clone(), std::net::SocketAddr::new(*ip, 0)))
            .collect()
    }

    /// Where this target came from, for messages.
    pub fn source(&self) -> String {
        match &self.file {
            Some(f) => f.display().to_string(),
            None => format!("built-in {}", self.spec.name),
        }
    }
}

/// Keys that only make sense for some targets: a mistake is an error, not silently ignored.
fn check_real_target_keys(spec: &TargetFile, path: &Path) -> Result<(), ConfigError> {
    let at = |key: &str, message: String| {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let line = text
            .lines()
            .position(|l| l.trim_start().starts_with(&format!("{key}:")));
        Err(ConfigError {
            line: line.map(|l| l + 1),
            key: Some(key.to_string()),
            ..ConfigError::file(path, message)
        })
    };
    if !spec.ui.serves(spec.mode) {
        return at(
            "ui",
            format!(
                "`ui: {}` is not served in mode {}: CRM 4.0 has no Unified Interface; use \
                 `ui: classic` (valid: classic, uci; uci with mode ifd or iwa)",
                spec.ui, spec.mode
            ),
        );
    }
    let embedded = spec.crm == CrmLocation::Embedded;
    if embedded && !spec.resolve.0.is_empty() {
        return at(
            "resolve",
            "the embedded emulator resolves its own host names; `resolve` is for a real target"
                .into(),
        );
    }
    for (name, user) in &spec.users {
        if user.kerberos_ccache.is_some() && (embedded || !spec.mode.kerberos()) {
            return at(
                "kerberos_ccache",
                format!(
                    "user `{name}`: `kerberos_ccache` is for a real target in mode iwa or claims \
                     (the emulator's KDC issues its own tickets)"
                ),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Target, ConfigError> {
        let spec: TargetFile = yaml::parse(Path::new("t.yaml"), text)?;
        Target::from_spec(spec, None)
    }

    #[test]
    fn embedded_target_needs_no_passwords() {
        let t = parse("name: e\ncrm: embedded\nmode: ifd\nusers:\n  alice: {}\n").unwrap();
        assert_eq!(t.pages.username_input, "#userNameInput");
        let c = t.credentials("alice").unwrap();
        assert_eq!(c.username, "alice");
        assert_eq!(format!("{:?}", c.password), "Some([redacted])");
    }

    #[test]
    fn real_target_user_without_password_source_is_refused() {
        let e =
            parse("name: p\ncrm: https://crm.example.com/org/\nmode: ifd\nusers:\n  alice: {}\n")
                .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("alice"));
        assert!(e.message.contains("password_env"), "{e}");
    }

    #[test]
    fn a_password_in_yaml_is_an_unknown_key() {
        let e = parse("name: p\ncrm: embedded\nmode: ifd\nusers:\n  alice:\n    password: x\n")
            .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("password"));
        assert_eq!(e.line, Some(6));
    }

    #[test]
    fn bad_mode_lists_the_valid_ones() {
        let e = parse("name: p\ncrm: embedded\nmode: saml\nusers:\n  alice: {}\n").unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(
            e.message.contains("ifd") && e.message.contains("fba"),
            "{e}"
        );
    }

    #[test]
    fn crm_with_credentials_is_refused_without_echoing_them() {
        for crm in [
            "https://alice:S3cr%40tPw@crm.example.com/org/",
            "https://alice@crm.example.com/org/",
            "https://alice:S3cr%40tPw@bad host/org/",
            "ftp://alice:S3cr%40tPw@crm.example.com/org",
        ] {
            let e = parse(&format!(
                "name: p\ncrm: {crm}\nmode: ifd\nusers:\n  alice: {{password_env: A}}\n"
            ))
            .unwrap_err();
            let text = e.to_string();
            assert_eq!(e.line, Some(2), "{text}");
            assert!(!text.contains("S3cr") && !text.contains("alice@"), "{text}");
            assert!(text.contains("***@"), "{text}");
        }
    }

    #[test]
    fn crm_must_be_an_organization_url() {
        let e =
            parse("name: p\ncrm: crm.example.com\nmode: ifd\nusers:\n  alice: {}\n").unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        assert!(e.message.contains("organization URL"), "{e}");
    }

    const REAL: &str = "name: p\ncrm: https://crm.contoso.test/org/\nmode: ifd\nusers:\n  alice: {password_env: A}\n";

    #[test]
    fn resolve_maps_host_names_for_browser_and_probe() {
        let t = parse(&format!(
            "{REAL}resolve:\n  crm.contoso.test: 127.0.0.1\n  ADFS.contoso.test: '::1'\n"
        ))
        .unwrap();
        assert_eq!(
            t.host_rules(),
            [
                "MAP adfs.contoso.test [::1]",
                "MAP crm.contoso.test 127.0.0.1"
            ]
        );
        let addrs = t.resolved_addrs();
        assert_eq!(addrs[1].0, "crm.contoso.test");
        assert_eq!(addrs[1].1.ip().to_string(), "127.0.0.1");
    }

    #[test]
    fn resolve_with_a_bad_address_names_line_and_host() {
        let e = parse(&format!(
            "{REAL}resolve:\n  crm.contoso.test: 127.0.0.1\n  adfs.contoso.test: 127.0.0.300\n"
        ))
        .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("adfs.contoso.test"), "{e}");
        assert_eq!(e.line, Some(8), "{e}");
        assert!(e.message.contains("not an IP address"), "{e}");
    }

    #[test]
    fn resolve_refuses_a_url_as_host() {
        let e = parse(&format!(
            "{REAL}resolve: {{'https://crm.contoso.test': 127.0.0.1}}\n"
        ))
        .unwrap_err();
        assert!(e.message.contains("plain host names"), "{e}");
        assert_eq!(e.line, Some(6), "{e}");
    }

    #[test]
    fn plain_http_target_carries_a_transport_warning() {
        let http = parse(&REAL.replace("https://", "http://")).unwrap();
        let warning = http.transport_warning().expect("http is not encrypted");
        assert!(
            warning.contains("not encrypted") || warning.contains("nothing between"),
            "{warning}"
        );
        assert!(parse(REAL).unwrap().transport_warning().is_none());
        assert!(
            Target::embedded(AuthMode::Ifd)
                .transport_warning()
                .is_none()
        );
    }

    #[test]
    fn kerberos_ccache_is_only_for_a_real_iwa_target() {
        let iwa = REAL.replace("mode: ifd", "mode: iwa").replace(
            "alice: {password_env: A}",
            "alice: {no_password: true, kerberos_ccache: /tmp/alice.cc}",
        );
        let t = parse(&iwa).unwrap();
        assert_eq!(
            t.spec.users["alice"].kerberos_ccache.as_deref(),
            Some(Path::new("/tmp/alice.cc"))
        );
        let ifd = iwa.replace("mode: iwa", "mode: ifd");
        let e = parse(&ifd).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("kerberos_ccache"), "{e}");
    }

    #[test]
    fn fba_pages_default_to_the_crm4_form() {
        assert_eq!(
            Pages::defaults(AuthMode::Fba).username_input,
            "#txtUserName"
        );
    }

    #[test]
    fn a_real_target_without_bob_admin_or_timeouts_makes_those_scenarios_not_applicable() {
        use crate::config::applicability::{Need, needs_of, unmet};
        let t = parse(
            "name: p\ncrm: https://crm.example.com/org/\nmode: ifd\nusers:\n  alice: {password_env: X}\n",
        )
        .unwrap();
        let reason = |tags: &[&str]| {
            let tags: Vec<String> = tags.iter().map(|s| s.to_string()).collect();
            unmet(&t, &needs_of(&tags).unwrap())
        };
        assert!(
            reason(&["needs-user-bob"])
                .unwrap()
                .contains("users: {bob:")
        );
        assert!(
            reason(&["needs-admin-end-sessions"])
                .unwrap()
                .contains("admin: {end_sessions:")
        );
        assert!(
            reason(&["needs-idle-timeout"])
                .unwrap()
                .contains("timeouts: {idle:")
        );
        assert!(
            reason(&["needs-absolute-timeout"])
                .unwrap()
                .contains("absolute")
        );
        assert!(reason(&["needs-reminder"]).unwrap().contains("timeouts"));
        assert_eq!(reason(&["needs-password"]), None, "alice has a password");
        assert_eq!(reason(&["ifd"]), None);

        let full = parse(
            "name: p\ncrm: https://crm.example.com/org/\nmode: ifd\nusers:\n  alice: {no_password: true}\n  bob: {password_env: Y}\n\
             timeouts: {idle: 30m, absolute: 24h}\npages: {reminder: null, user_menu: ''}\n\
             admin:\n  end_sessions: {command: [/bin/true, '{username}']}\n",
        )
        .unwrap();
        assert_eq!(
            full.pages.user_menu, None,
            "an empty menu selector means no menu"
        );
        let tags = |t: &[&str]| -> Vec<Need> {
            needs_of(&t.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
        };
        assert_eq!(
            unmet(
                &full,
                &tags(&[
                    "needs-user-bob",
                    "needs-admin-end-sessions",
                    "needs-idle-timeout"
                ])
            ),
            None
        );
        assert!(
            unmet(&full, &tags(&["needs-reminder"]))
                .unwrap()
                .contains("pages.reminder")
        );
        assert!(
            unmet(&full, &tags(&["needs-password"]))
                .unwrap()
                .contains("no_password")
        );
    }

    #[test]
    fn kmsi_defaults_to_adfs_checkbox_and_null_means_none() {
        assert_eq!(
            Pages::defaults(AuthMode::Ifd).kmsi.as_deref(),
            Some("#kmsiInput")
        );
        assert_eq!(Pages::defaults(AuthMode::Fba).kmsi, None);
        assert_eq!(Pages::defaults(AuthMode::Iwa).kmsi, None);
        let base = "name: p\ncrm: https://crm.example.com/org/\nmode: ifd\nusers:\n  alice: {password_env: X}\n";
        let none = parse(&format!("{base}pages: {{kmsi: null}}\n")).unwrap();
        assert_eq!(none.pages.kmsi, None);
        let own = parse(&format!("{base}pages: {{kmsi: '#keepMe'}}\n")).unwrap();
        assert_eq!(own.pages.kmsi.as_deref(), Some("#keepMe"));
        let kept = parse(base).unwrap();
        assert_eq!(kept.pages.kmsi.as_deref(), Some("#kmsiInput"));
    }

    #[test]
    fn ui_uci_changes_only_the_sign_out_path_selectors_and_the_label() {
        let classic = parse("name: p\ncrm: embedded\nmode: iwa\nusers:\n  alice: {}\n").unwrap();
        let uci =
            parse("name: p\ncrm: embedded\nmode: iwa\nui: uci\nusers:\n  alice: {}\n").unwrap();
        assert_eq!(classic.spec.ui, Ui::Classic, "classic is the default");
        assert_eq!(classic.pass_mode().to_string(), "iwa");
        assert_eq!(uci.pass_mode().to_string(), "iwa-uci");
        assert_eq!(uci.pages.signed_in, "#ApplicationShell");
        assert_eq!(uci.pages.user_menu.as_deref(), Some("#mectrl_main_trigger"));
        assert_eq!(uci.pages.sign_out, "#mectrl_body_signOut");
        assert_eq!(uci.pages.data, "[data-id='data-set-body-container']");
        assert_eq!(uci.pages.start, classic.pages.start);
        assert_eq!(uci.pages.auth_cookies, classic.pages.auth_cookies);
        assert_eq!(uci.pages.reminder, classic.pages.reminder);
        // An override still wins over the UCI default.
        let own = parse(
            "name: p\ncrm: embedded\nmode: ifd\nui: uci\nusers:\n  alice: {}\n\
             pages: {user_menu: \"[data-id='userInformationLauncher']\"}\n",
        )
        .unwrap();
        assert_eq!(
            own.pages.user_menu.as_deref(),
            Some("[data-id='userInformationLauncher']")
        );
        assert_eq!(own.pages.sign_out, "#mectrl_body_signOut");
        let fba =
            parse("name: p\ncrm: embedded\nmode: fba\nui: uci\nusers:\n  alice: {}\n").unwrap_err();
        assert_eq!(fba.key.as_deref(), Some("ui"));
        assert!(fba.message.contains("no Unified Interface"), "{fba}");
    }

    #[test]
    fn access_token_management_is_declared_for_claims_only() {
        let base = "name: p\ncrm: embedded\nusers:\n  alice: {}\n";
        let unset = parse(&format!("{base}mode: ifd\n")).unwrap();
        assert_eq!(unset.spec.access_token_management, None);
        let on = parse(&format!("{base}mode: ifd\naccess_token_management: true\n")).unwrap();
        assert_eq!(on.spec.access_token_management, Some(true));
        let off = parse(&format!(
            "{base}mode: fba\naccess_token_management: false\n"
        ))
        .unwrap();
        assert_eq!(off.spec.access_token_management, Some(false));
        let e = parse(&format!("{base}mode: iwa\naccess_token_management: true\n")).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("access_token_management"), "{e}");
        assert!(e.message.contains("mode ifd"), "{e}");
        let e = parse(&format!(
            "{base}mode: ifd\naccess_token_management: maybe\n"
        ))
        .unwrap_err();
        assert!(e.line.is_some(), "{e}");
    }
}
