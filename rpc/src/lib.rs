//! Opmeter's JSON-RPC API: the methods, their wire types (views) and error codes, the server and
//! its limits, the OpenRPC document, the typed client, the gas report page, and the HTTP gateway
//! (contracts as plain web services under `/v1/`, with its OpenAPI document). The only crate
//! that knows JSON-RPC and HTTP.
//!
//! The node implements [`Backend`] in domain types (the ledger's blocks, receipts and
//! transactions, vm outcomes, typed errors); this crate turns it into JSON-RPC 2.0 methods over
//! HTTP and WebSocket on one port (`jsonrpsee`), owning every view and every error code.
//! Dependencies point one way: `node → rpc → ledger → vm`.
//!
//! ```text
//! client ──HTTP/WS──▶ accept loop (limits, client address) ──▶ OpmeterApiServer ──▶ dyn Backend
//!                                  └── /v1/ ──▶ gateway ──────────────┘
//! ```
//!
//! ```
//! use opmeter_ledger::admission::AdmissionCode;
//! use opmeter_rpc::{ErrorCode, RpcConfig, RpcError};
//! assert_eq!(opmeter_rpc::DEFAULT_RPC_ADDR, "127.0.0.1:8645");
//! assert_eq!(RpcError::invalid_params("bad hex").code, -32602);
//! assert_eq!(ErrorCode::Admission(AdmissionCode::BadSignature).code(), 1004);
//! assert!(RpcConfig::default().call_gas_max > 0);
//! ```

pub mod api;
pub mod backend;
pub mod client;
pub mod error;
pub mod gateway;
pub mod metrics;
pub mod openapi;
pub mod openrpc;
pub mod server;
pub mod types;
pub mod ui;

pub use api::{OpmeterApiClient, OpmeterApiServer};
pub use backend::{Backend, BackendError, BlockRef, CodeRef};
pub use error::{ErrorCode, RpcError};
pub use server::{serve, RateLimiter, RpcConfig};
pub use types::*;

/// The address the node's JSON-RPC server listens on by default.
pub const DEFAULT_RPC_ADDR: &str = "127.0.0.1:8645";
