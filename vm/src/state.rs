//! How state reaches the vm: the [`StateView`] trait (read-only committed state), the journaled
//! overlay an execution writes into, and [`MemoryState`], an in-memory implementation for tests
//! and the `opmeter exec` command.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::types::{Address, CodeHash, Event, WriteSet, U256};

/// A failure of the state backend (I/O, corruption). Always a node fault, never a receipt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("state backend failure: {0}")]
pub struct StateError(pub String);

/// Read access to committed state. Implementations must be deterministic: the same state gives
/// the same answers on every machine.
pub trait StateView: Send + Sync {
    /// A contract storage value.
    ///
    /// # Errors
    /// Only on backend failure.
    fn storage(&self, contract: &Address, key: &[u8]) -> Result<Option<Vec<u8>>, StateError>;

    /// An account's balance (zero when unknown).
    ///
    /// # Errors
    /// Only on backend failure.
    fn balance(&self, account: &Address) -> Result<U256, StateError>;

    /// The code hash of the contract deployed at `address`, if any.
    ///
    /// # Errors
    /// Only on backend failure.
    fn contract_code(&self, address: &Address) -> Result<Option<CodeHash>, StateError>;

    /// Original (uninstrumented) wasm bytes of `code_hash`.
    ///
    /// # Errors
    /// Only on backend failure.
    fn code(&self, code_hash: &CodeHash) -> Result<Option<Arc<[u8]>>, StateError>;

    /// The length of `code_hash`'s original bytes (what code loading is priced by). Backends
    /// that can answer without reading the code should.
    ///
    /// # Errors
    /// Only on backend failure.
    fn code_len_bytes(&self, code_hash: &CodeHash) -> Result<Option<u64>, StateError> {
        Ok(self.code(code_hash)?.map(|code| code.len() as u64))
    }
}

/// A simple in-memory state: contracts, code, storage and balances in ordered maps.
#[derive(Clone, Debug, Default)]
pub struct MemoryState {
    /// Storage by `(contract, key)`.
    pub storage: BTreeMap<(Address, Vec<u8>), Vec<u8>>,
    /// Balances.
    pub balances: BTreeMap<Address, U256>,
    /// Deployed contracts: address → code hash.
    pub contracts: BTreeMap<Address, CodeHash>,
    /// Code by hash.
    pub codes: BTreeMap<CodeHash, Arc<[u8]>>,
}

impl MemoryState {
    /// Stores `wasm` (not validated here) and records a contract at `address` running it.
    pub fn put_contract(&mut self, address: Address, wasm: &[u8]) -> CodeHash {
        let code_hash = CodeHash::of(wasm);
        self.codes
            .entry(code_hash)
            .or_insert_with(|| Arc::from(wasm));
        self.contracts.insert(address, code_hash);
        code_hash
    }

    /// Applies a successful execution's write set.
    pub fn apply(&mut self, writes: &WriteSet) {
        for ((contract, key), value) in &writes.storage {
            match value {
                Some(value) => {
                    self.storage.insert((*contract, key.clone()), value.clone());
                }
                None => {
                    self.storage.remove(&(*contract, key.clone()));
                }
            }
        }
        for (account, balance) in &writes.balances {
            self.balances.insert(*account, *balance);
        }
        for (address, code_hash) in &writes.contracts {
            self.contracts.insert(*address, *code_hash);
        }
    }
}

impl StateView for MemoryState {
    fn storage(&self, contract: &Address, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.storage.get(&(*contract, key.to_vec())).cloned())
    }

    fn balance(&self, account: &Address) -> Result<U256, StateError> {
        Ok(self.balances.get(account).copied().unwrap_or_default())
    }

    fn contract_code(&self, address: &Address) -> Result<Option<CodeHash>, StateError> {
        Ok(self.contracts.get(address).copied())
    }

    fn code(&self, code_hash: &CodeHash) -> Result<Option<Arc<[u8]>>, StateError> {
        Ok(self.codes.get(code_hash).cloned())
    }
}

