//! The wire types: what the methods take and return, and their conversions from the ledger's and
//! the vm's domain types (this crate owns every view). Field names are camelCase; bytes and hashes
//! are `0x`-hex strings ([`HexBytes`], [`Hash32`]); gas and amounts (which can exceed 2^53) are
//! decimal strings ([`DecU64`], [`DecU256`]); heights, nonces and indexes are JSON numbers.

use std::collections::BTreeMap;

use opmeter_ledger::block::{Header, Receipt, ReceiptStatus};
use opmeter_ledger::encoding::{DecU256, DecU64, Hash32, HexBytes};
use opmeter_ledger::name::Name;
use opmeter_ledger::tx::{Payload, SignedTransaction};
use opmeter_vm::{Address, CodeHash, Event, GasCategory, Outcome, ValidationReport, U256};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

mod audit;
mod proof;
pub use audit::*;
pub use proof::*;

/// A contract or account named by its `0x` address or by its registered name (`specs/names.md`):
/// accepted wherever an address is. An address is 64 hex digits (`0x` optional); a name is 3–32
/// bytes of `[a-z0-9-]` and never starts with `0x`, so the two never overlap. A name is resolved
/// once per request, in the committed state the request then reads.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AddressOrName {
    /// An address.
    Address(Address),
    /// A registered name.
    Name(Name),
}

impl AddressOrName {
    /// Parses an address, else a name.
    ///
    /// # Errors
    /// Neither: the message names the naming rule the text breaks.
    pub fn parse(text: &str) -> Result<AddressOrName, String> {
        if let Ok(address) = Address::from_hex(text) {
            return Ok(AddressOrName::Address(address));
        }
        Name::parse(text).map(AddressOrName::Name).map_err(|rule| {
            format!("`{text}` is neither a 0x address (64 hex digits) nor a name: {rule}")
        })
    }

    /// The address, when given as one.
    pub fn address(&self) -> Option<Address> {
        match self {
            AddressOrName::Address(address) => Some(*address),
            AddressOrName::Name(_) => None,
        }
    }
}

impl Default for AddressOrName {
    /// The zero address.
    fn default() -> AddressOrName {
        AddressOrName::Address(Address([0; 32]))
    }
}

impl From<Address> for AddressOrName {
    fn from(address: Address) -> AddressOrName {
        AddressOrName::Address(address)
    }
}

impl From<Name> for AddressOrName {
    fn from(name: Name) -> AddressOrName {
        AddressOrName::Name(name)
    }
}

impl std::fmt::Display for AddressOrName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AddressOrName::Address(address) => write!(f, "{address}"),
            AddressOrName::Name(name) => f.write_str(name.as_str()),
        }
    }
}

impl std::str::FromStr for AddressOrName {
    type Err = String;

    fn from_str(text: &str) -> Result<AddressOrName, String> {
        AddressOrName::parse(text)
    }
}

