//! [`U256`]: unsigned 256-bit integer, the type of balances and values.
//!
//! Arithmetic goes through the metered host functions `u256_*` on wasm (so it costs a flat,
//! schedule-defined amount of gas instead of many wasm instructions) and through
//! `primitive-types` natively; both give the same results. Formatting and parsing are local
//! (and use no `core::fmt`).

use core::cmp::Ordering;
use core::fmt;
use core::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Rem, RemAssign, Sub, SubAssign};
use core::str::FromStr;

/// An unsigned 256-bit integer stored as 32 little-endian bytes (the ABI encoding).
///
/// Text form (`Display`, `FromStr`, JSON): a decimal string such as `"1000"`. JSON decoding also
/// accepts a `0x`-prefixed hex string and a non-negative JSON integer up to `u64::MAX`.
///
/// The checked/overflowing operations call the host on wasm. The operators `+ - * / %` revert the
/// call on overflow, underflow or division by zero.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct U256([u8; 32]);

/// A host arithmetic operation (one `u256_*` import).
#[derive(Clone, Copy)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Pow,
}

/// The flag the host returns for "overflow or underflow".
#[cfg(not(target_arch = "wasm32"))]
const FLAG_OVERFLOW: i32 = 1;
/// The flag the host returns for "division by zero".
const FLAG_DIV_BY_ZERO: i32 = 2;

impl U256 {
    /// Zero.
    pub const ZERO: U256 = U256([0; 32]);
    /// One.
    pub const ONE: U256 = {
        let mut bytes = [0u8; 32];
        bytes[0] = 1;
        U256(bytes)
    };
    /// The largest value, `2^256 - 1`.
    pub const MAX: U256 = U256([0xff; 32]);

    /// Zero.
    pub const fn zero() -> U256 {
        U256::ZERO
    }

    /// One.
    pub const fn one() -> U256 {
        U256::ONE
    }

    /// From 32 little-endian bytes (the ABI encoding).
    pub const fn from_le_bytes(bytes: [u8; 32]) -> U256 {
        U256(bytes)
    }

    /// To 32 little-endian bytes (the ABI encoding).
    pub const fn to_le_bytes(self) -> [u8; 32] {
        self.0
    }

    /// From 32 big-endian bytes.
    pub fn from_be_bytes(mut bytes: [u8; 32]) -> U256 {
        bytes.reverse();
        U256(bytes)
    }

    /// To 32 big-endian bytes.
    pub fn to_be_bytes(self) -> [u8; 32] {
        let mut bytes = self.0;
        bytes.reverse();
        bytes
    }

