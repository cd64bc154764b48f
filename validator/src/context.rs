//! Opmeter's types for Malachite: heights, validators, the voted value (a block), proposals,
//! votes, proposal parts, and the ed25519 signing scheme with its domain-separated messages.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use malachitebft_app_channel::app::types::core::{
    self as mcore, NilOrVal, Round, SignedExtension, SignedMessage, ValidatorProof, VoteType,
};
use malachitebft_signing::{Error as SigningError, VerificationResult};

use opmeter_ledger::block::Block;
use opmeter_ledger::consensus::{validator_address, SignBytes};
use opmeter_ledger::encoding::Hash32;

/// A block height.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Height(pub u64);

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl mcore::Height for Height {
    const ZERO: Self = Height(0);
    const INITIAL: Self = Height(1);

    fn increment_by(&self, n: u64) -> Self {
        Height(self.0.saturating_add(n))
    }

    fn decrement_by(&self, n: u64) -> Option<Self> {
        self.0.checked_sub(n).map(Height)
    }

    fn as_u64(&self) -> u64 {
        self.0
    }
}

/// A validator's address: the first 20 bytes of `blake3` of its ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct ValidatorAddress(pub [u8; 20]);

impl ValidatorAddress {
    /// The address of a public key.
    pub fn of(public_key: &VerifyingKey) -> ValidatorAddress {
        ValidatorAddress(validator_address(public_key.as_bytes()))
    }
}

impl fmt::Display for ValidatorAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

impl fmt::Debug for ValidatorAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl mcore::Address for ValidatorAddress {}

/// An ed25519 signature (64 bytes), ordered bytewise.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize)]
pub struct Sig(pub [u8; 64]);

impl fmt::Debug for Sig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sig(0x{}…)", hex::encode(&self.0[..8]))
    }
}

/// The signing scheme: ed25519 (the keys are ed25519-dalek's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ed25519;

/// A key or signature that does not decode.
#[derive(Debug)]
pub struct DecodingError(String);

impl fmt::Display for DecodingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl mcore::SigningScheme for Ed25519 {
    type DecodingError = DecodingError;
    type Signature = Sig;
    type PublicKey = VerifyingKey;
    type PrivateKey = SigningKey;

    fn decode_signature(bytes: &[u8]) -> Result<Sig, DecodingError> {
        <[u8; 64]>::try_from(bytes)
            .map(Sig)
            .map_err(|_| DecodingError(format!("a signature has 64 bytes, not {}", bytes.len())))
    }

    fn encode_signature(signature: &Sig) -> Vec<u8> {
        signature.0.to_vec()
    }

    fn decode_public_key(bytes: &[u8]) -> Result<VerifyingKey, DecodingError> {
        let bytes = <[u8; 32]>::try_from(bytes).map_err(|_| {
            DecodingError(format!("a public key has 32 bytes, not {}", bytes.len()))
        })?;
        VerifyingKey::from_bytes(&bytes).map_err(|e| DecodingError(e.to_string()))
    }

    fn encode_public_key(public_key: &VerifyingKey) -> Vec<u8> {
        public_key.as_bytes().to_vec()
    }
}

/// A validator: its address, public key and voting power.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    /// Its address (derived from the key).
    pub address: ValidatorAddress,
    /// Its public key.
    pub public_key: VerifyingKey,
    /// Its voting power.
    pub voting_power: u64,
}

impl Validator {
    /// A validator with `public_key` and `voting_power`.
    pub fn new(public_key: VerifyingKey, voting_power: u64) -> Validator {
        Validator {
            address: ValidatorAddress::of(&public_key),
            public_key,
            voting_power,
        }
    }
}

impl mcore::Validator<OpmeterContext> for Validator {
    fn address(&self) -> &ValidatorAddress {
        &self.address
    }

    fn public_key(&self) -> &VerifyingKey {
        &self.public_key
    }

    fn voting_power(&self) -> u64 {
        self.voting_power
    }
}

/// The validator set, sorted by address (the proposer order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet {
    validators: Arc<Vec<Validator>>,
}

impl ValidatorSet {
    /// A set of `validators` (sorted by address here; duplicates keep the first).
    pub fn new(mut validators: Vec<Validator>) -> ValidatorSet {
        validators.sort_by_key(|v| v.address);
        validators.dedup_by_key(|v| v.address);
        ValidatorSet {
            validators: Arc::new(validators),
        }
    }

    /// The validators, by address.
    pub fn validators(&self) -> &[Validator] {
        &self.validators
    }
}

