//! SDK errors -> `PortError`. Transient is the default: a permanent error deletes the SQS message,
//! so only failures that no retry or redeployment can fix may be permanent.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::ports::PortError;

/// Per operation, the error codes that mean "this input can never succeed". Everything else,
/// including every access, signature, KMS and configuration error, is transient: it is retried,
/// then kept in the DLQ, where a fixed deployment can redrive it.
pub(crate) mod permanent {
    /// Only a missing object (deleted by a lifecycle rule or by hand). The function role holds
    /// `s3:ListBucket` on the mail bucket so that S3 answers `NoSuchKey` for it instead of
    /// `AccessDenied`. `NoSuchBucket` is a misconfigured `MAIL_BUCKET`; `AccessDenied` a missing
    /// grant or `kms:Decrypt`; `InvalidObjectState` an archived object that can be restored.
    pub(crate) const S3_GET_OBJECT: &[&str] = &["NoSuchKey"];
    /// A request SES cannot parse (a malformed address or message) is refused the same way every
    /// time. `MessageRejected` is not here: SES answers it for an unverified From identity or a
    /// sandboxed account, which the operator fixes.
    pub(crate) const SES_SEND_EMAIL: &[&str] = &["BadRequestException"];
    /// An expired receipt handle: the message is redelivered anyway, and handled idempotently.
    /// (A missing queue is a deployment fault, and the delete is only logged in any case.)
    pub(crate) const SQS_DELETE_MESSAGE: &[&str] = &["ReceiptHandleIsInvalid"];
    /// A message SNS refuses for good (too long, an attribute it will not take). The configuration
    /// check makes sure a malformed topic ARN, which SNS answers the same way, never gets here.
    /// The service sets such an outbox entry aside; a refusal or confirmation is dropped, logged.
    /// Everything else (a missing topic or grant, KMS, throttling) is retried.
    pub(crate) const SNS_PUBLISH: &[&str] = &["InvalidParameter", "InvalidParameterValue"];
    /// Nothing: a missing table, a missing permission or throttling must not drop mail; a lost
    /// condition is handled before classification.
    pub(crate) const DYNAMODB: &[&str] = &[];
}

