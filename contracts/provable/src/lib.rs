//! Provable methods: each is an ordinary JSON entry point and, through `#[provable]`, also the
//! integer function `provable:<name>` that `opmeter-prover` proves (output and exact gas).
//!
//! `nibble_weight` is marked provable but reads a table from linear memory, which is outside the
//! provable subset: checking the code refuses it with that reason.

#![no_std]

use opmeter_sdk::prelude::*;

/// The provable examples.
pub struct Provable;

#[contract]
impl Provable {
    /// The `n`-th Fibonacci number, wrapping at 2^64.
    #[provable]
    pub fn fib(n: u32) -> u64 {
        let (mut a, mut b) = (0u64, 1u64);
        let mut i = 0;
        while i < n {
            let next = a.wrapping_add(b);
            a = b;
            b = next;
            i += 1;
        }
        a
    }

    /// Greatest common divisor (Euclid, with remainders).
    #[provable]
    pub fn gcd(a: u64, b: u64) -> u64 {
        let (mut a, mut b) = (a, b);
        while b != 0 {
            let r = a % b;
            a = b;
            b = r;
        }
        a
    }

    /// Integer square root, bit by bit (shifts and compares only).
    #[provable]
    pub fn isqrt(n: u64) -> u64 {
        let mut rest = n;
        let mut root = 0u64;
        // The highest power of four not above `n`, found coarsely first.
        let mut bit: u64 = if n >> 32 != 0 {
            1 << 62
        } else if n >> 16 != 0 {
            1 << 30
        } else if n >> 8 != 0 {
            1 << 14
        } else {
            1 << 6
        };
        while bit > n {
            bit >>= 2;
        }
        while bit != 0 {
            if rest >= root + bit {
                rest -= root + bit;
                root = (root >> 1) + bit;
            } else {
                root >>= 1;
            }
            bit >>= 2;
        }
        root
    }

    /// A small hash: `rounds` rounds of SplitMix64 folded with rotations (xor, shifts,
    /// multiplications, rotations).
    #[provable]
    pub fn mix(seed: u64, rounds: u32) -> u64 {
        let mut state = seed;
        let mut acc = 0u64;
        let mut i = 0;
        while i < rounds {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            acc = acc.rotate_left(5) ^ z;
            i += 1;
        }
        acc
    }

    /// Number of one bits of the low nibble of `x`, from a table in linear memory: marked
    /// provable, but memory is outside the provable subset, so it is refused (with the offset of
    /// the load).
    #[provable]
    pub fn nibble_weight(x: u32) -> u32 {
        static WEIGHTS: [u8; 16] = [0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4];
        u32::from(WEIGHTS[(x & 15) as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_compute_what_they_say() {
        assert_eq!(Provable::fib(10), 55);
        assert_eq!(Provable::fib(93), 12_200_160_415_121_876_738);
        assert_eq!(Provable::gcd(1071, 462), 21);
        assert_eq!(Provable::gcd(0, 7), 7);
        assert_eq!(Provable::isqrt(0), 0);
        assert_eq!(Provable::isqrt(99), 9);
        assert_eq!(Provable::isqrt(u64::MAX), 4_294_967_295);
        assert_eq!(Provable::nibble_weight(0xff), 4);
        assert_ne!(Provable::mix(1, 3), Provable::mix(2, 3));
    }

    #[test]
    fn json_entry_points_still_work() {
        assert_eq!(
            Provable::__dispatch("gcd", br#"{"a": 12, "b": 18}"#),
            Ok(b"6".to_vec())
        );
    }
}
