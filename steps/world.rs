//! The scenario's world: who is signed in where, what was saved before sign-out, and the glue that
//! turns observations into verdicts through the policy.

use std::collections::BTreeMap;
use std::sync::Arc;

use cucumber::event::ScenarioFinished;
use cucumber::gherkin;

use crate::browser::{Browser, JarCookie, Profile};
use crate::policy::{Observation, VerdictContext};
use crate::report::ScenarioError;
use crate::run::RunContext;

/// One simulated person at one device: a browser profile and, while open, a browser on it.
#[derive(Debug)]
pub struct Person {
    /// The profile (kept across "close the browser and reopen it").
    pub profile: Profile,
    /// The open browser, if any.
    pub browser: Option<Browser>,
}

/// The state of one scenario.
#[derive(Debug, cucumber::World)]
#[world(init = Self::new)]
pub struct LogoutWorld {
    /// The run's shared context.
    pub ctx: Arc<RunContext>,
    /// People by the name the feature uses.
    pub people: BTreeMap<String, Person>,
    /// Who "she", "he" or "they" refers to: the last person named.
    pub current: Option<String>,
    /// The browser's whole jar just before sign-out (values kept only in memory, for replay).
    pub before_sign_out: Vec<JarCookie>,
    /// Where verdicts say they were reached.
    pub verdict_context: VerdictContext,
    /// Set when a step failed because the policy was violated (not an error of the harness).
    pub violated: bool,
    /// Probe exchanges of this scenario, for artifacts.
    pub probe_log: Vec<String>,
    /// Where this scenario's time went (for bench/, never judged).
    pub timings: Timings,
}

/// Time spent per kind of work in one scenario.
#[derive(Debug)]
pub struct Timings {
    /// When the scenario began.
    pub started: std::time::Instant,
    /// Starting and closing browsers.
    pub browser_launch: std::time::Duration,
    /// Page loads the steps wait for (sign-in, sign-out, opening CRM).
    pub navigation: std::time::Duration,
    /// Waiting on purpose (a timeout being measured).
    pub deliberate_wait: std::time::Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            started: std::time::Instant::now(),
            browser_launch: Default::default(),
            navigation: Default::default(),
            deliberate_wait: Default::default(),
        }
    }
}

impl LogoutWorld {
    async fn new() -> Result<Self, std::io::Error> {
        let ctx = crate::run::current().ok_or_else(|| {
            std::io::Error::other("no run context: scenarios run through `logout-harness run`")
        })?;
        Ok(LogoutWorld {
            verdict_context: VerdictContext {
                mode: ctx.mode.to_string(),
                browser: ctx.browser_name.clone(),
                target: ctx.target.spec.name.clone(),
                ..VerdictContext::default()
            },
            ctx,
            people: BTreeMap::new(),
            current: None,
            before_sign_out: Vec::new(),
            violated: false,
            probe_log: Vec::new(),
            timings: Timings::default(),
        })
    }

    /// Starts a browser for `person` on `profile` (a new one, or theirs again to "reopen the
    /// browser"), through the driver that person's browser must use (IWA: their ticket).
    pub async fn launch_browser(
        &mut self,
        person: &str,
        profile: &Profile,
        restore_last_session: bool,
    ) -> Result<Browser, String> {
        let t = std::time::Instant::now();
        let browser = Browser::launch(
            self.ctx.webdriver_for(person),
            &self.ctx.launch,
            profile,
            restore_last_session,
        )
        .await
        .map_err(|e| format!("cannot start a browser for {person}: {e}"));
        self.timings.browser_launch += t.elapsed();
        browser
    }

    /// Before hook: names the scenario for verdicts and snapshots.
    pub async fn begin(&mut self, feature: &gherkin::Feature, scenario: &gherkin::Scenario) {
        self.verdict_context.feature = feature.name.clone();
        self.verdict_context.scenario = scenario.name.clone();
        self.timings = Timings::default();
    }

    /// Resolves "she", "he", "they" and names to a person's name.
    pub fn who(&self, word: &str) -> Result<String, String> {
        match word {
            "she" | "he" | "they" => self
                .current
                .clone()
                .ok_or_else(|| format!("`{word}` refers to nobody: name a user first")),
            name => Ok(name.to_string()),
        }
    }

    /// The open browser of `person`.
    pub fn browser(&self, person: &str) -> Result<&Browser, String> {
        self.people
            .get(person)
            .and_then(|p| p.browser.as_ref())
            .ok_or_else(|| format!("{person} has no open browser"))
    }

    /// The open browser of `person`, mutably (to close it).
    pub fn person_mut(&mut self, person: &str) -> Result<&mut Person, String> {
        self.people
            .get_mut(person)
            .ok_or_else(|| format!("{person} has no browser"))
    }

