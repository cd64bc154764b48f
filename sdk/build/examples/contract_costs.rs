//! Builds the example contracts exactly as `opmeter build` does, prints each deployed size, then
//! runs the sample calls of `tests/tests/e2e.rs` (`sample_calls`) under gas schedule v2 and
//! prints their gas: what a change to the sdk or the build flags does to bytes and to gas.
//!
//! ```sh
//! cargo run -p opmeter-sdk-build --example contract_costs -- contracts
//! cargo run -p opmeter-sdk-build --example contract_costs -- contracts --behaviour
//! ```
//!
//! With `--behaviour` it prints instead what many calls (valid and invalid arguments, reverts,
//! long values, escapes) return, emit and write, without gas: two builds of the sdk behave the
//! same when these lines are equal.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use opmeter_vm::{
    Address, BlockContext, CallRequest, DeployRequest, MemoryState, Outcome, Schedule, Vm, U256,
};

const ALICE: Address = Address([0xA1; 32]);
const BOB: Address = Address([0xB0; 32]);
const GAS: u64 = 100_000_000;

struct Chain {
    vm: Vm,
    state: MemoryState,
    block: BlockContext,
    codes: BTreeMap<String, Vec<u8>>,
}

impl Chain {
    fn deploy(&mut self, name: &str, init: &str) -> (Address, Outcome) {
        let prepared = self.vm.prepare(&self.codes[name]).expect("valid code");
        let request = DeployRequest {
            deployer: ALICE,
            code: prepared.clone(),
            salt: name.as_bytes().to_vec(),
            init_input: init.as_bytes().to_vec(),
            value: U256::zero(),
            gas_limit: GAS,
        };
        let (address, outcome) = self
            .vm
            .deploy(Arc::new(self.state.clone()), self.block, request)
            .expect("no node fault");
        if outcome.status == opmeter_vm::Status::Success {
            self.state
                .codes
                .insert(prepared.code_hash, prepared.original.clone());
            self.state.apply(&outcome.writes);
        }
        self.join_warm_set(&outcome);
        (address, outcome)
    }

    fn call(&mut self, contract: Address, method: &str, args: &str, commit: bool) -> Outcome {
        let call = CallRequest {
            caller: ALICE,
            contract,
            method: method.into(),
            input: args.as_bytes().to_vec(),
            value: U256::zero(),
            gas_limit: GAS,
        };
        let outcome = self
            .vm
            .execute(Arc::new(self.state.clone()), self.block, call)
            .expect("no node fault");
        if commit {
            if outcome.status == opmeter_vm::Status::Success {
                self.state.apply(&outcome.writes);
            }
            self.join_warm_set(&outcome);
        }
        outcome
    }

    fn join_warm_set(&mut self, outcome: &Outcome) {
        let Some(costs) = self.vm.schedule().code_loading else {
            return;
        };
        let mut update = opmeter_vm::warm_set::Update::new(&self.state);
        for code_hash in &outcome.code_paid {
            let len_bytes = self.state.codes[code_hash].len() as u32;
            update
                .insert(*code_hash, len_bytes, &costs)
                .expect("in-memory state");
        }
        for (key, value) in update.into_writes() {
            let slot = (opmeter_vm::warm_set::ADDRESS, key);
            match value {
                Some(value) => self.state.storage.insert(slot, value),
                None => self.state.storage.remove(&slot),
            };
        }
    }
}

fn show(name: &str, outcome: &Outcome) {
    let breakdown = outcome.breakdown_by_key();
    let get = |key: &str| breakdown.get(key).copied().unwrap_or(0);
    println!(
        "| {name} | {} | {} | {} | {} |",
        outcome.status.as_str(),
        outcome.gas_used,
        get("instructions"),
        get("code_load"),
    );
}

