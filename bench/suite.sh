#!/usr/bin/env bash
# Wall time of the default suite (every feature, every mode, embedded emulator) at concurrency 1
# and 2, each scenario's split into browser launch, navigation, deliberate waiting and the rest,
# and the harness's own CPU cost. Figures, not pass/fail. Loopback only; ends in a few minutes.
#
#   bench/suite.sh [REPETITIONS]      (default 1; results also go to bench/results/)
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${1:-1}
cargo build --release -q
bin=target/release/logout-harness
out=bench/results/suite-$(date -u +%Y%m%dT%H%M%SZ).md
mkdir -p bench/results "$(dirname "$out")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

{
  echo "# Default suite: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "Machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $(rustc --version);"
  echo "$(/usr/lib/chromium/chromium --version 2>/dev/null || chromium --version)."
  echo
  echo "| concurrency | run | wall s | harness CPU s | harness CPU / wall | verdicts | exit |"
  echo "|---|---|---|---|---|---|---|"
} | tee "$out"

for c in 1 2; do
  for r in $(seq 1 "$reps"); do
    json="$tmp/c$c-r$r.json"
    set +e
    "$bin" run --concurrency "$c" --json "$json" --artifacts "$tmp/artifacts" >"$tmp/c$c-r$r.log" 2>&1
    code=$?
    set -e
    python3 - "$json" "$c" "$r" "$code" <<'PY' | tee -a "$out"
import json, sys
d = json.load(open(sys.argv[1]))
c = d["cost"]
print(f"| {sys.argv[2]} | {sys.argv[3]} | {c['wall_s']:.1f} | {c['harness_cpu_s']:.2f} | "
      f"{100 * c['harness_cpu_s'] / c['wall_s']:.1f} % | {len(d['verdicts'])} | {sys.argv[4]} |")
PY
  done
done

# The per-scenario split of the last concurrency-1 run (no contention between scenarios).
python3 - "$tmp/c1-r$reps.json" <<'PY' | tee -a "$out"
import json, sys
d = json.load(open(sys.argv[1]))
print()
print("Per scenario (concurrency 1): seconds; `rest` = other WebDriver commands, CDP, probes and harness work.")
print()
print("| mode | scenario | total | browser launch | navigation | deliberate wait | rest |")
print("|---|---|---|---|---|---|---|")
tot = {"total_s": 0, "browser_launch_s": 0, "navigation_s": 0, "deliberate_wait_s": 0}
for t in sorted(d["timings"], key=lambda t: (t["context"]["mode"], t["context"]["feature"], t["context"]["scenario"])):
    rest = t["total_s"] - t["browser_launch_s"] - t["navigation_s"] - t["deliberate_wait_s"]
    for k in tot: tot[k] += t[k]
    print(f"| {t['context']['mode']} | {t['context']['scenario']} | {t['total_s']:.2f} | {t['browser_launch_s']:.2f} | "
          f"{t['navigation_s']:.2f} | {t['deliberate_wait_s']:.2f} | {rest:.2f} |")
rest = tot["total_s"] - tot["browser_launch_s"] - tot["navigation_s"] - tot["deliberate_wait_s"]
print(f"| all | sum | {tot['total_s']:.1f} | {tot['browser_launch_s']:.1f} | {tot['navigation_s']:.1f} | "
      f"{tot['deliberate_wait_s']:.1f} | {rest:.1f} |")
c = d["cost"]
print()
print(f"Harness overhead: the harness process used {c['harness_cpu_s']:.2f} s of CPU in {c['wall_s']:.1f} s "
      f"({100 * c['harness_cpu_s'] / c['wall_s']:.1f} % of the run; browsers, drivers and the KDC excluded; "
      f"the emulator runs in-process and is included).")
PY
echo "written to $out"
