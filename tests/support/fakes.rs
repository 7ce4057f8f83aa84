//! In-memory ports. Each can be made to fail on the Nth port call (counted across all ports of
//! one `World`), either before its effect (the request never arrived) or after it (the effect
//! happened, then the answer was lost: a timeout, or the process dying right after the call).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use invite_router::core::analysis::Analysis;
use invite_router::core::model::{EventKey, Topic};
use invite_router::ports::{
    CommitOutcome, Ledger, LedgerWrite, MailSource, MailStore, PortError, Publisher, Queue,
    RevisionCheck, SetAsideEntry, StoredRecord,
};
use invite_router::service::{Analyzer, Service};

use super::schema;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultMode {
    /// The call fails without effect.
    Before,
    /// The call takes effect, then reports a transient failure.
    After,
    /// The call is refused for good, without effect: a permanent error.
    Refused,
}

#[derive(Debug, Default)]
struct FaultState {
    calls: usize,
    /// Planned faults: (call number, mode).
    fail_at: Vec<(usize, FaultMode)>,
    /// The operation of every call, in order (to say which step a fault hit).
    log: Vec<&'static str>,
}

/// The shared call counter and the one planned fault.
#[derive(Debug, Default)]
pub struct Faults {
    state: Mutex<FaultState>,
}

impl Faults {
    /// The `n`th call from now on (1-based) fails with `mode`.
    pub fn fail_call(&self, n: usize, mode: FaultMode) {
        let mut state = self.state.lock().unwrap();
        let at = state.calls + n;
        state.fail_at.push((at, mode));
    }

    pub fn calls(&self) -> usize {
        self.state.lock().unwrap().calls
    }

    pub fn log(&self) -> Vec<&'static str> {
        self.state.lock().unwrap().log.clone()
    }

    /// Counts a call; returns the fault to inject into it, if any.
    fn enter(&self, operation: &'static str) -> Option<FaultMode> {
        let mut state = self.state.lock().unwrap();
        state.calls += 1;
        state.log.push(operation);
        let calls = state.calls;
        state
            .fail_at
            .iter()
            .find(|(at, _)| *at == calls)
            .map(|(_, mode)| *mode)
    }
}

/// The error a planned fault reports: `Refused` is a permanent refusal (SNS's InvalidParameter,
/// say), every other mode a transient failure.
fn fault_error(operation: &'static str, mode: FaultMode) -> PortError {
    match mode {
        FaultMode::Refused => PortError::permanent(operation, "InvalidParameter (injected)"),
        FaultMode::Before | FaultMode::After => injected(operation),
    }
}

fn injected(operation: &'static str) -> PortError {
    PortError::transient(operation, "injected fault")
}

pub struct MemoryMailStore {
    pub objects: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    faults: Arc<Faults>,
}

impl MailStore for MemoryMailStore {
    async fn fetch(&self, source: &MailSource) -> Result<Vec<u8>, PortError> {
        if let Some(mode) = self.faults.enter("fetch") {
            return Err(fault_error("fetch", mode));
        }
        self.objects
            .lock()
            .unwrap()
            .get(&source.key)
            .cloned()
            .ok_or_else(|| PortError::permanent("fetch", format!("NoSuchKey: {}", source.key)))
    }
}

#[derive(Default)]
pub struct LedgerState {
    pub records: BTreeMap<EventKey, StoredRecord>,
    /// By (UID, dedupe id).
    pub set_aside: BTreeMap<(String, String), SetAsideEntry>,
}

pub struct MemoryLedger {
    pub state: Arc<Mutex<LedgerState>>,
    faults: Arc<Faults>,
}

impl MemoryLedger {
    pub fn records(&self) -> BTreeMap<EventKey, StoredRecord> {
        self.state.lock().unwrap().records.clone()
    }
}

impl Ledger for MemoryLedger {
    async fn read(&self, keys: &[EventKey]) -> Result<Vec<Option<StoredRecord>>, PortError> {
        if let Some(mode) = self.faults.enter("read") {
            return Err(fault_error("read", mode));
        }
        let state = self.state.lock().unwrap();
        Ok(keys
            .iter()
            .map(|key| state.records.get(key).cloned())
            .collect())
    }

