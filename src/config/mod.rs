//! Probe files: one TOML file per pool/environment in `probes/`. Serde structs with defaults, and
//! validation for the rules serde cannot express. Every error names the file, the line and the field,
//! quotes the bad value and says what was expected; nothing is guessed.
//!
//! * [`mailbox`] — `[imap]` or `[maildir]`, read into one [`Mailbox`].
//! * [`settings`] — `[expect]` and `[cloudwatch]`.
//! * [`alert`] — `[alert]` and the alert defaults file, layered key by key.
//! * [`lookup`] — which probe file `--pool`, `--probe` or `--config` names.
//! * [`syntax`] — TOML reading and `file:line: field` errors.
//!
//! `[aws]` and `trigger` are the AWS module's own settings ([`crate::aws::AwsSettings`],
//! [`crate::aws::trigger::TriggerChoice`]).

pub mod alert;
pub mod lookup;
pub mod mailbox;
pub mod oauth2;
pub mod settings;
pub mod syntax;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use crate::authres::{AlignmentMode, Requirement};
pub use crate::aws::AwsSettings;
pub use crate::aws::trigger::TriggerChoice;
pub use alert::{AlertOverrides, AlertSettings};
pub use mailbox::{Cleanup, ImapAuth, ImapSettings, Mailbox, MaildirSettings};
pub use oauth2::{Grant, OAuth2Settings, Provider};
pub use settings::{CloudWatchSettings, ExpectSettings, JunkVerdict};
pub use syntax::ConfigError;

use crate::duration;
use crate::secret::{SecretError, SecretSource};

/// One probe definition, as read from a probe file.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeFile {
    /// Probe name used in output, metrics and alerts; default: the file name without `.toml`.
    pub name: String,
    /// Cognito user pool id, `<region>_<id>`.
    pub pool_id: String,
    /// AWS Region of the pool; default: the prefix of `pool_id`.
    pub region: Option<String>,
    /// The dedicated test user (username or alias).
    pub username: String,
    /// App client for ForgotPassword / ResendConfirmationCode.
    pub client_id: Option<String>,
    /// Client secret of that app client, when it has one (SecretHash, aws.md §1.2).
    pub client_secret: Option<SecretSource>,
    /// Which Cognito call makes the mail: `auto` chooses by user status (DESIGN.md §2).
    pub trigger: TriggerChoice,
    /// How often the monitor runs this probe.
    pub interval: Duration,
    /// How long to wait for the mail before the run is CRITICAL.
    pub timeout: Duration,
    /// Random delay up to this long added to each scheduled run, so probes sharing an interval spread out.
    pub jitter: Duration,
    /// Paging thresholds and channels (monitor and `probe --state`), with every layer applied.
    pub alert: AlertSettings,
    /// The `[alert]` keys this file sets itself, layered over the alert defaults file by
    /// [`ProbeFile::apply_alert_defaults`].
    pub alert_overrides: AlertOverrides,
    /// Whether this probe watches a production pool ([`ProbeFile::is_production`]).
    pub production: Option<bool>,
    pub aws: AwsSettings,
    /// The mailbox the test user's mail lands in.
    pub mailbox: Mailbox,
    pub expect: ExpectSettings,
    pub cloudwatch: CloudWatchSettings,
    /// The SES event queue of the pool's configuration set, when there is one (per-message evidence).
    pub ses_events: Option<crate::aws::sqs::SesEventsSettings>,
    /// Cognito's notification error logs.
    pub cognito_logs: crate::aws::cognito_logs::CognitoLogsSettings,
    /// The account suppression list check.
    pub suppression: SuppressionSettings,
    /// Where the file came from.
    pub source: Option<PathBuf>,
}

/// The `[suppression]` section: whether the test user's address is looked up on the account's suppression
/// list (SESv2 `GetSuppressedDestination`, one call) before the trigger and after a mail that did not come.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuppressionSettings {
    #[serde(default = "yes")]
    pub check: bool,
}

fn yes() -> bool {
    true
}

impl Default for SuppressionSettings {
    fn default() -> Self {
        SuppressionSettings { check: true }
    }
}

