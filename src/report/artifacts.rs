//! What a failed scenario leaves for a person to look at: per browser a screenshot, the URL, the
//! page source and the cookie jar (shapes only), plus the probe exchanges. Redacted: no cookie
//! values, no passwords (in any encoding, also where the page or a URL shows one: blanked on the
//! page before its screenshot), no WS-Federation tokens.

use std::path::{Path, PathBuf};

use crate::engine::browser::Browser;
use crate::judge::VerdictContext;
use crate::report::findings::Screenshot;
use crate::{config::secrets, observe::snapshot};

/// Saves the artifacts of the scenario of `ctx` under `artifacts`: each person's browser (by name)
/// and the scenario's probe log, within `limit` in all (a page that does not answer, or one of
/// 50 MB, gets what could be saved by then and a note). Failures to save are reported on stderr
/// only (an artifact is a help, never a reason to change the verdict). Returns the screenshots
/// taken, for the HTML report to embed.
pub async fn save<'a>(
    artifacts: &Path,
    ctx: &VerdictContext,
    browsers: impl IntoIterator<Item = (&'a str, &'a Browser)>,
    probe_log: &[String],
    limit: std::time::Duration,
) -> Vec<Screenshot> {
    let dir: PathBuf = artifacts.join(snapshot::snapshot_name(&[
        &ctx.feature,
        &ctx.scenario,
        &ctx.target,
        &ctx.browser,
    ]));
    if let Err(e) = private_dir(&dir) {
        eprintln!("artifacts: cannot create {}: {e}", dir.display());
        return Vec::new();
    }
    let mut screenshots = Vec::new();
    let deadline = tokio::time::Instant::now() + limit;
    let mut notes = vec![format!(
        "scenario: {}\nmode: {}\nbrowser: {}",
        ctx.scenario, ctx.mode, ctx.browser
    )];
    for (person, browser) in browsers {
        // Cut at an await: at worst the screenshot, always taken last, is not taken.
        if tokio::time::timeout_at(
            deadline,
            save_browser(&dir, person, browser, &mut notes, &mut screenshots),
        )
        .await
        .is_err()
        {
            notes.push(format!(
                "{person}: saving stopped after {:.0}s (the page did not answer in time, or is \
                 too large); the files beside this one are what was saved",
                limit.as_secs_f64()
            ));
        }
    }
    notes.extend(probe_log.iter().cloned());
    let probe = secrets::redact_known(&(notes.join("\n") + "\n"));
    let _ = write_private(&dir.join("probe.txt"), probe);
    screenshots
}

/// The most of a page's source an artifact keeps: a person reads the start of a page, and a
/// server that answers 50 MB must not fill the disk of every nightly run.
const MAX_PAGE_SOURCE: usize = 2 * 1024 * 1024;

/// One person's browser: URL, page source, cookie shapes, then the screenshot.
async fn save_browser(
    dir: &Path,
    person: &str,
    browser: &Browser,
    notes: &mut Vec<String>,
    screenshots: &mut Vec<Screenshot>,
) {
    let client = browser.client();
    if let Ok(url) = client.current_url().await {
        notes.push(format!("{person} url: {url}"));
    }
    if let Ok(source) = client.source().await {
        let page = cut_page(redact_page(&source), MAX_PAGE_SOURCE);
        let _ = write_private(&dir.join(format!("{person}.html")), page);
    }
    if let Ok(jar) = browser.all_cookies().await {
        let text = serde_yaml::to_string(&snapshot::shapes(&jar)).unwrap_or_default();
        let text = secrets::redact_known(&text);
        let _ = write_private(&dir.join(format!("{person}.cookies.yaml")), text);
    }
    // Last: blanking the password changes the page.
    let blanked = match blank_secrets(client).await {
        Ok(n) => secret_elsewhere(client).await.map(|()| n),
        Err(e) => Err(e),
    };
    match blanked {
        Ok(blanked) => {
            if let Ok(png) = client.screenshot().await {
                let _ = write_private(&dir.join(format!("{person}.png")), &png);
                screenshots.push(Screenshot {
                    caption: format!("{person}'s browser as the scenario ended"),
                    png,
                });
            }
            if blanked > 0 {
                notes.push(format!(
                    "{person} screenshot: taken after {blanked} text(s) showing a password \
                     were blanked on the page"
                ));
            }
        }
        Err(why) => notes.push(format!("{person} screenshot: not taken, {why}")),
    }
}

/// `page` (redacted already: a cut could leave part of a secret no redaction recognises) cut to
/// at most `max` bytes at a character boundary, with a comment saying so.
fn cut_page(page: String, max: usize) -> String {
    if page.len() <= max {
        return page;
    }
    let mut end = max;
    while !page.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}\n<!-- logout-harness: the page source is cut here, at {} of its {} bytes -->\n",
        &page[..end],
        end,
        page.len()
    )
}

/// `dir` and its missing parents, readable by their owner only (0700): artifacts show signed-in
/// pages, as private as the reports (0600).
fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Writes `bytes` to a new (or truncated) file at `path` that only its owner can read (0600).
fn write_private(path: &Path, bytes: impl AsRef<[u8]>) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes.as_ref())
}

/// Every text node, input value and the title of the page, in document order (the same order
/// [`SET_TEXTS`] writes them back in).
const GET_TEXTS: &str = r#"
const out = [document.title];
const walker = document.createTreeWalker(document.documentElement, NodeFilter.SHOW_TEXT);
for (let n = walker.nextNode(); n; n = walker.nextNode()) out.push(n.nodeValue);
for (const e of document.querySelectorAll('input, textarea')) out.push(e.value);
return out;
"#;

