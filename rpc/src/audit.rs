//! The gas audit's client side: field-by-field receipt comparison (shared by the node's replay
//! and the offline verifier), and the self-contained verification bundle with its verifier.
//!
//! A bundle (`specs/audit-bundle.md`) carries one committed transaction and everything needed to
//! re-derive its receipt without a node: the parent header (whose state root the reads are proven
//! against) and the block's header, the transaction and the earlier transactions of its block
//! whose writes it read (each with a Merkle path to the transactions root), every value read from
//! the parent state with its proof, the code run, and the stored receipt with its path to the
//! receipts root. [`verify_bundle`] checks every hash, signature and proof, re-executes with the
//! vm through the very state transition the node uses, and compares the receipt field by field.
//!
//! ```
//! use opmeter_rpc::audit::{verify_bundle, Bundle, BundleError};
//! use opmeter_vm::{Schedule, Vm};
//! let bundle: Bundle = serde_json::from_str(r#"{"format":"something-else","chainId":"x",
//!   "scheduleVersion":1,"scheduleHash":"0x","feeCollector":"0x0000000000000000000000000000000000000000000000000000000000000000","parentHeader":"0x","header":"0x",
//!   "transactions":[],"receipt":"0x","receiptPath":[],"codes":[],"reads":[]}"#).unwrap();
//! let error = verify_bundle(&bundle, &Vm::new(Schedule::v1())).unwrap_err();
//! assert!(matches!(error, BundleError::Format(_)));
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use opmeter_vm::{
    Address, CodeHash, FrameTrace, StateError, StateView, Trace, TraceEntry, TraceOptions, Vm, U256,
};
use parking_lot::RwLock;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ledger::{intrinsic_gas, verify_merkle_path, Account, Header, Receipt};
use crate::proof::{self, StateKey};
use crate::transition::{execute_transaction, LedgerState, TransitionError, TxEnv, TxInput};
use crate::tx::{Hash32, SignedTransaction};

/// The `format` of bundles this crate writes and verifies.
pub const BUNDLE_FORMAT: &str = "opmeter-audit-bundle/1";

/// One compared field: its stored and replayed values, rendered as text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FieldCheck {
    /// The field (`status`, `gasUsed`, `gasBreakdown.instructions`, `events[0]`,
    /// `block.stateRoot`, …).
    pub field: String,
    /// The committed value.
    pub stored: String,
    /// The re-derived value.
    pub replayed: String,
    /// Whether they are equal.
    pub matches: bool,
}

impl FieldCheck {
    /// A check of `field`.
    pub fn new(field: impl Into<String>, stored: String, replayed: String) -> FieldCheck {
        FieldCheck {
            field: field.into(),
            matches: stored == replayed,
            stored,
            replayed,
        }
    }
}

fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

fn event_text(event: &opmeter_vm::Event) -> String {
    let topics: Vec<String> = event.topics.iter().map(|t| hex0x(t)).collect();
    format!(
        "{} [{}] {}",
        event.contract,
        topics.join(", "),
        hex0x(&event.data)
    )
}

