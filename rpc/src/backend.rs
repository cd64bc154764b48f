//! What the node provides to the server, in domain types: ledger data ([`Header`], [`Block`],
//! [`Receipt`], [`SignedTransaction`]), vm outcomes and traces, heights, [`U256`], and typed
//! errors ([`BackendError`]). The server turns them into wire views and error codes; the node
//! never sees JSON.
//!
//! Every read names the height of the one committed state it read ([`AtHeight`]): a backend
//! resolves the height once and reads exactly that state.

use std::sync::Arc;

use opmeter_ledger::admission::AdmissionError;
use opmeter_ledger::block::{Account, Block, CommittedBlock, Header, Receipt};
use opmeter_ledger::bundle::Bundle;
use opmeter_ledger::compare::ReplayReport;
use opmeter_ledger::encoding::Hash32;
use opmeter_ledger::name::{Name, NameRecord};
use opmeter_ledger::tx::{Payload, SignedTransaction};
use opmeter_prover::{KeyOrigin, NotProvable, Profile, Proof, ProverError, Statement};
use opmeter_vm::{
    Address, CallRequest, CodeHash, Interrupt, Outcome, Trace, TraceOptions, ValidationReport, U256,
};
use tokio::sync::broadcast;

/// A value read from the committed state of block `height`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AtHeight<T> {
    /// The value.
    pub value: T,
    /// The block whose state it was read from.
    pub height: u64,
}

/// The chain's identity and rules, and its head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainStatus {
    /// Chain id (what transactions sign for).
    pub chain_id: String,
    /// The last committed header.
    pub head: Header,
    /// Version of the gas schedule.
    pub schedule_version: u32,
    /// Hash of the gas schedule.
    pub schedule_hash: [u8; 32],
    /// Whether development methods are enabled.
    pub dev: bool,
    /// Lowest accepted gas price.
    pub min_gas_price: U256,
    /// Most gas one block may use.
    pub block_gas_limit: u64,
}

/// An account with the nonce its next transaction should carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountState {
    /// The committed record (default when absent).
    pub account: Account,
    /// `account.nonce` plus the account's pending transactions (at the head; equal to
    /// `account.nonce` at past heights).
    pub pending_nonce: u64,
}

/// A block by height or by hash; [`BlockRef::Latest`] is the head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockRef {
    /// The last committed block.
    Latest,
    /// A height.
    Height(u64),
    /// A block hash.
    Hash(Hash32),
}

/// Which code `code_get` wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeRef {
    /// By blake3 of the code.
    Hash(Hash32),
    /// The code of the contract at this address.
    Contract(Address),
}

/// Uploaded code, as stored (content-addressed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCode {
    /// `blake3(wasm)`.
    pub code_hash: CodeHash,
    /// The original wasm, as uploaded.
    pub wasm: Arc<[u8]>,
}

/// A transaction the node knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownTx {
    /// The signed transaction.
    pub signed: SignedTransaction,
    /// `(height, index)` once committed; `None` while pending.
    pub location: Option<(u64, u32)>,
}

/// A verified gas estimate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Estimate {
    /// The smallest succeeding gas limit.
    pub gas_limit: u64,
    /// The execution at exactly that limit.
    pub receipt: Receipt,
    /// Executions it took.
    pub executions: u32,
    /// Gas all executions used together.
    pub gas_burned: u64,
}

/// A storage value with its Merkle proof against the state root of its block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageProof {
    /// The value (`None`: absent).
    pub value: Option<Vec<u8>>,
    /// The state root of the block it was read from.
    pub state_root: Hash32,
    /// Borsh of the `jmt` 0.12 `SparseMerkleProof` (inclusion or exclusion).
    pub proof: Vec<u8>,
}

/// A name's record with its Merkle proof against the state root of its block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameProof {
    /// The record (`None`: nobody registered the name).
    pub record: Option<NameRecord>,
    /// Its encoding as proven (`borsh(NameRecord)`).
    pub value: Option<Vec<u8>>,
    /// The state root of the block it was read from.
    pub state_root: Hash32,
    /// Borsh of the `jmt` 0.12 `SparseMerkleProof` (inclusion or exclusion).
    pub proof: Vec<u8>,
}

