//! Test contract: `run` writes 1 KiB values under ever new keys, forever. Expected outcome under
//! the vm: `outOfGas`.

#![no_std]

use opmeter_sdk::prelude::*;

/// The contract.
pub struct HostileStorage;

#[contract]
impl HostileStorage {
    /// Never returns.
    pub fn run() {
        let value = [0xab_u8; 1024];
        let mut key: u64 = 0;
        loop {
            env::storage_write(&key.to_le_bytes(), &value);
            key = key.wrapping_add(1);
        }
    }
}
