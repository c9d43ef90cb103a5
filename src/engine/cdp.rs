//! The Chrome DevTools Protocol at the browser level: one WebSocket to the browser target, for
//! what chromedriver's `goog:cdp` passthrough cannot do from a page, above all
//! `Target.createBrowserContext` (refused there: "Not allowed", measured with Chromium 156).
//!
//! A browser context is Chromium's incognito-like profile inside one browser process: its own
//! cookie jar, HTTP cache, storage and HTTP-auth cache
//! ([CDP Target domain](https://chromedevtools.github.io/devtools-protocol/tot/Target/#method-createBrowserContext)).
//! Commands go out with an id; one reader task hands each reply to its caller. Events arrive
//! only for what a caller enabled (e.g. `Network.enable` on a page session attached with
//! `Target.attachToTarget` and `flatten: true`); the reader hands each to the channel subscribed
//! for its `sessionId` ([`Cdp::events`]) and drops the rest.
//!
//! WebDriver BiDi frames its commands the same way (`id`, `method`, `params`; a reply carries
//! the `id`), so the same client serves Firefox's BiDi socket ([`Cdp::connect_url`]); only its
//! error replies differ (`"error": "unknown command", "message": ...`,
//! <https://w3c.github.io/webdriver-bidi/#protocol-definition>).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use crate::engine::error::CdpError;

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Value, String>>>>>;

/// Event channels by DevTools session id (flattened sessions; `""` is the browser target's own).
type Subscribers = Arc<Mutex<HashMap<String, mpsc::UnboundedSender<Event>>>>;

/// One DevTools event (`Network.requestWillBeSent`, ...) of one session.
#[derive(Clone, Debug)]
pub struct Event {
    /// The event's method, e.g. `Network.responseReceived`.
    pub method: String,
    /// Its parameters.
    pub params: Value,
}

/// A browser-level DevTools connection. Dropping it closes the socket (the browser stays).
#[derive(Debug)]
pub struct Cdp {
    next_id: AtomicU64,
    outgoing: mpsc::UnboundedSender<Message>,
    pending: Pending,
    subscribers: Subscribers,
    reader: tokio::task::JoinHandle<()>,
    writer: tokio::task::JoinHandle<()>,
}

impl Cdp {
    /// Connects to the browser whose DevTools server listens at `debugger_address`
    /// (`host:port`, as chromedriver reports it in `goog:chromeOptions.debuggerAddress`).
    ///
    /// The browser's WebSocket URL comes from `/json/version`. No `Origin` header is sent, which
    /// is what lets a non-browser client connect without `--remote-allow-origins`.
    pub async fn connect(debugger_address: &str) -> Result<Cdp, CdpError> {
        let version: Value = reqwest::Client::new()
            .get(format!("http://{debugger_address}/json/version"))
            .timeout(std::time::Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| CdpError::Connect(format!("DevTools at {debugger_address}: {e}")))?
            .json()
            .await
            .map_err(|e| {
                CdpError::Connect(format!(
                    "DevTools at {debugger_address}: /json/version: {e}"
                ))
            })?;
        let ws_url = version["webSocketDebuggerUrl"]
            .as_str()
            .ok_or_else(|| {
                CdpError::Connect(format!(
                    "DevTools at {debugger_address} gave no webSocketDebuggerUrl"
                ))
            })?
            .to_string();
        Cdp::connect_url(&ws_url).await
    }

    /// Connects to a WebSocket that speaks CDP's or WebDriver BiDi's command framing, e.g. the
    /// `webSocketUrl` a WebDriver session returns when asked for BiDi.
    pub async fn connect_url(ws_url: &str) -> Result<Cdp, CdpError> {
        let (socket, _) = tokio_tungstenite::connect_async(ws_url)
            .await
            .map_err(|e| CdpError::Connect(format!("WebSocket {ws_url}: {e}")))?;
        let (mut sink, mut stream) = socket.split();
        let (outgoing, mut queue) = mpsc::unbounded_channel::<Message>();
        let writer = tokio::spawn(async move {
            while let Some(message) = queue.recv().await {
                if sink.send(message).await.is_err() {
                    break;
                }
            }
        });
        let pending: Pending = Arc::default();
        let replies = pending.clone();
        let subscribers: Subscribers = Arc::default();
        let listeners = subscribers.clone();
        let reader = tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                let Message::Text(text) = message else {
                    continue;
                };
                let Ok(reply) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                let Some(id) = reply["id"].as_u64() else {
                    if let Some(method) = reply["method"].as_str() {
                        let session = reply["sessionId"].as_str().unwrap_or_default();
                        let mut listeners = listeners.lock().unwrap_or_else(|e| e.into_inner());
                        let event = Event {
                            method: method.to_string(),
                            params: reply.get("params").cloned().unwrap_or(Value::Null),
                        };
                        // A subscriber that went away stops its session's events for good.
                        if let Some(tx) = listeners.get(session)
                            && tx.send(event).is_err()
                        {
                            listeners.remove(session);
                        }
                    }
                    continue;
                };
                let waiter = replies
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&id);
                if let Some(waiter) = waiter {
                    let answer = match reply.get("error") {
                        // BiDi: the error code, and the message beside it.
                        Some(Value::String(code)) => Err(format!(
                            "{code}: {}",
                            reply["message"].as_str().unwrap_or_default()
                        )),
                        Some(error) => Err(error["message"]
                            .as_str()
                            .unwrap_or("unknown DevTools error")
                            .to_string()),
                        None => Ok(reply.get("result").cloned().unwrap_or(Value::Null)),
                    };
                    let _ = waiter.send(answer);
                }
            }
            // The browser is gone: every caller still waiting gets an error, not a hang, and
            // every event channel ends.
            replies.lock().unwrap_or_else(|e| e.into_inner()).clear();
            listeners.lock().unwrap_or_else(|e| e.into_inner()).clear();
        });
        Ok(Cdp {
            next_id: AtomicU64::new(1),
            outgoing,
            pending,
            subscribers,
            reader,
            writer,
        })
    }

    /// Sends `method` with `params` to the browser target and waits for its result.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, CdpError> {
        self.call_in(None, method, params).await
    }

    /// Sends `method` with `params` to the flattened session `session` (from
    /// `Target.attachToTarget` with `flatten: true`), or to the browser target with `None`.
    pub async fn call_in(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, CdpError> {
        let failed = |cause: &str| CdpError::Command {
            method: method.to_string(),
            cause: cause.to_string(),
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, tx);
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        let message = message.to_string();
        if self.outgoing.send(Message::text(message)).is_err() {
            return Err(failed("the DevTools connection is closed"));
        }
        match tokio::time::timeout(std::time::Duration::from_secs(30), rx).await {
            Ok(Ok(answer)) => answer.map_err(|e| failed(&e)),
            Ok(Err(_)) => Err(failed("the browser closed its DevTools connection")),
            Err(_) => Err(failed("no answer from the browser within 30 s")),
        }
    }
}

impl Cdp {
    /// The events of session `session` from now on (subscribe before enabling a domain, or the
    /// first events are lost). One channel per session: subscribing again replaces it. The
    /// channel ends when the connection closes; dropping the receiver unsubscribes.
    pub fn events(&self, session: &str) -> mpsc::UnboundedReceiver<Event> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.subscribers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(session.to_string(), tx);
        rx
    }
}

impl Drop for Cdp {
    fn drop(&mut self) {
        self.reader.abort();
        self.writer.abort();
    }
}
