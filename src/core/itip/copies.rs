//! Several copies of one calendar become one message. Gmail sends the inline part and
//! `invite.ics`; copies whose text is the same (ignoring line-ending style and trailing white
//! space, which is all Gmail's two copies differ in) are compared as bytes before anything is
//! parsed, and count once.
//!
//! Copies that still differ are parsed. The inline `text/calendar` part is authoritative (RFC 6047
//! section 2.4): its components are the message. Every other copy must agree with it on what
//! routing depends on (METHOD after the fallback, and per component UID, RECURRENCE-ID, SEQUENCE,
//! DTSTAMP, ORGANIZER, DTSTART, DTEND, STATUS); a DESCRIPTION in HTML in one copy and in plain text
//! in the other, an `X-` property or an alarm is not a disagreement, since clients act on the
//! inline part anyway. When every copy's METHOD is one the rules do not act on, the copies are not
//! compared at all: that refusal (`unsupported_method`) says more than "the copies differ".
//!
//! Nothing here decides a refusal reason: `check` turns what went wrong into one.

use std::fmt;

use crate::core::calendar::event::{CalendarError, CalendarLimits, ParsedCalendar, parse_calendar};
use crate::core::mime::CalendarPart;
use crate::core::model::{EventComponent, EventTime, Method};

/// The iTIP message an email carries, whatever the number of copies it came in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItipMessage {
    /// METHOD from the calendar body, else from a part's `method=` parameter.
    pub method: Option<Method>,
    pub events: Vec<EventComponent>,
}

/// Why the copies are not one readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopiesError {
    /// There is no calendar part at all.
    NoCopy,
    /// A copy holds more components or attendees than the limits allow.
    OverLimit,
    /// A copy does not parse, or holds no VEVENT; what the parser said.
    Unreadable(String),
    /// A copy disagrees with the authoritative one on a routing property; every copy's components
    /// are kept so a report can show how.
    Disagree {
        all: ItipMessage,
        difference: CopyDifference,
    },
}

/// The first routing property on which a copy disagrees with the authoritative copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyDifference {
    /// The iCalendar property name (`SEQUENCE`, `DTSTART`, ...).
    pub property: &'static str,
    /// The UID of the component that differs, when the difference is inside one.
    pub uid: Option<String>,
}

impl fmt::Display for CopyDifference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the calendar copies differ in {}", self.property)?;
        if let Some(uid) = &self.uid {
            write!(f, " (UID {uid})")?;
        }
        Ok(())
    }
}

/// The one message the calendar parts carry.
pub fn merge_copies(
    parts: &[CalendarPart],
    limits: CalendarLimits,
) -> Result<ItipMessage, CopiesError> {
    // "When the body has none, from the `method=` parameter of whichever part has it": a Gmail
    // `invite.ics` without the parameter still has the inline part's.
    let any_method_param = parts.iter().find_map(|part| part.method_param.as_deref());
    let mut copies: Vec<ItipMessage> = Vec::with_capacity(2);
    for part in authoritative_first(distinct_parts(parts)) {
        match parse_calendar(&part.text, limits) {
            Ok(calendar) => copies.push(ItipMessage {
                method: method_of(&calendar, part, any_method_param),
                events: calendar.events,
            }),
            Err(CalendarError::TooLarge(_)) => return Err(CopiesError::OverLimit),
            Err(error @ (CalendarError::Malformed(_) | CalendarError::NoEvent)) => {
                return Err(CopiesError::Unreadable(error.to_string()));
            }
        }
    }

    let mut copies = copies.into_iter();
    let Some(mut message) = copies.next() else {
        return Err(CopiesError::NoCopy);
    };
    let others: Vec<ItipMessage> = copies.collect();
    let acted_on =
        |method: &Option<Method>| matches!(method, None | Some(Method::Request | Method::Cancel));
    if !acted_on(&message.method) && others.iter().all(|copy| !acted_on(&copy.method)) {
        return Ok(message);
    }
    match others
        .iter()
        .find_map(|copy| routing_difference(&message, copy))
    {
        None => Ok(message),
        Some(difference) => {
            // Keep every copy's components so the report shows the disagreement.
            message
                .events
                .extend(others.into_iter().flat_map(|copy| copy.events));
            Err(CopiesError::Disagree {
                all: message,
                difference,
            })
        }
    }
}

/// METHOD from the body; a body without one falls back to its part's `method=` parameter, then to
/// any part's.
fn method_of(
    calendar: &ParsedCalendar,
    part: &CalendarPart,
    any_method_param: Option<&str>,
) -> Option<Method> {
    calendar
        .method
        .as_deref()
        .or(part.method_param.as_deref())
        .or(any_method_param)
        .map(Method::parse)
}

