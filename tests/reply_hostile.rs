//! Replies rendered from hostile originals: whatever a stranger puts in the subject, the summary,
//! the Message-ID or the address, the reply is exactly the mail we meant to write (the headers we
//! write, the two parts we write), read back strictly (`support/strict_reply.rs`).

use chrono::{TimeZone, Utc};
use invite_router::core::model::{
    ConfirmationMessage, EventTime, NoticeKind, REJECTED_SCHEMA_VERSION, Reason, RejectedMessage,
    Route, SourceInfo,
};
use invite_router::core::reply::{Stationery, render_confirmation, render_reply};
use mail_parser::MessageParser;
use proptest::prelude::*;

#[path = "support/strict_reply.rs"]
mod strict_reply;

/// Pieces hostile text is made of: line breaks of every kind, NUL, encoded-words that decode to
/// CRLF, boundary-like lines, header-like lines, quotes, long runs.
fn hostile_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("\r\n".to_owned()),
        Just("\r".to_owned()),
        Just("\n".to_owned()),
        Just("\0".to_owned()),
        Just("=?utf-8?q?a=0D=0Ab?=".to_owned()),
        Just("=?utf-8?b?DQpCY2M6IGV2aWxAZXhhbXBsZS5jb20NCg==?=".to_owned()),
        Just("\r\n--invite-router-00000000000000000000000000000001\r\n".to_owned()),
        Just("\r\nContent-Type: text/html\r\n\r\n<script>x</script>".to_owned()),
        Just("\r\nBcc: victim@example.com".to_owned()),
        Just("\"; <>".to_owned()),
        Just("\u{2028}\u{85}\u{202E}".to_owned()),
        Just("x".repeat(1200)),
        Just("é".repeat(400)),
        "[ -~]{0,40}",
        "\\PC{0,20}",
    ];
    prop::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
}

fn hostile_message_id() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("CAB1234@mail.example.com".to_owned())),
        Just(Some("a\r@example.com".to_owned())),
        Just(Some(format!("{}@example.com", "a".repeat(1100)))),
        hostile_text().prop_map(Some),
        hostile_text().prop_map(|text| Some(format!("{text}@example.com"))),
    ]
}

fn hostile_address() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("alice@example.com".to_owned()),
        Just("\"x\r\nBcc: y\"@evil.example".to_owned()),
        Just("a>@evil.example".to_owned()),
        hostile_text().prop_map(|text| format!("{text}@example.com")),
    ]
}

fn source(message_id: Option<String>, subject: Option<String>) -> SourceInfo {
    SourceInfo {
        bucket: Some("mail".into()),
        key: "incoming/abc".into(),
        message_id,
        sender: None,
        subject,
    }
}

const DEDUPE_ID: &str = "3f1c9a7b2e4d6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a";

fn stationery(seed: u128) -> Stationery<'static> {
    Stationery {
        reply_from: "invite-router@replies.example.org",
        now: Utc.with_ymd_and_hms(2026, 11, 30, 9, 16, 0).unwrap(),
        boundary_seed: seed,
    }
}

