//! The channel configuration as written in probe files, the [`Channel`] every backend sits behind, and the
//! retry loop they share: bounded attempts, exponential backoff with jitter, every failure logged and
//! counted. A channel that cannot be built is a configuration error, never a warning (STYLE.md: a silent
//! pager is the worst failure a monitor can have).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::Rng as _;
use serde::Deserialize;

use super::{Alert, exec, pagerduty, sns, webhook};
use crate::child::PassEnv;
use crate::duration;
use crate::secret::{SecretError, SecretSource};

/// One paging channel as configured, tagged by `type`. Secrets are named by their source, never inline.
/// `Debug` shows a webhook URL without its path and header names without values (both often carry tokens).
#[derive(Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum ChannelConfig {
    /// Run a program (argv, no shell) with the alert as JSON on stdin and in `PROBE_*` environment variables.
    Exec {
        command: Vec<String>,
        /// Variables of the probe's environment the program gets besides the minimal one (`crate::child`).
        #[serde(default)]
        pass_env: PassEnv,
        #[serde(default = "default_exec_timeout", deserialize_with = "duration::de")]
        timeout: Duration,
    },
    /// POST the alert as JSON; with `secret`, sign the body (HMAC-SHA256) in `X-Probe-Signature`.
    Webhook {
        url: String,
        #[serde(default)]
        secret: Option<SecretSource>,
        #[serde(default)]
        headers: BTreeMap<String, String>,
        #[serde(default = "default_http_timeout", deserialize_with = "duration::de")]
        timeout: Duration,
    },
    /// PagerDuty Events API v2: trigger and resolve with the incident's dedup key.
    Pagerduty {
        routing_key: SecretSource,
        #[serde(default = "default_pagerduty_url")]
        url: String,
        #[serde(default = "default_http_timeout", deserialize_with = "duration::de")]
        timeout: Duration,
    },
    /// Amazon SNS `Publish` to a topic; credentials from the standard AWS chain.
    Sns {
        topic_arn: String,
        /// Defaults to the topic ARN's region.
        #[serde(default)]
        region: Option<String>,
        /// For SNS-compatible endpoints (VPC endpoints, moto in tests).
        #[serde(default)]
        endpoint_url: Option<String>,
    },
}

impl std::fmt::Debug for ChannelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChannelConfig::Exec { command, pass_env, timeout } => f
                .debug_struct("Exec")
                .field("command", command)
                .field("pass_env", &pass_env.names())
                .field("timeout", timeout)
                .finish(),
            ChannelConfig::Webhook { url, secret, headers, timeout } => f
                .debug_struct("Webhook")
                .field("url", &without_path(url))
                .field("secret", secret)
                .field("headers", &headers.keys().collect::<Vec<_>>())
                .field("timeout", timeout)
                .finish(),
            ChannelConfig::Pagerduty { routing_key, url, timeout } => f
                .debug_struct("Pagerduty")
                .field("routing_key", routing_key)
                .field("url", &without_path(url))
                .field("timeout", timeout)
                .finish(),
            ChannelConfig::Sns { topic_arn, region, endpoint_url } => f
                .debug_struct("Sns")
                .field("topic_arn", topic_arn)
                .field("region", region)
                .field("endpoint_url", endpoint_url)
                .finish(),
        }
    }
}

/// `https://host:port/…` for `https://user:token@host:port/secret/path?token=…` (the errors' form).
fn without_path(url: &str) -> String {
    super::http::redacted(url)
}

fn default_exec_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_http_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_pagerduty_url() -> String {
    pagerduty::DEFAULT_URL.to_string()
}

impl ChannelConfig {
    /// The secret the channel reads when it sends (a webhook's signing secret, a PagerDuty routing key).
    pub fn secret(&self) -> Option<&SecretSource> {
        match self {
            ChannelConfig::Webhook { secret, .. } => secret.as_ref(),
            ChannelConfig::Pagerduty { routing_key, .. } => Some(routing_key),
            ChannelConfig::Exec { .. } | ChannelConfig::Sns { .. } => None,
        }
    }

