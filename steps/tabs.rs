//! Tabs: CRM open in two tabs of one browser. Sign Out in one must reach the other at its next
//! action; closing one tab (never the last: that ends the WebDriver session) is not a sign-out.
//!
//! No tab state is kept in the world: a scenario has exactly two tabs, so "the other tab" is the
//! window handle that is not the current one.

use std::time::{Duration, Instant};

use cucumber::{given, then, when};

use super::world::LogoutWorld;
use crate::judge::{Observation, Outcome, RuleId};

#[given(regex = r"^(\w+) opens CRM in a second tab$")]
async fn opens_second_tab(w: &mut LogoutWorld, who: String) -> Result<(), String> {
    let person = w.who(&who)?;
    let start = w.start_url()?;
    let browser = w.browser(&person)?;
    let tab = browser
        .new_tab()
        .await
        .map_err(|e| format!("opening a second tab: {e}"))?;
    browser
        .client()
        .switch_to_window(tab)
        .await
        .map_err(|e| format!("switching to the second tab: {e}"))?;
    browser
        .goto(start.as_str())
        .await
        .map_err(|e| e.to_string())?;
    // Same jar, so no sign-in: CRM must show straight away.
    browser
        .wait_for(&w.ctx().target.pages.signed_in, w.ctx().page_timeout)
        .await
        .map_err(|e| format!("CRM did not show signed in in the second tab: {e}"))?;
    Ok(())
}

/// Switches `person`'s browser to the tab that is not the current one (there are two).
async fn switch_to_other_tab(w: &LogoutWorld, person: &str) -> Result<(), String> {
    let browser = w.browser(person)?;
    let client = browser.client();
    let current = client.window().await.map_err(|e| e.to_string())?;
    let handles = browser.tabs().await.map_err(|e| e.to_string())?;
    let other: Vec<_> = handles.into_iter().filter(|h| *h != current).collect();
    match other.as_slice() {
        [one] => client
            .switch_to_window(one.clone())
            .await
            .map_err(|e| format!("switching tabs: {e}")),
        _ => Err(format!(
            "expected exactly one other tab, found {}",
            other.len()
        )),
    }
}

#[when(regex = r"^(\w+) closes the second tab$")]
async fn closes_second_tab(w: &mut LogoutWorld, who: String) -> Result<(), String> {
    let person = w.who(&who)?;
    let browser = w.browser(&person)?;
    let client = browser.client();
    let before = browser.tabs().await.map_err(|e| e.to_string())?.len();
    if before < 2 {
        return Err("only one tab is open: closing it would end the browser".into());
    }
    client
        .close_window()
        .await
        .map_err(|e| format!("closing the tab: {e}"))?;
    let left = browser.tabs().await.map_err(|e| e.to_string())?;
    let [remaining] = left.as_slice() else {
        return Err(format!("expected one tab left, found {}", left.len()));
    };
    client
        .switch_to_window(remaining.clone())
        .await
        .map_err(|e| format!("switching to the remaining tab: {e}"))
}

#[then(regex = r"^the first tab is signed out at its next action$")]
async fn first_tab_signed_out(w: &mut LogoutWorld) -> Result<(), String> {
    let person = w.who("she")?;
    switch_to_other_tab(w, &person).await?;
    let (alive, evidence) = w.session_at_next_action(&person).await?;
    let outcome = if alive {
        Outcome::SignedIn
    } else {
        Outcome::SignedOut
    };
    let mut obs = Observation::new(RuleId::OtherTabAfterSignOut, outcome);
    for e in evidence {
        obs = obs.evidence(e);
    }
    w.judge(obs)?;
    Ok(())
}

#[then(regex = r"^(\w+) session in the remaining tab is alive$")]
async fn remaining_tab_alive(w: &mut LogoutWorld, _whose: String) -> Result<(), String> {
    let person = w.who("she")?;
    let (alive, evidence) = w.session_at_next_action(&person).await?;
    let outcome = if alive {
        Outcome::Alive
    } else {
        Outcome::Ended
    };
    let mut obs = Observation::new(RuleId::SessionAfterTabClose, outcome);
    for e in evidence {
        obs = obs.evidence(e);
    }
    w.judge(obs)?;
    Ok(())
}

/// How long the other tab's page gets to hear of the sign-out: a localStorage event reaches
/// another tab at once, so a few seconds only allow for a loaded machine.
const TAB_SYNC_WAIT: Duration = Duration::from_secs(5);

#[then(regex = r"^the first tab's page shows no CRM data without any action there$")]
async fn first_tab_page_cleared(w: &mut LogoutWorld) -> Result<(), String> {
    let person = w.who("she")?;
    switch_to_other_tab(w, &person).await?;
    let data = w.ctx().target.pages.data.clone();
    let browser = w.browser(&person)?;
    // No navigation, no reload, no click: only what the page's own script does.
    let started = Instant::now();
    let data_css = &data;
    let cleared = crate::engine::wait::Wait::at_most(TAB_SYNC_WAIT)
        .every(Duration::from_millis(100))
        .until(|| async move {
            match browser.has(data_css).await {
                Ok(true) => None,
                Ok(false) => Some(Ok(())),
                Err(e) => Some(Err(e.to_string())),
            }
        })
        .await;
    let shown = match cleared {
        Ok(looked) => {
            looked?;
            false
        }
        Err(_) => true,
    };
    let url = browser
        .client()
        .current_url()
        .await
        .map(|u| u.to_string())
        .unwrap_or_default();
    let evidence = if shown {
        format!(
            "the first tab ({url}) still shows `{data}` {} s after the sign-out in the other tab",
            TAB_SYNC_WAIT.as_secs()
        )
    } else {
        format!(
            "the first tab ({url}) stopped showing `{data}` {} ms after the sign-out, with no \
             action there",
            started.elapsed().as_millis()
        )
    };
    let outcome = if shown {
        Outcome::DataShown
    } else {
        Outcome::NoData
    };
    w.judge(Observation::new(RuleId::OtherTabPageCleared, outcome).evidence(evidence))?;
    Ok(())
}
