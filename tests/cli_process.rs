//! `invite-router process --state DIR FILE...`, run as a user runs it: the demo's invite life,
//! a second run that changes nothing, and the exit codes.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use invite_router::core::model::Topic;
use serde_json::Value;

fn demo_emails() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/emails");
    let mut emails: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
        .collect();
    emails.sort();
    emails
}

fn process(state: &Path, files: &[PathBuf]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_invite-router"))
        .arg("process")
        .arg("--state")
        .arg(state)
        .args(files)
        .output()
        .unwrap()
}

fn lines(output: &Output) -> Vec<Value> {
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Every published line, per topic file, each message checked against its schema.
fn topic_lines(state: &Path) -> Vec<(Topic, Value)> {
    let mut all = Vec::new();
    for topic in Topic::ALL {
        let path = state.join("topics").join(format!("{topic}.jsonl"));
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for line in text.lines() {
            let value: Value = serde_json::from_str(line).unwrap();
            assert_eq!(value["topic"], topic.as_str());
            support::schema::assert_valid(topic, &value["message"].to_string());
            all.push((topic, value));
        }
    }
    all
}

#[test]
fn an_invites_life_is_routed_and_a_second_run_changes_nothing() {
    let state = tempfile::tempdir().unwrap();
    let emails = demo_emails();
    assert_eq!(emails.len(), 7);
    let first = process(state.path(), &emails);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let first_lines = lines(&first);
    let summary: Vec<(String, Value, Value, bool)> = first_lines
        .iter()
        .map(|line| {
            let name = Path::new(line["source"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (
                name,
                line["route"].clone(),
                line["reason"].clone(),
                line["notify_sender"].as_bool().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("01-invite.eml", "create", Value::Null, false),
        ("02-reschedule.eml", "update", Value::Null, false),
        ("03-late-copy-of-invite.eml", "stale", Value::Null, false),
        (
            "04-spoofed-cancel.eml",
            "invalid",
            "sender_not_organizer".into(),
            true,
        ),
        ("05-cancel.eml", "cancel", Value::Null, false),
        ("06-no-invite.eml", "invalid", "no_calendar".into(), true),
        (
            "07-forged-cancel.eml",
            "invalid",
            "sender_unauthenticated".into(),
            false,
        ),
    ];
    for (got, want) in summary.iter().zip(expected) {
        assert_eq!(
            (got.0.as_str(), got.1.as_str().unwrap(), &got.2, got.3),
            (want.0, want.1, &want.2, want.3)
        );
    }
    // The keys of docs/DESIGN.md "The command line's JSON", in its order.
    let raw = String::from_utf8(first.stdout.clone()).unwrap();
    let first_raw = raw.lines().next().unwrap();
    let positions: Vec<usize> = [
        "source",
        "route",
        "reason",
        "uid",
        "recurrence_id",
        "sequence",
        "notify_sender",
    ]
    .iter()
    .map(|key| first_raw.find(&format!("\"{key}\":")).unwrap())
    .collect();
    assert!(positions.is_sorted(), "keys out of order: {first_raw}");
    assert_eq!(first_lines[0].as_object().unwrap().len(), 7);
    assert_eq!(first_lines[1]["uid"], "3qv1l5t0quarterly2026@google.com");
    assert_eq!(first_lines[1]["sequence"], 1);

    let published = topic_lines(state.path());
    let topics: Vec<Topic> = published.iter().map(|(topic, _)| *topic).collect();
    assert_eq!(
        topics,
        vec![
            Topic::Create,
            Topic::Update,
            Topic::Cancel,
            Topic::Rejected,
            Topic::Rejected
        ]
    );
    let (_, update) = &published[1];
    assert_eq!(update["attributes"]["route"], "update");
    assert_eq!(update["attributes"]["method"], "REQUEST");
    assert_eq!(
        update["attributes"]["uid"],
        update["message"]["event"]["uid"]
    );
    assert_eq!(update["message"]["event"]["start"], "2026-12-03T09:00:00Z");
    assert_eq!(
        update["message"]["event"]["conference_url"],
        "https://meet.google.com/kfp-xwzq-rtd"
    );
    let ledger = std::fs::read(state.path().join("ledger.sqlite3")).unwrap();

    let second = process(state.path(), &emails);
    assert_eq!(second.status.code(), Some(0));
    let routes: Vec<Value> = lines(&second)
        .iter()
        .map(|line| line["route"].clone())
        .collect();
    assert_eq!(
        routes,
        [
            "stale",
            "stale",
            "stale",
            "invalid",
            "duplicate",
            "invalid",
            "invalid"
        ]
    );
    assert_eq!(topic_lines(state.path()), published, "no new topic lines");
    assert_eq!(
        std::fs::read(state.path().join("ledger.sqlite3")).unwrap(),
        ledger,
        "the ledger file is byte-identical"
    );
}

#[test]
fn an_unreadable_input_exits_1_after_handling_the_others() {
    let state = tempfile::tempdir().unwrap();
    let mut files = demo_emails();
    files.insert(1, state.path().join("does-not-exist.eml"));
    let output = process(state.path(), &files);
    assert_eq!(output.status.code(), Some(1));
    let lines = lines(&output);
    assert_eq!(
        lines.len(),
        files.len(),
        "one line per input, failures included"
    );
    assert_eq!(lines[0]["route"], "create");
    assert_eq!(lines[1]["route"], Value::Null);
    assert!(
        lines[1]["error"]
            .as_str()
            .unwrap()
            .contains("does-not-exist.eml")
    );
    assert_eq!(lines[2]["route"], "update");
    assert!(String::from_utf8_lossy(&output.stderr).contains("does-not-exist.eml"));
}

#[test]
fn a_state_dir_that_cannot_be_created_exits_1() {
    let parent = tempfile::tempdir().unwrap();
    let file = parent.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let output = process(&file.join("state"), &demo_emails()[..1]);
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn usage_errors_exit_2() {
    let state = tempfile::tempdir().unwrap();
    let no_files = process(state.path(), &[]);
    assert_eq!(no_files.status.code(), Some(2));
    let no_state = Command::new(env!("CARGO_BIN_EXE_invite-router"))
        .args(["process", "x.eml"])
        .output()
        .unwrap();
    assert_eq!(no_state.status.code(), Some(2));
    let unknown_flag = Command::new(env!("CARGO_BIN_EXE_invite-router"))
        .args(["process", "--frobnicate", "--state", "s", "x.eml"])
        .output()
        .unwrap();
    assert_eq!(unknown_flag.status.code(), Some(2));
}

/// A closed standard output (`process a b c | head -1`, `inspect x | head`) must neither stop the
/// work nor crash: every input is processed, the failure is reported once on standard error.
#[test]
fn a_closed_stdout_does_not_stop_or_crash_the_work() {
    use std::process::Stdio;
    let state = tempfile::tempdir().unwrap();
    let emails = demo_emails();
    let mut child = Command::new(env!("CARGO_BIN_EXE_invite-router"))
        .arg("process")
        .arg("--state")
        .arg(state.path())
        .args(&emails)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.matches("standard output failed").count(),
        1,
        "{stderr}"
    );
    // The whole demo was processed: five event and rejected messages, as with an open stdout.
    assert_eq!(topic_lines(state.path()).len(), 5);

    let mut inspect = Command::new(env!("CARGO_BIN_EXE_invite-router"))
        .args(["inspect", "--pretty"])
        .arg(&emails[0])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(inspect.stdout.take());
    let output = inspect.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "no panic (exit 101)");
}

/// The CLI reads the Lambda's settings: a production limit reproduces a production refusal, and
/// `--help` says which values are in force.
#[test]
fn the_environment_sets_the_limits_and_help_shows_them() {
    let email = &demo_emails()[0];
    let output = Command::new(env!("CARGO_BIN_EXE_invite-router"))
        .arg("inspect")
        .arg(email)
        .env("MAX_EMAIL_BYTES", "1024")
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["reason"], "too_large");
    let help = Command::new(env!("CARGO_BIN_EXE_invite-router"))
        .args(["process", "--help"])
        .env("MAX_EMAIL_BYTES", "1024")
        .env("DELEGATION", "off")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("MAX_EMAIL_BYTES          1024"), "{help}");
    assert!(help.contains("DELEGATION               off"), "{help}");
    let bad = Command::new(env!("CARGO_BIN_EXE_invite-router"))
        .arg("inspect")
        .arg(email)
        .env("MAX_EMAIL_BYTES", "ten megabytes")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("MAX_EMAIL_BYTES"));
}

/// What a run leaves behind that a second run must not change: per topic the dedupe ids in
/// order, the ledger's records, and the replies written.
fn state_summary(state: &Path) -> (Vec<(Topic, String)>, Vec<String>, Vec<String>) {
    let published = topic_lines(state)
        .into_iter()
        .map(|(topic, line)| (topic, line["message"]["dedupe_id"].as_str().unwrap().into()))
        .collect();
    let ledger = invite_router::local::SqliteLedger::open(&state.join("ledger.sqlite3"))
        .unwrap()
        .all()
        .unwrap()
        .into_iter()
        .map(|record| {
            format!(
                "{} {:?} rev {} from {:?} outbox {:?}",
                record.key, record.state, record.revision, record.last_source_key, record.outbox
            )
        })
        .collect();
    let mut replies: Vec<String> = std::fs::read_dir(state.join("replies"))
        .map(|entries| {
            entries
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    replies.sort();
    (published, ledger, replies)
}

/// Two `process` runs started on one state directory while a third party holds it: both say
/// they wait, then run one after the other, and the state is exactly what one run leaves (no
/// rejection published twice, no reply written twice, the same ledger).
#[test]
fn two_concurrent_runs_on_one_state_wait_and_publish_once() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let emails = demo_emails();
    let clean = tempfile::tempdir().unwrap();
    assert_eq!(process(clean.path(), &emails).status.code(), Some(0));

    let shared = tempfile::tempdir().unwrap();
    let held = invite_router::local::StateLock::acquire(shared.path(), || {
        panic!("nobody holds the new state yet")
    })
    .unwrap();
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let mut child = Command::new(env!("CARGO_BIN_EXE_invite-router"))
                .arg("process")
                .arg("--state")
                .arg(shared.path())
                .args(&emails)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stderr = BufReader::new(child.stderr.take().unwrap());
            let mut first_line = String::new();
            stderr.read_line(&mut first_line).unwrap();
            assert!(
                first_line.contains("in use by another process run; waiting"),
                "{first_line}"
            );
            (child, stderr)
        })
        .collect();
    drop(held);
    for (child, mut stderr) in runs {
        let output = child.wait_with_output().unwrap();
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
        assert_eq!(output.status.code(), Some(0), "{rest}");
        assert_eq!(lines(&output).len(), emails.len());
    }
    let after_two = state_summary(shared.path());
    assert_eq!(after_two, state_summary(clean.path()));
    let (published, _, replies) = after_two;
    assert!(published.iter().any(|(topic, _)| *topic == Topic::Rejected));
    assert!(!replies.is_empty());
}

