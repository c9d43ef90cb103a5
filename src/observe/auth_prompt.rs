//! The browser's own sign-in prompt for HTTP authentication (the dialog a browser shows for a
//! `401` with `WWW-Authenticate: NTLM` when it does not sign in automatically), answered the way
//! a person answers it.
//!
//! A test cannot type into that dialog through WebDriver; the DevTools Fetch domain hands it over
//! instead: `Fetch.enable {handleAuthRequests: true}` turns each prompt into a
//! `Fetch.authRequired` event, answered with `Fetch.continueWithAuth` (`ProvideCredentials` is
//! typing and pressing Sign in, `CancelAuth` is pressing Cancel: the browser then shows the
//! server's 401 page). Requests matched by the pattern pause too and are continued unchanged
//! ([CDP Fetch domain](https://chromedevtools.github.io/devtools-protocol/tot/Fetch/)). A 401 that
//! the browser answers itself (from its HTTP-auth cache) raises no event: that is what this
//! tells apart (docs/browser-facts.md B8).

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::config::target::Secret;
use crate::engine::cdp::Cdp;
use crate::engine::error::CdpError;

/// One prompt the browser showed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prompt {
    /// The scheme the browser asked for, as Chromium names it (`ntlm`, `basic`, ...).
    pub scheme: String,
    /// The origin that asked.
    pub origin: String,
    /// Whether it was answered with credentials (else cancelled: nobody typed anything).
    pub answered: bool,
}

impl std::fmt::Display for Prompt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} prompt from {} ({})",
            self.scheme,
            self.origin,
            if self.answered {
                "answered with the user's credentials"
            } else {
                "cancelled: nobody typed"
            }
        )
    }
}

type Answer = Option<(String, Arc<Secret>)>;

/// Watches one browser's tab for sign-in prompts; ends when dropped.
#[derive(Debug)]
pub struct AuthPrompts {
    seen: Arc<Mutex<Vec<Prompt>>>,
    answer: Arc<Mutex<Answer>>,
    task: tokio::task::JoinHandle<()>,
}

impl AuthPrompts {
    /// Attaches to the page of the browser whose DevTools server is at `debugger_address` (a
    /// browser process with one tab) and starts answering its prompts: cancelled until
    /// [`AuthPrompts::answer_with`] gives credentials.
    pub async fn attach(debugger_address: &str) -> Result<AuthPrompts, CdpError> {
        let cdp = Arc::new(Cdp::connect(debugger_address).await?);
        let targets = cdp.call("Target.getTargets", json!({})).await?;
        let page = targets["targetInfos"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["type"] == "page")
            .and_then(|t| t["targetId"].as_str())
            .ok_or_else(|| {
                CdpError::Answer("the browser has no tab to watch for sign-in prompts".into())
            })?
            .to_string();
        let session = cdp
            .call(
                "Target.attachToTarget",
                json!({ "targetId": page, "flatten": true }),
            )
            .await?["sessionId"]
            .as_str()
            .ok_or_else(|| CdpError::Answer("Target.attachToTarget gave no sessionId".into()))?
            .to_string();
        let mut events = cdp.events(&session);
        cdp.call_in(
            Some(&session),
            "Fetch.enable",
            json!({ "patterns": [{ "urlPattern": "*" }], "handleAuthRequests": true }),
        )
        .await?;
        let seen: Arc<Mutex<Vec<Prompt>>> = Arc::default();
        let answer: Arc<Mutex<Answer>> = Arc::default();
        let (seen_w, answer_r) = (seen.clone(), answer.clone());
        let task = tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                let id = event.params["requestId"].clone();
                let (method, params) = match event.method.as_str() {
                    "Fetch.requestPaused" => ("Fetch.continueRequest", json!({ "requestId": id })),
                    "Fetch.authRequired" => {
                        let given = answer_r.lock().unwrap_or_else(|e| e.into_inner()).clone();
                        let challenge = &event.params["authChallenge"];
                        seen_w
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(Prompt {
                                scheme: text(&challenge["scheme"]),
                                origin: text(&challenge["origin"]),
                                answered: given.is_some(),
                            });
                        let response = match &given {
                            Some((user, password)) => json!({
                                "response": "ProvideCredentials",
                                "username": user,
                                "password": password.expose(),
                            }),
                            None => json!({ "response": "CancelAuth" }),
                        };
                        (
                            "Fetch.continueWithAuth",
                            json!({ "requestId": id, "authChallengeResponse": response }),
                        )
                    }
                    _ => continue,
                };
                // A request the tab abandoned meanwhile has nothing left to continue.
                let _ = cdp.call_in(Some(&session), method, params).await;
            }
        });
        Ok(AuthPrompts { seen, answer, task })
    }

    /// From now on, prompts are answered with `user` and `password` (`None`: cancelled).
    pub fn answer_with(&self, credentials: Option<(String, Arc<Secret>)>) {
        *self.answer.lock().unwrap_or_else(|e| e.into_inner()) = credentials;
    }

    /// The prompts shown since the last call.
    pub fn take(&self) -> Vec<Prompt> {
        std::mem::take(&mut *self.seen.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Drop for AuthPrompts {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}
