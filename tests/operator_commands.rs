//! The operator's commands against moto: `invite-router dlq list` shows what is in a dead-letter
//! queue without taking it out, `dlq redrive` moves one message or all of them back to the
//! intake queue (body and attributes intact), and `invite-router reprocess` runs a stored email
//! through the real pipeline again and prints the same line as `process`. The list and redrive
//! logic is called directly; every command also runs as the real binary, as an operator would.
#![cfg(feature = "aws")]

mod support;

use std::collections::HashMap;
use std::process::{Command, Output};

use invite_router::aws::operator::{OperatorError, Redrive, dlq_list, dlq_redrive};
use invite_router::core::model::Topic;
use serde_json::Value;
use support::aws::{AwsWorld, MAIL_BUCKET, demo_email, s3_event_body};
use support::moto::Moto;

fn operator_env(world: &AwsWorld) -> HashMap<String, String> {
    let mut env = world.lambda_env();
    env.extend(
        [
            ("DEAD_LETTER_QUEUE_URL", world.dlq_url.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_ENDPOINT_URL", world.endpoint.as_str()),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ]
        .map(|(name, value)| (name.to_owned(), value.to_owned())),
    );
    env
}

async fn run(world: &AwsWorld, args: &[&str]) -> Output {
    let env = operator_env(world);
    let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_invite-router"))
            .args(&args)
            .env_clear()
            .envs(&env)
            .output()
            .expect("the binary runs")
    })
    .await
    .unwrap()
}

