//! The genesis document: the chain's identity, its fixed parameters and its initial balances.

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use opmeter_ledger::consensus::ConsensusValidator;
use opmeter_vm::{Address, Schedule, U256};
use serde::{Deserialize, Serialize};

/// Seed of the development account's key. Public on purpose: anyone can sign for it, so it only
/// exists on development chains.
pub const DEV_SEED: [u8; 32] = *b"opmeter development account 0001";

/// The development account's signing key.
pub fn dev_key() -> SigningKey {
    SigningKey::from_bytes(&DEV_SEED)
}

/// The address of a signing key's account.
pub fn address_of(key: &SigningKey) -> Address {
    Address::for_public_key(&key.verifying_key().to_bytes())
}

/// How a chain starts. Stored in the database with block 0; a restarted node reuses it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Genesis {
    /// The chain id every transaction must carry.
    pub chain_id: String,
    /// Timestamp of block 0 (ms since the Unix epoch).
    pub timestamp_ms: u64,
    /// Most gas (sum of gas limits) one block may hold. Bounds block execution time.
    pub block_gas_limit: u64,
    /// Most transactions in one block. Bounds block size and commit time.
    pub block_tx_max: u32,
    /// Smallest accepted gas price (decimal string).
    pub min_gas_price: String,
    /// Receives every fee.
    pub fee_collector: Address,
    /// Initial balances (decimal strings), by address.
    pub balances: BTreeMap<Address, String>,
    /// A development chain: `dev_fund` and the well-known development key are allowed.
    #[serde(default)]
    pub dev: bool,
    /// The gas schedule version the chain runs for its whole life (`vm::Schedule::VERSIONS`);
    /// every header names its hash. Absent in documents written before schedules were chosen
    /// by genesis: those chains are version 1.
    #[serde(default = "schedule_version_1")]
    pub schedule_version: u32,
    /// The validators of a replicated chain, who decide its blocks by BFT consensus (the
    /// `opmeter-validator` binary); empty for a chain one node produces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub validators: Vec<GenesisValidator>,
}

/// A validator listed in a genesis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenesisValidator {
    /// A name for logs.
    pub name: String,
    /// Its ed25519 consensus public key (`0x` + 64 hex digits).
    pub public_key: String,
    /// Its voting power (more than two thirds of the total decides a block).
    pub voting_power: u64,
}

fn schedule_version_1() -> u32 {
    1
}

/// The development chain's block gas limit (the sum of its transactions' gas limits), set from
/// schedule v2's anchor: about 0.4 ns per unit of gas on the reference machine class (2 cores,
/// `specs/gas.md`), and no calibrated item above 2× that, so a block filled with the worst-case
/// item executes in at most 1.2 G × 0.4 ns × 2 ≈ 1 s. Bounds how long one block can stall the
/// node whatever its transactions do.
pub const DEV_BLOCK_GAS_LIMIT: u64 = 1_200_000_000;

impl Genesis {
    /// The development chain `opmeter node` starts without a genesis file: the development
    /// account holds 10^30 units.
    pub fn dev() -> Genesis {
        let mut balances = BTreeMap::new();
        balances.insert(
            address_of(&dev_key()),
            "1000000000000000000000000000000".into(),
        );
        Genesis {
            chain_id: "opmeter-dev".into(),
            timestamp_ms: 1_767_225_600_000,
            block_gas_limit: DEV_BLOCK_GAS_LIMIT,
            block_tx_max: 10_000,
            min_gas_price: "1".into(),
            fee_collector: Address(*blake3::hash(b"opmeter/fee-collector").as_bytes()),
            balances,
            dev: true,
            schedule_version: 2,
            validators: Vec::new(),
        }
    }

    /// Parses and checks a genesis document.
    ///
    /// # Errors
    /// When the JSON is malformed or a number does not parse.
    pub fn from_json(text: &str) -> Result<Genesis, String> {
        let genesis: Genesis = serde_json::from_str(text).map_err(|e| e.to_string())?;
        genesis.min_gas_price()?;
        genesis.initial_balances()?;
        if genesis.chain_id.is_empty() || genesis.chain_id.len() > 64 {
            return Err("chainId must be 1 to 64 bytes".into());
        }
        if genesis.block_gas_limit == 0 || genesis.block_tx_max == 0 {
            return Err("blockGasLimit and blockTxMax must be positive".into());
        }
        genesis.schedule()?;
        genesis.consensus_validators()?;
        Ok(genesis)
    }

    /// The canonical JSON text (what is stored).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The chain's gas schedule.
    ///
    /// # Errors
    /// When this build does not know `scheduleVersion`.
    pub fn schedule(&self) -> Result<Schedule, String> {
        Schedule::by_version(self.schedule_version).ok_or_else(|| {
            format!(
                "scheduleVersion {} is unknown (known: {:?})",
                self.schedule_version,
                Schedule::VERSIONS
            )
        })
    }

    /// The minimum gas price.
    ///
    /// # Errors
    /// When it is not a decimal number below 2^256.
    pub fn min_gas_price(&self) -> Result<U256, String> {
        U256::from_dec_str(&self.min_gas_price).map_err(|e| format!("minGasPrice: {e:?}"))
    }

    /// The validators as a commit certificate's checker needs them (in the document's order;
    /// empty for a chain one node produces): what block `h + 1`'s `last_commit` is verified
    /// against.
    ///
    /// # Errors
    /// When a public key is not `0x` + 64 hex digits.
    pub fn consensus_validators(&self) -> Result<Vec<ConsensusValidator>, String> {
        self.validators
            .iter()
            .map(|v| {
                let bytes = hex::decode(v.public_key.trim_start_matches("0x"))
                    .ok()
                    .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                    .ok_or_else(|| {
                        format!("validator {}: publicKey must be 0x + 64 hex digits", v.name)
                    })?;
                Ok(ConsensusValidator {
                    public_key: bytes,
                    voting_power: v.voting_power,
                })
            })
            .collect()
    }

    /// The initial balances.
    ///
    /// # Errors
    /// When one is not a decimal number below 2^256.
    pub fn initial_balances(&self) -> Result<BTreeMap<Address, U256>, String> {
        self.balances
            .iter()
            .map(|(address, balance)| {
                U256::from_dec_str(balance)
                    .map(|b| (*address, b))
                    .map_err(|e| format!("balance of {address}: {e:?}"))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_genesis_round_trips_through_json() {
        let genesis = Genesis::dev();
        let parsed = Genesis::from_json(&genesis.to_json()).unwrap();
        assert_eq!(parsed, genesis);
        assert_eq!(
            parsed.initial_balances().unwrap()[&address_of(&dev_key())],
            U256::exp10(30)
        );
    }

    #[test]
    fn bad_documents_are_refused() {
        let mut genesis = Genesis::dev();
        genesis.min_gas_price = "ten".into();
        assert!(Genesis::from_json(&genesis.to_json()).is_err());
        assert!(Genesis::from_json(r#"{"chainId": "x"}"#).is_err());
        let text = Genesis::dev().to_json().replace("\"dev\"", "\"unknown\"");
        assert!(Genesis::from_json(&text).is_err());
    }
}
