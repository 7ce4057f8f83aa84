//! The "delivered" step: committed outbox entries published, an entry refused for good set
//! aside, and the published ones cleared from their records once nothing else waits on them.

use super::{Published, Service, ServiceError};
use crate::core::model::EventKey;
use crate::ports::{Classified, Ledger, MailStore, OutboxEntry, Publisher, SetAsideEntry};

/// Outbox entries published but not yet cleared from their records. Clearing waits on nothing
/// but its publish, so a batch runs it alongside the SQS delete rather than before it: one round
/// trip less per record (benches/batch.rs).
#[derive(Debug, Default)]
#[must_use = "published outbox entries must be cleared (Service::clear_published)"]
pub(super) struct OutboxClears(Vec<(EventKey, String)>);

impl OutboxClears {
    pub(super) fn extend(&mut self, more: OutboxClears) {
        self.0.extend(more.0);
    }
}

/// What delivering some outbox entries did: what went out (to report and to clear), what was
/// set aside, and the first failure, if one entry could not be delivered.
#[derive(Debug, Default)]
pub(super) struct Delivery {
    pub published: Vec<Published>,
    pub set_aside: Vec<String>,
    pub clears: OutboxClears,
    pub failure: Option<ServiceError>,
}

impl Delivery {
    /// This delivery followed by `next`; the first failure stands.
    pub fn then(mut self, next: Delivery) -> Delivery {
        self.published.extend(next.published);
        self.set_aside.extend(next.set_aside);
        self.clears.extend(next.clears);
        self.failure = self.failure.or(next.failure);
        self
    }
}

/// What became of one outbox entry that was not left for a retry.
enum Delivered {
    Published,
    SetAside,
}

impl<M: MailStore, L: Ledger, P: Publisher> Service<M, L, P> {
    /// Publishes committed outbox entries, all at once. Each is its own event key's, with its own
    /// dedupe id, and the standard SNS topics keep no order among messages anyway: published one
    /// after another, the components of a series with exceptions cost a round trip each
    /// (benches/batch.rs). A crash before an entry is cleared republishes it with the same dedupe
    /// id, which subscribers drop. Every entry has its try before the first failure is reported,
    /// so those that went out are cleared.
    pub(super) async fn deliver_all(&self, entries: &[(EventKey, OutboxEntry)]) -> Delivery {
        let delivered =
            futures::future::join_all(entries.iter().map(|(key, entry)| self.deliver(key, entry)))
                .await;
        let mut delivery = Delivery::default();
        for ((key, entry), delivered) in entries.iter().zip(delivered) {
            match delivered {
                Ok(Delivered::Published) => {
                    delivery.published.push(Published {
                        topic: entry.topic,
                        dedupe_id: entry.dedupe_id.clone(),
                    });
                    delivery
                        .clears
                        .0
                        .push((key.clone(), entry.dedupe_id.clone()));
                }
                Ok(Delivered::SetAside) => delivery.set_aside.push(entry.dedupe_id.clone()),
                Err(error) => {
                    delivery.failure.get_or_insert(error);
                }
            }
        }
        delivery
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

    /// Removes published entries from their records, all at once: each clear is conditional on
    /// its own dedupe id, so neither their order nor a newer commit in between matters.
    pub(super) async fn clear_published(&self, clears: OutboxClears) -> Result<(), ServiceError> {
        let pending = clears
            .0
            .iter()
            .map(|(key, dedupe_id)| self.ledger.clear_outbox(key, dedupe_id));
        futures::future::try_join_all(pending).await?;
        Ok(())
    }
}
