//! The verdict decisions of a run, as pure functions of what the phases observed: which diagnosis an AWS
//! error is, which side dropped a mail that did not arrive (DESIGN.md §3), and what a delivered mail's
//! Junk folder, authentication, latency and pool configuration add up to (DESIGN.md §6). Table-tested
//! below without any server.

use chrono::{DateTime, Utc};

use super::authenticate::Judgement;
use crate::aws::AwsFailure;
use crate::aws::cognito::{Pool, User};
use crate::aws::events::{EventKind, SesEvent};
use crate::aws::trigger::Trigger;
use crate::config::{JunkVerdict, ProbeFile};
use crate::diagnosis::{Cause, Code, Diagnosis};
use crate::duration;
use crate::report::{MailRecord, QueueStatus, SesEvidence, SesStatus};
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

/// Whether the sender side already decided the run, whatever the inbox may still bring: the address is
/// suppressed; an event record of the probe's message is a Bounce, a Reject or a Rendering Failure; or
/// Cognito logged that it could not hand the message to SES. `None`: keep waiting.
pub fn sender_conclusive(ses: &SesEvidence) -> Option<Cause> {
    if let Some(entry) = ses.suppression.as_ref().filter(|e| !e.during_run) {
        return Some(suppressed(entry));
    }
    // The probe's own records come before a listing they caused: a hard bounce puts the address on the
    // suppression list, but the bounce is the finding.
    for event in &ses.events {
        let at = event.at.map(|t| t.format("%H:%M:%S").to_string()).unwrap_or_default();
        let cause = match &event.kind {
            EventKind::Bounce { bounce_sub_type, .. } if bounce_sub_type == "OnAccountSuppressionList" => {
                Cause::new(Code::Suppressed).detail("SES bounced it: OnAccountSuppressionList")
            }
            EventKind::Bounce { bounce_type, bounce_sub_type, .. } => {
                Cause::new(Code::Bounced).detail(format!("{bounce_type}/{bounce_sub_type}"))
            }
            EventKind::Reject { reason } => {
                Cause::new(Code::Rejected).detail(reason.clone().unwrap_or_else(|| "Bad content".into()))
            }
            EventKind::RenderingFailure { error_message, .. } => {
                Cause::new(Code::RenderingFailed).detail(error_message.clone().unwrap_or_default())
            }
            _ => continue,
        };
        return Some(cause.evidence(format!("SES {} record at {at}: {}", event.kind.name(), event_text(event))));
    }
    if let Some(entry) = &ses.suppression {
        // Listed during the run, without a record saying why: the probe's mail was refused for good.
        let (code, what) = match entry.reason.as_str() {
            "COMPLAINT" => (Code::Suppressed, "a complaint about the probe's mail"),
            _ => (Code::Bounced, "the probe's mail bounced"),
        };
        let mut cause = Cause::new(code).detail(format!("{what}: SES put {} on the suppression list", entry.address));
        cause = cause.evidence(format!(
            "GetSuppressedDestination after the wait: {} (not listed before the trigger)",
            entry.reason
        ));
        if let Some(id) = &entry.message_id {
            cause = cause.evidence(format!("put there by message {id}"));
        }
        return Some(cause.evidence(format!("once the address takes mail again: {}", entry.removal)));
    }
    let first = ses.cognito_errors.first()?;
    let at = first.at.map(|t| t.format("%H:%M:%S").to_string()).unwrap_or_default();
    let logged = format!("Cognito logged at {at}: {}", first.message);
    let cause = if first.is_authorization() {
        Cause::new(Code::TwoPieceGotcha).detail("proven by Cognito's notification log")
    } else {
        Cause::new(Code::CognitoCannotSend).detail("logged by Cognito after the call succeeded")
    };
    Some(cause.evidence(logged))
}

/// An address that was on the suppression list before the run.
fn suppressed(entry: &crate::aws::ses::Suppressed) -> Cause {
    let since = entry.since.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_else(|| "?".into());
    let mut cause = Cause::new(Code::Suppressed)
        .detail(format!("{} ({}, since {since})", entry.address, entry.reason))
        .evidence(format!("GetSuppressedDestination: {} on the account's list since {since}", entry.reason));
    if let Some(id) = &entry.message_id {
        cause = cause.evidence(format!("put there by message {id}"));
    }
    cause.evidence(format!("remove it: {}", entry.removal))
}

