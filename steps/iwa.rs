//! Integrated Windows Authentication: a Kerberos ticket signs the browser in with no prompt;
//! without one the server answers 401 with its challenges and opens no session. A browser with
//! automatic sign-in turned off (no Negotiate allowlist) asks its user instead, and signs in with
//! NTLM and the typed credentials: after Sign Out, does it ask again?

use std::sync::Arc;

use cucumber::{given, then, when};

use super::reauth::open_crm;
use super::sign_in::open_browser;
use super::world::LogoutWorld;
use crate::config::target::NO_TICKET_PERSON;
use crate::judge::{Observation, Outcome, RuleId};

#[given(regex = r"^(\w+) has a Kerberos ticket$")]
async fn has_ticket(w: &mut LogoutWorld, user: String) -> Result<(), String> {
    let person = w.who(&user)?;
    // Against the emulator each user's browser is driven by a driver holding that user's
    // credential cache; against a real target, by the machine's own ticket.
    if w.ctx().target.spec.crm == crate::config::target::CrmLocation::Embedded {
        if !w.ctx().user_drivers.contains_key(&person) {
            return Err(format!("the emulator's KDC issued no ticket for {person}"));
        }
    } else {
        // Without a ticket the browser cannot sign in silently, and a 401 page is no prompt:
        // what follows would judge this machine, not the deployment.
        let own = w
            .ctx()
            .target
            .spec
            .users
            .get(&person)
            .and_then(|u| u.kerberos_ccache.clone());
        if crate::engine::credentials::has_kerberos_ticket(own.as_deref()) == Some(false) {
            let cache = match &own {
                Some(path) => format!("{} (`kerberos_ccache`)", path.display()),
                None => std::env::var("KRB5CCNAME")
                    .unwrap_or_else(|_| "the default credential cache".into()),
            };
            return Err(format!(
                "could not judge: {person} has no Kerberos ticket on this machine (`klist -s` \
                 finds no valid one in {cache}); sign in as {person} with `kinit` (or run the \
                 harness in that user's logon session) before the run"
            ));
        }
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

/// Why the prompt scenario's checks cannot be made in this browser, if they cannot.
fn prompt_unavailable(w: &LogoutWorld) -> Option<String> {
    if let Some(why) = &w.prompt_unavailable {
        return Some(why.clone());
    }
    (w.ctx().launch.kind == crate::engine::browser::BrowserKind::Firefox).then(|| {
        "the browser's sign-in prompt is answered through the Chrome DevTools Protocol \
         (Fetch.authRequired), which Firefox does not have"
            .to_string()
    })
}

/// Starts `person`'s browser with automatic sign-in turned off (no Negotiate allowlist, so it
/// sends no Kerberos ticket by itself) on `profile`, and watches its sign-in prompts.
async fn launch_prompting(
    w: &mut LogoutWorld,
    person: &str,
    profile: &crate::engine::browser::Profile,
) -> Result<crate::engine::browser::Browser, String> {
    let mut options = w.ctx().launch.clone();
    options.negotiate_allowlist = None;
    let t = std::time::Instant::now();
    let browser = crate::engine::browser::Browser::launch(
        w.ctx().webdriver_for(person),
        &options,
        profile,
        false,
    )
    .await
    .map_err(|e| format!("cannot start a browser for {person}: {e}"));
    w.timings.browser_launch += t.elapsed();
    let browser = browser?;
    let watched = match browser.debugger_address() {
        Some(address) => crate::observe::auth_prompt::AuthPrompts::attach(&address).await,
        None => Err(crate::engine::error::CdpError::Connect(
            "the WebDriver server reported no DevTools address for the browser".into(),
        )),
    };
    match watched {
        Ok(prompts) => {
            w.auth_prompts.insert(person.to_string(), prompts);
            Ok(browser)
        }
        // A grid's browser runs on another machine, whose DevTools port is not reachable from
        // here: the prompt cannot be answered, so the checks are not applicable there.
        Err(e) if w.ctx().slot_per_browser => {
            w.prompt_unavailable = Some(format!(
                "the browser's sign-in prompt is answered through its DevTools port, which the \
                 browsers of --webdriver do not offer to this machine ({e})"
            ));
            Ok(browser)
        }
        Err(e) => {
            let _ = browser.close().await;
            Err(format!(
                "cannot watch {person}'s browser for sign-in prompts: {e}"
            ))
        }
    }
}

/// What the person types into the prompt: the sign-in name and password the target gives.
fn typed_credentials(
    w: &LogoutWorld,
    person: &str,
) -> Result<(String, Arc<crate::config::target::Secret>), String> {
    let creds = w.ctx().target.credentials(person)?;
    let password = creds.password.ok_or_else(|| {
        format!("{person} has no password to type into the browser's prompt (give `password_env` or `password_file`)")
    })?;
    Ok((creds.username, Arc::new(password)))
}

fn prompts<'w>(
    w: &'w LogoutWorld,
    person: &str,
) -> Result<&'w crate::observe::auth_prompt::AuthPrompts, String> {
    w.auth_prompts
        .get(person)
        .ok_or_else(|| format!("{person}'s browser is not one that asks for credentials"))
}

