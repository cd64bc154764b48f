//! Test contract: `run` loops forever. Expected outcome under the vm: `outOfGas`.

#![no_std]

use opmeter_sdk::prelude::*;

/// The contract.
pub struct HostileLoop;

#[contract]
impl HostileLoop {
    /// Never returns.
    pub fn run() {
        let mut counter: u64 = 0;
        loop {
            counter = core::hint::black_box(counter.wrapping_add(1));
        }
    }
}
