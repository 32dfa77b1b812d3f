//! Scenario files: the world the twin simulates — the AWS account and its SES state, SES identities with
//! their policies, configuration sets and their event destinations, SQS queues, the account suppression
//! list, CloudWatch Logs groups, user pools with clients, users and log delivery, other senders of the
//! account, the receiver's style, delivery rules and faults — read from TOML (`deny_unknown_fields`;
//! errors name the file, line and field). The default scenario, `crates/twin/scenarios/default.toml`,
//! models the runbook's account (seeds/) and is built into the binary; `busy.toml` is the same account as
//! a busy production account with sender-side evidence switched on (research/ses-events-oauth-emf.md).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::events::EventType;
use crate::faults::{FaultError, Faults};
use crate::mail::ReceiverStyle;

/// The built-in default scenario (`probe sandbox` without `--scenario`, `probe demo`, the tests).
pub const DEFAULT_SCENARIO: &str = include_str!("../scenarios/default.toml");

/// The built-in busy scenario: the default account with event publishing, Cognito's error logs, a
/// suppressed test address and other senders at 30 mails a minute.
pub const BUSY_SCENARIO: &str = include_str!("../scenarios/busy.toml");

/// A whole scenario file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub account: Account,
    #[serde(default)]
    pub delivery: Delivery,
    #[serde(default)]
    pub identities: Vec<Identity>,
    #[serde(default)]
    pub configuration_sets: Vec<ConfigurationSet>,
    #[serde(default)]
    pub queues: Vec<Queue>,
    #[serde(default)]
    pub suppressed_destinations: Vec<SuppressedDestination>,
    #[serde(default)]
    pub log_groups: Vec<LogGroup>,
    #[serde(default)]
    pub pools: Vec<Pool>,
    #[serde(default)]
    pub background: Background,
    #[serde(default)]
    pub faults: Faults,
}

/// An SES configuration set: what a pool's (or identity's) mail goes through, and where SES publishes
/// that mail's events (research/ses-events-oauth-emf.md §1 "Destinations and event types", "Cognito +
/// configuration set": "all of the rules in that configuration set are applied … Event publishing").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigurationSet {
    /// 1–64 characters `[a-zA-Z0-9_-]` (research §1, `EmailConfigurationType.ConfigurationSet`).
    pub name: String,
    #[serde(default)]
    pub event_destinations: Vec<EventDestination>,
}

/// SESv2 `EventDestination` (research §1): one destination kind, the event types it matches, enabled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventDestination {
    pub name: String,
    pub kind: DestinationKind,
    /// SESv2 `EventDestination.Enabled`; a disabled destination publishes nothing.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `eventbridge` and `sns`: the SQS queue the records end up in (an EventBridge rule on the default
    /// bus targeting the queue, or an SQS subscription of the topic).
    #[serde(default)]
    pub queue: Option<String>,
    /// `sns`: the topic's name (its ARN is in every notification); default: the destination's name.
    #[serde(default)]
    pub topic: Option<String>,
    /// `sns`: the subscription's RawMessageDelivery — the SQS body is the SES record itself.
    #[serde(default)]
    pub raw_message_delivery: bool,
    /// SESv2 `MatchingEventTypes`: SEND, REJECT, BOUNCE, COMPLAINT, DELIVERY, OPEN, CLICK,
    /// RENDERING_FAILURE, DELIVERY_DELAY, SUBSCRIPTION (research §1).
    pub matching_event_types: Vec<EventType>,
}

/// How SES publishes (research §1: CloudWatchDestination, EventBridgeDestination, SnsDestination).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DestinationKind {
    /// The default event bus (research §1: "Only the default bus is supported"), a rule → SQS.
    Eventbridge,
    /// An SNS topic with an SQS subscription.
    Sns,
    /// Fine-grained `AWS/SES` metrics with the `ses:configuration-set` dimension (research §3).
    Cloudwatch,
}

impl DestinationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DestinationKind::Eventbridge => "eventbridge",
            DestinationKind::Sns => "sns",
            DestinationKind::Cloudwatch => "cloudwatch",
        }
    }
}

/// A standard SQS queue of the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    /// Up to 80 characters `[A-Za-z0-9_-]` (SQS CreateQueue QueueName).
    pub name: String,
    /// The queue's default VisibilityTimeout: 0–43,200 s, 30 when not set (SQS CreateQueue attributes).
    #[serde(default = "default_visibility_timeout")]
    pub visibility_timeout_seconds: u32,
}

/// An address on the account-level suppression list (research/ses-events-oauth-emf.md §2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuppressedDestination {
    pub email: String,
    pub reason: SuppressionReason,
    /// RFC 3339, e.g. `"2026-11-20T08:00:00Z"`.
    pub last_update_time: DateTime<Utc>,
    /// The SES message whose bounce or complaint put the address on the list.
    #[serde(default)]
    pub message_id: Option<String>,
    #[serde(default)]
    pub feedback_id: Option<String>,
}

/// Why an address is suppressed (research §2: `Reason` BOUNCE|COMPLAINT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SuppressionReason {
    Bounce,
    Complaint,
}

