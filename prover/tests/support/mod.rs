//! Builds the `provable` example contract once per test binary, exactly as `opmeter build` does
//! (same flags), without linking the node: the prover depends on the vm only.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The `provable` example contract's wasm.
pub(crate) fn example_wasm() -> &'static [u8] {
    static WASM: OnceLock<Vec<u8>> = OnceLock::new();
    WASM.get_or_init(|| {
        let contracts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../contracts");
        let target = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("opmeter-contracts"),
            _ => contracts.join("target"),
        };
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "--release",
                "--target",
                "wasm32v1-none",
                "-p",
                "provable",
            ])
            .arg("--manifest-path")
            .arg(contracts.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target)
            .args(["--config", "profile.release.opt-level=3"])
            .args(["--config", "profile.release.lto=true"])
            .args(["--config", "profile.release.codegen-units=1"])
            .args(["--config", "profile.release.panic=\"abort\""])
            .args(["--config", "profile.release.debug=false"])
            .env("CARGO_ENCODED_RUSTFLAGS", "-Clink-arg=-zstack-size=65536")
            .env_remove("RUSTFLAGS")
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building contracts/provable failed");
        let path = target.join("wasm32v1-none/release/provable.wasm");
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    })
}
