//! The node's error types: admission refusals (the client's fault, stable codes), proposal
//! rejections (a bad block), and node faults (the node's own failure; never a receipt).

use opmeter_vm::{ValidationReport, VmError, U256};

use crate::store::StoreError;

/// Why a transaction was refused at admission. Nothing was stored. Codes are stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdmissionError {
    /// The encoded transaction is larger than the schedule allows.
    #[error("transaction is {len_bytes} bytes; the limit is {max_bytes}")]
    TooLarge {
        /// Its size.
        len_bytes: u64,
        /// `max_tx_len_bytes`.
        max_bytes: u32,
    },
    /// The bytes are not one borsh-encoded signed transaction.
    #[error("malformed transaction: {0}")]
    Malformed(String),
    /// The transaction is for another chain.
    #[error("transaction is for chain `{got}`, this is `{expected}`")]
    WrongChainId {
        /// This chain.
        expected: String,
        /// The transaction's chain id.
        got: String,
    },
    /// The signature does not verify against the transaction's public key.
    #[error("bad signature")]
    BadSignature,
    /// The gas limit is above the block gas limit: it could never be included.
    #[error("gas limit {gas_limit} is above the block gas limit {block_gas_limit}")]
    GasLimitAboveBlockLimit {
        /// The transaction's gas limit.
        gas_limit: u64,
        /// The chain's block gas limit.
        block_gas_limit: u64,
    },
    /// The gas limit does not cover the intrinsic gas.
    #[error("gas limit {gas_limit} is below the intrinsic gas {intrinsic_gas}")]
    GasLimitBelowIntrinsic {
        /// The transaction's gas limit.
        gas_limit: u64,
        /// `tx_base + tx_per_byte × length`.
        intrinsic_gas: u64,
    },
    /// The gas price is below the chain's minimum.
    #[error("gas price {gas_price} is below the minimum {min_gas_price}")]
    GasPriceTooLow {
        /// The transaction's gas price.
        gas_price: U256,
        /// The chain's minimum.
        min_gas_price: U256,
    },
    /// The nonce was already used (a replay or a stale transaction).
    #[error("nonce {nonce} is stale: the account's next nonce is {expected}")]
    NonceTooLow {
        /// The transaction's nonce.
        nonce: u64,
        /// The account's next nonce.
        expected: u64,
    },
    /// The nonce is too far ahead of the account's next nonce.
    #[error("nonce {nonce} is more than {window} ahead of the account's next nonce {expected}")]
    NonceTooHigh {
        /// The transaction's nonce.
        nonce: u64,
        /// The account's next nonce.
        expected: u64,
        /// How far ahead a nonce may be.
        window: u64,
    },
    /// The balance cannot pay `gas_limit × gas_price + value` (plus what the sender's pending
    /// transactions may spend).
    #[error("balance {balance} is below the {required} this transaction may cost")]
    InsufficientBalance {
        /// The committed balance.
        balance: U256,
        /// What it must be at least.
        required: U256,
    },
    /// The deployed code does not pass validation.
    #[error("invalid code: {0}")]
    InvalidCode(ValidationReport),
    /// This exact transaction is already pending or committed.
    #[error("transaction is already known")]
    AlreadyKnown,
    /// Another pending transaction of the sender already has this nonce.
    #[error("another pending transaction already uses nonce {nonce}")]
    NonceTaken {
        /// The nonce.
        nonce: u64,
    },
    /// The mempool is full.
    #[error("the mempool is full ({max_txs} transactions)")]
    MempoolFull {
        /// Its capacity.
        max_txs: u32,
    },
}

impl AdmissionError {
    /// The stable numeric code (documented in `specs/node.md`).
    pub fn code(&self) -> u16 {
        match self {
            AdmissionError::TooLarge { .. } => 1,
            AdmissionError::Malformed(_) => 2,
            AdmissionError::WrongChainId { .. } => 3,
            AdmissionError::BadSignature => 4,
            AdmissionError::GasLimitAboveBlockLimit { .. } => 5,
            AdmissionError::GasLimitBelowIntrinsic { .. } => 6,
            AdmissionError::GasPriceTooLow { .. } => 7,
            AdmissionError::NonceTooLow { .. } => 8,
            AdmissionError::NonceTooHigh { .. } => 9,
            AdmissionError::InsufficientBalance { .. } => 10,
            AdmissionError::InvalidCode(_) => 11,
            AdmissionError::AlreadyKnown => 12,
            AdmissionError::NonceTaken { .. } => 13,
            AdmissionError::MempoolFull { .. } => 14,
        }
    }

    /// A stable camelCase name.
    pub fn name(&self) -> &'static str {
        match self {
            AdmissionError::TooLarge { .. } => "tooLarge",
            AdmissionError::Malformed(_) => "malformed",
            AdmissionError::WrongChainId { .. } => "wrongChainId",
            AdmissionError::BadSignature => "badSignature",
            AdmissionError::GasLimitAboveBlockLimit { .. } => "gasLimitAboveBlockLimit",
            AdmissionError::GasLimitBelowIntrinsic { .. } => "gasLimitBelowIntrinsic",
            AdmissionError::GasPriceTooLow { .. } => "gasPriceTooLow",
            AdmissionError::NonceTooLow { .. } => "nonceTooLow",
            AdmissionError::NonceTooHigh { .. } => "nonceTooHigh",
            AdmissionError::InsufficientBalance { .. } => "insufficientBalance",
            AdmissionError::InvalidCode(_) => "invalidCode",
            AdmissionError::AlreadyKnown => "alreadyKnown",
            AdmissionError::NonceTaken { .. } => "nonceTaken",
            AdmissionError::MempoolFull { .. } => "mempoolFull",
        }
    }
}

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

impl From<opmeter_rpc::transition::TransitionError> for NodeError {
    fn from(error: opmeter_rpc::transition::TransitionError) -> NodeError {
        use opmeter_rpc::transition::TransitionError;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admission_codes_and_names_are_distinct_and_stable() {
        let report = opmeter_vm::Vm::new(opmeter_vm::Schedule::v1())
            .validate(b"junk")
            .unwrap_err();
        let all = [
            AdmissionError::TooLarge {
                len_bytes: 0,
                max_bytes: 0,
            },
            AdmissionError::Malformed(String::new()),
            AdmissionError::WrongChainId {
                expected: String::new(),
                got: String::new(),
            },
            AdmissionError::BadSignature,
            AdmissionError::GasLimitAboveBlockLimit {
                gas_limit: 0,
                block_gas_limit: 0,
            },
            AdmissionError::GasLimitBelowIntrinsic {
                gas_limit: 0,
                intrinsic_gas: 0,
            },
            AdmissionError::GasPriceTooLow {
                gas_price: U256::zero(),
                min_gas_price: U256::zero(),
            },
            AdmissionError::NonceTooLow {
                nonce: 0,
                expected: 0,
            },
            AdmissionError::NonceTooHigh {
                nonce: 0,
                expected: 0,
                window: 0,
            },
            AdmissionError::InsufficientBalance {
                balance: U256::zero(),
                required: U256::zero(),
            },
            AdmissionError::InvalidCode(report),
            AdmissionError::AlreadyKnown,
            AdmissionError::NonceTaken { nonce: 0 },
            AdmissionError::MempoolFull { max_txs: 0 },
        ];
        let codes: Vec<u16> = all.iter().map(AdmissionError::code).collect();
        assert_eq!(codes, (1..=14).collect::<Vec<u16>>());
        let names: std::collections::BTreeSet<&str> =
            all.iter().map(AdmissionError::name).collect();
        assert_eq!(names.len(), all.len());
    }
}
