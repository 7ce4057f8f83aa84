//! The iTIP rule table (RFC 5546, docs/DESIGN.md "iTIP rules"): a checked message and the ledger
//! state the service read for it in, one [`Decision`] out.
//!
//! Pure: no clock, no I/O. Every component of the message is judged on its own against the record
//! for its (UID, RECURRENCE-ID); the message is then accepted or refused as a whole. The message
//! is a [`CheckedMessage`], so METHOD, the one UID and one component per key need no guard here.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::check::{Action, CheckedMessage, malformed, not_the_organizer};
use crate::core::model::{
    Decision, EventComponent, EventKey, Reason, RecordState, RecordStatus, Route, Transition,
};

/// Decides what one checked message does, given the ledger state for every key it touches.
///
/// `ledger` holds the current record for each component key (uid, recurrence_id) and, for
/// occurrences, for the series key (uid, None). A key absent from the map has no record.
pub fn decide(message: &CheckedMessage, ledger: &BTreeMap<EventKey, RecordState>) -> Decision {
    // Ownership is per UID: once a UID has an owner, every message for it, for any
    // RECURRENCE-ID, must come from the owner's side, whatever records exist. The check has
    // already tied the sender to the message's ORGANIZER.
    let owner = ledger
        .get(&EventKey::owner_of(message.uid()))
        .and_then(|item| item.organizer.as_deref());
    if owner.is_some_and(|owner| !same_address(owner, message.organizer())) {
        return Decision::refused(not_the_organizer());
    }
    let mut transitions = Vec::with_capacity(message.events().len());
    for (index, event) in message.events().iter().enumerate() {
        let key = EventKey::new(message.uid(), event.recurrence_id.as_ref());
        let transition = judge(message.action(), index, key, event, ledger);
        // A message is accepted or refused as a whole: one component the sender does not own
        // refuses all of it, so nothing is written or published for the others either.
        if transition.route == Route::Invalid {
            return Decision::refused(not_the_organizer());
        }
        transitions.push(transition);
    }

    // The message is reported by what it did: the first component that publishes, else the
    // component that speaks for the message (the master, else the first).
    let chosen = transitions
        .iter()
        .find(|transition| transition.route.topic().is_some())
        .or_else(|| {
            transitions
                .iter()
                .find(|transition| transition.key.is_series())
        })
        .or_else(|| transitions.first());
    // The first message that makes an event of the UID fixes its owner; a tombstone alone does
    // not (a stranger's CANCEL of an unknown UID must not claim it).
    let makes_an_event = transitions.iter().any(|transition| {
        transition.new_state.as_ref().is_some_and(|state| {
            matches!(state.status, RecordStatus::Active | RecordStatus::Cancelled)
        })
    });
    let claims_owner = (owner.is_none() && makes_an_event).then(|| message.organizer().to_owned());
    match chosen {
        Some(chosen) => Decision {
            route: chosen.route,
            reason: chosen.reason,
            transitions,
            claims_owner,
        },
        // A checked message has at least one component; kept total rather than panicking.
        None => Decision::refused(malformed()),
    }
}

/// Judges one component against the record it is measured by.
fn judge(
    action: Action,
    component: usize,
    key: EventKey,
    event: &EventComponent,
    ledger: &BTreeMap<EventKey, RecordState>,
) -> Transition {
    let organizer = event
        .organizer
        .as_ref()
        .map(|organizer| organizer.address.to_lowercase());
    let organizer = organizer.as_deref();

    // A tombstone left by someone else's CANCEL says nothing about this organizer's event: a
    // stranger must not be able to block (or make stale) the real organizer's invitations.
    let usable = |record: &&RecordState| !is_strangers_tombstone(record, organizer);
    let own = ledger.get(&key).filter(usable);
    // An occurrence with no record of its own is judged against its series: a REQUEST or CANCEL
    // for one occurrence of a known series is never `create`/`ignored`.
    let record = match own {
        Some(record) => Some(record),
        None if !key.is_series() => ledger.get(&key.series()).filter(usable),
        None => None,
    };
    let outcome = Outcome {
        component,
        key,
        event,
        organizer,
        record,
    };

    let Some(record) = record else {
        return match action {
            // Nothing on record: a new event.
            Action::Request => outcome.write(Route::Create, None, RecordStatus::Active),
            // A CANCEL for an event never seen is ignored, but a tombstone is kept so that an
            // older REQUEST delivered later is stale rather than a resurrection.
            Action::Cancel => outcome.write(
                Route::Ignored,
                Some(Reason::UnknownEvent),
                RecordStatus::Tombstone,
            ),
        };
    };

    // Updates and cancels must come from the organizer on record (its SENT-BY delegate was
    // already matched to the ORGANIZER by the sender checks). Checked before the version so a
    // stranger is told, whatever SEQUENCE they used.
    if matches!(
        record.status,
        RecordStatus::Active | RecordStatus::Cancelled
    ) && owned_by_someone_else(record, organizer)
    {
        return outcome.no_write(Route::Invalid, Some(not_the_organizer()));
    }

    match event.version().cmp(&record.version) {
        // Older than what we hold: publishing it would undo a newer change.
        Ordering::Less => outcome.no_write(Route::Stale, None),
        // Already handled (a retry, or the same invite sent twice).
        Ordering::Equal => outcome.no_write(Route::Duplicate, None),
        Ordering::Greater => newer(action, record.status, outcome),
    }
}

/// The rules for a component newer than the record it is judged against (`status`).
fn newer(action: Action, status: RecordStatus, outcome: Outcome<'_>) -> Transition {
    match (action, status) {
        // A newer REQUEST changes a live event, or revives a cancelled one (docs/DESIGN.md "iTIP rules": that is
        // `update`). For an occurrence judged against its series, this writes the occurrence's
        // own first record; the series record is not touched.
        (Action::Request, RecordStatus::Active | RecordStatus::Cancelled) => {
            outcome.write(Route::Update, None, RecordStatus::Active)
        }
        // Only a CANCEL was ever seen: subscribers never heard of the event, so it is new to
        // them. The newer version replaces the tombstone.
        (Action::Request, RecordStatus::Tombstone) => {
            outcome.write(Route::Create, None, RecordStatus::Active)
        }
        // A newer CANCEL of a live event: cancel the series or, with RECURRENCE-ID, only that
        // occurrence: the series stays alive (only the occurrence key is written).
        (Action::Cancel, RecordStatus::Active) => {
            outcome.write(Route::Cancel, None, RecordStatus::Cancelled)
        }
        // Cancelled already (the event, or for an occurrence its whole series), so nothing to
        // publish; but remember the newer version under the component's own key so that a
        // REQUEST older than this CANCEL, delivered later, stays stale.
        (Action::Cancel, RecordStatus::Cancelled) => {
            outcome.write(Route::Duplicate, None, RecordStatus::Cancelled)
        }
        // Still never seen as an event: ignored, and the tombstone advances to the newer version
        // (for an occurrence of a tombstoned series, the occurrence gets its own tombstone).
        (Action::Cancel, RecordStatus::Tombstone) => outcome.write(
            Route::Ignored,
            Some(Reason::UnknownEvent),
            RecordStatus::Tombstone,
        ),
    }
}

