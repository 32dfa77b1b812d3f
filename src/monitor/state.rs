//! The alert state machine as a pure function (DESIGN.md §7, gatus semantics per STYLE.md): [`step`] takes
//! the state of one probe and the summary of one finished run and returns the next state and the alerts it
//! raises: a trigger when an incident opens, reminders while it stays open, a resolve when it closes. No
//! clock, no I/O. Who gets each alert, and retrying until they do, is the delivery ledger's job
//! ([`super::ledger`]): every channel gets each trigger and reminder until it takes it, and each channel
//! that took (or may have taken) the trigger gets the resolve.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::alert::AlertKind;
use crate::verdict::Outcome;

/// Gatus' minimum spacing of reminders; shorter configured intervals are rejected by the config loader.
pub use crate::config::alert::MIN_REMINDER_INTERVAL;

/// When to page, resolve and remind. Defaults: page after 3, resolve after 2, blind after 6, no reminders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thresholds {
    /// CRITICAL runs (without `success` OK runs in between) before a page.
    pub failure: u32,
    /// Consecutive OK runs that resolve an incident and reset the failure count (flap protection: a single
    /// OK between failures does not reset it).
    pub success: u32,
    /// Consecutive UNKNOWN runs before the `probe_blind` alert.
    pub unknown: u32,
    /// Re-send the open incident this often while it keeps failing; `None`: never.
    pub reminder: Option<Duration>,
    /// Count WARNING runs as failures (default: a WARNING delivered, so it counts as success).
    pub warning_is_failure: bool,
}

impl From<&crate::config::AlertSettings> for Thresholds {
    fn from(a: &crate::config::AlertSettings) -> Thresholds {
        Thresholds {
            failure: a.failure_threshold,
            success: a.success_threshold,
            unknown: a.unknown_threshold,
            reminder: a.reminder_interval,
            warning_is_failure: a.warning_is_failure,
        }
    }
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { failure: 3, success: 2, unknown: 6, reminder: None, warning_is_failure: false }
    }
}

/// Which incident an alert belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    /// Mail is not delivered.
    Delivery,
    /// The probe cannot see (UNKNOWN runs).
    Blind,
    /// The monitor cannot write this probe's state (kept in memory only, never stored).
    Degraded,
}

impl IncidentKind {
    pub fn name(self) -> &'static str {
        match self {
            IncidentKind::Delivery => "delivery",
            IncidentKind::Blind => "blind",
            IncidentKind::Degraded => "degraded",
        }
    }
}

/// An open incident. Its `dedup_key` is fixed when it opens and persisted, so every trigger, reminder and
/// resolve of one incident carries the same key, across restarts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    pub kind: IncidentKind,
    pub dedup_key: String,
    pub opened_at: DateTime<Utc>,
    /// True once at least one channel took the opening alert (informational: the ledger decides resolves).
    pub triggered: bool,
    /// When the last trigger or reminder was raised: reminders are spaced from it.
    pub last_notified: Option<DateTime<Utc>>,
}

/// Everything the state machine remembers about one probe.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertState {
    /// Failing runs since the last streak of `success` OK runs.
    pub failures: u32,
    /// Consecutive successful runs.
    pub successes: u32,
    /// Consecutive UNKNOWN runs.
    pub unknowns: u32,
    pub delivery: Option<Incident>,
    pub blind: Option<Incident>,
}

/// An alert to send, for the incident with this key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub kind: AlertKind,
    pub dedup_key: String,
}

/// Longest dedup key: PagerDuty's Events API v2 refuses a `dedup_key` over 255 characters.
pub const DEDUP_KEY_MAX: usize = 255;

/// The dedup key of an incident opened at `now`: the probe name and the opening instant, so it is stable
/// once persisted and never reused by a later incident of the same probe. A probe name too long for
/// [`DEDUP_KEY_MAX`] is cut and followed by a hash of the whole name, so two long names never share keys.
pub fn dedup_key(probe: &str, kind: IncidentKind, now: DateTime<Utc>) -> String {
    let at = now.format("%Y%m%dT%H%M%S%.3fZ");
    let key = format!("cognito-probe/{probe}/{}/{at}", kind.name());
    if key.len() <= DEDUP_KEY_MAX {
        return key;
    }
    use sha2::Digest as _;
    let hash: String = sha2::Sha256::digest(probe.as_bytes()).iter().take(6).map(|b| format!("{b:02x}")).collect();
    let fixed = format!("cognito-probe//{}/{at}", kind.name()).len() + 1 + hash.len();
    let mut cut = DEDUP_KEY_MAX.saturating_sub(fixed);
    while !probe.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("cognito-probe/{}~{hash}/{}/{at}", &probe[..cut], kind.name())
}