impl mcore::ValidatorSet<OpmeterContext> for ValidatorSet {
    fn count(&self) -> usize {
        self.validators.len()
    }

    fn total_voting_power(&self) -> u64 {
        self.validators.iter().map(|v| v.voting_power).sum()
    }

    fn get_by_address(&self, address: &ValidatorAddress) -> Option<&Validator> {
        self.validators.iter().find(|v| &v.address == address)
    }

    fn get_by_index(&self, index: usize) -> Option<&Validator> {
        self.validators.get(index)
    }
}

/// The id of a voted value: the hash of the block's header.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub struct BlockHash(pub [u8; 32]);

impl fmt::Display for BlockHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(&self.0[..8]))
    }
}

impl From<Hash32> for BlockHash {
    fn from(hash: Hash32) -> Self {
        BlockHash(hash.0)
    }
}

/// The voted value: a block, named by its header's hash (the header carries the roots after
/// executing it). Consensus messages carry only the hash; the block itself travels as proposal
/// parts and through value sync, and each validator keeps the blocks it executed. The id
/// depends on neither round nor proposer, so a re-proposed value keeps its id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct BlockValue(pub BlockHash);

impl BlockValue {
    /// The value of `block`.
    pub fn of(block: &Block) -> BlockValue {
        BlockValue(block.header.hash().into())
    }
}

impl mcore::Value for BlockValue {
    type Id = BlockHash;

    fn id(&self) -> BlockHash {
        self.0
    }
}

/// A proposal: the value proposed by a validator at a height and round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// The block.
    pub value: BlockValue,
    /// The proof-of-lock round (`Nil` for a fresh value).
    pub pol_round: Round,
    /// The proposer.
    pub proposer: ValidatorAddress,
}

impl mcore::Proposal<OpmeterContext> for Proposal {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &BlockValue {
        &self.value
    }

    fn take_value(self) -> BlockValue {
        self.value
    }

    fn pol_round(&self) -> Round {
        self.pol_round
    }

    fn validator_address(&self) -> &ValidatorAddress {
        &self.proposer
    }
}

/// A prevote or precommit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vote {
    /// Prevote or precommit.
    pub vote_type: VoteType,
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// The block voted for, or nil.
    pub value: NilOrVal<BlockHash>,
    /// The voter.
    pub validator: ValidatorAddress,
    /// Vote extensions are not used; kept to satisfy the engine's type.
    pub extension: Option<SignedExtension<OpmeterContext>>,
}

impl mcore::Vote<OpmeterContext> for Vote {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &NilOrVal<BlockHash> {
        &self.value
    }

    fn take_value(self) -> NilOrVal<BlockHash> {
        self.value
    }

    fn vote_type(&self) -> VoteType {
        self.vote_type
    }

    fn validator_address(&self) -> &ValidatorAddress {
        &self.validator
    }

    fn extension(&self) -> Option<&SignedExtension<OpmeterContext>> {
        self.extension.as_ref()
    }

    fn take_extension(&mut self) -> Option<SignedExtension<OpmeterContext>> {
        self.extension.take()
    }

    fn extend(self, extension: SignedExtension<OpmeterContext>) -> Self {
        Vote {
            extension: Some(extension),
            ..self
        }
    }
}

/// One part of a streamed proposal: `Init`, then the block's bytes in `Data` chunks, then
/// `Fin`, whose signature by the proposer covers the height, round, proposer and every byte.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ProposalPart {
    /// Opens the stream.
    Init {
        /// Height.
        height: u64,
        /// Round.
        round: u32,
        /// The proof-of-lock round (`-1` for none).
        pol_round: i64,
        /// The validator that built the value (the original proposer on a restream).
        proposer: ValidatorAddress,
    },
    /// A chunk of the encoded block.
    Data(Vec<u8>),
    /// Closes the stream.
    Fin(Sig),
}

impl mcore::ProposalPart<OpmeterContext> for ProposalPart {
    fn is_first(&self) -> bool {
        matches!(self, ProposalPart::Init { .. })
    }

    fn is_last(&self) -> bool {
        matches!(self, ProposalPart::Fin(_))
    }
}

/// Opmeter's Malachite context.
#[derive(Clone, Debug, Default)]
pub struct OpmeterContext;

