#!/usr/bin/env bash
# The Debian package as an operator meets it, on this machine (CI: after the test command):
# build it, `dpkg -i`, check the packaged config, start the installed binary the way the
# systemd unit does (master-worker as root, workers as the packaged `pointsman` user; no
# systemd on CI), send traffic, reload, upgrade to a second build of the package under load
# with zero failed requests (the project's load tester, as the reload tests count), then
# remove and purge, and check nothing is left running or installed.
#
# Needs root, and 127.0.0.1:8080/8081 free (the packaged config's frontend and server).
# Reuses target/release/pointsman and pointsman-backend when they exist (built by the tests).
set -euo pipefail
cd "$(dirname "$0")/.."

CONFIG=/etc/pointsman/pointsman.cfg
PIDFILE=/run/pointsman/pointsman.pid
SOCKET=/run/pointsman/admin.sock
work=$(mktemp -d "${TMPDIR:-/tmp}/pointsman-smoke.XXXXXX")
backend_pid=""
master=""

say() { echo "package-smoke: $*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

cleanup() {
    [ -n "$backend_pid" ] && kill "$backend_pid" 2>/dev/null || true
    # A master this script started (dpkg -r stops it on the way that succeeds).
    if [ -n "$master" ] && kill -0 "$master" 2>/dev/null; then
        kill -INT "$master" 2>/dev/null || true
    fi
    if dpkg -s pointsman >/dev/null 2>&1; then
        dpkg -P pointsman >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || fail "run as root (dpkg -i)"
! dpkg -s pointsman >/dev/null 2>&1 || fail "pointsman is already installed: not touching it"
for port in 8080 8081; do
    ! (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null || fail "127.0.0.1:$port is taken"
done

# Bounded wait: `wait_until SECONDS COMMAND...`.
wait_until() {
    local deadline=$((SECONDS + $1)); shift
    until "$@"; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.1
    done
}
master_pid() { cat "$PIDFILE" 2>/dev/null; }
serving_pid() { pointsman ctl -s "$SOCKET" "show info" 2>/dev/null | sed -n 's/^Pid: //p'; }
new_worker() { local p; p=$(serving_pid); [ -n "$p" ] && [ "$p" != "$1" ]; }
# Every thread of a worker runs as the packaged user; the master stays root.
check_identities() {
    local master=$1 worker=$2 uid
    uid=$(id -u pointsman)
    for task in /proc/"$worker"/task/*; do
        grep -q "^Uid:[[:space:]]*$uid[[:space:]]$uid[[:space:]]$uid[[:space:]]$uid\$" "$task/status" \
            || fail "thread $task of worker $worker does not run as pointsman ($uid)"
    done
    grep -q "^Uid:[[:space:]]*0[[:space:]]" /proc/"$master"/status || fail "the master is not root"
}
answers() { [ "$(curl -sS --max-time 5 http://127.0.0.1:8080/ 2>&1)" = app1 ]; }
get_ok() { answers || fail "no app1 answer through pointsman: $(curl -sS --max-time 5 http://127.0.0.1:8080/ 2>&1)"; }

say "building the package twice (the second one to upgrade to)"
[ -x target/release/pointsman ] || cargo build --release --bin pointsman --bin pointsman-backend
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
first=$(scripts/build-deb.sh --binary target/release/pointsman --out "$work")
second=$(scripts/build-deb.sh --binary target/release/pointsman --version "$version+smoke2" \
    --out "$work")

say "dpkg -i $(basename "$first")"
dpkg -i "$first" >/dev/null
id pointsman >/dev/null || fail "no pointsman user"
man -w pointsman >/dev/null 2>&1 || [ -f /usr/share/man/man1/pointsman.1.gz ] || fail "no man page"
[ -f /usr/share/man/man5/pointsman.cfg.5.gz ] || fail "no config man page"
[ -f /usr/share/bash-completion/completions/pointsman ] || fail "no bash completion"
[ -f /usr/share/zsh/vendor-completions/_pointsman ] || fail "no zsh completion"
pointsman -c -f "$CONFIG" >/dev/null || fail "the packaged config does not pass -c"

say "starting it as the unit does (RuntimeDirectory, ExecStartPre, ExecStart)"
target/release/pointsman-backend --listen 127.0.0.1:8081 --name app1 --body app1 >/dev/null &
backend_pid=$!
mkdir -p -m 755 /run/pointsman
/usr/sbin/pointsman -f "$CONFIG" -c -q
# In a subshell that exits at once: the master is nobody's child here, as under systemd.
(setsid /usr/sbin/pointsman -Ws -f "$CONFIG" -p "$PIDFILE" >"$work/pointsman.log" 2>&1 </dev/null &)
wait_until 20 new_worker "" || fail "the installed pointsman did not start: $(cat "$work/pointsman.log")"
master=$(master_pid)
worker=$(serving_pid)
check_identities "$master" "$worker"
wait_until 10 answers || true
get_ok

say "reload (the unit's ExecReload: -c, then SIGUSR2 to the master)"
/usr/sbin/pointsman -f "$CONFIG" -c -q
kill -USR2 "$master"
wait_until 20 new_worker "$worker" || fail "no new worker after the reload"
worker=$(serving_pid)
check_identities "$master" "$worker"
get_ok

say "upgrade to $(basename "$second") under load"
target/release/pointsman load --rate 200 -c 8 -d 30s > "$work/load.txt" 2>&1 &
load_pid=$!
sleep 2
started=$SECONDS
dpkg -i "$second" >/dev/null
wait_until 20 new_worker "$worker" || fail "the upgrade did not reload: $(cat "$work/pointsman.log")"
upgraded=$(serving_pid)
kill -0 "$load_pid" 2>/dev/null || fail "the upgrade's reload came after the load ended: not measured"
say "upgraded in $((SECONDS - started)) s (dpkg -i and the reload): worker $worker -> $upgraded"
load_ok=1
wait "$load_pid" || load_ok=0
cat "$work/load.txt" >&2
[ "$load_ok" = 1 ] || fail "requests failed during the upgrade"
[ "$(readlink /proc/"$upgraded"/exe)" = /usr/sbin/pointsman ] \
    || fail "the new worker does not run the upgraded binary: $(readlink /proc/"$upgraded"/exe)"
[ "$(master_pid)" = "$master" ] || fail "the upgrade restarted the master"
check_identities "$master" "$upgraded"
get_ok

say "dpkg -r, then dpkg -P"
dpkg -r pointsman >/dev/null
! kill -0 "$master" 2>/dev/null || fail "master $master still runs after dpkg -r"
for pid in $(pgrep -x pointsman || true); do
    case "$(readlink /proc/"$pid"/exe 2>/dev/null || true)" in
        /usr/sbin/pointsman*) fail "pointsman $pid from the package still runs" ;;
    esac
done
[ ! -e /usr/sbin/pointsman ] || fail "/usr/sbin/pointsman left after dpkg -r"
dpkg -P pointsman >/dev/null
[ ! -e "$CONFIG" ] || fail "$CONFIG left after purge"
[ ! -e /run/pointsman ] || fail "/run/pointsman left after purge"
! (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null || fail "127.0.0.1:8080 still answers"
say "OK: installed, checked, served as pointsman, reloaded, upgraded under load with no failed request, removed"
