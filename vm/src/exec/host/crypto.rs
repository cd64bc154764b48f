//! Hashing: `blake3`.

use super::memory::{len_u64, read_bytes, write_bytes};
use super::{charge_host, Ctx, HostResult};
use crate::abi::HostFn;

/// `blake3(ptr, len, out_ptr)`: charged per byte hashed.
pub(super) fn blake3(mut caller: Ctx<'_>, ptr: i32, len: i32, out_ptr: i32) -> HostResult<()> {
    charge_host(&mut caller, HostFn::Blake3, len_u64(len))?;
    let data = read_bytes(&caller, ptr, len)?;
    let hash = blake3::hash(&data);
    write_bytes(&mut caller, out_ptr, hash.as_bytes())
}
