//! The WebDriver server of `--webdriver`, as its status endpoint describes it: a plain driver
//! (chromedriver), or a Selenium Grid and how many browsers of the run's kind it can start now.
//!
//! A run asks a grid for no more browsers at once than it has free slots for: a request beyond
//! that waits in the grid's queue, and two scenarios that each hold one browser while waiting for
//! a second starve each other until the queue times out. So with `--webdriver` and no
//! `--concurrency`, the run's slots are the grid's free slots for the browser
//! ([`GridStatus::free_for`]), and a scenario takes a slot per browser it holds at once.
//!
//! Selenium Grid 4 answers `GET /status` with `value.ready`, `value.message` and `value.nodes[]`:
//! each node's `uri`, `availability` (`UP`, `DRAINING`, `DOWN`), `maxSessions`, and `slots[]` with
//! the `stereotype` it offers and the `session` it runs (`null` when free)
//! (<https://www.selenium.dev/documentation/grid/advanced_features/endpoints/#grid-status>). A
//! plain WebDriver server answers `value.ready` and `value.message` only (W3C WebDriver "Status",
//! <https://www.w3.org/TR/webdriver2/#status>).

use std::time::Duration;

use serde_json::Value;

/// What answers at `--webdriver`.
#[derive(Clone, Debug)]
pub enum Server {
    /// A WebDriver server with no grid status (chromedriver): the run keeps `--concurrency`.
    Plain,
    /// A Selenium Grid.
    Grid(GridStatus),
}

/// A grid's `/status`, the parts the harness uses.
#[derive(Clone, Debug, PartialEq)]
pub struct GridStatus {
    /// Whether the grid says it can take sessions.
    pub ready: bool,
    /// The grid's own message ("Selenium Grid ready.").
    pub message: String,
    /// Its nodes.
    pub nodes: Vec<NodeStatus>,
}

/// One node of a grid.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeStatus {
    /// Where the node listens.
    pub uri: String,
    /// `UP`, `DRAINING` or `DOWN`.
    pub availability: String,
    /// Sessions the node runs at most, whatever its slots.
    pub max_sessions: usize,
    /// The grid version the node runs.
    pub version: String,
    /// Its slots.
    pub slots: Vec<SlotStatus>,
}

/// One slot of a node.
#[derive(Clone, Debug, PartialEq)]
pub struct SlotStatus {
    /// The stereotype's `browserName`.
    pub browser_name: String,
    /// The id of the session in it, if any.
    pub session: Option<String>,
}

impl GridStatus {
    /// Reads a `/status` answer; `None` when it has no `value.nodes` (not a grid).
    pub fn parse(body: &Value) -> Option<GridStatus> {
        let value = &body["value"];
        let nodes = value["nodes"].as_array()?;
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        Some(GridStatus {
            ready: value["ready"].as_bool().unwrap_or(false),
            message: text(&value["message"]),
            nodes: nodes
                .iter()
                .map(|n| NodeStatus {
                    uri: text(&n["uri"]),
                    availability: text(&n["availability"]),
                    max_sessions: n["maxSessions"].as_u64().unwrap_or(u64::MAX) as usize,
                    version: text(&n["version"]),
                    slots: n["slots"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|s| SlotStatus {
                            browser_name: text(&s["stereotype"]["browserName"]),
                            session: match &s["session"] {
                                Value::Null => None,
                                session => Some(
                                    session["sessionId"]
                                        .as_str()
                                        .unwrap_or("(unnamed)")
                                        .to_string(),
                                ),
                            },
                        })
                        .collect(),
                })
                .collect(),
        })
    }

    /// Browsers named `browser_name` the grid could start right now: free matching slots of the
    /// nodes that are up, each node counted up to its `maxSessions` (a node with slots for
    /// several browsers may run fewer sessions than it has slots).
    pub fn free_for(&self, browser_name: &str) -> usize {
        self.up_nodes()
            .map(|n| {
                let busy = n.slots.iter().filter(|s| s.session.is_some()).count();
                let free = n
                    .slots
                    .iter()
                    .filter(|s| s.session.is_none() && s.browser_name == browser_name)
                    .count();
                free.min(n.max_sessions.saturating_sub(busy))
            })
            .sum()
    }

