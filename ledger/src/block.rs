//! Consensus data a client checks byte for byte: accounts, block headers, blocks and receipts,
//! with their canonical (borsh) encodings and hashes. Every integer here is a fixed-width
//! `u32`/`u64`/`U256`. The node stores exactly these.
//!
//! ```
//! use opmeter_ledger::block::{Receipt, ReceiptStatus};
//! assert_eq!(ReceiptStatus::ALL.len(), 12);
//! assert_eq!(ReceiptStatus::from_code(5), Some(ReceiptStatus::InsufficientFunds));
//! ```

use std::collections::BTreeMap;

use borsh::{BorshDeserialize, BorshSerialize};
use opmeter_vm::{Address, CodeHash, Event, GasCategory, Outcome, Schedule, Status, U256};

use crate::consensus::CommitCertificate;
use crate::encoding::{borsh_u256, Hash32};
use crate::tx::SignedTransaction;

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
    /// `blake3(borsh(certificate))` of the commit certificate of the parent block that this
    /// block carries ([`Block::last_commit`]; see [`crate::consensus::last_commit_hash`]); all
    /// zeroes when it carries none (a chain one node produces; block 1, whose parent is the
    /// genesis). A header cannot carry its own certificate (the validators sign its hash), so
    /// block `h` is shown decided by block `h + 1`, as CometBFT's `LastCommit`.
    pub last_commit_hash: Hash32,
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

/// A header, its transactions, and the certificate that decided its parent.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Block {
    /// Header.
    pub header: Header,
    /// Transactions, in execution order.
    pub transactions: Vec<SignedTransaction>,
    /// On a replicated chain from block 2 on: the commit certificate of the parent block (the
    /// one the proposer held), whose hash is the header's `last_commit_hash`. `None` on a chain
    /// one node produces and in block 1.
    pub last_commit: Option<CommitCertificate>,
}

/// A committed block with its receipts, in transaction order (what subscribers are told).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedBlock {
    /// The block.
    pub block: Block,
    /// Its receipts.
    pub receipts: Vec<Receipt>,
}

crate::stable_codes! {
    /// The outcome class of a transaction. Stable codes: `0..=3` mirror the vm's [`Status`];
    /// `4..=5` are transactions a block contained but that could not be executed at all (no
    /// fee, no state change, nonce not consumed); `6..` executed and failed (fee charged, nonce
    /// consumed, nothing else changed).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize)]
    #[borsh(use_discriminant = true)]
    pub enum ReceiptStatus: u8 {
        /// Executed and committed.
        Success = 0 => "success",
        /// The contract reverted; its writes were rolled back, the fee was charged.
        Revert = 1 => "revert",
        /// The contract trapped; its writes were rolled back, the fee was charged.
        Trap = 2 => "trap",
        /// Out of gas; writes rolled back, the whole gas limit charged.
        OutOfGas = 3 => "outOfGas",
        /// The nonce was not the sender's next one when the block ran.
        NonceMismatch = 4 => "nonceMismatch",
        /// The sender could not pay `gas_limit × gas_price + value` when the block ran.
        InsufficientFunds = 5 => "insufficientFunds",
        /// A deployment whose code fails validation (only a faulty proposer can include one):
        /// the intrinsic gas is charged, nothing is deployed.
        InvalidCode = 6 => "invalidCode",
        /// A name payload whose name breaks the naming rules (only a faulty proposer can include
        /// one): the intrinsic and name gas are charged, nothing changes.
        InvalidName = 7 => "invalidName",
        /// `RegisterName` of a name someone (maybe the sender) already registered.
        NameTaken = 8 => "nameTaken",
        /// `PointName` or `TransferName` of a name nobody registered.
        NameNotFound = 9 => "nameNotFound",
        /// `PointName` or `TransferName` by an account that does not own the name.
        NotNameOwner = 10 => "notNameOwner",
        /// The target is not a contract the sender deployed with the given salt.
        NotDeployer = 11 => "notDeployer",
    }
}

