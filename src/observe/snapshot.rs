//! The cookies left behind, as a committed snapshot in insta's file format: names, hosts, paths,
//! flags and lifetimes, never values. An upgrade that changes them shows up as a reviewable diff.
//!
//! Snapshots are named explicitly (feature, scenario, target, browser). The harness compares and
//! writes them itself, reading through insta's API: insta's assertion macros panic on a
//! difference and print advice about cargo, which a user of the binary does not have.

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
        // A name or path can carry a password (a state cookie named after the form it saved):
        // redacted here, it is redacted in every snapshot, diff and evidence made of shapes.
        let redact = crate::config::secrets::redact_known;
        CookieShape {
            domain: redact(&cookie.domain),
            path: redact(&cookie.path),
            name: redact(&cookie.name),
            secure: cookie.secure,
            http_only: cookie.http_only,
            same_site: cookie.same_site.clone().unwrap_or_else(|| "unset".into()),
            lifetime,
        }
    }

    /// The shape on one line, as diffs show it.
    pub fn line(&self) -> String {
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

/// A persistent cookie that expires within this long is on its way out, not a cookie left behind:
/// a correct sign-out may overwrite a cookie with an emptied value and `Max-Age=1`, and whether
/// the browser has dropped it yet when the jar is read depends on the machine's speed.
pub const EXPIRING_WITHIN_S: f64 = 2.0;

/// Whether `cookie` is on its way out at `now` (seconds since the epoch): see
/// [`EXPIRING_WITHIN_S`]. One meaning for the auth-cookie check's evidence and the snapshot.
pub fn expiring(cookie: &JarCookie, now: f64) -> bool {
    !cookie.session && cookie.expires - now <= EXPIRING_WITHIN_S
}

/// Seconds since the epoch, now.
pub fn now_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// The shapes of a jar, sorted, taken now.
pub fn shapes(cookies: &[JarCookie]) -> Vec<CookieShape> {
    let now = now_s();
    let mut shapes: Vec<CookieShape> = cookies.iter().map(|c| CookieShape::of(c, now)).collect();
    shapes.sort();
    shapes
}

/// The shapes of the cookies left behind, for the snapshot: the jar without the cookies on their
/// way out ([`expiring`]), which a moment later the browser no longer holds, and without those the
/// target leaves out; names, paths and domains with their volatile parts replaced. So the
/// snapshot depends neither on how fast the machine read the jar after sign-out nor on the random
/// tokens a deployment puts in its cookies' names.
pub fn leftover_shapes(cookies: &[JarCookie], normaliser: &Normaliser) -> Vec<CookieShape> {
    let now = now_s();
    let mut shapes: Vec<CookieShape> = cookies
        .iter()
        .filter(|c| !expiring(c, now) && normaliser.ignored(c).is_none())
        .map(|c| normaliser.shape(CookieShape::of(c, now)))
        .collect();
    shapes.sort();
    shapes
}

/// What makes the cookies of two sign-ins comparable: the parts of names, paths and domains that
/// change from sign-in to sign-in replaced by a placeholder (as insta's redactions do), and the
/// cookies a target leaves out. Built in: UUIDs (`{uuid}`), hex runs of 16 or more (`{hex}`) and
/// random tokens (`{token}`: 16 or more letters, digits, `-` and `_` holding a digit and a
/// letter, or switching between upper and lower case 8 times or more, which words written in
/// camel case do not); the target file's `snapshot.volatile` adds its own (`{volatile}`).
#[derive(Debug, Default)]
pub struct Normaliser {
    volatile: Vec<(regex::Regex, String)>,
    ignore: Vec<(String, String)>,
}

/// The placeholders of [`Normaliser`], for the evidence.
pub const PLACEHOLDERS: [&str; 4] = ["{uuid}", "{hex}", "{token}", "{volatile}"];

impl Normaliser {
    /// The normaliser of a target's `snapshot:` (its patterns were checked when it was loaded).
    pub fn new(spec: &crate::config::target::SnapshotSpec) -> Normaliser {
        Normaliser {
            volatile: spec
                .volatile
                .iter()
                .filter_map(|v| Some((regex::Regex::new(&v.pattern).ok()?, v.reason.clone())))
                .collect(),
            ignore: spec
                .ignore
                .iter()
                .map(|i| (i.cookie.clone(), i.reason.clone()))
                .collect(),
        }
    }

    /// Why `cookie` is left out of the snapshot, if it is (`snapshot.ignore`).
    pub fn ignored(&self, cookie: &JarCookie) -> Option<&str> {
        self.ignore.iter().find_map(|(entry, reason)| {
            let entry = crate::config::target::AuthCookie::parse(entry);
            let host_ok = entry.matches_host(&cookie.domain).unwrap_or(true);
            (entry.matches_name(&cookie.name) && host_ok).then_some(reason.as_str())
        })
    }

    /// The declared volatile patterns, with their reasons, for the evidence.
    pub fn declared(&self) -> impl Iterator<Item = (&str, &str)> {
        self.volatile
            .iter()
            .map(|(re, why)| (re.as_str(), why.as_str()))
    }

    /// `text` with its volatile parts replaced: the target's patterns first, then the built-in
    /// shapes.
    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (re, _) in &self.volatile {
            out = re.replace_all(&out, "{volatile}").into_owned();
        }
        builtin_volatile(&out)
    }

    fn shape(&self, shape: CookieShape) -> CookieShape {
        CookieShape {
            domain: self.text(&shape.domain),
            path: self.text(&shape.path),
            name: self.text(&shape.name),
            ..shape
        }
    }
}