enum Undo {
    Storage {
        key: (Address, Vec<u8>),
        previous: Option<Option<Vec<u8>>>,
    },
    Balance {
        account: Address,
        previous: Option<U256>,
    },
}

/// A position in the journal to roll back to.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Checkpoint {
    undo_len: usize,
    events_len: usize,
}

/// An execution's pending changes over committed state, with checkpoints so a failed callee's
/// writes (and events) can be undone without touching its caller's.
pub(crate) struct Journal {
    state: Arc<dyn StateView>,
    storage: BTreeMap<(Address, Vec<u8>), Option<Vec<u8>>>,
    balances: BTreeMap<Address, U256>,
    pub(crate) events: Vec<Event>,
    undo: Vec<Undo>,
}

impl Journal {
    pub(crate) fn new(state: Arc<dyn StateView>) -> Journal {
        Journal {
            state,
            storage: BTreeMap::new(),
            balances: BTreeMap::new(),
            events: Vec::new(),
            undo: Vec::new(),
        }
    }

    pub(crate) fn state(&self) -> &dyn StateView {
        &*self.state
    }

    pub(crate) fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            undo_len: self.undo.len(),
            events_len: self.events.len(),
        }
    }

    pub(crate) fn revert_to(&mut self, checkpoint: Checkpoint) {
        while self.undo.len() > checkpoint.undo_len {
            match self.undo.pop() {
                Some(Undo::Storage { key, previous }) => match previous {
                    Some(value) => {
                        self.storage.insert(key, value);
                    }
                    None => {
                        self.storage.remove(&key);
                    }
                },
                Some(Undo::Balance { account, previous }) => match previous {
                    Some(value) => {
                        self.balances.insert(account, value);
                    }
                    None => {
                        self.balances.remove(&account);
                    }
                },
                None => break,
            }
        }
        self.events.truncate(checkpoint.events_len);
    }

    pub(crate) fn storage_read(
        &self,
        contract: &Address,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, StateError> {
        match self.storage.get(&(*contract, key.to_vec())) {
            Some(pending) => Ok(pending.clone()),
            None => self.state.storage(contract, key),
        }
    }

    pub(crate) fn storage_set(&mut self, contract: Address, key: Vec<u8>, value: Option<Vec<u8>>) {
        let slot = (contract, key);
        let previous = self.storage.insert(slot.clone(), value);
        self.undo.push(Undo::Storage {
            key: slot,
            previous,
        });
    }

    pub(crate) fn balance(&self, account: &Address) -> Result<U256, StateError> {
        match self.balances.get(account) {
            Some(balance) => Ok(*balance),
            None => self.state.balance(account),
        }
    }

    fn balance_set(&mut self, account: Address, value: U256) {
        let previous = self.balances.insert(account, value);
        self.undo.push(Undo::Balance { account, previous });
    }

    /// Moves `value` from `from` to `to`; `Ok(false)` when `from` cannot afford it.
    pub(crate) fn transfer(
        &mut self,
        from: Address,
        to: Address,
        value: U256,
    ) -> Result<bool, StateError> {
        if value.is_zero() || from == to {
            return Ok(self.balance(&from)? >= value);
        }
        let from_balance = self.balance(&from)?;
        let Some(from_after) = from_balance.checked_sub(value) else {
            return Ok(false);
        };
        let to_after = self
            .balance(&to)?
            .checked_add(value)
            .ok_or_else(|| StateError("balance overflow".into()))?;
        self.balance_set(from, from_after);
        self.balance_set(to, to_after);
        Ok(true)
    }

    pub(crate) fn into_write_set(self) -> (WriteSet, Vec<Event>) {
        (
            WriteSet {
                storage: self.storage,
                balances: self.balances,
                contracts: BTreeMap::new(),
            },
            self.events,
        )
    }
}
