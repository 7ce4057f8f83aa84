//! The types every other part of invite-router speaks: what an email says (`EventComponent`,
//! `Envelope`), what the
//! ledger remembers (`RecordState`), what the rules decide (`Decision`) and what subscribers receive
//! (`EventMessage`, `RejectedMessage`). Plain data, no behaviour beyond ordering and naming.

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

/// Why a request was refused or not acted on. The snake_case names are a public contract
/// (CLI output, the `rejected` topic, logs): never rename one.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Reason {
    NoCalendar,
    MalformedCalendar,
    MissingMethod,
    UnsupportedMethod,
    MissingUid,
    MultipleUids,
    /// A RECURRENCE-ID with `RANGE=THISANDFUTURE`: refused, never narrowed to one occurrence.
    UnsupportedRange,
    SenderNotOrganizer,
    TooLarge,
    Spam,
    Virus,
    SenderUnauthenticated,
    /// A CANCEL for a UID never seen: ignored, but remembered as a tombstone.
    UnknownEvent,
}

impl Reason {
    pub const ALL: [Reason; 13] = [
        Reason::NoCalendar,
        Reason::MalformedCalendar,
        Reason::MissingMethod,
        Reason::UnsupportedMethod,
        Reason::MissingUid,
        Reason::MultipleUids,
        Reason::UnsupportedRange,
        Reason::SenderNotOrganizer,
        Reason::TooLarge,
        Reason::Spam,
        Reason::Virus,
        Reason::SenderUnauthenticated,
        Reason::UnknownEvent,
    ];

    pub fn code(self) -> &'static str {
        self.into()
    }

    /// Whether the sender is told through the `rejected` topic. Never for mail whose sender we
    /// cannot trust (spam, virus, failed authentication): answering it would be backscatter.
    pub fn notify_sender(self) -> bool {
        !matches!(
            self,
            Reason::Spam | Reason::Virus | Reason::SenderUnauthenticated | Reason::UnknownEvent
        )
    }

    /// One sentence for the organizer, in the `rejected` message.
    pub fn explanation(self) -> &'static str {
        match self {
            Reason::NoCalendar => {
                "Your email did not contain a calendar invitation (no text/calendar or .ics part)."
            }
            Reason::MalformedCalendar => {
                "The calendar invitation in your email could not be read, has no event in it, or its copies disagree."
            }
            Reason::MissingMethod => {
                "The calendar invitation does not say whether it is a request or a cancellation (no METHOD)."
            }
            Reason::UnsupportedMethod => {
                "Only meeting requests and cancellations are accepted; this calendar message is neither."
            }
            Reason::MissingUid => "The calendar event has no UID, so it cannot be tracked.",
            Reason::MultipleUids => {
                "The invitation holds events with different UIDs; send one meeting per email."
            }
            Reason::UnsupportedRange => {
                "Changes to this and all later occurrences at once (RANGE=THISANDFUTURE) are not accepted."
            }
            Reason::SenderNotOrganizer => {
                "Only the meeting's organizer (or their delegate) may create, change or cancel it."
            }
            Reason::TooLarge => {
                "The email or its calendar part is larger than this service accepts."
            }
            Reason::Spam => "The email was classified as spam.",
            Reason::Virus => "The email was found to carry a virus.",
            Reason::SenderUnauthenticated => "The sender of the email could not be authenticated.",
            Reason::UnknownEvent => "The cancelled event was never scheduled here.",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The iTIP METHOD, upper-cased. Only REQUEST and CANCEL are acted on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    Request,
    Cancel,
    Other(String),
}

