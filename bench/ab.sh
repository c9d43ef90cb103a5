#!/usr/bin/env bash
# Two builds of the harness on the same command, alternating (A, B, A, B, ...), each run's wall
# time and the CPU the whole machine spent meanwhile (from /proc/stat, so short-lived Chromium
# processes count too; a per-process meter misses a renderer that lives less than one reading).
# Figures, not pass/fail: the machine's speed changes from hour to hour, so only compare the two
# columns of one run of this script. Loopback only.
#
#   bench/ab.sh A_BINARY B_BINARY [PAIRS] [-- HARNESS ARGS]   (default: 3 pairs of `run`)
#
# A_LABEL and B_LABEL name the two builds in the results (default: the binaries' file names).
#
# For example, to weigh a change: `cp target/release/logout-harness /tmp/before`, make the
# change, `cargo build --release`, then `bench/ab.sh /tmp/before target/release/logout-harness`.
set -euo pipefail
a=${1:?usage: bench/ab.sh A_BINARY B_BINARY [PAIRS] [-- HARNESS ARGS]}
b=${2:?usage: bench/ab.sh A_BINARY B_BINARY [PAIRS] [-- HARNESS ARGS]}
shift 2
pairs=3
if [[ $# -gt 0 && $1 != -- ]]; then pairs=$1; shift; fi
[[ ${1:-} == -- ]] && shift
args=("$@")
[[ ${#args[@]} -eq 0 ]] && args=(run)
a=$(realpath "$a"); b=$(realpath "$b")
cd "$(dirname "$0")/.."
out=bench/results/ab-$(date -u +%Y%m%dT%H%M%SZ).md
mkdir -p bench/results
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

{
  echo "# A/B: \`logout-harness ${args[*]}\`, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "Machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg);"
  echo "$(/usr/lib/chromium/chromium --version 2>/dev/null || chromium --version). A: ${A_LABEL:-$(basename "$a")}; B: ${B_LABEL:-$(basename "$b")}."
  echo
  echo "| pair | A wall s | A machine CPU s | B wall s | B machine CPU s | exit A, B |"
  echo "|---|---|---|---|---|---|"
} | tee "$out"

# One run in a fresh directory: "wall cpu exit".
measure() {
  local dir
  dir=$(mktemp -d -p "$tmp")
  (cd "$dir" && python3 "$OLDPWD/bench/machine_cpu.py" "$@")
}

for p in $(seq 1 "$pairs"); do
  ra=$(measure "$a" "${args[@]}")
  rb=$(measure "$b" "${args[@]}")
  read -r wa ca ea <<<"$ra"
  read -r wb cb eb <<<"$rb"
  echo "| $p | $wa | $ca | $wb | $cb | $ea, $eb |" | tee -a "$out"
done
echo
echo "written to $out"
