//! The calibration items: one WebAssembly module per instruction class, host function and
//! per-call charge, each built so that the item under test dominates its gas *and* its time
//! (loops unrolled, worst-case operands, largest allowed sizes), run through the real vm.
//!
//! [`measure`] times an item (median of repeated runs) and divides by the gas the vm billed:
//! nanoseconds per unit of gas. `examples/calibrate.rs` prints the table for a schedule, with the
//! node-level items (storage through the block commit, a transaction's intrinsic work, deploys)
//! that need RocksDB; `specs/gas.md` explains the method and holds the measured table.

use std::sync::Arc;
use std::time::{Duration, Instant};

use opmeter_vm::{
    warm_set, Address, BlockContext, CallRequest, CodeHash, MemoryState, Outcome, Schedule, Status,
    Vm, VmConfig, U256,
};

/// The account that calls every item.
pub const CALLER: Address = Address([0xCA; 32]);
/// The address of the item's contract.
pub const CONTRACT: Address = Address([0xC0; 32]);
/// The address of the callee of the cross-contract items.
pub const CALLEE: Address = Address([0xCE; 32]);

/// What an item measures, for grouping in the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// A class of wasm instructions.
    Instruction,
    /// A host function on its worst-case input.
    Host,
    /// A per-call charge (instantiation, code loading, nested calls).
    Call,
}

impl Group {
    /// Its name in the table.
    pub fn name(self) -> &'static str {
        match self {
            Group::Instruction => "instruction",
            Group::Host => "host",
            Group::Call => "call",
        }
    }
}

/// One calibration item: a contract, how to call it, and the state it needs.
pub struct Item {
    /// Short name (`i64.div_u`, `storage_write 16 KiB`, …).
    pub name: String,
    /// What it measures.
    pub group: Group,
    /// The contract's wasm.
    pub wasm: Vec<u8>,
    /// The method called.
    pub method: &'static str,
    /// The call's input.
    pub input: Vec<u8>,
    /// Other contracts to install (address, wasm): callees.
    pub others: Vec<(Address, Vec<u8>)>,
    /// Storage to install before the call: (contract, key, value).
    pub storage: Vec<(Address, Vec<u8>, Vec<u8>)>,
}

impl Item {
    fn new(name: impl Into<String>, group: Group, wat: &str) -> Item {
        Item {
            name: name.into(),
            group,
            wasm: wat::parse_str(wat).unwrap_or_else(|e| panic!("calibration WAT: {e}\n{wat}")),
            method: "run",
            input: Vec::new(),
            others: Vec::new(),
            storage: Vec::new(),
        }
    }

    /// The state the item runs against, its codes in the warm set (schedule v2 on: the steady
    /// state of a contract in use; v1 never reads the set).
    pub fn state(&self) -> Arc<MemoryState> {
        let mut state = (*self.state_cold()).clone();
        let hashes: Vec<(CodeHash, u32)> = std::iter::once(&self.wasm)
            .chain(self.others.iter().map(|(_, wasm)| wasm))
            .map(|wasm| (CodeHash::of(wasm), wasm.len() as u32))
            .collect();
        let mut update = warm_set::Update::new(&state);
        let costs = Schedule::v2().code_loading.expect("v2 has code loading");
        for (hash, len) in hashes {
            update.insert(hash, len, &costs).expect("in-memory state");
        }
        let writes = update.into_writes();
        for (key, value) in writes {
            if let Some(value) = value {
                state.storage.insert((warm_set::ADDRESS, key), value);
            }
        }
        Arc::new(state)
    }

    /// The state without a warm set: every code load is cold (schedule v2 on).
    pub fn state_cold(&self) -> Arc<MemoryState> {
        let mut state = MemoryState::default();
        state.put_contract(CONTRACT, &self.wasm);
        for (address, wasm) in &self.others {
            state.put_contract(*address, wasm);
        }
        for (contract, key, value) in &self.storage {
            state
                .storage
                .insert((*contract, key.clone()), value.clone());
        }
        state
            .balances
            .insert(CONTRACT, U256::from(1_000_000_000_u64));
        Arc::new(state)
    }

