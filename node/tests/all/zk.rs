//! Proofs through the real binary and real sockets, on the small profile: `opmeter zk setup`
//! (seeded development keys, made once per test binary), deploy with provability, `opmeter
//! prove` with progress, `opmeter zk verify` offline, and the JSON-RPC job API with every typed
//! error (not provable, unknown profile, keys missing or corrupt, step bound, wrong arguments,
//! prover busy, malformed or tampered proofs).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use opmeter_ledger::encoding::DecU64;
use opmeter_rpc::client::{http, ws, OpmeterApiClient};
use opmeter_rpc::types::{ProofJobView, ProofView, ProveArgs};
use opmeter_vm::Address;
use serde_json::{json, Value};

use crate::support::{json_of, opmeter, post_from, Running};

/// Seed of the test keys' setup randomness (development keys: anyone knowing it can forge).
const SEED: &str = "48879";

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_opmeter"))
        .args(args)
        .output()
        .expect("run opmeter")
}

/// Keys of profile `s`, made by `opmeter zk setup` (seeded) once per build directory and kept
/// in `CARGO_TARGET_TMPDIR` (each test runs in its own process under nextest; a setup is several
/// seconds). Every use reads them through the manifest's hash check.
fn keys_dir() -> &'static Path {
    static KEYS: OnceLock<PathBuf> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("zk-keys-seed-{SEED}"));
        std::fs::create_dir_all(&dir).unwrap();
        let lock = std::fs::File::create(dir.join(".lock")).unwrap();
        lock.lock().unwrap();
        if !dir.join("s").join("manifest.json").exists() {
            let out = cli(&[
                "zk",
                "setup",
                "--profile",
                "s",
                "--dir",
                dir.to_str().unwrap(),
                "--seed",
                SEED,
                "--json",
            ]);
            let setup = json_of(&out);
            assert_eq!(setup["manifest"]["origin"], "development");
            assert_eq!(setup["manifest"]["profile"], "s");
        }
        lock.unlock().unwrap();
        dir
    })
}

/// The `provable` example contract, built by `opmeter build`.
fn provable_wasm() -> &'static Path {
    static WASM: OnceLock<PathBuf> = OnceLock::new();
    WASM.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../contracts/provable");
        let built = json_of(&cli(&["build", dir.to_str().unwrap(), "--json"]));
        PathBuf::from(built[0]["path"].as_str().unwrap())
    })
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// A node serving profile `s` with the test keys (logging at `log`: arkworks' tracing spans
/// must not reach the node's subscriber), and the provable contract deployed by the CLI;
/// returns the node, the work dir and the deploy output.
fn node_with_contract(extra: &[&str], log: &str) -> (Running, tempfile::TempDir, Address, Value) {
    let keys = keys_dir().to_str().unwrap().to_string();
    let mut args = vec!["--zk-keys", keys.as_str()];
    args.extend_from_slice(extra);
    let node = Running::start_logging(&args, log);
    let work = tempfile::tempdir().unwrap();
    let deployed = json_of(&opmeter(
        &node.url,
        &work.path().join("keys"),
        &["deploy", provable_wasm().to_str().unwrap(), "--json"],
    ));
    let address = Address::from_hex(deployed["contractAddress"].as_str().unwrap()).unwrap();
    (node, work, address, deployed)
}

fn rpc_code<T: std::fmt::Debug>(result: Result<T, jsonrpsee::core::client::Error>) -> i32 {
    match result {
        Err(jsonrpsee::core::client::Error::Call(object)) => object.code(),
        other => panic!("expected a call error, got {other:?}"),
    }
}

fn prove_args(contract: Address, method: &str, args: &[u64]) -> ProveArgs {
    ProveArgs {
        contract: contract.into(),
        method: method.into(),
        args: args.iter().copied().map(DecU64).collect(),
        profile: None,
        height: None,
    }
}

