//! The method definitions (one `jsonrpsee` trait: the server, the client and the OpenRPC
//! document all come from it) and their implementation over a [`Backend`]: decode, check limits,
//! call the backend, build the views.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use jsonrpsee::core::{async_trait, RpcResult, SubscriptionResult};
use jsonrpsee::proc_macros::rpc;
use jsonrpsee::types::ErrorObjectOwned;
use jsonrpsee::{Extensions, PendingSubscriptionSink, SubscriptionMessage, SubscriptionSink};
use opmeter_ledger::block::CommittedBlock;
use opmeter_ledger::bundle::Bundle;
use opmeter_ledger::encoding::{DecU256, DecU64, Hash32, HexBytes};
use opmeter_ledger::state::StateKey;
use opmeter_ledger::tx::Payload;
use opmeter_vm::{Address, CallRequest, Interrupt, U256};
use serde_json::value::RawValue;
use tokio::sync::broadcast;

use crate::backend::{
    AccountState, Backend, BackendError, BlockRef, CodeRef, Estimate, JobStage, ProveRequest,
    QuotaState,
};
use crate::error::{ErrorCode, RpcError};
use crate::server::{RateLimiter, RpcConfig};
use crate::types::*;

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

    /// The commit certificate of block `height` on a replicated chain: what shows that the
    /// validators decided it. `null` on a chain one node produces, or for an unknown block.
    #[method(name = "chain_getCommit", blocking)]
    fn chain_get_commit(&self, height: u64) -> RpcResult<Option<CommitView>>;

    /// The last committed block header.
    #[method(name = "chain_head", blocking)]
    fn chain_head(&self) -> RpcResult<HeaderView>;

    /// Balance and nonce of an account, at the head or at `height`.
    #[method(name = "account_get", blocking)]
    fn account_get(&self, address: AddressOrName, height: Option<u64>) -> RpcResult<AccountView>;

    /// A name's record (owner, target, registering block) at the head or at `height`, with its
    /// Merkle proof against that block's state root; `registered: false` when nobody holds it.
    #[method(name = "name_get", blocking)]
    fn name_get(&self, name: String, height: Option<u64>) -> RpcResult<NameView>;

    /// Code by `codeHash`, or the code of the contract at `address` (an address or a name;
    /// exactly one). `null` when unknown.
    #[method(name = "code_get", blocking)]
    fn code_get(
        &self,
        code_hash: Option<Hash32>,
        address: Option<AddressOrName>,
    ) -> RpcResult<Option<CodeView>>;

    /// Checks `0x` wasm against every rule of deployment; returns every violation.
    #[method(name = "code_validate", blocking)]
    fn code_validate(&self, code: HexBytes) -> RpcResult<ValidationView>;

    /// Admits a `0x`-hex signed transaction; returns its hash once it is pending and persisted.
    #[method(name = "tx_sendRaw", blocking)]
    fn tx_send_raw(&self, tx: HexBytes) -> RpcResult<Hash32>;

    /// Admits a signed transaction and waits for its receipt.
    #[method(name = "tx_sendRawAndWait")]
    async fn tx_send_raw_and_wait(&self, tx: HexBytes) -> RpcResult<ReceiptView>;

    /// A pending or committed transaction; `null` when unknown.
    #[method(name = "tx_get", blocking)]
    fn tx_get(&self, hash: Hash32) -> RpcResult<Option<TxView>>;

    /// The receipt of a committed transaction; `null` when unknown or pending.
    #[method(name = "tx_receipt", blocking)]
    fn tx_receipt(&self, hash: Hash32) -> RpcResult<Option<ReceiptView>>;

    /// Runs a call read-only against the head or `height`: output, status, gas and its
    /// breakdown, events and logs. Nothing is written. Rate limited per client.
    #[method(name = "contract_call", blocking, with_extensions)]
    fn contract_call(&self, call: CallArgs, height: Option<u64>) -> RpcResult<CallResultView>;

    /// The smallest gas limit at which a transaction succeeds against the head, verified by
    /// executing at exactly that limit. Rate limited per client; an estimate of a call spends
    /// the called contract's daily quota with all the gas its executions burned.
    #[method(name = "contract_estimateGas", blocking, with_extensions)]
    fn contract_estimate_gas(&self, args: EstimateArgs) -> RpcResult<EstimateView>;

    /// A contract's daily quota of read-only gas (rolling 24 h, over all callers): the budget,
    /// what its read-only calls, traces and estimates used and what is left.
    #[method(name = "contract_quota", blocking)]
    fn contract_quota(&self, contract: AddressOrName) -> RpcResult<QuotaView>;

    /// A contract's storage value with its Merkle proof against a block's state root.
    #[method(name = "contract_storage", blocking)]
    fn contract_storage(
        &self,
        contract: AddressOrName,
        key: HexBytes,
        height: Option<u64>,
    ) -> RpcResult<StorageProofView>;

    /// Re-executes a committed transaction against the state it saw (the state before its block
    /// plus the transactions before it) and reports, field by field, whether output, status,
    /// gas, every breakdown entry, events, and the block's state and receipts roots match.
    /// `null` when unknown. Rate limited per client (charged the block's gas).
    #[method(name = "audit_replay", blocking, with_extensions)]
    fn audit_replay(&self, hash: Hash32) -> RpcResult<Option<ReplayReportView>>;

    /// A self-contained bundle to verify a committed transaction's receipt offline
    /// (`specs/audit-bundle.md`, `opmeter verify`). `null` when unknown. Rate limited per client.
    #[method(name = "audit_bundle", blocking, with_extensions)]
    fn audit_bundle(&self, hash: Hash32) -> RpcResult<Option<Bundle>>;

    /// Where every unit of a committed transaction's gas went: intrinsic gas, then gas per wasm
    /// function and per host call in call order, nested contract calls as a tree; totals equal
    /// the receipt's. `options.blocks` adds a per-block profile (bounded). `null` when unknown.
    /// Rate limited per client.
    #[method(name = "audit_trace", blocking, with_extensions)]
    fn audit_trace(&self, hash: Hash32, options: Option<TraceArgs>)
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

    /// Starts proving `provable:<method>` of a contract (code read from one committed state, at
    /// `height` or the head) on a bounded prover queue, of which one client address may hold
    /// only a few waiting jobs; returns the job at once.
    #[method(name = "proof_prove", blocking, with_extensions)]
    fn proof_prove(&self, args: ProveArgs) -> RpcResult<ProofJobView>;

    /// A prove job: state, progress, and the proof or the error once finished. `null` when
    /// unknown.
    #[method(name = "proof_job", blocking)]
    fn proof_job(&self, id: u64) -> RpcResult<Option<ProofJobView>>;

    /// A job's proof once done (`null` while queued or running); a failed job's typed error.
    #[method(name = "proof_get", blocking)]
    fn proof_get(&self, id: u64) -> RpcResult<Option<ProofView>>;

    /// Verifies a proof of a statement with this node's verifying key: valid, or why not.
    #[method(name = "proof_verify", blocking)]
    fn proof_verify(&self, proof: ProofView) -> RpcResult<ProofVerifyView>;

    /// Per `provable:` export of a contract's code: whether it is in the provable subset, and
    /// why not (the first instruction outside it, with its offset).
    #[method(name = "contract_provability", blocking)]
    fn contract_provability(
        &self,
        contract: AddressOrName,
        height: Option<u64>,
    ) -> RpcResult<ProvabilityView>;

    /// A prove job's progress, as notifications `proofJob` until it is done or failed
    /// (WebSocket).
    #[subscription(name = "subscribe_proofJob" => "proofJob", unsubscribe = "unsubscribe_proofJob", item = ProofJobView)]
    async fn subscribe_proof_job(&self, id: u64) -> SubscriptionResult;

    /// Development chains only: moves `amount` (decimal string) from the development account to
    /// `address`.
    #[method(name = "dev_fund", blocking)]
    fn dev_fund(&self, address: AddressOrName, amount: DecU256) -> RpcResult<FundView>;

    /// This API's OpenRPC document.
    #[method(name = "rpc.discover")]
    fn discover(&self) -> RpcResult<serde_json::Value>;
}

