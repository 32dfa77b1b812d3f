//! Probe files: one TOML file per pool/environment in `probes/`. Serde structs with defaults, and
//! [`ProbeFile::validate`] for the rules serde cannot express. Every error names the file, the line and the
//! field, quotes the bad value and says what was expected; nothing is guessed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

pub use crate::authres::{AlignmentMode, Requirement};
use crate::secret::SecretSource;

/// One probe definition, as read from a probe file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeFile {
    /// Probe name used in output, metrics and alerts; default: the file name without `.toml`.
    #[serde(default)]
    pub name: String,
    /// Cognito user pool id, `<region>_<id>`.
    pub pool_id: String,
    /// AWS Region of the pool; default: the prefix of `pool_id`.
    #[serde(default)]
    pub region: Option<String>,
    /// The dedicated test user (username or alias).
    pub username: String,
    /// App client for ForgotPassword / ResendConfirmationCode.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Client secret of that app client, when it has one (SecretHash, aws.md §1.2).
    #[serde(default)]
    pub client_secret: Option<SecretSource>,
    /// Which Cognito call makes the mail: `auto` chooses by user status (DESIGN.md §2).
    #[serde(default)]
    pub trigger: TriggerChoice,
    /// How often the monitor runs this probe.
    #[serde(default = "defaults::interval", deserialize_with = "de_duration")]
    pub interval: Duration,
    /// How long to wait for the mail before the run is CRITICAL.
    #[serde(default = "defaults::timeout", deserialize_with = "de_duration")]
    pub timeout: Duration,
    /// Random delay up to this long added to each scheduled run, so probes sharing an interval spread out.
    #[serde(default, deserialize_with = "de_duration")]
    pub jitter: Duration,
    /// Paging thresholds and channels (monitor and `probe --state`).
    #[serde(default)]
    pub alert: crate::monitor::config::AlertSettings,
    /// The `[alert]` keys this file sets itself; the others may come from the alert defaults file
    /// ([`ProbeFile::apply_alert_defaults`]).
    #[serde(skip)]
    pub alert_keys: Vec<String>,
    /// Whether this probe watches a production pool. `probe doctor` judges COGNITO_DEFAULT on a production
    /// pool FAIL instead of WARN. Absent: production when the probe name has a `prod`/`production` word
    /// (see [`ProbeFile::is_production`]).
    #[serde(default)]
    pub production: Option<bool>,
    #[serde(default)]
    pub aws: AwsSettings,
    /// The mailbox the test user's mail lands in: IMAP …
    #[serde(default)]
    pub imap: Option<ImapSettings>,
    /// … or a local Maildir (mail host, demo).
    #[serde(default)]
    pub maildir: Option<MaildirSettings>,
    #[serde(default)]
    pub expect: ExpectSettings,
    #[serde(default)]
    pub cloudwatch: CloudWatchSettings,
    /// Where the file came from; set by the loader.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// Trigger selection (DESIGN.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TriggerChoice {
    /// By the user's status: RESEND for FORCE_CHANGE_PASSWORD, ForgotPassword for CONFIRMED/RESET_REQUIRED,
    /// ResendConfirmationCode for UNCONFIRMED.
    #[default]
    Auto,
    /// AdminCreateUser MessageAction=RESEND.
    Resend,
    /// ForgotPassword (needs `client_id`).
    ForgotPassword,
    /// AdminResetUserPassword (leaves the user in RESET_REQUIRED).
    AdminResetUserPassword,
    /// ResendConfirmationCode (needs `client_id`).
    ResendConfirmationCode,
}

