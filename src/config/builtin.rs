//! What ships inside the binary: the default features, the policies and the embedded targets'
//! baseline cookie snapshots (collected by `build.rs`), so the harness works wherever it is
//! installed. A user still points at their own with `--policy FILE` and `FEATURE_PATH`.
//!
//! The run reads features from a path (a user's are files), so it unpacks the built-in files into
//! a private temp folder ([`Unpacked`](crate::engine::rundir::Unpacked)), removed afterwards:
//! the features then run exactly as they would from a checkout. Messages name such a file
//! `built-in features/sign_out.feature` ([`label`]), never the temp path.

use std::path::Path;

/// Every built-in file: (path as in the repository, content).
static FILES: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/builtin_files.rs"));

const POLICIES: &str = "fixtures/policies/";
/// The features folder, as in the repository.
pub const FEATURES: &str = "features/";
/// The embedded targets' baseline snapshots, as in the repository.
pub const SNAPSHOTS: &str = "features/snapshots/";
/// The temp folders of the unpacked built-in files
/// ([`Unpacked`](crate::engine::rundir::Unpacked)) start with this, which is how [`label`] knows
/// them.
pub const PREFIX: &str = "logout-harness-builtin-";

/// Every built-in file: (path as in the repository, e.g. `features/sign_out.feature`, content).
pub fn files() -> &'static [(&'static str, &'static str)] {
    FILES
}

/// The built-in feature files: (path as in the repository, content).
pub fn features() -> impl Iterator<Item = (&'static str, &'static str)> {
    FILES.iter().copied().filter(|(p, _)| {
        p.strip_prefix(FEATURES)
            .is_some_and(|rest| !rest.contains('/') && rest.ends_with(".feature"))
    })
}

/// The names of the built-in policies (`default`, `strict`), for `--policy NAME`.
pub fn policy_names() -> Vec<&'static str> {
    FILES
        .iter()
        .filter_map(|(p, _)| p.strip_prefix(POLICIES)?.strip_suffix(".yaml"))
        .collect()
}

/// The path (as in the repository) of the built-in policy `name`, if there is one.
pub fn policy_path(name: &str) -> Option<&'static str> {
    FILES.iter().map(|(p, _)| *p).find(|p| {
        p.strip_prefix(POLICIES)
            .and_then(|r| r.strip_suffix(".yaml"))
            == Some(name)
    })
}

/// Whether a `--policy` value names a built-in policy rather than a file: a bare word (no path
/// separator, no extension) that is one of [`policy_names`].
pub fn is_policy_name(value: &str) -> bool {
    !value.contains(['/', '\\', '.']) && policy_path(value).is_some()
}

/// How messages name `path`: `built-in features/sign_out.feature` for a file of an
/// [`Unpacked`](crate::engine::rundir::Unpacked)
/// folder (anywhere in the path), the path itself otherwise.
pub fn label(path: &Path) -> String {
    let mut parts = path.components();
    while let Some(part) = parts.next() {
        if part.as_os_str().to_string_lossy().starts_with(PREFIX) {
            let rel = parts.as_path();
            return if rel.as_os_str().is_empty() {
                "built-in files".to_string()
            } else {
                format!("built-in {}", rel.display())
            };
        }
    }
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rundir::Unpacked;

    #[test]
    fn every_feature_and_policy_of_the_repository_is_built_in() {
        // Compared with the folders, so a file added without a rebuild of the list would fail.
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let on_disk = |dir: &str, suffix: &str| {
            let mut names: Vec<String> = std::fs::read_dir(root.join(dir))
                .unwrap()
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.ends_with(suffix))
                .map(|n| format!("{dir}/{n}"))
                .collect();
            names.sort();
            names
        };
        let built_in: Vec<String> = features().map(|(p, _)| p.to_string()).collect();
        assert_eq!(built_in, on_disk("features", ".feature"));
        let mut policies: Vec<String> = policy_names()
            .iter()
            .map(|n| format!("fixtures/policies/{n}.yaml"))
            .collect();
        policies.sort();
        assert_eq!(policies, on_disk("fixtures/policies", ".yaml"));
        for (p, text) in files() {
            assert_eq!(
                std::fs::read_to_string(root.join(p)).unwrap(),
                *text,
                "{p} differs from the built-in copy"
            );
        }
    }

    #[test]
    fn policy_names_and_paths() {
        assert!(is_policy_name("default"));
        assert!(is_policy_name("strict"));
        assert!(!is_policy_name("strict.yaml"));
        assert!(!is_policy_name("./strict"));
        assert!(!is_policy_name("lenient"));
    }

    #[test]
    fn unpacked_files_are_labelled_built_in_and_removed_after() {
        let u = Unpacked::new().unwrap();
        let root = u.root().to_path_buf();
        let feature = u.features().join("sign_out.feature");
        assert!(feature.is_file());
        assert_eq!(u.label(&feature), "built-in features/sign_out.feature");
        assert_eq!(u.label(Path::new("/etc/x.yaml")), "/etc/x.yaml");
        assert_eq!(
            label(Path::new("features/sign_out.feature")),
            "features/sign_out.feature"
        );
        assert!(u.policy("strict").unwrap().is_file());
        drop(u);
        assert!(!root.exists());
    }
}
