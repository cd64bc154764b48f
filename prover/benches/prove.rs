//! Proving benchmark, one profile per run (peak memory is per process):
//!
//! ```sh
//! cargo bench -p opmeter-prover --bench prove -- s   # or m, l
//! ```
//!
//! Prints the profile's constraints, setup time, key sizes, prove time, peak RSS while proving,
//! verify time, and proof size, for `mix` of the `provable` example contract (as many rounds as
//! fit the profile: proving time depends on the profile, not on the steps a call runs).

use std::time::Instant;

use opmeter_prover::{constraint_count, prove, setup, verify_prepared, Profile, ProvableProgram};
use opmeter_vm::Schedule;
use rand_chacha::rand_core::SeedableRng;

#[path = "../tests/all/support.rs"]
mod support;

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// User + system CPU seconds of this process so far.
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which ends with ')'): utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn reset_peak_rss() {
    // Linux: writing 5 to clear_refs resets the peak resident set size.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn main() {
    let name = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_else(|| "s".into());
    let Some(profile) = Profile::by_name(&name) else {
        eprintln!("unknown profile `{name}`; one of s, m, l");
        std::process::exit(2);
    };
    let program = ProvableProgram::compile(support::example_wasm(), &Schedule::v1(), "mix")
        .expect("mix compiles");
    // The most rounds that fit the profile.
    let mut rounds = 1u64;
    while program.run(&[7, rounds + 1], profile.steps).is_ok() {
        rounds += 1;
    }
    let run = program.run(&[7, rounds], profile.steps).expect("fits");
    let constraints = constraint_count(profile).expect("counts");
    if std::env::args().any(|a| a == "synth") {
        let (synth, finalize) =
            opmeter_prover::synthesis_seconds(profile, &program, &[7, rounds]).expect("synth");
        println!("synthesis {synth:.2} s, finalize {finalize:.2} s");
        return;
    }
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(42);

    // `OPMETER_ZK_KEYS=DIR` keeps the development keys between runs (setup of `l` takes minutes).
    let kept = std::env::var_os("OPMETER_ZK_KEYS").map(std::path::PathBuf::from);
    let temp = tempfile::tempdir().expect("tempdir");
    let dir = kept.clone().unwrap_or_else(|| temp.path().to_path_buf());
    let (setup_s, setup_peak, manifest) = match opmeter_prover::Keys::manifest(&dir, &profile) {
        Ok(manifest) if kept.is_some() => (f64::NAN, f64::NAN, manifest),
        _ => {
            let t = Instant::now();
            let keys = setup(profile, &mut rng).expect("setup");
            let setup_s = t.elapsed().as_secs_f64();
            let setup_peak = peak_rss_mb();
            (setup_s, setup_peak, keys.write(&dir).expect("write keys"))
        }
    };
    let t = Instant::now();
    let keys = opmeter_prover::Keys::read(&dir, &profile).expect("read keys");
    let load_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let nonzeros = keys.prepare().expect("matrices");
    let matrices_s = t.elapsed().as_secs_f64();
    let matrices_peak = peak_rss_mb();

    reset_peak_rss();
    let reps = if profile.steps > 2_000 { 1 } else { 3 };
    let mut prove_s = f64::MAX;
    let mut prove_cpu_s = f64::MAX;
    let mut last = None;
    for _ in 0..reps {
        let t = Instant::now();
        let cpu = cpu_s();
        let out = prove(&keys, &program, &[7, rounds], &mut rng, &mut |_| {}).expect("proves");
        prove_s = prove_s.min(t.elapsed().as_secs_f64());
        prove_cpu_s = prove_cpu_s.min(cpu_s() - cpu);
        last = Some(out);
    }
    let prove_peak = peak_rss_mb();
    let (statement, proof) = last.expect("proved");
    let n = 200;
    let t = Instant::now();
    for _ in 0..n {
        verify_prepared(&keys.pvk, &statement, &proof).expect("verifies");
    }
    let verify_ms = t.elapsed().as_secs_f64() * 1e3 / f64::from(n);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "| {} | {} | {} | {} ({} rounds) | {:.1} s | {:.0} MB / {} B | {:.2} s | {:.2} s ({:.1} CPU s) | {:.0} MB | {:.2} ms | {} B | {:.0} MB |",
        profile.name,
        profile.steps,
        profile.program_slots,
        run.steps,
        rounds,
        setup_s,
        manifest.pk_bytes as f64 / 1e6,
        manifest.vk_bytes,
        load_s,
        prove_s,
        prove_cpu_s,
        prove_peak,
        verify_ms,
        proof.to_bytes().len(),
        setup_peak,
    );
    println!(
        "constraints {constraints}, matrices {nonzeros} non-zeros built in {matrices_s:.2} s (peak RSS {matrices_peak:.0} MB with the keys), program {} instructions, gas {}, load average {}",
        program.program.code.len(),
        statement.gas_used,
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
}
