use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{Value, json};

use crate::core::model::Topic;
use crate::ports::{PortError, Publisher};

/// Appends each published message to `DIR/<topic>.jsonl`, one JSON line:
/// `{"topic": ..., "attributes": {"route": ..., "method": ...}, "message": <the body>}`.
///
/// Deduplicates by the body's `dedupe_id`, as an SNS FIFO topic does: a message already in the
/// file is not appended again. That is what makes a second `process` run over the same emails
/// change nothing, rejections included (they are not in the ledger).
pub struct JsonlPublisher {
    dir: PathBuf,
    /// The dedupe ids already in each topic file, loaded on first use.
    seen: Mutex<HashMap<Topic, HashSet<String>>>,
}

impl JsonlPublisher {
    pub fn new(dir: impl Into<PathBuf>) -> JsonlPublisher {
        JsonlPublisher {
            dir: dir.into(),
            seen: Mutex::new(HashMap::new()),
        }
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
        let dedupe_id = message
            .get("dedupe_id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let path = self.topic_path(topic);
        let mut seen = self
            .seen
            .lock()
            .map_err(|_| PortError::transient(OPERATION, "publisher lock poisoned"))?;
        let ids = match seen.entry(topic) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => entry.insert(load_dedupe_ids(&path).map_err(|error| {
                PortError::transient(OPERATION, format!("{}: {error}", path.display()))
            })?),
        };
        if let Some(id) = &dedupe_id
            && ids.contains(id)
        {
            return Ok(());
        }
        let attributes: BTreeMap<&str, &str> = attributes
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        let mut line =
            json!({"topic": topic, "attributes": attributes, "message": message}).to_string();
        line.push('\n');
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
        if let Some(id) = dedupe_id {
            ids.insert(id);
        }
        Ok(())
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

    #[tokio::test]
    async fn a_dedupe_id_is_appended_once_even_across_instances() {
        let dir = tempfile::tempdir().unwrap();
        let attributes = vec![("route".to_owned(), "create".to_owned())];
        let first = JsonlPublisher::new(dir.path());
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
        let second = JsonlPublisher::new(dir.path());
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
        let publisher = JsonlPublisher::new(dir.path());
        publisher
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
        JsonlPublisher::new(dir.path())
            .publish(Topic::Create, r#"{"dedupe_id":"c"}"#, &[])
            .await
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
    }
}
