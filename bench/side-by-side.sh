#!/usr/bin/env bash
# Side by side: logout-harness and Playwright (Python) doing the same logout check against the same
# real server in one run. The server is the Django admin of fixtures/real-servers/django (profile
# `correct`, as tests/e2e/real_servers/ starts it: gunicorn from target/real-servers/venv, HTTPS with a
# private CA made here, user alice with a password made here and passed in the environment only).
# The check, per scenario: a new isolated browser state, open the admin (its sign-in form), sign
# in, sign out, see the signed-out page, no session cookie left in the browser's jar, and the
# cookies from before sign-out replayed with a plain HTTP request are refused (not 2xx); both also
# prove first that the probe sees the live session, and compare the leftover cookies' names and
# flags with a baseline recorded in a warm-up run. logout-harness runs the built-in scenario of
# features/sign_out.feature, copied N times, as it isolates by default (a fresh browser context of
# one shared browser per scenario) and, where the binary has `--isolation`, with `--isolation
# process` (a browser process per scenario). Playwright runs the same steps with the selectors of
# fixtures/targets/examples/django-admin.yaml, the same two ways: one browser and a new context per
# scenario, or a new browser per scenario.
#
# Measured: wall time of whole runs of 1 and N scenarios, sequentially, and the marginal time per
# scenario (wall(N) - wall(1)) / (N - 1), which cancels each tool's fixed start-up; the same for
# CPU (the tool and every process under it: driver, browsers) and for the server's CPU, which
# contention on a shared machine disturbs far less than wall time; each tool's per-scenario split;
# N scenarios 2 at once. The harness's exit code and verdicts and Playwright's checks are shown, so
# a broken run is visible. Figures, not pass/fail. Loopback only; PyPI is reached once, to make
# target/bench/playwright-venv (pip install playwright pyyaml; browsers are never downloaded:
# Playwright drives the system Chromium). About 5 minutes at N=12 on 2 otherwise idle cores, plus
# about 2 minutes per further repetition (15 minutes for 3 with a test suite running beside it).
#
#   bench/side-by-side.sh [N] [REPETITIONS]     (default 12 and 1; results also go to bench/results/)
#
# LH_BIN=/path/to/logout-harness uses that binary instead of `cargo build --release` here (the
# results name it, its build time and checksum); LH_DJANGO_VENV=DIR uses that virtualenv (Django,
# gunicorn) instead of target/real-servers/venv.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-12}
reps=${2:-1}
if (( n < 2 )); then echo "N must be at least 2" >&2; exit 64; fi
if [[ -n ${LH_BIN:-} ]]; then
  bin=$LH_BIN
else
  cargo build --release -q
  bin=target/release/logout-harness
fi
django_venv=${LH_DJANGO_VENV:-target/real-servers/venv}
if [[ ! -x $django_venv/bin/gunicorn ]]; then
  echo "$django_venv/bin/gunicorn is missing: run ci/setup (it installs Django and gunicorn)" >&2
  exit 69
fi
django_venv=$(cd "$django_venv" && pwd)
chromium=
for c in /usr/lib/chromium/chromium /usr/bin/chromium; do
  if [[ -x $c ]]; then chromium=$c; break; fi
done
if [[ -z $chromium ]]; then echo "no Chromium (run ci/setup)" >&2; exit 69; fi

# Playwright from PyPI; never `playwright install` (it would download browsers).
pw_venv=target/bench/playwright-venv
if [[ ! -x $pw_venv/bin/python ]] || ! "$pw_venv/bin/python" -c 'import playwright, yaml' 2>/dev/null; then
  python3 -m venv "$pw_venv"
  "$pw_venv/bin/pip" install -q playwright pyyaml
fi
pw_python=$pw_venv/bin/python

