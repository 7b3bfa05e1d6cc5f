#!/usr/bin/env bash
# Start-up stress: starts the real binary N times with `--shards 4` (a config with an admin
# `stats socket`, a stats page and /metrics, so every channel mesh is built) while CPU hogs
# compete for the cores, and counts the starts whose admin socket does not answer within
# the deadline (a hung start: the shards never finish wiring themselves together).
#
#   scripts/start-stress.sh [STARTS] [HOGS]
#
# Env: POINTSMAN (binary; default target/release/pointsman, built if missing), SHARDS (4),
# DEADLINE (seconds, 5), GDB=1 (save a backtrace of every thread of the first hung start to
# $OUT/hang-backtrace.txt), OUT (directory for the results; a temporary one by default),
# ARGS (more arguments for pointsman, e.g. `-d` for its start-up debug lines in the hang log).
# Prints one line per hang and a summary: starts, hangs, mean start time.
set -euo pipefail
cd "$(dirname "$0")/.."
STARTS="${1:-200}"
HOGS="${2:-2}"
SHARDS="${SHARDS:-4}"
DEADLINE="${DEADLINE:-5}"
POINTSMAN="${POINTSMAN:-target/release/pointsman}"
if [ ! -x "$POINTSMAN" ]; then
    cargo build --release --bin pointsman
fi
OUT="${OUT:-$(mktemp -d /tmp/start-stress.XXXXXX)}"
mkdir -p "$OUT"

hogs=()
pointsman_pid=""
cleanup() {
    if [ -n "$pointsman_pid" ]; then kill -KILL "$pointsman_pid" 2>/dev/null || true; fi
    for h in "${hogs[@]}"; do kill "$h" 2>/dev/null || true; done
}
trap cleanup EXIT
for _ in $(seq 1 "$HOGS"); do
    yes >/dev/null &
    hogs+=("$!")
done

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

socket="$OUT/admin.sock"
config="$OUT/pointsman.cfg"
hangs=0
total_ms=0
ok=0
for i in $(seq 1 "$STARTS"); do
    port=$(free_port)
    stats_port=$(free_port)
    cat >"$config" <<EOF
global
    stats socket $socket mode 600 level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:$port
    default_backend bk
frontend stats
    bind 127.0.0.1:$stats_port
    stats enable
    stats uri /stats
    http-request use-service prometheus-exporter if { path /metrics }
backend bk
    server s1 127.0.0.1:9 check inter 60s
EOF
    rm -f "$socket"
    start=$(date +%s%N)
    # shellcheck disable=SC2086
    "$POINTSMAN" -f "$config" --shards "$SHARDS" ${ARGS:-} 2>"$OUT/last.log" &
    pointsman_pid=$!
    up=0
    while [ $(( ($(date +%s%N) - start) / 1000000 )) -lt $((DEADLINE * 1000)) ]; do
        if [ -S "$socket" ] && echo "show info" | socat -t 1 - "UNIX-CONNECT:$socket" 2>/dev/null | grep -q '^Pid:'; then
            up=1
            break
        fi
        if ! kill -0 "$pointsman_pid" 2>/dev/null; then break; fi
        sleep 0.01
    done
    elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
    if [ "$up" = 1 ]; then
        ok=$((ok + 1))
        total_ms=$((total_ms + elapsed))
    else
        hangs=$((hangs + 1))
        state="running"
        kill -0 "$pointsman_pid" 2>/dev/null || state="exited"
        echo "start $i: no admin socket after ${elapsed} ms ($state); log: $(tr '\n' ' ' <"$OUT/last.log" | cut -c1-600)"
        if [ "${GDB:-0}" = 1 ] && [ "$state" = running ] && [ ! -e "$OUT/hang-backtrace.txt" ]; then
            gdb -p "$pointsman_pid" -batch -ex "thread apply all bt" >"$OUT/hang-backtrace.txt" 2>&1 || true
            echo "  backtrace: $OUT/hang-backtrace.txt"
        fi
    fi
    kill -INT "$pointsman_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$pointsman_pid" 2>/dev/null || break
        sleep 0.02
    done
    kill -KILL "$pointsman_pid" 2>/dev/null || true
    wait "$pointsman_pid" 2>/dev/null || true
    pointsman_pid=""
done
mean=0
if [ "$ok" -gt 0 ]; then mean=$((total_ms / ok)); fi
echo "starts: $STARTS, hangs: $hangs (no admin socket within ${DEADLINE} s), shards: $SHARDS, hogs: $HOGS, mean start of the others: ${mean} ms, binary: $POINTSMAN"
