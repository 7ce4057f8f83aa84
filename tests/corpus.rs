//! The corpus test: every `fixtures/emails/<suite>/<case>.eml` is analysed in both CRLF and LF
//! form and compared with `<case>.expected.json` (semantic fields only). The real-client emails in
//! the shared corpus (`../shared/corpus`, or `$INVITE_ROUTER_SHARED_CORPUS`) are swept the same
//! way when that folder exists, with their expectations kept in `fixtures/shared-corpus/`.
//!
//! All mismatches are reported at once. To re-bless after an intended change:
//!     BLESS=1 cargo test --test corpus
//! then review `git diff fixtures/` before committing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use invite_router::core::{Limits, SenderPolicy, analyze, report::inspect_report};
use serde_json::{Map, Value, json};

const TOP_FIELDS: [&str; 11] = [
    "valid",
    "reason",
    "method",
    "uid",
    "sequence",
    "recurrence_id",
    "organizer",
    "sender",
    "summary",
    "start",
    "end",
];
const EVENT_FIELDS: [&str; 9] = [
    "uid",
    "recurrence_id",
    "sequence",
    "status",
    "start",
    "end",
    "all_day",
    "time_zone",
    "rrule",
];

/// One email and where its expectation lives.
struct Case {
    email: PathBuf,
    expected: PathBuf,
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where the shared corpus is expected: `$INVITE_ROUTER_SHARED_CORPUS`, else `../shared/corpus`.
fn shared_corpus_dir() -> PathBuf {
    std::env::var_os("INVITE_ROUTER_SHARED_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/corpus"))
}

fn emails_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "eml") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn fixture_cases() -> Vec<Case> {
    emails_under(&repo_root().join("fixtures/emails"))
        .into_iter()
        .map(|email| Case {
            expected: email.with_extension("expected.json"),
            email,
        })
        .collect()
}

fn shared_cases(corpus: &Path) -> Vec<Case> {
    let expectations = repo_root().join("fixtures/shared-corpus");
    emails_under(corpus)
        .into_iter()
        .map(|email| {
            let relative = email.strip_prefix(corpus).unwrap_or(&email).to_path_buf();
            Case {
                expected: expectations.join(relative).with_extension("expected.json"),
                email,
            }
        })
        .collect()
}

/// The semantic projection of an `inspect` report that expectations record.
fn projection(report: &Value) -> Value {
    let mut top = Map::new();
    for field in TOP_FIELDS {
        top.insert(field.into(), report[field].clone());
    }
    // Recorded only where a refusal says more than its reason, so other expectations stay short.
    if !report["detail"].is_null() {
        top.insert("detail".into(), report["detail"].clone());
    }
    let events: Vec<Value> = report["events"]
        .as_array()
        .map(|events| {
            events
                .iter()
                .map(|event| {
                    let mut projected = Map::new();
                    for field in EVENT_FIELDS {
                        projected.insert(field.into(), event[field].clone());
                    }
                    projected.insert("organizer".into(), event["organizer"]["address"].clone());
                    let attendees: Vec<Value> = event["attendees"]
                        .as_array()
                        .map(|list| list.iter().map(|a| a["address"].clone()).collect())
                        .unwrap_or_default();
                    projected.insert("attendees".into(), Value::Array(attendees));
                    projected.insert("conference_url".into(), event["conference_url"].clone());
                    Value::Object(projected)
                })
                .collect()
        })
        .unwrap_or_default();
    top.insert("events".into(), Value::Array(events));
    Value::Object(top)
}

fn with_line_endings(raw: &[u8], crlf: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 16);
    let mut index = 0;
    while index < raw.len() {
        match raw[index] {
            b'\r' if raw.get(index + 1) == Some(&b'\n') => {
                out.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
                index += 2;
                continue;
            }
            b'\n' => out.extend_from_slice(if crlf { b"\r\n" } else { b"\n" }),
            byte => out.push(byte),
        }
        index += 1;
    }
    out
}

