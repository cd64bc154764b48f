//! What validators sign on a replicated chain, and the commit certificate that shows a block was
//! decided: checkable by any client from the genesis's validator set, with no consensus engine.

use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_dalek::{Verifier as _, VerifyingKey};

use crate::encoding::Hash32;

/// Prefix of every consensus signature's message.
pub const SIGN_DOMAIN: &[u8] = b"opmeter/consensus/v1";

/// A validator's address: the first 20 bytes of `blake3` of its ed25519 public key.
pub fn validator_address(public_key: &[u8; 32]) -> [u8; 20] {
    let hash = blake3::hash(public_key);
    let mut address = [0u8; 20];
    address.copy_from_slice(&hash.as_bytes()[..20]);
    address
}

/// The messages validators sign, one tagged variant per kind, each bound to the chain id: a
/// signature counts on one chain, for one purpose. Signed bytes: [`SIGN_DOMAIN`] ‖ borsh.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum SignBytes {
    /// A prevote (`vote_type` 0) or precommit (1) for a block hash or nil, at a height and
    /// round (`-1` = no round).
    Vote {
        /// The chain.
        chain_id: String,
        /// 0 prevote, 1 precommit.
        vote_type: u8,
        /// Height.
        height: u64,
        /// Round.
        round: i64,
        /// The block hash, or nil.
        value: Option<[u8; 32]>,
        /// The voter.
        validator: [u8; 20],
    },
    /// A proposal of a block hash at a height and round.
    Proposal {
        /// The chain.
        chain_id: String,
        /// Height.
        height: u64,
        /// Round.
        round: i64,
        /// The block hash.
        value: [u8; 32],
        /// Proof-of-lock round (`-1` = none).
        pol_round: i64,
        /// The proposer.
        proposer: [u8; 20],
    },
    /// The streamed parts of a proposal (signed in its last part).
    ProposalParts {
        /// The chain.
        chain_id: String,
        /// Height.
        height: u64,
        /// The round the block was built for.
        round: u32,
        /// Proof-of-lock round (`-1` = none).
        pol_round: i64,
        /// The proposer.
        proposer: [u8; 20],
        /// The block hash.
        block_hash: [u8; 32],
    },
    /// A validator's proof that a libp2p peer id is its own.
    ValidatorProof {
        /// The chain.
        chain_id: String,
        /// The engine's preimage (public key and peer id).
        preimage: Vec<u8>,
    },
}

impl SignBytes {
    /// The bytes signed.
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = SIGN_DOMAIN.to_vec();
        bytes.extend(borsh::to_vec(self).unwrap_or_default());
        bytes
    }
}

/// One precommit of a commit certificate.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct CommitSignature {
    /// The validator's address.
    pub validator: [u8; 20],
    /// Its ed25519 signature over the precommit ([`SignBytes::Vote`], `vote_type` 1).
    pub signature: [u8; 64],
}

/// The proof that the validators decided a block: precommits for its hash from more than two
/// thirds of the voting power. Stored with the block (borsh).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct CommitCertificate {
    /// The block's height.
    pub height: u64,
    /// The round it was decided in.
    pub round: u32,
    /// The block's hash (`blake3(borsh(header))`).
    pub block_hash: Hash32,
    /// The precommits.
    pub signatures: Vec<CommitSignature>,
}

/// A validator as a certificate checker needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsensusValidator {
    /// Its ed25519 public key.
    pub public_key: [u8; 32],
    /// Its voting power.
    pub voting_power: u64,
}

/// Why a certificate does not show a decision.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum CommitError {
    /// A signer is not in the validator set.
    #[error("0x{} is not a validator", hex::encode(.0))]
    UnknownValidator([u8; 20]),
    /// A validator signed twice.
    #[error("0x{} signed twice", hex::encode(.0))]
    DuplicateSigner([u8; 20]),
    /// A signature does not verify.
    #[error("bad signature by 0x{}", hex::encode(.0))]
    BadSignature([u8; 20]),
    /// The signers hold two thirds of the power or less.
    #[error("signers hold {signed} of {total} voting power, not more than two thirds")]
    NotEnoughPower {
        /// Power of valid signers.
        signed: u64,
        /// Total power.
        total: u64,
    },
    /// The certificate is for another block than the one checked.
    #[error("the certificate is for another block")]
    WrongBlock,
    /// The certificate is for another height than the one checked.
    #[error("the certificate is for height {got}, not {expected}")]
    WrongHeight {
        /// The height checked.
        expected: u64,
        /// The certificate's height.
        got: u64,
    },
}

