//! Proofs from the command line: `opmeter zk setup` (development keys), `opmeter zk verify`
//! (offline: the verifying key and the public compiler, no node) and `opmeter prove` (a job on a
//! node, with progress).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use opmeter_ledger::encoding::DecU64;
use opmeter_prover::{ErrorCode, KeyOrigin, Keys, Profile, ProvableProgram, ProverError};
use opmeter_rpc::client::{HttpClient, OpmeterApiClient};
use opmeter_rpc::types::{origin_name, ProofJobView, ProofView, ProveArgs};
use opmeter_rpc::ErrorCode as RpcCode;
use rand_chacha::rand_core::SeedableRng;
use serde_json::json;

use crate::client::{explain, ClientOpts};
use crate::render::{group, print_json};

/// `opmeter zk …`.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum ZkCommand {
    /// Generate DEVELOPMENT keys for a profile (whoever runs this can forge proofs: for tests,
    /// benchmarks and a node auditing itself; see specs/proofs.md for ceremony keys).
    Setup {
        /// The profile: s, m or l.
        #[arg(long)]
        profile: String,
        /// The keys directory (default: the zk directory of the node's data dir,
        /// ~/.opmeter/dev/zk or $OPMETER_DATA_DIR/zk).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Replace keys that are already there.
        #[arg(long)]
        force: bool,
        /// Derive the setup randomness from this seed instead of the OS (reproducible keys for
        /// tests; anyone who knows the seed can forge proofs).
        #[arg(long, hide = true)]
        seed: Option<u64>,
    },
    /// Write a profile's constraint system as an iden3 `.r1cs` file: the input of a snarkjs
    /// ceremony (`snarkjs groth16 setup FILE POT.ptau 0.zkey`, contributions, a beacon).
    ExportR1cs {
        /// The profile: s, m or l.
        #[arg(long)]
        profile: String,
        /// The file to write (default: `<profile>.r1cs`).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Import the final `.zkey` of a snarkjs ceremony over `zk export-r1cs`'s file as the
    /// profile's keys (origin: ceremony). Checks it was made for this profile's constraints.
    Import {
        /// The profile: s, m or l.
        #[arg(long)]
        profile: String,
        /// The ceremony's final zkey.
        #[arg(long)]
        zkey: PathBuf,
        /// The keys directory (default as for `zk setup`).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Replace keys that are already there.
        #[arg(long)]
        force: bool,
    },
    /// Verify a proof file offline with the profile's verifying key; with --wasm also re-derive
    /// the code commitment from the module. Exits 1 when the proof is invalid.
    Verify {
        /// The proof file (from `opmeter prove` or `proof_get`).
        file: PathBuf,
        /// The keys directory holding `<profile>/vk.bin` (default as for `zk setup`).
        #[arg(long)]
        keys: Option<PathBuf>,
        /// The contract's wasm: re-derive the code commitment (and check the code hash).
        #[arg(long)]
        wasm: Option<PathBuf>,
    },
}

/// The keys directory by default: `<data dir>/zk` of the node's default data dir.
pub(crate) fn default_keys_dir() -> PathBuf {
    let data = std::env::var_os("OPMETER_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("."))
                .join(".opmeter")
                .join("dev")
        });
    opmeter_node::zk::default_keys_dir(&data)
}

/// A prover error as a CLI error: its JSON-RPC code and stable name, then what to do.
fn prover_failure(error: &ProverError) -> anyhow::Error {
    let code = RpcCode::Prover(error.code());
    let next = match error.code() {
        ErrorCode::UnknownProfile => "\n  next: profiles are s, m and l",
        ErrorCode::KeysMissing => "\n  next: generate keys with `opmeter zk setup --profile NAME`",
        ErrorCode::KeysCorrupt => {
            "\n  next: the key files changed since setup: run `opmeter zk setup --force`"
        }
        _ => "",
    };
    anyhow!("{error} (code {}, {}){next}", code.code(), code.name())
}