/// A probe file as written, before the rules serde cannot express.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProbeFile {
    #[serde(default)]
    name: String,
    pool_id: String,
    #[serde(default)]
    region: Option<String>,
    username: String,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<SecretSource>,
    #[serde(default)]
    trigger: TriggerChoice,
    #[serde(default = "default_interval", deserialize_with = "duration::de")]
    interval: Duration,
    #[serde(default = "default_timeout", deserialize_with = "duration::de")]
    timeout: Duration,
    #[serde(default, deserialize_with = "duration::de")]
    jitter: Duration,
    #[serde(default)]
    alert: AlertOverrides,
    /// Absent: production when the probe name has a `prod`/`production` word.
    #[serde(default)]
    production: Option<bool>,
    #[serde(default)]
    aws: AwsSettings,
    #[serde(default)]
    imap: Option<ImapSettings>,
    #[serde(default)]
    maildir: Option<MaildirSettings>,
    #[serde(default)]
    expect: ExpectSettings,
    #[serde(default)]
    cloudwatch: CloudWatchSettings,
    #[serde(default)]
    ses_events: Option<crate::aws::sqs::SesEventsSettings>,
    #[serde(default)]
    cognito_logs: crate::aws::cognito_logs::CognitoLogsSettings,
    #[serde(default)]
    suppression: SuppressionSettings,
}

fn default_interval() -> Duration {
    Duration::from_secs(15 * 60)
}

fn default_timeout() -> Duration {
    Duration::from_secs(5 * 60)
}

