//! The HTML report as a person looks at it: opened from disk in the harness's own headless
//! Chromium (no server: the file alone), and read from what the page shows. Two reports: the
//! clean run's (every mode, every check held: `clean.rs`), and a run with the emulator's AD FS
//! never told of the sign-out (`--fault skip-adfs-signout`), where the failed scenario must be
//! open with its cause and fix, and its timeline must show the hop where the session survived.
//!
//! Each report is photographed for the README (`target/logout-harness/report/*.png`;
//! `UPDATE_DOCS=1` copies them to `docs/images/`).

use std::path::{Path, PathBuf};

use crate::support::cpu;
use crate::support::harness::Run;
use logout_harness::config::target::{AuthMode, Target};
use logout_harness::engine::browser::{Browser, BrowserHost, BrowserKind, Driver, LaunchOptions};

/// Ends the host browser whatever happens (the driver's own drop then ends chromedriver).
struct Host(std::sync::Arc<BrowserHost>);

impl Drop for Host {
    fn drop(&mut self) {
        let host = self.0.clone();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move { host.shutdown().await });
        }
    }
}

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
                "const e = document.querySelector(arguments[0]); if (e) e.scrollIntoView({block: 'center'}); return true;",
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

/// No password and nothing shaped like a cookie value or token (a run of 32 or more letters,
/// digits, `+`, `/`, `_` or `-`) in what the page shows or holds outside its images.
fn no_secret(seen: &Seen, which: &str) {
    let markup = seen.str("markup");
    for p in passwords() {
        assert!(
            !markup.contains(&p) && !seen.str("bodyText").contains(&p),
            "{which}: a password is in the report"
        );
    }
    let token = regex::Regex::new(r"[A-Za-z0-9+/_-]{32,}").unwrap();
    if let Some(m) = token.find(seen.str("bodyText")) {
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
    let launch = LaunchOptions {
        new_session_timeout: logout_harness::engine::sessions::DEFAULT_NEW_SESSION_DEADLINE,
        kind: BrowserKind::Chromium,
        headed: false,
        binary: Some(driver.browser_binary().to_path_buf()),
        host_rules: vec![],
        trusted_spki: vec![],
        negotiate_allowlist: None,
        trusted_ca_pem: vec![],
        firefox_seed: None,
    };
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
