//! Views of state for the vm: the committed head ([`Store`] flat families), a past height (the
//! tree's value history), and a staged overlay that collects one block's writes on top of the head
//! without persisting anything.

use std::collections::BTreeMap;
use std::sync::Arc;

use opmeter_vm::{Address, CodeHash, StateError, StateView, WriteSet, U256};
use parking_lot::RwLock;

use crate::store::{StateChanges, StateKey, Store, StoreError};
use crate::types::Account;

impl From<StoreError> for StateError {
    fn from(e: StoreError) -> StateError {
        StateError(e.to_string())
    }
}

/// Where committed state is read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// The latest committed block (one point lookup per read).
    Head,
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
        match self.version {
            Version::Head => self.store.account(address),
            Version::At(height) => self.store.account_at(address, height),
        }
    }

    fn storage_value(&self, contract: &Address, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.version {
            Version::Head => self.store.storage(contract, key),
            Version::At(height) => self
                .store
                .state_value_at(&StateKey::Storage(*contract, key.to_vec()), height),
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
        Ok(self.store.code(code_hash)?.map(Arc::from))
    }
}

/// One block's staged writes on top of committed state. Reads see the writes of earlier
/// transactions of the block; nothing reaches the disk until the block is committed.
#[derive(Debug)]
pub struct Overlay {
    base: CommittedView,
    changes: RwLock<StateChanges>,
}

impl Overlay {
    /// An empty overlay on `base`.
    pub fn new(base: CommittedView) -> Overlay {
        Overlay {
            base,
            changes: RwLock::new(StateChanges::default()),
        }
    }

    /// The account as staged (or committed), default when absent.
    ///
    /// # Errors
    /// On a store failure.
    pub fn account(&self, address: &Address) -> Result<Account, StoreError> {
        if let Some(account) = self.changes.read().accounts.get(address) {
            return Ok(account.clone());
        }
        Ok(self.base.account(address)?.unwrap_or_default())
    }

    /// Stages an account record.
    pub fn set_account(&self, address: Address, account: Account) {
        self.changes.write().accounts.insert(address, account);
    }

    /// Stages uploaded code.
    pub fn put_code(&self, code_hash: CodeHash, wasm: Arc<[u8]>) {
        self.changes.write().codes.insert(code_hash, wasm);
    }

    /// Applies a successful execution's writes.
    ///
    /// # Errors
    /// On a store failure while reading the accounts it touches.
    pub fn apply(&self, writes: &WriteSet) -> Result<(), StoreError> {
        let mut accounts: BTreeMap<Address, Account> = BTreeMap::new();
        for (address, balance) in &writes.balances {
            let mut account = self.account(address)?;
            account.balance = *balance;
            accounts.insert(*address, account);
        }
        for (address, code_hash) in &writes.contracts {
            let mut account = match accounts.remove(address) {
                Some(account) => account,
                None => self.account(address)?,
            };
            account.code_hash = Some(*code_hash);
            accounts.insert(*address, account);
        }
        let mut changes = self.changes.write();
        changes.accounts.extend(accounts);
        for ((contract, key), value) in &writes.storage {
            changes
                .storage
                .insert((*contract, key.clone()), value.clone());
        }
        Ok(())
    }

    /// The staged changes (consumes the overlay).
    pub fn into_changes(self) -> StateChanges {
        self.changes.into_inner()
    }
}

impl StateView for Overlay {
    fn storage(&self, contract: &Address, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        if let Some(value) = self.changes.read().storage.get(&(*contract, key.to_vec())) {
            return Ok(value.clone());
        }
        Ok(self.base.storage_value(contract, key)?)
    }

    fn balance(&self, account: &Address) -> Result<U256, StateError> {
        Ok(self.account(account)?.balance)
    }

    fn contract_code(&self, address: &Address) -> Result<Option<CodeHash>, StateError> {
        Ok(self.account(address)?.code_hash)
    }

    fn code(&self, code_hash: &CodeHash) -> Result<Option<Arc<[u8]>>, StateError> {
        if let Some(code) = self.changes.read().codes.get(code_hash) {
            return Ok(Some(Arc::clone(code)));
        }
        self.base.code(code_hash)
    }
}
