//! CloudWatch as the probe reads it: the `AWS/SES` metrics Send, Delivery, Bounce, Complaint, Reject,
//! RenderingFailure and DeliveryDelay the twin records when it sends — account-wide, and per
//! configuration set where the set has a CloudWatch event destination (research/ses-events-oauth-emf.md
//! §3) — and GetMetricData / GetMetricStatistics over them with CloudWatch's time semantics
//! (research/aws.md §2). Served in Smithy RPC v2 CBOR (the Rust SDK, research/aws.md §4.5) and in
//! AWS JSON 1.0 (botocore 1.43 — the AWS CLI — prefers `json` over `smithy-rpc-v2-cbor` in its
//! `PRIORITY_ORDERED_SUPPORTED_PROTOCOLS`); both decode into the same JSON-shaped input here, and
//! answers are built once as [`Wire`] and encoded for either protocol.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::Value;

use crate::server::AwsError;

/// The namespace SES publishes to (research/aws.md §2.1).
pub const SES_NAMESPACE: &str = "AWS/SES";
/// The dimension of fine-grained metrics published per configuration set (research/aws.md §2.1).
pub const CONFIGURATION_SET_DIMENSION: &str = "ses:configuration-set";

/// The SES metrics the twin publishes (research/aws.md §2.1 metric names; research/ses-events-oauth-emf.md
/// §3 meanings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum SesMetric {
    Send,
    Delivery,
    Bounce,
    Complaint,
    Reject,
    RenderingFailure,
    DeliveryDelay,
}

impl SesMetric {
    pub const ALL: [SesMetric; 7] = [
        SesMetric::Send,
        SesMetric::Delivery,
        SesMetric::Bounce,
        SesMetric::Complaint,
        SesMetric::Reject,
        SesMetric::RenderingFailure,
        SesMetric::DeliveryDelay,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SesMetric::Send => "Send",
            SesMetric::Delivery => "Delivery",
            SesMetric::Bounce => "Bounce",
            SesMetric::Complaint => "Complaint",
            SesMetric::Reject => "Reject",
            SesMetric::RenderingFailure => "RenderingFailure",
            SesMetric::DeliveryDelay => "DeliveryDelay",
        }
    }
}

/// One published data point.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Datum {
    pub metric: SesMetric,
    /// `None`: the account-level metric (no dimensions); `Some`: the `ses:configuration-set` metric.
    pub configuration_set: Option<String>,
    pub at: DateTime<Utc>,
    pub value: f64,
}

/// Every data point the twin has published.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct MetricStore {
    pub data: Vec<Datum>,
}

impl MetricStore {
    /// Records one event: always on the account-level metric, and also on the configuration-set metric
    /// when the mail went out with one. They stay separate metrics: CloudWatch does not aggregate
    /// dimensioned data into a dimensionless query (research/aws.md §2.1, §4.4 — moto gets this wrong).
    pub fn record(&mut self, metric: SesMetric, configuration_set: Option<&str>, at: DateTime<Utc>) {
        self.data.push(Datum { metric, configuration_set: None, at, value: 1.0 });
        if let Some(cs) = configuration_set {
            self.data.push(Datum { metric, configuration_set: Some(cs.to_string()), at, value: 1.0 });
        }
    }

    /// One event on the account-level metric ("Across your AWS account … published automatically",
    /// research/aws.md §2.1).
    pub fn record_account(&mut self, metric: SesMetric, at: DateTime<Utc>) {
        self.data.push(Datum { metric, configuration_set: None, at, value: 1.0 });
    }

    /// One event on the fine-grained metric of a configuration set, published only through a CloudWatch
    /// event destination of that set (research/ses-events-oauth-emf.md §3, "Fine-grained").
    pub fn record_configuration_set(&mut self, metric: SesMetric, configuration_set: &str, at: DateTime<Utc>) {
        self.data.push(Datum { metric, configuration_set: Some(configuration_set.to_string()), at, value: 1.0 });
    }
}

/// A statistic of research/aws.md §2.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    Sum,
    SampleCount,
    Average,
    Maximum,
    Minimum,
}

