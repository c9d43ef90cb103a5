//! HTML forms as a browser submits them: the form that owns a control, the entries it sends
//! (HTML's "constructing the entry list"), and their encoding.

use super::*;

/// The first element in tree order that `sel` matches.
pub(super) fn first_match<'a>(doc: &'a Html, sel: &Selector) -> Option<ElementRef<'a>> {
    doc.root_element()
        .descendent_elements()
        .find(|e| sel.matches(e))
}

/// The form an element belongs to (HTML's form owner): the form its `form` attribute names by
/// id (looked up in the element's own tree), else its nearest form ancestor. A form is its own.
pub(super) fn form_owner(el: ElementRef<'_>) -> Option<ElementRef<'_>> {
    if el.value().name() == "form" {
        return Some(el);
    }
    if let Some(id) = el.attr("form") {
        let root = el.ancestors().last()?;
        return root
            .descendants()
            .filter_map(ElementRef::wrap)
            .find(|e| e.value().id() == Some(id))
            .filter(|e| e.value().name() == "form");
    }
    el.ancestors()
        .filter_map(ElementRef::wrap)
        .find(|a| a.value().name() == "form")
}

/// Whether `el` is a submit button: `<button>` of type submit (the default, and what an unknown
/// type means), `<input type=submit|image>`.
pub(super) fn is_submit_button(el: ElementRef<'_>) -> bool {
    let ty = el.attr("type").map(str::to_ascii_lowercase);
    match el.value().name() {
        "button" => !matches!(ty.as_deref(), Some("button" | "reset")),
        "input" => matches!(ty.as_deref(), Some("submit" | "image")),
        _ => false,
    }
}

/// What a form submission needs from its page.
pub(super) struct FormContext<'a> {
    /// The document's URL (an empty `action` means it).
    pub(super) url: &'a Url,
    /// The document's base URL (`<base href>`), which relative actions resolve against.
    pub(super) base: Url,
    pub(super) policy: ReferrerPolicy,
}

