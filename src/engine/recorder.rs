//! Recording the requests a browser context makes to the target, so that every one of them can be
//! replayed after sign-out, not WhoAmI alone: a deployment may end the web client's session and
//! still accept the old cookie on the Web API, the Organization service or a file download.
//!
//! Through the browser-level DevTools connection ([`crate::engine::cdp`]) the recorder attaches to the
//! context's tabs (`Target.attachToTarget`, `flatten: true`), enables the Network domain in each,
//! and keeps, per request inside the scope (the organization URL): the method, the URL, the
//! *names* of the cookies the browser actually sent (`Network.requestWillBeSentExtraInfo`,
//! `associatedCookies` not blocked) and the status the browser got (`Network.responseReceived`,
//! or the redirect's status). Never bodies, header values or cookie values. The URL is kept whole
//! in memory to replay it; reports show it without query values ([`without_query_values`]).
//! ([CDP Network domain](https://chromedevtools.github.io/devtools-protocol/tot/Network/),
//! [Target domain](https://chromedevtools.github.io/devtools-protocol/tot/Target/)).
//!
//! Beside it, every hop on every host (AD FS too) is kept for the report's sign-out timeline
//! ([`TrailHop`]): method, URL without query values, status, the names of the cookies sent, and
//! the cookies each response set or cleared (`Network.responseReceivedExtraInfo`'s `Set-Cookie`
//! headers, parsed at once: name and attributes, never the value).
//!
//! What it does not see: tabs opened after it started, cross-origin frames and workers (targets
//! of their own), and a browser that is a process of its own (its DevTools port is chromedriver's;
//! WebDriver carries no events).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::engine::cdp::{Cdp, Event};
use crate::engine::error::CdpError;

/// At most this many distinct requests (method and URL without query values) are kept.
pub const MAX_DISTINCT: usize = 200;

/// At most this many request hops inside the scope are looked at (a page that polls forever
/// must not grow memory without end).
const MAX_HOPS: usize = 5_000;

/// At most this many hops on any host are kept for the timeline.
const MAX_TRAIL: usize = 2_000;

/// One hop of the browser's traffic on any host, as the report's timeline shows it: never a
/// cookie value, a header value or a query value.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TrailHop {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The URL without its query values ([`without_query_values`]).
    pub url: String,
    /// The host the hop went to.
    pub host: String,
    /// The status the browser got; `None` while it waited (or for a failed request).
    pub status: Option<u16>,
    /// The request failed (network error, cancelled).
    pub failed: bool,
    /// Names of the cookies the browser sent; `None` when Chromium reported no extra info.
    pub cookies_sent: Option<Vec<String>>,
    /// The cookies the response set or cleared.
    pub set_cookies: Vec<SetCookie>,
}

/// One `Set-Cookie` of a response: the cookie's name and attributes, never its value.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SetCookie {
    /// The cookie's name.
    pub name: String,
    /// Its `Domain` attribute; `None` for a host-only cookie (the hop's host).
    pub domain: Option<String>,
    /// Its `Path` attribute, if any.
    pub path: Option<String>,
    /// The other attributes as written (`Secure`, `HttpOnly`, `SameSite=None`, `Max-Age=0`,
    /// `Expires=...`).
    pub attributes: Vec<String>,
    /// The header removes the cookie: an expiry in the past or a `Max-Age` of zero or less
    /// (RFC 6265 §5.3 step 11: such a cookie is evicted).
    pub clears: bool,
}

impl SetCookie {
    /// The `Set-Cookie` header value `header` without its value; `None` when it has no name.
    pub fn parse(header: &str) -> Option<SetCookie> {
        let c = cookie::Cookie::parse(header.trim()).ok()?;
        let mut attributes = Vec::new();
        if c.secure() == Some(true) {
            attributes.push("Secure".to_string());
        }
        if c.http_only() == Some(true) {
            attributes.push("HttpOnly".to_string());
        }
        if let Some(s) = c.same_site() {
            attributes.push(format!("SameSite={s}"));
        }
        if c.partitioned() == Some(true) {
            attributes.push("Partitioned".to_string());
        }
        let max_age = c.max_age().map(|d| d.whole_seconds());
        if let Some(m) = max_age {
            attributes.push(format!("Max-Age={m}"));
        }
        let expires = c.expires_datetime();
        if let Some(e) = expires {
            attributes.push(format!("Expires={}", e.date()));
        }
        let now = cookie::time::OffsetDateTime::now_utc();
        let clears = match max_age {
            Some(m) => m <= 0,
            None => expires.is_some_and(|e| e <= now),
        };
        (!c.name().is_empty()).then(|| SetCookie {
            name: c.name().to_string(),
            domain: c.domain().map(str::to_string),
            path: c.path().map(str::to_string),
            attributes,
            clears,
        })
    }
}

