//! The HTTP gateway: contracts as plain web services on the JSON-RPC port, under `/v1/`.
//!
//! ```text
//! GET  /v1/c/{contract}/{method}?k=v&…   read-only call, arguments from the query
//! POST /v1/c/{contract}/{method}         read-only call, arguments as the JSON body
//!                                        ({contract}: a 0x address or a registered name)
//! POST /v1/tx[?wait=true]                a signed transaction (raw bytes or 0x hex)
//! GET  /v1/tx/{hash}                     a transaction and its receipt
//! GET  /v1/openapi.json                  this API's OpenAPI document
//!
//! with a domain configured (`RpcConfig::http_domain`, `opmeter node --http-domain D`), every
//! request whose host is `{name}.D` is for the contract named `{name}` (other paths: 404):
//! GET  /{method}?k=v&…                    as GET /v1/c/{name}/{method}
//! POST /{method}                          as POST /v1/c/{name}/{method}
//! ```
//!
//! A call answers with the contract's output as the body (`application/json` when it is JSON),
//! and its gas, height, status and schedule in `opmeter-*` headers (the contract's debug log
//! lines too, on request). Every error is an HTTP status with a JSON body carrying the same stable
//! code as JSON-RPC ([`ErrorCode`]). Calls go through the same limits as `contract_call`: the
//! per-client gas budget, the execution slots and the time limit.

use std::net::SocketAddr;
use std::time::Instant;

use hyper::body::Bytes;
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Method, StatusCode};
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use jsonrpsee::types::ErrorObjectOwned;
use jsonrpsee::Extensions;
use opmeter_ledger::admission::AdmissionCode;
use opmeter_ledger::block::ReceiptStatus;
use opmeter_ledger::encoding::{to_hex0x, DecU64, Hash32, HexBytes};
use opmeter_vm::{Outcome, Status, TrapCode};
use serde_json::{json, Value};

use crate::api::{Api, ClientAddr, OpmeterApiServer};
use crate::backend::AtHeight;
use crate::error::{ErrorCode, RpcError};
use crate::types::{AddressOrName, CallArgs};
use opmeter_ledger::name::Name;
use opmeter_prover::ErrorCode as ProverCode;

/// Where the gateway's routes start.
pub const PREFIX: &str = "/v1/";

/// Most debug log lines returned in headers (each at most [`LOG_LINE_MAX_BYTES`]).
pub const LOG_LINES_MAX: usize = 64;

/// Longest debug log line returned in a header (longer lines are cut).
pub const LOG_LINE_MAX_BYTES: usize = 1024;

/// Whether `request` is for the gateway.
pub fn is_gateway_request<B>(request: &HttpRequest<B>) -> bool {
    let path = request.uri().path();
    path.starts_with(PREFIX) || path == "/v1"
}

/// The contract label of `request`'s host under `domain`: `hello` for `Host: hello.<domain>`
/// (any port, any case, a trailing dot allowed); `None` for any other host (the node's own
/// name, an IP address, a deeper subdomain) and without a domain. The label is not checked
/// here: a label that is not a name is an unknown contract.
pub fn host_contract<B>(request: &HttpRequest<B>, domain: Option<&str>) -> Option<String> {
    let domain = domain?.trim_end_matches('.');
    let host = request
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri().host())?;
    // Strip the port (never an IPv6 literal here: those do not end with a domain).
    let host = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let label = host
        .strip_suffix(&domain.to_ascii_lowercase())?
        .strip_suffix('.')?;
    (!label.is_empty() && !label.contains('.')).then(|| label.to_string())
}

/// The `route` label of a gateway path (bounded: one name per route).
pub fn route_name(path: &str) -> &'static str {
    let rest = path.strip_prefix(PREFIX).unwrap_or("");
    match rest.split('/').collect::<Vec<_>>().as_slice() {
        ["c", _, _] => "gateway_call",
        ["tx"] => "gateway_tx",
        ["tx", _] => "gateway_tx_get",
        ["openapi.json"] => "gateway_openapi",
        _ => "gateway_other",
    }
}

/// The `route` label of a call routed by host name.
pub const HOST_CALL_ROUTE: &str = "gateway_host_call";

