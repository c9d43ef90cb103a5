//! One `logout-harness run` as the tests make it: the built binary, run from the source tree,
//! its JSON report and artifacts under `target/logout-harness/<suite>/`, snapshots never
//! rewritten. Each test uses what it needs.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// A `logout-harness run` command whose report goes to `target/logout-harness/<suite>/<name>.json`
/// (removed first, so a stale one is never read) and artifacts to `.../<name>/`. Add the run's
/// own arguments, then [`Run::finish`].
pub struct Run {
    command: Command,
    json: PathBuf,
}

impl Run {
    pub fn new(suite: &str, name: &str) -> Run {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = root.join("target/logout-harness").join(suite);
        std::fs::create_dir_all(&dir).unwrap();
        let json = dir.join(format!("{name}.json"));
        let _ = std::fs::remove_file(&json);
        let mut command = Command::new(env!("CARGO_BIN_EXE_logout-harness"));
        command
            .current_dir(root)
            .env("INSTA_UPDATE", "no")
            .arg("run")
            .arg("--json")
            .arg(&json)
            .arg("--artifacts")
            .arg(dir.join(name));
        Run { command, json }
    }

    /// The command, to add arguments and environment to.
    pub fn command(&mut self) -> &mut Command {
        &mut self.command
    }

    /// Runs it to the end; a run that wrote no report fails the test with its output.
    pub fn finish(mut self) -> Report {
        let out = self.command.output().unwrap();
        let output = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(&self.json)
            .unwrap_or_else(|e| panic!("no JSON report ({e}):\n{output}"));
        let json = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("the JSON report does not parse ({e}):\n{text}"));
        Report {
            exit: out.status.code(),
            json,
            text,
            output,
        }
    }
}

/// What one run reported.
pub struct Report {
    /// The exit code.
    pub exit: Option<i32>,
    /// The JSON report.
    pub json: Value,
    /// The JSON report as written.
    pub text: String,
    /// stdout then stderr.
    pub output: String,
}

/// (mode, scenario, rule) of a verdict.
pub type Failure = (String, String, String);

impl Report {
    /// Every verdict.
    pub fn verdicts(&self) -> Vec<&Value> {
        self.json["verdicts"]
            .as_array()
            .into_iter()
            .flatten()
            .collect()
    }

    /// (mode, scenario, rule) of every violated rule.
    pub fn failures(&self) -> BTreeSet<Failure> {
        self.verdicts()
            .into_iter()
            .filter(|v| v["passed"] == false)
            .map(|v| {
                (
                    v["context"]["mode"].as_str().unwrap_or_default().into(),
                    v["context"]["scenario"].as_str().unwrap_or_default().into(),
                    v["rule"].as_str().unwrap_or_default().into(),
                )
            })
            .collect()
    }

    /// The scenarios that could not be judged, as "scenario (mode): message".
    pub fn errors(&self) -> Vec<String> {
        self.json["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                format!(
                    "{} ({}): {}",
                    e["context"]["scenario"], e["context"]["mode"], e["message"]
                )
            })
            .collect()
    }
}

/// A command's stdout then its stderr, as one text.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