impl SuppressionReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SuppressionReason::Bounce => "BOUNCE",
            SuppressionReason::Complaint => "COMPLAINT",
        }
    }

    /// `BOUNCE` or `COMPLAINT`, as SESv2 spells them.
    pub fn parse(s: &str) -> Option<SuppressionReason> {
        match s {
            "BOUNCE" => Some(SuppressionReason::Bounce),
            "COMPLAINT" => Some(SuppressionReason::Complaint),
            _ => None,
        }
    }
}

/// A CloudWatch Logs log group of the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogGroup {
    /// 1–512 characters `[.\-_/#A-Za-z0-9]` (CloudWatch Logs CreateLogGroup logGroupName).
    pub name: String,
}

/// A pool's message-delivery error logs (research §6: `SetLogDeliveryConfiguration`, EventSource
/// `userNotification`, LogLevel `ERROR`, a CloudWatch Logs destination).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogDelivery {
    /// `arn:aws:logs:<region>:<account>:log-group:<name>` of one of `[[log_groups]]`.
    pub log_group_arn: String,
}

/// Other senders of the account: the busy production account of DESIGN.md §3 ("On a busy production
/// account … it rises every minute whatever Cognito does").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Background {
    /// Mails per minute; 0 is off.
    pub rate_per_minute: u32,
    /// The sender: an address that is an identity of the scenario, or in a domain identity.
    pub from: Option<String>,
    /// The configuration set their mail goes through (its destinations then carry foreign records).
    pub configuration_set: Option<String>,
}

/// The AWS account and its SES account state (SESv2 GetAccount, research/aws.md §3.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    pub id: AccountId,
    pub region: Region,
    /// false: the SES sandbox, where mail goes only to verified identities (research/aws.md §3.2).
    #[serde(default = "yes")]
    pub production_access_enabled: bool,
    /// false: SES refuses every send from the account.
    #[serde(default = "yes")]
    pub sending_enabled: bool,
    #[serde(default = "default_max_24h")]
    pub max_24_hour_send: f64,
    #[serde(default = "default_max_rate")]
    pub max_send_rate: f64,
    /// COGNITO_DEFAULT mail allowed per account per day (research/aws.md §1.6: 50).
    #[serde(default = "default_cognito_quota")]
    pub cognito_default_daily_quota: u32,
}

/// How sent mail is received, and the per-user limits of research/aws.md §1.6.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Delivery {
    pub receiver: ReceiverStyle,
    /// Whether a DEVELOPER-mode send goes out when no identity policy lets Cognito send. The runbook
    /// (seeds/, "The two-piece gotcha") says it does not: "Cognito returns success at the API but SES
    /// silently denies". research/aws.md §0.2 reads the AWS docs as "the service-linked role suffices";
    /// set true to model that reading.
    pub developer_without_policy_delivers: bool,
    /// ForgotPassword/AdminResetUserPassword attempts per user per hour: 5–20 on AWS depending on risk
    /// (research/aws.md §1.6); the twin uses the low end by default.
    pub attempt_limit_per_hour: u32,
    /// ResendConfirmationCode per user per hour (research/aws.md §1.6: 5).
    pub resend_confirmation_limit_per_hour: u32,
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            receiver: ReceiverStyle::Gmail,
            developer_without_policy_delivers: false,
            attempt_limit_per_hour: 5,
            resend_confirmation_limit_per_hour: 5,
        }
    }
}

/// An SES identity (an email address or a domain) as SESv2 GetEmailIdentity shows it
/// (research/aws.md §3.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// `noreply@thephenom.app` or `thephenom.app`.
    pub identity: String,
    #[serde(default = "success")]
    pub verification_status: VerificationStatus,
    /// Domain of the Easy DKIM signature; absent means the identity is not DKIM-signed.
    #[serde(default)]
    pub dkim_domain: Option<String>,
    #[serde(default = "not_started")]
    pub dkim_status: VerificationStatus,
    /// Custom MAIL FROM domain; absent means SES's default (amazonses.com).
    #[serde(default)]
    pub mail_from_domain: Option<String>,
    #[serde(default = "success")]
    pub mail_from_status: VerificationStatus,
    #[serde(default)]
    pub behavior_on_mx_failure: MxFailure,
    /// Sending-authorization policies: name → policy JSON text.
    #[serde(default)]
    pub policies: BTreeMap<String, String>,
    #[serde(default)]
    pub configuration_set: Option<String>,
}

/// SES verification states (research/aws.md §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VerificationStatus {
    Pending,
    Success,
    Failed,
    TemporaryFailure,
    NotStarted,
}

impl VerificationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VerificationStatus::Pending => "PENDING",
            VerificationStatus::Success => "SUCCESS",
            VerificationStatus::Failed => "FAILED",
            VerificationStatus::TemporaryFailure => "TEMPORARY_FAILURE",
            VerificationStatus::NotStarted => "NOT_STARTED",
        }
    }
}

/// research/aws.md §3.1 `BehaviorOnMxFailure`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MxFailure {
    /// SES silently falls back to its own MAIL FROM domain.
    #[default]
    UseDefaultValue,
    /// SES refuses to send while the MAIL FROM domain is not verified.
    RejectMessage,
}

