//! Pure benchmark kernels: the same code runs inside the `compute` contract (wasm) and natively in
//! the benchmarks, so wasm-versus-native comparisons measure the engine, not different code.
//!
//! Every kernel is deterministic and returns a checksum of its work so that it cannot be optimised
//! away. `no_std` + `alloc`, no dependencies.

#![no_std]

extern crate alloc;

use alloc::vec::Vec;

/// The `n`-th Fibonacci number by naive recursion (wrapping on overflow).
pub fn fib(n: u32) -> u64 {
    if n < 2 {
        u64::from(n)
    } else {
        fib(n - 1).wrapping_add(fib(n - 2))
    }
}

/// A tight arithmetic loop of `n` iterations; the result depends on every iteration, so there is
/// no closed form for the compiler to find.
pub fn loop_sum(n: u64) -> u64 {
    let mut acc: u64 = 0;
    let mut i: u64 = 0;
    while i < n {
        acc = acc.wrapping_mul(31).wrapping_add(i ^ (acc >> 7));
        i += 1;
    }
    acc
}

/// The xorshift32 generator (Marsaglia): deterministic pseudo-random `u32`s.
#[derive(Clone, Debug)]
pub struct XorShift32(u32);

impl XorShift32 {
    /// The seed every kernel uses.
    pub const SEED: u32 = 0x9e37_79b9;

    /// A generator from a non-zero seed (zero is replaced by [`XorShift32::SEED`]).
    pub fn new(seed: u32) -> XorShift32 {
        XorShift32(if seed == 0 { XorShift32::SEED } else { seed })
    }

    /// The next value.
    pub fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
}

/// `n` pseudo-random `u32`s from [`XorShift32::SEED`].
pub fn random_u32s(n: u32) -> Vec<u32> {
    let mut rng = XorShift32::new(XorShift32::SEED);
    (0..n).map(|_| rng.next_u32()).collect()
}

/// A position-dependent checksum of a sequence.
pub fn checksum(values: &[u32]) -> u64 {
    values.iter().fold(0u64, |acc, &value| {
        acc.wrapping_mul(0x100_0000_01b3)
            .wrapping_add(u64::from(value))
    })
}

/// Sorts `n` pseudo-random `u32`s (unstable sort) and returns the checksum of the sorted values.
pub fn sort(n: u32) -> u64 {
    let mut values = random_u32s(n);
    values.sort_unstable();
    checksum(&values)
}

/// BLAKE2s-256 (RFC 7693) of `len` deterministic bytes (byte `i` is `i * 31 + 7`, wrapping),
/// generated on the fly: no buffer of `len` bytes is allocated.
pub fn hash(len: u32) -> [u8; 32] {
    let mut hasher = Blake2s::new();
    let mut block = [0u8; 64];
    let mut done: u32 = 0;
    while done < len {
        let take = (len - done).min(64) as usize;
        for (i, byte) in block[..take].iter_mut().enumerate() {
            *byte = (done as usize + i).wrapping_mul(31).wrapping_add(7) as u8;
        }
        hasher.update(&block[..take]);
        done += take as u32;
    }
    hasher.finalize()
}

/// Incremental, unkeyed BLAKE2s with a 32-byte digest (RFC 7693), in plain Rust.
#[derive(Clone, Debug)]
pub struct Blake2s {
    h: [u32; 8],
    /// Bytes compressed so far.
    t: u64,
    buffer: [u8; 64],
    buffered: usize,
}

const IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

