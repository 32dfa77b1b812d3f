//! The catalogue of diagnoses: every verdict the probe can reach, as one table. Each row fixes the
//! outcome, says what it means in the runbook's terms, how to fix it, and which runbook line or AWS fact it
//! rests on. Runtime code only adds the specifics: a [`Cause`] (the row plus this run's detail and
//! evidence) becomes a [`Diagnosis`] once it is placed in the phase that raised it.
//!
//! The table is an exhaustive `match` on [`Code`], so a code without a row does not compile.

use serde::Serialize;

use crate::aws::cognito::Pool;
use crate::aws::policy::Subject;
use crate::fix::{self, PolicyFix};
use crate::verdict::{Outcome, Phase};

/// Every diagnosis the probe can reach. Serialised as its snake_case name in JSON (`diagnosis.code`),
/// metric labels and alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    Delivered,
    DeliveredJunk,
    DeliveredSlow,
    CognitoDefault,
    SpfUnaligned,
    AuthFailed,
    AuthUnverifiable,
    ReceiverChanged,
    ReceiverUnconfirmed,
    TwoPieceGotcha,
    Suppressed,
    Bounced,
    Rejected,
    RenderingFailed,
    DeliveryDelayed,
    RecipientSide,
    SenderUnknown,
    NotDelivered,
    CognitoCannotSend,
    SmsDelivery,
    UserState,
    UserNotFound,
    EmailUnverified,
    TriggerRejected,
    Throttled,
    AwsUnreachable,
    AwsError,
    MailboxUnavailable,
    ImapOauth2,
    MailboxLost,
    ConfigInvalid,
    StateUnwritable,
}

/// How a row's fix is written: fixed text, or Terraform built from the pool's own values when known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fix {
    /// Nothing to do (OK).
    None,
    Text(&'static str),
    /// The identity policy for the Cognito principal ([`fix::identity_policy`]).
    IdentityPolicy,
    /// Sending through the SES identity ([`fix::developer_sending`]).
    DeveloperSending,
}

impl Fix {
    /// The fix text; with the pool read from AWS, Terraform fixes carry its own values.
    pub fn render(self, pool: Option<(&Pool, &str)>) -> String {
        match self {
            Fix::None => String::new(),
            Fix::Text(text) => text.to_string(),
            Fix::IdentityPolicy => {
                let subject = pool.and_then(|(p, region)| Subject::of_pool(p, region));
                fix::identity_policy(&subject.as_ref().map(PolicyFix::for_subject).unwrap_or_else(PolicyFix::generic))
            }
            Fix::DeveloperSending => fix::developer_sending(
                pool.and_then(|(p, _)| p.from.as_deref()),
                pool.and_then(|(p, _)| p.source_arn.as_deref()),
            ),
        }
    }
}

/// One row of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub outcome: Outcome,
    /// One line, in the runbook's terms.
    pub title: &'static str,
    /// What to do. Configuration fixes are Terraform: all AWS changes go through it (runbook, "Related").
    pub fix: Fix,
    /// The runbook section (seeds/) or research fact (research/aws.md §…) the row rests on.
    pub source: &'static str,
}

impl Code {
    pub const ALL: [Code; 32] = [
        Code::Delivered,
        Code::DeliveredJunk,
        Code::DeliveredSlow,
        Code::CognitoDefault,
        Code::SpfUnaligned,
        Code::AuthFailed,
        Code::AuthUnverifiable,
        Code::ReceiverChanged,
        Code::ReceiverUnconfirmed,
        Code::TwoPieceGotcha,
        Code::Suppressed,
        Code::Bounced,
        Code::Rejected,
        Code::RenderingFailed,
        Code::DeliveryDelayed,
        Code::RecipientSide,
        Code::SenderUnknown,
        Code::NotDelivered,
        Code::CognitoCannotSend,
        Code::SmsDelivery,
        Code::UserState,
        Code::UserNotFound,
        Code::EmailUnverified,
        Code::TriggerRejected,
        Code::Throttled,
        Code::AwsUnreachable,
        Code::AwsError,
        Code::MailboxUnavailable,
        Code::ImapOauth2,
        Code::MailboxLost,
        Code::ConfigInvalid,
        Code::StateUnwritable,
    ];

