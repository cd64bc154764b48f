//! Blocks, receipts, fees, state roots, proofs and restarts on real RocksDB.

use jmt::RootHash;
use opmeter_ledger::block::ReceiptStatus;
use opmeter_ledger::state::StateKey;
use opmeter_ledger::tx::SignedTransaction;
use opmeter_node::service::Node;
use opmeter_node::store::LatestState;
use opmeter_vm::{Address, CallRequest, Schedule, U256};

use crate::support::{config, genesis, wallet, TestNode, FEES, KV};

fn intrinsic(tx: &SignedTransaction) -> u64 {
    let costs = Schedule::v1().transaction;
    costs.tx_base + costs.tx_per_byte * tx.encode().len() as u64
}

#[test]
fn value_transfers_move_the_amount_and_exactly_gas_used_times_price_in_fees() {
    let test = TestNode::new();
    let mut alice = wallet(1);
    alice.gas_price = U256::from(3u64);
    let bob = wallet(2).address();
    let before_alice = test.balance(&alice.address());
    let before_bob = test.balance(&bob);
    let tx = alice.transfer(bob, U256::from(12_345u64));
    let receipts = test.run(std::slice::from_ref(&tx));
    let receipt = &receipts[0];
    assert_eq!(receipt.status, ReceiptStatus::Success);
    assert_eq!(receipt.gas_used, intrinsic(&tx));
    assert_eq!(receipt.gas_breakdown["transaction"], receipt.gas_used);
    let fee = U256::from(receipt.gas_used) * U256::from(3u64);
    assert_eq!(receipt.fee, fee);
    assert_eq!(
        test.balance(&alice.address()),
        before_alice - U256::from(12_345u64) - fee
    );
    assert_eq!(test.balance(&bob), before_bob + U256::from(12_345u64));
    assert_eq!(test.balance(&FEES), fee);
    let account = test
        .node
        .chain()
        .committed_account(&alice.address())
        .unwrap();
    assert_eq!(account.nonce, 1);
}

#[test]
fn failed_calls_pay_their_fee_and_roll_back_their_writes() {
    let test = TestNode::new();
    let mut alice = wallet(1);
    let wasm = wat::parse_str(KV).unwrap();
    let deploy = alice.deploy(&wasm, "", b"kv");
    let receipts = test.run(std::slice::from_ref(&deploy));
    assert_eq!(
        receipts[0].status,
        ReceiptStatus::Success,
        "{:?}",
        receipts[0]
    );
    let kv = receipts[0]
        .contract_address
        .expect("deploy receipt has an address");
    assert_eq!(
        kv,
        Address::for_contract(&alice.address(), &opmeter_vm::CodeHash::of(&wasm), b"kv")
    );
    assert_eq!(
        receipts[0].gas_breakdown["deploy"],
        50_000 + 20 * wasm.len() as u64
    );

    let put = alice.call(kv, "put", "one");
    let fail = alice.call(kv, "fail", "two");
    alice.gas_limit = 200_000;
    let spin = alice.call(kv, "spin", "");
    let before = test.balance(&alice.address());
    let receipts = test.run(&[put, fail, spin]);
    let statuses: Vec<_> = receipts.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            ReceiptStatus::Success,
            ReceiptStatus::Trap,
            ReceiptStatus::OutOfGas
        ]
    );
    assert_eq!(receipts[1].trap_code, Some(1), "unreachable");
    assert_eq!(
        receipts[2].gas_used, 200_000,
        "out of gas charges the whole limit"
    );
    let fees: U256 = receipts
        .iter()
        .map(|r| r.fee)
        .fold(U256::zero(), |a, b| a + b);
    for r in &receipts {
        assert_eq!(r.fee, U256::from(r.gas_used));
        assert_eq!(r.breakdown_total(), r.gas_used);
    }
    assert_eq!(test.balance(&alice.address()), before - fees);
    let store = test.node.chain().store();
    assert_eq!(
        store.storage(&kv, b"k").unwrap(),
        Some(b"one".to_vec()),
        "the trap's write was rolled back"
    );

    let get = CallRequest {
        caller: alice.address(),
        contract: kv,
        method: "get".into(),
        input: vec![],
        value: U256::zero(),
        gas_limit: 1_000_000,
    };
    let chain = test.node.chain();
    let head = chain.read_state(None).unwrap().unwrap();
    assert_eq!(head.height(), test.node.head().header.height);
    let outcome = chain.query(&head, get.clone()).unwrap();
    assert_eq!(outcome.output, b"one");
    // Historical read: before the put, the slot did not exist (storage_read returns -1).
    let old = chain
        .query(&chain.read_state(Some(1)).unwrap().unwrap(), get)
        .unwrap();
    assert!(chain.read_state(Some(head.height() + 1)).unwrap().is_none());
    assert_ne!(old.output, b"one");
}

