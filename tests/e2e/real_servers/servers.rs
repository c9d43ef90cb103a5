//! The third-party servers the tests sign in to: Django's admin served by gunicorn (from PyPI, in
//! the virtualenv `ci/setup` makes) and Apache httpd with mod_auth_form (from Debian). Each is a
//! child process on a free loopback port with its own temporary directory; dropping the value
//! stops the process and removes the directory.

use std::io::Write as _;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::pki;

/// The repository (the tests run from anywhere).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where `ci/setup` installs Django and gunicorn.
pub fn venv() -> PathBuf {
    repo().join("target/real-servers/venv")
}

/// A password made for this run only (never written in the repository). It holds `/`, `+` and a
/// space so that URL-encoded and base64 forms differ from the clear one.
pub fn fresh_password() -> String {
    let mut bytes = [0u8; 9];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .expect("reading /dev/urandom");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("Pw/{hex}+ x")
}

/// A child process that is stopped (SIGTERM, then SIGKILL) when dropped. Started through
/// `setpriv --pdeathsig SIGKILL` so that it dies with the test even if the test is killed.
pub struct ChildGuard {
    child: Child,
    name: String,
    /// With [`ChildGuard::spawn_group`]: the watchdog that kills the child's process group if the
    /// test dies first.
    watchdog: Option<Child>,
}

impl ChildGuard {
    pub(super) fn spawn(name: &str, cmd: Command) -> Result<ChildGuard, String> {
        Self::start(name, cmd, false)
    }

    /// [`ChildGuard::spawn`] for a server that forks its workers (Apache's prefork MPM): the child
    /// leads a process group of its own, and dropping the guard stops it and then kills whatever
    /// is left of its group. Its workers do not get the parent-death signal, so a watchdog does it
    /// for them: a shell that kills the group when the test dies (its own `--pdeathsig SIGTERM`).
    pub(super) fn spawn_group(name: &str, cmd: Command) -> Result<ChildGuard, String> {
        Self::start(name, cmd, true)
    }

    fn start(name: &str, cmd: Command, group: bool) -> Result<ChildGuard, String> {
        let program = cmd.get_program().to_owned();
        let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
        let mut wrapped = Command::new("setpriv");
        wrapped
            .args(["--pdeathsig", "SIGKILL", "--"])
            .arg(&program)
            .args(&args);
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => wrapped.env(k, v),
                None => wrapped.env_remove(k),
            };
        }
        if let Some(dir) = cmd.get_current_dir() {
            wrapped.current_dir(dir);
        }
        if group {
            use std::os::unix::process::CommandExt as _;
            wrapped.process_group(0);
        }
        let child = wrapped
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting {name} ({}): {e}", program.to_string_lossy()))?;
        let mut guard = ChildGuard {
            child,
            name: name.to_string(),
            watchdog: None,
        };
        if group {
            // The trap runs when `sleep` returns: within a second of the test's death. (`kill
            // -KILL -PGID`: dash's kill takes no `--`.)
            let watchdog = Command::new("setpriv")
                .args(["--pdeathsig", "SIGTERM", "--", "/bin/sh", "-c"])
                .arg(r#"trap 'kill -KILL "-$LH_GROUP"; exit 0' TERM; while :; do sleep 1; done"#)
                .env("LH_GROUP", guard.child.id().to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("starting the watchdog of {name}: {e}"))?;
            guard.watchdog = Some(watchdog);
        }
        Ok(guard)
    }

    /// Waits until the server accepts TCP connections on `port`; fails early if it exits.
    pub(super) fn wait_listening(&mut self, port: u16, log: &Path) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "{} exited ({status}) before listening on port {port}; its log:\n{}",
                    self.name,
                    std::fs::read_to_string(log).unwrap_or_default()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} did not listen on port {port} within 30 s; its log:\n{}",
                    self.name,
                    std::fs::read_to_string(log).unwrap_or_default()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) on the pid of our own child, which has not been reaped yet.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut stopped = false;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                stopped = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if !stopped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if let Some(mut watchdog) = self.watchdog.take() {
            // SAFETY: kill(2) on the process group our child led: its workers, if any are left
            // (the pid cannot have been reused while the group has members).
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
    }
}

/// A loopback port nobody listens on right now.
pub(super) fn free_port() -> Result<u16, String> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("finding a free loopback port: {e}"))
}

pub(super) fn run_to_end(what: &str, cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what}: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

