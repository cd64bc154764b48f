//! The method definitions (one `jsonrpsee` trait: the server, the client and the OpenRPC
//! document all come from it) and the [`Backend`] the node implements.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use jsonrpsee::core::{async_trait, RpcResult, SubscriptionResult};
use jsonrpsee::proc_macros::rpc;
use jsonrpsee::types::ErrorObjectOwned;
use jsonrpsee::{Extensions, PendingSubscriptionSink, SubscriptionMessage, SubscriptionSink};
use opmeter_vm::{Address, CallRequest, TraceOptions, U256};
use serde_json::value::RawValue;
use tokio::sync::broadcast;

use crate::audit::{Bundle, ReplayReport, TraceArgs, TraceView};
use crate::error::{ErrorCode, RpcError};
use crate::server::{RateLimiter, RpcConfig};
use crate::types::*;

/// What the node provides to the server. Methods may block (RocksDB reads, execution); the
/// server runs them off the async executor. Arguments arrive decoded and within limits.
pub trait Backend: Send + Sync + 'static {
    /// Chain id, head, schedule and limits (`callGasMax` is filled in by the server).
    ///
    /// # Errors
    /// Node faults.
    fn chain_info(&self) -> Result<ChainInfo, RpcError>;

    /// The last committed header.
    ///
    /// # Errors
    /// Node faults.
    fn chain_head(&self) -> Result<HeaderView, RpcError>;

    /// A block by height or hash, `None` when unknown.
    ///
    /// # Errors
    /// Node faults.
    fn block(&self, id: BlockRef, with_txs: bool) -> Result<Option<BlockView>, RpcError>;

    /// An account at the head or at `height`.
    ///
    /// # Errors
    /// [`ErrorCode::UnknownBlock`]; node faults.
    fn account_get(&self, address: Address, height: Option<u64>) -> Result<AccountView, RpcError>;

    /// Code by code hash or by the address of a contract, `None` when unknown.
    ///
    /// # Errors
    /// Node faults.
    fn code_get(&self, target: CodeRef) -> Result<Option<CodeView>, RpcError>;

    /// Every violation of `code` (the rules of deployment).
    ///
    /// # Errors
    /// Node faults.
    fn code_validate(&self, code: &[u8]) -> Result<ValidationView, RpcError>;

    /// Admits a signed transaction; returns its `0x` hash once it is pending and persisted.
    ///
    /// # Errors
    /// The admission error (`1000 + n`); node faults.
    fn send_raw(&self, tx: &[u8]) -> Result<String, RpcError>;

    /// A pending or committed transaction, `None` when unknown.
    ///
    /// # Errors
    /// Node faults.
    fn tx_get(&self, tx_hash: [u8; 32]) -> Result<Option<TxView>, RpcError>;

    /// The receipt of a committed transaction.
    ///
    /// # Errors
    /// Node faults.
    fn receipt(&self, tx_hash: [u8; 32]) -> Result<Option<ReceiptView>, RpcError>;

    /// Runs `call` read-only against the state at `height` (or the head).
    ///
    /// # Errors
    /// [`ErrorCode::UnknownBlock`]; node faults (a failing call is a result, not an error).
    fn call(&self, call: CallRequest, height: Option<u64>) -> Result<CallResultView, RpcError>;

    /// The smallest gas limit at which `tx` from `from` succeeds, at most `gas_cap`, verified
    /// by executing at exactly that limit. Returns the estimate and the gas all executions
    /// burned (for rate limiting).
    ///
    /// # Errors
    /// [`ErrorCode::ExecutionFailed`] when it fails even at `gas_cap`; invalid parameters;
    /// node faults.
    fn estimate_gas(
        &self,
        from: Address,
        tx: &TxRequest,
        gas_cap: u64,
    ) -> Result<(EstimateView, u64), RpcError>;

    /// A storage value with its proof against the state root of `height` (or the head).
    ///
    /// # Errors
    /// [`ErrorCode::UnknownBlock`]; node faults.
    fn storage(
        &self,
        contract: Address,
        key: &[u8],
        height: Option<u64>,
    ) -> Result<StorageProofView, RpcError>;

    /// Re-executes committed transaction `tx_hash` (its whole block, against the state before
    /// it) and compares its receipt field by field; `None` when not committed. Also returns the
    /// gas the replay executed (for rate limiting).
    ///
    /// # Errors
    /// Node faults.
    fn audit_replay(&self, tx_hash: [u8; 32]) -> Result<Option<(ReplayReport, u64)>, RpcError>;

    /// The offline verification bundle of committed transaction `tx_hash`; `None` when not
    /// committed. Also returns the gas executed to build it.
    ///
    /// # Errors
    /// Node faults.
    fn audit_bundle(&self, tx_hash: [u8; 32]) -> Result<Option<(Bundle, u64)>, RpcError>;

    /// The gas trace of committed transaction `tx_hash`; `None` when not committed. Also returns
    /// the gas executed to produce it.
    ///
    /// # Errors
    /// Node faults.
    fn audit_trace(
        &self,
        tx_hash: [u8; 32],
        options: &TraceOptions,
    ) -> Result<Option<(TraceView, u64)>, RpcError>;

    /// Runs `call` read-only against the state at `height` (or the head) with a gas trace.
    ///
    /// # Errors
    /// [`ErrorCode::UnknownBlock`]; node faults.
    fn trace_call(
        &self,
        call: CallRequest,
        height: Option<u64>,
        options: &TraceOptions,
    ) -> Result<TraceView, RpcError>;

    /// Committed blocks from now on.
    fn subscribe(&self) -> broadcast::Receiver<Arc<BlockNotice>>;

    /// Development chains only: sends `amount` from the development account to `address`.
    ///
    /// # Errors
    /// [`ErrorCode::DevOnly`] on other chains; admission errors; node faults.
    fn dev_fund(&self, address: Address, amount: U256) -> Result<FundView, RpcError>;
}

