//! # opmeter-node
//!
//! The Opmeter node and the `opmeter` command-line tool. For now it holds the commands that work
//! on a module without a node (`code validate`, `exec`, `build`); the durable node (RocksDB state,
//! transactions, blocks) lands with the node issue.
//!
//! ```text
//! opmeter code validate FILE ─▶ vm::validate ─▶ code hash | every violation
//! opmeter exec FILE ─────────▶ vm::prepare ─▶ MemoryState ─▶ vm::execute ─▶ outcome JSON
//! opmeter build [PATH] ──────▶ cargo build --target wasm32v1-none (flags set here)
//! ```
//!
//! ```
//! use opmeter_node::report::violations_json;
//! let vm = opmeter_vm::Vm::new(opmeter_vm::Schedule::v1());
//! let report = vm.validate(b"not wasm").unwrap_err();
//! let json = violations_json(&report);
//! assert_eq!(json[0]["rule"], "malformed");
//! ```

pub mod build;
pub mod report;
