//! At most one send per tick: before a run triggers a mail, it claims its tick — the scheduled time it
//! runs for — with one conditional DynamoDB `PutItem`. A scheduler that delivers the same tick twice
//! (EventBridge Scheduler and Lambda both deliver "at least once"; a Fargate task restarted by ECS) then
//! finds the claim taken and the second run sends nothing.
//!
//! The item: partition key `pk` = `<probe>#<tick RFC 3339 UTC>`, with `probe`, `tick`, `claimed_at`,
//! `claimed_by` (this claim's random token) and `expires_at` (tick + 1 day, epoch seconds: the table's TTL
//! attribute, DynamoDB Developer Guide "Time to Live"). The condition is `attribute_not_exists(pk)`
//! (Developer Guide "Condition expressions"); a taken key answers `ConditionalCheckFailedException`.
//!
//! The SDK retries a `PutItem` whose answer was lost; the retry then fails its condition on the probe's own
//! item. `ReturnValuesOnConditionCheckFailure = ALL_OLD` returns that item, and a matching `claimed_by`
//! makes it this run's claim, not a duplicate — so a lost answer never silences a tick.
//!
//! Only a taken key stops a run. Any other failure (no table, no permission, DynamoDB unreachable) lets
//! the run go ahead with a note: a second mail is better than a probe that silently stops probing.
//! The only permission needed is `dynamodb:PutItem` on the table.
//!
//! The table is the runner's (the function's, the task's), not the pool's: its client has the host's
//! standard credential chain and Region — not the probe file's `[aws]` profile, role or endpoint — and
//! `AWS_ENDPOINT_URL_DYNAMODB` (or `AWS_ENDPOINT_URL`) for an emulator (SDK "Service-specific endpoints").

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, SecondsFormat, TimeZone as _, Utc};

/// How long a claim is kept: long enough for any redelivery of its tick (EventBridge Scheduler retries
/// for at most 24 hours, its `MaximumEventAgeInSeconds` limit), short enough that the table stays small.
pub const KEEP: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// What claiming a tick found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The tick is this run's: go ahead.
    Claimed,
    /// Another run claimed this tick already (at `claimed_at`, as it recorded): send nothing.
    Duplicate { claimed_at: Option<String> },
    /// The claim could not be made; the run goes ahead, and the report says why.
    Unclaimed { reason: String },
}

/// The tick a run claims: where and for which scheduled time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tick {
    /// The DynamoDB table of claims.
    pub table: String,
    pub at: DateTime<Utc>,
}

impl Tick {
    /// The note a report carries when its tick could not be claimed.
    pub fn unclaimed_note(&self, reason: &str) -> String {
        format!(
            "tick {} could not be claimed in DynamoDB table {:?} ({reason}): the run went ahead, so a \
             redelivered tick may send a second mail",
            show(self.at),
            self.table
        )
    }
}

/// A tick as written in keys and notes: RFC 3339 in UTC, `Z`, fractional seconds only when there are any
/// (EventBridge Scheduler's `<aws.scheduler.scheduled-time>` has none: `2026-12-02T03:10:00Z`).
pub fn show(tick: DateTime<Utc>) -> String {
    tick.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The partition key of a probe's tick.
pub fn key(probe: &str, tick: DateTime<Utc>) -> String {
    format!("{probe}#{}", show(tick))
}

/// `now` floored to a multiple of `interval` since the Unix epoch: the tick a run started without one
/// belongs to, the same for every run started within one interval. An interval under a second floors to
/// the second.
pub fn floor(now: DateTime<Utc>, interval: Duration) -> DateTime<Utc> {
    let step = (interval.as_millis() as i64).max(1000);
    let ms = now.timestamp_millis();
    Utc.timestamp_millis_opt(ms - ms.rem_euclid(step)).single().unwrap_or(now)
}

/// Parses a tick given on the command line or in a Lambda payload: RFC 3339 with any offset.
pub fn parse(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{text:?} is not an RFC 3339 time like \"2026-12-02T03:10:00Z\": {e}"))
}

