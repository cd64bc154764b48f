//! The gas schedule: every cost and every limit, as versioned data.
//!
//! A change to any number here changes what calls cost, so it is a consensus change: bump
//! [`Schedule::version`], review the snapshot diff (`vm/tests/snapshots/schedule_v1.json`) and the
//! table in `specs/gas.md`. The [`Schedule::hash`] travels in every execution result.

use std::num::NonZeroU32;

use borsh::BorshSerialize;
use parity_wasm::elements::Instruction;
use serde::Serialize;
use wasm_instrument::gas_metering::{MemoryGrowCost, Rules};

/// Cost in gas of each class of WebAssembly instruction. One gas is roughly one simple
/// instruction of the interpreter; heavier instructions cost proportionally more.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, BorshSerialize)]
pub struct InstructionCosts {
    /// `i32/i64/f32/f64.const`: pushing a constant.
    pub constant: u32,
    /// `local.get/set/tee`.
    pub local: u32,
    /// `global.get/set`.
    pub global: u32,
    /// `drop`, `select`.
    pub parametric: u32,
    /// `block`, `loop`, `else`, `end`, `nop`, `unreachable`: structure only, no work of their own.
    pub structure: u32,
    /// `if`, `br`, `br_if`, `return`.
    pub branch: u32,
    /// `br_table` (the target count is bounded by `max_br_table_targets`).
    pub br_table: u32,
    /// `call`: frame set-up. Locals are charged separately by `call_per_local`.
    pub call: u32,
    /// `call_indirect`: a table lookup and a signature check on top of a call.
    pub call_indirect: u32,
    /// Per local variable of the called function: locals are zeroed on entry, so a function with
    /// many locals must not be as cheap to call as one with none.
    pub call_per_local: u32,
    /// Loads from linear memory.
    pub load: u32,
    /// Stores to linear memory.
    pub store: u32,
    /// `memory.size`.
    pub memory_size: u32,
    /// `memory.grow` itself; pages are charged by `memory_grow_per_page`.
    pub memory_grow: u32,
    /// Integer add/sub/logic/shift/rotate/compare/count and `wrap`/`extend`.
    pub int_simple: u32,
    /// Integer multiplication.
    pub int_mul: u32,
    /// Integer division and remainder (slow on every CPU).
    pub int_div: u32,
    /// Float add/sub/neg/abs/copysign/min/max/compare/rounding.
    pub float_simple: u32,
    /// Float multiplication.
    pub float_mul: u32,
    /// Float division and square root.
    pub float_div: u32,
    /// Conversions between integers and floats (`trunc`, `convert`, `promote`, `demote`,
    /// `reinterpret`).
    pub conversion: u32,
}

/// Cost of a host function: `base + per_byte × bytes`, charged before the work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, BorshSerialize)]
pub struct HostCost {
    /// Fixed part: crossing into the host and the function's fixed work.
    pub base: u64,
    /// Per byte copied, hashed or read.
    pub per_byte: u64,
}

/// Costs of the host ABI v1 functions. See `specs/abi.md` for what each does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, BorshSerialize)]
pub struct HostCosts {
    /// `input_len`.
    pub input_len: HostCost,
    /// `input_read`, per input byte copied into memory.
    pub input_read: HostCost,
    /// `output_set`, per output byte.
    pub output_set: HostCost,
    /// `revert`, per revert-data byte.
    pub revert: HostCost,
    /// `storage_read`: a state lookup (disk, Merkle path), per key and value byte.
    pub storage_read: HostCost,
    /// `storage_write`: base per write, per key and value byte moved; the state growth itself is
    /// charged by `storage_byte_written`.
    pub storage_write: HostCost,
    /// `storage_remove`, per key byte.
    pub storage_remove: HostCost,
    /// `caller`, `address`, `value`.
    pub context: HostCost,
    /// `block_height`, `block_timestamp`, `gas_left`.
    pub cheap_query: HostCost,
    /// `balance`: a state lookup.
    pub balance: HostCost,
    /// `event_emit`, per data byte; topics are charged by `event_per_topic`.
    pub event_emit: HostCost,
    /// Per topic of an event (topics are indexed by nodes).
    pub event_per_topic: u64,
    /// `debug_log`, per byte.
    pub debug_log: HostCost,
    /// `blake3`, per byte hashed.
    pub blake3: HostCost,
    /// `u256_add`, `u256_sub`.
    pub u256_add_sub: HostCost,
    /// `u256_mul`.
    pub u256_mul: HostCost,
    /// `u256_div`, `u256_mod`.
    pub u256_div_mod: HostCost,
    /// `u256_pow`: one squaring (and at most one multiplication) per bit of the exponent;
    /// `per_byte` is charged per significant byte of the exponent (v1: flat).
    pub u256_pow: HostCost,
    /// `call`: a new instance (memory, stack), per byte of method name and input.
    pub call: HostCost,
    /// `return_data_len`.
    pub return_data_len: HostCost,
    /// `return_data_read`, per byte.
    pub return_data_read: HostCost,
    /// Per byte of key + value written to storage: state grows forever, so bytes written must be
    /// priced well above the CPU cost of writing them (prevents storage spam).
    pub storage_byte_written: u64,
}

