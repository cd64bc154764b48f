//! The gas report page (`GET /` on the JSON-RPC port) against a spawned `opmeter node`: served
//! next to JSON-RPC without disturbing it, and rendered by headless Chromium for a real
//! transaction, whose shown breakdown must equal the receipt's to the unit.
//!
//! Chromium is required (Debian's `chromium`, installed by `scripts/setup.sh`); set
//! `OPMETER_CHROMIUM` to use another binary. Without it the test fails, it does not skip.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use opmeter_rpc::client::{http, ws, OpmeterApiClient};
use serde_json::Value;

use crate::support::{json_of, opmeter, Running, KV};

/// One raw HTTP/1.1 request; returns the status, the header block (lowercase) and the body.
fn request(addr: &str, method: &str, path: &str, body: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).to_string();
    let (headers, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = headers
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, headers.to_ascii_lowercase(), body.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_is_served_on_the_rpc_port_and_json_rpc_still_works() {
    let node = Running::start(&[]);
    let addr = node.addr();

    for path in ["/", "/ui", "/?from=test"] {
        let (status, headers, body) = request(&addr, "GET", path, "");
        assert_eq!(status, 200, "GET {path}: {headers}");
        assert!(
            headers.contains("content-type: text/html; charset=utf-8"),
            "{headers}"
        );
        let csp = format!(
            "content-security-policy: {}",
            opmeter_rpc::ui::CONTENT_SECURITY_POLICY.to_ascii_lowercase()
        );
        assert!(headers.contains(&csp), "{headers}");
        assert!(headers.contains("x-content-type-options: nosniff"));
        assert_eq!(body, opmeter_rpc::ui::PAGE, "GET {path}");
    }
    let (status, headers, body) = request(&addr, "HEAD", "/", "");
    assert_eq!(status, 200);
    assert!(headers.contains("text/html"));
    assert!(body.is_empty());
    // Other paths are not the page; they go to JSON-RPC, which refuses a GET.
    let (status, _, body) = request(&addr, "GET", "/favicon.ico", "");
    assert_ne!(status, 200, "{body}");
    assert!(!body.contains("<html"));

    // JSON-RPC over HTTP on `/` (and any path) is untouched.
    let head = r#"{"jsonrpc":"2.0","id":1,"method":"chain_head","params":[]}"#;
    for path in ["/", "/ui"] {
        let (status, headers, body) = request(&addr, "POST", path, head);
        assert_eq!(status, 200, "POST {path}: {body}");
        assert!(headers.contains("application/json"), "{headers}");
        let value: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value["result"]["height"], 0, "{value}");
    }
    // So are the typed client and WebSocket (a GET with `Upgrade` on `/`).
    let client = http(&node.url).unwrap();
    assert_eq!(client.chain_head().await.unwrap().height, 0);
    let ws_client = ws(&node.url.replacen("http://", "ws://", 1)).await.unwrap();
    assert_eq!(ws_client.chain_head().await.unwrap().height, 0);
    let _heads = ws_client.subscribe_new_heads().await.unwrap();
}

/// The browser: `OPMETER_CHROMIUM` or Debian's `chromium`. Fails (does not skip) when missing.
fn chromium() -> String {
    let binary = std::env::var("OPMETER_CHROMIUM").unwrap_or_else(|_| "chromium".into());
    match Command::new(&binary).arg("--version").output() {
        Ok(out) if out.status.success() => binary,
        other => panic!(
            "the gas report page test needs headless Chromium, and `{binary} --version` failed \
             ({other:?}). Install Debian's `chromium` package (`scripts/setup.sh` does), or set \
             OPMETER_CHROMIUM to a Chromium binary."
        ),
    }
}

/// Loads `url` in headless Chromium (fresh profile) and returns the DOM after its scripts ran.
fn dump_dom(url: &str) -> String {
    let binary = chromium();
    let profile = tempfile::tempdir().unwrap();
    let dom_path = profile.path().join("dom.html");
    let mut child = Command::new(&binary)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
        ])
        .arg(format!(
            "--user-data-dir={}",
            profile.path().join("profile").display()
        ))
        .args(["--virtual-time-budget=15000", "--dump-dom", url])
        .stdout(std::fs::File::create(&dom_path).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {binary}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{binary} --dump-dom {url} did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{binary} --dump-dom {url}: {status}");
    std::fs::read_to_string(&dom_path).unwrap()
}