impl CommitCertificate {
    /// `blake3` of the canonical (borsh) encoding: what the next block's header carries as
    /// `last_commit_hash` (see [`last_commit_hash`]).
    pub fn hash(&self) -> Hash32 {
        Hash32(*blake3::hash(&borsh::to_vec(self).unwrap_or_default()).as_bytes())
    }

    /// [`CommitCertificate::verify`] for the block `block_hash` at `height`: what a client checks
    /// of the certificate of block `height` (served by `chain_getCommit(height)`, or carried by
    /// block `height + 1` as its `last_commit`).
    ///
    /// # Errors
    /// [`CommitError::WrongHeight`] when the certificate is for another height; otherwise as
    /// [`CommitCertificate::verify`].
    pub fn verify_at(
        &self,
        chain_id: &str,
        validators: &[ConsensusValidator],
        height: u64,
        block_hash: &Hash32,
    ) -> Result<(), CommitError> {
        if self.height != height {
            return Err(CommitError::WrongHeight {
                expected: height,
                got: self.height,
            });
        }
        self.verify(chain_id, validators, block_hash)
    }

    /// Checks that the certificate decides `block_hash` at its height on `chain_id` for
    /// `validators`: distinct members, valid precommit signatures, more than 2/3 of the power.
    ///
    /// # Errors
    /// The first reason it does not.
    pub fn verify(
        &self,
        chain_id: &str,
        validators: &[ConsensusValidator],
        block_hash: &Hash32,
    ) -> Result<(), CommitError> {
        if &self.block_hash != block_hash {
            return Err(CommitError::WrongBlock);
        }
        let total = validators
            .iter()
            .fold(0u64, |sum, v| sum.saturating_add(v.voting_power));
        let mut seen = std::collections::BTreeSet::new();
        let mut signed: u64 = 0;
        for commit in &self.signatures {
            let validator = validators
                .iter()
                .find(|v| validator_address(&v.public_key) == commit.validator)
                .ok_or(CommitError::UnknownValidator(commit.validator))?;
            if !seen.insert(commit.validator) {
                return Err(CommitError::DuplicateSigner(commit.validator));
            }
            let message = SignBytes::Vote {
                chain_id: chain_id.to_string(),
                vote_type: 1,
                height: self.height,
                round: i64::from(self.round),
                value: Some(self.block_hash.0),
                validator: commit.validator,
            }
            .encode();
            let valid = VerifyingKey::from_bytes(&validator.public_key).is_ok_and(|key| {
                key.verify(
                    &message,
                    &ed25519_dalek::Signature::from_bytes(&commit.signature),
                )
                .is_ok()
            });
            if !valid {
                return Err(CommitError::BadSignature(commit.validator));
            }
            signed = signed.saturating_add(validator.voting_power);
        }
        if u128::from(signed) * 3 <= u128::from(total) * 2 {
            return Err(CommitError::NotEnoughPower { signed, total });
        }
        Ok(())
    }
}