const SIGMA: [[usize; 16]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
    [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
    [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
    [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
    [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
    [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
    [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
    [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
    [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
];

impl Default for Blake2s {
    fn default() -> Blake2s {
        Blake2s::new()
    }
}

impl Blake2s {
    /// A fresh hasher (32-byte digest, no key).
    pub fn new() -> Blake2s {
        let mut h = IV;
        // Parameter block: digest length 32, key length 0, fanout 1, depth 1.
        h[0] ^= 0x0101_0020;
        Blake2s {
            h,
            t: 0,
            buffer: [0; 64],
            buffered: 0,
        }
    }

    /// Absorbs `data`.
    pub fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            // The last block must be compressed with the final flag: keep a full buffer until
            // more data arrives.
            if self.buffered == 64 {
                self.t = self.t.wrapping_add(64);
                let block = self.buffer;
                self.compress(&block, false);
                self.buffered = 0;
            }
            let take = (64 - self.buffered).min(data.len());
            self.buffer[self.buffered..self.buffered + take].copy_from_slice(&data[..take]);
            self.buffered += take;
            data = &data[take..];
        }
    }

    /// The digest of everything absorbed.
    pub fn finalize(mut self) -> [u8; 32] {
        self.t = self.t.wrapping_add(self.buffered as u64);
        self.buffer[self.buffered..].fill(0);
        let block = self.buffer;
        self.compress(&block, true);
        let mut out = [0u8; 32];
        for (chunk, word) in out.chunks_exact_mut(4).zip(self.h) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        out
    }

    fn compress(&mut self, block: &[u8; 64], last: bool) {
        let mut m = [0u32; 16];
        for (word, chunk) in m.iter_mut().zip(block.chunks_exact(4)) {
            *word = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        let mut v = [0u32; 16];
        v[..8].copy_from_slice(&self.h);
        v[8..].copy_from_slice(&IV);
        v[12] ^= self.t as u32;
        v[13] ^= (self.t >> 32) as u32;
        if last {
            v[14] = !v[14];
        }
        for s in &SIGMA {
            g(&mut v, 0, 4, 8, 12, m[s[0]], m[s[1]]);
            g(&mut v, 1, 5, 9, 13, m[s[2]], m[s[3]]);
            g(&mut v, 2, 6, 10, 14, m[s[4]], m[s[5]]);
            g(&mut v, 3, 7, 11, 15, m[s[6]], m[s[7]]);
            g(&mut v, 0, 5, 10, 15, m[s[8]], m[s[9]]);
            g(&mut v, 1, 6, 11, 12, m[s[10]], m[s[11]]);
            g(&mut v, 2, 7, 8, 13, m[s[12]], m[s[13]]);
            g(&mut v, 3, 4, 9, 14, m[s[14]], m[s[15]]);
        }
        for i in 0..8 {
            self.h[i] ^= v[i] ^ v[i + 8];
        }
    }
}

#[inline(always)]
fn g(v: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize, x: u32, y: u32) {
    v[a] = v[a].wrapping_add(v[b]).wrapping_add(x);
    v[d] = (v[d] ^ v[a]).rotate_right(16);
    v[c] = v[c].wrapping_add(v[d]);
    v[b] = (v[b] ^ v[c]).rotate_right(12);
    v[a] = v[a].wrapping_add(v[b]).wrapping_add(y);
    v[d] = (v[d] ^ v[a]).rotate_right(8);
    v[c] = v[c].wrapping_add(v[d]);
    v[b] = (v[b] ^ v[c]).rotate_right(7);
}

/// BLAKE2s-256 of `data` in one go.
pub fn blake2s(data: &[u8]) -> [u8; 32] {
    let mut hasher = Blake2s::new();
    hasher.update(data);
    hasher.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> alloc::string::String {
        bytes.iter().map(|b| alloc::format!("{b:02x}")).collect()
    }

    #[test]
    fn blake2s_matches_rfc_7693_vectors() {
        assert_eq!(
            hex(&blake2s(b"")),
            "69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9"
        );
        assert_eq!(
            hex(&blake2s(b"abc")),
            "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982"
        );
    }

    #[test]
    fn incremental_equals_one_shot() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 31 + 7) as u8).collect();
        assert_eq!(hash(300), blake2s(&data));
        let mut hasher = Blake2s::new();
        for chunk in data.chunks(7) {
            hasher.update(chunk);
        }
        assert_eq!(hasher.finalize(), blake2s(&data));
        assert_eq!(hash(128), blake2s(&data[..128]));
        assert_eq!(hash(64), blake2s(&data[..64]));
    }

    #[test]
    fn kernels_are_deterministic() {
        assert_eq!(fib(20), 6765);
        assert_eq!(loop_sum(0), 0);
        assert_eq!(loop_sum(1000), loop_sum(1000));
        let values = random_u32s(1000);
        let mut sorted = values.clone();
        sorted.sort_unstable();
        assert_eq!(sort(1000), checksum(&sorted));
        assert_ne!(sort(1000), checksum(&values));
    }
}
