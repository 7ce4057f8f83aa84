//! Orchestration of replies, and nothing else: a `rejected` message in, at most one reply mail
//! out. Render (`core::reply`), claim its dedupe id under the recipient's rate limit (`ReplyLog`),
//! send (`Mailer`), settle the claim. The same code runs in the notifier Lambda (SES v2, DynamoDB)
//! and behind `invite-router process` (files in `STATE/replies/`, SQLite).
//!
//! Whether a sender may be answered at all was decided before the `rejected` message was
//! published (`core::itip::answer`); the notifier only adds idempotency and the rate limit.

use std::sync::Arc;

use chrono::Utc;
use futures::stream::{self, StreamExt};
use serde_json::Value;
use tracing::{Instrument, field};

use crate::core::model::{ConfirmationMessage, RejectedMessage};
use crate::core::reply::{ReplyError, Stationery, render_confirmation, render_reply};
use crate::ports::{
    CLAIM_TIMEOUT_SECONDS, Claim, ClaimTerms, Classified, ErrorKind, Mailer, PortError, ReplyLog,
};
use crate::service::BatchRecord;

/// `REPLY_RATE_LIMIT`'s default: replies per recipient per 24 hours.
pub const DEFAULT_REPLY_RATE_LIMIT: u32 = 10;

/// What handling one `rejected` message did.
#[derive(Debug, Clone, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum Notified {
    Sent {
        to: String,
        message_id: String,
    },
    /// A reply with this dedupe id was already sent (a redelivery, or the same refusal twice).
    AlreadySent,
    /// The recipient had their share of replies in the last 24 hours.
    RateLimited,
    /// The mail service refused the reply for good (a suppressed recipient, a rejected message).
    Undeliverable(String),
}

impl Notified {
    pub fn code(&self) -> &'static str {
        self.into()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// Not a `rejected` message: it will never be one.
    #[error("not a rejected message: {0}")]
    BadMessage(String),
    #[error(transparent)]
    Render(#[from] ReplyError),
    /// The operating system gave no random bytes for the MIME boundary; a retry may get them.
    #[error("no random bytes for the reply's MIME boundary: {0}")]
    Entropy(String),
    #[error(transparent)]
    Port(#[from] PortError),
}

impl Classified for NotifyError {
    fn kind(&self) -> ErrorKind {
        match self {
            NotifyError::BadMessage(_) | NotifyError::Render(_) => ErrorKind::Permanent,
            NotifyError::Port(error) => error.kind(),
            NotifyError::Entropy(_) => ErrorKind::Transient,
        }
    }
}

use crate::ports::Clock;

/// A fresh random MIME boundary seed per reply, from the operating system's generator: nothing
/// the sender wrote can predict it.
fn boundary_seed() -> Result<u128, NotifyError> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).map_err(|error| NotifyError::Entropy(error.to_string()))?;
    Ok(u128::from_le_bytes(bytes))
}

pub struct Notifier<M, R> {
    mailer: M,
    log: R,
    reply_from: String,
    terms: ClaimTerms,
    clock: Clock,
}

impl<M: Mailer, R: ReplyLog> Notifier<M, R> {
    pub fn new(mailer: M, log: R, reply_from: impl Into<String>, rate_limit: u32) -> Self {
        Notifier {
            mailer,
            log,
            reply_from: reply_from.into(),
            terms: ClaimTerms {
                rate_limit,
                claim_seconds: CLAIM_TIMEOUT_SECONDS,
            },
            clock: Arc::new(Utc::now),
        }
    }

