//! Gas traces: every case runs traced and untraced and checks the three invariants exactly
//! (identical outcomes; every total is the sum of its parts; the tree summed by category is the
//! outcome's breakdown), plus pinned trees for small cases.

use std::fmt::Write as _;
use std::sync::Arc;

use crate::world::World;
use opmeter_vm::{
    Address, BlockContext, CallRequest, DeployRequest, FrameTrace, GasCategory, HostFn,
    MemoryState, Outcome, Status, Trace, TraceEntry, TraceOptions, TrapCode, U256,
};

const CALLER: Address = Address([1; 32]);
const A: Address = Address([0xA; 32]);
const B: Address = Address([0xB; 32]);

const IMPORTS: &str = r#"
  (import "opmeter" "output_set" (func $output_set (param i32 i32)))
  (import "opmeter" "revert" (func $revert (param i32 i32)))
  (import "opmeter" "storage_write" (func $storage_write (param i32 i32 i32 i32)))
  (import "opmeter" "block_height" (func $block_height (result i64)))
  (import "opmeter" "call" (func $call (param i32 i32 i32 i32 i32 i32 i64) (result i32)))
"#;

fn module(body: &str) -> Vec<u8> {
    let text = format!(r#"(module {IMPORTS} (memory (export "memory") 1) {body})"#);
    wat::parse_str(&text).unwrap_or_else(|e| panic!("bad test WAT: {e}\n{text}"))
}

/// WAT data string of an address (at offset 0 in the callers below).
fn address_data(address: Address) -> String {
    address.0.iter().map(|b| format!("\\{b:02x}")).collect()
}

impl World {
    /// Runs `method` untraced and traced, checks every invariant, returns the traced pair.
    fn run(
        &self,
        contract: Address,
        method: &str,
        gas_limit: u64,
        options: &TraceOptions,
    ) -> (Outcome, Trace) {
        let call = CallRequest {
            caller: CALLER,
            contract,
            method: method.into(),
            input: Vec::new(),
            value: U256::zero(),
            gas_limit,
        };
        let state: Arc<MemoryState> = Arc::new(self.state.clone());
        let plain = self
            .vm
            .execute(state.clone(), BlockContext::default(), call.clone())
            .expect("no node fault");
        let (traced, trace) = self
            .vm
            .execute_traced(state, BlockContext::default(), call, options)
            .expect("no node fault");
        assert_eq!(traced, plain, "tracing changed the outcome");
        check(&trace, &traced, options);
        (traced, trace)
    }

    fn trace(&self, contract: Address, method: &str, gas_limit: u64) -> (Outcome, Trace) {
        self.run(contract, method, gas_limit, &TraceOptions::default())
    }
}

/// Invariants 2 and 3 (every total adds up; the tree by category is the outcome's breakdown),
/// and the size bounds.
fn check(trace: &Trace, outcome: &Outcome, options: &TraceOptions) {
    let nodes = trace
        .verify(outcome)
        .unwrap_or_else(|e| panic!("{e}: {trace:#?}"));
    assert_eq!(trace.breakdown(), Some(outcome.gas_breakdown.clone()));
    assert!(nodes <= options.max_nodes, "{nodes} nodes");
    assert!(trace.blocks.len() <= options.max_blocks as usize);
    for block in &trace.blocks {
        assert_eq!(block.gas, block.cost_per_hit * block.hits);
    }
}

/// The tree as indented text, for pinned snapshots.
fn render(trace: &Trace) -> String {
    let mut text = String::new();
    render_frame(&trace.root, 0, &mut text);
    if trace.truncated {
        text.push_str("(truncated)\n");
    }
    text
}

fn render_frame(frame: &FrameTrace, indent: usize, text: &mut String) {
    let _ = writeln!(
        text,
        "{:indent$}frame {:02x}.{} {:?} calls={} gas={}",
        "", frame.contract.0[0], frame.method, frame.status, frame.calls, frame.gas_used
    );
    for entry in &frame.entries {
        render_entry(entry, indent + 2, text);
    }
}

fn render_entry(entry: &TraceEntry, indent: usize, text: &mut String) {
    match entry {
        TraceEntry::Charge { category, gas } => {
            let _ = writeln!(text, "{:indent$}{} {gas}", "", category.key());
        }
        TraceEntry::Function(f) => {
            let _ = writeln!(
                text,
                "{:indent$}fn {}#{} calls={} gas={} self={} memory={}",
                "", f.name, f.index, f.calls, f.gas, f.instructions_gas, f.memory_gas
            );
            for child in &f.children {
                render_entry(child, indent + 2, text);
            }
        }
        TraceEntry::Host(h) => {
            let _ = writeln!(
                text,
                "{:indent$}host {} calls={} gas={} storage_bytes={}",
                "",
                h.function.name(),
                h.calls,
                h.gas,
                h.storage_bytes_gas
            );
            for callee in &h.callees {
                render_frame(callee, indent + 2, text);
            }
        }
        TraceEntry::Truncated { gas, breakdown } => {
            let lines: Vec<String> = breakdown
                .iter()
                .map(|(c, g)| format!("{}={g}", c.key()))
                .collect();
            let _ = writeln!(text, "{:indent$}truncated {gas} [{}]", "", lines.join(" "));
        }
    }
}

fn functions(entries: &[TraceEntry]) -> Vec<&opmeter_vm::FunctionTrace> {
    entries
        .iter()
        .filter_map(|e| match e {
            TraceEntry::Function(f) => Some(f),
            _ => None,
        })
        .collect()
}

fn hosts(entries: &[TraceEntry]) -> Vec<&opmeter_vm::HostTrace> {
    entries
        .iter()
        .filter_map(|e| match e {
            TraceEntry::Host(h) => Some(h),
            _ => None,
        })
        .collect()
}

#[test]
fn nested_functions_are_a_pinned_tree() {
    let mut w = World::new();
    w.deploy(
        A,
        &module(
            r#"(data (i32.const 0) "pong")
            (func $leaf (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
            (func $mid (result i32) (call $leaf (call $leaf (i32.const 1))))
            (func $run (export "run")
              (drop (call $mid))
              (call $output_set (i32.const 0) (i32.const 4)))"#,
        ),
    );
    let (out, trace) = w.trace(A, "run", 100_000);
    assert_eq!(out.status, Status::Success);
    expect_test::expect![[r#"
        frame 0a.run Success calls=1 gas=3160
          instantiation 3048
          fn run#7 calls=1 gas=112 self=19 memory=0
            fn mid#6 calls=1 gas=39 self=17 memory=0
              fn leaf#5 calls=2 gas=22 self=22 memory=0
            host output_set calls=1 gas=54 storage_bytes=0
    "#]]
    .assert_eq(&render(&trace));
    expect_test::expect![[r#"{"instantiation": 3048, "instructions": 58, "output_set": 54}"#]]
        .assert_eq(&format!("{:?}", out.breakdown_by_key()));
}

#[test]
fn a_branch_to_the_function_label_and_return_leave_through_exit() {
    let mut w = World::new();
    w.deploy(
        A,
        &module(
            r#"(func $early (param i32) (result i32)
                (block (drop (br_if 1 (i32.const 7) (local.get 0))))
                (if (i32.eqz (local.get 0)) (then (return (i32.const 9))))
                (i32.const 11))
            (func $run (export "run")
              (drop (call $early (i32.const 1)))
              (drop (call $early (i32.const 0)))
              (drop (call $early (i32.const 0))))"#,
        ),
    );
    let (out, trace) = w.trace(A, "run", 100_000);
    assert_eq!(out.status, Status::Success);
    let run = functions(&trace.root.entries)[0];
    let early = functions(&run.children);
    assert_eq!(early.len(), 1);
    assert_eq!((early[0].name.as_str(), early[0].calls), ("early", 3));
}

#[test]
fn recursion_is_a_chain_and_stack_overflow_is_unchanged() {
    let mut w = World::new();
    w.deploy(
        A,
        &module(
            r#"(func $down (param i32)
                (if (local.get 0) (then (call $down (i32.sub (local.get 0) (i32.const 1))))))
            (func $forever (param i32) (call $forever (local.get 0)))
            (func (export "five") (call $down (i32.const 5)))
            (func (export "deep") (call $down (i32.const 1000)))
            (func (export "overflow") (call $forever (i32.const 0)))"#,
        ),
    );
    let (_, trace) = w.trace(A, "five", 100_000);
    let mut depth = 0;
    let mut entries = &functions(&trace.root.entries)[0].children;
    while let Some(f) = functions(entries).into_iter().find(|f| f.name == "down") {
        depth += 1;
        assert_eq!(f.calls, 1);
        entries = &f.children;
    }
    assert_eq!(depth, 6);
    // Deeper than the tree may go: folded, still exact.
    let (out, trace) = w.trace(A, "deep", 10_000_000);
    assert_eq!(out.status, Status::Success);
    assert!(trace.truncated);
    let (out, _) = w.trace(A, "overflow", 100_000_000);
    assert_eq!(out.status, Status::Trap(TrapCode::StackOverflow));
}

#[test]
fn a_loop_of_calls_is_one_merged_entry() {
    let mut w = World::new();
    w.deploy(
        A,
        &module(
            r#"(func $tick (result i64) (call $block_height))
            (func $run (export "run") (local $i i32)
              (loop $l
                (drop (call $tick))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br_if $l (i32.lt_u (local.get $i) (i32.const 1000)))))"#,
        ),
    );
    let (out, trace) = w.trace(A, "run", 10_000_000);
    assert_eq!(out.status, Status::Success);
    let run = functions(&trace.root.entries)[0];
    let tick = functions(&run.children)[0];
    assert_eq!(tick.calls, 1000);
    let height = hosts(&tick.children)[0];
    assert_eq!(
        (height.function, height.calls, height.gas),
        (HostFn::BlockHeight, 1000, 20_000)
    );
    assert!(!trace.truncated);
}

#[test]
fn memory_growth_is_attributed_to_the_growing_function() {
    let mut w = World::new();
    w.deploy(
        A,
        &module(
            r#"(func $grow (drop (memory.grow (i32.const 2))))
            (func (export "run") (call $grow) (call $grow))"#,
        ),
    );
    let (out, trace) = w.trace(A, "run", 1_000_000);
    assert_eq!(out.status, Status::Success);
    let run = functions(&trace.root.entries)[0];
    let grow = functions(&run.children)[0];
    assert_eq!((grow.calls, grow.memory_gas), (2, 4 * 4_096));
    assert_eq!(run.memory_gas, 0);
    // Out of gas inside the grow helper (the block is paid, the pages are not).
    let (out, trace) = w.trace(A, "run", 3_048 + 60);
    assert_eq!(out.status, Status::OutOfGas);
    assert_eq!(trace.root.gas_used, 3_048 + 60);
}

#[test]
fn storage_writes_separate_host_and_storage_bytes() {
    let mut w = World::new();
    w.deploy(
        A,
        &module(
            r#"(data (i32.const 0) "key") (data (i32.const 16) "value")
            (func (export "run")
              (call $storage_write (i32.const 0) (i32.const 3) (i32.const 16) (i32.const 5))
              (call $storage_write (i32.const 0) (i32.const 3) (i32.const 16) (i32.const 5)))"#,
        ),
    );
    let (out, trace) = w.trace(A, "run", 1_000_000);
    assert_eq!(out.status, Status::Success);
    let run = functions(&trace.root.entries)[0];
    let write = hosts(&run.children)[0];
    assert_eq!(write.calls, 2);
    assert_eq!(write.gas, 2 * (5_000 + 2 * 8));
    assert_eq!(write.storage_bytes_gas, 2 * 50 * 8);
}

#[test]
fn revert_trap_and_out_of_gas_keep_the_sums_exact() {
    let mut w = World::new();
    w.deploy(
        A,
        &module(
            r#"(data (i32.const 0) "k") (data (i32.const 16) "nope")
            (func $work (local $i i32)
              (loop $l
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br_if $l (i32.lt_u (local.get $i) (i32.const 10)))))
            (func $spin (loop (br 0)))
            (func $boom (call $work) (unreachable))
            (func (export "revert")
              (call $work)
              (call $storage_write (i32.const 0) (i32.const 1) (i32.const 16) (i32.const 4))
              (call $revert (i32.const 16) (i32.const 4)))
            (func (export "trap") (call $work) (call $boom))
            (func (export "spin") (call $work) (call $spin))
            (func (export "big") (call $work) (call $output_set (i32.const 0) (i32.const 60000)))
            (func (export "straight") (drop (i32.add (i32.const 1) (i32.const 2))))
            (func $g)
            (func (export "overdraw")
              (block (br_if 0 (i32.const 0)))
              (drop (i64.mul (i64.mul (i64.const 3) (i64.const 5)) (i64.mul (i64.const 7) (i64.const 9))))
              (drop (i64.mul (i64.mul (i64.const 3) (i64.const 5)) (i64.mul (i64.const 7) (i64.const 9))))
              (call $g)
              (call $g))"#,
        ),
    );
    let (out, _) = w.trace(A, "revert", 1_000_000);
    assert_eq!(out.status, Status::Revert);
    let (out, trace) = w.trace(A, "trap", 1_000_000);
    assert_eq!(out.status, Status::Trap(TrapCode::Unreachable));
    let boom = functions(&functions(&trace.root.entries)[0].children)
        .into_iter()
        .find(|f| f.name == "boom")
        .expect("boom is traced")
        .clone();
    assert_eq!(boom.calls, 1);
    // Out of gas in a loop: the loop's function gets the remainder.
    let (out, trace) = w.trace(A, "spin", 50_000);
    assert_eq!(out.status, Status::OutOfGas);
    let spin = functions(&functions(&trace.root.entries)[0].children)
        .into_iter()
        .find(|f| f.name == "spin")
        .expect("spin is traced")
        .clone();
    assert!(spin.instructions_gas > 40_000);
    // Out of gas inside a host charge: the host function gets what was left.
    let (out, trace) = w.trace(A, "big", 10_000);
    assert_eq!(out.status, Status::OutOfGas);
    let big = functions(&trace.root.entries)[0];
    assert_eq!(hosts(&big.children)[0].function, HostFn::OutputSet);
    // Every limit around the first blocks: straight-line overdraws, checks, instantiation.
    for limit in (0..3_200).step_by(3) {
        for method in ["straight", "spin", "trap", "revert", "overdraw"] {
            w.trace(A, method, limit);
        }
    }
}

fn nested_world() -> World {
    let mut w = World::new();
    w.deploy(
        B,
        &module(
            r#"(data (i32.const 0) "hello")
            (func $inner (call $output_set (i32.const 0) (i32.const 5)))
            (func (export "hello") (call $inner))
            (func (export "spin") (loop (br 0)))
            (func (export "fail") (unreachable))"#,
        ),
    );
    let target = address_data(B);
    w.deploy(
        A,
        &module(&format!(
            r#"(data (i32.const 0) "{target}") (data (i32.const 64) "hellospinfail")
            (func $call_b (param i32 i32 i64) (result i32)
              (call $call (i32.const 0) (local.get 0) (local.get 1) (i32.const 0) (i32.const 0)
                (i32.const 200) (local.get 2)))
            (func (export "once") (drop (call $call_b (i32.const 64) (i32.const 5) (i64.const 0))))
            (func (export "twice")
              (drop (call $call_b (i32.const 64) (i32.const 5) (i64.const 0)))
              (drop (call $call_b (i32.const 64) (i32.const 5) (i64.const 0)))
              (drop (call $call_b (i32.const 73) (i32.const 4) (i64.const 0))))
            (func (export "starve") (drop (call $call_b (i32.const 69) (i32.const 4) (i64.const 20000))))
            (func (export "missing")
              (drop (call $call (i32.const 300) (i32.const 64) (i32.const 5) (i32.const 0)
                (i32.const 0) (i32.const 200) (i64.const 0))))"#
        )),
    );
    w
}

#[test]
fn a_nested_call_is_a_frame_under_the_call_entry() {
    let w = nested_world();
    let (out, trace) = w.trace(A, "once", 1_000_000);
    assert_eq!(out.status, Status::Success);
    expect_test::expect![[r#"
        frame 0a.once Success calls=1 gas=16222
          instantiation 3048
          fn func[6]#6 calls=1 gas=13174 self=16 memory=0
            fn call_b#5 calls=1 gas=13158 self=19 memory=0
              host call calls=1 gas=10010 storage_bytes=0
                frame 0b.hello Success calls=1 gas=3129
                  instantiation 3048
                  fn func[6]#6 calls=1 gas=81 self=12 memory=0
                    fn inner#5 calls=1 gas=69 self=14 memory=0
                      host output_set calls=1 gas=55 storage_bytes=0
    "#]]
    .assert_eq(&render(&trace));
    // Two calls of B.hello merge; B.fail has another status: its own entry.
    let (_, trace) = w.trace(A, "twice", 1_000_000);
    let call_b = functions(&functions(&trace.root.entries)[0].children)[0];
    let call = hosts(&call_b.children)[0];
    assert_eq!(call.calls, 3);
    let callees: Vec<_> = call
        .callees
        .iter()
        .map(|c| (c.method.as_str(), c.status, c.calls))
        .collect();
    assert_eq!(
        callees,
        [
            ("hello", Status::Success, 2),
            ("fail", Status::Trap(TrapCode::Unreachable), 1)
        ]
    );
    // Out of gas in a callee: the caller goes on, the callee's frame holds its whole limit.
    let (out, trace) = w.trace(A, "starve", 1_000_000);
    assert_eq!(out.status, Status::Success);
    let call_b = functions(&functions(&trace.root.entries)[0].children)[0];
    let callee = &hosts(&call_b.children)[0].callees[0];
    assert_eq!((callee.status, callee.gas_used), (Status::OutOfGas, 20_000));
    // A missing contract is a frame without code.
    let (_, trace) = w.trace(A, "missing", 1_000_000);
    let missing = &hosts(&functions(&trace.root.entries)[0].children)[0].callees[0];
    assert_eq!((missing.code_hash, missing.gas_used), (None, 0));
    // Every limit: out of gas before, inside and after the callee.
    for limit in (3_000..40_000).step_by(211) {
        w.trace(A, "once", limit);
        w.trace(A, "starve", limit);
    }
}

#[test]
fn max_nodes_folds_the_rest_into_truncated_entries() {
    let w = nested_world();
    for max_nodes in 0..12 {
        let options = TraceOptions {
            max_nodes,
            ..TraceOptions::default()
        };
        let (_, trace) = w.run(A, "twice", 1_000_000, &options);
        assert!(trace.truncated, "{max_nodes}");
    }
    let options = TraceOptions {
        max_nodes: 3,
        ..TraceOptions::default()
    };
    let (_, trace) = w.run(A, "twice", 1_000_000, &options);
    expect_test::expect![[r#"
        frame 0a.twice Success calls=1 gas=42471
          instantiation 3048
          fn func[7]#7 calls=1 gas=39423 self=32 memory=0
            fn call_b#5 calls=3 gas=39391 self=57 memory=0
              truncated 39334 [instructions=52 instantiation=9144 output_set=110 call=30028]
        (truncated)
    "#]]
    .assert_eq(&render(&trace));
}

#[test]
fn the_block_profile_counts_every_charge_and_is_bounded() {
    let mut w = World::new();
    w.deploy(
        A,
        &module(
            r#"(func $tick (result i64) (call $block_height))
            (func $run (export "run") (local $i i32)
              (loop $l
                (drop (call $tick))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br_if $l (i32.lt_u (local.get $i) (i32.const 10)))))"#,
        ),
    );
    let options = TraceOptions {
        blocks: true,
        ..TraceOptions::default()
    };
    let (out, trace) = w.run(A, "run", 1_000_000, &options);
    assert!(!trace.blocks_truncated);
    let gas: u64 = trace.blocks.iter().map(|b| b.gas).sum();
    assert_eq!(gas, out.gas_breakdown[&GasCategory::Instructions]);
    let summary: Vec<String> = trace
        .blocks
        .iter()
        .map(|b| {
            format!(
                "{}#{} site {}: {} × {} = {} ({} instructions)",
                b.name, b.function, b.site, b.hits, b.cost_per_hit, b.gas, b.instructions
            )
        })
        .collect();
    expect_test::expect![[r#"
        run#6 site 2: 10 × 21 = 210 (12 instructions)
        tick#5 site 0: 10 × 12 = 120 (2 instructions)
        run#6 site 1: 1 × 9 = 9 (1 instructions)"#]]
    .assert_eq(&summary.join("\n"));
    let options = TraceOptions {
        blocks: true,
        max_blocks: 1,
        ..TraceOptions::default()
    };
    let (_, bounded) = w.run(A, "run", 1_000_000, &options);
    assert!(bounded.blocks_truncated);
    assert_eq!(bounded.blocks, trace.blocks[..1]);
    // The profile does not change the tree.
    let (_, plain) = w.trace(A, "run", 1_000_000);
    assert_eq!(plain.root, trace.root);
    assert!(plain.blocks.is_empty());
}

#[test]
fn call_indirect_is_traced_and_a_missing_method_is_an_empty_frame() {
    let mut w = World::new();
    w.deploy(
        A,
        &module(
            r#"(type $t (func (result i32)))
            (table 2 funcref) (elem (i32.const 0) $one $two)
            (func $one (result i32) (i32.const 1))
            (func $two (result i32) (i32.const 2))
            (func (export "run")
              (drop (call_indirect (type $t) (i32.const 0)))
              (drop (call_indirect (type $t) (i32.const 1))))"#,
        ),
    );
    let (_, trace) = w.trace(A, "run", 100_000);
    let run = functions(&trace.root.entries)[0];
    let names: Vec<_> = functions(&run.children)
        .iter()
        .map(|f| f.name.clone())
        .collect();
    assert_eq!(names, ["one", "two"]);
    let (out, _) = w.trace(A, "absent", 100_000);
    assert_eq!(out.status, Status::Trap(TrapCode::MethodNotFound));
}

#[test]
fn deploy_with_and_without_init() {
    let w = World::new();
    let with_init = module(
        r#"(data (i32.const 0) "k")
        (func $setup (call $storage_write (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 1)))
        (func (export "init") (call $setup))"#,
    );
    let without = module(r#"(func (export "run"))"#);
    for (wasm, method) in [(&with_init, "init"), (&without, "")] {
        let code = w.vm.prepare(wasm).expect("valid");
        for gas_limit in [1_000, 60_000, 70_000, 80_000, 1_000_000] {
            let state: Arc<MemoryState> = Arc::new(w.state.clone());
            let request = DeployRequest {
                deployer: CALLER,
                code: code.clone(),
                salt: b"salt".to_vec(),
                init_input: Vec::new(),
                value: U256::zero(),
                gas_limit,
            };
            let (address, plain) =
                w.vm.deploy(state.clone(), BlockContext::default(), request.clone())
                    .expect("no node fault");
            let options = TraceOptions::default();
            let (traced_address, traced, trace) =
                w.vm.deploy_traced(state, BlockContext::default(), request, &options)
                    .expect("no node fault");
            assert_eq!((traced_address, &traced), (address, &plain));
            check(&trace, &traced, &options);
            assert_eq!(trace.root.method, method);
            assert!(matches!(
                trace.root.entries[0],
                TraceEntry::Charge {
                    category: GasCategory::Deploy,
                    ..
                }
            ));
            if gas_limit == 1_000_000 {
                assert_eq!(traced.status, Status::Success);
                assert_eq!(trace.root.code_hash, Some(code.code_hash));
            }
        }
    }
}
