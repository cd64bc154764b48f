//! Every admission refusal, with its stable code: nothing is stored, the node keeps serving.

use opmeter_ledger::admission::{AdmissionCode, AdmissionError};
use opmeter_ledger::tx::{Payload, SignedTransaction};
use opmeter_node::error::SubmitError;
use opmeter_node::mempool::MempoolConfig;
use opmeter_node::service::Node;
use opmeter_vm::{Address, Schedule, U256};

use crate::support::{config, genesis, key, wallet, TestNode, CHAIN};

/// Submits and expects a refusal with `code`; checks that nothing was stored.
fn refused(test: &TestNode, bytes: &[u8], code: u16) -> AdmissionError {
    let pending = test.node.mempool_len();
    let persisted = test.node.chain().store().mempool_all().unwrap().len();
    let head = test.node.head().hash;
    let error = match test.node.submit(bytes) {
        Err(SubmitError::Rejected(e)) => e,
        other => panic!("expected refusal {code}, got {other:?}"),
    };
    assert_eq!(error.code().code(), code, "{error}");
    assert_eq!(AdmissionCode::from_code(code), Some(error.code()));
    assert_eq!(
        test.node.mempool_len(),
        pending,
        "nothing pending was added"
    );
    assert_eq!(
        test.node.chain().store().mempool_all().unwrap().len(),
        persisted,
        "nothing was persisted"
    );
    assert_eq!(test.node.head().hash, head);
    error
}

fn transfer() -> Payload {
    Payload::Transfer {
        to: Address([7; 32]),
        amount: U256::from(1u64),
    }
}

#[test]
fn oversize_transactions_are_refused_before_decoding() {
    let test = TestNode::new();
    let max = Schedule::v1().limits.max_tx_len_bytes as usize;
    let error = refused(&test, &vec![0u8; max + 1], 1);
    assert!(matches!(error, AdmissionError::TooLarge { .. }));
}

#[test]
fn malformed_bytes_are_refused() {
    let test = TestNode::new();
    refused(&test, b"definitely not borsh", 2);
    let mut bytes = wallet(1).transfer(Address([7; 32]), U256::one()).encode();
    bytes.push(0);
    refused(&test, &bytes, 2);
    refused(&test, &[], 2);
}

#[test]
fn another_chains_transaction_is_refused() {
    let test = TestNode::new();
    let mut other = wallet(1);
    other.chain_id = "someone-else".into();
    let error = refused(&test, &other.sign(transfer()).encode(), 3);
    assert!(error.to_string().contains("someone-else"));
}

#[test]
fn bad_signatures_are_refused() {
    let test = TestNode::new();
    // Signed by key 2 but claiming key 1's public key.
    let forged = wallet(1).unsigned(transfer()).sign(&key(2));
    refused(&test, &forged.encode(), 4);
    // A valid signature over other contents.
    let mut tampered = wallet(1).sign(transfer());
    tampered.tx.gas_limit += 1;
    refused(&test, &tampered.encode(), 4);
    // Garbage signature bytes.
    let mut garbage = wallet(1).sign(transfer());
    garbage.signature = [0xAB; 64];
    refused(&test, &garbage.encode(), 4);
}

#[test]
fn gas_limits_outside_the_block_limit_or_below_intrinsic_gas_are_refused() {
    let test = TestNode::new();
    let mut w = wallet(1);
    w.gas_limit = genesis().block_gas_limit + 1;
    refused(&test, &w.sign(transfer()).encode(), 5);
    let mut w = wallet(1);
    w.gas_limit = 1_000;
    let error = refused(&test, &w.sign(transfer()).encode(), 6);
    assert!(matches!(
        error,
        AdmissionError::GasLimitBelowIntrinsic { intrinsic_gas, .. } if intrinsic_gas > 20_000
    ));
}

