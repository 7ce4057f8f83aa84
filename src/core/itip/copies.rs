//! Several copies of one calendar become one message. Gmail sends the inline part and
//! `invite.ics`; copies whose text is the same (ignoring line-ending style and trailing white
//! space, which is all Gmail's two copies differ in) are compared as bytes before anything is
//! parsed, and count once. Copies that still differ are parsed and compared component by
//! component: equal, they are one message; not, the caller refuses rather than guesses.
//!
//! Nothing here decides a refusal reason: `check` turns what went wrong into one.

use crate::core::calendar::event::{CalendarError, CalendarLimits, ParsedCalendar, parse_calendar};
use crate::core::mime::CalendarPart;
use crate::core::model::{EventComponent, Method};

/// The iTIP message an email carries, whatever the number of copies it came in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItipMessage {
    /// METHOD from the calendar body, else from the part's `method=` parameter.
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
    /// A copy does not parse, or holds no VEVENT.
    Unreadable,
    /// The copies disagree; every copy's components are kept so a report can show how.
    Disagree(ItipMessage),
}

/// The one message the calendar parts carry.
pub fn merge_copies(
    parts: &[CalendarPart],
    limits: CalendarLimits,
) -> Result<ItipMessage, CopiesError> {
    let distinct = distinct_parts(parts);
    let mut parsed: Vec<(ParsedCalendar, &CalendarPart)> = Vec::with_capacity(distinct.len());
    for part in &distinct {
        match parse_calendar(&part.text, limits) {
            Ok(calendar) => parsed.push((calendar, part)),
            Err(CalendarError::TooLarge(_)) => return Err(CopiesError::OverLimit),
            Err(CalendarError::Malformed(_) | CalendarError::NoEvent) => {
                return Err(CopiesError::Unreadable);
            }
        }
    }

    let mut copies = parsed.into_iter();
    let Some((first_calendar, first_part)) = copies.next() else {
        return Err(CopiesError::NoCopy);
    };
    let method = method_of(&first_calendar, first_part);
    let mut events = first_calendar.events;
    let mut copies_agree = true;
    for (calendar, part) in copies {
        copies_agree &= calendar.events == events[..] && method_of(&calendar, part) == method;
        if !copies_agree {
            // Keep every copy's components so the report shows the disagreement.
            events.extend(calendar.events);
        }
    }
    let message = ItipMessage { method, events };
    if copies_agree {
        Ok(message)
    } else {
        Err(CopiesError::Disagree(message))
    }
}

/// METHOD from the body; a body without one falls back to the part's `method=` parameter.
fn method_of(calendar: &ParsedCalendar, part: &CalendarPart) -> Option<Method> {
    calendar
        .method
        .as_deref()
        .or(part.method_param.as_deref())
        .map(Method::parse)
}

/// The parts whose text differs, compared as bytes before anything is parsed.
fn distinct_parts(parts: &[CalendarPart]) -> Vec<&CalendarPart> {
    let mut distinct: Vec<&CalendarPart> = Vec::with_capacity(parts.len());
    for part in parts {
        if !distinct
            .iter()
            .any(|seen| same_text(&seen.text, &part.text))
        {
            distinct.push(part);
        }
    }
    distinct
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
    fn disagreeing_copies_keep_every_component() {
        let newer = INVITE.replace("SEQUENCE:1", "SEQUENCE:2");
        match merge_copies(&[part(INVITE, None), part(&newer, None)], LIMITS) {
            Err(CopiesError::Disagree(all)) => assert_eq!(all.events.len(), 2),
            other => panic!("expected a disagreement, got {other:?}"),
        }
    }

    #[test]
    fn what_is_not_one_readable_message() {
        assert_eq!(merge_copies(&[], LIMITS), Err(CopiesError::NoCopy));
        assert_eq!(
            merge_copies(&[part("not a calendar", None)], LIMITS),
            Err(CopiesError::Unreadable)
        );
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
