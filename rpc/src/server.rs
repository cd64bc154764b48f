//! The server: limits, the per-client budget of read-only execution, and the accept loop (HTTP
//! and WebSocket on one port, plus the gas report page at `GET /`: [`crate::ui`]): sockets
//! bounded in total and per client with a reserve for new clients, a header timeout, and
//! request objects with an invalid `id` answered as JSON-RPC 2.0 says.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonrpsee::server::{
    stop_channel, BatchRequestConfig, HttpBody, HttpRequest, HttpResponse, ServerConfig,
    ServerHandle,
};
use parking_lot::Mutex;
use tracing::Instrument;

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
    /// Most open sockets (WebSocket sessions included) of one client address (an IPv4 address or
    /// an IPv6 /64). Stops one client from holding every socket of the server.
    pub max_connections_per_client: u32,
    /// Sockets kept for client addresses that hold none yet (at most half of
    /// `max_connections`): once fewer are free, only a new client gets one. Stops many
    /// addresses of one attacker, each under its cap, from filling the server.
    pub connections_reserved: u32,
    /// How long a socket may take to send a complete request header, from its connection or
    /// from its previous response (an idle keep-alive socket is closed after it). Frees the
    /// sockets of clients that connect and send nothing.
    pub header_timeout: Duration,
    /// How long a request body may take to arrive in full, from the end of its header (JSON-RPC
    /// and gateway POSTs); past it the request is answered `2012` (HTTP 408) and the socket is
    /// closed. Frees the sockets of clients that send a header and then trickle the body.
    pub body_timeout: Duration,
    /// Most subscriptions per WebSocket connection. Bounds the fan-out work of one client.
    pub max_subscriptions_per_connection: u32,
    /// Most gas of one read-only call (`contract_call`), and the cap of `contract_estimateGas`.
    /// Read-only execution is free, so its cost per request must be bounded.
    pub call_gas_max: u64,
    /// Wall-clock limit of one read-only request's execution (`contract_call`,
    /// `contract_traceCall`, all executions of one `contract_estimateGas`, a gateway call),
    /// counted from when it gets an execution slot; past it the execution is stopped
    /// (`2009`). Gas bounds the work, this bounds the time a slow instruction mix or a loaded
    /// machine can take a core. Never applies to transactions in blocks.
    pub call_time_max: Duration,
    /// Read-only execution budget per client IP, refilled per second (gas). Stops a client from
    /// burning the node's CPU with free calls; 0 disables the limit.
    pub read_gas_per_second: u64,
    /// Burst of that budget: how much gas a client may spend at once after being idle.
    pub read_gas_burst: u64,
    /// How long `tx_sendRawAndWait` waits for the receipt.
    pub receipt_wait: Duration,
    /// The domain of host-name routing: a request to `{name}.{domain}` calls the contract named
    /// `name` (`GET|POST /{method}`, see [`crate::gateway`]). `None`: no host-name routing.
    pub http_domain: Option<String>,
}

impl Default for RpcConfig {
    fn default() -> RpcConfig {
        RpcConfig {
            max_request_body_bytes: 2 * 1024 * 1024,
            max_response_body_bytes: 16 * 1024 * 1024,
            max_batch_len: 100,
            max_connections: 256,
            max_connections_per_client: 32,
            connections_reserved: 32,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_subscriptions_per_connection: 64,
            call_gas_max: 100_000_000,
            call_time_max: Duration::from_secs(2),
            read_gas_per_second: 2_000_000_000,
            read_gas_burst: 4_000_000_000,
            receipt_wait: Duration::from_secs(30),
            http_domain: None,
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
    build(backend, config).0
}

/// The methods and the API state they share with the gateway (one budget, one set of slots).
fn build(backend: Arc<dyn Backend>, config: RpcConfig) -> (jsonrpsee::RpcModule<()>, Api) {
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
        metrics: Arc::new(crate::metrics::Metrics::default()),
    };
    // Cannot fail: a fresh module has no method names to clash with.
    let _ = module.merge(api.clone().into_rpc());
    (module, api)
}

/// The key under which a client's sockets and budget are counted: its IPv4 address, or its
/// IPv6 /64 (one host commonly holds a whole /64, so single IPv6 addresses would be free
/// budgets).
pub fn client_key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(std::net::Ipv6Addr::from(prefix))
            }
        },
        v4 => v4,
    }
}