#[given(
    regex = r"^(\w+) signs in to CRM by typing (?:her|his|their) credentials into the browser's prompt$"
)]
async fn signs_in_through_prompt(w: &mut LogoutWorld, user: String) -> Result<(), String> {
    let person = w.who(&user)?;
    w.current = Some(person.clone());
    if let Some(why) = prompt_unavailable(w) {
        w.prompt_unavailable = Some(why);
        return Ok(());
    }
    w.recorders.insert(
        person.clone(),
        Err(super::world::NoRecording::Unavailable(
            "the browser is a process of its own".into(),
        )),
    );
    let profile = crate::engine::browser::Profile::new()
        .map_err(|e| format!("cannot make a browser profile: {e}"))?;
    let browser = launch_prompting(w, &person, &profile).await?;
    w.people.insert(
        person.clone(),
        super::world::Person {
            profile: Some(profile),
            browser: Some(browser),
        },
    );
    if w.prompt_unavailable.is_some() {
        return Ok(());
    }
    let typed = typed_credentials(w, &person)?;
    prompts(w, &person)?.answer_with(Some(typed));
    let opened = open_crm(w, &person).await?;
    let seen = prompts(w, &person)?.take();
    // From here on nobody types: a later prompt is left for the checks to see.
    prompts(w, &person)?.answer_with(None);
    if !opened.shows_app {
        return Err(format!(
            "signing in through the browser's prompt did not open CRM: {opened}; prompts: {}",
            describe(&seen)
        ));
    }
    if seen.is_empty() {
        return Err(format!(
            "the browser signed in without asking for credentials, so it signs in to Windows \
             automatically and the scenario's premise does not hold: {opened}"
        ));
    }
    w.signed_in_at = Some(tokio::time::Instant::now());
    Ok(())
}

#[when(regex = r"^(\w+) signs out of that browser through the profile menu$")]
async fn signs_out_of_prompting_browser(w: &mut LogoutWorld, who: String) -> Result<(), String> {
    if w.prompt_unavailable.is_some() {
        return Ok(());
    }
    let person = w.who(&who)?;
    super::sign_out::sign_out_via_menu(w, &person).await
}

#[when(regex = r"^(\w+) closes that browser and opens it again$")]
async fn closes_and_reopens_prompting_browser(
    w: &mut LogoutWorld,
    who: String,
) -> Result<(), String> {
    if w.prompt_unavailable.is_some() {
        return Ok(());
    }
    let person = w.who(&who)?;
    w.auth_prompts.remove(&person);
    let mut p = w
        .people
        .remove(&person)
        .ok_or_else(|| format!("{person} has no browser"))?;
    let closed = match p.browser.take() {
        Some(browser) => browser
            .close()
            .await
            .map_err(|e| format!("closing the browser: {e}")),
        None => Err(format!("{person} has no open browser to close")),
    };
    let reopened = match (closed, &p.profile) {
        (Ok(()), Some(profile)) => launch_prompting(w, &person, profile).await,
        (Ok(()), None) => Err(format!("{person}'s browser has no profile to reopen")),
        (Err(e), _) => Err(e),
    };
    w.people.insert(person.clone(), p);
    w.person_mut(&person)?.browser = Some(reopened?);
    Ok(())
}

#[then(
    regex = r"^opening CRM again asks (?:her|him|them) for credentials in the browser's prompt$"
)]
async fn prompt_after_sign_out(w: &mut LogoutWorld) -> Result<(), String> {
    judge_prompt(w, RuleId::IwaPromptAfterSignOut).await
}

#[then(
    regex = r"^opening CRM in the reopened browser asks (?:her|him|them) for credentials in the browser's prompt$"
)]
async fn prompt_after_browser_close(w: &mut LogoutWorld) -> Result<(), String> {
    judge_prompt(w, RuleId::IwaPromptAfterBrowserClose).await
}

/// Opens CRM with nobody at the prompt: a prompt left unanswered (the browser then shows the
/// server's 401) is "credentials asked"; CRM opening with no prompt is a silent sign-in (the
/// browser answered the challenge from its HTTP-auth cache, or the connection stayed
/// authenticated).
async fn judge_prompt(w: &mut LogoutWorld, rule: RuleId) -> Result<(), String> {
    if let Some(why) = w.prompt_unavailable.clone() {
        w.not_applicable(rule, &why);
        return Ok(());
    }
    let person = w.who("she")?;
    prompts(w, &person)?.answer_with(None);
    prompts(w, &person)?.take();
    let opened = open_crm(w, &person).await?;
    let seen = prompts(w, &person)?.take();
    let outcome = match (seen.is_empty(), opened.shows_app) {
        (false, false) => Outcome::CredentialsAsked,
        (true, true) => Outcome::SilentSignIn,
        _ => {
            return Err(format!(
                "cannot tell whether the browser asked for credentials: {opened}; prompts: {}",
                describe(&seen)
            ));
        }
    };
    let how = if seen.is_empty() {
        "no prompt: the browser answered the server's challenge itself, from its HTTP-auth \
         cache (which keeps typed credentials until the browser closes) or on a connection \
         Windows authentication kept signed in"
            .to_string()
    } else {
        describe(&seen)
    };
    w.judge(
        Observation::new(rule, outcome)
            .evidence(format!("browser: {opened}"))
            .evidence(how),
    )
}

fn describe(seen: &[crate::observe::auth_prompt::Prompt]) -> String {
    if seen.is_empty() {
        return "none".into();
    }
    seen.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
