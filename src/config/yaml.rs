//! Reading the YAML files a user writes (targets and policies), with errors a person can act on:
//! the file, the line and column, the key, and what would have been valid.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize as _;
use serde::de::DeserializeOwned;

/// A configuration file that cannot be used. Always exit code 2.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line, when the parser knows it.
    pub line: Option<usize>,
    /// 1-based column, when the parser knows it.
    pub column: Option<usize>,
    /// The key the error is about, when there is one.
    pub key: Option<String>,
    /// What is wrong and what would be valid.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": ")?;
        if let Some(key) = &self.key {
            write!(f, "key `{key}`: ")?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    /// An error about a whole file (it cannot be read, say).
    pub fn file(file: &Path, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: file.to_path_buf(),
            line: None,
            column: None,
            key: None,
            message: message.into(),
        }
    }
}

/// Reads and parses `path` as `T`. Every struct in `T` should deny unknown fields.
pub fn load<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = crate::config::input::read_text(path, crate::config::input::MAX_TEXT)
        .map_err(|e| ConfigError::file(path, e))?;
    parse(path, &text)
}

/// Parses `text` (read from `path`) as `T`.
pub fn parse<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, ConfigError> {
    if text.trim().is_empty() {
        return Err(ConfigError::file(path, "the file is empty"));
    }
    // The YAML parser takes time quadratic in the nesting of `[` and `{` (200,000 of them took a
    // minute and a half): no target or policy nests more than a few levels.
    if let Some(line) = too_deep(text) {
        return Err(ConfigError {
            line: Some(line),
            ..ConfigError::file(
                path,
                format!(
                    "`[` and `{{` nested more than {MAX_FLOW_NESTING} deep; a target or policy \
                     file needs a few levels"
                ),
            )
        });
    }
    // serde fills a map (users, pages) entry by entry and keeps the last of two equal keys without
    // a word; YAML's generic value refuses them, so a first pass through it catches a duplicate.
    if let Err(e) = serde_yaml::from_str::<NoDuplicates>(text)
        && e.to_string().contains("duplicate entry with key")
    {
        return Err(duplicate_key_error(path, text, &e));
    }
    serde_yaml::from_str(text).map_err(|e| from_yaml_error(path, text, &e))
}

/// Any YAML document, walked only to refuse a key written twice in one mapping.
struct NoDuplicates;

impl<'de> serde::Deserialize<'de> for NoDuplicates {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NoDuplicatesVisitor)
    }
}

struct NoDuplicatesVisitor;

