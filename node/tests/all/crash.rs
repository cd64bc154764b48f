//! Crash safety: the `opmeter` binary is killed with SIGKILL while it commits blocks, again and
//! again. Each restart must reopen at a committed block whose state equals a clean replay, and
//! every transaction the node acknowledged must end up in a block.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use opmeter_ledger::encoding::{Hash32, HexBytes};
use opmeter_ledger::tx::Wallet;
use opmeter_node::genesis::{address_of, dev_key, Genesis};
use opmeter_node::service::Node;
use opmeter_node::store::LatestState;
use opmeter_rpc::OpmeterApiClient;
use opmeter_vm::{Address, U256};

use crate::support::config;

fn spawn_node(dir: &Path) -> (Child, String) {
    crate::support::spawn_node(dir, &[])
}

fn client(url: &str) -> HttpClient {
    HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(5))
        .build(url)
        .unwrap()
}

async fn wait_for_receipts(client: &HttpClient, hashes: &BTreeSet<Hash32>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    for hash in hashes {
        loop {
            if client.tx_receipt(*hash).await.unwrap().is_some() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "acknowledged {hash} was never committed"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn settled_nonce(client: &HttpClient, address: Address) -> u64 {
    let mut last = u64::MAX;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let nonce = client
            .account_get(address.into(), None)
            .await
            .unwrap()
            .nonce;
        if nonce == last {
            return nonce;
        }
        last = nonce;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_while_committing_loses_no_acknowledged_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let genesis = Genesis::dev();
    let mut wallet = Wallet::new(dev_key(), &genesis.chain_id);
    wallet.gas_limit = 1_000_000;
    let recipient = Address([0x42; 32]);
    let mut acknowledged: BTreeSet<Hash32> = BTreeSet::new();
    let rounds = 6;
    for round in 0..rounds {
        let (mut child, url) = spawn_node(dir.path());
        let client = client(&url);
        // Everything acknowledged before the last kill is committed after the restart.
        wait_for_receipts(&client, &acknowledged).await;
        wallet.nonce = settled_nonce(&client, address_of(&dev_key())).await;
        let kill_after = Duration::from_millis(150 + 70 * round);
        let started = Instant::now();
        while started.elapsed() < kill_after {
            let tx = wallet.transfer(recipient, U256::from(1u64));
            let hash = client
                .tx_send_raw(HexBytes(tx.encode()))
                .await
                .expect("the node accepts a well-formed transaction");
            assert_eq!(hash, tx.hash());
            acknowledged.insert(tx.hash());
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    // A last clean start: every acknowledged transaction is in a block.
    let (mut child, url) = spawn_node(dir.path());
    let client = client(&url);
    wait_for_receipts(&client, &acknowledged).await;
    let nonce = settled_nonce(&client, address_of(&dev_key())).await;
    assert!(nonce >= acknowledged.len() as u64);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(acknowledged.len() > 20, "the test must commit many blocks");

    // Reopen in-process and compare with a clean replay of the committed blocks.
    let crashed = Node::open(&config(dir.path(), genesis.clone())).unwrap();
    let head = crashed.head();
    let store = crashed.chain().store();
    assert_eq!(
        store.state_root(head.header.height).unwrap(),
        head.header.state_root
    );
    let replay_dir = tempfile::tempdir().unwrap();
    let replay = Node::open(&config(replay_dir.path(), genesis)).unwrap();
    for height in 1..=head.header.height {
        let block = store
            .block(height)
            .unwrap()
            .expect("every height up to the head");
        let receipts = replay
            .import_block(&block)
            .expect("replay reproduces the block");
        assert_eq!(receipts, store.receipts(height).unwrap());
    }
    assert_eq!(replay.head().hash, head.hash);
    for hash in &acknowledged {
        assert!(store.receipt(hash).unwrap().is_some());
    }
    assert_eq!(
        store.account(&recipient).unwrap().unwrap().balance,
        U256::from(nonce)
    );
}
