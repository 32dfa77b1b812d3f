//! The PagerDuty channel: Events API v2 (<https://developer.pagerduty.com/docs/events-api-v2/overview/>).
//! Triggers and reminders send `event_action = "trigger"` with the incident's `dedup_key` (PagerDuty folds
//! repeated triggers with one key into the open incident); recovery sends `"resolve"` with the same key.

use std::time::Duration;

use hyper::Uri;
use serde_json::{Value, json};

use super::channel::{AttemptError, ChannelError};
use super::http::{self, HttpClient};
use super::{Alert, AlertKind};
use crate::secret::Secret;
use crate::verdict::Outcome;

/// The Events API v2 endpoint (PagerDuty docs "Send an Alert Event": `POST /v2/enqueue`).
pub const DEFAULT_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// `payload.summary` is limited to 1024 characters (PagerDuty Events API v2, "payload.summary": "a brief
/// text summary of the event … Maximum of 1024 characters").
const SUMMARY_MAX: usize = 1024;

/// The Events API v2 event for `alert`. Pure, so every field is testable without a network.
///
/// * `event_action`: `trigger` for Trigger, Reminder, ProbeBlind and MonitorDegraded; `resolve` for their
///   resolves (a resolve needs only routing_key, event_action and dedup_key).
/// * `payload.severity` ∈ critical|error|warning|info: CRITICAL → critical, WARNING → warning, a blind
///   probe (UNKNOWN) → error, OK → info.
/// * `component` = phase, `group` = pool id, `class` = diagnosis code, `custom_details` = the full report.
pub fn event(alert: &Alert, routing_key: &str) -> Value {
    let action = if alert.kind.is_resolve() { "resolve" } else { "trigger" };
    let mut event = json!({
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": alert.dedup_key,
    });
    if action == "trigger" {
        let severity = match (alert.kind, alert.outcome) {
            (AlertKind::ProbeBlind | AlertKind::MonitorDegraded, _) | (_, Outcome::Unknown) => "error",
            (_, Outcome::Critical) => "critical",
            (_, Outcome::Warning) => "warning",
            (_, Outcome::Ok) => "info",
        };
        event["payload"] = json!({
            "summary": summary(alert),
            "source": alert.probe,
            "severity": severity,
            "timestamp": alert.at.to_rfc3339(),
            "component": alert.phase.name(),
            "group": alert.pool_id,
            "class": alert.code,
            "custom_details": {
                "kind": alert.kind,
                "idempotency_key": alert.idempotency_key,
                "summary": alert.summary,
                "consecutive_failures": alert.consecutive_failures,
                "report": alert.report,
            },
        });
    }
    event
}

/// `<probe>: <OUTCOME> in <phase>: <summary>`, cut to [`SUMMARY_MAX`] characters (not bytes).
fn summary(alert: &Alert) -> String {
    let blind = match alert.kind {
        AlertKind::ProbeBlind => " (probe cannot see)",
        AlertKind::MonitorDegraded => " (monitor cannot record its state)",
        _ => "",
    };
    let full =
        format!("{}: {}{blind} in {}: {}", alert.probe, alert.outcome.label(), alert.phase.name(), alert.summary);
    if full.chars().count() <= SUMMARY_MAX {
        return full;
    }
    let mut cut: String = full.chars().take(SUMMARY_MAX - 1).collect();
    cut.push('…');
    cut
}

/// A configured PagerDuty service.
pub(crate) struct PagerDuty {
    url: Uri,
    routing_key: Secret,
    timeout: Duration,
    client: HttpClient,
}

