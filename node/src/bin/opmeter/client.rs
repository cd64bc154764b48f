//! The commands that talk to a node over JSON-RPC (through the typed client of `opmeter_rpc`),
//! one function per subcommand.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use opmeter_ledger::encoding::{DecU256, DecU64, Hash32, HexBytes};
use opmeter_ledger::tx::Payload;
use opmeter_rpc::client::{http, json_input, ClientError, HttpClient, OpmeterApiClient, Signer};
use opmeter_rpc::types::{BlockId, CallArgs, ReceiptView, TraceArgs};
use opmeter_vm::U256;
use serde_json::{json, Value};

use crate::keys::{address_of, load_key, resolve_address, resolve_target};
use crate::render::{group, output_text, print_json, print_receipt, print_replay, print_trace};
use opmeter_rpc::AddressOrName;
use opmeter_vm::Address;

/// Options shared by every command that talks to a node.
#[derive(clap::Args, Clone, Debug)]
pub(crate) struct ClientOpts {
    /// The node's JSON-RPC URL.
    #[arg(
        long,
        env = "OPMETER_RPC",
        default_value = "http://127.0.0.1:8645",
        global = true
    )]
    pub(crate) rpc: String,
    /// The signing key: a name under the keys directory, or `dev` (the development account).
    #[arg(long, env = "OPMETER_KEY", default_value = "dev", global = true)]
    pub(crate) key: String,
    /// Where named keys live.
    #[arg(long, env = "OPMETER_KEYS_DIR", global = true)]
    pub(crate) keys_dir: Option<PathBuf>,
    /// Print JSON (stable shapes, for scripts) instead of text.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

/// Parses JSON arguments (empty means none).
pub(crate) fn parse_args(what: &str, text: Option<&str>) -> anyhow::Result<Value> {
    match text {
        None | Some("") => Ok(Value::Null),
        Some(text) => serde_json::from_str(text).with_context(|| {
            format!("{what} is not valid JSON (example: '{{\"by\": 2}}'; quote it for the shell)")
        }),
    }
}

/// A spinner on stderr while `future` runs (only on a terminal, never with `--json`).
pub(crate) async fn with_spinner<T>(
    opts: &ClientOpts,
    message: &str,
    future: impl std::future::Future<Output = T>,
) -> T {
    if opts.json || !std::io::stderr().is_terminal() {
        return future.await;
    }
    let spinner = ProgressBar::new_spinner();
    spinner.set_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    spinner.set_message(message.to_string());
    spinner.enable_steady_tick(Duration::from_millis(80));
    let out = future.await;
    spinner.finish_and_clear();
    out
}

