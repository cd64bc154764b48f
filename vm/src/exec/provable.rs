//! Provable calls: a `provable:<method>` export run with integer arguments on the production
//! instrumentation and a host that only traps. Their gas is what the prover proves.

use std::sync::Arc;

use wasmi::{Linker, Store, StoreLimits, Val};

use super::cache::store_limits;
use super::frame::map_trap;
use super::{DeployView, PreparedCode, Vm, MAX_GAS_LIMIT};
use crate::abi::{AbiType, HostFn, GAS_GLOBAL_EXPORT, HOST_MODULE, PROVABLE_EXPORT_PREFIX};
use crate::outcome::{ProvableOutcome, VmError};
use crate::state::MemoryState;
use crate::types::{Address, Status, TrapCode};

/// Every host function of the ABI as a stub that traps with `unreachable`: what a provable call
/// links against (it has no host).
pub(super) fn define_trapping_host_functions(linker: &mut Linker<StoreLimits>) {
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

impl Vm {
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
        let generation = self.shared.current_generation(false);
        let view = DeployView {
            inner: Arc::new(MemoryState::default()),
            address: Address::default(),
            code: code.clone(),
        };
        self.shared.remember_instrumented(code);
        let module = self.shared.module(&generation, code.code_hash, &view)?;
        let outcome = |status, result, gas_used| ProvableOutcome {
            status,
            result,
            gas_used,
            gas_limit,
            schedule_hash: self.shared.schedule_hash,
        };
        let trap = |code| outcome(Status::Trap(code), None, 0);
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
                return Ok(trap(code));
            }
        };
        let export = format!("{PROVABLE_EXPORT_PREFIX}{method}");
        let Some(func) = instance.get_func(&store, &export) else {
            return Ok(trap(TrapCode::MethodNotFound));
        };
        let ty = func.ty(&store);
        if ty.params().len() != args.len() || ty.results().len() > 1 {
            return Ok(trap(TrapCode::MethodNotFound));
        }
        let mut params = Vec::with_capacity(args.len());
        for (ty, &arg) in ty.params().iter().zip(args) {
            params.push(match ty {
                // The low 32 bits, as documented: truncation is the convention.
                wasmi::ValType::I32 => Val::I32(arg as u32 as i32),
                wasmi::ValType::I64 => Val::I64(arg as i64),
                _ => return Ok(trap(TrapCode::MethodNotFound)),
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
        let start = i64::try_from(gas_limit)
            .map_err(|_| VmError::GasAccounting(format!("gas limit {gas_limit} above i64")))?;
        gas.set(&mut store, Val::I64(start))
            .map_err(|e| VmError::Engine(e.to_string()))?;
        let called = func.call(&mut store, &params, &mut results);
        let left = gas
            .get(&store)
            .i64()
            .ok_or_else(|| VmError::Engine("gas global is not i64".into()))?;
        let Ok(left) = u64::try_from(left) else {
            return Ok(outcome(Status::OutOfGas, None, gas_limit));
        };
        let gas_used = gas_limit.checked_sub(left).ok_or_else(|| {
            VmError::GasAccounting(format!("{left} gas left of a {gas_limit} limit"))
        })?;
        match called {
            Ok(()) => {
                let result = results.first().map(|v| match v {
                    Val::I32(x) => u64::from(*x as u32),
                    Val::I64(x) => *x as u64,
                    _ => 0,
                });
                Ok(outcome(Status::Success, result, gas_used))
            }
            Err(e) => {
                let code = e
                    .as_trap_code()
                    .and_then(map_trap)
                    .ok_or_else(|| VmError::Engine(e.to_string()))?;
                Ok(outcome(Status::Trap(code), None, gas_used))
            }
        }
    }
}
