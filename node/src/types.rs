//! Consensus data: transactions, accounts, block headers, blocks and receipts. The definitions
//! live in `opmeter_rpc` (`tx` and `ledger`) so clients and the offline verifier link them
//! without RocksDB; the node re-exports them and never redefines them.

pub use opmeter_rpc::ledger::{
    breakdown_with_intrinsic, intrinsic_gas, merkle_path, merkle_root, verify_merkle_path, Account,
    Block, Header, Receipt, ReceiptStatus,
};
pub use opmeter_rpc::tx::{
    borsh_u256, Hash32, Payload, SignedTransaction, Transaction, TX_SIGNING_DOMAIN,
};