out=bench/results/side-by-side-$(date -u +%Y%m%dT%H%M%SZ).md
mkdir -p bench/results
tmp=$(mktemp -d)
gunicorn_pid=
cleanup() {
  # gunicorn's master and its worker: the process group it leads (its own, see below).
  if [[ -n $gunicorn_pid ]]; then
    kill -TERM -- "-$gunicorn_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 -- "-$gunicorn_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$gunicorn_pid" 2>/dev/null || true
    wait "$gunicorn_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Every run uses one copy of the binary, taken now: a rebuild meanwhile changes nothing here.
# Named without its path: results are committed, and a machine's paths mean nothing elsewhere.
bin_id="$("$bin" --version), built $(date -u -r "$bin" '+%Y-%m-%d %H:%M UTC')"
bin_repo=$(git -C "$(dirname "$bin")" rev-parse --show-toplevel 2>/dev/null || true)
cp "$bin" "$tmp/logout-harness"
bin=$tmp/logout-harness
bin_id+=", sha256 $(sha256sum "$bin" | cut -c1-12)"
if [[ -n $bin_repo ]]; then
  bin_id+="; the checkout it was built in is at $(git -C "$bin_repo" rev-parse --short HEAD)"
  git -C "$bin_repo" diff --quiet HEAD -- src steps features build.rs Cargo.toml Cargo.lock ||
    bin_id+=" with uncommitted changes to the sources"
fi
# The harness's ways of isolating scenarios: its default, and a process each where it has the flag.
harness_tools=(harness)
if "$bin" run --help | grep -q -- '--isolation'; then harness_tools+=(harness-process); fi
tools=("${harness_tools[@]}" pw-context pw-browser)

# --- The server ------------------------------------------------------------------------------
# A private CA and a certificate for localhost / 127.0.0.1 (what tests/e2e/real_servers/pki.rs makes).
pki=$tmp/pki
mkdir -p "$pki"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -keyout "$pki/ca.key" -out "$pki/ca.pem" -subj "/CN=logout-harness bench CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout "$pki/server.key" -out "$pki/server.csr" -subj "/CN=localhost" 2>/dev/null
printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "extendedKeyUsage=serverAuth" \
  "keyUsage=critical,digitalSignature" "basicConstraints=critical,CA:FALSE" >"$pki/ext"
openssl x509 -req -in "$pki/server.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial \
  -days 2 -extfile "$pki/ext" -out "$pki/server.pem" 2>/dev/null
# What Playwright's Chromium trusts: the server key's SPKI hash (the harness is given the CA file).
spki=$(openssl x509 -in "$pki/server.pem" -pubkey -noout | openssl pkey -pubin -outform der |
  openssl dgst -sha256 -binary | base64)

site=$PWD/fixtures/real-servers/django
export LH_DJANGO_PROFILE=correct LH_DJANGO_DB=$tmp/db.sqlite3 PYTHONDONTWRITEBYTECODE=1
LH_DJANGO_SECRET_KEY=$(openssl rand -hex 32)
export LH_DJANGO_SECRET_KEY
# A password for this run only, never on a command line (`/`, `+` and a space, as the tests do).
password="Pw/$(openssl rand -hex 9)+ x"
dj_python=$django_venv/bin/python
(cd "$site" && "$dj_python" manage.py migrate --noinput -v0)
(cd "$site" && DJANGO_SUPERUSER_PASSWORD=$password "$dj_python" manage.py createsuperuser \
  --noinput --username alice --email alice@example.test >/dev/null)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# As servers.rs: one worker, 32 threads (Chromium's idle preconnected sockets starve fewer).
# In a process group of its own, so that the trap stops master and worker together (on Ctrl-C a
# worker can hang in its own shutdown once its master is gone); the master dies with this script.
launcher=(setsid)
if command -v setpriv >/dev/null; then launcher+=(setpriv --pdeathsig SIGKILL --); fi
(cd "$site" && exec "${launcher[@]}" "$django_venv/bin/gunicorn" \
  --bind "127.0.0.1:$port" --workers 1 --threads 32 \
  --certfile "$pki/server.pem" --keyfile "$pki/server.key" \
  --error-logfile "$tmp/gunicorn.log" lhsite.wsgi:application </dev/null >/dev/null 2>&1) &
gunicorn_pid=$!
for i in $(seq 50); do
  [[ $(ps -o pgid= -p "$gunicorn_pid" | tr -d ' ') == "$gunicorn_pid" ]] && break
  (( i < 50 )) || { echo "gunicorn did not get a process group of its own" >&2; exit 70; }
  sleep 0.1
done
for i in $(seq 300); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  if ! kill -0 "$gunicorn_pid" 2>/dev/null || (( i == 300 )); then
    echo "gunicorn did not listen on $port; its log:" >&2; cat "$tmp/gunicorn.log" >&2; exit 70
  fi
  sleep 0.1
done
url=https://localhost:$port/

# --- What the harness runs ---------------------------------------------------------------------
# The example target with this server's URL and CA (the password variable is the example's).
target=$tmp/django-admin.yaml
sed -e "s|^crm: .*|crm: $url|" -e "s|^  ca_file: .*|  ca_file: $pki/ca.pem|" \
  fixtures/targets/examples/django-admin.yaml >"$target"
grep -q "^crm: $url\$" "$target" && grep -q "ca_file: $pki/ca.pem\$" "$target" &&
  grep -q "password_env: DJANGO_ALICE_PASSWORD\$" "$target" ||
  { echo "the example target file changed shape; update this script" >&2; exit 70; }
# The built-in sign-out scenario, verbatim, k times under distinct names (each its own snapshot).
features() {
  python3 - "$1" features/sign_out.feature <<'PY'
import sys
k, text = int(sys.argv[1]), open(sys.argv[2]).read()
head, sep, rest = text.partition("  Scenario: Sign Out from the profile menu ends the session\n")
assert sep and "Scenario" not in rest, "features/sign_out.feature changed shape; update bench/side-by-side.sh"
print(head, end="")
for i in range(1, k + 1):
    print(f"  Scenario: Sign Out from the profile menu ends the session (copy {i:02d})\n{rest}")
PY
}
features 1 >"$tmp/sign_out_1.feature"
features "$n" >"$tmp/sign_out_$n.feature"

# --- The same check with Playwright --------------------------------------------------------------
cat >"$tmp/playwright_check.py" <<'PY'
"""The harness's Sign Out scenario with Playwright: one browser (or one per scenario), a new context
per scenario, the selectors of the target file, and the same probe (a plain HTTPS GET of `whoami`
with the jar's cookies, following no redirects; only 2xx counts as signed in)."""
import asyncio, http.client, json, os, re, signal, ssl, sys, time, urllib.parse
import yaml
from playwright.async_api import async_playwright

# Ctrl-C: stop at once with 128 + the signal, as the harness does, so that the script stops too
# (Playwright's driver ends its browsers when this process goes).
for sig in (signal.SIGINT, signal.SIGTERM):
    signal.signal(sig, lambda s, _: os._exit(128 + s))

target_file, chromium, spki, n, workers, isolation, snapshot, record, out = sys.argv[1:10]
n, workers, record = int(n), int(workers), record == "record"
target = yaml.safe_load(open(target_file))
pages, base = target["pages"], target["crm"]
user = target["users"]["alice"]["username"]
password = os.environ[target["users"]["alice"]["password_env"]]
signed_out_text = re.compile(pages["signed_out_text"])
tls = ssl.create_default_context(cafile=target["tls"]["ca_file"])
whoami = urllib.parse.urljoin(base, target["whoami"])
args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync",
        f"--ignore-certificate-errors-spki-list={spki}"]


