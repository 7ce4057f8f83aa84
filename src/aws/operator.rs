//! What an operator does to a deployed stack when something went wrong: run one stored email
//! through the real pipeline again, see what sits in a dead-letter queue, and move messages back
//! to the queue they came from. `invite-router reprocess` and `invite-router dlq` call these;
//! docs/OPERATIONS.md says when.
//!
//! Listing a queue with SQS means receiving from it. A listing first counts the queue
//! (`ApproximateNumberOfMessages`), then receives until it has seen that many messages or the
//! queue answers empty, each received message hidden long enough for the whole pass (scaled to
//! the count, [`listing_visibility_seconds`]), keeping each message's latest receipt handle; at
//! its end everything not moved is made visible again in batches of ten. So a listing of 10,000
//! messages finishes, sees each once, and changes nothing but each message's receive count.
//!
//! A redrive goes only to a queue that names the DLQ in its redrive policy
//! (`ListDeadLetterSourceQueues`): the DLQ's only source by default, the one given when it is
//! one of them, and nowhere else (the notifier's replies redriven to the intake queue would be
//! dropped there as unreadable).

use std::collections::HashMap;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, Message,
    MessageSystemAttributeName, QueueAttributeName, SendMessageBatchRequestEntry,
};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::errors::classify;
use crate::intake;
use crate::ports::{MailSource, PortError};

/// The least time a listing hides the messages it has seen, so that one pass sees each once.
pub const LIST_VISIBILITY_SECONDS: i32 = 60;

/// SQS's longest visibility timeout (12 hours).
const MAX_VISIBILITY_SECONDS: i32 = 43_200;

/// How long a listing of `count` messages hides what it received: a minute, plus a second for
/// every ten messages (one receive call each, with room for a slow network), at most 12 hours.
pub fn listing_visibility_seconds(count: usize) -> i32 {
    let per_call = i32::try_from(count / 10).unwrap_or(i32::MAX);
    LIST_VISIBILITY_SECONDS
        .saturating_add(per_call)
        .min(MAX_VISIBILITY_SECONDS)
}

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
    /// The destination is not a queue whose redrive policy names this DLQ.
    #[error(
        "{to} is not a source queue of the dead-letter queue {dlq} (its sources: {sources}); nothing was moved"
    )]
    NotASource {
        dlq: String,
        to: String,
        sources: String,
    },
    #[error(
        "the dead-letter queue {dlq} has {count} source queues ({sources}): name one with --to-queue-url"
    )]
    AmbiguousSource {
        dlq: String,
        count: usize,
        sources: String,
    },
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

/// The queue to redrive `dlq_url` to: `wanted` when it is one of the queues whose redrive
/// policy names the DLQ, else the DLQ's only source; any other answer is an error.
pub async fn redrive_destination(
    client: &Client,
    dlq_url: &str,
    wanted: Option<&str>,
) -> Result<String, OperatorError> {
    let mut sources = Vec::new();
    let mut pages = client
        .list_dead_letter_source_queues()
        .queue_url(dlq_url)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| classify("SQS ListDeadLetterSourceQueues", &error, &[]))?;
        sources.extend(page.queue_urls);
    }
    let listed = if sources.is_empty() {
        "none".to_owned()
    } else {
        sources.join(", ")
    };
    match wanted {
        Some(wanted) if sources.iter().any(|source| same_queue(source, wanted)) => {
            Ok(wanted.to_owned())
        }
        Some(wanted) => Err(OperatorError::NotASource {
            dlq: dlq_url.to_owned(),
            to: wanted.to_owned(),
            sources: listed,
        }),
        None if sources.len() == 1 => Ok(sources.remove(0)),
        None => Err(OperatorError::AmbiguousSource {
            dlq: dlq_url.to_owned(),
            count: sources.len(),
            sources: listed,
        }),
    }
}

/// Queue URLs name the same queue when their account and name agree (the host may be written
/// `sqs.<region>.amazonaws.com`, the legacy `<region>.queue.amazonaws.com`, or an emulator's).
fn same_queue(a: &str, b: &str) -> bool {
    let tail = |url: &str| {
        let mut parts = url.trim_end_matches('/').rsplit('/');
        let name = parts.next().unwrap_or_default().to_owned();
        let account = parts.next().unwrap_or_default().to_owned();
        (account, name)
    };
    tail(a) == tail(b)
}