/// Turns a client error into one that says what to do next.
pub(crate) fn explain(error: ClientError, opts: &ClientOpts) -> anyhow::Error {
    use jsonrpsee::core::client::Error as E;
    let hint = match &error {
        ClientError::Rpc(E::Transport(_)) | ClientError::Rpc(E::RestartNeeded(_)) => format!(
            "cannot reach a node at {}: start one with `opmeter node`, or pass --rpc URL",
            opts.rpc
        ),
        ClientError::Rpc(E::RequestTimeout) => {
            "the node did not answer in time; check it is running and not overloaded".into()
        }
        ClientError::Rpc(E::Call(object)) => {
            let data = object
                .data()
                .and_then(|d| serde_json::from_str::<Value>(d.get()).ok())
                .unwrap_or_default();
            let text = |key: &str| data.get(key).and_then(|r| r.as_str()).unwrap_or_default();
            // A failing estimate says how the transaction fails: its receipt status.
            let reason = match object.code() {
                2004 => text("status"),
                _ => text("reason"),
            };
            let next = match (object.code(), reason) {
                (_, "insufficientFunds" | "insufficientBalance") => {
                    "fund the account: `opmeter transfer ADDRESS AMOUNT --key dev`"
                }
                (_, "nonceTooLow" | "nonceTaken") => {
                    "another transaction from this key got there first: retry"
                }
                (_, "nonceTooHigh") => {
                    "earlier transactions of this key are missing: check `opmeter account`"
                }
                (_, "wrongChainId") => "the key signs for another chain: check --rpc",
                (_, "invalidCode") => {
                    "fix the module: `opmeter code validate FILE` lists every violation"
                }
                (_, "invalidName") => {
                    "a name is 3–32 of a-z, 0-9 and -, without a leading or trailing -, not starting with 0x"
                }
                (_, "nameTaken") => {
                    "the name is taken: `opmeter name show NAME` shows its owner; choose another"
                }
                (_, "nameNotFound") => "nobody holds this name: `opmeter name register NAME CONTRACT`",
                (_, "notNameOwner") => {
                    "only the name's owner may do this: `opmeter name show NAME` shows it (--key)"
                }
                (_, "notDeployer") => {
                    "a name names contracts this key deployed: pass the --salt it was deployed with"
                }
                (_, "gasPriceTooLow") => {
                    "raise the gas price to the chain's `minGasPrice` (JSON-RPC `chain_info`)"
                }
                (2002, _) => "lower --gas-limit",
                (2003, _) => "wait and retry; this client used its read-only budget",
                (2004, _) => {
                    "the transaction fails at any gas limit: try it with `opmeter call` to see why"
                }
                (2005, _) => "this chain is not a development chain",
                (2006, _) => "the transaction is pending: check later with `opmeter receipt HASH`",
                (2007, _) => "check the address (`opmeter account ADDRESS` shows its code hash)",
                (2010, _) => "no contract has this name: `opmeter name show NAME`",
                (2009, _) => {
                    "the call ran past the node's time limit: lower its work, or send it as a transaction"
                }
                (2011, _) => {
                    "the contract spent its daily read-only gas: retry after data.retryAfterMs, or send a transaction"
                }
                (3001, _) => {
                    "the method is outside the provable subset: `opmeter deploy` prints why, per method"
                }
                (3002 | 3003, _) => "try a larger --profile (s, m, l) or smaller arguments",
                (3004, _) => "profiles are s, m and l",
                (3005 | 3006 | 3012, _) => {
                    "on the node's machine: `opmeter zk setup --profile NAME`, then restart the node"
                }
                (3009, _) => "the call traps (e.g. division by zero): there is nothing to prove",
                (3010, _) => "pass one integer per parameter",
                (3011, _) => "the prover's queue is full: retry in a moment",
                (-32602, _) => "check the arguments (`opmeter help`)",
                _ => "",
            };
            let data = object
                .data()
                .map(|d| format!("\n  details: {}", d.get()))
                .unwrap_or_default();
            let next = if next.is_empty() {
                String::new()
            } else {
                format!("\n  next: {next}")
            };
            format!(
                "the node refused (code {}): {}{data}{next}",
                object.code(),
                object.message()
            )
        }
        _ => format!("{error}"),
    };
    anyhow!(hint)
}

/// A client for the node at `opts.rpc`.
fn client(opts: &ClientOpts) -> anyhow::Result<HttpClient> {
    http(&opts.rpc).map_err(|e| anyhow!("--rpc `{}` is not a usable URL: {e}", opts.rpc))
}