/// A Cognito user pool (research/aws.md §1.5).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pool {
    pub id: PoolId,
    pub name: String,
    /// Must equal the Region prefix of `id` when given.
    #[serde(default)]
    pub region: Option<Region>,
    pub email: EmailConfiguration,
    #[serde(default)]
    pub templates: Templates,
    /// AccountRecoverySetting mechanisms in priority order; absent means the legacy rule
    /// (research/aws.md §1.2: verified phone first, then verified email).
    #[serde(default)]
    pub account_recovery: Option<Vec<RecoveryMechanism>>,
    /// `email` lets the email address stand in for the username (UsernameAttributes).
    #[serde(default)]
    pub username_attributes: Vec<String>,
    #[serde(default)]
    pub clients: Vec<Client>,
    #[serde(default)]
    pub users: Vec<User>,
    /// Where Cognito writes this pool's message-delivery errors (GetLogDeliveryConfiguration).
    #[serde(default)]
    pub log_delivery: Option<LogDelivery>,
}

impl Pool {
    /// The pool's Region: the prefix of its id.
    pub fn region(&self) -> &str {
        self.id.region()
    }
}

/// EmailConfigurationType (research/aws.md §1.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfiguration {
    pub sending_account: SendingAccount,
    #[serde(default)]
    pub source_arn: Option<String>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub reply_to: Option<String>,
    #[serde(default)]
    pub configuration_set: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SendingAccount {
    #[serde(rename = "COGNITO_DEFAULT")]
    CognitoDefault,
    #[serde(rename = "DEVELOPER")]
    Developer,
}

impl SendingAccount {
    pub fn as_str(self) -> &'static str {
        match self {
            SendingAccount::CognitoDefault => "COGNITO_DEFAULT",
            SendingAccount::Developer => "DEVELOPER",
        }
    }
}

/// Message templates; the defaults are Cognito's own (issue 2 brief: invitation "Your temporary
/// password" / "Your username is {username} and temporary password is {####}. "; verification "Your
/// verification code" / "Your verification code is {####}. ").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Templates {
    pub invite_subject: String,
    pub invite_message: String,
    pub verification_subject: String,
    pub verification_message: String,
}

impl Default for Templates {
    fn default() -> Self {
        Templates {
            invite_subject: "Your temporary password".into(),
            invite_message: "Your username is {username} and temporary password is {####}. ".into(),
            verification_subject: "Your verification code".into(),
            verification_message: "Your verification code is {####}. ".into(),
        }
    }
}

/// RecoveryOptionType names (research/aws.md §1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryMechanism {
    VerifiedEmail,
    VerifiedPhoneNumber,
    AdminOnly,
}

impl RecoveryMechanism {
    pub fn as_str(self) -> &'static str {
        match self {
            RecoveryMechanism::VerifiedEmail => "verified_email",
            RecoveryMechanism::VerifiedPhoneNumber => "verified_phone_number",
            RecoveryMechanism::AdminOnly => "admin_only",
        }
    }
}

/// An app client. Its `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub secret: Option<String>,
    /// research/aws.md §1.1: LEGACY (the API default) reports unknown users; ENABLED simulates success.
    #[serde(default)]
    pub prevent_user_existence_errors: PreventUserExistenceErrors,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("prevent_user_existence_errors", &self.prevent_user_existence_errors)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PreventUserExistenceErrors {
    #[default]
    Legacy,
    Enabled,
}

impl PreventUserExistenceErrors {
    pub fn as_str(self) -> &'static str {
        match self {
            PreventUserExistenceErrors::Legacy => "LEGACY",
            PreventUserExistenceErrors::Enabled => "ENABLED",
        }
    }
}

/// A user as the scenario starts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub username: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: bool,
    #[serde(default)]
    pub phone_number: Option<String>,
    #[serde(default)]
    pub phone_number_verified: bool,
    pub status: UserStatus,
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// UserStatusType (research/aws.md §1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserStatus {
    Unconfirmed,
    Confirmed,
    Archived,
    Compromised,
    Unknown,
    ResetRequired,
    ForceChangePassword,
    ExternalProvider,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Unconfirmed => "UNCONFIRMED",
            UserStatus::Confirmed => "CONFIRMED",
            UserStatus::Archived => "ARCHIVED",
            UserStatus::Compromised => "COMPROMISED",
            UserStatus::Unknown => "UNKNOWN",
            UserStatus::ResetRequired => "RESET_REQUIRED",
            UserStatus::ForceChangePassword => "FORCE_CHANGE_PASSWORD",
            UserStatus::ExternalProvider => "EXTERNAL_PROVIDER",
        }
    }
}

/// A 12-digit AWS account id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountId(String);

impl AccountId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AccountId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(AccountId(s))
        } else {
            Err(format!("account id {s:?} is not valid; expected 12 digits like \"657033058608\""))
        }
    }
}

impl From<AccountId> for String {
    fn from(a: AccountId) -> String {
        a.0
    }
}

/// An AWS Region name such as `us-east-1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Region(String);

impl Region {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
        && parts.last().is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

impl TryFrom<String> for Region {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if is_region(&s) {
            Ok(Region(s))
        } else {
            Err(format!("region {s:?} is not valid; expected a name like \"us-east-1\""))
        }
    }
}

impl From<Region> for String {
    fn from(r: Region) -> String {
        r.0
    }
}

