//! Builds contract crates for `wasm32v1-none` with the flags Opmeter needs: what `opmeter build`
//! runs, and how the test harness builds the example contracts (one definition, so tests meter
//! exactly the bytes users deploy).
//!
//! ```no_run
//! let built = opmeter_sdk_build::build_contracts(std::path::Path::new("contracts")).unwrap();
//! for contract in &built {
//!     println!("{} {} bytes", contract.package, contract.size_bytes);
//! }
//! ```
//!
//! The flags are passed on the command line, so a contract crate needs no special profile:
//! opt-level 3, LTO, one codegen unit, `panic = "abort"` and a 64 KiB shadow stack
//! (`-zstack-size=65536`, so memory starts at 2 pages instead of 17). Size-optimised builds
//! cost up to 67 % more gas, so they are not offered.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use opmeter_vm::CodeHash;

/// The only target whose output the instrumenter (parity-wasm) can parse.
pub const CONTRACT_TARGET: &str = "wasm32v1-none";

/// One built contract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuiltContract {
    /// The crate (package) name.
    pub package: String,
    /// Path of the `.wasm` file.
    pub wasm_path: PathBuf,
    /// Its size in bytes.
    pub size_bytes: u64,
    /// `blake3` of its bytes.
    pub code_hash: CodeHash,
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// No `Cargo.toml` at the given path.
    #[error("no Cargo.toml in {0} (pass the directory of a contract crate)")]
    NoManifest(PathBuf),
    /// `cargo` could not be started.
    #[error("cannot run cargo: {0}")]
    Spawn(#[source] std::io::Error),
    /// `cargo build` failed; its diagnostics were printed to stderr.
    #[error("cargo build failed (see the compiler output above); is the target installed? run `rustup target add {CONTRACT_TARGET}`")]
    Failed,
    /// The build produced no `.wasm` file.
    #[error("the build produced no .wasm file: is the crate a `cdylib`? add `[lib] crate-type = [\"cdylib\", \"rlib\"]`")]
    NoArtifact,
    /// A built file could not be read.
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, #[source] std::io::Error),
}

/// Where contract builds go: `$CARGO_TARGET_DIR/opmeter-contracts` when set (a separate
/// directory, so a build started from inside `cargo test` never waits on the outer lock),
/// else `target/` beside the manifest.
pub fn contracts_target_dir(manifest_dir: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("opmeter-contracts"),
        _ => manifest_dir.join("target"),
    }
}

/// Builds the crate (or every member of the workspace) at `dir`.
///
/// # Errors
/// [`BuildError`] when the manifest is missing, cargo fails or produces nothing.
pub fn build_contracts(dir: &Path) -> Result<Vec<BuiltContract>, BuildError> {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(BuildError::NoManifest(dir.to_path_buf()));
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .arg("build")
        .arg("--release")
        .arg("--target")
        .arg(CONTRACT_TARGET)
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(contracts_target_dir(dir))
        .arg("--message-format=json-render-diagnostics")
        .args(["--config", "profile.release.opt-level=3"])
        .args(["--config", "profile.release.lto=true"])
        .args(["--config", "profile.release.codegen-units=1"])
        .args(["--config", "profile.release.panic=\"abort\""])
        .args(["--config", "profile.release.debug=false"])
        .env("CARGO_ENCODED_RUSTFLAGS", "-Clink-arg=-zstack-size=65536")
        .env_remove("RUSTFLAGS")
        .stderr(Stdio::inherit())
        .output()
        .map_err(BuildError::Spawn)?;
    if !output.status.success() {
        return Err(BuildError::Failed);
    }
    let mut built = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        let package = message["target"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        for file in message["filenames"].as_array().into_iter().flatten() {
            let Some(path) = file.as_str().filter(|p| p.ends_with(".wasm")) else {
                continue;
            };
            let wasm_path = PathBuf::from(path);
            let bytes =
                std::fs::read(&wasm_path).map_err(|e| BuildError::Read(wasm_path.clone(), e))?;
            built.push(BuiltContract {
                package: package.clone(),
                wasm_path,
                size_bytes: bytes.len() as u64,
                code_hash: CodeHash::of(&bytes),
            });
        }
    }
    if built.is_empty() {
        return Err(BuildError::NoArtifact);
    }
    built.sort_by(|a, b| a.package.cmp(&b.package));
    Ok(built)
}
