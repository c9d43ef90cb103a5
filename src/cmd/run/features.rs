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

/// The features under each of `paths` (a file, or a folder of `.feature` files), parsed and
/// with every Scenario Outline expanded into its examples; a parse error is a configuration error
/// (exit 2). These very features are what cucumber runs ([`Parsed`]), so the plan (which scenarios
/// apply, how many) and the run see the same scenarios, an Examples block's tags included.
pub(super) type ParsedPaths = Vec<(PathBuf, Vec<cucumber::gherkin::Feature>)>;

/// How deep [`parse_features`] looks into a folder of features.
const MAX_FOLDER_DEPTH: usize = 16;

pub(super) fn parse_features(paths: &[PathBuf]) -> Result<ParsedPaths, RunError> {
    paths
        .iter()
        .map(|p| {
            let files = if p.is_dir() {
                let mut found = Vec::new();
                feature_files(p, 0, &mut found)?;
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
                    let mut feature = cucumber::gherkin::Feature::parse_path(
                        f,
                        cucumber::gherkin::GherkinEnv::default(),
                    )
                    .map_err(|e| RunError::Usage(gherkin_error(f, &e)))?;
                    // Built-in features are read from a private temp copy; messages (cucumber's
                    // failed-step lines too) name them as built-in.
                    feature.path = feature
                        .path
                        .map(|p| PathBuf::from(crate::config::builtin::label(&p)));
                    expand_outlines(feature)
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok((p.clone(), features))
        })
        .collect()
}

/// The `.feature` files (any case, as cucumber's own parser finds them) under `dir` and its
/// folders; symbolic links to folders are not followed (no loop).
fn feature_files(dir: &Path, depth: usize, found: &mut Vec<PathBuf>) -> Result<(), RunError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| RunError::Usage(format!("cannot read {}: {e}", dir.display())))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if depth + 1 < MAX_FOLDER_DEPTH {
                feature_files(&path, depth + 1, found)?;
            }
        } else if path
            .extension()
            .is_some_and(|x| x.eq_ignore_ascii_case("feature"))
        {
            found.push(path);
        }
    }
    Ok(())
}

/// `feature` with each Scenario Outline replaced by one scenario per example row, exactly as
/// cucumber's own parser expands it (its `expand_examples`: the row's values in the name, steps,
/// doc strings and tables, the Examples block's tags added, the row's line as position).
///
/// cucumber's expansion clones the whole outline, every row of every table, once per row:
/// quadratic, 5.6 s for 4,000 rows. Each row is handed to it here as an outline of its own
/// holding that one row (its position set so the expanded line is the same), which keeps the
/// semantics cucumber's and the cost linear.
fn expand_outlines(
    mut feature: cucumber::gherkin::Feature,
) -> Result<cucumber::gherkin::Feature, RunError> {
    use cucumber::feature::Ext as _;
    fn one_row_outlines(
        scenarios: Vec<cucumber::gherkin::Scenario>,
    ) -> Vec<cucumber::gherkin::Scenario> {
        let mut out = Vec::with_capacity(scenarios.len());
        for mut scenario in scenarios {
            let examples = std::mem::take(&mut scenario.examples);
            if examples.is_empty() {
                out.push(scenario);
                continue;
            }
            for mut block in examples {
                let Some(mut table) = block.table.take() else {
                    continue;
                };
                let mut rows = std::mem::take(&mut table.rows).into_iter();
                let Some(header) = rows.next() else {
                    continue;
                };
                for (i, row) in rows.enumerate() {
                    let mut one = block.clone();
                    // cucumber sets the expanded scenario's line to the block's line + 2 + the
                    // row's index in its table.
                    one.position.line += i;
                    one.table = Some(cucumber::gherkin::Table {
                        rows: vec![header.clone(), row],
                        ..table.clone()
                    });
                    let mut outline = scenario.clone();
                    outline.examples = vec![one];
                    out.push(outline);
                }
            }
        }
        out
    }
    for rule in &mut feature.rules {
        rule.scenarios = one_row_outlines(std::mem::take(&mut rule.scenarios));
    }
    feature.scenarios = one_row_outlines(std::mem::take(&mut feature.scenarios));
    feature.expand_examples().map_err(|e| {
        RunError::Usage(format!(
            "{}:{}:{}: the Scenario Outline uses <{}>, which no column of its Examples names",
            e.path
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            e.pos.line,
            e.pos.col,
            e.name
        ))
    })
}

/// cucumber's parser for features parsed already ([`parse_features`]): the run hands them over
/// as they were planned.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Parsed;

impl cucumber::Parser<Vec<cucumber::gherkin::Feature>> for Parsed {
    type Cli = cucumber::cli::Empty;
    type Output = futures::stream::Iter<
        std::vec::IntoIter<cucumber::parser::Result<cucumber::gherkin::Feature>>,
    >;