/// Compares every field of two receipts: identity, status, trap code, gas used and limit, every
/// breakdown entry (the union of both key sets), price, fee, output, every event, the schedule
/// hash and the deployed address. Equal receipts give only matching checks.
pub fn compare_receipts(stored: &Receipt, replayed: &Receipt) -> Vec<FieldCheck> {
    let opt = |v: Option<u8>| v.map_or_else(|| "none".to_string(), |c| c.to_string());
    let addr = |v: Option<Address>| v.map_or_else(|| "none".to_string(), |a| a.to_hex());
    let mut checks = vec![
        FieldCheck::new("txHash", stored.tx_hash.to_hex(), replayed.tx_hash.to_hex()),
        FieldCheck::new("sender", stored.sender.to_hex(), replayed.sender.to_hex()),
        FieldCheck::new(
            "height",
            stored.height.to_string(),
            replayed.height.to_string(),
        ),
        FieldCheck::new(
            "index",
            stored.index.to_string(),
            replayed.index.to_string(),
        ),
        FieldCheck::new(
            "status",
            stored.status.name().into(),
            replayed.status.name().into(),
        ),
        FieldCheck::new("trapCode", opt(stored.trap_code), opt(replayed.trap_code)),
        FieldCheck::new(
            "gasUsed",
            stored.gas_used.to_string(),
            replayed.gas_used.to_string(),
        ),
        FieldCheck::new(
            "gasLimit",
            stored.gas_limit.to_string(),
            replayed.gas_limit.to_string(),
        ),
    ];
    let keys: BTreeSet<&String> = stored
        .gas_breakdown
        .keys()
        .chain(replayed.gas_breakdown.keys())
        .collect();
    let gas = |map: &BTreeMap<String, u64>, key: &str| map.get(key).copied().unwrap_or(0);
    for key in keys {
        checks.push(FieldCheck::new(
            format!("gasBreakdown.{key}"),
            gas(&stored.gas_breakdown, key).to_string(),
            gas(&replayed.gas_breakdown, key).to_string(),
        ));
    }
    checks.extend([
        FieldCheck::new(
            "gasPrice",
            stored.gas_price.to_string(),
            replayed.gas_price.to_string(),
        ),
        FieldCheck::new("fee", stored.fee.to_string(), replayed.fee.to_string()),
        FieldCheck::new("output", hex0x(&stored.output), hex0x(&replayed.output)),
        FieldCheck::new(
            "events.length",
            stored.events.len().to_string(),
            replayed.events.len().to_string(),
        ),
    ]);
    let count = stored.events.len().max(replayed.events.len());
    for i in 0..count {
        let text = |events: &[opmeter_vm::Event]| {
            events.get(i).map_or_else(|| "none".to_string(), event_text)
        };
        checks.push(FieldCheck::new(
            format!("events[{i}]"),
            text(&stored.events),
            text(&replayed.events),
        ));
    }
    checks.extend([
        FieldCheck::new(
            "scheduleHash",
            hex0x(&stored.schedule_hash),
            hex0x(&replayed.schedule_hash),
        ),
        FieldCheck::new(
            "contractAddress",
            addr(stored.contract_address),
            addr(replayed.contract_address),
        ),
    ]);
    checks
}

/// What `audit_replay` reports: the transaction re-executed against the state it saw, compared
/// field by field with its stored receipt, plus the block's roots after replaying all of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplayReport {
    /// `0x` transaction hash.
    pub tx_hash: String,
    /// Its block.
    pub height: u64,
    /// Its position in the block.
    pub index: u32,
    /// Every field matched (the receipt's and the block's).
    pub matches: bool,
    /// The receipt's fields, then `block.stateRoot` and `block.receiptsRoot`.
    pub fields: Vec<FieldCheck>,
    /// Transactions executed (the whole block).
    pub replayed_transactions: u32,
    /// The first field that differs, if any.
    pub first_difference: Option<FieldCheck>,
}

/// A self-contained verification bundle (JSON; `specs/audit-bundle.md`). Hex strings are
/// `0x`-prefixed; encoded objects are their canonical borsh bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Bundle {
    /// [`BUNDLE_FORMAT`].
    pub format: String,
    /// The chain.
    pub chain_id: String,
    /// Version of the gas schedule that priced the block.
    pub schedule_version: u32,
    /// `0x` hash of that schedule (the header commits to it too).
    pub schedule_hash: String,
    /// The chain's fee collector (from its genesis): fees are credited to it.
    #[schemars(with = "String")]
    pub fee_collector: Address,
    /// `0x` borsh of the parent block's header: its `stateRoot` is the state the block started
    /// from, which every read is proven against.
    pub parent_header: String,
    /// `0x` borsh of the block's header (its hash identifies the block; it gives the height and
    /// timestamp the vm saw, and the transactions and receipts roots).
    pub header: String,
    /// The transactions to execute, in block order: the earlier ones whose writes the target read
    /// (transitively), then the target (last).
    pub transactions: Vec<BundleTx>,
    /// `0x` borsh of the target's stored receipt.
    pub receipt: String,
    /// Its Merkle path to the header's receipts root.
    pub receipt_path: Vec<String>,
    /// Every code run, by hash.
    pub codes: Vec<BundleCode>,
    /// Every state value read from the parent state, with its proof.
    pub reads: Vec<BundleRead>,
}

