//! The SES checkpoint's reads: the per-minute `AWS/SES` metrics — `Send`, and beside it `Delivery`, `Bounce`,
//! `Reject` and `RenderingFailure` (DESIGN.md §3, aws.md §2, research/ses-events-oauth-emf.md §3).
//!
//! CloudWatch semantics that shape this code (aws.md §2.3): StartTime is rounded down to the minute and
//! inclusive, EndTime exclusive; a bucket's timestamp is its period's start; minutes without data are
//! absent, not zero; values are revised upward as samples arrive, so the whole window is re-summed on every
//! read and bucket timestamps are never matched exactly.
//!
//! Reads are batched: one [`SendReader`] per set of clients (one account and Region) gathers the reads that
//! probes ask for at about the same time and serves them with one `GetMetricData` call, one query per
//! distinct metric, over a window from the earliest start asked for. Each probe then sums only the buckets
//! of its own window. So the calls made grow with accounts × Regions, not with probes (DESIGN.md §10), and
//! a monitor of many probes stays far below the `GetMetricData` quota of 50 TPS per Region (aws.md §2.2).

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy, StatusCode};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use tokio::sync::{mpsc, oneshot};

use super::{AwsFailure, Clients};
use crate::metrics::CloudWatchMetrics;

/// The `AWS/SES` metrics the checkpoint reads in one call: `Send` first.
pub const SES_METRICS: [&str; 5] = ["Send", "Delivery", "Bounce", "Reject", "RenderingFailure"];

/// Which `Send` metric to read (and at which level the others are read).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SendMetric {
    /// Account level: no dimensions (aws.md §2.1 "Across your AWS account").
    Account,
    /// Fine-grained: the `ses:configuration-set` dimension of one configuration set (aws.md §2.1).
    ConfigurationSet(String),
}

/// The first minute of the window that contains `t` (aws.md §2.3 step 1: `floor_minute(T)`).
pub fn floor_minute(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::minutes(1)).unwrap_or(t)
}

/// The longest a read waits for other reads to share its call. The metric has one-minute resolution and
/// lags by minutes (aws.md §2.2), so a second of waiting loses nothing a probe could see.
pub const GATHER: Duration = Duration::from_secs(1);

/// Most queries one `GetMetricData` call may carry (CloudWatch API Reference, GetMetricData:
/// `MetricDataQueries`, "Maximum number of 500 items"). More distinct metrics take more calls.
const MAX_QUERIES: usize = 500;

/// Hard stop on `NextToken` pages per call: a few hours of one-minute buckets fit in one page.
const MAX_PAGES: usize = 20;

/// One minute-bucket of one metric: its start and its Sum.
pub type Bucket = (DateTime<Utc>, f64);

/// Σ of the buckets that belong to a window starting at `start`: those whose minute overlaps
/// `[floor_minute(start), …)`. For CloudWatch's minute-aligned buckets that is `timestamp ≥ floor_minute(start)`
/// (aws.md §2.3 step 2); a bucket that starts off the minute (moto's bucketing, aws.md §4.4) is kept when
/// its minute reaches into the window, so no send is lost — the baseline uses the same rule, so a send
/// before the window only ever adds to both.
pub fn window_sum(buckets: &[Bucket], start: DateTime<Utc>) -> f64 {
    let from = floor_minute(start) - TimeDelta::minutes(1);
    buckets.iter().filter(|(t, _)| *t > from).map(|(_, v)| v).sum()
}

/// One metric of one scope: (`Send`, account level), (`Bounce`, a configuration set), ….
type Series = (&'static str, SendMetric);

/// A probe's request: the buckets of `series` from `start` on, served by a call that starts after the
/// request.
struct Request {
    series: Vec<Series>,
    start: DateTime<Utc>,
    max_wait: Duration,
    reply: oneshot::Sender<Result<Vec<Vec<Bucket>>, AwsFailure>>,
}

/// The batching reader of one account and Region (see the module docs). Its batch task starts on the
/// first read, starts again if it is gone (its runtime ended while these clients live on in another), and
/// ends when the reader is dropped.
pub struct SendReader {
    cloudwatch: aws_sdk_cloudwatch::Client,
    queue: Mutex<Option<mpsc::UnboundedSender<Request>>>,
    /// Reads asked for and `GetMetricData` calls made (pages not counted separately).
    stats: CloudWatchMetrics,
}

impl std::fmt::Debug for SendReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendReader").field("stats", &self.stats).finish_non_exhaustive()
    }
}

