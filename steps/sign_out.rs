//! Signing out through the profile menu, and what is observed afterwards.

use std::time::{Duration, Instant};

use cucumber::{then, when};

use super::world::LogoutWorld;
use crate::policy::{Observation, RuleId};
use crate::snapshot;

#[when(regex = r"^(\w+) signs? out through the profile menu$")]
async fn signs_out(w: &mut LogoutWorld, who: String) -> Result<(), String> {
    let person = w.who(&who)?;
    sign_out_via_menu(w, &person).await
}

/// Saves the jar (after proving the probe sees the live session), then clicks the profile menu's
/// Sign Out and waits until the sign-out redirects have settled.
pub async fn sign_out_via_menu(w: &mut LogoutWorld, person: &str) -> Result<(), String> {
    let pages = w.ctx.target.pages.clone();
    let jar = w
        .browser(person)?
        .all_cookies()
        .await
        .map_err(|e| e.to_string())?;

    // The replay check can only fail if the probe tells a live session from none: prove it now,
    // while the session is live, or the harness could pass a broken deployment. (Windows
    // authentication has no session cookie to replay.)
    if !w.ctx.target.pages.auth_cookies.is_empty() {
        let live = w.probe_whoami(&jar).await?;
        if !live.authenticated() {
            return Err(format!(
                "the probe cannot see the live session, so a replay after sign-out would prove nothing: {live}. \
                 Fix `whoami` in the target profile."
            ));
        }
    }
    w.before_sign_out = jar;

    let browser = w.browser(person)?;
    let menu = browser
        .wait_for(&pages.user_menu, w.ctx.page_timeout)
        .await
        .map_err(|e| format!("the profile menu: {e}"))?;
    menu.click()
        .await
        .map_err(|e| format!("opening the profile menu: {e}"))?;
    let item = wait_displayed(browser, &pages.sign_out, w.ctx.page_timeout).await?;
    // Sign-out is a chain of redirects (CRM, then AD FS): wait for the last page to load. Not an
    // error when it never does: the checks judge whatever is on screen.
    let navigation = std::time::Instant::now();
    browser
        .click_and_wait_new_document(item, w.ctx.page_timeout)
        .await
        .map_err(|e| format!("clicking Sign Out: {e}"))?;
    w.timings.navigation += navigation.elapsed();
    Ok(())
}

async fn wait_displayed(
    browser: &crate::browser::Browser,
    css: &str,
    limit: Duration,
) -> Result<fantoccini::elements::Element, String> {
    let deadline = Instant::now() + limit;
    loop {
        let el = browser
            .wait_for(css, limit)
            .await
            .map_err(|e| format!("the Sign Out item: {e}"))?;
        if el.is_displayed().await.unwrap_or(false) {
            return Ok(el);
        }
        if Instant::now() > deadline {
            return Err(format!("the Sign Out item `{css}` never became visible"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[then(regex = r"^the browser shows a signed-out page$")]
async fn shows_signed_out_page(w: &mut LogoutWorld) -> Result<(), String> {
    let person = w.who("she")?;
    let pages = w.ctx.target.pages.clone();
    let browser = w.browser(&person)?;
    let url = browser
        .client()
        .current_url()
        .await
        .map_err(|e| e.to_string())?;
    let text = browser.body_text().await.map_err(|e| e.to_string())?;
    let pattern = regex::Regex::new(&pages.signed_out_text).map_err(|e| e.to_string())?;
    let says_signed_out = pattern.is_match(&text);
    let shows_app = browser
        .has(&pages.signed_in)
        .await
        .map_err(|e| e.to_string())?;
    let outcome = if says_signed_out && !shows_app {
        "shown"
    } else {
        "not-shown"
    };
    w.judge(
        Observation::new(RuleId::SignedOutPage, outcome)
            .evidence(format!(
                "page {}",
                crate::report::shorten(url.as_str(), 120)
            ))
            .evidence(format!(
                "text {} /{}/",
                if says_signed_out {
                    "matches"
                } else {
                    "does not match"
                },
                pages.signed_out_text
            ))
            .evidence(format!(
                "{} {}",
                pages.signed_in,
                if shows_app {
                    "present (the application is still shown)"
                } else {
                    "absent"
                }
            )),
    );
    Ok(())
}

#[then(regex = r"^no CRM authentication cookie is left in the browser$")]
async fn no_auth_cookie_left(w: &mut LogoutWorld) -> Result<(), String> {
    let person = w.who("she")?;
    let jar = w.jar(&person).await?;
    let patterns = &w.ctx.target.pages.auth_cookies;
    let left: Vec<String> = w
        .auth_cookies(&jar)
        .iter()
        .map(|c| format!("{c:?}"))
        .collect();
    let outcome = if left.is_empty() { "removed" } else { "left" };
    let mut obs = Observation::new(RuleId::AuthCookiesRemoved, outcome).evidence(format!(
        "auth cookies ({}) for {}: {}",
        patterns.join(", "),
        w.ctx.crm_url,
        if left.is_empty() {
            "none".to_string()
        } else {
            left.join(", ")
        }
    ));
    let had: Vec<String> = w
        .auth_cookies(&w.before_sign_out)
        .iter()
        .map(|c| c.name.clone())
        .collect();
    obs = obs.evidence(format!("before sign-out: {}", had.join(", ")));
    w.judge(obs);
    Ok(())
}

#[then(regex = r"^replaying the cookies from before sign-out is refused by the server$")]
async fn replay_refused(w: &mut LogoutWorld) -> Result<(), String> {
    let before = w.before_sign_out.clone();
    let response = w.probe_whoami(&before).await?;
    let outcome = if response.authenticated() {
        "accepted"
    } else {
        "refused"
    };
    w.judge(Observation::new(RuleId::ReplayRefused, outcome).evidence(response.to_string()));
    Ok(())
}

#[then(regex = r"^the cookies left in the browser match the snapshot$")]
async fn cookies_match_snapshot(w: &mut LogoutWorld) -> Result<(), String> {
    let person = w.who("she")?;
    let jar = w.jar(&person).await?;
    let shapes = snapshot::shapes(&jar);
    let ctx = &w.verdict_context;
    let name = snapshot::snapshot_name(&[&ctx.feature, &ctx.scenario, &ctx.target, &ctx.browser]);
    let description = format!(
        "Cookies left after \"{}\" ({}; mode {}, browser {}). Names and flags only, never values.",
        ctx.scenario, ctx.target, ctx.mode, ctx.browser
    );
    let dir = w.ctx.snapshots.clone();
    let cmp =
        tokio::task::spawn_blocking(move || snapshot::compare(&dir, &name, &description, &shapes))
            .await
            .map_err(|e| e.to_string())?;
    let outcome = if cmp.matches {
        "match-snapshot"
    } else {
        "differ"
    };
    let mut obs = Observation::new(RuleId::LeftoverCookies, outcome)
        .evidence(format!("snapshot {}", cmp.file.display()));
    if !cmp.matches {
        obs = obs.detail(format!(
            "{}review with `cargo insta review`, or rerun with --update-snapshots to accept",
            cmp.diff
        ));
    }
    w.judge(obs);
    Ok(())
}
