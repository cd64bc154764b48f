//! Safe wrappers of the whole host ABI v1.
//!
//! On wasm32 each function calls the matching import of `crate::sys`; natively it talks to the
//! thread-local mock host that [`crate::testing`] configures. Both behave the same as far as a
//! contract can tell.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::{Address, U256};

#[cfg(not(target_arch = "wasm32"))]
use crate::mock as imp;
#[cfg(target_arch = "wasm32")]
use crate::wasm_host as imp;

/// The whole input of this call.
pub fn input() -> Vec<u8> {
    imp::input()
}

/// Sets the output of this call (replaces a previous one).
///
/// Output above the schedule's `max_output_len_bytes` traps with `OutputTooLarge` (12).
pub fn set_output(data: &[u8]) {
    imp::set_output(data)
}

/// Stops the call with status `revert` and `data` as revert data; this call's storage writes and
/// events are discarded. Never returns.
///
/// Natively this unwinds with a payload that [`crate::testing::catch_revert`] turns back into the
/// revert data.
pub fn revert(data: impl AsRef<[u8]>) -> ! {
    imp::revert(data.as_ref())
}

/// The value stored under `key` in this contract's storage, if any.
pub fn storage_read(key: &[u8]) -> Option<Vec<u8>> {
    imp::storage_read(key)
}

/// Stores `value` under `key` in this contract's storage.
///
/// Keys above `max_storage_key_len_bytes` trap with `KeyTooLarge` (13), values above
/// `max_storage_value_len_bytes` with `ValueTooLarge` (14).
pub fn storage_write(key: &[u8], value: &[u8]) {
    imp::storage_write(key, value)
}

/// Deletes `key` from this contract's storage; whether it existed.
pub fn storage_remove(key: &[u8]) -> bool {
    imp::storage_remove(key)
}

/// Whether `key` is present in this contract's storage (reads the value: costs a read).
pub fn storage_has(key: &[u8]) -> bool {
    storage_read(key).is_some()
}

/// The immediate caller: the account that signed the transaction or the calling contract.
pub fn caller() -> Address {
    imp::caller()
}

/// This contract's address.
pub fn address() -> Address {
    imp::address()
}

/// The value attached to this call (already credited to this contract).
pub fn value() -> U256 {
    imp::value()
}

/// The balance of any address, as seen by this execution.
pub fn balance(address: &Address) -> U256 {
    imp::balance(address)
}

/// Height of the block being executed.
pub fn block_height() -> u64 {
    imp::block_height()
}

/// Timestamp of the block being executed, in milliseconds since the Unix epoch (set by the block
/// producer; never the wall clock).
pub fn block_timestamp_ms() -> u64 {
    imp::block_timestamp_ms()
}

/// Gas remaining in this call frame.
pub fn gas_left() -> u64 {
    imp::gas_left()
}

/// Emits an event with raw topics and data. Prefer [`crate::Event::emit`].
///
/// More than `max_event_topics` topics, data above `max_event_data_len_bytes` or more than
/// `max_events_per_call` events trap with `EventLimit` (15).
pub fn emit_raw_event(topics: &[[u8; 32]], data: &[u8]) {
    imp::emit_raw_event(topics, data)
}

/// Writes a debug line (returned with the result, never consensus data; still charged).
pub fn debug_log(message: &str) {
    imp::debug_log(message)
}

/// The BLAKE3 hash of `data`, computed by the host.
pub fn blake3(data: &[u8]) -> [u8; 32] {
    imp::blake3(data)
}

/// Synchronously calls `method` of the contract at `address` with raw `input`, transferring
/// `value` from this contract. `gas_limit` is the most the callee may use; `0` means all gas left.
///
/// # Errors
///
/// A [`CallError`] with the call status when the callee did not succeed; it carries the callee's
/// revert data for [`CallStatus::Revert`]. The callee's writes, balance changes and events are then
/// discarded, but this contract continues.
///
/// A call nested deeper than `max_call_depth` traps the whole execution (`CallDepthExceeded`, 11);
/// that cannot be caught.
pub fn call(
    address: &Address,
    method: &str,
    input: &[u8],
    value: U256,
    gas_limit: u64,
) -> Result<Vec<u8>, CallError> {
    let status = imp::call(address, method, input, value, gas_limit);
    let data = return_data();
    match CallStatus::from_code(status) {
        None => Ok(data),
        Some(status) => Err(CallError { status, data }),
    }
}

