//! Stable codes: every trap code and every validation rule round-trips through its code and its
//! name, and the sdk's copy of the trap codes (contracts' native mock host) is the vm's.
//!
//! `TrapCode::ALL` and `Rule::ALL` are generated from the same table as their enums, so these
//! loops cannot miss a variant.

use std::collections::BTreeSet;

use opmeter_vm::{Rule, TrapCode};

#[test]
fn every_trap_code_round_trips_and_zero_is_unused() {
    let mut codes = BTreeSet::new();
    let mut names = BTreeSet::new();
    for &trap in TrapCode::ALL {
        assert_ne!(trap.code(), 0, "{trap:?}");
        assert_eq!(TrapCode::from_code(trap.code()), Some(trap));
        assert_eq!(TrapCode::from_name(trap.name()), Some(trap));
        assert!(codes.insert(trap.code()), "duplicate code of {trap:?}");
        assert!(names.insert(trap.name()), "duplicate name of {trap:?}");
    }
    // Codes are 1..=N with no gap, in `ALL`'s order.
    let expected: Vec<u8> = (1..=TrapCode::ALL.len() as u8).collect();
    let actual: Vec<u8> = TrapCode::ALL.iter().map(|t| t.code()).collect();
    assert_eq!(actual, expected);
    for code in 0..=u8::MAX {
        assert_eq!(
            TrapCode::from_code(code).is_some(),
            codes.contains(&code),
            "code {code}"
        );
    }
    assert_eq!(
        TrapCode::from_name("Unreachable"),
        None,
        "names are camelCase"
    );
}

#[test]
fn every_rule_round_trips_its_name_and_json_form() {
    let mut names = BTreeSet::new();
    for &rule in Rule::ALL {
        assert_eq!(Rule::from_name(rule.as_str()), Some(rule));
        assert_eq!(rule.to_string(), rule.as_str());
        assert_eq!(
            serde_json::to_string(&rule).unwrap(),
            format!("\"{}\"", rule.as_str())
        );
        assert!(names.insert(rule.as_str()), "duplicate name of {rule:?}");
    }
    assert_eq!(Rule::from_name("nope"), None);
}

#[test]
fn the_sdk_trap_codes_are_the_vms_code_by_code_and_name_by_name() {
    use opmeter_sdk::testing::TrapCode as SdkTrapCode;
    let vm: Vec<(u8, &str, String)> = TrapCode::ALL
        .iter()
        .map(|t| (t.code(), t.name(), format!("{t:?}")))
        .collect();
    let sdk: Vec<(u8, &str, String)> = SdkTrapCode::ALL
        .iter()
        .map(|t| (t.code(), t.name(), format!("{t:?}")))
        .collect();
    assert_eq!(sdk, vm);
}
