//! Criterion benchmarks of Opmeter (see `benches/`): `cargo bench -p opmeter-benches`.
//!
//! - `metering`: the `compute` contract's workloads under every metering strategy and natively.
//! - `phases`: validate, instrument, compile a ~100 KB contract; warm call of `counter`.
//!
//! ```
//! // The benchmarks live in `benches/`; this crate has no library API.
//! ```
