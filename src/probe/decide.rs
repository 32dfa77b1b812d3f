//! The verdict decisions of a run, as pure functions of what the phases observed: which diagnosis an AWS
//! error is, which side dropped a mail that did not arrive (DESIGN.md §3), and what a delivered mail's
//! Junk folder, authentication, latency and pool configuration add up to (DESIGN.md §6). Table-tested
//! below without any server.

use chrono::{DateTime, Utc};

use super::authenticate::Judgement;
use crate::aws::AwsFailure;
use crate::aws::cognito::{Pool, User};
use crate::aws::trigger::Trigger;
use crate::config::{JunkVerdict, ProbeFile};
use crate::diagnosis::{Cause, Code, Diagnosis};
use crate::duration;
use crate::report::{MailRecord, SesEvidence, SesStatus};
use crate::verdict::{Outcome, Phase};

/// The AWS failures every phase shares: throttling is UNKNOWN (aws.md §1.6), no answer is UNKNOWN
/// (DESIGN.md §6: the probe's own trouble never pages), any other service error an unexpected read
/// failure.
fn aws_failure(e: &AwsFailure) -> Cause {
    match e {
        AwsFailure::Throttled { code, operation, .. } => {
            Cause::new(Code::Throttled).detail(format!("{code} on {operation}")).evidence(e.to_string())
        }
        AwsFailure::Unreachable { .. } => Cause::new(Code::AwsUnreachable).detail(e.to_string()),
        AwsFailure::Service { .. } => Cause::new(Code::AwsError).detail(e.to_string()),
    }
}

/// AdminGetUser or DescribeUserPool failed (aws.md §1.1 error lists).
pub fn resolve_failure(e: &AwsFailure, username: &str) -> Cause {
    match e.code() {
        Some("UserNotFoundException") => {
            Cause::new(Code::UserNotFound).detail(format!("{username:?}")).evidence(e.to_string())
        }
        Some("ResourceNotFoundException") => {
            Cause::new(Code::ConfigInvalid).detail(format!("pool not found: {}", e.message())).evidence(e.to_string())
        }
        _ => aws_failure(e),
    }
}

/// The trigger call failed (aws.md §1.1 error lists).
pub fn trigger_failure(call: Trigger, e: &AwsFailure, user: &User) -> Cause {
    let evidence = format!("{call} for user in {}: {e}", user.status);
    let cause = match e {
        AwsFailure::Unreachable { .. } => {
            Cause::new(Code::AwsUnreachable).detail(format!("{call} got no answer; it may or may not have sent a mail"))
        }
        AwsFailure::Service { code, message, .. } => match code.as_str() {
            "InvalidEmailRoleAccessPolicyException" | "CodeDeliveryFailureException" => {
                Cause::new(Code::CognitoCannotSend).detail(format!("{code}: {message}"))
            }
            "NotAuthorizedException" | "UnsupportedUserStateException" => {
                Cause::new(Code::TriggerRejected).detail(format!("{code}: {message}"))
            }
            "InvalidParameterException" if message.contains("verified") => {
                Cause::new(Code::EmailUnverified).detail(message.clone())
            }
            "UserNotFoundException" => Cause::new(Code::UserNotFound).detail(message.clone()),
            _ => Cause::new(Code::AwsError).detail(format!("{call}: {code}: {message}")),
        },
        AwsFailure::Throttled { .. } => aws_failure(e),
    };
    cause.evidence(evidence)
}

/// No mail in time: which side dropped it, by the SES checkpoint (DESIGN.md §3).
pub fn not_delivered(
    pool: &Pool,
    call: Trigger,
    trigger_at: DateTime<Utc>,
    ses: &SesEvidence,
    probe: &ProbeFile,
) -> Diagnosis {
    let waited = duration::show(probe.timeout);
    let accepted = format!("Cognito accepted {call} at {}", trigger_at.format("%H:%M:%S"));
    let metric = ses.metric.clone().unwrap_or_default();
    let sum = |v: Option<f64>| duration::number(v.unwrap_or_default(), 0);
    match (pool.is_developer(), ses.status, ses.increment_seen) {
        (true, SesStatus::Checked, true) => Cause::new(Code::RecipientSide)
            .detail("SES sent")
            .evidence(accepted)
            .evidence(format!("SES {metric} rose after the trigger ({} → {})", sum(ses.baseline), sum(ses.latest)))
            .evidence(format!("no mail in the watched folders within {waited}"))
            .at(Phase::Inbox),
        (true, SesStatus::Checked, false) if ses.reads > 0 => {
            let settle = duration::show(probe.cloudwatch.settle);
            let flat =
                format!("SES {metric} flat for {waited} plus {settle} ({} reads, Σ {})", ses.reads, sum(ses.latest));
            let mut cause = Cause::new(Code::TwoPieceGotcha).evidence(accepted).evidence(flat);
            if let Some(identity) = pool.ses_identity() {
                cause = cause.evidence(format!(
                    "identity {identity}: check that a policy lets the Cognito service principal send"
                ));
            }
            cause.at(Phase::Ses)
        }
        (false, _, _) => Cause::new(Code::NotDelivered)
            .detail("COGNITO_DEFAULT pool")
            .evidence(accepted)
            .evidence("COGNITO_DEFAULT: Cognito's own sender, invisible in the account's AWS/SES metrics")
            .evidence(format!("no mail within {waited}"))
            .at(Phase::Inbox),
        _ => {
            let why = ses.error.clone().unwrap_or_else(|| "no reads".into());
            Cause::new(Code::NotDelivered)
                .evidence(accepted)
                .evidence(format!("SES checkpoint {}: {why}", ses.status.name()))
                .evidence(format!("no mail within {waited}"))
                .at(Phase::Inbox)
        }
    }
}

