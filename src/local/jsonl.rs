use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde_json::{Value, json};

use super::sqlite::{SqliteFile, storage_error};
use crate::core::model::Topic;
use crate::ports::{PortError, Publisher};

/// Appends each published message to `DIR/<topic>.jsonl`, one JSON line:
/// `{"topic": ..., "attributes": {"route": ..., "method": ..., "uid": ...}, "message": <the body>}`.
///
/// Exactly once, as an SNS FIFO topic deduplicates by `dedupe_id`, across crashes and power
/// loss. The state database (the ledger's file) holds, per topic, the dedupe ids published and
/// the length of the topic file they account for; each append is one SQLite write transaction:
/// 1. recover: whole lines past the recorded length (an append whose commit a crash or
///    `kill -9` prevented) are rolled forward, their ids recorded as published, so the retry
///    that republishes them is a duplicate, never a second line; a torn last line is cut;
/// 2. skip the message if its id is recorded;
/// 3. append the line, fsync the file (and its directory when it was created) and only then
///    record the id and the new length and commit, so a committed publish survives power loss.
///
/// Files are opened without following symbolic links (`O_NOFOLLOW`) and must be regular files:
/// a topic file that is a link to elsewhere is refused, never truncated. Lines are read with a
/// bounded buffer: a line over [`MAX_LINE_BYTES`] (no message of ours is) is skipped, so a
/// topic file without newlines costs no more memory than one line.
pub struct JsonlPublisher {
    dir: PathBuf,
    database: SqliteFile,
}

/// Longer than any message we publish (SNS's limit is 256 KiB): a longer line is not ours.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS published (
    topic      TEXT NOT NULL,
    dedupe_id  TEXT NOT NULL,
    PRIMARY KEY (topic, dedupe_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS topic_files (
    topic   TEXT PRIMARY KEY,
    length  INTEGER NOT NULL  -- bytes of the topic file the published ids account for
) WITHOUT ROWID;
";

impl JsonlPublisher {
    /// Topic files in `dir`, dedupe ids in the SQLite file `database` (the state's ledger file).
    pub fn open(dir: impl Into<PathBuf>, database: &Path) -> Result<JsonlPublisher, PortError> {
        let publisher = JsonlPublisher {
            dir: dir.into(),
            database: SqliteFile::open(Some(database), "")?,
        };
        let connection = publisher.database.lock("create the published tables")?;
        connection
            .execute_batch(SCHEMA)
            .map_err(storage_error("create the published tables"))?;
        drop(connection);
        Ok(publisher)
    }

    pub fn topic_path(&self, topic: Topic) -> PathBuf {
        self.dir.join(format!("{topic}.jsonl"))
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
        let path = self.topic_path(topic);
        let io_error = |error: std::io::Error| {
            PortError::transient(OPERATION, format!("{}: {error}", path.display()))
        };
        let mut connection = self.database.lock(OPERATION)?;
        // Immediate: the write lock is taken before the file is read, so recovery, check and
        // append are one step for every process sharing the state.
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(storage_error(OPERATION))?;
        let recorded: Option<i64> = transaction
            .query_row(
                "SELECT length FROM topic_files WHERE topic = ?1",
                params![topic.to_string()],
                |row| row.get(0),
            )
            .optional()
            .map_err(storage_error(OPERATION))?;
        let (mut file, created) = open_topic_file(&self.dir, &path).map_err(io_error)?;
        let mut recovered = Vec::new();
        let length = recover(&mut file, recorded, |id| recovered.push(id)).map_err(io_error)?;
        for id in recovered {
            transaction
                .execute(
                    "INSERT OR IGNORE INTO published (topic, dedupe_id) VALUES (?1, ?2)",
                    params![topic.to_string(), id],
                )
                .map_err(storage_error(OPERATION))?;
        }
        let mut new_length = length;
        let fresh = match message.get("dedupe_id").and_then(Value::as_str) {
            Some(id) => {
                transaction
                    .execute(
                        "INSERT OR IGNORE INTO published (topic, dedupe_id) VALUES (?1, ?2)",
                        params![topic.to_string(), id],
                    )
                    .map_err(storage_error(OPERATION))?
                    > 0
            }
            None => true,
        };
        if fresh {
            let attributes: BTreeMap<&str, &str> = attributes
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str()))
                .collect();
            let mut line =
                json!({"topic": topic, "attributes": attributes, "message": message}).to_string();
            line.push('\n');
            file.write_all(line.as_bytes())
                .and_then(|()| file.sync_data())
                .and_then(|()| if created { sync_dir(&self.dir) } else { Ok(()) })
                .map_err(io_error)?;
            new_length += line.len() as u64;
        }
        transaction
            .execute(
                "INSERT OR REPLACE INTO topic_files (topic, length) VALUES (?1, ?2)",
                params![
                    topic.to_string(),
                    i64::try_from(new_length).unwrap_or(i64::MAX)
                ],
            )
            .map_err(storage_error(OPERATION))?;
        transaction.commit().map_err(storage_error(OPERATION))
    }
}

