//! The compiler against the vm, without proofs: every case runs both ways (the vm's provable
//! call on the production instrumentation, and the compiled program on the reference
//! interpreter) and must agree on the result and on the exact gas; every rejection names its
//! reason and the offset of the first instruction outside the subset.

use opmeter_prover::{compile_method, compile_module, ProvableProgram};
use opmeter_vm::{Schedule, Status, Vm};

fn module(funcs: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module {funcs} (memory (export "memory") 1) (func (export "run")))"#
    ))
    .unwrap_or_else(|e| panic!("bad test WAT: {e}"))
}

/// Runs `provable:<method>` both ways on every argument vector and compares.
fn check(wasm: &[u8], method: &str, cases: &[&[u64]]) {
    let schedule = Schedule::v1();
    let vm = Vm::new(schedule.clone());
    let code = vm.prepare(wasm).unwrap_or_else(|e| panic!("{method}: {e}"));
    let program = ProvableProgram::compile(wasm, &schedule, method)
        .unwrap_or_else(|e| panic!("{method}: {e}"));
    for args in cases {
        let billed = vm
            .call_provable(&code, method, args, 1 << 40)
            .unwrap_or_else(|e| panic!("{method}{args:?}: {e}"));
        let proven = program.run(args, 1 << 20);
        match billed.status {
            Status::Success => {
                let run =
                    proven.unwrap_or_else(|e| panic!("{method}{args:?}: {e}\n{}", program.program));
                assert_eq!(
                    Some(run.output),
                    billed.result.or(Some(0)),
                    "{method}{args:?}: output\n{}",
                    program.program
                );
                assert_eq!(
                    run.gas_used, billed.gas_used,
                    "{method}{args:?}: gas\n{}",
                    program.program
                );
            }
            Status::Trap(_) => assert!(
                matches!(
                    proven,
                    Err(opmeter_prover::ProverError::ExecutionTrapped { .. })
                ),
                "{method}{args:?}: the vm traps but the program gave {proven:?}"
            ),
            other => panic!("{method}{args:?}: unexpected status {other:?}"),
        }
    }
}

const U64S: &[u64] = &[
    0,
    1,
    2,
    3,
    7,
    31,
    32,
    33,
    63,
    64,
    65,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    0xdead_beef_cafe_f00d,
    u64::MAX - 1,
    u64::MAX,
];

fn pairs(values: &[u64]) -> Vec<Vec<u64>> {
    let mut out = Vec::new();
    for a in values {
        for b in values {
            out.push(vec![*a, *b]);
        }
    }
    out
}

#[test]
fn every_binary_operator_matches_the_vm() {
    let ops64 = [
        "add", "sub", "mul", "and", "or", "xor", "shl", "shr_u", "shr_s", "rotl", "rotr", "eq",
        "ne", "lt_u", "lt_s", "gt_u", "gt_s", "le_u", "le_s", "ge_u", "ge_s", "div_u", "rem_u",
    ];
    let mut funcs = String::new();
    for op in ops64 {
        let result = if matches!(
            op,
            "eq" | "ne" | "lt_u" | "lt_s" | "gt_u" | "gt_s" | "le_u" | "le_s" | "ge_u" | "ge_s"
        ) {
            "i32"
        } else {
            "i64"
        };
        funcs += &format!(
            r#"(func (export "provable:i64_{op}") (param i64 i64) (result {result}) (i64.{op} (local.get 0) (local.get 1)))
            (func (export "provable:i64_{op}_c") (param i64) (result {result}) (i64.{op} (local.get 0) (i64.const 13)))
            (func (export "provable:i64_c_{op}") (param i64) (result {result}) (i64.{op} (i64.const -5) (local.get 0)))
            (func (export "provable:i32_{op}") (param i32 i32) (result i32) (i32.{op} (local.get 0) (local.get 1)))
            (func (export "provable:i32_{op}_c") (param i32) (result i32) (i32.{op} (local.get 0) (i32.const 7)))
"#
        );
    }
    let wasm = module(&funcs);
    let u32s: Vec<u64> = U64S.iter().map(|v| v & 0xffff_ffff).collect();
    for op in ops64 {
        check(
            &wasm,
            &format!("i64_{op}"),
            &pairs(U64S).iter().map(Vec::as_slice).collect::<Vec<_>>(),
        );
        let singles: Vec<Vec<u64>> = U64S.iter().map(|v| vec![*v]).collect();
        let singles: Vec<&[u64]> = singles.iter().map(Vec::as_slice).collect();
        check(&wasm, &format!("i64_{op}_c"), &singles);
        check(&wasm, &format!("i64_c_{op}"), &singles);
        check(
            &wasm,
            &format!("i32_{op}"),
            &pairs(&u32s).iter().map(Vec::as_slice).collect::<Vec<_>>(),
        );
        let singles32: Vec<Vec<u64>> = u32s.iter().map(|v| vec![*v]).collect();
        let singles32: Vec<&[u64]> = singles32.iter().map(Vec::as_slice).collect();
        check(&wasm, &format!("i32_{op}_c"), &singles32);
    }
}