/// The client commands.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum ClientCommand {
    /// Balance and nonce of an account (an address, a key name or a contract's name; default:
    /// --key).
    Account {
        /// `0x` address, key name or contract name.
        who: Option<String>,
        /// Read at this height instead of the head.
        #[arg(long)]
        height: Option<u64>,
    },
    /// Deploy a contract (`.wasm` or `.wat`), running `init` with --init ARGS (JSON).
    Deploy {
        /// The module.
        file: PathBuf,
        /// Arguments of `init` as JSON, e.g. '{"start": 1}'.
        #[arg(long)]
        init: Option<String>,
        /// Salt of the address (hex), to deploy the same code twice.
        #[arg(long, default_value = "0x")]
        salt: String,
        /// Gas limit (default: the node's verified estimate plus 20 %).
        #[arg(long)]
        gas_limit: Option<u64>,
        /// Then register this name for the new contract (a second transaction; see
        /// `opmeter name`).
        #[arg(long)]
        name: Option<String>,
    },
    /// Run a method read-only (free, nothing is written).
    Call {
        /// The contract: `0x` address or name.
        contract: String,
        /// The method.
        method: String,
        /// Arguments as JSON.
        args: Option<String>,
        /// Read the state at this height.
        #[arg(long)]
        height: Option<u64>,
        /// Gas limit (default: the server's maximum for read-only calls).
        #[arg(long)]
        gas_limit: Option<u64>,
    },
    /// Call a method in a signed transaction and wait for the receipt.
    Send {
        /// The contract: `0x` address or name.
        contract: String,
        /// The method.
        method: String,
        /// Arguments as JSON.
        args: Option<String>,
        /// Value sent with the call (decimal).
        #[arg(long, default_value = "0")]
        value: String,
        /// Gas limit (default: the node's verified estimate plus 20 %).
        #[arg(long)]
        gas_limit: Option<u64>,
    },
    /// Move value to an address (or a key or contract name) and wait for the receipt.
    Transfer {
        /// Recipient: `0x` address, key name or contract name.
        to: String,
        /// Amount (decimal).
        amount: String,
    },
    /// Development chains: fund an address (or key name) from the development account.
    Fund {
        /// Recipient: `0x` address or key name.
        to: String,
        /// Amount (decimal).
        amount: String,
    },
    /// Show a receipt with its gas breakdown (and, with --trace, where every unit went).
    Receipt {
        /// `0x` transaction hash.
        hash: String,
        /// Also show the gas trace: per wasm function and host call, nested calls as a tree.
        #[arg(long)]
        trace: bool,
        /// With --trace: also profile the most expensive metered blocks.
        #[arg(long, requires = "trace")]
        blocks: bool,
        /// With --trace: name the functions of a contract's code from the `NAME.names.json`
        /// `opmeter build` wrote beside it (deployed code carries no names); repeatable.
        #[arg(long = "names", value_name = "FILE", requires = "trace")]
        names: Vec<PathBuf>,
    },
    /// Re-execute a committed transaction against the state it saw and compare its receipt
    /// field by field (and the block's roots); exits 1 on any difference.
    Audit {
        /// `0x` transaction hash.
        hash: String,
        /// Also save its offline verification bundle here (check it with `opmeter verify`).
        #[arg(long)]
        bundle: Option<PathBuf>,
    },
    /// Prove a provable method's output and gas on the node (a job: shows its progress), and
    /// write the proof file (check it offline with `opmeter zk verify`).
    Prove {
        /// The contract address.
        contract: String,
        /// The provable method.
        method: String,
        /// Its integer arguments.
        args: Vec<u64>,
        /// The profile (s, m, l; default: the smallest the node serves that fits the call).
        #[arg(long)]
        profile: Option<String>,
        /// Read the contract's code at this height.
        #[arg(long)]
        height: Option<u64>,
        /// Where to write the proof (default: METHOD.proof.json).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Names of contracts: register, re-point, transfer, show (`specs/names.md`).
    Name {
        #[command(subcommand)]
        command: NameCommand,
    },
    /// Show a block (default: the head).
    Block {
        /// Height, `0x` hash, or `latest`.
        id: Option<String>,
        /// Include the transactions.
        #[arg(long)]
        txs: bool,
    },
}