/// One transaction of a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BundleTx {
    /// Position in the block.
    pub index: u32,
    /// `0x` borsh of the signed transaction.
    pub signed: String,
    /// Merkle path of `blake3(signed)` to the header's transactions root.
    pub path: Vec<String>,
}

/// One code of a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BundleCode {
    /// `0x` blake3 of `wasm`.
    pub hash: String,
    /// `0x` original wasm bytes.
    pub wasm: String,
}

/// One proven state value of a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BundleRead {
    /// `0x` state key (`"acct" ‖ address` or `"stor" ‖ contract ‖ key`).
    pub key: String,
    /// `0x` value in the parent state (`null`: absent). Accounts are `borsh(Account)`.
    pub value: Option<String>,
    /// `0x` borsh of the Merkle proof against the parent header's state root.
    pub proof: String,
}

/// Why a bundle is not a valid account of its transaction. Any tampering ends here (or in a
/// receipt mismatch).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// Not a bundle of this format.
    #[error("not an {BUNDLE_FORMAT} bundle: {0}")]
    Format(String),
    /// A field does not decode.
    #[error("malformed {field}: {reason}")]
    Malformed {
        /// Which field.
        field: String,
        /// Why.
        reason: String,
    },
    /// The schedule is not the one this verifier implements.
    #[error("unsupported schedule: the bundle says {bundle}, this verifier implements {ours}")]
    Schedule {
        /// The bundle's `0x` schedule hash (or the header's when they differ).
        bundle: String,
        /// This verifier's.
        ours: String,
    },
    /// The headers do not chain (or disagree with the bundle's chain id).
    #[error("headers: {0}")]
    Headers(String),
    /// A transaction is not in the block at its index.
    #[error("transaction {index} is not in the block (Merkle path or order)")]
    TransactionNotInBlock {
        /// Its claimed index.
        index: u32,
    },
    /// A transaction's signature does not verify.
    #[error("transaction {index}: bad signature")]
    BadSignature {
        /// Its index.
        index: u32,
    },
    /// The receipt is not the block's receipt for the target.
    #[error("the receipt is not in the block: {0}")]
    ReceiptNotInBlock(String),
    /// A code's bytes do not hash to its hash.
    #[error("code {hash}: bytes do not hash to it")]
    CodeHash {
        /// The claimed hash.
        hash: String,
    },
    /// A read's proof does not lead to the parent state root.
    #[error("read {key}: {reason}")]
    Proof {
        /// `0x` state key.
        key: String,
        /// Why.
        reason: String,
    },
    /// Execution needed a value the bundle does not carry.
    #[error("incomplete bundle: {0}")]
    Incomplete(String),
}

/// The verdict of [`verify_bundle`] on a bundle whose proofs all check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    /// The block the bundle is anchored to (compare with a trusted source).
    pub block_hash: Hash32,
    /// Its height.
    pub height: u64,
    /// The transaction.
    pub tx_hash: Hash32,
    /// Its index.
    pub index: u32,
    /// Transactions executed.
    pub executed: u32,
    /// State values proven.
    pub reads_proven: u32,
    /// Every receipt field, stored vs re-executed.
    pub fields: Vec<FieldCheck>,
}

impl Verification {
    /// Whether every field matched.
    pub fn matches(&self) -> bool {
        self.fields.iter().all(|f| f.matches)
    }

    /// The first field that differs.
    pub fn first_difference(&self) -> Option<&FieldCheck> {
        self.fields.iter().find(|f| !f.matches)
    }
}

fn malformed(field: impl Into<String>, reason: impl ToString) -> BundleError {
    BundleError::Malformed {
        field: field.into(),
        reason: reason.to_string(),
    }
}

