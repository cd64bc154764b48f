//! The call's input and output: `input_len`, `input_read`, `output_set`, `revert`.

use super::memory::{len_u64, read_bytes, write_bytes};
use super::{abort, charge_host, schedule_of, trap, Ctx, HostAbort, HostResult};
use crate::abi::HostFn;
use crate::types::TrapCode;

/// `input_len() -> i32`
pub(super) fn input_len(mut caller: Ctx<'_>) -> HostResult<i32> {
    charge_host(&mut caller, HostFn::InputLen, 0)?;
    Ok(caller.data().frame.input.len() as i32)
}

/// `input_read(ptr)`: the whole input, charged per byte.
pub(super) fn input_read(mut caller: Ctx<'_>, ptr: i32) -> HostResult<()> {
    let len = caller.data().frame.input.len() as u64;
    charge_host(&mut caller, HostFn::InputRead, len)?;
    let input = std::mem::take(&mut caller.data_mut().frame.input);
    let result = write_bytes(&mut caller, ptr, &input);
    caller.data_mut().frame.input = input;
    result
}

/// Output and revert data above `max_output_len_bytes` trap before anything is charged.
fn check_output_len(caller: &Ctx<'_>, len: i32) -> HostResult<()> {
    if len_u64(len) > u64::from(schedule_of(caller)?.limits.max_output_len_bytes) {
        return Err(trap(TrapCode::OutputTooLarge));
    }
    Ok(())
}

/// `output_set(ptr, len)`: replaces the frame's output.
pub(super) fn output_set(mut caller: Ctx<'_>, ptr: i32, len: i32) -> HostResult<()> {
    check_output_len(&caller, len)?;
    charge_host(&mut caller, HostFn::OutputSet, len_u64(len))?;
    let output = read_bytes(&caller, ptr, len)?;
    caller.data_mut().frame.output = output;
    Ok(())
}

/// `revert(ptr, len)`: stops the frame with revert data.
pub(super) fn revert(mut caller: Ctx<'_>, ptr: i32, len: i32) -> HostResult<()> {
    check_output_len(&caller, len)?;
    charge_host(&mut caller, HostFn::Revert, len_u64(len))?;
    let data = read_bytes(&caller, ptr, len)?;
    Err(abort(HostAbort::Revert(data)))
}
