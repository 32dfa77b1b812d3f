//! CloudWatch Embedded Metric Format: one JSON document per probe run, written to standard output, which
//! CloudWatch Logs turns into metrics on Lambda and on ECS with the awslogs driver — no PutMetricData call,
//! no permission beyond writing the function's or task's own log group.
//!
//! The rules followed (CloudWatch User Guide, "Specification: Embedded metric format"):
//! - the document is one JSON object on one line, with nothing around it;
//! - `_aws.Timestamp` is milliseconds since the epoch; `_aws.CloudWatchMetrics` is an array of directives, each
//!   with `Namespace`, `Dimensions` (an array of dimension sets of at most 30 keys, each key a root string
//!   member) and `Metrics` (at most 100 definitions of `Name`, `Unit`, `StorageResolution` 60 or 1);
//! - every metric value is a number at the root; a metric without a value is not declared;
//! - dimension values are strings of 1 to 1024 characters (CloudWatch `Dimension.Value`).
//!
//! The metrics of one run, namespace [`NAMESPACE`], dimensions `Probe` and `Pool`:
//!
//! | metric | unit | value |
//! |---|---|---|
//! | `Success` | Count | 1 when the run is OK, or WARNING unless `warning_is_failure` |
//! | `Failure` | Count | 1 when the run is CRITICAL, or WARNING with `warning_is_failure` |
//! | `Unknown` | Count | 1 when the run is UNKNOWN (the probe could not tell) |
//! | `OutcomeCode` | None | the exit code: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN |
//! | `DeliveryLatency` | Seconds | trigger to mail detected, when the mail was found |
//! | `<Phase>Seconds` | Seconds | time spent in each phase that ran (`TriggerSeconds`, `InboxSeconds`, …) |
//!
//! Exactly one of `Success`, `Failure` and `Unknown` is 1 in every document, so an alarm on any of them sees
//! one datapoint per run, and no datapoint when the probe stopped running. The verdict itself rides along as
//! properties (`Outcome`, `Phase`, `Diagnosis`, `Summary`, `Evidence`, `Notes`), searchable with Logs Insights.

use serde_json::{Map, Value, json};

use crate::report::Report;
use crate::verdict::{Outcome, Phase};

/// The CloudWatch namespace of the probe's metrics.
pub const NAMESPACE: &str = "CognitoDeliveryProbe";

/// The dimension set of every metric: which probe file, which user pool.
pub const DIMENSIONS: [&str; 2] = ["Probe", "Pool"];

/// The largest document CloudWatch Logs accepts as EMF (256 KB in the specification; one log event).
/// Longer evidence lists are cut to fit, with a property saying so; metrics are never dropped.
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// CloudWatch's longest dimension value.
const MAX_DIMENSION_CHARS: usize = 1024;

/// Dimension value used when the run has none (a probe file that could not be read has no pool id):
/// CloudWatch refuses empty dimension values.
pub const UNNAMED: &str = "unknown";

/// The metric name of a phase's time: `TriggerSeconds`, `SesSeconds`, …
pub fn phase_metric(phase: Phase) -> String {
    let name = phase.name();
    let mut chars = name.chars();
    let first = chars.next().map(|c| c.to_ascii_uppercase()).into_iter();
    format!("{}{}Seconds", first.collect::<String>(), chars.as_str())
}

/// The EMF document of one run, on one line without a trailing newline.
pub fn document(report: &Report, warning_is_failure: bool) -> String {
    let mut root = Map::new();
    root.insert("Probe".into(), dimension(&report.probe));
    root.insert("Pool".into(), dimension(&report.pool_id));

    let failed =
        matches!(report.outcome, Outcome::Critical) || (report.outcome == Outcome::Warning && warning_is_failure);
    let unknown = report.outcome == Outcome::Unknown;
    let flag = |b: bool| if b { 1 } else { 0 };
    let mut metrics = Vec::new();
    let mut metric = |root: &mut Map<String, Value>, name: &str, unit: &str, value: Value| {
        metrics.push(json!({ "Name": name, "Unit": unit, "StorageResolution": 60 }));
        root.insert(name.to_string(), value);
    };
    metric(&mut root, "Success", "Count", json!(flag(!failed && !unknown)));
    metric(&mut root, "Failure", "Count", json!(flag(failed)));
    metric(&mut root, "Unknown", "Count", json!(flag(unknown)));
    metric(&mut root, "OutcomeCode", "None", json!(report.outcome.exit_code()));
    if let Some(total) = report.mail.as_ref().and_then(|m| m.latency.total_seconds).filter(|v| v.is_finite()) {
        metric(&mut root, "DeliveryLatency", "Seconds", json!(total.max(0.0)));
    }
    for phase in Phase::ALL {
        if let Some(seconds) = report.timings.get(&phase).copied().flatten().filter(|v| v.is_finite()) {
            metric(&mut root, &phase_metric(phase), "Seconds", json!(seconds.max(0.0)));
        }
    }

    let d = &report.diagnosis;
    root.insert("Outcome".into(), json!(report.outcome.label()));
    root.insert("Phase".into(), json!(report.phase.name()));
    root.insert("Diagnosis".into(), json!(d.code.to_string()));
    root.insert("Summary".into(), json!(d.summary));
    root.insert("Username".into(), json!(report.username));
    root.insert("FinishedAt".into(), json!(report.finished_at.to_rfc3339()));
    root.insert("Evidence".into(), json!(d.evidence));
    root.insert("Notes".into(), json!(report.notes));

    let timestamp = report.started_at.timestamp_millis();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [DIMENSIONS],
                "Metrics": metrics,
            }],
        }),
    );
    fit(root)
}

