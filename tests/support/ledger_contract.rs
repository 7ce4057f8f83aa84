//! What every Ledger must do, checked against each implementation (SQLite here, DynamoDB on
//! moto in the end-to-end tests): conditional writes on the revision read, all-or-nothing
//! commits, conditional outbox clearing that is not a transition.

use invite_router::core::model::{EventKey, ItemKind, RecordState, RecordStatus, Topic, Version};
use invite_router::ports::{
    CommitOutcome, Ledger, LedgerWrite, OutboxEntry, RevisionCheck, SetAsideEntry, StoredRecord,
};

fn record(key: &EventKey, revision: u64, sequence: u32, outbox: Option<&str>) -> StoredRecord {
    StoredRecord {
        key: key.clone(),
        state: RecordState {
            organizer: Some("alice@example.com".into()),
            status: RecordStatus::Active,
            version: Version {
                sequence,
                dtstamp: Some(super::analyses::stamp(8)),
            },
        },
        revision,
        last_source_key: Some(format!("inbox/{sequence}.eml")),
        updated_at: "2026-11-23T01:00:00Z".into(),
        outbox: outbox.map(|id| OutboxEntry {
            topic: Topic::Update,
            dedupe_id: id.into(),
            body: format!("{{\"dedupe_id\":\"{id}\"}}"),
            attributes: vec![
                ("method".into(), "REQUEST".into()),
                ("route".into(), "update".into()),
            ],
        }),
    }
}

fn write(expected: Option<u64>, record: StoredRecord) -> LedgerWrite {
    LedgerWrite {
        expected_revision: expected,
        record,
    }
}

pub async fn check<L: Ledger>(ledger: &L) {
    let series = EventKey::new("contract-uid", None);
    let occurrence = EventKey {
        uid: "contract-uid".into(),
        item: ItemKind::Occurrence("2026-12-08T15:00:00Z".into()),
    };
    let both = [series.clone(), occurrence.clone()];
    assert_eq!(ledger.read(&both).await.unwrap(), vec![None, None]);

    // Create: only if absent.
    let created = record(&series, 1, 0, Some("id-create"));
    assert_eq!(
        ledger
            .commit(&[write(None, created.clone())], &[])
            .await
            .unwrap(),
        CommitOutcome::Committed
    );
    assert_eq!(
        ledger
            .commit(&[write(None, record(&series, 1, 5, None))], &[])
            .await
            .unwrap(),
        CommitOutcome::Conflict,
        "a second creator loses"
    );
    assert_eq!(
        ledger.read(&both).await.unwrap(),
        vec![Some(created.clone()), None]
    );

    // Update: only from the revision read.
    assert_eq!(
        ledger
            .commit(&[write(Some(7), record(&series, 8, 1, None))], &[])
            .await
            .unwrap(),
        CommitOutcome::Conflict,
        "a stale revision loses"
    );
    let updated = record(&series, 2, 1, Some("id-update"));
    assert_eq!(
        ledger
            .commit(&[write(Some(1), updated.clone())], &[])
            .await
            .unwrap(),
        CommitOutcome::Committed
    );

    // All or nothing: a good write next to a losing one is not applied.
    let transaction = [
        write(None, record(&occurrence, 1, 2, Some("id-occurrence"))),
        write(Some(1), record(&series, 2, 3, None)),
    ];
    assert_eq!(
        ledger.commit(&transaction, &[]).await.unwrap(),
        CommitOutcome::Conflict
    );
    assert_eq!(
        ledger.read(&both).await.unwrap(),
        vec![Some(updated.clone()), None]
    );

    // Clearing the outbox: only the named entry, and it is not a transition.
    ledger.clear_outbox(&series, "id-create").await.unwrap();
    assert!(
        ledger.read(&both).await.unwrap()[0]
            .as_ref()
            .unwrap()
            .outbox
            .is_some()
    );
    ledger.clear_outbox(&series, "id-update").await.unwrap();
    let cleared = ledger.read(&both).await.unwrap()[0].clone().unwrap();
    assert_eq!(cleared.outbox, None);
    assert_eq!(cleared.revision, 2);
    ledger.clear_outbox(&series, "id-update").await.unwrap();
    ledger
        .clear_outbox(&occurrence, "no-such-item")
        .await
        .unwrap();

    // A multi-record commit that holds goes through whole.
    let transaction = [
        write(None, record(&occurrence, 1, 2, Some("id-occurrence"))),
        write(Some(2), record(&series, 3, 3, None)),
    ];
    assert_eq!(
        ledger.commit(&transaction, &[]).await.unwrap(),
        CommitOutcome::Committed
    );
    let read = ledger.read(&both).await.unwrap();
    assert_eq!(read[0].as_ref().unwrap().revision, 3);
    assert_eq!(
        read[1],
        Some(record(&occurrence, 1, 2, Some("id-occurrence")))
    );

    // Revision checks: records the commit reads but does not write must be as they were read.
    let other = EventKey {
        uid: "contract-uid".into(),
        item: ItemKind::Occurrence("2026-12-15T15:00:00Z".into()),
    };
    let never_written = EventKey::new("contract-absent", None);
    let check = |key: &EventKey, expected: Option<u64>| RevisionCheck {
        key: key.clone(),
        expected_revision: expected,
    };
    let new_other = [write(None, record(&other, 1, 4, None))];
    assert_eq!(
        ledger
            .commit(&new_other, &[check(&series, Some(2))])
            .await
            .unwrap(),
        CommitOutcome::Conflict,
        "the series changed since it was read"
    );
    assert_eq!(
        ledger
            .commit(&new_other, &[check(&occurrence, None)])
            .await
            .unwrap(),
        CommitOutcome::Conflict,
        "a record read as absent has appeared"
    );
    assert_eq!(
        ledger.read(std::slice::from_ref(&other)).await.unwrap(),
        vec![None]
    );
    assert_eq!(
        ledger
            .commit(
                &new_other,
                &[check(&series, Some(3)), check(&never_written, None)]
            )
            .await
            .unwrap(),
        CommitOutcome::Committed
    );
    let read = ledger
        .read(&[series.clone(), other.clone(), never_written.clone()])
        .await
        .unwrap();
    assert_eq!(
        read[0].as_ref().unwrap().revision,
        3,
        "a check writes nothing"
    );
    assert_eq!(read[1], Some(record(&other, 1, 4, None)));
    assert_eq!(read[2], None, "a check creates nothing");

    owner_items(ledger).await;
    set_aside(ledger).await;
}

