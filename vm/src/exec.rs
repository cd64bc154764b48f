//! The executor: engine configuration, code caches, call frames and the host ABI.
//!
//! ```text
//! execute ─▶ run_frame(depth 1) ─▶ module cache ─▶ Store + instance ─▶ entry point
//!                 ▲                                                 │ host `call`
//!                 └──────────── run_frame(depth n+1) ◀──────────────┘
//! ```
//!
//! One [`Journal`] is moved from frame to frame; each frame takes a checkpoint and rolls back
//! to it unless it succeeds. Every frame has its own gas global; a callee's gas is charged to
//! its caller. Host functions charge before they work, through [`charge`].

use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard};

use lru::LruCache;
use wasmi::errors::HostError;
use wasmi::{
    Caller, CompilationMode, Config, Engine, Global, Linker, Memory, Module, Store, StoreLimits,
    StoreLimitsBuilder, Val,
};

use crate::abi::{
    AbiType, GasCategory, HostFn, GAS_GLOBAL_EXPORT, GROW_GAS_GLOBAL_EXPORT, HOST_MODULE,
    MEMORY_EXPORT, PROVABLE_EXPORT_PREFIX,
};
use crate::instrument::{instrument, instrument_traced, Metering, TRACE_MODULE};
use crate::outcome::{Outcome, ProvableOutcome, VmError};
use crate::schedule::Schedule;
use crate::state::{Journal, StateError, StateView};
use crate::trace::{function_names, Trace, TraceOptions, Tracer};
use crate::types::{
    Address, BlockContext, CallRequest, CodeHash, Status, TrapCode, WriteSet, U256,
};
use crate::validate::{validate, Rule, ValidationReport, Violation};

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

/// Cache counters, for monitoring and the resource-bound tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheStats {
    /// Compiled modules cached in the current engine generation.
    pub modules: usize,
    /// Instrumented codes cached.
    pub instrumented: usize,
    /// Engine generations created so far (1 = never rotated).
    pub generations: u64,
    /// Wasm bytes compiled by the current engine.
    pub compiled_bytes: u64,
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
}

impl fmt::Debug for Vm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vm")
            .field("schedule_version", &self.shared.schedule.version)
            .field("metering", &self.shared.config.metering)
            .finish()
    }
}

struct Generation {
    engine: Engine,
    linker: Linker<HostState>,
    /// The linker of provable calls: every host import is a stub that traps.
    pure_linker: Linker<StoreLimits>,
}

struct Cache {
    generation: Arc<Generation>,
    generations: u64,
    compiled_bytes: u64,
    modules: LruCache<CodeHash, Module>,
    instrumented: LruCache<(CodeHash, u32), Arc<[u8]>>,
}

struct Shared {
    schedule: Schedule,
    schedule_hash: [u8; 32],
    config: VmConfig,
    cache: Mutex<Cache>,
}

impl Vm {
    /// A vm running `schedule` with the default configuration.
    pub fn new(schedule: Schedule) -> Vm {
        Vm::with_config(schedule, VmConfig::default())
    }

