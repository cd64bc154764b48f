//! Validators as real processes on loopback: agreement under load, crashes and catch-up, a
//! halted minority and its resumption, and a byzantine proposer rejected.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use opmeter_ledger::consensus::{CommitCertificate, ConsensusValidator};
use opmeter_ledger::encoding::{Hash32, HexBytes};
use opmeter_ledger::tx::{SignedTransaction, Wallet};
use opmeter_node::genesis::{address_of, dev_key, Genesis};
use opmeter_rpc::client::{http, HttpClient, OpmeterApiClient};
use opmeter_rpc::types::BlockId;
use opmeter_validator::context::ledger_validators;
use opmeter_validator::home::validator_set;
use opmeter_validator::home::{write_testnet, TestnetSpec, ValidatorConfig};
use opmeter_vm::{Address, U256};

const CHAIN: &str = "opmeter-testnet";

/// Four (or more) validator processes in a temporary directory.
struct Net {
    dir: tempfile::TempDir,
    homes: Vec<PathBuf>,
    children: Vec<Option<Child>>,
    clients: Vec<HttpClient>,
    runtime: tokio::runtime::Runtime,
}

/// `count` distinct free ports, chosen by the OS (all held until every one is chosen, so tests
/// running in parallel never share one).
fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<std::net::TcpListener> = (0..count)
        .map(|_| std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

impl Net {
    fn new(validators: u32, configure: impl Fn(u32, &mut ValidatorConfig)) -> Net {
        let dir = tempfile::tempdir().unwrap();
        let ports = free_ports(validators as usize * 2);
        let p2p = |i: usize| format!("/ip4/127.0.0.1/tcp/{}", ports[2 * i]);
        let rpc = |i: usize| format!("127.0.0.1:{}", ports[2 * i + 1]);
        let homes = write_testnet(&TestnetSpec {
            validators,
            dir: dir.path().join("net"),
            base_port: 1,
            chain_id: CHAIN.into(),
            propose_timeout_ms: 1000,
            empty_block_wait_ms: 100,
        })
        .unwrap();
        for (i, home) in homes.iter().enumerate() {
            let path = home.join("config.toml");
            let mut config: ValidatorConfig =
                toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let others = (0..validators as usize).filter(|&j| j != i);
            config.p2p_addr = p2p(i);
            config.rpc_addr = rpc(i);
            config.peers = others.clone().map(p2p).collect();
            config.peer_rpc = others.map(|j| format!("http://{}", rpc(j))).collect();
            configure(i as u32, &mut config);
            std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let clients = (0..validators as usize)
            .map(|i| http(&format!("http://{}", rpc(i))).unwrap())
            .collect();
        let mut net = Net {
            dir,
            homes,
            children: (0..validators).map(|_| None).collect(),
            clients,
            runtime,
        };
        for i in 0..validators as usize {
            net.start(i);
        }
        net
    }

    fn log(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("v{i}.log"))
    }

    fn start(&mut self, i: usize) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log(i))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_opmeter-validator"))
            .args(["node", "--home"])
            .arg(&self.homes[i])
            .env("RUST_LOG", "info,arc_malachitebft=warn,libp2p=warn")
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        self.children[i] = Some(child);
    }

    /// SIGKILL: no shutdown of any kind.
    fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.children[i].take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    fn head(&self, i: usize) -> Option<u64> {
        self.runtime
            .block_on(self.clients[i].chain_head())
            .ok()
            .map(|h| h.height)
    }

    /// Waits until every validator in `which` is at `height` or above.
    fn wait_height(&self, which: &[usize], height: u64, within: Duration) {
        let started = Instant::now();
        loop {
            let heads: Vec<Option<u64>> = which.iter().map(|&i| self.head(i)).collect();
            if heads.iter().all(|h| h.is_some_and(|h| h >= height)) {
                return;
            }
            assert!(
                started.elapsed() < within,
                "validators {which:?} did not reach height {height} within {within:?}: {heads:?}\n{}",
                self.logs_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn logs_tail(&self) -> String {
        (0..self.homes.len())
            .map(|i| {
                let text = std::fs::read_to_string(self.log(i)).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                format!(
                    "--- v{i}\n{}",
                    lines[lines.len().saturating_sub(15)..].join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn send(&self, i: usize, tx: &SignedTransaction) -> Hash32 {
        self.runtime
            .block_on(self.clients[i].tx_send_raw(HexBytes(tx.encode())))
            .unwrap_or_else(|e| panic!("v{i} refused a transaction: {e}"))
    }

    fn receipt_status(&self, i: usize, hash: Hash32) -> Option<String> {
        self.runtime
            .block_on(self.clients[i].tx_receipt(hash))
            .ok()
            .flatten()
            .map(|r| r.status)
    }

    fn wait_receipts(&self, i: usize, hashes: &[Hash32], within: Duration) -> Vec<String> {
        let started = Instant::now();
        loop {
            let statuses: Vec<Option<String>> =
                hashes.iter().map(|h| self.receipt_status(i, *h)).collect();
            if statuses.iter().all(Option::is_some) {
                return statuses.into_iter().flatten().collect();
            }
            assert!(
                started.elapsed() < within,
                "v{i}: {} of {} receipts after {within:?}\n{}",
                statuses.iter().filter(|s| s.is_some()).count(),
                hashes.len(),
                self.logs_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Every block up to `height` (hash, state root, receipts root), as validator `i` has it.
    fn chain(&self, i: usize, height: u64) -> Vec<(Hash32, Hash32, Hash32)> {
        (1..=height)
            .map(|h| {
                let block = self
                    .runtime
                    .block_on(self.clients[i].chain_get_block(BlockId::Height(h), Some(false)))
                    .unwrap()
                    .unwrap_or_else(|| panic!("v{i} has no block {h}"));
                (
                    block.header.hash,
                    block.header.state_root,
                    block.header.receipts_root,
                )
            })
            .collect()
    }

    /// Every validator in `which` holds the same blocks up to `height`.
    fn assert_same_chain(&self, which: &[usize], height: u64) {
        let first = self.chain(which[0], height);
        for &i in &which[1..] {
            assert_eq!(
                self.chain(i, height),
                first,
                "v{i} differs from v{}",
                which[0]
            );
        }
    }

    /// The genesis's validators, as a client checks certificates against them.
    fn genesis_validators(&self) -> Vec<ConsensusValidator> {
        let genesis = Genesis::from_json(
            &std::fs::read_to_string(self.dir.path().join("net/genesis.json")).unwrap(),
        )
        .unwrap();
        let validators = ledger_validators(&validator_set(&genesis).unwrap());
        assert_eq!(
            validators.len(),
            genesis.consensus_validators().unwrap().len()
        );
        validators
    }

    /// Every block up to `height` on validator `i` has a commit certificate that verifies
    /// against the genesis's validator set (by the ledger's checker, no consensus engine).
    fn assert_certified(&self, i: usize, height: u64) {
        let validators = self.genesis_validators();
        for (h, (hash, _, _)) in (1..=height).zip(self.chain(i, height)) {
            let view = self
                .runtime
                .block_on(self.clients[i].chain_get_commit(h))
                .unwrap()
                .unwrap_or_else(|| panic!("v{i}: block {h} has no certificate"));
            let certificate = CommitCertificate::try_from(&view).unwrap();
            certificate
                .verify_at(CHAIN, &validators, h, &hash)
                .unwrap_or_else(|e| panic!("v{i}: the certificate of block {h}: {e}"));
        }
    }

    /// Every block up to `height` on validator `i` carries what shows its parent decided: block
    /// 1 nothing (a zero `lastCommitHash`); every later block `h` a certificate whose hash its
    /// header names and that verifies for block `h - 1` from the genesis alone.
    fn assert_last_commits(&self, i: usize, height: u64) {
        let validators = self.genesis_validators();
        let hashes: Vec<Hash32> = self.chain(i, height).into_iter().map(|c| c.0).collect();
        for h in 1..=height {
            let block = self
                .runtime
                .block_on(self.clients[i].chain_get_block(BlockId::Height(h), Some(false)))
                .unwrap()
                .unwrap_or_else(|| panic!("v{i} has no block {h}"));
            let Some(view) = &block.last_commit else {
                assert_eq!(h, 1, "v{i}: block {h} carries no certificate of its parent");
                assert_eq!(block.header.last_commit_hash, Hash32([0; 32]));
                continue;
            };
            assert!(h >= 2, "v{i}: block 1 carries a certificate");
            let certificate = CommitCertificate::try_from(view).unwrap();
            assert_eq!(
                block.header.last_commit_hash,
                certificate.hash(),
                "v{i}: block {h}'s lastCommitHash is not its certificate's hash"
            );
            let parent = hashes[h as usize - 2];
            assert_eq!(block.header.parent_hash, parent);
            certificate
                .verify_at(CHAIN, &validators, h - 1, &parent)
                .unwrap_or_else(|e| panic!("v{i}: block {h} carries a bad certificate: {e}"));
        }
    }

    fn log_count(&self, i: usize, needle: &str) -> usize {
        std::fs::read_to_string(self.log(i))
            .unwrap_or_default()
            .matches(needle)
            .count()
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for i in 0..self.children.len() {
            self.kill(i);
        }
    }
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn token_code() -> &'static [u8] {
    &opmeter_tests::contracts()["token"]
}

fn transfer_args(to: Address, amount: u64) -> String {
    format!(r#"{{"to": "{}", "amount": "{amount}"}}"#, to.to_hex())
}

/// Deploys the token from the development key and gives `senders` native coins and tokens.
fn set_up_token(net: &Net, senders: &[SigningKey]) -> Address {
    let mut dev = Wallet::new(dev_key(), CHAIN);
    dev.gas_limit = 50_000_000;
    let deploy = dev.deploy(
        token_code(),
        r#"{"name": "Meter", "symbol": "MTR", "supply": "1000000000"}"#,
        b"token",
    );
    let hash = net.send(0, &deploy);
    assert_eq!(
        net.wait_receipts(0, &[hash], Duration::from_secs(60)),
        ["success"]
    );
    let receipt = net
        .runtime
        .block_on(net.clients[0].tx_receipt(hash))
        .unwrap()
        .unwrap();
    let token = receipt.contract_address.expect("deployed");
    dev.gas_limit = 2_000_000;
    let mut hashes = Vec::new();
    for sender in senders {
        let to = address_of(sender);
        hashes.push(net.send(
            0,
            &dev.transfer(to, U256::from(10u64).pow(U256::from(15u64))),
        ));
        hashes.push(net.send(
            0,
            &dev.call(token, "transfer", &transfer_args(to, 1_000_000)),
        ));
    }
    let statuses = net.wait_receipts(0, &hashes, Duration::from_secs(60));
    assert!(statuses.iter().all(|s| s == "success"), "{statuses:?}");
    token
}

#[test]
fn four_validators_agree_and_a_killed_one_catches_up_without_losing_transactions() {
    let mut net = Net::new(4, |_, _| {});
    net.wait_height(&[0, 1, 2, 3], 2, Duration::from_secs(60));
    let senders: Vec<SigningKey> = (1..=4).map(key).collect();
    let token = set_up_token(&net, &senders);
    let mut wallets: Vec<Wallet> = senders
        .iter()
        .map(|k| {
            let mut w = Wallet::new(k.clone(), CHAIN);
            w.gas_limit = 2_000_000;
            w
        })
        .collect();
    let carol = Address([0xCA; 32]);
    let mut acknowledged = Vec::new();
    // Each sender sends through "its" validator: the transactions reach every proposer.
    for round in 0..10 {
        for (i, wallet) in wallets.iter_mut().enumerate() {
            let tx = wallet.call(token, "transfer", &transfer_args(carol, 1 + round));
            acknowledged.push(net.send(i, &tx));
        }
    }
    // v3 dies mid-stream (some of what it acknowledged may not have been forwarded yet).
    net.kill(3);
    let before = net.head(0).unwrap();
    let mut after_kill = Vec::new();
    for round in 10..20 {
        for (i, wallet) in wallets.iter_mut().enumerate() {
            let tx = wallet.call(token, "transfer", &transfer_args(carol, 1 + round));
            let hash = net.send(i % 3, &tx);
            acknowledged.push(hash);
            if i < 3 {
                after_kill.push(hash);
            }
        }
    }
    // The others keep committing: every sender that did not go through v3 is served.
    let statuses = net.wait_receipts(0, &after_kill, Duration::from_secs(120));
    assert!(statuses.iter().all(|s| s == "success"), "{statuses:?}");
    net.wait_height(&[0, 1, 2], before + 3, Duration::from_secs(60));
    // Restarted, v3 catches up through value sync, re-executing what it fetches, and what it
    // acknowledged before dying (kept in its mempool) is committed: nothing acknowledged is lost.
    net.start(3);
    for i in 0..4 {
        let statuses = net.wait_receipts(i, &acknowledged, Duration::from_secs(120));
        assert!(
            statuses.iter().all(|s| s == "success"),
            "v{i}: {statuses:?}"
        );
    }
    let target = (0..4).map(|i| net.head(i).unwrap()).min().unwrap();
    net.assert_same_chain(&[0, 1, 2, 3], target);
    // Every block carries a certificate a client checks against the genesis's validators
    // alone — on v3 too, which fetched part of the chain through value sync.
    net.assert_certified(3, target);
    // Every block from 2 on carries its parent's certificate (the proposer's), on every
    // validator: a client checks block h - 1 from block h and the genesis alone.
    for i in 0..4 {
        net.assert_last_commits(i, target);
    }
    // The audit bundle of a replicated block is the same on every validator and verifies
    // offline exactly as a single node's: one sent before the crash, one while v3 was down.
    for hash in [acknowledged[5], after_kill[after_kill.len() - 1]] {
        let bundles: Vec<_> = (0..4)
            .map(|i| {
                net.runtime
                    .block_on(net.clients[i].audit_bundle(hash))
                    .unwrap()
                    .expect("a bundle")
            })
            .collect();
        assert!(bundles.iter().all(|b| b == &bundles[0]), "bundles differ");
        // The testnet's genesis chooses the schedule; the bundle names it.
        let schedule = opmeter_vm::Schedule::by_version(bundles[0].schedule_version).unwrap();
        assert_eq!(
            schedule.version, 2,
            "a new development chain runs schedule v2"
        );
        let vm = opmeter_vm::Vm::new(schedule);
        let verdict = opmeter_ledger::bundle::verify_bundle(&bundles[0], &vm).unwrap();
        assert!(verdict.matches(), "{:?}", verdict.first_difference());
    }
    let balance = net.runtime.block_on(net.clients[3].contract_call(
        opmeter_rpc::types::CallArgs {
            from: None,
            contract: token.into(),
            method: "balance_of".into(),
            args: Some(serde_json::json!({ "owner": carol.to_hex() })),
            input: None,
            value: None,
            gas_limit: None,
        },
        None,
    ));
    let expected: u64 = (1..=20u64).sum::<u64>() * 4;
    let output = balance.unwrap().output_json.unwrap();
    assert_eq!(
        output,
        serde_json::json!(expected.to_string()),
        "carol's tokens on v3"
    );
}

#[test]
fn two_of_four_down_commit_nothing_and_the_chain_resumes_when_they_return() {
    let mut net = Net::new(4, |_, _| {});
    net.wait_height(&[0, 1, 2, 3], 3, Duration::from_secs(60));
    net.kill(2);
    net.kill(3);
    // In-flight heights settle; then nothing more can be decided.
    std::thread::sleep(Duration::from_secs(2));
    let halted = [net.head(0).unwrap(), net.head(1).unwrap()];
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        [net.head(0).unwrap(), net.head(1).unwrap()],
        halted,
        "two of four validators committed a block"
    );
    net.start(2);
    net.start(3);
    let resumed = halted[0].max(halted[1]) + 3;
    net.wait_height(&[0, 1, 2, 3], resumed, Duration::from_secs(120));
    net.assert_same_chain(&[0, 1, 2, 3], resumed);
}

#[test]
fn a_proposal_that_does_not_re_execute_to_its_header_is_rejected() {
    let net = Net::new(4, |i, config| config.corrupt_proposals = i == 0);
    net.wait_height(&[1, 2, 3], 8, Duration::from_secs(120));
    let height = [1, 2, 3]
        .map(|i| net.head(i).unwrap())
        .into_iter()
        .min()
        .unwrap();
    net.assert_same_chain(&[1, 2, 3], height);
    // The byzantine validator proposed about one height in four; each was voted down.
    let rejected: usize = [1, 2, 3]
        .iter()
        .map(|&i| net.log_count(i, "invalid proposal"))
        .sum();
    assert!(
        rejected > 0,
        "nobody rejected a corrupt proposal\n{}",
        net.logs_tail()
    );
    // No committed block carries a state root its execution does not give: the honest
    // validators re-executed each, and the byzantine one, executing the decided blocks, agrees.
    net.wait_height(&[0], height, Duration::from_secs(60));
    net.assert_same_chain(&[0, 1, 2, 3], height);
}
