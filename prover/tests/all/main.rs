//! The prover's integration tests, one binary: the compiler against the vm (`subset`) and
//! proofs end to end (`prove`).

mod prove;
mod subset;
mod support;
