//! End to end: every example contract built from source, deployed into the in-memory host and
//! called through the real vm. Gas is pinned exactly; bless with `UPDATE_EXPECT=1`.

use std::fmt::Write as _;

use opmeter_tests::{contract, contracts, json, Chain, ALICE, BOB, CAROL};
use opmeter_vm::{
    CodeHash, GasCategory, HostFn, Metering, Outcome, Schedule, Status, TrapCode, Vm, VmConfig,
};

const GAS: u64 = 100_000_000;

fn addr(a: opmeter_vm::Address) -> String {
    format!("\"{}\"", a.to_hex())
}

#[test]
fn every_example_contract_builds_and_validates() {
    let names: Vec<&str> = contracts().keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "compute",
            "counter",
            "hostile_depth",
            "hostile_loop",
            "hostile_memory",
            "hostile_output",
            "hostile_recursion",
            "hostile_storage",
            "provable",
            "registry",
            "token"
        ]
    );
    let vm = Vm::new(Schedule::v1());
    for (name, wasm) in contracts() {
        vm.prepare(wasm)
            .unwrap_or_else(|report| panic!("{name} rejected: {report}"));
    }
}

#[test]
fn counter_counts_emits_and_guards_reset() {
    let mut chain = Chain::new();
    let counter = chain.deploy(ALICE, "counter", Some(r#"{"start": 5}"#));
    let out = chain.send(BOB, counter, "increment", r#"{"by": 2}"#, GAS);
    assert_eq!(json(&out), 7);
    assert_eq!(out.events.len(), 1);
    assert_eq!(out.events[0].contract, counter);
    assert_eq!(out.events[0].topics[1], BOB.0, "the caller is a topic");
    assert_eq!(json(&chain.send(BOB, counter, "increment", "", GAS)), 8);
    assert_eq!(json(&chain.query(CAROL, counter, "get", "{}", GAS)), 8);
    let denied = chain.send(BOB, counter, "reset", "{}", GAS);
    assert_eq!(denied.status, Status::Revert);
    assert_eq!(
        String::from_utf8_lossy(&denied.output),
        "only the owner can reset"
    );
    assert_eq!(
        chain.send(ALICE, counter, "reset", "{}", GAS).status,
        Status::Success
    );
    assert_eq!(json(&chain.query(ALICE, counter, "get", "", GAS)), 0);
    let reinit = chain.send(ALICE, counter, "init", r#"{"start": 1}"#, GAS);
    assert_eq!(reinit.status, Status::Revert, "init runs once");
}

#[test]
fn token_transfers_approvals_and_failures() {
    let mut chain = Chain::new();
    let token = chain.deploy(
        ALICE,
        "token",
        Some(r#"{"name": "Meter", "symbol": "MTR", "supply": "1000000"}"#),
    );
    assert_eq!(json(&chain.query(BOB, token, "symbol", "{}", GAS)), "MTR");
    assert_eq!(
        json(&chain.query(BOB, token, "total_supply", "{}", GAS)),
        "1000000"
    );
    let t = chain.send(
        ALICE,
        token,
        "transfer",
        &format!(r#"{{"to": {}, "amount": "250"}}"#, addr(BOB)),
        GAS,
    );
    assert_eq!(t.status, Status::Success, "{t:#?}");
    assert_eq!(t.events.len(), 1);
    assert_eq!(t.events[0].topics[1], ALICE.0);
    assert_eq!(t.events[0].topics[2], BOB.0);
    let balance = |chain: &Chain, who| {
        json(&chain.query(
            who,
            token,
            "balance_of",
            &format!(r#"{{"owner": {}}}"#, addr(who)),
            GAS,
        ))
    };
    assert_eq!(balance(&chain, ALICE), "999750");
    assert_eq!(balance(&chain, BOB), "250");

    let broke = chain.send(
        BOB,
        token,
        "transfer",
        &format!(r#"{{"to": {}, "amount": "251"}}"#, addr(CAROL)),
        GAS,
    );
    assert_eq!(broke.status, Status::Revert);
    assert_eq!(
        String::from_utf8_lossy(&broke.output),
        "insufficient balance"
    );
    assert!(broke.writes.is_empty() && broke.events.is_empty());

    let approve = chain.send(
        ALICE,
        token,
        "approve",
        &format!(r#"{{"spender": {}, "amount": "100"}}"#, addr(BOB)),
        GAS,
    );
    assert_eq!(approve.status, Status::Success);
    let pull = |chain: &mut Chain, amount: &str| {
        let args = format!(
            r#"{{"from": {}, "to": {}, "amount": "{amount}"}}"#,
            addr(ALICE),
            addr(CAROL)
        );
        chain.send(BOB, token, "transfer_from", &args, GAS)
    };
    assert_eq!(pull(&mut chain, "60").status, Status::Success);
    let over = pull(&mut chain, "41");
    assert_eq!(
        (
            over.status,
            String::from_utf8_lossy(&over.output).into_owned()
        ),
        (Status::Revert, "insufficient allowance".into())
    );
    assert_eq!(balance(&chain, CAROL), "60");
    let args = format!(r#"{{"owner": {}, "spender": {}}}"#, addr(ALICE), addr(BOB));
    assert_eq!(
        json(&chain.query(ALICE, token, "allowance", &args, GAS)),
        "40"
    );

    let garbage = chain.send(ALICE, token, "transfer", r#"{"to": 5}"#, GAS);
    assert_eq!(
        garbage.status,
        Status::Revert,
        "bad arguments revert with a message"
    );
    assert!(!garbage.output.is_empty());
}

#[test]
fn registry_is_a_key_value_service_with_owners() {
    let mut chain = Chain::new();
    let registry = chain.deploy(ALICE, "registry", None);
    assert_eq!(
        chain
            .send(
                ALICE,
                registry,
                "set",
                r#"{"key": "dns", "value": "1.1.1.1"}"#,
                GAS
            )
            .status,
        Status::Success
    );
    assert_eq!(
        json(&chain.query(BOB, registry, "get", r#"{"key": "dns"}"#, GAS)),
        "1.1.1.1"
    );
    assert_eq!(
        json(&chain.query(BOB, registry, "owner_of", r#"{"key": "dns"}"#, GAS)),
        ALICE.to_hex()
    );
    let stolen = chain.send(
        BOB,
        registry,
        "set",
        r#"{"key": "dns", "value": "6.6.6.6"}"#,
        GAS,
    );
    assert_eq!(stolen.status, Status::Revert);
    assert_eq!(json(&chain.query(BOB, registry, "count", "{}", GAS)), 1);
    assert_eq!(
        chain
            .send(ALICE, registry, "remove", r#"{"key": "dns"}"#, GAS)
            .status,
        Status::Success
    );
    assert_eq!(
        json(&chain.query(BOB, registry, "get", r#"{"key": "dns"}"#, GAS)),
        serde_json::Value::Null
    );
}

#[test]
fn compute_agrees_with_native_rust() {
    let mut chain = Chain::new();
    let compute = chain.deploy(ALICE, "compute", None);
    assert_eq!(
        json(&chain.query(ALICE, compute, "fib", r#"{"n": 20}"#, GAS)),
        compute_kernels::fib(20)
    );
    assert_eq!(
        json(&chain.query(ALICE, compute, "loop_sum", r#"{"n": 10000}"#, GAS)),
        compute_kernels::loop_sum(10_000)
    );
    assert_eq!(
        json(&chain.query(ALICE, compute, "sort", r#"{"n": 1000}"#, GAS)),
        compute_kernels::sort(1_000)
    );
    assert_eq!(
        json(&chain.query(ALICE, compute, "hash", r#"{"len": 4096}"#, GAS)),
        hex::encode(compute_kernels::hash(4_096))
    );
    let host = chain.query(ALICE, compute, "host_calls", r#"{"n": 100}"#, GAS);
    assert_eq!(host.status, Status::Success);
    assert_eq!(
        host.gas_breakdown[&GasCategory::Host(HostFn::BlockHeight)],
        100 * 20
    );
}

fn render(name: &str, out: &Outcome, text: &mut String) {
    let status = match out.trap_code() {
        Some(code) => format!("trap {}", code.name()),
        None => out.status.as_str().to_string(),
    };
    let _ = writeln!(
        text,
        "{name}: {status} gas={} {:?}",
        out.gas_used,
        out.breakdown_by_key()
    );
}

/// The gas of a fixed set of calls, pinned to the unit, under schedule v1.
#[test]
fn gas_of_sample_calls_is_pinned() {
    expect_test::expect_file!["snapshots/gas.txt"].assert_eq(&sample_calls(Schedule::v1()));
}

/// The same calls under schedule v2 (code loading through the warm set: deploys join it, so
/// every call here loads warm).
#[test]
fn gas_of_sample_calls_is_pinned_under_v2() {
    expect_test::expect_file!["snapshots/gas_v2.txt"].assert_eq(&sample_calls(Schedule::v2()));
}

fn sample_calls(schedule: Schedule) -> String {
    let mut chain = Chain::with_vm(Vm::new(schedule));
    let mut text = String::new();
    let (counter, deploy) = chain.deploy_outcome(ALICE, "counter", r#"{"start": 1}"#, GAS);
    render("counter.deploy", &deploy, &mut text);
    render(
        "counter.increment",
        &chain.send(ALICE, counter, "increment", r#"{"by": 1}"#, GAS),
        &mut text,
    );
    render(
        "counter.get",
        &chain.query(ALICE, counter, "get", "", GAS),
        &mut text,
    );
    let (token, deploy) = chain.deploy_outcome(
        ALICE,
        "token",
        r#"{"name": "T", "symbol": "T", "supply": "1000"}"#,
        GAS,
    );
    render("token.deploy", &deploy, &mut text);
    let transfer = format!(r#"{{"to": {}, "amount": "10"}}"#, addr(BOB));
    render(
        "token.transfer",
        &chain.send(ALICE, token, "transfer", &transfer, GAS),
        &mut text,
    );
    render(
        "token.transfer (again)",
        &chain.send(ALICE, token, "transfer", &transfer, GAS),
        &mut text,
    );
    render(
        "token.balance_of",
        &chain.query(
            ALICE,
            token,
            "balance_of",
            &format!(r#"{{"owner": {}}}"#, addr(BOB)),
            GAS,
        ),
        &mut text,
    );
    let registry = chain.deploy(ALICE, "registry", None);
    render(
        "registry.set",
        &chain.send(ALICE, registry, "set", r#"{"key": "k", "value": "v"}"#, GAS),
        &mut text,
    );
    let compute = chain.deploy(ALICE, "compute", None);
    for (method, args) in [
        ("fib", r#"{"n": 15}"#),
        ("loop_sum", r#"{"n": 1000}"#),
        ("sort", r#"{"n": 200}"#),
        ("hash", r#"{"len": 1024}"#),
        ("host_calls", r#"{"n": 50}"#),
    ] {
        render(
            &format!("compute.{method}"),
            &chain.query(ALICE, compute, method, args, GAS),
            &mut text,
        );
    }
    text
}

#[test]
fn identical_calls_give_identical_outcomes_warm_or_cold() {
    let mut chain = Chain::new();
    let token = chain.deploy(
        ALICE,
        "token",
        Some(r#"{"name": "T", "symbol": "T", "supply": "1000"}"#),
    );
    let transfer = format!(r#"{{"to": {}, "amount": "10"}}"#, addr(BOB));
    let first = chain.query(ALICE, token, "transfer", &transfer, GAS);
    assert_eq!(chain.query(ALICE, token, "transfer", &transfer, GAS), first);
    let cold = Chain {
        vm: Vm::new(Schedule::v1()),
        state: chain.state.clone(),
        block: chain.block,
    };
    assert_eq!(cold.query(ALICE, token, "transfer", &transfer, GAS), first);
}

#[test]
fn hostile_contracts_stop_with_the_right_status_within_their_gas() {
    let mut chain = Chain::new();
    let gas_limit = 50_000_000;
    let cases: [(&str, Status); 6] = [
        ("hostile_loop", Status::OutOfGas),
        ("hostile_recursion", Status::Trap(TrapCode::StackOverflow)),
        ("hostile_memory", Status::Trap(TrapCode::MemoryLimit)),
        ("hostile_storage", Status::OutOfGas),
        ("hostile_output", Status::Trap(TrapCode::OutputTooLarge)),
        ("hostile_depth", Status::Trap(TrapCode::CallDepthExceeded)),
    ];
    for (name, status) in cases {
        let address = chain.deploy(ALICE, name, None);
        let out = chain.query(ALICE, address, "run", "", gas_limit);
        assert_eq!(out.status, status, "{name}: {out:#?}");
        assert!(out.gas_used <= gas_limit, "{name}");
        assert!(
            out.writes.is_empty() && out.events.is_empty(),
            "{name} changed state"
        );
        if status == Status::OutOfGas {
            assert_eq!(
                out.gas_used, gas_limit,
                "{name}: out of gas bills the whole limit"
            );
        }
    }
}

/// Metering never changes a program's result: instrumented and uninstrumented runs agree, and
/// wasm-instrument as shipped charges exactly what the inlined injection charges.
#[test]
fn instrumentation_never_changes_results() {
    let calls: [(&str, &str, &str); 8] = [
        ("counter", "increment", r#"{"by": 3}"#),
        ("counter", "get", ""),
        (
            "token",
            "balance_of",
            r#"{"owner": "0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"}"#,
        ),
        ("registry", "set", r#"{"key": "a", "value": "b"}"#),
        ("compute", "fib", r#"{"n": 18}"#),
        ("compute", "sort", r#"{"n": 500}"#),
        ("compute", "hash", r#"{"len": 2048}"#),
        ("compute", "loop_sum", r#"{"n": 5000}"#),
    ];
    let run = |metering: Metering| -> Vec<Outcome> {
        let mut chain = Chain::with_vm(Vm::with_config(
            Schedule::v1(),
            VmConfig {
                metering,
                ..VmConfig::default()
            },
        ));
        let inits = [
            ("counter", Some(r#"{"start": 1}"#)),
            (
                "token",
                Some(r#"{"name": "T", "symbol": "T", "supply": "1000"}"#),
            ),
            ("registry", None),
            ("compute", None),
        ];
        let deployed: Vec<_> = inits
            .iter()
            .map(|(name, init)| (*name, chain.deploy(ALICE, name, *init)))
            .collect();
        calls
            .iter()
            .map(|(name, method, args)| {
                let address = deployed
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, a)| *a)
                    .unwrap();
                chain.query(ALICE, address, method, args, GAS)
            })
            .collect()
    };
    let injected = run(Metering::Injected);
    let shipped = run(Metering::Shipped);
    let unmetered = run(Metering::Unmetered);
    for (i, call) in calls.iter().enumerate() {
        assert_eq!(
            injected[i].status,
            Status::Success,
            "{call:?}: {:#?}",
            injected[i]
        );
        assert_eq!(injected[i].output, unmetered[i].output, "{call:?}");
        assert_eq!(injected[i].events, unmetered[i].events, "{call:?}");
        assert_eq!(injected[i].writes, unmetered[i].writes, "{call:?}");
        assert_eq!(injected[i].output, shipped[i].output, "{call:?}");
        assert_eq!(injected[i].gas_used, shipped[i].gas_used, "{call:?}");
    }
}

#[test]
fn a_contract_panic_becomes_a_revert_with_its_message() {
    let mut chain = Chain::new();
    let counter = chain.deploy(ALICE, "counter", Some(r#"{"start": 18446744073709551615}"#));
    let out = chain.send(ALICE, counter, "increment", "{}", GAS);
    assert_eq!(out.status, Status::Revert);
    assert_eq!(String::from_utf8_lossy(&out.output), "counter overflow");
    assert!(contract("counter").len() > 1000);
}

fn home_dir() -> std::path::PathBuf {
    std::env::var_os("HOME").map(Into::into).unwrap_or_default()
}

#[test]
fn built_contracts_are_optimised_stripped_valid_and_named_beside() {
    let vm = Vm::new(Schedule::v1());
    for (name, (built, bytes)) in opmeter_tests::built_contracts() {
        // What is deployed passes the vm's own validation (wasm-opt kept to MVP + mutable
        // globals) and carries no custom section (no `name` section is billed).
        vm.validate(bytes)
            .unwrap_or_else(|report| panic!("{name}: {report}"));
        assert_eq!(
            &opmeter_sdk_build::strip_custom_sections(bytes).unwrap(),
            bytes,
            "{name} has custom sections"
        );
        assert_eq!(built.size_bytes, bytes.len() as u64);
        assert!(
            built.size_bytes < built.compiled_size_bytes,
            "{name}: wasm-opt shrinks it"
        );
        // The bytes do not depend on where the checkout or cargo's home lives (panic
        // locations are remapped), so the pinned deploy gas holds on every machine.
        let checkout = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .canonicalize()
            .unwrap();
        for local in [checkout, home_dir().join(".cargo")] {
            let local = local.display().to_string();
            assert!(
                !bytes.windows(local.len()).any(|w| w == local.as_bytes()),
                "{name} embeds the local path {local}"
            );
        }
        let names = opmeter_tests::function_names(name);
        assert_eq!(
            names.code_hash,
            CodeHash::of(bytes),
            "{name}: names of this code"
        );
        assert!(
            !names.functions.is_empty(),
            "{name}: names kept beside the code"
        );
    }
}
