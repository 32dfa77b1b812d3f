//! The trigger rule: which Cognito call makes the mail for a test user in a given state (DESIGN.md §2,
//! research/aws.md §1.1–§1.4), and how often it may run (§1.6). One home for both, used by the probe run
//! and by `probe doctor`, so the two can never disagree. Pure: the tables are tested case by case.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::cognito::{User, UserStatus};

/// The `trigger` key of a probe file: `auto` chooses by user status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
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

impl TriggerChoice {
    /// As written in the probe file.
    pub fn name(self) -> &'static str {
        match self {
            TriggerChoice::Auto => "auto",
            TriggerChoice::Resend => "resend",
            TriggerChoice::ForgotPassword => "forgot-password",
            TriggerChoice::AdminResetUserPassword => "admin-reset-user-password",
            TriggerChoice::ResendConfirmationCode => "resend-confirmation-code",
        }
    }

    /// Whether the choice names a call that needs an app client (`client_id`).
    pub fn needs_client(self) -> bool {
        matches!(self, TriggerChoice::ForgotPassword | TriggerChoice::ResendConfirmationCode)
    }
}

/// Which Cognito call makes the mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// AdminCreateUser MessageAction=RESEND, `DesiredDeliveryMediums=[EMAIL]` (aws.md §1.4).
    Resend,
    /// ForgotPassword (aws.md §1.2).
    ForgotPassword,
    /// AdminResetUserPassword (aws.md §1.3).
    AdminResetUserPassword,
    /// ResendConfirmationCode (aws.md §1.1, UNCONFIRMED).
    ResendConfirmationCode,
}

impl Trigger {
    /// The AWS operation name, as it appears in CloudTrail and error messages.
    pub fn operation(self) -> &'static str {
        match self {
            Trigger::Resend => "AdminCreateUser",
            Trigger::ForgotPassword => "ForgotPassword",
            Trigger::AdminResetUserPassword => "AdminResetUserPassword",
            Trigger::ResendConfirmationCode => "ResendConfirmationCode",
        }
    }

    /// Documented per-user hourly attempt limit, when there is one (aws.md §1.6): ForgotPassword and
    /// AdminResetUserPassword 5–20 (the low end counts), ResendConfirmationCode 5, RESEND none.
    pub fn hourly_limit(self) -> Option<u32> {
        match self {
            Trigger::Resend => None,
            Trigger::ForgotPassword | Trigger::AdminResetUserPassword | Trigger::ResendConfirmationCode => Some(5),
        }
    }

    /// ForgotPassword and AdminResetUserPassword need a verified email, or Cognito answers
    /// InvalidParameterException (aws.md §1.1); RESEND and ResendConfirmationCode need only an address
    /// (§1.4; an UNCONFIRMED user's email is unverified by definition).
    pub fn needs_verified_email(self) -> bool {
        matches!(self, Trigger::ForgotPassword | Trigger::AdminResetUserPassword)
    }
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Trigger::Resend => f.write_str("AdminCreateUser RESEND"),
            other => f.write_str(other.operation()),
        }
    }
}

/// Why no call can make a mail for this user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A disabled user gets no mail from any trigger (aws.md §1.1: "User is disabled.").
    Disabled,
    /// EXTERNAL_PROVIDER has no pool password; ARCHIVED/COMPROMISED/UNKNOWN are "no longer used" (§1.1).
    NoTriggerForStatus(UserStatus),
    /// The call needs an app client and the probe file names none.
    NeedsClient { status: UserStatus, call: Trigger },
    /// The call needs `email_verified = true`.
    NeedsVerifiedEmail(Trigger),
    /// The user has no email attribute.
    NoEmail,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Disabled => f.write_str("the user is disabled"),
            Refusal::NoTriggerForStatus(status) => write!(f, "status {status} has no mail trigger"),
            Refusal::NeedsClient { status, call } => {
                write!(f, "user status {status} needs {call}, which needs client_id in the probe file")
            }
            Refusal::NeedsVerifiedEmail(call) => write!(f, "{call} needs email_verified = true"),
            Refusal::NoEmail => f.write_str("no email attribute"),
        }
    }
}

/// The call for this user, or why no call can make a mail.
pub fn choose(choice: TriggerChoice, user: &User, has_client: bool) -> Result<Trigger, Refusal> {
    if !user.enabled {
        return Err(Refusal::Disabled);
    }
    let needs_client = |call: Trigger| {
        if has_client { Ok(call) } else { Err(Refusal::NeedsClient { status: user.status.clone(), call }) }
    };
    let call = match choice {
        TriggerChoice::Resend => Trigger::Resend,
        TriggerChoice::ForgotPassword => needs_client(Trigger::ForgotPassword)?,
        TriggerChoice::AdminResetUserPassword => Trigger::AdminResetUserPassword,
        TriggerChoice::ResendConfirmationCode => needs_client(Trigger::ResendConfirmationCode)?,
        TriggerChoice::Auto => match &user.status {
            // RESEND: no per-user hourly limit — the preferred probe state (aws.md §1.4).
            UserStatus::ForceChangePassword => Trigger::Resend,
            // ForgotPassword when an app client is configured (no IAM needed), else the admin call (§1.2, §1.3).
            UserStatus::Confirmed if has_client => Trigger::ForgotPassword,
            UserStatus::Confirmed => Trigger::AdminResetUserPassword,
            // ForgotPassword is how a RESET_REQUIRED user completes the reset (§1.1).
            UserStatus::ResetRequired => needs_client(Trigger::ForgotPassword)?,
            UserStatus::Unconfirmed => needs_client(Trigger::ResendConfirmationCode)?,
            other => return Err(Refusal::NoTriggerForStatus(other.clone())),
        },
    };
    match (&user.email, user.email_verified) {
        (None, _) => Err(Refusal::NoEmail),
        (Some(_), false) if call.needs_verified_email() => Err(Refusal::NeedsVerifiedEmail(call)),
        _ => Ok(call),
    }
}

