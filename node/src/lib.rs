//! # opmeter-node
//!
//! The Opmeter node: durable Merkle state on RocksDB, signed transactions, a mempool, blocks
//! produced through the phases of ABCI 2.0, receipts and fees, the gas audit, and the JSON-RPC
//! backend. The `opmeter` command-line tool (`src/bin/opmeter/`) is built on it; its commands,
//! rendering, key files and scaffold are the binary's own modules.
//!
//! ```text
//! submit ─▶ Chain::check_stateless ─▶ Mempool::check ─▶ persisted, acknowledged
//! producer ─▶ prepare_proposal ─▶ process_proposal ─▶ finalize_block (overlay, roots) ─▶ commit
//!                                                          │ vm::execute / vm::deploy
//!                                                          ▼
//!                                        Store: RocksDB column families + jmt state tree
//! ```
//!
//! ```
//! use opmeter_node::service::{Node, NodeConfig};
//! use opmeter_node::genesis::{address_of, dev_key};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let node = Node::open(&NodeConfig::dev(dir.path())).unwrap();
//! assert_eq!(node.head().header.height, 0);
//! let dev = node.chain().committed_account(&address_of(&dev_key())).unwrap();
//! assert_eq!(dev.balance, opmeter_vm::U256::exp10(30));
//! ```

pub mod api;
pub mod audit;
pub mod chain;
pub mod error;
pub mod genesis;
pub mod mempool;
pub mod quota;
mod replace_file;
pub mod service;
pub mod state;
pub mod store;
pub mod zk;
