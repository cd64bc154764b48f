//! Cross-contract calls: `call`, `return_data_len`, `return_data_read`. A callee runs as a new
//! frame of the same execution (its gas comes out of the caller's counter); its return data
//! stays readable until the next `call`.

use super::memory::{len_u64, read_32, read_bytes, write_bytes};
use super::u256::from_bytes;
use super::{charge_host, fatal, gas_left, schedule_of, set_gas_left, trap, Ctx, HostResult};
use crate::abi::HostFn;
use crate::exec::frame::{run_frame, FrameArgs, FrameResult};
use crate::outcome::VmError;
use crate::types::{Address, Status, TrapCode};

/// The guest arguments of `call(addr, method_ptr, method_len, input_ptr, input_len, value_ptr,
/// gas_limit) -> i32`.
pub(super) struct CallArgs {
    pub(super) addr_ptr: i32,
    pub(super) method_ptr: i32,
    pub(super) method_len: i32,
    pub(super) input_ptr: i32,
    pub(super) input_len: i32,
    pub(super) value_ptr: i32,
    /// 0 (or more than is left) gives the callee everything left.
    pub(super) gas_limit: i64,
}

/// Call status codes returned to the calling contract (see `specs/abi.md`).
fn call_status(status: Status) -> i32 {
    match status {
        Status::Success => 0,
        Status::Revert => 1,
        Status::OutOfGas => 3,
        Status::Trap(TrapCode::ContractNotFound) => 4,
        Status::Trap(TrapCode::MethodNotFound) => 5,
        Status::Trap(TrapCode::InsufficientBalance) => 6,
        Status::Trap(_) => 2,
    }
}

/// `call(…) -> i32`: limits checked, charged per byte of method name and input, then the callee
/// runs with at most the gas left; its status code is returned.
pub(super) fn call(mut caller: Ctx<'_>, args: CallArgs) -> HostResult<i32> {
    let (max_depth, max_method, max_input) = {
        let limits = &schedule_of(&caller)?.limits;
        (
            limits.max_call_depth,
            limits.max_method_name_len_bytes,
            limits.max_input_len_bytes,
        )
    };
    if len_u64(args.method_len) > u64::from(max_method) {
        return Err(trap(TrapCode::InvalidMethodName));
    }
    if len_u64(args.input_len) > u64::from(max_input) {
        return Err(trap(TrapCode::InputTooLarge));
    }
    charge_host(
        &mut caller,
        HostFn::Call,
        len_u64(args.method_len) + len_u64(args.input_len),
    )?;
    let depth = caller.data().frame.depth;
    if depth >= max_depth {
        return Err(trap(TrapCode::CallDepthExceeded));
    }
    let contract = Address(read_32(&caller, args.addr_ptr)?);
    let method = String::from_utf8(read_bytes(&caller, args.method_ptr, args.method_len)?)
        .map_err(|_| trap(TrapCode::InvalidMethodName))?;
    let input = read_bytes(&caller, args.input_ptr, args.input_len)?;
    let value = from_bytes(&read_32(&caller, args.value_ptr)?);
    let left = gas_left(&caller)?;
    let requested = args.gas_limit as u64;
    let child_limit = if requested == 0 || requested > left {
        left
    } else {
        requested
    };
    let mut exec = caller
        .data_mut()
        .exec
        .take()
        .ok_or_else(|| fatal(VmError::GasAccounting("execution state missing".into())))?;
    let frame_args = FrameArgs {
        caller: caller.data().frame.contract,
        contract,
        method,
        input,
        value,
        gas_limit: child_limit,
        depth: depth + 1,
    };
    if let Some(tracer) = exec.meter.tracer() {
        tracer.call_begin().map_err(fatal)?;
    }
    let (mut exec, result): (_, FrameResult) = run_frame(exec, frame_args).map_err(fatal)?;
    let remaining = left.checked_sub(result.gas_used).ok_or_else(|| {
        fatal(VmError::GasAccounting(
            "callee used more than its limit".into(),
        ))
    })?;
    if let Some(tracer) = exec.meter.tracer() {
        tracer.call_end(result.gas_used, remaining).map_err(fatal)?;
    }
    caller.data_mut().exec = Some(exec);
    set_gas_left(&mut caller, remaining)?;
    let frame = &mut caller.data_mut().frame;
    frame.children_used = frame
        .children_used
        .checked_add(result.gas_used)
        .ok_or_else(|| fatal(VmError::GasAccounting("callee gas overflows".into())))?;
    if result.status == Status::Trap(TrapCode::CallDepthExceeded) {
        // A depth bomb cannot be caught: it ends the whole execution the same way every time.
        return Err(trap(TrapCode::CallDepthExceeded));
    }
    let status = call_status(result.status);
    frame.return_data = match result.status {
        Status::Success | Status::Revert => result.output,
        Status::Trap(_) | Status::OutOfGas => Vec::new(),
    };
    Ok(status)
}

/// `return_data_len() -> i32`: of the last `call`.
pub(super) fn return_data_len(mut caller: Ctx<'_>) -> HostResult<i32> {
    charge_host(&mut caller, HostFn::ReturnDataLen, 0)?;
    Ok(caller.data().frame.return_data.len() as i32)
}

/// `return_data_read(ptr)`: all of it, charged per byte.
pub(super) fn return_data_read(mut caller: Ctx<'_>, ptr: i32) -> HostResult<()> {
    let len = caller.data().frame.return_data.len() as u64;
    charge_host(&mut caller, HostFn::ReturnDataRead, len)?;
    let data = std::mem::take(&mut caller.data_mut().frame.return_data);
    let result = write_bytes(&mut caller, ptr, &data);
    caller.data_mut().frame.return_data = data;
    result
}