/// Why a new socket was closed at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SocketRefusal {
    /// Every socket of the server is open.
    #[error("every one of the server's sockets is open")]
    Full,
    /// This client holds `max_connections_per_client` sockets.
    #[error("this client holds its maximum of sockets")]
    ClientCap,
    /// Only the reserve is left, and this client already holds a socket.
    #[error("only the reserve for other clients is left")]
    Reserved,
}

/// The open sockets, in total and per client key, and the rule that admits a new one.
#[derive(Debug)]
pub struct SocketTable {
    max_total: u32,
    max_per_client: u32,
    reserved: u32,
    open: Mutex<OpenSockets>,
}

#[derive(Debug, Default)]
struct OpenSockets {
    total: u32,
    per_client: HashMap<IpAddr, u32>,
}

/// A socket admitted by a [`SocketTable`]; it counts until the last clone is dropped (the
/// connection, and a WebSocket session's requests, each hold one).
#[derive(Clone, Debug)]
pub struct SocketHold(Arc<Held>);

#[derive(Debug)]
struct Held {
    table: Arc<SocketTable>,
    client: IpAddr,
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut open = self.table.open.lock();
        open.total = open.total.saturating_sub(1);
        if let Some(count) = open.per_client.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                open.per_client.remove(&self.client);
            }
        }
    }
}

impl SocketHold {
    /// The client key the socket counts under.
    pub fn client(&self) -> IpAddr {
        self.0.client
    }
}

impl SocketTable {
    /// A table of at most `max_total` sockets, `max_per_client` per client key, keeping
    /// `reserved` (at most half of `max_total`) for clients that hold none.
    pub fn new(max_total: u32, max_per_client: u32, reserved: u32) -> SocketTable {
        SocketTable {
            max_total,
            max_per_client: max_per_client.max(1),
            reserved: reserved.min(max_total / 2),
            open: Mutex::new(OpenSockets::default()),
        }
    }

    /// Admits a socket of `client` (any address; counted under [`client_key`]).
    ///
    /// # Errors
    /// The [`SocketRefusal`] when the socket must be closed.
    pub fn admit(self: &Arc<Self>, client: IpAddr) -> Result<SocketHold, SocketRefusal> {
        let client = client_key(client);
        let mut open = self.open.lock();
        let held = open.per_client.get(&client).copied().unwrap_or(0);
        let free = self.max_total.saturating_sub(open.total);
        if free == 0 {
            return Err(SocketRefusal::Full);
        }
        if held >= self.max_per_client {
            return Err(SocketRefusal::ClientCap);
        }
        if held > 0 && free <= self.reserved {
            return Err(SocketRefusal::Reserved);
        }
        open.total += 1;
        *open.per_client.entry(client).or_insert(0) += 1;
        Ok(SocketHold(Arc::new(Held {
            table: Arc::clone(self),
            client,
        })))
    }

    /// Sockets open now.
    pub fn open(&self) -> u32 {
        self.open.lock().total
    }
}

/// The JSON-RPC error object that stands in for a request object whose `id` is not a JSON-RPC
/// id: jsonrpsee answers it `-32600` with `id: null` (without it, jsonrpsee reads such an object
/// as a notification and answers nothing).
const INVALID_REQUEST_OBJECT: &str = r#"{"jsonrpc":"2.0","id":null}"#;

/// `body` with every request object whose `id` is present but neither a string, a
/// non-negative integer nor `null` replaced by [`INVALID_REQUEST_OBJECT`]; `None` when there is
/// none (or the body is not JSON: jsonrpsee answers that itself).
pub fn replace_invalid_ids(body: &[u8]) -> Option<Vec<u8>> {
    use serde_json::value::RawValue;
    #[derive(serde::Deserialize)]
    struct Probe<'a> {
        #[serde(borrow)]
        id: Option<&'a RawValue>,
    }
    fn invalid(object: &str) -> bool {
        match serde_json::from_str::<Probe<'_>>(object) {
            Ok(Probe { id: Some(id) }) => {
                serde_json::from_str::<jsonrpsee::types::Id<'_>>(id.get()).is_err()
            }
            _ => false,
        }
    }
    let text = std::str::from_utf8(body).ok()?;
    match text.trim_start().as_bytes().first()? {
        b'{' => invalid(text).then(|| INVALID_REQUEST_OBJECT.as_bytes().to_vec()),
        b'[' => {
            let entries: Vec<&RawValue> = serde_json::from_str(text).ok()?;
            if !entries.iter().any(|e| invalid(e.get())) {
                return None;
            }
            let fixed: Vec<&str> = entries
                .iter()
                .map(|e| {
                    if invalid(e.get()) {
                        INVALID_REQUEST_OBJECT
                    } else {
                        e.get()
                    }
                })
                .collect();
            Some(format!("[{}]", fixed.join(",")).into_bytes())
        }
        _ => None,
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The response header carrying a request's id (the `id` of its log lines' `request` span).
pub const REQUEST_ID_HEADER: &str = "opmeter-request-id";

