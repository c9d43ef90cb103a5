//! `check --connect`'s proposed target file: one sign-in as alice in the check's browser, and what
//! it showed. The hosts of the sign-in chain, the cookies each host set and which of them
//! authenticate (each left out in turn, as people do by hand in the browser's developer tools:
//! the application's through its start page, the identity provider's by asking it for a sign-in
//! again), the Sign out control, what the page after sign-out says, and a `pages:` fragment to
//! paste into the target file, so that a new deployment gets from its URL and a user to a first
//! run without reading the source.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::config::target::{SignInChain, Target};
use crate::engine::browser::{Browser, JarCookie};
use crate::engine::probe::{IdpAnswer, Probe};
use crate::observe::discover::{self, SignInForm};
use crate::observe::snapshot::Normaliser;

/// One cookie held after the sign-in, and whether it authenticates.
#[derive(Clone, Debug)]
pub struct CookieSeen {
    /// Its name.
    pub name: String,
    /// Its host (domain as the browser keeps it).
    pub host: String,
    /// Whether the application's or the provider's session needs it; `None` when it could not
    /// be told.
    pub authenticates: Option<bool>,
    /// How that was told.
    pub how: String,
    /// The name with random parts shown as placeholders, when it has some (its snapshot name).
    pub normalised: Option<String>,
}

/// What one sign-in showed, for the proposed target file.
#[derive(Clone, Debug)]
pub struct Proposal {
    /// Where the sign-in redirect chain went.
    pub chain: SignInChain,
    /// The sign-in form's fields, as found on the sign-in page.
    pub form: SignInForm,
    /// Every cookie after the sign-in, by host.
    pub cookies: Vec<CookieSeen>,
    /// A page that answers 2xx with the session and something else without (the probe's
    /// "who am I"), relative to the target's URL.
    pub whoami: Option<String>,
    /// The Sign out control, and the words that picked it.
    pub sign_out: Option<(String, String)>,
    /// What the page after sign-out says, as a `signed_out_text`.
    pub signed_out_text: Option<String>,
    /// What could not be found, and what to write instead.
    pub notes: Vec<String>,
}

