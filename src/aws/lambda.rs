//! The Lambda handler: an SQS batch in, the transiently failed records out (`batchItemFailures`).
//! A plain async method that tests call directly; `src/bin/lambda.rs` only wires it to the runtime.

use aws_config::SdkConfig;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use super::metrics::Metrics;
use super::{DynamoLedger, S3MailStore, SnsPublisher, SqsQueue, s3_client};
use crate::config::Config;
use crate::ports::{Ledger, MailStore, Publisher, Queue};
use crate::service::{BatchRecord, RecordReport, Service};

/// The whole batch must be retried: a record failed transiently and cannot be named.
#[derive(Debug, thiserror::Error)]
#[error(
    "{count} transiently failed record(s) have no messageId; failing the whole batch so they are retried"
)]
pub struct UnnamedFailures {
    pub count: usize,
}

/// The service plus what the batch needs around it: the queue to delete from, the bound on
/// concurrent records, and where its metrics go.
pub struct Handler<M, L, P, Q> {
    pub service: Service<M, L, P>,
    pub queue: Q,
    pub concurrency: usize,
    pub metrics: Metrics,
}

pub type AwsHandler = Handler<S3MailStore, DynamoLedger, SnsPublisher, SqsQueue>;

impl AwsHandler {
    /// Builds every adapter from one SDK configuration (loaded once, at start).
    pub fn from_sdk_config(sdk: &SdkConfig, config: Config) -> AwsHandler {
        let store = S3MailStore::new(s3_client(sdk), Some(config.limits.max_email_bytes));
        let ledger = DynamoLedger::new(aws_sdk_dynamodb::Client::new(sdk), &config.ledger_table);
        let publisher = SnsPublisher::new(aws_sdk_sns::Client::new(sdk), config.topics.clone());
        let queue = SqsQueue::new(aws_sdk_sqs::Client::new(sdk), &config.queue_url);
        Handler {
            service: Service::new(store, ledger, publisher, config.limits, config.policy)
                .with_confirmations(config.notify_on_success),
            queue,
            concurrency: config.batch_concurrency,
            metrics: Metrics::to_stdout(&config.metrics.namespace, &config.metrics.stage),
        }
    }
}

impl<M: MailStore, L: Ledger, P: Publisher, Q: Queue> Handler<M, L, P, Q> {
    /// Processes every record of the batch. Handled records (published, refused, no-op, or failed
    /// permanently) are deleted and not reported; transiently failed ones are reported by
    /// messageId so SQS makes them visible again.
    pub async fn handle(&self, event: SqsEvent) -> Result<SqsBatchResponse, UnnamedFailures> {
        let records = batch_records(event);
        let reports = self
            .service
            .process_batch(&self.queue, &records, self.concurrency)
            .await;
        self.metrics
            .intake_batch(&reports, chrono::Utc::now().timestamp_millis());
        batch_response(&reports)
    }
}

pub fn batch_records(event: SqsEvent) -> Vec<BatchRecord> {
    event
        .records
        .into_iter()
        .map(|message| BatchRecord {
            message_id: message.message_id.unwrap_or_default(),
            receipt_handle: message.receipt_handle,
            // A record without a body is an unknown envelope: permanent, like any other.
            body: message.body.unwrap_or_default(),
        })
        .collect()
}

pub fn batch_response(reports: &[RecordReport]) -> Result<SqsBatchResponse, UnnamedFailures> {
    let mut response = SqsBatchResponse::default();
    let mut unnamed = 0;
    for report in reports.iter().filter(|report| report.must_retry()) {
        if report.message_id.is_empty() {
            unnamed += 1;
        } else {
            response.add_failure(report.message_id.clone());
        }
    }
    // Failing the invocation retries every record not yet deleted; the handled ones already are.
    if unnamed > 0 {
        return Err(UnnamedFailures { count: unnamed });
    }
    Ok(response)
}

/// JSON logs, one object per line. Inside an invocation every line lists its spans under
/// `spans`: first lambda_runtime's `Lambda runtime invoke` span with `requestId` and
/// `xrayTraceId` (so a request's lines are found by its id: `spans.0.requestId` in Logs
/// Insights), then the record span (message id, S3 key, UID, method, route), which is also under
/// `span`. The level comes from [`log_filter`].
pub fn init_json_logs() {
    let filter = log_filter(
        std::env::var("RUST_LOG").ok().as_deref(),
        std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref(),
    );
    let _ = json_logs(std::io::stdout).finish().with(filter).try_init();
}

