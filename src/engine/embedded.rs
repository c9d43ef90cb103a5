//! The embedded CRM emulator for one mode, with what that mode needs around it: for IWA (and for
//! claims, whose AD FS uses Windows authentication) a private
//! Kerberos realm (a real KDC) whose keytab the emulator validates Negotiate tokens with, and whose
//! credential caches the browsers' drivers are given.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::config::target::{AuthMode, Ui};

/// A running emulator (and KDC, in IWA mode). Ends both when dropped.
pub struct Embedded {
    /// The emulator.
    pub sim: crm_sim::Sim,
    realm: Option<krb5_realm::Realm>,
    // An empty credential cache, for a browser "without a ticket".
    no_ticket: Option<crate::engine::credentials::EmptyCcache>,
}

impl std::fmt::Debug for Embedded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedded")
            .field("crm", &self.sim.crm_url().as_str())
            .field("kdc", &self.realm.as_ref().map(|r| r.kdc_addr()))
            .finish()
    }
}

/// The emulator's timeout settings, when a pass needs them short.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Timeouts {
    /// CRM's InactivityTimeoutInMins.
    pub idle: Option<Duration>,
    /// CRM's SessionTimeoutInMins.
    pub absolute: Option<Duration>,
    /// Mode fba: the forms ticket's own lifetime, sliding as ASP.NET's (renewed by a request
    /// past half its time) or fixed ([`crm_sim::FormsTicket`]); `None`: the ticket has none.
    pub forms_ticket: Option<crm_sim::FormsTicket>,
}

/// How to start the emulator beyond its mode; the default is the classic web client, no fault
/// knob, CRM's own timeouts, a free loopback port, path-based organization URLs and access token
/// management off, as `sim` and `run` start it unless told otherwise.
#[derive(Clone, Debug, Default)]
pub struct EmbeddedOptions {
    /// The web client served after sign-in.
    pub ui: Ui,
    /// Fault knobs to turn on.
    pub faults: Vec<crm_sim::Fault>,
    /// Timeouts shorter than CRM's own, for a pass that waits for them.
    pub timeouts: Timeouts,
    /// The address to listen on (`sim --listen`).
    pub listen: Option<std::net::SocketAddr>,
    /// Host-based organization URLs (`sim --host-based`).
    pub host_based: bool,
    /// CRM's access token management (`WSFedNonceCookieEnabled`).
    pub access_token_management: bool,
}

/// Validates Negotiate tokens for the emulator with the realm's keytab (real GSSAPI).
struct GssAcceptor(krb5_realm::Acceptor);

impl crm_sim::NegotiateAcceptor for GssAcceptor {
    fn accept(&self, token: &[u8]) -> Result<crm_sim::NegotiateOutcome, String> {
        self.0
            .accept(token)
            .map(|a| crm_sim::NegotiateOutcome {
                principal: a.principal,
                reply_token: a.reply_token,
            })
            .map_err(|e| e.to_string())
    }
}

impl Embedded {
    /// The emulator's administrator action that ends one user's sessions (its
    /// `POST /_admin/sessions/end?user=` endpoint).
    pub fn admin_end_sessions(&self) -> crate::config::target::AdminAction {
        crate::config::target::AdminAction::Http {
            url: format!("{}sessions/end?user={{username}}", self.sim.admin_url()),
            method: "POST".into(),
        }
    }

    /// The emulator's administrator actions, as a target file declares its own: ending a
    /// user's sessions, disabling a user in CRM or in Active Directory, setting CRM's session
    /// length or inactivity timeout (its `/_admin/` endpoints).
    pub fn admin_spec(&self) -> crate::config::target::AdminSpec {
        let http = |path: &str| {
            Some(crate::config::target::AdminAction::Http {
                url: format!("{}{path}", self.sim.admin_url()),
                method: "POST".into(),
            })
        };
        crate::config::target::AdminSpec {
            end_sessions: http("sessions/end?user={username}"),
            deactivate_user: http("users/deactivate?user={username}"),
            disable_in_directory: http("directory/disable?user={username}"),
            set_session_length: http("settings?session_length={value}"),
            set_idle_timeout: http("settings?idle={value}"),
            persistent_sso_cutoff: http("adfs/persistent-sso-cutoff"),
        }
    }

