//! The feature files of a run: parsed whole before a browser starts (a Gherkin mistake is named
//! by file and line), and the scenarios the tag and name selection keeps.

use super::*;

/// Which scenarios the command line selected.
#[derive(Clone, Debug)]
pub(super) struct Selection {
    pub(super) tags: Option<cucumber::gherkin::tagexpr::TagOperation>,
    pub(super) name: Option<regex::Regex>,
}

impl Selection {
    /// Whether `scenario` runs in a pass of `mode`; `timeout_pass` splits the emulator's passes
    /// into timeout scenarios and the rest (`None` for a real target: everything in one pass).
    pub(super) fn selects(
        &self,
        feature: &cucumber::gherkin::Feature,
        rule: Option<&cucumber::gherkin::Rule>,
        scenario: &cucumber::gherkin::Scenario,
        mode: AuthMode,
        timeout_pass: Option<bool>,
    ) -> bool {
        let all_tags: Vec<&String> = all_tags(feature, rule, scenario).collect();
        let is_timeout = all_tags.iter().any(|t| t.as_str() == TIMEOUT_TAG);
        applies_to_mode(&all_tags, mode)
            && timeout_pass.is_none_or(|p| p == is_timeout)
            && self.tags.as_ref().is_none_or(|t| t.eval(all_tags.iter()))
            && self
                .name
                .as_ref()
                .is_none_or(|r| r.is_match(&scenario.name))
    }

    /// How many scenarios of `feature` a pass would run.
    pub(super) fn count(
        &self,
        feature: &cucumber::gherkin::Feature,
        mode: AuthMode,
        timeout_pass: Option<bool>,
    ) -> usize {
        scenarios_of(feature)
            .filter(|(r, s)| self.selects(feature, *r, s, mode, timeout_pass))
            .count()
    }
}

/// Every scenario of `feature`, with the rule it sits in, if any.
pub(super) fn scenarios_of(
    feature: &cucumber::gherkin::Feature,
) -> impl Iterator<
    Item = (
        Option<&cucumber::gherkin::Rule>,
        &cucumber::gherkin::Scenario,
    ),
> {
    let plain = feature.scenarios.iter().map(|s| (None, s));
    let ruled = feature
        .rules
        .iter()
        .flat_map(|r| r.scenarios.iter().map(move |s| (Some(r), s)));
    plain.chain(ruled)
}

/// A scenario's tags with its feature's and rule's.
pub(super) fn all_tags<'a>(
    feature: &'a cucumber::gherkin::Feature,
    rule: Option<&'a cucumber::gherkin::Rule>,
    scenario: &'a cucumber::gherkin::Scenario,
) -> impl Iterator<Item = &'a String> {
    feature
        .tags
        .iter()
        .chain(rule.map(|r| &r.tags).into_iter().flatten())
        .chain(&scenario.tags)
}

/// The features under each of `paths` (a file, or a folder of `.feature` files), parsed; a parse
/// error is a configuration error (exit 2).
pub(super) type ParsedPaths = Vec<(PathBuf, Vec<cucumber::gherkin::Feature>)>;

