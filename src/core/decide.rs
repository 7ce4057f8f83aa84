//! The iTIP rule table (RFC 5546, DESIGN.md "iTIP rules"): an analysed message and the ledger
//! state the service read for it in, one [`Decision`] out.
//!
//! Pure: no clock, no I/O. Every component of the message is judged on its own against the record
//! for its (UID, RECURRENCE-ID); the message is then accepted or refused as a whole.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use super::model::{
    Analysis, Decision, EventComponent, EventKey, Method, Reason, RecordState, RecordStatus, Route,
    Transition,
};

/// The two methods the rules act on. Everything else was refused before the ledger was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Request,
    Cancel,
}

/// Decides what one analysed message does, given the ledger state for every key it touches.
///
/// `ledger` holds the current record for each component key (uid, recurrence_id) and, for
/// occurrences, for the series key (uid, None). A key absent from the map has no record.
pub fn decide(analysis: &Analysis, ledger: &BTreeMap<EventKey, RecordState>) -> Decision {
    // A message refused on its own merits never reaches the ledger rules.
    if let Err(reason) = analysis.verdict {
        return Decision::refused(reason);
    }
    // The analysis guarantees what follows; if it is ever violated, refuse with the reason the
    // analysis should have given rather than guess (or panic) on a message we do not understand.
    let action = match &analysis.method {
        Some(Method::Request) => Action::Request,
        Some(Method::Cancel) => Action::Cancel,
        Some(Method::Other(_)) => return Decision::refused(Reason::UnsupportedMethod),
        None => return Decision::refused(Reason::MissingMethod),
    };
    let uid = match common_uid(&analysis.events) {
        Ok(uid) => uid,
        Err(reason) => return Decision::refused(reason),
    };

    let mut keys = BTreeSet::new();
    let mut transitions = Vec::with_capacity(analysis.events.len());
    for (index, event) in analysis.events.iter().enumerate() {
        let key = EventKey::new(uid, event.recurrence_id.as_ref());
        // Two components for one (UID, RECURRENCE-ID) would be two writes conditioned on the same
        // read: the second always loses its condition and the message would be retried forever.
        // RFC 5545 forbids it, so it is a malformed calendar.
        if !keys.insert(key.clone()) {
            return Decision::refused(Reason::MalformedCalendar);
        }
        let transition = judge(action, index, key, event, ledger);
        // A message is accepted or refused as a whole: one component the sender does not own
        // refuses all of it, so nothing is written or published for the others either.
        if transition.route == Route::Invalid {
            return Decision::refused(Reason::SenderNotOrganizer);
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
                .find(|transition| transition.key.recurrence_id.is_none())
        })
        .or_else(|| transitions.first());
    match chosen {
        Some(chosen) => Decision {
            route: chosen.route,
            reason: chosen.reason,
            // Only refusals are answered; an ignored CANCEL is not the sender's mistake to fix.
            notify_sender: false,
            transitions,
        },
        // No VEVENT at all (common_uid refuses that already; kept total rather than panicking).
        None => Decision::refused(Reason::MalformedCalendar),
    }
}

/// The one UID every component shares (RFC 5546: one iTIP message, one UID).
fn common_uid(events: &[EventComponent]) -> Result<&str, Reason> {
    let mut uid: Option<&str> = None;
    for event in events {
        let Some(this) = event.uid.as_deref() else {
            return Err(Reason::MissingUid);
        };
        match uid {
            None => uid = Some(this),
            // UIDs are compared exactly: RFC 5545 gives them no case folding.
            Some(first) if first != this => return Err(Reason::MultipleUids),
            Some(_) => {}
        }
    }
    // A message with no VEVENT is the analysis' `malformed_calendar`.
    uid.ok_or(Reason::MalformedCalendar)
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
    let (record, via_series) = match own {
        Some(record) => (Some(record), false),
        None if key.recurrence_id.is_some() => (ledger.get(&key.series()).filter(usable), true),
        None => (None, false),
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
        return outcome.no_write(Route::Invalid, Some(Reason::SenderNotOrganizer));
    }

    match event.version().cmp(&record.version) {
        // Older than what we hold: publishing it would undo a newer change.
        Ordering::Less => outcome.no_write(Route::Stale, None),
        // Already handled (a retry, or the same invite sent twice).
        Ordering::Equal => outcome.no_write(Route::Duplicate, None),
        Ordering::Greater => newer(action, record.status, via_series, outcome),
    }
}

/// The rules for a component newer than the record it is judged against (`status`).
fn newer(
    action: Action,
    status: RecordStatus,
    via_series: bool,
    outcome: Outcome<'_>,
) -> Transition {
    match (action, status) {
        // A newer REQUEST changes a live event, or revives a cancelled one (DESIGN.md: that is
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
        // Cancelling an occurrence of a series already cancelled: subscribers already know.
        (Action::Cancel, RecordStatus::Cancelled) if via_series => {
            outcome.no_write(Route::Duplicate, None)
        }
        // Cancelled already, so nothing to publish; but remember the newer version so that a
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