/// The parts whose text differs, compared as bytes before anything is parsed.
fn distinct_parts(parts: &[CalendarPart]) -> Vec<&CalendarPart> {
    let mut distinct: Vec<&CalendarPart> = Vec::with_capacity(parts.len());
    for part in parts {
        match distinct
            .iter_mut()
            .find(|seen| same_text(&seen.text, &part.text))
        {
            // Of two equal copies keep the inline one: it is the authoritative one.
            Some(seen) if part.inline && !seen.inline => *seen = part,
            Some(_) => {}
            None => distinct.push(part),
        }
    }
    distinct
}

/// The first inline `text/calendar` part leads; without one, the first part found does.
fn authoritative_first(mut parts: Vec<&CalendarPart>) -> Vec<&CalendarPart> {
    if let Some(index) = parts.iter().position(|part| part.inline) {
        let inline = parts.remove(index);
        parts.insert(0, inline);
    }
    parts
}

fn same_text(a: &str, b: &str) -> bool {
    a == b || significant_bytes(a).eq(significant_bytes(b))
}

fn significant_bytes(text: &str) -> impl Iterator<Item = u8> + '_ {
    text.trim_end()
        .as_bytes()
        .iter()
        .copied()
        .filter(|byte| *byte != b'\r')
}

type ComponentKey<'a> = (Option<&'a str>, Option<EventTime>);

fn key_of(event: &EventComponent) -> ComponentKey<'_> {
    (event.uid.as_deref(), event.recurrence_id)
}

/// Where `copy` disagrees with the authoritative message on what routing depends on.
fn routing_difference(authoritative: &ItipMessage, copy: &ItipMessage) -> Option<CopyDifference> {
    let whole = |property| CopyDifference {
        property,
        uid: None,
    };
    if authoritative.method != copy.method {
        return Some(whole("METHOD"));
    }
    let mut ours: Vec<&EventComponent> = authoritative.events.iter().collect();
    let mut theirs: Vec<&EventComponent> = copy.events.iter().collect();
    ours.sort_by_key(|event| key_of(event));
    theirs.sort_by_key(|event| key_of(event));
    if distinct_uids(&ours) != distinct_uids(&theirs) {
        return Some(whole("UID"));
    }
    if ours.len() != theirs.len()
        || ours
            .iter()
            .zip(&theirs)
            .any(|(a, b)| key_of(a) != key_of(b))
    {
        return Some(whole("RECURRENCE-ID"));
    }
    ours.iter().zip(&theirs).find_map(|(a, b)| {
        component_difference(a, b).map(|property| CopyDifference {
            property,
            uid: a.uid.clone(),
        })
    })
}

/// The UIDs of components sorted by key, each once.
fn distinct_uids<'a>(events: &[&'a EventComponent]) -> Vec<Option<&'a str>> {
    let mut uids: Vec<_> = events.iter().map(|event| event.uid.as_deref()).collect();
    uids.dedup();
    uids
}