    /// Slots for `browser_name` on the nodes that are up, free or not.
    pub fn slots_for(&self, browser_name: &str) -> usize {
        self.up_nodes()
            .map(|n| {
                let slots = n
                    .slots
                    .iter()
                    .filter(|s| s.browser_name == browser_name)
                    .count();
                slots.min(n.max_sessions)
            })
            .sum()
    }

    /// Sessions running on the grid (every node, every browser).
    pub fn sessions(&self) -> Vec<String> {
        self.nodes
            .iter()
            .flat_map(|n| &n.slots)
            .filter_map(|s| s.session.clone())
            .collect()
    }

    fn up_nodes(&self) -> impl Iterator<Item = &NodeStatus> {
        self.nodes.iter().filter(|n| n.availability == "UP")
    }

    /// What the grid offers, for messages: `2 node(s) up (chrome ×2, 1 busy)`.
    pub fn describe(&self) -> String {
        let up: Vec<&NodeStatus> = self.up_nodes().collect();
        let mut offered: Vec<(String, usize, usize)> = Vec::new();
        for slot in up.iter().flat_map(|n| &n.slots) {
            let name = if slot.browser_name.is_empty() {
                "(no browserName)".to_string()
            } else {
                slot.browser_name.clone()
            };
            match offered.iter_mut().find(|(n, _, _)| *n == name) {
                Some(o) => {
                    o.1 += 1;
                    o.2 += usize::from(slot.session.is_some());
                }
                None => offered.push((name, 1, usize::from(slot.session.is_some()))),
            }
        }
        let down = self.nodes.len() - up.len();
        let slots = if offered.is_empty() {
            "no slot".to_string()
        } else {
            offered
                .iter()
                .map(|(name, n, busy)| format!("{name} ×{n}, {busy} busy"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        format!(
            "{} node(s) up ({slots}){}",
            up.len(),
            if down > 0 {
                format!(", {down} not up")
            } else {
                String::new()
            }
        )
    }

    /// The grid's version, as its first node reports it.
    pub fn version(&self) -> Option<&str> {
        self.nodes
            .iter()
            .map(|n| n.version.as_str())
            .find(|v| !v.is_empty())
    }
}

/// Asks the server at `url` for its status (`GET {url}/status`). An unreachable server, or one
/// that does not answer as WebDriver, is an error naming the URL: nothing can be judged without it.
pub async fn status(url: &str) -> Result<Server, GridError> {
    let status = format!("{}/status", url.trim_end_matches('/'));
    let unreachable = |why: String| GridError::Unreachable {
        url: url.to_string(),
        why,
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| unreachable(e.to_string()))?;
    let response = http.get(&status).send().await.map_err(|e| {
        unreachable(format!(
            "GET {status}: {}",
            crate::engine::error::error_chain(&e)
        ))
    })?;
    // Any answer means a server is there; only a grid's status is read further.
    let body: Value = response.json().await.unwrap_or(Value::Null);
    Ok(match GridStatus::parse(&body) {
        Some(grid) => Server::Grid(grid),
        None => Server::Plain,
    })
}

/// How many scenarios may work at once against the grid at `url` for `browser_name`: its free
/// slots for that browser. None free is "could not judge" with what the grid offers instead.
pub fn concurrency_from(
    url: &str,
    grid: &GridStatus,
    browser_name: &str,
) -> Result<usize, GridError> {
    let free = grid.free_for(browser_name);
    if free > 0 {
        return Ok(free);
    }
    // A grid with every slot busy says "not ready" too: the slots tell more.
    let why = if grid.slots_for(browser_name) > 0 {
        "every one of its slots for it is busy".to_string()
    } else if grid.up_nodes().next().is_some() {
        "none of its nodes offers that browser".to_string()
    } else {
        format!("it has no node up (\"{}\")", grid.message)
    };
    Err(GridError::NoFreeSlot {
        url: url.to_string(),
        browser_name: browser_name.to_string(),
        why,
        status: grid.describe(),
    })
}

/// Why the WebDriver server of `--webdriver` cannot serve the run; the message is the whole
/// story (what the server said, what to do).
#[derive(Debug)]
pub enum GridError {
    /// Nothing answers as a WebDriver server at the URL.
    Unreachable {
        /// `--webdriver`.
        url: String,
        /// What the request met.
        why: String,
    },
    /// A Selenium Grid with no free slot for the browser (and no `--concurrency` to queue).
    NoFreeSlot {
        /// `--webdriver`.
        url: String,
        /// The browser asked for.
        browser_name: String,
        /// Why none is free.
        why: String,
        /// The grid's status, described.
        status: String,
    },
}

impl std::fmt::Display for GridError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GridError::Unreachable { url, why } => write!(
                f,
                "could not judge: --webdriver {url} does not answer ({why}); start the WebDriver \
                 server or Selenium Grid hub there, fix the URL, or leave out --webdriver to start \
                 chromedriver"
            ),
            GridError::NoFreeSlot {
                url,
                browser_name,
                why,
                status,
            } => write!(
                f,
                "could not judge: the Selenium Grid at {url} has no free slot for browserName \
                 `{browser_name}`: {why}; its /status: {status}. Add a node whose stereotype has \
                 \"browserName\": \"{browser_name}\", wait until the grid's sessions end, or \
                 pass --concurrency N to queue for its slots anyway"
            ),
        }
    }
}

