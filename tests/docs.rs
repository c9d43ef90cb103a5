//! The documentation stays a map that works: the README is a newcomer's page that links every
//! page of `docs/`, and every relative link in the README and in `docs/` leads to a file of the
//! repository (and, with an anchor, to a heading of it).

use std::path::{Path, PathBuf};

/// The README is a page, not the manual (the manual lives in docs/).
const README_MAX_LINES: usize = 250;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn pages() -> Vec<PathBuf> {
    let mut pages: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    pages
}

/// The `(target)` of every Markdown link `[text](target)` in `text`, with its line.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let Some(end) = after.find(')') else { break };
            out.push((n + 1, after[..end].to_string()));
            rest = &after[end..];
        }
    }
    out
}

/// GitHub's anchor of a heading: lower case, spaces to `-`, punctuation other than `-` and `_`
/// dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors_of(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix('#'))
        .map(|l| anchor(l.trim_start_matches('#')))
        .collect()
}

#[test]
fn the_readme_is_short_and_links_every_docs_page() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(
        lines <= README_MAX_LINES,
        "README.md has {lines} lines (at most {README_MAX_LINES}): move the manual into docs/"
    );
    let targets: Vec<String> = links(&readme).into_iter().map(|(_, t)| t).collect();
    for page in pages() {
        let rel = page
            .strip_prefix(root())
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        assert!(
            targets
                .iter()
                .any(|t| t == &rel || t.starts_with(&format!("{rel}#"))),
            "README.md's map of docs/ does not link {rel}"
        );
    }
}

#[test]
fn every_relative_link_leads_somewhere() {
    let mut files = vec![root().join("README.md")];
    files.extend(pages());
    let mut broken = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let dir = file.parent().unwrap();
        for (line, target) in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") || target.is_empty() {
                continue;
            }
            let (path, fragment) = match target.split_once('#') {
                Some((p, f)) => (p, Some(f)),
                None => (target.as_str(), None),
            };
            let linked = if path.is_empty() {
                file.clone()
            } else {
                dir.join(path)
            };
            let shown = format!(
                "{}:{line}: ({target})",
                file.strip_prefix(root()).unwrap().display()
            );
            if !linked.exists() {
                broken.push(format!("{shown}: no such file"));
                continue;
            }
            if let Some(fragment) = fragment
                && linked.extension().is_some_and(|e| e == "md")
            {
                let text = std::fs::read_to_string(&linked).unwrap();
                if !anchors_of(&text).iter().any(|a| a == fragment) {
                    broken.push(format!("{shown}: no heading with that anchor"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// The checks above catch what they exist to catch.
#[test]
fn the_link_reader_finds_links_and_anchors() {
    assert_eq!(
        links("see [a](docs/a.md) and [b](b.md#the-tests), [c](https://x.test/y)"),
        [
            (1, "docs/a.md".to_string()),
            (1, "b.md#the-tests".to_string()),
            (1, "https://x.test/y".to_string())
        ]
    );
    assert_eq!(
        anchor(" The tests: what runs, and `why`"),
        "the-tests-what-runs-and-why"
    );
    assert_eq!(
        anchors_of("# Top\ntext\n### Exit codes\n"),
        ["top", "exit-codes"]
    );
}
