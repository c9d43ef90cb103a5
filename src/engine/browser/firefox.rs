//! Firefox through geckodriver: what differs from Chromium, kept here so that steps and pages
//! drive every browser alike. Measured with Firefox ESR 153 and geckodriver 0.37
//! (docs/browsers.md; sources there).
//!
//! - **One session per geckodriver.** A second New Session on the same geckodriver is refused
//!   ("Session is already started"), so every Firefox session of the harness's own gets a
//!   geckodriver of its own ([`crate::engine::browser::Browser::launch`]); starting one takes about 30 ms.
//! - **No browser contexts through CDP; user contexts through WebDriver BiDi.** A person gets a
//!   user context of their own (`browser.createUserContext`) in a Firefox no one else is using,
//!   which keeps it for the next person once the context is removed
//!   ([`crate::engine::browser::SharedBrowser`]): one session drives one tab at a time, so people take
//!   turns in a Firefox rather than share one.
//! - **Prefs instead of switches**, written by geckodriver into the profile's `user.js`
//!   (`moz:firefoxOptions.prefs`): host names to loopback (`network.dns.localDomains`), Kerberos
//!   (`network.negotiate-auth.trusted-uris`), "continue where you left off"
//!   (`browser.startup.page` = 3, which also restores session cookies).
//! - **Trust**: Firefox reads only its profile's NSS database (`cert9.db`), never
//!   `$HOME/.pki/nssdb`, and has no switch that trusts a certificate by its key hash: the run's
//!   CA is imported into each profile with `certutil` ([`trust_profile`]).
//! - **A warmed profile seeds the others** ([`ProfileSeed`]): Firefox's first start on an empty
//!   profile builds its add-on registry, start-up cache and databases, about a third of a start.
//! - **The whole cookie jar** comes from WebDriver BiDi `storage.getCookies`
//!   (<https://w3c.github.io/webdriver-bidi/#command-storage-getCookies>) on the socket the
//!   session returns as `webSocketUrl` (asked for with `webSocketUrl: true`).

use std::net::IpAddr;
use std::path::Path;

use serde_json::{Map, Value, json};

use crate::engine::browser::{Browser, BrowserError, JarCookie, LaunchOptions, Profile};

/// The W3C capabilities of one Firefox session on `profile`.
pub fn capabilities(
    options: &LaunchOptions,
    profile: &Profile,
    restore_last_session: bool,
) -> Map<String, Value> {
    let mut args = vec!["-profile".to_string(), profile.path().display().to_string()];
    if !options.headed {
        args.push("-headless".into());
    }
    let mut prefs = prefs(options, restore_last_session);
    // Third-party cookies as the Chromium profiles have them (docs/browser-facts.md B7): 0
    // accepts them, 1 rejects them. Firefox's own default, 5 (Total Cookie Protection),
    // partitions them, which for AD FS's sign-out clean-up of another site is as blocking.
    prefs.insert(
        "network.cookie.cookieBehavior".into(),
        json!(if profile.blocks_third_party_cookies() {
            1
        } else {
            0
        }),
    );
    let mut firefox_options = json!({
        "args": args,
        "prefs": prefs,
        "log": { "level": "error" },
    });
    if let Some(binary) = &options.binary {
        firefox_options["binary"] = json!(binary);
    }
    let mut caps = Map::new();
    caps.insert("browserName".into(), json!("firefox"));
    caps.insert("pageLoadStrategy".into(), json!("normal"));
    // The BiDi socket, for the whole cookie jar.
    caps.insert("webSocketUrl".into(), json!(true));
    caps.insert("moz:firefoxOptions".into(), firefox_options);
    caps
}

