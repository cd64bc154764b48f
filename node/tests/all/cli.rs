//! The `opmeter` binary's stable shapes: exit codes and JSON fields that scripts rely on.

use std::path::Path;
use std::process::{Command, Output};

fn opmeter(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_opmeter"))
        .args(args)
        .output()
        .expect("spawn opmeter")
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

const HELLO: &str = r#"(module
  (import "opmeter" "output_set" (func $out (param i32 i32)))
  (import "opmeter" "input_len" (func $len (result i32)))
  (import "opmeter" "input_read" (func $read (param i32)))
  (import "opmeter" "revert" (func $revert (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "hello")
  (func (export "hi") (call $out (i32.const 0) (i32.const 5)))
  (func (export "echo") (call $read (i32.const 100)) (call $out (i32.const 100) (call $len)))
  (func (export "no") (call $revert (i32.const 0) (i32.const 5)))
  (func (export "boom") unreachable)
  (func (export "spin") (loop (br 0))))"#;

#[test]
fn validate_prints_the_code_hash_of_accepted_code() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "hello.wat", HELLO);
    let out = opmeter(&["code", "validate", &file]);
    assert!(out.status.success());
    let wasm = wat::parse_str(HELLO).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        opmeter_vm::CodeHash::of(&wasm).to_hex()
    );
}

#[test]
fn validate_lists_every_violation_as_json_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "bad.wat",
        r#"(module (import "env" "x" (func)) (memory 99) (func $s) (start $s))"#,
    );
    let out = opmeter(&["code", "validate", &file, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules: Vec<&str> = report
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["rule"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        [
            "importNotAllowed",
            "tooManyMemoryPages",
            "startFunction",
            "missingMemoryExport",
            "noEntryPoints"
        ]
    );
    assert_eq!(report[1]["limit"], 64);
    assert_eq!(report[1]["actual"], 99);
    assert_eq!(report[1]["location"], "memory 0");
    // Human form lists them all on stderr.
    let human = opmeter(&["code", "validate", &file]);
    assert_eq!(human.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&human.stderr)
            .matches("  - [")
            .count(),
        5
    );
}

fn exec_json(file: &str, extra: &[&str]) -> (Option<i32>, serde_json::Value) {
    let mut args = vec!["exec", file, "--json"];
    args.extend_from_slice(extra);
    let out = opmeter(&args);
    let value = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code(), value)
}

#[test]
fn exec_reports_every_status_and_exits_zero_whenever_the_call_ran() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "hello.wat", HELLO);
    let (code, ok) = exec_json(&file, &["--method", "hi"]);
    assert_eq!(code, Some(0));
    assert_eq!(ok["status"], "success");
    assert_eq!(ok["output"], "0x68656c6c6f");
    assert_eq!(ok["gasUsed"], 69 + 3_048);
    assert_eq!(ok["gasLimit"], 100_000_000);
    let breakdown = ok["gasBreakdown"].as_object().unwrap();
    assert_eq!(
        breakdown.values().map(|v| v.as_u64().unwrap()).sum::<u64>(),
        69 + 3_048
    );
    assert_eq!(
        ok["scheduleHash"],
        format!("0x{}", hex::encode(opmeter_vm::Schedule::v1().hash()))
    );

    let (code, echo) = exec_json(&file, &["--method", "echo", "--args", r#"{"a":1}"#]);
    assert_eq!(code, Some(0));
    assert_eq!(echo["outputText"], r#"{"a":1}"#);

    let (code, revert) = exec_json(&file, &["--method", "no"]);
    assert_eq!((code, revert["status"].as_str()), (Some(0), Some("revert")));
    let (code, trap) = exec_json(&file, &["--method", "boom"]);
    assert_eq!(
        (code, trap["status"].as_str(), trap["trapCode"].as_u64()),
        (Some(0), Some("trap"), Some(1))
    );
    let (code, oog) = exec_json(&file, &["--method", "spin", "--gas-limit", "5000"]);
    assert_eq!(
        (code, oog["status"].as_str(), oog["gasUsed"].as_u64()),
        (Some(0), Some("outOfGas"), Some(5000))
    );
}

#[test]
fn exec_refuses_invalid_code_and_bad_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "bad.wat",
        r#"(module (memory (export "memory") 1) (func (export "x") (drop (v128.const i64x2 0 0))))"#,
    );
    assert_eq!(
        opmeter(&["exec", &bad, "--method", "x"]).status.code(),
        Some(1)
    );
    let good = write(dir.path(), "hello.wat", HELLO);
    assert_eq!(
        opmeter(&["exec", &good, "--method", "hi", "--args", "{not json"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        opmeter(&["exec", &good, "--method", "hi", "--caller", "0x12"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        opmeter(&["exec", "/nonexistent.wasm", "--method", "hi"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        opmeter(&["exec", &good]).status.code(),
        Some(2),
        "--method is required"
    );
}

#[test]
fn build_prints_each_contract_with_size_and_code_hash() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../contracts/counter");
    let out = opmeter(&["build", dir.to_str().unwrap(), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let built: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(built[0]["package"], "counter");
    let path = built[0]["path"].as_str().unwrap();
    assert!(
        path.ends_with("wasm32v1-none/release/counter.wasm"),
        "{path}"
    );
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(built[0]["sizeBytes"], bytes.len());
    assert_eq!(
        built[0]["codeHash"],
        opmeter_vm::CodeHash::of(&bytes).to_hex()
    );
    let missing = opmeter(&["build", "/nonexistent"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no Cargo.toml"));
}

#[test]
fn a_plain_node_refuses_a_genesis_that_lists_validators() {
    let dir = tempfile::tempdir().unwrap();
    let mut genesis = opmeter_node::genesis::Genesis::dev();
    genesis
        .validators
        .push(opmeter_node::genesis::GenesisValidator {
            name: "v0".into(),
            public_key: format!("0x{}", "11".repeat(32)),
            voting_power: 1,
        });
    let path = write(dir.path(), "genesis.json", &genesis.to_json());
    let data = dir.path().join("data");
    let out = opmeter(&[
        "node",
        "--genesis",
        &path,
        "--data-dir",
        data.to_str().unwrap(),
        "--rpc-addr",
        "127.0.0.1:0",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("lists 1 validators") && stderr.contains("--validator --home"),
        "{stderr}"
    );
}
