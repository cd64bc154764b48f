//! The ledger crate's integration tests (one binary).

mod dependencies;
