//! The dapp path end to end, through real sockets against a spawned `opmeter node`: scaffold →
//! build → deploy → call → send → receipt → subscription; every server limit; every class of
//! malformed input. The CLI is the real binary; the Rust client is `opmeter_rpc::client`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use jsonrpsee::core::client::{ClientT, SubscriptionClientT};
use jsonrpsee::rpc_params;
use opmeter_ledger::encoding::{DecU256, DecU64, Hash32, HexBytes};
use opmeter_ledger::tx::Wallet;
use opmeter_node::genesis::{address_of, dev_key};
use opmeter_rpc::client::{http, ws, OpmeterApiClient};
use opmeter_rpc::types::{CallArgs, EstimateArgs, EventFilter, EventNotice, HeaderView, TxRequest};
use opmeter_vm::{Address, U256};
use serde_json::{json, Value};

use crate::support::{json_of, opmeter, post_from, Running};

/// One raw HTTP/1.1 POST; returns the status code and the body.
fn post(addr: &str, body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    // A server may answer (413) before reading the whole body and close: ignore write errors.
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    crate::support::status_and_body(&response)
}

fn rpc_error_code(addr: &str, body: &str) -> i64 {
    let (_, response) = post(addr, body.as_bytes());
    let value: Value =
        serde_json::from_str(&response).unwrap_or_else(|e| panic!("{e}: {response}"));
    value["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("no error in {value}"))
}

fn call_code<T: std::fmt::Debug>(result: Result<T, jsonrpsee::core::client::Error>) -> i32 {
    match result {
        Err(jsonrpsee::core::client::Error::Call(object)) => object.code(),
        other => panic!("expected a call error, got {other:?}"),
    }
}

/// Builds a scaffolded contract with the CLI (`opmeter new` + `opmeter build`).
fn scaffold_and_build(url: &str, work: &Path) -> PathBuf {
    let keys = work.join("keys");
    let created = json_of(&opmeter(
        url,
        &keys,
        &[
            "new",
            "e2e-counter",
            "--dir",
            work.to_str().unwrap(),
            "--json",
        ],
    ));
    let crate_dir = PathBuf::from(created["path"].as_str().unwrap());
    // The example contracts' lock: no registry access, cached dependency builds.
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../contracts/Cargo.lock");
    std::fs::copy(lock, crate_dir.join("Cargo.lock")).unwrap();
    let built = json_of(&opmeter(
        url,
        &keys,
        &["build", crate_dir.to_str().unwrap(), "--json"],
    ));
    PathBuf::from(built[0]["path"].as_str().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dapp_flow_scaffold_build_deploy_call_send_receipt_subscription() {
    let node = Running::start(&[]);
    let work = tempfile::tempdir().unwrap();
    let keys = work.path().join("keys");
    let wasm = scaffold_and_build(&node.url, work.path());
    let wasm_str = wasm.to_str().unwrap();

    // Deploy with the CLI (dev key by default), init {"start": 5}.
    let deployed = json_of(&opmeter(
        &node.url,
        &keys,
        &["deploy", wasm_str, "--init", r#"{"start": 5}"#, "--json"],
    ));
    assert_eq!(deployed["status"], "success", "{deployed}");
    let contract = deployed["contractAddress"].as_str().unwrap().to_string();
    let contract_address = Address::from_hex(&contract).unwrap();

    // Read-only call.
    let got = json_of(&opmeter(
        &node.url,
        &keys,
        &["call", &contract, "get", "--json"],
    ));
    assert_eq!(got["status"], "success");
    assert_eq!(got["outputJson"], json!(5));

    // Subscriptions before the send: events of this contract with the Incremented topic, heads.
    let ws_client = ws(&node.ws_url()).await.unwrap();
    let topic = HexBytes(blake3::hash(b"Incremented").as_bytes().to_vec());
    let mut events = ws_client
        .subscribe_events(Some(EventFilter {
            contract: Some(contract_address.into()),
            topics: vec![Some(topic.clone())],
        }))
        .await
        .unwrap();
    let mut heads = ws_client.subscribe_new_heads().await.unwrap();
    // A filter on another contract sees nothing of ours.
    let mut others = ws_client
        .subscribe_events(Some(EventFilter {
            contract: Some(Address([9; 32]).into()),
            topics: vec![],
        }))
        .await
        .unwrap();

    // A transaction with the CLI.
    let sent = json_of(&opmeter(
        &node.url,
        &keys,
        &["send", &contract, "increment", r#"{"by": 2}"#, "--json"],
    ));
    assert_eq!(sent["status"], "success", "{sent}");
    assert_eq!(sent["output"], format!("0x{}", hex::encode(b"7")));
    let tx_hash_text = sent["txHash"].as_str().unwrap().to_string();
    let tx_hash: Hash32 = tx_hash_text.parse().unwrap();
    let height = sent["height"].as_u64().unwrap();

    // The receipt, as JSON and as the human table.
    let receipt = json_of(&opmeter(
        &node.url,
        &keys,
        &["receipt", &tx_hash_text, "--json"],
    ));
    assert_eq!(receipt, sent);
    let table = opmeter(&node.url, &keys, &["receipt", &tx_hash_text]);
    assert!(table.status.success());
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.contains("gas breakdown"), "{table}");
    let breakdown = receipt["gasBreakdown"].as_object().unwrap();
    let rows: Vec<&str> = table
        .lines()
        .skip_while(|l| !l.contains("gas breakdown"))
        .collect();
    for (category, gas) in breakdown {
        let gas: u64 = gas.as_str().unwrap().parse().unwrap();
        let line = rows
            .iter()
            .find(|l| l.trim_start().starts_with(category.as_str()))
            .unwrap_or_else(|| panic!("no {category} row in\n{table}"));
        assert!(
            line.replace(',', "").contains(&gas.to_string()),
            "{line} vs {gas}"
        );
    }
    let total_line = table
        .lines()
        .find(|l| l.trim_start().starts_with("total"))
        .unwrap();
    assert!(total_line
        .replace(',', "")
        .contains(receipt["gasUsed"].as_str().unwrap()));

    // The subscriptions saw the event and the block.
    let notice: EventNotice = tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("the event arrives")
        .unwrap()
        .unwrap();
    assert_eq!(notice.tx_hash, tx_hash);
    assert_eq!(notice.height, height);
    assert_eq!(notice.event.contract, contract_address);
    assert_eq!(notice.event.topics[0], topic);
    assert_eq!(
        serde_json::from_str::<Value>(&String::from_utf8(notice.event.data.0.clone()).unwrap())
            .unwrap(),
        json!({"by": 2, "count": 7})
    );
    let head: HeaderView = loop {
        let head: HeaderView = tokio::time::timeout(Duration::from_secs(10), heads.next())
            .await
            .expect("a head arrives")
            .unwrap()
            .unwrap();
        if head.height >= height {
            break head;
        }
    };
    assert_eq!(head.height, height);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), others.next())
            .await
            .is_err(),
        "a filter on another contract received an event"
    );

    // The typed client: tx_get, blocks, code, storage proof, estimate verified at its limit.
    let client = http(&node.url).unwrap();
    let tx = client.tx_get(tx_hash).await.unwrap().unwrap();
    assert_eq!(tx.state, "committed");
    assert_eq!(tx.height, Some(height));
    let block = client
        .chain_get_block(opmeter_rpc::BlockId::Height(height), Some(true))
        .await
        .unwrap()
        .unwrap();
    assert!(block.transaction_hashes.contains(&tx_hash));
    assert_eq!(
        block.transactions.unwrap().len(),
        block.transaction_hashes.len()
    );
    let by_hash = client
        .chain_get_block(opmeter_rpc::BlockId::Hash(block.header.hash.to_hex()), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_hash.header, block.header);
    assert!(client
        .chain_get_block(opmeter_rpc::BlockId::Height(height + 1000), None)
        .await
        .unwrap()
        .is_none());

    let code = client
        .code_get(None, Some(contract_address.into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(code.code.0, std::fs::read(&wasm).unwrap());
    let by_code_hash = client
        .code_get(Some(code.code_hash), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_code_hash, code);
    let validation = client.code_validate(code.code.clone()).await.unwrap();
    assert!(validation.valid);
    assert_eq!(validation.code_hash, code.code_hash);
    let invalid = client
        .code_validate(HexBytes(b"\0asm".to_vec()))
        .await
        .unwrap();
    assert!(!invalid.valid && !invalid.violations.is_empty());

    let storage = client
        .contract_storage(
            contract_address.into(),
            HexBytes(b"count".to_vec()),
            Some(height),
        )
        .await
        .unwrap();
    let value = storage.value.clone().unwrap().0;
    assert_eq!(value, 7u64.to_le_bytes());
    assert_eq!(storage.state_root, block.header.state_root);
    let root = storage.state_root.0;
    let proof = storage.proof.0.clone();
    opmeter_ledger::state::verify_storage(root, contract_address, b"count", Some(&value), &proof)
        .unwrap();
    assert!(opmeter_ledger::state::verify_storage(
        root,
        contract_address,
        b"count",
        Some(&8u64.to_le_bytes()),
        &proof
    )
    .is_err());

    // Estimate, then send at exactly that limit (succeeds) and one below (out of gas).
    let dev = address_of(&dev_key());
    let estimate = client
        .contract_estimate_gas(EstimateArgs {
            from: dev,
            tx: TxRequest::Call {
                contract: contract_address.into(),
                method: "increment".into(),
                args: Some(json!({"by": 1})),
                input: None,
                value: None,
            },
        })
        .await
        .unwrap();
    let limit = estimate.gas_limit.0;
    assert_eq!(estimate.gas_used, estimate.gas_limit);
    let info = client.chain_info().await.unwrap();
    let mut wallet = Wallet::new(dev_key(), &info.chain_id);
    for (gas_limit, status) in [(limit - 1, "outOfGas"), (limit, "success")] {
        wallet.nonce = client
            .account_get(dev.into(), None)
            .await
            .unwrap()
            .pending_nonce;
        wallet.gas_limit = gas_limit;
        let tx = wallet.call(contract_address, "increment", r#"{"by":1}"#);
        let receipt = client
            .tx_send_raw_and_wait(HexBytes(tx.encode()))
            .await
            .unwrap();
        assert_eq!(receipt.status, status, "at {gas_limit}");
        if status == "success" {
            assert_eq!(receipt.gas_used, estimate.gas_used);
            assert_eq!(receipt.gas_breakdown, estimate.gas_breakdown);
        }
    }
    // A call that fails at any limit has no estimate: 2004 with the failing execution.
    let failing = client
        .contract_estimate_gas(EstimateArgs {
            from: dev,
            tx: TxRequest::Call {
                contract: contract_address.into(),
                method: "no_such_method".into(),
                args: None,
                input: None,
                value: None,
            },
        })
        .await;
    assert_eq!(call_code(failing), 2004);

    // Read-only call at a past height sees the past.
    let past = client
        .contract_call(
            CallArgs {
                contract: contract_address.into(),
                method: "get".into(),
                ..CallArgs::default()
            },
            Some(height - 1),
        )
        .await
        .unwrap();
    assert_eq!(past.output_json, Some(json!(5)));
    assert_eq!(
        call_code(
            client
                .contract_call(
                    CallArgs {
                        contract: contract_address.into(),
                        method: "get".into(),
                        ..CallArgs::default()
                    },
                    Some(height + 1000),
                )
                .await
        ),
        2001
    );

    // Keys, transfer to a named key, dev_fund.
    let created = json_of(&opmeter(
        &node.url,
        &keys,
        &["keys", "new", "alice", "--json"],
    ));
    let alice = created["address"].as_str().unwrap().to_string();
    let transferred = json_of(&opmeter(
        &node.url,
        &keys,
        &["transfer", "alice", "1000000000", "--json"],
    ));
    assert_eq!(transferred["status"], "success");
    json_of(&opmeter(&node.url, &keys, &["fund", &alice, "5", "--json"]));
    let account = json_of(&opmeter(&node.url, &keys, &["account", "alice", "--json"]));
    assert_eq!(account["balance"], "1000000005");
    // Alice (a fresh key) can send too; her gas comes out of her balance.
    let by_alice = json_of(&opmeter(
        &node.url,
        &keys,
        &["send", &contract, "increment", "--key", "alice", "--json"],
    ));
    assert_eq!(by_alice["status"], "success");
    let shown = json_of(&opmeter(
        &node.url,
        &keys,
        &["keys", "show", "alice", "--json"],
    ));
    assert_eq!(shown["address"], alice);

    // The OpenRPC document served is the generated one.
    let discovered: Value = client.discover().await.unwrap();
    assert_eq!(discovered, opmeter_rpc::openrpc::document());
}

#[test]
fn cli_errors_say_what_to_do_next() {
    let dir = tempfile::tempdir().unwrap();
    // No node listening on this port.
    let out = opmeter("http://127.0.0.1:9", dir.path(), &["account"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("opmeter node"), "{stderr}");
    let out = opmeter("http://127.0.0.1:9", dir.path(), &["account", "nobody"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("opmeter keys new nobody"), "{stderr}");
    let out = opmeter(
        "http://127.0.0.1:9",
        dir.path(),
        &["send", "0x00", "m", "{not json"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("32-byte"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_limit_is_enforced_and_the_node_keeps_serving() {
    let node = Running::start(&[
        "--rpc-max-body-bytes",
        "4096",
        "--rpc-max-batch",
        "3",
        "--rpc-max-connections",
        "4",
        // Every socket of this test comes from 127.0.0.1: no reserve for other clients.
        "--rpc-connections-reserved",
        "0",
        "--rpc-max-subscriptions",
        "2",
        "--rpc-call-gas-max",
        "1000000",
        "--rpc-read-gas-per-second",
        "1000000",
        "--rpc-read-gas-burst",
        "3000000",
    ]);
    let addr = node.addr();
    let head = r#"{"jsonrpc":"2.0","id":1,"method":"chain_head","params":[]}"#;

    // Request body size: 4096 bytes.
    let padding = "x".repeat(5000);
    let big =
        format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tx_sendRaw","params":["0x{padding}"]}}"#);
    let (status, body) = post(&addr, big.as_bytes());
    assert_eq!(status, 413, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"]["code"],
        -32007
    );

    // Batch length: 3.
    let batch = |n: usize| format!("[{}]", vec![head; n].join(","));
    let (_, ok) = post(&addr, batch(3).as_bytes());
    assert_eq!(
        serde_json::from_str::<Value>(&ok)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(rpc_error_code(&addr, &batch(4)), -32010);

    // Gas of a read-only call: 1,000,000.
    let client = http(&node.url).unwrap();
    let call = |gas: u64| CallArgs {
        contract: (Address([1; 32])).into(),
        method: "get".into(),
        gas_limit: Some(DecU64(gas)),
        ..CallArgs::default()
    };
    assert_eq!(
        call_code(client.contract_call(call(1_000_001), None).await),
        2002
    );

    // Per-client read budget: 3,000,000 burst, 1,000,000 gas/s. Each call reserves its limit
    // and is charged what it used, at least 100,000 (these calls reach no contract).
    let mut refused = None;
    for _ in 0..200 {
        match client.contract_call(call(1_000_000), None).await {
            Ok(_) => {}
            Err(jsonrpsee::core::client::Error::Call(object)) => {
                assert_eq!(object.code(), 2003);
                let data: Value = serde_json::from_str(object.data().unwrap().get()).unwrap();
                refused = Some(data["retryAfterMs"].as_u64().unwrap());
                break;
            }
            Err(other) => panic!("{other}"),
        }
    }
    let retry_after_ms = refused.expect("the budget ran out");
    // Estimates draw from the same budget.
    let estimate = client
        .contract_estimate_gas(EstimateArgs {
            from: Address([2; 32]),
            tx: TxRequest::Transfer {
                to: (Address([3; 32])).into(),
                amount: DecU256::default(),
            },
        })
        .await;
    assert_eq!(call_code(estimate), 2003);
    assert!(retry_after_ms <= 1000, "{retry_after_ms}");
    tokio::time::sleep(Duration::from_millis(retry_after_ms + 50)).await;
    client.contract_call(call(100_000), None).await.unwrap();
    // Its keep-alive connection would count against the connection limit below.
    drop(client);
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Subscriptions per connection: 2.
    let ws_client = ws(&node.ws_url()).await.unwrap();
    let _first = ws_client.subscribe_new_heads().await.unwrap();
    let _second = ws_client.subscribe_events(None).await.unwrap();
    let third: Result<jsonrpsee::core::client::Subscription<Value>, _> = ws_client
        .subscribe("subscribe_newHeads", rpc_params![], "unsubscribe_newHeads")
        .await;
    assert_eq!(call_code(third), -32006);

    // WebSocket sessions: 4 (this one included). Each holds its socket for as long as it lasts,
    // so a fifth session is refused, and an HTTP request while they are all held finds every
    // socket taken: closed unanswered.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(ws(&node.ws_url()).await.unwrap());
    }
    let refused = ws(&node.ws_url()).await;
    assert!(refused.is_err(), "a fifth WebSocket session was accepted");
    let (status, _) = post(&addr, head.as_bytes());
    assert_eq!(status, 0, "a socket beyond the limit was served");
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Open sockets: 4. Idle sockets hold them; a fifth socket is closed unanswered.
    let idle: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, _) = post(&addr, head.as_bytes());
    assert_eq!(status, 0, "a fifth socket was served");
    drop(idle);
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Still serving.
    let (status, body) = post(&addr, head.as_bytes());
    assert_eq!(status, 200, "{body}");
    let value: Value = ws_client
        .request("chain_head", rpc_params![])
        .await
        .unwrap();
    assert_eq!(value["height"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sockets_of_one_client_leave_other_clients_served_and_time_out() {
    let node = Running::start(&[
        "--rpc-max-connections",
        "16",
        "--rpc-max-connections-per-client",
        "4",
        "--rpc-connections-reserved",
        "4",
        "--rpc-header-timeout",
        "2s",
    ]);
    let addr = node.addr();
    let head = r#"{"jsonrpc":"2.0","id":1,"method":"chain_head","params":[]}"#;
    // Served before anything else happens.
    assert_eq!(post_from("127.0.0.1", &addr, head).await.0, 200);

    // 127.0.0.1 opens 12 sockets and sends nothing: it keeps 4, the others are closed.
    let idle: Vec<TcpStream> = (0..12)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    // Its next socket is closed unanswered: it holds its maximum.
    let (status, _) = post_from("127.0.0.1", &addr, head).await;
    assert_eq!(status, 0, "a socket beyond the per-client cap was served");
    // Another client is served at once.
    let (status, body) = post_from("127.0.0.2", &addr, head).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["result"]["height"],
        0
    );

    // Sockets that send no header within 2 s are closed: every idle socket reads end of stream
    // (or a reset), well within the 10 s bound.
    for mut socket in idle {
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut byte = [0u8; 1];
        match socket.read(&mut byte) {
            Ok(0) => {}
            Ok(_) => panic!("an idle socket got data"),
            Err(e) => assert!(
                !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
                "an idle socket was still open after 10 s"
            ),
        }
    }
    // Their places are free again.
    let (status, body) = post_from("127.0.0.1", &addr, head).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_trickles_in_is_answered_408_and_its_socket_closed() {
    let node = Running::start(&["--rpc-body-timeout", "500ms"]);
    let addr = node.addr();
    let head = r#"{"jsonrpc":"2.0","id":1,"method":"chain_head","params":[]}"#;
    // JSON-RPC, a gateway call and a gateway transaction: the header promises 100 bytes, 10 come.
    for path in [
        "/",
        "/v1/c/0x0000000000000000000000000000000000000000000000000000000000000001/get",
        "/v1/tx",
    ] {
        let mut socket = TcpStream::connect(&addr).unwrap();
        let started = Instant::now();
        socket
            .write_all(
                format!(
                    "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"jsonrpc\""
                )
                .as_bytes(),
            )
            .unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut answer = Vec::new();
        socket
            .read_to_end(&mut answer)
            .expect("answered and closed within 10 s");
        let elapsed = started.elapsed();
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 408"), "{path}: {answer}");
        assert!(answer.contains("2012"), "{path}: {answer}");
        assert!(answer.contains(r#""timeLimitMs":500"#), "{path}: {answer}");
        assert!(elapsed >= Duration::from_millis(500), "{path}: {elapsed:?}");
        // Others are served meanwhile and afterwards.
        assert_eq!(post_from("127.0.0.1", &addr, head).await.0, 200);
    }
    // A body that arrives in pieces within the limit is fine.
    let mut socket = TcpStream::connect(&addr).unwrap();
    let (first, rest) = head.split_at(10);
    socket
        .write_all(
            format!(
                "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{first}",
                head.len()
            )
            .as_bytes(),
        )
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    socket.write_all(rest.as_bytes()).unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_malformed_input_gets_its_error_and_changes_nothing() {
    let node = Running::start(&[]);
    let addr = node.addr();
    let client = http(&node.url).unwrap();
    let before = client.chain_head().await.unwrap();
    let request = |method: &str, params: Value| {
        json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string()
    };

    // Not JSON, not a request, no such method, wrong parameter types and counts.
    assert_eq!(rpc_error_code(&addr, "{not json"), -32700);
    assert_eq!(rpc_error_code(&addr, r#"{"id":1}"#), -32600);
    // An id of the wrong type: -32600 with `id: null` (alone and inside a batch).
    for id in ["{}", "[1]", "true", "1.5", r#"{"a":[1]}"#] {
        let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"chain_head","params":[]}}"#);
        let (_, response) = post(&addr, body.as_bytes());
        let value: Value =
            serde_json::from_str(&response).unwrap_or_else(|e| panic!("{id}: {e}: {response}"));
        assert_eq!(value["error"]["code"], -32600, "{id}: {value}");
        assert_eq!(value["id"], Value::Null, "{id}: {value}");
        assert_eq!(value["jsonrpc"], "2.0");
    }
    let batch = r#"[{"jsonrpc":"2.0","id":7,"method":"chain_head","params":[]},{"jsonrpc":"2.0","id":false,"method":"chain_head"}]"#;
    let (_, response) = post(&addr, batch.as_bytes());
    let value: Value = serde_json::from_str(&response).unwrap();
    let answers = value.as_array().unwrap();
    assert_eq!(answers.len(), 2, "{value}");
    assert!(answers
        .iter()
        .any(|a| a["id"] == 7 && a["result"]["height"] == 0));
    assert!(answers
        .iter()
        .any(|a| a["id"] == Value::Null && a["error"]["code"] == -32600));
    assert_eq!(
        rpc_error_code(&addr, &request("no_such_method", json!([]))),
        -32601
    );
    assert_eq!(
        rpc_error_code(&addr, &request("account_get", json!([123]))),
        -32602
    );
    assert_eq!(
        rpc_error_code(&addr, &request("account_get", json!([]))),
        -32602
    );
    assert_eq!(
        rpc_error_code(&addr, &request("chain_getBlock", json!([{"x": 1}]))),
        -32602
    );
    assert_eq!(
        rpc_error_code(
            &addr,
            &request("contract_call", json!([{"contract": "0x01"}]))
        ),
        -32602
    );
    // Invalid hex, in every shape.
    for bad in ["0xzz", "abcd", "0x123"] {
        assert_eq!(
            rpc_error_code(&addr, &request("tx_sendRaw", json!([bad]))),
            -32602,
            "{bad}"
        );
    }
    assert_eq!(
        rpc_error_code(&addr, &request("tx_receipt", json!(["0x12"]))),
        -32602
    );
    assert_eq!(
        rpc_error_code(&addr, &request("code_get", json!([null, null]))),
        -32602
    );
    assert_eq!(
        rpc_error_code(
            &addr,
            &request("dev_fund", json!([format!("0x{}", "11".repeat(32)), "-5"]))
        ),
        -32602
    );

    // Transactions: undecodable, bad signature, wrong nonce.
    let send = |tx: Vec<u8>| request("tx_sendRaw", json!([format!("0x{}", hex::encode(tx))]));
    assert_eq!(rpc_error_code(&addr, &send(vec![0, 1, 2])), 1002);
    let mut wallet = Wallet::new(dev_key(), "opmeter-dev");
    let mut forged = wallet.transfer(Address([3; 32]), U256::one());
    forged.signature[0] ^= 1;
    let (_, body) = post(&addr, send(forged.encode()).as_bytes());
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["code"], 1004);
    assert_eq!(body["error"]["data"]["reason"], "badSignature");
    wallet.nonce = 100;
    let far = wallet.transfer(Address([3; 32]), U256::one());
    assert_eq!(rpc_error_code(&addr, &send(far.encode())), 1009);
    let mut wrong_chain = Wallet::new(dev_key(), "another-chain");
    assert_eq!(
        rpc_error_code(
            &addr,
            &send(wrong_chain.transfer(Address([3; 32]), U256::one()).encode())
        ),
        1003
    );

    // Nothing was committed or left pending, and the node still serves.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = client.chain_head().await.unwrap();
    assert_eq!(after, before);
    let dev = client
        .account_get(address_of(&dev_key()).into(), None)
        .await
        .unwrap();
    assert_eq!((dev.nonce, dev.pending_nonce), (0, 0));
    let raw: Value = client.request("chain_info", rpc_params![]).await.unwrap();
    assert_eq!(raw["chainId"], "opmeter-dev");
}

#[test]
fn openrpc_document_lists_exactly_the_served_methods_and_the_spec_copy_is_current() {
    // The methods the server registers (from the one trait definition) are the documented ones.
    let test_node = crate::support::TestNode::new();
    let backend = std::sync::Arc::new(opmeter_node::api::NodeBackend::new(std::sync::Arc::clone(
        &test_node.node,
    )));
    let module = opmeter_rpc::server::methods(backend, opmeter_rpc::RpcConfig::default());
    let mut served: Vec<&str> = module.method_names().collect();
    served.sort();
    let mut documented = opmeter_rpc::openrpc::method_names();
    documented.sort();
    assert_eq!(served, documented);
    let document = opmeter_rpc::openrpc::document();
    crate::support::assert_spec_current(
        "openrpc.json",
        &document,
        "UPDATE_EXPECT=1 cargo test --workspace --test all openrpc",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_replays_traces_and_bundles_over_rpc_and_the_bundle_verifies_with_the_node_gone() {
    let mut node = Running::start(&[]);
    let work = tempfile::tempdir().unwrap();
    let keys = work.path().join("keys");
    let wat = work.path().join("kv.wat");
    std::fs::write(&wat, crate::support::KV).unwrap();
    let deployed = json_of(&opmeter(
        &node.url,
        &keys,
        &["deploy", wat.to_str().unwrap(), "--json"],
    ));
    let contract = deployed["contractAddress"].as_str().unwrap().to_string();
    let sent = json_of(&opmeter(
        &node.url,
        &keys,
        &["send", &contract, "put", r#""metered""#, "--json"],
    ));
    assert_eq!(sent["status"], "success", "{sent}");
    let tx_hash_text = sent["txHash"].as_str().unwrap().to_string();
    let tx_hash: Hash32 = tx_hash_text.parse().unwrap();
    let client = http(&node.url).unwrap();

    // Replay: every field and the block's roots match.
    let report = client.audit_replay(tx_hash).await.unwrap().unwrap();
    assert!(report.matches, "{:?}", report.first_difference);
    assert!(report.fields.iter().all(|f| f.matches));
    assert!(report
        .fields
        .iter()
        .any(|f| f.field == "gasBreakdown.storage_write"));
    let unknown = Hash32([0xab; 32]);
    assert!(client.audit_replay(unknown).await.unwrap().is_none());
    assert!(client.audit_trace(unknown, None).await.unwrap().is_none());

    // Trace: intrinsic + tree = the receipt; the CLI renders the tree.
    let trace = client.audit_trace(tx_hash, None).await.unwrap().unwrap();
    assert_eq!(
        trace.gas_used.to_string(),
        sent["gasUsed"].as_str().unwrap()
    );
    let root = trace.root.as_ref().expect("the call ran code");
    assert_eq!(trace.intrinsic_gas.0 + root.gas_used.0, trace.gas_used.0);
    assert_eq!(root.method, "put");
    let text = opmeter(
        &node.url,
        &keys,
        &["receipt", &tx_hash_text, "--trace", "--blocks"],
    );
    assert!(text.status.success());
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("gas trace") && text.contains("host storage_write"),
        "{text}"
    );
    assert!(text.contains("most expensive metered blocks"), "{text}");
    let both = json_of(&opmeter(
        &node.url,
        &keys,
        &["receipt", &tx_hash_text, "--trace", "--json"],
    ));
    assert_eq!(both["trace"]["gasUsed"], both["receipt"]["gasUsed"]);
    // Names beside the code (`NAME.names.json`) label its functions; labels only.
    let code_hash = opmeter_vm::CodeHash::of(&wat::parse_str(crate::support::KV).unwrap());
    let names = work.path().join("kv.names.json");
    std::fs::write(
        &names,
        json!({
            "codeHash": code_hash.to_hex(),
            "functions": { "5": "kv::store_input", "6": "kv::put" },
        })
        .to_string(),
    )
    .unwrap();
    let named = json_of(&opmeter(
        &node.url,
        &keys,
        &[
            "receipt",
            &tx_hash_text,
            "--trace",
            "--json",
            "--names",
            names.to_str().unwrap(),
        ],
    ));
    let function_names = |trace: &Value| -> Vec<String> {
        let mut found = Vec::new();
        let mut stack: Vec<&Value> = trace["root"]["entries"]
            .as_array()
            .unwrap()
            .iter()
            .collect();
        while let Some(entry) = stack.pop() {
            if entry["kind"] == "function" {
                found.push(entry["name"].as_str().unwrap().to_string());
                stack.extend(entry["children"].as_array().unwrap());
            }
        }
        found.sort();
        found
    };
    assert_eq!(
        function_names(&named["trace"]),
        ["kv::put", "kv::store_input"]
    );
    assert!(!function_names(&both["trace"]).contains(&"kv::put".to_string()));
    assert_eq!(named["trace"]["gasUsed"], both["trace"]["gasUsed"]);
    let text = opmeter(
        &node.url,
        &keys,
        &[
            "receipt",
            &tx_hash_text,
            "--trace",
            "--names",
            names.to_str().unwrap(),
        ],
    );
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("kv::put") && text.contains("kv::store_input"),
        "{text}"
    );

    // A read-only call with its trace.
    let traced = client
        .contract_trace_call(
            CallArgs {
                contract: (Address::from_hex(&contract).unwrap()).into(),
                method: "get".into(),
                ..CallArgs::default()
            },
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(traced.status, "success");
    assert_eq!(traced.output.0, br#""metered""#);
    assert_eq!(traced.root.unwrap().gas_used, traced.gas_used);

    // The CLI audit saves the bundle; the node goes away; the bundle still verifies.
    let bundle = work.path().join("bundle.json");
    let audit = opmeter(
        &node.url,
        &keys,
        &["audit", &tx_hash_text, "--bundle", bundle.to_str().unwrap()],
    );
    let audit_text = String::from_utf8_lossy(&audit.stdout).to_string();
    assert!(
        audit.status.success() && audit_text.contains("MATCH"),
        "{audit_text}"
    );
    let _ = node.child.kill();
    let _ = node.child.wait();
    let verify = |path: &Path| {
        opmeter(
            "http://127.0.0.1:1",
            &keys,
            &["verify", path.to_str().unwrap()],
        )
    };
    let ok = verify(&bundle);
    let ok_text = String::from_utf8_lossy(&ok.stdout).to_string();
    assert!(
        ok.status.success() && ok_text.contains("MATCH"),
        "{ok_text}"
    );
    // One byte of the receipt changed: refused, exit 1.
    let mut document: Value = serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    let receipt = document["receipt"].as_str().unwrap().to_string();
    let flipped = if receipt.ends_with('0') { "1" } else { "0" };
    document["receipt"] = json!(format!("{}{flipped}", &receipt[..receipt.len() - 1]));
    let tampered = work.path().join("tampered.json");
    std::fs::write(&tampered, serde_json::to_vec(&document).unwrap()).unwrap();
    let bad = verify(&tampered);
    let bad_text = String::from_utf8_lossy(&bad.stdout).to_string();
    assert_eq!(bad.status.code(), Some(1), "{bad_text}");
    assert!(bad_text.contains("INVALID"), "{bad_text}");
}

/// CPU time (user + system, in clock ticks) the process `pid` has used so far.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which is in parentheses): utime is the 14th field overall,
    // stime the 15th.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_call_is_stopped_by_the_time_limit_while_other_clients_are_served() {
    let node = Running::start(&[
        "--rpc-call-time-max",
        "300ms",
        "--rpc-call-gas-max",
        "1000000000000000",
        "--rpc-read-gas-per-second",
        "0",
        // A stopped loop spends its contract's daily quota in full: none here.
        "--quota-daily-gas",
        "0",
    ]);
    let client = http(&node.url).unwrap();
    let mut wallet = Wallet::new(dev_key(), "opmeter-dev");
    let deploy = wallet.deploy(&wat::parse_str(crate::support::KV).unwrap(), "", b"spin");
    let receipt = client
        .tx_send_raw_and_wait(HexBytes(deploy.encode()))
        .await
        .unwrap();
    let contract = receipt.contract_address.expect("deployed");
    let call = |method: &str, gas: u64| CallArgs {
        contract: contract.into(),
        method: method.into(),
        gas_limit: Some(DecU64(gas)),
        ..CallArgs::default()
    };
    // The usual latency of a small call, before anything loops.
    let mut usual = Duration::ZERO;
    for _ in 0..5 {
        let start = std::time::Instant::now();
        let out = client
            .contract_call(call("put", 1_000_000), None)
            .await
            .unwrap();
        assert_eq!(out.status, "success");
        usual = usual.max(start.elapsed());
    }

    // A loop with 10^15 gas (hours of work) is stopped after 300 ms with `2009`.
    let looping = {
        let client = http(&node.url).unwrap();
        let spin = call("spin", 1_000_000_000_000_000);
        tokio::spawn(async move {
            let start = std::time::Instant::now();
            let result = client.contract_call(spin, None).await;
            (result, start.elapsed())
        })
    };
    // Meanwhile another client is served within its usual latency (bounded generously: this
    // machine is shared; a loop holding every core would take seconds).
    let bound = usual * 4 + Duration::from_millis(500);
    for _ in 0..10 {
        let start = std::time::Instant::now();
        let out = client
            .contract_call(call("put", 1_000_000), None)
            .await
            .unwrap();
        assert_eq!(out.status, "success");
        client.chain_head().await.unwrap();
        let took = start.elapsed();
        assert!(
            took < bound,
            "a call took {took:?} while a loop ran (usual {usual:?})"
        );
    }
    let (result, took) = looping.await.unwrap();
    match result {
        Err(jsonrpsee::core::client::Error::Call(object)) => {
            assert_eq!(object.code(), 2009, "{object:?}");
            let data: Value = serde_json::from_str(object.data().unwrap().get()).unwrap();
            assert_eq!(data["timeLimitMs"], 300);
        }
        other => panic!("expected the time limit, got {other:?}"),
    }
    assert!(
        took >= Duration::from_millis(300),
        "stopped early: {took:?}"
    );
    assert!(took < Duration::from_secs(10), "not stopped: {took:?}");

    // Traced calls and estimates are stopped the same way.
    let traced = client
        .contract_trace_call(call("spin", 1_000_000_000_000_000), None, None)
        .await;
    assert_eq!(call_code(traced), 2009);
    let estimate = client
        .contract_estimate_gas(EstimateArgs {
            from: address_of(&dev_key()),
            tx: TxRequest::Call {
                contract: contract.into(),
                method: "spin".into(),
                args: None,
                input: None,
                value: None,
            },
        })
        .await;
    assert_eq!(call_code(estimate), 2009);

    // Stopped, not abandoned: the node is idle once the answers are in (a loop left running
    // would burn a whole core, 1 s of CPU per second).
    let pid = node.child.id();
    let before = cpu_ticks(pid);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let used = cpu_ticks(pid) - before;
    assert!(
        used < 50,
        "the node used {used} ticks of CPU in 1 s while idle"
    );

    // Transactions are bounded by gas alone: the same loop in a block runs out of gas.
    wallet.gas_limit = 50_000_000;
    let spin = wallet.call(contract, "spin", "");
    let receipt = client
        .tx_send_raw_and_wait(HexBytes(spin.encode()))
        .await
        .unwrap();
    assert_eq!(receipt.status, "outOfGas");
}
