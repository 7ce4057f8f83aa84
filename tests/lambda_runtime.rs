//! The real `invite-router-lambda` binary, driven through the Lambda Runtime API by a tiny local
//! emulator (the three endpoints a function uses), against moto. This is what runs in AWS: the
//! runtime loop, the environment, one SDK configuration, JSON logs.
//!
//! Why an emulator and not `cargo lambda watch`: it needs no download (cargo-lambda and zig come
//! from PyPI), no rebuild inside the crate, and starts in milliseconds; the binary is exactly the
//! one `cargo test` just built.
#![cfg(feature = "aws")]

mod support;

use std::collections::HashMap;
use std::time::Duration;

use invite_router::core::model::Topic;
use serde_json::Value;
use support::aws::{AwsWorld, MAIL_BUCKET, TABLE, demo_email};
use support::moto::Moto;
use support::runtime_api::{Function, RuntimeApi, lambda_env};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lambda_binary_serves_sqs_batches_through_the_runtime_api() {
    let Some(moto) = Moto::start() else { return };
    let world = AwsWorld::new(&moto).await;
    let runtime = RuntimeApi::start();
    let function = Function::spawn(
        env!("CARGO_BIN_EXE_invite-router-lambda"),
        &lambda_env(&world, &runtime.address),
    );

    // Invocation 1: the s3:TestEvent and a real invite in one batch; both handled.
    world
        .put(MAIL_BUCKET, "inbox/invite.eml", demo_email("01-invite.eml"))
        .await;
    let event = serde_json::to_value(world.receive_intake(2).await).unwrap();
    let posted = tokio::task::spawn_blocking(move || {
        let posted = runtime.invoke("request-1", &event);
        (runtime, posted)
    })
    .await
    .unwrap();
    let (runtime, first) = posted;
    assert_eq!(
        (first.request_id.as_str(), first.kind.as_str()),
        ("request-1", "response"),
        "{first:?}"
    );
    let response: Value = serde_json::from_str(&first.body).unwrap();
    assert_eq!(response, serde_json::json!({"batchItemFailures": []}));
    assert_eq!(world.intake_depth().await, (0, 0), "both deleted");
    let created = world.drain_topic(Topic::Create).await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].attributes["route"], "create");

    // Invocation 2, same process: the table is gone, so the record fails transiently and is
    // reported by its messageId for SQS to redeliver.
    world
        .dynamodb
        .delete_table()
        .table_name(TABLE)
        .send()
        .await
        .unwrap();
    world
        .put(
            MAIL_BUCKET,
            "inbox/reschedule.eml",
            demo_email("02-reschedule.eml"),
        )
        .await;
    let event = world.receive_intake(1).await;
    let message_id = event.records[0].message_id.clone().unwrap();
    let event = serde_json::to_value(event).unwrap();
    let second = tokio::task::spawn_blocking(move || runtime.invoke("request-2", &event))
        .await
        .unwrap();
    assert_eq!(second.kind, "response", "{second:?}");
    let response: Value = serde_json::from_str(&second.body).unwrap();
    assert_eq!(
        response,
        serde_json::json!({"batchItemFailures": [{"itemIdentifier": message_id}]})
    );
    assert_eq!(
        world.intake_depth().await,
        (0, 1),
        "left in the queue for retry"
    );

    // The logs: JSON lines, one span per record with its fields, and never a body.
    let logs = function.logs();
    let records: Vec<Value> = logs
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["span"]["name"] == "record")
        .collect();
    assert!(
        records.iter().any(|line| line["span"]["route"] == "create"
            && line["span"]["s3_key"] == "inbox/invite.eml"
            && line["span"]["uid"] == "3qv1l5t0quarterly2026@google.com"
            && line["span"]["method"] == "REQUEST"
            && line["span"]["message_id"].is_string()),
        "no record span with its fields in:\n{}",
        logs.join("\n")
    );
    // lambda_runtime's invocation span reaches every line: find a request's logs by its id.
    for (request_id, invite) in [
        ("request-1", "inbox/invite.eml"),
        ("request-2", "inbox/reschedule.eml"),
    ] {
        let lines: Vec<&Value> = records
            .iter()
            .filter(|line| line["span"]["s3_key"] == invite)
            .collect();
        assert!(!lines.is_empty(), "no record lines for {invite}");
        for line in lines {
            assert_eq!(line["spans"][0]["requestId"], request_id, "{line}");
            assert_eq!(
                line["spans"][0]["xrayTraceId"], "Root=1-5759e988-bd862e3fe1be46a994272793",
                "{line}"
            );
        }
    }
    assert!(
        records
            .iter()
            .all(|line| line["span"]["route"] != "invalid"),
        "a failed record must not claim a route:\n{}",
        logs.join("\n")
    );
    // Its CloudWatch metrics (EMF) share stdout with the logs, one object per line.
    let emf: Vec<Value> = logs
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line.get("_aws").is_some())
        .collect();
    assert!(
        emf.iter()
            .any(|line| line["Route"] == "create" && line["Invites"] == 1.0),
        "no EMF line counting the created invite in:\n{}",
        logs.join("\n")
    );
    assert!(
        emf.iter()
            .any(|line| line["Kind"] == "transient" && line["RecordFailures"] == 1.0),
        "no EMF line counting the failed record in:\n{}",
        logs.join("\n")
    );
    for line in &logs {
        assert!(
            !line.contains("Agenda: Q1 budget") && !line.contains("s3SchemaVersion"),
            "a body leaked into the logs: {line}"
        );
    }
}

#[test]
fn a_misconfigured_function_names_every_missing_variable_and_exits() {
    let runtime = RuntimeApi::start();
    let env: HashMap<String, String> = [
        ("AWS_LAMBDA_RUNTIME_API", runtime.address.as_str()),
        ("AWS_LAMBDA_FUNCTION_NAME", "invite-router"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_REGION", "us-east-1"),
        ("CREATE_TOPIC_ARN", "arn:aws:sns:us-east-1:1:create"),
        ("MAX_EMAIL_BYTES", "lots"),
    ]
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .into();
    let mut function = Function::spawn(env!("CARGO_BIN_EXE_invite-router-lambda"), &env);
    let status = function.child.wait().unwrap();
    assert!(!status.success());
    std::thread::sleep(Duration::from_millis(100)); // let the log readers drain
    let logs = function.logs().join("\n");
    for name in [
        "UPDATE_TOPIC_ARN",
        "CANCEL_TOPIC_ARN",
        "REJECTED_TOPIC_ARN",
        "LEDGER_TABLE",
        "QUEUE_URL",
        "MAX_EMAIL_BYTES",
    ] {
        assert!(logs.contains(name), "{name} not named in:\n{logs}");
    }
    assert!(!logs.contains("CREATE_TOPIC_ARN is not set"), "{logs}");
}
