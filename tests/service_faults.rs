//! The ledger invariants of docs/DESIGN.md "The ledger's items" under faults, with in-memory ports:
//! - no accepted transition is lost, whatever call fails and wherever the process dies;
//! - a retry republishes with the same `dedupe_id` rather than inventing a new transition;
//! - nothing older than the record is ever published;
//! - two workers racing on one event cannot both win.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use invite_router::core::model::{EventKey, Method, Reason, Route, Topic, Version};
use invite_router::ports::{Classified, ErrorKind};
use invite_router::ports::{
    CommitOutcome, Ledger, LedgerWrite, MailSource, PortError, RevisionCheck, SetAsideEntry,
    StoredRecord,
};
use invite_router::service::{BatchRecord, Outcome, ServiceError};
use serde_json::Value;
use support::analyses::{cancel, component, message, occurrence, refused, request};
use support::fakes::{FaultMode, PublishedMessage, ThrottledFor, World};

const ALICE: &str = "alice@example.com";
const MALLORY: &str = "mallory@evil.example";

fn source(key: &str) -> MailSource {
    MailSource {
        bucket: Some("mail".into()),
        key: key.into(),
    }
}

/// An invite's whole life, in delivery order, with what each email must end as.
fn life_cycle(world: &World) -> Vec<(&'static str, Route)> {
    world.put("create", request("evt-1", 0, 8, ALICE, "<m1@example.com>"));
    world.put("update", request("evt-1", 1, 9, ALICE, "<m2@example.com>"));
    // The first invite again, delivered late: older than the record.
    world.put(
        "late-copy",
        request("evt-1", 0, 8, ALICE, "<m1@example.com>"),
    );
    world.put(
        "spoofed-cancel",
        cancel("evt-1", 5, 10, MALLORY, "<m3@evil.example>"),
    );
    world.put(
        "cancel-occurrence",
        message(
            Method::Cancel,
            ALICE,
            "<m4@example.com>",
            vec![occurrence(component("evt-1", 2, 11, ALICE), 8)],
        ),
    );
    world.put("cancel", cancel("evt-1", 3, 12, ALICE, "<m5@example.com>"));
    world.put(
        "no-calendar",
        refused(Reason::NoCalendar, "bob@example.com", "<m6@example.com>"),
    );
    world.put(
        "spam",
        refused(Reason::Spam, "spammer@example.net", "<m7@example.net>"),
    );
    world.put(
        "other-event",
        request("evt-2", 0, 8, ALICE, "<m8@example.com>"),
    );
    vec![
        ("create", Route::Create),
        ("update", Route::Update),
        ("late-copy", Route::Stale),
        ("spoofed-cancel", Route::Invalid),
        ("cancel-occurrence", Route::Cancel),
        ("cancel", Route::Cancel),
        ("no-calendar", Route::Invalid),
        ("spam", Route::Invalid),
        ("other-event", Route::Create),
    ]
}

