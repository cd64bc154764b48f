//! The node crate's integration tests (one binary), on real RocksDB in temporary directories.

mod admission;
mod chain;
mod cli;
mod consistency;
mod crash;
mod gateway;
mod last_commit;
mod names;
mod rpc;
mod scaffold;
mod schedules;
mod support;
mod ui;
mod zk;
