//! The native side of [`crate::env`]: a thread-local, in-memory host.
//!
//! It follows the ABI: storage namespaced per contract, frames for cross-contract calls with
//! rollback of a failed callee's writes, balance moves and events, and the limits of schedule v1
//! (which trap). `crate::testing` is its public face. Each test thread gets a fresh host.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::string::String;
use std::vec::Vec;

use crate::env::{CallError, CallStatus};
use crate::testing::{EmittedEvent, Failure, TrapCode};
use crate::{Address, EntryPoint, U256};

/// Limits of schedule v1 that a contract can hit; the mock traps like the host.
pub(crate) mod limits {
    /// `max_output_len_bytes`
    pub(crate) const OUTPUT_BYTES: usize = 64 * 1024;
    /// `max_storage_key_len_bytes`
    pub(crate) const STORAGE_KEY_BYTES: usize = 256;
    /// `max_storage_value_len_bytes`
    pub(crate) const STORAGE_VALUE_BYTES: usize = 16 * 1024;
    /// `max_event_topics`
    pub(crate) const EVENT_TOPICS: usize = 4;
    /// `max_event_data_len_bytes`
    pub(crate) const EVENT_DATA_BYTES: usize = 4 * 1024;
    /// `max_events_per_call`
    pub(crate) const EVENTS_PER_CALL: usize = 256;
    /// `max_call_depth`
    pub(crate) const CALL_DEPTH: usize = 8;
    /// `max_debug_log_len_bytes`
    pub(crate) const DEBUG_LOG_BYTES: usize = 1024;
}

/// A closure standing in for a contract: `(method, input) -> output`.
pub(crate) type Handler = Rc<dyn Fn(&str, &[u8]) -> Result<Vec<u8>, CallError>>;

/// What answers calls to a registered address.
#[derive(Clone)]
pub(crate) enum Callee {
    /// A contract compiled into the test binary, driven through its entry points.
    Contract(&'static [EntryPoint]),
    /// A closure standing in for a contract.
    Handler(Handler),
}

/// One call frame.
#[derive(Clone, Debug)]
pub(crate) struct Frame {
    pub(crate) caller: Address,
    pub(crate) address: Address,
    pub(crate) value: U256,
    pub(crate) input: Vec<u8>,
    pub(crate) output: Vec<u8>,
}

/// What a failed frame rolls back to.
struct Snapshot {
    storage: BTreeMap<Address, BTreeMap<Vec<u8>, Vec<u8>>>,
    balances: BTreeMap<Address, U256>,
    events: usize,
}

/// The whole mock host state.
pub(crate) struct MockHost {
    /// `frames[0]` is the test's own context; calls push more.
    pub(crate) frames: Vec<Frame>,
    pub(crate) storage: BTreeMap<Address, BTreeMap<Vec<u8>, Vec<u8>>>,
    pub(crate) balances: BTreeMap<Address, U256>,
    pub(crate) events: Vec<EmittedEvent>,
    pub(crate) logs: Vec<String>,
    pub(crate) block_height: u64,
    pub(crate) block_timestamp_ms: u64,
    pub(crate) gas_left: u64,
    pub(crate) return_data: Vec<u8>,
    pub(crate) contracts: BTreeMap<Address, Callee>,
}

impl MockHost {
    pub(crate) fn new() -> MockHost {
        MockHost {
            frames: std::vec![Frame {
                caller: crate::testing::DEFAULT_CALLER,
                address: crate::testing::DEFAULT_CONTRACT,
                value: U256::ZERO,
                input: Vec::new(),
                output: Vec::new(),
            }],
            storage: BTreeMap::new(),
            balances: BTreeMap::new(),
            events: Vec::new(),
            logs: Vec::new(),
            block_height: crate::testing::DEFAULT_BLOCK_HEIGHT,
            block_timestamp_ms: crate::testing::DEFAULT_BLOCK_TIMESTAMP_MS,
            gas_left: crate::testing::DEFAULT_GAS_LEFT,
            return_data: Vec::new(),
            contracts: BTreeMap::new(),
        }
    }

    pub(crate) fn frame(&self) -> &Frame {
        self.frames.last().expect("the base frame is never popped")
    }

