//! Which Gherkin step failed in each scenario, read from cucumber's own event stream.
//!
//! cucumber's after hook says that a step failed but not which one, so a scenario that could not
//! be judged would name no step. This writer stands in for cucumber's console writer (the harness
//! prints its own lines) and keeps the text of each failed step, for the run to put into its
//! "not judged" findings once the scenarios have ended.

use std::sync::{Arc, Mutex};

use cucumber::event::{Cucumber, Feature, Rule, Scenario, Step};
use cucumber::{Event, Writer, parser};

/// (feature name, scenario name) -> the failed step as written (`When she signs out ...`).
pub type FailedSteps = Arc<Mutex<Vec<((String, String), String)>>>;

/// A cucumber writer that records failed and unmatched steps and prints nothing.
#[derive(Debug, Default)]
pub struct StepLog(pub FailedSteps);

impl<W> Writer<W> for StepLog {
    type Cli = cucumber::cli::Empty;

    async fn handle_event(&mut self, event: parser::Result<Event<Cucumber<W>>>, _: &Self::Cli) {
        let Ok(event) = event else { return };
        let (feature, scenario, ev) = match &event.value {
            Cucumber::Feature(f, Feature::Scenario(s, ev)) => (f, s, &ev.event),
            Cucumber::Feature(f, Feature::Rule(_, Rule::Scenario(s, ev))) => (f, s, &ev.event),
            _ => return,
        };
        // A failed step, or one that no step definition matches (cucumber skips it: a typo
        // in the feature file), which the after hook reports without naming it either.
        if let Scenario::Step(step, Step::Failed(..) | Step::Skipped)
        | Scenario::Background(step, Step::Failed(..) | Step::Skipped) = ev
        {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).push((
                (feature.name.clone(), scenario.name.clone()),
                format!("{}{}", step.keyword, step.value),
            ));
        }
    }
}