    /// The little-endian bytes, borrowed.
    pub const fn as_le_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Whether the value is zero.
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 32]
    }

    /// `self + rhs`, or `None` on overflow.
    pub fn checked_add(self, rhs: U256) -> Option<U256> {
        checked(self.host(Op::Add, rhs))
    }

    /// `self - rhs`, or `None` on underflow.
    pub fn checked_sub(self, rhs: U256) -> Option<U256> {
        checked(self.host(Op::Sub, rhs))
    }

    /// `self * rhs`, or `None` on overflow.
    pub fn checked_mul(self, rhs: U256) -> Option<U256> {
        checked(self.host(Op::Mul, rhs))
    }

    /// `self / rhs` rounded down, or `None` when `rhs` is zero.
    pub fn checked_div(self, rhs: U256) -> Option<U256> {
        checked(self.host(Op::Div, rhs))
    }

    /// `self % rhs`, or `None` when `rhs` is zero.
    pub fn checked_rem(self, rhs: U256) -> Option<U256> {
        checked(self.host(Op::Rem, rhs))
    }

    /// `self` to the power `exp`, or `None` on overflow.
    pub fn checked_pow(self, exp: U256) -> Option<U256> {
        checked(self.host(Op::Pow, exp))
    }

    /// Wrapping `self + rhs` and whether it overflowed.
    pub fn overflowing_add(self, rhs: U256) -> (U256, bool) {
        let (value, flag) = self.host(Op::Add, rhs);
        (value, flag != 0)
    }

    /// Wrapping `self - rhs` and whether it underflowed.
    pub fn overflowing_sub(self, rhs: U256) -> (U256, bool) {
        let (value, flag) = self.host(Op::Sub, rhs);
        (value, flag != 0)
    }

    /// Wrapping `self * rhs` and whether it overflowed.
    pub fn overflowing_mul(self, rhs: U256) -> (U256, bool) {
        let (value, flag) = self.host(Op::Mul, rhs);
        (value, flag != 0)
    }

    /// Wrapping `self` to the power `exp` and whether it overflowed.
    pub fn overflowing_pow(self, exp: U256) -> (U256, bool) {
        let (value, flag) = self.host(Op::Pow, exp);
        (value, flag != 0)
    }

    /// `self + rhs`, clamped at [`U256::MAX`].
    pub fn saturating_add(self, rhs: U256) -> U256 {
        self.checked_add(rhs).unwrap_or(U256::MAX)
    }

    /// `self - rhs`, clamped at zero.
    pub fn saturating_sub(self, rhs: U256) -> U256 {
        self.checked_sub(rhs).unwrap_or(U256::ZERO)
    }

    /// Runs one arithmetic operation: the host's result and flag (`0`, overflow or div-by-zero).
    #[cfg(target_arch = "wasm32")]
    fn host(self, op: Op, rhs: U256) -> (U256, i32) {
        // Not zeroed first: the host writes all of it.
        let mut out = core::mem::MaybeUninit::<[u8; 32]>::uninit();
        let (a, b, o) = (
            self.0.as_ptr() as i32,
            rhs.0.as_ptr() as i32,
            out.as_mut_ptr() as i32,
        );
        // SAFETY: the three pointers are 32-byte buffers that live across the call; the host
        // reads `a` and `b` and writes exactly 32 bytes to `out`.
        let flag = unsafe {
            match op {
                Op::Add => crate::sys::u256_add(a, b, o),
                Op::Sub => crate::sys::u256_sub(a, b, o),
                Op::Mul => crate::sys::u256_mul(a, b, o),
                Op::Div => crate::sys::u256_div(a, b, o),
                Op::Rem => crate::sys::u256_mod(a, b, o),
                Op::Pow => crate::sys::u256_pow(a, b, o),
            }
        };
        // SAFETY: the host wrote the 32 bytes.
        (U256(unsafe { out.assume_init() }), flag)
    }

    /// Runs one arithmetic operation exactly as the host does (mock host).
    #[cfg(not(target_arch = "wasm32"))]
    fn host(self, op: Op, rhs: U256) -> (U256, i32) {
        let (a, b) = (self.wide(), rhs.wide());
        let (value, flag) = match op {
            Op::Add => overflow_flag(a.overflowing_add(b)),
            Op::Sub => overflow_flag(a.overflowing_sub(b)),
            Op::Mul => overflow_flag(a.overflowing_mul(b)),
            Op::Pow => overflow_flag(a.overflowing_pow(b)),
            Op::Div | Op::Rem if b.is_zero() => (primitive_types::U256::zero(), FLAG_DIV_BY_ZERO),
            Op::Div => (a / b, 0),
            Op::Rem => (a % b, 0),
        };
        (U256::from_wide(value), flag)
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn wide(self) -> primitive_types::U256 {
        primitive_types::U256::from_little_endian(&self.0)
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn from_wide(value: primitive_types::U256) -> U256 {
        U256(value.to_little_endian())
    }

    /// The value as eight 32-bit limbs, least significant first.
    fn limbs(self) -> [u32; 8] {
        let mut limbs = [0u32; 8];
        for (limb, bytes) in limbs.iter_mut().zip(self.0.chunks_exact(4)) {
            *limb = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
        limbs
    }

    fn from_limbs(limbs: [u32; 8]) -> U256 {
        let mut bytes = [0u8; 32];
        for (chunk, limb) in bytes.chunks_exact_mut(4).zip(limbs) {
            chunk.copy_from_slice(&limb.to_le_bytes());
        }
        U256(bytes)
    }

    /// Appends the decimal digits (no `core::fmt`: nine digits per division by 10^9, of the
    /// limbs in use only: small values, the usual ones, take one short pass).
    pub(crate) fn write_decimal(self, out: &mut alloc::vec::Vec<u8>) {
        const BILLION: u64 = 1_000_000_000;
        // Most values fit 64 bits: printed as a u64.
        if let Ok(value) = u64::try_from(self) {
            crate::json::write_u64(out, value);
            return;
        }
        let mut limbs = self.limbs();
        let mut len = limbs
            .iter()
            .rposition(|&limb| limb != 0)
            .map_or(0, |top| top + 1);
        // 2^256 has 78 decimal digits.
        let mut digits = [0u8; 81];
        let mut start = digits.len();
        loop {
            let mut remainder: u64 = 0;
            for limb in limbs.iter_mut().take(len).rev() {
                let current = (remainder << 32) | u64::from(*limb);
                *limb = (current / BILLION) as u32;
                remainder = current % BILLION;
            }
            while len > 0 && limbs.get(len - 1) == Some(&0) {
                len -= 1;
            }
            // Nine digits, or up to the last non-zero one of the last chunk (a count the
            // compiler cannot see, so that it does not unroll the loop nine times).
            let chunk_digits = core::hint::black_box(9);
            let mut written = 0;
            while written < chunk_digits && (len > 0 || remainder != 0 || written == 0) {
                start -= 1;
                if let Some(slot) = digits.get_mut(start) {
                    *slot = b'0' + (remainder % 10) as u8;
                }
                remainder /= 10;
                written += 1;
            }
            if len == 0 {
                break;
            }
        }
        out.extend_from_slice(digits.get(start..).unwrap_or_default());
    }

    /// Parses decimal digits (all ASCII digits, at least one).
    fn parse_decimal(digits: &[u8]) -> Result<U256, ParseU256Error> {
        let mut limbs = [0u32; 8];
        // Nine digits at a time: value = value * 10^chunk_len + chunk.
        for chunk in digits.chunks(9) {
            let mut scale: u64 = 1;
            let mut carry: u64 = 0;
            for &digit in chunk {
                scale *= 10;
                carry = carry * 10 + u64::from(digit - b'0');
            }
            for limb in limbs.iter_mut() {
                let product = u64::from(*limb) * scale + carry;
                *limb = product as u32;
                carry = product >> 32;
            }
            if carry != 0 {
                return Err(ParseU256Error::Overflow);
            }
        }
        Ok(U256::from_limbs(limbs))
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn overflow_flag((value, overflow): (primitive_types::U256, bool)) -> (primitive_types::U256, i32) {
    (value, if overflow { FLAG_OVERFLOW } else { 0 })
}

fn checked((value, flag): (U256, i32)) -> Option<U256> {
    (flag == 0).then_some(value)
}

/// Reverts the call with a message naming the failed operation (as a panic would, without
/// formatting).
fn expect_ok((value, flag): (U256, i32), overflow: &'static str, by_zero: &'static str) -> U256 {
    match flag {
        0 => value,
        FLAG_DIV_BY_ZERO => crate::env::revert(by_zero),
        _ => crate::env::revert(overflow),
    }
}

macro_rules! impl_operator {
    ($trait:ident, $method:ident, $assign_trait:ident, $assign_method:ident, $op:expr, $what:literal) => {
        impl $trait for U256 {
            type Output = U256;

            /// Reverts the call on overflow, underflow or division by zero.
            fn $method(self, rhs: U256) -> U256 {
                expect_ok(
                    self.host($op, rhs),
                    concat!("U256 ", $what, ": overflow"),
                    concat!("U256 ", $what, ": division by zero"),
                )
            }
        }

        impl $assign_trait for U256 {
            fn $assign_method(&mut self, rhs: U256) {
                *self = $trait::$method(*self, rhs);
            }
        }
    };
}

impl_operator!(Add, add, AddAssign, add_assign, Op::Add, "addition");
impl_operator!(Sub, sub, SubAssign, sub_assign, Op::Sub, "subtraction");
impl_operator!(Mul, mul, MulAssign, mul_assign, Op::Mul, "multiplication");
impl_operator!(Div, div, DivAssign, div_assign, Op::Div, "division");
impl_operator!(Rem, rem, RemAssign, rem_assign, Op::Rem, "remainder");

impl Ord for U256 {
    fn cmp(&self, other: &U256) -> Ordering {
        // Little-endian: the most significant byte is the last one.
        self.0.iter().rev().cmp(other.0.iter().rev())
    }
}

impl PartialOrd for U256 {
    fn partial_cmp(&self, other: &U256) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

macro_rules! impl_from_unsigned {
    ($($t:ty),*) => {$(
        impl From<$t> for U256 {
            fn from(value: $t) -> U256 {
                let mut bytes = [0u8; 32];
                let le = value.to_le_bytes();
                bytes[..le.len()].copy_from_slice(&le);
                U256(bytes)
            }
        }
    )*};
}

impl_from_unsigned!(u8, u16, u32, u64, u128);

/// The value does not fit the target integer type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct U256TooLarge;

impl fmt::Display for U256TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("U256 value does not fit the target integer type")
    }
}

macro_rules! impl_try_into_unsigned {
    ($($t:ty),*) => {$(
        impl TryFrom<U256> for $t {
            type Error = U256TooLarge;

            fn try_from(value: U256) -> Result<$t, U256TooLarge> {
                const WIDTH: usize = core::mem::size_of::<$t>();
                if value.0[WIDTH..].iter().any(|&b| b != 0) {
                    return Err(U256TooLarge);
                }
                let mut le = [0u8; WIDTH];
                le.copy_from_slice(&value.0[..WIDTH]);
                Ok(<$t>::from_le_bytes(le))
            }
        }
    )*};
}

impl_try_into_unsigned!(u64, u128);

impl fmt::Display for U256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = alloc::vec::Vec::new();
        self.write_decimal(&mut text);
        f.pad_integral(
            true,
            "",
            core::str::from_utf8(&text).map_err(|_| fmt::Error)?,
        )
    }
}

impl fmt::Debug for U256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why a string is not a [`U256`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseU256Error {
    /// Empty, or a character that is not a digit of the base.
    InvalidDigit,
    /// The value is at least `2^256`.
    Overflow,
}

impl ParseU256Error {
    /// The message (also the `Display` text).
    pub fn text(self) -> &'static str {
        match self {
            ParseU256Error::InvalidDigit => "invalid U256: expected decimal digits",
            ParseU256Error::Overflow => "invalid U256: value does not fit 256 bits",
        }
    }
}

impl fmt::Display for ParseU256Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

impl FromStr for U256 {
    type Err = ParseU256Error;

    /// Parses a decimal string, or hex with a `0x` prefix.
    fn from_str(text: &str) -> Result<U256, ParseU256Error> {
        if let Some(hex) = text.strip_prefix("0x") {
            return parse_hex(hex);
        }
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseU256Error::InvalidDigit);
        }
        U256::parse_decimal(text.as_bytes())
    }
}

