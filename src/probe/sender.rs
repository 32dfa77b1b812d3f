//! The ses phase: everything the sender side shows about the probe's message (DESIGN.md §3,
//! research/ses-events-oauth-emf.md §1–§3, §6), strongest first:
//!
//! * the account suppression list (`[suppression]`, on by default): one `GetSuppressedDestination` before
//!   the trigger — a suppressed address gets no mail, so the run ends CRITICAL `suppressed` without
//!   sending — and again after a mail that did not come;
//! * the SES event records of the probe's own message (`[ses_events]`): Send, Delivery (the receiving
//!   MTA's answer), Bounce, Reject, Rendering Failure, DeliveryDelay;
//! * Cognito's notification error logs (`[cognito_logs]`, when the pool exports them): the error SES gave
//!   Cognito, which the trigger call never shows;
//! * the `AWS/SES` metrics ([`super::ses::Checkpoint`]), honest about the account's other mail.
//!
//! Beside the inbox wait, [`Sender::watch`] reads the events, the logs and the metrics until the mail is
//! found, the evidence is conclusive ([`super::decide::sender_conclusive`]: a bounce, a reject, a rendering
//! failure, a logged error — the run then ends at once, without waiting out the timeout), or the timeout
//! plus `settle` passed. After the mail is found it still reads the events a little while for the
//! Delivery record, so a healthy run reports the whole sender timeline.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::clock::Step;
use super::ses::Checkpoint;
use crate::aws::Clients;
use crate::aws::cognito::Pool;
use crate::aws::events::Interest;
use crate::aws::ses::Suppressed;
use crate::aws::sqs::EventQueue;
use crate::config::ProbeFile;
use crate::diagnosis::Cause;
use crate::report::{QueueStatus, SesEvidence};
use crate::verdict::Mark;

/// After the mail is found, how long the event queue is still read for its Delivery record (SES publishes
/// it when the receiver answers 250, before the mail can be seen). The run holds its mailbox meanwhile, so
/// this stays short; a Delivery record later than this only leaves the timeline without its receiver hop.
pub const TIMELINE_GRACE: Duration = Duration::from_secs(3);

/// How often Cognito's logs are read while waiting (FilterLogEvents is cheap; its quota is 25 TPS).
const LOG_POLL: Duration = Duration::from_secs(2);

/// The sender-side sources of one run.
pub struct Sender {
    pub checkpoint: Option<Checkpoint>,
    queue: Option<EventQueue>,
    /// SES clients in the Region of the pool's SourceArn.
    ses: Clients,
    /// Clients in the pool's Region: Cognito delivers its logs to a group there.
    cognito: Clients,
    logs: Option<String>,
    suppression: bool,
    recipient: String,
    /// The Region SES is read in (the suppression list is per Region).
    ses_region: String,
    pool_id: String,
    /// The pool's configuration set: only its records show that the queue is fed.
    configuration_set: Option<String>,
    /// How often the metric and the logs are read.
    poll: Duration,
}

impl Sender {
    /// The sources this probe file and pool have; notes say what is left out and why.
    pub async fn prepare(
        probe: &ProbeFile,
        pool: &Pool,
        clients: &Clients,
        recipient: &str,
        notes: &mut Vec<String>,
    ) -> Sender {
        let ses = pool.ses_region().map(|r| clients.in_ses_region(r)).unwrap_or_else(|| clients.clone());
        let queue = match (&probe.ses_events, &pool.configuration_set) {
            (Some(settings), Some(_)) => Some(EventQueue::new(ses.sqs.clone(), settings.clone())),
            (Some(_), None) => {
                notes.push(
                    "[ses_events] not read: the pool sends through no configuration set, so SES publishes no \
                     records of its mail"
                        .into(),
                );
                None
            }
            (None, _) => None,
        };
        let logs = if !probe.cognito_logs.enabled {
            None
        } else if let Some(group) = &probe.cognito_logs.log_group {
            Some(crate::aws::cognito_logs::group_name(group).to_string())
        } else {
            match clients.notification_log_group(&probe.pool_id).await {
                Ok(group) => group,
                Err(e) => {
                    notes.push(format!("Cognito notification logs not read: {e}"));
                    None
                }
            }
        };
        let mut checkpoint = Checkpoint::of(probe, pool, clients);
        if probe.cloudwatch.configuration_set.is_none()
            && let Some(c) = checkpoint.take()
        {
            checkpoint = Some(per_set_or_account(c, &ses, notes).await);
        }
        Sender {
            checkpoint,
            queue,
            ses,
            cognito: clients.clone(),
            logs,
            suppression: probe.suppression.check && pool.is_developer(),
            recipient: recipient.to_string(),
            ses_region: pool.ses_region().map(str::to_string).unwrap_or_else(|| probe.region()),
            pool_id: probe.pool_id.clone(),
            configuration_set: pool.configuration_set.clone(),
            poll: probe.cloudwatch.poll_interval,
        }
    }