    /// Whether the emulator's access token management is in effect (set, or implied by the
    /// `signout-keeps-other-sessions` knob; claims only, so never in modes iwa and fba). Asked
    /// through the emulator, so that the knob counts as reached ([`crm_sim::Sim::knobs_reached`]).
    pub fn access_token_management(&self) -> bool {
        self.sim.access_token_management()
    }

    /// The emulator's second relying party of AD FS (its portal) and the element that shows a
    /// signed-in user there.
    pub fn other_relying_party(&self) -> crate::config::target::OtherRelyingParty {
        crate::config::target::OtherRelyingParty {
            url: self.sim.portal_url().clone(),
            signed_in: "#portalUser".into(),
        }
    }

    /// Starts the emulator in `mode` as `options` say (and, in modes iwa and claims, its KDC
    /// first).
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), logout_harness::engine::embedded::EmulatorError> {
    /// use logout_harness::engine::embedded::{Embedded, EmbeddedOptions};
    /// use logout_harness::config::target::AuthMode;
    /// let emulator = Embedded::start(AuthMode::Ifd, &EmbeddedOptions::default()).await?;
    /// println!("{}", emulator.sim.crm_url());
    /// # Ok(()) }
    /// ```
    pub async fn start(
        mode: AuthMode,
        options: &EmbeddedOptions,
    ) -> Result<Embedded, EmulatorError> {
        let EmbeddedOptions {
            ui,
            ref faults,
            timeouts,
            listen,
            host_based,
            access_token_management,
        } = *options;
        let mut settings = crm_sim::Settings {
            mode: mode.into(),
            ui: ui.into(),
            faults: faults.clone(),
            host_based,
            access_token_management,
            // AD FS offers "Keep me signed in" only with `Set-AdfsProperties -EnableKmsi $true`
            // (off by default, S53). The embedded deployment turns it on so that the suite's
            // Keep-me-signed-in scenarios have the checkbox to tick; the emulator's own default
            // stays AD FS's.
            adfs_enable_kmsi: true,
            ..crm_sim::Settings::default()
        };
        if let Some(listen) = listen {
            settings.listen = listen;
        }
        // The target's timeouts are the deployment's session limits. With claims they are CRM's
        // session and inactivity timeouts (S6); CRM 4.0's forms authentication has no such
        // settings, so there they bound its ticket.
        if mode == AuthMode::Fba {
            settings.fba_ticket_idle = timeouts.idle;
            settings.fba_ticket_lifetime = timeouts.absolute;
        } else {
            if timeouts.idle.is_some() {
                settings.idle_timeout = timeouts.idle;
            }
            if timeouts.absolute.is_some() {
                settings.session_timeout = timeouts.absolute;
            }
        }
        settings.forms_ticket = timeouts.forms_ticket;
        let mut realm = None;
        let mut no_ticket = None;
        if mode.kerberos() {
            let password = crm_sim::accounts()
                .first()
                .map(|a| a.password.to_string())
                .unwrap_or_default();
            let mut opts =
                krb5_realm::RealmOptions::new(password).temp_in(crate::engine::rundir::base());
            if mode == AuthMode::Claims {
                // Internal claims access: the browser's ticket is for AD FS, not CRM.
                opts = opts.service_host(crm_sim::ADFS_HOST);
            }
            if host_based {
                opts =
                    opts.service_host(format!("{}.{}", settings.organization, crm_sim::CRM_HOST));
            }
            // The KDC dies with the thread that spawned it (PR_SET_PDEATHSIG): use the harness's
            // long-lived spawner thread.
            let r = crate::engine::process::on_spawner_thread(move || {
                krb5_realm::Realm::start(opts).map_err(|e| std::io::Error::other(e.to_string()))
            })
            .map_err(|e| EmulatorError::Kdc {
                mode,
                cause: e.to_string(),
            })?;
            if let Some(pid) = r.kdc_pid() {
                crate::engine::process::adopt_group(pid as i32);
            }
            if let Some(dir) = r.krb5_config().parent() {
                crate::engine::process::remove_on_signal(dir);
            }
            let acceptor = krb5_realm::Acceptor::new(&r.keytab())
                .map_err(|e| EmulatorError::Keytab(e.to_string()))?;
            settings.negotiate = Some(Arc::new(GssAcceptor(acceptor)));
            realm = Some(r);
            no_ticket =
                Some(crate::engine::credentials::EmptyCcache::new().map_err(EmulatorError::Io)?);
        }
        let sim = crm_sim::Sim::start(settings)
            .await
            .map_err(|e| EmulatorError::Emulator(e.to_string()))?;
        Ok(Embedded {
            sim,
            realm,
            no_ticket,
        })
    }

    /// The environment a browser's driver needs to act as `user` with a Kerberos ticket: empty
    /// outside IWA mode.
    pub fn client_env(&self, user: &str) -> Vec<(OsString, OsString)> {
        match &self.realm {
            Some(realm) if realm.ccache(user).is_some() => realm.env_for_client(user),
            _ => Vec::new(),
        }
    }

    /// The environment of a browser with no Kerberos ticket (the realm's config, an empty cache),
    /// so that a ticket the machine's own user may hold cannot leak in. Empty outside IWA mode.
    pub fn no_ticket_env(&self) -> Vec<(OsString, OsString)> {
        match (&self.realm, &self.no_ticket) {
            (Some(realm), Some(empty)) => {
                let mut env = vec![("KRB5_CONFIG".into(), realm.krb5_config().into_os_string())];
                env.extend(empty.env());
                env
            }
            _ => Vec::new(),
        }
    }

    /// The KDC's address, its krb5.conf and `user`'s credential cache, in IWA mode.
    pub fn kerberos(&self, user: &str) -> Option<(std::net::SocketAddr, PathBuf, PathBuf)> {
        let realm = self.realm.as_ref()?;
        Some((realm.kdc_addr(), realm.krb5_config(), realm.ccache(user)?))
    }

    /// Stops the emulator, then the KDC.
    pub async fn shutdown(self) {
        let Embedded {
            sim,
            realm,
            no_ticket,
        } = self;
        drop(no_ticket);
        sim.shutdown().await;
        if let Some(realm) = realm {
            if let Some(dir) = realm.krb5_config().parent() {
                crate::engine::process::forget_dir(dir);
            }
            let pid = realm.kdc_pid();
            let _ = realm.shutdown();
            if let Some(pid) = pid {
                crate::engine::process::forget_group(pid as i32);
            }
        }
    }
}

/// Why the embedded emulator, or what its mode needs around it, did not start: the run cannot
/// judge (exit 2), and the command says what to install.
#[derive(Debug)]
pub enum EmulatorError {
    /// The private Kerberos KDC of modes iwa and claims.
    Kdc {
        /// The mode that needs it.
        mode: AuthMode,
        /// What went wrong.
        cause: String,
    },
    /// The emulator's keytab could not be read.
    Keytab(String),
    /// A folder for the browser without a ticket could not be made.
    Io(std::io::Error),
    /// The emulator itself.
    Emulator(String),
}

impl std::fmt::Display for EmulatorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EmulatorError::Kdc { mode, cause } => {
                write!(
                    f,
                    "the Kerberos KDC for the {mode} mode did not start: {cause}"
                )
            }
            EmulatorError::Keytab(e) => write!(f, "cannot read the emulator's keytab: {e}"),
            EmulatorError::Io(e) => write!(f, "{e}"),
            EmulatorError::Emulator(e) => write!(f, "the embedded emulator did not start: {e}"),
        }
    }
}

impl std::error::Error for EmulatorError {}
