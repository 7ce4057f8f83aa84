//! Every published message is checked against the JSON Schemas in `schemas/`, made strict: the
//! published schemas let subscribers ignore unknown properties (schemas/README.md), but what we
//! publish must have no property the schema does not describe, so that serde and the schema
//! cannot drift apart silently.

use std::path::Path;
use std::sync::OnceLock;

use invite_router::core::model::Topic;
use jsonschema::Validator;
use serde_json::Value;

/// The published schema `name`, as subscribers read it.
pub fn published(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    serde_json::from_str(&text).expect("schema is JSON")
}

/// `schema` with `additionalProperties: false` on every object schema that lists properties.
pub fn strict(mut schema: Value) -> Value {
    fn tighten(value: &mut Value) {
        match value {
            Value::Object(map) => {
                if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                    map.insert("additionalProperties".into(), Value::Bool(false));
                }
                map.values_mut().for_each(tighten);
            }
            Value::Array(items) => items.iter_mut().for_each(tighten),
            _ => {}
        }
    }
    tighten(&mut schema);
    schema
}

pub fn validator(schema: &Value) -> Validator {
    jsonschema::validator_for(schema).unwrap_or_else(|error| panic!("not a valid schema: {error}"))
}

fn load(name: &str) -> Validator {
    validator(&strict(published(name)))
}

fn event_validator() -> &'static Validator {
    static VALIDATOR: OnceLock<Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| load("event-message.v1.json"))
}

fn rejected_validator() -> &'static Validator {
    static VALIDATOR: OnceLock<Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| load("rejected-message.v2.json"))
}

/// Panics with every schema violation if `body` is not a valid message for `topic`.
pub fn assert_valid(topic: Topic, body: &str) -> Value {
    let value: Value = serde_json::from_str(body)
        .unwrap_or_else(|error| panic!("published body is not JSON ({error}): {body}"));
    let validator = match topic {
        Topic::Rejected => rejected_validator(),
        _ => event_validator(),
    };
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|error| format!("{} at {}", error, error.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "message on {topic} violates its schema:\n  {}\n{body}",
        errors.join("\n  ")
    );
    if topic != Topic::Rejected {
        assert_eq!(value["route"], topic.as_str(), "route matches the topic");
    }
    value
}
