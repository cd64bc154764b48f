//! The client side of the `opmeter` CLI: keys, and commands that talk to a node over JSON-RPC
//! (through the typed client of `opmeter_rpc`).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use ed25519_dalek::SigningKey;
use indicatif::{ProgressBar, ProgressStyle};
use opmeter_rpc::audit::{
    FieldCheck, FrameTraceView, ReplayReport, TraceArgs, TraceEntryView, TraceView,
};
use opmeter_rpc::client::{http, json_input, ClientError, HttpClient, OpmeterApiClient, Signer};
use opmeter_rpc::{BlockId, CallArgs, ReceiptView};
use opmeter_vm::{Address, U256};
use serde_json::{json, Value};

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

/// A key file: `~/.opmeter/keys/NAME.json`, readable by its owner only.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyFile {
    name: String,
    address: Address,
    public_key: String,
    secret_key: String,
}

pub(crate) fn keys_dir(opts: &ClientOpts) -> PathBuf {
    opts.keys_dir.clone().unwrap_or_else(|| {
        std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."))
            .join(".opmeter")
            .join("keys")
    })
}

fn key_path(dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        bail!("key names use letters, digits, `-` and `_` (got `{name}`)");
    }
    Ok(dir.join(format!("{name}.json")))
}

/// Loads the key `name` (`dev` is the development account's well-known key).
pub(crate) fn load_key(opts: &ClientOpts, name: &str) -> anyhow::Result<SigningKey> {
    if name == "dev" {
        return Ok(crate_dev_key());
    }
    let path = key_path(&keys_dir(opts), name)?;
    let text = std::fs::read_to_string(&path).map_err(|_| {
        anyhow!(
            "no key `{name}` in {}: create it with `opmeter keys new {name}`, or pass --key dev",
            keys_dir(opts).display()
        )
    })?;
    let file: KeyFile = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a key file", path.display()))?;
    let bytes: [u8; 32] = hex::decode(file.secret_key.trim_start_matches("0x"))
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| anyhow!("{}: secretKey is not 32 bytes of hex", path.display()))?;
    Ok(SigningKey::from_bytes(&bytes))
}

fn crate_dev_key() -> SigningKey {
    opmeter_node::genesis::dev_key()
}

fn address_of(key: &SigningKey) -> Address {
    Address::for_public_key(&key.verifying_key().to_bytes())
}

