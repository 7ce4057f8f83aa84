//! The boundary, tried from outside through `invite-router process` as a stranger's mail reaches
//! it: one case per class of hostile text (docs/DESIGN.md, "The boundary"). The command line is
//! the contract, so these cases ran unchanged against the code before the boundary was drawn,
//! where every one of them failed.

#[path = "support/strict_reply.rs"]
mod strict_reply;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// An invite as SES stores it: receipt headers, `extra` headers, a text part and a 7bit
/// text/calendar part whose VEVENT holds `event` (CRLF lines).
fn invite(from: &str, subject: &str, message_id: &str, extra: &str, event: &str) -> String {
    format!(
        "Return-Path: <ann@example.com>\r\n\
         Received: from mail.example.com (mail.example.com [198.51.100.7])\r\n \
         by inbound-smtp.eu-west-1.amazonaws.com with SMTP id 0a1b2c3d\r\n \
         for create@example.org; Mon, 30 Nov 2026 09:00:03 +0000\r\n\
         X-SES-Spam-Verdict: PASS\r\n\
         X-SES-Virus-Verdict: PASS\r\n\
         {extra}\
         From: {from}\r\n\
         To: create@example.org\r\n\
         Subject: {subject}\r\n\
         Date: Mon, 30 Nov 2026 09:00:00 +0000\r\n\
         Message-ID: {message_id}\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/alternative; boundary=\"b1\"\r\n\
         \r\n\
         --b1\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         Planning, Thursday.\r\n\
         --b1\r\n\
         Content-Type: text/calendar; charset=utf-8; method=REQUEST\r\n\
         \r\n\
         BEGIN:VCALENDAR\r\n\
         VERSION:2.0\r\n\
         PRODID:-//Example//Boundary test//EN\r\n\
         METHOD:REQUEST\r\n\
         BEGIN:VEVENT\r\n\
         UID:boundary-{}@example.com\r\n\
         DTSTAMP:20261130T090000Z\r\n\
         SEQUENCE:0\r\n\
         SUMMARY:Planning\r\n\
         {event}\
         ATTENDEE;RSVP=TRUE:mailto:create@example.org\r\n\
         END:VEVENT\r\n\
         END:VCALENDAR\r\n\
         --b1--\r\n",
        message_id.len()
    )
}

const ANN: &str = "Ann Example <ann@example.com>";
const TIMES: &str = "DTSTART:20261203T100000Z\r\nDTEND:20261203T110000Z\r\n";
const ANN_ORGANIZES: &str = "ORGANIZER;CN=Ann:mailto:ann@example.com\r\n";
const BOB_ORGANIZES: &str = "ORGANIZER;CN=Bob:mailto:bob@example.net\r\n";

