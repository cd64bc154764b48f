//! The `opmeter` command-line tool.

mod commands;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context};
use clap::{Parser, Subcommand};
use opmeter_node::build::build_contracts;
use opmeter_node::report::{outcome_json, violations_json};
use opmeter_rpc::RpcConfig;
use opmeter_vm::{
    wasm_from_text_or_binary, Address, BlockContext, CallRequest, DeployRequest, MemoryState,
    Schedule, Status, Vm, U256,
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
    #[command(flatten)]
    client: commands::ClientOpts,
}

#[derive(Subcommand)]
enum Command {
    /// Run a node. With no flags: a development chain under ~/.opmeter/dev with a funded
    /// development account (its key is printed) and a block per batch of transactions.
    Node(NodeArgs),
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
    },
    /// Manage signing keys (stored under ~/.opmeter/keys).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Scaffold a contract crate NAME (builds with `opmeter build`).
    New {
        /// The crate name.
        name: String,
        /// Where to create it (default: the current directory).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// The opmeter sdk directory (default: the one this binary was built from).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    #[command(flatten)]
    Client(commands::ClientCommand),
    /// Verify an audit bundle offline (the vm alone: no node, no database): every proof, hash
    /// and signature, then re-execute and compare the receipt field by field.
    Verify {
        /// The bundle (JSON, from `opmeter audit TX --bundle FILE` or `audit_bundle`).
        file: PathBuf,
    },
    /// Build a contract crate (or a workspace of them) for wasm32v1-none.
    Build {
        /// The crate directory (default: the current directory).
        path: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a random key NAME.
    New {
        /// The key's name.
        name: String,
    },
    /// Show a key's address and public key (default: --key).
    Show {
        /// The key's name (`dev`: the development account).
        name: Option<String>,
    },
}

#[derive(clap::Args)]
struct NodeArgs {
    /// Where the chain's RocksDB lives (created when missing; reopened on restart).
    #[arg(long, env = "OPMETER_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// A genesis file (JSON) for a new chain; without it, the development genesis.
    #[arg(long)]
    genesis: Option<PathBuf>,
    /// Produce a block every interval (e.g. `500ms`, `2s`) instead of one per batch.
    #[arg(long, value_parser = parse_duration)]
    block_time: Option<std::time::Duration>,
    /// JSON-RPC listen address (HTTP and WebSocket).
    #[arg(long, default_value = opmeter_rpc::DEFAULT_RPC_ADDR)]
    rpc_addr: String,
    /// Largest JSON-RPC request body in bytes.
    #[arg(long, default_value_t = RpcConfig::default().max_request_body_bytes)]
    rpc_max_body_bytes: u32,
    /// Largest JSON-RPC response body in bytes.
    #[arg(long, default_value_t = RpcConfig::default().max_response_body_bytes)]
    rpc_max_response_bytes: u32,
    /// Most requests in one JSON-RPC batch.
    #[arg(long, default_value_t = RpcConfig::default().max_batch_len)]
    rpc_max_batch: u32,
    /// Most open sockets, and most WebSocket sessions plus HTTP requests in flight.
    #[arg(long, default_value_t = RpcConfig::default().max_connections)]
    rpc_max_connections: u32,
    /// Most subscriptions per WebSocket connection.
    #[arg(long, default_value_t = RpcConfig::default().max_subscriptions_per_connection)]
    rpc_max_subscriptions: u32,
    /// Most gas of one read-only call (`contract_call`, and the cap of gas estimates).
    #[arg(long, default_value_t = RpcConfig::default().call_gas_max)]
    rpc_call_gas_max: u64,
    /// Read-only execution budget per client IP, in gas per second (0: unlimited).
    #[arg(long, default_value_t = RpcConfig::default().read_gas_per_second)]
    rpc_read_gas_per_second: u64,
    /// Burst of the read-only budget, in gas.
    #[arg(long, default_value_t = RpcConfig::default().read_gas_burst)]
    rpc_read_gas_burst: u64,
    /// Do not wait for the disk on block commits (faster; a power loss can lose recent blocks,
    /// a killed process cannot).
    #[arg(long)]
    no_sync: bool,
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "ms"),
    };
    let value: u64 = number
        .parse()
        .map_err(|_| format!("`{text}`: expected a number with ms, s or m"))?;
    let duration = match unit {
        "ms" => std::time::Duration::from_millis(value),
        "s" => std::time::Duration::from_secs(value),
        "m" => std::time::Duration::from_secs(value * 60),
        _ => return Err(format!("`{text}`: unit must be ms, s or m")),
    };
    if duration.is_zero() {
        return Err("the block time must be positive".into());
    }
    Ok(duration)
}

fn default_data_dir() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".opmeter").join("dev")
}

