//! Consensus data a client checks byte for byte: accounts, block headers, blocks and receipts,
//! with their canonical (borsh) encodings, hashes and Merkle roots. Every integer here is a
//! fixed-width `u32`/`u64`/`U256`. The node stores exactly these; they live here so an offline
//! verifier links them without the node's storage.
//!
//! ```
//! use opmeter_rpc::ledger::{merkle_path, merkle_root, verify_merkle_path};
//! use opmeter_rpc::tx::Hash32;
//! let leaves = [Hash32([1; 32]), Hash32([2; 32]), Hash32([3; 32])];
//! let root = merkle_root(leaves);
//! let path = merkle_path(&leaves, 2).unwrap();
//! assert!(verify_merkle_path(leaves[2], 2, 3, &path, root));
//! assert!(!verify_merkle_path(leaves[1], 2, 3, &path, root));
//! ```

use std::collections::BTreeMap;

use borsh::{BorshDeserialize, BorshSerialize};
use opmeter_vm::{Address, CodeHash, Event, GasCategory, Outcome, Schedule, Status, U256};

use crate::tx::{borsh_u256, Hash32, SignedTransaction};

/// An account's record in the state tree. Contracts are accounts with a code hash.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Account {
    /// Balance.
    #[borsh(
        serialize_with = "borsh_u256::serialize",
        deserialize_with = "borsh_u256::deserialize"
    )]
    pub balance: U256,
    /// Transactions sent so far (the next valid nonce).
    pub nonce: u64,
    /// Set for contracts.
    pub code_hash: Option<CodeHash>,
}

/// A block header. Its hash is blake3 of its borsh encoding.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Header {
    /// The chain.
    pub chain_id: String,
    /// Height (genesis = 0).
    pub height: u64,
    /// Hash of the previous header (zero for genesis).
    pub parent_hash: Hash32,
    /// Taken once by the producer and passed into the vm; strictly increasing.
    pub timestamp_ms: u64,
    /// Merkle root of accounts and contract storage after this block.
    pub state_root: Hash32,
    /// Merkle root of the transaction hashes.
    pub transactions_root: Hash32,
    /// Merkle root of the receipt hashes.
    pub receipts_root: Hash32,
    /// Gas used by all transactions.
    pub gas_used: u64,
    /// Number of transactions.
    pub tx_count: u32,
    /// Hash of the vm schedule the block was executed with.
    pub schedule_hash: [u8; 32],
}

impl Header {
    /// `blake3` of the canonical encoding.
    pub fn hash(&self) -> Hash32 {
        Hash32(*blake3::hash(&borsh::to_vec(self).unwrap_or_default()).as_bytes())
    }
}

/// A header and its transactions.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Block {
    /// Header.
    pub header: Header,
    /// Transactions, in execution order.
    pub transactions: Vec<SignedTransaction>,
}

/// The outcome class of a transaction. Stable codes: `0..=3` mirror the vm's [`Status`];
/// `4..` are transactions a block contained but that could not be executed at all (no fee, no
/// state change, nonce not consumed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[borsh(use_discriminant = true)]
#[repr(u8)]
pub enum ReceiptStatus {
    /// Executed and committed.
    Success = 0,
    /// The contract reverted; its writes were rolled back, the fee was charged.
    Revert = 1,
    /// The contract trapped; its writes were rolled back, the fee was charged.
    Trap = 2,
    /// Out of gas; writes rolled back, the whole gas limit charged.
    OutOfGas = 3,
    /// The nonce was not the sender's next one when the block ran.
    NonceMismatch = 4,
    /// The sender could not pay `gas_limit × gas_price + value` when the block ran.
    InsufficientFunds = 5,
    /// A deployment whose code fails validation (only a faulty proposer can include one): the
    /// intrinsic gas is charged, nothing is deployed.
    InvalidCode = 6,
}

impl ReceiptStatus {
    /// The stable numeric code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// A stable lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            ReceiptStatus::Success => "success",
            ReceiptStatus::Revert => "revert",
            ReceiptStatus::Trap => "trap",
            ReceiptStatus::OutOfGas => "outOfGas",
            ReceiptStatus::NonceMismatch => "nonceMismatch",
            ReceiptStatus::InsufficientFunds => "insufficientFunds",
            ReceiptStatus::InvalidCode => "invalidCode",
        }
    }

    /// The receipt status of a vm outcome.
    pub fn from_vm(status: Status) -> ReceiptStatus {
        match status {
            Status::Success => ReceiptStatus::Success,
            Status::Revert => ReceiptStatus::Revert,
            Status::Trap(_) => ReceiptStatus::Trap,
            Status::OutOfGas => ReceiptStatus::OutOfGas,
        }
    }
}

