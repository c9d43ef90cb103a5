//! Direct HTTP probes: what the browser cannot tell us, such as whether the server still accepts
//! the cookies from before sign-out (WSTG-SESS-06: "restore the old values and reload").

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use crate::engine::browser::JarCookie;
use crate::engine::error::{ProbeError, error_chain};

/// How the probe reaches the target: extra trusted roots and host names pinned to addresses.
#[derive(Clone, Debug, Default)]
pub struct HttpTrust {
    /// PEM certificates to trust in addition to the system roots.
    pub roots_pem: Vec<String>,
    /// Host names resolved to fixed addresses (the embedded emulator's loopback listener, a
    /// target's `resolve:`); the port is not used, the URL's is.
    pub resolve: Vec<(String, SocketAddr)>,
}

/// A reqwest client for probing one target: no redirects followed, no cookie store of its own.
#[derive(Clone, Debug)]
pub struct Probe {
    http: reqwest::Client,
}

/// The `Set-Cookie` values of an answer, as received. Cookie values are secrets: `Debug` names
/// the cookies only.
#[derive(Clone, Default)]
pub struct SetCookies(pub Vec<String>);

impl fmt::Debug for SetCookies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.0
                    .iter()
                    .map(|h| h.split('=').next().unwrap_or_default().trim()),
            )
            .finish()
    }
}

/// What a probe request got back. Holds no cookie values.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeResponse {
    /// Method and URL asked.
    pub request: String,
    /// Names of the cookies sent.
    pub cookies_sent: Vec<String>,
    /// HTTP status.
    pub status: u16,
    /// `Location`, for redirects.
    pub location: Option<String>,
    /// `WWW-Authenticate` challenges.
    pub challenges: Vec<String>,
}

impl ProbeResponse {
    /// Whether the server answered as for a signed-in user.
    pub fn authenticated(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

impl fmt::Display for ProbeResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.request)?;
        if self.cookies_sent.is_empty() {
            write!(f, " with no cookies")?;
        } else {
            write!(f, " with cookies {}", self.cookies_sent.join(", "))?;
        }
        write!(f, " -> {}", self.status)?;
        if let Some(loc) = &self.location {
            write!(
                f,
                " (Location: {})",
                crate::config::secrets::shorten_redacted(loc, 120)
            )?;
        }
        if !self.challenges.is_empty() {
            write!(f, " (WWW-Authenticate: {})", self.challenges.join(" | "))?;
        }
        Ok(())
    }
}

/// What an identity provider answered a sign-in request without Windows credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdpAnswer {
    /// A token for the relying party: the cookies sent belong to a live single sign-on session.
    Token,
    /// `401` with `WWW-Authenticate: Negotiate`: the browser must present a Kerberos ticket.
    WindowsChallenge,
    /// A page with a password field: the user must type credentials.
    Form,
    /// Anything else (an error page, a redirect).
    Other,
}

impl fmt::Display for IdpAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdpAnswer::Token => "a token for CRM (its single sign-on session is alive)",
            IdpAnswer::WindowsChallenge => "a Windows authentication challenge (401 Negotiate)",
            IdpAnswer::Form => "a sign-in form",
            IdpAnswer::Other => "neither a token nor a challenge nor a form",
        })
    }
}

impl HttpTrust {
    /// An HTTP client that trusts this (extra roots, pinned host names), follows no redirects
    /// (each caller decides what a redirect means) and gives up on a request after 15 s.
    pub fn client(&self) -> Result<reqwest::Client, ProbeError> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .user_agent(concat!("logout-harness/", env!("CARGO_PKG_VERSION")));
        for pem in &self.roots_pem {
            let cert = reqwest::Certificate::from_pem(pem.as_bytes())
                .map_err(|e| ProbeError::Client(format!("bad CA certificate: {e}")))?;
            builder = builder.add_root_certificate(cert);
        }
        for (host, addr) in &self.resolve {
            builder = builder.resolve(host, *addr);
        }
        builder
            .build()
            .map_err(|e| ProbeError::Client(format!("cannot build the HTTP client: {e}")))
    }
}

impl Probe {
    /// A probe client that trusts `trust`.
    pub fn new(trust: &HttpTrust) -> Result<Probe, ProbeError> {
        Ok(Probe {
            http: trust.client()?,
        })
    }

    /// `GET url` as an API client would (JSON accepted), sending those of `cookies` that apply.
    pub async fn get_with_cookies(
        &self,
        url: &url::Url,
        cookies: &[JarCookie],
    ) -> Result<ProbeResponse, ProbeError> {
        self.replay(http::Method::GET, url, cookies).await
    }

