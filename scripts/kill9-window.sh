#!/usr/bin/env bash
# How long a proxy's listening socket outlives `kill -9`, measured from outside.
#
# Each round starts the proxy on a loopback port (one frontend, default shards/threads, an
# idle client connection open on it with half a request sent), then, from 5 ms before the
# SIGKILL until the port is free again, once every millisecond:
#   - connects to the port (a connect that succeeds after the kill reached a listener that
#     nobody will ever accept from; what happened to it at the end is its "fate"),
#   - tries a plain bind of the port (no SO_REUSEPORT, as pointsman's start-up probe does:
#     the moment a new process could take the port),
#   - reaps the process (the moment it is gone for `waitpid`),
#   - looks whether the idle client connection has been closed (reset or EOF).
# Rounds alternate between the proxies asked for. It prints one line per round and
# min / median / max over the rounds, all in ms after the kill (the clock starts just before
# the signal is sent). "last ok connect" ends the window in which connects still succeed;
# "port taken after reaped" is how long the listener outlives the process.
#
# Usage: scripts/kill9-window.sh [--rounds N] [--proxy LIST] [--pointsman PATH]
#                                [--haproxy PATH] [--port P]
#   LIST: comma-separated, of pointsman, pointsman-stock-poll (the same binary with
#   GLOMMIO_STOCK_LISTENER_POLL=1: the accept loop's poll armed on the listening socket
#   itself, as before vendored glommio's patch 12), haproxy; `both` = pointsman,haproxy
#   (default); `all` = the three.
# Needs python3; haproxy for `haproxy` (`apt-get install haproxy`, 2.6 on Debian 12).
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=10
proxy=both
pointsman=target/release/pointsman
haproxy=$(command -v haproxy || true)
port=$((20000 + RANDOM % 20000))
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --proxy) proxy=$2; shift 2 ;;
    --pointsman) pointsman=$2; shift 2 ;;
    --haproxy) haproxy=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "kill9-window: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$proxy" in
  both) proxy=pointsman,haproxy ;;
  all) proxy=pointsman,pointsman-stock-poll,haproxy ;;
esac
for p in ${proxy//,/ }; do
  case "$p" in
    pointsman|pointsman-stock-poll)
      if [ ! -x "$pointsman" ]; then
        echo "kill9-window: $pointsman not built (cargo build --release)" >&2; exit 1
      fi ;;
    haproxy)
      if [ -z "$haproxy" ]; then
        echo "kill9-window: haproxy not found (apt-get install haproxy)" >&2; exit 1
      fi ;;
    *) echo "kill9-window: unknown proxy $p (pointsman, pointsman-stock-poll, haproxy)" >&2
       exit 2 ;;
  esac
done

dir=$(mktemp -d /tmp/kill9-window.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cat >"$dir/proxy.cfg" <<EOF
global
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
frontend fe
    bind 127.0.0.1:$port
    default_backend be
backend be
    server s1 127.0.0.1:9
EOF

python3 - "$proxy" "$rounds" "$port" "$dir/proxy.cfg" "$pointsman" "$haproxy" <<'PY'
import errno, os, signal, socket, statistics, subprocess, sys, time

which, rounds, port, cfg, pointsman, haproxy = sys.argv[1:]
rounds, port = int(rounds), int(port)
TICK = 0.001          # one attempt of each kind per millisecond
BEFORE = 5            # ticks before the kill
LIMIT = 3.0           # seconds after the kill before a round gives up
QUIET = 30            # refused connects in a row (with the port free) that end a round

def command(name):
    """argv and extra environment of one proxy."""
    if name == "pointsman":
        return [pointsman, "-f", cfg], {}
    if name == "pointsman-stock-poll":
        return [pointsman, "-f", cfg], {"GLOMMIO_STOCK_LISTENER_POLL": "1"}
    return [haproxy, "-f", cfg, "-db"], {}

def now_ms(t0):
    return (time.monotonic() - t0) * 1000.0

def connect_once():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(0.05)
    try:
        s.connect(("127.0.0.1", port))
        return s
    except OSError as e:
        s.close()
        return e.errno if e.errno is not None else "timeout"

def port_free():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError as e:
        if e.errno != errno.EADDRINUSE:
            raise
        return False
    finally:
        s.close()

def closed(s):
    """'reset', 'eof' or None (still open) for a client socket, without waiting."""
    s.setblocking(False)  # with a timeout set, Python would wait for readability first
    try:
        data = s.recv(4096, socket.MSG_DONTWAIT)
        return "eof" if data == b"" else None
    except BlockingIOError:
        return None
    except ConnectionResetError:
        return "reset"

def wait_ready(proc):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"kill9-window: the proxy exited at start-up ({proc.returncode})")
        s = connect_once()
        if isinstance(s, socket.socket):
            s.close()
            return
        time.sleep(0.01)
    proc.kill(); proc.wait()
    sys.exit("kill9-window: the proxy did not listen within 10 s")