/// `opmeter name …`.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum NameCommand {
    /// Register a free name for a contract you (--key) deployed.
    Register {
        /// The name: 3–32 of a-z, 0-9 and -, no leading or trailing -, not starting with 0x.
        name: String,
        /// The contract's `0x` address.
        contract: String,
        /// The salt it was deployed with (hex; `opmeter deploy --salt`).
        #[arg(long, default_value = "0x")]
        salt: String,
    },
    /// Re-point a name you own to another contract you deployed.
    Point {
        /// The name.
        name: String,
        /// The contract's `0x` address.
        contract: String,
        /// The salt it was deployed with (hex).
        #[arg(long, default_value = "0x")]
        salt: String,
    },
    /// Give a name you own to another account (an address or a key name).
    Transfer {
        /// The name.
        name: String,
        /// The next owner: `0x` address or key name.
        to: String,
    },
    /// Show a name's owner and contract.
    Show {
        /// The name.
        name: String,
        /// Read at this height instead of the head.
        #[arg(long)]
        height: Option<u64>,
    },
}

/// When `target` is a name because no key has it, the error says how to make that key too.
fn or_key_hint(target: &AddressOrName, error: anyhow::Error) -> anyhow::Error {
    match target {
        AddressOrName::Name(name) => anyhow!(
            "{error:#}\n  (no key `{name}` either: create one with `opmeter keys new {name}`)"
        ),
        AddressOrName::Address(_) => error,
    }
}

fn decimal(what: &str, text: &str) -> anyhow::Result<U256> {
    DecU256::parse(text)
        .map(|d| d.0)
        .map_err(|e| anyhow!("{what}: {e} (got `{text}`)"))
}

fn hash(text: &str) -> anyhow::Result<Hash32> {
    Hash32::from_hex(text).map_err(|_| anyhow!("`{text}` is not a 32-byte hex transaction hash"))
}

fn exit_for(status_code: u8) -> ExitCode {
    // A transaction or call that ran but did not succeed is a result, reported with exit code 1.
    if status_code == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn finish_receipt(opts: &ClientOpts, receipt: &ReceiptView) -> anyhow::Result<ExitCode> {
    if opts.json {
        print_json(receipt)?;
    } else {
        print_receipt(receipt);
    }
    Ok(exit_for(receipt.status_code))
}

/// The JSON-RPC context of one command: the options, the client, and how to explain errors.
struct Session<'a> {
    opts: &'a ClientOpts,
    client: HttpClient,
}

impl Session<'_> {
    fn explain(&self, error: impl Into<ClientError>) -> anyhow::Error {
        explain(error.into(), self.opts)
    }

    async fn signer(&self) -> anyhow::Result<Signer<'_, HttpClient>> {
        let key = load_key(self.opts, &self.opts.key)?;
        Signer::new(&self.client, key)
            .await
            .map_err(|e| self.explain(e))
    }

    async fn send(
        &self,
        what: &str,
        payload: Payload,
        gas_limit: Option<u64>,
    ) -> anyhow::Result<ExitCode> {
        let signer = self.signer().await?;
        let receipt = with_spinner(self.opts, what, signer.send(payload, gas_limit))
            .await
            .map_err(|e| self.explain(e))?;
        finish_receipt(self.opts, &receipt)
    }

    /// The address of `target`: a name is resolved by the node at its head.
    async fn address(&self, target: AddressOrName) -> anyhow::Result<Address> {
        match target {
            AddressOrName::Address(address) => Ok(address),
            AddressOrName::Name(name) => {
                let view = self
                    .client
                    .name_get(name.to_string(), None)
                    .await
                    .map_err(|e| self.explain(e))?;
                view.target.ok_or_else(|| {
                    anyhow!(
                        "no contract is named `{name}` (at #{}); register it with `opmeter name register`",
                        view.height
                    )
                })
            }
        }
    }
}

