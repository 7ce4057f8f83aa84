//! The reply log in DynamoDB (`REPLY_TABLE`, partition key `id`, TTL attribute `expires_at`):
//! an item `reply#<dedupe_id>` per claimed reply, and an item `rate#<recipient>` holding the
//! recipient's claims of the last 24 hours (a map from dedupe id to claim time, so a re-claim
//! counts once and a released claim gives its place back). A claim writes both in one
//! transaction, each conditional on what was read, so two workers cannot both claim a reply, nor
//! together exceed a recipient's limit; a lost race is transient and the message is retried.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use chrono::{DateTime, Utc};

use super::errors::{classify, error_code, permanent};
use crate::ports::{Claim, ClaimTerms, PortError, REPLY_MEMORY_SECONDS, ReplyLog};

type Item = HashMap<String, AttributeValue>;

const DAY_SECONDS: i64 = 24 * 3600;

#[derive(Debug, Clone)]
pub struct DynamoReplyLog {
    client: Client,
    table: String,
}

impl DynamoReplyLog {
    pub fn new(client: Client, table: impl Into<String>) -> DynamoReplyLog {
        DynamoReplyLog {
            client,
            table: table.into(),
        }
    }

    async fn get(&self, id: &str) -> Result<Option<Item>, PortError> {
        const OPERATION: &str = "DynamoDB GetItem (reply log)";
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", string(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| classify(OPERATION, &error, permanent::DYNAMODB))?;
        Ok(output.item)
    }
}

