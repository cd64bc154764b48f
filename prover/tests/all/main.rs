//! The prover's integration tests, one binary: the compiler against the vm (`subset`), proofs
//! end to end (`prove`) and keys from a snarkjs ceremony (`ceremony`).

mod ceremony;
mod prove;
mod subset;
mod support;
