//! Opmeter's JSON-RPC server: the only crate that knows JSON-RPC.
//!
//! The node implements [`Backend`]; this crate turns it into JSON-RPC 2.0 methods over HTTP and
//! WebSocket on one port (`jsonrpsee`). Dependencies point one way: `node → rpc → vm`.
//!
//! ```text
//! client ──HTTP/WS──▶ jsonrpsee ──▶ OpmeterApiServer (this crate) ──▶ dyn Backend (the node)
//! ```
//!
//! Methods so far: `chain_head`, `account_get`, `tx_sendRaw`, `tx_sendRawAndWait`, `tx_receipt`.
//!
//! ```
//! assert_eq!(opmeter_rpc::DEFAULT_RPC_ADDR, "127.0.0.1:8645");
//! let error = opmeter_rpc::RpcError::invalid_params("bad hex");
//! assert_eq!(error.code, -32602);
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonrpsee::core::{async_trait, RpcResult};
use jsonrpsee::proc_macros::rpc;
use jsonrpsee::server::{Server, ServerHandle};
use jsonrpsee::types::ErrorObjectOwned;
use opmeter_vm::Address;
use serde::{Deserialize, Serialize};

/// The address the node's JSON-RPC server listens on by default.
pub const DEFAULT_RPC_ADDR: &str = "127.0.0.1:8645";

/// How long `tx_sendRawAndWait` waits for the receipt.
pub const WAIT_FOR_RECEIPT: Duration = Duration::from_secs(30);

/// A block header as served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
}

/// An account as served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountView {
    /// The address.
    pub address: Address,
    /// Balance (decimal string).
    pub balance: String,
    /// Next nonce.
    pub nonce: u64,
    /// `0x` code hash for contracts.
    pub code_hash: Option<String>,
    /// The height the account was read at.
    pub height: u64,
}

/// An event as served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    /// Emitting contract.
    pub contract: Address,
    /// `0x` topics.
    pub topics: Vec<String>,
    /// `0x` data.
    pub data: String,
}

/// A receipt as served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptView {
    /// `0x` transaction hash.
    pub tx_hash: String,
    /// Sender.
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
    pub gas_breakdown: std::collections::BTreeMap<String, String>,
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
    pub contract_address: Option<Address>,
}

/// An error a backend returns: a JSON-RPC error code, a message and optional data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RpcError {
    /// JSON-RPC error code.
    pub code: i32,
    /// Human-readable message.
    pub message: String,
    /// Structured details.
    pub data: Option<serde_json::Value>,
}

impl RpcError {
    /// `-32602`: the parameters are wrong.
    pub fn invalid_params(message: impl Into<String>) -> RpcError {
        RpcError {
            code: -32602,
            message: message.into(),
            data: None,
        }
    }

    /// `-32603`: the node failed (not the caller's fault).
    pub fn internal(message: impl Into<String>) -> RpcError {
        RpcError {
            code: -32603,
            message: message.into(),
            data: None,
        }
    }
}

impl From<RpcError> for ErrorObjectOwned {
    fn from(e: RpcError) -> ErrorObjectOwned {
        ErrorObjectOwned::owned(e.code, e.message, e.data)
    }
}

/// What the node provides to the server. Methods may block (RocksDB reads); the server runs
/// them off the async executor.
pub trait Backend: Send + Sync + 'static {
    /// The last committed header.
    ///
    /// # Errors
    /// Node faults.
    fn chain_head(&self) -> Result<HeaderView, RpcError>;

    /// An account at the head or at `height`.
    ///
    /// # Errors
    /// Unknown height; node faults.
    fn account_get(&self, address: Address, height: Option<u64>) -> Result<AccountView, RpcError>;

    /// Admits a signed transaction; returns its `0x` hash.
    ///
    /// # Errors
    /// The admission error with its code; node faults.
    fn send_raw(&self, tx: &[u8]) -> Result<String, RpcError>;

    /// The receipt of a committed transaction.
    ///
    /// # Errors
    /// Node faults.
    fn receipt(&self, tx_hash: [u8; 32]) -> Result<Option<ReceiptView>, RpcError>;
}

