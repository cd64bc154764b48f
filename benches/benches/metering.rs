//! `compute` workloads under: native Rust, uninstrumented wasmi, wasm-instrument as shipped,
//! Opmeter's inlined injection, and wasmi fuel. Run: `cargo bench -p opmeter-benches --bench metering`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use opmeter_tests::{Chain, ALICE};
use opmeter_vm::{Metering, Schedule, Status, Vm, VmConfig};

/// (name, method, JSON args, native equivalent)
type Workload = (&'static str, &'static str, &'static str, fn() -> u64);

const WORKLOADS: [Workload; 5] = [
    ("fib(27) recursive", "fib", r#"{"n": 27}"#, || {
        compute_kernels::fib(black_box(27))
    }),
    ("1M-iteration loop", "loop_sum", r#"{"n": 1000000}"#, || {
        compute_kernels::loop_sum(black_box(1_000_000))
    }),
    ("sort 10k u32", "sort", r#"{"n": 10000}"#, || {
        compute_kernels::sort(black_box(10_000))
    }),
    ("BLAKE2s 64 KiB", "hash", r#"{"len": 65536}"#, || {
        u64::from(compute_kernels::hash(black_box(65_536))[0])
    }),
    ("100k host calls", "host_calls", r#"{"n": 100000}"#, || 0),
];

const MODES: [(&str, Metering); 4] = [
    ("wasmi unmetered", Metering::Unmetered),
    ("wasm-instrument shipped", Metering::Shipped),
    ("opmeter injected", Metering::Injected),
    ("wasmi fuel", Metering::Fuel),
];

fn metering(c: &mut Criterion) {
    for (workload, method, args, native) in WORKLOADS {
        let mut group = c.benchmark_group(workload);
        group
            .sample_size(30)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(8));
        if method != "host_calls" {
            group.bench_function("native", |b| b.iter(native));
        }
        for (mode, metering) in MODES {
            let mut chain = Chain::with_vm(Vm::with_config(
                Schedule::v2(),
                VmConfig {
                    metering,
                    ..VmConfig::default()
                },
            ));
            let compute = chain.deploy(ALICE, "compute", None);
            let probe = chain.query(ALICE, compute, method, args, u64::MAX / 4);
            assert_eq!(
                probe.status,
                Status::Success,
                "{workload} under {mode}: {probe:?}"
            );
            group.bench_function(BenchmarkId::from_parameter(mode), |b| {
                b.iter(|| chain.query(ALICE, compute, method, args, u64::MAX / 4))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, metering);
criterion_main!(benches);