/// An error answer: an HTTP status and the JSON-RPC error it carries.
#[derive(Debug)]
struct Failure {
    status: StatusCode,
    error: RpcError,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl From<RpcError> for Failure {
    fn from(error: RpcError) -> Failure {
        Failure {
            status: http_status(&error),
            error,
            headers: Vec::new(),
        }
    }
}

impl From<ErrorObjectOwned> for Failure {
    fn from(error: ErrorObjectOwned) -> Failure {
        let data = error
            .data()
            .and_then(|raw| serde_json::from_str(raw.get()).ok());
        Failure::from(RpcError {
            code: error.code(),
            message: error.message().to_string(),
            data,
        })
    }
}

/// The HTTP status of an error code (the body carries the code itself).
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::ParseError
        | ErrorCode::InvalidRequest
        | ErrorCode::InvalidParams
        | ErrorCode::BatchTooLarge
        | ErrorCode::CallGasAboveMax => StatusCode::BAD_REQUEST,
        ErrorCode::MethodNotFound
        | ErrorCode::UnknownBlock
        | ErrorCode::NotFound
        | ErrorCode::UnknownContract
        | ErrorCode::UnknownProofJob => StatusCode::NOT_FOUND,
        ErrorCode::Prover(prover) => match prover {
            ProverCode::Busy | ProverCode::Interrupted => StatusCode::SERVICE_UNAVAILABLE,
            ProverCode::KeysMissing
            | ProverCode::KeysCorrupt
            | ProverCode::Io
            | ProverCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ProverCode::NotProvable
            | ProverCode::ProfileTooSmall
            | ProverCode::StepBoundExceeded
            | ProverCode::UnknownProfile
            | ProverCode::MalformedProof
            | ProverCode::InvalidProof
            | ProverCode::ExecutionTrapped
            | ProverCode::WrongArguments => StatusCode::UNPROCESSABLE_ENTITY,
        },
        ErrorCode::Internal | ErrorCode::OversizedResponse => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::TooManySubscriptions | ErrorCode::RateLimited | ErrorCode::QuotaExhausted => {
            StatusCode::TOO_MANY_REQUESTS
        }
        ErrorCode::OversizedRequest => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
        ErrorCode::ExecutionFailed => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::DevOnly => StatusCode::FORBIDDEN,
        ErrorCode::ReceiptTimeout | ErrorCode::ExecutionTimeout => StatusCode::GATEWAY_TIMEOUT,
        ErrorCode::Admission(refusal) => match refusal {
            AdmissionCode::AlreadyKnown | AdmissionCode::NonceTaken => StatusCode::CONFLICT,
            AdmissionCode::MempoolFull => StatusCode::SERVICE_UNAVAILABLE,
            AdmissionCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AdmissionCode::Malformed
            | AdmissionCode::WrongChainId
            | AdmissionCode::BadSignature
            | AdmissionCode::GasLimitAboveBlockLimit
            | AdmissionCode::GasLimitBelowIntrinsic
            | AdmissionCode::GasPriceTooLow
            | AdmissionCode::NonceTooLow
            | AdmissionCode::NonceTooHigh
            | AdmissionCode::InsufficientBalance
            | AdmissionCode::InvalidCode
            | AdmissionCode::InvalidName => StatusCode::BAD_REQUEST,
        },
    }
}

fn http_status(error: &RpcError) -> StatusCode {
    ErrorCode::from_code(error.code).map_or(StatusCode::INTERNAL_SERVER_ERROR, status_of)
}

