//! Opening CRM again after signing out: does the deployment ask for credentials, or sign the user
//! straight back in? The same observation answers three rules: AD FS single sign-on (sso), CRM
//! 4.0's fresh login (fba) and Windows authentication's silent re-login (iwa).

use cucumber::then;

use super::world::{LogoutWorld, PageState};
use crate::policy::{Observation, RuleId};

/// Opens CRM's start page in `person`'s browser and waits until the page has settled: the
/// application, a sign-in form, a signed-out page, or a final page that is none of them.
pub async fn open_crm(w: &mut LogoutWorld, person: &str) -> Result<PageState, String> {
    let navigation = std::time::Instant::now();
    let start = w
        .ctx
        .crm_url
        .join(&w.ctx.target.pages.start)
        .map_err(|e| e.to_string())?;
    w.browser(person)?
        .goto(start.as_str())
        .await
        .map_err(|e| e.to_string())?;
    let state = w.settle_page(person).await?;
    w.timings.navigation += navigation.elapsed();
    Ok(state)
}

#[then(regex = r"^opening CRM again asks for (?:her|his|their) credentials$")]
async fn asks_for_credentials(w: &mut LogoutWorld) -> Result<(), String> {
    let person = w.who("she")?;
    let opened = open_crm(w, &person).await?;
    if !opened.shows_app && !opened.sign_in_form {
        return Err(format!("cannot tell whether CRM asks for credentials: {opened}"));
    }
    let outcome = if opened.shows_app {
        "silent-sign-in"
    } else {
        "credentials-asked"
    };
    let evidence = opened.to_string();
    w.judge(Observation::new(RuleId::SsoReauthentication, outcome).evidence(evidence));
    Ok(())
}

#[then(regex = r"^a fresh login is required$")]
async fn fresh_login_required(w: &mut LogoutWorld) -> Result<(), String> {
    let person = w.who("she")?;
    let opened = open_crm(w, &person).await?;
    if !opened.shows_app && !opened.sign_in_form {
        return Err(format!("cannot tell whether CRM asks for credentials: {opened}"));
    }
    let outcome = if opened.shows_app {
        "signed-in"
    } else {
        "credentials-asked"
    };
    let evidence = opened.to_string();
    w.judge(Observation::new(RuleId::FbaFreshLogin, outcome).evidence(evidence));
    Ok(())
}

#[then(regex = r"^opening CRM again signs (?:her|him|them) straight back in$")]
async fn signs_straight_back_in(w: &mut LogoutWorld) -> Result<(), String> {
    let person = w.who("she")?;
    let opened = open_crm(w, &person).await?;
    let outcome = if opened.shows_app && !opened.sign_in_form {
        "silent-sign-in"
    } else {
        "credentials-asked"
    };
    let evidence = opened.to_string();
    w.judge(Observation::new(RuleId::IwaReloginAfterSignOut, outcome).evidence(evidence));
    Ok(())
}
