//! Names end to end, over real sockets against a spawned `opmeter node --http-domain`: a name
//! registered by a signed transaction, then the contract called by name over JSON-RPC, through
//! `/v1/c/{name}/…` and by host name (`Host: hello.example.test`); names refused when taken,
//! malformed or too long, each with its typed error; transfer and re-pointing; the name proven
//! against the state root; and the name surviving a restart on the same RocksDB.

use jsonrpsee::core::client::Error as ClientError;
use opmeter_ledger::encoding::HexBytes;
use opmeter_ledger::name::{Name, NameRecord};
use opmeter_ledger::state::{verify, StateKey};
use opmeter_ledger::tx::{Payload, SignedTransaction, Wallet};
use opmeter_node::genesis::{address_of, dev_key};
use opmeter_rpc::client::{http, HttpClient, OpmeterApiClient};
use opmeter_rpc::types::{AddressOrName, CallArgs, EstimateArgs, ReceiptView, TxRequest};
use opmeter_vm::{Address, U256};
use serde_json::Value;

use crate::gateway::{deploy, get, request, Answer};
use crate::support::{spawn_node, Killed, KV};

const DOMAIN: &str = "example.test";

fn address(text: &str) -> Address {
    Address::from_hex(text).unwrap()
}

fn name(text: &str) -> AddressOrName {
    AddressOrName::Name(Name::parse(text).unwrap())
}

async fn send(client: &HttpClient, signed: &SignedTransaction) -> ReceiptView {
    client
        .tx_send_raw_and_wait(HexBytes(signed.encode()))
        .await
        .unwrap()
}

/// The JSON-RPC error of a refused request: code and data.
fn refusal<T: std::fmt::Debug>(result: Result<T, ClientError>) -> (i32, Value) {
    match result {
        Err(ClientError::Call(object)) => (
            object.code(),
            object
                .data()
                .map(|raw| serde_json::from_str(raw.get()).unwrap())
                .unwrap_or(Value::Null),
        ),
        other => panic!("expected a JSON-RPC error, got {other:?}"),
    }
}

