//! An administrator's actions on the target (ending a user's sessions), as the target file
//! configures them: an HTTP request through the probe, or a command. The embedded emulator's
//! administrator endpoint is configured the same way by the run.

use crate::config::target::AdminAction;
use crate::engine::error::ProbeError;
use crate::engine::probe::Probe;

/// Why the administrator's action could not be done: the scenario that needs it is not judged.
#[derive(Debug)]
pub enum AdminError {
    /// The target file's action cannot work as written (a URL, a method, an empty command).
    Config(String),
    /// The request got no answer.
    Probe(ProbeError),
    /// The action was done and failed: the server's answer or the command's exit and stderr.
    Failed(String),
    /// The command could not be run at all.
    Spawn {
        /// The action's key in the target file's `admin:`.
        key: String,
        /// The program.
        program: String,
        /// Why.
        cause: std::io::Error,
    },
}

impl std::fmt::Display for AdminError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminError::Config(e) | AdminError::Failed(e) => f.write_str(e),
            AdminError::Probe(e) => write!(f, "{e}"),
            AdminError::Spawn {
                key,
                program,
                cause,
            } => write!(f, "cannot run admin.{key}.command `{program}`: {cause}"),
        }
    }
}

impl std::error::Error for AdminError {}

/// Steps report the failure as their message ("not judged").
impl From<AdminError> for String {
    fn from(e: AdminError) -> String {
        e.to_string()
    }
}

/// Performs `action` for the user signed in as `username`; returns what was done, for the probe
/// log, or why it failed.
pub async fn perform(
    action: &AdminAction,
    username: &str,
    probe: &Probe,
) -> Result<String, AdminError> {
    perform_as(action, "end_sessions", username, None, probe).await
}

/// Performs the target's `admin.{key}` action for `username`, with `{value}` replaced by
/// `value` (a setting's new value); returns what was done, or why it failed.
pub async fn perform_as(
    action: &AdminAction,
    key: &str,
    username: &str,
    value: Option<&str>,
    probe: &Probe,
) -> Result<String, AdminError> {
    let value = value.unwrap_or_default();
    match action {
        AdminAction::Http { url, method } => {
            let encode = |s: &str| -> String {
                url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
            };
            let url = url::Url::parse(
                &url.replace("{username}", &encode(username))
                    .replace("{value}", &encode(value)),
            )
            .map_err(|e| AdminError::Config(format!("admin.{key}.url: {e}")))?;
            let method = http::Method::from_bytes(method.as_bytes())
                .map_err(|e| AdminError::Config(format!("admin.{key}.method `{method}`: {e}")))?;
            let reply = probe.send(method, &url).await.map_err(AdminError::Probe)?;
            if (200..300).contains(&reply.status) {
                Ok(reply.to_string())
            } else {
                Err(AdminError::Failed(format!(
                    "the administrator action admin.{key} failed: {reply}"
                )))
            }
        }
        AdminAction::Command { command } => {
            let (program, args) = command
                .split_first()
                .ok_or_else(|| AdminError::Config(format!("admin.{key}.command is empty")))?;
            let args: Vec<String> = args
                .iter()
                .map(|a| a.replace("{username}", username).replace("{value}", value))
                .collect();
            let out = tokio::process::Command::new(program)
                .args(&args)
                .stdin(std::process::Stdio::null())
                .kill_on_drop(true)
                .output()
                .await
                .map_err(|cause| AdminError::Spawn {
                    key: key.to_string(),
                    program: program.clone(),
                    cause,
                })?;
            if out.status.success() {
                Ok(format!("{program} {} -> {}", args.join(" "), out.status))
            } else {
                Err(AdminError::Failed(format!(
                    "the administrator command `{program}` (admin.{key}) failed ({}): {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                )))
            }
        }
    }
}
