//! The cookies left behind, as a committed insta snapshot: names, hosts, paths, flags and lifetimes,
//! never values. An upgrade that changes them shows up as a reviewable diff.
//!
//! Snapshots are named explicitly (feature, scenario, target, browser): insta's automatic names use
//! a process-wide counter, which concurrent scenarios would make random.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::browser::JarCookie;

/// A cookie's shape: everything reviewable about it, nothing secret.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CookieShape {
    /// Host the cookie belongs to (port numbers are never part of a cookie's domain).
    pub domain: String,
    /// Path.
    pub path: String,
    /// Name.
    pub name: String,
    /// Secure flag.
    pub secure: bool,
    /// HttpOnly flag.
    pub http_only: bool,
    /// SameSite as set by the server (`unset` when absent).
    pub same_site: String,
    /// `session`, or `persistent ~Nd` (days, rounded) so a run-to-run clock shift is no diff.
    pub lifetime: String,
}

impl CookieShape {
    /// The shape of a jar cookie, its lifetime measured from `now` (seconds since the epoch).
    pub fn of(cookie: &JarCookie, now: f64) -> CookieShape {
        let lifetime = if cookie.session {
            "session".to_string()
        } else {
            let days = ((cookie.expires - now) / 86_400.0).round().max(0.0);
            format!("persistent ~{days}d")
        };
        CookieShape {
            domain: cookie.domain.clone(),
            path: cookie.path.clone(),
            name: cookie.name.clone(),
            secure: cookie.secure,
            http_only: cookie.http_only,
            same_site: cookie.same_site.clone().unwrap_or_else(|| "unset".into()),
            lifetime,
        }
    }

    fn line(&self) -> String {
        format!(
            "{}@{}{} ({}, {}{}SameSite={})",
            self.name,
            self.domain,
            self.path,
            self.lifetime,
            if self.secure { "Secure, " } else { "" },
            if self.http_only { "HttpOnly, " } else { "" },
            self.same_site
        )
    }
}

/// The shapes of a jar, sorted, taken now.
pub fn shapes(cookies: &[JarCookie]) -> Vec<CookieShape> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default();
    let mut shapes: Vec<CookieShape> = cookies.iter().map(|c| CookieShape::of(c, now)).collect();
    shapes.sort();
    shapes
}

/// The result of comparing a jar with its snapshot.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// The snapshot file.
    pub file: PathBuf,
    /// Whether insta accepted the value.
    pub matches: bool,
    /// Whether a snapshot existed before this comparison (false on a target's first run).
    pub had_baseline: bool,
    /// A readable diff (`+` new in the browser, `-` in the snapshot only); empty when they match.
    pub diff: String,
}

/// The longest snapshot name kept as is: with insta's `.snap.new` it stays well under the 255
/// bytes a file name may have on Linux file systems.
const MAX_NAME: usize = 200;

/// A snapshot name made of its parts, safe as a file name. A name longer than [`MAX_NAME`] (a
/// long target `name:` or scenario title) is cut and ends in a hash of the whole, so it stays
/// unique and the same from run to run.
pub fn snapshot_name(parts: &[&str]) -> String {
    let full = readable_name(parts);
    if full.len() <= MAX_NAME {
        return full;
    }
    let hash = format!("{:016x}", fnv1a(full.as_bytes()));
    // The name is ASCII, so any byte index is a character boundary.
    let keep = MAX_NAME - hash.len() - 2;
    format!("{}__{hash}", full[..keep].trim_end_matches('_'))
}

/// FNV-1a, 64 bits: small, and stable across Rust releases (std's hasher is not promised to be),
/// which a committed file name needs.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn readable_name(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| {
            p.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' {
                        c.to_ascii_lowercase()
                    } else {
                        '_'
                    }
                })
                .collect::<String>()
        })
        .map(|p| p.trim_matches('_').to_string())
        .collect::<Vec<_>>()
        .join("__")
}

/// Compares `shapes` with the snapshot `name` in `dir` through insta.
///
/// insta decides (and, outside CI, writes `.snap.new` for review); a mismatch is reported, not
/// panicked, so the caller can turn it into a verdict with the diff attached.
pub fn compare(
    dir: &Path,
    name: &str,
    description: &str,
    shapes: &[CookieShape],
) -> Result<Comparison, String> {
    let file = dir.join(format!("{name}.snap"));
    let had_baseline = file.exists();
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot make the snapshot folder {}: {e}", dir.display()))?;
    // A snapshot that cannot even be looked for (a name the file system refuses, no permission)
    // is "could not judge", whether or not insta would write (it does not in CI).
    if let Err(e) = std::fs::File::open(&file)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        return Err(format!(
            "cannot compare the cookies with the snapshot {}: {e}; check that the snapshot \
             folder (--snapshots) is readable and on a file system that takes the name",
            file.display()
        ));
    }
    // insta reads a relative snapshot path as relative to the source file of the assertion (this
    // file, in the tree the harness was built from), not to the current directory: a user's
    // `--target targets/prod.yaml` would look for its baseline in the harness's `src/targets/`.
    let absolute = std::path::absolute(dir)
        .map_err(|e| format!("cannot resolve the snapshot folder {}: {e}", dir.display()))?;
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(absolute);
    settings.set_prepend_module_to_snapshot(false);
    settings.set_description(description);
    settings.set_omit_expression(true);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        settings.bind(|| insta::assert_yaml_snapshot!(name, shapes));
    }));
    // insta panics for a difference ("snapshot assertion for ... failed") and also when it cannot
    // read or write a file; only the first is a verdict, the other is "could not judge".
    if let Err(payload) = &outcome {
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("insta failed without a message");
        if !message.starts_with("snapshot assertion for") {
            return Err(format!(
                "cannot compare the cookies with the snapshot {}: {message}; check that the \
                 snapshot folder (--snapshots) is writable and on a file system that takes the name",
                file.display()
            ));
        }
    }
    let matches = outcome.is_ok();
    let diff = if matches {
        String::new()
    } else {
        diff_against_file(&file, shapes)
    };
    Ok(Comparison {
        file,
        matches,
        had_baseline,
        diff,
    })
}

