//! Fuzz target `validate`: see `opmeter_vm::fuzzing::validate`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(bug) = opmeter_vm::fuzzing::validate(data) {
        panic!("validate: {bug}");
    }
});