impl ReceiptStatus {
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

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    #[test]
    fn receipt_status_codes_are_stable_and_round_trip() {
        let pinned: Vec<(u8, &str)> = ReceiptStatus::ALL
            .iter()
            .map(|s| (s.code(), s.name()))
            .collect();
        expect![[r#"
            [
                (
                    0,
                    "success",
                ),
                (
                    1,
                    "revert",
                ),
                (
                    2,
                    "trap",
                ),
                (
                    3,
                    "outOfGas",
                ),
                (
                    4,
                    "nonceMismatch",
                ),
                (
                    5,
                    "insufficientFunds",
                ),
                (
                    6,
                    "invalidCode",
                ),
                (
                    7,
                    "invalidName",
                ),
                (
                    8,
                    "nameTaken",
                ),
                (
                    9,
                    "nameNotFound",
                ),
                (
                    10,
                    "notNameOwner",
                ),
                (
                    11,
                    "notDeployer",
                ),
            ]
        "#]]
        .assert_debug_eq(&pinned);
        for status in ReceiptStatus::ALL {
            assert_eq!(ReceiptStatus::from_code(status.code()), Some(*status));
            assert_eq!(ReceiptStatus::from_name(status.name()), Some(*status));
            assert_eq!(borsh::to_vec(status).unwrap(), [status.code()]);
            assert_eq!(
                borsh::from_slice::<ReceiptStatus>(&[status.code()]).unwrap(),
                *status
            );
        }
        assert!(borsh::from_slice::<ReceiptStatus>(&[ReceiptStatus::ALL.len() as u8]).is_err());
    }

    /// A header and a receipt with every field set: their encodings and hashes, pinned.
    #[test]
    fn known_answers_for_header_and_receipt() {
        let header = Header {
            chain_id: "opmeter-dev".into(),
            height: 7,
            parent_hash: Hash32([1; 32]),
            last_commit_hash: Hash32([11; 32]),
            timestamp_ms: 1_700_000_000_123,
            state_root: Hash32([2; 32]),
            transactions_root: Hash32([3; 32]),
            receipts_root: Hash32([4; 32]),
            gas_used: 44_848,
            tx_count: 2,
            schedule_hash: [5; 32],
        };
        let receipt = Receipt {
            tx_hash: Hash32([6; 32]),
            sender: Address([7; 32]),
            height: 7,
            index: 1,
            status: ReceiptStatus::Trap,
            trap_code: Some(3),
            gas_used: 30_000,
            gas_limit: 100_000,
            gas_breakdown: [
                ("instructions".to_string(), 6_016),
                ("transaction".into(), 23_984),
            ]
            .into_iter()
            .collect(),
            gas_price: U256::from(1_000u64),
            fee: U256::from(30_000_000u64),
            output: b"oops".to_vec(),
            events: vec![Event {
                contract: Address([8; 32]),
                topics: vec![[9; 32]],
                data: vec![1, 2, 3],
            }],
            schedule_hash: [5; 32],
            contract_address: Some(Address([10; 32])),
        };
        let text = format!(
            "header {}\nheader hash {}\nreceipt {}\nreceipt hash {}",
            hex::encode(borsh::to_vec(&header).unwrap()),
            header.hash(),
            hex::encode(borsh::to_vec(&receipt).unwrap()),
            receipt.hash(),
        );
        expect![[r#"
            header 0b0000006f706d657465722d646576070000000000000001010101010101010101010101010101010101010101010101010101010101010b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b7b68e5cf8b01000002020202020202020202020202020202020202020202020202020202020202020303030303030303030303030303030303030303030303030303030303030303040404040404040404040404040404040404040404040404040404040404040430af000000000000020000000505050505050505050505050505050505050505050505050505050505050505
            header hash 0x7c8f9212e3a7a157144f47ac68edb41f311888fe5eab9a30b2de769beab183e8
            receipt 060606060606060606060606060606060606060606060606060606060606060607070707070707070707070707070707070707070707070707070707070707070700000000000000010000000201033075000000000000a086010000000000020000000c000000696e737472756374696f6e7380170000000000000b0000007472616e73616374696f6eb05d000000000000e80300000000000000000000000000000000000000000000000000000000000080c3c90100000000000000000000000000000000000000000000000000000000040000006f6f7073010000000808080808080808080808080808080808080808080808080808080808080808010000000909090909090909090909090909090909090909090909090909090909090909030000000102030505050505050505050505050505050505050505050505050505050505050505010a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a
            receipt hash 0xc7ea46de4a8a77e584e1640197896585730b8879624eab943e3eacb23e923d0e"#]].assert_eq(&text);
        assert_eq!(receipt.breakdown_total(), 30_000);
    }
}
