//! The report of one probe run: a typed value, not a log line. A failed probe is data (`Report` with a
//! CRITICAL outcome); only a probe that could not even start has no report. Serialised as the JSON output
//! (schema in README) and rendered as text or one Nagios line by [`crate::output`].

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::aws::cognito::{Pool, SendingAccount, User};
use crate::aws::trigger::Trigger;
use crate::diagnosis::{Cause, Code, Diagnosis};
use crate::verdict::{Outcome, Phase};

/// JSON schema version of [`Report`]; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: u32,
    pub probe: String,
    pub pool_id: String,
    pub username: String,
    pub outcome: Outcome,
    /// The phase that decided the outcome (the failing one, or `authenticate` for OK).
    pub phase: Phase,
    pub diagnosis: Diagnosis,
    /// Further findings that did not decide the outcome (e.g. SPF unaligned next to a Junk delivery).
    pub notes: Vec<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// Seconds spent in each phase; every phase is present, `null` when it did not run.
    pub timings: BTreeMap<Phase, Option<f64>>,
    pub user: Option<User>,
    pub pool: Option<PoolSummary>,
    pub trigger: Option<TriggerRecord>,
    pub ses: SesEvidence,
    pub mail: Option<MailRecord>,
    /// The authentication evaluation (DKIM, SPF, DMARC, alignment, findings) when the mail was found.
    pub auth: Option<crate::authres::Evaluation>,
    /// Probe mail of earlier runs that arrived after their timeout, found by this run's sweep.
    pub late_mails: u32,
}

impl Report {
    /// The report of a run that has not reached a verdict yet: UNKNOWN `config_invalid`, "did not finish".
    pub fn new(probe: &str, pool_id: &str, username: &str) -> Report {
        let now = Utc::now();
        Report {
            schema: SCHEMA_VERSION,
            probe: probe.to_string(),
            pool_id: pool_id.to_string(),
            username: username.to_string(),
            outcome: Outcome::Unknown,
            phase: Phase::Config,
            diagnosis: Cause::new(Code::ConfigInvalid).detail("the run did not finish").at(Phase::Config),
            notes: Vec::new(),
            started_at: now,
            finished_at: now,
            timings: empty_timings(),
            user: None,
            pool: None,
            trigger: None,
            ses: SesEvidence::default(),
            mail: None,
            auth: None,
            late_mails: 0,
        }
    }

    /// The report of a probe that could not even be configured (exit 3): the same schema as any run, so
    /// `--format json` consumers read one shape whatever happened.
    pub fn unusable_config(probe: &str, message: &str) -> Report {
        let mut report = Report::new(probe, "", "");
        report.diagnosis = Cause::new(Code::ConfigInvalid).detail(message).at(Phase::Config);
        report
    }

    /// A run whose state could not be recorded (`--state`, the monitor): UNKNOWN `state_unwritable` with
    /// the store's error. `run`, when the probe did run, keeps its verdict in the evidence.
    pub fn unrecorded(probe: &str, pool_id: &str, error: &str, run: Option<&Report>) -> Report {
        let mut report = match run {
            Some(r) => r.clone(),
            None => Report::new(probe, pool_id, ""),
        };
        let mut cause = Cause::new(Code::StateUnwritable).detail(error);
        if let Some(r) = run {
            let verdict =
                format!("the run itself: {} {} — {}", r.outcome.label(), r.diagnosis.code, r.diagnosis.summary);
            cause = cause.evidence(verdict);
        }
        let diagnosis = cause.at(Phase::Config);
        report.outcome = diagnosis.outcome();
        report.phase = diagnosis.phase;
        report.diagnosis = diagnosis;
        report.finished_at = Utc::now();
        report
    }

