//! A small HTTP server of a test on loopback: each connection is served by a function of the
//! test's, in a thread of its own, until the server is dropped.
//!
//! A thread per connection because Chromium opens connections ahead and may send nothing on
//! them: a read on one must not hold up the requests on the others. How long such a read may
//! wait is the serving function's choice (`set_read_timeout`).

use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

/// The signed-in page of the tests' own forms applications: the user, data, a Sign out link.
pub const SIGNED_IN_PAGE: &str = "<p id='user'>alice</p><p id='data'>accounts</p>\
                                  <a id='signout' href='/signout'>Sign out</a>";

/// Their sign-in form.
pub const SIGN_IN_FORM: &str = "<form method='post' action='/login'><input id='u' name='u'>\
                                <input id='p' name='p' type='password'>\
                                <input id='go' type='submit' value='Sign in'></form>";

/// A listener on `127.0.0.1` and a free port; stops accepting when dropped.
pub struct LoopbackServer {
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl LoopbackServer {
    /// Starts serving every connection with `serve`.
    pub fn start(serve: impl Fn(TcpStream) + Send + Sync + 'static) -> LoopbackServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let serve = Arc::new(serve);
        let thread = std::thread::spawn(move || {
            // Blocks in accept; `drop` raises the flag and then connects once to wake it.
            for conn in listener.incoming() {
                if flag.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let serve = serve.clone();
                std::thread::spawn(move || serve(conn));
            }
        });
        LoopbackServer {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One HTTP/1.1 request as a test's own application reads it (its request line, `Cookie` header
/// and body), with the connection to answer it on.
pub struct Request {
    /// `GET /path HTTP/1.1`.
    pub line: String,
    /// The `Cookie` header, lower-cased, or empty.
    pub cookie: String,
    reader: std::io::BufReader<TcpStream>,
}

impl Request {
    /// Reads one request from `conn` (waiting at most 5 s for it), or `None` for a connection the
    /// browser opened ahead and closed without a request.
    pub fn read(conn: TcpStream) -> Option<Request> {
        use std::io::{BufRead as _, Read as _};
        conn.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .ok()?;
        let mut reader = std::io::BufReader::new(conn);
        let (mut line, mut cookie, mut length) = (String::new(), String::new(), 0);
        reader.read_line(&mut line).ok()?;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
                break;
            }
            let lower = header.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("cookie:") {
                cookie = v.trim().to_string();
            } else if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length];
        let _ = reader.read_exact(&mut body);
        Some(Request {
            line,
            cookie,
            reader,
        })
    }

    /// Whether it is a POST.
    pub fn is_post(&self) -> bool {
        self.line.starts_with("POST")
    }

    /// The path of the request line (`/` if it has none).
    pub fn path(&self) -> String {
        self.line
            .split_whitespace()
            .nth(1)
            .unwrap_or("/")
            .to_string()
    }

    /// The connection, for a test that answers in its own way (slowly, or not at all).
    pub fn into_stream(self) -> TcpStream {
        self.reader.into_inner()
    }

    /// Answers with `status` (`200 OK`), `headers` (each ending in `\r\n`) and an HTML page that
    /// no cache may store, and closes the connection.
    pub fn answer(self, status: &str, headers: &str, html: &str) {
        use std::io::Write as _;
        let mut conn = self.reader.into_inner();
        let _ = write!(
            conn,
            "HTTP/1.1 {status}\r\n{headers}Content-Type: text/html\r\n\
             Cache-Control: no-store\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{html}",
            html.len()
        );
    }
}