impl Serialize for AddressOrName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AddressOrName {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<AddressOrName, D::Error> {
        let text = <std::borrow::Cow<'de, str> as Deserialize>::deserialize(deserializer)?;
        AddressOrName::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A name's record (`name_get`), with its Merkle proof against the state root of the block read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NameView {
    /// The name.
    pub name: String,
    /// Whether anyone registered it; `owner`, `target` and `registeredHeight` are `null` when not.
    pub registered: bool,
    /// `0x` the account that owns it (may re-point and transfer it).
    #[schemars(with = "Option<String>")]
    pub owner: Option<Address>,
    /// `0x` the contract it names.
    #[schemars(with = "Option<String>")]
    pub target: Option<Address>,
    /// The block that registered it.
    pub registered_height: Option<u64>,
    /// The block whose state it was read from.
    pub height: u64,
    /// `0x` that block's state root.
    #[schemars(with = "String")]
    pub state_root: Hash32,
    /// `0x` key hash in the tree: `blake3("name" ‖ name)`.
    #[schemars(with = "String")]
    pub key_hash: Hash32,
    /// `0x` the value proven: `borsh(NameRecord)` (`owner ‖ target ‖ registeredHeight` as u64
    /// little-endian), `null` when absent.
    #[schemars(with = "Option<String>")]
    pub value: Option<HexBytes>,
    /// `0x` borsh encoding of the `jmt` 0.12 `SparseMerkleProof` (inclusion or exclusion).
    #[schemars(with = "String")]
    pub proof: HexBytes,
}

impl NameView {
    /// The view of `name`'s record read at `height` with its proof.
    pub fn new(name: &Name, proven: &crate::backend::NameProof, height: u64) -> NameView {
        let record = proven.record.as_ref();
        let key_hash = opmeter_ledger::state::StateKey::Name(name.clone()).key_hash();
        NameView {
            name: name.to_string(),
            registered: record.is_some(),
            owner: record.map(|r| r.owner),
            target: record.map(|r| r.target),
            registered_height: record.map(|r| r.registered_height),
            height,
            state_root: proven.state_root,
            key_hash: Hash32(key_hash.0),
            value: proven.value.clone().map(HexBytes),
            proof: HexBytes(proven.proof.clone()),
        }
    }
}

/// A block header as served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeaderView {
    /// Chain id.
    pub chain_id: String,
    /// Height.
    pub height: u64,
    /// `0x` hash of this header.
    #[schemars(with = "String")]
    pub hash: Hash32,
    /// `0x` hash of the parent header.
    #[schemars(with = "String")]
    pub parent_hash: Hash32,
    /// `0x` `blake3(borsh(certificate))` of the parent's commit certificate this block carries
    /// (its `lastCommit`); zeroes when it carries none (a chain one node produces; block 1).
    #[schemars(with = "String")]
    pub last_commit_hash: Hash32,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// `0x` state root.
    #[schemars(with = "String")]
    pub state_root: Hash32,
    /// `0x` transactions root.
    #[schemars(with = "String")]
    pub transactions_root: Hash32,
    /// `0x` receipts root.
    #[schemars(with = "String")]
    pub receipts_root: Hash32,
    /// Gas used (decimal string).
    #[schemars(with = "String")]
    pub gas_used: DecU64,
    /// Transactions in the block.
    pub tx_count: u32,
    /// `0x` hash of the gas schedule the block ran under.
    #[schemars(with = "String")]
    pub schedule_hash: Hash32,
}

/// What `chain_info` returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChainInfo {
    /// Chain id (what transactions sign for).
    pub chain_id: String,
    /// The last committed header.
    pub head: HeaderView,
    /// Version of the gas schedule.
    pub schedule_version: u32,
    /// `0x` hash of the gas schedule.
    #[schemars(with = "String")]
    pub schedule_hash: Hash32,
    /// Whether development methods (`dev_fund`) are enabled.
    pub dev: bool,
    /// Lowest accepted gas price (decimal string).
    #[schemars(with = "String")]
    pub min_gas_price: DecU256,
    /// Most gas one block may use (decimal string).
    #[schemars(with = "String")]
    pub block_gas_limit: DecU64,
    /// Most gas a read-only call (`contract_call`) may use (decimal string).
    #[schemars(with = "String")]
    pub call_gas_max: DecU64,
}

/// A block by height or by hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum BlockId {
    /// A height.
    Height(u64),
    /// `0x` block hash, or `"latest"`.
    Hash(String),
}

/// A block as served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlockView {
    /// The header.
    pub header: HeaderView,
    /// `0x` hashes of its transactions, in order.
    #[schemars(with = "Vec<String>")]
    pub transaction_hashes: Vec<Hash32>,
    /// The transactions themselves, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transactions: Option<Vec<TxView>>,
    /// On a replicated chain from block 2 on: the commit certificate of the parent block that
    /// this block carries (its hash is the header's `lastCommitHash`): what shows block
    /// `height - 1` decided. `null` on a chain one node produces and for block 1.
    #[serde(default)]
    pub last_commit: Option<CommitView>,
}

/// The commit certificate of a block of a replicated chain: precommits for its hash from more
/// than two thirds of the validators' voting power (`specs/node.md`, "Replicated chains").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommitView {
    /// The block's height.
    pub height: u64,
    /// The round it was decided in.
    pub round: u32,
    /// `0x` hash of the block (its header).
    #[schemars(with = "String")]
    pub block_hash: Hash32,
    /// The precommits.
    pub signatures: Vec<CommitSignatureView>,
}

impl TryFrom<&CommitView> for opmeter_ledger::consensus::CommitCertificate {
    type Error = String;

