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
        })
    }

    /// Before hook: names the scenario for verdicts and snapshots.
    pub async fn begin(&mut self, feature: &gherkin::Feature, scenario: &gherkin::Scenario) {
        self.verdict_context.feature = feature.name.clone();
        self.verdict_context.scenario = scenario.name.clone();
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
        self.people.get_mut(person).ok_or_else(|| format!("{person} has no browser"))
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

    /// The probe's WhoAmI URL.
    pub fn whoami_url(&self) -> Result<url::Url, String> {
        self.ctx
            .crm_url
            .join(&self.ctx.target.spec.whoami)
            .map_err(|e| format!("whoami `{}`: {e}", self.ctx.target.spec.whoami))
    }

    /// Asks the server "who am I" with those of `cookies` that apply; the exchange is logged for
    /// artifacts. `authenticated()` on the answer says whether the session is alive.
    pub async fn probe_whoami(&mut self, cookies: &[JarCookie]) -> Result<crate::probe::ProbeResponse, String> {
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
        for person in self.people.values_mut() {
            if let Some(browser) = person.browser.take() {
                let _ = browser.close().await;
            }
        }
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
