//! End to end on the AWS wire protocol: moto's server mode plays S3, SQS, SNS and DynamoDB;
//! real S3 notifications and SNS deliveries reach the intake queue; the Lambda handler runs on the
//! real SQS messages; the assertions read the subscriber queues, the table and the intake queue.
#![cfg(feature = "aws")]

mod support;

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use invite_router::aws::lambda::Handler;
use invite_router::aws::metrics::Metrics;
use invite_router::aws::{DynamoLedger, S3MailStore, SnsPublisher, SqsQueue, s3_client};
use invite_router::core::model::Topic;
use invite_router::service::Service;
use serde_json::json;
use support::aws::{AwsWorld, MAIL_BUCKET, QUIET_BUCKET, demo_email, s3_event_body};
use support::fakes::ThrottledFor;
use support::moto::Moto;

const UID: &str = "3qv1l5t0quarterly2026@google.com";

fn string(item: &HashMap<String, AttributeValue>, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(text)) => text.clone(),
        Some(AttributeValue::N(number)) => number.clone(),
        other => panic!("{name}: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invites_life_through_s3_notifications_and_the_handler() {
    let Some(moto) = Moto::start() else { return };
    let world = AwsWorld::new(&moto).await;
    let handler = world.handler();

    // Configuring the notification made S3 send s3:TestEvent: acknowledged and deleted.
    let test_event = world.receive_intake(1).await;
    let body = test_event.records[0].body.clone().unwrap();
    assert!(body.contains("s3:TestEvent"), "{body}");
    let response = handler.handle(test_event).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(world.intake_depth().await, (0, 0));

    // Keys with a space, a plus and a slash arrive URL-encoded; the handler must decode them.
    let life = [
        ("01-invite.eml", "inbox/2026 11/invite+draft.eml"),
        ("02-reschedule.eml", "inbox/02-reschedule.eml"),
        ("03-late-copy-of-invite.eml", "inbox/03-late.eml"),
        ("04-spoofed-cancel.eml", "inbox/04-spoof.eml"),
        ("05-cancel.eml", "inbox/05-cancel.eml"),
        ("06-no-invite.eml", "inbox/06-lunch.eml"),
    ];
    for (email, key) in life {
        world.put(MAIL_BUCKET, key, demo_email(email)).await;
        let event = world.receive_intake(1).await;
        let response = handler.handle(event).await.unwrap();
        assert!(
            response.batch_item_failures.is_empty(),
            "{email}: {response:?}"
        );
        assert_eq!(world.intake_depth().await, (0, 0), "{email} was deleted");
    }

    let published = world.drain_all().await;
    let count = |topic| published[&topic].len();
    assert_eq!(
        [
            count(Topic::Create),
            count(Topic::Update),
            count(Topic::Cancel),
            count(Topic::Rejected)
        ],
        [1, 1, 1, 2],
        "the late copy is stale: nothing published"
    );
    let create = &published[&Topic::Create][0];
    assert_eq!(
        create.body["source"]["key"],
        "inbox/2026 11/invite+draft.eml"
    );
    assert_eq!(create.body["source"]["bucket"], MAIL_BUCKET);
    assert_eq!(create.body["event"]["uid"], UID);
    assert_eq!(create.attributes["route"], "create");
    assert_eq!(create.attributes["method"], "REQUEST");
    assert_eq!(create.attributes["uid"], UID);
    let update = &published[&Topic::Update][0];
    assert_eq!(update.body["event"]["start"], "2026-12-03T09:00:00Z");
    assert_eq!(update.attributes["route"], "update");
    let cancel = &published[&Topic::Cancel][0];
    assert_eq!(cancel.attributes["method"], "CANCEL");
    let mut told: Vec<String> = published[&Topic::Rejected]
        .iter()
        .map(|m| format!("{} {}", m.body["sender"], m.body["reason"]))
        .collect();
    told.sort();
    assert_eq!(
        told,
        [
            "\"bob@example.com\" \"no_calendar\"",
            "\"mallory@evil.example\" \"sender_not_organizer\""
        ]
    );

    let item = world
        .ledger_item(UID, "-")
        .await
        .expect("the series is on record");
    assert_eq!(string(&item, "status"), "cancelled");
    assert_eq!(string(&item, "sequence"), "2");
    assert_eq!(string(&item, "revision"), "3", "create, update, cancel");
    assert_eq!(string(&item, "organizer"), "alice@example.com");
    assert_eq!(string(&item, "last_source_key"), "inbox/05-cancel.eml");
    assert!(
        !item.contains_key("outbox"),
        "every outbox entry was delivered and cleared"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_wrapped_and_ses_receipt_envelopes_arrive_through_real_sns() {
    let Some(moto) = Moto::start() else { return };
    let world = AwsWorld::new(&moto).await;
    let handler = world.handler();
    // Drop the bucket's s3:TestEvent; this test is about the SNS envelopes.
    handler.handle(world.receive_intake(1).await).await.unwrap();

    // An SNS topic delivering to the intake queue *without* raw delivery: bodies are SNS envelopes.
    let inbound = world
        .sns
        .create_topic()
        .name("ses-inbound")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    world
        .sns
        .subscribe()
        .topic_arn(&inbound)
        .protocol("sqs")
        .endpoint(&world.intake_arn)
        .send()
        .await
        .unwrap();

    // SES stored the mail with its S3 action and notified through SNS.
    world
        .put(
            QUIET_BUCKET,
            "ses/0f1e2d3c4b5a",
            demo_email("01-invite.eml"),
        )
        .await;
    let ses_notification = json!({
        "notificationType": "Received",
        "mail": {"messageId": "0f1e2d3c4b5a", "source": "alice@example.com",
                 "destination": ["create@invites.example.com"]},
        "receipt": {
            "recipients": ["create@invites.example.com"],
            "spamVerdict": {"status": "PASS"},
            "virusVerdict": {"status": "PASS"},
            "action": {"type": "S3", "topicArn": inbound, "bucketName": QUIET_BUCKET,
                       "objectKeyPrefix": "ses/", "objectKey": "ses/0f1e2d3c4b5a"}
        }
    });
    world
        .sns
        .publish()
        .topic_arn(&inbound)
        .message(ses_notification.to_string())
        .send()
        .await
        .unwrap();
    let event = world.receive_intake(1).await;
    let body = event.records[0].body.clone().unwrap();
    assert!(
        body.contains("\"Type\"") && body.contains("Notification"),
        "{body}"
    );
    let response = handler.handle(event).await.unwrap();
    assert!(response.batch_item_failures.is_empty());

    // An S3 event notification fanned out through SNS.
    world
        .put(
            QUIET_BUCKET,
            "wrapped/02 reschedule+v1.eml",
            demo_email("02-reschedule.eml"),
        )
        .await;
    world
        .sns
        .publish()
        .topic_arn(&inbound)
        .message(s3_event_body(
            QUIET_BUCKET,
            "wrapped%2F02+reschedule%2Bv1.eml",
        ))
        .send()
        .await
        .unwrap();
    let response = handler.handle(world.receive_intake(1).await).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(world.intake_depth().await, (0, 0));

    let published = world.drain_all().await;
    assert_eq!(published[&Topic::Create].len(), 1);
    assert_eq!(
        published[&Topic::Create][0].body["source"]["key"],
        "ses/0f1e2d3c4b5a"
    );
    assert_eq!(published[&Topic::Update].len(), 1);
    assert_eq!(
        published[&Topic::Update][0].body["source"]["key"],
        "wrapped/02 reschedule+v1.eml"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_object_is_permanent_and_its_message_deleted() {
    let Some(moto) = Moto::start() else { return };
    let world = AwsWorld::new(&moto).await;
    let handler = world.handler();
    handler.handle(world.receive_intake(1).await).await.unwrap();

    world
        .send_intake(&s3_event_body(MAIL_BUCKET, "inbox%2Fgone.eml"))
        .await;
    world.send_intake("this is not an envelope").await;
    let response = handler.handle(world.receive_intake(2).await).await.unwrap();
    assert!(
        response.batch_item_failures.is_empty(),
        "permanent: not retried"
    );
    assert_eq!(world.intake_depth().await, (0, 0), "and deleted");
    assert!(world.drain_all().await.values().all(Vec::is_empty));
}

/// A bucket that is not there is a deployment fault (a wrong name, a deleted bucket), not a
/// missing mail: S3 answers NoSuchBucket, the record is reported for retry and stays queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_bucket_keeps_the_message_for_retry() {
    let Some(moto) = Moto::start() else { return };
    let world = AwsWorld::new(&moto).await;
    let handler = world.handler();
    handler.handle(world.receive_intake(1).await).await.unwrap();

    world
        .send_intake(&s3_event_body("no-such-bucket-here", "inbox%2Fmail.eml"))
        .await;
    let response = handler.handle(world.receive_intake(1).await).await.unwrap();
    assert_eq!(response.batch_item_failures.len(), 1, "transient: retried");
    assert_eq!(world.intake_depth().await, (0, 1), "still in the queue");
    assert!(world.drain_all().await.values().all(Vec::is_empty));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_batch_leaves_only_the_transient_failure_in_the_queue() {
    let Some(moto) = Moto::start() else { return };
    let world = AwsWorld::new(&moto).await;
    world
        .handler()
        .handle(world.receive_intake(1).await)
        .await
        .unwrap();

    // Another meeting (the demo copy without a base64 attachment, so one replace renames it).
    let other_invite = String::from_utf8(demo_email("03-late-copy-of-invite.eml"))
        .unwrap()
        .replace(UID, "throttled-event@example.com")
        .into_bytes();
    world
        .put(QUIET_BUCKET, "good.eml", demo_email("01-invite.eml"))
        .await;
    world
        .put(QUIET_BUCKET, "refused.eml", demo_email("06-no-invite.eml"))
        .await;
    world.put(QUIET_BUCKET, "throttled.eml", other_invite).await;
    for key in ["good.eml", "refused.eml", "throttled.eml"] {
        world.send_intake(&s3_event_body(QUIET_BUCKET, key)).await;
    }
    let event = world.receive_intake(3).await;
    let throttled_record = event
        .records
        .iter()
        .find(|record| record.body.as_deref().unwrap().contains("throttled.eml"))
        .unwrap();
    let throttled_id = throttled_record.message_id.clone().unwrap();
    let throttled_receipt = throttled_record.receipt_handle.clone().unwrap();

    let config = world.config();
    let throttled = Handler {
        service: Service::new(
            S3MailStore::new(s3_client(&world.sdk), None),
            ThrottledFor {
                inner: DynamoLedger::new(
                    aws_sdk_dynamodb::Client::new(&world.sdk),
                    &config.ledger_table,
                ),
                uid: "throttled-event@example.com",
            },
            SnsPublisher::new(aws_sdk_sns::Client::new(&world.sdk), config.topics.clone()),
            config.limits.clone(),
            config.policy.clone(),
        ),
        queue: SqsQueue::new(aws_sdk_sqs::Client::new(&world.sdk), &config.queue_url),
        concurrency: 8,
        metrics: Metrics::to_stdout(&config.metrics.namespace, &config.metrics.stage),
    };
    let response = throttled.handle(event).await.unwrap();
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|failure| failure.item_identifier.as_str())
        .collect();
    assert_eq!(failed, [throttled_id.as_str()]);
    assert_eq!(
        world.intake_depth().await,
        (0, 1),
        "only the failure is left, in flight"
    );
    let published = world.drain_all().await;
    assert_eq!(published[&Topic::Create].len(), 1);
    assert_eq!(published[&Topic::Rejected].len(), 1);

    // The throttling passes; SQS redelivers the message (made visible now rather than after
    // its visibility timeout) and it goes through.
    world
        .sqs
        .change_message_visibility()
        .queue_url(&world.intake_url)
        .receipt_handle(throttled_receipt)
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    let retry = world.receive_intake(1).await;
    let response = world.handler().handle(retry).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(world.intake_depth().await, (0, 0));
    let published = world.drain_all().await;
    assert_eq!(published[&Topic::Create].len(), 1);
    assert_eq!(
        published[&Topic::Create][0].body["event"]["uid"],
        "throttled-event@example.com"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_ledger_table_keeps_the_message_until_the_dlq() {
    let Some(moto) = Moto::start() else { return };
    let world = AwsWorld::new(&moto).await;
    let handler = world.handler();
    handler.handle(world.receive_intake(1).await).await.unwrap();

    world
        .dynamodb
        .delete_table()
        .table_name(support::aws::TABLE)
        .send()
        .await
        .unwrap();
    world
        .put(MAIL_BUCKET, "inbox/invite.eml", demo_email("01-invite.eml"))
        .await;
    let event = world.receive_intake(1).await;
    let message_id = event.records[0].message_id.clone().unwrap();
    let mut receipt = event.records[0].receipt_handle.clone().unwrap();
    let response = handler.handle(event).await.unwrap();
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|failure| failure.item_identifier.as_str())
        .collect();
    assert_eq!(
        failed,
        [message_id.as_str()],
        "a deployment fault is transient"
    );
    assert_eq!(
        world.intake_depth().await,
        (0, 1),
        "not deleted: it will be retried"
    );

    // Never lost: every retry fails the same way until SQS moves it to the DLQ (maxReceiveCount 5).
    for _ in 2..=5 {
        world.make_visible(&receipt).await;
        let retry = world.receive_intake(1).await;
        receipt = retry.records[0].receipt_handle.clone().unwrap();
        let response = handler.handle(retry).await.unwrap();
        assert_eq!(response.batch_item_failures.len(), 1);
    }
    world.make_visible(&receipt).await;
    assert_eq!(
        world.dlq_depth_after_redrive().await,
        1,
        "the email waits in the DLQ"
    );
    assert!(world.drain_all().await.values().all(Vec::is_empty));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dynamodb_ledger_keeps_the_ledger_contract() {
    let Some(moto) = Moto::start() else { return };
    let world = AwsWorld::new(&moto).await;
    let ledger = DynamoLedger::new(
        aws_sdk_dynamodb::Client::new(&world.sdk),
        support::aws::TABLE,
    );
    support::ledger_contract::check(&ledger).await;
}

/// A refused email in S3 -> the router -> the rejected topic -> the notifier's queue -> the
/// notifier -> SES: moto records exactly one reply, to the sender, threaded and auto-replied; a
/// redelivery of the same rejected message sends nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_email_is_answered_through_ses_once() {
    let Some(moto) = Moto::start() else { return };
    let world = AwsWorld::new(&moto).await;
    let handler = world.handler();
    let notifier = world.notifier(10).await;
    let _ = handler.handle(world.receive_intake(1).await).await.unwrap();

    world
        .put(
            MAIL_BUCKET,
            "inbox/lunch.eml",
            demo_email("06-no-invite.eml"),
        )
        .await;
    let response = handler.handle(world.receive_intake(1).await).await.unwrap();
    assert!(response.batch_item_failures.is_empty());

    let refusals = world.receive_topic(Topic::Rejected, 1).await;
    let redelivery = refusals.clone();
    let body: serde_json::Value =
        serde_json::from_str(refusals.records[0].body.as_deref().unwrap()).unwrap();
    support::schema::assert_valid(Topic::Rejected, &body.to_string());
    let response = notifier.handle(refusals).await.unwrap();
    assert!(response.batch_item_failures.is_empty(), "{response:?}");

    let sent = world.sent_mail();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let (source, destinations, raw) = &sent[0];
    let sender = body["sender"].as_str().unwrap();
    assert_eq!(source, support::aws::REPLY_FROM);
    assert!(
        destinations.iter().all(|to| to == sender),
        "{destinations:?}"
    );
    let reply = mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .expect("moto kept the raw reply");
    assert_eq!(
        reply
            .to()
            .and_then(|to| to.first())
            .and_then(|a| a.address()),
        Some(sender)
    );
    let original_subject = body["subject"].as_str().unwrap();
    assert_eq!(
        reply.subject(),
        Some(format!("Re: {original_subject}").as_str())
    );
    assert_eq!(
        reply.in_reply_to().as_text(),
        body["source"]["message_id"].as_str()
    );
    assert_eq!(
        reply.header_raw("Auto-Submitted").map(str::trim),
        Some("auto-replied")
    );
    let text = reply.body_text(0).expect("a text part");
    assert!(
        text.contains("did not contain a calendar invitation"),
        "{text}"
    );
    assert!(reply.body_html(0).is_some());

    // The same rejected message delivered again: the reply log says it went out already.
    let response = notifier.handle(redelivery).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(world.sent_mail().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dynamodb_reply_log_keeps_the_reply_log_contract() {
    let Some(moto) = Moto::start() else { return };
    let world = AwsWorld::new(&moto).await;
    let _ = world.notifier(10).await;
    let log =
        invite_router::aws::DynamoReplyLog::new(world.dynamodb.clone(), support::aws::REPLY_TABLE);
    support::reply_log_contract::check(&log).await;
    // A recipient whose key would pass DynamoDB's 2048-byte limit is refused for good, before
    // the call (a retry would fail the same way until the DLQ).
    use invite_router::ports::{ClaimTerms, Classified, ReplyLog};
    let long = format!("{}@example.com", "a".repeat(2100));
    let terms = ClaimTerms {
        rate_limit: 10,
        claim_seconds: 150,
    };
    let error = log
        .claim("id-long", &long, chrono::Utc::now(), terms)
        .await
        .unwrap_err();
    assert!(!error.is_transient(), "{error}");
}

/// SES's MessageRejected for a From that is not a verified identity is a deployment fault the
/// operator fixes (verify the identity, leave the sandbox): transient, so the reply waits in the
/// DLQ instead of being dropped. (A MessageRejected for the content is permanent: src/aws/ses.rs.)
/// An unreachable endpoint is transient too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unverified_identity_and_an_outage_keep_the_reply_for_retry() {
    use invite_router::aws::SesMailer;
    use invite_router::ports::{Classified, Mailer};
    let Some(moto) = Moto::start() else { return };
    let world = AwsWorld::new(&moto).await;
    let reply = invite_router::core::reply::Reply {
        dedupe_id: "ab".repeat(32),
        from: "nobody@unverified.example".into(),
        to: "ann@example.com".into(),
        message_id: "x@unverified.example".into(),
        raw: b"From: nobody@unverified.example\r\nTo: ann@example.com\r\nSubject: x\r\n\r\nx\r\n"
            .to_vec(),
    };
    let mailer = SesMailer::new(aws_sdk_sesv2::Client::new(&world.sdk), None);
    let error = mailer.send(&reply).await.unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert!(error.to_string().contains("MessageRejected"), "{error}");

    let nowhere = support::aws::sdk_config("http://127.0.0.1:9").await;
    let error = SesMailer::new(aws_sdk_sesv2::Client::new(&nowhere), None)
        .send(&reply)
        .await
        .unwrap_err();
    assert!(error.is_transient(), "{error}");
}

/// A commit is one transaction or nothing: over 100 items the DynamoDB ledger refuses (the core
/// refuses such a message as too_large first) instead of splitting it into parts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dynamodb_ledger_never_splits_a_commit() {
    use invite_router::core::model::{EventKey, ItemKind, RecordState, RecordStatus, Version};
    use invite_router::ports::{Classified, Ledger, LedgerWrite, StoredRecord};
    let Some(moto) = Moto::start() else { return };
    let world = AwsWorld::new(&moto).await;
    let ledger = DynamoLedger::new(world.dynamodb.clone(), support::aws::TABLE);
    let writes: Vec<LedgerWrite> = (0..101)
        .map(|index| LedgerWrite {
            expected_revision: None,
            record: StoredRecord {
                key: EventKey {
                    uid: "big-uid".into(),
                    item: ItemKind::Occurrence(format!(
                        "2027-01-01T00:{:02}:{:02}Z",
                        index / 60,
                        index % 60
                    )),
                },
                state: RecordState {
                    organizer: Some("alice@example.com".into()),
                    status: RecordStatus::Active,
                    version: Version::default(),
                },
                revision: 1,
                last_source_key: None,
                updated_at: "2026-12-01T00:00:00Z".into(),
                outbox: None,
            },
        })
        .collect();
    let error = ledger.commit(&writes, &[]).await.unwrap_err();
    assert!(error.is_transient(), "kept for the DLQ: {error}");
    let keys: Vec<EventKey> = writes
        .iter()
        .map(|write| write.record.key.clone())
        .collect();
    let read = ledger.read(&keys[..3]).await.unwrap();
    assert!(read.iter().all(Option::is_none), "nothing was written");
    // 100 go through whole.
    assert_eq!(
        ledger.commit(&writes[..100], &[]).await.unwrap(),
        invite_router::ports::CommitOutcome::Committed
    );
}

/// SNS refuses a message over 256 KiB with InvalidParameter: permanent, so that the service sets
/// such an outbox entry aside instead of retrying it before every later email of its event. A
/// message within the limit publishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_refuses_an_oversized_message_for_good() {
    use invite_router::core::model::Topic;
    use invite_router::ports::{Classified, Publisher};
    let Some(moto) = Moto::start() else { return };
    let world = AwsWorld::new(&moto).await;
    let publisher = SnsPublisher::new(aws_sdk_sns::Client::new(&world.sdk), world.topics.clone());
    let body = |size: usize| format!("{{\"dedupe_id\":\"{}\"}}", "x".repeat(size));
    let attributes = [("route".to_owned(), "create".to_owned())];
    let error = publisher
        .publish(Topic::Create, &body(300 * 1024), &attributes)
        .await
        .unwrap_err();
    assert!(!error.is_transient(), "{error}");
    assert!(error.to_string().contains("InvalidParameter"), "{error}");
    publisher
        .publish(Topic::Create, &body(200 * 1024), &attributes)
        .await
        .unwrap();
}
