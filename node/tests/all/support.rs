//! Shared set-up: a node on a temporary RocksDB with funded test wallets.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;

use ed25519_dalek::SigningKey;
use opmeter_ledger::block::{CommittedBlock, Receipt};
use opmeter_ledger::tx::{SignedTransaction, Wallet};
use opmeter_node::genesis::{address_of, Genesis};
use opmeter_node::service::{BlockMode, Node, NodeConfig};
use opmeter_vm::{Address, U256};

pub(crate) const CHAIN: &str = "opmeter-test";

/// A test key from a seed byte.
pub(crate) fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// The fee collector of test chains.
pub(crate) const FEES: Address = Address([0xFE; 32]);

/// A genesis where keys 1, 2 and 3 hold 10^12 each.
pub(crate) fn genesis() -> Genesis {
    let mut balances = BTreeMap::new();
    for seed in [1u8, 2, 3] {
        balances.insert(address_of(&key(seed)), "1000000000000".to_string());
    }
    Genesis {
        chain_id: CHAIN.into(),
        timestamp_ms: 1_000,
        block_gas_limit: 1_000_000_000,
        block_tx_max: 1_000,
        min_gas_price: "1".into(),
        fee_collector: FEES,
        balances,
        dev: false,
        schedule_version: 1,
        validators: Vec::new(),
    }
}

/// A node in manual block mode on a fresh directory.
pub(crate) struct TestNode {
    pub(crate) _dir: tempfile::TempDir,
    pub(crate) node: Arc<Node>,
}

impl TestNode {
    pub(crate) fn new() -> TestNode {
        TestNode::with_genesis(genesis())
    }

    pub(crate) fn with_genesis(genesis: Genesis) -> TestNode {
        let dir = tempfile::tempdir().unwrap();
        let node = Node::open(&config(dir.path(), genesis)).unwrap();
        TestNode { _dir: dir, node }
    }

    /// Submits (must be admitted) and commits one block; returns the receipts.
    pub(crate) fn run(&self, txs: &[SignedTransaction]) -> Vec<Receipt> {
        for tx in txs {
            self.node.submit(&tx.encode()).expect("admitted");
        }
        self.block().receipts.clone()
    }

    /// Commits one block with whatever is pending.
    pub(crate) fn block(&self) -> Arc<CommittedBlock> {
        self.node.produce_block(true).unwrap().expect("a block")
    }

    pub(crate) fn balance(&self, address: &Address) -> U256 {
        self.node
            .chain()
            .committed_account(address)
            .unwrap()
            .balance
    }
}

pub(crate) fn config(dir: &std::path::Path, genesis: Genesis) -> NodeConfig {
    NodeConfig {
        data_dir: dir.to_path_buf(),
        genesis: Some(genesis),
        mode: BlockMode::Manual,
        sync_writes: false,
        mempool: Default::default(),
    }
}

pub(crate) fn wallet(seed: u8) -> Wallet {
    Wallet::new(key(seed), CHAIN)
}

/// A WAT contract: `put` stores its input under "k", `get` outputs it, `fail` stores then
/// traps, `spin` loops forever.
pub(crate) const KV: &str = r#"(module
  (import "opmeter" "input_len" (func $len (result i32)))
  (import "opmeter" "input_read" (func $read (param i32)))
  (import "opmeter" "output_set" (func $out (param i32 i32)))
  (import "opmeter" "storage_write" (func $write (param i32 i32 i32 i32)))
  (import "opmeter" "storage_read" (func $sread (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "k")
  (func $put (call $read (i32.const 100))
    (call $write (i32.const 0) (i32.const 1) (i32.const 100) (call $len)))
  (func (export "put") (call $put))
  (func (export "get")
    (call $out (i32.const 100)
      (call $sread (i32.const 0) (i32.const 1) (i32.const 100) (i32.const 1000))))
  (func (export "fail") (call $put) unreachable)
  (func (export "spin") (loop (br 0))))"#;

/// Starts `opmeter node` on `dir` with a free port and `extra` flags; returns the child and its
/// RPC URL.
pub(crate) fn spawn_node(dir: &Path, extra: &[&str]) -> (Child, String) {
    spawn_node_logging(dir, extra, "warn")
}

/// [`spawn_node`] with `RUST_LOG=log` (its log goes nowhere; the level decides what is traced).
pub(crate) fn spawn_node_logging(dir: &Path, extra: &[&str], log: &str) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_opmeter"))
        .args(["node", "--data-dir"])
        .arg(dir)
        .args(["--rpc-addr", "127.0.0.1:0"])
        .args(extra)
        .env("RUST_LOG", log)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn opmeter node");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("the node printed its RPC address before exiting")
            .unwrap();
        if let Some(rest) = line.trim().strip_prefix("rpc:") {
            let url = rest.split_whitespace().next().unwrap().to_string();
            break url;
        }
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, url)
}

/// A spawned `opmeter node` on a temporary directory, killed when dropped.
pub(crate) struct Running {
    pub(crate) child: Child,
    pub(crate) url: String,
    _dir: tempfile::TempDir,
}

impl Running {
    pub(crate) fn start(extra: &[&str]) -> Running {
        Running::start_logging(extra, "warn")
    }

    /// [`Running::start`] with `RUST_LOG=log`.
    pub(crate) fn start_logging(extra: &[&str], log: &str) -> Running {
        let dir = tempfile::tempdir().unwrap();
        let (child, url) = spawn_node_logging(&dir.path().join("data"), extra, log);
        Running {
            child,
            url,
            _dir: dir,
        }
    }

    pub(crate) fn ws_url(&self) -> String {
        self.url.replacen("http://", "ws://", 1)
    }

    pub(crate) fn addr(&self) -> String {
        self.url.trim_start_matches("http://").to_string()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A child process killed when dropped.
pub(crate) struct Killed(pub(crate) Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the CLI against `url` with keys under `keys`.
pub(crate) fn opmeter(url: &str, keys: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_opmeter"))
        .args(args)
        .env("OPMETER_RPC", url)
        .env("OPMETER_KEYS_DIR", keys)
        .output()
        .expect("run opmeter")
}

pub(crate) fn json_of(output: &Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("--json prints JSON")
}

/// Checks that `specs/<name>` holds `document` as pretty JSON (rewrites it under
/// `UPDATE_EXPECT`); `rerun` is the command that refreshes it.
pub(crate) fn assert_spec_current(name: &str, document: &serde_json::Value, rerun: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../specs")
        .join(name);
    let text = serde_json::to_string_pretty(document).unwrap() + "\n";
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(on_disk == text, "specs/{name} is stale: run `{rerun}`");
}

/// One raw HTTP/1.1 POST of a JSON-RPC body from the local address `from`; the status (0 when the
/// socket is closed unanswered) and the body, bounded by a 10 s read timeout.
pub(crate) async fn post_from(from: &str, addr: &str, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let mut stream = socket.connect(addr.parse().unwrap()).await.unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let mut response = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut response),
    );
    read.await.expect("answered or closed within 10 s").ok();
    crate::support::status_and_body(&response)
}

/// The status code (0 when there is none) and the body of a raw HTTP/1.1 response.
pub(crate) fn status_and_body(response: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(response);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}
