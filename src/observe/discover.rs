//! Finding a deployment's controls on its own pages, for `check --connect`'s proposed target
//! file: the sign-in form's fields, the Sign out control, and what the page after sign-out says.
//! What a person does with the browser's developer tools, done by a script in the page; each
//! control is named by the shortest selector that finds it alone (its id, its name, its link, its
//! form's action), so the proposal reads like a hand-written target file.

use crate::engine::browser::{Browser, BrowserError};

/// The selector of `el` (a script function `sel(el)`, shared by the scripts below): its id,
/// else `tag[name=...]`, else a link's `a[href=...]`, else `form[action=...] tag[type=...]`,
/// each only when it finds `el` alone; else a path of `:nth-of-type` steps from `body`.
const SELECTOR_JS: &str = r#"
function sel(el) {
  const one = (s) => { try { return document.querySelectorAll(s).length === 1; } catch (e) { return false; } };
  const q = (v) => '"' + String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
  const tag = el.tagName.toLowerCase();
  if (el.id && one('#' + CSS.escape(el.id))) { return '#' + CSS.escape(el.id); }
  if (el.getAttribute('name') && one(tag + '[name=' + q(el.getAttribute('name')) + ']')) {
    return tag + '[name=' + q(el.getAttribute('name')) + ']';
  }
  if (tag === 'a' && el.getAttribute('href') && one('a[href=' + q(el.getAttribute('href')) + ']')) {
    return 'a[href=' + q(el.getAttribute('href')) + ']';
  }
  const form = el.form || el.closest('form');
  const typed = tag + (el.getAttribute('type') ? '[type=' + q(el.getAttribute('type')) + ']' : '');
  if (form && form.id && one('#' + CSS.escape(form.id) + ' ' + typed)) {
    return '#' + CSS.escape(form.id) + ' ' + typed;
  }
  if (form && form.getAttribute('action')) {
    const s = 'form[action=' + q(form.getAttribute('action')) + '] ' + tag +
      (el.getAttribute('type') ? '[type=' + q(el.getAttribute('type')) + ']' : '');
    if (one(s)) { return s; }
  }
  const steps = [];
  for (let e = el; e && e !== document.body; e = e.parentElement) {
    let n = 1;
    for (let s = e.previousElementSibling; s; s = s.previousElementSibling) {
      if (s.tagName === e.tagName) { n++; }
    }
    steps.unshift(e.tagName.toLowerCase() + ':nth-of-type(' + n + ')');
  }
  return 'body > ' + steps.join(' > ');
}
function shown(el) {
  const r = el.getBoundingClientRect();
  return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden';
}
"#;

/// The fields of a sign-in form, as selectors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignInForm {
    /// The user name (or e-mail) field.
    pub username: String,
    /// The password field.
    pub password: String,
    /// The button that submits the form.
    pub submit: String,
}

/// The sign-in form on the page, if it has one: a shown password field, the last shown text
/// (or e-mail) field before it in its form, and the form's submit button.
pub async fn sign_in_form(browser: &Browser) -> Result<Option<SignInForm>, BrowserError> {
    let script = format!(
        "{SELECTOR_JS}
        const pw = [...document.querySelectorAll('input[type=password]')].find(shown);
        if (!pw) {{ return null; }}
        const scope = pw.form || document;
        const fields = [...scope.querySelectorAll('input')].filter((i) =>
          shown(i) && ['text', 'email', ''].includes((i.getAttribute('type') || '').toLowerCase()));
        const before = fields.filter((i) =>
          i.compareDocumentPosition(pw) & Node.DOCUMENT_POSITION_FOLLOWING);
        const user = before.length ? before[before.length - 1] : fields[0];
        const submit = [...scope.querySelectorAll(
          'button[type=submit], input[type=submit], button:not([type])')].find(shown);
        if (!user || !submit) {{ return null; }}
        return {{ username: sel(user), password: sel(pw), submit: sel(submit) }};"
    );
    let found = browser.client().execute(&script, vec![]).await?;
    let field = |k: &str| found[k].as_str().map(str::to_string);
    Ok(
        match (field("username"), field("password"), field("submit")) {
            (Some(username), Some(password), Some(submit)) => Some(SignInForm {
                username,
                password,
                submit,
            }),
            _ => None,
        },
    )
}

/// The page's Sign out control: a shown link or button whose text (or value, title, label) says
/// sign out or log out, else one whose id, address or form action does. The selector of the
/// control, and the words that picked it.
pub async fn sign_out_control(browser: &Browser) -> Result<Option<(String, String)>, BrowserError> {
    let script = format!(
        r#"{SELECTOR_JS}
        const words = /\b(sign|log)[\s_-]?(out|off)\b|\blogout\b|\bsignout\b|\blogoff\b|abmelden|d[ée]connexion|cerrar sesi[óo]n/i;
        const controls = [...document.querySelectorAll(
          'a, button, input[type=submit], input[type=button], [role=button], [role=menuitem]')]
          .filter(shown);
        const said = (c) => [c.innerText, c.value, c.title, c.getAttribute('aria-label')]
          .filter(Boolean).join(' ');
        const named = (c) => [c.id, c.getAttribute('href'), c.form && c.form.getAttribute('action')]
          .filter(Boolean).join(' ');
        let pick = controls.find((c) => words.test(said(c)));
        let why = pick && said(pick);
        if (!pick) {{ pick = controls.find((c) => words.test(named(c))); why = pick && named(pick); }}
        return pick ? [sel(pick), why.trim().slice(0, 60)] : null;"#
    );
    let found = browser.client().execute(&script, vec![]).await?;
    Ok(match (found[0].as_str(), found[1].as_str()) {
        (Some(css), Some(why)) => Some((css.to_string(), why.to_string())),
        _ => None,
    })
}

/// Phrases pages say after signing out, most specific first: the proposed `signed_out_text` is
/// the first one the page shows.
const SIGNED_OUT_PHRASES: [&str; 8] = [
    "signed out",
    "logged out",
    "signed off",
    "logged off",
    "sign-out successful",
    "logout successful",
    "abgemeldet",
    "déconnecté",
];

/// A `signed_out_text` for a page that shows `text`: `(?i)` and the first phrase of
/// [`SIGNED_OUT_PHRASES`] it contains.
pub fn signed_out_text(text: &str) -> Option<String> {
    let lower = text.to_lowercase();
    SIGNED_OUT_PHRASES
        .iter()
        .find(|p| lower.contains(*p))
        .map(|p| format!("(?i){p}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signed_out_text_is_the_first_phrase_the_page_says() {
        assert_eq!(
            signed_out_text("Goodbye!\nYou have been LOGGED OUT. Sign in again"),
            Some("(?i)logged out".into())
        );
        assert_eq!(signed_out_text("Please sign in"), None);
    }
}
