//! Views of state for the vm and the ledger (accounts, storage, code, names): the committed head (the [`Store`]'s flat families, live for the
//! block producer, through a [`Snapshot`] for every other reader), a past height (the tree's value
//! history), and a staged overlay that collects one block's writes on top of the head without
//! persisting anything.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use opmeter_ledger::block::Account;
use opmeter_ledger::name::{Name, NameRecord};
use opmeter_ledger::state::StateKey;
use opmeter_ledger::transition::{LedgerState, TransitionError};
use opmeter_vm::{Address, CodeHash, StateError, StateView, U256};
use parking_lot::{Mutex, RwLock};

use crate::store::{LatestState, Snapshot, StateChanges, Store, StoreError};

impl From<StoreError> for StateError {
    fn from(e: StoreError) -> StateError {
        StateError(e.to_string())
    }
}

/// Where committed state is read from.
#[derive(Clone, Debug)]
pub enum Version {
    /// The latest committed block, live (one point lookup per read). Only for the block
    /// producer, the one writer: anyone else could see a block commit halfway through a read.
    Head,
    /// One committed block's state, frozen: the head as of when the snapshot was taken.
    Snapshot(Arc<Snapshot>),
    /// The state after block `height` (a seek in the tree's value history).
    At(u64),
}

/// Committed state as the vm sees it, at the head or at a past height.
#[derive(Clone, Debug)]
pub struct CommittedView {
    store: Arc<Store>,
    version: Version,
}

impl CommittedView {
    /// A view of `store` at `version`.
    pub fn new(store: Arc<Store>, version: Version) -> CommittedView {
        CommittedView { store, version }
    }

    /// The account record.
    ///
    /// # Errors
    /// On a store failure.
    pub fn account(&self, address: &Address) -> Result<Option<Account>, StoreError> {
        match &self.version {
            Version::Head => self.store.account(address),
            Version::Snapshot(snapshot) => snapshot.account(address),
            Version::At(height) => self.store.account_at(address, *height),
        }
    }

    fn storage_value(&self, contract: &Address, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match &self.version {
            Version::Head => self.store.storage(contract, key),
            Version::Snapshot(snapshot) => snapshot.storage(contract, key),
            Version::At(height) => self
                .store
                .state_value_at(&StateKey::Storage(*contract, key.to_vec()), *height),
        }
    }

    /// A name's record.
    ///
    /// # Errors
    /// On a store failure.
    pub fn name(&self, name: &Name) -> Result<Option<NameRecord>, StoreError> {
        match &self.version {
            Version::Head => self.store.name(name),
            Version::Snapshot(snapshot) => snapshot.name(name),
            Version::At(height) => self.store.name_at(name, *height),
        }
    }

    /// Code by hash (content-addressed: the same at every height).
    ///
    /// # Errors
    /// On a store failure.
    pub fn code_bytes(&self, code_hash: &CodeHash) -> Result<Option<Vec<u8>>, StoreError> {
        match &self.version {
            Version::Snapshot(snapshot) => snapshot.code(code_hash),
            Version::Head | Version::At(_) => self.store.code(code_hash),
        }
    }
}

impl StateView for CommittedView {
    fn storage(&self, contract: &Address, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.storage_value(contract, key)?)
    }

    fn balance(&self, account: &Address) -> Result<U256, StateError> {
        Ok(self
            .account(account)?
            .map(|a| a.balance)
            .unwrap_or_default())
    }

    fn contract_code(&self, address: &Address) -> Result<Option<CodeHash>, StateError> {
        Ok(self.account(address)?.and_then(|a| a.code_hash))
    }

    fn code(&self, code_hash: &CodeHash) -> Result<Option<Arc<[u8]>>, StateError> {
        Ok(self.code_bytes(code_hash)?.map(Arc::from))
    }
}

/// Where the value a transaction read came from, for the offline bundle: committed state (to be
/// proven against the parent's state root) or earlier transactions of the same block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxReads {
    /// Keys read from committed state.
    pub base: BTreeSet<StateKey>,
    /// Code read, by hash (self-authenticating).
    pub codes: BTreeSet<CodeHash>,
    /// Earlier transactions (indexes in the block) whose writes or credits it read.
    pub depends_on: BTreeSet<u32>,
}

#[derive(Clone, Debug, Default)]
struct KeySource {
    /// The last transaction that replaced the value.
    writer: Option<u32>,
    /// Transactions that credited it since.
    creditors: BTreeSet<u32>,
}

/// Records, per transaction of a block, which values it read and from where.
#[derive(Debug, Default)]
struct Recorder {
    current: u32,
    sources: BTreeMap<StateKey, KeySource>,
    reads: BTreeMap<u32, TxReads>,
}

impl Recorder {
    fn read(&mut self, key: StateKey) {
        let current = self.current;
        let reads = self.reads.entry(current).or_default();
        match self.sources.get(&key) {
            Some(source) => {
                match source.writer {
                    Some(writer) if writer != current => {
                        reads.depends_on.insert(writer);
                    }
                    Some(_) => {}
                    None => {
                        reads.base.insert(key);
                    }
                }
                reads
                    .depends_on
                    .extend(source.creditors.iter().filter(|c| **c != current));
            }
            None => {
                reads.base.insert(key);
            }
        }
    }

    fn write(&mut self, key: StateKey) {
        self.sources.insert(
            key,
            KeySource {
                writer: Some(self.current),
                creditors: BTreeSet::new(),
            },
        );
    }

    fn code(&mut self, code_hash: CodeHash) {
        let current = self.current;
        self.reads
            .entry(current)
            .or_default()
            .codes
            .insert(code_hash);
    }

    fn credit(&mut self, key: StateKey) {
        let current = self.current;
        self.sources
            .entry(key)
            .or_default()
            .creditors
            .insert(current);
    }
}