    /// The certificate a client verifies (`CommitCertificate::verify_at`) and hashes (a
    /// header's `lastCommitHash`).
    fn try_from(view: &CommitView) -> Result<Self, String> {
        fn bytes<const N: usize>(what: &str, text: &str) -> Result<[u8; N], String> {
            let raw = text
                .strip_prefix("0x")
                .ok_or_else(|| format!("{what}: expected 0x hex"))?;
            hex::decode(raw)
                .ok()
                .and_then(|b| <[u8; N]>::try_from(b).ok())
                .ok_or_else(|| format!("{what}: expected 0x + {} hex digits", 2 * N))
        }
        let signatures = view
            .signatures
            .iter()
            .map(|s| {
                Ok(opmeter_ledger::consensus::CommitSignature {
                    validator: bytes("validator", &s.validator)?,
                    signature: bytes("signature", &s.signature)?,
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(opmeter_ledger::consensus::CommitCertificate {
            height: view.height,
            round: view.round,
            block_hash: view.block_hash,
            signatures,
        })
    }
}

/// One precommit of a [`CommitView`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommitSignatureView {
    /// `0x` + the validator's 20-byte address (`blake3(public key)[..20]`).
    pub validator: String,
    /// `0x` + its 64-byte ed25519 signature over the precommit.
    pub signature: String,
}

impl From<&opmeter_ledger::consensus::CommitCertificate> for CommitView {
    fn from(c: &opmeter_ledger::consensus::CommitCertificate) -> CommitView {
        CommitView {
            height: c.height,
            round: c.round,
            block_hash: c.block_hash,
            signatures: c
                .signatures
                .iter()
                .map(|s| CommitSignatureView {
                    validator: format!("0x{}", hex::encode(s.validator)),
                    signature: format!("0x{}", hex::encode(s.signature)),
                })
                .collect(),
        }
    }
}

/// What a transaction does, as served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum PayloadView {
    /// A value transfer.
    Transfer {
        /// Recipient.
        #[schemars(with = "String")]
        to: Address,
        /// Amount (decimal string).
        #[schemars(with = "String")]
        amount: DecU256,
    },
    /// A deployment.
    Deploy {
        /// `0x` blake3 of the code.
        #[schemars(with = "String")]
        code_hash: Hash32,
        /// Size of the code.
        code_size_bytes: u32,
        /// `0x` input of `init`.
        #[schemars(with = "String")]
        init_input: HexBytes,
        /// `0x` salt.
        #[schemars(with = "String")]
        salt: HexBytes,
        /// Value moved to the contract (decimal string).
        #[schemars(with = "String")]
        value: DecU256,
    },
    /// A contract call.
    Call {
        /// The contract.
        #[schemars(with = "String")]
        contract: Address,
        /// The method.
        method: String,
        /// `0x` input.
        #[schemars(with = "String")]
        input: HexBytes,
        /// Value moved to the contract (decimal string).
        #[schemars(with = "String")]
        value: DecU256,
    },
    /// Registers a name for a contract the sender deployed.
    RegisterName {
        /// The name.
        name: String,
        /// The contract it names.
        #[schemars(with = "String")]
        target: Address,
        /// `0x` the salt the sender deployed `target` with.
        #[schemars(with = "String")]
        salt: HexBytes,
    },
    /// Re-points a name the sender owns to another contract the sender deployed.
    PointName {
        /// The name.
        name: String,
        /// The contract it names from now on.
        #[schemars(with = "String")]
        target: Address,
        /// `0x` the salt the sender deployed `target` with.
        #[schemars(with = "String")]
        salt: HexBytes,
    },
    /// Gives a name the sender owns to another account.
    TransferName {
        /// The name.
        name: String,
        /// Its next owner.
        #[schemars(with = "String")]
        new_owner: Address,
    },
}

/// A transaction as served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TxView {
    /// `0x` transaction hash.
    #[schemars(with = "String")]
    pub hash: Hash32,
    /// The sender's address.
    #[schemars(with = "String")]
    pub sender: Address,
    /// `0x` ed25519 public key of the sender.
    #[schemars(with = "String")]
    pub public_key: HexBytes,
    /// Nonce.
    pub nonce: u64,
    /// Gas limit (decimal string).
    #[schemars(with = "String")]
    pub gas_limit: DecU64,
    /// Gas price (decimal string).
    #[schemars(with = "String")]
    pub gas_price: DecU256,
    /// What it does.
    pub payload: PayloadView,
    /// `0x` signature.
    #[schemars(with = "String")]
    pub signature: HexBytes,
    /// Size of the signed encoding.
    pub len_bytes: u32,
    /// `"pending"` or `"committed"`.
    pub state: String,
    /// Block height once committed.
    pub height: Option<u64>,
    /// Position in the block once committed.
    pub index: Option<u32>,
}

/// An account as served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountView {
    /// The address.
    #[schemars(with = "String")]
    pub address: Address,
    /// Balance (decimal string).
    #[schemars(with = "String")]
    pub balance: DecU256,
    /// Next nonce (committed).
    pub nonce: u64,
    /// Next nonce counting the account's pending transactions (at the head; equal to `nonce`
    /// at past heights): what its next transaction should carry.
    pub pending_nonce: u64,
    /// `0x` code hash for contracts.
    #[schemars(with = "Option<String>")]
    pub code_hash: Option<Hash32>,
    /// The height the account was read at.
    pub height: u64,
}

