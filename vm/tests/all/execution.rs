//! Execution semantics through WAT contracts: statuses, trap codes, gas accounting, the host ABI.

use std::sync::Arc;

use crate::world::World;
use opmeter_vm::{
    Address, BlockContext, CallRequest, DeployRequest, GasCategory, HostFn, MemoryState, Metering,
    Outcome, Schedule, Status, TrapCode, Vm, VmConfig, U256,
};

const CALLER: Address = Address([1; 32]);
const A: Address = Address([0xA; 32]);
const B: Address = Address([0xB; 32]);

/// Every import of ABI v1 a test module may use.
const IMPORTS: &str = r#"
  (import "opmeter" "input_len" (func $input_len (result i32)))
  (import "opmeter" "input_read" (func $input_read (param i32)))
  (import "opmeter" "output_set" (func $output_set (param i32 i32)))
  (import "opmeter" "revert" (func $revert (param i32 i32)))
  (import "opmeter" "storage_read" (func $storage_read (param i32 i32 i32 i32) (result i32)))
  (import "opmeter" "storage_write" (func $storage_write (param i32 i32 i32 i32)))
  (import "opmeter" "storage_remove" (func $storage_remove (param i32 i32) (result i32)))
  (import "opmeter" "address" (func $address (param i32)))
  (import "opmeter" "value" (func $value (param i32)))
  (import "opmeter" "balance" (func $balance (param i32 i32)))
  (import "opmeter" "gas_left" (func $gas_left (result i64)))
  (import "opmeter" "block_height" (func $block_height (result i64)))
  (import "opmeter" "block_timestamp" (func $block_timestamp (result i64)))
  (import "opmeter" "event_emit" (func $event_emit (param i32 i32 i32 i32)))
  (import "opmeter" "debug_log" (func $debug_log (param i32 i32)))
  (import "opmeter" "blake3" (func $blake3 (param i32 i32 i32)))
  (import "opmeter" "u256_add" (func $u256_add (param i32 i32 i32) (result i32)))
  (import "opmeter" "u256_div" (func $u256_div (param i32 i32 i32) (result i32)))
  (import "opmeter" "u256_pow" (func $u256_pow (param i32 i32 i32) (result i32)))
  (import "opmeter" "call" (func $call (param i32 i32 i32 i32 i32 i32 i64) (result i32)))
  (import "opmeter" "return_data_len" (func $return_data_len (result i32)))
  (import "opmeter" "return_data_read" (func $return_data_read (param i32)))
"#;

