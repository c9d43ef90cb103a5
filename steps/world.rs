//! The scenario's world: who is signed in where, what was saved before sign-out, and the glue that
//! turns observations into verdicts through the policy.

use std::collections::BTreeMap;
use std::sync::Arc;

use cucumber::event::ScenarioFinished;
use cucumber::gherkin;

use super::RunContext;
use crate::config::applicability::ScenarioShape;
use crate::config::target::AuthCookie;
use crate::engine::browser::{Browser, JarCookie, Profile};
use crate::judge::{Observation, VerdictContext};
pub use crate::observe::page::PageState;
use crate::observe::page::{self, PageMarkers};
use crate::observe::timeline::{Point, TimelineEvent};
use crate::report::ScenarioError;

/// One simulated person at one device: a browser and, when it is a process of its own, its
/// profile.
#[derive(Debug)]
pub struct Person {
    /// The profile (kept across "close the browser and reopen it"); `None` for a browser
    /// context of the pass's shared browser, which has no profile on disk.
    pub profile: Option<Profile>,
    /// The open browser, if any.
    pub browser: Option<Browser>,
}

/// The state of one scenario.
#[derive(Debug, cucumber::World)]
#[world(init = Self::new)]
pub struct LogoutWorld {
    /// The pass's shared context, handed over by the before hook (no global: see `begin`).
    run: Option<Arc<RunContext>>,
    /// People by the name the feature uses.
    pub people: BTreeMap<String, Person>,
    /// Who "she", "he" or "they" refers to: the last person named.
    pub current: Option<String>,
    /// The browser's whole jar just before sign-out (values kept only in memory, for replay).
    pub before_sign_out: Vec<JarCookie>,
    /// The jar as sign-out left it, read as soon as its page loaded: what a later step (opening
    /// the application again) set is told apart from what sign-out left by it.
    pub after_sign_out: Option<Vec<JarCookie>>,
    /// Where verdicts say they were reached.
    pub verdict_context: VerdictContext,
    /// Probe exchanges of this scenario, for artifacts.
    pub probe_log: Vec<String>,
    /// Where this scenario's time went (for bench/, never judged).
    pub timings: Timings,
    /// When the last sign-in showed the signed-in page: where a session's age is counted from.
    pub signed_in_at: Option<tokio::time::Instant>,
    /// A reply address on a foreign host that a sign-out URL was opened with, and that URL.
    pub foreign_reply: Option<(url::Url, url::Url)>,
    /// Why "Keep me signed in" could not be ticked at the last sign-in that asked for it (the
    /// deployment offers none): the check that needs it is then not applicable.
    pub kmsi_not_offered: Option<String>,
    /// After waiting for the session to expire: seconds since sign-in, whether the server still
    /// accepted the session, and the probe's evidence.
    pub expiry_probe: Option<(f64, bool, String)>,
    /// The browsers of this scenario block third-party cookies (a profile setting, so each gets
    /// a process of its own).
    pub third_party_cookies_blocked: bool,
    /// Each person's request recorder (see [`crate::engine::recorder`]), or why there is none.
    pub recorders: BTreeMap<String, Result<crate::engine::recorder::Recorder, NoRecording>>,
    /// What the browser requested while signed in, taken just before sign-out.
    pub recorded_before_sign_out: Option<Result<crate::engine::recorder::Recording, NoRecording>>,
    /// The run's slot this scenario holds while it works the browser; given back when it starts
    /// to wait on purpose, so waiting never holds up the scenarios that work.
    slot: Option<crate::engine::slots::Slot>,
    /// What the scenario takes from the run, from its tags: whether it reopens a browser (its
    /// people then get browser processes with a profile on disk, not contexts) and how many
    /// browsers it holds at once (the slots it takes when a slot stands for a browser).
    shape: ScenarioShape,
    /// The sign-in prompts of each person whose browser does not sign in to Windows
    /// automatically (answered through DevTools).
    pub auth_prompts: BTreeMap<String, crate::observe::auth_prompt::AuthPrompts>,
    /// Why this browser's sign-in prompt cannot be answered here (Firefox has no DevTools): the
    /// prompt scenario's checks are then not applicable.
    pub prompt_unavailable: Option<String>,
    /// The scenario's sign-out timeline so far (hops are taken from the recorders at each point).
    pub timeline: Vec<TimelineEvent>,
}