/// One request the browser made (one hop of a redirect chain), inside the scope.
#[derive(Clone, PartialEq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The whole URL, kept in memory only to replay it; shown through [`RecordedRequest::shown`].
    pub url: url::Url,
    /// Names of the cookies the browser sent with it; `None` when Chromium reported none of
    /// its extra info (a response from its memory cache).
    pub cookies: Option<Vec<String>>,
    /// The status the browser got; `None` while it waits (or for a failed request).
    pub status: Option<u16>,
    /// The request failed (network error, cancelled).
    pub failed: bool,
}

impl RecordedRequest {
    /// `METHOD URL` with the query's values left out: what reports show.
    pub fn shown(&self) -> String {
        format!("{} {}", self.method, without_query_values(&self.url))
    }

    /// Whether a replay can be safe: GET and HEAD change nothing (RFC 9110 §9.2.1). Everything
    /// else is never replayed: its body is not recorded, and it could write.
    pub fn is_safe(&self) -> bool {
        self.method == "GET" || self.method == "HEAD"
    }

    /// Whether the browser got a 2xx answer while signed in.
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

impl std::fmt::Debug for RecordedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} -> {:?}", self.shown(), self.status)
    }
}

/// `url` without its fragment and with the values of its query left out (the names stay): an
/// attachment id or a paging cookie is not for reports. `https://h/p?a=1&b=2` reads
/// `https://h/p?a&b`.
pub fn without_query_values(url: &url::Url) -> String {
    let mut base = url.clone();
    base.set_fragment(None);
    base.set_query(None);
    let names: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
    if url.query().is_none() {
        base.to_string()
    } else {
        format!("{base}?{}", names.join("&"))
    }
}

/// What was recorded, deduplicated by method and URL without query values.
#[derive(Clone, Debug, Default)]
pub struct Recording {
    /// One request per distinct method and URL without query values, in the order first seen;
    /// of several, the first that succeeded (else the first).
    pub requests: Vec<RecordedRequest>,
    /// Request hops seen inside the scope, repeats included.
    pub seen: usize,
    /// Distinct requests left out over [`MAX_DISTINCT`].
    pub over_cap: usize,
}

/// The recorder's state, shared with the tasks that read the tabs' events.
#[derive(Default)]
struct Log {
    scope: Option<url::Url>,
    hops: Vec<RecordedRequest>,
    /// (session/request id, hop number) -> index into `hops`, for hops inside the scope.
    by_hop: HashMap<(String, usize), usize>,
    /// Hops announced per request id (a redirect reuses the id).
    sent: HashMap<String, usize>,
    /// Extra-info events seen per request id, and those that came before their hop.
    extra_seen: HashMap<String, usize>,
    extra_early: HashMap<(String, usize), Vec<String>>,
    seen: usize,
    /// Every hop on any host, for the timeline, and (session/request id, hop number) -> index.
    trail: Vec<TrailHop>,
    trail_by_hop: HashMap<(String, usize), usize>,
    /// How much of `trail` [`Recorder::drain_trail`] has handed out.
    trail_drained: usize,
    /// Response extra-info events seen per request id (the n-th belongs to hop n).
    response_extra_seen: HashMap<String, usize>,
}

impl Log {
    fn in_scope(&self, url: &url::Url) -> bool {
        let Some(scope) = &self.scope else {
            return false;
        };
        url.origin() == scope.origin()
            && url
                .path()
                .to_ascii_lowercase()
                .starts_with(&scope.path().to_ascii_lowercase())
    }

    fn current(&self, rid: &str) -> Option<usize> {
        let n = *self.sent.get(rid)?;
        self.by_hop
            .get(&(rid.to_string(), n.checked_sub(1)?))
            .copied()
    }

