#!/usr/bin/env bash
# Installs what a fresh machine lacks to build and test Opmeter. Idempotent: safe to re-run.
set -euo pipefail

say() { printf '\033[1;34m[setup]\033[0m %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    say "need root for: $*"; return 1; fi
}

# 1. Rust toolchain (rustup-managed; the repository pins nothing newer than stable 1.95).
if ! command -v cargo >/dev/null || ! command -v rustup >/dev/null; then
  say "cargo/rustup not found: install Rust with rustup (https://rustup.rs), then re-run."
  exit 1
fi

# 2. The contract target: the only stable target whose output wasm-instrument can parse.
if ! rustup target list --installed | grep -qx 'wasm32v1-none'; then
  say "adding the wasm32v1-none target"
  rustup target add wasm32v1-none
fi

# 3. Components used by the test command.
for component in rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^${component}"; then
    say "adding rustup component ${component}"
    rustup component add "${component}"
  fi
done

# 4. System packages: a C toolchain, clang/libclang for rocksdb's bindgen, ccache, chromium and
#    binaryen (wasm-opt).
missing=()
command -v cc >/dev/null || missing+=(build-essential)
command -v clang >/dev/null || missing+=(clang)
dpkg -s libclang-dev >/dev/null 2>&1 || missing+=(libclang-dev)
# ccache: RocksDB's C++ is compiled once per cargo mode (check for clippy, build for tests);
# with ccache the second compile is a cache hit.
command -v ccache >/dev/null || missing+=(ccache)
# chromium: the gas report page's test renders the page in headless Chromium (it fails without).
command -v chromium >/dev/null || missing+=(chromium)
# binaryen: `opmeter build` (and so the test harness) optimises every contract with wasm-opt.
command -v wasm-opt >/dev/null || missing+=(binaryen)
# python3 with venv: schemathesis (step 6) checks the HTTP gateway against its OpenAPI document.
command -v python3 >/dev/null || missing+=(python3)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
if [ "${#missing[@]}" -gt 0 ]; then
  if command -v apt-get >/dev/null; then
    say "installing ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  else
    say "please install: ${missing[*]} (no apt-get here)"
    exit 1
  fi
fi

# 5. Node.js >= 20.19 with npm: the TypeScript client (clients/typescript) is built and tested with
#    them. Debian's own nodejs is older on bookworm; a machine with the NodeSource source gets 20.
node_ok() {
  command -v node >/dev/null && command -v npm >/dev/null &&
    node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'
}
if ! node_ok && command -v apt-get >/dev/null; then
  say "installing nodejs (and npm if it does not come with it)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs
  command -v npm >/dev/null || as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm
fi
if ! node_ok; then
  say "need Node.js >= 20.19 with npm for clients/typescript (found: $(node --version 2>/dev/null || echo none)); install it, then re-run."
  exit 1
fi

# 6. schemathesis from PyPI, in a virtualenv under ~/.cache/opmeter (the gateway test,
#    node/tests/all/gateway.rs, runs it against a running node; OPMETER_SCHEMATHESIS overrides).
SCHEMATHESIS_VERSION=4.32.5
venv="$HOME/.cache/opmeter/venv"
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "version ${SCHEMATHESIS_VERSION}\$"; then
  say "installing schemathesis ${SCHEMATHESIS_VERSION} into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==${SCHEMATHESIS_VERSION}"
fi

# 7. snarkjs for the prover's interoperability test, pinned by prover/package-lock.json.
prover_dir="$(cd "$(dirname "$0")/../prover" && pwd)"
if [ ! -x "${prover_dir}/node_modules/.bin/snarkjs" ]; then
  say "installing snarkjs (npm ci in prover/)"
  (cd "${prover_dir}" && npm ci --no-audit --no-fund --loglevel=error)
fi

say "ready"
