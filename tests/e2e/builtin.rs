//! The binary as an installed copy meets it: no source tree, its defaults built in; and
//! `check --connect`, which reaches the target and checks the sign-in page's selectors.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::support::cpu;
use crate::support::harness::text;
use crate::support::loopback;
use loopback::LoopbackServer;

const BIN: &str = env!("CARGO_BIN_EXE_logout-harness");

/// A copy of the built binary in a folder of its own, run from another empty folder with no cargo
/// variables: what `cargo install` leaves a user with.
struct Installed {
    _bin_dir: tempfile::TempDir,
    bin: PathBuf,
    cwd: tempfile::TempDir,
    // The harness's TMPDIR: its unpacked files, profiles and driver folders go here, so that
    // whatever it leaves behind is seen.
    tmp: tempfile::TempDir,
}

impl Installed {
    fn new() -> Installed {
        let bin_dir = tempfile::tempdir().unwrap();
        let bin = bin_dir.path().join("logout-harness");
        std::fs::copy(BIN, &bin).unwrap();
        // Another test thread that forked while the copy was open for writing holds it until its
        // child execs, and exec then fails with ETXTBSY: wait until the copy runs once.
        for _ in 0..100 {
            match Command::new(&bin).arg("--version").output() {
                Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                _ => break,
            }
        }
        Installed {
            _bin_dir: bin_dir,
            bin,
            cwd: tempfile::tempdir().unwrap(),
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    /// Asserts the harness removed every temp folder it made.
    fn assert_clean(&self) {
        let left: Vec<_> = std::fs::read_dir(self.tmp.path())
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        assert!(left.is_empty(), "left behind in TMPDIR: {left:?}");
    }

    /// `check --target TARGET`: its exit code and its output.
    fn check_target(&self, target: &std::path::Path) -> (Option<i32>, String) {
        let out = self
            .cmd()
            .arg("check")
            .arg("--target")
            .arg(target)
            .output()
            .unwrap();
        (out.status.code(), text(&out))
    }

    fn cmd(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.current_dir(self.cwd.path());
        for var in [
            "CARGO_MANIFEST_DIR",
            "CARGO_WORKSPACE_DIR",
            "INSTA_WORKSPACE_ROOT",
            "CARGO",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("INSTA_UPDATE", "no");
        cmd.env("TMPDIR", self.tmp.path());
        cmd
    }

    fn write(&self, name: &str, content: &str) -> PathBuf {
        let path = self.cwd.path().join(name);
        std::fs::write(&path, content).unwrap();
        path
    }
}

/// The bytes of the ELF sections a program loads or reads (debug info excluded: it records the
/// build folder by design and is stripped from installed binaries).
fn loaded_sections(elf: &[u8]) -> Vec<&[u8]> {
    assert_eq!(&elf[..4], b"\x7fELF", "not an ELF file");
    assert_eq!(elf[4], 2, "64-bit ELF expected");
    let u16_at = |o: usize| u16::from_le_bytes(elf[o..o + 2].try_into().unwrap()) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(elf[o..o + 4].try_into().unwrap()) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(elf[o..o + 8].try_into().unwrap()) as usize;
    let (shoff, shentsize, shnum, shstrndx) =
        (u64_at(0x28), u16_at(0x3a), u16_at(0x3c), u16_at(0x3e));
    let header = |i: usize| shoff + i * shentsize;
    let names_at = u64_at(header(shstrndx) + 0x18);
    let mut sections = Vec::new();
    for i in 0..shnum {
        let h = header(i);
        let name_start = names_at + u32_at(h);
        let name_end = name_start + elf[name_start..].iter().position(|b| *b == 0).unwrap();
        let name = std::str::from_utf8(&elf[name_start..name_end]).unwrap();
        const NOBITS: usize = 8;
        if name.starts_with(".debug") || u32_at(h + 4) == NOBITS {
            continue;
        }
        let (offset, size) = (u64_at(h + 0x18), u64_at(h + 0x20));
        sections.push(&elf[offset..offset + size]);
    }
    sections
}

#[test]
fn the_binary_holds_no_path_of_its_source_tree() {
    let _cpu = cpu::take(1);
    // Before the defaults were built in, the binary found features and policies through the
    // build folder compiled into it (`env!("CARGO_MANIFEST_DIR")`), and insta's snapshot macro
    // baked it in too: both put this path in the binary's data, and this test failed.
    let elf = std::fs::read(BIN).unwrap();
    let tree = env!("CARGO_MANIFEST_DIR").as_bytes();
    let sections = loaded_sections(&elf);
    assert!(sections.len() > 5, "no sections read");
    let hits = sections
        .iter()
        .filter(|s| s.windows(tree.len()).any(|w| w == tree))
        .count();
    assert_eq!(
        hits,
        0,
        "the binary holds {} in {hits} section(s): it would look for its files there once installed",
        env!("CARGO_MANIFEST_DIR")
    );
}

#[test]
fn an_installed_copy_checks_with_its_built_in_policies() {
    let _cpu = cpu::take(1);
    let inst = Installed::new();
    let out = inst.cmd().arg("check").output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("built-in fixtures/policies/default.yaml"), "{t}");

    let out = inst
        .cmd()
        .args(["check", "--policy", "strict"])
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("built-in fixtures/policies/strict.yaml"), "{t}");

    // A path still picks a file of the user's.
    let own = inst.write(
        "mine.yaml",
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/policies/strict.yaml"),
        )
        .unwrap(),
    );
    let out = inst
        .cmd()
        .arg("check")
        .arg("--policy")
        .arg(&own)
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("mine.yaml"), "{t}");

    let out = inst
        .cmd()
        .args(["check", "--policy", "lenient"])
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("default, strict"), "{t}");
    inst.assert_clean();
}

