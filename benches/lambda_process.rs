//! The Lambda binary as a deployment pays for it: its size, its cold start and its peak memory.
//! The real `invite-router-lambda` (the one cargo built for this run: with `make bench`, release
//! and `--no-default-features --features aws`, as `make build` builds the bootstrap) is started
//! against a Runtime API on loopback (tests/support/runtime_api.rs) and moto.
//!
//! - Cold start: from just before exec to the first `GET /2018-06-01/runtime/invocation/next`,
//!   over many starts, with SSL_CERT_FILE naming the CA bundle as the CDK app sets it and
//!   without, and the spawn of a trivial binary (`true`, to its exit) for reference.
//! - Memory: the process's peak resident set (VmHWM) after init, after a batch of ten real
//!   invites, and, in a fresh process, after one 10 MB invite (a PDF attached to the demo's).
//!
//! Run: `cargo bench --no-default-features --features aws --bench lambda_process` (part of
//! `make bench`). Under `cargo test` it starts the debug binary twice and invokes it once, as a
//! smoke test of the harness; no figure is checked against a bound.

#[path = "../tests/support/mod.rs"]
mod support;

#[path = "common/cases.rs"]
#[allow(dead_code)] // the bare parse is the other benches'
mod cases;
#[path = "common/figures.rs"]
mod figures;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use support::aws::{AwsWorld, MAIL_BUCKET, TABLE, demo_email};
use support::moto::Moto;
use support::runtime_api::{Function, RuntimeApi, lambda_env};

const LAMBDA: &str = env!("CARGO_BIN_EXE_invite-router-lambda");
const NOTIFIER: &str = env!("CARGO_BIN_EXE_invite-router-notifier");
const COLD_STARTS: usize = 41;
const BATCH: usize = 10;
/// 10 MB on the wire, under the 10 MiB default of MAX_EMAIL_BYTES: processed, not too_large.
const LARGE_EMAIL_BYTES: usize = 10_000_000;