#[test]
fn a_storage_proof_verifies_against_the_header_state_root_and_fails_for_a_wrong_value() {
    let test = TestNode::new();
    let mut alice = wallet(1);
    let wasm = wat::parse_str(KV).unwrap();
    let kv = test.run(&[alice.deploy(&wasm, "", b"")])[0]
        .contract_address
        .unwrap();
    let block = {
        test.node
            .submit(&alice.call(kv, "put", "proved").encode())
            .unwrap();
        test.block()
    };
    let height = block.block.header.height;
    let root = RootHash(block.block.header.state_root.0);
    let key = StateKey::Storage(kv, b"k".to_vec());
    let (value, proof) = test.node.chain().store().prove(&key, height).unwrap();
    assert_eq!(value.as_deref(), Some(&b"proved"[..]));
    // A client needs only the key bytes, the value and the header's root.
    let key_hash = jmt::KeyHash(*blake3::hash(&key.encode()).as_bytes());
    proof.verify_existence(root, key_hash, b"proved").unwrap();
    assert!(proof.verify_existence(root, key_hash, b"forged").is_err());
    assert!(proof.verify_nonexistence(root, key_hash).is_err());
    // The account record is proven the same way.
    let account_key = StateKey::Account(alice.address());
    let (account, proof) = test
        .node
        .chain()
        .store()
        .prove(&account_key, height)
        .unwrap();
    proof
        .verify_existence(root, account_key.key_hash(), account.unwrap())
        .unwrap();
    // An absent key has an exclusion proof.
    let absent = StateKey::Storage(kv, b"nope".to_vec());
    let (none, proof) = test.node.chain().store().prove(&absent, height).unwrap();
    assert!(none.is_none());
    proof.verify_nonexistence(root, absent.key_hash()).unwrap();
}

#[test]
fn two_nodes_fed_the_same_blocks_have_the_same_roots_and_receipts() {
    let producer = TestNode::new();
    let follower = TestNode::new();
    let mut alice = wallet(1);
    let mut bob = wallet(2);
    let wasm = wat::parse_str(KV).unwrap();
    let kv = producer.run(&[alice.deploy(&wasm, "", b"")])[0]
        .contract_address
        .unwrap();
    producer.run(&[
        alice.call(kv, "put", "a"),
        bob.transfer(alice.address(), U256::from(5u64)),
        bob.call(kv, "fail", "b"),
        alice.call(kv, "put", "c"),
    ]);
    let head = producer.node.head().header.height;
    for height in 1..=head {
        let block = producer
            .node
            .chain()
            .store()
            .block(height)
            .unwrap()
            .unwrap();
        let receipts = follower.node.import_block(&block).unwrap();
        assert_eq!(
            receipts,
            producer.node.chain().store().receipts(height).unwrap()
        );
        assert_eq!(follower.node.head().hash, block.header.hash());
    }
    // A tampered block is refused and changes nothing.
    let mut forged = producer.node.chain().store().block(head).unwrap().unwrap();
    forged.header.height = head + 1;
    forged.header.parent_hash = follower.node.head().hash;
    forged.header.timestamp_ms += 1_000;
    assert!(
        follower.node.import_block(&forged).is_err(),
        "replayed transactions"
    );
    assert_eq!(follower.node.head().header.height, head);
}

#[test]
fn a_reopened_node_continues_the_same_chain_and_keeps_pending_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let mut alice = wallet(1);
    let bob = wallet(2).address();
    let (head, pending_hash) = {
        let node = Node::open(&config(dir.path(), genesis())).unwrap();
        node.submit(&alice.transfer(bob, U256::one()).encode())
            .unwrap();
        node.produce_block(false).unwrap().unwrap();
        let pending = node
            .submit(&alice.transfer(bob, U256::one()).encode())
            .unwrap();
        (node.head(), pending)
    };
    let node = Node::open(&config(dir.path(), genesis())).unwrap();
    assert_eq!(node.head().hash, head.hash);
    assert_eq!(
        node.mempool_len(),
        1,
        "the acknowledged transaction is pending again"
    );
    let block = node.produce_block(false).unwrap().unwrap();
    assert_eq!(block.receipts[0].tx_hash, pending_hash);
    // Another genesis on the same directory is refused.
    let mut other = genesis();
    other.chain_id = "other".into();
    assert!(Node::open(&config(dir.path(), other)).is_err());
}

