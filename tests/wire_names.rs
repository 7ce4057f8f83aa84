//! Every enum whose name goes on the wire (CLI output, published JSON, SNS attributes, logs,
//! metric dimensions, ledger items) gets it one way: strum's and serde's `snake_case` of the
//! variant. Each form round-trips, the `ALL` lists hold every variant exactly once, and the names
//! are the contract's, so a renamed variant fails here before it reaches a subscriber.

use std::fmt::Debug;
use std::str::FromStr;

use invite_router::core::itip::answer::NoReply;
use invite_router::core::model::{Reason, RecordStatus, Route, Topic};
use invite_router::ports::ErrorKind;
use serde::Serialize;
use serde::de::DeserializeOwned;
use strum::VariantArray;

/// `name` for each variant: the strum name, the serde JSON string, and the parse back.
fn round_trips<T>(all: &[T], name: impl Fn(&T) -> &'static str) -> Vec<String>
where
    T: VariantArray + Serialize + DeserializeOwned + FromStr + PartialEq + Debug + Copy,
{
    let mut problems = Vec::new();
    if all.len() != T::VARIANTS.len() || T::VARIANTS.iter().any(|variant| !all.contains(variant)) {
        problems.push(format!("{all:?} is not every variant of {:?}", T::VARIANTS));
    }
    for variant in T::VARIANTS {
        let wire = name(variant);
        let json = serde_json::to_value(variant).expect("serializes");
        if json != serde_json::Value::String(wire.to_owned()) {
            problems.push(format!("{variant:?}: serde writes {json}, strum {wire}"));
        }
        if serde_json::from_value::<T>(json).ok() != Some(*variant) {
            problems.push(format!("{variant:?}: serde does not read {wire} back"));
        }
        if wire.parse::<T>().ok() != Some(*variant) {
            problems.push(format!("{variant:?}: {wire} does not parse back"));
        }
    }
    problems
}

#[test]
fn every_wire_name_round_trips() {
    let mut problems = Vec::new();
    problems.extend(round_trips(&Reason::ALL, |reason| reason.code()));
    problems.extend(round_trips(&NoReply::ALL, |why| why.code()));
    problems.extend(round_trips(&Route::ALL, |route| route.as_str()));
    problems.extend(round_trips(&Topic::ALL, |topic| topic.as_str()));
    problems.extend(round_trips(RecordStatus::VARIANTS, |status| {
        invite_router::ledger_format::status_code(*status)
    }));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The names themselves are a contract (README, docs/DESIGN.md, schemas/, the CDK dashboard).
#[test]
fn the_names_are_the_contract_s() {
    let reasons: Vec<&str> = Reason::ALL.iter().map(|reason| reason.code()).collect();
    assert_eq!(
        reasons,
        [
            "no_calendar",
            "malformed_calendar",
            "missing_method",
            "unsupported_method",
            "missing_uid",
            "multiple_uids",
            "unsupported_range",
            "sender_not_organizer",
            "too_large",
            "spam",
            "virus",
            "sender_unauthenticated",
            "unknown_event",
        ]
    );
    let routes: Vec<&str> = Route::ALL.iter().map(|route| route.as_str()).collect();
    assert_eq!(
        routes,
        [
            "create",
            "update",
            "cancel",
            "duplicate",
            "stale",
            "ignored",
            "invalid"
        ]
    );
    let topics: Vec<&str> = Topic::ALL.iter().map(|topic| topic.as_str()).collect();
    assert_eq!(topics, ["create", "update", "cancel", "rejected"]);
    let statuses: Vec<&str> = RecordStatus::VARIANTS
        .iter()
        .map(|status| invite_router::ledger_format::status_code(*status))
        .collect();
    assert_eq!(statuses, ["active", "cancelled", "tombstone"]);
    let kinds: Vec<&str> = ErrorKind::VARIANTS.iter().map(|kind| kind.into()).collect();
    assert_eq!(kinds, ["transient", "permanent"]);
    assert_eq!(NoReply::OwnAddress.code(), "own_address");
    assert_eq!(NoReply::NoReplyAddress.code(), "no_reply_address");
}
