//! The layers of docs/DESIGN.md ("Layers: what may import what"), checked on the source itself:
//! each top-level module imports only the layers below it, the core imports nothing outside
//! itself and no I/O, and the core's modules import each other without a cycle.
//!
//! Imports are read from the code before its `#[cfg(test)]` module, comments left out: every
//! `crate::a::b` path, every `super::` path, the names inside `use crate::core::{..}` and
//! `use super::{..}`, and a `mod.rs`'s paths through its own children. That is how the code of this
//! crate writes its imports; a path written another way would escape the check, which is why
//! the reader is tested on the forms below too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The top-level modules, lowest layer first. A module may import its own layer's fellows only
/// where listed in `SAME_LAYER`.
const LAYERS: &[&[&str]] = &[
    &["core"],
    &["ports", "intake", "ledger_format"],
    &["service", "notifier"],
    &["config"],
    &["aws", "local"],
    &["cli", "operator_cli"],
    &["bin"],
];

/// Imports within one layer, each for a reason: the notifier runs its batches through the
/// service's batch record; intake and the ledger codec name the ports' error types; the CLI's
/// operator commands use the CLI's output helpers.
const SAME_LAYER: &[(&str, &str)] = &[
    ("notifier", "service"),
    ("intake", "ports"),
    ("ledger_format", "ports"),
    ("operator_cli", "cli"),
];

/// What the core must never name: it has no I/O, no async, no clock and no environment.
const NOT_IN_THE_CORE: &[&str] = &[
    "tokio",
    "aws_",
    "lambda_",
    "std::fs",
    "std::env",
    "std::net",
    "std::process",
    "SystemTime",
    "Utc::now",
    "Local::now",
    "Instant::now",
    "rusqlite",
];

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("src is readable")
        .map(|entry| entry.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

/// The code of a file before its tests, without comment lines.
fn code_of(text: &str) -> String {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    code.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `core::itip::check` for `src/core/itip/check.rs`, `core` for `src/core/mod.rs`.
fn module_of(path: &Path) -> Vec<String> {
    let relative = path.strip_prefix(src()).expect("under src");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|part| part.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if parts
        .last()
        .is_some_and(|last| last == "mod" || last == "lib")
    {
        parts.pop();
    }
    parts
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every `prefix` followed by `a::b::c` in `code`, as its segments; also the names inside a
/// `prefix{a, b::c}` group, each as its own path.
fn paths_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + prefix.len()..];
        if before.is_some_and(|c| is_ident(c) || c == ':') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let segments: Vec<String> = item
                    .trim()
                    .split("::")
                    .map(|segment| segment.chars().take_while(|c| is_ident(*c)).collect())
                    .filter(|segment: &String| !segment.is_empty())
                    .collect();
                if !segments.is_empty() {
                    paths.push(segments);
                }
            }
            continue;
        }
        let mut segments = Vec::new();
        let mut tail = rest;
        loop {
            let ident: String = tail.chars().take_while(|c| is_ident(*c)).collect();
            if ident.is_empty() {
                break;
            }
            tail = &tail[ident.len()..];
            segments.push(ident);
            match tail.strip_prefix("::") {
                Some(next) if next.starts_with(|c: char| is_ident(c)) => tail = next,
                _ => break,
            }
        }
        if !segments.is_empty() {
            paths.push(segments);
        }
    }
    paths
}

/// The longest known module a path starts with.
fn resolve(path: &[String], modules: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    (1..=path.len())
        .rev()
        .map(|len| path[..len].to_vec())
        .find(|candidate| modules.contains(candidate))
}

/// The module graph of the crate: which module imports which.
fn imports() -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|path| module_of(path)).collect();
    let mut graph = BTreeMap::new();
    for path in &files {
        let module = module_of(path);
        let code = code_of(&std::fs::read_to_string(path).expect("readable"));
        let is_mod_file = path
            .file_name()
            .is_some_and(|name| name == "mod.rs" || name == "lib.rs");
        // `super` of a file `a/b.rs` is `a`; of `a/b/mod.rs` it is `a` too.
        let parent = module[..module.len().saturating_sub(1)].to_vec();
        let mut deps = BTreeSet::new();
        for found in paths_after(&code, "crate::") {
            deps.extend(resolve(&found, &modules));
        }
        for found in paths_after(&code, "invite_router::") {
            deps.extend(resolve(&found, &modules));
        }
        for found in paths_after(&code, "super::") {
            let full: Vec<String> = parent.iter().cloned().chain(found).collect();
            deps.extend(resolve(&full, &modules));
        }
        if is_mod_file {
            // A mod.rs names its children directly (`mime::read_mail`, `use itip::{check}`).
            for found in paths_after(&code, "use ").into_iter().chain(
                code.split(|c: char| !is_ident(c) && c != ':')
                    .filter(|word| word.contains("::"))
                    .map(|word| word.split("::").map(str::to_owned).collect::<Vec<_>>()),
            ) {
                let full: Vec<String> = module.iter().cloned().chain(found).collect();
                if let Some(child) = resolve(&full, &modules)
                    && child.len() > module.len()
                {
                    deps.insert(child);
                }
            }
        }
        deps.remove(&module);
        graph.insert(module, deps);
    }
    graph
}

