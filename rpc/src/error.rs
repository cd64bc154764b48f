//! Every error the API returns, with its stable numeric code (see `specs/rpc.md`), and the one
//! mapping from the backend's typed errors to them.

use jsonrpsee::types::ErrorObjectOwned;
use opmeter_ledger::admission::{AdmissionCode, AdmissionError};
use opmeter_prover::{ErrorCode as ProverCode, ProverError};
use serde_json::json;

use crate::backend::BackendError;
use opmeter_ledger::encoding::HexBytes;

use crate::types::ViolationView;

/// JSON-RPC code base of admission errors: refusal `n` is `1000 + n`.
pub const ADMISSION_CODE_BASE: i32 = 1000;

/// JSON-RPC code base of proof errors: prover error `n` (`opmeter_prover::ErrorCode`) is
/// `3000 + n`.
pub const PROVER_CODE_BASE: i32 = 3000;

/// Declares [`ErrorCode`]: the fixed codes from one list, plus the admission and prover ranges.
macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal => $name:literal, )+) => {
        /// The stable error codes of the API. JSON-RPC's own codes are negative; Opmeter's are
        /// positive: `1000 + n` for admission refusal `n` ([`ErrorCode::Admission`]), `3000 + n`
        /// for prover error `n` ([`ErrorCode::Prover`]) and `2001..` for the rest.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )+
            /// `1000 + n`: the node refused the transaction with admission error `n`.
            Admission(AdmissionCode),
            /// `3000 + n`: proving or verifying failed with prover error `n`.
            Prover(ProverCode),
        }

        impl ErrorCode {
            /// Every code except the admission range, in declaration order.
            pub const FIXED: &'static [ErrorCode] = &[$(ErrorCode::$variant,)+];

            /// The numeric code on the wire.
            pub fn code(self) -> i32 {
                match self {
                    $(ErrorCode::$variant => $code,)+
                    ErrorCode::Admission(n) => ADMISSION_CODE_BASE + i32::from(n.code()),
                    ErrorCode::Prover(n) => PROVER_CODE_BASE + i32::from(n.number()),
                }
            }

            /// A stable name (`data.reason` of Opmeter's errors; the refusal's name for
            /// admission errors).
            pub fn name(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $name,)+
                    ErrorCode::Admission(n) => n.name(),
                    ErrorCode::Prover(n) => n.name(),
                }
            }
        }
    };
}

error_codes! {
    /// `-32700`: the body is not JSON.
    ParseError = -32700 => "parseError",
    /// `-32600`: JSON, but not a JSON-RPC request.
    InvalidRequest = -32600 => "invalidRequest",
    /// `-32601`: no such method.
    MethodNotFound = -32601 => "methodNotFound",
    /// `-32602`: wrong parameter count, types, hex, or values.
    InvalidParams = -32602 => "invalidParams",
    /// `-32603`: the node failed; not the caller's fault.
    Internal = -32603 => "internal",
    /// `-32006`: too many subscriptions on one WebSocket connection.
    TooManySubscriptions = -32006 => "tooManySubscriptions",
    /// `-32007`: the request body is larger than the server accepts.
    OversizedRequest = -32007 => "oversizedRequest",
    /// `-32008`: the response would be larger than the server sends.
    OversizedResponse = -32008 => "oversizedResponse",
    /// `-32010`: the batch has more requests than the server accepts.
    BatchTooLarge = -32010 => "batchTooLarge",
    /// `2001`: no block at that height or with that hash (above the head, or unknown).
    UnknownBlock = 2001 => "unknownBlock",
    /// `2002`: a read-only call asked for more gas than the server allows.
    CallGasAboveMax = 2002 => "callGasAboveMax",
    /// `2003`: this client used its read-only execution budget; `data.retryAfterMs` says when
    /// to retry.
    RateLimited = 2003 => "rateLimited",
    /// `2004`: the execution failed: a transaction to estimate fails at any gas limit (so no
    /// estimate exists), or a gateway call reverted, trapped or ran out of gas; `data` is the
    /// failing execution.
    ExecutionFailed = 2004 => "executionFailed",
    /// `2005`: a development-only method on a chain that is not in development mode.
    DevOnly = 2005 => "devOnly",
    /// `2006`: the receipt did not arrive in time; the transaction is still pending.
    ReceiptTimeout = 2006 => "receiptTimeout",
    /// `2007`: no contract at that address in the state read.
    UnknownContract = 2007 => "unknownContract",
    /// `2008`: no prove job with that id (never, or finished long enough ago to be forgotten).
    UnknownProofJob = 2008 => "unknownProofJob",
    /// `2009`: a read-only execution ran past the server's time limit and was stopped;
    /// `data.timeLimitMs` is the limit.
    ExecutionTimeout = 2009 => "executionTimeout",
    /// `2010`: the HTTP gateway has no such route, transaction or name.
    NotFound = 2010 => "notFound",
    /// `2011`: the contract spent its daily quota of read-only gas (rolling 24 h);
    /// `data.retryAfterMs` says when to retry, `data.dailyGas` is the quota.
    QuotaExhausted = 2011 => "quotaExhausted",
    /// `2012`: the request body did not arrive within the server's body timeout after its
    /// header (HTTP 408; the socket is closed); `data.timeLimitMs` is the limit.
    BodyTimeout = 2012 => "bodyTimeout",
}

