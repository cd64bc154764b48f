//! Opmeter's JSON-RPC server.
//!
//! This crate is the only one that knows JSON-RPC. It is intentionally empty until the RPC issue
//! lands: the `node` crate exposes everything it will serve.
//!
//! ```
//! assert_eq!(opmeter_rpc::DEFAULT_RPC_ADDR, "127.0.0.1:8645");
//! ```

/// The address the node's JSON-RPC server will listen on by default.
pub const DEFAULT_RPC_ADDR: &str = "127.0.0.1:8645";
