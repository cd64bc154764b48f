//! The executor: the public [`Vm`] API over its rooms.
//!
//! ```text
//! execute ─▶ run_frame(depth 1) ─▶ module cache ─▶ Store + instance ─▶ entry point
//!                 ▲                                                 │ host `call`
//!                 └──────────── run_frame(depth n+1) ◀──────────────┘
//! ```
//!
//! | room | what is inside |
//! |---|---|
//! | `mod.rs` | [`Vm`], its configuration and requests: validate, prepare, execute, deploy |
//! | [`cache`] | engine configuration, engine generations and their rotation, the code caches |
//! | [`frame`] | execution state, call frames: instantiate, run, classify the stop, settle |
//! | [`meter`] | the one gas meter: every charge, the breakdown, the tracer's charge hooks |
//! | [`host`] | the host ABI v1 functions, grouped by area, and the tracer's hooks |
//!
//! One journal is moved from frame to frame; each frame takes a checkpoint and rolls back to it
//! unless it succeeds. Every frame has its own gas counter; a callee's gas is charged to its
//! caller. Every charge goes through the execution's [`meter::Meter`], before the work.

mod cache;
mod frame;
mod host;
mod meter;
mod provable;

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;

#[doc(hidden)]
pub use cache::{engine_config, store_limits};

use crate::abi::GasCategory;
use crate::instrument::Metering;
use crate::outcome::{Outcome, VmError};
use crate::schedule::Schedule;
use crate::state::{Journal, StateError, StateView};
use crate::trace::{Trace, TraceOptions, Tracer};
use crate::types::{
    Address, BlockContext, CallRequest, CodeHash, Status, TrapCode, WriteSet, U256,
};
use crate::validate::{validate, ValidationReport};
use cache::{Generation, Shared};
use frame::{run_frame, Exec, FrameArgs, FrameResult};
use meter::{price, Meter};

/// Fuel an interruptible execution runs between two looks at its [`Interrupt`] (wasmi fuel:
/// about one unit per instruction, so a set interrupt stops the code within about a
/// millisecond). Fuel only paces the looks; gas is still the injected counter.
pub const INTERRUPT_FUEL_SLICE: u64 = 1_000_000;

/// A flag that stops an execution from outside (another thread sets it; the running code looks
/// at it every [`INTERRUPT_FUEL_SLICE`] units of fuel, and every frame before it starts). It is
/// how a node holds read-only executions to a wall-clock limit without the vm reading a clock:
/// the node sets the flag when the time has passed, the execution ends with
/// [`VmError::Interrupted`]. Cheap to clone; clones share the flag.
#[derive(Clone, Debug, Default)]
pub struct Interrupt(Arc<std::sync::atomic::AtomicBool>);