#[test]
fn an_installed_copy_runs_the_built_in_features_and_judges() {
    let _cpu = cpu::take(1);
    let inst = Installed::new();
    let json = inst.cwd.path().join("verdicts.json");
    let out = inst
        .cmd()
        .args(["run", "--mode", "fba", "--tags", "@sign_out", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let findings: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let verdicts = findings["verdicts"].as_array().expect("a verdicts array");
    // The Sign Out scenario judges the page, the cookies, the replay and the snapshot.
    assert!(verdicts.len() >= 4, "{findings:#}");
    assert!(verdicts.iter().all(|v| v["passed"] == true), "{findings:#}");
    // The snapshot was compared against the built-in baseline, not reported missing or written.
    assert!(
        verdicts
            .iter()
            .any(|v| v.to_string().contains("leftover-cookies")),
        "{findings:#}"
    );

    // Outside the repository the built-in baseline cannot be recorded into.
    let out = inst
        .cmd()
        .args([
            "run",
            "--mode",
            "fba",
            "--tags",
            "@sign_out",
            "--update-snapshots",
        ])
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("--snapshots DIR"), "{t}");
    inst.assert_clean();
}

#[test]
fn check_connect_finds_the_embedded_sign_in_form() {
    let _cpu = cpu::take(1);
    let inst = Installed::new();
    let out = inst.cmd().args(["check", "--connect"]).output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(
        t.contains("sign-in page: https://adfs.contoso.test:"),
        "{t}"
    );
    for key in ["username_input", "password_input", "submit"] {
        assert!(
            t.lines().any(
                |l| l.trim_start().starts_with("found") && l.contains(&format!("pages.{key} "))
            ),
            "{key} not reported found: {t}"
        );
    }
    // Windows authentication has no form: the check says the start page asks for it.
    let out = inst
        .cmd()
        .args(["check", "--connect", "--mode", "iwa"])
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("WWW-Authenticate: Negotiate"), "{t}");
    inst.assert_clean();
}

#[test]
fn check_connect_names_a_wrong_selector() {
    let _cpu = cpu::take(1);
    let inst = Installed::new();
    let target = inst.write(
        "wrong.yaml",
        "name: wrong\ncrm: embedded\nmode: fba\nusers:\n  alice: {}\npages:\n  username_input: '#userName'\n",
    );
    let out = inst
        .cmd()
        .args(["check", "--connect", "--target"])
        .arg(&target)
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("fix key `username_input`") && stderr.contains("wrong.yaml"),
        "{t}"
    );
    assert!(t.contains("MISSING pages.username_input"), "{t}");
    // Only the wrong one: the others of the CRM 4.0 form are there.
    assert!(!t.contains("MISSING pages.password_input"), "{t}");
    assert!(!t.contains("MISSING pages.submit"), "{t}");
    inst.assert_clean();
}

#[test]
fn check_of_a_real_target_reports_a_closed_port_and_offline_skips_it() {
    let _cpu = cpu::take(1);
    let inst = Installed::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = inst.write(
        "closed.yaml",
        &format!(
            "name: closed\ncrm: https://127.0.0.1:{port}/org/\nmode: ifd\nusers:\n  alice: {{password_env: CRM_ALICE_PASSWORD}}\n"
        ),
    );
    let (code, t) = inst.check_target(&target);
    assert_eq!(code, Some(2), "{t}");
    assert!(
        t.contains(&format!("no connection to 127.0.0.1:{port}")),
        "{t}"
    );
    let out = inst
        .cmd()
        .args(["check", "--offline", "--target"])
        .arg(&target)
        // check now also proves the password source is there (an unset one is exit 2).
        .env("CRM_ALICE_PASSWORD", "offline-check")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    inst.assert_clean();
}

