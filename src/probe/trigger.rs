//! Choosing the Cognito call that makes the mail, from the test user's status (DESIGN.md §2,
//! research/aws.md §1.1). Pure: the table is tested case by case.

use crate::aws::cognito::{Trigger, User};
use crate::config::TriggerChoice;
use crate::diagnosis::Diagnosis;

/// The call for this user, or the diagnosis explaining why no call can make a mail.
pub fn choose(choice: TriggerChoice, user: &User, has_client: bool) -> Result<Trigger, Diagnosis> {
    // Disabled users get no mail from any trigger (aws.md §1.1: "User is disabled.").
    if !user.enabled {
        return Err(Diagnosis::new("user_state", Some(format!("user {} is disabled", user.username)), vec![]));
    }
    let needs_client = |t: Trigger| -> Result<Trigger, Diagnosis> {
        if has_client {
            Ok(t)
        } else {
            Err(Diagnosis::new(
                "config_invalid",
                Some(format!("user status {} needs {t}, which needs client_id in the probe file", user.status)),
                vec![],
            ))
        }
    };
    let call = match choice {
        TriggerChoice::Resend => Trigger::Resend,
        TriggerChoice::ForgotPassword => needs_client(Trigger::ForgotPassword)?,
        TriggerChoice::AdminResetUserPassword => Trigger::AdminResetUserPassword,
        TriggerChoice::ResendConfirmationCode => needs_client(Trigger::ResendConfirmationCode)?,
        TriggerChoice::Auto => match user.status.as_str() {
            // RESEND: no per-user hourly limit — the preferred probe state (aws.md §1.4).
            "FORCE_CHANGE_PASSWORD" => Trigger::Resend,
            // ForgotPassword when an app client is configured (no IAM needed), else the admin call (§1.2, §1.3).
            "CONFIRMED" if has_client => Trigger::ForgotPassword,
            "CONFIRMED" => Trigger::AdminResetUserPassword,
            // ForgotPassword is how a RESET_REQUIRED user completes the reset (§1.1).
            "RESET_REQUIRED" => needs_client(Trigger::ForgotPassword)?,
            "UNCONFIRMED" => needs_client(Trigger::ResendConfirmationCode)?,
            // EXTERNAL_PROVIDER has no pool password; ARCHIVED/COMPROMISED/UNKNOWN are "no longer used" (§1.1).
            other => {
                return Err(Diagnosis::new("user_state", Some(format!("status {other} has no mail trigger")), vec![]));
            }
        },
    };
    // ForgotPassword and AdminResetUserPassword need a verified email, or Cognito answers
    // InvalidParameterException (§1.1); RESEND needs an email attribute (§1.4).
    match call {
        Trigger::ForgotPassword | Trigger::AdminResetUserPassword if user.email.is_none() || !user.email_verified => {
            Err(Diagnosis::new("email_unverified", Some(format!("{call} needs email_verified = true")), vec![]))
        }
        _ if user.email.is_none() => Err(Diagnosis::new("email_unverified", Some("no email attribute".into()), vec![])),
        _ => Ok(call),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(status: &str, enabled: bool, verified: bool) -> User {
        User {
            username: "probe".into(),
            status: status.into(),
            enabled,
            email: Some("probe@mail.test".into()),
            email_verified: verified,
        }
    }

    /// (status, enabled, email_verified, has_client, choice) → call or diagnosis code.
    #[test]
    #[allow(clippy::type_complexity)] // a case table reads best as tuples
    fn trigger_table() {
        use TriggerChoice::*;
        let cases: &[(&str, bool, bool, bool, TriggerChoice, Result<Trigger, &str>)] = &[
            ("FORCE_CHANGE_PASSWORD", true, false, false, Auto, Ok(Trigger::Resend)),
            ("FORCE_CHANGE_PASSWORD", true, true, true, Auto, Ok(Trigger::Resend)),
            ("CONFIRMED", true, true, true, Auto, Ok(Trigger::ForgotPassword)),
            ("CONFIRMED", true, true, false, Auto, Ok(Trigger::AdminResetUserPassword)),
            ("CONFIRMED", true, false, true, Auto, Err("email_unverified")),
            ("RESET_REQUIRED", true, true, true, Auto, Ok(Trigger::ForgotPassword)),
            ("RESET_REQUIRED", true, true, false, Auto, Err("config_invalid")),
            ("UNCONFIRMED", true, false, true, Auto, Ok(Trigger::ResendConfirmationCode)),
            ("UNCONFIRMED", true, false, false, Auto, Err("config_invalid")),
            ("EXTERNAL_PROVIDER", true, true, true, Auto, Err("user_state")),
            ("COMPROMISED", true, true, true, Auto, Err("user_state")),
            ("SOMETHING_NEW", true, true, true, Auto, Err("user_state")),
            ("CONFIRMED", false, true, true, Auto, Err("user_state")),
            ("CONFIRMED", true, true, true, Resend, Ok(Trigger::Resend)),
            ("FORCE_CHANGE_PASSWORD", true, true, false, ForgotPassword, Err("config_invalid")),
        ];
        for (status, enabled, verified, client, choice, expected) in cases {
            let got = choose(*choice, &user(status, *enabled, *verified), *client).map_err(|d| d.code);
            assert_eq!(got, *expected, "{status} enabled={enabled} verified={verified} client={client} {choice:?}");
        }
    }

    #[test]
    fn user_without_email_gets_no_trigger() {
        let mut u = user("FORCE_CHANGE_PASSWORD", true, false);
        u.email = None;
        assert_eq!(choose(TriggerChoice::Auto, &u, false).map_err(|d| d.code), Err("email_unverified"));
    }
}
