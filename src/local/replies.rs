//! Replies on the embedded backend: each reply the notifier sends is written to
//! `STATE/replies/<dedupe_id>.eml`, byte for byte what SES would send; which replies went out,
//! and to whom, is kept in the state's SQLite file, as the Lambda keeps it in DynamoDB.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::sqlite::{SqliteFile, storage_error};

use crate::core::model::Topic;
use crate::core::reply::Reply;
use crate::notifier::{Notified, Notifier, NotifyError};
use crate::ports::{
    Claim, ClaimTerms, Mailer, PortError, Publisher, REPLY_MEMORY_SECONDS, ReplyLog,
};

/// Writes each reply to `DIR/<dedupe_id>.eml` (through a temporary file, so a reader never
/// sees half a mail).
pub struct FileMailer {
    dir: PathBuf,
}

impl FileMailer {
    pub fn new(dir: impl Into<PathBuf>) -> FileMailer {
        FileMailer { dir: dir.into() }
    }

    pub fn path_of(&self, dedupe_id: &str) -> PathBuf {
        self.dir.join(format!("{dedupe_id}.eml"))
    }
}

impl Mailer for FileMailer {
    async fn send(&self, reply: &Reply) -> Result<(), PortError> {
        const OPERATION: &str = "write reply file";
        // A dedupe id is hex; anything else must not become a path.
        if reply.dedupe_id.is_empty() || !reply.dedupe_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(PortError::permanent(OPERATION, "the dedupe id is not hex"));
        }
        let path = self.path_of(&reply.dedupe_id);
        let partial = path.with_extension("eml.partial");
        std::fs::create_dir_all(&self.dir)
            .and_then(|()| std::fs::write(&partial, &reply.raw))
            .and_then(|()| std::fs::rename(&partial, &path))
            .map_err(|error| {
                PortError::transient(OPERATION, format!("{}: {error}", path.display()))
            })
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS replies (
    dedupe_id  TEXT PRIMARY KEY,
    recipient  TEXT NOT NULL,
    claimed_at INTEGER NOT NULL,   -- Unix seconds
    state      TEXT NOT NULL       -- claimed | sent
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS replies_by_recipient ON replies (recipient, claimed_at);
";

/// The reply log in SQLite: a claim is one IMMEDIATE transaction, so two `process` runs on one
/// state directory cannot both claim a reply.
pub struct SqliteReplyLog {
    file: SqliteFile,
}

impl SqliteReplyLog {
    pub fn open(path: &Path) -> Result<SqliteReplyLog, PortError> {
        Ok(SqliteReplyLog {
            file: SqliteFile::open(Some(path), SCHEMA)?,
        })
    }

    pub fn in_memory() -> Result<SqliteReplyLog, PortError> {
        Ok(SqliteReplyLog {
            file: SqliteFile::open(None, SCHEMA)?,
        })
    }
}

impl ReplyLog for SqliteReplyLog {
    async fn claim(
        &self,
        dedupe_id: &str,
        recipient: &str,
        now: DateTime<Utc>,
        terms: ClaimTerms,
    ) -> Result<Claim, PortError> {
        const OPERATION: &str = "claim reply";
        let error = storage_error(OPERATION);
        let mut connection = self.file.lock(OPERATION)?;
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&error)?;
        let now = now.timestamp();
        transaction
            .execute(
                "DELETE FROM replies WHERE claimed_at < ?1",
                params![now - REPLY_MEMORY_SECONDS],
            )
            .map_err(&error)?;
        let existing: Option<(String, i64)> = transaction
            .query_row(
                "SELECT state, claimed_at FROM replies WHERE dedupe_id = ?1",
                params![dedupe_id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(&error)?;
        match existing {
            Some((state, _)) if state == "sent" => return Ok(Claim::AlreadyHandled),
            Some((_, claimed_at)) if claimed_at > now - terms.claim_seconds => {
                return Ok(Claim::InFlight);
            }
            _ => {}
        }
        let recent: i64 = transaction
            .query_row(
                "SELECT COUNT(*) FROM replies \
                 WHERE recipient = ?1 AND claimed_at > ?2 AND dedupe_id <> ?3",
                params![recipient, now - 24 * 3600, dedupe_id],
                |row| row.get(0),
            )
            .map_err(&error)?;
        if recent >= i64::from(terms.rate_limit) {
            return Ok(Claim::RateLimited);
        }
        transaction
            .execute(
                "INSERT OR REPLACE INTO replies (dedupe_id, recipient, claimed_at, state) \
                 VALUES (?1, ?2, ?3, 'claimed')",
                params![dedupe_id, recipient, now],
            )
            .map_err(&error)?;
        transaction.commit().map_err(&error)?;
        Ok(Claim::Claimed)
    }

    async fn settle(&self, dedupe_id: &str, sent: bool) -> Result<(), PortError> {
        const OPERATION: &str = "settle reply";
        let connection = self.file.lock(OPERATION)?;
        let statement = if sent {
            "UPDATE replies SET state = 'sent' WHERE dedupe_id = ?1"
        } else {
            "DELETE FROM replies WHERE dedupe_id = ?1 AND state = 'claimed'"
        };
        connection
            .execute(statement, params![dedupe_id])
            .map(|_| ())
            .map_err(storage_error(OPERATION))
    }
}

/// The embedded backend's `rejected` topic subscription: every message published to it is also
/// handed to the notifier, as the notifier Lambda's queue is on AWS.
pub struct AnsweringPublisher<P, M, R> {
    inner: P,
    notifier: Notifier<M, R>,
}

impl<P, M, R> AnsweringPublisher<P, M, R> {
    pub fn new(inner: P, notifier: Notifier<M, R>) -> Self {
        AnsweringPublisher { inner, notifier }
    }
}

impl<P: Publisher, M: Mailer, R: ReplyLog> Publisher for AnsweringPublisher<P, M, R> {
    async fn publish(
        &self,
        topic: Topic,
        body: &str,
        attributes: &[(String, String)],
    ) -> Result<(), PortError> {
        self.inner.publish(topic, body, attributes).await?;
        if topic != Topic::Rejected {
            return Ok(());
        }
        match self.notifier.notify(body).await {
            Ok(Notified::Undeliverable(why)) => {
                tracing::error!(why = %why, "reply refused for good");
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(NotifyError::Port(error)) => Err(error),
            Err(error) => Err(PortError::permanent(
                "reply to the sender",
                error.to_string(),
            )),
        }
    }
}
