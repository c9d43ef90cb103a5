//! The identity provider a target signs in through ([`IdentityProvider`]): declared in the target
//! file (`identity_provider:`), implied by the mode (CRM's claims-based deployment signs in through
//! AD FS), or learned from the sign-in redirect chain before the scenarios run
//! (`observe::sign_in_chain`). The single sign-on scenarios need one; the checks that exist in one
//! protocol only (WS-Federation's `wreply`) need that protocol.

use super::*;

/// The single sign-on protocols whose sign-in requests the harness recognises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SsoProtocol {
    /// WS-Federation passive requestor profile (AD FS, CRM's claims-based deployments):
    /// `wa=wsignin1.0` ([WS-Federation 1.2, §13.2](https://docs.oasis-open.org/wsfed/federation/v1.2/os/ws-federation-1.2-spec-os.html#_Toc223175002)).
    WsFederation,
    /// SAML 2.0 Web Browser SSO: a `SAMLRequest` parameter
    /// ([SAML 2.0 bindings, §3.4.4](https://docs.oasis-open.org/security/saml/v2.0/saml-bindings-2.0-os.pdf)).
    Saml2,
    /// OpenID Connect (or OAuth 2.0) authorization code flow: `response_type` and `client_id`
    /// ([OpenID Connect Core 1.0, §3.1.2.1](https://openid.net/specs/openid-connect-core-1_0.html#AuthRequest)).
    OpenidConnect,
    /// Apereo CAS: `/login?service=`
    /// ([CAS protocol 3.0, §2.1](https://apereo.github.io/cas/7.0.x/protocol/CAS-Protocol-Specification.html)).
    Cas,
}

impl SsoProtocol {
    /// Every protocol, in the order messages list them.
    pub const ALL: [SsoProtocol; 4] = [
        SsoProtocol::WsFederation,
        SsoProtocol::Saml2,
        SsoProtocol::OpenidConnect,
        SsoProtocol::Cas,
    ];

    /// The name a target file uses.
    pub fn key(self) -> &'static str {
        match self {
            SsoProtocol::WsFederation => "ws-federation",
            SsoProtocol::Saml2 => "saml2",
            SsoProtocol::OpenidConnect => "openid-connect",
            SsoProtocol::Cas => "cas",
        }
    }

    /// The protocol whose sign-in request `url` is, read from its query (and for CAS its path);
    /// `None` when it is none of them.
    pub fn of_sign_in_request(url: &url::Url) -> Option<SsoProtocol> {
        let keys: Vec<String> = url
            .query_pairs()
            .map(|(k, v)| {
                if k == "wa" {
                    format!("wa={v}")
                } else {
                    k.to_ascii_lowercase()
                }
            })
            .collect();
        let has = |k: &str| keys.iter().any(|x| x == k);
        if has("wa=wsignin1.0") {
            Some(SsoProtocol::WsFederation)
        } else if has("samlrequest") {
            Some(SsoProtocol::Saml2)
        } else if has("response_type") && has("client_id") {
            Some(SsoProtocol::OpenidConnect)
        } else if has("service") && url.path().trim_end_matches('/').ends_with("/login") {
            Some(SsoProtocol::Cas)
        } else {
            None
        }
    }
}

impl fmt::Display for SsoProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SsoProtocol::WsFederation => "WS-Federation",
            SsoProtocol::Saml2 => "SAML 2.0",
            SsoProtocol::OpenidConnect => "OpenID Connect",
            SsoProtocol::Cas => "CAS",
        })
    }
}

/// `identity_provider:` of a target file: `https://idp.contoso.com/`, or
/// `{url: https://idp.contoso.com/, protocol: saml2}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityProviderSpec {
    /// Where the provider is (its origin is what counts).
    pub url: url::Url,
    /// What it speaks; learned from the sign-in redirect when not declared.
    pub protocol: Option<SsoProtocol>,
}