/// Whether `id` is one the reply may copy (the same rule `core::inert` applies, restated).
fn plain_id(id: &Option<String>) -> bool {
    id.as_deref().is_some_and(|id| {
        let id = id.trim();
        id.len() <= 250
            && id
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"<>\"\\".contains(&b))
            && id
                .rsplit_once('@')
                .is_some_and(|(l, r)| !l.is_empty() && !r.is_empty())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_refusal_reply_is_exactly_what_we_write(
        subject in hostile_text(),
        message_id in hostile_message_id(),
        sender in hostile_address(),
        seed in any::<u128>(),
        reason in prop::sample::select(Reason::ALL.to_vec()),
    ) {
        let rejected = RejectedMessage {
            schema_version: REJECTED_SCHEMA_VERSION,
            kind: NoticeKind::Refusal,
            dedupe_id: DEDUPE_ID.into(),
            sender: sender.clone(),
            reason,
            explanation: reason.explanation().into(),
            subject: Some(subject.clone()),
            language: "en".into(),
            received_at: None,
            source: source(message_id.clone(), Some(subject.clone())),
        };
        let Ok(reply) = render_reply(&rejected, stationery(seed)) else {
            // Only an address we cannot write plainly is refused.
            prop_assert_ne!(sender, "alice@example.com");
            return Ok(());
        };
        let boundary = format!("invite-router-{seed:032x}");
        if let Err(why) = strict_reply::check(&reply.raw, &boundary, plain_id(&message_id)) {
            return Err(TestCaseError::fail(format!("{why}\n{}", String::from_utf8_lossy(&reply.raw))));
        }
        let message = MessageParser::default().parse(&reply.raw).expect("checked");
        let subject_back = message.subject().unwrap_or_default().to_owned();
        prop_assert!(!subject_back.contains(['\r', '\n', '\0']), "{:?}", subject_back);
        let text = message.body_text(0).expect("a text part").into_owned();
        prop_assert!(!text.contains('\0'));
    }

    #[test]
    fn a_confirmation_is_exactly_what_we_write(
        subject in hostile_text(),
        summary in hostile_text(),
        message_id in hostile_message_id(),
        seed in any::<u128>(),
    ) {
        let confirmation = ConfirmationMessage {
            schema_version: REJECTED_SCHEMA_VERSION,
            kind: NoticeKind::Confirmation,
            dedupe_id: DEDUPE_ID.into(),
            sender: "alice@example.com".into(),
            route: Route::Create,
            summary: Some(summary),
            start: Some(EventTime::Utc(Utc.with_ymd_and_hms(2026, 12, 9, 13, 0, 0).unwrap())),
            subject: Some(subject.clone()),
            language: "fr".into(),
            received_at: None,
            source: source(message_id.clone(), Some(subject)),
        };
        let reply = render_confirmation(&confirmation, stationery(seed)).expect("renders");
        let boundary = format!("invite-router-{seed:032x}");
        if let Err(why) = strict_reply::check(&reply.raw, &boundary, plain_id(&message_id)) {
            return Err(TestCaseError::fail(format!("{why}\n{}", String::from_utf8_lossy(&reply.raw))));
        }
    }
}

/// Found by the `reply` fuzz target, whose seed the input can predict: a subject holding the
/// seed's boundary. The renderer lengthens the boundary until the text does not hold it.
#[test]
fn a_subject_holding_the_seeds_boundary_does_not_hold_the_written_one() {
    let seed = 0x37_0000_0000_0000_5eed_u128;
    let boundary = format!("invite-router-{seed:032x}");
    for (subject, sender) in [
        (format!("-----{boundary}-"), "alice@example.com".to_owned()),
        (
            format!("--{boundary}\r\n--{boundary}_\r\n--{boundary}__"),
            "alice@example.com".to_owned(),
        ),
        // Found next: the boundary in the recipient's address; then before a space that
        // Q-encoding writes as '_'.
        ("Lunch".to_owned(), format!("--{boundary}@example.com")),
        (
            format!("---{boundary}\r\u{FFFD}B=BF=BD?====-"),
            "alice@example.com".to_owned(),
        ),
    ] {
        let rejected = RejectedMessage {
            schema_version: REJECTED_SCHEMA_VERSION,
            kind: NoticeKind::Refusal,
            dedupe_id: DEDUPE_ID.into(),
            sender,
            reason: Reason::TooLarge,
            explanation: Reason::TooLarge.explanation().into(),
            subject: Some(subject.clone()),
            language: "en".into(),
            received_at: None,
            source: source(None, Some(subject)),
        };
        let reply = render_reply(&rejected, stationery(seed)).expect("renders");
        strict_reply::check(&reply.raw, &boundary, false)
            .unwrap_or_else(|why| panic!("{why}\n{}", String::from_utf8_lossy(&reply.raw)));
    }
}

/// The attack found from outside: an encoded-word subject that decodes to CRLF plus a boundary
/// computed from the sender's own Message-ID. Neither survives.
#[test]
fn the_reported_injection_writes_one_text_and_one_html_part() {
    let subject = "Hi\r\n--invite-router-3f1c9a7b2e4d6f8a0b1c2d3e\r\nContent-Type: text/html\r\n\r\n<h1>pay here</h1>";
    let rejected = RejectedMessage {
        schema_version: REJECTED_SCHEMA_VERSION,
        kind: NoticeKind::Refusal,
        dedupe_id: DEDUPE_ID.into(),
        sender: "alice@example.com".into(),
        reason: Reason::NoCalendar,
        explanation: Reason::NoCalendar.explanation().into(),
        subject: Some(subject.into()),
        language: "en".into(),
        received_at: None,
        source: source(Some(format!("{}\r@x", "m".repeat(20))), None),
    };
    let reply = render_reply(&rejected, stationery(42)).expect("renders");
    strict_reply::check(&reply.raw, &format!("invite-router-{:032x}", 42), false)
        .unwrap_or_else(|why| panic!("{why}\n{}", String::from_utf8_lossy(&reply.raw)));
    let raw = String::from_utf8_lossy(&reply.raw);
    assert!(
        !raw.contains("invite-router-3f1c9a7b2e4d6f8a0b1c2d3e\r\n"),
        "{raw}"
    );
}
