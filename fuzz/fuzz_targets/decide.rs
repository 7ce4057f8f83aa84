//! The rules against arbitrary ledger states: any accepted message, with each key it consults
//! (its owner item, its components, their series) absent or in any state the last bytes of the
//! input choose. The seeds are whole emails, so the state bytes are their last ones.
#![no_main]

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use invite_router::core::itip::rules::decide;
use invite_router::core::model::{EventKey, RecordState, RecordStatus, Route, Version};
use invite_router::core::{SenderPolicy, analyze};
use libfuzzer_sys::fuzz_target;

mod common;

/// One key's state from two bytes: absent, or a status, an organizer and a version.
fn state(kind: u8, version: u8, organizer: &str) -> Option<RecordState> {
    let status = match kind % 4 {
        0 => return None,
        1 => RecordStatus::Active,
        2 => RecordStatus::Cancelled,
        _ => RecordStatus::Tombstone,
    };
    let organizer = match (kind / 4) % 3 {
        0 => None,
        1 => Some(organizer.to_owned()),
        _ => Some("someone-else@example.net".to_owned()),
    };
    let dtstamp = match version % 4 {
        0 => None,
        shift => Utc
            .with_ymd_and_hms(2026, 11, 1, 9, 0, 0)
            .single()
            .map(|base| base + chrono::Duration::days(i64::from(shift) * 400 - 800)),
    };
    Some(RecordState {
        organizer,
        status,
        version: Version {
            sequence: u32::from(version / 4),
            dtstamp,
        },
    })
}

fuzz_target!(|data: &[u8]| {
    let analysis = analyze(data, &common::limits(), &SenderPolicy::default());
    let Ok(checked) = &analysis.verdict else {
        return;
    };
    let keys = checked.ledger_keys();
    let tail = &data[data.len().saturating_sub(keys.len() * 2)..];
    let ledger: BTreeMap<EventKey, RecordState> = keys
        .iter()
        .enumerate()
        .filter_map(|(index, key)| {
            let kind = tail.get(index * 2).copied().unwrap_or(0);
            let version = tail.get(index * 2 + 1).copied().unwrap_or(0);
            state(kind, version, checked.organizer()).map(|state| (key.clone(), state))
        })
        .collect();
    let decision = decide(checked, &ledger);
    for transition in &decision.transitions {
        assert!(transition.component < checked.events().len());
        assert!(keys.contains(&transition.key), "{:?} was not read", transition.key);
    }
    // Refused means nothing is written; a published route comes from a transition that writes.
    if decision.route == Route::Invalid {
        assert!(decision.reason.is_some());
        assert!(decision.transitions.iter().all(|t| t.new_state.is_none()));
    }
});