fn layer_of(top: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&top))
}

#[test]
fn each_layer_imports_only_the_layers_below() {
    let mut problems = Vec::new();
    for (module, deps) in imports() {
        let Some(top) = module.first() else { continue };
        let Some(own) = layer_of(top) else {
            problems.push(format!(
                "{}: a top-level module no layer names",
                module.join("::")
            ));
            continue;
        };
        for dep in deps {
            let Some(dep_top) = dep.first() else { continue };
            if dep_top == top {
                continue;
            }
            let Some(theirs) = layer_of(dep_top) else {
                continue;
            };
            let allowed = theirs < own
                || (theirs == own && SAME_LAYER.contains(&(top.as_str(), dep_top.as_str())));
            if !allowed {
                problems.push(format!(
                    "{} imports {}, which is not below it",
                    module.join("::"),
                    dep.join("::")
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_core_names_no_io_no_clock_and_nothing_outside_itself() {
    let mut files = Vec::new();
    rust_files(&src().join("core"), &mut files);
    let mut problems = Vec::new();
    for path in files {
        let code = code_of(&std::fs::read_to_string(&path).expect("readable"));
        for word in NOT_IN_THE_CORE {
            if code.contains(word) {
                problems.push(format!("{}: names {word}", path.display()));
            }
        }
    }
    let outside: Vec<String> = imports()
        .into_iter()
        .filter(|(module, _)| module.first().is_some_and(|top| top == "core"))
        .flat_map(|(module, deps)| {
            deps.into_iter()
                .filter(|dep| dep.first().is_some_and(|top| top != "core"))
                .map(move |dep| format!("{} imports {}", module.join("::"), dep.join("::")))
        })
        .collect();
    problems.extend(outside);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The strongly connected components of more than one module (Tarjan's algorithm).
fn cycles(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<Vec<String>>> {
    struct Walk<'g> {
        graph: &'g BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<&'g Vec<String>, usize>,
        low: BTreeMap<&'g Vec<String>, usize>,
        stack: Vec<&'g Vec<String>>,
        found: Vec<Vec<Vec<String>>>,
    }
    fn visit<'g>(walk: &mut Walk<'g>, node: &'g Vec<String>) {
        let at = walk.index.len();
        walk.index.insert(node, at);
        walk.low.insert(node, at);
        walk.stack.push(node);
        for next in walk.graph.get(node).into_iter().flatten() {
            let Some((next, _)) = walk.graph.get_key_value(next) else {
                continue;
            };
            if !walk.index.contains_key(next) {
                visit(walk, next);
                let low = walk.low[node].min(walk.low[next]);
                walk.low.insert(node, low);
            } else if walk.stack.contains(&next) {
                let low = walk.low[node].min(walk.index[next]);
                walk.low.insert(node, low);
            }
        }
        if walk.low[node] == walk.index[node] {
            let mut component = Vec::new();
            while let Some(top) = walk.stack.pop() {
                component.push(top.clone());
                if top == node {
                    break;
                }
            }
            if component.len() > 1 {
                walk.found.push(component);
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for node in graph.keys() {
        if !walk.index.contains_key(node) {
            visit(&mut walk, node);
        }
    }
    walk.found
}

#[test]
fn the_core_modules_import_each_other_without_a_cycle() {
    let core: BTreeMap<_, _> = imports()
        .into_iter()
        .filter(|(module, _)| module.first().is_some_and(|top| top == "core"))
        .collect();
    assert!(core.len() > 20, "the core's modules were found: {core:?}");
    let found = cycles(&core);
    let described: Vec<String> = found
        .iter()
        .map(|cycle| {
            cycle
                .iter()
                .map(|module| module.join("::"))
                .collect::<Vec<_>>()
                .join(" <-> ")
        })
        .collect();
    assert!(found.is_empty(), "import cycles:\n{}", described.join("\n"));
}

#[test]
fn the_import_reader_sees_every_form_the_crate_writes() {
    let code = "use crate::core::model::{Reason, Route};\nuse super::{copies, sender::judge};\n\
                let x = crate::core::policy::Limits::default();\nfoo::crate::not_this";
    assert_eq!(
        paths_after(code, "crate::"),
        vec![
            vec!["core".to_owned(), "model".to_owned()],
            vec![
                "core".to_owned(),
                "policy".to_owned(),
                "Limits".to_owned(),
                "default".to_owned()
            ],
        ]
    );
    assert_eq!(
        paths_after(code, "super::"),
        vec![
            vec!["copies".to_owned()],
            vec!["sender".to_owned(), "judge".to_owned()]
        ]
    );
    let graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = [
        (vec!["a".to_owned()], BTreeSet::from([vec!["b".to_owned()]])),
        (vec!["b".to_owned()], BTreeSet::from([vec!["a".to_owned()]])),
        (vec!["c".to_owned()], BTreeSet::from([vec!["a".to_owned()]])),
    ]
    .into();
    assert_eq!(cycles(&graph).len(), 1, "a <-> b is found, c is not in it");
}
