//! The replicated state machine, shaped as the phases of ABCI 2.0 so that CometBFT can drive it
//! through an adapter later:
//!
//! ```text
//! check_tx ──▶ (mempool) ──▶ prepare_proposal ──▶ process_proposal ──▶ finalize_block ──▶ commit
//!  committed     pending       pick txs, stamp      accept / reject       execute into an     one atomic
//!  state only                  the time once        (stateless checks)    overlay → roots     RocksDB write
//! ```
//!
//! `finalize_block` persists nothing; `commit` writes exactly what it staged.

use std::sync::Arc;

use opmeter_ledger::admission::AdmissionError;
use opmeter_ledger::block::{intrinsic_gas, Account, Block, Header, Receipt, ReceiptStatus};
use opmeter_ledger::consensus::{last_commit_hash, CommitCertificate, ConsensusValidator};
use opmeter_ledger::encoding::Hash32;
use opmeter_ledger::merkle::merkle_root;
use opmeter_ledger::name::{payload_gas, Name};
use opmeter_ledger::transition::{execute_transaction, Executed, TxEnv, TxInput};
use opmeter_ledger::tx::{Payload, SignedTransaction, Transaction};
use opmeter_vm::{
    Address, BlockContext, CallRequest, Interrupt, Outcome, Schedule, Trace, TraceOptions, Vm, U256,
};
use parking_lot::Mutex;
use rayon::prelude::*;

use crate::error::{NodeError, ProposalError};
use crate::genesis::Genesis;
use crate::state::{CommittedView, Overlay, Version};
use crate::store::{BlockCommit, LatestState, StateChanges, Store};

/// How far ahead of a node's clock a proposed block's timestamp may be. Without a bound, one
/// block stamped far in the future would freeze contract time (every later block must be later).
pub const MAX_CLOCK_DRIFT_MS: u64 = 30_000;

/// A transaction that passed the checks that need no state.
#[derive(Clone, Debug)]
pub struct CheckedTx {
    /// The transaction.
    pub signed: SignedTransaction,
    /// Its hash.
    pub hash: Hash32,
    /// The sender's address.
    pub sender: Address,
    /// Encoded length.
    pub len_bytes: u32,
    /// `tx_base + tx_per_byte × len_bytes`.
    pub intrinsic_gas: u64,
}

impl CheckedTx {
    /// What the state transition needs of it.
    pub fn input(&self) -> TxInput<'_> {
        TxInput {
            tx: &self.signed.tx,
            hash: self.hash,
            sender: self.sender,
            intrinsic_gas: self.intrinsic_gas,
        }
    }
}

/// A proposed block: what `prepare_proposal` returns and `process_proposal` judges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// Height.
    pub height: u64,
    /// The head's hash.
    pub parent_hash: Hash32,
    /// Taken once by the proposer.
    pub timestamp_ms: u64,
    /// Transactions in order.
    pub transactions: Vec<SignedTransaction>,
    /// On a replicated chain from height 2 on: the commit certificate of the head (the parent),
    /// as the proposer holds it; the block carries it and its header its hash.
    /// [`Chain::prepare_proposal`] leaves it `None`; a validator's proposer sets it.
    pub last_commit: Option<CommitCertificate>,
}

/// The result of `finalize_block`: the header (with its roots) and receipts, not yet persisted.
#[derive(Clone, Debug)]
pub struct Finalized {
    /// The block.
    pub block: Block,
    /// Receipts in order.
    pub receipts: Vec<Receipt>,
}

/// A block executed on top of the head into staged state, not yet persisted (see
/// [`Chain::execute_proposal`], [`Chain::execute_block`] and [`Chain::commit_staged`]).
#[derive(Debug)]
pub struct StagedBlock {
    commit: BlockCommit,
}

impl StagedBlock {
    /// The block, its header carrying the roots its execution produced.
    pub fn block(&self) -> &Block {
        &self.commit.block
    }

    /// Its receipts, in transaction order.
    pub fn receipts(&self) -> &[Receipt] {
        &self.commit.receipts
    }

    /// The hash of its header.
    pub fn hash(&self) -> Hash32 {
        self.commit.block.header.hash()
    }
}

/// A verified gas estimate (see [`Chain::estimate_gas`]).
#[derive(Clone, Debug)]
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

