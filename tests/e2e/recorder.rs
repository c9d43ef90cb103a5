//! Recording a browser context's requests (`src/recorder.rs`) in a real Chromium against the
//! embedded emulator on a real TLS socket: after signing in, the recording holds the requests the
//! CRM page made (the Web API's WhoAmI and accounts, the Organization service's POST, the
//! attachment download), each with the names of the cookies sent and its status, and nothing of
//! the cookies' values.

use std::time::Duration;

use crate::support::browser::Host;
use crate::support::cpu;
use logout_harness::config::target::{AuthMode, Target};
use logout_harness::engine::browser::{BrowserHost, BrowserKind, Driver, LaunchOptions};
use logout_harness::engine::recorder::Recorder;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_context_records_the_web_api_and_the_download_without_cookie_values() {
    let _cpu = cpu::take(1);
    for mode in [AuthMode::Ifd, AuthMode::Fba] {
        let sim_mode = match mode {
            AuthMode::Fba => crm_sim::Mode::Fba,
            _ => crm_sim::Mode::Ifd,
        };
        let sim = crm_sim::Sim::start(crm_sim::Settings {
            mode: sim_mode,
            ..crm_sim::Settings::default()
        })
        .await
        .expect("the emulator starts");
        let driver = Driver::start(&[])
            .await
            .expect("chromedriver (run ci/setup)");
        let launch = LaunchOptions {
            new_session_timeout: logout_harness::engine::sessions::DEFAULT_NEW_SESSION_DEADLINE,
            kind: BrowserKind::Chromium,
            headed: false,
            binary: Some(driver.browser_binary().to_path_buf()),
            host_rules: vec![format!("MAP *.contoso.test {}", sim.addr().ip())],
            trusted_spki: vec![sim.spki_sha256_base64().to_string()],
            negotiate_allowlist: None,
            trusted_ca_pem: vec![],
            firefox_seed: None,
        };
        let host = Host(BrowserHost::launch(driver.url(), &launch, 0).await.unwrap());
        let browser = host.0.open().await.unwrap();
        let (cdp, context) = browser.devtools().expect("a context can be recorded");
        let recorder = Recorder::start(cdp, context, sim.crm_url()).await.unwrap();

        let target = Target::embedded(mode);
        let creds = target.credentials("alice").unwrap();
        let start = sim.crm_url().join(&target.pages.start).unwrap();
        logout_harness::observe::page::sign_in(
            &browser,
            &start,
            &target.pages,
            &creds,
            Duration::from_secs(30),
        )
        .await
        .unwrap();
        recorder.settle(Duration::from_secs(5)).await;
        let recording = recorder.recording();
        let jar = browser.all_cookies().await.unwrap();
        let session_cookie = match mode {
            AuthMode::Fba => "MSCRMSession",
            _ => "MSISAuth",
        };
        let find = |method: &str, shown: &str| {
            let wanted = format!("{method} {}{shown}", sim.crm_url());
            recording
                .requests
                .iter()
                .find(|r| r.shown() == wanted)
                .unwrap_or_else(|| panic!("{mode}: {wanted} not in {:?}", recording.requests))
        };
        // CRM 4.0 has neither the Web API nor the 2011 Organization service (S15, S76): its page
        // fetches only the attachment.
        let fetched: &[(&str, &str)] = match mode {
            AuthMode::Fba => &[(
                "GET",
                "Activities/Attachment/download.aspx?AttachmentType&AttachmentId",
            )],
            _ => &[
                ("GET", "api/data/v9.0/WhoAmI"),
                ("GET", "api/data/v9.0/accounts?$select&$top"),
                (
                    "GET",
                    "Activities/Attachment/download.aspx?AttachmentType&AttachmentId",
                ),
                ("POST", "XRMServices/2011/Organization.svc/web"),
            ],
        };
        for &(method, shown) in fetched {
            let r = find(method, shown);
            assert_eq!(r.status, Some(200), "{mode}: {r:?}");
            let sent = r
                .cookies
                .as_ref()
                .expect("Chromium reports the cookies sent");
            assert!(
                sent.iter().any(|n| n == session_cookie),
                "{mode}: {r:?} sent {sent:?}"
            );
            // Names only: each is a cookie of the jar, and no value of the jar is among them.
            for name in sent {
                assert!(jar.iter().any(|c| &c.name == name), "{name}");
            }
        }
        // The download is replayed with its full URL; reports show it without query values.
        let download = find(
            "GET",
            "Activities/Attachment/download.aspx?AttachmentType&AttachmentId",
        );
        assert!(
            download.url.as_str().contains("AttachmentId=%7B")
                || download.url.as_str().contains("AttachmentId={")
        );
        let everything = format!("{recording:?}");
        for c in &jar {
            if c.value.len() >= 8 {
                assert!(
                    !everything.contains(&c.value),
                    "{mode}: a value of cookie {} is in the recording",
                    c.name
                );
                for r in &recording.requests {
                    for name in r.cookies.iter().flatten() {
                        assert!(!name.contains(&c.value));
                    }
                }
            }
        }
        // Requests outside the organization URL (AD FS, CRM 4.0's root sign-in page) are not kept.
        assert!(
            recording
                .requests
                .iter()
                .all(|r| r.url.as_str().starts_with(sim.crm_url().as_str())),
            "{mode}: {:?}",
            recording.requests
        );
        drop(recorder);
        browser.close().await.unwrap();
        host.0.shutdown().await;
        drop(driver);
        sim.shutdown().await;
    }
}