fn main() {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "contracts".into()),
    );
    let built = opmeter_sdk_build::build_contracts(&dir).unwrap_or_else(|error| {
        eprintln!("error: {error}");
        std::process::exit(1);
    });
    println!("| contract | deployed bytes | compiled bytes |");
    println!("|---|---:|---:|");
    for contract in &built {
        println!(
            "| `{}` | {} | {} |",
            contract.package, contract.size_bytes, contract.compiled_size_bytes
        );
    }
    let codes: BTreeMap<String, Vec<u8>> = built.into_iter().map(|b| (b.package, b.wasm)).collect();
    if !["counter", "token", "registry", "compute"]
        .iter()
        .all(|name| codes.contains_key(*name))
    {
        return;
    }
    let mut chain = Chain {
        vm: Vm::new(Schedule::v2()),
        state: MemoryState::default(),
        block: BlockContext {
            height: 7,
            timestamp_ms: 1_763_683_200_000,
        },
        codes,
    };
    for account in [ALICE, BOB] {
        chain
            .state
            .balances
            .insert(account, U256::from(1_000_000u64));
    }
    let bob = format!("\"0x{}\"", "b0".repeat(32));
    if std::env::args().any(|arg| arg == "--behaviour") {
        behaviour(&mut chain, &bob);
        return;
    }
    println!();
    println!("| call (schedule v2) | status | gas | instructions | code_load |");
    println!("|---|---|---:|---:|---:|");
    let (counter, outcome) = chain.deploy("counter", r#"{"start": 1}"#);
    show("counter.deploy", &outcome);
    show(
        "counter.increment",
        &chain.call(counter, "increment", r#"{"by": 1}"#, true),
    );
    show("counter.get", &chain.call(counter, "get", "", false));
    show(
        "counter.increment (bad args)",
        &chain.call(counter, "increment", r#"{"by": -1}"#, false),
    );
    let (token, outcome) =
        chain.deploy("token", r#"{"name": "T", "symbol": "T", "supply": "1000"}"#);
    show("token.deploy", &outcome);
    let transfer = format!(r#"{{"to": {bob}, "amount": "10"}}"#);
    show(
        "token.transfer",
        &chain.call(token, "transfer", &transfer, true),
    );
    show(
        "token.transfer (again)",
        &chain.call(token, "transfer", &transfer, true),
    );
    let owner = format!(r#"{{"owner": {bob}}}"#);
    show(
        "token.balance_of",
        &chain.call(token, "balance_of", &owner, false),
    );
    let max = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
    let approve = format!(r#"{{"spender": {bob}, "amount": "{max}"}}"#);
    show(
        "token.approve (2^256-1)",
        &chain.call(token, "approve", &approve, true),
    );
    let allowance = format!(r#"{{"owner": "0x{}", "spender": {bob}}}"#, "a1".repeat(32));
    show(
        "token.allowance (2^256-1)",
        &chain.call(token, "allowance", &allowance, false),
    );
    let (registry, outcome) = chain.deploy("registry", "{}");
    show("registry.deploy", &outcome);
    show(
        "registry.set",
        &chain.call(registry, "set", r#"{"key": "k", "value": "v"}"#, true),
    );
    let (compute, outcome) = chain.deploy("compute", "{}");
    show("compute.deploy", &outcome);
    for (method, args) in [
        ("fib", r#"{"n": 15}"#),
        ("loop_sum", r#"{"n": 1000}"#),
        ("sort", r#"{"n": 200}"#),
        ("hash", r#"{"len": 1024}"#),
        ("host_calls", r#"{"n": 50}"#),
    ] {
        show(
            &format!("compute.{method}"),
            &chain.call(compute, method, args, false),
        );
    }
}

/// Prints one line per call: status, output (or revert data), events and writes.
fn behaviour(chain: &mut Chain, bob: &str) {
    fn line(name: &str, outcome: &Outcome) {
        let events: Vec<String> = outcome
            .events
            .iter()
            .map(|event| {
                let topics: Vec<String> = event.topics.iter().map(hex).collect();
                format!(
                    "{}:{}",
                    topics.join(","),
                    String::from_utf8_lossy(&event.data)
                )
            })
            .collect();
        let writes: Vec<String> = outcome
            .writes
            .storage
            .iter()
            .map(|((_, key), value)| {
                format!("{}={}", hex(key), value.as_deref().map_or("-".into(), hex))
            })
            .collect();
        println!(
            "{name}: {} {:?} events=[{}] writes=[{}]",
            outcome.status.as_str(),
            String::from_utf8_lossy(&outcome.output),
            events.join(" "),
            writes.join(" ")
        );
    }
    fn hex(bytes: impl AsRef<[u8]>) -> String {
        bytes.as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }
    let (counter, outcome) = chain.deploy("counter", r#"{"start": 1}"#);
    line("counter.deploy", &outcome);
    for (method, args) in [
        ("init", r#"{"start": 3}"#),
        ("increment", ""),
        ("increment", "{}"),
        ("increment", r#"{"by": 2}"#),
        ("increment", r#"{"by": null}"#),
        ("increment", "[5]"),
        ("increment", "[5, 6]"),
        ("increment", r#"{"by": -1}"#),
        ("increment", r#"{"by": 1.5}"#),
        ("increment", r#"{"by": 1e400}"#),
        ("increment", r#"{"by": -0}"#),
        ("increment", r#"{"by": 18446744073709551616}"#),
        ("increment", r#"{"by": 18446744073709551615}"#),
        ("increment", r#"{"by": "x\n\u0001\"y"}"#),
        ("increment", r#"{"by": true}"#),
        ("increment", r#"{"by": [1]}"#),
        ("increment", r#"{"by": {}}"#),
        ("increment", r#"{"step": 1}"#),
        ("increment", r#"{"by": 1, "by": 2}"#),
        ("increment", r#"{"by": 1} x"#),
        ("increment", r#"{"by": 1,}"#),
        ("increment", "{\n\"by\"\n: 01}"),
        ("increment", r#"{"by""#),
        ("increment", "{"),
        ("increment", r#"{1: 2}"#),
        ("increment", r#"{"b\u00e9": 2}"#),
        ("get", ""),
        ("get", " { } "),
        ("get", r#"{"a": 1}"#),
        ("reset", ""),
        ("get", ""),
        ("nope", ""),
    ] {
        line(
            &format!("counter.{method} {args}"),
            &chain.call(counter, method, args, true),
        );
    }
    let (token, outcome) = chain.deploy(
        "token",
        r#"{"name": "T\u00e9\"", "symbol": "T", "supply": "1000"}"#,
    );
    line("token.deploy", &outcome);
    let carol = format!("\"0x{}\"", "CA".repeat(32));
    for (method, args) in [
        ("name", String::new()),
        ("symbol", "{}".into()),
        ("total_supply", String::new()),
        ("transfer", format!(r#"{{"to": {bob}, "amount": "10"}}"#)),
        ("transfer", format!(r#"{{"to": {bob}, "amount": 7}}"#)),
        ("transfer", format!(r#"{{"to": {bob}, "amount": "0x1F"}}"#)),
        ("transfer", format!(r#"{{"to": {bob}, "amount": "1001"}}"#)),
        ("transfer", format!(r#"{{"to": {bob}, "amount": "-1"}}"#)),
        ("transfer", format!(r#"{{"to": {bob}, "amount": ""}}"#)),
        ("transfer", format!(r#"{{"to": {bob}, "amount": 1.0}}"#)),
        ("transfer", format!(r#"{{"to": {bob}, "amount": -3}}"#)),
        ("transfer", format!(r#"{{"to": {bob}, "amount": [1]}}"#)),
        (
            "transfer",
            format!(r#"{{"to": {bob}, "amount": "{}"}}"#, "9".repeat(80)),
        ),
        ("transfer", format!(r#"{{"to": {bob}}}"#)),
        ("transfer", r#"{"to": "0x12", "amount": "1"}"#.into()),
        (
            "transfer",
            format!(r#"{{"to": "{}", "amount": "1"}}"#, "ab".repeat(33)),
        ),
        (
            "transfer",
            format!(r#"{{"to": "0x{}", "amount": "1"}}"#, "zz".repeat(32)),
        ),
        ("transfer", r#"{"to": 5, "amount": "1"}"#.into()),
        ("transfer", format!(r#"[{bob}, "3"]"#)),
        ("balance_of", format!(r#"{{"owner": {bob}}}"#)),
        ("balance_of", format!(r#"{{"owner": {carol}}}"#)),
        (
            "approve",
            format!(
                r#"{{"spender": {bob}, "amount": "115792089237316195423570985008687907853269984665640564039457584007913129639935"}}"#
            ),
        ),
        (
            "allowance",
            format!(r#"{{"owner": "0x{}", "spender": {bob}}}"#, "a1".repeat(32)),
        ),
        (
            "transfer_from",
            format!(r#"{{"from": {bob}, "to": {carol}, "amount": "1"}}"#),
        ),
    ] {
        line(
            &format!("token.{method} {args}"),
            &chain.call(token, method, &args, true),
        );
    }
    let (registry, outcome) = chain.deploy("registry", "{}");
    line("registry.deploy", &outcome);
    let long = "v".repeat(300);
    for (method, args) in [
        ("set", r#"{"key": "k", "value": "v"}"#.to_string()),
        ("set", format!(r#"{{"key": "long", "value": "{long}"}}"#)),
        ("get", r#"{"key": "long"}"#.into()),
        (
            "set",
            r#"{"key": "e\u00e9\ud83d\ude00\t\"", "value": "a\\b\u001f\/"}"#.into(),
        ),
        ("get", r#"{"key": "e\u00e9\ud83d\ude00\t\""}"#.into()),
        ("set", r#"{"key": "bad", "value": "\ud800"}"#.into()),
        ("set", r#"{"key": "bad", "value": "\x"}"#.into()),
        ("set", "{\"key\": \"ctl\u{1}\", \"value\": \"v\"}".into()),
        ("get", r#"{"key": "missing"}"#.into()),
        ("owner_of", r#"{"key": "k"}"#.into()),
        ("remove", r#"{"key": "k"}"#.into()),
        ("remove", r#"{"key": "k"}"#.into()),
        ("count", String::new()),
    ] {
        line(
            &format!("registry.{method} {args}"),
            &chain.call(registry, method, &args, true),
        );
    }
    for name in [
        "hostile_loop",
        "hostile_recursion",
        "hostile_memory",
        "hostile_storage",
        "hostile_output",
        "hostile_depth",
    ] {
        let (hostile, outcome) = chain.deploy(name, "{}");
        line(&format!("{name}.deploy"), &outcome);
        let outcome = chain.call(hostile, "run", "", false);
        let trap = outcome.trap_code().map(|code| code.name());
        println!("{name}.run: {} {trap:?}", outcome.status.as_str());
    }
    let provable = chain
        .vm
        .prepare(&chain.codes["provable"])
        .expect("valid code");
    for (method, args) in [
        ("fib", &[20u64][..]),
        ("gcd", &[84, 36]),
        ("isqrt", &[1_000_000]),
        ("mix", &[7, 9]),
        ("nibble_weight", &[0x1234]),
    ] {
        let outcome = chain.vm.call_provable(&provable, method, args, GAS);
        println!("provable:{method} {args:?}: {outcome:?}");
    }
    let (compute, outcome) = chain.deploy("compute", "{}");
    line("compute.deploy", &outcome);
    for (method, args) in [
        ("hash", r#"{"len": 64}"#),
        ("sort", r#"{"n": 20}"#),
        ("fib", r#"{"n": 4294967296}"#),
    ] {
        line(
            &format!("compute.{method} {args}"),
            &chain.call(compute, method, args, false),
        );
    }
}
