/work/wt-gw/contracts/counter/target/wasm32v1-none/release/deps/opmeter_sdk-937d27383f5752f8.d: /work/wt-gw/sdk/src/lib.rs /work/wt-gw/sdk/src/address.rs /work/wt-gw/sdk/src/bump.rs /work/wt-gw/sdk/src/env.rs /work/wt-gw/sdk/src/event.rs /work/wt-gw/sdk/src/json.rs /work/wt-gw/sdk/src/storage.rs /work/wt-gw/sdk/src/sys.rs /work/wt-gw/sdk/src/u256.rs /work/wt-gw/sdk/src/wasm_host.rs /work/wt-gw/sdk/src/private.rs

/work/wt-gw/contracts/counter/target/wasm32v1-none/release/deps/libopmeter_sdk-937d27383f5752f8.rlib: /work/wt-gw/sdk/src/lib.rs /work/wt-gw/sdk/src/address.rs /work/wt-gw/sdk/src/bump.rs /work/wt-gw/sdk/src/env.rs /work/wt-gw/sdk/src/event.rs /work/wt-gw/sdk/src/json.rs /work/wt-gw/sdk/src/storage.rs /work/wt-gw/sdk/src/sys.rs /work/wt-gw/sdk/src/u256.rs /work/wt-gw/sdk/src/wasm_host.rs /work/wt-gw/sdk/src/private.rs

/work/wt-gw/contracts/counter/target/wasm32v1-none/release/deps/libopmeter_sdk-937d27383f5752f8.rmeta: /work/wt-gw/sdk/src/lib.rs /work/wt-gw/sdk/src/address.rs /work/wt-gw/sdk/src/bump.rs /work/wt-gw/sdk/src/env.rs /work/wt-gw/sdk/src/event.rs /work/wt-gw/sdk/src/json.rs /work/wt-gw/sdk/src/storage.rs /work/wt-gw/sdk/src/sys.rs /work/wt-gw/sdk/src/u256.rs /work/wt-gw/sdk/src/wasm_host.rs /work/wt-gw/sdk/src/private.rs

/work/wt-gw/sdk/src/lib.rs:
/work/wt-gw/sdk/src/address.rs:
/work/wt-gw/sdk/src/bump.rs:
/work/wt-gw/sdk/src/env.rs:
/work/wt-gw/sdk/src/event.rs:
/work/wt-gw/sdk/src/json.rs:
/work/wt-gw/sdk/src/storage.rs:
/work/wt-gw/sdk/src/sys.rs:
/work/wt-gw/sdk/src/u256.rs:
/work/wt-gw/sdk/src/wasm_host.rs:
/work/wt-gw/sdk/src/private.rs:
