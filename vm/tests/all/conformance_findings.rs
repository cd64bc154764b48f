//! Regression tests for the defects the spec testsuite found (see `specs/conformance.md`).

use opmeter_vm::instrument::instrument;
use opmeter_vm::validate::validate;
use opmeter_vm::{engine_config, Metering, Rule, Schedule, Vm};
use wasmi::{Engine, Linker, Module, Store, Val};

/// A contract (memory exported as `memory`, entry point `run`) with a one-element table and the
/// given element and data sections.
fn contract(element: &[u8], data: &[u8]) -> Vec<u8> {
    let mut wasm = b"\0asm\x01\0\0\0".to_vec();
    wasm.extend([0x01, 0x04, 0x01, 0x60, 0x00, 0x00]); // type 0: () -> ()
    wasm.extend([0x03, 0x02, 0x01, 0x00]); // function 0: type 0
    wasm.extend([0x04, 0x04, 0x01, 0x70, 0x00, 0x01]); // table: funcref, min 1
    wasm.extend([0x05, 0x03, 0x01, 0x00, 0x01]); // memory: min 1
    wasm.extend([0x07, 0x10, 0x02]); // exports: memory, run
    wasm.extend([0x06]);
    wasm.extend(b"memory");
    wasm.extend([0x02, 0x00, 0x03]);
    wasm.extend(b"run");
    wasm.extend([0x00, 0x00]);
    wasm.extend(element);
    wasm.extend([0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b]); // code: an empty body
    wasm.extend(data);
    wasm
}

/// Element segment, flags 0 (WebAssembly 1.0): table 0, offset 0, function 0.
const ELEM_MVP: &[u8] = &[0x09, 0x07, 0x01, 0x00, 0x41, 0x00, 0x0b, 0x01, 0x00];
/// The same segment with flags 2 (an explicit table index, bulk-memory encoding).
const ELEM_EXPLICIT: &[u8] = &[
    0x09, 0x09, 0x01, 0x02, 0x00, 0x41, 0x00, 0x0b, 0x00, 0x01, 0x00,
];
/// Data segment, flags 0: memory 0, offset 0, "A".
const DATA_MVP: &[u8] = &[0x0b, 0x07, 0x01, 0x00, 0x41, 0x00, 0x0b, 0x01, 0x41];
/// The same segment with flags 2 (an explicit memory index).
const DATA_EXPLICIT: &[u8] = &[0x0b, 0x08, 0x01, 0x02, 0x00, 0x41, 0x00, 0x0b, 0x01, 0x41];

#[test]
fn webassembly_1_segments_are_accepted_and_instrumented() {
    let wasm = contract(ELEM_MVP, DATA_MVP);
    let vm = Vm::new(Schedule::v1());
    vm.prepare(&wasm)
        .unwrap_or_else(|r| panic!("an MVP contract is rejected: {r}"));
}

/// Found by `binary-leb128.wast`, `nop.wast`, `elem.wast`, …: validation accepted an element
/// segment in the bulk-memory encoding, which the instrumenter cannot read, so the module was
/// refused as `instrumentationFailed` by accident instead of by the rule that describes it.
#[test]
fn an_element_segment_with_an_explicit_table_index_is_bulk_memory() {
    let wasm = contract(ELEM_EXPLICIT, DATA_MVP);
    let report = validate(&wasm, &Schedule::v1().limits).expect_err("must be rejected");
    assert_eq!(report.rules(), vec![Rule::BulkMemory], "{report}");
    let report = Vm::new(Schedule::v1())
        .prepare(&wasm)
        .expect_err("rejected");
    assert_eq!(report.rules(), vec![Rule::BulkMemory], "{report}");
}

#[test]
fn a_data_segment_with_an_explicit_memory_index_is_bulk_memory() {
    let wasm = contract(ELEM_MVP, DATA_EXPLICIT);
    let report = validate(&wasm, &Schedule::v1().limits).expect_err("must be rejected");
    assert_eq!(report.rules(), vec![Rule::BulkMemory], "{report}");
}

/// Found by every spec module without a memory: the instrumenter always added the
/// memory-growth helper, whose `memory.grow` is invalid in a module without a memory.
#[test]
fn a_module_without_memory_instruments_to_valid_code() {
    let wasm =
        wat::parse_str(r#"(module (func (export "seven") (result i32) (i32.const 7)))"#).unwrap();
    let schedule = Schedule::v1();
    let instrumented = instrument(&wasm, &schedule, Metering::Injected).expect("instrumented");
    let engine = Engine::new(&engine_config(&schedule, Metering::Injected));
    let module = Module::new(&engine, &instrumented[..]).expect("the engine accepts it");
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine)
        .instantiate_and_start(&mut store, &module)
        .expect("instantiates");
    let gas = instance
        .get_global(&store, opmeter_vm::abi::GAS_GLOBAL_EXPORT)
        .expect("gas global");
    gas.set(&mut store, Val::I64(1_000)).unwrap();
    let seven = instance
        .get_typed_func::<(), i32>(&store, "seven")
        .expect("export");
    assert_eq!(seven.call(&mut store, ()).unwrap(), 7);
    let left = gas.get(&store).i64().unwrap();
    assert!((0..1_000).contains(&left), "charged: {left}");
}

/// The spec's `memory.grow` beyond the module's own declared maximum returns -1 (the spec
/// testsuite checks this in `memory_size.wast` through a store configured like the vm's; this
/// checks it through `Vm::execute` itself). Only growth beyond `memory_pages_max` traps
/// (`memoryLimit`, a documented deviation tested in `execution.rs`).
#[test]
fn memory_grow_beyond_the_declared_maximum_returns_minus_one() {
    use std::sync::Arc;

    use opmeter_vm::{Address, BlockContext, CallRequest, MemoryState, Status, U256};

    let wasm = wat::parse_str(
        r#"(module
          (import "opmeter" "output_set" (func $out (param i32 i32)))
          (memory (export "memory") 1 3)
          (func (export "run")
            (i32.store (i32.const 0) (memory.grow (i32.const 5)))
            (i32.store (i32.const 4) (memory.grow (i32.const 2)))
            (i32.store (i32.const 8) (memory.grow (i32.const 1)))
            (call $out (i32.const 0) (i32.const 12))))"#,
    )
    .unwrap();
    let vm = Vm::new(Schedule::v1());
    vm.validate(&wasm).expect("valid contract");
    let mut state = MemoryState::default();
    let contract = Address([9; 32]);
    state.put_contract(contract, &wasm);
    let call = CallRequest {
        caller: Address([1; 32]),
        contract,
        method: "run".into(),
        input: Vec::new(),
        value: U256::zero(),
        gas_limit: 10_000_000,
    };
    let outcome = vm
        .execute(Arc::new(state), BlockContext::default(), call)
        .expect("execute");
    assert_eq!(outcome.status, Status::Success, "{outcome:?}");
    let results: Vec<i32> = outcome
        .output
        .chunks_exact(4)
        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    // 1 page + 5 > 3: -1; 1 + 2 = 3: old size 1; 3 + 1 > 3: -1.
    assert_eq!(results, vec![-1, 1, -1]);
}
