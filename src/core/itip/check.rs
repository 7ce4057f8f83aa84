//! Every stateless refusal, in the order docs/DESIGN.md's reason table lists them, and the type
//! that proves a message passed them. `core::analyze` calls these checks in order; this module
//! only checks.
//!
//! Each reason is produced by exactly one function below (its doc says when), so "where is the
//! rule that refuses X?" has one answer. `sender_not_organizer` also has a stateful twin in
//! `rules` (the owner on record); `spam`, `virus` and `sender_unauthenticated` are `sender`'s.
//!
//! Parse, don't validate: [`CheckedMessage`] can only be built here, and only from a message with
//! METHOD REQUEST or CANCEL, at least one component, one UID and one ORGANIZER shared by every
//! component, and one component per (UID, RECURRENCE-ID). The rules take nothing else, so they
//! need no guard.

use super::copies::{CopiesError, ItipMessage};
use super::sender::may_speak_for;
use crate::core::message::fits_a_published_message;
use crate::core::mime::MailContent;
use crate::core::model::{EventComponent, EventKey, Method, Reason};
use crate::core::policy::{Delegation, Limits};
use crate::core::refusal::Refused;

/// DynamoDB's limit on a partition key, which the UID is (the ledger's and the reply log's).
pub const MAX_UID_BYTES: usize = 2048;

/// One message's commit must be one transaction (all or nothing), and a TransactWriteItems holds
/// at most 100 items: each component's record, the series record and the owner item.
pub const MAX_COMMIT_ITEMS: usize = 100;

/// The two methods the rules act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Request,
    Cancel,
}

/// A message every stateless rule accepted (see the module doc for what that guarantees).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedMessage {
    action: Action,
    uid: String,
    organizer: String,
    events: Vec<EventComponent>,
}

static REQUEST: Method = Method::Request;
static CANCEL: Method = Method::Cancel;

impl CheckedMessage {
    /// The structural checks alone, without the sender's: METHOD, UIDs, one component per key.
    /// `check` runs these and more; this is how a message built by other means (a test, a
    /// replayed record) becomes one the rules accept.
    pub fn new(
        method: Option<Method>,
        events: Vec<EventComponent>,
    ) -> Result<CheckedMessage, Reason> {
        let action = supported_method(method.as_ref())?;
        every_component_has_uid(&events)?;
        uids_agree(&events)?;
        one_organizer(&events)?;
        one_component_per_key(&events)?;
        Ok(CheckedMessage::trusted(action, events))
    }

    /// Only after the structural checks passed.
    fn trusted(action: Action, events: Vec<EventComponent>) -> CheckedMessage {
        let first = events.first();
        let uid = first
            .and_then(|event| event.uid.clone())
            .unwrap_or_default();
        let organizer = first
            .and_then(|event| event.organizer.as_ref())
            .map(|organizer| organizer.address.clone())
            .unwrap_or_default();
        CheckedMessage {
            action,
            uid,
            organizer,
            events,
        }
    }

    pub fn action(&self) -> Action {
        self.action
    }

    pub fn method(&self) -> &'static Method {
        match self.action {
            Action::Request => &REQUEST,
            Action::Cancel => &CANCEL,
        }
    }

    /// The UID every component shares.
    pub fn uid(&self) -> &str {
        &self.uid
    }

    /// The ORGANIZER address every component shares (lower-case).
    pub fn organizer(&self) -> &str {
        &self.organizer
    }

    /// At least one; each with this UID and its own RECURRENCE-ID.
    pub fn events(&self) -> &[EventComponent] {
        &self.events
    }

    /// Every ledger key the decision may consult, sorted: each component's, for occurrences
    /// their series', and the UID's owner item.
    pub fn ledger_keys(&self) -> Vec<EventKey> {
        let mut keys = vec![EventKey::owner_of(&self.uid)];
        for event in &self.events {
            let key = EventKey::new(&self.uid, event.recurrence_id.as_ref());
            if !key.is_series() {
                keys.push(key.series());
            }
            keys.push(key);
        }
        keys.sort();
        keys.dedup();
        keys
    }
}

