#!/usr/bin/env bash
# Runs every fuzz target of the vm for a given time, one process each, one after the other.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 600 s, all targets)
#
# Installs what it needs on a fresh machine, idempotently: a nightly toolchain (libFuzzer's
# sanitizer flags need one) — or, when nightly cannot be downloaded, the stable toolchain with
# RUSTC_BOOTSTRAP=1 — and cargo-fuzz. Corpora are kept in fuzz/corpus/<target> (ignored by git),
# crashes land in fuzz/artifacts/<target>; copy a fixed crash into fuzz/regressions/<target>/ so
# vm/tests/all/fuzz_regressions.rs replays it in every test run. Each target's last lines
# (libFuzzer's final stats: number of executions, exec/s) go to fuzz/logs/<target>.log.
#
# Environment: FUZZ_MAX_LEN (default 2048), FUZZ_RSS_MB (default 2048), CARGO_TARGET_DIR,
# FUZZ_STABLE=1 (skip nightly: stable with RUSTC_BOOTSTRAP=1), FUZZ_SANITIZER (default `none`: the vm is safe Rust and AddressSanitizer costs a factor ~3 in
# executions per second; set `address` to hunt for memory errors in the engine's unsafe code).
set -euo pipefail

cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${1:-600}"
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
    TARGETS=(validate execute differential)
fi
MAX_LEN="${FUZZ_MAX_LEN:-2048}"
RSS_MB="${FUZZ_RSS_MB:-2048}"
SANITIZER="${FUZZ_SANITIZER:-none}"
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/fuzz"

# 1. A toolchain that accepts -Zsanitizer flags.
TOOLCHAIN=()
if [ -z "${FUZZ_STABLE:-}" ] && { rustup run nightly rustc --version >/dev/null 2>&1 \
    || rustup toolchain install nightly --profile minimal >/dev/null 2>&1; }; then
    TOOLCHAIN=(+nightly)
else
    echo "fuzz.sh: using the default (stable) toolchain with RUSTC_BOOTSTRAP=1" >&2
    export RUSTC_BOOTSTRAP=1
fi

# 2. cargo-fuzz.
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

mkdir -p fuzz/logs
status=0
for target in "${TARGETS[@]}"; do
    mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
    echo "fuzz.sh: $target for ${SECONDS_PER_TARGET}s"
    # -O: optimised; one process (no -fork/-jobs); the kept regressions seed the corpus.
    if ! cargo "${TOOLCHAIN[@]}" fuzz run --fuzz-dir fuzz --target-dir "$TARGET_DIR" -O \
        -s "$SANITIZER" "$target" \
        "fuzz/corpus/$target" "fuzz/regressions/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -max_len="$MAX_LEN" -rss_limit_mb="$RSS_MB" \
        -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$target/" \
        >"fuzz/logs/$target.log" 2>&1; then
        echo "fuzz.sh: $target FAILED (see fuzz/logs/$target.log and fuzz/artifacts/$target/)" >&2
        status=1
    fi
    grep -E "^(Done|stat::number_of_executed_units|stat::average_exec_per_sec)" \
        "fuzz/logs/$target.log" | sed "s/^/  $target: /" || true
done
exit $status
