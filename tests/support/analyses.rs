//! Hand-built analyses, so the orchestration is tested on its own, whatever the MIME and
//! iCalendar parsers do.

use chrono::{DateTime, TimeZone, Utc};
use invite_router::core::analysis::Analysis;
use invite_router::core::itip::answer::ReplyFacts;
use invite_router::core::itip::check::CheckedMessage;
use invite_router::core::model::{
    Attendee, Envelope, EventComponent, EventTime, Method, Organizer, Reason,
};
use invite_router::core::refusal::Refused;

pub fn stamp(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, hour, 0, 0).unwrap()
}

pub fn component(uid: &str, sequence: u32, dtstamp_hour: u32, organizer: &str) -> EventComponent {
    EventComponent {
        uid: Some(uid.into()),
        recurrence_id: None,
        sequence,
        dtstamp: Some(stamp(dtstamp_hour)),
        status: Some("CONFIRMED".into()),
        summary: Some("Quarterly planning".into()),
        description: Some("Agenda: budgets.\nBring numbers.".into()),
        location: Some("Room 4".into()),
        start: Some(EventTime::Utc(
            Utc.with_ymd_and_hms(2026, 12, 1, 15, 0, 0).unwrap(),
        )),
        end: Some(EventTime::Utc(
            Utc.with_ymd_and_hms(2026, 12, 1, 16, 0, 0).unwrap(),
        )),
        all_day: false,
        time_zone: Some("Europe/Paris".into()),
        rrule: Some("FREQ=WEEKLY;COUNT=4".into()),
        this_and_future: false,
        exdates: vec![EventTime::Date(
            chrono::NaiveDate::from_ymd_opt(2026, 12, 15).unwrap(),
        )],
        organizer: Some(Organizer {
            address: organizer.into(),
            name: Some("Alice".into()),
            sent_by: None,
        }),
        attendees: vec![Attendee {
            address: "create@invites.example.com".into(),
            name: None,
            role: Some("REQ-PARTICIPANT".into()),
            partstat: Some("NEEDS-ACTION".into()),
            rsvp: Some(true),
        }],
        conference_url: Some("https://meet.google.com/abc-defg-hij".into()),
    }
}

pub fn occurrence(mut event: EventComponent, day: u32) -> EventComponent {
    event.recurrence_id = Some(EventTime::Utc(
        Utc.with_ymd_and_hms(2026, 12, day, 15, 0, 0).unwrap(),
    ));
    event.rrule = None;
    event
}

pub fn message(
    method: Method,
    sender: &str,
    message_id: &str,
    events: Vec<EventComponent>,
) -> Analysis {
    Analysis {
        envelope: Envelope {
            sender: Some(sender.into()),
            subject: Some("Quarterly planning".into()),
            message_id: Some(message_id.into()),
            ..Envelope::default()
        },
        verdict: Ok(CheckedMessage::new(Some(method), events).expect("a well-formed message")),
        reply: ReplyFacts::default(),
    }
}

pub fn request(uid: &str, sequence: u32, hour: u32, sender: &str, message_id: &str) -> Analysis {
    message(
        Method::Request,
        sender,
        message_id,
        vec![component(uid, sequence, hour, sender)],
    )
}

pub fn cancel(uid: &str, sequence: u32, hour: u32, sender: &str, message_id: &str) -> Analysis {
    let mut event = component(uid, sequence, hour, sender);
    event.status = Some("CANCELLED".into());
    message(Method::Cancel, sender, message_id, vec![event])
}

pub fn refused(reason: Reason, sender: &str, message_id: &str) -> Analysis {
    Analysis {
        envelope: Envelope {
            sender: Some(sender.into()),
            subject: Some("Hello".into()),
            message_id: Some(message_id.into()),
            ..Envelope::default()
        },
        verdict: Err(Refused {
            reason,
            method: None,
            events: Vec::new(),
            detail: None,
        }),
        reply: ReplyFacts::default(),
    }
}
