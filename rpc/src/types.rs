//! The wire types: what the methods take and return. Field names are camelCase; bytes are
//! `0x`-hex strings; gas and amounts (which can exceed 2^53) are decimal strings; heights, nonces
//! and indexes are JSON numbers.

use std::collections::BTreeMap;

use opmeter_vm::Address;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A block header as served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeaderView {
    /// Chain id.
    pub chain_id: String,
    /// Height.
    pub height: u64,
    /// `0x` hash of this header.
    pub hash: String,
    /// `0x` hash of the parent header.
    pub parent_hash: String,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// `0x` state root.
    pub state_root: String,
    /// `0x` transactions root.
    pub transactions_root: String,
    /// `0x` receipts root.
    pub receipts_root: String,
    /// Gas used (decimal string).
    pub gas_used: String,
    /// Transactions in the block.
    pub tx_count: u32,
    /// `0x` hash of the gas schedule the block ran under.
    pub schedule_hash: String,
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
    pub schedule_hash: String,
    /// Whether development methods (`dev_fund`) are enabled.
    pub dev: bool,
    /// Lowest accepted gas price (decimal string).
    pub min_gas_price: String,
    /// Most gas one block may use (decimal string).
    pub block_gas_limit: String,
    /// Most gas a read-only call (`contract_call`) may use (decimal string).
    pub call_gas_max: String,
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
    pub transaction_hashes: Vec<String>,
    /// The transactions themselves, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transactions: Option<Vec<TxView>>,
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
        amount: String,
    },
    /// A deployment.
    Deploy {
        /// `0x` blake3 of the code.
        code_hash: String,
        /// Size of the code.
        code_size_bytes: u32,
        /// `0x` input of `init`.
        init_input: String,
        /// `0x` salt.
        salt: String,
        /// Value moved to the contract (decimal string).
        value: String,
    },
    /// A contract call.
    Call {
        /// The contract.
        #[schemars(with = "String")]
        contract: Address,
        /// The method.
        method: String,
        /// `0x` input.
        input: String,
        /// Value moved to the contract (decimal string).
        value: String,
    },
}

/// A transaction as served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TxView {
    /// `0x` transaction hash.
    pub hash: String,
    /// The sender's address.
    #[schemars(with = "String")]
    pub sender: Address,
    /// `0x` ed25519 public key of the sender.
    pub public_key: String,
    /// Nonce.
    pub nonce: u64,
    /// Gas limit (decimal string).
    pub gas_limit: String,
    /// Gas price (decimal string).
    pub gas_price: String,
    /// What it does.
    pub payload: PayloadView,
    /// `0x` signature.
    pub signature: String,
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
    pub balance: String,
    /// Next nonce (committed).
    pub nonce: u64,
    /// Next nonce counting the account's pending transactions (at the head; equal to `nonce`
    /// at past heights): what its next transaction should carry.
    pub pending_nonce: u64,
    /// `0x` code hash for contracts.
    pub code_hash: Option<String>,
    /// The height the account was read at.
    pub height: u64,
}

/// Contract code as served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CodeView {
    /// `0x` blake3 of the code.
    pub code_hash: String,
    /// `0x` original wasm, as uploaded.
    pub code: String,
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
    pub code_hash: String,
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
    pub topics: Vec<String>,
    /// `0x` data.
    pub data: String,
}

/// A receipt as served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptView {
    /// `0x` transaction hash.
    pub tx_hash: String,
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
    pub gas_used: String,
    /// Gas limit (decimal string).
    pub gas_limit: String,
    /// Gas by category (decimal strings), summing to `gasUsed`.
    pub gas_breakdown: BTreeMap<String, String>,
    /// Gas price (decimal string).
    pub gas_price: String,
    /// Fee paid (decimal string).
    pub fee: String,
    /// `0x` output or revert data.
    pub output: String,
    /// Events.
    pub events: Vec<EventView>,
    /// `0x` schedule hash.
    pub schedule_hash: String,
    /// The deployed contract's address, for deployments.
    #[schemars(with = "Option<String>")]
    pub contract_address: Option<Address>,
}

/// A read-only call (`contract_call`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CallArgs {
    /// The caller the contract sees (default: the zero address).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub from: Option<Address>,
    /// The contract.
    #[schemars(with = "String")]
    pub contract: Address,
    /// The method.
    pub method: String,
    /// Arguments as JSON (sdk contracts); sent as its compact encoding.
    #[serde(default)]
    pub args: Option<serde_json::Value>,
    /// Raw `0x` input, instead of `args`.
    #[serde(default)]
    pub input: Option<String>,
    /// Value the call carries (decimal string; default 0); the caller's balance must cover it.
    #[serde(default)]
    pub value: Option<String>,
    /// Gas limit (decimal string; default and maximum: `chain_info.callGasMax`).
    #[serde(default)]
    pub gas_limit: Option<String>,
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
    pub output: String,
    /// The output parsed as JSON, when it is JSON.
    pub output_json: Option<serde_json::Value>,
    /// Gas used (decimal string).
    pub gas_used: String,
    /// Gas limit (decimal string).
    pub gas_limit: String,
    /// Gas by category (decimal strings), summing to `gasUsed`.
    pub gas_breakdown: BTreeMap<String, String>,
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
        /// Recipient.
        #[schemars(with = "String")]
        to: Address,
        /// Amount (decimal string).
        amount: String,
    },
    /// A deployment.
    Deploy {
        /// `0x` wasm.
        code: String,
        /// `init` arguments as JSON.
        #[serde(default)]
        args: Option<serde_json::Value>,
        /// Raw `0x` input of `init`, instead of `args`.
        #[serde(default)]
        input: Option<String>,
        /// `0x` salt.
        #[serde(default)]
        salt: Option<String>,
        /// Value (decimal string).
        #[serde(default)]
        value: Option<String>,
    },
    /// A call.
    Call {
        /// The contract.
        #[schemars(with = "String")]
        contract: Address,
        /// The method.
        method: String,
        /// Arguments as JSON.
        #[serde(default)]
        args: Option<serde_json::Value>,
        /// Raw `0x` input, instead of `args`.
        #[serde(default)]
        input: Option<String>,
        /// Value (decimal string).
        #[serde(default)]
        value: Option<String>,
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
    pub gas_limit: String,
    /// Gas it used at that limit (decimal string).
    pub gas_used: String,
    /// Of which intrinsic (size) gas (decimal string).
    pub intrinsic_gas: String,
    /// Gas by category at that limit.
    pub gas_breakdown: BTreeMap<String, String>,
    /// `0x` output at that limit.
    pub output: String,
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
    pub key: String,
    /// `0x` value, `null` when absent.
    pub value: Option<String>,
    /// The block whose state it was read from.
    pub height: u64,
    /// `0x` that block's state root.
    pub state_root: String,
    /// `0x` key hash in the tree: `blake3("stor" ‖ contract ‖ key)`.
    pub key_hash: String,
    /// `0x` borsh encoding of the `jmt` 0.12 `SparseMerkleProof` (inclusion or exclusion).
    pub proof: String,
}

