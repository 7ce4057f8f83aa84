//! Orchestration only. One email takes four steps, each a function that returns a value
//! (docs/DESIGN.md, "The flow of one email"): analyzed (fetch, `core::analyze`), judged (read the
//! ledger, deliver what an earlier attempt left, `itip::rules::decide`), committed (one
//! conditional transaction with the outbox) and delivered (publish, then clear). The `Outcome`
//! is built once, at the end. Every rule lives in `core`; every side effect goes through a port.
//!
//! "Never lose, never publish stale" comes from a transactional outbox. A transition and the
//! message it publishes are committed together, conditionally on the ledger revision that was read;
//! the message is published only after the commit and then cleared from the record. If anything
//! dies after the commit, whoever next reads that record (the retry of the same SQS message, or a
//! later message for the same event) publishes the entry again, with the same `dedupe_id`, before
//! deciding anything. A message older than the record is never committed, so it is never published.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;

use crate::core::analysis::Analysis;
use crate::core::itip::answer::{NoReply, Told};
use crate::core::itip::check::CheckedMessage;
use crate::core::itip::rules::decide;
use crate::core::model::{Decision, EventComponent, EventKey, Reason, RecordState, Route, Topic};
use crate::core::{self, Limits, SenderPolicy};
use crate::ports::{
    Classified, CommitOutcome, ErrorKind, Ledger, MailSource, MailStore, OutboxEntry, PortError,
    Publisher, StoredRecord,
};

mod batch;
mod deliver;
mod notices;
mod writes;

pub use batch::{BatchRecord, RecordReport};
use deliver::{Delivery, OutboxClears};
use notices::Notice;

/// How many records of a batch are processed at once: SQS's default batch size, so that a batch
/// costs its slowest record (with 8 a batch of 10 took two rounds: benches/batch.rs); a bound
/// keeps a larger batch from opening unbounded connections to the ledger.
pub const DEFAULT_BATCH_CONCURRENCY: usize = 10;

/// Turns raw email bytes into an analysis. `core::analyze` in production; tests inject
/// hand-built analyses to exercise the orchestration on its own.
pub type Analyzer = Arc<dyn Fn(&[u8]) -> Analysis + Send + Sync>;

use crate::ports::Clock;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A port failed; the port says whether it is transient.
    #[error(transparent)]
    Port(#[from] PortError),
    /// Another worker committed to one of the records since they were read. Transient: the retry
    /// re-judges the message against the winner's state.
    #[error("another worker changed the ledger record of {key} since it was read")]
    Conflict { key: String },
    /// The analysis or the decision broke an invariant of the core (a bug). Transient on purpose:
    /// the message is retried and ends in the DLQ instead of being deleted and lost.
    #[error("internal inconsistency: {0}")]
    Internal(String),
}

impl Classified for ServiceError {
    fn kind(&self) -> ErrorKind {
        match self {
            ServiceError::Port(error) => error.kind(),
            ServiceError::Conflict { .. } | ServiceError::Internal(_) => ErrorKind::Transient,
        }
    }
}

/// One message published during processing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub topic: Topic,
    pub dedupe_id: String,
}

/// What processing one email did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub source: MailSource,
    pub route: Route,
    pub reason: Option<Reason>,
    pub uid: Option<String>,
    pub recurrence_id: Option<String>,
    pub sequence: Option<u32>,
    /// Whether the sender hears from us (`notify_sender`, `no_reply_because`).
    pub told: Told,
    pub method: Option<String>,
    /// Everything published while processing this email, including outbox entries of earlier
    /// attempts that this attempt delivered.
    pub published: Vec<Published>,
    /// Outbox entries the publisher refused for good, set aside in the ledger (their dedupe ids).
    pub set_aside: Vec<String>,
    /// The size of the email as read (the store reads at most the size limit plus one byte).
    pub email_bytes: usize,
    /// The email's Message-ID header: how a sender or an operator names an email.
    pub email_message_id: Option<String>,
}

impl Outcome {
    /// A `rejected` (or confirmation) message was published for the sender.
    pub fn notify_sender(&self) -> bool {
        self.told.notify_sender()
    }