impl SendReader {
    pub fn new(cloudwatch: aws_sdk_cloudwatch::Client, stats: CloudWatchMetrics) -> SendReader {
        SendReader { cloudwatch, queue: Mutex::new(None), stats }
    }

    /// Σ Sum of `metric` over every bucket from `floor_minute(start)` up to the time of the read. The read
    /// joins the next batched call, which starts within `max_wait` (at most [`GATHER`]).
    pub async fn send_sum(
        &self,
        metric: &SendMetric,
        start: DateTime<Utc>,
        max_wait: Duration,
    ) -> Result<f64, AwsFailure> {
        let buckets = self.read(vec![("Send", metric.clone())], start, max_wait).await?;
        Ok(buckets.first().map(|b| window_sum(b, start)).unwrap_or_default())
    }

    /// The minute buckets of `series` from `floor_minute(start)` (less a minute, see [`window_sum`]) up to
    /// the time of the read, in the order asked for, through the next batched call.
    pub async fn read(
        &self,
        series: Vec<Series>,
        start: DateTime<Utc>,
        max_wait: Duration,
    ) -> Result<Vec<Vec<Bucket>>, AwsFailure> {
        self.stats.reads.inc();
        // A batch task that is gone drops the request (send fails) or its reply (answer fails); the second
        // attempt goes to a task started afresh.
        for _ in 0..2 {
            let (reply, answer) = oneshot::channel();
            let request = Request { series: series.clone(), start, max_wait: max_wait.min(GATHER), reply };
            if self.queue().send(request).is_ok()
                && let Ok(result) = answer.await
            {
                return result;
            }
        }
        Err(AwsFailure::Unreachable { operation: "GetMetricData", detail: "the batching reader stopped".into() })
    }

    /// The live batch task's queue, starting the task when there is none.
    fn queue(&self) -> mpsc::UnboundedSender<Request> {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        match &*queue {
            Some(tx) if !tx.is_closed() => tx.clone(),
            _ => {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(batch_loop(self.cloudwatch.clone(), rx, self.stats.clone()));
                *queue = Some(tx.clone());
                tx
            }
        }
    }
}

/// The distinct series of one batch, in the order first asked for.
#[derive(Default)]
struct Batch {
    metrics: Vec<Series>,
}

impl Batch {
    fn add(&mut self, series: &Series) -> usize {
        match self.metrics.iter().position(|m| m == series) {
            Some(i) => i,
            None => {
                self.metrics.push(series.clone());
                self.metrics.len() - 1
            }
        }
    }
}

/// Gathers requests until the earliest of their `max_wait`s runs out, then serves them with one call per
/// [`MAX_QUERIES`] distinct metrics. Requests arriving during a call wait for the next one, so every answer
/// comes from a call that started after it was asked for.
async fn batch_loop(
    client: aws_sdk_cloudwatch::Client,
    mut rx: mpsc::UnboundedReceiver<Request>,
    stats: CloudWatchMetrics,
) {
    while let Some(first) = rx.recv().await {
        let mut fire = tokio::time::Instant::now() + first.max_wait;
        let mut requests = vec![first];
        loop {
            tokio::select! {
                biased;
                next = rx.recv() => match next {
                    Some(r) => {
                        fire = fire.min(tokio::time::Instant::now() + r.max_wait);
                        requests.push(r);
                    }
                    None => break,
                },
                _ = tokio::time::sleep_until(fire) => break,
            }
            if tokio::time::Instant::now() >= fire {
                break;
            }
        }
        serve(&client, requests, &stats).await;
    }
}

