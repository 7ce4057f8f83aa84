//! What a batch costs next to one record, and how many AWS calls a record makes one after the
//! other: `process_batch` over real invite emails with in-process adapters that add the latency
//! of each call (S3 GetObject 20 ms, DynamoDB 8 ms, SNS Publish 15 ms, SQS DeleteMessage 10 ms,
//! SES SendEmail 30 ms) and count the calls. The ledger and the reply log are the embedded
//! SQLite ones (fast, real semantics); only the waits are simulated.
//! Run: `cargo bench --no-default-features --features cli --bench batch` (part of `make bench`).
//! Under `cargo test` each scenario runs once with no latency, as a smoke test.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use invite_router::core::message::rejected_message;
use invite_router::core::model::{Envelope, EventKey, Reason, SourceInfo, Topic};
use invite_router::core::reply::Reply;
use invite_router::core::{Limits, SenderPolicy};
use invite_router::local::{SqliteLedger, SqliteReplyLog};
use invite_router::notifier::Notifier;
use invite_router::ports::{
    Claim, ClaimTerms, CommitOutcome, Ledger, LedgerWrite, MailSource, MailStore, Mailer,
    PortError, Publisher, Queue, ReplyLog, RevisionCheck, SetAsideEntry, StoredRecord,
};
use invite_router::service::{BatchRecord, Service};

#[path = "common/cases.rs"]
#[allow(dead_code)] // the bare parse is the other benches'
mod cases;
#[path = "common/figures.rs"]
mod figures;

/// The wait each kind of call adds, how many calls of each kind were made, and how many round
/// trips they took: a call started while none is in flight starts a round trip; one started
/// beside another (the clear and the delete) rides along. Counted over one record at a time.
#[derive(Default)]
struct Calls {
    latency: HashMap<&'static str, Duration>,
    counts: HashMap<&'static str, AtomicUsize>,
    in_flight: AtomicUsize,
    round_trips: AtomicUsize,
}

impl Calls {
    fn new(latent: bool) -> Arc<Calls> {
        let kinds = [
            ("s3", 20),
            ("dynamodb", 8),
            ("sns", 15),
            ("sqs", 10),
            ("ses", 30),
        ];
        Arc::new(Calls {
            latency: kinds
                .iter()
                .map(|(kind, ms)| (*kind, Duration::from_millis(if latent { *ms } else { 0 })))
                .collect(),
            counts: kinds
                .iter()
                .map(|(kind, _)| (*kind, AtomicUsize::new(0)))
                .collect(),
            ..Calls::default()
        })
    }

    async fn call(&self, kind: &'static str) {
        if let Some(count) = self.counts.get(kind) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        if self.in_flight.fetch_add(1, Ordering::SeqCst) == 0 {
            self.round_trips.fetch_add(1, Ordering::SeqCst);
        }
        let wait = self.latency.get(kind).copied().unwrap_or_default();
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }

    /// Calls and latencies by kind, for benches/cost.py.
    fn figures(&self) -> serde_json::Value {
        let by_kind = |value: &dyn Fn(&'static str) -> serde_json::Value| {
            self.counts
                .keys()
                .map(|kind| (kind.to_string(), value(kind)))
                .collect::<serde_json::Map<_, _>>()
        };
        serde_json::json!({
            "round_trips": self.round_trips(),
            "calls": by_kind(&|kind| self.counts[kind].load(Ordering::Relaxed).into()),
            "latency_ms": by_kind(&|kind| ms(self.latency[kind]).into()),
        })
    }

    fn round_trips(&self) -> usize {
        self.round_trips.load(Ordering::SeqCst)
    }