/// The JSON-RPC methods.
#[rpc(server, client)]
pub trait OpmeterApi {
    /// The last committed block header.
    #[method(name = "chain_head", blocking)]
    fn chain_head(&self) -> RpcResult<HeaderView>;

    /// Balance and nonce of an account, at the head or at `height`.
    #[method(name = "account_get", blocking)]
    fn account_get(&self, address: Address, height: Option<u64>) -> RpcResult<AccountView>;

    /// Admits a `0x`-hex signed transaction; returns its hash once it is pending and persisted.
    #[method(name = "tx_sendRaw", blocking)]
    fn tx_send_raw(&self, tx: String) -> RpcResult<String>;

    /// Admits a signed transaction and waits for its receipt.
    #[method(name = "tx_sendRawAndWait")]
    async fn tx_send_raw_and_wait(&self, tx: String) -> RpcResult<ReceiptView>;

    /// The receipt of a committed transaction, `null` when unknown or pending.
    #[method(name = "tx_receipt", blocking)]
    fn tx_receipt(&self, hash: String) -> RpcResult<Option<ReceiptView>>;
}

/// Decodes `0x`-prefixed hex.
///
/// # Errors
/// [`RpcError::invalid_params`] naming `what`.
pub fn decode_hex(what: &str, text: &str) -> Result<Vec<u8>, RpcError> {
    let digits = text
        .strip_prefix("0x")
        .ok_or_else(|| RpcError::invalid_params(format!("{what}: expected 0x-prefixed hex")))?;
    hex::decode(digits).map_err(|e| RpcError::invalid_params(format!("{what}: {e}")))
}

fn decode_hash(text: &str) -> Result<[u8; 32], RpcError> {
    decode_hex("hash", text)?
        .try_into()
        .map_err(|_| RpcError::invalid_params("hash: expected 32 bytes"))
}

struct Api {
    backend: Arc<dyn Backend>,
}

#[async_trait]
impl OpmeterApiServer for Api {
    fn chain_head(&self) -> RpcResult<HeaderView> {
        Ok(self.backend.chain_head()?)
    }

    fn account_get(&self, address: Address, height: Option<u64>) -> RpcResult<AccountView> {
        Ok(self.backend.account_get(address, height)?)
    }

    fn tx_send_raw(&self, tx: String) -> RpcResult<String> {
        let bytes = decode_hex("tx", &tx)?;
        Ok(self.backend.send_raw(&bytes)?)
    }

    async fn tx_send_raw_and_wait(&self, tx: String) -> RpcResult<ReceiptView> {
        let bytes = decode_hex("tx", &tx)?;
        let backend = Arc::clone(&self.backend);
        let hash = tokio::task::spawn_blocking(move || backend.send_raw(&bytes))
            .await
            .map_err(|e| RpcError::internal(e.to_string()))??;
        let hash = decode_hash(&hash)?;
        let deadline = Instant::now() + WAIT_FOR_RECEIPT;
        loop {
            let backend = Arc::clone(&self.backend);
            let receipt = tokio::task::spawn_blocking(move || backend.receipt(hash))
                .await
                .map_err(|e| RpcError::internal(e.to_string()))??;
            if let Some(receipt) = receipt {
                return Ok(receipt);
            }
            if Instant::now() >= deadline {
                return Err(RpcError {
                    code: -32001,
                    message: "timed out waiting for the receipt; the transaction is pending".into(),
                    data: None,
                }
                .into());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn tx_receipt(&self, hash: String) -> RpcResult<Option<ReceiptView>> {
        let hash = decode_hash(&hash)?;
        Ok(self.backend.receipt(hash)?)
    }
}

/// Starts the server on `addr` (port 0 picks a free one); returns the bound address and a handle
/// that stops it.
///
/// # Errors
/// When the address cannot be bound.
pub async fn serve(
    backend: Arc<dyn Backend>,
    addr: &str,
) -> Result<(SocketAddr, ServerHandle), std::io::Error> {
    let server = Server::builder().build(addr).await?;
    let bound = server.local_addr()?;
    let handle = server.start(Api { backend }.into_rpc());
    Ok((bound, handle))
}
