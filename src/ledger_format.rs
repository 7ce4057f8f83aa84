//! The record codec both ledgers share (SQLite locally, DynamoDB on AWS): how a key, a status and
//! a DTSTAMP are written as text, and how they are read back. One codec, so that every store holds
//! the same strings and a record moved between them means the same thing.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use crate::core::model::{EventKey, ItemKind, RecordState, RecordStatus, Version, utc_text};
use crate::ports::PortError;

/// The series record's sort key (`recurrence_id`) in stores whose key columns cannot be null
/// (SQLite's primary key, DynamoDB's sort key): no serialized RECURRENCE-ID is ever `-`.
pub const SERIES_RECURRENCE_ID: &str = "-";

/// The owner item's sort key. No serialized RECURRENCE-ID (an `EventTime`) starts with `#`.
pub const OWNER_ITEM: &str = "#owner";

/// Set-aside entries' sort keys start with this, then the entry's dedupe id; a `Query` with
/// `begins_with` lists them.
pub const SET_ASIDE_PREFIX: &str = "#aside:";

/// The stored sort key (`recurrence_id` column) of a key's item.
pub fn recurrence_column(key: &EventKey) -> Cow<'_, str> {
    match &key.item {
        ItemKind::Series => Cow::Borrowed(SERIES_RECURRENCE_ID),
        ItemKind::Occurrence(recurrence_id) => Cow::Borrowed(recurrence_id),
        ItemKind::Owner => Cow::Borrowed(OWNER_ITEM),
        ItemKind::SetAside(dedupe_id) => Cow::Owned(format!("{SET_ASIDE_PREFIX}{dedupe_id}")),
    }
}

/// A key read back from its stored columns.
pub fn decode_key(uid: String, recurrence_column: &str) -> EventKey {
    let item = match recurrence_column {
        SERIES_RECURRENCE_ID => ItemKind::Series,
        OWNER_ITEM => ItemKind::Owner,
        column => match column.strip_prefix(SET_ASIDE_PREFIX) {
            Some(dedupe_id) => ItemKind::SetAside(dedupe_id.to_owned()),
            None => ItemKind::Occurrence(column.to_owned()),
        },
    };
    EventKey { uid, item }
}

pub fn status_code(status: RecordStatus) -> &'static str {
    status.into()
}

fn parse_status(code: &str) -> Option<RecordStatus> {
    code.parse().ok()
}

/// RFC 3339 UTC, second precision: what iCalendar's DTSTAMP can express.
pub fn format_dtstamp(dtstamp: DateTime<Utc>) -> String {
    utc_text(dtstamp)
}

pub fn parse_dtstamp(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|stamp| stamp.with_timezone(&Utc))
}

/// A stored record that does not decode. Transient: a record we cannot read must not make us drop
/// the email judged against it; the message is retried and ends in the DLQ for a human.
pub fn corrupt(detail: String) -> PortError {
    PortError::transient("decode ledger record", detail)
}

/// The rule-relevant state from its stored text fields.
pub fn decode_state(
    organizer: Option<String>,
    status: &str,
    sequence: u32,
    dtstamp: Option<&str>,
) -> Result<RecordState, PortError> {
    let status = parse_status(status).ok_or_else(|| corrupt(format!("status {status:?}")))?;
    let dtstamp = match dtstamp {
        Some(text) => {
            Some(parse_dtstamp(text).ok_or_else(|| corrupt(format!("dtstamp {text:?}")))?)
        }
        None => None,
    };
    Ok(RecordState {
        organizer,
        status,
        version: Version { sequence, dtstamp },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::Classified;

    #[test]
    fn every_status_round_trips_and_unknown_ones_are_corrupt() {
        for status in [
            RecordStatus::Active,
            RecordStatus::Cancelled,
            RecordStatus::Tombstone,
        ] {
            let state = decode_state(None, status_code(status), 0, None).expect("decodes");
            assert_eq!(state.status, status);
        }
        let error = decode_state(None, "paused", 0, None).expect_err("unknown status");
        assert!(error.is_transient(), "{error}");
    }

    #[test]
    fn dtstamps_round_trip_and_garbage_is_corrupt() {
        let stamp = DateTime::parse_from_rfc3339("2026-12-01T18:00:00Z")
            .expect("literal")
            .with_timezone(&Utc);
        let text = format_dtstamp(stamp);
        assert_eq!(text, "2026-12-01T18:00:00Z");
        let state =
            decode_state(Some("a@example.com".into()), "active", 3, Some(&text)).expect("decodes");
        assert_eq!(state.version.dtstamp, Some(stamp));
        assert_eq!(state.version.sequence, 3);
        assert!(decode_state(None, "active", 0, Some("yesterday")).is_err());
    }

    #[test]
    fn every_item_kind_round_trips_through_its_stored_key() {
        let keys = [
            EventKey::new("u1", None),
            EventKey {
                uid: "u1".into(),
                item: ItemKind::Occurrence("2026-12-01T18:00:00Z".into()),
            },
            EventKey {
                uid: "u1".into(),
                item: ItemKind::Occurrence("2026-12-01".into()),
            },
            EventKey::owner_of("u1"),
            EventKey::set_aside("u1", "98b50dd2"),
        ];
        let stored: Vec<String> = keys
            .iter()
            .map(|key| recurrence_column(key).into_owned())
            .collect();
        assert_eq!(
            stored,
            [
                "-",
                "2026-12-01T18:00:00Z",
                "2026-12-01",
                "#owner",
                "#aside:98b50dd2"
            ]
        );
        for (key, column) in keys.iter().zip(&stored) {
            assert_eq!(&decode_key("u1".into(), column), key);
        }
        // The series first, then the other items in their stored keys' order: the order the keys
        // had when the series was a missing recurrence id, so reads and commits keep theirs.
        let mut by_kind = keys.to_vec();
        by_kind.sort();
        let mut as_before = keys.to_vec();
        as_before.sort_by_key(|key| (!key.is_series(), recurrence_column(key).into_owned()));
        assert_eq!(by_kind, as_before);
    }
}
