//! Attributes of the target's authentication cookies as the browser stored them (CDP's jar, so
//! HttpOnly cookies and every host are included). Evidence names cookies and flags, never values.

use cucumber::then;

use super::world::LogoutWorld;
use crate::engine::browser::JarCookie;
use crate::judge::{Observation, Outcome, RuleId};

/// The signed-in person's auth cookies; none is "cannot judge" (the target's `auth_cookies`
/// patterns match nothing, or the person is not signed in).
async fn auth_cookies(w: &LogoutWorld) -> Result<Vec<JarCookie>, String> {
    let person = w.who("she")?;
    let jar = w.jar(&person).await?;
    let auth: Vec<JarCookie> = w.auth_cookies(&jar).into_iter().cloned().collect();
    if auth.is_empty() {
        let names: Vec<&str> = jar.iter().map(|c| c.name.as_str()).collect();
        return Err(format!(
            "no authentication cookie ({}) for {} in the jar (it holds: {}); check `auth_cookies` in the target profile",
            w.ctx().target.pages.auth_cookies.join(", "),
            w.ctx().crm_url,
            names.join(", ")
        ));
    }
    Ok(auth)
}

/// Judges a flag every auth cookie must carry: "set" when all do, "missing" otherwise.
async fn judge_flag(
    w: &mut LogoutWorld,
    rule: RuleId,
    flag: &str,
    has: fn(&JarCookie) -> bool,
) -> Result<(), String> {
    let cookies = auth_cookies(w).await?;
    let lacking: Vec<String> = cookies
        .iter()
        .filter(|c| !has(c))
        .map(|c| format!("{c:?}"))
        .collect();
    let outcome = if lacking.is_empty() {
        Outcome::Set
    } else {
        Outcome::Missing
    };
    let mut obs = Observation::new(rule, outcome).evidence(format!(
        "{flag} on: {}",
        cookies
            .iter()
            .map(|c| format!("{c:?}={}", if has(c) { "yes" } else { "no" }))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    if !lacking.is_empty() {
        obs = obs.evidence(format!("without {flag}: {}", lacking.join(", ")));
    }
    w.judge(obs)?;
    Ok(())
}

#[then(regex = r"^(?:her|his|their) authentication cookies carry Secure$")]
async fn carry_secure(w: &mut LogoutWorld) -> Result<(), String> {
    judge_flag(w, RuleId::CookieSecure, "Secure", |c| c.secure).await
}

#[then(regex = r"^(?:her|his|their) authentication cookies carry HttpOnly$")]
async fn carry_httponly(w: &mut LogoutWorld) -> Result<(), String> {
    judge_flag(w, RuleId::CookieHttpOnly, "HttpOnly", |c| c.http_only).await
}

/// SameSite from weakest to strongest: an explicit `None` sends the cookie on every cross-site
/// request; unset is Lax-by-default in Chromium (with a short grace period for top-level POSTs).
fn same_site_rank(c: &JarCookie) -> (u8, Outcome) {
    match c
        .same_site
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("none") => (0, Outcome::None),
        None | Some("") => (1, Outcome::Unset),
        Some("lax") => (2, Outcome::Lax),
        Some("strict") => (3, Outcome::Strict),
        Some(_) => (1, Outcome::Unset),
    }
}

#[then(regex = r"^(?:her|his|their) authentication cookies carry the SameSite the policy accepts$")]
async fn carry_samesite(w: &mut LogoutWorld) -> Result<(), String> {
    let cookies = auth_cookies(w).await?;
    let weakest = cookies
        .iter()
        .map(same_site_rank)
        .min()
        .map(|(_, name)| name)
        .unwrap_or(Outcome::Unset);
    let obs = Observation::new(RuleId::CookieSameSite, weakest).evidence(format!(
        "SameSite (weakest counts): {}",
        cookies
            .iter()
            .map(|c| format!("{c:?}={}", same_site_rank(c).1))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    w.judge(obs)?;
    Ok(())
}

#[then(regex = r"^(?:her|his|their) authentication cookies die with the browser$")]
async fn session_lifetime(w: &mut LogoutWorld) -> Result<(), String> {
    let cookies = auth_cookies(w).await?;
    let persistent: Vec<String> = cookies
        .iter()
        .filter(|c| !c.session)
        .map(|c| format!("{c:?}"))
        .collect();
    let outcome = if persistent.is_empty() {
        Outcome::Session
    } else {
        Outcome::Persistent
    };
    let mut obs = Observation::new(RuleId::CookieLifetime, outcome).evidence(format!(
        "session cookies: {}",
        cookies
            .iter()
            .filter(|c| c.session)
            .map(|c| format!("{c:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    if !persistent.is_empty() {
        // The expiry is a date, not a secret; it shows how long a left-behind cookie lives.
        obs = obs.evidence(format!(
            "persistent: {}",
            cookies
                .iter()
                .filter(|c| !c.session)
                .map(|c| format!("{c:?} (expires {})", c.expires as i64))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    w.judge(obs)?;
    Ok(())
}

#[then(regex = r"^no cookie in (?:her|his|their) browser holds (?:her|his|their) password$")]
async fn no_credentials(w: &mut LogoutWorld) -> Result<(), String> {
    let person = w.who("she")?;
    let password = w
        .ctx()
        .target
        .credentials(&person)?
        .password
        .ok_or_else(|| format!("the target gives no password for {person} to look for"))?;
    let jar = w.jar(&person).await?;
    let holding: Vec<String> = jar
        .iter()
        .filter_map(|c| {
            crate::config::secrets::find_in(&c.value, password.expose())
                .map(|how| format!("{c:?} ({how})"))
        })
        .collect();
    let outcome = if holding.is_empty() {
        Outcome::Absent
    } else {
        Outcome::Present
    };
    let mut obs = Observation::new(RuleId::CookieNoCredentials, outcome).evidence(format!(
        "looked for {person}'s password in clear, URL-encoded and base64 in {} cookie(s) of every host",
        jar.len()
    ));
    if !holding.is_empty() {
        // Names where, never the value or the password.
        obs = obs.evidence(format!("holding it: {}", holding.join(", ")));
    }
    w.judge(obs)
}