    /// The call.
    pub fn request(&self) -> CallRequest {
        CallRequest {
            caller: CALLER,
            contract: CONTRACT,
            method: self.method.into(),
            input: self.input.clone(),
            value: U256::zero(),
            gas_limit: 10_000_000_000,
        }
    }
}

/// Runs `item` once on `vm` and returns its outcome (panics unless it succeeded: an item that
/// fails measures nothing).
pub fn run(vm: &Vm, item: &Item, state: &Arc<MemoryState>) -> Outcome {
    let outcome = vm
        .execute(state.clone(), BlockContext::default(), item.request())
        .unwrap_or_else(|e| panic!("{}: {e}", item.name));
    assert_eq!(
        outcome.status,
        Status::Success,
        "{}: {:?}",
        item.name,
        outcome.output
    );
    outcome
}

/// One measured row.
#[derive(Clone, Debug)]
pub struct Measurement {
    /// The item's name.
    pub name: String,
    /// Its group.
    pub group: &'static str,
    /// Gas billed per run.
    pub gas: u64,
    /// Median wall time per run.
    pub time: Duration,
}

impl Measurement {
    /// Nanoseconds per unit of gas.
    pub fn ns_per_gas(&self) -> f64 {
        self.time.as_nanos() as f64 / self.gas.max(1) as f64
    }
}

/// Times `work` (which returns the gas it was billed): one warm-up, then the median of `runs`.
pub fn time_median(runs: usize, mut work: impl FnMut() -> u64) -> (u64, Duration) {
    let gas = work();
    let mut times: Vec<Duration> = (0..runs.max(1))
        .map(|_| {
            let started = Instant::now();
            let again = work();
            let elapsed = started.elapsed();
            assert_eq!(again, gas, "gas must not change between runs");
            elapsed
        })
        .collect();
    times.sort();
    (gas, times[times.len() / 2])
}

/// Measures `item` warm (module cache filled by the warm-up run).
pub fn measure(vm: &Vm, item: &Item, runs: usize) -> Measurement {
    let state = item.state();
    let (gas, time) = time_median(runs, || run(vm, item, &state).gas_used);
    Measurement {
        name: item.name.clone(),
        group: item.group.name(),
        gas,
        time,
    }
}

/// Measures calls of `contracts` distinct large modules round-robin on a vm whose caches hold
/// one module: every call reads, instruments and compiles its code (a cache miss), as when an
/// attacker cycles through more contracts than any cache holds.
pub fn measure_cold_code(schedule: &Schedule, contracts: usize, runs: usize) -> Measurement {
    let one = std::num::NonZeroUsize::MIN;
    let vm = Vm::with_config(
        schedule.clone(),
        VmConfig {
            module_cache_capacity: one,
            instrumented_cache_capacity: one,
            ..VmConfig::default()
        },
    );
    let items: Vec<Item> = (0..contracts.max(2))
        .map(|variant| largest_module(schedule, variant as u64))
        .collect();
    let states: Vec<_> = items.iter().map(Item::state_cold).collect();
    let mut next = 0;
    let (gas, time) = time_median(runs, || {
        // Two calls per run so each run sees the same (cold) situation.
        let mut gas = 0;
        for _ in 0..2 {
            let index = next % items.len();
            next += 1;
            gas += run(&vm, &items[index], &states[index]).gas_used;
        }
        gas
    });
    Measurement {
        name: format!(
            "cold code load, {} KiB module, {contracts} contracts round-robin",
            items[0].wasm.len() / 1024
        ),
        group: Group::Call.name(),
        gas,
        time,
    }
}

/// A loop of `iterations` around `unroll` copies of `body`, in an exported `run`, with the
/// locals the bodies use: `$i` (i32 counter), `$x` `$y` (i64), `$f` (f64), `$p` (i32).
fn looped(
    decls: &str,
    pages: u32,
    prelude: &str,
    body: &str,
    unroll: usize,
    iterations: u32,
) -> String {
    let bodies = body.repeat(unroll);
    format!(
        r#"(module
  {decls}
  (memory (export "memory") {pages})
  (func (export "run") (local $i i32) (local $x i64) (local $y i64) (local $f f64) (local $p i32)
    (local.set $x (i64.const 0x7fffffffffff))
    (local.set $f (f64.const 1.5))
    {prelude}
    (loop $l
      {bodies}
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const {iterations}))))))"#
    )
}

