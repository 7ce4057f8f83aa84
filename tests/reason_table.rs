//! The reason table is a contract (README.md "Why an invite is refused", and DESIGN.md's
//! "Validation: the reasons"): every refusal code the code knows is in it, nothing else is, and its
//! "sender told?" column says what `Reason::notify_sender` does.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use invite_router::core::model::Reason;

/// `code -> sender told?` for every row of the first Markdown table whose header starts with
/// `| reason |`. A row may name several codes (`spam` / `virus`).
fn reason_table(markdown: &str) -> BTreeMap<String, bool> {
    let mut rows = BTreeMap::new();
    let mut in_table = false;
    for line in markdown.lines() {
        let line = line.trim();
        if line.starts_with("| reason |") {
            in_table = true;
            continue;
        }
        if !in_table {
            continue;
        }
        if !line.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let (Some(codes), Some(told)) = (cells.first(), cells.last()) else {
            continue;
        };
        if codes.starts_with("---") {
            continue;
        }
        for code in codes.split('/') {
            rows.insert(code.trim().trim_matches('`').to_owned(), *told == "yes");
        }
    }
    rows
}

/// What the code says, for every reason a request can be refused with (an ignored CANCEL's
/// `unknown_event` is not a refusal and not in the table).
fn code_table() -> BTreeMap<String, bool> {
    Reason::ALL
        .iter()
        .filter(|reason| **reason != Reason::UnknownEvent)
        .map(|reason| (reason.code().to_owned(), reason.notify_sender()))
        .collect()
}

fn check_document(path: &Path) -> Vec<String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => return vec![format!("{}: {error}", path.display())],
    };
    let documented = reason_table(&text);
    let code = code_table();
    let mut problems = Vec::new();
    for (reason, told) in &code {
        match documented.get(reason) {
            None => problems.push(format!("{}: no row for `{reason}`", path.display())),
            Some(said) if said != told => problems.push(format!(
                "{}: `{reason}` says sender told = {said}, the code says {told}",
                path.display()
            )),
            Some(_) => {}
        }
    }
    for reason in documented
        .keys()
        .filter(|reason| !code.contains_key(*reason))
    {
        problems.push(format!(
            "{}: `{reason}` is not a reason the code knows",
            path.display()
        ));
    }
    problems
}

#[test]
fn readme_reason_table_matches_the_code() {
    let readme = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let problems = check_document(&readme);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn design_reason_table_matches_the_code() {
    let design = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/DESIGN.md");
    if !design.is_file() {
        let message = format!(
            "{} not found: the DESIGN reason table was not checked",
            design.display()
        );
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
        // Straight to stderr: libtest captures eprintln! of a passing test, and a skip must show.
        let _ = writeln!(std::io::stderr(), "skipped: {message}");
        return;
    }
    let problems = check_document(&design);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_table_reader_sees_every_row() {
    let table = "| reason | when | sender told? |\n|---|---|---|\n| `a` | x | yes |\n| `b` / `c` | y | no |\n\nafter";
    let rows = reason_table(table);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows.get("a"), Some(&true));
    assert_eq!(rows.get("c"), Some(&false));
}