def probe(cookies):
    """(status, signed in?) of whoami with these cookies, as the harness's probe asks."""
    u = urllib.parse.urlsplit(whoami)
    jar = "; ".join(f"{c['name']}={c['value']}" for c in cookies
                    if c["domain"].lstrip(".") == u.hostname and u.path.startswith(c["path"]))
    conn = http.client.HTTPSConnection(u.hostname, u.port, context=tls, timeout=30)
    conn.request("GET", u.path, headers={"Cookie": jar} if jar else {})
    status = conn.getresponse().status
    conn.close()
    return status, 200 <= status < 300


def shapes(cookies):
    """Names and flags of the cookies, never values (what a snapshot holds)."""
    return sorted([c["name"], c["domain"], c["path"], c["secure"], c["httpOnly"],
                   c.get("sameSite"), c["expires"] == -1] for c in cookies)


async def scenario(pw, shared, i):
    r = {"scenario": i, "checks": {}, "error": None}
    t0 = time.monotonic()
    launch = nav = probes = 0.0
    browser = ctx = None
    try:
        t = time.monotonic()
        browser = shared or await pw.chromium.launch(executable_path=chromium, args=args, headless=True)
        ctx = await browser.new_context(ignore_https_errors=False)
        page = await ctx.new_page()
        launch += time.monotonic() - t
        # Sign in: the start page shows the sign-in form (or, single sign-on, the application).
        t = time.monotonic()
        await page.goto(urllib.parse.urljoin(base, pages["start"]))
        await page.wait_for_selector(f"{pages['username_input']}, {pages['signed_in']}")
        if await page.locator(pages["username_input"]).count():
            await page.fill(pages["username_input"], user)
            await page.fill(pages["password_input"], password)
            await page.click(pages["submit"])
        await page.wait_for_selector(pages["signed_in"])
        nav += time.monotonic() - t
        before = await ctx.cookies()
        # The probe must see the live session, or a refused replay would prove nothing.
        t = time.monotonic()
        _, live = await asyncio.to_thread(probe, before)
        probes += time.monotonic() - t
        r["checks"]["probe sees the live session"] = live
        # Sign out (a POST form in #user-tools) and wait for the page it ends on.
        t = time.monotonic()
        async with page.expect_navigation(wait_until="load"):
            await page.click(pages["sign_out"])
        nav += time.monotonic() - t
        shows_app = await page.locator(pages["signed_in"]).count() > 0
        says = bool(signed_out_text.search(await page.inner_text("body")))
        r["checks"]["signed-out page shown"] = says and not shows_app
        after = await ctx.cookies()
        left = [c for c in after if c["name"] in pages["auth_cookies"]]
        removed = not left
        if left:  # what is left is no credential if the server no longer accepts it
            t = time.monotonic()
            removed = not (await asyncio.to_thread(probe, after))[1]
            probes += time.monotonic() - t
        r["checks"]["auth cookie removed"] = removed
        t = time.monotonic()
        status, accepted = await asyncio.to_thread(probe, before)
        probes += time.monotonic() - t
        r["replay_status"] = status
        r["checks"]["replay refused"] = not accepted
        r["shapes"] = shapes(after)
        if not record:
            r["checks"]["leftover cookies match baseline"] = r["shapes"] == json.load(open(snapshot))
    except Exception as e:  # not judged, like a harness scenario whose step failed
        r["error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    finally:
        t = time.monotonic()
        if ctx is not None:
            await ctx.close()
        if browser is not None and shared is None:
            await browser.close()
        launch += time.monotonic() - t
    r.update(total_s=time.monotonic() - t0, browser_s=launch, navigation_s=nav, probe_s=probes)
    return r


async def main():
    t0 = time.monotonic()
    async with async_playwright() as pw:
        shared = None
        if isolation == "context":
            shared = await pw.chromium.launch(executable_path=chromium, args=args, headless=True)
        ready = time.monotonic() - t0
        queue = asyncio.Queue()
        for i in range(1, n + 1):
            queue.put_nowait(i)
        results = []

        async def worker():
            while not queue.empty():
                results.append(await scenario(pw, shared, queue.get_nowait()))

        await asyncio.gather(*(worker() for _ in range(workers)))
        if shared is not None:
            await shared.close()
    if record:
        seen = [r["shapes"] for r in results if r["error"] is None]
        if seen:
            json.dump(seen[0], open(snapshot, "w"))
    json.dump({"startup_s": ready, "scenarios": sorted(results, key=lambda r: r["scenario"])},
              open(out, "w"), indent=1)
    # The harness's exit codes: 1 a check failed, 2 something could not be judged, 0 all held.
    if any(not ok for r in results for ok in r["checks"].values()):
        return 1
    return 2 if any(r["error"] for r in results) or not results else 0


sys.exit(asyncio.run(main()))
PY

# --- Runs ----------------------------------------------------------------------------------------
# Runs a command and writes "EXIT WALL_S CPU_S LEFT" to a file: CPU is user + system of the command
# and of every process under it, orphans included (this is their subreaper: a process whose parent
# ended first comes here, not to init, and is counted); LEFT counts descendants still
# running 20 s after the command ended (they are not waited for further, nor counted).
cat >"$tmp/measure.py" <<'PY'
import ctypes, os, resource, signal, subprocess, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
if ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
    sys.exit(f"prctl(PR_SET_CHILD_SUBREAPER): errno {ctypes.get_errno()}")
child, interrupted = None, []
def forward(sig, _):  # Ctrl-C reaches the whole group; a TERM for this process alone is passed on
    interrupted.append(sig)
    if sig == signal.SIGTERM and child is not None and child.poll() is None:
        child.send_signal(sig)
def children():
    n = 0
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            n += open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1] == str(os.getpid())
        except OSError:
            pass
    return n
