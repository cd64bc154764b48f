//! A read sees exactly one committed state: read-only calls and queries run while blocks commit
//! back to back, and every answer is the state of the block it reports, never a mix of two.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use opmeter_ledger::block::ReceiptStatus;
use opmeter_node::api::NodeBackend;
use opmeter_rpc::backend::Backend;
use opmeter_vm::{Address, CallRequest, Interrupt, U256};
use parking_lot::Mutex;

use crate::support::{wallet, TestNode};

/// Two 8-byte counters under keys `a` and `b`: `init` sets a = TOTAL, b = 0; `shift` moves one
/// unit from `a` to `b` (their sum never changes); `sum` reads `a`, spins, then reads `b`, and
/// outputs `a ‖ b` (little-endian), so a reader that is not pinned to one state has a wide
/// window in which a commit lands between its two reads.
const PAIR: &str = r#"(module
  (import "opmeter" "storage_write" (func $write (param i32 i32 i32 i32)))
  (import "opmeter" "storage_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "opmeter" "output_set" (func $out (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "ab")
  (func $load (param $key i32) (param $dst i32)
    (drop (call $read (local.get $key) (i32.const 1) (local.get $dst) (i32.const 8))))
  (func $store (param $key i32) (param $src i32)
    (call $write (local.get $key) (i32.const 1) (local.get $src) (i32.const 8)))
  (func (export "init")
    (i64.store (i32.const 16) (i64.const 1000000))
    (i64.store (i32.const 24) (i64.const 0))
    (call $store (i32.const 0) (i32.const 16))
    (call $store (i32.const 1) (i32.const 24)))
  (func (export "shift")
    (call $load (i32.const 0) (i32.const 16))
    (call $load (i32.const 1) (i32.const 24))
    (i64.store (i32.const 16) (i64.sub (i64.load (i32.const 16)) (i64.const 1)))
    (i64.store (i32.const 24) (i64.add (i64.load (i32.const 24)) (i64.const 1)))
    (call $store (i32.const 0) (i32.const 16))
    (call $store (i32.const 1) (i32.const 24)))
  (func (export "sum") (local $i i32)
    (call $load (i32.const 0) (i32.const 16))
    (local.set $i (i32.const 30000))
    (loop $spin
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (br_if $spin (local.get $i)))
    (call $load (i32.const 1) (i32.const 24))
    (call $out (i32.const 16) (i32.const 16))))"#;

const TOTAL: u64 = 1_000_000;
const BLOCKS: u64 = 150;

fn pair_of(output: &[u8]) -> (u64, u64) {
    assert_eq!(output.len(), 16, "{output:?}");
    let a = u64::from_le_bytes(output[..8].try_into().unwrap());
    let b = u64::from_le_bytes(output[8..].try_into().unwrap());
    (a, b)
}

#[test]
fn read_only_calls_see_one_committed_state_while_blocks_commit() {
    let test = TestNode::new();
    let mut alice = wallet(1);
    let deploy = alice.deploy(&wat::parse_str(PAIR).unwrap(), "", b"pair");
    let receipts = test.run(std::slice::from_ref(&deploy));
    assert_eq!(receipts[0].status, ReceiptStatus::Success, "{receipts:?}");
    let pair = receipts[0].contract_address.unwrap();
    let first = test.node.head().header.height;
    // What `b` is after each block: one shift per block.
    let expected_b = move |height: u64| height - first;

    let backend = NodeBackend::new(Arc::clone(&test.node));
    let done = AtomicBool::new(false);
    let seen = Mutex::new(BTreeMap::<u64, u64>::new());
    let sum = CallRequest {
        caller: Address([9; 32]),
        contract: pair,
        method: "sum".into(),
        input: Vec::new(),
        value: U256::zero(),
        gas_limit: 10_000_000,
    };
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut alice = alice.clone();
            for _ in 0..BLOCKS {
                let receipts = test.run(&[alice.call(pair, "shift", "")]);
                assert_eq!(receipts[0].status, ReceiptStatus::Success);
            }
            done.store(true, Ordering::SeqCst);
        });
        for reader in 0..2 {
            let (backend, done, seen, sum) = (&backend, &done, &seen, &sum);
            scope.spawn(move || {
                let mut calls = 0u64;
                while !done.load(Ordering::SeqCst) {
                    let read = backend.call(sum.clone(), None, Interrupt::new()).unwrap();
                    let (a, b) = pair_of(&read.value.output);
                    assert_eq!(
                        (a + b, b),
                        (TOTAL, expected_b(read.height)),
                        "reader {reader}, call {calls}: a = {a}, b = {b} is not the state of \
                         block {} (its sum or its b differs)",
                        read.height
                    );
                    *seen.lock().entry(read.height).or_default() += 1;
                    calls += 1;
                }
            });
        }
    });
    let seen = seen.into_inner();
    // The readers really ran across many commits (otherwise nothing was tested).
    assert!(
        seen.len() >= 20,
        "reads landed on only {} heights: {seen:?}",
        seen.len()
    );

    // Queries at the head through the other read paths report the state they read too.
    let head = test.node.head().header.height;
    let account = backend.account(pair, None).unwrap();
    assert_eq!(account.height, head);
    let storage = backend.storage(pair, b"b", None).unwrap();
    assert_eq!(storage.height, head);
    assert_eq!(
        storage.value.value.unwrap(),
        expected_b(head).to_le_bytes().to_vec()
    );
    let old = backend
        .call(sum.clone(), Some(first + 3), Interrupt::new())
        .unwrap();
    assert_eq!(old.height, first + 3);
    assert_eq!(pair_of(&old.value.output), (TOTAL - 3, 3));
}

#[test]
fn a_transaction_is_pending_or_committed_never_unknown_while_its_block_commits() {
    let test = TestNode::new();
    let backend = Arc::new(NodeBackend::new(Arc::clone(&test.node)));
    let mut sender = wallet(1);
    for round in 0..30 {
        let tx = sender.transfer(Address([7; 32]), U256::one());
        let hash = tx.hash();
        test.node.submit(&tx.encode()).expect("admitted");
        let done = Arc::new(AtomicBool::new(false));
        let reader = {
            let backend = Arc::clone(&backend);
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let mut reads = 0u64;
                loop {
                    let known = backend.transaction(hash).unwrap();
                    let known = known.unwrap_or_else(|| panic!("round {round}: unknown"));
                    reads += 1;
                    if known.location.is_some() && done.load(Ordering::SeqCst) {
                        return reads;
                    }
                }
            })
        };
        test.block();
        done.store(true, Ordering::SeqCst);
        assert!(reader.join().expect("never unknown") > 0);
    }
}