/// How the AWS SDK clients are built. Credentials come from the standard chain (env, profile, SSO, web
/// identity, instance role).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsSettings {
    /// Named profile of the shared config files.
    #[serde(default)]
    pub profile: Option<String>,
    /// Role to assume on top of the chain's credentials.
    #[serde(default)]
    pub role_arn: Option<String>,
    /// A non-AWS endpoint (the twin, an emulator) for every service.
    #[serde(default)]
    pub endpoint_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapSettings {
    pub host: String,
    #[serde(default = "defaults::imap_port")]
    pub port: u16,
    /// Implicit TLS with certificate verification; turning it off is for loopback tests only.
    #[serde(default = "defaults::yes")]
    pub tls: bool,
    /// PEM file with extra trusted CA certificates (private CAs); the system's web roots are always trusted.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub auth: ImapAuth,
    pub username: String,
    /// Password for LOGIN.
    #[serde(default)]
    pub password: Option<SecretSource>,
    /// OAuth2 access token for XOAUTH2 (Gmail, Microsoft 365).
    #[serde(default)]
    pub token: Option<SecretSource>,
    /// Folders watched besides Junk.
    #[serde(default = "defaults::folders")]
    pub folders: Vec<String>,
    /// The Junk folder; default: the folder with SPECIAL-USE `\Junk`, else a well-known name.
    #[serde(default)]
    pub junk_folder: Option<String>,
    /// Use IDLE when the server offers it; otherwise poll with NOOP every `poll_interval`.
    #[serde(default = "defaults::yes")]
    pub idle: bool,
    #[serde(default = "defaults::poll_interval", deserialize_with = "de_duration")]
    pub poll_interval: Duration,
    /// authserv-ids of the receiver whose Authentication-Results are trusted (exact or `*.suffix`).
    #[serde(default)]
    pub trusted_authserv_ids: Vec<String>,
    #[serde(default)]
    pub cleanup: Cleanup,
    /// Most connections `probe monitor` opens to this login at once (logged-in sessions in use plus idle
    /// ones kept for reuse), shared by every probe with the same login. Servers cap connections per user
    /// (Dovecot `mail_max_userip_connections` 10, Gmail 15); a run waits for a free one before its baseline.
    #[serde(default = "defaults::max_connections")]
    pub max_connections: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImapAuth {
    /// LOGIN with username and password.
    #[default]
    Login,
    /// SASL XOAUTH2 with an OAuth2 access token.
    Xoauth2,
}

/// What happens to the probe's own mail once it is judged. Other mail is never touched.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Cleanup {
    #[default]
    Delete,
    MoveTo(String),
    Keep,
}