/// Processes each email as SQS would deliver it: retried after every transient failure.
async fn run_with_retries(world: &World, emails: &[(&'static str, Route)]) -> Vec<Outcome> {
    let service = world.service();
    let mut outcomes = Vec::new();
    for (key, _) in emails {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match service.process_source(&source(key)).await {
                Ok(outcome) => {
                    outcomes.push(outcome);
                    break;
                }
                Err(error) => {
                    assert_eq!(error.kind(), ErrorKind::Transient, "{key}: {error}");
                    assert!(attempts < 5, "{key} never succeeded: {error}");
                }
            }
        }
    }
    outcomes
}

fn version_of(message: &Value) -> Version {
    let event = &message["event"];
    Version {
        sequence: event["sequence"].as_u64().unwrap() as u32,
        dtstamp: event["dtstamp"].as_str().map(|text| text.parse().unwrap()),
    }
}

/// Nothing older than what was already published for the same (UID, RECURRENCE-ID).
fn assert_never_stale(published: &[PublishedMessage]) {
    let mut newest: BTreeMap<(String, Option<String>), Version> = BTreeMap::new();
    for message in published.iter().filter(|m| m.topic != Topic::Rejected) {
        let body: Value = serde_json::from_str(&message.body).unwrap();
        let key = (
            body["event"]["uid"].as_str().unwrap().to_owned(),
            body["event"]["recurrence_id"].as_str().map(str::to_owned),
        );
        let version = version_of(&body);
        if let Some(previous) = newest.get(&key) {
            assert!(
                version >= *previous,
                "published {version:?} after {previous:?} for {key:?}"
            );
        }
        newest.insert(key, version);
    }
}

/// Same dedupe id, same body: a republication never invents a new transition.
fn distinct_messages(published: &[PublishedMessage]) -> BTreeMap<String, (Topic, String)> {
    let mut by_id: BTreeMap<String, (Topic, String)> = BTreeMap::new();
    for message in published {
        let entry = by_id
            .entry(message.dedupe_id.clone())
            .or_insert_with(|| (message.topic, message.body.clone()));
        assert_eq!(
            entry,
            &(message.topic, message.body.clone()),
            "two different messages share dedupe id {}",
            message.dedupe_id
        );
    }
    by_id
}

#[tokio::test]
async fn a_clean_life_cycle_routes_every_email() {
    let world = World::default();
    let emails = life_cycle(&world);
    let outcomes = run_with_retries(&world, &emails).await;
    let routes: Vec<Route> = outcomes.iter().map(|o| o.route).collect();
    let expected: Vec<Route> = emails.iter().map(|(_, route)| *route).collect();
    assert_eq!(routes, expected);

    assert_eq!(outcomes[3].reason, Some(Reason::SenderNotOrganizer));
    assert!(
        outcomes[3].notify_sender(),
        "the spoofer is told (they authenticated)"
    );
    assert!(outcomes[6].notify_sender());
    assert!(!outcomes[7].notify_sender(), "spam is never answered");
    assert_eq!(
        outcomes[4].recurrence_id.as_deref(),
        Some("2026-12-08T15:00:00Z")
    );

    let published = world.published();
    let topics: Vec<Topic> = published.iter().map(|m| m.topic).collect();
    assert_eq!(
        topics,
        vec![
            Topic::Create,
            Topic::Update,
            Topic::Rejected,
            Topic::Cancel,
            Topic::Cancel,
            Topic::Rejected,
            Topic::Create
        ]
    );
    let attributes = &published[1].attributes;
    assert!(attributes.contains(&("route".into(), "update".into())));
    assert!(attributes.contains(&("method".into(), "REQUEST".into())));
    assert!(attributes.iter().any(|(name, _)| name == "uid"));
    let rejected: Value = serde_json::from_str(&published[2].body).unwrap();
    assert_eq!(rejected["sender"], MALLORY);
    assert_eq!(rejected["reason"], "sender_not_organizer");
    assert_never_stale(&published);

    let records = world.records();
    let series = &records[&EventKey::new("evt-1", None)];
    assert_eq!(series.state.version.sequence, 3);
    assert_eq!(format!("{:?}", series.state.status), "Cancelled");
    assert_eq!(series.revision, 3, "create, update, cancel");
    assert_eq!(series.last_source_key.as_deref(), Some("cancel"));
    assert!(records.values().all(|record| record.outbox.is_none()));
    let (owners, events): (Vec<_>, Vec<_>) = records
        .values()
        .partition(|record| record.key.is_owner_item());
    assert_eq!(events.len(), 3, "series, one occurrence, the other event");
    assert_eq!(owners.len(), 2, "one owner item per UID");
    assert!(
        owners
            .iter()
            .all(|owner| owner.state.organizer.as_deref() == Some(ALICE)),
        "{owners:?}"
    );
}

#[tokio::test]
async fn processing_the_same_emails_again_publishes_nothing_new() {
    let world = World::default();
    let emails = life_cycle(&world);
    run_with_retries(&world, &emails).await;
    let first = world.published();
    let records = world.records();
    let again = run_with_retries(&world, &emails).await;
    for outcome in &again {
        assert!(
            matches!(
                outcome.route,
                Route::Duplicate | Route::Stale | Route::Invalid
            ),
            "{:?} on the second pass",
            outcome
        );
    }
    assert_eq!(world.records(), records, "the ledger did not change");
    // Rejections are republished with the same ids (the topic or the JSONL publisher drops them).
    let second: Vec<_> = world.published()[first.len()..].to_vec();
    assert!(second.iter().all(|m| m.topic == Topic::Rejected));
    let first_ids: BTreeSet<_> = first.iter().map(|m| m.dedupe_id.clone()).collect();
    assert!(second.iter().all(|m| first_ids.contains(&m.dedupe_id)));
}

/// The heart of it: fail every port call of the life cycle in turn, both before and after its
/// effect, and check that the retried run ends exactly where the clean run ended.
/// What a run with faults must still end with: the clean run's ledger, the clean run's messages
/// (repeats allowed, with byte-identical bodies), nothing stale, and the same routes.
fn assert_like_clean(
    world: &World,
    outcomes: &[Outcome],
    clean: &World,
    clean_outcomes: &[Outcome],
    context: &str,
) {
    assert_eq!(
        world.records(),
        clean.records(),
        "ledger differs: {context}"
    );
    let published = world.published();
    let clean_messages = distinct_messages(&clean.published());
    let ids = |messages: &BTreeMap<String, (Topic, String)>| {
        messages
            .iter()
            .map(|(id, (topic, _))| (id.clone(), *topic))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(&distinct_messages(&published)),
        ids(&clean_messages),
        "published transitions differ: {context}"
    );
    assert_eq!(
        distinct_messages(&published),
        clean_messages,
        "published messages differ: {context}"
    );
    assert_never_stale(&published);
    for (outcome, clean_outcome) in outcomes.iter().zip(clean_outcomes) {
        // A retry whose earlier attempt published and cleared its own transition finds
        // nothing left to do: it reports a duplicate of itself.
        let same = outcome.route == clean_outcome.route
            || (outcome.route == Route::Duplicate && clean_outcome.route.topic().is_some());
        assert!(
            same,
            "{}: {:?} instead of {:?}: {context}",
            outcome.source.key, outcome.route, clean_outcome.route
        );
    }
}

#[tokio::test]
async fn no_fault_anywhere_loses_a_transition_or_publishes_stale() {
    let clean = World::default();
    let emails = life_cycle(&clean);
    let clean_outcomes = run_with_retries(&clean, &emails).await;
    let total_calls = clean.faults.calls();
    assert!(
        total_calls > 30,
        "the life cycle makes {total_calls} port calls"
    );

    let mut exercised = BTreeSet::new();
    for n in 1..=total_calls {
        for mode in [FaultMode::Before, FaultMode::After] {
            let world = World::default();
            life_cycle(&world);
            world.faults.fail_call(n, mode);
            let outcomes = run_with_retries(&world, &emails).await;
            let failed_operation = world.faults.log()[n - 1];
            exercised.insert((failed_operation, format!("{mode:?}")));
            let context = format!("call {n} ({failed_operation}) failing {mode:?}");
            assert_like_clean(&world, &outcomes, &clean, &clean_outcomes, &context);
        }
    }
    for operation in ["fetch", "read", "commit", "publish", "clear_outbox"] {
        for mode in ["Before", "After"] {
            assert!(
                exercised.contains(&(operation, mode.to_owned())),
                "{operation} {mode} never exercised"
            );
        }
    }
}

/// The process dies between commit and publish, and the next email for the same event arrives
/// before the retry: the committed update is published first, the cancel after it, and the late
/// retry of the update publishes nothing new.
#[tokio::test]
async fn a_later_email_delivers_an_orphaned_outbox_entry_before_its_own() {
    let world = World::default();
    world.put("create", request("evt-1", 0, 8, ALICE, "<m1@example.com>"));
    world.put("update", request("evt-1", 1, 9, ALICE, "<m2@example.com>"));
    world.put("cancel", cancel("evt-1", 2, 10, ALICE, "<m3@example.com>"));
    let service = world.service();
    service.process_source(&source("create")).await.unwrap();

    // update: fetch, read, commit, publish <- dies here.
    world.faults.fail_call(4, FaultMode::Before);
    let error = service.process_source(&source("update")).await.unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert_eq!(world.faults.log().last(), Some(&"publish"));
    let record = world.records()[&EventKey::new("evt-1", None)].clone();
    assert!(
        record.outbox.is_some(),
        "the update is committed with its message"
    );

    let cancel = service.process_source(&source("cancel")).await.unwrap();
    assert_eq!(cancel.route, Route::Cancel);
    assert_eq!(
        cancel.published.len(),
        2,
        "the orphaned update, then the cancel"
    );

    let retry = service.process_source(&source("update")).await.unwrap();
    assert_eq!(retry.route, Route::Stale);
    assert!(retry.published.is_empty());

    let topics: Vec<Topic> = world.published().iter().map(|m| m.topic).collect();
    assert_eq!(topics, vec![Topic::Create, Topic::Update, Topic::Cancel]);
    assert_never_stale(&world.published());
}

/// A retry whose first attempt committed but died before publishing reports what it did.
#[tokio::test]
async fn a_retry_after_a_crash_reports_the_recovered_route() {
    let world = World::default();
    world.put("create", request("evt-1", 0, 8, ALICE, "<m1@example.com>"));
    let service = world.service();
    world.faults.fail_call(3, FaultMode::After); // fetch, read, commit <- answer lost
    assert!(service.process_source(&source("create")).await.is_err());
    assert!(world.published().is_empty());
    let retry = service.process_source(&source("create")).await.unwrap();
    assert_eq!(retry.route, Route::Create);
    assert_eq!(retry.published.len(), 1);
}

/// A ledger for two workers that both read before either commits, and then commit in a set
/// order: `first` commits at once, the other only after it.
struct OrderedLedger {
    inner: support::fakes::MemoryLedger,
    both_read: Arc<tokio::sync::Barrier>,
    first_committed: Arc<tokio::sync::Notify>,
    goes_first: bool,
}

/// Two services over the world's ledger that both read before either commits; the first
/// returned commits first.
fn ordered_workers(world: &World) -> (OrderedService, OrderedService) {
    let both_read = Arc::new(tokio::sync::Barrier::new(2));
    let first_committed = Arc::new(tokio::sync::Notify::new());
    let worker = |goes_first: bool| {
        world.service_with_ledger(OrderedLedger {
            inner: world.ledger(),
            both_read: both_read.clone(),
            first_committed: first_committed.clone(),
            goes_first,
        })
    };
    (worker(true), worker(false))
}

type OrderedService = invite_router::service::Service<
    support::fakes::MemoryMailStore,
    OrderedLedger,
    support::fakes::MemoryPublisher,
>;

impl Ledger for OrderedLedger {
    async fn read(&self, keys: &[EventKey]) -> Result<Vec<Option<StoredRecord>>, PortError> {
        let records = self.inner.read(keys).await;
        self.both_read.wait().await;
        records
    }

    async fn commit(
        &self,
        writes: &[LedgerWrite],
        unchanged: &[RevisionCheck],
    ) -> Result<CommitOutcome, PortError> {
        if !self.goes_first {
            self.first_committed.notified().await;
        }
        let outcome = self.inner.commit(writes, unchanged).await;
        if self.goes_first {
            self.first_committed.notify_one();
        }
        outcome
    }

    async fn clear_outbox(&self, key: &EventKey, dedupe_id: &str) -> Result<(), PortError> {
        self.inner.clear_outbox(key, dedupe_id).await
    }

    async fn set_aside_outbox(&self, aside: &SetAsideEntry) -> Result<(), PortError> {
        self.inner.set_aside_outbox(aside).await
    }

    async fn set_aside_entries(&self, uid: &str) -> Result<Vec<SetAsideEntry>, PortError> {
        self.inner.set_aside_entries(uid).await
    }
}

#[tokio::test]
async fn two_workers_racing_on_one_event_cannot_both_win() {
    for (first, second) in [
        ("create", "create"),
        ("update-1", "update-2"),
        ("update-2", "update-1"),
    ] {
        let world = World::default();
        world.put("seed", request("evt-1", 0, 7, ALICE, "<m0@example.com>"));
        world.put("create", request("evt-2", 0, 8, ALICE, "<m1@example.com>"));
        world.put(
            "update-1",
            request("evt-1", 1, 9, ALICE, "<m2@example.com>"),
        );
        world.put(
            "update-2",
            request("evt-1", 2, 10, ALICE, "<m3@example.com>"),
        );
        world
            .service()
            .process_source(&source("seed"))
            .await
            .unwrap();
        // Both read before either commits, the worst interleaving; `a` commits first.
        let (a, b) = ordered_workers(&world);
        let (source_a, source_b) = (source(first), source(second));
        let (result_a, result_b) =
            tokio::join!(a.process_source(&source_a), b.process_source(&source_b));
        let (winner, loser) = match (result_a, result_b) {
            (Ok(winner), Err(loser)) => (winner, loser),
            (Err(loser), Ok(winner)) => (winner, loser),
            other => panic!("{first} vs {second}: exactly one must win: {other:?}"),
        };
        assert!(matches!(loser, ServiceError::Conflict { .. }), "{loser}");
        assert!(loser.is_transient(), "the loser is retried");
        assert!(winner.route.topic().is_some());

        // The loser's message is retried and re-judged against the winner's state.
        let loser_key = if winner.source.key == first {
            second
        } else {
            first
        };
        let retry = world
            .service()
            .process_source(&source(loser_key))
            .await
            .unwrap();
        let expected = match (winner.source.key.as_str(), loser_key) {
            ("create", "create") => Route::Duplicate,
            ("update-1", "update-2") => Route::Update,
            ("update-2", "update-1") => Route::Stale,
            other => panic!("{other:?}"),
        };
        assert_eq!(retry.route, expected, "{first} vs {second}");
        assert_never_stale(&world.published());
        distinct_messages(&world.published());
    }
}

/// An occurrence with no record of its own is judged against its series. If another worker
/// cancels the series between that read and the commit, the judgement is void: the occurrence
/// loses and is re-judged (stale: it is older than the CANCEL). In the other commit order both
/// transitions stand, as they would one after the other.
#[tokio::test]
async fn an_occurrence_judged_by_a_series_that_changed_meanwhile_loses() {
    for cancel_commits_first in [true, false] {
        let world = World::default();
        world.put("seed", request("evt-1", 0, 7, ALICE, "<m0@example.com>"));
        world.put(
            "cancel-series",
            cancel("evt-1", 2, 10, ALICE, "<m1@example.com>"),
        );
        // Older than the series CANCEL: once the series is cancelled, this move is stale.
        world.put(
            "move-occurrence",
            message(
                Method::Request,
                ALICE,
                "<m2@example.com>",
                vec![occurrence(component("evt-1", 1, 9, ALICE), 8)],
            ),
        );
        world
            .service()
            .process_source(&source("seed"))
            .await
            .unwrap();
        let (first, second) = ordered_workers(&world);
        let (canceller, mover) = if cancel_commits_first {
            (first, second)
        } else {
            (second, first)
        };
        let (cancel_source, move_source) = (source("cancel-series"), source("move-occurrence"));
        let (cancelled, moved) = tokio::join!(
            canceller.process_source(&cancel_source),
            mover.process_source(&move_source)
        );
        assert_eq!(cancelled.unwrap().route, Route::Cancel);
        if cancel_commits_first {
            let loser = moved.unwrap_err();
            assert!(matches!(loser, ServiceError::Conflict { .. }), "{loser}");
            let retry = world
                .service()
                .process_source(&source("move-occurrence"))
                .await
                .unwrap();
            assert_eq!(
                retry.route,
                Route::Stale,
                "the cancelled series is not revived"
            );
            let topics: Vec<Topic> = world.published().iter().map(|m| m.topic).collect();
            assert_eq!(topics, vec![Topic::Create, Topic::Cancel]);
        } else {
            assert_eq!(moved.unwrap().route, Route::Update);
            let topics: Vec<Topic> = world.published().iter().map(|m| m.topic).collect();
            assert_eq!(topics, vec![Topic::Create, Topic::Update, Topic::Cancel]);
        }
        assert_never_stale(&world.published());
    }
}

#[tokio::test]
async fn a_batch_deletes_what_it_handled_and_keeps_what_failed_transiently() {
    let world = World::default();
    world.put(
        "inbox/good.eml",
        request("evt-1", 0, 8, ALICE, "<m1@example.com>"),
    );
    world.put(
        "inbox/refused.eml",
        refused(Reason::NoCalendar, "bob@example.com", "<m2@x>"),
    );
    world.put(
        "inbox/flaky.eml",
        request("evt-2", 0, 8, ALICE, "<m3@example.com>"),
    );
    let s3_event = |key: &str| {
        serde_json::json!({"Records": [{"s3": {"bucket": {"name": "mail"}, "object": {"key": key}}}]})
            .to_string()
    };
    let record = |id: &str, body: String| BatchRecord {
        message_id: id.into(),
        receipt_handle: Some(format!("rh-{id}")),
        body,
    };
    let batch = vec![
        record("good", s3_event("inbox%2Fgood.eml")),
        record("refused", s3_event("inbox/refused.eml")),
        record("missing", s3_event("inbox/gone.eml")),
        record(
            "test-event",
            r#"{"Service":"Amazon S3","Event":"s3:TestEvent"}"#.into(),
        ),
        record("garbage", "<<not json>>".into()),
        record("flaky", s3_event("inbox/flaky.eml")),
    ];
    // Fail the ledger read of the flaky email: a throttled DynamoDB, say.
    let service = world.service_with_ledger(ThrottledFor {
        inner: world.ledger(),
        uid: "evt-2",
    });
    let queue = world.queue();
    let reports = service.process_batch(&queue, &batch, 4).await;

    let ids: Vec<&str> = reports.iter().map(|r| r.message_id.as_str()).collect();
    assert_eq!(
        ids,
        vec![
            "good",
            "refused",
            "missing",
            "test-event",
            "garbage",
            "flaky"
        ]
    );
    let retried: Vec<&str> = reports
        .iter()
        .filter(|r| r.must_retry())
        .map(|r| r.message_id.as_str())
        .collect();
    assert_eq!(retried, vec!["flaky"]);
    assert!(
        reports[2]
            .permanent_failure
            .as_deref()
            .unwrap()
            .contains("NoSuchKey")
    );
    assert!(reports[4].permanent_failure.is_some());
    assert_eq!(reports[0].outcomes[0].route, Route::Create);
    assert_eq!(reports[1].outcomes[0].route, Route::Invalid);
    assert!(reports[3].outcomes.is_empty());

    let mut deleted = queue.deleted.lock().unwrap().clone();
    deleted.sort();
    assert_eq!(
        deleted,
        vec![
            "rh-garbage",
            "rh-good",
            "rh-missing",
            "rh-refused",
            "rh-test-event"
        ]
    );
    assert!(
        reports
            .iter()
            .filter(|r| !r.must_retry())
            .all(|r| r.deleted)
    );
}

#[tokio::test]
async fn the_outcome_names_the_component_that_decided_the_route() {
    let world = World::default();
    let master = component("evt-1", 0, 8, ALICE);
    world.put(
        "series",
        message(
            Method::Request,
            ALICE,
            "<m1@example.com>",
            vec![master.clone()],
        ),
    );
    // The organizer's client resends the unchanged master with one moved occurrence.
    world.put(
        "moved-occurrence",
        message(
            Method::Request,
            ALICE,
            "<m2@example.com>",
            vec![master, occurrence(component("evt-1", 1, 9, ALICE), 8)],
        ),
    );
    let service = world.service();
    service.process_source(&source("series")).await.unwrap();
    let outcome = service
        .process_source(&source("moved-occurrence"))
        .await
        .unwrap();
    assert_eq!(outcome.route, Route::Update);
    assert_eq!(
        outcome.recurrence_id.as_deref(),
        Some("2026-12-08T15:00:00Z")
    );
    assert_eq!(outcome.sequence, Some(1));
    let published = world.published();
    assert_eq!(published.len(), 2);
    let body: Value = serde_json::from_str(&published[1].body).unwrap();
    assert_eq!(body["event"]["recurrence_id"], "2026-12-08T15:00:00Z");
}

/// The components of one message are published side by side: a failed publish holds back only
/// its own, the others go out and are cleared, and the retry delivers just the one left.
#[tokio::test]
async fn a_series_publishes_its_components_together_and_retries_only_the_failed_one() {
    let world = World::default();
    let master = component("evt-1", 0, 8, ALICE);
    world.put(
        "series",
        message(
            Method::Request,
            ALICE,
            "<m1@example.com>",
            vec![
                master,
                occurrence(component("evt-1", 0, 9, ALICE), 8),
                occurrence(component("evt-1", 0, 10, ALICE), 9),
            ],
        ),
    );
    let service = world.service();
    // fetch, read, commit, then three publishes started together: the second fails.
    world.faults.fail_call(5, FaultMode::Before);
    let error = service.process_source(&source("series")).await.unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert_eq!(
        world.faults.log(),
        [
            "fetch",
            "read",
            "commit",
            "publish",
            "publish",
            "publish",
            "clear_outbox",
            "clear_outbox"
        ]
    );
    assert_eq!(world.published().len(), 2);
    let pending: Vec<_> = world
        .records()
        .into_values()
        .filter_map(|record| record.outbox.map(|entry| entry.dedupe_id))
        .collect();
    assert_eq!(
        pending.len(),
        1,
        "only the failed component is left to deliver"
    );

    let retry = service.process_source(&source("series")).await.unwrap();
    assert_eq!(retry.published.len(), 1);
    assert_eq!(retry.published[0].dedupe_id, pending[0]);
    assert_eq!(world.published().len(), 3);
    assert!(
        world
            .records()
            .values()
            .all(|record| record.outbox.is_none())
    );
    assert_never_stale(&world.published());
}

#[tokio::test]
async fn a_failed_delete_is_not_a_failed_record() {
    // Lambda deletes every record not reported in batchItemFailures; reporting this one would
    // only make SQS redeliver an email that was fully handled.
    let world = World::default();
    world.put(
        "inbox/good.eml",
        request("evt-1", 0, 8, ALICE, "<m1@example.com>"),
    );
    let body = serde_json::json!({"Records": [{"s3": {"bucket": {"name": "mail"}, "object": {"key": "inbox/good.eml"}}}]})
        .to_string();
    let batch = [BatchRecord {
        message_id: "good".into(),
        receipt_handle: Some("rh-good".into()),
        body,
    }];
    let service = world.service();
    let queue = world.queue();
    // fetch, read, commit, publish, then clear_outbox and delete <- fails, side by side.
    world.faults.fail_call(6, FaultMode::Before);
    let reports = service.process_batch(&queue, &batch, 1).await;
    assert_eq!(
        world.faults.log(),
        [
            "fetch",
            "read",
            "commit",
            "publish",
            "clear_outbox",
            "delete"
        ]
    );
    assert!(!reports[0].must_retry());
    assert!(!reports[0].deleted);
    assert_eq!(reports[0].outcomes[0].route, Route::Create);
}

/// The clear runs beside the delete, so by the time it fails the message may be gone: the record
/// is not failed for it (its message is published), and the entry left in the ledger is
/// published again, with its dedupe id, before the event's next email is judged.
#[tokio::test]
async fn a_failed_clear_in_a_batch_is_redelivered_by_the_next_email() {
    let world = World::default();
    world.put("create", request("evt-1", 0, 8, ALICE, "<m1@example.com>"));
    world.put("update", request("evt-1", 1, 9, ALICE, "<m2@example.com>"));
    let batch = [BatchRecord {
        message_id: "create".into(),
        receipt_handle: Some("rh-create".into()),
        body: serde_json::json!({"Records": [{"s3": {"bucket": {"name": "mail"}, "object": {"key": "create"}}}]})
            .to_string(),
    }];
    let service = world.service();
    let queue = world.queue();
    // fetch, read, commit, publish, clear_outbox <- fails, delete.
    world.faults.fail_call(5, FaultMode::Before);
    let reports = service.process_batch(&queue, &batch, 1).await;
    assert_eq!(world.faults.log()[4], "clear_outbox");
    assert!(!reports[0].must_retry() && reports[0].permanent_failure.is_none());
    assert!(reports[0].deleted);
    assert_eq!(reports[0].outcomes[0].route, Route::Create);
    let create_id = reports[0].outcomes[0].published[0].dedupe_id.clone();
    let record = world.records()[&EventKey::new("evt-1", None)].clone();
    assert_eq!(
        record.outbox.map(|entry| entry.dedupe_id),
        Some(create_id.clone())
    );

    let update = service.process_source(&source("update")).await.unwrap();
    assert_eq!(update.route, Route::Update);
    let ids: Vec<&str> = update
        .published
        .iter()
        .map(|p| p.dedupe_id.as_str())
        .collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], create_id);
    assert!(
        world.records()[&EventKey::new("evt-1", None)]
            .outbox
            .is_none()
    );
    assert_never_stale(&world.published());
}

