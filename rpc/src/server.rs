//! The server: limits, the per-client budget of read-only execution, and the accept loop (HTTP
//! and WebSocket on one port, plus the gas report page at `GET /`: [`crate::ui`]).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonrpsee::server::{
    serve_with_graceful_shutdown, stop_channel, BatchRequestConfig, ServerConfig, ServerHandle,
};
use parking_lot::Mutex;

use crate::api::{Api, ClientAddr, OpmeterApiServer};
use crate::backend::Backend;
use crate::error::{ErrorCode, RpcError};

/// The server's limits. Every one is configurable (`opmeter node --help`) and tested.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RpcConfig {
    /// Largest request body. Prevents memory exhaustion by one huge request; a signed
    /// transaction can be up to `max_tx_len_bytes` (640 KiB), hex doubles it.
    pub max_request_body_bytes: u32,
    /// Largest response body. Bounds the memory of answering one request.
    pub max_response_body_bytes: u32,
    /// Most requests in one batch. Prevents one request from queueing unbounded work.
    pub max_batch_len: u32,
    /// Most open sockets (a socket beyond it is closed at once), and separately most WebSocket
    /// sessions plus HTTP requests in flight (beyond it: HTTP 429). Prevents socket and task
    /// exhaustion.
    pub max_connections: u32,
    /// Most subscriptions per WebSocket connection. Bounds the fan-out work of one client.
    pub max_subscriptions_per_connection: u32,
    /// Most gas of one read-only call (`contract_call`), and the cap of `contract_estimateGas`.
    /// Read-only execution is free, so its cost per request must be bounded.
    pub call_gas_max: u64,
    /// Read-only execution budget per client IP, refilled per second (gas). Stops a client from
    /// burning the node's CPU with free calls; 0 disables the limit.
    pub read_gas_per_second: u64,
    /// Burst of that budget: how much gas a client may spend at once after being idle.
    pub read_gas_burst: u64,
    /// How long `tx_sendRawAndWait` waits for the receipt.
    pub receipt_wait: Duration,
}

impl Default for RpcConfig {
    fn default() -> RpcConfig {
        RpcConfig {
            max_request_body_bytes: 2 * 1024 * 1024,
            max_response_body_bytes: 16 * 1024 * 1024,
            max_batch_len: 100,
            max_connections: 256,
            max_subscriptions_per_connection: 64,
            call_gas_max: 100_000_000,
            read_gas_per_second: 2_000_000_000,
            read_gas_burst: 4_000_000_000,
            receipt_wait: Duration::from_secs(30),
        }
    }
}

/// Least gas a read-only request is charged, so that even requests that fail before executing
/// draw from the budget.
pub const READ_MIN_CHARGE_GAS: u64 = 100_000;

/// A token bucket of gas per client IP. A request reserves its gas limit (refused when the
/// bucket holds less), then is charged what it used (at least [`READ_MIN_CHARGE_GAS`]).
#[derive(Debug)]
pub struct RateLimiter {
    per_second: u64,
    burst: u64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Gas available (may go negative after a charge larger than the reservation).
    tokens: i128,
    at: Instant,
}

/// Buckets kept before idle (full) ones are dropped.
const BUCKETS_MAX: usize = 10_000;

