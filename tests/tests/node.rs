//! The node end to end on real RocksDB: `token` deployed and used through signed transactions,
//! fees re-derived from receipts, receipts pinned, and a second node replaying the same blocks.

use std::collections::BTreeMap;
use std::sync::Arc;

use ed25519_dalek::SigningKey;
use expect_test::expect_file;
use opmeter_node::genesis::{address_of, Genesis};
use opmeter_node::service::{BlockMode, Node, NodeConfig};
use opmeter_node::types::{Receipt, ReceiptStatus, SignedTransaction};
use opmeter_node::wallet::Wallet;
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
    let outcome = node
        .chain()
        .query(
            None,
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
