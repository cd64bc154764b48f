//! Read-only `contract_call` throughput over HTTP with concurrent clients, next to a trivial
//! method (`chain_head`) of the same server and the HTTP gateway's `GET /v1/c/{counter}/get` in
//! the same run. The node, its RocksDB and the server run in this process on real sockets;
//! clients are `jsonrpsee` HTTP clients and, for the gateway, plain `hyper` HTTP/1.1 clients
//! (keep-alive, one connection each; sharing the machine's cores with the server).
//!
//! Run: `cargo bench -p opmeter-benches --bench rpc`. Criterion reports elements/s = requests/s.
#![allow(missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use opmeter_ledger::block::ReceiptStatus;
use opmeter_ledger::tx::Wallet;
use opmeter_node::api::NodeBackend;
use opmeter_node::genesis::dev_key;
use opmeter_node::service::{BlockMode, Node, NodeConfig};
use opmeter_rpc::client::{http, HttpClient, OpmeterApiClient};
use opmeter_rpc::{CallArgs, RpcConfig};
use opmeter_tests::contract;
use opmeter_vm::Address;

/// Concurrent HTTP clients (one connection each).
const CLIENTS: usize = 32;

/// A plain HTTP/1.1 client of the gateway.
type GatewayClient = Client<HttpConnector, Empty<Bytes>>;

struct Bench {
    _dir: tempfile::TempDir,
    _node: Arc<Node>,
    runtime: tokio::runtime::Runtime,
    clients: Vec<Arc<HttpClient>>,
    gateway: Vec<Arc<GatewayClient>>,
    url: String,
    counter: Address,
}

/// What one benchmark request is.
#[derive(Clone, Copy)]
enum Request {
    /// JSON-RPC `chain_head`.
    Head,
    /// JSON-RPC `contract_call` of `counter.get`.
    Call,
    /// Gateway `GET /v1/c/{counter}/get`.
    Gateway,
}

fn setup() -> Bench {
    let dir = tempfile::tempdir().unwrap();
    let mut config = NodeConfig::dev(dir.path());
    config.mode = BlockMode::Manual;
    let node = Node::open(&config).unwrap();
    let mut wallet = Wallet::new(dev_key(), "opmeter-dev");
    wallet.gas_limit = 50_000_000;
    let deploy = wallet.deploy(contract("counter"), r#"{"start": 41}"#, b"");
    node.submit(&deploy.encode()).unwrap();
    let receipt = &node.produce_block(false).unwrap().unwrap().receipts[0];
    assert_eq!(receipt.status, ReceiptStatus::Success);
    let counter = receipt.contract_address.unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let backend = Arc::new(NodeBackend::new(Arc::clone(&node)));
    let rpc = RpcConfig {
        // Measuring throughput, not the per-client budget.
        read_gas_per_second: 0,
        max_connections: 1024,
        max_connections_per_client: 1024,
        // Keep-alive connections stay open across criterion's pauses.
        header_timeout: Duration::from_secs(3600),
        ..RpcConfig::default()
    };
    let (addr, server) = runtime
        .block_on(opmeter_rpc::serve(backend, "127.0.0.1:0", rpc))
        .unwrap();
    std::mem::forget(server);
    let url = format!("http://{addr}");
    let clients = (0..CLIENTS)
        .map(|_| Arc::new(http(&url).unwrap()))
        .collect();
    let gateway = {
        let _entered = runtime.enter();
        (0..CLIENTS)
            .map(|_| {
                Arc::new(
                    Client::builder(hyper_util::rt::TokioExecutor::new())
                        .pool_max_idle_per_host(1)
                        .build_http(),
                )
            })
            .collect()
    };
    Bench {
        _dir: dir,
        _node: node,
        runtime,
        clients,
        gateway,
        url,
        counter,
    }
}

fn get(counter: Address) -> CallArgs {
    CallArgs {
        contract: counter.into(),
        method: "get".into(),
        ..CallArgs::default()
    }
}

/// Issues `total` requests spread over every client concurrently; returns the wall time.
fn run(bench: &Bench, total: u64, request: Request) -> Duration {
    let per_client = total.div_ceil(CLIENTS as u64);
    let counter = bench.counter;
    let uri: hyper::Uri = format!("{}/v1/c/{counter}/get", bench.url).parse().unwrap();
    let start = Instant::now();
    bench.runtime.block_on(async {
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let client = Arc::clone(&bench.clients[i]);
                let gateway = Arc::clone(&bench.gateway[i]);
                let uri = uri.clone();
                tokio::spawn(async move {
                    for _ in 0..per_client {
                        match request {
                            Request::Call => {
                                let result =
                                    client.contract_call(get(counter), None).await.unwrap();
                                assert_eq!(result.output.0, b"41");
                            }
                            Request::Head => {
                                client.chain_head().await.unwrap();
                            }
                            Request::Gateway => {
                                let response = gateway.get(uri.clone()).await.unwrap();
                                assert_eq!(response.status(), 200);
                                let body = response.into_body().collect().await.unwrap();
                                assert_eq!(&body.to_bytes()[..], b"41");
                            }
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    // Report per requested iteration (the last client's round-up is within noise).
    start
        .elapsed()
        .mul_f64(total as f64 / (per_client * CLIENTS as u64) as f64)
}

fn rpc_throughput(c: &mut Criterion) {
    let bench = setup();
    let mut group = c.benchmark_group("rpc");
    group.throughput(Throughput::Elements(1));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("chain_head (trivial)", |b| {
        b.iter_custom(|iters| run(&bench, iters, Request::Head))
    });
    group.bench_function("contract_call counter.get", |b| {
        b.iter_custom(|iters| run(&bench, iters, Request::Call))
    });
    group.bench_function("gateway GET counter.get", |b| {
        b.iter_custom(|iters| run(&bench, iters, Request::Gateway))
    });
    group.finish();
    // The same read without the server, on one thread: what execution alone costs.
    let mut direct = c.benchmark_group("rpc-direct");
    direct.throughput(Throughput::Elements(1));
    direct.bench_function(
        "Chain::read_state + Chain::query counter.get (no server)",
        |b| {
            let call = opmeter_vm::CallRequest {
                caller: Address([0; 32]),
                contract: bench.counter,
                method: "get".into(),
                input: Vec::new(),
                value: opmeter_vm::U256::zero(),
                gas_limit: 100_000_000,
            };
            let chain = bench._node.chain();
            // As the server does: one committed state (a snapshot of the head) per call.
            b.iter(|| {
                let state = chain.read_state(None).unwrap().unwrap();
                chain.query(&state, call.clone()).unwrap()
            })
        },
    );
    direct.finish();
}

criterion_group!(benches, rpc_throughput);
criterion_main!(benches);
