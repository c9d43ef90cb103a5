//! Several devices: two independent browsers (two profiles) signed in as the same user.
//!
//! The first device is the person under the user's own name (so the shared steps, such as
//! "she signs out through the profile menu", act on it); the second is kept in the world under
//! [`other_device`]'s name.

use cucumber::{given, then, when};

use super::sign_in::{open_browser, sign_in};
use super::world::LogoutWorld;
use crate::config::target::{AuthMode, CrmLocation};
use crate::judge::{Observation, Outcome, RuleId};

/// The world's key for `user`'s second device.
fn other_device(user: &str) -> String {
    format!("{user} (second device)")
}

#[given(regex = r"^(\w+) is signed in to CRM on two devices$")]
async fn signed_in_on_two_devices(w: &mut LogoutWorld, who: String) -> Result<(), String> {
    let user = w.who(&who)?;
    // sign_in takes the credentials of the person's name: sign the second device in under the
    // user's name, then move it aside and sign the first one in.
    open_browser(w, &user).await?;
    sign_in(w, &user).await?;
    let second = w
        .people
        .remove(&user)
        .ok_or_else(|| format!("{user}'s second device is gone"))?;
    w.people.insert(other_device(&user), second);
    open_browser(w, &user).await?;
    sign_in(w, &user).await
}

/// Ends every session of one user (not everyone's: scenarios run concurrently against the same
/// target, and ending everyone's sessions would sign out the other scenarios' people too), through
/// the target's administrator action.
#[when(regex = r"^the administrator ends all of (\w+)'s sessions$")]
async fn admin_ends_all(w: &mut LogoutWorld, whose: String) -> Result<(), String> {
    // Applicability (`@needs-admin-end-sessions`) guarantees the action exists.
    let action = w
        .ctx()
        .admin_end_sessions
        .clone()
        .ok_or("the target configures no administrator action to end a user's sessions")?;
    let user = w.who(&whose)?;
    let username = w.ctx().target.credentials(&user)?.username;
    // The jars are taken first, so the Then step can replay what each device held.
    for person in [user.clone(), other_device(&user)] {
        let jar = w.jar(&person).await?;
        let live = w.probe_whoami(&jar).await?;
        if !live.authenticated() {
            return Err(format!(
                "{person}'s session is not live before the administrator acts, so ending it would prove nothing: {live}"
            ));
        }
    }
    w.current = Some(user);
    let done = crate::observe::admin::perform(&action, &username, &w.ctx().probe).await?;
    w.probe_log.push(done);
    Ok(())
}

#[then(regex = r"^(\w+) other device's session is as the policy says$")]
async fn other_device_session(w: &mut LogoutWorld, _whose: String) -> Result<(), String> {
    let user = w.who("she")?;
    let (signed_in, evidence) = w.session_at_next_action(&other_device(&user)).await?;
    let outcome = if signed_in {
        Outcome::SignedIn
    } else {
        Outcome::SignedOut
    };
    let atm = access_token_management(w);
    let summary = format!(
        "{}; {}",
        if signed_in {
            "the other device stayed signed in"
        } else {
            "the other device was signed out"
        },
        atm.evidence
    );
    let mut obs = Observation::new(RuleId::OtherDeviceAfterSignOut, outcome).evidence(&summary);
    for e in &evidence {
        obs = obs.evidence(e.clone());
    }
    w.judge(obs)?;
    // With access token management on, CRM must have ended the other device's session too.
    let rule = RuleId::AccessTokenManagement;
    match atm.not_applicable {
        Some(why) => w.not_applicable(rule, &why),
        None => {
            let mut obs = Observation::new(rule, outcome).evidence(summary);
            for e in evidence {
                obs = obs.evidence(e);
            }
            w.judge(obs)?;
        }
    }
    Ok(())
}

/// What the run knows of CRM's access token management (`WSFedNonceCookieEnabled`): a line of
/// evidence, and why `devices.access-token-management` cannot be judged, if it cannot.
struct TokenManagement {
    evidence: String,
    not_applicable: Option<String>,
}

fn access_token_management(w: &LogoutWorld) -> TokenManagement {
    const NAME: &str = "access token management (WSFedNonceCookieEnabled)";
    let ctx = w.ctx();
    let source = if ctx.target.spec.crm == CrmLocation::Embedded {
        "the embedded emulator's setting"
    } else {
        "the target file's access_token_management"
    };
    // S6: claims-based authentication, external (ifd) or internal (claims).
    if !matches!(ctx.mode, AuthMode::Ifd | AuthMode::Claims) {
        return TokenManagement {
            evidence: format!("{NAME}: does not apply in mode {}", ctx.mode),
            not_applicable: Some(format!(
                "{NAME} needs claims-based authentication (mode ifd or claims); mode {} has none",
                ctx.mode
            )),
        };
    }
    match ctx.access_token_management {
        Some(true) => TokenManagement {
            evidence: format!("{NAME}: on ({source})"),
            not_applicable: None,
        },
        Some(false) => TokenManagement {
            evidence: format!("{NAME}: off ({source})"),
            not_applicable: Some(format!(
                "{NAME} is off ({source}), so Sign Out is not meant to end the other devices' \
                 sessions; declare `access_token_management: true` in the target file (or run \
                 the emulator with --sim-access-token-management on) where it is on"
            )),
        },
        None => TokenManagement {
            evidence: format!("{NAME}: not declared"),
            not_applicable: Some(format!(
                "the target does not declare whether {NAME} is on; add \
                 `access_token_management: true` or `false` to the target file"
            )),
        },
    }
}

#[then(regex = r"^both of (\w+) devices are signed out$")]
async fn both_signed_out(w: &mut LogoutWorld, _whose: String) -> Result<(), String> {
    let user = w.who("she")?;
    let mut any_signed_in = false;
    let mut evidence = Vec::new();
    for person in [user.clone(), other_device(&user)] {
        let (signed_in, e) = w.session_at_next_action(&person).await?;
        any_signed_in |= signed_in;
        evidence.extend(e);
    }
    let mut obs = Observation::new(
        RuleId::AdminEndsAllSessions,
        if any_signed_in {
            Outcome::SignedIn
        } else {
            Outcome::SignedOut
        },
    );
    for e in evidence {
        obs = obs.evidence(e);
    }
    w.judge(obs)?;
    Ok(())
}
