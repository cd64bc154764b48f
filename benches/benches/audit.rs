//! Gas audit: replaying a committed block of 1,000 signed `token` transfers against the state it
//! started from, relative to its original execution; the node's per-transaction replay report;
//! the offline bundle of one transfer (built by the node, verified without it) and its size.
//!
//! ```text
//! original  finalize_block(proposal)      head state (flat column families, point lookups)
//!           → execute 1,000 txs into an overlay → state root         (no commit: no disk write)
//! replay    replay_block(h, None, false)  state at h-1 (jmt_values history, seek_for_prev)
//!           → execute the same 1,000 txs into an overlay → state root
//! ```
//!
//! Both run the same state transition on the same node, block and parent state; neither writes.
//! `finalize_block` only stages its result (the next call replaces it), so it is measured
//! repeatedly before the block is committed, and the replay after.
//! The group `gas audit: replay overhead` times what only the replay does: the block's
//! committed-state reads at `h-1` vs at the head, and loading the block.
//!
//! Run: `cargo bench -p opmeter-benches --bench audit`. The bundle's size (JSON bytes: code,
//! proofs, the rest) is printed on stderr; criterion cannot measure sizes.
#![allow(missing_docs)]

#[path = "support/token_node.rs"]
mod token_node;

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use opmeter_ledger::block::ReceiptStatus;
use opmeter_ledger::bundle::{verify_bundle, Bundle};
use opmeter_ledger::encoding::Hash32;
use opmeter_ledger::state::StateKey;
use opmeter_ledger::tx::Wallet;
use opmeter_node::chain::{Chain, CheckedTx, Proposal};
use opmeter_node::store::LatestState;
use opmeter_vm::{Address, Schedule, Vm};
use token_node::{drain, token_node, TokenNode};

const CHAIN: &str = "opmeter-bench";
const SENDERS: u8 = 100;
/// Transactions in the audited block: 10 per sender, each to a distinct recipient.
const BLOCK_TXS: usize = 1_000;
/// Blocks of transfers committed before the audited one, so that the state it starts from has a
/// history (several versions per sender key in `jmt_values`), as on a running chain.
const HISTORY_BLOCKS: usize = 3;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Recipient `i` of block `block`: never a sender, never reused.
fn recipient(block: usize, i: usize) -> Address {
    let mut bytes = [0x5Au8; 32];
    bytes[0] = block as u8;
    bytes[1..3].copy_from_slice(&(i as u16).to_be_bytes());
    Address(bytes)
}

/// A node on RocksDB with the `token` contract and 100 funded senders (as in the `node` bench),
/// plus `HISTORY_BLOCKS` committed blocks of transfers.
fn setup() -> TokenNode {
    let mut bench = token_node(CHAIN, 0xA7, SENDERS, BLOCK_TXS as u32);
    for block in 0..HISTORY_BLOCKS {
        for bytes in sign_block(&mut bench.wallets, bench.token, block) {
            bench.node.submit(&bytes).unwrap();
        }
        drain(&bench.node);
    }
    bench
}

/// 1,000 signed `token.transfer`s: sender `i % 100`, recipient `i` of `block`.
fn sign_block(wallets: &mut [Wallet], token: Address, block: usize) -> Vec<Vec<u8>> {
    let count = wallets.len();
    (0..BLOCK_TXS)
        .map(|i| {
            let to = recipient(block, i);
            wallets[i % count]
                .call(
                    token,
                    "transfer",
                    &format!(r#"{{"to": "{}", "amount": "1"}}"#, to.to_hex()),
                )
                .encode()
        })
        .collect()
}

/// The audited block as the producer builds it: admitted, proposed, accepted.
fn propose(chain: &Chain, txs: &[Vec<u8>]) -> (Proposal, Vec<CheckedTx>) {
    let candidates: Vec<CheckedTx> = txs
        .iter()
        .map(|bytes| chain.check_stateless(bytes, false).unwrap())
        .collect();
    let now = now_ms();
    let proposal = chain.prepare_proposal(candidates, now);
    assert_eq!(proposal.transactions.len(), BLOCK_TXS);
    let checked = chain.process_proposal(&proposal, now, &|_| false).unwrap();
    (proposal, checked)
}

/// Times `run` alone; what it returns is dropped outside the timed region.
fn timed<T>(iters: u64, mut run: impl FnMut() -> T) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let started = Instant::now();
        let output = run();
        total += started.elapsed();
        drop(output);
    }
    total
}

struct Size {
    total: usize,
    code: usize,
    proofs: usize,
}

/// JSON bytes of `bundle`: all of it, the code (`codes[].wasm` hex strings) and the proofs
/// (`reads[].proof` hex strings). Each hex string counts with its quotes.
fn size(bundle: &Bundle) -> Size {
    Size {
        total: serde_json::to_vec(bundle).unwrap().len(),
        code: bundle.codes.iter().map(|c| c.wasm.len() + 2).sum(),
        proofs: bundle.reads.iter().map(|r| r.proof.len() + 2).sum(),
    }
}

