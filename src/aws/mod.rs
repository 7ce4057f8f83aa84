//! Adapters over the AWS SDK (S3, DynamoDB, SNS, SQS) and the Lambda handler. One `SdkConfig` is
//! loaded at start and shared by every client; `AWS_ENDPOINT_URL` (read by aws-config) points
//! them all at a local emulator such as moto.

mod dynamodb;
mod errors;
pub mod lambda;
mod s3;
mod sns;
mod sqs;

pub use dynamodb::DynamoLedger;
pub use s3::S3MailStore;
pub use sns::SnsPublisher;
pub use sqs::SqsQueue;

use aws_config::SdkConfig;

/// The S3 client for `sdk`. With an endpoint override (an emulator) S3 must be addressed by path:
/// virtual-host style would put the bucket name in the emulator's host name.
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    let mut builder = aws_sdk_s3::config::Builder::from(sdk);
    if sdk.endpoint_url().is_some() {
        builder = builder.force_path_style(true);
    }
    aws_sdk_s3::Client::from_conf(builder.build())
}
