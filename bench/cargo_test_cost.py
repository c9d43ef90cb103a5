"""Runs a `cargo test` command line and prints, per test binary, its wall time and the CPU the
whole machine spent meanwhile (busy ticks of /proc/stat, so that every browser process counts,
however short its life), as a Markdown table; then the sums and the floor they set: cargo runs
test binaries one after another, so the command can take no less than the sum of each binary's
CPU time divided by the cores, and only as little as that if every binary kept every core busy.

    python3 bench/cargo_test_cost.py cargo test --workspace --no-fail-fast

Anything else running on the machine counts too: measure on a machine otherwise idle. The
command's own output goes to stderr, as it comes."""
import os
import subprocess
import sys
import time


def busy_ticks():
    with open("/proc/stat") as f:
        v = list(map(int, f.readline().split()[1:]))
    return sum(v) - v[3] - v[4]  # all but idle and iowait


hz = os.sysconf("SC_CLK_TCK")
cores = os.cpu_count() or 1
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
rows, current, crate = [], None, "?"
start = mark = time.monotonic()
busy_at_mark = busy_ticks()


def close_row(now, busy):
    # libtest's "finished in" line is not used: a binary's time here includes its start and exit.
    if current:
        rows.append((current, now - mark, (busy - busy_at_mark) / hz))


for line in proc.stdout:
    sys.stderr.write(line)
    text = line.strip()
    # "Running tests/e2e/cli.rs (target/debug/deps/cli-0123...)" and "Doc-tests logout_harness". A
    # package's binaries come together, its unit tests first ("Running unittests src/lib.rs
    # (target/debug/deps/crm_sim-0123...)"): that line names the package of those after it.
    if text.startswith("Running ") or text.startswith("Doc-tests "):
        now, busy = time.monotonic(), busy_ticks()
        close_row(now, busy)
        if text.startswith("Running unittests src/lib.rs"):
            crate = text.rsplit("/", 1)[-1].rsplit("-", 1)[0]
        if text.startswith("Doc-tests "):
            current = text
        else:
            current = f"{crate}: {text.split(' (')[0].removeprefix('Running ')}"
        mark, busy_at_mark = now, busy
close_row(time.monotonic(), busy_ticks())
code = proc.wait()
total_wall = time.monotonic() - start

print(f"| test binary | wall s | machine CPU s | cores busy (of {cores}) | idle core-s |")
print("|---|---|---|---|---|")
for name, wall, cpu in sorted(rows, key=lambda r: -r[1]):
    if wall < 1.0:
        continue
    print(f"| {name} | {wall:.1f} | {cpu:.1f} | {cpu / wall:.2f} | {cores * wall - cpu:.0f} |")
wall_sum = sum(r[1] for r in rows)
cpu_sum = sum(r[2] for r in rows)
print(f"| all ({len(rows)} binaries, those under 1 s not listed) | {wall_sum:.1f} | {cpu_sum:.1f} | "
      f"{cpu_sum / max(wall_sum, 0.01):.2f} | {cores * wall_sum - cpu_sum:.0f} |")
print()
print(f"The command took {total_wall:.1f} s (exit {code}), {total_wall - wall_sum:.1f} s of it before "
      f"the first test binary (the build, if it was not done). The test binaries' CPU divided by "
      f"{cores} cores: {cpu_sum / cores:.0f} s, the least they could take if every one kept every "
      f"core busy.")
sys.exit(code)
