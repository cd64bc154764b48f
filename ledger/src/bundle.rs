//! The self-contained verification bundle of one committed transaction, and its offline verifier.
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
//! use opmeter_ledger::bundle::{verify_bundle, Bundle, BundleError};
//! use opmeter_vm::{Schedule, Vm};
//! let bundle: Bundle = serde_json::from_str(r#"{"format":"something-else","chainId":"x",
//!   "scheduleVersion":1,"scheduleHash":"0x","feeCollector":"0x0000000000000000000000000000000000000000000000000000000000000000","parentHeader":"0x","header":"0x",
//!   "transactions":[],"receipt":"0x","receiptPath":[],"codes":[],"reads":[]}"#).unwrap();
//! let error = verify_bundle(&bundle, &Vm::new(Schedule::v1())).unwrap_err();
//! assert!(matches!(error, BundleError::Format(_)));
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use opmeter_vm::{Address, CodeHash, StateError, StateView, Vm, U256};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use crate::block::{intrinsic_gas, Account, Header, Receipt};
use crate::compare::{compare_receipts, FieldCheck};
use crate::encoding::{from_hex0x, to_hex0x, Hash32};
use crate::merkle::verify_merkle_path;
use crate::name::{Name, NameRecord};
use crate::state::{self, StateKey};
use crate::transition::{execute_transaction, LedgerState, TransitionError, TxEnv, TxInput};
use crate::tx::SignedTransaction;

/// The `format` of bundles this crate writes and verifies.
pub const BUNDLE_FORMAT: &str = "opmeter-audit-bundle/1";

/// A self-contained verification bundle (JSON; `specs/audit-bundle.md`). Hex strings are
/// `0x`-prefixed; encoded objects are their canonical borsh bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
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
    #[cfg_attr(feature = "json-schema", schemars(with = "String"))]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BundleCode {
    /// `0x` blake3 of `wasm`.
    pub hash: String,
    /// `0x` original wasm bytes.
    pub wasm: String,
}

/// One proven state value of a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BundleRead {
    /// `0x` state key (`"acct" ‖ address`, `"stor" ‖ contract ‖ key` or `"name" ‖ name`).
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
    from_hex0x(text).map_err(|e| malformed(field, e))
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
    let ours = to_hex0x(&vm.schedule_hash());
    if bundle.schedule_hash != ours
        || header.schedule_hash != vm.schedule_hash()
        || bundle.schedule_version != vm.schedule().version
    {
        return Err(BundleError::Schedule {
            bundle: if bundle.schedule_hash == ours {
                to_hex0x(&header.schedule_hash)
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
        let leaf = Hash32::of(&bytes);
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
    let leaf = Hash32::of(&receipt_bytes);
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
        let key = StateKey::decode(&key_bytes).ok_or_else(|| {
            malformed(
                format!("{field}.key"),
                "not an account, storage or name key",
            )
        })?;
        let value = read
            .value
            .as_deref()
            .map(|v| hex_field(&format!("{field}.value"), v))
            .transpose()?;
        let proof_bytes = hex_field(&format!("{field}.proof"), &read.proof)?;
        state::verify(parent.state_root.0, &key, value.as_deref(), &proof_bytes).map_err(|e| {
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
        names: RwLock::default(),
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
    names: RwLock<BTreeMap<Name, NameRecord>>,
}

impl BundleState {
    fn proven(&self, key: &StateKey) -> Result<&Option<Vec<u8>>, StateError> {
        self.base.get(key).ok_or_else(|| {
            StateError(format!(
                "the transaction read {} but the bundle does not prove it",
                to_hex0x(&key.encode())
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

    fn name(&self, name: &Name) -> Result<Option<NameRecord>, StateError> {
        if let Some(record) = self.names.read().get(name) {
            return Ok(Some(*record));
        }
        self.proven(&StateKey::Name(name.clone()))?
            .as_deref()
            .map(|bytes| {
                borsh::from_slice(bytes)
                    .map_err(|e| StateError(format!("name {name} does not decode: {e}")))
            })
            .transpose()
    }

    fn set_name(&self, name: &Name, record: NameRecord) -> Result<(), StateError> {
        self.names.write().insert(name.clone(), record);
        Ok(())
    }
}
