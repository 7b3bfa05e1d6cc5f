#!/usr/bin/env bash
# Soak: constant load (`pointsman load`, 200 req/s) through a real pointsman with a runtime
# mutation every second and a backend restarted every minute; fails on any failed request,
# RSS growth beyond 8 MiB after the warm-up, or descriptor growth. The test suite runs the
# same test for 3 minutes; this runs it for 30 (SOAK_SECONDS to change).
set -euo pipefail
cd "$(dirname "$0")/.."
export SOAK_SECONDS="${SOAK_SECONDS:-1800}"
echo "soak: ${SOAK_SECONDS}s"
cargo test --release --test soak -- --nocapture
