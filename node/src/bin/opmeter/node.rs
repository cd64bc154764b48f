//! `opmeter node`: a node on RocksDB with its JSON-RPC server, until Ctrl-C or a node fault.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use opmeter_ledger::encoding::to_hex0x;
use opmeter_node::api::NodeBackend;
use opmeter_node::genesis::{address_of, dev_key, Genesis};
use opmeter_node::quota::{QuotaConfig, Quotas};
use opmeter_node::service::{BlockMode, Node, NodeConfig};
use opmeter_node::zk::{ProofService, ZkConfig};
use opmeter_prover::{Keys, Profile};
use opmeter_rpc::RpcConfig;
use opmeter_vm::Address;

/// What `opmeter node` takes.
#[derive(clap::Args)]
pub(crate) struct NodeArgs {
    /// Run as a validator of a replicated chain (Malachite BFT): runs `opmeter-validator node
    /// --home HOME`, built beside this binary. Write homes with `opmeter testnet`.
    #[arg(long, requires = "home")]
    validator: bool,
    /// The validator's home directory (key, config, data), with `--validator`.
    #[arg(long, requires = "validator")]
    home: Option<PathBuf>,
    /// Where the chain's RocksDB lives (created when missing; reopened on restart).
    #[arg(long, env = "OPMETER_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// A genesis file (JSON) for a new chain; without it, the development genesis.
    #[arg(long)]
    genesis: Option<PathBuf>,
    /// Produce a block every interval (e.g. `500ms`, `2s`) instead of one per batch.
    #[arg(long, value_parser = parse_duration)]
    block_time: Option<Duration>,
    /// Most pending transactions; more are refused with `mempoolFull` (1014). Bounds the memory
    /// and disk a flood of valid transactions can take before blocks drain them.
    #[arg(long, default_value_t = opmeter_node::mempool::MempoolConfig::default().max_txs)]
    mempool_max_txs: u32,
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
    /// Most open sockets (WebSocket sessions included) of one client address (IPv4, or IPv6 /64).
    #[arg(long, default_value_t = RpcConfig::default().max_connections_per_client)]
    rpc_max_connections_per_client: u32,
    /// Sockets kept for clients that hold none yet (at most half of --rpc-max-connections).
    #[arg(long, default_value_t = RpcConfig::default().connections_reserved)]
    rpc_connections_reserved: u32,
    /// How long a socket may take to send a request header, from its connection or its last
    /// response (e.g. `500ms`, `10s`); idle sockets are closed after it.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    rpc_header_timeout: Duration,
    /// How long a request body may take to arrive in full after its header (e.g. `500ms`,
    /// `30s`); past it the request is answered 2012 (HTTP 408) and the socket closed.
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    rpc_body_timeout: Duration,
    /// Most subscriptions per WebSocket connection.
    #[arg(long, default_value_t = RpcConfig::default().max_subscriptions_per_connection)]
    rpc_max_subscriptions: u32,
    /// Most gas of one read-only call (`contract_call`, and the cap of gas estimates).
    #[arg(long, default_value_t = RpcConfig::default().call_gas_max)]
    rpc_call_gas_max: u64,
    /// Wall-clock limit of one read-only execution (`contract_call`, `contract_traceCall`, an
    /// estimate's executions together), e.g. `500ms`, `2s`; past it the execution is stopped.
    /// Never applies to transactions in blocks.
    #[arg(long, value_parser = parse_duration, default_value = "2s")]
    rpc_call_time_max: Duration,
    /// Daily read-only gas of every contract (rolling 24 h, over all callers; 0: unlimited).
    #[arg(long, default_value_t = DEFAULT_QUOTA_DAILY_GAS)]
    quota_daily_gas: u64,
    /// A contract's own daily read-only gas, `0xADDRESS=GAS` (repeatable; GAS 0: unlimited).
    #[arg(long = "quota", value_parser = parse_quota)]
    quotas: Vec<(Address, u64)>,
    /// Read-only execution budget per client IP, in gas per second (0: unlimited).
    #[arg(long, default_value_t = RpcConfig::default().read_gas_per_second)]
    rpc_read_gas_per_second: u64,
    /// Burst of the read-only budget, in gas.
    #[arg(long, default_value_t = RpcConfig::default().read_gas_burst)]
    rpc_read_gas_burst: u64,
    /// Route by host name: a request to `NAME.DOMAIN` (e.g. `hello.example.test`) is a gateway
    /// call of the contract named NAME, `GET|POST /METHOD` (point `*.DOMAIN` at this node).
    #[arg(long, value_parser = parse_domain)]
    http_domain: Option<String>,
    /// Log format on stderr: `text`, or `json` (one object per line; a request's lines carry
    /// its `request` span with the id also returned in `opmeter-request-id`).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Where the zk proving keys are (`<dir>/<profile>/…` from `opmeter zk setup`; default:
    /// `<data dir>/zk`).
    #[arg(long)]
    zk_keys: Option<PathBuf>,
    /// Profiles to serve proofs in, comma-separated (`s,m`), or `none` (default: every profile
    /// with keys in the keys directory).
    #[arg(long)]
    zk_profiles: Option<String>,
    /// Most prove jobs waiting; more are refused with `proverBusy`.
    #[arg(long, default_value_t = opmeter_node::zk::ZkConfig::QUEUE_MAX)]
    zk_queue: usize,
    /// Most of those waiting jobs from one client address; more are refused with `proverBusy`.
    #[arg(long, default_value_t = opmeter_node::zk::ZkConfig::QUEUE_PER_CLIENT_MAX)]
    zk_queue_per_client: usize,
    /// Do not wait for the disk on block commits (faster; a power loss can lose recent blocks,
    /// a killed process cannot).
    #[arg(long)]
    no_sync: bool,
}