#[test]
fn unary_operators_and_conversions_match_the_vm() {
    let wasm = module(
        r#"
        (func (export "provable:i64_eqz") (param i64) (result i32) (i64.eqz (local.get 0)))
        (func (export "provable:i32_eqz") (param i32) (result i32) (i32.eqz (local.get 0)))
        (func (export "provable:i64_popcnt") (param i64) (result i64) (i64.popcnt (local.get 0)))
        (func (export "provable:i32_popcnt") (param i32) (result i32) (i32.popcnt (local.get 0)))
        (func (export "provable:wrap") (param i64) (result i32) (i32.wrap_i64 (local.get 0)))
        (func (export "provable:extend_u") (param i32) (result i64) (i64.extend_i32_u (local.get 0)))
        (func (export "provable:extend_s") (param i32) (result i64) (i64.extend_i32_s (local.get 0)))
        (func (export "provable:extend_s_add") (param i32) (result i64)
          (i64.add (i64.extend_i32_s (local.get 0)) (i64.const 1)))
        "#,
    );
    let singles: Vec<Vec<u64>> = U64S.iter().map(|v| vec![*v]).collect();
    let singles: Vec<&[u64]> = singles.iter().map(Vec::as_slice).collect();
    let singles32: Vec<Vec<u64>> = U64S.iter().map(|v| vec![v & 0xffff_ffff]).collect();
    let singles32: Vec<&[u64]> = singles32.iter().map(Vec::as_slice).collect();
    for m in ["i64_eqz", "i64_popcnt", "wrap"] {
        check(&wasm, m, &singles);
    }
    for m in [
        "i32_eqz",
        "i32_popcnt",
        "extend_u",
        "extend_s",
        "extend_s_add",
    ] {
        check(&wasm, m, &singles32);
    }
}