/// What a transaction did and what it cost. Every field is consensus data (the receipts root
/// commits to it); debug logs are not part of it.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Receipt {
    /// The transaction.
    pub tx_hash: Hash32,
    /// The sender.
    pub sender: Address,
    /// Block height.
    pub height: u64,
    /// Position in the block.
    pub index: u32,
    /// Outcome class.
    pub status: ReceiptStatus,
    /// The trap code when `status` is [`ReceiptStatus::Trap`].
    pub trap_code: Option<u8>,
    /// Gas used, intrinsic gas included.
    pub gas_used: u64,
    /// The transaction's gas limit.
    pub gas_limit: u64,
    /// Where every unit of `gas_used` went, by stable key; sums exactly to `gas_used`.
    pub gas_breakdown: BTreeMap<String, u64>,
    /// Price per gas unit.
    #[borsh(
        serialize_with = "borsh_u256::serialize",
        deserialize_with = "borsh_u256::deserialize"
    )]
    pub gas_price: U256,
    /// `gas_used × gas_price`, moved from the sender to the fee collector.
    #[borsh(
        serialize_with = "borsh_u256::serialize",
        deserialize_with = "borsh_u256::deserialize"
    )]
    pub fee: U256,
    /// Output on success, revert data on revert.
    pub output: Vec<u8>,
    /// Events (empty unless successful).
    pub events: Vec<Event>,
    /// Hash of the schedule that priced the transaction.
    pub schedule_hash: [u8; 32],
    /// The new contract's address, for deployments (also when they failed).
    pub contract_address: Option<Address>,
}

impl Receipt {
    /// `blake3` of the canonical encoding (the leaf of the receipts root).
    pub fn hash(&self) -> Hash32 {
        Hash32(*blake3::hash(&borsh::to_vec(self).unwrap_or_default()).as_bytes())
    }

    /// Sum of the breakdown.
    pub fn breakdown_total(&self) -> u64 {
        self.gas_breakdown
            .values()
            .fold(0u64, |acc, v| acc.saturating_add(*v))
    }
}

/// The breakdown of a vm outcome with the transaction's intrinsic gas added, by stable key.
pub fn breakdown_with_intrinsic(
    outcome: Option<&Outcome>,
    intrinsic_gas: u64,
) -> BTreeMap<String, u64> {
    let mut breakdown = BTreeMap::new();
    if intrinsic_gas > 0 {
        breakdown.insert(GasCategory::Transaction.key().to_string(), intrinsic_gas);
    }
    if let Some(outcome) = outcome {
        for (key, gas) in outcome.breakdown_by_key() {
            let entry = breakdown.entry(key.to_string()).or_insert(0u64);
            *entry = entry.saturating_add(gas);
        }
    }
    breakdown
}

/// `tx_base + tx_per_byte × len_bytes` of `schedule` (saturating: a huge result just fails the
/// limit): the gas every transaction pays before it runs.
pub fn intrinsic_gas(schedule: &Schedule, len_bytes: u32) -> u64 {
    let costs = &schedule.transaction;
    costs
        .tx_per_byte
        .saturating_mul(u64::from(len_bytes))
        .saturating_add(costs.tx_base)
}

fn merkle_leaf(leaf: &Hash32) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(b"opmeter/merkle/leaf");
    h.update(&leaf.0);
    *h.finalize().as_bytes()
}

fn merkle_node(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(b"opmeter/merkle/node");
    h.update(left);
    h.update(right);
    *h.finalize().as_bytes()
}

/// The level above `level`: pairs hashed, an odd last node carried up unchanged.
fn parent_level(level: &[[u8; 32]]) -> Vec<[u8; 32]> {
    level
        .chunks(2)
        .map(|pair| match pair {
            [l, r] => merkle_node(l, r),
            [single] => *single,
            _ => unreachable!("chunks(2) yields one or two"),
        })
        .collect()
}

/// Binary Merkle root over 32-byte leaves: `blake3("leaf" ‖ x)` at the bottom, `blake3("node" ‖
/// l ‖ r)` above, an odd node carried up unchanged; the root of no leaves is all zeroes.
pub fn merkle_root(leaves: impl IntoIterator<Item = Hash32>) -> Hash32 {
    let mut level: Vec<[u8; 32]> = leaves.into_iter().map(|leaf| merkle_leaf(&leaf)).collect();
    if level.is_empty() {
        return Hash32::default();
    }
    while level.len() > 1 {
        level = parent_level(&level);
    }
    Hash32(level[0])
}

/// The sibling hashes from leaf `index` up to the root of [`merkle_root`] (levels where the node
/// is carried up unpaired contribute nothing); `None` when `index` is out of range.
pub fn merkle_path(leaves: &[Hash32], index: u32) -> Option<Vec<Hash32>> {
    let mut position = usize::try_from(index).ok()?;
    if position >= leaves.len() {
        return None;
    }
    let mut level: Vec<[u8; 32]> = leaves.iter().map(merkle_leaf).collect();
    let mut path = Vec::new();
    while level.len() > 1 {
        let sibling = position ^ 1;
        if let Some(hash) = level.get(sibling) {
            path.push(Hash32(*hash));
        }
        level = parent_level(&level);
        position /= 2;
    }
    Some(path)
}

