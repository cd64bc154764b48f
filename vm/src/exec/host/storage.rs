//! The contract's storage: `storage_read`, `storage_write`, `storage_remove`. Reads and writes go
//! through the execution's journal (rolled back with a failing frame).

use super::memory::{len_u64, read_bytes, write_bytes};
use super::{charge, charge_host, exec_mut, exec_ref, fatal, schedule_of, trap, Ctx, HostResult};
use crate::abi::{GasCategory, HostFn};
use crate::exec::meter::price;
use crate::types::TrapCode;

/// Keys above `max_storage_key_len_bytes` trap before anything is charged.
fn check_key(caller: &Ctx<'_>, key_len: i32) -> HostResult<()> {
    if len_u64(key_len) > u64::from(schedule_of(caller)?.limits.max_storage_key_len_bytes) {
        return Err(trap(TrapCode::KeyTooLarge));
    }
    Ok(())
}

/// `storage_read(key_ptr, key_len, val_ptr, val_cap) -> i32`: the value's length (`-1` when
/// absent); at most `val_cap` bytes are copied, each charged before the copy.
pub(super) fn storage_read(
    mut caller: Ctx<'_>,
    key_ptr: i32,
    key_len: i32,
    val_ptr: i32,
    val_cap: i32,
) -> HostResult<i32> {
    check_key(&caller, key_len)?;
    charge_host(&mut caller, HostFn::StorageRead, len_u64(key_len))?;
    let key = read_bytes(&caller, key_ptr, key_len)?;
    let contract = caller.data().frame.contract;
    let value = exec_ref(&caller)?
        .journal
        .storage_read(&contract, &key)
        .map_err(fatal)?;
    let Some(value) = value else { return Ok(-1) };
    let copied = value.len().min(val_cap as u32 as usize);
    let per_byte = HostFn::StorageRead.cost(schedule_of(&caller)?).per_byte;
    charge(
        &mut caller,
        GasCategory::Host(HostFn::StorageRead),
        price(0, per_byte, copied as u64),
    )?;
    write_bytes(&mut caller, val_ptr, &value[..copied])?;
    Ok(value.len() as i32)
}

/// `storage_write(key_ptr, key_len, val_ptr, val_len)`: charged per byte moved, then per byte
/// stored (`storage_byte_written`), both before the write.
pub(super) fn storage_write(
    mut caller: Ctx<'_>,
    key_ptr: i32,
    key_len: i32,
    val_ptr: i32,
    val_len: i32,
) -> HostResult<()> {
    check_key(&caller, key_len)?;
    let (per_byte_written, value_max) = {
        let schedule = schedule_of(&caller)?;
        (
            schedule.host.storage_byte_written,
            schedule.limits.max_storage_value_len_bytes,
        )
    };
    if len_u64(val_len) > u64::from(value_max) {
        return Err(trap(TrapCode::ValueTooLarge));
    }
    let bytes = len_u64(key_len) + len_u64(val_len);
    charge_host(&mut caller, HostFn::StorageWrite, bytes)?;
    charge(
        &mut caller,
        GasCategory::StorageBytes,
        price(0, per_byte_written, bytes),
    )?;
    let key = read_bytes(&caller, key_ptr, key_len)?;
    let value = read_bytes(&caller, val_ptr, val_len)?;
    let contract = caller.data().frame.contract;
    exec_mut(&mut caller)?
        .journal
        .storage_set(contract, key, Some(value));
    Ok(())
}

/// `storage_remove(key_ptr, key_len) -> i32`: 1 when the key existed, else 0.
pub(super) fn storage_remove(mut caller: Ctx<'_>, key_ptr: i32, key_len: i32) -> HostResult<i32> {
    check_key(&caller, key_len)?;
    charge_host(&mut caller, HostFn::StorageRemove, len_u64(key_len))?;
    let key = read_bytes(&caller, key_ptr, key_len)?;
    let contract = caller.data().frame.contract;
    let journal = &mut exec_mut(&mut caller)?.journal;
    let existed = journal
        .storage_read(&contract, &key)
        .map_err(fatal)?
        .is_some();
    if existed {
        journal.storage_set(contract, key, None);
    }
    Ok(i32::from(existed))
}