/// Contract code as served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CodeView {
    /// `0x` blake3 of the code.
    #[schemars(with = "String")]
    pub code_hash: Hash32,
    /// `0x` original wasm, as uploaded.
    #[schemars(with = "String")]
    pub code: HexBytes,
    /// Its size.
    pub size_bytes: u32,
}

/// One broken validation rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ViolationView {
    /// The rule's stable name.
    pub rule: String,
    /// The limit, when the rule has one.
    pub limit: Option<u64>,
    /// The value found.
    pub actual: Option<u64>,
    /// Where in the module.
    pub location: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// What `code_validate` returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValidationView {
    /// Whether the module may be deployed.
    pub valid: bool,
    /// `0x` code hash (of the bytes as given).
    #[schemars(with = "String")]
    pub code_hash: Hash32,
    /// Size of the module.
    pub size_bytes: u32,
    /// Every violation (empty when valid).
    pub violations: Vec<ViolationView>,
}

/// An event as served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    /// Emitting contract.
    #[schemars(with = "String")]
    pub contract: Address,
    /// `0x` topics.
    #[schemars(with = "Vec<String>")]
    pub topics: Vec<HexBytes>,
    /// `0x` data.
    #[schemars(with = "String")]
    pub data: HexBytes,
}

/// A receipt as served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptView {
    /// `0x` transaction hash.
    #[schemars(with = "String")]
    pub tx_hash: Hash32,
    /// Sender.
    #[schemars(with = "String")]
    pub sender: Address,
    /// Block height.
    pub height: u64,
    /// Position in the block.
    pub index: u32,
    /// Stable status code.
    pub status_code: u8,
    /// Status name.
    pub status: String,
    /// Trap code when trapped.
    pub trap_code: Option<u8>,
    /// Gas used (decimal string).
    #[schemars(with = "String")]
    pub gas_used: DecU64,
    /// Gas limit (decimal string).
    #[schemars(with = "String")]
    pub gas_limit: DecU64,
    /// Gas by category (decimal strings), summing to `gasUsed`.
    #[schemars(with = "BTreeMap<String, String>")]
    pub gas_breakdown: BTreeMap<String, DecU64>,
    /// Gas price (decimal string).
    #[schemars(with = "String")]
    pub gas_price: DecU256,
    /// Fee paid (decimal string).
    #[schemars(with = "String")]
    pub fee: DecU256,
    /// `0x` output or revert data.
    #[schemars(with = "String")]
    pub output: HexBytes,
    /// Events.
    pub events: Vec<EventView>,
    /// `0x` schedule hash.
    #[schemars(with = "String")]
    pub schedule_hash: Hash32,
    /// The deployed contract's address, for deployments.
    #[schemars(with = "Option<String>")]
    pub contract_address: Option<Address>,
}

/// A read-only call (`contract_call`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CallArgs {
    /// The caller the contract sees: `0x` address or registered name (default: the zero
    /// address).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub from: Option<AddressOrName>,
    /// The contract: `0x` address or registered name.
    #[schemars(with = "String")]
    pub contract: AddressOrName,
    /// The method.
    pub method: String,
    /// Arguments as JSON (sdk contracts); sent as its compact encoding.
    #[serde(default)]
    pub args: Option<serde_json::Value>,
    /// Raw `0x` input, instead of `args`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub input: Option<HexBytes>,
    /// Value the call carries (decimal string; default 0); the caller's balance must cover it.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub value: Option<DecU256>,
    /// Gas limit (decimal string; default and maximum: `chain_info.callGasMax`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub gas_limit: Option<DecU64>,
}

