//! Code loading (schedule v2): every frame pays for its code per KiB, warm when the code is in
//! the consensus warm set (or already paid in this execution), cold otherwise — never by what a
//! cache holds — and the codes paid cold are reported for the warm set.

use std::sync::Arc;

use opmeter_vm::warm_set::{Update, ADDRESS};
use opmeter_vm::{
    Address, BlockContext, CallRequest, CodeHash, DeployRequest, GasCategory, MemoryState, Outcome,
    Schedule, Status, Vm, VmConfig, U256,
};

const CONTRACT: Address = Address([0xC1; 32]);
const CALLER: Address = Address([0xCA; 32]);

/// `run` calls itself once through the host (input empty → call again with input "x").
const SELF_CALLER: &str = r#"(module
  (import "opmeter" "input_len" (func $input_len (result i32)))
  (import "opmeter" "call" (func $call (param i32 i32 i32 i32 i32 i32 i64) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "\c1\c1\c1\c1\c1\c1\c1\c1\c1\c1\c1\c1\c1\c1\c1\c1\c1\c1\c1\c1\c1\c1\c1\c1\c1\c1\c1\c1\c1\c1\c1\c1")
  (data (i32.const 32) "run")
  (data (i32.const 40) "x")
  (func (export "run")
    (if (i32.eqz (call $input_len))
      (then (drop (call $call (i32.const 0) (i32.const 32) (i32.const 3)
        (i32.const 40) (i32.const 1) (i32.const 64) (i64.const 0)))))))"#;

fn v2() -> Vm {
    Vm::new(Schedule::v2())
}

fn state_with(wasm: &[u8]) -> (MemoryState, CodeHash) {
    let mut state = MemoryState::default();
    let hash = state.put_contract(CONTRACT, wasm);
    (state, hash)
}

fn make_warm(state: &mut MemoryState, hash: CodeHash, len: usize) {
    let costs = Schedule::v2().code_loading.unwrap();
    let mut update = Update::new(state);
    assert!(update.insert(hash, len as u32, &costs).unwrap());
    let writes = update.into_writes();
    for (key, value) in writes {
        state.storage.insert((ADDRESS, key), value.unwrap());
    }
}

fn request(gas_limit: u64) -> CallRequest {
    CallRequest {
        caller: CALLER,
        contract: CONTRACT,
        method: "run".into(),
        input: Vec::new(),
        value: U256::zero(),
        gas_limit,
    }
}

fn call(vm: &Vm, state: &MemoryState, gas_limit: u64) -> Outcome {
    vm.execute(
        Arc::new(state.clone()),
        BlockContext::default(),
        request(gas_limit),
    )
    .unwrap()
}

fn load_gas(outcome: &Outcome) -> u64 {
    outcome
        .gas_breakdown
        .get(&GasCategory::CodeLoad)
        .copied()
        .unwrap_or(0)
}

#[test]
fn cold_code_pays_per_kib_and_is_reported_warm_code_pays_little() {
    let wasm = wat::parse_str(SELF_CALLER).unwrap();
    let kib = (wasm.len() as u64).div_ceil(1024);
    let costs = Schedule::v2().code_loading.unwrap();
    let (mut state, hash) = state_with(&wasm);

    // Cold: the first frame pays the cold price, the nested frame of the same code the warm one.
    let cold = call(&v2(), &state, 10_000_000);
    assert_eq!(cold.status, Status::Success, "{cold:?}");
    assert_eq!(
        load_gas(&cold),
        kib * (costs.cold_per_kib + costs.warm_per_kib)
    );
    assert_eq!(cold.code_paid, vec![hash]);
    assert_eq!(cold.breakdown_total(), cold.gas_used);
    // A gas trace attributes the load charges to their frames and agrees with the outcome.
    let (traced, trace) = v2()
        .execute_traced(
            Arc::new(state.clone()),
            BlockContext::default(),
            request(10_000_000),
            &Default::default(),
        )
        .unwrap();
    assert_eq!(traced, cold);
    trace.verify(&traced).unwrap();

    // Warm: both frames pay the warm price, nothing is reported.
    make_warm(&mut state, hash, wasm.len());
    let warm = call(&v2(), &state, 10_000_000);
    assert_eq!(load_gas(&warm), 2 * kib * costs.warm_per_kib);
    assert!(warm.code_paid.is_empty());
    assert_eq!(
        cold.gas_used - warm.gas_used,
        kib * (costs.cold_per_kib - costs.warm_per_kib)
    );
}

#[test]
fn gas_never_depends_on_the_cache() {
    let wasm = wat::parse_str(SELF_CALLER).unwrap();
    let (state, _) = state_with(&wasm);
    let vm = v2();
    let first = call(&vm, &state, 10_000_000); // compiles: the cache now holds the module
    let again = call(&vm, &state, 10_000_000); // cache hit, still not a warm-set member
    let tiny_cache = Vm::with_config(
        Schedule::v2(),
        VmConfig {
            module_cache_capacity: std::num::NonZeroUsize::MIN,
            ..VmConfig::default()
        },
    );
    let elsewhere = call(&tiny_cache, &state, 10_000_000);
    assert_eq!(first, again);
    assert_eq!(first, elsewhere);
}

#[test]
fn running_out_of_gas_while_loading_loads_nothing() {
    let wasm = wat::parse_str(SELF_CALLER).unwrap();
    let (state, _) = state_with(&wasm);
    let starved = call(&v2(), &state, 1_000);
    assert_eq!(starved.status, Status::OutOfGas);
    assert_eq!(starved.gas_used, 1_000);
    assert_eq!(load_gas(&starved), 1_000);
    assert!(starved.code_paid.is_empty());
}

#[test]
fn schedule_v1_charges_no_code_loading() {
    let wasm = wat::parse_str(SELF_CALLER).unwrap();
    let (state, _) = state_with(&wasm);
    let outcome = call(&Vm::new(Schedule::v1()), &state, 10_000_000);
    assert_eq!(outcome.status, Status::Success);
    assert_eq!(load_gas(&outcome), 0);
    assert!(outcome.code_paid.is_empty());
}

#[test]
fn a_deployment_reports_its_code_and_its_init_loads_warm() {
    let wasm = wat::parse_str(
        r#"(module (memory (export "memory") 1) (func (export "init")) (func (export "run")))"#,
    )
    .unwrap();
    let vm = v2();
    let code = vm.prepare(&wasm).unwrap();
    let request = DeployRequest {
        deployer: CALLER,
        code: code.clone(),
        salt: Vec::new(),
        init_input: Vec::new(),
        value: U256::zero(),
        gas_limit: 100_000_000,
    };
    let (_, outcome) = vm
        .deploy(
            Arc::new(MemoryState::default()),
            BlockContext::default(),
            request,
        )
        .unwrap();
    assert_eq!(outcome.status, Status::Success, "{outcome:?}");
    let costs = Schedule::v2().code_loading.unwrap();
    assert_eq!(
        load_gas(&outcome),
        (wasm.len() as u64).div_ceil(1024) * costs.warm_per_kib
    );
    assert_eq!(outcome.code_paid, vec![code.code_hash]);
}
