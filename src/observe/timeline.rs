//! A scenario's sign-out timeline, as typed events in the order they happened: the browser's hops
//! on every host (from the recorder, [`crate::engine::recorder::TrailHop`]), the cookie jar at the
//! points a person would ask about (before sign-in, after sign-in, before and after sign-out,
//! after opening the application again), and the replay's requests with the server's answers.
//! Names, hosts and attributes only: a cookie value, a password or a token never enters it.

use serde::Serialize;

use crate::engine::browser::JarCookie;
use crate::engine::recorder::TrailHop;
use crate::observe::snapshot::CookieShape;

/// The points of a scenario at which the jar is read for the timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Point {
    /// The browser is open; nobody has signed in yet.
    BeforeSignIn,
    /// The signed-in page shows.
    SignedIn,
    /// Just before Sign out is activated.
    BeforeSignOut,
    /// Sign-out's last page has loaded.
    SignedOut,
    /// The application was opened again after sign-out.
    Reopened,
}

impl Point {
    /// How a person names the point.
    pub fn label(self) -> &'static str {
        match self {
            Point::BeforeSignIn => "before sign-in",
            Point::SignedIn => "after sign-in",
            Point::BeforeSignOut => "before sign-out",
            Point::SignedOut => "after sign-out",
            Point::Reopened => "after opening the application again",
        }
    }
}

/// A cookie of the jar at one point: its shape, and whether it is one of the target's
/// authentication cookies (the ones a sign-out must end).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JarEntry {
    /// Name, host, path, flags and lifetime.
    #[serde(flatten)]
    pub shape: CookieShape,
    /// One of the target's `auth_cookies`.
    pub auth: bool,
}

/// One event of a scenario's timeline.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum TimelineEvent {
    /// A hop the browser made.
    Request {
        /// Whose browser.
        person: String,
        /// The hop.
        #[serde(flatten)]
        hop: TrailHop,
        /// It carried one of the target's authentication cookies.
        sent_auth: bool,
    },
    /// The jar at a point.
    Jar {
        /// Whose browser.
        person: String,
        /// Which point.
        point: Point,
        /// The cookies, sorted by host, path and name.
        cookies: Vec<JarEntry>,
    },
    /// A request the probe replayed after sign-out with the cookies from before it (or none).
    Replay {
        /// `METHOD URL` without query values.
        request: String,
        /// Names of the cookies sent.
        cookies_sent: Vec<String>,
        /// The answer's status.
        status: u16,
        /// The server answered as for a signed-in user (2xx).
        accepted: bool,
    },
}

/// The jar `cookies` at `point` as a timeline event, each cookie marked when `is_auth` says it is
/// an authentication cookie.
pub fn jar_event(
    person: &str,
    point: Point,
    cookies: &[JarCookie],
    is_auth: impl Fn(&JarCookie) -> bool,
) -> TimelineEvent {
    let now = crate::observe::snapshot::now_s();
    let mut entries: Vec<JarEntry> = cookies
        .iter()
        .map(|c| JarEntry {
            shape: CookieShape::of(c, now),
            auth: is_auth(c),
        })
        .collect();
    entries.sort_by(|a, b| a.shape.cmp(&b.shape));
    TimelineEvent::Jar {
        person: person.to_string(),
        point,
        cookies: entries,
    }
}

