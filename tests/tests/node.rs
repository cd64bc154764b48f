//! The node end to end on real RocksDB: `token` deployed and used through signed transactions,
//! fees re-derived from receipts, receipts pinned, and a second node replaying the same blocks.

use std::collections::BTreeMap;
use std::sync::Arc;

use ed25519_dalek::SigningKey;
use expect_test::expect_file;
use opmeter_ledger::block::{Receipt, ReceiptStatus};
use opmeter_ledger::tx::{SignedTransaction, Wallet};
use opmeter_node::genesis::{address_of, Genesis};
use opmeter_node::service::{BlockMode, Node, NodeConfig};
use opmeter_tests::contract;
use opmeter_vm::{Address, CallRequest, U256};

const CHAIN: &str = "opmeter-e2e";
const FEES: Address = Address([0xFE; 32]);

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn genesis() -> Genesis {
    let mut balances = BTreeMap::new();
    for seed in [1u8, 2, 3] {
        balances.insert(address_of(&key(seed)), "1000000000000000".to_string());
    }
    Genesis {
        chain_id: CHAIN.into(),
        timestamp_ms: 1_767_225_600_000,
        block_gas_limit: 2_000_000_000,
        block_tx_max: 1_000,
        min_gas_price: "1".into(),
        fee_collector: FEES,
        balances,
        dev: false,
        schedule_version: 1,
        validators: Vec::new(),
    }
}

fn open(dir: &std::path::Path) -> Arc<Node> {
    Node::open(&NodeConfig {
        data_dir: dir.to_path_buf(),
        genesis: Some(genesis()),
        mode: BlockMode::Manual,
        sync_writes: false,
        mempool: Default::default(),
    })
    .unwrap()
}

fn block(node: &Node, txs: &[SignedTransaction]) -> Vec<Receipt> {
    for tx in txs {
        node.submit(&tx.encode()).expect("admitted");
    }
    node.produce_block(false).unwrap().unwrap().receipts.clone()
}

fn query(node: &Node, contract: Address, method: &str, args: &str) -> String {
    let chain = node.chain();
    let outcome = chain
        .query(
            &chain.read_state(None).unwrap().unwrap(),
            CallRequest {
                caller: Address([0; 32]),
                contract,
                method: method.into(),
                input: args.as_bytes().to_vec(),
                value: U256::zero(),
                gas_limit: 10_000_000,
            },
        )
        .unwrap();
    String::from_utf8(outcome.output).unwrap()
}

fn render(receipts: &[Receipt]) -> String {
    let mut out = String::new();
    for r in receipts {
        out.push_str(&format!(
            "#{}.{} {:<11} gas {:>7} fee {:>8} out {:?}\n",
            r.height,
            r.index,
            r.status.name(),
            r.gas_used,
            r.fee.to_string(),
            String::from_utf8_lossy(&r.output)
        ));
        for (key, gas) in &r.gas_breakdown {
            out.push_str(&format!("    {key:<16} {gas:>7}\n"));
        }
    }
    out
}

