//! The vm's integration tests (one binary).

mod code_loading;
mod codes;
mod conformance;
mod conformance_findings;
mod execution;
mod fuzz_regressions;
mod interrupt;
mod resource_bounds;
mod schedule;
mod trace;
mod validation;
mod world;
