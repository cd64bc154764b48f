//! Unit-test contracts natively against an in-memory mock host.
//!
//! Every [`crate::env`] function works in a plain `cargo test`: storage, balances, events, logs,
//! block data and cross-contract calls are served by a thread-local mock (each test thread starts
//! from a fresh one; [`reset`] starts over within a thread). The mock applies schedule v1's limits
//! and traps like the host. Gas is not metered: [`crate::env::gas_left`] returns a constant.
//!
//! Natively a revert unwinds: call contract code through [`catch_revert`], [`expect_revert`] or
//! [`try_run`] to observe it, or drive entry points by name with JSON exactly like the host does
//! through [`dispatch`] (the `#[contract]` macro also generates `Type::__dispatch`).
//!
//! ```
//! use opmeter_sdk::testing;
//! use opmeter_sdk::{env, Address};
//!
//! testing::set_caller(Address::repeat_byte(7));
//! assert_eq!(env::caller(), Address::repeat_byte(7));
//! let data = testing::catch_revert(|| env::revert("no")).unwrap_err();
//! assert_eq!(data, b"no");
//! ```

use std::boxed::Box;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::string::String;
use std::vec::Vec;

use crate::env::CallError;
use crate::mock::{self, Callee, RevertPayload, Stop, TrapPayload};
use crate::{Address, Contract, Event, U256};

/// The caller every test starts with.
pub const DEFAULT_CALLER: Address = Address::repeat_byte(0xaa);
/// The address of the contract under test, initially.
pub const DEFAULT_CONTRACT: Address = Address::repeat_byte(0xcc);
/// The block height every test starts with.
pub const DEFAULT_BLOCK_HEIGHT: u64 = 1;
/// The block timestamp every test starts with (2023-11-14, in milliseconds).
pub const DEFAULT_BLOCK_TIMESTAMP_MS: u64 = 1_700_000_000_000;
/// What [`crate::env::gas_left`] returns unless [`set_gas_left`] changed it.
pub const DEFAULT_GAS_LEFT: u64 = 1_000_000_000_000;

/// Declares [`TrapCode`] from one table (variant = stable code, stable name) with its `ALL` list.
/// The vm's test suite holds this copy equal to the host's, code by code and name by name.
macro_rules! trap_codes {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $name:literal; )*) => {
        /// A trap code of the host (ABI v1, stable values; `specs/abi.md`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum TrapCode {
            $( $(#[$doc])* $variant = $code, )*
        }

        impl TrapCode {
            /// Every trap code, in code order.
            pub const ALL: &'static [TrapCode] = &[$(TrapCode::$variant),*];

            /// The host's stable name (`stackOverflow`, …).
            pub fn name(self) -> &'static str {
                match self { $(TrapCode::$variant => $name,)* }
            }
        }
    };
}

trap_codes! {
    /// `unreachable` executed.
    Unreachable = 1, "unreachable";
    /// Load/store outside memory.
    MemoryOutOfBounds = 2, "memoryOutOfBounds";
    /// `call_indirect` index outside the table.
    TableOutOfBounds = 3, "tableOutOfBounds";
    /// `call_indirect` to an uninitialised element.
    IndirectCallToNull = 4, "indirectCallToNull";
    /// Integer division by zero.
    IntegerDivisionByZero = 5, "integerDivisionByZero";
    /// `i32.div_s` of `MIN / -1`.
    IntegerOverflow = 6, "integerOverflow";
    /// `trunc` of NaN or an out-of-range float.
    BadConversionToInteger = 7, "badConversionToInteger";
    /// The engine's recursion or value-stack limit.
    StackOverflow = 8, "stackOverflow";
    /// `call_indirect` type mismatch.
    BadSignature = 9, "badSignature";
    /// `memory.grow` beyond the page limit.
    MemoryLimit = 10, "memoryLimit";
    /// A `call` beyond `max_call_depth`.
    CallDepthExceeded = 11, "callDepthExceeded";
    /// Output or revert data above the limit.
    OutputTooLarge = 12, "outputTooLarge";
    /// Storage key above the limit.
    KeyTooLarge = 13, "keyTooLarge";
    /// Storage value above the limit.
    ValueTooLarge = 14, "valueTooLarge";
    /// Too many events or topics, or event data too large.
    EventLimit = 15, "eventLimit";
    /// No such entry point.
    MethodNotFound = 16, "methodNotFound";
    /// A host function was given a range outside memory.
    HostMemoryOutOfBounds = 17, "hostMemoryOutOfBounds";
    /// A `call` method name that is not UTF-8 or too long.
    InvalidMethodName = 18, "invalidMethodName";
    /// The top-level call's value exceeds the caller's balance.
    InsufficientBalance = 19, "insufficientBalance";
    /// A `call` input above the limit.
    InputTooLarge = 20, "inputTooLarge";
    /// No contract at the called address.
    ContractNotFound = 21, "contractNotFound";
    /// A deployment to an address that already holds a contract.
    ContractExists = 22, "contractExists";
}

