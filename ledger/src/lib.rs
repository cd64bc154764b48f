//! # opmeter-ledger
//!
//! Opmeter's consensus data model and state transition, as a client or a verifier needs them:
//! transactions and their signing bytes ([`tx`]), accounts, headers, blocks and receipts
//! ([`block`]), Merkle roots and paths ([`merkle`]), names of contracts ([`name`]), state keys
//! and storage proofs ([`state`]),
//! what one transaction does to the ledger ([`transition`]), receipt comparison ([`compare`]),
//! and the audit bundle with its offline verifier ([`bundle`]). Text forms are in [`encoding`].
//!
//! It links the vm and no database, async runtime, HTTP stack or JSON-RPC server, so a dapp, a
//! light client or an auditor can check Opmeter's data with this crate alone.
//!
//! ```text
//! vm ◀── ledger ◀── rpc ◀── node
//!          ▲
//!          └── dapps, verifiers
//! ```
//!
//! ```
//! use opmeter_ledger::block::{Account, ReceiptStatus};
//! use opmeter_ledger::tx::{SignedTransaction, Wallet};
//! use opmeter_vm::{Address, U256};
//!
//! let mut wallet = Wallet::new(ed25519_dalek::SigningKey::from_bytes(&[1; 32]), "opmeter-dev");
//! let signed = wallet.transfer(Address([2; 32]), U256::from(5u64));
//! let bytes = signed.encode();
//! let decoded = SignedTransaction::decode(&bytes).unwrap();
//! decoded.verify(&decoded.hash()).unwrap();
//! assert_eq!(decoded.tx.sender(), wallet.address());
//! assert_eq!(ReceiptStatus::from_code(0), Some(ReceiptStatus::Success));
//! assert_eq!(Account::default().nonce, 0);
//! ```

pub mod admission;
pub mod block;
pub mod bundle;
pub mod codes;
pub mod compare;
pub mod consensus;
pub mod encoding;
pub mod merkle;
pub mod name;
pub mod state;
pub mod transition;
pub mod tx;
