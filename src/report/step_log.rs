//! Each scenario's Gherkin steps and how each ended, read from cucumber's own event stream.
//!
//! cucumber's after hook says that a step failed but not which one, so a scenario that could not
//! be judged would name no step. This writer stands in for cucumber's console writer (the harness
//! prints its own lines) and keeps every step of every scenario with its outcome, for the run to
//! put into its findings once the scenarios have ended: the failed step names a "not judged"
//! finding, and the HTML report shows each scenario's steps.

use std::sync::{Arc, Mutex};

use cucumber::event::{Cucumber, Feature, Rule, Scenario, Step};
use cucumber::{Event, Writer, parser};

use crate::report::findings::{StepOutcome, StepRecord};

/// (feature name, scenario name) -> its steps in order, each with how it ended.
pub type ScenarioSteps = Arc<Mutex<Vec<((String, String), Vec<StepRecord>)>>>;

/// A cucumber writer that records each scenario's steps and their outcomes and prints nothing.
#[derive(Debug, Default)]
pub struct StepLog(pub ScenarioSteps);

/// The failed (or undefined) step of each scenario that has one: `(feature, scenario) -> step`.
pub fn failed_steps(
    steps: &[((String, String), Vec<StepRecord>)],
) -> Vec<((String, String), String)> {
    steps
        .iter()
        .filter_map(|(key, steps)| {
            let failed = steps
                .iter()
                .find(|s| matches!(s.outcome, StepOutcome::Failed | StepOutcome::Undefined))?;
            Some((key.clone(), failed.text.clone()))
        })
        .collect()
}

impl<W> Writer<W> for StepLog {
    type Cli = cucumber::cli::Empty;

    async fn handle_event(&mut self, event: parser::Result<Event<Cucumber<W>>>, _: &Self::Cli) {
        let Ok(event) = event else { return };
        let (feature, rule, scenario, ev) = match &event.value {
            Cucumber::Feature(f, Feature::Scenario(s, ev)) => (f, None, s, &ev.event),
            Cucumber::Feature(f, Feature::Rule(r, Rule::Scenario(s, ev))) => {
                (f, Some(r), s, &ev.event)
            }
            _ => return,
        };
        let key = (feature.name.clone(), scenario.name.clone());
        let text = |step: &cucumber::gherkin::Step| format!("{}{}", step.keyword, step.value);
        let mut log = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Scenario::Started = ev {
            // Every step the scenario will run, not run yet: a step after a failed one is never
            // announced, and stays so.
            let steps = feature
                .background
                .iter()
                .flat_map(|b| &b.steps)
                .chain(
                    rule.iter()
                        .flat_map(|r| r.background.iter().flat_map(|b| &b.steps)),
                )
                .chain(&scenario.steps)
                .map(|step| StepRecord {
                    text: text(step),
                    outcome: StepOutcome::NotRun,
                })
                .collect();
            log.push((key, steps));
            return;
        }
        let (step, outcome) = match ev {
            Scenario::Step(step, Step::Passed(..))
            | Scenario::Background(step, Step::Passed(..)) => (step, StepOutcome::Passed),
            Scenario::Step(step, Step::Failed(..))
            | Scenario::Background(step, Step::Failed(..)) => (step, StepOutcome::Failed),
            // A step that no step definition matches (cucumber skips it: a typo in the feature
            // file), which the after hook reports without naming it either.
            Scenario::Step(step, Step::Skipped) | Scenario::Background(step, Step::Skipped) => {
                (step, StepOutcome::Undefined)
            }
            _ => return,
        };
        let text = text(step);
        if let Some((_, steps)) = log.iter_mut().rev().find(|(k, _)| *k == key)
            && let Some(s) = steps
                .iter_mut()
                .find(|s| s.outcome == StepOutcome::NotRun && s.text == text)
        {
            s.outcome = outcome;
        }
    }
}
