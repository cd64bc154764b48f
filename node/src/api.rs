//! The node's side of the JSON-RPC server: [`Backend`] over a running [`Node`], in domain types.
//! Every read resolves its state once ([`Chain::read_state`]) and reports that height; node
//! faults become [`BackendError::Fault`], and `rpc` owns every view and error code.

use std::sync::Arc;
use std::time::{Duration, Instant};

use opmeter_ledger::block::{Block, CommittedBlock, Header, Receipt, ReceiptStatus};
use opmeter_ledger::bundle::Bundle;
use opmeter_ledger::compare::ReplayReport;
use opmeter_ledger::encoding::Hash32;
use opmeter_ledger::name::{Name, NameRecord};
use opmeter_ledger::state::StateKey;
use opmeter_ledger::tx::{Payload, Transaction};
use opmeter_prover::{Proof, ProvableProgram, ProverError, Statement};
use opmeter_rpc::backend::{
    AccountState, AtHeight, Backend, BackendError, BlockRef, ChainStatus, CodeRef, Estimate,
    JobFailure, KnownTx, NameProof, NodeMetrics, ProofJob, ProvabilityReport, ProveRequest,
    QuotaState, ReceiptTrace, StorageProof, StoredCode, Verdict,
};
use opmeter_vm::{
    Address, CallRequest, CodeHash, Interrupt, Outcome, Trace, TraceOptions, ValidationReport,
    VmError, U256,
};
use parking_lot::Mutex;
use tokio::sync::broadcast;

use crate::chain::{Chain, EstimateError, ReadState};
use crate::error::{NodeError, SubmitError};
use crate::genesis::{address_of, dev_key};
use crate::quota::{now_ms, QuotaConfig, Quotas};
use crate::service::Node;
use crate::store::StoreError;
use crate::zk::{NewJob, ProofService, ZkConfig};

/// How long `dev_fund` waits for its transfer to commit.
const DEV_FUND_WAIT: Duration = Duration::from_secs(30);

/// [`Backend`] over a node.
#[derive(Debug)]
pub struct NodeBackend {
    node: Arc<Node>,
    /// Serialises `dev_fund` (one nonce sequence for the development account).
    funding: Mutex<()>,
    /// Daily read-only quotas per contract.
    quotas: Arc<Quotas>,
    /// The prover (serving no profile unless configured).
    prover: Arc<ProofService>,
    /// Provability reports by code hash (node-side, not consensus data).
    provability: Mutex<std::collections::HashMap<CodeHash, Arc<MethodVerdicts>>>,
}

type ProvableVerdict = Result<usize, opmeter_prover::NotProvable>;
type MethodVerdicts = Vec<(String, ProvableVerdict)>;

/// Most provability reports kept (each a few hundred bytes).
const PROVABILITY_CACHE: usize = 1024;

impl NodeBackend {
    /// Serves `node` without quotas or a prover (prove requests are `keysMissing`).
    pub fn new(node: Arc<Node>) -> NodeBackend {
        NodeBackend::with(
            node,
            Quotas::in_memory(QuotaConfig::default()),
            ProofService::start(ZkConfig::disabled()),
        )
    }

    /// Serves `node` with daily read-only quotas per contract (no prover).
    pub fn with_quotas(node: Arc<Node>, quotas: Arc<Quotas>) -> NodeBackend {
        NodeBackend::with(node, quotas, ProofService::start(ZkConfig::disabled()))
    }

    /// Serves `node` with `prover` (no quotas).
    pub fn with_prover(node: Arc<Node>, prover: Arc<ProofService>) -> NodeBackend {
        NodeBackend::with(node, Quotas::in_memory(QuotaConfig::default()), prover)
    }

