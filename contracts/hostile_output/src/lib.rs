//! Test contract: `run` sets a 2 MiB output. Expected outcome under the vm: trap `OutputTooLarge`
//! (12). The buffer takes 32 fresh pages, well below the memory limit.

#![no_std]

use opmeter_sdk::prelude::*;

/// Size of the output `run` sets.
pub const OUTPUT_BYTES: usize = 2 * 1024 * 1024;

/// The contract.
pub struct HostileOutput;

#[contract]
impl HostileOutput {
    /// Sets an output far above the limit.
    pub fn run() {
        env::set_output(&vec![0_u8; OUTPUT_BYTES]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opmeter_sdk::testing::{self, Failure, TrapCode};

    #[test]
    fn traps_output_too_large() {
        assert_eq!(
            testing::try_dispatch::<HostileOutput>("run", b""),
            Err(Failure::Trap(TrapCode::OutputTooLarge))
        );
    }
}