fn diff_against_file(file: &Path, shapes: &[CookieShape]) -> String {
    let Ok(text) = std::fs::read_to_string(file) else {
        let mut out = format!("no snapshot {} yet; the browser holds:\n", file.display());
        if shapes.is_empty() {
            out.push_str("  (no cookies)\n");
        }
        for s in shapes {
            out.push_str(&format!("+ {}\n", s.line()));
        }
        return out;
    };
    // An insta file is a `---`-delimited header followed by the YAML body.
    let body = text.splitn(3, "---").nth(2).unwrap_or_default();
    let recorded: Vec<CookieShape> = match serde_yaml::from_str(body) {
        Ok(v) => v,
        Err(e) => return format!("the snapshot {} is not readable: {e}", file.display()),
    };
    let mut out = String::new();
    for s in &recorded {
        if !shapes.contains(s) {
            out.push_str(&format!("- {}\n", s.line()));
        }
    }
    for s in shapes {
        if !recorded.contains(s) {
            out.push_str(&format!("+ {}\n", s.line()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookie(name: &str, session: bool) -> JarCookie {
        JarCookie {
            name: name.into(),
            value: "secret-value".into(),
            domain: "crm.contoso.test".into(),
            path: "/".into(),
            expires: if session { -1.0 } else { 4_000_000_000.0 },
            http_only: true,
            secure: true,
            session,
            same_site: None,
        }
    }

    #[test]
    fn shapes_never_hold_values() {
        let yaml = serde_yaml::to_string(&shapes(&[cookie("MSISAuth", true)])).unwrap();
        assert!(!yaml.contains("secret-value"));
        assert!(yaml.contains("lifetime: session"));
    }

    #[test]
    fn names_are_file_safe_and_explicit() {
        assert_eq!(
            snapshot_name(&[
                "Sign Out",
                "Sign Out from the profile menu",
                "embedded-ifd",
                "chromium"
            ]),
            "sign_out__sign_out_from_the_profile_menu__embedded-ifd__chromium"
        );
    }

    #[test]
    fn long_names_are_cut_with_a_stable_hash() {
        let long = "x".repeat(400);
        let a = snapshot_name(&["Sign Out", "scenario", &long, "chromium"]);
        let b = snapshot_name(&["Sign Out", "scenario", &format!("{long}y"), "chromium"]);
        assert!(a.len() <= MAX_NAME, "{}", a.len());
        assert_ne!(a, b, "different parts, different names");
        assert_eq!(
            a,
            snapshot_name(&["Sign Out", "scenario", &long, "chromium"])
        );
        assert!(a.starts_with("sign_out__scenario__xxx"), "{a}");
        // A file of that name (plus insta's suffix) can be made.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(format!("{a}.snap.new")), "").unwrap();
    }

    #[test]
    fn a_snapshot_folder_that_cannot_be_written_is_an_error_not_a_difference() {
        let dir = tempfile::tempdir().unwrap();
        // A file where the folder should be: nothing can be created under it.
        let blocked = dir.path().join("blocked");
        std::fs::write(&blocked, "").unwrap();
        let now = shapes(&[cookie("ReqClientId", false)]);
        assert!(compare(&blocked.join("sub"), "jar", "test", &now).is_err());
        let too_long = "n".repeat(300);
        let e = compare(dir.path(), &too_long, "test", &now).unwrap_err();
        assert!(e.contains("cannot compare"), "{e}");
    }

    #[test]
    fn mismatch_is_reported_with_a_diff_and_match_passes() {
        let dir = tempfile::tempdir().unwrap();
        let recorded = shapes(&[cookie("ReqClientId", false)]);
        // Record a baseline the way a reviewer would accept it.
        std::fs::write(
            dir.path().join("jar.snap"),
            format!(
                "---\nsource: test\n---\n{}",
                serde_yaml::to_string(&recorded).unwrap()
            ),
        )
        .unwrap();
        let now = shapes(&[cookie("ReqClientId", false), cookie("MSISAuth", true)]);
        let c = compare(dir.path(), "jar", "test", &now).unwrap();
        assert!(!c.matches);
        assert!(c.had_baseline);
        assert!(
            c.diff.contains("+ MSISAuth@crm.contoso.test/"),
            "{}",
            c.diff
        );
        assert!(!c.diff.contains("ReqClientId"), "{}", c.diff);
    }

    #[test]
    fn a_first_run_is_told_apart_from_a_difference() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("snapshots");
        let now = shapes(&[cookie("ReqClientId", false)]);
        let c = compare(&sub, "jar", "test", &now).unwrap();
        assert!(!c.had_baseline, "no snapshot existed");
    }
}