impl Method {
    pub fn parse(value: &str) -> Method {
        let upper = value.trim().to_ascii_uppercase();
        match upper.as_str() {
            "REQUEST" => Method::Request,
            "CANCEL" => Method::Cancel,
            _ => Method::Other(upper),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Method::Request => "REQUEST",
            Method::Cancel => "CANCEL",
            Method::Other(other) => other,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Method {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Method {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(Method::parse(&text))
    }
}

/// A point in time as iCalendar can express it. Serialized as docs/DESIGN.md "The command line's JSON" says: UTC instants as
/// `2026-12-01T18:00:00Z`, dates as `2026-12-24`, floating times as `2026-12-01T10:00:00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventTime {
    Utc(DateTime<Utc>),
    Date(NaiveDate),
    Floating(NaiveDateTime),
}

impl EventTime {
    pub fn is_date(&self) -> bool {
        matches!(self, EventTime::Date(_))
    }

    /// Parses the serialized form back (used by the ledger and tests).
    pub fn parse(text: &str) -> Option<EventTime> {
        if let Some(stripped) = text.strip_suffix('Z') {
            return NaiveDateTime::parse_from_str(stripped, "%Y-%m-%dT%H:%M:%S")
                .ok()
                .map(|naive| EventTime::Utc(naive.and_utc()));
        }
        if text.len() == 10 {
            return NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .map(EventTime::Date);
        }
        NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
            .ok()
            .map(EventTime::Floating)
    }
}

/// An instant as every stored and published text writes it: RFC 3339 UTC to the second (what
/// iCalendar's DTSTAMP can express). Dedupe ids hash this form, so it is written here only.
pub fn utc_text(instant: DateTime<Utc>) -> String {
    instant.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl fmt::Display for EventTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventTime::Utc(instant) => f.write_str(&utc_text(*instant)),
            EventTime::Date(date) => write!(f, "{}", date.format("%Y-%m-%d")),
            EventTime::Floating(naive) => write!(f, "{}", naive.format("%Y-%m-%dT%H:%M:%S")),
        }
    }
}

impl Serialize for EventTime {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EventTime {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        EventTime::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("not an event time: {text:?}")))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organizer {
    /// Lower-case address, without `mailto:`.
    pub address: String,
    pub name: Option<String>,
    /// Lower-case address of the delegate allowed to send for the organizer.
    pub sent_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attendee {
    pub address: String,
    pub name: Option<String>,
    pub role: Option<String>,
    pub partstat: Option<String>,
    pub rsvp: Option<bool>,
}

/// One VEVENT of an iTIP message, normalized.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventComponent {
    pub uid: Option<String>,
    pub recurrence_id: Option<EventTime>,
    pub sequence: u32,
    pub dtstamp: Option<DateTime<Utc>>,
    pub status: Option<String>,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub location: Option<String>,
    pub start: Option<EventTime>,
    pub end: Option<EventTime>,
    pub all_day: bool,
    /// The zone the start was written in, as an IANA name when it could be resolved to one,
    /// else the TZID as written.
    pub time_zone: Option<String>,
    pub rrule: Option<String>,
    /// The RECURRENCE-ID carries `RANGE=THISANDFUTURE`: the change is meant for this and every
    /// later occurrence. Such a message is refused (`unsupported_range`), so the flag never
    /// reaches a published message or the ledger.
    #[serde(skip)]
    pub this_and_future: bool,
    pub exdates: Vec<EventTime>,
    pub organizer: Option<Organizer>,
    pub attendees: Vec<Attendee>,
    pub conference_url: Option<String>,
}

impl EventComponent {
    pub fn version(&self) -> Version {
        Version {
            sequence: self.sequence,
            dtstamp: self.dtstamp,
        }
    }
}

/// The envelope facts the pipeline reports about an email, whatever its calendar says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Lower-case From address.
    pub sender: Option<String>,
    pub subject: Option<String>,
    pub message_id: Option<String>,
    /// The Date header.
    pub date: Option<DateTime<Utc>>,
    /// The languages the sender's mail asked for (`Content-Language`, then `Accept-Language` by
    /// preference), as written.
    pub languages: Vec<String>,
    /// For a refused email only: the SHA-256 (hex) of its body, everything after the header
    /// block. The same email delivered twice has the same body (the headers SES adds differ);
    /// another sender's email reusing a Message-ID almost never does. Keys the refusal.
    pub body_digest: Option<String>,
}