/// Notes on a mail that did come: what SES reported on the way (a delay it retried through, a complaint).
pub fn sender_notes(ses: &SesEvidence) -> Vec<String> {
    ses.events
        .iter()
        .filter_map(|event| match &event.kind {
            EventKind::DeliveryDelay { .. } => {
                Some(format!("SES delayed the mail before delivering it: {}", event_text(event)))
            }
            EventKind::Complaint { .. } => {
                Some(format!("the recipient marked the mail as spam: {}", event_text(event)))
            }
            _ => None,
        })
        .collect()
}

/// One line on an event: the fields a reader acts on.
pub fn event_text(event: &SesEvent) -> String {
    let opt = |label: &str, v: &Option<String>| v.as_ref().map(|v| format!("{label} {v}"));
    let parts: Vec<Option<String>> = match &event.kind {
        EventKind::Delivery { smtp_response, reporting_mta, processing_time_millis } => vec![
            opt("receiver answered", smtp_response),
            opt("via", reporting_mta),
            processing_time_millis.map(|ms| format!("after {ms} ms")),
        ],
        EventKind::Bounce { bounce_type, bounce_sub_type, diagnostic_code, status, reporting_mta } => vec![
            Some(format!("{bounce_type}/{bounce_sub_type}")),
            opt("status", status),
            opt("diagnostic", diagnostic_code),
            opt("reported by", reporting_mta),
        ],
        EventKind::DeliveryDelay { delay_type, expiration_time, status, diagnostic_code, reporting_mta } => vec![
            opt("type", delay_type),
            opt("status", status),
            opt("diagnostic", diagnostic_code),
            opt("retried until", expiration_time),
            opt("reported by", reporting_mta),
        ],
        EventKind::Reject { reason } => vec![opt("reason", reason)],
        EventKind::RenderingFailure { error_message, template_name } => {
            vec![opt("template", template_name), opt("error", error_message)]
        }
        EventKind::Complaint { feedback_type, sub_type } => vec![opt("type", feedback_type), opt("subtype", sub_type)],
        EventKind::Send | EventKind::Other(_) => vec![Some(format!("message {}", event.message_id))],
    };
    let text: Vec<String> = parts.into_iter().flatten().collect();
    text.join(", ")
}