    /// Whether anything of the sender side is read at all.
    pub fn any(&self) -> bool {
        self.checkpoint.is_some() || self.queue.is_some() || self.logs.is_some() || self.suppression
    }

    /// Before the trigger: the suppression list, then the metric baseline. A suppressed address is a
    /// verdict (nothing would ever arrive); any other failure to read is a note.
    pub async fn before_trigger(
        &self,
        window_start: DateTime<Utc>,
        own: &[DateTime<Utc>],
    ) -> Result<Step<SesEvidence>, Cause> {
        let mut evidence = match &self.checkpoint {
            Some(c) => c.baseline(window_start, own).await?.value,
            None => SesEvidence::default(),
        };
        evidence.cognito_log_group = self.logs.clone();
        if let Some(group) = &self.logs {
            // The baseline of the log, as of the inbox: what is there before the trigger is not this run's.
            let since = window_start - crate::aws::events::SKEW;
            match self.cognito.delivery_errors(group, &self.pool_id, since).await {
                Ok(errors) => evidence.cognito_before = errors,
                Err(e) => {
                    // Said once; the run goes on with the other sources.
                    evidence.notes.push(format!("Cognito's delivery-error log {group} not read: {e}"));
                    evidence.cognito_log_group = None;
                }
            }
        }
        evidence.events_status = self.queue.as_ref().map(|_| QueueStatus::Read);
        let mut unlisted = false;
        if self.suppression {
            match self.ses.suppressed(&self.recipient, &self.ses_region).await {
                Ok(Some(entry)) => {
                    evidence.suppression = Some(entry);
                    if let Some(cause) = super::decide::sender_conclusive(&evidence) {
                        return Err(cause);
                    }
                }
                Ok(None) => unlisted = true,
                Err(e) => evidence.notes.push(format!("suppression list not read: {e}")),
            }
        }
        let mut parts = Vec::new();
        if let Some(m) = &evidence.metric {
            let rate = evidence.background_per_minute.unwrap_or_default();
            parts.push(format!(
                "baseline {m} = {}, other mail {}/min",
                crate::duration::number(evidence.baseline.unwrap_or(0.0), 0),
                crate::duration::number(rate, if rate.fract() == 0.0 { 0 } else { 1 })
            ));
        }
        if unlisted {
            parts.push("not on the suppression list".into());
        }
        if self.queue.is_some() {
            parts.push("event queue ready".into());
        }
        if let Some(g) = &self.logs {
            parts.push(format!("Cognito logs {g}"));
        }
        Ok(Step::ok(evidence, parts.join("; ")))
    }

    /// After a mail that did not come: whether the address got onto the suppression list meanwhile (the
    /// probe's own mail bounced).
    pub async fn after_timeout(&self, evidence: &mut SesEvidence) {
        if self.suppression
            && evidence.suppression.is_none()
            && let Ok(Some(entry)) = self.ses.suppressed(&self.recipient, &self.ses_region).await
        {
            // The check before the trigger found nothing: the probe's own mail bounced (or drew a
            // complaint) and SES listed the address since.
            evidence.suppression = Some(Suppressed { during_run: true, ..entry });
        }
    }

