/work/wt-gw/contracts/counter/target/release/deps/cfg_if-688d2b70a343424b.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/cfg-if-1.0.5/src/lib.rs

/work/wt-gw/contracts/counter/target/release/deps/libcfg_if-688d2b70a343424b.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/cfg-if-1.0.5/src/lib.rs

/work/wt-gw/contracts/counter/target/release/deps/libcfg_if-688d2b70a343424b.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/cfg-if-1.0.5/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/cfg-if-1.0.5/src/lib.rs:
