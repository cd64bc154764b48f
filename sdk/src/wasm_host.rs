//! The wasm32 side of [`crate::env`]: thin, safe shells over the raw imports of [`crate::sys`].
//!
//! Pointers and lengths are passed as `i32`; the host reads them as unsigned, so a `usize` of
//! wasm32 converts losslessly with `as`.

use alloc::vec::Vec;

use crate::sys;
use crate::{Address, U256};

/// Values up to this length are read with one `storage_read`.
const STORAGE_READ_FIRST_BYTES: usize = 256;

fn ptr(bytes: &[u8]) -> i32 {
    bytes.as_ptr() as i32
}

fn len(bytes: &[u8]) -> i32 {
    bytes.len() as i32
}

/// Reads `len` bytes that `fill` writes to the pointer it is given.
fn read_exact(len: usize, fill: impl FnOnce(i32)) -> Vec<u8> {
    let mut buffer = Vec::with_capacity(len);
    fill(buffer.as_mut_ptr() as i32);
    // SAFETY: the host wrote exactly `len` bytes (the length it reported) into the capacity.
    unsafe { buffer.set_len(len) };
    buffer
}

pub(crate) fn input() -> Vec<u8> {
    // SAFETY: no pointer arguments.
    let input_len = unsafe { sys::input_len() } as u32 as usize;
    if input_len == 0 {
        return Vec::new();
    }
    // SAFETY: the buffer has room for the whole input.
    read_exact(input_len, |out| unsafe { sys::input_read(out) })
}

pub(crate) fn set_output(data: &[u8]) {
    // SAFETY: `data` is a live slice.
    unsafe { sys::output_set(ptr(data), len(data)) }
}

pub(crate) fn revert(data: &[u8]) -> ! {
    // SAFETY: `data` is a live slice; the host does not return.
    unsafe { sys::revert(ptr(data), len(data)) }
}

pub(crate) fn storage_read(key: &[u8]) -> Option<Vec<u8>> {
    // Read straight into the heap (no zeroed stack buffer and no copy out of it); the block is
    // the allocator's last, so shrinking it to the value gives the rest back in place.
    let mut value = Vec::with_capacity(STORAGE_READ_FIRST_BYTES);
    // SAFETY: `key` is a live slice and `value` has `val_cap` writable bytes.
    let found = unsafe {
        sys::storage_read(
            ptr(key),
            len(key),
            value.as_mut_ptr() as i32,
            STORAGE_READ_FIRST_BYTES as i32,
        )
    };
    if found < 0 {
        return None;
    }
    let value_len = found as u32 as usize;
    if value_len > STORAGE_READ_FIRST_BYTES {
        // Longer: read again into an exactly sized buffer.
        value.reserve_exact(value_len);
        // SAFETY: the buffer has `value_len` writable bytes; the value did not change in between.
        unsafe { sys::storage_read(ptr(key), len(key), value.as_mut_ptr() as i32, found) };
    }
    // SAFETY: the host wrote `value_len` bytes (all of the value) into the capacity.
    unsafe { value.set_len(value_len) };
    value.shrink_to_fit();
    Some(value)
}

pub(crate) fn storage_write(key: &[u8], value: &[u8]) {
    // SAFETY: both are live slices.
    unsafe { sys::storage_write(ptr(key), len(key), ptr(value), len(value)) }
}

pub(crate) fn storage_remove(key: &[u8]) -> bool {
    // SAFETY: `key` is a live slice.
    unsafe { sys::storage_remove(ptr(key), len(key)) == 1 }
}

/// Runs a query that writes 32 bytes to the pointer it is given (a generic, not a function
/// pointer, so the import is called directly rather than through the table).
fn read_32(query: impl FnOnce(i32)) -> [u8; 32] {
    // Not zeroed first: the host writes all of it.
    let mut out = core::mem::MaybeUninit::<[u8; 32]>::uninit();
    query(out.as_mut_ptr() as i32);
    // SAFETY: the query wrote the 32 bytes.
    unsafe { out.assume_init() }
}

pub(crate) fn caller() -> Address {
    // SAFETY: `read_32` passes 32 writable bytes.
    Address(read_32(|out| unsafe { sys::caller(out) }))
}

pub(crate) fn address() -> Address {
    // SAFETY: `read_32` passes 32 writable bytes.
    Address(read_32(|out| unsafe { sys::address(out) }))
}

pub(crate) fn value() -> U256 {
    // SAFETY: `read_32` passes 32 writable bytes.
    U256::from_le_bytes(read_32(|out| unsafe { sys::value(out) }))
}

pub(crate) fn balance(address: &Address) -> U256 {
    // SAFETY: `address` is 32 readable bytes; `read_32` passes 32 writable bytes.
    U256::from_le_bytes(read_32(|out| unsafe {
        sys::balance(ptr(address.as_bytes()), out)
    }))
}

pub(crate) fn block_height() -> u64 {
    // SAFETY: no pointer arguments.
    unsafe { sys::block_height() as u64 }
}

pub(crate) fn block_timestamp_ms() -> u64 {
    // SAFETY: no pointer arguments.
    unsafe { sys::block_timestamp() as u64 }
}

pub(crate) fn gas_left() -> u64 {
    // SAFETY: no pointer arguments.
    let left = unsafe { sys::gas_left() };
    left.max(0) as u64
}

pub(crate) fn emit_raw_event(topics: &[[u8; 32]], data: &[u8]) {
    // SAFETY: `topics` is `topics.len()` contiguous 32-byte arrays, `data` a live slice.
    unsafe {
        sys::event_emit(
            topics.as_ptr() as i32,
            topics.len() as i32,
            ptr(data),
            len(data),
        )
    }
}

pub(crate) fn debug_log(message: &str) {
    // SAFETY: `message` is a live slice.
    unsafe { sys::debug_log(ptr(message.as_bytes()), len(message.as_bytes())) }
}

pub(crate) fn blake3(data: &[u8]) -> [u8; 32] {
    // SAFETY: `data` is a live slice; `read_32` passes 32 writable bytes.
    read_32(|out| unsafe { sys::blake3(ptr(data), len(data), out) })
}

pub(crate) fn call(
    address: &Address,
    method: &str,
    input: &[u8],
    value: U256,
    gas_limit: u64,
) -> i32 {
    let value = value.to_le_bytes();
    // Above `i64::MAX` is certainly more than left: the host then gives all gas left.
    let gas_limit = i64::try_from(gas_limit).unwrap_or(i64::MAX);
    // SAFETY: every pointer is a live slice of the stated length; `value` is 32 bytes.
    unsafe {
        sys::call(
            ptr(address.as_bytes()),
            ptr(method.as_bytes()),
            len(method.as_bytes()),
            ptr(input),
            len(input),
            ptr(&value),
            gas_limit,
        )
    }
}

pub(crate) fn return_data() -> Vec<u8> {
    // SAFETY: no pointer arguments.
    let data_len = unsafe { sys::return_data_len() } as u32 as usize;
    if data_len == 0 {
        return Vec::new();
    }
    // SAFETY: the buffer has room for the whole return data.
    read_exact(data_len, |out| unsafe { sys::return_data_read(out) })
}
