//! The HTTP gateway end to end, over real sockets against a spawned `opmeter node`, with raw
//! HTTP/1.1 requests as `curl` sends them: calls by address (GET with query arguments, POST with
//! a JSON body), output as the body and gas, height, status and schedule in headers, log lines on
//! request, transactions raw and hex (with and without waiting), every error as an HTTP status
//! with the JSON-RPC code, the time limit and the per-client budget; then schemathesis checks the
//! running gateway against its OpenAPI document.

use std::path::Path;
use std::process::Command;

use opmeter_ledger::tx::Wallet;
use opmeter_node::genesis::dev_key;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{Running, KV};

/// An HTTP answer: status, headers (lowercase names, in order), body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{e}: {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The JSON-RPC code of an error answer.
    pub(crate) fn code(&self) -> i64 {
        self.json()["error"]["code"]
            .as_i64()
            .unwrap_or_else(|| panic!("no error code: {self:?}"))
    }
}

/// One HTTP/1.1 request from local address `from` (`Connection: close`), answered within 30 s;
/// `Host` is `addr` unless `extra` sets it.
pub(crate) async fn request(
    from: &str,
    addr: &str,
    method: &str,
    target: &str,
    extra: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let mut stream = socket.connect(addr.parse().unwrap()).await.unwrap();
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !extra
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("host"))
    {
        head.push_str(&format!("Host: {addr}\r\n"));
    }
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        stream.read_to_end(&mut raw),
    )
    .await
    .expect("answered within 30 s")
    .unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.trim().to_ascii_lowercase(), value.trim().to_string())
        })
        .collect();
    Answer {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

pub(crate) async fn get(addr: &str, target: &str) -> Answer {
    request("127.0.0.1", addr, "GET", target, &[], b"").await
}

/// Deploys `wat` with the development key through `POST /v1/tx?wait=true` (raw bytes); returns
/// its address.
pub(crate) async fn deploy(addr: &str, wallet: &mut Wallet, wat: &str, salt: &[u8]) -> String {
    let tx = wallet.deploy(&wat::parse_str(wat).unwrap(), "", salt);
    let answer = request(
        "127.0.0.1",
        addr,
        "POST",
        "/v1/tx?wait=true",
        &[("Content-Type", "application/octet-stream")],
        &tx.encode(),
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer);
    let receipt = answer.json();
    assert_eq!(receipt["status"], "success", "{receipt}");
    receipt["contractAddress"].as_str().unwrap().to_string()
}

/// `hello` logs two lines (the second with a newline and a `%`) and outputs `"hi"`.
const LOGGER: &str = r#"(module
  (import "opmeter" "debug_log" (func $log (param i32 i32)))
  (import "opmeter" "output_set" (func $out (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "first line")
  (data (i32.const 16) "100%\0adone")
  (data (i32.const 32) "\22hi\22")
  (func (export "hello")
    (call $log (i32.const 0) (i32.const 10))
    (call $log (i32.const 16) (i32.const 9))
    (call $out (i32.const 32) (i32.const 4))))"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contracts_answer_plain_http_with_the_json_rpc_error_codes() {
    let node = Running::start(&[
        "--rpc-call-time-max",
        "300ms",
        "--rpc-call-gas-max",
        "1000000000000000",
        "--rpc-read-gas-per-second",
        "1000000",
        "--rpc-read-gas-burst",
        "3000000000000000",
        // Stopped loops spend a contract's daily quota in full: none here.
        "--quota-daily-gas",
        "0",
    ]);
    let addr = node.addr();
    let mut wallet = Wallet::new(dev_key(), "opmeter-dev");
    let kv = deploy(&addr, &mut wallet, KV, b"kv").await;
    let logger = deploy(&addr, &mut wallet, LOGGER, b"logger").await;

    // A transaction as 0x hex, not waited for: 202 with its hash; then GET /v1/tx/{hash}.
    wallet.gas_limit = 1_000_000;
    let put = wallet.call(
        serde_json::from_value(Value::String(kv.clone())).unwrap(),
        "put",
        r#"{"a":[1,2]}"#,
    );
    let hex = format!("0x{}", hex::encode(put.encode()));
    let sent = request(
        "127.0.0.1",
        &addr,
        "POST",
        "/v1/tx",
        &[("Content-Type", "text/plain")],
        hex.as_bytes(),
    )
    .await;
    assert_eq!(sent.status, 202, "{sent:?}");
    let hash = sent.json()["hash"].as_str().unwrap().to_string();
    assert_eq!(hash, put.hash().to_string());
    let mut committed = None;
    for _ in 0..100 {
        // Pending or committed, never unknown (also while its block commits).
        let answer = get(&addr, &format!("/v1/tx/{hash}")).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        let value = answer.json();
        assert_eq!(value["transaction"]["hash"], hash.as_str());
        if !value["receipt"].is_null() {
            committed = Some(value);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let committed = committed.expect("committed within 5 s");
    assert_eq!(committed["receipt"]["status"], "success");
    let height = committed["receipt"]["height"].as_u64().unwrap();

    // GET by address: the output is the body (JSON here), gas, height, status, schedule in
    // headers.
    let answer = get(&addr, &format!("/v1/c/{kv}/get")).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body, br#"{"a":[1,2]}"#);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.header("opmeter-status"), Some("success"));
    assert_eq!(
        answer.header("opmeter-height"),
        Some(height.to_string().as_str())
    );
    let gas: u64 = answer.header("opmeter-gas-used").unwrap().parse().unwrap();
    assert!(gas > 0);
    assert_eq!(answer.header("opmeter-gas-limit"), Some("1000000000000000"));
    let schedule = answer.header("opmeter-schedule-hash").unwrap();
    assert!(
        schedule.starts_with("0x") && schedule.len() == 66,
        "{schedule}"
    );
    // The same call over JSON-RPC costs the same gas.
    let rpc = opmeter_rpc::client::http(&node.url).unwrap();
    let over_rpc = opmeter_rpc::OpmeterApiClient::contract_call(
        &rpc,
        opmeter_rpc::CallArgs {
            contract: serde_json::from_value(Value::String(kv.clone())).unwrap(),
            method: "get".into(),
            ..Default::default()
        },
        None,
    )
    .await
    .unwrap();
    assert_eq!(over_rpc.gas_used.0, gas);
    assert_eq!(answer.all("opmeter-log"), Vec::<&str>::new());

    // Query arguments become a JSON object (`put` outputs nothing, but the read-only call runs
    // with that input); a POST body is the input as is. Neither writes anything.
    let answer = get(&addr, &format!("/v1/c/{kv}/put?x=1&name=bob&_gas=5000000")).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.header("opmeter-gas-limit"), Some("5000000"));
    let posted = request(
        "127.0.0.1",
        &addr,
        "POST",
        &format!("/v1/c/{kv}/put"),
        &[("Content-Type", "application/json")],
        br#"{"b": true}"#,
    )
    .await;
    assert_eq!(posted.status, 200, "{posted:?}");
    assert_eq!(
        get(&addr, &format!("/v1/c/{kv}/get")).await.body,
        br#"{"a":[1,2]}"#
    );

    // Log lines on request (query or header), percent-encoded; JSON output `"hi"`.
    for (target, headers) in [
        (format!("/v1/c/{logger}/hello?_logs=true"), vec![]),
        (
            format!("/v1/c/{logger}/hello"),
            vec![("opmeter-logs", "true")],
        ),
    ] {
        let answer = request("127.0.0.1", &addr, "GET", &target, &headers, b"").await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.body, b"\"hi\"");
        assert_eq!(
            answer.all("opmeter-log"),
            vec!["first line", "100%25%0Adone"]
        );
    }

    // Errors: HTTP status + the JSON-RPC code.
    let zero = format!("0x{}", "00".repeat(32));
    let cases: Vec<(String, u16, i64)> = vec![
        ("/v1/c/0x01/get".into(), 400, -32602),
        (format!("/v1/c/{zero}/get"), 404, 2004),
        (format!("/v1/c/{kv}/nothing"), 404, 2004),
        (format!("/v1/c/{kv}/fail"), 422, 2004),
        (format!("/v1/c/{kv}/get?_height=99999"), 404, 2001),
        (format!("/v1/c/{kv}/get?_gas=2000000000000000"), 400, 2002),
        (format!("/v1/c/{kv}/get?_gas=lots"), 400, -32602),
        (format!("/v1/c/{kv}/get?_nope=1"), 400, -32602),
        (format!("/v1/c/{kv}/get?a=1&a=2"), 400, -32602),
        ("/v1/tx/0x12".into(), 400, -32602),
        (format!("/v1/tx/0x{}", "ab".repeat(32)), 404, 2010),
        ("/v1/nothing".into(), 404, 2010),
    ];
    for (target, status, code) in cases {
        let answer = get(&addr, &target).await;
        assert_eq!(
            (answer.status, answer.code()),
            (status, code),
            "{target}: {answer:?}"
        );
    }
    let failed = get(&addr, &format!("/v1/c/{kv}/fail")).await.json();
    assert_eq!(failed["error"]["data"]["status"], "trap");
    assert_eq!(failed["error"]["name"], "executionFailed");
    let wrong = request("127.0.0.1", &addr, "DELETE", "/v1/tx", &[], b"").await;
    assert_eq!((wrong.status, wrong.code()), (405, -32600));
    assert_eq!(wrong.header("allow"), Some("POST"));
    let garbage = request("127.0.0.1", &addr, "POST", "/v1/tx", &[], b"\x01\x02").await;
    assert_eq!((garbage.status, garbage.code()), (400, 1002));
    let not_json = request(
        "127.0.0.1",
        &addr,
        "POST",
        &format!("/v1/c/{kv}/get"),
        &[],
        b"{nope",
    )
    .await;
    assert_eq!((not_json.status, not_json.code()), (400, -32700));
    let replay = request("127.0.0.1", &addr, "POST", "/v1/tx", &[], hex.as_bytes()).await;
    assert_eq!((replay.status, replay.code()), (409, 1012), "{replay:?}");

    // The time limit: a loop is stopped (504, 2009) and the gateway serves on.
    let looped = request(
        "127.0.0.3",
        &addr,
        "GET",
        &format!("/v1/c/{kv}/spin"),
        &[],
        b"",
    )
    .await;
    assert_eq!((looped.status, looped.code()), (504, 2009), "{looped:?}");
    assert_eq!(looped.json()["error"]["data"]["timeLimitMs"], 300);
    assert_eq!(get(&addr, &format!("/v1/c/{kv}/get")).await.status, 200);

    // The per-client budget (3·10¹⁵ burst, 10⁶ gas/s): 127.0.0.2 spends it on loops of 10¹⁵ gas
    // (each stopped by the time limit and charged all of it) and gets 429 with Retry-After;
    // 127.0.0.1 is unaffected.
    let mut limited = None;
    for _ in 0..6 {
        let answer = request(
            "127.0.0.2",
            &addr,
            "GET",
            &format!("/v1/c/{kv}/spin"),
            &[],
            b"",
        )
        .await;
        if answer.status == 429 {
            limited = Some(answer);
            break;
        }
        assert_eq!(answer.status, 504, "{answer:?}");
    }
    let limited = limited.expect("the budget ran out");
    assert_eq!(limited.code(), 2003);
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!(retry >= 1, "{retry}");
    assert_eq!(get(&addr, &format!("/v1/c/{kv}/get")).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_is_served_and_the_spec_copy_is_current() {
    let node = Running::start(&[]);
    let served = get(&node.addr(), "/v1/openapi.json").await;
    assert_eq!(served.status, 200);
    let document = opmeter_rpc::openapi::document(opmeter_rpc::RpcConfig::default().call_gas_max);
    assert_eq!(served.json(), document);
    crate::support::assert_spec_current(
        "openapi.json",
        &document,
        "UPDATE_EXPECT=1 cargo test -p opmeter-node --test all openapi",
    );
}

/// The schemathesis command: `$OPMETER_SCHEMATHESIS`, else the one `scripts/setup.sh` installs.
fn schemathesis() -> std::path::PathBuf {
    if let Some(path) = std::env::var_os("OPMETER_SCHEMATHESIS") {
        return path.into();
    }
    let home = std::env::var_os("HOME").expect("HOME");
    Path::new(&home).join(".cache/opmeter/venv/bin/schemathesis")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_failure_against_the_running_gateway() {
    let st = schemathesis();
    assert!(
        st.exists(),
        "{} is missing: run scripts/setup.sh (it installs schemathesis from PyPI)",
        st.display()
    );
    let node = Running::start(&["--rpc-read-gas-per-second", "0"]);
    let addr = node.addr();
    let mut wallet = Wallet::new(dev_key(), "opmeter-dev");
    let kv = deploy(&addr, &mut wallet, KV, b"st").await;
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/schemathesis.toml");
    let reports = tempfile::tempdir().unwrap();
    let output = Command::new(&st)
        .arg("--no-color")
        .arg("--config-file")
        .arg(&config)
        .args(["run", &format!("http://{addr}/v1/openapi.json")])
        .args(["--url", &format!("http://{addr}")])
        .args(["--max-examples", "40", "--workers", "1", "--seed", "1"])
        .arg("--report-dir")
        .arg(reports.path())
        .env("OPMETER_GATEWAY_CONTRACT", &kv)
        .current_dir(reports.path())
        .output()
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found failures:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // It really tested every operation.
    assert!(stdout.contains("Tested: 4"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contract_that_spends_its_daily_quota_gets_429_others_do_not_and_a_restart_keeps_it() {
    use opmeter_node::genesis::address_of;
    use opmeter_rpc::client::{http, OpmeterApiClient};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let flags = [
        "--quota-daily-gas",
        "200000",
        "--rpc-read-gas-per-second",
        "0",
    ];
    let (child, url) = crate::support::spawn_node(&data, &flags);
    let first = crate::support::Killed(child);
    let addr = url.trim_start_matches("http://").to_string();
    let mut wallet = Wallet::new(dev_key(), "opmeter-dev");
    let a = deploy(&addr, &mut wallet, KV, b"a").await;
    let b = deploy(&addr, &mut wallet, KV, b"b").await;
    // The address is what the deployer, code and salt make it.
    let code_hash = opmeter_vm::CodeHash::of(&wat::parse_str(KV).unwrap());
    let expected = opmeter_vm::Address::for_contract(&address_of(&dev_key()), &code_hash, b"a");
    assert_eq!(a, expected.to_string());

    // 200,000 gas a day: two loops of 150,000 (out of gas, charged in full) spend it.
    for _ in 0..2 {
        let answer = get(&addr, &format!("/v1/c/{a}/spin?_gas=150000")).await;
        assert_eq!(answer.status, 422, "{answer:?}");
        assert_eq!(answer.header("opmeter-quota-daily"), Some("200000"));
    }
    let spent = get(&addr, &format!("/v1/c/{a}/get")).await;
    assert_eq!((spent.status, spent.code()), (429, 2011), "{spent:?}");
    let retry: u64 = spent.header("retry-after").unwrap().parse().unwrap();
    // The first loop leaves the window 24 h after its 15-minute bucket ends.
    assert!((23 * 3600..=24 * 3600 + 900).contains(&retry), "{retry}");
    assert_eq!(spent.json()["error"]["data"]["dailyGas"], "200000");
    // Another contract is unaffected, and says what it has left.
    let other = get(&addr, &format!("/v1/c/{b}/get?_gas=1000000")).await;
    assert_eq!(other.status, 422, "{other:?}"); // nothing stored: `get` traps, a result
    let left: u64 = other
        .header("opmeter-quota-remaining")
        .unwrap()
        .parse()
        .unwrap();
    assert!(left > 0 && left < 200_000, "{left}");
    // Over JSON-RPC: the same refusal, and the quota itself.
    let client = http(&url).unwrap();
    let contract = |text: &str| -> opmeter_vm::Address {
        serde_json::from_value(Value::String(text.to_string())).unwrap()
    };
    let refused = client
        .contract_call(
            opmeter_rpc::CallArgs {
                contract: contract(&a).into(),
                method: "get".into(),
                ..Default::default()
            },
            None,
        )
        .await;
    match refused {
        Err(jsonrpsee::core::client::Error::Call(object)) => assert_eq!(object.code(), 2011),
        other => panic!("expected 2011, got {other:?}"),
    }
    // An estimate of a call runs the contract's code: refused too.
    let estimate = |target: &str| opmeter_rpc::EstimateArgs {
        from: address_of(&dev_key()),
        tx: opmeter_rpc::TxRequest::Call {
            contract: contract(target).into(),
            method: "put".into(),
            args: None,
            input: Some(opmeter_ledger::encoding::HexBytes(b"v".to_vec())),
            value: None,
        },
    };
    match client.contract_estimate_gas(estimate(&a)).await {
        Err(jsonrpsee::core::client::Error::Call(object)) => assert_eq!(object.code(), 2011),
        other => panic!("expected 2011, got {other:?}"),
    }
    let quota = client.contract_quota(contract(&a).into()).await.unwrap();
    assert_eq!(quota.daily_gas.map(|g| g.0), Some(200_000));
    assert_eq!(quota.used_gas.0, 300_000);
    assert_eq!(quota.remaining_gas.map(|g| g.0), Some(0));
    assert_eq!(quota.window_ms, 24 * 3600 * 1000);

    // Usage is saved within a second; a restart on the same data keeps it.
    let saved = data.join("quotas.json");
    for _ in 0..100 {
        if std::fs::read_to_string(&saved).is_ok_and(|t| t.contains(&a)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(std::fs::read_to_string(&saved).unwrap().contains(&a));
    drop(first);
    let (second, url) = crate::support::spawn_node(&data, &flags);
    let _second = crate::support::Killed(second);
    let addr = url.trim_start_matches("http://").to_string();
    let still = get(&addr, &format!("/v1/c/{a}/get")).await;
    assert_eq!((still.status, still.code()), (429, 2011), "{still:?}");
    assert_eq!(get(&addr, &format!("/v1/c/{b}/put")).await.status, 200);
    // An estimate spends the contract's quota with every execution it ran.
    let client = http(&url).unwrap();
    let before = client.contract_quota(contract(&b).into()).await.unwrap();
    let estimated = client.contract_estimate_gas(estimate(&b)).await.unwrap();
    let after = client.contract_quota(contract(&b).into()).await.unwrap();
    let spent = after.used_gas.0 - before.used_gas.0;
    // `put` needs no more gas than it uses: one run at the cap, one at the estimate.
    assert_eq!(estimated.executions, 2);
    assert_eq!(spent, 2 * estimated.gas_used.0);
    // An address without code runs none and has no quota to spend: calling random addresses
    // does not grow the quota table.
    let nobody = format!("0x{}", "09".repeat(32));
    for _ in 0..3 {
        assert_eq!(get(&addr, &format!("/v1/c/{nobody}/get")).await.status, 404);
    }
    let untouched = client
        .contract_quota(contract(&nobody).into())
        .await
        .unwrap();
    assert_eq!(untouched.used_gas.0, 0);
    // The saved table (written within a second of a change: the estimate above changed it)
    // has `b` and not the address without code.
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    let table = std::fs::read_to_string(&saved).unwrap();
    assert!(table.contains(&b) && !table.contains(&nobody), "{table}");
}

/// The samples of a metrics page, parsed by a Prometheus parser.
fn scrape(page: &[u8]) -> prometheus_parse::Scrape {
    let text = String::from_utf8(page.to_vec()).unwrap();
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .unwrap_or_else(|e| panic!("not a Prometheus page: {e}\n{text}"))
}

/// The value of the sample `metric` with exactly these labels (among its labels).
fn sample(scrape: &prometheus_parse::Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    let found = scrape
        .samples
        .iter()
        .find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .unwrap_or_else(|| panic!("no sample {metric} {labels:?}"));
    match &found.value {
        prometheus_parse::Value::Counter(v)
        | prometheus_parse::Value::Gauge(v)
        | prometheus_parse::Value::Untyped(v) => *v,
        other => panic!("{metric}: not a number: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_page_parses_and_counts_what_happened() {
    use opmeter_rpc::client::{http, OpmeterApiClient};
    let node = Running::start(&["--quota-daily-gas", "1000000000000"]);
    let addr = node.addr();
    let mut wallet = Wallet::new(dev_key(), "opmeter-dev");
    let kv = deploy(&addr, &mut wallet, KV, b"metrics").await;
    let contract: opmeter_vm::Address = serde_json::from_value(Value::String(kv.clone())).unwrap();
    let client = http(&node.url).unwrap();
    let mut gas = 0;
    for _ in 0..3 {
        let call = opmeter_rpc::CallArgs {
            contract: contract.into(),
            method: "put".into(),
            ..Default::default()
        };
        gas += client.contract_call(call, None).await.unwrap().gas_used.0;
    }
    let head = client.chain_head().await.unwrap();
    let unknown: Result<Value, _> = jsonrpsee::core::client::ClientT::request(
        &client,
        "no_such_method",
        jsonrpsee::rpc_params![],
    )
    .await;
    assert!(unknown.is_err());
    for _ in 0..2 {
        let answer = get(&addr, &format!("/v1/c/{kv}/put")).await;
        assert_eq!(answer.status, 200);
        gas += answer
            .header("opmeter-gas-used")
            .unwrap()
            .parse::<u64>()
            .unwrap();
    }
    assert_eq!(get(&addr, &format!("/v1/c/{kv}/fail")).await.status, 422);

    let page = get(&addr, "/metrics").await;
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let metrics = scrape(&page.body);
    let rpc = |method: &str, outcome: &str| {
        sample(
            &metrics,
            "opmeter_rpc_requests_total",
            &[("method", method), ("outcome", outcome)],
        )
    };
    assert_eq!(rpc("contract_call", "ok"), 3.0);
    assert_eq!(rpc("chain_head", "ok"), 1.0);
    assert_eq!(rpc("unknown", "-32601"), 1.0);
    let http_count = |route: &str, status: &str| {
        sample(
            &metrics,
            "opmeter_http_requests_total",
            &[("route", route), ("status", status)],
        )
    };
    assert_eq!(http_count("gateway_call", "200"), 2.0);
    assert_eq!(http_count("gateway_call", "422"), 1.0);
    assert_eq!(http_count("gateway_tx", "200"), 1.0);
    // Latency histograms, by method and by route.
    let histogram = metrics
        .samples
        .iter()
        .find(|s| {
            s.metric == "opmeter_rpc_request_duration_seconds"
                && s.labels.get("method") == Some("contract_call")
        })
        .expect("a latency histogram of contract_call");
    match &histogram.value {
        prometheus_parse::Value::Histogram(buckets) => {
            assert_eq!(buckets.last().unwrap().count, 3.0, "{buckets:?}");
        }
        other => panic!("not a histogram: {other:?}"),
    }
    // Gas by contract (the failing call's gas too), the quota it spent, the chain.
    let read_gas = sample(&metrics, "opmeter_read_gas_total", &[("contract", &kv)]);
    assert!(
        read_gas > gas as f64,
        "{read_gas} vs {gas} + the failing call"
    );
    assert_eq!(
        sample(&metrics, "opmeter_quota_used_gas", &[("contract", &kv)]),
        read_gas
    );
    assert_eq!(
        sample(&metrics, "opmeter_quota_daily_gas", &[("contract", &kv)]),
        1e12
    );
    assert_eq!(
        sample(&metrics, "opmeter_head_height", &[]),
        head.height as f64
    );
    assert!(sample(&metrics, "opmeter_blocks_total", &[]) >= 1.0);
    assert!(sample(&metrics, "opmeter_block_transactions_total", &[]) >= 1.0);
    assert_eq!(sample(&metrics, "opmeter_mempool_transactions", &[]), 0.0);
    assert!(sample(&metrics, "opmeter_code_cache_hits_total", &[]) >= 1.0);
    assert!(sample(&metrics, "opmeter_code_cache_misses_total", &[]) >= 1.0);
    assert_eq!(sample(&metrics, "opmeter_read_timeouts_total", &[]), 0.0);
    for cf in [
        "accounts",
        "storage",
        "code",
        "jmt_nodes",
        "headers",
        "mempool",
    ] {
        sample(&metrics, "opmeter_db_sst_bytes", &[("cf", cf)]);
        sample(&metrics, "opmeter_db_memtable_bytes", &[("cf", cf)]);
    }
    assert!(sample(&metrics, "opmeter_db_memtable_bytes", &[("cf", "accounts")]) > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_the_request_id_the_client_gets() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("node.log");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_opmeter"))
        .args(["node", "--data-dir"])
        .arg(dir.path().join("data"))
        .args(["--rpc-addr", "127.0.0.1:0", "--log-format", "json"])
        .env("RUST_LOG", "opmeter_rpc=debug")
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let url = loop {
        let line = lines.next().expect("the node printed its address").unwrap();
        if let Some(rest) = line.trim().strip_prefix("rpc:") {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    let child = crate::support::Killed(child);
    let addr = url.trim_start_matches("http://").to_string();
    let answer = get(&addr, "/v1/nothing").await;
    assert_eq!(answer.status, 404);
    let id: u64 = answer
        .header("opmeter-request-id")
        .unwrap()
        .parse()
        .unwrap();
    let second = get(&addr, "/v1/openapi.json").await;
    let next: u64 = second
        .header("opmeter-request-id")
        .unwrap()
        .parse()
        .unwrap();
    assert!(next > id);
    drop(child);
    let text = std::fs::read_to_string(&log).unwrap();
    let ours: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .filter(|v| v["span"]["id"] == id)
        .collect();
    assert!(
        ours.iter().any(|v| v["fields"]["status"] == 404
            && v["span"]["route"] == "gateway_other"
            && v["level"] == "DEBUG"),
        "no answered line for request {id}:\n{text}"
    );
}
