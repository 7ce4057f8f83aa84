//! The ledger as a DynamoDB table: partition key `uid` (S), sort key `recurrence_id` (S, `-` for
//! the series). One item per (UID, RECURRENCE-ID):
//!
//! | attribute | type | |
//! |---|---|---|
//! | `organizer` | S | absent when unknown |
//! | `status` | S | `active`, `cancelled`, `tombstone` |
//! | `sequence` | N | |
//! | `dtstamp` | S | RFC 3339 UTC; absent when unknown |
//! | `revision` | N | bumped by every transition; writes are conditional on it |
//! | `last_source_key` | S | the S3 key of the email that made the last transition |
//! | `updated_at` | S | RFC 3339 UTC |
//! | `outbox` | M | `topic`, `dedupe_id`, `body` (S) and `attributes` (M of S): a committed message not yet known to be published |
//!
//! An outbox entry SNS refused for good is moved, in one transaction, to its own item under
//! (UID, `#aside:<dedupe_id>`): `from_recurrence_id` (S), `why` (S) and `outbox` (M, as above).

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::error::TransactionCanceledException;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem, Update};
use futures::future::try_join_all;

use super::errors::{classify, error_code, permanent};
use crate::core::model::{EventKey, Topic};
use crate::ledger_format::{
    SET_ASIDE_PREFIX, corrupt, decode_key, decode_state, format_dtstamp, recurrence_column,
    status_code,
};
use crate::ports::{
    CommitOutcome, Ledger, LedgerWrite, OutboxEntry, PortError, RevisionCheck, SetAsideEntry,
    StoredRecord,
};

/// TransactWriteItems accepts at most this many items.
const MAX_TRANSACTION_ITEMS: usize = 100;

type Item = HashMap<String, AttributeValue>;

#[derive(Debug, Clone)]
pub struct DynamoLedger {
    client: Client,
    table: String,
}

impl DynamoLedger {
    pub fn new(client: Client, table: impl Into<String>) -> DynamoLedger {
        DynamoLedger {
            client,
            table: table.into(),
        }
    }

    async fn get(&self, key: &EventKey) -> Result<Option<StoredRecord>, PortError> {
        const OPERATION: &str = "DynamoDB GetItem";
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_item(key)))
            // A transition must be judged against the latest committed state.
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| classify(OPERATION, &error, permanent::DYNAMODB))?;
        output.item().map(item_to_record).transpose()
    }
}

fn string(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn key_item(key: &EventKey) -> Item {
    HashMap::from([
        ("uid".to_owned(), string(&key.uid)),
        ("recurrence_id".to_owned(), string(&recurrence_column(key))),
    ])
}

fn record_to_item(record: &StoredRecord) -> Item {
    let mut item = key_item(&record.key);
    let state = &record.state;
    if let Some(organizer) = &state.organizer {
        item.insert("organizer".into(), string(organizer));
    }
    item.insert("status".into(), string(status_code(state.status)));
    item.insert(
        "sequence".into(),
        AttributeValue::N(state.version.sequence.to_string()),
    );
    if let Some(dtstamp) = state.version.dtstamp {
        item.insert("dtstamp".into(), string(&format_dtstamp(dtstamp)));
    }
    item.insert(
        "revision".into(),
        AttributeValue::N(record.revision.to_string()),
    );
    if let Some(source) = &record.last_source_key {
        item.insert("last_source_key".into(), string(source));
    }
    item.insert("updated_at".into(), string(&record.updated_at));
    if let Some(entry) = &record.outbox {
        item.insert("outbox".into(), outbox_to_value(entry));
    }
    item
}

fn get_string<'a>(item: &'a Item, name: &str) -> Result<Option<&'a str>, PortError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::S(text)) => Ok(Some(text)),
        Some(other) => Err(corrupt(format!("{name} is {other:?}, not a string"))),
    }
}

fn require_string<'a>(item: &'a Item, name: &str) -> Result<&'a str, PortError> {
    get_string(item, name)?.ok_or_else(|| corrupt(format!("no {name}")))
}

fn require_number<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T, PortError> {
    match item.get(name) {
        Some(AttributeValue::N(text)) => text
            .parse()
            .map_err(|_| corrupt(format!("{name} = {text:?}"))),
        other => Err(corrupt(format!("{name} is {other:?}, not a number"))),
    }
}

