//! Committed token transfers per second and time to finality, through JSON-RPC, on a single
//! node and on 4 local validators (Malachite BFT), in one run with one workload. Run by
//! `./validator/throughput.sh` (release binaries).
//!
//! Workload: the token is deployed, `SENDERS` accounts get coins and tokens, then every sender
//! signs `PER_SENDER` transfers (signing is not timed); the transactions are sent in JSON-RPC
//! batches spread over the nodes, and the clock stops when every receipt is on node 0.
//! Finality: afterwards, `PROBES` transfers one at a time, each timed from sending to its
//! receipt being readable (median).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use jsonrpsee::core::client::ClientT as _;
use jsonrpsee::core::params::BatchRequestBuilder;
use opmeter_ledger::encoding::{Hash32, HexBytes};
use opmeter_ledger::tx::{SignedTransaction, Wallet};
use opmeter_node::genesis::{address_of, dev_key, Genesis};
use opmeter_rpc::client::{http, HttpClient, OpmeterApiClient};
use opmeter_validator::home::{write_testnet, TestnetSpec};
use opmeter_vm::{Address, U256};

const SENDERS: u8 = 50;
const PER_SENDER: u32 = 40;
const PROBES: usize = 15;

struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let release = exe.parent().and_then(Path::parent).expect("target/release");
    release.join(name)
}

fn spawn(binary: &Path, args: &[&str], log: &Path) -> Child {
    let log = std::fs::File::create(log).expect("log file");
    Command::new(binary)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::from(log.try_clone().expect("log")))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("spawn")
}

fn free_base(count: u16) -> u16 {
    'base: for base in (40_000..60_000).step_by(50) {
        for port in base..base + count {
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
                continue 'base;
            }
        }
        return base;
    }
    panic!("no free ports");
}

struct Target {
    clients: Vec<HttpClient>,
    chain_id: String,
}