impl ProbeFile {
    /// Parses and validates one probe file's text. `path` is used for messages and the default name.
    pub fn parse(text: &str, path: &Path) -> Result<ProbeFile, ConfigError> {
        let raw: RawProbeFile = syntax::from_toml(text, path)?;
        let invalid = |field: &str, message: String| syntax::invalid(text, path, field, message);
        let mailbox = match (raw.imap, raw.maildir) {
            (Some(imap), None) => Mailbox::Imap(imap),
            (None, Some(maildir)) => Mailbox::Maildir(maildir),
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "maildir",
                    "both [imap] and [maildir] are set, expected exactly one mailbox".into(),
                ));
            }
            (None, None) => return Err(invalid("imap", "no mailbox: add an [imap] (or [maildir]) section".into())),
        };
        raw.alert.check().map_err(|(field, message)| invalid(field, message))?;
        let name = match raw.name {
            n if n.is_empty() => path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
            n => n,
        };
        let probe = ProbeFile {
            name,
            pool_id: raw.pool_id,
            region: raw.region,
            username: raw.username,
            client_id: raw.client_id,
            client_secret: raw.client_secret,
            trigger: raw.trigger,
            interval: raw.interval,
            timeout: raw.timeout,
            jitter: raw.jitter,
            alert: raw.alert.over(&AlertSettings::default()),
            alert_overrides: raw.alert,
            production: raw.production,
            aws: raw.aws,
            mailbox,
            expect: raw.expect,
            cloudwatch: raw.cloudwatch,
            ses_events: raw.ses_events,
            cognito_logs: raw.cognito_logs,
            suppression: raw.suppression,
            source: Some(path.to_path_buf()),
        };
        probe.validate().map_err(|(field, message)| invalid(field, message))?;
        Ok(probe)
    }

    /// Reads and validates a probe file.
    pub fn load(path: &Path) -> Result<ProbeFile, ConfigError> {
        Self::parse(&syntax::read(path)?, path)
    }

    /// Layers this file's own `[alert]` keys over `defaults` (the `--alerts` file) over the built-in
    /// defaults.
    pub fn apply_alert_defaults(&mut self, defaults: &AlertOverrides) {
        self.alert = self.alert_overrides.over(&defaults.over(&AlertSettings::default()));
    }

    /// Whether the pool is production: the `production` key when given, else whether the probe's name has
    /// a word `prod` or `production` (split on `-`, `_`, `.`, space), so `team-prod` is and `preprod` is not.
    /// `probe doctor` judges COGNITO_DEFAULT on a production pool FAIL instead of WARN.
    pub fn is_production(&self) -> bool {
        self.production.unwrap_or_else(|| {
            self.name
                .split(['-', '_', '.', ' '])
                .any(|w| w.eq_ignore_ascii_case("prod") || w.eq_ignore_ascii_case("production"))
        })
    }

    /// Region of the pool: the `region` key, else the pool id's prefix (`us-east-1_abc` → `us-east-1`).
    pub fn region(&self) -> String {
        self.region.clone().unwrap_or_else(|| self.pool_id.split('_').next().unwrap_or_default().to_string())
    }

    /// The file's name for messages: its path, else the probe name.
    pub fn shown(&self) -> String {
        self.source.as_deref().map(|s| s.display().to_string()).unwrap_or_else(|| self.name.clone())
    }

    /// Every secret source the file names, with its dotted key.
    pub fn secret_sources(&self) -> Vec<(&'static str, &SecretSource)> {
        let mut out = Vec::new();
        if let Some(s) = &self.client_secret {
            out.push(("client_secret", s));
        }
        if let Mailbox::Imap(imap) = &self.mailbox {
            let key = match imap.auth {
                ImapAuth::Login => "imap.password",
                ImapAuth::Xoauth2 => "imap.token",
            };
            out.extend(imap.credential().map(|s| (key, s)));
            out.extend(imap.oauth2.iter().flat_map(|o| o.secret_sources()));
        }
        out.extend(self.alert.channels.iter().filter_map(|c| c.secret()).map(|s| ("alert.channels", s)));
        out
    }

    /// Checks that every secret the file names can be read here (variable set, file readable, command
    /// found), without reading or showing any value. `probe validate` reports each failure.
    pub fn check_secrets(&self) -> Vec<(&'static str, SecretError)> {
        self.secret_sources().into_iter().filter_map(|(key, s)| s.check().err().map(|e| (key, e))).collect()
    }

    /// Rules serde cannot express: the dotted field and the message.
    fn validate(&self) -> Result<(), (&'static str, String)> {
        // Pool ids are `<region>_<id>` (Cognito UserPoolIdType pattern `[\w-]+_[0-9a-zA-Z]+`).
        let pool_id_ok = self.pool_id.split_once('_').is_some_and(|(region, id)| {
            !region.is_empty()
                && region.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !id.is_empty()
                && id.chars().all(|c| c.is_ascii_alphanumeric())
        });
        if !pool_id_ok {
            let message = format!(
                "{:?} is not a user pool id, expected <region>_<id> like \"us-east-1_knEL7cqS3\"",
                self.pool_id
            );
            return Err(("pool_id", message));
        }
        if self.username.trim().is_empty() {
            return Err(("username", "is empty, expected the test user's username".into()));
        }
        if self.trigger.needs_client() && self.client_id.is_none() {
            return Err(("trigger", format!("{:?} needs client_id (an app client of the pool)", self.trigger.name())));
        }
        if self.client_secret.is_some() && self.client_id.is_none() {
            return Err(("client_secret", "given without client_id".into()));
        }
        if self.timeout.is_zero() {
            return Err(("timeout", "must be longer than 0s".into()));
        }
        if self.interval < Duration::from_secs(10) {
            let message = format!("{} is too short, expected at least 10s", duration::show(self.interval));
            return Err(("interval", message));
        }
        if let Mailbox::Imap(imap) = &self.mailbox {
            validate_imap(imap)?;
        }
        let size_key = match self.mailbox {
            Mailbox::Imap(_) => "imap.max_message_size",
            Mailbox::Maildir(_) => "maildir.max_message_size",
        };
        validate_max_message_size(self.mailbox.max_message_size()).map_err(|message| (size_key, message))?;
        if let Some(url) = &self.aws.endpoint_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(("aws.endpoint_url", format!("{url:?} is not an http(s) URL")));
        }
        if let Some(events) = &self.ses_events {
            // SQS queue URLs are `https://sqs.<region>.amazonaws.com/<account>/<name>` (or an endpoint's).
            let path_ok = events.queue_url.split_once("://").is_some_and(|(scheme, rest)| {
                matches!(scheme, "http" | "https") && rest.split('/').filter(|s| !s.is_empty()).count() >= 3
            });
            if !path_ok {
                let message = format!(
                    "{:?} is not an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<queue>)",
                    events.queue_url
                );
                return Err(("ses_events.queue_url", message));
            }
            let visibility = events.visibility_timeout;
            if visibility < Duration::from_secs(1) || visibility > Duration::from_secs(43_200) {
                let message = format!("{} is outside 1s to 12h (SQS VisibilityTimeout)", duration::show(visibility));
                return Err(("ses_events.visibility_timeout", message));
            }
        }
        Ok(())
    }
}

