//! SQS record body -> the S3 objects it names, for every envelope docs/DESIGN.md "Intake envelopes" lists:
//! a plain S3 event notification, the same wrapped in an SNS notification, an SES receipt
//! notification (through SNS) whose action stored the mail in S3, and `s3:TestEvent`.
//!
//! Parsed leniently on purpose: only the fields we need are read, because emulators and older
//! notification versions omit fields (`userIdentity`, `requestParameters`) that strict event
//! types insist on. Every failure here is permanent: the same body will never parse better.

use percent_encoding::percent_decode_str;
use serde_json::Value;

use crate::ports::{Classified, ErrorKind, MailSource};

/// Why a record body names no S3 object. Always permanent: retrying the same body cannot help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntakeError {
    #[error("the record body is not JSON: {0}")]
    NotJson(String),
    #[error("the record body is no known envelope (S3 event, SNS notification, SES receipt)")]
    UnknownEnvelope,
    #[error("the SNS notification's Message is not JSON: {0}")]
    SnsMessageNotJson(String),
    #[error("S3 event record {index} has no {field}")]
    S3RecordField { index: usize, field: &'static str },
    #[error("the S3 object key {key:?} is not valid URL-encoded UTF-8")]
    BadKeyEncoding { key: String },
    #[error("the SES receipt action is {action:?}, not S3: the mail is not in a bucket")]
    SesActionNotS3 { action: String },
    #[error("the SES receipt notification has no {field}")]
    SesField { field: &'static str },
}

/// Intake errors never heal on retry; the record is logged and deleted.
impl Classified for IntakeError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Permanent
    }
}

/// The S3 objects named by one SQS record body, in order. `Ok(vec![])` for `s3:TestEvent`,
/// which S3 sends once when the notification is configured and which names no object.
pub fn parse_record_body(body: &str) -> Result<Vec<MailSource>, IntakeError> {
    let value: Value =
        serde_json::from_str(body).map_err(|error| IntakeError::NotJson(error.to_string()))?;
    let mut sources = parse_envelope(&value, true)?;
    sources.retain(|source| !is_ses_setup_notification(&source.key));
    Ok(sources)
}

/// When a receipt rule with an S3 action is created, SES writes a test object named
/// `<prefix>AMAZON_SES_SETUP_NOTIFICATION` to the bucket. It is not mail from anyone: reading it
/// would only refuse it as `no_calendar` and tell "the sender" (AWS) so. Acknowledged, like
/// `s3:TestEvent`.
fn is_ses_setup_notification(key: &str) -> bool {
    key.rsplit('/').next() == Some("AMAZON_SES_SETUP_NOTIFICATION")
}

fn parse_envelope(value: &Value, may_be_sns: bool) -> Result<Vec<MailSource>, IntakeError> {
    if is_s3_test_event(value) {
        return Ok(Vec::new());
    }
    if let Some(records) = value.get("Records").and_then(Value::as_array) {
        return records
            .iter()
            .enumerate()
            .filter(|(_, record)| !is_other_s3_event(record))
            .map(|(index, record)| parse_s3_record(index, record))
            .collect();
    }
    if value.get("receipt").is_some() && value.get("notificationType").is_some() {
        return parse_ses_receipt(value).map(|source| vec![source]);
    }
    // SNS wraps exactly once; an SNS envelope inside an SNS envelope is no shape AWS produces.
    if may_be_sns && value.get("Type").and_then(Value::as_str) == Some("Notification") {
        let message = value
            .get("Message")
            .and_then(Value::as_str)
            .ok_or(IntakeError::UnknownEnvelope)?;
        let inner: Value = serde_json::from_str(message)
            .map_err(|error| IntakeError::SnsMessageNotJson(error.to_string()))?;
        return parse_envelope(&inner, false);
    }
    Err(IntakeError::UnknownEnvelope)
}

fn is_s3_test_event(value: &Value) -> bool {
    value.get("Event").and_then(Value::as_str) == Some("s3:TestEvent")
}

/// A notification for something other than a new object (`ObjectRemoved:*`, say, if the bucket
/// notification is ever widened) names no mail to read: acknowledged, like `s3:TestEvent`.
/// Records without `eventName` (emulators) count as created objects.
fn is_other_s3_event(record: &Value) -> bool {
    record
        .get("eventName")
        .and_then(Value::as_str)
        .is_some_and(|name| !name.starts_with("ObjectCreated:"))
}

