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


def cpu(driver_pid):
    """CPU seconds of chromedriver `driver_pid` and every process under it, by kind."""
    parent, kind, used = {}, {}, {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = open(f"/proc/{d}/stat").read()
            fields = stat[stat.rindex(")") + 2:].split()
            cmd = open(f"/proc/{d}/cmdline").read().replace("\0", " ").split()
        except OSError:
            continue
        pid = int(d)
        parent[pid] = int(fields[1])
        used[pid] = (int(fields[11]) + int(fields[12])) / HZ
        types = [a[7:] for a in cmd if a.startswith("--type=")]
        kind[pid] = types[0] if types else ("chromedriver" if pid == driver_pid else "browser")
    out = {}
    for pid in used:
        p = pid
        while p not in (driver_pid, 0, 1) and p in parent:
            p = parent[p]
        if p == driver_pid:
            out[kind[pid]] = out.get(kind[pid], 0) + used[pid]
    return out


def total(c):
    return sum(c.values())


class Chromium:
    def __init__(self, extra=()):
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
        self.extra = list(extra)
        self.profiles = []

    def launch(self):
        profile = tempfile.mkdtemp(prefix="chromium-cost-")
        self.profiles.append(profile)
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "args": ARGS + self.extra + [f"--user-data-dir={profile}"],
            "prefs": {"session.restore_on_startup": 4, "session.startup_urls": ["about:blank"]},
        }}}}
        v = requests.post(self.base + "/session", json=caps).json()["value"]
        return v["sessionId"], v["capabilities"]["goog:chromeOptions"]["debuggerAddress"]

    def cmd(self, session, method, path, body=None):
        url = f"{self.base}/session/{session}{path}"
        return requests.request(method, url, json=body).json().get("value")

    def quit(self, session):
        requests.delete(f"{self.base}/session/{session}")

    def cpu(self):
        return cpu(self.driver.pid)

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

    # A launch: a new session on a fresh profile, to a blank page, read 1 s later (before the
    # quit: the processes of a quit browser leave /proc, and their CPU with them).
    c = Chromium()
    used = 0.0
    for _ in range(5):
        before = total(c.cpu())
        s, _ = c.launch()
        time.sleep(1)
        used += total(c.cpu()) - before
        c.quit(s)
        time.sleep(0.5)
    rows.append(("a browser launch (fresh profile, read 1 s after the new session)", used / 5, "per launch"))
    c.close()

    c = Chromium()
    owner, debugger = c.launch()
    devtools = DevTools(debugger)
    time.sleep(2)
    a = total(c.cpu())
    time.sleep(10)
    rows.append(("an idle browser (one blank tab)", (total(c.cpu()) - a) / 10, "CPU seconds per second"))

    a = total(c.cpu())
    for _ in range(REPEAT):
        ctx = devtools.call("Target.createBrowserContext", {"disposeOnDetach": True})["browserContextId"]
        devtools.call("Target.createTarget", {"url": "about:blank", "browserContextId": ctx})
        devtools.call("Target.disposeBrowserContext", {"browserContextId": ctx})
    rows.append(("a browser context with a blank tab, created and disposed", (total(c.cpu()) - a) / REPEAT, "per context"))

    ctx = devtools.call("Target.createBrowserContext", {"disposeOnDetach": True})["browserContextId"]
    tab = devtools.call("Target.createTarget", {"url": "about:blank", "browserContextId": ctx})["targetId"]
    c.cmd(owner, "POST", "/window", {"handle": tab})
    for name, urls in (("a navigation, same site (WebDriver Navigate)", [same]),
                       ("a navigation, alternating between two sites", [same, other])):
        a = total(c.cpu())
        for i in range(REPEAT * 2):
            c.cmd(owner, "POST", "/url", {"url": urls[i % len(urls)] + f"p{i}"})
        rows.append((name, (total(c.cpu()) - a) / (REPEAT * 2), "per navigation"))
    a = total(c.cpu())
    for _ in range(REPEAT * 10):
        c.cmd(owner, "POST", "/execute/sync", {"script": "return document.readyState", "args": []})
    rows.append(("a WebDriver command (Execute Script)", (total(c.cpu()) - a) / (REPEAT * 10), "per command"))
    c.quit(owner)
    c.close()

    print("| unit of work | CPU s | per |")
    print("|---|---|---|")
    for name, value, per in rows:
        print(f"| {name} | {value:.3f} | {per} |")
    server.shutdown()


if __name__ == "__main__":
    main()