/// `too_large` for the email itself, before anything of it is read: a huge email is never parsed.
pub fn email_size(email_bytes: usize, limits: &Limits) -> Result<(), Refused> {
    within_limits(email_bytes <= limits.max_email_bytes).map_err(Refused::bare)
}

/// The calendar parts as `mime` found them: not too many, none over the part limit, at least one.
pub fn calendar_parts(mail: &MailContent) -> Result<(), Refused> {
    within_limits(!mail.too_many_calendars && !mail.oversized_calendar).map_err(Refused::bare)?;
    has_calendar(!mail.calendars.is_empty()).map_err(Refused::bare)
}

/// What the copies of the calendar (`copies::merge_copies`) made of the parts, as a refusal when
/// they are not one readable message.
pub fn one_message(copies: Result<ItipMessage, CopiesError>) -> Result<ItipMessage, Refused> {
    match copies {
        Ok(message) => Ok(message),
        Err(CopiesError::NoCopy) => Err(Refused::bare(no_calendar())),
        Err(CopiesError::OverLimit) => Err(Refused::bare(too_large())),
        Err(CopiesError::Unreadable(why)) => Err(Refused::bare(malformed()).because(why)),
        Err(CopiesError::Disagree { all, difference }) => {
            // Copies for different events are reported as such; otherwise as a broken calendar.
            let reason = uids_agree(&all.events).err().unwrap_or_else(malformed);
            Err(Refused::keeping(reason, all).because(difference.to_string()))
        }
    }
}

/// Every stateless rule on the one message, in the reason table's order. A refusal keeps
/// whatever could be read.
pub fn check_message(
    message: ItipMessage,
    sender: Option<&str>,
    delegation: &Delegation,
) -> Result<CheckedMessage, Refused> {
    let action = match supported_method(message.method.as_ref()) {
        Ok(action) => action,
        Err(reason) => return Err(Refused::keeping(reason, message)),
    };
    let structural = every_component_has_uid(&message.events)
        .and_then(|()| uids_agree(&message.events))
        .and_then(|()| within_limits(fits_the_ledger(&message.events)))
        .and_then(|()| within_limits(message.events.iter().all(fits_a_published_message)))
        .and_then(|()| one_organizer(&message.events))
        .and_then(|()| the_sender_speaks_for_the_organizer(&message.events, sender, delegation))
        .and_then(|()| one_component_per_key(&message.events))
        .and_then(|()| one_occurrence_at_a_time(&message.events));
    match structural {
        Ok(()) => Ok(CheckedMessage::trusted(action, message.events)),
        Err(reason) => Err(Refused::keeping(reason, message)),
    }
}

/// The sender's trust refusal (`sender::judge`) wins over whatever the content says: spam, a
/// virus or failed authentication makes the rest moot, and none of them may be answered. What
/// was read of the content is kept for reports; what was wrong with it is not.
pub fn sender_first(
    trust_refusal: Option<Reason>,
    content: Result<CheckedMessage, Refused>,
) -> Result<CheckedMessage, Refused> {
    match (trust_refusal, content) {
        (None, content) => content,
        (Some(reason), Ok(checked)) => Err(Refused {
            reason,
            method: Some(checked.method().clone()),
            events: checked.events,
            detail: None,
        }),
        (Some(reason), Err(refused)) => Err(Refused {
            reason,
            detail: None,
            ..refused
        }),
    }
}