/// A filter of `subscribe_events`: events of `contract` (any when absent) whose topics start
/// with `topics` (`null` entries match anything).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventFilter {
    /// Only events of this contract.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub contract: Option<Address>,
    /// Topic prefixes (`0x` hex each; `null` matches any).
    #[serde(default)]
    pub topics: Vec<Option<String>>,
}

/// An event delivered by `subscribe_events`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventNotice {
    /// The event.
    pub event: EventView,
    /// `0x` hash of the transaction that emitted it.
    pub tx_hash: String,
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
    pub amount: String,
    /// `0x` hash of the transfer from the development account.
    pub tx_hash: String,
}

/// A committed block as the node announces it to subscriptions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockNotice {
    /// The header.
    pub header: HeaderView,
    /// Every event of the block, in order.
    pub events: Vec<EventNotice>,
}

impl EventFilter {
    /// Whether `event` passes the filter. Topics compare as lowercase hex.
    pub fn matches(&self, event: &EventView) -> bool {
        if self.contract.is_some_and(|c| c != event.contract) {
            return false;
        }
        self.topics.iter().enumerate().all(|(i, want)| match want {
            None => true,
            Some(want) => event
                .topics
                .get(i)
                .is_some_and(|got| got.eq_ignore_ascii_case(want)),
        })
    }
}

fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

impl From<&crate::ledger::Header> for HeaderView {
    fn from(header: &crate::ledger::Header) -> HeaderView {
        HeaderView {
            chain_id: header.chain_id.clone(),
            height: header.height,
            hash: header.hash().to_hex(),
            parent_hash: header.parent_hash.to_hex(),
            timestamp_ms: header.timestamp_ms,
            state_root: header.state_root.to_hex(),
            transactions_root: header.transactions_root.to_hex(),
            receipts_root: header.receipts_root.to_hex(),
            gas_used: header.gas_used.to_string(),
            tx_count: header.tx_count,
            schedule_hash: hex0x(&header.schedule_hash),
        }
    }
}

impl From<&opmeter_vm::Event> for EventView {
    fn from(event: &opmeter_vm::Event) -> EventView {
        EventView {
            contract: event.contract,
            topics: event.topics.iter().map(|t| hex0x(t)).collect(),
            data: hex0x(&event.data),
        }
    }
}

impl From<&crate::ledger::Receipt> for ReceiptView {
    fn from(receipt: &crate::ledger::Receipt) -> ReceiptView {
        ReceiptView {
            tx_hash: receipt.tx_hash.to_hex(),
            sender: receipt.sender,
            height: receipt.height,
            index: receipt.index,
            status_code: receipt.status.code(),
            status: receipt.status.name().into(),
            trap_code: receipt.trap_code,
            gas_used: receipt.gas_used.to_string(),
            gas_limit: receipt.gas_limit.to_string(),
            gas_breakdown: receipt
                .gas_breakdown
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect(),
            gas_price: receipt.gas_price.to_string(),
            fee: receipt.fee.to_string(),
            output: hex0x(&receipt.output),
            events: receipt.events.iter().map(EventView::from).collect(),
            schedule_hash: hex0x(&receipt.schedule_hash),
            contract_address: receipt.contract_address,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(contract: u8, topics: &[&str]) -> EventView {
        EventView {
            contract: Address([contract; 32]),
            topics: topics.iter().map(|t| t.to_string()).collect(),
            data: "0x".into(),
        }
    }

    #[test]
    fn filters_by_contract_and_topic_prefix() {
        let any = EventFilter::default();
        assert!(any.matches(&event(1, &["0xaa"])));
        let by_contract = EventFilter {
            contract: Some(Address([1; 32])),
            topics: vec![],
        };
        assert!(by_contract.matches(&event(1, &[])));
        assert!(!by_contract.matches(&event(2, &[])));
        let second_topic = EventFilter {
            contract: None,
            topics: vec![None, Some("0xBB".into())],
        };
        assert!(second_topic.matches(&event(3, &["0xaa", "0xbb"])));
        assert!(!second_topic.matches(&event(3, &["0xaa", "0xcc"])));
        assert!(!second_topic.matches(&event(3, &["0xaa"])));
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
