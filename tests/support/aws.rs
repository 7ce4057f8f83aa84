//! A whole deployment on moto, created through the SDK as the CDK app would: the mail bucket with
//! its S3 -> SQS notification, the intake queue and its DLQ, the four topics each subscribed by a
//! test queue (raw delivery), and the ledger table.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use aws_sdk_s3::config::Credentials;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Event, NotificationConfiguration, QueueConfiguration};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use invite_router::aws::lambda::AwsHandler;
use invite_router::aws::notifier_lambda::AwsNotifierHandler;
use invite_router::config::{Config, NotifierConfig, TopicArns};
use invite_router::core::model::Topic;
use serde_json::{Value, json};

use super::moto::Moto;
use super::schema;

pub const REGION: &str = "us-east-1";
pub const MAIL_BUCKET: &str = "inbound-mail";
/// A bucket without notifications, for envelopes the tests send themselves.
pub const QUIET_BUCKET: &str = "ses-mail";
pub const TABLE: &str = "invite-ledger";

pub struct AwsWorld {
    pub sdk: SdkConfig,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub sns: aws_sdk_sns::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub intake_url: String,
    pub intake_arn: String,
    pub dlq_url: String,
    pub topics: TopicArns,
    pub topic_queues: HashMap<Topic, String>,
    pub endpoint: String,
}

/// What a topic's subscriber queue received.
#[derive(Debug, Clone)]
pub struct Received {
    pub body: Value,
    pub attributes: HashMap<String, String>,
}

