# Sourced by the scripts (from anywhere: the key is this checkout's root): a build cache outside the clone, so repeated
# runs are incremental. One cache per checkout: cargo reuses a crate built from another checkout
# whose files are older, with that checkout's paths compiled in (`env!("CARGO_MANIFEST_DIR")`),
# so two clones sharing one target dir would test each other's builds.
if [ -z "${CARGO_TARGET_DIR:-}" ]; then
  checkout_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
  checkout_key="$(printf '%s' "$checkout_root" | sha256sum | cut -c1-12)"
  export CARGO_TARGET_DIR="$HOME/.cache/opmeter/target-${checkout_key}"
fi
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-auto}"
# Where scripts/node.sh links the `opmeter` binary it built (put it on PATH).
export OPMETER_BIN_DIR="${OPMETER_BIN_DIR:-$HOME/.cache/opmeter/bin}"
# Compile C/C++ (RocksDB) through ccache when present: identical compiles across cargo modes and
# runs are cache hits (cc-rs recognises the `ccache` wrapper).
if command -v ccache >/dev/null; then
  export CC="${CC:-ccache cc}" CXX="${CXX:-ccache c++}"
  export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/opmeter/ccache}"
fi
