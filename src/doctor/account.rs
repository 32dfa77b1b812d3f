//! Checks of the SES account in the identity's Region (GetAccount, research/aws.md §3.2): production access
//! vs the sandbox, sending enabled and enforcement status, and the daily quota against the probe's own
//! rate. A COGNITO_DEFAULT pool does not send through your SES account; for it the check is Cognito's own
//! 50-a-day quota against the probe's rate (research/aws.md §1.6).

use std::time::Duration;

use super::{Finding, Status, is_own_trouble};
use crate::aws::AwsFailure;
use crate::aws::cognito::Pool;
use crate::aws::ses::Account;
use crate::config::ProbeFile;

const SOURCE: &str = "research/aws.md §3.2 (GetAccount)";

/// research/aws.md §1.6: "Email messages sent daily per AWS account: 50" with the default email feature.
pub const COGNITO_DEFAULT_DAILY_QUOTA: f64 = 50.0;

/// Mails the probe alone sends in a day at `interval`.
pub fn probe_mails_per_day(interval: Duration) -> f64 {
    86_400.0 / interval.as_secs_f64().max(1.0)
}

/// Judges the account for `pool`, given what GetAccount answered.
pub fn check(pool: &Pool, probe: &ProbeFile, read: Result<Account, AwsFailure>) -> Vec<Finding> {
    let per_day = probe_mails_per_day(probe.interval);
    let interval = humantime::format_duration(probe.interval);
    if !pool.is_developer() {
        let status = if per_day > COGNITO_DEFAULT_DAILY_QUOTA { Status::Fail } else { Status::Warn };
        return vec![
            Finding::new(
                "ses.account.quota",
                status,
                format!(
                    "Cognito's default mailer allows {COGNITO_DEFAULT_DAILY_QUOTA} mails a day; the probe alone sends \
                        {per_day:.0} (every {interval})"
                ),
                "research/aws.md §1.6 (default email quota)",
            )
            .evidence(format!("EmailSendingAccount = {}", pool.sending_account))
            .fix(
                "Switch the pool to DEVELOPER (see pool.sending_account); until then keep the probe's interval ≥ 30m.",
            ),
        ];
    }
    let account = match read {
        Ok(a) => a,
        Err(err) if is_own_trouble(&err) => return vec![Finding::aws_unknown("ses.account", &err)],
        Err(err) => {
            return vec![Finding::new(
                "ses.account",
                Status::Fail,
                format!("cannot read the SES account: {err}"),
                SOURCE,
            )];
        }
    };
    vec![
        production(&account, probe.is_production()),
        sending(&account),
        quota(&account, per_day, &interval.to_string()),
    ]
}

fn production(account: &Account, production: bool) -> Finding {
    if account.production_access_enabled {
        return Finding::new(
            "ses.account.sandbox",
            Status::Ok,
            "SES production access enabled (out of the sandbox)",
            SOURCE,
        )
        .evidence("ProductionAccessEnabled = true");
    }
    // §3.2: in the sandbox "you can only send email to verified identities".
    let status = if production { Status::Fail } else { Status::Warn };
    Finding::new(
        "ses.account.sandbox",
        status,
        "SES account is in the sandbox: mail goes only to verified identities — real users get nothing, the probe's \
            verified mailbox still does",
        SOURCE,
    )
    .evidence("ProductionAccessEnabled = false")
    .fix(
        "Request production access for SES in this Region (AWS console → SES → Account dashboard → Request \
        production access; Terraform cannot).",
    )
}

fn sending(account: &Account) -> Finding {
    let evidence = format!(
        "SendingEnabled = {}, EnforcementStatus = {}",
        account.sending_enabled,
        account.enforcement_status.as_deref().unwrap_or("(none)")
    );
    let enforcement = account.enforcement_status.as_deref().unwrap_or("HEALTHY");
    let (status, summary) = if !account.sending_enabled || enforcement == "SHUTDOWN" {
        (Status::Fail, "SES sending is disabled for the account: every send is refused".to_string())
    } else if enforcement == "PROBATION" {
        (Status::Warn, "SES account is on PROBATION (bounce or complaint rate): sending may be paused".to_string())
    } else {
        (Status::Ok, "SES sending enabled".to_string())
    };
    let mut f = Finding::new("ses.account.sending", status, summary, SOURCE).evidence(evidence);
    if status != Status::Ok {
        f.fix = "Read the SES account dashboard's enforcement notice, fix the bounce/complaint cause, then re-enable \
            sending (aws_sesv2_account_suppression_attributes / support case)."
            .into();
    }
    f
}