/// Two faults in one run: the second hits the retry of the first, or any call shortly after it
/// (a crash while recovering from a crash). Nothing is lost, doubled or published stale.
#[tokio::test]
async fn two_faults_in_one_run_lose_nothing() {
    let clean = World::default();
    let emails = life_cycle(&clean);
    let clean_outcomes = run_with_retries(&clean, &emails).await;
    let total_calls = clean.faults.calls();
    let modes = [FaultMode::Before, FaultMode::After];
    let mut runs = 0;
    for first in 1..=total_calls {
        for gap in 1..=4 {
            for first_mode in modes {
                for second_mode in modes {
                    let world = World::default();
                    life_cycle(&world);
                    world.faults.fail_call(first, first_mode);
                    world.faults.fail_call(first + gap, second_mode);
                    let outcomes = run_with_retries(&world, &emails).await;
                    let log = world.faults.log();
                    let context = format!(
                        "call {first} ({}) failing {first_mode:?}, then call {} ({}) failing \
                         {second_mode:?}",
                        log[first - 1],
                        first + gap,
                        log.get(first + gap - 1).copied().unwrap_or("none"),
                    );
                    assert_like_clean(&world, &outcomes, &clean, &clean_outcomes, &context);
                    runs += 1;
                }
            }
        }
    }
    assert!(runs > 400, "{runs} runs");
}