    fn current_trail(&mut self, rid: &str) -> Option<&mut TrailHop> {
        let n = *self.sent.get(rid)?;
        let i = *self
            .trail_by_hop
            .get(&(rid.to_string(), n.checked_sub(1)?))?;
        self.trail.get_mut(i)
    }

    fn on_event(&mut self, session: &str, event: &Event) {
        let p = &event.params;
        let Some(rid) = p["requestId"].as_str() else {
            return;
        };
        // Request ids are per target: keep them apart across tabs.
        let rid = format!("{session}/{rid}");
        match event.method.as_str() {
            "Network.requestWillBeSent" => {
                if let Some(status) = p["redirectResponse"]["status"].as_u64() {
                    let status = u16::try_from(status).ok();
                    if let Some(i) = self.current(&rid) {
                        self.hops[i].status = status;
                    }
                    if let Some(hop) = self.current_trail(&rid) {
                        hop.status = status;
                    }
                }
                let hop = {
                    let n = self.sent.entry(rid.clone()).or_default();
                    *n += 1;
                    *n - 1
                };
                let early = self.extra_early.remove(&(rid.clone(), hop));
                let Some(url) = p["request"]["url"]
                    .as_str()
                    .and_then(|u| url::Url::parse(u).ok())
                else {
                    return;
                };
                let method = p["request"]["method"]
                    .as_str()
                    .unwrap_or("GET")
                    .to_ascii_uppercase();
                if self.trail.len() < MAX_TRAIL && matches!(url.scheme(), "http" | "https") {
                    self.trail_by_hop
                        .insert((rid.clone(), hop), self.trail.len());
                    self.trail.push(TrailHop {
                        method: method.clone(),
                        url: without_query_values(&url),
                        host: url.host_str().unwrap_or_default().to_string(),
                        status: None,
                        failed: false,
                        cookies_sent: early.clone(),
                        set_cookies: Vec::new(),
                    });
                }
                if !self.in_scope(&url) || self.hops.len() >= MAX_HOPS {
                    return;
                }
                self.seen += 1;
                self.by_hop.insert((rid, hop), self.hops.len());
                self.hops.push(RecordedRequest {
                    method,
                    url,
                    cookies: early,
                    status: None,
                    failed: false,
                });
            }
            "Network.requestWillBeSentExtraInfo" => {
                let names: Vec<String> = p["associatedCookies"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|c| c["blockedReasons"].as_array().is_none_or(|r| r.is_empty()))
                    .filter_map(|c| c["cookie"]["name"].as_str().map(str::to_string))
                    .collect();
                let hop = {
                    let n = self.extra_seen.entry(rid.clone()).or_default();
                    *n += 1;
                    *n - 1
                };
                if let Some(&t) = self.trail_by_hop.get(&(rid.clone(), hop)) {
                    self.trail[t].cookies_sent = Some(names.clone());
                }
                match self.by_hop.get(&(rid.clone(), hop)) {
                    Some(&i) => self.hops[i].cookies = Some(names),
                    // The hop is announced later, or it is outside the scope (dropped then).
                    None if self.sent.get(&rid).copied().unwrap_or(0) <= hop => {
                        self.extra_early.insert((rid, hop), names);
                    }
                    None => {}
                }
            }
            "Network.responseReceived" => {
                let status = p["response"]["status"]
                    .as_u64()
                    .and_then(|s| u16::try_from(s).ok());
                if let Some(i) = self.current(&rid) {
                    self.hops[i].status = status;
                }
                if let Some(hop) = self.current_trail(&rid) {
                    hop.status = status;
                }
            }
            "Network.responseReceivedExtraInfo" => {
                let hop = {
                    let n = self.response_extra_seen.entry(rid.clone()).or_default();
                    *n += 1;
                    *n - 1
                };
                // Header names are as the server sent them; several Set-Cookie headers come
                // joined by newlines. Each is cut down to name and attributes here.
                let set_cookies: Vec<SetCookie> = p["headers"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
                    .filter_map(|(_, v)| v.as_str())
                    .flat_map(str::lines)
                    .filter_map(SetCookie::parse)
                    .collect();
                if let Some(&t) = self.trail_by_hop.get(&(rid, hop)) {
                    self.trail[t].set_cookies = set_cookies;
                }
            }
            "Network.loadingFailed" => {
                if let Some(i) = self.current(&rid) {
                    self.hops[i].failed = true;
                }
                if let Some(hop) = self.current_trail(&rid) {
                    hop.failed = true;
                }
            }
            _ => {}
        }
    }

    fn pending(&self) -> usize {
        self.hops
            .iter()
            .filter(|h| h.status.is_none() && !h.failed)
            .count()
    }

    fn recording(&self) -> Recording {
        let mut order: Vec<String> = Vec::new();
        let mut chosen: HashMap<String, RecordedRequest> = HashMap::new();
        for hop in &self.hops {
            let key = hop.shown();
            match chosen.get(&key) {
                None => {
                    order.push(key.clone());
                    chosen.insert(key, hop.clone());
                }
                Some(first) if !first.succeeded() && hop.succeeded() => {
                    chosen.insert(key, hop.clone());
                }
                Some(_) => {}
            }
        }
        let over_cap = order.len().saturating_sub(MAX_DISTINCT);
        Recording {
            requests: order
                .iter()
                .take(MAX_DISTINCT)
                .filter_map(|k| chosen.remove(k))
                .collect(),
            seen: self.seen,
            over_cap,
        }
    }
}

/// Records the requests of one browser context's tabs from [`Recorder::start`] on. Dropping it
/// stops the recording (the tabs stay attached until the context is disposed).
pub struct Recorder {
    log: Arc<Mutex<Log>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("tabs", &self.tasks.len())
            .finish()
    }
}