/// What every transaction pays before anything runs (its intrinsic gas). Charged by the node,
/// priced here so that one versioned schedule (and its hash) covers every unit of a bill.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, BorshSerialize)]
pub struct TransactionCosts {
    /// Fixed gas of every transaction: signature verification, nonce and balance bookkeeping,
    /// the receipt. Without it a flood of tiny transactions would cost the network work for free.
    pub tx_base: u64,
    /// Gas per byte of the encoded signed transaction: block bodies are stored and gossiped
    /// forever (prevents padding transactions with free bytes).
    pub tx_per_byte: u64,
}

/// Every limit. Each one exists to stop a specific attack; the doc comment says which.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, BorshSerialize)]
pub struct Limits {
    /// Largest uploaded module. Bounds validation, instrumentation and compilation time per upload.
    pub max_code_len_bytes: u32,
    /// Most functions (imported + defined). Bounds compile time and the engine's tables.
    pub max_functions: u32,
    /// Most locals per function (parameters included). Each call zeroes them: bounds call cost.
    pub max_locals_per_function: u32,
    /// Most globals. Bounds instance set-up.
    pub max_globals: u32,
    /// Most parameters of a function type. Bounds call frame size.
    pub max_params: u32,
    /// Most types in the type section. Bounds signature checks.
    pub max_types: u32,
    /// Most imports. Bounds linking.
    pub max_imports: u32,
    /// Most exports. Bounds instance set-up and export lookups.
    pub max_exports: u32,
    /// Largest table (initial and maximum). Bounds instance memory.
    pub max_table_elements: u32,
    /// Most targets of one `br_table`. `br_table` is charged a flat cost; this bounds its work.
    pub max_br_table_targets: u32,
    /// Most data segments. Bounds instantiation work (copied at every call).
    pub max_data_segments: u32,
    /// Most linear-memory pages (64 KiB each), initial or maximum or reached by `memory.grow`.
    /// Bounds the host memory one call frame can take (memory bombs).
    pub memory_pages_max: u32,
    /// Engine recursion depth (wasm call frames). Unbounded recursion traps deterministically.
    pub max_recursion_depth: u32,
    /// Engine value-stack size in bytes. Bounds host memory taken by deep or wide frames.
    pub max_value_stack_bytes: u32,
    /// Most nested cross-contract calls (top level = 1). Bounds host stack and memory per call.
    pub max_call_depth: u32,
    /// Largest call input. Bounds copying and transaction size.
    pub max_input_len_bytes: u32,
    /// Largest output or revert data. Bounds receipts.
    pub max_output_len_bytes: u32,
    /// Largest storage key. Bounds Merkle paths and state-proof size.
    pub max_storage_key_len_bytes: u32,
    /// Largest storage value. Bounds a single state write and proof size.
    pub max_storage_value_len_bytes: u32,
    /// Most topics per event. Bounds event indexes.
    pub max_event_topics: u32,
    /// Largest event data. Bounds receipts.
    pub max_event_data_len_bytes: u32,
    /// Most events per execution (all frames). Bounds receipts.
    pub max_events_per_call: u32,
    /// Debug lines are truncated to this length (they are not consensus data but take memory).
    pub max_debug_log_len_bytes: u32,
    /// Most debug lines kept per execution (further lines are charged and dropped).
    pub max_debug_logs_per_call: u32,
    /// Longest method name. Bounds export lookups and receipts.
    pub max_method_name_len_bytes: u32,
    /// Largest encoded signed transaction (a deployment carries its code and init input).
    /// Bounds admission work, mempool memory and block size.
    pub max_tx_len_bytes: u32,
}

