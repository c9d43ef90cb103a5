//! The fault matrix: proof that every check catches what it exists to catch.
//!
//! For every knob `sim --list-faults` lists, the harness runs the scenarios of every mode the knob
//! applies to with the knob on. Exactly the scenarios that own the knob must fail, each with the
//! owning rule; every other scenario must pass. Without the knob every scenario passes in every
//! mode: that half is `clean.rs`, which runs the same scenarios on the clean emulator.
//!
//! Which scenarios run with a knob: in modes ifd and fba, those that reach the knob's code. The
//! clean run is also the trace (`run --trace-knobs`, knobs off): it gives every scenario an
//! emulator of its own and reports the knobs each one's requests reached; the emulator records a
//! knob wherever its code asks whether the knob is on, on or off (`crm_sim::Sim::knobs_reached`).
//! A scenario that never reached a knob got the very answers it would have got with the knob on,
//! so it would pass with it as it passed without it, in the trace run. Every owning scenario must
//! be among those that reached its knob, or this test fails. `FAULT_MATRIX_FULL=1` runs every
//! scenario with every knob instead, to check that claim. Modes iwa and claims always run every
//! scenario with a knob: their few scenarios reach their knobs anyway.
//!
//! The matrix in docs/emulator.md is generated from [`EXPECTED`] by this test: run it with
//! `UPDATE_DOCS=1` after changing the table, and it rewrites that section.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Condvar, Mutex};

use crate::support::{cpu, harness};
use harness::{Failure, Report, Run};