    /// How long an unsettled claim is another worker's (`REPLY_CLAIM_SECONDS`).
    pub fn with_claim_seconds(mut self, claim_seconds: i64) -> Self {
        self.terms.claim_seconds = claim_seconds;
        self
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Handles one message body: the `rejected` JSON itself (raw delivery) or an SNS notification
    /// carrying it. `Ok` means handled for good; `Err` says whether a retry can help.
    pub async fn notify(&self, body: &str) -> Result<Notified, NotifyError> {
        let now = (self.clock)();
        let stationery = Stationery {
            reply_from: &self.reply_from,
            now,
            boundary_seed: boundary_seed()?,
        };
        let reply = match parse_notice(body)? {
            Notice::Refusal(rejected) => render_reply(&rejected, stationery)?,
            Notice::Confirmation(confirmed) => render_confirmation(&confirmed, stationery)?,
        };
        match self
            .log
            .claim(&reply.dedupe_id, &reply.to, now, self.terms)
            .await?
        {
            Claim::Claimed => {}
            Claim::AlreadyHandled => return Ok(Notified::AlreadySent),
            // Never "handled": the worker holding the claim may have died before sending. The
            // retry after the claim's lifetime takes it over and sends (at least once: a worker
            // that died between SES's answer and the settle makes the retry send a second copy,
            // which we prefer to a sender never told).
            Claim::InFlight => {
                return Err(NotifyError::Port(PortError::transient(
                    "reply claim",
                    "another worker holds this reply's claim and has not settled; retried after it expires",
                )));
            }
            Claim::RateLimited => return Ok(Notified::RateLimited),
        }
        match self.mailer.send(&reply).await {
            Ok(()) => {
                self.log.settle(&reply.dedupe_id, true).await?;
                Ok(Notified::Sent {
                    to: reply.to,
                    message_id: reply.message_id,
                })
            }
            Err(error) if error.is_transient() => {
                // Let the retry send it; if even the release fails, the claim times out.
                if let Err(release) = self.log.settle(&reply.dedupe_id, false).await {
                    tracing::warn!(error = %release, "could not release the reply claim");
                }
                Err(error.into())
            }
            Err(error) => {
                // Refused for good: remember it as handled, so no retry knocks again.
                self.log.settle(&reply.dedupe_id, true).await?;
                Ok(Notified::Undeliverable(error.to_string()))
            }
        }
    }

    /// The records of one SQS batch, concurrently (at most `concurrency` at once), each in its own
    /// span. One report per record, in the batch's order.
    pub async fn notify_batch(
        &self,
        records: &[BatchRecord],
        concurrency: usize,
    ) -> Vec<ReplyReport> {
        stream::iter(records)
            .map(|record| {
                let span = tracing::info_span!(
                    "reply",
                    message_id = %record.message_id,
                    dedupe_id = field::Empty,
                    outcome = field::Empty,
                );
                async move {
                    let mut report = ReplyReport {
                        message_id: record.message_id.clone(),
                        notified: None,
                        failure: None,
                    };
                    match self.notify(&record.body).await {
                        Ok(notified) => {
                            tracing::Span::current().record("outcome", notified.code());
                            match &notified {
                                Notified::Undeliverable(why) => {
                                    tracing::error!(why = %why, "reply refused for good: dropped");
                                }
                                _ => tracing::info!(outcome = notified.code(), "handled"),
                            }
                            report.notified = Some(notified);
                        }
                        Err(error) if error.is_transient() => {
                            tracing::warn!(error = %error, "transient failure: left for retry");
                            report.failure = Some(ErrorKind::Transient);
                        }
                        Err(error) => {
                            tracing::error!(error = %error, "permanent failure: dropped");
                            report.failure = Some(ErrorKind::Permanent);
                        }
                    }
                    report
                }
                .instrument(span)
            })
            .buffered(concurrency.max(1))
            .collect()
            .await
    }
}

/// What happened to one record of a notifier batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyReport {
    pub message_id: String,
    /// What handling it did, when it was handled.
    pub notified: Option<Notified>,
    /// Why it was not: a transient failure leaves it for a retry, a permanent one drops it.
    pub failure: Option<ErrorKind>,
}

impl ReplyReport {
    pub fn must_retry(&self) -> bool {
        self.failure == Some(ErrorKind::Transient)
    }
}

/// What a message of the `rejected` topic asks for.
enum Notice {
    Refusal(RejectedMessage),
    Confirmation(ConfirmationMessage),
}

/// The notice in a queue body: raw delivery, or wrapped in an SNS notification.
fn parse_notice(body: &str) -> Result<Notice, NotifyError> {
    let value: Value =
        serde_json::from_str(body).map_err(|error| NotifyError::BadMessage(error.to_string()))?;
    let value = match (value.get("Type"), value.get("Message")) {
        (Some(Value::String(kind)), Some(Value::String(message))) if kind == "Notification" => {
            serde_json::from_str(message)
                .map_err(|error| NotifyError::BadMessage(format!("SNS Message: {error}")))?
        }
        _ => value,
    };
    let bad = |error: serde_json::Error| NotifyError::BadMessage(error.to_string());
    let notice = match value.get("kind").and_then(Value::as_str) {
        Some("confirmation") => Notice::Confirmation(serde_json::from_value(value).map_err(bad)?),
        _ => Notice::Refusal(serde_json::from_value(value).map_err(bad)?),
    };
    let (sender, dedupe_id) = match &notice {
        Notice::Refusal(message) => (&message.sender, &message.dedupe_id),
        Notice::Confirmation(message) => (&message.sender, &message.dedupe_id),
    };
    if sender.is_empty() || dedupe_id.is_empty() {
        return Err(NotifyError::BadMessage("no sender or dedupe id".into()));
    }
    Ok(notice)
}
