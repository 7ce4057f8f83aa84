//! The trust holes docs/DESIGN.md "Sender trust" closes, each reproduced as an attacker would, with `invite-router process`
//! on the embedded backend: the organizer's mail first, then the attacker's. Every scenario
//! checks what reached the topics, not just the printed route. Then who is answered.
//! The emails are `fixtures/emails/trust/` (fixtures/README.md says what each one tries).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use invite_router::core::model::Topic;
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/emails/trust")
        .join(format!("{name}.eml"))
}

/// What one `process` run printed, and what it published, topic by topic.
struct Run {
    lines: Vec<Value>,
    published: Vec<(Topic, Value)>,
    /// The reply mails written to `STATE/replies/`, parsed: (To, raw).
    replies: Vec<(String, String)>,
}

impl Run {
    fn topics(&self) -> Vec<Topic> {
        self.published.iter().map(|(topic, _)| *topic).collect()
    }

    fn route(&self, index: usize) -> (&str, Option<&str>) {
        let line = &self.lines[index];
        (
            line["route"].as_str().unwrap_or_default(),
            line["reason"].as_str(),
        )
    }
}

fn process(env: &[(&str, &str)], files: &[PathBuf]) -> Run {
    let state = tempfile::tempdir().expect("temp dir");
    process_in(state.path(), env, files)
}

fn process_in(state: &Path, env: &[(&str, &str)], files: &[PathBuf]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_invite-router"))
        .arg("process")
        .arg("--state")
        .arg(state)
        .args(files)
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    let mut published = Vec::new();
    for topic in Topic::ALL {
        let path = state.join("topics").join(format!("{topic}.jsonl"));
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for line in text.lines() {
            let value: Value = serde_json::from_str(line).expect("a JSON line");
            support::schema::assert_valid(topic, &value["message"].to_string());
            published.push((topic, value["message"].clone()));
        }
    }
    let mut replies = Vec::new();
    if let Ok(entries) = std::fs::read_dir(state.join("replies")) {
        for entry in entries.flatten() {
            let raw = std::fs::read(entry.path()).expect("a reply file");
            let message = mail_parser::MessageParser::default()
                .parse(&raw)
                .expect("a reply parses");
            let to = message
                .to()
                .and_then(|to| to.first())
                .and_then(|address| address.address())
                .unwrap_or_default()
                .to_owned();
            replies.push((to, String::from_utf8_lossy(&raw).into_owned()));
        }
    }
    replies.sort();
    Run {
        lines,
        published,
        replies,
    }
}

fn run_fixtures(names: &[&str]) -> Run {
    process(
        &[],
        &names.iter().map(|name| fixture(name)).collect::<Vec<_>>(),
    )
}

#[test]
fn hole_1_a_sent_by_outside_the_organizers_domain_cannot_cancel_or_create() {
    let run = run_fixtures(&["alice-invites", "sent-by-outside-domain"]);
    assert_eq!(run.route(0), ("create", None));
    assert_eq!(run.route(1), ("invalid", Some("sender_not_organizer")));
    // The attacker authenticated as himself, so he is told; the event is untouched.
    assert_eq!(run.topics(), vec![Topic::Create, Topic::Rejected]);
    assert_eq!(run.published[1].1["sender"], "mallory@evil.example");

    // Nothing on record: the same SENT-BY cannot speak in the organizer's name either.
    let alone = run_fixtures(&["sent-by-outside-domain"]);
    assert_eq!(alone.route(0), ("invalid", Some("sender_not_organizer")));
}

#[test]
fn hole_1_delegation_follows_the_policy() {
    let files = [fixture("alice-invites"), fixture("sent-by-outside-domain")];
    let listed = process(
        &[
            ("DELEGATION", "listed"),
            ("DELEGATES", "alice.moreau@example.com=mallory@evil.example"),
        ],
        &files,
    );
    assert_eq!(listed.route(1), ("cancel", None), "a listed delegate acts");
    assert_eq!(listed.topics(), vec![Topic::Create, Topic::Cancel]);

    let colleague = [fixture("alice-invites"), fixture("sent-by-same-domain")];
    assert_eq!(
        run_fixtures(&["alice-invites", "sent-by-same-domain"]).route(1),
        ("update", None)
    );
    let off = process(&[("DELEGATION", "off")], &colleague);
    assert_eq!(off.route(1), ("invalid", Some("sender_not_organizer")));
    let listed_elsewhere = process(
        &[
            ("DELEGATION", "listed"),
            ("DELEGATES", "boss@corp.example=assistant@corp.example"),
        ],
        &colleague,
    );
    assert_eq!(
        listed_elsewhere.route(1),
        ("invalid", Some("sender_not_organizer")),
        "listed means only the pairs listed, even in the organizer's domain"
    );
}

