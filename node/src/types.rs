//! Consensus data: transactions, accounts, block headers, blocks and receipts, with their
//! canonical (borsh) encodings and hashes. Every integer here is a fixed-width `u32`/`u64`/`U256`.

use std::collections::BTreeMap;
use std::fmt;

use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use opmeter_vm::{Address, CodeHash, Event, GasCategory, Outcome, Status, U256};

/// Borsh encoding of [`U256`] as 32 little-endian bytes.
pub mod borsh_u256 {
    use super::U256;
    use std::io::{Read, Result, Write};

    /// Writes 32 little-endian bytes.
    ///
    /// # Errors
    /// When the writer fails.
    pub fn serialize<W: Write>(value: &U256, writer: &mut W) -> Result<()> {
        writer.write_all(&value.to_little_endian())
    }

    /// Reads 32 little-endian bytes.
    ///
    /// # Errors
    /// When the reader runs out of bytes.
    pub fn deserialize<R: Read>(reader: &mut R) -> Result<U256> {
        let mut bytes = [0u8; 32];
        reader.read_exact(&mut bytes)?;
        Ok(U256::from_little_endian(&bytes))
    }
}

/// A 32-byte blake3 hash (transactions, blocks, roots).
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize, BorshDeserialize,
)]
pub struct Hash32(pub [u8; 32]);

impl Hash32 {
    /// `0x`-prefixed lowercase hex.
    pub fn to_hex(&self) -> String {
        format!("0x{}", hex::encode(self.0))
    }

    /// Parses 32 bytes of hex, with or without `0x`.
    ///
    /// # Errors
    /// When the text is not 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Hash32, hex::FromHexError> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(text.strip_prefix("0x").unwrap_or(text), &mut out)?;
        Ok(Hash32(out))
    }
}

impl fmt::Debug for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Display for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Domain separator prepended to the bytes an account signs.
pub const TX_SIGNING_DOMAIN: &[u8] = b"opmeter/tx/v1";

/// What a transaction does.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Payload {
    /// Moves `amount` from the sender to `to`.
    Transfer {
        /// Recipient.
        to: Address,
        /// Amount moved.
        #[borsh(
            serialize_with = "borsh_u256::serialize",
            deserialize_with = "borsh_u256::deserialize"
        )]
        amount: U256,
    },
    /// Uploads code (stored once per code hash) and creates an instance at
    /// `Address::for_contract(sender, blake3(code), salt)`, running `init` with `init_input`.
    Deploy {
        /// The original wasm bytes.
        code: Vec<u8>,
        /// Input of `init` (JSON for sdk contracts).
        init_input: Vec<u8>,
        /// Salt of the address derivation.
        salt: Vec<u8>,
        /// Value moved to the new contract.
        #[borsh(
            serialize_with = "borsh_u256::serialize",
            deserialize_with = "borsh_u256::deserialize"
        )]
        value: U256,
    },
    /// Calls a method of a deployed contract.
    Call {
        /// The contract.
        contract: Address,
        /// The exported method.
        method: String,
        /// Input bytes (JSON for sdk contracts).
        input: Vec<u8>,
        /// Value moved to the contract before the call runs.
        #[borsh(
            serialize_with = "borsh_u256::serialize",
            deserialize_with = "borsh_u256::deserialize"
        )]
        value: U256,
    },
}

impl Payload {
    /// The value the payload moves out of the sender's balance.
    pub fn value(&self) -> U256 {
        match self {
            Payload::Transfer { amount, .. } => *amount,
            Payload::Deploy { value, .. } | Payload::Call { value, .. } => *value,
        }
    }

    /// A short name: `transfer`, `deploy` or `call`.
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::Transfer { .. } => "transfer",
            Payload::Deploy { .. } => "deploy",
            Payload::Call { .. } => "call",
        }
    }
}

/// An unsigned transaction. Its canonical encoding is borsh; its hash is blake3 of that encoding.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Transaction {
    /// The chain this transaction is valid on (replay protection across chains).
    pub chain_id: String,
    /// The sender's ed25519 public key; the sender's address is derived from it.
    pub public_key: [u8; 32],
    /// The sender's next nonce (replay protection on this chain).
    pub nonce: u64,
    /// Most gas the transaction may use, intrinsic gas included.
    pub gas_limit: u64,
    /// Price of one unit of gas, in the chain's smallest unit.
    #[borsh(
        serialize_with = "borsh_u256::serialize",
        deserialize_with = "borsh_u256::deserialize"
    )]
    pub gas_price: U256,
    /// What it does.
    pub payload: Payload,
}

