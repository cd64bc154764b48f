//! Proofs end to end on the small profile: the example contract's provable methods prove and
//! verify, the proven gas is the billed gas, every public input and every proof byte matters,
//! and every failure is a typed error with a stable code.

use std::sync::OnceLock;

use crate::support;

use ark_bn254::Fr;
use opmeter_prover::{
    prove, setup, snarkjs, verify, ErrorCode, Keys, Profile, Proof, ProvableProgram, Prover,
    Statement,
};
use opmeter_vm::{Schedule, Status, Vm};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

const PROFILE: Profile = Profile::S;

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(0x0be7e)
}

/// Development keys of the test profile, generated once per test binary.
fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| setup(PROFILE, &mut rng()).expect("setup"))
}

fn wasm() -> &'static [u8] {
    support::example_wasm()
}

/// Each provable example with arguments that fit the test profile.
const EXAMPLES: &[(&str, &[u64])] = &[
    ("fib", &[12]),
    ("gcd", &[1_071, 462]),
    ("isqrt", &[99]),
    ("mix", &[7, 2]),
];

fn proof_of(method: &str, args: &[u64]) -> (ProvableProgram, Statement, Proof) {
    let program = ProvableProgram::compile(wasm(), &Schedule::v1(), method)
        .unwrap_or_else(|e| panic!("{method}: {e}"));
    let (statement, proof) = prove(keys(), &program, args, &mut rng(), &mut |_| {})
        .unwrap_or_else(|e| panic!("{method}{args:?}: {e}\n{}", program.program));
    (program, statement, proof)
}

#[test]
fn every_example_proves_verifies_and_its_proven_gas_is_the_billed_gas() {
    let schedule = Schedule::v1();
    let vm = Vm::new(schedule.clone());
    let code = vm.prepare(wasm()).expect("the example validates");
    for (method, args) in EXAMPLES {
        let (program, statement, proof) = proof_of(method, args);
        verify(keys().vk(), &statement, &proof).unwrap_or_else(|e| panic!("{method}: {e}"));
        assert_eq!(proof.to_bytes().len(), Proof::BYTES);
        // The same call, billed by the vm.
        let billed = vm
            .call_provable(&code, method, args, 10_000_000)
            .expect("the vm runs it");
        assert_eq!(billed.status, Status::Success, "{method}");
        assert_eq!(Some(statement.output), billed.result, "{method}: output");
        assert_eq!(statement.gas_used, billed.gas_used, "{method}: gas");
        assert!(statement.gas_used > 0);
        assert_eq!(statement.schedule_hash, billed.schedule_hash);
        // A verifier re-derives the code commitment from the wasm bytes alone.
        let again = ProvableProgram::compile(wasm(), &schedule, method).expect("compiles");
        assert_eq!(again.code_commitment(&PROFILE), statement.code_commitment);
        assert_eq!(again, program);
    }
}

#[test]
fn the_methods_compute_the_right_values() {
    let (_, s, _) = proof_of("gcd", &[1_071, 462]);
    assert_eq!(s.output, 21);
    let (_, s, _) = proof_of("isqrt", &[99]);
    assert_eq!(s.output, 9);
    let (_, s, _) = proof_of("fib", &[12]);
    assert_eq!(s.output, 144);
}

#[test]
fn changing_any_public_input_or_proof_byte_fails_verification() {
    let (_, statement, proof) = proof_of("gcd", &[1_071, 462]);
    verify(keys().vk(), &statement, &proof).expect("the honest statement verifies");
    let other_schedule = {
        let mut s = Schedule::v1();
        s.version += 1;
        s.hash()
    };
    let tampered: Vec<(&str, Statement)> = vec![
        (
            "output",
            Statement {
                output: 22,
                ..statement.clone()
            },
        ),
        (
            "gas",
            Statement {
                gas_used: statement.gas_used - 1,
                ..statement.clone()
            },
        ),
        (
            "input",
            Statement {
                args: vec![1_071, 463],
                ..statement.clone()
            },
        ),
        (
            "extra input",
            Statement {
                args: vec![1_071, 462, 1],
                ..statement.clone()
            },
        ),
        (
            "method",
            Statement {
                method: "fib".into(),
                ..statement.clone()
            },
        ),
        (
            "code commitment",
            Statement {
                code_commitment: statement.code_commitment + Fr::from(1u64),
                ..statement.clone()
            },
        ),
        (
            "schedule",
            Statement {
                schedule_hash: other_schedule,
                ..statement.clone()
            },
        ),
        (
            "profile",
            Statement {
                profile: Profile::M,
                ..statement.clone()
            },
        ),
    ];
    for (what, bad) in tampered {
        let err = verify(keys().vk(), &bad, &proof).expect_err(what);
        assert_eq!(err.code(), ErrorCode::InvalidProof, "{what}: {err}");
    }
    let bytes = proof.to_bytes();
    for i in 0..bytes.len() {
        for flip in [0x01u8, 0x80] {
            let mut bad = bytes.clone();
            bad[i] ^= flip;
            let outcome = Proof::from_bytes(&bad).and_then(|p| verify(keys().vk(), &statement, &p));
            let err = outcome.expect_err("a flipped proof bit must not verify");
            assert!(
                matches!(
                    err.code(),
                    ErrorCode::MalformedProof | ErrorCode::InvalidProof
                ),
                "byte {i}: {err}"
            );
        }
    }
    assert_eq!(
        Proof::from_bytes(&bytes[..100]).unwrap_err().code(),
        ErrorCode::MalformedProof
    );
}

