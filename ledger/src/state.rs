//! State keys and storage proofs: the keys of the state tree, its hasher, and the verifier a
//! client runs against a block's state root (no node needed).
//!
//! The state tree is a Jellyfish Merkle tree (`jmt` 0.12) with blake3. A proof travels as the
//! `0x` hex of its borsh encoding (see `specs/rpc.md`).
//!
//! ```
//! use opmeter_ledger::state::StateKey;
//! use opmeter_vm::Address;
//! let key = StateKey::Storage(Address([7; 32]), b"count".to_vec());
//! assert_eq!(&key.encode()[..4], b"stor");
//! assert_eq!(key.key_hash().0, *blake3::hash(&key.encode()).as_bytes());
//! assert_eq!(StateKey::decode(&key.encode()), Some(key));
//! ```

use jmt::{KeyHash, RootHash};
use opmeter_vm::Address;

use crate::name::Name;

/// The hasher of the state tree: blake3.
#[derive(Clone, Debug, Default)]
pub struct TreeHasher(blake3::Hasher);

impl jmt::SimpleHasher for TreeHasher {
    fn new() -> Self {
        TreeHasher(blake3::Hasher::new())
    }

    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    fn finalize(self) -> [u8; 32] {
        *self.0.finalize().as_bytes()
    }
}

/// A Merkle proof of one state key against a state root.
pub type StateProof = jmt::proof::SparseMerkleProof<TreeHasher>;

/// A key of the state tree.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum StateKey {
    /// An account record (`borsh(Account)`).
    Account(Address),
    /// One storage slot of a contract (raw value bytes).
    Storage(Address, Vec<u8>),
    /// A name's record (`borsh(NameRecord)`, see [`crate::name`]).
    Name(Name),
}

impl StateKey {
    /// The bytes the tree hashes into its key: `"acct" ‖ address`,
    /// `"stor" ‖ contract ‖ key` or `"name" ‖ name`. A verifier hashes these with blake3 to get
    /// the key hash.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            StateKey::Account(address) => {
                let mut out = Vec::with_capacity(36);
                out.extend_from_slice(b"acct");
                out.extend_from_slice(&address.0);
                out
            }
            StateKey::Storage(contract, key) => {
                let mut out = Vec::with_capacity(36 + key.len());
                out.extend_from_slice(b"stor");
                out.extend_from_slice(&contract.0);
                out.extend_from_slice(key);
                out
            }
            StateKey::Name(name) => {
                let mut out = Vec::with_capacity(4 + name.as_str().len());
                out.extend_from_slice(b"name");
                out.extend_from_slice(name.as_str().as_bytes());
                out
            }
        }
    }

    /// Parses [`StateKey::encode`]'s bytes back; `None` for anything else.
    pub fn decode(bytes: &[u8]) -> Option<StateKey> {
        let (tag, rest) = bytes.split_at_checked(4)?;
        if tag == b"name" {
            return Name::parse(std::str::from_utf8(rest).ok()?)
                .ok()
                .map(StateKey::Name);
        }
        let (address, key) = rest.split_at_checked(32)?;
        let address = Address(address.try_into().ok()?);
        match tag {
            b"acct" if key.is_empty() => Some(StateKey::Account(address)),
            b"stor" => Some(StateKey::Storage(address, key.to_vec())),
            _ => None,
        }
    }

    /// The tree's key hash: `blake3(encode())`.
    pub fn key_hash(&self) -> KeyHash {
        KeyHash(*blake3::hash(&self.encode()).as_bytes())
    }
}

/// Why a proof did not verify.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    /// The proof bytes are not hex or not a borsh-encoded proof.
    #[error("malformed proof: {0}")]
    Malformed(String),
    /// The proof does not lead from the key and value to the root.
    #[error("the proof does not match the state root: {0}")]
    Mismatch(String),
}

/// Checks that `contract`'s storage `key` holds `value` (`None`: absent) in the state whose root
/// is `state_root`, given the borsh-encoded `proof`.
///
/// # Errors
/// [`ProofError`] when the proof is malformed or does not match.
pub fn verify_storage(
    state_root: [u8; 32],
    contract: Address,
    key: &[u8],
    value: Option<&[u8]>,
    proof: &[u8],
) -> Result<(), ProofError> {
    verify(
        state_root,
        &StateKey::Storage(contract, key.to_vec()),
        value,
        proof,
    )
}

/// Checks that the state key `key` holds `value` (`None`: absent) under `state_root`.
///
/// # Errors
/// [`ProofError`] when the proof is malformed or does not match.
pub fn verify(
    state_root: [u8; 32],
    key: &StateKey,
    value: Option<&[u8]>,
    proof: &[u8],
) -> Result<(), ProofError> {
    let proof: StateProof =
        borsh::from_slice(proof).map_err(|e| ProofError::Malformed(e.to_string()))?;
    proof
        .verify(RootHash(state_root), key.key_hash(), value)
        .map_err(|e| ProofError::Mismatch(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    #[test]
    fn known_answers_for_state_keys() {
        let account = StateKey::Account(Address([0x11; 32]));
        let storage = StateKey::Storage(Address([0x22; 32]), b"count".to_vec());
        let name = StateKey::Name(Name::parse("hello").unwrap());
        let text: Vec<String> = [&account, &storage, &name]
            .iter()
            .map(|k| {
                format!(
                    "{} -> {}",
                    hex::encode(k.encode()),
                    hex::encode(k.key_hash().0)
                )
            })
            .collect();
        expect![[r#"
            [
                "616363741111111111111111111111111111111111111111111111111111111111111111 -> f886798e776bce18da484b842b57d61fee7d1fd5d85a117103820412267c15da",
                "73746f722222222222222222222222222222222222222222222222222222222222222222636f756e74 -> 90673fff5975559b967e4922c0b38a294f0aebca4889693366fbcb1ddad09a26",
                "6e616d6568656c6c6f -> b769c9a1eba5eadb312aec58853636ae9da8bf5bb53084771a40b6d31d3fcc09",
            ]
        "#]].assert_debug_eq(&text);
        for key in [account, storage, name] {
            assert_eq!(StateKey::decode(&key.encode()), Some(key));
        }
        assert_eq!(StateKey::decode(b"acct"), None, "too short");
        let mut trailing = StateKey::Account(Address([1; 32])).encode();
        trailing.push(0);
        assert_eq!(
            StateKey::decode(&trailing),
            None,
            "an account key has no suffix"
        );
        let mut other = StateKey::Account(Address([1; 32])).encode();
        other[..4].copy_from_slice(b"code");
        assert_eq!(StateKey::decode(&other), None, "unknown tag");
        assert_eq!(StateKey::decode(b"nameHello"), None, "a malformed name");
        assert_eq!(StateKey::decode(b"name"), None, "an empty name");
    }
}
