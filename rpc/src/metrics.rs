//! Prometheus metrics, served at `GET /metrics` on the RPC port (text exposition format 0.0.4):
//! requests by JSON-RPC method and by HTTP route with their status and latency, read-only gas by
//! contract, time-outs and refusals, blocks and their production time, the mempool, the code
//! cache, RocksDB sizes and quota use. Every series is kept in ordered maps, so a page lists them
//! in a stable order; label values are bounded (known method names, fixed routes, contracts up
//! to [`CONTRACTS_MAX`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use jsonrpsee::server::middleware::rpc::{Batch, Notification, RpcServiceT};
use jsonrpsee::server::MethodResponse;
use jsonrpsee::types::Request;
use opmeter_vm::Address;
use parking_lot::Mutex;

use crate::backend::NodeMetrics;

/// Upper bounds of the latency and block-time histograms, in seconds.
pub const BUCKETS_SECONDS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// Contracts whose read-only gas is counted one by one; the rest is counted as `other`.
pub const CONTRACTS_MAX: usize = 1_000;

/// A cumulative histogram over [`BUCKETS_SECONDS`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Histogram {
    /// Observations at most each bound (not yet cumulative).
    counts: [u64; BUCKETS_SECONDS.len()],
    /// Sum of every observation, in seconds.
    sum_seconds: f64,
    /// Observations.
    count: u64,
}