impl RateLimiter {
    /// A limiter refilling `per_second` gas up to `burst` per client; `per_second == 0`
    /// disables it.
    pub fn new(per_second: u64, burst: u64) -> RateLimiter {
        RateLimiter {
            per_second,
            burst: burst.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn refill(&self, bucket: &mut Bucket, now: Instant) {
        let elapsed_us = now.saturating_duration_since(bucket.at).as_micros() as i128;
        let added = elapsed_us * i128::from(self.per_second) / 1_000_000;
        bucket.tokens = (bucket.tokens + added).min(i128::from(self.burst));
        bucket.at = now;
    }

    /// Reserves `gas` for a request of `ip`.
    ///
    /// # Errors
    /// [`ErrorCode::RateLimited`] with `data.retryAfterMs`.
    pub fn reserve(&self, ip: IpAddr, gas: u64) -> Result<(), RpcError> {
        self.reserve_at(ip, gas, Instant::now())
    }

    /// [`RateLimiter::reserve`] at time `now`.
    fn reserve_at(&self, ip: IpAddr, gas: u64, now: Instant) -> Result<(), RpcError> {
        if self.per_second == 0 {
            return Ok(());
        }
        let gas = gas.max(READ_MIN_CHARGE_GAS).min(self.burst);
        let mut buckets = self.buckets.lock();
        if buckets.len() >= BUCKETS_MAX {
            let burst = i128::from(self.burst);
            let per_second = i128::from(self.per_second);
            buckets.retain(|_, b| {
                let elapsed = now.saturating_duration_since(b.at).as_micros() as i128;
                b.tokens + elapsed * per_second / 1_000_000 < burst
            });
        }
        let bucket = buckets.entry(ip).or_insert(Bucket {
            tokens: i128::from(self.burst),
            at: now,
        });
        self.refill(bucket, now);
        let need = i128::from(gas);
        if bucket.tokens < need {
            let missing = need - bucket.tokens;
            let retry_after_ms = (missing * 1000 / i128::from(self.per_second)).max(1) as u64;
            return Err(RpcError::new(
                ErrorCode::RateLimited,
                format!(
                    "read-only execution budget of this client used up ({} gas/s); retry in {retry_after_ms} ms",
                    self.per_second
                ),
            )
            .with_data(serde_json::json!({ "retryAfterMs": retry_after_ms })));
        }
        bucket.tokens -= need;
        Ok(())
    }

    /// Settles a reservation of `reserved` gas of which `used` was spent.
    pub fn settle(&self, ip: IpAddr, reserved: u64, used: u64) {
        if self.per_second == 0 {
            return;
        }
        let reserved = reserved.max(READ_MIN_CHARGE_GAS).min(self.burst);
        let charged = used.max(READ_MIN_CHARGE_GAS);
        if let Some(bucket) = self.buckets.lock().get_mut(&ip) {
            bucket.tokens += i128::from(reserved) - i128::from(charged);
            bucket.tokens = bucket.tokens.min(i128::from(self.burst));
        }
    }
}

/// The methods over `backend` with `config`'s call limits, as registered by [`serve`].
pub fn methods(backend: Arc<dyn Backend>, config: RpcConfig) -> jsonrpsee::RpcModule<()> {
    let limiter = Arc::new(RateLimiter::new(
        config.read_gas_per_second,
        config.read_gas_burst,
    ));
    let mut module = jsonrpsee::RpcModule::new(());
    let slots = std::thread::available_parallelism().map_or(2, |n| n.get());
    let api = Api {
        notices: crate::api::notices(backend.as_ref()),
        backend,
        config,
        limiter,
        executions: Arc::new(crate::api::Slots::new(slots)),
    };
    // Cannot fail: a fresh module has no method names to clash with.
    let _ = module.merge(api.into_rpc());
    module
}

/// Starts the server on `addr` (port 0 picks a free one); returns the bound address and a handle
/// that stops it.
///
/// # Errors
/// When the address cannot be bound.
pub async fn serve(
    backend: Arc<dyn Backend>,
    addr: &str,
    config: RpcConfig,
) -> Result<(SocketAddr, ServerHandle), std::io::Error> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let server_config = ServerConfig::builder()
        .max_request_body_size(config.max_request_body_bytes)
        .max_response_body_size(config.max_response_body_bytes)
        .set_batch_request_config(BatchRequestConfig::Limit(config.max_batch_len))
        .max_connections(config.max_connections)
        .max_subscriptions_per_connection(config.max_subscriptions_per_connection)
        .build();
    let max_connections = config.max_connections;
    let methods = methods(backend, config.clone());
    let builder = jsonrpsee::server::Server::builder()
        .set_config(server_config)
        .to_service_builder();
    let (stop_handle, server_handle) = stop_channel();
    // Open sockets are bounded too, not only requests in flight: an idle connection holds a
    // permit until it closes, and one beyond the limit is closed at once.
    let sockets = Arc::new(tokio::sync::Semaphore::new(max_connections as usize));
    tokio::spawn(async move {
        loop {
            let (socket, remote) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!("rpc accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = stop_handle.clone().shutdown() => break,
            };
            let Ok(permit) = Arc::clone(&sockets).try_acquire_owned() else {
                tracing::debug!("rpc connection limit reached; closing {remote}");
                drop(socket);
                continue;
            };
            let _ = socket.set_nodelay(true);
            let builder = builder.clone();
            let methods = methods.clone();
            let stop = stop_handle.clone();
            // The client's address reaches the methods (rate limiting) through the request's
            // extensions.
            // The service lives as long as the connection: so does its socket permit.
            let permit = Arc::new(permit);
            let service = tower::service_fn(
                move |mut request: jsonrpsee::server::HttpRequest<hyper::body::Incoming>| {
                    let _held = &permit;
                    // The gas report page (`GET /`, `GET /ui`): a constant answered here, under
                    // the socket limit; everything else (POST, WebSocket) is JSON-RPC.
                    let page = crate::ui::is_page_request(&request).then(crate::ui::page_response);
                    request.extensions_mut().insert(ClientAddr(remote));
                    let mut service = builder.clone().build(methods.clone(), stop.clone());
                    async move {
                        match page {
                            Some(page) => Ok(page),
                            None => tower::Service::call(&mut service, request).await,
                        }
                    }
                },
            );
            tokio::spawn(serve_with_graceful_shutdown(
                socket,
                service,
                stop_handle.clone().shutdown(),
            ));
        }
    });
    Ok((bound, server_handle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_refuses_then_refills_exactly_when_it_said() {
        let limiter = RateLimiter::new(1_000_000, 1_000_000);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let start = Instant::now();
        limiter.reserve_at(ip, 600_000, start).unwrap();
        limiter.settle(ip, 600_000, 600_000);
        let error = limiter.reserve_at(ip, 600_000, start).unwrap_err();
        assert_eq!(error.code, 2003);
        // 400,000 gas left, 600,000 needed, 1,000,000 gas/s: 200 ms.
        let retry = error.data.unwrap()["retryAfterMs"].as_u64().unwrap();
        assert_eq!(retry, 200);
        // Another client has its own budget.
        limiter
            .reserve_at("10.0.0.2".parse().unwrap(), 600_000, start)
            .unwrap();
        // Just before the time it named: still refused; at it: admitted.
        let early = start + Duration::from_millis(retry - 1);
        assert_eq!(
            limiter.reserve_at(ip, 600_000, early).unwrap_err().code,
            2003
        );
        limiter
            .reserve_at(ip, 600_000, start + Duration::from_millis(retry))
            .unwrap();
    }

    #[test]
    fn unused_reservation_is_returned_and_minimum_charged() {
        let limiter = RateLimiter::new(1, 1_000_000);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        // A large reservation that used nothing is returned but for the minimum charge.
        limiter.reserve(ip, 900_000).unwrap();
        limiter.settle(ip, 900_000, 0);
        let mut admitted = 1;
        while limiter.reserve(ip, 0).is_ok() {
            limiter.settle(ip, 0, 0);
            admitted += 1;
            assert!(admitted <= 10, "the minimum charge is not applied");
        }
        assert_eq!(admitted, 10);
    }

    #[test]
    fn zero_rate_disables() {
        let limiter = RateLimiter::new(0, 0);
        for _ in 0..1000 {
            limiter
                .reserve("10.0.0.1".parse().unwrap(), u64::MAX)
                .unwrap();
        }
    }
}
