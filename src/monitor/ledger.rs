//! The delivery ledger: one row per alert per channel, the single record of what each channel is owed and
//! what it took. Rows are written in the same transaction as the run that raised them, before anything is
//! sent, and stay owed until the channel takes them, across crashes and restarts.
//!
//! * A trigger (or `probe_blind`) is owed to every channel of the probe; a reminder to every channel that
//!   has nothing of the incident still owed (reminders never pile up behind a channel that is down).
//! * When an incident closes, its resolve is owed to each channel that took the trigger — or may have: an
//!   attempt that timed out or was cut short after the request went out, or one a crash interrupted. Such a
//!   receiver may hold the page, and a resolve for a page it never saw is harmless, while a page left open
//!   is not. A channel that never took the trigger gets no resolve; its undelivered trigger and reminders are
//!   cancelled, so no page goes out for an incident that is over.
//! * Every row carries the alert's idempotency key (`<dedup_key>/<kind>/<sequence>`): a row sent again after
//!   a crash or an uncertain failure reaches the receiver with the same key.
//!
//! The guarantee: at least once per channel, with one idempotency key per alert; every trigger a channel
//! took is followed by its resolve.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction, params};

use super::store::{Store, StoreError};
use crate::alert::{Alert, AlertKind};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS ledger (
    id INTEGER PRIMARY KEY,
    probe TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    channel TEXT NOT NULL,
    alert TEXT NOT NULL,
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    in_flight_since TEXT,
    uncertain INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    delivered_at TEXT,
    cancelled_at TEXT,
    cancel_reason TEXT,
    UNIQUE (idempotency_key, channel)
);
CREATE INDEX IF NOT EXISTS ledger_owed ON ledger(probe, delivered_at, cancelled_at);
CREATE INDEX IF NOT EXISTS ledger_incident ON ledger(dedup_key, channel);
";

/// Longest wait between two deliveries of a row that keeps failing.
const MAX_BACKOFF_SECONDS: i64 = 600;

/// One alert owed to one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Owed {
    pub id: i64,
    pub probe: String,
    /// The channel as the probe file places it: `<index>:<type>` (`0:exec`, `2:pagerduty`).
    pub channel: String,
    pub kind: AlertKind,
    pub dedup_key: String,
    pub idempotency_key: String,
    /// The alert as JSON, exactly as first raised: a repeat carries the same content and time.
    pub alert: String,
    /// Sends tried so far (each a whole channel send, with the channel's own retries).
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
}

impl Owed {
    /// The alert to send.
    pub fn alert(&self) -> Result<Alert, serde_json::Error> {
        serde_json::from_str(&self.alert)
    }
}

/// One ledger row as tests and `probe` inspection see it.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerRow {
    pub channel: String,
    pub kind: String,
    pub dedup_key: String,
    pub idempotency_key: String,
    pub attempts: u32,
    pub delivered: bool,
    pub cancelled: Option<String>,
}

/// The channel id of the `index`-th channel of a probe file.
pub fn channel_id(index: usize, kind: &str) -> String {
    format!("{index}:{kind}")
}

/// How long a row waits after its `attempts`-th failed send: 15 s doubling to 10 min. A new run of the
/// probe sends whatever is owed regardless (a run is the natural moment to try again).
pub fn backoff(attempts: u32) -> chrono::Duration {
    let seconds = 15i64.saturating_mul(1i64 << attempts.saturating_sub(1).min(10));
    chrono::Duration::seconds(seconds.min(MAX_BACKOFF_SECONDS))
}

fn kind_of(name: &str) -> AlertKind {
    // Rows are written by this module only; an unknown name is read as a trigger so it is never dropped.
    AlertKind::parse(name).unwrap_or(AlertKind::Trigger)
}