/// The result of a read-only call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallResultView {
    /// `success`, `reverted`, `trapped` or `outOfGas`.
    pub status: String,
    /// Stable status code (as in receipts).
    pub status_code: u8,
    /// Trap code when trapped.
    pub trap_code: Option<u8>,
    /// `0x` output or revert data.
    #[schemars(with = "String")]
    pub output: HexBytes,
    /// The output parsed as JSON, when it is JSON.
    pub output_json: Option<serde_json::Value>,
    /// Gas used (decimal string).
    #[schemars(with = "String")]
    pub gas_used: DecU64,
    /// Gas limit (decimal string).
    #[schemars(with = "String")]
    pub gas_limit: DecU64,
    /// Gas by category (decimal strings), summing to `gasUsed`.
    #[schemars(with = "BTreeMap<String, String>")]
    pub gas_breakdown: BTreeMap<String, DecU64>,
    /// Events the call would emit.
    pub events: Vec<EventView>,
    /// Debug log lines.
    pub logs: Vec<String>,
    /// The height of the state it ran against.
    pub height: u64,
}

/// A transaction to estimate (`contract_estimateGas`): the payload without a signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum TxRequest {
    /// A value transfer.
    Transfer {
        /// Recipient: `0x` address or registered name.
        #[schemars(with = "String")]
        to: AddressOrName,
        /// Amount (decimal string).
        #[schemars(with = "String")]
        amount: DecU256,
    },
    /// A deployment.
    Deploy {
        /// `0x` wasm.
        #[schemars(with = "String")]
        code: HexBytes,
        /// `init` arguments as JSON.
        #[serde(default)]
        args: Option<serde_json::Value>,
        /// Raw `0x` input of `init`, instead of `args`.
        #[serde(default)]
        #[schemars(with = "Option<String>")]
        input: Option<HexBytes>,
        /// `0x` salt.
        #[serde(default)]
        #[schemars(with = "Option<String>")]
        salt: Option<HexBytes>,
        /// Value (decimal string).
        #[serde(default)]
        #[schemars(with = "Option<String>")]
        value: Option<DecU256>,
    },
    /// A call.
    Call {
        /// The contract: `0x` address or registered name.
        #[schemars(with = "String")]
        contract: AddressOrName,
        /// The method.
        method: String,
        /// Arguments as JSON.
        #[serde(default)]
        args: Option<serde_json::Value>,
        /// Raw `0x` input, instead of `args`.
        #[serde(default)]
        #[schemars(with = "Option<String>")]
        input: Option<HexBytes>,
        /// Value (decimal string).
        #[serde(default)]
        #[schemars(with = "Option<String>")]
        value: Option<DecU256>,
    },
    /// Registers a name for a contract the sender deployed with `salt`.
    RegisterName {
        /// The name.
        name: String,
        /// `0x` the contract it names.
        #[schemars(with = "String")]
        target: Address,
        /// `0x` the salt the sender deployed `target` with (default: empty).
        #[serde(default)]
        #[schemars(with = "Option<String>")]
        salt: Option<HexBytes>,
    },
    /// Re-points a name the sender owns to another contract the sender deployed with `salt`.
    PointName {
        /// The name.
        name: String,
        /// `0x` the contract it names from now on.
        #[schemars(with = "String")]
        target: Address,
        /// `0x` the salt the sender deployed `target` with (default: empty).
        #[serde(default)]
        #[schemars(with = "Option<String>")]
        salt: Option<HexBytes>,
    },
    /// Gives a name the sender owns to another account.
    TransferName {
        /// The name.
        name: String,
        /// `0x` its next owner.
        #[schemars(with = "String")]
        new_owner: Address,
    },
}

/// What `contract_estimateGas` takes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EstimateArgs {
    /// The sender (its balance must cover `value`).
    #[schemars(with = "String")]
    pub from: Address,
    /// What the transaction does.
    pub tx: TxRequest,
}