/// The prefs of one session (<https://searchfox.org/mozilla-esr153/source/modules/libpref/init/all.js>
/// and `StaticPrefList.yaml` define them).
pub fn prefs(options: &LaunchOptions, restore_last_session: bool) -> Map<String, Value> {
    let mut prefs = Map::new();
    // 3: "Open previous windows and tabs", which brings back the session cookies too; 0: a
    // blank page, the session's cookies gone with the browser.
    prefs.insert(
        "browser.startup.page".into(),
        json!(if restore_last_session { 3 } else { 0 }),
    );
    prefs.insert("browser.startup.homepage".into(), json!("about:blank"));
    prefs.insert("browser.newtabpage.enabled".into(), json!(false));
    // A browser the harness closes is closed on purpose, never "crashed".
    prefs.insert(
        "browser.sessionstore.resume_from_crash".into(),
        json!(false),
    );
    // No content process started ahead for a tab that may come (Chromium's spare renderer, in
    // Firefox): about a tenth of a run's CPU, and no page behaves otherwise
    // (docs/browser-facts.md F1).
    prefs.insert("dom.ipc.processPrelaunch.enabled".into(), json!(false));
    if let Ok(dns) = dns_prefs(&options.host_rules) {
        prefs.extend(dns);
    }
    if let Some(allow) = &options.negotiate_allowlist {
        prefs.insert(
            "network.negotiate-auth.trusted-uris".into(),
            json!(negotiate_uris(allow)),
        );
    }
    prefs
}

/// Firefox's form of a `--auth-server-allowlist`: `*.contoso.test` becomes `.contoso.test`
/// (a leading dot: that domain's hosts).
pub fn negotiate_uris(allowlist: &str) -> String {
    allowlist
        .split(',')
        .map(|h| match h.trim().strip_prefix('*') {
            Some(rest) => rest.to_string(),
            None => h.trim().to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The DNS prefs for `MAP host address` rules (the `--host-resolver-rules` entries the harness
/// gives Chromium). Firefox has no per-host mapping: `network.dns.localDomains` resolves the
/// listed names (exactly those, no wildcard) to loopback, `network.dns.forceResolve` resolves
/// every name to one address. An error when neither expresses the rules.
pub fn dns_prefs(host_rules: &[String]) -> Result<Map<String, Value>, String> {
    let mut prefs = Map::new();
    let mut rules = Vec::new();
    for rule in host_rules {
        let parts: Vec<&str> = rule.split_whitespace().collect();
        let (host, addr) = match parts.as_slice() {
            ["MAP", host, addr] => (*host, *addr),
            _ => return Err(format!("host rule `{rule}` is not `MAP host address`")),
        };
        let addr: IpAddr = addr
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| format!("host rule `{rule}`: `{addr}` is not an IP address"))?;
        rules.push((host, addr));
    }
    let Some((_, first)) = rules.first() else {
        return Ok(prefs);
    };
    let one_address = rules.iter().all(|(_, a)| a == first);
    let exact = rules.iter().all(|(h, _)| !h.contains('*'));
    if one_address && exact && *first == IpAddr::from([127, 0, 0, 1]) {
        let names: Vec<&str> = rules.iter().map(|(h, _)| *h).collect();
        prefs.insert("network.dns.localDomains".into(), json!(names.join(",")));
    } else if one_address {
        prefs.insert("network.dns.forceResolve".into(), json!(first.to_string()));
    } else {
        return Err(format!(
            "Firefox cannot resolve these names to different addresses ({}): it can map names to \
             127.0.0.1 (network.dns.localDomains) or every name to one address \
             (network.dns.forceResolve). Give every `resolve:` entry the same address, put the \
             names in /etc/hosts, or use --browser chromium",
            host_rules.join(", ")
        ));
    }
    Ok(prefs)
}

/// Makes `profile` trust exactly `pems` (the run's CA certificates) as TLS server CAs, once: a
/// profile that already has its certificate database (a reopened browser) is left as it is.
pub fn trust_profile(profile: &Profile, pems: &[String]) -> Result<(), BrowserError> {
    if pems.is_empty() || profile.path().join("cert9.db").exists() {
        return Ok(());
    }
    let certs: Vec<String> = pems
        .iter()
        .flat_map(|p| crate::engine::credentials::pem_certificates(p))
        .collect();
    crate::engine::credentials::nss_db_trusting(profile.path(), &certs, "the run's CA").map_err(
        |e| BrowserError::NotInstalled {
            what: "Firefox's certificate database".into(),
            hint: e.to_string(),
        },
    )
}

/// What a new profile takes from the pass's warmed one: what Firefox builds on its first start
/// and that belongs to no person (the add-on registry and start-up cache, the certificate
/// database with the run's CA already imported, search engines, window layout). Never cookies,
/// storage, cache, history, permissions, the session store or `prefs.js` (a seeded profile has
/// not run, so "continue where you left off" still finds no last session).
pub const SEED_FILES: &[&str] = &[
    "addonStartup.json.lz4",
    "extensions.json",
    "extension-preferences.json",
    "startupCache",
    "compatibility.ini",
    "cert9.db",
    "key4.db",
    "pkcs11.txt",
    "search.json.mozlz4",
    "security_state",
    "xulstore.json",
    "containers.json",
    "handlers.json",
    "times.json",
];

/// A profile Firefox started on once, whose [`SEED_FILES`] are copied into each new profile of
/// the pass before its browser starts. Measured on 2 cores (Firefox ESR 153, geckodriver 0.37,
/// headless, under load): a start on an empty profile used 4.1-5.9 s of CPU, on a seeded one
/// 3.0-4.1 s, and New Session took a quarter less time (docs/browser-facts.md F5).
///
/// Warmed once, by the pass's first Firefox, with the pass's options; a profile is seeded only
/// when it is empty and trusts the same CAs. A warm-up that fails seeds nothing: every profile
/// then starts empty, as before, and its own start reports any real error.
#[derive(Debug, Default)]
pub struct ProfileSeed {
    warmed: tokio::sync::OnceCell<Option<(Profile, Vec<String>)>>,
}

impl ProfileSeed {
    /// Copies the seed files into `profile` if it is empty, warming the seed first (once).
    pub async fn fill(&self, profile: &Profile, webdriver_url: &str, options: &LaunchOptions) {
        if !is_empty_dir(profile.path()) {
            return;
        }
        let warmed = self
            .warmed
            .get_or_init(|| async {
                let template = Profile::new().ok()?;
                let mut plain = options.clone();
                plain.firefox_seed = None;
                let browser = Box::pin(Browser::launch(webdriver_url, &plain, &template, false))
                    .await
                    .ok()?;
                browser.close().await.ok()?;
                Some((template, plain.trusted_ca_pem))
            })
            .await;
        let Some((template, trusted)) = warmed else {
            return;
        };
        if *trusted != options.trusted_ca_pem {
            return;
        }
        if copy_seed(template.path(), profile.path()).is_err() {
            // Half a seed is no seed: start from an empty profile instead.
            empty_dir(profile.path());
        }
    }
}

fn is_empty_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_none())
}

fn empty_dir(dir: &Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let _ = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
    }
}

