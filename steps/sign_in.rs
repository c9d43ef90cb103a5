//! Signing in: open CRM in a browser and get through whatever the deployment asks (the AD FS form,
//! the CRM 4.0 form, or nothing at all with Windows authentication).

use cucumber::given;

use super::world::LogoutWorld;
use crate::browser::Browser;

#[given(regex = r"^(\w+) is signed in to CRM$")]
async fn signed_in(w: &mut LogoutWorld, user: String) -> Result<(), String> {
    let user = w.who(&user)?;
    open_browser(w, &user).await?;
    sign_in(w, &user).await
}

/// Opens a browser for `person` (see [`LogoutWorld::open_browser`]).
pub async fn open_browser(w: &mut LogoutWorld, person: &str) -> Result<(), String> {
    open_browser_restoring(w, person, false).await
}

/// Opens a browser for `person`; with `restore_last_session` the browser "continues where it
/// left off" when it is later reopened on its profile.
pub async fn open_browser_restoring(
    w: &mut LogoutWorld,
    person: &str,
    restore_last_session: bool,
) -> Result<(), String> {
    let opened = w.open_browser(person, restore_last_session).await?;
    w.people.insert(person.to_string(), opened);
    w.current = Some(person.to_string());
    Ok(())
}

/// Opens CRM's start page in `person`'s browser and signs in, until the signed-in page shows.
pub async fn sign_in(w: &mut LogoutWorld, person: &str) -> Result<(), String> {
    let creds = w.ctx().target.credentials(person)?;
    let pages = &w.ctx().target.pages;
    let start = w.start_url()?;
    let navigation = std::time::Instant::now();
    let browser = w.browser(person)?;
    browser
        .goto(start.as_str())
        .await
        .map_err(|e| e.to_string())?;
    // Either a sign-in form, or (single sign-on) the application straight away.
    let form_or_app = format!("{}, {}", pages.username_input, pages.signed_in);
    browser
        .wait_for(&form_or_app, w.ctx().page_timeout)
        .await
        .map_err(|e| match e {
            // The browser refused the server's certificate: say so, with the fix.
            crate::browser::BrowserError::Certificate(m) => format!("signing in {person}: {m}"),
            e => format!("signing in {person}: neither a sign-in form nor CRM appeared: {e}"),
        })?;
    if browser
        .has(&pages.username_input)
        .await
        .map_err(|e| e.to_string())?
    {
        let password = creds.password.as_ref().ok_or_else(|| {
            format!("signing in {person}: the page asks for a password and the target gives none")
        })?;
        crate::page::fill(
            browser,
            &[
                (&pages.username_input, &creds.username),
                (&pages.password_input, password.expose()),
            ],
        )
        .await
        .map_err(|e| format!("signing in {person}: {e}"))?;
        field(browser, &pages.submit)
            .await?
            .click()
            .await
            .map_err(|e| e.to_string())?;
    }
    browser
        .wait_for(&pages.signed_in, w.ctx().page_timeout)
        .await
        .map_err(|e| format!("signing in {person}: CRM did not show the signed-in page: {e}"))?;
    w.timings.navigation += navigation.elapsed();
    w.signed_in_at = Some(tokio::time::Instant::now());
    Ok(())
}

async fn field(browser: &Browser, css: &str) -> Result<fantoccini::elements::Element, String> {
    browser
        .client()
        .find(fantoccini::Locator::Css(css))
        .await
        .map_err(|e| format!("the sign-in form has no `{css}`: {e}"))
}