fn analysed(raw: &[u8]) -> Value {
    projection(&inspect_report(&analyze(
        raw,
        &Limits::default(),
        &SenderPolicy::default(),
    )))
}

/// Where two JSON values differ, as `path: expected X, got Y` lines.
fn differences(path: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(want), Value::Object(got)) => {
            for (key, value) in want {
                differences(
                    &format!("{path}.{key}"),
                    value,
                    got.get(key).unwrap_or(&Value::Null),
                    out,
                );
            }
            for key in got.keys().filter(|key| !want.contains_key(*key)) {
                out.push(format!("{path}.{key}: not expected, got {}", got[key]));
            }
        }
        (Value::Array(want), Value::Array(got)) if want.len() == got.len() => {
            for (index, (w, g)) in want.iter().zip(got).enumerate() {
                differences(&format!("{path}[{index}]"), w, g, out);
            }
        }
        _ if expected != actual => out.push(format!("{path}: expected {expected}, got {actual}")),
        _ => {}
    }
}

fn check_cases(cases: &[Case]) -> Vec<String> {
    let bless = std::env::var_os("BLESS").is_some();
    let mut mismatches = Vec::new();
    for case in cases {
        let name = case.email.display().to_string();
        let raw = match std::fs::read(&case.email) {
            Ok(raw) => raw,
            Err(error) => {
                mismatches.push(format!("{name}: unreadable: {error}"));
                continue;
            }
        };
        let crlf = analysed(&with_line_endings(&raw, true));
        let lf = analysed(&with_line_endings(&raw, false));
        if crlf != lf {
            let mut diff = Vec::new();
            differences("", &crlf, &lf, &mut diff);
            mismatches.push(format!(
                "{name}: CRLF and LF forms differ:\n    {}",
                diff.join("\n    ")
            ));
        }
        if bless {
            if let Some(parent) = case.expected.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            let text = serde_json::to_string_pretty(&crlf).unwrap_or_default() + "\n";
            if let Err(error) = std::fs::write(&case.expected, text) {
                mismatches.push(format!("{name}: cannot bless: {error}"));
            }
            continue;
        }
        let expected: Value = match std::fs::read_to_string(&case.expected)
            .map_err(|error| error.to_string())
            .and_then(|text| serde_json::from_str(&text).map_err(|error| error.to_string()))
        {
            Ok(expected) => expected,
            Err(error) => {
                mismatches.push(format!(
                    "{name}: no usable expectation at {} ({error}); write one, or BLESS=1 and review",
                    case.expected.display()
                ));
                continue;
            }
        };
        for (form, actual) in [("CRLF", &crlf), ("LF", &lf)] {
            let mut diff = Vec::new();
            differences("", &expected, actual, &mut diff);
            if !diff.is_empty() {
                mismatches.push(format!("{name} ({form}):\n    {}", diff.join("\n    ")));
            }
        }
    }
    mismatches
}

#[test]
fn fixtures_match_their_expectations_in_crlf_and_lf() {
    let cases = fixture_cases();
    assert!(
        cases.len() >= 40,
        "expected at least 40 fixture emails, found {}",
        cases.len()
    );
    let mismatches = check_cases(&cases);
    assert!(
        mismatches.is_empty(),
        "{} of {} fixtures mismatch (BLESS=1 cargo test --test corpus re-blesses):\n{}",
        mismatches.len(),
        cases.len(),
        mismatches.join("\n")
    );
}

#[test]
fn shared_real_client_corpus_matches_its_expectations() {
    let corpus = shared_corpus_dir();
    if !corpus.is_dir() {
        let message = format!(
            "the shared corpus was not swept: {} is not a folder (set INVITE_ROUTER_SHARED_CORPUS)",
            corpus.display()
        );
        // CI always has it beside the clone: there, a missing corpus is a broken set-up.
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
        // Straight to stderr: libtest captures eprintln! of a passing test, and a skip must show.
        let _ = writeln!(std::io::stderr(), "skipped: {message}");
        return;
    }
    let cases = shared_cases(&corpus);
    assert!(
        !cases.is_empty(),
        "the shared corpus at {} holds no .eml",
        corpus.display()
    );
    let mismatches = check_cases(&cases);
    assert!(
        mismatches.is_empty(),
        "{} of {} shared corpus emails mismatch:\n{}",
        mismatches.len(),
        cases.len(),
        mismatches.join("\n")
    );
}