def one_round(name):
    argv, extra = command(name)
    while not port_free():
        time.sleep(0.01)
    env = dict(os.environ)
    env.pop("GLOMMIO_STOCK_LISTENER_POLL", None)
    env.update(extra)
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    try:
        wait_ready(proc)
        time.sleep(0.3)  # every shard/thread has armed its listener
        idle = connect_once()
        idle.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # half a request: the proxy waits
        time.sleep(0.05)
        ok = []            # (ms after kill, socket) of connects that succeeded after the kill
        last_ok = None
        refused_at = None
        free_at = exit_at = idle_at = None
        idle_fate = None
        quiet = 0
        t_kill = None
        start = time.monotonic()
        tick = 0
        while True:
            target = start + tick * TICK
            delay = target - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if tick == BEFORE:
                # The clock starts before the signal: the dying threads may run (and
                # finish) before kill() returns to us.
                t_kill = time.monotonic()
                os.kill(proc.pid, signal.SIGKILL)
            tick += 1
            if t_kill is None:
                continue
            if exit_at is None and proc.poll() is not None:
                exit_at = now_ms(t_kill)
            if idle_at is None:
                idle_fate = closed(idle)
                if idle_fate:
                    idle_at = now_ms(t_kill)
            if free_at is None and port_free():
                free_at = now_ms(t_kill)
            t = now_ms(t_kill)
            s = connect_once()
            if isinstance(s, socket.socket):
                ok.append((t, s))
                last_ok = t
                quiet = 0
            else:
                if s == errno.ECONNREFUSED and refused_at is None:
                    refused_at = t
                quiet += 1
            done = free_at is not None and exit_at is not None and quiet >= QUIET
            if done or t > LIMIT * 1000:
                break
        time.sleep(0.05)
        fates = {}
        for _, s in ok:
            fate = closed(s) or "open"
            fates[fate] = fates.get(fate, 0) + 1
            s.close()
        if idle_at is None:
            idle_fate = closed(idle) or "open"
        idle.close()
        return dict(last_ok=last_ok, n_ok=len(ok), fates=fates, refused=refused_at,
                    free=free_at, exit=exit_at, idle=idle_at, idle_fate=idle_fate)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()

def fmt(v):
    return "-" if v is None else f"{v:.1f}"

def summary(label, values):
    vals = [v for v in values if v is not None]
    if not vals:
        return f"  {label:<28} none"
    return (f"  {label:<28} min {min(vals):6.1f}  median {statistics.median(vals):6.1f}"
            f"  max {max(vals):6.1f}  ({len(vals)}/{len(values)} rounds)")

names = which.split(",")
results = {name: [] for name in names}
print(f"{rounds} rounds, port {port}, ms after SIGKILL; rounds alternate {', '.join(names)}",
      flush=True)
print(f"  {'proxy':<20} round  last-ok-connect  ok-connects(fates)  first-refused  port-free"
      "  reaped  idle-conn-closed", flush=True)
for r in range(rounds):
    for name in names:
        res = one_round(name)
        results[name].append(res)
        fates = ",".join(f"{k} {v}" for k, v in sorted(res["fates"].items())) or "-"
        print(f"  {name:<20} {r + 1:5}  {fmt(res['last_ok']):>15}  {res['n_ok']:3} ({fates})"
              f"  {fmt(res['refused']):>13}  {fmt(res['free']):>9}  {fmt(res['exit']):>6}"
              f"  {fmt(res['idle'])} ({res['idle_fate']})", flush=True)
for name in names:
    rs = results[name]
    print(f"{name}:")
    print(summary("last ok connect", [r["last_ok"] or 0.0 for r in rs]))
    print(summary("connects ok after kill", [float(r["n_ok"]) for r in rs]))
    print(summary("port free (bind works)", [r["free"] for r in rs]))
    print(summary("process reaped", [r["exit"] for r in rs]))
    print(summary("idle connection closed", [r["idle"] for r in rs]))
    print(summary("port taken after reaped", [
        max(0.0, r["free"] - r["exit"]) if r["free"] is not None and r["exit"] is not None
        else None for r in rs]))
PY
