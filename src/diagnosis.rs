//! The catalogue of diagnoses: every verdict the probe can reach, as one table. Each row fixes the
//! outcome and the phase, says what it means in the runbook's terms, how to fix it, and which runbook line
//! or AWS fact it rests on. Runtime code only adds the specifics (evidence) to a row.

use serde::Serialize;

use crate::verdict::{Outcome, Phase};

/// One row of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Stable identifier, used in JSON (`diagnosis.code`), metrics and alerts.
    pub code: &'static str,
    pub outcome: Outcome,
    pub phase: Phase,
    /// One line, in the runbook's terms.
    pub title: &'static str,
    /// What to do. Configuration fixes are Terraform: all AWS changes go through it (runbook, "Related").
    pub fix: &'static str,
    /// The runbook section (seeds/) or research fact (research/aws.md §…) the row rests on.
    pub source: &'static str,
}

const POLICY_FIX: &str = r#"Attach an SES identity policy that lets Cognito send (declare it once, in one Terraform state):
  resource "aws_ses_identity_policy" "cognito_noreply" {
    identity = data.aws_ses_email_identity.noreply.arn
    name     = "AllowCognitoUserPoolsToSend"
    policy = jsonencode({
      Version = "2012-10-17"
      Statement = [{
        Effect    = "Allow"
        Principal = { Service = ["email.cognito-idp.amazonaws.com", "cognito-idp.amazonaws.com"] }
        Action    = ["ses:SendEmail", "ses:SendRawEmail"]
        Resource  = data.aws_ses_email_identity.noreply.arn
        Condition = {
          StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id }
          ArnLike      = { "aws:SourceArn" = aws_cognito_user_pool.main.arn }
        }
      }]
    })
  }"#;

const DEVELOPER_FIX: &str = r#"Send through your SES identity (Terraform):
  email_configuration {
    email_sending_account  = "DEVELOPER"
    source_arn             = data.aws_ses_email_identity.noreply.arn
    from_email_address     = "Phenom <noreply@thephenom.app>"
    reply_to_email_address = "noreply@thephenom.app"
  }
and make sure the SES identity policy for the Cognito principal exists (the two-piece gotcha)."#;

