//! Signing out (through the profile menu, or a plain Sign out link, button or form), and what is
//! observed afterwards.

use cucumber::{then, when};

use super::world::LogoutWorld;
use crate::page;
use crate::policy::{Observation, Outcome, RuleId};
use crate::snapshot;

/// An auth cookie that expires within this long is on its way out, not a credential left behind:
/// a correct logout may overwrite the cookie with an emptied value and `Max-Age=1`.
const EXPIRING_WITHIN_S: f64 = 2.0;

#[when(regex = r"^(\w+) signs? out through the profile menu$")]
async fn signs_out(w: &mut LogoutWorld, who: String) -> Result<(), String> {
    let person = w.who(&who)?;
    sign_out_via_menu(w, &person).await
}

/// Saves the jar (after proving the probe sees the live session), then opens the profile menu
/// (when the target has one) and activates Sign Out (a link, a button or a form), and waits until
/// the sign-out redirects have settled.
pub async fn sign_out_via_menu(w: &mut LogoutWorld, person: &str) -> Result<(), String> {
    let pages = w.ctx().target.pages.clone();
    let limit = w.ctx().page_timeout;
    let jar = w.jar(person).await?;

    // The replay check can only fail if the probe tells a live session from none: prove it now,
    // while the session is live, or the harness could pass a broken deployment. (Windows
    // authentication has no session cookie to replay.)
    if !pages.auth_cookies.is_empty() {
        let live = w.probe_whoami(&jar).await?;
        if !live.authenticated() {
            return Err(format!(
                "the probe cannot see the live session, so a replay after sign-out would prove nothing: {live}. \
                 Fix `whoami` in the target profile."
            ));
        }
    }
    w.before_sign_out = jar;

    let browser = w.browser(person)?;
    if let Some(menu) = &pages.user_menu {
        page::wait_displayed(browser, menu, limit)
            .await
            .map_err(|e| format!("the profile menu (`pages.user_menu`): {e}"))?
            .click()
            .await
            .map_err(|e| format!("opening the profile menu: {e}"))?;
    }
    let item = page::wait_displayed(browser, &pages.sign_out, limit)
        .await
        .map_err(|e| format!("the Sign Out control (`pages.sign_out`): {e}"))?;
    // Sign-out is a chain of redirects (CRM, then AD FS): wait for the last page to load. Not an
    // error when it never does: the checks judge whatever is on screen.
    let navigation = std::time::Instant::now();
    page::activate_and_wait_new_document(browser, item, limit)
        .await
        .map_err(|e| format!("activating Sign Out: {e}"))?;
    w.timings.navigation += navigation.elapsed();
    Ok(())
}

#[then(regex = r"^the browser shows a signed-out page$")]
async fn shows_signed_out_page(w: &mut LogoutWorld) -> Result<(), String> {
    let person = w.who("she")?;
    let shown = w.settle_page(&person).await?;
    let pages = &w.ctx().target.pages;
    let outcome = if shown.says_signed_out && !shown.shows_app {
        Outcome::Shown
    } else {
        Outcome::NotShown
    };
    let obs = Observation::new(RuleId::SignedOutPage, outcome)
        .evidence(shown.to_string())
        .evidence(format!(
            "text {} /{}/",
            if shown.says_signed_out {
                "matches"
            } else {
                "does not match"
            },
            pages.signed_out_text
        ))
        .evidence(format!(
            "{} {}",
            pages.signed_in,
            if shown.shows_app {
                "present (the application is still shown)"
            } else {
                "absent"
            }
        ));
    w.judge(obs)
}