    fn parse(self, input: Vec<cucumber::gherkin::Feature>, _: Self::Cli) -> Self::Output {
        futures::stream::iter(input.into_iter().map(Ok).collect::<Vec<_>>())
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use cucumber::feature::Ext as _;

    const OUTLINES: &str = r#"@feature-tag
Feature: outlines
  Scenario Outline: <who> signs out
    Given <who> is signed in to CRM
    When she opens "<page>"
      """
      a doc string naming <who>
      """
    Then a table
      | person | page   |
      | <who>  | <page> |

    @ifd
    Examples: first
      | who   | page |
      | alice | a    |
      | bob   | b    |

    @iwa @slow
    Examples: second
      | who   | page |
      | carol | c    |

    Examples: empty
      | who | page |

  Scenario: plain
    Given alice is signed in to CRM

  Rule: a rule
    Scenario Outline: ruled <n>
      Given <n> is signed in to CRM

      Examples:
        | n |
        | 1 |
        | 2 |
"#;

    fn parse(text: &str) -> cucumber::gherkin::Feature {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("o.feature");
        std::fs::write(&file, text).unwrap();
        cucumber::gherkin::Feature::parse_path(&file, Default::default()).unwrap()
    }

    /// What cucumber's runner and writers see of a scenario: everything but the Examples block
    /// it came from (whose position the one-row outlines shift).
    fn seen(
        f: &cucumber::gherkin::Feature,
    ) -> Vec<(
        String,
        Vec<String>,
        Vec<cucumber::gherkin::Step>,
        cucumber::gherkin::LineCol,
    )> {
        scenarios_of(f)
            .map(|(_, s)| (s.name.clone(), s.tags.clone(), s.steps.clone(), s.position))
            .collect()
    }

    #[test]
    fn outlines_expand_as_cucumbers_own_parser_expands_them() {
        let ours = expand_outlines(parse(OUTLINES)).unwrap();
        let cucumbers = parse(OUTLINES).expand_examples().unwrap();
        assert_eq!(seen(&ours), seen(&cucumbers));
        let names: Vec<_> = seen(&ours).into_iter().map(|s| s.0).collect();
        assert_eq!(
            names,
            [
                "alice signs out",
                "bob signs out",
                "carol signs out",
                "plain",
                "ruled 1",
                "ruled 2"
            ]
        );
        // The Examples block's tags reach its rows: `--tags @ifd` and the mode tags see them.
        let (_, bob) = scenarios_of(&ours).nth(1).unwrap();
        assert!(bob.tags.contains(&"ifd".to_string()), "{:?}", bob.tags);
        let (_, carol) = scenarios_of(&ours).nth(2).unwrap();
        assert_eq!(carol.tags, ["iwa", "slow"]);
    }

    #[test]
    fn an_unknown_placeholder_is_named_with_its_line() {
        let text = OUTLINES.replace("Given <who> is", "Given <whom> is");
        let e = expand_outlines(parse(&text)).unwrap_err().to_string();
        assert!(
            e.contains("o.feature:4:") && e.contains("<whom>, which no column"),
            "{e}"
        );
    }

    #[test]
    fn folders_are_read_to_any_depth_and_built_in_files_named_so() {
        let tmp = tempfile::tempdir().unwrap();
        let nested = tmp.path().join("a/b");
        std::fs::create_dir_all(&nested).unwrap();
        std::fs::write(tmp.path().join("top.feature"), OUTLINES).unwrap();
        std::fs::write(nested.join("deep.FEATURE"), OUTLINES).unwrap();
        std::fs::write(nested.join("notes.txt"), "Feature: no").unwrap();
        // A link back up would loop if followed.
        std::os::unix::fs::symlink(tmp.path(), nested.join("loop")).unwrap();
        let parsed = parse_features(&[tmp.path().to_path_buf()]).unwrap();
        let files: Vec<_> = parsed[0]
            .1
            .iter()
            .map(|f| f.path.clone().unwrap())
            .collect();
        assert_eq!(
            files,
            [nested.join("deep.FEATURE"), tmp.path().join("top.feature")]
        );

        let built_in = crate::engine::rundir::Unpacked::new().unwrap();
        let parsed = parse_features(&[built_in.features()]).unwrap();
        assert_eq!(
            parsed[0].1.len(),
            crate::config::builtin::features().count()
        );
        assert!(
            parsed[0].1.iter().any(|f| f.path.as_deref()
                == Some(Path::new("built-in features/sign_out.feature"))),
            "{:?}",
            parsed[0].1.iter().map(|f| &f.path).collect::<Vec<_>>()
        );
    }
}
