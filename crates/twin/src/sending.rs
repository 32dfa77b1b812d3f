//! What happens after Cognito decides to send an email: SES's decision (ses::route), the COGNITO_DEFAULT
//! quota, the account suppression list, the faults on the way to the receiver, the `AWS/SES` metrics, the
//! event records of the pool's configuration set, Cognito's delivery-error log when SES refuses, and the
//! write into the Maildir — at once, or later (a queue of jobs drained by [`delivery_task`] on the system
//! clock, or by `Twin::advance` on a manual clock; [`run_due`] also sends the account's background mail).
//!
//! The life of a message SES accepted (research/ses-events-oauth-emf.md §1–§3):
//! * Send: the metric rises and a Send record is published at acceptance — also for a suppressed address
//!   ("SES will still count it as a send, but delivery is suppressed", §1) and for a message later
//!   rejected or not rendered (§3: Send "may be distinct from the Delivery metric, because messages could
//!   bounce or be rejected").
//! * then one of: Bounce (OnAccountSuppressionList for a listed address; the bounce fault), Reject,
//!   Rendering Failure, DeliveryDelay (then Delivery, a Transient bounce, or nothing yet), or Delivery
//!   when the receiver takes it — with the receiver's `smtpResponse` — optionally followed by a Complaint.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::cloudwatch::SesMetric;
use crate::events::{self, BouncedRecipient, EventType, SentMail};
use crate::faults::{BounceFault, BounceSubType, BounceType, DelayThen, DelayType, RecipientDrop};
use crate::mail::{self, AuthFaults, DkimFault, Folder, Outgoing, ReceiverStyle, Sending, SesSend};
use crate::scenario::{LogGroupArn, Pool, SendingAccount, SuppressionReason};
use crate::server::AwsError;
use crate::ses::{self, Refusal};
use crate::suppression::Entry;
use crate::{Shared, State, background, cognito};

/// Cognito's own sender address (research/aws.md §1.5: "the default FROM is no-reply@verificationemail.com").
pub const COGNITO_DEFAULT_FROM: &str = "no-reply@verificationemail.com";

/// The `ses:caller-identity` of Cognito's sends in DEVELOPER mode: the service-linked role Cognito sends
/// through (research/aws.md §0.2; research/ses-events-oauth-emf.md §1: "`ses:caller-identity` should name
/// Cognito's service-linked role (not checked)").
pub const COGNITO_CALLER_IDENTITY: &str = "AWSServiceRoleForAmazonCognitoIdpEmailService";

/// The `ses:source-ip` of Cognito's calls: an AWS-internal address SES does not document; the twin uses a
/// documentation address (RFC 5737) so nobody mistakes it for a real one.
pub const COGNITO_SOURCE_IP: &str = "192.0.2.15";

/// How long SES keeps retrying a delayed message: SESv2 `DeliveryOptions.MaxDeliverySeconds` is at most
/// 50,400 s (14 hours), the window SES uses when none is set (inference from that limit).
pub const MAX_DELIVERY_SECONDS: i64 = 50_400;

/// A rendered message Cognito wants to send. `Debug` hides the body (it carries the code).
#[derive(Clone)]
pub struct Email {
    pub operation: &'static str,
    pub pool_index: usize,
    pub username: String,
    pub to: String,
    pub subject: String,
    pub body: String,
}

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Email")
            .field("operation", &self.operation)
            .field("username", &self.username)
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("body", &"<redacted>")
            .finish()
    }
}

/// One trigger that reached the sending stage, and what became of it. Never holds the code or password.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SendRecord {
    pub at: DateTime<Utc>,
    pub operation: String,
    pub pool_id: String,
    pub username: String,
    /// The destination address (EMAIL) or phone number (SMS).
    pub to: Option<String>,
    pub outcome: SendOutcome,
    /// How the message was handed to the mail writer, for mail that left SES.
    pub handoff: Option<Handoff>,
    /// The SES message id of mail SES accepted: `mail.messageId` of its event records and the id inside
    /// the delivered `Message-ID`.
    pub message_id: Option<String>,
}