impl<'de> Deserialize<'de> for IdentityProviderSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let protocols = SsoProtocol::ALL.map(|p| p.key()).join(", ");
        let form = format!(
            "write `identity_provider: https://sts.contoso.com/` or \
             `identity_provider: {{url: https://idp.contoso.com/, protocol: saml2}}` (protocols: \
             {protocols})"
        );
        let url = |s: &str| {
            let shown = without_userinfo(s);
            match url::Url::parse(s) {
                Ok(u)
                    if matches!(u.scheme(), "https" | "http")
                        && u.host().is_some()
                        && shown == s =>
                {
                    Ok(u)
                }
                _ => Err(D::Error::custom(format!(
                    "key `identity_provider`: `{shown}` is not an http(s) URL without \
                     credentials; {form}"
                ))),
            }
        };
        match serde_yaml::Value::deserialize(d)? {
            serde_yaml::Value::String(s) => Ok(IdentityProviderSpec {
                url: url(&s)?,
                protocol: None,
            }),
            serde_yaml::Value::Mapping(m) => {
                let mut spec_url = None;
                let mut protocol = None;
                for (k, v) in &m {
                    match (k.as_str(), v.as_str()) {
                        (Some("url"), Some(s)) => spec_url = Some(url(s)?),
                        (Some("protocol"), Some(p)) => {
                            protocol = Some(
                                SsoProtocol::ALL
                                    .into_iter()
                                    .find(|x| x.key() == p)
                                    .ok_or_else(|| {
                                        D::Error::custom(format!(
                                            "key `identity_provider.protocol`: `{p}` is not one \
                                             of {protocols}"
                                        ))
                                    })?,
                            )
                        }
                        (Some(key @ ("url" | "protocol")), None) => {
                            return Err(D::Error::custom(format!(
                                "key `identity_provider.{key}` must be a string; {form}"
                            )));
                        }
                        _ => {
                            return Err(D::Error::custom(format!(
                                "key `identity_provider`: unknown key {}; valid: url, protocol",
                                serde_yaml::to_string(k).unwrap_or_default().trim()
                            )));
                        }
                    }
                }
                Ok(IdentityProviderSpec {
                    url: spec_url.ok_or_else(|| {
                        D::Error::custom(format!("key `identity_provider` has no `url`; {form}"))
                    })?,
                    protocol,
                })
            }
            _ => Err(D::Error::custom(format!(
                "key `identity_provider` is neither a URL nor a mapping; {form}"
            ))),
        }
    }
}

/// How the harness knows of the identity provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KnownBy {
    /// The target file's `identity_provider:`.
    Declared,
    /// The mode: CRM's claims-based deployments sign in through AD FS.
    Mode,
    /// The embedded emulator's own AD FS.
    Emulator,
    /// The sign-in redirect chain crossed to its host; the hop that showed it.
    Detected(String),
}

/// The identity provider a target signs in through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityProvider {
    /// Where it is (`None` when only the mode implies one and its address is not known yet).
    pub origin: Option<url::Url>,
    /// What it speaks, when declared or seen.
    pub protocol: Option<SsoProtocol>,
    /// How the harness knows.
    pub known_by: KnownBy,
}

impl IdentityProvider {
    /// The provider a target file declares.
    pub fn declared(spec: &IdentityProviderSpec) -> IdentityProvider {
        IdentityProvider {
            origin: Some(origin_of(&spec.url)),
            protocol: spec.protocol,
            known_by: KnownBy::Declared,
        }
    }
}

impl fmt::Display for IdentityProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Some(o) => write!(f, "{}", o.as_str().trim_end_matches('/'))?,
            None => f.write_str("AD FS")?,
        }
        match self.protocol {
            Some(p) => write!(f, " ({p}")?,
            None => f.write_str(" (protocol not recognised")?,
        }
        match &self.known_by {
            KnownBy::Declared => f.write_str(", declared in the target file)"),
            KnownBy::Mode => f.write_str(", implied by mode ifd)"),
            KnownBy::Emulator => f.write_str(", the emulator's)"),
            KnownBy::Detected(hop) => write!(f, ", seen in the sign-in redirect to {hop})"),
        }
    }
}

/// `scheme://host:port/` of `url`.
pub fn origin_of(url: &url::Url) -> url::Url {
    let mut o = url.clone();
    o.set_path("/");
    o.set_query(None);
    o.set_fragment(None);
    o
}

/// What the sign-in redirect chain of a target showed (see `observe::sign_in_chain`): the
/// provider on another host if it crossed to one, and a description of the chain for the reason
/// a scenario that needs one is not applicable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignInChain {
    /// The first hop on another origin than the application's, and what its request speaks.
    pub identity_provider: Option<IdentityProvider>,
    /// What the chain was, e.g. "302 -> https://crm/login.html (the application's host) -> 200".
    pub seen: String,
    /// The identity provider's sign-in request as the chain reached it (kept in memory only: it
    /// can carry one-time state), for asking the provider again with a browser's cookies.
    pub sign_in_request: Option<url::Url>,
}

impl Target {
    /// The identity provider the target signs in through, after what the sign-in chain showed:
    /// declared beats seen, seen beats implied (a protocol seen fills one not declared).
    pub fn identity_provider(&self) -> Option<IdentityProvider> {
        let declared = self
            .spec
            .identity_provider
            .as_ref()
            .map(IdentityProvider::declared);
        let seen = self
            .sign_in_chain
            .as_ref()
            .and_then(|c| c.identity_provider.clone());
        match (declared, seen) {
            (Some(mut d), Some(s)) => {
                d.protocol = d.protocol.or(s.protocol);
                Some(d)
            }
            (Some(d), None) => Some(d),
            (None, Some(s)) => Some(s),
            (None, None) => match (self.spec.mode, &self.spec.crm) {
                (AuthMode::Ifd, CrmLocation::Embedded) => Some(IdentityProvider {
                    origin: None,
                    protocol: Some(SsoProtocol::WsFederation),
                    known_by: KnownBy::Emulator,
                }),
                (AuthMode::Ifd, CrmLocation::Url(_)) => Some(IdentityProvider {
                    origin: None,
                    protocol: None,
                    known_by: KnownBy::Mode,
                }),
                _ => None,
            },
        }
    }

