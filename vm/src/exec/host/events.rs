//! What a contract emits: `event_emit` (consensus data, kept only on success) and `debug_log`
//! (not consensus data).

use super::memory::{len_u64, memory, range, read_bytes};
use super::{charge, charge_host, exec_mut, exec_ref, schedule_of, trap, Ctx, HostResult};
use crate::abi::{GasCategory, HostFn};
use crate::exec::meter::price;
use crate::types::{Event, TrapCode};

/// `event_emit(topics_ptr, topic_count, data_ptr, data_len)`: limits checked first, then
/// charged per data byte and per topic, then recorded in the journal.
pub(super) fn event_emit(
    mut caller: Ctx<'_>,
    topics_ptr: i32,
    topic_count: i32,
    data_ptr: i32,
    data_len: i32,
) -> HostResult<()> {
    let (per_topic, limits_ok) = {
        let exec = exec_ref(&caller)?;
        let limits = &exec.shared.schedule.limits;
        let ok = len_u64(topic_count) <= u64::from(limits.max_event_topics)
            && len_u64(data_len) <= u64::from(limits.max_event_data_len_bytes)
            && (exec.journal.events.len() as u64) < u64::from(limits.max_events_per_call);
        (exec.shared.schedule.host.event_per_topic, ok)
    };
    if !limits_ok {
        return Err(trap(TrapCode::EventLimit));
    }
    charge_host(&mut caller, HostFn::EventEmit, len_u64(data_len))?;
    charge(
        &mut caller,
        GasCategory::Host(HostFn::EventEmit),
        price(0, per_topic, len_u64(topic_count)),
    )?;
    let raw_topics = read_bytes(
        &caller,
        topics_ptr,
        (topic_count as u32).saturating_mul(32) as i32,
    )?;
    let topics = raw_topics
        .chunks_exact(32)
        .map(|chunk| {
            let mut topic = [0u8; 32];
            topic.copy_from_slice(chunk);
            topic
        })
        .collect();
    let data = read_bytes(&caller, data_ptr, data_len)?;
    let contract = caller.data().frame.contract;
    exec_mut(&mut caller)?.journal.events.push(Event {
        contract,
        topics,
        data,
    });
    Ok(())
}

/// `debug_log(ptr, len)`: keeps at most `max_debug_logs_per_call` lines of at most
/// `max_debug_log_len_bytes` each; charged for the whole range.
pub(super) fn debug_log(mut caller: Ctx<'_>, ptr: i32, len: i32) -> HostResult<()> {
    charge_host(&mut caller, HostFn::DebugLog, len_u64(len))?;
    let (max_len, max_lines) = {
        let limits = &schedule_of(&caller)?.limits;
        (
            limits.max_debug_log_len_bytes,
            limits.max_debug_logs_per_call,
        )
    };
    // The whole range must be inside memory (as for every host function); only the kept prefix
    // is copied.
    let memory_len = memory(&caller)?.data(&caller).len();
    if range(ptr, len_u64(len))?.end > memory_len {
        return Err(trap(TrapCode::HostMemoryOutOfBounds));
    }
    let take = (len as u32).min(max_len) as i32;
    let bytes = read_bytes(&caller, ptr, take)?;
    let exec = exec_mut(&mut caller)?;
    if exec.logs.len() < max_lines as usize {
        exec.logs.push(String::from_utf8_lossy(&bytes).into_owned());
    }
    Ok(())
}