fn hex_field(field: &str, text: &str) -> Result<Vec<u8>, BundleError> {
    let digits = text
        .strip_prefix("0x")
        .ok_or_else(|| malformed(field, "expected 0x-prefixed hex"))?;
    hex::decode(digits).map_err(|e| malformed(field, e))
}

fn hash_field(field: &str, text: &str) -> Result<Hash32, BundleError> {
    hex_field(field, text)?
        .try_into()
        .map(Hash32)
        .map_err(|_| malformed(field, "expected 32 bytes"))
}

fn borsh_field<T: borsh::BorshDeserialize>(field: &str, text: &str) -> Result<T, BundleError> {
    borsh::from_slice(&hex_field(field, text)?).map_err(|e| malformed(field, e))
}

fn path_field(field: &str, path: &[String]) -> Result<Vec<Hash32>, BundleError> {
    path.iter()
        .enumerate()
        .map(|(i, h)| hash_field(&format!("{field}[{i}]"), h))
        .collect()
}

/// Checks every hash, signature and proof of `bundle`, re-executes its transactions with `vm`
/// (whose schedule must be the bundle's), and compares the target's receipt field by field.
///
/// # Errors
/// [`BundleError`] when the bundle is malformed, tampered with, incomplete, or for another
/// schedule. A bundle that checks but whose receipt differs is `Ok` with mismatching fields.
pub fn verify_bundle(bundle: &Bundle, vm: &Vm) -> Result<Verification, BundleError> {
    if bundle.format != BUNDLE_FORMAT {
        return Err(BundleError::Format(format!(
            "format is {:?}",
            bundle.format
        )));
    }
    // Headers: the parent's state root is the trusted starting point only if the block names it.
    let parent: Header = borsh_field("parentHeader", &bundle.parent_header)?;
    let header: Header = borsh_field("header", &bundle.header)?;
    if header.parent_hash != parent.hash() || header.height != parent.height + 1 {
        return Err(BundleError::Headers(
            "the block's parentHash/height does not name the parent header".into(),
        ));
    }
    if header.chain_id != bundle.chain_id || parent.chain_id != bundle.chain_id {
        return Err(BundleError::Headers(
            "chain id differs from the headers'".into(),
        ));
    }
    let ours = hex0x(&vm.schedule_hash());
    if bundle.schedule_hash != ours
        || header.schedule_hash != vm.schedule_hash()
        || bundle.schedule_version != vm.schedule().version
    {
        return Err(BundleError::Schedule {
            bundle: if bundle.schedule_hash == ours {
                hex0x(&header.schedule_hash)
            } else {
                bundle.schedule_hash.clone()
            },
            ours,
        });
    }
    // Transactions: each in the block at its index, signed, in increasing order.
    let mut txs = Vec::with_capacity(bundle.transactions.len());
    let mut previous: Option<u32> = None;
    for (i, entry) in bundle.transactions.iter().enumerate() {
        let field = format!("transactions[{i}]");
        let bytes = hex_field(&format!("{field}.signed"), &entry.signed)?;
        let signed = SignedTransaction::decode(&bytes)
            .map_err(|e| malformed(format!("{field}.signed"), e))?;
        let path = path_field(&format!("{field}.path"), &entry.path)?;
        let leaf = Hash32(*blake3::hash(&bytes).as_bytes());
        let ordered = previous.is_none_or(|p| entry.index > p);
        if !ordered
            || !verify_merkle_path(
                leaf,
                entry.index,
                header.tx_count,
                &path,
                header.transactions_root,
            )
        {
            return Err(BundleError::TransactionNotInBlock { index: entry.index });
        }
        let hash = signed.hash();
        signed
            .verify(&hash)
            .map_err(|_| BundleError::BadSignature { index: entry.index })?;
        previous = Some(entry.index);
        txs.push((entry.index, signed, bytes.len()));
    }
    let Some((target_index, target, _)) = txs.last() else {
        return Err(malformed("transactions", "no transaction"));
    };
    // The receipt: the block's, for the target.
    let receipt_bytes = hex_field("receipt", &bundle.receipt)?;
    let stored: Receipt = borsh::from_slice(&receipt_bytes).map_err(|e| malformed("receipt", e))?;
    let receipt_path = path_field("receiptPath", &bundle.receipt_path)?;
    let leaf = Hash32(*blake3::hash(&receipt_bytes).as_bytes());
    if !verify_merkle_path(
        leaf,
        *target_index,
        header.tx_count,
        &receipt_path,
        header.receipts_root,
    ) {
        return Err(BundleError::ReceiptNotInBlock(
            "its Merkle path does not lead to the receipts root".into(),
        ));
    }
    if stored.tx_hash != target.hash() || stored.index != *target_index {
        return Err(BundleError::ReceiptNotInBlock(
            "it is another transaction's receipt".into(),
        ));
    }
    // Code and proven reads.
    let mut codes = BTreeMap::new();
    for (i, code) in bundle.codes.iter().enumerate() {
        let hash = hash_field(&format!("codes[{i}].hash"), &code.hash)?;
        let wasm = hex_field(&format!("codes[{i}].wasm"), &code.wasm)?;
        if *blake3::hash(&wasm).as_bytes() != hash.0 {
            return Err(BundleError::CodeHash {
                hash: code.hash.clone(),
            });
        }
        codes.insert(CodeHash(hash.0), Arc::<[u8]>::from(wasm));
    }
    let mut base = BTreeMap::new();
    for (i, read) in bundle.reads.iter().enumerate() {
        let field = format!("reads[{i}]");
        let key_bytes = hex_field(&format!("{field}.key"), &read.key)?;
        let key = StateKey::decode(&key_bytes)
            .ok_or_else(|| malformed(format!("{field}.key"), "not an account or storage key"))?;
        let value = read
            .value
            .as_deref()
            .map(|v| hex_field(&format!("{field}.value"), v))
            .transpose()?;
        let proof_bytes = hex_field(&format!("{field}.proof"), &read.proof)?;
        proof::verify(parent.state_root.0, &key, value.as_deref(), &proof_bytes).map_err(|e| {
            BundleError::Proof {
                key: read.key.clone(),
                reason: e.to_string(),
            }
        })?;
        base.insert(key, value);
    }
    // Re-execute with the node's own state transition.
    let state = Arc::new(BundleState {
        base,
        codes: RwLock::new(codes),
        accounts: RwLock::default(),
        storage: RwLock::default(),
        credits: RwLock::default(),
    });
    let block = opmeter_vm::BlockContext {
        height: header.height,
        timestamp_ms: header.timestamp_ms,
    };
    let mut replayed = None;
    for (index, signed, len_bytes) in &txs {
        let len_bytes = u32::try_from(*len_bytes).unwrap_or(u32::MAX);
        let env = TxEnv {
            vm,
            block,
            index: *index,
            fee_collector: bundle.fee_collector,
            trace: None,
        };
        let input = TxInput {
            tx: &signed.tx,
            hash: signed.hash(),
            sender: signed.tx.sender(),
            intrinsic_gas: intrinsic_gas(vm.schedule(), len_bytes),
        };
        let executed = execute_transaction(env, &state, input).map_err(|e| match e {
            TransitionError::State(StateError(message)) => BundleError::Incomplete(message),
            other => BundleError::Incomplete(format!(
                "transaction {index} could not be executed: {other}"
            )),
        })?;
        replayed = Some(executed.receipt);
    }
    let replayed = replayed.ok_or_else(|| malformed("transactions", "no transaction"))?;
    Ok(Verification {
        block_hash: header.hash(),
        height: header.height,
        tx_hash: stored.tx_hash,
        index: stored.index,
        executed: txs.len() as u32,
        reads_proven: bundle.reads.len() as u32,
        fields: compare_receipts(&stored, &replayed),
    })
}

