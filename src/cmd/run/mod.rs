//! A run: configuration -> (embedded emulator) -> browsers -> scenarios -> verdicts -> reports.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cucumber::World as _;
use cucumber::tag::Ext as _;

use crate::config::applicability;
use crate::engine::browser::{
    BrowserError, BrowserKind, Driver, Isolation, LaunchOptions, SharedBrowser,
};
use crate::engine::embedded::{Embedded, EmbeddedOptions, Timeouts};
use crate::judge::Policy;

use crate::config::applicability::TIMEOUT_TAG;
use crate::config::target::{AdminAction, AuthMode, CrmLocation, Target, Ui};
use crate::engine::trust;
use crate::report::step_log::{ScenarioSteps, StepLog, failed_steps};
use crate::report::{self, Collector, Findings};
use crate::steps::RunContext;

pub mod error;
mod features;
pub mod options;
mod passes;

pub use error::*;
use features::*;
pub use options::*;
use passes::*;

/// The outcome of a run.
#[derive(Debug)]
pub struct RunOutcome {
    /// What was found.
    pub findings: Findings,
    /// 0, 1 or 2.
    pub exit_code: crate::report::ExitCode,
}

/// What the configuration stage produced: everything checked before a browser starts.
struct Prepared {
    policy: Policy,
    file_target: Option<Target>,
    selection: Selection,
    features: ParsedPaths,
}

/// Runs the features as asked, as a pipeline: check the configuration, start the shared driver,
/// then per pass (one target and mode) plan which scenarios apply, open the target, run the
/// scenarios; then write the reports. Errors are "could not judge" (exit 2).
pub async fn run(mut opts: RunOptions) -> Result<RunOutcome, RunError> {
    let started = std::time::Instant::now();
    let prepared = prepare(&opts)?;
    let isolation = Isolation::choose(opts.isolation, opts.webdriver.is_some());
    let (shared_driver, shared_url) = start_shared_driver(&opts.webdriver, opts.browser).await?;
    if let Some(url) = &opts.webdriver {
        opts.concurrency = webdriver_concurrency(url, &opts).await?;
    }
    let browsers = trust::BrowserSetup {
        new_session_timeout: opts.new_session_timeout,
        kind: opts.browser,
        headed: opts.headed,
        binary: shared_driver
            .as_ref()
            .map(|d| d.browser_binary().to_path_buf()),
        webdriver: opts.webdriver.clone(),
        shared_url,
    };

    let findings = Arc::new(Collector::default());
    // An interrupted run still writes what it judged (report::write_interrupted).
    report::set_in_flight(
        findings.clone(),
        report::ReportPaths {
            junit: opts.junit.clone(),
            json: opts.json.clone(),
            html: opts.html.clone(),
            redact_hosts: opts.redact_hosts,
        },
    );
    // The browsers of a local run write their profiles in the run's temp folder.
    if opts.webdriver.is_none()
        && let Some(why) = crate::engine::rundir::low_space()
    {
        findings.note(why);
    }
    let mut scenarios_selected = 0;
    let mut planned = Vec::new();
    let mut all_passes = passes(&opts, prepared.file_target.as_ref());
    if opts.trace_knobs {
        all_passes = all_passes
            .into_iter()
            .flat_map(|pass| pass_per_scenario(&prepared, pass))
            .collect();
    }
    for pass in &mut all_passes {
        learn_sign_in_chain(&mut pass.target).await?;
    }
    for pass in all_passes {
        let plan = plan_pass(&prepared, &pass, &opts, &findings)?;
        scenarios_selected += plan.selected;
        if plan.runnable > 0 {
            planned.push((pass, plan.runnable));
        }
    }
    // Every pass runs at once, each against its own emulator: scenarios that wait out a
    // timeout start at the beginning beside the others, and the slots keep the browser work
    // at --concurrency. A pass that cannot open its target ends the run (exit 2).
    let slots = crate::engine::slots::Slots::new(opts.concurrency);
    // One progress line for the whole run (every pass), not one summary per pass.
    let progress = Arc::new(crate::report::progress::RunProgress::new(
        planned.iter().map(|(_, runnable)| runnable).sum(),
        crate::report::progress::ProgressLine::stderr(),
    ));
    let ticker = tokio::spawn({
        let progress = progress.clone();
        async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                progress.tick();
            }
        }
    });
    let slot_per_browser = opts.webdriver.is_some();
    // A panic in a step is a harness bug that cucumber reports as a failed step, which the after
    // hook turns into "not judged"; the process's panic hook (main) names it on stderr.
    let ran = run_passes(
        &prepared,
        &planned,
        &opts,
        &browsers,
        isolation,
        |scenarios| PassShare {
            findings: findings.clone(),
            slots: slots.clone(),
            progress: progress.clone(),
            slot_per_browser,
            isolation,
            scenarios,
        },
    )
    .await;
    ticker.abort();
    progress.finish();
    // A browser whose close failed (its grid node went away meanwhile, say) may still hold a
    // grid slot: end every session the run opened elsewhere, whatever happened.
    for why in crate::engine::sessions::end_open(Duration::from_secs(10)).await {
        findings.note(format!("a WebDriver session may be left open: {why}"));
    }
    ran?;
    drop(shared_driver);
    if scenarios_selected == 0 {
        return Err(nothing_selected(&opts));
    }
    // A signal handler that got here first writes the interrupted reports and ends the process.
    let Some(_claim) = report::files::claim_in_flight() else {
        return std::future::pending().await;
    };
    let mut findings = findings.take();
    findings.cost = report::RunCost {
        wall_s: started.elapsed().as_secs_f64(),
        harness_cpu_s: own_cpu_seconds(),
    };
    write_reports(&opts, findings)
}

