#!/usr/bin/env bash
# Soak: runs the default suite (every feature, every mode, embedded emulator) N times and reports
# every verdict that ever changed between runs (aim: none), every run that could not judge
# something, and each run's exit code and wall time. Figures, not pass/fail; loopback only; each
# run ends by itself (about two minutes each at concurrency 2 on 2 cores).
#
#   bench/soak.sh [RUNS] [EXTRA RUN ARGS...]   (default 50; results also go to bench/results/)
#   e.g. bench/soak.sh 3 --mode fba            (a short soak of one mode)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-50}
shift || true
cargo build --release -q
bin=target/release/logout-harness
out=bench/results/soak-$(date -u +%Y%m%dT%H%M%SZ).md
mkdir -p bench/results
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for r in $(seq 1 "$runs"); do
  set +e
  start=$(date +%s.%N)
  "$bin" run --json "$tmp/run-$r.json" --artifacts "$tmp/artifacts-$r" "$@" >"$tmp/run-$r.log" 2>&1
  code=$?
  end=$(date +%s.%N)
  set -e
  echo "$code $start $end" >"$tmp/run-$r.meta"
  printf 'run %d/%d: exit %d\n' "$r" "$runs" "$code" >&2
done

python3 - "$tmp" "$runs" "$*" <<'PY' | tee "$out"
import json, sys, os, collections
tmp, runs, extra = sys.argv[1], int(sys.argv[2]), sys.argv[3]
# (mode, scenario, rule) -> {observed outcome: [run numbers]}
seen = collections.defaultdict(lambda: collections.defaultdict(list))
not_judged = []
rows = []
for r in range(1, runs + 1):
    code, start, end = open(os.path.join(tmp, f"run-{r}.meta")).read().split()
    path = os.path.join(tmp, f"run-{r}.json")
    if not os.path.exists(path):
        rows.append((r, int(code), float(end) - float(start), 0, "no report"))
        continue
    d = json.load(open(path))
    for v in d["verdicts"]:
        c = v["context"]
        seen[(c["mode"], c["scenario"], v["rule"])][v["observed"]].append(r)
    for e in d["errors"]:
        not_judged.append((r, e["context"]["mode"], e["context"]["scenario"], e["step"], e["message"].splitlines()[0]))
    rows.append((r, int(code), float(end) - float(start), len(d["verdicts"]), ""))

print(f"# Soak: {runs} runs of the default suite{(' (' + extra + ')') if extra else ''}")
print()
print(f"Machine: {os.cpu_count()} cores; load average at the end {open('/proc/loadavg').read().split()[:3]}.")
print()
changed = {k: v for k, v in seen.items() if len(v) > 1}
print(f"**Verdicts that changed between runs: {len(changed)}** (of {len(seen)} distinct checks).")
for (mode, scenario, rule), outcomes in sorted(changed.items()):
    text = "; ".join(f"{o} in runs {', '.join(map(str, rs))}" for o, rs in outcomes.items())
    print(f"- {mode} / {scenario} / `{rule}`: {text}")
print()
print(f"**Scenarios not judged: {len(not_judged)}.**")
for r, mode, scenario, step, msg in not_judged:
    print(f"- run {r}: {mode} / {scenario} at \"{step}\": {msg}")
print()
print("| run | exit | wall s | verdicts | note |")
print("|---|---|---|---|---|")
for r, code, wall, n, note in rows:
    print(f"| {r} | {code} | {wall:.1f} | {n} | {note} |")
PY
echo "written to $out" >&2