impl<'a> FormContext<'a> {
    pub(super) fn of(doc: &Html, page: &Page<'a>) -> FormContext<'a> {
        let base = doc
            .root_element()
            .descendent_elements()
            .find(|e| e.value().name() == "base" && e.attr("href").is_some())
            .and_then(|e| page.url.join(e.attr("href")?.trim()).ok())
            .unwrap_or_else(|| page.url.clone());
        // <meta name="referrer"> overrides the header; the last valid one wins.
        let policy = doc
            .root_element()
            .descendent_elements()
            .filter(|e| {
                e.value().name() == "meta"
                    && e.attr("name")
                        .is_some_and(|n| n.eq_ignore_ascii_case("referrer"))
            })
            .filter_map(|e| ReferrerPolicy::parse(e.attr("content")?))
            .last()
            .unwrap_or(page.referrer_policy);
        FormContext {
            url: page.url,
            base,
            policy,
        }
    }

    /// The request a browser makes to submit `form` with `submitter`, `fills` typed into their
    /// controls (HTML "form submission algorithm").
    pub(super) fn submission(
        &self,
        form: ElementRef<'_>,
        submitter: Option<ElementRef<'_>>,
        fills: &[(ElementRef<'_>, &str)],
        password: &str,
    ) -> Result<Navigation, HttpSignInError> {
        // The submitter's formaction/formmethod/formenctype override the form's.
        let attr = |name: &str| {
            submitter
                .and_then(|s| s.attr(&format!("form{name}")))
                .or_else(|| form.attr(name))
        };
        let action = match attr("action").map(str::trim) {
            None | Some("") => self.url.clone(),
            Some(a) => self
                .base
                .join(a)
                .map_err(|e| HttpSignInError::Unfollowable {
                    url: shown(self.url.as_str(), password),
                    problem: format!(
                        "the form's action `{}` is not a URL ({e})",
                        shown(a, password)
                    ),
                })?,
        };
        let method = attr("method").unwrap_or("get").trim().to_ascii_lowercase();
        let entries = form_entries(form, submitter, fills);
        let mut nav = Navigation::get(action);
        nav.referrer = Some(self.url.clone());
        nav.policy = self.policy;
        match method.as_str() {
            "post" => {
                nav.method = reqwest::Method::POST;
                nav.body = Some(encode_body(attr("enctype").unwrap_or_default(), &entries));
            }
            "dialog" => {
                return Err(HttpSignInError::Unfollowable {
                    url: shown(self.url.as_str(), password),
                    problem: "the form has method=\"dialog\" (it closes a dialog, it submits \
                              nothing)"
                        .into(),
                });
            }
            // Anything else is GET, as in HTML: the entries replace the action's query.
            _ => {
                let query = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&entries)
                    .finish();
                nav.url.set_query(Some(&query));
            }
        }
        Ok(nav)
    }
}

/// The name-value pairs a browser submits for `form` (HTML "constructing the entry list"):
/// its controls in tree order, without disabled ones, buttons other than `submitter`, unchecked
/// checkboxes and radios, and nameless ones; `fills` replace the values of their controls.
pub(super) fn form_entries(
    form: ElementRef<'_>,
    submitter: Option<ElementRef<'_>>,
    fills: &[(ElementRef<'_>, &str)],
) -> Vec<(String, String)> {
    // The whole tree, since a control may name its form by id from outside it.
    let root_node = form.ancestors().last().unwrap_or(*form);
    let mut out = Vec::new();
    for el in root_node.descendants().filter_map(ElementRef::wrap) {
        let tag = el.value().name();
        if !matches!(tag, "input" | "button" | "select" | "textarea") {
            continue;
        }
        if form_owner(el) != Some(form) || is_disabled(el) || in_datalist(el) {
            continue;
        }
        let ty = el
            .attr("type")
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        let is_submitter = submitter == Some(el);
        if is_submit_button(el) && !is_submitter {
            continue;
        }
        if tag == "input" && matches!(ty.as_str(), "button" | "reset") {
            continue;
        }
        if tag == "button" && !is_submit_button(el) {
            continue;
        }
        let name = el.attr("name").unwrap_or_default();
        if tag == "input" && ty == "image" {
            // An image button sends where it was clicked; a keyboard "click" is 0,0.
            let prefix = if name.is_empty() {
                String::new()
            } else {
                format!("{name}.")
            };
            out.push((format!("{prefix}x"), "0".to_string()));
            out.push((format!("{prefix}y"), "0".to_string()));
            continue;
        }
        if name.is_empty() {
            continue;
        }
        if let Some((_, value)) = fills.iter().find(|(f, _)| *f == el) {
            out.push((name.to_string(), value.to_string()));
            continue;
        }
        match tag {
            "select" => {
                for value in selected_options(el) {
                    out.push((name.to_string(), value));
                }
            }
            "textarea" => {
                let text: String = el.text().collect();
                out.push((name.to_string(), normalize_newlines(&text)));
            }
            _ => {
                if matches!(ty.as_str(), "checkbox" | "radio") {
                    if el.attr("checked").is_some() {
                        out.push((
                            name.to_string(),
                            el.attr("value").unwrap_or("on").to_string(),
                        ));
                    }
                    continue;
                }
                let value =
                    if tag == "input" && ty == "hidden" && name.eq_ignore_ascii_case("_charset_") {
                        "UTF-8".to_string()
                    } else if tag == "input" && ty == "file" {
                        // No file chosen: an empty file name.
                        String::new()
                    } else if tag == "input" && ty != "hidden" {
                        // Text fields' value sanitization strips line breaks.
                        el.attr("value")
                            .unwrap_or_default()
                            .replace(['\r', '\n'], "")
                    } else {
                        el.attr("value").unwrap_or_default().to_string()
                    };
                out.push((name.to_string(), value));
            }
        }
    }
    out
}

/// Disabled: its own `disabled`, or inside a disabled fieldset but not in that fieldset's first
/// legend.
pub(super) fn is_disabled(el: ElementRef<'_>) -> bool {
    if el.attr("disabled").is_some() {
        return true;
    }
    let mut child = *el;
    for ancestor in el.ancestors() {
        if let Some(a) = ElementRef::wrap(ancestor)
            && a.value().name() == "fieldset"
            && a.attr("disabled").is_some()
        {
            let first_legend = a.child_elements().find(|c| c.value().name() == "legend");
            if first_legend.is_none_or(|l| *l != child) {
                return true;
            }
        }
        child = ancestor;
    }
    false
}

pub(super) fn in_datalist(el: ElementRef<'_>) -> bool {
    el.ancestors()
        .filter_map(ElementRef::wrap)
        .any(|a| a.value().name() == "datalist")
}

/// The values a `<select>` submits: its selected, enabled options; with none selected, a
/// single-line single-choice select shows (and submits) its first enabled option.
pub(super) fn selected_options(select: ElementRef<'_>) -> Vec<String> {
    let options: Vec<ElementRef<'_>> = select
        .descendent_elements()
        .filter(|e| e.value().name() == "option")
        .collect();
    let disabled = |o: &ElementRef<'_>| {
        o.attr("disabled").is_some()
            || o.parent()
                .and_then(ElementRef::wrap)
                .is_some_and(|p| p.value().name() == "optgroup" && p.attr("disabled").is_some())
    };
    let value = |o: &ElementRef<'_>| match o.attr("value") {
        Some(v) => v.to_string(),
        None => o
            .text()
            .collect::<String>()
            .split_ascii_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    };
    let multiple = select.attr("multiple").is_some();
    let selected: Vec<&ElementRef<'_>> = options
        .iter()
        .filter(|o| o.attr("selected").is_some())
        .collect();
    let chosen: Vec<&ElementRef<'_>> = if multiple {
        selected
    } else if let Some(last) = selected.last() {
        // Selecting an option of a single-choice select unselects the others.
        vec![*last]
    } else {
        let size = select
            .attr("size")
            .and_then(|s| s.trim().parse::<u32>().ok())
            .unwrap_or(1);
        if size <= 1 {
            options.iter().filter(|o| !disabled(o)).take(1).collect()
        } else {
            Vec::new()
        }
    };
    chosen
        .into_iter()
        .filter(|o| !disabled(o))
        .map(value)
        .collect()
}

/// Line breaks as forms submit them: CR LF.
pub(super) fn normalize_newlines(s: &str) -> String {
    s.replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\n', "\r\n")
}

/// The body and Content-Type of a POST with `enctype`.
pub(super) fn encode_body(enctype: &str, entries: &[(String, String)]) -> (String, Vec<u8>) {
    match enctype.trim().to_ascii_lowercase().as_str() {
        "multipart/form-data" => {
            // Unpredictability is not needed: the boundary only must not occur in the values.
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            let mut boundary = format!("----LogoutHarnessBoundary{nanos:x}");
            while entries
                .iter()
                .any(|(k, v)| k.contains(&boundary) || v.contains(&boundary))
            {
                boundary.push('x');
            }
            let escape = |s: &str| {
                s.replace('"', "%22")
                    .replace('\r', "%0D")
                    .replace('\n', "%0A")
            };
            let mut body = String::new();
            for (k, v) in entries {
                body.push_str(&format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n{v}\r\n",
                    escape(k)
                ));
            }
            body.push_str(&format!("--{boundary}--\r\n"));
            (
                format!("multipart/form-data; boundary={boundary}"),
                body.into_bytes(),
            )
        }
        "text/plain" => {
            let body: String = entries
                .iter()
                .map(|(k, v)| format!("{k}={v}\r\n"))
                .collect();
            ("text/plain".into(), body.into_bytes())
        }
        // The default, and what an unknown enctype means.
        _ => (
            "application/x-www-form-urlencoded".into(),
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(entries)
                .finish()
                .into_bytes(),
        ),
    }
}