/// Which of the run's inputs (the target file, the policy, a feature file) is at `path`, if one
/// is: a report written there would destroy it.
fn run_input_at(opts: &RunOptions, path: &Path) -> Option<&'static str> {
    let at = std::fs::canonicalize(path).ok()?;
    let same = |input: &Path| std::fs::canonicalize(input).ok().as_ref() == Some(&at);
    if opts.target.as_deref().is_some_and(same) {
        return Some("target file");
    }
    if same(&opts.policy) {
        return Some("policy file");
    }
    let feature = opts.features.iter().any(|f| {
        same(f)
            || (f.is_dir()
                && std::fs::read_dir(f)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .any(|e| same(&e.path())))
    });
    feature.then_some("feature file")
}

/// Stage 1: the configuration, checked whole before anything starts.
fn prepare(opts: &RunOptions) -> Result<Prepared, RunError> {
    let policy = Policy::load(&opts.policy)?;
    let file_target = opts.target.as_deref().map(Target::load).transpose()?;
    if let Some(t) = &file_target {
        t.preflight()?;
    }
    for (flag, path) in [
        ("--junit", &opts.junit),
        ("--json", &opts.json),
        ("--html", &opts.html),
    ] {
        // The report in --artifacts goes into a folder the run makes (as failed scenarios do).
        let made_by_the_run = path.as_deref().and_then(Path::parent) == opts.artifacts.as_deref()
            && opts.artifacts.as_deref().is_some_and(|d| !d.exists());
        if let Some(path) = path
            && !made_by_the_run
        {
            report::check_writable(path).map_err(|e| RunError::Usage(format!("{flag}: {e}")))?;
            if let Some(input) = run_input_at(opts, path) {
                return Err(RunError::Usage(format!(
                    "{flag} {} is the run's own {input}: the report would overwrite it; name \
                     another file",
                    path.display()
                )));
            }
        }
    }
    let reports = [
        ("--junit", &opts.junit),
        ("--json", &opts.json),
        ("--html", &opts.html),
    ];
    for (i, (a, pa)) in reports.iter().enumerate() {
        for (b, pb) in &reports[i + 1..] {
            if let (Some(pa), Some(pb)) = (pa, pb)
                && std::path::absolute(pa).ok() == std::path::absolute(pb).ok()
            {
                return Err(RunError::Usage(format!(
                    "{a} and {b} both name {}: one report would replace the other; name two files",
                    pb.display()
                )));
            }
        }
    }
    if opts.concurrency == 0 {
        return Err(RunError::Usage("--concurrency must be at least 1".into()));
    }
    for f in &opts.features {
        if !f.exists() {
            return Err(RunError::Usage(format!(
                "no feature file or directory at {}",
                f.display()
            )));
        }
    }
    let selection = Selection {
        tags: opts
            .tags
            .as_deref()
            .map(|t| {
                tag_expression_size(t)?;
                t.parse::<cucumber::gherkin::tagexpr::TagOperation>()
                    .map_err(|e| {
                        RunError::Usage(format!("--tags `{t}` is not a tag expression: {e}"))
                    })
            })
            .transpose()?,
        name: opts
            .name
            .as_deref()
            .map(|n| {
                regex::Regex::new(n).map_err(|e| RunError::Usage(format!("--name `{n}`: {e}")))
            })
            .transpose()?,
    };
    let features = parse_features(&opts.features)?;
    if file_target.is_some() && !opts.faults.is_empty() {
        return Err(RunError::Usage(
            "--fault applies to the embedded emulator only, not to a target file".into(),
        ));
    }
    if file_target.is_some() && opts.trace_knobs {
        return Err(RunError::Usage(
            "--trace-knobs applies to the embedded emulator only, not to a target file".into(),
        ));
    }
    if file_target.is_some() && opts.sim_access_token_management.is_some() {
        return Err(RunError::Usage(
            "--sim-access-token-management applies to the embedded emulator only; a target file \
             states its own `access_token_management: true|false`"
                .into(),
        ));
    }
    Ok(Prepared {
        policy,
        file_target,
        selection,
        features,
    })
}

