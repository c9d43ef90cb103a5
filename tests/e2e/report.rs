//! The HTML report as a person looks at it: opened from disk in the harness's own headless
//! Chromium (no server: the file alone), and read from what the page shows. Two reports: the
//! clean run's (every mode, every check held: `clean.rs`), and a run with the emulator's AD FS
//! never told of the sign-out (`--fault skip-adfs-signout`), where the failed scenario must be
//! open with its cause and fix, and its timeline must show the hop where the session survived.
//!
//! Each report is photographed for the README (`target/logout-harness/report/*.png`;
//! `UPDATE_DOCS=1` copies them to `docs/images/`).

use std::path::{Path, PathBuf};

use crate::support::browser::{Host, launch_options};
use crate::support::cpu;
use crate::support::harness::Run;
use logout_harness::config::target::{AuthMode, Target};
use logout_harness::engine::browser::{Browser, BrowserHost, BrowserKind, Driver};

/// What the page shows, read by one script: the visible text of the parts a person reads, and
/// what they would notice (open sections, images that did not load).
const LOOK: &str = r#"
const text = (sel) => Array.from(document.querySelectorAll(sel)).map(e => e.innerText);
const visible = (e) => !!(e && e.offsetParent !== null && e.getClientRects().length);
const imgs = Array.from(document.images);
const survived = Array.from(document.querySelectorAll('tr.survived'));
const withoutImages = document.documentElement.cloneNode(true);
for (const i of withoutImages.querySelectorAll('img')) i.removeAttribute('src');
return {
  exit: document.getElementById('exit').innerText,
  held: document.querySelector('[data-count=held]').innerText,
  violated: document.querySelector('[data-count=violated]').innerText,
  open: text('details.scenario[open] > summary'),
  openViolated: Array.from(document.querySelectorAll('details.scenario.violated'))
    .map(d => d.open && visible(d.querySelector('.verdict.violated'))),
  causes: text('details[open] .verdict.violated .cause'),
  fixes: text('details[open] .verdict.violated .fix'),
  callouts: text('details[open] .callout'),
  survivedRows: survived.filter(visible).map(r => r.innerText),
  images: imgs.length,
  imagesLoaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
  bodyText: document.body.innerText,
  markup: withoutImages.outerHTML,
  external: Array.from(document.querySelectorAll('script, link, iframe, object, embed')).length,
};
"#;

/// The page as [`LOOK`] reads it.
struct Seen(serde_json::Value);

impl Seen {
    fn str(&self, key: &str) -> &str {
        self.0[key].as_str().unwrap_or_default()
    }

    fn strings(&self, key: &str) -> Vec<String> {
        self.0[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    }
}

/// Opens `page` (a file) in a fresh context of `host`, reads it, and photographs it (after
/// `scroll_to`, a CSS selector, is scrolled into view) into `png`.
async fn look(host: &Host, page: &Path, scroll_to: Option<&str>, png: &Path) -> Seen {
    let browser: Browser = host.0.open().await.unwrap();
    let _ = browser.client().set_window_size(1280, 1000).await;
    let url = url::Url::from_file_path(page).unwrap();
    browser.goto(url.as_str()).await.unwrap();
    let seen = Seen(browser.client().execute(LOOK, vec![]).await.unwrap());
    if let Some(selector) = scroll_to {
        let _ = browser
            .client()
            .execute(
                "const e = document.querySelector(arguments[0]); if (e) e.scrollIntoView({block: 'start'}); return true;",
                vec![serde_json::json!(selector)],
            )
            .await;
    }
    let shot = browser.client().screenshot().await.unwrap();
    std::fs::write(png, &shot).unwrap();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/images");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::copy(png, docs.join(png.file_name().unwrap())).unwrap();
    }
    let _ = browser.close().await;
    seen
}