fn main() {
    let benchmarking = std::env::args().any(|arg| arg == "--bench");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|error| panic!("{error}"));
    let Some(moto) = Moto::start() else { return };
    let world = runtime.block_on(AwsWorld::new(&moto));
    // The s3:TestEvent S3 sent when the notification was configured: not part of any batch here.
    let test_event = runtime.block_on(world.receive_intake(1));
    assert!(
        test_event.records[0]
            .body
            .as_deref()
            .is_some_and(|body| body.contains("s3:TestEvent")),
        "{test_event:?}"
    );

    for binary in [LAMBDA, NOTIFIER] {
        println!(
            "binary {}: {:.1} MB",
            file_name(binary),
            mb(binary_size(binary))
        );
    }

    let starts = if benchmarking { COLD_STARTS } else { 2 };
    let api = RuntimeApi::start();
    // As the CDK app deploys it: SSL_CERT_FILE names the CA bundle. Without it, the TLS roots
    // are looked for where OpenSSL might keep them, directories included.
    let probing = lambda_env(&world, &api.address);
    let deployed = with_ca_bundle(&world, &api.address);
    let (mut cold, mut cold_probing, mut trivial) = (Vec::new(), Vec::new(), Vec::new());
    // Interleaved, so that the machine's drift touches all three alike.
    for _ in 0..starts {
        cold.push(cold_start(&api, &deployed));
        cold_probing.push(cold_start(&api, &probing));
        trivial.push(trivial_exec());
    }
    for times in [&mut cold, &mut cold_probing, &mut trivial] {
        times.sort();
    }
    println!(
        "cold start to the first poll, {starts} starts: median {:.2} ms, min {:.2} ms, max {:.2} ms \
         as deployed (SSL_CERT_FILE={}); without SSL_CERT_FILE: median {:.2} ms, max {:.2} ms; \
         exec of `true` to its exit: median {:.2} ms",
        millis(cold[starts / 2]),
        millis(cold[0]),
        millis(cold[starts - 1]),
        deployed
            .get("SSL_CERT_FILE")
            .map_or("unset", String::as_str),
        millis(cold_probing[starts / 2]),
        millis(cold_probing[starts - 1]),
        millis(trivial[starts / 2]),
    );

    let batch = if benchmarking { BATCH } else { 1 };
    let emails: Vec<(String, Vec<u8>)> = cases::CASES
        .iter()
        .take(batch)
        .enumerate()
        .map(|(index, path)| (format!("inbox/typical-{index}.eml"), read(path)))
        .collect();
    let typical = runtime.block_on(peak_rss(&world, &emails));
    println!(
        "peak RSS: {:.1} MB after init, {:.1} MB after a batch of {batch} typical invites \
         ({} KB of email) and the same again; the batch's CPU time: {:.1} ms first, {:.1} ms warm",
        mb(typical.after_init),
        mb(typical.after_batch),
        emails.iter().map(|(_, raw)| raw.len()).sum::<usize>() / 1024,
        millis(typical.batch_cpu),
        millis(typical.warm_batch_cpu)
    );
    if !benchmarking {
        return;
    }
    // What DynamoDB bills a create by: the record as committed (its outbox entry, the message,
    // included) is the record as it stays plus the message.
    let (records, messages) = runtime.block_on(async {
        (
            ledger_item_sizes(&world).await,
            world
                .drain_all()
                .await
                .into_values()
                .flatten()
                .map(|received| received.body.to_string().len())
                .collect::<Vec<_>>(),
        )
    });
    let (record_bytes, message_bytes) = (mean(&records), mean(&messages));
    println!(
        "ledger record: {record_bytes} bytes on average over {} records, plus the message while \
         it is in the outbox: {message_bytes} bytes on average over {} messages",
        records.len(),
        messages.len()
    );
    let large = vec![("inbox/large.eml".to_owned(), large_invite())];
    let one_large = runtime.block_on(peak_rss(&world, &large));
    println!(
        "peak RSS: {:.1} MB after one {:.1} MB invite and the same again (fresh process); its CPU \
         time: {:.1} ms",
        mb(one_large.after_batch),
        mb(large[0].1.len() as u64),
        millis(one_large.batch_cpu)
    );
    // The worst batch SQS can hand over: ten of the largest emails, processed at once.
    let largest: Vec<(String, Vec<u8>)> = (0..BATCH)
        .map(|index| (format!("inbox/large-{index}.eml"), large[0].1.clone()))
        .collect();
    let worst = runtime.block_on(peak_rss(&world, &largest));
    println!(
        "peak RSS: {:.1} MB after a batch of {BATCH} such invites and the same again (fresh \
         process); CPU time: {:.1} ms",
        mb(worst.after_batch),
        millis(worst.batch_cpu)
    );
    figures::record(
        "lambda_process",
        &json!({
            "lambda_binary_mb": mb(binary_size(LAMBDA)),
            "notifier_binary_mb": mb(binary_size(NOTIFIER)),
            "cold_start_median_ms": millis(cold[starts / 2]),
            "cold_start_max_ms": millis(cold[starts - 1]),
            "cold_start_without_ssl_cert_file_median_ms": millis(cold_probing[starts / 2]),
            "peak_rss_after_init_mb": mb(typical.after_init),
            "peak_rss_batch_mb": mb(typical.after_batch),
            "peak_rss_large_mb": mb(one_large.after_batch),
            "large_email_mb": mb(large[0].1.len() as u64),
            "peak_rss_batch_of_large_mb": mb(worst.after_batch),
            "cpu_ms_per_invite_first_batch": millis(typical.batch_cpu) / batch as f64,
            "cpu_ms_per_invite": millis(typical.warm_batch_cpu) / batch as f64,
            "cpu_ms_large": millis(one_large.batch_cpu),
            "ledger_record_bytes": record_bytes,
            "message_bytes": message_bytes,
        }),
    );
}