/// An instruction item: `body` unrolled 16 times inside a loop of 2,000 iterations.
fn instruction(name: &str, decls: &str, body: &str) -> Item {
    Item::new(
        name,
        Group::Instruction,
        &looped(decls, 1, "", body, 16, 2_000),
    )
}

/// An item that calls host function `import` (declared by `decls`) in a loop.
fn host(name: &str, decls: &str, pages: u32, prelude: &str, body: &str, iterations: u32) -> Item {
    Item::new(
        name,
        Group::Host,
        &looped(decls, pages, prelude, body, 1, iterations),
    )
}

/// Every instruction-class item.
pub fn instruction_items(schedule: &Schedule) -> Vec<Item> {
    // A chain of 8 dependent operations on `$x`: x = op(...op(op(x, c), c)..., c).
    let int_chain = |op: &str, operand: &str| {
        let mut expr = "(local.get $x)".to_string();
        for _ in 0..8 {
            expr = format!("({op} {expr} {operand})");
        }
        format!("(local.set $x {expr})")
    };
    let unary_chain = |op: &str, start: &str| {
        let mut expr = start.to_string();
        for _ in 0..8 {
            expr = format!("({op} {expr})");
        }
        expr
    };
    let float_chain = |op: &str, operand: &str| {
        let mut expr = "(local.get $f)".to_string();
        for _ in 0..8 {
            expr = format!("({op} {expr} {operand})");
        }
        format!("(local.set $f {expr})")
    };
    let targets = schedule.limits.max_br_table_targets as usize;
    let many_locals = schedule.limits.max_locals_per_function as usize;
    let mut items = vec![
        instruction("i64.add", "", &int_chain("i64.add", "(i64.const 7)")),
        instruction("i64.xor/shl/rotl mix", "", &int_chain("i64.rotl", "(i64.const 13)")),
        instruction("i64.clz/popcnt", "", &format!("(local.set $x {})", unary_chain("i64.popcnt", "(local.get $x)"))),
        instruction("i64.eq/lt compare", "", &format!("(local.set $p {})", unary_chain("i32.eqz", "(i64.lt_u (local.get $x) (local.get $y))"))),
        instruction("i64.mul", "", &int_chain("i64.mul", "(i64.const 0x100000001b3)")),
        instruction("i64.div_u", "", &int_chain("i64.div_u", "(i64.const 3)")),
        instruction("i64.rem_s", "", &int_chain("i64.rem_s", "(i64.const 0x7ffffffffff)")),
        instruction("i32.div_s", "", "(local.set $p (i32.div_s (i32.div_s (i32.div_s (i32.div_s (i32.const 0x7fffffff) (i32.const 3)) (i32.const 3)) (i32.const 3)) (i32.const 3)))"),
        instruction("f64.add", "", &float_chain("f64.add", "(f64.const 1.25)")),
        instruction("f64.mul", "", &float_chain("f64.mul", "(f64.const 1.0000001)")),
        instruction("f64.div", "", &float_chain("f64.div", "(f64.const 1.0000001)")),
        instruction("f64.sqrt", "", &format!("(local.set $f {})", unary_chain("f64.sqrt", "(local.get $f)"))),
        instruction("conversions", "", "(local.set $x (i64.trunc_f64_s (f64.convert_i64_s (i64.trunc_f64_s (f64.convert_i64_s (local.get $x))))))"),
        instruction("local.get/set", "", &"(local.set $y (local.get $x))".repeat(4)),
        instruction("global.get/set", "(global $g (mut i64) (i64.const 1))", &"(global.set $g (global.get $g))".repeat(4)),
        instruction("i64.load", "", &"(local.set $x (i64.load offset=64 (local.get $p)))".repeat(4)),
        instruction("i64.store", "", &"(i64.store offset=64 (local.get $p) (local.get $x))".repeat(4)),
        instruction("i32.load8_u", "", &"(local.set $p (i32.load8_u offset=3 (local.get $p)))".repeat(4)),
        instruction("select/drop", "", &"(local.set $x (select (local.get $x) (local.get $y) (local.get $p)))".repeat(4)),
        instruction("br_if/if", "", "(block $b (br_if $b (local.get $p)) (if (local.get $p) (then (nop)) (else (nop))))"),
        instruction("memory.size", "", "(local.set $p (memory.size))"),
        instruction("call (no locals)", "(func $nop)", &"(call $nop)".repeat(4)),
        instruction(
            "call_indirect",
            "(type $t (func)) (table 1 funcref) (elem (i32.const 0) $nop) (func $nop)",
            &"(call_indirect (type $t) (i32.const 0))".repeat(4),
        ),
    ];
    // br_table over the most targets a table may have, index varying with the loop counter.
    let labels = "$b ".repeat(targets - 1);
    items.push(Item::new(
        format!("br_table, {targets} targets"),
        Group::Instruction,
        &looped(
            "",
            1,
            "",
            &format!(
                "(block $b (br_table {labels} $b (i32.and (local.get $i) (i32.const {}))))",
                targets.next_power_of_two() - 1
            ),
            16,
            2_000,
        ),
    ));
    // A call to a function with the most locals a function may have: every call zeroes them.
    let locals = "(local i64)".repeat(many_locals);
    items.push(Item::new(
        format!("call, {many_locals} locals"),
        Group::Instruction,
        &looped(
            &format!("(func $fat {locals})"),
            1,
            "",
            "(call $fat)",
            4,
            500,
        ),
    ));
    // memory.grow one page at a time up to the most pages a memory may have (fresh instance per
    // call, so every run grows the same pages).
    let pages_max = schedule.limits.memory_pages_max;
    items.push(Item::new(
        format!("memory.grow, 1 → {pages_max} pages"),
        Group::Instruction,
        &looped(
            "",
            1,
            "",
            "(drop (memory.grow (i32.const 1)))",
            1,
            pages_max - 1,
        ),
    ));
    items
}