fn lines(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

async fn to_dlq(world: &AwsWorld, key: &str) -> String {
    world
        .sqs
        .send_message()
        .queue_url(&world.dlq_url)
        .message_body(s3_event_body(MAIL_BUCKET, key))
        .message_attributes(
            "origin",
            aws_sdk_sqs::types::MessageAttributeValue::builder()
                .data_type("String")
                .string_value("test")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .message_id
        .unwrap()
}

/// A world whose intake queue holds only what a redrive moves (its s3:TestEvent handled).
async fn drained_world(moto: &Moto) -> AwsWorld {
    let world = AwsWorld::new(moto).await;
    let _ = world
        .handler()
        .handle(world.receive_intake(1).await)
        .await
        .unwrap();
    world
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dlq_list_shows_and_redrive_moves_back() {
    let Some(moto) = Moto::start() else { return };
    let world = drained_world(&moto).await;
    let first = to_dlq(&world, "incoming/first.eml").await;
    let second = to_dlq(&world, "incoming/second.eml").await;

    let listed = dlq_list(&world.sqs, &world.dlq_url).await.unwrap();
    let mut ids: Vec<&str> = listed
        .iter()
        .map(|entry| entry.message_id.as_str())
        .collect();
    ids.sort_unstable();
    let mut expected = vec![first.as_str(), second.as_str()];
    expected.sort_unstable();
    assert_eq!(ids, expected);
    let entry = listed
        .iter()
        .find(|entry| entry.message_id == first)
        .unwrap();
    assert_eq!(entry.s3_keys, ["incoming/first.eml"]);
    assert!(entry.sent_at.is_some());
    // Listing leaves everything in place and visible: the binary sees both too.
    let output = run(&world, &["dlq", "list"]).await;
    assert!(output.status.success(), "{output:?}");
    let printed = lines(&output);
    assert_eq!(printed.len(), 2, "{printed:?}");
    assert!(printed.iter().all(|line| {
        line["s3_keys"]
            .as_array()
            .is_some_and(|keys| keys.len() == 1)
    }));
    assert!(printed.iter().all(|line| line["receive_count"].is_u64()));

    // One message back by id, through the binary.
    let output = run(&world, &["dlq", "redrive", "--message-id", &first]).await;
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        lines(&output),
        [serde_json::json!({ "moved": first, "to": world.intake_url })]
    );
    let back = world
        .sqs
        .receive_message()
        .queue_url(&world.intake_url)
        .message_attribute_names("All")
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(back.len(), 1);
    assert_eq!(
        back[0].body(),
        Some(s3_event_body(MAIL_BUCKET, "incoming/first.eml").as_str())
    );
    let origin = back[0]
        .message_attributes()
        .and_then(|attributes| attributes.get("origin"))
        .and_then(|value| value.string_value());
    assert_eq!(
        origin,
        Some("test"),
        "message attributes travel with the body"
    );
    let left = dlq_list(&world.sqs, &world.dlq_url).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].message_id, second);

    // An id that is not there is an error, and nothing moves.
    let missing = dlq_redrive(
        &world.sqs,
        &world.dlq_url,
        &world.intake_url,
        &Redrive::MessageId("nope".into()),
    )
    .await;
    assert!(
        matches!(missing, Err(OperatorError::NotFound(_))),
        "{missing:?}"
    );
    let output = run(&world, &["dlq", "redrive", "--message-id", "nope"]).await;
    assert_eq!(output.status.code(), Some(1));

    // Everything else.
    let moved = dlq_redrive(&world.sqs, &world.dlq_url, &world.intake_url, &Redrive::All)
        .await
        .unwrap();
    assert_eq!(moved, std::slice::from_ref(&second));
    assert!(
        dlq_list(&world.sqs, &world.dlq_url)
            .await
            .unwrap()
            .is_empty()
    );

    // Usage: one of --message-id or --all.
    let output = run(&world, &["dlq", "redrive"]).await;
    assert_eq!(output.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reprocess_runs_a_stored_email_through_the_real_pipeline() {
    let Some(moto) = Moto::start() else { return };
    let world = AwsWorld::new(&moto).await;
    world
        .put(
            MAIL_BUCKET,
            "incoming/invite.eml",
            demo_email("01-invite.eml"),
        )
        .await;

    let reprocess_invite = [
        "reprocess",
        "--bucket",
        MAIL_BUCKET,
        "--key",
        "incoming/invite.eml",
    ];
    let output = run(&world, &reprocess_invite).await;
    assert!(output.status.success(), "{output:?}");
    let printed = lines(&output);
    assert_eq!(printed.len(), 1);
    assert_eq!(printed[0]["source"], "incoming/invite.eml");
    assert_eq!(printed[0]["route"], "create");
    assert_eq!(printed[0]["uid"], "3qv1l5t0quarterly2026@google.com");
    assert_eq!(world.drain_topic(Topic::Create).await.len(), 1);

    // Again: the ledger has it, so nothing is published twice.
    let output = run(&world, &reprocess_invite).await;
    assert!(output.status.success(), "{output:?}");
    assert_eq!(lines(&output)[0]["route"], "duplicate");
    assert!(world.drain_topic(Topic::Create).await.is_empty());

    // A key that is not there: reported, exit 1, nothing published.
    let output = run(
        &world,
        &[
            "reprocess",
            "--bucket",
            MAIL_BUCKET,
            "--key",
            "incoming/gone.eml",
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(lines(&output)[0]["error"].is_string());

    // Without the Lambda's variables it says which are missing.
    let output = tokio::task::spawn_blocking(|| {
        Command::new(env!("CARGO_BIN_EXE_invite-router"))
            .args(["reprocess", "--bucket", "b", "--key", "k"])
            .env_clear()
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("LEDGER_TABLE"));
}

/// Fills the DLQ with `count` messages, ten per call, twenty calls at a time.
async fn fill_dlq(world: &AwsWorld, count: usize) {
    use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
    let batches: Vec<Vec<SendMessageBatchRequestEntry>> = (0..count)
        .collect::<Vec<_>>()
        .chunks(10)
        .map(|chunk| {
            chunk
                .iter()
                .map(|index| {
                    SendMessageBatchRequestEntry::builder()
                        .id(index.to_string())
                        .message_body(s3_event_body(MAIL_BUCKET, &format!("incoming/{index}.eml")))
                        .build()
                        .unwrap()
                })
                .collect()
        })
        .collect();
    for group in batches.chunks(20) {
        let sends = group.iter().map(|entries| {
            world
                .sqs
                .send_message_batch()
                .queue_url(&world.dlq_url)
                .set_entries(Some(entries.clone()))
                .send()
        });
        for sent in futures::future::join_all(sends).await {
            assert!(sent.unwrap().failed().is_empty());
        }
    }
}

async fn depth(world: &AwsWorld, queue_url: &str) -> usize {
    use aws_sdk_sqs::types::QueueAttributeName;
    let attributes = world
        .sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    let attributes = attributes.attributes().unwrap();
    [
        QueueAttributeName::ApproximateNumberOfMessages,
        QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
    ]
    .iter()
    .map(|name| attributes[name].parse::<usize>().unwrap())
    .sum()
}

/// A large DLQ: the listing sees each message once (and leaves all visible), the redrive through
/// the binary moves them all to the intake queue and says so. `DLQ_MESSAGES` messages (300 by
/// default: moto's ReceiveMessage scans the whole queue per call, so its cost grows with the
/// square of the count; 10,000 took moto over twenty minutes of CPU here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_dlq_is_listed_and_redriven_whole() {
    let count: usize = std::env::var("DLQ_MESSAGES")
        .ok()
        .and_then(|count| count.parse().ok())
        .unwrap_or(300);
    let Some(moto) = Moto::start() else { return };
    let world = drained_world(&moto).await;
    fill_dlq(&world, count).await;

    let listed = dlq_list(&world.sqs, &world.dlq_url).await.unwrap();
    assert_eq!(listed.len(), count);
    let unique: std::collections::BTreeSet<&str> = listed
        .iter()
        .map(|entry| entry.message_id.as_str())
        .collect();
    assert_eq!(unique.len(), count);

    let output = run(&world, &["dlq", "redrive", "--all"]).await;
    assert!(output.status.success(), "{output:?}");
    let printed = lines(&output);
    assert_eq!(printed.len(), count);
    assert!(
        printed
            .iter()
            .all(|line| line["to"] == world.intake_url.as_str())
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains(&format!("moved {count} message(s)")));
    assert_eq!(depth(&world, &world.intake_url).await, count);
    assert_eq!(depth(&world, &world.dlq_url).await, 0);
}

/// A redrive goes only to a queue whose redrive policy names the DLQ: another queue (a topic's,
/// as the notifier's replies sent to the intake queue would be) is refused and nothing moves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redrive_to_a_queue_that_is_not_the_source_moves_nothing() {
    use invite_router::aws::operator::redrive_destination;
    let Some(moto) = Moto::start() else { return };
    let world = AwsWorld::new(&moto).await;
    fill_dlq(&world, 3).await;
    let elsewhere = world.topic_queues[&Topic::Rejected].clone();
    let refused = redrive_destination(&world.sqs, &world.dlq_url, Some(&elsewhere)).await;
    assert!(
        matches!(refused, Err(OperatorError::NotASource { .. })),
        "{refused:?}"
    );
    let output = run(
        &world,
        &["dlq", "redrive", "--all", "--to-queue-url", &elsewhere],
    )
    .await;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("is not a source queue"),
        "{output:?}"
    );
    assert_eq!(depth(&world, &elsewhere).await, 0);
    assert_eq!(depth(&world, &world.dlq_url).await, 3);
    // Its own source, named or not, is where a redrive goes.
    assert_eq!(
        redrive_destination(&world.sqs, &world.dlq_url, None)
            .await
            .unwrap(),
        world.intake_url
    );
    // A queue nobody redrives into has no source: refused too.
    let (lonely, _) = support::aws::create_queue(&world.sqs, "lonely-dlq", HashMap::new()).await;
    assert!(matches!(
        redrive_destination(&world.sqs, &lonely, None).await,
        Err(OperatorError::AmbiguousSource { count: 0, .. })
    ));
}
