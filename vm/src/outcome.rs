//! What an execution returns: [`Outcome`] for everything the guest did (deterministic, goes into
//! the receipt) and [`VmError`] for the node's own faults (never a receipt).

use std::collections::BTreeMap;

use crate::abi::GasCategory;
use crate::state::StateError;
use crate::types::{CodeHash, Event, Status, TrapCode, WriteSet};

/// The deterministic result of one execution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Final status (a trap carries its code).
    pub status: Status,
    /// Output on success, revert data on revert, empty otherwise.
    pub output: Vec<u8>,
    /// Gas used; equals the gas limit on out-of-gas.
    pub gas_used: u64,
    /// The gas limit the call ran with.
    pub gas_limit: u64,
    /// Where every unit of `gas_used` went; sums exactly to `gas_used`.
    pub gas_breakdown: BTreeMap<GasCategory, u64>,
    /// Events (empty unless successful).
    pub events: Vec<Event>,
    /// Debug lines (not consensus data).
    pub logs: Vec<String>,
    /// State changes (empty unless successful).
    pub writes: WriteSet,
    /// Hash of the schedule that priced this execution.
    pub schedule_hash: [u8; 32],
    /// Codes this execution paid the cold load of, and a successful deployment's code (schedule
    /// v2 on; empty in v1), in order: a block's ledger adds them to the warm set
    /// ([`crate::warm_set`]) whatever the status, since the work was done and paid for.
    pub code_paid: Vec<CodeHash>,
}

impl Outcome {
    /// The trap code when the status is [`Status::Trap`].
    pub fn trap_code(&self) -> Option<TrapCode> {
        self.status.trap_code()
    }

    /// Sum of the breakdown (equals `gas_used` for every outcome the vm produces).
    pub fn breakdown_total(&self) -> u64 {
        self.gas_breakdown
            .values()
            .fold(0u64, |acc, v| acc.saturating_add(*v))
    }

    /// The breakdown with stable string keys, in key order.
    pub fn breakdown_by_key(&self) -> BTreeMap<&'static str, u64> {
        self.gas_breakdown
            .iter()
            .map(|(k, v)| (k.key(), *v))
            .collect()
    }
}

/// A fault of the node itself: the state backend failed, the engine misbehaved, or an
/// invariant broke. Aborts the block; never becomes a receipt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VmError {
    /// The state backend failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// Code stored in state no longer prepares (validation or instrumentation failed).
    #[error("stored code {code_hash} cannot be prepared: {reason}")]
    CorruptCode {
        /// Hex code hash.
        code_hash: String,
        /// Why.
        reason: String,
    },
    /// The engine returned an error that is not a guest trap.
    #[error("engine failure: {0}")]
    Engine(String),
    /// Gas accounting found an inconsistency (a bug).
    #[error("gas accounting invariant broken: {0}")]
    GasAccounting(String),
    /// The execution's [`crate::Interrupt`] was set (a read-only execution's time limit
    /// passed) and the execution was stopped. Only executions given an interrupt
    /// ([`crate::Vm::with_interrupt`]) can end this way; block execution never is.
    #[error("the execution was interrupted")]
    Interrupted,
}

/// What [`crate::Vm::call_provable`] returns: the deterministic result of calling a provable
/// export (`provable:<method>`) with integer arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvableOutcome {
    /// [`Status::Success`], [`Status::Trap`] (with its code) or [`Status::OutOfGas`] (there is
    /// no host to revert).
    pub status: Status,
    /// The returned value on success when the function has a result: an `i32` as its 32 bits
    /// zero-extended, an `i64` as its 64 bits.
    pub result: Option<u64>,
    /// Gas charged by the instrumented code from the call to its return (the metered blocks of
    /// every function entered, `call_per_local` included); the gas limit on out of gas. There is
    /// no instantiation or transaction charge: this is the gas of the function, not of a
    /// transaction.
    pub gas_used: u64,
    /// The gas limit the call ran with.
    pub gas_limit: u64,
    /// Hash of the schedule that priced this execution.
    pub schedule_hash: [u8; 32],
}