/// Stage 2: one chromedriver for every browser that needs no special environment (IWA passes
/// start their own, one per user), or the `--webdriver` URL.
pub(crate) async fn start_shared_driver(
    webdriver: &Option<String>,
    kind: BrowserKind,
) -> Result<(Option<Driver>, String), RunError> {
    let driver = match webdriver {
        // Reached once here, so an unreachable grid is one error naming its URL, not one per
        // scenario.
        Some(url) => {
            crate::engine::grid::status(url)
                .await
                .map_err(RunError::Grid)?;
            None
        }
        None => Some(
            Driver::start_for(kind, &[])
                .await
                .map_err(RunError::Browser)?,
        ),
    };
    let url = webdriver
        .clone()
        .or_else(|| driver.as_ref().map(|d| d.url().to_string()))
        .unwrap_or_default();
    Ok((driver, url))
}

/// The run's concurrency with `--webdriver URL`, told in the run's first line: a Selenium
/// Grid's free slots for the browser when `--concurrency` was not given, else `--concurrency`.
async fn webdriver_concurrency(url: &str, opts: &RunOptions) -> Result<usize, RunError> {
    let server = crate::engine::grid::status(url)
        .await
        .map_err(RunError::Grid)?;
    let browser_name = opts.browser.browser_name();
    let (concurrency, how) = match &server {
        crate::engine::grid::Server::Grid(grid) if opts.concurrency_from_grid => {
            let n = crate::engine::grid::concurrency_from(url, grid, browser_name)
                .map_err(RunError::Grid)?;
            (
                n,
                format!("the grid's free `{browser_name}` slots in its /status"),
            )
        }
        _ => (opts.concurrency, "--concurrency".to_string()),
    };
    let what = match &server {
        crate::engine::grid::Server::Grid(grid) => format!(
            "Selenium Grid{} at {url}: {}",
            grid.version()
                .and_then(|v| v.split_whitespace().next())
                .map(|v| format!(" {v}"))
                .unwrap_or_default(),
            grid.describe()
        ),
        crate::engine::grid::Server::Plain => format!("WebDriver server at {url} (no grid status)"),
    };
    println!(
        "webdriver: {}; concurrency {concurrency} (from {how})",
        crate::config::secrets::redact_known(&what)
    );
    Ok(concurrency)
}