/// A block reference after parsing: the head, a height, or a hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockRef {
    /// The last committed block.
    Latest,
    /// A height.
    Height(u64),
    /// A block hash.
    Hash([u8; 32]),
}

/// Which code `code_get` wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeRef {
    /// By blake3 of the code.
    Hash([u8; 32]),
    /// The code of the contract at this address.
    Contract(Address),
}

/// The JSON-RPC methods of an Opmeter node.
#[rpc(server, client)]
pub trait OpmeterApi {
    /// Chain id, head, gas schedule version and hash, and the server's call limits.
    #[method(name = "chain_info", blocking)]
    fn chain_info(&self) -> RpcResult<ChainInfo>;

    /// A block by height, by `0x` hash, or `"latest"`; with its transactions when
    /// `withTransactions`. `null` when unknown.
    #[method(name = "chain_getBlock", blocking)]
    fn chain_get_block(
        &self,
        block: BlockId,
        with_transactions: Option<bool>,
    ) -> RpcResult<Option<BlockView>>;

    /// The last committed block header.
    #[method(name = "chain_head", blocking)]
    fn chain_head(&self) -> RpcResult<HeaderView>;

    /// Balance and nonce of an account, at the head or at `height`.
    #[method(name = "account_get", blocking)]
    fn account_get(&self, address: Address, height: Option<u64>) -> RpcResult<AccountView>;

    /// Code by `codeHash`, or the code of the contract at `address` (exactly one). `null` when
    /// unknown.
    #[method(name = "code_get", blocking)]
    fn code_get(
        &self,
        code_hash: Option<String>,
        address: Option<Address>,
    ) -> RpcResult<Option<CodeView>>;

    /// Checks `0x` wasm against every rule of deployment; returns every violation.
    #[method(name = "code_validate", blocking)]
    fn code_validate(&self, code: String) -> RpcResult<ValidationView>;

    /// Admits a `0x`-hex signed transaction; returns its hash once it is pending and persisted.
    #[method(name = "tx_sendRaw", blocking)]
    fn tx_send_raw(&self, tx: String) -> RpcResult<String>;

    /// Admits a signed transaction and waits for its receipt.
    #[method(name = "tx_sendRawAndWait")]
    async fn tx_send_raw_and_wait(&self, tx: String) -> RpcResult<ReceiptView>;

    /// A pending or committed transaction; `null` when unknown.
    #[method(name = "tx_get", blocking)]
    fn tx_get(&self, hash: String) -> RpcResult<Option<TxView>>;

    /// The receipt of a committed transaction; `null` when unknown or pending.
    #[method(name = "tx_receipt", blocking)]
    fn tx_receipt(&self, hash: String) -> RpcResult<Option<ReceiptView>>;

    /// Runs a call read-only against the head or `height`: output, status, gas and its
    /// breakdown, events and logs. Nothing is written. Rate limited per client.
    #[method(name = "contract_call", blocking, with_extensions)]
    fn contract_call(&self, call: CallArgs, height: Option<u64>) -> RpcResult<CallResultView>;