/// Calls `method` with `args` encoded as the JSON object of named parameters (a struct with
/// `#[derive(JsonEncode)]`) and decodes the JSON result: the sdk's calling convention. Use `()` as
/// `R` for a method that returns nothing.
///
/// # Errors
///
/// As [`call`]. If the callee's output does not decode as `R`, this call reverts instead (the
/// callee broke its interface; there is no call status for that).
pub fn call_json<A, R>(
    address: &Address,
    method: &str,
    args: &A,
    value: U256,
    gas_limit: u64,
) -> Result<R, CallError>
where
    A: crate::json::JsonEncode + ?Sized,
    R: crate::json::JsonDecode,
{
    let input = crate::json::to_vec(args);
    let output = call(address, method, &input, value, gas_limit)?;
    let text: &[u8] = if output.is_empty() { b"null" } else { &output };
    Ok(crate::json::from_slice(text).unwrap_or_else(|error| {
        let mut message = Vec::new();
        crate::json::put(&mut message, b"cannot decode result of ");
        crate::json::put(&mut message, method.as_bytes());
        crate::json::put(&mut message, b": ");
        error.write_to(&mut message);
        revert(message)
    }))
}

/// The return data of the last [`call`]: the callee's output on success, its revert data on
/// revert, empty before any call.
pub fn return_data() -> Vec<u8> {
    imp::return_data()
}

/// How a cross-contract call failed (ABI *call status*, codes `1..=6`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum CallStatus {
    /// The callee reverted; the error carries its revert data.
    Revert = 1,
    /// The callee trapped.
    Trap = 2,
    /// The callee ran out of gas.
    OutOfGas = 3,
    /// No contract at that address.
    ContractNotFound = 4,
    /// The callee has no such method.
    MethodNotFound = 5,
    /// This contract's balance is below the value to transfer.
    InsufficientBalance = 6,
}

impl CallStatus {
    /// The failure for an ABI status code; `None` for `0` (success).
    ///
    /// ABI v1 defines no other codes: an unknown one reverts this call rather than guessing.
    pub fn from_code(code: i32) -> Option<CallStatus> {
        match code {
            0 => None,
            1 => Some(CallStatus::Revert),
            2 => Some(CallStatus::Trap),
            3 => Some(CallStatus::OutOfGas),
            4 => Some(CallStatus::ContractNotFound),
            5 => Some(CallStatus::MethodNotFound),
            6 => Some(CallStatus::InsufficientBalance),
            other => {
                let mut message = Vec::new();
                crate::json::put(&mut message, b"unknown call status ");
                crate::json::write_i64(&mut message, i64::from(other));
                revert(message)
            }
        }
    }

    /// The ABI status code.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// A short lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            CallStatus::Revert => "revert",
            CallStatus::Trap => "trap",
            CallStatus::OutOfGas => "out of gas",
            CallStatus::ContractNotFound => "contract not found",
            CallStatus::MethodNotFound => "method not found",
            CallStatus::InsufficientBalance => "insufficient balance",
        }
    }
}

/// A failed cross-contract [`call`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallError {
    /// Why it failed.
    pub status: CallStatus,
    /// The callee's revert data (empty unless `status` is [`CallStatus::Revert`]).
    pub data: Vec<u8>,
}

impl CallError {
    /// The revert data as text (lossy UTF-8).
    pub fn message(&self) -> String {
        let mut text = Vec::new();
        crate::storage::push_lossy(&mut text, &self.data);
        crate::utf8::to_string(text).unwrap_or_default()
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "call failed: {}", self.status.name())?;
        if !self.data.is_empty() {
            write!(f, ": {}", String::from_utf8_lossy(&self.data))?;
        }
        Ok(())
    }
}