/// One block's staged writes on top of committed state. Reads see the writes of earlier
/// transactions of the block; nothing reaches the disk until the block is committed. A recording
/// overlay (audits) also notes what each transaction read and from where.
#[derive(Debug)]
pub struct Overlay {
    base: CommittedView,
    changes: RwLock<StateChanges>,
    recorder: Option<Mutex<Recorder>>,
}

impl Overlay {
    /// An empty overlay on `base`.
    pub fn new(base: CommittedView) -> Overlay {
        Overlay {
            base,
            changes: RwLock::new(StateChanges::default()),
            recorder: None,
        }
    }

    /// An empty overlay on `base` that records reads per transaction (see [`Overlay::begin_tx`]).
    pub fn recording(base: CommittedView) -> Overlay {
        Overlay {
            recorder: Some(Mutex::new(Recorder::default())),
            ..Overlay::new(base)
        }
    }

    /// Attributes the reads and writes that follow to transaction `index` of the block.
    pub fn begin_tx(&self, index: u32) {
        if let Some(recorder) = &self.recorder {
            recorder.lock().current = index;
        }
    }

    /// What each transaction read, by index (empty unless recording).
    pub fn reads(&self) -> BTreeMap<u32, TxReads> {
        self.recorder
            .as_ref()
            .map(|r| r.lock().reads.clone())
            .unwrap_or_default()
    }

    fn record(&self, f: impl FnOnce(&mut Recorder)) {
        if let Some(recorder) = &self.recorder {
            f(&mut recorder.lock());
        }
    }

    /// The account as staged (or committed), default when absent.
    ///
    /// # Errors
    /// On a store failure.
    pub fn account(&self, address: &Address) -> Result<Account, StoreError> {
        self.record(|r| r.read(StateKey::Account(*address)));
        self.account_unrecorded(address)
    }

    fn account_unrecorded(&self, address: &Address) -> Result<Account, StoreError> {
        if let Some(account) = self.changes.read().accounts.get(address) {
            return Ok(account.clone());
        }
        Ok(self.base.account(address)?.unwrap_or_default())
    }

    /// Stages an account record.
    pub fn set_account(&self, address: Address, account: Account) {
        self.record(|r| r.write(StateKey::Account(address)));
        self.changes.write().accounts.insert(address, account);
    }

    /// Stages uploaded code.
    pub fn put_code(&self, code_hash: CodeHash, wasm: Arc<[u8]>) {
        self.changes.write().codes.insert(code_hash, wasm);
    }

    /// The staged changes (consumes the overlay).
    pub fn into_changes(self) -> StateChanges {
        self.changes.into_inner()
    }
}

impl StateView for Overlay {
    fn storage(&self, contract: &Address, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.record(|r| r.read(StateKey::Storage(*contract, key.to_vec())));
        if let Some(value) = self.changes.read().storage.get(&(*contract, key.to_vec())) {
            return Ok(value.clone());
        }
        Ok(self.base.storage_value(contract, key)?)
    }

    fn balance(&self, account: &Address) -> Result<U256, StateError> {
        Ok(self.account(account)?.balance)
    }

    fn contract_code(&self, address: &Address) -> Result<Option<CodeHash>, StateError> {
        let code_hash = self.account(address)?.code_hash;
        // The vm asks for a contract's code hash before running it; whether it then reads the
        // bytes depends on its caches, so the code is recorded here.
        if let Some(code_hash) = code_hash {
            self.record(|r| r.code(code_hash));
        }
        Ok(code_hash)
    }

    fn code(&self, code_hash: &CodeHash) -> Result<Option<Arc<[u8]>>, StateError> {
        self.record(|r| r.code(*code_hash));
        if let Some(code) = self.changes.read().codes.get(code_hash) {
            return Ok(Some(Arc::clone(code)));
        }
        self.base.code(code_hash)
    }
}

impl LedgerState for Overlay {
    fn account(&self, address: &Address) -> Result<Account, StateError> {
        Ok(Overlay::account(self, address)?)
    }

    fn set_account(&self, address: Address, account: Account) -> Result<(), StateError> {
        Overlay::set_account(self, address, account);
        Ok(())
    }

    fn credit(&self, address: Address, amount: U256) -> Result<(), TransitionError> {
        self.record(|r| r.credit(StateKey::Account(address)));
        let mut account = self
            .account_unrecorded(&address)
            .map_err(StateError::from)?;
        account.balance = account
            .balance
            .checked_add(amount)
            .ok_or_else(|| TransitionError::Invariant(format!("balance of {address} overflows")))?;
        self.changes.write().accounts.insert(address, account);
        Ok(())
    }

    fn put_code(&self, code_hash: CodeHash, wasm: Arc<[u8]>) {
        Overlay::put_code(self, code_hash, wasm);
    }

    fn set_storage(
        &self,
        contract: Address,
        key: Vec<u8>,
        value: Option<Vec<u8>>,
    ) -> Result<(), StateError> {
        self.record(|r| r.write(StateKey::Storage(contract, key.clone())));
        self.changes.write().storage.insert((contract, key), value);
        Ok(())
    }

    fn name(&self, name: &Name) -> Result<Option<NameRecord>, StateError> {
        self.record(|r| r.read(StateKey::Name(name.clone())));
        if let Some(record) = self.changes.read().names.get(name) {
            return Ok(Some(*record));
        }
        Ok(self.base.name(name)?)
    }

    fn set_name(&self, name: &Name, record: NameRecord) -> Result<(), StateError> {
        self.record(|r| r.write(StateKey::Name(name.clone())));
        self.changes.write().names.insert(name.clone(), record);
        Ok(())
    }
}
