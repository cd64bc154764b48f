//! # opmeter-vm
//!
//! Opmeter's deterministic, gas-metered WebAssembly virtual machine: validation of uploaded
//! code, gas injection, a deterministic `wasmi` engine, the host ABI v1 and exact gas accounting.
//! It never touches a database, a network, JSON or the clock: state reaches it through the
//! [`StateView`] trait.
//!
//! ```text
//! upload ─▶ validate ─▶ instrument (gas injection) ─▶ compile (cached) ─▶ instantiate ─▶ call
//!                                                                          │   host ABI ▲
//!                                                      StateView ─▶ Journal ◀──────────┘
//!                                                                          ▼
//!                                          Outcome { status, output, gas, breakdown, events, writes }
//! ```
//!
//! ```
//! use std::sync::Arc;
//! use opmeter_vm::{Address, BlockContext, CallRequest, MemoryState, Schedule, Status, Vm, U256};
//!
//! let wasm = wat::parse_str(r#"(module
//!   (import "opmeter" "block_height" (func $h (result i64)))
//!   (memory (export "memory") 1)
//!   (func (export "run") (drop (call $h))))"#).unwrap();
//! let vm = Vm::new(Schedule::v1());
//! vm.validate(&wasm).expect("valid");
//! let mut state = MemoryState::default();
//! state.put_contract(Address([2; 32]), &wasm);
//! let call = CallRequest { caller: Address([1; 32]), contract: Address([2; 32]),
//!     method: "run".into(), input: vec![], value: U256::zero(), gas_limit: 10_000 };
//! let outcome = vm.execute(Arc::new(state), BlockContext::default(), call).unwrap();
//! assert_eq!(outcome.status, Status::Success);
//! assert_eq!(outcome.gas_used, outcome.breakdown_total());
//! ```
//!
//! | piece | module |
//! |---|---|
//! | costs and limits | [`schedule`] |
//! | the host ABI table | [`abi`] |
//! | upload checks | [`validate`](mod@validate) |
//! | gas injection | [`instrument`](mod@instrument) |
//! | engines and caches, call frames, the gas meter, host functions | [`Vm`], [`DeployRequest`] |
//! | exact gas traces ([`Vm::execute_traced`], [`Vm::deploy_traced`]) | [`trace`](mod@trace) |
//! | calls of provable exports ([`Vm::call_provable`]) and their charges ([`instrument::charge_sites`]) | [`Vm`], [`instrument`](mod@instrument) |

pub mod abi;
mod exec;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod instrument;
mod outcome;
pub mod schedule;
mod state;
pub mod trace;
mod types;
pub mod validate;
pub mod warm_set;

pub use abi::{GasCategory, HostFn, PROVABLE_EXPORT_PREFIX};
#[doc(hidden)]
pub use exec::{engine_config, store_limits};
pub use exec::{
    CacheStats, DeployRequest, Interrupt, PreparedCode, Vm, VmConfig, INTERRUPT_FUEL_SLICE,
    MAX_GAS_LIMIT,
};
pub use instrument::{Charge, Metering};
pub use outcome::{Outcome, ProvableOutcome, VmError};
pub use schedule::{
    CodeLoadCosts, HostCost, HostCosts, InstructionCosts, Limits, Schedule, TransactionCosts,
};
pub use state::{MemoryState, StateError, StateView};
pub use trace::{
    BlockStat, FrameTrace, FunctionTrace, HostTrace, Trace, TraceEntry, TraceMismatch, TraceOptions,
};
pub use types::{
    Address, BlockContext, CallRequest, CodeHash, Event, Status, TrapCode, WriteSet, U256,
};
pub use validate::{Rule, ValidationReport, Violation};

/// Parses WebAssembly text or passes binary through (`\0asm` magic), for tools and tests.
///
/// # Errors
/// The `wat` parser's message.
pub fn wasm_from_text_or_binary(bytes: &[u8]) -> Result<Vec<u8>, String> {
    if bytes.starts_with(b"\0asm") {
        return Ok(bytes.to_vec());
    }
    wat::parse_bytes(bytes)
        .map(|cow| cow.into_owned())
        .map_err(|e| e.to_string())
}
