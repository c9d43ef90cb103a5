//! Observations turned into verdicts: the one rule table ([`rules`]), the policy that says which
//! outcomes each rule expects ([`policy`]), the verdicts ([`verdict`]), and the likely cause and
//! fix of each violation ([`remedy`]). Imports the layers below it, never a writer or a step.
//!
//! The layers above name these types through the re-exports here (`crate::judge::Verdict`).

pub mod policy;
pub mod remedy;
pub mod rules;
pub mod verdict;

pub use policy::Policy;
pub use rules::{Outcome, RULES, RuleId};
pub use verdict::{Expected, Observation, Verdict, VerdictContext};