impl<'de> Deserialize<'de> for Cleanup {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        match text.as_str() {
            "delete" => Ok(Cleanup::Delete),
            "keep" => Ok(Cleanup::Keep),
            other => match other.strip_prefix("move:") {
                Some(folder) if !folder.trim().is_empty() => Ok(Cleanup::MoveTo(folder.trim().to_string())),
                _ => Err(serde::de::Error::custom(format!(
                    "invalid cleanup {other:?}, expected \"delete\", \"keep\" or \"move:<folder>\""
                ))),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaildirSettings {
    /// Root of the Maildir++ (INBOX at the root, Junk at `.Junk`).
    pub path: PathBuf,
    #[serde(default)]
    pub trusted_authserv_ids: Vec<String>,
    #[serde(default)]
    pub cleanup: Cleanup,
}

/// What the delivered mail must look like.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectSettings {
    /// Sender address the mail must come from; default: the pool's From address.
    #[serde(default)]
    pub from: Option<String>,
    /// Domain of the DKIM signature that must pass and align; default: the From domain.
    #[serde(default)]
    pub dkim_domain: Option<String>,
    /// Required results: `pass`, or `any` to report without judging.
    #[serde(default = "defaults::pass")]
    pub dkim: Requirement,
    #[serde(default = "defaults::pass")]
    pub spf: Requirement,
    #[serde(default = "defaults::pass")]
    pub dmarc: Requirement,
    #[serde(default = "defaults::yes")]
    pub dkim_aligned: bool,
    /// SES's default MAIL FROM never aligns (authres-realworld.md §0), so this is off by default.
    #[serde(default)]
    pub spf_aligned: bool,
    #[serde(default)]
    pub alignment: AlignmentMode,
    /// The custom MAIL FROM domain configured in SES; a different real one is a warning (SES falls back to
    /// amazonses.com silently when the MX check fails, research/authres-realworld.md §0).
    #[serde(default)]
    pub mail_from_domain: Option<String>,
    /// Verdict when the mail lands in the Junk folder.
    #[serde(default)]
    pub junk: JunkVerdict,
    /// Slower delivery than this is a WARNING.
    #[serde(default = "defaults::max_delivery", deserialize_with = "de_duration")]
    pub max_delivery: Duration,
}

impl From<&ExpectSettings> for crate::authres::Expectations {
    fn from(e: &ExpectSettings) -> Self {
        crate::authres::Expectations {
            dkim: e.dkim,
            spf: e.spf,
            dmarc: e.dmarc,
            dkim_aligned: e.dkim_aligned,
            spf_aligned: e.spf_aligned,
            alignment: e.alignment,
            dkim_domain: e.dkim_domain.clone(),
            mail_from_domain: e.mail_from_domain.clone(),
        }
    }
}

impl Default for ExpectSettings {
    fn default() -> Self {
        ExpectSettings {
            from: None,
            dkim_domain: None,
            dkim: defaults::pass(),
            spf: defaults::pass(),
            dmarc: defaults::pass(),
            dkim_aligned: true,
            spf_aligned: false,
            alignment: AlignmentMode::Relaxed,
            mail_from_domain: None,
            junk: JunkVerdict::Warning,
            max_delivery: defaults::max_delivery(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JunkVerdict {
    #[default]
    Warning,
    Critical,
}

/// The SES checkpoint (DESIGN.md §3).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudWatchSettings {
    #[serde(default = "defaults::yes")]
    pub enabled: bool,
    /// Also read the `ses:configuration-set` dimension of this configuration set (default: the pool's).
    #[serde(default)]
    pub configuration_set: Option<String>,
    /// How often the metric window is re-read.
    #[serde(default = "defaults::cw_poll", deserialize_with = "de_duration")]
    pub poll_interval: Duration,
    /// How long after the inbox gave up to keep reading the metric (it lags minutes, aws.md §2.2).
    #[serde(default = "defaults::settle", deserialize_with = "de_duration")]
    pub settle: Duration,
}

impl Default for CloudWatchSettings {
    fn default() -> Self {
        CloudWatchSettings {
            enabled: true,
            configuration_set: None,
            poll_interval: defaults::cw_poll(),
            settle: defaults::settle(),
        }
    }
}

mod defaults {
    use std::time::Duration;

    pub fn interval() -> Duration {
        Duration::from_secs(15 * 60)
    }
    pub fn timeout() -> Duration {
        Duration::from_secs(5 * 60)
    }
    pub fn imap_port() -> u16 {
        993
    }
    pub fn yes() -> bool {
        true
    }
    pub fn folders() -> Vec<String> {
        vec!["INBOX".to_string()]
    }
    pub fn poll_interval() -> Duration {
        Duration::from_secs(5)
    }
    pub fn max_connections() -> usize {
        8
    }
    pub fn pass() -> crate::authres::Requirement {
        crate::authres::Requirement::Pass
    }
    pub fn max_delivery() -> Duration {
        Duration::from_secs(120)
    }
    pub fn cw_poll() -> Duration {
        Duration::from_secs(30)
    }
    pub fn settle() -> Duration {
        Duration::from_secs(60)
    }
}

/// A duration written as humans do (`"90s"`, `"5m"`, `"500ms"`), for every settings file.
pub(crate) fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map_err(|e| {
        serde::de::Error::custom(format!("invalid duration {text:?} ({e}), expected e.g. \"90s\", \"5m\", \"1h\""))
    })
}

/// [`de_duration`] for an optional key.
pub(crate) fn de_opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    de_duration(d).map(Some)
}

/// Deserialises a settings file's text; a syntax or type error names `path`, line and column.
pub(crate) fn from_toml<T: serde::de::DeserializeOwned>(text: &str, path: &Path) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
        ConfigError::Syntax { path: path.to_path_buf(), line, column, message: e.message().to_string() }
    })
}

