//! Per-phase costs: validate, instrument, compile a ~100 KB contract, and a warm call of
//! `counter` (instantiate + call with the module cached). Run: `cargo bench -p opmeter-benches --bench phases`.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use opmeter_tests::{contract, Chain, ALICE};
use opmeter_vm::instrument::{instrument, Metering};
use opmeter_vm::{CallRequest, Interrupt, Schedule, Status, Vm, U256};

fn phases(c: &mut Criterion) {
    let wasm = contract("counter");
    let schedule = Schedule::v1();
    let mut group = c.benchmark_group(format!("counter.wasm ({} bytes)", wasm.len()));
    group.sample_size(20);
    group.bench_function("validate", |b| {
        b.iter(|| opmeter_vm::validate::validate(wasm, &schedule.limits).unwrap())
    });
    group.bench_function("instrument", |b| {
        b.iter(|| instrument(wasm, &schedule, Metering::Injected).unwrap())
    });
    let prepared = Vm::new(Schedule::v1()).prepare(wasm).unwrap();
    group.bench_function("compile", |b| {
        b.iter_batched(
            || Vm::new(Schedule::v1()),
            |vm| vm.precompile(&prepared).unwrap(),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("validate + instrument + compile", |b| {
        b.iter_batched(
            || Vm::new(Schedule::v1()),
            |vm| {
                let prepared = vm.prepare(wasm).unwrap();
                vm.precompile(&prepared).unwrap();
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();

    let mut chain = Chain::new();
    let counter = chain.deploy(ALICE, "counter", Some(r#"{"start": 1}"#));
    assert_eq!(
        chain.query(ALICE, counter, "get", "", 1_000_000).status,
        Status::Success
    );
    let mut group = c.benchmark_group("warm call");
    group.bench_function("counter.get (instantiate + call)", |b| {
        b.iter(|| chain.query(ALICE, counter, "get", "", 1_000_000))
    });
    group.bench_function("counter.increment (instantiate + call)", |b| {
        b.iter(|| chain.query(ALICE, counter, "increment", r#"{"by": 1}"#, 1_000_000))
    });
    // As a node runs read-only calls: on the interruptible engine (fuel slices to look at the
    // time limit's interrupt), which costs a little per instruction.
    let interruptible = chain.vm.with_interrupt(Interrupt::new());
    let state = std::sync::Arc::new(chain.state.clone());
    let get = CallRequest {
        caller: ALICE,
        contract: counter,
        method: "get".into(),
        input: Vec::new(),
        value: U256::zero(),
        gas_limit: 1_000_000,
    };
    group.bench_function("counter.get (instantiate + call), interruptible", |b| {
        b.iter(|| {
            interruptible
                .execute(state.clone(), chain.block, get.clone())
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, phases);
criterion_main!(benches);