/// Classifies an SDK error. `permanent_codes` (one of the lists in [`permanent`]) are the service
/// error codes that mean "this input can never succeed" for this operation; the HTTP status alone
/// never decides, since S3 answers 403 for a missing key, a missing grant and clock skew alike.
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
            if permanent_codes.contains(&code) {
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

#[cfg(test)]
mod tests {
    use aws_sdk_s3::error::ErrorMetadata;
    use aws_sdk_s3::operation::get_object::GetObjectError;
    use aws_sdk_s3::primitives::SdkBody;

    use super::*;
    use crate::ports::Classified;

    /// The error an SDK call returns for a service answer with this code and status.
    fn service_error(code: &str, status: u16) -> SdkError<GetObjectError, HttpResponse> {
        let metadata = ErrorMetadata::builder()
            .code(code)
            .message("as the service says it")
            .build();
        let status = status.try_into().expect("a valid status");
        SdkError::service_error(
            GetObjectError::generic(metadata),
            HttpResponse::new(status, SdkBody::empty()),
        )
    }

    const PERMANENT: bool = false;
    const TRANSIENT: bool = true;

    /// Every code each adapter can meet that matters, with the status AWS sends it with.
    #[rustfmt::skip]
    const CASES: &[(&str, &[&str], &str, u16, bool)] = &[
        ("S3 GetObject", permanent::S3_GET_OBJECT, "NoSuchKey", 404, PERMANENT),
        ("S3 GetObject", permanent::S3_GET_OBJECT, "NoSuchBucket", 404, TRANSIENT),
        ("S3 GetObject", permanent::S3_GET_OBJECT, "AccessDenied", 403, TRANSIENT),
        ("S3 GetObject", permanent::S3_GET_OBJECT, "SignatureDoesNotMatch", 403, TRANSIENT),
        ("S3 GetObject", permanent::S3_GET_OBJECT, "RequestTimeTooSkewed", 403, TRANSIENT),
        ("S3 GetObject", permanent::S3_GET_OBJECT, "InvalidAccessKeyId", 403, TRANSIENT),
        ("S3 GetObject", permanent::S3_GET_OBJECT, "ExpiredToken", 400, TRANSIENT),
        ("S3 GetObject", permanent::S3_GET_OBJECT, "InvalidObjectState", 403, TRANSIENT),
        ("S3 GetObject", permanent::S3_GET_OBJECT, "KMS.DisabledException", 400, TRANSIENT),
        ("S3 GetObject", permanent::S3_GET_OBJECT, "SlowDown", 503, TRANSIENT),
        ("S3 GetObject", permanent::S3_GET_OBJECT, "InternalError", 500, TRANSIENT),
        ("S3 GetObject", permanent::S3_GET_OBJECT, "", 404, TRANSIENT),
        ("SES SendEmail", permanent::SES_SEND_EMAIL, "BadRequestException", 400, PERMANENT),
        ("SES SendEmail", permanent::SES_SEND_EMAIL, "MessageRejected", 400, TRANSIENT),
        ("SES SendEmail", permanent::SES_SEND_EMAIL, "MailFromDomainNotVerifiedException", 400, TRANSIENT),
        ("SES SendEmail", permanent::SES_SEND_EMAIL, "AccountSuspendedException", 400, TRANSIENT),
        ("SES SendEmail", permanent::SES_SEND_EMAIL, "SendingPausedException", 400, TRANSIENT),
        ("SES SendEmail", permanent::SES_SEND_EMAIL, "NotFoundException", 404, TRANSIENT),
        ("SES SendEmail", permanent::SES_SEND_EMAIL, "LimitExceededException", 400, TRANSIENT),
        ("SES SendEmail", permanent::SES_SEND_EMAIL, "TooManyRequestsException", 429, TRANSIENT),
        ("SES SendEmail", permanent::SES_SEND_EMAIL, "AccessDeniedException", 403, TRANSIENT),
        ("SQS DeleteMessage", permanent::SQS_DELETE_MESSAGE, "ReceiptHandleIsInvalid", 400, PERMANENT),
        ("SQS DeleteMessage", permanent::SQS_DELETE_MESSAGE, "AWS.SimpleQueueService.NonExistentQueue", 400, TRANSIENT),
        ("SQS DeleteMessage", permanent::SQS_DELETE_MESSAGE, "AccessDenied", 403, TRANSIENT),
        ("SNS Publish", permanent::SNS_PUBLISH, "InvalidParameter", 400, PERMANENT),
        ("SNS Publish", permanent::SNS_PUBLISH, "InvalidParameterValue", 400, PERMANENT),
        ("SNS Publish", permanent::SNS_PUBLISH, "NotFound", 404, TRANSIENT),
        ("SNS Publish", permanent::SNS_PUBLISH, "AuthorizationError", 403, TRANSIENT),
        ("SNS Publish", permanent::SNS_PUBLISH, "KMSAccessDenied", 400, TRANSIENT),
        ("SNS Publish", permanent::SNS_PUBLISH, "Throttling", 400, TRANSIENT),
        ("DynamoDB", permanent::DYNAMODB, "ResourceNotFoundException", 400, TRANSIENT),
        ("DynamoDB", permanent::DYNAMODB, "AccessDeniedException", 400, TRANSIENT),
        ("DynamoDB", permanent::DYNAMODB, "ValidationException", 400, TRANSIENT),
        ("DynamoDB", permanent::DYNAMODB, "ProvisionedThroughputExceededException", 400, TRANSIENT),
        ("DynamoDB", permanent::DYNAMODB, "InternalServerError", 500, TRANSIENT),
    ];

    #[test]
    fn each_adapter_drops_a_message_only_for_errors_no_retry_can_fix() {
        let mut wrong = Vec::new();
        for &(operation, codes, code, status, transient) in CASES {
            let error = classify(operation, &service_error(code, status), codes);
            if error.is_transient() != transient {
                wrong.push(format!(
                    "{operation} {code:?} (HTTP {status}): expected {}, got {error}",
                    if transient { "transient" } else { "permanent" }
                ));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn the_detail_names_code_status_and_message_but_not_the_raw_response() {
        let error = classify(
            "S3 GetObject",
            &service_error("AccessDenied", 403),
            permanent::S3_GET_OBJECT,
        );
        assert_eq!(
            error.to_string(),
            "S3 GetObject failed transiently: AccessDenied (HTTP 403): as the service says it"
        );
    }
}
