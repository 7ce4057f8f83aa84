//! From the calendar parts of one email to one iTIP message, and the RFC 5546 checks that decide
//! whether it can be acted on at all. Exactly one reason comes out when it cannot.

use super::Limits;
use super::calendar::event::{CalendarError, CalendarLimits, ParsedCalendar, parse_calendar};
use super::mime::{CalendarPart, MailContent};
use super::model::{EventComponent, Method, Reason};
use super::sender::may_speak_for;

/// The iTIP message an email carries, whatever the number of copies it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItipMessage {
    pub method: Option<Method>,
    pub events: Vec<EventComponent>,
}

/// Reads the calendar parts into one message. Copies of one calendar (Gmail's inline part and
/// `invite.ics`) count once; copies that disagree are refused rather than guessed between.
/// On refusal, whatever could still be read is returned beside the reason, for `inspect`.
pub fn read_itip(
    mail: &MailContent,
    limits: &Limits,
) -> Result<ItipMessage, (Reason, ItipMessage)> {
    let empty = ItipMessage {
        method: None,
        events: Vec::new(),
    };
    if mail.too_many_calendars || mail.oversized_calendar {
        return Err((Reason::TooLarge, empty));
    }
    let distinct = distinct_parts(&mail.calendars);
    if distinct.is_empty() {
        return Err((Reason::NoCalendar, empty));
    }

    let calendar_limits = CalendarLimits {
        max_components: limits.max_components,
        max_attendees: limits.max_attendees,
    };
    let mut parsed: Vec<(ParsedCalendar, &CalendarPart)> = Vec::with_capacity(distinct.len());
    for part in &distinct {
        match parse_calendar(&part.text, calendar_limits) {
            Ok(calendar) => parsed.push((calendar, part)),
            Err(CalendarError::TooLarge(_)) => return Err((Reason::TooLarge, empty)),
            Err(CalendarError::Malformed(_) | CalendarError::NoEvent) => {
                return Err((Reason::MalformedCalendar, empty));
            }
        }
    }

    let method_of = |calendar: &ParsedCalendar, part: &CalendarPart| {
        calendar
            .method
            .as_deref()
            .or(part.method_param.as_deref())
            .map(Method::parse)
    };
    let mut copies = parsed.into_iter();
    let Some((first_calendar, first_part)) = copies.next() else {
        return Err((Reason::NoCalendar, empty));
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
    } else if distinct_uid_count(&message.events) > 1 {
        Err((Reason::MultipleUids, message))
    } else {
        Err((Reason::MalformedCalendar, message))
    }
}

/// The parts whose text differs, ignoring line-ending style and trailing white space (Gmail's
/// two copies differ in exactly that), compared as bytes before anything is parsed.
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

fn distinct_uid_count(events: &[EventComponent]) -> usize {
    let mut uids: Vec<&str> = events
        .iter()
        .filter_map(|event| event.uid.as_deref())
        .collect();
    uids.sort_unstable();
    uids.dedup();
    uids.len()
}

/// The RFC 5546 checks on a readable message, in the order DESIGN.md lists the reasons.
pub fn check_itip(message: &ItipMessage, sender: Option<&str>) -> Result<(), Reason> {
    match &message.method {
        None => return Err(Reason::MissingMethod),
        Some(Method::Other(_)) => return Err(Reason::UnsupportedMethod),
        Some(Method::Request | Method::Cancel) => {}
    }
    if message.events.iter().any(|event| event.uid.is_none()) {
        return Err(Reason::MissingUid);
    }
    if distinct_uid_count(&message.events) > 1 {
        return Err(Reason::MultipleUids);
    }
    // Every component must be sent by its organizer (or the SENT-BY delegate); a component
    // without ORGANIZER speaks with the message's primary organizer.
    let primary_organizer = message
        .events
        .iter()
        .find(|event| event.recurrence_id.is_none())
        .or_else(|| message.events.first())
        .and_then(|event| event.organizer.as_ref());
    let every_component_allowed = message
        .events
        .iter()
        .all(|event| may_speak_for(sender, event.organizer.as_ref().or(primary_organizer)));
    if !every_component_allowed {
        return Err(Reason::SenderNotOrganizer);
    }
    Ok(())
}
