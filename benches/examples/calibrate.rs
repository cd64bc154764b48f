//! The gas calibration harness: nanoseconds per unit of gas for every instruction class, host
//! function, per-call charge, cold code loading, storage through the block commit, a
//! transaction's intrinsic work and deploys, under one schedule, as a Markdown table with each
//! item's ratio to the median.
//!
//! Run: `./benches/calibrate.sh [v1|v2]` (a release build; `--runs N` for more repetitions);
//! `./benches/calibrate-callgrind.sh [v1|v2]` counts instructions per unit of gas of the vm
//! items instead (`--list`, `--count ITEM REPS`).
//! Wall time, median of the runs, on whatever else the machine is doing: compare ratios within
//! one run, and cross-check single items with callgrind (`benches/callgrind.sh`).
#![allow(missing_docs)]

#[path = "../benches/support/token_node.rs"]
#[allow(dead_code)]
mod token_node;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opmeter_benches::calibration::{
    items, largest_module, measure, measure_cold_code, table, time_median, Measurement,
};
use opmeter_ledger::block::ReceiptStatus;
use opmeter_ledger::tx::{SignedTransaction, Wallet};
use opmeter_node::genesis::{address_of, Genesis};
use opmeter_node::mempool::MempoolConfig;
use opmeter_node::service::{BlockMode, Node, NodeConfig};
use opmeter_vm::{Address, Schedule, Vm, U256};
use token_node::key;

const CHAIN: &str = "opmeter-calibrate";

fn schedule_named(name: &str) -> Schedule {
    name.strip_prefix('v')
        .and_then(|v| v.parse().ok())
        .and_then(Schedule::by_version)
        .unwrap_or_else(|| panic!("unknown schedule `{name}` (known: v1, v2)"))
}