    /// The smallest gas limit at which a transaction succeeds against the head, verified by
    /// executing at exactly that limit. Rate limited per client.
    #[method(name = "contract_estimateGas", blocking, with_extensions)]
    fn contract_estimate_gas(&self, args: EstimateArgs) -> RpcResult<EstimateView>;

    /// A contract's storage value with its Merkle proof against a block's state root.
    #[method(name = "contract_storage", blocking)]
    fn contract_storage(
        &self,
        contract: Address,
        key: String,
        height: Option<u64>,
    ) -> RpcResult<StorageProofView>;

    /// Re-executes a committed transaction against the state it saw (the state before its block
    /// plus the transactions before it) and reports, field by field, whether output, status,
    /// gas, every breakdown entry, events, and the block's state and receipts roots match.
    /// `null` when unknown. Rate limited per client (charged the block's gas).
    #[method(name = "audit_replay", blocking, with_extensions)]
    fn audit_replay(&self, hash: String) -> RpcResult<Option<ReplayReport>>;

    /// A self-contained bundle to verify a committed transaction's receipt offline
    /// (`specs/audit-bundle.md`, `opmeter verify`). `null` when unknown. Rate limited per client.
    #[method(name = "audit_bundle", blocking, with_extensions)]
    fn audit_bundle(&self, hash: String) -> RpcResult<Option<Bundle>>;

    /// Where every unit of a committed transaction's gas went: intrinsic gas, then gas per wasm
    /// function and per host call in call order, nested contract calls as a tree; totals equal
    /// the receipt's. `options.blocks` adds a per-block profile (bounded). `null` when unknown.
    /// Rate limited per client.
    #[method(name = "audit_trace", blocking, with_extensions)]
    fn audit_trace(&self, hash: String, options: Option<TraceArgs>)
        -> RpcResult<Option<TraceView>>;

    /// `contract_call` with the gas trace of the execution. Rate limited per client.
    #[method(name = "contract_traceCall", blocking, with_extensions)]
    fn contract_trace_call(
        &self,
        call: CallArgs,
        height: Option<u64>,
        options: Option<TraceArgs>,
    ) -> RpcResult<TraceView>;

    /// Every new block header (WebSocket).
    #[subscription(name = "subscribe_newHeads" => "newHead", unsubscribe = "unsubscribe_newHeads", item = HeaderView)]
    async fn subscribe_new_heads(&self) -> SubscriptionResult;

    /// Events matching a filter, as their blocks commit (WebSocket).
    #[subscription(name = "subscribe_events" => "event", unsubscribe = "unsubscribe_events", item = EventNotice)]
    async fn subscribe_events(&self, filter: Option<EventFilter>) -> SubscriptionResult;

    /// Development chains only: moves `amount` (decimal string) from the development account to
    /// `address`.
    #[method(name = "dev_fund", blocking)]
    fn dev_fund(&self, address: Address, amount: String) -> RpcResult<FundView>;

    /// This API's OpenRPC document.
    #[method(name = "rpc.discover")]
    fn discover(&self) -> RpcResult<serde_json::Value>;
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

/// Decodes a `0x` 32-byte hash.
///
/// # Errors
/// [`RpcError::invalid_params`] naming `what`.
pub fn decode_hash(what: &str, text: &str) -> Result<[u8; 32], RpcError> {
    decode_hex(what, text)?
        .try_into()
        .map_err(|_| RpcError::invalid_params(format!("{what}: expected 32 bytes")))
}

/// Parses a decimal amount.
///
/// # Errors
/// [`RpcError::invalid_params`] naming `what`.
pub fn decode_amount(what: &str, text: &str) -> Result<U256, RpcError> {
    decimal_digits(what, text)?;
    U256::from_dec_str(text)
        .map_err(|_| RpcError::invalid_params(format!("{what}: does not fit in 256 bits")))
}

fn decimal_digits(what: &str, text: &str) -> Result<(), RpcError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RpcError::invalid_params(format!(
            "{what}: expected a decimal integer string"
        )));
    }
    Ok(())
}

/// Parses a decimal gas amount.
///
/// # Errors
/// [`RpcError::invalid_params`] naming `what`.
pub fn decode_gas(what: &str, text: &str) -> Result<u64, RpcError> {
    decimal_digits(what, text)?;
    text.parse()
        .map_err(|_| RpcError::invalid_params(format!("{what}: does not fit in 64 bits")))
}