impl std::error::Error for GridError {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(availability: &str, max: u64, slots: &[(&str, bool)]) -> Value {
        json!({
            "uri": "http://127.0.0.1:5555",
            "availability": availability,
            "maxSessions": max,
            "version": "4.48.0 (revision 27f5213)",
            "slots": slots.iter().enumerate().map(|(i, (browser, busy))| json!({
                "stereotype": { "browserName": browser },
                "session": if *busy { json!({ "sessionId": format!("s{i}") }) } else { Value::Null },
            })).collect::<Vec<_>>(),
        })
    }

    fn grid(nodes: Vec<Value>) -> GridStatus {
        GridStatus::parse(&json!({ "value": { "ready": true, "message": "Selenium Grid ready.", "nodes": nodes } }))
            .expect("a grid status")
    }

    #[test]
    fn a_plain_driver_status_is_no_grid() {
        let chromedriver = json!({ "value": { "ready": true, "message": "ChromeDriver ready for new sessions.", "build": {} } });
        assert_eq!(GridStatus::parse(&chromedriver), None);
    }

    #[test]
    fn free_slots_count_matching_free_slots_of_nodes_that_are_up() {
        let g = grid(vec![
            node("UP", 1, &[("chrome", false)]),
            node("UP", 2, &[("chrome", true), ("chrome", false)]),
            node("DOWN", 1, &[("chrome", false)]),
            node("UP", 1, &[("firefox", false)]),
        ]);
        assert_eq!(g.free_for("chrome"), 2);
        assert_eq!(g.slots_for("chrome"), 3);
        assert_eq!(g.free_for("firefox"), 1);
        assert_eq!(g.sessions(), vec!["s0".to_string()]);
    }

    #[test]
    fn a_node_runs_no_more_than_its_max_sessions() {
        // One session of either browser: a busy firefox slot leaves no room for chrome.
        let g = grid(vec![node("UP", 1, &[("chrome", false), ("firefox", true)])]);
        assert_eq!(g.free_for("chrome"), 0);
        assert_eq!(g.slots_for("chrome"), 1);
    }

    #[test]
    fn no_matching_slot_says_what_the_grid_offers() {
        let g = grid(vec![node("UP", 1, &[("firefox", false)])]);
        let e = concurrency_from("http://hub:4444", &g, "chrome")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("http://hub:4444") && e.contains("`chrome`"),
            "{e}"
        );
        assert!(e.contains("none of its nodes offers that browser"), "{e}");
        assert!(e.contains("firefox ×1, 0 busy"), "{e}");
        let busy = grid(vec![node("UP", 1, &[("chrome", true)])]);
        let e = concurrency_from("http://hub:4444", &busy, "chrome")
            .unwrap_err()
            .to_string();
        assert!(e.contains("every one of its slots for it is busy"), "{e}");
        let empty = GridStatus::parse(&json!({ "value": { "ready": false, "message": "Selenium Grid not ready.", "nodes": [] } })).unwrap();
        let e = concurrency_from("http://hub:4444", &empty, "chrome")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("it has no node up (\"Selenium Grid not ready.\")"),
            "{e}"
        );
        assert_eq!(
            concurrency_from(
                "h",
                &grid(vec![node("UP", 4, &[("chrome", false); 3])]),
                "chrome"
            )
            .ok(),
            Some(3)
        );
    }
}