/// A node on a temporary RocksDB (synced writes, as the node runs) with `senders` funded wallets.
fn node(schedule: &Schedule, senders: u8) -> (tempfile::TempDir, Arc<Node>, Vec<Wallet>) {
    let balances: BTreeMap<_, _> = (0..=senders)
        .map(|seed| {
            (
                address_of(&key(0xCA, seed)),
                "1000000000000000000000".to_string(),
            )
        })
        .collect();
    let genesis = Genesis {
        chain_id: CHAIN.into(),
        timestamp_ms: 1_767_225_600_000,
        block_gas_limit: 1_000_000_000_000,
        block_tx_max: 10_000,
        min_gas_price: "1".into(),
        fee_collector: Address([0xFE; 32]),
        balances,
        dev: false,
        schedule_version: schedule.version,
        validators: Vec::new(),
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let node = Node::open(&NodeConfig {
        data_dir: dir.path().to_path_buf(),
        genesis: Some(genesis),
        mode: BlockMode::Manual,
        sync_writes: true,
        mempool: MempoolConfig {
            max_txs: 100_000,
            nonce_window: 10_000,
        },
    })
    .expect("node opens");
    let wallets = (0..=senders)
        .map(|seed| {
            let mut wallet = Wallet::new(key(0xCA, seed), CHAIN);
            wallet.gas_limit = 1_000_000_000;
            wallet
        })
        .collect();
    (dir, node, wallets)
}

/// Submits `txs`, produces blocks until the mempool is empty: (gas of every receipt, wall time).
fn commit(node: &Node, txs: &[SignedTransaction]) -> (u64, Duration, Vec<Option<Address>>) {
    let encoded: Vec<Vec<u8>> = txs.iter().map(SignedTransaction::encode).collect();
    let started = Instant::now();
    for result in node.submit_batch(&encoded) {
        result.expect("admitted");
    }
    let mut gas = 0;
    let mut created = Vec::new();
    while node.mempool_len() > 0 {
        let block = node
            .produce_block(false)
            .expect("block")
            .expect("not empty");
        for receipt in &block.receipts {
            assert_eq!(receipt.status, ReceiptStatus::Success, "{receipt:?}");
            gas += receipt.gas_used;
            created.push(receipt.contract_address);
        }
    }
    (gas, started.elapsed(), created)
}

/// The items that need the node: a transaction's intrinsic work, storage writes through the
/// commit (tree update + RocksDB write), deploys of the largest module.
fn node_items(schedule: &Schedule, runs: usize) -> Vec<Measurement> {
    let (_dir, node, mut wallets) = node(schedule, 100);
    let mut rows = Vec::new();

    // 1. Value transfers: signature check, nonce and balance, receipt, commit.
    let mut round = 0u8;
    let (gas, time) = time_median(runs, || {
        round = round.wrapping_add(1);
        let txs: Vec<_> = (0..1_000)
            .map(|i| {
                let to = Address([round; 32]);
                wallets[1 + i % 100].transfer(to, U256::one())
            })
            .collect();
        commit(&node, &txs).0
    });
    rows.push(Measurement {
        name: "transaction: 1,000 value transfers through the commit".into(),
        group: "node",
        gas,
        time,
    });

    // 2. Fresh storage keys through the commit: each transaction writes 256 fresh keys of the
    // largest size with 1-byte values (the tree grows by 256 leaves per transaction).
    let key_max = schedule.limits.max_storage_key_len_bytes;
    let writer = wat::parse_str(format!(
        r#"(module
  (import "opmeter" "input_read" (func $input_read (param i32)))
  (import "opmeter" "storage_write" (func $storage_write (param i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (func (export "run") (local $i i32)
    (call $input_read (i32.const 0))
    (loop $l
      (i32.store (i32.const 16) (local.get $i))
      (call $storage_write (i32.const 0) (i32.const {key_max}) (i32.const 1024) (i32.const 1))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 256))))))"#
    ))
    .expect("writer WAT");
    let deploy = wallets[0].deploy(&writer, "", b"writer");
    let (_, _, created) = commit(&node, &[deploy]);
    let writer = created[0].expect("contract address");
    let mut nonce = 0u64;
    let (gas, time) = time_median(runs, || {
        let txs: Vec<_> = (0..50)
            .map(|i| {
                nonce += 1;
                wallets[1 + i % 100].call(writer, "run", &format!("{nonce:016}"))
            })
            .collect();
        commit(&node, &txs).0
    });
    rows.push(Measurement {
        name: format!("storage_write: 50 tx × 256 fresh {key_max} B keys through the commit"),
        group: "node",
        gas,
        time,
    });

    // 3. Token transfers (a typical contract transaction) through the commit.
    let deploy = wallets[0].deploy(
        opmeter_tests::contract("token"),
        r#"{"name": "T", "symbol": "T", "supply": "1000000000000"}"#,
        b"token",
    );
    let (_, _, created) = commit(&node, &[deploy]);
    let token = created[0].expect("token address");
    let funding: Vec<_> = (1..=100)
        .map(|i| {
            let to = wallets[i].address().to_hex();
            wallets[0].call(
                token,
                "transfer",
                &format!(r#"{{"to": "{to}", "amount": "1000000"}}"#),
            )
        })
        .collect();
    commit(&node, &funding);
    let mut round = 0u64;
    let (gas, time) = time_median(runs, || {
        // Fresh recipients every run, so every run does the same work.
        round += 1;
        let txs: Vec<_> = (0..1_000u64)
            .map(|i| {
                let mut recipient = [0x70; 32];
                recipient[..8].copy_from_slice(&round.to_le_bytes());
                recipient[8..16].copy_from_slice(&i.to_le_bytes());
                let i = i as usize;
                let to = Address(recipient).to_hex();
                wallets[1 + i % 100].call(
                    token,
                    "transfer",
                    &format!(r#"{{"to": "{to}", "amount": "1"}}"#),
                )
            })
            .collect();
        commit(&node, &txs).0
    });
    rows.push(Measurement {
        name: "typical: 1,000 token.transfer transactions through the commit".into(),
        group: "typical",
        gas,
        time,
    });

    // 4. A typical deploy (counter) through the commit.
    let mut salt = 0u64;
    let (gas, time) = time_median(runs, || {
        salt += 1;
        let tx = wallets[0].deploy(
            opmeter_tests::contract("counter"),
            r#"{"start": 1}"#,
            &salt.to_le_bytes(),
        );
        commit(&node, &[tx]).0
    });
    rows.push(Measurement {
        name: "typical: deploy counter through the commit".into(),
        group: "typical",
        gas,
        time,
    });

    // 5. Deploys of the largest module: admission (validate), instrument, compile, store.
    let mut variant = 1_000;
    let (gas, time) = time_median(runs, || {
        variant += 1;
        let wasm = largest_module(schedule, variant).wasm;
        let tx = wallets[0].deploy(&wasm, "", &variant.to_le_bytes());
        commit(&node, &[tx]).0
    });
    rows.push(Measurement {
        name: format!(
            "deploy: the largest module ({} KiB) through the commit",
            largest_module(schedule, 0).wasm.len() / 1024
        ),
        group: "node",
        gas,
        time,
    });
    rows
}

/// Puts every code of `chain` in its warm set (schedule v2 on): typical contracts are in use.
fn warm_everything(chain: &mut opmeter_tests::Chain) {
    let Some(costs) = chain.vm.schedule().code_loading else {
        return;
    };
    let codes: Vec<_> = chain
        .state
        .codes
        .iter()
        .map(|(h, c)| (*h, c.len() as u32))
        .collect();
    let mut update = opmeter_vm::warm_set::Update::new(&chain.state);
    for (hash, len) in codes {
        update.insert(hash, len, &costs).expect("in-memory state");
    }
    let writes = update.into_writes();
    for (key, value) in writes {
        if let Some(value) = value {
            chain
                .state
                .storage
                .insert((opmeter_vm::warm_set::ADDRESS, key), value);
        }
    }
}

/// Typical calls of the example contracts (warm, executed without the commit): what users are
/// billed for every day.
fn typical_items(schedule: &Schedule, runs: usize) -> Vec<Measurement> {
    use opmeter_tests::{Chain, ALICE, BOB};
    let mut chain = Chain::with_vm(Vm::new(schedule.clone()));
    let counter = chain.deploy(ALICE, "counter", Some(r#"{"start": 1}"#));
    let token = chain.deploy(
        ALICE,
        "token",
        Some(r#"{"name": "T", "symbol": "T", "supply": "1000000"}"#),
    );
    warm_everything(&mut chain);
    let transfer = format!(r#"{{"to": "{}", "amount": "5"}}"#, BOB.to_hex());
    let calls: [(&str, Address, &str, &str); 3] = [
        ("typical: counter.get", counter, "get", "{}"),
        ("typical: counter.increment", counter, "increment", "{}"),
        ("typical: token.transfer", token, "transfer", &transfer),
    ];
    calls
        .into_iter()
        .map(|(name, contract, method, args)| {
            let (gas, time) = time_median(runs.max(20), || {
                let outcome = chain.query(ALICE, contract, method, args, 100_000_000);
                assert_eq!(outcome.status, opmeter_vm::Status::Success, "{name}");
                outcome.gas_used
            });
            Measurement {
                name: name.into(),
                group: "typical",
                gas,
                time,
            }
        })
        .collect()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut schedule_name = "v1".to_string();
    let mut runs = 7;
    let mut skip_node = false;
    let mut list = false;
    let mut count: Option<(String, u64)> = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => runs = args.next().and_then(|n| n.parse().ok()).expect("--runs N"),
            "--no-node" => skip_node = true,
            "--list" => list = true,
            "--count" => {
                let name = args.next().expect("--count ITEM REPS");
                let reps = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--count ITEM REPS");
                count = Some((name, reps));
            }
            "--bench" => {}
            name => schedule_name = name.to_string(),
        }
    }
    let schedule = schedule_named(&schedule_name);
    let vm = Vm::new(schedule.clone());
    // For instruction counts (`benches/calibrate-callgrind.sh`): the vm items' names, or one item
    // run REPS times after a warm-up call (its module compiled and cached), printing its gas per
    // call; the difference of two counts cancels start-up.
    if list {
        for item in items(&schedule) {
            println!("{}", item.name);
        }
        return;
    }
    if let Some((name, reps)) = count {
        let item = items(&schedule)
            .into_iter()
            .find(|item| item.name == name)
            .unwrap_or_else(|| panic!("no item `{name}` (see --list)"));
        let state = item.state();
        let gas = opmeter_benches::calibration::run(&vm, &item, &state).gas_used;
        for _ in 0..reps {
            assert_eq!(
                opmeter_benches::calibration::run(&vm, &item, &state).gas_used,
                gas
            );
        }
        println!("{gas}");
        return;
    }
    let mut rows = Vec::new();
    for item in items(&schedule) {
        let row = measure(&vm, &item, runs);
        eprintln!("{:>10.3} ns/gas  {}", row.ns_per_gas(), row.name);
        rows.push(row);
    }
    let warm = measure(&vm, &largest_module(&schedule, 0), runs);
    rows.push(Measurement {
        name: format!(
            "warm code, {} KiB module (cached)",
            largest_module(&schedule, 0).wasm.len() / 1024
        ),
        ..warm
    });
    for row in typical_items(&schedule, runs) {
        eprintln!("{:>10.3} ns/gas  {}", row.ns_per_gas(), row.name);
        rows.push(row);
    }
    let cold = measure_cold_code(&schedule, 2, runs);
    eprintln!("{:>10.3} ns/gas  {}", cold.ns_per_gas(), cold.name);
    rows.push(cold);
    if !skip_node {
        for row in node_items(&schedule, runs.min(5)) {
            eprintln!("{:>10.3} ns/gas  {}", row.ns_per_gas(), row.name);
            rows.push(row);
        }
    }
    println!(
        "schedule {schedule_name} (hash 0x{}), {runs} runs per item, wall time (median)\n",
        hex(&schedule.hash())
    );
    print!("{}", table(&rows));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