/// The tag expression parser recurses once per parenthesis and operator: a bound keeps a
/// hostile or generated `--tags` from overflowing the stack (an abort, not an exit code).
const MAX_TAG_EXPRESSION: usize = 2_000;
const MAX_TAG_NESTING: usize = 32;

fn tag_expression_size(t: &str) -> Result<(), RunError> {
    let mut depth = 0usize;
    let mut deepest = 0usize;
    for c in t.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        deepest = deepest.max(depth);
    }
    if t.len() > MAX_TAG_EXPRESSION || deepest > MAX_TAG_NESTING {
        return Err(RunError::Usage(format!(
            "--tags is {} characters with parentheses nested {deepest} deep; a tag expression \
             may have at most {MAX_TAG_EXPRESSION} characters and {MAX_TAG_NESTING} levels of \
             parentheses (e.g. `@sign_out and not @slow`)",
            t.len()
        )));
    }
    Ok(())
}

/// Stage 2b, for a real target: where its start page sends a browser without a session, which
/// tells whether the sign-in goes through an identity provider on another host (the single
/// sign-on scenarios need one) and in what protocol (WS-Federation's `wreply` check needs that
/// one). Printed once, so the user sees what the harness took the deployment for.
async fn learn_sign_in_chain(target: &mut Target) -> Result<(), RunError> {
    let CrmLocation::Url(crm) = &target.spec.crm else {
        return Ok(());
    };
    let start = crm
        .join(&target.pages.start)
        .map_err(|e| RunError::Target(format!("start page `{}`: {e}", target.pages.start)))?;
    let probe = crate::engine::probe::Probe::new(&trust::probe_trust(target)?)
        .map_err(|e| RunError::Target(e.to_string()))?;
    let chain = crate::observe::sign_in_chain::follow(&probe, &start).await;
    target.sign_in_chain = Some(chain);
    match target.identity_provider() {
        Some(idp) => println!("identity provider: {idp}"),
        None => println!(
            "identity provider: none ({})",
            target.no_identity_provider_seen()
        ),
    }
    Ok(())
}

/// What a pass will run: how many scenarios the selection picks, and how many of those the
/// target can support (the others are recorded as not applicable, with their reason).
struct PassPlan {
    selected: usize,
    runnable: usize,
}

/// Stage 3: which selected scenarios apply to the target; the others are recorded now.
fn plan_pass(
    prepared: &Prepared,
    pass: &Pass,
    opts: &RunOptions,
    findings: &Collector,
) -> Result<PassPlan, RunError> {
    let split = pass.split();
    let mut plan = PassPlan {
        selected: 0,
        runnable: 0,
    };
    for (path, fs) in &prepared.features {
        for feature in fs {
            for (rule, scenario) in scenarios_of(feature) {
                if !prepared
                    .selection
                    .selects(feature, rule, scenario, pass.mode, split)
                    || !pass.takes(feature, scenario)
                {
                    continue;
                }
                plan.selected += 1;
                let needs =
                    applicability::needs_of(all_tags(feature, rule, scenario)).map_err(|e| {
                        RunError::Usage(format!(
                            "{}: scenario \"{}\": {e}",
                            feature.path.as_deref().unwrap_or(path.as_path()).display(),
                            scenario.name
                        ))
                    })?;
                match applicability::unmet(&pass.target, &needs) {
                    None => plan.runnable += 1,
                    Some(reason) => findings.not_applicable(report::NotApplicable {
                        context: crate::judge::VerdictContext {
                            feature: feature.name.clone(),
                            scenario: scenario.name.clone(),
                            mode: pass.target.pass_mode(),
                            browser: opts.browser.to_string(),
                            target: pass.target.spec.name.clone(),
                        },
                        reason,
                    }),
                }
            }
        }
    }
    Ok(plan)
}