fn parse_s3_record(index: usize, record: &Value) -> Result<MailSource, IntakeError> {
    let s3 = record
        .get("s3")
        .ok_or(IntakeError::S3RecordField { index, field: "s3" })?;
    let bucket =
        s3.pointer("/bucket/name")
            .and_then(Value::as_str)
            .ok_or(IntakeError::S3RecordField {
                index,
                field: "s3.bucket.name",
            })?;
    let encoded_key =
        s3.pointer("/object/key")
            .and_then(Value::as_str)
            .ok_or(IntakeError::S3RecordField {
                index,
                field: "s3.object.key",
            })?;
    Ok(MailSource {
        bucket: Some(bucket.to_owned()),
        key: decode_s3_event_key(encoded_key)?,
    })
}

/// S3 event keys are form-encoded: `+` is a space, then `%XX` escapes (so `%2B` is a real `+`).
pub fn decode_s3_event_key(encoded: &str) -> Result<String, IntakeError> {
    let spaced = encoded.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(|key| key.into_owned())
        .map_err(|_| IntakeError::BadKeyEncoding {
            key: encoded.to_owned(),
        })
}

/// An SES receipt notification: `receipt.action` says where the S3 action stored the mail. Its
/// `objectKey` is the key itself (SES does not URL-encode it).
fn parse_ses_receipt(value: &Value) -> Result<MailSource, IntakeError> {
    let action = value
        .pointer("/receipt/action")
        .ok_or(IntakeError::SesField {
            field: "receipt.action",
        })?;
    let action_type = action.get("type").and_then(Value::as_str).unwrap_or("");
    if action_type != "S3" {
        return Err(IntakeError::SesActionNotS3 {
            action: action_type.to_owned(),
        });
    }
    let bucket = action
        .get("bucketName")
        .and_then(Value::as_str)
        .ok_or(IntakeError::SesField {
            field: "receipt.action.bucketName",
        })?;
    let key = action
        .get("objectKey")
        .and_then(Value::as_str)
        .ok_or(IntakeError::SesField {
            field: "receipt.action.objectKey",
        })?;
    Ok(MailSource {
        bucket: Some(bucket.to_owned()),
        key: key.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn source(bucket: &str, key: &str) -> MailSource {
        MailSource {
            bucket: Some(bucket.into()),
            key: key.into(),
        }
    }

    fn s3_event(keys: &[&str]) -> Value {
        let records: Vec<Value> = keys
            .iter()
            .map(|key| {
                json!({
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Put",
                    "s3": {"bucket": {"name": "mail-bucket"}, "object": {"key": key, "size": 10}}
                })
            })
            .collect();
        json!({ "Records": records })
    }

    fn sns(message: &Value) -> String {
        json!({
            "Type": "Notification",
            "MessageId": "0b7a",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:inbound",
            "Message": message.to_string(),
        })
        .to_string()
    }

    #[test]
    fn a_plain_s3_event_names_every_object() {
        let body = s3_event(&["inbox/a.eml", "inbox/b.eml"]).to_string();
        assert_eq!(
            parse_record_body(&body).unwrap(),
            vec![
                source("mail-bucket", "inbox/a.eml"),
                source("mail-bucket", "inbox/b.eml")
            ]
        );
    }

    #[test]
    fn moto_style_records_without_optional_fields_parse() {
        let body = r#"{"Records":[{"s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}"#;
        assert_eq!(parse_record_body(body).unwrap(), vec![source("b", "k")]);
    }

    #[test]
    fn keys_are_form_decoded() {
        let cases = [
            ("inbox%2Fa.eml", "inbox/a.eml"),
            ("my+invite.eml", "my invite.eml"),
            ("a%2Bb.eml", "a+b.eml"),
            ("r%C3%A9union+%C3%A9t%C3%A9.eml", "réunion été.eml"),
            ("plain", "plain"),
        ];
        for (encoded, decoded) in cases {
            let body = s3_event(&[encoded]).to_string();
            assert_eq!(
                parse_record_body(&body).unwrap(),
                vec![source("mail-bucket", decoded)],
                "{encoded}"
            );
        }
    }

    #[test]
    fn a_key_that_decodes_to_invalid_utf8_is_permanent() {
        let body = s3_event(&["bad%FF.eml"]).to_string();
        let error = parse_record_body(&body).unwrap_err();
        assert!(matches!(error, IntakeError::BadKeyEncoding { .. }));
        assert!(!error.is_transient());
    }

    #[test]
    fn an_sns_wrapped_s3_event_is_unwrapped() {
        let body = sns(&s3_event(&["inbox%2Fx+y.eml"]));
        assert_eq!(
            parse_record_body(&body).unwrap(),
            vec![source("mail-bucket", "inbox/x y.eml")]
        );
    }

    #[test]
    fn an_ses_receipt_through_sns_names_its_s3_object_verbatim() {
        let notification = json!({
            "notificationType": "Received",
            "mail": {"messageId": "abc", "source": "alice@example.com"},
            "receipt": {
                "action": {
                    "type": "S3",
                    "topicArn": "arn:aws:sns:us-east-1:123456789012:inbound",
                    "bucketName": "ses-bucket",
                    "objectKeyPrefix": "incoming/",
                    "objectKey": "incoming/abc+def"
                }
            }
        });
        assert_eq!(
            parse_record_body(&sns(&notification)).unwrap(),
            vec![source("ses-bucket", "incoming/abc+def")]
        );
    }

    #[test]
    fn an_ses_receipt_with_another_action_is_permanent() {
        let notification = json!({
            "notificationType": "Received",
            "receipt": {"action": {"type": "SNS", "topicArn": "arn", "encoding": "BASE64"}}
        });
        assert!(matches!(
            parse_record_body(&sns(&notification)),
            Err(IntakeError::SesActionNotS3 { .. })
        ));
    }

    #[test]
    fn the_ses_setup_notification_object_is_acknowledged_with_nothing_to_do() {
        let body =
            s3_event(&["incoming/AMAZON_SES_SETUP_NOTIFICATION", "incoming/abc123"]).to_string();
        assert_eq!(
            parse_record_body(&body).expect("parses"),
            vec![source("mail-bucket", "incoming/abc123")]
        );
        let only_setup = s3_event(&["AMAZON_SES_SETUP_NOTIFICATION"]).to_string();
        assert_eq!(parse_record_body(&only_setup).expect("parses"), vec![]);
    }

    #[test]
    fn s3_test_events_are_acknowledged_with_nothing_to_do() {
        let test_event = json!({
            "Service": "Amazon S3",
            "Event": "s3:TestEvent",
            "Time": "2026-11-23T01:00:00.000Z",
            "Bucket": "mail-bucket",
            "RequestId": "R",
            "HostId": "H"
        });
        assert_eq!(parse_record_body(&test_event.to_string()).unwrap(), vec![]);
        assert_eq!(parse_record_body(&sns(&test_event)).unwrap(), vec![]);
    }

    #[test]
    fn malformed_json_is_permanent() {
        for body in ["", "not json", "{\"Records\": [", "\u{0}"] {
            let error = parse_record_body(body).unwrap_err();
            assert!(matches!(error, IntakeError::NotJson(_)), "{body:?}");
            assert!(!error.is_transient());
        }
    }

    #[test]
    fn records_without_s3_are_permanent() {
        let body = json!({"Records": [{"eventSource": "aws:dynamodb", "dynamodb": {}}]});
        assert_eq!(
            parse_record_body(&body.to_string()).unwrap_err(),
            IntakeError::S3RecordField {
                index: 0,
                field: "s3"
            }
        );
        let no_key = json!({"Records": [{"s3": {"bucket": {"name": "b"}, "object": {}}}]});
        assert_eq!(
            parse_record_body(&no_key.to_string()).unwrap_err(),
            IntakeError::S3RecordField {
                index: 0,
                field: "s3.object.key"
            }
        );
    }

    #[test]
    fn unknown_shapes_are_permanent() {
        for body in [
            json!({"hello": "world"}),
            json!([1, 2, 3]),
            json!("a string"),
            json!({"Type": "SubscriptionConfirmation", "Message": "{}"}),
        ] {
            assert_eq!(
                parse_record_body(&body.to_string()).unwrap_err(),
                IntakeError::UnknownEnvelope,
                "{body}"
            );
        }
        let sns_not_json = json!({"Type": "Notification", "Message": "plain text"});
        assert!(matches!(
            parse_record_body(&sns_not_json.to_string()),
            Err(IntakeError::SnsMessageNotJson(_))
        ));
        // SNS inside SNS is no shape AWS produces.
        let double = sns(&serde_json::from_str::<Value>(&sns(&s3_event(&["k"]))).unwrap());
        assert_eq!(
            parse_record_body(&double).unwrap_err(),
            IntakeError::UnknownEnvelope
        );
    }

    #[test]
    fn only_created_objects_are_named() {
        let body = json!({"Records": [
            {"eventName": "ObjectRemoved:Delete", "s3": {"bucket": {"name": "b"}, "object": {"key": "gone"}}},
            {"eventName": "ObjectCreated:CompleteMultipartUpload", "s3": {"bucket": {"name": "b"}, "object": {"key": "new"}}}
        ]});
        assert_eq!(
            parse_record_body(&body.to_string()).unwrap(),
            vec![source("b", "new")]
        );
    }

    #[test]
    fn an_empty_records_array_names_nothing() {
        assert_eq!(parse_record_body(r#"{"Records": []}"#).unwrap(), vec![]);
    }
}
