//! A cookie as the browser's whole jar holds it ([`JarCookie`]): every host, HttpOnly included.

use super::*;

/// One cookie of the browser's jar, as CDP reports it. `value` is kept only to replay it; it is
/// never printed, snapshotted or written to a report.
#[derive(Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct JarCookie {
    /// Cookie name.
    pub name: String,
    /// Secret: skipped by Serialize.
    #[serde(skip_serializing)]
    pub value: String,
    /// Domain (host-only cookies have no leading dot).
    pub domain: String,
    /// Path.
    pub path: String,
    /// Expiry as seconds since the epoch; -1 for session cookies.
    pub expires: f64,
    /// HttpOnly flag.
    pub http_only: bool,
    /// Secure flag.
    pub secure: bool,
    /// True for session cookies.
    pub session: bool,
    /// `Strict`, `Lax`, `None`, or absent when the server set no SameSite.
    #[serde(default)]
    pub same_site: Option<String>,
}

impl fmt::Debug for JarCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}{}", self.name, self.domain, self.path)
    }
}

impl JarCookie {
    /// A host-only session cookie of `url`'s host, for the whole site (a cookie a server set on
    /// the way, kept by a probe that follows redirects).
    pub fn host_only(name: &str, value: &str, url: &url::Url) -> JarCookie {
        JarCookie {
            name: name.to_string(),
            value: value.to_string(),
            domain: url.host_str().unwrap_or_default().to_string(),
            path: "/".into(),
            expires: -1.0,
            http_only: false,
            secure: false,
            session: true,
            same_site: None,
        }
    }

    /// Whether a request to `url` would carry this cookie (domain and path match; RFC 6265 §5.4).
    pub fn applies_to(&self, url: &url::Url) -> bool {
        let host = url.host_str().unwrap_or_default();
        let domain_ok = match self.domain.strip_prefix('.') {
            Some(parent) => host == parent || host.ends_with(&format!(".{parent}")),
            None => host == self.domain,
        };
        let path = url.path();
        let path_ok = path == self.path
            || (path.starts_with(&self.path)
                && (self.path.ends_with('/') || path[self.path.len()..].starts_with('/')));
        domain_ok && path_ok && (!self.secure || url.scheme() == "https")
    }
}