/// The target of a pass, reachable: how the browsers and the probe trust and find it, the
/// drivers its people use, the administrator's action, and the embedded emulator when it is one.
struct OpenedTarget {
    setup: trust::PassSetup,
    admin_end_sessions: Option<AdminAction>,
    other_relying_party: Option<crate::config::target::OtherRelyingParty>,
    access_token_management: Option<bool>,
    embedded: Option<Embedded>,
}

/// Stage 4: start the embedded emulator (timeout scenarios get one of their own, with the
/// target's short timeouts; every other scenario gets CRM's defaults), then set up trust, name
/// resolution and drivers for the target and check that it answers ([`trust::prepare_pass`]).
async fn open_target(
    pass: &Pass,
    opts: &RunOptions,
    browsers: &trust::BrowserSetup,
) -> Result<OpenedTarget, RunError> {
    let target = &pass.target;
    let embedded = match &target.spec.crm {
        CrmLocation::Embedded => {
            // The emulator runs with --sim-* where given, else with the declared values; the
            // passes without timeout scenarios keep CRM's defaults, unless a target file is the
            // only pass.
            let sim = &opts.sim_timeouts;
            let timeouts = if pass.timeout_scenarios || opts.target.is_some() {
                Timeouts {
                    idle: sim.idle.or(target.spec.timeouts.idle),
                    absolute: sim.absolute.or(target.spec.timeouts.absolute),
                    forms_ticket: sim.forms_ticket,
                }
            } else {
                Timeouts::default()
            };
            let access_token_management = opts
                .sim_access_token_management
                .or(target.spec.access_token_management)
                .unwrap_or(false);
            Some(
                Embedded::start(
                    pass.mode,
                    &EmbeddedOptions {
                        ui: target.spec.ui,
                        faults: opts.faults.clone(),
                        timeouts,
                        access_token_management,
                        ..EmbeddedOptions::default()
                    },
                )
                .await
                .map_err(|e| RunError::Emulator(e.to_string()))?,
            )
        }
        CrmLocation::Url(_) => None,
    };
    let setup = trust::prepare_pass(target, pass.mode, embedded.as_ref(), browsers).await?;
    let admin_end_sessions = match &embedded {
        Some(e) => Some(e.admin_end_sessions()),
        None => target.spec.admin.end_sessions.clone(),
    };
    let other_relying_party = match &embedded {
        Some(e) => Some(e.other_relying_party()),
        None => target.spec.other_relying_party.clone(),
    };
    let access_token_management = match &embedded {
        Some(e) => Some(e.access_token_management()),
        None => target.spec.access_token_management,
    };
    Ok(OpenedTarget {
        setup,
        admin_end_sessions,
        other_relying_party,
        access_token_management,
        embedded,
    })
}

/// What the passes of a run share, and how many scenarios this one runs.
struct PassShare {
    findings: Arc<Collector>,
    slots: crate::engine::slots::Slots,
    progress: Arc<crate::report::progress::RunProgress>,
    slot_per_browser: bool,
    isolation: Isolation,
    scenarios: usize,
}

