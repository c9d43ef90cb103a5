//! Running the logout-harness binary against a server, as a user would: a target file made from
//! one of `fixtures/targets/examples/`, `run --json`, and the report read back.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::servers::repo;

/// A target file written for one server: the example file with the server's URL, CA and password
/// variable put in; everything else (pages, whoami, mode) exactly as the example says.
pub fn target_from_example(
    example: &str,
    dir: &Path,
    url: &str,
    ca_file: Option<&Path>,
    password_env: &str,
) -> PathBuf {
    let source = repo().join("fixtures/targets/examples").join(example);
    let text = std::fs::read_to_string(&source)
        .unwrap_or_else(|e| panic!("reading {}: {e}", source.display()));
    let mut doc: serde_yaml::Value = serde_yaml::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not YAML: {e}", source.display()));
    let map = doc.as_mapping_mut().expect("a target file is a mapping");
    assert!(map.contains_key("crm"), "{example} has no `crm`");
    map.insert("crm".into(), url.into());
    match ca_file {
        Some(ca) => {
            let tls = map
                .get_mut("tls")
                .and_then(|t| t.as_mapping_mut())
                .unwrap_or_else(|| panic!("{example} should name its CA under `tls`"));
            tls.insert("ca_file".into(), ca.display().to_string().into());
        }
        None => assert!(!map.contains_key("tls"), "{example}: no TLS expected"),
    }
    let alice = map
        .get_mut("users")
        .and_then(|u| u.get_mut("alice"))
        .and_then(|a| a.as_mapping_mut())
        .unwrap_or_else(|| panic!("{example} has no user alice"));
    alice.insert("password_env".into(), password_env.into());
    let path = dir.join(example);
    std::fs::write(&path, serde_yaml::to_string(&doc).expect("YAML"))
        .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    path
}

/// One run of the harness and what it reported.
pub struct Run {
    /// The exit code (0 holds, 1 violated, 2 could not judge).
    pub code: i32,
    /// Console output, both streams.
    pub output: String,
    /// The `--json` report.
    pub report: Value,
    /// Every file the run wrote (report, artifacts, snapshots), for the secret scan.
    pub written: Vec<PathBuf>,
    /// Wall time.
    pub took: Duration,
}

/// Runs `logout-harness run --target TARGET` over `features` with the password in `env` only.
/// Snapshots go to a fresh directory and are recorded (`--update-snapshots`): these servers have
/// no baseline, and what the leftover cookies look like is not what these tests judge.
pub fn run(target: &Path, features: &[&str], env: (&str, &str), dir: &Path) -> Run {
    run_with_env(target, features, &[(env.0.into(), env.1.into())], dir)
}

/// [`run`] with any environment for the harness (a Kerberos credential cache, say).
pub fn run_with_env(
    target: &Path,
    features: &[&str],
    env: &[(std::ffi::OsString, std::ffi::OsString)],
    dir: &Path,
) -> Run {
    run_in(target, features, env, dir, true)
}

/// [`run`] that compares the cookies left after sign-out with the snapshots an earlier run in
/// `dir` recorded, instead of recording them: what a nightly run against a baseline does.
pub fn run_against_snapshots(
    target: &Path,
    features: &[&str],
    env: (&str, &str),
    dir: &Path,
) -> Run {
    run_in(
        target,
        features,
        &[(env.0.into(), env.1.into())],
        dir,
        false,
    )
}

fn run_in(
    target: &Path,
    features: &[&str],
    env: &[(std::ffi::OsString, std::ffi::OsString)],
    dir: &Path,
    update_snapshots: bool,
) -> Run {
    let json = dir.join("report.json");
    let artifacts = dir.join("artifacts");
    let snapshots = dir.join("snapshots");
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_logout-harness"))
        .arg("run")
        .arg("--target")
        .arg(target)
        .arg("--json")
        .arg(&json)
        .arg("--artifacts")
        .arg(&artifacts)
        .arg("--snapshots")
        .arg(&snapshots)
        .args(update_snapshots.then_some("--update-snapshots"))
        .args(features)
        .current_dir(repo())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("starting logout-harness");
    let took = t.elapsed();
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report = std::fs::read_to_string(&json)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    let mut written = vec![json];
    collect_files(&artifacts, &mut written);
    collect_files(&snapshots, &mut written);
    Run {
        code: out.status.code().unwrap_or(-1),
        output,
        report,
        written,
        took,
    }
}