fn json_response(status: StatusCode, body: &Value) -> HttpResponse {
    let mut response = HttpResponse::new(HttpBody::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

impl Failure {
    fn response(self) -> HttpResponse {
        let code = self.error.code;
        let name = ErrorCode::from_code(code).map_or("internal", ErrorCode::name);
        let mut error = json!({ "code": code, "name": name, "message": self.error.message });
        if let Some(data) = &self.error.data {
            error["data"] = data.clone();
        }
        let mut response = json_response(self.status, &json!({ "error": error }));
        if code == ErrorCode::RateLimited.code() || code == ErrorCode::QuotaExhausted.code() {
            let retry_ms = self
                .error
                .data
                .as_ref()
                .and_then(|d| d["retryAfterMs"].as_u64())
                .unwrap_or(1000);
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(retry_ms.div_ceil(1000)));
        }
        if code == ErrorCode::BodyTimeout.code() {
            // The rest of the body may still come: the socket is not reused.
            response
                .headers_mut()
                .insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
        }
        for (name, value) in self.headers {
            response.headers_mut().append(name, value);
        }
        response
    }
}

fn not_found(path: &str) -> Failure {
    Failure::from(RpcError::new(
        ErrorCode::NotFound,
        format!("no route {path}; see GET /v1/openapi.json"),
    ))
}

/// Answers a gateway request from `remote`. Never fails: every error is an HTTP answer.
pub(crate) async fn handle(
    api: Api,
    request: HttpRequest<hyper::body::Incoming>,
    remote: SocketAddr,
) -> HttpResponse {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let routed = match host_contract(&request, api.config.http_domain.as_deref()) {
        Some(label) => route_host(api, request, remote, label).await,
        None => route(api, request, remote).await,
    };
    let response = match routed {
        Ok(response) => response,
        Err(failure) => failure.response(),
    };
    tracing::debug!(
        "gateway {method} {path} from {remote}: {} in {} µs",
        response.status().as_u16(),
        started.elapsed().as_micros()
    );
    response
}

/// The path's segments after [`PREFIX`], percent-decoded.
fn segments(path: &str) -> Result<Vec<String>, Failure> {
    path.strip_prefix(PREFIX)
        .unwrap_or("")
        .split('/')
        .map(|segment| {
            percent_encoding::percent_decode_str(segment)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| Failure::from(RpcError::invalid_params("a path segment is not UTF-8")))
        })
        .collect()
}

/// A request to `{label}.<domain>`: `GET|POST /{method}` calls the contract named `label`.
async fn route_host(
    api: Api,
    request: HttpRequest<hyper::body::Incoming>,
    remote: SocketAddr,
    label: String,
) -> Result<HttpResponse, Failure> {
    let path = request.uri().path().to_string();
    let method = request.method().clone();
    let segment = path
        .strip_prefix('/')
        .filter(|rest| !rest.is_empty() && !rest.contains('/'));
    let Some(segment) = segment else {
        return Err(Failure::from(RpcError::new(
            ErrorCode::NotFound,
            format!("no route {path} on the host of contract `{label}`: call /{{method}}"),
        )));
    };
    if method != Method::GET && method != Method::POST {
        let mut failure = Failure::from(RpcError::new(
            ErrorCode::InvalidRequest,
            format!("{method} is not allowed on {path} (only GET, POST)"),
        ))
        .with_status(StatusCode::METHOD_NOT_ALLOWED);
        failure
            .headers
            .push((hyper::header::ALLOW, HeaderValue::from_static("GET, POST")));
        return Err(failure);
    }
    let name = match Name::parse(&label) {
        Ok(name) => name,
        Err(rule) => {
            return Err(Failure::from(RpcError::new(
                ErrorCode::NotFound,
                format!("no contract is named `{label}` ({rule})"),
            )))
        }
    };
    let contract_method = percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .map_err(|_| Failure::from(RpcError::invalid_params("a path segment is not UTF-8")))?
        .into_owned();
    let (query, logs) = call_query(&request)?;
    let args = if method == Method::POST {
        let body = read_body(&api, request).await?;
        body_args(&body)?.or(query.args)
    } else {
        query.args
    };
    let target = AddressOrName::Name(name);
    call(
        api,
        remote,
        target,
        contract_method,
        args,
        query.controls,
        logs,
    )
    .await
}

/// A call's query and whether it asks for the debug log lines (`_logs` or `opmeter-logs: true`).
fn call_query<B>(request: &HttpRequest<B>) -> Result<(Query, bool), Failure> {
    let query = Query::parse(request.uri().query())?;
    let logs = query.logs
        || request
            .headers()
            .get("opmeter-logs")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
    Ok((query, logs))
}