/// Stages 4 and 5 for every pass: open every pass's target first, so that one host browser can
/// serve the browser contexts of every pass whose browsers it can launch alike (its flags then
/// trust every pass's emulator, see [`LaunchOptions::merge_for_host`]): one launch and one idle
/// browser for the run instead of one per pass. Then every pass runs at once, and the shared
/// hosts end after the last pass.
async fn run_passes(
    prepared: &Prepared,
    planned: &[(Pass, usize)],
    opts: &RunOptions,
    browsers: &trust::BrowserSetup,
    isolation: Isolation,
    share: impl Fn(usize) -> PassShare,
) -> Result<(), RunError> {
    let opened = futures::future::try_join_all(
        planned
            .iter()
            .map(|(pass, _)| open_target(pass, opts, browsers)),
    )
    .await?;
    // Which shared host serves each pass (by index), and how many scenarios each host serves.
    let mut hosts: Vec<(LaunchOptions, usize)> = Vec::new();
    let mut host_of = Vec::new();
    for ((_, runnable), o) in planned.iter().zip(&opened) {
        let launch = &o.setup.launch;
        let shareable = isolation == Isolation::Context
            && browsers.webdriver.is_none()
            && o.setup.webdriver_url == browsers.shared_url
            && launch.can_host_contexts();
        if !shareable {
            host_of.push(None);
            continue;
        }
        // The first host this pass's browsers can join, else a new one.
        let joined = hosts.iter_mut().position(|(merged, n)| {
            let Some(m) = merged.merge_for_host(launch) else {
                return false;
            };
            (*merged, *n) = (m, *n + runnable);
            true
        });
        host_of.push(Some(joined.unwrap_or_else(|| {
            hosts.push((launch.clone(), *runnable));
            hosts.len() - 1
        })));
    }
    let hosts: Vec<Arc<SharedBrowser>> = hosts
        .into_iter()
        .map(|(launch, scenarios)| {
            // Enough contexts prepared ahead that no slot waits for one.
            let ahead = opts.concurrency.min(scenarios);
            Arc::new(SharedBrowser::new(ahead, &browsers.shared_url, &launch))
        })
        .collect();
    let ran = futures::future::try_join_all(planned.iter().zip(opened).zip(host_of).map(
        |(((pass, runnable), opened), host)| {
            let host = host.map(|i| hosts[i].clone());
            run_one_pass(prepared, pass, opts, opened, host, share(*runnable))
        },
    ))
    .await;
    for host in &hosts {
        host.shutdown().await;
    }
    ran.map(drop)
}

/// Stage 5 for one pass: run its scenarios on the run's shared `host` if it has one (else on a
/// host of its own, when people are isolated by contexts), then end its browsers, drivers and
/// emulator.
async fn run_one_pass(
    prepared: &Prepared,
    pass: &Pass,
    opts: &RunOptions,
    opened: OpenedTarget,
    shared_host: Option<Arc<SharedBrowser>>,
    share: PassShare,
) -> Result<(), RunError> {
    if let Some(warning) = pass.target.transport_warning() {
        share.findings.note(warning);
    }
    let setup = opened.setup;
    let own_host = match (&shared_host, share.isolation) {
        (None, Isolation::Context) => Some(Arc::new(SharedBrowser::new(
            // Enough contexts prepared ahead that no slot waits for one.
            opts.concurrency.min(share.scenarios),
            &setup.webdriver_url,
            &setup.launch,
        ))),
        _ => None,
    };
    let ctx = Arc::new(RunContext {
        target: pass.target.clone(),
        policy: prepared.policy.clone(),
        mode: pass.mode,
        crm_url: setup.crm_url,
        admin_end_sessions: opened.admin_end_sessions,
        other_relying_party: opened.other_relying_party,
        access_token_management: opened.access_token_management,
        webdriver_url: setup.webdriver_url,
        user_drivers: setup.user_drivers,
        launch: setup.launch,
        probe: setup.probe,
        http_trust: setup.http_trust,
        browser_name: opts.browser.to_string(),
        snapshots: snapshot_dir(opts, &pass.target),
        artifacts: artifacts_dir(opts, &pass.target),
        findings: share.findings,
        page_timeout: opts.page_timeout,
        snapshot_writes: opts.snapshot_writes,
        host: shared_host.or_else(|| own_host.clone()),
        slots: share.slots,
        progress: share.progress,
        slot_per_browser: share.slot_per_browser,
    });
    // Every scenario of the pass may start; the slots decide which work at once.
    run_pass(prepared, pass, ctx.clone(), share.scenarios).await;
    if let Some(host) = &own_host {
        host.shutdown().await;
    }
    // The pass's drivers, trust store and credential caches end before its emulator.
    drop(setup.resources);
    if let Some(e) = opened.embedded {
        // Only `--trace-knobs` makes a pass for one scenario.
        if let Some((feature, scenario)) = &pass.only {
            ctx.findings.knobs_reached(report::KnobsReached {
                context: crate::judge::VerdictContext {
                    feature: feature.clone(),
                    scenario: scenario.clone(),
                    mode: pass.target.pass_mode(),
                    browser: opts.browser.to_string(),
                    target: pass.target.spec.name.clone(),
                },
                knobs: e
                    .sim
                    .knobs_reached()
                    .iter()
                    .map(|k| k.name().to_string())
                    .collect(),
            });
        }
        e.shutdown().await;
    }
    Ok(())
}