fn module(body: &str) -> Vec<u8> {
    let text = format!(r#"(module {IMPORTS} (memory (export "memory") 1) {body})"#);
    wat::parse_str(&text).unwrap_or_else(|e| panic!("bad test WAT: {e}\n{text}"))
}

impl World {
    fn call_with(
        &self,
        contract: Address,
        method: &str,
        input: &[u8],
        value: U256,
        gas_limit: u64,
    ) -> Outcome {
        let call = CallRequest {
            caller: CALLER,
            contract,
            method: method.into(),
            input: input.to_vec(),
            value,
            gas_limit,
        };
        let block = BlockContext {
            height: 42,
            timestamp_ms: 1_700_000_000_000,
        };
        let outcome = self
            .vm
            .execute(Arc::new(self.state.clone()), block, call)
            .expect("no node fault");
        assert_eq!(
            outcome.breakdown_total(),
            outcome.gas_used,
            "breakdown must sum to gas used: {outcome:#?}"
        );
        assert!(outcome.gas_used <= outcome.gas_limit);
        outcome
    }

    fn call(&self, contract: Address, method: &str, gas_limit: u64) -> Outcome {
        self.call_with(contract, method, b"", U256::zero(), gas_limit)
    }

    fn commit(&mut self, outcome: &Outcome) {
        self.state.apply(&outcome.writes);
    }
}

fn trapped(outcome: &Outcome) -> TrapCode {
    match outcome.status {
        Status::Trap(code) => code,
        _ => panic!("not a trap: {outcome:#?}"),
    }
}

#[test]
fn success_output_and_exact_gas() {
    let mut w = World::new();
    w.deploy(A, &module(r#"(data (i32.const 0) "pong") (func (export "ping") (call $output_set (i32.const 0) (i32.const 4)))"#));
    let out = w.call(A, "ping", 100_000);
    assert_eq!(out.status, Status::Success);
    assert_eq!(out.output, b"pong");
    // One metered block: 2 consts + call (4) + the charge's own cost (8, as wasm-instrument
    // prices its helper) = 14; output_set = 50 + 4 bytes.
    expect_test::expect![[r#"{"instantiation": 3048, "instructions": 14, "output_set": 54}"#]]
        .assert_eq(&format!("{:?}", out.breakdown_by_key()));
    assert_eq!(out.gas_used, 68 + 3_048);
    assert_eq!(out.schedule_hash, Schedule::v1().hash());
}

#[test]
fn out_of_gas_is_told_apart_from_unreachable_and_bills_the_whole_limit() {
    let mut w = World::new();
    w.deploy(
        A,
        &module(r#"(func (export "spin") (loop (br 0))) (func (export "boom") unreachable)"#),
    );
    let spin = w.call(A, "spin", 50_000);
    assert_eq!(spin.status, Status::OutOfGas);
    assert_eq!(spin.gas_used, 50_000);
    assert_eq!(
        spin.gas_breakdown.get(&GasCategory::Instructions),
        Some(&(50_000 - 3_048))
    );
    assert_eq!(trapped(&w.call(A, "boom", 50_000)), TrapCode::Unreachable);
}

#[test]
fn host_functions_charge_before_they_work() {
    let mut w = World::new();
    w.deploy(
        A,
        &module(r#"(func (export "big") (call $output_set (i32.const 0) (i32.const 60000)))"#),
    );
    // Enough for the instructions but not for 50 + 60000 bytes of output.
    let out = w.call(A, "big", 10_000);
    assert_eq!(out.status, Status::OutOfGas);
    assert!(out.output.is_empty());
    assert_eq!(out.gas_used, 10_000);
    // What was left when output_set could not pay is attributed to output_set.
    assert_eq!(
        out.gas_breakdown[&GasCategory::Host(HostFn::OutputSet)],
        10_000 - 3_048 - 14
    );
}

#[test]
fn revert_returns_data_and_discards_writes_and_events() {
    let mut w = World::new();
    w.deploy(
        A,
        &module(
            r#"(data (i32.const 0) "k") (data (i32.const 16) "nope")
            (func (export "run")
              (call $storage_write (i32.const 0) (i32.const 1) (i32.const 16) (i32.const 4))
              (call $event_emit (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 1))
              (call $revert (i32.const 16) (i32.const 4)))"#,
        ),
    );
    let out = w.call(A, "run", 1_000_000);
    assert_eq!(out.status, Status::Revert);
    assert_eq!(out.output, b"nope");
    assert!(out.writes.is_empty());
    assert!(out.events.is_empty());
    assert!(
        out.gas_breakdown[&GasCategory::StorageBytes] > 0,
        "failed calls still pay"
    );
}

#[test]
fn storage_round_trip_events_and_context() {
    let mut w = World::new();
    w.deploy(
        A,
        &module(
            r#"(data (i32.const 0) "key") (data (i32.const 16) "value!")
            (func (export "put")
              (call $storage_write (i32.const 0) (i32.const 3) (i32.const 16) (i32.const 6))
              (i64.store (i32.const 100) (call $block_height))
              (call $event_emit (i32.const 0) (i32.const 0) (i32.const 100) (i32.const 8)))
            (func (export "get")
              (local $n i32)
              (local.set $n (call $storage_read (i32.const 0) (i32.const 3) (i32.const 200) (i32.const 2)))
              ;; only 2 bytes fit, the full length comes back
              (i32.store (i32.const 300) (local.get $n))
              (call $output_set (i32.const 200) (i32.const 2))
              (if (i32.ne (local.get $n) (i32.const 6)) (then unreachable)))
            (func (export "del")
              (if (i32.ne (call $storage_remove (i32.const 0) (i32.const 3)) (i32.const 1)) (then unreachable))
              (if (i32.ne (call $storage_read (i32.const 0) (i32.const 3) (i32.const 200) (i32.const 8)) (i32.const -1))
                (then unreachable)))"#,
        ),
    );
    let put = w.call(A, "put", 1_000_000);
    assert_eq!(put.status, Status::Success);
    assert_eq!(put.events.len(), 1);
    assert_eq!(put.events[0].contract, A);
    assert_eq!(put.events[0].data, 42u64.to_le_bytes());
    assert_eq!(
        put.writes.storage.get(&(A, b"key".to_vec())),
        Some(&Some(b"value!".to_vec()))
    );
    w.commit(&put);
    let get = w.call(A, "get", 1_000_000);
    assert_eq!(get.status, Status::Success, "{get:#?}");
    assert_eq!(get.output, b"va");
    let del = w.call(A, "del", 1_000_000);
    assert_eq!(del.status, Status::Success, "{del:#?}");
    assert_eq!(del.writes.storage.get(&(A, b"key".to_vec())), Some(&None));
}

#[test]
fn storage_and_event_limits_trap_with_their_codes() {
    let mut w = World::new();
    w.deploy(
        A,
        &module(
            r#"(func (export "key") (call $storage_write (i32.const 0) (i32.const 257) (i32.const 0) (i32.const 1)))
            (func (export "value") (call $storage_write (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 16385)))
            (func (export "topics") (call $event_emit (i32.const 0) (i32.const 5) (i32.const 0) (i32.const 0)))
            (func (export "oob") (call $output_set (i32.const 65530) (i32.const 100)))
            (func (export "output") (call $output_set (i32.const 0) (i32.const 65537)))"#,
        ),
    );
    assert_eq!(trapped(&w.call(A, "key", 1_000_000)), TrapCode::KeyTooLarge);
    assert_eq!(
        trapped(&w.call(A, "value", 1_000_000)),
        TrapCode::ValueTooLarge
    );
    assert_eq!(
        trapped(&w.call(A, "topics", 1_000_000)),
        TrapCode::EventLimit
    );
    assert_eq!(
        trapped(&w.call(A, "oob", 1_000_000)),
        TrapCode::HostMemoryOutOfBounds
    );
    assert_eq!(
        trapped(&w.call(A, "output", 1_000_000)),
        TrapCode::OutputTooLarge
    );
}

#[test]
fn engine_traps_map_to_stable_codes() {
    let mut w = World::new();
    w.deploy(
        A,
        &module(
            r#"(func $rec (call $rec))
            (func (export "recurse") (call $rec))
            (func (export "grow") (loop (drop (memory.grow (i32.const 16))) (br 0)))
            (func (export "div") (drop (i32.div_u (i32.const 1) (i32.const 0))))
            (func (export "oob") (drop (i32.load (i32.const 70000))))"#,
        ),
    );
    assert_eq!(
        trapped(&w.call(A, "recurse", 10_000_000)),
        TrapCode::StackOverflow
    );
    let grow = w.call(A, "grow", 10_000_000);
    assert_eq!(trapped(&grow), TrapCode::MemoryLimit);
    // 1 initial page + 3 successful grows of 16 pages; the 4th would exceed 64 pages but was paid.
    assert_eq!(
        grow.gas_breakdown[&GasCategory::MemoryGrowth],
        4 * 16 * 4096
    );
    assert_eq!(
        trapped(&w.call(A, "div", 100_000)),
        TrapCode::IntegerDivisionByZero
    );
    assert_eq!(
        trapped(&w.call(A, "oob", 100_000)),
        TrapCode::MemoryOutOfBounds
    );
    assert_eq!(
        trapped(&w.call(A, "missing", 100_000)),
        TrapCode::MethodNotFound
    );
    assert_eq!(
        trapped(&w.call(B, "run", 100_000)),
        TrapCode::ContractNotFound
    );
}

#[test]
fn u256_math_reports_overflow_and_division_by_zero() {
    let mut w = World::new();
    w.deploy(
        A,
        &module(
            r#"(func (export "run")
              ;; a = 2^256 - 1 at 0, b = 1 at 32, zero at 64
              (i64.store (i32.const 0) (i64.const -1)) (i64.store (i32.const 8) (i64.const -1))
              (i64.store (i32.const 16) (i64.const -1)) (i64.store (i32.const 24) (i64.const -1))
              (i64.store (i32.const 32) (i64.const 1))
              (i32.store (i32.const 200) (call $u256_add (i32.const 0) (i32.const 32) (i32.const 100)))
              (i32.store (i32.const 204) (call $u256_div (i32.const 0) (i32.const 64) (i32.const 132)))
              (i32.store (i32.const 208) (call $u256_add (i32.const 32) (i32.const 32) (i32.const 164)))
              (call $output_set (i32.const 100) (i32.const 120)))"#,
        ),
    );
    let out = w.call(A, "run", 1_000_000);
    assert_eq!(out.status, Status::Success);
    assert_eq!(&out.output[0..32], &[0u8; 32], "wrapped sum");
    assert_eq!(
        &out.output[32..64],
        &[0u8; 32],
        "division by zero writes zero"
    );
    assert_eq!(out.output[64], 2, "1 + 1");
    assert_eq!(
        &out.output[100..112],
        &[1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0],
        "codes: overflow, div-by-zero, ok"
    );
}

#[test]
fn u256_pow_is_priced_by_the_exponent_size_in_v2_and_flat_in_v1() {
    // `pow` raises 0 to the 32-byte little-endian exponent given as input.
    let code = module(
        r#"(func (export "pow")
              (call $input_read (i32.const 32))
              (drop (call $u256_pow (i32.const 0) (i32.const 32) (i32.const 64))))"#,
    );
    let exponent = |significant_bytes: usize| {
        let mut e = [0u8; 32];
        e[..significant_bytes].fill(0xff);
        e
    };
    for (schedule, per_byte) in [(Schedule::v1(), 0), (Schedule::v2(), 870)] {
        let mut w = World::with_schedule(schedule.clone(), Metering::Injected);
        w.deploy(A, &code);
        let pow_gas = |bytes: usize| {
            let out = w.call_with(A, "pow", &exponent(bytes), U256::zero(), 1_000_000_000);
            assert_eq!(out.status, Status::Success, "{out:#?}");
            (out.gas_used, out.breakdown_by_key()["u256_pow"])
        };
        let (zero_total, zero_pow) = pow_gas(0);
        assert_eq!(zero_pow, schedule.host.u256_pow.base);
        for bytes in [1, 2, 17, 32] {
            let (total, pow) = pow_gas(bytes);
            let extra = per_byte * bytes as u64;
            assert_eq!(pow, zero_pow + extra, "v{} {bytes} bytes", schedule.version);
            assert_eq!(
                total,
                zero_total + extra,
                "v{} {bytes} bytes",
                schedule.version
            );
        }
    }
    // A full exponent costs what the flat v2 price covered, and no more than its base allows.
    let v2 = Schedule::v2().host.u256_pow;
    assert_eq!(v2.base + 32 * v2.per_byte, 28_140);
}

const CALLER_OF_B: &str = r#"
  (data (i32.const 0) "\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b\0b")
  (data (i32.const 64) "write") (data (i32.const 80) "mine")
  (func (export "run")
    (local $status i32)
    (call $storage_write (i32.const 80) (i32.const 4) (i32.const 80) (i32.const 4))
    (local.set $status (call $call (i32.const 0) (i32.const 64) (i32.const 5) (i32.const 0) (i32.const 0) (i32.const 128) (i64.const 0)))
    (i32.store (i32.const 300) (local.get $status))
    (call $return_data_read (i32.const 304))
    (call $output_set (i32.const 300) (i32.add (i32.const 4) (call $return_data_len))))
"#;

#[test]
fn a_failed_callee_reverts_only_its_own_writes() {
    let mut w = World::new();
    w.deploy(A, &module(CALLER_OF_B));
    w.deploy(
        B,
        &module(
            r#"(data (i32.const 0) "theirs") (data (i32.const 16) "no!")
            (func (export "write")
              (call $storage_write (i32.const 0) (i32.const 6) (i32.const 0) (i32.const 6))
              (call $revert (i32.const 16) (i32.const 3)))"#,
        ),
    );
    let out = w.call(A, "run", 10_000_000);
    assert_eq!(out.status, Status::Success, "{out:#?}");
    assert_eq!(
        &out.output[..4],
        &1i32.to_le_bytes(),
        "callee status: revert"
    );
    assert_eq!(&out.output[4..], b"no!", "revert data is the return data");
    assert_eq!(
        out.writes.storage.len(),
        1,
        "only the caller's write survives: {:?}",
        out.writes.storage
    );
    assert!(out.writes.storage.contains_key(&(A, b"mine".to_vec())));
}

#[test]
fn a_successful_callee_keeps_its_writes_and_its_gas_is_billed_to_the_caller() {
    let mut w = World::new();
    w.deploy(A, &module(CALLER_OF_B));
    w.deploy(
        B,
        &module(
            r#"(data (i32.const 0) "theirs")
            (func (export "write")
              (call $storage_write (i32.const 0) (i32.const 6) (i32.const 0) (i32.const 6))
              (call $output_set (i32.const 0) (i32.const 6)))"#,
        ),
    );
    let out = w.call(A, "run", 10_000_000);
    assert_eq!(out.status, Status::Success, "{out:#?}");
    assert_eq!(&out.output[..4], &0i32.to_le_bytes());
    assert_eq!(&out.output[4..], b"theirs");
    assert!(out.writes.storage.contains_key(&(B, b"theirs".to_vec())));
    assert_eq!(
        out.gas_breakdown[&GasCategory::Host(HostFn::StorageWrite)],
        2 * 5_000 + 2 * (8 + 12)
    );
}

#[test]
fn call_depth_bomb_ends_with_call_depth_exceeded() {
    let mut w = World::new();
    w.deploy(
        A,
        &module(
            r#"(data (i32.const 64) "run")
            (func (export "run")
              (call $address (i32.const 0))
              (drop (call $call (i32.const 0) (i32.const 64) (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 128) (i64.const 0))))"#,
        ),
    );
    let out = w.call(A, "run", 100_000_000);
    assert_eq!(trapped(&out), TrapCode::CallDepthExceeded);
    // Depths 1..=8 each paid for one `call` (base + 3 bytes of method name).
    assert_eq!(
        out.gas_breakdown[&GasCategory::Host(HostFn::Call)],
        8 * (10_000 + 3 * 2)
    );
}

#[test]
fn value_moves_with_the_call_and_cannot_exceed_the_balance() {
    let mut w = World::new();
    w.deploy(A, &module(r#"(func (export "run") (call $value (i32.const 0)) (call $output_set (i32.const 0) (i32.const 32)))"#));
    w.state.balances.insert(CALLER, U256::from(100));
    let out = w.call_with(A, "run", b"", U256::from(30), 100_000);
    assert_eq!(out.status, Status::Success);
    assert_eq!(U256::from_little_endian(&out.output), U256::from(30));
    assert_eq!(out.writes.balances.get(&CALLER), Some(&U256::from(70)));
    assert_eq!(out.writes.balances.get(&A), Some(&U256::from(30)));
    let broke = w.call_with(A, "run", b"", U256::from(101), 100_000);
    assert_eq!(trapped(&broke), TrapCode::InsufficientBalance);
    assert!(broke.writes.is_empty());
}

#[test]
fn identical_calls_give_identical_outcomes() {
    let mut w = World::new();
    w.deploy(A, &module(CALLER_OF_B));
    w.deploy(
        B,
        &module(r#"(func (export "write") (call $debug_log (i32.const 0) (i32.const 3)))"#),
    );
    let first = w.call(A, "run", 1_000_000);
    for _ in 0..3 {
        assert_eq!(w.call(A, "run", 1_000_000), first);
    }
    // A fresh vm (cold caches) agrees too.
    let cold = World {
        vm: Vm::new(Schedule::v1()),
        state: w.state.clone(),
    };
    assert_eq!(cold.call(A, "run", 1_000_000), first);
}

#[test]
fn inlined_injection_charges_exactly_what_wasm_instrument_charges() {
    let program = module(
        r#"(func $fib (param $n i32) (result i32)
             (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
               (then (local.get $n))
               (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                              (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
           (func (export "run")
             (i32.store (i32.const 0) (call $fib (i32.const 15)))
             (drop (memory.grow (i32.const 2)))
             (call $output_set (i32.const 0) (i32.const 4)))"#,
    );
    let mut outcomes = Vec::new();
    for metering in [
        Metering::Injected,
        Metering::Shipped,
        Metering::Unmetered,
        Metering::Fuel,
    ] {
        let mut w = World::with(metering);
        w.deploy(A, &program);
        outcomes.push(w.call(A, "run", 100_000_000));
    }
    let (injected, shipped) = (&outcomes[0], &outcomes[1]);
    assert_eq!(injected.gas_used, shipped.gas_used);
    assert_eq!(injected.gas_breakdown[&GasCategory::MemoryGrowth], 2 * 4096);
    for other in &outcomes {
        assert_eq!(other.status, Status::Success);
        assert_eq!(
            other.output,
            610u32.to_le_bytes(),
            "metering never changes results"
        );
    }
    expect_test::expect!["66563"].assert_eq(&injected.gas_used.to_string());
}

#[test]
fn engine_generations_rotate_to_bound_memory() {
    let config = VmConfig {
        engine_code_budget_bytes: 1,
        ..VmConfig::default()
    };
    let vm = Vm::with_config(Schedule::v1(), config);
    let mut state = MemoryState::default();
    for i in 0..20u8 {
        let wasm = module(&format!(r#"(func (export "run") (drop (i32.const {i})))"#));
        let address = Address([i; 32]);
        state.put_contract(address, &wasm);
        let call = CallRequest {
            caller: CALLER,
            contract: address,
            method: "run".into(),
            input: vec![],
            value: U256::zero(),
            gas_limit: 100_000,
        };
        let out = vm
            .execute(Arc::new(state.clone()), BlockContext::default(), call)
            .unwrap();
        assert_eq!(out.status, Status::Success);
    }
    let stats = vm.cache_stats();
    assert!(stats.generations >= 19, "{stats:?}");
    assert!(stats.modules <= 1, "{stats:?}");
}

#[test]
fn deploy_runs_init_and_records_the_contract() {
    let vm = Vm::new(Schedule::v1());
    let wasm = module(
        r#"(data (i32.const 0) "k")
        (func (export "init") (call $storage_write (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 1)))
        (func (export "run"))"#,
    );
    let prepared = vm.prepare(&wasm).unwrap();
    let state: Arc<MemoryState> = Arc::new(MemoryState::default());
    let (address, out) = vm
        .deploy(
            state.clone(),
            BlockContext::default(),
            DeployRequest {
                deployer: CALLER,
                code: prepared.clone(),
                salt: b"salt".to_vec(),
                init_input: vec![],
                value: U256::zero(),
                gas_limit: 10_000_000,
            },
        )
        .unwrap();
    assert_eq!(out.status, Status::Success, "{out:#?}");
    assert_eq!(
        address,
        Address::for_contract(&CALLER, &prepared.code_hash, b"salt")
    );
    assert_eq!(
        out.writes.contracts.get(&address),
        Some(&prepared.code_hash)
    );
    assert!(out.writes.storage.contains_key(&(address, b"k".to_vec())));
    assert_eq!(
        out.gas_breakdown[&GasCategory::Deploy],
        50_000 + 20 * wasm.len() as u64
    );
    assert_eq!(out.breakdown_total(), out.gas_used);
    let (_, starved) = vm
        .deploy(
            state,
            BlockContext::default(),
            DeployRequest {
                deployer: CALLER,
                code: prepared.clone(),
                salt: b"salt".to_vec(),
                init_input: vec![],
                value: U256::zero(),
                gas_limit: 1_000,
            },
        )
        .unwrap();
    assert_eq!(starved.status, Status::OutOfGas);
    assert_eq!(starved.gas_used, 1_000);
}

fn loop_program(iterations: u32) -> Vec<u8> {
    module(&format!(
        r#"(func (export "run") (local $i i32)
             (loop $l
               (local.set $i (i32.add (local.get $i) (i32.const 1)))
               (br_if $l (i32.lt_u (local.get $i) (i32.const {iterations})))))"#
    ))
}

fn gas_of(metering: Metering, wasm: &[u8]) -> u64 {
    let mut w = World::with(metering);
    w.deploy(A, wasm);
    let out = w.call(A, "run", 1_000_000_000);
    assert_eq!(out.status, Status::Success);
    out.gas_used
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]
    /// Reference model: a loop's gas is `fixed + per_iteration × n`, the same under the inlined
    /// injection and wasm-instrument as shipped.
    #[test]
    fn loop_gas_is_exactly_linear_and_identical_across_injections(n in 1u32..50_000) {
        let one = gas_of(Metering::Injected, &loop_program(1));
        let per_iteration = gas_of(Metering::Injected, &loop_program(2)) - one;
        let program = loop_program(n);
        let injected = gas_of(Metering::Injected, &program);
        proptest::prop_assert_eq!(injected, one + per_iteration * u64::from(n - 1));
        proptest::prop_assert_eq!(injected, gas_of(Metering::Shipped, &program));
    }
}

#[test]
fn gas_limits_are_capped_below_the_sentinel() {
    let mut w = World::new();
    w.deploy(A, &module(r#"(func (export "boom") unreachable)"#));
    let out = w.call(A, "boom", u64::MAX);
    assert_eq!(out.gas_limit, opmeter_vm::MAX_GAS_LIMIT);
    assert_eq!(
        trapped(&out),
        TrapCode::Unreachable,
        "a huge limit never looks like out of gas"
    );
}

/// Every gas limit from "cannot even instantiate" to "enough": the injected module must end
/// exactly as wasm-instrument as shipped does (status, trap code, gas), and never in a node fault.
fn sweep_against_shipped(wasm: &[u8], method: &str) {
    let mut injected = World::new();
    injected.deploy(A, wasm);
    let mut shipped = World::with(Metering::Shipped);
    shipped.deploy(A, wasm);
    let full = injected.call(A, method, 10_000_000).gas_used;
    for gas_limit in 0..=full + 5 {
        let a = injected.call(A, method, gas_limit);
        let b = shipped.call(A, method, gas_limit);
        assert_eq!(
            (a.status, a.gas_used),
            (b.status, b.gas_used),
            "gas limit {gas_limit}"
        );
        if gas_limit < full {
            assert_eq!(a.status, Status::OutOfGas, "gas limit {gas_limit}: {a:#?}");
        }
    }
}

#[test]
fn a_trap_after_an_overdraw_is_out_of_gas_never_a_node_fault() {
    // The `then` block is not a check point: its charge can overdraw the counter before the trap.
    sweep_against_shipped(
        &module(
            r#"(func (export "run") (if (i32.const 1) (then (drop (i32.div_u (i32.const 1) (i32.const 0))))))"#,
        ),
        "run",
    );
    // Host limit checks run before the host charge: the overdraw must still win.
    sweep_against_shipped(
        &module(
            r#"(func (export "run") (if (i32.const 1) (then (call $output_set (i32.const 0) (i32.const 100000)))))"#,
        ),
        "run",
    );
    sweep_against_shipped(
        &module(
            r#"(data (i32.const 0) "no") (func (export "run") (if (i32.const 1) (then (call $revert (i32.const 0) (i32.const 2)))))"#,
        ),
        "run",
    );
}

#[test]
fn an_overdrawn_frame_cannot_return_into_its_callers() {
    // f(n) recurses, then runs a straight-line block on the way back up. Checks at every exit
    // stop the first frame that overdrew; the outcome matches the shipped metering throughout.
    let body = "(drop (i32.add (i32.const 1) (i32.const 2))) ".repeat(50);
    let wasm = module(&format!(
        r#"(func $f (param $n i32)
             (if (local.get $n) (then (call $f (i32.sub (local.get $n) (i32.const 1)))))
             (if (i32.const 1) (then {body})))
           (func (export "run") (call $f (i32.const 20)))"#
    ));
    sweep_against_shipped(&wasm, "run");
}

#[test]
fn every_frame_pays_for_its_fresh_instance() {
    let mut w = World::new();
    w.deploy(A, &module(r#"(func (export "run"))"#));
    let out = w.call(A, "run", 1_000_000);
    assert_eq!(
        out.gas_breakdown[&GasCategory::Instantiation],
        1_000 + 2_048
    );
    let starved = w.call(A, "run", 3_047);
    assert_eq!(starved.status, Status::OutOfGas);
    assert_eq!(starved.gas_breakdown[&GasCategory::Instantiation], 3_047);
}

#[test]
fn debug_log_and_deploy_inputs_respect_their_bounds() {
    let mut w = World::new();
    w.deploy(
        A,
        &module(r#"(func (export "run") (call $debug_log (i32.const 0) (i32.const 100000)))"#),
    );
    assert_eq!(
        trapped(&w.call(A, "run", 10_000_000)),
        TrapCode::HostMemoryOutOfBounds
    );
    let prepared = w.vm.prepare(&module(r#"(func (export "init"))"#)).unwrap();
    let (_, out) =
        w.vm.deploy(
            Arc::new(MemoryState::default()),
            BlockContext::default(),
            DeployRequest {
                deployer: CALLER,
                code: prepared.clone(),
                salt: Vec::new(),
                init_input: vec![b'x'; 65_537],
                value: U256::zero(),
                gas_limit: 10_000_000,
            },
        )
        .unwrap();
    assert_eq!(trapped(&out), TrapCode::InputTooLarge);
}
