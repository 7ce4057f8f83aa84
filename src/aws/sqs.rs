use aws_sdk_sqs::Client;

use super::errors::{classify, permanent};
use crate::ports::{PortError, Queue};

/// Deletes processed messages from the intake queue.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    queue_url: String,
}

impl SqsQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> SqsQueue {
        SqsQueue {
            client,
            queue_url: queue_url.into(),
        }
    }
}

impl Queue for SqsQueue {
    async fn delete(&self, receipt_handle: &str) -> Result<(), PortError> {
        self.client
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map_err(|error| {
                classify("SQS DeleteMessage", &error, permanent::SQS_DELETE_MESSAGE)
            })?;
        Ok(())
    }
}
