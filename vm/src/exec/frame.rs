//! Call frames: one instance of one contract running one method. A frame charges its
//! instantiation, instantiates, runs the entry point, sorts how it stopped (success, revert,
//! trap, out of gas, node fault) and settles: the gas its code took goes to the meter, and its
//! writes are rolled back unless it succeeded.
//!
//! ```text
//! run_frame ─▶ code lookup ─▶ value transfer ─▶ charge instantiation ─▶ instantiate ─▶ call
//!                                                                                      │
//!                                        settle ◀─ classify (trap / host abort / gas) ◀┘
//! ```

use std::sync::Arc;

use wasmi::{Global, Memory, Module, Store, StoreLimits, Val};

use super::cache::{store_limits, Generation, Shared};
use super::host::HostAbort;
use super::meter::Meter;
use super::{Interrupt, INTERRUPT_FUEL_SLICE};
use crate::abi::{GAS_GLOBAL_EXPORT, GROW_GAS_GLOBAL_EXPORT, MEMORY_EXPORT};
use crate::instrument::{instrument_traced, Metering};
use crate::outcome::VmError;
use crate::state::{Checkpoint, Journal};
use crate::trace::function_names;
use crate::types::{Address, BlockContext, CodeHash, Status, TrapCode, U256};
use crate::validate::validate;
use crate::warm_set;

/// Execution-wide state, moved from frame to frame.
pub(super) struct Exec {
    pub(super) shared: Arc<Shared>,
    pub(super) generation: Arc<Generation>,
    pub(super) journal: Journal,
    pub(super) block: BlockContext,
    /// Every charge of the execution, and its tracer.
    pub(super) meter: Meter,
    pub(super) logs: Vec<String>,
    /// Stops the execution when set (interruptible executions only).
    pub(super) interrupt: Option<Interrupt>,
    /// Codes whose full (cold) load this execution paid for, or deployed: warm for the rest of
    /// it, and for the ledger to add to the warm set.
    pub(super) code_paid: Vec<CodeHash>,
    /// The code a deployment is deploying (its per-byte price covers loading it).
    pub(super) deploying: Option<CodeHash>,
}

/// What a frame runs.
pub(super) struct FrameArgs {
    pub(super) caller: Address,
    pub(super) contract: Address,
    pub(super) method: String,
    pub(super) input: Vec<u8>,
    pub(super) value: U256,
    pub(super) gas_limit: u64,
    pub(super) depth: u32,
}

/// How a frame ended.
pub(super) struct FrameResult {
    pub(super) status: Status,
    /// Output on success, revert data on revert, empty otherwise.
    pub(super) output: Vec<u8>,
    pub(super) gas_used: u64,
}

impl FrameResult {
    pub(super) fn stopped(status: Status, output: Vec<u8>, gas_used: u64) -> FrameResult {
        FrameResult {
            status,
            output,
            gas_used,
        }
    }

    pub(super) fn trap(code: TrapCode, gas_used: u64) -> FrameResult {
        FrameResult::stopped(Status::Trap(code), Vec::new(), gas_used)
    }
}

/// Where a frame's gas counter lives.
#[derive(Clone, Copy)]
pub(super) enum GasCell {
    /// The injected global (metered modes).
    Global(Global),
    /// wasmi fuel (comparator).
    Fuel,
    /// A host-side counter (unmetered comparator: only host functions are charged).
    Counter(u64),
}

/// The running frame, as host functions see it.
pub(super) struct Frame {
    pub(super) contract: Address,
    pub(super) caller: Address,
    pub(super) value: U256,
    pub(super) input: Vec<u8>,
    pub(super) depth: u32,
    pub(super) output: Vec<u8>,
    pub(super) return_data: Vec<u8>,
    pub(super) gas: GasCell,
    pub(super) memory: Option<Memory>,
    /// The memory-growth accumulator (metered modes).
    pub(super) grow: Option<Global>,
    /// Gas charged through the meter in this frame (instantiation and host functions).
    pub(super) host_charged: u64,
    /// Gas used by callees of this frame.
    pub(super) children_used: u64,
}

