//! Every error the API returns, with its stable numeric code (see `specs/rpc.md`).

use jsonrpsee::types::ErrorObjectOwned;

/// The stable error codes of the API. JSON-RPC's own codes are negative; Opmeter's are positive:
/// `1000 + n` for admission refusal `n` (see [`ErrorCode::Admission`]) and `2001..` for the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ErrorCode {
    /// `-32700`: the body is not JSON.
    ParseError,
    /// `-32600`: JSON, but not a JSON-RPC request.
    InvalidRequest,
    /// `-32601`: no such method.
    MethodNotFound,
    /// `-32602`: wrong parameter count, types, hex, or values.
    InvalidParams,
    /// `-32603`: the node failed; not the caller's fault.
    Internal,
    /// `-32006`: too many subscriptions on one WebSocket connection.
    TooManySubscriptions,
    /// `-32007`: the request body is larger than the server accepts.
    OversizedRequest,
    /// `-32008`: the response would be larger than the server sends.
    OversizedResponse,
    /// `-32010`: the batch has more requests than the server accepts.
    BatchTooLarge,
    /// `1000 + n`: the node refused the transaction with admission error `n` (1–14).
    Admission(u8),
    /// `2001`: no block at that height or with that hash (above the head, or unknown).
    UnknownBlock,
    /// `2002`: a read-only call asked for more gas than the server allows.
    CallGasAboveMax,
    /// `2003`: this client used its read-only execution budget; `data.retryAfterMs` says when
    /// to retry.
    RateLimited,
    /// `2004`: the transaction fails at any gas limit, so no estimate exists; `data` is the
    /// failing execution.
    ExecutionFailed,
    /// `2005`: a development-only method on a chain that is not in development mode.
    DevOnly,
    /// `2006`: the receipt did not arrive in time; the transaction is still pending.
    ReceiptTimeout,
}

impl ErrorCode {
    /// The numeric code on the wire.
    pub fn code(self) -> i32 {
        match self {
            ErrorCode::ParseError => -32700,
            ErrorCode::InvalidRequest => -32600,
            ErrorCode::MethodNotFound => -32601,
            ErrorCode::InvalidParams => -32602,
            ErrorCode::Internal => -32603,
            ErrorCode::TooManySubscriptions => -32006,
            ErrorCode::OversizedRequest => -32007,
            ErrorCode::OversizedResponse => -32008,
            ErrorCode::BatchTooLarge => -32010,
            ErrorCode::Admission(n) => 1000 + i32::from(n),
            ErrorCode::UnknownBlock => 2001,
            ErrorCode::CallGasAboveMax => 2002,
            ErrorCode::RateLimited => 2003,
            ErrorCode::ExecutionFailed => 2004,
            ErrorCode::DevOnly => 2005,
            ErrorCode::ReceiptTimeout => 2006,
        }
    }

    /// A stable name (`data.reason` of Opmeter's errors).
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::ParseError => "parseError",
            ErrorCode::InvalidRequest => "invalidRequest",
            ErrorCode::MethodNotFound => "methodNotFound",
            ErrorCode::InvalidParams => "invalidParams",
            ErrorCode::Internal => "internal",
            ErrorCode::TooManySubscriptions => "tooManySubscriptions",
            ErrorCode::OversizedRequest => "oversizedRequest",
            ErrorCode::OversizedResponse => "oversizedResponse",
            ErrorCode::BatchTooLarge => "batchTooLarge",
            ErrorCode::Admission(_) => "admission",
            ErrorCode::UnknownBlock => "unknownBlock",
            ErrorCode::CallGasAboveMax => "callGasAboveMax",
            ErrorCode::RateLimited => "rateLimited",
            ErrorCode::ExecutionFailed => "executionFailed",
            ErrorCode::DevOnly => "devOnly",
            ErrorCode::ReceiptTimeout => "receiptTimeout",
        }
    }

    /// Every code except the admission range, for documentation and tests.
    pub const FIXED: [ErrorCode; 15] = [
        ErrorCode::ParseError,
        ErrorCode::InvalidRequest,
        ErrorCode::MethodNotFound,
        ErrorCode::InvalidParams,
        ErrorCode::Internal,
        ErrorCode::TooManySubscriptions,
        ErrorCode::OversizedRequest,
        ErrorCode::OversizedResponse,
        ErrorCode::BatchTooLarge,
        ErrorCode::UnknownBlock,
        ErrorCode::CallGasAboveMax,
        ErrorCode::RateLimited,
        ErrorCode::ExecutionFailed,
        ErrorCode::DevOnly,
        ErrorCode::ReceiptTimeout,
    ];
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
    fn codes_are_stable_and_distinct() {
        let codes: Vec<(i32, &str)> = ErrorCode::FIXED
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
            ]
        "#]]
        .assert_debug_eq(&codes);
        let mut sorted: Vec<i32> = codes.iter().map(|c| c.0).collect();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), ErrorCode::FIXED.len());
        assert_eq!(ErrorCode::Admission(14).code(), 1014);
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