/// [`Normaliser`]'s built-in shapes.
fn builtin_volatile(text: &str) -> String {
    static UUID: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let uuid = UUID.get_or_init(|| {
        regex::Regex::new(
            "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
        )
        .expect("a valid pattern")
    });
    let text = uuid.replace_all(text, "{uuid}");
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        out.push_str(volatile_run(run).unwrap_or(run));
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// The placeholder for a run of letters, digits, `-` and `_`, if it looks random.
fn volatile_run(run: &str) -> Option<&'static str> {
    if run.len() < 16 {
        return None;
    }
    let digits = run.chars().any(|c| c.is_ascii_digit());
    let letters = run.chars().any(|c| c.is_ascii_alphabetic());
    if digits && run.chars().all(|c| c.is_ascii_hexdigit()) {
        return Some("{hex}");
    }
    let switches = run
        .chars()
        .filter(|c| c.is_ascii_alphabetic())
        .map(|c| c.is_ascii_uppercase())
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|w| w[0] != w[1])
        .count();
    ((digits && letters) || switches >= 8).then_some("{token}")
}

/// The result of comparing a jar with its snapshot.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// The snapshot file.
    pub file: PathBuf,
    /// Whether the cookies seen are the recorded ones (or were just recorded, with
    /// [`SnapshotWrites::Accept`]).
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

/// Why the cookies could not be compared with their snapshot: "could not judge", never a
/// difference.
#[derive(Debug)]
pub enum SnapshotError {
    /// The snapshot folder could not be made.
    Folder {
        /// The folder.
        dir: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// The snapshot (or its review file) could not be opened or written.
    File {
        /// The snapshot file.
        file: PathBuf,
        /// What was being done.
        what: &'static str,
        /// Why.
        cause: String,
    },
    /// The snapshot is not a list of cookie shapes in insta's format.
    Unreadable {
        /// The snapshot file.
        file: PathBuf,
        /// What the reader said.
        cause: String,
    },
}

impl std::fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SnapshotError::Folder { dir, cause } => {
                write!(
                    f,
                    "cannot make the snapshot folder {}: {cause}",
                    dir.display()
                )
            }
            SnapshotError::File { file, what, cause } => write!(
                f,
                "cannot compare the cookies with the snapshot {}: {what}: {cause}; check that \
                 the snapshot folder (--snapshots) is readable and writable and on a file system \
                 that takes the name",
                file.display()
            ),
            SnapshotError::Unreadable { file, cause } => write!(
                f,
                "the snapshot {} is not readable: {cause}; fix or delete it, then record the \
                 baseline again with --update-snapshots",
                file.display()
            ),
        }
    }
}

impl std::error::Error for SnapshotError {}

/// Steps report the failure as their message ("not judged").
impl From<SnapshotError> for String {
    fn from(e: SnapshotError) -> String {
        e.to_string()
    }
}

/// What a comparison may write where the cookies differ from the baseline, or there is none yet.
/// Decided once by the command from its flags and environment, never read here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotWrites {
    /// `--update-snapshots`: the cookies seen become the baseline (`NAME.snap`), which then
    /// matches.
    Accept,
    /// Outside CI: the cookies seen are written beside the baseline as `NAME.snap.new`, in insta's
    /// format, for review (`cargo insta review` reads it too); the baseline is untouched.
    Review,
    /// In CI: nothing is written.
    Nothing,
}

