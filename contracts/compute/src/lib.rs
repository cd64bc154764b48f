//! CPU-heavy methods for benchmarks. Each returns a checksum of its work so that nothing can be
//! optimised away; the algorithms live in `compute-kernels`, shared with the native benchmarks.

#![no_std]

use opmeter_sdk::prelude::*;

/// The compute contract.
pub struct Compute;

#[contract]
impl Compute {
    /// The `n`-th Fibonacci number by naive recursion.
    pub fn fib(n: u32) -> u64 {
        compute_kernels::fib(n)
    }

    /// A tight arithmetic loop of `n` iterations.
    pub fn loop_sum(n: u64) -> u64 {
        compute_kernels::loop_sum(n)
    }

    /// Sorts `n` pseudo-random `u32`s; the checksum of the sorted values.
    pub fn sort(n: u32) -> u64 {
        compute_kernels::sort(n)
    }

    /// BLAKE2s-256 (in wasm, not the host's BLAKE3) of `len` deterministic bytes, as 64 hex digits.
    pub fn hash(len: u32) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let digest = compute_kernels::hash(len);
        let mut text = String::with_capacity(64);
        for byte in digest {
            text.push(char::from(HEX[usize::from(byte >> 4)]));
            text.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        text
    }

    /// Calls the cheap host function `block_height` `n` times; the wrapping sum of the results.
    pub fn host_calls(n: u32) -> u64 {
        let mut sum: u64 = 0;
        for _ in 0..n {
            sum = sum.wrapping_add(env::block_height());
        }
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opmeter_sdk::testing;

    #[test]
    fn methods_return_the_kernel_checksums() {
        assert_eq!(
            Compute::__dispatch("fib", br#"{"n":20}"#),
            Ok(b"6765".to_vec())
        );
        let sum = compute_kernels::loop_sum(1000).to_string();
        assert_eq!(
            Compute::__dispatch("loop_sum", br#"{"n":1000}"#),
            Ok(sum.into_bytes())
        );
        let sorted = compute_kernels::sort(100).to_string();
        assert_eq!(
            Compute::__dispatch("sort", br#"{"n":100}"#),
            Ok(sorted.into_bytes())
        );
        // BLAKE2s of the empty input (RFC 7693).
        assert_eq!(
            Compute::hash(0),
            "69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9"
        );
        testing::set_block_height(7);
        assert_eq!(Compute::host_calls(3), 21);
    }
}