/// A committed transaction's gas trace.
#[derive(Clone, Debug)]
pub struct ReceiptTrace {
    /// Its stored receipt (the replay reproduced it).
    pub receipt: Receipt,
    /// The vm execution's trace (`None` when the payload ran no code).
    pub trace: Option<Trace>,
}

/// The node's state for the metrics page (`GET /metrics`).
#[derive(Clone, Debug, Default)]
pub struct NodeMetrics {
    /// Height of the head.
    pub head_height: u64,
    /// Time to produce each block committed since the node started.
    pub block_seconds: crate::metrics::Histogram,
    /// Transactions in those blocks.
    pub block_transactions: u64,
    /// Gas those blocks used.
    pub block_gas: u64,
    /// Pending transactions.
    pub mempool_transactions: u64,
    /// Compiled modules in the vm's consensus module cache.
    pub cache_modules: u64,
    /// Module lookups answered by the vm's module caches.
    pub cache_hits: u64,
    /// Module lookups that compiled.
    pub cache_misses: u64,
    /// RocksDB column families: name, SST bytes, memtable bytes.
    pub column_families: Vec<(String, u64, u64)>,
    /// Contracts with a quota that used some of it: contract, used gas, daily gas.
    pub quotas: Vec<(Address, u64, Option<u64>)>,
}

/// Length of the quotas' rolling window.
pub const QUOTA_WINDOW_MS: u64 = 24 * 3600 * 1000;

/// Where a contract's daily quota of read-only gas stands (rolling 24 h window).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotaState {
    /// Its budget per 24 h; `None`: unlimited.
    pub daily_gas: Option<u64>,
    /// Gas its read-only calls used in the window.
    pub used_gas: u64,
}

impl QuotaState {
    /// No quota.
    pub const UNLIMITED: QuotaState = QuotaState {
        daily_gas: None,
        used_gas: 0,
    };

    /// What is left; `None`: unlimited.
    pub fn remaining_gas(&self) -> Option<u64> {
        self.daily_gas.map(|d| d.saturating_sub(self.used_gas))
    }
}

/// A proof to make: `provable:<method>` of the contract's code at `height` (or the head).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProveRequest {
    /// The contract.
    pub contract: Address,
    /// The method (without `provable:`).
    pub method: String,
    /// The arguments.
    pub args: Vec<u64>,
    /// The profile; `None`: the smallest served profile the call fits.
    pub profile: Option<Profile>,
    /// The height whose committed state the code is read from (`None`: the head).
    pub height: Option<u64>,
    /// The client key of the caller's address (`None`: not counted per client).
    pub client: Option<std::net::IpAddr>,
}

/// Where a prove job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobStage {
    /// Waiting for the prover; `position` jobs are ahead of it.
    Queued {
        /// Jobs ahead.
        position: usize,
    },
    /// Running natively (and through the vm, to check the gas).
    Executing,
    /// Building and proving the circuit (the long part).
    Proving,
    /// Finished with a proof.
    Done,
    /// Finished with an error.
    Failed,
}

/// Why a job failed, or why a proof did not verify: a prover error code and its message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobFailure {
    /// The stable code.
    pub code: opmeter_prover::ErrorCode,
    /// What went wrong.
    pub message: String,
}

impl From<&ProverError> for JobFailure {
    fn from(error: &ProverError) -> JobFailure {
        JobFailure {
            code: error.code(),
            message: error.to_string(),
        }
    }
}

/// A finished proof with the key it was made with.
#[derive(Clone, Debug)]
pub struct Proved {
    /// What it proves.
    pub statement: Statement,
    /// The proof.
    pub proof: Proof,
    /// Who generated the keys.
    pub origin: KeyOrigin,
    /// The verifying key (for the snarkjs export).
    pub vk: opmeter_prover::VerifyingKey,
    /// blake3 (hex) of `vk.bin`, from the manifest.
    pub vk_blake3: String,
}