/// Copies the [`SEED_FILES`] that `from` has into `to`.
fn copy_seed(from: &Path, to: &Path) -> std::io::Result<()> {
    for name in SEED_FILES {
        let source = from.join(name);
        if source.is_dir() {
            copy_dir(&source, &to.join(name))?;
        } else if source.is_file() {
            std::fs::copy(&source, to.join(name))?;
        }
    }
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// The cookies of a BiDi `storage.getCookies` result, as the harness keeps them.
///
/// BiDi's `sameSite` is `"default"` when the server set none (CDP leaves it out); `expiry` is
/// absent for a session cookie; a domain cookie's `domain` keeps its leading dot.
pub fn jar_from_bidi(result: &Value) -> Result<Vec<JarCookie>, String> {
    let cookies = result["cookies"]
        .as_array()
        .ok_or("storage.getCookies: no `cookies` in the answer")?;
    cookies
        .iter()
        .map(|c| {
            let text = |k: &str| {
                c[k].as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("storage.getCookies: a cookie without `{k}`"))
            };
            let value = match c["value"]["type"].as_str() {
                Some("string") => c["value"]["value"].as_str().unwrap_or_default().to_string(),
                Some("base64") => {
                    use base64::Engine;
                    let raw = c["value"]["value"].as_str().unwrap_or_default();
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(raw)
                        .unwrap_or_default();
                    String::from_utf8_lossy(&bytes).into_owned()
                }
                _ => String::new(),
            };
            let expiry = c["expiry"].as_f64();
            Ok(JarCookie {
                name: text("name")?,
                value,
                domain: text("domain")?,
                path: text("path")?,
                expires: expiry.unwrap_or(-1.0),
                http_only: c["httpOnly"].as_bool().unwrap_or(false),
                secure: c["secure"].as_bool().unwrap_or(false),
                session: expiry.is_none(),
                same_site: match c["sameSite"].as_str() {
                    Some("strict") => Some("Strict".into()),
                    Some("lax") => Some("Lax".into()),
                    Some("none") => Some("None".into()),
                    _ => None,
                },
            })
        })
        .collect()
}