/// Two refusals that share a Message-ID but come from different senders (anyone can write
/// another's Message-ID) are two refusals: each sender is told. The same email stored twice
/// (other Received headers, same body) is one.
#[test]
fn refusals_are_keyed_by_sender_and_content_not_message_id() {
    let dir = tempfile::tempdir().unwrap();
    let email = |from: &str, received: &str| {
        format!(
            "Received: {received}\r\nFrom: {from}\r\nTo: create@example.org\r\nSubject: Lunch?\r\n\
             Message-ID: <shared-id@example.com>\r\nDate: Mon, 30 Nov 2026 09:00:00 +0000\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\nShall we have lunch on Thursday?\r\n"
        )
    };
    let files: Vec<PathBuf> = [
        (
            "ann.eml",
            email("Ann <ann@example.com>", "from a by b; one"),
        ),
        (
            "ann-again.eml",
            email("Ann <ann@example.com>", "from a by c; two"),
        ),
        (
            "bob.eml",
            email("Bob <bob@example.net>", "from a by b; one"),
        ),
    ]
    .into_iter()
    .map(|(name, text)| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    })
    .collect();
    let state = dir.path().join("state");
    let output = process(&state, &files);
    assert_eq!(output.status.code(), Some(0));
    let rejected: Vec<Value> = topic_lines(&state)
        .into_iter()
        .filter(|(topic, _)| *topic == Topic::Rejected)
        .map(|(_, line)| line["message"].clone())
        .collect();
    let senders: Vec<&str> = rejected
        .iter()
        .map(|message| message["sender"].as_str().unwrap())
        .collect();
    assert_eq!(
        senders,
        ["ann@example.com", "bob@example.net"],
        "{rejected:?}"
    );
    let replies = std::fs::read_dir(state.join("replies")).unwrap().count();
    assert_eq!(replies, 2);
}

