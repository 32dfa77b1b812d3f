//! How the monitor hands an alert to a channel: the [`Notifier`] seam (tests record, the binary sends), and
//! a minimal `exec` channel — argv without a shell, the alert as JSON on stdin, killed after its timeout.

use std::future::Future;
use std::pin::Pin;
use std::process::Stdio;

use tokio::io::AsyncWriteExt;

use super::config::ChannelSettings;
use crate::alert::Alert;

/// A boxed send future.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// Delivers one alert to one channel. `Err` carries a message for logs and metrics (no secrets).
pub trait Notifier: Send + Sync {
    fn notify<'a>(&'a self, channel: &'a ChannelSettings, alert: &'a Alert) -> SendFuture<'a>;
}

/// The notifier of the binary: runs each configured channel.
#[derive(Debug, Default, Clone, Copy)]
pub struct Channels;

impl Notifier for Channels {
    fn notify<'a>(&'a self, channel: &'a ChannelSettings, alert: &'a Alert) -> SendFuture<'a> {
        Box::pin(async move {
            match channel {
                ChannelSettings::Exec { command, timeout, .. } => exec(command, *timeout, alert).await,
            }
        })
    }
}

/// Runs `command[0]` with `command[1..]` (no shell: untrusted strings in the alert stay data on stdin),
/// writes the alert JSON to its stdin and waits up to `timeout`; non-zero exit is a failure.
async fn exec(command: &[String], timeout: std::time::Duration, alert: &Alert) -> Result<(), String> {
    let Some((program, args)) = command.split_first() else {
        return Err("exec: empty command".into());
    };
    let body = serde_json::to_vec(alert).map_err(|e| format!("exec: cannot encode alert: {e}"))?;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .env("COGNITO_PROBE_ALERT_KIND", serde_json::to_value(alert.kind).unwrap_or_default().as_str().unwrap_or(""))
        .env("COGNITO_PROBE_DEDUP_KEY", &alert.dedup_key)
        .env("COGNITO_PROBE_NAME", &alert.probe)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("exec {program:?}: cannot start: {e}"))?;
    let run = async {
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(&body).await.map_err(|e| format!("exec {program:?}: stdin: {e}"))?;
        }
        child.wait().await.map_err(|e| format!("exec {program:?}: {e}"))
    };
    match tokio::time::timeout(timeout, run).await {
        Err(_) => Err(format!("exec {program:?}: no exit within {timeout:?}, killed")),
        Ok(Err(e)) => Err(e),
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(format!("exec {program:?}: exited with {status}")),
    }
}