#[test]
fn hole_2_a_pass_for_another_domain_is_not_authentication() {
    for attack in ["dmarc-none-unaligned-pass", "lookalike-dkim-domain"] {
        let run = run_fixtures(&["alice-invites", attack]);
        assert_eq!(
            run.route(1),
            ("invalid", Some("sender_unauthenticated")),
            "{attack}"
        );
        let line = &run.lines[1];
        assert_eq!(line["notify_sender"], false, "{attack}: never backscatter");
        assert_eq!(line["no_reply_because"], "reason_not_told", "{attack}");
        assert_eq!(run.topics(), vec![Topic::Create], "{attack}");
    }
    // An aligned pass with DMARC none is authentication: the organizer's update goes through.
    let aligned = run_fixtures(&["alice-invites", "dmarc-none-aligned-spf"]);
    assert_eq!(aligned.route(1), ("duplicate", None));
}

#[test]
fn hole_3_several_senders_are_not_one() {
    let run = run_fixtures(&["alice-invites", "two-from-fields", "two-mailboxes-in-from"]);
    for index in [1, 2] {
        assert_eq!(
            run.route(index),
            ("invalid", Some("sender_unauthenticated"))
        );
        assert_eq!(run.lines[index]["notify_sender"], false);
    }
    assert_eq!(run.topics(), vec![Topic::Create]);
}

#[test]
fn hole_4_a_uid_known_by_one_occurrence_belongs_to_its_organizer() {
    let run = run_fixtures(&[
        "alice-moves-one-occurrence",
        "stranger-master-for-known-uid",
        "stranger-cancels-known-uid",
        "component-without-organizer",
    ]);
    assert_eq!(run.route(0), ("create", None));
    for index in 1..=3 {
        assert_eq!(
            run.route(index),
            ("invalid", Some("sender_not_organizer")),
            "{}",
            run.lines[index]
        );
    }
    let events: Vec<Topic> = run
        .topics()
        .into_iter()
        .filter(|topic| *topic != Topic::Rejected)
        .collect();
    assert_eq!(
        events,
        vec![Topic::Create],
        "only the organizer's occurrence"
    );

    // Each of the stranger's mails alone, on an empty ledger, is the stranger's own event.
    let alone = run_fixtures(&["stranger-master-for-known-uid"]);
    assert_eq!(alone.route(0), ("create", None));
}

#[test]
fn hole_4_an_unreadable_recurrence_id_does_not_cancel_the_series() {
    let run = run_fixtures(&[
        "alice-invites",
        "unreadable-recurrence-id",
        "sequence-out-of-range",
    ]);
    assert_eq!(run.route(1), ("invalid", Some("malformed_calendar")));
    assert_eq!(run.route(2), ("invalid", Some("malformed_calendar")));
    assert_eq!(
        run.topics(),
        vec![Topic::Create, Topic::Rejected, Topic::Rejected]
    );
}

// ---- who is answered ---------------------------------------------------------------------------

/// A refused email (no calendar part) from `from`, with `headers` added.
fn refused_email(dir: &Path, name: &str, from: &str, headers: &str, content_type: &str) -> PathBuf {
    let path = dir.join(format!("{name}.eml"));
    let mail = format!(
        "Return-Path: <bounces@example.com>\r\n\
         Authentication-Results: amazonses.com;\r\n dkim=pass header.i=@{domain};\r\n dmarc=pass header.from={domain};\r\n\
         {headers}From: {from}\r\n\
         To: create@invites.example.org\r\n\
         Subject: Q4 review\r\n\
         Date: Mon, 30 Nov 2026 09:15:00 +0000\r\n\
         Message-ID: <{name}@example.com>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: {content_type}\r\n\r\n\
         See you there.\r\n",
        domain = from
            .rsplit_once('@')
            .map_or("example.com", |(_, domain)| domain),
    );
    std::fs::write(&path, mail).expect("write");
    path
}