/// What the twin asked the mail writer to produce: sender, receiver style and authentication faults.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Handoff {
    pub from: String,
    pub receiver: ReceiverStyle,
    /// `None` for COGNITO_DEFAULT mail (generic AWS sender).
    pub dkim_domain: Option<String>,
    pub mail_from_domain: Option<String>,
    pub cognito_default: bool,
    pub dkim: DkimFault,
    pub spf_fail: bool,
    pub dmarc_fail: bool,
    pub forged_upstream: bool,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SendOutcome {
    /// Written into the Maildir.
    Delivered { folder: Folder, path: PathBuf, delivered_at: DateTime<Utc> },
    /// Accepted; the receiver takes it at `due` (delay fault).
    Scheduled { due: DateTime<Utc> },
    /// SES refused it; Cognito had answered success.
    Refused { reason: Refusal },
    /// SES sent it (Send rose) but the recipient side dropped it: silently after a 250, or with a bounce.
    Dropped { bounced: bool },
    /// The address is on the account suppression list: accepted, never sent (research §2).
    Suppressed,
    /// The receiver (or SES, giving up on a soft bounce) bounced it.
    Bounced { bounce_type: String, bounce_subtype: String },
    /// SES found a virus and did not send it.
    Rejected,
    /// SES could not render its template.
    RenderingFailed,
    /// SES is retrying; `until` is when the delay ends (`None`: it does not end).
    Delayed { until: Option<DateTime<Utc>> },
    /// Sent as SMS (e.g. RESEND without DesiredDeliveryMediums=[EMAIL]); no mail.
    Sms,
    /// The template has no `{####}`: Cognito does not deliver (research/aws.md §1.4).
    TemplateWithoutCode,
    /// The twin could not write the mail.
    Failed { error: String },
}

/// A message SES accepted, on its way to the receiver.
#[derive(Debug, Clone)]
pub(crate) struct Accepted {
    /// Its entry in the send log.
    record: usize,
    /// The `mail` object of its records; `None` for COGNITO_DEFAULT mail, which goes through
    /// AWS-managed SES: no records and no metrics in the account (research/aws.md §2.4).
    mail: Option<SentMail>,
    ses: SesSend,
    outgoing: Outgoing,
    folder: Folder,
    /// The receiver accepts it (250) and loses it.
    silent_drop: bool,
    /// The receiver takes it this long after SES hands it over.
    receiver_delay: Duration,
    /// The recipient then reports it as spam.
    complaint: bool,
}

impl Accepted {
    fn metric(&self, state: &mut State, metric: SesMetric, at: DateTime<Utc>) {
        if self.mail.is_some() {
            state.metrics.record_account(metric, at);
        }
    }

    fn event(
        &self,
        shared: &Shared,
        state: &mut State,
        event: EventType,
        detail: serde_json::Value,
        at: DateTime<Utc>,
        last: bool,
    ) {
        if let Some(mail) = &self.mail {
            events::publish(shared, state, mail, event, detail, at, last);
        }
    }

    fn outcome(&self, state: &mut State, outcome: SendOutcome) {
        if let Some(r) = state.log.get_mut(self.record) {
            r.outcome = outcome;
        }
    }
}

/// Work for later: a message's next step at `due`.
#[derive(Debug)]
pub struct Pending {
    due: DateTime<Utc>,
    job: Job,
}

#[derive(Debug)]
enum Job {
    /// The receiver takes the message.
    Receive(Box<Accepted>),
    /// The receiver bounces it, or SES gives up.
    Bounce(Box<Accepted>, BounceFault, bool),
    /// A delivery delay ends.
    DelayEnds(Box<Accepted>, DelayThen, DelayType),
}

/// Records a trigger whose outcome is known at once (an SMS, a template without a code).
pub(crate) fn record(
    state: &mut State,
    now: DateTime<Utc>,
    operation: &str,
    pool_id: &str,
    username: &str,
    to: Option<String>,
    outcome: SendOutcome,
) {
    state.log.push(SendRecord {
        at: now,
        operation: operation.to_string(),
        pool_id: pool_id.to_string(),
        username: username.to_string(),
        to,
        outcome,
        handoff: None,
        message_id: None,
    });
}

