//! One probe run, the single code path behind `probe --pool`, the monitor and the paging hook:
//! resolve → trigger → (ses ∥ inbox) → authenticate → verdict (DESIGN.md §1).
//!
//! Order matters for the user's mailbox and quota: the mailbox is opened and baselined *before* the
//! trigger, so a probe whose IMAP is down never sends a mail it cannot see. The SES checkpoint runs beside
//! the inbox wait and never delays an OK verdict (DESIGN.md §3).

pub mod authenticate;
pub mod trigger;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::aws::cloudwatch::{SendMetric, metric_label};
use crate::aws::cognito::{Pool, Trigger, User};
use crate::aws::{AwsFailure, Clients};
use crate::config::{Cleanup, JunkVerdict, ProbeFile};
use crate::diagnosis::Diagnosis;
use crate::inbox::pool::ImapPool;
use crate::inbox::{Found, Inbox, InboxError, Matcher};
use crate::report::{
    Latency, MailRecord, PoolSummary, Report, SCHEMA_VERSION, SesEvidence, TriggerRecord, empty_timings,
};
use crate::verdict::{Outcome, Phase};

/// A phase finished: what the live text output prints as it happens.
#[derive(Debug, Clone)]
pub struct PhaseLine {
    pub phase: Phase,
    /// `ok`, `warn`, `fail` or `skip`.
    pub status: &'static str,
    pub seconds: f64,
    pub detail: String,
}

/// Receives phase lines as they happen (the terminal's live view; a no-op elsewhere).
pub type Progress<'a> = &'a (dyn Fn(&PhaseLine) + Send + Sync);

/// Runs one probe to its report. Never fails: trouble becomes an UNKNOWN or CRITICAL report.
pub async fn run(probe: &ProbeFile, clients: &Clients, progress: Progress<'_>) -> Report {
    run_with(probe, clients, &ImapPool::one_shot(), progress).await
}

/// [`run`] with IMAP sessions from `pool`: the monitor shares logged-in sessions between runs of probes
/// with the same login and caps connections per login (`imap.max_connections`). Waiting for a free
/// connection happens before the baseline and counts into the inbox phase.
pub async fn run_with(probe: &ProbeFile, clients: &Clients, pool: &ImapPool, progress: Progress<'_>) -> Report {
    let mut run = Run::new(probe, progress);
    run.execute(clients, pool).await;
    run.finish()
}

/// The report under construction plus the phase clock.
struct Run<'a> {
    probe: &'a ProbeFile,
    progress: Progress<'a>,
    report: Report,
    phase_started: Instant,
}

impl<'a> Run<'a> {
    fn new(probe: &'a ProbeFile, progress: Progress<'a>) -> Self {
        let now = Utc::now();
        Run {
            probe,
            progress,
            phase_started: Instant::now(),
            report: Report {
                schema: SCHEMA_VERSION,
                probe: probe.name.clone(),
                pool_id: probe.pool_id.clone(),
                username: probe.username.clone(),
                outcome: Outcome::Unknown,
                phase: Phase::Config,
                diagnosis: Diagnosis::new("config_invalid", Some("the run did not finish".into()), vec![]),
                notes: Vec::new(),
                started_at: now,
                finished_at: now,
                timings: empty_timings(),
                user: None,
                pool: None,
                trigger: None,
                ses: SesEvidence { status: "skipped", ..SesEvidence::default() },
                mail: None,
                auth: None,
                late_mails: 0,
            },
        }
    }

    fn start(&mut self) {
        self.phase_started = Instant::now();
    }

    /// Records a phase's duration and tells the live view.
    fn end(&mut self, phase: Phase, status: &'static str, detail: String) {
        let seconds = self.phase_started.elapsed().as_secs_f64();
        self.report.timings.insert(phase, Some(seconds));
        (self.progress)(&PhaseLine { phase, status, seconds, detail });
    }

    fn conclude(&mut self, diagnosis: Diagnosis) {
        self.report.outcome = diagnosis.outcome();
        self.report.phase = diagnosis.phase();
        self.report.diagnosis = diagnosis;
    }

