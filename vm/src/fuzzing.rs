//! Generators and oracles for fuzzing (feature `fuzzing`).
//!
//! Every fuzz target in `fuzz/` is a few lines of glue over one function here, and the
//! regression tests (`vm/tests/all/fuzz_regressions.rs`) feed the kept inputs through the same
//! functions on stable Rust, so a crash found by libFuzzer stays fixed in CI.
//!
//! | target | input | oracle |
//! |---|---|---|
//! | [`validate`](fn@validate) | arbitrary bytes, or a generated module with a few bytes changed | a verdict, never a panic; what validation accepts, the vm can prepare and the engine can compile |
//! | [`execute`] | a `wasm-smith` module, Opmeter's feature set | every call terminates, `gas_used ≤ limit`, the breakdown sums to it, out of gas bills the limit, a second run is identical |
//! | [`differential`] | the same | gas injection (production) vs. wasm-instrument as shipped: identical outcomes and gas; vs. unmetered: identical results whenever the metered run did not run out of gas |
//!
//! A `Err(message)` from an oracle is a bug; the fuzz targets panic with it.

use std::sync::{Arc, OnceLock};

pub use arbitrary::Unstructured;

use crate::{
    Address, BlockContext, CallRequest, MemoryState, Metering, Outcome, Schedule, Status, TrapCode,
    Vm, VmConfig, U256,
};

/// The gas limit of a generated call: small, so one execution is fast.
pub const FUZZ_GAS_LIMIT: u64 = 100_000;

const CALLER: Address = Address([1; 32]);
const CONTRACT: Address = Address([2; 32]);
/// Entry points every generated module exports (each `() -> ()`).
const ENTRY_POINTS: [&str; 3] = ["a", "b", "c"];

/// What an oracle saw, for statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The input was turned into a module that validation accepted, and every check passed.
    Accepted,
    /// Validation rejected the module (the generator cannot always respect every limit).
    Rejected,
    /// The fuzzer's bytes ran out before a module could be generated.
    NotEnoughData,
}

fn vm(metering: Metering) -> &'static Vm {
    static INJECTED: OnceLock<Vm> = OnceLock::new();
    static SHIPPED: OnceLock<Vm> = OnceLock::new();
    static UNMETERED: OnceLock<Vm> = OnceLock::new();
    let cell = match metering {
        Metering::Shipped => &SHIPPED,
        Metering::Unmetered | Metering::Fuel => &UNMETERED,
        Metering::Injected => &INJECTED,
    };
    cell.get_or_init(|| {
        Vm::with_config(
            Schedule::v1(),
            VmConfig {
                metering,
                // Millions of small modules go through one process: rotate the engine often
                // so the fuzzer's memory stays flat (the default budget is sized for contracts).
                engine_code_budget_bytes: 4 * 1024 * 1024,
                ..VmConfig::default()
            },
        )
    })
}

/// Target `validate`: bytes through validation. When validation accepts, preparing
/// (instrumenting) and compiling must succeed too: a module accepted at upload must run.
///
/// Inputs starting with an odd byte are *near-valid modules*: up to four byte edits read from
/// the input applied to a generated module (the rest of the input), so the fuzzer reaches every
/// section of the validator and the instrumenter instead of stopping at the magic number. Other
/// inputs (any wasm binary starts with `\0`) are validated as they are.
///
/// # Errors
/// A description of the broken invariant.
pub fn validate(data: &[u8]) -> Result<Verdict, String> {
    match data.split_first() {
        Some((mode, rest)) if mode % 2 == 1 => {
            let mut u = Unstructured::new(rest);
            let edits: Vec<(u16, u8)> = (0..u.int_in_range(0..=4u8).unwrap_or(0))
                .map(|_| u.arbitrary().unwrap_or_default())
                .collect();
            let Some(mut wasm) = generate(&mut u, true) else {
                return Ok(Verdict::NotEnoughData);
            };
            for (at, byte) in edits {
                let len = wasm.len();
                if let Some(target) = wasm.get_mut(usize::from(at) % len.max(1)) {
                    *target = byte;
                }
            }
            validate_bytes(&wasm)
        }
        _ => validate_bytes(data),
    }
}

fn validate_bytes(data: &[u8]) -> Result<Verdict, String> {
    let vm = vm(Metering::Injected);
    let verdict = vm.validate(data);
    if let Err(report) = &verdict {
        if report.violations.is_empty() {
            return Err("a rejection without a violation".into());
        }
        return Ok(Verdict::Rejected);
    }
    let prepared = vm
        .prepare(data)
        .map_err(|report| format!("validation accepts, prepare refuses: {report}"))?;
    vm.precompile(&prepared)
        .map_err(|e| format!("validation accepts, the engine refuses: {e}"))?;
    Ok(Verdict::Accepted)
}

