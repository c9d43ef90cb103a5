//! Signing out (through the profile menu, or a plain Sign out link, button or form), and what is
//! observed afterwards.

use cucumber::{then, when};

use super::world::{LogoutWorld, NoRecording};
use crate::engine::browser::JarCookie;
use crate::engine::wait::Wait;
use crate::judge::{Observation, Outcome, RuleId};
use crate::observe::page;
use crate::observe::snapshot;
use crate::observe::timeline::{Point, TimelineEvent};

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
        // The opposite mistake: a page that answers "signed in" to anyone would make every
        // replay "accepted", a false violation of a sign-out that works.
        let nobody = w.probe_whoami(&[]).await?;
        if nobody.authenticated() {
            return Err(format!(
                "the probe's `whoami` answers as signed in without any cookie ({nobody}), so it \
                 cannot tell a session from none and a replay after sign-out would prove \
                 nothing. Fix `whoami` in the target profile: a page that answers 2xx only to a \
                 signed-in user (a redirect, 401 or 403 otherwise)."
            ));
        }
    }
    // An entry of auth_cookies that matches nothing is checked nowhere: say so in every report,
    // with each host's cookie names to correct it by, rather than let it pass unseen.
    let unmatched = w.unmatched_auth_cookies(&jar);
    if !unmatched.is_empty() {
        let mut hosts: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
        for c in &jar {
            hosts
                .entry(c.domain.as_str())
                .or_default()
                .push(c.name.as_str());
        }
        let held: Vec<String> = hosts
            .iter()
            .map(|(host, names)| format!("{host}: {}", names.join(", ")))
            .collect();
        let note = format!(
            "target `{}`: auth_cookies {} matched no cookie the browser held before sign-out, so \
             nothing checks them; the browser held {}. Correct the name (and `@host`) in \
             `pages.auth_cookies`",
            w.ctx().target.spec.name,
            unmatched
                .iter()
                .map(|e| format!("`{e}`"))
                .collect::<Vec<_>>()
                .join(", "),
            if held.is_empty() {
                "no cookie".to_string()
            } else {
                held.join("; ")
            }
        );
        w.ctx().findings.note(note);
    }
    w.mark_jar(person, Point::BeforeSignOut, &jar);
    w.before_sign_out = jar;
    // What the browser asked while signed in, up to now: the sign-out's own requests are not
    // part of it (replaying a sign-out URL would be a write).
    w.recorded_before_sign_out = Some(w.take_recording(person).await);

    let browser = w.browser(person)?;
    if let Some(menu) = &pages.user_menu {
        page::wait_displayed(browser, menu, limit, Wait::DEFAULT_EVERY)
            .await
            .map_err(|e| format!("the profile menu (`pages.user_menu`): {e}"))?
            .click()
            .await
            .map_err(|e| format!("opening the profile menu: {e}"))?;
    }
    let item = page::wait_displayed(browser, &pages.sign_out, limit, Wait::DEFAULT_EVERY)
        .await
        .map_err(|e| format!("the Sign Out control (`pages.sign_out`): {e}"))?;
    // Sign-out is a chain of redirects (CRM, then AD FS): wait for the last page to load. Not an
    // error when it never does: the checks judge whatever is on screen.
    let navigation = std::time::Instant::now();
    page::activate_and_wait_new_document(browser, item, limit)
        .await
        .map_err(|e| format!("activating Sign Out: {e}"))?;
    w.timings.navigation += navigation.elapsed();
    let after = w.jar(person).await?;
    w.mark_jar(person, Point::SignedOut, &after);
    w.after_sign_out = Some(after);
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
    let now = snapshot::now_s();
    let remaining: Vec<crate::engine::browser::JarCookie> =
        w.auth_cookies(&jar).into_iter().cloned().collect();
    // Each cookie with its host: an entry may name an identity provider's cookie on its host.
    let had: Vec<String> = w
        .auth_cookies(&w.before_sign_out)
        .iter()
        .map(|c| format!("{} ({})", c.name, c.domain))
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
            let how = if snapshot::expiring(c, now) {
                format!("expires within {:.0}s", snapshot::EXPIRING_WITHIN_S)
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
        } else if let Some(idp) = provider_still_signs_in(w, &remaining, &jar).await? {
            evidence.push(idp);
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

/// For auth cookies left on another host than the application's (an identity provider's session
/// cookie, `name@host`), which the application's `whoami` is never sent: whether the provider
/// still signs the user in silently with what is left, asked at the sign-in request the sign-in
/// chain showed. `Some(evidence)` when it does; `None` when nothing is left there or it asks for
/// credentials. Without a sign-in request to ask at, what is left cannot be judged.
async fn provider_still_signs_in(
    w: &LogoutWorld,
    remaining: &[crate::engine::browser::JarCookie],
    jar: &[crate::engine::browser::JarCookie],
) -> Result<Option<String>, String> {
    let app = w.whoami_url()?;
    let elsewhere: Vec<String> = remaining
        .iter()
        .filter(|c| !c.applies_to(&app) && !snapshot::expiring(c, snapshot::now_s()))
        .filter(|c| !c.value.is_empty())
        .map(|c| format!("{c:?}"))
        .collect();
    if elsewhere.is_empty() {
        return Ok(None);
    }
    let request = w
        .ctx()
        .target
        .sign_in_chain
        .as_ref()
        .and_then(|c| c.sign_in_request.clone())
        .ok_or_else(|| {
            format!(
                "cannot tell whether {} still sign the user in: they are not sent to the \
                 application, and no sign-in request to the identity provider was seen to ask \
                 it (the sign-in redirect chain did not show one)",
                elsewhere.join(", ")
            )
        })?;
    let answer = w
        .ctx()
        .probe
        .idp_sign_in_again(&request, jar)
        .await
        .map_err(|e| e.to_string())?;
    Ok((answer == crate::engine::probe::IdpAnswer::Token).then(|| {
        format!(
            "the identity provider at {} still signs the user in without credentials with \
                 what is left ({}): a live credential",
            request.host_str().unwrap_or_default(),
            elsewhere.join(", ")
        )
    }))
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

#[then(
    regex = r"^replaying every request the browser made before sign-out is refused by the server$"
)]
async fn replay_all_refused(w: &mut LogoutWorld) -> Result<(), String> {
    let rule = RuleId::ReplayAllRefused;
    if w.ctx().policy.rule(rule).is_none() {
        return Ok(());
    }
    let recording = match w.recorded_before_sign_out.clone() {
        Some(Ok(recording)) => recording,
        Some(Err(NoRecording::Unavailable(why))) => {
            w.not_applicable(rule, &why);
            return Ok(());
        }
        Some(Err(NoRecording::Failed(why))) => return Err(why),
        None => return Err("nobody signed out in this scenario: nothing to replay".into()),
    };
    let before = w.before_sign_out.clone();
    let sorted = replay_plan(w, &recording, &before);
    if sorted.replay.is_empty() {
        w.not_applicable(
            rule,
            &format!(
                "the browser made no authenticated GET or HEAD request under {} that succeeded \
                 while signed in ({} recorded); {}",
                w.ctx().crm_url,
                recording.seen,
                sorted.summary()
            ),
        );
        return Ok(());
    }
    let probe = w.ctx().probe.clone();
    w.drain_trails();
    let (mut refused, mut accepted, mut public) = (Vec::new(), Vec::new(), Vec::new());
    for request in &sorted.replay {
        let method = http::Method::from_bytes(request.method.as_bytes())
            .map_err(|e| format!("{}: {e}", request.shown()))?;
        let old = probe.replay(method.clone(), &request.url, &before).await?;
        let line = replayed(request, &old);
        w.probe_log.push(line.clone());
        w.timeline.push(replay_event(request, &old));
        if !old.authenticated() {
            refused.push(line);
            continue;
        }
        // Served to anyone (a static file, say): no proof that the old cookie still works.
        let anonymous = probe.replay(method, &request.url, &[]).await?;
        w.probe_log.push(replayed(request, &anonymous));
        w.timeline.push(replay_event(request, &anonymous));
        if anonymous.authenticated() {
            public.push(format!("{line}, and {} without cookies", anonymous.status));
        } else {
            accepted.push(line);
        }
    }
    let outcome = if accepted.is_empty() {
        Outcome::Refused
    } else {
        Outcome::Accepted
    };
    let mut obs = Observation::new(rule, outcome).evidence(format!(
        "recorded {} request(s) under {} while signed in ({} distinct by method and URL without \
         query values{}); replayed {} safe one(s) with the cookies from before sign-out: {} \
         refused, {} accepted",
        recording.seen,
        w.ctx().crm_url,
        recording.requests.len(),
        if recording.over_cap > 0 {
            format!(
                ", {} more over the cap of {}",
                recording.over_cap,
                crate::engine::recorder::MAX_DISTINCT
            )
        } else {
            String::new()
        },
        sorted.replay.len(),
        refused.len(),
        accepted.len()
    ));
    for line in &accepted {
        obs = obs.evidence(format!("ACCEPTED: {line}"));
    }
    for line in &refused {
        obs = obs.evidence(format!("refused: {line}"));
    }
    for line in &public {
        obs = obs.evidence(format!("not counted, served without cookies too: {line}"));
    }
    for line in sorted.skipped_lines() {
        obs = obs.evidence(line);
    }
    w.judge(obs)
}

