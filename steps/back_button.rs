//! The back button after Sign Out: what a person sees on Back (the back/forward cache or the HTTP
//! cache may serve the signed-in page without asking the server), then on reload; and whether
//! signed-in pages forbid storing at all (`Cache-Control: no-store`).

use cucumber::{given, then};

use super::world::LogoutWorld;
use crate::policy::{Observation, RuleId};

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
        .wait_for(&w.ctx.target.pages.data, w.ctx.page_timeout)
        .await
        .map_err(|e| format!("CRM data did not show: {e}"))?;
    // A mark in this document's JavaScript state: only a back/forward-cache restore brings the
    // same document (and the mark) back; any load, even from the HTTP cache, starts afresh.
    browser
        .client()
        .execute("window.__logoutHarnessMark = true; return true", vec![])
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
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
        "data-shown"
    } else {
        "no-data"
    };
    w.judge(
        Observation::new(RuleId::BackButtonData, outcome)
            .evidence(format!(
                "signed out at {}",
                crate::report::shorten(signed_out_at.as_str(), 120)
            ))
            .evidence(format!("after Back ({how}): {after_back}"))
            .evidence(format!("after reload: {after_reload}")),
    );
    Ok(())
}

/// How the page shown after Back was obtained, from the Navigation Timing entry: restored from
/// the back/forward cache, or fetched (and then whether from the HTTP cache, `transferSize` 0).
async fn back_navigation_type(w: &LogoutWorld, person: &str) -> String {
    let Ok(browser) = w.browser(person) else {
        return "unknown".into();
    };
    let script = "const n = performance.getEntriesByType('navigation')[0];
        if (window.__logoutHarnessMark) { return 'back/forward cache'; }
        if (!n) { return 'no navigation entry'; }
        return n.type + (n.transferSize === 0 ? ', HTTP cache' : ', network');";
    browser
        .client()
        .execute(script, vec![])
        .await
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

#[then(regex = r"^the signed-in start page forbids storing$")]
async fn start_page_not_stored(w: &mut LogoutWorld) -> Result<(), String> {
    let person = w.who("she")?;
    let url = w.start_url()?;
    // Asked from inside the signed-in browser, so the request carries whatever authenticates it
    // there: cookies, or a Kerberos ticket under Windows authentication.
    let answer = w
        .browser(&person)?
        .client()
        .execute(
            "return fetch(arguments[0], {credentials: 'include', cache: 'no-store'}) \
               .then(r => ({status: r.status, url: r.url, cacheControl: r.headers.get('cache-control')}));",
            vec![serde_json::Value::String(url.to_string())],
        )
        .await
        .map_err(|e| format!("fetching the start page from the browser: {e}"))?;
    let status = answer["status"].as_u64().unwrap_or_default();
    let fetched = format!(
        "GET {} from the signed-in browser -> {status}",
        crate::report::shorten(answer["url"].as_str().unwrap_or(url.as_str()), 120)
    );
    w.probe_log.push(fetched.clone());
    if status != 200 {
        return Err(format!(
            "the signed-in start page did not answer 200, so its caching cannot be judged: {fetched}"
        ));
    }
    let cache_control = answer["cacheControl"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let no_store = cache_control
        .split(',')
        .any(|d| d.trim().eq_ignore_ascii_case("no-store"));
    w.judge(
        Observation::new(
            RuleId::PagesNotStored,
            if no_store { "no-store" } else { "storable" },
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
    );
    Ok(())
}