const ALL_LEN: usize = ErrorCode::FIXED.len() + AdmissionCode::ALL.len() + ProverCode::ALL.len();

impl ErrorCode {
    /// Every code: the fixed ones, then each admission refusal, then each prover error.
    pub const ALL: [ErrorCode; ALL_LEN] = {
        let mut all = [ErrorCode::ParseError; ALL_LEN];
        let mut i = 0;
        while i < ErrorCode::FIXED.len() {
            all[i] = ErrorCode::FIXED[i];
            i += 1;
        }
        let mut j = 0;
        while j < AdmissionCode::ALL.len() {
            all[i + j] = ErrorCode::Admission(AdmissionCode::ALL[j]);
            j += 1;
        }
        let mut k = 0;
        while k < ProverCode::ALL.len() {
            all[i + j + k] = ErrorCode::Prover(ProverCode::ALL[k]);
            k += 1;
        }
        all
    };

    /// The code with this number.
    pub fn from_code(code: i32) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.code() == code)
    }
}

/// An error a method returns: a code, a message that says what to do, and optional data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RpcError {
    /// JSON-RPC error code (see [`ErrorCode`]).
    pub code: i32,
    /// Human-readable message.
    pub message: String,
    /// Structured details.
    pub data: Option<serde_json::Value>,
}

impl RpcError {
    /// An error with `code` and `message`, no data.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> RpcError {
        RpcError {
            code: code.code(),
            message: message.into(),
            data: None,
        }
    }

    /// The same error with `data`.
    pub fn with_data(mut self, data: serde_json::Value) -> RpcError {
        self.data = Some(data);
        self
    }

    /// `-32602`: the parameters are wrong.
    pub fn invalid_params(message: impl Into<String>) -> RpcError {
        RpcError::new(ErrorCode::InvalidParams, message)
    }

    /// `-32603`: the node failed (not the caller's fault).
    pub fn internal(message: impl Into<String>) -> RpcError {
        RpcError::new(ErrorCode::Internal, message)
    }
}

/// The JSON-RPC error of an admission refusal: code `1000 + n`, the message, and `data` with the
/// stable name (and every violation for invalid code; the name and the broken rule for an
/// invalid name).
pub fn admission_error(error: &AdmissionError) -> RpcError {
    let mut data = json!({ "reason": error.name() });
    if let AdmissionError::InvalidCode(report) = error {
        data["violations"] = json!(ViolationView::all(report));
    }
    if let AdmissionError::InvalidName { name, rule } = error {
        data["name"] = json!(name);
        data["rule"] = json!(rule.name());
        data["ruleCode"] = json!(rule.code());
    }
    RpcError::new(ErrorCode::Admission(error.code()), error.to_string()).with_data(data)
}

/// The JSON-RPC error of a prover error: code `3000 + n`, the message, and `data.reason` with
/// the stable name (plus `data.offset` for a method outside the provable subset).
pub fn prover_error(error: &ProverError) -> RpcError {
    let mut data = json!({ "reason": error.code().name() });
    if let ProverError::NotProvable(not) = error {
        data["method"] = json!(not.method);
        data["offset"] = json!(not.offset);
    }
    RpcError::new(ErrorCode::Prover(error.code()), error.to_string()).with_data(data)
}

