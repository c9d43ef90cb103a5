//! Measuring when an administrator's change reaches the sessions that already exist: a user
//! disabled, a user's sessions ended, a timeout shortened (`logout-harness revoke`).
//!
//! Sessions are signed in first and each shown alive; then the change is made (the target's
//! administrator action, or a person at the keyboard), and every session is asked again at each
//! step until the server refuses it or `max` passes. Asking is activity, which is harmless here:
//! a change that ends sessions must end busy ones too.
//!
//! A look asks what [`Ask`] says: the application (its `whoami` with the session's cookies),
//! the identity provider (the application opened without its own cookies and no password: does
//! the single sign-on session sign the user in again?), or both, as the user's access: an
//! application session that ended is no loss of access while the identity provider signs the
//! user straight back in (AD FS does so for a user disabled only in Active Directory until its
//! SSO lifetime ends).
//!
//! Bounds are honest, as in [`crate::observe::measure`]: a session found alive was alive when
//! the server judged that request, somewhere after it was sent, so the change had not reached
//! it by then; a session found refused was refused by the time the answer came. Both are
//! counted from the moment the change was done (its action returned).

use std::future::Future;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::engine::browser::JarCookie;
use crate::observe::measure::{MeasureError, Sessions, fmt_duration};

/// What a look at a session asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ask {
    /// The application, with the session's cookies: is its session alive?
    Application,
    /// The identity provider: does the application, opened without its own cookies and no
    /// password, sign the user in again?
    IdentityProvider,
    /// The user's access: alive while either of the above is.
    Access,
}

impl Ask {
    /// The names `--ask` takes.
    pub const NAMES: [&'static str; 3] = ["application", "identity-provider", "access"];

    /// `application`, `identity-provider` or `access`.
    pub fn parse(s: &str) -> Option<Ask> {
        match s {
            "application" => Some(Ask::Application),
            "identity-provider" => Some(Ask::IdentityProvider),
            "access" => Some(Ask::Access),
            _ => None,
        }
    }
}

impl std::fmt::Display for Ask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Ask::Application => "the application",
            Ask::IdentityProvider => "the identity provider",
            Ask::Access => "the application, then the identity provider",
        })
    }
}

/// How a revocation is measured.
#[derive(Clone, Debug)]
pub struct RevokePlan {
    /// What each look asks.
    pub ask: Ask,
    /// Sessions signed in before the change.
    pub sessions: usize,
    /// Time between two looks at a session: the widest interval wanted.
    pub resolution: Duration,
    /// How long after the change a session still alive is given.
    pub max: Duration,
}

/// What was seen of one session after the change.
#[derive(Clone, Debug, Serialize)]
pub struct SessionAfterChange {
    /// The latest time (seconds after the change) the session was still alive, at least.
    pub alive_at_least_s: f64,
    /// By when (seconds after the change) it was refused, if it was.
    pub refused_by_s: Option<f64>,
    /// The answer that refused it, or the last one that accepted it.
    pub evidence: String,
}

/// What a revocation measurement found.
#[derive(Clone, Debug, Serialize)]
pub struct RevokeFinding {
    /// What the change was (its action's log line).
    pub change: String,
    /// How long the change itself took (s).
    pub change_took_s: f64,
    /// Each session signed in before the change.
    pub sessions: Vec<SessionAfterChange>,
    /// Every session was alive at least this long after the change (s).
    pub lower_s: f64,
    /// Every session was refused by then (s); `None` if one was still alive at `max_s`.
    pub upper_s: Option<f64>,
    /// The longest time given (s).
    pub max_s: f64,
    /// Time between looks (s).
    pub resolution_s: f64,
    /// Probes sent after the change.
    pub probes: usize,
    /// What the looks asked.
    pub ask: Ask,
    /// What the looks could not count, and why (with [`Ask::Access`], an identity provider that
    /// asked for a password already before the change).
    pub note: Option<String>,
}

impl std::fmt::Display for RevokeFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = |x: f64| fmt_duration(Duration::from_secs_f64(x));
        match self.upper_s {
            Some(upper) => write!(
                f,
                "the change reached all {} sessions between {} and {} after it was made \
                 (asked: {})",
                self.sessions.len(),
                s(self.lower_s),
                s(upper),
                self.ask
            ),
            None => {
                let alive = self
                    .sessions
                    .iter()
                    .filter(|x| x.refused_by_s.is_none())
                    .count();
                write!(
                    f,
                    "{alive} of {} sessions were still accepted {} after the change (--max; \
                     asked: {})",
                    self.sessions.len(),
                    s(self.max_s),
                    self.ask
                )
            }
        }
    }
}

