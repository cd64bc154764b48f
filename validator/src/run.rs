//! Running a validator: the node on RocksDB, its JSON-RPC server, Malachite over libp2p, the
//! application loop, and the forwarding of pending transactions to the other validators.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use malachitebft_app_channel::app::config::{
    ConsensusConfig, NodeConfig as EngineNodeConfig, P2pConfig, ValueSyncConfig,
};
use malachitebft_app_channel::app::types::codec::Codec as _;
use malachitebft_app_channel::app::types::core::LinearTimeouts;
use malachitebft_app_channel::app::types::Keypair;
use malachitebft_app_channel::{
    ConsensusContext, NetworkContext, NetworkIdentity, RequestContext, SyncContext, WalContext,
};
use malachitebft_signing::Signer as _;

use opmeter_node::api::NodeBackend;
use opmeter_node::mempool::MempoolConfig;
use opmeter_node::quota::{QuotaConfig, Quotas};
use opmeter_node::service::{BlockMode, Node, NodeConfig};
use opmeter_node::zk::{ProofService, ZkConfig};
use opmeter_rpc::RpcConfig;

use crate::app::{App, AppConfig};
use crate::codec::OpmeterCodec;
use crate::context::{Keys, OpmeterContext, ValidatorAddress};
use crate::forward::forward_admitted;
use crate::home::Home;
use crate::proposals::ProposalStore;

/// Malachite's node settings.
#[derive(Clone, Debug)]
struct EngineConfig {
    moniker: String,
    consensus: ConsensusConfig,
    value_sync: ValueSyncConfig,
}

impl EngineNodeConfig for EngineConfig {
    fn moniker(&self) -> &str {
        &self.moniker
    }

    fn consensus(&self) -> &ConsensusConfig {
        &self.consensus
    }

    fn consensus_mut(&mut self) -> &mut ConsensusConfig {
        &mut self.consensus
    }

    fn value_sync(&self) -> &ValueSyncConfig {
        &self.value_sync
    }

    fn value_sync_mut(&mut self) -> &mut ValueSyncConfig {
        &mut self.value_sync
    }
}

fn timeouts(home: &Home) -> LinearTimeouts {
    LinearTimeouts {
        propose: Duration::from_millis(home.config.propose_timeout_ms),
        propose_delta: Duration::from_millis(home.config.propose_delta_ms),
        ..LinearTimeouts::default()
    }
}

/// Runs the validator of `home` until Ctrl-C or SIGTERM.
///
/// # Errors
/// A home that does not load, a data directory of another chain, ports in use.
pub fn run(home: Home) -> anyhow::Result<()> {
    let validators = home.validator_set()?;
    let public_key = home.key.verifying_key();
    let address = ValidatorAddress::of(&public_key);
    anyhow::ensure!(
        validators.validators().iter().any(|v| v.address == address),
        "this key ({address}) is not a validator of the genesis"
    );
    let node = Node::open(&NodeConfig {
        data_dir: home.dir.join("data"),
        genesis: Some(home.genesis.clone()),
        mode: BlockMode::Manual,
        sync_writes: true,
        mempool: MempoolConfig::default(),
    })
    .with_context(|| format!("opening the chain in {}", home.dir.join("data").display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let quotas = Quotas::open(
        &home.dir.join("data"),
        QuotaConfig {
            daily_gas_default: 0,
            overrides: Default::default(),
        },
    )
    .context("opening the quota usage")?;
    let prover = ProofService::start(ZkConfig::disabled());
    let backend = Arc::new(NodeBackend::with(
        Arc::clone(&node),
        Arc::clone(&quotas),
        Arc::clone(&prover),
    ));
    let (rpc_addr, server) = runtime
        .block_on(opmeter_rpc::serve(
            backend,
            &home.config.rpc_addr,
            RpcConfig::default(),
        ))
        .with_context(|| format!("listening on {}", home.config.rpc_addr))?;
    let head = node.head();
    println!("opmeter validator {}", home.config.moniker);
    println!("  chain id:   {}", home.genesis.chain_id);
    println!("  address:    {address}");
    println!("  head:       #{} {}", head.header.height, head.hash);
    println!("  rpc:        http://{rpc_addr}");
    println!("  p2p:        {}", home.config.p2p_addr);
    let result = runtime.block_on(consensus(&home, Arc::clone(&node), validators, address));
    eprintln!("stopping");
    prover.stop();
    node.stop();
    let _ = server.stop();
    result
}

async fn consensus(
    home: &Home,
    node: Arc<Node>,
    validators: crate::context::ValidatorSet,
    address: ValidatorAddress,
) -> anyhow::Result<()> {
    let keys = Keys::signer(&home.genesis.chain_id, home.key.clone());
    let keypair = Keypair::ed25519_from_bytes(home.key.to_bytes())
        .map_err(|e| anyhow::anyhow!("libp2p key: {e}"))?;
    let peer_id = keypair.public().to_peer_id();
    let proof = keys
        .sign_validator_proof(
            home.key.verifying_key().as_bytes().to_vec(),
            peer_id.to_bytes(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("validator proof: {e}"))?;
    let proof_bytes = OpmeterCodec
        .encode(&proof)
        .map_err(|e| anyhow::anyhow!("validator proof: {e}"))?;
    let identity = NetworkIdentity::new_validator(
        home.config.moniker.clone(),
        keypair,
        address.to_string(),
        proof_bytes,
    );
    let parse = |addr: &str| {
        addr.parse()
            .map_err(|e| anyhow::anyhow!("address {addr}: {e}"))
    };
    let config = EngineConfig {
        moniker: home.config.moniker.clone(),
        consensus: ConsensusConfig {
            p2p: P2pConfig {
                listen_addr: parse(&home.config.p2p_addr)?,
                persistent_peers: home
                    .config
                    .peers
                    .iter()
                    .map(|p| parse(p))
                    .collect::<anyhow::Result<_>>()?,
                ..P2pConfig::default()
            },
            ..ConsensusConfig::default()
        },
        value_sync: ValueSyncConfig {
            status_update_interval: Duration::from_secs(1),
            request_timeout: Duration::from_secs(5),
            ..ValueSyncConfig::default()
        },
    };
    let wal_dir = home.dir.join("wal");
    std::fs::create_dir_all(&wal_dir)?;
    let (mut channels, engine) = malachitebft_app_channel::start_engine(
        OpmeterContext,
        config,
        WalContext::new(wal_dir.join("consensus.wal"), OpmeterCodec),
        NetworkContext::new(identity, OpmeterCodec),
        ConsensusContext::new_validator(
            address,
            Box::new(Keys::verifier(&home.genesis.chain_id)),
            Box::new(keys.clone()),
        ),
        SyncContext::new(OpmeterCodec),
        RequestContext::new(100),
    )
    .await
    .map_err(|e| anyhow::anyhow!("starting consensus: {e}"))?;
    let forwarder = tokio::spawn(forward_admitted(
        node.subscribe_admitted(),
        home.config.peer_rpc.clone(),
    ));
    let app = App::new(
        node,
        AppConfig {
            keys,
            address,
            validators,
            timeouts: timeouts(home),
            proposals: ProposalStore::open(&home.dir.join("proposals"))?,
            empty_block_wait: Duration::from_millis(home.config.empty_block_wait_ms),
            corrupt_proposals: home.config.corrupt_proposals,
        },
    );
    let result = tokio::select! {
        result = app.run(&mut channels) => result.map_err(|e| anyhow::anyhow!("consensus: {e}")),
        _ = stop_signal() => Ok(()),
    };
    forwarder.abort();
    engine.actor.stop(None);
    result
}

async fn stop_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