    /// The snake_case name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Delivered => "delivered",
            Code::DeliveredJunk => "delivered_junk",
            Code::DeliveredSlow => "delivered_slow",
            Code::CognitoDefault => "cognito_default",
            Code::SpfUnaligned => "spf_unaligned",
            Code::AuthFailed => "auth_failed",
            Code::AuthUnverifiable => "auth_unverifiable",
            Code::ReceiverChanged => "receiver_changed",
            Code::ReceiverUnconfirmed => "receiver_unconfirmed",
            Code::TwoPieceGotcha => "two_piece_gotcha",
            Code::Suppressed => "suppressed",
            Code::Bounced => "bounced",
            Code::Rejected => "rejected",
            Code::RenderingFailed => "rendering_failed",
            Code::DeliveryDelayed => "delivery_delayed",
            Code::RecipientSide => "recipient_side",
            Code::SenderUnknown => "sender_unknown",
            Code::NotDelivered => "not_delivered",
            Code::CognitoCannotSend => "cognito_cannot_send",
            Code::SmsDelivery => "sms_delivery",
            Code::UserState => "user_state",
            Code::UserNotFound => "user_not_found",
            Code::EmailUnverified => "email_unverified",
            Code::TriggerRejected => "trigger_rejected",
            Code::Throttled => "throttled",
            Code::AwsUnreachable => "aws_unreachable",
            Code::AwsError => "aws_error",
            Code::MailboxUnavailable => "mailbox_unavailable",
            Code::ImapOauth2 => "imap_oauth2",
            Code::MailboxLost => "mailbox_lost",
            Code::ConfigInvalid => "config_invalid",
            Code::StateUnwritable => "state_unwritable",
        }
    }

    /// The code's row of the catalogue.
    pub fn entry(self) -> &'static Entry {
        match self {
            Code::Delivered => &DELIVERED,
            Code::DeliveredJunk => &DELIVERED_JUNK,
            Code::DeliveredSlow => &DELIVERED_SLOW,
            Code::CognitoDefault => &COGNITO_DEFAULT,
            Code::SpfUnaligned => &SPF_UNALIGNED,
            Code::AuthFailed => &AUTH_FAILED,
            Code::AuthUnverifiable => &AUTH_UNVERIFIABLE,
            Code::ReceiverChanged => &RECEIVER_CHANGED,
            Code::ReceiverUnconfirmed => &RECEIVER_UNCONFIRMED,
            Code::TwoPieceGotcha => &TWO_PIECE_GOTCHA,
            Code::Suppressed => &SUPPRESSED,
            Code::Bounced => &BOUNCED,
            Code::Rejected => &REJECTED,
            Code::RenderingFailed => &RENDERING_FAILED,
            Code::DeliveryDelayed => &DELIVERY_DELAYED,
            Code::RecipientSide => &RECIPIENT_SIDE,
            Code::SenderUnknown => &SENDER_UNKNOWN,
            Code::NotDelivered => &NOT_DELIVERED,
            Code::CognitoCannotSend => &COGNITO_CANNOT_SEND,
            Code::SmsDelivery => &SMS_DELIVERY,
            Code::UserState => &USER_STATE,
            Code::UserNotFound => &USER_NOT_FOUND,
            Code::EmailUnverified => &EMAIL_UNVERIFIED,
            Code::TriggerRejected => &TRIGGER_REJECTED,
            Code::Throttled => &THROTTLED,
            Code::AwsUnreachable => &AWS_UNREACHABLE,
            Code::AwsError => &AWS_ERROR,
            Code::MailboxUnavailable => &MAILBOX_UNAVAILABLE,
            Code::ImapOauth2 => &IMAP_OAUTH2,
            Code::MailboxLost => &MAILBOX_LOST,
            Code::ConfigInvalid => &CONFIG_INVALID,
            Code::StateUnwritable => &STATE_UNWRITABLE,
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// Lets tests and callers compare a code with its name (`report.diagnosis.code == "delivered"`).
impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

// The rows, one constant each; [`Code::entry`] is the exhaustive index.

const DELIVERED: Entry = Entry {
    outcome: Outcome::Ok,
    title: "mail delivered to the inbox, authenticated and on time",
    fix: Fix::None,
    source: "DESIGN.md §1",
};

const DELIVERED_JUNK: Entry = Entry {
    outcome: Outcome::Warning,
    title: "mail delivered, but into the Junk folder — a recipient-side classification problem",
    fix: Fix::Text(
        "Check the recipient's Spam/Bulk folder rules and the From-domain alignment (DKIM d= = From \
         domain, DMARC published); Yahoo and Outlook are aggressive on first-time senders.",
    ),
    source: "runbook: \"If the Send metric increments but the recipient doesn't see the email, it's a \
     recipient-side classification problem (Yahoo + Outlook are aggressive on first-time senders)\"",
};

const DELIVERED_SLOW: Entry = Entry {
    outcome: Outcome::Warning,
    title: "mail delivered, slower than the expected maximum",
    fix: Fix::Text(
        "Look at the latency breakdown: a slow SES hand-off points at SES (sending quota, account \
         health), a slow receiver hop at the recipient's greylisting or filtering.",
    ),
    source: "DESIGN.md §4 (latency from the headers)",
};

const COGNITO_DEFAULT: Entry = Entry {
    outcome: Outcome::Warning,
    title: "the pool sends with COGNITO_DEFAULT: 50 mails a day, generic sender, often foldered as spam",
    fix: Fix::DeveloperSending,
    source: "runbook: \"Why SES instead of the Cognito default\"; research/aws.md §1.6 (daily email quota)",
};

const SPF_UNALIGNED: Entry = Entry {
    outcome: Outcome::Warning,
    title: "SPF passes but does not align with the From domain",
    fix: Fix::Text(
        "SES's default MAIL FROM (amazonses.com) never aligns; set a custom MAIL FROM subdomain \
         (aws_ses_domain_mail_from) with its MX and SPF records, or drop expect.spf_aligned — DMARC \
         passes through the aligned DKIM signature.",
    ),
    source: "research/authres-realworld.md §0 (SES MAIL FROM forms)",
};

const AUTH_FAILED: Entry = Entry {
    outcome: Outcome::Critical,
    title: "mail delivered, but its authentication failed the expectations",
    fix: Fix::Text(
        "Check the SES identity's DKIM status (CNAMEs published, DkimAttributes.Status = SUCCESS), the \
         domain's SPF (include:amazonses.com or the custom MAIL FROM) and DMARC records.",
    ),
    source: "runbook: \"noreply@… is DKIM-signed against the same domain that publishes SPF \
     (include:amazonses.com) and DMARC\"; DESIGN.md §5",
};

const AUTH_UNVERIFIABLE: Entry = Entry {
    outcome: Outcome::Warning,
    title: "mail delivered, but no trusted Authentication-Results header to judge it by",
    fix: Fix::Text(
        "Set imap.trusted_authserv_ids to the receiver's authserv-id (e.g. mx.google.com); Outlook \
         writes none — judge from another mailbox.",
    ),
    source: "DESIGN.md §5 (trust only the receiver's own headers)",
};

const RECEIVER_CHANGED: Entry = Entry {
    outcome: Outcome::Warning,
    title: "the receiver whose Authentication-Results were trusted is not the one pinned by the first run: the \
     mailbox moved, or a sender forged them",
    fix: Fix::Text(
        "If the test user's mailbox moved on purpose, name the new receiver in imap.trusted_authserv_ids (a probe \
         file that names its receiver pins none); otherwise look at who sent this message: its results are not \
         the pinned receiver's.",
    ),
    source: "RFC 8601 §5 (only the receiver's own results count); DESIGN.md §5",
};

const RECEIVER_UNCONFIRMED: Entry = Entry {
    outcome: Outcome::Warning,
    title: "mail delivered and its results passed, but they were trusted by position only: nothing in the \
     trace confirms the receiver wrote them",
    fix: Fix::Text(
        "Name the receiver in imap.trusted_authserv_ids (its authserv-id is in the evidence; the README lists \
         each big receiver's), so only its own Authentication-Results count.",
    ),
    source: "RFC 8601 §5 (only the receiver's own results count); DESIGN.md §5",
};

const TWO_PIECE_GOTCHA: Entry = Entry {
    outcome: Outcome::Critical,
    title: "Cognito accepted the request but SES sent nothing: the identity likely has no policy for the \
     Cognito principal — the two-piece gotcha",
    fix: Fix::IdentityPolicy,
    source: "runbook: \"The two-piece gotcha … Without that policy, Cognito returns success at the API but SES \
     silently denies\"; research/aws.md §3.3",
};

const SUPPRESSED: Entry = Entry {
    outcome: Outcome::Critical,
    title: "the test user's address is on the account's suppression list: SES accepts the mail but never \
     sends it",
    fix: Fix::Text(
        "Find out why it got there (the reason, date and message below: a bounce or complaint of an earlier \
         mail), fix that, then take the address off the list with the command in the evidence.",
    ),
    source: "research/ses-events-oauth-emf.md §2 (\"SES accepts the message, but doesn't send it\")",
};

const BOUNCED: Entry = Entry {
    outcome: Outcome::Critical,
    title: "SES sent the mail and the receiving side bounced it",
    fix: Fix::Text(
        "Read the bounce type, subtype and diagnostic code in the evidence: a Permanent bounce means the \
         address or its mailbox is refused for good (and SES may add it to the suppression list); a \
         Transient one that SES gave up on means the receiver kept deferring it.",
    ),
    source: "research/ses-events-oauth-emf.md §1 (Bounce record: bounceType, bounceSubType, diagnosticCode)",
};

const REJECTED: Entry = Entry {
    outcome: Outcome::Critical,
    title: "SES rejected the mail before sending it (SES found a virus in it)",
    fix: Fix::Text("Check the pool's message templates for attachments or content SES scans as malicious."),
    source: "research/ses-events-oauth-emf.md §1 (Reject: reason \"Bad content\")",
};

const RENDERING_FAILED: Entry = Entry {
    outcome: Outcome::Critical,
    title: "SES could not render the templated mail, so it was never sent",
    fix: Fix::Text("Fix the template named in the evidence: its error message says which part failed."),
    source: "research/ses-events-oauth-emf.md §1 (Rendering Failure: templateName, errorMessage)",
};

const DELIVERY_DELAYED: Entry = Entry {
    outcome: Outcome::Warning,
    title: "SES could not hand the mail over yet and is still retrying",
    fix: Fix::Text(
        "Look at the delay type and the receiver's answer in the evidence; SES retries until the expiry \
         time shown, then reports a bounce.",
    ),
    source: "research/ses-events-oauth-emf.md §1 (DeliveryDelay: delayType, expirationTime)",
};

const SENDER_UNKNOWN: Entry = Entry {
    outcome: Outcome::Critical,
    title: "the mail did not arrive, and the sender side cannot say whether SES sent it: the account's \
     other mail moves the AWS/SES metrics",
    fix: Fix::Text(
        "Set up per-message evidence: [ses_events] (the pool's configuration set publishing to an SQS \
         queue) or Cognito's notification error logs (SetLogDeliveryConfiguration, userNotification); \
         terraform-example/modules/ses-events does both. Meanwhile check the identity policy and the \
         recipient's folders.",
    ),
    source: "research/ses-events-oauth-emf.md §3 (account metrics \"can't tell your message from other traffic\")",
};

const RECIPIENT_SIDE: Entry = Entry {
    outcome: Outcome::Critical,
    title: "SES sent the mail but it never reached the watched folders: a recipient-side problem",
    fix: Fix::Text(
        "Check the recipient's Spam/Bulk/Promotions folders and filters, its bounce/suppression state \
         in SES, and the From-domain alignment.",
    ),
    source: "runbook: \"If the Send metric increments but the recipient doesn't see the email, it's a \
     recipient-side classification problem\"",
};

const NOT_DELIVERED: Entry = Entry {
    outcome: Outcome::Critical,
    title: "the mail did not arrive in time, and SES's Send metric cannot say which side dropped it",
    fix: Fix::Text(
        "With COGNITO_DEFAULT the account's metrics never show the mail; otherwise enable [cloudwatch] \
         for the probe. Check the recipient's folders and the SES identity policy.",
    ),
    source: "research/aws.md §2.4 (COGNITO_DEFAULT mail is not in your AWS/SES metrics)",
};

const COGNITO_CANNOT_SEND: Entry = Entry {
    outcome: Outcome::Critical,
    title: "Cognito refused to send the message",
    fix: Fix::Text(
        "InvalidEmailRoleAccessPolicyException: Cognito isn't allowed to use the email identity — fix \
         the identity policy (the two-piece gotcha). CodeDeliveryFailureException: the code could not \
         be delivered — check the SES identity and account state.",
    ),
    source: "research/aws.md §1.1 (ForgotPassword error list)",
};

const SMS_DELIVERY: Entry = Entry {
    outcome: Outcome::Unknown,
    title: "Cognito delivered by SMS, not email",
    fix: Fix::Text(
        "Set the pool's AccountRecoverySetting to verified_email first, or give the test user no \
         phone_number.",
    ),
    source: "research/aws.md §1.2 (which channel is used)",
};

const USER_STATE: Entry = Entry {
    outcome: Outcome::Unknown,
    title: "the test user's state lets Cognito send no mail",
    fix: Fix::Text(
        "Put the test user back in a mail-sending state: resend the invite (admin-create-user \
         --message-action RESEND keeps it in FORCE_CHANGE_PASSWORD, the preferred probe state) or \
         admin-set-user-password --permanent (CONFIRMED); enable it if disabled. Manage it in \
         Terraform (aws_cognito_user).",
    ),
    source: "runbook: \"User-state caveat — Cognito won't email a FORCE_CHANGE_PASSWORD account\"; \
     research/aws.md §1.1",
};

const USER_NOT_FOUND: Entry = Entry {
    outcome: Outcome::Unknown,
    title: "the test user does not exist in the pool",
    fix: Fix::Text("Create it (aws_cognito_user in Terraform) or fix `username` in the probe file."),
    source: "research/aws.md §1.1 (UserNotFoundException \"User does not exist.\")",
};

const EMAIL_UNVERIFIED: Entry = Entry {
    outcome: Outcome::Unknown,
    title: "the test user has no (verified) email address for this trigger",
    fix: Fix::Text("Give the user an email attribute with email_verified = true (aws_cognito_user attributes)."),
    source: "research/aws.md §1.1 (InvalidParameterException \"no registered/verified email\")",
};

const TRIGGER_REJECTED: Entry = Entry {
    outcome: Outcome::Unknown,
    title: "Cognito rejected the trigger call for this user",
    fix: Fix::Text(
        "Use trigger = \"auto\" so the call follows the user's status (FORCE_CHANGE_PASSWORD → RESEND; \
         CONFIRMED → ForgotPassword).",
    ),
    source: "runbook: \"ForgotPassword is rejected on that status\"; research/aws.md §1.1",
};

const THROTTLED: Entry = Entry {
    outcome: Outcome::Unknown,
    title: "AWS throttled a call of the probe; no mail was sent",
    fix: Fix::Text(
        "Run ForgotPassword/AdminResetUserPassword probes at most every 15 minutes per user (5–20 \
         attempts per hour), or keep the test user in FORCE_CHANGE_PASSWORD and trigger with RESEND, \
         which has no per-user limit.",
    ),
    source: "research/aws.md §1.6 (per-user attempt limits), §1.8 (retries amplify quota use)",
};

const AWS_UNREACHABLE: Entry = Entry {
    outcome: Outcome::Unknown,
    title: "AWS could not be reached (network, endpoint or credentials)",
    fix: Fix::Text(
        "Check the credential chain (AWS_PROFILE, role, SSO login) and the network path to the Cognito \
         endpoint.",
    ),
    source: "DESIGN.md §6 (an outage of the probe's own tools must never page as a delivery failure)",
};

const AWS_ERROR: Entry = Entry {
    outcome: Outcome::Unknown,
    title: "an AWS read failed",
    fix: Fix::Text(
        "See the error: AccessDenied means the probe's role lacks a read permission (see \
         terraform-example's probe policy).",
    ),
    source: "research/aws.md §3.2 (IAM actions the probe needs)",
};

const MAILBOX_UNAVAILABLE: Entry = Entry {
    outcome: Outcome::Unknown,
    title: "the probe's mailbox could not be read; no mail was sent",
    fix: Fix::Text(
        "Check the [imap] settings, the password/token source, and the server's certificate \
         (imap.ca_file for a private CA).",
    ),
    source: "DESIGN.md §6 (IMAP down is UNKNOWN, never CRITICAL); §1 (mailbox before trigger)",
};

const IMAP_OAUTH2: Entry = Entry {
    outcome: Outcome::Unknown,
    title: "the probe got no OAuth2 access token for its mailbox; no mail was sent",
    fix: Fix::Text(
        "Do what the detail's hint says for the provider (a new refresh token, consent, delegation or a new client \
         secret); `probe doctor` checks the grant (imap.oauth2) without sending mail.",
    ),
    source: "RFC 6749 §5.2 (token endpoint errors); research/ses-events-oauth-emf.md §4 (Google 7-day Testing \
             expiry, Microsoft AADSTS codes)",
};

const MAILBOX_LOST: Entry = Entry {
    outcome: Outcome::Unknown,
    title: "the probe's mailbox could not be read after the trigger: a mail was sent and may have arrived",
    fix: Fix::Text(
        "Check the mail server (connection, login, folders); the mail of this run is swept as late by a \
         later run if it arrived.",
    ),
    source: "DESIGN.md §6 (IMAP down is UNKNOWN, never CRITICAL)",
};

const CONFIG_INVALID: Entry = Entry {
    outcome: Outcome::Unknown,
    title: "the probe's configuration is not usable",
    fix: Fix::Text("Fix the probe file; `probe validate` checks every file."),
    source: "DESIGN.md §6",
};

const STATE_UNWRITABLE: Entry = Entry {
    outcome: Outcome::Unknown,
    title: "the monitor's state file cannot be written or read: paging cannot be trusted until it can",
    fix: Fix::Text(
        "Free space on the state file's filesystem, or move a damaged state file aside (a fresh one starts \
         with no open incidents); `/healthz` fails and the channels were told (monitor_degraded) meanwhile.",
    ),
    source: "DESIGN.md §7 (the state is persisted before any alert is sent)",
};

/// A diagnosis raised but not yet placed in a phase: the catalogue row plus this run's specifics. Phases
/// return it as their error; the run places it in the phase that raised it ([`Cause::at`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    pub code: Code,
    outcome: Outcome,
    detail: Option<String>,
    evidence: Vec<String>,
}

