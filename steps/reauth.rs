//! Opening CRM again after signing out: does the deployment ask for credentials, or sign the user
//! straight back in? The same observation answers three rules: AD FS single sign-on (sso), CRM
//! 4.0's fresh login (fba) and Windows authentication's silent re-login (iwa).

use cucumber::then;

use super::world::LogoutWorld;
use crate::policy::{Observation, RuleId};

/// What opening CRM's start page showed.
pub struct Opened {
    /// The application (signed in).
    pub app: bool,
    /// A sign-in form.
    pub form: bool,
    /// Where the browser ended.
    pub url: String,
}

impl Opened {
    fn evidence(&self, pages: &crate::target::Pages) -> String {
        format!(
            "opened {}: {}",
            crate::report::shorten(&self.url, 120),
            match (self.app, self.form) {
                (true, _) => format!("CRM signed in ({} present), no credentials asked", pages.signed_in),
                (false, true) => format!("sign-in form ({})", pages.username_input),
                (false, false) => "neither CRM nor a sign-in form".to_string(),
            }
        )
    }
}

/// Opens CRM's start page in `person`'s browser and waits for the application, a sign-in form,
/// or (up to `ctx.page_timeout`) neither.
pub async fn open_crm(w: &LogoutWorld, person: &str) -> Result<Opened, String> {
    let pages = &w.ctx.target.pages;
    let start = w.ctx.crm_url.join(&pages.start).map_err(|e| e.to_string())?;
    let browser = w.browser(person)?;
    browser.goto(start.as_str()).await.map_err(|e| e.to_string())?;
    let either = format!("{}, {}", pages.username_input, pages.signed_in);
    let _ = browser.wait_for(&either, w.ctx.page_timeout).await;
    Ok(Opened {
        app: browser.has(&pages.signed_in).await.map_err(|e| e.to_string())?,
        form: browser.has(&pages.username_input).await.map_err(|e| e.to_string())?,
        url: browser.client().current_url().await.map_err(|e| e.to_string())?.to_string(),
    })
}

#[then(regex = r"^opening CRM again asks for (?:her|his|their) credentials$")]
async fn asks_for_credentials(w: &mut LogoutWorld) -> Result<(), String> {
    let person = w.who("she")?;
    let opened = open_crm(w, &person).await?;
    if !opened.app && !opened.form {
        return Err(opened.evidence(&w.ctx.target.pages));
    }
    let outcome = if opened.app { "silent-sign-in" } else { "credentials-asked" };
    let evidence = opened.evidence(&w.ctx.target.pages);
    w.judge(Observation::new(RuleId::SsoReauthentication, outcome).evidence(evidence));
    Ok(())
}

#[then(regex = r"^a fresh login is required$")]
async fn fresh_login_required(w: &mut LogoutWorld) -> Result<(), String> {
    let person = w.who("she")?;
    let opened = open_crm(w, &person).await?;
    if !opened.app && !opened.form {
        return Err(opened.evidence(&w.ctx.target.pages));
    }
    let outcome = if opened.app { "signed-in" } else { "credentials-asked" };
    let evidence = opened.evidence(&w.ctx.target.pages);
    w.judge(Observation::new(RuleId::FbaFreshLogin, outcome).evidence(evidence));
    Ok(())
}

#[then(regex = r"^opening CRM again signs (?:her|him|them) straight back in$")]
async fn signs_straight_back_in(w: &mut LogoutWorld) -> Result<(), String> {
    let person = w.who("she")?;
    let opened = open_crm(w, &person).await?;
    let outcome = if opened.app && !opened.form { "silent-sign-in" } else { "credentials-asked" };
    let evidence = opened.evidence(&w.ctx.target.pages);
    w.judge(Observation::new(RuleId::IwaReloginAfterSignOut, outcome).evidence(evidence));
    Ok(())
}