/// How `opmeter node` writes its logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Default daily read-only gas of a contract: 10¹³ gas, hours of one core's compute.
const DEFAULT_QUOTA_DAILY_GAS: u64 = 10_000_000_000_000;

fn parse_quota(text: &str) -> Result<(Address, u64), String> {
    let (address, gas) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}`: expected 0xADDRESS=GAS"))?;
    let address = Address::from_hex(address.trim_start_matches("0x"))
        .map_err(|e| format!("`{address}`: not an address: {e}"))?;
    let gas = gas
        .parse()
        .map_err(|_| format!("`{gas}`: the gas must be a decimal integer"))?;
    Ok((address, gas))
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "ms"),
    };
    let value: u64 = number
        .parse()
        .map_err(|_| format!("`{text}`: expected a number with ms, s or m"))?;
    let duration = match unit {
        "ms" => Duration::from_millis(value),
        "s" => Duration::from_secs(value),
        "m" => Duration::from_secs(value * 60),
        _ => return Err(format!("`{text}`: unit must be ms, s or m")),
    };
    if duration.is_zero() {
        return Err(format!("`{text}`: the duration must be positive"));
    }
    Ok(duration)
}

fn default_data_dir() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".opmeter").join("dev")
}

/// Runs a node until Ctrl-C, or until its block producer stops on its own (a node fault: a
/// node that acknowledges transactions but can no longer commit them must not keep running).
pub(crate) fn run(args: NodeArgs) -> anyhow::Result<ExitCode> {
    if let (true, Some(home)) = (args.validator, &args.home) {
        let home = home.to_string_lossy().into_owned();
        return run_validator_binary(&["node".to_string(), "--home".to_string(), home]);
    }
    init_logging(args.log_format);
    let config = node_config(&args)?;
    let node = Node::open(&config).with_context(|| {
        format!(
            "opening the chain in {} (another genesis? choose another --data-dir)",
            config.data_dir.display()
        )
    })?;
    let validators = node.chain().genesis().validators.len();
    if validators > 0 {
        // Its blocks must carry the validators' commit certificates: one node cannot make them.
        bail!(
            "this chain's genesis lists {validators} validators: its blocks are decided by them, \
             so run `opmeter node --validator --home DIR` (see `opmeter testnet`), not a plain node"
        );
    }
    print_banner(&node, &config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let quotas = Quotas::open(
        &config.data_dir,
        QuotaConfig {
            daily_gas_default: args.quota_daily_gas,
            overrides: args.quotas.iter().copied().collect(),
        },
    )
    .context("opening the quota usage")?;
    let zk = zk_config(&args, &config.data_dir)?;
    print_zk(&zk);
    let prover = ProofService::start(zk);
    let backend = Arc::new(NodeBackend::with(
        Arc::clone(&node),
        Arc::clone(&quotas),
        Arc::clone(&prover),
    ));
    let (addr, server) = runtime
        .block_on(opmeter_rpc::serve(
            backend,
            &args.rpc_addr,
            rpc_config(&args),
        ))
        .with_context(|| format!("listening on {} (in use? pass --rpc-addr)", args.rpc_addr))?;
    println!("  rpc:        http://{addr} (ws://{addr})");
    println!("  gateway:    http://{addr}/v1/ (OpenAPI: /v1/openapi.json)");
    if let Some(domain) = &args.http_domain {
        println!("  by name:    http://NAME.{domain}:{}/METHOD", addr.port());
    }
    println!("  metrics:    http://{addr}/metrics");
    let producer = node.start(config.mode);
    // The warm set's codes (schedule v2) are compiled in the background, so the first calls
    // after a restart find them compiled; gas does not depend on it.
    let warming = Arc::clone(&node);
    std::thread::spawn(move || {
        let started = std::time::Instant::now();
        match warming.chain().precompile_warm_set() {
            Ok(compiled) => tracing::info!(
                compiled,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "warm set compiled"
            ),
            Err(e) => tracing::warn!("warm set not compiled: {e}"),
        }
    });
    runtime.block_on(wait_for_stop(|| {
        producer.as_ref().is_some_and(|p| p.is_finished())
    }));
    eprintln!("stopping");
    prover.stop();
    node.stop();
    if let Err(e) = quotas.save() {
        eprintln!("warning: {e}");
    }
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

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().with_current_span(true).init(),
    }
}

fn node_config(args: &NodeArgs) -> anyhow::Result<NodeConfig> {
    let genesis = match &args.genesis {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the genesis file {}", path.display()))?;
            Some(Genesis::from_json(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?)
        }
        None => None,
    };
    Ok(NodeConfig {
        data_dir: args.data_dir.clone().unwrap_or_else(default_data_dir),
        genesis,
        mode: match args.block_time {
            Some(every) => BlockMode::Interval(every),
            None => BlockMode::Instant,
        },
        sync_writes: !args.no_sync,
        mempool: opmeter_node::mempool::MempoolConfig {
            max_txs: args.mempool_max_txs,
            ..Default::default()
        },
    })
}

fn zk_config(args: &NodeArgs, data_dir: &std::path::Path) -> anyhow::Result<ZkConfig> {
    let keys_dir = args
        .zk_keys
        .clone()
        .unwrap_or_else(|| opmeter_node::zk::default_keys_dir(data_dir));
    let profiles = match args.zk_profiles.as_deref() {
        None => Profile::ALL
            .iter()
            .copied()
            .filter(|p| Keys::dir(&keys_dir, p).join("manifest.json").exists())
            .collect(),
        Some("none") | Some("") => Vec::new(),
        Some(list) => list
            .split(',')
            .map(|name| {
                Profile::by_name(name.trim()).ok_or_else(|| {
                    anyhow!("--zk-profiles: no profile `{name}` (code 3004, unknownProfile); profiles are s, m, l")
                })
            })
            .collect::<anyhow::Result<Vec<Profile>>>()?,
    };
    let mut config = ZkConfig::new(keys_dir, profiles);
    config.queue_max = args.zk_queue.max(1);
    config.queue_per_client_max = args.zk_queue_per_client.max(1);
    config.jobs_dir = Some(opmeter_node::zk::default_jobs_dir(data_dir));
    Ok(config)
}

fn print_zk(config: &ZkConfig) {
    if config.profiles.is_empty() {
        println!(
            "  zk:         no profiles (keys: `opmeter zk setup --profile s --dir {}`)",
            config.keys_dir.display()
        );
    } else {
        let names: Vec<&str> = config.profiles.iter().map(|p| p.name).collect();
        println!(
            "  zk:         profiles {} from {} (one proof at a time, queue {})",
            names.join(","),
            config.keys_dir.display(),
            config.queue_max
        );
    }
}

fn rpc_config(args: &NodeArgs) -> RpcConfig {
    RpcConfig {
        max_request_body_bytes: args.rpc_max_body_bytes,
        max_response_body_bytes: args.rpc_max_response_bytes,
        max_batch_len: args.rpc_max_batch,
        max_connections: args.rpc_max_connections,
        max_connections_per_client: args.rpc_max_connections_per_client,
        connections_reserved: args.rpc_connections_reserved,
        header_timeout: args.rpc_header_timeout,
        body_timeout: args.rpc_body_timeout,
        max_subscriptions_per_connection: args.rpc_max_subscriptions,
        call_gas_max: args.rpc_call_gas_max,
        call_time_max: args.rpc_call_time_max,
        read_gas_per_second: args.rpc_read_gas_per_second,
        read_gas_burst: args.rpc_read_gas_burst,
        http_domain: args.http_domain.clone(),
        ..RpcConfig::default()
    }
}

/// `--http-domain`: a DNS name (labels of letters, digits and `-`), lowercased, without a
/// trailing dot.
fn parse_domain(text: &str) -> Result<String, String> {
    let domain = text.trim_end_matches('.').to_ascii_lowercase();
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if domain.is_empty() || !domain.split('.').all(label_ok) {
        return Err(format!("`{text}` is not a domain name (e.g. example.test)"));
    }
    Ok(domain)
}

fn print_banner(node: &Node, config: &NodeConfig) {
    let head = node.head();
    let genesis = node.chain().genesis();
    println!("opmeter node");
    println!("  chain id:   {}", genesis.chain_id);
    println!("  data dir:   {}", config.data_dir.display());
    println!("  head:       #{} {}", head.header.height, head.hash);
    match config.mode {
        BlockMode::Interval(every) => println!("  blocks:     every {} ms", every.as_millis()),
        _ => println!("  blocks:     instant (one per batch of transactions)"),
    }
    if genesis.dev {
        let key = dev_key();
        println!("  dev account {}", address_of(&key));
        println!(
            "  dev key     {} (public; development only)",
            to_hex0x(&key.to_bytes())
        );
    }
}

/// Returns on Ctrl-C, or once `stopped()` says the node stopped by itself.
async fn wait_for_stop(stopped: impl Fn() -> bool) {
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = &mut ctrl_c => return,
            _ = tokio::time::sleep(Duration::from_millis(250)) => {
                if stopped() {
                    return;
                }
            }
        }
    }
}

/// Runs `opmeter-validator` (built beside this binary; it links Malachite, which the plain node
/// does not) with `args`, replacing this process on Unix.
pub(crate) fn run_validator_binary(args: &[String]) -> anyhow::Result<ExitCode> {
    let binary = std::env::current_exe()
        .context("locating this binary")?
        .with_file_name("opmeter-validator");
    if !binary.exists() {
        bail!(
            "{} is not built: `cargo build --release -p opmeter-validator` (or ./scripts/testnet.sh, which builds it)",
            binary.display()
        );
    }
    let mut command = std::process::Command::new(&binary);
    command.args(args);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt as _;
        let error = command.exec();
        bail!("running {}: {error}", binary.display())
    }
    #[cfg(not(unix))]
    {
        let status = command.status().context("running opmeter-validator")?;
        Ok(if status.success() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    }
}