/// A replay as a timeline event: the request without query values, the cookie names sent, the
/// answer.
fn replay_event(
    request: &crate::engine::recorder::RecordedRequest,
    r: &crate::engine::probe::ProbeResponse,
) -> TimelineEvent {
    TimelineEvent::Replay {
        request: request.shown(),
        cookies_sent: r.cookies_sent.clone(),
        status: r.status,
        accepted: r.authenticated(),
    }
}

/// A replay's one line: the request without query values, the cookie names sent, the answer.
fn replayed(
    request: &crate::engine::recorder::RecordedRequest,
    r: &crate::engine::probe::ProbeResponse,
) -> String {
    let cookies = if r.cookies_sent.is_empty() {
        "no cookies".to_string()
    } else {
        format!("cookies {}", r.cookies_sent.join(", "))
    };
    let mut line = format!("{} with {cookies} -> {}", request.shown(), r.status);
    if let Some(location) = &r.location {
        line.push_str(&format!(
            " (Location: {})",
            crate::config::secrets::shorten_redacted(location, 80)
        ));
    }
    line
}

/// The recorded requests sorted into those to replay and those left out, with why.
struct ReplayPlan {
    replay: Vec<crate::engine::recorder::RecordedRequest>,
    writes: Vec<String>,
    sign_out: Vec<String>,
    no_auth_cookie: Vec<String>,
    not_ok: Vec<String>,
}