/// The shortest interval at which a trigger with a per-user hourly limit may run: research/aws.md §1.6,
/// "Use ≥ 15 min per user for ForgotPassword/AdminResetUserPassword" (5–20 attempts an hour, and the
/// low end counts; 15 minutes leaves room for a manual run).
pub const MIN_LIMITED_INTERVAL: Duration = Duration::from_secs(15 * 60);

/// How a probe's interval fits its trigger's per-user hourly limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    /// The call has no per-user limit (RESEND).
    Unlimited,
    /// At least [`MIN_LIMITED_INTERVAL`] apart.
    Within { limit: u32, per_hour: f64 },
    /// More often than [`MIN_LIMITED_INTERVAL`]: runs risk LimitExceededException.
    TooFrequent { limit: u32, per_hour: f64 },
}

/// The rate rule for `call` run every `interval`.
pub fn rate(call: Trigger, interval: Duration) -> Rate {
    let per_hour = 3600.0 / interval.as_secs_f64().max(1.0);
    match call.hourly_limit() {
        None => Rate::Unlimited,
        Some(limit) if interval < MIN_LIMITED_INTERVAL => Rate::TooFrequent { limit, per_hour },
        Some(limit) => Rate::Within { limit, per_hour },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(status: &str, enabled: bool, verified: bool) -> User {
        User {
            username: "probe".into(),
            status: UserStatus::from_aws(status),
            enabled,
            email: Some("probe@mail.test".into()),
            email_verified: verified,
        }
    }

    fn refusal(r: &Refusal) -> &'static str {
        match r {
            Refusal::Disabled => "disabled",
            Refusal::NoTriggerForStatus(_) => "no trigger",
            Refusal::NeedsClient { .. } => "needs client",
            Refusal::NeedsVerifiedEmail(_) => "needs verified",
            Refusal::NoEmail => "no email",
        }
    }

    /// (status, enabled, email_verified, has_client, choice) → call or refusal.
    #[test]
    #[allow(clippy::type_complexity)] // a case table reads best as tuples
    fn trigger_table() {
        use TriggerChoice::*;
        let cases: &[(&str, bool, bool, bool, TriggerChoice, Result<Trigger, &str>)] = &[
            ("FORCE_CHANGE_PASSWORD", true, false, false, Auto, Ok(Trigger::Resend)),
            ("FORCE_CHANGE_PASSWORD", true, true, true, Auto, Ok(Trigger::Resend)),
            ("CONFIRMED", true, true, true, Auto, Ok(Trigger::ForgotPassword)),
            ("CONFIRMED", true, true, false, Auto, Ok(Trigger::AdminResetUserPassword)),
            ("CONFIRMED", true, false, true, Auto, Err("needs verified")),
            ("RESET_REQUIRED", true, true, true, Auto, Ok(Trigger::ForgotPassword)),
            ("RESET_REQUIRED", true, true, false, Auto, Err("needs client")),
            ("UNCONFIRMED", true, false, true, Auto, Ok(Trigger::ResendConfirmationCode)),
            ("UNCONFIRMED", true, false, false, Auto, Err("needs client")),
            ("EXTERNAL_PROVIDER", true, true, true, Auto, Err("no trigger")),
            ("COMPROMISED", true, true, true, Auto, Err("no trigger")),
            ("SOMETHING_NEW", true, true, true, Auto, Err("no trigger")),
            ("CONFIRMED", false, true, true, Auto, Err("disabled")),
            ("CONFIRMED", true, true, true, Resend, Ok(Trigger::Resend)),
            ("FORCE_CHANGE_PASSWORD", true, true, false, ForgotPassword, Err("needs client")),
        ];
        for (status, enabled, verified, client, choice, expected) in cases {
            let got = choose(*choice, &user(status, *enabled, *verified), *client);
            let got = got.as_ref().map(|t| *t).map_err(refusal);
            assert_eq!(got, *expected, "{status} enabled={enabled} verified={verified} client={client} {choice:?}");
        }
    }

    #[test]
    fn user_without_email_gets_no_trigger() {
        let mut u = user("FORCE_CHANGE_PASSWORD", true, false);
        u.email = None;
        assert_eq!(choose(TriggerChoice::Auto, &u, false), Err(Refusal::NoEmail));
    }

    /// (call, interval in minutes) → the rule's verdict; the same table `probe doctor` and the run obey.
    #[test]
    fn rate_rule_table() {
        let cases = [
            (Trigger::Resend, 1, "unlimited"),
            (Trigger::ForgotPassword, 5, "too frequent"),
            (Trigger::ForgotPassword, 13, "too frequent"),
            (Trigger::ForgotPassword, 15, "within"),
            (Trigger::AdminResetUserPassword, 60, "within"),
            (Trigger::ResendConfirmationCode, 14, "too frequent"),
        ];
        for (call, minutes, expected) in cases {
            let got = match rate(call, Duration::from_secs(minutes * 60)) {
                Rate::Unlimited => "unlimited",
                Rate::Within { .. } => "within",
                Rate::TooFrequent { .. } => "too frequent",
            };
            assert_eq!(got, expected, "{call} every {minutes}m");
        }
    }
}