fn item_to_record(item: &Item) -> Result<StoredRecord, PortError> {
    let outbox = match item.get("outbox") {
        None | Some(AttributeValue::Null(_)) => None,
        Some(AttributeValue::M(entry)) => Some(outbox_from_item(entry)?),
        Some(other) => return Err(corrupt(format!("outbox is {other:?}"))),
    };
    Ok(StoredRecord {
        key: decode_key(
            require_string(item, "uid")?.to_owned(),
            require_string(item, "recurrence_id")?,
        ),
        state: decode_state(
            get_string(item, "organizer")?.map(str::to_owned),
            require_string(item, "status")?,
            require_number(item, "sequence")?,
            get_string(item, "dtstamp")?,
        )?,
        revision: require_number(item, "revision")?,
        last_source_key: get_string(item, "last_source_key")?.map(str::to_owned),
        updated_at: require_string(item, "updated_at")?.to_owned(),
        outbox,
    })
}

/// Whether a cancelled transaction lost one of its conditions (rather than, say, a conflict
/// with another transaction or throttling, which are retried).
fn lost_a_condition(cancelled: &TransactionCanceledException) -> bool {
    cancelled
        .cancellation_reasons()
        .iter()
        .any(|reason| reason.code() == Some("ConditionalCheckFailed"))
}

fn outbox_to_value(entry: &OutboxEntry) -> AttributeValue {
    let attributes = entry
        .attributes
        .iter()
        .map(|(name, value)| (name.clone(), string(value)))
        .collect();
    AttributeValue::M(HashMap::from([
        ("topic".to_owned(), string(entry.topic.as_str())),
        ("dedupe_id".to_owned(), string(&entry.dedupe_id)),
        ("body".to_owned(), string(&entry.body)),
        ("attributes".to_owned(), AttributeValue::M(attributes)),
    ]))
}

/// The item of a set-aside entry: under (UID, `#aside:<dedupe_id>`), with the record it came
/// from, why, and the entry as in a record's `outbox`.
fn set_aside_to_item(aside: &SetAsideEntry) -> Item {
    let mut item = key_item(&EventKey::set_aside(
        &aside.from.uid,
        &aside.entry.dedupe_id,
    ));
    item.insert(
        "from_recurrence_id".into(),
        string(&recurrence_column(&aside.from)),
    );
    item.insert("why".into(), string(&aside.why));
    item.insert("outbox".into(), outbox_to_value(&aside.entry));
    item
}

fn set_aside_from_item(item: &Item) -> Result<SetAsideEntry, PortError> {
    let entry = match item.get("outbox") {
        Some(AttributeValue::M(entry)) => outbox_from_item(entry)?,
        other => return Err(corrupt(format!("set-aside outbox is {other:?}"))),
    };
    Ok(SetAsideEntry {
        from: decode_key(
            require_string(item, "uid")?.to_owned(),
            require_string(item, "from_recurrence_id")?,
        ),
        entry,
        why: require_string(item, "why")?.to_owned(),
    })
}

fn outbox_from_item(entry: &Item) -> Result<OutboxEntry, PortError> {
    let topic = require_string(entry, "topic")?;
    let topic = Topic::ALL
        .into_iter()
        .find(|candidate| candidate.as_str() == topic)
        .ok_or_else(|| corrupt(format!("outbox topic {topic:?}")))?;
    let mut attributes: Vec<(String, String)> = match entry.get("attributes") {
        Some(AttributeValue::M(map)) => map
            .iter()
            .map(|(name, value)| match value {
                AttributeValue::S(text) => Ok((name.clone(), text.clone())),
                other => Err(corrupt(format!("outbox attribute {name} is {other:?}"))),
            })
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
        Some(other) => return Err(corrupt(format!("outbox attributes are {other:?}"))),
    };
    // A map has no order; keep the published attributes in a stable one.
    attributes.sort();
    Ok(OutboxEntry {
        topic,
        dedupe_id: require_string(entry, "dedupe_id")?.to_owned(),
        body: require_string(entry, "body")?.to_owned(),
        attributes,
    })
}

