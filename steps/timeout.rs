//! Idle and absolute timeouts, measured on the server (WSTG-SESS-07: enforced server-side) against
//! the values the target says are configured, and the reminder shown before expiry.
//!
//! Waiting here is the measurement itself: the steps wait for time to pass, then ask the server
//! whether the session is alive. Each check is bracketed: alive shortly before the configured value
//! (else "early"), dead shortly after it (else "not-enforced"). Where the target lets a session be
//! signed in over HTTP, the idle bracket takes two sessions looked at once each at the same moment,
//! the way `logout-harness timeout` measures (`crate::observe::measure`): one wait instead of two.

use std::time::Duration;

use cucumber::{then, when};
use tokio::time::{Instant, sleep_until};

use super::world::LogoutWorld;
use crate::config::target::SignInBy;
use crate::engine::browser::JarCookie;
use crate::judge::{Observation, Outcome, RuleId};

/// How far from the configured value the brackets sit: a quarter of it plus half a second, so
/// scheduling noise on a loaded machine cannot flip a verdict.
fn margin(configured: Duration) -> Duration {
    configured / 4 + Duration::from_millis(500)
}

#[when(regex = r"^(\w+) (?:stays idle|keeps working)$")]
async fn leaves_the_page(w: &mut LogoutWorld, who: String) -> Result<(), String> {
    let person = w.who(&who)?;
    // The page's own timers (the reminder script navigates at expiry) are not the server: leave
    // the page so only the server decides.
    w.browser(&person)?
        .goto("about:blank")
        .await
        .map_err(|e| e.to_string())
}

/// Waits until `deadline` on purpose (the measurement), accounted as deliberate waiting.
async fn wait_until(w: &mut LogoutWorld, deadline: Instant) {
    w.start_waiting();
    w.ctx().progress.expect_until(deadline.into_std());
    let t = Instant::now();
    sleep_until(deadline).await;
    w.timings.deliberate_wait += t.elapsed();
}

fn configured(w: &LogoutWorld, which: &str) -> Result<Duration, String> {
    let t = &w.ctx().target.spec.timeouts;
    match which {
        "idle" => t.idle,
        _ => t.absolute,
    }
    .ok_or_else(|| {
        format!(
            "the target declares no {which} timeout (timeouts.{which}); nothing to measure against"
        )
    })
}

#[then(regex = r"^the session ends at the configured idle timeout$")]
async fn idle_timeout(w: &mut LogoutWorld) -> Result<(), String> {
    let person = w.who("she")?;
    let idle = configured(w, "idle")?;
    let m = margin(idle);
    let jar = w.jar(&person).await?;
    // The probe itself is activity: each request restarts the idle clock.
    let start = w.probe_whoami(&jar).await?;
    let t0 = Instant::now();
    if !start.authenticated() {
        return Err(format!(
            "the session was already gone before idling: {start}"
        ));
    }
    let mut obs = if w.ctx().target.sign_in_by() == SignInBy::Http {
        staggered(w, &person, &jar, t0, idle, m).await?
    } else {
        bracketed(w, &jar, t0, idle, m).await?
    };
    obs.evidence.insert(
        0,
        format!("configured idle timeout {}s", idle.as_secs_f64()),
    );
    w.judge(obs)
}

/// Where a second session can be signed in over HTTP (the timeout measurement's way,
/// `crate::observe::measure`): it is signed in `2m` after the browser's, so when the browser's session is
/// `idle + m` old the second is `idle - m` old, and one look at each, at the same moment, brackets
/// the timeout. One wait of `idle + m` instead of two (about `2 × idle`), and each session is
/// looked at once, so neither look refreshes what the other measures.
async fn staggered(
    w: &mut LogoutWorld,
    person: &str,
    jar: &[JarCookie],
    t0: Instant,
    idle: Duration,
    m: Duration,
) -> Result<Observation, String> {
    wait_until(w, t0 + 2 * m).await;
    let creds = w.ctx().target.credentials(person)?;
    let password = creds
        .password
        .as_ref()
        .ok_or("the target gives no password for the second session")?;
    let start = w.start_url()?;
    let http = crate::observe::http_signin::HttpSignIn::new(&w.ctx().http_trust)?;
    let second = http
        .sign_in(
            &start,
            &w.ctx().target.pages,
            &creds.username,
            password.expose(),
        )
        .await
        .map_err(|e| format!("signing a second session in over HTTP: {e}"))?;
    let anchored = w.probe_whoami(&second).await?;
    let t1 = Instant::now();
    if !anchored.authenticated() {
        return Err(format!(
            "the second session was not signed in for the probe: {anchored}"
        ));
    }
    wait_until(w, t0 + idle + m).await;
    let first = w.probe_whoami(jar).await?;
    let first_at = Instant::now() - t0;
    let younger = w.probe_whoami(&second).await?;
    let younger_at = Instant::now() - t1;
    let outcome = if !younger.authenticated() {
        Outcome::Early
    } else if first.authenticated() {
        Outcome::NotEnforced
    } else {
        Outcome::Enforced
    };
    Ok(Observation::new(RuleId::IdleTimeout, outcome)
        .evidence(format!(
            "a second session, {:.1}s idle: {younger}",
            younger_at.as_secs_f64()
        ))
        .evidence(format!(
            "{person}'s session, {:.1}s idle: {first}",
            first_at.as_secs_f64()
        )))
}

