//! Pure builders of the published messages and their `dedupe_id`s.
//!
//! The dedupe id is a hash of what identifies a transition, never of when or where it was computed,
//! so a retry that republishes the same transition (from the outbox, or after a crash) carries the
//! same id and subscribers can drop the repeat.

use sha2::{Digest, Sha256};

use super::model::utc_text;
use super::model::{
    ConfirmationMessage, Envelope, EventComponent, EventKey, EventMessage, Method, NoticeKind,
    REJECTED_SCHEMA_VERSION, Reason, RejectedMessage, Route, SCHEMA_VERSION, SourceInfo,
};
use super::reply::pick_language;

// Every published message must fit SNS (256 KiB, body and attributes) and, as an outbox entry,
// its ledger item (DynamoDB, 400 KB): a message that can never be published would block its
// event's outbox forever. Free text is cut (at a character boundary, marked with `…`); what a cut
// would falsify (RRULE, EXDATE, addresses, the attendee list) is never cut, and a component it
// makes too large is refused as `too_large` before anything is committed.

/// DESCRIPTION, cut beyond this.
pub const MAX_PUBLISHED_DESCRIPTION_BYTES: usize = 32 * 1024;
/// SUMMARY, LOCATION, the conference URL and the time zone name; the source's subject,
/// Message-ID and sender: each cut beyond this.
pub const MAX_PUBLISHED_TEXT_BYTES: usize = 1024;
/// The organizer's and each attendee's name (CN), cut beyond this: a guest list is as long as
/// `MAX_ATTENDEES` allows, so each name must be short.
pub const MAX_PUBLISHED_NAME_BYTES: usize = 256;
/// STATUS, and each attendee's ROLE and PARTSTAT (tokens, a few bytes when honest), cut beyond this.
pub const MAX_PUBLISHED_TOKEN_BYTES: usize = 64;
/// A published message's JSON body, at most: SNS's 256 KiB leave room for the attributes, the
/// ledger item's 400 KB for the record beside its outbox entry.
pub const MAX_PUBLISHED_MESSAGE_BYTES: usize = 200 * 1024;
/// What the envelope around a component can take at most once serialized: the schema fields,
/// the dedupe id, and the source (bucket, a key of at most S3's 1 KiB, and three cut fields), each
/// even if every byte of it needs a six-byte JSON escape.
const MESSAGE_ENVELOPE_BYTES: usize = 32 * 1024;

/// The component as it is published: its free text cut to the limits above.
pub fn cut_for_publishing(event: &EventComponent) -> EventComponent {
    let mut event = event.clone();
    cut_field(&mut event.description, MAX_PUBLISHED_DESCRIPTION_BYTES);
    for text in [
        &mut event.summary,
        &mut event.location,
        &mut event.conference_url,
        &mut event.time_zone,
    ] {
        cut_field(text, MAX_PUBLISHED_TEXT_BYTES);
    }
    cut_field(&mut event.status, MAX_PUBLISHED_TOKEN_BYTES);
    if let Some(organizer) = event.organizer.as_mut() {
        cut_field(&mut organizer.name, MAX_PUBLISHED_NAME_BYTES);
    }
    for attendee in &mut event.attendees {
        cut_field(&mut attendee.name, MAX_PUBLISHED_NAME_BYTES);
        cut_field(&mut attendee.role, MAX_PUBLISHED_TOKEN_BYTES);
        cut_field(&mut attendee.partstat, MAX_PUBLISHED_TOKEN_BYTES);
    }
    event
}

/// Whether the component, once cut, can be published within [`MAX_PUBLISHED_MESSAGE_BYTES`]
/// whatever envelope surrounds it. The core refuses a message with a component that cannot.
pub fn fits_a_published_message(event: &EventComponent) -> bool {
    let event = cut_for_publishing(event);
    // Counted, not collected: every accepted component passes here on the hot path.
    let mut size = ByteCount(0);
    // Serialization of these plain types cannot fail; if it did, the component is not publishable.
    serde_json::to_writer(&mut size, &event)
        .map(|()| size.0 + MESSAGE_ENVELOPE_BYTES <= MAX_PUBLISHED_MESSAGE_BYTES)
        .unwrap_or(false)
}