    /// Records the verdict and the phases' timings, and stamps the finish time.
    pub fn conclude(&mut self, verdict: Diagnosis, timings: BTreeMap<Phase, f64>) {
        self.outcome = verdict.outcome();
        self.phase = verdict.phase;
        self.diagnosis = verdict;
        for (phase, seconds) in timings {
            self.timings.insert(phase, Some(seconds));
        }
        self.finished_at = Utc::now();
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PoolSummary {
    pub sending_account: SendingAccount,
    pub source_arn: Option<String>,
    pub from: Option<String>,
    pub configuration_set: Option<String>,
}

impl From<&Pool> for PoolSummary {
    fn from(p: &Pool) -> Self {
        PoolSummary {
            sending_account: p.sending_account.clone(),
            source_arn: p.source_arn.clone(),
            from: p.from.clone(),
            configuration_set: p.configuration_set.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TriggerRecord {
    pub call: Trigger,
    /// When the call was made (local clock, taken before the call: Cognito may hand the mail to SES
    /// before it answers).
    pub at: DateTime<Utc>,
    /// How long the inbox waited for the mail: probe mail arriving later is late.
    pub wait_until: DateTime<Utc>,
    pub delivery_medium: Option<String>,
}

/// Whether the SES checkpoint could look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SesStatus {
    /// Read from the trigger on.
    Checked,
    /// Not applicable: COGNITO_DEFAULT (its mail is not in the account's metrics, aws.md §2.4) or
    /// `[cloudwatch] enabled = false`.
    #[default]
    Skipped,
    /// The metric could not be read.
    Unavailable,
}

impl SesStatus {
    pub fn name(self) -> &'static str {
        match self {
            SesStatus::Checked => "checked",
            SesStatus::Skipped => "skipped",
            SesStatus::Unavailable => "unavailable",
        }
    }
}

impl PartialEq<&str> for SesStatus {
    fn eq(&self, other: &&str) -> bool {
        self.name() == *other
    }
}

/// What the sender side showed (DESIGN.md §3): the `AWS/SES` metrics (evidence, not proof), and where the
/// probe file sets them up, per-message proof — the SES event records of the probe's own message, the
/// account suppression list and Cognito's notification error logs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SesEvidence {
    pub status: SesStatus,
    pub metric: Option<String>,
    pub baseline: Option<f64>,
    pub latest: Option<f64>,
    /// True once Σ Send over the window rose by at least one after the trigger.
    pub increment_seen: bool,
    pub increment_at: Option<DateTime<Utc>>,
    pub reads: u32,
    pub error: Option<String>,
    /// `Send` per minute over the minutes before the trigger: the rest of the account's mail.
    pub background_per_minute: Option<f64>,
    /// Whether a rise of the metrics can be the probe's message: false when other mail was being sent in
    /// the minutes before the trigger, so a rise (or a flat line) says nothing about this one.
    pub attributable: Option<bool>,
    /// Rises after the trigger of the metrics read with `Send` (`Delivery`, `Bounce`, `Reject`,
    /// `RenderingFailure`), by name; absent names did not rise.
    pub rises: std::collections::BTreeMap<String, f64>,
    /// The SES event records of the probe's message, in the order they happened.
    pub events: Vec<crate::aws::events::SesEvent>,
    /// How the event queue was read (`[ses_events]`); `None` when the probe reads none.
    pub events_status: Option<QueueStatus>,
    /// Records of other mail seen in the event queue: proof that the queue is fed.
    pub foreign_records: u32,
    /// The test user's address on the account's suppression list.
    pub suppression: Option<crate::aws::ses::Suppressed>,
    /// The pool's notification log group, when it exports one.
    pub cognito_log_group: Option<String>,
    /// Cognito's message-delivery errors logged after the trigger.
    pub cognito_errors: Vec<crate::aws::cognito_logs::DeliveryError>,
    /// Σ of each metric of [`crate::aws::cloudwatch::SES_METRICS`] from the trigger's minute, at the baseline.
    #[serde(skip)]
    pub baselines: Vec<f64>,
    /// What could not be read, for the report's notes.
    #[serde(skip)]
    pub notes: Vec<String>,
    /// The sender side decided the run before the inbox wait's timeout (the wait was stopped).
    #[serde(skip)]
    pub decided_early: bool,
    /// Cognito's errors already logged before the trigger (within the clock-skew allowance): another
    /// run's, never this one's.
    #[serde(skip)]
    pub cognito_before: Vec<crate::aws::cognito_logs::DeliveryError>,
}

/// How the SES event queue was read. In JSON a string: `read`, or `unavailable: <why>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub enum QueueStatus {
    /// Read through the whole wait.
    Read,
    /// A receive failed and the queue was read no more (why).
    Unavailable(String),
}

impl From<QueueStatus> for String {
    fn from(status: QueueStatus) -> String {
        match status {
            QueueStatus::Read => "read".into(),
            QueueStatus::Unavailable(why) => format!("unavailable: {why}"),
        }
    }
}

impl SesEvidence {
    /// Whether an event of the probe's message has `name` (`Send`, `Delivery`, …).
    pub fn has_event(&self, name: &str) -> bool {
        self.events.iter().any(|e| e.kind.name() == name)
    }

