//! A real (small) snarkjs ceremony over a profile's exported constraint system: powers of tau,
//! `groth16 setup`, a contribution and a beacon, then the final `.zkey` imported as ceremony keys
//! that prove with this crate's prover and verify with ours and with snarkjs' own export of the
//! verifying key. A zkey for other constraints, or damaged, is refused.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use opmeter_prover::ceremony::{import_zkey, r1cs};
use opmeter_prover::{
    constraint_count, prove, snarkjs, verify, ErrorCode, KeyOrigin, Keys, Profile, ProvableProgram,
    Reduction,
};
use opmeter_vm::Schedule;
use rand_chacha::rand_core::SeedableRng;

/// A profile small enough for a 2^12 powers-of-tau file (snarkjs prepares it in about a minute).
const TINY: Profile = Profile {
    name: "t",
    steps: 4,
    program_slots: 4,
};

/// Another constraint system (one step more).
const OTHER: Profile = Profile {
    name: "t",
    steps: 5,
    program_slots: 4,
};

const POWER: u32 = 12;

const WAT: &str = r#"(module (memory (export "memory") 1) (func (export "run"))
  (func (export "provable:add") (param i64 i64) (result i64)
    (i64.add (local.get 0) (local.get 1))))"#;

fn snarkjs_bin() -> PathBuf {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("node_modules/.bin/snarkjs");
    assert!(
        bin.exists(),
        "snarkjs is missing at {}: run scripts/setup.sh (it runs `npm ci` in prover/)",
        bin.display()
    );
    bin
}

fn run_snarkjs(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(snarkjs_bin())
        .args(args)
        .current_dir(dir)
        .output()
        .expect("snarkjs runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "snarkjs {args:?}: {text}");
    text
}

/// A prepared phase-2 powers-of-tau file (2^12), made once per build directory: the public
/// phase 1 of a ceremony, here with one throwaway contribution.
fn ptau() -> &'static Path {
    static PTAU: OnceLock<PathBuf> = OnceLock::new();
    PTAU.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("ptau-{POWER}"));
        std::fs::create_dir_all(&dir).unwrap();
        let lock = std::fs::File::create(dir.join(".lock")).unwrap();
        lock.lock().unwrap();
        let path = dir.join("final.ptau");
        if !path.exists() {
            let power = POWER.to_string();
            run_snarkjs(&dir, &["powersoftau", "new", "bn128", &power, "0.ptau"]);
            run_snarkjs(
                &dir,
                &[
                    "powersoftau",
                    "contribute",
                    "0.ptau",
                    "1.ptau",
                    "--name=test",
                    "-e=phase one",
                ],
            );
            run_snarkjs(
                &dir,
                &["powersoftau", "prepare", "phase2", "1.ptau", "p.ptau"],
            );
            std::fs::rename(dir.join("p.ptau"), &path).unwrap();
        }
        lock.unlock().unwrap();
        path
    })
}

/// Phase 2 over `profile`'s exported constraints: setup, one contribution, a beacon; returns
/// the final zkey's path.
fn ceremony(dir: &Path, profile: Profile) -> PathBuf {
    std::fs::write(dir.join("c.r1cs"), r1cs(profile).expect("exports")).unwrap();
    let ptau = ptau().to_str().unwrap();
    run_snarkjs(dir, &["groth16", "setup", "c.r1cs", ptau, "0.zkey"]);
    run_snarkjs(
        dir,
        &[
            "zkey",
            "contribute",
            "0.zkey",
            "1.zkey",
            "--name=alice",
            "-e=alice's entropy",
        ],
    );
    run_snarkjs(
        dir,
        &[
            "zkey",
            "beacon",
            "1.zkey",
            "final.zkey",
            "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            "10",
            "-n=beacon",
        ],
    );
    dir.join("final.zkey")
}

