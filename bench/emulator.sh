#!/usr/bin/env bash
# Benchmark figures for the emulator and the private KDC (figures, not pass/fail).
#
#   bench/emulator.sh            # from any directory
#
# Runs, in release, `cargo run -p crm-sim --example bench` (emulator start, WhoAmI latency) and
# `cargo run -p krb5-realm --example bench_start` (KDC start), loopback only. Prints the machine
# (nproc, load average, rustc) and the tables, and writes them to bench/results/emulator-<date>.md.
# Uses CARGO_TARGET_DIR if set, else cargo's default target dir. The measurements take well under
# two minutes once built; each example is bounded by BENCH_TIMEOUT seconds (default 60), the
# build by BUILD_TIMEOUT (default 900).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bench_timeout="${BENCH_TIMEOUT:-60}"
build_timeout="${BUILD_TIMEOUT:-900}"
stamp="$(date -u +%Y-%m-%dT%H%MZ)"
out="bench/results/emulator-${stamp}.md"
mkdir -p bench/results

# Build first so the measurements' time bound covers only running them. One package per
# invocation, exactly as `cargo run` below does (building both at once unifies features
# differently and would make `cargo run` rebuild).
timeout "$build_timeout" cargo build --release --quiet -p crm-sim --example bench
timeout "$build_timeout" cargo build --release --quiet -p krb5-realm --example bench_start

tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT

{
    echo "# Emulator benchmarks, ${stamp}"
    echo
    echo "Figures, not pass/fail. Loopback only; release build."
    echo
    echo "| machine | |"
    echo "|---|---|"
    echo "| host | $(uname -srm) |"
    echo "| nproc | $(nproc) |"
    echo "| load average (1/5/15 min) at start | $(cut -d' ' -f1-3 /proc/loadavg) |"
    echo "| rustc | $(rustc --version) |"
    echo "| commit | $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (dirty tree)') |"
    echo
    timeout "$bench_timeout" cargo run --release --quiet -p crm-sim --example bench
    echo
    timeout "$bench_timeout" cargo run --release --quiet -p krb5-realm --example bench_start
    echo
    echo "Load average (1/5/15 min) at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    echo "Reproduce: \`bench/emulator.sh\`"
} | tee "$tmp"

cp "$tmp" "$out"
echo
echo "written: $out"
