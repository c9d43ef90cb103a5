//! Integrated Windows Authentication: a Kerberos ticket signs the browser in with no prompt;
//! without one the server answers 401 with its challenges and opens no session.

use cucumber::{given, then};

use super::reauth::open_crm;
use super::sign_in::open_browser;
use super::world::LogoutWorld;
use crate::policy::{Observation, Outcome, RuleId};
use crate::target::NO_TICKET_PERSON;

#[given(regex = r"^(\w+) has a Kerberos ticket$")]
async fn has_ticket(w: &mut LogoutWorld, user: String) -> Result<(), String> {
    let person = w.who(&user)?;
    // Against the emulator each user's browser is driven by a driver holding that user's
    // credential cache; against a real target, by the machine's own ticket.
    if w.ctx().target.spec.crm == crate::target::CrmLocation::Embedded
        && !w.ctx().user_drivers.contains_key(&person)
    {
        return Err(format!("the emulator's KDC issued no ticket for {person}"));
    }
    open_browser(w, &person).await
}

#[given(regex = r"^a browser without a Kerberos ticket$")]
async fn no_ticket(w: &mut LogoutWorld) -> Result<(), String> {
    // Any person without a driver of their own gets the driver with an empty credential cache.
    open_browser(w, NO_TICKET_PERSON).await
}

#[then(regex = r"^opening CRM signs (?:her|him|them) in without a prompt$")]
async fn silent_sign_in(w: &mut LogoutWorld) -> Result<(), String> {
    let person = w.who("she")?;
    let opened = open_crm(w, &person).await?;
    let outcome = if opened.shows_app && !opened.sign_in_form {
        Outcome::Silent
    } else {
        Outcome::Prompted
    };
    w.judge(Observation::new(RuleId::IwaSilentSignIn, outcome).evidence(opened.to_string()))?;
    Ok(())
}

#[then(regex = r"^the server refuses it with a Windows authentication challenge$")]
async fn refused_with_challenge(w: &mut LogoutWorld) -> Result<(), String> {
    let opened = open_crm(w, NO_TICKET_PERSON).await?;
    // The browser's view, then the server's: no session may exist, and the answer is IIS's 401
    // with both challenges (docs/crm-adfs-facts.md S17, S18).
    let probe = w.probe_whoami(&[]).await?;
    let challenged =
        probe.status == 401 && probe.challenges.iter().any(|c| c.starts_with("Negotiate"));
    let outcome = if !opened.shows_app && challenged {
        Outcome::Refused
    } else {
        Outcome::SignedIn
    };
    w.judge(
        Observation::new(RuleId::IwaNoTicketRefused, outcome)
            .evidence(format!("browser: {opened}"))
            .evidence(probe.to_string()),
    )
}