fn collect_files(dir: &Path, into: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect_files(&p, into);
        } else {
            into.push(p);
        }
    }
}

impl Run {
    fn verdicts(&self) -> Vec<&Value> {
        self.report["verdicts"]
            .as_array()
            .map(|v| v.iter().collect())
            .unwrap_or_default()
    }

    /// Rules with at least one failed verdict.
    pub fn failed(&self) -> BTreeSet<String> {
        self.rules_where(false)
    }

    /// Rules judged, every verdict of which held.
    pub fn held(&self) -> BTreeSet<String> {
        let failed = self.failed();
        self.rules_where(true)
            .into_iter()
            .filter(|r| !failed.contains(r))
            .collect()
    }

    fn rules_where(&self, passed: bool) -> BTreeSet<String> {
        self.verdicts()
            .into_iter()
            .filter(|v| v["passed"].as_bool() == Some(passed))
            .filter_map(|v| v["rule"].as_str().map(str::to_string))
            .collect()
    }

    /// The observed outcome of `rule` (its first verdict).
    pub fn observed(&self, rule: &str) -> Option<String> {
        self.verdicts()
            .into_iter()
            .find(|v| v["rule"] == rule)
            .and_then(|v| v["observed"].as_str().map(str::to_string))
    }

    /// The evidence of `rule`'s first verdict, joined.
    pub fn evidence(&self, rule: &str) -> String {
        self.verdicts()
            .into_iter()
            .find(|v| v["rule"] == rule)
            .map(|v| v["evidence"].to_string())
            .unwrap_or_default()
    }

    /// The likely cause printed with `rule`'s first verdict (empty when none).
    pub fn likely_cause(&self, rule: &str) -> String {
        self.verdicts()
            .into_iter()
            .find(|v| v["rule"] == rule)
            .map(|v| v["likely_cause"].as_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    }

    /// The scenarios reported as not applicable.
    pub fn not_applicable(&self) -> Vec<Value> {
        self.report["not_applicable"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Everything worth showing when an assertion fails.
    pub fn explain(&self) -> String {
        format!(
            "exit {}; failed {:?}; held {:?}; not applicable {}\n--- output ---\n{}",
            self.code,
            self.failed(),
            self.held(),
            Value::Array(self.not_applicable()),
            self.output
        )
    }

    /// Panics if the password, in clear, URL- or form-encoded (either hex case) or base64, appears in
    /// the console output or any file the run wrote.
    pub fn assert_password_nowhere(&self, password: &str) {
        let mut forms = vec![password.to_string(), base64(password.as_bytes())];
        let encoded = url_encode(password);
        // Percent-encoding in either hex case, and form encoding (space as `+`), as Apache writes.
        for e in [encoded.clone(), encoded.replace("%20", "+")] {
            forms.push(e.to_lowercase());
            forms.push(e);
        }
        let mut places = vec![("console output".to_string(), self.output.clone())];
        for f in &self.written {
            let bytes = std::fs::read(f).unwrap_or_default();
            places.push((
                f.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
        }
        for (place, text) in &places {
            for form in &forms {
                assert!(
                    !text.contains(form.as_str()),
                    "the password (or an encoding of it) appears in {place}"
                );
            }
        }
    }
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn encodings_are_the_ones_servers_use() {
    assert_eq!(base64(b"Pw/1+ x"), "UHcvMSsgeA==");
    assert_eq!(url_encode("Pw/1+ x"), "Pw%2F1%2B%20x");
}