#[test]
fn token_on_a_node_bills_exactly_and_replays_identically() {
    let dir = tempfile::tempdir().unwrap();
    let node = open(dir.path());
    let mut alice = Wallet::new(key(1), CHAIN);
    let mut bob = Wallet::new(key(2), CHAIN);
    alice.gas_price = U256::from(7u64);
    alice.gas_limit = 50_000_000;
    let carol = address_of(&key(3));
    let start = |w: &Wallet| {
        node.chain()
            .committed_account(&w.address())
            .unwrap()
            .balance
    };
    let (alice0, bob0) = (start(&alice), start(&bob));

    let deploy = alice.deploy(
        contract("token"),
        r#"{"name": "Meter", "symbol": "MTR", "supply": "1000000"}"#,
        b"token",
    );
    let mut receipts = block(&node, &[deploy]);
    let token = receipts[0].contract_address.unwrap();
    assert_eq!(
        receipts[0].status,
        ReceiptStatus::Success,
        "{:?}",
        receipts[0]
    );

    alice.gas_limit = 2_000_000;
    let to = |a: Address| format!(r#"{{"to": "{}", "amount": "250"}}"#, a.to_hex());
    let more = block(
        &node,
        &[
            alice.call(token, "transfer", &to(bob.address())),
            bob.call(token, "transfer", &to(carol)),
            bob.call(token, "transfer", &to(carol)),
            bob.transfer(carol, U256::from(1_000u64)),
        ],
    );
    receipts.extend(more.iter().cloned());
    let statuses: Vec<_> = more.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            ReceiptStatus::Success,
            ReceiptStatus::Success,
            ReceiptStatus::Revert, // bob had 250 and sent them
            ReceiptStatus::Success
        ]
    );
    let balance_of = |who: Address| {
        query(
            &node,
            token,
            "balance_of",
            &format!(r#"{{"owner": "{}"}}"#, who.to_hex()),
        )
    };
    assert_eq!(balance_of(alice.address()), "\"999750\"");
    assert_eq!(balance_of(bob.address()), "\"0\"");
    assert_eq!(balance_of(carol), "\"250\"");

    // Fees: every receipt's fee is gas_used × gas_price, and balances moved by exactly that.
    let fee_of = |sender: Address| {
        receipts
            .iter()
            .filter(|r| r.sender == sender)
            .map(|r| {
                assert_eq!(r.fee, U256::from(r.gas_used) * r.gas_price);
                assert_eq!(r.breakdown_total(), r.gas_used);
                r.fee
            })
            .fold(U256::zero(), |a, b| a + b)
    };
    let (alice_fees, bob_fees) = (fee_of(alice.address()), fee_of(bob.address()));
    assert_eq!(start(&alice), alice0 - alice_fees);
    assert_eq!(start(&bob), bob0 - bob_fees - U256::from(1_000u64));
    let collected = node.chain().committed_account(&FEES).unwrap().balance;
    assert_eq!(collected, alice_fees + bob_fees);

    expect_file!["snapshots/node_receipts.txt"].assert_eq(&render(&receipts));

    // A second node fed the same blocks ends with the same state roots and receipts.
    let other_dir = tempfile::tempdir().unwrap();
    let other = open(other_dir.path());
    let head = node.head().header.height;
    for height in 1..=head {
        let block = node.chain().store().block(height).unwrap().unwrap();
        let replayed = other.import_block(&block).unwrap();
        assert_eq!(replayed, node.chain().store().receipts(height).unwrap());
    }
    assert_eq!(other.head().hash, node.head().hash);
    assert_eq!(
        other.head().header.state_root,
        node.chain().store().state_root(head).unwrap()
    );
}

