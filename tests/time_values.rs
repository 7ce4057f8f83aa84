//! Time values and zones as data, the way mail-parser tests its date parser: every case in
//! `fixtures/time/cases.jsonl` (a value, an optional TZID, VALUE=DATE, DURATION, and the zone
//! definitions it is resolved against from `fixtures/time/zones/`) against its expected UTC time
//! and zone. All mismatches are reported at once. fixtures/time/README.md explains the fields.

use std::collections::HashMap;
use std::path::PathBuf;

use invite_router::core::calendar::value::TimeError;
use invite_router::core::calendar::vtimezone::{Resolved, ZoneTable};
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/time")
}

/// One zone file's VTIMEZONEs, as a calendar would carry them.
fn zone_table(name: &str, cache: &mut HashMap<String, String>) -> Result<ZoneTable, String> {
    let ics = match cache.get(name) {
        Some(ics) => ics.clone(),
        None => {
            let path = fixtures().join("zones").join(format!("{name}.ics"));
            let ics = std::fs::read_to_string(&path)
                .map_err(|error| format!("{}: {error}", path.display()))?;
            cache.insert(name.to_owned(), ics.clone());
            ics
        }
    };
    let text = format!("BEGIN:VCALENDAR\nVERSION:2.0\n{ics}END:VCALENDAR\n");
    let unfolded = icalendar::parser::unfold(&text);
    let calendar = icalendar::parser::read_calendar(&unfolded)
        .map_err(|error| format!("zone file {name} does not parse: {error:?}"))?;
    Ok(ZoneTable::from_components(&calendar.components))
}

/// What one case must give, or why it does not.
fn check(case: &Value, zones: &ZoneTable) -> Result<(), String> {
    let text = |field: &str| case.get(field).and_then(Value::as_str);
    let value = text("value").ok_or("no value")?;
    let tzid = text("tzid");
    let is_date = case.get("date").and_then(Value::as_bool).unwrap_or(false);
    let got: Result<Resolved, TimeError> = match text("duration") {
        Some(duration) => zones.add_duration(value, tzid, is_date, duration),
        None => zones.resolve(value, tzid, is_date),
    };
    if let Some(error) = text("error") {
        let expected = match error {
            "bad_value" => Some(TimeError::BadValue(value.to_owned())),
            "bad_duration" => Some(TimeError::BadDuration(
                text("duration").unwrap_or_default().to_owned(),
            )),
            "unknown_zone" => Some(TimeError::UnknownZone(tzid.unwrap_or_default().to_owned())),
            "any" => None,
            other => return Err(format!("unknown error kind {other:?}")),
        };
        return match (got, expected) {
            (Err(got), Some(expected)) if got == expected => Ok(()),
            (Err(_), None) => Ok(()),
            (got, expected) => Err(format!("expected error {expected:?}, got {got:?}")),
        };
    }
    let got = got.map_err(|error| format!("unexpected error: {error}"))?;
    let expect = text("expect").ok_or("no expect")?;
    if got.time.to_string() != expect {
        return Err(format!("expected {expect}, got {}", got.time));
    }
    let zone_ok = match case.get("zone") {
        None => true,
        Some(Value::Null) => got.zone.is_none(),
        Some(Value::String(zone)) => got.zone.as_deref() == Some(zone.as_str()),
        Some(Value::Array(any_of)) => any_of
            .iter()
            .any(|zone| zone.as_str() == got.zone.as_deref()),
        Some(other) => return Err(format!("bad zone field {other}")),
    };
    if !zone_ok {
        return Err(format!(
            "expected zone {}, got {:?}",
            case["zone"], got.zone
        ));
    }
    Ok(())
}

#[test]
fn time_values_and_zones_match_the_table() {
    let path = fixtures().join("cases.jsonl");
    let table = std::fs::read_to_string(&path).expect("fixtures/time/cases.jsonl is readable");
    let mut zone_files = HashMap::new();
    let mut tables: HashMap<String, ZoneTable> = HashMap::new();
    let mut failures = Vec::new();
    let mut cases = 0;
    for (index, line) in table.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        cases += 1;
        let where_ = format!("cases.jsonl:{}", index + 1);
        let case: Value = match serde_json::from_str(line) {
            Ok(case) => case,
            Err(error) => {
                failures.push(format!("{where_}: not JSON: {error}"));
                continue;
            }
        };
        let zones_name = case.get("zones").and_then(Value::as_str).unwrap_or("");
        if !tables.contains_key(zones_name) {
            let built = if zones_name.is_empty() {
                Ok(ZoneTable::default())
            } else {
                zone_table(zones_name, &mut zone_files)
            };
            match built {
                Ok(built) => {
                    tables.insert(zones_name.to_owned(), built);
                }
                Err(error) => {
                    failures.push(format!("{where_}: {error}"));
                    continue;
                }
            }
        }
        if let Err(problem) = check(&case, &tables[zones_name]) {
            failures.push(format!("{where_} {line}\n    {problem}"));
        }
    }
    assert!(cases >= 140, "expected at least 140 cases, found {cases}");
    assert!(
        failures.is_empty(),
        "{} of {cases} time cases fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