/// A scenario that must fail: (mode, scenario name, rule).
type Owner = (&'static str, &'static str, &'static str);

/// knob -> the scenarios that must fail. Everything else must pass.
const EXPECTED: &[(&str, &[Owner])] = &[
    (
        "keep-server-session",
        &[
            (
                "ifd",
                "Sign Out from the profile menu ends the session",
                "sign-out.replay-refused",
            ),
            (
                "fba",
                "Sign Out from the profile menu ends the session",
                "sign-out.replay-refused",
            ),
            (
                "fba",
                "Log Out, close the browser and reopen it: a fresh login is required",
                "sign-out.replay-refused",
            ),
            (
                "ifd",
                "Sign Out from the profile menu ends the session",
                "sign-out.replay-all-refused",
            ),
            (
                "fba",
                "Sign Out from the profile menu ends the session",
                "sign-out.replay-all-refused",
            ),
        ],
    ),
    (
        "keep-auth-cookie",
        &[
            (
                "ifd",
                "Sign Out from the profile menu ends the session",
                "sign-out.auth-cookies-removed",
            ),
            (
                "ifd",
                "After signing out, opening CRM again asks for credentials",
                "sso.reauthentication",
            ),
            (
                "ifd",
                "Sign Out in one tab signs out the other tab",
                "tabs.other-tab-after-sign-out",
            ),
            (
                "ifd",
                "Back after Sign Out shows no CRM data",
                "back-button.data-after-sign-out",
            ),
            (
                "fba",
                "Sign Out from the profile menu ends the session",
                "sign-out.auth-cookies-removed",
            ),
            (
                "fba",
                "Log Out, close the browser and reopen it: a fresh login is required",
                "sign-out.replay-refused",
            ),
            (
                "fba",
                "Sign Out in one tab signs out the other tab",
                "tabs.other-tab-after-sign-out",
            ),
            (
                "fba",
                "Back after Sign Out shows no CRM data",
                "back-button.data-after-sign-out",
            ),
            (
                "fba",
                "Back after Sign Out shows no CRM data",
                "sign-out.leftover-cookies",
            ),
            (
                "fba",
                "Sign Out from the profile menu ends the session",
                "sign-out.leftover-cookies",
            ),
            (
                "fba",
                "Sign Out from the profile menu ends the session",
                "sign-out.replay-refused",
            ),
            (
                "fba",
                "Sign Out in one tab signs out the other tab",
                "sign-out.leftover-cookies",
            ),
            (
                "ifd",
                "After signing out, opening CRM again asks for credentials",
                "sign-out.leftover-cookies",
            ),
            (
                "ifd",
                "Back after Sign Out shows no CRM data",
                "sign-out.leftover-cookies",
            ),
            (
                "ifd",
                "Sign Out from the profile menu ends the session",
                "sign-out.leftover-cookies",
            ),
            (
                "ifd",
                "Sign Out from the profile menu ends the session",
                "sign-out.replay-refused",
            ),
            (
                "ifd",
                "Sign Out in one tab signs out the other tab",
                "sign-out.leftover-cookies",
            ),
            (
                "ifd",
                "Sign Out from the profile menu ends the session",
                "sign-out.replay-all-refused",
            ),
            (
                "fba",
                "Sign Out from the profile menu ends the session",
                "sign-out.replay-all-refused",
            ),
        ],
    ),
    (
        "persistent-auth-cookie",
        &[
            (
                "ifd",
                "Closing the browser ends the session",
                "browser-close.session-after-reopen",
            ),
            (
                "ifd",
                "Authentication cookies are Secure, HttpOnly, SameSite and session cookies",
                "cookie.auth-lifetime",
            ),
            (
                "fba",
                "Closing the browser ends the session",
                "browser-close.session-after-reopen",
            ),
            (
                "fba",
                "Authentication cookies are Secure, HttpOnly, SameSite and session cookies",
                "cookie.auth-lifetime",
            ),
        ],
    ),
    (
        "skip-adfs-signout",
        &[
            (
                "ifd",
                "Sign Out from the profile menu ends the session",
                "sign-out.leftover-cookies",
            ),
            (
                "ifd",
                "After signing out, opening CRM again asks for credentials",
                "sso.reauthentication",
            ),
            (
                "ifd",
                "Sign Out in one tab signs out the other tab",
                "tabs.other-tab-after-sign-out",
            ),
            (
                "ifd",
                "Back after Sign Out shows no CRM data",
                "back-button.data-after-sign-out",
            ),
            (
                "ifd",
                "After signing out, opening CRM again asks for credentials",
                "sign-out.leftover-cookies",
            ),
            (
                "ifd",
                "Back after Sign Out shows no CRM data",
                "sign-out.leftover-cookies",
            ),
            (
                "ifd",
                "Sign Out in one tab signs out the other tab",
                "sign-out.leftover-cookies",
            ),
            // CRM never sends the browser to AD FS, so AD FS cleans up no other application.
            (
                "ifd",
                "Sign Out of CRM signs out of another application that uses the same AD FS",
                "sso.other-relying-party-signed-out",
            ),
            // A CRM-only sign-out never reaches AD FS, so the persistent "Keep me signed in"
            // cookie survives closing the browser and signs alice straight back in.
            (
                "ifd",
                "With Keep me signed in, Sign Out, close and reopen the browser: CRM asks for credentials",
                "sso.kmsi-after-sign-out",
            ),
            // Internal claims access: AD FS's session outlives the CRM-only sign-out, and it (not
            // Windows authentication) is what signs alice straight back in.
            (
                "claims",
                "Sign Out ends the CRM and AD FS sessions; the way back in is Windows authentication",
                "claims.adfs-signed-out",
            ),
            (
                "claims",
                "Sign Out ends the CRM and AD FS sessions; the way back in is Windows authentication",
                "claims.relogin-after-sign-out",
            ),
            // The expiry dialog's Close is the same CRM-only sign-out: AD FS signs alice back in.
            (
                "ifd",
                "At expiry the session-expired dialog's Close signs out fully",
                "timeout.expiry-dialog-signs-out",
            ),
        ],
    ),
    (
        "no-idle-timeout",
        &[
            (
                "ifd",
                "Inactivity ends the session at the configured idle timeout",
                "timeout.idle",
            ),
            (
                "ifd",
                "A reminder appears before the session expires",
                "timeout.reminder",
            ),
            (
                "fba",
                "Inactivity ends the session at the configured idle timeout",
                "timeout.idle",
            ),
        ],
    ),
    (
        "cacheable-pages",
        &[
            (
                "ifd",
                "Signed-in pages forbid storing",
                "back-button.pages-not-stored",
            ),
            (
                "ifd",
                "Back after Sign Out shows no CRM data",
                "back-button.data-after-sign-out",
            ),
            (
                "iwa",
                "Signed-in pages forbid storing",
                "back-button.pages-not-stored",
            ),
            (
                "fba",
                "Signed-in pages forbid storing",
                "back-button.pages-not-stored",
            ),
            (
                "fba",
                "Back after Sign Out shows no CRM data",
                "back-button.data-after-sign-out",
            ),
        ],
    ),
    (
        "weak-cookie-flags",
        &[
            (
                "ifd",
                "Authentication cookies are Secure, HttpOnly, SameSite and session cookies",
                "cookie.auth-secure",
            ),
            (
                "ifd",
                "Authentication cookies are Secure, HttpOnly, SameSite and session cookies",
                "cookie.auth-httponly",
            ),
            (
                "fba",
                "Authentication cookies are Secure, HttpOnly, SameSite and session cookies",
                "cookie.auth-secure",
            ),
            (
                "fba",
                "Authentication cookies are Secure, HttpOnly, SameSite and session cookies",
                "cookie.auth-httponly",
            ),
        ],
    ),
    (
        "open-wreply",
        &[(
            "ifd",
            "A sign-out address replying to another host does not send the browser there",
            "sso.sign-out-reply-checked",
        )],
    ),
    (
        "no-signout-cleanup",
        &[(
            "ifd",
            "Sign Out of CRM signs out of another application that uses the same AD FS",
            "sso.other-relying-party-signed-out",
        )],
    ),
    (
        "keep-kmsi-session",
        &[(
            "ifd",
            "With Keep me signed in, Sign Out, close and reopen the browser: CRM asks for credentials",
            "sso.kmsi-after-sign-out",
        )],
    ),
    (
        "download-accepts-old-cookie",
        &[
            (
                "ifd",
                "Sign Out from the profile menu ends the session",
                "sign-out.replay-all-refused",
            ),
            (
                "fba",
                "Sign Out from the profile menu ends the session",
                "sign-out.replay-all-refused",
            ),
        ],
    ),
    // The knob turns access token management on, whose nonce cookie is then left in the
    // browsers that open CRM again after Sign Out: the built-in baseline (recorded with the
    // feature off, as CRM ships) does not have it.
    (
        "signout-keeps-other-sessions",
        &[
            (
                "ifd",
                "Sign Out on one device leaves the other device as the policy says",
                "devices.access-token-management",
            ),
            (
                "ifd",
                "After signing out, opening CRM again asks for credentials",
                "sign-out.leftover-cookies",
            ),
            (
                "ifd",
                "Back after Sign Out shows no CRM data",
                "sign-out.leftover-cookies",
            ),
            (
                "ifd",
                "Sign Out in one tab signs out the other tab",
                "sign-out.leftover-cookies",
            ),
        ],
    ),
    (
        "expiry-dialog-no-signout",
        &[(
            "ifd",
            "At expiry the session-expired dialog's Close signs out fully",
            "timeout.expiry-dialog-signs-out",
        )],
    ),
    (
        "no-tab-sync",
        &[(
            "ifd",
            "Sign Out in one tab clears the page open in the other tab",
            "tabs.other-tab-page-cleared",
        )],
    ),
    (
        "reauth-extends-session",
        &[(
            "ifd",
            "At the warning, Sign In in the re-authenticate dialog renews the session through AD FS",
            "timeout.reauth-dialog-through-identity-provider",
        )],
    ),
    (
        "iwa-remember-me-cookie",
        &[
            (
                "iwa",
                "After Sign Out, opening CRM again signs the user straight back in",
                "sign-out.leftover-cookies",
            ),
            (
                "iwa",
                "With automatic sign-in turned off, closing the browser after Sign Out makes it ask again",
                "iwa.prompt-after-browser-close",
            ),
        ],
    ),
    // Changes an administrator makes while sessions live: no scenario makes one (they would end
    // the sessions of the scenarios running beside it); `logout-harness revoke` catches them
    // ([`CAUGHT_BY_REVOKE`], proven in tests/e2e/revoke.rs).
    ("timeout-change-not-live", &[]),
    ("deactivation-not-live", &[]),
    ("persistent-sso-cutoff-not-live", &[]),
];

/// Knobs no scenario reaches, and the `logout-harness revoke` arguments that catch each (exit 1
/// with `admin.change-reaches-sessions` violated, exit 0 without the knob):
/// tests/e2e/revoke.rs runs them.
pub const CAUGHT_BY_REVOKE: &[(&str, &[&str])] = &[
    (
        "timeout-change-not-live",
        &[
            "--change",
            "set_session_length",
            "--value",
            "1s",
            "--within",
            "3s",
        ],
    ),
    (
        "deactivation-not-live",
        &["--change", "deactivate_user", "--within", "2s"],
    ),
    (
        "persistent-sso-cutoff-not-live",
        &["--change", "persistent_sso_cutoff", "--within", "2s"],
    ),
];

/// One run of the harness with `args`, its report named `name`.
fn run(args: &[&str], name: &str) -> Report {
    let mut run = Run::new("fault-matrix", name);
    run.command().args(args);
    run.finish()
}

/// The modes whose scenarios run with a knob only when they reached it in the trace run.
const TRACED_MODES: &[&str] = &["ifd", "fba"];

/// What the trace run found: knob -> the (mode, scenario) pairs that reached it.
struct Trace {
    reached: BTreeMap<String, BTreeSet<(String, String)>>,
    /// Scenarios traced per mode.
    scenarios: BTreeMap<String, usize>,
}

/// What the clean run (`clean.rs`: every scenario, knobs off, each against an emulator of its
/// own) found each scenario's requests reached.
fn trace() -> Result<Trace, String> {
    let report = crate::clean::run();
    if report.exit != Some(0) {
        return Err(format!(
            "the clean run (no knob), which is also the trace, must pass, got exit {:?}\n{}",
            report.exit, report.output
        ));
    }
    let entries = report.json["knobs_reached"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let passed = report.json["scenarios_passed"].as_u64().unwrap_or(0) as usize;
    if entries.len() != passed || passed == 0 {
        return Err(format!(
            "the trace run reported knobs for {} scenarios, but {passed} ran\n{}",
            entries.len(),
            report.output
        ));
    }
    let mut trace = Trace {
        reached: BTreeMap::new(),
        scenarios: BTreeMap::new(),
    };
    for e in entries {
        let mode = e["context"]["mode"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let scenario = e["context"]["scenario"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        *trace.scenarios.entry(mode.clone()).or_default() += 1;
        for knob in e["knobs"].as_array().into_iter().flatten() {
            trace
                .reached
                .entry(knob.as_str().unwrap_or_default().to_string())
                .or_default()
                .insert((mode.clone(), scenario.clone()));
        }
    }
    Ok(trace)
}

/// `--name` for exactly these scenario names.
fn name_regex<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let escaped: BTreeSet<String> = names
        .map(|n| {
            n.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == ' ' {
                        c.to_string()
                    } else {
                        format!("\\x{{{:x}}}", c as u32)
                    }
                })
                .collect()
        })
        .collect();
    format!(
        "^(?:{})$",
        escaped.into_iter().collect::<Vec<_>>().join("|")
    )
}

/// What a traced run of `knob` in `modes` covers: the (mode, scenario) pairs that reached the
/// knob in the trace run, and how many scenarios those modes have; with the problems: an owner
/// that never reached its knob (the emulator would have a place that changes with the knob
/// without asking), or no scenario at all.
fn coverage(
    trace: &Trace,
    knob: &str,
    modes: &[String],
) -> (BTreeSet<(String, String)>, usize, Vec<String>) {
    let reached: BTreeSet<(String, String)> = trace
        .reached
        .get(knob)
        .into_iter()
        .flatten()
        .filter(|(m, _)| modes.contains(m))
        .cloned()
        .collect();
    let all = modes
        .iter()
        .map(|m| trace.scenarios.get(m).copied().unwrap_or(0))
        .sum();
    let mut problems = Vec::new();
    for (m, scenario, rule) in owners(knob) {
        if modes.contains(&m) && !reached.contains(&(m.clone(), scenario.clone())) {
            problems.push(format!(
                "knob {knob}: its owner \"{scenario}\" ({m}: {rule}) never reached the knob's \
                 code in the trace run, so the trace cannot be trusted: does every place the \
                 knob changes ask `fault()`?"
            ));
        }
    }
    // A knob only `revoke` reaches (an administrator's change) is reached by no scenario.
    if reached.is_empty() && !CAUGHT_BY_REVOKE.iter().any(|(k, _)| *k == knob) {
        problems.push(format!(
            "knob {knob}: no scenario of {modes:?} reached it in the trace run"
        ));
    }
    (reached, all, problems)
}

/// One piece of the matrix's work.
enum Job {
    Trace,
    /// A knob in `modes`: every scenario, or (`traced`) those that reached it in the trace.
    Knob {
        knob: String,
        modes: Vec<String>,
        traced: bool,
    },
}

/// One knob's run and what it covered.
struct KnobRun {
    modes: Vec<String>,
    report: Report,
}

/// The trace run's result, for the workers waiting on it.
#[derive(Default)]
struct TraceCell {
    result: Mutex<Option<Result<Trace, String>>>,
    ready: Condvar,
}

impl TraceCell {
    fn set(&self, t: Result<Trace, String>) {
        *self.result.lock().unwrap() = Some(t);
        self.ready.notify_all();
    }

    /// Waits for the trace; `f` reads it.
    fn with<R>(&self, f: impl FnOnce(&Result<Trace, String>) -> R) -> R {
        let mut guard = self.result.lock().unwrap();
        while guard.is_none() {
            guard = self.ready.wait(guard).unwrap();
        }
        f(guard.as_ref().unwrap())
    }
}

/// (knob, modes) as `sim --list-faults` prints them.
fn knobs() -> Vec<(String, Vec<String>)> {
    let out = Command::new(env!("CARGO_BIN_EXE_logout-harness"))
        .args(["sim", "--list-faults"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            (
                cols[0].to_string(),
                cols[1].split(',').map(str::to_string).collect(),
            )
        })
        .collect()
}

fn matrix_markdown(knobs: &[(String, Vec<String>)]) -> String {
    let mut md =
        String::from("| knob | modes run | scenarios that fail (mode: rule) |\n|---|---|---|\n");
    for (knob, modes) in knobs {
        let expected = EXPECTED
            .iter()
            .find(|(k, _)| k == knob)
            .map(|(_, e)| *e)
            .unwrap_or(&[]);
        let mut cells: Vec<String> = expected
            .iter()
            .map(|(mode, scenario, rule)| format!("{scenario} ({mode}: `{rule}`)"))
            .collect();
        if let Some((_, args)) = CAUGHT_BY_REVOKE.iter().find(|(k, _)| k == knob) {
            cells.push(format!(
                "`logout-harness revoke {}` (`admin.change-reaches-sessions`)",
                args.join(" ")
            ));
        }
        md.push_str(&format!(
            "| `{knob}` | {} | {} |\n",
            modes.join(", "),
            cells.join("<br>")
        ));
    }
    md
}

fn check_docs(md: &str) {
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/emulator.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let (start, end) = ("<!-- fault-matrix:start -->\n", "<!-- fault-matrix:end -->");
    let a = readme
        .find(start)
        .expect("docs/emulator.md has a fault-matrix section")
        + start.len();
    let b = readme
        .find(end)
        .expect("docs/emulator.md has a fault-matrix end marker");
    if std::env::var_os("UPDATE_DOCS").is_some() {
        let updated = format!("{}{md}{}", &readme[..a], &readme[b..]);
        std::fs::write(&path, updated).unwrap();
    } else {
        assert_eq!(
            &readme[a..b],
            md,
            "docs/emulator.md's fault matrix is stale: rerun this test with UPDATE_DOCS=1"
        );
    }
}

#[test]
fn every_knob_fails_exactly_its_owning_scenarios() {
    let knobs = knobs();
    for (knob, _) in &knobs {
        assert!(
            EXPECTED.iter().any(|(k, _)| k == knob),
            "knob `{knob}` has no row in EXPECTED: every knob needs a scenario that catches it"
        );
        assert!(
            !owners(knob).is_empty() || CAUGHT_BY_REVOKE.iter().any(|(k, _)| k == knob),
            "knob `{knob}` has no owning scenario and is not in CAUGHT_BY_REVOKE: every knob \
             needs a check that catches it"
        );
    }
    let full = std::env::var_os("FAULT_MATRIX_FULL").is_some();

    // Runs side by side (each run's own emulators; a run mostly waits on browsers and timeouts),
    // each with a share of the binary's CPU budget (support::cpu: a unit per run at concurrency
    // 1, which kept 0.65 of a core busy on 2 cores), so the runs fill what the binary's other
    // tests leave; at most FAULT_MATRIX_PARALLEL at once (default: the whole budget). The trace
    // first, the untraced modes' runs while it runs, then the traced runs, longest first.
    let parallel: usize = std::env::var("FAULT_MATRIX_PARALLEL")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(cpu::capacity)
        .max(1);
    let mut jobs = Vec::new();
    let mut traced_jobs = Vec::new();
    if !full {
        jobs.push(Job::Trace);
    }
    let mut order: Vec<&(String, Vec<String>)> = knobs.iter().collect();
    order.sort_by_key(|(_, modes)| std::cmp::Reverse(modes.len()));
    for (knob, modes) in order {
        let (traced, untraced): (Vec<String>, Vec<String>) = modes
            .iter()
            .cloned()
            .partition(|m| !full && TRACED_MODES.contains(&m.as_str()));
        for (modes, traced, list) in [
            (untraced, false, &mut jobs),
            (traced, true, &mut traced_jobs),
        ] {
            if !modes.is_empty() {
                list.push(Job::Knob {
                    knob: knob.clone(),
                    modes,
                    traced,
                });
            }
        }
    }
    jobs.extend(traced_jobs);
    let queue = Mutex::new(jobs.into_iter());
    let trace_cell = TraceCell::default();
    let runs: Mutex<BTreeMap<String, Vec<KnobRun>>> = Mutex::default();
    let problems: Mutex<Vec<String>> = Mutex::default();
    let (ran, skipped) = (Mutex::new(0usize), Mutex::new(0usize));
    std::thread::scope(|scope| {
        for _ in 0..parallel {
            scope.spawn(|| {
                loop {
                    let next = queue.lock().unwrap().next();
                    let Some(job) = next else {
                        return;
                    };
                    let (knob, modes, traced) = match job {
                        Job::Trace => {
                            // Set whatever happens: the traced runs wait for it.
                            let traced = std::panic::catch_unwind(trace).unwrap_or_else(|p| {
                                let why = p
                                    .downcast_ref::<String>()
                                    .cloned()
                                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                                    .unwrap_or_default();
                                Err(format!("the trace run failed: {why}"))
                            });
                            trace_cell.set(traced);
                            continue;
                        }
                        Job::Knob {
                            knob,
                            modes,
                            traced,
                        } => (knob, modes, traced),
                    };
                    let mut args = vec![
                        "--mode".to_string(),
                        modes.join(","),
                        "--fault".into(),
                        knob.clone(),
                        "--concurrency".into(),
                        "1".into(),
                    ];
                    let mut name = knob.clone();
                    if traced {
                        let covered = trace_cell.with(|t| match t {
                            Ok(t) => Ok(coverage(t, &knob, &modes)),
                            Err(e) => Err(e.clone()),
                        });
                        let (reached, all) = match covered {
                            Ok((reached, all, found)) => {
                                problems.lock().unwrap().extend(found);
                                (reached, all)
                            }
                            Err(e) => {
                                problems.lock().unwrap().push(e);
                                continue;
                            }
                        };
                        if reached.is_empty() {
                            continue;
                        }
                        *ran.lock().unwrap() += reached.len();
                        *skipped.lock().unwrap() += all - reached.len();
                        args.push("--name".into());
                        args.push(name_regex(reached.iter().map(|(_, s)| s.as_str())));
                        println!(
                            "knob {knob} ({}): {} of {all} scenarios reached it in the trace run",
                            modes.join(", "),
                            reached.len()
                        );
                    } else {
                        name.push_str(&format!("-{}", modes.join("-")));
                    }
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    let cpu = cpu::take(1);
                    let report = run(&args, &name);
                    drop(cpu);
                    runs.lock()
                        .unwrap()
                        .entry(knob)
                        .or_default()
                        .push(KnobRun { modes, report });
                }
            });
        }
    });
    if !full {
        println!(
            "fault matrix: {} scenario runs with a knob on; {} skipped as never reaching the knob",
            ran.into_inner().unwrap(),
            skipped.into_inner().unwrap()
        );
    }
    let mut problems = problems.into_inner().unwrap();
    // A failed trace is told once, not once per knob that waited for it.
    problems.sort();
    problems.dedup();
    let runs = runs.into_inner().unwrap();
    for (knob, _) in &knobs {
        let expected: BTreeSet<Failure> = owners(knob).into_iter().collect();
        // tests/e2e/revoke.rs proves these caught.
        if expected.is_empty() && !CAUGHT_BY_REVOKE.iter().any(|(k, _)| k == knob) {
            problems.push(format!(
                "knob {knob}: no scenario owns it, so nothing proves it is caught"
            ));
        }
        let Some(knob_runs) = runs.get(knob) else {
            continue;
        };
        let mut failures = BTreeSet::new();
        let mut output = String::new();
        for KnobRun { modes, report } in knob_runs {
            let errors = report.errors();
            if !errors.is_empty() {
                problems.push(format!(
                    "knob {knob}: scenarios not judged: {errors:?}\n{}",
                    report.output
                ));
            }
            // A run with an owner must be a violation (exit 1); one without, a pass.
            let owns = expected.iter().any(|(m, _, _)| modes.contains(m));
            let exit = if owns { 1 } else { 0 };
            if report.exit != Some(exit) {
                problems.push(format!(
                    "knob {knob} in {modes:?}: `run --fault` must exit {exit}, got {:?}\n{}",
                    report.exit, report.output
                ));
            }
            failures.extend(report.failures());
            output.push_str(&report.output);
        }
        if failures != expected {
            problems.push(format!(
                "knob {knob}: the failed (mode, scenario, rule) differ from the matrix\n  \
                 failed but not expected: {:?}\n  expected but did not fail: {:?}\n{output}",
                failures.difference(&expected).collect::<Vec<_>>(),
                expected.difference(&failures).collect::<Vec<_>>(),
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    check_docs(&matrix_markdown(&knobs));
}

/// The knob's owners as (mode, scenario, rule).
fn owners(knob: &str) -> Vec<Failure> {
    EXPECTED
        .iter()
        .find(|(k, _)| *k == knob)
        .map(|(_, e)| {
            e.iter()
                .map(|(m, s, r)| (m.to_string(), s.to_string(), r.to_string()))
                .collect()
        })
        .unwrap_or_default()
}