/// Storage slots written: `(contract, key)` → value (`None`: removed).
type Slots = BTreeMap<(Address, Vec<u8>), Option<Vec<u8>>>;

/// The state a bundle proves: values of the parent state (each proven), plus what the executed
/// transactions wrote. Credits to accounts never read (the fee collector) are kept aside: no
/// receipt depends on them.
struct BundleState {
    base: BTreeMap<StateKey, Option<Vec<u8>>>,
    codes: RwLock<BTreeMap<CodeHash, Arc<[u8]>>>,
    accounts: RwLock<BTreeMap<Address, Account>>,
    storage: RwLock<Slots>,
    credits: RwLock<BTreeMap<Address, U256>>,
}

impl BundleState {
    fn proven(&self, key: &StateKey) -> Result<&Option<Vec<u8>>, StateError> {
        self.base.get(key).ok_or_else(|| {
            StateError(format!(
                "the transaction read {} but the bundle does not prove it",
                hex0x(&key.encode())
            ))
        })
    }
}

impl StateView for BundleState {
    fn storage(&self, contract: &Address, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        if let Some(value) = self.storage.read().get(&(*contract, key.to_vec())) {
            return Ok(value.clone());
        }
        Ok(self
            .proven(&StateKey::Storage(*contract, key.to_vec()))?
            .clone())
    }