#[then(regex = r"^no CRM authentication cookie is left in the browser$")]
async fn no_auth_cookie_left(w: &mut LogoutWorld) -> Result<(), String> {
    let person = w.who("she")?;
    let jar = w.jar(&person).await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default();
    let remaining: Vec<crate::browser::JarCookie> =
        w.auth_cookies(&jar).into_iter().cloned().collect();
    let had: Vec<String> = w
        .auth_cookies(&w.before_sign_out)
        .iter()
        .map(|c| c.name.clone())
        .collect();
    let mut evidence = vec![format!(
        "auth cookies ({}) for {} before sign-out: {}",
        w.ctx().target.pages.auth_cookies.join(", "),
        w.ctx().crm_url,
        if had.is_empty() {
            "none".into()
        } else {
            had.join(", ")
        }
    )];
    // "Removed" means no live credential is left: none at all, or each one expired or about to,
    // or the server no longer accepts the jar as it is now. A jar that still authenticates is
    // always "left", whatever its cookies look like.
    let outcome = if remaining.is_empty() {
        evidence.push("after sign-out: none".into());
        Outcome::Removed
    } else {
        for c in &remaining {
            let how = if !c.session && c.expires - now <= EXPIRING_WITHIN_S {
                format!("expires within {EXPIRING_WITHIN_S:.0}s")
            } else if c.value.is_empty() {
                "emptied".to_string()
            } else if c.session {
                "session cookie".to_string()
            } else {
                format!("expires in {:.0}s", c.expires - now)
            };
            evidence.push(format!("after sign-out: {c:?} ({how})"));
        }
        let probe = w.probe_whoami(&jar).await?;
        evidence.push(format!("the jar as it is now: {probe}"));
        if probe.authenticated() {
            Outcome::Left
        } else {
            evidence
                .push("the server no longer accepts what is left: not a live credential".into());
            Outcome::Removed
        }
    };
    let mut obs = Observation::new(RuleId::AuthCookiesRemoved, outcome);
    for e in evidence {
        obs = obs.evidence(e);
    }
    w.judge(obs)
}

#[then(regex = r"^replaying the cookies from before sign-out is refused by the server$")]
async fn replay_refused(w: &mut LogoutWorld) -> Result<(), String> {
    let before = w.before_sign_out.clone();
    let response = w.probe_whoami(&before).await?;
    let outcome = if response.authenticated() {
        Outcome::Accepted
    } else {
        Outcome::Refused
    };
    w.judge(Observation::new(RuleId::ReplayRefused, outcome).evidence(response.to_string()))
}

#[then(regex = r"^the cookies left in the browser match the snapshot$")]
async fn cookies_match_snapshot(w: &mut LogoutWorld) -> Result<(), String> {
    let person = w.who("she")?;
    let jar = w.jar(&person).await?;
    let shapes = snapshot::shapes(&jar);
    let ctx = &w.verdict_context;
    let name = snapshot::snapshot_name(&[&ctx.feature, &ctx.scenario, &ctx.target, &ctx.browser]);
    let description = format!(
        "Cookies left after \"{}\" ({}; mode {}, browser {}). Names and flags only, never values.",
        ctx.scenario, ctx.target, ctx.mode, ctx.browser
    );
    let dir = w.ctx().snapshots.clone();
    let cmp =
        tokio::task::spawn_blocking(move || snapshot::compare(&dir, &name, &description, &shapes))
            .await
            .map_err(|e| e.to_string())??;
    if !cmp.had_baseline && !cmp.matches {
        // The first run against a target: nothing to compare with is not a difference.
        return Err(format!(
            "first run: there is no baseline snapshot yet at {} (the cookies seen are in {}.new). \
             Review them and record the baseline with `--update-snapshots`; later runs compare against it.",
            crate::builtin::label(&cmp.file),
            crate::builtin::label(&cmp.file)
        ));
    }
    let outcome = if cmp.matches {
        Outcome::MatchSnapshot
    } else {
        Outcome::Differ
    };
    let mut obs = Observation::new(RuleId::LeftoverCookies, outcome)
        .evidence(format!("snapshot {}", crate::builtin::label(&cmp.file)));
    if !cmp.matches {
        obs = obs.detail(format!(
            "{}review with `cargo insta review`, or rerun with --update-snapshots to accept",
            cmp.diff
        ));
    }
    w.judge(obs)
}