/// The script that tells whether Firefox shows its certificate error page, and with which code
/// (`getFailedCertSecurityInfo` is what that page itself reads its error from).
pub const CERT_ERROR_SCRIPT: &str = "if (!document.documentURI.startsWith('about:certerror')) \
     { return null; } \
     try { return document.getFailedCertSecurityInfo().errorCodeString; } \
     catch (e) { return 'SEC_ERROR_UNKNOWN'; }";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_use_local_domains_and_others_force_one_address() {
        let p = dns_prefs(&[
            "MAP crm.contoso.test 127.0.0.1".into(),
            "MAP adfs.contoso.test 127.0.0.1".into(),
        ])
        .unwrap();
        assert_eq!(
            p["network.dns.localDomains"],
            "crm.contoso.test,adfs.contoso.test"
        );
        let p = dns_prefs(&["MAP *.contoso.test 10.0.0.5".into()]).unwrap();
        assert_eq!(p["network.dns.forceResolve"], "10.0.0.5");
        let e = dns_prefs(&[
            "MAP crm.contoso.test 10.0.0.5".into(),
            "MAP adfs.contoso.test 10.0.0.6".into(),
        ])
        .unwrap_err();
        assert!(e.contains("different addresses"), "{e}");
        assert!(dns_prefs(&[]).unwrap().is_empty());
    }

    /// A seed carries what Firefox builds on its first start, and nothing a person leaves:
    /// cookies, storage, cache, history, permissions, the session store, prefs.
    #[test]
    fn a_seed_copies_start_up_files_and_nothing_of_a_person() {
        let from = tempfile::tempdir().unwrap();
        let to = tempfile::tempdir().unwrap();
        for f in [
            "cookies.sqlite",
            "sessionstore.jsonlz4",
            "prefs.js",
            "places.sqlite",
            "permissions.sqlite",
            "webappsstore.sqlite",
            "cert9.db",
            "extensions.json",
        ] {
            std::fs::write(from.path().join(f), "x").unwrap();
        }
        for d in ["cache2/entries", "storage/default", "startupCache"] {
            std::fs::create_dir_all(from.path().join(d)).unwrap();
        }
        std::fs::write(from.path().join("startupCache/startupCache.8.little"), "x").unwrap();
        std::fs::write(from.path().join("cache2/entries/A1"), "x").unwrap();

        assert!(is_empty_dir(to.path()));
        copy_seed(from.path(), to.path()).unwrap();
        let mut copied: Vec<String> = std::fs::read_dir(to.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        copied.sort();
        assert_eq!(copied, ["cert9.db", "extensions.json", "startupCache"]);
        assert!(
            to.path()
                .join("startupCache/startupCache.8.little")
                .is_file()
        );
        // A profile with anything in it (a browser reopened on it) is never seeded again.
        assert!(!is_empty_dir(to.path()));
    }

    #[test]
    fn negotiate_wildcards_become_domain_suffixes() {
        assert_eq!(
            negotiate_uris("crm.contoso.test,*.contoso.test"),
            "crm.contoso.test,.contoso.test"
        );
    }

    #[test]
    fn bidi_cookies_keep_flags_lifetime_and_unset_same_site() {
        let result = json!({"cookies": [
            {"domain": "crm.contoso.test", "httpOnly": true, "name": "MSISAuth", "path": "/",
             "sameSite": "default", "secure": true, "size": 9, "value": {"type": "string", "value": "v"}},
            {"domain": ".contoso.test", "expiry": 1796050477, "httpOnly": false, "name": "d",
             "path": "/", "sameSite": "lax", "secure": false, "size": 2,
             "value": {"type": "base64", "value": "eA=="}}
        ]});
        let jar = jar_from_bidi(&result).unwrap();
        assert_eq!(jar[0].same_site, None);
        assert!(jar[0].session && jar[0].http_only && jar[0].secure && jar[0].expires == -1.0);
        assert_eq!(jar[1].same_site.as_deref(), Some("Lax"));
        assert!(!jar[1].session && jar[1].expires == 1796050477.0 && jar[1].value == "x");
        assert!(jar_from_bidi(&json!({})).is_err());
    }
}