/// Writes back the texts of [`GET_TEXTS`]: `arguments[0]` is a list of `[index, text]`.
const SET_TEXTS: &str = r#"
const nodes = [];
const walker = document.createTreeWalker(document.documentElement, NodeFilter.SHOW_TEXT);
for (let n = walker.nextNode(); n; n = walker.nextNode()) nodes.push(n);
const inputs = Array.from(document.querySelectorAll('input, textarea'));
for (const [i, text] of arguments[0]) {
  if (i === 0) document.title = text;
  else if (i <= nodes.length) nodes[i - 1].nodeValue = text;
  else inputs[i - 1 - nodes.length].value = text;
}
return true;
"#;

/// Everything else a page can render text from, which blanking texts does not reach: the
/// markup's attributes (a `placeholder`, an `<iframe srcdoc>`), open shadow roots, the style
/// sheets (CSS `content:`), generated `::before` / `::after` content and same-origin frames.
const GET_ELSEWHERE: &str = r#"
// The markup as it renders: a field shows its value property (blanked already), not the `value`
// attribute it started with; a script's text is never shown.
const copy = document.documentElement.cloneNode(true);
for (const el of copy.querySelectorAll('input, textarea')) { el.removeAttribute('value'); el.textContent = ''; }
for (const el of copy.querySelectorAll('script')) { el.remove(); }
const out = [copy.outerHTML];
const walk = (root) => {
  for (const el of root.querySelectorAll('*')) {
    if (el.shadowRoot) { out.push(el.shadowRoot.innerHTML); walk(el.shadowRoot); }
    for (const pseudo of ['::before', '::after']) {
      const c = getComputedStyle(el, pseudo).content;
      if (c && c !== 'none' && c !== 'normal') out.push(c);
    }
    if (el.tagName === 'IFRAME') {
      try { out.push(el.contentDocument.documentElement.outerHTML); } catch (e) {}
    }
  }
};
walk(document);
for (const sheet of document.styleSheets) {
  try { for (const rule of sheet.cssRules) out.push(rule.cssText); } catch (e) {}
}
return out;
"#;

/// Replaces every known secret the page shows (text, input values, title) with `[redacted]`
/// so that a screenshot cannot show it, then reads the page again to make sure. Returns how many
/// texts were blanked; `Err` says why the screenshot must not be taken.
async fn blank_secrets(client: &fantoccini::Client) -> Result<usize, String> {
    let texts = |v: serde_json::Value| -> Result<Vec<String>, String> {
        serde_json::from_value::<Vec<Option<String>>>(v)
            .map(|t| t.into_iter().map(Option::unwrap_or_default).collect())
            .map_err(|e| format!("the page's text could not be read ({e})"))
    };
    let read = |c: &fantoccini::Client| {
        let c = c.clone();
        async move {
            c.execute(GET_TEXTS, vec![])
                .await
                .map_err(|e| format!("the page's text could not be read ({e})"))
        }
    };
    let redactor = secrets::Redactor::known();
    let before = texts(read(client).await?)?;
    let changes: Vec<serde_json::Value> = before
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let r = redactor.redact(t);
            (r != *t).then(|| serde_json::json!([i, r]))
        })
        .collect();
    if changes.is_empty() {
        return Ok(0);
    }
    let blanked = changes.len();
    client
        .execute(SET_TEXTS, vec![serde_json::Value::Array(changes)])
        .await
        .map_err(|e| format!("the page shows a password that could not be blanked ({e})"))?;
    let after = texts(read(client).await?)?;
    if after.iter().any(|t| redactor.redact(t) != *t) {
        return Err("the page shows a password that could not be blanked".into());
    }
    Ok(blanked)
}

/// Whether a known secret is anywhere a page can render it from besides its texts
/// ([`GET_ELSEWHERE`]); such a page gets no screenshot. An unreadable page counts as one.
async fn secret_elsewhere(client: &fantoccini::Client) -> Result<(), String> {
    let found = client
        .execute(GET_ELSEWHERE, vec![])
        .await
        .map_err(|e| format!("the page could not be read to check for a password ({e})"))?;
    let parts: Vec<Option<String>> = serde_json::from_value(found)
        .map_err(|e| format!("the page could not be read to check for a password ({e})"))?;
    let redactor = secrets::Redactor::known();
    if parts.iter().flatten().any(|t| redactor.redact(t) != *t) {
        return Err(
            "the page holds a password where blanking texts cannot reach it (an attribute such \
             as a placeholder, a shadow root, a frame or a style sheet)"
                .into(),
        );
    }
    Ok(())
}

/// Removes token-bearing form values (`wresult`, passwords) and every known secret from a page
/// source.
pub fn redact_page(source: &str) -> String {
    secrets::redact_known(&redact_form_values(source))
}

/// Removes token-bearing form values (`wresult`, passwords) from a page source.
fn redact_form_values(source: &str) -> String {
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
    use super::{cut_page, redact_page};

    #[test]
    fn a_long_page_is_cut_at_a_character_boundary_and_says_so() {
        assert_eq!(cut_page("<p>é</p>".into(), 100), "<p>é</p>");
        // "é" is two bytes: a cut inside it moves back before it.
        let cut = cut_page("<p>é</p>".into(), 4);
        assert!(
            cut.starts_with("<p>\n<!-- logout-harness: the page source is cut here, at 3 of its 9"),
            "{cut}"
        );
    }

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
