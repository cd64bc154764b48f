//! The host ABI v1 as data: names, signatures and gas categories of every host function.
//!
//! This one table drives the upload allow-list (validation), the linker and the gas breakdown,
//! so they cannot drift apart. `specs/abi.md` is its prose.

use crate::schedule::{HostCost, Schedule};

/// The import module every host function lives in.
pub const HOST_MODULE: &str = "opmeter";

/// Export name of the injected gas-left global (reserved: contracts may not export it).
pub const GAS_GLOBAL_EXPORT: &str = "opmeter_gas_left";
/// Export name of the injected memory-growth gas accumulator (reserved).
pub const GROW_GAS_GLOBAL_EXPORT: &str = "opmeter_grow_gas";
/// Prefix reserved for host-injected exports.
pub const RESERVED_EXPORT_PREFIX: &str = "opmeter_";
/// The memory export every contract must have.
pub const MEMORY_EXPORT: &str = "memory";
/// Prefix of a *provable export*: `provable:<method>` is a pure function over integers
/// (`i32`/`i64` parameters, at most one `i32`/`i64` result) that [`crate::Vm::call_provable`]
/// runs and the prover proves. It is not an entry point: transactions cannot call it.
pub const PROVABLE_EXPORT_PREFIX: &str = "provable:";

/// A wasm value type in a host signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbiType {
    /// `i32`
    I32,
    /// `i64`
    I64,
}

macro_rules! host_fns {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $name:literal, [$($p:ident),*] -> [$($r:ident),*]; )*) => {
        /// A host function of ABI v1. The numeric value is stable.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(u8)]
        pub enum HostFn {
            $( $(#[$doc])* $variant = $code, )*
        }

        impl HostFn {
            /// Every host function, in code order.
            pub const ALL: &'static [HostFn] = &[$(HostFn::$variant),*];

            /// The import name.
            pub fn name(self) -> &'static str {
                match self { $(HostFn::$variant => $name,)* }
            }

            /// Parameter types.
            pub fn params(self) -> &'static [AbiType] {
                match self { $(HostFn::$variant => &[$(AbiType::$p),*],)* }
            }

            /// Result types.
            pub fn results(self) -> &'static [AbiType] {
                match self { $(HostFn::$variant => &[$(AbiType::$r),*],)* }
            }
        }
    };
}

host_fns! {
    /// `input_len() -> i32`
    InputLen = 1, "input_len", [] -> [I32];
    /// `input_read(ptr)`
    InputRead = 2, "input_read", [I32] -> [];
    /// `output_set(ptr, len)`
    OutputSet = 3, "output_set", [I32, I32] -> [];
    /// `revert(ptr, len)`
    Revert = 4, "revert", [I32, I32] -> [];
    /// `storage_read(key_ptr, key_len, val_ptr, val_cap) -> i32`
    StorageRead = 5, "storage_read", [I32, I32, I32, I32] -> [I32];
    /// `storage_write(key_ptr, key_len, val_ptr, val_len)`
    StorageWrite = 6, "storage_write", [I32, I32, I32, I32] -> [];
    /// `storage_remove(key_ptr, key_len) -> i32`
    StorageRemove = 7, "storage_remove", [I32, I32] -> [I32];
    /// `caller(out_ptr)`
    Caller = 8, "caller", [I32] -> [];
    /// `address(out_ptr)`
    Address = 9, "address", [I32] -> [];
    /// `value(out_ptr)`
    Value = 10, "value", [I32] -> [];
    /// `block_height() -> i64`
    BlockHeight = 11, "block_height", [] -> [I64];
    /// `block_timestamp() -> i64`
    BlockTimestamp = 12, "block_timestamp", [] -> [I64];
    /// `balance(addr_ptr, out_ptr)`
    Balance = 13, "balance", [I32, I32] -> [];
    /// `gas_left() -> i64`
    GasLeft = 14, "gas_left", [] -> [I64];
    /// `event_emit(topics_ptr, topic_count, data_ptr, data_len)`
    EventEmit = 15, "event_emit", [I32, I32, I32, I32] -> [];
    /// `debug_log(ptr, len)`
    DebugLog = 16, "debug_log", [I32, I32] -> [];
    /// `blake3(ptr, len, out_ptr)`
    Blake3 = 17, "blake3", [I32, I32, I32] -> [];
    /// `u256_add(a, b, out) -> i32`
    U256Add = 18, "u256_add", [I32, I32, I32] -> [I32];
    /// `u256_sub(a, b, out) -> i32`
    U256Sub = 19, "u256_sub", [I32, I32, I32] -> [I32];
    /// `u256_mul(a, b, out) -> i32`
    U256Mul = 20, "u256_mul", [I32, I32, I32] -> [I32];
    /// `u256_div(a, b, out) -> i32`
    U256Div = 21, "u256_div", [I32, I32, I32] -> [I32];
    /// `u256_mod(a, b, out) -> i32`
    U256Mod = 22, "u256_mod", [I32, I32, I32] -> [I32];
    /// `u256_pow(a, b, out) -> i32`
    U256Pow = 23, "u256_pow", [I32, I32, I32] -> [I32];
    /// `call(addr, method_ptr, method_len, input_ptr, input_len, value_ptr, gas_limit) -> i32`
    Call = 24, "call", [I32, I32, I32, I32, I32, I32, I64] -> [I32];
    /// `return_data_len() -> i32`
    ReturnDataLen = 25, "return_data_len", [] -> [I32];
    /// `return_data_read(ptr)`
    ReturnDataRead = 26, "return_data_read", [I32] -> [];
}

