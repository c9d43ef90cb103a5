//! Finding a secret in text the harness did not write (a cookie value), in the encodings
//! applications use to store it: in clear, URL-encoded, or base64 (standard or URL-safe, padded
//! or not, alone or inside a larger encoded value such as `user:password`).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

/// How `secret` appears in `value`, or `None`. Never returns any part of either.
///
/// ```
/// use logout_harness::secrets::find_in;
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
    if decoded.contains(secret) {
        return Some("URL-encoded");
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