    /// Why the sender of a refused email was not answered (None when it was, or when nothing
    /// was refused).
    pub fn no_reply_because(&self) -> Option<NoReply> {
        self.told.no_reply_because()
    }
}

/// Step one's value: the analysis of the email, and its size as read.
struct Analyzed {
    analysis: Analysis,
    email_bytes: usize,
}

/// Step two's value: the records read, what an earlier attempt left and this one delivered, and
/// the rules' decision.
struct Judged {
    keys: Vec<EventKey>,
    records: BTreeMap<EventKey, StoredRecord>,
    leftovers: Delivery,
    /// Routes of leftovers that this very email committed (an attempt that died before
    /// publishing): the ledger now calls the email a duplicate of itself.
    recovered_routes: Vec<Route>,
    decision: Decision,
}

/// What the outcome reports beside what was delivered.
struct Verdict<'a> {
    route: Route,
    reason: Option<Reason>,
    /// The component the route came from; the message's primary one when `None`.
    component: Option<&'a EventComponent>,
    notice: Notice,
}

/// A step failed: why, and what had been delivered before (it still has to be cleared).
struct Interrupted {
    error: ServiceError,
    delivery: Delivery,
}

impl<E: Into<ServiceError>> From<E> for Interrupted {
    fn from(error: E) -> Interrupted {
        Interrupted {
            error: error.into(),
            delivery: Delivery::default(),
        }
    }
}

/// One email's outcome, and the published entries that still wait to be cleared.
struct Processed {
    outcome: Result<Outcome, ServiceError>,
    clears: OutboxClears,
}

pub struct Service<M, L, P> {
    store: M,
    ledger: L,
    publisher: P,
    analyzer: Analyzer,
    /// Who is answered (`itip::answer`); the analyzer has its own copy for the checks.
    policy: SenderPolicy,
    confirm_success: bool,
    clock: Clock,
}

impl<M: MailStore, L: Ledger, P: Publisher> Service<M, L, P> {
    pub fn new(
        store: M,
        ledger: L,
        publisher: P,
        limits: Limits,
        policy: SenderPolicy,
    ) -> Service<M, L, P> {
        Service {
            store,
            ledger,
            publisher,
            policy: policy.clone(),
            confirm_success: false,
            analyzer: Arc::new(move |raw| core::analyze(raw, &limits, &policy)),
            clock: Arc::new(Utc::now),
        }
    }

    /// `NOTIFY_ON_SUCCESS`: also confirm accepted invitations to their sender.
    pub fn with_confirmations(mut self, confirm: bool) -> Self {
        self.confirm_success = confirm;
        self
    }