/// Whether a message's keys and commit fit DynamoDB: a UID over its partition-key limit would fail
/// every call (as a retry, until the DLQ); more components than one transaction can commit would
/// have to be split, and a split commit is not all or nothing. (A RECURRENCE-ID, the sort key, is
/// a serialized time of at most 20 bytes.)
fn fits_the_ledger(events: &[EventComponent]) -> bool {
    let uid_fits = events
        .iter()
        .filter_map(|event| event.uid.as_deref())
        .all(|uid| uid.len() <= MAX_UID_BYTES);
    uid_fits && events.len() + 2 <= MAX_COMMIT_ITEMS
}

/// `too_large`: the email, a calendar part, the number of calendar parts, or a calendar's
/// components or attendees are over the configured limits; or its UID or number of components
/// over what one ledger transaction can hold; or a component that, with its free text cut, still
/// does not fit one published message (`message::fits_a_published_message`).
fn within_limits(fits: bool) -> Result<(), Reason> {
    if fits { Ok(()) } else { Err(too_large()) }
}

fn too_large() -> Reason {
    Reason::TooLarge
}

/// `no_calendar`: no `text/calendar`, `application/ics` or `*.ics` part at any depth (or bytes
/// that are not a message at all).
fn has_calendar(present: bool) -> Result<(), Reason> {
    if present { Ok(()) } else { Err(no_calendar()) }
}

fn no_calendar() -> Reason {
    Reason::NoCalendar
}

/// `malformed_calendar`: a calendar part that does not parse or has no VEVENT, copies that
/// disagree about one event, or two components for one (UID, RECURRENCE-ID).
pub(super) fn malformed() -> Reason {
    Reason::MalformedCalendar
}

/// `missing_method` / `unsupported_method`: no METHOD in the body nor the part; or one that is
/// not REQUEST or CANCEL.
fn supported_method(method: Option<&Method>) -> Result<Action, Reason> {
    match method {
        None => Err(Reason::MissingMethod),
        Some(Method::Request) => Ok(Action::Request),
        Some(Method::Cancel) => Ok(Action::Cancel),
        Some(Method::Other(_)) => Err(Reason::UnsupportedMethod),
    }
}

/// `missing_uid`: a VEVENT without UID.
fn every_component_has_uid(events: &[EventComponent]) -> Result<(), Reason> {
    if events.iter().all(|event| event.uid.is_some()) {
        Ok(())
    } else {
        Err(Reason::MissingUid)
    }
}

/// `multiple_uids`: components with different UIDs in one message (RFC 5546: one iTIP message,
/// one UID). UIDs compare exactly: RFC 5545 gives them no case folding.
fn uids_agree(events: &[EventComponent]) -> Result<(), Reason> {
    let mut uids = events.iter().filter_map(|event| event.uid.as_deref());
    match uids.next() {
        Some(first) if uids.any(|uid| uid != first) => Err(Reason::MultipleUids),
        _ => Ok(()),
    }
}

/// `sender_not_organizer` (stateless half): a component without ORGANIZER, components with
/// different ORGANIZERs, or a From address that is neither the ORGANIZER nor a SENT-BY delegate
/// the delegation policy allows. The stateful half (the owner of the UID) is in `rules`.
fn one_organizer(events: &[EventComponent]) -> Result<(), Reason> {
    let mut organizers = events
        .iter()
        .map(|event| event.organizer.as_ref().map(|organizer| &organizer.address));
    match organizers.next() {
        // No component at all is a malformed calendar, said by `one_component_per_key`.
        None => Ok(()),
        Some(Some(first)) if organizers.all(|other| other == Some(first)) => Ok(()),
        _ => Err(not_the_organizer()),
    }
}

fn the_sender_speaks_for_the_organizer(
    events: &[EventComponent],
    sender: Option<&str>,
    delegation: &Delegation,
) -> Result<(), Reason> {
    let speaks = events.iter().all(|event| {
        event
            .organizer
            .as_ref()
            .is_some_and(|organizer| may_speak_for(sender, organizer, delegation))
    });
    if speaks {
        Ok(())
    } else {
        Err(not_the_organizer())
    }
}