impl From<BackendError> for RpcError {
    fn from(error: BackendError) -> RpcError {
        match error {
            BackendError::Admission(e) => admission_error(&e),
            BackendError::UnknownBlock { .. } => {
                RpcError::new(ErrorCode::UnknownBlock, error.to_string())
            }
            BackendError::ExecutionFailed { receipt, gas_cap } => RpcError::new(
                ErrorCode::ExecutionFailed,
                format!(
                    "the transaction fails ({}) even with {gas_cap} gas; data has the failing execution",
                    receipt.status.name()
                ),
            )
            .with_data(json!({
                "status": receipt.status.name(),
                "statusCode": receipt.status.code(),
                "trapCode": receipt.trap_code,
                "output": HexBytes::from(&receipt.output[..]),
                "outputText": String::from_utf8(receipt.output.clone()).ok(),
                "gasUsed": receipt.gas_used.to_string(),
            })),
            BackendError::DevOnly => RpcError::new(
                ErrorCode::DevOnly,
                "dev_fund is only available on development chains (genesis `dev: true`)",
            ),
            BackendError::ReceiptTimeout { .. } => {
                RpcError::new(ErrorCode::ReceiptTimeout, error.to_string())
            }
            BackendError::UnknownContract { .. } => {
                RpcError::new(ErrorCode::UnknownContract, error.to_string())
            }
            BackendError::UnknownName { ref name, height } => {
                let data = json!({ "name": name.as_str(), "height": height });
                RpcError::new(ErrorCode::NotFound, error.to_string()).with_data(data)
            }
            BackendError::Prover(e) => prover_error(&e),
            BackendError::QuotaExhausted {
                contract,
                daily_gas,
                retry_after_ms,
            } => RpcError::new(ErrorCode::QuotaExhausted, error.to_string()).with_data(json!({
                "contract": contract,
                "dailyGas": daily_gas.to_string(),
                "retryAfterMs": retry_after_ms,
            })),
            BackendError::Interrupted => RpcError::new(
                ErrorCode::ExecutionTimeout,
                "the execution ran past this server's time limit and was stopped; lower its work or run it as a transaction",
            ),
            BackendError::Fault(message) => RpcError::internal(message),
        }
    }
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (code {})", self.message, self.code)
    }
}

impl std::error::Error for RpcError {}

impl From<RpcError> for ErrorObjectOwned {
    fn from(e: RpcError) -> ErrorObjectOwned {
        ErrorObjectOwned::owned(e.code, e.message, e.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_and_the_fixed_ones_are_pinned() {
        let fixed: Vec<(i32, &str)> = ErrorCode::FIXED
            .iter()
            .map(|c| (c.code(), c.name()))
            .collect();
        expect_test::expect![[r#"
            [
                (
                    -32700,
                    "parseError",
                ),
                (
                    -32600,
                    "invalidRequest",
                ),
                (
                    -32601,
                    "methodNotFound",
                ),
                (
                    -32602,
                    "invalidParams",
                ),
                (
                    -32603,
                    "internal",
                ),
                (
                    -32006,
                    "tooManySubscriptions",
                ),
                (
                    -32007,
                    "oversizedRequest",
                ),
                (
                    -32008,
                    "oversizedResponse",
                ),
                (
                    -32010,
                    "batchTooLarge",
                ),
                (
                    2001,
                    "unknownBlock",
                ),
                (
                    2002,
                    "callGasAboveMax",
                ),
                (
                    2003,
                    "rateLimited",
                ),
                (
                    2004,
                    "executionFailed",
                ),
                (
                    2005,
                    "devOnly",
                ),
                (
                    2006,
                    "receiptTimeout",
                ),
                (
                    2007,
                    "unknownContract",
                ),
                (
                    2008,
                    "unknownProofJob",
                ),
                (
                    2009,
                    "executionTimeout",
                ),
                (
                    2010,
                    "notFound",
                ),
                (
                    2011,
                    "quotaExhausted",
                ),
                (
                    2012,
                    "bodyTimeout",
                ),
            ]
        "#]]
        .assert_debug_eq(&fixed);
        // Every code, admission range included, maps back to itself: no two share a number.
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(code.code()), Some(code), "{code:?}");
        }
        let admission: Vec<i32> = ErrorCode::ALL
            .iter()
            .filter(|c| matches!(c, ErrorCode::Admission(_)))
            .map(|c| c.code())
            .collect();
        assert_eq!(admission, (1001..=1015).collect::<Vec<i32>>());
        assert_eq!(ErrorCode::from_code(1000), None);
        assert_eq!(ErrorCode::from_code(1016), None);
        let prover: Vec<(i32, &str)> = ErrorCode::ALL
            .iter()
            .filter(|c| matches!(c, ErrorCode::Prover(_)))
            .map(|c| (c.code(), c.name()))
            .collect();
        assert_eq!(prover.len(), 14);
        assert_eq!(prover[0], (3001, "notProvable"));
        assert_eq!(prover[10], (3011, "proverBusy"));
        assert_eq!(prover[12], (3013, "proverInternal"));
        assert_eq!(prover[13], (3014, "proverInterrupted"));
        assert_eq!(ErrorCode::from_code(3000), None);
        assert_eq!(ErrorCode::from_code(3015), None);
        // The jsonrpsee constants the server emits itself agree with ours.
        use jsonrpsee::types::error as j;
        assert_eq!(
            ErrorCode::OversizedRequest.code(),
            j::OVERSIZED_REQUEST_CODE
        );
        assert_eq!(
            ErrorCode::BatchTooLarge.code(),
            j::TOO_BIG_BATCH_REQUEST_CODE
        );
        assert_eq!(
            ErrorCode::TooManySubscriptions.code(),
            j::TOO_MANY_SUBSCRIPTIONS_CODE
        );
    }
}
