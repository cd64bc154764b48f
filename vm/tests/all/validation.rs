//! One rejection case per rule: each module breaks exactly one rule. Validation's rules are
//! checked against schedule v1 (`cases`); the one rule only `Vm::prepare` reports, after
//! validation passed, needs a schedule the instrumenter cannot apply (`prepare_cases`).

use std::collections::BTreeSet;

use opmeter_vm::{Rule, Schedule, Vm};

/// A module that is valid except for `extra`.
fn with(extra: &str) -> String {
    format!(r#"(module {extra} (memory (export "memory") 1) (func (export "run")))"#)
}

fn repeat(item: &str, n: usize) -> String {
    let mut s = String::with_capacity(item.len() * n);
    for i in 0..n {
        s.push_str(&item.replace("{i}", &i.to_string()));
        s.push(' ');
    }
    s
}

fn cases() -> Vec<(&'static str, Vec<u8>, Rule)> {
    let wat = |text: String| wat::parse_str(text).unwrap_or_else(|e| panic!("bad test WAT: {e}"));
    vec![
        (
            "malformed",
            b"definitely not wasm".to_vec(),
            Rule::Malformed,
        ),
        ("invalid", wat(with("(func (result i32))")), Rule::Invalid),
        (
            "code too large",
            wat(format!(
                r#"(module (memory (export "memory") 10) (func (export "run")) (data (i32.const 0) "{}"))"#,
                "a".repeat(600 * 1024)
            )),
            Rule::CodeTooLarge,
        ),
        (
            "simd",
            wat(with("(func (drop (v128.const i64x2 0 0)))")),
            Rule::Simd,
        ),
        (
            "threads",
            wat(with("(func (drop (i32.atomic.load (i32.const 0))))")),
            Rule::Threads,
        ),
        (
            "reference types",
            wat(with("(func (drop (ref.null func)))")),
            Rule::ReferenceTypes,
        ),
        (
            "multi-value",
            wat(with("(func (result i32 i32) (i32.const 1) (i32.const 2))")),
            Rule::MultiValue,
        ),
        ("multi-memory", wat(with("(memory 1)")), Rule::MultiMemory),
        (
            "memory64",
            wat(r#"(module (memory (export "memory") i64 1) (func (export "run")))"#.into()),
            Rule::Memory64,
        ),
        (
            "tail calls",
            wat(with("(func $f (return_call $f))")),
            Rule::TailCalls,
        ),
        ("exceptions", wat(with("(tag $e)")), Rule::Exceptions),
        (
            "bulk memory",
            wat(with(
                "(func (memory.fill (i32.const 0) (i32.const 0) (i32.const 0)))",
            )),
            Rule::BulkMemory,
        ),
        (
            "sign extension",
            wat(with("(func (drop (i32.extend8_s (i32.const 1))))")),
            Rule::SignExtension,
        ),
        (
            "saturating float-to-int",
            wat(with("(func (drop (i32.trunc_sat_f32_s (f32.const 1))))")),
            Rule::SaturatingFloatToInt,
        ),
        (
            "other proposal (GC)",
            wat(with("(type (struct))")),
            Rule::OtherProposal,
        ),
        (
            "too many functions",
            wat(with(&repeat("(func)", 10_000))),
            Rule::TooManyFunctions,
        ),
        (
            "too many locals",
            wat(with(&format!("(func (local {}))", repeat("i32", 1_025)))),
            Rule::TooManyLocals,
        ),
        (
            "too many globals",
            wat(with(&repeat("(global i32 (i32.const 0))", 129))),
            Rule::TooManyGlobals,
        ),
        (
            "too many params",
            wat(with(&format!(
                "(type (func (param {})))",
                repeat("i32", 33)
            ))),
            Rule::TooManyParams,
        ),
        (
            "too many types",
            wat(with(&repeat("(type (func))", 513))),
            Rule::TooManyTypes,
        ),
        (
            "too many imports",
            wat(with(&repeat(
                r#"(import "opmeter" "block_height" (func $h{i} (result i64)))"#,
                65,
            ))),
            Rule::TooManyImports,
        ),
        (
            "too many exports",
            wat(with(&repeat(r#"(func (export "f{i}"))"#, 256))),
            Rule::TooManyExports,
        ),
        (
            "too many table elements",
            wat(with("(table 5000 funcref)")),
            Rule::TooManyTableElements,
        ),
        (
            "too many br_table targets",
            wat(with(&format!(
                "(func (block (br_table {} (i32.const 0))))",
                repeat("0", 513)
            ))),
            Rule::TooManyBrTableTargets,
        ),
        (
            "too many data segments",
            wat(with(&repeat(r#"(data (i32.const 0) "")"#, 257))),
            Rule::TooManyDataSegments,
        ),
        (
            "too many memory pages",
            wat(r#"(module (memory (export "memory") 65) (func (export "run")))"#.into()),
            Rule::TooManyMemoryPages,
        ),
        (
            "import not allowed",
            wat(with(r#"(import "env" "abort" (func))"#)),
            Rule::ImportNotAllowed,
        ),
        (
            "import signature",
            wat(with(
                r#"(import "opmeter" "block_height" (func (result i32)))"#,
            )),
            Rule::ImportSignature,
        ),
        (
            "import kind",
            wat(with(r#"(import "opmeter" "gas" (global (mut i64)))"#)),
            Rule::ImportKind,
        ),
        (
            "reserved export",
            wat(with(
                r#"(global $g (mut i64) (i64.const 0)) (export "opmeter_gas_left" (global $g))"#,
            )),
            Rule::ReservedExport,
        ),
        (
            "start function",
            wat(with("(func $s) (start $s)")),
            Rule::StartFunction,
        ),
        (
            "missing memory export",
            wat(r#"(module (memory 1) (func (export "run")))"#.into()),
            Rule::MissingMemoryExport,
        ),
        (
            "no entry points",
            wat(r#"(module (memory (export "memory") 1))"#.into()),
            Rule::NoEntryPoints,
        ),
        (
            "element segment out of bounds",
            wat(with("(table 1 funcref) (elem (i32.const 5) $f) (func $f)")),
            Rule::SegmentOutOfBounds,
        ),
        (
            "data segment out of bounds",
            wat(with(r#"(data (i32.const 65535) "ab")"#)),
            Rule::SegmentOutOfBounds,
        ),
        (
            "entry point signature",
            wat(with(r#"(func (export "f") (param i32))"#)),
            Rule::EntryPointSignature,
        ),
    ]
}

/// Modules that pass validation but that `Vm::prepare` rejects under the given schedule.
fn prepare_cases() -> Vec<(&'static str, Vec<u8>, Schedule, Rule)> {
    // wasm-instrument charges `call_per_local × locals` in u32: two locals at u32::MAX overflow.
    let mut overflowing = Schedule::v1();
    overflowing.instructions.call_per_local = u32::MAX;
    vec![(
        "instrumentation failed (locals cost overflows)",
        wat::parse_str(with("(func (local i32 i32))")).unwrap(),
        overflowing,
        Rule::InstrumentationFailed,
    )]
}

#[test]
fn each_validation_case_breaks_exactly_its_rule() {
    let vm = Vm::new(Schedule::v1());
    let mut rendered = String::new();
    for (name, wasm, expected) in cases() {
        let report = vm.validate(&wasm).expect_err(name);
        assert_eq!(report.rules(), vec![expected], "case `{name}`: {report:#?}");
        rendered.push_str(&format!("{name}:\n"));
        for v in &report.violations {
            rendered.push_str(&format!(
                "  {v} limit={:?} actual={:?}\n",
                v.limit, v.actual
            ));
        }
    }
    expect_test::expect_file!["../snapshots/validation.txt"].assert_eq(&rendered);
}

#[test]
fn each_prepare_case_passes_validation_and_breaks_exactly_its_rule() {
    for (name, wasm, schedule, expected) in prepare_cases() {
        let vm = Vm::new(schedule);
        vm.validate(&wasm)
            .unwrap_or_else(|report| panic!("case `{name}` must pass validation: {report}"));
        let report = vm.prepare(&wasm).expect_err(name);
        assert_eq!(report.rules(), vec![expected], "case `{name}`: {report:#?}");
    }
}

#[test]
fn every_rule_has_a_rejection_case() {
    let covered: BTreeSet<Rule> = cases()
        .into_iter()
        .map(|(_, _, rule)| rule)
        .chain(prepare_cases().into_iter().map(|(_, _, _, rule)| rule))
        .collect();
    let missing: Vec<Rule> = Rule::ALL
        .iter()
        .copied()
        .filter(|rule| !covered.contains(rule))
        .collect();
    assert!(
        missing.is_empty(),
        "rules without a rejection case: {missing:?}"
    );
}

#[test]
fn limit_violations_carry_the_limit_and_the_offending_value() {
    let vm = Vm::new(Schedule::v1());
    let wasm =
        wat::parse_str(r#"(module (memory (export "memory") 65 100) (func (export "run")))"#)
            .unwrap();
    let report = vm.validate(&wasm).unwrap_err();
    let pages: Vec<_> = report
        .violations
        .iter()
        .map(|v| (v.limit, v.actual, v.location.clone()))
        .collect();
    assert_eq!(
        pages,
        vec![
            (Some(64), Some(65), Some("memory 0".into())),
            (Some(64), Some(100), Some("memory 0".into()))
        ]
    );
}

#[test]
fn all_violations_are_reported_at_once() {
    let vm = Vm::new(Schedule::v1());
    let wasm = wat::parse_str(
        r#"(module
            (import "env" "abort" (func))
            (memory 70)
            (func $s (drop (v128.const i64x2 0 0)))
            (start $s))"#,
    )
    .unwrap();
    let report = vm.validate(&wasm).unwrap_err();
    assert_eq!(
        report.rules(),
        vec![
            Rule::Simd,
            Rule::TooManyMemoryPages,
            Rule::ImportNotAllowed,
            Rule::StartFunction,
            Rule::MissingMemoryExport,
            Rule::NoEntryPoints
        ]
    );
}

#[test]
fn a_valid_module_is_accepted_with_its_code_hash() {
    let vm = Vm::new(Schedule::v1());
    let wasm =
        wat::parse_str(with(r#"(import "opmeter" "gas_left" (func (result i64)))"#)).unwrap();
    let hash = vm.validate(&wasm).unwrap();
    assert_eq!(hash, opmeter_vm::CodeHash::of(&wasm));
}

#[test]
fn prepare_validates_before_it_instruments() {
    // parity-wasm cannot parse what wasmparser already rejected: `prepare` never panics on it
    // and reports the validation rule, not an instrumentation failure.
    let vm = Vm::new(Schedule::v1());
    let report = vm.prepare(b"\0asm\x01\0\0\0\x01").unwrap_err();
    assert_eq!(report.rules(), vec![Rule::Malformed]);
    let err = opmeter_vm::instrument::instrument(
        b"\0asm\x01\0\0\0\x01",
        &Schedule::v1(),
        opmeter_vm::Metering::Injected,
    )
    .unwrap_err();
    assert!(err.contains("parity-wasm"), "{err}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
    /// Arbitrary bytes get a verdict, never a panic.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
        let vm = Vm::new(Schedule::v1());
        let mut prefixed = b"\0asm\x01\0\0\0".to_vec();
        prefixed.extend_from_slice(&bytes);
        let _ = vm.prepare(&bytes);
        let _ = vm.prepare(&prefixed);
    }
}