async fn route(
    api: Api,
    request: HttpRequest<hyper::body::Incoming>,
    remote: SocketAddr,
) -> Result<HttpResponse, Failure> {
    let path = request.uri().path().to_string();
    let parts = segments(&path)?;
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    let method = request.method().clone();
    match (&method, parts.as_slice()) {
        (&Method::GET, ["openapi.json"]) => Ok(json_response(
            StatusCode::OK,
            &crate::openapi::document(api.config.call_gas_max),
        )),
        (&Method::GET | &Method::POST, ["c", target, name]) => {
            let (query, logs) = call_query(&request)?;
            let target = resolve(target)?;
            let name = (*name).to_string();
            let args = if method == Method::POST {
                let body = read_body(&api, request).await?;
                body_args(&body)?.or(query.args)
            } else {
                query.args
            };
            call(api, remote, target, name, args, query.controls, logs).await
        }
        (&Method::POST, ["tx"]) => {
            let wait = Query::parse_wait(request.uri().query())?;
            let body = read_body(&api, request).await?;
            send(api, &body, wait).await
        }
        (&Method::GET, ["tx", hash]) => transaction(api, hash).await,
        (_, ["openapi.json"] | ["c", _, _] | ["tx"] | ["tx", _]) => {
            let allow = match parts.as_slice() {
                ["c", _, _] => "GET, POST",
                ["tx"] => "POST",
                _ => "GET",
            };
            let mut failure = Failure::from(RpcError::new(
                ErrorCode::InvalidRequest,
                format!(
                    "{method} is not allowed on {path} (only {allow}); see GET /v1/openapi.json"
                ),
            ))
            .with_status(StatusCode::METHOD_NOT_ALLOWED);
            failure
                .headers
                .push((hyper::header::ALLOW, HeaderValue::from_static(allow)));
            Err(failure)
        }
        _ => Err(not_found(&path)),
    }
}

impl Failure {
    fn with_status(mut self, status: StatusCode) -> Failure {
        self.status = status;
        self
    }
}

/// The body of a POST, at most `max_request_body_bytes`, arriving within `body_timeout`.
async fn read_body(
    api: &Api,
    request: HttpRequest<hyper::body::Incoming>,
) -> Result<Bytes, Failure> {
    use crate::server::BodyError;
    let limit = api.config.max_request_body_bytes;
    match crate::server::read_body(request.into_body(), limit, api.config.body_timeout).await {
        Ok(bytes) => Ok(bytes),
        Err(BodyError::TooLarge(limit)) => Err(Failure::from(RpcError::new(
            ErrorCode::OversizedRequest,
            format!("the body exceeds {limit} bytes"),
        ))),
        Err(BodyError::TimedOut(timeout)) => {
            Err(Failure::from(crate::server::body_timeout_error(timeout)))
        }
        Err(BodyError::Broken(e)) => Err(Failure::from(RpcError::invalid_params(format!(
            "reading the body: {e}"
        )))),
    }
}

/// A POST body's arguments: its JSON (`None` for an empty body).
fn body_args(body: &[u8]) -> Result<Option<Value>, Failure> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(body).map(Some).map_err(|e| {
        Failure::from(RpcError::new(
            ErrorCode::ParseError,
            format!("the body is not JSON: {e}"),
        ))
    })
}

/// The optional controls of a call (query parameters starting with `_`).
#[derive(Debug, Default)]
struct Controls {
    gas_limit: Option<u64>,
    height: Option<u64>,
    from: Option<AddressOrName>,
}

/// A call's query: its arguments (every parameter not starting with `_`, as one JSON object; a
/// value that parses as JSON is that JSON, any other value a string) and its controls.
#[derive(Debug, Default)]
struct Query {
    args: Option<Value>,
    controls: Controls,
    logs: bool,
}

fn bad(message: String) -> Failure {
    Failure::from(RpcError::invalid_params(message))
}