/// A problem with a probe file. Displays as `file:line: field: message` so editors can jump to it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}:{column}: {message}")]
    Syntax { path: PathBuf, line: usize, column: usize, message: String },
    #[error("{path}:{line}: {field}: {message}")]
    Invalid { path: PathBuf, line: usize, field: String, message: String },
    #[error("no probe file in {dir} has pool_id {pool_id:?} (hint: `probe validate {dir}` lists them)")]
    NoSuchPool { dir: PathBuf, pool_id: String },
    #[error("nothing to run: give --pool <POOL_ID>, --probe <NAME> or --config <FILE> (see probe --help)")]
    NothingToRun,
    #[error("no probe named {name:?} in {dir}")]
    NoSuchProbe { dir: PathBuf, name: String },
    #[error("cannot list probe directory {dir}: {source}")]
    Dir { dir: PathBuf, source: std::io::Error },
}

impl ProbeFile {
    /// Parses and validates one probe file's text. `path` is used for messages and the default name.
    pub fn parse(text: &str, path: &Path) -> Result<ProbeFile, ConfigError> {
        let mut probe: ProbeFile = from_toml(text, path)?;
        if probe.name.is_empty() {
            probe.name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        }
        probe.source = Some(path.to_path_buf());
        probe.alert_keys = text
            .parse::<toml::Table>()
            .ok()
            .and_then(|t| t.get("alert").and_then(|a| a.as_table()).map(|a| a.keys().cloned().collect()))
            .unwrap_or_default();
        probe.validate(text, path)?;
        Ok(probe)
    }

    /// Fills every `[alert]` key this file does not set from `defaults` (the `--alerts` file): thresholds
    /// key by key, and the channels as a whole — a file that lists channels (even `channels = []`) pages
    /// only through its own.
    pub fn apply_alert_defaults(&mut self, defaults: &crate::monitor::config::AlertSettings) {
        let own = |key: &str| self.alert_keys.iter().any(|k| k == key);
        let mut alert = defaults.clone();
        if own("failure_threshold") {
            alert.failure_threshold = self.alert.failure_threshold;
        }
        if own("success_threshold") {
            alert.success_threshold = self.alert.success_threshold;
        }
        if own("unknown_threshold") {
            alert.unknown_threshold = self.alert.unknown_threshold;
        }
        if own("reminder_interval") {
            alert.reminder_interval = self.alert.reminder_interval;
        }
        if own("warning_is_failure") {
            alert.warning_is_failure = self.alert.warning_is_failure;
        }
        if own("channels") {
            alert.channels = std::mem::take(&mut self.alert.channels);
        }
        self.alert = alert;
    }

