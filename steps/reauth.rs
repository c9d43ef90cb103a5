//! Opening CRM again after signing out: does the deployment ask for credentials, or sign the user
//! straight back in? The same observation answers four rules: AD FS single sign-on (sso), the AD
//! FS "Keep me signed in" session after sign-out (sso), CRM 4.0's fresh login (fba) and Windows
//! authentication's silent re-login (iwa).

use cucumber::then;

use super::world::{LogoutWorld, PageState};
use crate::judge::{Observation, Outcome, RuleId};

/// Opens CRM's start page in `person`'s browser and waits until the page has settled: the
/// application, a sign-in form, a signed-out page, or a final page that is none of them.
///
/// What the server answers is what these rules judge: a page the browser kept in its HTTP cache
/// (the `back-button.*` rules' finding) is reloaded, which asks the server.
pub async fn open_crm(w: &mut LogoutWorld, person: &str) -> Result<PageState, String> {
    let navigation = std::time::Instant::now();
    let start = w.start_url()?;
    w.browser(person)?
        .goto(start.as_str())
        .await
        .map_err(|e| e.to_string())?;
    let mut state = w.settle_page(person).await?;
    if state.from_cache {
        w.browser(person)?
            .client()
            .refresh()
            .await
            .map_err(|e| e.to_string())?;
        let first = state.to_string();
        state = w.settle_page(person).await?;
        state.url = format!("{} (after reloading {first})", state.url);
    }
    w.timings.navigation += navigation.elapsed();
    // Before any sign-out, opening CRM is how Windows authentication signs in.
    let point = if w.after_sign_out.is_some() {
        crate::observe::timeline::Point::Reopened
    } else {
        crate::observe::timeline::Point::SignedIn
    };
    w.mark(person, point).await;
    Ok(state)
}

/// Opens CRM again and judges `rule`: `app` is the outcome when CRM shows signed in, `form` when
/// it asks for credentials. Anything else cannot be judged.
async fn judge_reopen(
    w: &mut LogoutWorld,
    rule: RuleId,
    app: Outcome,
    form: Outcome,
) -> Result<(), String> {
    let person = w.who("she")?;
    let opened = open_crm(w, &person).await?;
    let outcome = match (opened.shows_app, opened.sign_in_form) {
        (true, _) => app,
        (false, true) => form,
        (false, false) => {
            return Err(format!(
                "cannot tell whether CRM asks for credentials: {opened}"
            ));
        }
    };
    w.judge(Observation::new(rule, outcome).evidence(opened.to_string()))?;
    Ok(())
}

#[then(regex = r"^opening CRM again asks for (?:her|his|their) credentials$")]
async fn asks_for_credentials(w: &mut LogoutWorld) -> Result<(), String> {
    judge_reopen(
        w,
        RuleId::SsoReauthentication,
        Outcome::SilentSignIn,
        Outcome::CredentialsAsked,
    )
    .await
}

#[then(regex = r"^opening CRM after Keep me signed in asks for (?:her|his|their) credentials$")]
async fn asks_for_credentials_after_kmsi(w: &mut LogoutWorld) -> Result<(), String> {
    if let Some(why) = w.kmsi_not_offered.clone() {
        w.not_applicable(RuleId::SsoKmsiAfterSignOut, &why);
        return Ok(());
    }
    judge_reopen(
        w,
        RuleId::SsoKmsiAfterSignOut,
        Outcome::SilentSignIn,
        Outcome::CredentialsAsked,
    )
    .await
}

#[then(regex = r"^a fresh login is required$")]
async fn fresh_login_required(w: &mut LogoutWorld) -> Result<(), String> {
    judge_reopen(
        w,
        RuleId::FbaFreshLogin,
        Outcome::SignedIn,
        Outcome::CredentialsAsked,
    )
    .await
}

#[then(regex = r"^opening CRM again signs (?:her|him|them) straight back in$")]
async fn signs_straight_back_in(w: &mut LogoutWorld) -> Result<(), String> {
    let person = w.who("she")?;
    let opened = open_crm(w, &person).await?;
    let outcome = if opened.shows_app && !opened.sign_in_form {
        Outcome::SilentSignIn
    } else {
        Outcome::CredentialsAsked
    };
    let evidence = opened.to_string();
    w.judge(Observation::new(RuleId::IwaReloginAfterSignOut, outcome).evidence(evidence))?;
    Ok(())
}