pub(super) fn not_the_organizer() -> Reason {
    Reason::SenderNotOrganizer
}

/// `unsupported_range`: a RECURRENCE-ID with `RANGE=THISANDFUTURE`. Carried through, every
/// subscriber and the ledger would have to split the series at that occurrence; read as one
/// occurrence, every later one would stay as it was (a CANCEL would leave them all alive). No
/// client we have seen sends it by mail (Outlook and Google split a series into a new UID), so it
/// is refused with its own reason, the sender told, rather than half applied.
fn one_occurrence_at_a_time(events: &[EventComponent]) -> Result<(), Reason> {
    if events.iter().any(|event| event.this_and_future) {
        Err(Reason::UnsupportedRange)
    } else {
        Ok(())
    }
}

/// `malformed_calendar` (structure): at least one component, and at most one per
/// (UID, RECURRENCE-ID). Two for one key would be two writes conditioned on the same read: the
/// second always loses its condition and the message would be retried forever.
fn one_component_per_key(events: &[EventComponent]) -> Result<(), Reason> {
    // The UIDs agree already, so a key is told apart by its RECURRENCE-ID alone.
    let mut recurrence_ids: Vec<_> = events.iter().map(|event| event.recurrence_id).collect();
    recurrence_ids.sort_unstable();
    let distinct = recurrence_ids.windows(2).all(|pair| pair[0] != pair[1]);
    if distinct && !events.is_empty() {
        Ok(())
    } else {
        Err(malformed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::{EventTime, Organizer};
    use crate::core::policy::SenderPolicy;

    fn component(uid: Option<&str>, day: Option<u32>) -> EventComponent {
        EventComponent {
            uid: uid.map(str::to_owned),
            recurrence_id: day.map(|day| {
                EventTime::Date(chrono::NaiveDate::from_ymd_opt(2026, 12, day).expect("date"))
            }),
            organizer: Some(Organizer {
                address: "alice@example.com".into(),
                name: None,
                sent_by: None,
            }),
            ..EventComponent::default()
        }
    }

    fn without_organizer(mut event: EventComponent) -> EventComponent {
        event.organizer = None;
        event
    }

    fn organized_by(mut event: EventComponent, address: &str) -> EventComponent {
        if let Some(organizer) = event.organizer.as_mut() {
            organizer.address = address.to_owned();
        }
        event
    }

    #[test]
    fn a_checked_message_has_a_supported_method_one_uid_and_one_component_per_key() {
        let ok = || component(Some("u1"), None);
        let cases = [
            (None, vec![ok()], Reason::MissingMethod),
            (
                Some(Method::Other("PUBLISH".into())),
                vec![ok()],
                Reason::UnsupportedMethod,
            ),
            (
                Some(Method::Request),
                vec![ok(), component(None, Some(8))],
                Reason::MissingUid,
            ),
            (
                Some(Method::Cancel),
                vec![ok(), component(Some("u2"), Some(8))],
                Reason::MultipleUids,
            ),
            (
                Some(Method::Cancel),
                vec![ok(), component(Some("U1"), Some(8))],
                Reason::MultipleUids,
            ),
            (
                Some(Method::Request),
                vec![
                    component(Some("u1"), Some(8)),
                    component(Some("u1"), Some(8)),
                ],
                Reason::MalformedCalendar,
            ),
            (Some(Method::Request), Vec::new(), Reason::MalformedCalendar),
            (
                Some(Method::Request),
                vec![ok(), without_organizer(component(Some("u1"), Some(8)))],
                Reason::SenderNotOrganizer,
            ),
            (
                Some(Method::Cancel),
                vec![
                    ok(),
                    organized_by(component(Some("u1"), Some(8)), "bob@example.com"),
                ],
                Reason::SenderNotOrganizer,
            ),
        ];
        for (method, events, reason) in cases {
            assert_eq!(
                CheckedMessage::new(method.clone(), events.clone()),
                Err(reason),
                "{method:?} {events:?}"
            );
        }
        let checked = CheckedMessage::new(
            Some(Method::Cancel),
            vec![ok(), component(Some("u1"), Some(8))],
        )
        .expect("well formed");
        assert_eq!(checked.action(), Action::Cancel);
        assert_eq!(checked.method(), &Method::Cancel);
        assert_eq!(checked.uid(), "u1");
        assert_eq!(checked.organizer(), "alice@example.com");
        assert_eq!(checked.events().len(), 2);
    }

    #[test]
    fn an_email_over_the_limit_is_too_large() {
        let limits = Limits {
            max_email_bytes: 10,
            ..Limits::default()
        };
        assert_eq!(
            email_size(11, &limits).map_err(|refused| refused.reason),
            Err(Reason::TooLarge)
        );
        assert_eq!(email_size(10, &limits), Ok(()));
    }

    #[test]
    fn a_message_fits_one_ledger_transaction_and_its_keys_fit_dynamodb() {
        let analyze = |text: String| {
            crate::core::analyze(
                text.as_bytes(),
                &Limits::default(),
                &SenderPolicy::default(),
            )
        };
        let email = |uid: &str, occurrences: usize| {
            let mut ics = String::from("BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\n");
            for index in 0..occurrences {
                ics.push_str(&format!(
                    "BEGIN:VEVENT\r\nUID:{uid}\r\nRECURRENCE-ID:2027{:02}{:02}T090000Z\r\n\
                     ORGANIZER:mailto:alice@example.com\r\nDTSTART:20270101T090000Z\r\nEND:VEVENT\r\n",
                    index / 28 + 1,
                    index % 28 + 1
                ));
            }
            ics.push_str("END:VCALENDAR\r\n");
            format!(
                "From: alice@example.com\r\nContent-Type: text/calendar; method=REQUEST\r\n\r\n{ics}"
            )
        };
        let most = MAX_COMMIT_ITEMS - 2;
        assert_eq!(analyze(email("u1", most)).reason(), None);
        assert_eq!(
            analyze(email("u1", most + 1)).reason(),
            Some(Reason::TooLarge)
        );
        assert_eq!(analyze(email(&"u".repeat(MAX_UID_BYTES), 1)).reason(), None);
        assert_eq!(
            analyze(email(&"u".repeat(MAX_UID_BYTES + 1), 1)).reason(),
            Some(Reason::TooLarge)
        );
    }

    /// The two over-limit calendars: a 300 KB LOCATION is cut and published; 30 000 EXDATEs cannot be
    /// cut without lying about the series, so the message is refused before any commit.
    #[test]
    fn a_component_too_large_to_publish_is_refused_and_long_text_is_not() {
        let analyze = |extra: &str| {
            let ics = format!(
                "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:big@example.com\r\n\
                 ORGANIZER:mailto:alice@example.com\r\nDTSTART:20270101T090000Z\r\n\
                 RRULE:FREQ=DAILY\r\n{extra}END:VEVENT\r\nEND:VCALENDAR\r\n"
            );
            let email = format!(
                "From: alice@example.com\r\nContent-Type: text/calendar; method=REQUEST\r\n\r\n{ics}"
            );
            crate::core::analyze(
                email.as_bytes(),
                &Limits::default(),
                &SenderPolicy::default(),
            )
        };
        let location = format!("LOCATION:{}\r\n", "Room 4, ".repeat(300_000 / 8));
        assert_eq!(analyze(&location).reason(), None);
        let exdates: String = (0..30_000)
            .map(|day| {
                let date = chrono::NaiveDate::from_ymd_opt(2027, 1, 1).expect("date")
                    + chrono::Days::new(day);
                format!("EXDATE:{}T090000Z\r\n", date.format("%Y%m%d"))
            })
            .collect();
        assert_eq!(analyze(&exdates).reason(), Some(Reason::TooLarge));
    }
}