async fn wait_done(client: &impl OpmeterApiClient, id: u64) -> ProofJobView {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let job = client
            .proof_job(id)
            .await
            .unwrap()
            .expect("the job is known");
        if job.state == "done" || job.state == "failed" {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "job {id} did not finish: {job:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn zk_setup_labels_development_keys_and_refuses_bad_input() {
    let dir = keys_dir().join("s");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["origin"], "development");
    let pk = std::fs::read(dir.join("pk.bin")).unwrap();
    assert_eq!(manifest["pkBytes"], pk.len());
    assert_eq!(manifest["pkBlake3"], blake3::hash(&pk).to_hex().as_str());
    let vk_json: Value =
        serde_json::from_slice(&std::fs::read(dir.join("verification_key.json")).unwrap()).unwrap();
    assert_eq!(vk_json["protocol"], "groth16");
    assert_eq!(vk_json["nPublic"], 14);
    // Keys already there are not replaced without --force.
    let again = cli(&[
        "zk",
        "setup",
        "--profile",
        "s",
        "--dir",
        keys_dir().to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("--force"), "{}", stderr(&again));
    // An unknown profile is a typed error with its stable code.
    let unknown = cli(&["zk", "setup", "--profile", "xl", "--dir", "/nonexistent"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("code 3004, unknownProfile"),
        "{}",
        stderr(&unknown)
    );
    // Verifying against a directory without keys: keysMissing.
    let empty = tempfile::tempdir().unwrap();
    let file = empty.path().join("p.json");
    std::fs::write(&file, "{}").unwrap();
    let malformed = cli(&["zk", "verify", file.to_str().unwrap(), "--json"]);
    assert_eq!(malformed.status.code(), Some(1));
    let verdict: Value = serde_json::from_slice(&malformed.stdout).unwrap();
    assert_eq!(verdict["reason"]["name"], "malformedProof");
    assert_eq!(verdict["reason"]["code"], 3007);
}

/// The ceremony commands of the CLI (the ceremony itself, snarkjs included, is tested in the
/// prover's `ceremony` tests on a profile small enough for a quick powers-of-tau file).
#[test]
fn the_cli_exports_the_constraint_system_and_refuses_a_zkey_for_other_constraints() {
    let work = tempfile::tempdir().unwrap();
    let r1cs = work.path().join("s.r1cs");
    let exported = json_of(&cli(&[
        "zk",
        "export-r1cs",
        "--profile",
        "s",
        "--out",
        r1cs.to_str().unwrap(),
        "--json",
    ]));
    let bytes = std::fs::read(&r1cs).unwrap();
    assert_eq!(&bytes[..4], b"r1cs");
    assert_eq!(exported["bytes"], bytes.len());
    assert_eq!(exported["constraints"], 62_859);
    assert_eq!(exported["blake3"], blake3::hash(&bytes).to_hex().as_str());
    // Not a zkey at all (the r1cs file itself), and a file that is not there.
    let keys = work.path().join("keys");
    let keys_arg = keys.to_str().unwrap();
    let wrong = cli(&[
        "zk",
        "import",
        "--profile",
        "s",
        "--zkey",
        r1cs.to_str().unwrap(),
        "--dir",
        keys_arg,
    ]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(
        stderr(&wrong).contains("code 3006, keysCorrupt") && stderr(&wrong).contains("zkey"),
        "{}",
        stderr(&wrong)
    );
    let missing = cli(&[
        "zk",
        "import",
        "--profile",
        "s",
        "--zkey",
        "/nonexistent.zkey",
        "--dir",
        keys_arg,
    ]);
    assert!(
        stderr(&missing).contains("code 3012, keysIo"),
        "{}",
        stderr(&missing)
    );
    assert!(!keys.join("s").exists(), "nothing is written on a refusal");
}

#[test]
fn deploy_prove_and_verify_offline_through_the_cli() {
    let (node, work, address, deployed) = node_with_contract(&[], "warn");
    let keys_home = work.path().join("keys");
    // Deploy reports, per provable export, whether it is in the subset and why not.
    let methods = deployed["provability"]["methods"].as_array().unwrap();
    let by_name = |name: &str| {
        methods
            .iter()
            .find(|m| m["method"] == name)
            .unwrap_or_else(|| panic!("{name} in {methods:?}"))
            .clone()
    };
    assert_eq!(by_name("fib")["provable"], true);
    assert!(by_name("fib")["instructions"].as_u64().unwrap() > 0);
    let nibble = by_name("nibble_weight");
    assert_eq!(nibble["provable"], false);
    assert!(nibble["offset"].as_u64().is_some(), "{nibble}");
    assert!(
        nibble["reason"].as_str().unwrap().contains("load"),
        "{nibble}"
    );
    // The human form prints it too.
    let text = opmeter(
        &node.url,
        &keys_home,
        &[
            "deploy",
            provable_wasm().to_str().unwrap(),
            "--salt",
            "0x01",
        ],
    );
    assert!(text.status.success(), "{}", stderr(&text));
    assert!(
        stdout(&text).contains("nibble_weight      NOT provable"),
        "{}",
        stdout(&text)
    );

    // Prove: plain progress lines off a terminal, then the proof file.
    let file = work.path().join("fib.proof.json");
    let proved = opmeter(
        &node.url,
        &keys_home,
        &[
            "prove",
            &address.to_string(),
            "fib",
            "12",
            "--out",
            file.to_str().unwrap(),
        ],
    );
    assert!(proved.status.success(), "{}", stderr(&proved));
    assert!(
        stderr(&proved).contains(": proving in s"),
        "{}",
        stderr(&proved)
    );
    assert!(
        stdout(&proved).contains("returned 144"),
        "{}",
        stdout(&proved)
    );
    let view: ProofView = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(view.output, DecU64(144));
    assert_eq!(view.key_origin.as_deref(), Some("development"));
    assert_eq!(view.public_signals.len(), 14);
    assert!(view.snarkjs.as_ref().unwrap()["proof"]["pi_a"].is_array());

    // snarkjs, with no Opmeter code: the file's export and the setup's verification_key.json.
    let snarkjs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../prover/node_modules/.bin/snarkjs");
    assert!(snarkjs.exists(), "snarkjs is missing: run scripts/setup.sh");
    let export = view.snarkjs.as_ref().unwrap();
    let sj = work.path().join("snarkjs");
    std::fs::create_dir_all(&sj).unwrap();
    std::fs::write(sj.join("proof.json"), export["proof"].to_string()).unwrap();
    std::fs::write(
        sj.join("public.json"),
        serde_json::to_string(&view.public_signals).unwrap(),
    )
    .unwrap();
    std::fs::copy(
        keys_dir().join("s/verification_key.json"),
        sj.join("verification_key.json"),
    )
    .unwrap();
    let checked = Command::new(&snarkjs)
        .args([
            "groth16",
            "verify",
            "verification_key.json",
            "public.json",
            "proof.json",
        ])
        .current_dir(&sj)
        .output()
        .expect("snarkjs runs");
    assert!(
        checked.status.success() && stdout(&checked).contains("OK"),
        "snarkjs: {}{}",
        stdout(&checked),
        stderr(&checked)
    );

    // Offline: valid, with the code commitment re-derived from the wasm.
    let keys = keys_dir().to_str().unwrap();
    let wasm = provable_wasm().to_str().unwrap();
    let ok = cli(&[
        "zk",
        "verify",
        file.to_str().unwrap(),
        "--keys",
        keys,
        "--wasm",
        wasm,
    ]);
    assert!(ok.status.success(), "{}{}", stdout(&ok), stderr(&ok));
    assert!(stdout(&ok).contains("VALID"));
    assert!(stdout(&ok).contains("matches"));
    assert!(stdout(&ok).contains("development"));

    // A changed output, gas or proof byte, or another wasm: invalid (exit 1, typed reason).
    let tampered = |mutate: &dyn Fn(&mut Value), extra: &[&str]| {
        let mut value: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        mutate(&mut value);
        let path = work.path().join("tampered.json");
        std::fs::write(&path, serde_json::to_vec(&value).unwrap()).unwrap();
        let mut args = vec![
            "zk",
            "verify",
            path.to_str().unwrap(),
            "--keys",
            keys,
            "--json",
        ];
        args.extend_from_slice(extra);
        let out = cli(&args);
        assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
        let verdict: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(verdict["valid"], false);
        verdict["reason"]["name"].as_str().unwrap().to_string()
    };
    assert_eq!(
        tampered(&|v| v["output"] = "145".into(), &[]),
        "invalidProof"
    );
    assert_eq!(
        tampered(&|v| v["gasUsed"] = "1".into(), &[]),
        "invalidProof"
    );
    assert_eq!(
        tampered(&|v| v["args"][0] = "13".into(), &[]),
        "invalidProof"
    );
    assert_eq!(
        tampered(&|v| v["method"] = "gcd".into(), &[]),
        "invalidProof"
    );
    let flip = |v: &mut Value| {
        let mut proof = v["proof"].as_str().unwrap().to_string();
        let last = if proof.ends_with('0') { "1" } else { "0" };
        proof.replace_range(proof.len() - 1.., last);
        v["proof"] = proof.into();
    };
    let reason = tampered(&flip, &[]);
    assert!(
        reason == "invalidProof" || reason == "malformedProof",
        "{reason}"
    );
    assert_eq!(
        tampered(&|v| v["proof"] = "0x00".into(), &[]),
        "malformedProof"
    );
    let other = work.path().join("other.wat");
    std::fs::write(
        &other,
        r#"(module (memory (export "memory") 1) (func (export "run"))
             (func (export "provable:fib") (param i32) (result i64) (i64.const 144)))"#,
    )
    .unwrap();
    assert_eq!(
        tampered(
            &|v| v["codeHash"] = Value::Null,
            &["--wasm", other.to_str().unwrap()]
        ),
        "invalidProof"
    );
    drop(node);
}

#[test]
fn the_json_rpc_job_api_proves_verifies_and_types_every_refusal() {
    // At `debug`, as an operator might run it: proving must stay as fast as with logging off.
    let (node, work, address, _) = node_with_contract(&["--zk-queue", "1"], "debug");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = http(&node.url).unwrap();
        // Refusals, each with its stable code, before any job exists.
        assert_eq!(
            rpc_code(
                client
                    .proof_prove(prove_args(address, "nibble_weight", &[3]))
                    .await
            ),
            3001
        );
        let mut unknown_profile = prove_args(address, "fib", &[3]);
        unknown_profile.profile = Some("xl".into());
        assert_eq!(rpc_code(client.proof_prove(unknown_profile).await), 3004);
        let mut not_served = prove_args(address, "fib", &[3]);
        not_served.profile = Some("m".into());
        assert_eq!(rpc_code(client.proof_prove(not_served).await), 3005);
        assert_eq!(
            rpc_code(
                client
                    .proof_prove(prove_args(address, "fib", &[100_000]))
                    .await
            ),
            3003
        );
        assert_eq!(
            rpc_code(client.proof_prove(prove_args(address, "gcd", &[1])).await),
            3010
        );
        assert_eq!(
            rpc_code(
                client
                    .proof_prove(prove_args(Address([7; 32]), "fib", &[1]))
                    .await
            ),
            2007
        );
        assert_eq!(rpc_code(client.proof_get(999).await), 2008);
        assert!(client.proof_job(999).await.unwrap().is_none());
        let above = ProveArgs {
            height: Some(1_000),
            ..prove_args(address, "fib", &[3])
        };
        assert_eq!(rpc_code(client.proof_prove(above).await), 2001);

        // A job, followed by subscription; the proof verifies on the node.
        let subscriber = ws(&node.ws_url()).await.unwrap();
        let job = client
            .proof_prove(prove_args(address, "gcd", &[1_071, 462]))
            .await
            .unwrap();
        assert!(matches!(
            job.state.as_str(),
            "queued" | "executing" | "proving"
        ));
        assert_eq!(job.profile, "s");
        let mut updates = subscriber.subscribe_proof_job(job.id).await.unwrap();
        // Meanwhile blocks are produced and other requests answered.
        let transfer = opmeter(
            &node.url,
            &work.path().join("keys"),
            &["transfer", &Address([9; 32]).to_string(), "5"],
        );
        assert!(transfer.status.success(), "{}", stderr(&transfer));
        let mut states = Vec::new();
        while let Some(update) = updates.next().await {
            let update = update.unwrap();
            states.push(update.state.clone());
            if update.state == "done" || update.state == "failed" {
                break;
            }
        }
        assert_eq!(
            states.last().map(String::as_str),
            Some("done"),
            "{states:?}"
        );
        let done = wait_done(&client, job.id).await;
        let proof = client.proof_get(job.id).await.unwrap().expect("done");
        assert_eq!(proof.output, DecU64(21));
        assert_eq!(Some(proof.clone()), done.proof);
        let verdict = client.proof_verify(proof.clone()).await.unwrap();
        assert!(verdict.valid, "{verdict:?}");
        assert!(verdict.code_checked);
        assert_eq!(verdict.key_origin, "development");
        let mut forged = proof.clone();
        forged.output = DecU64(22);
        let verdict = client.proof_verify(forged).await.unwrap();
        assert!(!verdict.valid);
        assert_eq!(verdict.reason.as_ref().unwrap().name, "invalidProof");
        assert_eq!(verdict.reason.unwrap().code, 3008);
        let mut short = proof.clone();
        short.proof.0.truncate(10);
        let verdict = client.proof_verify(short).await.unwrap();
        assert_eq!(verdict.reason.unwrap().name, "malformedProof");
        let mut unknown = proof.clone();
        unknown.profile = "xl".into();
        assert_eq!(rpc_code(client.proof_verify(unknown).await), 3004);

        // The queue holds one waiting job: a burst is refused with proverBusy.
        let mut busy = 0;
        let mut accepted = Vec::new();
        for _ in 0..4 {
            match client.proof_prove(prove_args(address, "fib", &[20])).await {
                Ok(job) => accepted.push(job.id),
                Err(e) => {
                    assert_eq!(rpc_code::<()>(Err(e)), 3011);
                    busy += 1;
                }
            }
        }
        assert!(busy >= 1, "accepted {accepted:?}");
        for id in accepted {
            assert_eq!(wait_done(&client, id).await.state, "done");
        }
    });
    drop(node);
}