impl ReplayPlan {
    fn summary(&self) -> String {
        format!(
            "left out: {} write(s), {} sign-out URL(s), {} without an authentication cookie, {} \
             that did not succeed while signed in",
            self.writes.len(),
            self.sign_out.len(),
            self.no_auth_cookie.len(),
            self.not_ok.len()
        )
    }

    fn skipped_lines(&self) -> Vec<String> {
        let list = |v: &[String]| {
            let mut shown: Vec<String> = v.iter().take(10).cloned().collect();
            if v.len() > 10 {
                shown.push(format!("and {} more", v.len() - 10));
            }
            shown.join("; ")
        };
        let mut lines = Vec::new();
        if !self.writes.is_empty() {
            lines.push(format!(
                "not replayed, writes ({}): {} (only GET and HEAD are replayed: a write's body is \
                 never recorded, and replaying it could change data)",
                self.writes.len(),
                list(&self.writes)
            ));
        }
        if !self.sign_out.is_empty() {
            lines.push(format!(
                "not replayed, sign-out URLs ({}): {}",
                self.sign_out.len(),
                list(&self.sign_out)
            ));
        }
        if !self.no_auth_cookie.is_empty() {
            lines.push(format!(
                "not replayed, sent without an authentication cookie ({}): {}",
                self.no_auth_cookie.len(),
                list(&self.no_auth_cookie)
            ));
        }
        if !self.not_ok.is_empty() {
            lines.push(format!(
                "not replayed, did not succeed while signed in, so a refusal would prove nothing \
                 ({}): {}",
                self.not_ok.len(),
                list(&self.not_ok)
            ));
        }
        lines
    }
}

/// Which recorded requests are replayed: safe (GET, HEAD), not a sign-out, sent with one of the
/// target's authentication cookies, and answered 2xx while signed in (so a refusal afterwards is
/// the sign-out's doing).
fn replay_plan(
    w: &LogoutWorld,
    recording: &crate::engine::recorder::Recording,
    before: &[crate::engine::browser::JarCookie],
) -> ReplayPlan {
    let mut plan = ReplayPlan {
        replay: Vec::new(),
        writes: Vec::new(),
        sign_out: Vec::new(),
        no_auth_cookie: Vec::new(),
        not_ok: Vec::new(),
    };
    let auth: Vec<&crate::engine::browser::JarCookie> = w.auth_cookies(before);
    for request in &recording.requests {
        let shown = request.shown();
        let lower = shown.to_ascii_lowercase();
        let carried_auth = match &request.cookies {
            Some(names) => auth.iter().any(|c| names.contains(&c.name)),
            // No extra info (a memory-cache answer): what the jar would have sent.
            None => auth.iter().any(|c| c.applies_to(&request.url)),
        };
        if !request.is_safe() {
            plan.writes.push(shown);
        } else if ["signout", "sign-out", "logout", "logoff", "wsignout"]
            .iter()
            .any(|w| lower.contains(w))
        {
            plan.sign_out.push(shown);
        } else if !carried_auth {
            plan.no_auth_cookie.push(shown);
        } else if !request.succeeded() {
            plan.not_ok.push(format!(
                "{shown} ({})",
                request
                    .status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "no answer".into())
            ));
        } else {
            plan.replay.push(request.clone());
        }
    }
    plan
}

