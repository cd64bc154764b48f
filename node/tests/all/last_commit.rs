//! Every block of a replicated chain from height 2 on carries the commit certificate of its parent
//! (`Block::last_commit`, hashed into the header's `last_commit_hash`), checked against the
//! genesis's validators alone, on the one path proposals and synced blocks take; a chain one node
//! produces carries none.

use std::time::{SystemTime, UNIX_EPOCH};

use ed25519_dalek::{Signer as _, SigningKey};
use opmeter_ledger::block::Block;
use opmeter_ledger::consensus::{
    last_commit_hash, validator_address, CommitCertificate, CommitError, CommitSignature, SignBytes,
};
use opmeter_ledger::encoding::Hash32;
use opmeter_node::error::{NodeError, ProposalError};
use opmeter_node::genesis::{Genesis, GenesisValidator};

use crate::support::{genesis, key, wallet, TestNode, CHAIN};

/// The four validators' consensus keys (voting power 1 each).
fn validator_keys() -> Vec<SigningKey> {
    (101..=104u8).map(key).collect()
}

fn replicated_genesis() -> Genesis {
    let mut genesis = genesis();
    genesis.validators = validator_keys()
        .iter()
        .enumerate()
        .map(|(i, k)| GenesisValidator {
            name: format!("v{i}"),
            public_key: format!("0x{}", hex::encode(k.verifying_key().to_bytes())),
            voting_power: 1,
        })
        .collect();
    genesis
}

