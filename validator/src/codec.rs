//! The wire and WAL encoding of every consensus message: borsh of plain mirror types, one
//! codec for the network, value sync and the write-ahead log.

use std::ops::RangeInclusive;

use borsh::{BorshDeserialize, BorshSerialize};
use bytes::Bytes;
use malachitebft_app_channel::app::consensus::{LivenessMsg, SignedConsensusMsg};
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::codec::{Codec, HasEncodedLen};
use malachitebft_app_channel::app::types::core::{
    CommitCertificate, CommitSignature, ExtendedCommitCertificate, ExtendedCommitSignature,
    NilOrVal, PolkaCertificate, PolkaSignature, Round, RoundCertificate, RoundCertificateType,
    RoundSignature, SignedMessage, ValidatorProof, Validity, VoteType,
};
use malachitebft_app_channel::app::types::sync::{Request, Response, Status};
use malachitebft_app_channel::app::types::{PeerId, ProposedValue};

use crate::context::{
    BlockHash, BlockValue, Height, OpmeterContext, Proposal, ProposalPart, Sig, ValidatorAddress,
    Vote,
};

type Ctx = OpmeterContext;

/// Bytes that do not decode as the expected message.
#[derive(Debug, thiserror::Error)]
#[error("undecodable consensus message: {0}")]
pub struct CodecError(String);

/// The one codec (borsh of the mirror types below).
#[derive(Clone, Copy, Debug, Default)]
pub struct OpmeterCodec;