    fn finish(mut self) -> Report {
        self.report.finished_at = Utc::now();
        self.report
    }

    async fn execute(&mut self, clients: &Clients, imap_pool: &ImapPool) {
        let probe = self.probe;

        // resolve — AdminGetUser and DescribeUserPool, concurrently.
        self.start();
        let (user, pool) = tokio::join!(
            clients.admin_get_user(&probe.pool_id, &probe.username),
            clients.describe_user_pool(&probe.pool_id)
        );
        let (user, pool) = match (user, pool) {
            (Ok(u), Ok(p)) => (u, p),
            (Err(e), _) | (_, Err(e)) => {
                self.end(Phase::Resolve, "fail", e.to_string());
                return self.conclude(resolve_failure(&e, &probe.username));
            }
        };
        self.report.user = Some(user.clone());
        self.report.pool = Some(PoolSummary::from(&pool));
        let detail = format!(
            "user {} {}{}, email {}; pool {} from {}",
            user.username,
            user.status,
            if user.enabled { "" } else { " (disabled)" },
            user.email.as_deref().unwrap_or("-"),
            pool.sending_account,
            pool.sender_address()
        );
        let call = match trigger::choose(probe.trigger, &user, probe.client_id.is_some()) {
            Ok(call) => call,
            Err(refusal) => {
                self.end(Phase::Resolve, "fail", detail);
                return self.conclude(refusal);
            }
        };
        self.end(Phase::Resolve, "ok", detail);
        if let Some(limit) = call.hourly_limit()
            && probe.interval < std::time::Duration::from_secs(15 * 60)
        {
            self.report.notes.push(format!(
                    "{call} allows as few as {limit} attempts per user per hour (aws.md §1.6); interval {} risks LimitExceededException — use ≥ 15m or a FORCE_CHANGE_PASSWORD user with RESEND",
                    humantime::format_duration(probe.interval)
                ));
        }
        let Some(recipient) = user.email.clone() else {
            return self.conclude(Diagnosis::new("email_unverified", Some("no email attribute".into()), vec![]));
        };

        // inbox (part 1) — open and baseline before anything is sent.
        self.start();
        let mut inbox = match open_inbox(probe, imap_pool).await {
            Ok(i) => i,
            Err(e) => {
                self.end(Phase::Inbox, "fail", e.to_string());
                return self.conclude(Diagnosis::new("mailbox_unavailable", Some(e.to_string()), vec![]));
            }
        };
        let sender = probe.expect.from.clone().unwrap_or_else(|| pool.sender_address());
        let matcher = Matcher::new(&sender, &recipient);
        let cleanup = cleanup_of(probe);
        let baseline = match inbox.baseline().await {
            Ok(b) => b,
            Err(e) => {
                self.end(Phase::Inbox, "fail", e.to_string());
                inbox.close().await;
                return self.conclude(Diagnosis::new("mailbox_unavailable", Some(e.to_string()), vec![]));
            }
        };
        let stale_before = baseline.taken_at - chrono::Duration::from_std(probe.timeout).unwrap_or_default();
        match inbox.sweep(&baseline, &matcher, stale_before, &cleanup).await {
            Ok(sweep) => self.report.late_mails = sweep.late,
            Err(e) => self.report.notes.push(format!("sweep of stale probe mail failed: {e}")),
        }
        let baseline_seconds = self.phase_started.elapsed().as_secs_f64();

        // ses (baseline) — DEVELOPER mode only: COGNITO_DEFAULT mail never shows in the account's metrics
        // (aws.md §2.4).
        let ses_clients = pool.ses_region().map(|r| clients.in_ses_region(r)).unwrap_or_else(|| clients.clone());
        let metric = probe
            .cloudwatch
            .configuration_set
            .clone()
            .or_else(|| pool.configuration_set.clone())
            .map(SendMetric::ConfigurationSet)
            .unwrap_or(SendMetric::Account);
        let watch_ses = probe.cloudwatch.enabled && pool.is_developer();
        let ses = Arc::new(Mutex::new(SesEvidence {
            status: if watch_ses { "checked" } else { "skipped" },
            metric: watch_ses.then(|| metric_label(&metric)),
            ..SesEvidence::default()
        }));
        let trigger_planned_at = Utc::now();
        // Reads share a batched call with other probes' reads, waiting for company at most 1 s
        // (cloudwatch::GATHER) or a quarter of the poll interval when that is shorter.
        let max_wait = probe.cloudwatch.poll_interval / 4;
        if watch_ses {
            match ses_clients.send_sum(&metric, trigger_planned_at, max_wait).await {
                Ok(b) => lock(&ses).baseline = Some(b),
                Err(e) => {
                    let mut s = lock(&ses);
                    s.status = "unavailable";
                    s.error = Some(e.to_string());
                }
            }
        }

        // trigger
        self.start();
        let secret = match &probe.client_secret {
            Some(source) => match source.read().await {
                Ok(s) => Some(s),
                Err(e) => {
                    self.end(Phase::Trigger, "fail", e.to_string());
                    inbox.close().await;
                    return self.conclude(Diagnosis::new(
                        "config_invalid",
                        Some(format!("client_secret: {e}")),
                        vec![],
                    ));
                }
            },
            None => None,
        };
        // The trigger time is taken before the call: Cognito may hand the mail to SES before it answers.
        let trigger_at = Utc::now();
        let delivery =
            clients.trigger(call, &probe.pool_id, &probe.username, probe.client_id.as_deref(), secret.as_ref()).await;
        let delivery = match delivery {
            Ok(d) => d,
            Err(e) => {
                self.end(Phase::Trigger, "fail", e.to_string());
                inbox.close().await;
                return self.conclude(trigger_failure(call, &e, &user));
            }
        };
        if delivery.medium.as_deref().is_some_and(|m| m != "EMAIL") {
            self.end(Phase::Trigger, "fail", format!("delivery medium {:?}", delivery.medium));
            inbox.close().await;
            return self.conclude(Diagnosis::new(
                "sms_delivery",
                Some(format!("{call} answered DeliveryMedium={}", delivery.medium.clone().unwrap_or_default())),
                vec![],
            ));
        }
        self.report.trigger = Some(TriggerRecord { call, at: trigger_at, delivery_medium: delivery.medium.clone() });
        self.end(Phase::Trigger, "ok", format!("Cognito accepted {call} at {}", trigger_at.format("%H:%M:%S")));

        // ses ∥ inbox
        self.start();
        let deadline = tokio::time::Instant::now() + probe.timeout;
        let watcher = if watch_ses && lock(&ses).baseline.is_some() {
            let ses = Arc::clone(&ses);
            let clients = ses_clients.clone();
            let metric = metric.clone();
            let poll = probe.cloudwatch.poll_interval;
            let stop = deadline + probe.cloudwatch.settle;
            Some(tokio::spawn(
                async move { watch_send_metric(clients, metric, trigger_planned_at, poll, stop, ses).await },
            ))
        } else {
            None
        };
        let waited = inbox.wait(&baseline, &matcher, deadline).await;
        let found = match waited {
            Ok(found) => found,
            Err(e) => {
                if let Some(w) = watcher {
                    w.abort();
                }
                self.report.ses = lock(&ses).clone();
                self.end(Phase::Inbox, "fail", e.to_string());
                inbox.close().await;
                return self.conclude(Diagnosis::new("mailbox_unavailable", Some(e.to_string()), vec![]));
            }
        };
        let inbox_seconds = self.phase_started.elapsed().as_secs_f64() + baseline_seconds;
        let Some(found) = found else {
            // Not delivered in time: let the SES checkpoint settle (the metric lags), then decide which side.
            if let Some(w) = watcher {
                let _ = w.await;
            }
            self.report.ses = lock(&ses).clone();
            if self.report.ses.status == "checked" {
                // The checkpoint ran from the trigger through the settle time.
                self.report.timings.insert(Phase::Ses, Some(self.phase_started.elapsed().as_secs_f64()));
            }
            self.report.timings.insert(Phase::Inbox, Some(inbox_seconds));
            (self.progress)(&PhaseLine {
                phase: Phase::Inbox,
                status: "fail",
                seconds: inbox_seconds,
                detail: format!(
                    "no mail from {sender} to {recipient} within {}",
                    humantime::format_duration(probe.timeout)
                ),
            });
            inbox.close().await;
            return self.conclude(not_delivered(&pool, call, trigger_at, &self.report.ses, probe));
        };
        if let Some(w) = watcher {
            w.abort();
        }
        self.report.ses = lock(&ses).clone();
        if self.report.ses.status == "checked" {
            self.report.timings.insert(Phase::Ses, Some(self.phase_started.elapsed().as_secs_f64()));
        }
        self.report.timings.insert(Phase::Inbox, Some(inbox_seconds));
        let mail = mail_record(&found, trigger_at);
        (self.progress)(&PhaseLine {
            phase: Phase::Inbox,
            status: if found.junk { "warn" } else { "ok" },
            seconds: inbox_seconds,
            detail: format!(
                "found in {} after {}",
                found.folder,
                mail.latency.total_seconds.map(|s| format!("{s:.2}s")).unwrap_or_else(|| "?".into())
            ),
        });

        // authenticate
        self.start();
        let auth = authenticate::evaluate(&found.raw, probe);
        self.report.auth = Some(auth.evaluation.clone());
        self.end(
            Phase::Authenticate,
            match auth.outcome {
                Outcome::Ok => "ok",
                Outcome::Warning => "warn",
                _ => "fail",
            },
            auth.summary.clone(),
        );

        // cleanup — only the matched message.
        self.start();
        match inbox.cleanup(&found, &cleanup).await {
            Ok(()) => self.end(Phase::Cleanup, "ok", format!("{:?}", cleanup).to_lowercase()),
            Err(e) => {
                self.report.notes.push(format!("cleanup failed: {e}"));
                self.end(Phase::Cleanup, "warn", e.to_string());
            }
        }
        inbox.close().await;

        let verdict = delivered_verdict(probe, &pool, &found, &auth, &mail, &mut self.report.notes);
        self.report.mail = Some(mail);
        self.conclude(verdict);
    }
}