/// Sends one email the way the pool's configuration really would. Returns an error only where Cognito
/// itself refuses at the API: the COGNITO_DEFAULT daily quota. Every other failure is silent, as on AWS.
pub(crate) fn send(shared: &Shared, state: &mut State, email: Email) -> Result<(), AwsError> {
    let now = shared.clock.now();
    let pool = state.scenario.pools[email.pool_index].clone();
    let faults = state.scenario.faults.clone();
    let mut record = SendRecord {
        at: now,
        operation: email.operation.to_string(),
        pool_id: pool.id.as_str().to_string(),
        username: email.username.clone(),
        to: Some(email.to.clone()),
        outcome: SendOutcome::TemplateWithoutCode,
        handoff: None,
        message_id: None,
    };

    let (sending, from, route) = match pool.email.sending_account {
        SendingAccount::CognitoDefault => {
            // research/aws.md §1.6: 50 emails per day with the default email feature. Past it Cognito
            // answers LimitExceededException "Exceeded daily email limit for the operation or the
            // account. …" [observed: rahulpsd18/cognito-backup-restore#46, Polkadex-Open-Beta#418].
            state.cognito_default_sent.retain(|t| *t > now - Duration::days(1));
            if state.cognito_default_sent.len() >= state.scenario.account.cognito_default_daily_quota as usize {
                return Err(AwsError::new(
                    400,
                    "LimitExceededException",
                    "Exceeded daily email limit for the operation or the account. If a higher limit is required, \
                        please configure your user pool to use your own Amazon SES configuration for sending email.",
                ));
            }
            state.cognito_default_sent.push(now);
            // With a custom FROM (SourceArn), Cognito is a delegate sender and needs the identity policy
            // (research/aws.md §0.2, §3.3); without one it sends from its own generic address.
            let from = if pool.email.source_arn.is_some() {
                match ses::route(&state.scenario, &pool, &email.to, true) {
                    Ok(_) => pool.email.from.clone().unwrap_or_else(|| COGNITO_DEFAULT_FROM.to_string()),
                    Err(reason) => {
                        refused(state, &pool, &email.to, reason, now, true);
                        record.outcome = SendOutcome::Refused { reason };
                        state.log.push(record);
                        return Ok(());
                    }
                }
            } else {
                COGNITO_DEFAULT_FROM.to_string()
            };
            (Sending::CognitoDefault, from, None)
        }
        SendingAccount::Developer => {
            let require_policy = !state.scenario.delivery.developer_without_policy_delivers;
            match ses::route(&state.scenario, &pool, &email.to, require_policy) {
                Ok(route) => {
                    let from = pool.email.from.clone().unwrap_or_else(|| {
                        ses::pool_identity(&state.scenario, &pool).map(|i| i.identity.clone()).unwrap_or_default()
                    });
                    let sending = Sending::Developer {
                        dkim_domain: route.dkim_domain.clone(),
                        mail_from_domain: route.mail_from_domain.clone(),
                    };
                    (sending, from, Some(route))
                }
                Err(reason) => {
                    tracing::info!(pool = %pool.id.as_str(), ?reason, "SES refused the message; Cognito answered \
                        success");
                    refused(state, &pool, &email.to, reason, now, false);
                    record.outcome = SendOutcome::Refused { reason };
                    state.log.push(record);
                    return Ok(());
                }
            }
        }
    };

    let region = route.as_ref().map(|r| r.region.clone()).unwrap_or_else(|| pool.region().to_string());
    let ses = SesSend::new(&region, now);
    let receiver_delay = Duration::seconds(faults.delivery_delay_seconds.min(i64::MAX as u64) as i64);
    let outgoing = Outgoing {
        from,
        reply_to: pool.email.reply_to.clone(),
        to: email.to.clone(),
        subject: email.subject,
        body: email.body,
        sent_at: now,
        delivered_at: now + receiver_delay,
        region: region.clone(),
        sending,
        receiver: state.scenario.delivery.receiver,
        auth: AuthFaults {
            dkim: faults.dkim,
            spf_fail: faults.spf_fail,
            dmarc_fail: faults.dmarc_fail,
            forged_upstream: faults.forged_upstream,
        },
    };
    let (dkim_domain, mail_from_domain) = match &outgoing.sending {
        Sending::Developer { dkim_domain, mail_from_domain } => (dkim_domain.clone(), mail_from_domain.clone()),
        Sending::CognitoDefault => (None, None),
    };
    record.handoff = Some(Handoff {
        from: outgoing.from.clone(),
        receiver: outgoing.receiver,
        dkim_domain,
        mail_from_domain,
        cognito_default: outgoing.sending == Sending::CognitoDefault,
        dkim: outgoing.auth.dkim,
        spf_fail: outgoing.auth.spf_fail,
        dmarc_fail: outgoing.auth.dmarc_fail,
        forged_upstream: outgoing.auth.forged_upstream,
    });
    record.message_id = Some(ses.message_id.clone());
    // SES accepted the message: it counts in the account and Region of the identity — only for DEVELOPER
    // mode; COGNITO_DEFAULT mail goes through AWS-managed SES resources (research/aws.md §2.4).
    let mail = route.map(|route| {
        let identity_arn = ses::pool_identity(&state.scenario, &pool).map(|i| state.scenario.identity_arn(i));
        SentMail {
            message_id: ses.message_id.clone(),
            timestamp: now,
            source: outgoing.from.clone(),
            source_arn: identity_arn.unwrap_or_default(),
            sending_account_id: state.scenario.account.id.as_str().to_string(),
            destination: vec![email.to.clone()],
            headers: original_headers(&outgoing),
            subject: outgoing.subject.clone(),
            reply_to: outgoing.reply_to.clone(),
            date: rfc5322(now),
            configuration_set: route.configuration_set.clone(),
            region: region.clone(),
            outbound_host: ses.host.clone(),
            outbound_ip: ses.ip.clone(),
            caller_identity: COGNITO_CALLER_IDENTITY.to_string(),
            source_ip: COGNITO_SOURCE_IP.to_string(),
        }
    });
    let index = state.log.len();
    state.log.push(record);
    let accepted = Accepted {
        record: index,
        mail,
        ses,
        outgoing,
        folder: if faults.junk { Folder::Junk } else { Folder::Inbox },
        silent_drop: faults.recipient_drop == RecipientDrop::Silent,
        receiver_delay,
        complaint: faults.complaint,
    };
    accept(shared, state, accepted, now);
    Ok(())
}