/// Applies `redact` to every text of `events` that could carry a secret a person typed (a URL's
/// path, a cookie's name or path, a host): the report's last guard, beside the recorder's never
/// keeping a value.
pub fn redact(events: &mut [TimelineEvent], redact: &dyn Fn(&str) -> String) {
    let r = |s: &mut String| *s = redact(s);
    for e in events {
        match e {
            TimelineEvent::Request { person, hop, .. } => {
                r(person);
                r(&mut hop.url);
                r(&mut hop.host);
                hop.cookies_sent.iter_mut().flatten().for_each(r);
                for c in &mut hop.set_cookies {
                    r(&mut c.name);
                    c.domain.iter_mut().for_each(r);
                    c.path.iter_mut().for_each(r);
                    c.attributes.iter_mut().for_each(r);
                }
            }
            TimelineEvent::Jar {
                person, cookies, ..
            } => {
                r(person);
                for c in cookies {
                    r(&mut c.shape.name);
                    r(&mut c.shape.domain);
                    r(&mut c.shape.path);
                }
            }
            TimelineEvent::Replay {
                request,
                cookies_sent,
                ..
            } => {
                r(request);
                cookies_sent.iter_mut().for_each(r);
            }
        }
    }
}

/// Calls `host` with every host name `event` names (a hop's host, cookie domains).
pub fn hosts_of(event: &TimelineEvent, host: &mut dyn FnMut(&str)) {
    match event {
        TimelineEvent::Request { hop, .. } => {
            host(&hop.host);
            hop.set_cookies
                .iter()
                .filter_map(|c| c.domain.as_deref())
                .for_each(&mut *host);
        }
        TimelineEvent::Jar { cookies, .. } => cookies.iter().for_each(|c| host(&c.shape.domain)),
        TimelineEvent::Replay { request, .. } => {
            if let Some(h) = request
                .split_whitespace()
                .nth(1)
                .and_then(|u| url::Url::parse(u).ok())
                .and_then(|u| u.host_str().map(str::to_string))
            {
                host(&h);
            }
        }
    }
}

/// Marks each hop of `events` that sent an authentication cookie: a cookie it sent whose name and
/// host are those of a cookie some jar of the timeline marks as one (the hop itself carries names
/// only).
pub fn mark_auth_sent(events: &mut [TimelineEvent]) {
    let auth: std::collections::BTreeSet<(String, String)> = events
        .iter()
        .filter_map(|e| match e {
            TimelineEvent::Jar { cookies, .. } => Some(cookies),
            _ => None,
        })
        .flatten()
        .filter(|c| c.auth)
        .map(|c| (c.shape.name.clone(), c.shape.domain.clone()))
        .collect();
    for e in events {
        if let TimelineEvent::Request { hop, sent_auth, .. } = e {
            *sent_auth = hop.cookies_sent.iter().flatten().any(|name| {
                auth.iter().any(|(n, domain)| {
                    n == name
                        && match domain.strip_prefix('.') {
                            Some(parent) => {
                                hop.host == parent || hop.host.ends_with(&format!(".{parent}"))
                            }
                            None => hop.host == *domain,
                        }
                })
            });
        }
    }
}

/// What a reader should see first in a timeline: the hosts that still held an authentication
/// cookie after sign-out although no sign-out hop reached them (the sign-out that never reached
/// AD FS), and the hops after sign-out that sent an authentication cookie and were answered as
/// for a signed-in user (where the session survived).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Survivals {
    /// `(host, cookie names)`: authentication cookies left after sign-out on a host the
    /// sign-out's hops never reached.
    pub unreached_hosts: Vec<(String, Vec<String>)>,
    /// Indexes (into the events) of the first hop of each host after sign-out that sent an
    /// authentication cookie and got a 2xx answer. A correct sign-out leaves no authentication cookie to send, so these
    /// are hops a reader looks at first; the verdicts judge, this only points.
    pub surviving_hops: Vec<usize>,
}