fn lock(m: &Mutex<SesEvidence>) -> std::sync::MutexGuard<'_, SesEvidence> {
    // A poisoned lock only means a watcher task panicked mid-update; the evidence is still readable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn cleanup_of(probe: &ProbeFile) -> Cleanup {
    match (&probe.imap, &probe.maildir) {
        (Some(i), _) => i.cleanup.clone(),
        (_, Some(m)) => m.cleanup.clone(),
        _ => Cleanup::Keep,
    }
}

/// Opens the mailbox; an IMAP one waits for a free connection of its login at most the probe's timeout.
async fn open_inbox(probe: &ProbeFile, pool: &ImapPool) -> Result<Inbox, InboxError> {
    match (&probe.imap, &probe.maildir) {
        (Some(imap), _) => {
            let deadline = tokio::time::Instant::now() + probe.timeout;
            Ok(Inbox::Pooled(Box::new(pool.checkout(imap, deadline).await?)))
        }
        (_, Some(m)) => Ok(Inbox::Maildir(crate::inbox::maildir::MaildirInbox::open(&m.path)?)),
        (None, None) => Err(InboxError::NoFolder { folder: "(no [imap] or [maildir] section)".into() }),
    }
}

/// Re-reads the whole window every `poll` until Σ Send rose by one, or `stop` (aws.md §2.3 steps 2–3).
async fn watch_send_metric(
    clients: Clients,
    metric: SendMetric,
    start: DateTime<Utc>,
    poll: std::time::Duration,
    stop: tokio::time::Instant,
    ses: Arc<Mutex<SesEvidence>>,
) {
    loop {
        let now = tokio::time::Instant::now();
        if now >= stop {
            return;
        }
        tokio::time::sleep(poll.min(stop - now)).await;
        match clients.send_sum(&metric, start, poll / 4).await {
            Ok(sum) => {
                let mut s = lock(&ses);
                s.reads += 1;
                s.latest = Some(sum);
                s.error = None;
                if s.baseline.is_some_and(|b| sum - b >= 1.0) {
                    s.increment_seen = true;
                    s.increment_at = Some(Utc::now());
                    return;
                }
            }
            Err(e) => lock(&ses).error = Some(e.to_string()),
        }
    }
}