/// A writer that only counts the bytes written to it.
struct ByteCount(usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 = self.0.saturating_add(bytes.len());
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn cut_field(field: &mut Option<String>, max_bytes: usize) {
    if let Some(text) = field.as_mut() {
        truncate_at_char_boundary(text, max_bytes);
    }
}

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
    let dtstamp = event.dtstamp.map(utc_text).unwrap_or_default();
    digest_fields(&[
        "transition",
        &key.uid,
        key.recurrence_id().unwrap_or(""),
        route.as_str(),
        &sequence,
        &dtstamp,
    ])
}

/// The id of one refusal: the same email (its sender, its Message-ID or else where it was
/// stored, its body) refused for the same reason is the same message. Never the Message-ID
/// alone: anyone can write another's Message-ID, and two senders' refusals must both be told.
pub fn rejection_dedupe_id(
    sender: &str,
    envelope: &Envelope,
    source_key: &str,
    reason: Reason,
) -> String {
    let origin = envelope.message_id.as_deref().unwrap_or(source_key);
    let body = envelope.body_digest.as_deref().unwrap_or_default();
    digest_fields(&["rejection", sender, origin, body, reason.code()])
}

/// The SHA-256 of what follows an email's header block (the first empty line), hex; of the
/// whole email when it has no empty line.
pub fn body_digest(raw: &[u8]) -> String {
    let body = raw
        .windows(2)
        .position(|pair| pair == b"\n\n")
        .map(|end| end + 2)
        .into_iter()
        .chain(
            raw.windows(4)
                .position(|quad| quad == b"\r\n\r\n")
                .map(|end| end + 4),
        )
        .min()
        .map_or(raw, |start| &raw[start..]);
    Sha256::digest(body)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Where the message came from, as subscribers see it.
pub fn source_info(envelope: &Envelope, bucket: Option<&str>, key: &str) -> SourceInfo {
    cut_source(SourceInfo {
        bucket: bucket.map(str::to_owned),
        key: key.to_owned(),
        message_id: envelope.message_id.clone(),
        sender: envelope.sender.clone(),
        subject: envelope.subject.clone(),
    })
}

/// The source's header fields cut to [`MAX_PUBLISHED_TEXT_BYTES`]. (The bucket and key are
/// bounded by S3's own limits.)
fn cut_source(mut source: SourceInfo) -> SourceInfo {
    for text in [
        &mut source.message_id,
        &mut source.sender,
        &mut source.subject,
    ] {
        cut_field(text, MAX_PUBLISHED_TEXT_BYTES);
    }
    source
}

/// The message published for one component's transition to `route`'s topic.
pub fn event_message(
    route: Route,
    key: &EventKey,
    method: &Method,
    event: &EventComponent,
    source: SourceInfo,
) -> EventMessage {
    let event = cut_for_publishing(event);
    EventMessage {
        schema_version: SCHEMA_VERSION,
        route,
        dedupe_id: transition_dedupe_id(key, route, &event),
        method: method.clone(),
        event,
        source,
    }
}

/// SNS message attributes of an event message, for subscription filter policies: `route`,
/// `method`, and `uid` so that a subscriber can follow one event. The UID is left out when SNS
/// would refuse it as an attribute value (characters outside XML's, or over its size): the message
/// itself must still go out, and it carries the UID in its body.
pub fn event_attributes(route: Route, method: &Method, uid: &str) -> Vec<(String, String)> {
    let mut attributes = vec![
        ("route".to_owned(), route.as_str().to_owned()),
        ("method".to_owned(), method.as_str().to_owned()),
    ];
    if is_sns_attribute_value(uid) {
        attributes.push(("uid".to_owned(), uid.to_owned()));
    }
    attributes
}

/// The longest UID sent as an attribute; UIDs are at most `check::MAX_UID_BYTES` (2 KiB) anyway,
/// and the envelope reserve of a published message counts on no more.
const MAX_UID_ATTRIBUTE_BYTES: usize = 2048;

/// Whether SNS accepts `value` as a String attribute: non-empty, and only the characters XML
/// allows (tab, line feed, carriage return, U+0020-U+D7FF, U+E000-U+FFFD, U+10000 and up).
fn is_sns_attribute_value(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_UID_ATTRIBUTE_BYTES
        && value.chars().all(|c| {
            matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
                || c >= '\u{10000}'
        })
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
        dedupe_id: rejection_dedupe_id(sender, envelope, &source.key, reason),
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
    // The confirmed transition, not the Message-ID alone, says which confirmation this is: the
    // same email confirmed twice is one notice, and nobody's Message-ID can hide another's.
    let transition = transition_dedupe_id(
        &EventKey::new(
            event.uid.as_deref().unwrap_or_default(),
            event.recurrence_id.as_ref(),
        ),
        route,
        event,
    );
    ConfirmationMessage {
        schema_version: REJECTED_SCHEMA_VERSION,
        kind: NoticeKind::Confirmation,
        dedupe_id: digest_fields(&["confirmation", sender, &transition]),
        sender: sender.to_owned(),
        route,
        summary: cut_for_publishing(event).summary,
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
    use crate::core::model::ItemKind;
    use chrono::{TimeZone, Utc};

    #[test]
    fn event_attributes_carry_the_uid_when_sns_can_take_it() {
        let names = |uid: &str| -> Vec<String> {
            event_attributes(Route::Update, &Method::Request, uid)
                .into_iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect()
        };
        assert_eq!(
            names("040000008200E00074C5B7101A82E008@outlook.com"),
            [
                "route=update",
                "method=REQUEST",
                "uid=040000008200E00074C5B7101A82E008@outlook.com"
            ]
        );
        assert_eq!(
            names("Ünïcödé 会議 𠮷"),
            ["route=update", "method=REQUEST", "uid=Ünïcödé 会議 𠮷"]
        );
        // A control character or an over-long UID would make SNS refuse the whole publish.
        for refused in ["", "uid\u{1}x", "uid\u{FFFE}", &"u".repeat(2049)] {
            assert_eq!(
                names(refused),
                ["route=update", "method=REQUEST"],
                "{refused:?}"
            );
        }
    }

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
            item: ItemKind::Occurrence("2026-12-01T10:00:00Z".into()),
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
    fn rejections_are_keyed_by_sender_message_and_body() {
        let envelope = |message_id: Option<&str>, body: &str| Envelope {
            message_id: message_id.map(str::to_owned),
            body_digest: Some(body_digest(format!("Subject: x\r\n\r\n{body}").as_bytes())),
            ..Envelope::default()
        };
        let mail = envelope(Some("m@x"), "hello");
        let by_id = rejection_dedupe_id("a@x", &mail, "k1", Reason::NoCalendar);
        // The same email stored twice (another key, other headers SES added): one refusal.
        assert_eq!(
            by_id,
            rejection_dedupe_id("a@x", &mail, "k2", Reason::NoCalendar)
        );
        assert_eq!(
            body_digest(b"Received: one\r\nSubject: x\r\n\r\nhello"),
            body_digest(b"Received: two\r\nSubject: x\r\n\r\nhello")
        );
        assert_ne!(
            by_id,
            rejection_dedupe_id("a@x", &mail, "k1", Reason::TooLarge)
        );
        // Another sender reusing the Message-ID, or another body under it: another refusal.
        assert_ne!(
            by_id,
            rejection_dedupe_id("mallory@y", &mail, "k1", Reason::NoCalendar)
        );
        assert_ne!(
            by_id,
            rejection_dedupe_id(
                "a@x",
                &envelope(Some("m@x"), "other"),
                "k1",
                Reason::NoCalendar
            )
        );
        assert_ne!(
            rejection_dedupe_id("a@x", &envelope(None, "hello"), "k1", Reason::NoCalendar),
            rejection_dedupe_id("a@x", &envelope(None, "hello"), "k2", Reason::NoCalendar)
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

    /// The hostile component: every free-text field far over its limit, with text
    /// that JSON escaping makes half as large again, and a hundred guests.
    fn hostile_component() -> EventComponent {
        let huge = "é\"\n".repeat(100_000);
        let mut event = component(0);
        for text in [
            &mut event.summary,
            &mut event.description,
            &mut event.location,
            &mut event.conference_url,
            &mut event.status,
            &mut event.time_zone,
        ] {
            *text = Some(huge.clone());
        }
        event.organizer = Some(crate::core::model::Organizer {
            address: "alice@example.com".into(),
            name: Some(huge.clone()),
            sent_by: None,
        });
        event.attendees = (0..100)
            .map(|index| crate::core::model::Attendee {
                address: format!("guest{index}@example.com"),
                name: Some(huge.clone()),
                role: Some(huge.clone()),
                partstat: Some(huge.clone()),
                rsvp: Some(true),
            })
            .collect();
        event
    }

    fn hostile_source() -> SourceInfo {
        let huge = "\u{1}".repeat(300_000);
        SourceInfo {
            bucket: Some("b".repeat(63)),
            key: "\u{1}".repeat(1024),
            message_id: Some(huge.clone()),
            sender: Some(huge.clone()),
            subject: Some(huge),
        }
    }

    /// SNS's limit counts the body and every attribute's name, type and value.
    fn sns_size(body: &str, attributes: &[(String, String)]) -> usize {
        body.len()
            + attributes
                .iter()
                .map(|(name, value)| name.len() + "String".len() + value.len())
                .sum::<usize>()
    }

    const SNS_MAX_BYTES: usize = 256 * 1024;

    #[test]
    fn free_text_is_cut_so_every_message_fits_sns_and_the_ledger_item() {
        let event = hostile_component();
        assert!(fits_a_published_message(&event));
        let key = EventKey::new("uid-1", None);
        let source = cut_source(hostile_source());
        let message = event_message(Route::Create, &key, &Method::Request, &event, source);
        let body = serde_json::to_string(&message).unwrap();
        assert!(body.len() <= MAX_PUBLISHED_MESSAGE_BYTES, "{}", body.len());
        // The largest UID attribute there is still fits beside the largest body.
        let attributes = event_attributes(Route::Create, &Method::Request, &"u".repeat(2048));
        assert_eq!(attributes.len(), 3);
        assert!(sns_size(&body, &attributes) <= SNS_MAX_BYTES);
        let location = message.event.location.unwrap();
        assert!(location.ends_with('…'));
        assert!(location.len() <= MAX_PUBLISHED_TEXT_BYTES + '…'.len_utf8());
        // What is not free text is published whole.
        assert_eq!(message.event.attendees.len(), 100);
        assert_eq!(message.event.attendees[7].address, "guest7@example.com");

        // Text made of control characters (six bytes each once escaped) cannot be cut to fit
        // without cutting it to nothing: such a component is refused, never published too large.
        let mut control = component(0);
        control.description = Some("\u{1}".repeat(MAX_PUBLISHED_DESCRIPTION_BYTES));
        assert!(!fits_a_published_message(&control));
    }

    #[test]
    fn what_a_cut_would_falsify_is_not_cut_and_too_much_of_it_does_not_fit() {
        let day = |index: usize| {
            crate::core::model::EventTime::Utc(
                Utc.with_ymd_and_hms(2027, 1, 1, 9, 0, 0).unwrap()
                    + chrono::Duration::days(index as i64),
            )
        };
        let mut exdates = component(0);
        exdates.exdates = (0..30_000).map(day).collect();
        assert!(!fits_a_published_message(&exdates));
        exdates.exdates.truncate(1_000);
        assert!(fits_a_published_message(&exdates));

        let mut rule = component(0);
        rule.rrule = Some(format!("FREQ=DAILY;BYHOUR={}", "1,".repeat(150_000)));
        assert!(!fits_a_published_message(&rule));

        let mut crowd = component(0);
        crowd.attendees = (0..2_000)
            .map(|index| crate::core::model::Attendee {
                address: format!("{}{index}@example.com", "a".repeat(100)),
                name: None,
                role: None,
                partstat: None,
                rsvp: None,
            })
            .collect();
        assert!(!fits_a_published_message(&crowd));
    }

    #[test]
    fn refusals_and_confirmations_fit_sns_whatever_the_envelope() {
        let analysis_source = cut_source(hostile_source());
        let envelope = Envelope::default();
        let refusal = rejected_message(
            "ann@example.com",
            Reason::TooLarge,
            &envelope,
            analysis_source.clone(),
        );
        let body = serde_json::to_string(&refusal).unwrap();
        assert!(body.len() <= MAX_PUBLISHED_MESSAGE_BYTES, "{}", body.len());
        let confirmation = confirmation_message(
            "ann@example.com",
            Route::Create,
            &hostile_component(),
            &envelope,
            analysis_source,
        );
        let body = serde_json::to_string(&confirmation).unwrap();
        assert!(body.len() <= MAX_PUBLISHED_MESSAGE_BYTES, "{}", body.len());
    }
}