/// What an HTTP request is for (the `route` label of its metrics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    /// `GET /metrics`.
    Metrics,
    /// A gateway route (`/v1/…`), by name.
    Gateway(&'static str),
    /// A WebSocket upgrade.
    WebSocket,
    /// Anything else: JSON-RPC over HTTP.
    JsonRpc,
}

impl Route {
    fn name(self) -> &'static str {
        match self {
            Route::Metrics => "metrics",
            Route::Gateway(name) => name,
            Route::WebSocket => "websocket",
            Route::JsonRpc => "jsonrpc",
        }
    }
}

fn route_of<B>(request: &HttpRequest<B>, http_domain: Option<&str>) -> Route {
    let path = request.uri().path();
    if crate::gateway::host_contract(request, http_domain).is_some() {
        Route::Gateway(crate::gateway::HOST_CALL_ROUTE)
    } else if request.method() == hyper::Method::GET && path == "/metrics" {
        Route::Metrics
    } else if crate::gateway::is_gateway_request(request) {
        Route::Gateway(crate::gateway::route_name(path))
    } else if jsonrpsee::server::ws::is_upgrade_request(request) {
        Route::WebSocket
    } else {
        Route::JsonRpc
    }
}

/// The Prometheus page: the server's counters and the node's state.
async fn metrics_page(api: Api) -> HttpResponse {
    let page = tokio::task::spawn_blocking(move || {
        let node = api.backend.node_metrics();
        api.metrics.render(&node)
    })
    .await
    .unwrap_or_else(|e| format!("# metrics unavailable: {e}\n"));
    let mut response = HttpResponse::new(HttpBody::from(page));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// Why a request body could not be read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// It is longer than the limit (bytes).
    TooLarge(u32),
    /// It did not arrive within the body timeout.
    TimedOut(Duration),
    /// The socket failed or closed mid-body.
    Broken(BoxError),
}

/// Reads a request body of at most `max_bytes` that arrives within `timeout`.
pub(crate) async fn read_body(
    body: hyper::body::Incoming,
    max_bytes: u32,
    timeout: Duration,
) -> Result<hyper::body::Bytes, BodyError> {
    use http_body_util::BodyExt;
    let collect = http_body_util::Limited::new(body, max_bytes as usize).collect();
    match tokio::time::timeout(timeout, collect).await {
        Err(_) => Err(BodyError::TimedOut(timeout)),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            Err(BodyError::TooLarge(max_bytes))
        }
        Ok(Err(e)) => Err(BodyError::Broken(e)),
    }
}

/// The error of a body that did not arrive in time: `2012`, to be answered with HTTP 408 on a
/// socket that is then closed.
pub(crate) fn body_timeout_error(timeout: Duration) -> RpcError {
    let limit_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    RpcError::new(
        ErrorCode::BodyTimeout,
        format!("the request body did not arrive within {limit_ms} ms of its header"),
    )
    .with_data(serde_json::json!({ "timeLimitMs": limit_ms }))
}

/// The JSON-RPC answer to a body that did not arrive in time: HTTP 408, the socket closed.
fn body_timeout_response(timeout: Duration) -> HttpResponse {
    let error = body_timeout_error(timeout);
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": { "code": error.code, "message": error.message, "data": error.data },
    });
    let mut response = HttpResponse::new(HttpBody::from(body.to_string()));
    *response.status_mut() = hyper::StatusCode::REQUEST_TIMEOUT;
    let headers = response.headers_mut();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    headers.insert(
        hyper::header::CONNECTION,
        hyper::header::HeaderValue::from_static("close"),
    );
    response
}