    /// Reads and validates a probe file.
    pub fn load(path: &Path) -> Result<ProbeFile, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        Self::parse(&text, path)
    }

    /// Whether the pool is production: the `production` key when given, else whether the probe's name has
    /// a word `prod` or `production` (split on `-`, `_`, `.`, space), so `phenom-prod` is and `preprod` is not.
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

    /// Rules serde cannot express, each error pointing at the key's line.
    fn validate(&self, text: &str, path: &Path) -> Result<(), ConfigError> {
        let invalid = |field: &str, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            line: key_line(text, field),
            field: field.to_string(),
            message,
        };
        // Pool ids are `<region>_<9+ alphanumerics>` (Cognito UserPoolIdType pattern `[\w-]+_[0-9a-zA-Z]+`).
        match self.pool_id.split_once('_') {
            Some((region, id))
                if !region.is_empty()
                    && region.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !id.is_empty()
                    && id.chars().all(|c| c.is_ascii_alphanumeric()) => {}
            _ => {
                return Err(invalid(
                    "pool_id",
                    format!(
                        "{:?} is not a user pool id, expected <region>_<id> like \"us-east-1_knEL7cqS3\"",
                        self.pool_id
                    ),
                ));
            }
        }
        if self.username.trim().is_empty() {
            return Err(invalid("username", "is empty, expected the test user's username".into()));
        }
        if matches!(self.trigger, TriggerChoice::ForgotPassword | TriggerChoice::ResendConfirmationCode)
            && self.client_id.is_none()
        {
            return Err(invalid("trigger", format!("{:?} needs client_id (an app client of the pool)", self.trigger)));
        }
        if self.client_secret.is_some() && self.client_id.is_none() {
            return Err(invalid("client_secret", "given without client_id".into()));
        }
        if self.timeout.is_zero() {
            return Err(invalid("timeout", "must be longer than 0s".into()));
        }
        if self.interval < Duration::from_secs(10) {
            return Err(invalid("interval", format!("{:?} is too short, expected at least 10s", self.interval)));
        }
        match (&self.imap, &self.maildir) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "maildir",
                    "both [imap] and [maildir] are set, expected exactly one mailbox".into(),
                ));
            }
            (None, None) => {
                return Err(invalid("imap", "no mailbox: add an [imap] (or [maildir]) section".into()));
            }
            _ => {}
        }
        if let Some(imap) = &self.imap {
            if imap.host.trim().is_empty() {
                return Err(invalid("imap.host", "is empty".into()));
            }
            match imap.auth {
                ImapAuth::Login if imap.password.is_none() => {
                    return Err(invalid(
                        "imap.password",
                        "auth = \"login\" needs password = { env = \"…\" } or { file = \"…\" }".into(),
                    ));
                }
                ImapAuth::Xoauth2 if imap.token.is_none() => {
                    return Err(invalid(
                        "imap.token",
                        "auth = \"xoauth2\" needs token = { env | file | command = … }".into(),
                    ));
                }
                _ => {}
            }
            if imap.folders.is_empty() {
                return Err(invalid("imap.folders", "is empty, expected at least [\"INBOX\"]".into()));
            }
            if imap.poll_interval < Duration::from_millis(100) {
                return Err(invalid("imap.poll_interval", "is shorter than 100ms".into()));
            }
            if imap.max_connections == 0 {
                return Err(invalid(
                    "imap.max_connections",
                    "is 0, expected at least 1 (connections to this login the monitor may open at once)".into(),
                ));
            }
        }
        if let Err((field, message)) = self.alert.check() {
            return Err(invalid(field, message));
        }
        if let Some(url) = &self.aws.endpoint_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(invalid("aws.endpoint_url", format!("{url:?} is not an http(s) URL")));
        }
        Ok(())
    }
}

/// 1-based line and column of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    (line, column)
}

/// Line of a dotted key (`imap.password`) in a TOML text, or of its table, or 1 when absent.
pub(crate) fn key_line(text: &str, dotted: &str) -> usize {
    let Ok(doc) = toml_edit::ImDocument::parse(text) else { return 1 };
    let mut item: &toml_edit::Item = doc.as_item();
    let mut line = 1;
    for part in dotted.split('.') {
        let Some(next) = item.get(part) else { break };
        if let Some(span) = next.span() {
            line = line_col(text, span.start).0;
        } else if let Some((key, _)) = item.as_table_like().and_then(|t| t.get_key_value(part))
            && let Some(span) = key.span()
        {
            line = line_col(text, span.start).0;
        }
        item = next;
    }
    line
}

