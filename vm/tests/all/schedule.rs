//! The resolved schedule is pinned: any change to a cost or limit is a reviewed snapshot diff.
//! Bless with `UPDATE_EXPECT=1 cargo test -p opmeter-vm`.

use opmeter_vm::Schedule;

#[test]
fn schedule_v1_is_pinned() {
    let schedule = Schedule::v1();
    let json = serde_json::to_string_pretty(&schedule).unwrap();
    expect_test::expect_file!["../snapshots/schedule_v1.json"].assert_eq(&json);
    expect_test::expect!["36b2516c83adb3f0bc97cbd09b2adbec6c585f1264743cb9b0d9961e92788cb3"]
        .assert_eq(&hex::encode(schedule.hash()));
}

#[test]
fn every_host_function_has_a_distinct_name_and_code() {
    let all = opmeter_vm::HostFn::ALL;
    for (i, a) in all.iter().enumerate() {
        assert_eq!(*a as u8 as usize, i + 1);
        for b in &all[i + 1..] {
            assert_ne!(a.name(), b.name());
        }
    }
}
