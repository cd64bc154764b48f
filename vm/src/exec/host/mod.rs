//! The host ABI v1: one function per [`HostFn`], grouped by area, and the tracer's hooks.
//!
//! | room | functions |
//! |---|---|
//! | [`io`] | `input_len`, `input_read`, `output_set`, `revert` |
//! | [`storage`] | `storage_read`, `storage_write`, `storage_remove` |
//! | [`context`] | `caller`, `address`, `value`, `block_height`, `block_timestamp`, `balance`, `gas_left` |
//! | [`events`] | `event_emit`, `debug_log` |
//! | [`crypto`] | `blake3` |
//! | [`u256`] | `u256_add`, `u256_sub`, `u256_mul`, `u256_div`, `u256_mod`, `u256_pow` |
//! | [`calls`] | `call`, `return_data_len`, `return_data_read` |
//! | [`memory`] | guest memory access shared by all of them |
//! | [`trace_hooks`] | `opmeter_trace.enter/exit/block` (traced executions only) |
//!
//! Every host function starts the same way: checks of its arguments against the schedule's
//! limits (no work yet), then [`charge_host`] (the meter), then the work. Further charges of the
//! same function (bytes copied, storage bytes, topics) go through [`charge`], also before the
//! work they pay for.

mod calls;
mod context;
mod crypto;
mod events;
mod io;
mod memory;
mod storage;
mod trace_hooks;
mod u256;

use std::fmt;

use wasmi::errors::HostError;
use wasmi::{Caller, Linker, Val};

pub(super) use trace_hooks::define_trace_functions;

use super::frame::{Exec, GasCell, HostState};
use super::meter::price;
use crate::abi::{GasCategory, HostFn, HOST_MODULE};
use crate::outcome::VmError;
use crate::schedule::Schedule;
use crate::trace::Tracer;
use crate::types::TrapCode;

type Ctx<'a> = Caller<'a, HostState>;
type HostResult<T> = Result<T, wasmi::Error>;

/// Why a host function stopped the guest.
#[derive(Debug)]
pub(super) enum HostAbort {
    Revert(Vec<u8>),
    Trap(TrapCode),
    OutOfGas,
    Fatal(VmError),
}

impl fmt::Display for HostAbort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostAbort::Revert(data) => write!(f, "revert ({} bytes)", data.len()),
            HostAbort::Trap(code) => write!(f, "trap {}", code.name()),
            HostAbort::OutOfGas => f.write_str("out of gas"),
            HostAbort::Fatal(e) => write!(f, "node fault: {e}"),
        }
    }
}

impl HostError for HostAbort {}

fn abort(reason: HostAbort) -> wasmi::Error {
    wasmi::Error::host(reason)
}

fn trap(code: TrapCode) -> wasmi::Error {
    abort(HostAbort::Trap(code))
}

fn fatal(error: impl Into<VmError>) -> wasmi::Error {
    abort(HostAbort::Fatal(error.into()))
}

/// Gas left in this frame; out of gas when straight-line code overdrew the counter.
fn gas_left(caller: &Ctx<'_>) -> HostResult<u64> {
    match caller.data().frame.gas {
        GasCell::Global(global) => match global.get(caller).i64() {
            Some(left) if left >= 0 => Ok(left as u64),
            _ => Err(abort(HostAbort::OutOfGas)),
        },
        GasCell::Fuel => caller
            .get_fuel()
            .map_err(|e| fatal(VmError::Engine(e.to_string()))),
        GasCell::Counter(left) => Ok(left),
    }
}

fn set_gas_left(caller: &mut Ctx<'_>, left: u64) -> HostResult<()> {
    match caller.data().frame.gas {
        GasCell::Global(global) => global
            .set(&mut *caller, Val::I64(left as i64))
            .map_err(|e| fatal(VmError::Engine(e.to_string()))),
        GasCell::Fuel => caller
            .set_fuel(left)
            .map_err(|e| fatal(VmError::Engine(e.to_string()))),
        GasCell::Counter(_) => {
            caller.data_mut().frame.gas = GasCell::Counter(left);
            Ok(())
        }
    }
}

fn exec_mut<'a>(caller: &'a mut Ctx<'_>) -> HostResult<&'a mut Exec> {
    caller
        .data_mut()
        .exec
        .as_mut()
        .ok_or_else(|| fatal(VmError::GasAccounting("execution state missing".into())))
}

fn exec_ref<'a>(caller: &'a Ctx<'_>) -> HostResult<&'a Exec> {
    caller
        .data()
        .exec
        .as_ref()
        .ok_or_else(|| fatal(VmError::GasAccounting("execution state missing".into())))
}

fn schedule_of<'a>(caller: &'a Ctx<'_>) -> HostResult<&'a Schedule> {
    Ok(&exec_ref(caller)?.shared.schedule)
}

