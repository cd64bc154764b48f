//! What a frame may ask about its context: `caller`, `address`, `value`, `block_height`,
//! `block_timestamp`, `balance`, `gas_left`.

use super::memory::{read_32, write_bytes};
use super::u256::to_bytes;
use super::{charge_host, exec_ref, fatal, gas_left as frame_gas_left, Ctx, HostResult};
use crate::abi::HostFn;
use crate::types::Address;

/// `caller(out_ptr)`: the frame's immediate caller.
pub(super) fn caller(mut caller: Ctx<'_>, out_ptr: i32) -> HostResult<()> {
    charge_host(&mut caller, HostFn::Caller, 0)?;
    let address = caller.data().frame.caller;
    write_bytes(&mut caller, out_ptr, &address.0)
}

/// `address(out_ptr)`: the running contract.
pub(super) fn address(mut caller: Ctx<'_>, out_ptr: i32) -> HostResult<()> {
    charge_host(&mut caller, HostFn::Address, 0)?;
    let address = caller.data().frame.contract;
    write_bytes(&mut caller, out_ptr, &address.0)
}

/// `value(out_ptr)`: the value attached to this frame (little-endian 256 bits).
pub(super) fn value(mut caller: Ctx<'_>, out_ptr: i32) -> HostResult<()> {
    charge_host(&mut caller, HostFn::Value, 0)?;
    let value = caller.data().frame.value;
    write_bytes(&mut caller, out_ptr, &to_bytes(value))
}

/// `block_height() -> i64`
pub(super) fn block_height(mut caller: Ctx<'_>) -> HostResult<i64> {
    charge_host(&mut caller, HostFn::BlockHeight, 0)?;
    Ok(exec_ref(&caller)?.block.height as i64)
}

/// `block_timestamp() -> i64`: milliseconds, from the block header (never a clock).
pub(super) fn block_timestamp(mut caller: Ctx<'_>) -> HostResult<i64> {
    charge_host(&mut caller, HostFn::BlockTimestamp, 0)?;
    Ok(exec_ref(&caller)?.block.timestamp_ms as i64)
}

/// `balance(addr_ptr, out_ptr)`: an account's balance as this execution sees it.
pub(super) fn balance(mut caller: Ctx<'_>, addr_ptr: i32, out_ptr: i32) -> HostResult<()> {
    charge_host(&mut caller, HostFn::Balance, 0)?;
    let account = Address(read_32(&caller, addr_ptr)?);
    let balance = exec_ref(&caller)?
        .journal
        .balance(&account)
        .map_err(fatal)?;
    write_bytes(&mut caller, out_ptr, &to_bytes(balance))
}

/// `gas_left() -> i64`: after its own charge.
pub(super) fn gas_left(mut caller: Ctx<'_>) -> HostResult<i64> {
    charge_host(&mut caller, HostFn::GasLeft, 0)?;
    Ok(frame_gas_left(&caller)? as i64)
}