#[test]
fn missing_or_corrupt_keys_are_typed_errors_and_the_node_keeps_serving() {
    // Corrupt: one byte of pk.bin changed after setup (the manifest's hash no longer matches).
    let copy = tempfile::tempdir().unwrap();
    let profile_dir = copy.path().join("s");
    std::fs::create_dir_all(&profile_dir).unwrap();
    for name in ["pk.bin", "vk.bin", "manifest.json"] {
        std::fs::copy(keys_dir().join("s").join(name), profile_dir.join(name)).unwrap();
    }
    let mut pk = std::fs::read(profile_dir.join("pk.bin")).unwrap();
    let middle = pk.len() / 2;
    pk[middle] ^= 1;
    std::fs::write(profile_dir.join("pk.bin"), pk).unwrap();
    let empty = tempfile::tempdir().unwrap();
    for (keys, profiles, expected) in [
        (copy.path(), "s", 3006),
        (empty.path(), "s", 3005),
        (empty.path(), "none", 3005),
    ] {
        let node = Running::start(&[
            "--zk-keys",
            keys.to_str().unwrap(),
            "--zk-profiles",
            profiles,
        ]);
        let work = tempfile::tempdir().unwrap();
        let deployed = json_of(&opmeter(
            &node.url,
            &work.path().join("keys"),
            &["deploy", provable_wasm().to_str().unwrap(), "--json"],
        ));
        let address = Address::from_hex(deployed["contractAddress"].as_str().unwrap()).unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let client = http(&node.url).unwrap();
            // Corrupt keys are found when loaded: at the request, or as the job's error.
            let code = match client.proof_prove(prove_args(address, "fib", &[5])).await {
                Ok(job) => wait_done(&client, job.id).await.error.expect("failed").code as i32,
                Err(e) => rpc_code::<()>(Err(e)),
            };
            assert_eq!(code, expected, "{profiles} in {}", keys.display());
            // The node keeps serving.
            assert!(client.chain_head().await.is_ok());
            let out = opmeter(
                &node.url,
                &work.path().join("keys"),
                &["prove", &address.to_string(), "fib", "5"],
            );
            assert_eq!(out.status.code(), Some(2));
            assert!(
                stderr(&out).contains(&format!("{expected}")),
                "{}",
                stderr(&out)
            );
        });
    }
}

