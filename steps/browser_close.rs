//! Closing the browser and opening it again on the same profile (the same `--user-data-dir`):
//! session cookies die with the browser, persistent ones survive; with "Continue where you left
//! off" (`--restore-last-session`) Chromium keeps session cookies too (docs/browser-facts.md B2).

use cucumber::{given, then, when};

use super::reauth::open_crm;
use super::sign_in::{open_browser_restoring, sign_in};
use super::world::LogoutWorld;
use crate::judge::{Observation, Outcome, RuleId};

#[given(regex = r"^(\w+) is signed in to CRM in a browser that continues where it left off$")]
async fn signed_in_restoring(w: &mut LogoutWorld, who: String) -> Result<(), String> {
    let person = w.who(&who)?;
    open_browser_restoring(w, &person, true).await?;
    sign_in(w, &person).await
}

#[when(
    regex = r"^(\w+) closes the browser and opens it again( continuing where (?:she|he|they) left off)?$"
)]
async fn closes_and_reopens(
    w: &mut LogoutWorld,
    who: String,
    restore: String,
) -> Result<(), String> {
    let person = w.who(&who)?;
    let restore = !restore.is_empty();
    let mut p = w
        .people
        .remove(&person)
        .ok_or_else(|| format!("{person} has no browser"))?;
    let closed = match p.browser.take() {
        Some(browser) => {
            let t = std::time::Instant::now();
            let r = browser
                .close()
                .await
                .map_err(|e| format!("closing the browser: {e}"));
            w.timings.browser_launch += t.elapsed();
            r
        }
        None => Err(format!("{person} has no open browser to close")),
    };
    let reopened = match (closed, &p.profile) {
        (Ok(()), Some(profile)) => w
            .launch_browser(&person, profile, restore)
            .await
            .map_err(|e| format!("cannot reopen the browser on the same profile: {e}")),
        // A context has no profile to reopen: the scenario must say it reopens a browser.
        (Ok(()), None) => Err(format!(
            "{person}'s browser was a browser context, which has no profile to reopen: tag the \
             scenario @reopens-browser, so that its people get a browser process each"
        )),
        (Err(e), _) => Err(e),
    };
    w.people.insert(person.clone(), p);
    let reopened = reopened?;
    w.person_mut(&person)?.browser = Some(reopened);
    Ok(())
}

/// What the reopened browser gets: the server's answer to the auth cookies that survived (probed
/// before any page could set new ones), then CRM's start page as the person opens it.
async fn reopened_session(w: &mut LogoutWorld) -> Result<(bool, Vec<String>), String> {
    let person = w.who("she")?;
    let jar = w.jar(&person).await?;
    let auth: Vec<String> = w
        .auth_cookies(&jar)
        .iter()
        .map(|c| c.name.clone())
        .collect();
    let probe = w.probe_whoami(&jar).await?;
    // Not settled in time is not judged (`settle_page`).
    let page = open_crm(w, &person).await?;
    Ok((
        page.shows_app || probe.authenticated(),
        vec![
            format!(
                "auth cookies after reopening: {}",
                if auth.is_empty() {
                    "none".into()
                } else {
                    auth.join(", ")
                }
            ),
            probe.to_string(),
            format!("opening CRM: {page}"),
        ],
    ))
}

#[then(regex = r"^opening CRM does not sign (\w+) in without credentials$")]
async fn not_signed_in_after_reopen(w: &mut LogoutWorld, _who: String) -> Result<(), String> {
    let (survives, evidence) = reopened_session(w).await?;
    judge(w, RuleId::SessionAfterReopen, survives, evidence)
}

#[then(regex = r"^opening CRM after the restored session is as the policy says$")]
async fn after_restore(w: &mut LogoutWorld) -> Result<(), String> {
    let (survives, evidence) = reopened_session(w).await?;
    judge(w, RuleId::SessionAfterRestore, survives, evidence)
}

fn judge(
    w: &mut LogoutWorld,
    rule: RuleId,
    survives: bool,
    evidence: Vec<String>,
) -> Result<(), String> {
    let mut obs = Observation::new(
        rule,
        if survives {
            Outcome::Survives
        } else {
            Outcome::Ended
        },
    );
    for e in evidence {
        obs = obs.evidence(e);
    }
    w.judge(obs)
}