/// Why no estimate exists.
#[derive(Debug, thiserror::Error)]
pub enum EstimateError {
    /// The transaction does not succeed even at the cap; the receipt says how it fails.
    #[error("the transaction does not succeed at the gas cap: {}", .0.status.name())]
    Fails(Box<Receipt>),
    /// The node failed.
    #[error(transparent)]
    Node(#[from] NodeError),
}

/// A committed block executed again (see [`Chain::replay_block`]).
#[derive(Clone, Debug)]
pub struct Replay {
    /// The stored block.
    pub block: Block,
    /// The receipts the replay produced, in order.
    pub receipts: Vec<Receipt>,
    /// The state root after the whole block (`None` when only a prefix was replayed).
    pub state_root: Option<Hash32>,
    /// The receipts root of the whole block (`None` when only a prefix was replayed).
    pub receipts_root: Option<Hash32>,
    /// What each transaction read (empty unless recorded).
    pub reads: std::collections::BTreeMap<u32, crate::state::TxReads>,
    /// The gas trace of the last transaction replayed, when asked for and it ran code.
    pub trace: Option<Trace>,
}

/// The head: last committed header and its hash.
#[derive(Clone, Debug)]
pub struct Head {
    /// Header.
    pub header: Header,
    /// Its hash.
    pub hash: Hash32,
}

/// One committed state, resolved once: a read-only execution or query runs entirely against it
/// and reports its height, whatever commits meanwhile.
#[derive(Clone, Debug)]
pub struct ReadState {
    view: CommittedView,
    height: u64,
    timestamp_ms: u64,
    /// Stops the executions that read this state once set (a read-only time limit).
    interrupt: Option<Interrupt>,
}

impl ReadState {
    /// The same state, whose executions ([`Chain::query`], [`Chain::trace_query`],
    /// [`Chain::simulate`], [`Chain::estimate_gas`]) stop once `interrupt` is set
    /// ([`opmeter_vm::VmError::Interrupted`]).
    pub fn with_interrupt(mut self, interrupt: Interrupt) -> ReadState {
        self.interrupt = Some(interrupt);
        self
    }

    /// The block whose state this is.
    pub fn height(&self) -> u64 {
        self.height
    }

    /// The state as the vm reads it.
    pub fn view(&self) -> &CommittedView {
        &self.view
    }

    /// The context a read-only execution sees: the block after this one, at this block's time.
    pub fn context(&self) -> BlockContext {
        BlockContext {
            height: self.height + 1,
            timestamp_ms: self.timestamp_ms,
        }
    }
}

/// The state machine over a [`Store`].
pub struct Chain {
    store: Arc<Store>,
    vm: Vm,
    genesis: Genesis,
    /// The genesis's validators (empty for a chain one node produces): what every block's
    /// `last_commit` is verified against.
    validators: Vec<ConsensusValidator>,
    min_gas_price: U256,
    head: Mutex<Head>,
    staged: Mutex<Option<BlockCommit>>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("chain_id", &self.genesis.chain_id)
            .field("head", &self.head.lock().header.height)
            .finish()
    }
}

impl Chain {
    /// Opens the chain in `store`. An empty store is initialised from `genesis` (block 0); a
    /// store that already holds a chain reopens it at its last committed block, and `genesis`
    /// (when given) must be the one it was created from. The vm runs the genesis's schedule
    /// (`Genesis::schedule_version`) for the chain's whole life.
    ///
    /// # Errors
    /// [`NodeError::Genesis`] on a genesis mismatch, an invalid document or a schedule this
    /// build does not know; store faults.
    pub fn open(store: Arc<Store>, genesis: Option<Genesis>) -> Result<Chain, NodeError> {
        let stored = store
            .genesis_json()?
            .map(|text| Genesis::from_json(&text).map_err(NodeError::Genesis))
            .transpose()?;
        let (genesis, fresh) = match (stored, genesis) {
            (Some(stored), Some(given)) if stored != given => {
                return Err(NodeError::Genesis(format!(
                    "the data directory holds chain `{}`, not the given genesis (chain `{}`)",
                    stored.chain_id, given.chain_id
                )))
            }
            (Some(stored), _) => (stored, false),
            (None, Some(given)) => (given, true),
            (None, None) => (Genesis::dev(), true),
        };
        let min_gas_price = genesis.min_gas_price().map_err(NodeError::Genesis)?;
        let validators = genesis.consensus_validators().map_err(NodeError::Genesis)?;
        let vm = Vm::new(genesis.schedule().map_err(NodeError::Genesis)?);
        let placeholder = Head {
            header: genesis_header(&genesis, Hash32::default(), vm.schedule_hash()),
            hash: Hash32::default(),
        };
        let chain = Chain {
            store,
            vm,
            genesis,
            validators,
            min_gas_price,
            head: Mutex::new(placeholder),
            staged: Mutex::new(None),
        };
        if fresh {
            chain.commit_genesis()?;
        }
        let height = chain
            .store
            .head_height()?
            .ok_or_else(|| NodeError::Genesis("store has a genesis but no head".into()))?;
        let header = chain.store.header(height)?.ok_or_else(|| {
            NodeError::Store(crate::store::StoreError::Corrupt(format!(
                "head {height} has no header"
            )))
        })?;
        if header.schedule_hash != chain.vm.schedule_hash() {
            return Err(NodeError::Genesis(format!(
                "head {height} names schedule 0x{}, the genesis's schedule v{} is 0x{}",
                hex::encode(header.schedule_hash),
                chain.genesis.schedule_version,
                hex::encode(chain.vm.schedule_hash())
            )));
        }
        *chain.head.lock() = Head {
            hash: header.hash(),
            header,
        };
        Ok(chain)
    }

