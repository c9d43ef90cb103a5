//! Every WebDriver session the harness opens, so none outlives the harness on a server it does
//! not own (a Selenium Grid, a driver someone else started).
//!
//! A browser the harness's own chromedriver started dies with that driver's process group
//! ([`crate::engine::process`]). A session on someone else's server does not: a grid keeps it, and its
//! slot, until the node's `--session-timeout` (300 s by default) ends it
//! (<https://www.selenium.dev/documentation/grid/configuration/cli_options/#node>). So every
//! session is noted here when it starts and forgotten when it ends, and [`end_all`] deletes
//! (`DELETE /session/{id}`, W3C WebDriver "Delete Session") those left: at the end of a run, and
//! from the Ctrl-C/SIGTERM handler.
//!
//! A new-session request has a deadline of its own ([`new_session_deadline`]): a grid queues a
//! request until a matching slot is free, up to its `--session-request-timeout` (300 s by
//! default), far longer than anyone should wait for a verdict. A request given up is dropped with
//! its connection; Selenium Grid 4 then removes it from its queue (and stops a session created
//! for it meanwhile), checked against Grid 4.48.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

// These are process-wide because the signal handler must end every open session on a server the
// harness does not own, and refuse new ones, from no context but these (process::install_signal_handler).

/// Sessions open right now: (server URL, session id).
static OPEN: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

/// Servers the harness started itself: their sessions end with their process.
static OWNED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// New-session requests under way.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// Set once the harness is ending: no new session may start.
static ENDING: AtomicBool = AtomicBool::new(false);

/// How long a new-session request may take unless `--new-session-timeout` says otherwise
/// ([`LaunchOptions::new_session_timeout`](crate::engine::browser::LaunchOptions)): a browser start takes 1-2 s on an idle machine and
/// several on a loaded grid node; a minute is ample, and far below a grid's 300 s queue timeout.
pub const DEFAULT_NEW_SESSION_DEADLINE: Duration = Duration::from_secs(60);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Notes a server the harness started (its sessions end with its process group).
pub fn own_server(url: &str) {
    lock(&OWNED).push(url.trim_end_matches('/').to_string());
}

/// Forgets a server the harness started, once it has ended.
pub fn disown_server(url: &str) {
    let url = url.trim_end_matches('/');
    lock(&OWNED).retain(|u| u != url);
}

/// Whether the harness started the WebDriver server at `url` itself (its own driver).
pub fn owns(url: &str) -> bool {
    lock(&OWNED).iter().any(|u| u == url.trim_end_matches('/'))
}

/// Notes a session that started on `server`.
pub fn opened(server: &str, id: &str) {
    lock(&OPEN).push((server.trim_end_matches('/').to_string(), id.to_string()));
}

/// Forgets a session that ended.
pub fn closed(id: &str) {
    lock(&OPEN).retain(|(_, i)| i != id);
}

/// The sessions open right now on servers the harness does not own: (server URL, session id).
pub fn open_remote() -> Vec<(String, String)> {
    let owned = lock(&OWNED).clone();
    lock(&OPEN)
        .iter()
        .filter(|(server, _)| !owned.contains(server))
        .cloned()
        .collect()
}

/// Marks a new-session request under way while alive; refuses one once the harness is ending.
pub struct Request(());

impl Request {
    /// `None` once [`end_all`] has begun: a session started now would outlive the harness.
    pub fn begin() -> Option<Request> {
        IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
        if ENDING.load(Ordering::SeqCst) {
            IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Request(()))
    }
}

impl Drop for Request {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Deletes every session still open on a server the harness does not own, within `limit` (the
/// end of a run: a scenario's browser that could not be closed). Returns those it could not
/// delete, as `server/session/id: why`.
pub async fn end_open(limit: Duration) -> Vec<String> {
    end(limit, false).await
}

/// For a harness about to exit (Ctrl-C, SIGTERM): refuses new sessions from now on, then deletes
/// every session still open on a server the harness does not own, within `limit`. Requests under
/// way are waited for (within `limit`), since the sessions deleted here free the slots they may
/// be queued for; one still queued at the end is dropped with the process's connections, which a
/// grid takes as the request's end.
pub async fn end_on_exit(limit: Duration) -> Vec<String> {
    ENDING.store(true, Ordering::SeqCst);
    end(limit, true).await
}

async fn end(limit: Duration, wait_for_requests: bool) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + limit;
    let Ok(http) = reqwest::Client::builder().build() else {
        return vec!["cannot make an HTTP client".into()];
    };
    let mut failed = Vec::new();
    loop {
        let results = futures::future::join_all(open_remote().into_iter().map(|(server, id)| {
            let http = &http;
            async move {
                let url = format!("{server}/session/{id}");
                let outcome = tokio::time::timeout_at(deadline, http.delete(&url).send()).await;
                let why = match outcome {
                    // 404: the session was already gone (its node ended it).
                    Ok(Ok(r)) if r.status().is_success() || r.status().as_u16() == 404 => None,
                    Ok(Ok(r)) => Some(format!("answered {}", r.status())),
                    Ok(Err(e)) => Some(crate::engine::error::error_chain(&e)),
                    Err(_) => Some(format!("no answer within {limit:?}")),
                };
                (id, why.map(|why| format!("DELETE {url}: {why}")))
            }
        }))
        .await;
        for (id, why) in results {
            closed(&id);
            failed.extend(why);
        }
        let requests = wait_for_requests && IN_FLIGHT.load(Ordering::SeqCst) > 0;
        if (!requests && open_remote().is_empty()) || tokio::time::Instant::now() >= deadline {
            return failed;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
