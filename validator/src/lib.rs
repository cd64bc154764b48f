//! Validator mode: Opmeter's blocks decided by Malachite BFT (`arc-malachitebft-*` 0.8.2,
//! Tendermint) across validator processes over libp2p.
//!
//! Each validator runs the same node and block pipeline as the single node — `propose_block`
//! (prepare, process, finalize) when it proposes, `validate_block` (process, finalize, compare
//! every root) when it receives a proposal or a synced block, `commit_block` once consensus
//! decided — and the voted value is the block's header hash. See `specs/node.md`.
//!
//! ```
//! use opmeter_validator::context::{Height, ValidatorAddress};
//! use ed25519_dalek::SigningKey;
//!
//! let key = SigningKey::from_bytes(&[7; 32]);
//! let address = ValidatorAddress::of(&key.verifying_key());
//! assert_eq!(address.to_string().len(), 2 + 40);
//! assert_eq!(Height(5).to_string(), "5");
//! ```

pub mod app;
pub mod codec;
pub mod context;
pub mod forward;
pub mod home;
pub mod proposals;
pub mod run;