fn validate_imap(imap: &ImapSettings) -> Result<(), (&'static str, String)> {
    if imap.host.trim().is_empty() {
        return Err(("imap.host", "is empty".into()));
    }
    match imap.auth {
        ImapAuth::Login if imap.password.is_none() => {
            return Err((
                "imap.password",
                "auth = \"login\" needs password = { env = \"…\" } or { file = \"…\" }".into(),
            ));
        }
        ImapAuth::Xoauth2 if imap.token.is_none() && imap.oauth2.is_none() => {
            let message = "auth = \"xoauth2\" needs token = { env | file | command = … } (a ready access token) or an \
                           [imap.oauth2] section (the probe gets the token)";
            return Err(("imap.token", message.into()));
        }
        ImapAuth::Xoauth2 if imap.token.is_some() && imap.oauth2.is_some() => {
            let message = "is set together with [imap.oauth2]: keep token for a ready access token, or [imap.oauth2] \
                           for the probe to get one, not both";
            return Err(("imap.token", message.into()));
        }
        ImapAuth::Login if imap.oauth2.is_some() => {
            return Err(("imap.oauth2", "needs auth = \"xoauth2\" (LOGIN sends a password)".into()));
        }
        _ => {}
    }
    if let Some(oauth2) = &imap.oauth2 {
        oauth2.validate()?;
    }
    if imap.folders.is_empty() {
        return Err(("imap.folders", "is empty, expected at least [\"INBOX\"]".into()));
    }
    if imap.poll_interval < Duration::from_millis(100) {
        return Err(("imap.poll_interval", "is shorter than 100ms".into()));
    }
    if imap.max_connections == 0 {
        let message = "is 0, expected at least 1 (connections to this login the monitor may open at once)";
        return Err(("imap.max_connections", message.into()));
    }
    Ok(())
}

/// The bounds of `max_message_size`: the probe's own mail (a few KB of headers: DKIM signatures, the
/// receiver's trace) must fit, and the IMAP client buffers a message whole, so it stays far below what a
/// host can spare (IMAP sizes are 32-bit, RFC 3501 §9 `number`).
const MESSAGE_SIZE_RANGE: std::ops::RangeInclusive<u64> = 16 * 1024..=1024 * 1024 * 1024;

fn validate_max_message_size(limit: u64) -> Result<(), String> {
    if MESSAGE_SIZE_RANGE.contains(&limit) {
        return Ok(());
    }
    Err(format!(
        "{} is out of range, expected {} to {} (probe mail is a few KB; default {})",
        crate::size::show(limit),
        crate::size::show(*MESSAGE_SIZE_RANGE.start()),
        crate::size::show(*MESSAGE_SIZE_RANGE.end()),
        crate::size::show(crate::inbox::DEFAULT_MAX_MESSAGE_SIZE),
    ))
}

/// Loads every `*.toml` in `dir`, sorted by name; a broken file stops nothing: every result is returned.
pub fn load_dir(dir: &Path) -> Result<Vec<Result<ProbeFile, ConfigError>>, ConfigError> {
    Ok(probe_paths(dir)?.iter().map(|p| ProbeFile::load(p)).collect())
}

/// The `*.toml` files of `dir`, sorted by name.
pub fn probe_paths(dir: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| ConfigError::Dir { dir: dir.to_path_buf(), source })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    Ok(paths)
}

#[cfg(test)]
mod tests;
