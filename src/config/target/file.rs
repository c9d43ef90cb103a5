//! The target file as written ([`TargetFile`]): its keys, their defaults and how each is read.

use super::*;

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
    #[serde(deserialize_with = "unique_users")]
    pub users: BTreeMap<String, UserSpec>,
    /// Selector overrides for deployments whose pages differ from the defaults of `mode`.
    #[serde(default)]
    pub pages: PagesOverride,
    /// Extra certificate trust for a real deployment with an internal CA.
    #[serde(default)]
    pub tls: TlsSpec,
    /// Where the direct HTTP probe asks "who am I", relative to the organization URL (`''`: the
    /// organization URL itself). Left out, the mode's default ([`default_whoami`]).
    #[serde(default = "whoami_left_out")]
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
    /// The identity provider the sign-in goes through, where the sign-in redirect does not show
    /// it (a sign-in page reached by a script, say), or to name its protocol.
    #[serde(default)]
    pub identity_provider: Option<IdentityProviderSpec>,
    /// The web client the scenarios sign out of (`classic` by default, or `uci`); it picks the
    /// page selectors' defaults.
    #[serde(default)]
    pub ui: Ui,
    /// Whether CRM's access token management (`WSFedNonceCookieEnabled`) is on: `true` or
    /// `false`; unset, the checks that depend on it are not applicable. With `crm: embedded`
    /// the emulator is started with it on or off (off by default, as CRM ships it).
    #[serde(default)]
    pub access_token_management: Option<bool>,
    /// How the cookies left after sign-out are snapshotted: parts of names, paths and domains
    /// that change from sign-in to sign-in, and cookies left out, each with its reason.
    #[serde(default)]
    pub snapshot: SnapshotSpec,
}

/// `snapshot:` of a target file. Random tokens, UUIDs and long hex runs are replaced by
/// placeholders without being declared; these are for what that does not recognise.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SnapshotSpec {
    /// Parts of cookie names, paths and domains that change from sign-in to sign-in: each match
    /// of `pattern` (a regular expression) is shown as `{volatile}`.
    #[serde(default)]
    pub volatile: Vec<VolatilePart>,
    /// Cookies left out of the snapshot (`name`, `Name*`, `name@host`, as in `auth_cookies`).
    #[serde(default)]
    pub ignore: Vec<IgnoredCookie>,
}

/// One `snapshot.volatile` entry.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct VolatilePart {
    /// A regular expression.
    pub pattern: String,
    /// Why it changes, shown in the evidence.
    pub reason: String,
}

/// One `snapshot.ignore` entry.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IgnoredCookie {
    /// The cookie, as an `auth_cookies` entry names one.
    pub cookie: String,
    /// Why it is left out, shown in the evidence.
    pub reason: String,
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

/// Administrator actions a real target can offer the scenarios and `logout-harness revoke`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSpec {
    /// Ends every session of one user, on every device.
    #[serde(default, deserialize_with = "admin_end_sessions")]
    pub end_sessions: Option<AdminAction>,
    /// Disables one user in the application (CRM: the user record's Disable).
    #[serde(default, deserialize_with = "admin_deactivate_user")]
    pub deactivate_user: Option<AdminAction>,
    /// Disables one user's account in the directory (Active Directory).
    #[serde(default, deserialize_with = "admin_disable_in_directory")]
    pub disable_in_directory: Option<AdminAction>,
    /// Sets the maximum session length (CRM: SessionTimeoutInMins) to `{value}`.
    #[serde(default, deserialize_with = "admin_set_session_length")]
    pub set_session_length: Option<AdminAction>,
    /// Sets the inactivity timeout (CRM: InactivityTimeoutInMins) to `{value}`.
    #[serde(default, deserialize_with = "admin_set_idle_timeout")]
    pub set_idle_timeout: Option<AdminAction>,
    /// Revokes the persistent single sign-on cookies issued until now (AD FS:
    /// `Set-AdfsProperties -PersistentSsoCutoffTime (Get-Date)`).
    #[serde(default, deserialize_with = "admin_persistent_sso_cutoff")]
    pub persistent_sso_cutoff: Option<AdminAction>,
}

// One deserializer per action, so that a mistake names the action's key.
fn admin_end_sessions<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<AdminAction>, D::Error> {
    named_action(d, "end_sessions")
}
fn admin_deactivate_user<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<AdminAction>, D::Error> {
    named_action(d, "deactivate_user")
}
fn admin_disable_in_directory<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<AdminAction>, D::Error> {
    named_action(d, "disable_in_directory")
}
fn admin_set_session_length<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<AdminAction>, D::Error> {
    named_action(d, "set_session_length")
}
fn admin_set_idle_timeout<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<AdminAction>, D::Error> {
    named_action(d, "set_idle_timeout")
}

