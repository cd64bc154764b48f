//! Opmeter's JSON-RPC API: the methods, their wire types and error codes, the server, the
//! OpenRPC document, the typed client, and the wire format of transactions. The only crate that
//! knows JSON-RPC.
//!
//! The node implements [`Backend`]; this crate turns it into JSON-RPC 2.0 methods over HTTP and
//! WebSocket on one port (`jsonrpsee`). Dependencies point one way: `node → rpc → vm`.
//!
//! ```text
//! client ──HTTP/WS──▶ accept loop (limits, client address) ──▶ OpmeterApiServer ──▶ dyn Backend
//! ```
//!
//! ```
//! use opmeter_rpc::{ErrorCode, RpcConfig, RpcError};
//! assert_eq!(opmeter_rpc::DEFAULT_RPC_ADDR, "127.0.0.1:8645");
//! assert_eq!(RpcError::invalid_params("bad hex").code, -32602);
//! assert_eq!(ErrorCode::Admission(4).code(), 1004);
//! assert!(RpcConfig::default().call_gas_max > 0);
//! ```

pub mod api;
pub mod audit;
pub mod client;
pub mod error;
pub mod ledger;
pub mod openrpc;
pub mod proof;
pub mod server;
pub mod transition;
pub mod tx;
pub mod types;
pub mod ui;

pub use api::{
    decode_hash, decode_hex, Backend, BlockRef, CodeRef, OpmeterApiClient, OpmeterApiServer,
};
pub use error::{ErrorCode, RpcError};
pub use server::{serve, RateLimiter, RpcConfig};
pub use types::*;

/// The address the node's JSON-RPC server listens on by default.
pub const DEFAULT_RPC_ADDR: &str = "127.0.0.1:8645";
