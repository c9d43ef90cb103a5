//! Where a browser without a session is sent: the sign-in redirect chain of a real target,
//! followed once before the scenarios run, which shows whether the sign-in goes through an
//! identity provider on another host and what protocol it speaks (a target file can also declare
//! both: `identity_provider:`).
//!
//! A hop counts as the identity provider when it is on another host (or another port of the same
//! host and scheme) and either is a sign-in request of a protocol the harness recognises
//! ([`SsoProtocol::of_sign_in_request`]) or carries a return address on the application's host
//! (`?returnUrl=https://app/...`): a redirect to the canonical host name (`contoso.com` to
//! `www.contoso.com`) or from HTTP to HTTPS carries none, and is not taken for one.

use crate::config::secrets::shorten_redacted;
use crate::config::target::{IdentityProvider, KnownBy, SignInChain, SsoProtocol, origin_of};
use crate::engine::probe::Probe;

/// Hops followed at most: sign-in chains are a handful of redirects; a loop is not followed on.
const MAX_HOPS: usize = 10;

/// Follows the redirects from `start` as a browser without a session would (no cookies, so a
/// relying party that sets a state cookie before redirecting is followed as far as it lets a
/// cookieless client go), and says what it showed.
pub async fn follow(probe: &Probe, start: &url::Url) -> SignInChain {
    let mut hops: Vec<String> = Vec::new();
    let mut url = start.clone();
    let mut identity_provider = None;
    let mut sign_in_request = None;
    for _ in 0..MAX_HOPS {
        let answer = match probe.open_as_browser(&url).await {
            Ok(a) => a,
            Err(e) => {
                hops.push(format!("no answer ({e})"));
                break;
            }
        };
        let next = answer
            .location
            .as_deref()
            .filter(|_| (300..400).contains(&answer.status))
            .and_then(|l| url.join(l).ok());
        let Some(next) = next else {
            hops.push(answer.status.to_string());
            break;
        };
        hops.push(format!(
            "{} -> {}",
            answer.status,
            shorten_redacted(next.as_str(), 100)
        ));
        if identity_provider.is_none() && is_other_server(start, &next) {
            let protocol = SsoProtocol::of_sign_in_request(&next);
            if protocol.is_some() || returns_to(&next, start) {
                identity_provider = Some(IdentityProvider {
                    origin: Some(origin_of(&next)),
                    protocol,
                    known_by: KnownBy::Detected(shorten_redacted(next.as_str(), 100)),
                });
                sign_in_request = Some(next.clone());
            }
        }
        url = next;
    }
    let seen = format!(
        "the application's start page without a session: {}{}",
        hops.join(", "),
        if identity_provider.is_some() {
            ""
        } else {
            " (no hop to a sign-in on another host)"
        }
    );
    SignInChain {
        identity_provider,
        seen,
        sign_in_request,
    }
}

/// Whether `to` is served by another server than `app`: another host, or another port of the
/// same host over the same scheme (HTTP to HTTPS on one host is the same application).
fn is_other_server(app: &url::Url, to: &url::Url) -> bool {
    if app.host_str() != to.host_str() {
        return true;
    }
    app.scheme() == to.scheme() && app.port_or_known_default() != to.port_or_known_default()
}

/// Whether a query parameter of `url` is an address on `app`'s host: the way back to the
/// application that every sign-in request carries in some form.
fn returns_to(url: &url::Url, app: &url::Url) -> bool {
    url.query_pairs().any(|(_, v)| {
        url::Url::parse(&v)
            .ok()
            .is_some_and(|back| back.host_str() == app.host_str())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> url::Url {
        url::Url::parse(s).unwrap()
    }

    #[test]
    fn another_server_is_another_host_or_port_but_not_an_upgrade_to_https() {
        let app = u("https://crm.contoso.com/org/");
        assert!(is_other_server(
            &app,
            &u("https://sts.contoso.com/adfs/ls/")
        ));
        assert!(is_other_server(&app, &u("https://crm.contoso.com:444/")));
        assert!(!is_other_server(
            &app,
            &u("https://crm.contoso.com/org/main.aspx")
        ));
        assert!(!is_other_server(
            &u("http://crm.contoso.com/"),
            &u("https://crm.contoso.com/")
        ));
    }

    #[test]
    fn a_return_address_on_the_application_marks_a_sign_in_hop() {
        let app = u("https://app.test/");
        assert!(returns_to(
            &u("https://login.test/signin?returnUrl=https%3A%2F%2Fapp.test%2Fhome"),
            &app
        ));
        // A canonical-host redirect carries no way back.
        assert!(!returns_to(&u("https://www.app.test/"), &app));
        assert!(!returns_to(
            &u("https://login.test/signin?next=/home"),
            &app
        ));
    }
}