    fn counted(&self) -> String {
        let mut kinds: Vec<_> = self
            .counts
            .iter()
            .map(|(kind, count)| (*kind, count.load(Ordering::Relaxed)))
            .filter(|(_, count)| *count > 0)
            .collect();
        kinds.sort();
        kinds
            .iter()
            .map(|(kind, count)| format!("{kind} {count}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn total(&self) -> usize {
        self.counts
            .values()
            .map(|count| count.load(Ordering::Relaxed))
            .sum()
    }
}

struct Store {
    emails: HashMap<String, Vec<u8>>,
    calls: Arc<Calls>,
}

impl MailStore for Store {
    async fn fetch(&self, source: &MailSource) -> Result<Vec<u8>, PortError> {
        self.calls.call("s3").await;
        self.emails
            .get(&source.key)
            .cloned()
            .ok_or_else(|| PortError::permanent("fetch", "NoSuchKey"))
    }
}

struct Table<L> {
    inner: L,
    calls: Arc<Calls>,
}

impl<L: Ledger> Ledger for Table<L> {
    async fn read(&self, keys: &[EventKey]) -> Result<Vec<Option<StoredRecord>>, PortError> {
        self.calls.call("dynamodb").await;
        self.inner.read(keys).await
    }

    async fn commit(
        &self,
        writes: &[LedgerWrite],
        unchanged: &[RevisionCheck],
    ) -> Result<CommitOutcome, PortError> {
        self.calls.call("dynamodb").await;
        self.inner.commit(writes, unchanged).await
    }

    async fn clear_outbox(&self, key: &EventKey, dedupe_id: &str) -> Result<(), PortError> {
        self.calls.call("dynamodb").await;
        self.inner.clear_outbox(key, dedupe_id).await
    }

    async fn set_aside_outbox(&self, aside: &SetAsideEntry) -> Result<(), PortError> {
        self.calls.call("dynamodb").await;
        self.inner.set_aside_outbox(aside).await
    }

    async fn set_aside_entries(&self, uid: &str) -> Result<Vec<SetAsideEntry>, PortError> {
        self.calls.call("dynamodb").await;
        self.inner.set_aside_entries(uid).await
    }
}

struct Topics(Arc<Calls>);

impl Publisher for Topics {
    async fn publish(
        &self,
        _topic: Topic,
        _body: &str,
        _attributes: &[(String, String)],
    ) -> Result<(), PortError> {
        self.0.call("sns").await;
        Ok(())
    }
}

struct IntakeQueue(Arc<Calls>);

impl Queue for IntakeQueue {
    async fn delete(&self, _receipt_handle: &str) -> Result<(), PortError> {
        self.0.call("sqs").await;
        Ok(())
    }
}

struct Ses(Arc<Calls>);

impl Mailer for Ses {
    async fn send(&self, _reply: &Reply) -> Result<(), PortError> {
        self.0.call("ses").await;
        Ok(())
    }
}

struct Replies {
    inner: SqliteReplyLog,
    calls: Arc<Calls>,
}

impl ReplyLog for Replies {
    async fn claim(
        &self,
        dedupe_id: &str,
        recipient: &str,
        now: DateTime<Utc>,
        terms: ClaimTerms,
    ) -> Result<Claim, PortError> {
        self.calls.call("dynamodb").await;
        self.inner.claim(dedupe_id, recipient, now, terms).await
    }

    async fn settle(&self, dedupe_id: &str, sent: bool) -> Result<(), PortError> {
        self.calls.call("dynamodb").await;
        self.inner.settle(dedupe_id, sent).await
    }
}

fn s3_record(index: usize, key: &str) -> BatchRecord {
    let body = serde_json::json!({
        "Records": [{"eventSource": "aws:s3", "s3": {"bucket": {"name": "mail"}, "object": {"key": key}}}]
    });
    BatchRecord {
        message_id: format!("m{index}"),
        receipt_handle: Some(format!("r{index}")),
        body: body.to_string(),
    }
}

/// One intake run over the first `records` invites, on a fresh ledger: its time and its calls.
async fn intake(records: usize, concurrency: usize, latent: bool) -> (Duration, Arc<Calls>) {
    intake_of((0..records).collect(), concurrency, latent).await
}

/// One intake run over the invites at `indices` of the benchmark cases, on a fresh ledger.
async fn intake_of(
    indices: Vec<usize>,
    concurrency: usize,
    latent: bool,
) -> (Duration, Arc<Calls>) {
    let calls = Calls::new(latent);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let emails: HashMap<String, Vec<u8>> = cases::CASES
        .iter()
        .map(|case| {
            (
                case.to_string(),
                std::fs::read(root.join(case)).unwrap_or_default(),
            )
        })
        .collect();
    let ledger = SqliteLedger::in_memory().unwrap_or_else(|error| panic!("{error}"));
    let service = Service::new(
        Store {
            emails,
            calls: calls.clone(),
        },
        Table {
            inner: ledger,
            calls: calls.clone(),
        },
        Topics(calls.clone()),
        Limits::default(),
        SenderPolicy::default(),
    );
    let batch: Vec<BatchRecord> = indices
        .iter()
        .map(|index| s3_record(*index, cases::CASES[*index]))
        .collect();
    let queue = IntakeQueue(calls.clone());
    let started = Instant::now();
    let reports = service.process_batch(&queue, &batch, concurrency).await;
    let elapsed = started.elapsed();
    assert!(
        reports.iter().all(|report| report.deleted),
        "every record handled"
    );
    (elapsed, calls)
}

fn refusal(index: usize) -> String {
    let sender = format!("organizer{index}@example.com");
    let message = rejected_message(
        &sender,
        Reason::SenderNotOrganizer,
        &Envelope::default(),
        SourceInfo {
            bucket: Some("mail".into()),
            key: format!("incoming/{index}"),
            message_id: Some(format!("<m{index}@example.com>")),
            sender: Some(sender.clone()),
            subject: Some("Quarterly planning".into()),
        },
    );
    serde_json::to_string(&message).unwrap_or_default()
}

/// One notifier run over `records` refusals to different senders.
async fn notifier(records: usize, concurrency: usize, latent: bool) -> (Duration, Arc<Calls>) {
    let calls = Calls::new(latent);
    let log = SqliteReplyLog::in_memory().unwrap_or_else(|error| panic!("{error}"));
    let notifier = Notifier::new(
        Ses(calls.clone()),
        Replies {
            inner: log,
            calls: calls.clone(),
        },
        "invite-router@example.com",
        10,
    );
    let batch: Vec<BatchRecord> = (0..records)
        .map(|index| BatchRecord {
            message_id: format!("n{index}"),
            receipt_handle: None,
            body: refusal(index),
        })
        .collect();
    let started = Instant::now();
    let reports = notifier.notify_batch(&batch, concurrency).await;
    let elapsed = started.elapsed();
    assert!(
        reports.iter().all(|report| report.notified.is_some()),
        "every reply sent"
    );
    (elapsed, calls)
}

/// Runs per measurement; the median is reported.
const ROUNDS: usize = 7;
/// Records per batch: SQS's default batch size.
const BATCH: usize = 10;

/// The median time of `ROUNDS` runs of `run`.
fn median_time<F>(runtime: &tokio::runtime::Runtime, run: impl Fn() -> F) -> Duration
where
    F: std::future::Future<Output = (Duration, Arc<Calls>)>,
{
    let mut times: Vec<Duration> = (0..ROUNDS).map(|_| runtime.block_on(run()).0).collect();
    times.sort();
    times[times.len() / 2]
}

fn ms(time: Duration) -> f64 {
    time.as_secs_f64() * 1e3
}

fn main() {
    let benchmarking = std::env::args().any(|arg| arg == "--bench");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap_or_else(|error| panic!("{error}"));
    if !benchmarking {
        runtime.block_on(intake(2, 2, false));
        runtime.block_on(notifier(2, 2, false));
        return;
    }
    let (_, calls) = runtime.block_on(intake(1, 1, true));
    let one = median_time(&runtime, || intake(1, 1, true));
    let one_create = (one, calls.figures());
    println!(
        "intake, one create: {:.1} ms, {} round trips for {} calls ({})",
        ms(one),
        calls.round_trips(),
        calls.total(),
        calls.counted()
    );
    // The records are not alike: a series with exceptions publishes (and clears) one message per
    // component, one after the other. A batch can cost no less than its slowest record.
    let (slowest, slowest_index) = (0..BATCH)
        .map(|index| {
            (
                median_time(&runtime, || intake_of(vec![index], 1, true)),
                index,
            )
        })
        .max()
        .unwrap_or_default();
    let (_, calls) = runtime.block_on(intake_of(vec![slowest_index], 1, true));
    println!(
        "intake, slowest single record ({}): {:.1} ms, {} round trips for {} calls ({})",
        cases::CASES[slowest_index],
        ms(slowest),
        calls.round_trips(),
        calls.total(),
        calls.counted()
    );
    let cpu = median_time(&runtime, || intake(BATCH, BATCH, false));
    println!(
        "intake, batch of {BATCH} creates without latency (the CPU and SQLite part): {:.1} ms",
        ms(cpu)
    );
    let mut full_batch = one;
    for concurrency in [8, BATCH] {
        let batch = median_time(&runtime, || intake(BATCH, concurrency, true));
        full_batch = batch;
        println!(
            "intake, batch of {BATCH} creates, BATCH_CONCURRENCY={concurrency}: {:.1} ms = {:.2}x one record, {:.2}x the slowest",
            ms(batch),
            batch.as_secs_f64() / one.as_secs_f64(),
            batch.as_secs_f64() / slowest.as_secs_f64()
        );
    }
    let (_, calls) = runtime.block_on(notifier(1, 1, true));
    let one = median_time(&runtime, || notifier(1, 1, true));
    println!(
        "notifier, one reply: {:.1} ms, {} round trips for {} calls ({})",
        ms(one),
        calls.round_trips(),
        calls.total(),
        calls.counted()
    );
    for concurrency in [8, BATCH] {
        let batch = median_time(&runtime, || notifier(BATCH, concurrency, true));
        println!(
            "notifier, batch of {BATCH} replies, BATCH_CONCURRENCY={concurrency}: {:.1} ms = {:.2}x one record",
            ms(batch),
            batch.as_secs_f64() / one.as_secs_f64()
        );
    }
    let (one_create_ms, one_create_calls) = (ms(one_create.0), one_create.1);
    figures::record(
        "batch",
        &serde_json::json!({
            "one_create_ms": one_create_ms,
            "one_create": one_create_calls,
            "batch_of_10_creates_ms": ms(full_batch),
            "notifier_one_reply_ms": ms(one),
            "notifier_one_reply": calls.figures(),
        }),
    );
}
