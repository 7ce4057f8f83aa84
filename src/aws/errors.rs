//! SDK errors -> `PortError`. Transient is the default: a permanent error deletes the SQS message,
//! so only failures that no retry or redeployment can fix may be permanent.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::ports::PortError;

/// Classifies an SDK error. `permanent_codes` are the service error codes (or HTTP statuses, as
/// text) that mean "this input can never succeed" for this operation.
pub(crate) fn classify<E>(
    operation: &'static str,
    error: &SdkError<E, HttpResponse>,
    permanent_codes: &[&str],
) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match error {
        SdkError::ServiceError(context) => {
            let status = context.raw().status().as_u16().to_string();
            let code = context.err().code().unwrap_or("");
            // Code, message and status say it all; the full context would log the raw response.
            let detail = format!(
                "{code} (HTTP {status}): {}",
                context.err().message().unwrap_or("no message")
            );
            if permanent_codes.contains(&code) || permanent_codes.contains(&status.as_str()) {
                PortError::permanent(operation, detail)
            } else {
                // Throttling, 5xx, and configuration errors (a missing table or topic, a missing
                // permission): the message stays queued, is retried, and ends in the DLQ.
                PortError::transient(operation, detail)
            }
        }
        // Timeouts, connection failures, unparseable responses; and a request we could not even
        // build (a bug): kept for retry and the DLQ rather than dropped.
        _ => PortError::transient(operation, DisplayErrorContext(error).to_string()),
    }
}

/// The service error code, if the error is a service error.
pub(crate) fn error_code<E: ProvideErrorMetadata>(
    error: &SdkError<E, HttpResponse>,
) -> Option<&str> {
    match error {
        SdkError::ServiceError(context) => context.err().code(),
        _ => None,
    }
}
