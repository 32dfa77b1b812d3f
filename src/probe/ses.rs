//! The ses phase's metric part: the CloudWatch `AWS/SES` checkpoint (DESIGN.md §3, research/aws.md §2.3). A
//! baseline before the trigger — which also measures the account's other mail over the
//! [`BACKGROUND_MINUTES`] before it — then the whole window re-read every `poll_interval` beside the inbox
//! wait until `Send` rose by one, the inbox wait ended first, or the timeout plus `settle` passed (the
//! metric lags minutes). `Delivery`, `Bounce`, `Reject` and `RenderingFailure` are read in the same call.
//! Evidence for the verdict, never a delay for an OK one; and only attributable evidence when no other mail
//! was being sent: on a busy account a rise (or a flat line) says nothing about the probe's message
//! (research/ses-events-oauth-emf.md §3). DEVELOPER pools only: COGNITO_DEFAULT mail never shows in the
//! account's metrics (aws.md §2.4).

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::clock::Step;
use crate::aws::Clients;
use crate::aws::cloudwatch::{Bucket, SES_METRICS, SendMetric, floor_minute, metric_label, window_sum};
use crate::aws::cognito::Pool;
use crate::config::ProbeFile;
use crate::diagnosis::Cause;
use crate::duration;
use crate::report::{SesEvidence, SesStatus};
use crate::verdict::Mark;

/// The minutes before the trigger over which the account's other mail is measured.
pub const BACKGROUND_MINUTES: i64 = 10;

/// The checkpoint of one run: which metric, read through which clients, how often.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    clients: Clients,
    metric: SendMetric,
    poll: Duration,
    settle: Duration,
}

/// Why a pool's run has no checkpoint.
pub fn skipped_because(probe: &ProbeFile, pool: &Pool) -> &'static str {
    if pool.is_developer() && !probe.cloudwatch.enabled {
        "[cloudwatch] enabled = false"
    } else {
        "COGNITO_DEFAULT: Cognito's own mailer is not in the account's AWS/SES metrics"
    }
}

impl Checkpoint {
    /// The checkpoint for this pool, or `None` when it does not apply (COGNITO_DEFAULT, or turned off).
    /// SES and CloudWatch are read in the Region of the pool's SourceArn (aws.md §1.5).
    pub fn of(probe: &ProbeFile, pool: &Pool, clients: &Clients) -> Option<Checkpoint> {
        if !(probe.cloudwatch.enabled && pool.is_developer()) {
            return None;
        }
        let metric = probe
            .cloudwatch
            .configuration_set
            .clone()
            .or_else(|| pool.configuration_set.clone())
            .map(SendMetric::ConfigurationSet)
            .unwrap_or(SendMetric::Account);
        Some(Checkpoint {
            clients: pool.ses_region().map(|r| clients.in_ses_region(r)).unwrap_or_else(|| clients.clone()),
            metric,
            poll: probe.cloudwatch.poll_interval,
            settle: probe.cloudwatch.settle,
        })
    }

    /// The configuration set whose `ses:configuration-set` dimension this checkpoint reads, if any.
    pub fn configuration_set(&self) -> Option<&str> {
        match &self.metric {
            SendMetric::ConfigurationSet(name) => Some(name),
            SendMetric::Account => None,
        }
    }

    /// The same checkpoint on the account-level metric.
    pub fn account_level(self) -> Checkpoint {
        Checkpoint { metric: SendMetric::Account, ..self }
    }

    /// How long after the inbox gave up the metric is still read.
    pub fn settle(&self) -> Duration {
        self.settle
    }

    /// Reads share a batched call with other probes' reads, waiting for company at most 1 s
    /// (cloudwatch::GATHER) or a quarter of the poll interval when that is shorter.
    fn max_wait(&self) -> Duration {
        self.poll / 4
    }

    /// Σ of each metric since the window start (the trigger's minute), before the trigger, and the rate of
    /// `Send` over the [`BACKGROUND_MINUTES`] before it. A failed read makes the checkpoint unavailable for
    /// this run (a note in the verdict), never the run's failure.
    pub async fn baseline(
        &self,
        window_start: DateTime<Utc>,
        own: &[DateTime<Utc>],
    ) -> Result<Step<SesEvidence>, Cause> {
        let label = metric_label(&self.metric);
        let mut evidence =
            SesEvidence { status: SesStatus::Checked, metric: Some(label.clone()), ..SesEvidence::default() };
        let since = window_start - chrono::TimeDelta::minutes(BACKGROUND_MINUTES);
        match self.clients.ses_buckets(&self.metric, since, self.max_wait()).await {
            Ok(buckets) => {
                let sums: Vec<f64> = buckets.iter().map(|b| window_sum(b, window_start)).collect();
                let sum = sums.first().copied().unwrap_or_default();
                let background =
                    background_rate(buckets.first().map(Vec::as_slice).unwrap_or_default(), window_start, own);
                evidence.baseline = Some(sum);
                evidence.baselines = sums;
                evidence.background_per_minute = Some(background);
                evidence.attributable = Some(background == 0.0);
                let detail = format!(
                    "baseline Σ {label} = {} since {}; other mail {}/min over the {BACKGROUND_MINUTES} min before",
                    duration::number(sum, 0),
                    window_start.format("%H:%M"),
                    duration::number(background, 1)
                );
                Ok(Step::ok(evidence, detail))
            }
            Err(e) => {
                evidence.status = SesStatus::Unavailable;
                evidence.error = Some(e.to_string());
                Ok(Step::marked(evidence, Mark::Warn, format!("{label} unavailable: {e}")))
            }
        }
    }

