//! A validator's home directory (key, config, data) and `testnet`, which writes a local network.
//!
//! ```text
//! DIR/genesis.json            the chain, listing the validators and their voting power
//! DIR/v0/config.toml          addresses, peers, timeouts
//! DIR/v0/key.json             the consensus key (ed25519; also the libp2p identity)
//! DIR/v0/data/                the node's RocksDB; DIR/v0/wal/ consensus's write-ahead log;
//! DIR/v0/proposals/           undecided proposals (see `proposals`)
//! ```

use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};

use opmeter_node::genesis::{Genesis, GenesisValidator};

use crate::context::{Validator, ValidatorSet};

/// A validator's `config.toml`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidatorConfig {
    /// A name for logs.
    pub moniker: String,
    /// The libp2p listen address (`/ip4/127.0.0.1/tcp/PORT`).
    pub p2p_addr: String,
    /// The JSON-RPC address (`127.0.0.1:PORT`).
    pub rpc_addr: String,
    /// The other validators' libp2p addresses.
    pub peers: Vec<String>,
    /// The other validators' JSON-RPC URLs: pending transactions are forwarded there.
    pub peer_rpc: Vec<String>,
    /// The genesis file (relative to the home directory).
    pub genesis: String,
    /// Round 0's propose timeout (ms); later rounds add `propose_delta_ms` each.
    pub propose_timeout_ms: u64,
    /// Added to the propose timeout per round (ms).
    pub propose_delta_ms: u64,
    /// How long a proposer waits for a first pending transaction before proposing an empty
    /// block (ms).
    pub empty_block_wait_ms: u64,
    /// Tests only: this validator proposes blocks whose state root is wrong (a byzantine
    /// proposer), to show that the others reject a proposal that does not re-execute.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub corrupt_proposals: bool,
}

/// The key file.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct KeyFile {
    /// `0x` + the 32-byte ed25519 secret.
    secret_key: String,
    /// `0x` + the public key (for reading; derived from the secret).
    public_key: String,
}

/// Everything a validator reads from its home.
pub struct Home {
    /// The directory.
    pub dir: PathBuf,
    /// Its config.
    pub config: ValidatorConfig,
    /// Its key.
    pub key: SigningKey,
    /// The chain's genesis.
    pub genesis: Genesis,
}

fn hex32(text: &str) -> anyhow::Result<[u8; 32]> {
    let bytes = hex::decode(text.trim_start_matches("0x"))?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| anyhow::anyhow!("expected 32 bytes"))
}

impl Home {
    /// Reads the home at `dir`.
    ///
    /// # Errors
    /// Missing or malformed files.
    pub fn load(dir: &Path) -> anyhow::Result<Home> {
        use anyhow::Context as _;
        let config_path = dir.join("config.toml");
        let config: ValidatorConfig = toml::from_str(
            &std::fs::read_to_string(&config_path)
                .with_context(|| format!("reading {}", config_path.display()))?,
        )
        .with_context(|| format!("parsing {}", config_path.display()))?;
        let key_path = dir.join("key.json");
        let key: KeyFile = serde_json::from_str(
            &std::fs::read_to_string(&key_path)
                .with_context(|| format!("reading {}", key_path.display()))?,
        )
        .with_context(|| format!("parsing {}", key_path.display()))?;
        let key = SigningKey::from_bytes(&hex32(&key.secret_key)?);
        let genesis_path = dir.join(&config.genesis);
        let genesis = Genesis::from_json(
            &std::fs::read_to_string(&genesis_path)
                .with_context(|| format!("reading {}", genesis_path.display()))?,
        )
        .map_err(|e| anyhow::anyhow!("{}: {e}", genesis_path.display()))?;
        Ok(Home {
            dir: dir.to_path_buf(),
            config,
            key,
            genesis,
        })
    }

    /// The validator set the genesis lists.
    ///
    /// # Errors
    /// A malformed key, no validators, or zero total power.
    pub fn validator_set(&self) -> anyhow::Result<ValidatorSet> {
        validator_set(&self.genesis)
    }
}

/// The validator set of `genesis`.
///
/// # Errors
/// A malformed key, no validators, or zero total power.
pub fn validator_set(genesis: &Genesis) -> anyhow::Result<ValidatorSet> {
    let mut validators = Vec::new();
    for v in &genesis.validators {
        let key = ed25519_dalek::VerifyingKey::from_bytes(&hex32(&v.public_key)?)
            .map_err(|e| anyhow::anyhow!("validator {}: {e}", v.name))?;
        validators.push(Validator::new(key, v.voting_power));
    }
    let total: u64 = validators.iter().map(|v| v.voting_power).sum();
    anyhow::ensure!(
        !validators.is_empty() && total > 0,
        "the genesis lists no validator with voting power"
    );
    Ok(ValidatorSet::new(validators))
}

