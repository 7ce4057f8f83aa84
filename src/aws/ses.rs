use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};

use super::errors::{classify, permanent};
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
            .map_err(|error| classify(OPERATION, &error, permanent::SES_SEND_EMAIL))?;
        Ok(())
    }
}