#[test]
fn every_reason_code_has_a_fixture() {
    let mut seen = std::collections::BTreeSet::new();
    for case in fixture_cases() {
        if let Ok(text) = std::fs::read_to_string(&case.expected)
            && let Ok(expected) = serde_json::from_str::<Value>(&text)
            && let Some(reason) = expected["reason"].as_str()
        {
            seen.insert(reason.to_owned());
        }
    }
    let missing: Vec<&str> = invite_router::core::model::Reason::ALL
        .iter()
        .map(|reason| reason.code())
        .filter(|code| *code != "unknown_event" && !seen.contains(*code))
        .collect();
    assert!(missing.is_empty(), "no fixture refuses with: {missing:?}");
}

/// The binary prints the same report the library computes, for every fixture, and exits 0.
#[test]
fn inspect_command_prints_the_report_for_every_fixture() {
    let binary = env!("CARGO_BIN_EXE_invite-router");
    let mut problems = Vec::new();
    for case in fixture_cases() {
        let output = Command::new(binary)
            .arg("inspect")
            .arg(&case.email)
            .output()
            .expect("the binary runs");
        if !output.status.success() {
            problems.push(format!(
                "{}: exit {:?}",
                case.email.display(),
                output.status.code()
            ));
            continue;
        }
        let printed: Value = match serde_json::from_slice(&output.stdout) {
            Ok(printed) => printed,
            Err(error) => {
                problems.push(format!("{}: not JSON: {error}", case.email.display()));
                continue;
            }
        };
        let raw = std::fs::read(&case.email).expect("readable");
        let library = inspect_report(&analyze(&raw, &Limits::default(), &SenderPolicy::default()));
        if printed != library {
            problems.push(format!(
                "{}: CLI and library reports differ",
                case.email.display()
            ));
        }
        for field in TOP_FIELDS.iter().chain(["events"].iter()) {
            if printed.get(*field).is_none() {
                problems.push(format!(
                    "{}: no `{field}` in the report",
                    case.email.display()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn inspect_command_exit_codes() {
    let binary = env!("CARGO_BIN_EXE_invite-router");
    let missing = Command::new(binary)
        .args(["inspect", "/nonexistent/mail.eml"])
        .output()
        .expect("runs");
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read"));
    let usage = Command::new(binary).arg("inspect").output().expect("runs");
    assert_eq!(usage.status.code(), Some(2));
    // A refusal is a handled outcome: exit 0 with the reason. Text with no From field names no
    // sender (one From, one mailbox, or sender_unauthenticated); with one, it is no_calendar.
    for (text, reason) in [
        (
            &b"From: ann@example.com\r\n\r\njust some text"[..],
            "no_calendar",
        ),
        (&b"just some text"[..], "sender_unauthenticated"),
    ] {
        let not_an_invite = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(not_an_invite.path(), text).expect("write");
        let refused = Command::new(binary)
            .arg("inspect")
            .arg(not_an_invite.path())
            .output()
            .expect("runs");
        assert_eq!(refused.status.code(), Some(0), "{reason}");
        let report: Value = serde_json::from_slice(&refused.stdout).expect("JSON");
        assert_eq!(report["valid"], json!(false));
        assert_eq!(report["reason"], json!(reason));
    }
}

#[test]
fn line_ending_conversion_round_trips() {
    assert_eq!(with_line_endings(b"a\r\nb\nc", true), b"a\r\nb\r\nc");
    assert_eq!(with_line_endings(b"a\r\nb\nc\r", false), b"a\nb\nc\r");
}