/// Every password the embedded targets sign in with.
fn passwords() -> Vec<String> {
    let mut out = Vec::new();
    for mode in [AuthMode::Ifd, AuthMode::Fba, AuthMode::Claims] {
        let target = Target::embedded(mode);
        for user in ["alice", "bob"] {
            if let Ok(c) = target.credentials(user)
                && let Some(p) = &c.password
            {
                out.push(p.expose().to_string());
            }
        }
    }
    assert!(!out.is_empty(), "the embedded targets have passwords");
    out
}

/// No password and nothing shaped like a cookie value or token (a run of 24 or more letters,
/// digits, `+`, `_`, `=` or `-` holding a digit and a letter; words and paths are not) in what
/// the page shows, and no password in what it holds outside its images.
fn no_secret(seen: &Seen, which: &str) {
    let markup = seen.str("markup");
    for p in passwords() {
        assert!(
            !markup.contains(&p) && !seen.str("bodyText").contains(&p),
            "{which}: a password is in the report"
        );
    }
    let run = regex::Regex::new(r"[A-Za-z0-9+_=-]{24,}").unwrap();
    let token = run.find_iter(seen.str("bodyText")).find(|m| {
        let t = m.as_str();
        t.chars().any(|c| c.is_ascii_digit()) && t.chars().any(|c| c.is_ascii_alphabetic())
    });
    if let Some(m) = token {
        panic!(
            "{which}: something shaped like a token is shown: {}",
            m.as_str()
        );
    }
    assert_eq!(
        seen.0["external"], 0,
        "{which}: the report loads a script, style sheet or frame"
    );
}

