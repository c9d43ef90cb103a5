//! What a step saw ([`Observation`]) and what the policy made of it ([`Verdict`]), with where it
//! was reached ([`VerdictContext`]).

use std::fmt;

use serde::Serialize;

use crate::config::target::PassMode;
use crate::judge::rules::{Outcome, RuleId};
use crate::observe::page::PageOrigin;

/// A fact a step saw, as an outcome of one rule plus the evidence for it.
///
/// Evidence is URLs, status codes and cookie names; never cookie values or passwords.
#[derive(Clone, Debug, Serialize)]
pub struct Observation {
    /// The rule this observation answers.
    pub rule: RuleId,
    /// The outcome, one of [`RuleId::outcomes`].
    pub outcome: Outcome,
    /// Short facts that support the outcome.
    pub evidence: Vec<String>,
    /// A longer text for the report (a snapshot diff), if any.
    pub detail: Option<String>,
    /// Where the page the observation is about came from, when it is about one: the likely cause
    /// of a violation follows from it.
    #[serde(skip)]
    pub page_origin: Option<PageOrigin>,
}

impl Observation {
    /// An observation of `rule` with `outcome`.
    pub fn new(rule: RuleId, outcome: Outcome) -> Observation {
        Observation {
            rule,
            outcome,
            evidence: Vec::new(),
            detail: None,
            page_origin: None,
        }
    }

    /// Says where the page it is about came from.
    pub fn page_origin(mut self, origin: Option<PageOrigin>) -> Observation {
        self.page_origin = origin;
        self
    }

    /// Adds one piece of evidence.
    pub fn evidence(mut self, e: impl Into<String>) -> Observation {
        self.evidence.push(e.into());
        self
    }

    /// Adds a detail text (a diff).
    pub fn detail(mut self, d: impl Into<String>) -> Observation {
        self.detail = Some(d.into());
        self
    }
}

/// Where a verdict was reached: which scenario, against what.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VerdictContext {
    /// Feature name.
    pub feature: String,
    /// Scenario name.
    pub scenario: String,
    /// Authentication mode and web client (`ifd`, `ifd-uci` in reports).
    pub mode: PassMode,
    /// Browser.
    pub browser: String,
    /// Target name.
    pub target: String,
}

/// The outcomes a policy expects of a rule: reports show them as `refused`, or
/// `credentials-asked or silent-sign-in` where the policy accepts either.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected(pub Vec<Outcome>);

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, outcome) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" or ")?;
            }
            f.write_str(outcome.name())?;
        }
        Ok(())
    }
}

impl Serialize for Expected {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A judged observation.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    /// The rule.
    pub rule: RuleId,
    /// Its requirement ids.
    pub requirements: Vec<String>,
    /// The outcomes the policy expects.
    pub expected: Expected,
    /// The outcome observed.
    pub observed: Outcome,
    /// Whether they agree.
    pub passed: bool,
    /// Evidence for the observed outcome.
    pub evidence: Vec<String>,
    /// A longer text (a snapshot diff).
    pub detail: Option<String>,
    /// The policy's reason.
    pub why: Option<String>,
    /// Where it was reached.
    pub context: VerdictContext,
    /// For a violation: its likely cause ([`crate::judge::remedy`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub likely_cause: Option<String>,
    /// For a violation: what to change, where.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fix: Vec<String>,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} [{}] ({}/{}) \"{}\": expected {}, observed {}",
            if self.passed { "PASS" } else { "FAIL" },
            self.rule,
            self.requirements.join(", "),
            self.context.mode,
            self.context.browser,
            self.context.scenario,
            self.expected,
            self.observed,
        )?;
        if !self.evidence.is_empty() {
            write!(f, "; evidence: {}", self.evidence.join("; "))?;
        }
        if !self.passed
            && let Some(why) = &self.why
        {
            write!(f, "; policy: {why}")?;
        }
        if let Some(cause) = &self.likely_cause {
            write!(f, "\n    likely cause: {cause}")?;
        }
        for fix in &self.fix {
            write!(f, "\n    fix: {fix}")?;
        }
        Ok(())
    }
}