/// No mail in time: which side dropped it (DESIGN.md §3), from the strongest evidence there is — the
/// events of the probe's message, then Cognito's logs, then the metrics when (and only when) no other
/// mail of the account can explain them.
pub fn not_delivered(
    pool: &Pool,
    call: Trigger,
    trigger_at: DateTime<Utc>,
    ses: &SesEvidence,
    probe: &ProbeFile,
) -> Diagnosis {
    let waited = duration::show(probe.timeout);
    let accepted = format!("Cognito accepted {call} at {}", trigger_at.format("%H:%M:%S"));
    if let Some(cause) = sender_conclusive(ses) {
        let inbox = if ses.decided_early {
            format!("decided without waiting out the {waited} inbox timeout: no mail can come")
        } else {
            format!("no mail in the watched folders within {waited}")
        };
        return cause.evidence(accepted).evidence(inbox).at(Phase::Ses);
    }
    if let Some(cause) = from_events(ses, probe) {
        let phase = phase_of(&cause);
        return cause.evidence(accepted).evidence(format!("no mail in the watched folders within {waited}")).at(phase);
    }
    let metric = ses.metric.clone().unwrap_or_default();
    let sum = |v: Option<f64>| duration::number(v.unwrap_or_default(), 0);
    let background = ses.background_per_minute.unwrap_or_default();
    match (pool.is_developer(), ses.status, ses.increment_seen, ses.attributable) {
        (true, SesStatus::Checked, _, Some(false)) => {
            let rate = duration::number(background, if background.fract() == 0.0 { 0 } else { 1 });
            Cause::new(Code::SenderUnknown)
                .detail(format!("other mail {rate}/min"))
                .evidence(accepted)
                .evidence(format!(
                    "SES {metric}: {rate} other mails a minute over the {} minutes before the trigger, so its \
                     move after it ({} → {}) cannot be told apart from the probe's message",
                    super::ses::BACKGROUND_MINUTES,
                    sum(ses.baseline),
                    sum(ses.latest)
                ))
                .evidence(format!("no mail in the watched folders within {waited}"))
                .at(Phase::Inbox)
        }
        (true, SesStatus::Checked, true, _) => {
            let mut cause = match (ses.rises.get("Bounce"), ses.rises.get("Reject")) {
                (Some(_), _) => Cause::new(Code::Bounced).detail("AWS/SES Bounce rose"),
                (None, Some(_)) => Cause::new(Code::Rejected).detail("AWS/SES Reject rose"),
                _ => Cause::new(Code::RecipientSide).detail("SES sent"),
            };
            cause = cause
                .evidence(accepted)
                .evidence(format!("SES {metric} rose after the trigger ({} → {})", sum(ses.baseline), sum(ses.latest)))
                .evidence(match ses.attributable {
                    Some(true) => "no other mail was sent in the minutes before: the rise is the probe's message",
                    _ => "the account's other mail before the trigger was not measured",
                });
            for (name, rise) in &ses.rises {
                if name != "Send" {
                    cause = cause.evidence(format!("AWS/SES {name} rose by {}", duration::number(*rise, 0)));
                }
            }
            let phase = if cause.code == Code::RecipientSide { Phase::Inbox } else { Phase::Ses };
            cause.evidence(format!("no mail in the watched folders within {waited}")).at(phase)
        }
        (true, SesStatus::Checked, false, _) if ses.reads > 0 => {
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
        (false, _, _, _) => Cause::new(Code::NotDelivered)
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

fn phase_of(cause: &Cause) -> Phase {
    match cause.code {
        Code::RecipientSide | Code::NotDelivered => Phase::Inbox,
        _ => Phase::Ses,
    }
}

/// What the probe's own event records prove about a mail that did not come, short of
/// [`sender_conclusive`]: the receiver's 250 (recipient side, proven), a delay SES is still retrying, SES
/// accepted it and no more is known yet, or — when the queue is fed (other mail's records came) — no record
/// of it at all: SES never accepted it, the two-piece gotcha proven.
fn from_events(ses: &SesEvidence, probe: &ProbeFile) -> Option<Cause> {
    if ses.events_status != Some(QueueStatus::Read) {
        return None;
    }
    if let Some(delivery) = ses.event("Delivery") {
        return Some(
            Cause::new(Code::RecipientSide)
                .detail("the receiver accepted it")
                .evidence(format!("SES Delivery record: {}", event_text(delivery))),
        );
    }
    if let Some(delay) = ses.event("DeliveryDelay") {
        return Some(
            Cause::new(Code::DeliveryDelayed)
                .detail(delay_type(delay))
                .evidence(format!("SES DeliveryDelay record: {}", event_text(delay))),
        );
    }
    if let Some(send) = ses.event("Send") {
        let at = send.at.or(send.sent_at).map(|t| t.format("%H:%M:%S").to_string()).unwrap_or_default();
        return Some(
            Cause::new(Code::NotDelivered)
                .detail("SES accepted it; no Delivery or Bounce record yet")
                .evidence(format!("SES Send record at {at} (message {})", send.message_id)),
        );
    }
    if ses.foreign_records > 0 {
        let settle = duration::show(probe.cloudwatch.settle);
        return Some(Cause::new(Code::TwoPieceGotcha).detail("no SES record of the message").evidence(format!(
            "no SES Send record for the probe's message within the timeout plus {settle}, while {} records of \
                 other mail came through the same queue: SES never accepted it",
            ses.foreign_records
        )));
    }
    None
}

fn delay_type(event: &SesEvent) -> String {
    match &event.kind {
        EventKind::DeliveryDelay { delay_type: Some(t), .. } => t.clone(),
        _ => "delayed".into(),
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