/// A run of the scenario that fails when AD FS is never told of the sign-out, with its report.
fn skip_adfs_signout_run() -> (crate::support::harness::Report, PathBuf) {
    let _cpu = cpu::take(1);
    let mut run = Run::new("report", "skip-adfs-signout");
    run.command().args([
        "--mode",
        "ifd",
        "--fault",
        "skip-adfs-signout",
        "--name",
        "^After signing out, opening CRM again asks for credentials$",
    ]);
    let report = run.finish();
    let html = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/logout-harness/report/skip-adfs-signout.html");
    (report, html)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_shows_a_person_the_counts_the_failure_its_fix_and_where_the_session_survived() {
    let (fault, fault_html) = skip_adfs_signout_run();
    assert_eq!(fault.exit, Some(1), "{}", fault.output);
    let clean = crate::clean::run();
    assert_eq!(clean.exit, Some(0), "{}", clean.output);
    let clean_html =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/logout-harness/clean/every-mode.html");

    let _cpu = cpu::take(1);
    let driver = Driver::start(&[])
        .await
        .expect("chromedriver (run ci/setup)");
    let launch = launch_options(BrowserKind::Chromium, &driver);
    let host = Host(BrowserHost::launch(driver.url(), &launch, 0).await.unwrap());
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/logout-harness/report");
    std::fs::create_dir_all(&shots).unwrap();

    // The clean run: the counts the JSON has, exit 0, nothing opened, nothing survived.
    let seen = look(&host, &clean_html, None, &shots.join("report-clean.png")).await;
    let held = clean.verdicts().len();
    assert_eq!(seen.str("held"), held.to_string(), "held verdicts shown");
    assert_eq!(seen.str("violated"), "0");
    assert!(
        seen.str("exit").starts_with("Exit code 0"),
        "{}",
        seen.str("exit")
    );
    assert!(
        seen.strings("open").is_empty(),
        "{:?}",
        seen.strings("open")
    );
    assert!(
        seen.strings("survivedRows").is_empty(),
        "a clean run shows a surviving hop: {:?}",
        seen.strings("survivedRows")
    );
    no_secret(&seen, "clean report");

    // The fault run: exit 1, the failed scenario open with its verdict's cause and fix, and the
    // timeline naming AD FS, which the sign-out never reached and whose cookie signed her in.
    let seen = look(
        &host,
        &fault_html,
        Some("details.violated .callout"),
        &shots.join("report-skip-adfs-signout.png"),
    )
    .await;
    assert!(
        seen.str("exit").starts_with("Exit code 1"),
        "{}",
        seen.str("exit")
    );
    let violated = fault.failures().len();
    assert!(violated > 0);
    assert_eq!(seen.str("violated"), violated.to_string());
    let open = seen.0["openViolated"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        !open.is_empty() && open.iter().all(|o| o == true),
        "every failed scenario is open with its violation in view: {open:?}"
    );
    let json_causes: Vec<String> = fault
        .verdicts()
        .into_iter()
        .filter_map(|v| v["likely_cause"].as_str().map(str::to_string))
        .collect();
    assert!(!json_causes.is_empty(), "{}", fault.text);
    for cause in &json_causes {
        assert!(
            seen.strings("causes").iter().any(|c| c == cause),
            "cause {cause:?} not shown: {:?}",
            seen.strings("causes")
        );
    }
    assert!(!seen.strings("fixes").is_empty(), "no fix shown");
    let callouts = seen.strings("callouts").join("\n");
    assert!(
        callouts.contains("adfs.contoso.test still held MSISAuth")
            && callouts.contains("no request of the sign-out reached adfs.contoso.test"),
        "the callout does not name AD FS's surviving cookie: {callouts}"
    );
    let rows = seen.strings("survivedRows");
    assert!(
        rows.iter()
            .any(|r| r.contains("adfs.contoso.test") && r.contains("MSISAuth")),
        "no visible timeline row shows the hop to AD FS that carried MSISAuth: {rows:?}"
    );
    assert!(
        seen.0["images"].as_u64().unwrap_or(0) > 0 && seen.0["images"] == seen.0["imagesLoaded"],
        "images: {} shown, {} loaded",
        seen.0["images"],
        seen.0["imagesLoaded"]
    );
    no_secret(&seen, "fault report");
    host.0.shutdown().await;
}

/// `compare` on a run before and after `--fault persistent-auth-cookie` (the emulator's auth
/// cookie outlives the browser): the verdicts that changed, and the cookie whose lifetime changed,
/// by host. Then the same run against itself: nothing changed, exit 0.
#[test]
fn compare_names_the_changed_verdicts_and_the_changed_cookie() {
    let _cpu = cpu::take(1);
    let scenarios = "^(Closing the browser ends the session|Authentication cookies are Secure, \
                     HttpOnly, SameSite and session cookies)$";
    let run = |name: &str, faults: &[&str]| {
        let mut run = Run::new("report", name);
        run.command().args(["--mode", "ifd", "--name", scenarios]);
        for f in faults {
            run.command().args(["--fault", f]);
        }
        run.finish()
    };
    let before = run("compare-before", &[]);
    assert_eq!(before.exit, Some(0), "{}", before.output);
    let after = run("compare-after", &["persistent-auth-cookie"]);
    assert_eq!(after.exit, Some(1), "{}", after.output);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/logout-harness/report");
    let html = dir.join("compare.html");
    let _ = std::fs::remove_file(&html);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_logout-harness"))
        .arg("compare")
        .arg(dir.join("compare-before.json"))
        .arg(dir.join("compare-after.json"))
        .arg("--html")
        .arg(&html)
        .output()
        .unwrap();
    let text = crate::support::harness::text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    for (_, scenario, rule) in after.failures() {
        assert!(
            text.contains(&format!("{rule} \"{scenario}\" (ifd/chromium): held")),
            "the changed verdict {rule} of {scenario:?} is not named:\n{text}"
        );
    }
    let cookie = regex::Regex::new(
        r"crm\.contoso\.test: changed MSISAuth: [^\n]*session[^\n]* -> [^\n]*persistent",
    )
    .unwrap();
    assert!(
        cookie.is_match(&text),
        "no MSISAuth lifetime change:\n{text}"
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("changed MSISAuth"), "{page}");

    let same = std::process::Command::new(env!("CARGO_BIN_EXE_logout-harness"))
        .arg("compare")
        .arg(dir.join("compare-before.json"))
        .arg(dir.join("compare-before.json"))
        .output()
        .unwrap();
    let text = crate::support::harness::text(&same);
    assert_eq!(same.status.code(), Some(0), "{text}");
    assert!(text.contains("Nothing changed."), "{text}");
}

/// `compare` given what is not a report, and `snapshots` with no folder to work on: exit 2, the
/// file named and what to give instead.
#[test]
fn compare_and_snapshots_refuse_bad_input_with_what_to_give() {
    let tmp = tempfile::tempdir().unwrap();
    let not_a_report = tmp.path().join("x.json");
    std::fs::write(&not_a_report, "[1, 2]").unwrap();
    let bin = || {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_logout-harness"));
        c.current_dir(tmp.path());
        c
    };
    let out = bin()
        .arg("compare")
        .arg(&not_a_report)
        .arg(tmp.path().join("missing.json"))
        .output()
        .unwrap();
    let text = crate::support::harness::text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("x.json: not a logout-harness report"),
        "{text}"
    );
    let out = bin().args(["snapshots", "review"]).output().unwrap();
    let text = crate::support::harness::text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("--snapshots DIR"), "{text}");
}