#[then(regex = r"^the cookies left in the browser match the snapshot$")]
async fn cookies_match_snapshot(w: &mut LogoutWorld) -> Result<(), String> {
    let person = w.who("she")?;
    let jar = w.jar(&person).await?;
    let normaliser = snapshot::Normaliser::new(&w.ctx().target.spec.snapshot);
    let shapes = snapshot::leftover_shapes(&jar, &normaliser);
    let mut about = Vec::new();
    for c in &jar {
        if let Some(why) = normaliser.ignored(c) {
            about.push(format!("left out: {} ({}): {why}", c.name, c.domain));
        }
    }
    for (pattern, why) in normaliser.declared() {
        about.push(format!("volatile `{pattern}` shown as {{volatile}}: {why}"));
    }
    let placeholders: Vec<&str> = snapshot::PLACEHOLDERS
        .into_iter()
        .filter(|p| shapes.iter().any(|s| s.line().contains(p)))
        .collect();
    if !placeholders.is_empty() {
        about.push(format!(
            "parts that change from sign-in to sign-in shown as {}",
            placeholders.join(", ")
        ));
    }
    let ctx = &w.verdict_context;
    let name = snapshot::snapshot_name(&[&ctx.feature, &ctx.scenario, &ctx.target, &ctx.browser]);
    let description = format!(
        "Cookies left after \"{}\" ({}; mode {}, browser {}). Names and flags only, never values.",
        ctx.scenario, ctx.target, ctx.mode, ctx.browser
    );
    let dir = w.ctx().snapshots.clone();
    let writes = w.ctx().snapshot_writes;
    let cmp = tokio::task::spawn_blocking(move || {
        snapshot::compare(&dir, &name, &description, &shapes, writes)
    })
    .await
    .map_err(|e| e.to_string())??;
    if !cmp.had_baseline && !cmp.matches {
        // The first run against a target: nothing to compare with is not a difference.
        let seen = if w.ctx().snapshot_writes == snapshot::SnapshotWrites::Review {
            format!(
                " (the cookies seen are in {}.new)",
                crate::config::builtin::label(&cmp.file)
            )
        } else {
            String::new()
        };
        return Err(format!(
            "first run: there is no baseline snapshot yet at {}{seen}. Review the cookies and \
             record the baseline with `--update-snapshots`; later runs compare against it.",
            crate::config::builtin::label(&cmp.file),
        ));
    }
    let outcome = if cmp.matches {
        Outcome::MatchSnapshot
    } else {
        Outcome::Differ
    };
    let mut obs = Observation::new(RuleId::LeftoverCookies, outcome).evidence(format!(
        "snapshot {}",
        crate::config::builtin::label(&cmp.file)
    ));
    for line in about {
        obs = obs.evidence(line);
    }
    // After a step that opened the application again (a silent re-login under Windows
    // authentication), the jar holds what that sign-in set beside what sign-out left: say which.
    // Values are compared in memory only, never shown.
    if let Some(after) = &w.after_sign_out {
        let (left, since): (Vec<&JarCookie>, Vec<&JarCookie>) = jar.iter().partition(|c| {
            after.iter().any(|a| {
                (&a.name, &a.domain, &a.path, &a.value) == (&c.name, &c.domain, &c.path, &c.value)
            })
        });
        if !jar.is_empty() {
            let names = |cs: &[&JarCookie]| {
                if cs.is_empty() {
                    return "none".to_string();
                }
                cs.iter()
                    .map(|c| format!("{} ({})", c.name, c.domain))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            obs = obs.evidence(format!(
                "as sign-out left them: {}; set or renewed since sign-out's page loaded (by the \
                 rest of its redirects, or by opening the application again, a silent sign-in): {}",
                names(&left),
                names(&since)
            ));
        }
    }
    if !cmp.matches {
        obs = obs.detail(format!(
            "{}if the change is intended, rerun with --update-snapshots to accept it{}",
            cmp.diff,
            if w.ctx().snapshot_writes == snapshot::SnapshotWrites::Review {
                format!(
                    " (the cookies seen are in {}.new)",
                    crate::config::builtin::label(&cmp.file)
                )
            } else {
                String::new()
            }
        ));
    }
    w.judge(obs)
}