impl Cause {
    pub fn new(code: Code) -> Cause {
        Cause { code, outcome: code.entry().outcome, detail: None, evidence: Vec::new() }
    }

    /// This run's specifics, appended to the row's title (`title: detail`).
    pub fn detail(mut self, detail: impl Into<String>) -> Cause {
        self.detail = Some(detail.into()).filter(|d: &String| !d.is_empty());
        self
    }

    /// One observed fact, with its time or value.
    pub fn evidence(mut self, line: impl Into<String>) -> Cause {
        self.evidence.push(line.into());
        self
    }

    pub fn evidence_all(mut self, lines: impl IntoIterator<Item = String>) -> Cause {
        self.evidence.extend(lines);
        self
    }

    /// The same cause judged CRITICAL (the probe file asked for it, e.g. Junk delivery).
    pub fn escalated(mut self) -> Cause {
        self.outcome = Outcome::Critical;
        self
    }

    /// The same cause judged WARNING (an authentication finding that is not a failure).
    pub fn downgraded(mut self) -> Cause {
        self.outcome = Outcome::Warning;
        self
    }

    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// The one-line summary: the row's title with this run's detail.
    pub fn summary(&self) -> String {
        let title = self.code.entry().title;
        match &self.detail {
            Some(d) => format!("{title}: {d}"),
            None => title.to_string(),
        }
    }