#[test]
fn gas_prices_below_the_minimum_are_refused() {
    let test = TestNode::new();
    let mut w = wallet(1);
    w.gas_price = U256::zero();
    refused(&test, &w.sign(transfer()).encode(), 7);
}

#[test]
fn stale_and_far_future_nonces_are_refused() {
    let test = TestNode::new();
    let mut w = wallet(1);
    let first = w.sign(transfer());
    test.run(std::slice::from_ref(&first));
    // Replaying the committed transaction: already known.
    refused(&test, &first.encode(), 12);
    // A different transaction with the used nonce: stale.
    let mut stale = wallet(1);
    stale.gas_limit += 7;
    refused(&test, &stale.sign(transfer()).encode(), 8);
    // Beyond the window.
    let mut far = wallet(1);
    far.nonce = 1 + MempoolConfig::default().nonce_window + 1;
    let error = refused(&test, &far.sign(transfer()).encode(), 9);
    assert!(matches!(
        error,
        AdmissionError::NonceTooHigh { expected: 1, .. }
    ));
    // Inside the window: admitted (and waits for the gap).
    let mut near = wallet(1);
    near.nonce = 5;
    test.node.submit(&near.sign(transfer()).encode()).unwrap();
}

#[test]
fn balances_must_cover_gas_and_value_including_pending_transactions() {
    let test = TestNode::new();
    let mut poor = wallet(9); // not funded
    refused(&test, &poor.sign(transfer()).encode(), 10);

    let mut w = wallet(1);
    w.gas_limit = 100_000;
    w.gas_price = U256::from(1_000_000u64); // 10^11 per transaction, balance 10^12
    for _ in 0..9 {
        test.node.submit(&w.sign(transfer()).encode()).unwrap();
    }
    // Nine pending may cost 9 × (10^11 + 1); a tenth would exceed 10^12.
    let error = refused(&test, &w.sign(transfer()).encode(), 10);
    assert!(matches!(error, AdmissionError::InsufficientBalance { .. }));
}

#[test]
fn invalid_code_is_refused_with_every_violation() {
    let test = TestNode::new();
    let wasm = wat::parse_str(
        r#"(module (import "env" "clock" (func)) (memory 65) (func (export "f") (f32.const 1) drop))"#,
    )
    .unwrap();
    let mut w = wallet(1);
    let error = refused(&test, &w.deploy(&wasm, "", b"").encode(), 11);
    let AdmissionError::InvalidCode(report) = error else {
        panic!("expected invalid code")
    };
    assert!(report.violations.len() >= 2, "{report}");
}

#[test]
fn duplicates_and_taken_nonces_are_refused() {
    let test = TestNode::new();
    let mut w = wallet(1);
    let tx = w.sign(transfer());
    test.node.submit(&tx.encode()).unwrap();
    refused(&test, &tx.encode(), 12);
    let mut again = wallet(1);
    again.gas_limit += 1;
    refused(&test, &again.sign(transfer()).encode(), 13);
}

#[test]
fn a_full_mempool_refuses_more() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), genesis());
    cfg.mempool.max_txs = 2;
    let node = Node::open(&cfg).unwrap();
    let test = TestNode { _dir: dir, node };
    let mut w = wallet(1);
    for _ in 0..2 {
        test.node.submit(&w.sign(transfer()).encode()).unwrap();
    }
    refused(&test, &w.sign(transfer()).encode(), 14);
}

#[test]
fn the_node_keeps_serving_after_refusals() {
    let test = TestNode::new();
    for _ in 0..3 {
        assert!(matches!(
            test.node.submit(b"junk"),
            Err(SubmitError::Rejected(AdmissionError::Malformed(_)))
        ));
    }
    let receipts = test.run(&[wallet(1).transfer(Address([7; 32]), U256::one())]);
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0].status.code(), 0);
    let _ = SignedTransaction::decode(&[]).unwrap_err();
    assert_eq!(CHAIN, test.node.chain().genesis().chain_id);
}