impl DynamoLedger {
    fn conditional_put(&self, write: &LedgerWrite) -> Result<TransactWriteItem, PortError> {
        let mut put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(record_to_item(&write.record)))
            .expression_attribute_names("#uid", "uid");
        put = match write.expected_revision {
            None => put.condition_expression("attribute_not_exists(#uid)"),
            Some(revision) => put
                .condition_expression("attribute_exists(#uid) AND #revision = :expected")
                .expression_attribute_names("#revision", "revision")
                .expression_attribute_values(":expected", AttributeValue::N(revision.to_string())),
        };
        let put = put.build().map_err(|error| {
            PortError::transient("DynamoDB TransactWriteItems", error.to_string())
        })?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

impl DynamoLedger {
    /// A transaction item that writes nothing but fails the transaction when the record is no
    /// longer at the revision read (or has appeared since it was read as absent).
    fn revision_check(&self, check: &RevisionCheck) -> Result<TransactWriteItem, PortError> {
        let condition = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key_item(&check.key)))
            .expression_attribute_names("#uid", "uid");
        let condition = match check.expected_revision {
            None => condition.condition_expression("attribute_not_exists(#uid)"),
            Some(revision) => condition
                .condition_expression("attribute_exists(#uid) AND #revision = :expected")
                .expression_attribute_names("#revision", "revision")
                .expression_attribute_values(":expected", AttributeValue::N(revision.to_string())),
        };
        let condition = condition.build().map_err(|error| {
            PortError::transient("DynamoDB TransactWriteItems", error.to_string())
        })?;
        Ok(TransactWriteItem::builder()
            .condition_check(condition)
            .build())
    }
}

impl Ledger for DynamoLedger {
    async fn read(&self, keys: &[EventKey]) -> Result<Vec<Option<StoredRecord>>, PortError> {
        // A message touches one or two keys (an occurrence and its series): a consistent
        // GetItem each, concurrently, is simpler than BatchGetItem's unprocessed-keys loop.
        try_join_all(keys.iter().map(|key| self.get(key))).await
    }

    async fn commit(
        &self,
        writes: &[LedgerWrite],
        unchanged: &[RevisionCheck],
    ) -> Result<CommitOutcome, PortError> {
        const OPERATION: &str = "DynamoDB TransactWriteItems";
        // One transaction, whole: the core refuses (too_large) a message whose commit could not
        // fit, so more than 100 items here is a bug, kept for the DLQ rather than split (a split
        // commit is not all or nothing).
        if writes.len() + unchanged.len() > MAX_TRANSACTION_ITEMS {
            return Err(PortError::transient(
                OPERATION,
                format!(
                    "{} items do not fit one transaction of {MAX_TRANSACTION_ITEMS}",
                    writes.len() + unchanged.len()
                ),
            ));
        }
        let mut items = unchanged
            .iter()
            .map(|check| self.revision_check(check))
            .collect::<Result<Vec<_>, _>>()?;
        for write in writes {
            items.push(self.conditional_put(write)?);
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(CommitOutcome::Committed),
            Err(error) => {
                if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
                    error.as_service_error()
                {
                    // No reasons at all: nothing else cancels a transaction of conditional writes.
                    if cancelled.cancellation_reasons().is_empty() || lost_a_condition(cancelled) {
                        return Ok(CommitOutcome::Conflict);
                    }
                }
                Err(classify(OPERATION, &error, permanent::DYNAMODB))
            }
        }
    }