pub(super) fn parse_features(paths: &[PathBuf]) -> Result<ParsedPaths, RunError> {
    paths
        .iter()
        .map(|p| {
            let files = if p.is_dir() {
                let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                    .map_err(|e| RunError::Usage(format!("cannot read {}: {e}", p.display())))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|f| f.extension().is_some_and(|x| x == "feature"))
                    .collect();
                found.sort();
                found
            } else {
                vec![p.clone()]
            };
            let features = files
                .iter()
                .map(|f| {
                    // A FIFO or a device named like a feature would block or flood the parser.
                    crate::config::input::read_text(f, crate::config::input::MAX_TEXT)
                        .map_err(|e| RunError::Usage(format!("feature file: {e}")))?;
                    cucumber::gherkin::Feature::parse_path(
                        f,
                        cucumber::gherkin::GherkinEnv::default(),
                    )
                    .map_err(|e| RunError::Usage(gherkin_error(f, &e)))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok((p.clone(), features))
        })
        .collect()
}

/// A feature file's parse error as `file:line: what is wrong`: the parser's own message names
/// only the file, and its position for an unknown keyword is often lines off.
pub(super) fn gherkin_error(file: &Path, e: &cucumber::gherkin::ParseFileError) -> String {
    use cucumber::gherkin::ParseFileError;
    let guide = "a feature file is `Feature: title`, then `Scenario: title` blocks of steps \
                 starting with Given, When, Then, And or But (https://cucumber.io/docs/gherkin/reference/)";
    let (error, source) = match e {
        ParseFileError::Reading { source, .. } => {
            return format!("{}: cannot read the feature file: {source}", file.display());
        }
        ParseFileError::Parsing { error, source, .. } => (error, source),
    };
    let text = std::fs::read_to_string(file).unwrap_or_default();
    if text.trim().is_empty() {
        return format!("{}: the feature file is empty; {guide}", file.display());
    }
    if let Some((line, what)) = suspect_gherkin_line(&text) {
        return format!("{}:{line}: {what}; {guide}", file.display());
    }
    // The parser says "Error at LINE:COL: {expected, ...}".
    let message = source.to_string();
    let at = regex::Regex::new(r"^Error at (\d+):(\d+)")
        .ok()
        .and_then(|r| r.captures(&message))
        .map(|c| format!(":{}:{}", &c[1], &c[2]))
        .unwrap_or_default();
    let what = match error {
        Some(env) => env.to_string().replace('\n', " "),
        None => "not valid Gherkin".to_string(),
    };
    format!("{}{at}: {what}; {guide}", file.display())
}

/// The first line a Gherkin parser cannot take, and why: text before `Feature:`, free text among
/// steps (free text is a description only right under a `Feature:`/`Scenario:`-like line), a
/// table row of the wrong width, a doc string never closed.
pub(super) fn suspect_gherkin_line(text: &str) -> Option<(usize, String)> {
    const HEADINGS: [&str; 10] = [
        "Feature:",
        "Rule:",
        "Background:",
        "Scenario:",
        "Scenario Outline:",
        "Scenario Template:",
        "Example:",
        "Examples:",
        "Scenarios:",
        "Ability:",
    ];
    const STEPS: [&str; 6] = ["Given ", "When ", "Then ", "And ", "But ", "* "];
    let (mut seen_feature, mut in_steps, mut doc) = (false, false, None::<(&str, usize)>);
    let mut table_width = None::<usize>;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some((delimiter, _)) = doc {
            if t.starts_with(delimiter) {
                doc = None;
            }
            continue;
        }
        if t.starts_with('|') {
            // Every row of a table has as many cells as its first.
            let width = t.matches('|').count() - t.matches("\\|").count();
            match table_width {
                Some(w) if w != width => {
                    return Some((
                        i + 1,
                        format!(
                            "table row `{t}` has {} cell(s) where the table's first row has {}",
                            width.saturating_sub(1),
                            w.saturating_sub(1)
                        ),
                    ));
                }
                _ => table_width = Some(width),
            }
            continue;
        }
        table_width = None;
        if t.is_empty() || t.starts_with('#') || t.starts_with('@') {
            continue;
        }
        if let Some(d) = ["\"\"\"", "```"].into_iter().find(|d| t.starts_with(d)) {
            doc = Some((d, i + 1));
            continue;
        }
        if HEADINGS.iter().any(|h| t.starts_with(h)) {
            seen_feature |= t.starts_with("Feature:") || t.starts_with("Ability:");
            if !seen_feature {
                return Some((
                    i + 1,
                    format!("`{t}` comes before the file's `Feature:` line"),
                ));
            }
            in_steps = false;
            continue;
        }
        if STEPS.iter().any(|s| t.starts_with(s)) && seen_feature {
            in_steps = true;
            continue;
        }
        if !seen_feature {
            return Some((
                i + 1,
                format!("`{t}` comes before the file's `Feature:` line"),
            ));
        }
        if in_steps {
            return Some((
                i + 1,
                format!(
                    "`{t}` is not a step, keyword, table row or comment (free text may only \
                     follow a `Feature:` or `Scenario:` line, as its description)"
                ),
            ));
        }
    }
    doc.map(|(d, line)| {
        (
            line,
            format!("`{d}` opens a doc string that is never closed (end it with `{d}`)"),
        )
    })
}
