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
fn schedule_v2_is_pinned() {
    let schedule = Schedule::v2();
    let json = serde_json::to_string_pretty(&schedule).unwrap();
    expect_test::expect_file!["../snapshots/schedule_v2.json"].assert_eq(&json);
    expect_test::expect!["52f1ea861fbf8a8db07bc578c22fae79366e791b6c965811cbba03a3ed02fae9"]
        .assert_eq(&hex::encode(schedule.hash()));
}

#[test]
fn schedules_are_found_by_version_and_by_hash() {
    for version in Schedule::VERSIONS {
        let schedule = Schedule::by_version(version).unwrap();
        assert_eq!(schedule.version, version);
        assert_eq!(Schedule::by_hash(&schedule.hash()), Some(schedule));
    }
    assert_eq!(Schedule::by_version(0), None);
    assert_eq!(Schedule::by_hash(&[0; 32]), None);
    assert_ne!(Schedule::v1().hash(), Schedule::v2().hash());
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
