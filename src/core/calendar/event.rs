//! Parses one calendar part (an iTIP message) with the icalendar crate's parser into the METHOD and
//! normalized `EventComponent`s. Real clients bend RFC 5545: bare LF, blank lines inside
//! components (Teams), lower-case names, text after END:VCALENDAR. Those are tolerated here; a
//! calendar that still does not parse, or holds no VEVENT, is malformed.

use std::borrow::Cow;

use chrono_tz::Tz;
use icalendar::parser::{Component, Property, read_calendar_simple};

use super::recur::check_rrule;
use super::text::{normalize_address, unfold_bytes};
use super::value::{TimeError, parse_duration};
use super::vtimezone::{Resolved, ZoneTable};
use super::zone_names::exchange_zone;
use crate::core::model::{Attendee, EventComponent, EventTime, Organizer};

/// What one calendar part says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCalendar {
    /// METHOD from the VCALENDAR, upper-cased.
    pub method: Option<String>,
    pub events: Vec<EventComponent>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("the calendar does not parse: {0}")]
    Malformed(String),
    #[error("the calendar holds no VEVENT")]
    NoEvent,
    #[error("the calendar holds more than {0} components or attendees")]
    TooLarge(usize),
}

/// Caps on what one calendar may hold.
#[derive(Debug, Clone, Copy)]
pub struct CalendarLimits {
    pub max_components: usize,
    pub max_attendees: usize,
}

pub fn parse_calendar(text: &str, limits: CalendarLimits) -> Result<ParsedCalendar, CalendarError> {
    let cleaned = content_lines(text)?;
    if cleaned.is_empty() {
        return Err(CalendarError::NoEvent);
    }
    let roots = read_calendar_simple(&cleaned).map_err(|error| {
        CalendarError::Malformed(format!("unexpected text near {:?}", snippet(error.input)))
    })?;

    let mut method = None;
    let mut events = Vec::new();
    for calendar in roots
        .iter()
        .filter(|root| is_named(root.name.as_str(), "VCALENDAR"))
    {
        if calendar.components.len() > limits.max_components {
            return Err(CalendarError::TooLarge(limits.max_components));
        }
        if method.is_none() {
            method = find(&calendar.properties, "METHOD")
                .map(|property| property.val.as_str().trim().to_ascii_uppercase())
                .filter(|value| !value.is_empty());
        }
        let zones = ZoneTable::from_components(&calendar.components);
        for component in calendar
            .components
            .iter()
            .filter(|component| is_named(component.name.as_str(), "VEVENT"))
        {
            if events.len() >= limits.max_components {
                return Err(CalendarError::TooLarge(limits.max_components));
            }
            events.push(event_of(component, &zones, limits)?);
        }
    }
    if events.is_empty() {
        return Err(CalendarError::NoEvent);
    }
    Ok(ParsedCalendar { method, events })
}

/// Real calendars nest three deep (VCALENDAR > VEVENT > VALARM, VTIMEZONE > STANDARD). The
/// parser recurses per level, so hostile nesting must be stopped before it can exhaust the stack.
const MAX_NESTING: usize = 8;

/// Unfolds the text and keeps only what can be a content line, between the first BEGIN:VCALENDAR
/// and the last END:VCALENDAR.
fn content_lines(text: &str) -> Result<String, CalendarError> {
    // Removing ASCII line breaks and the white space after them keeps valid UTF-8 valid.
    let unfolded = match unfold_bytes(text.as_bytes()) {
        Cow::Borrowed(_) => Cow::Borrowed(text),
        Cow::Owned(bytes) => Cow::Owned(
            String::from_utf8(bytes)
                .map_err(|_| CalendarError::Malformed("unfolding broke the text".into()))?,
        ),
    };
    let mut out = String::with_capacity(unfolded.len());
    let mut inside = false;
    let mut depth = 0usize;
    for line in unfolded.lines() {
        let mut line = line.trim_end_matches('\r');
        if line.trim().is_empty() || !line.contains(':') {
            continue;
        }
        let delimits_component =
            starts_with_ignore_case(line, "BEGIN:") || starts_with_ignore_case(line, "END:");
        if delimits_component {
            // A component name never holds white space; KOrganizer writes `END:VEVENT `.
            line = line.trim_end();
        }
        let is_begin_calendar = starts_with_ignore_case(line, "BEGIN:VCALENDAR");
        if !inside {
            if !is_begin_calendar {
                continue;
            }
            inside = true;
        }
        if starts_with_ignore_case(line, "BEGIN:") {
            depth += 1;
            if depth > MAX_NESTING {
                return Err(CalendarError::Malformed(format!(
                    "components nested deeper than {MAX_NESTING}"
                )));
            }
        } else if starts_with_ignore_case(line, "END:") {
            depth = depth.saturating_sub(1);
        }
        out.push_str(line);
        out.push_str("\r\n");
        if depth == 0 && starts_with_ignore_case(line, "END:VCALENDAR") {
            inside = false;
        }
    }
    Ok(out)
}

