//! Engines and code caches: the engine configuration, engine generations (a wasmi `Engine` never
//! frees compiled code, so the vm rotates to a new one after `engine_code_budget_bytes`), the
//! instrumented-code cache and the per-generation module cache. Caches change speed, never gas.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use lru::LruCache;
use wasmi::{CompilationMode, Config, Engine, Linker, Module, StoreLimits, StoreLimitsBuilder};

use super::frame::HostState;
use super::host::{define_host_functions, define_trace_functions};
use super::provable::define_trapping_host_functions;
use super::{CacheStats, PreparedCode, VmConfig};
use crate::instrument::{instrument, Metering};
use crate::outcome::VmError;
use crate::schedule::Schedule;
use crate::state::StateView;
use crate::types::CodeHash;
use crate::validate::{validate, Rule, ValidationReport, Violation};

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

/// One engine and the linker of the host functions on it. Executions in flight keep their
/// generation alive after a rotation.
pub(super) struct Generation {
    pub(super) engine: Engine,
    pub(super) linker: Linker<HostState>,
    /// Whether the engine counts fuel to look at an interrupt (never for
    /// [`Metering::Fuel`], whose fuel is the gas).
    pub(super) interruptible: bool,
    /// The linker of provable calls: every host import is a stub that traps.
    pub(super) pure_linker: Linker<StoreLimits>,
}

impl Generation {
    /// A new engine for `metering` with the host ABI linked; `interruptible` also counts wasmi
    /// fuel, only to pace the looks at an interrupt.
    fn new(schedule: &Schedule, metering: Metering, interruptible: bool) -> Generation {
        let interruptible = interruptible && metering != Metering::Fuel;
        let mut config = engine_config(schedule, metering);
        if interruptible {
            config.consume_fuel(true);
        }
        let engine = Engine::new(&config);
        let mut linker = Linker::new(&engine);
        define_host_functions(&mut linker);
        let mut pure_linker = Linker::new(&engine);
        define_trapping_host_functions(&mut pure_linker);
        Generation {
            engine,
            linker,
            interruptible,
            pure_linker,
        }
    }

    /// The engine of one traced execution: injected metering, plus the tracer's hooks.
    pub(super) fn traced(schedule: &Schedule, interruptible: bool) -> Result<Generation, VmError> {
        let mut generation = Generation::new(schedule, Metering::Injected, interruptible);
        define_trace_functions(&mut generation.linker)?;
        Ok(generation)
    }
}

/// The mutable part of the vm: the current generation and both caches.
struct Cache {
    generation: Arc<Generation>,
    /// The interruptible engine of the same generation (read-only executions with an
    /// interrupt), with its own module cache.
    interruptible: Arc<Generation>,
    generations: u64,
    /// Wasm compiled by both engines of the generation.
    compiled_bytes: u64,
    modules: LruCache<CodeHash, Module>,
    interruptible_modules: LruCache<CodeHash, Module>,
    instrumented: LruCache<(CodeHash, u32), Arc<[u8]>>,
}

/// What every clone of a [`super::Vm`] shares.
pub(super) struct Shared {
    pub(super) schedule: Schedule,
    pub(super) schedule_hash: [u8; 32],
    pub(super) config: VmConfig,
    cache: Mutex<Cache>,
    module_hits: AtomicU64,
    module_misses: AtomicU64,
}

impl Shared {
    pub(super) fn new(schedule: Schedule, config: VmConfig) -> Shared {
        let schedule_hash = schedule.hash();
        let generation = Arc::new(Generation::new(&schedule, config.metering, false));
        let interruptible = Arc::new(Generation::new(&schedule, config.metering, true));
        let cache = Cache {
            generation,
            interruptible,
            generations: 1,
            compiled_bytes: 0,
            modules: LruCache::new(config.module_cache_capacity),
            interruptible_modules: LruCache::new(config.module_cache_capacity),
            instrumented: LruCache::new(config.instrumented_cache_capacity),
        };
        Shared {
            schedule,
            schedule_hash,
            config,
            cache: Mutex::new(cache),
            module_hits: AtomicU64::new(0),
            module_misses: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Cache> {
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn stats(&self) -> CacheStats {
        let cache = self.lock();
        CacheStats {
            modules: cache.modules.len(),
            interruptible_modules: cache.interruptible_modules.len(),
            instrumented: cache.instrumented.len(),
            generations: cache.generations,
            compiled_bytes: cache.compiled_bytes,
            module_hits: self.module_hits.load(Ordering::Relaxed),
            module_misses: self.module_misses.load(Ordering::Relaxed),
        }
    }

    /// The engine new executions use (the interruptible one when `interruptible`); rotates to
    /// a fresh generation (and drops the module caches) once the current one compiled more
    /// than its code budget.
    pub(super) fn current_generation(&self, interruptible: bool) -> Arc<Generation> {
        let mut cache = self.lock();
        if cache.compiled_bytes > self.config.engine_code_budget_bytes {
            let metering = self.config.metering;
            cache.generation = Arc::new(Generation::new(&self.schedule, metering, false));
            cache.interruptible = Arc::new(Generation::new(&self.schedule, metering, true));
            cache.generations += 1;
            cache.compiled_bytes = 0;
            cache.modules.clear();
            cache.interruptible_modules.clear();
        }
        if interruptible {
            Arc::clone(&cache.interruptible)
        } else {
            Arc::clone(&cache.generation)
        }
    }

    /// Caches prepared code's instrumented bytes.
    pub(super) fn remember_instrumented(&self, code: &PreparedCode) {
        self.lock().instrumented.put(
            (code.code_hash, self.schedule.version),
            Arc::clone(&code.instrumented),
        );
    }

    /// The instrumented bytes of `wasm` (cached per code hash and schedule version).
    pub(super) fn instrumented_for(
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

    /// The compiled module of `code_hash` on `generation`: from the module cache, else compiled
    /// (from cached instrumented bytes, else from the code in `state`, validated again).
    pub(super) fn module(
        &self,
        generation: &Arc<Generation>,
        code_hash: CodeHash,
        state: &dyn StateView,
    ) -> Result<Module, VmError> {
        if let Some(module) = self
            .lock()
            .modules_of(generation)
            .and_then(|m| m.get(&code_hash))
        {
            self.module_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(module.clone());
        }
        self.module_misses.fetch_add(1, Ordering::Relaxed);
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
        let compiled = instrumented.len() as u64;
        if let Some(modules) = cache.modules_of(generation) {
            modules.put(code_hash, module.clone());
            cache.compiled_bytes = cache.compiled_bytes.saturating_add(compiled);
        }
        Ok(module)
    }
}

impl Cache {
    /// The module cache of `generation`; `None` for a generation rotated away (its modules are
    /// compiled per execution and not kept).
    fn modules_of(
        &mut self,
        generation: &Arc<Generation>,
    ) -> Option<&mut LruCache<CodeHash, Module>> {
        if Arc::ptr_eq(&self.generation, generation) {
            Some(&mut self.modules)
        } else if Arc::ptr_eq(&self.interruptible, generation) {
            Some(&mut self.interruptible_modules)
        } else {
            None
        }
    }
}
