/work/wt-gw/contracts/counter/target/wasm32v1-none/release/deps/counter.d: counter/src/lib.rs

/work/wt-gw/contracts/counter/target/wasm32v1-none/release/deps/counter.wasm: counter/src/lib.rs

/work/wt-gw/contracts/counter/target/wasm32v1-none/release/deps/libcounter.rlib: counter/src/lib.rs

counter/src/lib.rs:
