use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};

use aws_sdk_sesv2::error::ProvideErrorMetadata;

use super::errors::{classify, error_code, permanent};
use crate::core::reply::Reply;
use crate::ports::{Mailer, PortError};

/// Sends rendered replies with SES v2 `SendEmail` (raw content: the bytes the core rendered),
/// in the configuration set `REPLY_CONFIGURATION_SET` when one is set.
#[derive(Debug, Clone)]
pub struct SesMailer {
    client: Client,
    configuration_set: Option<String>,
}

impl SesMailer {
    pub fn new(client: Client, configuration_set: Option<String>) -> SesMailer {
        SesMailer {
            client,
            configuration_set,
        }
    }
}

impl Mailer for SesMailer {
    async fn send(&self, reply: &Reply) -> Result<(), PortError> {
        const OPERATION: &str = "SES SendEmail";
        let raw = RawMessage::builder()
            .data(Blob::new(reply.raw.clone()))
            .build()
            .map_err(|error| PortError::permanent(OPERATION, error.to_string()))?;
        self.client
            .send_email()
            .from_email_address(&reply.from)
            .destination(Destination::builder().to_addresses(&reply.to).build())
            .content(EmailContent::builder().raw(raw).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(|error| {
                let message = error.message().unwrap_or_default();
                if error_code(&error) == Some("MessageRejected") && refuses_the_content(message) {
                    PortError::permanent(OPERATION, format!("MessageRejected: {message}"))
                } else {
                    classify(OPERATION, &error, permanent::SES_SEND_EMAIL)
                }
            })?;
        Ok(())
    }
}

/// SES answers `MessageRejected` both for what the operator must fix (an unverified From
/// identity, a sandboxed account's unverified recipient: "Email address is not verified", or a
/// sending authorization missing: "not authorized" / "did not have authority") and
/// for the message itself (a virus, content it will not send). The first is retried until the
/// DLQ, where the operator finds it; the second can never succeed, so retrying it only delays
/// the DLQ's alarm for the cases that need a human.
fn refuses_the_content(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    const OPERATORS: [&str; 4] = ["not verified", "sandbox", "not authorized", "authority"];
    !OPERATORS.iter().any(|marker| message.contains(marker))
}

#[cfg(test)]
mod tests {
    use super::refuses_the_content;

    #[test]
    fn only_the_operators_rejections_are_retried() {
        for operators in [
            "Email address is not verified. The following identities failed the check in region EU-WEST-1: invite-router@replies.example.org",
            "Domain is not verified",
            "Sending is limited while the account is in the sandbox",
            "Did not have authority to send from email nobody@unverified.example",
            "User is not authorized to send from invite-router@replies.example.org",
        ] {
            assert!(!refuses_the_content(operators), "{operators}");
        }
        for content in [
            "Message contains a virus",
            "Illegal header 'X-Something'",
            "Message rejected",
            "",
        ] {
            assert!(refuses_the_content(content), "{content}");
        }
    }
}