/// One session looked at twice: alive shortly before the value, then (its clock restarted by
/// that look) dead shortly after it.
async fn bracketed(
    w: &mut LogoutWorld,
    jar: &[JarCookie],
    t0: Instant,
    idle: Duration,
    m: Duration,
) -> Result<Observation, String> {
    wait_until(w, t0 + idle.saturating_sub(m)).await;
    let before = w.probe_whoami(jar).await?;
    let t1 = Instant::now();
    let evidence_before = format!("after {:.1}s idle: {before}", (t1 - t0).as_secs_f64());
    if !before.authenticated() {
        return Ok(Observation::new(RuleId::IdleTimeout, Outcome::Early).evidence(evidence_before));
    }
    wait_until(w, t1 + idle + m).await;
    let after = w.probe_whoami(jar).await?;
    let e = format!(
        "after {:.1}s idle: {after}",
        (Instant::now() - t1).as_secs_f64()
    );
    let o = if after.authenticated() {
        Outcome::NotEnforced
    } else {
        Outcome::Enforced
    };
    Ok(Observation::new(RuleId::IdleTimeout, o)
        .evidence(evidence_before)
        .evidence(e))
}

#[then(regex = r"^the session ends at the configured maximum session length$")]
async fn absolute_timeout(w: &mut LogoutWorld) -> Result<(), String> {
    let person = w.who("she")?;
    let absolute = configured(w, "absolute")?;
    let m = margin(absolute);
    // Stay active well within the idle timeout, so only the absolute limit can end the session.
    let every = w
        .ctx()
        .target
        .spec
        .timeouts
        .idle
        .map(|i| i / 3)
        .unwrap_or(absolute / 6)
        .max(Duration::from_millis(200));
    let jar = w.jar(&person).await?;
    // The session's age counts from sign-in (the session began a little before the signed-in
    // page showed; the brackets absorb that), not from this step, which a busy machine may
    // reach seconds later.
    let t0 = w.signed_in_at.unwrap_or_else(Instant::now);
    let mut last_alive = None;
    let mut first_dead = None;
    let end = t0 + absolute + m;
    while Instant::now() < end {
        let r = w.probe_whoami(&jar).await?;
        let at = (Instant::now() - t0).as_secs_f64();
        if r.authenticated() {
            last_alive = Some((at, r));
        } else {
            if last_alive.is_none()
                && let Some(idle) = w.ctx().target.spec.timeouts.idle
                && at >= idle.as_secs_f64()
            {
                // Nothing kept it active yet: it may have idled out, which says nothing about
                // the maximum length.
                return Err(format!(
                    "the session was gone at the first look, {at:.1}s after sign-in, longer than \
                     the idle timeout ({}s): the machine was too busy to start the measurement in \
                     time; run again with a lower --concurrency ({r})",
                    idle.as_secs_f64()
                ));
            }
            first_dead = Some((at, r));
            break;
        }
        wait_until(w, (Instant::now() + every).min(end)).await;
    }
    if first_dead.is_none() {
        let r = w.probe_whoami(&jar).await?;
        let at = (Instant::now() - t0).as_secs_f64();
        if !r.authenticated() {
            first_dead = Some((at, r));
        } else {
            last_alive = Some((at, r));
        }
    }
    let limit_early = absolute.saturating_sub(m).as_secs_f64();
    let outcome = match &first_dead {
        Some((at, _)) if *at < limit_early => Outcome::Early,
        Some(_) => Outcome::Enforced,
        None => Outcome::NotEnforced,
    };
    let mut obs = Observation::new(RuleId::AbsoluteTimeout, outcome).evidence(format!(
        "configured maximum session length {}s, kept active every {:.1}s",
        absolute.as_secs_f64(),
        every.as_secs_f64()
    ));
    if let Some((at, r)) = &last_alive {
        obs = obs.evidence(format!("alive at {at:.1}s: {r}"));
    }
    if let Some((at, r)) = &first_dead {
        obs = obs.evidence(format!("ended by {at:.1}s: {r}"));
    }
    w.judge(obs)?;
    Ok(())
}