#[test]
fn control_flow_calls_and_traps_match_the_vm() {
    let wasm = module(
        r#"
        (func $sq (param i64) (result i64) (i64.mul (local.get 0) (local.get 0)))
        (func $sum_sq (param i64 i64) (result i64) (local i64)
          (local.set 2 (call $sq (local.get 0)))
          (i64.add (local.get 2) (call $sq (local.get 1))))
        (func (export "provable:calls") (param i64 i64) (result i64)
          (i64.sub (call $sum_sq (local.get 0) (local.get 1)) (call $sq (i64.const 3))))
        (func (export "provable:loop_sum") (param i32) (result i64) (local i64)
          (block $done
            (loop $next
              (br_if $done (i32.eqz (local.get 0)))
              (local.set 1 (i64.add (local.get 1) (i64.extend_i32_u (local.get 0))))
              (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
              (br $next)))
          (local.get 1))
        (func (export "provable:table") (param i32) (result i32)
          (block $d (block $c (block $b (block $a
            (br_table $a $b $c $d (local.get 0)))
            (return (i32.const 10)))
            (return (i32.const 20)))
            (return (i32.const 30)))
          (i32.const 40))
        (func (export "provable:table_value") (param i32) (result i32)
          (block $out (result i32)
            (block $inner (result i32)
              (i32.const 7) (local.get 0) (br_table $inner $out))
            (i32.const 100) (i32.add)))
        (func (export "provable:select") (param i64 i64 i32) (result i64)
          (select (local.get 0) (local.get 1) (local.get 2)))
        (func (export "provable:if_else") (param i32) (result i32)
          (if (result i32) (i32.gt_s (local.get 0) (i32.const 5))
            (then (i32.mul (local.get 0) (i32.const 3)))
            (else (i32.sub (i32.const 0) (local.get 0)))))
        (func (export "provable:br_if_value") (param i32) (result i32)
          (block (result i32)
            (i32.const 1) (local.get 0) (br_if 0)
            (drop) (i32.const 2)))
        (func (export "provable:tee") (param i32) (result i32) (local i32)
          (i32.add (local.tee 1 (i32.add (local.get 0) (i32.const 1))) (local.get 1)))
        (func (export "provable:swap") (param i32 i32) (result i32)
          (local.get 0) (local.get 1) (local.set 0) (local.set 1)
          (i32.sub (local.get 0) (local.get 1)))
        (func (export "provable:trap") (param i32) (result i32)
          (if (i32.eqz (local.get 0)) (then unreachable))
          (local.get 0))
        (func (export "provable:divide") (param i64 i64) (result i64) (i64.div_u (local.get 0) (local.get 1)))
        (func (export "provable:void") (param i32) (drop (i32.add (local.get 0) (i32.const 1))))
        (func (export "provable:nothing") (result i32) (i32.const 5))
        "#,
    );
    check(&wasm, "calls", &[&[3, 4], &[0, 0], &[u64::MAX, 2]]);
    check(&wasm, "loop_sum", &[&[0], &[1], &[10], &[100]]);
    check(&wasm, "table", &[&[0], &[1], &[2], &[3], &[4], &[1000]]);
    check(&wasm, "table_value", &[&[0], &[1], &[2]]);
    check(&wasm, "select", &[&[1, 2, 0], &[1, 2, 1], &[5, 6, 77]]);
    check(&wasm, "if_else", &[&[0], &[5], &[6], &[0xffff_fff0]]);
    check(&wasm, "br_if_value", &[&[0], &[1]]);
    check(&wasm, "tee", &[&[0], &[41]]);
    check(&wasm, "swap", &[&[10, 3]]);
    check(&wasm, "trap", &[&[0], &[9]]);
    check(&wasm, "divide", &[&[10, 3], &[10, 0], &[u64::MAX, 1]]);
    check(&wasm, "void", &[&[1]]);
    check(&wasm, "nothing", &[&[]]);
}

/// Name, WAT of one `provable:f` export, the reason the compiler gives.
const REFUSED: &[(&str, &str, &str)] = &[
    (
        "float",
        r#"(func (export "provable:f") (param i32) (result i32) (i32.trunc_f32_s (f32.convert_i32_s (local.get 0))))"#,
        "floats and post-MVP instructions are outside the provable subset",
    ),
    (
        "load",
        r#"(func (export "provable:f") (param i32) (result i32) (i32.load (local.get 0)))"#,
        "I32Load: linear memory (loads and stores) is outside the provable subset",
    ),
    (
        "global",
        r#"(global $g (mut i32) (i32.const 0)) (func (export "provable:f") (param i32) (result i32) (global.set $g (local.get 0)) (local.get 0))"#,
        "GlobalSet: globals are outside the provable subset",
    ),
    (
        "host call",
        r#"(import "opmeter" "block_height" (func $h (result i64))) (func (export "provable:f") (result i64) (call $h))"#,
        "host functions are outside the provable subset",
    ),
    (
        "recursion",
        r#"(func $r (export "provable:f") (param i32) (result i32) (if (result i32) (local.get 0) (then (call $r (i32.sub (local.get 0) (i32.const 1)))) (else (i32.const 0))))"#,
        "recursion is outside the provable subset",
    ),
    (
        "signed division",
        r#"(func (export "provable:f") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))"#,
        "I32DivS: signed division is outside the provable subset",
    ),
    (
        "clz",
        r#"(func (export "provable:f") (param i64) (result i64) (i64.clz (local.get 0)))"#,
        "I64Clz: clz/ctz are outside the provable subset",
    ),
    (
        "too many registers",
        r#"(func (export "provable:f") (param i32) (result i32) (local i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (local.get 13))"#,
        "needs more than 13 registers",
    ),
    (
        "too many parameters",
        r#"(func (export "provable:f") (param i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32) (local.get 0))"#,
        "9 parameters; at most 8",
    ),
];

#[test]
fn methods_outside_the_subset_are_refused_with_their_reason() {
    let schedule = Schedule::v1();
    for (name, func, reason) in REFUSED {
        let wasm = module(func);
        Vm::new(schedule.clone())
            .validate(&wasm)
            .unwrap_or_else(|e| panic!("{name}: the test module must be valid: {e}"));
        let err = compile_method(&wasm, &schedule, "f").expect_err(name);
        assert!(
            err.reason.contains(reason),
            "{name}: expected `{reason}`, got `{}`",
            err.reason
        );
        assert_eq!(err.method, "f");
        // Every refusal about an instruction points into the code section.
        if let Some(offset) = err.offset {
            assert!(
                offset < wasm.len(),
                "{name}: offset {offset} outside the module"
            );
        }
    }
}

#[test]
fn the_offset_is_the_first_instruction_outside_the_subset() {
    let wasm = module(
        r#"(func (export "provable:f") (param i32) (result i32)
             (i32.add (local.get 0) (i32.const 1)) (drop) (i32.load (local.get 0)) (i32.store (local.get 0) (i32.const 1)))"#,
    );
    let err = compile_method(&wasm, &Schedule::v1(), "f").expect_err("memory");
    let offset = err.offset.expect("an instruction is to blame");
    // The byte at the offset is the `i32.load` opcode (0x28), not the later `i32.store` (0x36).
    assert_eq!(wasm[offset], 0x28, "{err}");
    assert!(err.to_string().contains(&format!("{offset:#x}")));
}

