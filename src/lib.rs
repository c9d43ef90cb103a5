//! logout-harness: end-to-end logout tests for Microsoft Dynamics CRM on-premises.
//!
//! Gherkin scenarios (`features/`) drive real browsers through WebDriver against a CRM deployment
//! (or the embedded emulator, `fixtures/crm-sim`), record what they observe, and a YAML policy turns
//! observations into verdicts that carry requirement ids (OWASP ASVS, WSTG).
//!
//! The modules are layers, and data flows one way through them (docs/architecture.md):
//! [`config`] (what the user wrote) -> [`engine`] (browsers, the probe, the emulator) ->
//! [`observe`] (page verbs, snapshots, measurements) -> [`judge`] (the rule table, verdicts,
//! remedies) -> [`report`] (console, JSON, JUnit); [`steps`] compose them per scenario and
//! [`cmd`] drives a command from its arguments to its exit code. A module imports only its own
//! layer and those before it; `tests/layers.rs` fails on an import that points the other way.

#![warn(missing_docs)]

// The console's own print macros, shadowing std's for every module below (macro_rules! scope is
// textual): std's panic when the stream is gone (`logout-harness run 2>&1 | head -1` closes both
// pipes), which would turn any run into exit 101. Lost output is not worth the run: these drop a
// write that fails, and the exit code still says what the run found.
macro_rules! println {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}
macro_rules! print {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}
macro_rules! eprintln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod cmd;
pub mod config;
pub mod engine;
pub mod judge;
pub mod observe;
pub mod report;

/// Cucumber step definitions (they live in the top-level `steps/` folder).
#[path = "../steps/mod.rs"]
pub mod steps;