#[test]
fn refusals_are_answered_only_where_no_loop_or_backscatter_can_follow() {
    let dir = tempfile::tempdir().expect("temp dir");
    let at = dir.path();
    let plain = "text/plain; charset=utf-8";
    let cases = [
        (
            refused_email(at, "organizer", "alice.moreau@example.com", "", plain),
            None,
        ),
        (
            refused_email(
                at,
                "out-of-office",
                "alice.moreau@example.com",
                "Auto-Submitted: auto-replied\r\n",
                plain,
            ),
            Some("auto_replied"),
        ),
        (
            refused_email(
                at,
                "exchange-auto-reply",
                "alice.moreau@example.com",
                "X-Auto-Response-Suppress: All\r\n",
                plain,
            ),
            Some("auto_replied"),
        ),
        (
            refused_email(at, "bounce", "MAILER-DAEMON@mx.example.com", "", plain),
            Some("bounce"),
        ),
        (
            refused_email(
                at,
                "report",
                "postmaster@example.net",
                "",
                "multipart/report; report-type=delivery-status; boundary=\"b\"",
            ),
            Some("bounce"),
        ),
        (
            refused_email(
                at,
                "list",
                "team@lists.example.com",
                "List-Id: <team.lists.example.com>\r\n",
                plain,
            ),
            Some("list_mail"),
        ),
        (
            refused_email(
                at,
                "bulk",
                "news@example.com",
                "Precedence: bulk\r\n",
                plain,
            ),
            Some("list_mail"),
        ),
        (
            refused_email(at, "no-reply", "no-reply@zoom.example", "", plain),
            Some("no_reply_address"),
        ),
        (
            refused_email(at, "own-drop-box", "create@invites.example.org", "", plain),
            Some("own_address"),
        ),
        (
            refused_email(
                at,
                "generated",
                "alerts@example.com",
                "Auto-Submitted: auto-generated\r\n",
                plain,
            ),
            Some("auto_generated"),
        ),
    ];
    let files: Vec<PathBuf> = cases.iter().map(|(path, _)| path.clone()).collect();
    let run = process(
        &[
            ("DROPBOX_ADDRESSES", "invites.example.org"),
            ("REPLY_FROM", "invite-router@replies.example.org"),
        ],
        &files,
    );
    let mut told = 0;
    for ((path, why), line) in cases.iter().zip(&run.lines) {
        assert_eq!(line["reason"], "no_calendar", "{}", path.display());
        assert_eq!(
            line["notify_sender"],
            why.is_none(),
            "{}: {line}",
            path.display()
        );
        assert_eq!(
            line["no_reply_because"].as_str(),
            *why,
            "{}: {line}",
            path.display()
        );
        told += usize::from(why.is_none());
    }
    let rejected = run
        .topics()
        .into_iter()
        .filter(|topic| *topic == Topic::Rejected)
        .count();
    assert_eq!(
        rejected, told,
        "a rejected message only for who is answered"
    );
    // ... and a reply mail, from REPLY_FROM, to exactly them.
    let recipients: Vec<&str> = run.replies.iter().map(|(to, _)| to.as_str()).collect();
    assert_eq!(recipients, vec!["alice.moreau@example.com"]);
    assert!(
        run.replies[0]
            .1
            .contains("From: \"invite-router\" <invite-router@replies.example.org>")
    );
}

#[test]
fn a_flood_is_capped_and_a_second_run_sends_nothing_new() {
    let dir = tempfile::tempdir().expect("temp dir");
    let files: Vec<PathBuf> = (0..12)
        .map(|n| {
            refused_email(
                dir.path(),
                &format!("flood-{n}"),
                "alice.moreau@example.com",
                "",
                "text/plain",
            )
        })
        .collect();
    let state = tempfile::tempdir().expect("temp dir");
    let env = [("REPLY_RATE_LIMIT", "10")];
    let first = process_in(state.path(), &env, &files);
    assert_eq!(first.lines.len(), 12);
    assert_eq!(first.replies.len(), 10, "ten replies a day to one address");
    let again = process_in(state.path(), &env, &files);
    assert_eq!(again.replies, first.replies, "nothing new the second time");
    // The default reply address, when REPLY_FROM is unset.
    assert!(first.replies[0].1.contains("<invite-router@localhost>"));
}

#[test]
fn a_spoofed_request_gets_no_reply_and_a_broken_one_does() {
    let run = run_fixtures(&[
        "alice-invites",
        "dmarc-none-unaligned-pass",
        "unreadable-recurrence-id",
    ]);
    let recipients: Vec<&str> = run.replies.iter().map(|(to, _)| to.as_str()).collect();
    assert_eq!(recipients, vec!["alice.moreau@example.com"]);
    let reply = &run.replies[0].1;
    assert!(
        reply.contains("Subject: Re: Canceled: Q4 review"),
        "{reply}"
    );
    assert!(reply.contains("Auto-Submitted: auto-replied"), "{reply}");
    // Content-Language en-US comes before Accept-Language fr-FR: English it is.
    assert!(reply.contains("Content-Language: en"), "{reply}");
}

#[test]
fn with_notify_on_success_the_organizer_is_confirmed_once_per_transition() {
    let files: Vec<PathBuf> = [
        "alice-invites",
        "alice-invites",
        "sent-by-same-domain",
        "dmarc-none-unaligned-pass",
    ]
    .iter()
    .map(|name| fixture(name))
    .collect();
    let run = process(&[("NOTIFY_ON_SUCCESS", "true")], &files);
    let routes: Vec<&str> = (0..4).map(|index| run.route(index).0).collect();
    assert_eq!(routes, ["create", "duplicate", "update", "invalid"]);
    // The create and the update are confirmed; the duplicate and the spoof are not answered.
    let recipients: Vec<&str> = run.replies.iter().map(|(to, _)| to.as_str()).collect();
    assert_eq!(
        recipients,
        ["alice.moreau@example.com", "claire.petit@example.com"]
    );
    assert!(
        run.replies
            .iter()
            .any(|(_, raw)| raw.contains("added the meeting"))
    );
    assert!(
        run.replies
            .iter()
            .any(|(_, raw)| raw.contains("updated the meeting"))
    );
    assert_eq!(run.lines[0]["notify_sender"], true);
    assert_eq!(run.lines[1]["notify_sender"], false);
    // Off by default: nothing for an accepted invitation.
    assert!(run_fixtures(&["alice-invites"]).replies.is_empty());
}
