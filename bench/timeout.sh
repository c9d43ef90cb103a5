#!/usr/bin/env bash
# `logout-harness timeout`: the staggered measurement beside the classic sequential one (a new
# session per round, left idle one step longer each round, as a Burp extension does it) on the
# same target: the embedded emulator with an idle timeout of T, at a resolution of 1 s, --max 2T.
# Printed per method: the interval found, its width, the wall time of the whole command, the
# sessions signed in and the looks taken. Figures, not pass/fail. Loopback only. The sequential
# method needs about T^2 / (2 x 0.9 s): about 1 minute at the default T = 10 s, 4 minutes at 20 s.
#
#   bench/timeout.sh [T_SECONDS] [MODE]     (default 10 and ifd; results also go to bench/results/)
#
# LH_BIN=/path/to/logout-harness uses that binary instead of `cargo build --release` here.
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-10}
mode=${2:-ifd}
if [[ -n ${LH_BIN:-} ]]; then
  bin=$LH_BIN
else
  cargo build --release -q
  bin=target/release/logout-harness
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p bench/results
out=bench/results/timeout-$(date -u +%Y%m%dT%H%M%SZ).md
{
  echo "# logout-harness timeout: staggered vs sequential"
  echo
  echo "Date: $(date -u +%Y-%m-%dT%H:%MZ). Machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $(rustc --version)."
  echo "Target: the embedded emulator, mode $mode, idle timeout ${t}s (--sim-idle-timeout), --resolution 1s, --max $((2 * t))s."
  echo
  echo "| method | interval (s) | width (s) | wall (s) | of which sign-ins (s) | sessions | looks | exit |"
  echo "|---|---|---|---|---|---|---|---|"
} | tee "$out"
for method in staggered sequential; do
  start=$(date +%s.%N)
  set +e
  "$bin" timeout --mode "$mode" --sim-idle-timeout "${t}s" --resolution 1s --max "$((2 * t))s" \
    --method "$method" --json "$tmp/$method.json" >"$tmp/$method.out" 2>&1
  code=$?
  set -e
  end=$(date +%s.%N)
  python3 - "$tmp/$method.json" "$method" "$start" "$end" "$code" <<'PY' | tee -a "$out"
import json, sys
d = json.load(open(sys.argv[1]))
lo, up = d["lower_s"], d["upper_s"]
wall = float(sys.argv[4]) - float(sys.argv[3])
interval = f"{lo:.2f} to {up:.2f}" if up is not None else f"more than {lo:.2f}"
width = f"{up - lo:.2f}" if up is not None else "-"
print(f"| {sys.argv[2]} | {interval} | {width} | {wall:.1f} | {d['sign_in_s']:.1f} | {d['sessions']} | {d['probes']} | {sys.argv[5]} |")
PY
done
echo | tee -a "$out"
echo "written to $out"
