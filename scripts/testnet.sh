#!/usr/bin/env bash
# A local replicated chain of validators (Malachite BFT) on loopback.
#   scripts/testnet.sh up [--validators N] [--dir DIR]   build, write the network, start every validator
#   scripts/testnet.sh start DIR I                        start validator I (again)
#   scripts/testnet.sh stop DIR [I]                       SIGTERM validator I (default: all)
#   scripts/testnet.sh kill DIR [I]                       SIGKILL validator I (default: all)
#   scripts/testnet.sh status DIR                         each validator's pid and head
# Logs: DIR/vI.log; pids: DIR/vI.pid. JSON-RPC of validator I: see DIR/vI/config.toml (rpc_addr).
set -euo pipefail
cd "$(dirname "$0")/.."
command="${1:-}"; shift || true

bin() {
  . scripts/env.sh
  printf '%s' "$CARGO_TARGET_DIR/release/opmeter-validator"
}

start_one() {
  local dir="$1" i="$2"
  "$(bin)" node --home "$dir/v$i" >>"$dir/v$i.log" 2>&1 &
  echo $! >"$dir/v$i.pid"
  echo "v$i: pid $!, log $dir/v$i.log, rpc $(sed -n 's/^rpc_addr = "\(.*\)"/http:\/\/\1/p' "$dir/v$i/config.toml")"
}

signal() {
  local sig="$1" dir="$2" which="${3:-}"
  for pidfile in "$dir"/v*.pid; do
    [ -e "$pidfile" ] || continue
    local name; name="$(basename "$pidfile" .pid)"
    if [ -n "$which" ] && [ "$name" != "v$which" ]; then continue; fi
    kill "-$sig" "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
    echo "$name: $sig"
  done
}

case "$command" in
  up)
    validators=4; dir="$HOME/.opmeter/testnet"
    while [ $# -gt 0 ]; do
      case "$1" in
        --validators) validators="$2"; shift 2 ;;
        --dir) dir="$2"; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
      esac
    done
    ./scripts/setup.sh
    . scripts/env.sh
    cargo build --release -p opmeter-validator -p opmeter-node
    "$(bin)" testnet --validators "$validators" --dir "$dir"
    for ((i = 0; i < validators; i++)); do start_one "$dir" "$i"; done
    ;;
  start) start_one "$1" "$2" ;;
  stop) signal TERM "$1" "${2:-}" ;;
  kill) signal KILL "$1" "${2:-}" ;;
  status)
    for pidfile in "$1"/v*.pid; do
      [ -e "$pidfile" ] || continue
      name="$(basename "$pidfile" .pid)"
      rpc="$(sed -n 's/^rpc_addr = "\(.*\)"/\1/p' "$1/$name/config.toml")"
      head="$(curl -s -m 2 -H 'content-type: application/json' \
        -d '{"jsonrpc":"2.0","id":1,"method":"chain_head","params":[]}' "http://$rpc" |
        sed -n 's/.*"height":\([0-9]*\).*/\1/p')"
      echo "$name: pid $(cat "$pidfile"), head ${head:-down}"
    done
    ;;
  *) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