    pub(crate) fn frame_mut(&mut self) -> &mut Frame {
        self.frames
            .last_mut()
            .expect("the base frame is never popped")
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            storage: self.storage.clone(),
            balances: self.balances.clone(),
            events: self.events.len(),
        }
    }

    fn restore(&mut self, snapshot: Snapshot) {
        self.storage = snapshot.storage;
        self.balances = snapshot.balances;
        self.events.truncate(snapshot.events);
    }
}

std::thread_local! {
    static HOST: RefCell<MockHost> = RefCell::new(MockHost::new());
}

/// Runs `f` on the mock host. Never call back into the host (or unwind) from inside `f`.
pub(crate) fn with<R>(f: impl FnOnce(&mut MockHost) -> R) -> R {
    crate::testing::install_panic_hook();
    HOST.with(|host| f(&mut host.borrow_mut()))
}

/// The payload of a native revert.
pub(crate) struct RevertPayload(pub(crate) Vec<u8>);

/// The payload of a native trap.
pub(crate) struct TrapPayload(pub(crate) TrapCode);

/// Stops the current frame the way the host would with a trap.
pub(crate) fn trap(code: TrapCode) -> ! {
    std::panic::panic_any(TrapPayload(code))
}

/// How a frame stopped early.
pub(crate) enum Stop {
    /// The frame reverted with this data.
    Revert(Vec<u8>),
    /// The frame trapped.
    Trap(TrapCode),
    /// A call status other than revert/trap (from a handler or the value transfer).
    Status(CallStatus, Vec<u8>),
}

/// Runs `body` in `frame` (or, for `None`, in the current frame); on failure rolls back every
/// write, balance move and event of the frame, including those of `prepare`, which runs first,
/// inside the same snapshot but outside the frame.
pub(crate) fn run_frame(
    frame: Option<Frame>,
    prepare: impl FnOnce(&mut MockHost) -> Result<(), Stop>,
    body: impl FnOnce() -> Result<(), Stop>,
) -> Result<Vec<u8>, Stop> {
    let snapshot = with(|host| host.snapshot());
    let pushed = frame.is_some();
    let result = with(prepare).and_then(|()| {
        with(|host| match frame {
            Some(frame) => host.frames.push(frame),
            None => host.frame_mut().output.clear(),
        });
        let result = match crate::testing::try_run(body) {
            Ok(result) => result,
            Err(Failure::Revert(data)) => Err(Stop::Revert(data)),
            Err(Failure::Trap(code)) => Err(Stop::Trap(code)),
        };
        let output = with(|host| {
            if pushed {
                host.frames.pop().expect("pushed above").output
            } else {
                core::mem::take(&mut host.frame_mut().output)
            }
        });
        result.map(|()| output)
    });
    if result.is_err() {
        with(|host| host.restore(snapshot));
    }
    result
}

/// Depth of the current execution: the test's own context is the top-level call (depth 1).
fn depth() -> usize {
    with(|host| host.frames.len())
}

pub(crate) fn input() -> Vec<u8> {
    with(|host| host.frame().input.clone())
}

pub(crate) fn set_output(data: &[u8]) {
    if data.len() > limits::OUTPUT_BYTES {
        trap(TrapCode::OutputTooLarge);
    }
    with(|host| host.frame_mut().output = data.to_vec());
}

pub(crate) fn revert(data: &[u8]) -> ! {
    if data.len() > limits::OUTPUT_BYTES {
        trap(TrapCode::OutputTooLarge);
    }
    std::panic::panic_any(RevertPayload(data.to_vec()))
}

fn check_key(key: &[u8]) {
    if key.len() > limits::STORAGE_KEY_BYTES {
        trap(TrapCode::KeyTooLarge);
    }
}

pub(crate) fn storage_read(key: &[u8]) -> Option<Vec<u8>> {
    check_key(key);
    with(|host| {
        let address = host.frame().address;
        host.storage.get(&address)?.get(key).cloned()
    })
}

pub(crate) fn storage_write(key: &[u8], value: &[u8]) {
    check_key(key);
    if value.len() > limits::STORAGE_VALUE_BYTES {
        trap(TrapCode::ValueTooLarge);
    }
    with(|host| {
        let address = host.frame().address;
        host.storage
            .entry(address)
            .or_default()
            .insert(key.to_vec(), value.to_vec());
    });
}

