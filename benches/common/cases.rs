//! The emails both benchmarks measure, and the floor they measure `analyze` against.

use mail_parser::{MessageParser, MimeHeaders, PartType};

/// Representative invites: Outlook base64 with a Windows VTIMEZONE, Gmail's two copies, Apple's
/// quoted-printable attachment, Teams, and a recurring series with exceptions; then the shapes
/// the real-world variety added: copies that differ outside routing, Lotus Notes' BYHOUR zone, an Exchange
/// CDO zone id, Shift_JIS, an Outlook series with exceptions, and Fastmail's two copies.
pub const CASES: [&str; 11] = [
    "fixtures/emails/outlook/exchange-invite-w-europe.eml",
    "fixtures/emails/google/gmail-invite-inline-and-attachment.eml",
    "fixtures/emails/apple/apple-mail-qp-ics-attachment.eml",
    "fixtures/emails/outlook/teams-meeting.eml",
    "fixtures/emails/google/google-recurring-moved-occurrence.eml",
    "fixtures/emails/misc/crm-copies-differ-in-description.eml",
    "fixtures/emails/lotus/notes9-byhour-vtimezone.eml",
    "fixtures/emails/exchange/exchange2007-cdo-tzid-no-vtimezone.eml",
    "fixtures/emails/charsets/shift-jis-outlook.eml",
    "fixtures/emails/outlook/series-with-exceptions.eml",
    "fixtures/emails/fastmail/fastmail-request-melbourne.eml",
];

/// What the two crates do on their own: parse the MIME tree, then every calendar part.
pub fn bare_parse(raw: &[u8]) -> usize {
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