/// An outbox entry refused for good moves, in one step, from its record to an item of its own,
/// with why; an entry no longer in the record (cleared, replaced) is not set aside.
async fn set_aside<L: Ledger>(ledger: &L) {
    let key = EventKey::new("aside-uid", None);
    let stored = record(&key, 1, 1, Some("id-refused"));
    assert_eq!(
        ledger
            .commit(&[write(None, stored.clone())], &[])
            .await
            .unwrap(),
        CommitOutcome::Committed
    );
    let refused = SetAsideEntry {
        from: key.clone(),
        entry: stored.outbox.clone().unwrap(),
        why: "SNS Publish failed permanently: InvalidParameter (HTTP 400): Message too long".into(),
    };
    ledger.set_aside_outbox(&refused).await.unwrap();
    let after = ledger.read(std::slice::from_ref(&key)).await.unwrap()[0]
        .clone()
        .unwrap();
    assert_eq!(after.outbox, None);
    assert_eq!(after.revision, 1, "setting aside is not a transition");
    assert_eq!(
        ledger.set_aside_entries("aside-uid").await.unwrap(),
        vec![refused.clone()]
    );
    assert_eq!(
        ledger.set_aside_entries("contract-uid").await.unwrap(),
        vec![]
    );
    // Gone already: nothing moves, nothing is added.
    ledger.set_aside_outbox(&refused).await.unwrap();
    let stale = SetAsideEntry {
        entry: OutboxEntry {
            dedupe_id: "id-never-there".into(),
            ..refused.entry.clone()
        },
        ..refused.clone()
    };
    ledger.set_aside_outbox(&stale).await.unwrap();
    assert_eq!(
        ledger.set_aside_entries("aside-uid").await.unwrap(),
        vec![refused]
    );
}

/// Who owns a UID is an item of its own, read with the event's records and guarded in the same
/// commit: two first messages for one UID from different organizers cannot both claim it, and a
/// commit judged against "no owner yet" loses once someone has claimed it.
async fn owner_items<L: Ledger>(ledger: &L) {
    let owner = EventKey::owner_of("owned-uid");
    let occurrence = EventKey {
        uid: "owned-uid".into(),
        item: ItemKind::Occurrence("2026-12-08T15:00:00Z".into()),
    };
    let series = EventKey::new("owned-uid", None);
    let claim = |organizer: &str, revision| {
        let mut item = record(&owner, revision, 0, None);
        item.state.organizer = Some(organizer.into());
        item
    };
    let keys = [owner.clone(), series.clone(), occurrence.clone()];
    assert_eq!(ledger.read(&keys).await.unwrap(), vec![None, None, None]);

    // The organizer's first message touched one occurrence only: it claims the UID with it.
    let first = [
        write(None, record(&occurrence, 1, 1, None)),
        write(None, claim("alice@example.com", 1)),
    ];
    assert_eq!(
        ledger.commit(&first, &[]).await.unwrap(),
        CommitOutcome::Committed
    );
    // A stranger's master read the UID as unowned before that commit: its claim loses.
    let strangers = [
        write(None, record(&series, 1, 1, None)),
        write(None, claim("mallory@evil.example", 1)),
    ];
    assert_eq!(
        ledger.commit(&strangers, &[]).await.unwrap(),
        CommitOutcome::Conflict
    );
    // So does a commit that did not claim but was judged against "no owner" (a revision check).
    let unclaimed = RevisionCheck {
        key: owner.clone(),
        expected_revision: None,
    };
    assert_eq!(
        ledger
            .commit(&[write(None, record(&series, 1, 1, None))], &[unclaimed])
            .await
            .unwrap(),
        CommitOutcome::Conflict
    );
    let read = ledger.read(&keys).await.unwrap();
    assert_eq!(read[0], Some(claim("alice@example.com", 1)));
    assert_eq!(read[1], None, "nothing of the stranger's was written");
    assert!(read[0].as_ref().unwrap().key.is_owner_item());
}