fn starts_with_ignore_case(line: &str, prefix: &str) -> bool {
    line.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

fn snippet(input: &str) -> String {
    input.chars().take(40).collect()
}

fn is_named(name: &str, wanted: &str) -> bool {
    name.eq_ignore_ascii_case(wanted)
}

fn find<'p, 'a>(properties: &'p [Property<'a>], name: &str) -> Option<&'p Property<'a>> {
    properties
        .iter()
        .find(|property| is_named(property.name.as_str(), name))
}

fn param<'p>(property: &'p Property<'_>, name: &str) -> Option<&'p str> {
    property
        .params
        .iter()
        .find(|parameter| is_named(parameter.key.as_str(), name))
        .and_then(|parameter| parameter.val.as_ref())
        .map(|value| value.as_str().trim().trim_matches('"'))
}

fn text_of(properties: &[Property<'_>], name: &str) -> Option<String> {
    find(properties, name)
        .map(|property| property.val.as_str().trim().to_owned())
        .filter(|value| !value.is_empty())
}

fn event_of(
    component: &Component<'_>,
    zones: &ZoneTable,
    limits: CalendarLimits,
) -> Result<EventComponent, CalendarError> {
    let properties = &component.properties;
    // Exchange's numeric zone id stands in for a TZID that names nothing known.
    let exchange_fallback =
        find(properties, "X-MICROSOFT-CDO-TZID").and_then(|id| exchange_zone(id.val.as_str()));
    let time_of = |name: &str| -> Result<Option<Resolved>, CalendarError> {
        find(properties, name)
            .map(|property| resolve_time(name, property, zones, exchange_fallback))
            .transpose()
    };

    // Values that decide routing are exact: a misread one would route the message elsewhere.
    let malformed = |what: String| CalendarError::Malformed(what);
    if let Some(name) = SINGLE_VALUED
        .iter()
        .find(|name| count(properties, name) > 1)
    {
        return Err(malformed(format!("a component with two {name} properties")));
    }
    if let Some(uid) = find(properties, "UID")
        && uid.val.as_str().contains('\u{FFFD}')
    {
        // UIDs compare as bytes; bytes the charset could not decode were replaced, and two UIDs
        // that differ only there would become one.
        return Err(malformed(
            "a UID that is not valid text in its charset".to_owned(),
        ));
    }

    let start_property = find(properties, "DTSTART");
    let start = time_of("DTSTART")?;
    let end = match (
        time_of("DTEND")?,
        find(properties, "DURATION"),
        start_property,
    ) {
        (Some(end), _, _) => Some(end),
        (None, Some(duration), Some(start_property)) => Some(readable(
            "DURATION",
            zones.add_duration_or(
                start_property.val.as_str().trim(),
                param(start_property, "TZID"),
                is_date_valued(start_property),
                duration.val.as_str().trim(),
                exchange_fallback,
            ),
        )?),
        (None, Some(duration), None) => {
            // A DURATION without DTSTART measures nothing; it must still be one.
            parse_duration(duration.val.as_str().trim())
                .map_err(|error| malformed(format!("an unreadable DURATION: {error}")))?;
            None
        }
        _ => None,
    };

    let sequence = match find(properties, "SEQUENCE") {
        Some(property) => sequence_value(property.val.as_str()).ok_or_else(|| {
            malformed("a SEQUENCE that is not an integer in 0..=2147483647".to_owned())
        })?,
        // Outlook's own counter is only a fallback: a bad one is ignored, not trusted.
        None => find(properties, "X-MICROSOFT-CDO-APPT-SEQUENCE")
            .and_then(|property| sequence_value(property.val.as_str()))
            .unwrap_or(0),
    };
    let recurrence_property = find(properties, "RECURRENCE-ID");
    let recurrence_id = match recurrence_property {
        Some(property) => {
            Some(resolve_time("RECURRENCE-ID", property, zones, exchange_fallback)?.time)
        }
        None => None,
    };
    let this_and_future = match recurrence_property.and_then(|property| param(property, "RANGE")) {
        None => false,
        Some(range) if range.eq_ignore_ascii_case("THISANDFUTURE") => true,
        // THISANDPRIOR is deprecated (RFC 5545 3.2.13: MUST NOT be generated); nothing else exists.
        Some(range) => return Err(malformed(format!("a RECURRENCE-ID with RANGE={range}"))),
    };

    // DTSTAMP orders versions, it does not place the event: a zone on it that cannot be known
    // (it must be UTC anyway) reads the value as UTC rather than refusing the calendar.
    let dtstamp = find(properties, "DTSTAMP")
        .map(|property| {
            let value = property.val.as_str().trim();
            zones
                .resolve_or(value, param(property, "TZID"), false, exchange_fallback)
                .or_else(|_| zones.resolve(value, None, false))
                .map_err(|error| malformed(format!("an unreadable DTSTAMP: {error}")))
        })
        .transpose()?;
    let dtstamp = dtstamp.and_then(|resolved| match resolved.time {
        EventTime::Utc(instant) => Some(instant),
        // A DTSTAMP must be UTC; a client that forgot the Z still meant UTC.
        EventTime::Floating(naive) => Some(naive.and_utc()),
        EventTime::Date(_) => None,
    });

    let attendees: Vec<Attendee> = properties
        .iter()
        .filter(|property| is_named(property.name.as_str(), "ATTENDEE"))
        .map(|property| Attendee {
            address: normalize_address(property.val.as_str()),
            name: param(property, "CN").map(str::to_owned),
            role: param(property, "ROLE").map(str::to_ascii_uppercase),
            partstat: param(property, "PARTSTAT").map(str::to_ascii_uppercase),
            rsvp: param(property, "RSVP").map(|value| value.eq_ignore_ascii_case("TRUE")),
        })
        .collect();
    if attendees.len() > limits.max_attendees {
        return Err(CalendarError::TooLarge(limits.max_attendees));
    }

    let organizer = find(properties, "ORGANIZER").map(|property| Organizer {
        address: normalize_address(property.val.as_str()),
        name: param(property, "CN").map(str::to_owned),
        sent_by: param(property, "SENT-BY").map(normalize_address),
    });

    let mut exdates = Vec::new();
    for property in properties
        .iter()
        .filter(|property| is_named(property.name.as_str(), "EXDATE"))
    {
        let tzid = param(property, "TZID");
        let is_date = is_date_valued(property);
        for value in property.val.as_str().split(',') {
            let resolved = zones.resolve_or(value.trim(), tzid, is_date, exchange_fallback);
            exdates.push(readable("EXDATE", resolved)?.time);
        }
    }
    check_rdates(properties, zones, exchange_fallback)?;
    for property in properties
        .iter()
        .filter(|property| is_named(property.name.as_str(), "RRULE"))
    {
        check_rrule(property.val.as_str())
            .map_err(|why| malformed(format!("an unreadable RRULE ({why})")))?;
    }

    let summary = text_of(properties, "SUMMARY");
    let description = text_of(properties, "DESCRIPTION");
    let location = text_of(properties, "LOCATION");
    let conference_url = conference_url(properties, location.as_deref(), description.as_deref());

    Ok(EventComponent {
        uid: text_of(properties, "UID"),
        recurrence_id,
        sequence,
        dtstamp,
        status: text_of(properties, "STATUS").map(|status| status.to_ascii_uppercase()),
        all_day: start
            .as_ref()
            .is_some_and(|resolved| resolved.time.is_date()),
        time_zone: start.as_ref().and_then(|resolved| resolved.zone.clone()),
        start: start.map(|resolved| resolved.time),
        end: end.map(|resolved| resolved.time),
        summary,
        description,
        location,
        rrule: text_of(properties, "RRULE"),
        this_and_future,
        exdates,
        organizer,
        attendees,
        conference_url,
    })
}

/// RFC 5545 3.8.7.4: a non-negative integer; iTIP compares it, so it must fit an `i32`.
fn sequence_value(text: &str) -> Option<u32> {
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|sequence| *sequence <= 2_147_483_647)
}