/// Host functions generated modules may import (`call` is left out: one contract per input).
const HOST_IMPORTS: &str = r#"(module
  (import "opmeter" "input_len" (func (result i32)))
  (import "opmeter" "input_read" (func (param i32)))
  (import "opmeter" "output_set" (func (param i32 i32)))
  (import "opmeter" "revert" (func (param i32 i32)))
  (import "opmeter" "storage_read" (func (param i32 i32 i32 i32) (result i32)))
  (import "opmeter" "storage_write" (func (param i32 i32 i32 i32)))
  (import "opmeter" "storage_remove" (func (param i32 i32) (result i32)))
  (import "opmeter" "block_height" (func (result i64)))
  (import "opmeter" "event_emit" (func (param i32 i32 i32 i32)))
  (import "opmeter" "debug_log" (func (param i32 i32)))
  (import "opmeter" "blake3" (func (param i32 i32 i32)))
  (import "opmeter" "u256_mul" (func (param i32 i32 i32) (result i32)))
  GAS_LEFT
)"#;

/// The `wasm-smith` configuration of Opmeter's accepted feature set: WebAssembly 1.0 with
/// mutable globals and floats, one memory (at most 16 pages declared), one table, the host ABI
/// as the only imports, three `() -> ()` entry points, no start function, modest sizes.
/// `gas_left` is importable unless `with_gas_left` is false (it is the one host function whose
/// result depends on the metering, so the differential target leaves it out).
pub fn smith_config(with_gas_left: bool) -> wasm_smith::Config {
    let gas_left = if with_gas_left {
        r#"(import "opmeter" "gas_left" (func (result i64)))"#
    } else {
        ""
    };
    let imports = wat::parse_str(HOST_IMPORTS.replace("GAS_LEFT", gas_left))
        .unwrap_or_else(|e| unreachable!("host import list: {e}"));
    let exports = wat::parse_str(format!(
        "(module {})",
        ENTRY_POINTS
            .iter()
            .map(|name| format!(r#"(func (export "{name}"))"#))
            .collect::<String>()
    ))
    .unwrap_or_else(|e| unreachable!("entry points: {e}"));
    wasm_smith::Config {
        available_imports: Some(imports),
        exports: Some(exports),
        export_everything: false,
        allow_start_export: false,
        min_memories: 1,
        max_memories: 1,
        max_memory32_bytes: 16 * 65_536,
        memory64_enabled: false,
        max_tables: 1,
        max_table_elements: 64,
        max_imports: 8,
        max_funcs: 12,
        max_globals: 16,
        max_types: 24,
        max_data_segments: 8,
        max_element_segments: 4,
        max_elements: 32,
        max_instructions: 200,
        max_nesting_depth: 8,
        max_type_size: 100,
        allow_floats: true,
        canonicalize_nans: false,
        bulk_memory_enabled: false,
        reference_types_enabled: false,
        simd_enabled: false,
        relaxed_simd_enabled: false,
        multi_value_enabled: false,
        saturating_float_to_int_enabled: false,
        sign_extension_ops_enabled: false,
        exceptions_enabled: false,
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        tail_call_enabled: false,
        gc_enabled: false,
        extended_const_enabled: false,
        custom_page_sizes_enabled: false,
        wide_arithmetic_enabled: false,
        ..wasm_smith::Config::default()
    }
}

/// A module from the fuzzer's bytes, with its memory exported as `memory` (wasm-smith can
/// require function exports only, so the memory export is spliced in). `None` when the bytes
/// ran out.
pub fn generate(u: &mut Unstructured<'_>, with_gas_left: bool) -> Option<Vec<u8>> {
    let module = wasm_smith::Module::new(smith_config(with_gas_left), u).ok()?;
    Some(export_memory(&module.to_bytes()))
}

/// Appends `(export "memory" (memory 0))` to the export section (wasm-smith always writes one:
/// the entry points are required exports). Returns the input unchanged if it cannot be walked.
fn export_memory(wasm: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(wasm.len() + 16);
    let Some(header) = wasm.get(..8) else {
        return wasm.to_vec();
    };
    out.extend_from_slice(header);
    let mut reader = wasmparser::BinaryReader::new(&wasm[8..], 8);
    while !reader.eof() {
        let (Ok(id), Ok(size)) = (reader.read_u8(), reader.read_var_u32()) else {
            return wasm.to_vec();
        };
        let Ok(body) = reader.read_bytes(size as usize) else {
            return wasm.to_vec();
        };
        if id != 7 {
            out.push(id);
            leb(&mut out, size);
            out.extend_from_slice(body);
            continue;
        }
        let mut entries = wasmparser::BinaryReader::new(body, 0);
        let Ok(count) = entries.read_var_u32() else {
            return wasm.to_vec();
        };
        let mut new_body = Vec::with_capacity(body.len() + 10);
        leb(&mut new_body, count + 1);
        new_body.extend_from_slice(&body[entries.original_position()..]);
        new_body.push(6);
        new_body.extend_from_slice(b"memory");
        new_body.extend_from_slice(&[0x02, 0x00]);
        out.push(7);
        leb(&mut out, new_body.len() as u32);
        out.extend_from_slice(&new_body);
    }
    out
}

fn leb(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn call(
    vm: &Vm,
    wasm: &[u8],
    method: &str,
    input: &[u8],
    gas_limit: u64,
) -> Result<Outcome, String> {
    let mut state = MemoryState::default();
    state.put_contract(CONTRACT, wasm);
    let request = CallRequest {
        caller: CALLER,
        contract: CONTRACT,
        method: method.into(),
        input: input.to_vec(),
        value: U256::zero(),
        gas_limit,
    };
    vm.execute(Arc::new(state), BlockContext::default(), request)
        .map_err(|e| format!("node fault on generated code ({method}): {e}"))
}

/// The invariants of one outcome.
fn check_outcome(outcome: &Outcome, gas_limit: u64, method: &str) -> Result<(), String> {
    if outcome.gas_used > gas_limit {
        return Err(format!(
            "{method}: used {} gas of a {gas_limit} limit",
            outcome.gas_used
        ));
    }
    if outcome.breakdown_total() != outcome.gas_used {
        return Err(format!(
            "{method}: the breakdown does not sum to the gas used"
        ));
    }
    if outcome.status == Status::OutOfGas && outcome.gas_used != gas_limit {
        return Err(format!("{method}: out of gas did not bill the limit"));
    }
    if outcome.status != Status::Success
        && (!outcome.writes.storage.is_empty() || !outcome.events.is_empty())
    {
        return Err(format!("{method}: a failed call kept its effects"));
    }
    Ok(())
}

/// Target `execute`: a generated module, every entry point called with a gas limit taken from
/// the input (at most [`FUZZ_GAS_LIMIT`]); each call must terminate with a consistent outcome,
/// and a second run (warm caches) must be identical.
///
/// # Errors
/// A description of the broken invariant.
pub fn execute(data: &[u8]) -> Result<Verdict, String> {
    let mut u = Unstructured::new(data);
    let gas_limit = u.int_in_range(0..=FUZZ_GAS_LIMIT).unwrap_or(FUZZ_GAS_LIMIT);
    let input: Vec<u8> = u.arbitrary().unwrap_or_default();
    let Some(wasm) = generate(&mut u, true) else {
        return Ok(Verdict::NotEnoughData);
    };
    let vm = vm(Metering::Injected);
    if vm.validate(&wasm).is_err() {
        return Ok(Verdict::Rejected);
    }
    vm.prepare(&wasm)
        .map_err(|report| format!("validation accepts, prepare refuses: {report}"))?;
    for method in ENTRY_POINTS {
        let first = call(vm, &wasm, method, &input, gas_limit)?;
        check_outcome(&first, gas_limit, method)?;
        let second = call(vm, &wasm, method, &input, gas_limit)?;
        if first != second {
            return Err(format!("{method}: two runs differ:\n{first:?}\n{second:?}"));
        }
    }
    Ok(Verdict::Accepted)
}

/// Target `differential`: a generated module (without `gas_left`) run three ways. Production
/// gas injection and wasm-instrument as shipped must agree on everything (status, trap, output,
/// gas, effects; when the call overflows the stack, both must overflow it, but the shipped
/// backend's helper calls take frames, so gas may differ); the unmetered run must compute the same status, trap, output and effects
/// whenever the metered run did not run out of gas.
///
/// # Errors
/// A description of the difference.
pub fn differential(data: &[u8]) -> Result<Verdict, String> {
    let mut u = Unstructured::new(data);
    let gas_limit = u.int_in_range(0..=FUZZ_GAS_LIMIT).unwrap_or(FUZZ_GAS_LIMIT);
    let input: Vec<u8> = u.arbitrary().unwrap_or_default();
    let Some(wasm) = generate(&mut u, false) else {
        return Ok(Verdict::NotEnoughData);
    };
    let injected = vm(Metering::Injected);
    if injected.validate(&wasm).is_err() {
        return Ok(Verdict::Rejected);
    }
    for method in ENTRY_POINTS {
        let metered = call(injected, &wasm, method, &input, gas_limit)?;
        check_outcome(&metered, gas_limit, method)?;
        let shipped = call(vm(Metering::Shipped), &wasm, method, &input, gas_limit)?;
        let same = |a: &Outcome, b: &Outcome| {
            (a.status, &a.output, a.gas_used, &a.writes, &a.events)
                == (b.status, &b.output, b.gas_used, &b.writes, &b.events)
        };
        // The shipped backend charges by calling a helper function, which takes a frame of the
        // recursion limit: it overflows the stack one call earlier, after a little less gas.
        let both_overflow = [&metered, &shipped]
            .iter()
            .all(|o| o.status == Status::Trap(TrapCode::StackOverflow));
        if !same(&metered, &shipped) && !both_overflow {
            return Err(format!(
                "{method}: injected and shipped metering differ:\n{metered:?}\n{shipped:?}"
            ));
        }
        if metered.status == Status::OutOfGas {
            continue;
        }
        let plain = call(vm(Metering::Unmetered), &wasm, method, &input, gas_limit)?;
        let result = |o: &Outcome| {
            (
                o.status,
                o.output.clone(),
                o.writes.clone(),
                o.events.clone(),
            )
        };
        if result(&metered) != result(&plain) {
            return Err(format!(
                "{method}: instrumented and uninstrumented code differ:\n{metered:?}\n{plain:?}"
            ));
        }
    }
    Ok(Verdict::Accepted)
}