for sig in (signal.SIGINT, signal.SIGTERM):
    signal.signal(sig, forward)
start = time.monotonic()
child = subprocess.Popen(cmd)
code = child.wait()
wall = time.monotonic() - start
code = 128 - code if code < 0 else code
if interrupted:
    sys.exit(code)
deadline, left = time.monotonic() + 20, 0
while True:
    try:
        pid, _ = os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        break
    if pid == 0:
        if time.monotonic() > deadline:
            left = children()
            break
        time.sleep(0.05)
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
open(out, "w").write(f"{code} {wall:.3f} {ru.ru_utime + ru.ru_stime:.2f} {left}\n")
sys.exit(code)
PY

# CPU clock ticks gunicorn (master and worker) has used so far.
server_ticks() {
  local pid stat total=0
  for pid in $(ps -o pid= -g "$gunicorn_pid"); do
    read -r stat <"/proc/$pid/stat" 2>/dev/null || continue
    stat=${stat##*) }
    # shellcheck disable=SC2086 # fields 14 and 15 (utime, stime), counted after the name
    set -- $stat
    total=$(( total + ${12} + ${13} ))
  done
  echo "$total"
}

# One timed run: TOOL (harness | harness-process | pw-context | pw-browser), SCENARIOS, AT ONCE,
# LABEL [record]. Writes $tmp/LABEL.json (the tool's report) and $tmp/LABEL.meta (exit code, wall
# s, CPU s, server CPU s, processes left).
run() {
  local tool=$1 k=$2 c=$3 label=$4 record=${5:-}
  local code server0 server1 cmd wall cpu left server
  if ! kill -0 "$gunicorn_pid" 2>/dev/null; then
    echo "gunicorn has stopped; its log:" >&2; cat "$tmp/gunicorn.log" >&2; exit 70
  fi
  if [[ $tool == harness* ]]; then
    local isolation=()
    if [[ $tool == harness-process ]]; then isolation=(--isolation process); fi
    cmd=("$bin" run --target "$target" --concurrency "$c" --json "$tmp/$label.json" "${isolation[@]}"
      --artifacts "$tmp/artifacts-$label" --snapshots "$tmp/snapshots"
      ${record:+--update-snapshots} "$tmp/sign_out_$k.feature")
  else
    cmd=("$pw_python" "$tmp/playwright_check.py" "$target" "$chromium" "$spki" "$k" "$c"
      "${tool#pw-}" "$tmp/pw-baseline.json" "${record:-compare}" "$tmp/$label.json")
  fi
  server0=$(server_ticks)
  set +e
  DJANGO_ALICE_PASSWORD=$password python3 "$tmp/measure.py" "$tmp/$label.measure" "${cmd[@]}" \
    >"$tmp/$label.log" 2>&1
  code=$?
  set -e
  # Ctrl-C reaches the tools too; one that ends cleanly on it leaves bash's INT trap unrun.
  if (( code == 130 || code == 143 )); then exit "$code"; fi
  server1=$(server_ticks)
  read -r code wall cpu left <"$tmp/$label.measure"
  server=$(python3 -c "print(f'{($server1 - $server0) / $(getconf CLK_TCK):.2f}')")
  echo "$code $wall $cpu $server $left" >"$tmp/$label.meta"
  printf '%-22s exit %d, %6.2f s wall, %6.2f s CPU (tool, driver, browsers), %5.2f s server CPU%s\n' \
    "$label" "$code" "$wall" "$cpu" "$server" "$( ((left == 0)) || echo ", $left processes left")" >&2
}

# Warm-up: records the snapshot baselines (so the measured runs judge them normally) and warms the
# page cache for Chromium, Python and the server.
run harness "$n" 1 warmup-harness record
run pw-context "$n" 1 warmup-pw record
for r in $(seq 1 "$reps"); do
  for tool in "${tools[@]}"; do
    run "$tool" 1 1 "$tool-r$r-n1"
    run "$tool" "$n" 1 "$tool-r$r-n$n"
  done
done
for tool in "${tools[@]}"; do
  run "$tool" "$n" 2 "$tool-c2-n$n"
done

# --- Report --------------------------------------------------------------------------------------
pw_version=$("$pw_python" -c 'from importlib.metadata import version; print(version("playwright"))')
repo_id="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src steps features Cargo.toml Cargo.lock || echo ' with uncommitted changes')"
python3 - "$tmp" "$n" "$reps" "$url" "$pw_version" "$chromium" "$bin_id" "$repo_id" "${tools[@]}" <<'PY' | tee "$out"
import json, os, statistics, subprocess, sys, time
tmp, n, reps, url, pw_version, chromium, bin_id, repo_id, *tools = sys.argv[1:]
n, reps = int(n), int(reps)
med = statistics.median
def meta(label):
    code, wall, cpu, server, left = open(os.path.join(tmp, label + ".meta")).read().split()
    return {"code": int(code), "wall": float(wall), "cpu": float(cpu), "server": float(server),
            "left": int(left)}
def report(label):
    try:
        return json.load(open(os.path.join(tmp, label + ".json")))
    except (OSError, ValueError):
        return None
def output_of(cmd):
    return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()

def outcome(tool, label):
    code, d = meta(label)["code"], report(label)
    if meta(label)["left"]:
        code = f"{code} ({meta(label)['left']} processes left running)"
    if d is None:
        return f"exit {code}, no report"
    if tool.startswith("harness"):
        held = sum(v["passed"] for v in d["verdicts"])
        return (f"exit {code}: {held}/{len(d['verdicts'])} verdicts held, {len(d['errors'])} not judged"
                + (", incomplete" if d.get("incomplete") else ""))
    checks = [ok for s in d["scenarios"] for ok in s["checks"].values()]
    errors = sum(s["error"] is not None for s in d["scenarios"])
    return f"exit {code}: {sum(checks)}/{len(checks)} checks held, {errors} not judged"

names = {"harness": "logout-harness, a context per scenario (its default)",
         "harness-process": "logout-harness --isolation process",
         "pw-context": "Playwright, a context per scenario",
         "pw-browser": "Playwright, a browser per scenario"}
# Each tool against Playwright isolating the same way.
twin = {"harness": "pw-context", "harness-process": "pw-browser", "pw-context": "pw-context",
        "pw-browser": "pw-browser"}
per = n - 1
reps_ = range(1, reps + 1)
def marginal(t, r, key):
    return (meta(f"{t}-r{r}-n{n}")[key] - meta(f"{t}-r{r}-n1")[key]) / per

print(f"# Side by side: logout-harness and Playwright, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
print()
print(f"Machine: {os.cpu_count()} cores, load average {' '.join(open('/proc/loadavg').read().split()[:3])} "
      f"at the end (other work shares the machine); {output_of([chromium, '--version'])}; "
      f"{output_of(['chromedriver', '--version']).split(' (')[0]}; {output_of(['rustc', '--version'])}; "
      f"Playwright {pw_version} (Python, asyncio API), driving the same Chromium binary.")
print()
print(f"Harness: {bin_id}; this repository at {repo_id}.")
print()
print(f"Server: Django admin (fixtures/real-servers/django, profile `correct`) under gunicorn at {url} "
      f"(HTTPS, private CA). Per scenario, every tool: new isolated browser state, sign in on the admin's "
      f"form, the probe sees the live session, sign out, the signed-out page, no `sessionid` left in the "
      f"jar, the pre-sign-out cookies replayed over plain HTTPS are refused (302), leftover cookies' names "
      f"and flags as in the warm-up's baseline. The harness counts the live-session probe as a "
      f"precondition, not a verdict: 4 verdicts per scenario against Playwright's 5 checks.")
print()
print(f"## Sequential: marginal cost per scenario, (run of {n} - run of 1) / {per}")
print()
print("CPU = user + system of the tool and every process under it (chromedriver or Playwright's "
      "driver, the browsers, orphans included); server = gunicorn's CPU during the run. Both hold up "
      "under contention far better than wall time. \"vs Playwright\" compares with Playwright isolating "
      "the same way (contexts of one browser, or a browser each).")
print()
print(f"| tool | run | wall(1) s | wall({n}) s | wall s/scenario | vs Playwright | CPU s/scenario | "
      f"server CPU s/scenario | outcome of the {n}-scenario run; of the 1-scenario run |")
print("|---|---|---|---|---|---|---|---|---|")
for r in reps_:
    for t in tools:
        w = marginal(t, r, "wall")
        print(f"| {names[t]} | {r} | {meta(f'{t}-r{r}-n1')['wall']:.2f} | {meta(f'{t}-r{r}-n{n}')['wall']:.2f} | "
              f"{w:.2f} | {w / marginal(twin[t], r, 'wall'):.2f}x | {marginal(t, r, 'cpu'):.2f} | "
              f"{marginal(t, r, 'server'):.3f} | {outcome(t, f'{t}-r{r}-n{n}')}; {outcome(t, f'{t}-r{r}-n1')} |")
print()
print(f"Medians over {reps} run(s), per scenario:")
print()
print("| tool | wall s | wall vs Playwright | CPU s | CPU vs Playwright | server CPU s | fixed start-up: wall(1) s, CPU(1) s |")
print("|---|---|---|---|---|---|---|")
mw = {t: med(marginal(t, r, "wall") for r in reps_) for t in tools}
mc = {t: med(marginal(t, r, "cpu") for r in reps_) for t in tools}
ms = {t: med(marginal(t, r, "server") for r in reps_) for t in tools}
for t in tools:
    w1 = med(meta(f"{t}-r{r}-n1")["wall"] for r in reps_)
    c1 = med(meta(f"{t}-r{r}-n1")["cpu"] for r in reps_)
    print(f"| {names[t]} | {mw[t]:.2f} | {mw[t] / mw[twin[t]]:.2f}x | {mc[t]:.2f} | "
          f"{mc[t] / mc[twin[t]]:.2f}x | {ms[t]:.3f} | {w1:.2f}, {c1:.2f} |")

print()
print(f"## {n} scenarios, 2 at once (harness `--concurrency 2`; Playwright 2 asyncio workers, one driver)")
print()
print(f"| tool | wall({n}) s | (wall({n}) - median wall(1)) / {per} s | vs Playwright | CPU s | outcome |")
print("|---|---|---|---|---|---|")
c2 = {t: (meta(f"{t}-c2-n{n}")["wall"] - med(meta(f"{t}-r{r}-n1")["wall"] for r in reps_)) / per for t in tools}
for t in tools:
    m = meta(f"{t}-c2-n{n}")
    print(f"| {names[t]} | {m['wall']:.2f} | {c2[t]:.2f} | {c2[t] / c2[twin[t]]:.2f}x | {m['cpu']:.1f} | "
          f"{outcome(t, f'{t}-c2-n{n}')} |")

print()
print(f"## Where a scenario's time goes: medians over the {reps * n} scenarios of the sequential {n}-scenario runs")
print()
print("Each tool's own clock. Harness: `timings[]` of its JSON (browser = starting and closing browsers "
      "or contexts; probes, cookie reads and the snapshot are in `rest`); Playwright: measured the same "
      "way in the check. The first scenario of a run also starts the shared browser where there is one.")
print()
print("| tool | total s | browser start + close | navigation (sign in, sign out) | probes | rest |")
print("|---|---|---|---|---|---|")
for t in tools:
    if t.startswith("harness"):
        ts = [x for r in reps_ for x in (report(f"{t}-r{r}-n{n}") or {"timings": []})["timings"]]
        if ts:
            rest = [x["total_s"] - x["browser_launch_s"] - x["navigation_s"] - x["deliberate_wait_s"] for x in ts]
            print(f"| {names[t]} | {med(x['total_s'] for x in ts):.2f} | {med(x['browser_launch_s'] for x in ts):.2f} | "
                  f"{med(x['navigation_s'] for x in ts):.2f} | (in rest) | {med(rest):.2f} |")
    else:
        ss = [x for r in reps_ for x in (report(f"{t}-r{r}-n{n}") or {"scenarios": []})["scenarios"]]
        if ss:
            rest = [x["total_s"] - x["browser_s"] - x["navigation_s"] - x["probe_s"] for x in ss]
            print(f"| {names[t]} | {med(x['total_s'] for x in ss):.2f} | {med(x['browser_s'] for x in ss):.2f} | "
                  f"{med(x['navigation_s'] for x in ss):.2f} | {med(x['probe_s'] for x in ss):.2f} | {med(rest):.2f} |")
print()
for t in tools:
    for r in reps_:
        d = report(f"{t}-r{r}-n{n}")
        if not d:
            continue
        if t.startswith("harness"):
            c, first = d["cost"], d["timings"][0] if d["timings"] else None
            print(f"- {names[t]}, run {r}: {c['wall_s']:.1f} s wall by its own clock, {c['harness_cpu_s']:.2f} s of "
                  f"the harness's own CPU ({100 * c['harness_cpu_s'] / c['wall_s']:.1f} %; the rest of the "
                  f"{meta(f'{t}-r{r}-n{n}')['cpu']:.1f} s is chromedriver and Chromium); scenarios "
                  f"{sum(x['total_s'] for x in d['timings']):.1f} s"
                  + (f", the first {first['total_s']:.2f} s with {first['browser_launch_s']:.2f} s of browser start"
                     if first else "") + ".")
        else:
            first = d["scenarios"][0] if d["scenarios"] else None
            print(f"- {names[t]}, run {r}: ready (driver{' and browser' if t == 'pw-context' else ''} started) "
                  f"after {d['startup_s']:.2f} s; scenarios {sum(x['total_s'] for x in d['scenarios']):.1f} s"
                  + (f", the first {first['total_s']:.2f} s" if first else "") + ".")

problems = []
for f in sorted(os.listdir(tmp)):
    if not f.endswith(".json") or f == "pw-baseline.json" or f.startswith("warmup"):
        continue
    d = report(f[:-5]) or {}
    for e in d.get("errors", []):
        problems.append(f"{f[:-5]}: \"{e['context']['scenario']}\" not judged at \"{e['step']}\": "
                        f"{e['message'].splitlines()[0]}")
    for v in d.get("verdicts", []):
        if not v["passed"]:
            problems.append(f"{f[:-5]}: \"{v['context']['scenario']}\" {v['rule']} violated: {v['observed']}")
    for x in d.get("scenarios", []):
        if x["error"]:
            problems.append(f"{f[:-5]}: scenario {x['scenario']} not judged: {x['error']}")
        problems += [f"{f[:-5]}: scenario {x['scenario']}: {k} did not hold"
                     for k, ok in x["checks"].items() if not ok]
print()
print(f"Scenarios not judged, verdicts violated or checks that did not hold: {len(problems)}.")
for line in problems:
    print(f"- {line}")
PY
echo "written to $out" >&2
