//! What the browsers and the probe of one pass trust and hold: the CA of `tls.ca_file`, the
//! host names of `resolve`, and, in IWA mode, whose Kerberos ticket each browser carries.
//!
//! - The probe (reqwest) is given the CA and the addresses directly.
//! - Chromium on Linux takes user-added trust anchors from the NSS database at
//!   `$HOME/.pki/nssdb` (<https://chromium.googlesource.com/chromium/src/+/main/docs/linux/cert_management.md>);
//!   the Chrome Root Store still honours such locally-trusted roots
//!   (<https://chromium.googlesource.com/chromium/src/+/main/net/data/ssl/chrome_root_store/faq.md>),
//!   which `tests/e2e/trust.rs` proves against the installed Chromium. Each run gets a
//!   temp HOME holding an NSS database with exactly the CA of `tls.ca_file`, and the chromedriver
//!   is started with that HOME (the browser inherits its driver's environment). No certificate
//!   error is ever ignored.
//! - A browser "without a Kerberos ticket" always gets an empty credential cache of its own, so a
//!   ticket of the machine's user (`KRB5CCNAME` or the default `/tmp/krb5cc_UID`) cannot leak in;
//!   a user with `kerberos_ccache` gets that cache; any other user the machine's own.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;

use crate::config::target::{AuthMode, CrmLocation, Target};
use crate::engine::browser::{BrowserKind, Driver, LaunchOptions};
use crate::engine::credentials::{BrowserTrustStore, EmptyCcache};
use crate::engine::embedded::Embedded;
use crate::engine::error::SetupError;
use crate::engine::probe::{HttpTrust, Probe};

/// How the run's browsers are had, as given on the command line.
#[derive(Clone, Debug)]
pub struct BrowserSetup {
    /// Browser family.
    pub kind: BrowserKind,
    /// A visible window.
    pub headed: bool,
    /// The browser binary of the harness's own drivers (`None` with `--webdriver`).
    pub binary: Option<PathBuf>,
    /// `--webdriver URL`: browsers someone else runs, whose environment the harness cannot set.
    pub webdriver: Option<String>,
    /// The run's shared driver (or `--webdriver`) for browsers that need nothing special.
    pub shared_url: String,
    /// How long a new-session request may take (`--new-session-timeout`).
    pub new_session_timeout: std::time::Duration,
}

/// Everything one pass's scenarios reach the target with.
#[derive(Debug)]
pub struct PassSetup {
    /// The organization URL (ends in `/`).
    pub crm_url: url::Url,
    /// The emulator's administrator endpoint, when there is one.
    pub admin_url: Option<url::Url>,
    /// The direct HTTP probe, trusting what the browsers trust.
    pub probe: Probe,
    /// What the probe trusts and how it resolves the target, for other HTTP clients.
    pub http_trust: HttpTrust,
    /// How browsers are launched.
    pub launch: LaunchOptions,
    /// The WebDriver server for anyone without a driver of their own (in IWA mode: the browser
    /// without a Kerberos ticket).
    pub webdriver_url: String,
    /// WebDriver servers of particular users (IWA: each holding that user's ticket).
    pub user_drivers: BTreeMap<String, String>,
    /// Drivers, trust store and credential caches of the pass: keep until the pass ends.
    pub resources: PassResources,
}

/// What a pass started or made; ended and removed when dropped (drivers first).
#[derive(Debug, Default)]
pub struct PassResources {
    drivers: Vec<Driver>,
    store: Option<BrowserTrustStore>,
    no_ticket: Option<EmptyCcache>,
}

impl Drop for PassResources {
    fn drop(&mut self) {
        // The browsers use the store and the caches: end them before the files go.
        self.drivers.clear();
        self.store.take();
        self.no_ticket.take();
    }
}