impl TrapCode {
    /// The stable code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// How contract code run under [`try_run`] stopped early.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// It reverted with this data (panics revert with their message, as on wasm).
    Revert(Vec<u8>),
    /// It trapped.
    Trap(TrapCode),
}

/// An event recorded by the mock host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmittedEvent {
    /// The contract that emitted it.
    pub contract: Address,
    /// Its topics (topic 0 names the event for typed events).
    pub topics: Vec<[u8; 32]>,
    /// Its data.
    pub data: Vec<u8>,
}

impl EmittedEvent {
    /// Whether this is exactly `event` (same topics and data).
    pub fn is<E: Event>(&self, event: &E) -> bool {
        self.topics == event.topics() && self.data == event.data()
    }
}

/// Starts over with a fresh mock host on this thread.
pub fn reset() {
    mock::with(|host| *host = mock::MockHost::new());
}

/// Sets the caller seen by the contract under test.
pub fn set_caller(caller: Address) {
    mock::with(|host| host.frame_mut().caller = caller);
}

/// Sets the address of the contract under test (its storage namespace).
pub fn set_address(address: Address) {
    mock::with(|host| host.frame_mut().address = address);
}

/// Sets the value attached to the call under test (balances are not moved).
pub fn set_value(value: U256) {
    mock::with(|host| host.frame_mut().value = value);
}

/// Sets the raw input of the call under test.
pub fn set_input(input: impl Into<Vec<u8>>) {
    let input = input.into();
    mock::with(|host| host.frame_mut().input = input);
}

/// Sets the block height.
pub fn set_block_height(height: u64) {
    mock::with(|host| host.block_height = height);
}

/// Sets the block timestamp, in milliseconds since the Unix epoch.
pub fn set_block_timestamp_ms(timestamp_ms: u64) {
    mock::with(|host| host.block_timestamp_ms = timestamp_ms);
}

/// Sets what [`crate::env::gas_left`] returns.
pub fn set_gas_left(gas: u64) {
    mock::with(|host| host.gas_left = gas);
}

/// Sets the balance of any address.
pub fn set_balance(address: Address, balance: U256) {
    mock::with(|host| host.balances.insert(address, balance));
}

/// The output set by the contract under test (outside [`dispatch`], which returns it).
pub fn output() -> Vec<u8> {
    mock::with(|host| host.frame().output.clone())
}

/// Every event kept so far (events of reverted frames are discarded), oldest first.
pub fn events() -> Vec<EmittedEvent> {
    mock::with(|host| host.events.clone())
}

/// Forgets the recorded events.
pub fn clear_events() {
    mock::with(|host| host.events.clear());
}

/// Whether `event` was emitted (by any contract).
pub fn has_event<E: Event>(event: &E) -> bool {
    mock::with(|host| host.events.iter().any(|emitted| emitted.is(event)))
}

/// Every debug line so far.
pub fn logs() -> Vec<String> {
    mock::with(|host| host.logs.clone())
}

/// The storage of the contract under test.
pub fn storage() -> BTreeMap<Vec<u8>, Vec<u8>> {
    let address = mock::with(|host| host.frame().address);
    storage_of(&address)
}

