//! Who the scenarios sign in as ([`Credentials`]) and their password ([`Secret`]), which is never
//! printed.

use super::*;

/// A password. Never printed: `Debug` and `Display` say `[redacted]`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret, and remembers it so that every text the harness writes is redacted of it
    /// ([`crate::config::secrets::redact_known`]).
    pub fn new(s: impl Into<String>) -> Secret {
        let s = s.into();
        crate::config::secrets::remember(&s);
        Secret(s)
    }

    /// The secret itself, to type into a form. Keep the result out of messages.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Someone the scenarios sign in as.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The sign-in name.
    pub username: String,
    /// The password, when the mode needs one.
    pub password: Option<Secret>,
}
