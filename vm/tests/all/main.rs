//! The vm's integration tests (one binary).

mod conformance;
mod conformance_findings;
mod execution;
mod schedule;
mod validation;
