//! Criterion benchmarks of Opmeter (see `benches/`): `cargo bench -p opmeter-benches`.
//!
//! - `metering`: the `compute` contract's workloads under every metering strategy and natively.
//! - `phases`: validate, instrument, compile a ~100 KB contract; warm call of `counter`.
//! - [`calibration`]: the gas calibration items (`examples/calibrate.rs` prints the table).
//!
//! ```
//! use opmeter_benches::calibration::{items, measure};
//! use opmeter_vm::{Schedule, Vm};
//! let schedule = Schedule::v1();
//! let vm = Vm::new(schedule.clone());
//! let first = &items(&schedule)[0];
//! let row = measure(&vm, first, 1);
//! assert!(row.gas > 0 && row.ns_per_gas() > 0.0);
//! ```

pub mod calibration;