/// The verdict for a delivered mail: the most severe of Junk, authentication, slowness and
/// COGNITO_DEFAULT decides ([`Outcome::severity`]; the first of equals wins, authentication before Junk);
/// the rest become notes.
pub fn delivered(
    probe: &ProbeFile,
    pool: &Pool,
    mail: &MailRecord,
    auth: &Judgement,
    receiver: Option<&ReceiverChange>,
    notes: &mut Vec<String>,
) -> Diagnosis {
    let mut candidates: Vec<Diagnosis> = Vec::new();
    // A COGNITO_DEFAULT pool's mail comes from AWS's generic sender and can never align with the customer's
    // domain (runbook: "Not customizable — you cannot … align with the domain DKIM / SPF / DMARC posture"):
    // the pool's configuration is the finding, and the authentication result is a note beside it.
    if !pool.is_developer() {
        if auth.outcome != Outcome::Ok {
            notes.push(format!("authentication: {}", auth.summary));
        }
    } else if let Some(cause) = authentication(auth) {
        candidates.push(cause.at(Phase::Authenticate));
    }
    if let Some(change) = receiver {
        let cause = Cause::new(Code::ReceiverChanged)
            .detail(format!("pinned {}, now {}", change.pinned, change.now))
            .evidence(format!("the first trusted run read the results of {}", change.pinned))
            .evidence(format!("this run trusted authserv-id {}", change.authserv_id.as_deref().unwrap_or("(none)")));
        candidates.push(cause.at(Phase::Authenticate));
    }
    if mail.junk {
        let cause = Cause::new(Code::DeliveredJunk).detail(format!("folder {}", mail.folder));
        let cause = if probe.expect.junk == JunkVerdict::Critical { cause.escalated() } else { cause };
        candidates.push(cause.at(Phase::Inbox));
    }
    if let Some(total) = mail.latency.total_seconds
        && total > probe.expect.max_delivery.as_secs_f64()
    {
        let detail = format!("{}s > {}", duration::number(total, 1), duration::show(probe.expect.max_delivery));
        candidates.push(Cause::new(Code::DeliveredSlow).detail(detail).at(Phase::Inbox));
    }
    if !pool.is_developer() {
        candidates.push(Cause::new(Code::CognitoDefault).at(Phase::Trigger));
    }
    candidates.sort_by_key(|d| std::cmp::Reverse(d.outcome().severity()));
    let mut iter = candidates.into_iter();
    match iter.next() {
        Some(first) => {
            notes.extend(iter.map(|d| d.summary));
            first
        }
        None => {
            Cause::new(Code::Delivered).detail(format!("{} in {}", auth.summary, mail.folder)).at(Phase::Authenticate)
        }
    }
}

/// A trusted receiver other than the one pinned by the first trusted run (probe files without authserv-ids).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiverChange {
    pub pinned: String,
    pub now: String,
    pub authserv_id: Option<String>,
}

impl ReceiverChange {
    /// The change, when the probe file names no receiver, a receiver is pinned and this run trusted another.
    pub fn of(probe: &ProbeFile, pinned: Option<&str>, evaluation: &crate::authres::Evaluation) -> Option<Self> {
        if !probe.mailbox.trusted_authserv_ids().is_empty() {
            return None;
        }
        let (pinned, now) = (pinned?, evaluation.receiver()?);
        (pinned != now).then(|| ReceiverChange {
            pinned: pinned.to_string(),
            now,
            authserv_id: evaluation.authserv_id.clone(),
        })
    }
}

/// The authentication finding of a DEVELOPER pool's mail, if any.
fn authentication(auth: &Judgement) -> Option<Cause> {
    let failures = || auth.failures.clone();
    match auth.outcome {
        Outcome::Critical => Some(Cause::new(Code::AuthFailed).detail(auth.summary.clone()).evidence_all(failures())),
        Outcome::Unknown => Some(Cause::new(Code::AuthUnverifiable).detail(auth.summary.clone())),
        Outcome::Warning if auth.spf_unaligned => {
            Some(Cause::new(Code::SpfUnaligned).detail(auth.summary.clone()).evidence_all(failures()))
        }
        Outcome::Warning if auth.receiver_unconfirmed => {
            Some(Cause::new(Code::ReceiverUnconfirmed).detail(auth.summary.clone()).evidence_all(failures()))
        }
        Outcome::Warning => {
            Some(Cause::new(Code::AuthFailed).detail(auth.summary.clone()).evidence_all(failures()).downgraded())
        }
        Outcome::Ok => None,
    }
}

#[cfg(test)]
mod tests;