/// Loads every `*.toml` in `dir`, sorted by name; the first error stops nothing: all errors are returned.
pub fn load_dir(dir: &Path) -> Result<Vec<Result<ProbeFile, ConfigError>>, ConfigError> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| ConfigError::Dir { dir: dir.to_path_buf(), source })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    Ok(paths.iter().map(|p| ProbeFile::load(p)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
pool_id = "us-east-1_knEL7cqS3"
username = "probe-prod"

[imap]
host = "imap.example.net"
username = "probe@example.net"
password = { env = "PROBE_IMAP_PASSWORD" }
"#;

    #[test]
    fn production_is_the_key_else_a_prod_word_in_the_name() {
        // (file name, production key line, expected)
        let cases = [
            ("phenom-prod.toml", "", true),
            ("production.toml", "", true),
            ("prod_us.toml", "", true),
            ("phenom-preprod.toml", "", false),
            ("phenom-staging.toml", "", false),
            ("phenom-staging.toml", "production = true", true),
            ("phenom-prod.toml", "production = false", false),
        ];
        for (file, key, expected) in cases {
            let text = format!("{key}\n{MINIMAL}");
            let p = ProbeFile::parse(&text, Path::new(file)).unwrap();
            assert_eq!(p.is_production(), expected, "{file} {key:?}");
        }
    }

    #[test]
    fn alert_defaults_fill_only_the_keys_a_file_does_not_set() {
        use crate::alert::ChannelConfig;
        let defaults_text = "[alert]\nfailure_threshold = 5\nsuccess_threshold = 4\nreminder_interval = \"1h\"\n\
                             [[alert.channels]]\ntype = \"exec\"\ncommand = [\"/usr/local/bin/page\"]\n";
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.toml");
        std::fs::write(&path, defaults_text).unwrap();
        let defaults = crate::monitor::config::load_defaults(&path).unwrap();
        let exec = |c: &ChannelConfig| match c {
            ChannelConfig::Exec { command, .. } => command[0].clone(),
            other => panic!("{other:?}"),
        };
        // (case, the file's [alert] section, failure, success, channel programs); the reminder always inherited
        let cases: [(&str, &str, u32, u32, &[&str]); 4] = [
            ("no [alert]: everything from the defaults", "", 5, 4, &["/usr/local/bin/page"]),
            (
                "own threshold wins, the rest inherited",
                "[alert]\nfailure_threshold = 1\n",
                1,
                4,
                &["/usr/local/bin/page"],
            ),
            (
                "own channels replace the defaults' channels",
                "[alert]\n[[alert.channels]]\ntype = \"exec\"\ncommand = [\"/bin/own\"]\n",
                5,
                4,
                &["/bin/own"],
            ),
            ("channels = [] pages nobody", "[alert]\nchannels = []\nsuccess_threshold = 1\n", 5, 1, &[]),
        ];
        for (case, section, failure, success, channels) in cases {
            let mut p = ProbeFile::parse(&format!("{MINIMAL}\n{section}"), Path::new("p.toml")).unwrap();
            p.apply_alert_defaults(&defaults);
            assert_eq!(p.alert.failure_threshold, failure, "{case}");
            assert_eq!(p.alert.success_threshold, success, "{case}");
            assert_eq!(p.alert.reminder_interval, Some(Duration::from_secs(3600)), "{case}");
            assert_eq!(p.alert.channels.iter().map(exec).collect::<Vec<_>>(), channels, "{case}");
        }
    }

    #[test]
    fn a_bad_alert_defaults_file_names_file_line_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("[alert]\nsuccess_threshold = 2\nfailure_threshold = 0\n", "alerts.toml:3: alert.failure_threshold: is 0"),
            ("[alert]\nfailure_treshold = 2\n", "alerts.toml:2:1: unknown field `failure_treshold`"),
            ("pool_id = \"us-east-1_x\"\n", "alerts.toml:1:1: unknown field `pool_id`"),
            ("[alert]\n[[alert.channels]]\ntype = \"webhook\"\nurl = \"ftp://x\"\n", "alerts.toml:2: alert.channels:"),
        ];
        for (text, expected) in cases {
            let path = dir.path().join("alerts.toml");
            std::fs::write(&path, text).unwrap();
            let err = crate::monitor::config::load_defaults(&path).unwrap_err().to_string();
            let shown = err.replace(&format!("{}", dir.path().display()), "").trim_start_matches('/').to_string();
            assert!(shown.starts_with(expected), "{text:?}: got {shown:?}, expected {expected:?}…");
        }
    }

    #[test]
    fn minimal_file_gets_documented_defaults() {
        let p = ProbeFile::parse(MINIMAL, Path::new("probes/production.toml")).unwrap();
        assert_eq!(p.name, "production");
        assert_eq!(p.region(), "us-east-1");
        assert_eq!(p.trigger, TriggerChoice::Auto);
        assert_eq!(p.timeout, Duration::from_secs(300));
        let imap = p.imap.unwrap();
        assert_eq!((imap.port, imap.tls, imap.idle), (993, true, true));
        assert_eq!(imap.folders, vec!["INBOX"]);
        assert_eq!(imap.cleanup, Cleanup::Delete);
        assert_eq!(imap.max_connections, 8);
        assert!(p.expect.dkim_aligned && !p.expect.spf_aligned);
    }

    /// Each bad input and the `file:line: field` and words its error must carry.
    #[test]
    fn bad_files_fail_with_file_line_and_field() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "unknown key",
                &format!("{MINIMAL}\n[expect]\ndkimm = \"pass\"\n"),
                "probes/p.toml:11:1: unknown field `dkimm`",
            ),
            (
                "bad pool id",
                &MINIMAL.replace("us-east-1_knEL7cqS3", "knEL7cqS3"),
                "probes/p.toml:2: pool_id: \"knEL7cqS3\" is not a user pool id",
            ),
            (
                "bad duration",
                &format!("timeout = \"5 parsecs\"\n{MINIMAL}"),
                "probes/p.toml:1:11: invalid duration \"5 parsecs\"",
            ),
            (
                "password missing",
                &MINIMAL.replace("password = { env = \"PROBE_IMAP_PASSWORD\" }", ""),
                "probes/p.toml:5: imap.password: auth = \"login\" needs password",
            ),
            (
                "inline secret",
                &MINIMAL.replace("{ env = \"PROBE_IMAP_PASSWORD\" }", "\"hunter2\""),
                "probes/p.toml:8:12:",
            ),
            (
                "bad result",
                &format!("{MINIMAL}\n[expect]\ndmarc = \"passed\"\n"),
                "probes/p.toml:11:9: unknown variant `passed`, expected `pass` or `any`",
            ),
            (
                "forgot without client",
                &format!("trigger = \"forgot-password\"\n{MINIMAL}"),
                "probes/p.toml:1: trigger: ForgotPassword needs client_id",
            ),
            ("bad cleanup", &format!("{MINIMAL}cleanup = \"shred\"\n"), "invalid cleanup \"shred\""),
            (
                "no connections",
                &format!("{MINIMAL}max_connections = 0\n"),
                "probes/p.toml:9: imap.max_connections: is 0, expected at least 1",
            ),
        ];
        for (name, text, expected) in cases {
            let err = ProbeFile::parse(text, Path::new("probes/p.toml")).unwrap_err().to_string();
            assert!(err.contains(expected), "{name}: got {err:?}, expected it to contain {expected:?}");
        }
    }

    #[test]
    fn inline_secret_error_does_not_echo_the_value() {
        let text = MINIMAL.replace("{ env = \"PROBE_IMAP_PASSWORD\" }", "\"hunter2\"");
        let err = ProbeFile::parse(&text, Path::new("p.toml")).unwrap_err().to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn cleanup_forms() {
        let cases = [
            ("delete", Cleanup::Delete),
            ("keep", Cleanup::Keep),
            ("move:Probe/Done", Cleanup::MoveTo("Probe/Done".into())),
        ];
        for (text, expected) in cases {
            let v: Cleanup = serde_json::from_str(&format!("\"{text}\"")).unwrap();
            assert_eq!(v, expected);
        }
    }
}
