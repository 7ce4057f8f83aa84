//! Any bytes through the whole core: parsing, validation and the decision against an empty and a
//! populated ledger. A panic, an overflow or a hang here is a bug.
#![no_main]

use std::collections::BTreeMap;

use invite_router::core::itip::rules::decide;
use invite_router::core::model::{EventKey, RecordState, RecordStatus, Version};
use invite_router::core::{SenderPolicy, analyze, report::inspect_report};
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let analysis = analyze(data, &common::limits(), &SenderPolicy::default());
    let _ = inspect_report(&analysis);
    // The rules take only what the checks accepted.
    let Ok(checked) = &analysis.verdict else {
        return;
    };
    let empty = BTreeMap::new();
    let _ = decide(checked, &empty);
    let mut known = BTreeMap::new();
    for event in checked.events() {
        if let Some(uid) = &event.uid {
            known.insert(
                EventKey::new(uid, None),
                RecordState {
                    organizer: Some("someone@example.com".into()),
                    status: RecordStatus::Active,
                    version: Version { sequence: 1, dtstamp: None },
                },
            );
        }
    }
    let _ = decide(checked, &known);
});