#[test]
fn a_block_of_transactions_out_of_nonce_order_executes_in_nonce_order() {
    let test = TestNode::new();
    let mut alice = wallet(1);
    let bob = wallet(2).address();
    let first = alice.transfer(bob, U256::one());
    let second = alice.transfer(bob, U256::one());
    test.node.submit(&second.encode()).unwrap();
    test.node.submit(&first.encode()).unwrap();
    let block = test.block();
    let nonces: Vec<u64> = block
        .block
        .transactions
        .iter()
        .map(|t| t.tx.nonce)
        .collect();
    assert_eq!(nonces, [0, 1]);
    assert!(block
        .receipts
        .iter()
        .all(|r| r.status == ReceiptStatus::Success));
    assert_eq!(test.node.mempool_len(), 0);
}

/// A fixed chain, driven through the phases with fixed timestamps: every header's hash and
/// roots are pinned (deterministic signatures, WAT code, no clock), so any change to the bytes of
/// transactions, receipts, headers or the state tree is a reviewed diff.
#[test]
fn known_answers_for_the_roots_and_hashes_of_a_fixed_chain() {
    let test = TestNode::new();
    let chain = test.node.chain();
    let mut alice = wallet(1);
    let mut bob = wallet(2);
    let wasm = wat::parse_str(KV).unwrap();
    let kv = opmeter_vm::Address::for_contract(
        &alice.address(),
        &opmeter_vm::CodeHash::of(&wasm),
        b"kv",
    );
    let blocks = [
        vec![
            alice.deploy(&wasm, "", b"kv"),
            bob.transfer(alice.address(), U256::from(77u64)),
        ],
        vec![
            alice.call(kv, "put", "first"),
            bob.call(kv, "fail", "never stored"),
            alice.call(kv, "get", ""),
        ],
        vec![],
        vec![bob.call(kv, "put", "second")],
    ];
    let mut lines = Vec::new();
    for (i, txs) in blocks.iter().enumerate() {
        let checked: Vec<_> = txs
            .iter()
            .map(|tx| chain.check_stateless(&tx.encode(), false).unwrap())
            .collect();
        let now_ms = 2_000 + 1_000 * i as u64;
        let proposal = chain.prepare_proposal(checked, now_ms);
        let accepted = chain
            .process_proposal(&proposal, now_ms, &|_| false)
            .unwrap();
        let finalized = chain.finalize_block(&proposal, &accepted, vec![]).unwrap();
        chain.commit().unwrap();
        let h = &finalized.block.header;
        let statuses: Vec<&str> = finalized.receipts.iter().map(|r| r.status.name()).collect();
        lines.push(format!(
            "#{} hash {} gas {} {statuses:?}\n  state {}\n  txs   {}\n  rcpts {}",
            h.height,
            h.hash(),
            h.gas_used,
            h.state_root,
            h.transactions_root,
            h.receipts_root,
        ));
    }
    expect_test::expect![[r##"
        #1 hash 0x563997b36907fb05469a12ac79905a975ea99fab1c01dad9134207eedd115d59 gas 108432 ["success", "success"]
          state 0xe770b191b9918be8cbe8076d4cb99a744e8ab6141e9ed37872142634e8945c6b
          txs   0xb10a70a2aafe2001ed43c8c3076005476226f70f16884736a6ac976e5657c6c1
          rcpts 0x7324548a4990c559a614b4253b849a4f56938f9e6f76de41643c478c5fc3aaa1
        #2 hash 0xc7b1425d7787226e617b89e727215fd5de53ef2bc1765e378c07baff2396c7f1 gas 94065 ["success", "trap", "success"]
          state 0x577d884a1d3cfe0678a7054cfa4dd2afb5240124d89e6a802f1bd51b5d199335
          txs   0x9ef577593510d923af38bfc0304f9a04bd7c898321e0dd5b25a23f472a4366f2
          rcpts 0x3ace118322a1a92e7e3891cf193f065ca7007c6febce9c31348a725eb4a4ff0a
        #3 hash 0x5d48b6febc059e5b0aa417ee71f5b9d00bc2d6834266dca39d3f80edb062f23b gas 0 []
          state 0x577d884a1d3cfe0678a7054cfa4dd2afb5240124d89e6a802f1bd51b5d199335
          txs   0x0000000000000000000000000000000000000000000000000000000000000000
          rcpts 0x0000000000000000000000000000000000000000000000000000000000000000
        #4 hash 0x6d8de279e902485fdd42538d1e8d6a980434ae96151f024380f93938de253740 gas 32396 ["success"]
          state 0x8e34b60ada82ae8823b030ff682f931b54d9960d3c0b23e8d8b0264160f1b338
          txs   0x8319f0e0031baaf4d84d909fb89682c132575a12119d2a064a2cb678d1fc3e74
          rcpts 0x9446130326684db392d5df23f91817f4f0d0df34ed0a8f2c520de03a0f2854e0"##]].assert_eq(&lines.join("\n"));
}
