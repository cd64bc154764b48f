//! `opmeter-validator`: a validator of a replicated Opmeter chain, and `testnet`, which writes a
//! local network. `opmeter node --validator` and `opmeter testnet` run this binary.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use opmeter_validator::home::{write_testnet, Home, TestnetSpec};

#[derive(Parser)]
#[command(name = "opmeter-validator", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the validator whose key, config and data are in `--home`.
    Node {
        /// The validator's home directory (written by `testnet`).
        #[arg(long)]
        home: PathBuf,
    },
    /// Writes a local network: keys, one genesis listing the validators, a home per validator.
    Testnet {
        /// How many validators.
        #[arg(long, default_value_t = 4)]
        validators: u32,
        /// Where (DIR/genesis.json, DIR/v0, DIR/v1, …).
        #[arg(long)]
        dir: PathBuf,
        /// Validator i listens on BASE + 2i (libp2p) and BASE + 2i + 1 (JSON-RPC).
        #[arg(long, default_value_t = 26650)]
        base_port: u16,
        /// The chain id.
        #[arg(long, default_value = "opmeter-testnet")]
        chain_id: String,
        /// Round 0's propose timeout (ms).
        #[arg(long, default_value_t = 1000)]
        propose_timeout_ms: u64,
        /// How long a proposer waits for a transaction before proposing an empty block (ms).
        #[arg(long, default_value_t = 200)]
        empty_block_wait_ms: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Node { home } => {
            let filter = tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::io::stderr)
                .init();
            Home::load(&home).and_then(opmeter_validator::run::run)
        }
        Command::Testnet {
            validators,
            dir,
            base_port,
            chain_id,
            propose_timeout_ms,
            empty_block_wait_ms,
        } => write_testnet(&TestnetSpec {
            validators,
            dir,
            base_port,
            chain_id,
            propose_timeout_ms,
            empty_block_wait_ms,
        })
        .map(|homes| {
            for home in homes {
                println!(
                    "{}   (run: opmeter-validator node --home {})",
                    home.display(),
                    home.display()
                );
            }
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