/// The store's data: the frame, the execution (taken by a `call` while its callee runs) and the
/// store's resource limits.
pub(super) struct HostState {
    pub(super) frame: Frame,
    pub(super) exec: Option<Exec>,
    limits: StoreLimits,
}

/// The vm's trap code of an engine trap; `None` for out of fuel (out of gas, handled by the
/// caller) and host out-of-memory (a node fault).
pub(super) fn map_trap(code: wasmi::TrapCode) -> Option<TrapCode> {
    use wasmi::TrapCode as W;
    Some(match code {
        W::UnreachableCodeReached => TrapCode::Unreachable,
        W::MemoryOutOfBounds => TrapCode::MemoryOutOfBounds,
        W::TableOutOfBounds => TrapCode::TableOutOfBounds,
        W::IndirectCallToNull => TrapCode::IndirectCallToNull,
        W::IntegerDivisionByZero => TrapCode::IntegerDivisionByZero,
        W::IntegerOverflow => TrapCode::IntegerOverflow,
        W::BadConversionToInteger => TrapCode::BadConversionToInteger,
        W::StackOverflow => TrapCode::StackOverflow,
        W::BadSignature => TrapCode::BadSignature,
        W::GrowthOperationLimited => TrapCode::MemoryLimit,
        W::OutOfFuel | W::OutOfSystemMemory => return None,
    })
}

/// Runs one call frame (the tracer, when there is one, sees it start and end).
pub(super) fn run_frame(mut exec: Exec, args: FrameArgs) -> Result<(Exec, FrameResult), VmError> {
    if let Some(tracer) = exec.meter.tracer() {
        tracer.begin_frame(args.contract, &args.method, args.depth)?;
    }
    let (mut exec, frame) = run_frame_inner(exec, args)?;
    if let Some(tracer) = exec.meter.tracer() {
        tracer.end_frame(frame.status, frame.gas_used)?;
    }
    Ok((exec, frame))
}

/// The traced module of `code_hash`, compiled on the execution's own engine once per execution.
fn traced_module(exec: &mut Exec, code_hash: CodeHash) -> Result<Module, VmError> {
    let Exec {
        shared,
        generation,
        journal,
        meter,
        ..
    } = exec;
    let tracer = meter
        .tracer()
        .ok_or_else(|| VmError::GasAccounting("tracer missing".into()))?;
    let slot = match tracer.module(&code_hash) {
        Some((slot, _)) => slot,
        None => {
            let corrupt = |reason: String| VmError::CorruptCode {
                code_hash: code_hash.to_hex(),
                reason,
            };
            let original = journal
                .state()
                .code(&code_hash)?
                .ok_or_else(|| corrupt("code missing from state".into()))?;
            validate(&original, &shared.schedule.limits)
                .map_err(|report| corrupt(report.to_string()))?;
            let traced =
                instrument_traced(&original, &shared.schedule, tracer.blocks()).map_err(corrupt)?;
            let module = Module::new(&generation.engine, &traced.wasm[..])
                .map_err(|e| corrupt(e.to_string()))?;
            tracer.add_module(code_hash, module, function_names(&original), traced.sites)
        }
    };
    tracer.frame_code(code_hash, Some(slot))?;
    tracer
        .module(&code_hash)
        .map(|(_, module)| module.clone())
        .ok_or_else(|| VmError::GasAccounting("traced module lost".into()))
}