/// How browsers and the probe find and trust the embedded emulator: its host names mapped to its
/// loopback address, and only this run's certificate trusted (host rules, SPKI hashes, probe
/// trust).
pub fn emulator_trust(e: &Embedded) -> (Vec<String>, Vec<String>, HttpTrust) {
    let sim = &e.sim;
    (
        // Each name exactly, not `*.contoso.test`: Firefox can map listed names only.
        sim.host_names()
            .iter()
            .map(|h| format!("MAP {h} {}", sim.addr().ip()))
            .collect(),
        vec![sim.spki_sha256_base64().to_string()],
        HttpTrust {
            roots_pem: vec![sim.ca_pem().to_string()],
            resolve: sim
                .host_names()
                .iter()
                .map(|h| (h.clone(), sim.addr()))
                .collect(),
        },
    )
}

/// How the probe trusts and finds a real target: its `resolve:` pins and its `tls.ca_file`.
pub fn probe_trust(target: &Target) -> Result<HttpTrust, SetupError> {
    let mut trust = HttpTrust {
        resolve: target.resolved_addrs(),
        ..HttpTrust::default()
    };
    if let Some(ca) = &target.spec.tls.ca_file {
        let pem = crate::config::input::read_text(ca, crate::config::input::MAX_CA_FILE)
            .map_err(|e| SetupError::Target(format!("tls.ca_file: {e}")))?;
        trust.roots_pem.push(pem);
    }
    Ok(trust)
}