const IMPORTS: &str = r#"
  (import "opmeter" "input_read" (func $input_read (param i32)))
  (import "opmeter" "output_set" (func $output_set (param i32 i32)))
  (import "opmeter" "storage_read" (func $storage_read (param i32 i32 i32 i32) (result i32)))
  (import "opmeter" "storage_write" (func $storage_write (param i32 i32 i32 i32)))
  (import "opmeter" "storage_remove" (func $storage_remove (param i32 i32) (result i32)))
  (import "opmeter" "caller" (func $caller (param i32)))
  (import "opmeter" "block_height" (func $block_height (result i64)))
  (import "opmeter" "balance" (func $balance (param i32 i32)))
  (import "opmeter" "event_emit" (func $event_emit (param i32 i32 i32 i32)))
  (import "opmeter" "debug_log" (func $debug_log (param i32 i32)))
  (import "opmeter" "blake3" (func $blake3 (param i32 i32 i32)))
  (import "opmeter" "u256_add" (func $u256_add (param i32 i32 i32) (result i32)))
  (import "opmeter" "u256_mul" (func $u256_mul (param i32 i32 i32) (result i32)))
  (import "opmeter" "u256_div" (func $u256_div (param i32 i32 i32) (result i32)))
  (import "opmeter" "u256_pow" (func $u256_pow (param i32 i32 i32) (result i32)))
  (import "opmeter" "call" (func $call (param i32 i32 i32 i32 i32 i32 i64) (result i32)))
  (import "opmeter" "return_data_read" (func $return_data_read (param i32)))
"#;

/// Fills `len` bytes at `at` with 0xff (worst-case u256 operands: every bit set).
fn fill(at: u32, len: u32) -> String {
    format!(
        "(local.set $p (i32.const 0)) (block $d (loop $f
           (br_if $d (i32.ge_u (local.get $p) (i32.const {len})))
           (i32.store8 (i32.add (i32.const {at}) (local.get $p)) (i32.const 255))
           (local.set $p (i32.add (local.get $p) (i32.const 1))) (br $f)))"
    )
}