#[test]
fn a_proof_of_one_method_does_not_verify_another() {
    let (_, fib, fib_proof) = proof_of("fib", &[12]);
    let (_, isqrt, isqrt_proof) = proof_of("isqrt", &[99]);
    assert!(verify(keys().vk(), &fib, &isqrt_proof).is_err());
    assert!(verify(keys().vk(), &isqrt, &fib_proof).is_err());
}

#[test]
fn failures_are_typed_errors() {
    let schedule = Schedule::v1();
    let not = ProvableProgram::compile(wasm(), &schedule, "nibble_weight").expect_err("memory");
    assert_eq!(not.code(), ErrorCode::NotProvable);
    assert!(not.to_string().contains("linear memory"), "{not}");

    let fib = ProvableProgram::compile(wasm(), &schedule, "fib").expect("compiles");
    let steps = prove(keys(), &fib, &[5_000], &mut rng(), &mut |_| {}).unwrap_err();
    assert_eq!(steps.code(), ErrorCode::StepBoundExceeded, "{steps}");
    let args = prove(keys(), &fib, &[1, 2], &mut rng(), &mut |_| {}).unwrap_err();
    assert_eq!(args.code(), ErrorCode::WrongArguments, "{args}");
    let wide = prove(keys(), &fib, &[1 << 40], &mut rng(), &mut |_| {}).unwrap_err();
    assert_eq!(wide.code(), ErrorCode::WrongArguments, "{wide}");

    let gcd = ProvableProgram::compile(wasm(), &schedule, "gcd").expect("compiles");
    let trap = prove(keys(), &gcd, &[5, 0], &mut rng(), &mut |_| {});
    // gcd(5, 0) = 5 does not divide by zero; a division by zero traps in the vm and here.
    assert!(trap.is_ok());
    let div = wat::parse_str(
        r#"(module (memory (export "memory") 1) (func (export "run"))
           (func (export "provable:div") (param i64 i64) (result i64) (i64.div_u (local.get 0) (local.get 1))))"#,
    )
    .unwrap();
    let div = ProvableProgram::compile(&div, &schedule, "div").expect("compiles");
    let trapped = prove(keys(), &div, &[1, 0], &mut rng(), &mut |_| {}).unwrap_err();
    assert_eq!(trapped.code(), ErrorCode::ExecutionTrapped, "{trapped}");

    let big = {
        let mut body = String::new();
        for i in 0..PROFILE.program_slots {
            body += &format!(
                "(local.set 0 (i64.xor (local.get 0) (i64.const {})))",
                i + 1
            );
        }
        wat::parse_str(format!(
            r#"(module (memory (export "memory") 1) (func (export "run"))
               (func (export "provable:big") (param i64) (result i64) {body} (local.get 0)))"#
        ))
        .unwrap()
    };
    let big = ProvableProgram::compile(&big, &schedule, "big").expect("compiles");
    let small = prove(keys(), &big, &[1], &mut rng(), &mut |_| {}).unwrap_err();
    assert_eq!(small.code(), ErrorCode::ProfileTooSmall, "{small}");

    assert_eq!(
        Profile::by_name("xxl").map_or(ErrorCode::UnknownProfile, |_| ErrorCode::Internal),
        ErrorCode::UnknownProfile
    );
}

#[test]
fn the_prover_bounds_concurrent_proofs() {
    let keys = std::sync::Arc::new(keys().clone());
    let prover = Prover::new(keys, 1);
    let program = ProvableProgram::compile(wasm(), &Schedule::v1(), "isqrt").expect("compiles");
    let mut nested = None;
    let (statement, proof) = prover
        .prove(&program, &[99], &mut rng(), &mut |_| {
            // While this proof holds the only slot, a second one is refused.
            if nested.is_none() {
                nested = Some(prover.prove(&program, &[99], &mut rng(), &mut |_| {}));
            }
        })
        .expect("the first proof runs");
    let second = nested.expect("progress was reported").unwrap_err();
    assert_eq!(second.code(), ErrorCode::Busy);
    verify(prover.keys().vk(), &statement, &proof).expect("verifies");
    // The slot is free again.
    prover
        .prove(&program, &[4], &mut rng(), &mut |_| {})
        .expect("a slot is free after the first proof");
}

