#!/usr/bin/env bash
# Committed token transfers/s and time to finality: single node vs 4 local validators, one run.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh >/dev/null
. scripts/env.sh
cargo build --release -p opmeter-node -p opmeter-validator --bins --example throughput
"$CARGO_TARGET_DIR/release/examples/throughput"