/// Builds one pass's probe, launch options and drivers for `target` in `mode`, against the
/// started emulator `embedded` or the target's URL, and checks that the target answers.
pub async fn prepare_pass(
    target: &Target,
    mode: AuthMode,
    embedded: Option<&Embedded>,
    browsers: &BrowserSetup,
) -> Result<PassSetup, SetupError> {
    let mut resources = PassResources::default();
    let mut user_drivers = BTreeMap::new();
    let mut default_url = browsers.shared_url.clone();
    let (crm_url, admin_url, host_rules, spki, trust) = match (embedded, &target.spec.crm) {
        (Some(e), _) => {
            let (host_rules, spki, trust) = emulator_trust(e);
            (
                e.sim.crm_url().clone(),
                Some(e.sim.admin_url()),
                host_rules,
                spki,
                trust,
            )
        }
        (None, CrmLocation::Url(url)) => {
            let trust = probe_trust(target)?;
            if let (Some(ca), Some(pem)) = (&target.spec.tls.ca_file, trust.roots_pem.first()) {
                if browsers.webdriver.is_none() {
                    resources.store = Some(
                        BrowserTrustStore::with_ca_pem(pem, ca)
                            .map_err(|e| SetupError::Target(e.to_string()))?,
                    );
                } else {
                    eprintln!(
                        "warning: the browsers of --webdriver are not the harness's: tls.ca_file {} \
                         reaches the probe only; install that CA where those browsers run",
                        ca.display()
                    );
                }
            }
            (url.clone(), None, target.host_rules(), vec![], trust)
        }
        (None, CrmLocation::Embedded) => {
            return Err(SetupError::Emulator(
                "the embedded target's pass has no emulator".into(),
            ));
        }
    };
    if browsers.kind == BrowserKind::Firefox {
        crate::engine::browser::firefox::dns_prefs(&host_rules)
            .map_err(|e| SetupError::Target(format!("{}: {e}", target.source())))?;
    }
    let probe = Probe::new(&trust).map_err(|e| SetupError::Target(e.to_string()))?;
    probe
        .reachable(&crm_url)
        .await
        .map_err(|e| SetupError::Target(e.to_string()))?;

    let trust_env = resources
        .store
        .as_ref()
        .map(BrowserTrustStore::env)
        .unwrap_or_default();
    let start = |env: Vec<(OsString, OsString)>| async move {
        Driver::start_for(browsers.kind, &env)
            .await
            .map_err(SetupError::Browser)
    };
    if browsers.webdriver.is_none() {
        match (mode, embedded) {
            // The emulator's KDC: a driver per user holding that user's ticket, and the default
            // driver with an empty cache.
            (m, Some(e)) if m.kerberos() => {
                for user in target.spec.users.keys() {
                    let env = e.client_env(user);
                    if env.is_empty() {
                        continue;
                    }
                    let d = start(env).await?;
                    user_drivers.insert(user.clone(), d.url().to_string());
                    resources.drivers.push(d);
                }
                let d = start(e.no_ticket_env()).await?;
                default_url = d.url().to_string();
                resources.drivers.push(d);
            }
            // A real IWA deployment: users' tickets come from their `kerberos_ccache` or the
            // machine; the browser without a ticket gets an empty cache all the same.
            (m, None) if m.kerberos() => {
                let mut ambient_url = None;
                for (user, spec) in &target.spec.users {
                    let url = match &spec.kerberos_ccache {
                        Some(cc) => {
                            if !cc.is_file() {
                                return Err(SetupError::Target(format!(
                                    "user `{user}`: kerberos_ccache {} does not exist; make it \
                                     with `kinit -c {} {user}@YOUR.REALM`",
                                    cc.display(),
                                    cc.display()
                                )));
                            }
                            let mut env = trust_env.clone();
                            env.push((
                                "KRB5CCNAME".into(),
                                format!("FILE:{}", cc.display()).into(),
                            ));
                            let d = start(env).await?;
                            let url = d.url().to_string();
                            resources.drivers.push(d);
                            url
                        }
                        None if trust_env.is_empty() => browsers.shared_url.clone(),
                        None => match &ambient_url {
                            Some(url) => String::clone(url),
                            None => {
                                let d = start(trust_env.clone()).await?;
                                let url = d.url().to_string();
                                resources.drivers.push(d);
                                ambient_url = Some(url.clone());
                                url
                            }
                        },
                    };
                    user_drivers.insert(user.clone(), url);
                }
                let empty = EmptyCcache::new()
                    .map_err(|e| SetupError::Target(format!("cannot make an empty ccache: {e}")))?;
                let mut env = trust_env.clone();
                env.extend(empty.env());
                resources.no_ticket = Some(empty);
                let d = start(env).await?;
                default_url = d.url().to_string();
                resources.drivers.push(d);
            }
            _ if !trust_env.is_empty() => {
                let d = start(trust_env.clone()).await?;
                default_url = d.url().to_string();
                resources.drivers.push(d);
            }
            _ => {}
        }
    } else if mode.kerberos() && embedded.is_none() {
        eprintln!(
            "warning: with --webdriver the harness cannot give the browser \"without a Kerberos \
             ticket\" an empty credential cache; iwa.no-ticket-refused then depends on the tickets \
             of the machine the browsers run on"
        );
    }
    let launch = LaunchOptions {
        new_session_timeout: browsers.new_session_timeout,
        kind: browsers.kind,
        headed: browsers.headed,
        binary: browsers.binary.clone(),
        host_rules,
        trusted_spki: spki,
        // In mode claims the ticket goes to AD FS, a sibling of CRM's host in the usual layout
        // (crm.contoso.com, sts.contoso.com), which the allowlist's `*.<parent>` covers.
        negotiate_allowlist: mode.kerberos().then(|| negotiate_allowlist(&crm_url)),
        // The browsers of --webdriver are not the harness's (see the warning above).
        trusted_ca_pem: match browsers.webdriver {
            Some(_) => Vec::new(),
            None => trust.roots_pem.clone(),
        },
        // Profiles on this machine only: a grid's Firefox makes its own.
        firefox_seed: (browsers.kind == BrowserKind::Firefox && browsers.webdriver.is_none())
            .then(Default::default),
    };
    Ok(PassSetup {
        crm_url,
        admin_url,
        probe,
        http_trust: trust,
        launch,
        webdriver_url: default_url,
        user_drivers,
        resources,
    })
}

/// Kerberos credentials go only to the organization's host and its siblings.
pub fn negotiate_allowlist(crm_url: &url::Url) -> String {
    let host = crm_url.host_str().unwrap_or_default();
    match host.split_once('.') {
        Some((_, parent)) if parent.contains('.') => format!("{host},*.{parent}"),
        _ => host.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiate_goes_to_the_host_and_its_siblings_only() {
        let url = url::Url::parse("https://crm.contoso.test/org/").unwrap();
        assert_eq!(negotiate_allowlist(&url), "crm.contoso.test,*.contoso.test");
        let url = url::Url::parse("https://crm/org/").unwrap();
        assert_eq!(negotiate_allowlist(&url), "crm");
    }
}