    pub fn with_analyzer(mut self, analyzer: Analyzer) -> Self {
        self.analyzer = analyzer;
        self
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn ledger(&self) -> &L {
        &self.ledger
    }

    /// Processes one email end to end. `Ok` means handled (published, refused or a no-op);
    /// `Err` says whether a retry can help.
    pub async fn process_source(&self, source: &MailSource) -> Result<Outcome, ServiceError> {
        let processed = self.process_email(source).await;
        // What was published is cleared even when a later step failed: the retry then finds
        // nothing of it left to re-deliver.
        let cleared = self.clear_published(processed.clears).await;
        let outcome = processed.outcome?;
        cleared?;
        Ok(outcome)
    }

    /// One email up to the publishes; the entries they delivered are returned for the caller to
    /// clear alongside whatever else waits only on the publish (the batch's SQS delete).
    async fn process_email(&self, source: &MailSource) -> Processed {
        match self.email_steps(source).await {
            Ok((outcome, clears)) => Processed {
                outcome: Ok(outcome),
                clears,
            },
            Err(Interrupted { error, delivery }) => Processed {
                outcome: Err(error),
                clears: delivery.clears,
            },
        }
    }

    /// analyzed -> judged -> committed -> delivered.
    async fn email_steps(
        &self,
        source: &MailSource,
    ) -> Result<(Outcome, OutboxClears), Interrupted> {
        let analyzed = self.analyzed(source).await?;
        record_identity_in_span(&analyzed.analysis);
        let analysis = &analyzed.analysis;
        let checked = match &analysis.verdict {
            Ok(checked) => checked,
            Err(refused) => {
                let notice = self.tell_refusal(analysis, refused.reason, source).await?;
                let verdict = Verdict::refused(refused.reason, notice);
                return Ok(outcome(source, &analyzed, verdict, Delivery::default()));
            }
        };
        let judged = self.judged(checked, source).await?;
        let component = route_component(checked, &judged.decision);
        if let Some(reason) = judged.decision.refusal() {
            let notice = match self.tell_refusal(analysis, reason, source).await {
                Ok(notice) => notice,
                Err(error) => return Err(interrupted(error, judged.leftovers)),
            };
            let verdict = Verdict {
                component,
                ..Verdict::refused(reason, notice)
            };
            return Ok(outcome(source, &analyzed, verdict, judged.leftovers));
        }
        let committed = match self.committed(analysis, checked, &judged, source).await {
            Ok(committed) => committed,
            Err(error) => return Err(interrupted(error, judged.leftovers)),
        };
        let mut delivery = judged.leftovers.then(self.deliver_all(&committed).await);
        if let Some(error) = delivery.failure.take() {
            return Err(interrupted(error, delivery));
        }
        let (route, reason) = match judged.recovered_routes.first() {
            // This very email was committed by an earlier attempt that died before publishing:
            // what it did was the recovered route.
            Some(route) if judged.decision.route == Route::Duplicate => (*route, None),
            _ => (judged.decision.route, judged.decision.reason),
        };
        let notice = match self.confirm(analysis, checked, route, source).await {
            Ok(notice) => notice,
            Err(error) => return Err(interrupted(error, delivery)),
        };
        let verdict = Verdict {
            route,
            reason,
            component,
            notice,
        };
        Ok(outcome(source, &analyzed, verdict, delivery))
    }

    /// Step one: the raw email fetched and analyzed by the core.
    async fn analyzed(&self, source: &MailSource) -> Result<Analyzed, ServiceError> {
        let raw = self.store.fetch(source).await?;
        let analysis = (self.analyzer)(&raw);
        // The analysis owns what it needs; the raw email (up to the size limit) can go now.
        Ok(Analyzed {
            analysis,
            email_bytes: raw.len(),
        })
    }

    /// Step two: the records the decision may consult, read consistently; any outbox entry an
    /// earlier attempt committed but did not publish delivered before anything newer can be
    /// published for the same event; then the rules' decision against the records as read.
    async fn judged(
        &self,
        checked: &CheckedMessage,
        source: &MailSource,
    ) -> Result<Judged, Interrupted> {
        let keys = checked.ledger_keys();
        let read = self.ledger.read(&keys).await?;
        if read.len() != keys.len() {
            return Err(ServiceError::Internal(format!(
                "the ledger answered {} records for {} keys",
                read.len(),
                keys.len()
            ))
            .into());
        }
        let mut records: BTreeMap<EventKey, StoredRecord> = keys
            .iter()
            .cloned()
            .zip(read)
            .filter_map(|(key, record)| record.map(|record| (key, record)))
            .collect();
        let mut leftovers = Vec::new();
        let mut recovered_routes = Vec::new();
        for record in records.values_mut() {
            let Some(entry) = record.outbox.take() else {
                continue;
            };
            if record.last_source_key.as_deref() == Some(source.key.as_str()) {
                recovered_routes.extend(route_attribute(&entry));
            }
            leftovers.push((record.key.clone(), entry));
        }
        let mut delivered = self.deliver_all(&leftovers).await;
        if let Some(error) = delivered.failure.take() {
            return Err(interrupted(error, delivered));
        }
        let states: BTreeMap<EventKey, RecordState> = records
            .iter()
            .map(|(key, record)| (key.clone(), record.state.clone()))
            .collect();
        Ok(Judged {
            decision: decide(checked, &states),
            keys,
            records,
            leftovers: delivered,
            recovered_routes,
        })
    }

    /// Step three: the decision's writes in one conditional commit. Returns the entries the
    /// commit put in the outbox, for the last step to deliver.
    async fn committed(
        &self,
        analysis: &Analysis,
        checked: &CheckedMessage,
        judged: &Judged,
        source: &MailSource,
    ) -> Result<Vec<(EventKey, OutboxEntry)>, ServiceError> {
        let writes = self.ledger_writes(analysis, checked, judged, source)?;
        if !writes.is_empty() {
            let unchanged = writes::judged_but_not_written(&judged.keys, &judged.records, &writes);
            if self.ledger.commit(&writes, &unchanged).await? == CommitOutcome::Conflict {
                let key = writes
                    .iter()
                    .map(|write| write.record.key.to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(ServiceError::Conflict { key });
            }
        }
        Ok(writes
            .into_iter()
            .filter_map(|write| Some((write.record.key, write.record.outbox?)))
            .collect())
    }
}

impl Verdict<'_> {
    fn refused(reason: Reason, notice: Notice) -> Self {
        Verdict {
            route: Route::Invalid,
            reason: Some(reason),
            component: None,
            notice,
        }
    }
}

fn interrupted(error: ServiceError, delivery: Delivery) -> Interrupted {
    Interrupted { error, delivery }
}

/// The component the route came from (the updated occurrence of a message that also repeats its
/// unchanged master, say), not just the message's first component.
fn route_component<'c>(
    checked: &'c CheckedMessage,
    decision: &Decision,
) -> Option<&'c EventComponent> {
    decision
        .transitions
        .iter()
        .find(|t| t.route == decision.route && t.reason == decision.reason)
        .and_then(|t| checked.events().get(t.component))
}