    /// The first event of `name`.
    pub fn event(&self, name: &str) -> Option<&crate::aws::events::SesEvent> {
        self.events.iter().find(|e| e.kind.name() == name)
    }
}

/// The probe's message as found (never its body).
#[derive(Debug, Clone, Serialize)]
pub struct MailRecord {
    pub folder: String,
    pub junk: bool,
    pub message_id: Option<String>,
    /// The SES messageId inside `message_id`, when it has SES's form (`<id@email.amazonses.com>`).
    pub ses_message_id: Option<String>,
    pub latency: Latency,
}

/// Delivery latency from the trigger to detection, split at the points the headers reveal
/// (DESIGN.md §4). Negative spans mean clock skew between hosts; they are reported, not hidden.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Latency {
    pub trigger_at: Option<DateTime<Utc>>,
    /// Date of the SES hop's Received header.
    pub ses_handoff_at: Option<DateTime<Utc>>,
    /// Date of the topmost Received header (the receiver's).
    pub receiver_at: Option<DateTime<Utc>>,
    /// INTERNALDATE (IMAP) or mtime (Maildir).
    pub visible_at: Option<DateTime<Utc>>,
    pub detected_at: Option<DateTime<Utc>>,
    /// trigger → detected, seconds.
    pub total_seconds: Option<f64>,
    pub trigger_to_ses_seconds: Option<f64>,
    pub ses_to_receiver_seconds: Option<f64>,
    pub receiver_to_visible_seconds: Option<f64>,
    pub visible_to_detected_seconds: Option<f64>,
    /// True when some span is negative by more than the headers' one-second resolution.
    pub clock_skew: bool,
}

impl Latency {
    pub fn compute(&mut self) {
        let span = |a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>| match (a, b) {
            (Some(a), Some(b)) => Some((b - a).num_milliseconds() as f64 / 1000.0),
            _ => None,
        };
        self.total_seconds = span(self.trigger_at, self.detected_at);
        self.trigger_to_ses_seconds = span(self.trigger_at, self.ses_handoff_at);
        self.ses_to_receiver_seconds = span(self.ses_handoff_at, self.receiver_at);
        self.receiver_to_visible_seconds = span(self.receiver_at, self.visible_at);
        self.visible_to_detected_seconds = span(self.visible_at, self.detected_at);
        // Header dates have one-second resolution, so up to -1 s is rounding, not skew.
        self.clock_skew = [
            self.trigger_to_ses_seconds,
            self.ses_to_receiver_seconds,
            self.receiver_to_visible_seconds,
            self.visible_to_detected_seconds,
        ]
        .into_iter()
        .flatten()
        .any(|s| s < -1.0);
    }
}

/// Every phase present, `None` until it runs (blackbox_exporter's pre-filled phase durations).
pub fn empty_timings() -> BTreeMap<Phase, Option<f64>> {
    Phase::ALL.into_iter().map(|p| (p, None)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Option<DateTime<Utc>> {
        Some(DateTime::parse_from_rfc3339(s).unwrap().to_utc())
    }

    #[test]
    fn latency_spans_and_skew() {
        let mut l = Latency {
            trigger_at: at("2026-11-26T12:00:03.000Z"),
            ses_handoff_at: at("2026-11-26T12:00:04Z"),
            receiver_at: at("2026-11-26T12:00:06Z"),
            visible_at: at("2026-11-26T12:00:06Z"),
            detected_at: at("2026-11-26T12:00:06.020Z"),
            ..Latency::default()
        };
        l.compute();
        assert_eq!(l.total_seconds, Some(3.02));
        assert_eq!(l.ses_to_receiver_seconds, Some(2.0));
        assert!(!l.clock_skew);
        l.receiver_at = at("2026-11-26T11:59:00Z");
        l.compute();
        assert!(l.clock_skew, "a receiver hop before the SES hop is skew");
    }

    #[test]
    fn timings_prefilled_for_every_phase() {
        let t = empty_timings();
        assert_eq!(t.len(), Phase::ALL.len());
        let json = serde_json::to_value(&t).unwrap();
        assert!(json.get("ses").unwrap().is_null());
    }
}
