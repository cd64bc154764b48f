//! Pending transactions: admitted (signature verified, affordable against committed state plus
//! the sender's other pending transactions), bounded, and offered to proposals in arrival order
//! with each sender's nonces consecutive.

use std::collections::{BTreeMap, HashMap};

use opmeter_vm::{Address, U256};

use opmeter_ledger::admission::AdmissionError;
use opmeter_ledger::block::Account;
use opmeter_ledger::encoding::Hash32;

use crate::chain::CheckedTx;

/// Mempool limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MempoolConfig {
    /// Most pending transactions. Bounds the node's memory under a flood.
    pub max_txs: u32,
    /// How far ahead of the account's next nonce a transaction may be. Bounds what one sender
    /// can park in the pool without being executable.
    pub nonce_window: u64,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        MempoolConfig {
            max_txs: 100_000,
            nonce_window: 64,
        }
    }
}

#[derive(Debug)]
struct Entry {
    tx: CheckedTx,
    seq: u64,
    max_cost: U256,
}

/// The pool.
#[derive(Debug, Default)]
pub struct Mempool {
    config: MempoolConfig,
    by_hash: HashMap<Hash32, Entry>,
    by_sender: BTreeMap<Address, BTreeMap<u64, Hash32>>,
    arrival: BTreeMap<u64, Hash32>,
    next_seq: u64,
}

impl Mempool {
    /// An empty pool.
    pub fn new(config: MempoolConfig) -> Mempool {
        Mempool {
            config,
            ..Mempool::default()
        }
    }

    /// Pending transactions.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// True when `hash` is pending.
    pub fn contains(&self, hash: &Hash32) -> bool {
        self.by_hash.contains_key(hash)
    }

    /// The pending transaction with `hash`.
    pub fn get(&self, hash: &Hash32) -> Option<&CheckedTx> {
        self.by_hash.get(hash).map(|entry| &entry.tx)
    }

    /// The nonce after `sender`'s consecutive pending transactions starting at `committed`.
    pub fn next_nonce(&self, sender: &Address, committed: u64) -> u64 {
        let mut next = committed;
        if let Some(pending) = self.by_sender.get(sender) {
            while pending.contains_key(&next) {
                next += 1;
            }
        }
        next
    }

    /// The checks that depend on state and on the pool: nonce window against the committed
    /// account, nonce not taken, balance covering this and the sender's pending transactions,
    /// capacity.
    ///
    /// # Errors
    /// The refusal.
    pub fn check(&self, tx: &CheckedTx, committed: &Account) -> Result<U256, AdmissionError> {
        if self.by_hash.contains_key(&tx.hash) {
            return Err(AdmissionError::AlreadyKnown);
        }
        let nonce = tx.signed.tx.nonce;
        if nonce < committed.nonce {
            return Err(AdmissionError::NonceTooLow {
                nonce,
                expected: committed.nonce,
            });
        }
        if nonce - committed.nonce > self.config.nonce_window {
            return Err(AdmissionError::NonceTooHigh {
                nonce,
                expected: committed.nonce,
                window: self.config.nonce_window,
            });
        }
        let pending = self.by_sender.get(&tx.sender);
        if pending.is_some_and(|p| p.contains_key(&nonce)) {
            return Err(AdmissionError::NonceTaken { nonce });
        }
        let max_cost = tx.signed.tx.max_cost().unwrap_or(U256::MAX);
        let pending_cost = pending
            .into_iter()
            .flat_map(|p| p.values())
            .filter_map(|h| self.by_hash.get(h))
            .fold(U256::zero(), |acc, e| acc.saturating_add(e.max_cost));
        let required = pending_cost.saturating_add(max_cost);
        if committed.balance < required || max_cost == U256::MAX {
            return Err(AdmissionError::InsufficientBalance {
                balance: committed.balance,
                required,
            });
        }
        if self.by_hash.len() >= self.config.max_txs as usize {
            return Err(AdmissionError::MempoolFull {
                max_txs: self.config.max_txs,
            });
        }
        Ok(max_cost)
    }

    /// Adds a transaction that passed [`Mempool::check`].
    pub fn insert(&mut self, tx: CheckedTx, max_cost: U256) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.arrival.insert(seq, tx.hash);
        self.by_sender
            .entry(tx.sender)
            .or_default()
            .insert(tx.signed.tx.nonce, tx.hash);
        self.by_hash.insert(tx.hash, Entry { tx, seq, max_cost });
    }

    /// Executable transactions in arrival order, each sender's nonces consecutive from its
    /// committed nonce (`next_nonce`), at most `max` of them.
    pub fn candidates(&self, next_nonce: impl Fn(&Address) -> u64, max: usize) -> Vec<CheckedTx> {
        let mut expected: BTreeMap<Address, u64> = BTreeMap::new();
        let mut taken = std::collections::HashSet::new();
        let mut out = Vec::new();
        loop {
            let before = out.len();
            for hash in self.arrival.values() {
                if out.len() >= max {
                    return out;
                }
                if taken.contains(hash) {
                    continue;
                }
                let Some(entry) = self.by_hash.get(hash) else {
                    continue;
                };
                let next = expected
                    .entry(entry.tx.sender)
                    .or_insert_with(|| next_nonce(&entry.tx.sender));
                if entry.tx.signed.tx.nonce == *next {
                    *next += 1;
                    taken.insert(*hash);
                    out.push(entry.tx.clone());
                }
            }
            // Another pass only helps when a sender's nonces arrived out of order.
            if out.len() == before || out.len() >= max {
                return out;
            }
        }
    }

    /// Removes committed transactions and, for their senders, every pending transaction whose
    /// nonce is now below the committed nonce. Returns every hash removed.
    pub fn remove_committed(
        &mut self,
        committed: &[Hash32],
        next_nonce: impl Fn(&Address) -> u64,
    ) -> Vec<Hash32> {
        let mut removed = Vec::new();
        let mut senders = Vec::new();
        for hash in committed {
            if let Some(entry) = self.remove(hash) {
                senders.push(entry.tx.sender);
                removed.push(*hash);
            }
        }
        senders.sort();
        senders.dedup();
        for sender in senders {
            let next = next_nonce(&sender);
            let stale: Vec<Hash32> = self
                .by_sender
                .get(&sender)
                .map(|p| p.range(..next).map(|(_, h)| *h).collect())
                .unwrap_or_default();
            for hash in stale {
                self.remove(&hash);
                removed.push(hash);
            }
        }
        removed
    }

    /// Takes transactions back out (admission rolls back a batch it failed to persist).
    pub fn remove_all(&mut self, hashes: &[Hash32]) {
        for hash in hashes {
            self.remove(hash);
        }
    }

    fn remove(&mut self, hash: &Hash32) -> Option<Entry> {
        let entry = self.by_hash.remove(hash)?;
        self.arrival.remove(&entry.seq);
        if let Some(pending) = self.by_sender.get_mut(&entry.tx.sender) {
            pending.remove(&entry.tx.signed.tx.nonce);
            if pending.is_empty() {
                self.by_sender.remove(&entry.tx.sender);
            }
        }
        Some(entry)
    }
}