/// A user pool id: `<region>_<alphanumerics>`, the pattern Cognito validates (`[\w-]+_[0-9a-zA-Z]+`,
/// seen in its InvalidParameterException messages).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PoolId(String);

impl PoolId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn region(&self) -> &str {
        self.0.split_once('_').map_or("", |(r, _)| r)
    }
}

/// Whether `s` matches Cognito's user pool id pattern `[\w-]+_[0-9a-zA-Z]+`.
pub fn is_pool_id(s: &str) -> bool {
    match s.rsplit_once('_') {
        Some((region, rest)) => {
            !region.is_empty()
                && region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                && !rest.is_empty()
                && rest.bytes().all(|b| b.is_ascii_alphanumeric())
        }
        None => false,
    }
}

impl TryFrom<String> for PoolId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.split_once('_') {
            Some((region, _)) if is_pool_id(&s) && is_region(region) => Ok(PoolId(s)),
            _ => Err(format!(
                "user pool id {s:?} is not valid; expected <region>_<letters and digits> like \"us-east-1_knEL7cqS3\""
            )),
        }
    }
}

impl From<PoolId> for String {
    fn from(p: PoolId) -> String {
        p.0
    }
}

fn yes() -> bool {
    true
}
fn success() -> VerificationStatus {
    VerificationStatus::Success
}
fn not_started() -> VerificationStatus {
    VerificationStatus::NotStarted
}
fn default_max_24h() -> f64 {
    50000.0
}
fn default_max_rate() -> f64 {
    14.0
}
fn default_cognito_quota() -> u32 {
    50
}
fn default_visibility_timeout() -> u32 {
    30
}

/// A scenario that cannot be used: where it is and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}:{column}: {}{message}",
        field.as_ref().map(|f| format!("field `{f}`: ")).unwrap_or_default())]
    Syntax { path: PathBuf, line: usize, column: usize, field: Option<String>, message: String },
    #[error("{path}: field `{field}`: {message}")]
    Invalid { path: PathBuf, field: String, message: String },
}

impl Scenario {
    /// The built-in default scenario.
    pub fn default_scenario() -> Result<Scenario, ScenarioError> {
        Scenario::parse(DEFAULT_SCENARIO, Path::new("crates/twin/scenarios/default.toml"))
    }