fn profile_named(name: &str) -> anyhow::Result<Profile> {
    Profile::by_name(name).ok_or_else(|| prover_failure(&ProverError::UnknownProfile(name.into())))
}

/// Runs `opmeter zk …`.
pub(crate) fn run(command: ZkCommand, json: bool) -> anyhow::Result<ExitCode> {
    match command {
        ZkCommand::Setup {
            profile,
            dir,
            force,
            seed,
        } => setup(
            &profile,
            dir.unwrap_or_else(default_keys_dir),
            force,
            seed,
            json,
        ),
        ZkCommand::ExportR1cs { profile, out } => export_r1cs(&profile, out, json),
        ZkCommand::Import {
            profile,
            zkey,
            dir,
            force,
        } => import(
            &profile,
            &zkey,
            dir.unwrap_or_else(default_keys_dir),
            force,
            json,
        ),
        ZkCommand::Verify { file, keys, wasm } => verify(
            &file,
            &keys.unwrap_or_else(default_keys_dir),
            wasm.as_deref(),
            json,
        ),
    }
}

/// The profile called `name`, when its keys may be written under `dir`: none are there yet, or
/// `force` replaces them.
fn profile_to_write(name: &str, dir: &Path, force: bool) -> anyhow::Result<Profile> {
    let profile = profile_named(name)?;
    if !force && Keys::manifest(dir, &profile).is_ok() {
        bail!(
            "keys for profile `{}` are already in {} (pass --force to replace them)",
            profile.name,
            Keys::dir(dir, &profile).display()
        );
    }
    Ok(profile)
}