fn admin_persistent_sso_cutoff<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<AdminAction>, D::Error> {
    named_action(d, "persistent_sso_cutoff")
}

fn named_action<'de, D: serde::Deserializer<'de>>(
    d: D,
    key: &str,
) -> Result<Option<AdminAction>, D::Error> {
    use serde::de::Error as _;
    Option::<AdminAction>::deserialize(d).map_err(|e| D::Error::custom(format!("{key}: {e}")))
}

impl AdminSpec {
    /// Every action's key in the target file, whether the target declares it or not.
    pub const KEYS: [&'static str; 6] = [
        "end_sessions",
        "deactivate_user",
        "disable_in_directory",
        "set_session_length",
        "set_idle_timeout",
        "persistent_sso_cutoff",
    ];

    /// The action of `key` (one of [`AdminSpec::KEYS`]), if declared.
    pub fn action(&self, key: &str) -> Option<&AdminAction> {
        match key {
            "end_sessions" => self.end_sessions.as_ref(),
            "deactivate_user" => self.deactivate_user.as_ref(),
            "disable_in_directory" => self.disable_in_directory.as_ref(),
            "set_session_length" => self.set_session_length.as_ref(),
            "set_idle_timeout" => self.set_idle_timeout.as_ref(),
            "persistent_sso_cutoff" => self.persistent_sso_cutoff.as_ref(),
            _ => None,
        }
    }

    /// Whether the action of `key` takes a `{value}` (a duration).
    pub fn takes_value(key: &str) -> bool {
        key.starts_with("set_")
    }
}

/// One administrator action: an HTTP request or a command. `{username}` in the URL or in an
/// argument is replaced by the user's sign-in name, and `{value}` by the value a setting is set
/// to (both URL-encoded in the URL).
#[derive(Clone, Debug)]
pub enum AdminAction {
    /// An HTTP request (`method` defaults to POST); success is a 2xx answer.
    Http {
        /// The URL to call.
        url: String,
        /// The HTTP method.
        method: String,
    },
    /// A command and its arguments (no shell); success is exit status 0.
    Command {
        /// Program and arguments.
        command: Vec<String>,
    },
}

pub(super) fn default_admin_method() -> String {
    "POST".into()
}

impl<'de> Deserialize<'de> for AdminAction {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Http {
            url: String,
            #[serde(default = "default_admin_method")]
            method: String,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Run {
            command: Vec<String>,
        }
        let form = "an administrator action is `{url: https://..., method: POST}` (an HTTP \
                    request) or `{command: [program, args...]}` (a command, no shell)";
        let value = serde_yaml::Value::deserialize(d)?;
        let keys: Vec<String> = value
            .as_mapping()
            .map(|m| {
                m.keys()
                    .filter_map(|k| k.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let wants = |k: &str| keys.iter().any(|x| x == k);
        if wants("command") {
            serde_yaml::from_value::<Run>(value)
                .map(|r| AdminAction::Command { command: r.command })
                .map_err(|e| D::Error::custom(format!("{e}; {form}")))
        } else if wants("url") {
            serde_yaml::from_value::<Http>(value)
                .map(|h| AdminAction::Http {
                    url: h.url,
                    method: h.method,
                })
                .map_err(|e| D::Error::custom(format!("{e}; {form}")))
        } else {
            Err(D::Error::custom(format!(
                "neither `url` nor `command` (keys: {}); {form}",
                if keys.is_empty() {
                    "none".to_string()
                } else {
                    keys.join(", ")
                }
            )))
        }
    }
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
                    if ip.is_unspecified()
                        || ip.is_multicast()
                        || ip == std::net::Ipv4Addr::BROADCAST
                    {
                        return Err(A::Error::custom(format!(
                            "key `{host}`: `{ip}` is no address a server answers at (unspecified, \
                             multicast or broadcast); give the server's own address"
                        )));
                    }
                    // Host names are case-insensitive: two keys differing in case are one host.
                    if out.insert(host.to_ascii_lowercase(), ip).is_some() {
                        return Err(A::Error::custom(format!(
                            "key `{host}`: the host is in `resolve` twice (host names are \
                             case-insensitive); keep one"
                        )));
                    }
                }
                Ok(ResolveMap(out))
            }
        }
        d.deserialize_map(Entries)
    }
}

