//! Orchestration only: fetch -> analyze -> read ledger -> flush outbox -> decide -> commit ->
//! publish. Every rule lives in `core`; every side effect goes through a port.
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
use crate::core::itip::answer::{NoReply, may_answer, may_write_to};
use crate::core::itip::check::CheckedMessage;
use crate::core::itip::rules::decide;
use crate::core::message::{
    confirmation_attributes, confirmation_message, event_attributes, event_message,
    rejected_attributes, rejected_message, source_info,
};
use crate::core::model::utc_text;
use crate::core::model::{EventKey, Reason, RecordState, RecordStatus, Route, Topic};
use crate::core::{self, Limits, SenderPolicy};
use crate::ports::{
    Classified, CommitOutcome, ErrorKind, Ledger, LedgerWrite, MailSource, MailStore, OutboxEntry,
    PortError, Publisher, RevisionCheck, SetAsideEntry, StoredRecord,
};

mod batch;

pub use batch::{BatchRecord, RecordReport};

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
    /// A `rejected` message was published for the sender.
    pub notify_sender: bool,
    /// Why the sender of a refused email was not answered (None when it was, or when nothing
    /// was refused).
    pub no_reply_because: Option<NoReply>,
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
    fn new(source: &MailSource, analysis: &Analysis) -> Outcome {
        let primary = analysis.primary();
        Outcome {
            source: source.clone(),
            route: Route::Invalid,
            reason: None,
            uid: primary.and_then(|event| event.uid.clone()),
            recurrence_id: primary
                .and_then(|event| event.recurrence_id)
                .map(|rid| rid.to_string()),
            sequence: primary.map(|event| event.sequence),
            notify_sender: false,
            no_reply_because: None,
            method: analysis.method().map(|method| method.to_string()),
            published: Vec::new(),
            set_aside: Vec::new(),
            email_bytes: 0,
            email_message_id: analysis.envelope.message_id.clone(),
        }
    }
}

/// What became of one outbox entry that was not left for a retry.
enum Delivered {
    Published,
    SetAside,
}