/// Compares `shapes` with the snapshot `name` in `dir`: the cookies recorded in the file (read
/// through insta's [`insta::Snapshot::from_file`]) against the ones seen, as shapes, so a file's
/// formatting is never a difference. What is written follows `writes`.
pub fn compare(
    dir: &Path,
    name: &str,
    description: &str,
    shapes: &[CookieShape],
    writes: SnapshotWrites,
) -> Result<Comparison, SnapshotError> {
    let file = dir.join(format!("{name}.snap"));
    let pending = dir.join(format!("{name}.snap.new"));
    let cannot = |what: &'static str, e: &dyn std::fmt::Display| SnapshotError::File {
        file: file.clone(),
        what,
        cause: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|cause| SnapshotError::Folder {
        dir: dir.to_path_buf(),
        cause,
    })?;
    // A snapshot that cannot even be looked for (a name the file system refuses, no permission)
    // is "could not judge", whatever would be written.
    let recorded = match std::fs::File::open(&file) {
        Ok(_) => Some(recorded_shapes(&file)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(cannot("cannot open it", &e)),
    };
    let had_baseline = recorded.is_some();
    let mut seen = shapes.to_vec();
    seen.sort();
    let same = recorded.as_ref() == Some(&seen);
    let diff = if same {
        String::new()
    } else {
        diff_shapes(&file, recorded.as_deref(), &seen)
    };
    let matches = match writes {
        _ if same => {
            // A review left over from an earlier difference is stale once the cookies match.
            let _ = std::fs::remove_file(&pending);
            true
        }
        SnapshotWrites::Accept => {
            write_snapshot(&file, description, &seen).map_err(|e| cannot("cannot write it", &e))?;
            let _ = std::fs::remove_file(&pending);
            true
        }
        SnapshotWrites::Review => {
            write_snapshot(&pending, description, &seen)
                .map_err(|e| cannot("cannot write the review file", &e))?;
            false
        }
        SnapshotWrites::Nothing => false,
    };
    Ok(Comparison {
        file,
        matches,
        had_baseline,
        diff: if matches { String::new() } else { diff },
    })
}

/// A snapshot awaiting review: the cookies a run saw (`NAME.snap.new`) where they differ from the
/// baseline (`NAME.snap`), or where there is none yet.
#[derive(Debug)]
pub struct Pending {
    /// The snapshot's name (the file name without `.snap.new`).
    pub name: String,
    /// The baseline it would replace (may not exist yet).
    pub file: PathBuf,
    /// `-` for a cookie in the baseline only, `+` for one seen only (as the run's report shows).
    pub diff: String,
}

/// The snapshots awaiting review in `dir`, by name, each with its diff: what
/// `logout-harness snapshots review` shows, so that no one needs `cargo insta` to review an
/// upgrade.
pub fn pending(dir: &Path) -> Result<Vec<Pending>, SnapshotError> {
    let entries = std::fs::read_dir(dir).map_err(|cause| SnapshotError::Folder {
        dir: dir.to_path_buf(),
        cause,
    })?;
    let mut names: Vec<String> = entries
        .filter_map(|e| {
            let name = e.ok()?.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".snap.new").map(str::to_string)
        })
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let file = dir.join(format!("{name}.snap"));
            let seen = recorded_shapes(&dir.join(format!("{name}.snap.new")))?;
            let recorded = if file.exists() {
                Some(recorded_shapes(&file)?)
            } else {
                None
            };
            let diff = diff_shapes(&file, recorded.as_deref(), &seen);
            Ok(Pending { name, file, diff })
        })
        .collect()
}

/// Accepts the pending snapshot `name` in `dir`: its `.snap.new` becomes the baseline `.snap`
/// (renamed over it, whole).
pub fn accept(dir: &Path, name: &str) -> Result<PathBuf, SnapshotError> {
    let file = dir.join(format!("{name}.snap"));
    let new = dir.join(format!("{name}.snap.new"));
    // Read first: a review file that is not a snapshot never becomes a baseline.
    recorded_shapes(&new)?;
    std::fs::rename(&new, &file).map_err(|e| SnapshotError::File {
        file: file.clone(),
        what: "cannot accept the review file",
        cause: e.to_string(),
    })?;
    Ok(file)
}

