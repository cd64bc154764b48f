//! The vm's integration tests (one binary).

mod execution;
mod schedule;
mod validation;
