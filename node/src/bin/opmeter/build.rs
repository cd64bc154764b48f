//! `opmeter build` (a contract crate for wasm32v1-none, through `opmeter-sdk-build`) and
//! `opmeter new` (a contract crate from the template).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use opmeter_sdk_build::build_contracts;

use crate::render::print_json;
use crate::scaffold::{default_sdk_path, scaffold};

/// `opmeter build [PATH]`: every `.wasm` built, with its size and code hash.
pub(crate) fn build(path: Option<PathBuf>, json: bool) -> anyhow::Result<ExitCode> {
    let dir = path.unwrap_or_else(|| PathBuf::from("."));
    let built = build_contracts(&dir)?;
    if json {
        let out: Vec<_> = built
            .iter()
            .map(|b| {
                serde_json::json!({
                    "package": b.package,
                    "path": b.wasm_path.display().to_string(),
                    "sizeBytes": b.size_bytes,
                    "codeHash": b.code_hash.to_hex(),
                })
            })
            .collect();
        print_json(&out)?;
    } else {
        for b in &built {
            println!(
                "{}  {} bytes  {}",
                b.wasm_path.display(),
                b.size_bytes,
                b.code_hash.to_hex()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `opmeter new NAME [--dir DIR] [--sdk PATH]`.
pub(crate) fn new(
    name: &str,
    dir: &Path,
    sdk: Option<PathBuf>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let sdk = sdk.unwrap_or_else(default_sdk_path);
    let path = scaffold(dir, name, &sdk)?;
    if json {
        println!("{}", serde_json::json!({ "path": path }));
    } else {
        println!("created {}", path.display());
        println!("next: cd {} && opmeter build", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
