//! The warm set (schedule v2 on): the code hashes every node keeps compiled, held in consensus
//! state so that whether a call's code is "warm" is the same on every node and never depends on
//! a cache. Members pay [`crate::CodeLoadCosts::warm_per_kib`] per frame, other code
//! `cold_per_kib`; code paid cold (or deployed) in a block joins the set, the oldest members
//! leaving first when it is over [`crate::CodeLoadCosts::set_bytes_max`] or `set_len_max`.
//!
//! Layout: the storage of the reserved address [`ADDRESS`] (no contract can live there: contract
//! addresses are blake3 outputs, and no contract can write another address's storage):
//!
//! | key | value |
//! |---|---|
//! | `"c" ‖ code_hash` | `borsh(Member { len_bytes: u32, seq: u64 })` |
//! | `"s" ‖ seq (u64 big-endian)` | the member's 32-byte code hash |
//! | `"m"` | `borsh(Meta { next_seq: u64, oldest_seq: u64, bytes_total: u64, len: u32 })` |
//!
//! ```
//! use std::sync::Arc;
//! use opmeter_vm::warm_set::{is_member, Update};
//! use opmeter_vm::{CodeHash, MemoryState, Schedule};
//!
//! let costs = Schedule::v2().code_loading.unwrap();
//! let state = MemoryState::default();
//! let code = CodeHash([7; 32]);
//! let mut update = Update::new(&state);
//! update.insert(code, 24_000, &costs).unwrap();
//! let writes = update.into_writes();
//! let mut after = state.clone();
//! for (key, value) in writes {
//!     after.storage.insert((opmeter_vm::warm_set::ADDRESS, key), value.unwrap());
//! }
//! assert!(is_member(&after, &code).unwrap());
//! ```

use std::collections::BTreeMap;

use borsh::{BorshDeserialize, BorshSerialize};

use crate::schedule::CodeLoadCosts;
use crate::state::{StateError, StateView};
use crate::types::{Address, CodeHash};

/// The reserved address whose storage holds the warm set.
pub const ADDRESS: Address = Address([0xFF; 32]);

/// The key of the set's bookkeeping record.
pub const META_KEY: &[u8] = b"m";

/// The key of `code_hash`'s membership record.
pub fn member_key(code_hash: &CodeHash) -> Vec<u8> {
    let mut key = Vec::with_capacity(33);
    key.push(b'c');
    key.extend_from_slice(&code_hash.0);
    key
}

/// The key of the member that joined as number `seq`.
pub fn order_key(seq: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(9);
    key.push(b's');
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// A member's record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Member {
    /// Its code length.
    pub len_bytes: u32,
    /// Its joining number (the oldest leaves first).
    pub seq: u64,
}

/// The set's bookkeeping.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Meta {
    /// The next joining number.
    pub next_seq: u64,
    /// The oldest member's joining number (`== next_seq` when empty).
    pub oldest_seq: u64,
    /// Sum of the members' code lengths.
    pub bytes_total: u64,
    /// Number of members.
    pub len: u32,
}

/// Whether `code_hash` is a member, in `state`.
///
/// # Errors
/// When the backend fails.
pub fn is_member(state: &dyn StateView, code_hash: &CodeHash) -> Result<bool, StateError> {
    Ok(state.storage(&ADDRESS, &member_key(code_hash))?.is_some())
}

/// Every member's code hash in `state`, oldest first (the order they leave in).
///
/// # Errors
/// When the backend fails or a record does not decode.
pub fn members(state: &dyn StateView) -> Result<Vec<CodeHash>, StateError> {
    let Some(meta) = state.storage(&ADDRESS, META_KEY)? else {
        return Ok(Vec::new());
    };
    let meta = Meta::try_from_slice(&meta).map_err(|_| corrupt("the meta record"))?;
    let mut members = Vec::with_capacity(meta.len as usize);
    for seq in meta.oldest_seq..meta.next_seq {
        if let Some(hash) = state.storage(&ADDRESS, &order_key(seq))? {
            let hash: [u8; 32] = hash
                .as_slice()
                .try_into()
                .map_err(|_| corrupt("an order record"))?;
            members.push(CodeHash(hash));
        }
    }
    Ok(members)
}

fn corrupt(what: &str) -> StateError {
    StateError(format!("warm set: {what}"))
}