    /// The channel type as written in `type = …`; used in logs, errors and metric labels.
    pub fn kind(&self) -> &'static str {
        match self {
            ChannelConfig::Exec { .. } => "exec",
            ChannelConfig::Webhook { .. } => "webhook",
            ChannelConfig::Pagerduty { .. } => "pagerduty",
            ChannelConfig::Sns { .. } => "sns",
        }
    }

    /// Checks everything that can be checked without reading secrets or touching the network, so
    /// `probe validate` and a SIGHUP reload reject a channel that could never page.
    pub fn validate(&self) -> Result<(), ChannelError> {
        match self {
            ChannelConfig::Exec { command, timeout, .. } => {
                exec::validate(command)?;
                check_timeout("exec", *timeout)
            }
            ChannelConfig::Webhook { url, headers, timeout, .. } => {
                super::http::parse_url("webhook", url)?;
                webhook::parse_headers(headers)?;
                check_timeout("webhook", *timeout)
            }
            ChannelConfig::Pagerduty { url, timeout, .. } => {
                super::http::parse_url("pagerduty", url)?;
                check_timeout("pagerduty", *timeout)
            }
            ChannelConfig::Sns { topic_arn, endpoint_url, .. } => {
                sns::parse_arn(topic_arn)?;
                if let Some(url) = endpoint_url {
                    super::http::parse_url("sns", url)?;
                }
                Ok(())
            }
        }
    }
}

fn check_timeout(channel: &'static str, timeout: Duration) -> Result<(), ChannelError> {
    if timeout.is_zero() {
        return Err(ChannelError::ZeroTimeout { channel });
    }
    Ok(())
}

/// How often and how patiently a channel retries one alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (at least 1).
    pub attempts: u32,
    /// Delay before the second attempt; doubled before each further one.
    pub initial_backoff: Duration,
    /// Ceiling of the doubled delay.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// Four attempts over roughly 1 + 2 + 4 s: long enough to ride out a blip, short enough that a page is
    /// not held back for minutes while the next probe run is already due.
    fn default() -> Self {
        RetryPolicy { attempts: 4, initial_backoff: Duration::from_secs(1), max_backoff: Duration::from_secs(30) }
    }
}

impl RetryPolicy {
    /// The delay before the next attempt: the jittered backoff, or the server's `Retry-After` when that is
    /// longer (RFC 9110 §10.2.3: how long "the user agent ought to wait"), never more than `max_backoff` so a
    /// page is not parked for an hour by a hostile or confused receiver.
    pub fn delay(&self, failed: u32, error: &AttemptError) -> Duration {
        let backoff = self.backoff(failed);
        match error {
            AttemptError::Status { retry_after: Some(wait), .. } => backoff.max(*wait).min(self.max_backoff),
            _ => backoff,
        }
    }

    /// The delay after failed attempt `failed` (1-based): `initial · 2^(failed-1)` capped at `max_backoff`,
    /// then jittered uniformly into its upper half so that channels failing together do not retry in step.
    pub fn backoff(&self, failed: u32) -> Duration {
        let doubled = self.initial_backoff.saturating_mul(1u32 << failed.saturating_sub(1).min(20));
        let ceiling = doubled.min(self.max_backoff);
        let half = ceiling / 2;
        half + rand::thread_rng().gen_range(Duration::ZERO..=half)
    }
}

/// Why one attempt failed. [`AttemptError::retryable`] decides whether another attempt can help.
#[derive(Debug, thiserror::Error)]
pub enum AttemptError {
    #[error("{target} answered HTTP {status}: {body:?}")]
    Status {
        target: String,
        status: u16,
        body: String,
        /// The server's `Retry-After` in seconds, if it sent one.
        retry_after: Option<Duration>,
    },
    #[error("cannot reach {target}: {detail}")]
    Connect { target: String, detail: String },
    /// The request went out but no complete answer came back: the receiver may have taken it.
    #[error("{target}: the request was sent but the answer was cut short: {detail}")]
    Interrupted { target: String, detail: String },
    #[error("{target} did not answer within {}", crate::duration::show(*after))]
    Timeout { target: String, after: Duration },
    #[error("cannot start {program:?}: {source} (hint: give the program's absolute path or check PATH)")]
    Spawn { program: String, source: std::io::Error },
    #[error("{program:?} exited with {status}; stderr: {stderr:?}")]
    Exit { program: String, status: std::process::ExitStatus, stderr: String },
    #[error("{program:?} did not finish within {} and was killed", crate::duration::show(*after))]
    ExecTimeout { program: String, after: Duration },
    #[error("{program:?}: cannot pass the alert on stdin: {source}")]
    Stdin { program: String, source: std::io::Error },
    #[error("SNS {target}: {code}: {message}")]
    Aws {
        target: String,
        code: String,
        message: String,
        retryable: bool,
        /// Whether SNS may have published it anyway (a timeout or a cut answer, not a refusal).
        uncertain: bool,
    },
}