/// Outbox entries published but not yet cleared from their records. Clearing waits on nothing
/// but its publish, so a batch runs it alongside the SQS delete rather than before it: one round
/// trip less per record (benches/batch.rs).
#[derive(Debug, Default)]
#[must_use = "published outbox entries must be cleared (Service::clear_published)"]
struct OutboxClears(Vec<(EventKey, String)>);

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
        let mut clears = OutboxClears::default();
        let processed = self
            .process_source_leaving_clears(source, &mut clears)
            .await;
        // What was published is cleared even when a later step failed: the retry then finds
        // nothing of it left to re-deliver.
        let cleared = self.clear_published(clears).await;
        let outcome = processed?;
        cleared?;
        Ok(outcome)
    }

    /// Removes published entries from their records, all at once: each clear is conditional on
    /// its own dedupe id, so neither their order nor a newer commit in between matters.
    async fn clear_published(&self, clears: OutboxClears) -> Result<(), ServiceError> {
        let pending = clears
            .0
            .iter()
            .map(|(key, dedupe_id)| self.ledger.clear_outbox(key, dedupe_id));
        futures::future::try_join_all(pending).await?;
        Ok(())
    }

    /// [`Service::process_source`] up to the publishes: the entries they delivered are left in
    /// `clears`, for the caller to clear alongside whatever else waits only on the publish (the
    /// batch's SQS delete).
    async fn process_source_leaving_clears(
        &self,
        source: &MailSource,
        clears: &mut OutboxClears,
    ) -> Result<Outcome, ServiceError> {
        let raw = self.store.fetch(source).await?;
        let analysis = (self.analyzer)(&raw);
        let email_bytes = raw.len();
        // The analysis owns what it needs; the raw email (up to the size limit) can go now.
        drop(raw);
        let mut outcome = Outcome::new(source, &analysis);
        outcome.email_bytes = email_bytes;
        record_identity_in_span(&outcome);

        let checked = match &analysis.verdict {
            Ok(checked) => checked,
            Err(refused) => {
                outcome.route = Route::Invalid;
                outcome.reason = Some(refused.reason);
                outcome.notify_sender = self
                    .reject(&analysis, refused.reason, source, &mut outcome)
                    .await?;
                record_in_span(&outcome);
                return Ok(outcome);
            }
        };

        let keys = checked.ledger_keys();
        let read = self.ledger.read(&keys).await?;
        if read.len() != keys.len() {
            return Err(ServiceError::Internal(format!(
                "the ledger answered {} records for {} keys",
                read.len(),
                keys.len()
            )));
        }
        let mut records: BTreeMap<EventKey, StoredRecord> = keys
            .iter()
            .cloned()
            .zip(read)
            .filter_map(|(key, record)| record.map(|record| (key, record)))
            .collect();

        // An earlier attempt committed these but did not get to publish them (or to say so).
        // Deliver them before anything newer can be published for the same event.
        let mut recovered_routes = Vec::new();
        let mut recovered = Vec::new();
        for record in records.values_mut() {
            let Some(entry) = record.outbox.take() else {
                continue;
            };
            if record.last_source_key.as_deref() == Some(source.key.as_str()) {
                recovered_routes.extend(route_attribute(&entry));
            }
            recovered.push((record.key.clone(), entry));
        }
        self.deliver_all(
            recovered.iter().map(|(key, entry)| (key, entry)),
            &mut outcome,
            clears,
        )
        .await?;

        let states: BTreeMap<EventKey, RecordState> = records
            .iter()
            .map(|(key, record)| (key.clone(), record.state.clone()))
            .collect();
        let decision = decide(checked, &states);
        outcome.route = decision.route;
        outcome.reason = decision.reason;
        // Report the component the route came from (the updated occurrence of a message that
        // also repeats its unchanged master, say), not just the message's first component.
        if let Some(event) = decision
            .transitions
            .iter()
            .find(|t| t.route == decision.route && t.reason == decision.reason)
            .and_then(|t| checked.events().get(t.component))
        {
            outcome.recurrence_id = event.recurrence_id.map(|rid| rid.to_string());
            outcome.sequence = Some(event.sequence);
        }

        if decision.route == Route::Invalid {
            if let Some(reason) = decision.reason {
                outcome.notify_sender =
                    self.reject(&analysis, reason, source, &mut outcome).await?;
            }
            record_in_span(&outcome);
            return Ok(outcome);
        }

        let writes = self.ledger_writes(
            &analysis,
            checked,
            &decision.transitions,
            decision.claims_owner.as_ref(),
            &records,
            source,
        )?;
        if !writes.is_empty() {
            let unchanged = judged_but_not_written(&keys, &records, &writes);
            match self.ledger.commit(&writes, &unchanged).await? {
                CommitOutcome::Committed => {}
                CommitOutcome::Conflict => {
                    let key = writes
                        .iter()
                        .map(|write| write.record.key.to_string())
                        .collect::<Vec<_>>()
                        .join(", ");
                    return Err(ServiceError::Conflict { key });
                }
            }
        }
        let committed = writes
            .iter()
            .filter_map(|write| Some((&write.record.key, write.record.outbox.as_ref()?)));
        self.deliver_all(committed, &mut outcome, clears).await?;

        // This very email was committed by an earlier attempt that died before publishing: the
        // ledger now calls it a duplicate of itself, but what it did was the recovered route.
        if decision.route == Route::Duplicate
            && let Some(route) = recovered_routes.first()
        {
            outcome.route = *route;
            outcome.reason = None;
        }
        if self.confirm_success && outcome.route.topic().is_some() {
            self.confirm(&analysis, checked, source, &mut outcome)
                .await?;
        }
        record_in_span(&outcome);
        Ok(outcome)
    }

    /// With `NOTIFY_ON_SUCCESS`: tells the sender their invitation was acted on, when the core
    /// says they may be written to at all. The notice's dedupe id is the email's and the route's,
    /// so a retry (or the recovery of this very email) confirms once.
    async fn confirm(
        &self,
        analysis: &Analysis,
        checked: &CheckedMessage,
        source: &MailSource,
        outcome: &mut Outcome,
    ) -> Result<(), ServiceError> {
        let sender = analysis.envelope.sender.as_deref();
        let (Ok(()), Some(sender)) = (may_write_to(sender, &analysis.reply, &self.policy), sender)
        else {
            return Ok(());
        };
        let Some(event) = checked
            .events()
            .iter()
            .find(|event| event.recurrence_id.is_none())
            .or_else(|| checked.events().first())
        else {
            return Ok(());
        };
        let message = confirmation_message(
            sender,
            outcome.route,
            event,
            &analysis.envelope,
            source_info(&analysis.envelope, source.bucket.as_deref(), &source.key),
        );
        let body = encode(&message)?;
        self.publisher
            .publish(
                Topic::Rejected,
                &body,
                &confirmation_attributes(outcome.route),
            )
            .await?;
        outcome.published.push(Published {
            topic: Topic::Rejected,
            dedupe_id: message.dedupe_id,
        });
        outcome.notify_sender = true;
        Ok(())
    }

    /// Publishes committed outbox entries, all at once, and leaves the published ones in
    /// `clears`. Each is its own event key's, with its own dedupe id, and the standard SNS topics
    /// keep no order among messages anyway: published one after another, the components of a
    /// series with exceptions cost a round trip each (benches/batch.rs). A crash before an entry
    /// is cleared republishes it with the same dedupe id, which subscribers drop. The first
    /// failure is returned once every entry had its try, so those that went out are cleared.
    async fn deliver_all<'e>(
        &self,
        entries: impl IntoIterator<Item = (&'e EventKey, &'e OutboxEntry)>,
        outcome: &mut Outcome,
        clears: &mut OutboxClears,
    ) -> Result<(), ServiceError> {
        let entries: Vec<_> = entries.into_iter().collect();
        let delivered =
            futures::future::join_all(entries.iter().map(|(key, entry)| self.deliver(key, entry)))
                .await;
        let mut first_failure = None;
        for ((key, entry), delivered) in entries.iter().zip(delivered) {
            match delivered {
                Ok(Delivered::Published) => {
                    outcome.published.push(Published {
                        topic: entry.topic,
                        dedupe_id: entry.dedupe_id.clone(),
                    });
                    clears.0.push(((*key).clone(), entry.dedupe_id.clone()));
                }
                Ok(Delivered::SetAside) => outcome.set_aside.push(entry.dedupe_id.clone()),
                Err(error) => {
                    first_failure.get_or_insert(error);
                }
            }
        }
        first_failure.map_or(Ok(()), Err)
    }

    /// Publishes one committed outbox entry. An entry the publisher refuses for good is set
    /// aside: retried before every later email of its event, it would block the event forever.
    async fn deliver(
        &self,
        key: &EventKey,
        entry: &OutboxEntry,
    ) -> Result<Delivered, ServiceError> {
        let published = self
            .publisher
            .publish(entry.topic, &entry.body, &entry.attributes)
            .await;
        let Err(error) = published else {
            return Ok(Delivered::Published);
        };
        if error.is_transient() {
            return Err(error.into());
        }
        // `outbox_set_aside` is what the CDK app's metric filter counts.
        tracing::error!(
            event = "outbox_set_aside",
            dedupe_id = %entry.dedupe_id,
            topic = %entry.topic,
            error = %error,
            "the publisher refused an outbox entry for good; it is set aside in the ledger"
        );
        let aside = SetAsideEntry {
            from: key.clone(),
            entry: entry.clone(),
            why: error.to_string(),
        };
        self.ledger.set_aside_outbox(&aside).await?;
        Ok(Delivered::SetAside)
    }

    /// Tells the sender why, when the core says they may be answered (`itip::answer`).
    /// Returns whether a `rejected` message was published.
    async fn reject(
        &self,
        analysis: &Analysis,
        reason: Reason,
        source: &MailSource,
        outcome: &mut Outcome,
    ) -> Result<bool, ServiceError> {
        let sender = analysis.envelope.sender.as_deref();
        // Never backscatter, never a loop: the core says who may be answered, and why not.
        let answer = may_answer(reason, sender, &analysis.reply, &self.policy);
        let (Ok(()), Some(sender)) = (answer, sender) else {
            outcome.no_reply_because = Some(answer.err().unwrap_or(NoReply::NoSender));
            return Ok(false);
        };
        outcome.no_reply_because = None;
        let message = rejected_message(
            sender,
            reason,
            &analysis.envelope,
            source_info(&analysis.envelope, source.bucket.as_deref(), &source.key),
        );
        let body = encode(&message)?;
        let attributes = rejected_attributes(reason, analysis.method());
        self.publisher
            .publish(Topic::Rejected, &body, &attributes)
            .await?;
        outcome.published.push(Published {
            topic: Topic::Rejected,
            dedupe_id: message.dedupe_id,
        });
        Ok(true)
    }

    fn ledger_writes(
        &self,
        analysis: &Analysis,
        checked: &CheckedMessage,
        transitions: &[crate::core::model::Transition],
        decision_owner: Option<&String>,
        records: &BTreeMap<EventKey, StoredRecord>,
        source: &MailSource,
    ) -> Result<Vec<LedgerWrite>, ServiceError> {
        let updated_at = utc_text((self.clock)());
        let mut writes: Vec<LedgerWrite> = Vec::new();
        for transition in transitions {
            let Some(new_state) = &transition.new_state else {
                continue;
            };
            if writes
                .iter()
                .any(|write| write.record.key == transition.key)
            {
                return Err(ServiceError::Internal(format!(
                    "the decision writes {} twice",
                    transition.key
                )));
            }
            let outbox = match transition.route.topic() {
                Some(topic) => {
                    let event = checked.events().get(transition.component).ok_or_else(|| {
                        ServiceError::Internal(format!(
                            "transition for component {} of {}",
                            transition.component,
                            checked.events().len()
                        ))
                    })?;
                    let method = checked.method();
                    let message = event_message(
                        transition.route,
                        &transition.key,
                        method,
                        event,
                        source_info(&analysis.envelope, source.bucket.as_deref(), &source.key),
                    );
                    Some(OutboxEntry {
                        topic,
                        body: encode(&message)?,
                        dedupe_id: message.dedupe_id,
                        attributes: event_attributes(transition.route, method, &transition.key.uid),
                    })
                }
                None => None,
            };
            let previous = records.get(&transition.key);
            writes.push(LedgerWrite {
                expected_revision: previous.map(|record| record.revision),
                record: StoredRecord {
                    key: transition.key.clone(),
                    state: new_state.clone(),
                    revision: previous.map_or(1, |record| record.revision + 1),
                    last_source_key: Some(source.key.clone()),
                    updated_at: updated_at.clone(),
                    outbox,
                },
            });
        }
        if let Some(owner) = decision_owner {
            let key = EventKey::owner_of(checked.uid());
            let previous = records.get(&key);
            let first = checked.events().first().map(|event| event.version());
            writes.push(LedgerWrite {
                expected_revision: previous.map(|record| record.revision),
                record: StoredRecord {
                    state: RecordState {
                        organizer: Some(owner.clone()),
                        status: RecordStatus::Active,
                        version: first.unwrap_or_default(),
                    },
                    revision: previous.map_or(1, |record| record.revision + 1),
                    last_source_key: Some(source.key.clone()),
                    updated_at: updated_at.clone(),
                    outbox: None,
                    key,
                },
            });
        }
        Ok(writes)
    }
}