#[then(regex = r"^a reminder appears before the session expires$")]
async fn reminder(w: &mut LogoutWorld) -> Result<(), String> {
    let person = w.who("she")?;
    let t = &w.ctx().target.spec.timeouts;
    // Applicability (`@needs-reminder`) guarantees a declared timeout and a reminder selector.
    let first_expiry = match (t.idle, t.absolute) {
        (Some(i), Some(a)) => i.min(a),
        (Some(x), None) | (None, Some(x)) => x,
        (None, None) => return Err("the target declares no timeouts; no reminder is due".into()),
    };
    let css = w
        .ctx()
        .target
        .pages
        .reminder
        .clone()
        .ok_or("the target declares no reminder (`pages.reminder`)")?;
    // Watching for the reminder is waiting for a timer: the slot goes to scenarios that work.
    w.start_waiting();
    let t0 = Instant::now();
    let limit = first_expiry + margin(first_expiry);
    let shown_at = {
        let browser = w.browser(&person)?;
        crate::observe::page::wait_displayed(
            browser,
            &css,
            limit,
            crate::observe::page::TIMER_LOOK_EVERY,
        )
        .await
        .ok()
        .map(|_| Instant::now() - t0)
    };
    w.timings.deliberate_wait += Instant::now() - t0;
    let outcome = match shown_at {
        Some(at) if at < first_expiry => Outcome::Shown,
        _ => Outcome::NotShown,
    };
    w.judge(
        Observation::new(RuleId::TimeoutReminder, outcome)
            .evidence(format!(
                "session expires after {}s",
                first_expiry.as_secs_f64()
            ))
            .evidence(match shown_at {
                Some(at) => format!("{css} visible after {:.1}s", at.as_secs_f64()),
                None => format!("{css} never visible"),
            }),
    )
}

/// The later of the declared timeouts plus its margin: by then the session has ended on the
/// server whichever limit ends it (an inactivity timeout that is off leaves the maximum length).
fn latest_expiry(w: &LogoutWorld) -> Result<Duration, String> {
    let t = &w.ctx().target.spec.timeouts;
    let latest = match (t.idle, t.absolute) {
        (Some(i), Some(a)) => i.max(a),
        (Some(x), None) | (None, Some(x)) => x,
        (None, None) => return Err("the target declares no timeouts; no expiry is due".into()),
    };
    Ok(latest + margin(latest))
}

