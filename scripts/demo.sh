#!/usr/bin/env bash
# The hatop guide's demo, one shell command at a time: two backends, pointsman on the guide's
# config, a GET every 2 seconds with curl, and nginx2 put into maintenance and back with socat.
# `pointsman demo` does the same in one command with a real load tester; this script is for
# reading. Needs curl and socat (apt-get install curl socat). EVERY=0.5 scripts/demo.sh is faster.
set -euo pipefail
cd "$(dirname "$0")/.."
every=${EVERY:-2}
for tool in curl socat; do
  command -v "$tool" >/dev/null || { echo "demo.sh needs $tool (apt-get install $tool)" >&2; exit 1; }
done
cargo build --release --quiet
bin=target/release
dir=$(mktemp -d /tmp/pointsman-demo-sh.XXXXXX)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

echo "+ two backends: nginx1 (backup) says 'nginx 1.19.8', nginx2 says 'nginx 1.18.0'"
$bin/pointsman-backend --listen 127.0.0.1:18081 --name nginx1 --body "nginx 1.19.8" > /dev/null & pids+=($!)
$bin/pointsman-backend --listen 127.0.0.1:18082 --name nginx2 --body "nginx 1.18.0" > /dev/null & pids+=($!)

cat > "$dir/haproxy.cfg" <<CFG
global
    stats socket $dir/admin.sock mode 600 level admin
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
frontend app
    bind 127.0.0.1:18080
    default_backend bk_app
backend bk_app
    server nginx1 127.0.0.1:18081 check backup    # this server is backup and does not serve clients
    server nginx2 127.0.0.1:18082 check
CFG
echo "+ pointsman -c -f $dir/haproxy.cfg"
$bin/pointsman -c -f "$dir/haproxy.cfg"
echo "+ pointsman -f $dir/haproxy.cfg &"
$bin/pointsman -f "$dir/haproxy.cfg" & pids+=($!)
for _ in $(seq 50); do [ -S "$dir/admin.sock" ] && break; sleep 0.1; done

probe() { for _ in $(seq "$1"); do echo "$(date +%T.%3N) $(curl -s -w ' HTTP=%{http_code}' http://127.0.0.1:18080/)"; sleep "$every"; done; }
echo "+ a GET every ${every}s"
probe 4
echo "+ echo 'disable server bk_app/nginx2' | socat stdio $dir/admin.sock"
echo "disable server bk_app/nginx2" | socat stdio "$dir/admin.sock"
probe 4
echo "+ echo 'enable server bk_app/nginx2' | socat stdio $dir/admin.sock"
echo "enable server bk_app/nginx2" | socat stdio "$dir/admin.sock"
probe 4
echo "+ echo 'show servers state bk_app' | socat stdio $dir/admin.sock"
echo "show servers state bk_app" | socat stdio "$dir/admin.sock"