    /// The diagnosis as raised in `phase`.
    pub fn at(self, phase: Phase) -> Diagnosis {
        let entry = self.code.entry();
        Diagnosis {
            code: self.code,
            phase,
            outcome: self.outcome,
            summary: self.summary(),
            evidence: self.evidence,
            fix: entry.fix.render(None),
            source: entry.source,
        }
    }
}

/// A diagnosis as reported: the catalogue row, the phase it was raised in, and this run's specifics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    pub code: Code,
    /// The phase that raised it (the report's `phase`).
    #[serde(skip)]
    pub phase: Phase,
    /// The row's outcome, unless the probe file raises it (`expect.junk = "critical"`) or a finding is only
    /// a warning.
    #[serde(skip)]
    outcome: Outcome,
    /// One line: the row's title with this run's specifics.
    pub summary: String,
    /// What was observed, in order, each line a fact with its time or value.
    pub evidence: Vec<String>,
    pub fix: String,
    pub source: &'static str,
}

impl Diagnosis {
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// Writes the fix with the pool's own values (its identity ARN, pool ARN, account, From) once the pool
    /// is known, so the one-shot prints the same pool-specific Terraform as `probe doctor`.
    pub fn tailored(mut self, pool: &Pool, pool_region: &str) -> Diagnosis {
        self.fix = self.code.entry().fix.render(Some((pool, pool_region)));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_complete_and_names_match_serde() {
        for code in Code::ALL {
            let e = code.entry();
            assert!(!e.title.is_empty() && !e.source.is_empty(), "{code}");
            assert_eq!(e.fix == Fix::None, e.outcome == Outcome::Ok, "{code}: only OK has no fix");
            assert_eq!(serde_json::to_string(&code).unwrap(), format!("\"{}\"", code.as_str()));
        }
        let names: std::collections::BTreeSet<_> = Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), Code::ALL.len(), "names are unique");
    }

    #[test]
    fn probe_side_trouble_is_never_critical() {
        use Code::*;
        for code in [
            AwsUnreachable,
            AwsError,
            MailboxUnavailable,
            ImapOauth2,
            MailboxLost,
            Throttled,
            ConfigInvalid,
            UserNotFound,
        ] {
            assert_eq!(code.entry().outcome, Outcome::Unknown, "{code}");
        }
    }

    #[test]
    fn a_cause_is_placed_in_the_phase_that_raised_it() {
        let d = Cause::new(Code::Throttled).detail("LimitExceededException on AdminGetUser").at(Phase::Resolve);
        assert_eq!((d.phase, d.outcome()), (Phase::Resolve, Outcome::Unknown));
        assert_eq!(
            d.summary,
            "AWS throttled a call of the probe; no mail was sent: LimitExceededException on AdminGetUser"
        );
    }

    #[test]
    fn the_two_piece_gotcha_fix_is_generic_until_the_pool_is_known() {
        let d = Cause::new(Code::TwoPieceGotcha).at(Phase::Ses);
        assert!(d.fix.contains("aws_ses_identity_policy") && d.fix.contains("email.cognito-idp.amazonaws.com"));
        assert!(d.fix.contains("identity = data.aws_ses_email_identity.noreply.arn"), "{}", d.fix);
        let pool = Pool {
            id: "us-east-1_abc".into(),
            arn: Some("arn:aws:cognito-idp:us-east-1:111122223333:userpool/us-east-1_abc".into()),
            sending_account: crate::aws::cognito::SendingAccount::Developer,
            source_arn: Some("arn:aws:ses:us-east-1:111122223333:identity/mail.example.org".into()),
            from: Some("Team <hi@mail.example.org>".into()),
            reply_to: None,
            configuration_set: None,
        };
        let d = d.tailored(&pool, "us-east-1");
        assert!(d.fix.contains(r#"identity = "arn:aws:ses:us-east-1:111122223333:identity/mail.example.org""#));
        assert!(d.fix.contains(r#""aws:SourceAccount" = "111122223333""#), "{}", d.fix);
    }
}
