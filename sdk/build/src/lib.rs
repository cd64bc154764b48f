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
//! **The same bytes from every checkout.** Source paths are remapped to fixed names, and a
//! contract inside the Opmeter checkout is built through one fixed alias of the checkout
//! (`<temp dir>/opmeter-checkout`, held under a lock while cargo runs): cargo hashes the sdk, a
//! path dependency outside the contracts' workspace, by its absolute path into symbol names, which
//! changed the linked function order (and so code hashes and state roots) between clones.
//!
//! The flags are passed on the command line, so a contract crate needs no special profile:
//! opt-level 3, LTO, one codegen unit, `panic = "abort"` and a 64 KiB shadow stack
//! (`-zstack-size=65536`, so memory starts at 2 pages instead of 17). Size-optimised rustc builds
//! cost up to 67 % more gas, so they are not offered.
//!
//! Then each module goes through binaryen's `wasm-opt` ([`WASM_OPT_FLAGS`]: its optimiser,
//! restricted to the features the vm accepts) and loses its custom sections: the deployed
//! `NAME.wasm` carries no `name` section (code bytes are billed), and the function names go
//! beside it into `NAME.names.json` ([`FunctionNames`]) for gas traces.
//!
//! ```text
//! cargo build ─▶ deps/NAME.wasm ─▶ wasm-opt ─▶ names out ─▶ NAME.wasm (no custom sections)
//!                                                   └─────▶ NAME.names.json
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use opmeter_vm::CodeHash;

/// The `wasm-opt` flags: binaryen's `-O3` (speed before size: size-optimising passes that
/// cost gas are not used), within the feature set the vm validates (MVP + mutable globals: no
/// sign extension, bulk memory, reference types or multi-value), keeping the function names
/// (`-g`) so they can be written beside the code.
pub const WASM_OPT_FLAGS: &[&str] = &["-O3", "--mvp-features", "--enable-mutable-globals", "-g"];

/// The `wasm-opt` program: `$OPMETER_WASM_OPT` when set, else `wasm-opt` on the `PATH`
/// (Debian's `binaryen` package; `scripts/setup.sh` installs it).
pub fn wasm_opt_program() -> PathBuf {
    match std::env::var_os("OPMETER_WASM_OPT") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => PathBuf::from("wasm-opt"),
    }
}

/// The only target whose output the instrumenter (parity-wasm) can parse.
pub const CONTRACT_TARGET: &str = "wasm32v1-none";

/// One built contract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuiltContract {
    /// The crate (package) name.
    pub package: String,
    /// Path of the `.wasm` file to deploy: optimised, without custom sections.
    pub wasm_path: PathBuf,
    /// Its size in bytes.
    pub size_bytes: u64,
    /// `blake3` of its bytes.
    pub code_hash: CodeHash,
    /// Path of its function names, `NAME.names.json` beside it ([`FunctionNames`]).
    pub names_path: PathBuf,
    /// Size of the compiler's output (before `wasm-opt` and stripping), for comparison.
    pub compiled_size_bytes: u64,
    /// The bytes written to `wasm_path`, as this build produced them (a later build of the
    /// same target dir by another process may briefly put cargo's unstripped output there).
    pub wasm: Vec<u8>,
}

/// The function names of a deployed module, kept beside it instead of in its `name` section
/// (`NAME.names.json`): `{"codeHash": "0x…", "functions": {"12": "counter::Counter::get", …}}`,
/// indices in the module's function index space (imports first), as the `name` section numbers
/// them. A tracer given these names shows them; without them functions appear as `func[N]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FunctionNames {
    /// The code the names belong to.
    pub code_hash: CodeHash,
    /// Function index → name.
    pub functions: BTreeMap<u32, String>,
}

impl FunctionNames {
    /// The `name` section's function names of `wasm` (empty when it has none).
    pub fn of_module(wasm: &[u8]) -> FunctionNames {
        let mut functions = BTreeMap::new();
        for payload in wasmparser::Parser::new(0).parse_all(wasm).flatten() {
            let wasmparser::Payload::CustomSection(reader) = payload else {
                continue;
            };
            let wasmparser::KnownCustom::Name(names) = reader.as_known() else {
                continue;
            };
            for name in names.into_iter().flatten() {
                if let wasmparser::Name::Function(map) = name {
                    functions.extend(
                        map.into_iter()
                            .flatten()
                            .map(|n| (n.index, n.name.to_owned())),
                    );
                }
            }
        }
        FunctionNames {
            code_hash: CodeHash::of(wasm),
            functions,
        }
    }