/// A contract that forwards its input to `increment` of the contract at `callee` (a nested
/// call), outputs the callee's return data, and traps when the callee fails.
fn proxy_wat(callee: Address) -> String {
    let escaped: String = callee.0.iter().map(|b| format!("\\{b:02x}")).collect();
    format!(
        r#"(module
  (import "opmeter" "input_len" (func $len (result i32)))
  (import "opmeter" "input_read" (func $read (param i32)))
  (import "opmeter" "output_set" (func $out (param i32 i32)))
  (import "opmeter" "call" (func $call (param i32 i32 i32 i32 i32 i32 i64) (result i32)))
  (import "opmeter" "return_data_len" (func $rlen (result i32)))
  (import "opmeter" "return_data_read" (func $rread (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{escaped}")
  (data (i32.const 32) "increment")
  (func (export "forward")
    (call $read (i32.const 200))
    (if (call $call (i32.const 0) (i32.const 32) (i32.const 9) (i32.const 200) (call $len)
                    (i32.const 64) (i64.const 0))
      (then unreachable))
    (call $rread (i32.const 1000))
    (call $out (i32.const 1000) (call $rlen))))"#
    )
}

const BOOM: &str = r#"(module (memory (export "memory") 1)
  (func (export "run") unreachable)
  (func (export "init") unreachable))"#;

/// Every kind of receipt the chain produces: deployments (with and without `init`, failing
/// `init`), native transfers, token calls that succeed and revert, a trap, out of gas, nested
/// calls, and transactions that read what an earlier one of the same block wrote.
fn audited_chain(node: &Node) -> Vec<Receipt> {
    let mut alice = Wallet::new(key(1), CHAIN);
    let mut bob = Wallet::new(key(2), CHAIN);
    alice.gas_price = U256::from(3u64);
    alice.gas_limit = 50_000_000;
    bob.gas_limit = 2_000_000;
    let carol = address_of(&key(3));
    let mut receipts = block(
        node,
        &[
            alice.deploy(
                contract("token"),
                r#"{"name": "Meter", "symbol": "MTR", "supply": "1000000"}"#,
                b"t",
            ),
            alice.deploy(contract("counter"), r#"{"start": 5}"#, b"c"),
            alice.deploy(contract("hostile_loop"), "", b"l"),
            alice.transfer(carol, U256::from(777u64)),
        ],
    );
    let token = receipts[0].contract_address.unwrap();
    let counter = receipts[1].contract_address.unwrap();
    let looping = receipts[2].contract_address.unwrap();
    let proxy_code = wat::parse_str(proxy_wat(counter)).unwrap();
    let boom_code = wat::parse_str(BOOM).unwrap();
    let to = |a: Address, n: u32| format!(r#"{{"to": "{}", "amount": "{n}"}}"#, a.to_hex());
    alice.gas_limit = 5_000_000;
    receipts.extend(block(
        node,
        &[
            alice.call(token, "transfer", &to(bob.address(), 100)),
            bob.call(token, "transfer", &to(carol, 60)),
            bob.call(token, "transfer", &to(carol, 60)), // reverts: 40 left
            alice.call(counter, "increment", r#"{"by": 2}"#),
            alice.call(counter, "increment", r#"{"by": 3}"#), // reads the previous write
            alice.deploy(&proxy_code, "", b"p"),
            bob.deploy(&boom_code, "", b"b"), // init traps
        ],
    ));
    let proxy = receipts[9].contract_address.unwrap();
    alice.gas_limit = 1_000_000;
    let mut spin = alice.call(looping, "run", "");
    spin = {
        let mut tx = spin.tx.clone();
        tx.gas_limit = 300_000;
        tx.sign(&key(1))
    };
    receipts.extend(block(
        node,
        &[
            spin,                                          // out of gas
            alice.call(proxy, "forward", r#"{"by": 10}"#), // nested call
            bob.call(counter, "increment", r#"{"by": 1}"#),
            alice.call(proxy, "forward", r#"{"by": 18446744073709551615}"#), // callee reverts: trap
            bob.transfer(alice.address(), U256::from(5u64)),
        ],
    ));
    receipts
}

#[test]
fn every_receipt_replays_field_by_field_and_its_bundle_verifies_offline() {
    let dir = tempfile::tempdir().unwrap();
    let node = open(dir.path());
    let receipts = audited_chain(&node);
    let statuses: Vec<&str> = receipts.iter().map(|r| r.status.name()).collect();
    assert_eq!(
        statuses,
        [
            "success", "success", "success", "success", // deploys, transfer
            "success", "success", "revert", "success", "success", "success", "trap", "outOfGas",
            "success", "success", "trap", "success",
        ]
    );
    let vm = opmeter_vm::Vm::new(opmeter_vm::Schedule::v1());
    let mut traced = 0u32;
    for receipt in &receipts {
        let report = opmeter_node::audit::replay(node.chain(), &receipt.tx_hash)
            .unwrap()
            .expect("committed");
        assert!(
            report.matches(),
            "{} {}: {:?}",
            receipt.status.name(),
            receipt.tx_hash,
            report.first_difference()
        );
        let fields: Vec<&str> = report.fields.iter().map(|f| f.field.as_str()).collect();
        for key in receipt.gas_breakdown.keys() {
            assert!(fields.contains(&format!("gasBreakdown.{key}").as_str()));
        }
        assert!(fields.contains(&"block.stateRoot") && fields.contains(&"events.length"));

        let bundle = opmeter_node::audit::bundle(node.chain(), &receipt.tx_hash)
            .unwrap()
            .unwrap();
        // Through JSON, as a third party receives it.
        let bundle: opmeter_ledger::bundle::Bundle =
            serde_json::from_str(&serde_json::to_string(&bundle).unwrap()).unwrap();
        let verdict = opmeter_ledger::bundle::verify_bundle(&bundle, &vm).unwrap();
        assert!(
            verdict.matches(),
            "{}: {:?}",
            receipt.tx_hash,
            verdict.first_difference()
        );
        assert_eq!(
            verdict.block_hash,
            node.chain()
                .store()
                .header(receipt.height)
                .unwrap()
                .unwrap()
                .hash()
        );

        // The trace: intrinsic gas plus the tree equals the receipt, category by category.
        let options = opmeter_vm::TraceOptions::default();
        let (stored, trace, _) =
            opmeter_node::audit::trace(node.chain(), &receipt.tx_hash, &options)
                .unwrap()
                .unwrap();
        assert_eq!(&stored, receipt);
        let view = opmeter_rpc::types::TraceView::of_receipt(&stored, trace.as_ref());
        assert_eq!(view.gas_used.0, receipt.gas_used);
        let mut by_category = BTreeMap::new();
        by_category.insert("transaction".to_string(), view.intrinsic_gas.0);
        for (category, gas) in trace
            .as_ref()
            .and_then(|t| t.breakdown())
            .unwrap_or_default()
        {
            *by_category.entry(category.key().to_string()).or_insert(0) += gas;
        }
        by_category.retain(|_, gas: &mut u64| *gas > 0);
        assert_eq!(by_category, receipt.gas_breakdown, "{}", receipt.tx_hash);
        traced += u32::from(trace.is_some());
    }
    assert_eq!(
        traced, 14,
        "every receipt but the two value transfers ran code"
    );
    // The second increment of block 2 read the first one's write: its bundle carries both.
    let second = opmeter_node::audit::bundle(node.chain(), &receipts[8].tx_hash)
        .unwrap()
        .unwrap();
    let indexes: Vec<u32> = second.transactions.iter().map(|t| t.index).collect();
    assert!(
        indexes.contains(&3) && indexes.last() == Some(&4),
        "{indexes:?}"
    );
    // Bob's last transfer needs his increment (his nonce), which needs the nested call before it
    // (the counter's value), which needs alice's spin (her nonce); not alice's last call.
    let last = opmeter_node::audit::bundle(node.chain(), &receipts[15].tx_hash)
        .unwrap()
        .unwrap();
    let indexes: Vec<u32> = last.transactions.iter().map(|t| t.index).collect();
    assert_eq!(indexes, [0, 1, 2, 4]);
}

fn flip(hex0x: &str, byte: usize) -> String {
    let mut bytes = hex::decode(&hex0x[2..]).unwrap();
    bytes[byte] ^= 0x01;
    format!("0x{}", hex::encode(bytes))
}

fn len_bytes(hex0x: &str) -> usize {
    (hex0x.len() - 2) / 2
}

/// Tampering must never verify: an error, or a receipt that does not re-derive.
fn rejected(bundle: &opmeter_ledger::bundle::Bundle, vm: &opmeter_vm::Vm) -> bool {
    match opmeter_ledger::bundle::verify_bundle(bundle, vm) {
        Ok(verdict) => !verdict.matches(),
        Err(_) => true,
    }
}

#[test]
fn every_tampered_byte_of_a_bundle_is_detected() {
    use opmeter_ledger::bundle::{verify_bundle, BundleError};
    let dir = tempfile::tempdir().unwrap();
    let node = open(dir.path());
    let receipts = audited_chain(&node);
    let vm = opmeter_vm::Vm::new(opmeter_vm::Schedule::v1());
    // The nested call: two codes, an earlier transaction of its block, proofs of absent keys.
    let nested = &receipts[12];
    assert_eq!(nested.status, ReceiptStatus::Success);
    let original = opmeter_node::audit::bundle(node.chain(), &nested.tx_hash)
        .unwrap()
        .unwrap();
    assert!(verify_bundle(&original, &vm).unwrap().matches());
    assert_eq!(
        original.codes.len(),
        3,
        "proxy, counter, and the loop the spin ran"
    );
    assert_eq!(original.transactions.len(), 2, "alice's spin set her nonce");

    let mut tampered = 0u32;
    let mut check = |bundle: &opmeter_ledger::bundle::Bundle, what: &str| {
        assert!(
            rejected(bundle, &vm),
            "tampering with {what} went unnoticed"
        );
        tampered += 1;
    };
    // A token transfer to a new holder: its balance key is proven absent.
    let transfer = opmeter_node::audit::bundle(node.chain(), &receipts[4].tx_hash)
        .unwrap()
        .unwrap();
    assert!(verify_bundle(&transfer, &vm).unwrap().matches());
    assert!(
        transfer.reads.iter().any(|r| r.value.is_none()),
        "an absent key is proven absent"
    );
    for original in [&original, &transfer] {
        // Every byte of the transactions (input, keys, signatures), the receipt, every proof and
        // every proven value; code bytes sampled across the module (every byte changes the hash).
        for t in 0..original.transactions.len() {
            for byte in 0..len_bytes(&original.transactions[t].signed) {
                let mut b = original.clone();
                b.transactions[t].signed = flip(&b.transactions[t].signed, byte);
                check(&b, &format!("transaction {t} byte {byte}"));
            }
        }
        for byte in 0..len_bytes(&original.receipt) {
            let mut b = original.clone();
            b.receipt = flip(&b.receipt, byte);
            check(&b, &format!("receipt byte {byte}"));
        }
        for r in 0..original.reads.len() {
            // Every byte of the first two proofs, every seventh of the others (run time).
            let step = if r < 2 { 1 } else { 7 };
            for byte in (0..len_bytes(&original.reads[r].proof)).step_by(step) {
                let mut b = original.clone();
                b.reads[r].proof = flip(&b.reads[r].proof, byte);
                check(&b, &format!("proof {r} byte {byte}"));
            }
            if let Some(value) = &original.reads[r].value {
                for byte in 0..len_bytes(value) {
                    let mut b = original.clone();
                    b.reads[r].value = Some(flip(value, byte));
                    check(&b, &format!("value {r} byte {byte}"));
                }
            }
        }
        for c in 0..original.codes.len() {
            let len = len_bytes(&original.codes[c].wasm);
            for byte in (0..len).step_by(4099).chain(len - 4..len) {
                let mut b = original.clone();
                b.codes[c].wasm = flip(&b.codes[c].wasm, byte);
                check(&b, &format!("code {c} byte {byte}"));
            }
        }
        for byte in 0..len_bytes(&original.parent_header) {
            let mut b = original.clone();
            b.parent_header = flip(&b.parent_header, byte);
            check(&b, &format!("parent header byte {byte}"));
        }
    }
    assert!(tampered > 1_000, "{tampered}");

    // Each class fails with its own error.
    let mut b = original.clone();
    b.codes[0].wasm = flip(&b.codes[0].wasm, 100);
    assert!(matches!(
        verify_bundle(&b, &vm),
        Err(BundleError::CodeHash { .. })
    ));
    let mut b = original.clone();
    let last = b.transactions.len() - 1;
    let len = len_bytes(&b.transactions[last].signed);
    b.transactions[last].signed = flip(&b.transactions[last].signed, len - 70); // the input
    assert!(matches!(
        verify_bundle(&b, &vm),
        Err(BundleError::TransactionNotInBlock { .. })
    ));
    let mut b = original.clone();
    let r = b.reads.iter().position(|r| r.value.is_some()).unwrap();
    b.reads[r].value = Some(flip(b.reads[r].value.as_ref().unwrap(), 0));
    assert!(matches!(
        verify_bundle(&b, &vm),
        Err(BundleError::Proof { .. })
    ));
    let mut b = original.clone();
    b.reads.remove(0);
    assert!(matches!(
        verify_bundle(&b, &vm),
        Err(BundleError::Incomplete(_))
    ));
    let mut b = original.clone();
    b.transactions.remove(0); // the spin that set alice's nonce: now the nonce is wrong
    let verdict = verify_bundle(&b, &vm).unwrap();
    assert_eq!(verdict.first_difference().unwrap().field, "status");
    let mut b = original.clone();
    b.transactions.swap(0, 1);
    assert!(matches!(
        verify_bundle(&b, &vm),
        Err(BundleError::TransactionNotInBlock { .. })
    ));
    let mut b = original.clone();
    b.schedule_hash = format!("0x{}", "00".repeat(32));
    assert!(matches!(
        verify_bundle(&b, &vm),
        Err(BundleError::Schedule { .. })
    ));
    let mut b = original.clone();
    b.format = "opmeter-audit-bundle/0".into();
    assert!(matches!(
        verify_bundle(&b, &vm),
        Err(BundleError::Format(_))
    ));

    // A forged block that bills more: a receipt with more gas, committed by a receipts root the
    // forger recomputed. Every proof checks, but re-execution shows the first difference (and the
    // block hash is not the chain's).
    use opmeter_ledger::block::{Header, Receipt as StoredReceipt};
    use opmeter_ledger::merkle::{merkle_path, merkle_root};
    let stored = node.chain().store().receipts(nested.height).unwrap();
    let mut forged_receipts = stored.clone();
    forged_receipts[nested.index as usize].gas_used += 1;
    let leaves: Vec<_> = forged_receipts.iter().map(StoredReceipt::hash).collect();
    let mut header: Header =
        borsh::from_slice(&hex::decode(&original.header[2..]).unwrap()).unwrap();
    header.receipts_root = merkle_root(leaves.iter().copied());
    let mut b = original.clone();
    b.header = format!("0x{}", hex::encode(borsh::to_vec(&header).unwrap()));
    b.receipt = format!(
        "0x{}",
        hex::encode(borsh::to_vec(&forged_receipts[nested.index as usize]).unwrap())
    );
    b.receipt_path = merkle_path(&leaves, nested.index)
        .unwrap()
        .iter()
        .map(|h| h.to_hex())
        .collect();
    let verdict = verify_bundle(&b, &vm).unwrap();
    let first = verdict.first_difference().expect("the bill differs");
    assert_eq!(first.field, "gasUsed");
    assert_eq!(first.stored, (nested.gas_used + 1).to_string());
    assert_eq!(first.replayed, nested.gas_used.to_string());
    assert_ne!(
        verdict.block_hash,
        node.chain()
            .store()
            .header(nested.height)
            .unwrap()
            .unwrap()
            .hash()
    );
}

/// Name transactions on a node under both schedules: every receipt (status, gas, breakdown)
/// and the state root after them pinned; every receipt replays and its bundle verifies offline;
/// a second node importing the blocks reaches the same root.
#[test]
fn name_transactions_bill_exactly_and_replay_identically_under_both_schedules() {
    let mut text = String::new();
    for version in [1u32, 2] {
        let dir = tempfile::tempdir().unwrap();
        let genesis = Genesis {
            schedule_version: version,
            ..genesis()
        };
        let open_with = |dir: &std::path::Path| {
            Node::open(&NodeConfig {
                data_dir: dir.to_path_buf(),
                genesis: Some(genesis.clone()),
                mode: BlockMode::Manual,
                sync_writes: false,
                mempool: Default::default(),
            })
            .unwrap()
        };
        let node = open_with(dir.path());
        let mut alice = Wallet::new(key(1), CHAIN);
        let mut bob = Wallet::new(key(2), CHAIN);
        alice.gas_limit = 50_000_000;
        bob.gas_limit = 50_000_000;
        let code = contract("counter");
        let deployed = block(
            &node,
            &[
                alice.deploy(code, r#"{"start": 1}"#, b"one"),
                alice.deploy(code, r#"{"start": 2}"#, b"two"),
                bob.deploy(code, r#"{"start": 3}"#, b"bob"),
            ],
        );
        let [one, two, bobs] = [0, 1, 2].map(|i| deployed[i].contract_address.unwrap());
        alice.gas_limit = 2_000_000;
        bob.gas_limit = 2_000_000;
        let receipts = block(
            &node,
            &[
                alice.register_name("hello", one, b"one"),
                bob.register_name("hello", bobs, b"bob"),
                bob.register_name("bobs", one, b"one"),
                bob.point_name("hello", bobs, b"bob"),
                alice.point_name("hello", two, b"two"),
                alice.transfer_name("hello", bob.address()),
                bob.point_name("hello", bobs, b"bob"),
                alice.transfer_name("nobody", bob.address()),
                bob.register_name("abcdefghijklmnopqrstuvwxyz012345", bobs, b"bob"),
            ],
        );
        let statuses: Vec<&str> = receipts.iter().map(|r| r.status.name()).collect();
        assert_eq!(
            statuses,
            [
                "success",
                "nameTaken",
                "notDeployer",
                "notNameOwner",
                "success",
                "success",
                "success",
                "nameNotFound",
                "success",
            ]
        );
        // The name now points at Bob's counter: reads see it.
        let state = node.chain().read_state(None).unwrap().unwrap();
        let record = state
            .view()
            .name(&opmeter_ledger::name::Name::parse("hello").unwrap())
            .unwrap()
            .unwrap();
        assert_eq!((record.owner, record.target), (bob.address(), bobs));
        assert_eq!(query(&node, record.target, "get", ""), "3");

        let vm = node.chain().vm().clone();
        for receipt in &receipts {
            assert_eq!(receipt.breakdown_total(), receipt.gas_used);
            let report = opmeter_node::audit::replay(node.chain(), &receipt.tx_hash)
                .unwrap()
                .unwrap();
            assert!(report.matches(), "{:?}", report.first_difference());
            let bundle = opmeter_node::audit::bundle(node.chain(), &receipt.tx_hash)
                .unwrap()
                .unwrap();
            let verdict = opmeter_ledger::bundle::verify_bundle(&bundle, &vm).unwrap();
            assert!(verdict.matches(), "{:?}", verdict.first_difference());
        }
        let other_dir = tempfile::tempdir().unwrap();
        let other = open_with(other_dir.path());
        for height in 1..=node.head().header.height {
            let block = node.chain().store().block(height).unwrap().unwrap();
            other.import_block(&block).unwrap();
        }
        assert_eq!(other.head().hash, node.head().hash);

        text.push_str(&format!(
            "schedule v{version}: state root {}\n",
            node.head().header.state_root
        ));
        text.push_str(&render(&receipts));
    }
    expect_file!["snapshots/node_names.txt"].assert_eq(&text);
}