/// What `testnet` writes.
#[derive(Clone, Debug)]
pub struct TestnetSpec {
    /// Validators.
    pub validators: u32,
    /// Where.
    pub dir: PathBuf,
    /// Validator `i` listens on `base_port + 2i` (libp2p) and `base_port + 2i + 1` (JSON-RPC).
    pub base_port: u16,
    /// The chain id.
    pub chain_id: String,
    /// Propose timeout (ms).
    pub propose_timeout_ms: u64,
    /// See [`ValidatorConfig::empty_block_wait_ms`].
    pub empty_block_wait_ms: u64,
}

/// Writes a local network of `spec.validators` validators: fresh keys, one genesis (the
/// development genesis's balances and limits, this chain id, the validators with equal power)
/// and a home per validator. Returns the homes.
///
/// # Errors
/// I/O failures, or a directory that already holds a network.
pub fn write_testnet(spec: &TestnetSpec) -> anyhow::Result<Vec<PathBuf>> {
    anyhow::ensure!(spec.validators >= 1, "at least one validator");
    anyhow::ensure!(
        !spec.dir.join("genesis.json").exists(),
        "{} already holds a network",
        spec.dir.display()
    );
    std::fs::create_dir_all(&spec.dir)?;
    let mut keys = Vec::new();
    for _ in 0..spec.validators {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("randomness: {e}"))?;
        keys.push(SigningKey::from_bytes(&secret));
    }
    let mut genesis = Genesis::dev();
    genesis.chain_id = spec.chain_id.clone();
    genesis.validators = keys
        .iter()
        .enumerate()
        .map(|(i, key)| GenesisValidator {
            name: format!("v{i}"),
            public_key: format!("0x{}", hex::encode(key.verifying_key().as_bytes())),
            voting_power: 1,
        })
        .collect();
    std::fs::write(spec.dir.join("genesis.json"), genesis.to_json())?;
    let port = |i: u32, offset: u32| -> anyhow::Result<u16> {
        u16::try_from(u32::from(spec.base_port) + 2 * i + offset)
            .map_err(|_| anyhow::anyhow!("--base-port too high for {} validators", spec.validators))
    };
    let mut homes = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let i = i as u32;
        let home = spec.dir.join(format!("v{i}"));
        std::fs::create_dir_all(&home)?;
        let others: Vec<u32> = (0..spec.validators).filter(|&j| j != i).collect();
        let config = ValidatorConfig {
            moniker: format!("v{i}"),
            p2p_addr: format!("/ip4/127.0.0.1/tcp/{}", port(i, 0)?),
            rpc_addr: format!("127.0.0.1:{}", port(i, 1)?),
            peers: others
                .iter()
                .map(|&j| Ok(format!("/ip4/127.0.0.1/tcp/{}", port(j, 0)?)))
                .collect::<anyhow::Result<_>>()?,
            peer_rpc: others
                .iter()
                .map(|&j| Ok(format!("http://127.0.0.1:{}", port(j, 1)?)))
                .collect::<anyhow::Result<_>>()?,
            genesis: "../genesis.json".into(),
            propose_timeout_ms: spec.propose_timeout_ms,
            propose_delta_ms: 500,
            empty_block_wait_ms: spec.empty_block_wait_ms,
            corrupt_proposals: false,
        };
        std::fs::write(home.join("config.toml"), toml::to_string(&config)?)?;
        let key_file = KeyFile {
            secret_key: format!("0x{}", hex::encode(key.to_bytes())),
            public_key: format!("0x{}", hex::encode(key.verifying_key().as_bytes())),
        };
        let key_path = home.join("key.json");
        std::fs::write(&key_path, serde_json::to_string_pretty(&key_file)?)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600))?;
        }
        homes.push(home);
    }
    Ok(homes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_testnet_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let spec = TestnetSpec {
            validators: 4,
            dir: dir.path().join("net"),
            base_port: 30000,
            chain_id: "opmeter-testnet".into(),
            propose_timeout_ms: 1000,
            empty_block_wait_ms: 100,
        };
        let homes = write_testnet(&spec).unwrap();
        assert_eq!(homes.len(), 4);
        let home = Home::load(&homes[2]).unwrap();
        assert_eq!(home.config.rpc_addr, "127.0.0.1:30005");
        assert_eq!(home.config.peers.len(), 3);
        let set = home.validator_set().unwrap();
        assert_eq!(set.validators().len(), 4);
        assert!(set
            .validators()
            .iter()
            .any(|v| v.public_key == home.key.verifying_key()));
        assert!(write_testnet(&spec).is_err(), "a second network in one dir");
    }
}