impl mcore::Context for OpmeterContext {
    type Address = ValidatorAddress;
    type Height = Height;
    type ProposalPart = ProposalPart;
    type Proposal = Proposal;
    type Validator = Validator;
    type ValidatorSet = ValidatorSet;
    type Timeouts = mcore::LinearTimeouts;
    type Value = BlockValue;
    type Vote = Vote;
    type Extension = ();
    type SigningScheme = Ed25519;

    /// Round-robin over the set sorted by address, starting at `height + round`: every
    /// validator proposes in turn whatever the round a height ends in.
    fn select_proposer<'a>(
        &self,
        validator_set: &'a ValidatorSet,
        height: Height,
        round: Round,
    ) -> &'a Validator {
        let count = validator_set.validators.len().max(1) as u64;
        let round = u64::from(round.as_u32().unwrap_or(0));
        let index = (height.0.wrapping_add(round) % count) as usize;
        &validator_set.validators[index]
    }

    fn new_proposal(
        &self,
        height: Height,
        round: Round,
        value: BlockValue,
        pol_round: Round,
        address: ValidatorAddress,
    ) -> Proposal {
        Proposal {
            height,
            round,
            value,
            pol_round,
            proposer: address,
        }
    }

    fn new_prevote(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<BlockHash>,
        address: ValidatorAddress,
    ) -> Vote {
        Vote {
            vote_type: VoteType::Prevote,
            height,
            round,
            value: value_id,
            validator: address,
            extension: None,
        }
    }

    fn new_precommit(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<BlockHash>,
        address: ValidatorAddress,
    ) -> Vote {
        Vote {
            vote_type: VoteType::Precommit,
            height,
            round,
            value: value_id,
            validator: address,
            extension: None,
        }
    }
}

fn vote_bytes(chain_id: &str, vote: &Vote) -> Vec<u8> {
    SignBytes::Vote {
        chain_id: chain_id.to_string(),
        vote_type: match vote.vote_type {
            VoteType::Prevote => 0,
            VoteType::Precommit => 1,
        },
        height: vote.height.0,
        round: vote.round.as_i64(),
        value: match &vote.value {
            NilOrVal::Nil => None,
            NilOrVal::Val(hash) => Some(hash.0),
        },
        validator: vote.validator.0,
    }
    .encode()
}

fn proposal_bytes(chain_id: &str, proposal: &Proposal) -> Vec<u8> {
    use mcore::Value as _;
    SignBytes::Proposal {
        chain_id: chain_id.to_string(),
        height: proposal.height.0,
        round: proposal.round.as_i64(),
        value: proposal.value.id().0,
        pol_round: proposal.pol_round.as_i64(),
        proposer: proposal.proposer.0,
    }
    .encode()
}

/// The bytes a proposer's `Fin` part signs: who proposed what where, and the block's hash.
pub fn parts_bytes(
    chain_id: &str,
    height: u64,
    round: u32,
    pol_round: i64,
    proposer: ValidatorAddress,
    block_hash: BlockHash,
) -> Vec<u8> {
    SignBytes::ProposalParts {
        chain_id: chain_id.to_string(),
        height,
        round,
        pol_round,
        proposer: proposer.0,
        block_hash: block_hash.0,
    }
    .encode()
}

/// Signs and verifies for one chain: the engine's `Signer` (with the validator's key) and
/// `Verifier`.
#[derive(Clone)]
pub struct Keys {
    chain_id: Arc<str>,
    key: Option<SigningKey>,
}

impl Keys {
    /// A signer (and verifier) with `key` on `chain_id`.
    pub fn signer(chain_id: &str, key: SigningKey) -> Keys {
        Keys {
            chain_id: chain_id.into(),
            key: Some(key),
        }
    }

    /// A verifier only.
    pub fn verifier(chain_id: &str) -> Keys {
        Keys {
            chain_id: chain_id.into(),
            key: None,
        }
    }

    /// The chain id signatures are bound to.
    pub fn chain_id(&self) -> &str {
        &self.chain_id
    }

    /// Signs raw `bytes` (already domain-separated).
    pub fn sign_bytes(&self, bytes: &[u8]) -> Result<Sig, SigningError> {
        let key = self
            .key
            .as_ref()
            .ok_or_else(|| SigningError::from_source("this node holds no validator key"))?;
        Ok(Sig(key.sign(bytes).to_bytes()))
    }

    /// Whether `signature` is `public_key`'s over `bytes`.
    pub fn verify_bytes(bytes: &[u8], signature: &Sig, public_key: &VerifyingKey) -> bool {
        let signature = ed25519_dalek::Signature::from_bytes(&signature.0);
        public_key.verify(bytes, &signature).is_ok()
    }