/// Django's settings profiles (fixtures/real-servers/django/lhsite/settings.py).
#[derive(Clone, Copy, Debug)]
pub enum DjangoProfile {
    /// Database sessions, Secure/HttpOnly/Lax session cookie that dies with the browser.
    Correct,
    /// Sessions in a signed cookie: not revocable, persistent, SameSite=None.
    SignedCookies,
    /// `Correct` with a session of `age_s` seconds that ends that long after sign-in however
    /// busy (`sliding: false`), or that long after the last request (`sliding: true`,
    /// SESSION_SAVE_EVERY_REQUEST).
    ShortSession { age_s: u32, sliding: bool },
}

/// A Django admin site over HTTPS (gunicorn with a certificate from a private CA), with one
/// superuser `alice`. Fields drop in order: the server stops before its directory is removed.
pub struct Django {
    _server: ChildGuard,
    /// The site's root URL, `https://localhost:PORT/`.
    pub url: String,
    /// The CA that issued the server's certificate.
    pub ca_file: PathBuf,
    /// How long from starting gunicorn until it listened.
    pub listen_time: Duration,
    /// How long the whole setup took (database, superuser, certificates, server).
    pub setup_time: Duration,
    /// The site's settings from the environment (its database, secret key, profile): what a
    /// `manage.py` command needs to act on this site.
    pub env: Vec<(&'static str, String)>,
    _dir: tempfile::TempDir,
}

impl Django {
    /// Makes a fresh database with `alice` (password `password`, given through the environment
    /// only) and starts gunicorn on a free port.
    pub fn start(profile: DjangoProfile, password: &str) -> Result<Django, String> {
        let t0 = Instant::now();
        let venv = venv();
        let gunicorn = venv.join("bin/gunicorn");
        if !gunicorn.exists() {
            return Err(format!(
                "{} is missing: run `ci/setup` (it installs Django and gunicorn from PyPI into {})",
                gunicorn.display(),
                venv.display()
            ));
        }
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let pki = pki::make(dir.path())?;
        let site = repo().join("fixtures/real-servers/django");
        let mut secret = [0u8; 32];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut secret))
            .map_err(|e| format!("/dev/urandom: {e}"))?;
        let age = match profile {
            DjangoProfile::ShortSession { age_s, .. } => age_s,
            _ => 1_209_600,
        };
        let env = [
            (
                "LH_DJANGO_PROFILE",
                match profile {
                    DjangoProfile::Correct => "correct".to_string(),
                    DjangoProfile::SignedCookies => "signed-cookies".to_string(),
                    DjangoProfile::ShortSession { sliding: false, .. } => "short-fixed".into(),
                    DjangoProfile::ShortSession { sliding: true, .. } => "short-sliding".into(),
                },
            ),
            ("LH_DJANGO_SESSION_AGE", age.to_string()),
            (
                "LH_DJANGO_SECRET_KEY",
                secret.iter().map(|b| format!("{b:02x}")).collect(),
            ),
            (
                "LH_DJANGO_DB",
                dir.path().join("db.sqlite3").display().to_string(),
            ),
            // No __pycache__ in the repository's fixtures.
            ("PYTHONDONTWRITEBYTECODE", "1".to_string()),
        ];
        let python = venv.join("bin/python");
        let manage = |args: &[&str]| {
            let mut c = Command::new(&python);
            c.arg("manage.py")
                .args(args)
                .current_dir(&site)
                .envs(env.clone());
            c
        };
        run_to_end(
            "django migrate",
            &mut manage(&["migrate", "--noinput", "-v0"]),
        )?;
        run_to_end(
            "django createsuperuser",
            manage(&[
                "createsuperuser",
                "--noinput",
                "--username",
                "alice",
                "--email",
                "alice@example.test",
            ])
            // Django reads the password from this variable with --noinput; it is never an argument.
            .env("DJANGO_SUPERUSER_PASSWORD", password),
        )?;

        let port = free_port()?;
        let log = dir.path().join("gunicorn.log");
        let mut cmd = Command::new(&gunicorn);
        cmd.args(["--bind", &format!("127.0.0.1:{port}")])
            // gthread gives each connection a thread until its first request: Chromium's
            // preconnected, still-idle sockets (two browsers at once) starved 4 threads and stalled
            // the scenarios for seconds each.
            .args(["--workers", "1", "--threads", "32"])
            .arg("--certfile")
            .arg(&pki.cert_file)
            .arg("--keyfile")
            .arg(&pki.key_file)
            .arg("--error-logfile")
            .arg(&log)
            .arg("lhsite.wsgi:application")
            .current_dir(&site)
            .envs(env.clone());
        let t1 = Instant::now();
        let mut server = ChildGuard::spawn("gunicorn (Django)", cmd)?;
        server.wait_listening(port, &log)?;
        Ok(Django {
            _server: server,
            url: format!("https://localhost:{port}/"),
            ca_file: pki.ca_file,
            listen_time: t1.elapsed(),
            setup_time: t0.elapsed(),
            env: env.to_vec(),
            _dir: dir,
        })
    }
}