/// SNS refuses the create's message for good (InvalidParameter): the entry is set aside in the
/// ledger with why, and the event is not blocked: the update publishes, and the ledger's records
/// are those of a clean run. Retrying it before every later email would have sent them all to
/// the DLQ.
#[tokio::test]
async fn an_outbox_entry_refused_for_good_is_set_aside_not_retried_forever() {
    let clean = World::default();
    clean.put("create", request("evt-1", 0, 8, ALICE, "<m1@example.com>"));
    clean.put("update", request("evt-1", 1, 9, ALICE, "<m2@example.com>"));
    let emails = [("create", Route::Create), ("update", Route::Update)];
    run_with_retries(&clean, &emails).await;
    let clean_published = distinct_messages(&clean.published());
    let (create_id, _) = clean_published
        .iter()
        .find(|(_, (topic, _))| *topic == Topic::Create)
        .map(|(id, message)| (id.clone(), message.clone()))
        .unwrap();

    let world = World::default();
    world.put("create", request("evt-1", 0, 8, ALICE, "<m1@example.com>"));
    world.put("update", request("evt-1", 1, 9, ALICE, "<m2@example.com>"));
    let service = world.service();
    // fetch, read, commit, publish: the fourth call is the create's publish.
    world.faults.fail_call(4, FaultMode::Refused);
    let created = service.process_source(&source("create")).await.unwrap();
    assert_eq!(world.faults.log()[3], "publish");
    assert_eq!(created.route, Route::Create);
    assert!(created.published.is_empty());
    assert_eq!(created.set_aside, vec![create_id.clone()]);
    let updated = service.process_source(&source("update")).await.unwrap();
    assert_eq!(updated.route, Route::Update);

    assert_eq!(world.records(), clean.records());
    let published = distinct_messages(&world.published());
    let mut expected = clean_published.clone();
    expected.remove(&create_id);
    assert_eq!(published, expected, "everything but the refused create");
    let aside = service.ledger().set_aside_entries("evt-1").await.unwrap();
    assert_eq!(aside.len(), 1);
    assert_eq!(aside[0].entry.dedupe_id, create_id);
    assert_eq!(aside[0].entry.topic, Topic::Create);
    assert!(
        aside[0].why.contains("InvalidParameter"),
        "{}",
        aside[0].why
    );
    // A retry of the create finds nothing to deliver and publishes nothing.
    let again = service.process_source(&source("create")).await.unwrap();
    assert!(again.published.is_empty() && again.set_aside.is_empty());
}