    fn balance(&self, account: &Address) -> Result<U256, StateError> {
        Ok(LedgerState::account(self, account)?.balance)
    }

    fn contract_code(&self, address: &Address) -> Result<Option<CodeHash>, StateError> {
        let code_hash = LedgerState::account(self, address)?.code_hash;
        // Whether the vm then reads the bytes depends on its caches: require them here.
        if let Some(code_hash) = &code_hash {
            self.code(code_hash)?;
        }
        Ok(code_hash)
    }

    fn code(&self, code_hash: &CodeHash) -> Result<Option<Arc<[u8]>>, StateError> {
        match self.codes.read().get(code_hash) {
            Some(code) => Ok(Some(Arc::clone(code))),
            None => Err(StateError(format!(
                "the transaction ran code {} but the bundle does not carry it",
                code_hash.to_hex()
            ))),
        }
    }
}

impl LedgerState for BundleState {
    fn account(&self, address: &Address) -> Result<Account, StateError> {
        if let Some(account) = self.accounts.read().get(address) {
            return Ok(account.clone());
        }
        let mut account: Account = match self.proven(&StateKey::Account(*address))? {
            Some(bytes) => borsh::from_slice(bytes)
                .map_err(|e| StateError(format!("account {address} does not decode: {e}")))?,
            None => Account::default(),
        };
        if let Some(credit) = self.credits.read().get(address) {
            account.balance = account
                .balance
                .checked_add(*credit)
                .ok_or_else(|| StateError(format!("balance of {address} overflows")))?;
        }
        Ok(account)
    }

    fn set_account(&self, address: Address, account: Account) -> Result<(), StateError> {
        self.credits.write().remove(&address);
        self.accounts.write().insert(address, account);
        Ok(())
    }

    fn credit(&self, address: Address, amount: U256) -> Result<(), TransitionError> {
        let overflow = || TransitionError::Invariant(format!("balance of {address} overflows"));
        if let Some(account) = self.accounts.write().get_mut(&address) {
            account.balance = account.balance.checked_add(amount).ok_or_else(overflow)?;
            return Ok(());
        }
        let mut credits = self.credits.write();
        let entry = credits.entry(address).or_default();
        *entry = entry.checked_add(amount).ok_or_else(overflow)?;
        Ok(())
    }

    fn put_code(&self, code_hash: CodeHash, wasm: Arc<[u8]>) {
        self.codes.write().insert(code_hash, wasm);
    }

    fn set_storage(
        &self,
        contract: Address,
        key: Vec<u8>,
        value: Option<Vec<u8>>,
    ) -> Result<(), StateError> {
        self.storage.write().insert((contract, key), value);
        Ok(())
    }
}

/// Options of `audit_trace` and `contract_traceCall`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TraceArgs {
    /// Also profile every metered block (hits × cost, instruction counts); slower.
    #[serde(default)]
    pub blocks: bool,
    /// Most entries in the tree (default and maximum 10,000); the rest is folded into
    /// `truncated` entries whose gas still counts.
    #[serde(default)]
    pub max_nodes: Option<u32>,
    /// Most blocks in the profile (default and maximum 1,000), the most expensive first.
    #[serde(default)]
    pub max_blocks: Option<u32>,
}