/// Which Apache site to serve (fixtures/real-servers/apache/).
#[derive(Clone, Copy)]
pub enum ApacheSite<'a> {
    /// mod_auth_form (httpd.conf); `/logout` is its form-logout-handler.
    FormLogoutHandler { password: &'a str },
    /// mod_auth_form, `/logout` only redirects to the sign-in page (`-D LinkOnlyLogout`).
    FormLinkOnly { password: &'a str },
    /// mod_auth_form done right (`-D ServerSession`): HTTPS with a private CA, the session on the
    /// server (mod_session_dbd, SQLite), a Secure/HttpOnly/Lax cookie holding only its key.
    FormServerSession { password: &'a str },
    /// mod_auth_form (httpd.conf) with sessions of `max_age_s` seconds (`-D ShortSession`,
    /// `SessionMaxAge`): the cookie re-issued on every request (sliding), or with
    /// `sliding: false` never (`-D FixedSession`, `SessionExpiryUpdateInterval`), a fixed length.
    FormShortSession {
        password: &'a str,
        max_age_s: u32,
        sliding: bool,
    },
    /// mod_auth_gssapi (gssapi.conf) accepting tickets for `HTTP/localhost` from this realm.
    Kerberos { realm: &'a krb5_realm::Realm },
}

/// Apache httpd: mod_auth_form with one user `alice` in an htpasswd file made now (over HTTP with a
/// clear-text mod_session_cookie session, or over HTTPS with server-side sessions), or
/// mod_auth_gssapi with a keytab from a test realm.
pub struct Apache {
    _server: ChildGuard,
    /// The site's root URL: `http://127.0.0.1:PORT/`, `https://localhost:PORT/` with server-side
    /// sessions, `http://localhost:PORT/` for Kerberos.
    pub url: String,
    /// The CA of the server's certificate, when it serves HTTPS.
    pub ca_file: Option<PathBuf>,
    /// How long from starting httpd until it listened.
    pub listen_time: Duration,
    _dir: tempfile::TempDir,
}

impl Apache {
    /// Starts `/usr/sbin/apache2` in the foreground (`-X`, one process) on a free port.
    pub fn start(site: ApacheSite) -> Result<Apache, String> {
        let httpd = Path::new("/usr/sbin/apache2");
        if !httpd.exists() {
            return Err("/usr/sbin/apache2 is missing: run `ci/setup` (Debian apache2-bin)".into());
        }
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        // SAFETY: geteuid(2) has no preconditions and cannot fail.
        let as_root = unsafe { libc::geteuid() } == 0;
        // Run as root, httpd serves as `nobody`, which must reach the htpasswd file and the pages:
        // the directory is traversable, not listable, and the pages are a copy (a checkout under
        // a private home directory would not be readable).
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Path, m: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m))
                .map_err(|e| format!("chmod {}: {e}", p.display()))
        };
        mode(dir.path(), 0o711)?;
        let docs = dir.path().join("htdocs");
        copy_dir(&repo().join("fixtures/real-servers/apache/htdocs"), &docs)?;
        let mut ca_file = None;
        let conf = match site {
            ApacheSite::FormLogoutHandler { password }
            | ApacheSite::FormLinkOnly { password }
            | ApacheSite::FormShortSession { password, .. } => {
                write_htpasswd(&dir.path().join("htpasswd"), password)?;
                "httpd.conf"
            }
            ApacheSite::FormServerSession { password } => {
                write_htpasswd(&dir.path().join("htpasswd"), password)?;
                // httpd.conf names these files: server.pem, server.key (read as root, at start).
                ca_file = Some(pki::make(dir.path())?.ca_file);
                session_db(&dir.path().join("db"), as_root)?;
                "httpd.conf"
            }
            ApacheSite::Kerberos { realm } => {
                // The service key of HTTP/localhost, readable by the serving user.
                let keytab = realm
                    .keytab_for("localhost")
                    .ok_or("the realm has no HTTP/localhost service")?;
                let copy = dir.path().join("http.keytab");
                std::fs::copy(&keytab, &copy).map_err(|e| format!("copying the keytab: {e}"))?;
                mode(&copy, 0o644)?;
                "gssapi.conf"
            }
        };
        let port = free_port()?;
        let mut cmd = Command::new(httpd);
        cmd.arg("-X")
            .arg("-f")
            .arg(repo().join("fixtures/real-servers/apache").join(conf))
            .env("LH_APACHE_RUN", dir.path())
            .env("LH_APACHE_DOCS", &docs)
            .env("LH_APACHE_LISTEN", format!("127.0.0.1:{port}"));
        if as_root {
            cmd.arg("-DAsRoot");
        }
        match site {
            ApacheSite::FormLinkOnly { .. } => {
                cmd.arg("-DLinkOnlyLogout");
            }
            ApacheSite::FormServerSession { .. } => {
                cmd.arg("-DServerSession");
            }
            ApacheSite::FormShortSession {
                max_age_s, sliding, ..
            } => {
                cmd.arg("-DShortSession")
                    .env("LH_APACHE_MAX_AGE", max_age_s.to_string());
                if !sliding {
                    cmd.arg("-DFixedSession");
                }
            }
            _ => {}
        }
        let t = Instant::now();
        let mut server = ChildGuard::spawn("apache2", cmd)?;
        server.wait_listening(port, &dir.path().join("error.log"))?;
        Ok(Apache {
            _server: server,
            url: match site {
                // The certificate's name.
                ApacheSite::FormServerSession { .. } => format!("https://localhost:{port}/"),
                // Kerberos names the service by host: HTTP/localhost.
                ApacheSite::Kerberos { .. } => format!("http://localhost:{port}/"),
                _ => format!("http://127.0.0.1:{port}/"),
            },
            ca_file,
            listen_time: t.elapsed(),
            _dir: dir,
        })
    }
}