/// What `contract_estimateGas` returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EstimateView {
    /// The smallest gas limit at which the transaction succeeds, verified by executing it at
    /// exactly this limit (decimal string, intrinsic gas included).
    #[schemars(with = "String")]
    pub gas_limit: DecU64,
    /// Gas it used at that limit (decimal string).
    #[schemars(with = "String")]
    pub gas_used: DecU64,
    /// Of which intrinsic (size) gas (decimal string).
    #[schemars(with = "String")]
    pub intrinsic_gas: DecU64,
    /// Gas by category at that limit.
    #[schemars(with = "BTreeMap<String, String>")]
    pub gas_breakdown: BTreeMap<String, DecU64>,
    /// `0x` output at that limit.
    #[schemars(with = "String")]
    pub output: HexBytes,
    /// Executions it took to find and verify the limit.
    pub executions: u32,
    /// The height of the state it ran against.
    pub height: u64,
}

/// A storage value with its Merkle proof (`contract_storage`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageProofView {
    /// The contract.
    #[schemars(with = "String")]
    pub contract: Address,
    /// `0x` storage key.
    #[schemars(with = "String")]
    pub key: HexBytes,
    /// `0x` value, `null` when absent.
    #[schemars(with = "Option<String>")]
    pub value: Option<HexBytes>,
    /// The block whose state it was read from.
    pub height: u64,
    /// `0x` that block's state root.
    #[schemars(with = "String")]
    pub state_root: Hash32,
    /// `0x` key hash in the tree: `blake3("stor" ‖ contract ‖ key)`.
    #[schemars(with = "String")]
    pub key_hash: Hash32,
    /// `0x` borsh encoding of the `jmt` 0.12 `SparseMerkleProof` (inclusion or exclusion).
    #[schemars(with = "String")]
    pub proof: HexBytes,
}

/// A filter of `subscribe_events`: events of `contract` (any when absent) whose topics start
/// with `topics` (`null` entries match anything).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventFilter {
    /// Only events of this contract: `0x` address or registered name (resolved once, at the
    /// head, when the subscription starts).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub contract: Option<AddressOrName>,
    /// Topic prefixes (`0x` hex each; `null` matches any).
    #[serde(default)]
    #[schemars(with = "Vec<Option<String>>")]
    pub topics: Vec<Option<HexBytes>>,
}

/// An event delivered by `subscribe_events`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventNotice {
    /// The event.
    pub event: EventView,
    /// `0x` hash of the transaction that emitted it.
    #[schemars(with = "String")]
    pub tx_hash: Hash32,
    /// Block height.
    pub height: u64,
    /// Transaction index in the block.
    pub tx_index: u32,
    /// Event index within the transaction.
    pub event_index: u32,
}

/// What `dev_fund` returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FundView {
    /// The funded address.
    #[schemars(with = "String")]
    pub address: Address,
    /// Amount moved (decimal string).
    #[schemars(with = "String")]
    pub amount: DecU256,
    /// `0x` hash of the transfer from the development account.
    #[schemars(with = "String")]
    pub tx_hash: Hash32,
}

/// A contract's daily quota of read-only gas (`contract_quota`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct QuotaView {
    /// The contract.
    #[schemars(with = "String")]
    pub contract: Address,
    /// Its read-only gas per rolling window (decimal string); `null`: unlimited.
    #[schemars(with = "Option<String>")]
    pub daily_gas: Option<DecU64>,
    /// Gas its read-only calls used in the window (decimal string).
    #[schemars(with = "String")]
    pub used_gas: DecU64,
    /// What is left (decimal string); `null`: unlimited.
    #[schemars(with = "Option<String>")]
    pub remaining_gas: Option<DecU64>,
    /// Length of the rolling window in milliseconds (24 h).
    pub window_ms: u64,
}

/// A committed block as the server announces it to subscriptions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockNotice {
    /// The header.
    pub header: HeaderView,
    /// Every event of the block, in order.
    pub events: Vec<EventNotice>,
}

impl EventFilter {
    /// Whether `event` passes the filter whose contract resolved to `contract`.
    pub fn matches(&self, contract: Option<Address>, event: &EventView) -> bool {
        if contract.is_some_and(|c| c != event.contract) {
            return false;
        }
        self.topics.iter().enumerate().all(|(i, want)| match want {
            None => true,
            Some(want) => event.topics.get(i) == Some(want),
        })
    }
}

impl From<&Header> for HeaderView {
    fn from(header: &Header) -> HeaderView {
        HeaderView {
            chain_id: header.chain_id.clone(),
            height: header.height,
            hash: header.hash(),
            parent_hash: header.parent_hash,
            last_commit_hash: header.last_commit_hash,
            timestamp_ms: header.timestamp_ms,
            state_root: header.state_root,
            transactions_root: header.transactions_root,
            receipts_root: header.receipts_root,
            gas_used: header.gas_used.into(),
            tx_count: header.tx_count,
            schedule_hash: Hash32(header.schedule_hash),
        }
    }
}

