#!/usr/bin/env bash
# The full test suite: installs what the tests need (socat, hatop, tmux, nginx, chromium,
# chromium-driver, haproxy, openssl, curl), then runs every unit and integration test in
# release mode (the load and switching tests want the real speed).
# Benchmarks are built by CI's clippy step and run with `cargo bench`, not here.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
cargo test --release "$@"