/// File names are OS paths: one that is not UTF-8 is processed like any other, its `source`
/// the reversible `os-path:` form.
#[cfg(unix)]
#[test]
fn a_file_name_that_is_not_utf8_is_processed() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let invite = demo_emails().remove(0);
    let odd = dir
        .path()
        .join(std::ffi::OsStr::from_bytes(b"r\xe9union-\xff.eml"));
    std::fs::copy(&invite, &odd).unwrap();
    let output = process(&dir.path().join("state"), &[odd]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = &lines(&output)[0];
    assert_eq!(line["route"], "create", "{line}");
    assert!(
        line["source"].as_str().unwrap().starts_with("os-path:"),
        "{line}"
    );
}

/// `kill -9` at any moment of a run, many times over, then a whole run: every topic holds each
/// message exactly once and only whole lines, the same messages as one clean run.
#[test]
fn runs_killed_at_any_moment_publish_each_message_exactly_once() {
    let clean = tempfile::tempdir().unwrap();
    assert_eq!(process(clean.path(), &demo_emails()).status.code(), Some(0));
    let ids = |state: &Path| -> Vec<(String, String)> {
        let mut ids: Vec<(String, String)> = topic_lines(state)
            .into_iter()
            .map(|(topic, line)| {
                (
                    topic.to_string(),
                    line["message"]["dedupe_id"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        ids.sort();
        ids
    };
    let expected = ids(clean.path());

    let state = tempfile::tempdir().unwrap();
    for attempt in 0..12u64 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_invite-router"))
            .arg("process")
            .arg("--state")
            .arg(state.path())
            .args(demo_emails())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(attempt * 7));
        let _ = child.kill(); // SIGKILL on Unix
        let _ = child.wait();
    }
    assert_eq!(process(state.path(), &demo_emails()).status.code(), Some(0));
    // topic_lines parses every line (a torn one would fail) and checks each against its schema.
    let got = ids(state.path());
    let mut unique = got.clone();
    unique.dedup();
    assert_eq!(got, unique, "a message was published twice");
    assert_eq!(got, expected);
}
