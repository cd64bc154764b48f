/work/wt-gw/contracts/counter/target/release/deps/opmeter_sdk_macros-2fdd63a310630827.d: /work/wt-gw/sdk/macros/src/lib.rs

/work/wt-gw/contracts/counter/target/release/deps/libopmeter_sdk_macros-2fdd63a310630827.so: /work/wt-gw/sdk/macros/src/lib.rs

/work/wt-gw/sdk/macros/src/lib.rs:
