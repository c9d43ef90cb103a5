//! The console summary printed after the scenarios: notes, the counts, then each violation,
//! scenario not applicable and scenario not judged on a line of its own.

use std::fmt::Write as _;

use crate::judge::Verdict;
use crate::report::findings::Findings;

/// The console summary printed after the scenarios.
pub fn console(findings: &Findings) -> String {
    let mut out = String::new();
    let failed: Vec<&Verdict> = findings.verdicts.iter().filter(|v| !v.passed).collect();
    let passed = findings.verdicts.len() - failed.len();
    for note in &findings.notes {
        let _ = writeln!(out, "\nNOTE: {note}");
    }
    let _ = writeln!(
        out,
        "\nVerdicts: {passed} held, {} violated; {} scenario(s) not applicable, {} not judged",
        failed.len(),
        findings.not_applicable.len(),
        findings.errors.len()
    );
    for v in &failed {
        let _ = writeln!(out, "  {v}");
        if let Some(detail) = &v.detail {
            for line in detail.lines() {
                let _ = writeln!(out, "      {line}");
            }
        }
    }
    for n in &findings.not_applicable {
        let _ = writeln!(
            out,
            "  NOT APPLICABLE ({}/{}) \"{}\": {}",
            n.context.mode, n.context.browser, n.context.scenario, n.reason
        );
    }
    for e in &findings.errors {
        let _ = writeln!(
            out,
            "  NOT JUDGED ({}/{}) \"{}\"{}: {}",
            e.context.mode,
            e.context.browser,
            e.context.scenario,
            if e.step.is_empty() {
                String::new()
            } else {
                format!(": step \"{}\"", e.step)
            },
            e.message
        );
    }
    out
}
