//! Test contract: `run` recurses without bound. Expected outcome under the vm: trap
//! `StackOverflow` (8).
//!
//! The recursion is real wasm recursion that uses only wasm locals: no frame touches the shadow
//! stack in linear memory (which would end in `MemoryOutOfBounds` instead). It is not a tail call
//! and its result is used twice per frame, so LLVM cannot turn it into a loop; the base case
//! depends on the block height, so it cannot be proven unreachable either.

#![no_std]

use opmeter_sdk::prelude::*;

/// The contract.
pub struct HostileRecursion;

#[contract]
impl HostileRecursion {
    /// Never returns (in practice).
    pub fn run() -> u64 {
        descend(0, u64::MAX ^ env::block_height())
    }
}

/// One wasm frame per level; stops only at `depth == floor` (about 2^64 levels away).
#[inline(never)]
fn descend(depth: u64, floor: u64) -> u64 {
    if depth == floor {
        return depth;
    }
    let below = descend(depth.wrapping_add(1), floor);
    below.rotate_left((depth & 63) as u32) ^ depth.wrapping_mul(below)
}
