use aws_sdk_s3::Client;

use super::errors::{classify, permanent};
use crate::ports::{MailSource, MailStore, PortError};

/// Fetches raw emails with GetObject.
#[derive(Debug, Clone)]
pub struct S3MailStore {
    client: Client,
    /// Read at most this many bytes plus one, so that an email over the limit is seen as
    /// `too_large` without being held in memory whole.
    max_bytes: Option<usize>,
}

impl S3MailStore {
    pub fn new(client: Client, max_bytes: Option<usize>) -> S3MailStore {
        S3MailStore { client, max_bytes }
    }
}

impl MailStore for S3MailStore {
    async fn fetch(&self, source: &MailSource) -> Result<Vec<u8>, PortError> {
        const OPERATION: &str = "S3 GetObject";
        let Some(bucket) = source.bucket.as_deref() else {
            return Err(PortError::permanent(
                OPERATION,
                "the source names no bucket",
            ));
        };
        let output = self
            .client
            .get_object()
            .bucket(bucket)
            .key(&source.key)
            .send()
            .await
            .map_err(|error| classify(OPERATION, &error, permanent::S3_GET_OBJECT))?;
        let limit = self.max_bytes.map(|max| max.saturating_add(1));
        let capacity = output
            .content_length()
            .and_then(|length| usize::try_from(length).ok())
            .map(|length| limit.map_or(length, |limit| length.min(limit)))
            .unwrap_or(0);
        let mut raw = Vec::with_capacity(capacity);
        let mut body = output.body;
        while let Some(chunk) = body.try_next().await.map_err(|error| {
            PortError::transient(OPERATION, format!("reading the body: {error}"))
        })? {
            raw.extend_from_slice(&chunk);
            if let Some(limit) = limit
                && raw.len() >= limit
            {
                // Enough to know it is too large; dropping the stream closes the connection.
                raw.truncate(limit);
                break;
            }
        }
        Ok(raw)
    }
}
