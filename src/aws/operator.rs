//! What an operator does to a deployed stack when something went wrong: run one stored email
//! through the real pipeline again, see what sits in a dead-letter queue, and move messages back
//! to the queue they came from. `invite-router reprocess` and `invite-router dlq` call these;
//! docs/OPERATIONS.md says when.
//!
//! Listing a queue with SQS means receiving from it: listed messages are hidden for
//! [`LIST_VISIBILITY_SECONDS`] while the listing runs and made visible again at its end, so a
//! listing changes nothing but each message's receive count.

use std::collections::HashMap;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::errors::classify;
use crate::intake;
use crate::ports::{MailSource, PortError};

/// How long a listing hides the messages it has seen, so that one pass sees each once.
pub const LIST_VISIBILITY_SECONDS: i32 = 60;

/// One message of a dead-letter queue, as `invite-router dlq list` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DlqEntry {
    pub message_id: String,
    /// The emails it names (an S3 event may name several); empty for a body that names none.
    pub s3_keys: Vec<String>,
    /// Why the body names no email, when it does not (a notifier message, a malformed body).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
    /// When the message was first sent (to the source queue; a DLQ keeps the original time).
    pub sent_at: Option<DateTime<Utc>>,
    /// When it was first received from the source queue.
    pub first_received_at: Option<DateTime<Utc>>,
    /// Receives so far; this listing's own receive is not counted.
    pub receive_count: u32,
}

/// Which messages to move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redrive {
    All,
    MessageId(String),
}

#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error(transparent)]
    Port(#[from] PortError),
    #[error("no message {0} in the dead-letter queue")]
    NotFound(String),
}

/// The email `bucket`/`key` names, as the pipeline reads it.
pub fn stored_email(bucket: &str, key: &str) -> MailSource {
    MailSource {
        bucket: Some(bucket.to_owned()),
        key: key.to_owned(),
    }
}

/// Every message in the queue at `queue_url`, oldest first (by first receive).
pub async fn dlq_list(client: &Client, queue_url: &str) -> Result<Vec<DlqEntry>, OperatorError> {
    let received = receive_all(client, queue_url).await?;
    let mut entries: Vec<DlqEntry> = received.iter().map(entry_of).collect();
    release(client, queue_url, &received).await?;
    entries.sort_by_key(|entry| (entry.first_received_at, entry.message_id.clone()));
    Ok(entries)
}

/// Moves `which` messages from `dlq_url` back to `source_url` (same body, same message
/// attributes), deleting each from the DLQ only once it was sent. Returns the moved message ids.
pub async fn dlq_redrive(
    client: &Client,
    dlq_url: &str,
    source_url: &str,
    which: &Redrive,
) -> Result<Vec<String>, OperatorError> {
    let received = receive_all(client, dlq_url).await?;
    let (chosen, others): (Vec<&Message>, Vec<&Message>) =
        received.iter().partition(|message| match which {
            Redrive::All => true,
            Redrive::MessageId(id) => message.message_id() == Some(id.as_str()),
        });
    let mut moved = Vec::new();
    let mut failure = None;
    for message in &chosen {
        match move_message(client, dlq_url, source_url, message).await {
            Ok(()) => moved.push(message.message_id().unwrap_or_default().to_owned()),
            Err(error) => {
                failure = Some(error);
                break;
            }
        }
    }
    // Whatever was not moved becomes visible again at once, not in a minute.
    let not_moved: Vec<Message> = others
        .into_iter()
        .chain(chosen.into_iter().filter(|message| {
            !moved
                .iter()
                .any(|id| Some(id.as_str()) == message.message_id())
        }))
        .cloned()
        .collect();
    release(client, dlq_url, &not_moved).await?;
    if let Some(error) = failure {
        return Err(error.into());
    }
    if let Redrive::MessageId(id) = which
        && moved.is_empty()
    {
        return Err(OperatorError::NotFound(id.clone()));
    }
    Ok(moved)
}

async fn move_message(
    client: &Client,
    dlq_url: &str,
    source_url: &str,
    message: &Message,
) -> Result<(), PortError> {
    let mut send = client
        .send_message()
        .queue_url(source_url)
        .message_body(message.body().unwrap_or_default());
    for (name, value) in message.message_attributes().into_iter().flatten() {
        send = send.message_attributes(name, value.clone());
    }
    send.send()
        .await
        .map_err(|error| classify("SQS SendMessage", &error, &[]))?;
    client
        .delete_message()
        .queue_url(dlq_url)
        .receipt_handle(message.receipt_handle().unwrap_or_default())
        .send()
        .await
        .map_err(|error| classify("SQS DeleteMessage", &error, &[]))?;
    Ok(())
}

/// Receives until the queue answers empty, each message hidden for the listing's duration.
async fn receive_all(client: &Client, queue_url: &str) -> Result<Vec<Message>, PortError> {
    let mut seen: HashMap<String, Message> = HashMap::new();
    loop {
        let output = client
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .visibility_timeout(LIST_VISIBILITY_SECONDS)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|error| classify("SQS ReceiveMessage", &error, &[]))?;
        let batch = output.messages.unwrap_or_default();
        if batch.is_empty() {
            break;
        }
        for message in batch {
            let id = message.message_id().unwrap_or_default().to_owned();
            seen.entry(id).or_insert(message);
        }
    }
    Ok(seen.into_values().collect())
}

/// Makes `messages` visible again now.
async fn release(client: &Client, queue_url: &str, messages: &[Message]) -> Result<(), PortError> {
    for message in messages {
        let Some(handle) = message.receipt_handle() else {
            continue;
        };
        client
            .change_message_visibility()
            .queue_url(queue_url)
            .receipt_handle(handle)
            .visibility_timeout(0)
            .send()
            .await
            .map_err(|error| classify("SQS ChangeMessageVisibility", &error, &[]))?;
    }
    Ok(())
}

fn entry_of(message: &Message) -> DlqEntry {
    let attribute = |name: MessageSystemAttributeName| {
        message
            .attributes()
            .and_then(|attributes| attributes.get(&name))
            .cloned()
    };
    let time = |name| {
        attribute(name)
            .and_then(|millis| millis.parse::<i64>().ok())
            .and_then(DateTime::from_timestamp_millis)
    };
    let (s3_keys, unreadable) = match intake::parse_record_body(message.body().unwrap_or_default())
    {
        Ok(sources) => (sources.into_iter().map(|source| source.key).collect(), None),
        Err(error) => (Vec::new(), Some(error.to_string())),
    };
    let receive_count = attribute(MessageSystemAttributeName::ApproximateReceiveCount)
        .and_then(|count| count.parse::<u32>().ok())
        .unwrap_or(0);
    DlqEntry {
        message_id: message.message_id().unwrap_or_default().to_owned(),
        s3_keys,
        unreadable,
        sent_at: time(MessageSystemAttributeName::SentTimestamp),
        first_received_at: time(MessageSystemAttributeName::ApproximateFirstReceiveTimestamp),
        // This listing received it once more.
        receive_count: receive_count.saturating_sub(1),
    }
}
