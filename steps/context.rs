//! What the scenarios of one pass share: the target, the policy, the browsers' WebDriver servers,
//! the probe, where verdicts go. The run ([`crate::cmd::run`]) builds it; steps only read it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::config::target::{AdminAction, AuthMode, Target};
use crate::engine::browser::{LaunchOptions, SharedBrowser};
use crate::engine::probe::Probe;
use crate::judge::Policy;
use crate::report::Collector;

/// Everything a scenario needs, shared by the scenarios of one mode's pass.
#[derive(Debug)]
pub struct RunContext {
    /// The target profile.
    pub target: Target,
    /// The policy.
    pub policy: Policy,
    /// The mode of this pass.
    pub mode: AuthMode,
    /// The organization URL (ends in `/`).
    pub crm_url: url::Url,
    /// How the administrator ends a user's sessions, when the target offers it.
    pub admin_end_sessions: Option<AdminAction>,
    /// Another application signed in through the same AD FS, when the target names one.
    pub other_relying_party: Option<crate::config::target::OtherRelyingParty>,
    /// Whether CRM's access token management (`WSFedNonceCookieEnabled`) is on: what the
    /// embedded emulator runs with, or what a target file declares (`None`: not declared).
    pub access_token_management: Option<bool>,
    /// The WebDriver server for browsers with no special environment.
    pub webdriver_url: String,
    /// WebDriver servers for particular users (IWA: a driver holding that user's Kerberos ticket).
    pub user_drivers: std::collections::BTreeMap<String, String>,
    /// How browsers are launched.
    pub launch: LaunchOptions,
    /// Direct HTTP probes.
    pub probe: Probe,
    /// What the probe trusts, for the HTTP sign-ins of a timeout measurement.
    pub http_trust: crate::engine::probe::HttpTrust,
    /// Browser name for reports and snapshot names.
    pub browser_name: String,
    /// Snapshot directory.
    pub snapshots: PathBuf,
    /// Artifacts directory.
    pub artifacts: PathBuf,
    /// Where verdicts go.
    pub findings: Arc<Collector>,
    /// How long to wait for a page or an element.
    pub page_timeout: Duration,
    /// What a snapshot comparison may write.
    pub snapshot_writes: crate::observe::snapshot::SnapshotWrites,
    /// The shared browser (the run's, or the pass's own) for people isolated by browser
    /// contexts; `None` when every person gets a browser process (`--isolation process`).
    pub host: Option<Arc<SharedBrowser>>,
    /// The run's slots for scenarios working a browser (`--concurrency`), shared by every pass.
    pub slots: crate::engine::slots::Slots,
    /// The run's one progress line, shared by every pass; scenario result lines go through it.
    pub progress: Arc<crate::report::progress::RunProgress>,
    /// A slot stands for one browser (`--webdriver`: a grid's slots are browsers): a scenario
    /// takes one per browser it holds at once, and keeps them while it waits out a timeout.
    pub slot_per_browser: bool,
}

impl RunContext {
    /// The WebDriver server a browser of `person` is started through.
    pub fn webdriver_for(&self, person: &str) -> &str {
        self.user_drivers.get(person).unwrap_or(&self.webdriver_url)
    }
}