impl std::fmt::Debug for PagerDuty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PagerDuty")
            .field("target", &http::target(&self.url))
            .field("routing_key", &self.routing_key)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl PagerDuty {
    pub(crate) fn new(url: &str, routing_key: Secret, timeout: Duration) -> Result<PagerDuty, ChannelError> {
        Ok(PagerDuty {
            url: http::parse_url("pagerduty", url)?,
            routing_key,
            timeout,
            client: HttpClient::new("pagerduty")?,
        })
    }

    pub(crate) fn target(&self) -> String {
        http::target(&self.url)
    }

    /// One POST. PagerDuty answers 202 on success, 400 for an invalid event (not retried), 429 when rate
    /// limited and 5xx on its own trouble (both retried) (Events API v2, "Response Codes & Retry Logic").
    pub(crate) async fn attempt(&self, alert: &Alert) -> Result<(), AttemptError> {
        let body = serde_json::to_vec(&event(alert, self.routing_key.expose())).unwrap_or_default();
        self.client.post_json(&self.url, &[], body, self.timeout).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Phase;

    fn alert(kind: AlertKind, outcome: Outcome, summary: &str) -> Alert {
        Alert {
            kind,
            probe: "prod-eu".into(),
            pool_id: "eu-west-1_AbC".into(),
            dedup_key: "cdp-prod-eu-42".into(),
            idempotency_key: "cdp-prod-eu-42/trigger/1".into(),
            outcome,
            phase: Phase::Ses,
            code: "SES_SANDBOX".into(),
            summary: summary.into(),
            consecutive_failures: 3,
            at: "2026-11-26T10:00:00Z".parse().unwrap(),
            report: json!({"outcome": "critical", "phase": "ses"}),
        }
    }

    #[test]
    fn actions_and_severities_follow_the_alert() {
        let cases = [
            ("trigger", AlertKind::Trigger, Outcome::Critical, "trigger", Some("critical")),
            ("reminder re-triggers", AlertKind::Reminder, Outcome::Critical, "trigger", Some("critical")),
            ("warning", AlertKind::Trigger, Outcome::Warning, "trigger", Some("warning")),
            ("blind", AlertKind::ProbeBlind, Outcome::Unknown, "trigger", Some("error")),
            ("resolve", AlertKind::Resolve, Outcome::Ok, "resolve", None),
            ("blind resolve", AlertKind::ProbeBlindResolve, Outcome::Ok, "resolve", None),
        ];
        for (name, kind, outcome, action, severity) in cases {
            let e = event(&alert(kind, outcome, "s"), "KEY");
            assert_eq!(e["event_action"], action, "{name}");
            assert_eq!(e["dedup_key"], "cdp-prod-eu-42", "{name}");
            assert_eq!(e["routing_key"], "KEY", "{name}");
            assert_eq!(e["payload"]["severity"].as_str(), severity, "{name}");
        }
    }

    #[test]
    fn trigger_payload_maps_report_fields() {
        let e = event(&alert(AlertKind::Trigger, Outcome::Critical, "sandboxed"), "KEY");
        let p = &e["payload"];
        assert_eq!(p["summary"], "prod-eu: CRITICAL in ses: sandboxed");
        assert_eq!(p["source"], "prod-eu");
        assert_eq!(p["component"], "ses");
        assert_eq!(p["group"], "eu-west-1_AbC");
        assert_eq!(p["class"], "SES_SANDBOX");
        assert_eq!(p["timestamp"], "2026-11-26T10:00:00+00:00");
        assert_eq!(p["custom_details"]["report"]["phase"], "ses");
        assert_eq!(p["custom_details"]["summary"], "sandboxed");
    }

    #[test]
    fn summary_is_cut_to_1024_characters_not_bytes() {
        let cases = [
            ("short", "x".repeat(10), false),
            ("multibyte", "✉".repeat(2000), true),
            ("ascii", "a".repeat(5000), true),
        ];
        for (name, text, cut) in cases {
            let e = event(&alert(AlertKind::Trigger, Outcome::Critical, &text), "KEY");
            let s = e["payload"]["summary"].as_str().unwrap();
            assert!(s.chars().count() <= SUMMARY_MAX, "{name}: {}", s.chars().count());
            assert_eq!(s.ends_with('…'), cut, "{name}");
            assert_eq!(e["payload"]["custom_details"]["summary"], text.as_str(), "{name}: full text kept");
        }
    }

    #[test]
    fn debug_redacts_the_routing_key() {
        let pd = PagerDuty::new(DEFAULT_URL, Secret::new("R0UTE-canary"), Duration::from_secs(1)).unwrap();
        assert!(!format!("{pd:?}").contains("R0UTE-canary"));
    }
}