#[test]
fn a_module_report_lists_every_provable_export() {
    let wasm = module(
        r#"(func (export "provable:ok") (param i64) (result i64) (local.get 0))
           (func (export "provable:bad") (param i32) (result i32) (i32.load (local.get 0)))"#,
    );
    let report = compile_module(&wasm, &Schedule::v1()).expect("parses");
    assert_eq!(report.methods.len(), 2);
    assert!(report.methods["ok"].is_ok());
    assert!(report.methods["bad"]
        .as_ref()
        .unwrap_err()
        .reason
        .contains("memory"));
}

#[test]
fn provable_exports_pass_validation_and_others_keep_the_entry_point_rule() {
    let vm = Vm::new(Schedule::v1());
    vm.validate(&module(
        r#"(func (export "provable:f") (param i64 i32) (result i64) (local.get 0))"#,
    ))
    .expect("an integer provable export is valid");
    for bad in [
        r#"(func (export "provable:f") (param f32) (result i32) (i32.const 0))"#,
        r#"(func (export "provable:f") (result f64) (f64.const 0))"#,
        r#"(func (export "notprovable") (param i32))"#,
    ] {
        let report = vm.validate(&module(bad)).expect_err(bad);
        assert!(
            report
                .rules()
                .contains(&opmeter_vm::Rule::EntryPointSignature),
            "{bad}: {report}"
        );
    }
}