/// The DynamoDB client of the tick table: the host's chain and Region, else `fallback_region` (the pool's).
pub async fn client(fallback_region: &str) -> aws_sdk_dynamodb::Client {
    let mut conf = super::config_loader().load().await;
    if conf.region().is_none() {
        conf = conf.into_builder().region(aws_config::Region::new(fallback_region.to_string())).build();
    }
    aws_sdk_dynamodb::Client::new(&conf)
}

/// Claims `tick` for `probe`. Never fails: trouble is [`Claim::Unclaimed`].
pub async fn claim(client: &aws_sdk_dynamodb::Client, probe: &str, tick: &Tick) -> Claim {
    let token = format!("{:016x}", rand::random::<u64>());
    let now = Utc::now();
    let s = |v: String| AttributeValue::S(v);
    let item: HashMap<String, AttributeValue> = [
        ("pk", s(key(probe, tick.at))),
        ("probe", s(probe.to_string())),
        ("tick", s(show(tick.at))),
        ("claimed_at", s(now.to_rfc3339_opts(SecondsFormat::Millis, true))),
        ("claimed_by", s(token.clone())),
        ("expires_at", AttributeValue::N((tick.at + KEEP).timestamp().to_string())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let request = client
        .put_item()
        .table_name(&tick.table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(pk)")
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send();
    let started = std::time::Instant::now();
    let result = request.await;
    let ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(_) => {
            tracing::debug!(operation = "PutItem", ms, "AWS PutItem ok: tick claimed");
            Claim::Claimed
        }
        Err(err) => {
            if let Some(taken) = err.as_service_error().and_then(|e| match e {
                aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c) => Some(c),
                _ => None,
            }) {
                let old = taken.item();
                let text = |name: &str| old.and_then(|i| i.get(name)).and_then(|v| v.as_s().ok()).cloned();
                if text("claimed_by").as_deref() == Some(token.as_str()) {
                    tracing::debug!(operation = "PutItem", ms, "AWS PutItem retried onto its own claim");
                    return Claim::Claimed;
                }
                tracing::debug!(operation = "PutItem", ms, "AWS PutItem: tick already claimed");
                return Claim::Duplicate { claimed_at: text("claimed_at") };
            }
            let failure = super::AwsFailure::from_sdk("PutItem", err);
            tracing::debug!(
                operation = "PutItem",
                ms,
                code = failure.code().unwrap_or("no answer"),
                "AWS PutItem failed"
            );
            Claim::Unclaimed { reason: failure.to_string() }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        parse(text).unwrap()
    }

    #[test]
    fn a_run_without_a_tick_belongs_to_the_interval_it_started_in() {
        let cases = [
            ("on the tick", "2026-12-02T03:10:00Z", 300, "2026-12-02T03:10:00Z"),
            ("within the interval", "2026-12-02T03:14:59.900Z", 300, "2026-12-02T03:10:00Z"),
            ("next interval", "2026-12-02T03:15:00.001Z", 300, "2026-12-02T03:15:00Z"),
            ("hourly", "2026-12-02T03:59:00Z", 3600, "2026-12-02T03:00:00Z"),
            ("odd interval: multiples since the epoch", "2026-12-02T03:10:00Z", 7, "2026-12-02T03:09:55Z"),
            ("sub-second interval", "2026-12-02T03:10:00.500Z", 0, "2026-12-02T03:10:00Z"),
        ];
        for (case, now, secs, expected) in cases {
            assert_eq!(show(floor(at(now), Duration::from_secs(secs))), expected, "{case}");
        }
    }

    #[test]
    fn keys_are_the_probe_and_the_tick_in_utc() {
        let cases = [
            ("scheduler time", "2026-12-02T03:10:00Z", "production#2026-12-02T03:10:00Z"),
            ("offset", "2026-12-02T04:10:00+01:00", "production#2026-12-02T03:10:00Z"),
            ("fraction kept", "2026-12-02T03:10:00.250Z", "production#2026-12-02T03:10:00.250Z"),
        ];
        for (case, tick, expected) in cases {
            assert_eq!(key("production", at(tick)), expected, "{case}");
        }
    }

    #[test]
    fn a_tick_that_is_not_rfc3339_is_refused_quoting_it() {
        for bad in ["2026-12-02 03:10", "now", "", "2026-12-02T03:10:00"] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains(&format!("{bad:?}")) && err.contains("RFC 3339"), "{err}");
        }
    }
}
