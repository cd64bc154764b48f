//! Runs one workload under one metering mode, for instruction counting with callgrind:
//!
//! ```sh
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!   target/release/examples/workload injected fib 3
//! ```
//!
//! Modes: `unmetered`, `shipped`, `injected`, `fuel`. Workloads: `fib`, `loop`, `sort`, `hash`,
//! `host`, `counter` (a warm `counter.get`). The last argument is how many calls to make.
#![allow(missing_docs)]

use opmeter_tests::{Chain, ALICE};
use opmeter_vm::{Metering, Schedule, Status, Vm, VmConfig};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: workload MODE WORKLOAD CALLS";
    let metering = match args.get(1).map(String::as_str) {
        Some("unmetered") => Metering::Unmetered,
        Some("shipped") => Metering::Shipped,
        Some("injected") => Metering::Injected,
        Some("fuel") => Metering::Fuel,
        _ => panic!("{usage}"),
    };
    let (contract, init, method, input) = match args.get(2).map(String::as_str) {
        Some("fib") => ("compute", None, "fib", r#"{"n": 27}"#),
        Some("loop") => ("compute", None, "loop_sum", r#"{"n": 1000000}"#),
        Some("sort") => ("compute", None, "sort", r#"{"n": 10000}"#),
        Some("hash") => ("compute", None, "hash", r#"{"len": 65536}"#),
        Some("host") => ("compute", None, "host_calls", r#"{"n": 100000}"#),
        Some("counter") => ("counter", Some(r#"{"start": 1}"#), "get", ""),
        _ => panic!("{usage}"),
    };
    let calls: u32 = args.get(3).and_then(|n| n.parse().ok()).expect(usage);
    let mut chain = Chain::with_vm(Vm::with_config(
        Schedule::v2(),
        VmConfig {
            metering,
            ..VmConfig::default()
        },
    ));
    let address = chain.deploy(ALICE, contract, init);
    for _ in 0..calls {
        let out = chain.query(ALICE, address, method, input, u64::MAX / 4);
        assert_eq!(out.status, Status::Success);
    }
}