/// The input bytes of `args` (compact JSON) or `input` (raw bytes); at most one may be given.
///
/// # Errors
/// Both given.
pub fn call_input(
    args: Option<&serde_json::Value>,
    input: Option<&HexBytes>,
) -> Result<Vec<u8>, RpcError> {
    match (args, input) {
        (Some(_), Some(_)) => Err(RpcError::invalid_params(
            "give either `args` (JSON) or `input` (0x hex), not both",
        )),
        (Some(args), None) => Ok(serde_json::to_vec(args).unwrap_or_default()),
        (None, Some(input)) => Ok(input.0.clone()),
        (None, None) => Ok(Vec::new()),
    }
}

/// The payload of a transaction to estimate, with its names resolved by `resolve`.
///
/// # Errors
/// `args` and `input` both given; what `resolve` returns.
pub fn payload_of(
    tx: &TxRequest,
    mut resolve: impl FnMut(&AddressOrName) -> Result<Address, RpcError>,
) -> Result<Payload, RpcError> {
    let value = |v: &Option<DecU256>| v.map_or_else(U256::zero, |v| v.0);
    let salt = |s: &Option<HexBytes>| s.as_ref().map(|s| s.0.clone()).unwrap_or_default();
    Ok(match tx {
        TxRequest::Transfer { to, amount } => Payload::Transfer {
            to: resolve(to)?,
            amount: amount.0,
        },
        TxRequest::Deploy {
            code,
            args,
            input,
            salt,
            value: amount,
        } => Payload::Deploy {
            code: code.0.clone(),
            init_input: call_input(args.as_ref(), input.as_ref())?,
            salt: salt.as_ref().map(|s| s.0.clone()).unwrap_or_default(),
            value: value(amount),
        },
        TxRequest::Call {
            contract,
            method,
            args,
            input,
            value: amount,
        } => Payload::Call {
            contract: resolve(contract)?,
            method: method.clone(),
            input: call_input(args.as_ref(), input.as_ref())?,
            value: value(amount),
        },
        TxRequest::RegisterName {
            name,
            target,
            salt: s,
        } => Payload::RegisterName {
            name: name.clone(),
            target: *target,
            salt: salt(s),
        },
        TxRequest::PointName {
            name,
            target,
            salt: s,
        } => Payload::PointName {
            name: name.clone(),
            target: *target,
            salt: salt(s),
        },
        TxRequest::TransferName { name, new_owner } => Payload::TransferName {
            name: name.clone(),
            new_owner: *new_owner,
        },
    })
}