/// Moves `which` messages from `dlq_url` back to `source_url` (same body, same message
/// attributes), deleting each from the DLQ only once it was sent. Returns the moved message ids.
/// `source_url` must come from [`redrive_destination`].
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
    for batch in chosen.chunks(10) {
        match move_batch(client, dlq_url, source_url, batch).await {
            Ok(ids) => moved.extend(ids),
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

/// Sends up to ten messages to `source_url` in one call and deletes from the DLQ, in one call,
/// exactly those SQS accepted. Returns their ids; a message SQS refused stays in the DLQ.
async fn move_batch(
    client: &Client,
    dlq_url: &str,
    source_url: &str,
    batch: &[&Message],
) -> Result<Vec<String>, PortError> {
    let entries = batch
        .iter()
        .enumerate()
        .map(|(index, message)| {
            SendMessageBatchRequestEntry::builder()
                .id(index.to_string())
                .message_body(message.body().unwrap_or_default())
                .set_message_attributes(message.message_attributes().cloned())
                .build()
                .map_err(|error| PortError::permanent("SQS SendMessageBatch", error.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let sent = client
        .send_message_batch()
        .queue_url(source_url)
        .set_entries(Some(entries))
        .send()
        .await
        .map_err(|error| classify("SQS SendMessageBatch", &error, &[]))?;
    let accepted: Vec<&Message> = sent
        .successful()
        .iter()
        .filter_map(|entry| entry.id().parse::<usize>().ok())
        .filter_map(|index| batch.get(index).copied())
        .collect();
    if accepted.is_empty() {
        return match sent.failed().first() {
            Some(failed) => Err(PortError::transient(
                "SQS SendMessageBatch",
                failed.message().unwrap_or_default().to_owned(),
            )),
            None => Ok(Vec::new()),
        };
    }
    let deletes = accepted
        .iter()
        .enumerate()
        .map(|(index, message)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(index.to_string())
                .receipt_handle(message.receipt_handle().unwrap_or_default())
                .build()
                .map_err(|error| PortError::permanent("SQS DeleteMessageBatch", error.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    client
        .delete_message_batch()
        .queue_url(dlq_url)
        .set_entries(Some(deletes))
        .send()
        .await
        .map_err(|error| classify("SQS DeleteMessageBatch", &error, &[]))?;
    Ok(accepted
        .iter()
        .map(|message| message.message_id().unwrap_or_default().to_owned())
        .collect())
}

/// Receives until it has seen as many messages as the queue held when it started, or the queue
/// answers empty; each message hidden for the whole pass, with its latest receipt handle kept.
/// At most three receive calls per ten messages counted (plus ten): it always ends.
async fn receive_all(client: &Client, queue_url: &str) -> Result<Vec<Message>, PortError> {
    let counted = client
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .map_err(|error| classify("SQS GetQueueAttributes", &error, &[]))?
        .attributes()
        .and_then(|attributes| attributes.get(&QueueAttributeName::ApproximateNumberOfMessages))
        .and_then(|count| count.parse::<usize>().ok())
        .unwrap_or(0);
    let visibility = listing_visibility_seconds(counted);
    let mut seen: HashMap<String, Message> = HashMap::with_capacity(counted);
    let mut calls_left = counted / 10 * 3 + 10;
    while calls_left > 0 && (seen.len() < counted || counted == 0) {
        calls_left -= 1;
        let output = client
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .visibility_timeout(visibility)
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
            // A message received again carries a new receipt handle; only the latest works.
            let id = message.message_id().unwrap_or_default().to_owned();
            seen.insert(id, message);
        }
    }
    Ok(seen.into_values().collect())
}

/// Makes `messages` visible again now, ten per call.
async fn release(client: &Client, queue_url: &str, messages: &[Message]) -> Result<(), PortError> {
    let handles: Vec<&str> = messages
        .iter()
        .filter_map(|message| message.receipt_handle())
        .collect();
    for batch in handles.chunks(10) {
        let entries = batch
            .iter()
            .enumerate()
            .map(|(index, handle)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(index.to_string())
                    .receipt_handle(*handle)
                    .visibility_timeout(0)
                    .build()
                    .map_err(|error| {
                        PortError::permanent("SQS ChangeMessageVisibilityBatch", error.to_string())
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        client
            .change_message_visibility_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|error| classify("SQS ChangeMessageVisibilityBatch", &error, &[]))?;
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
