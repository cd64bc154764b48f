//! Fuzz target `differential`: see `opmeter_vm::fuzzing::differential`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(bug) = opmeter_vm::fuzzing::differential(data) {
        panic!("differential: {bug}");
    }
});