    fn commit_genesis(&self) -> Result<(), NodeError> {
        let balances = self
            .genesis
            .initial_balances()
            .map_err(NodeError::Genesis)?;
        let mut changes = StateChanges::default();
        for (address, balance) in balances {
            changes.accounts.insert(
                address,
                Account {
                    balance,
                    nonce: 0,
                    code_hash: None,
                },
            );
        }
        let (state_root, tree_batch) = self.store.compute_root(&changes, 0)?;
        let header = genesis_header(&self.genesis, state_root, self.vm.schedule_hash());
        let commit = BlockCommit {
            block: Block {
                header,
                transactions: Vec::new(),
                last_commit: None,
            },
            receipts: Vec::new(),
            changes,
            tree_batch,
            mempool_removed: Vec::new(),
            certificate: None,
        };
        self.store.commit(&commit, Some(&self.genesis.to_json()))?;
        Ok(())
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The vm.
    pub fn vm(&self) -> &Vm {
        &self.vm
    }

    /// The genesis document.
    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    /// The last committed block's header and hash.
    pub fn head(&self) -> Head {
        self.head.lock().clone()
    }

    fn schedule(&self) -> &Schedule {
        self.vm.schedule()
    }

    /// The lowest gas price admission accepts.
    pub fn min_gas_price(&self) -> U256 {
        self.min_gas_price
    }

    /// `tx_base + tx_per_byte × len_bytes` (saturating: a huge result just fails the limit).
    pub fn intrinsic_gas(&self, len_bytes: u32) -> u64 {
        intrinsic_gas(self.schedule(), len_bytes)
    }

    /// Decodes a transaction and runs every check that needs no state: size, encoding, chain
    /// id, gas limits, gas price, signature (unless `signature_checked`), and for deployments the
    /// code's validation.
    ///
    /// # Errors
    /// The first [`AdmissionError`] found.
    pub fn check_stateless(
        &self,
        bytes: &[u8],
        signature_checked: bool,
    ) -> Result<CheckedTx, AdmissionError> {
        let len_bytes = self.check_len(bytes.len())?;
        let signed = SignedTransaction::decode(bytes)
            .map_err(|e| AdmissionError::Malformed(e.to_string()))?;
        let checked = self.check_decoded(signed, len_bytes)?;
        if !signature_checked {
            checked
                .signed
                .verify(&checked.hash)
                .map_err(|_| AdmissionError::BadSignature)?;
        }
        let payload = &checked.signed.tx.payload;
        if let Payload::Deploy { code, .. } = payload {
            self.vm
                .validate(code)
                .map_err(AdmissionError::InvalidCode)?;
        }
        if let Some(name) = payload.name() {
            Name::parse(name).map_err(|rule| AdmissionError::InvalidName {
                name: name.to_string(),
                rule,
            })?;
        }
        Ok(checked)
    }

    /// The encoded length as `u32`, or [`AdmissionError::TooLarge`] above `max_tx_len_bytes`.
    fn check_len(&self, len_bytes: usize) -> Result<u32, AdmissionError> {
        let max_bytes = self.schedule().limits.max_tx_len_bytes;
        match u32::try_from(len_bytes) {
            Ok(len) if len <= max_bytes => Ok(len),
            _ => Err(AdmissionError::TooLarge {
                len_bytes: len_bytes as u64,
                max_bytes,
            }),
        }
    }

    fn check_decoded(
        &self,
        signed: SignedTransaction,
        len_bytes: u32,
    ) -> Result<CheckedTx, AdmissionError> {
        let tx = &signed.tx;
        if tx.chain_id != self.genesis.chain_id {
            return Err(AdmissionError::WrongChainId {
                expected: self.genesis.chain_id.clone(),
                got: tx.chain_id.clone(),
            });
        }
        if tx.gas_limit > self.genesis.block_gas_limit {
            return Err(AdmissionError::GasLimitAboveBlockLimit {
                gas_limit: tx.gas_limit,
                block_gas_limit: self.genesis.block_gas_limit,
            });
        }
        let intrinsic_gas = self.intrinsic_gas(len_bytes);
        // A name payload's gas is fixed too: a limit below it could only fail.
        let fixed_gas = intrinsic_gas.saturating_add(payload_gas(self.schedule(), &tx.payload));
        if tx.gas_limit < fixed_gas {
            return Err(AdmissionError::GasLimitBelowIntrinsic {
                gas_limit: tx.gas_limit,
                intrinsic_gas: fixed_gas,
            });
        }
        if tx.gas_price < self.min_gas_price {
            return Err(AdmissionError::GasPriceTooLow {
                gas_price: tx.gas_price,
                min_gas_price: self.min_gas_price,
            });
        }
        let hash = signed.hash();
        let sender = signed.tx.sender();
        Ok(CheckedTx {
            signed,
            hash,
            sender,
            len_bytes,
            intrinsic_gas,
        })
    }

    /// Verifies many signatures in parallel (both cores), returning the indexes that fail.
    pub fn verify_signatures(&self, txs: &[CheckedTx]) -> Vec<usize> {
        txs.par_iter()
            .enumerate()
            .filter_map(|(i, tx)| tx.signed.verify(&tx.hash).err().map(|_| i))
            .collect()
    }

    /// An account as of the last committed block (default when absent): what `CheckTx` checks
    /// nonces and balances against.
    ///
    /// # Errors
    /// Store faults.
    pub fn committed_account(&self, address: &Address) -> Result<Account, NodeError> {
        Ok(self.store.account(address)?.unwrap_or_default())
    }

    /// ABCI `PrepareProposal`: the next block's proposal from candidate transactions (already in
    /// the order the mempool chose), bounded by the block's transaction and gas limits. The
    /// timestamp is taken here, once, and never later than strictly after the parent's.
    pub fn prepare_proposal(&self, candidates: Vec<CheckedTx>, now_ms: u64) -> Proposal {
        let head = self.head();
        let mut gas_total: u64 = 0;
        let mut transactions = Vec::new();
        // A sender whose transaction did not fit gets none of its later nonces in this block:
        // they would only fail with a nonce gap.
        let mut deferred: std::collections::BTreeSet<Address> = Default::default();
        for tx in candidates {
            if transactions.len() >= self.genesis.block_tx_max as usize {
                break;
            }
            if deferred.contains(&tx.sender) {
                continue;
            }
            match gas_total.checked_add(tx.signed.tx.gas_limit) {
                Some(total) if total <= self.genesis.block_gas_limit => {
                    gas_total = total;
                    transactions.push(tx.signed);
                }
                _ => {
                    deferred.insert(tx.sender);
                }
            }
        }
        Proposal {
            height: head.header.height.saturating_add(1),
            parent_hash: head.hash,
            timestamp_ms: now_ms.max(head.header.timestamp_ms.saturating_add(1)),
            transactions,
            last_commit: None,
        }
    }

    /// ABCI `ProcessProposal`: accepts a proposal only if it extends the head, carries the
    /// head's commit certificate exactly when one belongs (see [`Chain::check_last_commit`]),
    /// its time moves forward but not beyond `now_ms + MAX_CLOCK_DRIFT_MS`, it fits the block
    /// limits, no transaction is already committed or repeated, and every transaction passes
    /// the stateless checks. A transaction whose exact signed encoding `known_valid` vouches
    /// for (verified at admission) is not verified again.
    ///
    /// # Errors
    /// The reason for rejecting it.
    pub fn process_proposal(
        &self,
        proposal: &Proposal,
        now_ms: u64,
        known_valid: &(dyn Fn(&SignedTransaction) -> bool + Sync),
    ) -> Result<Vec<CheckedTx>, ProposalError> {
        let head = self.head();
        if proposal.height != head.header.height + 1 {
            return Err(ProposalError::WrongHeight {
                expected: head.header.height + 1,
                got: proposal.height,
            });
        }
        if proposal.parent_hash != head.hash {
            return Err(ProposalError::WrongParent);
        }
        self.check_last_commit(proposal)?;
        if proposal.timestamp_ms <= head.header.timestamp_ms {
            return Err(ProposalError::TimestampNotIncreasing {
                parent: head.header.timestamp_ms,
                got: proposal.timestamp_ms,
            });
        }
        if proposal.timestamp_ms > now_ms.saturating_add(MAX_CLOCK_DRIFT_MS) {
            return Err(ProposalError::TimestampInFuture {
                now: now_ms,
                got: proposal.timestamp_ms,
            });
        }
        let count = proposal.transactions.len();
        if count > self.genesis.block_tx_max as usize {
            return Err(ProposalError::TooManyTransactions {
                count: count as u64,
                max: self.genesis.block_tx_max,
            });
        }
        let total = proposal
            .transactions
            .iter()
            .try_fold(0u64, |acc, tx| acc.checked_add(tx.tx.gas_limit));
        match total {
            Some(total) if total <= self.genesis.block_gas_limit => {}
            _ => {
                return Err(ProposalError::GasAboveBlockLimit {
                    total: total.unwrap_or(u64::MAX),
                    limit: self.genesis.block_gas_limit,
                })
            }
        }
        let results: Vec<Result<CheckedTx, ProposalError>> = proposal
            .transactions
            .par_iter()
            .enumerate()
            .map(|(index, signed)| {
                let invalid = |error| ProposalError::InvalidTransaction {
                    index: index as u32,
                    error,
                };
                let len_bytes = self
                    .check_len(borsh::object_length(signed).unwrap_or(usize::MAX))
                    .map_err(invalid)?;
                let checked = self
                    .check_decoded(signed.clone(), len_bytes)
                    .map_err(invalid)?;
                if !known_valid(signed) {
                    checked
                        .signed
                        .verify(&checked.hash)
                        .map_err(|_| invalid(AdmissionError::BadSignature))?;
                }
                Ok(checked)
            })
            .collect();
        // The first failure in block order, whatever order the threads finished in.
        let checked: Vec<CheckedTx> = results.into_iter().collect::<Result<_, _>>()?;
        let mut seen = std::collections::BTreeSet::new();
        for (index, tx) in checked.iter().enumerate() {
            if !seen.insert(tx.hash) {
                return Err(ProposalError::DuplicateTransaction {
                    index: index as u32,
                });
            }
            let committed = self.store.tx_location(&tx.hash).map_err(|e| {
                ProposalError::Unavailable(format!("reading the transaction index: {e}"))
            })?;
            if committed.is_some() {
                return Err(ProposalError::AlreadyCommitted {
                    index: index as u32,
                });
            }
        }
        Ok(checked)
    }

    /// The commit certificate a proposal carries, checked against the genesis alone: on a
    /// replicated chain (the genesis lists validators) every block from height 2 on carries a
    /// certificate that decides its parent (`CommitCertificate::verify_at`: the genesis's
    /// validators, the chain id, height `h - 1`, the parent's hash); block 1 and every block of
    /// a chain one node produces carry none.
    ///
    /// # Errors
    /// [`ProposalError::MissingLastCommit`], [`ProposalError::UnexpectedLastCommit`] or
    /// [`ProposalError::InvalidLastCommit`].
    pub fn check_last_commit(&self, proposal: &Proposal) -> Result<(), ProposalError> {
        let height = proposal.height;
        let required = !self.validators.is_empty() && height >= 2;
        match (&proposal.last_commit, required) {
            (None, false) => Ok(()),
            (Some(_), false) => Err(ProposalError::UnexpectedLastCommit { height }),
            (None, true) => Err(ProposalError::MissingLastCommit { height }),
            (Some(certificate), true) => certificate
                .verify_at(
                    &self.genesis.chain_id,
                    &self.validators,
                    height - 1,
                    &proposal.parent_hash,
                )
                .map_err(ProposalError::InvalidLastCommit),
        }
    }

    /// ABCI `FinalizeBlock`: executes an accepted proposal into a staged overlay and returns the
    /// block with its state, transactions and receipts roots. Nothing is persisted until
    /// [`Chain::commit`].
    ///
    /// # Errors
    /// Node faults only (a failing transaction is a receipt).
    pub fn finalize_block(
        &self,
        proposal: &Proposal,
        checked: &[CheckedTx],
        mempool_removed: Vec<Hash32>,
    ) -> Result<Finalized, NodeError> {
        let staged = self.execute_proposal(proposal, checked, mempool_removed)?;
        let finalized = Finalized {
            block: staged.commit.block.clone(),
            receipts: staged.commit.receipts.clone(),
        };
        *self.staged.lock() = Some(staged.commit);
        Ok(finalized)
    }

    /// `FinalizeBlock` without the single staging slot: executes an accepted proposal into a
    /// [`StagedBlock`] the caller keeps (consensus may execute several values for one height,
    /// one per round, and commits only the decided one with [`Chain::commit_staged`]).
    ///
    /// # Errors
    /// Node faults only (a failing transaction is a receipt).
    pub fn execute_proposal(
        &self,
        proposal: &Proposal,
        checked: &[CheckedTx],
        mempool_removed: Vec<Hash32>,
    ) -> Result<StagedBlock, NodeError> {
        let base = CommittedView::new(Arc::clone(&self.store), Version::Head);
        let overlay = Arc::new(Overlay::new(base));
        let context = BlockContext {
            height: proposal.height,
            timestamp_ms: proposal.timestamp_ms,
        };
        let mut receipts = Vec::with_capacity(checked.len());
        let mut gas_used: u64 = 0;
        for (index, tx) in checked.iter().enumerate() {
            let receipt = self.execute_tx(&overlay, context, index as u32, tx, false)?;
            gas_used = gas_used
                .checked_add(receipt.gas_used)
                .ok_or_else(|| NodeError::Invariant("block gas overflows u64".into()))?;
            receipts.push(receipt);
        }
        let overlay = Arc::try_unwrap(overlay)
            .map_err(|_| NodeError::Invariant("the vm kept a reference to the overlay".into()))?;
        let changes = overlay.into_changes();
        let (state_root, tree_batch) = self.store.compute_root(&changes, proposal.height)?;
        let header = Header {
            chain_id: self.genesis.chain_id.clone(),
            height: proposal.height,
            parent_hash: proposal.parent_hash,
            last_commit_hash: last_commit_hash(proposal.last_commit.as_ref()),
            timestamp_ms: proposal.timestamp_ms,
            state_root,
            transactions_root: merkle_root(
                proposal
                    .transactions
                    .iter()
                    .map(|tx| Hash32(*blake3::hash(&tx.encode()).as_bytes())),
            ),
            receipts_root: merkle_root(receipts.iter().map(Receipt::hash)),
            gas_used,
            tx_count: checked.len() as u32,
            schedule_hash: self.vm.schedule_hash(),
        };
        let block = Block {
            header,
            transactions: proposal.transactions.clone(),
            last_commit: proposal.last_commit.clone(),
        };
        Ok(StagedBlock {
            commit: BlockCommit {
                block,
                receipts,
                changes,
                tree_batch,
                mempool_removed,
                certificate: None,
            },
        })
    }

    /// ABCI `Commit`: persists the finalized block in one atomic write and moves the head.
    ///
    /// # Errors
    /// [`NodeError::NothingToCommit`] without a finalized block; store faults (then nothing was
    /// written and the staged block is dropped).
    pub fn commit(&self) -> Result<Head, NodeError> {
        let staged = self
            .staged
            .lock()
            .take()
            .ok_or(NodeError::NothingToCommit)?;
        self.store.commit(&staged, None)?;
        let header = staged.block.header;
        let head = Head {
            hash: header.hash(),
            header,
        };
        *self.head.lock() = head.clone();
        Ok(head)
    }

    /// Imports a block produced elsewhere: process, finalize, compare every root with the
    /// block's header, commit.
    ///
    /// # Errors
    /// [`NodeError::Proposal`] when the block is invalid, [`NodeError::HeaderMismatch`] when
    /// executing it gives another header.
    pub fn import_block(&self, block: &Block, now_ms: u64) -> Result<Vec<Receipt>, NodeError> {
        let staged = self.execute_block(block, now_ms, &|_| false)?;
        let receipts = staged.receipts().to_vec();
        self.commit_staged(staged, None)?;
        Ok(receipts)
    }

    /// Executes a block produced elsewhere on top of the head — process (the parent's commit
    /// certificate included), then finalize — and compares every root with the block's header:
    /// a peer's roots are never trusted without executing. One path for a proposal and a
    /// synced block. Nothing is persisted; commit the result with [`Chain::commit_staged`].
    ///
    /// # Errors
    /// [`NodeError::Proposal`] when the block is invalid (among others
    /// [`ProposalError::LastCommitHashMismatch`] when its header's `last_commit_hash` is not the
    /// hash of the certificate it carries), [`NodeError::HeaderMismatch`] when executing it
    /// gives another header.
    pub fn execute_block(
        &self,
        block: &Block,
        now_ms: u64,
        known_valid: &(dyn Fn(&SignedTransaction) -> bool + Sync),
    ) -> Result<StagedBlock, NodeError> {
        let proposal = Proposal {
            height: block.header.height,
            parent_hash: block.header.parent_hash,
            timestamp_ms: block.header.timestamp_ms,
            transactions: block.transactions.clone(),
            last_commit: block.last_commit.clone(),
        };
        let checked = self.process_proposal(&proposal, now_ms, known_valid)?;
        let carried = last_commit_hash(block.last_commit.as_ref());
        if block.header.last_commit_hash != carried {
            return Err(ProposalError::LastCommitHashMismatch {
                expected: carried,
                got: block.header.last_commit_hash,
            }
            .into());
        }
        let included = checked.iter().map(|tx| tx.hash).collect();
        let staged = self.execute_proposal(&proposal, &checked, included)?;
        let ours = &staged.commit.block.header;
        let theirs = &block.header;
        let field = if ours.state_root != theirs.state_root {
            Some("state root")
        } else if ours.receipts_root != theirs.receipts_root {
            Some("receipts root")
        } else if ours.transactions_root != theirs.transactions_root {
            Some("transactions root")
        } else if ours != theirs {
            Some("header")
        } else {
            None
        };
        match field {
            Some(field) => Err(NodeError::HeaderMismatch {
                height: block.header.height,
                field,
            }),
            None => Ok(staged),
        }
    }

    /// Persists a staged block in one atomic write (with the certificate that decided it, when
    /// consensus did) and moves the head. The block must extend the current head.
    ///
    /// # Errors
    /// [`NodeError::Invariant`] when the block does not extend the head; store faults (then
    /// nothing was written).
    pub fn commit_staged(
        &self,
        mut staged: StagedBlock,
        certificate: Option<Vec<u8>>,
    ) -> Result<Head, NodeError> {
        let mut head = self.head.lock();
        let header = &staged.commit.block.header;
        if header.parent_hash != head.hash || header.height != head.header.height + 1 {
            return Err(NodeError::Invariant(format!(
                "block {} does not extend the head {}",
                header.height, head.header.height
            )));
        }
        staged.commit.certificate = certificate;
        self.store.commit(&staged.commit, None)?;
        let header = staged.commit.block.header;
        *head = Head {
            hash: header.hash(),
            header,
        };
        Ok(head.clone())
    }

    fn execute_tx(
        &self,
        overlay: &Arc<Overlay>,
        context: BlockContext,
        index: u32,
        checked: &CheckedTx,
        simulated: bool,
    ) -> Result<Receipt, NodeError> {
        Ok(self
            .execute_traced(overlay, context, index, checked, simulated, None)?
            .receipt)
    }

    fn execute_traced(
        &self,
        overlay: &Arc<Overlay>,
        context: BlockContext,
        index: u32,
        checked: &CheckedTx,
        simulated: bool,
        trace: Option<&TraceOptions>,
    ) -> Result<Executed, NodeError> {
        self.execute_on(&self.vm, overlay, context, index, checked, simulated, trace)
    }

    /// [`Chain::execute_traced`] on `vm` (a read-only execution's interruptible vm).
    #[allow(clippy::too_many_arguments)]
    fn execute_on(
        &self,
        vm: &Vm,
        overlay: &Arc<Overlay>,
        context: BlockContext,
        index: u32,
        checked: &CheckedTx,
        simulated: bool,
        trace: Option<&TraceOptions>,
    ) -> Result<Executed, NodeError> {
        let env = TxEnv {
            vm,
            block: context,
            index,
            fee_collector: self.genesis.fee_collector,
            trace,
        };
        let executed = execute_transaction(env, overlay, checked.input())?;
        // Compile now, while the deployer pays, so the first call finds it warm.
        if let (Some(prepared), false) = (&executed.deployed, simulated) {
            self.vm.precompile(prepared)?;
        }
        Ok(executed)
    }

    /// Re-executes committed block `height` from stored data: the state after `height - 1`, then
    /// its transactions in order (the first `upto + 1` when given), with the same state
    /// transition that produced it. Nothing is written and no cache is warmed for the chain.
    /// With `record`, the overlay notes what each transaction read and from where (for bundles);
    /// with `trace`, the last transaction replayed is traced.
    ///
    /// # Errors
    /// [`NodeError::Invariant`] for block 0 or a block this node does not hold; node faults.
    pub fn replay_block(
        &self,
        height: u64,
        upto: Option<u32>,
        record: bool,
        trace: Option<&TraceOptions>,
    ) -> Result<Replay, NodeError> {
        let parent = height
            .checked_sub(1)
            .ok_or_else(|| NodeError::Invariant("block 0 has no transactions to replay".into()))?;
        let block = self
            .store
            .block(height)?
            .ok_or_else(|| NodeError::Invariant(format!("block {height} is not stored")))?;
        let base = CommittedView::new(Arc::clone(&self.store), Version::At(parent));
        let overlay = Arc::new(if record {
            Overlay::recording(base)
        } else {
            Overlay::new(base)
        });
        let context = BlockContext {
            height,
            timestamp_ms: block.header.timestamp_ms,
        };
        let count = match upto {
            Some(index) => (index as usize + 1).min(block.transactions.len()),
            None => block.transactions.len(),
        };
        let mut receipts = Vec::with_capacity(count);
        let mut last_trace = None;
        for (index, signed) in block.transactions.iter().take(count).enumerate() {
            let checked = self.recheck(signed);
            overlay.begin_tx(index as u32);
            let traced = trace.filter(|_| index + 1 == count);
            let executed =
                self.execute_traced(&overlay, context, index as u32, &checked, true, traced)?;
            receipts.push(executed.receipt);
            last_trace = executed.trace;
        }
        let reads = overlay.reads();
        let overlay = Arc::try_unwrap(overlay)
            .map_err(|_| NodeError::Invariant("the vm kept a reference to the overlay".into()))?;
        let complete = count == block.transactions.len();
        let state_root = if complete {
            Some(self.store.compute_root(&overlay.into_changes(), height)?.0)
        } else {
            None
        };
        Ok(Replay {
            receipts_root: complete.then(|| merkle_root(receipts.iter().map(Receipt::hash))),
            receipts,
            state_root,
            block,
            reads,
            trace: last_trace,
        })
    }

    /// A committed transaction as the block executor saw it (no admission checks: the block was
    /// accepted when it was committed).
    fn recheck(&self, signed: &SignedTransaction) -> CheckedTx {
        let len_bytes = u32::try_from(signed.encode().len()).unwrap_or(u32::MAX);
        CheckedTx {
            hash: signed.hash(),
            sender: signed.tx.sender(),
            len_bytes,
            intrinsic_gas: self.intrinsic_gas(len_bytes),
            signed: signed.clone(),
        }
    }

    /// Compiles every member of the head state's warm set into the vm's module cache (schedule
    /// v2): after a restart, the codes the chain bills as warm are warm again before calls
    /// arrive. Gas never depends on it (members pay the warm price either way); it only saves
    /// the first calls' compile time. Returns how many codes it compiled; a code that no longer
    /// prepares is skipped (its calls fail the same way with or without this).
    ///
    /// # Errors
    /// Store faults.
    pub fn precompile_warm_set(&self) -> Result<u32, NodeError> {
        if self.vm.schedule().code_loading.is_none() {
            return Ok(0);
        }
        let Some(state) = self.read_state(None)? else {
            return Ok(0);
        };
        let corrupt = |e: opmeter_vm::StateError| {
            NodeError::Store(crate::store::StoreError::Corrupt(e.to_string()))
        };
        let members = opmeter_vm::warm_set::members(&state.view).map_err(corrupt)?;
        let mut compiled = 0u32;
        // Blocks run on the plain engine, read-only calls on the interruptible one: fill both.
        let read_vm = self.vm.with_interrupt(opmeter_vm::Interrupt::new());
        for code_hash in members {
            let Some(code) =
                opmeter_vm::StateView::code(&state.view, &code_hash).map_err(corrupt)?
            else {
                continue;
            };
            let Ok(prepared) = self.vm.prepare(&code) else {
                continue;
            };
            if self.vm.precompile(&prepared).is_ok() && read_vm.precompile(&prepared).is_ok() {
                compiled += 1;
            }
        }
        Ok(compiled)
    }

    /// The committed state of block `height`, or of the head (a snapshot) when `None`; `None`
    /// when `height` is above the head.
    ///
    /// # Errors
    /// Store faults.
    pub fn read_state(&self, height: Option<u64>) -> Result<Option<ReadState>, NodeError> {
        let (version, height) = match height {
            None => {
                let snapshot = self.store.snapshot()?;
                let height = snapshot.height();
                (Version::Snapshot(Arc::new(snapshot)), height)
            }
            Some(h) if h <= self.head().header.height => (Version::At(h), h),
            Some(_) => return Ok(None),
        };
        let header = self.store.header(height)?.ok_or_else(|| {
            NodeError::Store(crate::store::StoreError::Corrupt(format!(
                "committed block {height} has no header"
            )))
        })?;
        Ok(Some(ReadState {
            view: CommittedView::new(Arc::clone(&self.store), version),
            height,
            timestamp_ms: header.timestamp_ms,
            interrupt: None,
        }))
    }

    /// Runs a call read-only against `state`, in the context of the block after it. Nothing is
    /// written.
    ///
    /// # Errors
    /// Node faults only.
    pub fn query(&self, state: &ReadState, call: CallRequest) -> Result<Outcome, NodeError> {
        Ok(self
            .read_vm(state)
            .execute(Arc::new(state.view.clone()), state.context(), call)?)
    }

    /// The vm a read-only execution against `state` runs on: interruptible when the state
    /// carries an interrupt. Never used for blocks.
    fn read_vm(&self, state: &ReadState) -> Vm {
        match &state.interrupt {
            Some(interrupt) => self.vm.with_interrupt(interrupt.clone()),
            None => self.vm.clone(),
        }
    }

    /// [`Chain::query`] with a gas trace of the execution.
    ///
    /// # Errors
    /// Node faults only.
    pub fn trace_query(
        &self,
        state: &ReadState,
        call: CallRequest,
        options: &TraceOptions,
    ) -> Result<(Outcome, Trace), NodeError> {
        Ok(self.read_vm(state).execute_traced(
            Arc::new(state.view.clone()),
            state.context(),
            call,
            options,
        )?)
    }

    /// Executes `payload` from `sender` as the next transaction after `state` would, with
    /// `gas_limit` (intrinsic gas included) and gas price 0, against a throw-away overlay. The
    /// signature is not checked; the nonce is the sender's next. Nothing is written.
    ///
    /// # Errors
    /// Node faults only (a failing transaction is a receipt).
    pub fn simulate(
        &self,
        state: &ReadState,
        sender: Address,
        payload: Payload,
        gas_limit: u64,
    ) -> Result<Receipt, NodeError> {
        let base = state.view.clone();
        let nonce = base.account(&sender)?.unwrap_or_default().nonce;
        let signed = SignedTransaction {
            tx: Transaction {
                chain_id: self.genesis.chain_id.clone(),
                public_key: [0; 32],
                nonce,
                gas_limit,
                gas_price: U256::zero(),
                payload,
            },
            signature: [0; 64],
        };
        // The encoded length (hence intrinsic gas) does not depend on the key, nonce or limit:
        // they are fixed-width.
        let len_bytes = u32::try_from(signed.encode().len()).unwrap_or(u32::MAX);
        let checked = CheckedTx {
            hash: signed.hash(),
            sender,
            len_bytes,
            intrinsic_gas: self.intrinsic_gas(len_bytes),
            signed,
        };
        let overlay = Arc::new(Overlay::new(base));
        let vm = self.read_vm(state);
        Ok(self
            .execute_on(&vm, &overlay, state.context(), 0, &checked, true, None)?
            .receipt)
    }

    /// The smallest gas limit (at most `gas_cap`) at which `payload` from `sender` succeeds
    /// against `state` (every execution sees it), found by executing at `gas_cap`, then at the gas that used, then by
    /// bisection when nested calls need more than they use; the returned receipt is the
    /// execution at exactly the returned limit. Also returns the number of executions and the
    /// gas they burned in total.
    ///
    /// # Errors
    /// [`EstimateError::Fails`] with the receipt at `gas_cap` when it does not succeed there;
    /// node faults.
    pub fn estimate_gas(
        &self,
        state: &ReadState,
        sender: Address,
        payload: &Payload,
        gas_cap: u64,
    ) -> Result<Estimate, EstimateError> {
        let mut executions = 0u32;
        let mut burned = 0u64;
        let mut run = |limit: u64| -> Result<Receipt, NodeError> {
            let receipt = self.simulate(state, sender, payload.clone(), limit)?;
            executions += 1;
            burned = burned.saturating_add(receipt.gas_used);
            Ok(receipt)
        };
        let at_cap = run(gas_cap)?;
        if at_cap.status != ReceiptStatus::Success {
            return Err(EstimateError::Fails(Box::new(at_cap)));
        }
        let mut low = at_cap.gas_used;
        let mut receipt = run(low)?;
        if receipt.status != ReceiptStatus::Success {
            // More gas is needed than used (a callee reserved more than it spent): bisect for the
            // smallest succeeding limit in (low, gas_cap].
            let (mut fail, mut ok, mut ok_receipt) = (low, gas_cap, at_cap);
            while ok - fail > 1 {
                let mid = fail + (ok - fail) / 2;
                let attempt = run(mid)?;
                if attempt.status == ReceiptStatus::Success {
                    (ok, ok_receipt) = (mid, attempt);
                } else {
                    fail = mid;
                }
            }
            low = ok;
            receipt = ok_receipt;
            if receipt.gas_limit != low {
                receipt = run(low)?;
            }
        }
        Ok(Estimate {
            gas_limit: low,
            receipt,
            executions,
            gas_burned: burned,
        })
    }
}

fn genesis_header(genesis: &Genesis, state_root: Hash32, schedule_hash: [u8; 32]) -> Header {
    Header {
        chain_id: genesis.chain_id.clone(),
        height: 0,
        parent_hash: Hash32::default(),
        last_commit_hash: Hash32::default(),
        timestamp_ms: genesis.timestamp_ms,
        state_root,
        transactions_root: merkle_root([]),
        receipts_root: merkle_root([]),
        gas_used: 0,
        tx_count: 0,
        schedule_hash,
    }
}