/// The tracer of a traced execution.
fn tracer_mut<'a>(caller: &'a mut Ctx<'_>) -> HostResult<&'a mut Tracer> {
    exec_mut(caller)?
        .meter
        .tracer()
        .ok_or_else(|| fatal(VmError::GasAccounting("tracer missing".into())))
}

/// The frame's memory-growth accumulator (0 without one).
fn grow_gas(caller: &Ctx<'_>) -> i64 {
    caller
        .data()
        .frame
        .grow
        .and_then(|global| global.get(caller).i64())
        .unwrap_or(0)
}

/// How every host function starts: its trace entry opens, then `base + per_byte × bytes` of `f`
/// is charged, before any work.
fn charge_host(caller: &mut Ctx<'_>, f: HostFn, bytes: u64) -> HostResult<()> {
    let cost = f.cost(schedule_of(caller)?);
    exec_mut(caller)?.meter.begin_host(f).map_err(fatal)?;
    charge(
        caller,
        GasCategory::Host(f),
        price(cost.base, cost.per_byte, bytes),
    )
}

/// A charge of the running host function through the meter, applied to the frame's counter.
/// When the gas left cannot pay, what is left is taken and execution stops out of gas.
fn charge(caller: &mut Ctx<'_>, category: GasCategory, amount: u64) -> HostResult<()> {
    let left = gas_left(caller)?;
    let grow = if exec_ref(caller)?.meter.is_traced() {
        grow_gas(caller)
    } else {
        0
    };
    let charge = exec_mut(caller)?
        .meter
        .charge_host(category, amount, left, grow)
        .map_err(fatal)?;
    set_gas_left(caller, charge.left)?;
    let frame = &mut caller.data_mut().frame;
    frame.host_charged = frame
        .host_charged
        .checked_add(charge.paid)
        .ok_or_else(|| fatal(VmError::GasAccounting("host charges overflow".into())))?;
    if charge.exhausted {
        return Err(abort(HostAbort::OutOfGas));
    }
    Ok(())
}

/// Links every function of the ABI table.
pub(super) fn define_host_functions(linker: &mut Linker<HostState>) {
    for &f in HostFn::ALL {
        let m = HOST_MODULE;
        let n = f.name();
        let defined = match f {
            HostFn::InputLen => linker.func_wrap(m, n, io::input_len),
            HostFn::InputRead => linker.func_wrap(m, n, io::input_read),
            HostFn::OutputSet => linker.func_wrap(m, n, io::output_set),
            HostFn::Revert => linker.func_wrap(m, n, io::revert),
            HostFn::StorageRead => linker.func_wrap(m, n, storage::storage_read),
            HostFn::StorageWrite => linker.func_wrap(m, n, storage::storage_write),
            HostFn::StorageRemove => linker.func_wrap(m, n, storage::storage_remove),
            HostFn::Caller => linker.func_wrap(m, n, context::caller),
            HostFn::Address => linker.func_wrap(m, n, context::address),
            HostFn::Value => linker.func_wrap(m, n, context::value),
            HostFn::BlockHeight => linker.func_wrap(m, n, context::block_height),
            HostFn::BlockTimestamp => linker.func_wrap(m, n, context::block_timestamp),
            HostFn::Balance => linker.func_wrap(m, n, context::balance),
            HostFn::GasLeft => linker.func_wrap(m, n, context::gas_left),
            HostFn::EventEmit => linker.func_wrap(m, n, events::event_emit),
            HostFn::DebugLog => linker.func_wrap(m, n, events::debug_log),
            HostFn::Blake3 => linker.func_wrap(m, n, crypto::blake3),
            HostFn::U256Add => linker.func_wrap(m, n, u256::add),
            HostFn::U256Sub => linker.func_wrap(m, n, u256::sub),
            HostFn::U256Mul => linker.func_wrap(m, n, u256::mul),
            HostFn::U256Div => linker.func_wrap(m, n, u256::div),
            HostFn::U256Mod => linker.func_wrap(m, n, u256::rem),
            HostFn::U256Pow => linker.func_wrap(m, n, u256::pow),
            HostFn::Call => linker.func_wrap(
                m,
                n,
                |c: Ctx<'_>,
                 addr_ptr: i32,
                 method_ptr: i32,
                 method_len: i32,
                 input_ptr: i32,
                 input_len: i32,
                 value_ptr: i32,
                 gas_limit: i64| {
                    let args = calls::CallArgs {
                        addr_ptr,
                        method_ptr,
                        method_len,
                        input_ptr,
                        input_len,
                        value_ptr,
                        gas_limit,
                    };
                    calls::call(c, args)
                },
            ),
            HostFn::ReturnDataLen => linker.func_wrap(m, n, calls::return_data_len),
            HostFn::ReturnDataRead => linker.func_wrap(m, n, calls::return_data_read),
        };
        // Names are unique by construction (the ABI table), so defining cannot fail.
        debug_assert!(defined.is_ok(), "duplicate host function {n}");
    }
}
