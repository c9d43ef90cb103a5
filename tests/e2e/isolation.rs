//! Browser contexts keep people apart as well as browser processes do (`--isolation context`).
//!
//! Two people get contexts of one shared browser ([`BrowserHost`]) and act at the same time
//! against a small HTTP server of this test, on a real socket. What one of them leaves behind (a
//! cookie, a page in the HTTP cache, an HTTP-auth cache entry, a sign-out) must never be seen by
//! the other. Each check has its control: a second tab of the same context does see it, so the
//! check would catch a shared jar, cache or auth cache.
//!
//! Firefox's people take turns in a Firefox ([`SharedBrowser`]), each in a WebDriver BiDi user
//! context of their own: the person after must see nothing of the person before, in the same
//! Firefox (the same WebDriver session).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use crate::support::browser::launch_options;
use crate::support::cpu;
use logout_harness::engine::browser::{Browser, BrowserHost, BrowserKind, Driver, SharedBrowser};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// One request as the server saw it.
#[derive(Clone, Debug)]
struct Seen {
    path: String,
    cookie: Option<String>,
    authorization: Option<String>,
}

/// An HTTP/1.1 server on loopback: `/set-cookie`, `/cached` (cacheable for an hour), `/basic`
/// (HTTP Basic), `/login`, `/logout`, `/whoami` (a server-side session), `/echo`.
struct Server {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    async fn start() -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let sessions: Arc<Mutex<BTreeSet<String>>> = Arc::default();
        let (log, live) = (seen.clone(), sessions.clone());
        tokio::spawn(async move {
            let next = Arc::new(Mutex::new(0u64));
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let (log, live, next) = (log.clone(), live.clone(), next.clone());
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut lines = BufReader::new(read);
                    loop {
                        let mut request_line = String::new();
                        if lines.read_line(&mut request_line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let mut headers = BTreeMap::new();
                        loop {
                            let mut line = String::new();
                            if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                                return;
                            }
                            let line = line.trim_end();
                            if line.is_empty() {
                                break;
                            }
                            if let Some((k, v)) = line.split_once(':') {
                                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                            }
                        }
                        let path = request_line
                            .split_whitespace()
                            .nth(1)
                            .unwrap_or("/")
                            .to_string();
                        let cookie = headers.get("cookie").cloned();
                        let authorization = headers.get("authorization").cloned();
                        log.lock().unwrap().push(Seen {
                            path: path.clone(),
                            cookie: cookie.clone(),
                            authorization: authorization.clone(),
                        });
                        let sid = cookie.as_deref().and_then(|c| {
                            c.split("; ")
                                .find_map(|kv| kv.strip_prefix("sid="))
                                .map(str::to_string)
                        });
                        let (status, extra, body) = match path.as_str() {
                            "/set-cookie" => (
                                "200 OK",
                                "Set-Cookie: left=behind; Path=/\r\n".to_string(),
                                "set".to_string(),
                            ),
                            "/cached" => (
                                "200 OK",
                                "Cache-Control: max-age=3600\r\n".to_string(),
                                "cached page".to_string(),
                            ),
                            "/basic" if authorization.is_some() => {
                                ("200 OK", String::new(), "authorized".to_string())
                            }
                            "/basic" => (
                                "401 Unauthorized",
                                "WWW-Authenticate: Basic realm=\"isolation\"\r\n".to_string(),
                                "who are you".to_string(),
                            ),
                            "/login" => {
                                let id = {
                                    let mut n = next.lock().unwrap();
                                    *n += 1;
                                    format!("s{n}")
                                };
                                live.lock().unwrap().insert(id.clone());
                                (
                                    "200 OK",
                                    format!("Set-Cookie: sid={id}; Path=/; HttpOnly\r\n"),
                                    "signed in".to_string(),
                                )
                            }
                            "/logout" => {
                                if let Some(sid) = &sid {
                                    live.lock().unwrap().remove(sid);
                                }
                                (
                                    "200 OK",
                                    "Set-Cookie: sid=; Path=/; Max-Age=0\r\n".to_string(),
                                    "signed out".to_string(),
                                )
                            }
                            "/whoami" => match &sid {
                                Some(s) if live.lock().unwrap().contains(s) => {
                                    ("200 OK", String::new(), format!("session {s}"))
                                }
                                _ => ("401 Unauthorized", String::new(), "nobody".to_string()),
                            },
                            _ => (
                                "200 OK",
                                String::new(),
                                format!("cookie: {}", cookie.unwrap_or_default()),
                            ),
                        };
                        let response = format!(
                            "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{extra}\r\n{body}",
                            body.len()
                        );
                        if write.write_all(response.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Server { base, seen }
    }

    fn hits(&self, path: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == path)
            .count()
    }

    fn last(&self, path: &str) -> Seen {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|s| s.path == path)
            .cloned()
            .unwrap_or_else(|| panic!("the server never saw {path}"))
    }
}

async fn visit(browser: &Browser, url: impl AsRef<str>) -> String {
    browser.goto(url.as_ref()).await.unwrap();
    browser
        .body_text()
        .await
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Both sign in at the same time, `a` signs out: `b`'s session is untouched.
async fn a_sign_out_leaves_the_other_signed_in(a: &Browser, b: &Browser, base: &str) {
    let (sa, sb) = tokio::join!(
        visit(a, format!("{base}/login")),
        visit(b, format!("{base}/login"))
    );
    assert_eq!((sa.as_str(), sb.as_str()), ("signed in", "signed in"));
    visit(a, format!("{base}/logout")).await;
    assert_eq!(visit(a, format!("{base}/whoami")).await, "nobody");
    assert!(
        visit(b, format!("{base}/whoami"))
            .await
            .starts_with("session s"),
        "one person's sign-out ended the other's session"
    );
}

/// A second tab of the same context, made current: the control that sees what the context holds.
async fn second_tab(browser: &Browser) {
    let tab = browser.new_tab().await.unwrap();
    browser.client().switch_to_window(tab).await.unwrap();
}

struct Fixture {
    host: Arc<BrowserHost>,
    _driver: Driver,
    server: Server,
}

async fn fixture() -> Fixture {
    let driver = Driver::start(&[])
        .await
        .expect("chromedriver (run ci/setup)");
    let launch = launch_options(BrowserKind::Chromium, &driver);
    let host = BrowserHost::launch(driver.url(), &launch, 2).await.unwrap();
    Fixture {
        host,
        _driver: driver,
        server: Server::start().await,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contexts_share_no_cookie_cache_auth_or_session() {
    let _cpu = cpu::take(1);
    let f = fixture().await;
    let base = f.server.base.clone();
    let (a, b) = tokio::join!(f.host.open(), f.host.open());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a.is_context() && b.is_context());

    // A cookie set in A, while B looks at the same server at the same time.
    let (set, _) = tokio::join!(
        visit(&a, format!("{base}/set-cookie")),
        visit(&b, format!("{base}/echo"))
    );
    assert_eq!(set, "set");
    assert!(
        a.all_cookies()
            .await
            .unwrap()
            .iter()
            .any(|c| c.name == "left")
    );
    assert!(
        b.all_cookies().await.unwrap().is_empty(),
        "B's jar holds A's cookie"
    );
    assert_eq!(visit(&b, format!("{base}/echo")).await, "cookie:");
    second_tab(&a).await;
    assert_eq!(
        visit(&a, format!("{base}/echo")).await,
        "cookie: left=behind",
        "control: A's own second tab sends A's cookie"
    );

    // A page in A's HTTP cache: A's second load never reaches the server, B's does.
    visit(&a, format!("{base}/cached")).await;
    visit(&a, format!("{base}/cached")).await;
    assert_eq!(
        f.server.hits("/cached"),
        1,
        "control: A's second load comes from A's cache"
    );
    visit(&b, format!("{base}/cached")).await;
    assert_eq!(
        f.server.hits("/cached"),
        2,
        "B's load was answered from A's HTTP cache"
    );

    // An HTTP-auth cache entry: A signs in with Basic credentials; B asks without any.
    let with_credentials = base.replacen("http://", "http://alice:secret@", 1);
    assert_eq!(
        visit(&a, format!("{with_credentials}/basic")).await,
        "authorized"
    );
    visit(&a, format!("{base}/basic")).await;
    assert!(
        f.server.last("/basic").authorization.is_some(),
        "control: A's auth cache answers for A"
    );
    visit(&b, format!("{base}/basic")).await;
    assert_eq!(
        f.server.last("/basic").authorization,
        None,
        "B's request carried A's credentials"
    );

    // A sign-out: both sign in at the same time, A signs out, B's session is untouched.
    a_sign_out_leaves_the_other_signed_in(&a, &b, &base).await;
    assert!(f.server.last("/whoami").cookie.is_some());

    a.close().await.unwrap();
    b.close().await.unwrap();
    f.host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_context_leaves_nothing_to_the_next_one() {
    let _cpu = cpu::take(1);
    let f = fixture().await;
    let base = f.server.base.clone();
    let first = f.host.open().await.unwrap();
    visit(&first, format!("{base}/login")).await;
    visit(&first, format!("{base}/set-cookie")).await;
    second_tab(&first).await;
    assert_eq!(first.tabs().await.unwrap().len(), 2);
    first.close().await.unwrap();

    // The next person reuses the same WebDriver session, on a new context.
    let next = f.host.open().await.unwrap();
    assert!(next.all_cookies().await.unwrap().is_empty());
    assert_eq!(visit(&next, format!("{base}/whoami")).await, "nobody");
    assert_eq!(
        next.tabs().await.unwrap().len(),
        1,
        "the next person sees only their own tab"
    );
    next.close().await.unwrap();
    f.host.shutdown().await;
}

/// Signs in to `/basic` from the page with XMLHttpRequest's own credentials, which puts them in
/// the browser's HTTP-auth cache (Firefox asks before it follows a URL with credentials).
async fn basic_sign_in(browser: &Browser) -> u64 {
    let status = browser
        .client()
        .execute(
            "const x = new XMLHttpRequest(); x.open('GET', '/basic', false, 'alice', 'secret'); \
             x.send(); return x.status;",
            vec![],
        )
        .await
        .unwrap();
    status.as_u64().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firefox_user_contexts_leave_nothing_to_the_next_person() {
    let _cpu = cpu::take(1);
    let driver = Driver::start_for(BrowserKind::Firefox, &[])
        .await
        .expect("geckodriver and firefox-esr (run ci/setup)");
    let launch = launch_options(BrowserKind::Firefox, &driver);
    let shared = SharedBrowser::new(1, driver.url(), &launch);
    let server = Server::start().await;
    let base = server.base.clone();

    // The first person leaves a cookie, a cached page, an HTTP-auth entry and a session.
    let first = shared.open().await.unwrap();
    assert!(first.is_context());
    let first_session = first.client().session_id().await.unwrap();
    assert_eq!(visit(&first, format!("{base}/set-cookie")).await, "set");
    visit(&first, format!("{base}/cached")).await;
    visit(&first, format!("{base}/cached")).await;
    assert_eq!(
        server.hits("/cached"),
        1,
        "control: the second load comes from the person's cache"
    );
    assert_eq!(basic_sign_in(&first).await, 200);
    visit(&first, format!("{base}/basic")).await;
    assert!(
        server.last("/basic").authorization.is_some(),
        "control: the person's auth cache answers for them"
    );
    assert_eq!(visit(&first, format!("{base}/login")).await, "signed in");
    second_tab(&first).await;
    assert!(
        visit(&first, format!("{base}/echo"))
            .await
            .contains("left=behind"),
        "control: the person's own second tab sends their cookie"
    );
    assert!(
        visit(&first, format!("{base}/whoami"))
            .await
            .starts_with("session s")
    );
    assert_eq!(first.tabs().await.unwrap().len(), 2);
    assert!(
        first
            .all_cookies()
            .await
            .unwrap()
            .iter()
            .any(|c| c.name == "left")
    );
    first.close().await.unwrap();

    // The next person gets the same Firefox, on a new user context: none of it is there.
    let next = shared.open().await.unwrap();
    assert_eq!(
        next.client().session_id().await.unwrap(),
        first_session,
        "the next person is served by the same Firefox"
    );
    assert!(next.all_cookies().await.unwrap().is_empty());
    assert_eq!(visit(&next, format!("{base}/echo")).await, "cookie:");
    assert_eq!(visit(&next, format!("{base}/whoami")).await, "nobody");
    visit(&next, format!("{base}/cached")).await;
    assert_eq!(
        server.hits("/cached"),
        2,
        "the next person's load was answered from the first person's HTTP cache"
    );
    visit(&next, format!("{base}/basic")).await;
    assert_eq!(
        server.last("/basic").authorization,
        None,
        "the next person's request carried the first person's credentials"
    );
    assert_eq!(
        next.tabs().await.unwrap().len(),
        1,
        "the next person sees only their own tab"
    );

    // Two people at once (a second Firefox): a sign-out in one leaves the other's session.
    let other = shared.open().await.unwrap();
    a_sign_out_leaves_the_other_signed_in(&next, &other, &base).await;
    next.close().await.unwrap();
    other.close().await.unwrap();
    shared.shutdown().await;
}
