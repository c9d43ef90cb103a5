//! Idle and absolute timeouts, measured on the server (WSTG-SESS-07: enforced server-side) against
//! the values the target says are configured, and the reminder shown before expiry.
//!
//! Waiting here is the measurement itself: the steps wait for time to pass, then ask the server
//! whether the session is alive. Each check is bracketed: alive shortly before the configured value
//! (else "early"), dead shortly after it (else "not-enforced"). Where the target lets a session be
//! signed in over HTTP, the idle bracket takes two sessions looked at once each at the same moment,
//! the way `logout-harness timeout` measures (`crate::measure`): one wait instead of two.

use std::time::Duration;

use cucumber::{then, when};
use tokio::time::{Instant, sleep_until};

use super::world::LogoutWorld;
use crate::browser::JarCookie;
use crate::policy::{Observation, Outcome, RuleId};
use crate::target::SignInBy;

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
/// `crate::measure`): it is signed in `2m` after the browser's, so when the browser's session is
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
    let http = crate::http_signin::HttpSignIn::new(&w.ctx().http_trust)?;
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
    let t0 = Instant::now();
    let limit = first_expiry + margin(first_expiry);
    let shown_at = {
        let browser = w.browser(&person)?;
        crate::page::wait_displayed(browser, &css, limit)
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