/// `logout-harness sim` as a child, ended (SIGTERM, then waited for) when dropped.
struct Sim(Child);

impl Drop for Sim {
    fn drop(&mut self) {
        // SAFETY: kill with a pid we own; SIGTERM lets the emulator shut down in order.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

#[test]
fn check_of_a_real_target_with_an_untrusted_certificate_says_tls_ca_file() {
    let _cpu = cpu::take(1);
    let inst = Installed::new();
    let mut child = Command::new(BIN)
        .args(["sim", "--mode", "ifd"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let sim = Sim(child);
    let mut ready = String::new();
    BufReader::new(stdout).read_line(&mut ready).unwrap();
    let port = ready
        .split_whitespace()
        .find_map(|w| w.strip_prefix("crm="))
        .and_then(|u| url::Url::parse(u).ok())
        .and_then(|u| u.port())
        .unwrap_or_else(|| panic!("no crm= in {ready:?}"));
    // Its certificate is made for the run by the emulator's own CA, which nothing here trusts.
    let target = inst.write(
        "tls.yaml",
        &format!(
            "name: tls\ncrm: https://127.0.0.1:{port}/contoso/\nmode: ifd\nusers:\n  alice: {{password_env: CRM_ALICE_PASSWORD}}\n"
        ),
    );
    let (code, t) = inst.check_target(&target);
    drop(sim);
    assert_eq!(code, Some(2), "{t}");
    assert!(t.contains("certificate of 127.0.0.1 is not trusted"), "{t}");
    assert!(t.contains("ca_file"), "{t}");
    inst.assert_clean();
}

/// A plain HTTP listener on loopback that answers every request with a redirect to `location`,
/// as a CRM start page redirects to its sign-in host. Stops when dropped.
fn redirector(location: &'static str) -> LoopbackServer {
    use std::io::{Read as _, Write as _};
    LoopbackServer::start(move |mut conn| {
        // A connection Chromium opened ahead and sends nothing on is closed after 1 s. (The 5 s
        // this check sometimes takes more are not this server's: the machine's resolver drops a
        // query now and then and retries after 5 s, and the sign-in host here is a name that
        // must fail to resolve; `getent ahosts` of it took 5.0 s once in 40.)
        let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(1)));
        let mut buf = [0u8; 4096];
        if matches!(conn.read(&mut buf), Ok(n) if n > 0) {
            let _ = write!(
                conn,
                "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    })
}

#[test]
fn check_of_a_real_target_says_when_the_sign_in_redirect_leads_nowhere() {
    let _cpu = cpu::take(1);
    let inst = Installed::new();
    // `.invalid` never resolves (RFC 2606).
    let server = redirector("http://adfs.contoso.invalid/adfs/ls/");
    let target = inst.write(
        "redirect.yaml",
        &format!(
            "name: redirect\ncrm: http://127.0.0.1:{}/org/\nmode: ifd\nusers:\n  alice: {{password_env: CRM_ALICE_PASSWORD}}\n",
            server.port
        ),
    );
    let (code, t) = inst.check_target(&target);
    drop(server);
    assert_eq!(code, Some(2), "{t}");
    // The plain request got through; the browser's look names what stopped it.
    assert!(
        t.contains("-> 302 (Location: http://adfs.contoso.invalid/"),
        "{t}"
    );
    assert!(
        t.contains("ERR_NAME_NOT_RESOLVED") && t.contains("check its DNS"),
        "{t}"
    );
    inst.assert_clean();
}

#[test]
fn check_of_an_iwa_target_that_redirects_instead_says_the_mode_looks_wrong() {
    let _cpu = cpu::take(1);
    let inst = Installed::new();
    let server = redirector("http://adfs.contoso.invalid/adfs/ls/");
    let target = inst.write(
        "iwa.yaml",
        &format!(
            "name: iwa\ncrm: http://127.0.0.1:{}/org/\nmode: iwa\nusers:\n  alice: {{no_password: true}}\n",
            server.port
        ),
    );
    let (code, t) = inst.check_target(&target);
    drop(server);
    assert_eq!(code, Some(2), "{t}");
    assert!(
        t.contains("`mode: iwa` looks wrong") && t.contains("iwa.yaml"),
        "{t}"
    );
    inst.assert_clean();
}
