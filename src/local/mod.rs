//! The embedded backend: emails from files, the ledger in SQLite, published messages appended to
//! JSONL files. The same service and core as the Lambda, with no server and no AWS account; this
//! is what `invite-router process --state DIR` and `make demo` run on.

mod files;
mod jsonl;
mod sqlite;

/// The text forms of record fields, shared by every ledger so all store the same strings.
pub mod record_codec {
    pub use super::sqlite::{format_dtstamp, parse_dtstamp, parse_status, status_code};
}

pub use files::LocalMailStore;
pub use jsonl::JsonlPublisher;
pub use sqlite::SqliteLedger;

/// The series record's `recurrence_id` in stores whose key columns cannot be null (SQLite's
/// primary key here, DynamoDB's sort key): no serialized RECURRENCE-ID is ever `-`.
pub const SERIES_RECURRENCE_ID: &str = "-";
