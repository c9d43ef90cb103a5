//! The layers of `src/` stay true: every `crate::` path in a module names its own layer or one below
//! it, so data flows one way (docs/architecture.md). Read from the source text, as
//! `fixtures/crm-sim/tests/facts_map.rs` reads FACTS.md: a change that puts a door in the wrong wall
//! fails here, naming the file and line, before anyone has to find the cycle by hand.
//!
//! The order, lowest first. A module may import its own layer and the layers before it:
//! `config` < `engine` < `observe` < `judge` < `report` < `steps` < `cmd`.
//! Within a layer, the files must not form a cycle either (checked on the same paths).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first. `steps` is the top-level `steps/` folder, compiled as `crate::steps`.
const LAYERS: &[&str] = &[
    "config", "engine", "observe", "judge", "report", "steps", "cmd",
];

/// One import of a module from another, where it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Import {
    file: String,
    line: usize,
    from_layer: &'static str,
    from_module: String,
    to_layer: &'static str,
    to_module: String,
}

fn layer_rank(name: &str) -> Option<usize> {
    LAYERS.iter().position(|l| *l == name)
}

/// The layer and the module (first path segment below the layer) of a source file, relative to the
/// crate root (`src/engine/browser/jar.rs` -> `engine`, `browser`). `None` for `lib.rs`, `main.rs`.
fn place_of(rel: &Path) -> Option<(&'static str, String)> {
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let (layer, rest) = match parts.first().map(String::as_str) {
        Some("src") => (parts.get(1)?.as_str(), &parts[2..]),
        Some("steps") => ("steps", &parts[1..]),
        _ => return None,
    };
    let layer = LAYERS[layer_rank(layer)?];
    let module = rest.first()?.trim_end_matches(".rs").to_string();
    Some((layer, module))
}