/// CRM 8.2/9.x at expiry (docs/crm-adfs-facts.md §4.3): a dialog whose Close signs out fully,
/// `main.aspx?signout=1` and then AD FS `wsignout1.0`. Judged by what opening CRM again does: a
/// credentials prompt, or a silent sign-in through AD FS single sign-on (a Close that only
/// reloads, or a sign-out that stops at CRM).
#[then(regex = r"^at expiry the session-expired dialog's Close signs (?:her|him|them) out fully$")]
async fn expiry_dialog_close(w: &mut LogoutWorld) -> Result<(), String> {
    let person = w.who("she")?;
    let css = w
        .ctx()
        .target
        .pages
        .expiry_close
        .clone()
        .ok_or("the target declares no session-expired dialog (`pages.expiry_close`)")?;
    // The dialog is due at the first expiry; wait for it up to the last one, so an inactivity
    // timeout that is off (the dialog then comes at the maximum length) is still seen.
    let limit = latest_expiry(w)?;
    // Watching for the dialog is waiting for a timer: the slot goes to scenarios that work.
    w.start_waiting();
    let t0 = Instant::now();
    w.ctx().progress.expect_until((t0 + limit).into_std());
    let shown = crate::observe::page::wait_displayed(
        w.browser(&person)?,
        &css,
        limit,
        crate::observe::page::TIMER_LOOK_EVERY,
    )
    .await;
    w.timings.deliberate_wait += t0.elapsed();
    let close = match shown {
        Ok(el) => el,
        Err(e) => {
            return w.judge(
                Observation::new(RuleId::ExpiryDialogSignsOut, Outcome::NotShown)
                    .evidence(format!("within {:.1}s: {e}", limit.as_secs_f64())),
            );
        }
    };
    let shown_after = t0.elapsed().as_secs_f64();
    let navigated = crate::observe::page::activate_and_wait_new_document(
        w.browser(&person)?,
        close,
        w.ctx().page_timeout,
    )
    .await?;
    let after_close = w.settle_page(&person).await?;
    if !navigated {
        return Err(format!(
            "clicking {css} loaded no new page within {:.0}s: {after_close}",
            w.ctx().page_timeout.as_secs_f64()
        ));
    }
    let opened = super::reauth::open_crm(w, &person).await?;
    let outcome = match (opened.shows_app, opened.sign_in_form) {
        (true, _) => Outcome::SilentSignIn,
        (false, true) => Outcome::CredentialsAsked,
        (false, false) => {
            return Err(format!(
                "cannot tell whether CRM asks for credentials: {opened}"
            ));
        }
    };
    w.judge(
        Observation::new(RuleId::ExpiryDialogSignsOut, outcome)
            .evidence(format!("{css} visible after {shown_after:.1}s"))
            .evidence(format!("after Close: {after_close}"))
            .evidence(format!("opening CRM again: {opened}")),
    )
}

#[when(regex = r"^(\w+) stays away until (?:her|his|their) session has expired on the server$")]
async fn away_until_expired(w: &mut LogoutWorld, who: String) -> Result<(), String> {
    let person = w.who(&who)?;
    let jar = w.jar(&person).await?;
    // No page open, so nothing of the page (its dialog, its requests) plays a part: only the
    // server's limits end the session.
    w.browser(&person)?
        .goto("about:blank")
        .await
        .map_err(|e| e.to_string())?;
    let t0 = w.signed_in_at.unwrap_or_else(Instant::now);
    // A look is activity, so look once after the first expiry (the idle timeout, cheap), and
    // once more after the last only if the session outlived the first.
    let t = w.ctx().target.spec.timeouts;
    let first = match (t.idle, t.absolute) {
        (Some(i), Some(a)) => i.min(a),
        (Some(x), None) | (None, Some(x)) => x,
        (None, None) => return Err("the target declares no timeouts; no expiry is due".into()),
    };
    wait_until(w, t0 + first + margin(first)).await;
    let mut probe = w.probe_whoami(&jar).await?;
    if probe.authenticated() {
        let last = latest_expiry(w)?;
        wait_until(w, t0 + last).await;
        probe = w.probe_whoami(&jar).await?;
    }
    let at = (Instant::now() - t0).as_secs_f64();
    w.expiry_probe = Some((at, probe.authenticated(), probe.to_string()));
    Ok(())
}

/// "Expired, but silently back in" (docs/crm-adfs-facts.md §5, S72): after CRM's session ended on
/// the server, does opening CRM again ask for credentials, or does AD FS issue a new token without
/// a prompt while its single sign-on session lives?
#[then(regex = r"^opening CRM after the expiry asks for (?:her|his|their) credentials$")]
async fn reauth_after_expiry(w: &mut LogoutWorld) -> Result<(), String> {
    let person = w.who("she")?;
    let (at, alive, probe) = w
        .expiry_probe
        .take()
        .ok_or("the session was not left to expire first (a `When ... stays away` step)")?;
    let opened = super::reauth::open_crm(w, &person).await?;
    let mut obs = match (alive, opened.shows_app, opened.sign_in_form) {
        // Never ended: nobody was asked anything (timeout.absolute judges the length itself).
        (true, _, _) => Observation::new(RuleId::ReauthAfterExpiry, Outcome::SilentSignIn)
            .evidence(format!(
                "the session had not ended on the server {at:.1}s after sign-in: {probe}"
            )),
        (false, true, _) => Observation::new(RuleId::ReauthAfterExpiry, Outcome::SilentSignIn)
            .evidence(format!("ended on the server by {at:.1}s: {probe}"))
            .evidence(
                "signed in again without a prompt: the identity provider's single sign-on \
                 session outlived CRM's (AD FS SsoLifetime); to force re-authentication at \
                 expiry, make SsoLifetime no longer than CRM's session and turn off Keep me \
                 signed in",
            ),
        (false, false, true) => {
            Observation::new(RuleId::ReauthAfterExpiry, Outcome::CredentialsAsked)
                .evidence(format!("ended on the server by {at:.1}s: {probe}"))
        }
        (false, false, false) => {
            return Err(format!(
                "cannot tell whether CRM asks for credentials: {opened}"
            ));
        }
    };
    obs = obs.evidence(format!("opening CRM again: {opened}"));
    w.judge(obs)
}