impl AttemptError {
    /// Whether a later attempt may succeed: network trouble, timeouts, 5xx, 408 and 429 (RFC 9110 §15.5.9,
    /// RFC 6585 §4) are transient; any other 4xx means the request itself is wrong and will stay wrong; a
    /// program that cannot be started will not start on the next attempt either.
    pub fn retryable(&self) -> bool {
        match self {
            AttemptError::Status { status, .. } => *status == 408 || *status == 429 || *status >= 500,
            AttemptError::Spawn { .. } => false,
            AttemptError::Aws { retryable, .. } => *retryable,
            AttemptError::Connect { .. }
            | AttemptError::Interrupted { .. }
            | AttemptError::Timeout { .. }
            | AttemptError::Exit { .. }
            | AttemptError::ExecTimeout { .. }
            | AttemptError::Stdin { .. } => true,
        }
    }
}

impl AttemptError {
    /// Whether the far end may have taken the alert although the attempt failed: it was sent and then timed
    /// out or was cut short, or the program ran past its timeout. An answer (an HTTP status, an exit status,
    /// an AWS error code), a refused connection or a program that never started are certain: not taken.
    pub fn maybe_taken(&self) -> bool {
        match self {
            AttemptError::Interrupted { .. }
            | AttemptError::Timeout { .. }
            | AttemptError::ExecTimeout { .. }
            | AttemptError::Stdin { .. } => true,
            AttemptError::Aws { uncertain, .. } => *uncertain,
            AttemptError::Status { .. }
            | AttemptError::Connect { .. }
            | AttemptError::Spawn { .. }
            | AttemptError::Exit { .. } => false,
        }
    }
}