/// Records `alert` as owed to `channels` (see the module rules); returns the idempotency key it got.
/// Runs inside the caller's transaction.
pub(super) fn enqueue(
    tx: &Transaction<'_>,
    alert: &Alert,
    channels: &[String],
    now: DateTime<Utc>,
) -> rusqlite::Result<String> {
    let kind = alert.kind.name();
    let sequence: i64 = tx.query_row(
        "SELECT COUNT(DISTINCT idempotency_key) + 1 FROM ledger WHERE dedup_key = ?1 AND kind = ?2",
        params![alert.dedup_key, kind],
        |r| r.get(0),
    )?;
    let key = format!("{}/{kind}/{sequence}", alert.dedup_key);
    let mut alert = alert.clone();
    alert.idempotency_key = key.clone();
    let json = serde_json::to_string(&alert).unwrap_or_else(|_| "null".into());
    for channel in channels {
        let owed = if alert.kind.is_resolve() {
            took_or_may_have(tx, &alert.dedup_key, channel)?
        } else if alert.kind == AlertKind::Reminder {
            !has_owed(tx, &alert.dedup_key, channel)?
        } else {
            true
        };
        if owed {
            tx.execute(
                "INSERT OR IGNORE INTO ledger (probe, dedup_key, kind, idempotency_key, channel, alert, created_at,
                     next_attempt_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                params![alert.probe, alert.dedup_key, kind, key, channel, json, now],
            )?;
        }
    }
    if alert.kind.is_resolve() {
        tx.execute(
            "UPDATE ledger SET cancelled_at = ?2, cancel_reason = 'incident closed before delivery'
             WHERE dedup_key = ?1 AND delivered_at IS NULL AND cancelled_at IS NULL
                 AND kind NOT IN ('resolve', 'probe_blind_resolve', 'monitor_degraded_resolve')",
            params![alert.dedup_key, now],
        )?;
    }
    Ok(key)
}

/// Whether `channel` took the opening alert of the incident, or may have (an uncertain failure, a send a
/// crash interrupted), or took it before the ledger existed (`deliveries` of older state files).
fn took_or_may_have(tx: &Transaction<'_>, dedup_key: &str, channel: &str) -> rusqlite::Result<bool> {
    let in_ledger: bool = tx.query_row(
        "SELECT COUNT(*) > 0 FROM ledger
         WHERE dedup_key = ?1 AND channel = ?2 AND kind IN ('trigger', 'reminder', 'probe_blind')
             AND (delivered_at IS NOT NULL OR uncertain = 1 OR in_flight_since IS NOT NULL)",
        params![dedup_key, channel],
        |r| r.get(0),
    )?;
    if in_ledger {
        return Ok(true);
    }
    tx.query_row(
        "SELECT COUNT(*) > 0 FROM deliveries WHERE dedup_key = ?1 AND channel = ?2
             AND alert IN ('trigger', 'probe_blind')",
        params![dedup_key, channel],
        |r| r.get(0),
    )
}

fn has_owed(tx: &Transaction<'_>, dedup_key: &str, channel: &str) -> rusqlite::Result<bool> {
    tx.query_row(
        "SELECT COUNT(*) > 0 FROM ledger
         WHERE dedup_key = ?1 AND channel = ?2 AND delivered_at IS NULL AND cancelled_at IS NULL",
        params![dedup_key, channel],
        |r| r.get(0),
    )
}