impl TraceArgs {
    /// The vm's options, capped at the defaults (the bound on a trace's size).
    pub fn options(&self) -> TraceOptions {
        let default = TraceOptions::default();
        TraceOptions {
            blocks: self.blocks,
            max_nodes: self
                .max_nodes
                .map_or(default.max_nodes, |n| n.min(default.max_nodes)),
            max_blocks: self
                .max_blocks
                .map_or(default.max_blocks, |n| n.min(default.max_blocks)),
        }
    }
}

/// Where the gas of a transaction or call went: the intrinsic gas, then the vm execution as a
/// tree of frames, wasm functions and host calls. `intrinsicGas + root.gasUsed == gasUsed`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TraceView {
    /// `0x` transaction hash (`null` for a read-only call).
    pub tx_hash: Option<String>,
    /// Status name.
    pub status: String,
    /// Total gas used (decimal string), as in the receipt.
    pub gas_used: String,
    /// The transaction's intrinsic gas (decimal string; `0` for a read-only call).
    pub intrinsic_gas: String,
    /// `0x` output or revert data.
    pub output: String,
    /// The vm execution (`null` when the payload ran no code: transfers, refused transactions).
    pub root: Option<FrameTraceView>,
    /// Some entries were folded into `truncated` entries.
    pub truncated: bool,
    /// The per-block profile (empty unless asked for), most gas first.
    pub blocks: Vec<BlockStatView>,
    /// More blocks ran than returned.
    pub blocks_truncated: bool,
}

/// One contract frame (or several merged ones).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FrameTraceView {
    /// The contract.
    #[schemars(with = "String")]
    pub contract: Address,
    /// The method (`init` for a deployment that runs it).
    pub method: String,
    /// `0x` code hash, when the contract exists.
    pub code_hash: Option<String>,
    /// Call depth (1 at the top).
    pub depth: u32,
    /// How it ended.
    pub status: String,
    /// Frames merged into this one.
    pub calls: u64,
    /// Gas (decimal string): the sum of `entries`.
    pub gas_used: String,
    /// Where it went, in first-call order.
    pub entries: Vec<TraceEntryView>,
}

/// One line of a trace (gas as decimal strings).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum TraceEntryView {
    /// A flat charge of the frame (`deploy`, `instantiation`).
    #[serde(rename_all = "camelCase")]
    Charge {
        /// Breakdown category.
        category: String,
        /// Gas.
        gas: String,
    },
    /// A wasm function in one calling context.
    #[serde(rename_all = "camelCase")]
    Function {
        /// Index in the module.
        index: u32,
        /// Name (from the `name` section) or `func[N]`.
        name: String,
        /// Calls merged.
        calls: u64,
        /// Inclusive gas.
        gas: String,
        /// Its own metered instructions.
        instructions_gas: String,
        /// Its own `memory.grow` charges.
        memory_gas: String,
        /// What it called.
        children: Vec<TraceEntryView>,
    },
    /// A host function in one calling context.
    #[serde(rename_all = "camelCase")]
    Host {
        /// The host function.
        function: String,
        /// Calls merged.
        calls: u64,
        /// Its own charges.
        gas: String,
        /// Its storage-bytes charges.
        storage_bytes_gas: String,
        /// Contracts it called (`call`).
        callees: Vec<FrameTraceView>,
    },
    /// Entries that did not fit, with their gas by category.
    #[serde(rename_all = "camelCase")]
    Truncated {
        /// Gas.
        gas: String,
        /// By category.
        breakdown: BTreeMap<String, String>,
    },
}

/// One metered block of the profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlockStatView {
    /// `0x` code hash.
    pub code_hash: String,
    /// Function index.
    pub function: u32,
    /// Function name.
    pub name: String,
    /// Charge site.
    pub site: u32,
    /// Gas per execution of the block.
    pub cost_per_hit: String,
    /// Executions.
    pub hits: u64,
    /// Gas (decimal string).
    pub gas: String,
    /// Original instructions in the block.
    pub instructions: u32,
}