impl Interrupt {
    /// A flag not set.
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    /// Sets the flag: every execution holding it stops at its next look.
    pub fn interrupt(&self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether the flag is set.
    pub fn is_interrupted(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// The largest gas limit an execution runs with (larger requests are capped): the gas counter is
/// an `i64` global and `u64::MAX` is the out-of-gas sentinel.
pub const MAX_GAS_LIMIT: u64 = i64::MAX as u64;

/// Tuning of the vm that never changes results (only speed and memory).
#[derive(Clone, Debug)]
pub struct VmConfig {
    /// How code is metered ([`Metering::Injected`] for anything billed).
    pub metering: Metering,
    /// Compiled modules kept per engine generation.
    pub module_cache_capacity: NonZeroUsize,
    /// Instrumented code kept in memory.
    pub instrumented_cache_capacity: NonZeroUsize,
    /// A wasmi `Engine` never frees compiled code: after compiling this many bytes of wasm, the
    /// vm starts a new engine and drops its module cache, so memory stays bounded.
    pub engine_code_budget_bytes: u64,
}

impl Default for VmConfig {
    fn default() -> Self {
        VmConfig {
            metering: Metering::Injected,
            module_cache_capacity: NonZeroUsize::new(256).unwrap_or(NonZeroUsize::MIN),
            instrumented_cache_capacity: NonZeroUsize::new(1024).unwrap_or(NonZeroUsize::MIN),
            engine_code_budget_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Validated and instrumented code, ready to deploy or run.
#[derive(Clone, Debug)]
pub struct PreparedCode {
    /// `blake3` of the original bytes.
    pub code_hash: CodeHash,
    /// The original bytes (what is stored and hashed).
    pub original: Arc<[u8]>,
    /// The instrumented bytes (what runs).
    pub instrumented: Arc<[u8]>,
}

/// What to deploy: prepared code, by whom, where (the salt) and how `init` runs.
#[derive(Clone, Debug)]
pub struct DeployRequest {
    /// The deploying account (the caller of `init`).
    pub deployer: Address,
    /// The code to deploy.
    pub code: PreparedCode,
    /// Chooses the address among deployments of the same code by the same deployer.
    pub salt: Vec<u8>,
    /// Input of `init` (ignored when the code exports no `init`).
    pub init_input: Vec<u8>,
    /// Value moved from `deployer` to the new contract.
    pub value: U256,
    /// Most gas the deployment (its flat charge and `init`) may use.
    pub gas_limit: u64,
}

impl DeployRequest {
    /// The address the contract will have: `Address::for_contract(deployer, code_hash, salt)`.
    pub fn address(&self) -> Address {
        Address::for_contract(&self.deployer, &self.code.code_hash, &self.salt)
    }
}

/// Cache counters, for monitoring and the resource-bound tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheStats {
    /// Compiled modules cached in the current engine generation.
    pub modules: usize,
    /// Compiled modules cached for the generation's interruptible engine.
    pub interruptible_modules: usize,
    /// Instrumented codes cached.
    pub instrumented: usize,
    /// Engine generations created so far (1 = never rotated).
    pub generations: u64,
    /// Wasm bytes compiled by the current engine.
    pub compiled_bytes: u64,
    /// Module lookups answered from the module caches since the vm started.
    pub module_hits: u64,
    /// Module lookups that compiled since the vm started.
    pub module_misses: u64,
}

/// A deterministic, gas-metered WebAssembly executor. Cheap to clone; share it across threads.
///
/// ```
/// use std::sync::Arc;
/// use opmeter_vm::{Address, BlockContext, CallRequest, MemoryState, Schedule, Status, Vm, U256};
///
/// let wasm = wat::parse_str(r#"(module
///   (import "opmeter" "output_set" (func $out (param i32 i32)))
///   (memory (export "memory") 1)
///   (data (i32.const 0) "hi")
///   (func (export "hello") (call $out (i32.const 0) (i32.const 2))))"#).unwrap();
/// let vm = Vm::new(Schedule::v1());
/// let mut state = MemoryState::default();
/// let contract = Address([7; 32]);
/// state.put_contract(contract, &wasm);
/// let call = CallRequest { caller: Address([1; 32]), contract, method: "hello".into(),
///     input: vec![], value: U256::zero(), gas_limit: 1_000_000 };
/// let outcome = vm.execute(Arc::new(state), BlockContext::default(), call).unwrap();
/// assert_eq!(outcome.status, Status::Success);
/// assert_eq!(outcome.output, b"hi");
/// assert_eq!(outcome.breakdown_total(), outcome.gas_used);
/// ```
#[derive(Clone)]
pub struct Vm {
    shared: Arc<Shared>,
    /// Set by [`Vm::with_interrupt`]: executions of this handle can be stopped.
    interrupt: Option<Interrupt>,
}

impl fmt::Debug for Vm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vm")
            .field("schedule_version", &self.shared.schedule.version)
            .field("metering", &self.shared.config.metering)
            .finish()
    }
}

impl Vm {
    /// A vm running `schedule` with the default configuration.
    pub fn new(schedule: Schedule) -> Vm {
        Vm::with_config(schedule, VmConfig::default())
    }

    /// A vm with explicit tuning.
    pub fn with_config(schedule: Schedule, config: VmConfig) -> Vm {
        Vm {
            shared: Arc::new(Shared::new(schedule, config)),
            interrupt: None,
        }
    }

    /// A handle on the same vm (same caches) whose executions stop with
    /// [`VmError::Interrupted`] once `interrupt` is set. They run on a second engine that
    /// counts wasmi fuel only to look at the flag (its own module cache, compiled on first
    /// use); outcomes, gas included, are identical to the plain handle's. For read-only
    /// executions: a block must never be executed with an interrupt. With
    /// [`Metering::Fuel`] (a benchmark comparator, whose gas is the fuel) the flag is only looked
    /// at when a frame starts.
    pub fn with_interrupt(&self, interrupt: Interrupt) -> Vm {
        Vm {
            shared: Arc::clone(&self.shared),
            interrupt: Some(interrupt),
        }
    }

    /// The schedule this vm prices with.
    pub fn schedule(&self) -> &Schedule {
        &self.shared.schedule
    }

    /// Hash of the schedule, carried in every outcome.
    pub fn schedule_hash(&self) -> [u8; 32] {
        self.shared.schedule_hash
    }

    /// The metering mode.
    pub fn metering(&self) -> Metering {
        self.shared.config.metering
    }

    /// Validates uploaded code against every rule of the schedule.
    ///
    /// # Errors
    /// A report of every violation.
    pub fn validate(&self, wasm: &[u8]) -> Result<CodeHash, ValidationReport> {
        validate(wasm, &self.shared.schedule.limits)?;
        Ok(CodeHash::of(wasm))
    }

    /// Validates and instruments code (and caches the instrumented bytes).
    ///
    /// # Errors
    /// A report of every violation; instrumentation failure is reported as a violation too
    /// ([`crate::Rule::InstrumentationFailed`]).
    pub fn prepare(&self, wasm: &[u8]) -> Result<PreparedCode, ValidationReport> {
        let code_hash = self.validate(wasm)?;
        let instrumented = self.shared.instrumented_for(code_hash, wasm)?;
        Ok(PreparedCode {
            code_hash,
            original: Arc::from(wasm),
            instrumented,
        })
    }

    /// Compiles prepared code into the module cache now (a node calls this after a deployment so
    /// the first call is warm; benchmarks use it to time compilation). A vm made by
    /// [`Vm::with_interrupt`] fills the interruptible engine's cache, which read-only calls use.
    ///
    /// # Errors
    /// [`VmError::CorruptCode`] when the engine refuses the instrumented code.
    pub fn precompile(&self, code: &PreparedCode) -> Result<(), VmError> {
        let generation = self.shared.current_generation(self.interrupt.is_some());
        self.shared.remember_instrumented(code);
        let view = DeployView {
            inner: Arc::new(crate::state::MemoryState::default()),
            address: Address::default(),
            code: code.clone(),
        };
        self.shared
            .module(&generation, code.code_hash, &view)
            .map(|_| ())
    }

    /// Cache counters.
    pub fn cache_stats(&self) -> CacheStats {
        self.shared.stats()
    }

    /// Runs one call. Guest failures (revert, trap, out of gas) are an [`Outcome`]; only node
    /// faults are errors.
    ///
    /// # Errors
    /// [`VmError`] when the state backend fails, stored code is corrupt, or an invariant breaks.
    pub fn execute(
        &self,
        state: Arc<dyn StateView>,
        block: BlockContext,
        call: CallRequest,
    ) -> Result<Outcome, VmError> {
        self.execute_with(state, block, call, None)
            .map(|(outcome, _)| outcome)
    }

    /// Runs one call like [`Vm::execute`] (the same [`Outcome`], bit for bit) and records where
    /// every unit of its gas went (see [`Trace`]). The code runs as a traced variant of its
    /// instrumented module, compiled for this execution only (no cache is read or filled).
    ///
    /// # Errors
    /// As [`Vm::execute`]; also [`VmError::Engine`] when the vm does not use
    /// [`Metering::Injected`], and [`VmError::GasAccounting`] when the trace does not add up.
    pub fn execute_traced(
        &self,
        state: Arc<dyn StateView>,
        block: BlockContext,
        call: CallRequest,
        options: &TraceOptions,
    ) -> Result<(Outcome, Trace), VmError> {
        let (outcome, trace) = self.execute_with(state, block, call, Some(options))?;
        let trace = trace.ok_or_else(|| VmError::GasAccounting("trace missing".into()))?;
        Ok((outcome, trace))
    }

    /// [`Vm::execute`], traced when `trace` is given ([`Vm::execute_traced`]).
    ///
    /// # Errors
    /// As [`Vm::execute_traced`].
    pub fn execute_with(
        &self,
        state: Arc<dyn StateView>,
        block: BlockContext,
        mut call: CallRequest,
        trace: Option<&TraceOptions>,
    ) -> Result<(Outcome, Option<Trace>), VmError> {
        call.gas_limit = call.gas_limit.min(MAX_GAS_LIMIT);
        let limits = &self.shared.schedule.limits;
        let precheck = if call.method.len() > limits.max_method_name_len_bytes as usize {
            Some(TrapCode::InvalidMethodName)
        } else if call.input.len() > limits.max_input_len_bytes as usize {
            Some(TrapCode::InputTooLarge)
        } else {
            None
        };
        let tracer =
            trace.map(|options| Tracer::new(options, call.contract, call.method.clone(), None));
        let exec = self.new_exec(state, block, tracer)?;
        if let Some(code) = precheck {
            return self.finish(exec, FrameResult::trap(code, 0), call.gas_limit);
        }
        let args = FrameArgs {
            caller: call.caller,
            contract: call.contract,
            method: call.method,
            input: call.input,
            value: call.value,
            gas_limit: call.gas_limit,
            depth: 1,
        };
        let (exec, frame) = run_frame(exec, args)?;
        self.finish(exec, frame, call.gas_limit)
    }

    /// Deploys prepared code at [`DeployRequest::address`]: charges
    /// `deploy_base + deploy_per_code_byte × len`, then runs `init` (when exported) with
    /// `init_input`. The new contract is in `outcome.writes.contracts` on success.
    ///
    /// # Errors
    /// [`VmError`] on node faults only.
    pub fn deploy(
        &self,
        state: Arc<dyn StateView>,
        block: BlockContext,
        request: DeployRequest,
    ) -> Result<(Address, Outcome), VmError> {
        let (address, outcome, _) = self.deploy_with(state, block, request, None)?;
        Ok((address, outcome))
    }

    /// Deploys like [`Vm::deploy`] (the same [`Outcome`]) and records where every unit of its
    /// gas went: the root frame is the new contract (`method` is `init` when the code exports
    /// it, else empty) and starts with the `deploy` charge.
    ///
    /// # Errors
    /// As [`Vm::execute_traced`].
    pub fn deploy_traced(
        &self,
        state: Arc<dyn StateView>,
        block: BlockContext,
        request: DeployRequest,
        options: &TraceOptions,
    ) -> Result<(Address, Outcome, Trace), VmError> {
        let (address, outcome, trace) = self.deploy_with(state, block, request, Some(options))?;
        let trace = trace.ok_or_else(|| VmError::GasAccounting("trace missing".into()))?;
        Ok((address, outcome, trace))
    }

    /// [`Vm::deploy`], traced when `trace` is given ([`Vm::deploy_traced`]).
    ///
    /// # Errors
    /// As [`Vm::deploy_traced`].
    pub fn deploy_with(
        &self,
        state: Arc<dyn StateView>,
        block: BlockContext,
        request: DeployRequest,
        trace: Option<&TraceOptions>,
    ) -> Result<(Address, Outcome, Option<Trace>), VmError> {
        let address = request.address();
        let DeployRequest {
            deployer,
            code,
            salt: _,
            init_input,
            value,
            gas_limit,
        } = request;
        let gas_limit = gas_limit.min(MAX_GAS_LIMIT);
        let schedule = &self.shared.schedule;
        let deploy_gas = price(
            schedule.deploy_base,
            schedule.deploy_per_code_byte,
            code.original.len() as u64,
        );
        let exists = state.contract_code(&address)?.is_some();
        let has_init = exports_init(&code.original);
        let tracer = trace.map(|options| {
            let method = if has_init { "init" } else { "" };
            Tracer::new(options, address, method.into(), Some(code.code_hash))
        });
        let view: Arc<dyn StateView> = Arc::new(DeployView {
            inner: state,
            address,
            code: code.clone(),
        });
        let mut exec = self.new_exec(view, block, tracer)?;
        exec.deploying = Some(code.code_hash);
        let charge = exec.meter.charge_deploy(deploy_gas, gas_limit)?;
        if charge.exhausted {
            let frame = FrameResult::stopped(Status::OutOfGas, Vec::new(), gas_limit);
            let (outcome, trace) = self.finish(exec, frame, gas_limit)?;
            return Ok((address, outcome, trace));
        }
        let refused = if exists {
            Some(TrapCode::ContractExists)
        } else if init_input.len() > schedule.limits.max_input_len_bytes as usize {
            Some(TrapCode::InputTooLarge)
        } else {
            None
        };
        if let Some(refusal) = refused {
            let frame = FrameResult::trap(refusal, charge.paid);
            let (outcome, trace) = self.finish(exec, frame, gas_limit)?;
            return Ok((address, outcome, trace));
        }
        let (exec, mut frame) = if has_init {
            let args = FrameArgs {
                caller: deployer,
                contract: address,
                method: "init".into(),
                input: init_input,
                value,
                gas_limit: charge.left,
                depth: 1,
            };
            run_frame(exec, args)?
        } else {
            let mut exec = exec;
            let moved = exec.journal.transfer(deployer, address, value)?;
            let frame = if moved {
                FrameResult::stopped(Status::Success, Vec::new(), 0)
            } else {
                FrameResult::trap(TrapCode::InsufficientBalance, 0)
            };
            (exec, frame)
        };
        frame.gas_used = if frame.status == Status::OutOfGas {
            gas_limit
        } else {
            frame
                .gas_used
                .checked_add(charge.paid)
                .ok_or_else(|| VmError::GasAccounting("deployment gas overflows".into()))?
        };
        let (mut outcome, trace) = self.finish(exec, frame, gas_limit)?;
        if outcome.status == Status::Success {
            outcome.writes.contracts.insert(address, code.code_hash);
            if schedule.code_loading.is_some() && !outcome.code_paid.contains(&code.code_hash) {
                outcome.code_paid.push(code.code_hash);
            }
        }
        Ok((address, outcome, trace))
    }

    /// Execution state; a traced execution gets its own engine whose linker also defines the
    /// tracer's hooks (so traced modules never meet the caches).
    fn new_exec(
        &self,
        state: Arc<dyn StateView>,
        block: BlockContext,
        tracer: Option<Tracer>,
    ) -> Result<Exec, VmError> {
        let interruptible = self.interrupt.is_some();
        let generation = match &tracer {
            None => self.shared.current_generation(interruptible),
            Some(_) if self.shared.config.metering != Metering::Injected => {
                return Err(VmError::Engine("gas traces need Metering::Injected".into()))
            }
            Some(_) => Arc::new(Generation::traced(&self.shared.schedule, interruptible)?),
        };
        Ok(Exec {
            shared: Arc::clone(&self.shared),
            generation,
            interrupt: self.interrupt.clone(),
            journal: Journal::new(state),
            block,
            meter: Meter::new(tracer),
            logs: Vec::new(),
            code_paid: Vec::new(),
            deploying: None,
        })
    }

    /// The outcome of a finished execution; refused when the meter's breakdown does not sum to
    /// the gas used, or a trace differs from the breakdown.
    fn finish(
        &self,
        exec: Exec,
        frame: FrameResult,
        gas_limit: u64,
    ) -> Result<(Outcome, Option<Trace>), VmError> {
        let Exec {
            journal,
            meter,
            logs,
            code_paid,
            ..
        } = exec;
        let (breakdown, tracer) = meter.finish(frame.gas_used)?;
        let (writes, events) = if frame.status == Status::Success {
            journal.into_write_set()
        } else {
            (WriteSet::default(), Vec::new())
        };
        let gas_breakdown: std::collections::BTreeMap<GasCategory, u64> =
            breakdown.into_iter().filter(|(_, v)| *v > 0).collect();
        let outcome = Outcome {
            status: frame.status,
            output: frame.output,
            gas_used: frame.gas_used,
            gas_limit,
            gas_breakdown,
            events,
            logs,
            writes,
            schedule_hash: self.shared.schedule_hash,
            code_paid,
        };
        let trace = match tracer {
            None => None,
            Some(tracer) => {
                let trace = tracer.finish(outcome.status, outcome.gas_used)?;
                trace
                    .verify(&outcome)
                    .map_err(|e| VmError::GasAccounting(e.to_string()))?;
                Some(trace)
            }
        };
        Ok((outcome, trace))
    }
}

/// Whether `wasm` exports a function named `init`.
fn exports_init(wasm: &[u8]) -> bool {
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let Ok(wasmparser::Payload::ExportSection(reader)) = payload {
            return reader
                .into_iter()
                .flatten()
                .any(|e| e.name == "init" && e.kind == wasmparser::ExternalKind::Func);
        }
    }
    false
}

/// State seen by a deployment: the committed state plus the contract being created.
struct DeployView {
    inner: Arc<dyn StateView>,
    address: Address,
    code: PreparedCode,
}

impl StateView for DeployView {
    fn storage(&self, contract: &Address, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.inner.storage(contract, key)
    }
    fn balance(&self, account: &Address) -> Result<U256, StateError> {
        self.inner.balance(account)
    }
    fn contract_code(&self, address: &Address) -> Result<Option<CodeHash>, StateError> {
        if *address == self.address {
            return Ok(Some(self.code.code_hash));
        }
        self.inner.contract_code(address)
    }
    fn code(&self, code_hash: &CodeHash) -> Result<Option<Arc<[u8]>>, StateError> {
        if *code_hash == self.code.code_hash {
            return Ok(Some(Arc::clone(&self.code.original)));
        }
        self.inner.code(code_hash)
    }
}
