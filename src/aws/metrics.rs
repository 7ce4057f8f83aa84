//! CloudWatch metrics from both functions, in the embedded metric format (EMF): one JSON object per
//! line on stdout, which CloudWatch Logs turns into metrics without an API call (no PutMetricData,
//! no extra permission, no latency on the invocation).
//!
//! The shapes are serde structs, not formatted strings. Dimensions stay low-cardinality: `Stage`,
//! and one of `Route`, `Reason`, `Why` or `Kind`; never a UID, an address or a key.
//!
//! Per email (intake function): `Invites` by `Route`; `MessagesPublished` by `Route`;
//! `Refusals` by `Reason`; `RepliesRequested` and `RepliesSuppressed` by `Why`; `EmailSize` (bytes).
//! Per SQS record: `ProcessingTime` (ms) and `RecordFailures` by `Kind` (transient, permanent).
//! Per reply (notifier): `Replies` by `Why` (`sent`, `already_sent`, `rate_limited`,
//! `undeliverable`) and `RecordFailures` by `Kind`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::notifier::ReplyReport;
use crate::ports::ErrorKind;
use crate::service::{Outcome, RecordReport};

/// Where EMF lines go: stdout in the Lambda, a buffer in tests.
pub type MetricsSink = Arc<dyn Fn(&str) + Send + Sync>;

/// The namespace and stage every line is filed under, and where the lines go.
#[derive(Clone)]
pub struct Metrics {
    namespace: String,
    stage: String,
    sink: MetricsSink,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("namespace", &self.namespace)
            .field("stage", &self.stage)
            .finish_non_exhaustive()
    }
}

impl Metrics {
    /// Lines printed to stdout, where Lambda's log capture picks them up.
    pub fn to_stdout(namespace: &str, stage: &str) -> Metrics {
        Metrics::with_sink(namespace, stage, Arc::new(|line| println!("{line}")))
    }

    pub fn with_sink(namespace: &str, stage: &str, sink: MetricsSink) -> Metrics {
        Metrics {
            namespace: namespace.to_owned(),
            stage: stage.to_owned(),
            sink,
        }
    }

    /// The lines for one intake batch, stamped `timestamp_ms`.
    pub fn intake_batch(&self, reports: &[RecordReport], timestamp_ms: i64) {
        for report in reports {
            let mut line = self.line(timestamp_ms);
            line.metric(
                &[],
                "ProcessingTime",
                Unit::Milliseconds,
                report.elapsed.as_secs_f64() * 1000.0,
            );
            let failure = if report.transient_failure.is_some() {
                Some(ErrorKind::Transient)
            } else if report.permanent_failure.is_some() {
                Some(ErrorKind::Permanent)
            } else {
                None
            };
            line.record_failure(failure);
            self.emit(&line);
            for outcome in &report.outcomes {
                self.emit(&self.outcome_line(outcome, timestamp_ms));
            }
        }
    }

    fn outcome_line(&self, outcome: &Outcome, timestamp_ms: i64) -> Line {
        let mut line = self.line(timestamp_ms);
        let route = outcome.route.as_str();
        line.metric(&[("Route", route)], "Invites", Unit::Count, 1.0);
        line.metric(
            &[("Route", route)],
            "MessagesPublished",
            Unit::Count,
            outcome.published.len() as f64,
        );
        line.metric(&[], "EmailSize", Unit::Bytes, outcome.email_bytes as f64);
        if let Some(reason) = outcome.reason {
            line.metric(&[("Reason", reason.code())], "Refusals", Unit::Count, 1.0);
            match outcome.no_reply_because() {
                Some(why) => {
                    line.metric(
                        &[("Why", why.code())],
                        "RepliesSuppressed",
                        Unit::Count,
                        1.0,
                    );
                }
                None if outcome.notify_sender() => {
                    line.metric(&[], "RepliesRequested", Unit::Count, 1.0);
                }
                None => {}
            }
        }
        line
    }

    /// The lines for one notifier batch, stamped `timestamp_ms`.
    pub fn notifier_batch(&self, reports: &[ReplyReport], timestamp_ms: i64) {
        for report in reports {
            let mut line = self.line(timestamp_ms);
            if let Some(notified) = &report.notified {
                line.metric(&[("Why", notified.code())], "Replies", Unit::Count, 1.0);
            }
            line.record_failure(report.failure);
            self.emit(&line);
        }
    }

    fn line(&self, timestamp_ms: i64) -> Line {
        Line {
            namespace: self.namespace.clone(),
            timestamp_ms,
            directives: Vec::new(),
            values: BTreeMap::from([("Stage".to_owned(), Value::from(self.stage.clone()))]),
        }
    }

    fn emit(&self, line: &Line) {
        if line.directives.is_empty() {
            return;
        }
        // Serializing these plain maps cannot fail; if it did, a metric is not worth a panic.
        if let Ok(text) = serde_json::to_string(&line.document()) {
            (self.sink)(&text);
        }
    }
}

impl Line {
    /// `RecordFailures` by `Kind`, for a record that failed.
    fn record_failure(&mut self, failure: Option<ErrorKind>) {
        if let Some(kind) = failure {
            self.metric(&[("Kind", kind.into())], "RecordFailures", Unit::Count, 1.0);
        }
    }
}

/// CloudWatch's unit names for the units used here.
#[derive(Debug, Clone, Copy, Serialize)]
enum Unit {
    Count,
    Milliseconds,
    Bytes,
}

/// One EMF object being built: metric values and dimension values share its top level.
struct Line {
    namespace: String,
    timestamp_ms: i64,
    directives: Vec<Directive>,
    values: BTreeMap<String, Value>,
}

impl Line {
    /// Records `value` of metric `name` under the dimensions `Stage` plus `extra`. A metric
    /// appears once per line, so each name is used under one dimension set.
    fn metric(
        &mut self,
        extra: &[(&'static str, &str)],
        name: &'static str,
        unit: Unit,
        value: f64,
    ) {
        let mut dimensions = vec!["Stage"];
        for (dimension, dimension_value) in extra {
            dimensions.push(dimension);
            self.values
                .insert((*dimension).to_owned(), Value::from(*dimension_value));
        }
        self.values.insert(name.to_owned(), Value::from(value));
        let definition = MetricDefinition { name, unit };
        match self
            .directives
            .iter_mut()
            .find(|directive| directive.dimensions[0] == dimensions)
        {
            Some(directive) => directive.metrics.push(definition),
            None => self.directives.push(Directive {
                namespace: self.namespace.clone(),
                dimensions: vec![dimensions],
                metrics: vec![definition],
            }),
        }
    }

    fn document(&self) -> Document<'_> {
        Document {
            aws: Metadata {
                timestamp: self.timestamp_ms,
                cloud_watch_metrics: &self.directives,
            },
            values: &self.values,
        }
    }
}

/// The EMF object: `_aws` metadata beside the dimension and metric values.
#[derive(Serialize)]
struct Document<'a> {
    #[serde(rename = "_aws")]
    aws: Metadata<'a>,
    #[serde(flatten)]
    values: &'a BTreeMap<String, Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Metadata<'a> {
    timestamp: i64,
    cloud_watch_metrics: &'a [Directive],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Directive {
    namespace: String,
    dimensions: Vec<Vec<&'static str>>,
    metrics: Vec<MetricDefinition>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct MetricDefinition {
    name: &'static str,
    unit: Unit,
}
