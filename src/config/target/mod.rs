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

pub mod file;
pub mod idp;
pub mod mode;
pub mod pages;
pub mod secret;

pub use file::*;
pub use idp::*;
pub use mode::*;
pub use pages::*;
pub use secret::*;

/// A loaded, validated target file; resolved into a [`crate::cmd::run::ResolvedTarget`] at run time.
#[derive(Clone, Debug)]
pub struct Target {
    /// The file it came from (`None` for the built-in embedded target).
    pub file: Option<PathBuf>,
    /// The file's content.
    pub spec: TargetFile,
    /// Selectors after defaults.
    pub pages: Pages,
    /// What the sign-in redirect chain showed, once followed (before the scenarios run; never
    /// for the embedded emulator, whose shape is known).
    pub sign_in_chain: Option<SignInChain>,
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
            whoami: default_whoami(mode),
            resolve: ResolveMap::default(),
            // The emulator's own portal, known once it runs.
            other_relying_party: None,
            // The ifd emulator's AD FS is implied by the mode (Target::identity_provider).
            identity_provider: None,
            // Short, so the timeout scenarios finish in seconds; the emulator is started with them.
            timeouts: TimeoutSpec {
                idle: Some(std::time::Duration::from_secs(3)),
                absolute: Some(std::time::Duration::from_secs(12)),
                measure: MeasureSpec::default(),
            },
            admin: AdminSpec::default(),
            snapshot: SnapshotSpec::default(),
            ui,
            access_token_management: None,
        };
        Target::from_spec(spec, None).expect("the built-in target is valid")
    }

    fn from_spec(mut spec: TargetFile, file: Option<PathBuf>) -> Result<Target, ConfigError> {
        let path = file.clone().unwrap_or_else(|| PathBuf::from("<embedded>"));
        if spec.whoami == file::WHOAMI_LEFT_OUT {
            spec.whoami = default_whoami(spec.mode);
        }
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
        if spec.access_token_management == Some(true)
            && !matches!(spec.mode, AuthMode::Ifd | AuthMode::Claims)
        {
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
                         ifd or claims); CRM's access token management (WSFedNonceCookieEnabled) does not \
                         apply to mode {}: write false or leave the key out",
                        spec.mode
                    ),
                )
            });
        }
        let pages = Pages::defaults_for(spec.mode, spec.ui).with(&spec.pages);
        for (i, part) in spec.snapshot.volatile.iter().enumerate() {
            regex::Regex::new(&part.pattern).map_err(|e| ConfigError {
                key: Some(format!("snapshot.volatile[{i}].pattern")),
                ..ConfigError::file(&path, format!("not a valid regular expression: {e}"))
            })?;
        }
        for (i, ignored) in spec.snapshot.ignore.iter().enumerate() {
            if let Some(problem) = AuthCookie::parse(&ignored.cookie).problem() {
                return Err(ConfigError {
                    key: Some(format!("snapshot.ignore[{i}].cookie")),
                    ..ConfigError::file(&path, format!("`{}`: {problem}", ignored.cookie))
                });
            }
        }
        for entry in &pages.auth_cookies {
            if let Some(problem) = AuthCookie::parse(entry).problem() {
                return Err(ConfigError {
                    key: Some("pages.auth_cookies".into()),
                    ..ConfigError::file(&path, format!("`{entry}`: {problem}"))
                });
            }
        }
        regex::Regex::new(&pages.signed_out_text).map_err(|e| ConfigError {
            key: Some("signed_out_text".into()),
            ..ConfigError::file(&path, format!("not a valid regular expression: {e}"))
        })?;
        Ok(Target {
            file,
            spec,
            pages,
            sign_in_chain: None,
        })
    }

    /// A target from a spec written in a test (no file behind it).
    #[cfg(test)]
    pub(crate) fn from_spec_for_tests(spec: TargetFile) -> Target {
        Target::from_spec(spec, None).expect("a valid test target")
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
            if user.password_file.is_some()
                && let Err(e) = self.credentials(name)
            {
                return Err(ConfigError {
                    line: line_of(&format!("{name}:")),
                    key: Some(name.clone()),
                    ..ConfigError::file(
                        &path,
                        format!(
                            "{e}; give the path of a regular file whose first line is user \
                             `{name}`'s password"
                        ),
                    )
                });
            }
        }
        if let Some(ca) = &self.spec.tls.ca_file
            && let Err(e) = crate::config::input::read_text(ca, crate::config::input::MAX_CA_FILE)
        {
            return Err(ConfigError {
                line: line_of("ca_file:").or_else(|| line_of("tls:")),
                key: Some("ca_file".into()),
                ..ConfigError::file(
                    &path,
                    format!(
                        "tls.ca_file: {e}; give the PEM file of the CA that issued the \
                         deployment's certificate, or remove `ca_file`"
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
            let text =
                crate::config::input::read_text(path, crate::config::input::MAX_PASSWORD_FILE)
                    .map_err(|e| format!("user `{user}`: password_file: {e}"))?;
            let first = text.lines().next().unwrap_or_default();
            if first.is_empty() {
                return Err(format!(
                    "user `{user}`: password_file {} is empty; its first line must be the \
                     password",
                    path.display()
                ));
            }
            Some(Secret::new(first))
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
/// What is wrong with an administrator action, before a run depends on it: an HTTP request
/// needs an http(s) URL and a method that is an HTTP token; a command needs a program that exists.
fn admin_action_problem(action: &AdminAction) -> Option<String> {
    match action {
        AdminAction::Http { url, method } => {
            let filled = url.replace("{username}", "alice").replace("{value}", "5m");
            let shown = without_userinfo(url);
            match url::Url::parse(&filled) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => {
                    return Some(format!(
                        "`url: {shown}` is not an http(s) URL (e.g. \
                         https://crm.contoso.com/admin/end?user={{username}})"
                    ));
                }
            }
            if http::Method::from_bytes(method.as_bytes()).is_err() || method.is_empty() {
                return Some(format!(
                    "`method: {}` is not an HTTP method (e.g. POST, DELETE)",
                    method.escape_debug()
                ));
            }
            None
        }
        AdminAction::Command { command } => {
            let Some(program) = command.first().filter(|p| !p.is_empty()) else {
                return Some(
                    "`command` is empty; give the program and its arguments, e.g. \
                     [/usr/local/bin/end-sessions, '{username}']"
                        .into(),
                );
            };
            let found = if program.contains('/') {
                Path::new(program).is_file()
            } else {
                std::env::var_os("PATH").is_some_and(|paths| {
                    std::env::split_paths(&paths).any(|d| d.join(program).is_file())
                })
            };
            (!found).then(|| {
                format!(
                    "the program `{}` of `command` does not exist{}",
                    program.escape_debug(),
                    if program.contains('/') {
                        ""
                    } else {
                        " in any folder of PATH"
                    }
                )
            })
        }
    }
}

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
    // Names are printed on every line of a report: a control character (a terminal escape) would
    // act on the reader's terminal.
    if spec.name.chars().any(char::is_control) || spec.name.trim().is_empty() {
        return at(
            "name",
            "`name` must be printable text (it names the target in every report), without \
             control characters"
                .into(),
        );
    }
    for user in spec.users.keys() {
        if user.chars().any(|c| c.is_control() || c.is_whitespace()) || user.is_empty() {
            return at(
                user,
                "a user's key is a name the features use (`alice`, `bob`): letters and digits, \
                 no spaces or control characters"
                    .into(),
            );
        }
        if user == NO_TICKET_PERSON {
            return at(
                user,
                format!(
                    "`{NO_TICKET_PERSON}` is the harness's own person without a Kerberos ticket \
                     (the \"browser without a ticket\" scenarios); give this user another key"
                ),
            );
        }
    }
    let o = &spec.pages;
    for (key, value) in [
        ("start", &o.start),
        ("username_input", &o.username_input),
        ("password_input", &o.password_input),
        ("submit", &o.submit),
        ("signed_in", &o.signed_in),
        ("sign_out", &o.sign_out),
        ("data", &o.data),
        ("signed_out_text", &o.signed_out_text),
    ] {
        // `start: ''` is the target's URL itself; every other key names something on a page.
        if key != "start" && value.as_deref().is_some_and(|v| v.trim().is_empty()) {
            return at(
                key,
                format!(
                    "`pages.{key}` is empty: it must find something on the page (a CSS selector, \
                     or for signed_out_text a regular expression); leave the key out for the \
                     mode's default"
                ),
            );
        }
    }
    if o.auth_cookies.as_ref().is_some_and(|c| c.is_empty()) && spec.mode != AuthMode::Iwa {
        return at(
            "auth_cookies",
            format!(
                "`auth_cookies: []` names no cookie, so the checks of the session cookie (removed \
                 at sign-out, refused when replayed, Secure, HttpOnly) would check nothing in mode \
                 {}; name the cookies that carry the session (only mode iwa has none)",
                spec.mode
            ),
        );
    }
    for (key, value) in [
        ("idle", spec.timeouts.idle),
        ("absolute", spec.timeouts.absolute),
    ] {
        if value.is_some_and(|d| d.is_zero()) {
            return at(
                key,
                format!(
                    "`timeouts.{key}: 0s` is no timeout; give the configured value (e.g. 30m), or \
                     leave it out when none is configured"
                ),
            );
        }
    }
    if embedded && !spec.resolve.0.is_empty() {
        return at(
            "resolve",
            "the embedded emulator resolves its own host names; `resolve` is for a real target"
                .into(),
        );
    }
    for key in AdminSpec::KEYS {
        let Some(action) = spec.admin.action(key) else {
            continue;
        };
        if let Some(problem) = admin_action_problem(action) {
            return at(key, format!("admin.{key}: {problem}"));
        }
        // An administrator endpoint behind basic authentication is legitimate: its password
        // is a secret like the users', never written out.
        if let AdminAction::Http { url, .. } = action {
            crate::config::secrets::remember_url_credentials(url);
        }
    }
    if spec.whoami.contains("://") && without_userinfo(&spec.whoami) != spec.whoami {
        return at(
            "whoami",
            format!(
                "`whoami: {}` carries credentials (`user:password@`); the probe sends the \
                 session's cookies, never credentials: give a path relative to `crm` (e.g. \
                 api/me)",
                without_userinfo(&spec.whoami)
            ),
        );
    }
    if embedded && spec.identity_provider.is_some() {
        return at(
            "identity_provider",
            "the embedded emulator's identity provider is its own AD FS (mode ifd); \
             `identity_provider` is for a real target"
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

    /// CRM 4.0 has no Web API (S76, S78): its probe asks its start page instead; a target's own
    /// `whoami` is kept.
    #[test]
    fn the_probe_default_follows_the_mode() {
        let base = "name: p\ncrm: embedded\nusers:\n  alice: {}\n";
        let fba = parse(&format!("{base}mode: fba\n")).unwrap();
        assert_eq!(fba.spec.whoami, "loader.aspx");
        assert_eq!(Target::embedded(AuthMode::Fba).spec.whoami, "loader.aspx");
        for mode in ["ifd", "iwa", "claims"] {
            let t = parse(&format!("{base}mode: {mode}\n")).unwrap();
            assert_eq!(t.spec.whoami, "api/data/v9.0/WhoAmI", "{mode}");
        }
        let own = parse(&format!("{base}mode: fba\nwhoami: home.aspx\n")).unwrap();
        assert_eq!(own.spec.whoami, "home.aspx");
        // `whoami: ''` is the organization URL itself (what `check --connect` proposes for an
        // application whose start page tells a session from none), not "left out".
        let root = parse(&format!("{base}mode: fba\nwhoami: ''\n")).unwrap();
        assert_eq!(root.spec.whoami, "");
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
        // S6: internal claims access is claims-based authentication too.
        let internal = parse(&format!(
            "{base}mode: claims\naccess_token_management: true\n"
        ))
        .unwrap();
        assert_eq!(internal.spec.access_token_management, Some(true));
        for mode in ["iwa", "fba"] {
            let e = parse(&format!(
                "{base}mode: {mode}\naccess_token_management: true\n"
            ))
            .unwrap_err();
            assert_eq!(e.key.as_deref(), Some("access_token_management"), "{e}");
            assert!(e.message.contains("mode ifd or claims"), "{e}");
        }
        let e = parse(&format!(
            "{base}mode: ifd\naccess_token_management: maybe\n"
        ))
        .unwrap_err();
        assert!(e.line.is_some(), "{e}");
    }
}
