//! Paging: the alerts the monitor raises and resolves, and the channels that carry them (DESIGN.md §7).
//!
//! An [`Alert`] is built from a probe's report by the alert state machine; a channel only transports it.
//! Payload building stays apart from transport so every channel's payload is testable without a network.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::verdict::{Outcome, Phase};

/// What the alert says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// Delivery failed N consecutive times: page.
    Trigger,
    /// Still failing: a reminder for the open incident.
    Reminder,
    /// Delivered again M consecutive times: resolve the incident.
    Resolve,
    /// The probe itself could not tell for a long time (UNKNOWN runs): its own alert, never a delivery page.
    ProbeBlind,
    /// The probe can see again.
    ProbeBlindResolve,
    /// The monitor cannot write its state (full disk, damaged database): its paging cannot be trusted
    /// until this resolves. Sent from memory, since the state is what failed.
    MonitorDegraded,
    /// The monitor writes its state again.
    MonitorDegradedResolve,
}

impl AlertKind {
    /// The kind as the JSON, env vars, state database and metrics spell it (`probe_blind`).
    pub fn name(self) -> &'static str {
        match self {
            AlertKind::Trigger => "trigger",
            AlertKind::Reminder => "reminder",
            AlertKind::Resolve => "resolve",
            AlertKind::ProbeBlind => "probe_blind",
            AlertKind::ProbeBlindResolve => "probe_blind_resolve",
            AlertKind::MonitorDegraded => "monitor_degraded",
            AlertKind::MonitorDegradedResolve => "monitor_degraded_resolve",
        }
    }

    /// Every kind, in the order above.
    pub const ALL: [AlertKind; 7] = [
        AlertKind::Trigger,
        AlertKind::Reminder,
        AlertKind::Resolve,
        AlertKind::ProbeBlind,
        AlertKind::ProbeBlindResolve,
        AlertKind::MonitorDegraded,
        AlertKind::MonitorDegradedResolve,
    ];

    /// The kind spelled as [`AlertKind::name`] does.
    pub fn parse(name: &str) -> Option<AlertKind> {
        AlertKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether the alert closes an incident (PagerDuty `resolve`).
    pub fn is_resolve(self) -> bool {
        matches!(self, AlertKind::Resolve | AlertKind::ProbeBlindResolve | AlertKind::MonitorDegradedResolve)
    }

    /// The resolve of the incident this kind opens or repeats.
    pub fn resolve(self) -> AlertKind {
        match self {
            AlertKind::Trigger | AlertKind::Reminder | AlertKind::Resolve => AlertKind::Resolve,
            AlertKind::ProbeBlind | AlertKind::ProbeBlindResolve => AlertKind::ProbeBlindResolve,
            AlertKind::MonitorDegraded | AlertKind::MonitorDegradedResolve => AlertKind::MonitorDegradedResolve,
        }
    }
}

/// One alert, as every channel receives it. Untrusted strings (subjects, error texts) are data here and
/// must stay data in every channel: never command text, never a header name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub kind: AlertKind,
    pub probe: String,
    pub pool_id: String,
    /// Stable for the life of one incident; PagerDuty's dedup_key. Persisted across restarts.
    pub dedup_key: String,
    /// Stable for one alert of one incident (`<dedup_key>/<kind>/<sequence>`): a channel may receive the
    /// same alert more than once (a send cut short by a crash or a timeout is repeated), always with this
    /// key, so a receiver can drop the repeat. Also the `Idempotency-Key` header of webhook requests and
    /// `PROBE_IDEMPOTENCY_KEY` of exec programs.
    pub idempotency_key: String,
    pub outcome: Outcome,
    pub phase: Phase,
    /// `diagnosis.code` of the report that caused the alert.
    pub code: String,
    /// `diagnosis.summary` of that report.
    pub summary: String,
    pub consecutive_failures: u32,
    pub at: DateTime<Utc>,
    /// The full report (JSON) of the run that caused the alert.
    pub report: serde_json::Value,
}

mod channel;
mod exec;
pub(crate) mod http;
mod pagerduty;
mod sns;
mod webhook;

pub use channel::{AttemptError, Channel, ChannelConfig, ChannelError, RetryPolicy};
pub use webhook::{IDEMPOTENCY_HEADER, SIGNATURE_HEADER};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_are_the_json_spelling() {
        for kind in AlertKind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.name(), "{kind:?}");
            assert_eq!(AlertKind::parse(kind.name()), Some(kind));
        }
    }
}