/// The cookie shapes a snapshot file records (sorted), read through insta: a `---` header and a
/// YAML body.
fn recorded_shapes(file: &Path) -> Result<Vec<CookieShape>, SnapshotError> {
    let unreadable = |e: &dyn std::fmt::Display| SnapshotError::Unreadable {
        file: file.to_path_buf(),
        cause: e.to_string(),
    };
    let snapshot = insta::Snapshot::from_file(file).map_err(|e| unreadable(&e))?;
    let body = snapshot
        .contents()
        .as_text()
        .map(|t| t.to_string())
        .ok_or_else(|| unreadable(&"it holds binary content, not YAML"))?;
    let mut recorded: Vec<CookieShape> = serde_yaml::from_str(&body).map_err(|e| unreadable(&e))?;
    recorded.sort();
    Ok(recorded)
}

/// Writes `shapes` to `path` in insta's snapshot format (a header with the description, then the
/// YAML body), whole: a temp file beside it, renamed over it.
fn write_snapshot(path: &Path, description: &str, shapes: &[CookieShape]) -> std::io::Result<()> {
    let body = serde_yaml::to_string(shapes).map_err(std::io::Error::other)?;
    // A JSON string is a YAML double-quoted scalar: quotes and control characters escaped.
    let described = serde_json::to_string(description).map_err(std::io::Error::other)?;
    let text =
        format!("---\nsource: src/observe/snapshot.rs\ndescription: {described}\n---\n{body}");
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, text.as_bytes())?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// `-` for a cookie in the snapshot only, `+` for one in the browser only.
fn diff_shapes(file: &Path, recorded: Option<&[CookieShape]>, seen: &[CookieShape]) -> String {
    let Some(recorded) = recorded else {
        let mut out = format!("no snapshot {} yet; the browser holds:\n", file.display());
        if seen.is_empty() {
            out.push_str("  (no cookies)\n");
        }
        for s in seen {
            out.push_str(&format!("+ {}\n", s.line()));
        }
        return out;
    };
    let mut out = String::new();
    for s in recorded {
        if !seen.contains(s) {
            out.push_str(&format!("- {}\n", s.line()));
        }
    }
    for s in seen {
        if !recorded.contains(s) {
            out.push_str(&format!("+ {}\n", s.line()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run outside CI leaves a review file where the cookies differ; `pending` shows its diff
    /// and `accept` makes it the baseline, which the next comparison then matches.
    #[test]
    fn a_pending_snapshot_is_reviewed_then_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let old = [CookieShape::of(&cookie("Kept", true), 0.0)];
        write_snapshot(&dir.path().join("s.snap"), "d", &old).unwrap();
        let seen = vec![
            CookieShape::of(&cookie("Kept", true), 0.0),
            CookieShape::of(&cookie("MSISAuth", false), 0.0),
        ];
        let c = compare(dir.path(), "s", "d", &seen, SnapshotWrites::Review).unwrap();
        assert!(!c.matches);
        let p = pending(dir.path()).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].name, "s");
        assert!(
            p[0].diff.starts_with("+ MSISAuth@crm.contoso.test/"),
            "{}",
            p[0].diff
        );
        assert!(!p[0].diff.contains("Kept"), "{}", p[0].diff);
        accept(dir.path(), "s").unwrap();
        assert!(pending(dir.path()).unwrap().is_empty());
        let again = compare(dir.path(), "s", "d", &seen, SnapshotWrites::Nothing).unwrap();
        assert!(again.matches, "{}", again.diff);
    }

    #[test]
    fn a_password_in_a_cookie_name_or_path_never_reaches_a_snapshot() {
        use base64::Engine as _;
        let pw = "Sn4pshot-pw!";
        crate::config::secrets::remember(pw);
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pw);
        let hexed: String = pw.bytes().map(|b| format!("{b:02x}")).collect();
        let mut c = cookie(&format!("state_{b64}"), true);
        c.path = format!("/flow/{hexed}/");
        let shape = CookieShape::of(&c, 0.0);
        let text = serde_yaml::to_string(&shape).unwrap() + &shape.line();
        assert!(
            !text.contains(&b64) && !text.contains(&hexed) && text.contains("[redacted]"),
            "{text}"
        );
    }

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

    /// A cookie overwritten with `Max-Age=1` by a correct sign-out is not left behind, whether or
    /// not the browser has dropped it yet: the snapshot is the same either way.
    #[test]
    fn a_cookie_on_its_way_out_is_not_left_behind() {
        let now = now_s();
        let mut dying = cookie("sessionid", false);
        dying.expires = now + 1.0;
        let mut kept = cookie("csrftoken", false);
        kept.expires = now + 86_400.0 * 365.0;
        let session = cookie("MSISAuth", true);
        let n = Normaliser::default();
        let with_dying = leftover_shapes(&[dying.clone(), kept.clone(), session.clone()], &n);
        let without = leftover_shapes(&[kept.clone(), session.clone()], &n);
        assert_eq!(with_dying, without);
        assert_eq!(with_dying.len(), 2);
        assert!(expiring(&dying, now) && !expiring(&kept, now) && !expiring(&session, now));
        // The artifacts still show every cookie the jar held.
        assert_eq!(shapes(&[dying, kept, session]).len(), 3);
    }

    /// Only a cookie in its last two seconds is on its way out: a short-lived cookie that sign-out
    /// leaves (a remember-me cookie of an hour, say) is left behind and stays in the snapshot.
    #[test]
    fn a_cookie_with_more_than_two_seconds_to_live_is_left_behind() {
        let now = now_s();
        let at = |seconds: f64| {
            let mut c = cookie("remember", false);
            c.expires = now + seconds;
            c
        };
        assert!(expiring(&at(1.5), now));
        assert!(!expiring(&at(3.0), now));
        assert!(!expiring(&at(3_600.0), now));
        let n = Normaliser::default();
        assert_eq!(leftover_shapes(&[at(3_600.0)], &n).len(), 1);
        assert!(leftover_shapes(&[at(1.0)], &n).is_empty());
    }

    /// A cookie left after sign-out that an upgrade weakens (its Secure or HttpOnly flag gone) is
    /// a difference from the baseline, shown with both shapes.
    #[test]
    fn a_leftover_cookie_losing_secure_or_http_only_differs_from_the_baseline() {
        let dir = tempfile::tempdir().unwrap();
        let strong = cookie("ReqClientId", false);
        let baseline = shapes(std::slice::from_ref(&strong));
        compare(dir.path(), "jar", "test", &baseline, SnapshotWrites::Accept).unwrap();
        let mut no_secure = strong.clone();
        no_secure.secure = false;
        let mut no_http_only = strong.clone();
        no_http_only.http_only = false;
        for (weak, shown) in [
            (no_secure, "(persistent ~{d}d, HttpOnly, SameSite=unset)"),
            (no_http_only, "(persistent ~{d}d, Secure, SameSite=unset)"),
        ] {
            let now = shapes(&[weak]);
            let c = compare(dir.path(), "jar", "test", &now, SnapshotWrites::Nothing).unwrap();
            assert!(!c.matches, "{shown}");
            let days = baseline[0].lifetime.trim_start_matches("persistent ~");
            let days = days.trim_end_matches('d');
            let shown = shown.replace("{d}", days);
            let was = format!("(persistent ~{days}d, Secure, HttpOnly, SameSite=unset)");
            assert!(
                c.diff
                    .contains(&format!("- ReqClientId@crm.contoso.test/ {was}"))
                    && c.diff
                        .contains(&format!("+ ReqClientId@crm.contoso.test/ {shown}")),
                "{}",
                c.diff
            );
        }
    }

    #[test]
    fn volatile_parts_of_names_and_paths_become_placeholders() {
        let n = Normaliser::default();
        // What a sign-in makes anew each time: the same shape, whatever the token.
        assert_eq!(
            n.text("mod_auth_openidc_state_zbLTfmZbsAY-Mr3WBrhQ9w"),
            n.text("mod_auth_openidc_state_Qp0xU8_aJmH7tnVvLk2sYg")
        );
        assert_eq!(
            n.text("/interaction/NvH2Vz1rW6ZkcTQjO3DLB"),
            "/interaction/{token}"
        );
        assert_eq!(
            n.text("/interaction/NvHaVzbrWcZkcTQjOfDLB"),
            "/interaction/{token}"
        );
        assert_eq!(
            n.text("oidc_state_0d4b9a3e-6f1c-4b8e-9a2d-3c5e7f9a1b2c"),
            "oidc_state_{uuid}"
        );
        assert_eq!(n.text("sess_0123456789abcdef"), "{token}");
        assert_eq!(n.text("0123456789abcdef0123"), "{hex}");
        // Names people give cookies stay as they are, CRM's and AD FS's long ones included.
        for name in [
            "MSISAuth",
            "MSISAuth1",
            "MSISLoopDetectionCookie",
            "MSISIPSelectionPersistent",
            "__RequestVerificationToken",
            "next-auth.session-token",
            "ASP.NET_SessionId",
            "ReqClientId",
            "/adfs/ls",
            "crm.contoso.test",
        ] {
            assert_eq!(n.text(name), name);
        }
    }

    #[test]
    fn a_target_declares_its_own_volatile_parts_and_cookies_to_leave_out() {
        use crate::config::target::{IgnoredCookie, SnapshotSpec, VolatilePart};
        let n = Normaliser::new(&SnapshotSpec {
            volatile: vec![VolatilePart {
                pattern: "node[0-9]+".into(),
                reason: "the load balancer's node".into(),
            }],
            ignore: vec![IgnoredCookie {
                cookie: "AWSALB*".into(),
                reason: "the load balancer's stickiness".into(),
            }],
        });
        assert_eq!(n.text("route_node12"), "route_{volatile}");
        let sticky = cookie("AWSALBCORS", false);
        assert_eq!(n.ignored(&sticky), Some("the load balancer's stickiness"));
        let mut kept = cookie("ReqClientId", false);
        kept.name = "route_node7".into();
        let shapes = leftover_shapes(&[sticky, kept], &n);
        assert_eq!(shapes.len(), 1);
        assert_eq!(shapes[0].name, "route_{volatile}");
        assert_eq!(n.declared().count(), 1);
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
        assert!(
            compare(
                &blocked.join("sub"),
                "jar",
                "test",
                &now,
                SnapshotWrites::Review
            )
            .is_err()
        );
        let too_long = "n".repeat(300);
        let e = compare(dir.path(), &too_long, "test", &now, SnapshotWrites::Review).unwrap_err();
        assert!(matches!(e, SnapshotError::File { .. }), "{e}");
        assert!(e.to_string().contains("cannot compare"), "{e}");
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
        let baseline = std::fs::read_to_string(dir.path().join("jar.snap")).unwrap();
        let pending = dir.path().join("jar.snap.new");
        let now = shapes(&[cookie("ReqClientId", false), cookie("MSISAuth", true)]);
        let c = compare(dir.path(), "jar", "test", &now, SnapshotWrites::Nothing).unwrap();
        assert!(!c.matches);
        assert!(c.had_baseline);
        assert!(
            c.diff.contains("+ MSISAuth@crm.contoso.test/"),
            "{}",
            c.diff
        );
        assert!(!c.diff.contains("ReqClientId"), "{}", c.diff);
        assert!(!pending.exists(), "in CI nothing is written");

        // Outside CI the cookies seen wait for review beside the untouched baseline.
        let c = compare(dir.path(), "jar", "test", &now, SnapshotWrites::Review).unwrap();
        assert!(!c.matches);
        let review = std::fs::read_to_string(&pending).unwrap();
        assert!(review.contains("name: MSISAuth"), "{review}");
        assert!(!review.contains("secret-value"), "{review}");
        let read_back = insta::Snapshot::from_file(&pending).unwrap();
        assert_eq!(read_back.metadata().description(), Some("test"));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("jar.snap")).unwrap(),
            baseline
        );

        // The baseline matches itself, and a stale review is removed.
        let c = compare(dir.path(), "jar", "test", &recorded, SnapshotWrites::Review).unwrap();
        assert!(c.matches && c.diff.is_empty(), "{}", c.diff);
        assert!(!pending.exists());

        // --update-snapshots records the cookies seen, which match from then on.
        let c = compare(dir.path(), "jar", "test", &now, SnapshotWrites::Accept).unwrap();
        assert!(c.matches);
        let c = compare(dir.path(), "jar", "test", &now, SnapshotWrites::Nothing).unwrap();
        assert!(c.matches, "{}", c.diff);
    }

    #[test]
    fn a_snapshot_that_is_not_a_cookie_list_is_an_error_not_a_difference() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("jar.snap"),
            "---\nsource: x\n---\nnot: [a list",
        )
        .unwrap();
        let now = shapes(&[cookie("ReqClientId", false)]);
        let e = compare(dir.path(), "jar", "test", &now, SnapshotWrites::Accept).unwrap_err();
        assert!(matches!(e, SnapshotError::Unreadable { .. }), "{e}");
        assert!(e.to_string().contains("not readable"), "{e}");
    }

    #[test]
    fn a_first_run_is_told_apart_from_a_difference() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("snapshots");
        let now = shapes(&[cookie("ReqClientId", false)]);
        let c = compare(&sub, "jar", "test", &now, SnapshotWrites::Review).unwrap();
        assert!(!c.had_baseline, "no snapshot existed");
        assert!(!c.matches);
        assert!(sub.join("jar.snap.new").exists());
    }
}
