//! What happens after Cognito decides to send an email: SES's decision (ses::route), the COGNITO_DEFAULT
//! quota, the Send/Delivery/Bounce metrics, the faults on the way to the receiver, and the write into the
//! Maildir — at once, or later for the delay fault (a queue drained by [`delivery_task`] on the system
//! clock, or by `Twin::advance` on a manual clock).

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tokio_util::sync::CancellationToken;

use crate::cloudwatch::SesMetric;
use crate::faults::RecipientDrop;
use crate::mail::{self, AuthFaults, DkimFault, Folder, Outgoing, ReceiverStyle, Sending};
use crate::scenario::SendingAccount;
use crate::server::AwsError;
use crate::ses::{self, Refusal};
use crate::{Shared, State};

/// Cognito's own sender address (research/aws.md §1.5: "the default FROM is no-reply@verificationemail.com").
pub const COGNITO_DEFAULT_FROM: &str = "no-reply@verificationemail.com";

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
    /// SES sent it (Send rose) but the recipient side dropped it.
    Dropped { bounced: bool },
    /// Sent as SMS (e.g. RESEND without DesiredDeliveryMediums=[EMAIL]); no mail.
    Sms,
    /// The template has no `{####}`: Cognito does not deliver (research/aws.md §1.4).
    TemplateWithoutCode,
    /// The twin could not write the mail.
    Failed { error: String },
}

/// A message waiting for its delivery time.
#[derive(Debug)]
pub struct Pending {
    record: usize,
    due: DateTime<Utc>,
    folder: Folder,
    outgoing: Outgoing,
    configuration_set: Option<String>,
    counts_in_metrics: bool,
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
                    record.outcome = SendOutcome::Refused { reason };
                    state.log.push(record);
                    return Ok(());
                }
            }
        }
    };

    // SES accepted the message: Send rises now, in the account and Region of the identity — only for
    // DEVELOPER mode; COGNITO_DEFAULT mail goes through AWS-managed SES resources (research/aws.md §2.4).
    let configuration_set = route.as_ref().and_then(|r| r.configuration_set.clone());
    let counts = route.is_some();
    if counts {
        state.metrics.record(SesMetric::Send, configuration_set.as_deref(), now);
        state.ses_sent.push(now);
    }

    match faults.recipient_drop {
        RecipientDrop::None => {}
        drop => {
            let bounced = drop == RecipientDrop::Bounce;
            if bounced && counts {
                state.metrics.record(SesMetric::Bounce, configuration_set.as_deref(), now);
            }
            record.outcome = SendOutcome::Dropped { bounced };
            state.log.push(record);
            return Ok(());
        }
    }

    let delay = Duration::seconds(faults.delivery_delay_seconds.min(i64::MAX as u64) as i64);
    let region = route.as_ref().map(|r| r.region.clone()).unwrap_or_else(|| pool.region().to_string());
    let outgoing = Outgoing {
        from,
        reply_to: pool.email.reply_to.clone(),
        to: email.to.clone(),
        subject: email.subject,
        body: email.body,
        sent_at: now,
        delivered_at: now + delay,
        region,
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
    let folder = if faults.junk { Folder::Junk } else { Folder::Inbox };
    let index = state.log.len();
    record.outcome = SendOutcome::Scheduled { due: now + delay };
    state.log.push(record);
    let pending =
        Pending { record: index, due: now + delay, folder, outgoing, configuration_set, counts_in_metrics: counts };
    if delay.is_zero() {
        write(shared, state, pending);
    } else {
        state.pending.push(pending);
        shared.wake.notify_one();
    }
    Ok(())
}

/// Writes one message into the Maildir and records Delivery.
fn write(shared: &Shared, state: &mut State, pending: Pending) {
    let result = mail::compose(&pending.outgoing, &shared.keys)
        .and_then(|bytes| mail::deliver(&shared.maildir, pending.folder, &bytes, pending.outgoing.delivered_at));
    let outcome = match result {
        Ok(path) => {
            if pending.counts_in_metrics {
                state.metrics.record(
                    SesMetric::Delivery,
                    pending.configuration_set.as_deref(),
                    pending.outgoing.delivered_at,
                );
            }
            SendOutcome::Delivered { folder: pending.folder, path, delivered_at: pending.outgoing.delivered_at }
        }
        Err(err) => {
            tracing::error!(%err, "the twin could not write a message");
            SendOutcome::Failed { error: err.to_string() }
        }
    };
    if let Some(record) = state.log.get_mut(pending.record) {
        record.outcome = outcome;
    }
}

/// Delivers every queued message whose time has come.
pub(crate) fn deliver_due(shared: &Shared) {
    let now = shared.clock.now();
    let mut state = shared.lock();
    let (due, waiting): (Vec<Pending>, Vec<Pending>) =
        std::mem::take(&mut state.pending).into_iter().partition(|p| p.due <= now);
    state.pending = waiting;
    for pending in due {
        write(shared, &mut state, pending);
    }
}

/// Drains the delay queue on the system clock until `stop`. On a manual clock it only waits: delivery
/// then happens in `Twin::advance`. Queued mail is abandoned at shutdown.
pub(crate) async fn delivery_task(shared: Arc<Shared>, stop: CancellationToken) {
    loop {
        let wait = if shared.clock.is_manual() {
            None
        } else {
            let next = shared.lock().pending.iter().map(|p| p.due).min();
            next.map(|due| (due - shared.clock.now()).to_std().unwrap_or_default())
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
            deliver_due(&shared);
        }
    }
}