fn run_node(args: NodeArgs) -> anyhow::Result<ExitCode> {
    use opmeter_node::genesis::{address_of, dev_key, Genesis};
    use opmeter_node::service::{BlockMode, Node, NodeConfig};

    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let genesis = match &args.genesis {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the genesis file {}", path.display()))?;
            Some(Genesis::from_json(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?)
        }
        None => None,
    };
    let mode = match args.block_time {
        Some(every) => BlockMode::Interval(every),
        None => BlockMode::Instant,
    };
    let data_dir = args.data_dir.unwrap_or_else(default_data_dir);
    let config = NodeConfig {
        data_dir: data_dir.clone(),
        genesis,
        mode,
        sync_writes: !args.no_sync,
        mempool: Default::default(),
    };
    let node = Node::open(&config).with_context(|| {
        format!(
            "opening the chain in {} (another genesis? choose another --data-dir)",
            data_dir.display()
        )
    })?;
    let head = node.head();
    let genesis = node.chain().genesis().clone();
    println!("opmeter node");
    println!("  chain id:   {}", genesis.chain_id);
    println!("  data dir:   {}", data_dir.display());
    println!("  head:       #{} {}", head.header.height, head.hash);
    match mode {
        BlockMode::Interval(every) => println!("  blocks:     every {} ms", every.as_millis()),
        _ => println!("  blocks:     instant (one per batch of transactions)"),
    }
    if genesis.dev {
        let key = dev_key();
        println!("  dev account {}", address_of(&key));
        println!(
            "  dev key     0x{} (public; development only)",
            hex::encode(key.to_bytes())
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let backend = Arc::new(opmeter_node::api::NodeBackend::new(Arc::clone(&node)));
    let rpc_config = RpcConfig {
        max_request_body_bytes: args.rpc_max_body_bytes,
        max_response_body_bytes: args.rpc_max_response_bytes,
        max_batch_len: args.rpc_max_batch,
        max_connections: args.rpc_max_connections,
        max_subscriptions_per_connection: args.rpc_max_subscriptions,
        call_gas_max: args.rpc_call_gas_max,
        read_gas_per_second: args.rpc_read_gas_per_second,
        read_gas_burst: args.rpc_read_gas_burst,
        ..RpcConfig::default()
    };
    let (addr, server) = runtime
        .block_on(opmeter_rpc::serve(backend, &args.rpc_addr, rpc_config))
        .with_context(|| format!("listening on {} (in use? pass --rpc-addr)", args.rpc_addr))?;
    println!("  rpc:        http://{addr} (ws://{addr})");
    let producer = node.start(mode);
    // Stop on Ctrl-C, or as soon as the block producer stops on its own (a node fault): a node
    // that acknowledges transactions but can no longer commit them must not keep running.
    runtime.block_on(async {
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        loop {
            tokio::select! {
                _ = &mut ctrl_c => break,
                _ = tokio::time::sleep(std::time::Duration::from_millis(250)) => {
                    if producer.as_ref().is_some_and(|p| p.is_finished()) {
                        break;
                    }
                }
            }
        }
    });
    eprintln!("stopping");
    node.stop();
    let _ = server.stop();
    if let Some(producer) = producer {
        match producer.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => bail!("the block producer stopped: {e}"),
            Err(_) => bail!("the block producer panicked"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand)]
enum CodeCommand {
    /// Check a module against every rule; print its code hash, or every violation.
    Validate {
        /// A `.wasm` or `.wat` file.
        file: PathBuf,
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
    let opts = cli.client;
    match cli.command {
        Command::Node(args) => run_node(args),
        Command::Keys {
            command: KeysCommand::New { name },
        } => commands::keys_new(&opts, &name).map(|_| ExitCode::SUCCESS),
        Command::Keys {
            command: KeysCommand::Show { name },
        } => commands::keys_show(&opts, name.as_deref()).map(|_| ExitCode::SUCCESS),
        Command::New { name, dir, sdk } => {
            let sdk = sdk.unwrap_or_else(opmeter_node::scaffold::default_sdk_path);
            let path = opmeter_node::scaffold::scaffold(&dir, &name, &sdk)?;
            if opts.json {
                println!("{}", serde_json::json!({ "path": path }));
            } else {
                println!("created {}", path.display());
                println!("next: cd {} && opmeter build", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify { file } => commands::verify(&file, opts.json),
        Command::Client(command) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            runtime.block_on(commands::run(&opts, command))
        }
        Command::Code {
            command: CodeCommand::Validate { file },
        } => {
            let json = opts.json;
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
        } => {
            let json = opts.json;
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
                let request = DeployRequest {
                    deployer: caller,
                    code: prepared,
                    salt: Vec::new(),
                    init_input: init_args,
                    value: U256::zero(),
                    gas_limit,
                };
                let (address, outcome) = vm.deploy(Arc::new(state.clone()), block, request)?;
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
        Command::Build { path } => {
            let json = opts.json;
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
    let status = match outcome.trap_code() {
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