pub(crate) fn storage_remove(key: &[u8]) -> bool {
    check_key(key);
    with(|host| {
        let address = host.frame().address;
        host.storage
            .get_mut(&address)
            .is_some_and(|map| map.remove(key).is_some())
    })
}

pub(crate) fn caller() -> Address {
    with(|host| host.frame().caller)
}

pub(crate) fn address() -> Address {
    with(|host| host.frame().address)
}

pub(crate) fn value() -> U256 {
    with(|host| host.frame().value)
}

pub(crate) fn balance(address: &Address) -> U256 {
    with(|host| host.balances.get(address).copied().unwrap_or_default())
}

pub(crate) fn block_height() -> u64 {
    with(|host| host.block_height)
}

pub(crate) fn block_timestamp_ms() -> u64 {
    with(|host| host.block_timestamp_ms)
}

pub(crate) fn gas_left() -> u64 {
    with(|host| host.gas_left)
}

pub(crate) fn emit_raw_event(topics: &[[u8; 32]], data: &[u8]) {
    let too_many = with(|host| host.events.len() >= limits::EVENTS_PER_CALL);
    if topics.len() > limits::EVENT_TOPICS || data.len() > limits::EVENT_DATA_BYTES || too_many {
        trap(TrapCode::EventLimit);
    }
    with(|host| {
        let contract = host.frame().address;
        host.events.push(EmittedEvent {
            contract,
            topics: topics.to_vec(),
            data: data.to_vec(),
        });
    });
}

pub(crate) fn debug_log(message: &str) {
    let mut end = message.len().min(limits::DEBUG_LOG_BYTES);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    with(|host| host.logs.push(String::from(&message[..end])));
}

pub(crate) fn blake3(data: &[u8]) -> [u8; 32] {
    *::blake3::hash(data).as_bytes()
}

pub(crate) fn call(
    address: &Address,
    method: &str,
    input: &[u8],
    value: U256,
    _gas_limit: u64,
) -> i32 {
    if depth() >= limits::CALL_DEPTH {
        trap(TrapCode::CallDepthExceeded);
    }
    with(|host| host.return_data.clear());
    let Some(callee) = with(|host| host.contracts.get(address).cloned()) else {
        return CallStatus::ContractNotFound.code();
    };
    let this = with(|host| host.frame().address);
    let frame = Frame {
        caller: this,
        address: *address,
        value,
        input: input.to_vec(),
        output: Vec::new(),
    };
    // The value moves inside the callee's snapshot: a failed callee gives it back.
    let move_value = |host: &mut MockHost| {
        let from = host.balances.get(&this).copied().unwrap_or_default();
        let Some(left) = from.checked_sub(value) else {
            return Err(Stop::Status(CallStatus::InsufficientBalance, Vec::new()));
        };
        let to = host.balances.get(address).copied().unwrap_or_default();
        let Some(credited) = to.checked_add(value) else {
            return Err(Stop::Status(CallStatus::InsufficientBalance, Vec::new()));
        };
        host.balances.insert(this, left);
        host.balances.insert(*address, credited);
        Ok(())
    };
    let result = match callee {
        Callee::Contract(entries) => {
            let Some(entry) = entries.iter().find(|entry| entry.name == method) else {
                return CallStatus::MethodNotFound.code();
            };
            run_frame(Some(frame), move_value, || {
                (entry.run)();
                Ok(())
            })
        }
        Callee::Handler(handler) => run_frame(Some(frame), move_value, || {
            let output =
                handler(method, input).map_err(|error| Stop::Status(error.status, error.data))?;
            with(|host| host.frame_mut().output = output);
            Ok(())
        }),
    };
    let (status, data) = match result {
        Ok(output) => (0, output),
        Err(Stop::Revert(data)) => (CallStatus::Revert.code(), data),
        Err(Stop::Trap(code)) => {
            // Depth bombs end the whole execution, like the host.
            if code == TrapCode::CallDepthExceeded {
                trap(code);
            }
            (CallStatus::Trap.code(), Vec::new())
        }
        Err(Stop::Status(status, data)) => (status.code(), data),
    };
    with(|host| host.return_data = data);
    status
}

pub(crate) fn return_data() -> Vec<u8> {
    with(|host| host.return_data.clone())
}