fn count(properties: &[Property<'_>], name: &str) -> usize {
    properties
        .iter()
        .filter(|property| is_named(property.name.as_str(), name))
        .count()
}

fn is_date_valued(property: &Property<'_>) -> bool {
    param(property, "VALUE").is_some_and(|value| value.eq_ignore_ascii_case("DATE"))
}

/// RFC 5545 3.6.1: the properties a VEVENT may hold at most once (of those routing reads).
const SINGLE_VALUED: [&str; 9] = [
    "UID",
    "DTSTAMP",
    "DTSTART",
    "DTEND",
    "DURATION",
    "SEQUENCE",
    "RECURRENCE-ID",
    "ORGANIZER",
    "STATUS",
];

/// A time property's value, exactly: an error names the property when its value is not a date
/// or date-time, or when its zone cannot be known (never published as floating).
fn resolve_time(
    name: &str,
    property: &Property<'_>,
    zones: &ZoneTable,
    fallback: Option<Tz>,
) -> Result<Resolved, CalendarError> {
    readable(
        name,
        zones.resolve_or(
            property.val.as_str().trim(),
            param(property, "TZID"),
            is_date_valued(property),
            fallback,
        ),
    )
}

fn readable(name: &str, resolved: Result<Resolved, TimeError>) -> Result<Resolved, CalendarError> {
    match resolved {
        Ok(resolved) => Ok(resolved),
        Err(error @ TimeError::UnknownZone(_)) => Err(CalendarError::Malformed(error.to_string())),
        Err(error @ (TimeError::BadValue(_) | TimeError::BadDuration(_))) => Err(
            CalendarError::Malformed(format!("an unreadable {name}: {error}")),
        ),
    }
}

/// RDATE values are not published (the rule and its exceptions are), but an unreadable one means
/// the series is not what we would tell subscribers: each is a date, a date-time, or with
/// `VALUE=PERIOD` a start and an end or a duration.
fn check_rdates(
    properties: &[Property<'_>],
    zones: &ZoneTable,
    fallback: Option<Tz>,
) -> Result<(), CalendarError> {
    for property in properties
        .iter()
        .filter(|property| is_named(property.name.as_str(), "RDATE"))
    {
        let tzid = param(property, "TZID");
        let is_date = is_date_valued(property);
        let is_period =
            param(property, "VALUE").is_some_and(|value| value.eq_ignore_ascii_case("PERIOD"));
        for value in property.val.as_str().split(',').map(str::trim) {
            let (start, rest) = match value.split_once('/') {
                Some((start, rest)) if is_period => (start, Some(rest)),
                _ if is_period => {
                    return Err(CalendarError::Malformed(format!(
                        "an unreadable RDATE: the period {value:?} has no end"
                    )));
                }
                _ => (value, None),
            };
            readable("RDATE", zones.resolve_or(start, tzid, is_date, fallback))?;
            if let Some(rest) = rest {
                let as_duration = parse_duration(rest).is_ok();
                if !as_duration {
                    readable("RDATE", zones.resolve_or(rest, tzid, false, fallback))?;
                }
            }
        }
    }
    Ok(())
}

/// Hosts whose links are online-meeting joins.
const MEETING_HOSTS: [&str; 4] = [
    "zoom.us",
    "teams.microsoft.com",
    "meet.google.com",
    "webex.com",
];

/// The join link: the properties clients set for it first (RFC 7986 CONFERENCE, Teams, Google),
/// then the first meeting link in LOCATION, then in DESCRIPTION.
fn conference_url(
    properties: &[Property<'_>],
    location: Option<&str>,
    description: Option<&str>,
) -> Option<String> {
    [
        "CONFERENCE",
        "X-MICROSOFT-SKYPETEAMSMEETINGURL",
        "X-GOOGLE-CONFERENCE",
    ]
    .into_iter()
    .filter_map(|name| text_of(properties, name))
    .find(|url| url.starts_with("https://") || url.starts_with("http://"))
    .or_else(|| location.and_then(first_meeting_link))
    .or_else(|| description.and_then(first_meeting_link))
}

fn first_meeting_link(text: &str) -> Option<String> {
    let mut rest = text;
    while let Some(position) = rest.find("https://") {
        let candidate = &rest[position..];
        let end = candidate
            .find(|c: char| {
                c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | ')' | ']' | '|')
            })
            .unwrap_or(candidate.len());
        let url = candidate[..end].trim_end_matches(['.', ',', ';']);
        let host = url["https://".len()..]
            .split(['/', '?', '#', ':'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if MEETING_HOSTS
            .iter()
            .any(|meeting| host == *meeting || host.ends_with(&format!(".{meeting}")))
        {
            return Some(url.to_owned());
        }
        rest = &candidate["https://".len()..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: CalendarLimits = CalendarLimits {
        max_components: 50,
        max_attendees: 50,
    };

    fn parse(text: &str) -> Result<ParsedCalendar, CalendarError> {
        parse_calendar(text, LIMITS)
    }

    #[test]
    fn reads_the_routing_fields_and_people() {
        let calendar = parse(concat!(
            "BEGIN:VCALENDAR\r\nMETHOD:request\r\nBEGIN:VEVENT\r\nUID:abc-1\r\nSEQUENCE:3\r\n",
            "DTSTAMP:20261101T120000Z\r\nDTSTART:20261201T180000Z\r\nDTEND:20261201T190000Z\r\n",
            "ORGANIZER;CN=\"Müller, Zoë\";SENT-BY=\"MAILTO:Assist@Example.com\":mailto:Boss@Example.com\r\n",
            "ATTENDEE;CN=Ann;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:ann@example.com\r\n",
            "SUMMARY:Plan\\, review\\nand ship\r\nSTATUS:confirmed\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        ))
        .expect("parses");
        assert_eq!(calendar.method.as_deref(), Some("REQUEST"));
        let event = &calendar.events[0];
        assert_eq!(event.uid.as_deref(), Some("abc-1"));
        assert_eq!(event.sequence, 3);
        assert_eq!(
            event.start.map(|t| t.to_string()).as_deref(),
            Some("2026-12-01T18:00:00Z")
        );
        assert_eq!(event.summary.as_deref(), Some("Plan, review\nand ship"));
        assert_eq!(event.status.as_deref(), Some("CONFIRMED"));
        let organizer = event.organizer.as_ref().expect("organizer");
        assert_eq!(organizer.address, "boss@example.com");
        assert_eq!(organizer.name.as_deref(), Some("Müller, Zoë"));
        assert_eq!(organizer.sent_by.as_deref(), Some("assist@example.com"));
        assert_eq!(event.attendees[0].rsvp, Some(true));
        assert_eq!(event.attendees[0].role.as_deref(), Some("REQ-PARTICIPANT"));
    }

    #[test]
    fn tolerates_bare_lf_blank_lines_lowercase_names_and_trailing_text() {
        let calendar = parse(
            "junk before\nBEGIN:VCALENDAR\nMETHOD:CANCEL\nbegin:vevent\nuid:x\n\nsummary:Hi\nend:vevent\nEND:VCALENDAR\ntrailing text\n",
        )
        .expect("parses");
        assert_eq!(calendar.method.as_deref(), Some("CANCEL"));
        assert_eq!(calendar.events[0].uid.as_deref(), Some("x"));
        assert_eq!(calendar.events[0].summary.as_deref(), Some("Hi"));
    }

    #[test]
    fn trailing_white_space_after_a_component_name_is_tolerated() {
        let calendar = parse(
            "BEGIN:VCALENDAR\nVERSION:2.0 \nBEGIN:VEVENT \nUID:x\nSUMMARY:kept \nEND:VEVENT \n\nEND:VCALENDAR\n",
        )
        .expect("parses");
        assert_eq!(calendar.events[0].uid.as_deref(), Some("x"));
        assert_eq!(calendar.events[0].summary.as_deref(), Some("kept"));
    }

    #[test]
    fn outlook_sequence_is_the_fallback() {
        let calendar = parse(
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nX-MICROSOFT-CDO-APPT-SEQUENCE:2\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        )
        .expect("parses");
        assert_eq!(calendar.events[0].sequence, 2);
        let calendar = parse(
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nSEQUENCE:1\r\nX-MICROSOFT-CDO-APPT-SEQUENCE:2\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        )
        .expect("parses");
        assert_eq!(calendar.events[0].sequence, 1);
    }

    #[test]
    fn values_that_route_are_exact() {
        let with = |lines: &str| {
            parse(&format!(
                "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\n{lines}END:VEVENT\r\nEND:VCALENDAR\r\n"
            ))
        };
        for lines in [
            "RECURRENCE-ID:next tuesday\r\n",
            "RECURRENCE-ID;TZID=Europe/Berlin:2026120\r\n",
            "SEQUENCE:-1\r\n",
            "SEQUENCE:2147483648\r\n",
            "SEQUENCE:1.5\r\n",
            "SEQUENCE:\r\n",
            "UID:y\r\n",
            "UID:x\r\n",
            // RFC 5545 3.6.1: once at most, whatever the second one says (Yahoo's identical
            // STATUS twice included: which one is meant is not ours to pick).
            "STATUS:CONFIRMED\r\nSTATUS:CONFIRMED\r\n",
            "SEQUENCE:1\r\nSEQUENCE:2\r\n",
            "ORGANIZER:mailto:a@example.com\r\nORGANIZER:mailto:b@example.com\r\n",
            "RECURRENCE-ID:20261201T100000Z\r\nRECURRENCE-ID:20261208T100000Z\r\n",
            "DTSTAMP:20261101T120000Z\r\nDTSTAMP:20261102T120000Z\r\n",
            "DTSTART:20261201T100000Z\r\nDTSTART:20261202T100000Z\r\n",
            "DTEND:20261201T110000Z\r\nDTEND:20261201T120000Z\r\n",
            "DURATION:PT1H\r\nDURATION:PT2H\r\n",
            // Unreadable values are refused, never dropped (RFC 5546's own example has a
            // seven-digit time).
            "DTSTART:20261201T100000Z\r\nDTEND:19970701T2000000Z\r\n",
            "DTSTART:20261201T100000Z\r\nDURATION:an hour\r\n",
            "DURATION:P1X\r\n",
            "DTSTART:tomorrow\r\n",
            "DTSTAMP:20261301T120000Z\r\n",
            "DTSTART:20261201T100000Z\r\nRRULE:FREQ=FORTNIGHTLY\r\n",
            "DTSTART:20261201T100000Z\r\nEXDATE:20261208T1000\r\n",
            "DTSTART:20261201T100000Z\r\nRDATE:2026-12-15\r\n",
            "DTSTART:20261201T100000Z\r\nRDATE;VALUE=PERIOD:20261215T100000Z\r\n",
            "RECURRENCE-ID;RANGE=THISANDPRIOR:20261208T100000Z\r\n",
        ] {
            assert!(
                matches!(with(lines), Err(CalendarError::Malformed(_))),
                "{lines:?}"
            );
        }
        for readable in [
            "DTSTART:20261201T100000Z\r\nRDATE;VALUE=PERIOD:20261215T100000Z/PT1H,20261216T100000Z/20261216T110000Z\r\n",
            "DTSTART;VALUE=DATE:20261201\r\nRDATE;VALUE=DATE:20261215,20261216\r\nEXDATE;VALUE=DATE:20261208\r\n",
            "DTSTART:20261201T100000Z\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\n",
        ] {
            assert!(with(readable).is_ok(), "{readable:?}");
        }
        let ranged =
            with("RECURRENCE-ID;RANGE=THISANDFUTURE:20261208T100000Z\r\n").expect("parses");
        assert!(ranged.events[0].this_and_future);
        let single = with("RECURRENCE-ID:20261208T100000Z\r\n").expect("parses");
        assert!(!single.events[0].this_and_future);
        // The error names the property.
        let Err(CalendarError::Malformed(why)) =
            with("DTSTART:20261201T100000Z\r\nDTEND:19970701T2000000Z\r\n")
        else {
            panic!("an unreadable DTEND parsed");
        };
        assert!(why.contains("DTEND"), "{why}");
        let Err(CalendarError::Malformed(why)) =
            with("ORGANIZER:mailto:a@example.com\r\nORGANIZER:mailto:b@example.com\r\n")
        else {
            panic!("two ORGANIZERs parsed");
        };
        assert!(why.contains("two ORGANIZER"), "{why}");
        // Two UIDs that differ only in bytes their charset could not decode would become one.
        for bytes in [&b"uid-\xff"[..], &b"uid-\xfe"[..]] {
            let text = format!(
                "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:{}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
                String::from_utf8_lossy(bytes)
            );
            assert!(
                matches!(parse(&text), Err(CalendarError::Malformed(why)) if why.contains("UID"))
            );
        }
        let highest = with("SEQUENCE:2147483647\r\n").expect("parses");
        assert_eq!(highest.events[0].sequence, 2_147_483_647);
        // Outlook's fallback counter is ignored when unreadable, never trusted.
        let fallback = with("X-MICROSOFT-CDO-APPT-SEQUENCE:banana\r\n").expect("parses");
        assert_eq!(fallback.events[0].sequence, 0);
    }

    #[test]
    fn all_day_and_floating_times() {
        let calendar = parse(
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART;VALUE=DATE:20261224\r\nDTEND;VALUE=DATE:20261225\r\nEND:VEVENT\r\n\
             BEGIN:VEVENT\r\nUID:x\r\nRECURRENCE-ID:20261231T100000Z\r\nDTSTART:20261231T100000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        )
        .expect("parses");
        assert!(calendar.events[0].all_day);
        assert_eq!(
            calendar.events[0].start.map(|t| t.to_string()).as_deref(),
            Some("2026-12-24")
        );
        assert_eq!(
            calendar.events[1].start.map(|t| t.to_string()).as_deref(),
            Some("2026-12-31T10:00:00")
        );
        assert_eq!(
            calendar.events[1]
                .recurrence_id
                .map(|t| t.to_string())
                .as_deref(),
            Some("2026-12-31T10:00:00Z")
        );
    }

    #[test]
    fn conference_links_from_properties_location_or_description() {
        let teams = parse(
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nX-MICROSOFT-SKYPETEAMSMEETINGURL:https://teams.microsoft.com/l/meetup-join/abc\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        )
        .expect("parses");
        assert_eq!(
            teams.events[0].conference_url.as_deref(),
            Some("https://teams.microsoft.com/l/meetup-join/abc")
        );
        let zoom = parse(
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nLOCATION:https://us02web.zoom.us/j/8612345678?pwd=abc\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        )
        .expect("parses");
        assert_eq!(
            zoom.events[0].conference_url.as_deref(),
            Some("https://us02web.zoom.us/j/8612345678?pwd=abc")
        );
        let meet = parse(
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nDESCRIPTION:See https://example.com/agenda then join <https://meet.google.com/abc-defg-hij>.\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        )
        .expect("parses");
        assert_eq!(
            meet.events[0].conference_url.as_deref(),
            Some("https://meet.google.com/abc-defg-hij")
        );
        let lookalike = parse(
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nLOCATION:https://zoom.us.evil.example/j/1\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        )
        .expect("parses");
        assert_eq!(lookalike.events[0].conference_url, None);
    }

    #[test]
    fn broken_calendars_are_malformed() {
        assert!(matches!(
            parse("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nEND:VCALENDAR\r\n"),
            Err(CalendarError::Malformed(_))
        ));
        assert_eq!(
            parse("BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"),
            Err(CalendarError::NoEvent)
        );
        assert_eq!(parse("hello"), Err(CalendarError::NoEvent));
    }

    #[test]
    fn hostile_nesting_is_refused_before_parsing() {
        let nested = format!(
            "BEGIN:VCALENDAR\r\n{}UID:x\r\n",
            "BEGIN:X\r\n".repeat(100_000)
        );
        assert!(matches!(parse(&nested), Err(CalendarError::Malformed(_))));
    }

    #[test]
    fn limits_are_enforced() {
        let many: String = (0..60)
            .map(|i| format!("ATTENDEE:mailto:a{i}@example.com\r\n"))
            .collect();
        let text = format!(
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\n{many}END:VEVENT\r\nEND:VCALENDAR\r\n"
        );
        assert_eq!(parse(&text), Err(CalendarError::TooLarge(50)));
    }
}
