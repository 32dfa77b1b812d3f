//! The exec channel: runs a configured program directly (argv, never a shell) with the alert as JSON on
//! stdin and its main fields in `PROBE_*` environment variables. Untrusted strings (summaries, subjects,
//! error texts) only ever reach the program as data: a byte string on stdin or an environment value. The
//! program inherits none of the probe's environment beyond [`crate::child`]'s minimal one and the
//! variables its channel names in `pass_env`.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt as _;

use super::Alert;
use super::channel::{AttemptError, ChannelError};
use crate::child::{self, PassEnv};

/// How much of the program's stderr is kept for the error message.
const STDERR_EXCERPT: usize = 500;

/// Checks the argv: a non-empty list whose first element names a program.
pub(crate) fn validate(command: &[String]) -> Result<(), ChannelError> {
    match command.first() {
        None => Err(ChannelError::EmptyCommand),
        Some(program) if program.is_empty() => Err(ChannelError::EmptyProgram { command: command.to_vec() }),
        Some(_) => Ok(()),
    }
}

/// The bytes written to the program's stdin: the alert as one JSON document.
pub fn payload(alert: &Alert) -> Vec<u8> {
    // Serialising a struct of strings, numbers, enums and a serde_json::Value cannot fail.
    serde_json::to_vec(alert).unwrap_or_default()
}

/// The environment variables the program receives, for scripts that do not want to parse JSON. NUL cannot
/// be passed in an environment value, so it becomes U+FFFD; every other character arrives verbatim.
pub fn env(alert: &Alert) -> Vec<(&'static str, String)> {
    let clean = |s: &str| s.replace('\0', "\u{FFFD}");
    vec![
        ("PROBE_ALERT_KIND", alert.kind.name().to_string()),
        ("PROBE_NAME", clean(&alert.probe)),
        ("PROBE_POOL_ID", clean(&alert.pool_id)),
        ("PROBE_DEDUP_KEY", clean(&alert.dedup_key)),
        ("PROBE_IDEMPOTENCY_KEY", clean(&alert.idempotency_key)),
        ("PROBE_OUTCOME", serde_name(&alert.outcome)),
        ("PROBE_PHASE", alert.phase.name().to_string()),
        ("PROBE_CODE", clean(&alert.code)),
        ("PROBE_SUMMARY", clean(&alert.summary)),
        ("PROBE_CONSECUTIVE_FAILURES", alert.consecutive_failures.to_string()),
        ("PROBE_AT", alert.at.to_rfc3339()),
    ]
}

/// The serde name of a unit enum value (`trigger`, `critical`): the same spelling as in the JSON.
fn serde_name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// A configured program.
#[derive(Debug)]
pub(crate) struct Exec {
    argv: Vec<String>,
    /// Variables of the probe's environment the program gets besides [`child::environment`]'s.
    pass_env: PassEnv,
    timeout: Duration,
}

impl Exec {
    pub(crate) fn new(argv: Vec<String>, pass_env: PassEnv, timeout: Duration) -> Result<Exec, ChannelError> {
        validate(&argv)?;
        Ok(Exec { argv, pass_env, timeout })
    }

    pub(crate) fn program(&self) -> &str {
        self.argv.first().map(String::as_str).unwrap_or_default()
    }

    /// Runs the program once. Success is exit status 0 within the timeout. The program leads its own process
    /// group, so on timeout everything it started (a shell's background jobs included) is killed with it.
    pub(crate) async fn attempt(&self, alert: &Alert) -> Result<(), AttemptError> {
        let program = self.program().to_string();
        let mut command = tokio::process::Command::new(&program);
        let mut child = child::minimal_env(&mut command, &self.pass_env)
            .args(&self.argv[1..])
            .envs(env(alert))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0)
            .spawn()
            .map_err(|source| AttemptError::Spawn { program: program.clone(), source })?;
        let group = child.id();
        let stdin = child.stdin.take();
        let input = payload(alert);
        let run = async {
            if let Some(mut stdin) = stdin {
                match stdin.write_all(&input).await {
                    // A program that does not read its stdin is fine; its exit status decides.
                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                    Err(source) => return Err(AttemptError::Stdin { program: program.clone(), source }),
                    Ok(()) => {}
                }
            }
            let output = child
                .wait_with_output()
                .await
                .map_err(|source| AttemptError::Stdin { program: program.clone(), source })?;
            if output.status.success() {
                return Ok(());
            }
            let stderr = String::from_utf8_lossy(&output.stderr);
            let tail: String = stderr.chars().take(STDERR_EXCERPT).collect();
            Err(AttemptError::Exit { program: program.clone(), status: output.status, stderr: tail })
        };
        match tokio::time::timeout(self.timeout, run).await {
            Ok(result) => result,
            Err(_) => {
                if let Some(group) = group {
                    crate::child::kill_group(group);
                }
                Err(AttemptError::ExecTimeout { program: program.clone(), after: self.timeout })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AlertKind;
    use crate::verdict::{Outcome, Phase};

    fn alert(summary: &str) -> Alert {
        Alert {
            kind: AlertKind::ProbeBlind,
            probe: "prod-eu".into(),
            pool_id: "eu-west-1_AbC".into(),
            dedup_key: "probe/prod-eu/blind/1".into(),
            idempotency_key: "probe/prod-eu/blind/1/probe_blind/1".into(),
            outcome: Outcome::Unknown,
            phase: Phase::Inbox,
            code: "IMAP_LOGIN_FAILED".into(),
            summary: summary.into(),
            consecutive_failures: 7,
            at: "2026-11-26T10:00:00Z".parse().unwrap(),
            report: serde_json::json!({"outcome": "unknown"}),
        }
    }

    #[test]
    fn env_carries_every_field_verbatim_except_nul() {
        let cases = [
            ("shell syntax", "$(rm -rf /); `id` \"; rm", "$(rm -rf /); `id` \"; rm"),
            ("newlines and unicode", "line1\nline2 — ünïcødé ✉", "line1\nline2 — ünïcødé ✉"),
            ("nul", "a\0b", "a\u{FFFD}b"),
        ];
        for (name, summary, expected) in cases {
            let env: std::collections::HashMap<_, _> = env(&alert(summary)).into_iter().collect();
            assert_eq!(env["PROBE_SUMMARY"], expected, "{name}");
            assert_eq!(env["PROBE_ALERT_KIND"], "probe_blind", "{name}");
            assert_eq!(env["PROBE_OUTCOME"], "unknown", "{name}");
            assert_eq!(env["PROBE_PHASE"], "inbox", "{name}");
            assert_eq!(env["PROBE_DEDUP_KEY"], "probe/prod-eu/blind/1", "{name}");
            assert_eq!(env["PROBE_CONSECUTIVE_FAILURES"], "7", "{name}");
            assert_eq!(env["PROBE_AT"], "2026-11-26T10:00:00+00:00", "{name}");
        }
    }

    #[test]
    fn payload_is_the_alert_as_json() {
        let a = alert("x\ny");
        let json: serde_json::Value = serde_json::from_slice(&payload(&a)).unwrap();
        assert_eq!(json["summary"], "x\ny");
        assert_eq!(json["kind"], "probe_blind");
    }
}