/// The headers of the message as Cognito handed it to SES, in order (records' `mail.headers`).
fn original_headers(o: &Outgoing) -> Vec<(String, String)> {
    let mut h = vec![("From".to_string(), o.from.clone())];
    if let Some(r) = &o.reply_to {
        h.push(("Reply-To".into(), r.clone()));
    }
    h.push(("To".into(), o.to.clone()));
    h.push(("Subject".into(), o.subject.clone()));
    h.push(("MIME-Version".into(), "1.0".into()));
    h.push(("Content-Type".into(), "text/plain; charset=UTF-8".into()));
    h
}

fn rfc5322(t: DateTime<Utc>) -> String {
    t.format("%a, %-d %b %Y %H:%M:%S +0000").to_string()
}

/// What SES does with a message it accepted, from the Send onwards.
fn accept(shared: &Shared, state: &mut State, msg: Accepted, now: DateTime<Utc>) {
    let faults = state.scenario.faults.clone();
    msg.metric(state, SesMetric::Send, now);
    if msg.mail.is_some() {
        state.ses_sent.push(now);
    }
    msg.event(shared, state, EventType::Send, json!({}), now, false);

    // research §2: a listed address — "SES accepts the message, but doesn't send it" — and the Bounce
    // record says OnAccountSuppressionList. The account's list only applies to the account's own sends.
    if msg.mail.is_some() && state.suppression.get(&msg.outgoing.to).is_some() {
        suppressed_bounce(shared, state, &msg, now);
        msg.outcome(state, SendOutcome::Suppressed);
        return;
    }
    if faults.reject {
        msg.metric(state, SesMetric::Reject, now);
        msg.event(shared, state, EventType::Reject, events::reject(), now, true);
        msg.outcome(state, SendOutcome::Rejected);
        return;
    }
    if faults.rendering_failure {
        // Cognito sends rendered messages, not SES templates: the twin names the failing template after
        // the pool and the trigger (inference; research §1 `failure.templateName`).
        let template = state.log.get(msg.record).map(|r| format!("{}-{}", r.pool_id, r.operation)).unwrap_or_default();
        msg.metric(state, SesMetric::RenderingFailure, now);
        msg.event(shared, state, EventType::RenderingFailure, events::rendering_failure(&template), now, true);
        msg.outcome(state, SendOutcome::RenderingFailed);
        return;
    }
    if let Some(delay) = faults.delivery_delay {
        let until = now + Duration::seconds(delay.after_seconds.min(i64::MAX as u64 / 2) as i64);
        let expiration =
            if delay.then == DelayThen::Bounce { until } else { now + Duration::seconds(MAX_DELIVERY_SECONDS) };
        let (status, diagnostic) = delay_dsn(delay.delay_type);
        if let Some(mail) = &msg.mail {
            let detail = events::delivery_delay(mail, now, delay.delay_type.as_str(), status, diagnostic, expiration);
            msg.metric(state, SesMetric::DeliveryDelay, now);
            msg.event(shared, state, EventType::DeliveryDelay, detail, now, delay.then == DelayThen::Pending);
        }
        let pending = delay.then == DelayThen::Pending;
        msg.outcome(state, SendOutcome::Delayed { until: (!pending).then_some(until) });
        if !pending {
            schedule(shared, state, until, Job::DelayEnds(Box::new(msg), delay.then, delay.delay_type));
        }
        return;
    }
    let bounce = match (faults.bounce, faults.recipient_drop) {
        (Some(b), _) => Some((b, false)),
        (None, RecipientDrop::Bounce) => {
            Some((BounceFault { bounce_type: BounceType::Permanent, subtype: None, after_seconds: 0 }, true))
        }
        _ => None,
    };
    if let Some((b, drop)) = bounce {
        if b.after_seconds == 0 {
            bounced(shared, state, &msg, b, drop, now);
        } else {
            let due = now + Duration::seconds(b.after_seconds.min(i64::MAX as u64 / 2) as i64);
            msg.outcome(state, SendOutcome::Scheduled { due });
            schedule(shared, state, due, Job::Bounce(Box::new(msg), b, drop));
        }
        return;
    }
    receive(shared, state, msg, now);
}

