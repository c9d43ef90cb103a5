//! An administrator's actions on the target (ending a user's sessions), as the target file
//! configures them: an HTTP request through the probe, or a command. The embedded emulator's
//! administrator endpoint is configured the same way by the run.

use crate::config::target::AdminAction;
use crate::engine::probe::Probe;

/// Performs `action` for the user signed in as `username`; returns what was done, for the probe
/// log, or why it failed.
pub async fn perform(
    action: &AdminAction,
    username: &str,
    probe: &Probe,
) -> Result<String, String> {
    match action {
        AdminAction::Http { url, method } => {
            let encoded: String =
                url::form_urlencoded::byte_serialize(username.as_bytes()).collect();
            let url = url::Url::parse(&url.replace("{username}", &encoded))
                .map_err(|e| format!("admin.end_sessions.url: {e}"))?;
            let method = http::Method::from_bytes(method.as_bytes())
                .map_err(|e| format!("admin.end_sessions.method `{method}`: {e}"))?;
            let reply = probe.send(method, &url).await?;
            if (200..300).contains(&reply.status) {
                Ok(reply.to_string())
            } else {
                Err(format!("the administrator action failed: {reply}"))
            }
        }
        AdminAction::Command { command } => {
            let (program, args) = command
                .split_first()
                .ok_or("admin.end_sessions.command is empty")?;
            let args: Vec<String> = args
                .iter()
                .map(|a| a.replace("{username}", username))
                .collect();
            let out = tokio::process::Command::new(program)
                .args(&args)
                .stdin(std::process::Stdio::null())
                .kill_on_drop(true)
                .output()
                .await
                .map_err(|e| format!("cannot run admin.end_sessions.command `{program}`: {e}"))?;
            if out.status.success() {
                Ok(format!("{program} {} -> {}", args.join(" "), out.status))
            } else {
                Err(format!(
                    "the administrator command `{program}` failed ({}): {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ))
            }
        }
    }
}
