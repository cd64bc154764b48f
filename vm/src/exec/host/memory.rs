//! Guest memory as host functions see it: every range is checked against linear memory (a range
//! outside it traps with [`TrapCode::HostMemoryOutOfBounds`]).

use std::ops::Range;

use wasmi::Memory;

use super::{fatal, trap, Ctx, HostResult};
use crate::outcome::VmError;
use crate::types::TrapCode;

/// A guest length (an `i32` read as unsigned) in bytes.
pub(super) fn len_u64(len: i32) -> u64 {
    u64::from(len as u32)
}

/// The byte range `ptr .. ptr + len` (`ptr` read as unsigned).
pub(super) fn range(ptr: i32, len: u64) -> HostResult<Range<usize>> {
    let start = u64::from(ptr as u32);
    let end = start
        .checked_add(len)
        .ok_or_else(|| trap(TrapCode::HostMemoryOutOfBounds))?;
    Ok(start as usize..end as usize)
}

/// The frame's exported memory.
pub(super) fn memory(caller: &Ctx<'_>) -> HostResult<Memory> {
    caller
        .data()
        .frame
        .memory
        .ok_or_else(|| fatal(VmError::Engine("memory not bound".into())))
}

/// Copies `len` bytes at `ptr` out of guest memory.
pub(super) fn read_bytes(caller: &Ctx<'_>, ptr: i32, len: i32) -> HostResult<Vec<u8>> {
    let memory = memory(caller)?;
    let range = range(ptr, len_u64(len))?;
    memory
        .data(caller)
        .get(range)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| trap(TrapCode::HostMemoryOutOfBounds))
}

/// Reads 32 bytes at `ptr` (an address, a topic or a 256-bit number).
pub(super) fn read_32(caller: &Ctx<'_>, ptr: i32) -> HostResult<[u8; 32]> {
    let memory = memory(caller)?;
    let range = range(ptr, 32)?;
    let slice = memory
        .data(caller)
        .get(range)
        .ok_or_else(|| trap(TrapCode::HostMemoryOutOfBounds))?;
    let mut out = [0u8; 32];
    out.copy_from_slice(slice);
    Ok(out)
}

/// Copies `bytes` into guest memory at `ptr`.
pub(super) fn write_bytes(caller: &mut Ctx<'_>, ptr: i32, bytes: &[u8]) -> HostResult<()> {
    let memory = memory(caller)?;
    let range = range(ptr, bytes.len() as u64)?;
    memory
        .data_mut(&mut *caller)
        .get_mut(range)
        .ok_or_else(|| trap(TrapCode::HostMemoryOutOfBounds))?
        .copy_from_slice(bytes);
    Ok(())
}
