//! `logout-harness doctor`: on this machine every check holds; each problem it looks for is
//! found, with the same message `run` gives when it meets the problem later.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;

use crate::support::harness::text;

fn doctor(args: &[&str], path: Option<&Path>) -> (Option<i32>, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_logout-harness"));
    // As on a CI runner: no display (the --headed check must find none).
    cmd.arg("doctor")
        .args(args)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY");
    if let Some(path) = path {
        cmd.env("PATH", path);
    }
    let out = cmd.output().unwrap();
    (out.status.code(), text(&out))
}

#[test]
fn on_this_machine_every_check_holds() {
    let (code, t) = doctor(&[], None);
    assert_eq!(code, Some(0), "{t}");
    for line in [
        "ok    browser: Chromium ",
        "ok    driver: ChromeDriver ",
        "ok    versions: browser and driver are both ",
        "ok    display: not needed",
        "ok    temp folder: ",
        "ok    kerberos: krb5kdc",
    ] {
        assert!(t.contains(line), "{line}: {t}");
    }
}

/// A driver of another major version than the browser (here a stand-in that only says its
/// version) is named, with the fix.
#[test]
fn a_driver_of_another_version_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("chromedriver");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'ChromeDriver 99.0.4844.51 (stand-in)'\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = std::env::join_paths(
        std::iter::once(dir.path().to_path_buf())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let (code, t) = doctor(&[], Some(Path::new(&path)));
    assert_eq!(code, Some(2), "{t}");
    assert!(
        t.contains("FAIL  versions: the browser (Chromium")
            && t.contains("differ in major version"),
        "{t}"
    );
}

/// No driver on PATH, a --headed without a display, an unreachable grid: each named as `run`
/// names it.
#[test]
fn each_problem_is_named_as_run_names_it() {
    let empty = tempfile::tempdir().unwrap();
    let (code, t) = doctor(&["--mode", "fba"], Some(empty.path()));
    assert_eq!(code, Some(2), "{t}");
    let run = Command::new(env!("CARGO_BIN_EXE_logout-harness"))
        .args(["run", "--mode", "fba", "--tags", "@sign_out"])
        .env("PATH", empty.path())
        .output()
        .unwrap();
    let run = text(&run);
    let said = "looked for `chromedriver` on PATH";
    assert!(t.contains("FAIL  driver: ") && t.contains(said), "{t}");
    assert!(run.contains(said), "{run}");

    let (code, t) = doctor(&["--headed"], None);
    assert_eq!(code, Some(2), "{t}");
    let run = Command::new(env!("CARGO_BIN_EXE_logout-harness"))
        .args(["run", "--headed", "--mode", "fba"])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    let run = text(&run);
    let said = "--headed shows the browser in a window, and there is no display";
    assert!(t.contains(&format!("FAIL  display: {said}")), "{t}");
    assert!(run.contains(said), "{run}");

    let (code, t) = doctor(&["--webdriver", "http://127.0.0.1:9"], None);
    assert_eq!(code, Some(2), "{t}");
    assert!(
        t.contains("FAIL  webdriver: ") && t.contains("127.0.0.1:9"),
        "{t}"
    );
}