/// Signs `plan.sessions` sessions in, makes the change (`change` returns what it did, or why it
/// failed), then looks at each session every `plan.resolution` until it is refused or
/// `plan.max` passes.
pub async fn measure_revocation<S, F, Fut>(
    sessions: &S,
    plan: &RevokePlan,
    change: F,
) -> Result<RevokeFinding, MeasureError>
where
    S: Sessions,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<String, String>>,
{
    let mut jars = Vec::with_capacity(plan.sessions);
    let mut reentry_counts = plan.ask != Ask::Application;
    let mut note = None;
    for i in 0..plan.sessions {
        let mut jar = sessions
            .sign_in()
            .await
            .map_err(|e| MeasureError(format!("signing session {} in: {e}", i + 1)))?;
        // Each session keeps what the server sets, as a browser would.
        let first = sessions
            .probe(&mut jar)
            .await
            .map_err(|e| MeasureError(format!("asking about session {}: {e}", i + 1)))?
            .answer;
        if plan.ask != Ask::IdentityProvider && !first.authenticated() {
            return Err(MeasureError(format!(
                "a session signed in moments ago is not signed in for the probe ({first}); {}",
                sessions.not_signed_in_hint()
            )));
        }
        if reentry_counts {
            let again = sessions
                .reenter(&jar)
                .await
                .map_err(|e| MeasureError(format!("re-entering session {}: {e}", i + 1)))?;
            if !again.signed_in() {
                if plan.ask == Ask::IdentityProvider {
                    return Err(MeasureError(format!(
                        "the identity provider does not sign session {} in again right after \
                         its sign-in ({again}), so there is no single sign-on session for a \
                         change to revoke; ask the application instead (--ask application)",
                        i + 1
                    )));
                }
                reentry_counts = false;
                note = Some(format!(
                    "the application opened without its own cookies {again} already before the \
                     change, so access is the application's session alone"
                ));
            }
        }
        jars.push(jar);
    }
    let ask = plan.ask;

    let began = Instant::now();
    let change = change()
        .await
        .map_err(|e| MeasureError(format!("the change could not be made: {e}")))?;
    let done = Instant::now();

    struct State {
        alive_at_least: Duration,
        refused_by: Option<Duration>,
        evidence: String,
    }
    let mut states: Vec<State> = jars
        .iter()
        .map(|_| State {
            alive_at_least: Duration::ZERO,
            refused_by: None,
            evidence: "not asked yet".into(),
        })
        .collect();
    let mut probes = 0;
    let mut next = done;
    loop {
        let open: Vec<usize> = (0..jars.len())
            .filter(|&i| states[i].refused_by.is_none())
            .collect();
        if open.is_empty() || next.duration_since(done) > plan.max {
            break;
        }
        tokio::time::sleep_until(next).await;
        let looks = futures::future::join_all(
            jars.iter_mut()
                .enumerate()
                .filter(|(i, _)| open.contains(i))
                .map(|(i, jar)| async move {
                    let sent = Instant::now();
                    let answer = look(sessions, jar, ask, reentry_counts).await;
                    (i, sent, Instant::now(), answer)
                }),
        )
        .await;
        for (i, sent, answered, answer) in looks {
            probes += 1;
            let answer = answer.map_err(|e| {
                MeasureError(format!(
                    "asking about session {} after the change: {e}",
                    i + 1
                ))
            })?;
            let (alive, evidence) = answer;
            let state = &mut states[i];
            if alive {
                state.alive_at_least = sent.saturating_duration_since(done);
            } else {
                state.refused_by = Some(answered.saturating_duration_since(done));
            }
            state.evidence = evidence;
        }
        next += plan.resolution;
    }

    let sessions: Vec<SessionAfterChange> = states
        .into_iter()
        .map(|s| SessionAfterChange {
            alive_at_least_s: s.alive_at_least.as_secs_f64(),
            refused_by_s: s.refused_by.map(|d| d.as_secs_f64()),
            evidence: s.evidence,
        })
        .collect();
    let lower_s = sessions
        .iter()
        .map(|s| s.alive_at_least_s)
        .fold(0.0, f64::max);
    let upper_s = sessions
        .iter()
        .map(|s| s.refused_by_s)
        .try_fold(0.0, |acc: f64, r| r.map(|r| acc.max(r)));
    Ok(RevokeFinding {
        change,
        change_took_s: done.duration_since(began).as_secs_f64(),
        sessions,
        lower_s,
        upper_s,
        max_s: plan.max.as_secs_f64(),
        resolution_s: plan.resolution.as_secs_f64(),
        probes,
        ask,
        note,
    })
}

