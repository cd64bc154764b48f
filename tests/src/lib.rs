//! The end-to-end harness: builds every example contract from source (once per process) and
//! runs them through the real vm against an in-memory state.
//!
//! ```no_run
//! use opmeter_tests::{contract, Chain, ALICE};
//! let mut chain = Chain::new();
//! let counter = chain.deploy(ALICE, "counter", Some(r#"{"start": 1}"#));
//! let out = chain.send(ALICE, counter, "increment", "{}", 10_000_000);
//! assert_eq!(out.output, b"2");
//! # let _ = contract("counter");
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

pub use opmeter_sdk_build::{BuiltContract, FunctionNames};
use opmeter_vm::{
    Address, BlockContext, CallRequest, DeployRequest, MemoryState, Outcome, Schedule, Status, Vm,
    U256,
};

/// A funded test account.
pub const ALICE: Address = Address([0xA1; 32]);
/// A second test account.
pub const BOB: Address = Address([0xB0; 32]);
/// A third test account.
pub const CAROL: Address = Address([0xCA; 32]);

/// The contracts workspace in this repository.
pub fn contracts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("contracts")
}

/// Every example contract, built from source for `wasm32v1-none` exactly as `opmeter build`
/// builds it (optimised, no custom sections): package name → (what the build reported, wasm
/// bytes).
///
/// # Panics
/// When the build fails (the compiler output is on stderr).
pub fn built_contracts() -> &'static BTreeMap<String, (BuiltContract, Vec<u8>)> {
    static BUILT: OnceLock<BTreeMap<String, (BuiltContract, Vec<u8>)>> = OnceLock::new();
    BUILT.get_or_init(|| {
        let built = opmeter_sdk_build::build_contracts(&contracts_dir())
            .unwrap_or_else(|e| panic!("building the example contracts failed: {e}"));
        built
            .into_iter()
            .map(|b| (b.package.clone(), (b.clone(), b.wasm)))
            .collect()
    })
}

/// Every example contract: package name → wasm bytes (see [`built_contracts`]).
///
/// # Panics
/// When the build fails (the compiler output is on stderr).
pub fn contracts() -> &'static BTreeMap<String, Vec<u8>> {
    static BYTES: OnceLock<BTreeMap<String, Vec<u8>>> = OnceLock::new();
    BYTES.get_or_init(|| {
        built_contracts()
            .iter()
            .map(|(name, (_, bytes))| (name.clone(), bytes.clone()))
            .collect()
    })
}

