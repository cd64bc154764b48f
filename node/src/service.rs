//! The running node: admission into the mempool, a block producer that drives the chain's
//! phases (instant or interval mode), and notifications of committed blocks.
//!
//! ```text
//! submit(bytes) ─▶ check_stateless ─▶ mempool.check ─▶ persist (mempool CF) ─▶ ack (tx hash)
//! producer ─▶ candidates ─▶ prepare_proposal ─▶ process_proposal ─▶ finalize_block ─▶ commit
//!                                                                       └─▶ notify subscribers
//! ```

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::{Condvar, Mutex};
use rayon::prelude::*;
use tokio::sync::broadcast;

use opmeter_ledger::admission::AdmissionError;
use opmeter_ledger::block::{Block, CommittedBlock, Receipt};
use opmeter_ledger::consensus::CommitCertificate;
use opmeter_ledger::encoding::Hash32;
use opmeter_ledger::tx::SignedTransaction;

use crate::chain::{Chain, CheckedTx, Head, StagedBlock};
use crate::error::{NodeError, SubmitError};
use crate::genesis::Genesis;
use crate::mempool::{Mempool, MempoolConfig};
use crate::store::{LatestState, Store};

/// When blocks are produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockMode {
    /// A block as soon as transactions are pending (development).
    Instant,
    /// A block every interval, empty or not.
    Interval(Duration),
    /// Only when [`Node::produce_block`] is called (tests, benchmarks, block import).
    Manual,
}

/// How to run a node.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// Where RocksDB keeps the chain.
    pub data_dir: PathBuf,
    /// The genesis for a new chain (`None`: the development genesis, or the stored one).
    pub genesis: Option<Genesis>,
    /// Block production.
    pub mode: BlockMode,
    /// Wait for the disk on every block commit.
    pub sync_writes: bool,
    /// Mempool limits.
    pub mempool: MempoolConfig,
}

impl NodeConfig {
    /// A development configuration under `data_dir`.
    pub fn dev(data_dir: impl Into<PathBuf>) -> NodeConfig {
        NodeConfig {
            data_dir: data_dir.into(),
            genesis: None,
            mode: BlockMode::Instant,
            sync_writes: true,
            mempool: MempoolConfig::default(),
        }
    }
}

/// A running node. Share it as `Arc<Node>`.
pub struct Node {
    chain: Chain,
    mempool: Mutex<Mempool>,
    pending: Condvar,
    /// Serialises block production (one producer at a time).
    producing: Mutex<()>,
    blocks: broadcast::Sender<Arc<CommittedBlock>>,
    admitted: broadcast::Sender<Arc<Vec<u8>>>,
    stopping: AtomicBool,
    /// Blocks this node produced since it started (for the metrics page).
    produced: Mutex<ProducedBlocks>,
}

/// Blocks a node produced since it started: how long each took, their transactions and gas.
#[derive(Clone, Debug, Default)]
pub struct ProducedBlocks {
    /// Time from taking the candidates to the commit, per block.
    pub seconds: opmeter_rpc::metrics::Histogram,
    /// Transactions in them.
    pub transactions: u64,
    /// Gas they used.
    pub gas: u64,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node").field("chain", &self.chain).finish()
    }
}

