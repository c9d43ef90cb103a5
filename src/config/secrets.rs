//! Finding a secret in text the harness did not write (a cookie value), in the encodings
//! applications use to store it: in clear, URL-encoded, or base64 (standard or URL-safe, padded
//! or not, alone or inside a larger encoded value such as `user:password`); and removing every
//! known secret from the text the harness writes itself ([`redact`]).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

/// How `secret` appears in `value`, or `None`. Never returns any part of either.
///
/// ```
/// use logout_harness::config::secrets::find_in;
/// assert_eq!(find_in("private:user=alice&private:pw=Pass%40word1", "Pass@word1"), Some("URL-encoded"));
/// assert_eq!(find_in("YWxpY2U6UGFzc0B3b3JkMQ==", "Pass@word1"), Some("base64"));
/// assert_eq!(find_in("8f3a9c", "Pass@word1"), None);
/// ```
pub fn find_in(value: &str, secret: &str) -> Option<&'static str> {
    if secret.is_empty() || value.is_empty() {
        return None;
    }
    if value.contains(secret) {
        return Some("in clear");
    }
    let decoded = url_decode(value);
    if decoded.contains(secret) || latin1_url_decode(value).contains(secret) {
        return Some("URL-encoded");
    }
    let lower = value.to_ascii_lowercase();
    if lower.contains(&hex(secret)) {
        return Some("hex-encoded");
    }
    // Base64 of the value itself, or of its URL-decoded form (a `%3D` padding), whole or as the
    // part after a `name=` or before a signature separator.
    let mut candidates = vec![value.to_string(), decoded.clone()];
    for text in [value, decoded.as_str()] {
        candidates.extend(
            text.split(['=', '&', ':', '.', '|', ';', '"', ' '])
                .filter(|p| p.len() >= 4)
                .map(str::to_string),
        );
    }
    for c in &candidates {
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            if let Ok(bytes) = engine
                .decode(c.trim_end_matches('='))
                .or_else(|_| engine.decode(c))
            {
                let text = String::from_utf8_lossy(&bytes);
                if text.contains(secret) || url_decode(&text).contains(secret) {
                    return Some("base64");
                }
            }
        }
    }
    None
}

/// The passwords the harness has read in this process (every [`crate::config::target::Secret`] made),
/// so that whatever writes text can redact them without being handed them. Process-wide because
/// the signal handler writes the interrupted run's reports, redacted, from no context but this.
static KNOWN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Remembers a secret for [`redact_known`].
pub fn remember(secret: &str) {
    if secret.is_empty() {
        return;
    }
    let mut known = KNOWN.lock().unwrap_or_else(|e| e.into_inner());
    if !known.iter().any(|k| k == secret) {
        known.push(secret.to_string());
    }
}

/// Remembers the password of a URL's `user:password@` part (as written and percent-decoded), so
/// that a URL that legitimately carries one (a Selenium Grid's, an administrator endpoint's) is
/// redacted wherever it is written.
pub fn remember_url_credentials(url: &str) {
    if let Ok(u) = url::Url::parse(url)
        && let Some(password) = u.password()
    {
        remember(password);
        remember(&url_decode(password));
    }
}

/// [`redact`] with every secret [`remember`]ed so far.
pub fn redact_known(text: &str) -> String {
    Redactor::known().redact(text)
}

/// [`shorten`] of `text` redacted first: shortening first could cut a secret
/// (`...password=Pa...`) so that the redaction no longer recognises what is left of it.
pub fn shorten_redacted(text: &str, max: usize) -> String {
    shorten(&redact_known(text), max)
}

/// Cuts `s` to at most `max` characters, marking the cut. Kept beside the redaction so that text
/// that may hold a secret is cut by [`shorten_redacted`], redacted first.
pub fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let cut: String = s.chars().take(max).collect();
    format!("{cut}...")
}

/// What a redacted secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// `text` with every occurrence of each secret replaced by `[redacted]`: in clear; URL-encoded
/// (`%XX` in either case, once or twice, and `+` for a space, mixed freely as browsers and
/// servers do); escaped for HTML/XML (`&amp;`, `&#64;`, `&#x40;`) or JSON (`\"`, `\u0040`);
/// and base64 (standard or URL-safe, at any byte offset inside a larger encoded value, the whole
/// base64 word is removed).
///
/// ```
/// use logout_harness::config::secrets::redact;
/// let s = ["Pa ss@1".to_string()];
/// assert_eq!(redact("?pw=Pa+ss%401&x", &s), "?pw=[redacted]&x");
/// assert_eq!(redact("Basic YWxpY2U6UGEgc3NAMQ==", &s), "Basic [redacted]");
/// ```
pub fn redact<S: AsRef<str>>(text: &str, secrets: &[S]) -> String {
    Redactor::new(secrets).redact(text)
}