fn run_frame_inner(mut exec: Exec, args: FrameArgs) -> Result<(Exec, FrameResult), VmError> {
    let interrupt = exec.interrupt.clone();
    if interrupt.as_ref().is_some_and(Interrupt::is_interrupted) {
        return Err(VmError::Interrupted);
    }
    let checkpoint = exec.journal.checkpoint();
    let Some(code_hash) = exec.journal.state().contract_code(&args.contract)? else {
        return Ok((exec, FrameResult::trap(TrapCode::ContractNotFound, 0)));
    };
    let shared = Arc::clone(&exec.shared);
    let generation = Arc::clone(&exec.generation);
    // Code loading (schedule v2 on) is charged before the module is read or compiled, warm or
    // cold by the consensus warm set, never by what a cache holds.
    let mut load_paid = 0;
    let mut gas_left = args.gas_limit;
    if let Some(costs) = shared.schedule.code_loading {
        let warm = exec.code_paid.contains(&code_hash)
            || exec.deploying == Some(code_hash)
            || warm_set::is_member(exec.journal.state(), &code_hash)?;
        let len_bytes = exec
            .journal
            .state()
            .code_len_bytes(&code_hash)?
            .ok_or_else(|| VmError::CorruptCode {
                code_hash: code_hash.to_hex(),
                reason: "code missing from state".into(),
            })?;
        let per_kib = if warm {
            costs.warm_per_kib
        } else {
            costs.cold_per_kib
        };
        let load_gas = per_kib
            .checked_mul(len_bytes.div_ceil(1024))
            .ok_or_else(|| VmError::GasAccounting("code load gas overflows".into()))?;
        let charge = exec.meter.charge_code_load(load_gas, gas_left)?;
        if charge.exhausted {
            exec.journal.revert_to(checkpoint);
            let frame = FrameResult::stopped(Status::OutOfGas, Vec::new(), args.gas_limit);
            return Ok((exec, frame));
        }
        if !warm {
            exec.code_paid.push(code_hash);
        }
        load_paid = charge.paid;
        gas_left = charge.left;
    }
    let module = if exec.meter.is_traced() {
        traced_module(&mut exec, code_hash)?
    } else {
        shared.module(&generation, code_hash, exec.journal.state())?
    };
    if !exec
        .journal
        .transfer(args.caller, args.contract, args.value)?
    {
        return Ok((exec, FrameResult::trap(TrapCode::InsufficientBalance, 0)));
    }
    let metering = shared.config.metering;
    let gas_limit = args.gas_limit;
    // A fresh instance costs memory and time before any instruction runs: charge it first.
    let initial_pages = match module.get_export(MEMORY_EXPORT) {
        Some(wasmi::ExternType::Memory(memory)) => memory.minimum(),
        _ => 0,
    };
    let instantiation_gas = super::meter::price(
        shared.schedule.instance_base,
        shared.schedule.instance_per_initial_page,
        initial_pages,
    );
    let charge = exec
        .meter
        .charge_instantiation(instantiation_gas, gas_left)?;
    if charge.exhausted {
        exec.journal.revert_to(checkpoint);
        let frame = FrameResult::stopped(Status::OutOfGas, Vec::new(), gas_limit);
        return Ok((exec, frame));
    }
    let gas_after_instantiation = charge.left;
    let store_limits = store_limits(&shared.schedule)
        .instances(1)
        .memories(1)
        .tables(1)
        .trap_on_grow_failure(true)
        .build();
    let frame = Frame {
        contract: args.contract,
        caller: args.caller,
        value: args.value,
        input: args.input,
        depth: args.depth,
        output: Vec::new(),
        return_data: Vec::new(),
        gas: match metering {
            Metering::Fuel => GasCell::Fuel,
            Metering::Unmetered | Metering::Injected | Metering::Shipped => {
                GasCell::Counter(gas_after_instantiation)
            }
        },
        memory: None,
        grow: None,
        host_charged: load_paid
            .checked_add(charge.paid)
            .ok_or_else(|| VmError::GasAccounting("frame charges overflow".into()))?,
        children_used: 0,
    };
    let mut store = Store::new(
        &generation.engine,
        HostState {
            frame,
            exec: Some(exec),
            limits: store_limits,
        },
    );
    store.limiter(|state| &mut state.limits);
    if metering == Metering::Fuel {
        store
            .set_fuel(gas_after_instantiation)
            .map_err(|e| VmError::Engine(e.to_string()))?;
    }
    // An interruptible engine counts fuel only to pace the looks at the interrupt: unbounded
    // for instantiation (bounded by validation), then sliced for the call.
    let interrupt = interrupt.filter(|_| generation.interruptible);
    if interrupt.is_some() {
        store
            .set_fuel(u64::MAX)
            .map_err(|e| VmError::Engine(e.to_string()))?;
    }

    let instance = match generation.linker.instantiate_and_start(&mut store, &module) {
        Ok(instance) => instance,
        Err(e) => {
            // Validation rules out every instantiation failure it can see statically; whatever is
            // left (a segment that does not fit, an engine limit) is the guest's, never the node's.
            let code = e
                .as_trap_code()
                .and_then(map_trap)
                .unwrap_or(match e.kind() {
                    wasmi::errors::ErrorKind::Instantiation(_) => TrapCode::TableOutOfBounds,
                    _ => TrapCode::MemoryOutOfBounds,
                });
            return finish_frame(store, checkpoint, gas_limit, Stop::Trap(code), None);
        }
    };
    let memory = instance
        .get_memory(&store, MEMORY_EXPORT)
        .ok_or_else(|| VmError::Engine("validated module has no memory export".into()))?;
    store.data_mut().frame.memory = Some(memory);
    let mut grow_global = None;
    if matches!(metering, Metering::Injected | Metering::Shipped) {
        let global = instance
            .get_global(&store, GAS_GLOBAL_EXPORT)
            .ok_or_else(|| VmError::Engine("instrumented module has no gas global".into()))?;
        global
            .set(&mut store, Val::I64(gas_after_instantiation as i64))
            .map_err(|e| VmError::Engine(e.to_string()))?;
        store.data_mut().frame.gas = GasCell::Global(global);
        grow_global = instance.get_global(&store, GROW_GAS_GLOBAL_EXPORT);
        store.data_mut().frame.grow = grow_global;
    }
    let Ok(entry) = instance.get_typed_func::<(), ()>(&store, &args.method) else {
        let stop = Stop::Trap(TrapCode::MethodNotFound);
        return finish_frame(store, checkpoint, gas_limit, stop, grow_global);
    };
    let result = match &interrupt {
        None => entry.call(&mut store, ()),
        Some(interrupt) => call_interruptible(&mut store, entry.func(), interrupt)?,
    };
    let stop = match result {
        // Straight-line code after the last check point may have overdrawn the counter.
        Ok(()) if counter_negative(&store) => Stop::OutOfGas,
        Ok(()) => Stop::Return,
        // Any stop after straight-line code overdrew the counter is out of gas: the block that
        // could not be paid must not be observable as a trap or a revert.
        Err(error) => match classify(&store, error)? {
            Stop::Revert(_) | Stop::Trap(_) if counter_negative(&store) => Stop::OutOfGas,
            stop => stop,
        },
    };
    finish_frame(store, checkpoint, gas_limit, stop, grow_global)
}

