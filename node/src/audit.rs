//! The gas audit on the node's side: replaying a committed transaction against the state it saw
//! and building its offline verification bundle. Both re-execute through
//! [`Chain::replay_block`], i.e. the same state transition that produced the block.
//!
//! ```text
//! audit_replay(tx) ─▶ replay block h over state h-1 ─▶ compare the receipt field by field
//!                                                   └▶ compare the block's state and receipts roots
//! audit_bundle(tx) ─▶ replay block h up to tx, recording reads ─▶ dependency closure of tx
//!                  ─▶ proofs of every value read (against root h-1), code, Merkle paths
//! ```

use std::collections::{BTreeMap, BTreeSet};

use opmeter_ledger::block::Receipt;
use opmeter_ledger::bundle::{Bundle, BundleCode, BundleRead, BundleTx, BUNDLE_FORMAT};
use opmeter_ledger::compare::{compare_receipts, FieldCheck, ReplayReport};
use opmeter_ledger::encoding::{to_hex0x, Hash32};
use opmeter_ledger::merkle::merkle_path;
use opmeter_vm::{Trace, TraceOptions};

use crate::chain::Chain;
use crate::error::NodeError;
use crate::state::TxReads;

fn invariant(message: impl Into<String>) -> NodeError {
    NodeError::Invariant(message.into())
}

/// Re-executes the block of committed transaction `tx_hash` and compares the transaction's
/// receipt field by field, then the block's state and receipts roots. `None` when the
/// transaction is not committed.
///
/// # Errors
/// Node faults.
pub fn replay(chain: &Chain, tx_hash: &Hash32) -> Result<Option<ReplayReport>, NodeError> {
    let store = chain.store();
    let Some((height, index)) = store.tx_location(tx_hash)? else {
        return Ok(None);
    };
    let stored = stored_receipt(chain, height, index)?;
    let replay = chain.replay_block(height, None, false, None)?;
    let replayed = replay
        .receipts
        .get(index as usize)
        .ok_or_else(|| invariant(format!("replay of block {height} lost transaction {index}")))?;
    let mut fields = compare_receipts(&stored, replayed);
    let header = &replay.block.header;
    let root = |h: Option<Hash32>| h.map_or_else(|| "none".to_string(), |h| h.to_hex());
    fields.push(FieldCheck::new(
        "block.stateRoot",
        header.state_root.to_hex(),
        root(replay.state_root),
    ));
    fields.push(FieldCheck::new(
        "block.receiptsRoot",
        header.receipts_root.to_hex(),
        root(replay.receipts_root),
    ));
    Ok(Some(ReplayReport {
        tx_hash: *tx_hash,
        height,
        index,
        fields,
        replayed_transactions: u32::try_from(replay.receipts.len()).unwrap_or(u32::MAX),
    }))
}

/// The stored receipt of committed transaction `tx_hash` and the gas trace of its execution (its
/// block replayed up to it, the transaction traced; `None` when it ran no code), with the gas
/// the replay executed. `None` when not committed.
///
/// # Errors
/// Node faults; [`NodeError::Invariant`] when the replayed receipt differs from the stored one
/// (`audit_replay` then shows where).
pub fn trace(
    chain: &Chain,
    tx_hash: &Hash32,
    options: &TraceOptions,
) -> Result<Option<(Receipt, Option<Trace>, u64)>, NodeError> {
    let Some((height, index)) = chain.store().tx_location(tx_hash)? else {
        return Ok(None);
    };
    let stored = stored_receipt(chain, height, index)?;
    let replay = chain.replay_block(height, Some(index), false, Some(options))?;
    let executed = replay.receipts.iter().map(|r| r.gas_used).sum::<u64>();
    if replay.receipts.last() != Some(&stored) {
        return Err(invariant(format!(
            "the replay of {tx_hash} does not reproduce its receipt: see audit_replay"
        )));
    }
    Ok(Some((stored, replay.trace, executed)))
}

fn stored_receipt(chain: &Chain, height: u64, index: u32) -> Result<Receipt, NodeError> {
    chain
        .store()
        .receipts(height)?
        .into_iter()
        .nth(index as usize)
        .ok_or_else(|| invariant(format!("block {height} has no receipt {index}")))
}

