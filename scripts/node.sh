#!/usr/bin/env bash
# Command 1: set up the machine, build, and run a development node. Extra arguments go to `opmeter node`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
. scripts/env.sh
cargo build --release -p opmeter-node
mkdir -p "$OPMETER_BIN_DIR"
ln -sf "$CARGO_TARGET_DIR/release/opmeter" "$OPMETER_BIN_DIR/opmeter"
exec "$CARGO_TARGET_DIR/release/opmeter" node "$@"