/// `s` with the user-info part of its authority (`user:password@`) replaced by `***@`.
pub(super) fn without_userinfo(s: &str) -> String {
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
pub(super) fn is_host_name(s: &str) -> bool {
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

pub(super) fn default_max_sessions() -> usize {
    DEFAULT_MAX_SESSIONS
}

pub(super) fn default_sign_in_concurrency() -> usize {
    DEFAULT_SIGN_IN_CONCURRENCY
}

pub(super) fn default_sign_ins_per_second() -> f64 {
    DEFAULT_SIGN_INS_PER_SECOND
}

/// `timeouts.measure`: limits that can work, and a sign-in the mode allows.
pub(super) fn check_measure(
    spec: &TargetFile,
    path: &Path,
    file: Option<&Path>,
) -> Result<(), ConfigError> {
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

pub(super) fn de_duration<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<std::time::Duration>, D::Error> {
    let s = String::deserialize(d)?;
    crate::config::duration::parse_duration(&s)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// What `whoami` holds until the mode's default replaces it: no path a file can mean (an empty
/// `whoami: ''` is the organization URL itself, which `check --connect` proposes for an
/// application whose start page tells a session from none).
pub(super) const WHOAMI_LEFT_OUT: &str = "\u{0}left out";

fn whoami_left_out() -> String {
    WHOAMI_LEFT_OUT.into()
}

/// The probe's default address in `mode`: the Web API's WhoAmI (8.0 and later, S76), except for
/// CRM 4.0's forms authentication, which has no Web API (S76, S78): there its start page,
/// `loader.aspx` (S8), which answers a valid ticket with the page and anything else with a
/// redirect to the sign-in page (S2).
pub(super) fn default_whoami(mode: AuthMode) -> String {
    match mode {
        AuthMode::Fba => "loader.aspx".into(),
        AuthMode::Ifd | AuthMode::Iwa | AuthMode::Claims => "api/data/v9.0/WhoAmI".into(),
    }
}

/// `users:`, refusing two keys that name one user (`1:` and `'1':` are different YAML keys but
/// the same name), which a map would merge without a word.
fn unique_users<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, UserSpec>, D::Error> {
    struct Users;
    impl<'de> serde::de::Visitor<'de> for Users {
        type Value = BTreeMap<String, UserSpec>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map of user names to users, e.g. `alice: {password_env: VAR}`")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(name) = map.next_key::<String>()? {
                let user: UserSpec = map.next_value()?;
                if out.insert(name.clone(), user).is_some() {
                    return Err(serde::de::Error::custom(format!(
                        "user `{name}` is in `users` twice (as a number and as text, say); keep one"
                    )));
                }
            }
            Ok(out)
        }
    }
    d.deserialize_map(Users)
}

/// `password_env`: the name of an environment variable, never an assignment or a value.
fn env_var_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let name: Option<String> = Option::deserialize(d)?;
    if let Some(n) = &name {
        let ok = n
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            // The value is not shown: it may be the password written where its variable's name
            // belongs (`password_env: A=secret`).
            return Err(serde::de::Error::custom(
                "key `password_env` must name an environment variable (letters, digits and `_`, \
                 e.g. CRM_ALICE_PASSWORD), not hold an assignment or the password itself",
            ));
        }
    }
    Ok(name)
}

/// Where the CRM is.
#[derive(Clone, Debug, PartialEq)]
pub enum CrmLocation {
    /// The emulator shipped with the harness, started for the run.
    Embedded,
    /// A real deployment's organization URL.
    Url(url::Url),
}

pub(super) fn other_rp_url<'de, D: serde::Deserializer<'de>>(d: D) -> Result<url::Url, D::Error> {
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
        if url.port() == Some(0) {
            return Err(serde::de::Error::custom(format!(
                "key `crm`: `{s}` has port 0, which no server listens on; give the real port or \
                 none"
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
    #[serde(default, deserialize_with = "env_var_name")]
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
    /// Names of the authentication cookies (`Name*` matches chunks `Name`, `Name1`, ...): the
    /// cookies sent to the organization URL, or with `Name@host` those of that host (an identity
    /// provider's session cookie, say) ([`AuthCookie`](crate::config::target::AuthCookie)).
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
pub(super) fn de_optional_selector<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    let v: Option<String> = Option::deserialize(d)?;
    Ok(Some(v.filter(|s| !s.trim().is_empty())))
}