/// The `last_commit_hash` of a header whose block carries `last_commit`: the certificate's
/// [`CommitCertificate::hash`], or all zeroes when the block carries none (a chain one node
/// produces; block 1, whose parent is the genesis).
pub fn last_commit_hash(last_commit: Option<&CommitCertificate>) -> Hash32 {
    last_commit.map(CommitCertificate::hash).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer as _, SigningKey};

    fn sign(key: &SigningKey, height: u64, round: u32, hash: Hash32) -> CommitSignature {
        let validator = validator_address(&key.verifying_key().to_bytes());
        let message = SignBytes::Vote {
            chain_id: "c".into(),
            vote_type: 1,
            height,
            round: i64::from(round),
            value: Some(hash.0),
            validator,
        }
        .encode();
        CommitSignature {
            validator,
            signature: key.sign(&message).to_bytes(),
        }
    }

    /// A certificate's encoding and hash (what a header's `last_commit_hash` is), pinned.
    #[test]
    fn known_answer_for_a_certificate_and_its_hash() {
        let key = SigningKey::from_bytes(&[1; 32]);
        let certificate = CommitCertificate {
            height: 7,
            round: 1,
            block_hash: Hash32([9; 32]),
            signatures: vec![sign(&key, 7, 1, Hash32([9; 32]))],
        };
        let text = format!(
            "certificate {}\nhash {}",
            hex::encode(borsh::to_vec(&certificate).unwrap()),
            certificate.hash()
        );
        expect_test::expect![[r#"
            certificate 07000000000000000100000009090909090909090909090909090909090909090909090909090909090909090100000083561adb398fd87f8e7ed8331bff2fcb945733ccb2cebe508034ea31974fb71fdc4f5d83c102a3a9817d10eebbfba04ad0edf35d79bb760df1d1a526823ab8ba4bf5bb3ed0080ea516b9714eaeed3ff5fe365a01
            hash 0x1f88739d5ba637acae7a26f2596f26a0b25fd649dbedba51beea4d25b2ff5d9b"#]].assert_eq(&text);
    }

    #[test]
    fn a_certificate_needs_more_than_two_thirds_of_valid_distinct_signers() {
        let keys: Vec<SigningKey> = (1..=4u8)
            .map(|i| SigningKey::from_bytes(&[i; 32]))
            .collect();
        let set: Vec<ConsensusValidator> = keys
            .iter()
            .map(|k| ConsensusValidator {
                public_key: k.verifying_key().to_bytes(),
                voting_power: 1,
            })
            .collect();
        let hash = Hash32([9; 32]);
        let cert = |signers: &[usize]| CommitCertificate {
            height: 7,
            round: 1,
            block_hash: hash,
            signatures: signers
                .iter()
                .map(|&i| sign(&keys[i], 7, 1, hash))
                .collect(),
        };
        assert_eq!(cert(&[0, 1, 2]).verify("c", &set, &hash), Ok(()));
        assert_eq!(cert(&[0, 1, 2]).verify_at("c", &set, 7, &hash), Ok(()));
        assert_eq!(
            cert(&[0, 1, 2]).verify_at("c", &set, 8, &hash),
            Err(CommitError::WrongHeight {
                expected: 8,
                got: 7
            })
        );
        // The hash a header carries is of the exact encoding: another set of signers, another
        // hash; no certificate, zeroes.
        assert_eq!(
            last_commit_hash(Some(&cert(&[0, 1, 2]))),
            Hash32(*blake3::hash(&borsh::to_vec(&cert(&[0, 1, 2])).unwrap()).as_bytes())
        );
        assert_ne!(cert(&[0, 1, 2]).hash(), cert(&[0, 1, 3]).hash());
        assert_eq!(last_commit_hash(None), Hash32([0; 32]));
        assert_eq!(
            cert(&[0, 1]).verify("c", &set, &hash),
            Err(CommitError::NotEnoughPower {
                signed: 2,
                total: 4
            })
        );
        let twice = cert(&[0, 1, 1]);
        assert!(matches!(
            twice.verify("c", &set, &hash),
            Err(CommitError::DuplicateSigner(_))
        ));
        assert!(matches!(
            cert(&[0, 1, 2]).verify("other-chain", &set, &hash),
            Err(CommitError::BadSignature(_))
        ));
        assert_eq!(
            cert(&[0, 1, 2]).verify("c", &set, &Hash32([8; 32])),
            Err(CommitError::WrongBlock)
        );
        let mut wrong_round = cert(&[0, 1, 2]);
        wrong_round.round = 2;
        assert!(matches!(
            wrong_round.verify("c", &set, &hash),
            Err(CommitError::BadSignature(_))
        ));
        let stranger = SigningKey::from_bytes(&[99; 32]);
        let mut foreign = cert(&[0, 1]);
        foreign.signatures.push(sign(&stranger, 7, 1, hash));
        assert!(matches!(
            foreign.verify("c", &set, &hash),
            Err(CommitError::UnknownValidator(_))
        ));
    }
}
