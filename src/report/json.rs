//! The JSON report: the findings as they are, for machines (every field of [`Findings`]).

use crate::report::findings::Findings;

/// The JSON report of `findings`, pretty-printed.
pub fn json(findings: &Findings) -> String {
    // Findings hold only strings, numbers and typed values that serialize as strings: no map
    // with a non-string key, nothing that can fail.
    serde_json::to_string_pretty(findings).expect("findings serialize to JSON")
}