/// The topic file, opened for reading and appending without following a symbolic link, and
/// whether it was created now. The directory is created if missing; it must not be a link
/// either, so nothing outside the state directory is ever written.
fn open_topic_file(dir: &Path, path: &Path) -> std::io::Result<(File, bool)> {
    std::fs::create_dir_all(dir)?;
    if std::fs::symlink_metadata(dir)?.file_type().is_symlink() {
        return Err(std::io::Error::other(
            "the topics directory is a symbolic link",
        ));
    }
    let existed = std::fs::symlink_metadata(path).is_ok();
    let mut options = OpenOptions::new();
    options.create(true).read(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    let file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    Ok((file, !existed))
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Reads the file from the recorded length (from the start when nothing is recorded, or when
/// the file is shorter than recorded: it was replaced) and calls `published` with the dedupe id
/// of every whole line found there; cuts a torn last line. Returns the length accounted for.
fn recover(
    file: &mut File,
    recorded: Option<i64>,
    mut published: impl FnMut(String),
) -> std::io::Result<u64> {
    let length = file.metadata()?.len();
    let start = recorded
        .and_then(|recorded| u64::try_from(recorded).ok())
        .filter(|recorded| *recorded <= length)
        .unwrap_or(0);
    if start == length {
        return Ok(length);
    }
    file.seek(SeekFrom::Start(start))?;
    let mut reader = BufReader::new(&mut *file);
    let whole = for_each_line(&mut reader, start, |line| {
        if let Ok(value) = serde_json::from_slice::<Value>(line)
            && let Some(id) = value.pointer("/message/dedupe_id").and_then(Value::as_str)
        {
            published(id.to_owned());
        }
    })?;
    drop(reader);
    if whole < length {
        // A torn last line: its append never finished, its message was never delivered.
        file.set_len(whole)?;
    }
    Ok(whole)
}

/// Calls `f` with each whole line (newline excluded) read from `reader`, which stands at byte
/// `start`; a line over [`MAX_LINE_BYTES`] is skipped unread. Returns the byte just after the
/// last newline.
fn for_each_line(
    reader: &mut impl BufRead,
    start: u64,
    mut f: impl FnMut(&[u8]),
) -> std::io::Result<u64> {
    let mut position = start;
    let mut whole = start;
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(whole);
        }
        let (taken, ends_line) = match available.iter().position(|byte| *byte == b'\n') {
            Some(newline) => (newline + 1, true),
            None => (available.len(), false),
        };
        let content = &available[..if ends_line { taken - 1 } else { taken }];
        if !too_long && line.len() + content.len() <= MAX_LINE_BYTES {
            line.extend_from_slice(content);
        } else {
            too_long = true;
            line.clear();
        }
        reader.consume(taken);
        position += taken as u64;
        if ends_line {
            if !too_long {
                f(&line);
            }
            line.clear();
            too_long = false;
            whole = position;
        }
    }
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

    /// `kill -9` after the line was written and before its commit: the line is rolled forward
    /// as published, so the retry that republishes the message appends nothing.
    #[tokio::test]
    async fn a_line_written_before_a_crash_is_published_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("create.jsonl");
        let topics = publisher(dir.path());
        topics
            .publish(Topic::Create, r#"{"dedupe_id":"a"}"#, &[])
            .await
            .unwrap();
        // What the crashed append left: its whole line, no row, no recorded length.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(
            b"{\"topic\":\"create\",\"attributes\":{},\"message\":{\"dedupe_id\":\"b\"}}\n",
        )
        .unwrap();
        drop(file);
        let restarted = publisher(dir.path());
        for id in ["b", "c", "b"] {
            restarted
                .publish(Topic::Create, &format!(r#"{{"dedupe_id":"{id}"}}"#), &[])
                .await
                .unwrap();
        }
        let ids: Vec<String> = lines(&path)
            .iter()
            .map(|line| line["message"]["dedupe_id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids, ["a", "b", "c"]);
    }

    /// A topic file that is a symbolic link to a file elsewhere is refused; its target is left
    /// as it was.
    #[cfg(unix)]
    #[tokio::test]
    async fn a_topic_file_that_is_a_link_is_never_followed() {
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("precious.txt");
        std::fs::write(&target, "half a line, no newline").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join("create.jsonl")).unwrap();
        let error = publisher(dir.path())
            .publish(Topic::Create, r#"{"dedupe_id":"a"}"#, &[])
            .await
            .unwrap_err();
        assert!(error.to_string().contains("create.jsonl"), "{error}");
        assert_eq!(
            std::fs::read_to_string(&target).unwrap(),
            "half a line, no newline"
        );
    }

    /// Lines are read with a bounded buffer: a line longer than any message is skipped, the
    /// lines around it still count.
    #[test]
    fn an_overlong_line_is_skipped_not_held() {
        let mut text = Vec::new();
        text.extend_from_slice(b"first\n");
        text.extend(std::iter::repeat_n(b'x', MAX_LINE_BYTES + 10));
        text.extend_from_slice(b"\nlast\ntorn");
        let mut seen = Vec::new();
        let whole = for_each_line(&mut std::io::Cursor::new(&text), 0, |line| {
            seen.push(String::from_utf8_lossy(line).into_owned())
        })
        .unwrap();
        assert_eq!(seen, ["first", "last"]);
        assert_eq!(whole, (text.len() - "torn".len()) as u64);
    }
}