/// Calls `func` (no parameters, no results) in slices of [`INTERRUPT_FUEL_SLICE`] fuel, looking at
/// `interrupt` between slices: the engine's result, or [`VmError::Interrupted`] once it is set.
fn call_interruptible(
    store: &mut Store<HostState>,
    func: &wasmi::Func,
    interrupt: &Interrupt,
) -> Result<Result<(), wasmi::Error>, VmError> {
    let engine = |e: wasmi::Error| VmError::Engine(e.to_string());
    store.set_fuel(INTERRUPT_FUEL_SLICE).map_err(engine)?;
    let mut call = match func.call_resumable(&mut *store, &[], &mut []) {
        Ok(call) => call,
        Err(error) => return Ok(Err(error)),
    };
    loop {
        call = match call {
            wasmi::ResumableCall::Finished => return Ok(Ok(())),
            // A host function's error (revert, trap, out of gas, fault): the call stops here,
            // exactly as a plain call would.
            wasmi::ResumableCall::HostTrap(trap) => return Ok(Err(trap.into_host_error())),
            wasmi::ResumableCall::OutOfFuel(paused) => {
                if interrupt.is_interrupted() {
                    return Err(VmError::Interrupted);
                }
                let fuel = INTERRUPT_FUEL_SLICE.max(paused.required_fuel());
                store.set_fuel(fuel).map_err(engine)?;
                match paused.resume(&mut *store, &mut []) {
                    Ok(call) => call,
                    Err(error) => return Ok(Err(error)),
                }
            }
        };
    }
}

/// How a frame's code stopped.
enum Stop {
    /// The entry point returned.
    Return,
    Revert(Vec<u8>),
    Trap(TrapCode),
    OutOfGas,
}

fn counter_negative(store: &Store<HostState>) -> bool {
    match store.data().frame.gas {
        GasCell::Global(global) => global.get(store).i64().is_some_and(|left| left < 0),
        GasCell::Fuel | GasCell::Counter(_) => false,
    }
}

