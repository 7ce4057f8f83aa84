//! The notifier Lambda's handler: an SQS batch of `rejected` messages in (its queue is subscribed
//! to the `rejected` topic), the transiently failed records out (`batchItemFailures`). A plain
//! async method that tests call directly; `src/bin/notifier.rs` only wires it to the runtime.

use aws_config::SdkConfig;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};

use super::lambda::{UnnamedFailures, batch_records};
use super::metrics::Metrics;
use super::{DynamoReplyLog, SesMailer};
use crate::config::NotifierConfig;
use crate::notifier::Notifier;
use crate::ports::{Mailer, ReplyLog};

pub struct NotifierHandler<M, R> {
    pub notifier: Notifier<M, R>,
    pub concurrency: usize,
    pub metrics: Metrics,
}

pub type AwsNotifierHandler = NotifierHandler<SesMailer, DynamoReplyLog>;

impl AwsNotifierHandler {
    /// Builds the SES and DynamoDB adapters from one SDK configuration (loaded once, at start).
    pub fn from_sdk_config(sdk: &SdkConfig, config: NotifierConfig) -> AwsNotifierHandler {
        let mailer = SesMailer::new(
            aws_sdk_sesv2::Client::new(sdk),
            config.configuration_set.clone(),
        );
        let log = DynamoReplyLog::new(aws_sdk_dynamodb::Client::new(sdk), &config.reply_table);
        NotifierHandler {
            notifier: Notifier::new(mailer, log, config.reply_from, config.rate_limit)
                .with_claim_seconds(config.claim_seconds),
            concurrency: config.batch_concurrency,
            metrics: Metrics::to_stdout(&config.metrics.namespace, &config.metrics.stage),
        }
    }
}

impl<M: Mailer, R: ReplyLog> NotifierHandler<M, R> {
    /// Handles every record; handled ones (sent, already sent, rate-limited, undeliverable,
    /// unreadable) are left for Lambda to delete, transient failures are reported by messageId.
    pub async fn handle(&self, event: SqsEvent) -> Result<SqsBatchResponse, UnnamedFailures> {
        let records = batch_records(event);
        let unnamed = records
            .iter()
            .filter(|record| record.message_id.is_empty())
            .count();
        let reports = self.notifier.notify_batch(&records, self.concurrency).await;
        self.metrics
            .notifier_batch(&reports, chrono::Utc::now().timestamp_millis());
        let mut response = SqsBatchResponse::default();
        let mut unnamed_failures = 0;
        for report in reports.iter().filter(|report| report.must_retry()) {
            if report.message_id.is_empty() {
                unnamed_failures += 1;
            } else {
                response.add_failure(report.message_id.clone());
            }
        }
        if unnamed_failures > 0 {
            return Err(UnnamedFailures {
                count: unnamed_failures.min(unnamed),
            });
        }
        Ok(response)
    }
}