/// What loading a contract's code costs each call frame (schedule v2 on): compiled modules live
/// in a per-node cache, and whether a call finds its module compiled must not change its gas, so
/// consensus state keeps a bounded **warm set** of code hashes (`crate::warm_set`) that every
/// node keeps compiled. A member pays `warm_per_kib` per KiB of code (what instantiating a cached
/// module costs: it grows with the module's functions); any other code pays `cold_per_kib` (read,
/// instrument, compile) and joins the set when a block's transaction loaded it, evicting the
/// oldest members beyond `set_bytes_max` or `set_len_max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, BorshSerialize)]
pub struct CodeLoadCosts {
    /// Gas per KiB (rounded up) of a warm member's code, at every frame that loads it.
    pub warm_per_kib: u64,
    /// Gas per KiB (rounded up) of code outside the warm set: the measured cost of a cache miss.
    pub cold_per_kib: u64,
    /// Most code bytes in the warm set: bounds the memory every node spends on compiled members.
    pub set_bytes_max: u64,
    /// Most members: at most the node's module cache capacity, so members are never evicted by
    /// each other.
    pub set_len_max: u32,
}

/// The versioned schedule: instruction costs, host costs and limits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Schedule {
    /// Bumped on every change.
    pub version: u32,
    /// Instruction costs by class.
    pub instructions: InstructionCosts,
    /// Gas per 64 KiB page added by `memory.grow`: the host allocates and zeroes it.
    pub memory_grow_per_page: u32,
    /// Host function costs.
    pub host: HostCosts,
    /// Fixed gas of every call frame's fresh instance (store, linking, globals, tables), charged
    /// before instantiation: a nested call cannot create instances for free.
    pub instance_base: u64,
    /// Gas per initial memory page of a fresh instance: the host allocates and zeroes it on every
    /// call, so a contract declaring 64 pages pays for 4 MiB of zeroing each time.
    pub instance_per_initial_page: u64,
    /// Fixed gas of a deployment (address derivation, contract record, instance set-up).
    pub deploy_base: u64,
    /// Gas per byte of uploaded code: code is stored forever and validated, instrumented and
    /// compiled once per byte, so large uploads must pay for it (prevents code-storage spam).
    pub deploy_per_code_byte: u64,
    /// Intrinsic gas of every transaction.
    pub transaction: TransactionCosts,
    /// Limits.
    pub limits: Limits,
    /// Code loading and the warm set (`None` in v1: code loading is not charged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_loading: Option<CodeLoadCosts>,
    /// `clz`, `ctz`, `popcnt` (`i32`/`i64`): their own price from v2 on (a chain of `popcnt`
    /// ran at 7× the median as `int_simple`); `None` prices them as `int_simple` (v1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub int_bit_count: Option<u32>,
}

/// The canonical encoding: every field in declaration order, `code_loading` only when present,
/// so schedules without it (v1) keep the bytes and hash they always had.
impl BorshSerialize for Schedule {
    fn serialize<W: std::io::Write>(&self, writer: &mut W) -> std::io::Result<()> {
        BorshSerialize::serialize(&self.version, writer)?;
        BorshSerialize::serialize(&self.instructions, writer)?;
        BorshSerialize::serialize(&self.memory_grow_per_page, writer)?;
        BorshSerialize::serialize(&self.host, writer)?;
        BorshSerialize::serialize(&self.instance_base, writer)?;
        BorshSerialize::serialize(&self.instance_per_initial_page, writer)?;
        BorshSerialize::serialize(&self.deploy_base, writer)?;
        BorshSerialize::serialize(&self.deploy_per_code_byte, writer)?;
        BorshSerialize::serialize(&self.transaction, writer)?;
        BorshSerialize::serialize(&self.limits, writer)?;
        if let Some(code_loading) = &self.code_loading {
            BorshSerialize::serialize(code_loading, writer)?;
        }
        if let Some(int_bit_count) = &self.int_bit_count {
            BorshSerialize::serialize(int_bit_count, writer)?;
        }
        Ok(())
    }
}