/// The input bytes of `args` (compact JSON) or `input` (hex); at most one may be given.
///
/// # Errors
/// Both given; bad hex.
pub fn call_input(
    args: Option<&serde_json::Value>,
    input: Option<&str>,
) -> Result<Vec<u8>, RpcError> {
    match (args, input) {
        (Some(_), Some(_)) => Err(RpcError::invalid_params(
            "give either `args` (JSON) or `input` (0x hex), not both",
        )),
        (Some(args), None) => Ok(serde_json::to_vec(args).unwrap_or_default()),
        (None, Some(input)) => decode_hex("input", input),
        (None, None) => Ok(Vec::new()),
    }
}

/// The address requests come from, inserted by the server's accept loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);

/// The rate limiter's key for a client: its IPv4 address, or its IPv6 /64 (one host commonly
/// holds a whole /64, so single IPv6 addresses would be free budgets).
fn client_ip(ext: &Extensions) -> IpAddr {
    match ext.get::<ClientAddr>().map(|c| c.0.ip()) {
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(std::net::Ipv6Addr::from(prefix))
            }
        },
        Some(v4) => v4,
        None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    }
}

pub(crate) struct Api {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) config: RpcConfig,
    pub(crate) limiter: Arc<RateLimiter>,
    /// Read-only executions running at once (one per core): more only adds thread thrash.
    pub(crate) executions: Arc<Slots>,
}

impl Api {
    /// A read-only call's request, its gas limit checked against `callGasMax`.
    fn call_request(&self, call: CallArgs) -> Result<CallRequest, RpcError> {
        let gas_limit = match &call.gas_limit {
            Some(text) => decode_gas("gasLimit", text)?,
            None => self.config.call_gas_max,
        };
        if gas_limit > self.config.call_gas_max {
            return Err(RpcError::new(
                ErrorCode::CallGasAboveMax,
                format!(
                    "gasLimit {gas_limit} is above this server's read-only maximum {}; lower it",
                    self.config.call_gas_max
                ),
            )
            .with_data(serde_json::json!({ "callGasMax": self.config.call_gas_max.to_string() })));
        }
        Ok(CallRequest {
            caller: call.from.unwrap_or(Address([0; 32])),
            contract: call.contract,
            method: call.method,
            input: call_input(call.args.as_ref(), call.input.as_deref())?,
            value: match &call.value {
                Some(text) => decode_amount("value", text)?,
                None => U256::zero(),
            },
            gas_limit,
        })
    }

    /// Runs a read-only call in an execution slot, reserving its gas limit from the client's
    /// budget and settling the gas it used (`f` returns the result and that gas).
    fn metered<T>(
        &self,
        ext: &Extensions,
        request: CallRequest,
        f: impl FnOnce(CallRequest) -> Result<(T, u64), RpcError>,
    ) -> Result<T, RpcError> {
        let ip = client_ip(ext);
        let gas_limit = request.gas_limit;
        self.limiter.reserve(ip, gas_limit)?;
        let result = self.executions.run(|| f(request));
        let used = result.as_ref().map_or(0, |(_, used)| *used);
        self.limiter.settle(ip, gas_limit, used);
        result.map(|(value, _)| value)
    }

    /// Runs an audit (a re-execution whose cost is known only afterwards) in an execution slot:
    /// the client needs budget for the minimum charge up front and is charged the gas executed
    /// afterwards, which may leave its budget in debt.
    fn charged<T>(
        &self,
        ext: &Extensions,
        f: impl FnOnce() -> Result<Option<(T, u64)>, RpcError>,
    ) -> Result<Option<T>, RpcError> {
        let ip = client_ip(ext);
        self.limiter.reserve(ip, 0)?;
        let result = self.executions.run(f);
        let spent = match &result {
            Ok(Some((_, spent))) => *spent,
            _ => 0,
        };
        self.limiter.settle(ip, 0, spent);
        Ok(result?.map(|(value, _)| value))
    }
}

/// A counting semaphore for blocking threads.
#[derive(Debug)]
pub(crate) struct Slots {
    free: parking_lot::Mutex<usize>,
    freed: parking_lot::Condvar,
}

impl Slots {
    pub(crate) fn new(count: usize) -> Slots {
        Slots {
            free: parking_lot::Mutex::new(count.max(1)),
            freed: parking_lot::Condvar::new(),
        }
    }