/// SES hands the message over at `at`; the receiver takes it after its own delay.
fn receive(shared: &Shared, state: &mut State, mut msg: Accepted, at: DateTime<Utc>) {
    let due = at + msg.receiver_delay;
    msg.outgoing.delivered_at = due;
    if due <= shared.clock.now() {
        delivered(shared, state, msg);
    } else {
        msg.outcome(state, SendOutcome::Scheduled { due });
        schedule(shared, state, due, Job::Receive(Box::new(msg)));
    }
}

fn schedule(shared: &Shared, state: &mut State, due: DateTime<Utc>, job: Job) {
    state.pending.push(Pending { due, job });
    shared.wake.notify_one();
}

/// The receiver took the message (250): write it (unless the recipient side loses it), Delivery rises
/// and is published; then a complaint, if the recipient makes one.
fn delivered(shared: &Shared, state: &mut State, msg: Accepted) {
    let at = msg.outgoing.delivered_at;
    let written = if msg.silent_drop {
        Ok((None, 0))
    } else {
        mail::compose_with(&msg.outgoing, &shared.keys, &msg.ses).and_then(|bytes| {
            mail::deliver(&shared.maildir, msg.folder, &bytes, at).map(|path| (Some(path), bytes.len()))
        })
    };
    let (path, bytes) = match written {
        Ok(w) => w,
        Err(err) => {
            tracing::error!(%err, "the twin could not write a message");
            msg.outcome(state, SendOutcome::Failed { error: err.to_string() });
            return;
        }
    };
    msg.metric(state, SesMetric::Delivery, at);
    if let Some(mail) = &msg.mail {
        let smtp =
            mail::smtp_response(msg.outgoing.receiver, &msg.ses.message_id_header(&mail.region), at, bytes.max(1024));
        msg.event(shared, state, EventType::Delivery, events::delivery(mail, at, &smtp), at, !msg.complaint);
    }
    msg.outcome(
        state,
        match path {
            Some(path) => SendOutcome::Delivered { folder: msg.folder, path, delivered_at: at },
            None => SendOutcome::Dropped { bounced: false },
        },
    );
    if msg.complaint
        && let Some(mail) = &msg.mail
    {
        let feedback = mail::feedback_id(&mail.region, at);
        msg.metric(state, SesMetric::Complaint, at);
        msg.event(shared, state, EventType::Complaint, events::complaint(mail, at, at, &feedback), at, true);
        // The account lists complaining addresses (suppression on for COMPLAINT, research §2).
        state.suppression.put(Entry {
            email: msg.outgoing.to.clone(),
            reason: SuppressionReason::Complaint,
            last_update_time: at,
            message_id: Some(mail.message_id.clone()),
            feedback_id: Some(feedback),
        });
    }
}