/// One raw JSON-RPC POST from the local address `from`: the parsed answer.
async fn post_json_from(from: &str, addr: &str, body: &Value) -> Value {
    let (status, answer) = post_from(from, addr, &body.to_string()).await;
    assert_eq!(status, 200, "{answer}");
    serde_json::from_str(&answer).unwrap()
}

#[test]
fn one_client_cannot_fill_the_prover_queue() {
    let (node, _work, address, _) =
        node_with_contract(&["--zk-queue", "4", "--zk-queue-per-client", "1"], "warn");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let addr = node.url.trim_start_matches("http://").to_string();
    runtime.block_on(async {
        let prove = |id: u64| {
            json!({
                "jsonrpc": "2.0", "id": id, "method": "proof_prove",
                "params": [{ "contract": address.to_hex(), "method": "fib", "args": ["20"] }],
            })
        };
        // A burst from 127.0.0.1: one job proves, one more may wait, the rest are refused with
        // proverBusy (3011) and say why.
        let mut accepted = Vec::new();
        let mut refused = 0;
        for id in 0..5 {
            let answer = post_json_from("127.0.0.1", &addr, &prove(id)).await;
            if let Some(job) = answer.get("result") {
                accepted.push(job["id"].as_u64().unwrap());
            } else {
                assert_eq!(answer["error"]["code"], 3011, "{answer}");
                assert!(
                    answer["error"]["message"]
                        .as_str()
                        .unwrap()
                        .contains("this client"),
                    "{answer}"
                );
                refused += 1;
            }
        }
        assert!(refused >= 3 && accepted.len() <= 2, "{accepted:?}");
        // Another client address is still served at once, while those jobs are pending.
        let answer = post_json_from("127.0.0.2", &addr, &prove(9)).await;
        let other = answer["result"]["id"]
            .as_u64()
            .unwrap_or_else(|| panic!("{answer}"));
        let client = http(&node.url).unwrap();
        for id in accepted.into_iter().chain([other]) {
            assert_eq!(wait_done(&client, id).await.state, "done");
        }
    });
    drop(node);
}