/// A channel that cannot be built, or an alert it could not deliver. Never carries a secret: URLs are
/// shown as `scheme://host:port` only, because a webhook path often is a token.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("exec channel: command is empty, expected [\"program\", \"arg\", …] (run without a shell)")]
    EmptyCommand,
    #[error("exec channel: program name is empty in command {command:?}")]
    EmptyProgram { command: Vec<String> },
    #[error("{channel} channel: url {url:?} is not an absolute http:// or https:// URL ({detail})")]
    BadUrl { channel: &'static str, url: String, detail: String },
    #[error("webhook channel: header {name:?}: {detail}")]
    BadHeader { name: String, detail: String },
    #[error("sns channel: topic_arn {arn:?} is not an SNS topic ARN: {detail}")]
    BadArn { arn: String, detail: String },
    #[error("{channel} channel: timeout must be greater than zero")]
    ZeroTimeout { channel: &'static str },
    #[error("{channel} channel: cannot read its secret: {source}")]
    Secret { channel: &'static str, source: SecretError },
    #[error("{channel} channel: cannot set up TLS: {detail}")]
    Tls { channel: &'static str, detail: String },
    #[error("{channel}: alert {dedup_key:?} not delivered after {attempts} attempt(s): {last}")]
    Undelivered {
        channel: String,
        dedup_key: String,
        attempts: u32,
        last: Box<AttemptError>,
        /// Whether any attempt may have reached the receiver ([`AttemptError::maybe_taken`]).
        uncertain: bool,
    },
}

/// The transport behind a channel; each lives in its own file.
#[derive(Debug)]
enum Transport {
    Exec(exec::Exec),
    Webhook(webhook::Webhook),
    PagerDuty(pagerduty::PagerDuty),
    Sns(sns::Sns),
}

#[derive(Debug)]
struct Inner {
    /// `exec /path/prog`, `webhook https://host:port`: what logs and errors call this channel.
    label: String,
    transport: Transport,
    errors: AtomicU64,
    undelivered: AtomicU64,
}

/// A ready channel: cheap to clone (clones share counters), safe to use from many tasks.
#[derive(Debug, Clone)]
pub struct Channel {
    inner: Arc<Inner>,
    retry: RetryPolicy,
}

impl Channel {
    /// Validates the configuration and reads its secrets now, so a channel that could never page fails at
    /// start-up (or reload) rather than at the first incident.
    pub async fn from_config(config: &ChannelConfig) -> Result<Channel, ChannelError> {
        Self::build(config, None).await
    }

    /// Like [`Channel::from_config`], but an SNS channel uses `aws` (the monitor's already loaded AWS
    /// configuration: credentials, profile, endpoint) instead of loading the default chain again.
    pub async fn from_config_with_aws(
        config: &ChannelConfig,
        aws: &aws_config::SdkConfig,
    ) -> Result<Channel, ChannelError> {
        Self::build(config, Some(aws)).await
    }

    async fn build(config: &ChannelConfig, aws: Option<&aws_config::SdkConfig>) -> Result<Channel, ChannelError> {
        config.validate()?;
        let (label, transport) = match config {
            ChannelConfig::Exec { command, pass_env, timeout } => {
                let exec = exec::Exec::new(command.clone(), pass_env.clone(), *timeout)?;
                (format!("exec {}", exec.program()), Transport::Exec(exec))
            }
            ChannelConfig::Webhook { url, secret, headers, timeout } => {
                let secret = match secret {
                    Some(source) => Some(
                        source.read().await.map_err(|source| ChannelError::Secret { channel: "webhook", source })?,
                    ),
                    None => None,
                };
                let hook = webhook::Webhook::new(url, secret, headers, *timeout)?;
                (format!("webhook {}", hook.target()), Transport::Webhook(hook))
            }
            ChannelConfig::Pagerduty { routing_key, url, timeout } => {
                let key =
                    routing_key.read().await.map_err(|source| ChannelError::Secret { channel: "pagerduty", source })?;
                let pd = pagerduty::PagerDuty::new(url, key, *timeout)?;
                (format!("pagerduty {}", pd.target()), Transport::PagerDuty(pd))
            }
            ChannelConfig::Sns { topic_arn, region, endpoint_url } => {
                let sns = sns::Sns::new(topic_arn, region.as_deref(), endpoint_url.as_deref(), aws).await?;
                (format!("sns {}", sns.target()), Transport::Sns(sns))
            }
        };
        Ok(Channel {
            inner: Arc::new(Inner { label, transport, errors: AtomicU64::new(0), undelivered: AtomicU64::new(0) }),
            retry: RetryPolicy::default(),
        })
    }

    /// Replaces the retry policy of this handle (clones made afterwards share it). Attempts below 1 count as 1.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Channel {
        self.retry = RetryPolicy { attempts: retry.attempts.max(1), ..retry };
        self
    }

    /// Failed attempts so far (each retry counts), for the monitor's `channel errors` metric.
    pub fn errors(&self) -> u64 {
        self.inner.errors.load(Ordering::Relaxed)
    }

    /// Alerts given up on after every attempt failed.
    pub fn undelivered(&self) -> u64 {
        self.inner.undelivered.load(Ordering::Relaxed)
    }

    /// Delivers one alert, retrying transient failures with backoff. `Ok` means the far end accepted it; the
    /// monitor marks an incident triggered only then (gatus: "triggered" set only when a send succeeded).
    pub async fn send(&self, alert: &Alert) -> Result<(), ChannelError> {
        let inner = &self.inner;
        let (mut attempt, mut uncertain) = (0, false);
        loop {
            attempt += 1;
            let result = match &inner.transport {
                Transport::Exec(exec) => exec.attempt(alert).await,
                Transport::Webhook(hook) => hook.attempt(alert).await,
                Transport::PagerDuty(pd) => pd.attempt(alert).await,
                Transport::Sns(sns) => sns.attempt(alert).await,
            };
            let error = match result {
                Ok(()) => {
                    tracing::debug!(channel = %inner.label, dedup_key = %alert.dedup_key, attempt, "alert delivered");
                    return Ok(());
                }
                Err(error) => error,
            };
            inner.errors.fetch_add(1, Ordering::Relaxed);
            uncertain |= error.maybe_taken();
            let retry = error.retryable() && attempt < self.retry.attempts;
            tracing::warn!(
                channel = %inner.label,
                probe = %alert.probe,
                dedup_key = %alert.dedup_key,
                attempt,
                of = self.retry.attempts,
                retry,
                error = %error,
                "alert channel attempt failed"
            );
            if !retry {
                inner.undelivered.fetch_add(1, Ordering::Relaxed);
                return Err(ChannelError::Undelivered {
                    channel: inner.label.clone(),
                    dedup_key: alert.dedup_key.clone(),
                    attempts: attempt,
                    last: Box::new(error),
                    uncertain,
                });
            }
            tokio::time::sleep(self.retry.delay(attempt, &error)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ChannelConfig, String> {
        toml::from_str::<ChannelConfig>(text).map_err(|e| e.to_string())
    }

    #[test]
    fn configs_parse_with_defaults() {
        let cases: [(&str, &str, ChannelConfig); 5] = [
            (
                "exec",
                r#"type = "exec"
                   command = ["/usr/local/bin/page", "--team", "mail"]"#,
                ChannelConfig::Exec {
                    command: vec!["/usr/local/bin/page".into(), "--team".into(), "mail".into()],
                    pass_env: PassEnv::default(),
                    timeout: Duration::from_secs(30),
                },
            ),
            (
                "exec passing variables",
                r#"type = "exec"
                   command = ["/usr/local/bin/page"]
                   pass_env = ["SLACK_CHANNEL"]"#,
                ChannelConfig::Exec {
                    command: vec!["/usr/local/bin/page".into()],
                    pass_env: PassEnv::new(vec!["SLACK_CHANNEL".into()]).unwrap(),
                    timeout: Duration::from_secs(30),
                },
            ),
            (
                "webhook with secret and headers",
                r#"type = "webhook"
                   url = "https://hooks.example.com/probe"
                   secret = { env = "HOOK_SECRET" }
                   headers = { "X-Team" = "mail" }
                   timeout = "5s""#,
                ChannelConfig::Webhook {
                    url: "https://hooks.example.com/probe".into(),
                    secret: Some(SecretSource::Env("HOOK_SECRET".into())),
                    headers: BTreeMap::from([("X-Team".into(), "mail".into())]),
                    timeout: Duration::from_secs(5),
                },
            ),
            (
                "pagerduty default url",
                r#"type = "pagerduty"
                   routing_key = { file = "/etc/probe/pd-key" }"#,
                ChannelConfig::Pagerduty {
                    routing_key: SecretSource::File("/etc/probe/pd-key".into()),
                    url: pagerduty::DEFAULT_URL.into(),
                    timeout: Duration::from_secs(10),
                },
            ),
            (
                "sns",
                r#"type = "sns"
                   topic_arn = "arn:aws:sns:eu-west-1:123456789012:probe-alerts""#,
                ChannelConfig::Sns {
                    topic_arn: "arn:aws:sns:eu-west-1:123456789012:probe-alerts".into(),
                    region: None,
                    endpoint_url: None,
                },
            ),
        ];
        for (name, text, expected) in cases {
            assert_eq!(parse(text), Ok(expected), "{name}");
        }
    }

    #[test]
    fn bad_configs_are_errors_that_quote_the_value() {
        let cases = [
            ("unknown field", "type = \"exec\"\ncommand = [\"x\"]\nshell = true", "unknown field `shell`"),
            ("unknown type", "type = \"email\"", "unknown variant `email`"),
            ("inline secret", "type = \"pagerduty\"\nrouting_key = \"R0UT1NGKEY\"", "inline secret values"),
            ("bad duration", "type = \"exec\"\ncommand = [\"x\"]\ntimeout = \"soon\"", "invalid duration \"soon\""),
            (
                "bad pass_env",
                "type = \"exec\"\ncommand = [\"x\"]\npass_env = [\"A B\"]",
                "\"A B\" is not an environment",
            ),
            (
                "pass_env on a webhook",
                "type = \"webhook\"\nurl = \"https://h/\"\npass_env = []",
                "unknown field `pass_env`",
            ),
        ];
        for (name, text, expected) in cases {
            let err = parse(text).expect_err(name);
            assert!(err.contains(expected), "{name}: {err}");
            assert!(!err.contains("R0UT1NGKEY"), "{name} echoes the secret: {err}");
        }
    }

    #[test]
    fn validation_rejects_channels_that_could_never_page() {
        let webhook = |url: &str, headers: &[(&str, &str)]| ChannelConfig::Webhook {
            url: url.into(),
            secret: None,
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            timeout: Duration::from_secs(1),
        };
        let cases = [
            (
                "empty argv",
                ChannelConfig::Exec { command: vec![], pass_env: PassEnv::default(), timeout: Duration::from_secs(1) },
                "command is empty",
            ),
            (
                "empty program",
                ChannelConfig::Exec {
                    command: vec!["".into()],
                    pass_env: PassEnv::default(),
                    timeout: Duration::from_secs(1),
                },
                "program name is empty",
            ),
            (
                "zero timeout",
                ChannelConfig::Exec {
                    command: vec!["true".into()],
                    pass_env: PassEnv::default(),
                    timeout: Duration::ZERO,
                },
                "greater than zero",
            ),
            ("ftp url", webhook("ftp://example.com/x", &[]), "\"ftp://example.com/…\" is not an absolute"),
            (
                "bad arn",
                ChannelConfig::Sns { topic_arn: "arn:aws:sns:eu-west-1:1:t".into(), region: None, endpoint_url: None },
                "account \"1\"",
            ),
            (
                "bad sns endpoint",
                ChannelConfig::Sns {
                    topic_arn: "arn:aws:sns:eu-west-1:123456789012:t".into(),
                    region: None,
                    endpoint_url: Some("localhost:4566".into()),
                },
                "(no scheme)",
            ),
            ("relative url", webhook("/hook", &[]), "(no scheme)"),
            ("bad header name", webhook("https://example.com/", &[("Bad Header", "x")]), "\"Bad Header\""),
            ("reserved header", webhook("https://example.com/", &[("X-Probe-Signature", "x")]), "set by the probe"),
            ("header with newline", webhook("https://example.com/", &[("X-A", "a\r\nX-B: b")]), "\"X-A\""),
        ];
        for (name, config, expected) in cases {
            let err = config.validate().expect_err(name).to_string();
            assert!(err.contains(expected), "{name}: {err}");
        }
        assert!(webhook("http://127.0.0.1:8080/hook", &[("Authorization", "Bearer t")]).validate().is_ok());
    }

    #[test]
    fn config_debug_hides_url_paths_and_header_values() {
        let config = ChannelConfig::Webhook {
            url: "https://hooks.example.com/services/T0/tok-canary?k=q-canary".into(),
            secret: Some(SecretSource::Env("HOOK_SECRET".into())),
            headers: BTreeMap::from([("Authorization".into(), "Bearer hdr-canary".into())]),
            timeout: Duration::from_secs(1),
        };
        let debug = format!("{config:?}");
        assert!(debug.contains("https://hooks.example.com/…") && debug.contains("Authorization"), "{debug}");
        for canary in ["tok-canary", "q-canary", "hdr-canary"] {
            assert!(!debug.contains(canary), "{debug}");
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_stays_under_the_ceiling() {
        let policy = RetryPolicy {
            attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
        };
        let cases = [(1, 50, 100), (2, 100, 200), (3, 175, 350), (9, 175, 350)];
        for (failed, low, high) in cases {
            for _ in 0..50 {
                let d = policy.backoff(failed).as_millis();
                assert!((low..=high).contains(&d), "after failure {failed}: {d} ms not in {low}..={high}");
            }
        }
    }

    #[test]
    fn retry_after_lengthens_the_delay_up_to_the_ceiling() {
        let policy = RetryPolicy {
            attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        };
        let with = |retry_after: Option<u64>| AttemptError::Status {
            target: "t".into(),
            status: 429,
            body: String::new(),
            retry_after: retry_after.map(Duration::from_secs),
        };
        let cases = [("none", None, 50, 100), ("2s", Some(2), 2000, 2000), ("capped", Some(3600), 5000, 5000)];
        for (name, retry_after, low, high) in cases {
            let d = policy.delay(1, &with(retry_after)).as_millis();
            assert!((low..=high).contains(&d), "{name}: {d} ms not in {low}..={high}");
        }
    }

    #[test]
    fn only_transient_failures_are_retried() {
        let status =
            |status| AttemptError::Status { target: "t".into(), status, body: String::new(), retry_after: None };
        let cases = [(400, false), (401, false), (404, false), (408, true), (429, true), (500, true), (503, true)];
        for (code, expected) in cases {
            assert_eq!(status(code).retryable(), expected, "HTTP {code}");
        }
        let spawn = AttemptError::Spawn { program: "x".into(), source: std::io::ErrorKind::NotFound.into() };
        assert!(!spawn.retryable());
    }
}
