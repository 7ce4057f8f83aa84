//! The service's view of the outside world: four small traits, each implemented over AWS
//! (`crate::aws`) and over local files (`crate::local`). Every failure says whether a retry can
//! help, because that decides whether an SQS message is deleted or left in the queue.

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::core::model::{EventKey, RecordState, Topic};
use crate::core::reply::Reply;

/// The time the orchestration writes (`updated_at`) and dates replies and rate limits by: a
/// function, so tests can fix it. The core never reads a clock.
pub type Clock = std::sync::Arc<dyn Fn() -> chrono::DateTime<chrono::Utc> + Send + Sync>;

/// Whether retrying the same input may succeed: the one classification every error of the
/// pipeline has (ports, intake, service), because it decides whether an SQS message is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::VariantArray)]
#[strum(serialize_all = "snake_case")]
pub enum ErrorKind {
    /// Throttling, 5xx, timeouts, network, access and signature errors, a lost conditional-write
    /// race: leave the message in the queue (report it in `batchItemFailures`).
    Transient,
    /// A missing object, a refused request, bad input: it fails the same way every time, so it is
    /// logged and the message deleted.
    Permanent,
}

/// Anything that can say which [`ErrorKind`] it is.
pub trait Classified {
    fn kind(&self) -> ErrorKind;

    fn is_transient(&self) -> bool {
        self.kind() == ErrorKind::Transient
    }
}

/// A failure of a port call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} failed {}: {detail}", match kind { ErrorKind::Transient => "transiently", ErrorKind::Permanent => "permanently" })]
pub struct PortError {
    pub kind: ErrorKind,
    pub operation: &'static str,
    pub detail: String,
}

impl PortError {
    pub fn transient(operation: &'static str, detail: impl Into<String>) -> PortError {
        PortError {
            kind: ErrorKind::Transient,
            operation,
            detail: detail.into(),
        }
    }

    pub fn permanent(operation: &'static str, detail: impl Into<String>) -> PortError {
        PortError {
            kind: ErrorKind::Permanent,
            operation,
            detail: detail.into(),
        }
    }
}

impl Classified for PortError {
    fn kind(&self) -> ErrorKind {
        self.kind
    }
}

/// Where one raw email lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MailSource {
    /// The S3 bucket; `None` on the embedded backend, where `key` is a file path.
    pub bucket: Option<String>,
    pub key: String,
}

/// An outgoing message committed to the ledger before it is published, so that a crash between
/// commit and publish cannot lose it: whoever reads the record next publishes it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub topic: Topic,
    pub dedupe_id: String,
    /// The JSON body, exactly as it is published.
    pub body: String,
    /// SNS message attributes (`route`, `method`).
    pub attributes: Vec<(String, String)>,
}

/// An outbox entry the publisher refused for good (SNS's `InvalidParameter`, say): moved out of
/// its record so that the event's later messages are not blocked behind it, and kept, with why,
/// for an operator to repair and republish. Stored under (UID, `#aside:<dedupe_id>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetAsideEntry {
    /// The record the entry was taken from.
    pub from: EventKey,
    pub entry: OutboxEntry,
    /// The publisher's refusal.
    pub why: String,
}

/// One ledger item as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub key: EventKey,
    pub state: RecordState,
    /// Bumped by every write; conditional writes compare it.
    pub revision: u64,
    pub last_source_key: Option<String>,
    /// RFC 3339 UTC, set by the service's clock.
    pub updated_at: String,
    pub outbox: Option<OutboxEntry>,
}

/// A conditional write: succeed only if the item still has `expected_revision`
/// (`None`: the item must not exist yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerWrite {
    pub expected_revision: Option<u64>,
    pub record: StoredRecord,
}

/// A record the commit does not write but that must still be at the revision read (`None`: still
/// absent) for the commit to succeed. An occurrence with no record of its own is judged against
/// its series' record; if another worker changed the series meanwhile (cancelled it, say), the
/// judgement is void and the commit must lose, as if it had written the series itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevisionCheck {
    pub key: EventKey,
    pub expected_revision: Option<u64>,
}

/// The outcome of a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed,
    /// Another worker changed one of the items since it was read; nothing was written.
    Conflict,
}