    async fn clear_outbox(&self, key: &EventKey, dedupe_id: &str) -> Result<(), PortError> {
        const OPERATION: &str = "DynamoDB UpdateItem";
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_item(key)))
            .update_expression("REMOVE #outbox")
            // Only the entry we published: one committed meanwhile by another worker stays.
            .condition_expression("#outbox.#dedupe_id = :dedupe_id")
            .expression_attribute_names("#outbox", "outbox")
            .expression_attribute_names("#dedupe_id", "dedupe_id")
            .expression_attribute_values(":dedupe_id", string(dedupe_id))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Already cleared by someone else, or replaced by a newer entry: nothing to do.
            Err(error)
                if matches!(
                    error.as_service_error(),
                    Some(UpdateItemError::ConditionalCheckFailedException(_))
                ) || error_code(&error) == Some("ConditionalCheckFailedException") =>
            {
                Ok(())
            }
            Err(error) => Err(classify(OPERATION, &error, permanent::DYNAMODB)),
        }
    }

    async fn set_aside_outbox(&self, aside: &SetAsideEntry) -> Result<(), PortError> {
        const OPERATION: &str = "DynamoDB set an outbox entry aside";
        let build_error = |error: aws_sdk_dynamodb::error::BuildError| {
            PortError::transient(OPERATION, error.to_string())
        };
        let take = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_item(&aside.from)))
            .update_expression("REMOVE #outbox")
            .condition_expression("#outbox.#dedupe_id = :dedupe_id")
            .expression_attribute_names("#outbox", "outbox")
            .expression_attribute_names("#dedupe_id", "dedupe_id")
            .expression_attribute_values(":dedupe_id", string(&aside.entry.dedupe_id))
            .build()
            .map_err(build_error)?;
        let keep = Put::builder()
            .table_name(&self.table)
            .set_item(Some(set_aside_to_item(aside)))
            .build()
            .map_err(build_error)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(take).build())
            .transact_items(TransactWriteItem::builder().put(keep).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // The entry is gone (published and cleared, or set aside, by another worker).
            Err(error)
                if matches!(
                    error.as_service_error(),
                    Some(TransactWriteItemsError::TransactionCanceledException(cancelled))
                        if lost_a_condition(cancelled)
                ) =>
            {
                Ok(())
            }
            Err(error) => Err(classify(OPERATION, &error, permanent::DYNAMODB)),
        }
    }

    async fn set_aside_entries(&self, uid: &str) -> Result<Vec<SetAsideEntry>, PortError> {
        const OPERATION: &str = "DynamoDB Query set-aside entries";
        let mut entries = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#uid = :uid AND begins_with(#rid, :aside)")
                .expression_attribute_names("#uid", "uid")
                .expression_attribute_names("#rid", "recurrence_id")
                .expression_attribute_values(":uid", string(uid))
                .expression_attribute_values(":aside", string(SET_ASIDE_PREFIX))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|error| classify(OPERATION, &error, permanent::DYNAMODB))?;
            for item in output.items() {
                entries.push(set_aside_from_item(item)?);
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(entries);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::{ItemKind, RecordState, RecordStatus, Version};
    use crate::ledger_format::parse_dtstamp;
    use crate::ports::Classified;

    #[test]
    fn items_round_trip() {
        let record = StoredRecord {
            key: EventKey {
                uid: "u1".into(),
                item: ItemKind::Occurrence("2026-12-01T10:00:00Z".into()),
            },
            state: RecordState {
                organizer: Some("alice@example.com".into()),
                status: RecordStatus::Cancelled,
                version: Version {
                    sequence: 4,
                    dtstamp: parse_dtstamp("2026-11-01T09:00:00Z"),
                },
            },
            revision: 3,
            last_source_key: Some("inbox/a b.eml".into()),
            updated_at: "2026-11-23T01:00:00Z".into(),
            outbox: Some(OutboxEntry {
                topic: Topic::Cancel,
                dedupe_id: "abc".into(),
                body: "{\"x\":1}".into(),
                attributes: vec![
                    ("method".into(), "CANCEL".into()),
                    ("route".into(), "cancel".into()),
                ],
            }),
        };
        let item = record_to_item(&record);
        assert_eq!(item["recurrence_id"], string("2026-12-01T10:00:00Z"));
        assert_eq!(item_to_record(&item).unwrap(), record);

        let series = StoredRecord {
            key: EventKey::new("u1", None),
            state: RecordState {
                organizer: None,
                status: RecordStatus::Tombstone,
                version: Version {
                    sequence: 0,
                    dtstamp: None,
                },
            },
            outbox: None,
            last_source_key: None,
            ..record
        };
        let item = record_to_item(&series);
        assert_eq!(item["recurrence_id"], string("-"));
        assert!(!item.contains_key("outbox") && !item.contains_key("dtstamp"));
        assert_eq!(item_to_record(&item).unwrap(), series);
    }

    #[test]
    fn corrupt_items_are_transient_errors() {
        let mut item = key_item(&EventKey::new("u1", None));
        item.insert("status".into(), string("weird"));
        let error = item_to_record(&item).unwrap_err();
        assert!(error.is_transient());
    }
}
