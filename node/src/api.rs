//! The node's side of the JSON-RPC server: [`opmeter_rpc::Backend`] over a running [`Node`], and
//! the one mapping from node errors to JSON-RPC error codes.
//!
//! Error codes: `1000 + n` for admission error `n` (see [`AdmissionError::code`]), `-32602` for
//! bad parameters, `-32603` for node faults.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opmeter_rpc::api::call_input;
use opmeter_rpc::audit::{Bundle, ReplayReport, TraceView};
use opmeter_rpc::{
    decode_hex, AccountView, Backend, BlockNotice, BlockRef, BlockView, CallResultView, ChainInfo,
    CodeRef, CodeView, ErrorCode, EstimateView, EventNotice, EventView, FundView, HeaderView,
    PayloadView, ReceiptView, RpcError, StorageProofView, TxRequest, TxView, ValidationView,
    ViolationView,
};
use opmeter_vm::{Address, CallRequest, CodeHash, Outcome, TraceOptions, U256};
use parking_lot::Mutex;
use tokio::sync::broadcast;

use crate::chain::EstimateError;
use crate::error::{AdmissionError, NodeError, SubmitError};
use crate::genesis::dev_key;
use crate::service::{CommittedBlock, Node};
use crate::store::StateKey;
use crate::types::{Hash32, Payload, ReceiptStatus, SignedTransaction};

/// JSON-RPC code base of admission errors.
pub const ADMISSION_CODE_BASE: i32 = 1000;

/// How long `dev_fund` waits for its transfer to commit.
const DEV_FUND_WAIT: Duration = Duration::from_secs(30);

/// [`Backend`] over a node.
#[derive(Debug)]
pub struct NodeBackend {
    node: Arc<Node>,
    notices: broadcast::Sender<Arc<BlockNotice>>,
    /// Serialises `dev_fund` (one nonce sequence for the development account).
    funding: Mutex<()>,
}