    /// The JSON text of `NAME.names.json`.
    pub fn to_json(&self) -> String {
        let functions: serde_json::Map<String, serde_json::Value> = self
            .functions
            .iter()
            .map(|(index, name)| (index.to_string(), serde_json::Value::from(name.as_str())))
            .collect();
        let value = serde_json::json!({
            "codeHash": self.code_hash.to_hex(),
            "functions": functions,
        });
        serde_json::to_string_pretty(&value).unwrap_or_default()
    }

    /// Reads the JSON text of `NAME.names.json`.
    ///
    /// # Errors
    /// [`BuildError::Names`] when it is not such a file.
    pub fn from_json(text: &str) -> Result<FunctionNames, BuildError> {
        let bad = |why: &str| BuildError::Names(why.to_string());
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| bad(&e.to_string()))?;
        let code_hash = value["codeHash"]
            .as_str()
            .and_then(|hex| CodeHash::from_hex(hex).ok())
            .ok_or_else(|| bad("codeHash is not a 0x-prefixed 32-byte hex string"))?;
        let mut functions = BTreeMap::new();
        for (index, name) in value["functions"]
            .as_object()
            .ok_or_else(|| bad("functions is not an object"))?
        {
            let index = index
                .parse()
                .map_err(|_| bad("a function index is not a number"))?;
            let name = name
                .as_str()
                .ok_or_else(|| bad("a function name is not a string"))?;
            functions.insert(index, name.to_string());
        }
        Ok(FunctionNames {
            code_hash,
            functions,
        })
    }
}

/// `wasm` without its custom sections (`name`, `producers`, `target_features`, …): what is
/// deployed. Other sections are copied byte for byte.
///
/// # Errors
/// [`BuildError::Malformed`] when the section headers do not parse.
pub fn strip_custom_sections(wasm: &[u8]) -> Result<Vec<u8>, BuildError> {
    let malformed = || BuildError::Malformed("section headers do not parse".into());
    let header = wasm.get(..8).ok_or_else(malformed)?;
    let mut out = header.to_vec();
    let mut at = 8;
    while at < wasm.len() {
        let id = wasm[at];
        let (size, size_len) =
            read_leb_u32(wasm.get(at + 1..).ok_or_else(malformed)?).ok_or_else(malformed)?;
        let end = (at + 1 + size_len)
            .checked_add(size as usize)
            .filter(|&end| end <= wasm.len())
            .ok_or_else(malformed)?;
        if id != 0 {
            out.extend_from_slice(&wasm[at..end]);
        }
        at = end;
    }
    Ok(out)
}