fn report_size(chain: &Chain, tx_hash: &Hash32, label: &str) -> Bundle {
    let bundle = opmeter_node::audit::bundle(chain, tx_hash)
        .unwrap()
        .unwrap();
    let verdict = verify_bundle(&bundle, &Vm::new(Schedule::v1())).unwrap();
    assert!(verdict.matches());
    let s = size(&bundle);
    let wasm_bytes: usize = bundle.codes.iter().map(|c| (c.wasm.len() - 2) / 2).sum();
    eprintln!(
        "bundle of {label}: {} bytes of JSON = code {} ({} wasm bytes in {} code) + proofs {} \
         ({} reads) + rest {} ({} transactions with Merkle paths, headers, receipt)",
        s.total,
        s.code,
        wasm_bytes,
        bundle.codes.len(),
        s.proofs,
        bundle.reads.len(),
        s.total - s.code - s.proofs,
        bundle.transactions.len(),
    );
    bundle
}

fn audit(c: &mut Criterion) {
    let mut bench = setup();
    let chain = bench.node.chain();
    let txs = sign_block(&mut bench.wallets, bench.token, HISTORY_BLOCKS);
    let (proposal, checked) = propose(chain, &txs);
    let staged = chain
        .finalize_block(&proposal, &checked, Vec::new())
        .unwrap();
    assert!(staged
        .receipts
        .iter()
        .all(|r| r.status == ReceiptStatus::Success));

    let mut group = c.benchmark_group("gas audit");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(15));
    group.throughput(Throughput::Elements(BLOCK_TXS as u64));
    group.bench_function("original: finalize_block, 1,000 token transfers", |b| {
        b.iter_custom(|iters| {
            timed(iters, || {
                chain
                    .finalize_block(&proposal, &checked, Vec::new())
                    .unwrap()
            })
        })
    });

    // The last finalize staged the same block (execution is deterministic): commit it.
    let head = chain.commit().unwrap();
    assert_eq!(head.header, staged.block.header);
    let height = head.header.height;

    group.bench_function("replay: replay_block(h, None, false), same block", |b| {
        b.iter_custom(|iters| {
            timed(iters, || {
                chain.replay_block(height, None, false, None).unwrap()
            })
        })
    });
    let replay = chain.replay_block(height, None, false, None).unwrap();
    assert_eq!(replay.state_root, Some(head.header.state_root));
    assert_eq!(replay.receipts_root, Some(head.header.receipts_root));

    let first = proposal.transactions[0].hash();
    let last = proposal.transactions[BLOCK_TXS - 1].hash();
    group.bench_function(
        "audit::replay of one transfer (whole block + compare)",
        |b| {
            b.iter_custom(|iters| {
                timed(iters, || {
                    let report = opmeter_node::audit::replay(chain, &last).unwrap().unwrap();
                    assert!(report.matches());
                    report
                })
            })
        },
    );
    group.throughput(Throughput::Elements(1));
    group.bench_function("audit::bundle of the last transfer", |b| {
        b.iter_custom(|iters| {
            timed(iters, || {
                opmeter_node::audit::bundle(chain, &last).unwrap().unwrap()
            })
        })
    });
    report_size(chain, &first, "the first transfer (index 0, independent)");
    let bundle = report_size(
        chain,
        &last,
        "the last transfer (index 999, closure: its sender's 9 earlier transfers)",
    );
    let json = serde_json::to_string(&bundle).unwrap();
    group.bench_function(
        "verify_bundle of the last transfer (offline: parse JSON, fresh vm)",
        |b| {
            b.iter_custom(|iters| {
                timed(iters, || {
                    let bundle: Bundle = serde_json::from_str(&json).unwrap();
                    let verdict = verify_bundle(&bundle, &Vm::new(Schedule::v1())).unwrap();
                    assert!(verdict.matches());
                    verdict
                })
            })
        },
    );
    group.finish();
    overhead(c, chain, height);
}

/// Where replay spends more than the original: the committed-state reads of the block, each
/// transaction's keys once (as the recording replay lists them), at the head (point lookups in
/// the flat column families) and at `h-1` (`seek_for_prev` in `jmt_values`); and what only the
/// replay does besides (load the block, re-derive each transaction's hash, length and sender).
fn overhead(c: &mut Criterion, chain: &Chain, height: u64) {
    let store = chain.store();
    let recorded = chain.replay_block(height, None, true, None).unwrap();
    let keys: Vec<StateKey> = recorded
        .reads
        .values()
        .flat_map(|r| r.base.iter().cloned())
        .collect();
    eprintln!(
        "the block reads {} committed-state keys (once per transaction that reads them)",
        keys.len()
    );
    let mut group = c.benchmark_group("gas audit: replay overhead");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(keys.len() as u64));
    group.bench_function("the block's reads at the head (point lookups)", |b| {
        b.iter(|| {
            for key in &keys {
                let found = match key {
                    StateKey::Account(address) => store.account(address).unwrap().is_some(),
                    StateKey::Storage(contract, slot) => {
                        store.storage(contract, slot).unwrap().is_some()
                    }
                    StateKey::Name(name) => store.name(name).unwrap().is_some(),
                };
                black_box(found);
            }
        })
    });
    group.bench_function("the block's reads at h-1 (seek_for_prev)", |b| {
        b.iter(|| {
            for key in &keys {
                black_box(store.state_value_at(key, height - 1).unwrap());
            }
        })
    });
    group.throughput(Throughput::Elements(BLOCK_TXS as u64));
    group.bench_function("load the block, re-derive 1,000 hashes and senders", |b| {
        b.iter(|| {
            let block = store.block(height).unwrap().unwrap();
            for signed in &block.transactions {
                black_box((signed.encode().len(), signed.hash(), signed.tx.sender()));
            }
            block
        })
    });
    group.finish();
}

criterion_group!(benches, audit);
criterion_main!(benches);
