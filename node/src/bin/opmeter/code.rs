//! Offline commands on contract code: `opmeter code validate` and `opmeter exec` (the vm alone,
//! against a fresh in-memory state).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context};
use opmeter_vm::{
    wasm_from_text_or_binary, Address, BlockContext, CallRequest, DeployRequest, MemoryState,
    Schedule, Status, Vm, U256,
};

use crate::render::{outcome_json, print_outcome, print_rejection};

/// Exit code when the code was rejected by validation.
pub(crate) const EXIT_REJECTED: u8 = 1;

/// What `opmeter exec` takes.
#[derive(clap::Args)]
pub(crate) struct ExecArgs {
    /// A `.wasm` or `.wat` file.
    file: PathBuf,
    /// The method (exported function) to call.
    #[arg(long)]
    method: String,
    /// Arguments as JSON (the sdk's convention: an object of named parameters).
    #[arg(long, default_value = "")]
    args: String,
    /// Run `init` with these JSON arguments first (as a deployment would).
    #[arg(long)]
    init: Option<String>,
    /// Gas limit of the call.
    #[arg(long, default_value_t = 100_000_000)]
    gas_limit: u64,
    /// The caller's address (hex); a fixed development address by default.
    #[arg(long)]
    caller: Option<String>,
    /// Value attached to the call (decimal); the caller is funded with it.
    #[arg(long, default_value = "0")]
    value: String,
    /// Block height seen by the contract.
    #[arg(long, default_value_t = 1)]
    height: u64,
    /// Block timestamp (ms since the epoch) seen by the contract.
    #[arg(long, default_value_t = 0)]
    timestamp_ms: u64,
    /// The gas schedule version to bill with (see `specs/gas.md`).
    #[arg(long, default_value_t = 1)]
    schedule: u32,
}

fn read_module(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    wasm_from_text_or_binary(&bytes)
        .map_err(|e| anyhow!("{} is neither wasm nor valid WAT: {e}", path.display()))
}

fn json_arg(what: &str, text: &str) -> anyhow::Result<()> {
    serde_json::from_str::<serde_json::Value>(text)
        .map(|_| ())
        .with_context(|| format!("{what} is not valid JSON"))
}

/// `opmeter code validate FILE`: the code hash, or every violation (exit 1).
pub(crate) fn validate(file: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let wasm = read_module(file)?;
    let vm = Vm::new(Schedule::v1());
    match vm.validate(&wasm) {
        Ok(code_hash) => {
            if json {
                let out =
                    serde_json::json!({"codeHash": code_hash.to_hex(), "sizeBytes": wasm.len()});
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!("{}", code_hash.to_hex());
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(report) => {
            print_rejection(&report, json);
            Ok(ExitCode::from(EXIT_REJECTED))
        }
    }
}

/// `opmeter exec FILE --method M`: validate, instrument and run one call (after `init` when
/// asked) against a fresh in-memory state.
pub(crate) fn exec(args: ExecArgs, json: bool) -> anyhow::Result<ExitCode> {
    let wasm = read_module(&args.file)?;
    let schedule = Schedule::by_version(args.schedule).with_context(|| {
        format!(
            "schedule {} is unknown (known: {:?})",
            args.schedule,
            Schedule::VERSIONS
        )
    })?;
    let vm = Vm::new(schedule);
    let prepared = match vm.prepare(&wasm) {
        Ok(prepared) => prepared,
        Err(report) => {
            print_rejection(&report, json);
            return Ok(ExitCode::from(EXIT_REJECTED));
        }
    };
    let caller = match &args.caller {
        Some(hex) => Address::from_hex(hex)
            .map_err(|e| anyhow!("--caller is not a 32-byte hex address: {e}"))?,
        None => Address::for_public_key(&[0u8; 32]),
    };
    let value = U256::from_dec_str(&args.value)
        .map_err(|e| anyhow!("--value is not a decimal integer: {e:?}"))?;
    if !args.args.is_empty() {
        json_arg("--args", &args.args)?;
    }
    let block = BlockContext {
        height: args.height,
        timestamp_ms: args.timestamp_ms,
    };
    let mut state = MemoryState::default();
    state.balances.insert(caller, value);
    let contract = match &args.init {
        Some(init) => {
            json_arg("--init", init)?;
            let request = DeployRequest {
                deployer: caller,
                code: prepared.clone(),
                salt: Vec::new(),
                init_input: init.as_bytes().to_vec(),
                value: U256::zero(),
                gas_limit: args.gas_limit,
            };
            let (address, outcome) = vm.deploy(Arc::new(state.clone()), block, request)?;
            if outcome.status != Status::Success {
                eprintln!("init did not succeed:");
                println!("{}", serde_json::to_string_pretty(&outcome_json(&outcome))?);
                bail!("init failed with status {}", outcome.status.as_str());
            }
            state.apply(&outcome.writes);
            address
        }
        None => {
            let address = Address::for_contract(&caller, &prepared.code_hash, b"");
            state.put_contract(address, &wasm);
            address
        }
    };
    let call = CallRequest {
        caller,
        contract,
        method: args.method,
        input: args.args.into_bytes(),
        value,
        gas_limit: args.gas_limit,
    };
    let outcome = vm.execute(Arc::new(state), block, call)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&outcome_json(&outcome))?);
    } else {
        print_outcome(&outcome);
    }
    Ok(ExitCode::SUCCESS)
}