/// The storage of any contract.
pub fn storage_of(address: &Address) -> BTreeMap<Vec<u8>, Vec<u8>> {
    mock::with(|host| host.storage.get(address).cloned().unwrap_or_default())
}

/// Makes contract `C` (compiled into the test) answer calls to `address`.
pub fn register_contract<C: Contract>(address: Address) {
    mock::with(|host| {
        host.contracts
            .insert(address, Callee::Contract(C::ENTRY_POINTS))
    });
}

/// Makes a closure `(method, input) -> output` answer calls to `address`. It runs in the callee's
/// frame, so `env` functions inside see the callee's context.
pub fn register_handler(
    address: Address,
    handler: impl Fn(&str, &[u8]) -> Result<Vec<u8>, CallError> + 'static,
) {
    mock::with(|host| {
        host.contracts
            .insert(address, Callee::Handler(Rc::new(handler)))
    });
}

/// Runs entry point `method` of `C` with raw `input` as the top-level call, like the host: on
/// failure its writes and events are rolled back.
///
/// # Errors
///
/// [`Failure::Revert`] with the revert data, [`Failure::Trap`] on a trap (including
/// [`TrapCode::MethodNotFound`] for an unknown method).
pub fn try_dispatch<C: Contract>(method: &str, input: &[u8]) -> Result<Vec<u8>, Failure> {
    let Some(entry) = C::ENTRY_POINTS.iter().find(|entry| entry.name == method) else {
        return Err(Failure::Trap(TrapCode::MethodNotFound));
    };
    let input = input.to_vec();
    mock::with(|host| host.frame_mut().input = input);
    let result = mock::run_frame(
        None,
        |_| Ok(()),
        || {
            (entry.run)();
            Ok(())
        },
    );
    match result {
        Ok(output) => Ok(output),
        Err(Stop::Revert(data)) => Err(Failure::Revert(data)),
        Err(Stop::Trap(code)) => Err(Failure::Trap(code)),
        Err(Stop::Status(status, _)) => unreachable!("a top-level call has no {status:?} status"),
    }
}

/// [`try_dispatch`], for calls that are not expected to trap.
///
/// # Errors
///
/// The revert data if the call reverted.
///
/// # Panics
///
/// If the call trapped (e.g. the method does not exist).
pub fn dispatch<C: Contract>(method: &str, input: &[u8]) -> Result<Vec<u8>, Vec<u8>> {
    match try_dispatch::<C>(method, input) {
        Ok(output) => Ok(output),
        Err(Failure::Revert(data)) => Err(data),
        Err(Failure::Trap(code)) => panic!("contract trapped: {code:?} calling {method}"),
    }
}

std::thread_local! {
    /// How many [`try_run`] calls are catching on this thread (the panic hook stays quiet then).
    static CATCHING: Cell<usize> = const { Cell::new(0) };
}

/// Runs contract code and reports a revert or trap instead of unwinding.
///
/// A plain Rust panic becomes [`Failure::Revert`] with its message, as the sdk's panic handler
/// does on wasm.
///
/// # Errors
///
/// How the code stopped early.
pub fn try_run<T>(f: impl FnOnce() -> T) -> Result<T, Failure> {
    install_panic_hook();
    CATCHING.with(|catching| catching.set(catching.get() + 1));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|catching| catching.set(catching.get() - 1));
    result.map_err(|payload| {
        let payload = match payload.downcast::<RevertPayload>() {
            Ok(revert) => return Failure::Revert(revert.0),
            Err(payload) => payload,
        };
        let payload = match payload.downcast::<TrapPayload>() {
            Ok(trap) => return Failure::Trap(trap.0),
            Err(payload) => payload,
        };
        let payload = match payload.downcast::<&'static str>() {
            Ok(message) => return Failure::Revert(message.as_bytes().to_vec()),
            Err(payload) => payload,
        };
        match payload.downcast::<String>() {
            Ok(message) => Failure::Revert(message.into_bytes()),
            Err(payload) => panic::resume_unwind(payload),
        }
    })
}