/// The source a file compiles outside its unit tests, with comments blanked (line numbers kept).
fn code_of(text: &str) -> String {
    let cut = text
        .find("#[cfg(test)]\nmod ")
        .or_else(|| text.find("#[cfg(test)]\npub mod "))
        .unwrap_or(text.len());
    text[..cut]
        .lines()
        .map(|line| match line.find("//") {
            // A `//` inside a string literal (a URL) is not a comment; a line whose `//` comes
            // after an opening quote keeps its text.
            Some(i) if line[..i].matches('"').count() % 2 == 0 => &line[..i],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::LAYER::MODULE` the code names, with `use crate::{a::b, c::{d, e}}` groups opened.
fn imports_in(file: &str, from: (&'static str, String), code: &str) -> Vec<Import> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut at = 0;
    while let Some(i) = code[at..].find("crate::") {
        let start = at + i;
        at = start + "crate::".len();
        // `logout_harness::crate::` cannot occur; `$crate::` in a macro is the same crate.
        if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
            continue;
        }
        let line = code[..start].matches('\n').count() + 1;
        for path in paths_at(&code[at..]) {
            let mut segs = path.split("::").map(str::trim);
            let Some(layer) = segs.next().and_then(layer_rank).map(|r| LAYERS[r]) else {
                continue;
            };
            let module = segs.next().unwrap_or("").to_string();
            out.push(Import {
                file: file.to_string(),
                line,
                from_layer: from.0,
                from_module: from.1.clone(),
                to_layer: layer,
                to_module: module,
            });
        }
    }
    out
}

/// The paths written after one `crate::`: `a::b` alone, or each member of a `{...}` group, nested
/// groups flattened to their first two segments (`{a::{b, c}, d}` -> `a::b`, `a::c`, `d`).
fn paths_at(rest: &str) -> Vec<String> {
    if let Some(group) = rest.strip_prefix('{') {
        let mut depth = 1;
        let end = group
            .char_indices()
            .find(|&(_, c)| {
                depth += match c {
                    '{' => 1,
                    '}' => -1,
                    _ => 0,
                };
                depth == 0
            })
            .map_or(group.len(), |(i, _)| i);
        return split_group(&group[..end], "");
    }
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(rest.len());
    vec![rest[..end].trim_end_matches(':').to_string()]
}

fn split_group(group: &str, prefix: &str) -> Vec<String> {
    let mut members = Vec::new();
    let (mut depth, mut from) = (0, 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                members.push(&group[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    members.push(&group[from..]);
    let mut out = Vec::new();
    for m in members.into_iter().map(str::trim).filter(|m| !m.is_empty()) {
        match m.find("::{") {
            Some(i) => {
                let inner = &m[i + 3..m.len() - 1];
                out.extend(split_group(inner, &format!("{prefix}{}::", &m[..i])));
            }
            None => out.push(format!("{prefix}{m}")),
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every import in the crate rooted at `root` (its `src/` and `steps/`).
fn imports_of(root: &Path) -> Vec<Import> {
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("steps"), &mut files);
    files.sort();
    let mut all = Vec::new();
    for path in files {
        let rel = path.strip_prefix(root).unwrap();
        let Some(from) = place_of(rel) else { continue };
        let text = std::fs::read_to_string(&path).unwrap();
        let name = rel.to_string_lossy().replace('\\', "/");
        all.extend(imports_in(&name, from, &code_of(&text)));
    }
    all
}

/// The imports that point up, one line each: `file:line: layer imports higher layer::module`.
fn upward(imports: &[Import]) -> Vec<String> {
    imports
        .iter()
        .filter(|i| layer_rank(i.to_layer) > layer_rank(i.from_layer))
        .map(|i| {
            format!(
                "{}:{}: `{}` imports `crate::{}::{}`, a higher layer (order: {})",
                i.file,
                i.line,
                i.from_layer,
                i.to_layer,
                i.to_module,
                LAYERS.join(" < ")
            )
        })
        .collect()
}

/// Cycles among the modules of one layer (`engine::browser` -> `engine::probe` -> ...), each as
/// the modules it joins, with one import of each edge to look at.
fn cycles_within_layers(imports: &[Import]) -> Vec<String> {
    let mut edges: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for i in imports {
        if i.from_layer != i.to_layer || i.to_module.is_empty() || i.from_module == i.to_module {
            continue;
        }
        // `mod.rs` of a layer only declares its modules.
        if i.from_module == "mod" {
            continue;
        }
        let from = format!("{}::{}", i.from_layer, i.from_module);
        let to = format!("{}::{}", i.to_layer, i.to_module);
        edges
            .entry(from)
            .or_default()
            .entry(to)
            .or_insert_with(|| format!("{}:{}", i.file, i.line));
    }
    let mut found = Vec::new();
    let mut reported: BTreeSet<Vec<String>> = BTreeSet::new();
    for start in edges.keys() {
        // Shortest way back to `start`, breadth first.
        let mut prev: BTreeMap<String, String> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start.clone()]);
        let mut back = None;
        while let Some(node) = queue.pop_front() {
            for next in edges.get(&node).into_iter().flat_map(|m| m.keys()) {
                if next == start {
                    back = Some(node.clone());
                    break;
                }
                if !prev.contains_key(next) {
                    prev.insert(next.clone(), node.clone());
                    queue.push_back(next.clone());
                }
            }
            if back.is_some() {
                break;
            }
        }
        let Some(mut node) = back else { continue };
        let mut ring = vec![node.clone()];
        while &node != start {
            node = prev[&node].clone();
            ring.push(node.clone());
        }
        ring.reverse();
        let mut key = ring.clone();
        key.sort();
        if !reported.insert(key) {
            continue;
        }
        let hops: Vec<String> = ring
            .iter()
            .zip(ring.iter().cycle().skip(1))
            .map(|(a, b)| format!("{a} -> {b} ({})", edges[a][b]))
            .collect();
        found.push(format!("cycle: {}", hops.join(", ")));
    }
    found
}

#[test]
fn no_layer_imports_a_higher_one() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let imports = imports_of(root);
    assert!(
        imports.len() > 100,
        "the reader found only {} imports in src/ and steps/: it no longer reads the code",
        imports.len()
    );
    let wrong = upward(&imports);
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_cycle_among_the_modules_of_a_layer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cycles = cycles_within_layers(&imports_of(root));
    assert!(cycles.is_empty(), "module cycles:\n{}", cycles.join("\n"));
}

#[test]
fn every_folder_of_src_is_a_known_layer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(root.join("src")).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir() {
            assert!(
                layer_rank(&name).is_some(),
                "src/{name}/ is not a layer; add it to LAYERS here and to docs/architecture.md"
            );
        } else {
            assert!(
                ["lib.rs", "main.rs"].contains(&name.as_str()),
                "src/{name}: a module directly in src/ belongs in a layer folder"
            );
        }
    }
}

/// The checker itself catches what it exists to catch: a planted upward import and a planted cycle
/// in a small tree of its own, named by file and line; and it passes the same tree without them.
#[test]
fn a_planted_upward_import_and_cycle_are_caught() {
    let dir = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &str| {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("src/lib.rs", "pub mod config;\npub mod engine;\n");
    write("src/config/target.rs", "use crate::config::yaml;\n");
    write(
        "src/engine/browser.rs",
        "// crate::cmd::run in a comment is no import\nuse crate::{config::target::Target, engine::wait};\n",
    );
    write("src/engine/wait.rs", "pub fn f() {}\n");
    write(
        "src/judge/policy.rs",
        "#[cfg(test)]\nmod tests {\n    use crate::report::writers;\n}\n",
    );
    assert!(upward(&imports_of(dir.path())).is_empty());
    assert!(cycles_within_layers(&imports_of(dir.path())).is_empty());

    // An upward import, inside a group, on line 3.
    write(
        "src/engine/probe.rs",
        "use std::time::Duration;\n\nuse crate::{config::target, observe::page::Page};\n",
    );
    // A cycle: wait -> browser -> wait.
    write(
        "src/engine/wait.rs",
        "pub fn f() {\n    crate::engine::browser::g();\n}\n",
    );
    let imports = imports_of(dir.path());
    assert_eq!(
        upward(&imports),
        [
            "src/engine/probe.rs:3: `engine` imports `crate::observe::page`, a higher layer \
          (order: config < engine < observe < judge < report < steps < cmd)"
        ]
    );
    let cycles = cycles_within_layers(&imports);
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    assert!(
        cycles[0].contains("engine::browser -> engine::wait (src/engine/browser.rs:2)")
            && cycles[0].contains("engine::wait -> engine::browser (src/engine/wait.rs:2)"),
        "{cycles:?}"
    );
}
