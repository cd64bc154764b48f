//! The `opmeter` command-line tool: the node, offline commands on code, keys, and the client
//! commands. One module per area, one function per subcommand; the node library knows none of it.

mod build;
mod client;
mod code;
mod keys;
mod node;
mod render;
mod scaffold;
mod verify;
mod zk;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

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
    client: client::ClientOpts,
}

#[derive(Subcommand)]
enum Command {
    /// Run a node. With no flags: a development chain under ~/.opmeter/dev with a funded
    /// development account (its key is printed) and a block per batch of transactions.
    Node(node::NodeArgs),
    /// Write a local network of validators (keys, a genesis listing them, a home each): runs
    /// `opmeter-validator testnet` with these arguments (`--validators 4 --dir DIR`).
    Testnet {
        /// Arguments of `opmeter-validator testnet`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Work with contract code.
    Code {
        #[command(subcommand)]
        command: CodeCommand,
    },
    /// Validate, instrument and run one call of a module against a fresh in-memory state.
    Exec(code::ExecArgs),
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
    Client(client::ClientCommand),
    /// Verify an audit bundle offline (the vm alone: no node, no database): every proof, hash
    /// and signature, then re-execute and compare the receipt field by field.
    Verify {
        /// The bundle (JSON, from `opmeter audit TX --bundle FILE` or `audit_bundle`).
        file: PathBuf,
    },
    /// Groth16 proofs of provable methods: development keys, offline verification.
    Zk {
        #[command(subcommand)]
        command: zk::ZkCommand,
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

#[derive(Subcommand)]
enum CodeCommand {
    /// Check a module against every rule; print its code hash, or every violation.
    Validate {
        /// A `.wasm` or `.wat` file.
        file: PathBuf,
    },
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let opts = cli.client;
    let json = opts.json;
    match cli.command {
        Command::Node(args) => node::run(args),
        Command::Testnet { args } => {
            let mut all = vec!["testnet".to_string()];
            all.extend(args);
            node::run_validator_binary(&all)
        }
        Command::Code {
            command: CodeCommand::Validate { file },
        } => code::validate(&file, json),
        Command::Exec(args) => code::exec(args, json),
        Command::Keys {
            command: KeysCommand::New { name },
        } => keys::new(&opts, &name).map(|_| ExitCode::SUCCESS),
        Command::Keys {
            command: KeysCommand::Show { name },
        } => keys::show(&opts, name.as_deref()).map(|_| ExitCode::SUCCESS),
        Command::New { name, dir, sdk } => build::new(&name, &dir, sdk, json),
        Command::Build { path } => build::build(path, json),
        Command::Verify { file } => verify::run(&file, json),
        Command::Zk { command } => zk::run(command, json),
        Command::Client(command) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?
            .block_on(client::run(&opts, command)),
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}
