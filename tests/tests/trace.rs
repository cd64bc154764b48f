//! Gas traces of the example contracts: every scenario runs untraced and traced; the outcomes
//! must be identical and the trace must add up exactly (frame and function totals, and the tree
//! summed by category equals the outcome's breakdown), whatever the status.

use std::sync::Arc;

use opmeter_tests::{contract, Chain, ALICE, BOB};
use opmeter_vm::{
    Address, CallRequest, DeployRequest, FrameTrace, GasCategory, Outcome, Status, Trace,
    TraceEntry, TraceOptions, U256,
};

const GAS: u64 = 50_000_000;

fn check(name: &str, trace: &Trace, outcome: &Outcome) {
    trace
        .verify(outcome)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
}

/// Runs a call untraced and traced (with and without the block profile) on the same state.
fn traced(chain: &Chain, contract: Address, method: &str, args: &str, gas: u64) -> Trace {
    let call = CallRequest {
        caller: ALICE,
        contract,
        method: method.into(),
        input: args.as_bytes().to_vec(),
        value: U256::zero(),
        gas_limit: gas,
    };
    let state = Arc::new(chain.state.clone());
    let plain = chain
        .vm
        .execute(state.clone(), chain.block, call.clone())
        .expect("no node fault");
    let mut last = None;
    for blocks in [false, true] {
        let options = TraceOptions {
            blocks,
            ..TraceOptions::default()
        };
        let (outcome, trace) = chain
            .vm
            .execute_traced(state.clone(), chain.block, call.clone(), &options)
            .expect("no node fault");
        assert_eq!(outcome, plain, "{method}: tracing changed the outcome");
        check(method, &trace, &outcome);
        if blocks {
            let instructions: u64 = trace.blocks.iter().map(|b| b.gas).sum();
            if !trace.blocks_truncated && outcome.status != Status::OutOfGas {
                assert_eq!(
                    instructions,
                    outcome
                        .gas_breakdown
                        .get(&GasCategory::Instructions)
                        .copied()
                        .unwrap_or(0),
                    "{method}: block profile"
                );
            }
        }
        last = Some(trace);
    }
    last.expect("traced")
}

/// Deploys traced and untraced; commits the deployment.
fn deploy(chain: &mut Chain, name: &str, init: &str) -> Address {
    let code = chain.vm.prepare(contract(name)).expect("valid");
    let state = Arc::new(chain.state.clone());
    let request = DeployRequest {
        deployer: ALICE,
        code: code.clone(),
        salt: name.as_bytes().to_vec(),
        init_input: init.as_bytes().to_vec(),
        value: U256::zero(),
        gas_limit: GAS,
    };
    let (address, plain) = chain
        .vm
        .deploy(state.clone(), chain.block, request.clone())
        .expect("no node fault");
    let (traced_address, outcome, trace) = chain
        .vm
        .deploy_traced(state, chain.block, request, &TraceOptions::default())
        .expect("no node fault");
    assert_eq!((traced_address, &outcome), (address, &plain), "{name}");
    check(name, &trace, &outcome);
    assert_eq!(outcome.status, Status::Success, "deploying {name}");
    chain
        .state
        .codes
        .insert(code.code_hash, code.original.clone());
    chain.state.apply(&outcome.writes);
    address
}