/// A permanent error at each port, at every call of an invite's life: the email it hit is
/// handled for good (SQS would delete it) and said so, and nothing else goes wrong: every other
/// email is processed, nothing is published stale, no dedupe id carries two bodies, a refused
/// publish of a committed message leaves it set aside (never lost), and a refused ledger call
/// writes nothing.
#[tokio::test]
async fn a_permanent_error_at_any_port_drops_only_the_email_it_hit() {
    let clean = World::default();
    let emails = life_cycle(&clean);
    run_with_retries(&clean, &emails).await;
    let total_calls = clean.faults.calls();
    let mut exercised = BTreeSet::new();
    for n in 1..=total_calls {
        let world = World::default();
        life_cycle(&world);
        world.faults.fail_call(n, FaultMode::Refused);
        let service = world.service();
        let mut dropped = Vec::new();
        for (key, _) in &emails {
            let records_before = world.records();
            match service.process_source(&source(key)).await {
                Ok(_) => {}
                Err(error) => {
                    assert_eq!(error.kind(), ErrorKind::Permanent, "{key}: {error}");
                    let operation = world.faults.log()[n - 1];
                    assert!(
                        error.to_string().contains(operation),
                        "{key}: {error} does not name {operation}"
                    );
                    if operation != "clear_outbox" {
                        assert_eq!(world.records(), records_before, "{key}: {operation}");
                    }
                    dropped.push(*key);
                }
            }
        }
        let operation = world.faults.log()[n - 1];
        exercised.insert(operation);
        let context = format!("call {n} ({operation}) refused");
        // A publish refused for good: an outbox entry is set aside, a refusal is dropped.
        assert!(dropped.len() <= 1, "{context}: {dropped:?}");
        let published = world.published();
        assert_never_stale(&published);
        distinct_messages(&published);
        let clean_ids = distinct_messages(&clean.published());
        let aside = world.ledger.lock().unwrap().set_aside.clone();
        if operation == "publish" && dropped.is_empty() {
            assert_eq!(aside.len(), 1, "{context}");
            let (_, entry) = aside.into_iter().next().unwrap();
            assert!(clean_ids.contains_key(&entry.entry.dedupe_id), "{context}");
        } else {
            assert!(aside.is_empty(), "{context}");
        }
    }
    for operation in ["fetch", "read", "commit", "publish", "clear_outbox"] {
        assert!(exercised.contains(operation), "{operation} never refused");
    }
}