impl Recorder {
    /// Starts recording the requests that the tabs of context `context_id` make inside `scope`
    /// (same origin, path beneath `scope`'s), through the browser-level connection `cdp`.
    pub async fn start(
        cdp: &Cdp,
        context_id: &str,
        scope: &url::Url,
    ) -> Result<Recorder, CdpError> {
        let log = Arc::new(Mutex::new(Log {
            scope: Some(scope.clone()),
            ..Log::default()
        }));
        let targets = cdp.call("Target.getTargets", json!({})).await?;
        let tabs: Vec<String> = targets["targetInfos"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["type"] == "page" && t["browserContextId"] == context_id)
            .filter_map(|t| t["targetId"].as_str().map(str::to_string))
            .collect();
        if tabs.is_empty() {
            return Err(CdpError::Answer(format!(
                "browser context {context_id} has no tab to record"
            )));
        }
        let mut recorder = Recorder {
            log,
            tasks: Vec::new(),
        };
        for tab in tabs {
            let attached = cdp
                .call(
                    "Target.attachToTarget",
                    json!({ "targetId": tab, "flatten": true }),
                )
                .await?;
            let session = attached["sessionId"]
                .as_str()
                .ok_or_else(|| CdpError::Answer("Target.attachToTarget gave no sessionId".into()))?
                .to_string();
            // Subscribe first: events flow as soon as the domain is enabled.
            let mut events = cdp.events(&session);
            let log = recorder.log.clone();
            let id = session.clone();
            recorder.tasks.push(tokio::spawn(async move {
                while let Some(event) = events.recv().await {
                    lock(&log).on_event(&id, &event);
                }
            }));
            // No buffers asked for: bodies are never kept, so Chromium need not hold them.
            cdp.call_in(
                Some(&session),
                "Network.enable",
                json!({ "maxTotalBufferSize": 0, "maxResourceBufferSize": 0 }),
            )
            .await?;
        }
        Ok(recorder)
    }

    /// Waits (up to `limit`) until no recorded request is still waiting for its answer, so a
    /// request the page started just before is recorded with its status.
    pub async fn settle(&self, limit: Duration) {
        let _ = crate::engine::wait::Wait::at_most(limit)
            .every(Duration::from_millis(20))
            .until(|| {
                let pending = lock(&self.log).pending();
                async move { (pending == 0).then_some(()) }
            })
            .await;
    }

    /// What has been recorded so far.
    pub fn recording(&self) -> Recording {
        lock(&self.log).recording()
    }