/// Signs in as alice on the page the browser shows (the sign-in page), then looks as described
/// in the module's documentation. `form` is the sign-in form as configured when the page has
/// every configured field, else as found. An error says why no sign-in could be made.
pub async fn from_one_sign_in(
    browser: &Browser,
    target: &Target,
    probe: &Probe,
    chain: SignInChain,
    start: &url::Url,
    form: SignInForm,
    limit: Duration,
) -> Result<Proposal, String> {
    let creds = target.credentials("alice")?;
    let password = creds.password.as_ref().ok_or(
        "alice has no password in the target file (`no_password`): nothing to sign in with",
    )?;
    crate::observe::page::fill(
        browser,
        &[
            (&form.username, &creds.username),
            (&form.password, password.expose()),
        ],
    )
    .await
    .map_err(|e| e.to_string())?;
    browser
        .client()
        .find(fantoccini::Locator::Css(&form.submit))
        .await
        .map_err(|e| format!("the sign-in form's `{}`: {e}", form.submit))?
        .click()
        .await
        .map_err(|e| format!("submitting the sign-in form: {e}"))?;
    let app_host = start.host_str().unwrap_or_default().to_string();
    let landed = settle(browser, limit, |url, password_shown| {
        url.host_str() == Some(app_host.as_str()) && !password_shown
    })
    .await;
    if !landed {
        return Err(format!(
            "after submitting the sign-in form, the browser did not come back to {app_host} \
             without a password field within {}s (now at {}): a wrong password, or a step this \
             check does not take (a consent page, a second factor)",
            limit.as_secs(),
            crate::observe::page::current_url(browser).await
        ));
    }
    let mut notes = Vec::new();
    let jar = browser.all_cookies().await.map_err(|e| e.to_string())?;
    let normaliser = Normaliser::new(&Default::default());
    let mut cookies: Vec<CookieSeen> = jar
        .iter()
        .map(|c| {
            let normalised = normaliser.text(&c.name);
            CookieSeen {
                name: c.name.clone(),
                host: c.domain.clone(),
                authenticates: None,
                how: String::new(),
                normalised: (normalised != c.name).then_some(normalised),
            }
        })
        .collect();

    // The application's cookies: its start page with all of them, with none, and without each.
    let with_all = probe
        .get_with_cookies(start, &jar)
        .await
        .map_err(|e| e.to_string())?;
    let with_none = probe
        .get_with_cookies(start, &[])
        .await
        .map_err(|e| e.to_string())?;
    let whoami = if with_all.authenticated() && !with_none.authenticated() {
        Some(relative(target, start))
    } else {
        notes.push(format!(
            "the start page does not tell a session from none for an HTTP client ({with_all}; \
             {with_none}): write `whoami:` as a page that answers 2xx when signed in and a \
             redirect, 401 or 403 when not (an API such as `api/me`)"
        ));
        None
    };
    if whoami.is_some() {
        for (i, c) in jar.iter().enumerate() {
            if !c.applies_to(start) {
                continue;
            }
            let without: Vec<JarCookie> = jar
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, c)| c.clone())
                .collect();
            let answer = probe
                .get_with_cookies(start, &without)
                .await
                .map_err(|e| e.to_string())?;
            let seen = &mut cookies[i];
            seen.authenticates = Some(!answer.authenticated());
            seen.how = format!("the start page without it: {}", answer.status);
        }
    }

    // The provider's cookies: its sign-in request again with all of them, and without each.
    if let (Some(request), Some(_)) = (&chain.sign_in_request, &chain.identity_provider) {
        let at_idp: Vec<usize> = (0..jar.len())
            .filter(|i| jar[*i].applies_to(request))
            .collect();
        let all: Vec<JarCookie> = at_idp.iter().map(|i| jar[*i].clone()).collect();
        match probe.idp_sign_in_again(request, &all).await {
            Ok(IdpAnswer::Token) => {
                for &i in &at_idp {
                    let without: Vec<JarCookie> = at_idp
                        .iter()
                        .filter(|j| **j != i)
                        .map(|j| jar[*j].clone())
                        .collect();
                    let answer = probe
                        .idp_sign_in_again(request, &without)
                        .await
                        .map_err(|e| e.to_string())?;
                    let seen = &mut cookies[i];
                    seen.authenticates = Some(answer != IdpAnswer::Token);
                    seen.how = format!("the identity provider without it answered {answer}");
                }
            }
            Ok(other) => notes.push(format!(
                "asked for a sign-in again with its cookies, the identity provider answered \
                 {other}, not a silent sign-in: its cookies were not told apart"
            )),
            Err(e) => notes.push(format!("asking the identity provider again: {e}")),
        }
    }

    let sign_out = discover::sign_out_control(browser)
        .await
        .map_err(|e| e.to_string())?;
    let mut signed_out_text = None;
    match &sign_out {
        Some((css, _)) => {
            let clicked = match browser.client().find(fantoccini::Locator::Css(css)).await {
                Ok(control) => control.click().await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match clicked {
                Ok(_) => {
                    settle(browser, limit, |_, _| true).await;
                    let text = browser.body_text().await.unwrap_or_default();
                    signed_out_text = discover::signed_out_text(&text);
                    if signed_out_text.is_none() {
                        notes.push(format!(
                            "the page after Sign out ({}) says none of the usual words (signed \
                             out, logged out, ...): write `signed_out_text:` as a regular \
                             expression it matches",
                            crate::observe::page::current_url(browser).await
                        ));
                    }
                }
                Err(e) => notes.push(format!("clicking Sign out `{css}`: {e}")),
            }
        }
        None => notes.push(
            "no link or button on the signed-in page says sign out or log out: write \
             `sign_out:` (and `user_menu:` when it sits in a menu)"
                .into(),
        ),
    }
    Ok(Proposal {
        chain,
        form,
        cookies,
        whoami,
        sign_out,
        signed_out_text,
        notes,
    })
}

/// Waits until the page is loaded, `done(url, a password field shown)` holds, and the address
/// has not changed for a second; false when `limit` passes first.
async fn settle(
    browser: &Browser,
    limit: Duration,
    done: impl Fn(&url::Url, bool) -> bool,
) -> bool {
    const QUIET: Duration = Duration::from_secs(1);
    let last = std::cell::RefCell::new((String::new(), Instant::now()));
    crate::engine::wait::Wait::at_most(limit)
        .every(Duration::from_millis(100))
        .until(|| {
            let (last, done) = (&last, &done);
            async move {
                let url = browser.client().current_url().await.ok()?;
                {
                    let mut last = last.borrow_mut();
                    if last.0 != url.as_str() {
                        *last = (url.to_string(), Instant::now());
                    }
                }
                let complete = crate::observe::page::document_complete(browser).await;
                let password = browser.has("input[type=password]").await.unwrap_or(false);
                (complete && done(&url, password) && last.borrow().1.elapsed() >= QUIET)
                    .then_some(())
            }
        })
        .await
        .is_ok()
}

/// `url` relative to the target's organization URL (what `whoami` and `pages.start` hold).
fn relative(target: &Target, url: &url::Url) -> String {
    match &target.spec.crm {
        crate::config::target::CrmLocation::Url(base) => url
            .as_str()
            .strip_prefix(base.as_str())
            .unwrap_or(url.as_str())
            .to_string(),
        crate::config::target::CrmLocation::Embedded => url.path().to_string(),
    }
}