    /// Serves `node` with daily read-only quotas per contract and `prover`.
    pub fn with(node: Arc<Node>, quotas: Arc<Quotas>, prover: Arc<ProofService>) -> NodeBackend {
        NodeBackend {
            node,
            funding: Mutex::new(()),
            quotas,
            prover,
            provability: Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// The quotas (to save them when the node stops).
    pub fn quotas(&self) -> &Arc<Quotas> {
        &self.quotas
    }

    /// The prover.
    pub fn prover(&self) -> &Arc<ProofService> {
        &self.prover
    }

    /// The code of `contract` in `state`.
    fn contract_code(
        &self,
        state: &ReadState,
        contract: Address,
    ) -> Result<(CodeHash, Vec<u8>), BackendError> {
        let unknown = || BackendError::UnknownContract {
            address: contract,
            height: state.height(),
        };
        let code_hash = state
            .view()
            .account(&contract)?
            .and_then(|a| a.code_hash)
            .ok_or_else(unknown)?;
        let wasm = state.view().code_bytes(&code_hash)?.ok_or_else(unknown)?;
        Ok((code_hash, wasm))
    }

    /// Compiles `method`, checks the arguments, runs it natively and in the vm (outputs and gas
    /// must agree: the proven gas is the billed gas), and picks the profile.
    fn plan(
        &self,
        wasm: &[u8],
        method: &str,
        args: &[u64],
        profile: Option<opmeter_prover::Profile>,
    ) -> Result<(ProvableProgram, opmeter_prover::Profile), BackendError> {
        let vm = self.chain().vm();
        let program = ProvableProgram::compile(wasm, vm.schedule(), method)?;
        program.check_args(args)?;
        let candidates = match profile {
            Some(profile) => {
                self.prover.check_profile(&profile)?;
                vec![profile]
            }
            None => self.prover.usable_profiles()?,
        };
        let largest = candidates.iter().map(|p| p.steps).max().unwrap_or(0);
        let chosen_or = |steps: usize| {
            candidates
                .iter()
                .copied()
                .find(|p| p.steps >= steps && p.program_slots >= program.program.code.len())
        };
        let execution = program.run(args, largest).map_err(|e| match e {
            ProverError::StepBoundExceeded { steps, .. } => ProverError::StepBoundExceeded {
                profile: candidates
                    .iter()
                    .max_by_key(|p| p.steps)
                    .map_or("-", |p| p.name)
                    .to_string(),
                steps,
            },
            other => other,
        })?;
        let chosen = chosen_or(execution.steps).ok_or_else(|| {
            let widest = candidates.iter().max_by_key(|p| p.program_slots).copied();
            ProverError::ProfileTooSmall {
                profile: widest.map_or("-", |p| p.name).to_string(),
                instructions: program.program.code.len(),
                slots: widest.map_or(0, |p| p.program_slots),
            }
        })?;
        // The same call, billed by the vm: a prover that disagrees with billing is a bug.
        let prepared = vm
            .prepare(wasm)
            .map_err(|e| BackendError::Fault(format!("deployed code does not validate: {e}")))?;
        let billed = vm
            .call_provable(&prepared, method, args, u64::MAX)
            .map_err(fault)?;
        if billed.status != opmeter_vm::Status::Success
            || billed.result.unwrap_or(0) != execution.output
            || billed.gas_used != execution.gas_used
        {
            return Err(BackendError::Fault(format!(
                "the compiled `{method}` disagrees with the vm (status {:?}, output {} vs {:?}, gas {} vs {}): not proving",
                billed.status, execution.output, billed.result, execution.gas_used, billed.gas_used
            )));
        }
        Ok((program, chosen))
    }

    fn chain(&self) -> &Chain {
        self.node.chain()
    }

    /// The committed state of `height` (or the head), resolved once.
    fn state(&self, height: Option<u64>) -> Result<ReadState, BackendError> {
        match self.chain().read_state(height).map_err(fault)? {
            Some(state) => Ok(state),
            None => Err(BackendError::UnknownBlock {
                height: height.unwrap_or(0),
                head: self.node.head().header.height,
            }),
        }
    }

    /// The gas block `height` used (what replaying it costs).
    fn block_gas(&self, height: u64) -> Result<u64, BackendError> {
        Ok(self
            .chain()
            .store()
            .header(height)
            .map_err(fault)?
            .map_or(0, |h| h.gas_used))
    }
}

/// A node fault, for the server (its message; never the client's fault), or the interrupt of a
/// read-only execution.
fn fault(error: impl Into<NodeError>) -> BackendError {
    match error.into() {
        NodeError::Vm(VmError::Interrupted) => BackendError::Interrupted,
        error => BackendError::Fault(error.to_string()),
    }
}

fn submit_error(error: SubmitError) -> BackendError {
    match error {
        SubmitError::Rejected(e) => BackendError::Admission(e),
        SubmitError::Node(e) => fault(e),
    }
}

impl From<StoreError> for BackendError {
    fn from(error: StoreError) -> BackendError {
        fault(error)
    }
}

impl Backend for NodeBackend {
    fn chain_status(&self) -> Result<ChainStatus, BackendError> {
        let chain = self.chain();
        let genesis = chain.genesis();
        Ok(ChainStatus {
            chain_id: genesis.chain_id.clone(),
            head: self.node.head().header,
            schedule_version: chain.vm().schedule().version,
            schedule_hash: chain.vm().schedule_hash(),
            dev: genesis.dev,
            min_gas_price: chain.min_gas_price(),
            block_gas_limit: genesis.block_gas_limit,
        })
    }

    fn head(&self) -> Result<Header, BackendError> {
        Ok(self.node.head().header)
    }

    fn commit_certificate(
        &self,
        height: u64,
    ) -> Result<Option<opmeter_ledger::consensus::CommitCertificate>, BackendError> {
        let Some(bytes) = self.chain().store().certificate(height)? else {
            return Ok(None);
        };
        borsh::from_slice(&bytes).map(Some).map_err(|e| {
            BackendError::Fault(format!(
                "the certificate of block {height} does not decode: {e}"
            ))
        })
    }

    fn block(&self, id: BlockRef) -> Result<Option<Block>, BackendError> {
        let store = self.chain().store();
        let head = self.node.head().header.height;
        let height = match id {
            BlockRef::Latest => head,
            BlockRef::Height(h) => h,
            BlockRef::Hash(hash) => match store.height_of(&hash)? {
                Some(h) => h,
                None => return Ok(None),
            },
        };
        if height > head {
            return Ok(None);
        }
        Ok(store.block(height)?)
    }

    fn account(
        &self,
        address: Address,
        height: Option<u64>,
    ) -> Result<AtHeight<AccountState>, BackendError> {
        let state = self.state(height)?;
        let account = state.view().account(&address)?.unwrap_or_default();
        let pending_nonce = match height {
            None => self.node.pending_nonce(&address).max(account.nonce),
            Some(_) => account.nonce,
        };
        Ok(AtHeight {
            value: AccountState {
                account,
                pending_nonce,
            },
            height: state.height(),
        })
    }

    fn code(&self, target: CodeRef) -> Result<Option<StoredCode>, BackendError> {
        let state = self.state(None)?;
        let code_hash = match target {
            CodeRef::Hash(hash) => CodeHash(hash.0),
            CodeRef::Contract(address) => match state.view().account(&address)? {
                Some(opmeter_ledger::block::Account {
                    code_hash: Some(code_hash),
                    ..
                }) => code_hash,
                _ => return Ok(None),
            },
        };
        Ok(state.view().code_bytes(&code_hash)?.map(|code| StoredCode {
            code_hash,
            wasm: Arc::from(code),
        }))
    }

    fn validate_code(&self, code: &[u8]) -> Result<Result<(), ValidationReport>, BackendError> {
        Ok(self.chain().vm().validate(code).map(|_| ()))
    }

    fn send_raw(&self, tx: &[u8]) -> Result<Hash32, BackendError> {
        self.node.submit(tx).map_err(submit_error)
    }

    fn transaction(&self, tx_hash: Hash32) -> Result<Option<KnownTx>, BackendError> {
        // The pool first, then the head: the producer commits a block (store and head) before it
        // removes the block's transactions from the pool, under the pool's lock, so a
        // transaction missing from the pool here is in the store at or below the head read
        // after. (Store first, then pool, had a window where a transaction being committed was
        // in neither.)
        if let Some(signed) = self.node.pending_tx(&tx_hash) {
            return Ok(Some(KnownTx {
                signed,
                location: None,
            }));
        }
        let head = self.node.head().header.height;
        Ok(self
            .chain()
            .store()
            .transaction(&tx_hash)?
            .filter(|(height, _, _)| *height <= head)
            .map(|(height, index, signed)| KnownTx {
                signed,
                location: Some((height, index)),
            }))
    }

    fn receipt(&self, tx_hash: Hash32) -> Result<Option<Receipt>, BackendError> {
        let receipt = self.chain().store().receipt(&tx_hash)?;
        // A receipt is served once its block is the head (or below): a client that sees it also
        // sees the state after it.
        let head = self.node.head().header.height;
        Ok(receipt.filter(|r| r.height <= head))
    }

    fn call(
        &self,
        call: CallRequest,
        height: Option<u64>,
        interrupt: Interrupt,
    ) -> Result<AtHeight<Outcome>, BackendError> {
        let state = self.state(height)?.with_interrupt(interrupt);
        let outcome = self.chain().query(&state, call).map_err(fault)?;
        Ok(AtHeight {
            value: outcome,
            height: state.height(),
        })
    }

    fn trace_call(
        &self,
        call: CallRequest,
        height: Option<u64>,
        options: &TraceOptions,
        interrupt: Interrupt,
    ) -> Result<AtHeight<(Outcome, Trace)>, BackendError> {
        let state = self.state(height)?.with_interrupt(interrupt);
        let traced = self
            .chain()
            .trace_query(&state, call, options)
            .map_err(fault)?;
        Ok(AtHeight {
            value: traced,
            height: state.height(),
        })
    }

    fn estimate_gas(
        &self,
        from: Address,
        payload: Payload,
        height: Option<u64>,
        gas_cap: u64,
        interrupt: Interrupt,
    ) -> Result<AtHeight<Estimate>, BackendError> {
        let chain = self.chain();
        let state = self.state(height)?.with_interrupt(interrupt);
        let cap = gas_cap.min(chain.genesis().block_gas_limit);
        match chain.estimate_gas(&state, from, &payload, cap) {
            Ok(estimate) => Ok(AtHeight {
                value: Estimate {
                    gas_limit: estimate.gas_limit,
                    receipt: estimate.receipt,
                    executions: estimate.executions,
                    gas_burned: estimate.gas_burned,
                },
                height: state.height(),
            }),
            Err(EstimateError::Fails(receipt)) => Err(BackendError::ExecutionFailed {
                receipt,
                gas_cap: cap,
            }),
            Err(EstimateError::Node(e)) => Err(fault(e)),
        }
    }

    fn resolve_name(
        &self,
        name: &Name,
        height: Option<u64>,
    ) -> Result<AtHeight<Option<NameRecord>>, BackendError> {
        let state = self.state(height)?;
        Ok(AtHeight {
            value: state.view().name(name)?,
            height: state.height(),
        })
    }

    fn name_proof(
        &self,
        name: &Name,
        height: Option<u64>,
    ) -> Result<AtHeight<NameProof>, BackendError> {
        // As `storage`: the height is resolved once; value, proof and root come from the tree.
        let at = self.state(height)?.height();
        let store = self.chain().store();
        let (value, proof) = store.prove(&StateKey::Name(name.clone()), at)?;
        let record = value
            .as_deref()
            .map(borsh::from_slice::<NameRecord>)
            .transpose()
            .map_err(|e| BackendError::Fault(format!("name record of {name}: {e}")))?;
        Ok(AtHeight {
            value: NameProof {
                record,
                value,
                state_root: store.state_root(at)?,
                proof: borsh::to_vec(&proof).map_err(|e| BackendError::Fault(e.to_string()))?,
            },
            height: at,
        })
    }

    fn storage(
        &self,
        contract: Address,
        key: &[u8],
        height: Option<u64>,
    ) -> Result<AtHeight<StorageProof>, BackendError> {
        // The height is resolved once; the value, its proof and the root all come from the
        // tree at that version.
        let at = self.state(height)?.height();
        let store = self.chain().store();
        let (value, proof) = store.prove(&StateKey::Storage(contract, key.to_vec()), at)?;
        Ok(AtHeight {
            value: StorageProof {
                value,
                state_root: store.state_root(at)?,
                proof: borsh::to_vec(&proof).map_err(|e| BackendError::Fault(e.to_string()))?,
            },
            height: at,
        })
    }

    fn audit_replay(&self, tx_hash: Hash32) -> Result<Option<(ReplayReport, u64)>, BackendError> {
        match crate::audit::replay(self.chain(), &tx_hash).map_err(fault)? {
            Some(report) => {
                let gas = self.block_gas(report.height)?;
                Ok(Some((report, gas)))
            }
            None => Ok(None),
        }
    }

    fn audit_bundle(&self, tx_hash: Hash32) -> Result<Option<(Bundle, u64)>, BackendError> {
        let Some(bundle) = crate::audit::bundle(self.chain(), &tx_hash).map_err(fault)? else {
            return Ok(None);
        };
        let gas = match self.chain().store().tx_location(&tx_hash)? {
            Some((height, _)) => self.block_gas(height)?,
            None => 0,
        };
        Ok(Some((bundle, gas)))
    }

    fn audit_trace(
        &self,
        tx_hash: Hash32,
        options: &TraceOptions,
    ) -> Result<Option<(ReceiptTrace, u64)>, BackendError> {
        Ok(crate::audit::trace(self.chain(), &tx_hash, options)
            .map_err(fault)?
            .map(|(receipt, trace, executed)| (ReceiptTrace { receipt, trace }, executed)))
    }

    fn quota_check(&self, contract: Address) -> Result<QuotaState, BackendError> {
        match self.quotas.check(&contract, now_ms()) {
            Ok(status) => Ok(QuotaState {
                daily_gas: status.daily_gas,
                used_gas: status.used_gas,
            }),
            Err(spent) => Err(BackendError::QuotaExhausted {
                contract,
                daily_gas: spent.daily_gas,
                retry_after_ms: spent.retry_after_ms,
            }),
        }
    }

    fn node_metrics(&self) -> NodeMetrics {
        let produced = self.node.produced();
        let cache = self.chain().vm().cache_stats();
        NodeMetrics {
            head_height: self.node.head().header.height,
            block_seconds: produced.seconds,
            block_transactions: produced.transactions,
            block_gas: produced.gas,
            mempool_transactions: self.node.mempool_len() as u64,
            cache_modules: cache.modules as u64,
            cache_hits: cache.module_hits,
            cache_misses: cache.module_misses,
            column_families: self
                .chain()
                .store()
                .sizes()
                .into_iter()
                .map(|(name, sst, memtable)| (name.to_string(), sst, memtable))
                .collect(),
            quotas: self
                .quotas
                .all(now_ms())
                .into_iter()
                .map(|(contract, status)| (contract, status.used_gas, status.daily_gas))
                .collect(),
        }
    }

    fn quota_status(&self, contract: Address) -> QuotaState {
        let status = self.quotas.status(&contract, now_ms());
        QuotaState {
            daily_gas: status.daily_gas,
            used_gas: status.used_gas,
        }
    }

    fn quota_charge(&self, contract: Address, gas: u64) -> QuotaState {
        // The account is read only the first time a contract is charged in the window.
        let status = self.quotas.charge(&contract, gas, now_ms(), || {
            self.chain()
                .committed_account(&contract)
                .is_ok_and(|account| account.code_hash.is_some())
        });
        QuotaState {
            daily_gas: status.daily_gas,
            used_gas: status.used_gas,
        }
    }

    fn prove(&self, request: ProveRequest) -> Result<ProofJob, BackendError> {
        let state = self.state(request.height)?;
        let (code_hash, wasm) = self.contract_code(&state, request.contract)?;
        let (program, profile) =
            self.plan(&wasm, &request.method, &request.args, request.profile)?;
        Ok(self.prover.submit(NewJob {
            contract: request.contract,
            code_hash,
            height: state.height(),
            program,
            args: request.args,
            profile,
            client: request.client,
        })?)
    }

    fn proof_job(&self, id: u64) -> Result<Option<ProofJob>, BackendError> {
        Ok(self.prover.job(id))
    }

    fn proof_updates(&self) -> broadcast::Receiver<u64> {
        self.prover.subscribe()
    }

    fn verify_proof(
        &self,
        statement: &Statement,
        proof: &Proof,
        code_hash: Option<CodeHash>,
    ) -> Result<Verdict, BackendError> {
        let (pvk, origin) = self.prover.verifying_key(&statement.profile)?;
        let mut result = opmeter_prover::verify_prepared(&pvk, statement, proof)
            .map_err(|e| JobFailure::from(&e));
        let mut code_checked = false;
        if let Some(code_hash) = code_hash {
            let state = self.state(None)?;
            if let Some(wasm) = state.view().code_bytes(&code_hash)? {
                code_checked = true;
                let schedule = self.chain().vm().schedule();
                let derived = ProvableProgram::compile(&wasm, schedule, &statement.method)
                    .map(|p| p.code_commitment(&statement.profile));
                let matches = matches!(&derived, Ok(c) if *c == statement.code_commitment);
                if result.is_ok() && !matches {
                    result = Err(JobFailure {
                        code: opmeter_prover::ErrorCode::InvalidProof,
                        message: format!(
                            "the code commitment is not the one compiled from code {code_hash} for `{}` in profile `{}`",
                            statement.method, statement.profile.name
                        ),
                    });
                }
            }
        }
        Ok(Verdict {
            profile: statement.profile,
            origin,
            code_checked,
            result,
        })
    }

    fn provability(
        &self,
        contract: Address,
        height: Option<u64>,
    ) -> Result<AtHeight<ProvabilityReport>, BackendError> {
        let state = self.state(height)?;
        let (code_hash, wasm) = self.contract_code(&state, contract)?;
        let cached = self.provability.lock().get(&code_hash).cloned();
        let methods = match cached {
            Some(methods) => methods,
            None => {
                let report = opmeter_prover::compile_module(&wasm, self.chain().vm().schedule())
                    .map_err(|e| BackendError::Fault(format!("deployed code: {e}")))?;
                let methods: Arc<MethodVerdicts> = Arc::new(
                    report
                        .methods
                        .into_iter()
                        .map(|(name, verdict)| (name, verdict.map(|p| p.code.len())))
                        .collect(),
                );
                let mut cache = self.provability.lock();
                if cache.len() >= PROVABILITY_CACHE {
                    cache.clear();
                }
                cache.insert(code_hash, Arc::clone(&methods));
                methods
            }
        };
        Ok(AtHeight {
            value: ProvabilityReport {
                contract,
                code_hash,
                methods: methods.as_ref().clone(),
            },
            height: state.height(),
        })
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<CommittedBlock>> {
        self.node.subscribe()
    }

    fn dev_fund(&self, address: Address, amount: U256) -> Result<Hash32, BackendError> {
        let chain = self.chain();
        if !chain.genesis().dev {
            return Err(BackendError::DevOnly);
        }
        let funding = self.funding.lock();
        let key = dev_key();
        let from = address_of(&key);
        let mut tx = Transaction {
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
        let len_bytes = u32::try_from(tx.clone().sign(&key).encode().len()).unwrap_or(u32::MAX);
        tx.gas_limit = chain.intrinsic_gas(len_bytes);
        let hash = self
            .node
            .submit(&tx.sign(&key).encode())
            .map_err(submit_error)?;
        // Once pending, the next funding reads a higher pending nonce: wait without the lock.
        drop(funding);
        let deadline = Instant::now() + DEV_FUND_WAIT;
        loop {
            if let Some(receipt) = self.receipt(hash)? {
                if receipt.status != ReceiptStatus::Success {
                    return Err(BackendError::Fault(format!(
                        "the funding transfer {hash} failed: {}",
                        receipt.status.name()
                    )));
                }
                return Ok(hash);
            }
            if Instant::now() >= deadline {
                return Err(BackendError::ReceiptTimeout { tx_hash: hash });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
