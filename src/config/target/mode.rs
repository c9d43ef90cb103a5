//! Which deployment a target is: its authentication mode ([`AuthMode`]), its web client ([`Ui`]),
//! and the two as a pass's verdicts carry them ([`PassMode`]).

use super::*;

/// The authentication mode of a deployment (docs/crm-adfs-facts.md §1).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Claims-based Internet-Facing Deployment through AD FS (CRM 2011 to 9.x).
    #[default]
    Ifd,
    /// Integrated Windows Authentication (Kerberos / NTLM).
    Iwa,
    /// CRM 4.0 forms authentication (`MSCRMSession` ticket).
    Fba,
    /// Claims-based authentication for internal access: CRM is AD FS's relying party as in
    /// `ifd`, but AD FS signs intranet users in with Windows authentication (Kerberos), not its
    /// forms page (docs/crm-adfs-facts.md §2.3, S23, S93).
    Claims,
}

impl AuthMode {
    /// Every mode, in the order a full run visits them.
    pub const ALL: [AuthMode; 4] = [
        AuthMode::Ifd,
        AuthMode::Iwa,
        AuthMode::Fba,
        AuthMode::Claims,
    ];

    /// The Gherkin tag of scenarios that apply to this mode.
    pub fn tag(self) -> &'static str {
        match self {
            AuthMode::Ifd => "ifd",
            AuthMode::Iwa => "iwa",
            AuthMode::Fba => "fba",
            AuthMode::Claims => "claims",
        }
    }

    /// Whether the browser signs in with a Kerberos ticket (Negotiate): at CRM itself (iwa) or
    /// at AD FS (claims). Such a browser needs the user's credential cache and the Negotiate
    /// allowlist.
    pub fn kerberos(self) -> bool {
        matches!(self, AuthMode::Iwa | AuthMode::Claims)
    }

    /// Whether CRM is a claims relying party of AD FS, with its `MSISAuth` session cookie.
    pub fn claims(self) -> bool {
        matches!(self, AuthMode::Ifd | AuthMode::Claims)
    }
}

impl AuthMode {
    /// Where an administrator sets the idle timeout (`session_length` false) or the session
    /// length in this mode, with the public source of each (docs/crm-adfs-facts.md §4).
    pub fn timeout_settings(self, session_length: bool) -> &'static [&'static str] {
        match (self, session_length) {
            (AuthMode::Ifd | AuthMode::Claims, false) => &[
                "CRM: Settings > Administration > System Settings > General > \"Set inactivity \
                 timeout\" (InactivityTimeoutInMins, at least 5 min; off by default). On-premises \
                 it is first allowed with SetAdvancedSettings.ps1 -ConfigurationEntityName \
                 ServerSettings -SettingName AllowCustomInactivityDuration -SettingValue true \
                 (https://learn.microsoft.com/en-us/dynamics365/customerengagement/on-premises/admin/user-session-management)",
                "AD FS: after CRM's session ends, the AD FS single sign-on session (SsoLifetime, \
                 480 min by default: Set-AdfsProperties -SsoLifetime) signs the user back in \
                 without credentials \
                 (https://learn.microsoft.com/en-us/windows-server/identity/ad-fs/operations/ad-fs-single-sign-on-settings)",
            ],
            (AuthMode::Ifd | AuthMode::Claims, true) => &[
                "CRM: Settings > Administration > System Settings > General > \"Set session \
                 timeout\" (SessionTimeoutInMins, 1440 min by default, at least 60). On-premises \
                 it is first allowed with SetAdvancedSettings.ps1 -ConfigurationEntityName \
                 ServerSettings -SettingName AllowCustomSessionDuration -SettingValue true \
                 (https://learn.microsoft.com/en-us/dynamics365/customerengagement/on-premises/admin/user-session-management)",
                "AD FS: the relying party's token lifetime (TokenLifetime, 60 min by default for \
                 CRM: Set-AdfsRelyingPartyTrust -TargetName <relying party> -TokenLifetime <min>) \
                 (https://learn.microsoft.com/en-us/archive/technet-wiki/7681.setting-the-adfs-timeout-for-crm-2011-crm-2013-crm-2015-or-crm-2016-internet-facing-deployments-ifd)",
                "AD FS: SsoLifetime (480 min by default) decides whether the user then signs in \
                 again without credentials \
                 (https://learn.microsoft.com/en-us/windows-server/identity/ad-fs/operations/ad-fs-single-sign-on-settings)",
            ],
            (AuthMode::Fba, _) => &[
                "CRM 4.0 forms authentication (IFD): the lifetime of the MSCRMSession ticket is set \
                 on the CRM server; Microsoft documents neither the setting nor its default, so \
                 this measurement is the way to know it \
                 (https://learn.microsoft.com/en-us/archive/blogs/jannemattila/adding-crm-4-0-to-your-own-win-app-with-web-form-authentication)",
                "IIS/ASP.NET: the forms authentication timeout (<forms timeout>, 30 min by \
                 default, slidingExpiration) and session state (<sessionState timeout>, 20 min by \
                 default) in CRM's web.config, where the deployment's sign-in uses them (not \
                 documented for CRM) \
                 (https://learn.microsoft.com/en-us/previous-versions/dotnet/netframework-4.0/1d3t3c61(v=vs.100), \
                 https://learn.microsoft.com/en-us/previous-versions/dotnet/netframework-4.0/h6bb9cz9(v=vs.100))",
            ],
            (AuthMode::Iwa, _) => &[
                "Windows authentication keeps no application session: CRM's session and inactivity \
                 timeouts need claims-based authentication and do not apply \
                 (https://learn.microsoft.com/en-us/dynamics365/customerengagement/on-premises/admin/user-session-management)",
                "The browser signs in again with its Kerberos ticket, whose lifetime is the domain's \
                 Kerberos policy \"Maximum lifetime for user ticket\" (10 hours by default) \
                 (https://learn.microsoft.com/en-us/previous-versions/windows/it-pro/windows-10/security/threat-protection/security-policy-settings/maximum-lifetime-for-user-ticket)",
            ],
        }
    }
}