/// Every ledger item's size as DynamoDB counts it: attribute names and values, in bytes.
async fn ledger_item_sizes(world: &AwsWorld) -> Vec<usize> {
    let scanned = world
        .dynamodb
        .scan()
        .table_name(TABLE)
        .send()
        .await
        .unwrap_or_else(|error| panic!("{error:?}"));
    scanned
        .items()
        .iter()
        .map(|item| {
            item.iter()
                .map(|(name, value)| name.len() + attribute_size(value))
                .sum()
        })
        .collect()
}

fn attribute_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(text) | AttributeValue::N(text) => text.len(),
        AttributeValue::B(bytes) => bytes.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(list) => {
            3 + list
                .iter()
                .map(|item| 1 + attribute_size(item))
                .sum::<usize>()
        }
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(name, item)| 1 + name.len() + attribute_size(item))
                .sum::<usize>()
        }
        AttributeValue::Ss(set) | AttributeValue::Ns(set) => set.iter().map(String::len).sum(),
        _ => 0,
    }
}

fn mean(values: &[usize]) -> usize {
    values.iter().sum::<usize>() / values.len().max(1)
}

fn binary_size(binary: &str) -> u64 {
    std::fs::metadata(binary).map_or(0, |metadata| metadata.len())
}

/// The function's environment with SSL_CERT_FILE naming this machine's CA bundle, as the CDK app
/// names provided.al2023's (where the distribution keeps one).
fn with_ca_bundle(world: &AwsWorld, runtime_api: &str) -> HashMap<String, String> {
    let mut env = lambda_env(world, runtime_api);
    let bundle = [
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/certs/ca-certificates.crt",
    ]
    .into_iter()
    .find(|path| Path::new(path).is_file());
    if let Some(bundle) = bundle {
        env.insert("SSL_CERT_FILE".into(), bundle.into());
    }
    env
}

/// One start of the function, killed once it polls.
fn cold_start(api: &RuntimeApi, env: &HashMap<String, String>) -> Duration {
    while api.polls.try_recv().is_ok() {}
    let started = Instant::now();
    let function = Function::spawn(LAMBDA, env);
    let polled = api
        .polls
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("no poll within 10 s: {:?}", function.logs()));
    polled.duration_since(started)
}

fn trivial_exec() -> Duration {
    let started = Instant::now();
    let status = Command::new("true")
        .status()
        .unwrap_or_else(|error| panic!("true: {error}"));
    assert!(status.success());
    started.elapsed()
}

struct Peaks {
    after_init: u64,
    after_batch: u64,
    /// CPU time the batch took in the function (at a whole core; a Lambda of M MB gets M/1769),
    /// the first time (cold) and for the same emails again (warm).
    batch_cpu: Duration,
    warm_batch_cpu: Duration,
}

/// A fresh function process, its peak RSS once it polls, then after it answered a batch of
/// `emails` twice (put in the mail bucket; their S3 notifications are the batch). Its own Runtime
/// API: the cold starts' killed processes left polls waiting on theirs.
async fn peak_rss(world: &AwsWorld, emails: &[(String, Vec<u8>)]) -> Peaks {
    let api = RuntimeApi::start();
    let function = Function::spawn(LAMBDA, &with_ca_bundle(world, &api.address));
    let pid = function.child.id();
    let _ = api.polls.recv_timeout(Duration::from_secs(10));
    let after_init = high_water_mark(pid);
    let cpu_at_init = cpu_time(pid);
    invoke_with(world, &api, &function, emails).await;
    let cpu_after_first = cpu_time(pid);
    // The same emails again under new keys: what a warm function spends (connections open,
    // credentials and endpoints resolved), which is what most invocations are.
    let again: Vec<(String, Vec<u8>)> = emails
        .iter()
        .map(|(key, raw)| (format!("{key}.again"), raw.clone()))
        .collect();
    invoke_with(world, &api, &function, &again).await;
    Peaks {
        after_init,
        after_batch: high_water_mark(pid),
        batch_cpu: cpu_after_first.saturating_sub(cpu_at_init),
        warm_batch_cpu: cpu_time(pid).saturating_sub(cpu_after_first),
    }
}

