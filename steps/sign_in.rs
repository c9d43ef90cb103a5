//! Signing in: open CRM in a browser and get through whatever the deployment asks (the AD FS form,
//! the CRM 4.0 form, or nothing at all with Windows authentication).

use cucumber::given;

use super::world::LogoutWorld;
use crate::observe::timeline::Point;

#[given(regex = r"^(\w+) is signed in to CRM$")]
async fn signed_in(w: &mut LogoutWorld, user: String) -> Result<(), String> {
    let user = w.who(&user)?;
    open_browser(w, &user).await?;
    sign_in(w, &user).await
}

#[given(regex = r"^(\w+) is signed in to CRM with Keep me signed in$")]
async fn signed_in_kmsi(w: &mut LogoutWorld, user: String) -> Result<(), String> {
    let user = w.who(&user)?;
    open_browser(w, &user).await?;
    sign_in_ticking(w, &user, true).await
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
    sign_in_ticking(w, person, false).await
}

/// [`sign_in`], ticking "Keep me signed in" on the sign-in form with `kmsi`.
pub async fn sign_in_ticking(w: &mut LogoutWorld, person: &str, kmsi: bool) -> Result<(), String> {
    let creds = w.ctx().target.credentials(person)?;
    let start = w.start_url()?;
    w.mark(person, Point::BeforeSignIn).await;
    let navigation = std::time::Instant::now();
    let ticked = crate::observe::page::sign_in_ticking(
        w.browser(person)?,
        &start,
        &w.ctx().target.pages,
        &creds,
        w.ctx().page_timeout,
        kmsi,
    )
    .await
    .map_err(|e| format!("signing in {person}: {e}"))?;
    if let crate::observe::page::Kmsi::NotOffered(why) = ticked {
        w.kmsi_not_offered = Some(why);
    }
    w.timings.navigation += navigation.elapsed();
    w.signed_in_at = Some(tokio::time::Instant::now());
    w.mark(person, Point::SignedIn).await;
    Ok(())
}