/// The routing properties of two components with the same key, in the order a reader checks them.
fn component_difference(a: &EventComponent, b: &EventComponent) -> Option<&'static str> {
    let organizer = |event: &EventComponent| {
        event
            .organizer
            .as_ref()
            .map(|organizer| (organizer.address.clone(), organizer.sent_by.clone()))
    };
    [
        ("SEQUENCE", a.sequence == b.sequence),
        ("DTSTAMP", a.dtstamp == b.dtstamp),
        ("ORGANIZER", organizer(a) == organizer(b)),
        ("DTSTART", a.start == b.start),
        ("DTEND", a.end == b.end),
        ("STATUS", a.status == b.status),
    ]
    .into_iter()
    .find_map(|(property, same)| (!same).then_some(property))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: CalendarLimits = CalendarLimits {
        max_components: 10,
        max_attendees: 10,
    };

    fn part(text: &str, method_param: Option<&str>) -> CalendarPart {
        CalendarPart {
            text: text.to_owned(),
            method_param: method_param.map(str::to_owned),
            inline: method_param.is_some(),
        }
    }

    fn attachment(text: &str) -> CalendarPart {
        CalendarPart {
            inline: false,
            ..part(text, None)
        }
    }

    const INVITE: &str = "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:u1\r\nSEQUENCE:1\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn copies_that_differ_in_line_endings_count_once() {
        let lf = INVITE.replace("\r\n", "\n") + "  \n";
        let message = merge_copies(&[part(INVITE, None), part(&lf, None)], LIMITS).expect("one");
        assert_eq!(message.method, Some(Method::Request));
        assert_eq!(message.events.len(), 1);
    }

    #[test]
    fn the_part_parameter_stands_in_for_a_missing_method() {
        let no_method = INVITE.replace("METHOD:REQUEST\r\n", "");
        let message = merge_copies(&[part(&no_method, Some("CANCEL"))], LIMITS).expect("one");
        assert_eq!(message.method, Some(Method::Cancel));
    }

    #[test]
    fn disagreeing_copies_keep_every_component_and_say_where() {
        let newer = INVITE.replace("SEQUENCE:1", "SEQUENCE:2");
        match merge_copies(&[part(INVITE, None), part(&newer, None)], LIMITS) {
            Err(CopiesError::Disagree { all, difference }) => {
                assert_eq!(all.events.len(), 2);
                assert_eq!(
                    difference.to_string(),
                    "the calendar copies differ in SEQUENCE (UID u1)"
                );
            }
            other => panic!("expected a disagreement, got {other:?}"),
        }
    }

    #[test]
    fn the_method_parameter_of_any_part_counts_for_every_copy() {
        // Equal content, one copy folded: the bodies differ in bytes, neither has METHOD, and only
        // the inline part says method=REQUEST.
        let no_method = INVITE.replace("METHOD:REQUEST\r\n", "");
        let refolded = no_method.replace("UID:u1", "UID:u\r\n 1");
        let message = merge_copies(
            &[part(&no_method, Some("REQUEST")), attachment(&refolded)],
            LIMITS,
        )
        .expect("one message");
        assert_eq!(message.method, Some(Method::Request));
        assert_eq!(message.events.len(), 1);
    }

    #[test]
    fn only_routing_properties_make_copies_disagree() {
        let inline = INVITE.replace(
            "SEQUENCE:1\r\n",
            "SEQUENCE:1\r\nDESCRIPTION:<p>Agenda</p>\r\nX-GOOGLE-CONFERENCE:https://meet.google.com/abc-defg-hij\r\n",
        );
        let attached = INVITE.replace(
            "SEQUENCE:1\r\n",
            "SEQUENCE:1\r\nDESCRIPTION:Agenda\r\nX-ALT-DESC;FMTTYPE=text/html:<p>Agenda</p>\r\nLOCATION:Room 4\r\n",
        );
        let message = merge_copies(
            &[attachment(&attached), part(&inline, Some("REQUEST"))],
            LIMITS,
        )
        .expect("one message");
        // The inline part is authoritative, wherever it sits in the mail.
        assert_eq!(
            message.events[0].description.as_deref(),
            Some("<p>Agenda</p>")
        );
        for (from, to, property) in [
            ("UID:u1", "UID:u2", "UID"),
            (
                "SEQUENCE:1",
                "SEQUENCE:1\r\nRECURRENCE-ID:20270105T100000Z",
                "RECURRENCE-ID",
            ),
            (
                "SEQUENCE:1",
                "SEQUENCE:1\r\nDTSTAMP:20270101T000000Z",
                "DTSTAMP",
            ),
            (
                "SEQUENCE:1",
                "SEQUENCE:1\r\nORGANIZER:mailto:o@example.com",
                "ORGANIZER",
            ),
            (
                "SEQUENCE:1",
                "SEQUENCE:1\r\nDTSTART:20270105T100000Z",
                "DTSTART",
            ),
            (
                "SEQUENCE:1",
                "SEQUENCE:1\r\nDTEND:20270105T100000Z",
                "DTEND",
            ),
            ("SEQUENCE:1", "SEQUENCE:1\r\nSTATUS:CANCELLED", "STATUS"),
            ("METHOD:REQUEST", "METHOD:CANCEL", "METHOD"),
        ] {
            let other = INVITE.replace(from, to);
            match merge_copies(&[part(INVITE, None), attachment(&other)], LIMITS) {
                Err(CopiesError::Disagree { difference, .. }) => {
                    assert_eq!(difference.property, property);
                }
                other => panic!("{property}: expected a disagreement, got {other:?}"),
            }
        }
    }

    #[test]
    fn copies_with_methods_no_rule_acts_on_are_not_compared() {
        let counter = INVITE.replace("METHOD:REQUEST", "METHOD:COUNTER");
        let moved = counter.replace("SEQUENCE:1", "SEQUENCE:1\r\nDTSTART:20270105T100000Z");
        let message = merge_copies(&[part(&counter, None), attachment(&moved)], LIMITS)
            .expect("not compared");
        assert_eq!(message.method, Some(Method::parse("COUNTER")));
    }

    #[test]
    fn what_is_not_one_readable_message() {
        assert_eq!(merge_copies(&[], LIMITS), Err(CopiesError::NoCopy));
        assert!(matches!(
            merge_copies(&[part("not a calendar", None)], LIMITS),
            Err(CopiesError::Unreadable(_))
        ));
        let crowded = INVITE.replace(
            "SEQUENCE:1\r\n",
            &"ATTENDEE:mailto:a@example.com\r\n".repeat(11),
        );
        assert_eq!(
            merge_copies(&[part(&crowded, None)], LIMITS),
            Err(CopiesError::OverLimit)
        );
    }
}
