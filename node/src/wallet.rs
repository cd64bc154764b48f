//! Signing transactions: a key, the chain it signs for, and the next nonce. The wallet lives with
//! the wire format in `opmeter_rpc::tx`; it is re-exported here.

pub use opmeter_rpc::tx::Wallet;