/// The DSN of a bounced recipient: (status, diagnosticCode). General is the SES developer guide's example
/// (`5.1.1`, `smtp; 550 5.1.1 user unknown`); Suppressed is SES's own text (research §2); the others are
/// receivers' usual wording for the subtype (inference).
fn bounce_dsn(subtype: BounceSubType) -> Option<(&'static str, &'static str)> {
    Some(match subtype {
        BounceSubType::Undetermined => return None,
        BounceSubType::General => ("5.1.1", "smtp; 550 5.1.1 user unknown"),
        BounceSubType::NoEmail => {
            ("5.1.1", "smtp; 550 5.1.1 The email account that you tried to reach does not exist.")
        }
        BounceSubType::Suppressed => ("5.1.1", GLOBAL_SUPPRESSED_DIAGNOSTIC),
        BounceSubType::OnAccountSuppressionList => ("5.1.1", SUPPRESSED_DIAGNOSTIC),
        BounceSubType::MailboxFull => {
            ("5.2.2", "smtp; 552 5.2.2 The email account that you tried to reach is over quota.")
        }
        BounceSubType::MessageTooLarge => ("5.3.4", "smtp; 552 5.3.4 Message size exceeds fixed maximum message size"),
        BounceSubType::ContentRejected => ("5.7.1", "smtp; 550 5.7.1 Message rejected because of its content"),
        BounceSubType::AttachmentRejected => (
            "5.7.0",
            "smtp; 552 5.7.0 This message was blocked because its attachment \
            presents a potential security issue.",
        ),
    })
}

/// research §2: the diagnosticCode of an OnAccountSuppressionList bounce (two independent payloads).
pub const SUPPRESSED_DIAGNOSTIC: &str = "Amazon SES did not send the message to this address because it is on the \
    suppression list for your account. For more information about removing addresses from the suppression list, see \
    the Amazon SES Developer Guide at \
    https://docs.aws.amazon.com/ses/latest/DeveloperGuide/sending-email-suppression-list.html";

/// research §2: the global list's bounce, "Amazon SES has suppressed sending to this …" (pastebin payload).
pub const GLOBAL_SUPPRESSED_DIAGNOSTIC: &str = "Amazon SES has suppressed sending to this address because it has a \
    recent history of bouncing as an invalid address. For more information about how to remove an address from the \
    suppression list, see the Amazon SES Developer Guide: \
    http://docs.aws.amazon.com/ses/latest/DeveloperGuide/remove-from-suppressionlist.html";