/// Runs contract code and returns its revert data if it reverted. Traps keep unwinding.
///
/// # Errors
///
/// The revert data.
pub fn catch_revert<T>(f: impl FnOnce() -> T) -> Result<T, Vec<u8>> {
    match try_run(f) {
        Ok(value) => Ok(value),
        Err(Failure::Revert(data)) => Err(data),
        Err(Failure::Trap(code)) => panic::panic_any(TrapPayload(code)),
    }
}

/// Runs contract code that must revert and returns the revert message (lossy UTF-8).
///
/// # Panics
///
/// If the code did not revert.
pub fn expect_revert<T>(f: impl FnOnce() -> T) -> String {
    match catch_revert(f) {
        Ok(_) => panic!("expected a revert, but the call succeeded"),
        Err(data) => String::from_utf8_lossy(&data).into_owned(),
    }
}

/// Installs (once per process) a panic hook that keeps reverts caught by [`try_run`] quiet and
/// prints uncaught reverts and traps readably.
pub(crate) fn install_panic_hook() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if CATCHING.with(Cell::get) > 0 {
                return;
            }
            if let Some(RevertPayload(data)) = info.payload().downcast_ref() {
                std::eprintln!("contract reverted: {}", String::from_utf8_lossy(data));
            } else if let Some(TrapPayload(code)) = info.payload().downcast_ref() {
                std::eprintln!("contract trapped: {code:?}");
            } else {
                previous(info);
            }
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::{self, CallStatus};

    #[test]
    fn calls_reach_handlers_in_the_callee_frame() {
        let callee = Address::repeat_byte(0x22);
        register_handler(callee, move |method, input| {
            assert_eq!(env::caller(), DEFAULT_CONTRACT);
            assert_eq!(env::address(), Address::repeat_byte(0x22));
            env::storage_write(b"seen", method.as_bytes());
            match method {
                "echo" => Ok(input.to_vec()),
                _ => env::revert("nope"),
            }
        });
        set_balance(DEFAULT_CONTRACT, U256::from(10u8));

        let output = env::call(&callee, "echo", b"hi", U256::from(3u8), 0);
        assert_eq!(output, Ok(b"hi".to_vec()));
        assert_eq!(env::return_data(), b"hi");
        assert_eq!(env::balance(&callee), U256::from(3u8));
        assert_eq!(
            storage_of(&callee).get(b"seen".as_slice()).unwrap(),
            b"echo"
        );

        // A reverting callee: its write and the value move are rolled back.
        let error = env::call(&callee, "other", b"", U256::from(3u8), 0).unwrap_err();
        assert_eq!(error.status, CallStatus::Revert);
        assert_eq!(error.message(), "nope");
        assert_eq!(env::balance(&callee), U256::from(3u8));
        assert_eq!(
            storage_of(&callee).get(b"seen".as_slice()).unwrap(),
            b"echo"
        );

        let poor = env::call(&callee, "echo", b"", U256::from(100u8), 0).unwrap_err();
        assert_eq!(poor.status, CallStatus::InsufficientBalance);
        let missing = env::call(&Address::ZERO, "echo", b"", U256::ZERO, 0).unwrap_err();
        assert_eq!(missing.status, CallStatus::ContractNotFound);
    }

    #[test]
    fn limits_trap_like_the_host() {
        let big = std::vec![0u8; 64 * 1024 + 1];
        assert_eq!(
            try_run(|| env::set_output(&big)),
            Err(Failure::Trap(TrapCode::OutputTooLarge))
        );
        assert_eq!(
            try_run(|| env::storage_write(&[0; 257], b"")),
            Err(Failure::Trap(TrapCode::KeyTooLarge))
        );
        assert_eq!(
            try_run(|| env::emit_raw_event(&[[0; 32]; 5], b"")),
            Err(Failure::Trap(TrapCode::EventLimit))
        );
        assert_eq!(
            try_run(|| panic!("boom")),
            Err(Failure::Revert(b"boom".to_vec()))
        );
        assert_eq!(
            expect_revert(|| U256::MAX + U256::ONE),
            "U256 addition: overflow"
        );
    }
}