fn parse_hex(hex: &str) -> Result<U256, ParseU256Error> {
    let digits = hex.trim_start_matches('0').as_bytes();
    if hex.is_empty() {
        return Err(ParseU256Error::InvalidDigit);
    }
    if digits.len() > 64 {
        return Err(ParseU256Error::Overflow);
    }
    let mut bytes = [0u8; 32];
    // Least significant digit first.
    for (i, &digit) in digits.iter().rev().enumerate() {
        let nibble = crate::json::hex_value(digit).ok_or(ParseU256Error::InvalidDigit)?;
        // At most 64 digits: `i / 2 < 32` (no index check, which would link a formatted panic).
        if let Some(byte) = bytes.get_mut(i / 2) {
            *byte |= nibble << (4 * (i % 2));
        }
    }
    Ok(U256(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn u(text: &str) -> U256 {
        text.parse().unwrap()
    }

    #[test]
    fn arithmetic_matches_the_host_semantics() {
        assert_eq!(U256::from(2u8).checked_add(3u8.into()), Some(5u8.into()));
        assert_eq!(U256::MAX.checked_add(U256::ONE), None);
        assert_eq!(U256::MAX.overflowing_add(U256::ONE), (U256::ZERO, true));
        assert_eq!(U256::ZERO.checked_sub(U256::ONE), None);
        assert_eq!(U256::ZERO.overflowing_sub(U256::ONE), (U256::MAX, true));
        assert_eq!(U256::from(7u8).checked_div(2u8.into()), Some(3u8.into()));
        assert_eq!(U256::from(7u8).checked_rem(2u8.into()), Some(1u8.into()));
        assert_eq!(U256::from(7u8).checked_div(U256::ZERO), None);
        assert_eq!(
            U256::from(2u8).checked_pow(255u8.into()),
            Some(u(
                "0x8000000000000000000000000000000000000000000000000000000000000000"
            ))
        );
        assert_eq!(U256::from(2u8).checked_pow(256u16.into()), None);
        assert_eq!(
            U256::from(1u64 << 40).checked_mul(U256::from(1u64 << 40)),
            Some(U256::from(1u128 << 80))
        );
    }

    #[test]
    fn ordering_is_numeric() {
        assert!(U256::from(256u16) > U256::from(255u8));
        assert!(U256::MAX > U256::from(u128::MAX));
        assert_eq!(U256::from(9u8).max(U256::from(10u8)), U256::from(10u8));
    }

    #[test]
    fn decimal_text_matches_primitive_types() {
        let mut value = primitive_types::U256::one();
        for step in 0..300u32 {
            let ours = U256::from_wide(value);
            assert_eq!(ours.to_string(), value.to_string(), "step {step}");
            assert_eq!(value.to_string().parse::<U256>(), Ok(ours), "step {step}");
            value = value.overflowing_mul(primitive_types::U256::from(7u8)).0
                + primitive_types::U256::from(step);
        }
        assert_eq!(U256::ZERO.to_string(), "0");
        assert_eq!(
            U256::MAX.to_string(),
            primitive_types::U256::MAX.to_string()
        );
        assert_eq!(
            alloc::format!("{}000", "0".repeat(100)).parse::<U256>(),
            Ok(U256::ZERO)
        );
        assert_eq!(alloc::format!("{:>5}", U256::from(42u8)), "   42");
    }

    fn json<T: crate::json::JsonDecode>(text: &str) -> Result<T, alloc::string::String> {
        crate::json::from_slice(text.as_bytes()).map_err(|e| e.to_string())
    }

    #[test]
    fn text_and_json_are_decimal() {
        let value =
            u("115792089237316195423570985008687907853269984665640564039457584007913129639935");
        assert_eq!(value, U256::MAX);
        assert_eq!(U256::from(1234u16).to_string(), "1234");
        assert_eq!(crate::json::to_vec(&U256::from(10u8)), b"\"10\"");
        assert_eq!(json::<U256>("\"42\""), Ok(U256::from(42u8)));
        assert_eq!(json::<U256>("42"), Ok(U256::from(42u8)));
        assert_eq!(json::<U256>("\"0x2a\""), Ok(U256::from(42u8)));
        assert!(json::<U256>("\"-1\"").is_err());
        assert!(json::<U256>("\"\"").is_err());
        assert!(json::<U256>("-1").is_err());
        assert!(json::<U256>("1.5").is_err());
        assert_eq!(
            "115792089237316195423570985008687907853269984665640564039457584007913129639936"
                .parse::<U256>(),
            Err(ParseU256Error::Overflow)
        );
    }

    #[test]
    fn integer_conversions() {
        assert_eq!(u64::try_from(U256::from(u64::MAX)), Ok(u64::MAX));
        assert_eq!(
            u64::try_from(U256::from(u128::from(u64::MAX) + 1)),
            Err(U256TooLarge)
        );
        assert_eq!(
            U256::from_be_bytes(U256::from(5u8).to_be_bytes()),
            U256::from(5u8)
        );
    }
}
