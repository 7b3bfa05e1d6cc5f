#!/usr/bin/env bash
# What one proxied HTTP request costs pointsman: one shard pinned to CPU 1, pointsman-backend and
# wrk on CPU 0, keep-alive clients ("ka") and `Connection: close` clients ("close").
#
#   scripts/profile-request-path.sh cpu BIN_A [BIN_B]   proxy CPU time per request (user+system
#        from /proc/PID/stat), rounds interleaved A B A B so drift on this shared machine hits
#        both alike; prints every round and the median per binary and mode, and B/A.
#   scripts/profile-request-path.sh syscalls BIN        syscalls (and io_uring submissions) per
#        request, counted with `perf stat -e 'syscalls:sys_enter_*'` over a wrk run.
#   scripts/profile-request-path.sh perf BIN            `perf record -e cpu-clock -g` of the proxy
#        under keep-alive and close load; prints the top symbols (self time).
#   scripts/profile-request-path.sh allocs BIN          heap allocations per request (heaptrack):
#        a run with load minus a run without, divided by the requests served.
#
# Needs: wrk, perf (syscalls, perf), heaptrack (allocs), taskset. Builds nothing: run
# `cargo build --release` first. SITES=N (allocs): also print the N busiest allocation sites.
# Env: ROUNDS (3), DURATION (seconds, 5), CONNS (8).
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:?usage: $0 cpu|syscalls|perf|allocs BIN_A [BIN_B]}
A=${2:-target/release/pointsman}
B=${3:-}
BACKEND=${BACKEND:-target/release/pointsman-backend}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
CONNS=${CONNS:-8}
FRONT=${FRONT:-29280}
BACK=${BACK:-29281}
for tool in wrk taskset; do
  command -v $tool >/dev/null || { echo "needs $tool (apt-get install $tool)"; exit 1; }
done
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
taskset -c 0 "$BACKEND" --listen 127.0.0.1:$BACK --name s1 --body hello >/dev/null &
sleep 0.3
cat >"$dir/proxy.cfg" <<EOF
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend app
    bind 127.0.0.1:$FRONT
    default_backend bk
backend bk
    server s1 127.0.0.1:$BACK
EOF
HZ=$(getconf CLK_TCK)
PID=
JOB=

start() { # $1 = binary, $2... = wrapper
  local bin=$1; shift
  taskset -c 1 "$@" "$bin" -f "$dir/proxy.cfg" --shards 1 >/dev/null 2>"$dir/proxy.err" &
  PID=$!
  JOB=$PID
  for _ in $(seq 50); do
    (exec 3<>/dev/tcp/127.0.0.1/$FRONT) 2>/dev/null && break
    sleep 0.1
  done
  # The wrapper (heaptrack) may have forked: find the pointsman process itself.
  local child
  child=$(pgrep -n -P $PID 2>/dev/null || true)
  while [ -n "$child" ]; do PID=$child; child=$(pgrep -n -P $PID 2>/dev/null || true); done
}
stop() { kill -INT $PID 2>/dev/null || true; wait $JOB 2>/dev/null || true; }
ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
load() { # $1 = ka|close, $2 = seconds; prints the requests wrk completed
  local hdr=()
  [ "$1" = close ] && hdr=(-H "Connection: close")
  taskset -c 0 wrk -t1 -c"$CONNS" -d"$2"s "${hdr[@]}" http://127.0.0.1:$FRONT/ >"$dir/wrk.txt" 2>&1
  if grep -q "Socket errors\|Non-2xx" "$dir/wrk.txt"; then
    grep "Socket errors\|Non-2xx" "$dir/wrk.txt" >&2
  fi
  awk '/requests in/ {print $1}' "$dir/wrk.txt"
}
warm() { load ka 1 >/dev/null; }

cpu_round() { # $1 = label, $2 = binary
  start "$2"
  warm
  for m in ka close; do
    local t0 t1 n
    t0=$(ticks); n=$(load $m "$DURATION"); t1=$(ticks)
    awk -v l="$1" -v m=$m -v t=$((t1 - t0)) -v n="$n" -v hz="$HZ" \
      'BEGIN { printf "%s %s %.3f %d\n", l, m, t / hz * 1e6 / n, n }' | tee -a "$dir/cpu.txt"
  done
  stop
}