impl HostFn {
    /// Looks up a host function by import name.
    pub fn by_name(name: &str) -> Option<HostFn> {
        HostFn::ALL.iter().copied().find(|f| f.name() == name)
    }

    /// The schedule entry this function is charged from.
    pub fn cost(self, schedule: &Schedule) -> HostCost {
        let h = &schedule.host;
        match self {
            HostFn::InputLen => h.input_len,
            HostFn::InputRead => h.input_read,
            HostFn::OutputSet => h.output_set,
            HostFn::Revert => h.revert,
            HostFn::StorageRead => h.storage_read,
            HostFn::StorageWrite => h.storage_write,
            HostFn::StorageRemove => h.storage_remove,
            HostFn::Caller | HostFn::Address | HostFn::Value => h.context,
            HostFn::BlockHeight | HostFn::BlockTimestamp | HostFn::GasLeft => h.cheap_query,
            HostFn::Balance => h.balance,
            HostFn::EventEmit => h.event_emit,
            HostFn::DebugLog => h.debug_log,
            HostFn::Blake3 => h.blake3,
            HostFn::U256Add | HostFn::U256Sub => h.u256_add_sub,
            HostFn::U256Mul => h.u256_mul,
            HostFn::U256Div | HostFn::U256Mod => h.u256_div_mod,
            HostFn::U256Pow => h.u256_pow,
            HostFn::Call => h.call,
            HostFn::ReturnDataLen => h.return_data_len,
            HostFn::ReturnDataRead => h.return_data_read,
        }
    }
}

/// A line of the gas breakdown. Every unit of gas used is attributed to exactly one category.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GasCategory {
    /// Metered wasm instructions (the injected block charges), in every call frame.
    Instructions,
    /// `memory.grow` per-page charges.
    MemoryGrowth,
    /// Bytes written to storage (`storage_byte_written`).
    StorageBytes,
    /// A deployment's `deploy_base + deploy_per_code_byte × code length`.
    Deploy,
    /// Each call frame's `instance_base + instance_per_initial_page × initial pages`.
    Instantiation,
    /// One host function's `base + per_byte` charges.
    Host(HostFn),
    /// A transaction's intrinsic gas, charged by the node before anything runs:
    /// `tx_base + tx_per_byte × encoded length` (see [`crate::TransactionCosts`]).
    Transaction,
    /// Each call frame's code loading (schedule v2 on): warm or cold per KiB of code, see
    /// [`crate::CodeLoadCosts`].
    CodeLoad,
}

impl GasCategory {
    /// The stable key used in JSON and receipts (`instructions`, `memory_growth`,
    /// `storage_bytes`, or the host function's ABI name).
    pub fn key(self) -> &'static str {
        match self {
            GasCategory::Instructions => "instructions",
            GasCategory::MemoryGrowth => "memory_growth",
            GasCategory::StorageBytes => "storage_bytes",
            GasCategory::Deploy => "deploy",
            GasCategory::Instantiation => "instantiation",
            GasCategory::Host(f) => f.name(),
            GasCategory::Transaction => "transaction",
            GasCategory::CodeLoad => "code_load",
        }
    }
}