#[test]
fn proofs_survive_a_restart_and_unfinished_jobs_come_back_interrupted() {
    let keys = keys_dir().to_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let args = ["--zk-keys", keys.as_str()];
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (child, url) = crate::support::spawn_node(&data, &args);
    let node = crate::support::Killed(child);
    let deployed = json_of(&opmeter(
        &url,
        &dir.path().join("keys"),
        &["deploy", provable_wasm().to_str().unwrap(), "--json"],
    ));
    let address = Address::from_hex(deployed["contractAddress"].as_str().unwrap()).unwrap();
    let (proved, unfinished) = runtime.block_on(async {
        let client = http(&url).unwrap();
        let job = client
            .proof_prove(prove_args(address, "fib", &[20]))
            .await
            .unwrap();
        let done = wait_done(&client, job.id).await;
        assert_eq!(done.state, "done", "{done:?}");
        // Two more: the first starts proving, the second waits behind it; the node is killed
        // (SIGKILL: no shutdown path runs) before either can finish.
        let second = client
            .proof_prove(prove_args(address, "fib", &[20]))
            .await
            .unwrap();
        let third = client
            .proof_prove(prove_args(address, "fib", &[20]))
            .await
            .unwrap();
        let waiting = client.proof_job(third.id).await.unwrap().unwrap();
        assert_eq!(waiting.state, "queued", "{waiting:?}");
        (done, [second.id, third.id])
    });
    drop(node);
    assert!(data
        .join("proofs")
        .join(format!("{}.json", proved.id))
        .exists());

    let (child, url) = crate::support::spawn_node(&data, &args);
    let _node = crate::support::Killed(child);
    runtime.block_on(async {
        let client = http(&url).unwrap();
        // The finished job is served as it was: the same proof, statement and snarkjs export.
        let again = client.proof_job(proved.id).await.unwrap().expect("kept");
        assert_eq!(again.state, "done");
        assert_eq!(again.proof, proved.proof);
        assert_eq!(again.steps, proved.steps);
        assert_eq!(again.proving_ms, proved.proving_ms);
        let proof = client.proof_get(proved.id).await.unwrap().expect("kept");
        assert_eq!(Some(&proof), proved.proof.as_ref());
        let verdict = client.proof_verify(proof).await.unwrap();
        assert!(verdict.valid, "{verdict:?}");
        // The job that was waiting was never proven: failed, typed, and says so.
        let interrupted = client
            .proof_job(unfinished[1])
            .await
            .unwrap()
            .expect("kept");
        assert_eq!(interrupted.state, "failed", "{interrupted:?}");
        let error = interrupted.error.expect("an error");
        assert_eq!(
            (error.code, error.name.as_str()),
            (3014, "proverInterrupted")
        );
        assert!(interrupted.proof.is_none());
        // The one being proven was either finished in time or failed the same way.
        let first = client
            .proof_job(unfinished[0])
            .await
            .unwrap()
            .expect("kept");
        match first.state.as_str() {
            "done" => assert!(first.proof.is_some()),
            "failed" => assert_eq!(first.error.unwrap().code, 3014),
            other => panic!("job {} is {other} after a restart", first.id),
        }
        // New jobs never reuse an id, and prove as before.
        let next = client
            .proof_prove(prove_args(address, "fib", &[12]))
            .await
            .unwrap();
        assert!(next.id > unfinished[1], "{} reused an id", next.id);
        assert_eq!(wait_done(&client, next.id).await.state, "done");
    });
}