case $MODE in
cpu)
  echo "# label mode us_cpu_per_request requests"
  for r in $(seq "$ROUNDS"); do
    cpu_round A "$A"
    [ -n "$B" ] && cpu_round B "$B"
  done
  echo "# medians"
  for l in A B; do for m in ka close; do
    awk -v l=$l -v m=$m '$1 == l && $2 == m { print $3 }' "$dir/cpu.txt" | sort -n |
      awk -v l=$l -v m=$m '{ v[NR] = $1 } END { if (NR) printf "%s %-5s median %.3f us/req (min %.3f max %.3f, %d rounds)\n", l, m, v[int((NR + 1) / 2)], v[1], v[NR], NR }'
  done; done | tee "$dir/med.txt"
  if [ -n "$B" ]; then
    for m in ka close; do
      awk -v m=$m '$2 == m && $1 == "A" { a = $4 } $2 == m && $1 == "B" { b = $4 } END { printf "B/A %-5s %.3f\n", m, b / a }' "$dir/med.txt"
    done
  fi
  ;;
syscalls)
  start "$A"
  warm
  for m in ka close; do
    perf stat -x, -e 'syscalls:sys_enter_*' -e 'io_uring:io_uring_submit_req' -p $PID \
      -o "$dir/perf-$m.txt" -- sleep $((DURATION + 1)) &
    sleep 0.5
    n=$(load $m "$DURATION")
    wait $!
    echo "== $m: $n requests; per request:"
    awk -F, -v n="$n" '$1 ~ /^[0-9]+$/ && $1 > 0 { sub("syscalls:sys_enter_", "", $3); t += ($3 ~ /io_uring:/) ? 0 : $1;
        printf "  %-28s %8.3f\n", $3, $1 / n } END { printf "  %-28s %8.3f\n", "TOTAL syscalls", t / n }' \
      "$dir/perf-$m.txt" | sort -k2 -rn
  done
  stop
  ;;
perf)
  start "$A"
  warm
  for m in ka close; do
    perf record -q -e cpu-clock -g -p $PID -o "$dir/perf-$m.data" -- sleep $((DURATION + 1)) 2>/dev/null &
    sleep 0.3
    n=$(load $m "$DURATION")
    wait $!
    echo "== $m: $n requests; top symbols (self):"
    perf report -i "$dir/perf-$m.data" --no-children --sort sym --stdio 2>/dev/null |
      grep -E '^ +[0-9.]+%' | head -"${TOP:-30}" || true
    if [ -n "${KEEP:-}" ]; then cp "$dir/perf-$m.data" "$KEEP-$m.data"; fi
  done
  stop
  ;;
allocs)
  command -v heaptrack >/dev/null || { echo "needs heaptrack (apt-get install heaptrack)"; exit 1; }
  count() { # $1 = ka|close|none; prints "allocations requests"
    start "$A" heaptrack -o "$dir/ht-$1"
    warm
    local n=0
    if [ "$1" != none ]; then n=$(load "$1" "$DURATION"); else sleep "$DURATION"; fi
    stop
    local calls
    calls=$(heaptrack_print -f "$dir"/ht-"$1"*.zst 2>/dev/null | awk '/^calls to allocation functions:/ { print $5 }')
    echo "$calls $n"
    if [ -n "${SITES:-}" ] && [ "$1" != none ]; then # the busiest allocation sites, to stderr
      heaptrack_print -f "$dir"/ht-"$1"*.zst -n "$SITES" -s 12 -a 1 -p 0 -l 0 -T 0 2>/dev/null |
        awk -v n="$n" '/calls with .* from:$/ { c = $1; want = 3; next }
          want > 0 && /^ +[a-zA-Z_<$].*::/ && !/alloc::|core::|futures_lite|futures_io|RawVec|__rust|_RNv/ {
            sub(/^ +/, ""); sub(/::h[0-9a-f]{16}$/, ""); gsub(/\$LT\$/, "<"); gsub(/\$GT\$/, ">");
            gsub(/\$u7b\$\$u7b\$closure\$u7d\$\$u7d\$/, "{closure}"); gsub(/\$u20\$/, " "); gsub(/\.\./, "::");
            line = (want == 3 ? sprintf("%8.3f/req  ", c / n) : "              ") $0; print line; want--; if (!want) print "" }' >&2
    fi
  }
  read -r base _ < <(count none)
  for m in ka close; do
    read -r calls n < <(count $m)
    awk -v m=$m -v c="$calls" -v b="$base" -v n="$n" \
      'BEGIN { printf "%-5s %d requests, %d allocations (%d without load): %.3f per request\n", m, n, c, b, (c - b) / n }'
  done
  ;;
*) echo "unknown mode $MODE"; exit 1 ;;
esac