    /// The built-in busy scenario (`crates/twin/scenarios/busy.toml`).
    pub fn busy_scenario() -> Result<Scenario, ScenarioError> {
        Scenario::parse(BUSY_SCENARIO, Path::new("crates/twin/scenarios/busy.toml"))
    }

    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ScenarioError::Read { path: path.to_path_buf(), source })?;
        Scenario::parse(&text, path)
    }

    /// Parses and validates scenario text; `path` only names the source in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
        let scenario: Scenario = toml::from_str(text).map_err(|err| {
            let (line, column, field) = match err.span() {
                Some(span) => locate(text, span.start),
                None => (0, 0, None),
            };
            ScenarioError::Syntax {
                path: path.to_path_buf(),
                line,
                column,
                field,
                message: err.message().trim().to_string(),
            }
        })?;
        scenario.validate().map_err(|(field, message)| ScenarioError::Invalid {
            path: path.to_path_buf(),
            field,
            message,
        })?;
        Ok(scenario)
    }

    /// Checks what the types cannot: uniqueness, Region consistency, identity references, faults.
    fn validate(&self) -> Result<(), (String, String)> {
        let mut seen_ids = std::collections::HashSet::new();
        for (i, identity) in self.identities.iter().enumerate() {
            if identity.identity.is_empty() || !seen_ids.insert(identity.identity.to_ascii_lowercase()) {
                return Err((
                    format!("identities[{i}].identity"),
                    format!("{:?} is empty or listed twice; expected a unique address or domain", identity.identity),
                ));
            }
            for (name, text) in &identity.policies {
                if let Err(err) = serde_json::from_str::<serde_json::Value>(text) {
                    return Err((
                        format!("identities[{i}].policies.{name}"),
                        format!("not valid JSON ({err}); expected a policy document"),
                    ));
                }
            }
        }
        let mut pool_ids = std::collections::HashSet::new();
        let mut client_ids = std::collections::HashSet::new();
        for (i, pool) in self.pools.iter().enumerate() {
            if !pool_ids.insert(pool.id.as_str()) {
                return Err((
                    format!("pools[{i}].id"),
                    format!("{:?} is listed twice; expected unique pool ids", pool.id.as_str()),
                ));
            }
            if let Some(region) = &pool.region
                && region.as_str() != pool.id.region()
            {
                return Err((
                    format!("pools[{i}].region"),
                    format!("{:?} differs from the id's Region {:?}", region.as_str(), pool.id.region()),
                ));
            }
            let email = &pool.email;
            if email.sending_account == SendingAccount::Developer && email.source_arn.is_none() {
                return Err((
                    format!("pools[{i}].email.source_arn"),
                    "missing; DEVELOPER mode needs the ARN of an SES identity".into(),
                ));
            }
            if let Some(arn) = &email.source_arn {
                let Some(name) = identity_name_from_arn(arn) else {
                    return Err((
                        format!("pools[{i}].email.source_arn"),
                        format!(
                            "{arn:?} is not an SES identity ARN; expected \
                                arn:aws:ses:<region>:<account>:identity/<name>"
                        ),
                    ));
                };
                if self.identity(name).is_none() {
                    return Err((
                        format!("pools[{i}].email.source_arn"),
                        format!("names identity {name:?}, which is not among [[identities]]"),
                    ));
                }
            }
            for (j, client) in pool.clients.iter().enumerate() {
                if client.id.is_empty() || !client_ids.insert(client.id.as_str()) {
                    return Err((
                        format!("pools[{i}].clients[{j}].id"),
                        format!("{:?} is empty or listed twice; expected unique client ids", client.id),
                    ));
                }
            }
            let mut names = std::collections::HashSet::new();
            for (j, user) in pool.users.iter().enumerate() {
                if user.username.is_empty() || !names.insert(user.username.as_str()) {
                    return Err((
                        format!("pools[{i}].users[{j}].username"),
                        format!("{:?} is empty or listed twice in the pool", user.username),
                    ));
                }
            }
        }
        self.validate_sender_evidence()?;
        self.faults.validate().map_err(|e: FaultError| ("faults".to_string(), e.to_string()))
    }

    /// Checks configuration sets, queues, the suppression list, log groups, the pools' references to
    /// them and the background senders.
    fn validate_sender_evidence(&self) -> Result<(), (String, String)> {
        let queues = self.validate_queues()?;
        self.validate_configuration_sets(&queues)?;
        self.validate_suppressed()?;
        let groups = self.validate_log_groups()?;
        self.validate_evidence_references(&groups)?;
        self.validate_background()
    }

    fn validate_queues(&self) -> Result<std::collections::HashSet<&str>, (String, String)> {
        let mut queues = std::collections::HashSet::new();
        for (i, q) in self.queues.iter().enumerate() {
            // SQS CreateQueue: "up to 80 characters … alphanumeric characters, hyphens (-), and underscores (_)".
            if !name_ok(&q.name, 80, |c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                || !queues.insert(q.name.as_str())
            {
                return Err((
                    format!("queues[{i}].name"),
                    format!("{:?} is listed twice or is not 1–80 characters [A-Za-z0-9_-]", q.name),
                ));
            }
            if q.visibility_timeout_seconds > 43_200 {
                return Err((
                    format!("queues[{i}].visibility_timeout_seconds"),
                    format!("{} is over 43200 (12 hours), the most SQS allows", q.visibility_timeout_seconds),
                ));
            }
        }
        Ok(queues)
    }

    fn validate_configuration_sets(&self, queues: &std::collections::HashSet<&str>) -> Result<(), (String, String)> {
        let mut sets = std::collections::HashSet::new();
        for (i, set) in self.configuration_sets.iter().enumerate() {
            // research §1 (EmailConfigurationType.ConfigurationSet): 1–64 chars `^[a-zA-Z0-9_-]+$`.
            let set_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
            if !name_ok(&set.name, 64, set_char) || !sets.insert(set.name.as_str()) {
                return Err((
                    format!("configuration_sets[{i}].name"),
                    format!("{:?} is listed twice or is not 1–64 characters [a-zA-Z0-9_-]", set.name),
                ));
            }
            let mut names = std::collections::HashSet::new();
            for (j, d) in set.event_destinations.iter().enumerate() {
                let at = |field: &str| format!("configuration_sets[{i}].event_destinations[{j}].{field}");
                if !name_ok(&d.name, 64, set_char) || !names.insert(d.name.as_str()) {
                    return Err((
                        at("name"),
                        format!("{:?} is listed twice in the set or is not 1–64 characters [a-zA-Z0-9_-]", d.name),
                    ));
                }
                if d.matching_event_types.is_empty() {
                    return Err((at("matching_event_types"), "empty; SES needs at least one event type".into()));
                }
                match (d.kind, &d.queue) {
                    (DestinationKind::Cloudwatch, Some(q)) => {
                        return Err((
                            at("queue"),
                            format!("{q:?}: a cloudwatch destination publishes metrics, not records"),
                        ));
                    }
                    (DestinationKind::Eventbridge | DestinationKind::Sns, None) => {
                        return Err((
                            at("queue"),
                            format!("missing; a {} destination needs the queue its records land in", d.kind.as_str()),
                        ));
                    }
                    (_, Some(q)) if !queues.contains(q.as_str()) => {
                        return Err((at("queue"), format!("names queue {q:?}, which is not among [[queues]]")));
                    }
                    _ => {}
                }
                if d.kind != DestinationKind::Sns && (d.raw_message_delivery || d.topic.is_some()) {
                    return Err((
                        at(if d.topic.is_some() { "topic" } else { "raw_message_delivery" }),
                        format!(
                            "only an sns destination has a topic and raw message delivery, not {}",
                            d.kind.as_str()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn validate_suppressed(&self) -> Result<(), (String, String)> {
        let mut suppressed = std::collections::HashSet::new();
        for (i, d) in self.suppressed_destinations.iter().enumerate() {
            if !d.email.contains('@') || !suppressed.insert(d.email.to_ascii_lowercase()) {
                return Err((
                    format!("suppressed_destinations[{i}].email"),
                    format!("{:?} is listed twice or is not an email address", d.email),
                ));
            }
        }
        Ok(())
    }

    fn validate_log_groups(&self) -> Result<std::collections::HashSet<&str>, (String, String)> {
        let mut groups = std::collections::HashSet::new();
        for (i, g) in self.log_groups.iter().enumerate() {
            let group_char = |c: char| c.is_ascii_alphanumeric() || "._-/#".contains(c);
            if !name_ok(&g.name, 512, group_char) || !groups.insert(g.name.as_str()) {
                return Err((
                    format!("log_groups[{i}].name"),
                    format!("{:?} is listed twice or is not 1–512 characters [.-_/#A-Za-z0-9]", g.name),
                ));
            }
        }
        Ok(groups)
    }

    /// The identities' and pools' configuration sets and the pools' log groups exist.
    fn validate_evidence_references(&self, groups: &std::collections::HashSet<&str>) -> Result<(), (String, String)> {
        let known_set = |name: &str| self.configuration_sets.iter().any(|s| s.name == name);
        for (i, identity) in self.identities.iter().enumerate() {
            if let Some(cs) = &identity.configuration_set
                && !known_set(cs)
            {
                return Err((
                    format!("identities[{i}].configuration_set"),
                    format!("names {cs:?}, which is not among [[configuration_sets]]"),
                ));
            }
        }
        for (i, pool) in self.pools.iter().enumerate() {
            if let Some(cs) = &pool.email.configuration_set
                && !known_set(cs)
            {
                return Err((
                    format!("pools[{i}].email.configuration_set"),
                    format!("names {cs:?}, which is not among [[configuration_sets]]"),
                ));
            }
            if let Some(delivery) = &pool.log_delivery {
                match LogGroupArn::parse(&delivery.log_group_arn) {
                    Some(arn) if arn.account == self.account.id.as_str() && groups.contains(arn.name) => {}
                    Some(arn) if arn.account != self.account.id.as_str() => {
                        return Err((
                            format!("pools[{i}].log_delivery.log_group_arn"),
                            format!("account {:?} is not the scenario's {:?}", arn.account, self.account.id.as_str()),
                        ));
                    }
                    Some(arn) => {
                        return Err((
                            format!("pools[{i}].log_delivery.log_group_arn"),
                            format!("names log group {:?}, which is not among [[log_groups]]", arn.name),
                        ));
                    }
                    None => {
                        return Err((
                            format!("pools[{i}].log_delivery.log_group_arn"),
                            format!(
                                "{:?} is not a log group ARN; expected \
                                    arn:aws:logs:<region>:<account>:log-group:<name>",
                                delivery.log_group_arn
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    fn validate_background(&self) -> Result<(), (String, String)> {
        let known_set = |name: &str| self.configuration_sets.iter().any(|s| s.name == name);
        let b = &self.background;
        if let Some(cs) = &b.configuration_set
            && !known_set(cs)
        {
            return Err((
                "background.configuration_set".into(),
                format!("names {cs:?}, which is not among [[configuration_sets]]"),
            ));
        }
        match &b.from {
            None if b.rate_per_minute > 0 => {
                return Err(("background.from".into(), "missing; background mail needs a sender".into()));
            }
            Some(from) if self.sending_identity(from).is_none() => {
                return Err((
                    "background.from".into(),
                    format!("{from:?} is neither an identity of [[identities]] nor an address in a domain identity"),
                ));
            }
            _ => {}
        }
        Ok(())
    }

    /// The identity an address sends as: the address identity, else its domain's identity.
    pub fn sending_identity(&self, address: &str) -> Option<&Identity> {
        let domain = address.rsplit_once('@').map(|(_, d)| d)?;
        self.identity(address).or_else(|| self.identity(domain))
    }

    /// The configuration set with this name.
    pub fn configuration_set(&self, name: &str) -> Option<&ConfigurationSet> {
        self.configuration_sets.iter().find(|s| s.name == name)
    }

    /// The identity with this name (case-insensitive, as SES identities are).
    pub fn identity(&self, name: &str) -> Option<&Identity> {
        self.identities.iter().find(|i| i.identity.eq_ignore_ascii_case(name))
    }

    /// ARN of an identity in this account (research/aws.md §3.1 form).
    pub fn identity_arn(&self, identity: &Identity) -> String {
        format!(
            "arn:aws:ses:{}:{}:identity/{}",
            self.account.region.as_str(),
            self.account.id.as_str(),
            identity.identity
        )
    }

    /// ARN of a pool in this account.
    pub fn pool_arn(&self, pool: &Pool) -> String {
        format!("arn:aws:cognito-idp:{}:{}:userpool/{}", pool.region(), self.account.id.as_str(), pool.id.as_str())
    }
}

/// The parts of an SES identity ARN, `arn:<partition>:ses:<region>:<account>:identity/<name>`
/// (research/aws.md §3.1: "Take the identity name from `SourceArn`
/// (`arn:aws:ses:<region>:<acct>:identity/<name>`)").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SesIdentityArn<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    /// An email address or a domain (research/aws.md §1.5 `SourceArn`).
    pub name: &'a str,
}

impl<'a> SesIdentityArn<'a> {
    /// `None` unless `arn` has all six parts, the `ses` service, the `identity/` resource type and no
    /// empty region, account or name.
    pub fn parse(arn: &'a str) -> Option<SesIdentityArn<'a>> {
        let rest = arn.strip_prefix("arn:")?;
        let (partition, rest) = rest.split_once(':')?;
        let rest = rest.strip_prefix("ses:")?;
        let (region, rest) = rest.split_once(':')?;
        let (account, resource) = rest.split_once(':')?;
        let name = resource.strip_prefix("identity/")?;
        let parts = [partition, region, account, name];
        parts.iter().all(|p| !p.is_empty()).then_some(SesIdentityArn { partition, region, account, name })
    }
}

/// The parts of a CloudWatch Logs log group ARN, `arn:<partition>:logs:<region>:<account>:log-group:<name>`,
/// optionally ending in `:*` as DescribeLogGroups' `arn` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogGroupArn<'a> {
    pub region: &'a str,
    pub account: &'a str,
    pub name: &'a str,
}

impl<'a> LogGroupArn<'a> {
    pub fn parse(arn: &'a str) -> Option<LogGroupArn<'a>> {
        let rest = arn.strip_prefix("arn:")?;
        let (_partition, rest) = rest.split_once(':')?;
        let rest = rest.strip_prefix("logs:")?;
        let (region, rest) = rest.split_once(':')?;
        let (account, resource) = rest.split_once(':')?;
        let name = resource.strip_prefix("log-group:")?;
        let name = name.strip_suffix(":*").unwrap_or(name);
        [region, account, name].iter().all(|p| !p.is_empty()).then_some(LogGroupArn { region, account, name })
    }
}

/// Whether `name` is 1..=`max` characters, each allowed by `ok`.
fn name_ok(name: &str, max: usize, ok: impl Fn(char) -> bool) -> bool {
    !name.is_empty() && name.chars().count() <= max && name.chars().all(ok)
}

/// The identity name inside an SES identity ARN (research/aws.md §3.1: take it from SourceArn).
pub fn identity_name_from_arn(arn: &str) -> Option<&str> {
    SesIdentityArn::parse(arn).map(|a| a.name)
}

/// Line and column (1-based) of byte `offset`, and the dotted field written on that line, if any
/// (`pools.users.status`: the enclosing table header plus the key).
fn locate(text: &str, offset: usize) -> (usize, usize, Option<String>) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    let line_text = text[line_start..].lines().next().unwrap_or("");
    let key = line_text
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_string())
        .filter(|k| !k.is_empty() && !k.starts_with('[') && !k.contains(' '));
    let table = before[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    let field = key.map(|key| match table {
        Some(t) if !t.is_empty() => format!("{t}.{key}"),
        _ => key,
    });
    (line, column, field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_scenario_models_the_runbook() {
        let s = Scenario::default_scenario().unwrap();
        assert_eq!(s.account.id.as_str(), "657033058608");
        let names: Vec<&str> = s.pools.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["phenom-prod", "phenom-staging", "phenom-dev-local", "phenom-legacy"]);
        assert_eq!(s.pools[3].email.sending_account, SendingAccount::CognitoDefault, "a pool left on COGNITO_DEFAULT");
        let prod = &s.pools[0];
        assert_eq!(prod.id.as_str(), "us-east-1_knEL7cqS3");
        assert_eq!(prod.email.from.as_deref(), Some("Phenom <noreply@thephenom.app>"));
        let identity = s.identity("noreply@thephenom.app").unwrap();
        assert!(identity.policies.contains_key("AllowCognitoUserPoolsToSend"));
        let statuses: std::collections::HashSet<UserStatus> = prod.users.iter().map(|u| u.status).collect();
        for status in [
            UserStatus::ForceChangePassword,
            UserStatus::Confirmed,
            UserStatus::ResetRequired,
            UserStatus::Unconfirmed,
            UserStatus::ExternalProvider,
        ] {
            assert!(statuses.contains(&status), "{status:?}");
        }
        assert!(prod.users.iter().any(|u| !u.enabled));
        assert!(prod.clients.iter().any(|c| c.secret.is_some()) && prod.clients.iter().any(|c| c.secret.is_none()));
    }

    #[test]
    fn bad_scenarios_name_line_and_field() {
        let base = "[account]\nid = \"657033058608\"\nregion = \"us-east-1\"\n";
        let cases: &[(&str, String, &str)] = &[
            (
                "unknown field",
                format!("{base}colour = \"red\"\n"),
                "x.toml:4:1: field `account.colour`: unknown field `colour`, expected one of `id`",
            ),
            (
                "wrong type",
                format!("{base}sending_enabled = \"yes\"\n"),
                "x.toml:4:19: field `account.sending_enabled`: invalid type",
            ),
            (
                "bad account id",
                "[account]\nid = \"12\"\nregion = \"us-east-1\"\n".into(),
                "x.toml:2:6: field `account.id`: account id \"12\" is not valid; expected 12 digits",
            ),
            (
                "bad pool id",
                format!(
                    "{base}[[pools]]\nid = \"knEL7cqS3\"\nname = \"p\"\nemail = {{ sending_account = \
                        \"COGNITO_DEFAULT\" }}\n"
                ),
                "x.toml:5:6: field `pools.id`: user pool id \"knEL7cqS3\" is not valid",
            ),
            (
                "bad user status",
                format!(
                    "{base}[[pools]]\nid = \"us-east-1_a1\"\nname = \"p\"\nemail = {{ sending_account = \
                        \"COGNITO_DEFAULT\" }}\n[[pools.users]]\nusername = \"u\"\nstatus = \"ACTIVE\"\n"
                ),
                "x.toml:10:10: field `pools.users.status`: unknown variant `ACTIVE`, expected one of",
            ),
            (
                "developer without identity",
                format!(
                    "{base}[[pools]]\nid = \"us-east-1_a1\"\nname = \"p\"\nemail = {{ sending_account = \
                        \"DEVELOPER\", source_arn = \"arn:aws:ses:us-east-1:657033058608:identity/x.example\" }}\n"
                ),
                "x.toml: field `pools[0].email.source_arn`: names identity \"x.example\", which is not among \
                    [[identities]]",
            ),
        ];
        for (name, text, want) in cases {
            let err = Scenario::parse(text, Path::new("x.toml")).unwrap_err().to_string();
            assert!(err.starts_with(want), "{name}: got {err:?}, want prefix {want:?}");
        }
    }

    #[test]
    fn bad_sender_evidence_names_the_field() {
        let cases: &[(&str, &str, &str, &str)] = &[
            (
                "destination into an unknown queue",
                "queue = \"cognito-probe-ses-events\"\nmatching",
                "queue = \"nope\"\nmatching",
                "field `configuration_sets[0].event_destinations[0].queue`: names queue \"nope\"",
            ),
            (
                "cloudwatch destination with a queue",
                "kind = \"cloudwatch\"",
                "kind = \"cloudwatch\"\nqueue = \"cognito-probe-ses-events\"",
                "field `configuration_sets[0].event_destinations[1].queue`",
            ),
            (
                "pool in an unknown set",
                "configuration_set = \"cognito-mail\"\n\n[pools.log_delivery]",
                "configuration_set = \"other\"\n\n[pools.log_delivery]",
                "field `pools[0].email.configuration_set`: names \"other\"",
            ),
            (
                "log delivery to a group not listed",
                "log-group:/aws/cognito/userpools/phenom-prod/notifications\"",
                "log-group:/elsewhere\"",
                "field `pools[0].log_delivery.log_group_arn`: names log group \"/elsewhere\"",
            ),
            (
                "background sender that is no identity",
                "from = \"news@thephenom.app\"",
                "from = \"news@elsewhere.example\"",
                "field `background.from`",
            ),
            (
                "unknown event type",
                "\"DELIVERY_DELAY\"]\n\n[[configuration_sets.event_destinations]]",
                "\"DELAYED\"]\n\n[[configuration_sets.event_destinations]]",
                "x.toml:",
            ),
        ];
        for (name, from, to, want) in cases {
            assert!(BUSY_SCENARIO.contains(from), "{name}: the busy scenario has {from:?}");
            let text = BUSY_SCENARIO.replacen(from, to, 1);
            let err = Scenario::parse(&text, Path::new("x.toml")).unwrap_err().to_string();
            assert!(err.contains(want), "{name}: got {err:?}, want {want:?}");
        }
    }

    #[test]
    fn pool_id_pattern_cases() {
        let cases = [
            ("us-east-1_knEL7cqS3", true),
            ("us-east-1_", false),
            ("knEL7cqS3", false),
            ("us-east-1_ab-c", false),
            ("eu_west_1_abc", true),
        ];
        for (id, want) in cases {
            assert_eq!(is_pool_id(id), want, "{id}");
        }
    }

    #[test]
    fn ses_identity_arn_cases() {
        let ok = |partition, region, account, name| Some(SesIdentityArn { partition, region, account, name });
        let cases = [
            (
                "arn:aws:ses:us-east-1:657033058608:identity/noreply@thephenom.app",
                ok("aws", "us-east-1", "657033058608", "noreply@thephenom.app"),
            ),
            ("arn:aws-cn:ses:cn-north-1:1:identity/example.cn", ok("aws-cn", "cn-north-1", "1", "example.cn")),
            (
                "arn:aws:ses:eu-west-1:657033058608:identity/thephenom.app",
                ok("aws", "eu-west-1", "657033058608", "thephenom.app"),
            ),
            ("arn:aws:ses:us-east-1:657033058608:configuration-set/cognito-mail", None),
            ("arn:aws:sns:us-east-1:657033058608:identity/x", None),
            ("arn:aws:ses::657033058608:identity/x", None),
            ("arn:aws:ses:us-east-1::identity/x", None),
            ("arn:aws:ses:us-east-1:657033058608:identity/", None),
            ("noreply@thephenom.app", None),
            ("", None),
        ];
        for (arn, want) in cases {
            assert_eq!(SesIdentityArn::parse(arn), want, "{arn:?}");
        }
    }

    #[test]
    fn client_debug_hides_the_secret() {
        let c = Client {
            id: "c".into(),
            name: "n".into(),
            secret: Some("s3cr3t-value".into()),
            prevent_user_existence_errors: PreventUserExistenceErrors::Enabled,
        };
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("s3cr3t-value") && dbg.contains("<redacted>"), "{dbg}");
    }
}