impl From<&Payload> for TxRequest {
    fn from(payload: &Payload) -> TxRequest {
        match payload {
            Payload::Transfer { to, amount } => TxRequest::Transfer {
                to: (*to).into(),
                amount: (*amount).into(),
            },
            Payload::Deploy {
                code,
                init_input,
                salt,
                value,
            } => TxRequest::Deploy {
                code: HexBytes::from(&code[..]),
                args: None,
                input: Some(HexBytes::from(&init_input[..])),
                salt: Some(HexBytes::from(&salt[..])),
                value: Some((*value).into()),
            },
            Payload::Call {
                contract,
                method,
                input,
                value,
            } => TxRequest::Call {
                contract: (*contract).into(),
                method: method.clone(),
                args: None,
                input: Some(HexBytes::from(&input[..])),
                value: Some((*value).into()),
            },
            Payload::RegisterName { name, target, salt } => TxRequest::RegisterName {
                name: name.clone(),
                target: *target,
                salt: Some(HexBytes::from(&salt[..])),
            },
            Payload::PointName { name, target, salt } => TxRequest::PointName {
                name: name.clone(),
                target: *target,
                salt: Some(HexBytes::from(&salt[..])),
            },
            Payload::TransferName { name, new_owner } => TxRequest::TransferName {
                name: name.clone(),
                new_owner: *new_owner,
            },
        }
    }
}

/// The address requests come from, inserted by the server's accept loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);

/// The rate limiter's key for a client ([`crate::server::client_key`]).
fn client_ip(ext: &Extensions) -> IpAddr {
    ext.get::<ClientAddr>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| {
            crate::server::client_key(c.0.ip())
        })
}

#[derive(Clone)]
pub(crate) struct Api {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) config: RpcConfig,
    pub(crate) limiter: Arc<RateLimiter>,
    /// Read-only executions running at once (one per core): more only adds thread thrash.
    pub(crate) executions: Arc<Slots>,
    /// Committed blocks as wire notices, converted once for every subscriber.
    pub(crate) notices: broadcast::Sender<Arc<BlockNotice>>,
    /// What the server counts (`GET /metrics`).
    pub(crate) metrics: Arc<crate::metrics::Metrics>,
}

/// The notice of a committed block: its header and every event, in order.
pub fn block_notice(committed: &CommittedBlock) -> BlockNotice {
    let header = &committed.block.header;
    let mut events = Vec::new();
    for receipt in &committed.receipts {
        for (event_index, event) in receipt.events.iter().enumerate() {
            events.push(EventNotice {
                event: EventView::from(event),
                tx_hash: receipt.tx_hash,
                height: header.height,
                tx_index: receipt.index,
                event_index: u32::try_from(event_index).unwrap_or(u32::MAX),
            });
        }
    }
    BlockNotice {
        header: HeaderView::from(header),
        events,
    }
}

