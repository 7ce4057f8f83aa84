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
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use invite_router::core::model::Topic;
use serde_json::Value;
use support::aws::{AwsWorld, MAIL_BUCKET, TABLE, demo_email};
use support::moto::Moto;

const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:invite-router";

/// What the function posted back for one invocation.
#[derive(Debug)]
struct Posted {
    request_id: String,
    /// `response`, `error` (invocation error) or `init-error`.
    kind: String,
    body: String,
}

/// A minimal Runtime API: `GET /2018-06-01/runtime/invocation/next` hands out queued events,
/// `POST .../invocation/{id}/response|error` and `POST .../init/error` are reported to the test.
struct RuntimeApi {
    address: String,
    events: Sender<(String, String)>,
    posted: Receiver<Posted>,
}

impl RuntimeApi {
    fn start() -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (events, pending) = channel::<(String, String)>();
        let pending = Arc::new(Mutex::new(pending));
        let (posts, posted) = channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let (pending, posts) = (pending.clone(), posts.clone());
                std::thread::spawn(move || serve_connection(stream, &pending, &posts));
            }
        });
        RuntimeApi {
            address,
            events,
            posted,
        }
    }

    fn invoke(&self, request_id: &str, event: &Value) -> Posted {
        self.events
            .send((request_id.to_owned(), event.to_string()))
            .unwrap();
        self.posted
            .recv_timeout(Duration::from_secs(60))
            .expect("the function answered within 60 s")
    }
}

/// HTTP/1.1 with keep-alive, as the runtime client speaks it; just enough of it.
fn serve_connection(
    stream: TcpStream,
    pending: &Mutex<Receiver<(String, String)>>,
    posts: &Sender<Posted>,
) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut content_length = 0;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                content_length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; content_length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let mut parts = request_line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let response = if method == "GET" && path == "/2018-06-01/runtime/invocation/next" {
            // Long poll: wait for the test to queue an event (or to finish).
            let Ok((request_id, event)) = pending.lock().unwrap().recv() else {
                return;
            };
            let deadline =
                SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + Duration::from_secs(60);
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                 Lambda-Runtime-Aws-Request-Id: {request_id}\r\n\
                 Lambda-Runtime-Deadline-Ms: {}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: {FUNCTION_ARN}\r\n\
                 Lambda-Runtime-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793\r\n\
                 Content-Length: {}\r\n\r\n{event}",
                deadline.as_millis(),
                event.len()
            )
        } else if method == "POST" {
            let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
            let posted = match segments.as_slice() {
                ["2018-06-01", "runtime", "invocation", id, kind] => Posted {
                    request_id: (*id).to_owned(),
                    kind: (*kind).to_owned(),
                    body: String::from_utf8_lossy(&body).into_owned(),
                },
                ["2018-06-01", "runtime", "init", "error"] => Posted {
                    request_id: String::new(),
                    kind: "init-error".into(),
                    body: String::from_utf8_lossy(&body).into_owned(),
                },
                _ => panic!("unexpected runtime API call: POST {path}"),
            };
            let _ = posts.send(posted);
            "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}"
                .to_owned()
        } else {
            panic!("unexpected runtime API call: {method} {path}");
        };
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

/// The function process; killed on drop. Its stdout (the JSON logs) is collected.
struct Function {
    child: Child,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Function {
    fn spawn(env: &HashMap<String, String>) -> Function {
        let mut command = Command::new(env!("CARGO_BIN_EXE_invite-router-lambda"));
        // Only what Lambda would set: no credentials or profiles leak in from the test's shell.
        command
            .env_clear()
            .envs(env)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let logs = logs.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    logs.lock().unwrap().push(line);
                }
            });
        }
        Function { child, logs }
    }

    fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }
}

fn lambda_env(world: &AwsWorld, runtime_api: &str) -> HashMap<String, String> {
    let mut env = world.lambda_env();
    env.extend(
        [
            ("AWS_LAMBDA_RUNTIME_API", runtime_api),
            ("AWS_LAMBDA_FUNCTION_NAME", "invite-router"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/invite-router"),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/11/23/[$LATEST]0123456789abcdef",
            ),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_ENDPOINT_URL", world.endpoint.as_str()),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("RUST_LOG", "info"),
        ]
        .map(|(name, value)| (name.to_owned(), value.to_owned())),
    );
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lambda_binary_serves_sqs_batches_through_the_runtime_api() {
    let Some(moto) = Moto::start() else { return };
    let world = AwsWorld::new(&moto).await;
    let runtime = RuntimeApi::start();
    let function = Function::spawn(&lambda_env(&world, &runtime.address));

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
    let mut function = Function::spawn(&env);
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