async fn wait_ready(client: &HttpClient, height: u64) {
    let started = Instant::now();
    while !client
        .chain_head()
        .await
        .is_ok_and(|head| head.height >= height)
    {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "node not ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn receipt(client: &HttpClient, hash: Hash32) -> opmeter_rpc::types::ReceiptView {
    let started = Instant::now();
    loop {
        if let Ok(Some(receipt)) = client.tx_receipt(hash).await {
            return receipt;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no receipt for {hash}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn send_batches(client: &HttpClient, txs: &[SignedTransaction]) {
    for chunk in txs.chunks(100) {
        let mut batch = BatchRequestBuilder::new();
        for tx in chunk {
            batch
                .insert(
                    "tx_sendRaw",
                    vec![format!("0x{}", hex::encode(tx.encode()))],
                )
                .expect("batch");
        }
        let response = client
            .batch_request::<serde_json::Value>(batch)
            .await
            .expect("batch sent");
        let failed = response.num_failed_calls();
        let first_error = response
            .into_iter()
            .find_map(|r| r.err().map(|e| e.to_string()));
        if let Some(error) = first_error {
            panic!(
                "{failed} of {} transactions refused, e.g. {error}",
                chunk.len()
            );
        }
    }
}

fn transfer_args(to: Address, amount: u64) -> String {
    format!(r#"{{"to": "{}", "amount": "{amount}"}}"#, to.to_hex())
}

/// (committed tx/s, median ms to finality)
async fn measure(target: &Target, token_code: &[u8]) -> (f64, f64) {
    let head = &target.clients[0];
    let mut dev = Wallet::new(dev_key(), &target.chain_id);
    dev.gas_limit = 50_000_000;
    let deploy = dev.deploy(
        token_code,
        r#"{"name": "Meter", "symbol": "MTR", "supply": "1000000000000"}"#,
        b"token",
    );
    let hash = head
        .tx_send_raw(HexBytes(deploy.encode()))
        .await
        .expect("deploy");
    let token = receipt(head, hash)
        .await
        .contract_address
        .expect("deployed");
    dev.gas_limit = 2_000_000;
    let senders: Vec<SigningKey> = (1..=SENDERS)
        .map(|i| SigningKey::from_bytes(&[i; 32]))
        .collect();
    let mut setup = Vec::new();
    for key in &senders {
        let to = address_of(key);
        setup.push(dev.transfer(to, U256::from(10u64).pow(U256::from(15u64))));
        setup.push(dev.call(token, "transfer", &transfer_args(to, 1_000_000)));
    }
    // In chunks: one account's pending nonces stay within the mempool's window.
    for chunk in setup.chunks(50) {
        send_batches(head, chunk).await;
        receipt(head, chunk.last().expect("setup").hash()).await;
    }

    let carol = Address([0xCA; 32]);
    let mut wallets: Vec<Wallet> = senders
        .iter()
        .map(|k| {
            let mut w = Wallet::new(k.clone(), &target.chain_id);
            w.gas_limit = 2_000_000;
            w
        })
        .collect();
    // Sender i goes to node i mod n; its transactions in nonce order.
    let mut per_node: Vec<Vec<SignedTransaction>> = vec![Vec::new(); target.clients.len()];
    let mut last = Vec::new();
    for (i, wallet) in wallets.iter_mut().enumerate() {
        let txs: Vec<SignedTransaction> = (0..PER_SENDER)
            .map(|n| wallet.call(token, "transfer", &transfer_args(carol, 1 + u64::from(n))))
            .collect();
        last.push(txs.last().expect("txs").hash());
        per_node[i % target.clients.len()].extend(txs);
    }
    let total = u32::from(SENDERS) * PER_SENDER;
    let started = Instant::now();
    let sends = per_node
        .iter()
        .zip(&target.clients)
        .map(|(txs, client)| send_batches(client, txs));
    futures_all(sends).await;
    for hash in &last {
        receipt(head, *hash).await;
    }
    let elapsed = started.elapsed();
    let tps = f64::from(total) / elapsed.as_secs_f64();

    let mut latencies = Vec::new();
    let mut prober = wallets.remove(0);
    for n in 0..PROBES {
        let tx = prober.call(token, "transfer", &transfer_args(carol, 1));
        let client = &target.clients[n % target.clients.len()];
        let sent = Instant::now();
        let hash = client
            .tx_send_raw(HexBytes(tx.encode()))
            .await
            .expect("probe");
        receipt(client, hash).await;
        latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
    }
    latencies.sort_by(f64::total_cmp);
    (tps, latencies[latencies.len() / 2])
}

async fn futures_all<F: std::future::Future<Output = ()>>(futures: impl Iterator<Item = F>) {
    let handles: Vec<_> = futures.map(|f| Box::pin(f)).collect();
    let mut pending = handles;
    // Poll all concurrently.
    std::future::poll_fn(move |cx| {
        pending.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if pending.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
}

fn main() {
    let token_code = opmeter_tests::contracts()["token"].clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");

    // The single node: the development genesis, instant blocks.
    let single = {
        let port = free_base(1);
        let data = dir.path().join("single");
        let genesis = dir.path().join("single-genesis.json");
        std::fs::write(&genesis, Genesis::dev().to_json()).expect("genesis");
        let rpc = format!("127.0.0.1:{port}");
        let _node = Processes(vec![spawn(
            &binary("opmeter"),
            &[
                "node",
                "--data-dir",
                data.to_str().expect("path"),
                "--genesis",
                genesis.to_str().expect("path"),
                "--rpc-addr",
                &rpc,
            ],
            &dir.path().join("single.log"),
        )]);
        let target = Target {
            clients: vec![http(&format!("http://{rpc}")).expect("client")],
            chain_id: Genesis::dev().chain_id,
        };
        runtime.block_on(async {
            wait_ready(&target.clients[0], 0).await;
            measure(&target, &token_code).await
        })
    };

    // Four validators.
    let replicated = {
        let base = free_base(8);
        let homes = write_testnet(&TestnetSpec {
            validators: 4,
            dir: dir.path().join("net"),
            base_port: base,
            chain_id: "opmeter-testnet".into(),
            propose_timeout_ms: 1000,
            empty_block_wait_ms: 200,
        })
        .expect("testnet");
        let _validators = Processes(
            homes
                .iter()
                .enumerate()
                .map(|(i, home)| {
                    spawn(
                        &binary("opmeter-validator"),
                        &["node", "--home", home.to_str().expect("path")],
                        &dir.path().join(format!("v{i}.log")),
                    )
                })
                .collect(),
        );
        let target = Target {
            clients: (0..4u16)
                .map(|i| http(&format!("http://127.0.0.1:{}", base + 2 * i + 1)).expect("client"))
                .collect(),
            chain_id: "opmeter-testnet".into(),
        };
        runtime.block_on(async {
            for client in &target.clients {
                wait_ready(client, 2).await;
            }
            measure(&target, &token_code).await
        })
    };

    let total = u32::from(SENDERS) * PER_SENDER;
    println!("{total} token transfers from {SENDERS} senders, through JSON-RPC");
    println!(
        "single node:     {:>8.0} tx/s committed   finality {:>6.1} ms (median of {PROBES})",
        single.0, single.1
    );
    println!(
        "4 validators:    {:>8.0} tx/s committed   finality {:>6.1} ms (median of {PROBES})",
        replicated.0, replicated.1
    );
    println!("ratio:           {:>8.2}", replicated.0 / single.0);
}