    /// `GET url` as [`Probe::get_with_cookies`] does, with the `Set-Cookie` values of the answer:
    /// a server that renews its session cookie (Apache `mod_session` with `SessionMaxAge`,
    /// ASP.NET's sliding forms ticket) does it in them, and a measurement that does not keep the
    /// renewed cookie measures the old one. The values are secrets: [`SetCookies`] shows none.
    pub async fn get_with_set_cookies(
        &self,
        url: &url::Url,
        cookies: &[JarCookie],
    ) -> Result<(ProbeResponse, SetCookies), ProbeError> {
        let (resp, cookies_sent) = self.send_api(&http::Method::GET, url, cookies).await?;
        let set = SetCookies(
            resp.headers()
                .get_all("set-cookie")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .map(str::to_string)
                .collect(),
        );
        Ok((
            probe_response(format!("GET {url}"), cookies_sent, &resp),
            set,
        ))
    }

    /// A bodiless `method url` as an API client would ask (JSON accepted), sending those of
    /// `cookies` that apply: a request the browser made, replayed. Callers pass safe methods only.
    pub async fn replay(
        &self,
        method: http::Method,
        url: &url::Url,
        cookies: &[JarCookie],
    ) -> Result<ProbeResponse, ProbeError> {
        let (resp, cookies_sent) = self.send_api(&method, url, cookies).await?;
        Ok(probe_response(
            format!("{method} {url}"),
            cookies_sent,
            &resp,
        ))
    }

    /// Sends a bodiless `method url` as an API client (JSON accepted, OData headers) with those
    /// of `cookies` that apply; the answer and the names of the cookies sent.
    async fn send_api(
        &self,
        method: &http::Method,
        url: &url::Url,
        cookies: &[JarCookie],
    ) -> Result<(reqwest::Response, Vec<String>), ProbeError> {
        let (req, cookies_sent) = with_cookies(
            self.http
                .request(method.clone(), url.clone())
                .header("Accept", "application/json")
                .header("OData-MaxVersion", "4.0")
                .header("OData-Version", "4.0"),
            url,
            cookies,
        );
        let resp = req.send().await.map_err(|e| ProbeError::NoAnswer {
            request: format!("{method} {url}"),
            cause: error_chain(&e),
        })?;
        Ok((resp, cookies_sent))
    }

    /// `GET url` at an identity provider's sign-in address (AD FS `wsignin1.0`) as a browser
    /// would, with those of `cookies` that apply and no Windows credentials, and what it answered:
    /// a token for the relying party (its single sign-on session is alive), a Windows
    /// authentication challenge, a sign-in form, or something else.
    pub async fn idp_sign_in(
        &self,
        url: &url::Url,
        cookies: &[JarCookie],
    ) -> Result<(ProbeResponse, IdpAnswer), ProbeError> {
        let (req, cookies_sent) = with_cookies(
            self.http
                .get(url.clone())
                .header("Accept", "text/html,application/xhtml+xml"),
            url,
            cookies,
        );
        let resp = req.send().await.map_err(|e| ProbeError::NoAnswer {
            request: format!("GET {url}"),
            cause: error_chain(&e),
        })?;
        let response = probe_response(
            format!(
                "GET {}",
                crate::config::secrets::shorten_redacted(url.as_str(), 120)
            ),
            cookies_sent,
            &resp,
        );
        let (status, challenges) = (response.status, &response.challenges);
        let body = resp.text().await.unwrap_or_default();
        let answer = if status == 401
            && challenges
                .iter()
                .any(|c| c.trim_start().to_ascii_lowercase().starts_with("negotiate"))
        {
            IdpAnswer::WindowsChallenge
        } else if (200..300).contains(&status)
            && (body.contains("name=\"wresult\"") || body.contains("name=\"SAMLResponse\""))
        {
            // The WS-Federation (or SAML) response the page posts to the relying party (W1).
            IdpAnswer::Token
        } else if (200..300).contains(&status) && body.contains("type=\"password\"") {
            IdpAnswer::Form
        } else {
            IdpAnswer::Other
        };
        Ok((response, answer))
    }