/// The function names `opmeter build` wrote beside a built contract (`NAME.names.json`).
///
/// # Panics
/// When there is no such contract or its names file does not read.
pub fn function_names(name: &str) -> FunctionNames {
    let (built, _) = built_contracts()
        .get(name)
        .unwrap_or_else(|| panic!("no contract `{name}` in contracts/"));
    let text = std::fs::read_to_string(&built.names_path)
        .unwrap_or_else(|e| panic!("{}: {e}", built.names_path.display()));
    FunctionNames::from_json(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// One built contract by package name.
///
/// # Panics
/// When there is no such contract.
pub fn contract(name: &str) -> &'static [u8] {
    contracts()
        .get(name)
        .unwrap_or_else(|| panic!("no contract `{name}` in contracts/"))
        .as_slice()
}

/// A vm and an in-memory state that successful calls are committed to.
pub struct Chain {
    /// The vm.
    pub vm: Vm,
    /// Committed state.
    pub state: MemoryState,
    /// The block every call runs in.
    pub block: BlockContext,
}

impl Default for Chain {
    fn default() -> Self {
        Chain::new()
    }
}

impl Chain {
    /// A chain with schedule v1 where the test accounts hold 1,000,000 each.
    pub fn new() -> Chain {
        Chain::with_vm(Vm::new(Schedule::v1()))
    }

    /// A chain on a given vm.
    pub fn with_vm(vm: Vm) -> Chain {
        let mut state = MemoryState::default();
        for account in [ALICE, BOB, CAROL] {
            state.balances.insert(account, U256::from(1_000_000u64));
        }
        Chain {
            vm,
            state,
            block: BlockContext {
                height: 7,
                timestamp_ms: 1_763_683_200_000,
            },
        }
    }

    /// Deploys a built contract (running `init` with `init` JSON when given) and returns its address.
    ///
    /// # Panics
    /// When the code is rejected or the deployment does not succeed.
    pub fn deploy(&mut self, deployer: Address, name: &str, init: Option<&str>) -> Address {
        let (address, outcome) =
            self.deploy_outcome(deployer, name, init.unwrap_or("{}"), 100_000_000);
        assert_eq!(
            outcome.status,
            Status::Success,
            "deploying {name}: {outcome:#?}"
        );
        address
    }

    /// Deploys and returns the outcome (committing it when successful).
    ///
    /// # Panics
    /// When the code is rejected by validation.
    pub fn deploy_outcome(
        &mut self,
        deployer: Address,
        name: &str,
        init: &str,
        gas_limit: u64,
    ) -> (Address, Outcome) {
        let prepared = self
            .vm
            .prepare(contract(name))
            .unwrap_or_else(|r| panic!("{name} rejected: {r}"));
        let request = DeployRequest {
            deployer,
            code: prepared.clone(),
            salt: name.as_bytes().to_vec(),
            init_input: init.as_bytes().to_vec(),
            value: U256::zero(),
            gas_limit,
        };
        let (address, outcome) = self
            .vm
            .deploy(Arc::new(self.state.clone()), self.block, request)
            .expect("no node fault");
        if outcome.status == Status::Success {
            self.state
                .codes
                .insert(prepared.code_hash, prepared.original.clone());
            self.state.apply(&outcome.writes);
        }
        self.join_warm_set(&outcome);
        (address, outcome)
    }

    /// What a block does after an execution under a schedule with code loading (v2): the codes
    /// it paid cold and a deployed code join the warm set (`opmeter_ledger` does the same).
    fn join_warm_set(&mut self, outcome: &Outcome) {
        let Some(costs) = self.vm.schedule().code_loading else {
            return;
        };
        let mut update = opmeter_vm::warm_set::Update::new(&self.state);
        for code_hash in &outcome.code_paid {
            let len_bytes = self.state.codes[code_hash].len() as u32;
            update
                .insert(*code_hash, len_bytes, &costs)
                .expect("in-memory state");
        }
        let writes = update.into_writes();
        for (key, value) in writes {
            let slot = (opmeter_vm::warm_set::ADDRESS, key);
            match value {
                Some(value) => self.state.storage.insert(slot, value),
                None => self.state.storage.remove(&slot),
            };
        }
    }

    /// Runs a call without committing it.
    ///
    /// # Panics
    /// On a node fault, or when the breakdown does not sum to the gas used.
    pub fn query(
        &self,
        caller: Address,
        contract: Address,
        method: &str,
        args: &str,
        gas_limit: u64,
    ) -> Outcome {
        let call = CallRequest {
            caller,
            contract,
            method: method.into(),
            input: args.as_bytes().to_vec(),
            value: U256::zero(),
            gas_limit,
        };
        let outcome = self
            .vm
            .execute(Arc::new(self.state.clone()), self.block, call)
            .expect("no node fault");
        assert_eq!(
            outcome.breakdown_total(),
            outcome.gas_used,
            "breakdown must sum to gas used"
        );
        assert!(outcome.gas_used <= gas_limit);
        outcome
    }

    /// Runs a call and commits its writes when it succeeds.
    pub fn send(
        &mut self,
        caller: Address,
        contract: Address,
        method: &str,
        args: &str,
        gas_limit: u64,
    ) -> Outcome {
        let outcome = self.query(caller, contract, method, args, gas_limit);
        if outcome.status == Status::Success {
            self.state.apply(&outcome.writes);
        }
        self.join_warm_set(&outcome);
        outcome
    }
}

/// The output of a successful call parsed as JSON.
///
/// # Panics
/// When the call did not succeed or its output is not JSON.
pub fn json(outcome: &Outcome) -> serde_json::Value {
    assert_eq!(outcome.status, Status::Success, "{outcome:#?}");
    serde_json::from_slice(&outcome.output).unwrap_or_else(|e| {
        panic!(
            "output is not JSON ({e}): {:?}",
            String::from_utf8_lossy(&outcome.output)
        )
    })
}