/// Checks that `leaf` is at `index` of `count` leaves under `root`, given its [`merkle_path`].
pub fn verify_merkle_path(
    leaf: Hash32,
    index: u32,
    count: u32,
    path: &[Hash32],
    root: Hash32,
) -> bool {
    if index >= count {
        return false;
    }
    let (mut position, mut width) = (u64::from(index), u64::from(count));
    let mut hash = merkle_leaf(&leaf);
    let mut siblings = path.iter();
    while width > 1 {
        let sibling = position ^ 1;
        if sibling < width {
            let Some(other) = siblings.next() else {
                return false;
            };
            hash = if position % 2 == 0 {
                merkle_node(&hash, &other.0)
            } else {
                merkle_node(&other.0, &hash)
            };
        }
        position /= 2;
        width = width.div_ceil(2);
    }
    siblings.next().is_none() && Hash32(hash) == root
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tx::{Payload, Transaction};
    use ed25519_dalek::SigningKey;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn transfer(seed: u8, nonce: u64) -> Transaction {
        Transaction {
            chain_id: "test".into(),
            public_key: key(seed).verifying_key().to_bytes(),
            nonce,
            gas_limit: 100_000,
            gas_price: U256::from(2u64),
            payload: Payload::Transfer {
                to: Address([9; 32]),
                amount: U256::from(5u64),
            },
        }
    }

    #[test]
    fn signed_transactions_round_trip_and_verify() {
        let signed = transfer(1, 0).sign(&key(1));
        let bytes = signed.encode();
        let decoded = SignedTransaction::decode(&bytes).unwrap();
        assert_eq!(decoded, signed);
        decoded.verify(&decoded.hash()).unwrap();
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(SignedTransaction::decode(&extra).is_err(), "trailing bytes");
    }

    #[test]
    fn a_signature_by_another_key_or_over_another_tx_fails() {
        let forged = transfer(1, 0).sign(&key(2));
        assert!(forged.verify(&forged.hash()).is_err());
        let mut changed = transfer(1, 0).sign(&key(1));
        changed.tx.nonce = 1;
        assert!(changed.verify(&changed.hash()).is_err());
    }

    #[test]
    fn max_cost_is_checked() {
        let mut tx = transfer(1, 0);
        assert_eq!(tx.max_cost(), Some(U256::from(200_005u64)));
        tx.gas_price = U256::MAX;
        assert_eq!(tx.max_cost(), None);
    }

    #[test]
    fn merkle_root_depends_on_order_and_content() {
        let a = Hash32([1; 32]);
        let b = Hash32([2; 32]);
        let c = Hash32([3; 32]);
        assert_eq!(merkle_root([]), Hash32::default());
        assert_ne!(merkle_root([a]), a, "leaves are domain-separated");
        assert_ne!(merkle_root([a, b]), merkle_root([b, a]));
        assert_ne!(merkle_root([a, b, c]), merkle_root([a, b]));
        assert_eq!(merkle_root([a, b, c]), merkle_root([a, b, c]));
    }

    #[test]
    fn merkle_paths_verify_for_every_leaf_and_count() {
        for count in 1u32..=9 {
            let leaves: Vec<Hash32> = (0..count).map(|i| Hash32([i as u8 + 1; 32])).collect();
            let root = merkle_root(leaves.iter().copied());
            for index in 0..count {
                let path = merkle_path(&leaves, index).unwrap();
                assert!(verify_merkle_path(
                    leaves[index as usize],
                    index,
                    count,
                    &path,
                    root
                ));
                let wrong = Hash32([0xee; 32]);
                assert!(!verify_merkle_path(wrong, index, count, &path, root));
                if count > 1 {
                    let other = (index + 1) % count;
                    assert!(!verify_merkle_path(
                        leaves[index as usize],
                        other,
                        count,
                        &path,
                        root
                    ));
                    assert!(!verify_merkle_path(
                        leaves[index as usize],
                        index,
                        count,
                        &path[1..],
                        root
                    ));
                }
            }
            assert!(merkle_path(&leaves, count).is_none());
        }
    }

    #[test]
    fn receipt_status_codes_are_stable() {
        let all = [
            ReceiptStatus::Success,
            ReceiptStatus::Revert,
            ReceiptStatus::Trap,
            ReceiptStatus::OutOfGas,
            ReceiptStatus::NonceMismatch,
            ReceiptStatus::InsufficientFunds,
            ReceiptStatus::InvalidCode,
        ];
        let codes: Vec<u8> = all.iter().map(|s| s.code()).collect();
        assert_eq!(codes, [0, 1, 2, 3, 4, 5, 6]);
        for status in all {
            let bytes = borsh::to_vec(&status).unwrap();
            assert_eq!(bytes, [status.code()]);
        }
    }
}
