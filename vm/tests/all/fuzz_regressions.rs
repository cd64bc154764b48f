//! The fuzz targets' oracles on stable, in the normal test run: every input kept under
//! `fuzz/regressions/<target>/` (crashes found by `scripts/fuzz.sh`, fixed since, and at least
//! one seed per target that the oracle accepts), and a deterministic sample of generated inputs so
//! the generators themselves stay exercised in CI.
//!
//! A missing or empty directory is a failure, not a silent pass: the replay must run each
//! target's oracle on at least one kept input, and one of them must reach `Verdict::Accepted`
//! (so the oracle's checks past validation ran).

use std::path::{Path, PathBuf};

use opmeter_vm::fuzzing::{self, Verdict};

type Oracle = fn(&[u8]) -> Result<Verdict, String>;

const TARGETS: [(&str, Oracle); 3] = [
    ("validate", fuzzing::validate),
    ("execute", fuzzing::execute),
    ("differential", fuzzing::differential),
];

fn regressions_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions")
        .join(target)
}

#[test]
fn every_kept_fuzz_input_passes_its_oracle() {
    let mut failures = Vec::new();
    for (target, oracle) in TARGETS {
        let dir = regressions_dir(target);
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != ".gitkeep"))
            .collect();
        files.sort();
        assert!(
            !files.is_empty(),
            "{}: no kept input, the {target} replay would test nothing",
            dir.display()
        );
        let mut accepted = 0;
        for file in &files {
            let data = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            match oracle(&data) {
                Ok(Verdict::Accepted) => accepted += 1,
                Ok(Verdict::Rejected | Verdict::NotEnoughData) => {}
                Err(bug) => failures.push(format!("{target} {}: {bug}", file.display())),
            }
        }
        println!(
            "fuzz regression inputs of {target}: {} ({accepted} accepted)",
            files.len()
        );
        assert!(
            accepted > 0,
            "{}: no kept input reaches the {target} oracle's accepting path",
            dir.display()
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// xorshift64*: a fixed, dependency-free byte stream.
fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

#[test]
fn generated_modules_pass_every_oracle() {
    let mut accepted = [0usize; 3];
    for seed in 0..150u64 {
        let data = bytes(seed, 512 + (seed as usize % 7) * 512);
        for (i, (target, oracle)) in TARGETS.iter().enumerate() {
            match oracle(&data) {
                Ok(Verdict::Accepted) => accepted[i] += 1,
                Ok(_) => {}
                Err(bug) => panic!("{target}, seed {seed}: {bug}"),
            }
        }
    }
    println!("accepted (validate, execute, differential): {accepted:?}");
    // The generator must produce modules the vm accepts, or the targets test nothing.
    assert!(accepted[1] >= 100, "execute accepted only {}", accepted[1]);
    assert!(
        accepted[2] >= 100,
        "differential accepted only {}",
        accepted[2]
    );
}

/// Structured inputs that reach the vm's accepting path for `validate` (random bytes rarely
/// do): generated modules, and each of them cut short.
#[test]
fn validate_accepts_generated_modules_and_survives_truncation() {
    let mut accepted = 0;
    for seed in 0..40u64 {
        let data = bytes(1_000 + seed, 2048);
        let mut u = fuzzing::Unstructured::new(&data);
        let Some(wasm) = fuzzing::generate(&mut u, true) else {
            continue;
        };
        if fuzzing::validate(&wasm) == Ok(Verdict::Accepted) {
            accepted += 1;
        }
        for cut in [1, 9, wasm.len() / 3, wasm.len() / 2, wasm.len() - 1] {
            if let Err(bug) = fuzzing::validate(&wasm[..cut.min(wasm.len())]) {
                panic!("seed {seed}, cut {cut}: {bug}");
            }
        }
    }
    assert!(
        accepted >= 30,
        "only {accepted} generated modules validated"
    );
}
