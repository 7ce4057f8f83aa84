//! The `inspect` report: the stable JSON shape docs/DESIGN.md "The command line's JSON" defines for one analysed email.

use serde_json::{Value, json};

use super::analysis::Analysis;

pub fn inspect_report(analysis: &Analysis) -> Value {
    let primary = analysis.primary();
    json!({
        "valid": analysis.verdict.is_ok(),
        "reason": analysis.reason().map(|reason| reason.code()),
        "detail": analysis.detail(),
        "method": analysis.method().map(|method| method.as_str()),
        "uid": primary.and_then(|event| event.uid.as_deref()),
        "sequence": primary.map(|event| event.sequence),
        "recurrence_id": primary.and_then(|event| event.recurrence_id).map(|rid| rid.to_string()),
        "organizer": analysis.organizer().map(|organizer| organizer.address.as_str()),
        "sender": analysis.envelope.sender.as_deref(),
        "summary": primary.and_then(|event| event.summary.as_deref()),
        "start": primary.and_then(|event| event.start).map(|time| time.to_string()),
        "end": primary.and_then(|event| event.end).map(|time| time.to_string()),
        "events": analysis.events(),
    })
}