#[test]
fn a_snarkjs_ceremony_key_proves_and_verifies_here_and_in_snarkjs() {
    let domain =
        constraint_count(TINY).expect("counts") + opmeter_prover::statement::PUBLIC_SIGNALS + 1;
    assert!(domain <= 1 << POWER, "TINY needs 2^{POWER} ≥ {domain}");
    // The export is deterministic, and snarkjs reads it as the circuit it is.
    assert_eq!(r1cs(TINY).unwrap(), r1cs(TINY).unwrap());
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let zkey_path = ceremony(dir, TINY);
    let info = run_snarkjs(dir, &["r1cs", "info", "c.r1cs"]);
    assert!(
        info.contains(&format!(
            "# of Constraints: {}",
            constraint_count(TINY).unwrap()
        )),
        "{info}"
    );
    let zkey = std::fs::read(&zkey_path).unwrap();

    let keys = import_zkey(TINY, &zkey, "final.zkey").expect("imports");
    assert_eq!(keys.origin, KeyOrigin::Ceremony);
    assert_eq!(keys.reduction, Reduction::Snarkjs);
    // Stored and read back like any keys (hash-checked), labelled as ceremony keys.
    let keys_dir = dir.join("keys");
    let manifest = keys.write(&keys_dir).expect("writes");
    assert_eq!(manifest.origin, KeyOrigin::Ceremony);
    let keys = Keys::read(&keys_dir, &TINY).expect("reads");
    assert_eq!(keys.reduction, Reduction::Snarkjs);

    let wasm = wat::parse_str(WAT).unwrap();
    let program = ProvableProgram::compile(&wasm, &Schedule::v1(), "add").expect("compiles");
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
    let (statement, proof) =
        prove(&keys, &program, &[40, 2], &mut rng, &mut |_| {}).expect("proves");
    assert_eq!(statement.output, 42);
    verify(keys.vk(), &statement, &proof).expect("verifies with the imported key");

    // snarkjs' own export of the ceremony's verifying key is the one we imported, and it
    // accepts our proof.
    run_snarkjs(
        dir,
        &["zkey", "export", "verificationkey", "final.zkey", "vk.json"],
    );
    let theirs: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("vk.json")).unwrap()).unwrap();
    let ours = snarkjs::verification_key_json(keys.vk());
    for field in [
        "vk_alpha_1",
        "vk_beta_2",
        "vk_gamma_2",
        "vk_delta_2",
        "IC",
        "nPublic",
    ] {
        assert_eq!(theirs[field], ours[field], "{field}");
    }
    let write = |name: &str, value: serde_json::Value| {
        std::fs::write(dir.join(name), serde_json::to_vec(&value).unwrap()).unwrap();
    };
    write("proof.json", snarkjs::proof_json(&proof));
    write("public.json", snarkjs::public_json(&statement));
    let verdict = run_snarkjs(
        dir,
        &["groth16", "verify", "vk.json", "public.json", "proof.json"],
    );
    assert!(verdict.contains("OK"), "{verdict}");

    // Refused: the key for another profile's constraints, a damaged file, a truncated one.
    let code = |result: Result<Keys, opmeter_prover::ProverError>| match result {
        Err(e) => (e.code(), e.to_string()),
        Ok(_) => panic!("accepted"),
    };
    let (c, message) = code(import_zkey(OTHER, &zkey, "final.zkey"));
    assert_eq!(c, ErrorCode::KeysCorrupt);
    assert!(
        message.contains("final.zkey") && message.contains("variables"),
        "{message}"
    );
    let mut damaged = zkey.clone();
    let at = damaged.len() / 2;
    damaged[at] ^= 0x40;
    assert_eq!(
        code(import_zkey(TINY, &damaged, "d.zkey")).0,
        ErrorCode::KeysCorrupt
    );
    assert_eq!(
        code(import_zkey(TINY, &zkey[..zkey.len() - 100], "t.zkey")).0,
        ErrorCode::KeysCorrupt
    );
    assert_eq!(
        code(import_zkey(TINY, b"r1cs", "x")).0,
        ErrorCode::KeysCorrupt
    );
}

#[test]
fn a_zkey_made_for_other_constraints_is_refused() {
    // A zkey over TINY's exported system with one coefficient of `A` changed (the first
    // constraint binds the profile signal: `1 · profile = id` becomes `3 · profile = id`). Its
    // sizes are TINY's; the import compares every coefficient.
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let mut exported = r1cs(TINY).unwrap();
    // File header 12, header section 12 + 64, constraints section 12, then the first
    // constraint's A: term count 4, wire 4, coefficient (little-endian).
    let at = 12 + 12 + 64 + 12 + 4 + 4;
    assert_eq!(exported[at], 1, "the first coefficient is 1");
    exported[at] = 3;
    std::fs::write(dir.join("c.r1cs"), &exported).unwrap();
    let ptau = ptau().to_str().unwrap();
    run_snarkjs(dir, &["groth16", "setup", "c.r1cs", ptau, "0.zkey"]);
    let zkey = std::fs::read(dir.join("0.zkey")).unwrap();
    let error = import_zkey(TINY, &zkey, "0.zkey").expect_err("refused");
    assert_eq!(error.code(), ErrorCode::KeysCorrupt);
    assert!(
        error.to_string().contains("another constraint system"),
        "{error}"
    );
}