#[test]
fn every_example_scenario_traces_exactly() {
    let mut chain = Chain::new();
    let counter = deploy(&mut chain, "counter", r#"{"start": 5}"#);
    let token = deploy(
        &mut chain,
        "token",
        r#"{"name": "Meter", "symbol": "MTR", "supply": "1000"}"#,
    );
    let registry = deploy(&mut chain, "registry", "{}");
    let compute = deploy(&mut chain, "compute", "{}");
    let transfer = format!(r#"{{"to": "{}", "amount": "10"}}"#, BOB.to_hex());
    let scenarios: [(Address, &str, String); 16] = [
        (counter, "increment", r#"{"by": 2}"#.into()),
        (counter, "get", "{}".into()),
        (counter, "reset", "{}".into()),
        (token, "transfer", transfer.clone()),
        (token, "transfer", r#"{"to": 5}"#.into()),
        (token, "symbol", "{}".into()),
        (
            registry,
            "set",
            r#"{"key": "dns", "value": "1.1.1.1"}"#.into(),
        ),
        (registry, "get", r#"{"key": "dns"}"#.into()),
        (registry, "count", "{}".into()),
        (compute, "fib", r#"{"n": 20}"#.into()),
        (compute, "loop_sum", r#"{"n": 10000}"#.into()),
        (compute, "sort", r#"{"n": 300}"#.into()),
        (compute, "hash", r#"{"len": 4096}"#.into()),
        (compute, "host_calls", r#"{"n": 100}"#.into()),
        (compute, "missing", "{}".into()),
        (counter, "increment", "not json".into()),
    ];
    for (address, method, args) in &scenarios {
        let trace = traced(&chain, *address, method, args, GAS);
        assert!(!trace.truncated || trace.root.gas_used > 0);
    }
    // Every status at small limits: out of gas everywhere along the token transfer.
    let full = traced(&chain, token, "transfer", &transfer, GAS)
        .root
        .gas_used;
    for limit in (0..=full).step_by((full / 40).max(1) as usize) {
        traced(&chain, token, "transfer", &transfer, limit);
    }
}

#[test]
fn hostile_contracts_trace_exactly() {
    let mut chain = Chain::new();
    for name in [
        "hostile_loop",
        "hostile_recursion",
        "hostile_memory",
        "hostile_storage",
        "hostile_output",
        "hostile_depth",
    ] {
        let address = deploy(&mut chain, name, "{}");
        let trace = traced(&chain, address, "run", "", 5_000_000);
        if name == "hostile_depth" {
            // Nested calls into itself: each callee frame sits under the caller's `call` entry.
            let mut depth = 1;
            let mut frame = &trace.root;
            while let Some(callee) = frame.entries.iter().find_map(first_callee) {
                depth += 1;
                assert_eq!(callee.depth, depth);
                frame = callee;
            }
            assert!(depth > 1, "{name} made no nested call");
        }
    }
}

/// The first callee frame anywhere under an entry.
fn first_callee(entry: &TraceEntry) -> Option<&FrameTrace> {
    match entry {
        TraceEntry::Host(h) => h.callees.first(),
        TraceEntry::Function(f) => f.children.iter().find_map(first_callee),
        TraceEntry::Charge { .. } | TraceEntry::Truncated { .. } => None,
    }
}

/// Every function entry of a frame's tree (callee frames excluded).
fn function_names_in(entries: &[TraceEntry], out: &mut Vec<String>) {
    for entry in entries {
        if let TraceEntry::Function(f) = entry {
            out.push(f.name.clone());
            function_names_in(&f.children, out);
        }
    }
}

#[test]
fn deployed_code_has_no_names_and_the_side_table_names_its_functions() {
    let mut chain = Chain::new();
    let counter = deploy(&mut chain, "counter", r#"{"start": 5}"#);
    let options = TraceOptions {
        blocks: true,
        ..TraceOptions::default()
    };
    let call = CallRequest {
        caller: ALICE,
        contract: counter,
        method: "increment".into(),
        input: br#"{"by": 2}"#.to_vec(),
        value: U256::zero(),
        gas_limit: GAS,
    };
    let (outcome, mut trace) = chain
        .vm
        .execute_traced(Arc::new(chain.state.clone()), chain.block, call, &options)
        .expect("no node fault");
    let mut unnamed = Vec::new();
    function_names_in(&trace.root.entries, &mut unnamed);
    assert!(!unnamed.is_empty());
    assert!(
        unnamed.iter().all(|name| name.starts_with("func[")),
        "the deployed module carries no name section: {unnamed:?}"
    );

    let names = opmeter_tests::function_names("counter");
    let code_hash = trace.root.code_hash.expect("a contract frame");
    assert_eq!(
        names.code_hash, code_hash,
        "the names belong to the deployed code"
    );
    trace.name_functions(&code_hash, &names.functions);
    let mut named = Vec::new();
    function_names_in(&trace.root.entries, &mut named);
    assert_eq!(named.len(), unnamed.len());
    assert!(
        named.iter().any(|name| name == "increment"),
        "the export is named: {named:?}"
    );
    assert!(trace.blocks.iter().all(|b| !b.name.starts_with("func[")));
    // Naming changes labels only: the trace still accounts for the outcome exactly.
    check("increment", &trace, &outcome);
}