impl Query {
    fn parse(query: Option<&str>) -> Result<Query, Failure> {
        let mut parsed = Query::default();
        let mut args = serde_json::Map::new();
        for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let number = |what: &str| {
                value
                    .parse::<u64>()
                    .map_err(|_| bad(format!("{key}: {what} must be a decimal integer")))
            };
            match key.as_ref() {
                "_gas" => parsed.controls.gas_limit = Some(number("the gas limit")?),
                "_height" => parsed.controls.height = Some(number("the height")?),
                "_from" => {
                    parsed.controls.from =
                        Some(AddressOrName::parse(&value).map_err(|e| bad(format!("_from: {e}")))?)
                }
                "_logs" => {
                    parsed.logs = match value.as_ref() {
                        "true" | "1" | "" => true,
                        "false" | "0" => false,
                        _ => return Err(bad("_logs: true or false".into())),
                    }
                }
                reserved if reserved.starts_with('_') => {
                    return Err(bad(format!(
                        "{reserved}: unknown control (controls are _gas, _height, _from, _logs)"
                    )))
                }
                name => {
                    let value = serde_json::from_str::<Value>(&value)
                        .unwrap_or_else(|_| Value::String(value.to_string()));
                    if args.insert(name.to_string(), value).is_some() {
                        return Err(bad(format!("{name}: given twice")));
                    }
                }
            }
        }
        parsed.args = (!args.is_empty()).then_some(Value::Object(args));
        Ok(parsed)
    }

    /// `wait` of `POST /v1/tx`.
    fn parse_wait(query: Option<&str>) -> Result<bool, Failure> {
        let mut wait = false;
        for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match (key.as_ref(), value.as_ref()) {
                ("wait", "true" | "1" | "") => wait = true,
                ("wait", "false" | "0") => wait = false,
                (key, _) => return Err(bad(format!("{key}: unknown parameter (wait=true)"))),
            }
        }
        Ok(wait)
    }
}

/// The contract a path names: a `0x` address or a name (resolved with the call, in the state it
/// reads).
fn resolve(target: &str) -> Result<AddressOrName, Failure> {
    AddressOrName::parse(target).map_err(bad)
}

fn header(name: &'static str, value: impl ToString) -> (HeaderName, HeaderValue) {
    let value =
        HeaderValue::from_str(&value.to_string()).unwrap_or_else(|_| HeaderValue::from_static("?"));
    (HeaderName::from_static(name), value)
}

/// The `opmeter-*` headers of a finished call (and its log lines when asked for).
fn call_headers(run: &AtHeight<Outcome>, logs: bool) -> Vec<(HeaderName, HeaderValue)> {
    let outcome = &run.value;
    let mut headers = vec![
        header(
            "opmeter-status",
            ReceiptStatus::from_vm(outcome.status).name(),
        ),
        header("opmeter-gas-used", outcome.gas_used),
        header("opmeter-gas-limit", outcome.gas_limit),
        header("opmeter-height", run.height),
        header("opmeter-schedule-hash", to_hex0x(&outcome.schedule_hash)),
    ];
    if logs {
        const ESCAPED: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS.add(b'%');
        for line in outcome.logs.iter().take(LOG_LINES_MAX) {
            let mut end = line.len().min(LOG_LINE_MAX_BYTES);
            while !line.is_char_boundary(end) {
                end -= 1;
            }
            let encoded = percent_encoding::utf8_percent_encode(&line[..end], ESCAPED);
            headers.push(header("opmeter-log", encoded));
        }
    }
    headers
}

