# Sourced by the scripts: a build cache outside the clone, so repeated runs are incremental.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/opmeter/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-auto}"
# Compile C/C++ (RocksDB) through ccache when present: identical compiles across cargo modes and
# runs are cache hits (cc-rs recognises the `ccache` wrapper).
if command -v ccache >/dev/null; then
  export CC="${CC:-ccache cc}" CXX="${CXX:-ccache c++}"
  export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/opmeter/ccache}"
fi