pub trait MailStore: Send + Sync {
    fn fetch(&self, source: &MailSource)
    -> impl Future<Output = Result<Vec<u8>, PortError>> + Send;
}

pub trait Ledger: Send + Sync {
    /// The stored items for these keys, in the same order; `None` where there is none.
    fn read(
        &self,
        keys: &[EventKey],
    ) -> impl Future<Output = Result<Vec<Option<StoredRecord>>, PortError>> + Send;

    /// All writes or none, each conditional on its expected revision, and only while every
    /// record in `unchanged` is still at its expected revision.
    fn commit(
        &self,
        writes: &[LedgerWrite],
        unchanged: &[RevisionCheck],
    ) -> impl Future<Output = Result<CommitOutcome, PortError>> + Send;

    /// Removes the outbox entry of `key` if it is still the one with `dedupe_id`.
    fn clear_outbox(
        &self,
        key: &EventKey,
        dedupe_id: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// In one transaction: removes the outbox entry of `aside.from` if it is still the one with
    /// `aside.entry.dedupe_id`, and stores `aside`. Nothing happens if the entry is gone.
    fn set_aside_outbox(
        &self,
        aside: &SetAsideEntry,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// The entries set aside for `uid`, by dedupe id.
    fn set_aside_entries(
        &self,
        uid: &str,
    ) -> impl Future<Output = Result<Vec<SetAsideEntry>, PortError>> + Send;
}

pub trait Publisher: Send + Sync {
    fn publish(
        &self,
        topic: Topic,
        body: &str,
        attributes: &[(String, String)],
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

pub trait Queue: Send + Sync {
    /// Deletes a processed message by its receipt handle.
    fn delete(&self, receipt_handle: &str) -> impl Future<Output = Result<(), PortError>> + Send;
}

pub trait Mailer: Send + Sync {
    /// Sends one rendered reply, exactly as rendered.
    fn send(&self, reply: &Reply) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// What a claim on a reply found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Ours to send.
    Claimed,
    /// A reply with this dedupe id was sent.
    AlreadyHandled,
    /// Another worker claimed it less than the claim's lifetime ago and has not settled: it may
    /// be sending now, or it died. Not sent, not ours: the record is retried, and a retry after
    /// the claim's lifetime takes it over and sends.
    InFlight,
    /// The recipient already got the limit of replies in the last 24 hours.
    RateLimited,
}

/// `REPLY_CLAIM_SECONDS`' default: the CDK app's notifier queue keeps a message invisible for
/// 180 s and the function runs at most 30 s, so a redelivery comes at least 150 s after the
/// claim its first delivery made (cdk/lib/notifier.ts derives the same).
pub const CLAIM_TIMEOUT_SECONDS: i64 = 150;

/// How a claim is judged: the recipient's limit, and how long an unsettled claim is another
/// worker's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimTerms {
    /// Replies per recipient per 24 hours.
    pub rate_limit: u32,
    /// How long an unsettled claim blocks everyone else. At least the longest a worker can hold
    /// a claim (the function timeout), so a living worker is never overtaken, and short enough
    /// that the queue's redelivery of a dead worker's record finds it expired.
    pub claim_seconds: i64,
}

/// How long a sent reply is remembered (its dedupe id, and its place in the rate limit).
pub const REPLY_MEMORY_SECONDS: i64 = 7 * 24 * 3600;

/// What the notifier remembers: which replies went out, and how many to whom lately.
pub trait ReplyLog: Send + Sync {
    /// Claims `dedupe_id` for a reply to `recipient` at `now`, unless a reply with that id was
    /// sent ([`Claim::AlreadyHandled`]) or is claimed by a worker less than
    /// `terms.claim_seconds` ago ([`Claim::InFlight`]), or `recipient` had `terms.rate_limit`
    /// replies claimed in the 24 hours before `now`. Atomic: two workers cannot both win.
    fn claim(
        &self,
        dedupe_id: &str,
        recipient: &str,
        now: DateTime<Utc>,
        terms: ClaimTerms,
    ) -> impl Future<Output = Result<Claim, PortError>> + Send;

    /// After the send: `sent` keeps the claim as a sent reply; otherwise it is released, so
    /// a retry may send.
    fn settle(
        &self,
        dedupe_id: &str,
        sent: bool,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}