/// Every host-function item, on its worst-case input under `schedule`'s limits.
pub fn host_items(schedule: &Schedule) -> Vec<Item> {
    let limits = &schedule.limits;
    let input_max = limits.max_input_len_bytes;
    let output_max = limits.max_output_len_bytes;
    let key_max = limits.max_storage_key_len_bytes;
    let value_max = limits.max_storage_value_len_bytes;
    let event_max = limits.max_event_data_len_bytes;
    let topics_max = limits.max_event_topics;
    let events_max = limits.max_events_per_call;
    let debug_max = limits.max_debug_log_len_bytes;
    // Memory layout: [0, 128 KiB) buffers; u256 operands at 200 000.
    let pages = 4;
    let mut items = vec![
        host(
            &format!("input_read {} KiB", input_max / 1024),
            IMPORTS,
            pages,
            "",
            "(call $input_read (i32.const 0))",
            64,
        ),
        host(
            &format!("output_set {} KiB", output_max / 1024),
            IMPORTS,
            pages,
            "",
            &format!("(call $output_set (i32.const 0) (i32.const {output_max}))"),
            64,
        ),
        host(
            &format!("storage_read {key_max} B key, {} KiB value", value_max / 1024),
            IMPORTS,
            pages,
            "",
            &format!(
                "(drop (call $storage_read (i32.const 0) (i32.const {key_max}) (i32.const 1024) (i32.const {value_max})))"
            ),
            256,
        ),
        host(
            &format!("storage_write {key_max} B key, {} KiB value (overwrite)", value_max / 1024),
            IMPORTS,
            pages,
            "",
            &format!(
                "(call $storage_write (i32.const 0) (i32.const {key_max}) (i32.const 1024) (i32.const {value_max}))"
            ),
            256,
        ),
        host(
            &format!("storage_write {key_max} B fresh keys, 1 B value"),
            IMPORTS,
            pages,
            "",
            &format!(
                "(i32.store (i32.const 0) (local.get $i)) (call $storage_write (i32.const 0) (i32.const {key_max}) (i32.const 1024) (i32.const 1))"
            ),
            256,
        ),
        host(
            &format!("storage_remove {key_max} B key"),
            IMPORTS,
            pages,
            "",
            &format!("(drop (call $storage_remove (i32.const 0) (i32.const {key_max})))"),
            256,
        ),
        host("caller", IMPORTS, pages, "", "(call $caller (i32.const 0))", 2_000),
        host("block_height", IMPORTS, pages, "", "(local.set $x (call $block_height))", 2_000),
        host("balance", IMPORTS, pages, "", "(call $balance (i32.const 0) (i32.const 64))", 2_000),
        host(
            &format!("event_emit {topics_max} topics, {} KiB", event_max / 1024),
            IMPORTS,
            pages,
            "",
            &format!("(call $event_emit (i32.const 0) (i32.const {topics_max}) (i32.const 1024) (i32.const {event_max}))"),
            events_max,
        ),
        host(
            &format!("debug_log {debug_max} B"),
            IMPORTS,
            pages,
            "",
            &format!("(call $debug_log (i32.const 0) (i32.const {debug_max}))"),
            256,
        ),
        host(
            "blake3 64 KiB",
            IMPORTS,
            pages,
            "",
            "(call $blake3 (i32.const 0) (i32.const 65536) (i32.const 70000))",
            64,
        ),
        host(
            "u256_add, all bits set",
            IMPORTS,
            pages,
            &fill(200_000, 64),
            "(drop (call $u256_add (i32.const 200000) (i32.const 200032) (i32.const 200064)))",
            2_000,
        ),
        host(
            "u256_mul, all bits set",
            IMPORTS,
            pages,
            &fill(200_000, 64),
            "(drop (call $u256_mul (i32.const 200000) (i32.const 200032) (i32.const 200064)))",
            2_000,
        ),
        host(
            "u256_div, all bits set",
            IMPORTS,
            pages,
            &format!("{} (i32.store8 (i32.const 200032) (i32.const 3))", fill(200_000, 32)),
            "(drop (call $u256_div (i32.const 200000) (i32.const 200032) (i32.const 200064)))",
            2_000,
        ),
        host(
            "u256_pow, 8-bit exponent (all bits set)",
            IMPORTS,
            pages,
            &format!("{} (i32.store8 (i32.const 200032) (i32.const 255))", fill(200_000, 32)),
            "(drop (call $u256_pow (i32.const 200000) (i32.const 200032) (i32.const 200064)))",
            2_000,
        ),
        host(
            "u256_pow, 256-bit exponent",
            IMPORTS,
            pages,
            &fill(200_000, 64),
            "(drop (call $u256_pow (i32.const 200000) (i32.const 200032) (i32.const 200064)))",
            2_000,
        ),
    ];
    for item in &mut items {
        if item.name.starts_with("input_read") {
            item.input = vec![0x5a; input_max as usize];
        }
        if item.name.starts_with("storage_read") || item.name.starts_with("storage_remove") {
            item.storage.push((
                CONTRACT,
                vec![0; key_max as usize],
                vec![0x33; value_max as usize],
            ));
        }
    }
    items
}