/// Reads [`Survivals`] from `events`.
pub fn survivals(events: &[TimelineEvent]) -> Survivals {
    let at = |p: Point| {
        events
            .iter()
            .position(|e| matches!(e, TimelineEvent::Jar { point, .. } if *point == p))
    };
    let mut out = Survivals::default();
    let Some(signed_out) = at(Point::SignedOut) else {
        return out;
    };
    let start = at(Point::BeforeSignOut).unwrap_or(0);
    let reached: std::collections::BTreeSet<&str> = events[start..signed_out]
        .iter()
        .filter_map(|e| match e {
            TimelineEvent::Request { hop, .. } => Some(hop.host.as_str()),
            _ => None,
        })
        .collect();
    if let TimelineEvent::Jar { cookies, .. } = &events[signed_out] {
        let mut by_host: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for c in cookies.iter().filter(|c| c.auth) {
            let host = c.shape.domain.trim_start_matches('.').to_string();
            let reached_host = reached
                .iter()
                .any(|h| *h == host || h.ends_with(&format!(".{host}")));
            if !reached_host {
                by_host.entry(host).or_default().push(c.shape.name.clone());
            }
        }
        out.unreached_hosts = by_host.into_iter().collect();
    }
    // The first such hop of each host: where the session was taken up again there; the hops
    // after it on that host only show it lasting.
    let mut hosts_seen = std::collections::BTreeSet::new();
    out.surviving_hops = events
        .iter()
        .enumerate()
        .skip(signed_out)
        .filter(|(_, e)| match e {
            TimelineEvent::Request {
                hop,
                sent_auth: true,
                ..
            } => {
                hop.status.is_some_and(|s| (200..300).contains(&s))
                    && hosts_seen.insert(hop.host.clone())
            }
            _ => false,
        })
        .map(|(i, _)| i)
        .collect();
    out
}

/// AD FS's (or CRM's) `MSISAuth` on `domain`, as a jar shows it: for tests.
#[cfg(test)]
pub(crate) fn msis_auth(domain: &str, auth: bool) -> JarEntry {
    JarEntry {
        shape: CookieShape {
            domain: domain.into(),
            path: "/".into(),
            name: "MSISAuth".into(),
            secure: true,
            http_only: true,
            same_site: "None".into(),
            lifetime: "session".into(),
        },
        auth,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(host: &str, status: u16, sent_auth: bool) -> TimelineEvent {
        TimelineEvent::Request {
            person: "alice".into(),
            hop: TrailHop {
                method: "GET".into(),
                url: format!("https://{host}/x"),
                host: host.into(),
                status: Some(status),
                failed: false,
                cookies_sent: Some(Vec::new()),
                set_cookies: Vec::new(),
            },
            sent_auth,
        }
    }

    fn jar(point: Point, auth_on: &[&str]) -> TimelineEvent {
        TimelineEvent::Jar {
            person: "alice".into(),
            point,
            cookies: auth_on.iter().map(|host| msis_auth(host, true)).collect(),
        }
    }

    /// The sign-out that never reached AD FS: AD FS's cookie survives on a host no sign-out hop
    /// went to, and the reopen's hop to AD FS that carried it is where the session survived.
    #[test]
    fn a_sign_out_that_never_reached_the_identity_provider_is_named() {
        let events = vec![
            jar(Point::BeforeSignOut, &["adfs.contoso.test"]),
            hop("crm.contoso.test", 302, true),
            jar(Point::SignedOut, &["adfs.contoso.test"]),
            hop("crm.contoso.test", 302, false),
            hop("adfs.contoso.test", 200, true),
        ];
        let s = survivals(&events);
        assert_eq!(
            s.unreached_hosts,
            vec![(
                "adfs.contoso.test".to_string(),
                vec!["MSISAuth".to_string()]
            )]
        );
        assert_eq!(s.surviving_hops, vec![4]);
    }

    /// A correct sign-out: it reached AD FS, which cleared its cookie; the reopen's hop sent no
    /// authentication cookie. Nothing is named.
    #[test]
    fn a_correct_sign_out_names_nothing() {
        let events = vec![
            jar(Point::BeforeSignOut, &["adfs.contoso.test"]),
            hop("crm.contoso.test", 302, true),
            hop("adfs.contoso.test", 200, true),
            jar(Point::SignedOut, &[]),
            hop("adfs.contoso.test", 200, false),
        ];
        assert_eq!(survivals(&events), Survivals::default());
    }
}