impl Node {
    /// Opens (or creates) the chain under `config.data_dir` and re-admits the transactions that
    /// were pending when the node last stopped. Does not start producing blocks: see
    /// [`Node::start`].
    ///
    /// # Errors
    /// Store faults, a genesis mismatch.
    pub fn open(config: &NodeConfig) -> Result<Arc<Node>, NodeError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            NodeError::Store(crate::store::StoreError::Corrupt(format!(
                "cannot create {}: {e}",
                config.data_dir.display()
            )))
        })?;
        let store = Arc::new(Store::open(&config.data_dir, config.sync_writes)?);
        let chain = Chain::open(store, config.genesis.clone())?;
        let (blocks, _) = broadcast::channel(1024);
        let (admitted, _) = broadcast::channel(65_536);
        let node = Arc::new(Node {
            chain,
            mempool: Mutex::new(Mempool::new(config.mempool)),
            pending: Condvar::new(),
            producing: Mutex::new(()),
            blocks,
            admitted,
            stopping: AtomicBool::new(false),
            produced: Mutex::new(ProducedBlocks::default()),
        });
        node.readmit_persisted()?;
        Ok(node)
    }

    fn readmit_persisted(&self) -> Result<(), NodeError> {
        let persisted = self.chain.store().mempool_all()?;
        let mut dropped = Vec::new();
        for bytes in persisted {
            let hash = SignedTransaction::decode(&bytes).map(|t| t.hash()).ok();
            let checked = self.chain.check_stateless(&bytes, false);
            match self.admit_all(vec![checked], false).remove(0) {
                Ok(_) => {}
                Err(SubmitError::Rejected(_)) => dropped.extend(hash),
                Err(SubmitError::Node(e)) => return Err(e),
            }
        }
        self.chain.store().mempool_delete(&dropped)?;
        Ok(())
    }

    /// The state machine.
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// The last committed block.
    pub fn head(&self) -> Head {
        self.chain.head()
    }

    /// The pending transaction with `hash`.
    pub fn pending_tx(&self, hash: &Hash32) -> Option<SignedTransaction> {
        self.mempool.lock().get(hash).map(|tx| tx.signed.clone())
    }

    /// `address`'s next nonce counting its pending transactions: what its next transaction
    /// should carry.
    pub fn pending_nonce(&self, address: &opmeter_vm::Address) -> u64 {
        // Under the pool's lock: a commit and the pool's clean-up are one step for it.
        let mempool = self.mempool.lock();
        let committed = self.committed_nonce(address);
        mempool.next_nonce(address, committed)
    }

    /// Blocks this node produced since it started.
    pub fn produced(&self) -> ProducedBlocks {
        self.produced.lock().clone()
    }

    /// Pending transactions.
    pub fn mempool_len(&self) -> usize {
        self.mempool.lock().len()
    }

    /// Admits one signed transaction. `Ok` means it is pending and persisted (synced to disk
    /// when `sync_writes`): it survives a crash of the node and will be included in a block.
    ///
    /// # Errors
    /// [`SubmitError::Rejected`] with the admission error (nothing stored), or a node fault.
    pub fn submit(&self, bytes: &[u8]) -> Result<Hash32, SubmitError> {
        let checked = self.chain.check_stateless(bytes, false);
        self.admit_all(vec![checked], true).remove(0)
    }

    /// Admits many transactions, verifying their signatures on every core and persisting the
    /// admitted ones in one write. One result per input, in order.
    pub fn submit_batch(&self, txs: &[Vec<u8>]) -> Vec<Result<Hash32, SubmitError>> {
        let checked: Vec<Result<CheckedTx, AdmissionError>> = txs
            .par_iter()
            .map(|bytes| self.chain.check_stateless(bytes, false))
            .collect();
        self.admit_all(checked, true)
    }

    /// The pool-aware checks and the insertion, under the mempool lock (so that neither another
    /// admission nor a block commit can change the account between check and insert); then one
    /// persisting write for everything admitted, before anything is acknowledged.
    fn admit_all(
        &self,
        checked: Vec<Result<CheckedTx, AdmissionError>>,
        persist: bool,
    ) -> Vec<Result<Hash32, SubmitError>> {
        let mut mempool = self.mempool.lock();
        let mut results = Vec::with_capacity(checked.len());
        let mut admitted: Vec<(Hash32, Vec<u8>)> = Vec::new();
        for item in checked {
            let result = item.map_err(SubmitError::from).and_then(|tx| {
                if self.chain.store().tx_location(&tx.hash)?.is_some() {
                    return Err(AdmissionError::AlreadyKnown.into());
                }
                let account = self.chain.committed_account(&tx.sender)?;
                let max_cost = mempool.check(&tx, &account)?;
                let hash = tx.hash;
                if persist {
                    let encoded = tx.signed.encode();
                    if self.admitted.receiver_count() > 0 {
                        let _ = self.admitted.send(Arc::new(encoded.clone()));
                    }
                    admitted.push((hash, encoded));
                }
                mempool.insert(tx, max_cost);
                Ok(hash)
            });
            results.push(result);
        }
        if !admitted.is_empty() {
            if let Err(e) = self.chain.store().mempool_put(&admitted) {
                // Nothing was acknowledged: take the batch back out and report the fault.
                let hashes: Vec<Hash32> = admitted.iter().map(|(h, _)| *h).collect();
                mempool.remove_all(&hashes);
                let message = e.to_string();
                return results
                    .into_iter()
                    .map(|r| {
                        r.and_then(|_| {
                            Err(SubmitError::Node(NodeError::Store(
                                crate::store::StoreError::Corrupt(message.clone()),
                            )))
                        })
                    })
                    .collect();
            }
        }
        drop(mempool);
        self.pending.notify_all();
        results
    }

    /// Produces, executes and commits one block from the pending transactions, with the time
    /// taken once here. In instant and manual mode nothing happens when nothing is pending
    /// unless `allow_empty`.
    ///
    /// # Errors
    /// Node faults (then nothing was committed and the transactions stay pending).
    pub fn produce_block(
        &self,
        allow_empty: bool,
    ) -> Result<Option<Arc<CommittedBlock>>, NodeError> {
        let _producing = self.producing.lock();
        let started = std::time::Instant::now();
        let Some(staged) = self.build_block(now_ms(), allow_empty, None)? else {
            return Ok(None);
        };
        let committed = self.commit_locked(staged, None)?;
        self.produced.lock().seconds.observe(started.elapsed());
        Ok(Some(committed))
    }

    /// Builds the next block from the pending transactions — `PrepareProposal`, then
    /// `ProcessProposal` and `FinalizeBlock` — without committing it: what a validator proposes.
    /// The block carries `last_commit`, the commit certificate of the head the proposer holds
    /// (`None` on a chain one node produces and for block 1), and its header that
    /// certificate's hash. `None` when nothing is pending and not `allow_empty`.
    ///
    /// # Errors
    /// [`NodeError::Proposal`] when `last_commit` is not what the block must carry
    /// ([`Chain::check_last_commit`]); node faults.
    pub fn propose_block(
        &self,
        now_ms: u64,
        allow_empty: bool,
        last_commit: Option<CommitCertificate>,
    ) -> Result<Option<StagedBlock>, NodeError> {
        let _producing = self.producing.lock();
        self.build_block(now_ms, allow_empty, last_commit)
    }

    fn build_block(
        &self,
        now: u64,
        allow_empty: bool,
        last_commit: Option<CommitCertificate>,
    ) -> Result<Option<StagedBlock>, NodeError> {
        let max = self.chain.genesis().block_tx_max as usize;
        let next_nonce = |address: &opmeter_vm::Address| self.committed_nonce(address);
        let candidates = self.mempool.lock().candidates(next_nonce, max);
        if candidates.is_empty() && !allow_empty {
            return Ok(None);
        }
        let verified: HashMap<Hash32, [u8; 64]> = candidates
            .iter()
            .map(|tx| (tx.hash, tx.signed.signature))
            .collect();
        let mut proposal = self.chain.prepare_proposal(candidates, now);
        proposal.last_commit = last_commit;
        let checked = self.chain.process_proposal(&proposal, now, &|signed| {
            verified.get(&signed.hash()) == Some(&signed.signature)
        })?;
        let included: Vec<Hash32> = checked.iter().map(|tx| tx.hash).collect();
        Ok(Some(
            self.chain.execute_proposal(&proposal, &checked, included)?,
        ))
    }

    /// Executes a block proposed by another node on top of the head and checks that it
    /// re-executes to the roots its header claims (`ProcessProposal` + `FinalizeBlock` +
    /// comparison), without committing it. Signatures the mempool already verified are not
    /// verified again.
    ///
    /// # Errors
    /// [`NodeError::Proposal`] or [`NodeError::HeaderMismatch`] for an invalid block; node faults.
    pub fn validate_block(&self, block: &Block) -> Result<StagedBlock, NodeError> {
        let _producing = self.producing.lock();
        let verified: HashMap<Hash32, [u8; 64]> = {
            let mempool = self.mempool.lock();
            block
                .transactions
                .iter()
                .filter_map(|tx| {
                    let hash = tx.hash();
                    mempool
                        .get(&hash)
                        .map(|known| (hash, known.signed.signature))
                })
                .collect()
        };
        self.chain.execute_block(block, now_ms(), &|signed| {
            verified.get(&signed.hash()) == Some(&signed.signature)
        })
    }

    /// Commits a staged block (with the certificate that decided it, on a replicated chain):
    /// one atomic write, then the mempool drops what the block included or made stale, and
    /// subscribers hear of the block.
    ///
    /// # Errors
    /// [`NodeError::Invariant`] when the block does not extend the head; node faults.
    pub fn commit_block(
        &self,
        staged: StagedBlock,
        certificate: Option<Vec<u8>>,
    ) -> Result<Arc<CommittedBlock>, NodeError> {
        let _producing = self.producing.lock();
        self.commit_locked(staged, certificate)
    }

    fn commit_locked(
        &self,
        staged: StagedBlock,
        certificate: Option<Vec<u8>>,
    ) -> Result<Arc<CommittedBlock>, NodeError> {
        let next_nonce = |address: &opmeter_vm::Address| self.committed_nonce(address);
        let included: Vec<Hash32> = staged.receipts().iter().map(|r| r.tx_hash).collect();
        let block = staged.block().clone();
        let receipts = staged.receipts().to_vec();
        let mut mempool = self.mempool.lock();
        self.chain.commit_staged(staged, certificate)?;
        let stale = mempool.remove_committed(&included, next_nonce);
        drop(mempool);
        let stale: Vec<Hash32> = stale
            .into_iter()
            .filter(|h| !included.contains(h))
            .collect();
        if !stale.is_empty() {
            self.chain.store().mempool_delete(&stale)?;
        }
        let committed = Arc::new(CommittedBlock { block, receipts });
        {
            let header = &committed.block.header;
            let mut produced = self.produced.lock();
            produced.transactions += u64::from(header.tx_count);
            produced.gas = produced.gas.saturating_add(header.gas_used);
        }
        let _ = self.blocks.send(Arc::clone(&committed));
        tracing::info!(
            height = committed.block.header.height,
            txs = committed.block.header.tx_count,
            gas = committed.block.header.gas_used,
            "committed block"
        );
        Ok(committed)
    }

    /// Imports a block produced by another node (process → finalize → compare → commit).
    ///
    /// # Errors
    /// An invalid block or a header that does not match execution; node faults.
    pub fn import_block(&self, block: &Block) -> Result<Vec<Receipt>, NodeError> {
        let staged = self.validate_block(block)?;
        Ok(self.commit_block(staged, None)?.receipts.clone())
    }

    /// The transactions this node admitted from clients, in admission order (encoded), for a
    /// validator to forward to its peers. A receiver that lags misses some; they stay pending
    /// here and are proposed by this node.
    pub fn subscribe_admitted(&self) -> broadcast::Receiver<Arc<Vec<u8>>> {
        self.admitted.subscribe()
    }

    fn committed_nonce(&self, address: &opmeter_vm::Address) -> u64 {
        self.chain
            .store()
            .account(address)
            .ok()
            .flatten()
            .map(|a| a.nonce)
            .unwrap_or(0)
    }

    /// Committed blocks from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<CommittedBlock>> {
        self.blocks.subscribe()
    }

    /// Starts the block producer thread for `mode` ([`BlockMode::Manual`] starts nothing).
    pub fn start(self: &Arc<Self>, mode: BlockMode) -> Option<JoinHandle<Result<(), NodeError>>> {
        let node = Arc::clone(self);
        match mode {
            BlockMode::Manual => None,
            BlockMode::Instant => Some(std::thread::spawn(move || node.run_instant())),
            BlockMode::Interval(every) => {
                Some(std::thread::spawn(move || node.run_interval(every)))
            }
        }
    }

    fn run_instant(&self) -> Result<(), NodeError> {
        while !self.stopping.load(Ordering::SeqCst) {
            if self.produce_block(false)?.is_none() {
                // Nothing executable (empty, or only nonce gaps): sleep until an admission.
                let mut mempool = self.mempool.lock();
                self.pending
                    .wait_for(&mut mempool, Duration::from_millis(200));
            }
        }
        Ok(())
    }

    fn run_interval(&self, every: Duration) -> Result<(), NodeError> {
        let mut next = Instant::now() + every;
        while !self.stopping.load(Ordering::SeqCst) {
            let now = Instant::now();
            if now < next {
                std::thread::sleep((next - now).min(Duration::from_millis(100)));
                continue;
            }
            next += every;
            self.produce_block(true)?;
        }
        Ok(())
    }

    /// Asks the producer to stop after the block it is working on.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.pending.notify_all();
    }
}

/// Milliseconds since the Unix epoch (read by the producer only, once per block).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
