# What one unit of browser work costs in CPU, with Debian's Chromium through chromedriver, the way
# the harness drives it: a browser launch, an idle browser, a browser context with its tab, a
# navigation, a WebDriver command. Each figure is the CPU of every Chromium process (browser,
# renderers, GPU, utilities, zygotes) plus chromedriver's, read from /proc before and after, so a
# busy machine changes it far less than wall time. Figures, not pass/fail; loopback only.
#
#   python3 bench/chromium_cost.py [REPEAT]       (run by bench/chromium-cost.sh)
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import requests
import websocket

REPEAT = int(sys.argv[1]) if len(sys.argv) > 1 else 15
HZ = os.sysconf("SC_CLK_TCK")
# The harness's own switches (src/browser.rs, LaunchOptions::capabilities).
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-features=Translate,OptimizationHints,MediaRouter,WebUIOmniboxPopup,"
    "WebUIOmniboxAimPopup",
    "--password-store=basic", "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows", "--disable-renderer-backgrounding",
    "--headless=new",
]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"<html><body><h1>page</h1><form><input name=a></form></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_):
        pass


def per_pid(driver_pid):
    """CPU seconds of chromedriver `driver_pid` and every process under it, by pid."""
    parent, used = {}, {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = open(f"/proc/{d}/stat").read()
            fields = stat[stat.rindex(")") + 2:].split()
        except OSError:
            continue
        pid = int(d)
        parent[pid] = int(fields[1])
        used[pid] = (int(fields[11]) + int(fields[12])) / HZ
    out = {}
    for pid in used:
        p = pid
        while p not in (driver_pid, 0, 1) and p in parent:
            p = parent[p]
        if p == driver_pid:
            out[pid] = used[pid]
    return out


class Meter:
    """CPU of a chromedriver's process tree, counting each process at its last reading: a
    process that exits (a quit browser, a disposed context's renderer) keeps what it used up to
    the last `sample()`, so sample just before ending anything."""

    def __init__(self, driver_pid):
        self.driver_pid = driver_pid
        self.seen = {}

    def sample(self):
        for pid, used in per_pid(self.driver_pid).items():
            self.seen[pid] = max(self.seen.get(pid, 0.0), used)
        return sum(self.seen.values())


class Chromium:
    def __init__(self):
        self.port = free_port()
        self.driver = subprocess.Popen(
            ["chromedriver", f"--port={self.port}", "--log-level=OFF"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        for _ in range(200):
            try:
                requests.get(self.base + "/status", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.05)
        self.profiles = []

    def launch(self):
        profile = tempfile.mkdtemp(prefix="chromium-cost-")
        self.profiles.append(profile)
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "args": ARGS + [f"--user-data-dir={profile}"],
            "prefs": {"session.restore_on_startup": 4, "session.startup_urls": ["about:blank"]},
        }}}}
        v = requests.post(self.base + "/session", json=caps).json()["value"]
        return v["sessionId"], v["capabilities"]["goog:chromeOptions"]["debuggerAddress"]

    def cmd(self, session, method, path, body=None):
        url = f"{self.base}/session/{session}{path}"
        return requests.request(method, url, json=body).json().get("value")

    def quit(self, session):
        requests.delete(f"{self.base}/session/{session}")

    def meter(self):
        return Meter(self.driver.pid)

    def close(self):
        self.driver.terminate()
        self.driver.wait()
        for p in self.profiles:
            shutil.rmtree(p, ignore_errors=True)


class DevTools:
    def __init__(self, debugger_address):
        url = requests.get(f"http://{debugger_address}/json/version").json()
        self.ws = websocket.create_connection(url["webSocketDebuggerUrl"], suppress_origin=True)
        self.id = 0

    def call(self, method, params=None):
        self.id += 1
        self.ws.send(json.dumps({"id": self.id, "method": method, "params": params or {}}))
        while True:
            m = json.loads(self.ws.recv())
            if m.get("id") == self.id:
                return m.get("result")


def main():
    page_port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", page_port), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    same = f"http://127.0.0.1:{page_port}/"
    other = f"http://localhost:{page_port}/"
    rows = []

    # A launch: a new session on a fresh profile, to a blank page, read 1 s later and just
    # before the quit.
    c = Chromium()
    m = c.meter()
    before = m.sample()
    for _ in range(5):
        s, _ = c.launch()
        time.sleep(1)
        m.sample()
        c.quit(s)
        time.sleep(0.5)
    rows.append(("a browser launch (fresh profile, read 1 s after the new session)", (m.sample() - before) / 5, "per launch"))
    c.close()

    c = Chromium()
    m = c.meter()
    owner, debugger = c.launch()
    devtools = DevTools(debugger)
    time.sleep(2)
    a = m.sample()
    time.sleep(10)
    rows.append(("an idle browser (one blank tab)", (m.sample() - a) / 10, "CPU seconds per second"))

    a = m.sample()
    for _ in range(REPEAT):
        ctx = devtools.call("Target.createBrowserContext", {"disposeOnDetach": True})["browserContextId"]
        devtools.call("Target.createTarget", {"url": "about:blank", "browserContextId": ctx})
        m.sample()
        devtools.call("Target.disposeBrowserContext", {"browserContextId": ctx})
    rows.append(("a browser context with a blank tab, created and disposed", (m.sample() - a) / REPEAT, "per context"))

    ctx = devtools.call("Target.createBrowserContext", {"disposeOnDetach": True})["browserContextId"]
    tab = devtools.call("Target.createTarget", {"url": "about:blank", "browserContextId": ctx})["targetId"]
    c.cmd(owner, "POST", "/window", {"handle": tab})
    for name, urls in (("a navigation, same site (WebDriver Navigate)", [same]),
                       ("a navigation, alternating between two sites", [same, other])):
        a = m.sample()
        for i in range(REPEAT * 2):
            c.cmd(owner, "POST", "/url", {"url": urls[i % len(urls)] + f"p{i}"})
            m.sample()
        rows.append((name, (m.sample() - a) / (REPEAT * 2), "per navigation"))
    a = m.sample()
    for _ in range(REPEAT * 10):
        c.cmd(owner, "POST", "/execute/sync", {"script": "return document.readyState", "args": []})
    rows.append(("a WebDriver command (Execute Script)", (m.sample() - a) / (REPEAT * 10), "per command"))
    c.quit(owner)
    c.close()

    print("| unit of work | CPU s | per |")
    print("|---|---|---|")
    for name, value, per in rows:
        print(f"| {name} | {value:.3f} | {per} |")
    server.shutdown()


if __name__ == "__main__":
    main()
