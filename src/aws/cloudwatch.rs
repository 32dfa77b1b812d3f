//! The SES checkpoint's reads: the per-minute `AWS/SES` `Send` metric (DESIGN.md §3, aws.md §2).
//!
//! CloudWatch semantics that shape this code (aws.md §2.3): StartTime is rounded down to the minute and
//! inclusive, EndTime exclusive; a bucket's timestamp is its period's start; minutes without data are
//! absent, not zero; values are revised upward as samples arrive, so the whole window is re-summed on every
//! read and bucket timestamps are never matched exactly.

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use super::{AwsFailure, Clients};

/// Which `Send` metric to read.
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

impl Clients {
    /// Σ Sum of `Send` over every bucket from `floor_minute(start)` up to now (plus one minute, as the current
    /// minute's bucket is still filling). Follows `NextToken` pages.
    pub async fn send_sum(
        &self,
        metric: &SendMetric,
        start: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<f64, AwsFailure> {
        let window_start = floor_minute(start);
        let window_end = floor_minute(now) + TimeDelta::minutes(2);
        let dimensions = match metric {
            SendMetric::Account => None,
            SendMetric::ConfigurationSet(name) => {
                Some(vec![Dimension::builder().name("ses:configuration-set").value(name).build()])
            }
        };
        let query = MetricDataQuery::builder()
            .id("send")
            .metric_stat(
                MetricStat::builder()
                    .metric(
                        Metric::builder().namespace("AWS/SES").metric_name("Send").set_dimensions(dimensions).build(),
                    )
                    .period(60)
                    .stat("Sum")
                    .build(),
            )
            .return_data(true)
            .build();
        let mut total = 0.0;
        let mut token: Option<String> = None;
        // Bounded: a 1-minute window over at most a few hours fits one page; 20 pages is a hard stop.
        for _ in 0..20 {
            let out = self
                .cloudwatch
                .get_metric_data()
                .metric_data_queries(query.clone())
                .start_time(aws_smithy_types::DateTime::from_secs(window_start.timestamp()))
                .end_time(aws_smithy_types::DateTime::from_secs(window_end.timestamp()))
                .scan_by(ScanBy::TimestampAscending)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| AwsFailure::from_sdk("GetMetricData", e))?;
            for result in out.metric_data_results() {
                total += result.values().iter().sum::<f64>();
            }
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_minute_truncates_seconds() {
        let t = DateTime::parse_from_rfc3339("2026-11-26T12:00:59.900Z").unwrap().to_utc();
        assert_eq!(floor_minute(t).to_rfc3339(), "2026-11-26T12:00:00+00:00");
    }
}
