use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::core::model::EventKey;
use crate::ledger_format::{
    corrupt, decode_key, decode_state, format_dtstamp, recurrence_column, status_code,
};
use crate::ports::{
    CommitOutcome, Ledger, LedgerWrite, OutboxEntry, PortError, RevisionCheck, SetAsideEntry,
    StoredRecord,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS records (
    uid              TEXT NOT NULL,
    recurrence_id    TEXT NOT NULL,   -- '-' for the series (master) record
    organizer        TEXT,
    status           TEXT NOT NULL,   -- active | cancelled | tombstone
    sequence         INTEGER NOT NULL,
    dtstamp          TEXT,            -- RFC 3339 UTC
    revision         INTEGER NOT NULL,
    last_source_key  TEXT,
    updated_at       TEXT NOT NULL,
    outbox_dedupe_id TEXT,
    outbox           TEXT,            -- the OutboxEntry as JSON
    PRIMARY KEY (uid, recurrence_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS set_aside (
    uid              TEXT NOT NULL,
    dedupe_id        TEXT NOT NULL,
    from_recurrence  TEXT NOT NULL,   -- the record the entry was taken from ('-': the series)
    why              TEXT NOT NULL,
    outbox           TEXT NOT NULL,   -- the OutboxEntry as JSON
    PRIMARY KEY (uid, dedupe_id)
) WITHOUT ROWID;
";

/// The ledger in one SQLite file. SQLite gives the ACID transaction that makes a multi-record
/// commit all-or-nothing; every write is conditional on the revision read, as on DynamoDB.
///
/// One connection behind a mutex: the embedded backend processes one email at a time, and each
/// call is a few microseconds of local I/O, so blocking the async task briefly is acceptable.
pub struct SqliteLedger {
    file: SqliteFile,
}

/// One SQLite connection, its schema created, shared by the embedded backend's stores (the
/// ledger and the reply log live in one file).
pub(super) struct SqliteFile {
    connection: Mutex<Connection>,
}

pub(super) fn storage_error(operation: &'static str) -> impl Fn(rusqlite::Error) -> PortError {
    // Never permanent: a storage failure says nothing about the email, and a permanent error
    // would drop it. Busy/locked heal on retry; anything else needs a human, and keeping the
    // input for them is the safe side.
    move |error| PortError::transient(operation, error.to_string())
}

impl SqliteFile {
    /// `path`, or an in-memory database when `None`, with `schema` applied.
    pub(super) fn open(path: Option<&Path>, schema: &str) -> Result<SqliteFile, PortError> {
        let connection = match path {
            Some(path) => Connection::open(path),
            None => Connection::open_in_memory(),
        }
        .map_err(storage_error("open state database"))?;
        // Two `process` runs on one state dir wait for each other rather than fail.
        connection
            .busy_timeout(Duration::from_secs(10))
            .map_err(storage_error("open state database"))?;
        connection
            .execute_batch(schema)
            .map_err(storage_error("create schema"))?;
        Ok(SqliteFile {
            connection: Mutex::new(connection),
        })
    }

    pub(super) fn lock(
        &self,
        operation: &'static str,
    ) -> Result<MutexGuard<'_, Connection>, PortError> {
        self.connection
            .lock()
            .map_err(|_| PortError::transient(operation, "state database lock poisoned"))
    }
}

impl SqliteLedger {
    pub fn open(path: &Path) -> Result<SqliteLedger, PortError> {
        Ok(SqliteLedger {
            file: SqliteFile::open(Some(path), SCHEMA)?,
        })
    }

    pub fn in_memory() -> Result<SqliteLedger, PortError> {
        Ok(SqliteLedger {
            file: SqliteFile::open(None, SCHEMA)?,
        })
    }

    fn lock(&self, operation: &'static str) -> Result<MutexGuard<'_, Connection>, PortError> {
        self.file.lock(operation)
    }

    /// Every record, ordered by key (for tests and the demo).
    pub fn all(&self) -> Result<Vec<StoredRecord>, PortError> {
        let connection = self.lock("scan ledger")?;
        let mut statement = connection
            .prepare(&format!(
                "SELECT {COLUMNS} FROM records ORDER BY uid, recurrence_id"
            ))
            .map_err(storage_error("scan ledger"))?;
        let rows = statement
            .query_map([], row_to_columns)
            .map_err(storage_error("scan ledger"))?;
        let mut records = Vec::new();
        for row in rows {
            records.push(columns_to_record(
                row.map_err(storage_error("scan ledger"))?,
            )?);
        }
        Ok(records)
    }
}

const COLUMNS: &str = "uid, recurrence_id, organizer, status, sequence, dtstamp, revision, \
                       last_source_key, updated_at, outbox";

/// The raw columns of one row, converted outside rusqlite's closure so conversion errors are ours.
type Columns = (
    String,
    String,
    Option<String>,
    String,
    i64,
    Option<String>,
    i64,
    Option<String>,
    String,
    Option<String>,
);

fn row_to_columns(row: &rusqlite::Row<'_>) -> rusqlite::Result<Columns> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
        row.get(9)?,
    ))
}

fn columns_to_record(columns: Columns) -> Result<StoredRecord, PortError> {
    let (
        uid,
        rid,
        organizer,
        status,
        sequence,
        dtstamp,
        revision,
        last_source_key,
        updated_at,
        outbox,
    ) = columns;
    let outbox = match outbox {
        Some(json) => Some(
            serde_json::from_str::<OutboxEntry>(&json)
                .map_err(|error| corrupt(format!("outbox: {error}")))?,
        ),
        None => None,
    };
    let sequence = u32::try_from(sequence).map_err(|_| corrupt(format!("sequence {sequence}")))?;
    Ok(StoredRecord {
        key: decode_key(uid, &rid),
        state: decode_state(organizer, &status, sequence, dtstamp.as_deref())?,
        revision: u64::try_from(revision).map_err(|_| corrupt(format!("revision {revision}")))?,
        last_source_key,
        updated_at,
        outbox,
    })
}

impl Ledger for SqliteLedger {
    async fn read(&self, keys: &[EventKey]) -> Result<Vec<Option<StoredRecord>>, PortError> {
        const OPERATION: &str = "read ledger";
        let connection = self.lock(OPERATION)?;
        let mut statement = connection
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM records WHERE uid = ?1 AND recurrence_id = ?2"
            ))
            .map_err(storage_error(OPERATION))?;
        let mut records = Vec::with_capacity(keys.len());
        for key in keys {
            let columns = statement
                .query_row(params![key.uid, recurrence_column(key)], row_to_columns)
                .optional()
                .map_err(storage_error(OPERATION))?;
            records.push(columns.map(columns_to_record).transpose()?);
        }
        Ok(records)
    }

    async fn commit(
        &self,
        writes: &[LedgerWrite],
        unchanged: &[RevisionCheck],
    ) -> Result<CommitOutcome, PortError> {
        const OPERATION: &str = "commit to ledger";
        let error = storage_error(OPERATION);
        let mut connection = self.lock(OPERATION)?;
        // IMMEDIATE takes the write lock up front, so the revision checks below and the writes
        // cannot interleave with another process's commit.
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&error)?;
        for check in unchanged {
            let current: Option<i64> = transaction
                .query_row(
                    "SELECT revision FROM records WHERE uid = ?1 AND recurrence_id = ?2",
                    params![check.key.uid, recurrence_column(&check.key)],
                    |row| row.get(0),
                )
                .optional()
                .map_err(&error)?;
            if current != check.expected_revision.map(|revision| revision as i64) {
                return Ok(CommitOutcome::Conflict);
            }
        }
        for write in writes {
            let record = &write.record;
            let current: Option<i64> = transaction
                .query_row(
                    "SELECT revision FROM records WHERE uid = ?1 AND recurrence_id = ?2",
                    params![record.key.uid, recurrence_column(&record.key)],
                    |row| row.get(0),
                )
                .optional()
                .map_err(&error)?;
            let expected = write.expected_revision.map(|revision| revision as i64);
            if current != expected {
                // Dropping the transaction rolls back whatever was written before.
                return Ok(CommitOutcome::Conflict);
            }
            let outbox = match &record.outbox {
                Some(entry) => Some(
                    serde_json::to_string(entry)
                        .map_err(|e| PortError::permanent(OPERATION, e.to_string()))?,
                ),
                None => None,
            };
            transaction
                .execute(
                    "INSERT OR REPLACE INTO records (uid, recurrence_id, organizer, status, \
                     sequence, dtstamp, revision, last_source_key, updated_at, outbox_dedupe_id, \
                     outbox) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                    params![
                        record.key.uid,
                        recurrence_column(&record.key),
                        record.state.organizer,
                        status_code(record.state.status),
                        i64::from(record.state.version.sequence),
                        record.state.version.dtstamp.map(format_dtstamp),
                        record.revision as i64,
                        record.last_source_key,
                        record.updated_at,
                        record.outbox.as_ref().map(|entry| entry.dedupe_id.as_str()),
                        outbox,
                    ],
                )
                .map_err(&error)?;
        }
        transaction.commit().map_err(&error)?;
        Ok(CommitOutcome::Committed)
    }

    async fn clear_outbox(&self, key: &EventKey, dedupe_id: &str) -> Result<(), PortError> {
        const OPERATION: &str = "clear ledger outbox";
        let connection = self.lock(OPERATION)?;
        // Conditional on the id: a newer entry committed meanwhile by someone else stays.
        connection
            .execute(
                "UPDATE records SET outbox = NULL, outbox_dedupe_id = NULL \
                 WHERE uid = ?1 AND recurrence_id = ?2 AND outbox_dedupe_id = ?3",
                params![key.uid, recurrence_column(key), dedupe_id],
            )
            .map_err(storage_error(OPERATION))?;
        Ok(())
    }

    async fn set_aside_outbox(&self, aside: &SetAsideEntry) -> Result<(), PortError> {
        const OPERATION: &str = "set an outbox entry aside";
        let entry = serde_json::to_string(&aside.entry)
            .map_err(|error| PortError::transient(OPERATION, error.to_string()))?;
        let mut connection = self.lock(OPERATION)?;
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(storage_error(OPERATION))?;
        let taken = transaction
            .execute(
                "UPDATE records SET outbox = NULL, outbox_dedupe_id = NULL \
                 WHERE uid = ?1 AND recurrence_id = ?2 AND outbox_dedupe_id = ?3",
                params![
                    aside.from.uid,
                    recurrence_column(&aside.from),
                    aside.entry.dedupe_id
                ],
            )
            .map_err(storage_error(OPERATION))?;
        if taken == 1 {
            transaction
                .execute(
                    "INSERT OR REPLACE INTO set_aside \
                     (uid, dedupe_id, from_recurrence, why, outbox) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        aside.from.uid,
                        aside.entry.dedupe_id,
                        recurrence_column(&aside.from),
                        aside.why,
                        entry
                    ],
                )
                .map_err(storage_error(OPERATION))?;
        }
        transaction.commit().map_err(storage_error(OPERATION))
    }

    async fn set_aside_entries(&self, uid: &str) -> Result<Vec<SetAsideEntry>, PortError> {
        const OPERATION: &str = "read set-aside entries";
        let connection = self.lock(OPERATION)?;
        let mut statement = connection
            .prepare(
                "SELECT from_recurrence, why, outbox FROM set_aside WHERE uid = ?1 \
                 ORDER BY dedupe_id",
            )
            .map_err(storage_error(OPERATION))?;
        let rows = statement
            .query_map(params![uid], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                ))
            })
            .map_err(storage_error(OPERATION))?;
        let mut entries = Vec::new();
        for row in rows {
            let (from, why, outbox) = row.map_err(storage_error(OPERATION))?;
            let entry = serde_json::from_str::<OutboxEntry>(&outbox)
                .map_err(|error| corrupt(format!("set-aside outbox: {error}")))?;
            entries.push(SetAsideEntry {
                from: decode_key(uid.to_owned(), &from),
                entry,
                why,
            });
        }
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::ItemKind;
    use crate::core::model::Topic;
    use crate::core::model::{RecordState, RecordStatus, Version};
    use crate::ledger_format::parse_dtstamp;

    fn record(key: &EventKey, revision: u64, outbox: Option<&str>) -> StoredRecord {
        StoredRecord {
            key: key.clone(),
            state: RecordState {
                organizer: Some("alice@example.com".into()),
                status: RecordStatus::Active,
                version: Version {
                    sequence: 2,
                    dtstamp: parse_dtstamp("2026-11-01T09:00:00Z"),
                },
            },
            revision,
            last_source_key: Some("a.eml".into()),
            updated_at: "2026-11-23T01:00:00Z".into(),
            outbox: outbox.map(|id| OutboxEntry {
                topic: Topic::Create,
                dedupe_id: id.into(),
                body: "{}".into(),
                attributes: vec![("route".into(), "create".into())],
            }),
        }
    }

    #[tokio::test]
    async fn records_round_trip_and_writes_are_conditional() {
        let ledger = SqliteLedger::in_memory().unwrap();
        let series = EventKey::new("u1", None);
        let occurrence = EventKey {
            uid: "u1".into(),
            item: ItemKind::Occurrence("2026-12-01T10:00:00Z".into()),
        };
        assert_eq!(
            ledger.read(std::slice::from_ref(&series)).await.unwrap(),
            vec![None]
        );

        let first = LedgerWrite {
            expected_revision: None,
            record: record(&series, 1, Some("id-1")),
        };
        assert_eq!(
            ledger
                .commit(std::slice::from_ref(&first), &[])
                .await
                .unwrap(),
            CommitOutcome::Committed
        );
        // The same write again: the item exists now, so "must not exist" fails.
        assert_eq!(
            ledger.commit(&[first], &[]).await.unwrap(),
            CommitOutcome::Conflict
        );

        let read = ledger
            .read(&[series.clone(), occurrence.clone()])
            .await
            .unwrap();
        assert_eq!(read, vec![Some(record(&series, 1, Some("id-1"))), None]);

        // A multi-record commit with one stale expectation writes nothing at all.
        let both = [
            LedgerWrite {
                expected_revision: None,
                record: record(&occurrence, 1, None),
            },
            LedgerWrite {
                expected_revision: Some(7),
                record: record(&series, 8, None),
            },
        ];
        assert_eq!(
            ledger.commit(&both, &[]).await.unwrap(),
            CommitOutcome::Conflict
        );
        assert_eq!(
            ledger
                .read(std::slice::from_ref(&occurrence))
                .await
                .unwrap(),
            vec![None]
        );

        // clear_outbox only clears the entry it names.
        ledger.clear_outbox(&series, "other-id").await.unwrap();
        assert!(
            ledger.read(std::slice::from_ref(&series)).await.unwrap()[0]
                .as_ref()
                .unwrap()
                .outbox
                .is_some()
        );
        ledger.clear_outbox(&series, "id-1").await.unwrap();
        let cleared = ledger.read(std::slice::from_ref(&series)).await.unwrap()[0]
            .clone()
            .unwrap();
        assert_eq!(cleared.outbox, None);
        assert_eq!(
            cleared.revision, 1,
            "clearing the outbox is not a transition"
        );
        assert_eq!(ledger.all().unwrap().len(), 1);
    }
}