/// [`redact`] prepared once for a set of secrets (its patterns compiled), for many texts.
#[derive(Clone, Debug)]
pub struct Redactor {
    /// Per secret, longest first: its text-encodings pattern, its base64 cores, and the literal
    /// forms replaced as they are (hex; and the plain encodings when the secret is too long for
    /// a pattern).
    secrets: Vec<(Option<regex::Regex>, Vec<String>, Vec<String>)>,
}

impl Redactor {
    /// For `secrets` (empty ones are ignored).
    pub fn new<S: AsRef<str>>(secrets: &[S]) -> Redactor {
        let mut list: Vec<&str> = secrets
            .iter()
            .map(AsRef::as_ref)
            .filter(|s| !s.is_empty())
            .collect();
        // Longest first, so a secret that contains another is removed whole.
        list.sort_by_key(|s| std::cmp::Reverse(s.len()));
        list.dedup();
        Redactor {
            secrets: list
                .into_iter()
                .map(|s| {
                    let pattern = encoded_pattern(s);
                    let mut literals = vec![hex(s), hex(s).to_ascii_uppercase()];
                    if pattern.is_none() {
                        // Too long a secret for the pattern of every encoding: its common forms
                        // are still removed, never silently none.
                        literals.extend([
                            s.to_string(),
                            url_encode(s, true),
                            url_encode(s, false),
                            url_encode(s, false).to_ascii_lowercase(),
                        ]);
                    }
                    (pattern, base64_cores(s), literals)
                })
                .collect(),
        }
    }

    /// For every secret [`remember`]ed so far. Compiled once per set of secrets (secrets are
    /// only ever added), then cloned: redaction runs on every line and cookie the harness writes.
    pub fn known() -> Redactor {
        static COMPILED: std::sync::Mutex<Option<(usize, Redactor)>> = std::sync::Mutex::new(None);
        let known = KNOWN.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut compiled = COMPILED.lock().unwrap_or_else(|e| e.into_inner());
        match compiled.as_ref() {
            Some((n, redactor)) if *n == known.len() => redactor.clone(),
            _ => {
                let redactor = Redactor::new(&known);
                *compiled = Some((known.len(), redactor.clone()));
                redactor
            }
        }
    }

    /// Whether there is no secret to redact.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// `text` without any of the secrets; see [`redact`].
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (pattern, cores, literals) in &self.secrets {
            if let Some(re) = pattern {
                out = re.replace_all(&out, REDACTED).into_owned();
            }
            for literal in literals {
                out = out.replace(literal.as_str(), REDACTED);
            }
            out = redact_base64(&out, cores);
        }
        out
    }
}

/// The longest secret that gets the pattern of every encoding; a longer one (no password is)
/// gets its common forms replaced literally, which is fast at any length.
const MAX_PATTERN_SECRET: usize = 512;

/// A regex matching `secret` with each character in any of the text encodings of [`redact`];
/// `None` for a secret longer than [`MAX_PATTERN_SECRET`].
fn encoded_pattern(secret: &str) -> Option<regex::Regex> {
    if secret.chars().count() > MAX_PATTERN_SECRET {
        return None;
    }
    let mut pattern = String::new();
    for c in secret.chars() {
        let mut alts = vec![regex::escape(&c.to_string())];
        let mut buf = [0u8; 4];
        let bytes = c.encode_utf8(&mut buf).as_bytes();
        let pct: String = bytes.iter().map(|b| format!("%{b:02X}")).collect();
        let pct2: String = bytes.iter().map(|b| format!("%25{b:02X}")).collect();
        alts.push(format!("(?i:{})", regex::escape(&pct)));
        alts.push(format!("(?i:{})", regex::escape(&pct2)));
        // A page in ISO-8859-1 or Windows-1252 (older IIS and CRM front ends) submits one byte.
        if (0x80..=0xFF).contains(&(c as u32)) {
            alts.push(format!("(?i:%{:02X})", c as u32));
        }
        let code = c as u32;
        alts.push(format!("&#0*{code};"));
        alts.push(format!("(?i:&#x0*{code:x};)"));
        if code <= 0xFFFF {
            alts.push(format!("(?i:\\\\u{code:04x})"));
        }
        match c {
            // Form encoding's `+`, and that `+` URL-encoded again (a `next=` parameter).
            ' ' => alts.extend([r"\+".into(), "(?i:%2B)".into()]),
            '&' => alts.push("&amp;".into()),
            '<' => alts.push("&lt;".into()),
            '>' => alts.push("&gt;".into()),
            '"' => alts.extend([r#"&quot;"#.into(), r#"\\""#.into()]),
            '\'' => alts.push("&apos;".into()),
            '\\' => alts.push(r"\\\\".into()),
            '/' => alts.push(r"\\/".into()),
            _ => {}
        }
        pattern.push_str(&format!("(?:{})", alts.join("|")));
    }
    regex::RegexBuilder::new(&pattern)
        .size_limit(64 * 1024 * 1024)
        .build()
        .ok()
}

/// The UTF-8 bytes of `s` as lowercase hex.
fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

/// `s` URL-decoded with each `%XX` taken as an ISO-8859-1 character (a form submitted from a
/// Latin-1 page).
fn latin1_url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < bytes.len() {
        let hexd = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'+' => out.push(' '),
            b'%' if i + 2 < bytes.len() => match (hexd(bytes[i + 1]), hexd(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(char::from((h * 16 + l) as u8));
                    i += 2;
                }
                _ => out.push('%'),
            },
            b => out.push(b as char),
        }
        i += 1;
    }
    out
}