    /// Re-reads the window every poll until Σ rose by one (aws.md §2.3 steps 2–3), `stop` is cancelled
    /// (the inbox wait ended), or `until`.
    pub async fn watch(
        &self,
        mut evidence: SesEvidence,
        window_start: DateTime<Utc>,
        until: tokio::time::Instant,
        stop: &CancellationToken,
    ) -> Result<Step<SesEvidence>, Cause> {
        loop {
            let now = tokio::time::Instant::now();
            if now >= until {
                let detail = format!(
                    "Send flat until the timeout plus {} ({} reads)",
                    duration::show(self.settle),
                    evidence.reads
                );
                return Ok(Step::marked(evidence, Mark::Fail, detail));
            }
            tokio::select! {
                _ = stop.cancelled() => {
                    let reads = evidence.reads;
                    let detail = format!("not needed: the inbox wait ended first (Send lags minutes; {reads} reads)");
                    return Ok(Step::marked(evidence, Mark::Skip, detail));
                }
                _ = tokio::time::sleep(self.poll.min(until - now)) => {}
            }
            match self.clients.ses_buckets(&self.metric, window_start, self.max_wait()).await {
                Ok(buckets) => {
                    let sums: Vec<f64> = buckets.iter().map(|b| window_sum(b, window_start)).collect();
                    let sum = sums.first().copied().unwrap_or_default();
                    evidence.reads += 1;
                    evidence.latest = Some(sum);
                    evidence.error = None;
                    for (i, name) in SES_METRICS.iter().enumerate().skip(1) {
                        let rise = sums.get(i).copied().unwrap_or_default()
                            - evidence.baselines.get(i).copied().unwrap_or_default();
                        if rise >= 1.0 {
                            evidence.rises.insert(name.to_string(), rise);
                        }
                    }
                    if let Some(base) = evidence.baseline.filter(|b| sum - b >= 1.0) {
                        evidence.rises.insert("Send".into(), sum - base);
                        evidence.increment_seen = true;
                        evidence.increment_at = Some(Utc::now());
                        let (b, s) = (duration::number(base, 0), duration::number(sum, 0));
                        return Ok(Step::ok(evidence, format!("Send rose after the trigger ({b} → {s})")));
                    }
                }
                Err(e) => evidence.error = Some(e.to_string()),
            }
        }
    }
}

/// `Send` per minute over the whole minutes before `window_start`'s minute in `buckets` (which start
/// [`BACKGROUND_MINUTES`] earlier).
/// Send per minute over the [`BACKGROUND_MINUTES`] before the trigger's minute, less this probe's own
/// earlier mails (`own`: their trigger times; each is one Send in its minute, if SES took it).
fn background_rate(buckets: &[Bucket], window_start: DateTime<Utc>, own: &[DateTime<Utc>]) -> f64 {
    let trigger_minute = floor_minute(window_start);
    let before: f64 = buckets
        .iter()
        .filter(|(t, _)| *t < trigger_minute)
        .map(|(t, v)| {
            let mine = own.iter().filter(|o| floor_minute(**o) == *t).count() as f64;
            (v - mine).max(0.0)
        })
        .sum();
    before / BACKGROUND_MINUTES as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_background_is_the_mail_of_the_minutes_before_the_trigger() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        let buckets =
            [(t("2026-12-01T09:51:00Z"), 20.0), (t("2026-12-01T09:59:00Z"), 10.0), (t("2026-12-01T10:00:00Z"), 4.0)];
        assert_eq!(background_rate(&buckets, t("2026-12-01T10:00:30Z"), &[]), 3.0, "30 mails over 10 minutes");
        assert_eq!(
            background_rate(&buckets[2..], t("2026-12-01T10:00:30Z"), &[]),
            0.0,
            "the trigger minute is not background"
        );
        let quiet = [(t("2026-12-01T09:55:00Z"), 1.0)];
        let own = [t("2026-12-01T09:55:12Z")];
        assert_eq!(background_rate(&quiet, t("2026-12-01T10:00:30Z"), &own), 0.0, "the probe's own earlier mail");
        assert_eq!(background_rate(&quiet, t("2026-12-01T10:00:30Z"), &[]), 0.1, "unknown as the probe's: other mail");
    }
}