fn run(state: &Path, file: &Path, env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_invite-router"))
        .arg("process")
        .arg("--state")
        .arg(state)
        .arg(file)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// Processes `email` in a fresh state directory: the printed line (with the `detail` that
/// `inspect` shows) and the replies written.
fn process(name: &str, email: &str, env: &[(&str, &str)]) -> (Value, Vec<Vec<u8>>) {
    let dir = tempfile::tempdir().unwrap();
    let file: PathBuf = dir.path().join(format!("{name}.eml"));
    std::fs::write(&file, email).unwrap();
    let state = dir.path().join("state");
    let output = run(&state, &file, env);
    assert_eq!(output.status.code(), Some(0), "{name}: {output:?}");
    let mut line: Value = serde_json::from_slice(&output.stdout).unwrap();
    let inspected = Command::new(env!("CARGO_BIN_EXE_invite-router"))
        .arg("inspect")
        .arg(&file)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let inspected: Value = serde_json::from_slice(&inspected.stdout).unwrap();
    line["detail"] = inspected["detail"].clone();
    let replies = std::fs::read_dir(state.join("replies"))
        .map(|entries| {
            entries
                .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
                .collect()
        })
        .unwrap_or_default();
    (line, replies)
}

/// The boundary a reply declared, read from its top-level Content-Type.
fn declared_boundary(reply: &[u8]) -> String {
    let text = String::from_utf8_lossy(reply);
    let start = text.find("boundary=\"").unwrap() + "boundary=\"".len();
    text[start..].split('"').next().unwrap().to_owned()
}

/// Every failing case is reported, not only the first.
fn report(failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Class 1: a reply carries exactly the parts we wrote. A stranger who learned the boundary of
/// our answer to one mail (the old boundary came from the mail's Message-ID) sends a second with
/// the same Message-ID and a Subject whose encoded-word decodes to CRLF, that boundary and an
/// HTML part; a Message-ID with a lone CR; a Message-ID over 1 KiB.
#[test]
fn replies_carry_only_what_we_wrote() {
    let mut failures = Vec::new();
    let probe = invite(
        ANN,
        "Planning",
        "<probe@example.com>",
        "",
        &format!("{BOB_ORGANIZES}{TIMES}"),
    );
    let (_, replies) = process("probe", &probe, &[]);
    assert_eq!(
        replies.len(),
        1,
        "a sender_not_organizer refusal is answered"
    );
    let learned = declared_boundary(&replies[0]);

    let smuggled = format!(
        "Planning\r\n--{learned}\r\nContent-Type: text/html\r\n\r\n<a href=\"https://evil.example\">Sign in again</a>\r\n--{learned}--\r\n"
    );
    // RFC 2047 Q encoding with every byte escaped: valid, and hides the CRLF from the header.
    let escaped: String = smuggled
        .bytes()
        .map(|byte| format!("={byte:02X}"))
        .collect();
    let subject = format!("=?utf-8?q?{escaped}?=");
    let long_id = format!("<{}@example.com>", "x".repeat(1100));
    let cases: Vec<(&str, String, String, bool)> = vec![
        (
            "learned boundary",
            subject,
            "<probe@example.com>".into(),
            true,
        ),
        (
            "lone CR in Message-ID",
            "Planning".into(),
            "<a\rb@example.com>".into(),
            false,
        ),
        ("1 KiB Message-ID", "Planning".into(), long_id, false),
    ];
    for (name, subject, message_id, threaded) in cases {
        let email = invite(
            ANN,
            &subject,
            &message_id,
            "",
            &format!("{BOB_ORGANIZES}{TIMES}"),
        );
        let (line, replies) = process("hostile", &email, &[]);
        if replies.len() != 1 {
            failures.push(format!("{name}: {} replies for {line}", replies.len()));
            continue;
        }
        if let Err(why) = strict_reply::check(&replies[0], "invite-router-", threaded) {
            failures.push(format!("{name}: {why}"));
        }
    }
    report(failures);
}

/// Class 2: only a grammatical reading of the trusted Authentication-Results counts.
#[test]
fn authentication_results_are_read_by_their_grammar() {
    let required = [("REQUIRE_AUTHENTICATION", "true")];
    let header = |results: &str| format!("Authentication-Results: {results}\r\n");
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "a quoted local part that says dmarc=pass",
            header(
                "amazonses.com; spf=pass smtp.mailfrom=\"x; dmarc=pass; y\"@evil.example; \
                 dkim=none; dmarc=fail header.from=example.com",
            ),
            "invalid",
        ),
        (
            "a quoted local part that opens a comment",
            header(
                "amazonses.com; spf=pass smtp.mailfrom=\"(x\"@evil.example; \
                 dmarc=fail header.from=example.com; dkim=pass header.i=@example.com (y)",
            ),
            "invalid",
        ),
        (
            "CFWS around the equals sign",
            header(
                "amazonses.com; spf=pass smtp.mailfrom=ann@example.com; dmarc = fail header.from=example.com",
            ),
            "invalid",
        ),
        (
            "a folded result",
            header(
                "amazonses.com; spf=pass smtp.mailfrom=ann@example.com;\r\n dmarc=\r\n fail header.from=example.com",
            ),
            "invalid",
        ),
        (
            "two dmarc results, one failing",
            header(
                "amazonses.com; dmarc=pass header.from=example.com; dmarc=fail header.from=example.com",
            ),
            "invalid",
        ),
        (
            "a dmarc pass for another domain",
            header(
                "amazonses.com; spf=fail smtp.mailfrom=ann@evil.example; dmarc=pass header.from=evil.example",
            ),
            "invalid",
        ),
        (
            "a pass from an authserv-id we do not trust",
            header(
                "mx.evil.example; spf=pass smtp.mailfrom=ann@example.com; dkim=pass header.i=@example.com; dmarc=pass header.from=example.com",
            ),
            "invalid",
        ),
        (
            "the real thing",
            header(
                "amazonses.com; spf=pass smtp.mailfrom=ann@example.com; dkim=pass header.i=@example.com; dmarc=pass header.from=example.com",
            ),
            "create",
        ),
    ];
    let mut failures = Vec::new();
    for (name, extra, route) in cases {
        let email = invite(
            ANN,
            "Planning",
            "<ar@example.com>",
            &extra,
            &format!("{ANN_ORGANIZES}{TIMES}"),
        );
        let (line, _) = process("ar", &email, &required);
        if line["route"] != route {
            failures.push(format!("{name}: expected {route}, got {line}"));
        }
    }
    report(failures);
}