impl std::str::FromStr for AuthMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AuthMode::ALL
            .into_iter()
            .find(|m| m.tag() == s)
            .ok_or_else(|| format!("`{s}` is not a mode (ifd, iwa, fba, claims)"))
    }
}

impl fmt::Display for AuthMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

impl From<AuthMode> for crm_sim::Mode {
    fn from(m: AuthMode) -> Self {
        match m {
            AuthMode::Ifd => crm_sim::Mode::Ifd,
            AuthMode::Iwa => crm_sim::Mode::Iwa,
            AuthMode::Fba => crm_sim::Mode::Fba,
            AuthMode::Claims => crm_sim::Mode::Claims,
        }
    }
}

/// The web client the deployment serves after sign-in, whose pages the scenarios work: CRM's
/// classic web client (2011 to 9.x), or the Unified Interface of CRM 9.x (profile button at the
/// top right, Sign Out in its flyout).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Ui {
    /// The classic web client (the default).
    #[default]
    Classic,
    /// The Unified Interface (CRM 9.x; not CRM 4.0, so not mode fba).
    Uci,
}

impl Ui {
    /// "classic" or "uci".
    pub fn tag(self) -> &'static str {
        match self {
            Ui::Classic => "classic",
            Ui::Uci => "uci",
        }
    }

    /// Whether a deployment in `mode` can serve this web client: the Unified Interface came
    /// with CRM 9.0, whose claims-based (ifd) and Windows (iwa) authentication serve it alike;
    /// CRM 4.0's forms authentication (fba) predates it.
    pub fn serves(self, mode: AuthMode) -> bool {
        self == Ui::Classic || mode != AuthMode::Fba
    }
}

impl fmt::Display for Ui {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

/// A pass's deployment as its verdicts carry it: the authentication mode and the web client.
/// Reports name it `ifd`, or `ifd-uci` for the Unified Interface (the classic web client's label
/// is the mode alone, as it was before there was a choice); whatever is decided from it (the
/// remedy of a violation) reads the typed fields, never the label.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PassMode {
    /// The authentication mode.
    pub mode: AuthMode,
    /// The web client.
    pub ui: Ui,
}

impl fmt::Display for PassMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ui {
            Ui::Classic => write!(f, "{}", self.mode),
            ui => write!(f, "{}-{ui}", self.mode),
        }
    }
}

impl Serialize for PassMode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl From<Ui> for crm_sim::Ui {
    fn from(u: Ui) -> Self {
        match u {
            Ui::Classic => crm_sim::Ui::Classic,
            Ui::Uci => crm_sim::Ui::Uci,
        }
    }
}