/// Runs a client command.
pub(crate) async fn run(opts: &ClientOpts, command: ClientCommand) -> anyhow::Result<ExitCode> {
    let session = Session {
        opts,
        client: client(opts)?,
    };
    match command {
        ClientCommand::Account { who, height } => account(&session, who, height).await,
        ClientCommand::Deploy {
            file,
            init,
            salt,
            gas_limit,
            name,
        } => deploy(&session, file, init, &salt, gas_limit, name).await,
        ClientCommand::Call {
            contract,
            method,
            args,
            height,
            gas_limit,
        } => call(&session, &contract, method, args, height, gas_limit).await,
        ClientCommand::Send {
            contract,
            method,
            args,
            value,
            gas_limit,
        } => send(&session, &contract, method, args, &value, gas_limit).await,
        ClientCommand::Transfer { to, amount } => transfer(&session, &to, &amount).await,
        ClientCommand::Fund { to, amount } => fund(&session, &to, &amount).await,
        ClientCommand::Receipt {
            hash,
            trace,
            blocks,
            names,
        } => receipt(&session, &hash, trace, blocks, &names).await,
        ClientCommand::Audit { hash, bundle } => audit(&session, &hash, bundle).await,
        ClientCommand::Block { id, txs } => block(&session, id, txs).await,
        ClientCommand::Name { command } => name(&session, command).await,
        ClientCommand::Prove {
            contract,
            method,
            args,
            profile,
            height,
            out,
        } => {
            crate::zk::prove(
                opts,
                &session.client,
                &contract,
                method,
                args,
                profile,
                height,
                out,
            )
            .await
        }
    }
}

/// `opmeter account [WHO] [--height H]`.
async fn account(
    s: &Session<'_>,
    who: Option<String>,
    height: Option<u64>,
) -> anyhow::Result<ExitCode> {
    let address = resolve_target(s.opts, who.as_deref().unwrap_or(&s.opts.key))?;
    let account = s
        .client
        .account_get(address.clone(), height)
        .await
        .map_err(|x| or_key_hint(&address, s.explain(x)))?;
    if s.opts.json {
        print_json(&account)?;
    } else {
        println!("account {}", account.address);
        println!("  balance     {}", group(account.balance));
        println!(
            "  nonce       {} ({} with pending)",
            account.nonce, account.pending_nonce
        );
        if let Some(code_hash) = &account.code_hash {
            println!("  code hash   {code_hash}");
        }
        println!("  at height   #{}", account.height);
    }
    Ok(ExitCode::SUCCESS)
}

/// `opmeter deploy FILE [--init ARGS] [--salt HEX] [--gas-limit N]`.
async fn deploy(
    s: &Session<'_>,
    file: PathBuf,
    init: Option<String>,
    salt: &str,
    gas_limit: Option<u64>,
    name: Option<String>,
) -> anyhow::Result<ExitCode> {
    // A malformed name is refused before anything is sent.
    if let Some(name) = &name {
        opmeter_ledger::name::Name::parse(name)
            .map_err(|rule| anyhow!("--name {name:?}: {rule}"))?;
    }
    let bytes = std::fs::read(&file).with_context(|| {
        format!(
            "cannot read {} (build it first with `opmeter build`)",
            file.display()
        )
    })?;
    let code = opmeter_vm::wasm_from_text_or_binary(&bytes)
        .map_err(|x| anyhow!("{} is neither wasm nor WAT: {x}", file.display()))?;
    let args = parse_args("--init", init.as_deref())?;
    let salt = hex::decode(salt.trim_start_matches("0x"))
        .map_err(|x| anyhow!("--salt is not hex: {x}"))?;
    let payload = Payload::Deploy {
        code,
        init_input: json_input(&args),
        salt: salt.clone(),
        value: U256::zero(),
    };
    let signer = s.signer().await?;
    let receipt = with_spinner(s.opts, "deploying", signer.send(payload, gas_limit))
        .await
        .map_err(|e| s.explain(e))?;
    let named = match (&name, receipt.contract_address) {
        (Some(name), Some(target)) if receipt.status_code == 0 => {
            let payload = Payload::RegisterName {
                name: name.clone(),
                target,
                salt,
            };
            Some(
                with_spinner(s.opts, "registering the name", signer.send(payload, None))
                    .await
                    .map_err(|e| s.explain(e))?,
            )
        }
        _ => None,
    };
    // Which provable methods the node can prove (node-side, not part of the receipt).
    let provability = match receipt.contract_address {
        Some(address) if receipt.status_code == 0 => s
            .client
            .contract_provability(address.into(), None)
            .await
            .ok()
            .filter(|p| !p.methods.is_empty()),
        _ => None,
    };
    if s.opts.json {
        let mut value = serde_json::to_value(&receipt)?;
        if let Some(provability) = &provability {
            value["provability"] = serde_json::to_value(provability)?;
        }
        if let Some(named) = &named {
            value["nameReceipt"] = serde_json::to_value(named)?;
        }
        print_json(&value)?;
    } else {
        print_receipt(&receipt);
        if let Some(provability) = &provability {
            print_provability(provability);
        }
        if let (Some(named), Some(name)) = (&named, &name) {
            println!("name `{name}`");
            print_receipt(named);
        }
    }
    match named {
        Some(named) if receipt.status_code == 0 => Ok(exit_for(named.status_code)),
        _ => Ok(exit_for(receipt.status_code)),
    }
}

