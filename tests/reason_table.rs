//! The reason table is a contract (README.md "Why an invite is refused", and docs/DESIGN.md
//! "Validation: the reasons"): every refusal code the code knows is in it, nothing else is, and its
//! "sender told?" column says what `Reason::notify_sender` does. The "Who is answered" tables of
//! both name every reason the core gives for not answering.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use invite_router::core::itip::answer::NoReply;
use invite_router::core::model::Reason;

/// The cells of each body row of the first Markdown table whose header line starts with
/// `header` (the `|---|` line skipped), trimmed.
fn table_rows(markdown: &str, header: &str) -> Vec<Vec<String>> {
    markdown
        .lines()
        .map(str::trim)
        .skip_while(|line| !line.starts_with(header))
        .skip(1)
        .take_while(|line| line.starts_with('|'))
        .filter(|line| !line.starts_with("|---"))
        .map(|line| {
            line.trim_matches('|')
                .split('|')
                .map(|cell| cell.trim().to_owned())
                .collect()
        })
        .collect()
}

/// `code -> sender told?` for every row of the first Markdown table whose header starts with
/// `| reason |`. A row may name several codes (`spam` / `virus`).
fn reason_table(markdown: &str) -> BTreeMap<String, bool> {
    let mut rows = BTreeMap::new();
    for cells in table_rows(markdown, "| reason |") {
        let (Some(codes), Some(told)) = (cells.first(), cells.last()) else {
            continue;
        };
        for code in codes.split('/') {
            rows.insert(code.trim().trim_matches('`').to_owned(), told == "yes");
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

fn document(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(name)
}

#[test]
fn readme_reason_table_matches_the_code() {
    let problems = check_document(&document("README.md"));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn design_reason_table_matches_the_code() {
    let problems = check_document(&document("docs/DESIGN.md"));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The codes in the first column of the first table whose header starts with
/// `| \`no_reply_because\` |`, in the document's order.
fn who_is_answered_table(markdown: &str) -> Vec<String> {
    table_rows(markdown, "| `no_reply_because` |")
        .into_iter()
        .filter_map(|cells| Some(cells.first()?.trim_matches('`').to_owned()))
        .collect()
}

/// "Who is answered" in README.md and docs/DESIGN.md has one row per reason not to answer the
/// code knows (`NoReply::ALL`), and none it does not.
#[test]
fn who_is_answered_tables_match_the_code() {
    let code: BTreeSet<&str> = NoReply::ALL.iter().map(|why| why.code()).collect();
    let mut problems = Vec::new();
    for name in ["README.md", "docs/DESIGN.md"] {
        let text = std::fs::read_to_string(document(name)).unwrap_or_default();
        let rows = who_is_answered_table(&text);
        let documented: BTreeSet<&str> = rows.iter().map(String::as_str).collect();
        if documented.len() != rows.len() {
            problems.push(format!("{name}: a code has two rows"));
        }
        for missing in code.difference(&documented) {
            problems.push(format!("{name}: no row for `{missing}`"));
        }
        for unknown in documented.difference(&code) {
            problems.push(format!("{name}: `{unknown}` is not a code the core gives"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_who_is_answered_reader_sees_every_row() {
    let table = "| `no_reply_because` | the mail carries |\n|---|---|\n| `bounce` | x |\n| `list_mail` | y |\n\nafter | `z` |";
    assert_eq!(who_is_answered_table(table), ["bounce", "list_mail"]);
}

#[test]
fn the_table_reader_sees_every_row() {
    let table = "| reason | when | sender told? |\n|---|---|---|\n| `a` | x | yes |\n| `b` / `c` | y | no |\n\nafter";
    let rows = reason_table(table);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows.get("a"), Some(&true));
    assert_eq!(rows.get("c"), Some(&false));
}

/// The string literals of `export const NAME = [ ... ] as const;` in a TypeScript file.
fn typescript_list(source: &str, name: &str) -> Vec<String> {
    let start = source
        .find(&format!("export const {name} = ["))
        .unwrap_or_else(|| panic!("no list {name}"));
    let end = start + source[start..].find("] as const").expect("list ends");
    source[start..end]
        .split('\'')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// The CDK dashboard draws one line per route, reason, no-reply code and reply outcome: its lists
/// (cdk/lib/monitoring.ts) must be exactly the codes the functions emit as metric dimensions.
#[test]
fn the_dashboard_lists_every_code_the_metrics_use() {
    use invite_router::core::itip::answer::NoReply;
    use invite_router::core::model::Route;
    use invite_router::notifier::Notified;

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("cdk/lib/monitoring.ts");
    let source = std::fs::read_to_string(&path).expect("monitoring.ts");
    let sorted = |mut codes: Vec<String>| {
        codes.sort();
        codes
    };
    let codes = |list: &[&str]| sorted(list.iter().map(|code| (*code).to_owned()).collect());
    assert_eq!(
        sorted(typescript_list(&source, "ROUTES")),
        codes(&Route::ALL.map(Route::as_str))
    );
    assert_eq!(
        sorted(typescript_list(&source, "REASONS")),
        codes(&Reason::ALL.map(Reason::code))
    );
    assert_eq!(
        sorted(typescript_list(&source, "NO_REPLY_WHYS")),
        codes(&NoReply::ALL.map(NoReply::code))
    );
    let outcomes = [
        Notified::Sent {
            to: String::new(),
            message_id: String::new(),
        },
        Notified::AlreadySent,
        Notified::RateLimited,
        Notified::Undeliverable(String::new()),
    ];
    assert_eq!(
        sorted(typescript_list(&source, "REPLY_OUTCOMES")),
        codes(&outcomes.each_ref().map(Notified::code))
    );
}