    /// Asks an identity provider for a sign-in again, as a browser holding `cookies` would: a
    /// `GET` of its sign-in request `url`, following its redirects while they stay on its host
    /// (with the cookies it sets on the way, never shown), until it answers with a page or sends
    /// the browser elsewhere. A redirect to another host without an `error` parameter, or a page
    /// that posts a token on (`SAMLResponse`, `wresult`), is a silent sign-in ([`IdpAnswer::Token`]);
    /// a page with a password field asks for credentials ([`IdpAnswer::Form`]).
    pub async fn idp_sign_in_again(
        &self,
        url: &url::Url,
        cookies: &[JarCookie],
    ) -> Result<IdpAnswer, ProbeError> {
        let host = url.host_str().map(str::to_string);
        let mut jar: Vec<JarCookie> = cookies.to_vec();
        let mut at = url.clone();
        for _ in 0..10 {
            let (req, _) = with_cookies(
                self.http
                    .get(at.clone())
                    .header("Accept", "text/html,application/xhtml+xml"),
                &at,
                &jar,
            );
            let resp = req.send().await.map_err(|e| ProbeError::NoAnswer {
                request: format!(
                    "GET {}",
                    crate::config::secrets::shorten_redacted(at.as_str(), 120)
                ),
                cause: error_chain(&e),
            })?;
            // The provider's own cookies along the way (an interaction's state, say).
            for set in resp.headers().get_all("set-cookie") {
                let Some((name, value)) = set
                    .to_str()
                    .ok()
                    .and_then(|s| s.split(';').next())
                    .and_then(|nv| nv.split_once('='))
                else {
                    continue;
                };
                jar.retain(|c| !(c.name == name.trim() && c.applies_to(&at)));
                jar.push(JarCookie::host_only(name.trim(), value.trim(), &at));
            }
            let status = resp.status().as_u16();
            if (300..400).contains(&status) {
                let Some(next) = resp
                    .headers()
                    .get("location")
                    .and_then(|l| l.to_str().ok())
                    .and_then(|l| at.join(l).ok())
                else {
                    return Ok(IdpAnswer::Other);
                };
                if next.host_str().map(str::to_string) != host {
                    let error = next.query_pairs().any(|(k, _)| k == "error");
                    return Ok(if error {
                        IdpAnswer::Other
                    } else {
                        IdpAnswer::Token
                    });
                }
                at = next;
                continue;
            }
            let challenges: Vec<String> = resp
                .headers()
                .get_all("www-authenticate")
                .iter()
                .filter_map(|v| v.to_str().ok().map(str::to_string))
                .collect();
            let body = resp.text().await.unwrap_or_default();
            let lower = body.to_ascii_lowercase();
            return Ok(
                if status == 401
                    && challenges
                        .iter()
                        .any(|c| c.trim_start().to_ascii_lowercase().starts_with("negotiate"))
                {
                    IdpAnswer::WindowsChallenge
                } else if (200..300).contains(&status)
                    && (lower.contains("name=\"samlresponse\"")
                        || lower.contains("name=\"wresult\""))
                {
                    IdpAnswer::Token
                } else if (200..300).contains(&status) && lower.contains("type=\"password\"") {
                    IdpAnswer::Form
                } else {
                    IdpAnswer::Other
                },
            );
        }
        Ok(IdpAnswer::Other)
    }

    /// `GET url` as a browser opening it would (HTML accepted, no cookies): where an application
    /// sends a browser without a session. API-style requests get a 401 from some relying parties
    /// (mod_auth_openidc answers requests that do not accept HTML so), browsers a redirect.
    pub async fn open_as_browser(&self, url: &url::Url) -> Result<ProbeResponse, ProbeError> {
        let resp = self
            .http
            .get(url.clone())
            .header("Accept", "text/html,application/xhtml+xml")
            .send()
            .await
            .map_err(|e| ProbeError::NoAnswer {
                request: format!(
                    "GET {}",
                    crate::config::secrets::shorten_redacted(url.as_str(), 120)
                ),
                cause: error_chain(&e),
            })?;
        Ok(probe_response(
            format!(
                "GET {}",
                crate::config::secrets::shorten_redacted(url.as_str(), 120)
            ),
            Vec::new(),
            &resp,
        ))
    }

    /// `POST url` with an empty body (an administrator's action on the emulator's admin endpoint).
    pub async fn post(&self, url: &url::Url) -> Result<ProbeResponse, ProbeError> {
        self.send(http::Method::POST, url).await
    }