    /// The hops on any host since the last call, in order, for the timeline.
    pub fn drain_trail(&self) -> Vec<TrailHop> {
        let mut log = lock(&self.log);
        let from = log.trail_drained.min(log.trail.len());
        log.trail_drained = log.trail.len();
        log.trail[from..].to_vec()
    }

    /// What has been recorded so far; the recording then starts afresh (a second sign-in and
    /// sign-out in one scenario gets a recording of its own).
    pub fn take(&self) -> Recording {
        let mut log = lock(&self.log);
        let recording = log.recording();
        log.hops.clear();
        log.by_hop.clear();
        log.seen = 0;
        recording
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn event(method: &str, params: Value) -> Event {
        Event {
            method: method.into(),
            params,
        }
    }

    fn log() -> Log {
        Log {
            scope: Some(url::Url::parse("https://crm.contoso.test/contoso/").unwrap()),
            ..Log::default()
        }
    }

    #[test]
    fn query_values_are_left_out_and_names_kept() {
        let u =
            url::Url::parse("https://h.test/o/a.aspx?AttachmentType=5&AttachmentId=x#f").unwrap();
        assert_eq!(
            without_query_values(&u),
            "https://h.test/o/a.aspx?AttachmentType&AttachmentId"
        );
        let u = url::Url::parse("https://h.test/o/api/data/v9.0/WhoAmI").unwrap();
        assert_eq!(
            without_query_values(&u),
            "https://h.test/o/api/data/v9.0/WhoAmI"
        );
    }

    #[test]
    fn a_redirect_chain_keeps_each_hop_with_its_status_and_cookie_names() {
        let mut l = log();
        // Extra info may come before its request.
        l.on_event(
            "s",
            &event(
                "Network.requestWillBeSentExtraInfo",
                json!({"requestId": "1", "associatedCookies": [
                    {"blockedReasons": [], "cookie": {"name": "MSISAuth", "value": "secret"}},
                    {"blockedReasons": ["SameSiteLax"], "cookie": {"name": "Other", "value": "x"}}
                ]}),
            ),
        );
        l.on_event(
            "s",
            &event(
                "Network.requestWillBeSent",
                json!({"requestId": "1", "request": {"method": "GET", "url": "https://crm.contoso.test/contoso/main.aspx?x=1"}}),
            ),
        );
        l.on_event(
            "s",
            &event(
                "Network.requestWillBeSent",
                json!({"requestId": "1", "redirectResponse": {"status": 302},
                       "request": {"method": "GET", "url": "https://crm.contoso.test/contoso/loader.aspx"}}),
            ),
        );
        assert_eq!(l.pending(), 1);
        l.on_event(
            "s",
            &event(
                "Network.responseReceived",
                json!({"requestId": "1", "response": {"status": 200}}),
            ),
        );
        // Outside the scope: not kept.
        l.on_event(
            "s",
            &event(
                "Network.requestWillBeSent",
                json!({"requestId": "2", "request": {"method": "GET", "url": "https://adfs.contoso.test/adfs/ls/"}}),
            ),
        );
        let r = l.recording();
        assert_eq!(r.requests.len(), 2, "{:?}", r.requests);
        assert_eq!(r.requests[0].status, Some(302));
        assert_eq!(r.requests[0].cookies, Some(vec!["MSISAuth".to_string()]));
        assert_eq!(r.requests[1].status, Some(200));
        assert_eq!(l.pending(), 0);
        // Nothing recorded holds a cookie value.
        assert!(!format!("{:?}", r.requests).contains("secret"));
    }

    #[test]
    fn repeats_are_one_request_and_the_cap_holds() {
        let mut l = log();
        for i in 0..(MAX_DISTINCT + 10) {
            for _ in 0..2 {
                l.on_event(
                    "s",
                    &event(
                        "Network.requestWillBeSent",
                        json!({"requestId": format!("r{i}-{}", l.seen), "request": {"method": "GET",
                               "url": format!("https://crm.contoso.test/contoso/p{i}?id={}", l.seen)}}),
                    ),
                );
            }
        }
        let r = l.recording();
        assert_eq!(r.seen, 2 * (MAX_DISTINCT + 10));
        assert_eq!(r.requests.len(), MAX_DISTINCT);
        assert_eq!(r.over_cap, 10);
    }
}
