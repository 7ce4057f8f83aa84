use std::collections::{BTreeMap, HashSet};
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use rusqlite::{TransactionBehavior, params};
use serde_json::{Value, json};

use super::sqlite::{SqliteFile, storage_error};
use crate::core::model::Topic;
use crate::ports::{PortError, Publisher};

/// Appends each published message to `DIR/<topic>.jsonl`, one JSON line:
/// `{"topic": ..., "attributes": {"route": ..., "method": ..., "uid": ...}, "message": <the body>}`.
///
/// Deduplicates by the body's `dedupe_id`, as an SNS FIFO topic does, through the state
/// database (table `published`, beside the ledger): the id is recorded and the line appended in
/// one SQLite write transaction, so a second `process` run over the same emails changes nothing,
/// rejections included (they are not in the ledger's records), and two runs can never both
/// append the same message. A crash between the append and the commit leaves the line without
/// its row: the next run appends it once more, with the same dedupe id, never loses it.
pub struct JsonlPublisher {
    dir: PathBuf,
    database: SqliteFile,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS published (
    topic      TEXT NOT NULL,
    dedupe_id  TEXT NOT NULL,
    PRIMARY KEY (topic, dedupe_id)
) WITHOUT ROWID;
";

impl JsonlPublisher {
    /// Topic files in `dir`, dedupe ids in the SQLite file `database` (the state's ledger file).
    /// A state directory from before the table existed has its topic files read once, here.
    pub fn open(dir: impl Into<PathBuf>, database: &Path) -> Result<JsonlPublisher, PortError> {
        let publisher = JsonlPublisher {
            dir: dir.into(),
            database: SqliteFile::open(Some(database), "")?,
        };
        publisher.create_table()?;
        Ok(publisher)
    }

    pub fn topic_path(&self, topic: Topic) -> PathBuf {
        self.dir.join(format!("{topic}.jsonl"))
    }

    fn create_table(&self) -> Result<(), PortError> {
        const OPERATION: &str = "create the published table";
        let mut connection = self.database.lock(OPERATION)?;
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(storage_error(OPERATION))?;
        let existed = transaction
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'published'",
                [],
                |row| row.get::<_, i64>(0),
            )
            .map_err(storage_error(OPERATION))?
            > 0;
        transaction
            .execute_batch(SCHEMA)
            .map_err(storage_error(OPERATION))?;
        if !existed {
            for topic in Topic::ALL {
                let path = self.topic_path(topic);
                let ids = load_dedupe_ids(&path).map_err(|error| {
                    PortError::transient(OPERATION, format!("{}: {error}", path.display()))
                })?;
                for id in ids {
                    transaction
                        .execute(
                            "INSERT OR IGNORE INTO published (topic, dedupe_id) VALUES (?1, ?2)",
                            params![topic.to_string(), id],
                        )
                        .map_err(storage_error(OPERATION))?;
                }
            }
        }
        transaction.commit().map_err(storage_error(OPERATION))
    }

    fn append(
        &self,
        topic: Topic,
        body: &str,
        attributes: &[(String, String)],
    ) -> Result<(), PortError> {
        const OPERATION: &str = "append to topic file";
        let message: Value = serde_json::from_str(body).map_err(|error| {
            PortError::permanent(OPERATION, format!("body is not JSON: {error}"))
        })?;
        let dedupe_id = message
            .get("dedupe_id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let mut connection = self.database.lock(OPERATION)?;
        // Immediate: the write lock is taken before the check, so the check and the append are
        // one step for every process sharing the state.
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(storage_error(OPERATION))?;
        if let Some(id) = &dedupe_id {
            let recorded = transaction
                .execute(
                    "INSERT OR IGNORE INTO published (topic, dedupe_id) VALUES (?1, ?2)",
                    params![topic.to_string(), id],
                )
                .map_err(storage_error(OPERATION))?;
            if recorded == 0 {
                return Ok(());
            }
        }
        let attributes: BTreeMap<&str, &str> = attributes
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        let mut line =
            json!({"topic": topic, "attributes": attributes, "message": message}).to_string();
        line.push('\n');
        let path = self.topic_path(topic);
        std::fs::create_dir_all(&self.dir)
            .and_then(|()| {
                OpenOptions::new()
                    .create(true)
                    .read(true)
                    .append(true)
                    .open(&path)
            })
            .and_then(|mut file| {
                cut_torn_tail(&mut file)?;
                file.write_all(line.as_bytes())
            })
            .map_err(|error| {
                PortError::transient(OPERATION, format!("{}: {error}", path.display()))
            })?;
        transaction.commit().map_err(storage_error(OPERATION))
    }
}

/// A crash in the middle of an append leaves a last line without its newline; the next message
/// appended after it would be glued onto it and lost to every reader. The torn tail is cut back
/// to the last whole line (its message was never delivered: it is still in the ledger's outbox,
/// or is published again by the next run).
fn cut_torn_tail(file: &mut std::fs::File) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let length = file.metadata()?.len();
    let mut end = length;
    let mut chunk = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(chunk.len() as u64);
        let size = usize::try_from(end - start).unwrap_or(chunk.len());
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut chunk[..size])?;
        if let Some(newline) = chunk[..size].iter().rposition(|byte| *byte == b'\n') {
            let whole = start + newline as u64 + 1;
            if whole < length {
                file.set_len(whole)?;
            }
            return Ok(());
        }
        end = start;
    }
    // Not one whole line: all of it is torn.
    if length > 0 {
        file.set_len(0)?;
    }
    Ok(())
}