    /// Why the sign-in was not seen to go through an identity provider on another host.
    pub fn no_identity_provider_seen(&self) -> String {
        match (&self.sign_in_chain, &self.spec.crm) {
            (Some(chain), _) => chain.seen.clone(),
            (None, CrmLocation::Embedded) => format!(
                "the emulator's {} signs in on CRM's own host",
                match self.spec.mode {
                    AuthMode::Fba => "CRM 4.0 forms authentication",
                    AuthMode::Iwa => "Windows authentication",
                    AuthMode::Ifd | AuthMode::Claims => "deployment",
                }
            ),
            (None, CrmLocation::Url(_)) => "the sign-in redirect chain was not followed".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn protocol(u: &str) -> Option<SsoProtocol> {
        SsoProtocol::of_sign_in_request(&url::Url::parse(u).unwrap())
    }

    #[test]
    fn sign_in_requests_are_recognised_by_their_parameters() {
        assert_eq!(
            protocol("https://sts.contoso.com/adfs/ls/?wa=wsignin1.0&wtrealm=https%3a%2f%2fcrm%2f"),
            Some(SsoProtocol::WsFederation)
        );
        assert_eq!(
            protocol("https://idp/saml2/idp/SSOService.php?SAMLRequest=fZ&RelayState=x"),
            Some(SsoProtocol::Saml2)
        );
        assert_eq!(
            protocol("https://op/auth?client_id=app&response_type=code&scope=openid"),
            Some(SsoProtocol::OpenidConnect)
        );
        assert_eq!(
            protocol("https://cas.example.org/cas/login?service=https%3A%2F%2Fapp%2F"),
            Some(SsoProtocol::Cas)
        );
        // A sign-out, a plain login page, a `service` parameter elsewhere: none of them.
        assert_eq!(protocol("https://sts/adfs/ls/?wa=wsignout1.0"), None);
        assert_eq!(protocol("https://app/login?next=/admin/"), None);
        assert_eq!(protocol("https://app/search?service=x"), None);
    }

    #[test]
    fn declared_beats_seen_and_seen_fills_the_protocol() {
        let idp = |u: &str, p, k| IdentityProvider {
            origin: Some(url::Url::parse(u).unwrap()),
            protocol: p,
            known_by: k,
        };
        let spec: TargetFile = serde_yaml::from_str(
            "name: t\ncrm: https://app.test/\nmode: fba\nusers: {alice: {password_env: P}}\n\
             identity_provider: https://idp.test/realms/x\n",
        )
        .unwrap();
        let mut t = Target::from_spec(spec, None).unwrap();
        assert_eq!(
            t.identity_provider(),
            Some(idp("https://idp.test/", None, KnownBy::Declared))
        );
        t.sign_in_chain = Some(SignInChain {
            identity_provider: Some(idp(
                "https://other.test/",
                Some(SsoProtocol::Saml2),
                KnownBy::Detected("https://other.test/sso".into()),
            )),
            seen: String::new(),
            sign_in_request: None,
        });
        assert_eq!(
            t.identity_provider(),
            Some(idp(
                "https://idp.test/",
                Some(SsoProtocol::Saml2),
                KnownBy::Declared
            ))
        );
        t.spec.identity_provider = None;
        assert_eq!(
            t.identity_provider().map(|i| i.known_by),
            Some(KnownBy::Detected("https://other.test/sso".into()))
        );
    }

    #[test]
    fn a_bad_identity_provider_says_what_is_valid() {
        for bad in [
            "identity_provider: idp.test",
            "identity_provider: {url: https://idp.test/, protocol: kerberos}",
            "identity_provider: https://u:secret@idp.test/",
            "identity_provider: {url: https://idp.test/, kind: x}",
            "identity_provider: {protocol: cas}",
            "identity_provider: [https://idp.test/]",
        ] {
            let e = serde_yaml::from_str::<TargetFile>(&format!(
                "name: t\ncrm: https://app.test/\nmode: fba\nusers: {{alice: {{password_env: P}}}}\n{bad}\n"
            ))
            .unwrap_err()
            .to_string();
            assert!(!e.contains("secret"), "{e}");
            assert!(e.contains("identity_provider"), "{bad}: {e}");
        }
    }
}