fn quota(account: &Account, per_day: f64, interval: &str) -> Finding {
    let Some(q) = account.quota else {
        return Finding::new("ses.account.quota", Status::Warn, "SES returned no send quota", SOURCE);
    };
    let evidence = format!(
        "Max24HourSend = {}, SentLast24Hours = {}, MaxSendRate = {}/s; the probe sends {per_day:.0}/day (every \
            {interval})",
        q.max_24_hour_send, q.sent_last_24_hours, q.max_send_rate
    );
    let (status, summary) = match q.remaining_24h() {
        None => (Status::Ok, "SES daily quota unlimited".to_string()),
        Some(_) if per_day > q.max_24_hour_send => (
            Status::Fail,
            format!("the probe alone ({per_day:.0}/day) exceeds the SES daily quota of {}", q.max_24_hour_send),
        ),
        Some(remaining) if remaining < per_day => (
            Status::Warn,
            format!("only {remaining:.0} mails left in the rolling 24 hours, fewer than the probe's {per_day:.0}/day"),
        ),
        Some(_) if per_day > q.max_24_hour_send * 0.1 => (
            Status::Warn,
            format!("the probe uses over 10% of the SES daily quota ({per_day:.0} of {})", q.max_24_hour_send),
        ),
        Some(remaining) => (
            Status::Ok,
            format!(
                "SES daily quota {} with {remaining:.0} left; the probe needs {per_day:.0}/day",
                q.max_24_hour_send
            ),
        ),
    };
    let mut f = Finding::new("ses.account.quota", status, summary, SOURCE).evidence(evidence);
    if status != Status::Ok {
        f.fix = "Lengthen the probe's interval, or request a higher SES sending quota (Service Quotas → Amazon SES → \
            Sending quota)."
            .into();
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::ses::SendQuota;

    fn account(production: bool, sending: bool, enforcement: &str, max: f64, sent: f64) -> Account {
        Account {
            production_access_enabled: production,
            sending_enabled: sending,
            enforcement_status: Some(enforcement.into()),
            quota: Some(SendQuota { max_24_hour_send: max, max_send_rate: 14.0, sent_last_24_hours: sent }),
        }
    }

    #[test]
    fn account_checks_judge_each_state() {
        use Status::*;
        let every_15m = 96.0;
        // (name, finding, expected)
        let cases = [
            ("production access", production(&account(true, true, "HEALTHY", 5e4, 0.0), true), Ok),
            ("sandbox, production pool", production(&account(false, true, "HEALTHY", 200.0, 0.0), true), Fail),
            ("sandbox, other pool", production(&account(false, true, "HEALTHY", 200.0, 0.0), false), Warn),
            ("sending enabled", sending(&account(true, true, "HEALTHY", 5e4, 0.0)), Ok),
            ("sending disabled", sending(&account(true, false, "HEALTHY", 5e4, 0.0)), Fail),
            ("shut down", sending(&account(true, true, "SHUTDOWN", 5e4, 0.0)), Fail),
            ("probation", sending(&account(true, true, "PROBATION", 5e4, 0.0)), Warn),
            ("ample quota", quota(&account(true, true, "HEALTHY", 5e4, 10.0), every_15m, "15m"), Ok),
            ("unlimited quota", quota(&account(true, true, "HEALTHY", -1.0, 10.0), every_15m, "15m"), Ok),
            ("probe exceeds quota", quota(&account(true, true, "HEALTHY", 50.0, 0.0), every_15m, "15m"), Fail),
            ("quota nearly used up", quota(&account(true, true, "HEALTHY", 5e4, 49_950.0), every_15m, "15m"), Warn),
            ("probe eats the quota", quota(&account(true, true, "HEALTHY", 500.0, 0.0), every_15m, "15m"), Warn),
        ];
        for (name, finding, expected) in cases {
            assert_eq!(finding.status, expected, "{name}: {finding:#?}");
        }
    }

    #[test]
    fn probe_rate_is_mails_per_day() {
        let cases = [(15 * 60, 96.0), (30 * 60, 48.0), (5 * 60, 288.0)];
        for (secs, per_day) in cases {
            assert!((probe_mails_per_day(Duration::from_secs(secs)) - per_day).abs() < 1e-9, "{secs}s");
        }
    }
}
