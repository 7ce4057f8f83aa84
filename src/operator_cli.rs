//! `invite-router reprocess` and `invite-router dlq list|redrive`: the operator's commands against
//! a deployed stack (feature `aws`). They read the same environment as the Lambda (export the
//! function's variables, docs/OPERATIONS.md shows how) plus the AWS credentials of the operator.
//! Output: JSON lines, like `process`. Exit codes: 0 done, 1 an AWS call failed, 2 usage or
//! configuration.

use std::process::ExitCode;

use crate::aws::lambda::AwsHandler;
use crate::aws::operator::{Redrive, dlq_list, dlq_redrive, redrive_destination, stored_email};
use crate::cli::ProcessLine;
use crate::config::Config;

/// The dead-letter queue's URL when `--queue-url` is not given.
pub const DEAD_LETTER_QUEUE_URL: &str = "DEAD_LETTER_QUEUE_URL";

fn runtime() -> Option<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .inspect_err(|error| eprintln!("invite-router: cannot start the async runtime: {error}"))
        .ok()
}

fn print_json(value: &impl serde::Serialize) {
    match serde_json::to_string(value) {
        Ok(line) => println!("{line}"),
        Err(error) => eprintln!("invite-router: cannot print a line: {error}"),
    }
}

/// Runs the stored email `bucket`/`key` through the real pipeline: the deployed ledger, topics
/// and reply path, exactly as the Lambda would. Prints the same line as `process`.
pub fn reprocess(bucket: &str, key: &str) -> ExitCode {
    let config = match Config::from_env(&|name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("invite-router: {error}");
            return ExitCode::from(2);
        }
    };
    let Some(runtime) = runtime() else {
        return ExitCode::from(1);
    };
    runtime.block_on(async {
        let sdk = crate::aws::load_sdk_config().await;
        let handler = AwsHandler::from_sdk_config(&sdk, config);
        let source = stored_email(bucket, key);
        match handler.service.process_source(&source).await {
            Ok(outcome) => {
                print_json(&ProcessLine::from(&outcome));
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("invite-router: {key}: {error}");
                print_json(&ProcessLine::failed(&source, &error));
                ExitCode::from(1)
            }
        }
    })
}

fn queue_url(given: Option<&str>, variable: &str) -> Option<String> {
    given
        .map(str::to_owned)
        .or_else(|| std::env::var(variable).ok())
        .filter(|url| !url.trim().is_empty())
        .or_else(|| {
            eprintln!("invite-router: no queue URL: pass it, or set {variable}");
            None
        })
}

/// Prints one line per message of the dead-letter queue (left in place).
pub fn list(dlq: Option<&str>) -> ExitCode {
    let Some(dlq) = queue_url(dlq, DEAD_LETTER_QUEUE_URL) else {
        return ExitCode::from(2);
    };
    let Some(runtime) = runtime() else {
        return ExitCode::from(1);
    };
    runtime.block_on(async {
        let sdk = crate::aws::load_sdk_config().await;
        match dlq_list(&aws_sdk_sqs::Client::new(&sdk), &dlq).await {
            Ok(entries) => {
                entries.iter().for_each(print_json);
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("invite-router: {error}");
                ExitCode::from(1)
            }
        }
    })
}

/// Moves messages from the dead-letter queue back to the queue they failed from (the DLQ's own
/// source: `ListDeadLetterSourceQueues`; `--to-queue-url` only picks among its sources); prints
/// `{"moved": "<message id>", "to": "<queue url>"}` per message, and how many moved to stderr.
pub fn redrive(dlq: Option<&str>, to: Option<&str>, which: Redrive) -> ExitCode {
    let Some(dlq) = queue_url(dlq, DEAD_LETTER_QUEUE_URL) else {
        return ExitCode::from(2);
    };
    let Some(runtime) = runtime() else {
        return ExitCode::from(1);
    };
    runtime.block_on(async {
        let sdk = crate::aws::load_sdk_config().await;
        let client = aws_sdk_sqs::Client::new(&sdk);
        let moved = match redrive_destination(&client, &dlq, to).await {
            Ok(to) => dlq_redrive(&client, &dlq, &to, &which)
                .await
                .map(|moved| (to, moved)),
            Err(error) => Err(error),
        };
        match moved {
            Ok((to, moved)) => {
                for id in &moved {
                    print_json(&serde_json::json!({ "moved": id, "to": to }));
                }
                eprintln!("invite-router: moved {} message(s) to {to}", moved.len());
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("invite-router: {error}");
                ExitCode::from(1)
            }
        }
    })
}