impl<'de> serde::de::Visitor<'de> for NoDuplicatesVisitor {
    type Value = NoDuplicates;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_i64<E>(self, _: i64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_u64<E>(self, _: u64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_f64<E>(self, _: f64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_str<E>(self, _: &str) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_unit<E>(self) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_none<E>(self) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<NoDuplicates, D::Error> {
        NoDuplicates::deserialize(d)
    }
    fn visit_enum<A: serde::de::EnumAccess<'de>>(self, a: A) -> Result<NoDuplicates, A::Error> {
        // A tagged value (`!tag x`): its content may hold mappings too.
        use serde::de::VariantAccess;
        let (_, variant): (serde::de::IgnoredAny, _) = a.variant()?;
        variant.newtype_variant::<NoDuplicates>()
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<NoDuplicates, A::Error> {
        while a.next_element::<NoDuplicates>()?.is_some() {}
        Ok(NoDuplicates)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<NoDuplicates, A::Error> {
        let mut seen: Vec<serde_yaml::Value> = Vec::new();
        while let Some(key) = a.next_key::<serde_yaml::Value>()? {
            if seen.contains(&key) {
                let shown = match &key {
                    serde_yaml::Value::String(s) => format!("{s:?}"),
                    other => serde_yaml::to_string(other)
                        .unwrap_or_default()
                        .trim()
                        .to_string(),
                };
                return Err(serde::de::Error::custom(format!(
                    "duplicate entry with key {shown}"
                )));
            }
            a.next_value::<NoDuplicates>()?;
            seen.push(key);
        }
        Ok(NoDuplicates)
    }
}

/// A key written twice in one mapping: both lines, and that YAML would silently keep only one.
fn duplicate_key_error(path: &Path, text: &str, e: &serde_yaml::Error) -> ConfigError {
    let full = e.to_string();
    let key = full
        .split("with key ")
        .nth(1)
        .map(|rest| {
            let rest = rest.split(" at line ").next().unwrap_or(rest);
            rest.trim_matches(|c| c == '"' || c == '`').to_string()
        })
        .filter(|k| !k.is_empty());
    let reported = e.location().map(|l| l.line()).unwrap_or(1);
    let hits: Vec<(usize, usize)> = match &key {
        Some(k) => text
            .lines()
            .enumerate()
            .filter_map(|(i, l)| {
                let trimmed = l.trim_start().trim_start_matches("- ");
                let rest = trimmed
                    .strip_prefix(k.as_str())
                    .or_else(|| trimmed.strip_prefix(&format!("\"{k}\"")))
                    .or_else(|| trimmed.strip_prefix(&format!("'{k}'")))?;
                rest.trim_start()
                    .starts_with(':')
                    .then(|| (i + 1, l.len() - trimmed.len() + 1))
            })
            .collect(),
        None => Vec::new(),
    };
    // The second occurrence at or after the mapping the parser names is the duplicate.
    let second = hits
        .iter()
        .filter(|(l, _)| *l >= reported.saturating_sub(1))
        .nth(1)
        .or_else(|| hits.get(1))
        .copied();
    let lines = hits
        .iter()
        .map(|(l, _)| l.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    ConfigError {
        file: path.to_path_buf(),
        line: second.map(|(l, _)| l).or(e.location().map(|l| l.line())),
        column: second.map(|(_, c)| c),
        key: key.clone(),
        message: format!(
            "written twice in the same mapping{}; YAML would silently keep only the last one, so \
             remove or rename one of them",
            if hits.len() > 1 {
                format!(" (lines {lines})")
            } else {
                String::new()
            }
        ),
    }
}

fn from_yaml_error(path: &Path, text: &str, e: &serde_yaml::Error) -> ConfigError {
    let full = e.to_string();
    // The library appends " at line L column C" to its message; we report those as fields.
    let message = match full.find(" at line ") {
        Some(i) => full[..i].to_string(),
        None => full.clone(),
    };
    let (mut line, mut column) = match e.location() {
        Some(loc) => (Some(loc.line()), Some(loc.column())),
        None => (None, None),
    };
    let key = key_named_in(&message);
    // Our own validation errors say "key `x`: ..."; the key is reported as a field, not twice.
    let message = match &key {
        Some(k) => message.replace(&format!("key `{k}`: "), ""),
        None => message,
    };
    // The parser may point at the enclosing mapping (or, for our own validation errors, at the
    // document start); point at the key itself, the nearest one at or before the reported line.
    if let Some(k) = &key
        && let Some((kl, kc)) = find_key(text, k, line.unwrap_or(1))
    {
        line = Some(kl);
        column = Some(kc);
    }
    ConfigError {
        file: path.to_path_buf(),
        line,
        column,
        key,
        message,
    }
}

/// The key a serde message is about: "unknown field `x`", "missing field `x`", "... `x` ...".
fn key_named_in(message: &str) -> Option<String> {
    for prefix in [
        "unknown field `",
        "missing field `",
        "duplicate field `",
        "duplicate entry with key \"",
    ] {
        if let Some(rest) = message.split(prefix).nth(1) {
            let end = rest.find(['`', '"'])?;
            return Some(rest[..end].to_string());
        }
    }
    // Our own validation messages name their key as "key `x`".
    let rest = message.split("key `").nth(1)?;
    Some(rest[..rest.find('`')?].to_string())
}

/// The line and column of `key:` nearest to `near_line`: the closest at or before it, else the
/// first after it.
fn find_key(text: &str, key: &str, near_line: usize) -> Option<(usize, usize)> {
    let hits: Vec<(usize, usize)> = text
        .lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let trimmed = l.trim_start().trim_start_matches("- ");
            let rest = trimmed
                .strip_prefix(key)
                .or_else(|| trimmed.strip_prefix(&format!("\"{key}\"")))
                .or_else(|| trimmed.strip_prefix(&format!("'{key}'")))?;
            rest.trim_start()
                .starts_with(':')
                .then(|| (i + 1, l.len() - trimmed.len() + 1))
        })
        .collect();
    hits.iter()
        .rev()
        .find(|(l, _)| *l <= near_line)
        .or_else(|| hits.first())
        .copied()
}

/// The deepest nesting of YAML flow collections a target or policy file may have.
const MAX_FLOW_NESTING: usize = 64;

/// The line (from 1) where `[` / `{` nesting passes [`MAX_FLOW_NESTING`], outside quotes and
/// comments; `None` when it never does.
fn too_deep(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (n, line) in text.lines().enumerate() {
        let mut quote: Option<char> = None;
        for c in line.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, '#') => break,
                (None, '[' | '{') => {
                    depth += 1;
                    if depth > MAX_FLOW_NESTING {
                        return Some(n + 1);
                    }
                }
                (None, ']' | '}') => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        name: String,
        inner: Inner,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        count: u32,
    }

    #[test]
    fn unknown_key_points_at_the_key_line() {
        let e = parse::<Doc>(
            Path::new("t.yaml"),
            "name: x\ninner:\n  count: 1\n  colour: red\n",
        )
        .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("colour"));
        assert_eq!(e.line, Some(4));
        assert_eq!(e.column, Some(3));
        assert!(e.message.contains("expected"), "{e}");
        assert!(
            e.to_string().starts_with("t.yaml:4:3: key `colour`: "),
            "{e}"
        );
        assert!(e.message.contains("unknown field `colour`"), "{e}");
    }

    #[test]
    fn wrong_type_names_line_and_what_was_expected() {
        let e = parse::<Doc>(Path::new("t.yaml"), "name: x\ninner:\n  count: many\n").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.message.contains("expected u32"), "{e}");
    }

    #[test]
    fn missing_key_is_named() {
        let e = parse::<Doc>(Path::new("t.yaml"), "name: x\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("inner"));
        assert!(e.line.is_some(), "{e}");
    }

    #[test]
    fn duplicate_keys_are_refused_not_merged() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Users {
            users: std::collections::BTreeMap<String, u32>,
        }
        let e = parse::<Users>(
            Path::new("t.yaml"),
            "users:\n  alice: 1\n  bob: 2\n  alice: 3\n",
        )
        .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("alice"), "{e}");
        assert_eq!(e.line, Some(4), "{e}");
        assert!(e.message.contains("lines 2, 4"), "{e}");
    }

    #[test]
    fn empty_file_is_an_error_not_a_default() {
        let e = parse::<Doc>(Path::new("t.yaml"), "\n").unwrap_err();
        assert!(e.message.contains("empty"));
    }
}
