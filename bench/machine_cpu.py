"""Runs a command (output discarded) and prints "WALL_S CPU_S EXIT": its wall time and the CPU
time the whole machine spent meanwhile, busy ticks of /proc/stat (user, nice, system, irq,
softirq, steal), so that every process counts, however short its life. Anything else running
on the machine counts too: measure on a machine otherwise idle."""
import os
import subprocess
import sys
import time


def busy_ticks():
    with open("/proc/stat") as f:
        v = list(map(int, f.readline().split()[1:]))
    return sum(v) - v[3] - v[4]  # all but idle and iowait


hz = os.sysconf("SC_CLK_TCK")
t, b = time.monotonic(), busy_ticks()
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(f"{time.monotonic() - t:.1f} {(busy_ticks() - b) / hz:.1f} {r.returncode}")
