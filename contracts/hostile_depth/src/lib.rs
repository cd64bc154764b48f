//! Test contract: `run` calls its own `run` through the host, recursively, giving each callee all
//! gas left. Expected outcome under the vm: trap `CallDepthExceeded` (11), which ends the whole
//! execution however the callers would handle it.

#![no_std]

use opmeter_sdk::prelude::*;

/// The contract.
pub struct HostileDepth;

#[contract]
impl HostileDepth {
    /// Calls itself until the host stops it.
    pub fn run() {
        let this = env::address();
        // The result is deliberately ignored: the depth trap cannot be caught anyway.
        let _ = env::call(&this, "run", b"", U256::ZERO, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opmeter_sdk::testing::{self, Failure, TrapCode};

    #[test]
    fn traps_call_depth_exceeded() {
        testing::register_contract::<HostileDepth>(testing::DEFAULT_CONTRACT);
        assert_eq!(
            testing::try_dispatch::<HostileDepth>("run", b""),
            Err(Failure::Trap(TrapCode::CallDepthExceeded))
        );
    }
}
