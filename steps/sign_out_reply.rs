//! Sign-out abuse: AD FS's sign-out URL with a reply address (`wreply`) on a foreign host. AD FS
//! follows a reply only beneath a relying party's registered address (docs/crm-adfs-facts.md,
//! S49); following any would make every sign-out link an open redirect (ASVS v5.0.0 3.7.2).

use std::time::Duration;

use cucumber::{then, when};

use super::world::LogoutWorld;
use crate::config::target::SsoProtocol;
use crate::judge::{Observation, Outcome, RuleId};

/// A host that can never resolve (RFC 6761 reserves `.invalid`), so nothing is ever sent to it:
/// the browser's address bar is all that tells whether AD FS sent it there.
const FOREIGN_REPLY: &str = "https://sign-out-reply.invalid/after-sign-out";

/// How long a script or meta refresh on the sign-out page gets to redirect after it loads.
const LATE_REDIRECT: Duration = Duration::from_secs(1);

#[when(regex = r"^(\w+) opens AD FS's sign-out with a reply address on another host$")]
async fn opens_signout_with_foreign_reply(w: &mut LogoutWorld, who: String) -> Result<(), String> {
    let person = w.who(&who)?;
    // Where AD FS is: CRM sends a browser without a session there (the probe follows no
    // redirects, and sends no cookie).
    let start = w.start_url()?;
    let challenge = w.ctx().probe.get_with_cookies(&start, &[]).await?;
    let sign_in = challenge
        .location
        .as_deref()
        .and_then(|l| start.join(l).ok())
        .filter(|l| {
            SsoProtocol::of_sign_in_request(l) == Some(SsoProtocol::WsFederation)
                || l.path().to_ascii_lowercase().starts_with("/adfs/")
        })
        .ok_or_else(|| {
            format!(
                "cannot find the WS-Federation sign-in: CRM's start page without a session \
                 answered {challenge}"
            )
        })?;
    // WS-Federation signs out at the address it signs in at (`wa=wsignout1.0`); AD FS's is
    // /adfs/ls/ whatever address CRM first sends the browser to.
    let mut signout = if sign_in.path().to_ascii_lowercase().starts_with("/adfs/") {
        sign_in.join("/adfs/ls/").map_err(|e| e.to_string())?
    } else {
        sign_in.clone()
    };
    signout.set_query(None);
    signout
        .query_pairs_mut()
        .append_pair("wa", "wsignout1.0")
        .append_pair("wreply", FOREIGN_REPLY);
    let navigation = std::time::Instant::now();
    let opened = w.browser(&person)?.goto(signout.as_str()).await;
    w.timings.navigation += navigation.elapsed();
    // A network error is what following the reply looks like (the foreign host never
    // resolves): the next step reads where the browser is. Anything else cannot be judged.
    if let Err(e) = opened
        && !e.is_network_error_page()
    {
        return Err(format!("opening {signout}: {e}"));
    }
    let foreign = url::Url::parse(FOREIGN_REPLY).map_err(|e| e.to_string())?;
    w.foreign_reply = Some((signout, foreign));
    Ok(())
}

#[then(regex = r"^the browser is not sent to that host$")]
async fn not_sent_to_foreign_host(w: &mut LogoutWorld) -> Result<(), String> {
    let person = w.who("she")?;
    let (signout, foreign) = w
        .foreign_reply
        .clone()
        .ok_or("no sign-out with a foreign reply address was opened")?;
    let host = foreign.host_str().unwrap_or_default().to_string();
    let browser = w.browser(&person)?;
    // Sent there at once (a redirect) or by the page a moment later (a script, a meta refresh).
    let (landed, _) = crate::engine::wait::Wait::at_most(LATE_REDIRECT)
        .until_or_last(|| async {
            let now = browser.client().current_url().await.ok();
            let there = now.as_ref().and_then(|u| u.host_str()) == Some(host.as_str());
            (there, now)
        })
        .await;
    let landed = landed.ok_or("cannot read the browser's address")?;
    let followed = landed.host_str() == Some(host.as_str());
    w.judge(
        Observation::new(
            RuleId::SsoSignOutReply,
            if followed {
                Outcome::Followed
            } else {
                Outcome::NotFollowed
            },
        )
        .evidence(format!(
            "opened {}",
            crate::config::secrets::shorten_redacted(signout.as_str(), 160)
        ))
        .evidence(format!(
            "the browser was then at {}",
            crate::config::secrets::shorten_redacted(landed.as_str(), 160)
        )),
    )
}