fn status_name(status: opmeter_vm::Status) -> String {
    crate::ledger::ReceiptStatus::from_vm(status).name().into()
}

impl From<&FrameTrace> for FrameTraceView {
    fn from(frame: &FrameTrace) -> FrameTraceView {
        FrameTraceView {
            contract: frame.contract,
            method: frame.method.clone(),
            code_hash: frame.code_hash.map(|h| h.to_hex()),
            depth: frame.depth,
            status: status_name(frame.status),
            calls: frame.calls,
            gas_used: frame.gas_used.to_string(),
            entries: frame.entries.iter().map(TraceEntryView::from).collect(),
        }
    }
}

impl From<&TraceEntry> for TraceEntryView {
    fn from(entry: &TraceEntry) -> TraceEntryView {
        match entry {
            TraceEntry::Charge { category, gas } => TraceEntryView::Charge {
                category: category.key().into(),
                gas: gas.to_string(),
            },
            TraceEntry::Function(f) => TraceEntryView::Function {
                index: f.index,
                name: f.name.clone(),
                calls: f.calls,
                gas: f.gas.to_string(),
                instructions_gas: f.instructions_gas.to_string(),
                memory_gas: f.memory_gas.to_string(),
                children: f.children.iter().map(TraceEntryView::from).collect(),
            },
            TraceEntry::Host(h) => TraceEntryView::Host {
                function: h.function.name().into(),
                calls: h.calls,
                gas: h.gas.to_string(),
                storage_bytes_gas: h.storage_bytes_gas.to_string(),
                callees: h.callees.iter().map(FrameTraceView::from).collect(),
            },
            TraceEntry::Truncated { gas, breakdown } => TraceEntryView::Truncated {
                gas: gas.to_string(),
                breakdown: breakdown
                    .iter()
                    .map(|(k, v)| (k.key().to_string(), v.to_string()))
                    .collect(),
            },
        }
    }
}

impl TraceView {
    /// The view of a receipt and the trace of its execution (`None`: no code ran).
    pub fn of_receipt(receipt: &Receipt, trace: Option<&Trace>) -> TraceView {
        let intrinsic = receipt
            .gas_breakdown
            .get(opmeter_vm::GasCategory::Transaction.key())
            .copied()
            .unwrap_or(0);
        let mut view = TraceView::of(trace, receipt.gas_used, intrinsic);
        view.tx_hash = Some(receipt.tx_hash.to_hex());
        view.status = receipt.status.name().into();
        view.output = hex0x(&receipt.output);
        view
    }

    /// The view of a read-only call's outcome and trace.
    pub fn of_call(outcome: &opmeter_vm::Outcome, trace: &Trace) -> TraceView {
        let mut view = TraceView::of(Some(trace), outcome.gas_used, 0);
        view.status = status_name(outcome.status);
        view.output = hex0x(&outcome.output);
        view
    }

    fn of(trace: Option<&Trace>, gas_used: u64, intrinsic_gas: u64) -> TraceView {
        TraceView {
            tx_hash: None,
            status: String::new(),
            gas_used: gas_used.to_string(),
            intrinsic_gas: intrinsic_gas.to_string(),
            output: String::new(),
            root: trace.map(|t| FrameTraceView::from(&t.root)),
            truncated: trace.is_some_and(|t| t.truncated),
            blocks: trace
                .map(|t| {
                    t.blocks
                        .iter()
                        .map(|b| BlockStatView {
                            code_hash: b.code_hash.to_hex(),
                            function: b.function,
                            name: b.name.clone(),
                            site: b.site,
                            cost_per_hit: b.cost_per_hit.to_string(),
                            hits: b.hits,
                            gas: b.gas.to_string(),
                            instructions: b.instructions,
                        })
                        .collect()
                })
                .unwrap_or_default(),
            blocks_truncated: trace.is_some_and(|t| t.blocks_truncated),
        }
    }
}