impl Schedule {
    /// Schedule version 1, the one this node runs.
    pub fn v1() -> Schedule {
        Schedule {
            version: 1,
            instructions: InstructionCosts {
                constant: 1,
                local: 1,
                global: 1,
                parametric: 1,
                structure: 0,
                branch: 1,
                br_table: 3,
                call: 4,
                call_indirect: 6,
                call_per_local: 1,
                load: 2,
                store: 2,
                memory_size: 1,
                memory_grow: 8,
                int_simple: 1,
                int_mul: 2,
                int_div: 8,
                float_simple: 2,
                float_mul: 3,
                float_div: 8,
                conversion: 2,
            },
            memory_grow_per_page: 4096,
            instance_base: 1_000,
            instance_per_initial_page: 2_048,
            deploy_base: 50_000,
            deploy_per_code_byte: 20,
            transaction: TransactionCosts {
                tx_base: 20_000,
                tx_per_byte: 16,
            },
            host: HostCosts {
                input_len: HostCost {
                    base: 20,
                    per_byte: 0,
                },
                input_read: HostCost {
                    base: 50,
                    per_byte: 1,
                },
                output_set: HostCost {
                    base: 50,
                    per_byte: 1,
                },
                revert: HostCost {
                    base: 50,
                    per_byte: 1,
                },
                storage_read: HostCost {
                    base: 2_000,
                    per_byte: 2,
                },
                storage_write: HostCost {
                    base: 5_000,
                    per_byte: 2,
                },
                storage_remove: HostCost {
                    base: 2_500,
                    per_byte: 2,
                },
                context: HostCost {
                    base: 50,
                    per_byte: 0,
                },
                cheap_query: HostCost {
                    base: 20,
                    per_byte: 0,
                },
                balance: HostCost {
                    base: 1_000,
                    per_byte: 0,
                },
                event_emit: HostCost {
                    base: 500,
                    per_byte: 4,
                },
                event_per_topic: 200,
                debug_log: HostCost {
                    base: 100,
                    per_byte: 1,
                },
                blake3: HostCost {
                    base: 200,
                    per_byte: 2,
                },
                u256_add_sub: HostCost {
                    base: 50,
                    per_byte: 0,
                },
                u256_mul: HostCost {
                    base: 100,
                    per_byte: 0,
                },
                u256_div_mod: HostCost {
                    base: 200,
                    per_byte: 0,
                },
                u256_pow: HostCost {
                    base: 2_000,
                    per_byte: 0,
                },
                call: HostCost {
                    base: 10_000,
                    per_byte: 2,
                },
                return_data_len: HostCost {
                    base: 20,
                    per_byte: 0,
                },
                return_data_read: HostCost {
                    base: 50,
                    per_byte: 1,
                },
                storage_byte_written: 50,
            },
            limits: Limits {
                max_code_len_bytes: 512 * 1024,
                max_functions: 10_000,
                max_locals_per_function: 1_024,
                max_globals: 128,
                max_params: 32,
                max_types: 512,
                max_imports: 64,
                max_exports: 256,
                max_table_elements: 4_096,
                max_br_table_targets: 512,
                max_data_segments: 256,
                memory_pages_max: 64,
                max_recursion_depth: 1_024,
                max_value_stack_bytes: 1024 * 1024,
                max_call_depth: 8,
                max_input_len_bytes: 64 * 1024,
                max_output_len_bytes: 64 * 1024,
                max_storage_key_len_bytes: 256,
                max_storage_value_len_bytes: 16 * 1024,
                max_event_topics: 4,
                max_event_data_len_bytes: 4 * 1024,
                max_events_per_call: 256,
                max_debug_log_len_bytes: 1_024,
                max_debug_logs_per_call: 64,
                max_method_name_len_bytes: 64,
                max_tx_len_bytes: 640 * 1024,
            },
            code_loading: None,
            int_bit_count: None,
        }
    }