/// `GET {path}` with `Host: {host}`.
async fn get_host(addr: &str, host: &str, path: &str) -> Answer {
    request("127.0.0.1", addr, "GET", path, &[("Host", host)], b"").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_name_calls_its_contract_everywhere_an_address_does_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let flags = ["--http-domain", DOMAIN];
    let (child, url) = spawn_node(&data_dir, &flags);
    let first = Killed(child);
    let addr = url.trim_start_matches("http://").to_string();
    let port = addr.rsplit_once(':').unwrap().1.to_string();
    let client = http(&url).unwrap();
    let mut dev = Wallet::new(dev_key(), "opmeter-dev");
    let kv = address(&deploy(&addr, &mut dev, KV, b"kv").await);
    let other = address(&deploy(&addr, &mut dev, KV, b"other").await);
    dev.gas_limit = 1_000_000;
    assert_eq!(
        send(&client, &dev.call(kv, "put", r#"{"hello":"world"}"#))
            .await
            .status,
        "success"
    );
    assert_eq!(
        send(&client, &dev.call(other, "put", r#""other""#))
            .await
            .status,
        "success"
    );

    // Nobody holds `hello` yet: `name_get` says so (with an exclusion proof), calls by name are
    // notFound (2010), over JSON-RPC and the gateway alike.
    let free = client.name_get("hello".into(), None).await.unwrap();
    assert!(!free.registered && free.owner.is_none() && free.target.is_none());
    let call_hello = CallArgs {
        contract: name("hello"),
        method: "get".into(),
        ..Default::default()
    };
    let (code, data) = refusal(client.contract_call(call_hello.clone(), None).await);
    assert_eq!((code, data["name"].as_str()), (2010, Some("hello")));
    let answer = get(&addr, "/v1/c/hello/get").await;
    assert_eq!((answer.status, answer.code()), (404, 2010), "{answer:?}");
    let answer = get_host(&addr, &format!("hello.{DOMAIN}:{port}"), "/get").await;
    assert_eq!((answer.status, answer.code()), (404, 2010), "{answer:?}");

    // Register it with a signed transaction: its receipt pays the name gas, priced as state
    // accesses on top of the intrinsic gas.
    let registered = send(&client, &dev.register_name("hello", kv, b"kv")).await;
    assert_eq!(registered.status, "success", "{registered:?}");
    let breakdown: Vec<&str> = registered
        .gas_breakdown
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        breakdown,
        [
            "balance",
            "storage_bytes",
            "storage_read",
            "storage_write",
            "transaction"
        ]
    );
    let view = client.name_get("hello".into(), None).await.unwrap();
    assert!(view.registered);
    assert_eq!(view.owner, Some(address_of(&dev_key())));
    assert_eq!(view.target, Some(kv));
    assert_eq!(view.registered_height, Some(registered.height));
    // The record is in the state root, and proven against it.
    let record = NameRecord {
        owner: address_of(&dev_key()),
        target: kv,
        registered_height: registered.height,
    };
    let value = borsh::to_vec(&record).unwrap();
    assert_eq!(view.value.as_ref().map(|v| &v.0), Some(&value));
    let key = StateKey::Name(Name::parse("hello").unwrap());
    verify(view.state_root.0, &key, Some(&value), &view.proof.0).unwrap();
    assert!(verify(view.state_root.0, &key, None, &view.proof.0).is_err());
    assert_eq!(view.key_hash.0, key.key_hash().0);

    // JSON-RPC: by name, the same call as by address.
    let by_name = client
        .contract_call(call_hello.clone(), None)
        .await
        .unwrap();
    let by_address = client
        .contract_call(
            CallArgs {
                contract: kv.into(),
                ..call_hello.clone()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        by_name.output_json,
        Some(serde_json::json!({"hello": "world"}))
    );
    assert_eq!(by_name.gas_used, by_address.gas_used);
    assert_eq!(by_name.height, by_address.height);
    // …and wherever else an address goes.
    let account = client.account_get(name("hello"), None).await.unwrap();
    assert_eq!(account.address, kv);
    assert!(account.code_hash.is_some());
    let storage = client
        .contract_storage(name("hello"), HexBytes(b"k".to_vec()), None)
        .await
        .unwrap();
    assert_eq!(storage.contract, kv);
    assert_eq!(
        storage.value.map(|v| v.0),
        Some(br#"{"hello":"world"}"#.to_vec())
    );
    let quota = client.contract_quota(name("hello")).await.unwrap();
    assert_eq!(quota.contract, kv);
    let code = client.code_get(None, Some(name("hello"))).await.unwrap();
    assert!(code.is_some());
    let traced = client
        .contract_trace_call(call_hello.clone(), None, None)
        .await
        .unwrap();
    assert_eq!(traced.gas_used, by_name.gas_used);
    let estimate = client
        .contract_estimate_gas(EstimateArgs {
            from: address_of(&dev_key()),
            tx: TxRequest::Call {
                contract: name("hello"),
                method: "put".into(),
                args: Some(serde_json::json!(1)),
                input: None,
                value: None,
            },
        })
        .await
        .unwrap();
    assert!(estimate.gas_limit.0 > 0);
    // A height before the name existed: notFound there.
    let (code, data) = refusal(
        client
            .contract_call(call_hello.clone(), Some(registered.height - 1))
            .await,
    );
    assert_eq!(
        (code, data["height"].as_u64()),
        (2010, Some(registered.height - 1))
    );

    // The gateway: /v1/c/{name}/{method}, and by host name (any case, with the port).
    let answer = get(&addr, "/v1/c/hello/get").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body, br#"{"hello":"world"}"#);
    let height = answer.header("opmeter-height").unwrap().to_string();
    for host in [
        format!("hello.{DOMAIN}"),
        format!("hello.{DOMAIN}:{port}"),
        format!("HELLO.Example.TEST.:{port}"),
    ] {
        let answer = get_host(&addr, &host, "/get").await;
        assert_eq!(answer.status, 200, "{host}: {answer:?}");
        assert_eq!(answer.body, br#"{"hello":"world"}"#);
        assert_eq!(answer.header("opmeter-height"), Some(height.as_str()));
    }
    let posted = request(
        "127.0.0.1",
        &addr,
        "POST",
        "/put",
        &[
            ("Host", &format!("hello.{DOMAIN}")),
            ("Content-Type", "application/json"),
        ],
        br#"{"b": 1}"#,
    )
    .await;
    assert_eq!(posted.status, 200, "{posted:?}");
    // Unknown names, non-names and paths that are not a method: 404 notFound.
    for (host, path) in [
        (format!("nobody.{DOMAIN}"), "/get"),
        (format!("bad_name.{DOMAIN}"), "/get"),
        (format!("hello.{DOMAIN}"), "/"),
        (format!("hello.{DOMAIN}"), "/v1/c/hello/get"),
    ] {
        let answer = get_host(&addr, &host, path).await;
        assert_eq!(
            (answer.status, answer.code()),
            (404, 2010),
            "{host}{path}: {answer:?}"
        );
    }
    // The node's own host (and deeper subdomains) are not contract hosts: JSON-RPC and the UI
    // stay where they are.
    let page = get_host(&addr, DOMAIN, "/").await;
    assert_eq!(page.status, 200);
    assert!(String::from_utf8_lossy(&page.body).contains("<html"));
    let deeper = get_host(&addr, &format!("a.hello.{DOMAIN}"), "/v1/c/hello/get").await;
    assert_eq!(deeper.status, 200, "{deeper:?}");

    // Refusals. Taken: a failed receipt with its typed status, for anyone.
    let mut bob = Wallet::new(crate::support::key(42), "opmeter-dev");
    assert_eq!(
        send(
            &client,
            &dev.transfer(bob.address(), U256::from(10_000_000_000u64))
        )
        .await
        .status,
        "success"
    );
    let bobs = address(&deploy(&addr, &mut bob, KV, b"bob").await);
    bob.gas_limit = 1_000_000;
    assert_eq!(
        send(&client, &bob.call(bobs, "put", r#""bob""#))
            .await
            .status,
        "success"
    );
    let taken = send(&client, &bob.register_name("hello", bobs, b"bob")).await;
    assert_eq!((taken.status.as_str(), taken.status_code), ("nameTaken", 8));
    assert_ne!(taken.fee.0, U256::zero(), "a failed name operation pays");
    let taken = send(&client, &dev.register_name("hello", other, b"other")).await;
    assert_eq!(taken.status, "nameTaken");
    // Not the deployer (Bob naming the development account's contract).
    let stolen = send(&client, &bob.register_name("bobs-kv", kv, b"kv")).await;
    assert_eq!(
        (stolen.status.as_str(), stolen.status_code),
        ("notDeployer", 11)
    );
    // Malformed and too long: refused at admission (1015 invalidName, with the rule), over
    // JSON-RPC and the gateway; nothing is stored, the nonce is not used.
    for (bad, rule) in [
        ("Hello", "badCharacter"),
        ("hi", "tooShort"),
        ("-hello", "edgeHyphen"),
        ("0xhello", "addressPrefix"),
        ("abcdefghijklmnopqrstuvwxyz0123456", "tooLong"),
    ] {
        let signed = bob.register_name(bad, bobs, b"bob");
        bob.nonce -= 1;
        let (code, data) = refusal(client.tx_send_raw(HexBytes(signed.encode())).await);
        assert_eq!(code, 1015, "{bad}");
        assert_eq!(data["reason"], "invalidName");
        assert_eq!(data["rule"], rule, "{bad}");
        assert_eq!(data["name"], bad);
        let answer = request(
            "127.0.0.1",
            &addr,
            "POST",
            "/v1/tx",
            &[("Content-Type", "application/octet-stream")],
            &signed.encode(),
        )
        .await;
        assert_eq!((answer.status, answer.code()), (400, 1015), "{answer:?}");
        assert_eq!(answer.json()["error"]["data"]["rule"], rule);
    }
    let (code, data) = refusal(client.name_get("Hello".into(), None).await);
    assert_eq!(
        (code, data["rule"].as_str()),
        (-32602, Some("badCharacter"))
    );
    // A gas limit below the fixed name gas is refused at admission.
    bob.gas_limit = 21_000;
    let (code, _) = refusal(
        client
            .tx_send_raw(HexBytes(bob.register_name("bobs", bobs, b"bob").encode()))
            .await,
    );
    assert_eq!(code, 1006);
    bob.nonce -= 1;
    bob.gas_limit = 1_000_000;

    // Re-point and transfer: only the owner, to contracts it deployed.
    let refused = send(&client, &bob.point_name("hello", bobs, b"bob")).await;
    assert_eq!(refused.status, "notNameOwner");
    let refused = send(&client, &bob.transfer_name("hello", bob.address())).await;
    assert_eq!(refused.status, "notNameOwner");
    let pointed = send(&client, &dev.point_name("hello", other, b"other")).await;
    assert_eq!(pointed.status, "success");
    assert_eq!(get(&addr, "/v1/c/hello/get").await.body, br#""other""#);
    let given = send(&client, &dev.transfer_name("hello", bob.address())).await;
    assert_eq!(given.status, "success");
    let refused = send(&client, &dev.point_name("hello", kv, b"kv")).await;
    assert_eq!(refused.status, "notNameOwner", "the old owner lost it");
    let pointed = send(&client, &bob.point_name("hello", bobs, b"bob")).await;
    assert_eq!(pointed.status, "success");
    let view = client.name_get("hello".into(), None).await.unwrap();
    assert_eq!(view.owner, Some(bob.address()));
    assert_eq!(view.target, Some(bobs));
    assert_eq!(view.registered_height, Some(registered.height));
    // The name transactions are served with their payloads.
    let tx = client.tx_get(given.tx_hash).await.unwrap().unwrap();
    assert_eq!(
        serde_json::to_value(&tx.payload).unwrap(),
        serde_json::json!({"kind": "transferName", "name": "hello", "newOwner": bob.address()})
    );
    let estimate = client
        .contract_estimate_gas(EstimateArgs {
            from: address_of(&dev_key()),
            tx: TxRequest::RegisterName {
                name: "kv-store".into(),
                target: kv,
                salt: Some(HexBytes(b"kv".to_vec())),
            },
        })
        .await
        .unwrap();
    let payload = Payload::RegisterName {
        name: "kv-store".into(),
        target: kv,
        salt: b"kv".to_vec(),
    };
    assert!(
        estimate.gas_limit.0
            > opmeter_ledger::name::payload_gas(&opmeter_vm::Schedule::v1(), &payload)
    );

    // A restart on the same RocksDB keeps the name.
    let state_root = view.state_root;
    drop(first);
    let (second, url) = spawn_node(&data_dir, &flags);
    let _second = Killed(second);
    let addr = url.trim_start_matches("http://").to_string();
    let client = http(&url).unwrap();
    let view = client.name_get("hello".into(), None).await.unwrap();
    assert_eq!(view.target, Some(bobs));
    assert_eq!(view.state_root, state_root);
    let answer = get_host(&addr, &format!("hello.{DOMAIN}"), "/get").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body, br#""bob""#);
}

/// The CLI: `deploy --name`, calls and sends by name, `name show|transfer|point`, typed
/// refusals before anything is sent; and a name transaction's audit bundle verifies offline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_deploys_with_a_name_calls_by_name_and_name_transactions_audit() {
    use crate::support::{json_of, opmeter, Running};
    let node = Running::start(&[]);
    let work = tempfile::tempdir().unwrap();
    let keys = work.path().join("keys");
    let wat = work.path().join("kv.wat");
    std::fs::write(&wat, KV).unwrap();
    let file = wat.to_str().unwrap();
    let deployed = json_of(&opmeter(
        &node.url,
        &keys,
        &[
            "deploy", file, "--salt", "0x01", "--name", "my-kv", "--json",
        ],
    ));
    assert_eq!(deployed["status"], "success", "{deployed}");
    assert_eq!(deployed["nameReceipt"]["status"], "success", "{deployed}");
    let contract = deployed["contractAddress"].as_str().unwrap().to_string();
    let shown = json_of(&opmeter(
        &node.url,
        &keys,
        &["name", "show", "my-kv", "--json"],
    ));
    assert_eq!(shown["target"], contract.as_str());
    assert_eq!(shown["registered"], true);

    let sent = json_of(&opmeter(
        &node.url,
        &keys,
        &["send", "my-kv", "put", r#""named""#, "--json"],
    ));
    assert_eq!(sent["status"], "success", "{sent}");
    let called = json_of(&opmeter(
        &node.url,
        &keys,
        &["call", "my-kv", "get", "--json"],
    ));
    assert_eq!(called["outputJson"], "named");
    let account = json_of(&opmeter(&node.url, &keys, &["account", "my-kv", "--json"]));
    assert_eq!(account["address"], contract.as_str());

    // Refused before sending: a malformed name; a name taken: a failed receipt, exit 1.
    let bad = opmeter(&node.url, &keys, &["deploy", file, "--name", "My_KV"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("a-z, 0-9 and -"));
    // Taken, or not registered: the estimate says how the transaction would fail (its typed
    // status) and what to do next; nothing is sent.
    let taken = opmeter(
        &node.url,
        &keys,
        &["name", "register", "my-kv", &contract, "--salt", "0x01"],
    );
    assert_eq!(taken.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&taken.stderr);
    assert!(
        stderr.contains("nameTaken") && stderr.contains("choose another"),
        "{stderr}"
    );
    let taken = opmeter(
        &node.url,
        &keys,
        &["name", "point", "nobody", &contract, "--salt", "0x01"],
    );
    assert!(String::from_utf8_lossy(&taken.stderr).contains("nameNotFound"));
    let free = opmeter(&node.url, &keys, &["name", "show", "nobody"]);
    assert_eq!(free.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&free.stdout).contains("is free"));

    // Transfer to a key; the audit bundle of the transfer verifies with the node gone.
    json_of(&opmeter(
        &node.url,
        &keys,
        &["keys", "new", "alice", "--json"],
    ));
    let given = json_of(&opmeter(
        &node.url,
        &keys,
        &["name", "transfer", "my-kv", "alice", "--json"],
    ));
    assert_eq!(given["status"], "success", "{given}");
    let shown = json_of(&opmeter(
        &node.url,
        &keys,
        &["name", "show", "my-kv", "--json"],
    ));
    let alice = json_of(&opmeter(
        &node.url,
        &keys,
        &["keys", "show", "alice", "--json"],
    ));
    assert_eq!(shown["owner"], alice["address"]);
    let bundle = work.path().join("bundle.json");
    let audited = opmeter(
        &node.url,
        &keys,
        &[
            "audit",
            given["txHash"].as_str().unwrap(),
            "--bundle",
            bundle.to_str().unwrap(),
        ],
    );
    assert!(audited.status.success(), "{audited:?}");
    drop(node);
    let verified = opmeter(
        "http://127.0.0.1:9",
        &keys,
        &["verify", bundle.to_str().unwrap()],
    );
    assert!(verified.status.success(), "{verified:?}");
}

/// `who` outputs its caller; `ping` emits an event (topic `"ping"` × 8) with data `"ping"`.
const ECHO: &str = r#"(module
  (import "opmeter" "caller" (func $caller (param i32)))
  (import "opmeter" "output_set" (func $out (param i32 i32)))
  (import "opmeter" "event_emit" (func $emit (param i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "pingpingpingpingpingpingpingping")
  (func (export "who") (call $caller (i32.const 0)) (call $out (i32.const 0) (i32.const 32)))
  (func (export "ping") (call $emit (i32.const 64) (i32.const 1) (i32.const 64) (i32.const 4))))"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_stand_for_callers_and_event_filters_too() {
    use jsonrpsee::core::client::Subscription;
    use opmeter_rpc::types::{EventFilter, EventNotice};
    let dir = tempfile::tempdir().unwrap();
    let (child, url) = spawn_node(&dir.path().join("data"), &[]);
    let _node = Killed(child);
    let addr = url.trim_start_matches("http://").to_string();
    let client = http(&url).unwrap();
    let mut dev = Wallet::new(dev_key(), "opmeter-dev");
    let echo = address(&deploy(&addr, &mut dev, ECHO, b"echo").await);
    let kv = address(&deploy(&addr, &mut dev, KV, b"kv").await);
    dev.gas_limit = 1_000_000;
    assert_eq!(
        send(&client, &dev.register_name("echo", echo, b"echo"))
            .await
            .status,
        "success"
    );
    assert_eq!(
        send(&client, &dev.register_name("store", kv, b"kv"))
            .await
            .status,
        "success"
    );

    // `from` by name: the contract sees the name's target as its caller, over JSON-RPC and the
    // gateway's `_from`.
    let who = |from: Option<AddressOrName>| CallArgs {
        from,
        contract: name("echo"),
        method: "who".into(),
        ..Default::default()
    };
    let by_name = client
        .contract_call(who(Some(name("store"))), None)
        .await
        .unwrap();
    assert_eq!(by_name.output.0, kv.0.to_vec());
    let by_address = client
        .contract_call(who(Some(kv.into())), None)
        .await
        .unwrap();
    assert_eq!(by_address.output, by_name.output);
    assert_eq!(by_address.gas_used, by_name.gas_used);
    let answer = get(&addr, "/v1/c/echo/who?_from=store").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body, kv.0.to_vec());
    let (code, data) = refusal(client.contract_call(who(Some(name("nobody"))), None).await);
    assert_eq!((code, data["name"].as_str()), (2010, Some("nobody")));
    let answer = get(&addr, "/v1/c/echo/who?_from=nobody").await;
    assert_eq!((answer.status, answer.code()), (404, 2010), "{answer:?}");
    let answer = get(&addr, "/v1/c/echo/who?_from=Not_A_Name").await;
    assert_eq!((answer.status, answer.code()), (400, -32602), "{answer:?}");

    // Event filters by name: resolved when the subscription starts; an unknown name is refused.
    let ws_url = url.replacen("http://", "ws://", 1);
    let ws_client = opmeter_rpc::client::ws(&ws_url).await.unwrap();
    let filter = |contract: AddressOrName| EventFilter {
        contract: Some(contract),
        topics: vec![],
    };
    let mut echo_events: Subscription<EventNotice> = ws_client
        .subscribe_events(Some(filter(name("echo"))))
        .await
        .unwrap();
    let mut store_events: Subscription<EventNotice> = ws_client
        .subscribe_events(Some(filter(name("store"))))
        .await
        .unwrap();
    match ws_client
        .subscribe_events(Some(filter(name("nobody"))))
        .await
    {
        Err(ClientError::Call(object)) => assert_eq!(object.code(), 2010),
        other => panic!("expected 2010, got {:?}", other.map(|_| ())),
    }
    let pinged = send(&client, &dev.call(echo, "ping", "")).await;
    assert_eq!(pinged.status, "success", "{pinged:?}");
    let notice = tokio::time::timeout(std::time::Duration::from_secs(10), echo_events.next())
        .await
        .expect("the event arrives")
        .unwrap()
        .unwrap();
    assert_eq!(notice.event.contract, echo);
    assert_eq!(notice.event.data.0, b"ping".to_vec());
    // The other name's subscription saw nothing of it.
    let nothing =
        tokio::time::timeout(std::time::Duration::from_millis(300), store_events.next()).await;
    assert!(nothing.is_err(), "{nothing:?}");
}
