//! The node's side of the JSON-RPC server: [`opmeter_rpc::Backend`] over a running [`Node`], and
//! the one mapping from node errors to JSON-RPC error codes.
//!
//! Error codes: `1000 + n` for admission error `n` (see [`AdmissionError::code`]), `-32602` for
//! bad parameters, `-32603` for node faults.

use std::sync::Arc;

use opmeter_rpc::{AccountView, Backend, EventView, HeaderView, ReceiptView, RpcError};
use opmeter_vm::Address;

use crate::error::{AdmissionError, NodeError, SubmitError};
use crate::service::Node;
use crate::types::{Hash32, Header, Receipt};

/// JSON-RPC code base of admission errors.
pub const ADMISSION_CODE_BASE: i32 = 1000;

/// [`Backend`] over a node.
#[derive(Debug, Clone)]
pub struct NodeBackend {
    node: Arc<Node>,
}

impl NodeBackend {
    /// Serves `node`.
    pub fn new(node: Arc<Node>) -> NodeBackend {
        NodeBackend { node }
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

fn node_error(error: &NodeError) -> RpcError {
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

/// A header as served.
pub fn header_view(header: &Header) -> HeaderView {
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
    }
}

fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// A receipt as served.
pub fn receipt_view(receipt: &Receipt) -> ReceiptView {
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
        events: receipt
            .events
            .iter()
            .map(|e| EventView {
                contract: e.contract,
                topics: e.topics.iter().map(|t| hex0x(t)).collect(),
                data: hex0x(&e.data),
            })
            .collect(),
        schedule_hash: hex0x(&receipt.schedule_hash),
        contract_address: receipt.contract_address,
    }
}

impl Backend for NodeBackend {
    fn chain_head(&self) -> Result<HeaderView, RpcError> {
        Ok(header_view(&self.node.head().header))
    }

    fn account_get(&self, address: Address, height: Option<u64>) -> Result<AccountView, RpcError> {
        let head = self.node.head().header.height;
        let height = height.unwrap_or(head);
        if height > head {
            return Err(RpcError::invalid_params(format!(
                "height {height} is above the head {head}"
            )));
        }
        let account = self
            .node
            .chain()
            .store()
            .account_at(&address, height)
            .map_err(|e| node_error(&e.into()))?
            .unwrap_or_default();
        Ok(AccountView {
            address,
            balance: account.balance.to_string(),
            nonce: account.nonce,
            code_hash: account.code_hash.map(|c| c.to_hex()),
            height,
        })
    }

    fn send_raw(&self, tx: &[u8]) -> Result<String, RpcError> {
        self.node
            .submit(tx)
            .map(|hash| hash.to_hex())
            .map_err(|e| submit_error(&e))
    }

    fn receipt(&self, tx_hash: [u8; 32]) -> Result<Option<ReceiptView>, RpcError> {
        let receipt = self
            .node
            .chain()
            .store()
            .receipt(&Hash32(tx_hash))
            .map_err(|e| node_error(&e.into()))?;
        // A receipt is served once its block is the head (or below): a client that sees it also
        // sees the state after it.
        let head = self.node.head().header.height;
        Ok(receipt
            .filter(|r| r.height <= head)
            .as_ref()
            .map(receipt_view))
    }
}