/// A run outside CI leaves a `.snap.new` where the cookies differ: `snapshots review` shows its
/// diff, `snapshots accept` makes it the baseline, and review then finds nothing.
#[test]
fn snapshots_are_reviewed_and_accepted_with_the_binary_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let name = "sign_out__sign_out_from_the_profile_menu_ends_the_session__embedded-ifd__chromium";
    let baseline =
        std::fs::read_to_string(repo.join(format!("features/snapshots/{name}.snap"))).unwrap();
    std::fs::write(tmp.path().join(format!("{name}.snap")), &baseline).unwrap();
    // The cookies seen: the baseline's, with AD FS's MSISAuth left behind too.
    let seen = format!(
        "{baseline}- domain: adfs.contoso.test\n  path: /adfs\n  name: MSISAuth\n  secure: true\n  \
         http_only: true\n  same_site: unset\n  lifetime: session\n"
    );
    std::fs::write(tmp.path().join(format!("{name}.snap.new")), seen).unwrap();
    let snapshots = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_logout-harness"))
            .arg("snapshots")
            .args(args)
            .arg("--snapshots")
            .arg(tmp.path())
            .output()
            .unwrap();
        (out.status.code(), crate::support::harness::text(&out))
    };
    let (code, text) = snapshots(&["review"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(
            "+ MSISAuth@adfs.contoso.test/adfs (session, Secure, HttpOnly, SameSite=unset)"
        ) && text.contains("1 snapshot(s) await review"),
        "{text}"
    );
    let (code, text) = snapshots(&["accept"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(&format!(
            "accepted {}",
            tmp.path().join(format!("{name}.snap")).display()
        )),
        "{text}"
    );
    let (code, text) = snapshots(&["review"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("no snapshot awaits review"), "{text}");
    let accepted = std::fs::read_to_string(tmp.path().join(format!("{name}.snap"))).unwrap();
    assert!(accepted.contains("name: MSISAuth"), "{accepted}");
}

/// `--redact-hosts`: no host name of the deployment in any report or on the console, one
/// `host-N.example` per host instead, and the timeline still there.
#[test]
fn redact_hosts_leaves_no_host_name_in_any_report() {
    let _cpu = cpu::take(1);
    let mut run = Run::new("report", "redact-hosts");
    run.command().args([
        "--mode",
        "fba",
        "--name",
        "^Sign Out from the profile menu ends the session$",
        "--redact-hosts",
    ]);
    let report = run.finish();
    assert_eq!(report.exit, Some(0), "{}", report.output);
    let html = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target/logout-harness/report/redact-hosts.html"),
    )
    .unwrap();
    for (what, text) in [
        ("console", report.output.as_str()),
        ("json", report.text.as_str()),
        ("html", html.as_str()),
    ] {
        assert!(
            !text.contains("contoso"),
            "a host name in the {what}:\n{text}"
        );
    }
    assert!(
        html.contains("class=\"hop") && html.contains(".example"),
        "no timeline with replaced hosts:\n{html}"
    );
}
