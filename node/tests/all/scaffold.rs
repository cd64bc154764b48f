//! `opmeter new`'s template is a working contract: `opmeter build` builds it for wasm32v1-none,
//! it deploys and runs in the vm, and its own unit tests pass natively. Through the real binary.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use opmeter_vm::{
    Address, BlockContext, CallRequest, DeployRequest, MemoryState, Outcome, Schedule, Status, Vm,
    U256,
};

/// Distinctive, so its `.wasm` never replaces an example contract's in the shared target
/// directory; the `-` checks the `_` of the file name.
const NAME: &str = "scaffold-test-contract";

const GAS_LIMIT: u64 = 100_000_000;

/// A fresh scaffold in a temporary directory, with the example contracts' `Cargo.lock`: the build
/// needs no registry access and uses the dependency versions (and cached builds) of `contracts/`.
fn scaffolded() -> (tempfile::TempDir, PathBuf) {
    let parent = tempfile::tempdir().unwrap();
    let created = opmeter_json(&["new", NAME, "--dir", parent.path().to_str().unwrap()]);
    let dir = PathBuf::from(created["path"].as_str().unwrap());
    assert_eq!(dir, parent.path().join(NAME));
    assert!(dir.join("src/lib.rs").is_file());
    // Never over an existing directory.
    let again = Command::new(env!("CARGO_BIN_EXE_opmeter"))
        .args(["new", NAME, "--dir", parent.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../contracts/Cargo.lock");
    std::fs::copy(lock, dir.join("Cargo.lock")).unwrap();
    (parent, dir)
}

/// Runs `opmeter --json ARGS`, which must succeed, and parses its output.
fn opmeter_json(args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_opmeter"))
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "opmeter {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn scaffold_builds_deploys_and_runs() {
    let (_parent, dir) = scaffolded();
    let built = opmeter_json(&["build", dir.to_str().unwrap()]);
    let built = built.as_array().unwrap();
    assert_eq!(built.len(), 1, "{built:?}");
    assert_eq!(built[0]["package"], "scaffold_test_contract");
    let wasm_path = PathBuf::from(built[0]["path"].as_str().unwrap());
    let wasm_path = &wasm_path;
    assert!(
        wasm_path.ends_with("wasm32v1-none/release/scaffold_test_contract.wasm"),
        "{}",
        wasm_path.display()
    );

    let vm = Vm::new(Schedule::v1());
    let prepared = vm
        .prepare(&std::fs::read(wasm_path).unwrap())
        .unwrap_or_else(|report| panic!("rejected: {report}"));
    let caller = Address([0xA1; 32]);
    let block = BlockContext {
        height: 1,
        timestamp_ms: 1_763_683_200_000,
    };
    let mut state = MemoryState::default();
    let (contract, init) = vm
        .deploy(
            Arc::new(state.clone()),
            block,
            DeployRequest {
                deployer: caller,
                code: prepared.clone(),
                salt: Vec::new(),
                init_input: br#"{"start": 5}"#.to_vec(),
                value: U256::zero(),
                gas_limit: GAS_LIMIT,
            },
        )
        .unwrap();
    assert_eq!(init.status, Status::Success, "{init:#?}");
    assert!(init.events.is_empty());
    state
        .codes
        .insert(prepared.code_hash, prepared.original.clone());
    state.apply(&init.writes);

    let run = |state: &MemoryState, method: &str, args: &str| -> Outcome {
        let call = CallRequest {
            caller,
            contract,
            method: method.into(),
            input: args.as_bytes().to_vec(),
            value: U256::zero(),
            gas_limit: GAS_LIMIT,
        };
        vm.execute(Arc::new(state.clone()), block, call).unwrap()
    };

    let increment = run(&state, "increment", r#"{"by": 2}"#);
    assert_eq!(increment.status, Status::Success, "{increment:#?}");
    assert_eq!(increment.output, b"7");
    assert_eq!(increment.events.len(), 1, "{:?}", increment.events);
    let event = &increment.events[0];
    assert_eq!(event.contract, contract);
    assert_eq!(
        event.topics,
        [*blake3::hash(b"Incremented").as_bytes(), caller.0],
        "topic 0 names the event, topic 1 is the #[topic] caller"
    );
    assert_eq!(event.data, br#"{"by":2,"count":7}"#);
    state.apply(&increment.writes);

    let get = run(&state, "get", "");
    assert_eq!(get.status, Status::Success, "{get:#?}");
    assert!(get.events.is_empty());
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&get.output).unwrap(),
        serde_json::json!(7)
    );
}

#[test]
fn scaffold_unit_tests_pass_natively() {
    let (_parent, dir) = scaffolded();
    // Beside the shared target directory's other builds, never inside it: the outer `cargo test`
    // may hold its lock.
    let target_dir = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(target) if !target.is_empty() => PathBuf::from(target).join("opmeter-scaffold-tests"),
        _ => dir.join("target"),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .arg("test")
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("test result: ok. 3 passed"), "{stdout}");
}