    fn proof_bytes(&self, preimage: &[u8]) -> Vec<u8> {
        SignBytes::ValidatorProof {
            chain_id: self.chain_id.to_string(),
            preimage: preimage.to_vec(),
        }
        .encode()
    }
}

#[async_trait]
impl malachitebft_signing::Signer<OpmeterContext> for Keys {
    async fn sign_vote(
        &self,
        vote: Vote,
    ) -> Result<SignedMessage<OpmeterContext, Vote>, SigningError> {
        let signature = self.sign_bytes(&vote_bytes(&self.chain_id, &vote))?;
        Ok(SignedMessage::new(vote, signature))
    }

    async fn sign_proposal(
        &self,
        proposal: Proposal,
    ) -> Result<SignedMessage<OpmeterContext, Proposal>, SigningError> {
        let signature = self.sign_bytes(&proposal_bytes(&self.chain_id, &proposal))?;
        Ok(SignedMessage::new(proposal, signature))
    }

    async fn sign_vote_extension(
        &self,
        _scope: mcore::VoteExtensionScope<OpmeterContext>,
        _extension: (),
    ) -> Result<SignedMessage<OpmeterContext, ()>, SigningError> {
        Err(SigningError::from_source("vote extensions are not used"))
    }

    async fn sign_validator_proof(
        &self,
        public_key: Vec<u8>,
        peer_id: Vec<u8>,
    ) -> Result<ValidatorProof<OpmeterContext>, SigningError> {
        let preimage = ValidatorProof::<OpmeterContext>::signing_bytes(&public_key, &peer_id);
        let signature = self.sign_bytes(&self.proof_bytes(&preimage))?;
        Ok(ValidatorProof::new(public_key, peer_id, signature))
    }
}

#[async_trait]
impl malachitebft_signing::Verifier<OpmeterContext> for Keys {
    async fn verify_signed_vote(
        &self,
        vote: &Vote,
        signature: &Sig,
        public_key: &VerifyingKey,
    ) -> Result<VerificationResult, SigningError> {
        Ok(VerificationResult::from_bool(Keys::verify_bytes(
            &vote_bytes(&self.chain_id, vote),
            signature,
            public_key,
        )))
    }

    async fn verify_signed_proposal(
        &self,
        proposal: &Proposal,
        signature: &Sig,
        public_key: &VerifyingKey,
    ) -> Result<VerificationResult, SigningError> {
        Ok(VerificationResult::from_bool(Keys::verify_bytes(
            &proposal_bytes(&self.chain_id, proposal),
            signature,
            public_key,
        )))
    }

    async fn verify_signed_vote_extension(
        &self,
        _scope: &mcore::VoteExtensionScope<OpmeterContext>,
        _extension: &(),
        _signature: &Sig,
        _public_key: &VerifyingKey,
    ) -> Result<VerificationResult, SigningError> {
        Ok(VerificationResult::Invalid)
    }

    async fn verify_validator_proof(
        &self,
        proof: &ValidatorProof<OpmeterContext>,
    ) -> Result<VerificationResult, SigningError> {
        let Ok(public_key) = proof.decoded_public_key() else {
            return Ok(VerificationResult::Invalid);
        };
        Ok(VerificationResult::from_bool(Keys::verify_bytes(
            &self.proof_bytes(&proof.preimage()),
            &proof.signature,
            &public_key,
        )))
    }
}

/// The certificate in the ledger's form (stored with the block; checkable without Malachite).
pub fn ledger_certificate(
    certificate: &mcore::CommitCertificate<OpmeterContext>,
) -> opmeter_ledger::consensus::CommitCertificate {
    opmeter_ledger::consensus::CommitCertificate {
        height: certificate.height.0,
        round: certificate.round.as_u32().unwrap_or(0),
        block_hash: Hash32(certificate.value_id.0),
        signatures: certificate
            .commit_signatures
            .iter()
            .map(|s| opmeter_ledger::consensus::CommitSignature {
                validator: s.address.0,
                signature: s.signature.0,
            })
            .collect(),
    }
}

/// The validator set in the ledger's form.
pub fn ledger_validators(set: &ValidatorSet) -> Vec<opmeter_ledger::consensus::ConsensusValidator> {
    set.validators
        .iter()
        .map(|v| opmeter_ledger::consensus::ConsensusValidator {
            public_key: v.public_key.to_bytes(),
            voting_power: v.voting_power,
        })
        .collect()
}
