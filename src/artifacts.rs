//! What a failed scenario leaves for a person to look at: per browser a screenshot, the URL, the
//! page source and the cookie jar (shapes only), plus the probe exchanges. Redacted: no cookie
//! values, no passwords, no WS-Federation tokens.

use std::path::PathBuf;

use crate::snapshot;
use crate::steps::LogoutWorld;

/// Saves the artifacts of `world`'s scenario; failures to save are reported on stderr only (an
/// artifact is a help, never a reason to change the verdict).
pub async fn save(world: &LogoutWorld) {
    let ctx = &world.verdict_context;
    let dir: PathBuf = world.ctx().artifacts.join(snapshot::snapshot_name(&[
        &ctx.feature,
        &ctx.scenario,
        &ctx.target,
        &ctx.browser,
    ]));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("artifacts: cannot create {}: {e}", dir.display());
        return;
    }
    let mut notes = vec![format!(
        "scenario: {}\nmode: {}\nbrowser: {}",
        ctx.scenario, ctx.mode, ctx.browser
    )];
    for (person, p) in &world.people {
        let Some(browser) = &p.browser else { continue };
        let client = browser.client();
        if let Ok(png) = client.screenshot().await {
            let _ = std::fs::write(dir.join(format!("{person}.png")), png);
        }
        if let Ok(url) = client.current_url().await {
            notes.push(format!("{person} url: {url}"));
        }
        if let Ok(source) = client.source().await {
            let _ = std::fs::write(dir.join(format!("{person}.html")), redact_page(&source));
        }
        if let Ok(jar) = browser.all_cookies().await {
            let text = serde_yaml::to_string(&snapshot::shapes(&jar)).unwrap_or_default();
            let _ = std::fs::write(dir.join(format!("{person}.cookies.yaml")), text);
        }
    }
    notes.extend(world.probe_log.iter().cloned());
    let _ = std::fs::write(dir.join("probe.txt"), notes.join("\n") + "\n");
    eprintln!("artifacts of \"{}\": {}", ctx.scenario, dir.display());
}

/// Removes token-bearing form values (`wresult`, passwords) from a page source.
pub fn redact_page(source: &str) -> String {
    let re = regex::Regex::new(
        r#"(?is)(<input[^>]*(?:name="(?:wresult|Password|password)"|type="password")[^>]*value=")[^"]*(")"#,
    )
    .expect("static regex");
    let once = re.replace_all(source, "${1}[redacted]${2}");
    // The same with value before name.
    let re2 = regex::Regex::new(
        r#"(?is)(<input[^>]*value=")[^"]*("[^>]*name="(?:wresult|Password|password)")"#,
    )
    .expect("static regex");
    re2.replace_all(&once, "${1}[redacted]${2}").into_owned()
}

#[cfg(test)]
mod tests {
    use super::redact_page;

    #[test]
    fn tokens_and_passwords_are_redacted_either_attribute_order() {
        let page = r#"<input type="hidden" name="wresult" value="TOKEN1"><input value="TOKEN2" name="wresult"><input type="password" name="Password" value="hunter2">"#;
        let out = redact_page(page);
        assert!(
            !out.contains("TOKEN1") && !out.contains("TOKEN2") && !out.contains("hunter2"),
            "{out}"
        );
        assert_eq!(out.matches("[redacted]").count(), 3);
    }
}