    /// Schedule version 2: v1 re-priced from the calibration table (`specs/gas.md`,
    /// `./benches/calibrate.sh`) against an anchor of about 0.4 ns per unit of gas on the
    /// development machine class (the median of the instruction classes), with code loading
    /// charged through the warm set ([`CodeLoadCosts`]). Every change below names the item it
    /// answers and its v1 ratio to the median.
    pub fn v2() -> Schedule {
        let mut s = Schedule::v1();
        s.version = 2;
        let c = &mut s.instructions;
        // `call` (no locals) ran at 10.9× the median and `call_indirect` at 9.9×: a wasmi frame
        // costs ~17 ns, not 4 × 0.4 ns.
        c.call = 44;
        c.call_indirect = 60;
        // Globals ran at 4.1×, int ↔ float conversions at 3.8×.
        c.global = 4;
        c.conversion = 8;
        // `f64.sqrt` ran at 2.05× as `float_div`.
        c.float_div = 16;
        // 1,024 zeroed locals per call ran at 0.31×; `call_per_local` stays 1, the smallest
        // whole price.
        let h = &mut s.host;
        // u256 arithmetic on all-bits-set operands: add 4.1×, mul 2.6×, div 1.7×; `pow` with a
        // 256-bit exponent 13.8× (up to 512 multiplications for a flat price). `pow` is priced
        // by the exponent's size instead: a multiplication's worth of base plus 870 per
        // significant exponent byte (16 multiplications), 28,140 for a full 32-byte exponent,
        // where a flat 28,000 over-billed an 8-bit exponent ~30×.
        h.u256_add_sub.base = 200;
        h.u256_mul.base = 260;
        h.u256_div_mod.base = 340;
        h.u256_pow.base = 300;
        h.u256_pow.per_byte = 870;
        // `block_height`-class queries 4.4×, `caller`-class context 2.4×.
        h.cheap_query.base = 90;
        h.context.base = 120;
        // Fresh storage keys through the block commit (Merkle path rewrite + RocksDB write) ran
        // at 5.7×: ~42 µs per 256-byte key written, ~100,000 units at the anchor.
        h.storage_write.base = 90_000;
        h.storage_remove.base = 45_000;
        // A fresh instance with one page ran at 4.2× (≈ 5 µs); with 64 pages at 3.0× once the
        // base was fixed, and growing 63 pages one at a time at 3.0×: zeroing a page is
        // ≈ 4 µs, not 2,048 × 0.4 ns.
        s.instance_base = 10_000;
        s.instance_per_initial_page = 6_000;
        s.memory_grow_per_page = 12_000;
        s.int_bit_count = Some(7);
        // A value transfer through admission, execution and the commit ran at 17× (≈ 160 µs).
        s.transaction.tx_base = 380_000;
        // A deploy of the largest module through the commit ran at 27× (≈ 400 ns per code byte:
        // validate, instrument, compile, store); at 1,000 per byte it ran at 1.29× and a
        // `counter` deploy at 0.40× (billed 2.5× its time): 700 keeps both within 2×.
        s.deploy_per_code_byte = 700;
        // A cold call of a 485 KiB module ran at 57,755× (≈ 70 ms: 144 µs per KiB read,
        // instrumented and compiled); a warm call of it at 18.9× (≈ 22 µs: instantiation grows
        // with the function count, ≈ 45 ns per KiB). 32 MiB of members compile to well under a
        // GiB; 128 members fit the node's module cache (256) twice.
        s.code_loading = Some(CodeLoadCosts {
            warm_per_kib: 120,
            cold_per_kib: 360_000,
            set_bytes_max: 32 * 1024 * 1024,
            set_len_max: 128,
        });
        s
    }

    /// Every schedule version this build knows, oldest first.
    pub const VERSIONS: [u32; 2] = [1, 2];

    /// The schedule of `version`, if this build knows it.
    pub fn by_version(version: u32) -> Option<Schedule> {
        match version {
            1 => Some(Schedule::v1()),
            2 => Some(Schedule::v2()),
            _ => None,
        }
    }

    /// The known schedule whose [`Schedule::hash`] is `hash` (what headers, receipts and audit
    /// bundles name), if any.
    pub fn by_hash(hash: &[u8; 32]) -> Option<Schedule> {
        Schedule::VERSIONS
            .iter()
            .filter_map(|v| Schedule::by_version(*v))
            .find(|s| &s.hash() == hash)
    }

    /// `blake3` of the schedule's canonical (borsh) encoding.
    pub fn hash(&self) -> [u8; 32] {
        let bytes = borsh::to_vec(self).expect("borsh encoding into a Vec cannot fail");
        *blake3::hash(&bytes).as_bytes()
    }