/// The parts of the base64 encodings of `secret` (and of its URL-encoded forms) that depend on
/// the secret alone, at each of the three byte alignments, in the standard and URL-safe alphabets:
/// found in any base64 text that encodes it, alone or inside a larger value (`user:password`).
fn base64_cores(secret: &str) -> Vec<String> {
    let mut cores = Vec::new();
    let forms = [
        secret.to_string(),
        url_encode(secret, true),
        url_encode(secret, false),
    ];
    for form in &forms {
        for offset in 0..3usize {
            let mut bytes = vec![0u8; offset];
            bytes.extend_from_slice(form.as_bytes());
            let encoded = STANDARD_NO_PAD.encode(&bytes);
            // Characters touched by the filler bytes before, or by whatever follows the secret.
            let skip = (offset * 8).div_ceil(6);
            let keep = (bytes.len() * 8) / 6;
            if keep <= skip || keep - skip < 4 {
                continue; // too short to tell apart from chance; the clear-text pass still applies
            }
            let core = &encoded[skip..keep];
            cores.push(core.to_string());
            cores.push(core.replace('+', "-").replace('/', "_"));
        }
    }
    cores.sort();
    cores.dedup();
    cores
}

/// `s` URL-encoded: every byte but letters, digits and `-._~` as `%XX`; a space as `+` when
/// `form`.
fn url_encode(s: &str, form: bool) -> String {
    s.bytes()
        .map(|b| match b {
            b' ' if form => "+".to_string(),
            b if b.is_ascii_alphanumeric() || b"-._~".contains(&b) => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

/// A base64 word with the URL escapes of its `+` and `/` undone.
fn unescape_base64(w: &str) -> String {
    w.replace("%2B", "+")
        .replace("%2b", "+")
        .replace("%2F", "/")
        .replace("%2f", "/")
}

/// Removes every base64 word (standard or URL-safe alphabet, possibly URL-escaped) that holds
/// one of `cores`.
fn redact_base64(text: &str, cores: &[String]) -> String {
    let plain = unescape_base64(text);
    if !cores.iter().any(|c| plain.contains(c.as_str())) {
        return text.to_string();
    }
    static WORD: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let word = WORD.get_or_init(|| {
        regex::Regex::new(r"(?i:[A-Za-z0-9+/_\-]|%2B|%2F|%3D|=)+").expect("static regex")
    });
    word.replace_all(text, |m: &regex::Captures| {
        let w = &m[0];
        if cores
            .iter()
            .any(|c| unescape_base64(w).contains(c.as_str()))
        {
            REDACTED.to_string()
        } else {
            w.to_string()
        }
    })
    .into_owned()
}

/// Percent-decoding with `+` as space (form encoding); invalid escapes are kept as they are.
fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PW: &str = "Pass@word1 x+y/z";

    fn b64(s: &str) -> String {
        STANDARD.encode(s)
    }

    #[test]
    fn each_encoding_is_found_and_named() {
        assert_eq!(find_in(&format!("pw={PW}"), PW), Some("in clear"));
        let urlenc = "private%3Auser%3Dalice%26private%3Apw%3DPass%40word1%20x%2By%2Fz";
        assert_eq!(find_in(urlenc, PW), Some("URL-encoded"));
        assert_eq!(find_in(&b64(PW), PW), Some("base64"));
        assert_eq!(find_in(&b64(&format!("alice:{PW}")), PW), Some("base64"));
        assert_eq!(
            find_in(&URL_SAFE_NO_PAD.encode(format!("u=alice&p={PW}")), PW),
            Some("base64")
        );
        assert_eq!(
            find_in(
                &format!("s={}.sig", b64(&format!("{{\"pw\":\"{PW}\"}}"))),
                PW
            ),
            Some("base64")
        );
    }

    #[test]
    fn redact_removes_every_encoding_and_nothing_else() {
        let secrets = [PW.to_string(), "other-Pw".to_string()];
        let urlenc = "q=private%3Auser%3Dalice%26private%3Apw%3DPass%40word1%20x%2By%2Fz&n=1";
        let cases = [
            format!("a {PW} b"),
            "pw=Pass%40word1+x%2By%2Fz".to_string(),
            "pw=Pass%40word1%20x%2by%2fz".to_string(),
            "pw=Pass%2540word1%2520x%252By%252Fz".to_string(),
            "next=%2Fsignin%3Fpw%3DPass%2540word1%2Bx%252By%252Fz".to_string(),
            urlenc.to_string(),
            format!("x {} y", b64(PW)),
            format!("Authorization: Basic {}", b64(&format!("alice:{PW}"))),
            format!("c={}", URL_SAFE_NO_PAD.encode(format!("u=alice&p={PW}"))),
            format!("s={}.sig", b64(&format!("{{\"pw\":\"{PW}\"}}"))),
            format!("t={}", b64("u=alice&p=Pass%40word1+x%2By%2Fz")).replace('+', "%2B"),
            "<b>Pass&#64;word1 x&#x2B;y&#47;z</b>".to_string(),
            "\"Pass\\u0040word1 x+y\\/z\"".to_string(),
            "other-Pw and other%2DPw".to_string(),
        ];
        for case in &cases {
            let out = redact(case, &secrets);
            assert!(out.contains(REDACTED), "{case} -> {out}");
            assert_eq!(find_in(&out, PW), None, "{case} -> {out}");
            assert!(!out.contains("word1"), "{case} -> {out}");
            assert!(!out.contains("other-Pw"), "{case} -> {out}");
        }
        assert_eq!(
            redact("pw=Pass%40word1+x%2By%2Fz&n=1", &secrets),
            "pw=[redacted]&n=1"
        );
        for clean in ["nothing here", "Pass@word", &b64("alice:other"), "x+y/z"] {
            assert_eq!(redact(clean, &secrets), clean);
        }
        let none: [&str; 0] = [];
        assert_eq!(redact("Pass@word1 x+y/z", &none), PW);
    }

    #[test]
    fn hex_latin1_and_very_long_secrets_are_found_and_redacted() {
        let pw = "Pässwörd-1";
        let hexed: String = pw.bytes().map(|b| format!("{b:02x}")).collect();
        assert_eq!(find_in(&format!("v={hexed}"), pw), Some("hex-encoded"));
        assert_eq!(redact(&format!("v={hexed};"), &[pw]), "v=[redacted];");
        let upper = hexed.to_ascii_uppercase();
        assert_eq!(redact(&format!("v={upper}"), &[pw]), "v=[redacted]");
        // ISO-8859-1: ä is %E4, ö is %F6, one byte each.
        let latin1 = "P%E4ssw%F6rd-1";
        assert_eq!(find_in(&format!("pw={latin1}"), pw), Some("URL-encoded"));
        assert_eq!(redact(&format!("pw={latin1}&x"), &[pw]), "pw=[redacted]&x");
        // 20,000 characters: too long for some patterns, never left in clear.
        let long: String = "Ab1-".repeat(5_000);
        let text = format!("a {long} b {}", url_encode(&long, false));
        let out = redact(&text, &[long.as_str()]);
        assert!(!out.contains(&long), "{}", &out[..80]);
        assert!(out.starts_with("a [redacted] b "), "{}", &out[..80]);
    }

    #[test]
    fn values_without_the_secret_are_clean() {
        for v in [
            "",
            "abc",
            "%",
            "%4",
            "a%zz",
            &b64("alice:other"),
            "Pass@word",
        ] {
            assert_eq!(find_in(v, PW), None, "{v}");
        }
        assert_eq!(
            find_in("anything", ""),
            None,
            "an empty secret is never found"
        );
    }
}
