//! Committed throughput of the node: signed `token` transfers and plain value transfers, each
//! through admission (signature check on both cores), execution, and an atomic RocksDB commit
//! (synced to disk) with the Merkle state root. Signing happens outside the timed region.
//!
//! Run: `cargo bench -p opmeter-benches --bench node`. Criterion reports elements/s = tx/s.
#![allow(missing_docs)]

#[path = "support/token_node.rs"]
mod token_node;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use opmeter_ledger::tx::{SignedTransaction, Wallet};
use opmeter_node::service::Node;
use opmeter_vm::{Address, U256};
use token_node::{drain, token_node, TokenNode};

const CHAIN: &str = "opmeter-bench";
const SENDERS: u8 = 100;
/// Transactions per measured batch (two blocks of 1,000).
const BATCH: usize = 2_000;

fn setup() -> TokenNode {
    token_node(CHAIN, 0xB5, SENDERS, 1_000)
}

fn run_batch(node: &Node, txs: &[Vec<u8>]) -> Duration {
    let started = Instant::now();
    for result in node.submit_batch(txs) {
        result.unwrap();
    }
    drain(node);
    started.elapsed()
}

fn throughput(c: &mut Criterion) {
    let mut bench = setup();
    let mut group = c.benchmark_group("committed throughput");
    group.sample_size(10);
    group.throughput(Throughput::Elements(BATCH as u64));
    let token = bench.token;
    group.bench_function("token transfers", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let txs = sign_batch(&mut bench.wallets, |w, i| {
                    let to = Address([i as u8; 32]);
                    w.call(
                        token,
                        "transfer",
                        &format!(r#"{{"to": "{}", "amount": "1"}}"#, to.to_hex()),
                    )
                });
                total += run_batch(&bench.node, &txs);
            }
            total
        })
    });
    group.bench_function("value transfers", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let txs = sign_batch(&mut bench.wallets, |w, i| {
                    w.transfer(Address([i as u8; 32]), U256::one())
                });
                total += run_batch(&bench.node, &txs);
            }
            total
        })
    });
    group.finish();
}

fn sign_batch(
    wallets: &mut [Wallet],
    mut make: impl FnMut(&mut Wallet, usize) -> SignedTransaction,
) -> Vec<Vec<u8>> {
    let count = wallets.len();
    (0..BATCH)
        .map(|i| make(&mut wallets[i % count], i).encode())
        .collect()
}

criterion_group!(benches, throughput);
criterion_main!(benches);
