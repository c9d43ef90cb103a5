#!/usr/bin/env bash
# What each unit of browser work costs in CPU (a launch, an idle browser, a context, a navigation,
# a WebDriver command) with Debian's Chromium and chromedriver, driven as the harness drives them:
# where a suite's CPU goes, and so which lever is worth pulling. Figures, not pass/fail; loopback
# only; PyPI is reached once, to make target/bench/cost-venv (requests, websocket-client).
# About 1 minute.
#
#   bench/chromium-cost.sh [REPEAT]     (default 15; results also go to bench/results/)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/bench/cost-venv
if [[ ! -x $venv/bin/python ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q requests websocket-client
fi
out=bench/results/chromium-cost-$(date -u +%Y%m%dT%H%M%SZ).md
{
  echo "# CPU per unit of browser work: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "Machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg);"
  echo "$(/usr/lib/chromium/chromium --version 2>/dev/null || chromium --version); $(chromedriver --version | cut -d' ' -f1-2)."
  echo
  "$venv/bin/python" bench/chromium_cost.py "${1:-15}"
} | tee "$out"
