#!/usr/bin/env bash
# Instruction counts per call (callgrind), the load-independent cross-check of the metering
# ratios: `./benches/callgrind.sh` (needs valgrind: `apt-get install -y valgrind`).
# Each count is (instructions of 3N calls − instructions of N calls) / 2N, so set-up cancels out.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
cargo build --release -p opmeter-benches --example workload
bin="$CARGO_TARGET_DIR/release/examples/workload"
count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$@" 2>&1 | grep -oP 'Collected : \K[0-9]+'; }
printf '%-8s %-10s %14s\n' workload mode instructions/call
for workload in fib loop sort hash host counter; do
  for mode in unmetered shipped injected fuel; do
    n=1; [ "$workload" = counter ] && n=200
    a=$(count "$mode" "$workload" "$n"); b=$(count "$mode" "$workload" $((n * 3)))
    printf '%-8s %-10s %14d\n' "$workload" "$mode" $(( (b - a) / (2 * n) ))
  done
done