    async fn commit(
        &self,
        writes: &[LedgerWrite],
        unchanged: &[RevisionCheck],
    ) -> Result<CommitOutcome, PortError> {
        let fault = self.faults.enter("commit");
        if let Some(mode @ (FaultMode::Before | FaultMode::Refused)) = fault {
            return Err(fault_error("commit", mode));
        }
        let outcome = {
            let mut state = self.state.lock().unwrap();
            let current = |key: &EventKey| state.records.get(key).map(|record| record.revision);
            let writes_hold = writes
                .iter()
                .all(|write| current(&write.record.key) == write.expected_revision);
            let checks_hold = unchanged
                .iter()
                .all(|check| current(&check.key) == check.expected_revision);
            if writes_hold && checks_hold {
                for write in writes {
                    state
                        .records
                        .insert(write.record.key.clone(), write.record.clone());
                }
                CommitOutcome::Committed
            } else {
                CommitOutcome::Conflict
            }
        };
        match fault {
            Some(_) => Err(injected("commit")),
            None => Ok(outcome),
        }
    }

    async fn clear_outbox(&self, key: &EventKey, dedupe_id: &str) -> Result<(), PortError> {
        let fault = self.faults.enter("clear_outbox");
        if let Some(mode @ (FaultMode::Before | FaultMode::Refused)) = fault {
            return Err(fault_error("clear_outbox", mode));
        }
        {
            let mut state = self.state.lock().unwrap();
            if let Some(record) = state.records.get_mut(key)
                && record
                    .outbox
                    .as_ref()
                    .is_some_and(|entry| entry.dedupe_id == dedupe_id)
            {
                record.outbox = None;
            }
        }
        match fault {
            Some(_) => Err(injected("clear_outbox")),
            None => Ok(()),
        }
    }

    async fn set_aside_outbox(&self, aside: &SetAsideEntry) -> Result<(), PortError> {
        if let Some(mode) = self.faults.enter("set_aside_outbox") {
            return Err(fault_error("set_aside_outbox", mode));
        }
        let mut state = self.state.lock().unwrap();
        let Some(record) = state.records.get_mut(&aside.from) else {
            return Ok(());
        };
        if record
            .outbox
            .as_ref()
            .is_some_and(|entry| entry.dedupe_id == aside.entry.dedupe_id)
        {
            record.outbox = None;
            state.set_aside.insert(
                (aside.from.uid.clone(), aside.entry.dedupe_id.clone()),
                aside.clone(),
            );
        }
        Ok(())
    }

