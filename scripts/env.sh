# Sourced by the scripts: a build cache outside the clone, so repeated runs are incremental.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/opmeter/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-auto}"