impl From<&Event> for EventView {
    fn from(event: &Event) -> EventView {
        EventView {
            contract: event.contract,
            topics: event
                .topics
                .iter()
                .map(|t| HexBytes::from(&t[..]))
                .collect(),
            data: HexBytes::from(&event.data[..]),
        }
    }
}

/// Gas by category as served.
fn breakdown_view<'a>(
    entries: impl IntoIterator<Item = (&'a str, u64)>,
) -> BTreeMap<String, DecU64> {
    entries
        .into_iter()
        .map(|(key, gas)| (key.to_string(), DecU64(gas)))
        .collect()
}

impl From<&Receipt> for ReceiptView {
    fn from(receipt: &Receipt) -> ReceiptView {
        ReceiptView {
            tx_hash: receipt.tx_hash,
            sender: receipt.sender,
            height: receipt.height,
            index: receipt.index,
            status_code: receipt.status.code(),
            status: receipt.status.name().into(),
            trap_code: receipt.trap_code,
            gas_used: receipt.gas_used.into(),
            gas_limit: receipt.gas_limit.into(),
            gas_breakdown: breakdown_view(
                receipt.gas_breakdown.iter().map(|(k, v)| (k.as_str(), *v)),
            ),
            gas_price: receipt.gas_price.into(),
            fee: receipt.fee.into(),
            output: HexBytes::from(&receipt.output[..]),
            events: receipt.events.iter().map(EventView::from).collect(),
            schedule_hash: Hash32(receipt.schedule_hash),
            contract_address: receipt.contract_address,
        }
    }
}

impl From<&Payload> for PayloadView {
    fn from(payload: &Payload) -> PayloadView {
        match payload {
            Payload::Transfer { to, amount } => PayloadView::Transfer {
                to: *to,
                amount: (*amount).into(),
            },
            Payload::Deploy {
                code,
                init_input,
                salt,
                value,
            } => PayloadView::Deploy {
                code_hash: Hash32(CodeHash::of(code).0),
                code_size_bytes: u32::try_from(code.len()).unwrap_or(u32::MAX),
                init_input: HexBytes::from(&init_input[..]),
                salt: HexBytes::from(&salt[..]),
                value: (*value).into(),
            },
            Payload::Call {
                contract,
                method,
                input,
                value,
            } => PayloadView::Call {
                contract: *contract,
                method: method.clone(),
                input: HexBytes::from(&input[..]),
                value: (*value).into(),
            },
            Payload::RegisterName { name, target, salt } => PayloadView::RegisterName {
                name: name.clone(),
                target: *target,
                salt: HexBytes::from(&salt[..]),
            },
            Payload::PointName { name, target, salt } => PayloadView::PointName {
                name: name.clone(),
                target: *target,
                salt: HexBytes::from(&salt[..]),
            },
            Payload::TransferName { name, new_owner } => PayloadView::TransferName {
                name: name.clone(),
                new_owner: *new_owner,
            },
        }
    }
}

impl TxView {
    /// A transaction as served; `location` is `(height, index)` once committed.
    pub fn new(signed: &SignedTransaction, location: Option<(u64, u32)>) -> TxView {
        let tx = &signed.tx;
        TxView {
            hash: signed.hash(),
            sender: tx.sender(),
            public_key: HexBytes::from(&tx.public_key[..]),
            nonce: tx.nonce,
            gas_limit: tx.gas_limit.into(),
            gas_price: tx.gas_price.into(),
            payload: PayloadView::from(&tx.payload),
            signature: HexBytes::from(&signed.signature[..]),
            len_bytes: u32::try_from(signed.encode().len()).unwrap_or(u32::MAX),
            state: if location.is_some() {
                "committed"
            } else {
                "pending"
            }
            .into(),
            height: location.map(|l| l.0),
            index: location.map(|l| l.1),
        }
    }
}