    /// The cost of one instruction for the instrumenter, or `None` for an instruction the
    /// schedule does not price (then instrumentation fails and the code is rejected).
    pub fn instruction_cost(&self, instruction: &Instruction) -> Option<u32> {
        use Instruction::*;
        let c = &self.instructions;
        Some(match instruction {
            Unreachable | Nop | Block(_) | Loop(_) | Else | End => c.structure,
            If(_) | Br(_) | BrIf(_) | Return => c.branch,
            BrTable(_) => c.br_table,
            Call(_) => c.call,
            CallIndirect(..) => c.call_indirect,
            Drop | Select => c.parametric,
            GetLocal(_) | SetLocal(_) | TeeLocal(_) => c.local,
            GetGlobal(_) | SetGlobal(_) => c.global,
            I32Load(..) | I64Load(..) | F32Load(..) | F64Load(..) | I32Load8S(..)
            | I32Load8U(..) | I32Load16S(..) | I32Load16U(..) | I64Load8S(..) | I64Load8U(..)
            | I64Load16S(..) | I64Load16U(..) | I64Load32S(..) | I64Load32U(..) => c.load,
            I32Store(..) | I64Store(..) | F32Store(..) | F64Store(..) | I32Store8(..)
            | I32Store16(..) | I64Store8(..) | I64Store16(..) | I64Store32(..) => c.store,
            CurrentMemory(_) => c.memory_size,
            GrowMemory(_) => c.memory_grow,
            I32Const(_) | I64Const(_) | F32Const(_) | F64Const(_) => c.constant,
            I32Clz | I32Ctz | I32Popcnt | I64Clz | I64Ctz | I64Popcnt => {
                self.int_bit_count.unwrap_or(c.int_simple)
            }
            I32Eqz | I32Eq | I32Ne | I32LtS | I32LtU | I32GtS | I32GtU | I32LeS | I32LeU
            | I32GeS | I32GeU | I64Eqz | I64Eq | I64Ne | I64LtS | I64LtU | I64GtS | I64GtU
            | I64LeS | I64LeU | I64GeS | I64GeU | I32Add | I32Sub | I32And | I32Or | I32Xor
            | I32Shl | I32ShrS | I32ShrU | I32Rotl | I32Rotr | I64Add | I64Sub | I64And | I64Or
            | I64Xor | I64Shl | I64ShrS | I64ShrU | I64Rotl | I64Rotr | I32WrapI64
            | I64ExtendSI32 | I64ExtendUI32 => c.int_simple,
            I32Mul | I64Mul => c.int_mul,
            I32DivS | I32DivU | I32RemS | I32RemU | I64DivS | I64DivU | I64RemS | I64RemU => {
                c.int_div
            }
            F32Eq | F32Ne | F32Lt | F32Gt | F32Le | F32Ge | F64Eq | F64Ne | F64Lt | F64Gt
            | F64Le | F64Ge | F32Abs | F32Neg | F32Ceil | F32Floor | F32Trunc | F32Nearest
            | F32Add | F32Sub | F32Min | F32Max | F32Copysign | F64Abs | F64Neg | F64Ceil
            | F64Floor | F64Trunc | F64Nearest | F64Add | F64Sub | F64Min | F64Max
            | F64Copysign => c.float_simple,
            F32Mul | F64Mul => c.float_mul,
            F32Div | F64Div | F32Sqrt | F64Sqrt => c.float_div,
            I32TruncSF32 | I32TruncUF32 | I32TruncSF64 | I32TruncUF64 | I64TruncSF32
            | I64TruncUF32 | I64TruncSF64 | I64TruncUF64 | F32ConvertSI32 | F32ConvertUI32
            | F32ConvertSI64 | F32ConvertUI64 | F32DemoteF64 | F64ConvertSI32 | F64ConvertUI32
            | F64ConvertSI64 | F64ConvertUI64 | F64PromoteF32 | I32ReinterpretF32
            | I64ReinterpretF64 | F32ReinterpretI32 | F64ReinterpretI64 => c.conversion,
        })
    }
}

/// Adapter giving wasm-instrument the schedule's instruction costs. Memory growth is charged by
/// our own grow helper (see `instrument`), so wasm-instrument is told it is free, except in
/// [`ShippedRules`] used as the benchmark comparator.
pub(crate) struct ScheduleRules<'a>(pub(crate) &'a Schedule);

impl Rules for ScheduleRules<'_> {
    fn instruction_cost(&self, instruction: &Instruction) -> Option<u32> {
        self.0.instruction_cost(instruction)
    }

    fn memory_grow_cost(&self) -> MemoryGrowCost {
        MemoryGrowCost::Free
    }

    fn call_per_local_cost(&self) -> u32 {
        self.0.instructions.call_per_local
    }
}

/// The same costs with wasm-instrument's own per-page memory charge: "wasm-instrument as shipped".
pub(crate) struct ShippedRules<'a>(pub(crate) &'a Schedule);

impl Rules for ShippedRules<'_> {
    fn instruction_cost(&self, instruction: &Instruction) -> Option<u32> {
        self.0.instruction_cost(instruction)
    }

    fn memory_grow_cost(&self) -> MemoryGrowCost {
        NonZeroU32::new(self.0.memory_grow_per_page)
            .map_or(MemoryGrowCost::Free, MemoryGrowCost::Linear)
    }

    fn call_per_local_cost(&self) -> u32 {
        self.0.instructions.call_per_local
    }
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule::v1()
    }
}