/// Changes to the set over a state, read through the changes already made (several codes can
/// join in one transaction). [`Update::into_writes`] gives the storage writes of [`ADDRESS`].
pub struct Update<'a> {
    state: &'a dyn StateView,
    pending: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl<'a> Update<'a> {
    /// No changes yet over `state`.
    pub fn new(state: &'a dyn StateView) -> Update<'a> {
        Update {
            state,
            pending: BTreeMap::new(),
        }
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        match self.pending.get(key) {
            Some(value) => Ok(value.clone()),
            None => self.state.storage(&ADDRESS, key),
        }
    }

    fn put(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
        self.pending.insert(key, value);
    }

    fn meta(&self) -> Result<Meta, StateError> {
        match self.get(META_KEY)? {
            None => Ok(Meta::default()),
            Some(bytes) => Meta::try_from_slice(&bytes).map_err(|_| corrupt("bad meta record")),
        }
    }

    /// Adds `code_hash` (of `len_bytes`) unless it is a member, first removing the oldest
    /// members while the set would exceed its bounds. Returns whether it joined.
    ///
    /// # Errors
    /// When the backend fails or the set's records are inconsistent.
    pub fn insert(
        &mut self,
        code_hash: CodeHash,
        len_bytes: u32,
        costs: &CodeLoadCosts,
    ) -> Result<bool, StateError> {
        if self.get(&member_key(&code_hash))?.is_some() {
            return Ok(false);
        }
        let mut meta = self.meta()?;
        let overflow = || corrupt("counter overflow");
        loop {
            let bytes_after = meta
                .bytes_total
                .checked_add(u64::from(len_bytes))
                .ok_or_else(overflow)?;
            let fits = bytes_after <= costs.set_bytes_max && meta.len < costs.set_len_max;
            if fits || meta.len == 0 {
                break;
            }
            let order = order_key(meta.oldest_seq);
            let oldest = self
                .get(&order)?
                .and_then(|bytes| <[u8; 32]>::try_from(bytes.as_slice()).ok())
                .map(CodeHash)
                .ok_or_else(|| corrupt("oldest member missing"))?;
            let member = self
                .get(&member_key(&oldest))?
                .and_then(|bytes| Member::try_from_slice(&bytes).ok())
                .ok_or_else(|| corrupt("member record missing"))?;
            self.put(order, None);
            self.put(member_key(&oldest), None);
            meta.bytes_total = meta
                .bytes_total
                .checked_sub(u64::from(member.len_bytes))
                .ok_or_else(overflow)?;
            meta.len = meta.len.checked_sub(1).ok_or_else(overflow)?;
            meta.oldest_seq = meta.oldest_seq.checked_add(1).ok_or_else(overflow)?;
        }
        let seq = meta.next_seq;
        let member = Member { len_bytes, seq };
        self.put(
            member_key(&code_hash),
            Some(borsh::to_vec(&member).map_err(|_| overflow())?),
        );
        self.put(order_key(seq), Some(code_hash.0.to_vec()));
        meta.next_seq = seq.checked_add(1).ok_or_else(overflow)?;
        meta.bytes_total = meta
            .bytes_total
            .checked_add(u64::from(len_bytes))
            .ok_or_else(overflow)?;
        meta.len = meta.len.checked_add(1).ok_or_else(overflow)?;
        self.put(
            META_KEY.to_vec(),
            Some(borsh::to_vec(&meta).map_err(|_| overflow())?),
        );
        Ok(true)
    }

    /// The storage writes of [`ADDRESS`] (`None` removes), in key order.
    pub fn into_writes(self) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        self.pending.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryState;

    fn apply(state: &mut MemoryState, writes: Vec<(Vec<u8>, Option<Vec<u8>>)>) {
        for (key, value) in writes {
            match value {
                Some(value) => state.storage.insert((ADDRESS, key), value),
                None => state.storage.remove(&(ADDRESS, key)),
            };
        }
    }

    fn members(state: &MemoryState) -> Vec<u8> {
        (0..=255u8)
            .filter(|b| is_member(state, &CodeHash([*b; 32])).unwrap())
            .collect()
    }

    /// The members as [`super::members`] lists them (first byte of each hash).
    fn listed(state: &MemoryState) -> Vec<u8> {
        super::members(state)
            .unwrap()
            .iter()
            .map(|hash| hash.0[0])
            .collect()
    }

    #[test]
    fn the_oldest_members_leave_first_when_a_bound_is_reached() {
        let costs = CodeLoadCosts {
            warm_per_kib: 1,
            cold_per_kib: 2,
            set_bytes_max: 1_000,
            set_len_max: 3,
        };
        let mut state = MemoryState::default();
        for (code, len) in [(1u8, 100u32), (2, 100), (3, 100)] {
            let mut update = Update::new(&state);
            assert!(update.insert(CodeHash([code; 32]), len, &costs).unwrap());
            let writes = update.into_writes();
            apply(&mut state, writes);
        }
        assert_eq!(members(&state), [1, 2, 3]);
        assert_eq!(listed(&state), [1, 2, 3], "oldest first");
        // A member does not join twice.
        let mut update = Update::new(&state);
        assert!(!update.insert(CodeHash([2; 32]), 100, &costs).unwrap());
        assert!(update.into_writes().is_empty());
        // Over the count: the oldest (1) leaves.
        let mut update = Update::new(&state);
        update.insert(CodeHash([4; 32]), 100, &costs).unwrap();
        let writes = update.into_writes();
        apply(&mut state, writes);
        assert_eq!(members(&state), [2, 3, 4]);
        assert_eq!(listed(&state), [2, 3, 4], "oldest first");
        // Over the bytes, in one update with two joins: 2 and 3 leave for 5 (850 B), then 4
        // leaves for 6.
        let mut update = Update::new(&state);
        update.insert(CodeHash([5; 32]), 850, &costs).unwrap();
        update.insert(CodeHash([6; 32]), 100, &costs).unwrap();
        let writes = update.into_writes();
        apply(&mut state, writes);
        assert_eq!(members(&state), [5, 6]);
        assert_eq!(listed(&state), [5, 6], "oldest first");
        let meta = Meta::try_from_slice(&state.storage[&(ADDRESS, META_KEY.to_vec())]).unwrap();
        assert_eq!(
            meta,
            Meta {
                next_seq: 6,
                oldest_seq: 4,
                bytes_total: 950,
                len: 2
            }
        );
        // No record of a departed member remains.
        let keys = state.storage.keys().filter(|(a, _)| *a == ADDRESS).count();
        assert_eq!(keys, 1 + 2 * 2);
    }
}
