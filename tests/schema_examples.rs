//! The example messages in `schemas/examples/` (what subscribers read first) against the schemas
//! and the compatibility policy of schemas/README.md: every example is valid for its topic under
//! the strict reading we hold our own output to, its SNS attributes agree with its body, and the
//! published schemas accept a message with properties they do not know (fields are only ever
//! added within a schema_version, so a subscriber validating with them must not break).

mod support;

use std::path::{Path, PathBuf};

use invite_router::core::model::Topic;
use serde_json::{Value, json};
use support::schema::{assert_valid, published, strict, validator};

fn examples() -> Vec<(PathBuf, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/examples");
    let mut found: Vec<(PathBuf, Value)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("readable example");
            let value = serde_json::from_str(&text)
                .unwrap_or_else(|error| panic!("{}: not JSON: {error}", path.display()));
            (path, value)
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

fn topic_of(example: &Value) -> Topic {
    match example["topic"].as_str() {
        Some("create") => Topic::Create,
        Some("update") => Topic::Update,
        Some("cancel") => Topic::Cancel,
        Some("rejected") => Topic::Rejected,
        other => panic!("an example names no topic: {other:?}"),
    }
}

#[test]
fn every_topic_has_an_example_and_every_example_is_valid() {
    let examples = examples();
    for topic in ["create", "update", "cancel", "rejected"] {
        assert!(
            examples
                .iter()
                .any(|(_, example)| example["topic"] == topic),
            "no example for the {topic} topic"
        );
    }
    for (path, example) in &examples {
        let topic = topic_of(example);
        // Strict: the example has no property the schema does not describe.
        assert_valid(topic, &example["message"].to_string());
        let attributes = &example["attributes"];
        let message = &example["message"];
        match topic {
            Topic::Rejected if message["kind"] == "confirmation" => {
                assert_eq!(attributes["kind"], "confirmation", "{}", path.display());
                assert_eq!(attributes["route"], message["route"], "{}", path.display());
            }
            Topic::Rejected => {
                assert_eq!(attributes["route"], "invalid", "{}", path.display());
                assert_eq!(
                    attributes["reason"],
                    message["reason"],
                    "{}",
                    path.display()
                );
            }
            _ => {
                assert_eq!(attributes["route"], message["route"], "{}", path.display());
                assert_eq!(
                    attributes["method"],
                    message["method"],
                    "{}",
                    path.display()
                );
                assert_eq!(
                    attributes["uid"],
                    message["event"]["uid"],
                    "{}",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn published_schemas_let_subscribers_ignore_added_fields() {
    for (path, example) in examples() {
        let name = match topic_of(&example) {
            Topic::Rejected => "rejected-message.v2.json",
            _ => "event-message.v1.json",
        };
        let mut grown = example["message"].clone();
        grown["added_in_a_later_release"] = json!({"anything": [1, 2]});
        if let Some(event) = grown.get_mut("event") {
            event["x_new_field"] = json!("value");
        }
        grown["source"]["x_new_field"] = json!(null);
        assert!(
            validator(&published(name)).is_valid(&grown),
            "{}: the published {name} refuses a message with an added field",
            path.display()
        );
        assert!(
            !validator(&strict(published(name))).is_valid(&grown),
            "{}: the strict reading of {name} must catch an undescribed field",
            path.display()
        );
    }
}