fn load_dedupe_ids(path: &Path) -> std::io::Result<HashSet<String>> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(HashSet::new()),
        Err(error) => return Err(error),
    };
    let mut ids = HashSet::new();
    for line in BufReader::new(file).lines() {
        let line = line?;
        // A torn last line (a crash mid-append) is skipped; its message is republished from the
        // ledger's outbox.
        if let Ok(value) = serde_json::from_str::<Value>(&line)
            && let Some(id) = value.pointer("/message/dedupe_id").and_then(Value::as_str)
        {
            ids.insert(id.to_owned());
        }
    }
    Ok(ids)
}

impl Publisher for JsonlPublisher {
    async fn publish(
        &self,
        topic: Topic,
        body: &str,
        attributes: &[(String, String)],
    ) -> Result<(), PortError> {
        self.append(topic, body, attributes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::Classified;

    /// Topic files in `dir`, the dedupe ids in `dir/ledger.sqlite3`.
    fn publisher(dir: &Path) -> JsonlPublisher {
        JsonlPublisher::open(dir, &dir.join("ledger.sqlite3")).unwrap()
    }

    fn lines(path: &Path) -> Vec<Value> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).expect("every line is whole JSON"))
            .collect()
    }

    /// Two runs on one state, each with its publisher open (the first with a message of its
    /// own already sent): the rejection they both publish is appended once. A dedupe set loaded
    /// once per run and kept in memory appended it twice.
    #[tokio::test]
    async fn two_publishers_on_one_state_append_a_message_once() {
        let dir = tempfile::tempdir().unwrap();
        let first = publisher(dir.path());
        let second = publisher(dir.path());
        let rejection = r#"{"dedupe_id":"r","kind":"refusal"}"#;
        second
            .publish(Topic::Rejected, r#"{"dedupe_id":"other"}"#, &[])
            .await
            .unwrap();
        first
            .publish(Topic::Rejected, rejection, &[])
            .await
            .unwrap();
        second
            .publish(Topic::Rejected, rejection, &[])
            .await
            .unwrap();
        let published = lines(&dir.path().join("rejected.jsonl"));
        let ids: Vec<&str> = published
            .iter()
            .filter_map(|line| line["message"]["dedupe_id"].as_str())
            .collect();
        assert_eq!(ids, ["other", "r"]);
    }

    /// A state directory written before the `published` table existed: what its topic files
    /// hold counts as published.
    #[tokio::test]
    async fn an_older_state_directory_keeps_its_published_messages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rejected.jsonl");
        let old = r#"{"topic":"rejected","attributes":{},"message":{"dedupe_id":"r"}}"#;
        std::fs::write(&path, format!("{old}\n")).unwrap();
        let publisher = publisher(dir.path());
        publisher
            .publish(Topic::Rejected, r#"{"dedupe_id":"r"}"#, &[])
            .await
            .unwrap();
        publisher
            .publish(Topic::Rejected, r#"{"dedupe_id":"s"}"#, &[])
            .await
            .unwrap();
        assert_eq!(lines(&path).len(), 2);
    }

    /// An append that fails records nothing: the retry appends.
    #[tokio::test]
    async fn a_failed_append_is_not_counted_as_published() {
        let dir = tempfile::tempdir().unwrap();
        let publisher = publisher(dir.path());
        // A directory where the topic file should be: the append fails.
        std::fs::create_dir(dir.path().join("create.jsonl")).unwrap();
        let body = r#"{"dedupe_id":"a"}"#;
        let error = publisher
            .publish(Topic::Create, body, &[])
            .await
            .unwrap_err();
        assert!(error.is_transient(), "{error}");
        std::fs::remove_dir(dir.path().join("create.jsonl")).unwrap();
        publisher.publish(Topic::Create, body, &[]).await.unwrap();
        assert_eq!(lines(&dir.path().join("create.jsonl")).len(), 1);
    }

    #[tokio::test]
    async fn a_dedupe_id_is_appended_once_even_across_instances() {
        let dir = tempfile::tempdir().unwrap();
        let attributes = vec![("route".to_owned(), "create".to_owned())];
        let first = publisher(dir.path());
        first
            .publish(Topic::Create, r#"{"dedupe_id":"a","x":1}"#, &attributes)
            .await
            .unwrap();
        first
            .publish(Topic::Create, r#"{"dedupe_id":"a","x":1}"#, &attributes)
            .await
            .unwrap();
        first
            .publish(Topic::Create, r#"{"dedupe_id":"b","x":2}"#, &attributes)
            .await
            .unwrap();
        let second = publisher(dir.path());
        second
            .publish(Topic::Create, r#"{"dedupe_id":"a","x":1}"#, &attributes)
            .await
            .unwrap();
        let text = std::fs::read_to_string(dir.path().join("create.jsonl")).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["attributes"]["route"], "create");
        assert_eq!(lines[0]["topic"], "create");
        assert_eq!(lines[1]["message"]["x"], 2);
    }

    #[tokio::test]
    async fn a_torn_last_line_is_cut_before_the_next_append() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("create.jsonl");
        let whole = r#"{"topic":"create","attributes":{},"message":{"dedupe_id":"a"}}"#;
        std::fs::write(&path, format!("{whole}\n{{\"topic\":\"create\",\"attri")).unwrap();
        let topics = publisher(dir.path());
        topics
            .publish(Topic::Create, r#"{"dedupe_id":"b"}"#, &[])
            .await
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).expect("every line is whole JSON"))
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[1]["message"]["dedupe_id"], "b");
        assert!(text.ends_with('\n'));

        // A file that is nothing but a torn line.
        std::fs::write(&path, "{\"topic\":").unwrap();
        topics
            .publish(Topic::Create, r#"{"dedupe_id":"c"}"#, &[])
            .await
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
    }
}
