//! Daily quotas of free read-only gas per contract: each contract may burn at most its daily
//! budget of read-only gas (`contract_call`, `contract_traceCall`, gateway calls) over a rolling
//! 24 h window, whoever calls it, so nobody mines coins on the node's cores through someone's
//! contract. The per-client budgets (`rpc::RateLimiter`) still apply on top.
//!
//! ```text
//! check (spent ≥ budget? refuse, with when it frees) ─▶ execute ─▶ charge the gas used
//! ```
//!
//! Usage is kept in 96 buckets of 15 minutes per contract; a bucket leaves the window 24 h after
//! it ends, so the window is rolling at that granularity. It is node-local bookkeeping (the
//! node's clock, never consensus state), saved to `quotas.json` in the data directory every
//! second while it changes and when the node stops, so a restart keeps it.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use opmeter_vm::Address;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// Length of the rolling window.
pub const WINDOW_MS: u64 = 24 * 3600 * 1000;

/// Granularity of the window (a bucket of usage).
pub const BUCKET_MS: u64 = 15 * 60 * 1000;

/// Buckets in the window.
const BUCKETS: u64 = WINDOW_MS / BUCKET_MS;

/// How often changed usage is saved.
pub const SAVE_INTERVAL: Duration = Duration::from_secs(1);

/// The file usage is saved to, in the data directory.
pub const FILE_NAME: &str = "quotas.json";

/// The budgets: a default for every contract and per-contract overrides (gas per 24 h; 0 for
/// the default means no quota).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuotaConfig {
    /// Daily read-only gas of a contract without an override; 0: unlimited.
    pub daily_gas_default: u64,
    /// Daily read-only gas of particular contracts (0: unlimited for that contract).
    pub overrides: BTreeMap<Address, u64>,
}

impl QuotaConfig {
    /// The budget of `contract` (`None`: unlimited).
    pub fn daily_gas(&self, contract: &Address) -> Option<u64> {
        let gas = self
            .overrides
            .get(contract)
            .copied()
            .unwrap_or(self.daily_gas_default);
        (gas > 0).then_some(gas)
    }
}

/// Where a contract stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotaStatus {
    /// Its budget per 24 h (`None`: unlimited).
    pub daily_gas: Option<u64>,
    /// Gas spent in the window.
    pub used_gas: u64,
}

impl QuotaStatus {
    /// What is left (`None`: unlimited).
    pub fn remaining_gas(&self) -> Option<u64> {
        self.daily_gas.map(|d| d.saturating_sub(self.used_gas))
    }
}

/// A contract's budget is spent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "contract {contract} spent its daily read-only gas ({daily_gas}); retry in {retry_after_ms} ms"
)]
pub struct QuotaExhausted {
    /// The contract.
    pub contract: Address,
    /// Its budget per 24 h.
    pub daily_gas: u64,
    /// When enough of its usage leaves the window.
    pub retry_after_ms: u64,
}

/// Reading or writing the usage file failed.
#[derive(Debug, thiserror::Error)]
pub enum QuotaError {
    /// The file could not be read or written.
    #[error("quota usage file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a usage file of this version.
    #[error("quota usage file {path} is corrupt: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// The saved form: usage per contract as `[bucket, gas]` pairs (bucket = ms since the epoch /
/// [`BUCKET_MS`]).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Saved {
    version: u32,
    bucket_ms: u64,
    usage: BTreeMap<Address, Vec<(u64, u64)>>,
}

/// The quotas of every contract: budgets, usage, and where usage is saved.
#[derive(Debug)]
pub struct Quotas {
    config: QuotaConfig,
    path: Option<PathBuf>,
    usage: Mutex<BTreeMap<Address, VecDeque<(u64, u64)>>>,
    dirty: AtomicBool,
}