/// One look at a session: whether it is alive for `ask`, and what was seen. With
/// [`Ask::Access`] the identity provider is asked only once the application refuses, and only
/// when `reentry_counts` (it signed the session in again before the change).
async fn look<S: Sessions>(
    sessions: &S,
    jar: &mut Vec<JarCookie>,
    ask: Ask,
    reentry_counts: bool,
) -> Result<(bool, String), String> {
    if ask == Ask::IdentityProvider {
        let again = sessions.reenter(jar).await?;
        return Ok((again.signed_in(), format!("identity provider: {again}")));
    }
    let answer = sessions.probe(jar).await?.answer;
    if answer.authenticated() || ask == Ask::Application || !reentry_counts {
        return Ok((answer.authenticated(), answer.to_string()));
    }
    let again = sessions.reenter(jar).await?;
    Ok((
        again.signed_in(),
        format!("application: {answer}; identity provider: {again}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::probe::ProbeResponse;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Sessions that live until `revoked` is set, `delay` after the change.
    struct Fake {
        revoked_at: std::sync::Mutex<Option<Instant>>,
        delay: Option<Duration>,
        changed: AtomicBool,
    }

    impl Sessions for Fake {
        async fn sign_in(&self) -> Result<Vec<JarCookie>, String> {
            Ok(Vec::new())
        }
        async fn probe(
            &self,
            _: &mut Vec<JarCookie>,
        ) -> Result<crate::observe::measure::Probed, String> {
            let refused = self.changed.load(Ordering::SeqCst)
                && self
                    .revoked_at
                    .lock()
                    .unwrap()
                    .is_some_and(|t| Instant::now() >= t);
            Ok(crate::observe::measure::Probed {
                answer: ProbeResponse {
                    request: "GET https://crm.test/whoami".into(),
                    cookies_sent: vec!["sid".into()],
                    status: if refused { 401 } else { 200 },
                    location: None,
                    challenges: Vec::new(),
                },
                renewed: false,
            })
        }
    }

    fn fake(delay: Option<Duration>) -> Fake {
        Fake {
            revoked_at: std::sync::Mutex::new(None),
            delay,
            changed: AtomicBool::new(false),
        }
    }

    async fn run(f: &Fake, max: Duration) -> RevokeFinding {
        let plan = RevokePlan {
            ask: Ask::Application,
            sessions: 3,
            resolution: Duration::from_millis(100),
            max,
        };
        measure_revocation(f, &plan, || async {
            f.changed.store(true, Ordering::SeqCst);
            *f.revoked_at.lock().unwrap() = f.delay.map(|d| Instant::now() + d);
            Ok("changed".to_string())
        })
        .await
        .unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_that_takes_effect_later_is_bounded_on_both_sides() {
        let f = run(
            &fake(Some(Duration::from_millis(450))),
            Duration::from_secs(5),
        )
        .await;
        let upper = f.upper_s.unwrap();
        assert!(f.lower_s <= 0.45 && 0.45 <= upper, "{f:?}");
        // One resolution step wide (tokio's paused clock: no lateness).
        assert!(upper - f.lower_s <= 0.1 + 1e-6, "{f:?}");
        assert!(f.to_string().contains("reached all 3 sessions"), "{f}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_that_never_takes_effect_is_reported_at_max() {
        let f = run(&fake(None), Duration::from_secs(1)).await;
        assert_eq!(f.upper_s, None);
        assert!(f.lower_s >= 0.9, "{f:?}");
        assert!(
            f.to_string()
                .contains("3 of 3 sessions were still accepted"),
            "{f}"
        );
    }
}