/// The catalogue. Order does not matter; codes are unique (a test checks).
pub const CATALOGUE: &[Entry] = &[
    Entry {
        code: "delivered",
        outcome: Outcome::Ok,
        phase: Phase::Authenticate,
        title: "mail delivered to the inbox, authenticated and on time",
        fix: "",
        source: "DESIGN.md §1",
    },
    Entry {
        code: "delivered_junk",
        outcome: Outcome::Warning,
        phase: Phase::Inbox,
        title: "mail delivered, but into the Junk folder — a recipient-side classification problem",
        fix: "Check the recipient's Spam/Bulk folder rules and the From-domain alignment (DKIM d= = From domain, DMARC published); Yahoo and Outlook are aggressive on first-time senders.",
        source: "runbook: \"If the Send metric increments but the recipient doesn't see the email, it's a recipient-side classification problem (Yahoo + Outlook are aggressive on first-time senders)\"",
    },
    Entry {
        code: "delivered_slow",
        outcome: Outcome::Warning,
        phase: Phase::Inbox,
        title: "mail delivered, slower than the expected maximum",
        fix: "Look at the latency breakdown: a slow SES hand-off points at SES (sending quota, account health), a slow receiver hop at the recipient's greylisting or filtering.",
        source: "DESIGN.md §4 (latency from the headers)",
    },
    Entry {
        code: "cognito_default",
        outcome: Outcome::Warning,
        phase: Phase::Trigger,
        title: "the pool sends with COGNITO_DEFAULT: 50 mails a day, generic sender, often foldered as spam",
        fix: DEVELOPER_FIX,
        source: "runbook: \"Why SES instead of the Cognito default\"; research/aws.md §1.6 (daily email quota)",
    },
    Entry {
        code: "spf_unaligned",
        outcome: Outcome::Warning,
        phase: Phase::Authenticate,
        title: "SPF passes but does not align with the From domain",
        fix: "SES's default MAIL FROM (amazonses.com) never aligns; set a custom MAIL FROM subdomain (aws_ses_domain_mail_from) with its MX and SPF records, or drop expect.spf_aligned — DMARC passes through the aligned DKIM signature.",
        source: "research/authres-realworld.md §0 (SES MAIL FROM forms)",
    },
    Entry {
        code: "auth_failed",
        outcome: Outcome::Critical,
        phase: Phase::Authenticate,
        title: "mail delivered, but its authentication failed the expectations",
        fix: "Check the SES identity's DKIM status (CNAMEs published, DkimAttributes.Status = SUCCESS), the domain's SPF (include:amazonses.com or the custom MAIL FROM) and DMARC records.",
        source: "runbook: \"noreply@… is DKIM-signed against the same domain that publishes SPF (include:amazonses.com) and DMARC\"; DESIGN.md §5",
    },
    Entry {
        code: "auth_unverifiable",
        outcome: Outcome::Warning,
        phase: Phase::Authenticate,
        title: "mail delivered, but no trusted Authentication-Results header to judge it by",
        fix: "Set imap.trusted_authserv_ids to the receiver's authserv-id (e.g. mx.google.com); Outlook writes none — judge from another mailbox.",
        source: "DESIGN.md §5 (trust only the receiver's own headers)",
    },
    Entry {
        code: "two_piece_gotcha",
        outcome: Outcome::Critical,
        phase: Phase::Ses,
        title: "Cognito accepted the request but SES sent nothing: the identity likely has no policy for the Cognito principal — the two-piece gotcha",
        fix: POLICY_FIX,
        source: "runbook: \"The two-piece gotcha … Without that policy, Cognito returns success at the API but SES silently denies\"; research/aws.md §3.3",
    },
    Entry {
        code: "recipient_side",
        outcome: Outcome::Critical,
        phase: Phase::Inbox,
        title: "SES sent the mail but it never reached the watched folders: a recipient-side problem",
        fix: "Check the recipient's Spam/Bulk/Promotions folders and filters, its bounce/suppression state in SES, and the From-domain alignment.",
        source: "runbook: \"If the Send metric increments but the recipient doesn't see the email, it's a recipient-side classification problem\"",
    },
    Entry {
        code: "not_delivered",
        outcome: Outcome::Critical,
        phase: Phase::Inbox,
        title: "the mail did not arrive in time, and SES's Send metric cannot say which side dropped it",
        fix: "With COGNITO_DEFAULT the account's metrics never show the mail; otherwise enable [cloudwatch] for the probe. Check the recipient's folders and the SES identity policy.",
        source: "research/aws.md §2.4 (COGNITO_DEFAULT mail is not in your AWS/SES metrics)",
    },
    Entry {
        code: "cognito_cannot_send",
        outcome: Outcome::Critical,
        phase: Phase::Trigger,
        title: "Cognito refused to send the message",
        fix: "InvalidEmailRoleAccessPolicyException: Cognito isn't allowed to use the email identity — fix the identity policy (the two-piece gotcha). CodeDeliveryFailureException: the code could not be delivered — check the SES identity and account state.",
        source: "research/aws.md §1.1 (ForgotPassword error list)",
    },
    Entry {
        code: "sms_delivery",
        outcome: Outcome::Unknown,
        phase: Phase::Trigger,
        title: "Cognito delivered by SMS, not email",
        fix: "Set the pool's AccountRecoverySetting to verified_email first, or give the test user no phone_number.",
        source: "research/aws.md §1.2 (which channel is used)",
    },
    Entry {
        code: "user_state",
        outcome: Outcome::Unknown,
        phase: Phase::Resolve,
        title: "the test user's state lets Cognito send no mail",
        fix: "Put the test user back in a mail-sending state: resend the invite (admin-create-user --message-action RESEND keeps it in FORCE_CHANGE_PASSWORD, the preferred probe state) or admin-set-user-password --permanent (CONFIRMED); enable it if disabled. Manage it in Terraform (aws_cognito_user).",
        source: "runbook: \"User-state caveat — Cognito won't email a FORCE_CHANGE_PASSWORD account\"; research/aws.md §1.1",
    },
    Entry {
        code: "user_not_found",
        outcome: Outcome::Unknown,
        phase: Phase::Resolve,
        title: "the test user does not exist in the pool",
        fix: "Create it (aws_cognito_user in Terraform) or fix `username` in the probe file.",
        source: "research/aws.md §1.1 (UserNotFoundException \"User does not exist.\")",
    },
    Entry {
        code: "email_unverified",
        outcome: Outcome::Unknown,
        phase: Phase::Resolve,
        title: "the test user has no (verified) email address for this trigger",
        fix: "Give the user an email attribute with email_verified = true (aws_cognito_user attributes).",
        source: "research/aws.md §1.1 (InvalidParameterException \"no registered/verified email\")",
    },
    Entry {
        code: "trigger_rejected",
        outcome: Outcome::Unknown,
        phase: Phase::Trigger,
        title: "Cognito rejected the trigger call for this user",
        fix: "Use trigger = \"auto\" so the call follows the user's status (FORCE_CHANGE_PASSWORD → RESEND; CONFIRMED → ForgotPassword).",
        source: "runbook: \"ForgotPassword is rejected on that status\"; research/aws.md §1.1",
    },
    Entry {
        code: "throttled",
        outcome: Outcome::Unknown,
        phase: Phase::Trigger,
        title: "AWS throttled the trigger call; no mail was sent",
        fix: "Run ForgotPassword/AdminResetUserPassword probes at most every 15 minutes per user (5–20 attempts per hour), or keep the test user in FORCE_CHANGE_PASSWORD and trigger with RESEND, which has no per-user limit.",
        source: "research/aws.md §1.6 (per-user attempt limits), §1.8 (retries amplify quota use)",
    },
    Entry {
        code: "aws_unreachable",
        outcome: Outcome::Unknown,
        phase: Phase::Resolve,
        title: "AWS could not be reached (network, endpoint or credentials)",
        fix: "Check the credential chain (AWS_PROFILE, role, SSO login) and the network path to the Cognito endpoint.",
        source: "DESIGN.md §6 (an outage of the probe's own tools must never page as a delivery failure)",
    },
    Entry {
        code: "aws_error",
        outcome: Outcome::Unknown,
        phase: Phase::Resolve,
        title: "an AWS read failed",
        fix: "See the error: AccessDenied means the probe's role lacks a read permission (see terraform-example's probe policy).",
        source: "research/aws.md §3.2 (IAM actions the probe needs)",
    },
    Entry {
        code: "mailbox_unavailable",
        outcome: Outcome::Unknown,
        phase: Phase::Inbox,
        title: "the probe's mailbox could not be read; no mail was sent",
        fix: "Check the [imap] settings, the password/token source, and the server's certificate (imap.ca_file for a private CA).",
        source: "DESIGN.md §6 (IMAP down is UNKNOWN, never CRITICAL)",
    },
    Entry {
        code: "config_invalid",
        outcome: Outcome::Unknown,
        phase: Phase::Config,
        title: "the probe's configuration is not usable",
        fix: "Fix the probe file; `probe validate` checks every file.",
        source: "DESIGN.md §6",
    },
];

