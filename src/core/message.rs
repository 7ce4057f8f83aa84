//! Pure builders of the published messages and their `dedupe_id`s.
//!
//! The dedupe id is a hash of what identifies a transition, never of when or where it was computed,
//! so a retry that republishes the same transition (from the outbox, or after a crash) carries the
//! same id and subscribers can drop the repeat.

use sha2::{Digest, Sha256};

use super::model::{
    Analysis, ConfirmationMessage, Envelope, EventComponent, EventKey, EventMessage, Method,
    NoticeKind, REJECTED_SCHEMA_VERSION, Reason, RejectedMessage, Route, SCHEMA_VERSION,
    SourceInfo,
};
use super::reply::pick_language;

/// Descriptions longer than this are cut in the published copy: SNS refuses messages over
/// 256 KiB, and a message that can never be published would block its event's outbox forever.
pub const MAX_PUBLISHED_DESCRIPTION_BYTES: usize = 32 * 1024;

/// Hex SHA-256 over length-prefixed fields, so that no two different field lists collide by
/// concatenation (`("ab", "c")` vs `("a", "bc")`).
fn digest_fields(fields: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for field in fields {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The id of one ledger transition: (uid, recurrence_id, route, sequence, dtstamp).
pub fn transition_dedupe_id(key: &EventKey, route: Route, event: &EventComponent) -> String {
    let sequence = event.sequence.to_string();
    let dtstamp = event
        .dtstamp
        .map(|stamp| stamp.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default();
    digest_fields(&[
        "transition",
        &key.uid,
        key.recurrence_id.as_deref().unwrap_or(""),
        route.as_str(),
        &sequence,
        &dtstamp,
    ])
}

/// The id of one refusal: the same email refused for the same reason is the same message.
pub fn rejection_dedupe_id(message_id: Option<&str>, source_key: &str, reason: Reason) -> String {
    let origin = message_id.unwrap_or(source_key);
    digest_fields(&["rejection", origin, reason.code()])
}

/// Where the message came from, as subscribers see it.
pub fn source_info(analysis: &Analysis, bucket: Option<&str>, key: &str) -> SourceInfo {
    SourceInfo {
        bucket: bucket.map(str::to_owned),
        key: key.to_owned(),
        message_id: analysis.envelope.message_id.clone(),
        sender: analysis.envelope.sender.clone(),
        subject: analysis.envelope.subject.clone(),
    }
}

/// The message published for one component's transition to `route`'s topic.
pub fn event_message(
    route: Route,
    key: &EventKey,
    method: &Method,
    event: &EventComponent,
    source: SourceInfo,
) -> EventMessage {
    let mut event = event.clone();
    if let Some(description) = event.description.as_mut() {
        truncate_at_char_boundary(description, MAX_PUBLISHED_DESCRIPTION_BYTES);
    }
    EventMessage {
        schema_version: SCHEMA_VERSION,
        route,
        dedupe_id: transition_dedupe_id(key, route, &event),
        method: method.clone(),
        event,
        source,
    }
}

/// SNS message attributes of an event message, for subscription filter policies.
pub fn event_attributes(route: Route, method: &Method) -> Vec<(String, String)> {
    vec![
        ("route".to_owned(), route.as_str().to_owned()),
        ("method".to_owned(), method.as_str().to_owned()),
    ]
}

/// The message telling `sender` why their email was refused, in the language their mail asked
/// for where a reply template exists.
pub fn rejected_message(
    sender: &str,
    reason: Reason,
    envelope: &Envelope,
    source: SourceInfo,
) -> RejectedMessage {
    RejectedMessage {
        schema_version: REJECTED_SCHEMA_VERSION,
        kind: NoticeKind::Refusal,
        dedupe_id: rejection_dedupe_id(source.message_id.as_deref(), &source.key, reason),
        sender: sender.to_owned(),
        reason,
        explanation: reason.explanation().to_owned(),
        subject: source.subject.clone(),
        language: pick_language(&envelope.languages).to_owned(),
        received_at: envelope.date,
        source,
    }
}

/// With `NOTIFY_ON_SUCCESS`: the notice confirming to `sender` that `event` was `route`d. The same
/// email confirmed for the same route is the same notice.
pub fn confirmation_message(
    sender: &str,
    route: Route,
    event: &EventComponent,
    envelope: &Envelope,
    source: SourceInfo,
) -> ConfirmationMessage {
    let origin = source.message_id.as_deref().unwrap_or(&source.key);
    ConfirmationMessage {
        schema_version: REJECTED_SCHEMA_VERSION,
        kind: NoticeKind::Confirmation,
        dedupe_id: digest_fields(&["confirmation", origin, route.as_str()]),
        sender: sender.to_owned(),
        route,
        summary: event.summary.clone(),
        start: event.start,
        subject: source.subject.clone(),
        language: pick_language(&envelope.languages).to_owned(),
        received_at: envelope.date,
        source,
    }
}

/// SNS message attributes of a confirmation: its route, and `kind` for filter policies.
pub fn confirmation_attributes(route: Route) -> Vec<(String, String)> {
    vec![
        ("route".to_owned(), route.as_str().to_owned()),
        ("kind".to_owned(), "confirmation".to_owned()),
    ]
}

/// SNS message attributes of a rejection: `route` is always `invalid`, `method` when known.
pub fn rejected_attributes(reason: Reason, method: Option<&Method>) -> Vec<(String, String)> {
    let mut attributes = vec![
        ("route".to_owned(), Route::Invalid.as_str().to_owned()),
        ("reason".to_owned(), reason.code().to_owned()),
    ];
    if let Some(method) = method.filter(|method| !method.as_str().is_empty()) {
        attributes.push(("method".to_owned(), method.as_str().to_owned()));
    }
    attributes
}

fn truncate_at_char_boundary(text: &mut String, max_bytes: usize) {
    if text.len() <= max_bytes {
        return;
    }
    let mut cut = max_bytes;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text.push('…');
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn component(sequence: u32) -> EventComponent {
        EventComponent {
            uid: Some("uid-1".into()),
            recurrence_id: None,
            sequence,
            dtstamp: Some(Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap()),
            summary: Some("Planning".into()),
            ..EventComponent::default()
        }
    }

    #[test]
    fn the_same_transition_always_gets_the_same_id() {
        let key = EventKey::new("uid-1", None);
        let first = transition_dedupe_id(&key, Route::Create, &component(0));
        let again = transition_dedupe_id(&key, Route::Create, &component(0));
        assert_eq!(first, again);
        assert_eq!(first.len(), 64);
        assert!(first.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn every_identifying_field_changes_the_id() {
        let key = EventKey::new("uid-1", None);
        let base = transition_dedupe_id(&key, Route::Update, &component(1));
        assert_ne!(
            base,
            transition_dedupe_id(&key, Route::Update, &component(2))
        );
        assert_ne!(
            base,
            transition_dedupe_id(&key, Route::Cancel, &component(1))
        );
        let occurrence = EventKey {
            uid: "uid-1".into(),
            recurrence_id: Some("2026-12-01T10:00:00Z".into()),
        };
        assert_ne!(
            base,
            transition_dedupe_id(&occurrence, Route::Update, &component(1))
        );
        let mut later = component(1);
        later.dtstamp = Some(Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap());
        assert_ne!(base, transition_dedupe_id(&key, Route::Update, &later));
    }

    #[test]
    fn fields_cannot_collide_by_concatenation() {
        assert_ne!(digest_fields(&["ab", "c"]), digest_fields(&["a", "bc"]));
    }

    #[test]
    fn rejections_are_keyed_by_message_id_then_source() {
        let by_id = rejection_dedupe_id(Some("<m@x>"), "k1", Reason::NoCalendar);
        assert_eq!(
            by_id,
            rejection_dedupe_id(Some("<m@x>"), "k2", Reason::NoCalendar)
        );
        assert_ne!(
            by_id,
            rejection_dedupe_id(Some("<m@x>"), "k1", Reason::TooLarge)
        );
        assert_ne!(
            rejection_dedupe_id(None, "k1", Reason::NoCalendar),
            rejection_dedupe_id(None, "k2", Reason::NoCalendar)
        );
    }

    #[test]
    fn long_descriptions_are_cut_on_a_char_boundary() {
        let mut event = component(0);
        event.description = Some("é".repeat(MAX_PUBLISHED_DESCRIPTION_BYTES));
        let message = event_message(
            Route::Create,
            &EventKey::new("uid-1", None),
            &Method::Request,
            &event,
            SourceInfo::default(),
        );
        let description = message.event.description.unwrap();
        assert!(description.len() <= MAX_PUBLISHED_DESCRIPTION_BYTES + '…'.len_utf8());
        assert!(description.ends_with('…'));
    }
}
