#!/usr/bin/env bash
# Regenerates the screenshots in docs/ from the real binaries, so anyone can reproduce them:
# docs/stats-page.png is the stats page of a 2-shard pointsman in front of three test backends
# (nginx2 active, nginx1 its backup, nginx3 put into DRAIN through the admin socket) after
# 1,000 requests sent by `pointsman load`, taken by headless Chromium with the flags the
# browser test uses (tests/common/browser.rs). Needs chromium and python3 (for free ports);
# scripts/install-test-deps.sh installs chromium.
#
#   scripts/screenshots.sh              # build, then write docs/stats-page.png
#   scripts/screenshots.sh --no-build   # use target/release as it is
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done
chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || { echo "needs $chromium (scripts/install-test-deps.sh)" >&2; exit 1; }
if [ "$build" = 1 ]; then cargo build --release --quiet --bins; fi
bin=target/release

dir=$(mktemp -d /tmp/pointsman-screenshots.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A backend on a port of its choosing (it writes the port on stdout). Started in this shell,
# not in a $(…) subshell, so that its pid is in `pids` and the cleanup stops it.
start_backend() {
  "$bin/pointsman-backend" --listen 127.0.0.1:0 --name "$1" --body "$2" > "$dir/$1.out" 2>&1 &
  pids+=($!)
}

# The port backend $1 listens on.
backend_port() {
  for _ in $(seq 100); do
    [ -s "$dir/$1.out" ] && break
    sleep 0.05
  done
  grep -o '[0-9]*$' "$dir/$1.out" | head -1
}

start_backend nginx1 "nginx 1.19.8"
start_backend nginx2 "nginx 1.18.0"
start_backend nginx3 "nginx 1.18.0"
p1=$(backend_port nginx1)
p2=$(backend_port nginx2)
p3=$(backend_port nginx3)
port=$(free_port)
stats_port=$(free_port)
cat > "$dir/haproxy.cfg" <<CFG
global
    nbthread 2
    stats socket $dir/admin.sock mode 600 level admin
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
frontend app
    bind 127.0.0.1:$port
    default_backend bk_app
backend bk_app
    server nginx1 127.0.0.1:$p1 check inter 500ms backup
    server nginx2 127.0.0.1:$p2 check inter 500ms
    server nginx3 127.0.0.1:$p3 check inter 500ms
listen stats
    bind 127.0.0.1:$stats_port
    stats enable
    stats uri /stats
    stats refresh 5s
    stats admin if TRUE
CFG
"$bin/pointsman" -q -f "$dir/haproxy.cfg" &
pids+=($!)
ctl() { "$bin/pointsman" ctl -s "$dir/admin.sock" "$@"; }
for _ in $(seq 100); do
  [ -S "$dir/admin.sock" ] && ctl show info > /dev/null 2>&1 && break
  sleep 0.1
done
# Every server's checks passed (rise 2 × 500 ms), so the page shows them UP with L4OK.
for _ in $(seq 50); do
  [ "$(ctl show stat | grep -c '^bk_app,nginx[0-9],.*,UP,')" = 3 ] && break
  sleep 0.2
done

"$bin/pointsman" load "http://127.0.0.1:$port/" --rate 500 -c 4 -d 2s > "$dir/load.txt" \
  || { cat "$dir/load.txt"; echo "the load run failed" >&2; exit 1; }
ctl set server bk_app/nginx3 state drain > /dev/null

# The page must show what it is meant to: traffic counted on the BACKEND row too.
backend_row=$(curl -s "http://127.0.0.1:$stats_port/stats;csv" | grep '^bk_app,BACKEND,')
bytes_in=$(cut -d, -f9 <<< "$backend_row")
bytes_out=$(cut -d, -f10 <<< "$backend_row")
if [ "${bytes_in:-0}" = 0 ] || [ "${bytes_out:-0}" = 0 ]; then
  echo "the BACKEND row counts no bytes: $backend_row" >&2
  exit 1
fi
echo "BACKEND row: $bytes_in bytes in, $bytes_out bytes out"

"$chromium" --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --disable-dev-shm-usage \
  --hide-scrollbars --user-data-dir="$dir/profile" --window-size=1250,540 \
  --screenshot="$PWD/docs/stats-page.png" "http://127.0.0.1:$stats_port/stats;norefresh" \
  2> "$dir/chromium.log" || { cat "$dir/chromium.log" >&2; exit 1; }
echo "wrote docs/stats-page.png"
