//! Paging: the alerts the monitor raises and resolves, and the channels that carry them (DESIGN.md §7).
//!
//! An [`Alert`] is built from a probe's report by the alert state machine; a channel only transports it.
//! Payload building stays apart from transport so every channel's payload is testable without a network.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::verdict::{Outcome, Phase};

/// What the alert says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
        }
    }
}

/// One alert, as every channel receives it. Untrusted strings (subjects, error texts) are data here and
/// must stay data in every channel: never command text, never a header name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub kind: AlertKind,
    pub probe: String,
    pub pool_id: String,
    /// Stable for the life of one incident; PagerDuty's dedup_key. Persisted across restarts.
    pub dedup_key: String,
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
mod http;
mod pagerduty;
mod sns;
mod webhook;

pub use channel::{AttemptError, Channel, ChannelConfig, ChannelError, RetryPolicy};
pub use webhook::SIGNATURE_HEADER;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_are_the_json_spelling() {
        for kind in [
            AlertKind::Trigger,
            AlertKind::Reminder,
            AlertKind::Resolve,
            AlertKind::ProbeBlind,
            AlertKind::ProbeBlindResolve,
        ] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.name(), "{kind:?}");
        }
    }
}
