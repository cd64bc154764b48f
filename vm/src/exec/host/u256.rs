//! 256-bit arithmetic: `u256_add`, `u256_sub`, `u256_mul`, `u256_div`, `u256_mod`, `u256_pow`.
//! Operands and results are little-endian 32-byte values in guest memory; each returns 0, or 1
//! on overflow (add, sub, mul, pow), or 2 on division by zero (div, mod; the result is 0).

use super::memory::{read_32, write_bytes};
use super::{charge, charge_host, fatal, price, schedule_of, Ctx, HostResult};
use crate::abi::GasCategory;
use crate::abi::HostFn;
use crate::outcome::VmError;
use crate::types::U256;

/// A little-endian 32-byte value.
pub(super) fn from_bytes(bytes: &[u8; 32]) -> U256 {
    U256::from_little_endian(bytes)
}

/// The little-endian 32 bytes of `value`.
pub(super) fn to_bytes(value: U256) -> [u8; 32] {
    value.to_little_endian()
}

/// `u256_add(a, b, out) -> i32`
pub(super) fn add(c: Ctx<'_>, a: i32, b: i32, out: i32) -> HostResult<i32> {
    op(c, HostFn::U256Add, a, b, out)
}

/// `u256_sub(a, b, out) -> i32`
pub(super) fn sub(c: Ctx<'_>, a: i32, b: i32, out: i32) -> HostResult<i32> {
    op(c, HostFn::U256Sub, a, b, out)
}

/// `u256_mul(a, b, out) -> i32`
pub(super) fn mul(c: Ctx<'_>, a: i32, b: i32, out: i32) -> HostResult<i32> {
    op(c, HostFn::U256Mul, a, b, out)
}

/// `u256_div(a, b, out) -> i32`
pub(super) fn div(c: Ctx<'_>, a: i32, b: i32, out: i32) -> HostResult<i32> {
    op(c, HostFn::U256Div, a, b, out)
}

/// `u256_mod(a, b, out) -> i32`
pub(super) fn rem(c: Ctx<'_>, a: i32, b: i32, out: i32) -> HostResult<i32> {
    op(c, HostFn::U256Mod, a, b, out)
}

/// `u256_pow(a, b, out) -> i32`
pub(super) fn pow(c: Ctx<'_>, a: i32, b: i32, out: i32) -> HostResult<i32> {
    op(c, HostFn::U256Pow, a, b, out)
}

fn op(mut caller: Ctx<'_>, f: HostFn, a_ptr: i32, b_ptr: i32, out_ptr: i32) -> HostResult<i32> {
    charge_host(&mut caller, f, 0)?;
    let a = from_bytes(&read_32(&caller, a_ptr)?);
    let b = from_bytes(&read_32(&caller, b_ptr)?);
    if f == HostFn::U256Pow {
        // Square-and-multiply runs one step per bit of the exponent: `per_byte` is charged per
        // significant byte of it, after the base (zero in schedule v1, whose price is flat).
        let per_byte = f.cost(schedule_of(&caller)?).per_byte;
        if per_byte > 0 {
            let exponent_bytes = (b.bits() as u64).div_ceil(8);
            charge(
                &mut caller,
                GasCategory::Host(f),
                price(0, per_byte, exponent_bytes),
            )?;
        }
    }
    let (value, code) = match f {
        HostFn::U256Add => {
            let (v, o) = a.overflowing_add(b);
            (v, i32::from(o))
        }
        HostFn::U256Sub => {
            let (v, o) = a.overflowing_sub(b);
            (v, i32::from(o))
        }
        HostFn::U256Mul => {
            let (v, o) = a.overflowing_mul(b);
            (v, i32::from(o))
        }
        HostFn::U256Pow => {
            let (v, o) = a.overflowing_pow(b);
            (v, i32::from(o))
        }
        HostFn::U256Div => a.checked_div(b).map_or((U256::zero(), 2), |v| (v, 0)),
        HostFn::U256Mod => a.checked_rem(b).map_or((U256::zero(), 2), |v| (v, 0)),
        _ => {
            return Err(fatal(VmError::Engine(
                "u256_op called for a non-u256 function".into(),
            )))
        }
    };
    write_bytes(&mut caller, out_ptr, &to_bytes(value))?;
    Ok(code)
}