fn resolve_failure(e: &AwsFailure, username: &str) -> Diagnosis {
    match e.code() {
        Some("UserNotFoundException") => {
            Diagnosis::new("user_not_found", Some(format!("{username:?}")), vec![e.to_string()])
        }
        Some("ResourceNotFoundException") => {
            Diagnosis::new("config_invalid", Some(format!("pool not found: {}", e.message())), vec![e.to_string()])
        }
        Some(_) if matches!(e, AwsFailure::Throttled { .. }) => Diagnosis::new("throttled", None, vec![e.to_string()]),
        Some(_) => Diagnosis::new("aws_error", Some(e.to_string()), vec![]),
        None => Diagnosis::new("aws_unreachable", Some(e.to_string()), vec![]),
    }
}

/// Maps a trigger call's error to its diagnosis (aws.md §1.1 error lists).
fn trigger_failure(call: Trigger, e: &AwsFailure, user: &User) -> Diagnosis {
    let evidence = vec![format!("{call} for user in {}: {e}", user.status)];
    match e {
        AwsFailure::Throttled { code, .. } => Diagnosis::new("throttled", Some(format!("{code} on {call}")), evidence),
        AwsFailure::Unreachable { .. } => Diagnosis::new(
            "aws_unreachable",
            Some(format!("{call} got no answer; it may or may not have sent a mail")),
            evidence,
        ),
        AwsFailure::Service { code, message, .. } => match code.as_str() {
            "InvalidEmailRoleAccessPolicyException" | "CodeDeliveryFailureException" => {
                Diagnosis::new("cognito_cannot_send", Some(format!("{code}: {message}")), evidence)
            }
            "NotAuthorizedException" | "UnsupportedUserStateException" => {
                Diagnosis::new("trigger_rejected", Some(format!("{code}: {message}")), evidence)
            }
            "InvalidParameterException" if message.contains("verified") => {
                Diagnosis::new("email_unverified", Some(message.clone()), evidence)
            }
            "UserNotFoundException" => Diagnosis::new("user_not_found", Some(message.clone()), evidence),
            _ => Diagnosis::new("aws_error", Some(format!("{call}: {code}: {message}")), evidence),
        },
    }
}

