//! The passes of a run: one per target, mode and web client, each against its own emulator (or
//! the target file's deployment), and which scenarios each pass runs.

use super::*;

/// A scenario applies to `mode` when it (or its feature or rule) carries the mode's tag, or carries
/// no mode tag at all.
pub(super) fn applies_to_mode(tags: &[&String], mode: AuthMode) -> bool {
    let mode_tags: Vec<&str> = AuthMode::ALL.iter().map(|m| m.tag()).collect();
    let has_any = tags.iter().any(|t| mode_tags.contains(&t.as_str()));
    !has_any || tags.iter().any(|t| t.as_str() == mode.tag())
}

/// One emulator (or real target) and the scenarios run against it.
#[derive(Clone)]
pub(super) struct Pass {
    pub(super) target: Target,
    pub(super) mode: AuthMode,
    pub(super) timeout_scenarios: bool,
    /// `--trace-knobs`: the one scenario (feature name, scenario name) this pass runs.
    pub(super) only: Option<(String, String)>,
}

impl Pass {
    /// Whether the pass runs this scenario (the selection decides the rest).
    pub(super) fn takes(
        &self,
        feature: &cucumber::gherkin::Feature,
        scenario: &cucumber::gherkin::Scenario,
    ) -> bool {
        self.only
            .as_ref()
            .is_none_or(|(f, s)| (f, s) == (&feature.name, &scenario.name))
    }

    /// How the pass splits the scenarios: against the built-in emulator targets, timeout
    /// scenarios run in a pass of their own (`Some(true)`) and the others in another
    /// (`Some(false)`); a target file (a real deployment, or `crm: embedded` with the timeouts it
    /// declares) runs everything in one (`None`).
    pub(super) fn split(&self) -> Option<bool> {
        (self.target.file.is_none() && self.target.spec.crm == CrmLocation::Embedded)
            .then_some(self.timeout_scenarios)
    }
}

pub(super) fn passes(opts: &RunOptions, file_target: Option<&Target>) -> Vec<Pass> {
    match file_target {
        Some(t) => vec![Pass {
            target: t.clone(),
            mode: t.spec.mode,
            timeout_scenarios: false,
            only: None,
        }],
        // The timeout passes first: their scenarios wait longest, so they should start first.
        None => [true, false]
            .into_iter()
            .flat_map(|timeout_scenarios| {
                // Each mode once per web client it serves (CRM 4.0 has no Unified Interface).
                let pairs = opts.modes.iter().flat_map(|m| {
                    opts.uis
                        .iter()
                        .filter(|u| u.serves(*m))
                        .map(move |u| (*m, *u))
                });
                pairs.map(move |(m, ui)| {
                    // The built-in target declares what its emulator runs with.
                    let mut target = Target::embedded_ui(m, ui);
                    let declared = &mut target.spec.timeouts;
                    declared.idle = opts.sim_timeouts.idle.or(declared.idle);
                    declared.absolute = opts.sim_timeouts.absolute.or(declared.absolute);
                    Pass {
                        target,
                        mode: m,
                        timeout_scenarios,
                        only: None,
                    }
                })
            })
            .collect(),
    }
}

/// `--trace-knobs`: one pass per scenario `pass` selects, each with an emulator of its own, so
/// that what an emulator's code reached ([`crm_sim::Sim::knobs_reached`]) is one scenario's.
pub(super) fn pass_per_scenario(prepared: &Prepared, pass: Pass) -> Vec<Pass> {
    let split = pass.split();
    let mut names: Vec<(String, String)> = Vec::new();
    for (_, fs) in &prepared.features {
        for feature in fs {
            for (rule, scenario) in scenarios_of(feature) {
                let name = (feature.name.clone(), scenario.name.clone());
                if prepared
                    .selection
                    .selects(feature, rule, scenario, pass.mode, split)
                    && !names.contains(&name)
                {
                    names.push(name);
                }
            }
        }
    }
    names
        .into_iter()
        .map(|name| Pass {
            only: Some(name),
            ..pass.clone()
        })
        .collect()
}