/// Reads a JSON-RPC POST body (at most `max_body_bytes`, within `body_timeout`) and hands the
/// request to `service`, with invalid ids replaced ([`replace_invalid_ids`]). Other requests
/// (WebSocket upgrades) pass through with their (empty) body.
async fn json_rpc<S>(
    request: HttpRequest<hyper::body::Incoming>,
    max_body_bytes: u32,
    body_timeout: Duration,
    mut service: S,
) -> Result<HttpResponse, BoxError>
where
    S: tower::Service<HttpRequest<HttpBody>, Response = HttpResponse, Error = BoxError>,
{
    if request.method() != hyper::Method::POST {
        return service.call(request.map(HttpBody::new)).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match read_body(body, max_body_bytes, body_timeout).await {
        Ok(bytes) => bytes,
        Err(BodyError::TooLarge(max)) => {
            return Ok(jsonrpsee::server::http::response::too_large(max));
        }
        Err(BodyError::TimedOut(timeout)) => return Ok(body_timeout_response(timeout)),
        Err(BodyError::Broken(e)) => return Err(e),
    };
    let body = match replace_invalid_ids(&bytes) {
        Some(fixed) => HttpBody::from(fixed),
        None => HttpBody::new(http_body_util::Full::new(bytes)),
    };
    service.call(HttpRequest::from_parts(parts, body)).await
}

/// Serves one socket as HTTP/1.1 (with upgrades to WebSocket) until it closes or `stopped`
/// completes: a socket that sends no complete request header within `header_timeout` of its
/// connection or of its last response is closed.
async fn serve_socket<S>(
    socket: tokio::net::TcpStream,
    service: S,
    header_timeout: Duration,
    stopped: impl std::future::Future<Output = ()>,
) where
    S: tower::Service<
            HttpRequest<hyper::body::Incoming>,
            Response = HttpResponse,
            Error = BoxError,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let io = hyper_util::rt::TokioIo::new(socket);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    let conn = builder
        .serve_connection(io, hyper_util::service::TowerToHyperService::new(service))
        .with_upgrades();
    tokio::pin!(conn, stopped);
    let result = tokio::select! {
        result = &mut conn => result,
        _ = &mut stopped => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!("rpc connection closed: {e}");
    }
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
    let sockets = Arc::new(SocketTable::new(
        config.max_connections,
        config.max_connections_per_client,
        config.connections_reserved,
    ));
    let header_timeout = config.header_timeout;
    let max_body_bytes = config.max_request_body_bytes;
    let body_timeout = config.body_timeout;
    let (methods, api) = build(backend, config.clone());
    let counted = Arc::clone(&api.metrics);
    let rpc_middleware =
        jsonrpsee::server::middleware::rpc::RpcServiceBuilder::new().layer_fn(move |service| {
            crate::metrics::Counted {
                service,
                metrics: Arc::clone(&counted),
            }
        });
    let builder = jsonrpsee::server::Server::builder()
        .set_config(server_config)
        .set_rpc_middleware(rpc_middleware)
        .to_service_builder();
    let (stop_handle, server_handle) = stop_channel();
    let request_ids = Arc::new(std::sync::atomic::AtomicU64::new(0));
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
            // Open sockets are bounded in total and per client, not only requests in flight:
            // an idle connection holds its place until it closes (at the latest after the
            // header timeout), and one beyond a limit is closed at once.
            let hold = match sockets.admit(remote.ip()) {
                Ok(hold) => hold,
                Err(refusal) => {
                    tracing::debug!("rpc socket of {remote} closed: {refusal}");
                    drop(socket);
                    continue;
                }
            };
            let _ = socket.set_nodelay(true);
            let builder = builder.clone();
            let methods = methods.clone();
            let api = api.clone();
            let request_ids = Arc::clone(&request_ids);
            let stop = stop_handle.clone();
            let service = tower::service_fn(
                move |mut request: HttpRequest<hyper::body::Incoming>| {
                    // The gas report page (`GET /`, `GET /ui`): a constant answered here, under
                    // the socket limits; everything else (POST, WebSocket) is JSON-RPC.
                    let route = route_of(&request, api.config.http_domain.as_deref());
                    let page = (crate::ui::is_page_request(&request)
                        && !matches!(route, Route::Gateway(crate::gateway::HOST_CALL_ROUTE)))
                    .then(crate::ui::page_response);
                    let api = api.clone();
                    // Every request gets an id: in its log lines (a span) and in its answer.
                    let id = request_ids.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    let span = tracing::info_span!(
                        "request",
                        id,
                        route = route.name(),
                        client = %remote
                    );
                    // The client's address reaches the methods (rate limiting) through the
                    // request's extensions; so does the socket's hold, which a WebSocket
                    // session keeps for as long as it lasts.
                    request.extensions_mut().insert(ClientAddr(remote));
                    request.extensions_mut().insert(hold.clone());
                    let service = builder.clone().build(methods.clone(), stop.clone());
                    async move {
                        let started = Instant::now();
                        let metrics = Arc::clone(&api.metrics);
                        let is_page = page.is_some();
                        tracing::debug!(method = %request.method(), path = request.uri().path(), "request");
                        let response = match (page, route) {
                            (Some(page), _) => Ok(page),
                            (None, Route::Metrics) => Ok(metrics_page(api).await),
                            (None, Route::Gateway(_)) => {
                                Ok(crate::gateway::handle(api, request, remote).await)
                            }
                            (None, Route::JsonRpc | Route::WebSocket) => {
                                json_rpc(request, max_body_bytes, body_timeout, service).await
                            }
                        };
                        let mut response = response;
                        if let Ok(response) = &mut response {
                            let name = if is_page { "ui" } else { route.name() };
                            let status = response.status().as_u16();
                            metrics.http(name, status, started.elapsed());
                            response.headers_mut().insert(
                                REQUEST_ID_HEADER,
                                hyper::header::HeaderValue::from(id),
                            );
                            tracing::debug!(
                                status,
                                micros = started.elapsed().as_micros() as u64,
                                "answered"
                            );
                        }
                        response
                    }
                    .instrument(span)
                },
            );
            tokio::spawn(serve_socket(
                socket,
                service,
                header_timeout,
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
    fn sockets_are_capped_per_client_with_a_reserve_for_new_clients() {
        let table = Arc::new(SocketTable::new(8, 3, 2));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let mut held: Vec<SocketHold> = (0..3).map(|_| table.admit(a).unwrap()).collect();
        assert_eq!(table.admit(a).unwrap_err(), SocketRefusal::ClientCap);
        // Two more clients take their share until only the reserve (2) is left.
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        held.push(table.admit(b).unwrap());
        held.push(table.admit(b).unwrap());
        held.push(table.admit(b).unwrap());
        assert_eq!(table.open(), 6);
        assert_eq!(table.admit(b).unwrap_err(), SocketRefusal::ClientCap);
        let c: IpAddr = "10.0.0.3".parse().unwrap();
        // c holds none: the reserve is for it; then c holds one and the reserve is closed to it.
        held.push(table.admit(c).unwrap());
        assert_eq!(table.admit(c).unwrap_err(), SocketRefusal::Reserved);
        let d: IpAddr = "10.0.0.4".parse().unwrap();
        held.push(table.admit(d).unwrap());
        assert_eq!(
            table.admit("10.0.0.5".parse().unwrap()).unwrap_err(),
            SocketRefusal::Full
        );
        // An IPv6 /64 is one client; an IPv4-mapped address is its IPv4 client.
        assert_eq!(
            table.admit("::ffff:10.0.0.1".parse().unwrap()).unwrap_err(),
            SocketRefusal::Full
        );
        // Every hold released (clones included): everything is free again.
        let clone = held[0].clone();
        held.clear();
        assert_eq!(table.open(), 1);
        drop(clone);
        assert_eq!(table.open(), 0);
        let v6 = Arc::new(SocketTable::new(8, 1, 0));
        let _one = v6.admit("2001:db8::1".parse().unwrap()).unwrap();
        assert_eq!(
            v6.admit("2001:db8::2".parse().unwrap()).unwrap_err(),
            SocketRefusal::ClientCap
        );
        v6.admit("2001:db8:0:1::1".parse().unwrap()).unwrap();
    }

    #[test]
    fn request_objects_with_an_invalid_id_are_replaced() {
        let fixed = |body: &str| {
            replace_invalid_ids(body.as_bytes()).map(|b| String::from_utf8(b).unwrap())
        };
        // Valid ids (strings, non-negative integers, null), notifications, non-JSON: untouched.
        for body in [
            r#"{"jsonrpc":"2.0","id":1,"method":"m"}"#,
            r#"{"jsonrpc":"2.0","id":"x\"y","method":"m"}"#,
            r#"{"jsonrpc":"2.0","id":null,"method":"m"}"#,
            r#"{"jsonrpc":"2.0","method":"m"}"#,
            r#"[{"jsonrpc":"2.0","id":1,"method":"m"},{"jsonrpc":"2.0","method":"n"}]"#,
            "{not json",
            "",
            "42",
        ] {
            assert_eq!(fixed(body), None, "{body}");
        }
        for id in ["{}", "[1]", "true", "1.5", "-1"] {
            let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"m","params":[]}}"#);
            assert_eq!(
                fixed(&body).as_deref(),
                Some(INVALID_REQUEST_OBJECT),
                "{id}"
            );
        }
        assert_eq!(
            fixed(r#" [{"jsonrpc":"2.0","id":1,"method":"m"}, {"id":{"a":1},"method":"m"}]"#)
                .as_deref(),
            Some(r#"[{"jsonrpc":"2.0","id":1,"method":"m"},{"jsonrpc":"2.0","id":null}]"#)
        );
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
