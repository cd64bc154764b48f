//! The dependency rule, checked on the real dependency graph (`cargo tree`): the ledger links no
//! database, async runtime, HTTP stack, JSON-RPC server or schema generator, and the vm not even
//! JSON, so a client or verifier that links them builds none of it.

use std::collections::BTreeSet;
use std::process::Command;

/// The crates `package` depends on (normal and build dependencies, default features), by name.
fn dependencies(package: &str) -> BTreeSet<String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["tree", "--offline", "--locked", "-p", package])
        .args([
            "--edges",
            "normal,build",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect();
    assert!(
        names.contains(package),
        "{package} is in its own tree: {names:?}"
    );
    names
}

fn assert_none_of(package: &str, forbidden: &[&str]) {
    let names = dependencies(package);
    let found: Vec<&&str> = forbidden.iter().filter(|f| names.contains(**f)).collect();
    assert!(found.is_empty(), "{package} depends on {found:?}");
}

#[test]
fn the_ledger_links_no_database_runtime_server_or_schema_machinery() {
    assert_none_of(
        "opmeter-ledger",
        &[
            "tokio",
            "jsonrpsee",
            "hyper",
            "tower",
            "schemars",
            "rocksdb",
            "librocksdb-sys",
            "opmeter-rpc",
            "opmeter-node",
        ],
    );
}

#[test]
fn the_vm_links_no_database_runtime_json_or_ledger() {
    assert_none_of(
        "opmeter-vm",
        &[
            "tokio",
            "jsonrpsee",
            "hyper",
            "rocksdb",
            "librocksdb-sys",
            "serde_json",
            "opmeter-ledger",
            "opmeter-rpc",
            "opmeter-node",
        ],
    );
}

#[test]
fn the_checker_sees_what_the_rpc_crate_links() {
    // The same query finds the forbidden crates where they are: the check can fail.
    let names = dependencies("opmeter-rpc");
    for expected in ["tokio", "jsonrpsee", "schemars", "opmeter-ledger"] {
        assert!(
            names.contains(expected),
            "{expected} missing from {names:?}"
        );
    }
}