    /// Runs `f` once a slot is free (blocking the calling thread until then).
    fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        {
            let mut free = self.free.lock();
            while *free == 0 {
                self.freed.wait(&mut free);
            }
            *free -= 1;
        }
        struct Release<'a>(&'a Slots);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                *self.0.free.lock() += 1;
                self.0.freed.notify_one();
            }
        }
        let _release = Release(self);
        f()
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, RpcError> + Send + 'static,
) -> Result<T, RpcError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| RpcError::internal(e.to_string()))?
}

/// Sends `notices(block)` for every committed block until the subscriber leaves or the node
/// stops. A subscriber that lags behind the channel skips the blocks it missed.
async fn forward(
    sink: SubscriptionSink,
    mut blocks: broadcast::Receiver<Arc<BlockNotice>>,
    notices: impl Fn(&BlockNotice) -> Result<Vec<Box<RawValue>>, serde_json::Error>,
) -> SubscriptionResult {
    loop {
        tokio::select! {
            _ = sink.closed() => return Ok(()),
            block = blocks.recv() => match block {
                Ok(block) => {
                    for message in notices(&block)? {
                        sink.send(SubscriptionMessage::from(message)).await?;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            },
        }
    }
}

#[async_trait]
impl OpmeterApiServer for Api {
    fn chain_info(&self) -> RpcResult<ChainInfo> {
        let mut info = self.backend.chain_info()?;
        info.call_gas_max = self.config.call_gas_max.to_string();
        Ok(info)
    }

    fn chain_get_block(
        &self,
        block: BlockId,
        with_transactions: Option<bool>,
    ) -> RpcResult<Option<BlockView>> {
        let block = match block {
            BlockId::Height(h) => BlockRef::Height(h),
            BlockId::Hash(text) if text == "latest" => BlockRef::Latest,
            BlockId::Hash(text) => BlockRef::Hash(decode_hash("block", &text)?),
        };
        Ok(self
            .backend
            .block(block, with_transactions.unwrap_or(false))?)
    }

    fn chain_head(&self) -> RpcResult<HeaderView> {
        Ok(self.backend.chain_head()?)
    }

    fn account_get(&self, address: Address, height: Option<u64>) -> RpcResult<AccountView> {
        Ok(self.backend.account_get(address, height)?)
    }

    fn code_get(
        &self,
        code_hash: Option<String>,
        address: Option<Address>,
    ) -> RpcResult<Option<CodeView>> {
        let target = match (code_hash, address) {
            (Some(hash), None) => CodeRef::Hash(decode_hash("codeHash", &hash)?),
            (None, Some(address)) => CodeRef::Contract(address),
            _ => {
                return Err(RpcError::invalid_params(
                    "give exactly one of `codeHash` and `address`",
                )
                .into())
            }
        };
        Ok(self.backend.code_get(target)?)
    }

    fn code_validate(&self, code: String) -> RpcResult<ValidationView> {
        let code = decode_hex("code", &code)?;
        Ok(self.backend.code_validate(&code)?)
    }

    fn tx_send_raw(&self, tx: String) -> RpcResult<String> {
        let bytes = decode_hex("tx", &tx)?;
        Ok(self.backend.send_raw(&bytes)?)
    }

    async fn tx_send_raw_and_wait(&self, tx: String) -> RpcResult<ReceiptView> {
        let bytes = decode_hex("tx", &tx)?;
        let backend = Arc::clone(&self.backend);
        // Subscribe before admission so the block that includes it cannot be missed.
        let mut blocks = backend.subscribe();
        let hash = blocking(move || backend.send_raw(&bytes)).await?;
        let hash = decode_hash("hash", &hash)?;
        let deadline = Instant::now() + self.config.receipt_wait;
        loop {
            let backend = Arc::clone(&self.backend);
            if let Some(receipt) = blocking(move || backend.receipt(hash)).await? {
                return Ok(receipt);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(RpcError::new(
                    ErrorCode::ReceiptTimeout,
                    format!(
                        "no receipt within {} ms; the transaction is pending: poll tx_receipt",
                        self.config.receipt_wait.as_millis()
                    ),
                )
                .into());
            }
            // Wake on the next block (or a lagged channel), at the latest at the deadline.
            if let Ok(Err(broadcast::error::RecvError::Closed)) =
                tokio::time::timeout(left, blocks.recv()).await
            {
                tokio::time::sleep(left.min(std::time::Duration::from_millis(50))).await;
            }
        }
    }

    fn tx_get(&self, hash: String) -> RpcResult<Option<TxView>> {
        let hash = decode_hash("hash", &hash)?;
        Ok(self.backend.tx_get(hash)?)
    }

    fn tx_receipt(&self, hash: String) -> RpcResult<Option<ReceiptView>> {
        let hash = decode_hash("hash", &hash)?;
        Ok(self.backend.receipt(hash)?)
    }

    fn contract_call(
        &self,
        ext: &Extensions,
        call: CallArgs,
        height: Option<u64>,
    ) -> RpcResult<CallResultView> {
        let request = self.call_request(call)?;
        Ok(self.metered(ext, request, |request| {
            let result = self.backend.call(request, height)?;
            let used = result.gas_used.parse().unwrap_or(0);
            Ok((result, used))
        })?)
    }

    fn contract_estimate_gas(
        &self,
        ext: &Extensions,
        args: EstimateArgs,
    ) -> RpcResult<EstimateView> {
        let ip = client_ip(ext);
        let cap = self.config.call_gas_max;
        // Up to two executions plus a bisection over (used, cap] plus a final run: reserve them
        // all, so that concurrent estimates cannot overdraw the budget before they settle.
        let executions = 3 + u64::from(64 - cap.leading_zeros());
        let reserved = cap.saturating_mul(executions);
        self.limiter.reserve(ip, reserved)?;
        let result = self
            .executions
            .run(|| self.backend.estimate_gas(args.from, &args.tx, cap));
        let spent = match &result {
            Ok((_, spent)) => *spent,
            // A failing estimate ran once, at the cap (or not at all).
            Err(_) => cap,
        };
        self.limiter.settle(ip, reserved, spent);
        Ok(result?.0)
    }

    fn contract_storage(
        &self,
        contract: Address,
        key: String,
        height: Option<u64>,
    ) -> RpcResult<StorageProofView> {
        let key = decode_hex("key", &key)?;
        Ok(self.backend.storage(contract, &key, height)?)
    }

    async fn subscribe_new_heads(&self, pending: PendingSubscriptionSink) -> SubscriptionResult {
        let blocks = self.backend.subscribe();
        forward(pending.accept().await?, blocks, |block| {
            Ok(vec![serde_json::value::to_raw_value(&block.header)?])
        })
        .await
    }

    async fn subscribe_events(
        &self,
        pending: PendingSubscriptionSink,
        filter: Option<EventFilter>,
    ) -> SubscriptionResult {
        let filter = filter.unwrap_or_default();
        for topic in filter.topics.iter().flatten() {
            if let Err(e) = decode_hex("topic", topic) {
                pending.reject(ErrorObjectOwned::from(e)).await;
                return Ok(());
            }
        }
        let blocks = self.backend.subscribe();
        forward(pending.accept().await?, blocks, |block| {
            block
                .events
                .iter()
                .filter(|n| filter.matches(&n.event))
                .map(serde_json::value::to_raw_value)
                .collect()
        })
        .await
    }

    fn audit_replay(&self, ext: &Extensions, hash: String) -> RpcResult<Option<ReplayReport>> {
        let hash = decode_hash("hash", &hash)?;
        Ok(self.charged(ext, || self.backend.audit_replay(hash))?)
    }

    fn audit_bundle(&self, ext: &Extensions, hash: String) -> RpcResult<Option<Bundle>> {
        let hash = decode_hash("hash", &hash)?;
        Ok(self.charged(ext, || self.backend.audit_bundle(hash))?)
    }

    fn audit_trace(
        &self,
        ext: &Extensions,
        hash: String,
        options: Option<TraceArgs>,
    ) -> RpcResult<Option<TraceView>> {
        let hash = decode_hash("hash", &hash)?;
        let options = options.unwrap_or_default().options();
        Ok(self.charged(ext, || self.backend.audit_trace(hash, &options))?)
    }

    fn contract_trace_call(
        &self,
        ext: &Extensions,
        call: CallArgs,
        height: Option<u64>,
        options: Option<TraceArgs>,
    ) -> RpcResult<TraceView> {
        let options = options.unwrap_or_default().options();
        let request = self.call_request(call)?;
        Ok(self.metered(ext, request, |request| {
            let view = self.backend.trace_call(request, height, &options)?;
            let used = view.gas_used.parse().unwrap_or(0);
            Ok((view, used))
        })?)
    }

    fn dev_fund(&self, address: Address, amount: String) -> RpcResult<FundView> {
        let amount = decode_amount("amount", &amount)?;
        Ok(self.backend.dev_fund(address, amount)?)
    }

    fn discover(&self) -> RpcResult<serde_json::Value> {
        Ok(crate::openrpc::document())
    }
}
