//! Fuzz target `execute`: see `opmeter_vm::fuzzing::execute`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(bug) = opmeter_vm::fuzzing::execute(data) {
        panic!("execute: {bug}");
    }
});
