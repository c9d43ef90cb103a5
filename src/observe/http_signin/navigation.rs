//! One navigation as a browser makes it: its requests and redirects (with a browser's method
//! changes), and the `Referer` and `Origin` a document's referrer policy allows.

use super::*;

/// A document's referrer policy (W3C Referrer Policy), which decides `Referer` and `Origin`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) enum ReferrerPolicy {
    NoReferrer,
    NoReferrerWhenDowngrade,
    SameOrigin,
    Origin,
    StrictOrigin,
    OriginWhenCrossOrigin,
    /// Chromium's default.
    #[default]
    StrictOriginWhenCrossOrigin,
    UnsafeUrl,
}

impl ReferrerPolicy {
    /// The last known token of a `Referrer-Policy` value (unknown ones are skipped, so servers
    /// can list fallbacks).
    pub(super) fn parse(value: &str) -> Option<ReferrerPolicy> {
        value.split(',').rev().find_map(|t| {
            Some(match t.trim().to_ascii_lowercase().as_str() {
                "no-referrer" => ReferrerPolicy::NoReferrer,
                "no-referrer-when-downgrade" => ReferrerPolicy::NoReferrerWhenDowngrade,
                "same-origin" => ReferrerPolicy::SameOrigin,
                "origin" => ReferrerPolicy::Origin,
                "strict-origin" => ReferrerPolicy::StrictOrigin,
                "origin-when-cross-origin" => ReferrerPolicy::OriginWhenCrossOrigin,
                "strict-origin-when-cross-origin" => ReferrerPolicy::StrictOriginWhenCrossOrigin,
                "unsafe-url" => ReferrerPolicy::UnsafeUrl,
                _ => return None,
            })
        })
    }
}

/// Whether requests to `url` are "potentially trustworthy" (https, or loopback over http), which
/// is where Chromium takes Secure cookies from and sends a strict policy's referrer to.
pub(super) fn is_trustworthy(url: &Url) -> bool {
    if url.scheme() == "https" {
        return true;
    }
    match url.host() {
        Some(url::Host::Domain(d)) => {
            let d = d.to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// One request of a navigation, and what a browser remembers across its redirects.
#[derive(Debug)]
pub(super) struct Navigation {
    pub(super) method: reqwest::Method,
    pub(super) url: Url,
    /// Content-Type and body of a POST.
    pub(super) body: Option<(String, Vec<u8>)>,
    /// The document that started the navigation (a form's page); none for a typed URL.
    pub(super) referrer: Option<Url>,
    pub(super) policy: ReferrerPolicy,
    /// Set when a redirect made the request cross origins twice (Fetch's "tainted origin"):
    /// `Origin: null`.
    pub(super) tainted: bool,
}

impl Navigation {
    /// A typed URL: GET, no referrer.
    pub(super) fn get(url: Url) -> Navigation {
        Navigation {
            method: reqwest::Method::GET,
            url,
            body: None,
            referrer: None,
            policy: ReferrerPolicy::default(),
            tainted: false,
        }
    }

    /// The request after a redirect to `next` with `status` (Fetch "HTTP-redirect fetch").
    pub(super) fn redirected(
        mut self,
        status: u16,
        next: Url,
        policy: Option<ReferrerPolicy>,
    ) -> Navigation {
        if let Some(referrer) = &self.referrer
            && self.url.origin() != next.origin()
            && referrer.origin() != self.url.origin()
        {
            self.tainted = true;
        }
        let to_get = match status {
            301 | 302 => self.method == reqwest::Method::POST,
            303 => !matches!(self.method, reqwest::Method::GET | reqwest::Method::HEAD),
            _ => false,
        };
        if to_get {
            self.method = reqwest::Method::GET;
            self.body = None;
        }
        if let Some(p) = policy {
            self.policy = p;
        }
        self.url = next;
        self
    }

    /// The `Referer` a browser sends (W3C Referrer Policy, "determine request's referrer").
    pub(super) fn referer(&self) -> Option<String> {
        let doc = self.referrer.as_ref()?;
        let mut full = doc.clone();
        full.set_fragment(None);
        let _ = full.set_username("");
        let _ = full.set_password(None);
        let origin_only = format!("{}/", doc.origin().ascii_serialization());
        let mut full = full.to_string();
        // Chromium sends the origin alone for a referrer longer than 4096 bytes.
        if full.len() > 4096 {
            full = origin_only.clone();
        }
        let same_origin = doc.origin() == self.url.origin();
        let downgrade = is_trustworthy(doc) && !is_trustworthy(&self.url);
        match self.policy {
            ReferrerPolicy::NoReferrer => None,
            ReferrerPolicy::UnsafeUrl => Some(full),
            ReferrerPolicy::Origin => Some(origin_only),
            ReferrerPolicy::NoReferrerWhenDowngrade => (!downgrade).then_some(full),
            ReferrerPolicy::SameOrigin => same_origin.then_some(full),
            ReferrerPolicy::OriginWhenCrossOrigin => {
                Some(if same_origin { full } else { origin_only })
            }
            ReferrerPolicy::StrictOrigin => (!downgrade).then_some(origin_only),
            ReferrerPolicy::StrictOriginWhenCrossOrigin => {
                if same_origin {
                    Some(full)
                } else {
                    (!downgrade).then_some(origin_only)
                }
            }
        }
    }

    /// The `Origin` a browser sends: on requests other than GET and HEAD, from the document that
    /// started them; `null` where the policy or a cross-origin redirect hides it (Fetch "append
    /// a request `Origin` header").
    pub(super) fn origin_header(&self) -> Option<String> {
        if matches!(self.method, reqwest::Method::GET | reqwest::Method::HEAD) {
            return None;
        }
        let doc = self.referrer.as_ref()?;
        let null = || Some("null".to_string());
        if self.tainted {
            return null();
        }
        let hidden = match self.policy {
            ReferrerPolicy::NoReferrer => true,
            ReferrerPolicy::NoReferrerWhenDowngrade
            | ReferrerPolicy::StrictOrigin
            | ReferrerPolicy::StrictOriginWhenCrossOrigin => {
                doc.scheme() == "https" && self.url.scheme() != "https"
            }
            ReferrerPolicy::SameOrigin => doc.origin() != self.url.origin(),
            _ => false,
        };
        if hidden {
            null()
        } else {
            Some(doc.origin().ascii_serialization())
        }
    }
}