fn string(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn number(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn number_of(item: &Item, name: &str) -> Option<i64> {
    match item.get(name) {
        Some(AttributeValue::N(text)) => text.parse().ok(),
        _ => None,
    }
}

/// DynamoDB's limit on a partition key.
const MAX_KEY_BYTES: usize = 2048;

fn reply_id(dedupe_id: &str) -> String {
    format!("reply#{dedupe_id}")
}

fn rate_id(recipient: &str) -> String {
    format!("rate#{recipient}")
}

impl ReplyLog for DynamoReplyLog {
    async fn claim(
        &self,
        dedupe_id: &str,
        recipient: &str,
        now: DateTime<Utc>,
        terms: ClaimTerms,
    ) -> Result<Claim, PortError> {
        const OPERATION: &str = "DynamoDB TransactWriteItems (reply claim)";
        // DynamoDB refuses a partition key over 2048 bytes, every time: permanent, before the call.
        for key in [reply_id(dedupe_id), rate_id(recipient)] {
            if key.len() > MAX_KEY_BYTES {
                return Err(PortError::permanent(
                    OPERATION,
                    format!(
                        "a reply-log key of {} bytes (DynamoDB allows {MAX_KEY_BYTES})",
                        key.len()
                    ),
                ));
            }
        }
        let now = now.timestamp();
        let reply = self.get(&reply_id(dedupe_id)).await?;
        let stale_claim = match &reply {
            None => None,
            Some(item) => {
                let sent =
                    matches!(item.get("state"), Some(AttributeValue::S(state)) if state == "sent");
                let claimed_at = number_of(item, "claimed_at").unwrap_or(i64::MAX);
                if sent {
                    return Ok(Claim::AlreadyHandled);
                }
                if claimed_at > now - terms.claim_seconds {
                    return Ok(Claim::InFlight);
                }
                Some(claimed_at)
            }
        };
        let rate = self.get(&rate_id(recipient)).await?;
        let version = rate.as_ref().and_then(|item| number_of(item, "version"));
        let mut recent: HashMap<String, AttributeValue> =
            match rate.as_ref().and_then(|item| item.get("claims")) {
                Some(AttributeValue::M(claims)) => claims
                    .iter()
                    .filter(|(id, time)| {
                        id.as_str() != dedupe_id
                            && matches!(time, AttributeValue::N(text)
                                if text.parse::<i64>().is_ok_and(|t| t > now - DAY_SECONDS && t <= now))
                    })
                    .map(|(id, time)| (id.clone(), time.clone()))
                    .collect(),
                _ => HashMap::new(),
            };
        if recent.len() >= usize::try_from(terms.rate_limit).unwrap_or(usize::MAX) {
            return Ok(Claim::RateLimited);
        }
        recent.insert(dedupe_id.to_owned(), number(now));

        let reply_item: Item = HashMap::from([
            ("id".to_owned(), string(&reply_id(dedupe_id))),
            ("state".to_owned(), string("claimed")),
            ("recipient".to_owned(), string(recipient)),
            ("claimed_at".to_owned(), number(now)),
            ("expires_at".to_owned(), number(now + REPLY_MEMORY_SECONDS)),
        ]);
        let mut put_reply = Put::builder()
            .table_name(&self.table)
            .set_item(Some(reply_item));
        put_reply = match stale_claim {
            None => put_reply.condition_expression("attribute_not_exists(id)"),
            // Take over exactly the dead claim that was read, not one made since.
            Some(claimed_at) => put_reply
                .condition_expression("claimed_at = :seen")
                .expression_attribute_values(":seen", number(claimed_at)),
        };
        let rate_item: Item = HashMap::from([
            ("id".to_owned(), string(&rate_id(recipient))),
            ("claims".to_owned(), AttributeValue::M(recent)),
            ("version".to_owned(), number(version.unwrap_or(0) + 1)),
            ("expires_at".to_owned(), number(now + DAY_SECONDS)),
        ]);
        let mut put_rate = Put::builder()
            .table_name(&self.table)
            .set_item(Some(rate_item));
        put_rate = match version {
            None => put_rate.condition_expression("attribute_not_exists(id)"),
            Some(version) => put_rate
                .condition_expression("version = :version")
                .expression_attribute_values(":version", number(version)),
        };
        let build = |put: Result<Put, _>| {
            put.map(|put| TransactWriteItem::builder().put(put).build())
                .map_err(|error: aws_sdk_dynamodb::error::BuildError| {
                    PortError::transient(OPERATION, error.to_string())
                })
        };
        let result = self
            .client
            .transact_write_items()
            .transact_items(build(put_reply.build())?)
            .transact_items(build(put_rate.build())?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Claim::Claimed),
            Err(error) if error_code(&error) == Some("TransactionCanceledException") => Err(
                PortError::transient(OPERATION, "another worker claimed first; retrying"),
            ),
            Err(error) => Err(classify(OPERATION, &error, permanent::DYNAMODB)),
        }
    }

    async fn settle(&self, dedupe_id: &str, sent: bool) -> Result<(), PortError> {
        const OPERATION: &str = "DynamoDB settle reply";
        let id = reply_id(dedupe_id);
        if !sent {
            // Released: the recipient's rate item gives the claim's place back, then the claim goes.
            if let Some(recipient) =
                self.get(&id)
                    .await?
                    .and_then(|item| match item.get("recipient") {
                        Some(AttributeValue::S(recipient)) => Some(recipient.clone()),
                        _ => None,
                    })
            {
                ignore_lost_condition(
                    self.client
                        .update_item()
                        .table_name(&self.table)
                        .key("id", string(&rate_id(&recipient)))
                        .update_expression("REMOVE claims.#claim")
                        .condition_expression("attribute_exists(id)")
                        .expression_attribute_names("#claim", dedupe_id)
                        .send()
                        .await
                        .map(|_| ()),
                    OPERATION,
                )?;
            }
            return ignore_lost_condition(
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .key("id", string(&id))
                    .condition_expression("#state = :claimed")
                    .expression_attribute_names("#state", "state")
                    .expression_attribute_values(":claimed", string("claimed"))
                    .send()
                    .await
                    .map(|_| ()),
                OPERATION,
            );
        }
        ignore_lost_condition(
            self.client
                .update_item()
                .table_name(&self.table)
                .key("id", string(&id))
                .update_expression("SET #state = :sent")
                .condition_expression("attribute_exists(id)")
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":sent", string("sent"))
                .send()
                .await
                .map(|_| ()),
            OPERATION,
        )
    }
}

/// A settle whose condition failed has nothing to do: the claim is gone, or already settled.
fn ignore_lost_condition<E>(
    result: Result<
        (),
        aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
    >,
    operation: &'static str,
) -> Result<(), PortError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    match result {
        Ok(()) => Ok(()),
        Err(error) if error_code(&error) == Some("ConditionalCheckFailedException") => Ok(()),
        Err(error) => Err(classify(operation, &error, permanent::DYNAMODB)),
    }
}
