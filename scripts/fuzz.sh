#!/usr/bin/env bash
# Bounded fuzzing of pointsman's parsers with cargo fuzz (libFuzzer):
#   config_parser   haproxy.cfg text -> Config or a file:line error
#   admin_command   runtime API bytes -> session framing -> plan -> state::apply
#   http_request    request head + body framing; the forwarded head re-parses identically
#   http_response   response head + body framing; same property
#   rules           acl / use_backend lines -> a config or a file:line error; an accepted one
#                   routes odd requests to one of its backends
#   proxy_header    PROXY protocol v1/v2 header bytes -> header length and addresses; prefixes
#                   are incomplete, re-encoded addresses parse back
#
# Usage: scripts/fuzz.sh [TARGET...]       (default: all six)
#   FUZZ_SECONDS=45   seconds per target, exploring (random seed each run)
#   FUZZ_RUNS=N       instead: exactly N inputs per target from the fixed seed FUZZ_SEED (default 1).
#                     Same binary, same corpus, same inputs: this is the form CI runs, so a
#                     landing is never blocked by a crash found at random on that one run.
#
# The toolchain here is stable: cargo fuzz needs nightly flags, so RUSTC_BOOTSTRAP=1 lets
# stable rustc accept them, and `--sanitizer none` skips AddressSanitizer (which would need a
# nightly std built with it; Rust code is memory-safe, we fuzz for panics and broken
# invariants). Seeds are read from fuzz/corpus/TARGET and never modified: new inputs go to a
# temporary directory. A crash leaves its input in fuzz/artifacts/TARGET/: turn it into a
# regression test (tests/http/, tests/config_parser/, src/admin tests) before fixing.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-45}"
runs="${FUZZ_RUNS:-}"
if [ -n "$runs" ]; then
  bound=(-runs="$runs" -seed="${FUZZ_SEED:-1}")
  budget="$runs runs (seed ${FUZZ_SEED:-1})"
else
  bound=(-max_total_time="$seconds")
  budget="${seconds}s"
fi
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(config_parser admin_command http_request http_response rules proxy_header)

# libfuzzer-sys compiles libFuzzer (C++).
if ! command -v c++ >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends g++ >/dev/null
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz (once)" >&2
  cargo install cargo-fuzz --locked --quiet
fi
export RUSTC_BOOTSTRAP=1
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for target in "${targets[@]}"; do
  mkdir -p "$work/$target" "fuzz/artifacts/$target"
  echo "fuzzing $target for $budget"
  cargo fuzz run --sanitizer none --release "$target" "$work/$target" "fuzz/corpus/$target" -- \
    "${bound[@]}" -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix="fuzz/artifacts/$target/" -print_final_stats=1 2>"$work/$target.log" || {
      tail -40 "$work/$target.log" >&2
      echo "fuzz: $target FAILED; the input is in fuzz/artifacts/$target/" >&2
      exit 1
    }
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb|Done [0-9]+ runs" "$work/$target.log" | sed "s/^/  $target: /" || true
done
echo "fuzz: ${#targets[@]} target(s) ran $budget each without a crash"