/// research §2: a listed address gets a Permanent / OnAccountSuppressionList bounce, status 5.1.1, the
/// documented diagnosticCode, reportingMTA `dns; amazonses.com`. The account-level Bounce metric does not
/// rise: the bounce table says such bounces do "not count toward your bounce rate metric" and VDM's
/// PERMANENT_BOUNCE excludes them, so the twin leaves AWS/SES Bounce flat and a probe cannot lean on it
/// (research §3: "Don't rely on AWS/SES Bounce to detect suppression", inference). A CloudWatch
/// destination of the set still counts the published Bounce event.
fn suppressed_bounce(shared: &Shared, state: &mut State, msg: &Accepted, at: DateTime<Utc>) {
    let Some(mail) = &msg.mail else { return };
    let recipient =
        BouncedRecipient { email: msg.outgoing.to.clone(), dsn: Some(("5.1.1".into(), SUPPRESSED_DIAGNOSTIC.into())) };
    let feedback = mail::feedback_id(&mail.region, at);
    let detail = events::bounce(
        at,
        "Permanent",
        "OnAccountSuppressionList",
        &[recipient],
        Some("dns; amazonses.com"),
        &feedback,
    );
    msg.event(shared, state, EventType::Bounce, detail, at, true);
}

/// A bounce (research §1 `bounce`): Bounce rises; a Permanent bounce puts the address on the account's
/// suppression list (suppression on for BOUNCE, research §2). `drop`: the `recipient_drop = "bounce"`
/// fault, which keeps its own outcome.
fn bounced(shared: &Shared, state: &mut State, msg: &Accepted, b: BounceFault, drop: bool, at: DateTime<Utc>) {
    let subtype = b.subtype();
    msg.metric(state, SesMetric::Bounce, at);
    if let Some(mail) = &msg.mail {
        let dsn = bounce_dsn(subtype).map(|(s, d)| (s.to_string(), d.to_string()));
        // research §1: reportingMTA only with a DSN; `dns; <host>` as a live notification shows it, and
        // SES's own `dns; amazonses.com` when it bounces from a suppression list.
        let mta = match subtype {
            BounceSubType::Undetermined => None,
            BounceSubType::Suppressed => Some("dns; amazonses.com".to_string()),
            _ => Some(format!("dns; {}", msg.ses.host)),
        };
        let recipient = BouncedRecipient { email: msg.outgoing.to.clone(), dsn };
        let feedback = mail::feedback_id(&mail.region, at);
        let detail =
            events::bounce(at, b.bounce_type.as_str(), subtype.as_str(), &[recipient], mta.as_deref(), &feedback);
        msg.event(shared, state, EventType::Bounce, detail, at, true);
        if b.bounce_type == BounceType::Permanent {
            state.suppression.put(Entry {
                email: msg.outgoing.to.clone(),
                reason: SuppressionReason::Bounce,
                last_update_time: at,
                message_id: Some(mail.message_id.clone()),
                feedback_id: Some(feedback),
            });
        }
    }
    let outcome = if drop {
        SendOutcome::Dropped { bounced: true }
    } else {
        SendOutcome::Bounced { bounce_type: b.bounce_type.as_str().into(), bounce_subtype: subtype.as_str().into() }
    };
    msg.outcome(state, outcome);
}

/// The delayed recipient's (status, diagnosticCode) per delayType: TransientCommunicationFailure is the SES
/// developer guide's example (`4.4.1`, `smtp; 421 4.4.1 Unable to connect to remote host`); the others
/// follow the documented meaning of each type (inference).
fn delay_dsn(t: DelayType) -> (&'static str, &'static str) {
    match t {
        DelayType::TransientCommunicationFailure => ("4.4.1", "smtp; 421 4.4.1 Unable to connect to remote host"),
        DelayType::InternalFailure => ("4.0.0", "Amazon SES experienced an internal failure and will retry"),
        DelayType::General => ("4.0.0", "smtp; 451 4.0.0 Temporary failure, please try again later"),
        DelayType::MailboxFull => ("4.2.2", "smtp; 452 4.2.2 The email account that you tried to reach is over quota"),
        DelayType::SpamDetected => ("4.7.0", "smtp; 421 4.7.0 Unusual rate of unsolicited mail from your IP, deferred"),
        DelayType::RecipientServerError => ("4.3.0", "smtp; 451 4.3.0 Temporary server error, please try again later"),
        DelayType::IpFailure => ("4.7.1", "smtp; 421 4.7.1 Connection refused: the sending IP is throttled"),
        DelayType::ByoipHostNameLookupUnavailable => ("4.4.3", "Unable to look up the DNS hostname of the sending IP"),
        DelayType::Undetermined => ("4.0.0", "Amazon SES could not determine the reason for the delay"),
        DelayType::SendingDeferral => ("4.0.0", "Amazon SES deferred sending the message"),
    }
}

