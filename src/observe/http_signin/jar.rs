//! The sign-in's cookie jar, with RFC 6265's rules (and Chromium's, where they differ).

use super::*;

/// A browser's cookie jar for one sign-in (RFC 6265 §5.3 storage, §5.4 sending).
#[derive(Debug, Default)]
pub(super) struct Jar {
    /// Each cookie with its creation order (sending order breaks path-length ties by it).
    pub(super) cookies: Vec<(JarCookie, u64)>,
    pub(super) created: u64,
}

/// Seconds since the epoch, as CDP reports expiry.
pub(super) fn epoch_secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// Whether `host` is `domain` or a subdomain of it (RFC 6265 §5.1.3; IP addresses only match
/// themselves).
pub(super) fn domain_match(host: &str, domain: &str, host_is_ip: bool) -> bool {
    host == domain || (!host_is_ip && host.ends_with(&format!(".{domain}")))
}

/// The directory of the request path (RFC 6265 §5.1.4), a cookie's path when it names none.
pub(super) fn default_path(url: &Url) -> String {
    let path = url.path();
    match path.rfind('/') {
        Some(i) if path.starts_with('/') && i > 0 => path[..i].to_string(),
        _ => "/".to_string(),
    }
}

/// Whether `request_path` is within `cookie_path` (RFC 6265 §5.1.4).
pub(super) fn path_match(request_path: &str, cookie_path: &str) -> bool {
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/') || request_path[cookie_path.len()..].starts_with('/')))
}

impl Jar {
    /// A jar holding `cookies` (a session's, as [`Jar::cookies`] returned them), created in
    /// that order.
    pub(super) fn of(cookies: &[JarCookie]) -> Jar {
        Jar {
            cookies: cookies.iter().cloned().zip(1..).collect(),
            created: cookies.len() as u64,
        }
    }

    /// Stores one `Set-Cookie` value received from `url` at `now`, or drops it as a browser would.
    pub(super) fn store(&mut self, url: &Url, header: &str, now: SystemTime) {
        let Ok(c) = cookie::Cookie::parse(header) else {
            return;
        };
        let (name, value) = (c.name(), c.value());
        // Chromium refuses control characters in a cookie line.
        if name
            .chars()
            .chain(value.chars())
            .any(|ch| ch.is_control() && ch != '\t')
        {
            return;
        }
        let Some(host) = url.host_str().map(str::to_ascii_lowercase) else {
            return;
        };
        let host_is_ip = !matches!(url.host(), Some(url::Host::Domain(_)));
        let trustworthy = is_trustworthy(url);
        let now_s = epoch_secs(now);
        // Max-Age wins over Expires; both are capped at 400 days; zero or past means delete.
        let expires = match (c.max_age(), c.expires_datetime()) {
            (Some(age), _) => Some(now_s + (age.whole_seconds() as f64).min(MAX_COOKIE_AGE)),
            (None, Some(at)) => Some((at.unix_timestamp() as f64).min(now_s + MAX_COOKIE_AGE)),
            (None, None) => None,
        };
        let max_age_zero = c.max_age().is_some_and(|a| a.whole_seconds() <= 0);
        let delete = max_age_zero || expires.is_some_and(|e| e <= now_s);
        let domain = match c.domain().map(str::to_ascii_lowercase) {
            None => host.clone(),
            Some(d) if d.is_empty() => host.clone(),
            // An IP address, or a single label (a TLD or an intranet name; the public suffix
            // list is out of scope), sets host-only cookies only, and only for itself.
            Some(d) if host_is_ip || !d.contains('.') => {
                if d == host {
                    host.clone()
                } else {
                    return;
                }
            }
            Some(d) if domain_match(&host, &d, false) => format!(".{d}"),
            Some(_) => return,
        };
        let host_only = !domain.starts_with('.');
        let path = match c.path() {
            Some(p) if p.starts_with('/') => p.to_string(),
            _ => default_path(url),
        };
        let secure = c.secure() == Some(true);
        if secure && !trustworthy {
            return;
        }
        // Cookie prefixes (RFC 6265bis §4.1.3), matched case-insensitively as Chromium does.
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("__secure-") && !secure {
            return;
        }
        if lower.starts_with("__host-") && !(secure && host_only && path == "/") {
            return;
        }
        // A cookie from an insecure page may not shadow a Secure one (RFC 6265bis §5.7 step 16).
        if !secure && !trustworthy {
            let bare = domain.trim_start_matches('.');
            let shadows = self.cookies.iter().any(|(old, _)| {
                let old_bare = old.domain.trim_start_matches('.');
                old.secure
                    && old.name == name
                    && (domain_match(bare, old_bare, host_is_ip)
                        || domain_match(old_bare, bare, host_is_ip))
                    && path_match(&path, &old.path)
            });
            if shadows {
                return;
            }
        }
        let existing = self
            .cookies
            .iter()
            .position(|(c, _)| c.name == name && c.domain == domain && c.path == path);
        if delete {
            if let Some(i) = existing {
                self.cookies.remove(i);
            }
            return;
        }
        let cookie = JarCookie {
            name: name.to_string(),
            value: value.to_string(),
            domain,
            path,
            expires: expires.unwrap_or(-1.0),
            http_only: c.http_only() == Some(true),
            secure,
            session: expires.is_none(),
            same_site: c.same_site().map(|s| s.to_string()),
        };
        match existing.and_then(|i| self.cookies.get_mut(i)) {
            // A replaced cookie keeps its creation time (RFC 6265 §5.3 step 11.3).
            Some((old, _)) => *old = cookie,
            None => {
                self.created += 1;
                self.cookies.push((cookie, self.created));
            }
        }
    }

    pub(super) fn live(&self, now: SystemTime) -> impl Iterator<Item = &(JarCookie, u64)> {
        let now_s = epoch_secs(now);
        self.cookies
            .iter()
            .filter(move |(c, _)| c.session || c.expires > now_s)
    }

    /// The `Cookie` header for a request to `url`: the cookies [`JarCookie::applies_to`] it (the
    /// rule the probe replays them by), longer paths first, then older first (RFC 6265 §5.4).
    pub(super) fn header_for(&self, url: &Url, now: SystemTime) -> Option<String> {
        let mut sent: Vec<&(JarCookie, u64)> =
            self.live(now).filter(|(c, _)| c.applies_to(url)).collect();
        if sent.is_empty() {
            return None;
        }
        sent.sort_by_key(|(c, created)| (std::cmp::Reverse(c.path.len()), *created));
        Some(
            sent.iter()
                .map(|(c, _)| format!("{}={}", c.name, c.value))
                .collect::<Vec<_>>()
                .join("; "),
        )
    }

    /// Every live cookie, sorted as [`crate::engine::browser::Browser::all_cookies`] sorts them.
    pub(super) fn cookies(&self, now: SystemTime) -> Vec<JarCookie> {
        let mut all: Vec<JarCookie> = self.live(now).map(|(c, _)| c.clone()).collect();
        all.sort_by(|a, b| (&a.domain, &a.path, &a.name).cmp(&(&b.domain, &b.path, &b.name)));
        all
    }
}
