//! The ses phase: the CloudWatch `AWS/SES Send` checkpoint (DESIGN.md §3, research/aws.md §2.3). A
//! baseline Σ before the trigger, then the whole window re-read every `poll_interval` beside the inbox
//! wait until Σ rose by one, the inbox wait ended first, or the timeout plus `settle` passed (the metric
//! lags minutes). Evidence for the verdict, never a delay for an OK one. DEVELOPER pools only:
//! COGNITO_DEFAULT mail never shows in the account's metrics (aws.md §2.4).

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::clock::Step;
use crate::aws::Clients;
use crate::aws::cloudwatch::{SendMetric, metric_label};
use crate::aws::cognito::Pool;
use crate::config::ProbeFile;
use crate::diagnosis::Cause;
use crate::duration;
use crate::report::{SesEvidence, SesStatus};
use crate::verdict::Mark;

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

    /// How long after the inbox gave up the metric is still read.
    pub fn settle(&self) -> Duration {
        self.settle
    }

    /// Reads share a batched call with other probes' reads, waiting for company at most 1 s
    /// (cloudwatch::GATHER) or a quarter of the poll interval when that is shorter.
    fn max_wait(&self) -> Duration {
        self.poll / 4
    }

    /// Σ Send since the window start, before the trigger. A failed read makes the checkpoint unavailable
    /// for this run (a note in the verdict), never the run's failure.
    pub async fn baseline(&self, window_start: DateTime<Utc>) -> Result<Step<SesEvidence>, Cause> {
        let label = metric_label(&self.metric);
        let mut evidence =
            SesEvidence { status: SesStatus::Checked, metric: Some(label.clone()), ..SesEvidence::default() };
        match self.clients.send_sum(&self.metric, window_start, self.max_wait()).await {
            Ok(sum) => {
                evidence.baseline = Some(sum);
                let detail =
                    format!("baseline Σ {label} = {} since {}", duration::number(sum, 0), window_start.format("%H:%M"));
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
            match self.clients.send_sum(&self.metric, window_start, self.max_wait()).await {
                Ok(sum) => {
                    evidence.reads += 1;
                    evidence.latest = Some(sum);
                    evidence.error = None;
                    if let Some(base) = evidence.baseline.filter(|b| sum - b >= 1.0) {
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