    /// Reads every source beside the inbox wait (see the module docs). `found` says how the wait is going
    /// (the SES messageId of the mail once the inbox has it); `conclusive` is cancelled when the evidence
    /// decides the run.
    pub async fn watch(
        &self,
        evidence: SesEvidence,
        trigger_at: DateTime<Utc>,
        window_start: DateTime<Utc>,
        until: tokio::time::Instant,
        found: watch::Receiver<Waited>,
        conclusive: &CancellationToken,
    ) -> Result<Step<SesEvidence>, Cause> {
        let stop = CancellationToken::new();
        let metric = {
            let (start, stop) = (evidence.clone(), &stop);
            async move {
                match &self.checkpoint {
                    Some(c) if start.baseline.is_some() => {
                        c.watch(start, window_start, until, stop).await.ok().map(|s| s.value)
                    }
                    _ => None,
                }
            }
        };
        let mut live = evidence;
        let reading = self.read_events_and_logs(&mut live, trigger_at, until, found, conclusive, &stop);
        let (metric_evidence, unreadable) = tokio::join!(metric, reading);
        let mut evidence = metric_evidence.unwrap_or_else(|| live.clone());
        evidence.events = live.events;
        evidence.cognito_errors = live.cognito_errors;
        evidence.foreign_records = live.foreign_records;
        evidence.events_status = live.events_status;
        evidence.suppression = live.suppression;
        evidence.cognito_log_group = live.cognito_log_group;
        evidence.notes = live.notes;
        evidence.decided_early = live.decided_early;
        let mut detail = summary(&evidence);
        if !unreadable.is_empty() {
            let shown: Vec<&str> = unreadable.iter().take(3).map(String::as_str).collect();
            let more = if unreadable.len() > 3 { format!(" and {} more", unreadable.len() - 3) } else { String::new() };
            let line = format!("{} queue messages are not SES records: {}{more}", unreadable.len(), shown.join("; "));
            detail.push_str(&format!("; {line}"));
            evidence.notes.push(line);
        }
        let mark = if super::decide::sender_conclusive(&evidence).is_some() { Mark::Fail } else { Mark::Ok };
        Ok(Step::marked(evidence, mark, detail))
    }

    /// The event queue and the logs, until the evidence is conclusive, the mail's Delivery record came
    /// (or [`TIMELINE_GRACE`] passed) after it was found, the receiver's acceptance is proven after the
    /// wait gave up, or `until`. Returns what could not be read.
    async fn read_events_and_logs(
        &self,
        live: &mut SesEvidence,
        trigger_at: DateTime<Utc>,
        until: tokio::time::Instant,
        mut found: watch::Receiver<Waited>,
        conclusive: &CancellationToken,
        stop_metric: &CancellationToken,
    ) -> Vec<String> {
        let mut interest = Interest { recipient: self.recipient.clone(), not_before: trigger_at, message_id: None };
        let mut unreadable: Vec<String> = Vec::new();
        // SQS message ids already counted: a shared queue hands the same records back every few seconds.
        let (mut foreign, mut unreadable_ids) = (HashSet::new(), HashSet::new());
        let since = trigger_at - crate::aws::events::SKEW;
        let (mut grace_until, mut gave, mut queue_ok, mut logs_ok) = (None, false, true, true);
        let mut next_log = tokio::time::Instant::now();
        let mut last = Waited::Pending;
        loop {
            let now = tokio::time::Instant::now();
            let deadline = grace_until.unwrap_or(until);
            if now >= deadline || conclusive.is_cancelled() {
                break;
            }
            let current = found.borrow().clone();
            if current != last {
                last = current.clone();
                match current {
                    Waited::Found(id) => {
                        stop_metric.cancel();
                        if self.queue.is_none() || !queue_ok {
                            // Nothing more to learn: the logs and metrics only matter for a missing mail.
                            break;
                        }
                        interest.message_id = id;
                        live.events.retain(|e| interest.matches(e));
                        grace_until = Some((now + TIMELINE_GRACE).min(until));
                    }
                    Waited::Gave => gave = true,
                    Waited::Lost => break,
                    Waited::Pending => {}
                }
            }
            let delivered = live.has_event("Delivery");
            if (grace_until.is_some() || gave) && delivered {
                // Found: the timeline is complete. Not found: the receiver's 250 proves the recipient side.
                stop_metric.cancel();
                break;
            }
            if let Some(group) = &live.cognito_log_group.clone()
                && logs_ok
                && grace_until.is_none()
                && now >= next_log
            {
                next_log = now + LOG_POLL;
                match self.cognito.delivery_errors(group, &self.pool_id, since).await {
                    Ok(errors) => {
                        live.cognito_errors = errors.into_iter().filter(|e| !live.cognito_before.contains(e)).collect()
                    }
                    Err(e) => {
                        // Said once; the run goes on with the other sources.
                        live.notes.push(format!("Cognito's delivery-error log {group} not read: {e}"));
                        logs_ok = false;
                    }
                }
            }
            let wait = self.poll.min(LOG_POLL).min(deadline.saturating_duration_since(now));
            match &self.queue {
                Some(queue) if queue_ok => match queue.poll(&interest, wait).await {
                    Ok(polled) => {
                        for record in polled.foreign {
                            // Only the same set's records of mail sent since the trigger show that the
                            // queue was fed while the probe's message should have come through it.
                            let same_set = record.configuration_set.is_none()
                                || record.configuration_set == self.configuration_set;
                            let recent = record.sent_at.is_some_and(|t| t >= since);
                            if same_set && recent && foreign.insert(record.id) {
                                live.foreign_records += 1;
                            }
                        }
                        for (id, why) in polled.unreadable {
                            if unreadable_ids.insert(id.clone()) {
                                unreadable.push(format!("queue message {id}: {why}"));
                            }
                        }
                        for event in polled.events {
                            // Records are delivered at least once: a repeat is dropped.
                            if !live.events.contains(&event) {
                                live.events.push(event);
                            }
                        }
                        live.events.sort_by_key(|e| e.at);
                    }
                    Err(e) => {
                        queue_ok = false;
                        live.events_status = Some(QueueStatus::Unavailable(e.to_string()));
                        live.notes.push(format!("SES event queue {} not read: {e}", queue.url()));
                    }
                },
                _ => {
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = found.changed() => {}
                    }
                }
            }
            if grace_until.is_none() && super::decide::sender_conclusive(live).is_some() {
                live.decided_early = !gave;
                conclusive.cancel();
                stop_metric.cancel();
                break;
            }
        }
        unreadable
    }
}

