//! The notifier Lambda: read the configuration and the AWS SDK configuration once, then answer
//! refused senders from the `rejected` topic's queue. Everything else is in
//! `invite_router::aws::notifier_lambda` and `invite_router::notifier`.

use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use invite_router::aws::lambda::init_json_logs;
use invite_router::aws::notifier_lambda::AwsNotifierHandler;
use invite_router::config::NotifierConfig;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_json_logs();
    let config =
        NotifierConfig::from_env(&|name| std::env::var(name).ok()).inspect_err(|error| {
            tracing::error!(error = %error, "cannot start");
        })?;
    let sdk = invite_router::aws::load_sdk_config().await;
    let handler = Arc::new(AwsNotifierHandler::from_sdk_config(&sdk, config));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let handler = handler.clone();
        async move { handler.handle(event.payload).await.map_err(Error::from) }
    }))
    .await
}
