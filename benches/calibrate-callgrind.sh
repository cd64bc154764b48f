#!/usr/bin/env bash
# Instruction counts per unit of gas for every vm item of the calibration (instruction classes,
# host functions on worst-case inputs, calls), under callgrind: independent of the machine's
# load, so it settles items whose wall-time ratio a busy machine makes noisy. Each item runs
# once and three times after a warm-up call; the difference is two calls' instructions, divided
# by two calls' gas. Usage: ./benches/calibrate-callgrind.sh [v1|v2] [ITEM-SUBSTRING]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
schedule="${1:-v2}"
filter="${2:-}"
cargo build --release -q -p opmeter-benches --example calibrate
bin="$CARGO_TARGET_DIR/release/examples/calibrate"
count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$schedule" --count "$1" "$2" 2>&1 | grep -oP 'Collected : \K[0-9]+'; }
results=$(mktemp)
while IFS= read -r item; do
  [[ -n "$filter" && "$item" != *"$filter"* ]] && continue
  gas=$("$bin" "$schedule" --count "$item" 0)
  one=$(count "$item" 1)
  three=$(count "$item" 3)
  printf '%s\t%s\t%s\n' "$item" "$gas" "$(( three - one ))" >> "$results"
  printf '%-60s done\n' "$item" >&2
done < <("$bin" "$schedule" --list)
python3 - "$results" "$schedule" <<'PY'
import sys, statistics
rows = []
for line in open(sys.argv[1]):
    name, gas, instructions = line.rstrip("\n").split("\t")
    gas, instructions = int(gas), int(instructions)
    rows.append((name, gas, instructions / (2 * gas)))
median = statistics.median(r[2] for r in rows)
print(f"schedule {sys.argv[2]}: instructions per unit of gas (callgrind), median {median:.3f}\n")
print("| item | gas per call | instructions/gas | × median |")
print("|---|---:|---:|---:|")
for name, gas, per_gas in rows:
    ratio = per_gas / median
    mark = f"**{ratio:.2f}**" if ratio > 2 else f"{ratio:.2f}"
    print(f"| {name} | {gas:,} | {per_gas:.3f} | {mark} |")
PY
rm -f "$results"