/// A prove job.
#[derive(Clone, Debug)]
pub struct ProofJob {
    /// Its id.
    pub id: u64,
    /// The contract.
    pub contract: Address,
    /// The code proven (read at `height`).
    pub code_hash: CodeHash,
    /// The height whose committed state the code was read from.
    pub height: u64,
    /// The method.
    pub method: String,
    /// The arguments.
    pub args: Vec<u64>,
    /// The profile.
    pub profile: Profile,
    /// Where it is.
    pub stage: JobStage,
    /// Steps the call runs (once executed).
    pub steps: Option<usize>,
    /// Since it was accepted.
    pub elapsed: std::time::Duration,
    /// Time spent proving (so far, or in total).
    pub proving: Option<std::time::Duration>,
    /// How long proving is expected to take.
    pub expected_proving: std::time::Duration,
    /// The outcome, once finished.
    pub result: Option<Result<Proved, JobFailure>>,
}

/// The verdict on a proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The profile verified in.
    pub profile: Profile,
    /// Who generated the verifying key used.
    pub origin: KeyOrigin,
    /// Whether the code commitment was re-derived from code the node has.
    pub code_checked: bool,
    /// Valid, or why not.
    pub result: Result<(), JobFailure>,
}

/// Per `provable:` export of a contract's code: the compiled program's length, or why it is
/// outside the provable subset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvabilityReport {
    /// The contract.
    pub contract: Address,
    /// Its code.
    pub code_hash: CodeHash,
    /// By method name.
    pub methods: Vec<(String, Result<usize, NotProvable>)>,
}