impl CallResultView {
    /// A read-only call's outcome, run against the state of block `height`.
    pub fn new(outcome: &Outcome, height: u64) -> CallResultView {
        let status = ReceiptStatus::from_vm(outcome.status);
        CallResultView {
            status: status.name().into(),
            status_code: status.code(),
            trap_code: outcome.trap_code().map(|t| t.code()),
            output: HexBytes::from(&outcome.output[..]),
            output_json: serde_json::from_slice(&outcome.output).ok(),
            gas_used: outcome.gas_used.into(),
            gas_limit: outcome.gas_limit.into(),
            gas_breakdown: breakdown_view(outcome.breakdown_by_key()),
            events: outcome.events.iter().map(EventView::from).collect(),
            logs: outcome.logs.clone(),
            height,
        }
    }
}

impl EstimateView {
    /// The verified estimate: `gas_limit`, the receipt of the execution at exactly that limit,
    /// the executions it took, and the height of the state they ran against.
    pub fn new(gas_limit: u64, receipt: &Receipt, executions: u32, height: u64) -> EstimateView {
        let intrinsic = receipt
            .gas_breakdown
            .get(GasCategory::Transaction.key())
            .copied()
            .unwrap_or(0);
        EstimateView {
            gas_limit: gas_limit.into(),
            gas_used: receipt.gas_used.into(),
            intrinsic_gas: intrinsic.into(),
            gas_breakdown: breakdown_view(
                receipt.gas_breakdown.iter().map(|(k, v)| (k.as_str(), *v)),
            ),
            output: HexBytes::from(&receipt.output[..]),
            executions,
            height,
        }
    }
}

impl ValidationView {
    /// The verdict on `code`: `Ok` or every violation.
    pub fn new(code: &[u8], verdict: Result<(), &ValidationReport>) -> ValidationView {
        ValidationView {
            valid: verdict.is_ok(),
            code_hash: Hash32(CodeHash::of(code).0),
            size_bytes: u32::try_from(code.len()).unwrap_or(u32::MAX),
            violations: verdict.err().map(ViolationView::all).unwrap_or_default(),
        }
    }
}

impl ViolationView {
    /// Every violation of `report`, in its order.
    pub fn all(report: &ValidationReport) -> Vec<ViolationView> {
        report
            .violations
            .iter()
            .map(|v| ViolationView {
                rule: v.rule.as_str().into(),
                limit: v.limit,
                actual: v.actual,
                location: v.location.clone(),
                message: v.message.clone(),
            })
            .collect()
    }
}

impl FundView {
    /// The funding of `address` with `amount` by transfer `tx_hash`.
    pub fn new(address: Address, amount: U256, tx_hash: Hash32) -> FundView {
        FundView {
            address,
            amount: amount.into(),
            tx_hash,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(contract: u8, topics: &[&[u8]]) -> EventView {
        EventView {
            contract: Address([contract; 32]),
            topics: topics.iter().map(|t| HexBytes::from(*t)).collect(),
            data: HexBytes::default(),
        }
    }

    #[test]
    fn filters_by_contract_and_topic_prefix() {
        let any = EventFilter::default();
        assert!(any.matches(None, &event(1, &[&[0xaa]])));
        let by_contract = EventFilter {
            contract: Some(Address([1; 32]).into()),
            topics: vec![],
        };
        let resolved = Some(Address([1; 32]));
        assert!(by_contract.matches(resolved, &event(1, &[])));
        assert!(!by_contract.matches(resolved, &event(2, &[])));
        let by_name: EventFilter = serde_json::from_str(r#"{"contract": "hello"}"#).unwrap();
        assert_eq!(
            by_name.contract,
            Some(AddressOrName::Name(Name::parse("hello").unwrap()))
        );
        let second_topic: EventFilter =
            serde_json::from_str(r#"{"topics": [null, "0xBB"]}"#).unwrap();
        assert!(second_topic.matches(None, &event(3, &[&[0xaa], &[0xbb]])));
        assert!(!second_topic.matches(None, &event(3, &[&[0xaa], &[0xcc]])));
        assert!(!second_topic.matches(None, &event(3, &[&[0xaa]])));
        assert!(serde_json::from_str::<EventFilter>(r#"{"topics": ["bb"]}"#).is_err());
    }

    #[test]
    fn block_ids_parse_from_numbers_and_strings() {
        assert_eq!(
            serde_json::from_str::<BlockId>("7").unwrap(),
            BlockId::Height(7)
        );
        assert_eq!(
            serde_json::from_str::<BlockId>("\"latest\"").unwrap(),
            BlockId::Hash("latest".into())
        );
    }
}