    async fn set_aside_entries(&self, uid: &str) -> Result<Vec<SetAsideEntry>, PortError> {
        let state = self.state.lock().unwrap();
        Ok(state
            .set_aside
            .iter()
            .filter(|((entry_uid, _), _)| entry_uid == uid)
            .map(|(_, aside)| aside.clone())
            .collect())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedMessage {
    pub topic: Topic,
    pub body: String,
    pub attributes: Vec<(String, String)>,
    pub dedupe_id: String,
}

pub struct MemoryPublisher {
    pub messages: Arc<Mutex<Vec<PublishedMessage>>>,
    faults: Arc<Faults>,
}

impl MemoryPublisher {
    pub fn messages(&self) -> Vec<PublishedMessage> {
        self.messages.lock().unwrap().clone()
    }
}

impl Publisher for MemoryPublisher {
    async fn publish(
        &self,
        topic: Topic,
        body: &str,
        attributes: &[(String, String)],
    ) -> Result<(), PortError> {
        let fault = self.faults.enter("publish");
        if let Some(mode @ (FaultMode::Before | FaultMode::Refused)) = fault {
            return Err(fault_error("publish", mode));
        }
        // Every message any test publishes must match its schema.
        let value = schema::assert_valid(topic, body);
        let attribute = |name: &str| {
            attributes
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
        };
        assert_eq!(
            attribute("route").as_deref(),
            Some(value["route"].as_str().unwrap_or("invalid")),
            "the route attribute repeats the body's route"
        );
        self.messages.lock().unwrap().push(PublishedMessage {
            topic,
            body: body.to_owned(),
            attributes: attributes.to_vec(),
            dedupe_id: value["dedupe_id"].as_str().unwrap_or_default().to_owned(),
        });
        match fault {
            Some(_) => Err(injected("publish")),
            None => Ok(()),
        }
    }
}

pub struct MemoryQueue {
    pub deleted: Mutex<Vec<String>>,
    faults: Arc<Faults>,
}

impl Queue for MemoryQueue {
    async fn delete(&self, receipt_handle: &str) -> Result<(), PortError> {
        if let Some(mode) = self.faults.enter("delete") {
            return Err(fault_error("delete", mode));
        }
        self.deleted.lock().unwrap().push(receipt_handle.to_owned());
        Ok(())
    }
}

/// Shared state of one simulated deployment: the bucket, the ledger table, the topics, the queue.
/// Several workers (services) can be built over the same world.
#[derive(Clone, Default)]
pub struct World {
    pub faults: Arc<Faults>,
    pub objects: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    pub analyses: Arc<Mutex<HashMap<Vec<u8>, Analysis>>>,
    pub ledger: Arc<Mutex<LedgerState>>,
    pub published: Arc<Mutex<Vec<PublishedMessage>>>,
}

pub type FakeService = Service<MemoryMailStore, MemoryLedger, MemoryPublisher>;

impl World {
    /// Stores an email under `key` whose analysis is `analysis` (the bytes are the key itself).
    pub fn put(&self, key: &str, analysis: Analysis) {
        self.objects
            .lock()
            .unwrap()
            .insert(key.to_owned(), key.as_bytes().to_vec());
        self.analyses
            .lock()
            .unwrap()
            .insert(key.as_bytes().to_vec(), analysis);
    }

    pub fn service(&self) -> FakeService {
        self.service_with_ledger(self.ledger())
    }

    pub fn ledger(&self) -> MemoryLedger {
        MemoryLedger {
            state: self.ledger.clone(),
            faults: self.faults.clone(),
        }
    }

    pub fn service_with_ledger<L: Ledger>(
        &self,
        ledger: L,
    ) -> Service<MemoryMailStore, L, MemoryPublisher> {
        let analyses = self.analyses.clone();
        let analyzer: Analyzer = Arc::new(move |raw: &[u8]| {
            analyses
                .lock()
                .unwrap()
                .get(raw)
                .cloned()
                .expect("every stored email has an analysis")
        });
        let store = MemoryMailStore {
            objects: self.objects.clone(),
            faults: self.faults.clone(),
        };
        Service::new(
            store,
            ledger,
            MemoryPublisher {
                messages: self.published.clone(),
                faults: self.faults.clone(),
            },
            Default::default(),
            Default::default(),
        )
        .with_analyzer(analyzer)
        .with_clock(Arc::new(|| super::analyses::stamp(23)))
    }

    pub fn queue(&self) -> MemoryQueue {
        MemoryQueue {
            deleted: Mutex::new(Vec::new()),
            faults: self.faults.clone(),
        }
    }

    pub fn published(&self) -> Vec<PublishedMessage> {
        self.published.lock().unwrap().clone()
    }

    pub fn records(&self) -> BTreeMap<EventKey, StoredRecord> {
        self.ledger.lock().unwrap().records.clone()
    }
}

/// Any ledger, failing transiently every read that touches one UID, as a throttled table does for
/// a hot partition. Everything else passes through.
pub struct ThrottledFor<L> {
    pub inner: L,
    pub uid: &'static str,
}

impl<L: Ledger> Ledger for ThrottledFor<L> {
    async fn read(&self, keys: &[EventKey]) -> Result<Vec<Option<StoredRecord>>, PortError> {
        if keys.iter().any(|key| key.uid == self.uid) {
            return Err(PortError::transient("ledger read", "ThrottlingException"));
        }
        self.inner.read(keys).await
    }

    async fn commit(
        &self,
        writes: &[LedgerWrite],
        unchanged: &[RevisionCheck],
    ) -> Result<CommitOutcome, PortError> {
        self.inner.commit(writes, unchanged).await
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