/// The pool's configuration set has `ses:configuration-set` metrics only when one of its event
/// destinations is CloudWatch and matches SEND (research/aws.md §2.1); without one its series stays empty
/// and a flat line would read as "SES never sent". Such a set, or one whose destinations cannot be read,
/// falls back to the account-level metric, with a note.
async fn per_set_or_account(checkpoint: Checkpoint, ses: &Clients, notes: &mut Vec<String>) -> Checkpoint {
    let Some(set) = checkpoint.configuration_set().map(str::to_string) else { return checkpoint };
    match ses.event_destinations(&set).await {
        Ok(destinations)
            if destinations.iter().any(|d| d.enabled && d.cloudwatch && d.types.iter().any(|t| t == "SEND")) =>
        {
            checkpoint
        }
        Ok(_) => {
            notes.push(format!(
                "configuration set {set} publishes no CloudWatch Send metric (no enabled CloudWatch event \
                 destination for SEND): the account-level AWS/SES Send is read instead"
            ));
            checkpoint.account_level()
        }
        Err(e) => {
            notes.push(format!(
                "configuration set {set}: event destinations not read ({e}); the account-level AWS/SES Send is \
                 read instead"
            ));
            checkpoint.account_level()
        }
    }
}

/// What the inbox wait tells the sender watch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Waited {
    /// Still waiting.
    #[default]
    Pending,
    /// Found, with the SES messageId of its Message-ID when it has SES's form.
    Found(Option<String>),
    /// The wait ended without the mail (the timeout).
    Gave,
    /// The mailbox was lost.
    Lost,
}

/// One line on what the sender side showed.
fn summary(e: &SesEvidence) -> String {
    let mut parts = Vec::new();
    if !e.events.is_empty() {
        let names: Vec<&str> = e.events.iter().map(|x| x.kind.name()).collect();
        parts.push(format!("events: {}", names.join(" → ")));
    } else if e.events_status.is_some() {
        parts.push(format!("no event of the probe's message ({} of other mail)", e.foreign_records));
    }
    if let Some(first) = e.cognito_errors.first() {
        parts.push(format!("Cognito logged: {}", first.message));
    }
    if let (Some(b), Some(l)) = (e.baseline, e.latest) {
        let rate = e.background_per_minute.map(|r| format!(", other mail {}/min", crate::duration::number(r, 1)));
        parts.push(format!(
            "Send {} → {}{}",
            crate::duration::number(b, 0),
            crate::duration::number(l, 0),
            rate.unwrap_or_default()
        ));
    }
    if parts.is_empty() { "nothing read".into() } else { parts.join("; ") }
}
