//! Single sign-out: after Sign Out of CRM, is another application that signed in through the
//! same AD FS signed out too? AD FS's sign-out page sends each relying party of the SSO session a
//! `wsignoutcleanup1.0` request ([MS-MWBF] 3.2.5.3.4; docs/crm-adfs-facts.md §2.5), from the
//! browser: front-channel, so a browser that blocks third-party cookies sends it to an
//! application on another site without that application's cookie.

use cucumber::{given, then};

use super::world::LogoutWorld;
use crate::judge::{Observation, Outcome, RuleId};
use crate::observe::page::{self, PageMarkers, PageState};

/// The other application's markers: its own signed-in element; the target's sign-in form (AD FS
/// asks for credentials on the same page for every relying party).
fn other_markers(w: &LogoutWorld) -> Result<(url::Url, PageMarkers), String> {
    let other = w
        .ctx()
        .other_relying_party
        .clone()
        .ok_or("the target names no other application (other_relying_party)")?;
    let mut markers = w.markers()?;
    markers.signed_in = other.signed_in;
    // The other application's data is not CRM's: only its signed-in marker counts.
    markers.data = markers.signed_in.clone();
    Ok((other.url, markers))
}

/// Opens the other application in `person`'s browser and waits until it has settled.
async fn open_other(w: &mut LogoutWorld, person: &str) -> Result<PageState, String> {
    let (url, markers) = other_markers(w)?;
    let navigation = std::time::Instant::now();
    let browser = w.browser(person)?;
    browser
        .goto(url.as_str())
        .await
        .map_err(|e| e.to_string())?;
    let state = page::settle(browser, &markers, w.ctx().page_timeout).await;
    w.timings.navigation += navigation.elapsed();
    if state.adfs_loop {
        return Err(page::ADFS_LOOP.to_string());
    }
    Ok(state.settled_or_not_judged(w.ctx().page_timeout)?)
}

#[given(regex = r"^(\w+)'s browser blocks third-party cookies$")]
async fn blocks_third_party_cookies(w: &mut LogoutWorld, _who: String) -> Result<(), String> {
    if !w.people.is_empty() {
        return Err("the browser's cookie setting must come before anyone signs in".into());
    }
    w.third_party_cookies_blocked = true;
    Ok(())
}

#[given(regex = r"^(\w+) is also signed in to another application through AD FS$")]
async fn signed_in_to_other(w: &mut LogoutWorld, who: String) -> Result<(), String> {
    let person = w.who(&who)?;
    let state = open_other(w, &person).await?;
    if !state.shows_app {
        return Err(format!(
            "AD FS did not sign her in to the other application without credentials (single \
             sign-on): {state}"
        ));
    }
    // Back to CRM, where she signs out.
    let crm = super::reauth::open_crm(w, &person).await?;
    if !crm.shows_app {
        return Err(format!("CRM no longer shows her signed in: {crm}"));
    }
    Ok(())
}

/// Judges `rule` by opening the other application after Sign Out: signed in there, or asked
/// for credentials (or shown a signed-out page). Anything else cannot be judged.
async fn judge_other(w: &mut LogoutWorld, rule: RuleId) -> Result<(), String> {
    let person = w.who("she")?;
    // The clean-up requests are images of AD FS's signed-out page: they have been sent once
    // that page has loaded.
    let browser = w.browser(&person)?;
    let signed_out_page = crate::engine::wait::Wait::at_most(w.ctx().page_timeout)
        .until(|| async { page::document_complete(browser).await.then_some(()) })
        .await;
    let after = page::current_url(browser).await;
    if signed_out_page.is_err() {
        return Err(format!(
            "the signed-out page {after} did not finish loading"
        ));
    }
    let state = open_other(w, &person).await?;
    let outcome = match (state.shows_app, state.sign_in_form || state.says_signed_out) {
        (true, _) => Outcome::SignedIn,
        (false, true) => Outcome::SignedOut,
        (false, false) => {
            return Err(format!(
                "cannot tell whether the other application is signed in: {state}"
            ));
        }
    };
    w.judge(
        Observation::new(rule, outcome)
            .evidence(format!(
                "Sign Out ended at {}",
                crate::config::secrets::shorten_redacted(&after, 120)
            ))
            .evidence(format!("then the other application: {state}"))
            .evidence(if w.third_party_cookies_blocked {
                "this browser blocks third-party cookies"
            } else {
                "this browser allows third-party cookies (as Chrome and Edge do by default)"
            }),
    )
}

#[then(regex = r"^the other application is signed out too$")]
async fn other_signed_out(w: &mut LogoutWorld) -> Result<(), String> {
    judge_other(w, RuleId::SsoOtherRelyingParty).await
}

#[then(
    regex = r"^the other application is as the policy says for a browser that blocks third-party cookies$"
)]
async fn other_signed_out_blocked(w: &mut LogoutWorld) -> Result<(), String> {
    judge_other(w, RuleId::SsoOtherRelyingPartyBlocked).await
}