/// Stage 5: the pass's applicable scenarios, through cucumber.
async fn run_pass(prepared: &Prepared, pass: &Pass, ctx: Arc<RunContext>, concurrency: usize) {
    let split = pass.split();
    let mode = pass.mode;
    for (_, fs) in &prepared.features {
        let wanted = fs
            .iter()
            .map(|f| prepared.selection.count(f, mode, split))
            .sum::<usize>();
        if wanted == 0 {
            continue;
        }
        let selection = prepared.selection.clone();
        let pass = pass.clone();
        run_features(
            fs.clone(),
            ctx.clone(),
            concurrency,
            move |feature, rule, scenario| {
                selection.selects(feature, rule, scenario, mode, split)
                    && pass.takes(feature, scenario)
                    && applicability::needs_of(all_tags(feature, rule, scenario))
                        .is_ok_and(|needs| applicability::unmet(&pass.target, &needs).is_none())
            },
        )
        .await;
    }
}

/// Where the pass's cookie snapshots live: `--snapshots`, else a `snapshots/` folder beside a
/// user's target file (a user's snapshots belong to the user), else the embedded targets' own.
fn snapshot_dir(opts: &RunOptions, target: &Target) -> PathBuf {
    if let Some(dir) = &opts.snapshots {
        return dir.clone();
    }
    match &target.file {
        Some(file) => beside(file).join("snapshots"),
        None => opts.embedded_snapshots.clone(),
    }
}

/// Where the failed scenarios of a pass leave their artifacts: `--artifacts`, else beside the
/// target file (as its snapshots are), else under the current folder for the embedded targets.
fn artifacts_dir(opts: &RunOptions, target: &Target) -> PathBuf {
    if let Some(dir) = &opts.artifacts {
        return dir.clone();
    }
    match &target.file {
        Some(file) => beside(file).join("logout-harness-artifacts"),
        None => PathBuf::from("target/logout-harness/artifacts"),
    }
}