impl Store {
    /// What `probe` still owes, oldest first; with `due_by`, only rows whose backoff has passed by then.
    pub fn owed(&self, probe: &str, due_by: Option<DateTime<Utc>>) -> Result<Vec<Owed>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, probe, channel, kind, dedup_key, idempotency_key, alert, attempts, next_attempt_at
                 FROM ledger WHERE probe = ?1 AND delivered_at IS NULL AND cancelled_at IS NULL ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![probe], |r| {
                Ok(Owed {
                    id: r.get(0)?,
                    probe: r.get(1)?,
                    channel: r.get(2)?,
                    kind: kind_of(&r.get::<_, String>(3)?),
                    dedup_key: r.get(4)?,
                    idempotency_key: r.get(5)?,
                    alert: r.get(6)?,
                    attempts: r.get(7)?,
                    next_attempt_at: r.get(8)?,
                })
            })
            .map_err(|e| self.err(e))?;
        let all: Vec<Owed> = rows.collect::<Result<_, _>>().map_err(|e| self.err(e))?;
        Ok(match due_by {
            None => all,
            Some(at) => all.into_iter().filter(|o| o.next_attempt_at <= at).collect(),
        })
    }

    /// Probes with anything owed, for the retry timer.
    pub fn probes_owing(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT DISTINCT probe FROM ledger WHERE delivered_at IS NULL AND cancelled_at IS NULL")
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Marks a send of `owed` as started: a crash from here on leaves the row "may have been taken".
    pub fn begin_send(&self, owed: &Owed, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.conn
            .execute("UPDATE ledger SET in_flight_since = ?2 WHERE id = ?1", params![owed.id, now])
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Records that the channel took `owed`. The opening alert marks its incident triggered; if the
    /// incident closed meanwhile (the row was cancelled while in flight), the channel is owed the resolve.
    pub fn delivered(&mut self, owed: &Owed, now: DateTime<Utc>) -> Result<(), StoreError> {
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(err)?;
        tx.execute(
            "UPDATE ledger SET delivered_at = ?2, in_flight_since = NULL, attempts = attempts + 1 WHERE id = ?1",
            params![owed.id, now],
        )
        .map_err(err)?;
        if !owed.kind.is_resolve() {
            tx.execute(
                "UPDATE incidents SET triggered = 1 WHERE dedup_key = ?1 AND closed_at IS NULL",
                params![owed.dedup_key],
            )
            .map_err(err)?;
            let closed: Option<bool> = tx
                .query_row(
                    "SELECT closed_at IS NOT NULL FROM incidents WHERE dedup_key = ?1",
                    params![owed.dedup_key],
                    |r| r.get(0),
                )
                .optional()
                .map_err(err)?;
            if closed == Some(true) {
                owe_late_resolve(&tx, owed, now).map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    /// Records a failed send: the row stays owed, retried after [`backoff`] (or at the next run).
    pub fn failed(&self, owed: &Owed, uncertain: bool, error: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let next = now + backoff(owed.attempts + 1);
        self.conn
            .execute(
                "UPDATE ledger SET attempts = attempts + 1, in_flight_since = NULL, next_attempt_at = ?2,
                     uncertain = MAX(uncertain, ?3), last_error = ?4
                 WHERE id = ?1",
                params![owed.id, next, uncertain, error],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Gives up on a row that can never be sent (its channel is gone from the probe file).
    pub fn cancel(&self, owed: &Owed, reason: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE ledger SET cancelled_at = ?2, cancel_reason = ?3, in_flight_since = NULL WHERE id = ?1",
                params![owed.id, now, reason],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Every ledger row of `probe`, oldest first.
    pub fn ledger(&self, probe: &str) -> Result<Vec<LedgerRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT channel, kind, dedup_key, idempotency_key, attempts, delivered_at IS NOT NULL, cancel_reason
                 FROM ledger WHERE probe = ?1 ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![probe], |r| {
                Ok(LedgerRow {
                    channel: r.get(0)?,
                    kind: r.get(1)?,
                    dedup_key: r.get(2)?,
                    idempotency_key: r.get(3)?,
                    attempts: r.get(4)?,
                    delivered: r.get(5)?,
                    cancelled: r.get(6)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }
}

/// The resolve for a channel that took an opening alert after its incident closed.
fn owe_late_resolve(tx: &Transaction<'_>, owed: &Owed, now: DateTime<Utc>) -> rusqlite::Result<()> {
    let resolve = owed.kind.resolve();
    let existing: Option<String> = tx
        .query_row(
            "SELECT alert FROM ledger WHERE dedup_key = ?1 AND kind = ?2 ORDER BY id LIMIT 1",
            params![owed.dedup_key, resolve.name()],
            |r| r.get(0),
        )
        .optional()?;
    let alert = match existing.as_deref().map(serde_json::from_str::<Alert>) {
        Some(Ok(alert)) => alert,
        _ => {
            let Ok(mut alert) = owed.alert() else { return Ok(()) };
            alert.kind = resolve;
            alert.outcome = crate::verdict::Outcome::Ok;
            alert.summary = "incident closed".to_string();
            alert.at = now;
            alert
        }
    };
    let key = format!("{}/{}/1", owed.dedup_key, resolve.name());
    let json = serde_json::to_string(&Alert { idempotency_key: key.clone(), ..alert }).unwrap_or_default();
    tx.execute(
        "INSERT OR IGNORE INTO ledger (probe, dedup_key, kind, idempotency_key, channel, alert, created_at,
             next_attempt_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        params![owed.probe, owed.dedup_key, resolve.name(), key, owed.channel, json, now],
    )?;
    Ok(())
}
