//! The record codec both ledgers share (SQLite locally, DynamoDB on AWS): how a key, a status and
//! a DTSTAMP are written as text, and how they are read back. One codec, so that every store holds
//! the same strings and a record moved between them means the same thing.

use chrono::{DateTime, Utc};

use crate::core::model::{EventKey, RecordState, RecordStatus, Version, utc_text};
use crate::ports::PortError;

/// The series record's `recurrence_id` in stores whose key columns cannot be null (SQLite's
/// primary key, DynamoDB's sort key): no serialized RECURRENCE-ID is ever `-`.
pub const SERIES_RECURRENCE_ID: &str = "-";

/// The stored form of a key's recurrence id.
pub fn recurrence_column(key: &EventKey) -> &str {
    key.recurrence_id.as_deref().unwrap_or(SERIES_RECURRENCE_ID)
}

/// A key read back from its stored columns.
pub fn decode_key(uid: String, recurrence_column: &str) -> EventKey {
    EventKey {
        uid,
        recurrence_id: (recurrence_column != SERIES_RECURRENCE_ID)
            .then(|| recurrence_column.to_owned()),
    }
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
    fn the_series_key_is_stored_as_a_dash() {
        let series = EventKey::new("u1", None);
        assert_eq!(recurrence_column(&series), SERIES_RECURRENCE_ID);
        assert_eq!(decode_key("u1".into(), SERIES_RECURRENCE_ID), series);
        let occurrence = EventKey {
            uid: "u1".into(),
            recurrence_id: Some("2026-12-01T18:00:00Z".into()),
        };
        assert_eq!(
            decode_key("u1".into(), recurrence_column(&occurrence)),
            occurrence
        );
    }
}
