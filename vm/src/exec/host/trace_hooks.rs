//! The tracer's hooks, imported by traced modules only (`opmeter_trace.enter/exit/block`). They
//! read the frame's counters and never charge.

use wasmi::Linker;

use super::{fatal, grow_gas, tracer_mut, Ctx, HostResult};
use crate::exec::frame::{GasCell, HostState};
use crate::instrument::TRACE_MODULE;
use crate::outcome::VmError;

/// The raw gas counter (negative after an overdraw in straight-line code).
fn raw_gas_left(caller: &Ctx<'_>) -> HostResult<i64> {
    match caller.data().frame.gas {
        GasCell::Global(global) => global
            .get(caller)
            .i64()
            .ok_or_else(|| fatal(VmError::Engine("gas global is not i64".into()))),
        GasCell::Fuel | GasCell::Counter(_) => Err(fatal(VmError::Engine(
            "trace hooks need the injected gas global".into(),
        ))),
    }
}

/// Hook `opmeter_trace.enter(function index)`.
fn enter(mut caller: Ctx<'_>, index: i32) -> HostResult<()> {
    let (left, grow) = (raw_gas_left(&caller)?, grow_gas(&caller));
    tracer_mut(&mut caller)?
        .enter(index as u32, left, grow)
        .map_err(fatal)
}

/// Hook `opmeter_trace.exit()`.
fn exit(mut caller: Ctx<'_>) -> HostResult<()> {
    let (left, grow) = (raw_gas_left(&caller)?, grow_gas(&caller));
    tracer_mut(&mut caller)?.exit(left, grow).map_err(fatal)
}

/// Hook `opmeter_trace.block(site)`.
fn block(mut caller: Ctx<'_>, site: i32) -> HostResult<()> {
    tracer_mut(&mut caller)?.block(site as u32).map_err(fatal)
}

/// Links the hooks (on a traced execution's own engine).
pub(crate) fn define_trace_functions(linker: &mut Linker<HostState>) -> Result<(), VmError> {
    let engine = |e: wasmi::errors::LinkerError| VmError::Engine(e.to_string());
    linker
        .func_wrap(TRACE_MODULE, "enter", enter)
        .map_err(engine)?;
    linker
        .func_wrap(TRACE_MODULE, "exit", exit)
        .map_err(engine)?;
    linker
        .func_wrap(TRACE_MODULE, "block", block)
        .map_err(engine)?;
    Ok(())
}
