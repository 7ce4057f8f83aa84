//! Both Lambda handlers' CloudWatch metrics (embedded metric format), read back as CloudWatch
//! would: every line is one EMF object whose directives name a namespace, dimension sets and
//! metrics with units, each metric's value and each dimension's value at the top level. Run
//! against moto with the real adapters and real demo emails: an invite, a refusal that is
//! answered, a forged cancel that is not, and the notifier sending the one reply.
#![cfg(feature = "aws")]

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use invite_router::aws::metrics::Metrics;
use invite_router::core::model::Topic;
use serde_json::Value;
use support::aws::{AwsWorld, MAIL_BUCKET, demo_email};
use support::moto::Moto;

/// One metric value as CloudWatch files it.
#[derive(Debug, Clone, PartialEq)]
struct Datum {
    namespace: String,
    name: String,
    unit: String,
    dimensions: BTreeMap<String, String>,
    value: f64,
}

/// Every datum in `lines`, failing on anything CloudWatch would reject or we promised not to do.
fn data(lines: &[String]) -> Vec<Datum> {
    const LOW_CARDINALITY: [&str; 5] = ["Stage", "Route", "Reason", "Why", "Kind"];
    let mut found = Vec::new();
    for line in lines {
        let object: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            object["_aws"]["Timestamp"]
                .as_i64()
                .is_some_and(|ms| ms > 1_700_000_000_000),
            "{line}"
        );
        let directives = object["_aws"]["CloudWatchMetrics"]
            .as_array()
            .expect("directives");
        assert!(!directives.is_empty(), "{line}");
        for directive in directives {
            let namespace = directive["Namespace"]
                .as_str()
                .expect("namespace")
                .to_owned();
            let sets = directive["Dimensions"].as_array().expect("dimension sets");
            assert_eq!(sets.len(), 1, "{line}");
            let names: Vec<&str> = sets[0]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_str().unwrap())
                .collect();
            assert!(
                names.len() <= 30 && names.iter().all(|n| LOW_CARDINALITY.contains(n)),
                "{line}"
            );
            let dimensions: BTreeMap<String, String> = names
                .iter()
                .map(|name| {
                    let value = object[*name]
                        .as_str()
                        .unwrap_or_else(|| panic!("dimension {name} has no value: {line}"));
                    assert!(
                        !value.contains('@'),
                        "an address as a dimension value: {line}"
                    );
                    ((*name).to_owned(), value.to_owned())
                })
                .collect();
            for metric in directive["Metrics"].as_array().expect("metrics") {
                let name = metric["Name"].as_str().expect("name").to_owned();
                let unit = metric["Unit"].as_str().expect("unit").to_owned();
                assert!(
                    ["Count", "Milliseconds", "Bytes"].contains(&unit.as_str()),
                    "{line}"
                );
                let value = object[&name]
                    .as_f64()
                    .unwrap_or_else(|| panic!("{name} has no value: {line}"));
                found.push(Datum {
                    namespace: namespace.clone(),
                    name,
                    unit,
                    dimensions: dimensions.clone(),
                    value,
                });
            }
        }
    }
    found
}

fn sum(data: &[Datum], name: &str, dimensions: &[(&str, &str)]) -> f64 {
    data.iter()
        .filter(|datum| datum.name == name)
        .filter(|datum| {
            datum.dimensions.len() == dimensions.len() + 1
                && dimensions
                    .iter()
                    .all(|(k, v)| datum.dimensions.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|datum| datum.value)
        .sum()
}

fn capture() -> (Metrics, Arc<Mutex<Vec<String>>>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let metrics = Metrics::with_sink(
        "InviteRouter",
        "test",
        Arc::new(move |line: &str| sink.lock().unwrap().push(line.to_owned())),
    );
    (metrics, lines)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_handlers_emit_emf_with_names_dimensions_and_units() {
    let Some(moto) = Moto::start() else { return };
    let world = AwsWorld::new(&moto).await;
    let (metrics, lines) = capture();
    let mut handler = world.handler();
    handler.metrics = metrics;
    // The s3:TestEvent S3 sends when the notification is configured.
    let _ = handler.handle(world.receive_intake(1).await).await.unwrap();
    for (key, email) in [
        ("inbox/invite.eml", "01-invite.eml"),
        ("inbox/lunch.eml", "06-no-invite.eml"),
        ("inbox/forged.eml", "07-forged-cancel.eml"),
    ] {
        world.put(MAIL_BUCKET, key, demo_email(email)).await;
    }
    let response = handler.handle(world.receive_intake(3).await).await.unwrap();
    assert!(response.batch_item_failures.is_empty());

    let intake = data(&lines.lock().unwrap());
    assert!(intake.iter().all(|datum| datum.namespace == "InviteRouter"));
    assert!(
        intake
            .iter()
            .all(|datum| datum.dimensions["Stage"] == "test")
    );
    assert_eq!(sum(&intake, "Invites", &[("Route", "create")]), 1.0);
    assert_eq!(sum(&intake, "Invites", &[("Route", "invalid")]), 2.0);
    assert_eq!(
        sum(&intake, "MessagesPublished", &[("Route", "create")]),
        1.0
    );
    assert_eq!(sum(&intake, "Refusals", &[("Reason", "no_calendar")]), 1.0);
    assert_eq!(
        sum(&intake, "Refusals", &[("Reason", "sender_unauthenticated")]),
        1.0
    );
    assert_eq!(sum(&intake, "RepliesRequested", &[]), 1.0);
    assert_eq!(
        sum(&intake, "RepliesSuppressed", &[("Why", "reason_not_told")]),
        1.0
    );
    let mut sizes: Vec<f64> = intake
        .iter()
        .filter(|datum| datum.name == "EmailSize" && datum.unit == "Bytes")
        .map(|datum| datum.value)
        .collect();
    sizes.sort_by(f64::total_cmp);
    let mut expected: Vec<f64> = ["01-invite.eml", "06-no-invite.eml", "07-forged-cancel.eml"]
        .map(|email| demo_email(email).len() as f64)
        .to_vec();
    expected.sort_by(f64::total_cmp);
    assert_eq!(sizes, expected, "each email's size, as read from S3");
    let times: Vec<&Datum> = intake
        .iter()
        .filter(|datum| datum.name == "ProcessingTime")
        .collect();
    assert_eq!(
        times.len(),
        4,
        "one per SQS record, the test event included"
    );
    assert!(
        times
            .iter()
            .all(|datum| datum.unit == "Milliseconds" && datum.value >= 0.0)
    );
    assert_eq!(
        sum(&intake, "RecordFailures", &[("Kind", "transient")]),
        0.0
    );

    let (metrics, lines) = capture();
    let mut notifier = world.notifier(10).await;
    notifier.metrics = metrics;
    let refusal = world.receive_topic(Topic::Rejected, 1).await;
    let response = notifier.handle(refusal.clone()).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    let _ = notifier.handle(refusal).await.unwrap();
    let replies = data(&lines.lock().unwrap());
    assert_eq!(sum(&replies, "Replies", &[("Why", "sent")]), 1.0);
    assert_eq!(sum(&replies, "Replies", &[("Why", "already_sent")]), 1.0);
    assert!(replies.iter().all(|datum| datum.unit == "Count"));
}
