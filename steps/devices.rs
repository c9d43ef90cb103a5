//! Several devices: two independent browsers (two profiles) signed in as the same user.
//!
//! The first device is the person under the user's own name (so the shared steps, such as
//! "she signs out through the profile menu", act on it); the second is kept in the world under
//! [`other_device`]'s name.

use cucumber::{given, then, when};

use super::sign_in::{open_browser, sign_in};
use super::world::LogoutWorld;
use crate::policy::{Observation, RuleId};

/// The world's key for the administrator's own browser.
const ADMIN: &str = "administrator";

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

/// Ends every session of one user (not `end-all`: scenarios run concurrently against the same
/// emulator, and ending everyone's sessions would sign out the other scenarios' people too).
#[when(regex = r"^the administrator ends all of (\w+)'s sessions$")]
async fn admin_ends_all(w: &mut LogoutWorld, whose: String) -> Result<(), String> {
    let admin = w.ctx.admin_url.clone().ok_or_else(|| {
        "this target has no administrator endpoint to end a user's sessions (only the embedded \
         emulator has one), so devices.admin-end-all cannot be judged"
            .to_string()
    })?;
    let user = w.who(&whose)?;
    let username = w.ctx.target.credentials(&user)?.username;
    let mut url = admin
        .join("sessions/end")
        .map_err(|e| format!("admin URL: {e}"))?;
    url.query_pairs_mut().append_pair("user", &username);
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
    // The administrator acts from a browser of their own (it trusts the target as the devices do).
    let list = admin
        .join("sessions")
        .map_err(|e| format!("admin URL: {e}"))?;
    open_browser(w, ADMIN).await?;
    w.current = Some(user);
    let browser = w.browser(ADMIN)?;
    browser
        .goto(list.as_str())
        .await
        .map_err(|e| e.to_string())?;
    let reply = browser
        .client()
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(arguments[0], {method: 'POST'})
               .then(r => r.text().then(t => done(r.status + ' ' + t)))
               .catch(e => done('error ' + e));",
            vec![serde_json::json!(url.as_str())],
        )
        .await
        .map_err(|e| format!("POST {url}: {e}"))?;
    let reply = reply.as_str().unwrap_or_default().to_string();
    w.probe_log.push(format!("POST {url} -> {reply}"));
    if !reply.starts_with("200 ") {
        return Err(format!(
            "the administrator could not end all sessions: POST {url} -> {reply}"
        ));
    }
    Ok(())
}

/// The session on `person`'s device at its next action: the server's answer to its jar (probed
/// before the reload could renew anything), then its page after a reload.
async fn device_session(w: &mut LogoutWorld, person: &str) -> Result<(bool, Vec<String>), String> {
    let jar = w
        .browser(person)?
        .all_cookies()
        .await
        .map_err(|e| e.to_string())?;
    let probe = w.probe_whoami(&jar).await?;
    w.browser(person)?
        .client()
        .refresh()
        .await
        .map_err(|e| format!("reloading {person}'s page: {e}"))?;
    let page = w.settle_page(person).await?;
    Ok((
        probe.authenticated() || page.shows_app,
        vec![
            format!("{person}: {probe}"),
            format!("{person} after reload: {page}"),
        ],
    ))
}

#[then(regex = r"^(\w+) other device's session is as the policy says$")]
async fn other_device_session(w: &mut LogoutWorld, _whose: String) -> Result<(), String> {
    let user = w.who("she")?;
    let (signed_in, evidence) = device_session(w, &other_device(&user)).await?;
    let mut obs = Observation::new(
        RuleId::OtherDeviceAfterSignOut,
        if signed_in { "signed-in" } else { "signed-out" },
    );
    for e in evidence {
        obs = obs.evidence(e);
    }
    w.judge(obs);
    Ok(())
}

#[then(regex = r"^both of (\w+) devices are signed out$")]
async fn both_signed_out(w: &mut LogoutWorld, _whose: String) -> Result<(), String> {
    let user = w.who("she")?;
    let mut any_signed_in = false;
    let mut evidence = Vec::new();
    for person in [user.clone(), other_device(&user)] {
        let (signed_in, e) = device_session(w, &person).await?;
        any_signed_in |= signed_in;
        evidence.extend(e);
    }
    let mut obs = Observation::new(
        RuleId::AdminEndsAllSessions,
        if any_signed_in {
            "signed-in"
        } else {
            "signed-out"
        },
    );
    for e in evidence {
        obs = obs.evidence(e);
    }
    w.judge(obs);
    Ok(())
}