/// Milliseconds since the Unix epoch on this node's clock.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Quotas {
    /// Quotas that are kept in memory only (tests, benchmarks).
    pub fn in_memory(config: QuotaConfig) -> Arc<Quotas> {
        Arc::new(Quotas {
            config,
            path: None,
            usage: Mutex::new(BTreeMap::new()),
            dirty: AtomicBool::new(false),
        })
    }

    /// Quotas whose usage is loaded from and saved to `data_dir/quotas.json` (every
    /// [`SAVE_INTERVAL`] while it changes, by a thread that ends with the quotas, and by
    /// [`Quotas::save`]).
    ///
    /// # Errors
    /// The file exists but cannot be read or parsed.
    pub fn open(
        data_dir: &std::path::Path,
        config: QuotaConfig,
    ) -> Result<Arc<Quotas>, QuotaError> {
        let path = data_dir.join(FILE_NAME);
        let mut usage = BTreeMap::new();
        match std::fs::read(&path) {
            Ok(bytes) => {
                let corrupt = |message: String| QuotaError::Corrupt {
                    path: path.clone(),
                    message,
                };
                let saved: Saved =
                    serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
                if saved.version != 1 || saved.bucket_ms != BUCKET_MS {
                    return Err(corrupt(format!(
                        "version {} with {} ms buckets (expected 1, {BUCKET_MS})",
                        saved.version, saved.bucket_ms
                    )));
                }
                for (contract, buckets) in saved.usage {
                    usage.insert(contract, buckets.into_iter().collect());
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(QuotaError::Io { path, source }),
        }
        let quotas = Arc::new(Quotas {
            config,
            path: Some(path),
            usage: Mutex::new(usage),
            dirty: AtomicBool::new(false),
        });
        let weak: Weak<Quotas> = Arc::downgrade(&quotas);
        let saver = std::thread::Builder::new()
            .name("quota-saver".into())
            .spawn(move || loop {
                std::thread::sleep(SAVE_INTERVAL);
                let Some(quotas) = weak.upgrade() else { return };
                if let Err(e) = quotas.save_if_changed() {
                    tracing::warn!("saving quota usage: {e}");
                }
            });
        if let Err(e) = saver {
            tracing::warn!("no quota saver thread (usage is saved at stop only): {e}");
        }
        Ok(quotas)
    }

    /// The budgets.
    pub fn config(&self) -> &QuotaConfig {
        &self.config
    }

    /// Drops buckets that left the window ending at bucket `current`; returns the gas left.
    fn prune(buckets: &mut VecDeque<(u64, u64)>, current: u64) -> u64 {
        while buckets.front().is_some_and(|(b, _)| b + BUCKETS <= current) {
            buckets.pop_front();
        }
        buckets
            .iter()
            .fold(0u64, |sum, (_, g)| sum.saturating_add(*g))
    }

    /// Where `contract` stands at `now_ms`.
    pub fn status(&self, contract: &Address, now_ms: u64) -> QuotaStatus {
        let daily_gas = self.config.daily_gas(contract);
        let mut usage = self.usage.lock();
        let used_gas = usage
            .get_mut(contract)
            .map_or(0, |b| Quotas::prune(b, now_ms / BUCKET_MS));
        QuotaStatus {
            daily_gas,
            used_gas,
        }
    }

    /// Every contract with a quota and some usage in the window at `now_ms`, in address order.
    pub fn all(&self, now_ms: u64) -> Vec<(Address, QuotaStatus)> {
        let current = now_ms / BUCKET_MS;
        let mut usage = self.usage.lock();
        usage
            .iter_mut()
            .filter_map(|(contract, buckets)| {
                let daily_gas = self.config.daily_gas(contract)?;
                let used_gas = Quotas::prune(buckets, current);
                (used_gas > 0).then_some((
                    *contract,
                    QuotaStatus {
                        daily_gas: Some(daily_gas),
                        used_gas,
                    },
                ))
            })
            .collect()
    }

    /// Whether `contract` may run a read-only call at `now_ms`.
    ///
    /// # Errors
    /// [`QuotaExhausted`] when it spent its budget, with when enough of it leaves the window.
    pub fn check(&self, contract: &Address, now_ms: u64) -> Result<QuotaStatus, QuotaExhausted> {
        let Some(daily_gas) = self.config.daily_gas(contract) else {
            return Ok(QuotaStatus {
                daily_gas: None,
                used_gas: 0,
            });
        };
        let current = now_ms / BUCKET_MS;
        let mut usage = self.usage.lock();
        let Some(buckets) = usage.get_mut(contract) else {
            return Ok(QuotaStatus {
                daily_gas: Some(daily_gas),
                used_gas: 0,
            });
        };
        let used_gas = Quotas::prune(buckets, current);
        if used_gas < daily_gas {
            return Ok(QuotaStatus {
                daily_gas: Some(daily_gas),
                used_gas,
            });
        }
        // The oldest buckets leave first: find the one whose leaving brings usage below budget.
        let mut left = used_gas;
        let mut frees_at = (current + 1) * BUCKET_MS;
        for (bucket, gas) in buckets.iter() {
            left = left.saturating_sub(*gas);
            frees_at = (bucket + BUCKETS) * BUCKET_MS;
            if left < daily_gas {
                break;
            }
        }
        Err(QuotaExhausted {
            contract: *contract,
            daily_gas,
            retry_after_ms: frees_at.saturating_sub(now_ms).max(1),
        })
    }

    /// Charges `gas` of read-only execution to `contract` at `now_ms`; returns where it stands.
    /// Only contracts have quotas: `has_code` is asked (once per contract the table does not
    /// hold yet, outside the table's lock) whether `contract` has code; without it nothing is
    /// recorded, so calls of random addresses cannot grow the table (and `quotas.json`).
    pub fn charge(
        &self,
        contract: &Address,
        gas: u64,
        now_ms: u64,
        has_code: impl FnOnce() -> bool,
    ) -> QuotaStatus {
        let daily_gas = self.config.daily_gas(contract);
        let known = self.usage.lock().contains_key(contract);
        if daily_gas.is_none() || (!known && !has_code()) {
            return QuotaStatus {
                daily_gas,
                used_gas: 0,
            };
        }
        let current = now_ms / BUCKET_MS;
        let mut usage = self.usage.lock();
        let buckets = usage.entry(*contract).or_default();
        match buckets.back_mut() {
            Some((bucket, used)) if *bucket == current => *used = used.saturating_add(gas),
            _ => buckets.push_back((current, gas)),
        }
        let used_gas = Quotas::prune(buckets, current);
        self.dirty.store(true, Ordering::Relaxed);
        QuotaStatus {
            daily_gas,
            used_gas,
        }
    }

    fn save_if_changed(&self) -> Result<(), QuotaError> {
        if self.dirty.swap(false, Ordering::Relaxed) {
            if let Err(e) = self.save() {
                self.dirty.store(true, Ordering::Relaxed);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Writes the usage to the data directory now (atomically: a temporary file renamed over
    /// the old one). Nothing to do for in-memory quotas.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn save(&self) -> Result<(), QuotaError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let saved = Saved {
            version: 1,
            bucket_ms: BUCKET_MS,
            usage: self
                .usage
                .lock()
                .iter()
                .map(|(contract, buckets)| (*contract, buckets.iter().copied().collect()))
                .collect(),
        };
        let io = |source| QuotaError::Io {
            path: path.clone(),
            source,
        };
        let bytes = serde_json::to_vec(&saved).unwrap_or_default();
        crate::replace_file::replace_file(path, &bytes, false).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR_MS: u64 = 3600 * 1000;

    fn quotas(daily: u64) -> Arc<Quotas> {
        let mut config = QuotaConfig {
            daily_gas_default: daily,
            ..QuotaConfig::default()
        };
        config.overrides.insert(Address([9; 32]), 0);
        Quotas::in_memory(config)
    }

    #[test]
    fn a_spent_budget_refuses_until_its_usage_leaves_the_rolling_window() {
        let q = quotas(1_000);
        let a = Address([1; 32]);
        let t0 = 100 * WINDOW_MS + 5 * 60 * 1000;
        assert_eq!(q.check(&a, t0).unwrap().remaining_gas(), Some(1_000));
        q.charge(&a, 600, t0, || true);
        // Two hours later, 500 more: over budget.
        let t1 = t0 + 2 * HOUR_MS;
        assert_eq!(q.check(&a, t1).unwrap().remaining_gas(), Some(400));
        assert_eq!(q.charge(&a, 500, t1, || true).used_gas, 1_100);
        let refused = q.check(&a, t1).unwrap_err();
        // The first 600 leave when their bucket is 24 h old: then 500 < 1,000.
        let frees_at = (t0 / BUCKET_MS + BUCKETS) * BUCKET_MS;
        assert_eq!(refused.retry_after_ms, frees_at - t1);
        assert_eq!(refused.daily_gas, 1_000);
        assert!(q.check(&a, frees_at - 1).is_err());
        assert_eq!(q.check(&a, frees_at).unwrap().used_gas, 500);
        // Other contracts have their own budget; an override of 0 is unlimited.
        assert!(q.check(&Address([2; 32]), t1).is_ok());
        let free = Address([9; 32]);
        q.charge(&free, u64::MAX, t1, || true);
        assert_eq!(q.check(&free, t1).unwrap().daily_gas, None);
    }

    #[test]
    fn only_contracts_are_recorded_and_asked_about_once() {
        let q = quotas(1_000);
        let now = 100 * WINDOW_MS;
        let nobody = Address([3; 32]);
        assert_eq!(q.charge(&nobody, 400, now, || false).used_gas, 0);
        assert!(q.all(now).is_empty());
        let contract = Address([4; 32]);
        let asked = std::cell::Cell::new(0);
        let has_code = || {
            asked.set(asked.get() + 1);
            true
        };
        q.charge(&contract, 400, now, has_code);
        assert_eq!(q.charge(&contract, 100, now, has_code).used_gas, 500);
        assert_eq!(asked.get(), 1, "the table knows it after the first charge");
    }

    #[test]
    fn usage_survives_save_and_open() {
        let dir = tempfile::tempdir().unwrap();
        let config = QuotaConfig {
            daily_gas_default: 1_000,
            ..QuotaConfig::default()
        };
        let a = Address([1; 32]);
        let now = now_ms();
        {
            let q = Quotas::open(dir.path(), config.clone()).unwrap();
            q.charge(&a, 1_500, now, || true);
            q.save().unwrap();
        }
        let q = Quotas::open(dir.path(), config.clone()).unwrap();
        assert_eq!(q.check(&a, now).unwrap_err().daily_gas, 1_000);
        std::fs::write(dir.path().join(FILE_NAME), b"{").unwrap();
        assert!(matches!(
            Quotas::open(dir.path(), config),
            Err(QuotaError::Corrupt { .. })
        ));
    }
}
