//! Memory stays bounded while a vm deploys and calls thousands of distinct modules: the wasmi
//! `Engine` never frees compiled code, so the vm rotates it after `engine_code_budget_bytes`
//! of compiled wasm and drops its module cache.
//!
//! The measurement runs in a child process (this test binary, filtered to the ignored
//! `resource_worker` test), so the other tests running in parallel threads do not disturb the
//! resident set size it reads from `/proc/self/status`.

use std::num::NonZeroUsize;
use std::process::Command;
use std::sync::Arc;

use opmeter_vm::{
    Address, BlockContext, CallRequest, DeployRequest, Interrupt, MemoryState, Schedule, Status,
    Vm, VmConfig, U256,
};

/// Modules deployed and called before the first measurement (caches and allocator warm).
const WARM_UP: u32 = 400;
/// Modules deployed and called between the two measurements.
const MEASURED: u32 = 3_000;
/// Engine rotation budget of the bounded run: compiled wasm bytes per engine generation.
const BUDGET: u64 = 2 * 1024 * 1024;
/// Allowed growth of the resident set between the measurements. Measured: about 5 MiB with
/// rotation, about 22 MiB with a vm that never rotates its engine (`OPMETER_RESOURCE_BUDGET`
/// set to `u64::MAX`), which this bound catches.
const MAX_GROWTH_KB: u64 = 12 * 1024;

/// A distinct module of about 2 KiB: `seed` is baked into its code and data.
fn module(seed: u32) -> Vec<u8> {
    let mut body = String::new();
    for i in 0..128 {
        body.push_str(&format!(
            "(global.set $g (i32.add (global.get $g) (i32.mul (i32.const {}) (i32.const {i}))))\n",
            seed.wrapping_mul(31).wrapping_add(i)
        ));
    }
    wat::parse_str(format!(
        r#"(module
          (import "opmeter" "output_set" (func $out (param i32 i32)))
          (global $g (mut i32) (i32.const {seed}))
          (memory (export "memory") 1)
          (data (i32.const 64) "module {seed:08}")
          (func (export "run")
            (local $i i32)
            (loop $l
              {body}
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br_if $l (i32.lt_u (local.get $i) (i32.const 4))))
            (i32.store (i32.const 0) (global.get $g))
            (call $out (i32.const 0) (i32.const 4))))"#
    ))
    .expect("resource test module")
}

fn rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn run_one(vm: &Vm, seed: u32) {
    let wasm = module(seed);
    let code = vm.prepare(&wasm).expect("valid module");
    let deployer = Address([1; 32]);
    let salt = seed.to_le_bytes();
    let (address, deployed) = vm
        .deploy(
            Arc::new(MemoryState::default()),
            BlockContext::default(),
            DeployRequest {
                deployer,
                code,
                salt: salt.to_vec(),
                init_input: Vec::new(),
                value: U256::zero(),
                gas_limit: 10_000_000,
            },
        )
        .expect("deploy");
    assert_eq!(deployed.status, Status::Success, "deploy of {seed}");
    let mut state = MemoryState::default();
    state.put_contract(address, &wasm);
    let call = CallRequest {
        caller: deployer,
        contract: address,
        method: "run".into(),
        input: Vec::new(),
        value: U256::zero(),
        gas_limit: 1_000_000,
    };
    let state = Arc::new(state);
    let outcome = vm
        .execute(state.clone(), BlockContext::default(), call.clone())
        .expect("execute");
    assert_eq!(outcome.status, Status::Success, "call of {seed}");
    assert_eq!(outcome.output.len(), 4);
    // The same call read-only, as a node runs it: on the interruptible engine (its own module
    // cache, rotated with the generation).
    let read_only = vm
        .with_interrupt(Interrupt::new())
        .execute(state, BlockContext::default(), call)
        .expect("execute interruptibly");
    assert_eq!(read_only, outcome, "call of {seed}");
}

/// The measurement, run by [`memory_stays_bounded_over_thousands_of_modules`] in a child
/// process. `OPMETER_RESOURCE_BUDGET` overrides the rotation budget (to compare with a vm that
/// never rotates its engine: `u64::MAX`).
#[test]
#[ignore = "run in a child process by memory_stays_bounded_over_thousands_of_modules"]
fn resource_worker() {
    let budget = std::env::var("OPMETER_RESOURCE_BUDGET")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(BUDGET);
    let vm = Vm::with_config(
        Schedule::v1(),
        VmConfig {
            module_cache_capacity: NonZeroUsize::new(64).expect("non-zero"),
            instrumented_cache_capacity: NonZeroUsize::new(128).expect("non-zero"),
            engine_code_budget_bytes: budget,
            ..VmConfig::default()
        },
    );
    let mut largest = 0u64;
    for seed in 0..WARM_UP {
        largest = largest.max(module(seed).len() as u64);
        run_one(&vm, seed);
    }
    let before = rss_kb();
    for seed in WARM_UP..WARM_UP + MEASURED {
        run_one(&vm, seed);
    }
    let after = rss_kb();
    let stats = vm.cache_stats();
    println!(
        "RESOURCE modules={} rss_before_kb={before} rss_after_kb={after} generations={} \
         cached_modules={} cached_instrumented={} compiled_bytes={} largest_module={largest}",
        WARM_UP + MEASURED,
        stats.generations,
        stats.modules,
        stats.instrumented,
        stats.compiled_bytes
    );
    assert!(stats.modules <= 64, "{stats:?}");
    assert!(stats.interruptible_modules <= 64, "{stats:?}");
    assert!(stats.instrumented <= 128, "{stats:?}");
    if budget == BUDGET {
        assert!(stats.generations > 1, "the engine never rotated: {stats:?}");
        // A generation compiles at most its budget plus the module that crossed it (the
        // deployment, the call and the read-only call may each compile it once).
        assert!(
            stats.compiled_bytes <= budget + 3 * largest,
            "compiled {} bytes in one generation",
            stats.compiled_bytes
        );
    }
}

#[test]
fn memory_stays_bounded_over_thousands_of_modules() {
    let exe = std::env::current_exe().expect("test binary");
    let output = Command::new(exe)
        .args([
            "resource_bounds::resource_worker",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .output()
        .expect("run the worker");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "worker failed:\n{stdout}\n{stderr}"
    );
    let line = stdout
        .lines()
        .find_map(|l| l.find("RESOURCE ").map(|at| &l[at..]))
        .unwrap_or_else(|| panic!("no measurement in:\n{stdout}"));
    println!("{line}");
    let field = |name: &str| -> u64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {line}"))
    };
    let (before, after) = (field("rss_before_kb"), field("rss_after_kb"));
    assert!(before > 0, "cannot read the resident set size: {line}");
    assert!(
        after.saturating_sub(before) <= MAX_GROWTH_KB,
        "memory grew by {} KiB over {MEASURED} modules: {line}",
        after.saturating_sub(before)
    );
}