/// A tombstone written for a different organizer than this component's.
fn is_strangers_tombstone(record: &RecordState, organizer: Option<&str>) -> bool {
    record.status == RecordStatus::Tombstone && owned_by_someone_else(record, organizer)
}

/// Both organizers are known and they differ (addresses compare case-insensitively). An unknown
/// organizer on either side proves nothing, so it is not a mismatch.
fn owned_by_someone_else(record: &RecordState, organizer: Option<&str>) -> bool {
    match (record.organizer.as_deref(), organizer) {
        (Some(on_record), Some(organizer)) => !same_address(on_record, organizer),
        _ => false,
    }
}

/// Case-insensitive address equality, folding exactly as `str::to_lowercase` does (which is how
/// new records are written), without allocating.
fn same_address(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

/// One component being judged, and the record it is judged against (if any).
struct Outcome<'a> {
    component: usize,
    key: EventKey,
    event: &'a EventComponent,
    /// The component's organizer address, lower-case.
    organizer: Option<&'a str>,
    record: Option<&'a RecordState>,
}

impl Outcome<'_> {
    fn no_write(self, route: Route, reason: Option<Reason>) -> Transition {
        Transition {
            component: self.component,
            key: self.key,
            route,
            reason,
            new_state: None,
        }
    }

    /// Writes the component's own version with `status` to the component's key. The organizer
    /// on record is the component's, or the known record's when the component names none.
    fn write(self, route: Route, reason: Option<Reason>, status: RecordStatus) -> Transition {
        let organizer = self
            .organizer
            .map(str::to_owned)
            .or_else(|| self.record.and_then(|record| record.organizer.clone()));
        Transition {
            component: self.component,
            key: self.key,
            route,
            reason,
            new_state: Some(RecordState {
                organizer,
                status,
                version: self.event.version(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{DateTime, TimeZone, Utc};
    use proptest::prelude::*;

    use super::decide;
    use crate::core::itip::check::CheckedMessage;
    use crate::core::model::{
        Decision, EventComponent, EventKey, EventTime, Method, Organizer, Reason, RecordState,
        RecordStatus, Route, Transition, Version,
    };

    // ---- building blocks -------------------------------------------------------------------

    const UID: &str = "7f3c2a10-series@example.com";
    const ALICE: &str = "alice@example.com";

    fn stamp(hour: u32) -> Option<DateTime<Utc>> {
        Utc.with_ymd_and_hms(2026, 11, 20, hour, 0, 0).single()
    }

    fn version(sequence: u32, hour: Option<u32>) -> Version {
        Version {
            sequence,
            dtstamp: hour.and_then(stamp),
        }
    }

    /// The occurrence the table talks about, and a sibling occurrence of the same series.
    fn rid(day: u32) -> Option<EventTime> {
        Utc.with_ymd_and_hms(2026, 12, day, 18, 0, 0)
            .single()
            .map(EventTime::Utc)
    }

    fn component(
        recurrence_id: Option<EventTime>,
        at: Version,
        organizer: Option<&str>,
    ) -> EventComponent {
        EventComponent {
            uid: Some(UID.to_owned()),
            recurrence_id,
            sequence: at.sequence,
            dtstamp: at.dtstamp,
            summary: Some("Weekly sync".to_owned()),
            organizer: organizer.map(|address| Organizer {
                address: address.to_owned(),
                name: None,
                sent_by: None,
            }),
            ..EventComponent::default()
        }
    }

    fn message(method: Method, events: Vec<EventComponent>) -> CheckedMessage {
        CheckedMessage::new(Some(method), events).expect("a well-formed test message")
    }

    fn key(recurrence_id: Option<EventTime>) -> EventKey {
        EventKey::new(UID, recurrence_id.as_ref())
    }

    fn record(status: RecordStatus, at: Version, organizer: Option<&str>) -> RecordState {
        RecordState {
            organizer: organizer.map(str::to_owned),
            status,
            version: at,
        }
    }

    // ---- the decision table (docs/DESIGN.md "iTIP rules") -----------------------------------

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum M {
        Request,
        Cancel,
    }

    /// The record the component is judged against.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Rec {
        Nothing,
        Is(RecordStatus),
    }

    /// The component's version against that record's version `(1, 10:00)`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Rel {
        /// No record, so no relation.
        NotApplicable,
        /// `(0, 12:00)`: a lower SEQUENCE wins over a later DTSTAMP.
        Older,
        /// `(1, 10:00)`.
        Same,
        Newer(Newer),
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Newer {
        /// `(2, 08:00)`: a higher SEQUENCE wins over an earlier DTSTAMP.
        BySequence,
        /// `(1, 12:00)`.
        ByDtstamp,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Scope {
        /// No RECURRENCE-ID, judged against the series record. The ledger also holds a newer
        /// occurrence record, which must not matter.
        Series,
        /// RECURRENCE-ID, judged against its own record. The ledger also holds a much newer,
        /// live series record, which must not matter. `Nothing`: no record at all.
        Occurrence,
        /// RECURRENCE-ID without a record of its own, judged against its series record. The
        /// ledger also holds a much newer sibling occurrence, which must not matter.
        ViaSeries,
    }

    use M::{Cancel as CANCEL, Request as REQUEST};
    use Newer::{ByDtstamp, BySequence};
    use Rel::{NotApplicable as NA, Older as OLDER, Same as SAME};
    use Scope::{Occurrence as OCCURRENCE, Series as SERIES, ViaSeries as VIA_SERIES};
    const NONE: Rec = Rec::Nothing;
    const ACTIVE: Rec = Rec::Is(RecordStatus::Active);
    const CANCELLED: Rec = Rec::Is(RecordStatus::Cancelled);
    const TOMBSTONE: Rec = Rec::Is(RecordStatus::Tombstone);

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct Row {
        method: M,
        record: Rec,
        relation: Rel,
        scope: Scope,
    }

    /// What the table expects: the route, the reason, and the status written (with the
    /// component's own version) to the component's key, or `None` for no write.
    type Expected = (Route, Option<Reason>, Option<RecordStatus>);

    fn row(method: M, record: Rec, relation: Rel, scope: Scope) -> Row {
        Row {
            method,
            record,
            relation,
            scope,
        }
    }

    impl Row {
        fn gives(
            self,
            route: Route,
            reason: Option<Reason>,
            written: Option<RecordStatus>,
        ) -> (Row, Expected) {
            (self, (route, reason, written))
        }

        fn component_version(self) -> Version {
            match self.relation {
                Rel::NotApplicable | Rel::Same => version(1, Some(10)),
                Rel::Older => version(0, Some(12)),
                Rel::Newer(Newer::BySequence) => version(2, Some(8)),
                Rel::Newer(Newer::ByDtstamp) => version(1, Some(12)),
            }
        }

        fn component_rid(self) -> Option<EventTime> {
            match self.scope {
                Scope::Series => None,
                Scope::Occurrence | Scope::ViaSeries => rid(8),
            }
        }

        fn setup(self) -> (CheckedMessage, BTreeMap<EventKey, RecordState>) {
            let method = match self.method {
                M::Request => Method::Request,
                M::Cancel => Method::Cancel,
            };
            let event = component(self.component_rid(), self.component_version(), Some(ALICE));
            let mut ledger = BTreeMap::new();
            let far_ahead = version(9, Some(23));
            let live = |at| record(RecordStatus::Active, at, Some(ALICE));
            let judged = match self.record {
                Rec::Nothing => None,
                Rec::Is(status) => Some(record(status, version(1, Some(10)), Some(ALICE))),
            };
            match self.scope {
                Scope::Series => {
                    ledger.insert(key(rid(15)), live(far_ahead));
                    if let Some(judged) = judged {
                        ledger.insert(key(None), judged);
                    }
                }
                Scope::Occurrence => {
                    if let Some(judged) = judged {
                        ledger.insert(key(None), live(far_ahead));
                        ledger.insert(key(rid(8)), judged);
                    }
                }
                Scope::ViaSeries => {
                    ledger.insert(key(rid(15)), live(far_ahead));
                    if let Some(judged) = judged {
                        ledger.insert(key(None), judged);
                    }
                }
            }
            (message(method, vec![event]), ledger)
        }
    }

    /// One line per combination of the iTIP rules' table. Read it as: method, record judged against,
    /// version relation, scope => route, reason, status written (with the component's version).
    #[rustfmt::skip]
    fn table() -> Vec<(Row, Expected)> {
        use Reason::UnknownEvent;
        use RecordStatus::{Active, Cancelled, Tombstone};
        use Route::{Cancel, Create, Duplicate, Ignored, Stale, Update};
        let newer_seq = Rel::Newer(BySequence);
        let newer_stamp = Rel::Newer(ByDtstamp);
        vec![
            //  method   record     version      scope             route      reason              written
            // ---- REQUEST, without RECURRENCE-ID
            row(REQUEST, NONE,      NA,          SERIES)     .gives(Create,    None,               Some(Active)),
            row(REQUEST, ACTIVE,    OLDER,       SERIES)     .gives(Stale,     None,               None),
            row(REQUEST, ACTIVE,    SAME,        SERIES)     .gives(Duplicate, None,               None),
            row(REQUEST, ACTIVE,    newer_seq,   SERIES)     .gives(Update,    None,               Some(Active)),
            row(REQUEST, ACTIVE,    newer_stamp, SERIES)     .gives(Update,    None,               Some(Active)),
            row(REQUEST, CANCELLED, OLDER,       SERIES)     .gives(Stale,     None,               None),
            row(REQUEST, CANCELLED, SAME,        SERIES)     .gives(Duplicate, None,               None),
            row(REQUEST, CANCELLED, newer_seq,   SERIES)     .gives(Update,    None,               Some(Active)),
            row(REQUEST, CANCELLED, newer_stamp, SERIES)     .gives(Update,    None,               Some(Active)),
            row(REQUEST, TOMBSTONE, OLDER,       SERIES)     .gives(Stale,     None,               None),
            row(REQUEST, TOMBSTONE, SAME,        SERIES)     .gives(Duplicate, None,               None),
            row(REQUEST, TOMBSTONE, newer_seq,   SERIES)     .gives(Create,    None,               Some(Active)),
            row(REQUEST, TOMBSTONE, newer_stamp, SERIES)     .gives(Create,    None,               Some(Active)),
            // ---- REQUEST, with RECURRENCE-ID, own record
            row(REQUEST, NONE,      NA,          OCCURRENCE) .gives(Create,    None,               Some(Active)),
            row(REQUEST, ACTIVE,    OLDER,       OCCURRENCE) .gives(Stale,     None,               None),
            row(REQUEST, ACTIVE,    SAME,        OCCURRENCE) .gives(Duplicate, None,               None),
            row(REQUEST, ACTIVE,    newer_seq,   OCCURRENCE) .gives(Update,    None,               Some(Active)),
            row(REQUEST, ACTIVE,    newer_stamp, OCCURRENCE) .gives(Update,    None,               Some(Active)),
            row(REQUEST, CANCELLED, OLDER,       OCCURRENCE) .gives(Stale,     None,               None),
            row(REQUEST, CANCELLED, SAME,        OCCURRENCE) .gives(Duplicate, None,               None),
            row(REQUEST, CANCELLED, newer_seq,   OCCURRENCE) .gives(Update,    None,               Some(Active)),
            row(REQUEST, CANCELLED, newer_stamp, OCCURRENCE) .gives(Update,    None,               Some(Active)),
            row(REQUEST, TOMBSTONE, OLDER,       OCCURRENCE) .gives(Stale,     None,               None),
            row(REQUEST, TOMBSTONE, SAME,        OCCURRENCE) .gives(Duplicate, None,               None),
            row(REQUEST, TOMBSTONE, newer_seq,   OCCURRENCE) .gives(Create,    None,               Some(Active)),
            row(REQUEST, TOMBSTONE, newer_stamp, OCCURRENCE) .gives(Create,    None,               Some(Active)),
            // ---- REQUEST, with RECURRENCE-ID, judged against the series record
            row(REQUEST, NONE,      NA,          VIA_SERIES) .gives(Create,    None,               Some(Active)),
            row(REQUEST, ACTIVE,    OLDER,       VIA_SERIES) .gives(Stale,     None,               None),
            row(REQUEST, ACTIVE,    SAME,        VIA_SERIES) .gives(Duplicate, None,               None),
            row(REQUEST, ACTIVE,    newer_seq,   VIA_SERIES) .gives(Update,    None,               Some(Active)),
            row(REQUEST, ACTIVE,    newer_stamp, VIA_SERIES) .gives(Update,    None,               Some(Active)),
            row(REQUEST, CANCELLED, OLDER,       VIA_SERIES) .gives(Stale,     None,               None),
            row(REQUEST, CANCELLED, SAME,        VIA_SERIES) .gives(Duplicate, None,               None),
            row(REQUEST, CANCELLED, newer_seq,   VIA_SERIES) .gives(Update,    None,               Some(Active)),
            row(REQUEST, CANCELLED, newer_stamp, VIA_SERIES) .gives(Update,    None,               Some(Active)),
            row(REQUEST, TOMBSTONE, OLDER,       VIA_SERIES) .gives(Stale,     None,               None),
            row(REQUEST, TOMBSTONE, SAME,        VIA_SERIES) .gives(Duplicate, None,               None),
            row(REQUEST, TOMBSTONE, newer_seq,   VIA_SERIES) .gives(Create,    None,               Some(Active)),
            row(REQUEST, TOMBSTONE, newer_stamp, VIA_SERIES) .gives(Create,    None,               Some(Active)),
            // ---- CANCEL, without RECURRENCE-ID
            row(CANCEL,  NONE,      NA,          SERIES)     .gives(Ignored,   Some(UnknownEvent), Some(Tombstone)),
            row(CANCEL,  ACTIVE,    OLDER,       SERIES)     .gives(Stale,     None,               None),
            row(CANCEL,  ACTIVE,    SAME,        SERIES)     .gives(Duplicate, None,               None),
            row(CANCEL,  ACTIVE,    newer_seq,   SERIES)     .gives(Cancel,    None,               Some(Cancelled)),
            row(CANCEL,  ACTIVE,    newer_stamp, SERIES)     .gives(Cancel,    None,               Some(Cancelled)),
            row(CANCEL,  CANCELLED, OLDER,       SERIES)     .gives(Stale,     None,               None),
            row(CANCEL,  CANCELLED, SAME,        SERIES)     .gives(Duplicate, None,               None),
            row(CANCEL,  CANCELLED, newer_seq,   SERIES)     .gives(Duplicate, None,               Some(Cancelled)),
            row(CANCEL,  CANCELLED, newer_stamp, SERIES)     .gives(Duplicate, None,               Some(Cancelled)),
            row(CANCEL,  TOMBSTONE, OLDER,       SERIES)     .gives(Stale,     None,               None),
            row(CANCEL,  TOMBSTONE, SAME,        SERIES)     .gives(Duplicate, None,               None),
            row(CANCEL,  TOMBSTONE, newer_seq,   SERIES)     .gives(Ignored,   Some(UnknownEvent), Some(Tombstone)),
            row(CANCEL,  TOMBSTONE, newer_stamp, SERIES)     .gives(Ignored,   Some(UnknownEvent), Some(Tombstone)),
            // ---- CANCEL, with RECURRENCE-ID, own record
            row(CANCEL,  NONE,      NA,          OCCURRENCE) .gives(Ignored,   Some(UnknownEvent), Some(Tombstone)),
            row(CANCEL,  ACTIVE,    OLDER,       OCCURRENCE) .gives(Stale,     None,               None),
            row(CANCEL,  ACTIVE,    SAME,        OCCURRENCE) .gives(Duplicate, None,               None),
            row(CANCEL,  ACTIVE,    newer_seq,   OCCURRENCE) .gives(Cancel,    None,               Some(Cancelled)),
            row(CANCEL,  ACTIVE,    newer_stamp, OCCURRENCE) .gives(Cancel,    None,               Some(Cancelled)),
            row(CANCEL,  CANCELLED, OLDER,       OCCURRENCE) .gives(Stale,     None,               None),
            row(CANCEL,  CANCELLED, SAME,        OCCURRENCE) .gives(Duplicate, None,               None),
            row(CANCEL,  CANCELLED, newer_seq,   OCCURRENCE) .gives(Duplicate, None,               Some(Cancelled)),
            row(CANCEL,  CANCELLED, newer_stamp, OCCURRENCE) .gives(Duplicate, None,               Some(Cancelled)),
            row(CANCEL,  TOMBSTONE, OLDER,       OCCURRENCE) .gives(Stale,     None,               None),
            row(CANCEL,  TOMBSTONE, SAME,        OCCURRENCE) .gives(Duplicate, None,               None),
            row(CANCEL,  TOMBSTONE, newer_seq,   OCCURRENCE) .gives(Ignored,   Some(UnknownEvent), Some(Tombstone)),
            row(CANCEL,  TOMBSTONE, newer_stamp, OCCURRENCE) .gives(Ignored,   Some(UnknownEvent), Some(Tombstone)),
            // ---- CANCEL, with RECURRENCE-ID, judged against the series record
            row(CANCEL,  NONE,      NA,          VIA_SERIES) .gives(Ignored,   Some(UnknownEvent), Some(Tombstone)),
            row(CANCEL,  ACTIVE,    OLDER,       VIA_SERIES) .gives(Stale,     None,               None),
            row(CANCEL,  ACTIVE,    SAME,        VIA_SERIES) .gives(Duplicate, None,               None),
            row(CANCEL,  ACTIVE,    newer_seq,   VIA_SERIES) .gives(Cancel,    None,               Some(Cancelled)),
            row(CANCEL,  ACTIVE,    newer_stamp, VIA_SERIES) .gives(Cancel,    None,               Some(Cancelled)),
            row(CANCEL,  CANCELLED, OLDER,       VIA_SERIES) .gives(Stale,     None,               None),
            row(CANCEL,  CANCELLED, SAME,        VIA_SERIES) .gives(Duplicate, None,               None),
            row(CANCEL,  CANCELLED, newer_seq,   VIA_SERIES) .gives(Duplicate, None,               Some(Cancelled)),
            row(CANCEL,  CANCELLED, newer_stamp, VIA_SERIES) .gives(Duplicate, None,               Some(Cancelled)),
            row(CANCEL,  TOMBSTONE, OLDER,       VIA_SERIES) .gives(Stale,     None,               None),
            row(CANCEL,  TOMBSTONE, SAME,        VIA_SERIES) .gives(Duplicate, None,               None),
            row(CANCEL,  TOMBSTONE, newer_seq,   VIA_SERIES) .gives(Ignored,   Some(UnknownEvent), Some(Tombstone)),
            row(CANCEL,  TOMBSTONE, newer_stamp, VIA_SERIES) .gives(Ignored,   Some(UnknownEvent), Some(Tombstone)),
        ]
    }

    /// Every mismatch between `decision` and the expected row, in words.
    fn mismatches(row: Row, expected: Expected, decision: &Decision) -> Vec<String> {
        let (route, reason, written) = expected;
        let mut problems = Vec::new();
        let mut check = |what: &str, ok: bool, got: String| {
            if !ok {
                problems.push(format!("{row:?}: {what}: got {got}"));
            }
        };
        check(
            "route",
            decision.route == route,
            format!("{:?}, want {route:?}", decision.route),
        );
        check(
            "reason",
            decision.reason == reason,
            format!("{:?}, want {reason:?}", decision.reason),
        );
        check(
            "refusal",
            decision.refusal().is_none(),
            format!("{:?}, want none", decision.refusal()),
        );
        let [transition] = decision.transitions.as_slice() else {
            check(
                "transitions",
                false,
                format!("{:?}, want exactly one", decision.transitions),
            );
            return problems;
        };
        let want_key = key(row.component_rid());
        check(
            "key",
            transition.key == want_key,
            format!("{}, want {want_key}", transition.key),
        );
        check(
            "component",
            transition.component == 0,
            transition.component.to_string(),
        );
        check(
            "transition",
            transition.route == route && transition.reason == reason,
            format!("{:?}/{:?}", transition.route, transition.reason),
        );
        let got = transition.new_state.as_ref();
        let ok = match (got, written) {
            (None, None) => true,
            (Some(state), Some(status)) => {
                state.status == status
                    && state.version == row.component_version()
                    && state.organizer.as_deref() == Some(ALICE)
            }
            _ => false,
        };
        check(
            "written",
            ok,
            format!("{got:?}, want {written:?} at {:?}", row.component_version()),
        );
        problems
    }

    #[test]
    fn decision_table() {
        let mut problems = Vec::new();
        for (row, expected) in table() {
            let (message, ledger) = row.setup();
            problems.extend(mismatches(row, expected, &decide(&message, &ledger)));
        }
        assert!(
            problems.is_empty(),
            "{} mismatches:\n{}",
            problems.len(),
            problems.join("\n")
        );
    }

    /// The table holds every combination of method, record and version, each exactly once.
    #[test]
    fn decision_table_is_complete() {
        let rows: Vec<Row> = table().into_iter().map(|(row, _)| row).collect();
        let mut want = Vec::new();
        for method in [REQUEST, CANCEL] {
            for scope in [SERIES, OCCURRENCE, VIA_SERIES] {
                want.push(row(method, NONE, NA, scope));
                for record in [ACTIVE, CANCELLED, TOMBSTONE] {
                    for relation in [OLDER, SAME, Rel::Newer(BySequence), Rel::Newer(ByDtstamp)] {
                        want.push(row(method, record, relation, scope));
                    }
                }
            }
        }
        assert_eq!(want.len(), 78);
        for combination in &want {
            let count = rows.iter().filter(|row| *row == combination).count();
            assert_eq!(
                count, 1,
                "{combination:?} appears {count} times in the table"
            );
        }
        assert_eq!(
            rows.len(),
            want.len(),
            "the table has rows outside the combinations"
        );
    }

    // ---- the ownership dimension (docs/DESIGN.md "Sender trust") -------------------------------

    /// Who owns the UID: no owner item (a new UID, or a ledger written before owner items), the
    /// sender's organizer, or someone else.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Owner {
        Nobody,
        Alice,
        Bob,
    }

    /// How the ledger knows the UID: by its series record, only by one occurrence (rid 8), or not.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Known {
        ViaSeries,
        ViaOccurrenceOnly,
        Unknown,
    }

    /// Which component the message carries: the master, the known occurrence, another one.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Part {
        Master,
        Occurrence8,
        Occurrence15,
    }

    /// The route each (how known, method, component) takes when the UID is the sender's or has
    /// no owner; a UID owned by someone else refuses every one of them.
    #[rustfmt::skip]
    fn ownership_base() -> Vec<((Known, M, Part), Route)> {
        use Known::{Unknown, ViaOccurrenceOnly as OCC_ONLY, ViaSeries as BY_SERIES};
        use Part::{Master, Occurrence15 as RID15, Occurrence8 as RID8};
        vec![
            ((BY_SERIES, REQUEST, Master), Route::Update),
            ((BY_SERIES, REQUEST, RID8), Route::Update),
            ((BY_SERIES, REQUEST, RID15), Route::Update),
            ((BY_SERIES, CANCEL, Master), Route::Cancel),
            ((BY_SERIES, CANCEL, RID8), Route::Cancel),
            ((BY_SERIES, CANCEL, RID15), Route::Cancel),
            ((OCC_ONLY, REQUEST, Master), Route::Create),
            ((OCC_ONLY, REQUEST, RID8), Route::Update),
            ((OCC_ONLY, REQUEST, RID15), Route::Create),
            ((OCC_ONLY, CANCEL, Master), Route::Ignored),
            ((OCC_ONLY, CANCEL, RID8), Route::Cancel),
            ((OCC_ONLY, CANCEL, RID15), Route::Ignored),
            ((Unknown, REQUEST, Master), Route::Create),
            ((Unknown, REQUEST, RID8), Route::Create),
            ((Unknown, REQUEST, RID15), Route::Create),
            ((Unknown, CANCEL, Master), Route::Ignored),
            ((Unknown, CANCEL, RID8), Route::Ignored),
            ((Unknown, CANCEL, RID15), Route::Ignored),
        ]
    }

    fn ownership_case(
        owner: Owner,
        known: Known,
        method: M,
        part: Part,
    ) -> (CheckedMessage, BTreeMap<EventKey, RecordState>) {
        let owner_address = match owner {
            Owner::Nobody | Owner::Alice => ALICE,
            Owner::Bob => "bob@example.com",
        };
        let on_record = |at| record(RecordStatus::Active, at, Some(owner_address));
        let mut ledger = BTreeMap::new();
        if owner != Owner::Nobody {
            ledger.insert(EventKey::owner_of(UID), on_record(version(0, None)));
        }
        match known {
            Known::ViaSeries => {
                ledger.insert(key(None), on_record(version(1, Some(10))));
            }
            Known::ViaOccurrenceOnly => {
                ledger.insert(key(rid(8)), on_record(version(1, Some(10))));
            }
            Known::Unknown => {}
        }
        let recurrence_id = match part {
            Part::Master => None,
            Part::Occurrence8 => rid(8),
            Part::Occurrence15 => rid(15),
        };
        let method = match method {
            M::Request => Method::Request,
            M::Cancel => Method::Cancel,
        };
        let event = component(recurrence_id, version(2, Some(9)), Some(ALICE));
        (message(method, vec![event]), ledger)
    }

    #[test]
    fn ownership_table() {
        let mut problems = Vec::new();
        for ((known, method, part), base) in ownership_base() {
            for owner in [Owner::Nobody, Owner::Alice, Owner::Bob] {
                let (message, ledger) = ownership_case(owner, known, method, part);
                let decision = decide(&message, &ledger);
                let (route, claims) = match owner {
                    Owner::Bob => (Route::Invalid, None),
                    Owner::Alice => (base, None),
                    // The first message that makes an event of the UID claims it; an ignored
                    // CANCEL (a tombstone) does not.
                    Owner::Nobody => (base, (base != Route::Ignored).then(|| ALICE.to_owned())),
                };
                let reason = match route {
                    Route::Invalid => Some(Reason::SenderNotOrganizer),
                    Route::Ignored => Some(Reason::UnknownEvent),
                    _ => None,
                };
                if (decision.route, decision.reason, &decision.claims_owner)
                    != (route, reason, &claims)
                {
                    problems.push(format!(
                        "{owner:?} {known:?} {method:?} {part:?}: got {:?}/{:?} claims {:?}, \
                         want {route:?}/{reason:?} claims {claims:?}",
                        decision.route, decision.reason, decision.claims_owner
                    ));
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn ownership_table_is_complete() {
        let rows: Vec<(Known, M, Part)> =
            ownership_base().into_iter().map(|(row, _)| row).collect();
        let mut want = Vec::new();
        for known in [Known::ViaSeries, Known::ViaOccurrenceOnly, Known::Unknown] {
            for method in [REQUEST, CANCEL] {
                for part in [Part::Master, Part::Occurrence8, Part::Occurrence15] {
                    want.push((known, method, part));
                }
            }
        }
        for combination in &want {
            let count = rows.iter().filter(|row| *row == combination).count();
            assert_eq!(count, 1, "{combination:?} appears {count} times");
        }
        assert_eq!(rows.len(), want.len());
    }

    #[test]
    fn the_owner_compares_whatever_the_letter_case() {
        let (message, mut ledger) =
            ownership_case(Owner::Alice, Known::ViaSeries, REQUEST, Part::Master);
        ledger.insert(
            EventKey::owner_of(UID),
            record(
                RecordStatus::Active,
                version(0, None),
                Some("Alice@Example.COM"),
            ),
        );
        assert_eq!(decide(&message, &ledger).route, Route::Update);
    }

    // ---- ownership ----------------------------------------------------------------------------

    fn decide_one(
        method: Method,
        event: EventComponent,
        ledger: &[(EventKey, RecordState)],
    ) -> Decision {
        let ledger: BTreeMap<_, _> = ledger.iter().cloned().collect();
        decide(&message(method, vec![event]), &ledger)
    }

    #[test]
    fn a_record_owned_by_someone_else_refuses_whatever_the_version() {
        let mut problems = Vec::new();
        for method in [Method::Request, Method::Cancel] {
            for status in [RecordStatus::Active, RecordStatus::Cancelled] {
                // Own record, and an occurrence judged against its series.
                for (rid_component, rid_record) in [(None, None), (rid(8), rid(8)), (rid(8), None)]
                {
                    for at in [version(0, None), version(1, Some(10)), version(5, Some(12))] {
                        let owned = record(status, version(1, Some(10)), Some("bob@example.com"));
                        let decision = decide_one(
                            method.clone(),
                            component(rid_component, at, Some(ALICE)),
                            &[(key(rid_record), owned)],
                        );
                        if decision != Decision::refused(Reason::SenderNotOrganizer) {
                            problems.push(format!(
                                "{method} {status:?} {rid_component:?}/{rid_record:?} {at:?}: {decision:?}"
                            ));
                        }
                    }
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
        // And the sender is told.
        assert_eq!(
            Decision::refused(Reason::SenderNotOrganizer).refusal(),
            Some(Reason::SenderNotOrganizer)
        );
    }

    #[test]
    fn the_organizer_on_record_matches_whatever_the_letter_case() {
        let decision = decide_one(
            Method::Request,
            component(None, version(2, None), Some("Alice@Example.COM")),
            &[(
                key(None),
                record(
                    RecordStatus::Active,
                    version(1, None),
                    Some("ALICE@example.com"),
                ),
            )],
        );
        assert_eq!(decision.route, Route::Update);
        assert_eq!(decision.reason, None);
        let written = decision
            .transitions
            .first()
            .and_then(|t| t.new_state.clone());
        // Recorded lower-case, whatever the client wrote.
        assert_eq!(
            written.and_then(|state| state.organizer),
            Some(ALICE.to_owned())
        );
    }

    #[test]
    fn non_ascii_addresses_compare_case_insensitively() {
        let decision = decide_one(
            Method::Cancel,
            component(None, version(2, None), Some("JÖRG@EXAMPLE.DE")),
            &[(
                key(None),
                record(
                    RecordStatus::Active,
                    version(1, None),
                    Some("jörg@example.de"),
                ),
            )],
        );
        assert_eq!(decision.route, Route::Cancel);
    }

    #[test]
    fn a_strangers_tombstone_does_not_block_the_real_organizer() {
        // Mallory cancels a UID first, with a huge SEQUENCE.
        let strangers = record(
            RecordStatus::Tombstone,
            version(999, Some(23)),
            Some("mallory@evil.example"),
        );
        let request = decide_one(
            Method::Request,
            component(None, version(0, Some(9)), Some(ALICE)),
            &[(key(None), strangers.clone())],
        );
        assert_eq!(request.route, Route::Create);
        let written = request
            .transitions
            .first()
            .and_then(|t| t.new_state.clone());
        assert_eq!(
            written,
            Some(record(
                RecordStatus::Active,
                version(0, Some(9)),
                Some(ALICE)
            ))
        );

        // Alice's own CANCEL replaces Mallory's tombstone with hers.
        let cancel = decide_one(
            Method::Cancel,
            component(None, version(0, Some(9)), Some(ALICE)),
            &[(key(None), strangers.clone())],
        );
        assert_eq!(cancel.route, Route::Ignored);
        assert_eq!(cancel.reason, Some(Reason::UnknownEvent));
        assert!(!cancel.refusal().is_some_and(Reason::notify_sender));
        let written = cancel.transitions.first().and_then(|t| t.new_state.clone());
        assert_eq!(
            written,
            Some(record(
                RecordStatus::Tombstone,
                version(0, Some(9)),
                Some(ALICE)
            ))
        );

        // On an occurrence's own key, a stranger's tombstone falls through to the series.
        let occurrence = decide_one(
            Method::Request,
            component(rid(8), version(2, None), Some(ALICE)),
            &[
                (key(rid(8)), strangers),
                (
                    key(None),
                    record(RecordStatus::Active, version(1, None), Some(ALICE)),
                ),
            ],
        );
        assert_eq!(occurrence.route, Route::Update);
    }

    #[test]
    fn the_organizers_own_tombstone_still_holds() {
        let own = record(
            RecordStatus::Tombstone,
            version(3, None),
            Some("ALICE@example.com"),
        );
        let decision = decide_one(
            Method::Request,
            component(None, version(2, None), Some(ALICE)),
            &[(key(None), own)],
        );
        assert_eq!(decision.route, Route::Stale);
        assert!(decision.transitions.iter().all(|t| t.new_state.is_none()));
    }

    #[test]
    fn an_unknown_organizer_on_record_is_not_a_mismatch() {
        let decision = decide_one(
            Method::Request,
            component(None, version(2, None), Some(ALICE)),
            &[(
                key(None),
                record(RecordStatus::Active, version(1, None), None),
            )],
        );
        assert_eq!(decision.route, Route::Update);
        let written = decision
            .transitions
            .first()
            .and_then(|t| t.new_state.clone());
        assert_eq!(
            written.and_then(|state| state.organizer),
            Some(ALICE.to_owned())
        );
    }

    // ---- multi-component messages -------------------------------------------------------------

    fn routes(decision: &Decision) -> Vec<(Route, Option<String>, Option<RecordStatus>)> {
        decision
            .transitions
            .iter()
            .map(|t| {
                (
                    t.route,
                    t.key.recurrence_id().map(str::to_owned),
                    t.new_state.as_ref().map(|state| state.status),
                )
            })
            .collect()
    }

    fn rid_text(day: u32) -> Option<String> {
        rid(day).map(|rid| rid.to_string())
    }

    #[test]
    fn a_new_series_with_exceptions_creates_every_component() {
        let at = version(0, Some(9));
        let analysis = message(
            Method::Request,
            vec![
                component(None, at, Some(ALICE)),
                component(rid(8), at, Some(ALICE)),
                component(rid(15), at, Some(ALICE)),
            ],
        );
        let decision = decide(&analysis, &BTreeMap::new());
        assert_eq!((decision.route, decision.reason), (Route::Create, None));
        assert!(!decision.refusal().is_some_and(Reason::notify_sender));
        assert_eq!(
            routes(&decision),
            vec![
                (Route::Create, None, Some(RecordStatus::Active)),
                (Route::Create, rid_text(8), Some(RecordStatus::Active)),
                (Route::Create, rid_text(15), Some(RecordStatus::Active)),
            ]
        );
        let components: Vec<usize> = decision.transitions.iter().map(|t| t.component).collect();
        assert_eq!(components, vec![0, 1, 2]);
    }

    #[test]
    fn the_message_route_is_the_first_component_that_publishes() {
        // The master is re-sent unchanged; one occurrence moved (newer DTSTAMP).
        let ledger: BTreeMap<_, _> = [
            (
                key(None),
                record(RecordStatus::Active, version(1, Some(9)), Some(ALICE)),
            ),
            (
                key(rid(8)),
                record(RecordStatus::Active, version(1, Some(9)), Some(ALICE)),
            ),
        ]
        .into_iter()
        .collect();
        let analysis = message(
            Method::Request,
            vec![
                component(None, version(1, Some(9)), Some(ALICE)),
                component(rid(8), version(1, Some(11)), Some(ALICE)),
            ],
        );
        let decision = decide(&analysis, &ledger);
        assert_eq!(decision.route, Route::Update);
        assert_eq!(
            routes(&decision),
            vec![
                (Route::Duplicate, None, None),
                (Route::Update, rid_text(8), Some(RecordStatus::Active)),
            ]
        );
    }

    #[test]
    fn when_nothing_publishes_the_master_speaks_for_the_message() {
        // The exception comes first and is a duplicate; the master (second) is stale.
        let ledger: BTreeMap<_, _> = [
            (
                key(None),
                record(RecordStatus::Active, version(3, None), Some(ALICE)),
            ),
            (
                key(rid(8)),
                record(RecordStatus::Active, version(2, None), Some(ALICE)),
            ),
        ]
        .into_iter()
        .collect();
        let analysis = message(
            Method::Request,
            vec![
                component(rid(8), version(2, None), Some(ALICE)),
                component(None, version(2, None), Some(ALICE)),
            ],
        );
        let decision = decide(&analysis, &ledger);
        assert_eq!((decision.route, decision.reason), (Route::Stale, None));
        assert_eq!(
            routes(&decision),
            vec![
                (Route::Duplicate, rid_text(8), None),
                (Route::Stale, None, None)
            ]
        );
    }

    #[test]
    fn without_a_master_the_first_component_speaks_for_the_message() {
        let ledger: BTreeMap<_, _> = [
            (
                key(rid(8)),
                record(RecordStatus::Active, version(2, None), Some(ALICE)),
            ),
            (
                key(rid(15)),
                record(RecordStatus::Active, version(1, None), Some(ALICE)),
            ),
        ]
        .into_iter()
        .collect();
        let analysis = message(
            Method::Request,
            vec![
                component(rid(8), version(1, None), Some(ALICE)),
                component(rid(15), version(1, None), Some(ALICE)),
            ],
        );
        let decision = decide(&analysis, &ledger);
        assert_eq!(decision.route, Route::Stale);
        assert_eq!(
            routes(&decision),
            vec![
                (Route::Stale, rid_text(8), None),
                (Route::Duplicate, rid_text(15), None)
            ]
        );
    }

    #[test]
    fn an_ignored_cancel_carries_unknown_event_and_tells_nobody() {
        let analysis = message(
            Method::Cancel,
            vec![
                component(rid(8), version(1, None), Some(ALICE)),
                component(rid(15), version(1, None), Some(ALICE)),
            ],
        );
        let decision = decide(&analysis, &BTreeMap::new());
        assert_eq!(decision.route, Route::Ignored);
        assert_eq!(decision.reason, Some(Reason::UnknownEvent));
        assert!(!decision.refusal().is_some_and(Reason::notify_sender));
        assert_eq!(
            routes(&decision),
            vec![
                (Route::Ignored, rid_text(8), Some(RecordStatus::Tombstone)),
                (Route::Ignored, rid_text(15), Some(RecordStatus::Tombstone)),
            ]
        );
    }

    #[test]
    fn one_component_owned_by_someone_else_refuses_the_whole_message() {
        // Master and first exception are fine updates; the second exception's own record
        // belongs to Bob.
        let ledger: BTreeMap<_, _> = [
            (
                key(None),
                record(RecordStatus::Active, version(1, None), Some(ALICE)),
            ),
            (
                key(rid(15)),
                record(
                    RecordStatus::Active,
                    version(1, None),
                    Some("bob@example.com"),
                ),
            ),
        ]
        .into_iter()
        .collect();
        let analysis = message(
            Method::Request,
            vec![
                component(None, version(2, None), Some(ALICE)),
                component(rid(8), version(2, None), Some(ALICE)),
                component(rid(15), version(2, None), Some(ALICE)),
            ],
        );
        let decision = decide(&analysis, &ledger);
        assert_eq!(decision, Decision::refused(Reason::SenderNotOrganizer));
        assert_eq!(decision.route, Route::Invalid);
        assert!(decision.refusal().is_some_and(Reason::notify_sender));
        assert!(decision.transitions.is_empty());
    }

    #[test]
    fn a_series_cancel_writes_only_the_series_key() {
        let ledger: BTreeMap<_, _> = [
            (
                key(None),
                record(RecordStatus::Active, version(1, None), Some(ALICE)),
            ),
            (
                key(rid(8)),
                record(RecordStatus::Active, version(1, None), Some(ALICE)),
            ),
        ]
        .into_iter()
        .collect();
        let analysis = message(
            Method::Cancel,
            vec![component(None, version(2, None), Some(ALICE))],
        );
        let decision = decide(&analysis, &ledger);
        assert_eq!(decision.route, Route::Cancel);
        assert_eq!(
            routes(&decision),
            vec![(Route::Cancel, None, Some(RecordStatus::Cancelled))]
        );
    }

    #[test]
    fn an_occurrence_cancel_leaves_the_series_alive() {
        let series = record(RecordStatus::Active, version(1, None), Some(ALICE));
        let decision = decide_one(
            Method::Cancel,
            component(rid(8), version(2, None), Some(ALICE)),
            &[(key(None), series)],
        );
        assert_eq!(decision.route, Route::Cancel);
        assert_eq!(
            routes(&decision),
            vec![(Route::Cancel, rid_text(8), Some(RecordStatus::Cancelled))]
        );
    }

    // ---- versions -----------------------------------------------------------------------------

    #[test]
    fn a_missing_dtstamp_sorts_before_any_present_one() {
        let cases = [
            // (component, record) => route
            (version(1, None), version(1, Some(10)), Route::Stale),
            (version(1, Some(10)), version(1, None), Route::Update),
            (version(1, None), version(1, None), Route::Duplicate),
            (version(2, None), version(1, Some(23)), Route::Update),
            (version(0, Some(23)), version(1, None), Route::Stale),
        ];
        for (at, on_record, want) in cases {
            let decision = decide_one(
                Method::Request,
                component(None, at, Some(ALICE)),
                &[(
                    key(None),
                    record(RecordStatus::Active, on_record, Some(ALICE)),
                )],
            );
            assert_eq!(
                decision.route, want,
                "component {at:?} against record {on_record:?}"
            );
        }
    }

    // ---- refusals ------------------------------------------------------------------------------

    // ---- properties ---------------------------------------------------------------------------

    const ORGANIZERS: [Option<&str>; 4] = [
        None,
        Some(ALICE),
        Some("ALICE@Example.com"),
        Some("bob@example.com"),
    ];

    fn any_version() -> impl Strategy<Value = Version> {
        (0u32..4, prop::option::of(8u32..11)).prop_map(|(sequence, hour)| version(sequence, hour))
    }

    fn any_rid() -> impl Strategy<Value = Option<EventTime>> {
        prop_oneof![Just(None), Just(rid(8)), Just(rid(15))]
    }

    fn any_organizer() -> impl Strategy<Value = Option<&'static str>> {
        prop::sample::select(ORGANIZERS.to_vec())
    }

    fn any_component() -> impl Strategy<Value = EventComponent> {
        (any_rid(), any_version(), any_organizer(), 0u8..20).prop_map(
            |(recurrence_id, at, organizer, uid)| {
                let mut event = component(recurrence_id, at, organizer);
                // Mostly the shared UID; now and then a missing or foreign one.
                event.uid = match uid {
                    0 => None,
                    1 => Some("another@example.com".to_owned()),
                    _ => event.uid,
                };
                event
            },
        )
    }

    fn any_record() -> impl Strategy<Value = RecordState> {
        (
            prop::sample::select(vec![
                RecordStatus::Active,
                RecordStatus::Cancelled,
                RecordStatus::Tombstone,
            ]),
            any_version(),
            any_organizer(),
        )
            .prop_map(|(status, at, organizer)| record(status, at, organizer))
    }

    fn any_ledger() -> impl Strategy<Value = BTreeMap<EventKey, RecordState>> {
        (
            prop::option::of(any_record()),
            prop::option::of(any_record()),
            prop::option::of(any_record()),
        )
            .prop_map(|(series, first, second)| {
                [
                    (key(None), series),
                    (key(rid(8)), first),
                    (key(rid(15)), second),
                ]
                .into_iter()
                .filter_map(|(key, record)| record.map(|record| (key, record)))
                .collect()
            })
    }

    /// Messages as the check lets them through: generated freely (missing or foreign UIDs, no
    /// METHOD, repeated keys) and kept only when `CheckedMessage::new` accepts them, so the rules
    /// see exactly the messages they can be handed.
    fn any_message() -> impl Strategy<Value = CheckedMessage> {
        (0u8..10, prop::collection::vec(any_component(), 0..4)).prop_filter_map(
            "refused by the structural checks",
            |(method, events)| {
                let method = match method {
                    0 => Some(Method::Other("PUBLISH".to_owned())),
                    9 => None,
                    1..=4 => Some(Method::Request),
                    _ => Some(Method::Cancel),
                };
                CheckedMessage::new(method, events).ok()
            },
        )
    }

    /// The record a component must be newer than to publish, computed independently of
    /// `decide`: its own record, else its series', skipping tombstones of another organizer.
    fn judged_against<'a>(
        event: &EventComponent,
        ledger: &'a BTreeMap<EventKey, RecordState>,
    ) -> Option<&'a RecordState> {
        let mine = event
            .organizer
            .as_ref()
            .map(|organizer| organizer.address.to_lowercase());
        let counts = |record: &&RecordState| {
            let theirs = record
                .organizer
                .as_ref()
                .map(|address| address.to_lowercase());
            let stranger = matches!((&theirs, &mine), (Some(a), Some(b)) if a != b);
            !(record.status == RecordStatus::Tombstone && stranger)
        };
        let uid = event.uid.as_deref().unwrap_or_default();
        let own = ledger
            .get(&EventKey::new(uid, event.recurrence_id.as_ref()))
            .filter(counts);
        match (own, event.recurrence_id) {
            (Some(own), _) => Some(own),
            (None, Some(_)) => ledger.get(&EventKey::new(uid, None)).filter(counts),
            (None, None) => None,
        }
    }

    proptest! {
        // No regression files: the interesting cases are promoted to the named tests above.
        #![proptest_config(ProptestConfig {
            cases: 4096,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn decide_never_publishes_or_writes_what_is_not_newer(
            message in any_message(),
            ledger in any_ledger(),
        ) {
            let decision = decide(&message, &ledger);

            if decision.route == Route::Invalid {
                // Refused: nothing is written or published, and the reason says why.
                prop_assert!(decision.transitions.is_empty());
                prop_assert!(decision.reason.is_some());
                return Ok(());
            }
            prop_assert!(!decision.refusal().is_some_and(Reason::notify_sender));
            prop_assert_eq!(decision.transitions.len(), message.events().len());
            let publishes: Vec<&Transition> = decision
                .transitions
                .iter()
                .filter(|t| t.route.topic().is_some())
                .collect();
            match publishes.first() {
                Some(first) => prop_assert_eq!(decision.route, first.route),
                None => prop_assert!(decision.route.topic().is_none()),
            }

            for (index, transition) in decision.transitions.iter().enumerate() {
                let event = &message.events()[index];
                prop_assert_eq!(transition.component, index);
                // Every component shares one UID, so an accepted message has one.
                let uid = event.uid.as_deref().unwrap_or_default();
                prop_assert_eq!(&transition.key, &EventKey::new(uid, event.recurrence_id.as_ref()));
                prop_assert!(transition.route != Route::Invalid);
                // A write only ever records what this component says.
                if let Some(state) = &transition.new_state {
                    prop_assert_eq!(state.version, event.version());
                }
                // A live record of this very key is never overwritten by something not newer.
                if let (Some(state), Some(own)) = (&transition.new_state, ledger.get(&transition.key))
                    && own.status != RecordStatus::Tombstone
                {
                    prop_assert!(state.version > own.version, "{:?} over {:?}", state, own);
                }
                // Nothing older than or equal to the record it was judged against is published.
                if transition.route.topic().is_some()
                    && let Some(against) = judged_against(event, &ledger)
                {
                    prop_assert!(
                        event.version() > against.version,
                        "{:?} published {:?} against {:?}",
                        transition.route,
                        event.version(),
                        against
                    );
                }
            }
        }
    }
}