/// `keys new NAME`: a fresh random key written with mode 0600.
pub(crate) fn keys_new(opts: &ClientOpts, name: &str) -> anyhow::Result<()> {
    if name == "dev" {
        bail!("`dev` is the built-in development key; choose another name");
    }
    let dir = keys_dir(opts);
    let path = key_path(&dir, name)?;
    if path.exists() {
        bail!(
            "key `{name}` already exists at {}; choose another name",
            path.display()
        );
    }
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| anyhow!("no randomness for a key: {e}"))?;
    let key = SigningKey::from_bytes(&secret);
    let file = KeyFile {
        name: name.into(),
        address: address_of(&key),
        public_key: format!("0x{}", hex::encode(key.verifying_key().to_bytes())),
        secret_key: format!("0x{}", hex::encode(secret)),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    write_private(&path, serde_json::to_string_pretty(&file)?.as_bytes())?;
    if opts.json {
        println!(
            "{}",
            json!({"name": name, "address": file.address, "publicKey": file.public_key, "path": path})
        );
    } else {
        println!("key `{name}` saved to {}", path.display());
        println!("  address     {}", file.address);
        println!("  public key  {}", file.public_key);
        println!(
            "fund it with: opmeter transfer {} 1000000000 --key dev",
            file.address
        );
    }
    Ok(())
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(bytes)?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// `keys show [NAME]`.
pub(crate) fn keys_show(opts: &ClientOpts, name: Option<&str>) -> anyhow::Result<()> {
    let name = name.unwrap_or(&opts.key);
    let key = load_key(opts, name)?;
    let address = address_of(&key);
    let public_key = format!("0x{}", hex::encode(key.verifying_key().to_bytes()));
    if opts.json {
        println!(
            "{}",
            json!({"name": name, "address": address, "publicKey": public_key})
        );
    } else {
        println!("key `{name}`");
        println!("  address     {address}");
        println!("  public key  {public_key}");
    }
    Ok(())
}

/// An address given as `0x…` or as a key name.
pub(crate) fn resolve_address(opts: &ClientOpts, text: &str) -> anyhow::Result<Address> {
    if text.starts_with("0x") {
        return Address::from_hex(text)
            .map_err(|e| anyhow!("`{text}` is not a 32-byte 0x address: {e}"));
    }
    Ok(address_of(&load_key(opts, text)?))
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
            let reason = object
                .data()
                .and_then(|d| serde_json::from_str::<Value>(d.get()).ok())
                .and_then(|d| d.get("reason").and_then(|r| r.as_str()).map(String::from))
                .unwrap_or_default();
            let next = match (object.code(), reason.as_str()) {
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
pub(crate) fn client(opts: &ClientOpts) -> anyhow::Result<HttpClient> {
    http(&opts.rpc).map_err(|e| anyhow!("--rpc `{}` is not a usable URL: {e}", opts.rpc))
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn group(n: &str) -> String {
    let digits: Vec<char> = n.chars().collect();
    let mut out = String::new();
    for (i, c) in digits.iter().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(*c);
    }
    out
}

fn percent(part: u128, total: u128) -> String {
    if total == 0 {
        return "-".into();
    }
    let tenths = part * 1000 / total;
    format!("{}.{}%", tenths / 10, tenths % 10)
}

fn output_text(hex0x: &str) -> String {
    let bytes = hex::decode(hex0x.trim_start_matches("0x")).unwrap_or_default();
    match std::str::from_utf8(&bytes) {
        Ok(text) if !text.is_empty() && !text.chars().any(|c| c.is_control()) => text.into(),
        _ if bytes.is_empty() => "(none)".into(),
        _ => hex0x.into(),
    }
}

/// Prints a receipt with its gas breakdown as a table.
pub(crate) fn print_receipt(receipt: &ReceiptView) {
    let used: u128 = receipt.gas_used.parse().unwrap_or(0);
    let limit: u128 = receipt.gas_limit.parse().unwrap_or(0);
    println!("transaction {}", receipt.tx_hash);
    let status = match receipt.trap_code {
        Some(code) => format!("{} (trap code {code})", receipt.status),
        None => receipt.status.clone(),
    };
    println!("  status      {status}");
    println!(
        "  block       #{} (index {})",
        receipt.height, receipt.index
    );
    println!("  sender      {}", receipt.sender);
    if let Some(address) = receipt.contract_address {
        println!("  contract    {address}");
    }
    println!(
        "  gas used    {} of {} ({})",
        group(&receipt.gas_used),
        group(&receipt.gas_limit),
        percent(used, limit)
    );
    println!(
        "  fee         {} (gas price {})",
        group(&receipt.fee),
        receipt.gas_price
    );
    println!("  output      {}", output_text(&receipt.output));
    for (i, event) in receipt.events.iter().enumerate() {
        println!(
            "  event {i}     {} topics [{}] data {}",
            event.contract,
            event.topics.join(", "),
            event.data
        );
    }
    println!();
    println!("  {:<20} {:>14} {:>7}", "gas breakdown", "gas", "share");
    let mut total: u128 = 0;
    for (category, gas) in &receipt.gas_breakdown {
        let gas_n: u128 = gas.parse().unwrap_or(0);
        total += gas_n;
        println!(
            "  {:<20} {:>14} {:>7}",
            category,
            group(gas),
            percent(gas_n, used)
        );
    }
    println!(
        "  {:<20} {:>14} {:>7}",
        "total",
        group(&total.to_string()),
        percent(total, used)
    );
}

/// Renders a gas trace as an indented tree: one line per frame, function, host function and
/// charge, with its inclusive gas (functions also show their own instructions' gas).
pub(crate) fn print_trace(view: &TraceView) {
    println!("gas trace ({} gas, {})", group(&view.gas_used), view.status);
    println!(
        "{:<60} {:>14}",
        "  transaction (intrinsic)",
        group(&view.intrinsic_gas)
    );
    match &view.root {
        Some(root) => print_frame(root, 1),
        None => println!("  (no code ran)"),
    }
    if view.truncated {
        println!("  (truncated: folded entries still count)");
    }
    if !view.blocks.is_empty() {
        println!();
        println!("most expensive metered blocks:");
        println!(
            "  {:<40} {:>6} {:>10} {:>8} {:>14}",
            "function", "site", "hits", "instrs", "gas"
        );
        for b in &view.blocks {
            println!(
                "  {:<40} {:>6} {:>10} {:>8} {:>14}",
                shorten(&b.name, 40),
                b.site,
                b.hits,
                b.instructions,
                group(&b.gas)
            );
        }
        if view.blocks_truncated {
            println!("  (more blocks ran)");
        }
    }
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() > max {
        format!("{}…", text.chars().take(max - 1).collect::<String>())
    } else {
        text.to_string()
    }
}

fn print_line(depth: usize, label: &str, gas: &str) {
    let label = format!("{}{}", "  ".repeat(depth + 1), label);
    println!("{:<60} {:>14}", shorten(&label, 60), group(gas));
}

fn print_frame(frame: &FrameTraceView, depth: usize) {
    let times = if frame.calls > 1 {
        format!(" ×{}", frame.calls)
    } else {
        String::new()
    };
    let label = format!(
        "▸ {}.{}{} ({})",
        shorten(&frame.contract.to_hex(), 12),
        frame.method,
        times,
        frame.status
    );
    print_line(depth, &label, &frame.gas_used);
    for entry in &frame.entries {
        print_entry(entry, depth + 1);
    }
}

fn print_entry(entry: &TraceEntryView, depth: usize) {
    let times = |calls: u64| {
        if calls > 1 {
            format!(" ×{calls}")
        } else {
            String::new()
        }
    };
    match entry {
        TraceEntryView::Charge { category, gas } => print_line(depth, category, gas),
        TraceEntryView::Function {
            name,
            calls,
            gas,
            instructions_gas,
            children,
            ..
        } => {
            let label = format!(
                "{}{} [self {}]",
                name,
                times(*calls),
                group(instructions_gas)
            );
            print_line(depth, &label, gas);
            for child in children {
                print_entry(child, depth + 1);
            }
        }
        TraceEntryView::Host {
            function,
            calls,
            gas,
            storage_bytes_gas,
            callees,
        } => {
            let mut label = format!("host {function}{}", times(*calls));
            if storage_bytes_gas != "0" {
                label.push_str(&format!(" (+{} storage bytes)", group(storage_bytes_gas)));
            }
            print_line(depth, &label, gas);
            for callee in callees {
                print_frame(callee, depth + 1);
            }
        }
        TraceEntryView::Truncated { gas, .. } => print_line(depth, "(truncated)", gas),
    }
}

fn print_checks(fields: &[FieldCheck]) {
    println!("  {:<28} {:<24} {:<24}", "field", "stored", "re-executed");
    for f in fields {
        let short = |text: &str| {
            if text.chars().count() > 24 {
                format!("{}…", text.chars().take(23).collect::<String>())
            } else {
                text.to_string()
            }
        };
        println!(
            "  {:<28} {:<24} {:<24} {}",
            f.field,
            short(&f.stored),
            short(&f.replayed),
            if f.matches { "ok" } else { "DIFFERS" }
        );
    }
}

fn print_replay(report: &ReplayReport) {
    println!(
        "replay of {} (block #{}, index {}, {} transactions re-executed)",
        report.tx_hash, report.height, report.index, report.replayed_transactions
    );
    print_checks(&report.fields);
    match &report.first_difference {
        None => println!("MATCH: every field re-derives exactly"),
        Some(f) => println!(
            "DIFFERS: first difference {}: stored {}, re-executed {}",
            f.field, f.stored, f.replayed
        ),
    }
}

/// `opmeter verify FILE`: checks a bundle offline with the vm alone (no node, no database);
/// exits 1 when it is invalid or its receipt does not re-derive.
pub(crate) fn verify(file: &Path, json: bool) -> anyhow::Result<std::process::ExitCode> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let bundle: opmeter_rpc::audit::Bundle = serde_json::from_str(&text).map_err(|x| {
        anyhow!(
            "{} is not a bundle ({x}); get one with `opmeter audit TX --bundle FILE`",
            file.display()
        )
    })?;
    let vm = opmeter_vm::Vm::new(opmeter_vm::Schedule::v1());
    let verdict = opmeter_rpc::audit::verify_bundle(&bundle, &vm);
    if json {
        let value = match &verdict {
            Ok(v) => json!({
                "valid": true,
                "matches": v.matches(),
                "blockHash": v.block_hash.to_hex(),
                "height": v.height,
                "txHash": v.tx_hash.to_hex(),
                "index": v.index,
                "executed": v.executed,
                "readsProven": v.reads_proven,
                "fields": v.fields,
                "firstDifference": v.first_difference(),
            }),
            Err(error) => json!({ "valid": false, "matches": false, "error": error.to_string() }),
        };
        print_json(&value)?;
    } else {
        match &verdict {
            Ok(v) => {
                println!(
                    "bundle of {} (block #{} {}, index {})",
                    v.tx_hash.to_hex(),
                    v.height,
                    v.block_hash.to_hex(),
                    v.index
                );
                println!(
                    "  {} state values proven against the parent state root, {} transaction(s) re-executed",
                    v.reads_proven, v.executed
                );
                print_checks(&v.fields);
                match v.first_difference() {
                    None => println!("MATCH: the receipt re-derives exactly; compare the block hash with a source you trust"),
                    Some(f) => println!(
                        "DIFFERS: first difference {}: stored {}, re-executed {}",
                        f.field, f.stored, f.replayed
                    ),
                }
            }
            Err(error) => println!("INVALID: {error}"),
        }
    }
    Ok(match verdict {
        Ok(v) if v.matches() => std::process::ExitCode::SUCCESS,
        _ => std::process::ExitCode::from(1),
    })
}

/// The client commands.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum ClientCommand {
    /// Balance and nonce of an account (an address or a key name; default: --key).
    Account {
        /// `0x` address or key name.
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
    },
    /// Run a method read-only (free, nothing is written).
    Call {
        /// The contract address.
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
        /// The contract address.
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
    /// Move value to an address (or a key name) and wait for the receipt.
    Transfer {
        /// Recipient: `0x` address or key name.
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
    /// Show a block (default: the head).
    Block {
        /// Height, `0x` hash, or `latest`.
        id: Option<String>,
        /// Include the transactions.
        #[arg(long)]
        txs: bool,
    },
}

fn decimal(what: &str, text: &str) -> anyhow::Result<U256> {
    opmeter_rpc::api::decode_amount(what, text).map_err(|e| anyhow!("{} (got `{text}`)", e.message))
}

fn finish_receipt(
    opts: &ClientOpts,
    receipt: &ReceiptView,
) -> anyhow::Result<std::process::ExitCode> {
    if opts.json {
        print_json(receipt)?;
    } else {
        print_receipt(receipt);
    }
    // A transaction that ran but did not succeed is a result, reported with exit code 1.
    Ok(if receipt.status_code == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(1)
    })
}

/// Runs a client command.
pub(crate) async fn run(
    opts: &ClientOpts,
    command: ClientCommand,
) -> anyhow::Result<std::process::ExitCode> {
    let client = client(opts)?;
    let e = |error: ClientError| explain(error, opts);
    match command {
        ClientCommand::Account { who, height } => {
            let address = resolve_address(opts, who.as_deref().unwrap_or(&opts.key))?;
            let account = client
                .account_get(address, height)
                .await
                .map_err(|x| e(x.into()))?;
            if opts.json {
                print_json(&account)?;
            } else {
                println!("account {}", account.address);
                println!("  balance     {}", group(&account.balance));
                println!(
                    "  nonce       {} ({} with pending)",
                    account.nonce, account.pending_nonce
                );
                if let Some(code_hash) = &account.code_hash {
                    println!("  code hash   {code_hash}");
                }
                println!("  at height   #{}", account.height);
            }
            Ok(std::process::ExitCode::SUCCESS)
        }
        ClientCommand::Deploy {
            file,
            init,
            salt,
            gas_limit,
        } => {
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
            let signer = Signer::new(&client, load_key(opts, &opts.key)?)
                .await
                .map_err(e)?;
            let payload = opmeter_rpc::tx::Payload::Deploy {
                code,
                init_input: json_input(&args),
                salt,
                value: U256::zero(),
            };
            let receipt = with_spinner(opts, "deploying", signer.send(payload, gas_limit))
                .await
                .map_err(e)?;
            finish_receipt(opts, &receipt)
        }
        ClientCommand::Call {
            contract,
            method,
            args,
            height,
            gas_limit,
        } => {
            let contract = resolve_address(opts, &contract)?;
            let args = parse_args("ARGS", args.as_deref())?;
            let from = Some(address_of(&load_key(opts, &opts.key)?));
            let call = CallArgs {
                from,
                contract,
                method,
                args: Some(args).filter(|a| !a.is_null()),
                gas_limit: gas_limit.map(|g| g.to_string()),
                ..CallArgs::default()
            };
            let result = client
                .contract_call(call, height)
                .await
                .map_err(|x| e(x.into()))?;
            if opts.json {
                print_json(&result)?;
            } else {
                match result.trap_code {
                    Some(code) => println!("status      {} (trap code {code})", result.status),
                    None => println!("status      {}", result.status),
                }
                println!("output      {}", output_text(&result.output));
                println!("gas used    {}", group(&result.gas_used));
                for (category, gas) in &result.gas_breakdown {
                    println!("  {category:<18} {:>12}", group(gas));
                }
                for event in &result.events {
                    println!(
                        "event       topics [{}] data {}",
                        event.topics.join(", "),
                        event.data
                    );
                }
                for line in &result.logs {
                    println!("log         {line}");
                }
            }
            Ok(if result.status_code == 0 {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::from(1)
            })
        }
        ClientCommand::Send {
            contract,
            method,
            args,
            value,
            gas_limit,
        } => {
            let contract = resolve_address(opts, &contract)?;
            let args = parse_args("ARGS", args.as_deref())?;
            let value = decimal("--value", &value)?;
            let signer = Signer::new(&client, load_key(opts, &opts.key)?)
                .await
                .map_err(e)?;
            let payload = opmeter_rpc::tx::Payload::Call {
                contract,
                method,
                input: json_input(&args),
                value,
            };
            let receipt = with_spinner(opts, "sending", signer.send(payload, gas_limit))
                .await
                .map_err(e)?;
            finish_receipt(opts, &receipt)
        }
        ClientCommand::Transfer { to, amount } => {
            let to = resolve_address(opts, &to)?;
            let amount = decimal("AMOUNT", &amount)?;
            let signer = Signer::new(&client, load_key(opts, &opts.key)?)
                .await
                .map_err(e)?;
            let receipt = with_spinner(opts, "transferring", signer.transfer(to, amount))
                .await
                .map_err(e)?;
            finish_receipt(opts, &receipt)
        }
        ClientCommand::Fund { to, amount } => {
            let to = resolve_address(opts, &to)?;
            decimal("AMOUNT", &amount)?;
            let funded = with_spinner(opts, "funding", client.dev_fund(to, amount))
                .await
                .map_err(|x| e(x.into()))?;
            if opts.json {
                print_json(&funded)?;
            } else {
                println!(
                    "funded {} with {} ({})",
                    funded.address,
                    group(&funded.amount),
                    funded.tx_hash
                );
            }
            Ok(std::process::ExitCode::SUCCESS)
        }
        ClientCommand::Receipt {
            hash,
            trace,
            blocks,
        } => {
            let receipt = client
                .tx_receipt(hash.clone())
                .await
                .map_err(|x| e(x.into()))?;
            match receipt {
                Some(receipt) if trace => {
                    let args = TraceArgs {
                        blocks,
                        ..TraceArgs::default()
                    };
                    let view = with_spinner(
                        opts,
                        "tracing",
                        client.audit_trace(hash.clone(), Some(args)),
                    )
                    .await
                    .map_err(|x| e(x.into()))?
                    .ok_or_else(|| anyhow!("no committed transaction {hash} on this node"))?;
                    if opts.json {
                        print_json(&json!({ "receipt": receipt, "trace": view }))?;
                    } else {
                        print_receipt(&receipt);
                        println!();
                        print_trace(&view);
                    }
                    Ok(if receipt.status_code == 0 {
                        std::process::ExitCode::SUCCESS
                    } else {
                        std::process::ExitCode::from(1)
                    })
                }
                Some(receipt) => finish_receipt(opts, &receipt),
                None => {
                    let pending = client.tx_get(hash.clone()).await.map_err(|x| e(x.into()))?;
                    match pending {
                        Some(_) => bail!("{hash} is pending: try again in a moment"),
                        None => {
                            bail!("no transaction {hash} on this node: check the hash and --rpc")
                        }
                    }
                }
            }
        }
        ClientCommand::Audit { hash, bundle } => {
            let report = with_spinner(opts, "replaying", client.audit_replay(hash.clone()))
                .await
                .map_err(|x| e(x.into()))?
                .ok_or_else(|| {
                    anyhow!(
                        "no committed transaction {hash} on this node: check the hash and --rpc"
                    )
                })?;
            if let Some(path) = &bundle {
                let document = client
                    .audit_bundle(hash.clone())
                    .await
                    .map_err(|x| e(x.into()))?
                    .ok_or_else(|| anyhow!("no committed transaction {hash} on this node"))?;
                std::fs::write(path, serde_json::to_vec_pretty(&document)?)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            if opts.json {
                print_json(&report)?;
            } else {
                print_replay(&report);
                if let Some(path) = &bundle {
                    println!("bundle saved to {}", path.display());
                    println!("next: opmeter verify {}", path.display());
                }
            }
            Ok(if report.matches {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::from(1)
            })
        }
        ClientCommand::Block { id, txs } => {
            let id = match id.as_deref() {
                None | Some("latest") => BlockId::Hash("latest".into()),
                Some(text) if text.starts_with("0x") => BlockId::Hash(text.into()),
                Some(text) => BlockId::Height(
                    text.parse()
                        .map_err(|_| anyhow!("a block is a height, a 0x hash, or `latest`"))?,
                ),
            };
            let block = client
                .chain_get_block(id, Some(txs))
                .await
                .map_err(|x| e(x.into()))?
                .ok_or_else(|| {
                    anyhow!("no such block (above the head?); `opmeter block` shows the head")
                })?;
            if opts.json {
                print_json(&block)?;
            } else {
                let h = &block.header;
                println!("block #{} {}", h.height, h.hash);
                println!("  parent      {}", h.parent_hash);
                println!("  time (ms)   {}", h.timestamp_ms);
                println!("  state root  {}", h.state_root);
                println!("  gas used    {}", group(&h.gas_used));
                println!("  txs         {}", h.tx_count);
                for hash in &block.transaction_hashes {
                    println!("    {hash}");
                }
            }
            Ok(std::process::ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_digits_and_percentages() {
        assert_eq!(group("1234567"), "1,234,567");
        assert_eq!(group("123"), "123");
        assert_eq!(percent(1, 3), "33.3%");
        assert_eq!(percent(0, 0), "-");
        assert_eq!(output_text("0x37"), "7");
        assert_eq!(output_text("0x"), "(none)");
        assert_eq!(output_text("0x00ff"), "0x00ff");
    }
}