/// An unsigned LEB128 `u32` and its length in bytes.
fn read_leb_u32(bytes: &[u8]) -> Option<(u32, usize)> {
    let mut value: u32 = 0;
    for (i, &byte) in bytes.iter().enumerate().take(5) {
        value |= u32::from(byte & 0x7f).checked_shl(7 * i as u32)?;
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// Optimises the compiler's output (`wasm-opt`), then splits it into the deployed module (no
/// custom sections) and its function names.
///
/// # Errors
/// [`BuildError::WasmOpt`] when `wasm-opt` cannot run or fails.
pub fn optimize(compiled: &[u8]) -> Result<(Vec<u8>, FunctionNames), BuildError> {
    let dir = tempfile_dir()?;
    let input = dir.join("in.wasm");
    let output = dir.join("out.wasm");
    let io = |e: std::io::Error| BuildError::WasmOpt(e.to_string());
    std::fs::write(&input, compiled).map_err(io)?;
    let program = wasm_opt_program();
    let status = Command::new(&program)
        .args(WASM_OPT_FLAGS)
        .arg(&input)
        .arg("-o")
        .arg(&output)
        .stderr(Stdio::inherit())
        .status()
        .map_err(|e| {
            BuildError::WasmOpt(format!(
                "cannot run {} ({e}): install binaryen (scripts/setup.sh) or set OPMETER_WASM_OPT",
                program.display()
            ))
        })?;
    if !status.success() {
        return Err(BuildError::WasmOpt(format!(
            "{} failed ({status})",
            program.display()
        )));
    }
    let optimized = std::fs::read(&output).map_err(io)?;
    let _ = std::fs::remove_dir_all(&dir);
    let deployed = strip_custom_sections(&optimized)?;
    let mut names = FunctionNames::of_module(&optimized);
    names.code_hash = CodeHash::of(&deployed);
    Ok((deployed, names))
}

/// A fresh scratch directory for one `wasm-opt` run.
fn tempfile_dir() -> Result<PathBuf, BuildError> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "opmeter-wasm-opt-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).map_err(|e| BuildError::WasmOpt(e.to_string()))?;
    Ok(dir)
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
    /// An output file could not be written.
    #[error("cannot write {0}: {1}")]
    Write(PathBuf, #[source] std::io::Error),
    /// `wasm-opt` could not run or failed.
    #[error("wasm-opt: {0}")]
    WasmOpt(String),
    /// The compiler's output is not a well-formed module.
    #[error("malformed module: {0}")]
    Malformed(String),
    /// A names file is not one.
    #[error("not a names file: {0}")]
    Names(String),
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

/// Turns cargo's artifact into the deployed module and its names, written beside it.
///
/// Cargo's own copy under `deps/` is the input (the file at `wasm_path` is a hard link to it
/// that is replaced, never written through), so running the build again starts from the
/// compiler's output, not from an already stripped module.
fn finish_artifact(package: String, wasm_path: PathBuf) -> Result<BuiltContract, BuildError> {
    let compiled_path = match (wasm_path.parent(), wasm_path.file_name()) {
        (Some(dir), Some(file)) if dir.join("deps").join(file).is_file() => {
            dir.join("deps").join(file)
        }
        _ => wasm_path.clone(),
    };
    let compiled =
        std::fs::read(&compiled_path).map_err(|e| BuildError::Read(compiled_path.clone(), e))?;
    let (deployed, names) = optimize(&compiled)?;
    let names_path = wasm_path.with_extension("names.json");
    replace_file(&wasm_path, &deployed)?;
    replace_file(&names_path, names.to_json().as_bytes())?;
    Ok(BuiltContract {
        package,
        wasm_path,
        size_bytes: deployed.len() as u64,
        code_hash: names.code_hash,
        names_path,
        compiled_size_bytes: compiled.len() as u64,
        wasm: deployed,
    })
}

/// Writes `bytes` to a new file that then replaces `path` (so a hard link at `path` is
/// replaced, not written through). The scratch name is private to this process, so builds
/// running side by side (test processes) never write into each other's file.
fn replace_file(path: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let temporary = path.with_extension(format!(
        "opmeter-tmp-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&temporary, bytes).map_err(|e| BuildError::Write(temporary.clone(), e))?;
    std::fs::rename(&temporary, path).map_err(|e| BuildError::Write(path.to_path_buf(), e))
}

/// The Opmeter checkout this crate was built from (where the sdk lives).
fn checkout() -> PathBuf {
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    checkout.canonicalize().unwrap_or(checkout)
}

/// One fixed path that stands for the Opmeter checkout while a contract inside it builds.
///
/// Cargo hashes a path dependency outside the building workspace (the sdk, for the workspace
/// under `contracts/`) by its absolute path into `-C metadata`, so symbol hashes, and with them
/// the order the linker lays functions out in, depend on where the checkout is: the same
/// contract built in two clones differed in bytes, code hash and state root (same size). Built
/// through this alias, every checkout presents the same paths to cargo and rustc.
fn checkout_alias() -> PathBuf {
    std::env::temp_dir().join("opmeter-checkout")
}

/// Points [`checkout_alias`] at `checkout` and returns the lock that keeps it there: builds from
/// other checkouts wait for it (a build from the same checkout already waits on its target
/// directory's lock, taken first).
fn hold_checkout_alias(checkout: &Path) -> Result<std::fs::File, BuildError> {
    let alias = checkout_alias();
    let lock_path = alias.with_extension("lock");
    let lock =
        std::fs::File::create(&lock_path).map_err(|e| BuildError::Write(lock_path.clone(), e))?;
    lock.lock().map_err(|e| BuildError::Write(lock_path, e))?;
    if std::fs::read_link(&alias).ok().as_deref() != Some(checkout) {
        let temporary = alias.with_extension(format!("{}.tmp", std::process::id()));
        let _ = std::fs::remove_file(&temporary);
        #[cfg(unix)]
        std::os::unix::fs::symlink(checkout, &temporary)
            .map_err(|e| BuildError::Write(temporary.clone(), e))?;
        std::fs::rename(&temporary, &alias).map_err(|e| BuildError::Write(alias.clone(), e))?;
    }
    Ok(lock)
}

/// The rustc flags of every contract build, joined as `CARGO_ENCODED_RUSTFLAGS` wants them.
///
/// Panic locations embed source paths, so without remapping the same contract built from two
/// checkouts differs in bytes, code hash and deploy gas. The Opmeter checkout (where the sdk
/// lives, seen through [`checkout_alias`] when the contract is inside it), the contract workspace
/// and cargo's home are mapped to fixed names; rustc applies the last matching prefix, so the
/// most specific comes last.
fn contract_rustflags(dir: &Path, checkout: &Path, inside_checkout: bool) -> String {
    let mut flags = vec!["-Clink-arg=-zstack-size=65536".to_string()];
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")));
    if let Some(cargo_home) = cargo_home {
        flags.push(format!(
            "--remap-path-prefix={}=/cargo",
            cargo_home.display()
        ));
    }
    flags.push(format!(
        "--remap-path-prefix={}=/opmeter",
        checkout.display()
    ));
    if !inside_checkout {
        let contracts = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        flags.push(format!(
            "--remap-path-prefix={}=/contract",
            contracts.display()
        ));
    }
    flags.join("\x1f")
}

/// Builds the crate (or every member of the workspace) at `dir`: cargo, then `wasm-opt` and
/// the split into `NAME.wasm` and `NAME.names.json` (see the crate docs).
///
/// # Errors
/// [`BuildError`] when the manifest is missing, cargo or `wasm-opt` fails or nothing is built.
pub fn build_contracts(dir: &Path) -> Result<Vec<BuiltContract>, BuildError> {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(BuildError::NoManifest(dir.to_path_buf()));
    }
    let target_dir = contracts_target_dir(dir);
    // Cargo re-links its unstripped output over `NAME.wasm` on every build, even a fresh one,
    // so builds of one target dir from several processes (test runners) take turns, each
    // finishing its post-processing before the next cargo starts.
    std::fs::create_dir_all(&target_dir).map_err(|e| BuildError::Write(target_dir.clone(), e))?;
    let lock_path = target_dir.join("opmeter-build.lock");
    let lock =
        std::fs::File::create(&lock_path).map_err(|e| BuildError::Write(lock_path.clone(), e))?;
    lock.lock().map_err(|e| BuildError::Write(lock_path, e))?;
    // A contract inside the Opmeter checkout is built through the checkout's fixed alias.
    let real_checkout = checkout();
    let inside = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.strip_prefix(&real_checkout).ok().map(Path::to_path_buf));
    let inside_checkout = inside.is_some();
    let (_alias_lock, manifest, checkout) = match inside {
        Some(relative) if cfg!(unix) => {
            let alias_lock = hold_checkout_alias(&real_checkout)?;
            let alias = checkout_alias();
            let manifest = alias.join(relative).join("Cargo.toml");
            (Some(alias_lock), manifest, alias)
        }
        _ => (None, manifest, real_checkout),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .arg("build")
        .arg("--release")
        .arg("--target")
        .arg(CONTRACT_TARGET)
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir)
        .arg("--message-format=json-render-diagnostics")
        .args(["--config", "profile.release.opt-level=3"])
        .args(["--config", "profile.release.lto=true"])
        .args(["--config", "profile.release.codegen-units=1"])
        .args(["--config", "profile.release.panic=\"abort\""])
        .args(["--config", "profile.release.debug=false"])
        .env(
            "CARGO_ENCODED_RUSTFLAGS",
            contract_rustflags(dir, &checkout, inside_checkout),
        )
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
            built.push(finish_artifact(package.clone(), wasm_path)?);
        }
    }
    if built.is_empty() {
        return Err(BuildError::NoArtifact);
    }
    built.sort_by(|a, b| a.package.cmp(&b.package));
    Ok(built)
}
