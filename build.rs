//! Compiles the default features, policies and the embedded targets' baseline cookie snapshots
//! into the binary (`src/builtin.rs`), so an installed `logout-harness` needs no source tree.
//!
//! The list is generated from the folders, never written by hand: a new `features/*.feature` or
//! `fixtures/policies/*.yaml` is picked up by the next build.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// (folder relative to the package, file-name suffix) of what is built in.
const SOURCES: &[(&str, &str)] = &[
    ("features", ".feature"),
    ("features/snapshots", ".snap"),
    ("fixtures/policies", ".yaml"),
];

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    let mut entries = String::from("&[\n");
    for (dir, suffix) in SOURCES {
        // A folder in rerun-if-changed is scanned whole, so an added file triggers a rebuild.
        println!("cargo:rerun-if-changed={dir}");
        for file in files(&manifest.join(dir), suffix) {
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_else(|| {
                    panic!("{}: file names must be UTF-8", file.display());
                });
            // include_str! embeds the content; the absolute path stays in the generated source
            // only, never in the binary.
            writeln!(
                entries,
                "    ({:?}, include_str!({:?})),",
                format!("{dir}/{name}"),
                file.display().to_string()
            )
            .expect("write to a String");
        }
    }
    entries.push_str("]\n");
    std::fs::write(out.join("builtin_files.rs"), entries).expect("write builtin_files.rs");

    // insta's snapshot macro bakes this package's source path into the binary and, at run time,
    // runs `cargo metadata` there to find a workspace. An installed binary has neither; the
    // harness names every snapshot path itself, so insta's workspace root is just the current
    // directory (the repository when run from it, as `cargo test` does).
    println!("cargo:rustc-env=INSTA_WORKSPACE_ROOT=.");
    println!("cargo:rerun-if-changed=build.rs");
}

/// The files in `dir` whose names end in `suffix`, sorted (a missing folder has none).
fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = read
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(suffix))
        })
        .collect();
    found.sort();
    found
}
