//! logout-harness: end-to-end logout tests for Microsoft Dynamics CRM on-premises.
//!
//! Gherkin scenarios (`features/`) drive real browsers through WebDriver against a CRM deployment
//! (or the embedded emulator, `fixtures/crm-sim`), record what they observe, and a YAML policy turns
//! observations into verdicts that carry requirement ids (OWASP ASVS, WSTG).
//!
//! Data flows one way: [`target`] + [`policy`] -> [`run`] -> [`browser`] sessions and [`probe`]s ->
//! observations (recorded by the steps) -> [`policy::Verdict`]s -> [`report`] writers.

#![warn(missing_docs)]

pub mod admin;
pub mod applicability;
pub mod artifacts;
pub mod auth_prompt;
pub mod browser;
pub mod builtin;
pub mod cdp;
pub mod cli;
pub mod config;
pub mod connect;
pub mod embedded;
pub mod firefox;
pub mod grid;
pub mod http_signin;
pub mod measure;
pub mod page;
pub mod policy;
pub mod probe;
pub mod process;
pub mod progress;
pub mod recorder;
pub mod remedy;
pub mod report;
pub mod run;
pub mod rundir;
pub mod secrets;
pub mod sessions;
pub mod slots;
pub mod snapshot;
pub mod step_log;
pub mod target;
pub mod timeouts;
pub mod trust;
pub mod wait;

/// Cucumber step definitions (they live in the top-level `steps/` folder).
#[path = "../steps/mod.rs"]
pub mod steps;
