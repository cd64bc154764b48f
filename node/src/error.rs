//! The node's error types: proposal rejections (a bad block), node faults (the node's own
//! failure; never a receipt), and what submitting a transaction can fail with. Admission
//! refusals (the client's fault, stable codes) are [`AdmissionError`], defined with the ledger.

use opmeter_ledger::admission::AdmissionError;
use opmeter_ledger::consensus::CommitError;
use opmeter_ledger::encoding::Hash32;
use opmeter_ledger::transition::TransitionError;
use opmeter_vm::VmError;

use crate::store::StoreError;

/// Why a proposed block was rejected (ABCI `ProcessProposal` → REJECT).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProposalError {
    /// The height is not the head's successor.
    #[error("proposal height {got}, expected {expected}")]
    WrongHeight {
        /// Expected height.
        expected: u64,
        /// Proposed height.
        got: u64,
    },
    /// The parent hash is not the head's hash.
    #[error("proposal parent does not match the head")]
    WrongParent,
    /// The timestamp does not increase.
    #[error("timestamp {got} is not after the parent's {parent}")]
    TimestampNotIncreasing {
        /// The parent's timestamp.
        parent: u64,
        /// Proposed timestamp.
        got: u64,
    },
    /// Too many transactions.
    #[error("{count} transactions; at most {max} per block")]
    TooManyTransactions {
        /// Proposed count.
        count: u64,
        /// `block_tx_max`.
        max: u32,
    },
    /// The timestamp is too far ahead of this node's clock.
    #[error("timestamp {got} is too far ahead of this node's clock ({now})")]
    TimestampInFuture {
        /// This node's clock.
        now: u64,
        /// Proposed timestamp.
        got: u64,
    },
    /// The sum of gas limits is above the block gas limit.
    #[error("transactions may use {total} gas; the block gas limit is {limit}")]
    GasAboveBlockLimit {
        /// Sum of gas limits.
        total: u64,
        /// Block gas limit.
        limit: u64,
    },
    /// A transaction fails a check that does not depend on state.
    #[error("transaction {index}: {error}")]
    InvalidTransaction {
        /// Its position.
        index: u32,
        /// Why.
        error: AdmissionError,
    },
    /// A transaction was already committed in an earlier block.
    #[error("transaction {index} is already committed")]
    AlreadyCommitted {
        /// Its position.
        index: u32,
    },
    /// The proposal could not be judged (the store failed).
    #[error("cannot judge the proposal: {0}")]
    Unavailable(String),
    /// The same transaction appears twice.
    #[error("transaction {index} appears twice")]
    DuplicateTransaction {
        /// Its second position.
        index: u32,
    },
    /// A block of a replicated chain above height 1 carries no commit certificate of its
    /// parent.
    #[error("block {height} carries no commit certificate of its parent")]
    MissingLastCommit {
        /// The block's height.
        height: u64,
    },
    /// A block carries a commit certificate where none belongs: on a chain one node produces,
    /// or in block 1 (its parent is the genesis).
    #[error("block {height} carries a commit certificate, but none belongs in it")]
    UnexpectedLastCommit {
        /// The block's height.
        height: u64,
    },
    /// The parent's certificate does not show the parent decided by the genesis's validators
    /// (wrong height or block, unknown or repeated signer, bad signature, too little power).
    #[error("the commit certificate of the parent block: {0}")]
    InvalidLastCommit(CommitError),
    /// The header's `last_commit_hash` is not the hash of the certificate the block carries
    /// (zeroes when it carries none).
    #[error("last commit hash {got} is not the carried certificate's hash {expected}")]
    LastCommitHashMismatch {
        /// The hash of what the block carries.
        expected: Hash32,
        /// The header's.
        got: Hash32,
    },
}

/// A fault of the node itself. Aborts the operation; committed state is untouched.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The vm reported a node fault.
    #[error("vm fault: {0}")]
    Vm(#[from] VmError),
    /// The genesis document is invalid or does not match the stored chain.
    #[error("genesis: {0}")]
    Genesis(String),
    /// A block was rejected.
    #[error("invalid block: {0}")]
    Proposal(#[from] ProposalError),
    /// An imported block's header differs from the one this node computed.
    #[error("block {height}: computed {field} differs from the block's header")]
    HeaderMismatch {
        /// The block.
        height: u64,
        /// The first differing field.
        field: &'static str,
    },
    /// Commit was called with no finalized block staged, or for another block.
    #[error("nothing finalized to commit")]
    NothingToCommit,
    /// Arithmetic overflowed where the chain's rules make it impossible (a bug).
    #[error("invariant broken: {0}")]
    Invariant(String),
    /// The node is shutting down.
    #[error("the node is shutting down")]
    ShuttingDown,
}

impl From<TransitionError> for NodeError {
    fn from(error: TransitionError) -> NodeError {
        match error {
            TransitionError::Vm(e) => NodeError::Vm(e),
            TransitionError::State(e) => NodeError::Vm(VmError::State(e)),
            TransitionError::Invariant(message) => NodeError::Invariant(message),
        }
    }
}

/// The result of submitting a transaction: refused (client's fault) or a node fault.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// Refused at admission.
    #[error(transparent)]
    Rejected(#[from] AdmissionError),
    /// The node failed.
    #[error(transparent)]
    Node(#[from] NodeError),
}

impl From<StoreError> for SubmitError {
    fn from(e: StoreError) -> SubmitError {
        SubmitError::Node(NodeError::Store(e))
    }
}