    /// A vm with explicit tuning.
    pub fn with_config(schedule: Schedule, config: VmConfig) -> Vm {
        let schedule_hash = schedule.hash();
        let generation = Arc::new(new_generation(&schedule, config.metering));
        let cache = Cache {
            generation,
            generations: 1,
            compiled_bytes: 0,
            modules: LruCache::new(config.module_cache_capacity),
            instrumented: LruCache::new(config.instrumented_cache_capacity),
        };
        Vm {
            shared: Arc::new(Shared {
                schedule,
                schedule_hash,
                config,
                cache: Mutex::new(cache),
            }),
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
    /// A report of every violation; instrumentation failure is reported as a violation too.
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
    /// the first call is warm; benchmarks use it to time compilation).
    ///
    /// # Errors
    /// [`VmError::CorruptCode`] when the engine refuses the instrumented code.
    pub fn precompile(&self, code: &PreparedCode) -> Result<(), VmError> {
        let generation = self.shared.current_generation();
        self.shared.lock().instrumented.put(
            (code.code_hash, self.shared.schedule.version),
            Arc::clone(&code.instrumented),
        );
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
        let cache = self.shared.lock();
        CacheStats {
            modules: cache.modules.len(),
            instrumented: cache.instrumented.len(),
            generations: cache.generations,
            compiled_bytes: cache.compiled_bytes,
        }
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

    /// Calls the provable export `provable:<method>` of `code` with integer `args`: the
    /// *provable call* whose gas the prover proves. The code runs exactly as billed code runs
    /// (the production instrumentation, the same engine configuration and limits, a fresh
    /// instance) with the gas counter set to `gas_limit` (capped at [`MAX_GAS_LIMIT`]), and
    /// `gas_used` is what the instrumented code charged. A provable call has no host: an import
    /// reached during it traps with [`TrapCode::Unreachable`] (the prover refuses such
    /// functions before running them). An `i32` argument is its low 32 bits.
    ///
    /// A missing export, or arguments that do not match its parameters in number, traps with
    /// [`TrapCode::MethodNotFound`] and uses no gas.
    ///
    /// # Errors
    /// [`VmError::CorruptCode`] when the engine refuses the instrumented code, [`VmError::Engine`]
    /// on an engine fault.
    pub fn call_provable(
        &self,
        code: &PreparedCode,
        method: &str,
        args: &[u64],
        gas_limit: u64,
    ) -> Result<ProvableOutcome, VmError> {
        let gas_limit = gas_limit.min(MAX_GAS_LIMIT);
        let generation = self.shared.current_generation();
        let view = DeployView {
            inner: Arc::new(crate::state::MemoryState::default()),
            address: Address::default(),
            code: code.clone(),
        };
        self.shared.lock().instrumented.put(
            (code.code_hash, self.shared.schedule.version),
            Arc::clone(&code.instrumented),
        );
        let module = self.shared.module(&generation, code.code_hash, &view)?;
        let outcome = |status, trap_code, result, gas_used| ProvableOutcome {
            status,
            trap_code,
            result,
            gas_used,
            gas_limit,
            schedule_hash: self.shared.schedule_hash,
        };
        let limits = store_limits(&self.shared.schedule)
            .instances(1)
            .memories(1)
            .tables(1)
            .trap_on_grow_failure(true)
            .build();
        let mut store = Store::new(&generation.engine, limits);
        store.limiter(|limits| limits);
        let instance = match generation
            .pure_linker
            .instantiate_and_start(&mut store, &module)
        {
            Ok(instance) => instance,
            Err(e) => {
                let code = e
                    .as_trap_code()
                    .and_then(map_trap)
                    .unwrap_or(TrapCode::MemoryOutOfBounds);
                return Ok(outcome(Status::Trap, Some(code), None, 0));
            }
        };
        let export = format!("{PROVABLE_EXPORT_PREFIX}{method}");
        let not_found = || {
            Ok(outcome(
                Status::Trap,
                Some(TrapCode::MethodNotFound),
                None,
                0,
            ))
        };
        let Some(func) = instance.get_func(&store, &export) else {
            return not_found();
        };
        let ty = func.ty(&store);
        if ty.params().len() != args.len() || ty.results().len() > 1 {
            return not_found();
        }
        let mut params = Vec::with_capacity(args.len());
        for (ty, &arg) in ty.params().iter().zip(args) {
            params.push(match ty {
                wasmi::ValType::I32 => Val::I32(arg as u32 as i32),
                wasmi::ValType::I64 => Val::I64(arg as i64),
                _ => return not_found(),
            });
        }
        let mut results: Vec<Val> = ty
            .results()
            .iter()
            .map(|t| Val::default_for_ty(*t))
            .collect();
        let gas = instance
            .get_global(&store, GAS_GLOBAL_EXPORT)
            .ok_or_else(|| VmError::Engine("instrumented module has no gas global".into()))?;
        gas.set(&mut store, Val::I64(gas_limit as i64))
            .map_err(|e| VmError::Engine(e.to_string()))?;
        let called = func.call(&mut store, &params, &mut results);
        let left = gas
            .get(&store)
            .i64()
            .ok_or_else(|| VmError::Engine("gas global is not i64".into()))?;
        if left < 0 {
            return Ok(outcome(Status::OutOfGas, None, None, gas_limit));
        }
        let gas_used = gas_limit.checked_sub(left as u64).ok_or_else(|| {
            VmError::GasAccounting(format!("{left} gas left of a {gas_limit} limit"))
        })?;
        match called {
            Ok(()) => {
                let result = results.first().map(|v| match v {
                    Val::I32(x) => u64::from(*x as u32),
                    Val::I64(x) => *x as u64,
                    _ => 0,
                });
                Ok(outcome(Status::Success, None, result, gas_used))
            }
            Err(e) => {
                let code = e
                    .as_trap_code()
                    .and_then(map_trap)
                    .ok_or_else(|| VmError::Engine(e.to_string()))?;
                Ok(outcome(Status::Trap, Some(code), None, gas_used))
            }
        }
    }

    /// Deploys prepared code at `Address::for_contract(deployer, code_hash, salt)`: charges
    /// `deploy_base + deploy_per_code_byte × len`, then runs `init` (when exported) with
    /// `init_input`. The new contract is in `outcome.writes.contracts` on success.
    ///
    /// # Errors
    /// [`VmError`] on node faults only.
    #[allow(clippy::too_many_arguments)]
    pub fn deploy(
        &self,
        state: Arc<dyn StateView>,
        block: BlockContext,
        deployer: Address,
        code: &PreparedCode,
        salt: &[u8],
        init_input: Vec<u8>,
        value: U256,
        gas_limit: u64,
    ) -> Result<(Address, Outcome), VmError> {
        let (address, outcome, _) = self.deploy_with(
            state, block, deployer, code, salt, init_input, value, gas_limit, None,
        )?;
        Ok((address, outcome))
    }

    /// Deploys like [`Vm::deploy`] (the same [`Outcome`]) and records where every unit of its
    /// gas went: the root frame is the new contract (`method` is `init` when the code exports
    /// it, else empty) and starts with the `deploy` charge.
    ///
    /// # Errors
    /// As [`Vm::execute_traced`].
    #[allow(clippy::too_many_arguments)]
    pub fn deploy_traced(
        &self,
        state: Arc<dyn StateView>,
        block: BlockContext,
        deployer: Address,
        code: &PreparedCode,
        salt: &[u8],
        init_input: Vec<u8>,
        value: U256,
        gas_limit: u64,
        options: &TraceOptions,
    ) -> Result<(Address, Outcome, Trace), VmError> {
        let (address, outcome, trace) = self.deploy_with(
            state,
            block,
            deployer,
            code,
            salt,
            init_input,
            value,
            gas_limit,
            Some(options),
        )?;
        let trace = trace.ok_or_else(|| VmError::GasAccounting("trace missing".into()))?;
        Ok((address, outcome, trace))
    }

    /// [`Vm::deploy`], traced when `trace` is given ([`Vm::deploy_traced`]).
    ///
    /// # Errors
    /// As [`Vm::deploy_traced`].
    #[allow(clippy::too_many_arguments)]
    pub fn deploy_with(
        &self,
        state: Arc<dyn StateView>,
        block: BlockContext,
        deployer: Address,
        code: &PreparedCode,
        salt: &[u8],
        init_input: Vec<u8>,
        value: U256,
        gas_limit: u64,
        trace: Option<&TraceOptions>,
    ) -> Result<(Address, Outcome, Option<Trace>), VmError> {
        let gas_limit = gas_limit.min(MAX_GAS_LIMIT);
        let schedule = &self.shared.schedule;
        let address = Address::for_contract(&deployer, &code.code_hash, salt);
        let deploy_gas = (code.original.len() as u64)
            .checked_mul(schedule.deploy_per_code_byte)
            .and_then(|g| g.checked_add(schedule.deploy_base))
            .unwrap_or(u64::MAX);
        let exists = state.contract_code(&address)?.is_some();
        let view: Arc<dyn StateView> = Arc::new(DeployView {
            inner: state,
            address,
            code: code.clone(),
        });
        let has_init = wasmparser_exports_init(&code.original);
        let tracer = trace.map(|options| {
            let method = if has_init { "init" } else { "" };
            Tracer::new(options, address, method.into(), Some(code.code_hash))
        });
        let mut exec = self.new_exec(view, block, tracer)?;
        let charged = deploy_gas.min(gas_limit);
        exec.add(GasCategory::Deploy, charged)?;
        if let Some(tracer) = exec.trace.as_mut() {
            tracer.root_charge(GasCategory::Deploy, charged)?;
        }
        if deploy_gas > gas_limit {
            let frame = FrameResult {
                status: Status::OutOfGas,
                trap_code: None,
                output: Vec::new(),
                gas_used: gas_limit,
            };
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
        if let Some(code) = refused {
            let frame = FrameResult::trap(code, deploy_gas);
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
                gas_limit: gas_limit - deploy_gas,
                depth: 1,
            };
            run_frame(exec, args)?
        } else {
            let mut exec = exec;
            let moved = exec.journal.transfer(deployer, address, value)?;
            let frame = if moved {
                FrameResult {
                    status: Status::Success,
                    trap_code: None,
                    output: Vec::new(),
                    gas_used: 0,
                }
            } else {
                FrameResult::trap(TrapCode::InsufficientBalance, 0)
            };
            (exec, frame)
        };
        frame.gas_used = if frame.status == Status::OutOfGas {
            gas_limit
        } else {
            frame.gas_used + deploy_gas
        };
        let (mut outcome, trace) = self.finish(exec, frame, gas_limit)?;
        if outcome.status == Status::Success {
            outcome.writes.contracts.insert(address, code.code_hash);
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
        let generation = match &tracer {
            None => self.shared.current_generation(),
            Some(_) if self.shared.config.metering != Metering::Injected => {
                return Err(VmError::Engine("gas traces need Metering::Injected".into()))
            }
            Some(_) => {
                let mut generation = new_generation(&self.shared.schedule, Metering::Injected);
                define_trace_functions(&mut generation.linker)?;
                Arc::new(generation)
            }
        };
        Ok(Exec {
            shared: Arc::clone(&self.shared),
            generation,
            journal: Journal::new(state),
            block,
            breakdown: BTreeMap::new(),
            logs: Vec::new(),
            trace: tracer.map(Box::new),
        })
    }

    fn finish(
        &self,
        mut exec: Exec,
        frame: FrameResult,
        gas_limit: u64,
    ) -> Result<(Outcome, Option<Trace>), VmError> {
        let tracer = exec.trace.take();
        let total = exec
            .breakdown
            .values()
            .try_fold(0u64, |acc, v| acc.checked_add(*v));
        if total != Some(frame.gas_used) {
            return Err(VmError::GasAccounting(format!(
                "breakdown sums to {total:?} but {} gas was used",
                frame.gas_used
            )));
        }
        let Exec {
            journal,
            breakdown,
            logs,
            ..
        } = exec;
        let (writes, events) = if frame.status == Status::Success {
            journal.into_write_set()
        } else {
            (WriteSet::default(), Vec::new())
        };
        let outcome = Outcome {
            status: frame.status,
            trap_code: frame.trap_code,
            output: frame.output,
            gas_used: frame.gas_used,
            gas_limit,
            gas_breakdown: breakdown.into_iter().filter(|(_, v)| *v > 0).collect(),
            events,
            logs,
            writes,
            schedule_hash: self.shared.schedule_hash,
        };
        let trace = match tracer {
            None => None,
            Some(tracer) => {
                let trace = tracer.finish(outcome.status, outcome.gas_used)?;
                if trace.breakdown().as_ref() != Some(&outcome.gas_breakdown) {
                    return Err(VmError::GasAccounting(
                        "the trace's breakdown differs from the outcome's".into(),
                    ));
                }
                Some(trace)
            }
        };
        Ok((outcome, trace))
    }
}

fn wasmparser_exports_init(wasm: &[u8]) -> bool {
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

/// The wasmi configuration the vm runs every module with (one per metering mode). Exposed so
/// conformance tests and fuzzers run code on exactly the engine the vm uses.
#[doc(hidden)]
pub fn engine_config(schedule: &Schedule, metering: Metering) -> Config {
    let limits = &schedule.limits;
    let mut config = Config::default();
    // Every proposal set on purpose: exactly what validation accepts (MVP + mutable globals).
    config
        .compilation_mode(CompilationMode::Eager)
        .wasm_mutable_global(true)
        .wasm_sign_extension(false)
        .wasm_saturating_float_to_int(false)
        .wasm_multi_value(false)
        .wasm_multi_memory(false)
        .wasm_bulk_memory(false)
        .wasm_reference_types(false)
        .wasm_tail_call(false)
        .wasm_extended_const(false)
        .wasm_custom_page_sizes(false)
        .wasm_wide_arithmetic(false)
        .floats(true)
        .allow_start_fn(false)
        .consume_fuel(metering == Metering::Fuel)
        .set_max_recursion_depth(limits.max_recursion_depth as usize)
        .set_max_stack_height(limits.max_value_stack_bytes as usize);
    config
}

/// The per-instance resource limits of the vm (memory and table sizes, growth failure traps),
/// before the vm restricts a store to one instance, memory and table. Exposed for the same
/// reason as [`engine_config`].
#[doc(hidden)]
pub fn store_limits(schedule: &Schedule) -> StoreLimitsBuilder {
    let limits = &schedule.limits;
    StoreLimitsBuilder::new()
        .memory_size(limits.memory_pages_max as usize * 65_536)
        .table_elements(limits.max_table_elements as usize)
        .trap_on_grow_failure(true)
}

fn new_generation(schedule: &Schedule, metering: Metering) -> Generation {
    let config = engine_config(schedule, metering);
    let engine = Engine::new(&config);
    let mut linker = Linker::new(&engine);
    define_host_functions(&mut linker);
    let mut pure_linker = Linker::new(&engine);
    define_trapping_host_functions(&mut pure_linker);
    Generation {
        engine,
        linker,
        pure_linker,
    }
}

/// Every host function of the ABI as a stub that traps with `unreachable`: what a provable call
/// links against (it has no host).
fn define_trapping_host_functions(linker: &mut Linker<StoreLimits>) {
    let val = |t: &AbiType| match t {
        AbiType::I32 => wasmi::ValType::I32,
        AbiType::I64 => wasmi::ValType::I64,
    };
    for &f in HostFn::ALL {
        let ty = wasmi::FuncType::new(
            f.params().iter().map(val).collect::<Vec<_>>(),
            f.results().iter().map(val).collect::<Vec<_>>(),
        );
        let defined = linker.func_new(HOST_MODULE, f.name(), ty, |_, _, _| {
            Err(wasmi::Error::from(wasmi::TrapCode::UnreachableCodeReached))
        });
        // Names are unique by construction (the ABI table), so defining cannot fail.
        debug_assert!(defined.is_ok(), "duplicate host function {}", f.name());
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Cache> {
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn current_generation(&self) -> Arc<Generation> {
        let mut cache = self.lock();
        if cache.compiled_bytes > self.config.engine_code_budget_bytes {
            cache.generation = Arc::new(new_generation(&self.schedule, self.config.metering));
            cache.generations += 1;
            cache.compiled_bytes = 0;
            cache.modules.clear();
        }
        Arc::clone(&cache.generation)
    }

    fn instrumented_for(
        &self,
        code_hash: CodeHash,
        wasm: &[u8],
    ) -> Result<Arc<[u8]>, ValidationReport> {
        let key = (code_hash, self.schedule.version);
        if let Some(hit) = self.lock().instrumented.get(&key) {
            return Ok(Arc::clone(hit));
        }
        let instrumented: Arc<[u8]> = instrument(wasm, &self.schedule, self.config.metering)
            .map_err(|reason| {
                ValidationReport::single(Violation {
                    rule: Rule::InstrumentationFailed,
                    limit: None,
                    actual: None,
                    location: None,
                    message: reason,
                })
            })?
            .into();
        self.lock().instrumented.put(key, Arc::clone(&instrumented));
        Ok(instrumented)
    }

    fn module(
        &self,
        generation: &Arc<Generation>,
        code_hash: CodeHash,
        state: &dyn StateView,
    ) -> Result<Module, VmError> {
        {
            let mut cache = self.lock();
            if Arc::ptr_eq(&cache.generation, generation) {
                if let Some(module) = cache.modules.get(&code_hash) {
                    return Ok(module.clone());
                }
            }
        }
        let corrupt = |reason: String| VmError::CorruptCode {
            code_hash: code_hash.to_hex(),
            reason,
        };
        let cached = self
            .lock()
            .instrumented
            .get(&(code_hash, self.schedule.version))
            .cloned();
        let instrumented = match cached {
            Some(bytes) => bytes,
            None => {
                let original = state
                    .code(&code_hash)?
                    .ok_or_else(|| corrupt("code missing from state".into()))?;
                validate(&original, &self.schedule.limits)
                    .map_err(|report| corrupt(report.to_string()))?;
                self.instrumented_for(code_hash, &original)
                    .map_err(|report| corrupt(report.to_string()))?
            }
        };
        let module = Module::new(&generation.engine, &instrumented[..])
            .map_err(|e| corrupt(e.to_string()))?;
        let mut cache = self.lock();
        if Arc::ptr_eq(&cache.generation, generation) {
            cache.compiled_bytes = cache
                .compiled_bytes
                .saturating_add(instrumented.len() as u64);
            cache.modules.put(code_hash, module.clone());
        }
        Ok(module)
    }
}

/// Execution-wide state, moved from frame to frame.
struct Exec {
    shared: Arc<Shared>,
    generation: Arc<Generation>,
    journal: Journal,
    block: BlockContext,
    breakdown: BTreeMap<GasCategory, u64>,
    logs: Vec<String>,
    /// The recorder of a traced execution.
    trace: Option<Box<Tracer>>,
}

impl Exec {
    fn add(&mut self, category: GasCategory, gas: u64) -> Result<(), VmError> {
        let entry = self.breakdown.entry(category).or_insert(0);
        *entry = entry
            .checked_add(gas)
            .ok_or_else(|| VmError::GasAccounting(format!("{} overflows", category.key())))?;
        Ok(())
    }
}

struct FrameArgs {
    caller: Address,
    contract: Address,
    method: String,
    input: Vec<u8>,
    value: U256,
    gas_limit: u64,
    depth: u32,
}

struct FrameResult {
    status: Status,
    trap_code: Option<TrapCode>,
    output: Vec<u8>,
    gas_used: u64,
}

impl FrameResult {
    fn trap(code: TrapCode, gas_used: u64) -> FrameResult {
        FrameResult {
            status: Status::Trap,
            trap_code: Some(code),
            output: Vec::new(),
            gas_used,
        }
    }
}

/// Where a frame's gas counter lives.
#[derive(Clone, Copy)]
enum GasCell {
    /// The injected global (metered modes).
    Global(Global),
    /// wasmi fuel (comparator).
    Fuel,
    /// A host-side counter (unmetered comparator: only host functions are charged).
    Counter(u64),
}

struct Frame {
    contract: Address,
    caller: Address,
    value: U256,
    input: Vec<u8>,
    depth: u32,
    output: Vec<u8>,
    return_data: Vec<u8>,
    gas: GasCell,
    memory: Option<Memory>,
    /// The memory-growth accumulator (metered modes).
    grow: Option<Global>,
    /// Gas charged by host functions in this frame.
    host_charged: u64,
    /// Gas used by callees of this frame.
    children_used: u64,
}

struct HostState {
    frame: Frame,
    exec: Option<Exec>,
    limits: StoreLimits,
}

/// Why a host function stopped the guest.
#[derive(Debug)]
enum HostAbort {
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

fn map_trap(code: wasmi::TrapCode) -> Option<TrapCode> {
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
        // Out of fuel is out of gas (handled by the caller); host OOM is a node fault.
        W::OutOfFuel | W::OutOfSystemMemory => return None,
    })
}

/// Runs one call frame (the tracer, when there is one, sees it start and end).
fn run_frame(mut exec: Exec, args: FrameArgs) -> Result<(Exec, FrameResult), VmError> {
    if let Some(tracer) = exec.trace.as_mut() {
        tracer.begin_frame(args.contract, &args.method, args.depth)?;
    }
    let (mut exec, frame) = run_frame_inner(exec, args)?;
    if let Some(tracer) = exec.trace.as_mut() {
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
        trace,
        ..
    } = exec;
    let tracer = trace
        .as_mut()
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
    let checkpoint = exec.journal.checkpoint();
    let Some(code_hash) = exec.journal.state().contract_code(&args.contract)? else {
        return Ok((exec, FrameResult::trap(TrapCode::ContractNotFound, 0)));
    };
    let shared = Arc::clone(&exec.shared);
    let generation = Arc::clone(&exec.generation);
    let module = if exec.trace.is_some() {
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
    let instantiation_gas = initial_pages
        .checked_mul(shared.schedule.instance_per_initial_page)
        .and_then(|g| g.checked_add(shared.schedule.instance_base))
        .unwrap_or(u64::MAX);
    if instantiation_gas > gas_limit {
        exec.add(GasCategory::Instantiation, gas_limit)?;
        if let Some(tracer) = exec.trace.as_mut() {
            tracer.frame_charge(GasCategory::Instantiation, gas_limit)?;
        }
        exec.journal.revert_to(checkpoint);
        let frame = FrameResult {
            status: Status::OutOfGas,
            trap_code: None,
            output: Vec::new(),
            gas_used: gas_limit,
        };
        return Ok((exec, frame));
    }
    exec.add(GasCategory::Instantiation, instantiation_gas)?;
    if let Some(tracer) = exec.trace.as_mut() {
        tracer.frame_charge(GasCategory::Instantiation, instantiation_gas)?;
        tracer.counters_start(gas_limit - instantiation_gas)?;
    }
    let gas_after_instantiation = gas_limit - instantiation_gas;
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
        host_charged: instantiation_gas,
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
            return finish_frame(store, checkpoint, gas_limit, Err(code), None);
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
        return finish_frame(
            store,
            checkpoint,
            gas_limit,
            Err(TrapCode::MethodNotFound),
            grow_global,
        );
    };
    let result = entry.call(&mut store, ());
    let verdict = match result {
        // Straight-line code after the last check point may have overdrawn the counter.
        Ok(()) if counter_negative(&store) => Err(Stop::OutOfGas),
        Ok(()) => Ok(()),
        // Any stop after straight-line code overdrew the counter is out of gas: the block that
        // could not be paid must not be observable as a trap or a revert.
        Err(error) => match classify(&store, error)? {
            Stop::Revert(_) | Stop::Trap(_) if counter_negative(&store) => Err(Stop::OutOfGas),
            stop => Err(stop),
        },
    };
    match verdict {
        Ok(()) => finish_frame(store, checkpoint, gas_limit, Ok(None), grow_global),
        Err(Stop::Revert(data)) => {
            finish_frame(store, checkpoint, gas_limit, Ok(Some(data)), grow_global)
        }
        Err(Stop::Trap(code)) => finish_frame(store, checkpoint, gas_limit, Err(code), grow_global),
        Err(Stop::OutOfGas) => finish_out_of_gas(store, checkpoint, gas_limit, grow_global),
    }
}

enum Stop {
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

/// `result`: `Ok(None)` success, `Ok(Some(data))` revert, `Err(code)` trap.
fn finish_frame(
    store: Store<HostState>,
    checkpoint: crate::state::Checkpoint,
    gas_limit: u64,
    result: Result<Option<Vec<u8>>, TrapCode>,
    grow_global: Option<Global>,
) -> Result<(Exec, FrameResult), VmError> {
    let left = gas_left_of(&store)?;
    let gas_used = gas_limit
        .checked_sub(left)
        .ok_or_else(|| VmError::GasAccounting(format!("{left} gas left of a {gas_limit} limit")))?;
    settle(store, checkpoint, gas_used, result.map(Some), grow_global)
}

fn finish_out_of_gas(
    store: Store<HostState>,
    checkpoint: crate::state::Checkpoint,
    gas_limit: u64,
    grow_global: Option<Global>,
) -> Result<(Exec, FrameResult), VmError> {
    settle(store, checkpoint, gas_limit, Ok(None), grow_global)
}

/// Closes a frame: attributes the frame's instruction and memory gas, rolls back on failure.
/// `result`: `Ok(Some(None))` success, `Ok(Some(Some(data)))` revert, `Ok(None)` out of gas,
/// `Err(code)` trap.
fn settle(
    store: Store<HostState>,
    checkpoint: crate::state::Checkpoint,
    gas_used: u64,
    result: Result<Option<Option<Vec<u8>>>, TrapCode>,
    grow_global: Option<Global>,
) -> Result<(Exec, FrameResult), VmError> {
    let memory_gas = grow_global
        .and_then(|g| g.get(&store).i64())
        .map_or(0, |v| v as u64);
    let HostState { frame, exec, .. } = store.into_data();
    let mut exec =
        exec.ok_or_else(|| VmError::GasAccounting("execution state lost by a callee".into()))?;
    if let Some(tracer) = exec.trace.as_mut() {
        tracer.frame_memory(memory_gas)?;
    }
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
    exec.add(GasCategory::Instructions, instructions)?;
    exec.add(GasCategory::MemoryGrowth, memory_gas)?;
    let frame_result = match result {
        Ok(Some(None)) => FrameResult {
            status: Status::Success,
            trap_code: None,
            output: frame.output,
            gas_used,
        },
        Ok(Some(Some(data))) => FrameResult {
            status: Status::Revert,
            trap_code: None,
            output: data,
            gas_used,
        },
        Ok(None) => FrameResult {
            status: Status::OutOfGas,
            trap_code: None,
            output: Vec::new(),
            gas_used,
        },
        Err(code) => FrameResult::trap(code, gas_used),
    };
    if frame_result.status != Status::Success {
        exec.journal.revert_to(checkpoint);
    }
    Ok((exec, frame_result))
}

// ---------------------------------------------------------------------------------------------
// Host functions
// ---------------------------------------------------------------------------------------------

type Ctx<'a> = Caller<'a, HostState>;
type HostResult<T> = Result<T, wasmi::Error>;

/// Gas left in this frame; `None` when straight-line code overdrew the counter (out of gas).
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

/// The one gas meter of host functions: checked arithmetic, charged before the work. When the
/// gas left cannot pay, what is left is attributed to `category` and execution stops.
fn charge(caller: &mut Ctx<'_>, category: GasCategory, amount: u64) -> HostResult<()> {
    let left = gas_left(caller)?;
    let (paid, exhausted) = if amount > left {
        (left, true)
    } else {
        (amount, false)
    };
    set_gas_left(caller, left - paid)?;
    caller.data_mut().frame.host_charged += paid;
    let exec = exec_mut(caller)?;
    exec.add(category, paid).map_err(fatal)?;
    if exec.trace.is_some() {
        let grow = grow_gas(caller);
        tracer_mut(caller)?
            .host_charge(category, left, paid, grow)
            .map_err(fatal)?;
    }
    if exhausted {
        return Err(abort(HostAbort::OutOfGas));
    }
    Ok(())
}

/// Charges `base + per_byte × bytes` of `f`.
fn charge_host(caller: &mut Ctx<'_>, f: HostFn, bytes: u64) -> HostResult<()> {
    let cost = {
        let exec = exec_ref(caller)?;
        f.cost(&exec.shared.schedule)
    };
    // An overflowing product can never be paid: charge everything left.
    let amount = cost
        .per_byte
        .checked_mul(bytes)
        .and_then(|v| v.checked_add(cost.base))
        .unwrap_or(u64::MAX);
    if let Some(tracer) = exec_mut(caller)?.trace.as_mut() {
        tracer.host_begin(f).map_err(fatal)?;
    }
    charge(caller, GasCategory::Host(f), amount)
}

/// The tracer of a traced execution.
fn tracer_mut<'a>(caller: &'a mut Ctx<'_>) -> HostResult<&'a mut Tracer> {
    exec_mut(caller)?
        .trace
        .as_deref_mut()
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
fn trace_enter(mut caller: Ctx<'_>, index: i32) -> HostResult<()> {
    let (left, grow) = (raw_gas_left(&caller)?, grow_gas(&caller));
    tracer_mut(&mut caller)?
        .enter(index as u32, left, grow)
        .map_err(fatal)
}

/// Hook `opmeter_trace.exit()`.
fn trace_exit(mut caller: Ctx<'_>) -> HostResult<()> {
    let (left, grow) = (raw_gas_left(&caller)?, grow_gas(&caller));
    tracer_mut(&mut caller)?.exit(left, grow).map_err(fatal)
}

/// Hook `opmeter_trace.block(site)`.
fn trace_block(mut caller: Ctx<'_>, site: i32) -> HostResult<()> {
    tracer_mut(&mut caller)?.block(site as u32).map_err(fatal)
}

fn define_trace_functions(linker: &mut Linker<HostState>) -> Result<(), VmError> {
    let engine = |e: wasmi::errors::LinkerError| VmError::Engine(e.to_string());
    linker
        .func_wrap(TRACE_MODULE, "enter", trace_enter)
        .map_err(engine)?;
    linker
        .func_wrap(TRACE_MODULE, "exit", trace_exit)
        .map_err(engine)?;
    linker
        .func_wrap(TRACE_MODULE, "block", trace_block)
        .map_err(engine)?;
    Ok(())
}

fn schedule_of<'a>(caller: &'a Ctx<'_>) -> HostResult<&'a Schedule> {
    Ok(&exec_ref(caller)?.shared.schedule)
}

fn range(ptr: i32, len: u64) -> HostResult<std::ops::Range<usize>> {
    let start = u64::from(ptr as u32);
    let end = start
        .checked_add(len)
        .ok_or_else(|| trap(TrapCode::HostMemoryOutOfBounds))?;
    Ok(start as usize..end as usize)
}

fn memory(caller: &Ctx<'_>) -> HostResult<Memory> {
    caller
        .data()
        .frame
        .memory
        .ok_or_else(|| fatal(VmError::Engine("memory not bound".into())))
}

fn read_bytes(caller: &Ctx<'_>, ptr: i32, len: i32) -> HostResult<Vec<u8>> {
    let memory = memory(caller)?;
    let range = range(ptr, u64::from(len as u32))?;
    memory
        .data(caller)
        .get(range)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| trap(TrapCode::HostMemoryOutOfBounds))
}

fn read_32(caller: &Ctx<'_>, ptr: i32) -> HostResult<[u8; 32]> {
    let memory = memory(caller)?;
    let range = range(ptr, 32)?;
    let slice = memory
        .data(caller)
        .get(range)
        .ok_or_else(|| trap(TrapCode::HostMemoryOutOfBounds))?;
    let mut out = [0u8; 32];
    out.copy_from_slice(slice);
    Ok(out)
}

fn write_bytes(caller: &mut Ctx<'_>, ptr: i32, bytes: &[u8]) -> HostResult<()> {
    let memory = memory(caller)?;
    let range = range(ptr, bytes.len() as u64)?;
    memory
        .data_mut(&mut *caller)
        .get_mut(range)
        .ok_or_else(|| trap(TrapCode::HostMemoryOutOfBounds))?
        .copy_from_slice(bytes);
    Ok(())
}

fn u256_le(bytes: &[u8; 32]) -> U256 {
    U256::from_little_endian(bytes)
}

fn u256_bytes(value: U256) -> [u8; 32] {
    value.to_little_endian()
}

fn len_u64(len: i32) -> u64 {
    u64::from(len as u32)
}

fn input_len(mut caller: Ctx<'_>) -> HostResult<i32> {
    charge_host(&mut caller, HostFn::InputLen, 0)?;
    Ok(caller.data().frame.input.len() as i32)
}

fn input_read(mut caller: Ctx<'_>, ptr: i32) -> HostResult<()> {
    let len = caller.data().frame.input.len() as u64;
    charge_host(&mut caller, HostFn::InputRead, len)?;
    let input = std::mem::take(&mut caller.data_mut().frame.input);
    let result = write_bytes(&mut caller, ptr, &input);
    caller.data_mut().frame.input = input;
    result
}

fn check_output_len(caller: &Ctx<'_>, len: i32) -> HostResult<()> {
    if len_u64(len) > u64::from(schedule_of(caller)?.limits.max_output_len_bytes) {
        return Err(trap(TrapCode::OutputTooLarge));
    }
    Ok(())
}

fn output_set(mut caller: Ctx<'_>, ptr: i32, len: i32) -> HostResult<()> {
    check_output_len(&caller, len)?;
    charge_host(&mut caller, HostFn::OutputSet, len_u64(len))?;
    let output = read_bytes(&caller, ptr, len)?;
    caller.data_mut().frame.output = output;
    Ok(())
}

fn revert(mut caller: Ctx<'_>, ptr: i32, len: i32) -> HostResult<()> {
    check_output_len(&caller, len)?;
    charge_host(&mut caller, HostFn::Revert, len_u64(len))?;
    let data = read_bytes(&caller, ptr, len)?;
    Err(abort(HostAbort::Revert(data)))
}

fn check_key(caller: &Ctx<'_>, key_len: i32) -> HostResult<()> {
    if len_u64(key_len) > u64::from(schedule_of(caller)?.limits.max_storage_key_len_bytes) {
        return Err(trap(TrapCode::KeyTooLarge));
    }
    Ok(())
}

fn storage_read(
    mut caller: Ctx<'_>,
    key_ptr: i32,
    key_len: i32,
    val_ptr: i32,
    val_cap: i32,
) -> HostResult<i32> {
    check_key(&caller, key_len)?;
    charge_host(&mut caller, HostFn::StorageRead, len_u64(key_len))?;
    let key = read_bytes(&caller, key_ptr, key_len)?;
    let contract = caller.data().frame.contract;
    let value = exec_ref(&caller)?
        .journal
        .storage_read(&contract, &key)
        .map_err(fatal)?;
    let Some(value) = value else { return Ok(-1) };
    let copied = value.len().min(val_cap as u32 as usize);
    let per_byte = HostFn::StorageRead.cost(schedule_of(&caller)?).per_byte;
    charge(
        &mut caller,
        GasCategory::Host(HostFn::StorageRead),
        per_byte.saturating_mul(copied as u64),
    )?;
    write_bytes(&mut caller, val_ptr, &value[..copied])?;
    Ok(value.len() as i32)
}

fn storage_write(
    mut caller: Ctx<'_>,
    key_ptr: i32,
    key_len: i32,
    val_ptr: i32,
    val_len: i32,
) -> HostResult<()> {
    check_key(&caller, key_len)?;
    let (per_byte_written, value_max) = {
        let schedule = schedule_of(&caller)?;
        (
            schedule.host.storage_byte_written,
            schedule.limits.max_storage_value_len_bytes,
        )
    };
    if len_u64(val_len) > u64::from(value_max) {
        return Err(trap(TrapCode::ValueTooLarge));
    }
    let bytes = len_u64(key_len) + len_u64(val_len);
    charge_host(&mut caller, HostFn::StorageWrite, bytes)?;
    charge(
        &mut caller,
        GasCategory::StorageBytes,
        per_byte_written.saturating_mul(bytes),
    )?;
    let key = read_bytes(&caller, key_ptr, key_len)?;
    let value = read_bytes(&caller, val_ptr, val_len)?;
    let contract = caller.data().frame.contract;
    exec_mut(&mut caller)?
        .journal
        .storage_set(contract, key, Some(value));
    Ok(())
}

fn storage_remove(mut caller: Ctx<'_>, key_ptr: i32, key_len: i32) -> HostResult<i32> {
    check_key(&caller, key_len)?;
    charge_host(&mut caller, HostFn::StorageRemove, len_u64(key_len))?;
    let key = read_bytes(&caller, key_ptr, key_len)?;
    let contract = caller.data().frame.contract;
    let journal = &mut exec_mut(&mut caller)?.journal;
    let existed = journal
        .storage_read(&contract, &key)
        .map_err(fatal)?
        .is_some();
    if existed {
        journal.storage_set(contract, key, None);
    }
    Ok(i32::from(existed))
}

fn caller_fn(mut caller: Ctx<'_>, out_ptr: i32) -> HostResult<()> {
    charge_host(&mut caller, HostFn::Caller, 0)?;
    let address = caller.data().frame.caller;
    write_bytes(&mut caller, out_ptr, &address.0)
}

fn address_fn(mut caller: Ctx<'_>, out_ptr: i32) -> HostResult<()> {
    charge_host(&mut caller, HostFn::Address, 0)?;
    let address = caller.data().frame.contract;
    write_bytes(&mut caller, out_ptr, &address.0)
}

fn value_fn(mut caller: Ctx<'_>, out_ptr: i32) -> HostResult<()> {
    charge_host(&mut caller, HostFn::Value, 0)?;
    let value = caller.data().frame.value;
    write_bytes(&mut caller, out_ptr, &u256_bytes(value))
}

fn block_height(mut caller: Ctx<'_>) -> HostResult<i64> {
    charge_host(&mut caller, HostFn::BlockHeight, 0)?;
    Ok(exec_ref(&caller)?.block.height as i64)
}

fn block_timestamp(mut caller: Ctx<'_>) -> HostResult<i64> {
    charge_host(&mut caller, HostFn::BlockTimestamp, 0)?;
    Ok(exec_ref(&caller)?.block.timestamp_ms as i64)
}

fn balance(mut caller: Ctx<'_>, addr_ptr: i32, out_ptr: i32) -> HostResult<()> {
    charge_host(&mut caller, HostFn::Balance, 0)?;
    let account = Address(read_32(&caller, addr_ptr)?);
    let balance = exec_ref(&caller)?
        .journal
        .balance(&account)
        .map_err(fatal)?;
    write_bytes(&mut caller, out_ptr, &u256_bytes(balance))
}

fn gas_left_fn(mut caller: Ctx<'_>) -> HostResult<i64> {
    charge_host(&mut caller, HostFn::GasLeft, 0)?;
    Ok(gas_left(&caller)? as i64)
}

fn event_emit(
    mut caller: Ctx<'_>,
    topics_ptr: i32,
    topic_count: i32,
    data_ptr: i32,
    data_len: i32,
) -> HostResult<()> {
    let (per_topic, limits_ok) = {
        let exec = exec_ref(&caller)?;
        let limits = &exec.shared.schedule.limits;
        let ok = len_u64(topic_count) <= u64::from(limits.max_event_topics)
            && len_u64(data_len) <= u64::from(limits.max_event_data_len_bytes)
            && (exec.journal.events.len() as u64) < u64::from(limits.max_events_per_call);
        (exec.shared.schedule.host.event_per_topic, ok)
    };
    if !limits_ok {
        return Err(trap(TrapCode::EventLimit));
    }
    charge_host(&mut caller, HostFn::EventEmit, len_u64(data_len))?;
    charge(
        &mut caller,
        GasCategory::Host(HostFn::EventEmit),
        per_topic.saturating_mul(len_u64(topic_count)),
    )?;
    let raw_topics = read_bytes(
        &caller,
        topics_ptr,
        (topic_count as u32).saturating_mul(32) as i32,
    )?;
    let topics = raw_topics
        .chunks_exact(32)
        .map(|chunk| {
            let mut topic = [0u8; 32];
            topic.copy_from_slice(chunk);
            topic
        })
        .collect();
    let data = read_bytes(&caller, data_ptr, data_len)?;
    let contract = caller.data().frame.contract;
    exec_mut(&mut caller)?
        .journal
        .events
        .push(crate::types::Event {
            contract,
            topics,
            data,
        });
    Ok(())
}

fn debug_log(mut caller: Ctx<'_>, ptr: i32, len: i32) -> HostResult<()> {
    charge_host(&mut caller, HostFn::DebugLog, len_u64(len))?;
    let (max_len, max_lines) = {
        let limits = &schedule_of(&caller)?.limits;
        (
            limits.max_debug_log_len_bytes,
            limits.max_debug_logs_per_call,
        )
    };
    // The whole range must be inside memory (as for every host function); only the kept prefix
    // is copied.
    let memory_len = memory(&caller)?.data(&caller).len();
    if range(ptr, len_u64(len))?.end > memory_len {
        return Err(trap(TrapCode::HostMemoryOutOfBounds));
    }
    let take = (len as u32).min(max_len) as i32;
    let bytes = read_bytes(&caller, ptr, take)?;
    let exec = exec_mut(&mut caller)?;
    if exec.logs.len() < max_lines as usize {
        exec.logs.push(String::from_utf8_lossy(&bytes).into_owned());
    }
    Ok(())
}

fn blake3_fn(mut caller: Ctx<'_>, ptr: i32, len: i32, out_ptr: i32) -> HostResult<()> {
    charge_host(&mut caller, HostFn::Blake3, len_u64(len))?;
    let data = read_bytes(&caller, ptr, len)?;
    let hash = blake3::hash(&data);
    write_bytes(&mut caller, out_ptr, hash.as_bytes())
}

fn u256_op(
    mut caller: Ctx<'_>,
    f: HostFn,
    a_ptr: i32,
    b_ptr: i32,
    out_ptr: i32,
) -> HostResult<i32> {
    charge_host(&mut caller, f, 0)?;
    let a = u256_le(&read_32(&caller, a_ptr)?);
    let b = u256_le(&read_32(&caller, b_ptr)?);
    let (value, code) = match f {
        HostFn::U256Add => {
            let (v, o) = a.overflowing_add(b);
            (v, i32::from(o))
        }
        HostFn::U256Sub => {
            let (v, o) = a.overflowing_sub(b);
            (v, i32::from(o))
        }
        HostFn::U256Mul => {
            let (v, o) = a.overflowing_mul(b);
            (v, i32::from(o))
        }
        HostFn::U256Pow => {
            let (v, o) = a.overflowing_pow(b);
            (v, i32::from(o))
        }
        HostFn::U256Div => a.checked_div(b).map_or((U256::zero(), 2), |v| (v, 0)),
        HostFn::U256Mod => a.checked_rem(b).map_or((U256::zero(), 2), |v| (v, 0)),
        _ => {
            return Err(fatal(VmError::Engine(
                "u256_op called for a non-u256 function".into(),
            )))
        }
    };
    write_bytes(&mut caller, out_ptr, &u256_bytes(value))?;
    Ok(code)
}

/// Call status codes returned to the calling contract (see `specs/abi.md`).
fn call_status(frame: &FrameResult) -> i32 {
    match (frame.status, frame.trap_code) {
        (Status::Success, _) => 0,
        (Status::Revert, _) => 1,
        (Status::OutOfGas, _) => 3,
        (Status::Trap, Some(TrapCode::ContractNotFound)) => 4,
        (Status::Trap, Some(TrapCode::MethodNotFound)) => 5,
        (Status::Trap, Some(TrapCode::InsufficientBalance)) => 6,
        (Status::Trap, _) => 2,
    }
}

#[allow(clippy::too_many_arguments)]
fn call(
    mut caller: Ctx<'_>,
    addr_ptr: i32,
    method_ptr: i32,
    method_len: i32,
    input_ptr: i32,
    input_len: i32,
    value_ptr: i32,
    gas_limit: i64,
) -> HostResult<i32> {
    let (max_depth, max_method, max_input) = {
        let limits = &schedule_of(&caller)?.limits;
        (
            limits.max_call_depth,
            limits.max_method_name_len_bytes,
            limits.max_input_len_bytes,
        )
    };
    if len_u64(method_len) > u64::from(max_method) {
        return Err(trap(TrapCode::InvalidMethodName));
    }
    if len_u64(input_len) > u64::from(max_input) {
        return Err(trap(TrapCode::InputTooLarge));
    }
    charge_host(
        &mut caller,
        HostFn::Call,
        len_u64(method_len) + len_u64(input_len),
    )?;
    let depth = caller.data().frame.depth;
    if depth >= max_depth {
        return Err(trap(TrapCode::CallDepthExceeded));
    }
    let contract = Address(read_32(&caller, addr_ptr)?);
    let method = String::from_utf8(read_bytes(&caller, method_ptr, method_len)?)
        .map_err(|_| trap(TrapCode::InvalidMethodName))?;
    let input = read_bytes(&caller, input_ptr, input_len)?;
    let value = u256_le(&read_32(&caller, value_ptr)?);
    let left = gas_left(&caller)?;
    let requested = gas_limit as u64;
    let child_limit = if requested == 0 || requested > left {
        left
    } else {
        requested
    };
    let exec = caller
        .data_mut()
        .exec
        .take()
        .ok_or_else(|| fatal(VmError::GasAccounting("execution state missing".into())))?;
    let args = FrameArgs {
        caller: caller.data().frame.contract,
        contract,
        method,
        input,
        value,
        gas_limit: child_limit,
        depth: depth + 1,
    };
    let mut exec = exec;
    if let Some(tracer) = exec.trace.as_mut() {
        tracer.call_begin().map_err(fatal)?;
    }
    let (mut exec, result) = run_frame(exec, args).map_err(fatal)?;
    let remaining = left.checked_sub(result.gas_used).ok_or_else(|| {
        fatal(VmError::GasAccounting(
            "callee used more than its limit".into(),
        ))
    })?;
    if let Some(tracer) = exec.trace.as_mut() {
        tracer.call_end(result.gas_used, remaining).map_err(fatal)?;
    }
    caller.data_mut().exec = Some(exec);
    set_gas_left(&mut caller, remaining)?;
    caller.data_mut().frame.children_used += result.gas_used;
    if result.trap_code == Some(TrapCode::CallDepthExceeded) {
        // A depth bomb cannot be caught: it ends the whole execution the same way every time.
        return Err(trap(TrapCode::CallDepthExceeded));
    }
    let status = call_status(&result);
    caller.data_mut().frame.return_data = match result.status {
        Status::Success | Status::Revert => result.output,
        Status::Trap | Status::OutOfGas => Vec::new(),
    };
    Ok(status)
}

fn return_data_len(mut caller: Ctx<'_>) -> HostResult<i32> {
    charge_host(&mut caller, HostFn::ReturnDataLen, 0)?;
    Ok(caller.data().frame.return_data.len() as i32)
}

fn return_data_read(mut caller: Ctx<'_>, ptr: i32) -> HostResult<()> {
    let len = caller.data().frame.return_data.len() as u64;
    charge_host(&mut caller, HostFn::ReturnDataRead, len)?;
    let data = std::mem::take(&mut caller.data_mut().frame.return_data);
    let result = write_bytes(&mut caller, ptr, &data);
    caller.data_mut().frame.return_data = data;
    result
}

/// The host entry point of one 256-bit operation.
macro_rules! u256_entry {
    ($f:expr) => {
        |c: Ctx<'_>, a: i32, b: i32, o: i32| u256_op(c, $f, a, b, o)
    };
}

fn define_host_functions(linker: &mut Linker<HostState>) {
    for &f in HostFn::ALL {
        let m = HOST_MODULE;
        let n = f.name();
        let defined = match f {
            HostFn::InputLen => linker.func_wrap(m, n, input_len),
            HostFn::InputRead => linker.func_wrap(m, n, input_read),
            HostFn::OutputSet => linker.func_wrap(m, n, output_set),
            HostFn::Revert => linker.func_wrap(m, n, revert),
            HostFn::StorageRead => linker.func_wrap(m, n, storage_read),
            HostFn::StorageWrite => linker.func_wrap(m, n, storage_write),
            HostFn::StorageRemove => linker.func_wrap(m, n, storage_remove),
            HostFn::Caller => linker.func_wrap(m, n, caller_fn),
            HostFn::Address => linker.func_wrap(m, n, address_fn),
            HostFn::Value => linker.func_wrap(m, n, value_fn),
            HostFn::BlockHeight => linker.func_wrap(m, n, block_height),
            HostFn::BlockTimestamp => linker.func_wrap(m, n, block_timestamp),
            HostFn::Balance => linker.func_wrap(m, n, balance),
            HostFn::GasLeft => linker.func_wrap(m, n, gas_left_fn),
            HostFn::EventEmit => linker.func_wrap(m, n, event_emit),
            HostFn::DebugLog => linker.func_wrap(m, n, debug_log),
            HostFn::Blake3 => linker.func_wrap(m, n, blake3_fn),
            HostFn::U256Add => linker.func_wrap(m, n, u256_entry!(HostFn::U256Add)),
            HostFn::U256Sub => linker.func_wrap(m, n, u256_entry!(HostFn::U256Sub)),
            HostFn::U256Mul => linker.func_wrap(m, n, u256_entry!(HostFn::U256Mul)),
            HostFn::U256Div => linker.func_wrap(m, n, u256_entry!(HostFn::U256Div)),
            HostFn::U256Mod => linker.func_wrap(m, n, u256_entry!(HostFn::U256Mod)),
            HostFn::U256Pow => linker.func_wrap(m, n, u256_entry!(HostFn::U256Pow)),
            HostFn::Call => linker.func_wrap(m, n, call),
            HostFn::ReturnDataLen => linker.func_wrap(m, n, return_data_len),
            HostFn::ReturnDataRead => linker.func_wrap(m, n, return_data_read),
        };
        // Names are unique by construction (the ABI table), so defining cannot fail.
        debug_assert!(defined.is_ok(), "duplicate host function {n}");
    }
}
