use std::io::{ErrorKind, Read};

use crate::ports::{MailSource, MailStore, PortError};

/// Reads emails from files: the source key is the path (the bucket is ignored).
#[derive(Debug, Clone, Default)]
pub struct LocalMailStore {
    /// Read at most this many bytes plus one: enough for the core to see that an email is over
    /// the limit (`too_large`) without holding a huge file in memory.
    pub max_bytes: Option<usize>,
}

impl LocalMailStore {
    pub fn new(max_bytes: Option<usize>) -> LocalMailStore {
        LocalMailStore { max_bytes }
    }
}

impl MailStore for LocalMailStore {
    async fn fetch(&self, source: &MailSource) -> Result<Vec<u8>, PortError> {
        let path = source.key.clone();
        let max_bytes = self.max_bytes;
        let read = tokio::task::spawn_blocking(move || read_bounded(&path, max_bytes))
            .await
            .map_err(|error| PortError::transient("read email file", error.to_string()))?;
        read.map_err(|error| {
            let detail = format!("{}: {error}", source.key);
            match error.kind() {
                // The file is not there or not ours to read: no retry will change that.
                ErrorKind::NotFound | ErrorKind::PermissionDenied | ErrorKind::IsADirectory => {
                    PortError::permanent("read email file", detail)
                }
                _ => PortError::transient("read email file", detail),
            }
        })
    }
}

/// At most `max_bytes` plus one byte of the file: enough to see that it is over the limit.
pub fn read_bounded(path: &str, max_bytes: Option<usize>) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let mut raw = Vec::new();
    match max_bytes {
        Some(max) => {
            file.take(max as u64 + 1).read_to_end(&mut raw)?;
        }
        None => {
            let mut file = file;
            file.read_to_end(&mut raw)?;
        }
    }
    Ok(raw)
}