/// The answer to a call that did not succeed: `executionFailed` (2004) with the execution, 404
/// when there is no such contract or method, 422 otherwise.
fn failed_call(run: &AtHeight<Outcome>, logs: bool) -> Failure {
    let outcome = &run.value;
    let trap = outcome.trap_code();
    let status_name = ReceiptStatus::from_vm(outcome.status);
    let status = match trap {
        Some(TrapCode::ContractNotFound | TrapCode::MethodNotFound) => StatusCode::NOT_FOUND,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let error = RpcError::new(
        ErrorCode::ExecutionFailed,
        format!(
            "the call ended with {}{}",
            status_name.name(),
            trap.map(|t| format!(" ({})", t.name())).unwrap_or_default()
        ),
    )
    .with_data(json!({
        "status": status_name.name(),
        "statusCode": status_name.code(),
        "trapCode": trap.map(TrapCode::code),
        "output": HexBytes::from(&outcome.output[..]),
        "outputText": String::from_utf8(outcome.output.clone()).ok(),
        "gasUsed": outcome.gas_used.to_string(),
    }));
    Failure {
        status,
        error,
        headers: call_headers(run, logs),
    }
}

async fn call(
    api: Api,
    remote: SocketAddr,
    contract: AddressOrName,
    method: String,
    args: Option<Value>,
    controls: Controls,
    logs: bool,
) -> Result<HttpResponse, Failure> {
    let call = CallArgs {
        from: controls.from,
        contract,
        method,
        args,
        input: None,
        value: None,
        gas_limit: controls.gas_limit.map(DecU64),
    };
    let (run, quota) = tokio::task::spawn_blocking(move || {
        let mut ext = Extensions::new();
        ext.insert(ClientAddr(remote));
        let (request, height) = api.call_request(call, controls.height)?;
        api.metered(&ext, request, |request, interrupt| {
            let run = api.backend.call(request, height, interrupt)?;
            let used = run.value.gas_used;
            Ok((run, used))
        })
    })
    .await
    .map_err(|e| Failure::from(RpcError::internal(e.to_string())))??;
    let mut headers = call_headers(&run, logs);
    if let (Some(daily), Some(remaining)) = (quota.daily_gas, quota.remaining_gas()) {
        headers.push(header("opmeter-quota-daily", daily));
        headers.push(header("opmeter-quota-remaining", remaining));
    }
    if run.value.status != Status::Success {
        let mut failure = failed_call(&run, logs);
        failure.headers = headers;
        return Err(failure);
    }
    let json = serde_json::from_slice::<serde::de::IgnoredAny>(&run.value.output).is_ok();
    let mut response = HttpResponse::new(HttpBody::from(run.value.output));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(if json {
            "application/json"
        } else {
            "application/octet-stream"
        }),
    );
    for (name, value) in headers {
        response.headers_mut().append(name, value);
    }
    Ok(response)
}

/// A transaction body: raw bytes, or `0x` hex text.
fn tx_bytes(body: &[u8]) -> Result<Vec<u8>, Failure> {
    match body.strip_prefix(b"0x") {
        Some(hex_digits) => {
            let text = std::str::from_utf8(hex_digits)
                .map_err(|_| bad("the 0x body is not hex".into()))?;
            hex::decode(text.trim_end()).map_err(|e| bad(format!("the 0x body is not hex: {e}")))
        }
        None => Ok(body.to_vec()),
    }
}

async fn send(api: Api, body: &[u8], wait: bool) -> Result<HttpResponse, Failure> {
    let tx = HexBytes(tx_bytes(body)?);
    if wait {
        let receipt = api.tx_send_raw_and_wait(tx).await?;
        return Ok(json_response(StatusCode::OK, &json!(receipt)));
    }
    let hash = tokio::task::spawn_blocking(move || api.tx_send_raw(tx))
        .await
        .map_err(|e| Failure::from(RpcError::internal(e.to_string())))??;
    Ok(json_response(
        StatusCode::ACCEPTED,
        &json!({ "hash": hash }),
    ))
}

async fn transaction(api: Api, hash: &str) -> Result<HttpResponse, Failure> {
    let hash: Hash32 = hash.parse().map_err(|e| {
        bad(format!(
            "`{hash}` is not a transaction hash (0x and 64 hex digits): {e}"
        ))
    })?;
    let (tx, receipt) = tokio::task::spawn_blocking(move || {
        Ok::<_, ErrorObjectOwned>((api.tx_get(hash)?, api.tx_receipt(hash)?))
    })
    .await
    .map_err(|e| Failure::from(RpcError::internal(e.to_string())))??;
    let Some(tx) = tx else {
        return Err(Failure::from(RpcError::new(
            ErrorCode::NotFound,
            format!("no transaction {hash} (neither pending nor committed)"),
        )));
    };
    Ok(json_response(
        StatusCode::OK,
        &json!({ "transaction": tx, "receipt": receipt }),
    ))
}