/// The contract every cross-contract item calls: `run` does nothing.
fn callee(pages: u32) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module (memory (export "memory") {pages}) (func (export "run")))"#
    ))
    .expect("callee WAT")
}

/// Every per-call item: instantiation per initial page, nested calls, a chain of calls as deep
/// as allowed.
pub fn call_items(schedule: &Schedule) -> Vec<Item> {
    let pages_max = schedule.limits.memory_pages_max;
    let depth_max = schedule.limits.max_call_depth;
    let call_body = "(drop (call $call (i32.const 0) (i32.const 32) (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 64) (i64.const 0)))";
    let write_callee = |address: Address| {
        let bytes: String = address.0.iter().map(|b| format!("\\{b:02x}")).collect();
        format!(r#"(data (i32.const 0) "{bytes}") (data (i32.const 32) "run")"#)
    };
    // 200 nested calls of a callee whose memory has `pages` initial pages.
    let nested_calls = |pages: u32| {
        let mut item = Item::new(
            format!("call: a nested call of a {pages}-page callee"),
            Group::Call,
            &looped(
                &format!("{IMPORTS} {}", write_callee(CALLEE)),
                1,
                "",
                call_body,
                1,
                200,
            ),
        );
        item.others.push((CALLEE, callee(pages)));
        item
    };
    let small = nested_calls(1);
    let nested = nested_calls(pages_max);
    // A chain: the contract calls itself `depth_max - 1` times (input = remaining depth).
    let chain = Item {
        input: vec![depth_max as u8 - 1],
        method: "run",
        ..Item::new(
            format!("call: chain of {depth_max} frames, repeated"),
            Group::Call,
            &format!(
                r#"(module {IMPORTS} {}
  (import "opmeter" "input_len" (func $input_len (result i32)))
  (memory (export "memory") 1)
  (func (export "run") (local $i i32)
    (call $input_read (i32.const 100))
    (if (i32.eqz (i32.load8_u (i32.const 100))) (then (return)))
    (i32.store8 (i32.const 100) (i32.sub (i32.load8_u (i32.const 100)) (i32.const 1)))
    (loop $l
      (drop (call $call (i32.const 0) (i32.const 32) (i32.const 3) (i32.const 100) (i32.const 1) (i32.const 64) (i64.const 0)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 2))))))"#,
                write_callee(CONTRACT)
            ),
        )
    };
    let instantiate = |pages: u32| {
        Item::new(
            format!("instantiation, {pages} initial pages"),
            Group::Call,
            &format!(r#"(module (memory (export "memory") {pages}) (func (export "run")))"#),
        )
    };
    vec![instantiate(1), instantiate(pages_max), small, nested, chain]
}

