#!/usr/bin/env bash
# The two engines of `pointsman load --rate` side by side (events: one glommio executor, a task
# per connection; threads: a blocking thread per connection), pinned as scripts/bench-vs-haproxy.sh
# pins them: the generator and nginx (one worker, two ports, 23-byte body) on CPU 0, pointsman
# on CPU 1. For each target (nginx directly, pointsman in front of nginx) and each rate, both
# engines in turn: whether the schedule was kept (the report's "behind schedule" check, no
# error), late requests, worst lateness, p50/p99/p99.9 from the intended send time, and the
# generator's own CPU per request (user + system of the `pointsman load` process), and how busy
# pointsman's CPU time kept it over the run (proxy target): near 100 % the proxy, not the
# generator, is the limit.
#
# Usage: scripts/bench-load-engines.sh [--duration SECS] [--connections N] [--nice N]
#          [--targets nginx,proxy] [--engines events,threads] [RATE...]
#   defaults: 5 s, 8 connections, nice -10, both targets, both engines,
#   rates 4000 8000 12000 16000 20000 24000 28000 32000
# Installs nothing: needs nginx, taskset, jq, GNU time (/usr/bin/time).
set -euo pipefail
cd "$(dirname "$0")/.."

duration=5
connections=8
nice=-10
targets=nginx,proxy
engines=events,threads
rates=()
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --nice) nice=$2; shift 2 ;;
    --targets) targets=$2; shift 2 ;;
    --engines) engines=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) rates+=("$1"); shift ;;
  esac
done
[ ${#rates[@]} -gt 0 ] || rates=(4000 8000 12000 16000 20000 24000 28000 32000)
for tool in taskset jq /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench-load-engines: $tool not found" >&2; exit 1; }
done
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] || { echo "bench-load-engines: nginx not found" >&2; exit 1; }

cargo build --release --bins >&2
bin=target/release/pointsman
dir=$(mktemp -d /tmp/bench-load-engines.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  sleep 0.3
  rm -rf "$dir"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }

b1=$(free_port); b2=$(free_port); front=$(free_port)
cat >"$dir/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/nginx.error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir; proxy_temp_path $dir; fastcgi_temp_path $dir; uwsgi_temp_path $dir; scgi_temp_path $dir;
  keepalive_requests 1000000; keepalive_timeout 120s;
  server { listen 127.0.0.1:$b1; listen 127.0.0.1:$b2; location / { default_type text/plain; return 200 "hello from the backend\n"; } }
}
EOF
cat >"$dir/bench.cfg" <<EOF
global
    nbthread 1
    stats socket $dir/admin.sock mode 600 level admin
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s
frontend fe_http
    bind 127.0.0.1:$front
    default_backend bk
backend bk
    balance roundrobin
    server s1 127.0.0.1:$b1
    server s2 127.0.0.1:$b2
EOF
nice -n "$nice" taskset -c 0 "$nginx" -c "$dir/nginx.conf" -p "$dir" >/dev/null 2>&1 &
pids+=($!)
wait_port "$b1"
if [[ ",$targets," == *",proxy,"* ]]; then
  nice -n "$nice" taskset -c 1 "$bin" -f "$dir/bench.cfg" --shards 1 >"$dir/pointsman.log" 2>&1 &
  pids+=($!)
  wait_port "$front"
  taskset -a -p -c 1 "${pids[-1]}" >/dev/null
  proxy_pid=${pids[-1]}
fi
# user + system ticks of a process (all threads), from /proc/PID/stat
ticks() { [ -n "${1:-}" ] && awk '{ print $14 + $15 }' "/proc/$1/stat" || echo 0; }
hz=$(getconf CLK_TCK)

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $duration s per run, $connections connections, nice $nice"
printf '%-8s %-8s %7s %8s %5s %6s %9s %9s %9s %9s %11s %10s\n' \
  target engine rate sent kept late max_lag p50_us p99_us p99.9_us gen_cpu_us proxy_busy
IFS=, read -ra target_list <<<"$targets"
IFS=, read -ra engine_list <<<"$engines"
for target in "${target_list[@]}"; do
  port=$b1
  [ "$target" = proxy ] && port=$front
  for rate in "${rates[@]}"; do
    for engine in "${engine_list[@]}"; do
      json="$dir/$target-$engine-$rate.json"
      watched=""
      [ "$target" = proxy ] && watched=$proxy_pid
      before=$(ticks "$watched")
      cpu=$(nice -n "$nice" /usr/bin/time -f '%U %S' taskset -c 0 "$bin" load "http://127.0.0.1:$port/" \
        --rate "$rate" -c "$connections" -d "${duration}s" --engine "$engine" --json "$json" \
        2>&1 >/dev/null | tail -1) || true # a failed run (exit 1) is a row too
      busy=$(( ($(ticks "$watched") - before) * 100 / hz / duration ))
      jq -r --arg t "$target" --arg e "$engine" --arg r "$rate" --arg cpu "$cpu" --arg busy "$busy%" '
        ($cpu | split(" ") | map(tonumber) | add) as $secs
        | [$t, $e, $r, .whole.requests,
           (if .schedule.invalid == null and .whole.error_count == 0 then "yes" else "NO" end),
           .schedule.late, ((.schedule.max_lag_us / 1000 | floor | tostring) + "ms"),
           (.whole.latency.p50_us | floor), (.whole.latency.p99_us | floor),
           (.whole.latency.p99_9_us | floor),
           (($secs * 1e6 / ([.whole.requests, 1] | max) * 10 | floor) / 10),
           (if $t == "proxy" then $busy else "-" end)]
        | @tsv' "$json" |
        awk -F'\t' '{ printf "%-8s %-8s %7s %8s %5s %6s %9s %9s %9s %9s %11s %10s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 }'
    done
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
