//! The back button after Sign Out: what a person sees on Back (the back/forward cache or the HTTP
//! cache may serve the signed-in page without asking the server), then on reload; and whether
//! signed-in pages forbid storing at all (`Cache-Control: no-store`).

use cucumber::{given, then};

use super::world::LogoutWorld;
use crate::judge::{Observation, Outcome, RuleId};
use crate::observe::page;

#[given(regex = r"^(\w+) opens (?:her|his|their) active accounts$")]
async fn opens_accounts(w: &mut LogoutWorld, who: String) -> Result<(), String> {
    let person = w.who(&who)?;
    let start = w.start_url()?;
    let browser = w.browser(&person)?;
    browser
        .goto(start.as_str())
        .await
        .map_err(|e| e.to_string())?;
    browser
        .wait_for(&w.ctx().target.pages.data, w.ctx().page_timeout)
        .await
        .map_err(|e| format!("CRM data did not show: {e}"))?;
    Ok(page::mark_document(browser).await?)
}

#[then(regex = r"^pressing Back and reloading shows no CRM data$")]
async fn back_shows_no_data(w: &mut LogoutWorld) -> Result<(), String> {
    let person = w.who("she")?;
    let browser = w.browser(&person)?;
    let signed_out_at = browser
        .client()
        .current_url()
        .await
        .map_err(|e| e.to_string())?;
    browser
        .client()
        .back()
        .await
        .map_err(|e| format!("pressing Back: {e}"))?;
    let after_back = w.settle_page(&person).await?;
    let how = back_navigation_type(w, &person).await;
    w.browser(&person)?
        .client()
        .refresh()
        .await
        .map_err(|e| format!("reloading: {e}"))?;
    let after_reload = w.settle_page(&person).await?;
    let outcome = if after_back.shows_data || after_reload.shows_data {
        Outcome::DataShown
    } else {
        Outcome::NoData
    };
    // A reload asks the server: data then means the session is alive, wherever Back's page came
    // from. Otherwise Back's page is the one that showed it.
    let origin = if after_reload.shows_data {
        Some(page::PageOrigin::Network)
    } else if after_back.shows_data {
        page::PageOrigin::of_navigation_type(&how)
    } else {
        None
    };
    w.judge(
        Observation::new(RuleId::BackButtonData, outcome)
            .page_origin(origin)
            .evidence(format!(
                "signed out at {}",
                crate::config::secrets::shorten_redacted(signed_out_at.as_str(), 120)
            ))
            .evidence(format!("after Back ({how}): {after_back}"))
            .evidence(format!("after reload: {after_reload}")),
    )
}

async fn back_navigation_type(w: &LogoutWorld, person: &str) -> String {
    match w.browser(person) {
        Ok(browser) => page::navigation_type(browser).await,
        Err(_) => "unknown".into(),
    }
}

#[then(regex = r"^the signed-in start page forbids storing$")]
async fn start_page_not_stored(w: &mut LogoutWorld) -> Result<(), String> {
    let person = w.who("she")?;
    let url = w.start_url()?;
    // Asked from inside the signed-in browser, so the request carries whatever authenticates it
    // there: cookies, or a Kerberos ticket under Windows authentication.
    let answer = page::fetch_in_page(w.browser(&person)?, &url).await?;
    let status = answer.status;
    let fetched = format!(
        "GET {} from the signed-in browser -> {status}",
        crate::config::secrets::shorten_redacted(&answer.url, 120)
    );
    w.probe_log.push(fetched.clone());
    if status != 200 {
        return Err(format!(
            "the signed-in start page did not answer 200, so its caching cannot be judged: {fetched}"
        ));
    }
    let cache_control = answer.cache_control.unwrap_or_default();
    let no_store = cache_control
        .split(',')
        .any(|d| d.trim().eq_ignore_ascii_case("no-store"));
    w.judge(
        Observation::new(
            RuleId::PagesNotStored,
            if no_store {
                Outcome::NoStore
            } else {
                Outcome::Storable
            },
        )
        .evidence(fetched)
        .evidence(format!(
            "Cache-Control: {}",
            if cache_control.is_empty() {
                "(none)"
            } else {
                &cache_control
            }
        )),
    )
}