    /// The target's authentication cookies among `jar`: those sent to the organization URL whose
    /// names match the target's `auth_cookies` patterns (`MSISAuth*` covers the chunks).
    pub fn auth_cookies<'a>(&self, jar: &'a [JarCookie]) -> Vec<&'a JarCookie> {
        let patterns = &self.ctx.target.pages.auth_cookies;
        jar.iter()
            .filter(|c| c.applies_to(&self.ctx.crm_url))
            .filter(|c| {
                patterns.iter().any(|p| match p.strip_suffix('*') {
                    Some(prefix) => c.name.starts_with(prefix),
                    None => c.name == *p,
                })
            })
            .collect()
    }

    /// CRM's start page (the target's `start`, relative to the organization URL).
    pub fn start_url(&self) -> Result<url::Url, String> {
        let start = &self.ctx.target.pages.start;
        self.ctx
            .crm_url
            .join(start)
            .map_err(|e| format!("start page `{start}`: {e}"))
    }

    /// `person`'s whole cookie jar, every host (CDP).
    pub async fn jar(&self, person: &str) -> Result<Vec<JarCookie>, String> {
        self.browser(person)?
            .all_cookies()
            .await
            .map_err(|e| e.to_string())
    }

    /// Whether `person`'s session is alive at their next action, and the evidence: the server's
    /// answer to their jar (asked first, before a reload could renew anything), then their page
    /// after a reload.
    pub async fn session_at_next_action(
        &mut self,
        person: &str,
    ) -> Result<(bool, Vec<String>), String> {
        let jar = self.jar(person).await?;
        let auth: Vec<String> = self
            .auth_cookies(&jar)
            .iter()
            .map(|c| c.name.clone())
            .collect();
        let probe = self.probe_whoami(&jar).await?;
        self.browser(person)?
            .client()
            .refresh()
            .await
            .map_err(|e| format!("reloading {person}'s page: {e}"))?;
        let page = self.settle_page(person).await?;
        Ok((
            probe.authenticated() || page.shows_app,
            vec![
                format!(
                    "{person}'s auth cookies: {}",
                    if auth.is_empty() {
                        "none".into()
                    } else {
                        auth.join(", ")
                    }
                ),
                format!("{person}: {probe}"),
                format!("{person} after reload: {page}"),
            ],
        ))
    }

    /// The probe's WhoAmI URL.
    pub fn whoami_url(&self) -> Result<url::Url, String> {
        self.ctx
            .crm_url
            .join(&self.ctx.target.spec.whoami)
            .map_err(|e| format!("whoami `{}`: {e}", self.ctx.target.spec.whoami))
    }

    /// Asks the server "who am I" with those of `cookies` that apply; the exchange is logged for
    /// artifacts. `authenticated()` on the answer says whether the session is alive.
    pub async fn probe_whoami(
        &mut self,
        cookies: &[JarCookie],
    ) -> Result<crate::probe::ProbeResponse, String> {
        let url = self.whoami_url()?;
        let response = self.ctx.probe.get_with_cookies(&url, cookies).await?;
        self.probe_log.push(response.to_string());
        Ok(response)
    }

    /// Whether `person`'s browser shows CRM signed in right now (the target's signed-in marker).
    pub async fn shows_app(&self, person: &str) -> Result<bool, String> {
        self.browser(person)?
            .has(&self.ctx.target.pages.signed_in)
            .await
            .map_err(|e| e.to_string())
    }

    /// Waits (up to the page timeout) until `person`'s page has settled on something a person can
    /// read: CRM signed in, a sign-in form, or a page that says "signed out" (redirect chains and
    /// AD FS's auto-posting forms pass through pages that are none of these). Returns what is
    /// shown then; `settled` is false when the deadline passed first.
    pub async fn settle_page(&self, person: &str) -> Result<PageState, String> {
        let pages = &self.ctx.target.pages;
        let browser = self.browser(person)?;
        let signed_out = regex::Regex::new(&pages.signed_out_text).map_err(|e| e.to_string())?;
        let deadline = std::time::Instant::now() + self.ctx.page_timeout;
        // A loaded page that is none of the three (IIS's 401 page, an error page) counts as settled
        // once it has stayed the same, with no WS-Federation form about to post itself, this long.
        let quiet = std::time::Duration::from_millis(400);
        let mut last: Option<(String, std::time::Instant)> = None;
        loop {
            // Errors while a navigation replaces the document mean "not yet".
            let complete = browser
                .client()
                .execute("return document.readyState", vec![])
                .await
                .map(|v| v.as_str() == Some("complete"))
                .unwrap_or(false);
            let app = browser.has(&pages.signed_in).await.unwrap_or(false);
            let form = browser.has(&pages.username_input).await.unwrap_or(false);
            let says_signed_out = browser
                .body_text()
                .await
                .map(|t| signed_out.is_match(&t))
                .unwrap_or(false);
            let url_now = browser
                .client()
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default();
            let posting = browser.has("input[name=wresult]").await.unwrap_or(true);
            let still = match &last {
                Some((u, since)) if *u == url_now && complete && !posting => {
                    since.elapsed() >= quiet
                }
                _ => {
                    last = Some((url_now, std::time::Instant::now()));
                    false
                }
            };
            let settled = complete && (app || form || says_signed_out || still);
            if settled || std::time::Instant::now() > deadline {
                let data = browser.has(&pages.data).await.unwrap_or(false);
                // Navigation Timing: a document with no bytes transferred came from the HTTP cache.
                let from_cache = browser
                    .client()
                    .execute(
                        "const n = performance.getEntriesByType('navigation')[0]; \
                         return !!n && n.transferSize === 0 && n.decodedBodySize > 0;",
                        vec![],
                    )
                    .await
                    .ok()
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false);
                let url = browser
                    .client()
                    .current_url()
                    .await
                    .map(|u| crate::report::shorten(u.as_str(), 120))
                    .unwrap_or_else(|e| format!("(no URL: {e})"));
                return Ok(PageState {
                    url,
                    settled,
                    shows_app: app,
                    shows_data: data,
                    sign_in_form: form,
                    says_signed_out,
                    from_cache,
                });
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Judges an observation through the policy and records the verdict. A violated rule fails
    /// the step (cucumber shows the verdict); a rule the policy leaves out is not judged.
    pub fn judge(&mut self, observation: Observation) {
        let Some(verdict) = self.ctx.policy.judge(&observation, &self.verdict_context) else {
            return;
        };
        let passed = verdict.passed;
        let text = verdict.to_string();
        let detail = verdict.detail.clone();
        self.ctx.findings.verdict(verdict);
        if !passed {
            self.violated = true;
            match detail {
                Some(d) => panic!("{text}\n{d}"),
                None => panic!("{text}"),
            }
        }
    }

    /// After hook: records an unjudged scenario, leaves artifacts of a failed one, and closes
    /// every browser (so none outlives its scenario, whatever happened).
    pub async fn finish(&mut self, scenario: &gherkin::Scenario, finished: &ScenarioFinished) {
        let failed_step = match finished {
            ScenarioFinished::StepFailed(_, _, err) => Some(err.to_string()),
            ScenarioFinished::BeforeHookFailed(_) => Some("the before hook failed".to_string()),
            _ => None,
        };
        match &failed_step {
            None => self.ctx.findings.scenario_passed(),
            Some(message) if !self.violated => {
                let step = scenario
                    .steps
                    .iter()
                    .map(|s| format!("{}{}", s.keyword, s.value))
                    .next_back()
                    .unwrap_or_default();
                self.ctx.findings.error(ScenarioError {
                    context: self.verdict_context.clone(),
                    step: failed_step_name(scenario, message).unwrap_or(step),
                    message: message.clone(),
                });
            }
            Some(_) => {}
        }
        if failed_step.is_some() {
            crate::artifacts::save(self).await;
        }
        let closing = std::time::Instant::now();
        for person in self.people.values_mut() {
            if let Some(browser) = person.browser.take() {
                let _ = browser.close().await;
            }
        }
        self.timings.browser_launch += closing.elapsed();
        let t = &self.timings;
        self.ctx.findings.timing(crate::report::ScenarioTiming {
            context: self.verdict_context.clone(),
            total_s: t.started.elapsed().as_secs_f64(),
            browser_launch_s: t.browser_launch.as_secs_f64(),
            navigation_s: t.navigation.as_secs_f64(),
            deliberate_wait_s: t.deliberate_wait.as_secs_f64(),
        });
    }
}

/// What a page shows once it has settled (see [`LogoutWorld::settle_page`]).
#[derive(Clone, Debug)]
pub struct PageState {
    /// The page's URL (shortened).
    pub url: String,
    /// Whether it settled before the deadline.
    pub settled: bool,
    /// CRM's signed-in marker is shown.
    pub shows_app: bool,
    /// CRM data (the target's `data` selector) is shown.
    pub shows_data: bool,
    /// A sign-in form is shown.
    pub sign_in_form: bool,
    /// The page says "signed out".
    pub says_signed_out: bool,
    /// The browser took the page from its HTTP cache instead of asking the server.
    pub from_cache: bool,
}

impl std::fmt::Display for PageState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = if self.shows_app {
            "CRM signed in"
        } else if self.sign_in_form {
            "a sign-in form"
        } else if self.says_signed_out {
            "a signed-out page"
        } else {
            "neither CRM nor a sign-in form"
        };
        write!(f, "page {} shows {shown}", self.url)?;
        if self.shows_data {
            write!(f, " with CRM data")?;
        }
        if self.from_cache {
            write!(f, " (from the browser's HTTP cache, not the server)")?;
        }
        if !self.settled {
            write!(f, " (not settled in time)")?;
        }
        Ok(())
    }
}

/// The failed step is not in the event; cucumber's message does not name it either, so we take the
/// first step whose text appears in it, or nothing.
fn failed_step_name(scenario: &gherkin::Scenario, message: &str) -> Option<String> {
    scenario
        .steps
        .iter()
        .find(|s| message.contains(&s.value))
        .map(|s| format!("{}{}", s.keyword, s.value))
}