/// A component's version, ordered as RFC 5546 orders them: SEQUENCE first, then DTSTAMP.
/// A missing DTSTAMP sorts before any present one.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct Version {
    pub sequence: u32,
    pub dtstamp: Option<DateTime<Utc>>,
}

/// Which of a UID's ledger items a key names. Turned into the stored sort key (and back) only
/// by `ledger_format`. Ordered the series first, then as the stored keys sort (`#aside:…`,
/// `#owner`, times).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ItemKind {
    /// The event without RECURRENCE-ID: the series, or a single event.
    Series,
    /// An outbox entry the publisher refused for good, by its dedupe id (`ports::SetAsideEntry`).
    SetAside(String),
    /// Who owns the UID: written by the first message that made an event of it, read and guarded
    /// with the event's own records.
    Owner,
    /// One occurrence, by its RECURRENCE-ID in serialized form, so that every backend stores the
    /// same string.
    Occurrence(String),
}

/// The ledger key: a UID and which of its items.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventKey {
    pub uid: String,
    pub item: ItemKind,
}

impl EventKey {
    /// The record of `uid` for this RECURRENCE-ID (the series without one).
    pub fn new(uid: &str, recurrence_id: Option<&EventTime>) -> EventKey {
        EventKey {
            uid: uid.to_owned(),
            item: match recurrence_id {
                Some(time) => ItemKind::Occurrence(time.to_string()),
                None => ItemKind::Series,
            },
        }
    }

    /// Where the outbox entry `dedupe_id` of `uid` is kept once set aside.
    pub fn set_aside(uid: &str, dedupe_id: &str) -> EventKey {
        EventKey {
            uid: uid.to_owned(),
            item: ItemKind::SetAside(dedupe_id.to_owned()),
        }
    }

    /// The key of `uid`'s owner item.
    pub fn owner_of(uid: &str) -> EventKey {
        EventKey {
            uid: uid.to_owned(),
            item: ItemKind::Owner,
        }
    }

    pub fn is_series(&self) -> bool {
        self.item == ItemKind::Series
    }

    pub fn is_owner_item(&self) -> bool {
        self.item == ItemKind::Owner
    }

    /// The serialized RECURRENCE-ID of an occurrence's key; `None` for every other item.
    pub fn recurrence_id(&self) -> Option<&str> {
        match &self.item {
            ItemKind::Occurrence(recurrence_id) => Some(recurrence_id),
            _ => None,
        }
    }

    /// The series record of the same UID.
    pub fn series(&self) -> EventKey {
        EventKey {
            uid: self.uid.clone(),
            item: ItemKind::Series,
        }
    }
}

impl fmt::Display for EventKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.item {
            ItemKind::Series => f.write_str(&self.uid),
            ItemKind::Occurrence(recurrence_id) => write!(f, "{} @ {recurrence_id}", self.uid),
            ItemKind::Owner => write!(f, "{} (owner)", self.uid),
            ItemKind::SetAside(dedupe_id) => write!(f, "{} (set aside {dedupe_id})", self.uid),
        }
    }
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum RecordStatus {
    Active,
    Cancelled,
    /// A CANCEL arrived for an event never seen; kept so a late, older REQUEST is stale.
    Tombstone,
}

/// What the ledger remembers of one (UID, RECURRENCE-ID), as far as the rules care.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordState {
    pub organizer: Option<String>,
    pub status: RecordStatus,
    pub version: Version,
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Route {
    Create,
    Update,
    Cancel,
    Duplicate,
    Stale,
    Ignored,
    Invalid,
}