/// Why a person's requests were not recorded.
#[derive(Clone, Debug)]
pub enum NoRecording {
    /// The browser cannot be recorded here (a process of its own): checks that need the
    /// recording are not applicable, with this reason.
    Unavailable(String),
    /// Recording should have worked and did not: the check cannot judge (this error).
    Failed(String),
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
        Ok(LogoutWorld {
            run: None,
            verdict_context: VerdictContext::default(),
            people: BTreeMap::new(),
            current: None,
            before_sign_out: Vec::new(),
            after_sign_out: None,
            probe_log: Vec::new(),
            timings: Timings::default(),
            slot: None,
            shape: ScenarioShape::of_tags(&[]),
            signed_in_at: None,
            foreign_reply: None,
            kmsi_not_offered: None,
            expiry_probe: None,
            third_party_cookies_blocked: false,
            recorders: BTreeMap::new(),
            recorded_before_sign_out: None,
            auth_prompts: BTreeMap::new(),
            prompt_unavailable: None,
            timeline: Vec::new(),
        })
    }

    /// The pass's context. Set by [`LogoutWorld::begin`] before any step runs.
    pub fn ctx(&self) -> &Arc<RunContext> {
        self.run
            .as_ref()
            .expect("the before hook hands every world its run context")
    }

    /// Opens a browser for a new `person`: a fresh context of the pass's shared browser when
    /// that isolates them as well as a process would, else a process on a fresh profile (the
    /// scenario reopens the browser or restores the last session, or the person's browser needs
    /// a driver of its own: a Kerberos user with their own credential cache).
    pub async fn open_browser(
        &mut self,
        person: &str,
        restore_last_session: bool,
    ) -> Result<Person, String> {
        self.room_for_a_browser()?;
        let host = self.ctx().host.clone();
        let shareable = !restore_last_session
            && !self.shape.reopens_browser
            && !self.third_party_cookies_blocked
            && !self.ctx().user_drivers.contains_key(person);
        match host {
            Some(host) if shareable => {
                let t = std::time::Instant::now();
                let browser = host
                    .open()
                    .await
                    .map_err(|e| format!("cannot open a browser context for {person}: {e}"));
                self.timings.browser_launch += t.elapsed();
                let browser = browser?;
                self.bound_waits(&browser).await?;
                let recorder = match browser.devtools() {
                    Some((cdp, context)) => {
                        crate::engine::recorder::Recorder::start(cdp, context, &self.ctx().crm_url)
                            .await
                            .map_err(|e| {
                                NoRecording::Failed(format!(
                                    "cannot record {person}'s requests through DevTools: {e}"
                                ))
                            })
                    }
                    None => Err(NoRecording::Unavailable(UNRECORDABLE_CONTEXT.into())),
                };
                self.recorders.insert(person.to_string(), recorder);
                Ok(Person {
                    profile: None,
                    browser: Some(browser),
                })
            }
            _ => {
                self.recorders.insert(
                    person.to_string(),
                    Err(NoRecording::Unavailable(UNRECORDABLE.into())),
                );
                let mut profile =
                    Profile::new().map_err(|e| format!("cannot make a browser profile: {e}"))?;
                if self.third_party_cookies_blocked {
                    profile = profile.blocking_third_party_cookies();
                }
                let browser = self
                    .launch_browser(person, &profile, restore_last_session)
                    .await?;
                Ok(Person {
                    profile: Some(profile),
                    browser: Some(browser),
                })
            }
        }
    }

    /// What `person`'s browser requested inside the organization URL since it opened (or since
    /// the last time this was taken), once the requests it is waiting on have their answers (up
    /// to 3 s).
    pub async fn take_recording(
        &mut self,
        person: &str,
    ) -> Result<crate::engine::recorder::Recording, NoRecording> {
        match self.recorders.get(person) {
            Some(Ok(recorder)) => {
                recorder.settle(std::time::Duration::from_secs(3)).await;
                Ok(recorder.take())
            }
            Some(Err(why)) => Err(why.clone()),
            None => Err(NoRecording::Failed(format!(
                "{person}'s browser was not opened by this scenario"
            ))),
        }
    }

    /// Takes every person's hops since the last call into the timeline.
    pub fn drain_trails(&mut self) {
        for (person, recorder) in &self.recorders {
            if let Ok(recorder) = recorder {
                self.timeline
                    .extend(
                        recorder
                            .drain_trail()
                            .into_iter()
                            .map(|hop| TimelineEvent::Request {
                                person: person.clone(),
                                hop,
                                sent_auth: false,
                            }),
                    );
            }
        }
    }

    /// Records `person`'s jar `jar` at `point` in the timeline, after the hops that led there.
    pub fn mark_jar(&mut self, person: &str, point: Point, jar: &[JarCookie]) {
        self.drain_trails();
        // By name on every host where the entry names none: the identity provider's session
        // cookie often bears the application's (AD FS's MSISAuth), and the timeline must show
        // it surviving a sign-out that never reached AD FS.
        let entries = &self.ctx().target.pages.auth_cookies;
        let event = crate::observe::timeline::jar_event(person, point, jar, |c| {
            entries.iter().any(|e| {
                let entry = AuthCookie::parse(e);
                entry.matches_name(&c.name) && entry.matches_host(&c.domain).unwrap_or(true)
            })
        });
        self.timeline.push(event);
    }

    /// Reads `person`'s jar and records it at `point`. A jar that cannot be read leaves the point
    /// out: the timeline is a help, never a reason to change what the scenario judges.
    pub async fn mark(&mut self, person: &str, point: Point) {
        if let Ok(jar) = self.jar(person).await {
            self.mark_jar(person, point, &jar);
        }
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
            self.ctx().webdriver_for(person),
            &self.ctx().launch,
            profile,
            restore_last_session,
        )
        .await
        .map_err(|e| format!("cannot start a browser for {person}: {e}"));
        self.timings.browser_launch += t.elapsed();
        let browser = browser?;
        self.bound_waits(&browser).await?;
        Ok(browser)
    }

    /// Every wait of the browser's WebDriver server (a page load, a click that navigates, a
    /// script) ends by the page timeout plus [`DRIVER_MARGIN`], never by the driver's own
    /// defaults (chromedriver: 300 s).
    async fn bound_waits(&self, browser: &Browser) -> Result<(), String> {
        let limit = self.ctx().page_timeout.saturating_add(DRIVER_MARGIN);
        browser
            .bound_waits(limit)
            .await
            .map_err(|e| format!("cannot set the browser's page-load timeout: {e}"))
    }

    /// Before hook: hands the world its pass's context (cucumber builds worlds with no
    /// arguments; the hook carries the context, as cucumber-rs's own `tests/wait.rs` does) and
    /// names the scenario for verdicts and snapshots.
    ///
    /// The scenario first takes one of the run's slots (`--concurrency`); a scenario that
    /// measures a timeout waits far longer than it works, so it is served first and gives its
    /// slot back when its wait starts ([`LogoutWorld::start_waiting`]).
    pub async fn begin(
        &mut self,
        ctx: Arc<RunContext>,
        feature: &gherkin::Feature,
        rule: Option<&gherkin::Rule>,
        scenario: &gherkin::Scenario,
    ) {
        self.verdict_context = VerdictContext {
            feature: feature.name.clone(),
            scenario: scenario.name.clone(),
            mode: ctx.target.pass_mode(),
            browser: ctx.browser_name.clone(),
            target: ctx.target.spec.name.clone(),
        };
        let tags = feature
            .tags
            .iter()
            .chain(rule.into_iter().flat_map(|r| &r.tags))
            .chain(&scenario.tags);
        self.shape = ScenarioShape::of_tags(tags);
        let priority = if self.shape.waits {
            crate::engine::slots::Priority::Waits
        } else {
            crate::engine::slots::Priority::Normal
        };
        // A grid's slots are browsers: a scenario takes all the browsers it will hold at once
        // together, so two scenarios never each hold one and wait for a second.
        let slots = if ctx.slot_per_browser {
            self.shape.browsers_at_once
        } else {
            1
        };
        self.slot = Some(ctx.slots.acquire_many(priority, slots).await);
        self.run = Some(ctx);
        self.timings = Timings::default();
    }

    /// Gives back the scenario's slot: from here on it waits on purpose, and its few probes
    /// must not queue behind other scenarios' browser work (that would skew the measurement).
    pub fn start_waiting(&mut self) {
        // A grid's slot is the browser itself, which stays open while the scenario waits.
        if !self.run.as_ref().is_some_and(|ctx| ctx.slot_per_browser) {
            self.slot = None;
        }
    }

    /// When slots stand for browsers, a scenario opens no more browsers than it took slots for:
    /// one more would wait in the grid's queue for a slot this scenario itself holds.
    fn room_for_a_browser(&self) -> Result<(), String> {
        let ctx = self.ctx();
        let open = self.people.values().filter(|p| p.browser.is_some()).count();
        let held = self.slot.as_ref().map_or(0, |s| s.count());
        if ctx.slot_per_browser && open >= held {
            return Err(format!(
                "this scenario holds {} browsers at once, but the run has only {held} slot(s) \
                 for browsers (the grid's free slots at --webdriver {}, or --concurrency): give \
                 the grid more slots for the browser, or raise --concurrency; a scenario that \
                 holds two browsers at once is tagged @two-browsers",
                self.shape.browsers_at_once, ctx.webdriver_url
            ));
        }
        Ok(())
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

    /// The target's authentication cookies among `jar`: those matching an entry of the target's
    /// `auth_cookies` (`MSISAuth*` covers the chunks): sent to the organization URL, or, for an
    /// entry `name@host`, to that host.
    pub fn auth_cookies<'a>(&self, jar: &'a [JarCookie]) -> Vec<&'a JarCookie> {
        jar.iter()
            .filter(|c| {
                self.ctx()
                    .target
                    .pages
                    .auth_cookies
                    .iter()
                    .any(|e| self.is_auth_cookie(&AuthCookie::parse(e), c))
            })
            .collect()
    }

    /// The entries of the target's `auth_cookies` that match no cookie of `jar`.
    pub fn unmatched_auth_cookies<'a>(&'a self, jar: &[JarCookie]) -> Vec<&'a str> {
        self.ctx()
            .target
            .pages
            .auth_cookies
            .iter()
            .filter(|e| {
                let entry = AuthCookie::parse(e);
                !jar.iter().any(|c| self.is_auth_cookie(&entry, c))
            })
            .map(String::as_str)
            .collect()
    }

    fn is_auth_cookie(&self, entry: &AuthCookie<'_>, cookie: &JarCookie) -> bool {
        entry.matches_name(&cookie.name)
            && entry
                .matches_host(&cookie.domain)
                .unwrap_or_else(|| cookie.applies_to(&self.ctx().crm_url))
    }

    /// CRM's start page (the target's `start`, relative to the organization URL).
    pub fn start_url(&self) -> Result<url::Url, String> {
        let start = &self.ctx().target.pages.start;
        self.ctx()
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
        self.ctx()
            .crm_url
            .join(&self.ctx().target.spec.whoami)
            .map_err(|e| format!("whoami `{}`: {e}", self.ctx().target.spec.whoami))
    }

    /// Asks the server "who am I" with those of `cookies` that apply; the exchange is logged for
    /// artifacts. `authenticated()` on the answer says whether the session is alive.
    pub async fn probe_whoami(
        &mut self,
        cookies: &[JarCookie],
    ) -> Result<crate::engine::probe::ProbeResponse, String> {
        let url = self.whoami_url()?;
        let response = self.ctx().probe.get_with_cookies(&url, cookies).await?;
        self.probe_log.push(response.to_string());
        Ok(response)
    }

    /// Whether `person`'s browser shows CRM signed in right now (the target's signed-in marker).
    pub async fn shows_app(&self, person: &str) -> Result<bool, String> {
        self.browser(person)?
            .has(&self.ctx().target.pages.signed_in)
            .await
            .map_err(|e| e.to_string())
    }

    /// Waits (up to the page timeout) until `person`'s page has settled (see [`page::settle`])
    /// and says what it shows; a page that did not settle in time is not judged.
    pub async fn settle_page(&self, person: &str) -> Result<PageState, String> {
        let markers = self.markers()?;
        let browser = self.browser(person)?;
        let state = page::settle(browser, &markers, self.ctx().page_timeout).await;
        // AD FS refusing the browser says nothing about sign-out: not judged, never a verdict.
        if state.adfs_loop {
            return Err(page::ADFS_LOOP.to_string());
        }
        if let Some(lost) = state.session_lost {
            return Err(format!("could not judge: {lost}"));
        }
        Ok(state.settled_or_not_judged(self.ctx().page_timeout)?)
    }

    /// The target's page markers.
    pub fn markers(&self) -> Result<PageMarkers, String> {
        let pages = &self.ctx().target.pages;
        Ok(PageMarkers {
            signed_in: pages.signed_in.clone(),
            sign_in_form: pages.username_input.clone(),
            signed_out: regex::Regex::new(&pages.signed_out_text).map_err(|e| e.to_string())?,
            data: pages.data.clone(),
            auto_post: pages.auto_post.clone(),
        })
    }

    /// Judges an observation through the policy and records the verdict. A violated rule does
    /// not stop the scenario: every check after it is judged too, and the scenario's result is
    /// decided once, at its end ([`LogoutWorld::finish`]). A rule the policy leaves out is not
    /// judged. The only error is an outcome the rule does not have (a harness bug).
    pub fn judge(&mut self, observation: Observation) -> Result<(), String> {
        if let Some(verdict) = self
            .ctx()
            .policy
            .judge(&observation, &self.verdict_context)?
        {
            self.ctx().findings.verdict(verdict);
        }
        Ok(())
    }

    /// Records that `rule` cannot be checked in this scenario here, and why: not a failure, and
    /// no change to the exit code (the scenario's other checks are judged as usual). Nothing is
    /// recorded when the policy leaves the rule out.
    pub fn not_applicable(&self, rule: crate::judge::RuleId, reason: &str) {
        if self.ctx().policy.rule(rule).is_none() {
            return;
        }
        self.ctx()
            .findings
            .not_applicable(crate::report::NotApplicable {
                context: self.verdict_context.clone(),
                reason: format!("check {rule}: {reason}"),
            });
    }

    /// After hook: decides the scenario's result once, from its verdicts and whether a step
    /// could not observe; prints one line for it; leaves artifacts of a failed one; and closes
    /// every browser (so none outlives its scenario, whatever happened).
    pub async fn finish(&mut self, finished: &ScenarioFinished) {
        let Some(ctx) = self.run.clone() else {
            return;
        };
        let not_observed = match finished {
            ScenarioFinished::StepFailed(_, _, err) => Some(err.to_string()),
            ScenarioFinished::BeforeHookFailed(_) => Some("the before hook failed".to_string()),
            // fail_on_skipped only changes what cucumber's writer prints: a step no definition
            // matches must not pass silently here either.
            ScenarioFinished::StepSkipped => {
                Some("a step matches no step definition (a typo in the feature?)".to_string())
            }
            ScenarioFinished::StepPassed => None,
        };
        // A browser whose session is gone (its grid node was lost, it died) may have made the
        // steps observe nothing and judge that: nothing this scenario judged stands.
        let mut not_observed = not_observed;
        for person in self.people.values() {
            if let Some(browser) = &person.browser
                && let Some(lost) = browser.lost().await
            {
                ctx.findings.withdraw(&self.verdict_context);
                not_observed = Some(format!("could not judge: {lost}"));
                break;
            }
        }
        let (judged, violated) = ctx.findings.verdicts_of(&self.verdict_context);
        let c = &self.verdict_context;
        let label = format!("\"{}\" ({}/{})", c.scenario, c.mode, c.browser);
        let line = match &not_observed {
            Some(message) => {
                // cucumber wraps a step's error as a panic; the reader needs only the error.
                let message = message
                    .strip_prefix("Step panicked. Captured output: ")
                    .unwrap_or(message);
                // An error may quote a URL or page text that carries a password.
                let message = &crate::config::secrets::redact_known(message);
                // The failed step is not in this event: the run names it from cucumber's events
                // once the scenarios have ended (see `step_log`).
                ctx.findings.error(ScenarioError {
                    context: self.verdict_context.clone(),
                    step: String::new(),
                    message: message.to_string(),
                });
                format!("NOT JUDGED {label}: {}", first_line(message))
            }
            None if violated > 0 => {
                format!("FAIL       {label}: {violated} of {judged} verdicts violated")
            }
            None => {
                ctx.findings.scenario_passed();
                format!("PASS       {label}: {judged} verdicts held")
            }
        };
        ctx.progress.scenario_done(&line, violated);
        self.drain_trails();
        let mut record = crate::report::ScenarioRecord::new(self.verdict_context.clone());
        record.timeline = std::mem::take(&mut self.timeline);
        crate::observe::timeline::mark_auth_sent(&mut record.timeline);
        for (person, recorder) in &self.recorders {
            if let Err(NoRecording::Unavailable(why) | NoRecording::Failed(why)) = recorder {
                record.timeline_gaps.push(format!("{person}: {why}"));
            }
        }
        if not_observed.is_some() || violated > 0 {
            record.screenshots = crate::report::artifacts::save(
                &self.ctx().artifacts,
                &self.verdict_context,
                self.people
                    .iter()
                    .filter_map(|(name, p)| Some((name.as_str(), p.browser.as_ref()?))),
                &self.probe_log,
                ctx.page_timeout + DRIVER_MARGIN,
            )
            .await;
            ctx.findings.artifacts_in(&ctx.artifacts);
        }
        ctx.findings.scenario(record);
        let closing = std::time::Instant::now();
        for person in self.people.values_mut() {
            if let Some(browser) = person.browser.take() {
                let _ = browser.close().await;
            }
        }
        self.timings.browser_launch += closing.elapsed();
        self.slot = None;
        let t = &self.timings;
        ctx.findings.timing(crate::report::ScenarioTiming {
            context: self.verdict_context.clone(),
            total_s: t.started.elapsed().as_secs_f64(),
            browser_launch_s: t.browser_launch.as_secs_f64(),
            navigation_s: t.navigation.as_secs_f64(),
            deliberate_wait_s: t.deliberate_wait.as_secs_f64(),
        });
    }
}

/// Why a browser that is a process of its own is not recorded.
/// What a browser's WebDriver server gets beyond the page timeout before it gives up on a page
/// load itself: the harness's own waits (which read the page as it settles) end first, and say
/// what they saw; the driver's bound only keeps a request that never answers from holding the
/// step for the driver's default of five minutes.
const DRIVER_MARGIN: std::time::Duration = std::time::Duration::from_secs(5);

const UNRECORDABLE: &str = "the browser is a process of its own (--isolation process, \
    --webdriver, or a scenario that reopens the browser), whose DevTools events WebDriver does \
    not carry: the requests it made could not be recorded";

/// Why a browser context without DevTools (a Firefox user context) has no recording.
const UNRECORDABLE_CONTEXT: &str = "the browser has no Chrome DevTools Protocol (Firefox), \
    whose events record the requests it makes: the requests it made could not be recorded";

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}