/// `opmeter name register|point|transfer|show`.
async fn name(s: &Session<'_>, command: NameCommand) -> anyhow::Result<ExitCode> {
    let salt_of = |text: &str| {
        hex::decode(text.trim_start_matches("0x")).map_err(|x| anyhow!("--salt is not hex: {x}"))
    };
    let contract_of = |text: &str| {
        Address::from_hex(text).map_err(|e| anyhow!("`{text}` is not a 32-byte 0x address: {e}"))
    };
    let payload = match command {
        NameCommand::Register {
            name,
            contract,
            salt,
        } => Payload::RegisterName {
            name,
            target: contract_of(&contract)?,
            salt: salt_of(&salt)?,
        },
        NameCommand::Point {
            name,
            contract,
            salt,
        } => Payload::PointName {
            name,
            target: contract_of(&contract)?,
            salt: salt_of(&salt)?,
        },
        NameCommand::Transfer { name, to } => Payload::TransferName {
            name,
            new_owner: resolve_address(s.opts, &to)?,
        },
        NameCommand::Show { name, height } => {
            let view = s
                .client
                .name_get(name, height)
                .await
                .map_err(|x| s.explain(x))?;
            if s.opts.json {
                print_json(&view)?;
            } else if let (Some(owner), Some(target)) = (view.owner, view.target) {
                println!("name `{}`", view.name);
                println!("  contract    {target}");
                println!("  owner       {owner}");
                if let Some(registered) = view.registered_height {
                    println!("  registered  #{registered}");
                }
                println!("  at height   #{}", view.height);
            } else {
                println!("name `{}` is free (at #{})", view.name, view.height);
            }
            return Ok(if view.registered {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
    };
    if let Some(name) = payload.name() {
        opmeter_ledger::name::Name::parse(name).map_err(|rule| anyhow!("{name:?}: {rule}"))?;
    }
    s.send("naming", payload, None).await
}

/// The provable methods of a deployed contract, and why the others are not.
fn print_provability(view: &opmeter_rpc::types::ProvabilityView) {
    println!(
        "  provable methods (prove with `opmeter prove {} METHOD ARGS…`):",
        view.contract
    );
    for method in &view.methods {
        match (&method.reason, method.offset) {
            (None, _) => println!(
                "    {:<18} provable ({} instructions)",
                method.method,
                method.instructions.unwrap_or(0)
            ),
            (Some(reason), Some(offset)) => println!(
                "    {:<18} NOT provable: {reason} (offset {offset:#x})",
                method.method
            ),
            (Some(reason), None) => println!("    {:<18} NOT provable: {reason}", method.method),
        }
    }
}

/// `opmeter call CONTRACT METHOD [ARGS] [--height H] [--gas-limit N]`: read-only.
async fn call(
    s: &Session<'_>,
    contract: &str,
    method: String,
    args: Option<String>,
    height: Option<u64>,
    gas_limit: Option<u64>,
) -> anyhow::Result<ExitCode> {
    let contract = resolve_target(s.opts, contract)?;
    let args = parse_args("ARGS", args.as_deref())?;
    let from = Some(address_of(&load_key(s.opts, &s.opts.key)?).into());
    let call = CallArgs {
        from,
        contract,
        method,
        args: Some(args).filter(|a| !a.is_null()),
        gas_limit: gas_limit.map(DecU64),
        ..CallArgs::default()
    };
    let result = s
        .client
        .contract_call(call, height)
        .await
        .map_err(|x| s.explain(x))?;
    if s.opts.json {
        print_json(&result)?;
    } else {
        match result.trap_code {
            Some(code) => println!("status      {} (trap code {code})", result.status),
            None => println!("status      {}", result.status),
        }
        println!("output      {}", output_text(&result.output.0));
        println!("gas used    {}", group(result.gas_used));
        for (category, gas) in &result.gas_breakdown {
            println!("  {category:<18} {:>12}", group(gas));
        }
        for event in &result.events {
            let topics: Vec<String> = event.topics.iter().map(HexBytes::to_string).collect();
            println!(
                "event       topics [{}] data {}",
                topics.join(", "),
                event.data
            );
        }
        for line in &result.logs {
            println!("log         {line}");
        }
    }
    Ok(exit_for(result.status_code))
}

/// `opmeter send CONTRACT METHOD [ARGS] [--value V] [--gas-limit N]`: a signed call.
async fn send(
    s: &Session<'_>,
    contract: &str,
    method: String,
    args: Option<String>,
    value: &str,
    gas_limit: Option<u64>,
) -> anyhow::Result<ExitCode> {
    let contract = s.address(resolve_target(s.opts, contract)?).await?;
    let args = parse_args("ARGS", args.as_deref())?;
    let payload = Payload::Call {
        contract,
        method,
        input: json_input(&args),
        value: decimal("--value", value)?,
    };
    s.send("sending", payload, gas_limit).await
}

/// `opmeter transfer TO AMOUNT`.
async fn transfer(s: &Session<'_>, to: &str, amount: &str) -> anyhow::Result<ExitCode> {
    let target = resolve_target(s.opts, to)?;
    let to = s
        .address(target.clone())
        .await
        .map_err(|e| or_key_hint(&target, e))?;
    let amount = decimal("AMOUNT", amount)?;
    s.send("transferring", Payload::Transfer { to, amount }, None)
        .await
}

/// `opmeter fund TO AMOUNT`: development chains only.
async fn fund(s: &Session<'_>, to: &str, amount: &str) -> anyhow::Result<ExitCode> {
    let to = resolve_target(s.opts, to)?;
    let amount = decimal("AMOUNT", amount)?;
    let funding = s.client.dev_fund(to.clone(), DecU256(amount));
    let funded = with_spinner(s.opts, "funding", funding)
        .await
        .map_err(|x| or_key_hint(&to, s.explain(x)))?;
    if s.opts.json {
        print_json(&funded)?;
    } else {
        println!(
            "funded {} with {} ({})",
            funded.address,
            group(funded.amount),
            funded.tx_hash
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `opmeter receipt HASH [--trace [--blocks] [--names FILE]…]`.
async fn receipt(
    s: &Session<'_>,
    text: &str,
    trace: bool,
    blocks: bool,
    names: &[PathBuf],
) -> anyhow::Result<ExitCode> {
    let tx_hash = hash(text)?;
    let names = names
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            opmeter_sdk_build::FunctionNames::from_json(&text)
                .map_err(|e| anyhow!("{} is not a names file: {e}", path.display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let receipt = s
        .client
        .tx_receipt(tx_hash)
        .await
        .map_err(|x| s.explain(x))?;
    let Some(receipt) = receipt else {
        let pending = s.client.tx_get(tx_hash).await.map_err(|x| s.explain(x))?;
        match pending {
            Some(_) => bail!("{tx_hash} is pending: try again in a moment"),
            None => bail!("no transaction {tx_hash} on this node: check the hash and --rpc"),
        }
    };
    if !trace {
        return finish_receipt(s.opts, &receipt);
    }
    let args = TraceArgs {
        blocks,
        ..TraceArgs::default()
    };
    let mut view = with_spinner(s.opts, "tracing", s.client.audit_trace(tx_hash, Some(args)))
        .await
        .map_err(|x| s.explain(x))?
        .ok_or_else(|| anyhow!("no committed transaction {tx_hash} on this node"))?;
    for named in &names {
        view.name_functions(
            &opmeter_ledger::encoding::Hash32(named.code_hash.0),
            &named.functions,
        );
    }
    if s.opts.json {
        print_json(&json!({ "receipt": receipt, "trace": view }))?;
    } else {
        print_receipt(&receipt);
        println!();
        print_trace(&view);
    }
    Ok(exit_for(receipt.status_code))
}

/// `opmeter audit HASH [--bundle FILE]`: replay and compare; exits 1 on any difference.
async fn audit(s: &Session<'_>, text: &str, bundle: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let tx_hash = hash(text)?;
    let report = with_spinner(s.opts, "replaying", s.client.audit_replay(tx_hash))
        .await
        .map_err(|x| s.explain(x))?
        .ok_or_else(|| {
            anyhow!("no committed transaction {tx_hash} on this node: check the hash and --rpc")
        })?;
    if let Some(path) = &bundle {
        let document = s
            .client
            .audit_bundle(tx_hash)
            .await
            .map_err(|x| s.explain(x))?
            .ok_or_else(|| anyhow!("no committed transaction {tx_hash} on this node"))?;
        std::fs::write(path, serde_json::to_vec_pretty(&document)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if s.opts.json {
        print_json(&report)?;
    } else {
        print_replay(&report);
        if let Some(path) = &bundle {
            println!("bundle saved to {}", path.display());
            println!("next: opmeter verify {}", path.display());
        }
    }
    Ok(if report.matches {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `opmeter block [ID] [--txs]`.
async fn block(s: &Session<'_>, id: Option<String>, txs: bool) -> anyhow::Result<ExitCode> {
    let id = match id.as_deref() {
        None | Some("latest") => BlockId::Hash("latest".into()),
        Some(text) if text.starts_with("0x") => BlockId::Hash(text.into()),
        Some(text) => BlockId::Height(
            text.parse()
                .map_err(|_| anyhow!("a block is a height, a 0x hash, or `latest`"))?,
        ),
    };
    let block = s
        .client
        .chain_get_block(id, Some(txs))
        .await
        .map_err(|x| s.explain(x))?
        .ok_or_else(|| {
            anyhow!("no such block (above the head?); `opmeter block` shows the head")
        })?;
    if s.opts.json {
        print_json(&block)?;
    } else {
        let h = &block.header;
        println!("block #{} {}", h.height, h.hash);
        println!("  parent      {}", h.parent_hash);
        if let Some(commit) = &block.last_commit {
            println!(
                "  last commit {} (block #{}, round {}, {} precommits)",
                h.last_commit_hash,
                commit.height,
                commit.round,
                commit.signatures.len()
            );
        }
        println!("  time (ms)   {}", h.timestamp_ms);
        println!("  state root  {}", h.state_root);
        println!("  gas used    {}", group(h.gas_used));
        println!("  txs         {}", h.tx_count);
        for hash in &block.transaction_hashes {
            println!("    {hash}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
