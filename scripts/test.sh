#!/usr/bin/env bash
# Command 2: set up the machine, build, and run every test (fails when any test fails).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
. scripts/env.sh
step() { printf '\n\033[1;34m== %s\033[0m\n' "$*" >&2; }

step "format"
cargo fmt --all --check
cargo fmt --manifest-path contracts/Cargo.toml --all --check

step "lint (type-checks every target, benchmarks included)"
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy --manifest-path contracts/Cargo.toml --workspace --all-targets --locked -- -D warnings

step "contract unit tests (native mock host)"
cargo test --manifest-path contracts/Cargo.toml --workspace --locked

step "workspace tests (builds every example contract from source)"
cargo test --workspace --lib --bins --tests --locked
cargo test --workspace --doc --locked

step "TypeScript client (clients/typescript): npm ci, strict type-check, vectors, unit, end-to-end and headless Chromium tests, API docs"
# `npm test` starts with `tsc --noEmit` (strict, sources and tests), then builds, bundles, generates
# the API docs and runs the tests. The node binary is the one the workspace tests just built;
# contracts come from `opmeter build` (the same cargo cache as above).
(
  cd clients/typescript
  npm ci --no-audit --no-fund
  OPMETER_BIN="$CARGO_TARGET_DIR/debug/opmeter" npm test
)