    /// A bodiless request with `method` (an administrator's action), no cookies.
    pub async fn send(
        &self,
        method: http::Method,
        url: &url::Url,
    ) -> Result<ProbeResponse, ProbeError> {
        let resp = self
            .http
            .request(method.clone(), url.clone())
            .send()
            .await
            .map_err(|e| ProbeError::NoAnswer {
                request: format!("{method} {url}"),
                cause: error_chain(&e),
            })?;
        Ok(ProbeResponse {
            request: format!("{method} {url}"),
            cookies_sent: Vec::new(),
            status: resp.status().as_u16(),
            location: None,
            challenges: Vec::new(),
        })
    }

    /// Whether the target answers at all (any HTTP status), for the "target unreachable" check.
    pub async fn reachable(&self, url: &url::Url) -> Result<(), ProbeError> {
        self.http
            .get(url.clone())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                let cause = error_chain(&e);
                if is_certificate_error(&cause) {
                    ProbeError::UntrustedCertificate {
                        host: url.host_str().unwrap_or("the server").to_string(),
                        cause,
                    }
                } else {
                    ProbeError::Unreachable {
                        url: url.to_string(),
                        cause,
                    }
                }
            })
    }
}

/// Whether a connection error is rustls refusing the server's certificate (its
/// `InvalidCertificate` errors read "invalid peer certificate: ...").
fn is_certificate_error(chain: &str) -> bool {
    chain.contains("invalid peer certificate") || chain.contains("certificate verify failed")
}

/// `req` with a `Cookie` header of those of `cookies` that apply to `url` (none: no header), and
/// the names of the cookies sent (never their values: they go in reports).
fn with_cookies(
    req: reqwest::RequestBuilder,
    url: &url::Url,
    cookies: &[JarCookie],
) -> (reqwest::RequestBuilder, Vec<String>) {
    let sent: Vec<&JarCookie> = cookies.iter().filter(|c| c.applies_to(url)).collect();
    let names = sent.iter().map(|c| c.name.clone()).collect();
    if sent.is_empty() {
        return (req, names);
    }
    let header = sent
        .iter()
        .map(|c| format!("{}={}", c.name, c.value))
        .collect::<Vec<_>>()
        .join("; ");
    (req.header("Cookie", header), names)
}

/// What a probe keeps of `resp`: its status, `Location` and `WWW-Authenticate` challenges.
fn probe_response(
    request: String,
    cookies_sent: Vec<String>,
    resp: &reqwest::Response,
) -> ProbeResponse {
    let headers = resp.headers();
    ProbeResponse {
        request,
        cookies_sent,
        status: resp.status().as_u16(),
        location: headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        challenges: headers
            .get_all("www-authenticate")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_string)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The probe's exchange as the evidence shows it: what was asked, with which cookies (names
    /// only), and what came back.
    #[test]
    fn a_probe_exchange_reads_as_request_cookies_and_answer() {
        let mut response = ProbeResponse {
            request: "GET https://crm.contoso.test/api/data/v9.0/WhoAmI".into(),
            cookies_sent: vec!["MSISAuth".into(), "MSISAuth1".into()],
            status: 302,
            location: Some("https://adfs.contoso.test/adfs/ls/?wa=wsignin1.0".into()),
            challenges: Vec::new(),
        };
        assert_eq!(
            response.to_string(),
            "GET https://crm.contoso.test/api/data/v9.0/WhoAmI with cookies MSISAuth, MSISAuth1 \
             -> 302 (Location: https://adfs.contoso.test/adfs/ls/?wa=wsignin1.0)"
        );
        assert!(!response.authenticated());
        response.cookies_sent.clear();
        response.status = 401;
        response.location = None;
        response.challenges = vec!["Negotiate".into()];
        assert_eq!(
            response.to_string(),
            "GET https://crm.contoso.test/api/data/v9.0/WhoAmI with no cookies -> 401 \
             (WWW-Authenticate: Negotiate)"
        );
        assert!(IdpAnswer::Token.to_string().contains("a token"));
        assert!(IdpAnswer::Form.to_string().contains("a sign-in form"));
    }

    /// A server whose certificate the run does not trust is told apart from one that cannot be
    /// reached, so the message can point at `tls.ca_file` rather than the network.
    #[test]
    fn an_untrusted_certificate_is_told_apart_from_other_connection_errors() {
        assert!(is_certificate_error(
            "error sending request: client error (Connect): invalid peer certificate: UnknownIssuer"
        ));
        assert!(is_certificate_error(
            "error:0A000086:SSL routines::certificate verify failed"
        ));
        assert!(!is_certificate_error(
            "error sending request: client error (Connect): tcp connect error: Connection refused"
        ));
    }
}