/// The transactions of the block `target` depends on, itself included: those whose writes or
/// credits it read, transitively.
fn closure(target: u32, reads: &BTreeMap<u32, TxReads>) -> BTreeSet<u32> {
    let mut needed = BTreeSet::from([target]);
    let mut pending = vec![target];
    while let Some(index) = pending.pop() {
        for dependency in reads
            .get(&index)
            .map(|r| r.depends_on.iter())
            .into_iter()
            .flatten()
        {
            if needed.insert(*dependency) {
                pending.push(*dependency);
            }
        }
    }
    needed
}

/// The self-contained verification bundle of committed transaction `tx_hash`
/// (`specs/audit-bundle.md`). `None` when the transaction is not committed.
///
/// # Errors
/// Node faults.
pub fn bundle(chain: &Chain, tx_hash: &Hash32) -> Result<Option<Bundle>, NodeError> {
    let store = chain.store();
    let Some((height, index)) = store.tx_location(tx_hash)? else {
        return Ok(None);
    };
    let parent_height = height
        .checked_sub(1)
        .ok_or_else(|| invariant("a committed transaction in block 0"))?;
    let parent = store
        .header(parent_height)?
        .ok_or_else(|| invariant(format!("header {parent_height} is missing")))?;
    let replay = chain.replay_block(height, Some(index), true, None)?;
    let block = &replay.block;
    let needed = closure(index, &replay.reads);
    let leaves: Vec<Hash32> = block
        .transactions
        .iter()
        .map(|tx| Hash32::of(&tx.encode()))
        .collect();
    let hashes = |path: Vec<Hash32>| path.iter().map(Hash32::to_hex).collect::<Vec<_>>();
    let mut transactions = Vec::with_capacity(needed.len());
    let mut keys = BTreeSet::new();
    let mut code_hashes = BTreeSet::new();
    for i in &needed {
        let signed = block
            .transactions
            .get(*i as usize)
            .ok_or_else(|| invariant(format!("block {height} has no transaction {i}")))?;
        let path = merkle_path(&leaves, *i)
            .ok_or_else(|| invariant(format!("no Merkle path for transaction {i}")))?;
        transactions.push(BundleTx {
            index: *i,
            signed: to_hex0x(&signed.encode()),
            path: hashes(path),
        });
        if let Some(reads) = replay.reads.get(i) {
            keys.extend(reads.base.iter().cloned());
            code_hashes.extend(reads.codes.iter().copied());
        }
    }
    let mut reads = Vec::with_capacity(keys.len());
    for key in keys {
        let (value, proof) = store.prove(&key, parent_height)?;
        reads.push(BundleRead {
            key: to_hex0x(&key.encode()),
            value: value.as_deref().map(to_hex0x),
            proof: to_hex0x(&borsh::to_vec(&proof).map_err(|e| invariant(e.to_string()))?),
        });
    }
    let mut codes = Vec::with_capacity(code_hashes.len());
    for code_hash in code_hashes {
        let wasm = store
            .code(&code_hash)?
            .ok_or_else(|| invariant(format!("code {} is missing", code_hash.to_hex())))?;
        codes.push(BundleCode {
            hash: to_hex0x(&code_hash.0),
            wasm: to_hex0x(&wasm),
        });
    }
    let receipts = store.receipts(height)?;
    let receipt_leaves: Vec<Hash32> = receipts.iter().map(Receipt::hash).collect();
    let receipt = receipts
        .get(index as usize)
        .ok_or_else(|| invariant(format!("block {height} has no receipt {index}")))?;
    let receipt_path = merkle_path(&receipt_leaves, index)
        .ok_or_else(|| invariant(format!("no Merkle path for receipt {index}")))?;
    let vm = chain.vm();
    Ok(Some(Bundle {
        format: BUNDLE_FORMAT.into(),
        chain_id: chain.genesis().chain_id.clone(),
        schedule_version: vm.schedule().version,
        schedule_hash: to_hex0x(&vm.schedule_hash()),
        fee_collector: chain.genesis().fee_collector,
        parent_header: to_hex0x(&borsh::to_vec(&parent).map_err(|e| invariant(e.to_string()))?),
        header: to_hex0x(&borsh::to_vec(&block.header).map_err(|e| invariant(e.to_string()))?),
        transactions,
        receipt: to_hex0x(&borsh::to_vec(receipt).map_err(|e| invariant(e.to_string()))?),
        receipt_path: hashes(receipt_path),
        codes,
        reads,
    }))
}