/// One run through the state machine. `probe` names the probe (for new dedup keys).
pub fn step(
    mut state: AlertState,
    probe: &str,
    outcome: Outcome,
    now: DateTime<Utc>,
    t: &Thresholds,
) -> (AlertState, Vec<Action>) {
    let mut actions = Vec::new();
    if outcome == Outcome::Unknown {
        // UNKNOWN neither pages as a delivery failure nor resets the failure count (DESIGN.md §6).
        state.unknowns += 1;
        if state.blind.is_none() && state.unknowns >= t.unknown.max(1) {
            let key = dedup_key(probe, IncidentKind::Blind, now);
            state.blind = Some(Incident {
                kind: IncidentKind::Blind,
                dedup_key: key.clone(),
                opened_at: now,
                triggered: false,
                last_notified: Some(now),
            });
            actions.push(Action { kind: AlertKind::ProbeBlind, dedup_key: key });
        }
        return (state, actions);
    }
    state.unknowns = 0;
    if let Some(blind) = state.blind.take() {
        actions.push(Action { kind: AlertKind::ProbeBlindResolve, dedup_key: blind.dedup_key });
    }
    let failed = outcome == Outcome::Critical || (outcome == Outcome::Warning && t.warning_is_failure);
    if failed {
        state.failures += 1;
        state.successes = 0;
        match &mut state.delivery {
            None if state.failures >= t.failure.max(1) => {
                let key = dedup_key(probe, IncidentKind::Delivery, now);
                state.delivery = Some(Incident {
                    kind: IncidentKind::Delivery,
                    dedup_key: key.clone(),
                    opened_at: now,
                    triggered: false,
                    last_notified: Some(now),
                });
                actions.push(Action { kind: AlertKind::Trigger, dedup_key: key });
            }
            Some(i) => {
                // gatus: reminders no closer than 5 minutes.
                if let (Some(every), Some(last)) = (t.reminder, i.last_notified) {
                    let every = every.max(MIN_REMINDER_INTERVAL);
                    if (now - last).to_std().is_ok_and(|since| since >= every) {
                        i.last_notified = Some(now);
                        actions.push(Action { kind: AlertKind::Reminder, dedup_key: i.dedup_key.clone() });
                    }
                }
            }
            None => {}
        }
    } else {
        state.successes += 1;
        if state.successes >= t.success.max(1) {
            state.failures = 0;
            if let Some(i) = state.delivery.take() {
                actions.push(Action { kind: AlertKind::Resolve, dedup_key: i.dedup_key });
            }
        }
    }
    (state, actions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Outcome::{Critical as C, Ok as O, Unknown as U, Warning as W};

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-26T12:00:00Z").unwrap().to_utc()
    }

    /// Steps `runs` one at a time, 60 s apart; returns per run (failures, successes, delivery incident open,
    /// action kinds).
    fn drive(runs: &[Outcome], t: &Thresholds) -> Vec<(u32, u32, bool, Vec<AlertKind>)> {
        let mut state = AlertState::default();
        let mut out = Vec::new();
        for (i, outcome) in runs.iter().enumerate() {
            let now = t0() + chrono::Duration::seconds(60 * i as i64);
            let (next, actions) = step(state, "prod", *outcome, now, t);
            let open = next.delivery.is_some();
            out.push((next.failures, next.successes, open, actions.iter().map(|a| a.kind).collect()));
            state = next;
        }
        out
    }

    #[test]
    fn case_table() {
        use AlertKind::*;
        let n3m2 = Thresholds::default();
        let warn_fails = Thresholds { warning_is_failure: true, ..Thresholds::default() };
        let blind2 = Thresholds { unknown: 2, ..Thresholds::default() };
        type Row = (&'static str, Vec<Outcome>, Thresholds, (u32, u32, bool, Vec<AlertKind>));
        let cases: Vec<Row> = vec![
            ("two failures do not page", vec![C, C], n3m2.clone(), (2, 0, false, vec![])),
            ("third failure pages", vec![C, C, C], n3m2.clone(), (3, 0, true, vec![Trigger])),
            ("fourth failure is quiet", vec![C, C, C, C], n3m2.clone(), (4, 0, true, vec![])),
            ("one OK does not resolve", vec![C, C, C, O], n3m2.clone(), (3, 1, true, vec![])),
            ("two OKs resolve", vec![C, C, C, O, O], n3m2.clone(), (0, 2, false, vec![Resolve])),
            (
                "flap: one OK between failures keeps the count",
                vec![C, C, O, C],
                n3m2.clone(),
                (3, 0, true, vec![Trigger]),
            ),
            ("two OKs reset the count", vec![C, C, O, O, C], n3m2.clone(), (1, 0, false, vec![])),
            ("warning counts as success", vec![C, C, W, W, C], n3m2.clone(), (1, 0, false, vec![])),
            ("warning as failure pages", vec![C, W, W], warn_fails, (3, 0, true, vec![Trigger])),
            ("unknown does not page nor reset", vec![C, C, U, U, U, C], n3m2.clone(), (3, 0, true, vec![Trigger])),
            ("unknowns raise probe_blind", vec![U, U], blind2.clone(), (0, 0, false, vec![ProbeBlind])),
            (
                "seeing again resolves probe_blind",
                vec![U, U, O],
                blind2.clone(),
                (0, 1, false, vec![ProbeBlindResolve]),
            ),
            ("an open incident is not paged again", vec![C, C, C, C, C], n3m2.clone(), (5, 0, true, vec![])),
            ("unknown after blind is quiet", vec![U, U, U], blind2, (0, 0, false, vec![])),
            ("every close raises its resolve", vec![C, C, C, O, O], n3m2, (0, 2, false, vec![Resolve])),
        ];
        for (name, runs, t, expected) in cases {
            let got = drive(&runs, &t);
            assert_eq!(got.last().unwrap(), &expected, "{name}: {got:?}");
        }
    }

    #[test]
    fn resolve_carries_the_trigger_key_and_reminders_wait_five_minutes() {
        let t = Thresholds { failure: 1, reminder: Some(Duration::from_secs(60)), ..Thresholds::default() };
        let (s, a) = step(AlertState::default(), "p", C, t0(), &t);
        let key = a[0].dedup_key.clone();
        let (s, a) = step(s, "p", C, t0() + chrono::Duration::seconds(240), &t);
        assert!(a.is_empty(), "a 60 s reminder is raised to gatus' 5 min minimum: {a:?}");
        let (s, a) = step(s, "p", C, t0() + chrono::Duration::seconds(300), &t);
        assert_eq!(a, vec![Action { kind: AlertKind::Reminder, dedup_key: key.clone() }]);
        let (s, a) = step(s, "p", C, t0() + chrono::Duration::seconds(540), &t);
        assert!(a.is_empty(), "the next reminder is spaced from the last one: {a:?}");
        let (s, _) = step(s, "p", O, t0() + chrono::Duration::seconds(560), &t);
        let (_, a) = step(s, "p", O, t0() + chrono::Duration::seconds(600), &t);
        assert_eq!(a, vec![Action { kind: AlertKind::Resolve, dedup_key: key }]);
    }

    #[test]
    fn dedup_keys_fit_pagerduty_and_long_names_stay_apart() {
        let long = |c: char| std::iter::repeat_n(c, 400).collect::<String>();
        let (a, b) = (format!("{}-a", long('p')), format!("{}-b", long('p')));
        for name in ["prod", a.as_str(), b.as_str(), &"ü".repeat(300)] {
            let key = dedup_key(name, IncidentKind::Delivery, t0());
            assert!(key.len() <= DEDUP_KEY_MAX, "{} characters: {key}", key.len());
            assert!(key.ends_with("/delivery/20261126T120000.000Z"), "{key}");
        }
        assert_eq!(dedup_key("prod", IncidentKind::Blind, t0()), "cognito-probe/prod/blind/20261126T120000.000Z");
        assert_ne!(dedup_key(&a, IncidentKind::Delivery, t0()), dedup_key(&b, IncidentKind::Delivery, t0()));
    }
}
