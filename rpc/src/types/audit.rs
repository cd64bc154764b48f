//! Wire types of the gas audit: the replay report, and the trace of where every unit of gas went.

use std::collections::BTreeMap;

use opmeter_ledger::block::{Receipt, ReceiptStatus};
use opmeter_ledger::compare::{FieldCheck, ReplayReport};
use opmeter_ledger::encoding::{DecU64, Hash32, HexBytes};
use opmeter_vm::{
    Address, FrameTrace, GasCategory, Outcome, Status, Trace, TraceEntry, TraceOptions,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What `audit_replay` reports: the transaction re-executed against the state it saw, compared
/// field by field with its stored receipt, plus the block's roots after replaying all of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "ReplayReport")]
pub struct ReplayReportView {
    /// `0x` transaction hash.
    #[schemars(with = "String")]
    pub tx_hash: Hash32,
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

impl From<&ReplayReport> for ReplayReportView {
    fn from(report: &ReplayReport) -> ReplayReportView {
        ReplayReportView {
            tx_hash: report.tx_hash,
            height: report.height,
            index: report.index,
            matches: report.matches(),
            fields: report.fields.clone(),
            replayed_transactions: report.replayed_transactions,
            first_difference: report.first_difference().cloned(),
        }
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
    #[schemars(with = "Option<String>")]
    pub tx_hash: Option<Hash32>,
    /// Status name.
    pub status: String,
    /// Total gas used (decimal string), as in the receipt.
    #[schemars(with = "String")]
    pub gas_used: DecU64,
    /// The transaction's intrinsic gas (decimal string; `0` for a read-only call).
    #[schemars(with = "String")]
    pub intrinsic_gas: DecU64,
    /// `0x` output or revert data.
    #[schemars(with = "String")]
    pub output: HexBytes,
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
    #[schemars(with = "Option<String>")]
    pub code_hash: Option<Hash32>,
    /// Call depth (1 at the top).
    pub depth: u32,
    /// How it ended.
    pub status: String,
    /// Frames merged into this one.
    pub calls: u64,
    /// Gas (decimal string): the sum of `entries`.
    #[schemars(with = "String")]
    pub gas_used: DecU64,
    /// Where it went, in first-call order.
    pub entries: Vec<TraceEntryView>,
}

impl FrameTraceView {
    fn name_functions(&mut self, code_hash: &Hash32, names: &BTreeMap<u32, String>) {
        let own = self.code_hash.as_ref() == Some(code_hash);
        for entry in &mut self.entries {
            entry.name_functions(own, code_hash, names);
        }
    }
}

impl TraceEntryView {
    fn name_functions(&mut self, own: bool, code_hash: &Hash32, names: &BTreeMap<u32, String>) {
        match self {
            TraceEntryView::Function {
                index,
                name,
                children,
                ..
            } => {
                if own {
                    if let Some(named) = names.get(index) {
                        name.clone_from(named);
                    }
                }
                for child in children {
                    child.name_functions(own, code_hash, names);
                }
            }
            TraceEntryView::Host { callees, .. } => {
                for callee in callees {
                    callee.name_functions(code_hash, names);
                }
            }
            TraceEntryView::Charge { .. } | TraceEntryView::Truncated { .. } => {}
        }
    }
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
        #[schemars(with = "String")]
        gas: DecU64,
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
        #[schemars(with = "String")]
        gas: DecU64,
        /// Its own metered instructions.
        #[schemars(with = "String")]
        instructions_gas: DecU64,
        /// Its own `memory.grow` charges.
        #[schemars(with = "String")]
        memory_gas: DecU64,
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
        #[schemars(with = "String")]
        gas: DecU64,
        /// Its storage-bytes charges.
        #[schemars(with = "String")]
        storage_bytes_gas: DecU64,
        /// Contracts it called (`call`).
        callees: Vec<FrameTraceView>,
    },
    /// Entries that did not fit, with their gas by category.
    #[serde(rename_all = "camelCase")]
    Truncated {
        /// Gas.
        #[schemars(with = "String")]
        gas: DecU64,
        /// By category.
        #[schemars(with = "BTreeMap<String, String>")]
        breakdown: BTreeMap<String, DecU64>,
    },
}

/// One metered block of the profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlockStatView {
    /// `0x` code hash.
    #[schemars(with = "String")]
    pub code_hash: Hash32,
    /// Function index.
    pub function: u32,
    /// Function name.
    pub name: String,
    /// Charge site.
    pub site: u32,
    /// Gas per execution of the block.
    #[schemars(with = "String")]
    pub cost_per_hit: DecU64,
    /// Executions.
    pub hits: u64,
    /// Gas (decimal string).
    #[schemars(with = "String")]
    pub gas: DecU64,
    /// Original instructions in the block.
    pub instructions: u32,
}

fn status_name(status: Status) -> String {
    ReceiptStatus::from_vm(status).name().into()
}

impl From<&FrameTrace> for FrameTraceView {
    fn from(frame: &FrameTrace) -> FrameTraceView {
        FrameTraceView {
            contract: frame.contract,
            method: frame.method.clone(),
            code_hash: frame.code_hash.map(|h| Hash32(h.0)),
            depth: frame.depth,
            status: status_name(frame.status),
            calls: frame.calls,
            gas_used: frame.gas_used.into(),
            entries: frame.entries.iter().map(TraceEntryView::from).collect(),
        }
    }
}

impl From<&TraceEntry> for TraceEntryView {
    fn from(entry: &TraceEntry) -> TraceEntryView {
        match entry {
            TraceEntry::Charge { category, gas } => TraceEntryView::Charge {
                category: category.key().into(),
                gas: (*gas).into(),
            },
            TraceEntry::Function(f) => TraceEntryView::Function {
                index: f.index,
                name: f.name.clone(),
                calls: f.calls,
                gas: f.gas.into(),
                instructions_gas: f.instructions_gas.into(),
                memory_gas: f.memory_gas.into(),
                children: f.children.iter().map(TraceEntryView::from).collect(),
            },
            TraceEntry::Host(h) => TraceEntryView::Host {
                function: h.function.name().into(),
                calls: h.calls,
                gas: h.gas.into(),
                storage_bytes_gas: h.storage_bytes_gas.into(),
                callees: h.callees.iter().map(FrameTraceView::from).collect(),
            },
            TraceEntry::Truncated { gas, breakdown } => TraceEntryView::Truncated {
                gas: (*gas).into(),
                breakdown: breakdown
                    .iter()
                    .map(|(k, v)| (k.key().to_string(), DecU64(*v)))
                    .collect(),
            },
        }
    }
}

impl TraceView {
    /// Names the functions of `code_hash` from a side table (`NAME.names.json`, written by
    /// `opmeter build` beside the deployed code, which carries no `name` section): what the vm's
    /// `Trace::name_functions` does, on the wire view. Only labels change.
    pub fn name_functions(&mut self, code_hash: &Hash32, names: &BTreeMap<u32, String>) {
        if let Some(root) = &mut self.root {
            root.name_functions(code_hash, names);
        }
        for block in &mut self.blocks {
            if block.code_hash == *code_hash {
                if let Some(name) = names.get(&block.function) {
                    block.name.clone_from(name);
                }
            }
        }
    }

    /// The view of a receipt and the trace of its execution (`None`: no code ran).
    pub fn of_receipt(receipt: &Receipt, trace: Option<&Trace>) -> TraceView {
        let intrinsic = receipt
            .gas_breakdown
            .get(GasCategory::Transaction.key())
            .copied()
            .unwrap_or(0);
        let mut view = TraceView::of(trace, receipt.gas_used, intrinsic);
        view.tx_hash = Some(receipt.tx_hash);
        view.status = receipt.status.name().into();
        view.output = HexBytes::from(&receipt.output[..]);
        view
    }

    /// The view of a read-only call's outcome and trace.
    pub fn of_call(outcome: &Outcome, trace: &Trace) -> TraceView {
        let mut view = TraceView::of(Some(trace), outcome.gas_used, 0);
        view.status = status_name(outcome.status);
        view.output = HexBytes::from(&outcome.output[..]);
        view
    }

    fn of(trace: Option<&Trace>, gas_used: u64, intrinsic_gas: u64) -> TraceView {
        TraceView {
            tx_hash: None,
            status: String::new(),
            gas_used: gas_used.into(),
            intrinsic_gas: intrinsic_gas.into(),
            output: HexBytes::default(),
            root: trace.map(|t| FrameTraceView::from(&t.root)),
            truncated: trace.is_some_and(|t| t.truncated),
            blocks: trace
                .map(|t| {
                    t.blocks
                        .iter()
                        .map(|b| BlockStatView {
                            code_hash: Hash32(b.code_hash.0),
                            function: b.function,
                            name: b.name.clone(),
                            site: b.site,
                            cost_per_hit: b.cost_per_hit.into(),
                            hits: b.hits,
                            gas: b.gas.into(),
                            instructions: b.instructions,
                        })
                        .collect()
                })
                .unwrap_or_default(),
            blocks_truncated: trace.is_some_and(|t| t.blocks_truncated),
        }
    }
}