async fn serve(client: &aws_sdk_cloudwatch::Client, requests: Vec<Request>, stats: &CloudWatchMetrics) {
    let mut batch = Batch::default();
    let slots: Vec<Vec<usize>> = requests.iter().map(|r| r.series.iter().map(|s| batch.add(s)).collect()).collect();
    let Some(window_start) = requests.iter().map(|r| floor_minute(r.start)).min() else {
        return;
    };
    let mut results: Vec<Result<Vec<Bucket>, AwsFailure>> = Vec::with_capacity(batch.metrics.len());
    for chunk in batch.metrics.chunks(MAX_QUERIES) {
        match read(client, chunk, window_start, stats).await {
            Ok(per_metric) => results.extend(per_metric.into_iter().map(Ok)),
            Err(e) => results.extend(chunk.iter().map(|_| Err(e.clone()))),
        }
    }
    for (request, slots) in requests.into_iter().zip(slots) {
        let answer: Result<Vec<Vec<Bucket>>, AwsFailure> = slots.iter().map(|&slot| results[slot].clone()).collect();
        // A probe that stopped waiting (its run ended) has dropped its receiver: nothing to do.
        let _ = request.reply.send(answer);
    }
}

/// One `GetMetricData` call (following `NextToken` pages) with one query per metric, from `window_start`
/// up to now plus one minute, as the current minute's bucket is still filling. Buckets per metric, in the
/// order of `metrics`.
async fn read(
    client: &aws_sdk_cloudwatch::Client,
    metrics: &[Series],
    window_start: DateTime<Utc>,
    stats: &CloudWatchMetrics,
) -> Result<Vec<Vec<Bucket>>, AwsFailure> {
    stats.calls.inc();
    let window_end = floor_minute(Utc::now()) + TimeDelta::minutes(2);
    let queries: Vec<MetricDataQuery> = metrics.iter().enumerate().map(|(i, m)| query(i, m)).collect();
    let mut buckets: Vec<Vec<Bucket>> = vec![Vec::new(); metrics.len()];
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let out = super::call(
            "GetMetricData",
            client
                .get_metric_data()
                .set_metric_data_queries(Some(queries.clone()))
                .start_time(aws_smithy_types::DateTime::from_secs(window_start.timestamp()))
                .end_time(aws_smithy_types::DateTime::from_secs(window_end.timestamp()))
                .scan_by(ScanBy::TimestampAscending)
                .set_next_token(token.clone())
                .send(),
        )
        .await?;
        for result in out.metric_data_results() {
            let Some(i) = result.id().and_then(|id| id.strip_prefix('m')).and_then(|n| n.parse::<usize>().ok()) else {
                continue;
            };
            if result.status_code() == Some(&StatusCode::InternalError) {
                let messages: Vec<&str> = result.messages().iter().filter_map(|m| m.value()).collect();
                return Err(AwsFailure::Service {
                    operation: "GetMetricData",
                    code: "InternalError".into(),
                    message: format!(
                        "query {}: {}",
                        series_label(&metrics[i.min(metrics.len() - 1)]),
                        messages.join("; ")
                    ),
                });
            }
            let Some(slot) = buckets.get_mut(i) else { continue };
            for (t, v) in result.timestamps().iter().zip(result.values()) {
                if let Some(t) = DateTime::from_timestamp(t.secs(), t.subsec_nanos()) {
                    slot.push((t, *v));
                }
            }
        }
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(buckets)
}

/// Query `m{i}` (ids start with a lowercase letter — the CloudWatch API rule the twin enforces too): the
/// one-minute Sum of the series.
fn query(i: usize, (name, metric): &Series) -> MetricDataQuery {
    let dimensions = match metric {
        SendMetric::Account => None,
        SendMetric::ConfigurationSet(name) => {
            Some(vec![Dimension::builder().name("ses:configuration-set").value(name).build()])
        }
    };
    MetricDataQuery::builder()
        .id(format!("m{i}"))
        .metric_stat(
            MetricStat::builder()
                .metric(Metric::builder().namespace("AWS/SES").metric_name(*name).set_dimensions(dimensions).build())
                .period(60)
                .stat("Sum")
                .build(),
        )
        .return_data(true)
        .build()
}