/// The folder `file` is in (`.` for a bare file name).
fn beside(file: &Path) -> &Path {
    file.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

fn nothing_selected(opts: &RunOptions) -> RunError {
    RunError::Usage(format!(
        "no scenario of {} matches the selection (modes {}{}{}); nothing was judged",
        opts.features
            .iter()
            .map(|f| crate::config::builtin::label(f))
            .collect::<Vec<_>>()
            .join(", "),
        opts.modes
            .iter()
            .map(|m| m.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        opts.tags
            .as_deref()
            .map(|t| format!(", --tags {t}"))
            .unwrap_or_default(),
        opts.name
            .as_deref()
            .map(|n| format!(", --name {n}"))
            .unwrap_or_default(),
    ))
}

/// Stage 6: the console summary, then JUnit and JSON.
fn write_reports(opts: &RunOptions, findings: Findings) -> Result<RunOutcome, RunError> {
    let mut findings = report::redact_findings(findings);
    if opts.redact_hosts {
        findings = report::redact_hosts(findings);
    }
    findings.html_report = opts
        .html
        .as_deref()
        .map(|html| as_named_from(html, opts.junit.as_deref()));
    print!("{}", report::console(&findings));
    // Named once, at the end: each failed scenario has a folder of its own in there.
    for dir in &findings.artifacts {
        eprintln!("artifacts of the failed scenarios: {}", dir.display());
    }
    // Each report is tried even when the other failed: one bad path does not lose both. The
    // pair is written under its folders' locks, as one.
    let paths: Vec<&Path> = [
        opts.junit.as_deref(),
        opts.json.as_deref(),
        opts.html.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let _lock = report::ReportsLock::take(&paths);
    let mut failed = Vec::new();
    if let Some(path) = &opts.junit
        && let Err(e) = report::write_file(path, &report::junit(&findings))
    {
        failed.push(format!("--junit {}: {e}", path.display()));
    }
    if let Some(path) = &opts.json
        && let Err(e) = report::write_file(path, &report::json(&findings))
    {
        failed.push(format!("--json {}: {e}", path.display()));
    }
    if let Some(path) = &opts.html {
        let started = std::time::Instant::now();
        match report::files::make_folder_of(path)
            .and_then(|()| report::write_file(path, &report::html(&findings)))
        {
            Ok(()) => eprintln!(
                "report: {} (written in {:.2} s)",
                path.display(),
                started.elapsed().as_secs_f64()
            ),
            Err(e) => failed.push(format!("--html {}: {e}", path.display())),
        }
    }
    let exit_code = findings.exit_code();
    if !failed.is_empty() {
        // A violation stays exit 1 whatever else failed: a pipeline that treats exit 2 as a
        // warning must not turn a found violation green because the disk was full.
        if exit_code == report::ExitCode::Violated {
            eprintln!(
                "error: cannot write the report: {}; the violations above stand (exit 1), the \
                 report file is missing",
                failed.join("; ")
            );
        } else {
            return Err(RunError::Report(failed.join("; ")));
        }
    }
    Ok(RunOutcome {
        findings,
        exit_code,
    })
}

/// `html` as the JUnit file at `junit` names it: its file name when both are in one folder, else
/// its whole path.
fn as_named_from(html: &Path, junit: Option<&Path>) -> String {
    let folder = |p: &Path| {
        std::path::absolute(p)
            .ok()
            .and_then(|a| a.parent().map(Path::to_path_buf))
    };
    match junit {
        Some(junit) if folder(junit).is_some() && folder(junit) == folder(html) => html
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        _ => std::path::absolute(html)
            .unwrap_or_else(|_| html.to_path_buf())
            .display()
            .to_string(),
    }
}

/// CPU seconds (user + system) this process has used, its children excluded.
fn own_cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct we pass; RUSAGE_SELF is always valid.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

async fn run_features<F>(
    features: Vec<cucumber::gherkin::Feature>,
    ctx: Arc<RunContext>,
    concurrency: usize,
    filter: F,
) where
    F: Fn(
            &cucumber::gherkin::Feature,
            Option<&cucumber::gherkin::Rule>,
            &cucumber::gherkin::Scenario,
        ) -> bool
        + 'static,
{
    let steps = ScenarioSteps::default();
    let findings = ctx.findings.clone();
    let pass_context = crate::judge::VerdictContext {
        mode: ctx.target.pass_mode(),
        browser: ctx.browser_name.clone(),
        target: ctx.target.spec.name.clone(),
        ..Default::default()
    };
    // Steps report through the world (verdicts, or an error when they cannot observe) and each
    // scenario's result is printed by its after hook, so cucumber's own writer is replaced by
    // one that only notes which step failed (named in the findings once the run ends).
    crate::steps::LogoutWorld::cucumber::<&Path>()
        // The features as the run planned them (parsed, labelled, outlines expanded).
        .with_parser(features::Parsed)
        .with_writer(cucumber::WriterExt::normalized(StepLog(steps.clone())))
        .with_default_cli()
        .max_concurrent_scenarios(concurrency)
        .before(move |feature, rule, scenario, world| {
            let ctx = ctx.clone();
            Box::pin(async move { world.begin(ctx, feature, rule, scenario).await })
        })
        .after(|_feature, _rule, _scenario, finished, world| {
            Box::pin(async move {
                if let Some(world) = world {
                    world.finish(finished).await;
                }
            })
        })
        .filter_run(features, filter)
        .await;
    let steps = std::mem::take(&mut *steps.lock().unwrap_or_else(|e| e.into_inner()));
    findings.name_failed_steps(&failed_steps(&steps));
    for ((feature, scenario), steps) in steps {
        let context = crate::judge::VerdictContext {
            feature,
            scenario,
            ..pass_context.clone()
        };
        findings.steps_of(&context, steps);
    }
}