/// No mail in time: which side dropped it, by the SES checkpoint (DESIGN.md §3).
fn not_delivered(
    pool: &Pool,
    call: Trigger,
    trigger_at: DateTime<Utc>,
    ses: &SesEvidence,
    probe: &ProbeFile,
) -> Diagnosis {
    let waited = humantime::format_duration(probe.timeout);
    let mut evidence = vec![format!("Cognito accepted {call} at {}", trigger_at.format("%H:%M:%S"))];
    match (pool.is_developer(), ses.status, ses.increment_seen) {
        (true, "checked", true) => {
            evidence.push(format!(
                "SES {} rose after the trigger ({} → {})",
                ses.metric.clone().unwrap_or_default(),
                ses.baseline.unwrap_or_default(),
                ses.latest.unwrap_or_default()
            ));
            evidence.push(format!("no mail in the watched folders within {waited}"));
            Diagnosis::new("recipient_side", Some("SES sent".into()), evidence)
        }
        (true, "checked", false) if ses.reads > 0 => {
            let settle = humantime::format_duration(probe.cloudwatch.settle);
            evidence.push(format!(
                "SES {} flat for {waited} plus {settle} ({} reads, Σ {})",
                ses.metric.clone().unwrap_or_default(),
                ses.reads,
                ses.latest.unwrap_or_default()
            ));
            if let Some(identity) = pool.ses_identity() {
                evidence
                    .push(format!("identity {identity}: check that a policy lets the Cognito service principal send"));
            }
            Diagnosis::new("two_piece_gotcha", None, evidence)
        }
        (false, _, _) => {
            evidence.push("COGNITO_DEFAULT: Cognito's own sender, invisible in the account's AWS/SES metrics".into());
            evidence.push(format!("no mail within {waited}"));
            Diagnosis::new("not_delivered", Some("COGNITO_DEFAULT pool".into()), evidence)
        }
        _ => {
            evidence.push(format!(
                "SES checkpoint {}: {}",
                ses.status,
                ses.error.clone().unwrap_or_else(|| "no reads".into())
            ));
            evidence.push(format!("no mail within {waited}"));
            Diagnosis::new("not_delivered", None, evidence)
        }
    }
}