/// Sorts an engine error into a guest outcome, or a node fault.
fn classify(store: &Store<HostState>, error: wasmi::Error) -> Result<Stop, VmError> {
    if let Some(code) = error.as_trap_code() {
        let out_of_gas = match store.data().frame.gas {
            GasCell::Global(global) => global.get(store).i64().is_some_and(|left| left < 0),
            GasCell::Fuel => code == wasmi::TrapCode::OutOfFuel,
            GasCell::Counter(_) => false,
        };
        if out_of_gas
            && matches!(
                code,
                wasmi::TrapCode::UnreachableCodeReached | wasmi::TrapCode::OutOfFuel
            )
        {
            return Ok(Stop::OutOfGas);
        }
        return map_trap(code)
            .map(Stop::Trap)
            .ok_or_else(|| VmError::Engine(error.to_string()));
    }
    match error.downcast::<HostAbort>() {
        Some(HostAbort::Revert(data)) => Ok(Stop::Revert(data)),
        Some(HostAbort::Trap(code)) => Ok(Stop::Trap(code)),
        Some(HostAbort::OutOfGas) => Ok(Stop::OutOfGas),
        Some(HostAbort::Fatal(e)) => Err(e),
        None => Err(VmError::Engine("unexpected engine error".into())),
    }
}

fn gas_left_of(store: &Store<HostState>) -> Result<u64, VmError> {
    match store.data().frame.gas {
        GasCell::Global(global) => global
            .get(store)
            .i64()
            .map(|v| v as u64)
            .ok_or_else(|| VmError::Engine("gas global is not i64".into())),
        GasCell::Fuel => store.get_fuel().map_err(|e| VmError::Engine(e.to_string())),
        GasCell::Counter(left) => Ok(left),
    }
}

/// Closes a frame that stopped with `stop`: out of gas bills the whole limit, anything else what
/// the counter says was used.
fn finish_frame(
    store: Store<HostState>,
    checkpoint: Checkpoint,
    gas_limit: u64,
    stop: Stop,
    grow_global: Option<Global>,
) -> Result<(Exec, FrameResult), VmError> {
    let gas_used = match stop {
        Stop::OutOfGas => gas_limit,
        Stop::Return | Stop::Revert(_) | Stop::Trap(_) => {
            let left = gas_left_of(&store)?;
            gas_limit.checked_sub(left).ok_or_else(|| {
                VmError::GasAccounting(format!("{left} gas left of a {gas_limit} limit"))
            })?
        }
    };
    settle(store, checkpoint, gas_used, stop, grow_global)
}

/// Settles a frame: the gas its own code took (instructions, memory growth) goes to the meter,
/// and its writes are rolled back unless it returned.
fn settle(
    store: Store<HostState>,
    checkpoint: Checkpoint,
    gas_used: u64,
    stop: Stop,
    grow_global: Option<Global>,
) -> Result<(Exec, FrameResult), VmError> {
    let memory_gas = grow_global
        .and_then(|g| g.get(&store).i64())
        .map_or(0, |v| v as u64);
    let HostState { frame, exec, .. } = store.into_data();
    let mut exec =
        exec.ok_or_else(|| VmError::GasAccounting("execution state lost by a callee".into()))?;
    let instructions = gas_used
        .checked_sub(frame.host_charged)
        .and_then(|g| g.checked_sub(memory_gas))
        .and_then(|g| g.checked_sub(frame.children_used))
        .ok_or_else(|| {
            VmError::GasAccounting(format!(
                "frame used {gas_used} but host {} + memory {memory_gas} + callees {}",
                frame.host_charged, frame.children_used
            ))
        })?;
    exec.meter.settle_frame(instructions, memory_gas)?;
    let result = match stop {
        Stop::Return => FrameResult::stopped(Status::Success, frame.output, gas_used),
        Stop::Revert(data) => FrameResult::stopped(Status::Revert, data, gas_used),
        Stop::Trap(code) => FrameResult::trap(code, gas_used),
        Stop::OutOfGas => FrameResult::stopped(Status::OutOfGas, Vec::new(), gas_used),
    };
    if result.status != Status::Success {
        exec.journal.revert_to(checkpoint);
    }
    Ok((exec, result))
}
