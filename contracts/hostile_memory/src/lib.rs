//! Test contract: `run` grows linear memory by 16 pages at a time, forever, ignoring failures.
//! Expected outcome under the vm: trap `MemoryLimit` (10) once growth passes the page limit.

#![no_std]

use opmeter_sdk::prelude::*;

/// The contract.
pub struct HostileMemory;

#[contract]
impl HostileMemory {
    /// Never returns.
    pub fn run() {
        #[cfg(target_arch = "wasm32")]
        loop {
            let _ = core::arch::wasm32::memory_grow(0, 16);
        }
        #[cfg(not(target_arch = "wasm32"))]
        env::revert("hostile_memory only runs on wasm32");
    }
}