impl AwsWorld {
    pub async fn new(moto: &Moto) -> AwsWorld {
        let sdk = sdk_config(&moto.endpoint).await;
        let s3 = invite_router::aws::s3_client(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let sns = aws_sdk_sns::Client::new(&sdk);
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);

        let (dlq_url, dlq_arn) = create_queue(&sqs, "intake-dlq", HashMap::new()).await;
        let redrive = json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}).to_string();
        let (intake_url, intake_arn) = create_queue(
            &sqs,
            "intake",
            HashMap::from([
                (QueueAttributeName::RedrivePolicy, redrive),
                // Long enough that a message left for retry stays in flight during the test.
                (QueueAttributeName::VisibilityTimeout, "60".to_owned()),
            ]),
        )
        .await;

        let mut arns = HashMap::new();
        let mut topic_queues = HashMap::new();
        for topic in Topic::ALL {
            let arn = sns
                .create_topic()
                .name(format!("invite-{topic}"))
                .send()
                .await
                .unwrap()
                .topic_arn
                .unwrap();
            let (queue_url, queue_arn) =
                create_queue(&sqs, &format!("subscriber-{topic}"), HashMap::new()).await;
            sns.subscribe()
                .topic_arn(&arn)
                .protocol("sqs")
                .endpoint(queue_arn)
                .attributes("RawMessageDelivery", "true")
                .send()
                .await
                .unwrap();
            arns.insert(topic, arn);
            topic_queues.insert(topic, queue_url);
        }
        let topics = TopicArns {
            create: arns[&Topic::Create].clone(),
            update: arns[&Topic::Update].clone(),
            cancel: arns[&Topic::Cancel].clone(),
            rejected: arns[&Topic::Rejected].clone(),
        };

        dynamodb
            .create_table()
            .table_name(TABLE)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attribute("uid"))
            .attribute_definitions(attribute("recurrence_id"))
            .key_schema(key("uid", KeyType::Hash))
            .key_schema(key("recurrence_id", KeyType::Range))
            .send()
            .await
            .unwrap();

        for bucket in [MAIL_BUCKET, QUIET_BUCKET] {
            s3.create_bucket().bucket(bucket).send().await.unwrap();
        }
        s3.put_bucket_notification_configuration()
            .bucket(MAIL_BUCKET)
            .notification_configuration(
                NotificationConfiguration::builder()
                    .queue_configurations(
                        QueueConfiguration::builder()
                            .queue_arn(&intake_arn)
                            .events(Event::from("s3:ObjectCreated:*"))
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();

        AwsWorld {
            sdk,
            s3,
            sqs,
            sns,
            dynamodb,
            intake_url,
            intake_arn,
            dlq_url,
            topics,
            topic_queues,
            endpoint: moto.endpoint.clone(),
        }
    }

    /// The Lambda's configuration for this deployment.
    pub fn config(&self) -> Config {
        let env = self.lambda_env();
        Config::from_env(&|name| env.get(name).cloned()).unwrap()
    }

    /// The environment the CDK app gives the function.
    pub fn lambda_env(&self) -> HashMap<String, String> {
        HashMap::from([
            ("CREATE_TOPIC_ARN".into(), self.topics.create.clone()),
            ("UPDATE_TOPIC_ARN".into(), self.topics.update.clone()),
            ("CANCEL_TOPIC_ARN".into(), self.topics.cancel.clone()),
            ("REJECTED_TOPIC_ARN".into(), self.topics.rejected.clone()),
            ("LEDGER_TABLE".into(), TABLE.into()),
            ("QUEUE_URL".into(), self.intake_url.clone()),
        ])
    }

    pub fn handler(&self) -> AwsHandler {
        AwsHandler::from_sdk_config(&self.sdk, self.config())
    }

    pub async fn put(&self, bucket: &str, key: &str, raw: Vec<u8>) {
        self.s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(raw))
            .send()
            .await
            .unwrap();
    }

    /// Sends a raw body to the intake queue, as any producer could.
    pub async fn send_intake(&self, body: &str) {
        self.sqs
            .send_message()
            .queue_url(&self.intake_url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }

    /// Receives exactly `count` intake messages (waiting up to 20 s) as the Lambda event SQS
    /// would deliver them.
    pub async fn receive_intake(&self, count: usize) -> SqsEvent {
        self.receive_from(&self.intake_url, &self.intake_arn, count)
            .await
    }

    /// Receives exactly `count` messages of a topic's subscriber queue as a Lambda event: the
    /// `rejected` topic's queue is the notifier's.
    pub async fn receive_topic(&self, topic: Topic, count: usize) -> SqsEvent {
        let url = self.topic_queues[&topic].clone();
        self.receive_from(&url, "arn:aws:sqs:us-east-1:123456789012:subscriber", count)
            .await
    }

    async fn receive_from(&self, queue_url: &str, queue_arn: &str, count: usize) -> SqsEvent {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut records = Vec::new();
        while records.len() < count {
            assert!(
                Instant::now() < deadline,
                "only {} of {count} messages arrived",
                records.len()
            );
            let output = self
                .sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages((count - records.len()).min(10) as i32)
                .wait_time_seconds(1)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await
                .unwrap();
            for message in output.messages.unwrap_or_default() {
                records.push(json!({
                    "messageId": message.message_id,
                    "receiptHandle": message.receipt_handle,
                    "body": message.body,
                    "md5OfBody": message.md5_of_body,
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "eventSource": "aws:sqs",
                    "eventSourceARN": queue_arn,
                    "awsRegion": REGION,
                }));
            }
        }
        serde_json::from_value(json!({ "Records": records })).unwrap()
    }

    /// Ends the visibility timeout of an in-flight intake message now, as its expiry would.
    pub async fn make_visible(&self, receipt_handle: &str) {
        self.sqs
            .change_message_visibility()
            .queue_url(&self.intake_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
    }

    /// Receives from the intake queue once more (which lets SQS apply the redrive policy to a
    /// message past maxReceiveCount), then counts the DLQ's messages.
    pub async fn dlq_depth_after_redrive(&self) -> usize {
        let received = self
            .sqs
            .receive_message()
            .queue_url(&self.intake_url)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        assert!(
            received.is_empty(),
            "the message went to the DLQ, not to a 6th attempt"
        );
        let output = self
            .sqs
            .receive_message()
            .queue_url(&self.dlq_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        output.messages.unwrap_or_default().len()
    }

    /// (visible, in flight) messages in the intake queue.
    pub async fn intake_depth(&self) -> (u64, u64) {
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.intake_url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap_or_default();
        let count = |name: QueueAttributeName| {
            attributes
                .get(&name)
                .and_then(|value| value.parse().ok())
                .unwrap_or(0)
        };
        (
            count(QueueAttributeName::ApproximateNumberOfMessages),
            count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        )
    }

    /// Everything the topic's subscriber queue holds now, schema-checked, attributes included.
    pub async fn drain_topic(&self, topic: Topic) -> Vec<Received> {
        let mut received = Vec::new();
        loop {
            let output = self
                .sqs
                .receive_message()
                .queue_url(&self.topic_queues[&topic])
                .max_number_of_messages(10)
                .message_attribute_names("All")
                .send()
                .await
                .unwrap();
            let messages = output.messages.unwrap_or_default();
            if messages.is_empty() {
                return received;
            }
            for message in messages {
                let body = message.body.clone().unwrap_or_default();
                let value = schema::assert_valid(topic, &body);
                let attributes = message
                    .message_attributes
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(name, value)| (name, value.string_value.unwrap_or_default()))
                    .collect();
                self.sqs
                    .delete_message()
                    .queue_url(&self.topic_queues[&topic])
                    .receipt_handle(message.receipt_handle.unwrap_or_default())
                    .send()
                    .await
                    .unwrap();
                received.push(Received {
                    body: value,
                    attributes,
                });
            }
        }
    }

    /// Counts per topic, draining every subscriber queue.
    pub async fn drain_all(&self) -> HashMap<Topic, Vec<Received>> {
        let mut all = HashMap::new();
        for topic in Topic::ALL {
            all.insert(topic, self.drain_topic(topic).await);
        }
        all
    }

    pub async fn ledger_item(
        &self,
        uid: &str,
        recurrence_id: &str,
    ) -> Option<HashMap<String, AttributeValue>> {
        self.dynamodb
            .get_item()
            .table_name(TABLE)
            .key("uid", AttributeValue::S(uid.into()))
            .key("recurrence_id", AttributeValue::S(recurrence_id.into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
    }
}

pub const REPLY_TABLE: &str = "invite-replies";
pub const REPLY_FROM: &str = "invite-router@replies.example.org";

impl AwsWorld {
    /// The notifier's side of the deployment: the reply-log table (TTL on `expires_at`, as the
    /// CDK app creates it) and REPLY_FROM verified as an SES identity; then the handler the
    /// notifier Lambda runs, with `rate_limit`.
    pub async fn notifier(&self, rate_limit: u32) -> AwsNotifierHandler {
        self.dynamodb
            .create_table()
            .table_name(REPLY_TABLE)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attribute("id"))
            .key_schema(key("id", KeyType::Hash))
            .send()
            .await
            .unwrap();
        aws_sdk_sesv2::Client::new(&self.sdk)
            .create_email_identity()
            .email_identity(REPLY_FROM)
            .send()
            .await
            .unwrap();
        let env = HashMap::from([
            ("REPLY_TABLE".to_owned(), REPLY_TABLE.to_owned()),
            ("REPLY_FROM".to_owned(), REPLY_FROM.to_owned()),
            ("REPLY_RATE_LIMIT".to_owned(), rate_limit.to_string()),
        ]);
        let config = NotifierConfig::from_env(&|name| env.get(name).cloned()).unwrap();
        AwsNotifierHandler::from_sdk_config(&self.sdk, config)
    }

    /// What moto's SES recorded as sent, raw: (source, destinations, raw message).
    pub fn sent_mail(&self) -> Vec<(String, Vec<String>, String)> {
        let data = http_get_json(&self.endpoint, "/moto-api/data.json");
        data["ses"]["RawMessage"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|message| {
                let destinations = message["destinations"]
                    .as_array()
                    .map(|list| {
                        list.iter()
                            .filter_map(|value| value.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                (
                    message["source"].as_str().unwrap_or_default().to_owned(),
                    destinations,
                    message["raw_data"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }
}

/// A GET on moto's own API (plain HTTP/1.0 on loopback; no client library needed).
fn http_get_json(endpoint: &str, path: &str) -> Value {
    use std::io::{Read, Write};
    let address = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    serde_json::from_str(body).unwrap_or_else(|error| panic!("{path}: {error}: {body}"))
}

pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(invite_router::aws::https_client())
        .endpoint_url(endpoint)
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .load()
        .await
}

pub async fn create_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    attributes: HashMap<QueueAttributeName, String>,
) -> (String, String) {
    let url = sqs
        .create_queue()
        .queue_name(name)
        .set_attributes(Some(attributes))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()
        .remove(&QueueAttributeName::QueueArn)
        .unwrap();
    (url, arn)
}

fn attribute(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .unwrap()
}

fn key(name: &str, key_type: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .unwrap()
}

/// A demo email's bytes (demo/emails), the realistic invite life the tests replay.
pub fn demo_email(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("demo/emails")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// An S3 event notification body naming one object, key URL-encoded as S3 does.
pub fn s3_event_body(bucket: &str, encoded_key: &str) -> String {
    json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
               "object": {"key": encoded_key, "size": 1}}
    }]})
    .to_string()
}