/// How a metric is named in reports and errors.
pub fn metric_label(metric: &SendMetric) -> String {
    series_label(&("Send", metric.clone()))
}

fn series_label((name, metric): &Series) -> String {
    match metric {
        SendMetric::Account => format!("AWS/SES {name} (account)"),
        SendMetric::ConfigurationSet(c) => format!("AWS/SES {name} (ses:configuration-set={c})"),
    }
}

impl Clients {
    /// Σ Sum of `Send` since `floor_minute(start)`, read through this account and Region's batching reader.
    pub async fn send_sum(
        &self,
        metric: &SendMetric,
        start: DateTime<Utc>,
        max_wait: Duration,
    ) -> Result<f64, AwsFailure> {
        self.send_reader.send_sum(metric, start, max_wait).await
    }

    /// The minute buckets of every metric of [`SES_METRICS`] at `metric`'s level from `start` on, in that
    /// order, through the batching reader (one call for all of them).
    pub async fn ses_buckets(
        &self,
        metric: &SendMetric,
        start: DateTime<Utc>,
        max_wait: Duration,
    ) -> Result<Vec<Vec<Bucket>>, AwsFailure> {
        let series = SES_METRICS.iter().map(|name| (*name, metric.clone())).collect();
        self.send_reader.read(series, start, max_wait).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn floor_minute_truncates_seconds() {
        assert_eq!(floor_minute(t("2026-11-26T12:00:59.900Z")).to_rfc3339(), "2026-11-26T12:00:00+00:00");
    }

    #[test]
    fn window_sum_keeps_only_the_buckets_of_the_probes_window() {
        let aligned = [
            (t("2026-11-26T11:58:00Z"), 5.0),
            (t("2026-11-26T11:59:00Z"), 7.0),
            (t("2026-11-26T12:00:00Z"), 1.0),
            (t("2026-11-26T12:01:00Z"), 2.0),
        ];
        // moto's buckets start at the first data point, off the minute (aws.md §4.4).
        let unaligned =
            [(t("2026-11-26T11:58:30Z"), 5.0), (t("2026-11-26T11:59:30Z"), 7.0), (t("2026-11-26T12:00:30Z"), 3.0)];
        let cases: [(&str, &[Bucket], &str, f64); 6] = [
            ("whole window of a shared read", &aligned, "2026-11-26T11:58:10Z", 15.0),
            ("start mid-minute counts its whole minute", &aligned, "2026-11-26T12:00:45Z", 3.0),
            ("start on the minute", &aligned, "2026-11-26T12:01:00Z", 2.0),
            ("start after the last bucket", &aligned, "2026-11-26T12:05:00Z", 0.0),
            ("unaligned bucket reaching into the window is kept", &unaligned, "2026-11-26T12:00:10Z", 10.0),
            ("unaligned bucket ending before the window is dropped", &unaligned, "2026-11-26T12:01:10Z", 3.0),
        ];
        for (name, buckets, start, want) in cases {
            assert_eq!(window_sum(buckets, t(start)), want, "{name}");
        }
    }

    #[test]
    fn a_batch_queries_each_distinct_metric_once() {
        let mut batch = Batch::default();
        let slots: Vec<usize> = [
            SendMetric::Account,
            SendMetric::ConfigurationSet("prod".into()),
            SendMetric::Account,
            SendMetric::ConfigurationSet("prod".into()),
            SendMetric::ConfigurationSet("staging".into()),
        ]
        .into_iter()
        .map(|m| batch.add(&("Send", m)))
        .collect();
        assert_eq!(slots, [0, 1, 0, 1, 2]);
        assert_eq!(batch.metrics.len(), 3);
        let ids: Vec<String> =
            batch.metrics.iter().enumerate().map(|(i, m)| query(i, m).id().unwrap_or_default().to_string()).collect();
        assert_eq!(ids, ["m0", "m1", "m2"]);
    }
}