#[test]
fn keys_round_trip_through_files_and_corruption_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let manifest = keys().write(dir.path()).expect("write");
    assert_eq!(manifest.profile, PROFILE.name);
    let read = Keys::read(dir.path(), &PROFILE).expect("read");
    assert_eq!(read.vk(), keys().vk());
    let (_, statement, proof) = proof_of("fib", &[12]);
    verify(
        &Keys::read_vk(dir.path(), &PROFILE).expect("vk"),
        &statement,
        &proof,
    )
    .expect("verifies with the stored key");

    let missing = Keys::read(dir.path(), &Profile::M).unwrap_err();
    assert_eq!(missing.code(), ErrorCode::KeysMissing, "{missing}");

    let pk = dir.path().join(PROFILE.name).join("pk.bin");
    let mut bytes = std::fs::read(&pk).expect("pk");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&pk, &bytes).expect("write");
    let corrupt = Keys::read(dir.path(), &PROFILE).unwrap_err();
    assert_eq!(corrupt.code(), ErrorCode::KeysCorrupt, "{corrupt}");

    let manifest_path = dir.path().join(PROFILE.name).join("manifest.json");
    std::fs::write(&manifest_path, b"{ not json").expect("write");
    assert_eq!(
        Keys::read(dir.path(), &PROFILE).unwrap_err().code(),
        ErrorCode::KeysCorrupt
    );
}

#[test]
fn error_codes_round_trip() {
    for code in ErrorCode::ALL {
        assert_eq!(ErrorCode::from_u16(*code as u16), Some(*code));
    }
    let numbers: Vec<u16> = ErrorCode::ALL.iter().map(|c| *c as u16).collect();
    let mut sorted = numbers.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(numbers, sorted, "codes are unique and in order");
    assert_eq!(ErrorCode::from_u16(0), None);
    assert_eq!(ErrorCode::from_u16(ErrorCode::ALL.len() as u16 + 1), None);
}

/// snarkjs (installed by `scripts/setup.sh` into `prover/node_modules`) verifies an exported
/// proof with no Opmeter code, and refuses it with one public signal changed.
#[test]
fn snarkjs_verifies_an_exported_proof() {
    let bin = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("node_modules/.bin/snarkjs");
    assert!(
        bin.exists(),
        "snarkjs is missing at {}: run scripts/setup.sh (it runs `npm ci` in prover/)",
        bin.display()
    );
    let (_, statement, proof) = proof_of("gcd", &[1_071, 462]);
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, value: serde_json::Value| {
        std::fs::write(
            dir.path().join(name),
            serde_json::to_vec_pretty(&value).unwrap(),
        )
        .expect("write");
    };
    write(
        "verification_key.json",
        snarkjs::verification_key_json(keys().vk()),
    );
    write("proof.json", snarkjs::proof_json(&proof));
    write("public.json", snarkjs::public_json(&statement));
    let run = || {
        std::process::Command::new(&bin)
            .args([
                "groth16",
                "verify",
                "verification_key.json",
                "public.json",
                "proof.json",
            ])
            .current_dir(dir.path())
            .output()
            .expect("snarkjs runs")
    };
    let ok = run();
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success() && stdout.contains("OK"),
        "snarkjs: {stdout}{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    write(
        "public.json",
        snarkjs::public_json(&Statement {
            output: 22,
            ..statement.clone()
        }),
    );
    let bad = run();
    assert!(
        !bad.status.success() || !String::from_utf8_lossy(&bad.stdout).contains("OK!"),
        "snarkjs accepted a wrong output"
    );
}

#[test]
fn keys_prove_with_the_reduction_they_were_made_for_and_old_manifests_mean_libsnark() {
    use opmeter_prover::{setup_for, Reduction};
    assert_eq!(
        keys().reduction,
        Reduction::Snarkjs,
        "new keys use snarkjs' reduction"
    );
    let program = ProvableProgram::compile(wasm(), &Schedule::v1(), "gcd").expect("compiles");
    let dir = tempfile::tempdir().expect("tempdir");
    let old = setup_for(PROFILE, Reduction::Libsnark, &mut rng()).expect("setup");
    old.write(dir.path()).expect("writes");
    // A manifest written before the field existed: without `reduction`.
    let path = dir.path().join(PROFILE.name).join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("reads")).expect("json");
    assert_eq!(manifest["reduction"], "libsnark");
    manifest
        .as_object_mut()
        .expect("object")
        .remove("reduction");
    std::fs::write(&path, serde_json::to_vec(&manifest).expect("json")).expect("writes");
    let read = Keys::read(dir.path(), &PROFILE).expect("reads");
    assert_eq!(read.reduction, Reduction::Libsnark);
    let (statement, proof) =
        prove(&read, &program, &[1_071, 462], &mut rng(), &mut |_| {}).expect("proves");
    verify(read.vk(), &statement, &proof).expect("a libsnark key's proof verifies");
    // The reduction is part of the key: proving with the other one yields a proof that fails.
    let mut wrong = read.clone();
    wrong.reduction = Reduction::Snarkjs;
    let (statement, proof) =
        prove(&wrong, &program, &[1_071, 462], &mut rng(), &mut |_| {}).expect("proves");
    assert_eq!(
        verify(wrong.vk(), &statement, &proof).map_err(|e| e.code()),
        Err(ErrorCode::InvalidProof)
    );
}
