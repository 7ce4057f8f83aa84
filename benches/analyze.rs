//! The core's cost against the floor it cannot go below: mail-parser's and icalendar's own parse
//! of the same emails. DESIGN.md's target is `analyze` within 1.5x of that floor.
//! Run: `make bench` (or `cargo bench --bench analyze`); results in docs/BENCHMARKS.md.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use invite_router::core::{Limits, SenderPolicy, analyze};
use mail_parser::{MessageParser, MimeHeaders, PartType};

/// Representative invites: Outlook base64 with a Windows VTIMEZONE, Gmail's two copies, Apple's
/// quoted-printable attachment, Teams, and a recurring series with exceptions.
const CASES: [&str; 5] = [
    "fixtures/emails/outlook/exchange-invite-w-europe.eml",
    "fixtures/emails/google/gmail-invite-inline-and-attachment.eml",
    "fixtures/emails/apple/apple-mail-qp-ics-attachment.eml",
    "fixtures/emails/outlook/teams-meeting.eml",
    "fixtures/emails/google/google-recurring-moved-occurrence.eml",
];

/// What the two crates do on their own: parse the MIME tree, then every calendar part.
fn bare_parse(raw: &[u8]) -> usize {
    let Some(message) = MessageParser::default().parse(raw) else {
        return 0;
    };
    let mut components = 0;
    for part in &message.parts {
        let is_calendar = part.content_type().is_some_and(|content_type| {
            content_type.subtype().is_some_and(|sub| {
                sub.eq_ignore_ascii_case("calendar") || sub.eq_ignore_ascii_case("ics")
            })
        });
        if !is_calendar {
            continue;
        }
        let text = match &part.body {
            PartType::Text(text) => text.to_string(),
            PartType::Binary(bytes) | PartType::InlineBinary(bytes) => {
                String::from_utf8_lossy(bytes).into_owned()
            }
            _ => continue,
        };
        let unfolded = icalendar::parser::unfold(&text);
        if let Ok(parsed) = icalendar::parser::read_calendar_simple(&unfolded) {
            components += parsed.len();
        }
    }
    components
}

fn benches(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let limits = Limits::default();
    let policy = SenderPolicy::default();
    let mut group = c.benchmark_group("invite");
    for case in CASES {
        let Ok(raw) = std::fs::read(root.join(case)) else {
            eprintln!("skipping {case}: not found");
            continue;
        };
        let name = Path::new(case)
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default();
        group.bench_function(format!("{name}/bare_parse"), |b| {
            b.iter(|| bare_parse(black_box(&raw)))
        });
        group.bench_function(format!("{name}/analyze"), |b| {
            b.iter(|| analyze(black_box(&raw), &limits, &policy))
        });
    }
    group.finish();
}

criterion_group!(core_benches, benches);
criterion_main!(core_benches);