/// The outcome of a handled email, built once: what the analysis named, the verdict, and
/// everything delivered (leftovers of earlier attempts first, then this email's, then the notice).
fn outcome(
    source: &MailSource,
    analyzed: &Analyzed,
    verdict: Verdict<'_>,
    delivery: Delivery,
) -> (Outcome, OutboxClears) {
    let analysis = &analyzed.analysis;
    let primary = analysis.primary();
    let reported = verdict.component.or(primary);
    let mut published = delivery.published;
    published.extend(verdict.notice.published);
    let outcome = Outcome {
        source: source.clone(),
        route: verdict.route,
        reason: verdict.reason,
        uid: primary.and_then(|event| event.uid.clone()),
        recurrence_id: reported
            .and_then(|event| event.recurrence_id)
            .map(|rid| rid.to_string()),
        sequence: reported.map(|event| event.sequence),
        told: verdict.notice.told,
        method: analysis.method().map(|method| method.to_string()),
        published,
        set_aside: delivery.set_aside,
        email_bytes: analyzed.email_bytes,
        email_message_id: analysis.envelope.message_id.clone(),
    };
    record_in_span(&outcome);
    (outcome, delivery.clears)
}

fn route_attribute(entry: &OutboxEntry) -> Option<Route> {
    entry
        .attributes
        .iter()
        .find(|(name, _)| name == "route")
        .and_then(|(_, value)| value.parse().ok())
}

fn encode<T: serde::Serialize>(message: &T) -> Result<String, ServiceError> {
    serde_json::to_string(message)
        .map_err(|error| ServiceError::Internal(format!("cannot encode a message: {error}")))
}

/// Fills the record span's UID and method (declared empty by `process_batch`) as soon as they are
/// known, so that a failure later on is logged with them; a no-op outside a record span.
fn record_identity_in_span(analysis: &Analysis) {
    let span = tracing::Span::current();
    if let Some(uid) = analysis.primary().and_then(|event| event.uid.as_deref()) {
        span.record("uid", uid);
    }
    if let Some(method) = analysis.method() {
        span.record("method", method.to_string().as_str());
    }
}

/// Records the final route: only for an email that was handled, never for one that failed.
fn record_in_span(outcome: &Outcome) {
    tracing::Span::current().record("route", outcome.route.as_str());
}
