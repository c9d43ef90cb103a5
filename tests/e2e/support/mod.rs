//! What the tests of this binary share: how they run the harness, read its report and find what
//! it left behind; small loopback servers; and one CPU budget.

pub mod browser;
pub mod cpu;
pub mod harness;
pub mod loopback;
pub mod processes;
