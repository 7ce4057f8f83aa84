//! Any text as the subject, summary, Message-ID and sender of a refused or confirmed email: the
//! reply is rendered, and whenever it renders it must pass the strict reader the property test
//! uses (our headers only, each once; exactly a text and an HTML part; CRLF lines of at most 998
//! bytes). A violation panics.
#![no_main]

use chrono::{TimeZone, Utc};
use invite_router::core::model::{
    ConfirmationMessage, EventTime, NoticeKind, REJECTED_SCHEMA_VERSION, Reason, RejectedMessage,
    Route, SourceInfo,
};
use invite_router::core::reply::{Stationery, render_confirmation, render_reply};
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/strict_reply.rs"]
mod strict_reply;

fuzz_target!(|data: &[u8]| {
    // Four fields separated by 0xFF (never a byte of UTF-8 text).
    let mut fields = data
        .split(|byte| *byte == 0xFF)
        .map(String::from_utf8_lossy);
    let subject = fields.next().unwrap_or_default().into_owned();
    let message_id = fields.next().map(|id| id.into_owned());
    let sender = fields.next().map_or_else(
        || "alice@example.com".to_owned(),
        |sender| sender.into_owned(),
    );
    let summary = fields.next().map(|summary| summary.into_owned());
    let seed = u128::from(data.len() as u64) << 64 | 0x5eed;
    let Some(now) = Utc.with_ymd_and_hms(2026, 11, 30, 9, 16, 0).single() else {
        return;
    };
    let stationery = Stationery {
        reply_from: "invite-router@replies.example.org",
        now,
        boundary_seed: seed,
    };
    let source = SourceInfo {
        bucket: None,
        key: "k".into(),
        message_id: message_id.clone(),
        sender: None,
        subject: Some(subject.clone()),
    };
    let threaded = message_id
        .as_deref()
        .and_then(invite_router::core::inert::message_id)
        .is_some();
    let boundary = format!("invite-router-{seed:032x}");
    let rejected = RejectedMessage {
        schema_version: REJECTED_SCHEMA_VERSION,
        kind: NoticeKind::Refusal,
        dedupe_id: "3f1c9a7b2e4d6f8a0b1c2d3e4f5a6b7c".into(),
        sender: sender.clone(),
        reason: Reason::MalformedCalendar,
        explanation: Reason::MalformedCalendar.explanation().into(),
        subject: Some(subject.clone()),
        language: "en".into(),
        received_at: None,
        source: source.clone(),
    };
    if let Ok(reply) = render_reply(&rejected, stationery) {
        if let Err(why) = strict_reply::check(&reply.raw, &boundary, threaded) {
            panic!("{why}\n{}", String::from_utf8_lossy(&reply.raw));
        }
    }
    let confirmation = ConfirmationMessage {
        schema_version: REJECTED_SCHEMA_VERSION,
        kind: NoticeKind::Confirmation,
        dedupe_id: "3f1c9a7b2e4d6f8a0b1c2d3e4f5a6b7c".into(),
        sender,
        route: Route::Update,
        summary,
        start: Some(EventTime::Utc(now)),
        subject: Some(subject),
        language: "fr".into(),
        received_at: None,
        source,
    };
    if let Ok(reply) = render_confirmation(&confirmation, stationery) {
        if let Err(why) = strict_reply::check(&reply.raw, &boundary, threaded) {
            panic!("{why}\n{}", String::from_utf8_lossy(&reply.raw));
        }
    }
});