impl NodeBackend {
    /// Serves `node`. Starts a thread that turns committed blocks into notices for subscribers.
    pub fn new(node: Arc<Node>) -> NodeBackend {
        let (notices, _) = broadcast::channel(1024);
        let mut blocks = node.subscribe();
        let sender = notices.clone();
        let _ = std::thread::Builder::new()
            .name("rpc-notices".into())
            .spawn(move || loop {
                match blocks.blocking_recv() {
                    Ok(block) => {
                        let _ = sender.send(Arc::new(block_notice(&block)));
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            });
        NodeBackend {
            node,
            notices,
            funding: Mutex::new(()),
        }
    }

    fn height_or_head(&self, height: Option<u64>) -> Result<u64, RpcError> {
        let head = self.node.head().header.height;
        match height {
            None => Ok(head),
            Some(h) if h <= head => Ok(h),
            Some(h) => Err(RpcError::new(
                ErrorCode::UnknownBlock,
                format!("height {h} is above the head {head}"),
            )),
        }
    }
}

fn block_notice(block: &CommittedBlock) -> BlockNotice {
    let header = &block.block.header;
    let mut events = Vec::new();
    for receipt in &block.receipts {
        for (event_index, event) in receipt.events.iter().enumerate() {
            events.push(EventNotice {
                event: EventView::from(event),
                tx_hash: receipt.tx_hash.to_hex(),
                height: header.height,
                tx_index: receipt.index,
                event_index: event_index as u32,
            });
        }
    }
    BlockNotice {
        header: HeaderView::from(header),
        events,
    }
}

/// The JSON-RPC error of an admission refusal: code `1000 + n`, the message, and `data` with the
/// stable name (and every violation for invalid code).
pub fn admission_error(error: &AdmissionError) -> RpcError {
    let mut data = serde_json::json!({ "reason": error.name() });
    if let AdmissionError::InvalidCode(report) = error {
        data["violations"] = crate::report::violations_json(report);
    }
    RpcError {
        code: ADMISSION_CODE_BASE + i32::from(error.code()),
        message: error.to_string(),
        data: Some(data),
    }
}

/// The JSON-RPC error of a node fault (`-32603`); every variant listed.
pub fn node_error(error: &NodeError) -> RpcError {
    match error {
        NodeError::Store(_)
        | NodeError::Vm(_)
        | NodeError::Genesis(_)
        | NodeError::Proposal(_)
        | NodeError::HeaderMismatch { .. }
        | NodeError::NothingToCommit
        | NodeError::Invariant(_)
        | NodeError::ShuttingDown => RpcError::internal(error.to_string()),
    }
}

fn submit_error(error: &SubmitError) -> RpcError {
    match error {
        SubmitError::Rejected(e) => admission_error(e),
        SubmitError::Node(e) => node_error(e),
    }
}

use crate::report::hex0x;

/// The gas block `height` used (what replaying it costs).
fn block_gas(chain: &crate::chain::Chain, height: u64) -> Result<u64, RpcError> {
    Ok(chain
        .store()
        .header(height)
        .map_err(store_error)?
        .map_or(0, |h| h.gas_used))
}

fn store_error(error: crate::store::StoreError) -> RpcError {
    node_error(&error.into())
}

/// A transaction as served.
pub fn tx_view(signed: &SignedTransaction, location: Option<(u64, u32)>) -> TxView {
    let tx = &signed.tx;
    let payload = match &tx.payload {
        Payload::Transfer { to, amount } => PayloadView::Transfer {
            to: *to,
            amount: amount.to_string(),
        },
        Payload::Deploy {
            code,
            init_input,
            salt,
            value,
        } => PayloadView::Deploy {
            code_hash: CodeHash::of(code).to_hex(),
            code_size_bytes: code.len() as u32,
            init_input: hex0x(init_input),
            salt: hex0x(salt),
            value: value.to_string(),
        },
        Payload::Call {
            contract,
            method,
            input,
            value,
        } => PayloadView::Call {
            contract: *contract,
            method: method.clone(),
            input: hex0x(input),
            value: value.to_string(),
        },
    };
    TxView {
        hash: signed.hash().to_hex(),
        sender: tx.sender(),
        public_key: hex0x(&tx.public_key),
        nonce: tx.nonce,
        gas_limit: tx.gas_limit.to_string(),
        gas_price: tx.gas_price.to_string(),
        payload,
        signature: hex0x(&signed.signature),
        len_bytes: signed.encode().len() as u32,
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

fn breakdown_view(entries: impl IntoIterator<Item = (String, u64)>) -> BTreeMap<String, String> {
    entries
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect()
}

/// A read-only call's outcome as served.
pub fn call_result_view(outcome: &Outcome, height: u64) -> CallResultView {
    CallResultView {
        status: ReceiptStatus::from_vm(outcome.status).name().into(),
        status_code: ReceiptStatus::from_vm(outcome.status).code(),
        trap_code: outcome.trap_code().map(|t| t.code()),
        output: hex0x(&outcome.output),
        output_json: serde_json::from_slice(&outcome.output).ok(),
        gas_used: outcome.gas_used.to_string(),
        gas_limit: outcome.gas_limit.to_string(),
        gas_breakdown: breakdown_view(
            outcome
                .breakdown_by_key()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v)),
        ),
        events: outcome.events.iter().map(EventView::from).collect(),
        logs: outcome.logs.clone(),
        height,
    }
}

fn payload_of(tx: &TxRequest) -> Result<Payload, RpcError> {
    let amount = |what: &str, text: &Option<String>| match text {
        Some(text) => opmeter_rpc::api::decode_amount(what, text),
        None => Ok(U256::zero()),
    };
    Ok(match tx {
        TxRequest::Transfer { to, amount: value } => Payload::Transfer {
            to: *to,
            amount: opmeter_rpc::api::decode_amount("amount", value)?,
        },
        TxRequest::Deploy {
            code,
            args,
            input,
            salt,
            value,
        } => Payload::Deploy {
            code: decode_hex("code", code)?,
            init_input: call_input(args.as_ref(), input.as_deref())?,
            salt: match salt {
                Some(salt) => decode_hex("salt", salt)?,
                None => Vec::new(),
            },
            value: amount("value", value)?,
        },
        TxRequest::Call {
            contract,
            method,
            args,
            input,
            value,
        } => Payload::Call {
            contract: *contract,
            method: method.clone(),
            input: call_input(args.as_ref(), input.as_deref())?,
            value: amount("value", value)?,
        },
    })
}

impl Backend for NodeBackend {
    fn audit_trace(
        &self,
        tx_hash: [u8; 32],
        options: &TraceOptions,
    ) -> Result<Option<(TraceView, u64)>, RpcError> {
        crate::audit::trace(self.node.chain(), &Hash32(tx_hash), options)
            .map_err(|e| node_error(&e))
    }

    fn trace_call(
        &self,
        call: CallRequest,
        height: Option<u64>,
        options: &TraceOptions,
    ) -> Result<TraceView, RpcError> {
        let at = self.height_or_head(height)?;
        let (outcome, trace) = self
            .node
            .chain()
            .trace_query(height.map(|_| at), call, options)
            .map_err(|e| node_error(&e))?;
        Ok(TraceView::of_call(&outcome, &trace))
    }

    fn audit_replay(&self, tx_hash: [u8; 32]) -> Result<Option<(ReplayReport, u64)>, RpcError> {
        let chain = self.node.chain();
        let report = crate::audit::replay(chain, &Hash32(tx_hash)).map_err(|e| node_error(&e))?;
        Ok(match report {
            Some(report) => {
                let gas = block_gas(chain, report.height)?;
                Some((report, gas))
            }
            None => None,
        })
    }

    fn audit_bundle(&self, tx_hash: [u8; 32]) -> Result<Option<(Bundle, u64)>, RpcError> {
        let chain = self.node.chain();
        let hash = Hash32(tx_hash);
        let bundle = crate::audit::bundle(chain, &hash).map_err(|e| node_error(&e))?;
        Ok(match bundle {
            Some(bundle) => {
                let height = chain.store().tx_location(&hash).map_err(store_error)?;
                let gas = match height {
                    Some((height, _)) => block_gas(chain, height)?,
                    None => 0,
                };
                Some((bundle, gas))
            }
            None => None,
        })
    }

    fn chain_info(&self) -> Result<ChainInfo, RpcError> {
        let chain = self.node.chain();
        let genesis = chain.genesis();
        Ok(ChainInfo {
            chain_id: genesis.chain_id.clone(),
            head: HeaderView::from(&self.node.head().header),
            schedule_version: chain.vm().schedule().version,
            schedule_hash: hex0x(&chain.vm().schedule_hash()),
            dev: genesis.dev,
            min_gas_price: chain.min_gas_price().to_string(),
            block_gas_limit: genesis.block_gas_limit.to_string(),
            call_gas_max: String::new(),
        })
    }

    fn chain_head(&self) -> Result<HeaderView, RpcError> {
        Ok(HeaderView::from(&self.node.head().header))
    }

    fn block(&self, id: BlockRef, with_txs: bool) -> Result<Option<BlockView>, RpcError> {
        let store = self.node.chain().store();
        let head = self.node.head().header.height;
        let height = match id {
            BlockRef::Latest => head,
            BlockRef::Height(h) => h,
            BlockRef::Hash(hash) => match store.height_of(&Hash32(hash)).map_err(store_error)? {
                Some(h) => h,
                None => return Ok(None),
            },
        };
        if height > head {
            return Ok(None);
        }
        let Some(block) = store.block(height).map_err(store_error)? else {
            return Ok(None);
        };
        Ok(Some(BlockView {
            header: HeaderView::from(&block.header),
            transaction_hashes: block
                .transactions
                .iter()
                .map(|t| t.hash().to_hex())
                .collect(),
            transactions: with_txs.then(|| {
                block
                    .transactions
                    .iter()
                    .enumerate()
                    .map(|(i, t)| tx_view(t, Some((height, i as u32))))
                    .collect()
            }),
        }))
    }

    fn account_get(&self, address: Address, height: Option<u64>) -> Result<AccountView, RpcError> {
        let at = self.height_or_head(height)?;
        let account = self
            .node
            .chain()
            .store()
            .account_at(&address, at)
            .map_err(store_error)?
            .unwrap_or_default();
        let pending_nonce = match height {
            None => self.node.pending_nonce(&address).max(account.nonce),
            Some(_) => account.nonce,
        };
        Ok(AccountView {
            address,
            balance: account.balance.to_string(),
            nonce: account.nonce,
            pending_nonce,
            code_hash: account.code_hash.map(|c| c.to_hex()),
            height: at,
        })
    }

    fn code_get(&self, target: CodeRef) -> Result<Option<CodeView>, RpcError> {
        let store = self.node.chain().store();
        let code_hash = match target {
            CodeRef::Hash(hash) => CodeHash(hash),
            CodeRef::Contract(address) => match store.account(&address).map_err(store_error)? {
                Some(account) => match account.code_hash {
                    Some(code_hash) => code_hash,
                    None => return Ok(None),
                },
                None => return Ok(None),
            },
        };
        Ok(store
            .code(&code_hash)
            .map_err(store_error)?
            .map(|code| CodeView {
                code_hash: code_hash.to_hex(),
                size_bytes: code.len() as u32,
                code: hex0x(&code),
            }))
    }

    fn code_validate(&self, code: &[u8]) -> Result<ValidationView, RpcError> {
        let vm = self.node.chain().vm();
        let (valid, violations) = match vm.validate(code) {
            Ok(_) => (true, Vec::new()),
            Err(report) => (
                false,
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
                    .collect(),
            ),
        };
        Ok(ValidationView {
            valid,
            code_hash: CodeHash::of(code).to_hex(),
            size_bytes: code.len() as u32,
            violations,
        })
    }

    fn send_raw(&self, tx: &[u8]) -> Result<String, RpcError> {
        self.node
            .submit(tx)
            .map(|hash| hash.to_hex())
            .map_err(|e| submit_error(&e))
    }

    fn tx_get(&self, tx_hash: [u8; 32]) -> Result<Option<TxView>, RpcError> {
        let hash = Hash32(tx_hash);
        let head = self.node.head().header.height;
        if let Some((height, index, signed)) = self
            .node
            .chain()
            .store()
            .transaction(&hash)
            .map_err(store_error)?
        {
            if height <= head {
                return Ok(Some(tx_view(&signed, Some((height, index)))));
            }
        }
        Ok(self.node.pending_tx(&hash).map(|t| tx_view(&t, None)))
    }

    fn receipt(&self, tx_hash: [u8; 32]) -> Result<Option<ReceiptView>, RpcError> {
        let receipt = self
            .node
            .chain()
            .store()
            .receipt(&Hash32(tx_hash))
            .map_err(store_error)?;
        // A receipt is served once its block is the head (or below): a client that sees it also
        // sees the state after it.
        let head = self.node.head().header.height;
        Ok(receipt
            .filter(|r| r.height <= head)
            .as_ref()
            .map(ReceiptView::from))
    }

    fn call(&self, call: CallRequest, height: Option<u64>) -> Result<CallResultView, RpcError> {
        let at = self.height_or_head(height)?;
        let outcome = self
            .node
            .chain()
            .query(height.map(|_| at), call)
            .map_err(|e| node_error(&e))?;
        Ok(call_result_view(&outcome, at))
    }

    fn estimate_gas(
        &self,
        from: Address,
        tx: &TxRequest,
        gas_cap: u64,
    ) -> Result<(EstimateView, u64), RpcError> {
        let payload = payload_of(tx)?;
        let chain = self.node.chain();
        let height = self.node.head().header.height;
        let cap = gas_cap.min(chain.genesis().block_gas_limit);
        match chain.estimate_gas(from, &payload, cap) {
            Ok(estimate) => {
                let receipt = &estimate.receipt;
                let intrinsic = receipt
                    .gas_breakdown
                    .get(opmeter_vm::GasCategory::Transaction.key())
                    .copied()
                    .unwrap_or(0);
                Ok((
                    EstimateView {
                        gas_limit: estimate.gas_limit.to_string(),
                        gas_used: receipt.gas_used.to_string(),
                        intrinsic_gas: intrinsic.to_string(),
                        gas_breakdown: breakdown_view(receipt.gas_breakdown.clone()),
                        output: hex0x(&receipt.output),
                        executions: estimate.executions,
                        height,
                    },
                    estimate.gas_burned,
                ))
            }
            Err(EstimateError::Fails(receipt)) => Err(RpcError::new(
                ErrorCode::ExecutionFailed,
                format!(
                    "the transaction fails ({}) even with {cap} gas; data has the failing execution",
                    receipt.status.name()
                ),
            )
            .with_data(serde_json::json!({
                "status": receipt.status.name(),
                "statusCode": receipt.status.code(),
                "trapCode": receipt.trap_code,
                "output": hex0x(&receipt.output),
                "outputText": String::from_utf8(receipt.output.clone()).ok(),
                "gasUsed": receipt.gas_used.to_string(),
            }))),
            Err(EstimateError::Node(e)) => Err(node_error(&e)),
        }
    }

    fn storage(
        &self,
        contract: Address,
        key: &[u8],
        height: Option<u64>,
    ) -> Result<StorageProofView, RpcError> {
        let at = self.height_or_head(height)?;
        let store = self.node.chain().store();
        let state_key = StateKey::Storage(contract, key.to_vec());
        let (value, proof) = store.prove(&state_key, at).map_err(store_error)?;
        let state_root = store.state_root(at).map_err(store_error)?;
        Ok(StorageProofView {
            contract,
            key: hex0x(key),
            value: value.as_deref().map(hex0x),
            height: at,
            state_root: state_root.to_hex(),
            key_hash: hex0x(&state_key.key_hash().0),
            proof: hex0x(&borsh::to_vec(&proof).map_err(|e| RpcError::internal(e.to_string()))?),
        })
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<BlockNotice>> {
        self.notices.subscribe()
    }

    fn dev_fund(&self, address: Address, amount: U256) -> Result<FundView, RpcError> {
        let chain = self.node.chain();
        if !chain.genesis().dev {
            return Err(RpcError::new(
                ErrorCode::DevOnly,
                "dev_fund is only available on development chains (genesis `dev: true`)",
            ));
        }
        let funding = self.funding.lock();
        let key = dev_key();
        let from = crate::genesis::address_of(&key);
        let mut tx = crate::types::Transaction {
            chain_id: chain.genesis().chain_id.clone(),
            public_key: key.verifying_key().to_bytes(),
            nonce: self.node.pending_nonce(&from),
            gas_limit: 0,
            gas_price: chain.min_gas_price(),
            payload: Payload::Transfer {
                to: address,
                amount,
            },
        };
        let len_bytes = tx.clone().sign(&key).encode().len() as u32;
        tx.gas_limit = chain.intrinsic_gas(len_bytes);
        let hash = self
            .node
            .submit(&tx.sign(&key).encode())
            .map_err(|e| submit_error(&e))?;
        // Once pending, the next funding reads a higher pending nonce: wait without the lock.
        drop(funding);
        let deadline = Instant::now() + DEV_FUND_WAIT;
        loop {
            if let Some(receipt) = self.receipt(hash.0)? {
                if receipt.status_code != ReceiptStatus::Success.code() {
                    return Err(RpcError::internal(format!(
                        "the funding transfer {hash} failed: {}",
                        receipt.status
                    )));
                }
                return Ok(FundView {
                    address,
                    amount: amount.to_string(),
                    tx_hash: hash.to_hex(),
                });
            }
            if Instant::now() >= deadline {
                return Err(RpcError::new(
                    ErrorCode::ReceiptTimeout,
                    format!("the funding transfer {hash} is still pending (is the node producing blocks?)"),
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
