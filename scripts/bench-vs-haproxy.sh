#!/usr/bin/env bash
# pointsman against HAProxy, side by side on this machine (issue 10): proxy CPU per request
# (keep-alive and `Connection: close` clients), the cost of routing rules (issue 24),
# requests/s, p50/p99/p99.9 at 50% and 80% of HAProxy's capacity, peak RSS, memory per idle
# client connection, TCP-mode 1 MiB transfers, the `set weight` round trip, and p99 + errors while a server is flipped every 100 ms.
# Both proxies read the same haproxy.cfg; each runs pinned to its own core, alternating
# HAProxy, pointsman, HAProxy, pointsman... The work is done by benches/vs_haproxy/; method
# and reading: docs/performance.md.
#
# Usage: scripts/bench-vs-haproxy.sh [--quick | --full] [--write-docs] [HARNESS OPTIONS...]
#   --quick        2 rounds x 4 s per measurement (a few minutes; the default)
#   --full         4 rounds x 8 s per measurement (about 15 minutes)
#   --write-docs   also put the table into docs/performance.md (between its markers)
#   harness options (passed through): --rounds N --duration SECS --shards N
#     --proxy-cpus LIST --load-cpus LIST --backend nginx|pointsman-backend
#     --pointsman PATH (measure another build) --haproxy PATH --wrk PATH --nginx PATH
#     --idle-conns N --connections N (wrk) --load-connections N (pointsman load) --capacity REQ_PER_S --mutations N
#     --nice N (default -10: the measured processes ahead of builds on a shared machine)
#     --only keepalive,close,relay,rules,rate,flips,mutation,idle,tcp --out FILE.md
# Installs nothing: it says what is missing and how to get it.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=(--quick)
write_docs=0
pass=()
for arg in "$@"; do
  case "$arg" in
    --quick | --full) mode=("$arg") ;;
    --write-docs) write_docs=1 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) pass+=("$arg") ;;
  esac
done

missing=()
need() { # $1 = command, $2 = how to get it
  if ! command -v "$1" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$1" ]; then
    missing+=("$1: $2")
  fi
}
need haproxy "sudo apt-get install haproxy   (Debian 12 ships 2.6)"
need wrk "sudo apt-get install wrk"
need taskset "sudo apt-get install util-linux"
need cargo "https://rustup.rs"
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench-vs-haproxy: missing tools (nothing is installed for you):" >&2
  printf '  %s\n' "${missing[@]}" >&2
  exit 1
fi
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  echo "bench-vs-haproxy: nginx not found, using pointsman-backend as the backend" \
    "(sudo apt-get install nginx for a cheaper backend)" >&2
  pass+=(--backend pointsman-backend)
fi
cpus=$(nproc)
if [ "$cpus" -lt 2 ]; then
  echo "bench-vs-haproxy: needs at least 2 CPUs (the proxy gets its own), this machine has $cpus" >&2
  exit 1
fi
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $cpus CPUs"

out=target/bench-vs-haproxy.md
cargo build --release --bins
cargo bench --bench vs_haproxy -- "${mode[@]}" --out "$out" ${pass[@]+"${pass[@]}"}

if [ "$write_docs" = 1 ]; then
  doc=docs/performance.md
  begin='<!-- bench-vs-haproxy:begin -->'
  end='<!-- bench-vs-haproxy:end -->'
  if ! grep -qF "$begin" "$doc" || ! grep -qF "$end" "$doc"; then
    echo "bench-vs-haproxy: $doc has no $begin / $end markers; table left in $out" >&2
    exit 1
  fi
  awk -v begin="$begin" -v end="$end" -v table="$out" '
    $0 == begin { print; while ((getline line < table) > 0) print line; skip = 1; next }
    $0 == end { skip = 0 }
    !skip { print }' "$doc" >"$doc.tmp"
  mv "$doc.tmp" "$doc"
  echo "table written into $doc"
fi
