//! One SQS batch: every record through the service concurrently, each in its own span, each
//! deleted once handled, failures filed by their kind. The Lambda handler calls this.

use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use tracing::{Instrument, field};

use super::{OutboxClears, Outcome, Service};
use crate::core::itip::answer::NoReply;
use crate::core::model::Reason;
use crate::intake;
use crate::ports::{Classified, ErrorKind, Ledger, MailStore, Publisher, Queue};

/// One SQS record as the batch processor needs it (decoupled from the Lambda event types so the
/// batch logic is tested without the `aws` feature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRecord {
    pub message_id: String,
    pub receipt_handle: Option<String>,
    pub body: String,
}

/// What happened to one SQS record.
#[derive(Debug)]
pub struct RecordReport {
    pub message_id: String,
    pub outcomes: Vec<Outcome>,
    /// Intake or processing failed for good: logged, and the message deleted.
    pub permanent_failure: Option<String>,
    /// Processing failed transiently: the message stays in the queue for a retry.
    pub transient_failure: Option<String>,
    /// The message was deleted through the Queue port.
    pub deleted: bool,
    /// From the record's start to its delete (or to the failure that keeps it for a retry).
    pub elapsed: Duration,
}

impl RecordReport {
    pub fn must_retry(&self) -> bool {
        self.transient_failure.is_some()
    }

    /// Logs a failure and files it by its kind: intake, port and service errors alike.
    fn note_failure<E: Classified + std::fmt::Display>(&mut self, error: &E) {
        match error.kind() {
            ErrorKind::Transient => {
                tracing::warn!(error = %error, "transient failure: left for retry");
                self.transient_failure = Some(error.to_string());
            }
            ErrorKind::Permanent => {
                tracing::error!(error = %error, "permanent failure: dropped");
                self.permanent_failure = Some(error.to_string());
            }
        }
    }
}

impl<M: MailStore, L: Ledger, P: Publisher> Service<M, L, P> {
    /// Processes the records of one SQS batch concurrently (at most `concurrency` at once), each
    /// in its own span, and deletes every handled one through `queue`. Reports come back in the
    /// batch's order.
    pub async fn process_batch<Q: Queue>(
        &self,
        queue: &Q,
        records: &[BatchRecord],
        concurrency: usize,
    ) -> Vec<RecordReport> {
        stream::iter(records)
            .map(|record| {
                let span = tracing::info_span!(
                    "record",
                    message_id = %record.message_id,
                    s3_key = field::Empty,
                    uid = field::Empty,
                    method = field::Empty,
                    route = field::Empty,
                );
                self.process_record(queue, record).instrument(span)
            })
            .buffered(concurrency.max(1))
            .collect()
            .await
    }

    async fn process_record<Q: Queue>(&self, queue: &Q, record: &BatchRecord) -> RecordReport {
        let started = Instant::now();
        let mut report = self.process_record_untimed(queue, record).await;
        report.elapsed = started.elapsed();
        report
    }

    async fn process_record_untimed<Q: Queue>(
        &self,
        queue: &Q,
        record: &BatchRecord,
    ) -> RecordReport {
        let mut report = RecordReport {
            message_id: record.message_id.clone(),
            outcomes: Vec::new(),
            permanent_failure: None,
            transient_failure: None,
            deleted: false,
            elapsed: Duration::ZERO,
        };
        let mut clears = OutboxClears::default();
        match intake::parse_record_body(&record.body) {
            Ok(sources) => {
                if sources.is_empty() {
                    tracing::info!("no object named (s3:TestEvent or empty): acknowledged");
                }
                for source in &sources {
                    tracing::Span::current().record("s3_key", source.key.as_str());
                    let processed = self.process_email(source).await;
                    clears.extend(processed.clears);
                    match processed.outcome {
                        Ok(outcome) => {
                            tracing::info!(
                                route = %outcome.route,
                                reason = outcome.reason.map(Reason::code),
                                notify_sender = outcome.notify_sender(),
                                no_reply_because = outcome.no_reply_because().map(NoReply::code),
                                published = outcome.published.len(),
                                email_message_id = outcome.email_message_id.as_deref(),
                                "processed"
                            );
                            report.outcomes.push(outcome);
                        }
                        Err(error) => report.note_failure(&error),
                    }
                }
            }
            Err(error) => report.note_failure(&error),
        }
        // The clears and the delete wait only on the publishes, not on each other.
        let delete = async {
            if report.must_retry() {
                return false;
            }
            match record.receipt_handle.as_deref() {
                Some(handle) => match queue.delete(handle).await {
                    Ok(()) => true,
                    // Not a failure of the record: Lambda deletes every record not reported in
                    // batchItemFailures anyway; the explicit delete only narrows the redelivery
                    // window.
                    Err(error) => {
                        tracing::warn!(error = %error, "could not delete the message");
                        false
                    }
                },
                None => {
                    tracing::warn!("no receipt handle: cannot delete the message");
                    false
                }
            }
        };
        let (cleared, deleted) = futures::join!(self.clear_published(clears), delete);
        report.deleted = deleted;
        if let Err(error) = cleared {
            // Not a failure of the record either: its messages are published. The entry left in
            // the ledger is published again, with the same dedupe id, before the event's next
            // email is judged (or by this record's retry, if it is not deleted).
            tracing::warn!(
                error = %error,
                "published, but could not clear the outbox entry: it will be re-delivered"
            );
        }
        report
    }
}
