#!/usr/bin/env bash
# `cargo test --workspace` after the build, per test binary: wall time, the CPU the machine spent
# meanwhile, and how many cores that kept busy; then the floor those figures set (cargo runs test
# binaries one after another). Figures, not pass/fail. Needs what `ci/setup` installs; about 10
# minutes on 2 cores. Measure on a machine otherwise idle: every process on it counts.
#
#   bench/cargo-test.sh               (results also go to bench/results/)
set -euo pipefail
cd "$(dirname "$0")/.."
# The build first, so that the figures are the tests' own.
cargo test --workspace --no-run -q
out=bench/results/cargo-test-$(date -u +%Y%m%dT%H%M%SZ).md
mkdir -p bench/results
tmp=$(mktemp)
log=$(mktemp)
trap 'rm -f "$tmp" "$log"' EXIT
load=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
set +e
python3 bench/cargo_test_cost.py cargo test --workspace --no-fail-fast >"$tmp" 2>"$log"
code=$?
set -e
{
  echo "# cargo test --workspace after the build: started $started"
  echo
  echo "Commit $(git rev-parse --short HEAD); machine: $(nproc) cores, load average before the" \
    "run $load; $(rustc --version);"
  echo "$(/usr/lib/chromium/chromium --version 2>/dev/null || chromium --version);" \
    "$(firefox-esr --version 2>/dev/null || echo 'no Firefox')."
  echo
  cat "$tmp"
  echo
  echo "cargo test exited $code; $(grep -c '^test result: ok' "$log") test binaries reported ok."
} | tee "$out"
exit "$code"
