//! Internal claims access (mode claims): CRM is AD FS's relying party, and AD FS signs intranet
//! browsers in with Windows authentication. After Sign Out the browser is signed straight back
//! in either way; these steps tell the two causes apart. A new Kerberos exchange at AD FS is
//! what Microsoft documents for this mode (docs/crm-adfs-facts.md §5, S50); an AD FS session
//! that outlived Sign Out means AD FS was never told (S72), a defect.

use cucumber::then;

use super::reauth::open_crm;
use super::world::LogoutWorld;
use crate::engine::browser::JarCookie;
use crate::engine::probe::{IdpAnswer, ProbeResponse};
use crate::judge::{Observation, Outcome, RuleId};

/// Where CRM sends a browser without a session to sign in: AD FS's `wsignin1.0` address, the
/// `Location` of CRM's answer to its start page asked with no cookies.
async fn adfs_sign_in_url(w: &mut LogoutWorld) -> Result<url::Url, String> {
    let start = w.start_url()?;
    let asked = w.ctx().probe.get_with_cookies(&start, &[]).await?;
    w.probe_log.push(asked.to_string());
    let location = asked
        .location
        .as_deref()
        .filter(|_| (300..400).contains(&asked.status))
        .ok_or_else(|| {
            format!(
                "cannot find AD FS's sign-in address: CRM's start page did not redirect to it \
                 ({asked}); mode claims expects CRM to send the browser to AD FS"
            )
        })?;
    start
        .join(location)
        .map_err(|e| format!("CRM's redirect to AD FS `{location}` is not a URL: {e}"))
}

/// Asks AD FS's sign-in address with `cookies` and no Windows credentials.
async fn ask_adfs(
    w: &mut LogoutWorld,
    url: &url::Url,
    cookies: &[JarCookie],
) -> Result<(ProbeResponse, IdpAnswer), String> {
    let (response, answer) = w.ctx().probe.idp_sign_in(url, cookies).await?;
    w.probe_log.push(response.to_string());
    Ok((response, answer))
}

/// The names of the cookies of `jar` that the browser sends to AD FS's sign-in address.
fn adfs_cookie_names(jar: &[JarCookie], adfs: &url::Url) -> String {
    let names: Vec<&str> = jar
        .iter()
        .filter(|c| c.applies_to(adfs))
        .map(|c| c.name.as_str())
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

#[then(regex = r"^AD FS has ended (?:her|his|their) single sign-on session$")]
async fn adfs_session_ended(w: &mut LogoutWorld) -> Result<(), String> {
    let person = w.who("she")?;
    let adfs = adfs_sign_in_url(w).await?;
    // Where the sign-out ended: AD FS's wsignout1.0 when CRM handed the browser over.
    let after = w
        .browser(&person)?
        .client()
        .current_url()
        .await
        .map_err(|e| format!("reading the page's URL after sign-out: {e}"))?;
    let reached = after.host_str() == adfs.host_str()
        && after
            .query_pairs()
            .any(|(k, v)| k == "wa" && v.eq_ignore_ascii_case("wsignout1.0"));
    let jar = w.jar(&person).await?;
    let before = w.before_sign_out.clone();
    // The server's word: do AD FS's cookies from before sign-out still get a token?
    let (replay, answer) = ask_adfs(w, &adfs, &before).await?;
    if replay.cookies_sent.is_empty() {
        return Err(format!(
            "the browser held no cookie for AD FS's sign-in address {adfs} before sign-out, so \
             there is no AD FS session to judge"
        ));
    }
    let outcome = if answer == IdpAnswer::Token {
        Outcome::Alive
    } else {
        Outcome::Ended
    };
    let obs = Observation::new(RuleId::ClaimsAdfsSignedOut, outcome)
        .evidence(format!(
            "sign-out ended at {} ({})",
            crate::config::secrets::shorten_redacted(after.as_str(), 120),
            if reached {
                "AD FS's wa=wsignout1.0: AD FS was told"
            } else {
                "not AD FS's wa=wsignout1.0"
            }
        ))
        .evidence(format!(
            "cookies for AD FS before sign-out: {}; after: {}",
            adfs_cookie_names(&before, &adfs),
            adfs_cookie_names(&jar, &adfs)
        ))
        .evidence(format!(
            "AD FS's cookies from before sign-out replayed: {replay}: {answer}"
        ));
    w.judge(obs)
}

#[then(
    regex = r"^opening CRM again signs (?:her|him|them) back in through Windows authentication at AD FS$"
)]
async fn back_in_through_windows_authentication(w: &mut LogoutWorld) -> Result<(), String> {
    let person = w.who("she")?;
    let adfs = adfs_sign_in_url(w).await?;
    // Before the browser goes back: would AD FS give it a token on its cookies alone? Asked
    // from here, so the browser's own way in is left untouched.
    let jar = w.jar(&person).await?;
    let (asked, answer) = ask_adfs(w, &adfs, &jar).await?;
    let opened = open_crm(w, &person).await?;
    let outcome = match (opened.shows_app, answer) {
        (true, IdpAnswer::Token) => Outcome::AdfsSession,
        (true, IdpAnswer::WindowsChallenge) => Outcome::WindowsAuthentication,
        (true, _) => {
            return Err(format!(
                "cannot tell how the browser got back in: AD FS answered its cookies with \
                 {answer} ({asked}), yet the browser shows the application: {opened}"
            ));
        }
        (false, _) if opened.sign_in_form || answer != IdpAnswer::Token => {
            Outcome::CredentialsAsked
        }
        (false, _) => {
            return Err(format!(
                "cannot tell whether CRM asks for credentials: {opened}"
            ));
        }
    };
    let obs = Observation::new(RuleId::ClaimsReloginAfterSignOut, outcome)
        .evidence(format!(
            "before opening CRM, AD FS answered the browser's cookies ({}) with {answer}: {asked}",
            adfs_cookie_names(&jar, &adfs)
        ))
        .evidence(format!("opening CRM: {opened}"));
    w.judge(obs)?;
    if outcome == Outcome::WindowsAuthentication {
        // Expected for internal claims access; say how to change it, for deployments that must
        // ask for credentials after Sign Out.
        let fix = crate::judge::remedy::remedy(
            RuleId::ClaimsReloginAfterSignOut,
            outcome,
            w.ctx().target.spec.mode,
        );
        w.ctx().findings.note(format!(
            "mode claims: after Sign Out (CRM and AD FS), the browser's Kerberos ticket signed the \
             user straight back in at AD FS, as Microsoft documents for internal claims access. \
             If that is unwanted: {}",
            fix.fix.join(" ")
        ));
    }
    Ok(())
}
