//! Chains keep their schedule: the genesis chooses it, every header names it, a reopened chain
//! keeps it, audit bundles of its blocks verify offline with it, and an unknown one is refused.

use opmeter_ledger::bundle::verify_bundle;
use opmeter_ledger::encoding::from_hex0x;
use opmeter_node::genesis::Genesis;
use opmeter_node::service::Node;
use opmeter_vm::{Address, Schedule, Vm, U256};

use crate::support::{config, genesis, wallet, TestNode, KV};

fn genesis_with(schedule_version: u32) -> Genesis {
    Genesis {
        schedule_version,
        ..genesis()
    }
}

/// Runs a transfer and a contract deploy + call on a fresh chain of `version`: (gas of each
/// receipt, the node's directory and node).
fn run_chain(version: u32) -> (Vec<u64>, TestNode) {
    let node = TestNode::with_genesis(genesis_with(version));
    let mut alice = wallet(1);
    alice.gas_limit = 100_000_000;
    let transfer = alice.transfer(Address([9; 32]), U256::from(5));
    let deploy = alice.deploy(&wat::parse_str(KV).unwrap(), "", b"");
    let mut receipts = node.run(&[transfer, deploy]);
    let contract = receipts[1].contract_address.expect("deployed");
    receipts.extend(node.run(&[alice.call(contract, "put", "value")]));
    if version >= 2 {
        // The deployed code joined the warm set, so the call paid the warm load price.
        let code_load = receipts[2].gas_breakdown.get("code_load").copied();
        let costs = Schedule::v2().code_loading.unwrap();
        let kib = (wat::parse_str(KV).unwrap().len() as u64).div_ceil(1024);
        assert_eq!(code_load, Some(kib * costs.warm_per_kib));
    } else {
        assert!(!receipts[2].gas_breakdown.contains_key("code_load"));
    }
    let head = node.node.chain().head();
    assert_eq!(
        head.header.schedule_hash,
        Schedule::by_version(version).unwrap().hash(),
        "v{version}: the header names the genesis's schedule"
    );
    (receipts.iter().map(|r| r.gas_used).collect(), node)
}

#[test]
fn a_chain_runs_the_schedule_its_genesis_chose() {
    let (v1, _) = run_chain(1);
    let (v2, _) = run_chain(2);
    // Pinned: v1's numbers are those of every chain created before schedules were chosen by
    // genesis; v2 re-prices the intrinsic work, deploy bytes and storage writes.
    expect_test::expect![[r#"
        v1 [transfer, deploy, put] = [23600, 84800, 32327]
        v2 [transfer, deploy, put] = [383600, 662400, 490577]"#]]
    .assert_eq(&format!(
        "v1 [transfer, deploy, put] = {v1:?}\nv2 [transfer, deploy, put] = {v2:?}"
    ));
}

#[test]
fn a_reopened_chain_keeps_its_schedule_and_its_bundles_verify_with_it() {
    let (_, node) = run_chain(2);
    let dir = node._dir;
    let last = node.node.chain().head();
    let tx_hash = node
        .node
        .chain()
        .store()
        .block(last.header.height)
        .unwrap()
        .unwrap()
        .transactions[0]
        .hash();
    drop(node.node);
    // Reopened without a genesis document: the stored one (v2) decides.
    let mut cfg = config(dir.path(), genesis());
    cfg.genesis = None;
    let reopened = Node::open(&cfg).unwrap();
    assert_eq!(reopened.chain().vm().schedule().version, 2);
    // The warm set survived the restart; compiling it makes the next call a cache hit.
    let before = reopened.chain().vm().cache_stats();
    assert_eq!(before.modules, 0);
    assert_eq!(reopened.chain().precompile_warm_set().unwrap(), 1);
    let warmed = reopened.chain().vm().cache_stats();
    assert_eq!((warmed.modules, warmed.interruptible_modules), (1, 1));
    let kv = opmeter_vm::CodeHash::of(&wat::parse_str(KV).unwrap());
    let state = reopened.chain().read_state(None).unwrap().unwrap();
    let members = opmeter_vm::warm_set::members(state.view()).unwrap();
    assert_eq!(members, [kv]);
    let deployed = opmeter_vm::Address::for_contract(&wallet(1).address(), &kv, b"");
    let call = opmeter_vm::CallRequest {
        caller: Address([7; 32]),
        contract: deployed,
        method: "get".into(),
        input: Vec::new(),
        value: U256::zero(),
        gas_limit: 10_000_000,
    };
    reopened.chain().query(&state, call.clone()).unwrap();
    // A read-only call under a time limit runs on the interruptible engine: compiled too.
    let limited = state.with_interrupt(opmeter_vm::Interrupt::new());
    reopened.chain().query(&limited, call).unwrap();
    let after = reopened.chain().vm().cache_stats();
    assert_eq!(
        after.module_misses, warmed.module_misses,
        "both calls found it compiled"
    );
    let bundle = opmeter_node::audit::bundle(reopened.chain(), &tx_hash)
        .unwrap()
        .expect("a bundle");
    let named: [u8; 32] = from_hex0x(&bundle.schedule_hash)
        .unwrap()
        .try_into()
        .unwrap();
    let schedule = Schedule::by_hash(&named).expect("a known schedule");
    assert_eq!(schedule.version, 2);
    let verdict = verify_bundle(&bundle, &Vm::new(schedule)).expect("verifies");
    assert!(verdict.matches(), "{verdict:?}");
    // The same bundle under the other schedule is refused, not silently re-priced.
    assert!(verify_bundle(&bundle, &Vm::new(Schedule::v1())).is_err());
    // Giving the v1 genesis for a v2 directory is a genesis mismatch.
    assert!(Node::open(&config(dir.path(), genesis())).is_err());
}

#[test]
fn an_unknown_schedule_is_refused_with_its_reason() {
    let text = genesis_with(9).to_json();
    let error = Genesis::from_json(&text).unwrap_err();
    assert!(error.contains("scheduleVersion 9 is unknown"), "{error}");
    let dir = tempfile::tempdir().unwrap();
    let Err(error) = Node::open(&config(dir.path(), genesis_with(9))) else {
        panic!("a genesis with an unknown schedule opened");
    };
    let error = error.to_string();
    assert!(error.contains("scheduleVersion 9 is unknown"), "{error}");
    // A genesis document written before the field existed is a v1 chain.
    let legacy = text.replace(",\n  \"scheduleVersion\": 9", "");
    assert_ne!(legacy, text);
    assert_eq!(Genesis::from_json(&legacy).unwrap().schedule_version, 1);
}