impl Histogram {
    /// Adds one observation.
    pub fn observe(&mut self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        if let Some(i) = BUCKETS_SECONDS.iter().position(|le| seconds <= *le) {
            self.counts[i] += 1;
        }
        self.sum_seconds += seconds;
        self.count += 1;
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        let sep = if labels.is_empty() { "" } else { "," };
        for (le, count) in BUCKETS_SECONDS.iter().zip(self.counts) {
            cumulative += count;
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = |labels: &str| {
            if labels.is_empty() {
                String::new()
            } else {
                format!("{{{labels}}}")
            }
        };
        let _ = writeln!(out, "{name}_sum{} {}", braces(labels), self.sum_seconds);
        let _ = writeln!(out, "{name}_count{} {}", braces(labels), self.count);
    }
}

/// What the server counts itself.
#[derive(Debug, Default)]
pub struct Metrics {
    rpc: Mutex<BTreeMap<(&'static str, String), u64>>,
    rpc_seconds: Mutex<BTreeMap<&'static str, Histogram>>,
    http: Mutex<BTreeMap<(&'static str, u16), u64>>,
    http_seconds: Mutex<BTreeMap<&'static str, Histogram>>,
    read_gas: Mutex<BTreeMap<Option<Address>, u64>>,
    timeouts: AtomicU64,
    quota_refusals: AtomicU64,
    rate_limited: AtomicU64,
}

/// Escapes a label value.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

impl Metrics {
    /// Counts one JSON-RPC request of `method` (a known name, or `unknown`) and its outcome
    /// (`ok` or the error code).
    pub fn rpc(&self, method: &'static str, error_code: Option<i32>, elapsed: Duration) {
        let outcome = error_code.map_or_else(|| "ok".to_string(), |c| c.to_string());
        *self.rpc.lock().entry((method, outcome)).or_insert(0) += 1;
        self.rpc_seconds
            .lock()
            .entry(method)
            .or_default()
            .observe(elapsed);
    }

    /// Counts one HTTP request of `route` answered with `status`.
    pub fn http(&self, route: &'static str, status: u16, elapsed: Duration) {
        *self.http.lock().entry((route, status)).or_insert(0) += 1;
        self.http_seconds
            .lock()
            .entry(route)
            .or_default()
            .observe(elapsed);
    }

    /// Counts `gas` of read-only execution of `contract`.
    pub fn read_gas(&self, contract: Address, gas: u64) {
        let mut read_gas = self.read_gas.lock();
        let key = if read_gas.contains_key(&Some(contract)) || read_gas.len() < CONTRACTS_MAX {
            Some(contract)
        } else {
            None
        };
        let total = read_gas.entry(key).or_insert(0);
        *total = total.saturating_add(gas);
    }

    /// Counts a read-only execution stopped by the time limit.
    pub fn timeout(&self) {
        self.timeouts.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a call refused because its contract spent its daily quota.
    pub fn quota_refusal(&self) {
        self.quota_refusals.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a request refused by the per-client budget.
    pub fn rate_limited(&self) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    /// The page: the server's counters and `node`'s state.
    pub fn render(&self, node: &NodeMetrics) -> String {
        let mut out = String::new();
        family(
            &mut out,
            "opmeter_rpc_requests_total",
            "counter",
            "JSON-RPC requests by method and outcome (ok or the error code).",
        );
        for ((method, outcome), count) in self.rpc.lock().iter() {
            let _ = writeln!(
                out,
                "opmeter_rpc_requests_total{{method=\"{method}\",outcome=\"{}\"}} {count}",
                label(outcome)
            );
        }
        family(
            &mut out,
            "opmeter_rpc_request_duration_seconds",
            "histogram",
            "JSON-RPC request latency by method.",
        );
        for (method, histogram) in self.rpc_seconds.lock().iter() {
            histogram.render(
                &mut out,
                "opmeter_rpc_request_duration_seconds",
                &format!("method=\"{method}\""),
            );
        }
        family(
            &mut out,
            "opmeter_http_requests_total",
            "counter",
            "HTTP requests by route and status.",
        );
        for ((route, status), count) in self.http.lock().iter() {
            let _ = writeln!(
                out,
                "opmeter_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {count}"
            );
        }
        family(
            &mut out,
            "opmeter_http_request_duration_seconds",
            "histogram",
            "HTTP request latency by route (WebSocket: the handshake).",
        );
        for (route, histogram) in self.http_seconds.lock().iter() {
            histogram.render(
                &mut out,
                "opmeter_http_request_duration_seconds",
                &format!("route=\"{route}\""),
            );
        }
        family(&mut out, "opmeter_read_gas_total", "counter", "Gas of read-only executions by contract (contract=\"other\" past the first 1000 contracts).");
        for (contract, gas) in self.read_gas.lock().iter() {
            let name = contract.map_or_else(|| "other".to_string(), |c| c.to_string());
            let _ = writeln!(out, "opmeter_read_gas_total{{contract=\"{name}\"}} {gas}");
        }
        let counters = [
            (
                "opmeter_read_timeouts_total",
                "Read-only executions stopped by the time limit.",
                &self.timeouts,
            ),
            (
                "opmeter_quota_refusals_total",
                "Calls refused because their contract spent its daily quota.",
                &self.quota_refusals,
            ),
            (
                "opmeter_rate_limited_total",
                "Requests refused by the per-client read-only budget.",
                &self.rate_limited,
            ),
        ];
        for (name, help, value) in counters {
            family(&mut out, name, "counter", help);
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        }
        family(
            &mut out,
            "opmeter_quota_used_gas",
            "gauge",
            "Read-only gas each contract with a quota used in the rolling 24 h window.",
        );
        for (contract, used, _) in &node.quotas {
            let _ = writeln!(
                out,
                "opmeter_quota_used_gas{{contract=\"{contract}\"}} {used}"
            );
        }
        family(
            &mut out,
            "opmeter_quota_daily_gas",
            "gauge",
            "The daily quota of each contract listed in opmeter_quota_used_gas.",
        );
        for (contract, _, daily) in &node.quotas {
            let _ = writeln!(
                out,
                "opmeter_quota_daily_gas{{contract=\"{contract}\"}} {}",
                daily.unwrap_or(0)
            );
        }
        let gauges: [(&str, &str, u64); 3] = [
            (
                "opmeter_head_height",
                "Height of the last committed block.",
                node.head_height,
            ),
            (
                "opmeter_mempool_transactions",
                "Pending transactions.",
                node.mempool_transactions,
            ),
            (
                "opmeter_code_cache_modules",
                "Compiled modules in the vm's consensus module cache.",
                node.cache_modules,
            ),
        ];
        for (name, help, value) in gauges {
            family(&mut out, name, "gauge", help);
            let _ = writeln!(out, "{name} {value}");
        }
        let totals: [(&str, &str, u64); 5] = [
            (
                "opmeter_blocks_total",
                "Blocks this node committed since it started.",
                node.block_seconds.count(),
            ),
            (
                "opmeter_block_transactions_total",
                "Transactions in those blocks.",
                node.block_transactions,
            ),
            (
                "opmeter_block_gas_total",
                "Gas those blocks used.",
                node.block_gas,
            ),
            (
                "opmeter_code_cache_hits_total",
                "Module lookups answered by the vm's module caches.",
                node.cache_hits,
            ),
            (
                "opmeter_code_cache_misses_total",
                "Module lookups that compiled.",
                node.cache_misses,
            ),
        ];
        for (name, help, value) in totals {
            family(&mut out, name, "counter", help);
            let _ = writeln!(out, "{name} {value}");
        }
        family(
            &mut out,
            "opmeter_block_duration_seconds",
            "histogram",
            "Time to produce a block: prepare, process, execute, commit.",
        );
        node.block_seconds
            .render(&mut out, "opmeter_block_duration_seconds", "");
        family(
            &mut out,
            "opmeter_db_sst_bytes",
            "gauge",
            "RocksDB SST file bytes by column family.",
        );
        for (cf, sst, _) in &node.column_families {
            let _ = writeln!(out, "opmeter_db_sst_bytes{{cf=\"{}\"}} {sst}", label(cf));
        }
        family(
            &mut out,
            "opmeter_db_memtable_bytes",
            "gauge",
            "RocksDB memtable bytes by column family.",
        );
        for (cf, _, memtable) in &node.column_families {
            let _ = writeln!(
                out,
                "opmeter_db_memtable_bytes{{cf=\"{}\"}} {memtable}",
                label(cf)
            );
        }
        out
    }
}

/// The JSON-RPC middleware that counts each request by method and outcome (a batch counts as
/// `batch`; notifications are not counted).
#[derive(Clone, Debug)]
pub(crate) struct Counted<S> {
    pub(crate) service: S,
    pub(crate) metrics: std::sync::Arc<Metrics>,
}

/// The label of a method name: a method of the API, else `unknown` (bounded label values).
fn method_label(name: &str) -> &'static str {
    static KNOWN: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    KNOWN
        .get_or_init(crate::openrpc::method_names)
        .iter()
        .copied()
        .find(|known| *known == name)
        .unwrap_or("unknown")
}

impl<S> RpcServiceT for Counted<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Send
        + Sync
        + Clone
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(
        &self,
        request: Request<'a>,
    ) -> impl std::future::Future<Output = Self::MethodResponse> + Send + 'a {
        let method = method_label(request.method_name());
        let service = self.service.clone();
        let metrics = std::sync::Arc::clone(&self.metrics);
        let started = std::time::Instant::now();
        async move {
            let response = service.call(request).await;
            metrics.rpc(method, response.as_error_code(), started.elapsed());
            response
        }
    }

    fn batch<'a>(
        &self,
        requests: Batch<'a>,
    ) -> impl std::future::Future<Output = Self::BatchResponse> + Send + 'a {
        let service = self.service.clone();
        let metrics = std::sync::Arc::clone(&self.metrics);
        let started = std::time::Instant::now();
        async move {
            let response = service.batch(requests).await;
            metrics.rpc("batch", None, started.elapsed());
            response
        }
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl std::future::Future<Output = Self::NotificationResponse> + Send + 'a {
        self.service.notification(n)
    }
}