fn route_attribute(entry: &OutboxEntry) -> Option<Route> {
    entry
        .attributes
        .iter()
        .find(|(name, _)| name == "route")
        .and_then(|(_, value)| {
            serde_json::from_value(serde_json::Value::String(value.clone())).ok()
        })
}

fn encode<T: serde::Serialize>(message: &T) -> Result<String, ServiceError> {
    serde_json::to_string(message)
        .map_err(|error| ServiceError::Internal(format!("cannot encode a message: {error}")))
}

/// Fills the record span's UID and method (declared empty by `process_batch`) as soon as they are
/// known, so that a failure later on is logged with them; a no-op outside a record span.
fn record_identity_in_span(outcome: &Outcome) {
    let span = tracing::Span::current();
    if let Some(uid) = &outcome.uid {
        span.record("uid", uid.as_str());
    }
    if let Some(method) = &outcome.method {
        span.record("method", method.as_str());
    }
}

/// Records the final route: only for an email that was handled, never for one that failed.
fn record_in_span(outcome: &Outcome) {
    record_identity_in_span(outcome);
    tracing::Span::current().record("route", outcome.route.as_str());
}

/// The records the decision was judged against but does not write (the series an occurrence was
/// judged by, an unchanged master beside an updated occurrence, a series read as absent): the
/// commit holds only while they are as read, so a worker that changed one meanwhile (a series
/// CANCEL, say) and this one cannot both win.
fn judged_but_not_written(
    keys: &[EventKey],
    records: &BTreeMap<EventKey, StoredRecord>,
    writes: &[LedgerWrite],
) -> Vec<RevisionCheck> {
    keys.iter()
        .filter(|key| writes.iter().all(|write| &write.record.key != *key))
        .map(|key| RevisionCheck {
            key: key.clone(),
            expected_revision: records.get(key).map(|record| record.revision),
        })
        .collect()
}