/// The element whose start tag contains `needle`, up to the first `close` after it.
fn element<'a>(dom: &'a str, needle: &str, close: &str) -> &'a str {
    let at = dom
        .find(needle)
        .unwrap_or_else(|| panic!("no {needle} in the page:\n{dom}"));
    let start = dom[..at].rfind('<').unwrap();
    let end = at
        + dom[at..]
            .find(close)
            .unwrap_or_else(|| panic!("no {close} after {needle}"))
        + close.len();
    &dom[start..end]
}

/// The value of attribute `name` in the start tag `element` begins with.
fn attr<'a>(element: &'a str, name: &str) -> Option<&'a str> {
    let tag = &element[..element.find('>')?];
    let key = format!(" {name}=\"");
    let from = tag.find(&key)? + key.len();
    Some(&tag[from..from + tag[from..].find('"')?])
}

/// The text of the first `<td class="gas">` in `element`.
fn gas_cell(element: &str) -> &str {
    let open = r#"<td class="gas">"#;
    let from = element
        .find(open)
        .unwrap_or_else(|| panic!("no gas cell in {element}"))
        + open.len();
    &element[from..from + element[from..].find('<').unwrap()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_chromium_shows_the_receipts_exact_gas_breakdown_replay_and_trace() {
    // Before the node, so a missing browser is the first and only failure.
    chromium();
    let node = Running::start(&[]);
    let work = tempfile::tempdir().unwrap();
    let keys = work.path().join("keys");
    let wat = work.path().join("kv.wat");
    std::fs::write(&wat, KV).unwrap();
    let deployed = json_of(&opmeter(
        &node.url,
        &keys,
        &["deploy", wat.to_str().unwrap(), "--json"],
    ));
    assert_eq!(deployed["status"], "success", "{deployed}");
    let contract = deployed["contractAddress"].as_str().unwrap().to_string();
    let sent = json_of(&opmeter(
        &node.url,
        &keys,
        &["send", &contract, "put", r#""a value to store""#, "--json"],
    ));
    assert_eq!(sent["status"], "success", "{sent}");
    let tx_hash = sent["txHash"].as_str().unwrap().to_string();

    let client = http(&node.url).unwrap();
    let receipt = client
        .tx_receipt(tx_hash.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        receipt.gas_breakdown.len() >= 3,
        "{:?}",
        receipt.gas_breakdown
    );

    let dom = dump_dom(&format!("{}/#tx={tx_hash}", node.url));
    assert!(
        dom.contains(r#"<body data-state="ready""#),
        "the page did not finish loading within Chromium's virtual time budget:\n{dom}"
    );

    // The breakdown: every category of the receipt with exactly its number, and nothing else.
    let table = element(&dom, r#"id="gas""#, "</table>");
    assert_eq!(
        table.matches("data-category=").count(),
        receipt.gas_breakdown.len(),
        "{table}"
    );
    for (category, gas) in &receipt.gas_breakdown {
        let row = element(table, &format!(r#"data-category="{category}""#), "</tr>");
        assert_eq!(
            attr(row, "data-gas"),
            Some(gas.to_string().as_str()),
            "{row}"
        );
        assert_eq!(gas_cell(row), gas.to_string(), "{row}");
    }
    let total = element(&dom, r#"id="gas-total""#, "</tr>");
    assert_eq!(
        attr(total, "data-gas"),
        Some(receipt.gas_used.to_string().as_str())
    );
    assert_eq!(gas_cell(total), receipt.gas_used.to_string());
    let sum = element(&dom, r#"id="gas-sum""#, "</div>");
    assert_eq!(attr(sum, "data-matches"), Some("true"), "{sum}");

    // The receipt table shows the receipt.
    let used = element(&dom, r#"data-field="gasUsed""#, "</tr>");
    assert!(used.contains(&format!(">{}<", receipt.gas_used)), "{used}");

    // The replay matches, every field of it.
    let replay = element(&dom, r#"id="replay-status""#, "</div>");
    assert_eq!(attr(replay, "data-matches"), Some("true"), "{replay}");
    assert!(replay.contains(">matches: "), "{replay}");
    let fields = element(&dom, r#"id="replay-fields""#, "</table>");
    assert!(fields.contains(r#"data-field="gasUsed" data-matches="true""#));
    assert!(!fields.contains(r#"data-matches="false""#), "{fields}");

    // The recent blocks list the transaction (and the deployment) as links.
    let blocks = element(&dom, r#"id="blocks""#, r#"id="tx-view""#);
    for hash in [&tx_hash, deployed["txHash"].as_str().unwrap()] {
        assert!(
            blocks.contains(&format!(r##"href="#tx={hash}" data-tx="{hash}""##)),
            "{hash} not listed in {blocks}"
        );
    }

    // The trace: a tree whose root spends exactly gasUsed minus the intrinsic gas, with the
    // contract's functions and host calls in it.
    let trace = element(&dom, r#"id="trace""#, ">");
    assert_eq!(attr(trace, "data-state"), Some("loaded"), "{dom}");
    assert_eq!(
        attr(trace, "data-gas-used"),
        Some(receipt.gas_used.to_string().as_str())
    );
    let intrinsic: u64 = attr(trace, "data-intrinsic-gas").unwrap().parse().unwrap();
    let gas_used = receipt.gas_used.0;
    assert!(0 < intrinsic && intrinsic < gas_used, "{trace}");
    let root = element(&dom, r#"id="trace-root""#, ">");
    assert!(root.starts_with(r#"<details class="frame""#), "{root}");
    assert_eq!(
        attr(root, "data-gas"),
        Some((gas_used - intrinsic).to_string().as_str()),
        "{root}"
    );
    let check = element(&dom, r#"id="trace-check""#, "</p>");
    assert_eq!(attr(check, "data-matches"), Some("true"), "{check}");
    let tree = element(&dom, r#"id="trace-root""#, r#"id="trace-check""#);
    assert!(tree.contains(r#"data-kind="function""#), "{tree}");
    assert!(tree.contains(">storage_write<"), "{tree}");
    assert!(tree.contains("<details"), "{tree}");

    // A value transfer: no code ran, so the tree has no root and only intrinsic gas is billed.
    let alice = json_of(&opmeter(
        &node.url,
        &keys,
        &["keys", "new", "alice", "--json"],
    ));
    let transfer = json_of(&opmeter(
        &node.url,
        &keys,
        &[
            "transfer",
            alice["address"].as_str().unwrap(),
            "1000",
            "--json",
        ],
    ));
    let transfer_hash = transfer["txHash"].as_str().unwrap();
    let transfer_receipt = client
        .tx_receipt(transfer_hash.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    let dom = dump_dom(&format!("{}/ui#tx={transfer_hash}", node.url));
    assert!(dom.contains(r#"<body data-state="ready""#), "{dom}");
    let total = element(&dom, r#"id="gas-total""#, "</tr>");
    assert_eq!(gas_cell(total), transfer_receipt.gas_used.to_string());
    for (category, gas) in &transfer_receipt.gas_breakdown {
        let row = element(&dom, &format!(r#"data-category="{category}""#), "</tr>");
        assert_eq!(gas_cell(row), gas.to_string(), "{row}");
    }
    let root = element(&dom, r#"id="trace-root""#, ">");
    assert_eq!(attr(root, "data-root"), Some("none"), "{root}");
    let check = element(&dom, r#"id="trace-check""#, "</p>");
    assert_eq!(attr(check, "data-matches"), Some("true"), "{check}");
    let replay = element(&dom, r#"id="replay-status""#, "</div>");
    assert_eq!(attr(replay, "data-matches"), Some("true"), "{replay}");
}
