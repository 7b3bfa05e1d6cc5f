#!/usr/bin/env bash
# Request-path cost of observability: proxy CPU per request (user + system, from /proc) for a
# fixed open-loop load, one shard, keep-alive, in three set-ups:
#   base   - BASE_BIN (default: the same binary) with no log line and no stats frontend
#   quiet  - this build, histograms recorded, no log target
#   logged - this build, `option httplog` to `log stdout format raw` (stdout to /dev/null),
#            plus a stats frontend with /metrics
# Usage: scripts/bench-observability.sh [BASE_BIN]   (builds nothing: run cargo build --release)
set -euo pipefail
cd "$(dirname "$0")/.."
NEW=target/release/pointsman
BASE=${1:-$NEW}
BACKEND=target/release/pointsman-backend
RATE=${RATE:-4000}
DURATION=${DURATION:-8s}
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$dir"' EXIT
$BACKEND --listen 127.0.0.1:29181 --name s1 --body hello >/dev/null &
sleep 0.3
config() { # $1 = extra global, $2 = extra defaults, $3 = extra sections
  printf 'global\n%sdefaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n%sfrontend app\n    bind 127.0.0.1:29180\n    default_backend bk\nbackend bk\n    server s1 127.0.0.1:29181\n%s' "$1" "$2" "$3"
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run() { # $1 = name, $2 = binary, $3 = config file
  taskset -c 1 "$2" -f "$3" --shards 1 >/dev/null 2>"$dir/$1.err" &
  local pid=$!
  sleep 0.5
  [ -e "/proc/$pid/stat" ] || { echo "$1: pointsman did not start: $(cat "$dir/$1.err")"; return; }
  local before; before=$(ticks $pid)
  taskset -c 0 $NEW load --rate "$RATE" -d "$DURATION" -c 8 http://127.0.0.1:29180/ >"$dir/load.txt" 2>&1 || true
  local out; out=$(awk '$1 ~ /^[0-9]+$/ && $3 ~ /^[0-9]+$/ { n += $2 } END { print n }' "$dir/load.txt")
  local after; after=$(ticks $pid)
  kill -INT $pid; wait $pid 2>/dev/null || true
  local hz; hz=$(getconf CLK_TCK)
  awk -v n="$1" -v t=$((after - before)) -v r="$out" -v hz="$hz" \
    'BEGIN { printf "%-7s %8d requests  %6.2f us CPU/request\n", n, r, t / hz * 1e6 / r }'
}
config "" "" "" > "$dir/base.cfg"
config "    log stdout format raw local0\n" "    log global\n    option httplog\n" \
  "listen stats\n    bind 127.0.0.1:29190\n    stats enable\n    stats uri /stats\n    stats prometheus /metrics\n" \
  | sed 's/\\n/\n/g' > "$dir/logged.cfg"
for round in 1 2; do
  run base "$BASE" "$dir/base.cfg"
  run quiet "$NEW" "$dir/base.cfg"
  run logged "$NEW" "$dir/logged.cfg"
done