/// A dimension value CloudWatch accepts: never empty, at most 1024 characters.
fn dimension(value: &str) -> Value {
    let value = value.trim();
    if value.is_empty() { json!(UNNAMED) } else { json!(value.chars().take(MAX_DIMENSION_CHARS).collect::<String>()) }
}

/// Serialises `root`, dropping evidence and notes from the end (and saying so) until it fits in one EMF event.
fn fit(mut root: Map<String, Value>) -> String {
    loop {
        let text = serde_json::to_string(&root).unwrap_or_default();
        if text.len() <= MAX_DOCUMENT_BYTES {
            return text;
        }
        let shortened = ["Evidence", "Notes"].iter().any(|key| match root.get_mut(*key) {
            Some(Value::Array(items)) if !items.is_empty() => {
                let keep = items.len() / 2;
                items.truncate(keep);
                true
            }
            _ => false,
        });
        root.insert("Truncated".into(), json!(true));
        if !shortened {
            // Only the summary can still be long: keep its start.
            let summary = root.get("Summary").and_then(Value::as_str).unwrap_or_default();
            let cut: String = summary.chars().take(1024).collect();
            root.insert("Summary".into(), json!(cut));
            return Value::Object(root).to_string();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::{Cause, Code};

    fn parsed(report: &Report, warning_is_failure: bool) -> Value {
        let line = document(report, warning_is_failure);
        assert!(!line.contains('\n'), "one line: {line}");
        serde_json::from_str(&line).unwrap()
    }

    fn with(outcome_code: Code) -> Report {
        let mut report = Report::new("production", "eu-west-1_AbC", "probe-user");
        let diagnosis = Cause::new(outcome_code).detail("test").at(Phase::Inbox);
        report.conclude(diagnosis, [(Phase::Resolve, 0.25), (Phase::Inbox, 4.0)].into());
        report
    }

    #[test]
    fn exactly_one_of_success_failure_unknown_per_outcome() {
        for (code, warning_is_failure, expected) in [
            (Code::Delivered, false, "Success"),
            (Code::ReceiverUnconfirmed, false, "Success"),
            (Code::ReceiverUnconfirmed, true, "Failure"),
            (Code::NotDelivered, false, "Failure"),
            (Code::ConfigInvalid, false, "Unknown"),
        ] {
            let report = with(code);
            let doc = parsed(&report, warning_is_failure);
            for name in ["Success", "Failure", "Unknown"] {
                assert_eq!(doc[name], json!(if name == expected { 1 } else { 0 }), "{code:?} {name}: {doc}");
            }
            assert_eq!(doc["OutcomeCode"], json!(report.outcome.exit_code()));
            assert_eq!(doc["Outcome"], json!(report.outcome.label()));
        }
    }

    #[test]
    fn only_phases_that_ran_are_declared() {
        let doc = parsed(&with(Code::NotDelivered), false);
        let names: Vec<&str> = doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Success", "Failure", "Unknown", "OutcomeCode", "ResolveSeconds", "InboxSeconds"]);
        assert_eq!(doc["InboxSeconds"], json!(4.0));
        assert!(doc.get("TriggerSeconds").is_none() && doc.get("DeliveryLatency").is_none(), "{doc}");
    }

    #[test]
    fn a_run_without_pool_still_has_dimension_values() {
        let doc = parsed(&Report::unusable_config("", "probes/x.toml:3: pool_id: bad"), false);
        assert_eq!((doc["Probe"].as_str(), doc["Pool"].as_str()), (Some(UNNAMED), Some(UNNAMED)));
        assert_eq!(doc["Unknown"], json!(1));
    }

    #[test]
    fn huge_evidence_is_cut_to_fit_one_event_and_metrics_stay() {
        let mut report = with(Code::NotDelivered);
        report.diagnosis.evidence = (0..5000).map(|i| format!("{i}: {}", "x".repeat(200))).collect();
        let line = document(&report, false);
        assert!(line.len() <= MAX_DOCUMENT_BYTES, "{} bytes", line.len());
        let doc: Value = serde_json::from_str(&line).unwrap();
        assert_eq!((doc["Failure"].clone(), doc["Truncated"].clone()), (json!(1), json!(true)));
        assert!(!doc["Evidence"].as_array().unwrap().is_empty());
    }

    #[test]
    fn phase_metric_names_are_camel_case() {
        let names: Vec<String> = Phase::ALL.into_iter().map(phase_metric).collect();
        assert_eq!(
            names,
            [
                "ConfigSeconds",
                "ResolveSeconds",
                "TriggerSeconds",
                "SesSeconds",
                "InboxSeconds",
                "AuthenticateSeconds",
                "CleanupSeconds"
            ]
        );
    }
}