/// The SQLite database of mod_session_dbd, with the table its documentation gives, in `dir`, which
/// the serving user (`nobody` when started as root) may write (SQLite writes a journal beside it).
fn session_db(dir: &Path, as_root: bool) -> Result<(), String> {
    std::fs::create_dir(dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    let db = dir.join("sessions.db");
    let python = Path::new("/usr/bin/python3");
    run_to_end(
        "creating the session table",
        Command::new(python).arg("-c").arg(
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); \
             c.execute('create table session (key varchar(255) primary key, value text, expiry bigint)'); \
             c.commit()",
        ).arg(&db),
    )?;
    if as_root {
        let (uid, gid) = nobody()?;
        for p in [dir, db.as_path()] {
            std::os::unix::fs::chown(p, Some(uid), Some(gid))
                .map_err(|e| format!("chown {}: {e}", p.display()))?;
        }
    }
    Ok(())
}

/// The user and group ids of `nobody`, whom Apache serves as when started as root (`-DAsRoot`).
pub(super) fn nobody() -> Result<(libc::uid_t, libc::gid_t), String> {
    // SAFETY: getpwnam with a NUL-terminated name; the result is read at once, before any other
    // call could reuse its static buffer.
    unsafe {
        let pw = libc::getpwnam(c"nobody".as_ptr());
        if pw.is_null() {
            return Err("there is no user `nobody` to serve as".into());
        }
        Ok(((*pw).pw_uid, (*pw).pw_gid))
    }
}

/// An htpasswd file with `alice` (bcrypt); `htpasswd -i` reads the password from stdin, never
/// from a command line. Readable by the serving user.
fn write_htpasswd(path: &Path, password: &str) -> Result<(), String> {
    let mut child = Command::new("htpasswd")
        .args(["-i", "-B", "-c"])
        .arg(path)
        .arg("alice")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("htpasswd (Debian apache2-utils; run `ci/setup`): {e}"))?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(password.as_bytes())
        .map_err(|e| format!("htpasswd stdin: {e}"))?;
    let out = child
        .wait_with_output()
        .map_err(|e| format!("htpasswd: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "htpasswd: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
        .map_err(|e| format!("chmod {}: {e}", path.display()))
}

pub(super) fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("mkdir {}: {e}", to.display()))?;
    for entry in std::fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))? {
        let entry = entry.map_err(|e| e.to_string())?;
        let dest = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), &dest)
                .map_err(|e| format!("copying {}: {e}", entry.path().display()))?;
        }
    }
    Ok(())
}