fn mail_record(found: &Found, trigger_at: DateTime<Utc>) -> MailRecord {
    let mut latency = Latency {
        trigger_at: Some(trigger_at),
        visible_at: found.visible_at,
        detected_at: Some(found.detected_at),
        ..Latency::default()
    };
    let mut message_id = None;
    if let Some(message) = mail_parser::MessageParser::new().parse_headers(&found.raw) {
        message_id = message.message_id().map(str::to_string);
        let date = |r: &mail_parser::Received<'_>| r.date().and_then(|d| DateTime::from_timestamp(d.to_timestamp(), 0));
        let received: Vec<_> = message.received_all().collect();
        latency.receiver_at = received.first().and_then(|r| date(r));
        // The SES hop: the bottom-most Received naming an amazonses.com / amazonaws.com host.
        latency.ses_handoff_at = received
            .iter()
            .rev()
            .find(|r| {
                let by = r.by().map(|h| h.to_string()).unwrap_or_default();
                let from = r.from().map(|h| h.to_string()).unwrap_or_default();
                [by, from].iter().any(|h| h.ends_with("amazonses.com") || h.ends_with("amazonaws.com"))
            })
            .and_then(|r| date(r));
    }
    latency.compute();
    MailRecord { folder: found.folder.clone(), junk: found.junk, message_id, latency }
}

/// The verdict for a delivered mail: the most severe of Junk, authentication, slowness and
/// COGNITO_DEFAULT decides; the rest become notes.
fn delivered_verdict(
    probe: &ProbeFile,
    pool: &Pool,
    found: &Found,
    auth: &authenticate::AuthResult,
    mail: &MailRecord,
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
    } else {
        match auth.outcome {
            Outcome::Critical => {
                candidates.push(Diagnosis::new("auth_failed", Some(auth.summary.clone()), auth.failures.clone()))
            }
            Outcome::Unknown => {
                candidates.push(Diagnosis::new("auth_unverifiable", Some(auth.summary.clone()), vec![]))
            }
            Outcome::Warning if auth.spf_unaligned => {
                candidates.push(Diagnosis::new("spf_unaligned", Some(auth.summary.clone()), auth.failures.clone()))
            }
            Outcome::Warning => candidates
                .push(Diagnosis::new("auth_failed", Some(auth.summary.clone()), auth.failures.clone()).downgraded()),
            Outcome::Ok => {}
        }
    }
    if found.junk {
        let d = Diagnosis::new("delivered_junk", Some(format!("folder {}", found.folder)), vec![]);
        candidates.push(if probe.expect.junk == JunkVerdict::Critical { d.escalated() } else { d });
    }
    if let Some(total) = mail.latency.total_seconds
        && total > probe.expect.max_delivery.as_secs_f64()
    {
        candidates.push(Diagnosis::new(
            "delivered_slow",
            Some(format!("{total:.1}s > {}", humantime::format_duration(probe.expect.max_delivery))),
            vec![],
        ));
    }
    if !pool.is_developer() {
        candidates.push(Diagnosis::new("cognito_default", None, vec![]));
    }
    // Most severe first: CRITICAL, then WARNING; the first of equals wins (authentication before Junk).
    let rank = |d: &Diagnosis| match d.outcome() {
        Outcome::Critical => 0,
        Outcome::Unknown => 1,
        Outcome::Warning => 2,
        Outcome::Ok => 3,
    };
    candidates.sort_by_key(rank);
    let mut iter = candidates.into_iter();
    match iter.next() {
        Some(first) => {
            notes.extend(iter.map(|d| d.summary));
            first
        }
        None => Diagnosis::new("delivered", Some(format!("{} in {}", auth.summary, found.folder)), vec![]),
    }
}