/// Puts `emails` in the mail bucket and hands their notifications to the function as one batch.
async fn invoke_with(
    world: &AwsWorld,
    api: &RuntimeApi,
    function: &Function,
    emails: &[(String, Vec<u8>)],
) {
    for (key, raw) in emails {
        world.put(MAIL_BUCKET, key, raw.clone()).await;
    }
    let event = world.receive_intake(emails.len()).await;
    for (key, _) in emails {
        let encoded = key.replace('/', "%2F"); // as S3 writes keys in its notifications
        assert!(
            event.records.iter().any(|record| record
                .body
                .as_deref()
                .is_some_and(|body| body.contains(&encoded))),
            "{key} is not in the batch"
        );
    }
    let event = serde_json::to_value(event).unwrap_or_else(|error| panic!("{error}"));
    let posted = tokio::task::block_in_place(|| api.invoke("peak-rss", &event));
    let response: Value =
        serde_json::from_str(&posted.body).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        (posted.kind.as_str(), &response),
        ("response", &serde_json::json!({"batchItemFailures": []})),
        "{:?}",
        function.logs()
    );
}

/// The CPU time the live threads of a process have run so far: the scheduler's count, in
/// nanoseconds (the clock ticks of /proc/PID/stat are 10 ms, a batch's whole CPU time).
fn cpu_time(pid: u32) -> Duration {
    let threads = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap_or_else(|error| panic!("/proc/{pid}/task: {error}"));
    threads
        .filter_map(|thread| {
            let stat = std::fs::read_to_string(thread.ok()?.path().join("schedstat")).ok()?;
            stat.split_whitespace().next()?.parse::<u64>().ok()
        })
        .map(Duration::from_nanos)
        .sum()
}

/// The peak resident set of a live process, in bytes.
fn high_water_mark(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|error| panic!("/proc/{pid}/status: {error}"));
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kib| kib * 1024)
        .unwrap_or_else(|| panic!("no VmHWM in /proc/{pid}/status"))
}

/// The demo's invite with a PDF-sized attachment spliced in before its closing boundary, grown to
/// LARGE_EMAIL_BYTES. The filler is base64 text (what a mail client writes for any attachment).
fn large_invite() -> Vec<u8> {
    let invite =
        String::from_utf8(demo_email("01-invite.eml")).unwrap_or_else(|error| panic!("{error}"));
    let closing = "--000000000000a1b2c3d4e5f60718--";
    let at = invite
        .find(closing)
        .unwrap_or_else(|| panic!("the demo invite lost its closing boundary"));
    let eol = if invite.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    let header = [
        "--000000000000a1b2c3d4e5f60718",
        "Content-Type: application/pdf; name=\"agenda.pdf\"",
        "Content-Disposition: attachment; filename=\"agenda.pdf\"",
        "Content-Transfer-Encoding: base64",
        "",
        "",
    ]
    .join(eol);
    let filler = LARGE_EMAIL_BYTES.saturating_sub(invite.len() + header.len());
    let line = 76 + eol.len();
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut attachment = String::with_capacity(filler);
    while attachment.len() + line <= filler {
        for _ in 0..76 {
            // xorshift: incompressible-looking content, the same on every run.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            attachment.push(alphabet[(state % 64) as usize] as char);
        }
        attachment.push_str(eol);
    }
    let mut email = String::with_capacity(LARGE_EMAIL_BYTES);
    email.push_str(&invite[..at]);
    email.push_str(&header);
    email.push_str(&attachment);
    email.push_str(&invite[at..]);
    email.into_bytes()
}

fn read(path: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}
