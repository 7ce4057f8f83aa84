use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};

use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, percent_encode};

use crate::ports::{MailSource, MailStore, PortError};

/// Marks a key that holds a path's bytes percent-encoded: a file name need not be UTF-8.
const OS_PATH_PREFIX: &str = "os-path:";

/// The source key of the email file at `path`: the path itself when it is UTF-8 (what every
/// line of `process` has always printed), else `os-path:` and its bytes percent-encoded, so that
/// any file the operating system can name can be processed, and its key read back exactly.
pub fn key_of(path: &Path) -> String {
    match path.to_str() {
        Some(text) if !text.starts_with(OS_PATH_PREFIX) => text.to_owned(),
        _ => format!(
            "{OS_PATH_PREFIX}{}",
            percent_encode(path.as_os_str().as_encoded_bytes(), NON_ALPHANUMERIC)
        ),
    }
}

/// The path a key of [`key_of`] names.
pub fn path_of(key: &str) -> PathBuf {
    match key.strip_prefix(OS_PATH_PREFIX) {
        Some(encoded) => {
            let bytes: Vec<u8> = percent_decode_str(encoded).collect();
            os_path(bytes)
        }
        None => PathBuf::from(key),
    }
}

#[cfg(unix)]
fn os_path(bytes: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(bytes))
}

#[cfg(not(unix))]
fn os_path(bytes: Vec<u8>) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(&bytes).into_owned())
}

/// Reads emails from files: the source key names the path ([`key_of`]; the bucket is ignored).
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
        let path = path_of(&source.key);
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
pub fn read_bounded(path: &Path, max_bytes: Option<usize>) -> std::io::Result<Vec<u8>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_has_a_key_that_names_it_again() {
        let plain = Path::new("demo/emails/01-invite.eml");
        assert_eq!(key_of(plain), "demo/emails/01-invite.eml");
        assert_eq!(path_of(&key_of(plain)), plain);
        let tricky = Path::new("os-path:%41");
        assert_eq!(path_of(&key_of(tricky)), tricky);
    }

    #[cfg(unix)]
    #[test]
    fn a_file_name_that_is_not_utf8_is_read() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir
            .path()
            .join(std::ffi::OsStr::from_bytes(b"r\xe9union-\xff.eml"));
        std::fs::write(&path, b"Subject: x\r\n\r\nbody").expect("written");
        let key = key_of(&path);
        assert!(key.starts_with(OS_PATH_PREFIX), "{key}");
        assert_eq!(path_of(&key), path);
        assert_eq!(
            read_bounded(&path_of(&key), None).expect("read"),
            b"Subject: x\r\n\r\nbody"
        );
    }
}