/// `RUST_LOG` when it is set and parses (`level` or `target=level` directives, comma-separated:
/// the finer tool); else Lambda's own `AWS_LAMBDA_LOG_LEVEL`, which the function's logging
/// configuration sets (`FATAL` read as `error`, the most tracing has); else `info`.
///
/// A `Targets` filter rather than `EnvFilter`: `EnvFilter`'s span and field directives need a
/// regex engine (a quarter of a megabyte of the Lambda binary) that nothing here uses. A
/// `RUST_LOG` with such a directive does not parse, and the level falls back as above.
pub fn log_filter(rust_log: Option<&str>, lambda_level: Option<&str>) -> Targets {
    if let Some(filter) = rust_log
        .filter(|directives| !directives.trim().is_empty())
        .and_then(|directives| directives.parse::<Targets>().ok())
    {
        return filter;
    }
    let level = match lambda_level
        .map(|level| level.trim().to_ascii_uppercase())
        .as_deref()
    {
        Some("TRACE") => LevelFilter::TRACE,
        Some("DEBUG") => LevelFilter::DEBUG,
        Some("WARN") => LevelFilter::WARN,
        Some("ERROR" | "FATAL") => LevelFilter::ERROR,
        _ => LevelFilter::INFO,
    };
    Targets::new().with_default(level)
}

/// The log format: an event's fields under `fields` (the CDK app's metric filters read
/// `$.fields.event`), its innermost span under `span`, every span it is in under `spans`.
fn json_logs<W>(
    writer: W,
) -> tracing_subscriber::fmt::SubscriberBuilder<
    tracing_subscriber::fmt::format::JsonFields,
    tracing_subscriber::fmt::format::Format<tracing_subscriber::fmt::format::Json>,
    tracing_subscriber::filter::LevelFilter,
    W,
>
where
    W: for<'writer> tracing_subscriber::fmt::MakeWriter<'writer> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(true)
        .with_target(false)
        .with_writer(writer)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .expect("not poisoned")
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The CDK app's `OutboxSetAsideFilter` matches `{ $.fields.event = "outbox_set_aside" }`.
    #[test]
    fn an_event_field_is_logged_where_the_metric_filter_reads_it() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = json_logs(move || writer.clone()).finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!(event = "outbox_set_aside", dedupe_id = "ab", "set aside");
        });
        let text = String::from_utf8(captured.0.lock().expect("not poisoned").clone()).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["fields"]["event"], "outbox_set_aside", "{text}");
        assert_eq!(line["level"], "ERROR");
    }

    #[test]
    fn every_line_of_an_invocation_carries_its_request_and_trace_ids() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = json_logs(move || writer.clone()).finish();
        tracing::subscriber::with_default(subscriber, || {
            // lambda_runtime's span, as its TracingLayer opens it for each invocation.
            let invocation = tracing::info_span!(
                "Lambda runtime invoke",
                requestId = "8f5a",
                xrayTraceId = "Root=1-5759e988-bd862e3fe1be46a994272793"
            );
            let _invocation = invocation.enter();
            let record = tracing::info_span!("record", uid = "u1");
            let _record = record.enter();
            tracing::info!(event = "published", "published");
        });
        let text = String::from_utf8(captured.0.lock().expect("not poisoned").clone()).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["spans"][0]["requestId"], "8f5a", "{text}");
        assert_eq!(
            line["spans"][0]["xrayTraceId"],
            "Root=1-5759e988-bd862e3fe1be46a994272793"
        );
        assert_eq!(line["span"]["uid"], "u1");
    }

    #[test]
    fn the_level_comes_from_rust_log_then_lambda_then_info() {
        let shown = |rust_log, lambda_level| log_filter(rust_log, lambda_level).to_string();
        assert_eq!(
            shown(Some("invite_router=debug"), Some("ERROR")),
            "invite_router=debug"
        );
        assert_eq!(shown(None, Some("DEBUG")), "debug");
        assert_eq!(shown(Some(""), Some("warn")), "warn");
        assert_eq!(shown(None, Some("FATAL")), "error");
        assert_eq!(shown(None, Some("nonsense")), "info");
        assert_eq!(shown(None, None), "info");
        // A span directive needs EnvFilter's regex engine: not taken, the fallback is.
        assert_eq!(shown(Some("[record{uid=u1}]=debug"), Some("WARN")), "warn");
    }
}
