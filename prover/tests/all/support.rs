//! Builds the `provable` example contract once per test binary with `opmeter-sdk-build`, exactly
//! as `opmeter build` does, without linking the node: the prover depends on the vm only.

use std::path::PathBuf;
use std::sync::OnceLock;

/// The `provable` example contract's wasm.
pub(crate) fn example_wasm() -> &'static [u8] {
    static WASM: OnceLock<Vec<u8>> = OnceLock::new();
    WASM.get_or_init(|| {
        let contracts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../contracts");
        opmeter_sdk_build::build_contracts(&contracts)
            .unwrap_or_else(|e| panic!("building the example contracts failed: {e}"))
            .into_iter()
            .find(|built| built.package == "provable")
            .expect("contracts/provable is built")
            .wasm
    })
}