impl Stat {
    fn parse(s: &str) -> Option<Stat> {
        Some(match s {
            "Sum" => Stat::Sum,
            "SampleCount" => Stat::SampleCount,
            "Average" => Stat::Average,
            "Maximum" => Stat::Maximum,
            "Minimum" => Stat::Minimum,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Stat::Sum => "Sum",
            Stat::SampleCount => "SampleCount",
            Stat::Average => "Average",
            Stat::Maximum => "Maximum",
            Stat::Minimum => "Minimum",
        }
    }

    fn apply(self, values: &[f64]) -> f64 {
        let n = values.len() as f64;
        match self {
            Stat::Sum => values.iter().sum(),
            Stat::SampleCount => n,
            Stat::Average => values.iter().sum::<f64>() / n,
            Stat::Maximum => values.iter().copied().fold(f64::MIN, f64::max),
            Stat::Minimum => values.iter().copied().fold(f64::MAX, f64::min),
        }
    }
}

/// One metric read: which metric, and the window.
#[derive(Debug, Clone)]
struct MetricQuery {
    namespace: String,
    name: String,
    dimensions: Vec<(String, String)>,
    unit: Option<String>,
    period: i64,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl MetricStore {
    /// Buckets (ascending by start) with the values that fall in each, as visible at `now`.
    ///
    /// research/aws.md §2.3: StartTime is inclusive and rounded down to the whole minute (data under 15
    /// days old), EndTime is exclusive, each bucket is stamped with the start of its period, minutes
    /// without data are absent (no zeros). A wrong Unit returns nothing. §2.2: data appears only after
    /// the publication lag.
    fn buckets(&self, q: &MetricQuery, now: DateTime<Utc>, lag: Duration) -> Vec<(DateTime<Utc>, Vec<f64>)> {
        if q.namespace != SES_NAMESPACE || q.unit.as_deref().is_some_and(|u| u != "Count") {
            return Vec::new();
        }
        let wanted_cs = match q.dimensions.as_slice() {
            [] => None,
            [(name, value)] if name == CONFIGURATION_SET_DIMENSION => Some(value.as_str()),
            _ => return Vec::new(),
        };
        let start = floor_minute(q.start);
        let mut buckets: std::collections::BTreeMap<i64, Vec<f64>> = std::collections::BTreeMap::new();
        for d in &self.data {
            let visible = d.at + lag <= now;
            if !visible || d.metric.name() != q.name || d.configuration_set.as_deref() != wanted_cs {
                continue;
            }
            if d.at < start || d.at >= q.end {
                continue;
            }
            let index = (d.at - start).num_seconds() / q.period;
            buckets.entry(index).or_default().push(d.value);
        }
        buckets
            .into_iter()
            .map(|(i, values)| (start + Duration::seconds(i * q.period), values))
            .filter(|(ts, _)| *ts < q.end)
            .collect()
    }
}

/// Data points of one query: (bucket start, statistic value).
type Points = Vec<(DateTime<Utc>, f64)>;

/// Rounds down to the whole minute.
pub fn floor_minute(t: DateTime<Utc>) -> DateTime<Utc> {
    let secs = t.timestamp().div_euclid(60) * 60;
    Utc.timestamp_opt(secs, 0).single().unwrap_or(t)
}

/// A protocol-neutral answer: encoded as CBOR (timestamps as tag 1, RFC 8949 §3.4.2) or as JSON
/// (timestamps as epoch seconds, the AWS JSON protocols' default).
#[derive(Debug, Clone, PartialEq)]
pub enum Wire {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Time(DateTime<Utc>),
    List(Vec<Wire>),
    Map(Vec<(String, Wire)>),
}

impl Wire {
    pub fn map(pairs: Vec<(&str, Wire)>) -> Wire {
        Wire::Map(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    pub fn text(s: impl Into<String>) -> Wire {
        Wire::Text(s.into())
    }

    pub fn to_json(&self) -> Value {
        match self {
            Wire::Bool(b) => Value::Bool(*b),
            Wire::Int(i) => Value::from(*i),
            Wire::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Wire::Text(s) => Value::String(s.clone()),
            Wire::Time(t) => epoch_seconds_json(*t),
            Wire::List(l) => Value::Array(l.iter().map(Wire::to_json).collect()),
            Wire::Map(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }

    /// Encodes as CBOR (RFC 8949). Floats are always written as 64-bit so every decoder reads them.
    pub fn to_cbor(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_cbor(&mut out);
        out
    }

    fn write_cbor(&self, out: &mut Vec<u8>) {
        match self {
            Wire::Bool(b) => out.push(if *b { 0xf5 } else { 0xf4 }),
            Wire::Int(i) if *i >= 0 => cbor_head(out, 0, *i as u64),
            Wire::Int(i) => cbor_head(out, 1, (-1 - *i) as u64),
            Wire::Float(f) => {
                out.push(0xfb);
                out.extend_from_slice(&f.to_be_bytes());
            }
            Wire::Text(s) => {
                cbor_head(out, 3, s.len() as u64);
                out.extend_from_slice(s.as_bytes());
            }
            Wire::Time(t) => {
                cbor_head(out, 6, 1);
                Wire::Float(t.timestamp_millis() as f64 / 1000.0).write_cbor(out);
            }
            Wire::List(l) => {
                cbor_head(out, 4, l.len() as u64);
                for item in l {
                    item.write_cbor(out);
                }
            }
            Wire::Map(m) => {
                cbor_head(out, 5, m.len() as u64);
                for (k, v) in m {
                    Wire::Text(k.clone()).write_cbor(out);
                    v.write_cbor(out);
                }
            }
        }
    }
}

/// RFC 8949 §3: the initial byte(s) of a data item of `major` type with argument `n`.
fn cbor_head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend_from_slice(&[m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(m | 26);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        _ => {
            out.push(m | 27);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

fn epoch_seconds_json(t: DateTime<Utc>) -> Value {
    if t.timestamp_subsec_millis() == 0 {
        Value::from(t.timestamp())
    } else {
        serde_json::Number::from_f64(t.timestamp_millis() as f64 / 1000.0).map_or(Value::Null, Value::Number)
    }
}

/// Decodes a CBOR request body into the JSON shape the handlers read. Timestamps (tag 1) become epoch
/// seconds, byte strings base64. An empty body is an empty input structure.
pub fn cbor_to_json(body: &[u8]) -> Result<Value, String> {
    if body.is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    let value: ciborium::Value = ciborium::de::from_reader(body).map_err(|e| e.to_string())?;
    Ok(cbor_value_to_json(value))
}

fn cbor_value_to_json(v: ciborium::Value) -> Value {
    use base64::Engine as _;
    use ciborium::Value as C;
    match v {
        C::Integer(i) => {
            let i: i128 = i.into();
            i64::try_from(i).map(Value::from).unwrap_or_else(|_| Value::from(i as f64))
        }
        C::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        C::Text(s) => Value::String(s),
        C::Bytes(b) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
        C::Bool(b) => Value::Bool(b),
        C::Null => Value::Null,
        C::Tag(_, inner) => cbor_value_to_json(*inner),
        C::Array(a) => Value::Array(a.into_iter().map(cbor_value_to_json).collect()),
        C::Map(m) => Value::Object(
            m.into_iter()
                .filter_map(|(k, v)| match k {
                    C::Text(k) => Some((k, cbor_value_to_json(v))),
                    _ => None,
                })
                .collect(),
        ),
        _ => Value::Null,
    }
}

/// research/aws.md §4.5 / botocore model: CloudWatch errors are awsQuery-compatible; the code the
/// clients report comes from `x-amzn-query-error`. `shape` is the modeled error shape name.
fn cw_error(shape: &str, query_code: &str, message: impl Into<String>) -> AwsError {
    AwsError::new(400, shape, message).with_query_code(query_code)
}

/// GetMetricData's validation failures (CloudWatch reports them as `ValidationError`).
fn validation(message: impl Into<String>) -> AwsError {
    cw_error("ValidationException", "ValidationError", message)
}

fn timestamp(input: &Value, field: &str) -> Option<Result<DateTime<Utc>, String>> {
    let v = input.get(field)?;
    Some(match v {
        Value::Number(n) => n
            .as_f64()
            .and_then(|secs| Utc.timestamp_millis_opt((secs * 1000.0).round() as i64).single())
            .ok_or_else(|| format!("{n} is out of range")),
        Value::String(s) => DateTime::parse_from_rfc3339(s).map(|t| t.to_utc()).map_err(|e| format!("{s:?}: {e}")),
        other => Err(format!("{other} is not a timestamp")),
    })
}

fn dimensions(metric: &Value) -> Result<Vec<(String, String)>, String> {
    let mut dims = Vec::new();
    if let Some(list) = metric.get("Dimensions") {
        let Some(list) = list.as_array() else {
            return Err("Dimensions must be a list".into());
        };
        for d in list {
            match (d.get("Name").and_then(Value::as_str), d.get("Value").and_then(Value::as_str)) {
                (Some(n), Some(v)) => dims.push((n.to_string(), v.to_string())),
                _ => return Err("each dimension needs a Name and a Value".into()),
            }
        }
    }
    dims.sort();
    Ok(dims)
}

/// Period rule of research/aws.md §2.2: AWS/SES metrics are standard resolution, so the period is a
/// positive multiple of 60 seconds.
fn period_ok(period: i64) -> bool {
    period > 0 && period % 60 == 0
}

/// GetMetricData (research/aws.md §2.3): MetricStat queries, ScanBy (default TimestampDescending),
/// MaxDatapoints with NextToken paging, StatusCode Complete (PartialData while more pages remain).
pub fn get_metric_data(
    store: &MetricStore,
    input: &Value,
    now: DateTime<Utc>,
    lag: Duration,
) -> Result<Wire, AwsError> {
    let start = match timestamp(input, "StartTime") {
        Some(Ok(t)) => t,
        Some(Err(e)) => {
            return Err(validation(format!("The parameter StartTime is not a valid timestamp: {e}")));
        }
        None => return Err(validation("The parameter StartTime is required.")),
    };
    let end = match timestamp(input, "EndTime") {
        Some(Ok(t)) => t,
        Some(Err(e)) => {
            return Err(validation(format!("The parameter EndTime is not a valid timestamp: {e}")));
        }
        None => return Err(validation("The parameter EndTime is required.")),
    };
    if end <= start {
        return Err(validation("The parameter StartTime must be less than the parameter EndTime."));
    }
    let Some(queries) = input.get("MetricDataQueries").and_then(Value::as_array) else {
        return Err(validation("The parameter MetricDataQueries is required."));
    };
    if queries.is_empty() || queries.len() > 500 {
        return Err(validation(format!(
            "The collection MetricDataQueries must have 1 to 500 members, got {}.",
            queries.len()
        )));
    }
    let descending = match input.get("ScanBy").and_then(Value::as_str) {
        None | Some("TimestampDescending") => true,
        Some("TimestampAscending") => false,
        Some(other) => {
            return Err(validation(format!(
                "The value {other} for parameter ScanBy is not valid; expected TimestampDescending or \
                    TimestampAscending."
            )));
        }
    };
    let max_points = match input.get("MaxDatapoints") {
        None | Some(Value::Null) => 100_800,
        Some(v) => match v.as_u64() {
            Some(n) if n > 0 => n as usize,
            _ => {
                return Err(validation(format!("The parameter MaxDatapoints must be a positive integer, got {v}.")));
            }
        },
    };
    let offset = match input.get("NextToken").and_then(Value::as_str) {
        None => 0,
        Some(token) => token.strip_prefix("twin-page-").and_then(|n| n.parse::<usize>().ok()).ok_or_else(|| {
            cw_error(
                "InvalidNextToken",
                "InvalidNextToken",
                format!("The service couldn't process NextToken {token:?}."),
            )
        })?,
    };

    // (id, label, points) per returned query.
    let mut results: Vec<(String, String, Points)> = Vec::new();
    for (i, q) in queries.iter().enumerate() {
        let n = i + 1;
        let id = q.get("Id").and_then(Value::as_str).unwrap_or_default();
        let id_ok = id.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && id.len() <= 255;
        if !id_ok {
            return Err(validation(format!(
                "The value {id:?} for parameter MetricDataQueries.member.{n}.Id is not valid; expected a lowercase \
                    letter followed by letters, digits or underscores."
            )));
        }
        if q.get("Expression").is_some() {
            return Err(validation(format!(
                "MetricDataQueries.member.{n}.Expression: the twin does not evaluate metric math; use MetricStat."
            )));
        }
        let Some(ms) = q.get("MetricStat") else {
            return Err(validation(format!("The parameter MetricDataQueries.member.{n}.MetricStat is required.")));
        };
        let metric = ms.get("Metric").cloned().unwrap_or(Value::Null);
        let (Some(namespace), Some(name)) =
            (metric.get("Namespace").and_then(Value::as_str), metric.get("MetricName").and_then(Value::as_str))
        else {
            return Err(validation(format!(
                "MetricDataQueries.member.{n}.MetricStat.Metric needs Namespace and MetricName."
            )));
        };
        let period = ms.get("Period").and_then(Value::as_i64).unwrap_or(0);
        if !period_ok(period) {
            return Err(validation(format!(
                "The parameter MetricDataQueries.member.{n}.MetricStat.Period must be a multiple of 60, got {period}."
            )));
        }
        let stat_name = ms.get("Stat").and_then(Value::as_str).unwrap_or_default();
        let Some(stat) = Stat::parse(stat_name) else {
            return Err(validation(format!(
                "The value {stat_name:?} for parameter MetricDataQueries.member.{n}.MetricStat.Stat is not valid; \
                    expected Sum, SampleCount, Average, Maximum or Minimum."
            )));
        };
        let dims = dimensions(&metric).map_err(|e| validation(format!("MetricDataQueries.member.{n}: {e}")))?;
        let mq = MetricQuery {
            namespace: namespace.to_string(),
            name: name.to_string(),
            dimensions: dims,
            unit: ms.get("Unit").and_then(Value::as_str).map(str::to_string),
            period,
            start,
            end,
        };
        if q.get("ReturnData").and_then(Value::as_bool) == Some(false) {
            continue;
        }
        let mut points: Vec<(DateTime<Utc>, f64)> =
            store.buckets(&mq, now, lag).into_iter().map(|(ts, values)| (ts, stat.apply(&values))).collect();
        if descending {
            points.reverse();
        }
        let label = q.get("Label").and_then(Value::as_str).unwrap_or(name).to_string();
        results.push((id.to_string(), label, points));
    }

    // Page over the points of all queries in order.
    let total: usize = results.iter().map(|r| r.2.len()).sum();
    if offset > total {
        return Err(cw_error(
            "InvalidNextToken",
            "InvalidNextToken",
            format!("The service couldn't process NextToken \"twin-page-{offset}\"."),
        ));
    }
    let page_end = (offset + max_points).min(total);
    let mut seen = 0;
    let mut out = Vec::new();
    for (id, label, points) in results {
        let from = offset.saturating_sub(seen).min(points.len());
        let to = page_end.saturating_sub(seen).min(points.len());
        let more = to < points.len();
        seen += points.len();
        let page = &points[from..to];
        out.push(Wire::map(vec![
            ("Id", Wire::text(id)),
            ("Label", Wire::text(label)),
            ("Timestamps", Wire::List(page.iter().map(|(t, _)| Wire::Time(*t)).collect())),
            ("Values", Wire::List(page.iter().map(|(_, v)| Wire::Float(*v)).collect())),
            ("StatusCode", Wire::text(if more { "PartialData" } else { "Complete" })),
            ("Messages", Wire::List(Vec::new())),
        ]));
    }
    let mut response = vec![("MetricDataResults", Wire::List(out)), ("Messages", Wire::List(Vec::new()))];
    if page_end < total {
        response.push(("NextToken", Wire::text(format!("twin-page-{page_end}"))));
    }
    Ok(Wire::map(response))
}

/// GetMetricStatistics (research/aws.md §2.3): same bucket semantics; at most 1,440 data points.
pub fn get_metric_statistics(
    store: &MetricStore,
    input: &Value,
    now: DateTime<Utc>,
    lag: Duration,
) -> Result<Wire, AwsError> {
    let missing = |field: &str| {
        cw_error("MissingRequiredParameterException", "MissingParameter", format!("The parameter {field} is required."))
    };
    let invalid = |message: String| cw_error("InvalidParameterValueException", "InvalidParameterValue", message);
    let namespace = input.get("Namespace").and_then(Value::as_str).ok_or_else(|| missing("Namespace"))?;
    let name = input.get("MetricName").and_then(Value::as_str).ok_or_else(|| missing("MetricName"))?;
    let start = timestamp(input, "StartTime")
        .ok_or_else(|| missing("StartTime"))?
        .map_err(|e| invalid(format!("The parameter StartTime is not a valid timestamp: {e}")))?;
    let end = timestamp(input, "EndTime")
        .ok_or_else(|| missing("EndTime"))?
        .map_err(|e| invalid(format!("The parameter EndTime is not a valid timestamp: {e}")))?;
    let period = input.get("Period").ok_or_else(|| missing("Period"))?.as_i64().unwrap_or(0);
    if end <= start {
        return Err(invalid("The parameter StartTime must be less than the parameter EndTime.".into()));
    }
    if !period_ok(period) {
        return Err(invalid(format!("The parameter Period must be a multiple of 60, got {period}.")));
    }
    let statistics: Vec<&str> = input
        .get("Statistics")
        .and_then(Value::as_array)
        .map(|l| l.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if statistics.is_empty() {
        return Err(cw_error(
            "InvalidParameterCombinationException",
            "InvalidParameterCombination",
            "Must specify either Statistics or ExtendedStatistics, but not both (the twin serves Statistics).",
        ));
    }
    let mut stats = Vec::new();
    for s in statistics {
        stats.push(Stat::parse(s).ok_or_else(|| {
            invalid(format!(
                "The value {s} for parameter Statistics is not valid; \
            expected Sum, SampleCount, Average, Maximum or Minimum."
            ))
        })?);
    }
    let requested = (floor_minute(end) - floor_minute(start)).num_seconds() / period + 1;
    if requested > 1440 {
        return Err(cw_error(
            "InvalidParameterCombinationException",
            "InvalidParameterCombination",
            format!("You have requested up to {requested} datapoints, which exceeds the limit of 1440."),
        ));
    }
    let dims = dimensions(input).map_err(invalid)?;
    let mq = MetricQuery {
        namespace: namespace.to_string(),
        name: name.to_string(),
        dimensions: dims,
        unit: input.get("Unit").and_then(Value::as_str).map(str::to_string),
        period,
        start,
        end,
    };
    let datapoints = store
        .buckets(&mq, now, lag)
        .into_iter()
        .map(|(ts, values)| {
            let mut fields = vec![("Timestamp".to_string(), Wire::Time(ts))];
            for s in &stats {
                fields.push((s.name().to_string(), Wire::Float(s.apply(&values))));
            }
            fields.push(("Unit".to_string(), Wire::text("Count")));
            Wire::Map(fields)
        })
        .collect();
    Ok(Wire::map(vec![("Label", Wire::text(name)), ("Datapoints", Wire::List(datapoints))]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn store() -> MetricStore {
        let mut s = MetricStore::default();
        s.record(SesMetric::Send, None, t("2026-11-26T12:00:10Z"));
        s.record(SesMetric::Send, Some("cs"), t("2026-11-26T12:00:50Z"));
        s.record(SesMetric::Send, None, t("2026-11-26T12:02:30Z"));
        s.record(SesMetric::Delivery, None, t("2026-11-26T12:02:31Z"));
        s
    }

    fn query(extra: Value) -> Value {
        let mut q = json!({
            "StartTime": t("2026-11-26T12:00:45Z").timestamp(),
            "EndTime": t("2026-11-26T12:05:00Z").timestamp(),
            "MetricDataQueries": [{"Id": "send", "MetricStat": {"Metric": {"Namespace": "AWS/SES",
                "MetricName": "Send"}, "Period": 60, "Stat": "Sum"}}]
        });
        for (k, v) in extra.as_object().unwrap() {
            q[k] = v.clone();
        }
        q
    }

    fn series(w: &Wire) -> Vec<(i64, f64)> {
        let j = w.to_json();
        let r = &j["MetricDataResults"][0];
        r["Timestamps"]
            .as_array()
            .unwrap()
            .iter()
            .zip(r["Values"].as_array().unwrap())
            .map(|(t, v)| (t.as_i64().unwrap(), v.as_f64().unwrap()))
            .collect()
    }

    #[test]
    fn bucket_semantics_case_table() {
        let now = t("2026-11-26T13:00:00Z");
        let m = |s: &str| t(s).timestamp();
        type Case = (&'static str, Value, i64, Vec<(i64, f64)>);
        let cases: &[Case] = &[
            (
                "start rounded down, descending by default, empty minutes absent, dimensioned data kept apart",
                json!({}),
                0,
                vec![(m("2026-11-26T12:02:00Z"), 1.0), (m("2026-11-26T12:00:00Z"), 2.0)],
            ),
            (
                "ascending",
                json!({"ScanBy": "TimestampAscending"}),
                0,
                vec![(m("2026-11-26T12:00:00Z"), 2.0), (m("2026-11-26T12:02:00Z"), 1.0)],
            ),
            ("end exclusive", json!({"EndTime": m("2026-11-26T12:02:30Z")}), 0, vec![(m("2026-11-26T12:00:00Z"), 2.0)]),
            ("lag hides recent points", json!({}), 3600 - 60, vec![(m("2026-11-26T12:00:00Z"), 2.0)]),
            (
                "configuration-set metric alone",
                json!({"MetricDataQueries": [{"Id": "cs", "MetricStat": {"Metric": {"Namespace": "AWS/SES",
                    "MetricName": "Send", "Dimensions": [{"Name": "ses:configuration-set", "Value": "cs"}]},
                    "Period": 60, "Stat": "Sum"}}]}),
                0,
                vec![(m("2026-11-26T12:00:00Z"), 1.0)],
            ),
            (
                "five-minute period, SampleCount",
                json!({"MetricDataQueries": [{"Id": "n", "MetricStat": {"Metric": {"Namespace": "AWS/SES",
                    "MetricName": "Send"}, "Period": 300, "Stat": "SampleCount"}}]}),
                0,
                vec![(m("2026-11-26T12:00:00Z"), 3.0)],
            ),
            (
                "other namespace is empty",
                json!({"MetricDataQueries": [{"Id": "x", "MetricStat": {"Metric": {"Namespace": "AWS/EC2",
                    "MetricName": "Send"}, "Period": 60, "Stat": "Sum"}}]}),
                0,
                vec![],
            ),
        ];
        for (name, extra, lag, want) in cases {
            let w = get_metric_data(&store(), &query(extra.clone()), now, Duration::seconds(*lag)).unwrap();
            assert_eq!(&series(&w), want, "{name}");
        }
    }

    #[test]
    fn paging_with_max_datapoints() {
        let now = t("2026-11-26T13:00:00Z");
        let first =
            get_metric_data(&store(), &query(json!({"MaxDatapoints": 1})), now, Duration::zero()).unwrap().to_json();
        assert_eq!(first["NextToken"], "twin-page-1");
        assert_eq!(first["MetricDataResults"][0]["StatusCode"], "PartialData");
        let second = get_metric_data(
            &store(),
            &query(json!({"MaxDatapoints": 1, "NextToken": "twin-page-1"})),
            now,
            Duration::zero(),
        )
        .unwrap()
        .to_json();
        assert!(second.get("NextToken").is_none());
        assert_eq!(second["MetricDataResults"][0]["Values"], json!([2.0]));
        assert_eq!(second["MetricDataResults"][0]["StatusCode"], "Complete");
        let bad = get_metric_data(&store(), &query(json!({"NextToken": "nope"})), now, Duration::zero()).unwrap_err();
        assert_eq!(bad.query_code.as_deref(), Some("InvalidNextToken"));
    }

    #[test]
    fn invalid_requests_case_table() {
        let now = t("2026-11-26T13:00:00Z");
        let cases: &[(&str, Value, &str)] = &[
            (
                "period not a multiple of 60",
                json!({"MetricDataQueries": [{"Id": "a", "MetricStat": {"Metric": {"Namespace": "AWS/SES",
                    "MetricName": "Send"}, "Period": 90, "Stat": "Sum"}}]}),
                "multiple of 60",
            ),
            (
                "unknown stat",
                json!({"MetricDataQueries": [{"Id": "a", "MetricStat": {"Metric": {"Namespace": "AWS/SES",
                    "MetricName": "Send"}, "Period": 60, "Stat": "p99"}}]}),
                "\"p99\"",
            ),
            (
                "bad id",
                json!({"MetricDataQueries": [{"Id": "Send", "MetricStat": {"Metric": {"Namespace": "AWS/SES",
                    "MetricName": "Send"}, "Period": 60, "Stat": "Sum"}}]}),
                "\"Send\"",
            ),
            ("end before start", json!({"EndTime": 0}), "less than"),
            ("no queries", json!({"MetricDataQueries": []}), "1 to 500"),
        ];
        for (name, extra, want) in cases {
            let err = get_metric_data(&store(), &query(extra.clone()), now, Duration::zero()).unwrap_err();
            assert_eq!(err.query_code.as_deref(), Some("ValidationError"), "{name}");
            assert!(err.message.contains(want), "{name}: {}", err.message);
        }
    }

    #[test]
    fn get_metric_statistics_sums_and_validates() {
        let now = t("2026-11-26T13:00:00Z");
        let input = json!({"Namespace": "AWS/SES", "MetricName": "Send",
            "StartTime": t("2026-11-26T12:00:00Z").timestamp(), "EndTime": t("2026-11-26T12:10:00Z").timestamp(),
            "Period": 60, "Statistics": ["Sum", "Maximum"]});
        let out = get_metric_statistics(&store(), &input, now, Duration::zero()).unwrap().to_json();
        let points = out["Datapoints"].as_array().unwrap();
        assert_eq!(points.len(), 2);
        assert_eq!(points[0]["Sum"], 2.0);
        assert_eq!(points[0]["Unit"], "Count");
        let mut no_stats = input.clone();
        no_stats.as_object_mut().unwrap().remove("Statistics");
        assert_eq!(
            get_metric_statistics(&store(), &no_stats, now, Duration::zero()).unwrap_err().query_code.as_deref(),
            Some("InvalidParameterCombination")
        );
        let mut no_ns = input.clone();
        no_ns.as_object_mut().unwrap().remove("Namespace");
        assert_eq!(
            get_metric_statistics(&store(), &no_ns, now, Duration::zero()).unwrap_err().query_code.as_deref(),
            Some("MissingParameter")
        );
        let mut wrong_unit = input.clone();
        wrong_unit["Unit"] = json!("Seconds");
        assert_eq!(
            get_metric_statistics(&store(), &wrong_unit, now, Duration::zero()).unwrap().to_json()["Datapoints"],
            json!([])
        );
    }

    #[test]
    fn cbor_round_trip_through_ciborium() {
        let w = Wire::map(vec![
            ("T", Wire::Time(t("2026-11-26T12:00:00Z"))),
            ("V", Wire::List(vec![Wire::Float(1.0), Wire::Int(-3), Wire::Int(300)])),
            ("S", Wire::text("x")),
        ]);
        let json = cbor_to_json(&w.to_cbor()).unwrap();
        assert_eq!(json, json!({"T": 1795694400.0, "V": [1.0, -3, 300], "S": "x"}));
    }
}