fn round_of(round: i64) -> Round {
    Round::from(round)
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireVote {
    precommit: bool,
    height: u64,
    round: i64,
    value: Option<BlockHash>,
    validator: ValidatorAddress,
}

impl WireVote {
    fn of(vote: &Vote) -> WireVote {
        WireVote {
            precommit: vote.vote_type == VoteType::Precommit,
            height: vote.height.0,
            round: vote.round.as_i64(),
            value: match vote.value {
                NilOrVal::Nil => None,
                NilOrVal::Val(hash) => Some(hash),
            },
            validator: vote.validator,
        }
    }

    fn into_vote(self) -> Vote {
        Vote {
            vote_type: if self.precommit {
                VoteType::Precommit
            } else {
                VoteType::Prevote
            },
            height: Height(self.height),
            round: round_of(self.round),
            value: self.value.map_or(NilOrVal::Nil, NilOrVal::Val),
            validator: self.validator,
            extension: None,
        }
    }
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireProposal {
    height: u64,
    round: i64,
    value: BlockHash,
    pol_round: i64,
    proposer: ValidatorAddress,
}

#[derive(BorshSerialize, BorshDeserialize)]
enum WireConsensusMsg {
    Vote(WireVote, Sig),
    Proposal(WireProposal, Sig),
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireSignature {
    address: ValidatorAddress,
    signature: Sig,
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WirePolka {
    height: u64,
    round: i64,
    value: BlockHash,
    signatures: Vec<WireSignature>,
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireRoundSignature {
    precommit: bool,
    value: Option<BlockHash>,
    address: ValidatorAddress,
    signature: Sig,
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireRoundCertificate {
    height: u64,
    round: i64,
    skip: bool,
    signatures: Vec<WireRoundSignature>,
}

#[derive(BorshSerialize, BorshDeserialize)]
enum WireLiveness {
    Vote(WireVote, Sig),
    Polka(WirePolka),
    SkipRound(WireRoundCertificate),
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireStream {
    stream_id: Vec<u8>,
    sequence: u64,
    part: Option<ProposalPart>,
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireProof {
    public_key: Vec<u8>,
    peer_id: Vec<u8>,
    signature: Sig,
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireStatus {
    peer_id: Vec<u8>,
    tip_height: u64,
    history_min_height: u64,
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireRequest {
    from: u64,
    to: u64,
}

/// A commit certificate as value sync carries it.
#[derive(BorshSerialize, BorshDeserialize)]
struct WireCertificate {
    height: u64,
    round: i64,
    block_hash: BlockHash,
    signatures: Vec<WireSignature>,
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireDecided {
    block: Vec<u8>,
    certificate: WireCertificate,
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireResponse {
    start_height: u64,
    values: Vec<WireDecided>,
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireProposedValue {
    height: u64,
    round: i64,
    valid_round: i64,
    proposer: ValidatorAddress,
    value: BlockHash,
    valid: bool,
}

impl WireCertificate {
    fn new<'a>(
        height: Height,
        round: Round,
        block_hash: BlockHash,
        signatures: impl Iterator<Item = (&'a ValidatorAddress, &'a Sig)>,
    ) -> WireCertificate {
        WireCertificate {
            height: height.0,
            round: round.as_i64(),
            block_hash,
            signatures: signatures
                .map(|(address, signature)| WireSignature {
                    address: *address,
                    signature: signature.clone(),
                })
                .collect(),
        }
    }

    fn of(c: &CommitCertificate<Ctx>) -> WireCertificate {
        let signatures = c
            .commit_signatures
            .iter()
            .map(|s| (&s.address, &s.signature));
        WireCertificate::new(c.height, c.round, c.value_id, signatures)
    }

    fn of_extended(c: &ExtendedCommitCertificate<Ctx>) -> WireCertificate {
        let signatures = c
            .commit_signatures
            .iter()
            .map(|s| (&s.address, &s.signature));
        WireCertificate::new(c.height, c.round, c.value_id, signatures)
    }

    fn into_extended(self) -> ExtendedCommitCertificate<Ctx> {
        ExtendedCommitCertificate {
            height: Height(self.height),
            round: round_of(self.round),
            value_id: self.block_hash,
            commit_signatures: self
                .signatures
                .into_iter()
                .map(|s| ExtendedCommitSignature::new(s.address, s.signature, None))
                .collect(),
        }
    }
}

/// Encodes a commit certificate as stored beside its block: borsh of the ledger's
/// [`opmeter_ledger::consensus::CommitCertificate`].
pub fn encode_certificate(certificate: &CommitCertificate<Ctx>) -> Vec<u8> {
    borsh::to_vec(&crate::context::ledger_certificate(certificate)).unwrap_or_default()
}

/// Decodes a stored commit certificate.
///
/// # Errors
/// When the bytes are not a certificate.
pub fn decode_certificate(bytes: &[u8]) -> Result<CommitCertificate<Ctx>, CodecError> {
    let stored: opmeter_ledger::consensus::CommitCertificate = decode(bytes)?;
    Ok(CommitCertificate {
        height: Height(stored.height),
        round: Round::new(stored.round),
        value_id: BlockHash(stored.block_hash.0),
        commit_signatures: stored
            .signatures
            .into_iter()
            .map(|s| CommitSignature::new(ValidatorAddress(s.validator), Sig(s.signature)))
            .collect(),
    })
}

/// Encodes a decided value for value sync: the block's bytes with its certificate.
pub fn raw_decided(
    block_bytes: Vec<u8>,
    certificate: &CommitCertificate<Ctx>,
) -> malachitebft_app_channel::app::types::sync::RawDecidedValue<Ctx> {
    malachitebft_app_channel::app::types::sync::RawDecidedValue::new(
        Bytes::from(block_bytes),
        WireCertificate::of(certificate).into_extended(),
    )
}

fn decode<T: BorshDeserialize>(bytes: &[u8]) -> Result<T, CodecError> {
    borsh::from_slice(bytes).map_err(|e| CodecError(e.to_string()))
}

fn encode<T: BorshSerialize>(value: &T) -> Result<Bytes, CodecError> {
    borsh::to_vec(value)
        .map(Bytes::from)
        .map_err(|e| CodecError(e.to_string()))
}

impl Codec<ProposalPart> for OpmeterCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<ProposalPart, CodecError> {
        decode(&bytes)
    }

    fn encode(&self, part: &ProposalPart) -> Result<Bytes, CodecError> {
        encode(part)
    }
}

impl Codec<SignedConsensusMsg<Ctx>> for OpmeterCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<SignedConsensusMsg<Ctx>, CodecError> {
        Ok(match decode(&bytes)? {
            WireConsensusMsg::Vote(vote, signature) => {
                SignedConsensusMsg::Vote(SignedMessage::new(vote.into_vote(), signature))
            }
            WireConsensusMsg::Proposal(p, signature) => {
                SignedConsensusMsg::Proposal(SignedMessage::new(
                    Proposal {
                        height: Height(p.height),
                        round: round_of(p.round),
                        value: BlockValue(p.value),
                        pol_round: round_of(p.pol_round),
                        proposer: p.proposer,
                    },
                    signature,
                ))
            }
        })
    }

    fn encode(&self, msg: &SignedConsensusMsg<Ctx>) -> Result<Bytes, CodecError> {
        encode(&match msg {
            SignedConsensusMsg::Vote(vote) => {
                WireConsensusMsg::Vote(WireVote::of(&vote.message), vote.signature.clone())
            }
            SignedConsensusMsg::Proposal(p) => WireConsensusMsg::Proposal(
                WireProposal {
                    height: p.message.height.0,
                    round: p.message.round.as_i64(),
                    value: p.message.value.0,
                    pol_round: p.message.pol_round.as_i64(),
                    proposer: p.message.proposer,
                },
                p.signature.clone(),
            ),
        })
    }
}

impl Codec<PolkaCertificate<Ctx>> for OpmeterCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<PolkaCertificate<Ctx>, CodecError> {
        Ok(polka_from(decode(&bytes)?))
    }

    fn encode(&self, polka: &PolkaCertificate<Ctx>) -> Result<Bytes, CodecError> {
        encode(&polka_of(polka))
    }
}

fn polka_of(polka: &PolkaCertificate<Ctx>) -> WirePolka {
    WirePolka {
        height: polka.height.0,
        round: polka.round.as_i64(),
        value: polka.value_id,
        signatures: polka
            .polka_signatures
            .iter()
            .map(|s| WireSignature {
                address: s.address,
                signature: s.signature.clone(),
            })
            .collect(),
    }
}

fn polka_from(wire: WirePolka) -> PolkaCertificate<Ctx> {
    PolkaCertificate {
        height: Height(wire.height),
        round: round_of(wire.round),
        value_id: wire.value,
        polka_signatures: wire
            .signatures
            .into_iter()
            .map(|s| PolkaSignature::new(s.address, s.signature))
            .collect(),
    }
}

impl Codec<LivenessMsg<Ctx>> for OpmeterCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<LivenessMsg<Ctx>, CodecError> {
        Ok(match decode(&bytes)? {
            WireLiveness::Vote(vote, signature) => {
                LivenessMsg::Vote(SignedMessage::new(vote.into_vote(), signature))
            }
            WireLiveness::Polka(polka) => LivenessMsg::PolkaCertificate(polka_from(polka)),
            WireLiveness::SkipRound(c) => LivenessMsg::SkipRoundCertificate(RoundCertificate {
                height: Height(c.height),
                round: round_of(c.round),
                cert_type: if c.skip {
                    RoundCertificateType::Skip
                } else {
                    RoundCertificateType::Precommit
                },
                round_signatures: c
                    .signatures
                    .into_iter()
                    .map(|s| {
                        RoundSignature::new(
                            if s.precommit {
                                VoteType::Precommit
                            } else {
                                VoteType::Prevote
                            },
                            s.value.map_or(NilOrVal::Nil, NilOrVal::Val),
                            s.address,
                            s.signature,
                        )
                    })
                    .collect(),
            }),
        })
    }

    fn encode(&self, msg: &LivenessMsg<Ctx>) -> Result<Bytes, CodecError> {
        encode(&match msg {
            LivenessMsg::Vote(vote) => {
                WireLiveness::Vote(WireVote::of(&vote.message), vote.signature.clone())
            }
            LivenessMsg::PolkaCertificate(polka) => WireLiveness::Polka(polka_of(polka)),
            LivenessMsg::SkipRoundCertificate(c) => WireLiveness::SkipRound(WireRoundCertificate {
                height: c.height.0,
                round: c.round.as_i64(),
                skip: c.cert_type == RoundCertificateType::Skip,
                signatures: c
                    .round_signatures
                    .iter()
                    .map(|s| WireRoundSignature {
                        precommit: s.vote_type == VoteType::Precommit,
                        value: match s.value_id {
                            NilOrVal::Nil => None,
                            NilOrVal::Val(hash) => Some(hash),
                        },
                        address: s.address,
                        signature: s.signature.clone(),
                    })
                    .collect(),
            }),
        })
    }
}

impl Codec<StreamMessage<ProposalPart>> for OpmeterCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<StreamMessage<ProposalPart>, CodecError> {
        let wire: WireStream = decode(&bytes)?;
        Ok(StreamMessage::new(
            StreamId::new(Bytes::from(wire.stream_id)),
            wire.sequence,
            match wire.part {
                Some(part) => StreamContent::Data(part),
                None => StreamContent::Fin,
            },
        ))
    }

    fn encode(&self, msg: &StreamMessage<ProposalPart>) -> Result<Bytes, CodecError> {
        encode(&WireStream {
            stream_id: msg.stream_id.to_bytes().to_vec(),
            sequence: msg.sequence,
            part: msg.content.as_data().cloned(),
        })
    }
}

impl Codec<ValidatorProof<Ctx>> for OpmeterCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<ValidatorProof<Ctx>, CodecError> {
        let wire: WireProof = decode(&bytes)?;
        Ok(ValidatorProof::new(
            wire.public_key,
            wire.peer_id,
            wire.signature,
        ))
    }

    fn encode(&self, proof: &ValidatorProof<Ctx>) -> Result<Bytes, CodecError> {
        encode(&WireProof {
            public_key: proof.public_key.clone(),
            peer_id: proof.peer_id.clone(),
            signature: proof.signature.clone(),
        })
    }
}

impl Codec<Status<Ctx>> for OpmeterCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<Status<Ctx>, CodecError> {
        let wire: WireStatus = decode(&bytes)?;
        Ok(Status {
            peer_id: PeerId::from_bytes(&wire.peer_id)
                .map_err(|e| CodecError(format!("peer id: {e}")))?,
            tip_height: Height(wire.tip_height),
            history_min_height: Height(wire.history_min_height),
        })
    }

    fn encode(&self, status: &Status<Ctx>) -> Result<Bytes, CodecError> {
        encode(&WireStatus {
            peer_id: status.peer_id.to_bytes(),
            tip_height: status.tip_height.0,
            history_min_height: status.history_min_height.0,
        })
    }
}

impl Codec<Request<Ctx>> for OpmeterCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<Request<Ctx>, CodecError> {
        let wire: WireRequest = decode(&bytes)?;
        let range: RangeInclusive<Height> = Height(wire.from)..=Height(wire.to);
        Ok(Request::ValueRequest(malachitebft_sync::ValueRequest::new(
            range,
        )))
    }

    fn encode(&self, request: &Request<Ctx>) -> Result<Bytes, CodecError> {
        let Request::ValueRequest(request) = request;
        encode(&WireRequest {
            from: request.range.start().0,
            to: request.range.end().0,
        })
    }
}

fn response_of(response: &Response<Ctx>) -> WireResponse {
    let Response::ValueResponse(response) = response;
    WireResponse {
        start_height: response.start_height.0,
        values: response
            .values
            .iter()
            .map(|v| WireDecided {
                block: v.value_bytes.to_vec(),
                certificate: WireCertificate::of_extended(&v.certificate),
            })
            .collect(),
    }
}

impl Codec<Response<Ctx>> for OpmeterCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<Response<Ctx>, CodecError> {
        let wire: WireResponse = decode(&bytes)?;
        Ok(Response::ValueResponse(
            malachitebft_sync::ValueResponse::new(
                Height(wire.start_height),
                wire.values
                    .into_iter()
                    .map(|v| {
                        malachitebft_app_channel::app::types::sync::RawDecidedValue::new(
                            Bytes::from(v.block),
                            v.certificate.into_extended(),
                        )
                    })
                    .collect(),
            ),
        ))
    }

    fn encode(&self, response: &Response<Ctx>) -> Result<Bytes, CodecError> {
        encode(&response_of(response))
    }
}

impl HasEncodedLen<Response<Ctx>> for OpmeterCodec {
    fn encoded_len(&self, response: &Response<Ctx>) -> Result<usize, CodecError> {
        borsh::object_length(&response_of(response)).map_err(|e| CodecError(e.to_string()))
    }
}

impl Codec<ProposedValue<Ctx>> for OpmeterCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<ProposedValue<Ctx>, CodecError> {
        let wire: WireProposedValue = decode(&bytes)?;
        Ok(ProposedValue {
            height: Height(wire.height),
            round: round_of(wire.round),
            valid_round: round_of(wire.valid_round),
            proposer: wire.proposer,
            value: BlockValue(wire.value),
            validity: Validity::from_bool(wire.valid),
        })
    }

    fn encode(&self, value: &ProposedValue<Ctx>) -> Result<Bytes, CodecError> {
        encode(&WireProposedValue {
            height: value.height.0,
            round: value.round.as_i64(),
            valid_round: value.valid_round.as_i64(),
            proposer: value.proposer,
            value: value.value.0,
            valid: value.validity.is_valid(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T>(value: &T) -> T
    where
        OpmeterCodec: Codec<T>,
        <OpmeterCodec as Codec<T>>::Error: std::fmt::Debug,
    {
        let bytes = OpmeterCodec.encode(value).unwrap();
        OpmeterCodec.decode(bytes).unwrap()
    }

    fn vote(precommit: bool, value: Option<u8>) -> Vote {
        Vote {
            vote_type: if precommit {
                VoteType::Precommit
            } else {
                VoteType::Prevote
            },
            height: Height(9),
            round: Round::new(2),
            value: value.map_or(NilOrVal::Nil, |b| NilOrVal::Val(BlockHash([b; 32]))),
            validator: ValidatorAddress([4; 20]),
            extension: None,
        }
    }

    #[test]
    fn every_message_round_trips() {
        for v in [vote(false, None), vote(true, Some(7))] {
            let msg = SignedConsensusMsg::Vote(SignedMessage::new(v.clone(), Sig([1; 64])));
            match round_trip(&msg) {
                SignedConsensusMsg::Vote(back) => assert_eq!(back.message, v),
                SignedConsensusMsg::Proposal(_) => panic!("a vote came back a proposal"),
            }
        }
        let proposal = Proposal {
            height: Height(3),
            round: Round::new(1),
            value: BlockValue(BlockHash([5; 32])),
            pol_round: Round::Nil,
            proposer: ValidatorAddress([6; 20]),
        };
        let msg = SignedConsensusMsg::Proposal(SignedMessage::new(proposal.clone(), Sig([2; 64])));
        match round_trip(&msg) {
            SignedConsensusMsg::Proposal(back) => assert_eq!(back.message, proposal),
            SignedConsensusMsg::Vote(_) => panic!("a proposal came back a vote"),
        }
        let part = StreamMessage::new(
            StreamId::new(Bytes::from_static(b"id")),
            4,
            StreamContent::Data(ProposalPart::Data(vec![1, 2, 3])),
        );
        let back = round_trip(&part);
        assert_eq!((back.sequence, back.content), (4, part.content));
        let certificate = CommitCertificate {
            height: Height(12),
            round: Round::new(0),
            value_id: BlockHash([8; 32]),
            commit_signatures: vec![CommitSignature::new(
                ValidatorAddress([1; 20]),
                Sig([3; 64]),
            )],
        };
        assert_eq!(
            decode_certificate(&encode_certificate(&certificate)).unwrap(),
            certificate
        );
        let response = Response::ValueResponse(malachitebft_sync::ValueResponse::new(
            Height(12),
            vec![raw_decided(vec![9, 9], &certificate)],
        ));
        assert_eq!(round_trip(&response), response);
        assert!(OpmeterCodec
            .decode(Bytes::from_static(b"\xff\xff"))
            .map(|m: SignedConsensusMsg<Ctx>| m.height())
            .is_err());
    }
}