/// SES refused a message Cognito handed over. Where the pool exports its message-delivery errors,
/// Cognito writes a userNotification ERROR record with SES's error into the log group (research §6).
fn refused(state: &mut State, pool: &Pool, to: &str, reason: Refusal, now: DateTime<Utc>, delegate: bool) {
    let Some(delivery) = &pool.log_delivery else { return };
    let Some(arn) = LogGroupArn::parse(&delivery.log_group_arn) else { return };
    let details = ses::refusal_message(&state.scenario, pool, to, reason, delegate);
    let record = cognito::notification_error(pool.id.as_str(), &state.scenario.pool_arn(pool), now, &details);
    let group = arn.name.to_string();
    // The stream of Cognito's deliveries is the pool's (the vended-log stream name is not documented;
    // inference).
    state.logs.append(&group, pool.id.as_str(), now.timestamp_millis(), record.to_string(), now);
}

/// Runs every job whose time has come and the background mail due by now.
pub(crate) fn run_due(shared: &Shared) {
    let now = shared.clock.now();
    let mut state = shared.lock();
    background::run_due(shared, &mut state, now);
    // Oldest first, so a message's steps (a delay ending, then its delivery) keep their order.
    while let Some(i) =
        state.pending.iter().enumerate().filter(|(_, p)| p.due <= now).min_by_key(|(_, p)| p.due).map(|(i, _)| i)
    {
        let pending = state.pending.remove(i);
        run_job(shared, &mut state, pending);
    }
}

fn run_job(shared: &Shared, state: &mut State, Pending { due, job }: Pending) {
    match job {
        Job::Receive(msg) => delivered(shared, state, *msg),
        Job::Bounce(msg, b, drop) => bounced(shared, state, &msg, b, drop, due),
        Job::DelayEnds(msg, DelayThen::Delivered, _) => receive(shared, state, *msg, due),
        Job::DelayEnds(msg, DelayThen::Bounce, delay_type) => {
            // SES gives up: the soft bounce it stopped retrying (research §1: "soft bounces are only
            // included when SES fails to deliver the email after retrying").
            let subtype =
                if delay_type == DelayType::MailboxFull { BounceSubType::MailboxFull } else { BounceSubType::General };
            let b = BounceFault { bounce_type: BounceType::Transient, subtype: Some(subtype), after_seconds: 0 };
            bounced(shared, state, &msg, b, false, due);
        }
        Job::DelayEnds(_, DelayThen::Pending, _) => {}
    }
}

/// When [`run_due`] next has something to do.
fn next_due(shared: &Shared) -> Option<DateTime<Utc>> {
    let state = shared.lock();
    let job = state.pending.iter().map(|p| p.due).min();
    match (job, state.background.next) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Drains the job queue and the background traffic on the system clock until `stop`. On a manual clock it
/// only waits: the work then happens in `Twin::advance`. Queued mail is abandoned at shutdown.
pub(crate) async fn delivery_task(shared: Arc<Shared>, stop: CancellationToken) {
    loop {
        let wait = if shared.clock.is_manual() {
            None
        } else {
            next_due(&shared).map(|due| (due - shared.clock.now()).to_std().unwrap_or_default())
        };
        let sleep = async {
            match wait {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = shared.wake.notified() => {}
            _ = sleep => {}
        }
        if !shared.clock.is_manual() {
            run_due(&shared);
        }
    }
}