/// A channel of notices fed by a thread that converts `backend`'s committed blocks; the thread
/// ends when the backend's channel closes.
pub(crate) fn notices(backend: &dyn Backend) -> broadcast::Sender<Arc<BlockNotice>> {
    let (sender, _) = broadcast::channel(1024);
    let mut blocks = backend.subscribe();
    let feed = sender.clone();
    let spawned = std::thread::Builder::new()
        .name("rpc-notices".into())
        .spawn(move || loop {
            match blocks.blocking_recv() {
                Ok(block) => {
                    let _ = feed.send(Arc::new(block_notice(&block)));
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            }
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the notice thread; subscriptions get no blocks: {e}");
    }
    sender
}

impl Api {
    /// The address `target` names and the committed state the request must then read: an
    /// address as given (with `height`), a name resolved once in the state of `height` (or the
    /// head) and that state's height, so the name and everything after it are read from one
    /// committed state.
    ///
    /// # Errors
    /// `notFound` (2010) for a name nobody registered; `unknownBlock`; node faults.
    pub(crate) fn resolve(
        &self,
        target: &AddressOrName,
        height: Option<u64>,
    ) -> Result<(Address, Option<u64>), RpcError> {
        match target {
            AddressOrName::Address(address) => Ok((*address, height)),
            AddressOrName::Name(name) => {
                let read = self.backend.resolve_name(name, height)?;
                match read.value {
                    Some(record) => Ok((record.target, Some(read.height))),
                    None => Err(BackendError::UnknownName {
                        name: name.clone(),
                        height: read.height,
                    }
                    .into()),
                }
            }
        }
    }

    /// A read-only call's request, its gas limit checked against `callGasMax`, its contract
    /// resolved ([`Api::resolve`]), with the height it must run at.
    pub(crate) fn call_request(
        &self,
        call: CallArgs,
        height: Option<u64>,
    ) -> Result<(CallRequest, Option<u64>), RpcError> {
        let gas_limit = call.gas_limit.map_or(self.config.call_gas_max, |g| g.0);
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
        let input = call_input(call.args.as_ref(), call.input.as_ref())?;
        let (contract, height) = self.resolve(&call.contract, height)?;
        // A caller named by name is resolved in the same state (its height is then fixed).
        let (caller, height) = match &call.from {
            Some(from) => self.resolve(from, height)?,
            None => (Address([0; 32]), height),
        };
        let request = CallRequest {
            caller,
            contract,
            method: call.method,
            input,
            value: call.value.map_or_else(U256::zero, |v| v.0),
            gas_limit,
        };
        Ok((request, height))
    }

    /// Runs a read-only call in an execution slot under the time limit, after checking the
    /// contract's daily quota and reserving the gas limit from the client's budget; then
    /// settles the gas it used with both (`f` returns the result and that gas; a stopped
    /// execution is charged its whole limit). Returns the result and where the contract's quota
    /// stands after it.
    pub(crate) fn metered<T>(
        &self,
        ext: &Extensions,
        request: CallRequest,
        f: impl FnOnce(CallRequest, Interrupt) -> Result<(T, u64), BackendError>,
    ) -> Result<(T, QuotaState), RpcError> {
        let ip = client_ip(ext);
        let contract = request.contract;
        let gas_limit = request.gas_limit;
        if let Err(e) = self.backend.quota_check(contract) {
            self.metrics.quota_refusal();
            return Err(self.read_error(e));
        }
        if let Err(e) = self.limiter.reserve(ip, gas_limit) {
            self.metrics.rate_limited();
            return Err(e);
        }
        let result = self.executions.run(|| {
            let deadline = Deadline::start(self.config.call_time_max);
            f(request, deadline.interrupt())
        });
        let used = match &result {
            Ok((_, used)) => *used,
            Err(BackendError::Interrupted) => {
                self.metrics.timeout();
                gas_limit
            }
            Err(_) => 0,
        };
        self.limiter.settle(ip, gas_limit, used);
        self.metrics.read_gas(contract, used);
        let quota = self.backend.quota_charge(contract, used);
        let (value, _) = result.map_err(|e| self.read_error(e))?;
        Ok((value, quota))
    }

    /// The error of a read-only execution: a stopped one names the time limit.
    fn read_error(&self, error: BackendError) -> RpcError {
        let stopped = matches!(error, BackendError::Interrupted);
        let error = RpcError::from(error);
        if stopped {
            let limit_ms = u64::try_from(self.config.call_time_max.as_millis()).unwrap_or(u64::MAX);
            error.with_data(serde_json::json!({ "timeLimitMs": limit_ms }))
        } else {
            error
        }
    }

    /// Runs an audit (a re-execution whose cost is known only afterwards) in an execution slot:
    /// the client needs budget for the minimum charge up front and is charged the gas executed
    /// afterwards, which may leave its budget in debt.
    fn charged<T>(
        &self,
        ext: &Extensions,
        f: impl FnOnce() -> Result<Option<(T, u64)>, BackendError>,
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

/// The wall-clock limit of one read-only request: an [`Interrupt`] that a timer on the async
/// runtime sets when the limit passes (the vm never reads a clock). Dropping it cancels the
/// timer.
pub(crate) struct Deadline {
    interrupt: Interrupt,
    timer: Option<tokio::task::JoinHandle<()>>,
}

impl Deadline {
    /// Starts the timer of `limit` now (no timer outside a tokio runtime: the limit is then
    /// not enforced, and a warning says so).
    pub(crate) fn start(limit: std::time::Duration) -> Deadline {
        let interrupt = Interrupt::new();
        let timer = match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let flag = interrupt.clone();
                Some(runtime.spawn(async move {
                    tokio::time::sleep(limit).await;
                    flag.interrupt();
                }))
            }
            Err(_) => {
                tracing::warn!("read-only execution outside a tokio runtime: no time limit");
                None
            }
        };
        Deadline { interrupt, timer }
    }

    /// The interrupt the execution must carry.
    pub(crate) fn interrupt(&self) -> Interrupt {
        self.interrupt.clone()
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        if let Some(timer) = self.timer.take() {
            timer.abort();
        }
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

fn unknown_job(id: u64) -> RpcError {
    RpcError::new(
        ErrorCode::UnknownProofJob,
        format!(
            "no prove job {id} (finished jobs are kept for a while; start one with proof_prove)"
        ),
    )
}

/// The stage of a job view, by its state name.
fn job_stage(view: &ProofJobView) -> JobStage {
    match view.state.as_str() {
        "queued" => JobStage::Queued { position: 0 },
        "executing" => JobStage::Executing,
        "proving" => JobStage::Proving,
        "done" => JobStage::Done,
        _ => JobStage::Failed,
    }
}

fn finished(stage: &JobStage) -> bool {
    matches!(stage, JobStage::Done | JobStage::Failed)
}

fn rpc<T>(result: Result<T, BackendError>) -> Result<T, RpcError> {
    result.map_err(RpcError::from)
}

#[async_trait]
impl OpmeterApiServer for Api {
    fn chain_info(&self) -> RpcResult<ChainInfo> {
        let status = rpc(self.backend.chain_status())?;
        Ok(ChainInfo {
            chain_id: status.chain_id,
            head: HeaderView::from(&status.head),
            schedule_version: status.schedule_version,
            schedule_hash: Hash32(status.schedule_hash),
            dev: status.dev,
            min_gas_price: status.min_gas_price.into(),
            block_gas_limit: status.block_gas_limit.into(),
            call_gas_max: self.config.call_gas_max.into(),
        })
    }

    fn chain_get_commit(&self, height: u64) -> RpcResult<Option<CommitView>> {
        Ok(rpc(self.backend.commit_certificate(height))?
            .as_ref()
            .map(CommitView::from))
    }

    fn chain_get_block(
        &self,
        block: BlockId,
        with_transactions: Option<bool>,
    ) -> RpcResult<Option<BlockView>> {
        let id = match block {
            BlockId::Height(h) => BlockRef::Height(h),
            BlockId::Hash(text) if text == "latest" => BlockRef::Latest,
            BlockId::Hash(text) => BlockRef::Hash(
                text.parse()
                    .map_err(|e| RpcError::invalid_params(format!("block: {e}")))?,
            ),
        };
        let Some(block) = rpc(self.backend.block(id))? else {
            return Ok(None);
        };
        let height = block.header.height;
        Ok(Some(BlockView {
            header: HeaderView::from(&block.header),
            transaction_hashes: block.transactions.iter().map(|t| t.hash()).collect(),
            transactions: with_transactions.unwrap_or(false).then(|| {
                (0u32..)
                    .zip(&block.transactions)
                    .map(|(i, t)| TxView::new(t, Some((height, i))))
                    .collect()
            }),
            last_commit: block.last_commit.as_ref().map(CommitView::from),
        }))
    }

    fn chain_head(&self) -> RpcResult<HeaderView> {
        Ok(HeaderView::from(&rpc(self.backend.head())?))
    }

    fn account_get(&self, address: AddressOrName, height: Option<u64>) -> RpcResult<AccountView> {
        let (address, height) = self.resolve(&address, height)?;
        let read = rpc(self.backend.account(address, height))?;
        let AccountState {
            account,
            pending_nonce,
        } = read.value;
        Ok(AccountView {
            address,
            balance: account.balance.into(),
            nonce: account.nonce,
            pending_nonce,
            code_hash: account.code_hash.map(|c| Hash32(c.0)),
            height: read.height,
        })
    }

    fn name_get(&self, name: String, height: Option<u64>) -> RpcResult<NameView> {
        let name = opmeter_ledger::name::Name::parse(&name).map_err(|rule| {
            RpcError::invalid_params(format!("invalid name {name:?}: {rule}")).with_data(
                serde_json::json!({ "reason": "invalidName", "rule": rule.name(), "ruleCode": rule.code() }),
            )
        })?;
        let read = rpc(self.backend.name_proof(&name, height))?;
        Ok(NameView::new(&name, &read.value, read.height))
    }

    fn code_get(
        &self,
        code_hash: Option<Hash32>,
        address: Option<AddressOrName>,
    ) -> RpcResult<Option<CodeView>> {
        let target = match (code_hash, address) {
            (Some(hash), None) => CodeRef::Hash(hash),
            (None, Some(address)) => match self.resolve(&address, None) {
                Ok((address, _)) => CodeRef::Contract(address),
                Err(e) if e.code == ErrorCode::NotFound.code() => return Ok(None),
                Err(e) => return Err(e.into()),
            },
            _ => {
                return Err(RpcError::invalid_params(
                    "give exactly one of `codeHash` and `address`",
                )
                .into())
            }
        };
        Ok(rpc(self.backend.code(target))?.map(|stored| CodeView {
            code_hash: Hash32(stored.code_hash.0),
            size_bytes: u32::try_from(stored.wasm.len()).unwrap_or(u32::MAX),
            code: HexBytes::from(&stored.wasm[..]),
        }))
    }

    fn code_validate(&self, code: HexBytes) -> RpcResult<ValidationView> {
        let verdict = rpc(self.backend.validate_code(&code.0))?;
        Ok(ValidationView::new(&code.0, verdict.as_ref().map(|_| ())))
    }

    fn tx_send_raw(&self, tx: HexBytes) -> RpcResult<Hash32> {
        Ok(rpc(self.backend.send_raw(&tx.0))?)
    }

    async fn tx_send_raw_and_wait(&self, tx: HexBytes) -> RpcResult<ReceiptView> {
        let backend = Arc::clone(&self.backend);
        // Subscribe before admission so the block that includes it cannot be missed.
        let mut blocks = self.notices.subscribe();
        let hash = blocking(move || rpc(backend.send_raw(&tx.0))).await?;
        let deadline = Instant::now() + self.config.receipt_wait;
        loop {
            let backend = Arc::clone(&self.backend);
            if let Some(receipt) = blocking(move || rpc(backend.receipt(hash))).await? {
                return Ok(ReceiptView::from(&receipt));
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

    fn tx_get(&self, hash: Hash32) -> RpcResult<Option<TxView>> {
        Ok(rpc(self.backend.transaction(hash))?
            .map(|known| TxView::new(&known.signed, known.location)))
    }

    fn tx_receipt(&self, hash: Hash32) -> RpcResult<Option<ReceiptView>> {
        Ok(rpc(self.backend.receipt(hash))?
            .as_ref()
            .map(ReceiptView::from))
    }

    fn contract_call(
        &self,
        ext: &Extensions,
        call: CallArgs,
        height: Option<u64>,
    ) -> RpcResult<CallResultView> {
        let (request, height) = self.call_request(call, height)?;
        let (view, _) = self.metered(ext, request, |request, interrupt| {
            let run = self.backend.call(request, height, interrupt)?;
            let used = run.value.gas_used;
            Ok((CallResultView::new(&run.value, run.height), used))
        })?;
        Ok(view)
    }

    fn contract_estimate_gas(
        &self,
        ext: &Extensions,
        args: EstimateArgs,
    ) -> RpcResult<EstimateView> {
        // A name is resolved at the head, and the estimate runs against that same state.
        let mut at = None;
        let payload = payload_of(&args.tx, |target| {
            let (address, height) = self.resolve(target, at)?;
            at = height;
            Ok(address)
        })?;
        // An estimate of a call runs that contract's code: it needs the contract's daily quota
        // and spends it like a read-only call does.
        let quota_contract = match &payload {
            Payload::Call { contract, .. } => Some(*contract),
            _ => None,
        };
        if let Some(contract) = quota_contract {
            if let Err(e) = self.backend.quota_check(contract) {
                self.metrics.quota_refusal();
                return Err(self.read_error(e).into());
            }
        }
        let ip = client_ip(ext);
        let cap = self.config.call_gas_max;
        // Up to two executions plus a bisection over (used, cap] plus a final run: reserve them
        // all, so that concurrent estimates cannot overdraw the budget before they settle.
        let executions = 3 + u64::from(64 - cap.leading_zeros());
        let reserved = cap.saturating_mul(executions);
        self.limiter.reserve(ip, reserved)?;
        let result = self.executions.run(|| {
            let deadline = Deadline::start(self.config.call_time_max);
            self.backend
                .estimate_gas(args.from, payload, at, cap, deadline.interrupt())
        });
        let spent = match &result {
            Ok(estimate) => estimate.value.gas_burned,
            // A stopped estimate may have run every execution it reserved.
            Err(BackendError::Interrupted) => reserved,
            // A failing estimate ran once, at the cap (or not at all).
            Err(_) => cap,
        };
        self.limiter.settle(ip, reserved, spent);
        if let Some(contract) = quota_contract {
            self.metrics.read_gas(contract, spent);
            self.backend.quota_charge(contract, spent);
        }
        let estimate = result.map_err(|e| self.read_error(e))?;
        let Estimate {
            gas_limit,
            receipt,
            executions,
            ..
        } = &estimate.value;
        Ok(EstimateView::new(
            *gas_limit,
            receipt,
            *executions,
            estimate.height,
        ))
    }

    fn contract_quota(&self, contract: AddressOrName) -> RpcResult<QuotaView> {
        let (contract, _) = self.resolve(&contract, None)?;
        let quota = self.backend.quota_status(contract);
        Ok(QuotaView {
            contract,
            daily_gas: quota.daily_gas.map(DecU64),
            used_gas: DecU64(quota.used_gas),
            remaining_gas: quota.remaining_gas().map(DecU64),
            window_ms: crate::backend::QUOTA_WINDOW_MS,
        })
    }

    fn contract_storage(
        &self,
        contract: AddressOrName,
        key: HexBytes,
        height: Option<u64>,
    ) -> RpcResult<StorageProofView> {
        let (contract, height) = self.resolve(&contract, height)?;
        let read = rpc(self.backend.storage(contract, &key.0, height))?;
        let key_hash = StateKey::Storage(contract, key.0.clone()).key_hash();
        Ok(StorageProofView {
            contract,
            key,
            value: read.value.value.map(HexBytes),
            height: read.height,
            state_root: read.value.state_root,
            key_hash: Hash32(key_hash.0),
            proof: HexBytes(read.value.proof),
        })
    }

    async fn subscribe_new_heads(&self, pending: PendingSubscriptionSink) -> SubscriptionResult {
        let blocks = self.notices.subscribe();
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
        // A contract named by name is resolved once, at the head, when the subscription starts.
        let contract = match &filter.contract {
            None => None,
            Some(target) => match self.resolve(target, None) {
                Ok((address, _)) => Some(address),
                Err(e) => {
                    pending.reject(ErrorObjectOwned::from(e)).await;
                    return Ok(());
                }
            },
        };
        let blocks = self.notices.subscribe();
        forward(pending.accept().await?, blocks, |block| {
            block
                .events
                .iter()
                .filter(|n| filter.matches(contract, &n.event))
                .map(serde_json::value::to_raw_value)
                .collect()
        })
        .await
    }

    fn audit_replay(&self, ext: &Extensions, hash: Hash32) -> RpcResult<Option<ReplayReportView>> {
        let report = self.charged(ext, || self.backend.audit_replay(hash))?;
        Ok(report.as_ref().map(ReplayReportView::from))
    }

    fn audit_bundle(&self, ext: &Extensions, hash: Hash32) -> RpcResult<Option<Bundle>> {
        Ok(self.charged(ext, || self.backend.audit_bundle(hash))?)
    }

    fn audit_trace(
        &self,
        ext: &Extensions,
        hash: Hash32,
        options: Option<TraceArgs>,
    ) -> RpcResult<Option<TraceView>> {
        let options = options.unwrap_or_default().options();
        let traced = self.charged(ext, || self.backend.audit_trace(hash, &options))?;
        Ok(traced.map(|t| TraceView::of_receipt(&t.receipt, t.trace.as_ref())))
    }

    fn contract_trace_call(
        &self,
        ext: &Extensions,
        call: CallArgs,
        height: Option<u64>,
        options: Option<TraceArgs>,
    ) -> RpcResult<TraceView> {
        let options = options.unwrap_or_default().options();
        let (request, height) = self.call_request(call, height)?;
        let (view, _) = self.metered(ext, request, |request, interrupt| {
            let run = self
                .backend
                .trace_call(request, height, &options, interrupt)?;
            let (outcome, trace) = &run.value;
            Ok((TraceView::of_call(outcome, trace), outcome.gas_used))
        })?;
        Ok(view)
    }

    fn proof_prove(&self, ext: &Extensions, args: ProveArgs) -> RpcResult<ProofJobView> {
        let profile = match &args.profile {
            None => None,
            Some(name) => Some(opmeter_prover::Profile::by_name(name).ok_or_else(|| {
                crate::error::prover_error(&opmeter_prover::ProverError::UnknownProfile(
                    name.clone(),
                ))
            })?),
        };
        let (contract, height) = self.resolve(&args.contract, args.height)?;
        let job = rpc(self.backend.prove(ProveRequest {
            contract,
            method: args.method,
            args: args.args.iter().map(|a| a.0).collect(),
            profile,
            height,
            client: ext.get::<ClientAddr>().map(|_| client_ip(ext)),
        }))?;
        Ok(ProofJobView::from(&job))
    }

    fn proof_job(&self, id: u64) -> RpcResult<Option<ProofJobView>> {
        Ok(rpc(self.backend.proof_job(id))?
            .as_ref()
            .map(ProofJobView::from))
    }

    fn proof_get(&self, id: u64) -> RpcResult<Option<ProofView>> {
        let Some(job) = rpc(self.backend.proof_job(id))? else {
            return Err(unknown_job(id).into());
        };
        match &job.result {
            None => Ok(None),
            Some(Ok(proved)) => Ok(Some(ProofView::of_proved(proved, &job))),
            Some(Err(failure)) => {
                let view = ProofErrorView::from(failure);
                Err(RpcError {
                    code: ErrorCode::Prover(failure.code).code(),
                    message: view.message,
                    data: Some(serde_json::json!({ "reason": view.name, "job": id })),
                }
                .into())
            }
        }
    }

    fn proof_verify(&self, proof: ProofView) -> RpcResult<ProofVerifyView> {
        let (statement, decoded) = match proof.statement() {
            Ok(pair) => pair,
            Err(opmeter_prover::ProverError::MalformedProof(message)) => {
                let profile = opmeter_prover::Profile::by_name(&proof.profile);
                return Ok(ProofVerifyView {
                    valid: false,
                    reason: Some(ProofErrorView {
                        code: ErrorCode::Prover(opmeter_prover::ErrorCode::MalformedProof)
                            .code()
                            .unsigned_abs(),
                        name: "malformedProof".into(),
                        message: format!("malformed proof: {message}"),
                    }),
                    profile: profile.map_or(proof.profile.clone(), |p| p.name.to_string()),
                    key_origin: String::new(),
                    code_checked: false,
                });
            }
            Err(e) => return Err(crate::error::prover_error(&e).into()),
        };
        let code_hash = proof.code_hash.map(|h| opmeter_vm::CodeHash(h.0));
        let verdict = rpc(self.backend.verify_proof(&statement, &decoded, code_hash))?;
        Ok(ProofVerifyView::from(&verdict))
    }

    fn contract_provability(
        &self,
        contract: AddressOrName,
        height: Option<u64>,
    ) -> RpcResult<ProvabilityView> {
        let (contract, height) = self.resolve(&contract, height)?;
        let read = rpc(self.backend.provability(contract, height))?;
        Ok(ProvabilityView::new(&read.value, read.height))
    }

    async fn subscribe_proof_job(
        &self,
        pending: PendingSubscriptionSink,
        id: u64,
    ) -> SubscriptionResult {
        // Subscribe to updates before reading the job, so no change falls in between.
        let mut updates = self.backend.proof_updates();
        let backend = Arc::clone(&self.backend);
        let first = blocking(move || rpc(backend.proof_job(id))).await;
        let job = match first {
            Ok(Some(job)) => job,
            Ok(None) => {
                pending.reject(unknown_job(id)).await;
                return Ok(());
            }
            Err(e) => {
                pending.reject(e).await;
                return Ok(());
            }
        };
        let sink = pending.accept().await?;
        let mut last = ProofJobView::from(&job);
        sink.send(SubscriptionMessage::from(serde_json::value::to_raw_value(
            &last,
        )?))
        .await?;
        while !finished(&job_stage(&last)) {
            tokio::select! {
                _ = sink.closed() => return Ok(()),
                update = updates.recv() => match update {
                    Ok(changed) if changed != id => continue,
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return Ok(()),
                },
            }
            let backend = Arc::clone(&self.backend);
            let Some(job) = blocking(move || rpc(backend.proof_job(id))).await? else {
                return Ok(());
            };
            let view = ProofJobView::from(&job);
            if view.state != last.state
                || view.queue_position != last.queue_position
                || view.steps != last.steps
            {
                sink.send(SubscriptionMessage::from(serde_json::value::to_raw_value(
                    &view,
                )?))
                .await?;
            }
            last = view;
        }
        Ok(())
    }

    fn dev_fund(&self, address: AddressOrName, amount: DecU256) -> RpcResult<FundView> {
        let (address, _) = self.resolve(&address, None)?;
        let tx_hash = rpc(self.backend.dev_fund(address, amount.0))?;
        Ok(FundView::new(address, amount.0, tx_hash))
    }

    fn discover(&self) -> RpcResult<serde_json::Value> {
        Ok(crate::openrpc::document())
    }
}
