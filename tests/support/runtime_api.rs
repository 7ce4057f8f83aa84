//! A minimal Lambda Runtime API on loopback (the three endpoints a function uses) and the
//! function process it serves: how the real Lambda binaries are driven by the tests and by the
//! footprint benchmark (benches/lambda_process.rs), with no download and no emulator to install.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::aws::AwsWorld;

pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:invite-router";

/// What the function posted back for one invocation.
#[derive(Debug)]
pub struct Posted {
    pub request_id: String,
    /// `response`, `error` (invocation error) or `init-error`.
    pub kind: String,
    pub body: String,
}

/// A minimal Runtime API: `GET /2018-06-01/runtime/invocation/next` hands out queued events,
/// `POST .../invocation/{id}/response|error` and `POST .../init/error` are reported to the test.
pub struct RuntimeApi {
    pub address: String,
    events: Sender<(String, String)>,
    posted: Receiver<Posted>,
    /// When each `GET .../invocation/next` arrived: a function's first one ends its cold start.
    pub polls: Receiver<Instant>,
}

impl RuntimeApi {
    pub fn start() -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (events, pending) = channel::<(String, String)>();
        let pending = Arc::new(Mutex::new(pending));
        let (posts, posted) = channel();
        let (poll_times, polls) = channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let (pending, posts, poll_times) =
                    (pending.clone(), posts.clone(), poll_times.clone());
                std::thread::spawn(move || serve_connection(stream, &pending, &posts, &poll_times));
            }
        });
        RuntimeApi {
            address,
            events,
            posted,
            polls,
        }
    }

    pub fn invoke(&self, request_id: &str, event: &Value) -> Posted {
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
    poll_times: &Sender<Instant>,
) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        if request_line.starts_with("GET /2018-06-01/runtime/invocation/next ") {
            let _ = poll_times.send(Instant::now());
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
pub struct Function {
    pub child: Child,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Function {
    pub fn spawn(binary: &str, env: &HashMap<String, String>) -> Function {
        let mut command = Command::new(binary);
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

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }
}

pub fn lambda_env(world: &AwsWorld, runtime_api: &str) -> HashMap<String, String> {
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
