#!/usr/bin/env bash
# The gas calibration table (see benches/examples/calibrate.rs and specs/gas.md):
# `./benches/calibrate.sh [v1|v2] [--runs N] [--no-node]`. Writes Markdown to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
cargo build --release -q -p opmeter-benches --example calibrate
exec "$CARGO_TARGET_DIR/release/examples/calibrate" "$@"
