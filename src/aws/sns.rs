use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;

use super::errors::{classify, permanent};
use crate::config::TopicArns;
use crate::core::model::Topic;
use crate::ports::{PortError, Publisher};

/// Publishes to the four SNS topics, with the message attributes as String attributes.
#[derive(Debug, Clone)]
pub struct SnsPublisher {
    client: Client,
    topics: TopicArns,
}

impl SnsPublisher {
    pub fn new(client: Client, topics: TopicArns) -> SnsPublisher {
        SnsPublisher { client, topics }
    }
}

impl Publisher for SnsPublisher {
    async fn publish(
        &self,
        topic: Topic,
        body: &str,
        attributes: &[(String, String)],
    ) -> Result<(), PortError> {
        const OPERATION: &str = "SNS Publish";
        let mut request = self
            .client
            .publish()
            .topic_arn(self.topics.arn(topic))
            .message(body);
        for (name, value) in attributes {
            let attribute = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|error| PortError::transient(OPERATION, error.to_string()))?;
            request = request.message_attributes(name, attribute);
        }
        request
            .send()
            .await
            .map_err(|error| classify(OPERATION, &error, permanent::SNS_PUBLISH))?;
        Ok(())
    }
}
