//! The "committed" step's writes: the decision's new records, each carrying the message it
//! publishes (the outbox), the owner item a first message claims, and the records judged but
//! left as read, whose revisions the commit checks.

use std::collections::BTreeMap;

use super::{Judged, Service, ServiceError, encode};
use crate::core::analysis::Analysis;
use crate::core::itip::check::CheckedMessage;
use crate::core::message::{event_attributes, event_message, source_info};
use crate::core::model::{EventKey, RecordState, RecordStatus, Transition, utc_text};
use crate::ports::{
    Ledger, LedgerWrite, MailSource, MailStore, OutboxEntry, Publisher, RevisionCheck, StoredRecord,
};

impl<M: MailStore, L: Ledger, P: Publisher> Service<M, L, P> {
    /// One conditional write per transition that changes a record, and the owner item when the
    /// message claims its UID.
    pub(super) fn ledger_writes(
        &self,
        analysis: &Analysis,
        checked: &CheckedMessage,
        judged: &Judged,
        source: &MailSource,
    ) -> Result<Vec<LedgerWrite>, ServiceError> {
        let updated_at = utc_text((self.clock)());
        let written = |key: EventKey, state: RecordState, outbox: Option<OutboxEntry>| {
            let previous = judged.records.get(&key);
            LedgerWrite {
                expected_revision: previous.map(|record| record.revision),
                record: StoredRecord {
                    key,
                    state,
                    revision: previous.map_or(1, |record| record.revision + 1),
                    last_source_key: Some(source.key.clone()),
                    updated_at: updated_at.clone(),
                    outbox,
                },
            }
        };
        let mut writes: Vec<LedgerWrite> = Vec::new();
        for transition in &judged.decision.transitions {
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
            let outbox = outbox_entry(analysis, checked, transition, source)?;
            writes.push(written(transition.key.clone(), new_state.clone(), outbox));
        }
        if let Some(owner) = &judged.decision.claims_owner {
            let first = checked.events().first().map(|event| event.version());
            let state = RecordState {
                organizer: Some(owner.clone()),
                status: RecordStatus::Active,
                version: first.unwrap_or_default(),
            };
            writes.push(written(EventKey::owner_of(checked.uid()), state, None));
        }
        Ok(writes)
    }
}

/// The message a transition publishes, if its route has a topic.
fn outbox_entry(
    analysis: &Analysis,
    checked: &CheckedMessage,
    transition: &Transition,
    source: &MailSource,
) -> Result<Option<OutboxEntry>, ServiceError> {
    let Some(topic) = transition.route.topic() else {
        return Ok(None);
    };
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
    Ok(Some(OutboxEntry {
        topic,
        body: encode(&message)?,
        dedupe_id: message.dedupe_id,
        attributes: event_attributes(transition.route, method, &transition.key.uid),
    }))
}

/// The records the decision was judged against but does not write (the series an occurrence was
/// judged by, an unchanged master beside an updated occurrence, a series read as absent): the
/// commit holds only while they are as read, so a worker that changed one meanwhile (a series
/// CANCEL, say) and this one cannot both win.
pub(super) fn judged_but_not_written(
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
