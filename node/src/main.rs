//! The `opmeter` command-line tool.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context};
use clap::{Parser, Subcommand};
use opmeter_node::build::build_contracts;
use opmeter_node::report::{outcome_json, violations_json};
use opmeter_vm::{
    wasm_from_text_or_binary, Address, BlockContext, CallRequest, MemoryState, Schedule, Status,
    Vm, U256,
};

/// Exit code when the code was rejected by validation.
const EXIT_REJECTED: u8 = 1;
/// Exit code for bad arguments, unreadable files and failed builds.
const EXIT_USAGE: u8 = 2;

#[derive(Parser)]
#[command(
    name = "opmeter",
    version,
    about = "Opmeter: deterministic WebAssembly contracts, metered to the opcode"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a node (lands with the node issue).
    Node,
    /// Work with contract code.
    Code {
        #[command(subcommand)]
        command: CodeCommand,
    },
    /// Validate, instrument and run one call of a module against a fresh in-memory state.
    Exec {
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
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Build a contract crate (or a workspace of them) for wasm32v1-none.
    Build {
        /// The crate directory (default: the current directory).
        path: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum CodeCommand {
    /// Check a module against every rule; print its code hash, or every violation.
    Validate {
        /// A `.wasm` or `.wat` file.
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn read_module(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    wasm_from_text_or_binary(&bytes)
        .map_err(|e| anyhow!("{} is neither wasm nor valid WAT: {e}", path.display()))
}

fn print_rejection(vm_report: &opmeter_vm::ValidationReport, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&violations_json(vm_report)).unwrap_or_default()
        );
    } else {
        eprintln!("rejected: {} violation(s)", vm_report.violations.len());
        for violation in &vm_report.violations {
            eprintln!("  - {violation}");
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Node => {
            eprintln!("not yet: the durable node (RocksDB state, transactions, blocks) lands with the node issue.");
            eprintln!("Meanwhile: `opmeter exec FILE --method NAME` runs a call against a fresh in-memory state.");
            Ok(ExitCode::from(EXIT_USAGE))
        }
        Command::Code {
            command: CodeCommand::Validate { file, json },
        } => {
            let wasm = read_module(&file)?;
            let vm = Vm::new(Schedule::v1());
            match vm.validate(&wasm) {
                Ok(code_hash) => {
                    if json {
                        let out = serde_json::json!({"codeHash": code_hash.to_hex(), "sizeBytes": wasm.len()});
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
        Command::Exec {
            file,
            method,
            args,
            init,
            gas_limit,
            caller,
            value,
            height,
            timestamp_ms,
            json,
        } => {
            let wasm = read_module(&file)?;
            let vm = Vm::new(Schedule::v1());
            let prepared = match vm.prepare(&wasm) {
                Ok(prepared) => prepared,
                Err(report) => {
                    print_rejection(&report, json);
                    return Ok(ExitCode::from(EXIT_REJECTED));
                }
            };
            let caller = match caller {
                Some(hex) => Address::from_hex(&hex)
                    .map_err(|e| anyhow!("--caller is not a 32-byte hex address: {e}"))?,
                None => Address::for_public_key(&[0u8; 32]),
            };
            let value = U256::from_dec_str(&value)
                .map_err(|e| anyhow!("--value is not a decimal integer: {e:?}"))?;
            if !args.is_empty() {
                serde_json::from_str::<serde_json::Value>(&args)
                    .context("--args is not valid JSON")?;
            }
            let block = BlockContext {
                height,
                timestamp_ms,
            };
            let mut state = MemoryState::default();
            state.balances.insert(caller, value);
            let init_args = match &init {
                Some(text) => {
                    serde_json::from_str::<serde_json::Value>(text)
                        .context("--init is not valid JSON")?;
                    text.as_bytes().to_vec()
                }
                None => Vec::new(),
            };
            let contract = if init.is_some() {
                let (address, outcome) = vm.deploy(
                    Arc::new(state.clone()),
                    block,
                    caller,
                    &prepared,
                    b"",
                    init_args,
                    U256::zero(),
                    gas_limit,
                )?;
                if outcome.status != Status::Success {
                    eprintln!("init did not succeed:");
                    println!("{}", serde_json::to_string_pretty(&outcome_json(&outcome))?);
                    bail!("init failed with status {}", outcome.status.as_str());
                }
                state.apply(&outcome.writes);
                address
            } else {
                let address = Address::for_contract(&caller, &prepared.code_hash, b"");
                state.put_contract(address, &wasm);
                address
            };
            let call = CallRequest {
                caller,
                contract,
                method,
                input: args.into_bytes(),
                value,
                gas_limit,
            };
            let outcome = vm.execute(Arc::new(state), block, call)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&outcome_json(&outcome))?);
            } else {
                print_outcome(&outcome);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Build { path, json } => {
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
                println!("{}", serde_json::to_string_pretty(&out)?);
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
    }
}

fn print_outcome(outcome: &opmeter_vm::Outcome) {
    let status = match outcome.trap_code {
        Some(code) => format!("trap {} ({})", code.code(), code.name()),
        None => outcome.status.as_str().to_string(),
    };
    println!("status:    {status}");
    match std::str::from_utf8(&outcome.output) {
        Ok(text) if !text.is_empty() => println!("output:    {text}"),
        _ => println!("output:    0x{}", hex::encode(&outcome.output)),
    }
    println!("gas used:  {} of {}", outcome.gas_used, outcome.gas_limit);
    for (key, gas) in outcome.breakdown_by_key() {
        println!("  {key:<18} {gas:>12}");
    }
    for event in &outcome.events {
        let topics: Vec<String> = event
            .topics
            .iter()
            .map(|t| format!("0x{}", hex::encode(t)))
            .collect();
        println!(
            "event:     topics [{}] data 0x{}",
            topics.join(", "),
            hex::encode(&event.data)
        );
    }
    for line in &outcome.logs {
        println!("log:       {line}");
    }
    println!("schedule:  0x{}", hex::encode(outcome.schedule_hash));
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}
