//! The embedded SQLite ledger and the in-memory test ledger keep the same contract as DynamoDB
//! (tests/e2e_moto.rs runs it there).

mod support;

use invite_router::local::SqliteLedger;

#[tokio::test]
async fn the_sqlite_ledger_keeps_the_ledger_contract() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = SqliteLedger::open(&dir.path().join("ledger.sqlite3")).unwrap();
    support::ledger_contract::check(&ledger).await;
}

#[tokio::test]
async fn the_in_memory_test_ledger_keeps_the_ledger_contract() {
    // The fault tests rely on the fake behaving like the real ledgers.
    support::ledger_contract::check(&support::fakes::World::default().ledger()).await;
}