/// CRM 8.2/9.x's re-authenticate dialog's Sign In (`_sign_in` in the session script's
/// `reAuthObject`, docs/crm-adfs-facts.md §4.3, S43); a deployment without it does not run the
/// scenario (`@needs-expiry-dialog`: the same script shows the session-expired dialog).
const REAUTH_SIGN_IN: &str = "#_sign_in";

/// At the expiry warning: clicks the re-authenticate dialog's Sign In and judges whether the
/// session was renewed with a new token from the identity provider (the session cookie changes:
/// AD FS posted a new token, CRM made a new session of it) or the old session was kept (the
/// cookie stays as it was).
#[then(
    regex = r"^at the warning, Sign In in the re-authenticate dialog renews (?:her|his|their) session with a new token$"
)]
async fn reauth_dialog_renews(w: &mut LogoutWorld) -> Result<(), String> {
    let person = w.who("she")?;
    let limit = latest_expiry(w)?;
    w.start_waiting();
    let t0 = Instant::now();
    w.ctx().progress.expect_until((t0 + limit).into_std());
    let shown = crate::observe::page::wait_displayed(
        w.browser(&person)?,
        REAUTH_SIGN_IN,
        limit,
        crate::observe::page::TIMER_LOOK_EVERY,
    )
    .await;
    w.timings.deliberate_wait += t0.elapsed();
    let sign_in = match shown {
        Ok(el) => el,
        Err(e) => {
            return w.judge(
                Observation::new(RuleId::ReauthDialogThroughIdp, Outcome::NotShown)
                    .evidence(format!("within {:.1}s: {e}", limit.as_secs_f64())),
            );
        }
    };
    let values = |jar: &[crate::engine::browser::JarCookie], w: &LogoutWorld| -> Vec<String> {
        let mut v: Vec<String> = w
            .auth_cookies(jar)
            .into_iter()
            .map(|c| format!("{}={}", c.name, c.value))
            .collect();
        v.sort();
        v
    };
    let jar = w.jar(&person).await?;
    let before = values(&jar, w);
    if before.is_empty() {
        return Err("no authentication cookie before Sign In: nothing to compare".into());
    }
    sign_in
        .click()
        .await
        .map_err(|e| format!("clicking {REAUTH_SIGN_IN}: {e}"))?;
    // The dialog's window goes to AD FS and back; the renewed cookie lands in the shared jar.
    let clicked = Instant::now();
    let world = &*w;
    let (person_ref, before_ref) = (&person, &before);
    let looked = crate::engine::wait::Wait::at_most(w.ctx().page_timeout)
        .every(Duration::from_millis(200))
        .until(|| async move {
            match world.jar(person_ref).await {
                Ok(jar) => {
                    let now = values(&jar, world);
                    (!now.is_empty() && now != *before_ref).then_some(Ok(()))
                }
                Err(e) => Some(Err(e)),
            }
        })
        .await;
    let renewed = match looked {
        Ok(looked) => {
            looked?;
            true
        }
        Err(_) => false,
    };
    let names: Vec<String> = before
        .iter()
        .filter_map(|c| c.split('=').next().map(str::to_string))
        .collect();
    let (outcome, evidence) = if renewed {
        (
            Outcome::NewToken,
            format!(
                "Sign In in the re-authenticate dialog replaced {} within {} ms (a new token from \
                 the identity provider)",
                names.join(", "),
                clicked.elapsed().as_millis()
            ),
        )
    } else {
        (
            Outcome::SessionExtended,
            format!(
                "{} unchanged {:.0}s after Sign In in the re-authenticate dialog: no new token",
                names.join(", "),
                w.ctx().page_timeout.as_secs_f64()
            ),
        )
    };
    w.judge(Observation::new(RuleId::ReauthDialogThroughIdp, outcome).evidence(evidence))
}