/// Looks a row up by code. Codes are constants in this crate, so a miss is a bug caught by the tests.
pub fn entry(code: &str) -> &'static Entry {
    CATALOGUE
        .iter()
        .find(|e| e.code == code)
        .unwrap_or_else(|| panic!("diagnosis code {code:?} is not in the catalogue"))
}

/// A diagnosis as reported: the catalogue row plus this run's specifics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    pub code: &'static str,
    /// The row's outcome, unless the probe file raises it (`expect.junk = "critical"`) or a finding is only
    /// a warning.
    #[serde(skip)]
    outcome: Outcome,
    /// One line: the row's title with this run's specifics.
    pub summary: String,
    /// What was observed, in order, each line a fact with its time or value.
    pub evidence: Vec<String>,
    pub fix: &'static str,
    pub source: &'static str,
}

impl Diagnosis {
    pub fn new(code: &'static str, detail: Option<String>, evidence: Vec<String>) -> Diagnosis {
        let e = entry(code);
        let summary = match detail {
            Some(d) if !d.is_empty() => format!("{}: {d}", e.title),
            _ => e.title.to_string(),
        };
        Diagnosis { code: e.code, outcome: e.outcome, summary, evidence, fix: e.fix, source: e.source }
    }

    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// The same diagnosis judged CRITICAL (the probe file asked for it, e.g. Junk delivery).
    pub fn escalated(mut self) -> Diagnosis {
        self.outcome = Outcome::Critical;
        self
    }

    /// The same diagnosis judged WARNING (an authentication finding that is not a failure).
    pub fn downgraded(mut self) -> Diagnosis {
        self.outcome = Outcome::Warning;
        self
    }

    pub fn phase(&self) -> Phase {
        entry(self.code).phase
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_rows_are_complete() {
        let mut seen = std::collections::HashSet::new();
        for e in CATALOGUE {
            assert!(seen.insert(e.code), "duplicate code {}", e.code);
            assert!(!e.title.is_empty() && !e.source.is_empty(), "{}", e.code);
            assert_eq!(e.fix.is_empty(), e.outcome == Outcome::Ok, "{}: only OK has no fix", e.code);
        }
    }

    #[test]
    fn probe_side_trouble_is_never_critical() {
        for code in
            ["aws_unreachable", "aws_error", "mailbox_unavailable", "throttled", "config_invalid", "user_not_found"]
        {
            assert_eq!(entry(code).outcome, Outcome::Unknown, "{code}");
        }
    }

    #[test]
    fn the_two_piece_gotcha_names_the_policy_fix() {
        let d = Diagnosis::new("two_piece_gotcha", None, vec![]);
        assert_eq!((d.outcome(), d.phase()), (Outcome::Critical, Phase::Ses));
        assert!(d.fix.contains("aws_ses_identity_policy") && d.fix.contains("email.cognito-idp.amazonaws.com"));
        assert!(d.summary.contains("two-piece gotcha"));
    }
}
