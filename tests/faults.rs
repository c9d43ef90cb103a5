//! The fault matrix: proof that every check catches what it exists to catch.
//!
//! For every knob `sim --list-faults` lists, the harness runs every scenario in every mode the knob
//! applies to. Exactly the scenarios that own the knob must fail, each with the owning rule; every
//! other scenario must pass. Without the knob every scenario passes in every mode: that half is
//! `tests/features.rs`, which runs the same scenarios on the clean emulator.
//!
//! The matrix in README.md is generated from [`EXPECTED`] by this test: run it with
//! `UPDATE_README=1` after changing the table, and it rewrites the README section.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "support/harness.rs"]
mod harness;
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
];

/// One knob's run: every scenario in `args`' modes.
fn run(args: &[&str], name: &str) -> Report {
    let mut run = Run::new("fault-matrix", name);
    run.command().args(args);
    run.finish()
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
        let cells: Vec<String> = expected
            .iter()
            .map(|(mode, scenario, rule)| format!("{scenario} ({mode}: `{rule}`)"))
            .collect();
        md.push_str(&format!(
            "| `{knob}` | {} | {} |\n",
            modes.join(", "),
            cells.join("<br>")
        ));
    }
    md
}

fn check_readme(md: &str) {
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let (start, end) = ("<!-- fault-matrix:start -->\n", "<!-- fault-matrix:end -->");
    let a = readme
        .find(start)
        .expect("README has a fault-matrix section")
        + start.len();
    let b = readme
        .find(end)
        .expect("README has a fault-matrix end marker");
    if std::env::var_os("UPDATE_README").is_some() {
        let updated = format!("{}{md}{}", &readme[..a], &readme[b..]);
        std::fs::write(&path, updated).unwrap();
    } else {
        assert_eq!(
            &readme[a..b],
            md,
            "README's fault matrix is stale: rerun this test with UPDATE_README=1"
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
    }

    // Without any knob every scenario passes in every mode: that is tests/features.rs. Every knob
    // runs before anything is asserted, so one run shows every row that differs. Knobs run
    // side by side (each run's own emulators; a run mostly waits on browsers and timeouts), at
    // most FAULT_MATRIX_PARALLEL at once (default 3: one knob's run at concurrency 1 kept 0.65 of
    // a core busy on 2 cores, 38 s of CPU in 57 s, so three keep both cores about busy).
    let parallel: usize = std::env::var("FAULT_MATRIX_PARALLEL")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3)
        .max(1);
    // The knobs that run the most modes first, so that no long run starts last.
    let mut order: Vec<&(String, Vec<String>)> = knobs.iter().collect();
    order.sort_by_key(|(_, modes)| std::cmp::Reverse(modes.len()));
    let queue = std::sync::Mutex::new(order.into_iter());
    let outcomes = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..parallel {
            scope.spawn(|| {
                loop {
                    let next = queue.lock().unwrap().next();
                    let Some((knob, modes)) = next else {
                        return;
                    };
                    let outcome = run(
                        &[
                            "--mode",
                            &modes.join(","),
                            "--fault",
                            knob,
                            "--concurrency",
                            "1",
                        ],
                        knob,
                    );
                    outcomes.lock().unwrap().push((knob.clone(), outcome));
                }
            });
        }
    });
    let mut outcomes = outcomes.into_inner().unwrap();
    outcomes.sort_by(|a, b| a.0.cmp(&b.0));
    let mut problems = Vec::new();
    for (knob, outcome) in outcomes {
        let knob = &knob;
        let expected: BTreeSet<Failure> = EXPECTED
            .iter()
            .find(|(k, _)| k == knob)
            .map(|(_, e)| {
                e.iter()
                    .map(|(m, s, r)| (m.to_string(), s.to_string(), r.to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let (failures, errors) = (outcome.failures(), outcome.errors());
        if !errors.is_empty() {
            problems.push(format!(
                "knob {knob}: scenarios not judged: {errors:?}\n{}",
                outcome.output
            ));
        }
        if expected.is_empty() {
            problems.push(format!(
                "knob {knob}: no scenario owns it, so nothing proves it is caught"
            ));
        }
        if failures != expected {
            problems.push(format!(
                "knob {knob}: the failed (mode, scenario, rule) differ from the matrix\n  \
                 failed but not expected: {:?}\n  expected but did not fail: {:?}\n{}",
                failures.difference(&expected).collect::<Vec<_>>(),
                expected.difference(&failures).collect::<Vec<_>>(),
                outcome.output
            ));
        }
        if outcome.exit != Some(1) {
            problems.push(format!(
                "knob {knob}: `run --fault` must exit 1, got {:?}\n{}",
                outcome.exit, outcome.output
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    check_readme(&matrix_markdown(&knobs));
}
