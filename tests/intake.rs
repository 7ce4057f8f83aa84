//! The Lambda events in fixtures/sqs (shaped as AWS delivers them, every field present) through
//! intake: each envelope names the right object, with its key decoded.

use std::path::Path;

use invite_router::intake::{IntakeError, parse_record_body};
use invite_router::ports::{Classified, MailSource};
use serde_json::Value;

const BUCKET: &str = "invite-router-mail-123456789012";

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/sqs")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn bodies(event: &Value) -> Vec<String> {
    event["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| record["body"].as_str().unwrap().to_owned())
        .collect()
}

fn sources(name: &str) -> Vec<Result<Vec<MailSource>, IntakeError>> {
    bodies(&fixture(name))
        .iter()
        .map(|body| parse_record_body(body))
        .collect()
}

fn object(key: &str) -> MailSource {
    MailSource {
        bucket: Some(BUCKET.into()),
        key: key.into(),
    }
}

#[test]
fn an_s3_put_notification_names_its_decoded_key() {
    assert_eq!(
        sources("s3-put.json"),
        vec![Ok(vec![object(
            "inbox/2026-11/Quarterly planning (v2)+notes réunion.eml"
        )])]
    );
}

#[test]
fn the_s3_test_event_names_nothing() {
    assert_eq!(sources("s3-test-event.json"), vec![Ok(vec![])]);
}

#[test]
fn an_sns_wrapped_s3_notification_is_unwrapped() {
    assert_eq!(
        sources("sns-wrapped-s3.json"),
        vec![Ok(vec![object("incoming/abc def.eml")])]
    );
}

#[test]
fn an_ses_receipt_through_sns_names_the_stored_mail() {
    assert_eq!(
        sources("ses-receipt-sns.json"),
        vec![Ok(vec![object(
            "incoming/o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g1"
        )])]
    );
}

#[test]
fn a_mixed_batch_is_judged_record_by_record() {
    let results = sources("mixed-batch.json");
    assert_eq!(results[0], Ok(vec![object("inbox/good.eml")]));
    assert_eq!(results[1], Ok(vec![]));
    assert!(matches!(results[2], Err(IntakeError::S3RecordField { .. })));
    assert!(matches!(results[3], Err(IntakeError::NotJson(_))));
    assert_eq!(
        results[4],
        Ok(vec![object(
            "incoming/o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g1"
        )])
    );
    assert!(results.iter().flatten().count() == 3);
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| !e.is_transient())
    );
}

/// The fixtures are real Lambda events: aws_lambda_events reads them, and the handler's
/// conversion keeps every record's id, receipt handle and body.
#[cfg(feature = "aws")]
#[test]
fn the_fixtures_are_lambda_sqs_events() {
    use aws_lambda_events::event::sqs::SqsEvent;
    for name in [
        "s3-put.json",
        "s3-test-event.json",
        "sns-wrapped-s3.json",
        "ses-receipt-sns.json",
        "mixed-batch.json",
    ] {
        let value = fixture(name);
        let event: SqsEvent = serde_json::from_value(value.clone()).unwrap();
        let records = invite_router::aws::lambda::batch_records(event);
        assert_eq!(
            records.len(),
            value["Records"].as_array().unwrap().len(),
            "{name}"
        );
        for (record, raw) in records.iter().zip(value["Records"].as_array().unwrap()) {
            assert_eq!(record.message_id, raw["messageId"].as_str().unwrap());
            assert_eq!(
                record.receipt_handle.as_deref(),
                raw["receiptHandle"].as_str()
            );
            assert_eq!(record.body, raw["body"].as_str().unwrap());
        }
    }
}