impl Transaction {
    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        borsh::to_vec(self).unwrap_or_default()
    }

    /// `blake3` of the canonical encoding.
    pub fn hash(&self) -> Hash32 {
        Hash32(*blake3::hash(&self.encode()).as_bytes())
    }

    /// The sender's address.
    pub fn sender(&self) -> Address {
        Address::for_public_key(&self.public_key)
    }

    /// The bytes a sender signs: the domain separator followed by the transaction hash.
    pub fn signing_bytes(&self) -> Vec<u8> {
        signing_bytes(&self.hash())
    }

    /// Signs the transaction with `key` (whose public key must be `self.public_key`).
    pub fn sign(self, key: &SigningKey) -> SignedTransaction {
        let signature = key.sign(&self.signing_bytes()).to_bytes();
        SignedTransaction {
            tx: self,
            signature,
        }
    }

    /// The most the sender can spend: `gas_limit × gas_price + value`, `None` on overflow.
    pub fn max_cost(&self) -> Option<U256> {
        U256::from(self.gas_limit)
            .checked_mul(self.gas_price)?
            .checked_add(self.payload.value())
    }
}

fn signing_bytes(hash: &Hash32) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(TX_SIGNING_DOMAIN.len() + 32);
    bytes.extend_from_slice(TX_SIGNING_DOMAIN);
    bytes.extend_from_slice(&hash.0);
    bytes
}

/// A transaction with the sender's ed25519 signature over
/// [`TX_SIGNING_DOMAIN`] ‖ `blake3(borsh(tx))`. This is what travels and what blocks contain.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SignedTransaction {
    /// The transaction.
    pub tx: Transaction,
    /// Ed25519 signature (64 bytes).
    pub signature: [u8; 64],
}

impl SignedTransaction {
    /// The encoding sent over the wire and stored in blocks.
    pub fn encode(&self) -> Vec<u8> {
        borsh::to_vec(self).unwrap_or_default()
    }

    /// Decodes wire bytes; trailing bytes are an error.
    ///
    /// # Errors
    /// When the bytes are not exactly one encoded signed transaction.
    pub fn decode(bytes: &[u8]) -> Result<SignedTransaction, std::io::Error> {
        borsh::from_slice(bytes)
    }

    /// The transaction hash (of the unsigned transaction).
    pub fn hash(&self) -> Hash32 {
        self.tx.hash()
    }

    /// Checks the signature (strict: rejects malleable signatures and small-order keys).
    ///
    /// # Errors
    /// When the public key is invalid or the signature does not verify.
    pub fn verify(&self, hash: &Hash32) -> Result<(), ed25519_dalek::SignatureError> {
        let key = VerifyingKey::from_bytes(&self.tx.public_key)?;
        let signature = Signature::from_bytes(&self.signature);
        key.verify_strict(&signing_bytes(hash), &signature)
    }
}

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
            Status::Trap => ReceiptStatus::Trap,
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
pub(crate) fn breakdown_with_intrinsic(
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

/// Binary Merkle root over 32-byte leaves: `blake3("leaf" ‖ x)` at the bottom, `blake3("node" ‖
/// l ‖ r)` above, an odd node carried up unchanged; the root of no leaves is all zeroes.
pub fn merkle_root(leaves: impl IntoIterator<Item = Hash32>) -> Hash32 {
    let mut level: Vec<[u8; 32]> = leaves
        .into_iter()
        .map(|leaf| {
            let mut h = blake3::Hasher::new();
            h.update(b"opmeter/merkle/leaf");
            h.update(&leaf.0);
            *h.finalize().as_bytes()
        })
        .collect();
    if level.is_empty() {
        return Hash32::default();
    }
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [l, r] => {
                    let mut h = blake3::Hasher::new();
                    h.update(b"opmeter/merkle/node");
                    h.update(l);
                    h.update(r);
                    *h.finalize().as_bytes()
                }
                [single] => *single,
                _ => unreachable!("chunks(2) yields one or two"),
            })
            .collect();
    }
    Hash32(level[0])
}

#[cfg(test)]
mod tests {
    use super::*;

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