/// The largest module the schedule accepts, made of many mid-sized functions of integer code
/// (what compilation spends most time on), `variant` making its code hash distinct.
pub fn largest_module(schedule: &Schedule, variant: u64) -> Item {
    let budget = schedule.limits.max_code_len_bytes as usize - 4 * 1024;
    let body: String = (0..64)
        .map(|k| {
            format!(
                "(local.set $x (i64.add (i64.mul (local.get $x) (i64.const {})) (local.get $y)))",
                variant * 1_000 + k
            )
        })
        .collect();
    // Measure one function's size, then add as many as fit.
    let one = wat::parse_str(format!(
        "(module (func (local $x i64) (local $y i64) {body}))"
    ))
    .expect("function WAT")
    .len();
    let functions = budget / one.max(1);
    let funcs: String = (0..functions)
        .map(|_| format!("(func (local $x i64) (local $y i64) {body})"))
        .collect();
    Item::new(
        format!("largest module (variant {variant})"),
        Group::Call,
        &format!(r#"(module (memory (export "memory") 1) {funcs} (func (export "run")))"#),
    )
}

/// Every vm-level item under `schedule` (cold code is measured separately by
/// [`measure_cold_code`]).
pub fn items(schedule: &Schedule) -> Vec<Item> {
    let mut all = instruction_items(schedule);
    all.extend(host_items(schedule));
    all.extend(call_items(schedule));
    all
}

/// The median of `values` (0 when empty).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(0.0)
}

/// The table: item, group, gas per run, time per run, ns/gas and its ratio to the median.
pub fn table(rows: &[Measurement]) -> String {
    let med = median(&rows.iter().map(Measurement::ns_per_gas).collect::<Vec<_>>());
    let mut out = format!(
        "median {med:.3} ns/gas\n\n| item | group | gas | µs | ns/gas | × median |\n|---|---|---:|---:|---:|---:|\n"
    );
    for row in rows {
        let ns = row.ns_per_gas();
        out.push_str(&format!(
            "| {} | {} | {} | {:.1} | {:.3} | {:.2} |\n",
            row.name,
            row.group,
            row.gas,
            row.time.as_secs_f64() * 1e6,
            ns,
            ns / med
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every item runs to success under v1 and is dominated by what it measures.
    #[test]
    fn every_item_runs_and_bills_what_it_measures() {
        let schedule = Schedule::v1();
        let vm = Vm::new(schedule.clone());
        for item in items(&schedule) {
            let outcome = run(&vm, &item, &item.state());
            assert!(
                outcome.gas_used > 1_000,
                "{}: {}",
                item.name,
                outcome.gas_used
            );
            let host_share: u64 = outcome
                .breakdown_by_key()
                .iter()
                .filter(|(name, _)| !["instructions", "instantiation"].contains(*name))
                .map(|(_, gas)| *gas)
                .sum();
            if item.group == Group::Host {
                // The cheapest host functions (20 gas) still pay for a third of their loop.
                assert!(
                    host_share * 3 > outcome.gas_used,
                    "{}: host share {host_share} of {}",
                    item.name,
                    outcome.gas_used
                );
            }
        }
    }

    #[test]
    fn the_largest_module_is_near_the_limit_and_variants_differ() {
        let schedule = Schedule::v1();
        let a = largest_module(&schedule, 0);
        let b = largest_module(&schedule, 1);
        let limit = schedule.limits.max_code_len_bytes as usize;
        assert!(
            a.wasm.len() <= limit && a.wasm.len() > limit * 9 / 10,
            "{}",
            a.wasm.len()
        );
        assert_ne!(a.wasm, b.wasm);
        Vm::new(schedule).validate(&a.wasm).expect("valid");
    }

    #[test]
    fn cold_code_is_billed_by_the_warm_set_never_by_the_cache() {
        for schedule in [Schedule::v1(), Schedule::v2()] {
            // One run calls both variants once, cold.
            let cold = measure_cold_code(&schedule, 2, 1);
            let vm = Vm::new(schedule.clone());
            let mut expected = 0;
            for variant in [0, 1] {
                let item = largest_module(&schedule, variant);
                let warm = run(&vm, &item, &item.state()).gas_used;
                let extra = match schedule.code_loading {
                    None => 0,
                    Some(costs) => {
                        (item.wasm.len() as u64).div_ceil(1024)
                            * (costs.cold_per_kib - costs.warm_per_kib)
                    }
                };
                expected += warm + extra;
            }
            assert_eq!(cold.gas, expected, "v{}", schedule.version);
        }
    }
}