impl Route {
    /// Every route, for lists that must name them all (the CDK dashboard).
    pub const ALL: [Route; 7] = [
        Route::Create,
        Route::Update,
        Route::Cancel,
        Route::Duplicate,
        Route::Stale,
        Route::Ignored,
        Route::Invalid,
    ];

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The event topic a route publishes to, if any.
    pub fn topic(self) -> Option<Topic> {
        match self {
            Route::Create => Some(Topic::Create),
            Route::Update => Some(Topic::Update),
            Route::Cancel => Some(Topic::Cancel),
            _ => None,
        }
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Topic {
    Create,
    Update,
    Cancel,
    Rejected,
}

impl Topic {
    pub const ALL: [Topic; 4] = [Topic::Create, Topic::Update, Topic::Cancel, Topic::Rejected];

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happens to one component of the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// Index into `Analysis::events`.
    pub component: usize,
    pub key: EventKey,
    pub route: Route,
    pub reason: Option<Reason>,
    /// The state to write to the ledger for `key`, conditionally on the state read. `None`: no write.
    pub new_state: Option<RecordState>,
}

/// The verdict on a whole message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub route: Route,
    pub reason: Option<Reason>,
    pub transitions: Vec<Transition>,
    /// The UID has no owner yet and this message makes an event of it: its organizer becomes
    /// the owner, written (on condition that there still is none) in the same commit.
    pub claims_owner: Option<String>,
}

impl Decision {
    /// The reason a refused message was refused; `None` for anything else (an ignored CANCEL's
    /// `unknown_event` is not a refusal).
    pub fn refusal(&self) -> Option<Reason> {
        if self.route == Route::Invalid {
            self.reason
        } else {
            None
        }
    }

    pub fn refused(reason: Reason) -> Decision {
        Decision {
            route: Route::Invalid,
            reason: Some(reason),
            transitions: Vec::new(),
            claims_owner: None,
        }
    }
}

/// Version of the published JSON; bump with a new `schemas/*.vN.json` when a field changes meaning.
pub const SCHEMA_VERSION: u32 = 1;

/// Where a published message came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    pub bucket: Option<String>,
    pub key: String,
    pub message_id: Option<String>,
    pub sender: Option<String>,
    pub subject: Option<String>,
}

/// The body published to the create, update and cancel topics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMessage {
    pub schema_version: u32,
    pub route: Route,
    /// Same transition, same id: subscribers drop repeats by it.
    pub dedupe_id: String,
    pub method: Method,
    pub event: EventComponent,
    pub source: SourceInfo,
}

/// Version of the `rejected` topic's JSON: 2 added what the notifier needs to write the reply
/// (`language`, `received_at`).
pub const REJECTED_SCHEMA_VERSION: u32 = 2;

/// What a message on the `rejected` topic (the notifier's input) asks the notifier to write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// Why a request was refused.
    #[default]
    Refusal,
    /// With `NOTIFY_ON_SUCCESS`: that an invitation was accepted.
    Confirmation,
}

/// The body published to the `rejected` topic, for the organizer to be told why. The notifier
/// renders the reply from it alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedMessage {
    pub schema_version: u32,
    /// Always `refusal`.
    #[serde(default)]
    pub kind: NoticeKind,
    pub dedupe_id: String,
    pub sender: String,
    pub reason: Reason,
    pub explanation: String,
    pub subject: Option<String>,
    /// The reply's language (a code of `core::reply::LANGUAGES`).
    pub language: String,
    /// When the refused email was sent (its Date header), for the reply to say which one.
    pub received_at: Option<DateTime<Utc>>,
    pub source: SourceInfo,
}

/// With `NOTIFY_ON_SUCCESS`, the body published to the `rejected` topic to confirm an accepted
/// invitation to its sender, under the same rules, limit and idempotency as a refusal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmationMessage {
    pub schema_version: u32,
    /// Always `confirmation`.
    pub kind: NoticeKind,
    pub dedupe_id: String,
    pub sender: String,
    /// What the invitation did: `create`, `update` or `cancel`.
    pub route: Route,
    /// The event's SUMMARY and start, for the confirmation to say which one.
    pub summary: Option<String>,
    pub start: Option<EventTime>,
    pub subject: Option<String>,
    pub language: String,
    pub received_at: Option<DateTime<Utc>>,
    pub source: SourceInfo,
}