/// A YAML string: quoted when it would not read back as the same plain string.
fn yaml(s: &str) -> String {
    serde_yaml::to_string(s)
        .map(|y| y.trim_end().to_string())
        .unwrap_or_else(|_| format!("'{}'", s.replace('\'', "''")))
}

impl Proposal {
    /// What the sign-in showed, for a person: the chain, each host's cookies and which
    /// authenticate, the Sign out control, and what could not be found.
    pub fn report(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "sign-in chain: {}", self.chain.seen);
        match &self.chain.identity_provider {
            Some(idp) => {
                let _ = writeln!(out, "identity provider: {idp}");
            }
            None => {
                let _ = writeln!(out, "identity provider: none seen");
            }
        }
        let _ = writeln!(out, "cookies after signing in as alice:");
        let mut hosts: Vec<&str> = self.cookies.iter().map(|c| c.host.as_str()).collect();
        hosts.dedup();
        for host in hosts {
            let _ = writeln!(out, "  {host}:");
            for c in self.cookies.iter().filter(|c| c.host == host) {
                let what = match c.authenticates {
                    Some(true) => format!("authenticates ({})", c.how),
                    Some(false) => format!("does not authenticate ({})", c.how),
                    None => "not told apart".to_string(),
                };
                let varies = c
                    .normalised
                    .as_ref()
                    .map(|n| format!("; its name varies, snapshots show `{n}`"))
                    .unwrap_or_default();
                let _ = writeln!(out, "    {}: {what}{varies}", c.name);
            }
        }
        match &self.sign_out {
            Some((css, why)) => {
                let _ = writeln!(out, "sign-out control: {css} (\"{why}\")");
            }
            None => {
                let _ = writeln!(out, "sign-out control: none found");
            }
        }
        for n in &self.notes {
            let _ = writeln!(out, "note: {n}");
        }
        out
    }

    /// The target-file keys to paste below `users:`: `whoami`, `identity_provider` when the
    /// chain showed one, and `pages:` with the form, the Sign out control (which also marks the
    /// signed-in page), the signed-out text and the authenticating cookies per host.
    pub fn fragment(&self, app_host: &str, start: &str) -> String {
        let mut out = String::new();
        if let Some(w) = &self.whoami {
            let _ = writeln!(out, "whoami: {}", yaml(w));
        }
        if let Some(idp) = &self.chain.identity_provider
            && let Some(origin) = &idp.origin
        {
            match idp.protocol {
                Some(p) => {
                    let _ = writeln!(
                        out,
                        "identity_provider: {{url: {}, protocol: {}}}",
                        origin,
                        p.key()
                    );
                }
                None => {
                    let _ = writeln!(out, "identity_provider: {origin}");
                }
            }
        }
        let _ = writeln!(out, "pages:");
        let _ = writeln!(out, "  start: {}", yaml(start));
        let _ = writeln!(out, "  username_input: {}", yaml(&self.form.username));
        let _ = writeln!(out, "  password_input: {}", yaml(&self.form.password));
        let _ = writeln!(out, "  submit: {}", yaml(&self.form.submit));
        match &self.sign_out {
            Some((css, _)) => {
                // Shown only to a signed-in user: it marks the signed-in page, and stands for
                // the data until a better element is named.
                let _ = writeln!(out, "  sign_out: {}", yaml(css));
                let _ = writeln!(out, "  signed_in: {}", yaml(css));
                let _ = writeln!(
                    out,
                    "  data: {}  # better: an element that holds the user's data",
                    yaml(css)
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "  # sign_out, signed_in, data: not found (see the notes)"
                );
            }
        }
        if let Some(t) = &self.signed_out_text {
            let _ = writeln!(out, "  signed_out_text: {}", yaml(t));
        }
        // The application's own first, then each other host's.
        let mut authenticating: Vec<&CookieSeen> = self
            .cookies
            .iter()
            .filter(|c| c.authenticates == Some(true))
            .collect();
        authenticating.sort_by_key(|c| c.host.trim_start_matches('.') != app_host);
        let auth: Vec<String> = authenticating
            .into_iter()
            .map(|c| {
                // A name with a random part is named by what comes before it.
                let name = match &c.normalised {
                    Some(n) => format!("{}*", n.split('{').next().unwrap_or_default()),
                    None => c.name.clone(),
                };
                let host = c.host.trim_start_matches('.');
                if host == app_host {
                    name
                } else {
                    format!("{name}@{host}")
                }
            })
            .collect();
        let _ = writeln!(
            out,
            "  auth_cookies: [{}]",
            auth.iter().map(|a| yaml(a)).collect::<Vec<_>>().join(", ")
        );
        out
    }
}