/// Why the backend could not answer. The server maps each to its stable error code.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The node refused a transaction at admission.
    #[error(transparent)]
    Admission(#[from] AdmissionError),
    /// No block at that height (above the head).
    #[error("height {height} is above the head {head}")]
    UnknownBlock {
        /// The height asked for.
        height: u64,
        /// The head.
        head: u64,
    },
    /// The transaction to estimate fails even at the gas cap.
    #[error("the transaction fails ({}) even with {gas_cap} gas", .receipt.status.name())]
    ExecutionFailed {
        /// The failing execution at the cap.
        receipt: Box<Receipt>,
        /// The cap.
        gas_cap: u64,
    },
    /// A development-only method on a chain that is not in development mode.
    #[error("only available on development chains (genesis `dev: true`)")]
    DevOnly,
    /// A transaction the backend sent itself did not commit in time.
    #[error("the transaction {tx_hash} is still pending (is the node producing blocks?)")]
    ReceiptTimeout {
        /// The transaction.
        tx_hash: Hash32,
    },
    /// The contract spent its daily quota of read-only gas.
    #[error("contract {contract} spent its daily read-only gas ({daily_gas}); retry in {retry_after_ms} ms")]
    QuotaExhausted {
        /// The contract.
        contract: Address,
        /// Its budget per 24 h.
        daily_gas: u64,
        /// When enough of its usage leaves the window.
        retry_after_ms: u64,
    },
    /// A read-only execution was stopped by its interrupt (its time limit passed).
    #[error("the execution was stopped: it ran past its time limit")]
    Interrupted,
    /// No contract at that address (in the state read).
    #[error("no contract at {address} at height {height}")]
    UnknownContract {
        /// The address.
        address: Address,
        /// The height read.
        height: u64,
    },
    /// No name registered under that name (in the state read).
    #[error("no contract is named `{name}` at height {height}")]
    UnknownName {
        /// The name.
        name: Name,
        /// The height read.
        height: u64,
    },
    /// Proving or verifying failed before a job existed (not provable, unknown profile, keys
    /// missing or corrupt, prover busy, …).
    #[error(transparent)]
    Prover(#[from] ProverError),
    /// The node failed; not the caller's fault.
    #[error("{0}")]
    Fault(String),
}

/// What the node provides to the server. Methods may block (RocksDB reads, execution); the
/// server runs them off the async executor. Arguments arrive decoded and within limits.
pub trait Backend: Send + Sync + 'static {
    /// The chain's identity, rules and head.
    ///
    /// # Errors
    /// Node faults.
    fn chain_status(&self) -> Result<ChainStatus, BackendError>;

    /// The last committed header.
    ///
    /// # Errors
    /// Node faults.
    fn head(&self) -> Result<Header, BackendError>;

    /// A committed block, `None` when unknown (or above the head).
    ///
    /// # Errors
    /// Node faults.
    fn block(&self, id: BlockRef) -> Result<Option<Block>, BackendError>;

    /// The commit certificate of block `height` on a replicated chain (`None` on a chain one
    /// node produces, or for an unknown block).
    ///
    /// # Errors
    /// Node faults.
    fn commit_certificate(
        &self,
        height: u64,
    ) -> Result<Option<opmeter_ledger::consensus::CommitCertificate>, BackendError>;

    /// An account at the head or at `height`.
    ///
    /// # Errors
    /// [`BackendError::UnknownBlock`]; node faults.
    fn account(
        &self,
        address: Address,
        height: Option<u64>,
    ) -> Result<AtHeight<AccountState>, BackendError>;

    /// Code by code hash or by the address of a contract (at the head), `None` when unknown.
    ///
    /// # Errors
    /// Node faults.
    fn code(&self, target: CodeRef) -> Result<Option<StoredCode>, BackendError>;

    /// Checks `code` against every rule of deployment.
    ///
    /// # Errors
    /// Node faults (a module that breaks rules is `Ok(Err(report))`).
    fn validate_code(&self, code: &[u8]) -> Result<Result<(), ValidationReport>, BackendError>;

    /// Admits a signed transaction; returns its hash once it is pending and persisted.
    ///
    /// # Errors
    /// [`BackendError::Admission`]; node faults.
    fn send_raw(&self, tx: &[u8]) -> Result<Hash32, BackendError>;

    /// A pending or committed transaction, `None` when unknown.
    ///
    /// # Errors
    /// Node faults.
    fn transaction(&self, tx_hash: Hash32) -> Result<Option<KnownTx>, BackendError>;

    /// The receipt of a committed transaction (once its block is the head or below).
    ///
    /// # Errors
    /// Node faults.
    fn receipt(&self, tx_hash: Hash32) -> Result<Option<Receipt>, BackendError>;

    /// Runs `call` read-only against the committed state of `height` (or the head); the
    /// execution stops once `interrupt` is set.
    ///
    /// # Errors
    /// [`BackendError::UnknownBlock`]; [`BackendError::Interrupted`]; node faults (a failing
    /// call is an outcome, not an error).
    fn call(
        &self,
        call: CallRequest,
        height: Option<u64>,
        interrupt: Interrupt,
    ) -> Result<AtHeight<Outcome>, BackendError>;

    /// [`Backend::call`] with a gas trace of the execution.
    ///
    /// # Errors
    /// [`BackendError::UnknownBlock`]; [`BackendError::Interrupted`]; node faults.
    fn trace_call(
        &self,
        call: CallRequest,
        height: Option<u64>,
        options: &TraceOptions,
        interrupt: Interrupt,
    ) -> Result<AtHeight<(Outcome, Trace)>, BackendError>;

    /// The smallest gas limit at which `payload` from `from` succeeds against the head (or the
    /// committed state of `height`, where a name in the request was resolved), at most
    /// `gas_cap`, verified by executing at exactly that limit; every execution sees the same
    /// committed state. The executions stop once `interrupt` is set.
    ///
    /// # Errors
    /// [`BackendError::ExecutionFailed`] when it fails even at `gas_cap`;
    /// [`BackendError::Interrupted`]; node faults.
    fn estimate_gas(
        &self,
        from: Address,
        payload: Payload,
        height: Option<u64>,
        gas_cap: u64,
        interrupt: Interrupt,
    ) -> Result<AtHeight<Estimate>, BackendError>;

    /// A storage value with its proof against the state root of `height` (or the head).
    ///
    /// # Errors
    /// [`BackendError::UnknownBlock`]; node faults.
    fn storage(
        &self,
        contract: Address,
        key: &[u8],
        height: Option<u64>,
    ) -> Result<AtHeight<StorageProof>, BackendError>;

    /// A name's record in the committed state of `height` (or the head), read once: the height
    /// returned is the state every later read of the same request must use.
    ///
    /// # Errors
    /// [`BackendError::UnknownBlock`]; node faults.
    fn resolve_name(
        &self,
        name: &Name,
        height: Option<u64>,
    ) -> Result<AtHeight<Option<NameRecord>>, BackendError>;

    /// A name's record with its proof against the state root of `height` (or the head).
    ///
    /// # Errors
    /// [`BackendError::UnknownBlock`]; node faults.
    fn name_proof(
        &self,
        name: &Name,
        height: Option<u64>,
    ) -> Result<AtHeight<NameProof>, BackendError>;

    /// Re-executes committed transaction `tx_hash` (its whole block, against the state before
    /// it) and compares its receipt field by field; `None` when not committed. Also returns the
    /// gas the replay executed (for rate limiting).
    ///
    /// # Errors
    /// Node faults.
    fn audit_replay(&self, tx_hash: Hash32) -> Result<Option<(ReplayReport, u64)>, BackendError>;

    /// The offline verification bundle of committed transaction `tx_hash`; `None` when not
    /// committed. Also returns the gas executed to build it.
    ///
    /// # Errors
    /// Node faults.
    fn audit_bundle(&self, tx_hash: Hash32) -> Result<Option<(Bundle, u64)>, BackendError>;

    /// The gas trace of committed transaction `tx_hash`; `None` when not committed. Also returns
    /// the gas executed to produce it.
    ///
    /// # Errors
    /// Node faults, including a replay that does not reproduce the stored receipt.
    fn audit_trace(
        &self,
        tx_hash: Hash32,
        options: &TraceOptions,
    ) -> Result<Option<(ReceiptTrace, u64)>, BackendError>;

    /// Committed blocks from now on.
    fn subscribe(&self) -> broadcast::Receiver<Arc<CommittedBlock>>;

    /// Whether `contract` may run a read-only call now (its daily quota). The default: no
    /// quotas.
    ///
    /// # Errors
    /// [`BackendError::QuotaExhausted`].
    fn quota_check(&self, contract: Address) -> Result<QuotaState, BackendError> {
        let _ = contract;
        Ok(QuotaState::UNLIMITED)
    }

    /// The node's state for the metrics page.
    fn node_metrics(&self) -> NodeMetrics;

    /// Where `contract`'s daily quota stands now. The default: no quotas.
    fn quota_status(&self, contract: Address) -> QuotaState {
        let _ = contract;
        QuotaState::UNLIMITED
    }

    /// Charges `gas` of read-only execution to `contract`'s daily quota; returns where it
    /// stands. The default: no quotas.
    fn quota_charge(&self, contract: Address, gas: u64) -> QuotaState {
        let _ = (contract, gas);
        QuotaState::UNLIMITED
    }
    /// Starts a prove job: reads the contract's code from one committed state, compiles the
    /// method, runs it natively to check arguments and pick the profile, and queues the proof.
    /// Returns at once.
    ///
    /// # Errors
    /// [`BackendError::UnknownBlock`], [`BackendError::UnknownContract`],
    /// [`BackendError::Prover`] (not provable, wrong arguments, trap, step bound, unknown
    /// profile, keys missing or corrupt, prover busy); node faults.
    fn prove(&self, request: ProveRequest) -> Result<ProofJob, BackendError>;

    /// A prove job by id, `None` when unknown (or forgotten: finished jobs are kept for a while).
    ///
    /// # Errors
    /// Node faults.
    fn proof_job(&self, id: u64) -> Result<Option<ProofJob>, BackendError>;

    /// Ids of prove jobs whenever they change.
    fn proof_updates(&self) -> broadcast::Receiver<u64>;

    /// Verifies `proof` of `statement` with this node's verifying key of its profile; when
    /// `code_hash` names code the node has, also re-derives the code commitment from it.
    ///
    /// # Errors
    /// [`BackendError::Prover`] when there is no usable key for the profile; node faults.
    fn verify_proof(
        &self,
        statement: &Statement,
        proof: &Proof,
        code_hash: Option<CodeHash>,
    ) -> Result<Verdict, BackendError>;

    /// Which `provable:` exports of a contract's code (at `height` or the head) are in the
    /// provable subset, and why not.
    ///
    /// # Errors
    /// [`BackendError::UnknownBlock`], [`BackendError::UnknownContract`]; node faults.
    fn provability(
        &self,
        contract: Address,
        height: Option<u64>,
    ) -> Result<AtHeight<ProvabilityReport>, BackendError>;

    /// Development chains only: sends `amount` from the development account to `address` and
    /// waits for it to commit; returns the transfer's hash.
    ///
    /// # Errors
    /// [`BackendError::DevOnly`] on other chains; admission errors;
    /// [`BackendError::ReceiptTimeout`]; node faults.
    fn dev_fund(&self, address: Address, amount: U256) -> Result<Hash32, BackendError>;
}
