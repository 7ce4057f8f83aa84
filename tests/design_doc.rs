//! docs/DESIGN.md's "The flow of one email" names each step as a pair, `file` `function`: every
//! named function must still be defined in that file, so the document cannot drift from the code
//! silently. Comments and documents cite DESIGN.md's sections by their headings: each cited
//! heading must exist.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn design() -> String {
    std::fs::read_to_string(root().join("docs/DESIGN.md")).expect("docs/DESIGN.md is readable")
}

/// The text of the `## heading` section, up to the next `## `.
fn section<'d>(document: &'d str, heading: &str) -> Option<&'d str> {
    let start = document.find(&format!("\n## {heading}\n"))? + 1;
    let body = &document[start..];
    let end = body[3..].find("\n## ").map_or(body.len(), |at| at + 3);
    Some(&body[..end])
}

/// Every "`src/….rs` `name`" pair, in order (white space, line breaks included, between them).
fn named_functions(text: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("`src/") {
        rest = &rest[at + 1..];
        let Some(end) = rest.find('`') else { break };
        let file = &rest[..end];
        rest = &rest[end + 1..];
        if !file.ends_with(".rs") {
            continue;
        }
        let after = rest.trim_start();
        let Some(name) = after.strip_prefix('`') else {
            continue;
        };
        let Some(close) = name.find('`') else { break };
        let name = &name[..close];
        if !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            pairs.push((file.to_owned(), name.to_owned()));
        }
    }
    pairs
}

fn defines(path: &Path, function: &str) -> bool {
    let Ok(code) = std::fs::read_to_string(path) else {
        return false;
    };
    [format!("fn {function}("), format!("fn {function}<")]
        .iter()
        .any(|definition| code.contains(definition.as_str()))
}

#[test]
fn every_function_the_flow_names_is_in_its_file() {
    let document = design();
    let flow = section(&document, "The flow of one email").expect("a flow section");
    let named = named_functions(flow);
    assert!(
        named.len() >= 30,
        "the flow names {} functions: {named:?}",
        named.len()
    );
    let missing: Vec<String> = named
        .iter()
        .filter(|(file, function)| !defines(&root().join(file), function))
        .map(|(file, function)| format!("{file}: no fn {function}"))
        .collect();
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn the_flow_starts_at_the_lambda_and_ends_at_the_reply() {
    let document = design();
    let named = named_functions(section(&document, "The flow of one email").expect("flow"));
    let position = |file: &str, function: &str| {
        named
            .iter()
            .position(|(f, n)| f == file && n == function)
            .unwrap_or_else(|| panic!("{file} {function} is not named"))
    };
    let order = [
        position("src/bin/lambda.rs", "main"),
        position("src/core/mod.rs", "analyze"),
        position("src/core/itip/rules.rs", "decide"),
        position("src/aws/dynamodb.rs", "commit"),
        position("src/aws/sns.rs", "publish"),
        position("src/core/reply.rs", "render_reply"),
        position("src/aws/ses.rs", "send"),
    ];
    assert!(order.windows(2).all(|pair| pair[0] < pair[1]), "{order:?}");
}

#[test]
fn the_pair_reader_reads_pairs_only() {
    let text = "1. `src/a.rs` `main`, then `lambda_runtime` and `src/b.rs`\n   `step_two`; \
                `src/c.rs` `NotAFunction` `src/d/` `x`";
    assert_eq!(
        named_functions(text),
        [
            ("src/a.rs".to_owned(), "main".to_owned()),
            ("src/b.rs".to_owned(), "step_two".to_owned())
        ]
    );
}

/// Every `docs/DESIGN.md, "Heading"` / `docs/DESIGN.md "Heading"` citation in the sources, tests
/// and documents names a heading the document has.
#[test]
fn every_cited_section_exists() {
    let document = design();
    let headings: Vec<&str> = document
        .lines()
        .filter_map(|line| line.strip_prefix("## "))
        .collect();
    let mut files = Vec::new();
    for dir in [
        "src", "tests", "benches", "docs", "fixtures", "cdk/lib", "cdk/test",
    ] {
        collect(&root().join(dir), &mut files);
    }
    files.push(root().join("README.md"));
    files.push(root().join("cdk/README.md"));
    let mut problems = Vec::new();
    let mut citations = 0;
    let this_file = root().join("tests/design_doc.rs");
    for file in files.into_iter().filter(|file| *file != this_file) {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        // Comments wrap lines: read the citation with line breaks and comment markers joined.
        let joined = text
            .lines()
            .map(|line| {
                line.trim_start()
                    .trim_start_matches("//!")
                    .trim_start_matches("///")
                    .trim_start_matches("//")
                    .trim_start_matches(" * ")
                    .trim_start_matches('#')
                    .trim()
            })
            .collect::<Vec<_>>()
            .join(" ");
        let mut rest = joined.as_str();
        while let Some(at) = rest.find("DESIGN.md") {
            rest = &rest[at + "DESIGN.md".len()..];
            let cited = rest.trim_start_matches([',', ' ', '\'', '"']);
            let quoted = rest.trim_start_matches([',', ' ']).starts_with('"');
            if !quoted {
                continue;
            }
            let Some(end) = cited.find('"') else { continue };
            let heading = &cited[..end];
            // A string literal that ends with the file name is not a citation.
            if !heading.starts_with(|c: char| c.is_ascii_uppercase()) || heading.len() > 60 {
                continue;
            }
            citations += 1;
            if !headings.iter().any(|known| known.starts_with(heading)) {
                problems.push(format!("{}: cites \"{heading}\"", file.display()));
            }
        }
    }
    assert!(citations >= 5, "only {citations} citations were found");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn collect(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|name| name == "node_modules") {
                continue;
            }
            collect(&path, found);
        } else if path
            .extension()
            .is_some_and(|ext| ext == "rs" || ext == "md" || ext == "ts")
        {
            found.push(path);
        }
    }
}

/// A clone cannot look up "issue 8" or a design kept outside the repository: sources, tests and
/// documents cite docs/DESIGN.md's sections instead. (The shared email corpus beside the
/// repository is test data, not a document, and may be named.)
#[test]
fn nothing_cites_an_issue_number_or_a_document_outside_the_repository() {
    let mut files = Vec::new();
    for dir in [
        "src", "tests", "benches", "docs", "fixtures", "cdk/lib", "cdk/test", "make", "fuzz",
    ] {
        collect(&root().join(dir), &mut files);
    }
    for file in ["README.md", "cdk/README.md", "Makefile", "Cargo.toml"] {
        files.push(root().join(file));
    }
    let this_file = root().join("tests/design_doc.rs");
    let mut problems = Vec::new();
    for file in files.iter().filter(|file| **file != this_file) {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for (number, line) in text.lines().enumerate() {
            let lower = line.to_lowercase();
            let cites_issue = ["issue ", "issues "].iter().any(|word| {
                lower.match_indices(word).any(|(at, _)| {
                    lower[at + word.len()..].starts_with(|c: char| c.is_ascii_digit())
                })
            });
            let outside = lower.contains("shared/design") || lower.contains("shared design");
            if cites_issue || outside {
                problems.push(format!(
                    "{}:{}: {}",
                    file.display(),
                    number + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