/// `opmeter zk setup --profile NAME [--dir DIR] [--force]`.
fn setup(
    name: &str,
    dir: PathBuf,
    force: bool,
    seed: Option<u64>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let profile = profile_to_write(name, &dir, force)?;
    if !json {
        eprintln!(
            "generating development keys for profile {profile} (s: seconds, m: about a minute, l: about 4 minutes)"
        );
    }
    let started = std::time::Instant::now();
    let keys = match seed {
        Some(seed) => {
            opmeter_prover::setup(profile, &mut rand_chacha::ChaCha20Rng::seed_from_u64(seed))
        }
        None => opmeter_prover::setup(profile, &mut rand_core::OsRng),
    }
    .map_err(|e| prover_failure(&e))?;
    let (manifest, profile_dir, vk_json) = write_keys(&keys, &dir)?;
    let seconds = started.elapsed().as_secs_f64();
    if json {
        print_json(&json!({
            "dir": profile_dir,
            "manifest": manifest,
            "verificationKeyJson": vk_json,
            "seconds": seconds,
        }))?;
    } else {
        println!("keys for profile {profile}");
        println!("  dir         {}", profile_dir.display());
        println!(
            "  pk.bin      {} bytes (uncompressed)",
            group(manifest.pk_bytes)
        );
        println!(
            "  vk.bin      {} bytes, blake3 {}",
            group(manifest.vk_bytes),
            manifest.vk_blake3
        );
        println!("  snarkjs     {}", vk_json.display());
        println!("  took        {seconds:.1} s");
        println!("  origin      DEVELOPMENT: this machine drew the setup randomness, so whoever");
        println!("              controls it could forge proofs; use ceremony keys for proofs that");
        println!("              must convince third parties (specs/proofs.md, section 7)");
        println!(
            "next: restart the node (it serves the profiles it finds under its data dir's zk/)"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `keys` under `dir` with the snarkjs JSON of the verifying key beside them.
fn write_keys(
    keys: &Keys,
    dir: &Path,
) -> anyhow::Result<(opmeter_prover::Manifest, PathBuf, PathBuf)> {
    let manifest = keys.write(dir).map_err(|e| prover_failure(&e))?;
    let profile_dir = Keys::dir(dir, &keys.profile);
    let vk_json = profile_dir.join("verification_key.json");
    std::fs::write(
        &vk_json,
        serde_json::to_vec_pretty(&opmeter_prover::snarkjs::verification_key_json(keys.vk()))?,
    )
    .with_context(|| format!("cannot write {}", vk_json.display()))?;
    Ok((manifest, profile_dir, vk_json))
}

/// `opmeter zk export-r1cs --profile NAME [--out FILE]`.
fn export_r1cs(name: &str, out: Option<PathBuf>, json: bool) -> anyhow::Result<ExitCode> {
    let profile = profile_named(name)?;
    let out = out.unwrap_or_else(|| PathBuf::from(format!("{}.r1cs", profile.name)));
    let bytes = opmeter_prover::ceremony::r1cs(profile).map_err(|e| prover_failure(&e))?;
    std::fs::write(&out, &bytes).with_context(|| format!("cannot write {}", out.display()))?;
    let constraints = opmeter_prover::constraint_count(profile).map_err(|e| prover_failure(&e))?;
    let blake3 = blake3::hash(&bytes).to_hex().to_string();
    if json {
        print_json(&json!({
            "profile": profile.name,
            "path": out,
            "bytes": bytes.len(),
            "constraints": constraints,
            "blake3": blake3,
        }))?;
    } else {
        println!("constraint system of profile {profile}");
        println!(
            "  file          {} ({} bytes)",
            out.display(),
            group(bytes.len() as u64)
        );
        println!("  constraints   {}", group(constraints as u64));
        println!("  blake3        {blake3}");
        println!(
            "next: snarkjs groth16 setup {} POT.ptau 0.zkey (a powers-of-tau file of at least {} constraints), contributions, a beacon; then opmeter zk import --profile {} --zkey final.zkey",
            out.display(),
            group(constraints as u64 + 15),
            profile.name
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `opmeter zk import --profile NAME --zkey FILE [--dir DIR] [--force]`.
fn import(
    name: &str,
    zkey: &Path,
    dir: PathBuf,
    force: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let profile = profile_to_write(name, &dir, force)?;
    let bytes = std::fs::read(zkey).map_err(|source| {
        prover_failure(&ProverError::Io {
            path: zkey.display().to_string(),
            source,
        })
    })?;
    let keys = opmeter_prover::ceremony::import_zkey(profile, &bytes, &zkey.display().to_string())
        .map_err(|e| prover_failure(&e))?;
    let (manifest, profile_dir, vk_json) = write_keys(&keys, &dir)?;
    if json {
        print_json(&json!({
            "dir": profile_dir,
            "manifest": manifest,
            "verificationKeyJson": vk_json,
        }))?;
    } else {
        println!("ceremony keys for profile {profile}");
        println!("  dir         {}", profile_dir.display());
        println!(
            "  vk.bin      {} bytes, blake3 {}",
            group(manifest.vk_bytes),
            manifest.vk_blake3
        );
        println!("  snarkjs     {}", vk_json.display());
        println!("  origin      ceremony: sound unless every contributor kept their randomness");
        println!(
            "next: restart the node (it serves the profiles it finds under its data dir's zk/)"
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn origin_text(origin: KeyOrigin) -> &'static str {
    match origin {
        KeyOrigin::Development => {
            "development (whoever ran the setup could forge proofs: convincing only to them)"
        }
        KeyOrigin::Ceremony => "ceremony (sound unless every contributor colluded)",
    }
}

/// `opmeter zk verify FILE [--keys DIR] [--wasm FILE]`: exit 0 valid, 1 invalid.
fn verify(file: &Path, keys: &Path, wasm: Option<&Path>, json: bool) -> anyhow::Result<ExitCode> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let invalid = |error: ProverError| -> anyhow::Result<ExitCode> {
        let code = RpcCode::Prover(error.code());
        if json {
            print_json(&json!({
                "valid": false,
                "reason": { "code": code.code(), "name": code.name(), "message": error.to_string() },
            }))?;
        } else {
            println!("INVALID: {error} (code {}, {})", code.code(), code.name());
        }
        Ok(ExitCode::from(1))
    };
    let view: ProofView = match serde_json::from_str(&text) {
        Ok(view) => view,
        Err(e) => {
            return invalid(ProverError::MalformedProof(format!(
                "{} is not a proof file: {e}",
                file.display()
            )))
        }
    };
    let (statement, proof) = match view.statement() {
        Ok(pair) => pair,
        Err(e @ ProverError::MalformedProof(_)) => return invalid(e),
        Err(e) => return Err(prover_failure(&e)),
    };
    let manifest = Keys::manifest(keys, &statement.profile).map_err(|e| prover_failure(&e))?;
    let vk = Keys::read_vk(keys, &statement.profile).map_err(|e| prover_failure(&e))?;
    if let Some(theirs) = &view.vk_blake3 {
        if *theirs != manifest.vk_blake3 && !json {
            eprintln!(
                "note: the prover used another verifying key (blake3 {theirs}); verifying with yours ({})",
                manifest.vk_blake3
            );
        }
    }
    if let Err(e) = opmeter_prover::verify(&vk, &statement, &proof) {
        return invalid(e);
    }
    let mut code_note =
        "not checked: pass --wasm FILE to re-derive the code commitment".to_string();
    if let Some(path) = wasm {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let bytes = opmeter_vm::wasm_from_text_or_binary(&bytes)
            .map_err(|e| anyhow!("{} is neither wasm nor WAT: {e}", path.display()))?;
        let code_hash = opmeter_vm::CodeHash::of(&bytes);
        if let Some(claimed) = view.code_hash {
            if claimed.0 != code_hash.0 {
                eprintln!(
                    "the proof is about code {claimed}, {} is {}",
                    path.display(),
                    code_hash.to_hex()
                );
                return invalid(ProverError::InvalidProof);
            }
        }
        // The program is compiled under the statement's schedule (its gas costs are part of
        // the code commitment); a schedule this binary does not know cannot be re-derived.
        let Some(schedule) = opmeter_vm::Schedule::by_hash(&statement.schedule_hash) else {
            if !json {
                eprintln!(
                    "the statement's schedule {} is none this binary knows (versions {:?})",
                    hex::encode(statement.schedule_hash),
                    opmeter_vm::Schedule::VERSIONS
                );
            }
            return invalid(ProverError::InvalidProof);
        };
        let program = ProvableProgram::compile(&bytes, &schedule, &statement.method)
            .map_err(|e| prover_failure(&e))?;
        if program.code_commitment(&statement.profile) != statement.code_commitment {
            if !json {
                eprintln!(
                    "the code commitment is not the one compiled from {} for `{}`",
                    path.display(),
                    statement.method
                );
            }
            return invalid(ProverError::InvalidProof);
        }
        code_note = format!(
            "re-derived from {} (code hash {}): matches",
            path.display(),
            code_hash.to_hex()
        );
    }
    if json {
        print_json(&json!({
            "valid": true,
            "profile": statement.profile.name,
            "keyOrigin": origin_name(manifest.origin),
            "codeChecked": wasm.is_some(),
            "method": statement.method,
            "args": view.args,
            "output": view.output,
            "gasUsed": view.gas_used,
        }))?;
    } else {
        let args: Vec<String> = statement.args.iter().map(u64::to_string).collect();
        println!("VALID: the proof verifies");
        println!(
            "  statement   {}({}) returned {} using {} gas",
            statement.method,
            args.join(", "),
            statement.output,
            group(statement.gas_used)
        );
        if let Some(code_hash) = view.code_hash {
            println!("  code hash   {code_hash}");
        }
        println!("  schedule    0x{}", hex::encode(statement.schedule_hash));
        println!("  profile     {}", statement.profile);
        println!("  keys        {}", origin_text(manifest.origin));
        println!("  code        {code_note}");
    }
    Ok(ExitCode::SUCCESS)
}

/// How `opmeter prove` shows a job's progress: a bar on a terminal, lines otherwise, nothing
/// with `--json`.
enum Display {
    Bar(ProgressBar),
    Lines { last: String },
    Quiet,
}

impl Display {
    fn new(json: bool) -> Display {
        if json {
            Display::Quiet
        } else if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(1_000);
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg:<34} [{bar:30}] {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(100));
            Display::Bar(bar)
        } else {
            Display::Lines {
                last: String::new(),
            }
        }
    }

    fn show(&mut self, job: &ProofJobView) {
        let message = match job.state.as_str() {
            "queued" => format!("queued (position {})", job.queue_position.unwrap_or(0)),
            "proving" => format!(
                "proving in {} ({} of {} steps)",
                job.profile,
                job.steps.unwrap_or(0),
                job.step_bound
            ),
            other => other.to_string(),
        };
        match self {
            Display::Bar(bar) => {
                let fraction = match job.state.as_str() {
                    "done" | "failed" => 1.0,
                    "proving" => {
                        let spent = job.proving_ms.unwrap_or(0) as f64;
                        (0.05 + 0.9 * spent / job.expected_proving_ms.max(1) as f64).min(0.95)
                    }
                    "executing" => 0.05,
                    _ => 0.0,
                };
                bar.set_message(message);
                bar.set_position((fraction * 1_000.0) as u64);
            }
            Display::Lines { last } => {
                if *last != message {
                    let expected = if job.state == "proving" {
                        format!(", expected ~{:.1} s", job.expected_proving_ms as f64 / 1e3)
                    } else {
                        String::new()
                    };
                    eprintln!("job {}: {message}{expected}", job.id);
                    *last = message;
                }
            }
            Display::Quiet => {}
        }
    }

    fn finish(self) {
        if let Display::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// `opmeter prove ADDRESS METHOD [ARGS…] [--profile P] [--height H] [--out FILE]`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn prove(
    opts: &ClientOpts,
    client: &HttpClient,
    contract: &str,
    method: String,
    args: Vec<u64>,
    profile: Option<String>,
    height: Option<u64>,
    out: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let contract = crate::keys::resolve_target(opts, contract)?;
    let out = out.unwrap_or_else(|| PathBuf::from(format!("{method}.proof.json")));
    let request = ProveArgs {
        contract,
        method,
        args: args.into_iter().map(DecU64).collect(),
        profile,
        height,
    };
    let mut job = client
        .proof_prove(request)
        .await
        .map_err(|e| explain(e.into(), opts))?;
    let mut display = Display::new(opts.json);
    loop {
        display.show(&job);
        if job.state == "done" || job.state == "failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        job = client
            .proof_job(job.id)
            .await
            .map_err(|e| explain(e.into(), opts))?
            .ok_or_else(|| anyhow!("the node forgot job {} (restarted?)", job.id))?;
    }
    display.finish();
    if let Some(error) = &job.error {
        bail!(
            "job {} failed: {} (code {}, {})",
            job.id,
            error.message,
            error.code,
            error.name
        );
    }
    let proof = job
        .proof
        .as_ref()
        .ok_or_else(|| anyhow!("job {} is done but has no proof", job.id))?;
    std::fs::write(&out, serde_json::to_vec_pretty(proof)?)
        .with_context(|| format!("cannot write {}", out.display()))?;
    if opts.json {
        print_json(&json!({ "job": job.id, "file": out, "proof": proof }))?;
    } else {
        let args: Vec<String> = proof.args.iter().map(ToString::to_string).collect();
        println!("proof written to {}", out.display());
        println!(
            "  statement   {}({}) returned {} using {} gas",
            proof.method,
            args.join(", "),
            proof.output,
            group(proof.gas_used)
        );
        if let (Some(code_hash), Some(height)) = (&proof.code_hash, proof.height) {
            println!("  code        {code_hash} (read at #{height})");
        }
        println!(
            "  profile     {} (proving took {:.2} s)",
            proof.profile,
            job.proving_ms.unwrap_or(0) as f64 / 1e3
        );
        if let Some(origin) = &proof.key_origin {
            let note = if origin == "development" {
                ": whoever ran the setup could forge proofs"
            } else {
                ""
            };
            println!("  keys        {origin}{note}");
        }
        println!("next: opmeter zk verify {} --wasm FILE", out.display());
    }
    Ok(ExitCode::SUCCESS)
}
