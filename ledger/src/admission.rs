//! Why a transaction is refused before it reaches a block: the admission errors every client
//! sees, with stable codes (`specs/node.md`; JSON-RPC reports `1000 + code`).
//!
//! ```
//! use opmeter_ledger::admission::{AdmissionCode, AdmissionError};
//! assert_eq!(AdmissionError::BadSignature.code(), AdmissionCode::BadSignature);
//! assert_eq!(AdmissionCode::BadSignature.code(), 4);
//! assert_eq!(AdmissionCode::ALL.len(), 15);
//! ```

use opmeter_vm::{ValidationReport, U256};

use crate::name::NameRule;

crate::stable_codes! {
    /// The stable code of each [`AdmissionError`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub enum AdmissionCode: u16 {
        /// [`AdmissionError::TooLarge`].
        TooLarge = 1 => "tooLarge",
        /// [`AdmissionError::Malformed`].
        Malformed = 2 => "malformed",
        /// [`AdmissionError::WrongChainId`].
        WrongChainId = 3 => "wrongChainId",
        /// [`AdmissionError::BadSignature`].
        BadSignature = 4 => "badSignature",
        /// [`AdmissionError::GasLimitAboveBlockLimit`].
        GasLimitAboveBlockLimit = 5 => "gasLimitAboveBlockLimit",
        /// [`AdmissionError::GasLimitBelowIntrinsic`].
        GasLimitBelowIntrinsic = 6 => "gasLimitBelowIntrinsic",
        /// [`AdmissionError::GasPriceTooLow`].
        GasPriceTooLow = 7 => "gasPriceTooLow",
        /// [`AdmissionError::NonceTooLow`].
        NonceTooLow = 8 => "nonceTooLow",
        /// [`AdmissionError::NonceTooHigh`].
        NonceTooHigh = 9 => "nonceTooHigh",
        /// [`AdmissionError::InsufficientBalance`].
        InsufficientBalance = 10 => "insufficientBalance",
        /// [`AdmissionError::InvalidCode`].
        InvalidCode = 11 => "invalidCode",
        /// [`AdmissionError::AlreadyKnown`].
        AlreadyKnown = 12 => "alreadyKnown",
        /// [`AdmissionError::NonceTaken`].
        NonceTaken = 13 => "nonceTaken",
        /// [`AdmissionError::MempoolFull`].
        MempoolFull = 14 => "mempoolFull",
        /// [`AdmissionError::InvalidName`].
        InvalidName = 15 => "invalidName",
    }
}

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
    /// The gas limit does not cover the intrinsic gas (with a name payload's fixed name gas).
    #[error("gas limit {gas_limit} is below the intrinsic gas {intrinsic_gas}")]
    GasLimitBelowIntrinsic {
        /// The transaction's gas limit.
        gas_limit: u64,
        /// `tx_base + tx_per_byte × length`, plus `crate::name::payload_gas` for name payloads.
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
    /// A name payload's name breaks a naming rule (`specs/names.md`).
    #[error("invalid name {name:?}: {rule}")]
    InvalidName {
        /// The name as sent.
        name: String,
        /// The rule it breaks.
        rule: NameRule,
    },
}

impl AdmissionError {
    /// The stable code (documented in `specs/node.md`).
    pub fn code(&self) -> AdmissionCode {
        match self {
            AdmissionError::TooLarge { .. } => AdmissionCode::TooLarge,
            AdmissionError::Malformed(_) => AdmissionCode::Malformed,
            AdmissionError::WrongChainId { .. } => AdmissionCode::WrongChainId,
            AdmissionError::BadSignature => AdmissionCode::BadSignature,
            AdmissionError::GasLimitAboveBlockLimit { .. } => {
                AdmissionCode::GasLimitAboveBlockLimit
            }
            AdmissionError::GasLimitBelowIntrinsic { .. } => AdmissionCode::GasLimitBelowIntrinsic,
            AdmissionError::GasPriceTooLow { .. } => AdmissionCode::GasPriceTooLow,
            AdmissionError::NonceTooLow { .. } => AdmissionCode::NonceTooLow,
            AdmissionError::NonceTooHigh { .. } => AdmissionCode::NonceTooHigh,
            AdmissionError::InsufficientBalance { .. } => AdmissionCode::InsufficientBalance,
            AdmissionError::InvalidCode(_) => AdmissionCode::InvalidCode,
            AdmissionError::AlreadyKnown => AdmissionCode::AlreadyKnown,
            AdmissionError::NonceTaken { .. } => AdmissionCode::NonceTaken,
            AdmissionError::MempoolFull { .. } => AdmissionCode::MempoolFull,
            AdmissionError::InvalidName { .. } => AdmissionCode::InvalidName,
        }
    }

    /// The stable camelCase name of its code.
    pub fn name(&self) -> &'static str {
        self.code().name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_its_own_code_in_order() {
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
            AdmissionError::InvalidName {
                name: String::new(),
                rule: NameRule::TooShort,
            },
        ];
        let codes: Vec<AdmissionCode> = all.iter().map(AdmissionError::code).collect();
        assert_eq!(codes, AdmissionCode::ALL);
        let pinned: Vec<(u16, &str)> = AdmissionCode::ALL
            .iter()
            .map(|c| (c.code(), c.name()))
            .collect();
        expect_test::expect![[r#"
            [
                (
                    1,
                    "tooLarge",
                ),
                (
                    2,
                    "malformed",
                ),
                (
                    3,
                    "wrongChainId",
                ),
                (
                    4,
                    "badSignature",
                ),
                (
                    5,
                    "gasLimitAboveBlockLimit",
                ),
                (
                    6,
                    "gasLimitBelowIntrinsic",
                ),
                (
                    7,
                    "gasPriceTooLow",
                ),
                (
                    8,
                    "nonceTooLow",
                ),
                (
                    9,
                    "nonceTooHigh",
                ),
                (
                    10,
                    "insufficientBalance",
                ),
                (
                    11,
                    "invalidCode",
                ),
                (
                    12,
                    "alreadyKnown",
                ),
                (
                    13,
                    "nonceTaken",
                ),
                (
                    14,
                    "mempoolFull",
                ),
                (
                    15,
                    "invalidName",
                ),
            ]
        "#]]
        .assert_debug_eq(&pinned);
        for code in AdmissionCode::ALL {
            assert_eq!(AdmissionCode::from_code(code.code()), Some(*code));
            assert_eq!(AdmissionCode::from_name(code.name()), Some(*code));
        }
    }
}