/// A certificate of block `hash` at `height`, signed by the validators at `signers`.
fn certificate(signers: &[usize], height: u64, hash: Hash32) -> CommitCertificate {
    let keys = validator_keys();
    CommitCertificate {
        height,
        round: 0,
        block_hash: hash,
        signatures: signers
            .iter()
            .map(|&i| {
                let validator = validator_address(&keys[i].verifying_key().to_bytes());
                let message = SignBytes::Vote {
                    chain_id: CHAIN.into(),
                    vote_type: 1,
                    height,
                    round: 0,
                    value: Some(hash.0),
                    validator,
                }
                .encode();
                CommitSignature {
                    validator,
                    signature: keys[i].sign(&message).to_bytes(),
                }
            })
            .collect(),
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn rejection(result: Result<impl std::fmt::Debug, NodeError>) -> ProposalError {
    match result {
        Err(NodeError::Proposal(error)) => error,
        other => panic!("expected a rejected block, got {other:?}"),
    }
}

#[test]
fn a_replicated_block_carries_its_parents_certificate_and_anything_else_is_rejected() {
    let proposer = TestNode::with_genesis(replicated_genesis());
    let follower = TestNode::with_genesis(replicated_genesis());
    let mut alice = wallet(1);
    let bob = wallet(2).address();

    // Block 1: its parent is the genesis, which no certificate decides.
    let cert_0 = certificate(&[0, 1, 2], 0, proposer.node.head().hash);
    assert_eq!(
        rejection(proposer.node.propose_block(now_ms(), true, Some(cert_0))),
        ProposalError::UnexpectedLastCommit { height: 1 }
    );
    let staged = proposer
        .node
        .propose_block(now_ms(), true, None)
        .unwrap()
        .unwrap();
    let block_1 = staged.block().clone();
    assert_eq!(block_1.last_commit, None);
    assert_eq!(block_1.header.last_commit_hash, Hash32([0; 32]));
    let cert_1 = certificate(&[0, 1, 2], 1, block_1.header.hash());
    proposer
        .node
        .commit_block(staged, Some(borsh::to_vec(&cert_1).unwrap()))
        .unwrap();
    let staged = follower.node.validate_block(&block_1).unwrap();
    follower
        .node
        .commit_block(staged, Some(borsh::to_vec(&cert_1).unwrap()))
        .unwrap();

    // Block 2, as proposed: the proposer's certificate of block 1 must decide block 1.
    proposer
        .node
        .submit(&alice.transfer(bob, 1u64.into()).encode())
        .unwrap();
    let propose = |last_commit| proposer.node.propose_block(now_ms(), true, last_commit);
    assert_eq!(
        rejection(propose(None)),
        ProposalError::MissingLastCommit { height: 2 }
    );
    assert_eq!(
        rejection(propose(Some(certificate(
            &[0, 1],
            1,
            block_1.header.hash()
        )))),
        ProposalError::InvalidLastCommit(CommitError::NotEnoughPower {
            signed: 2,
            total: 4
        })
    );
    assert_eq!(
        rejection(propose(Some(certificate(
            &[0, 1, 2],
            2,
            block_1.header.hash()
        )))),
        ProposalError::InvalidLastCommit(CommitError::WrongHeight {
            expected: 1,
            got: 2
        })
    );
    assert_eq!(
        rejection(propose(Some(certificate(&[0, 1, 2], 1, Hash32([7; 32]))))),
        ProposalError::InvalidLastCommit(CommitError::WrongBlock)
    );
    let staged = propose(Some(cert_1.clone())).unwrap().unwrap();
    let block_2 = staged.block().clone();
    assert_eq!(block_2.last_commit.as_ref(), Some(&cert_1));
    assert_eq!(block_2.header.last_commit_hash, cert_1.hash());
    assert_eq!(
        block_2.header.last_commit_hash,
        last_commit_hash(Some(&cert_1))
    );

    // Block 2, as received (a proposal or a synced block: one path).
    let check = |block: &Block| follower.node.validate_block(block);
    let mut missing = block_2.clone();
    missing.last_commit = None;
    assert_eq!(
        rejection(check(&missing)),
        ProposalError::MissingLastCommit { height: 2 }
    );
    let mut wrong_hash = block_2.clone();
    wrong_hash.header.last_commit_hash = Hash32([9; 32]);
    assert_eq!(
        rejection(check(&wrong_hash)),
        ProposalError::LastCommitHashMismatch {
            expected: cert_1.hash(),
            got: Hash32([9; 32])
        }
    );
    // Another valid certificate of block 1 than the one the header names.
    let other = certificate(&[1, 2, 3], 1, block_1.header.hash());
    let mut swapped = block_2.clone();
    swapped.last_commit = Some(other.clone());
    assert_eq!(
        rejection(check(&swapped)),
        ProposalError::LastCommitHashMismatch {
            expected: other.hash(),
            got: cert_1.hash()
        }
    );
    // A forged precommit, its hash consistently in the header: the signature does not verify.
    let mut forged_cert = cert_1.clone();
    forged_cert.signatures[1].signature[0] ^= 1;
    let mut forged = block_2.clone();
    forged.header.last_commit_hash = forged_cert.hash();
    forged.last_commit = Some(forged_cert.clone());
    assert_eq!(
        rejection(check(&forged)),
        ProposalError::InvalidLastCommit(CommitError::BadSignature(
            forged_cert.signatures[1].validator
        ))
    );
    let staged = check(&block_2).unwrap();
    assert_eq!(staged.hash(), block_2.header.hash());
    follower.node.commit_block(staged, None).unwrap();
    // Stored as carried: the block served is the block decided.
    assert_eq!(
        follower.node.chain().store().block(2).unwrap().unwrap(),
        block_2
    );
}

#[test]
fn a_single_node_block_carries_no_certificate_and_a_zero_hash() {
    let producer = TestNode::new();
    let follower = TestNode::new();
    let mut alice = wallet(1);
    let bob = wallet(2).address();
    for _ in 0..3 {
        producer.run(&[alice.transfer(bob, 1u64.into())]);
    }
    for height in 1..=3 {
        let block = producer
            .node
            .chain()
            .store()
            .block(height)
            .unwrap()
            .unwrap();
        assert_eq!(block.last_commit, None);
        assert_eq!(block.header.last_commit_hash, Hash32([0; 32]));
        if height == 3 {
            // A certificate where none belongs, its hash consistently in the header.
            let cert = certificate(&[0, 1, 2], 2, block.header.parent_hash);
            let mut carrying = block.clone();
            carrying.header.last_commit_hash = cert.hash();
            carrying.last_commit = Some(cert.clone());
            assert_eq!(
                rejection(follower.node.validate_block(&carrying)),
                ProposalError::UnexpectedLastCommit { height: 3 }
            );
            // A zero-carrying block with a non-zero hash.
            let mut nonzero = block.clone();
            nonzero.header.last_commit_hash = Hash32([1; 32]);
            assert_eq!(
                rejection(follower.node.validate_block(&nonzero)),
                ProposalError::LastCommitHashMismatch {
                    expected: Hash32([0; 32]),
                    got: Hash32([1; 32])
                }
            );
            assert_eq!(
                rejection(producer.node.propose_block(now_ms(), true, Some(cert))),
                ProposalError::UnexpectedLastCommit { height: 4 }
            );
        }
        follower.node.import_block(&block).unwrap();
    }
    assert_eq!(follower.node.head().hash, producer.node.head().hash);
}
