//! Adapters over the AWS SDK (S3, DynamoDB, SNS, SQS, SES v2) and the two Lambda handlers. One `SdkConfig` is
//! loaded at start and shared by every client; `AWS_ENDPOINT_URL` (read by aws-config) points
//! them all at a local emulator such as moto.

mod dynamodb;
mod errors;
pub mod lambda;
pub mod metrics;
pub mod notifier_lambda;
pub mod operator;
mod reply_log;
mod s3;
mod ses;
mod sns;
mod sqs;

pub use dynamodb::DynamoLedger;
pub use reply_log::DynamoReplyLog;
pub use s3::S3MailStore;
pub use ses::SesMailer;
pub use sns::SnsPublisher;
pub use sqs::SqsQueue;

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_s3::config::SharedHttpClient;
use aws_smithy_http_client::tls;

/// Loads the SDK configuration once, from the Lambda's environment (region, credentials,
/// `AWS_ENDPOINT_URL`), with timeouts: without them a hung call would hold the whole batch until
/// the function times out (30 s in the CDK app), and every record of it would be retried. A
/// record makes about five calls, each normally a few milliseconds.
pub async fn load_sdk_config() -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_secs(12))
        .build();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .timeout_config(timeouts)
        .load()
        .await
}

/// The HTTP client of every SDK client: hyper over rustls with ring, the system's trust roots.
/// aws-smithy-http-client reads those roots while the SDK clients are built, before the first
/// poll: `SSL_CERT_FILE` (set by the CDK app) keeps that to one file (docs/BENCHMARKS.md).
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// The S3 client for `sdk`. With an endpoint override (an emulator) S3 must be addressed by path:
/// virtual-host style would put the bucket name in the emulator's host name.
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    let mut builder = aws_sdk_s3::config::Builder::from(sdk);
    if sdk.endpoint_url().is_some() {
        builder = builder.force_path_style(true);
    }
    aws_sdk_s3::Client::from_conf(builder.build())
}
