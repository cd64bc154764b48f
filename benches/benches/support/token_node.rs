//! Set-up shared by the node benchmarks (`node`, `audit`): a node on real RocksDB (synced
//! writes) with the `token` contract and funded senders that each hold tokens.

use std::collections::BTreeMap;
use std::sync::Arc;

use ed25519_dalek::SigningKey;
use opmeter_ledger::block::ReceiptStatus;
use opmeter_ledger::tx::Wallet;
use opmeter_node::genesis::{address_of, Genesis};
use opmeter_node::mempool::MempoolConfig;
use opmeter_node::service::{BlockMode, Node, NodeConfig};
use opmeter_tests::contract;
use opmeter_vm::Address;

/// A node with the `token` contract and `senders` funded wallets (seeds `1..=senders`).
pub(crate) struct TokenNode {
    /// Keeps the database directory alive.
    pub(crate) _dir: tempfile::TempDir,
    /// The node (manual block mode).
    pub(crate) node: Arc<Node>,
    /// The senders, each holding native balance and 10^9 tokens.
    pub(crate) wallets: Vec<Wallet>,
    /// The token contract.
    pub(crate) token: Address,
}

/// The key of `seed`, distinct per benchmark through `tag`.
pub(crate) fn key(tag: u8, seed: u8) -> SigningKey {
    let mut bytes = [seed; 32];
    bytes[0] = tag;
    SigningKey::from_bytes(&bytes)
}

/// Opens a node on a temporary RocksDB for `chain`, deploys `token` from the owner (seed 0) and
/// gives each of `senders` wallets 10^9 tokens, committing every block.
pub(crate) fn token_node(chain: &str, tag: u8, senders: u8, block_tx_max: u32) -> TokenNode {
    let mut balances = BTreeMap::new();
    for seed in 0..=senders {
        balances.insert(
            address_of(&key(tag, seed)),
            "1000000000000000000".to_string(),
        );
    }
    let genesis = Genesis {
        chain_id: chain.into(),
        timestamp_ms: 1_767_225_600_000,
        block_gas_limit: 100_000_000_000,
        block_tx_max,
        min_gas_price: "1".into(),
        fee_collector: Address([0xFE; 32]),
        balances,
        dev: false,
        schedule_version: 2,
        validators: Vec::new(),
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
    let mut owner = Wallet::new(key(tag, 0), chain);
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
    let wallets: Vec<Wallet> = (1..=senders)
        .map(|seed| {
            let mut w = Wallet::new(key(tag, seed), chain);
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
    TokenNode {
        _dir: dir,
        node,
        wallets,
        token,
    }
}

/// Produces blocks until the mempool is empty; every receipt must succeed.
pub(crate) fn drain(node: &Node) {
    while node.mempool_len() > 0 {
        let block = node.produce_block(false).unwrap().unwrap();
        assert!(block
            .receipts
            .iter()
            .all(|r| r.status == ReceiptStatus::Success));
    }
}
