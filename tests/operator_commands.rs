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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dlq_list_shows_and_redrive_moves_back() {
    let Some(moto) = Moto::start() else { return };
    let world = AwsWorld::new(&moto).await;
    // Drain the s3:TestEvent so the intake queue holds only what the redrive moves.
    let _ = world
        .handler()
        .handle(world.receive_intake(1).await)
        .await
        .unwrap();
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
    assert_eq!(lines(&output), [serde_json::json!({ "moved": first })]);
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
