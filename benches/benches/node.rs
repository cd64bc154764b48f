//! Committed throughput of the node: signed `token` transfers and plain value transfers, each
//! through admission (signature check on both cores), execution, and an atomic RocksDB commit
//! (synced to disk) with the Merkle state root. Signing happens outside the timed region.
//!
//! Run: `cargo bench -p opmeter-benches --bench node`. Criterion reports elements/s = tx/s.
#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ed25519_dalek::SigningKey;
use opmeter_node::genesis::{address_of, Genesis};
use opmeter_node::mempool::MempoolConfig;
use opmeter_node::service::{BlockMode, Node, NodeConfig};
use opmeter_node::types::{ReceiptStatus, SignedTransaction};
use opmeter_node::wallet::Wallet;
use opmeter_tests::contract;
use opmeter_vm::{Address, U256};

const CHAIN: &str = "opmeter-bench";
const SENDERS: u8 = 100;
/// Transactions per measured batch (two blocks of 1,000).
const BATCH: usize = 2_000;

fn key(seed: u8) -> SigningKey {
    let mut bytes = [seed; 32];
    bytes[0] = 0xB5;
    SigningKey::from_bytes(&bytes)
}

struct Bench {
    _dir: tempfile::TempDir,
    node: Arc<Node>,
    wallets: Vec<Wallet>,
    token: Address,
}

fn setup() -> Bench {
    let mut balances = BTreeMap::new();
    for seed in 0..=SENDERS {
        balances.insert(address_of(&key(seed)), "1000000000000000000".to_string());
    }
    let genesis = Genesis {
        chain_id: CHAIN.into(),
        timestamp_ms: 1_767_225_600_000,
        block_gas_limit: 100_000_000_000,
        block_tx_max: 1_000,
        min_gas_price: "1".into(),
        fee_collector: Address([0xFE; 32]),
        balances,
        dev: false,
    };
    let dir = tempfile::tempdir().unwrap();
    let node = Node::open(&NodeConfig {
        data_dir: dir.path().to_path_buf(),
        genesis: Some(genesis),
        mode: BlockMode::Manual,
        sync_writes: true,
        mempool: MempoolConfig {
            max_txs: 100_000,
            nonce_window: 1_000,
        },
    })
    .unwrap();
    let mut owner = Wallet::new(key(0), CHAIN);
    owner.gas_limit = 50_000_000;
    let deploy = owner.deploy(
        contract("token"),
        r#"{"name": "Bench", "symbol": "B", "supply": "1000000000000"}"#,
        b"",
    );
    node.submit(&deploy.encode()).unwrap();
    let receipt = &node.produce_block(false).unwrap().unwrap().receipts[0];
    assert_eq!(receipt.status, ReceiptStatus::Success);
    let token = receipt.contract_address.unwrap();
    owner.gas_limit = 1_000_000;
    let wallets: Vec<Wallet> = (1..=SENDERS)
        .map(|seed| {
            let mut w = Wallet::new(key(seed), CHAIN);
            w.gas_limit = 1_000_000;
            w
        })
        .collect();
    for w in &wallets {
        let args = format!(
            r#"{{"to": "{}", "amount": "1000000000"}}"#,
            w.address().to_hex()
        );
        node.submit(&owner.call(token, "transfer", &args).encode())
            .unwrap();
    }
    drain(&node);
    Bench {
        _dir: dir,
        node,
        wallets,
        token,
    }
}

fn drain(node: &Node) {
    while node.mempool_len() > 0 {
        let block = node.produce_block(false).unwrap().unwrap();
        assert!(block
            .receipts
            .iter()
            .all(|r| r.status == ReceiptStatus::Success));
    }
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