/// Class 3: RFC 3834, 2369 and 2919 forms and our own addresses are never answered.
#[test]
fn machines_and_lists_and_ourselves_are_not_answered() {
    let refused = format!("{BOB_ORGANIZES}{TIMES}");
    let cases: Vec<(&str, &str, &str)> = vec![
        (
            "Auto-Submitted with a comment",
            ANN,
            "Auto-Submitted: (vacation) auto-replied\r\n",
        ),
        (
            "a second Auto-Submitted after no",
            ANN,
            "Auto-Submitted: no\r\nAuto-Submitted: auto-replied\r\n",
        ),
        ("X-Autoreply", ANN, "X-Autoreply: yes\r\n"),
        ("Precedence: auto_reply", ANN, "Precedence: auto_reply\r\n"),
        (
            "List-Post alone",
            ANN,
            "List-Post: <mailto:team@lists.example.com>\r\n",
        ),
        (
            "our drop box with a +tag",
            "Drop box <create+tag@example.org>",
            "",
        ),
        (
            "our drop box with a trailing dot",
            "create@example.org.",
            "",
        ),
    ];
    let mut failures = Vec::new();
    for (name, from, extra) in cases {
        let email = invite(from, "Planning", "<auto@example.com>", extra, &refused);
        let (line, replies) = process(
            "auto",
            &email,
            &[("DROPBOX_ADDRESSES", "create@example.org")],
        );
        if line["notify_sender"] != false || !replies.is_empty() {
            failures.push(format!(
                "{name}: answered ({} replies): {line}",
                replies.len()
            ));
        }
    }
    report(failures);
}

/// Class 4: a property that may occur once, twice, or one that cannot be read, is malformed;
/// never the first copy winning, never a field silently dropped.
#[test]
fn single_valued_properties_are_exact() {
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "two ORGANIZERs",
            format!("{ANN_ORGANIZES}{BOB_ORGANIZES}{TIMES}"),
            "ORGANIZER",
        ),
        (
            "two SEQUENCEs",
            format!("{ANN_ORGANIZES}SEQUENCE:3\r\n{TIMES}"),
            "SEQUENCE",
        ),
        (
            "an unreadable DTEND (RFC 5546's seven-digit time)",
            format!("{ANN_ORGANIZES}DTSTART:20261203T100000Z\r\nDTEND:20261203T1100000Z\r\n"),
            "DTEND",
        ),
        (
            "an unreadable RRULE",
            format!("{ANN_ORGANIZES}{TIMES}RRULE:FREQ=SOMETIMES\r\n"),
            "RRULE",
        ),
    ];
    let mut failures = Vec::new();
    for (name, event, property) in cases {
        let email = invite(ANN, "Planning", "<exact@example.com>", "", &event);
        let (line, _) = process("exact", &email, &[]);
        let detail = line["detail"].as_str().unwrap_or_default();
        if line["reason"] != "malformed_calendar" || !detail.contains(property) {
            failures.push(format!("{name}: {line}"));
        }
    }
    report(failures);
}
