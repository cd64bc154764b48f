//! Interruptible executions ([`Vm::with_interrupt`]): a set interrupt stops running code (also
//! in a nested frame, also between fuel slices), and an interrupt that is never set changes
//! nothing: every outcome, gas included, equals the plain vm's.

use std::sync::Arc;
use std::time::{Duration, Instant};

use opmeter_vm::{
    Address, BlockContext, CallRequest, Interrupt, MemoryState, Outcome, Schedule, Status, Vm,
    VmError, U256,
};

const CALLER: Address = Address([1; 32]);
const A: Address = Address([0xA; 32]);
const B: Address = Address([0xB; 32]);

/// `spin` loops forever; `count` loops `n` (its input's first byte × 100,000) times, then
/// outputs; `relay` calls B's `spin`; `boom` traps.
fn world() -> MemoryState {
    let a = wat::parse_str(
        r#"(module
  (import "opmeter" "input_read" (func $input_read (param i32)))
  (import "opmeter" "output_set" (func $output_set (param i32 i32)))
  (import "opmeter" "call" (func $call (param i32 i32 i32 i32 i32 i32 i64) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b")
  (data (i32.const 64) "spin")
  (func (export "spin") (loop (br 0)))
  (func (export "count") (local $n i32)
    (call $input_read (i32.const 200))
    (local.set $n (i32.mul (i32.load8_u (i32.const 200)) (i32.const 100000)))
    (loop
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if 0 (i32.gt_s (local.get $n) (i32.const 0))))
    (call $output_set (i32.const 64) (i32.const 4)))
  (func (export "relay")
    (drop (call $call (i32.const 0) (i32.const 64) (i32.const 4) (i32.const 0) (i32.const 0) (i32.const 128) (i64.const 0))))
  (func (export "boom") unreachable))"#,
    )
    .unwrap();
    let b = wat::parse_str(
        r#"(module (memory (export "memory") 1) (func (export "spin") (loop (br 0))))"#,
    )
    .unwrap();
    let mut state = MemoryState::default();
    state.put_contract(A, &a);
    state.put_contract(B, &b);
    state
}

fn call(
    vm: &Vm,
    state: &MemoryState,
    method: &str,
    input: &[u8],
    gas_limit: u64,
) -> Result<Outcome, VmError> {
    let request = CallRequest {
        caller: CALLER,
        contract: A,
        method: method.into(),
        input: input.to_vec(),
        value: U256::zero(),
        gas_limit,
    };
    vm.execute(Arc::new(state.clone()), BlockContext::default(), request)
}

/// Runs `method` with an interrupt set from another thread after 100 ms; returns the result and
/// how long the execution took.
fn interrupted_after_100_ms(vm: &Vm, method: &str) -> (Result<Outcome, VmError>, Duration) {
    let state = world();
    let interrupt = Interrupt::new();
    let setter = interrupt.clone();
    let timer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        setter.interrupt();
    });
    let start = Instant::now();
    // 10^13 gas: hours of spinning, so only the interrupt can end it in time.
    let result = call(
        &vm.with_interrupt(interrupt),
        &state,
        method,
        b"",
        10_000_000_000_000,
    );
    let took = start.elapsed();
    timer.join().unwrap();
    (result, took)
}

#[test]
fn a_set_interrupt_stops_a_loop_and_a_looping_callee() {
    let vm = Vm::new(Schedule::v1());
    for method in ["spin", "relay"] {
        let (result, took) = interrupted_after_100_ms(&vm, method);
        assert_eq!(result.unwrap_err(), VmError::Interrupted, "{method}");
        assert!(
            took >= Duration::from_millis(100),
            "{method}: stopped before the interrupt"
        );
        // Bounded, not a speed claim: a missed interrupt runs for hours.
        assert!(took < Duration::from_secs(20), "{method}: took {took:?}");
    }
    // The vm serves on: the same handle, without the interrupt, runs the same code to its gas.
    let out = call(&vm, &world(), "spin", b"", 50_000).unwrap();
    assert_eq!(out.status, Status::OutOfGas);
}

#[test]
fn an_interrupt_set_before_the_call_runs_nothing() {
    let vm = Vm::new(Schedule::v1());
    let interrupt = Interrupt::new();
    interrupt.interrupt();
    let result = call(
        &vm.with_interrupt(interrupt),
        &world(),
        "count",
        &[1],
        100_000_000,
    );
    assert_eq!(result.unwrap_err(), VmError::Interrupted);
}

#[test]
fn an_interrupt_never_set_changes_no_outcome() {
    let vm = Vm::new(Schedule::v1());
    let interruptible = vm.with_interrupt(Interrupt::new());
    let state = world();
    // `count` with 30 × 100,000 iterations runs through many fuel slices before it returns.
    let cases: [(&str, &[u8], u64); 6] = [
        ("count", &[1], 100_000_000),
        ("count", &[30], 1_000_000_000),
        ("count", &[30], 2_000_000),
        ("spin", b"", 5_000_000),
        ("relay", b"", 5_000_000),
        ("boom", b"", 100_000),
    ];
    for (method, input, gas) in cases {
        let plain = call(&vm, &state, method, input, gas).unwrap();
        let paced = call(&interruptible, &state, method, input, gas).unwrap();
        assert_eq!(plain, paced, "{method} {input:?} {gas}");
        assert_eq!(paced.breakdown_total(), paced.gas_used);
    }
    let long = call(&vm, &state, "count", &[30], 1_000_000_000).unwrap();
    assert_eq!(long.status, Status::Success);
    assert_eq!(long.output, b"spin");
}
