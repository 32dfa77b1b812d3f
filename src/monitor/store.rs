//! The monitor's state in SQLite (WAL): run history, per-probe counters, incidents with their dedup keys
//! and `triggered` flags, late-mail counts. Every run is recorded in one transaction together with the state
//! it produced, and that happens BEFORE any alert is sent; [`Store::mark_sent`] records a delivered alert
//! afterwards. A crash between the two leaves the incident untriggered, so the next run re-sends it with the
//! same dedup key — never a second incident. Likewise a triggered incident is closed with its resolve
//! pending (`resolve_sent = 0`) until every channel took the resolve: a crash or a channel that is down at
//! recovery gets the resolve re-sent after the next run ([`Store::unsent_resolves`]), so no receiver is left
//! with an incident open forever. Which channel took which one-time alert (trigger, probe_blind and their
//! resolves) is kept in `deliveries`, so a re-send goes only to the channels that missed it: one channel
//! down never makes the others page twice.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::state::{Action, AlertState, Incident, IncidentKind};
use crate::alert::AlertKind;

/// A failure of the state database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state database {path}: {source} (hint: is the file writable and not used by another monitor?)")]
    Sqlite { path: PathBuf, source: rusqlite::Error },
    #[error("state database {path}: stored state of probe {probe:?} is not valid JSON: {message}")]
    Corrupt { path: PathBuf, probe: String, message: String },
}

/// The state database. One connection; callers serialise access (the monitor holds it behind a mutex).
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    probe TEXT NOT NULL,
    at TEXT NOT NULL,
    outcome TEXT NOT NULL,
    code TEXT NOT NULL,
    report TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_probe_at ON runs(probe, at);
CREATE TABLE IF NOT EXISTS probe_state (
    probe TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    successes INTEGER NOT NULL,
    unknowns INTEGER NOT NULL,
    late_mails INTEGER NOT NULL DEFAULT 0,
    last_success_at TEXT
);
CREATE TABLE IF NOT EXISTS incidents (
    dedup_key TEXT PRIMARY KEY,
    probe TEXT NOT NULL,
    kind TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    triggered INTEGER NOT NULL,
    last_notified TEXT,
    closed_at TEXT,
    resolve_sent INTEGER NOT NULL DEFAULT 1
);
";

/// Channels that took a one-time alert of an incident (created on open when missing).
const DELIVERIES: &str = "
CREATE TABLE IF NOT EXISTS deliveries (
    dedup_key TEXT NOT NULL,
    alert TEXT NOT NULL,
    channel TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (dedup_key, alert, channel)
);
";

/// The receiver pinned per probe: the first trusted run's, when the probe file names no authserv-id.
const RECEIVERS: &str = "
CREATE TABLE IF NOT EXISTS receivers (
    probe TEXT PRIMARY KEY,
    receiver TEXT NOT NULL,
    authserv_id TEXT,
    pinned_at TEXT NOT NULL
);
";

/// Databases written before `resolve_sent` existed get the column; their closed incidents count as resolved
/// (nothing is known about them, and re-sending old resolves would only confuse receivers).
const ADD_RESOLVE_SENT: &str = "ALTER TABLE incidents ADD COLUMN resolve_sent INTEGER NOT NULL DEFAULT 1";

/// One recorded run, as history shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub probe: String,
    pub at: DateTime<Utc>,
    pub outcome: String,
    pub code: String,
    pub report: serde_json::Value,
}

/// One finished run as [`Store::record_run`] writes it.
#[derive(Debug, Clone, Copy)]
pub struct RunRecord<'a> {
    pub probe: &'a str,
    pub at: DateTime<Utc>,
    /// Lower-case outcome (`ok`, `warning`, `critical`, `unknown`).
    pub outcome: &'a str,
    /// The diagnosis code.
    pub code: &'a str,
    /// The report as JSON text.
    pub report: &'a str,
    pub late_mails: u32,
}

/// One incident row, open or closed.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentRow {
    pub dedup_key: String,
    pub probe: String,
    pub kind: String,
    pub triggered: bool,
    pub closed: bool,
}

impl Store {
    /// Opens (creating when missing) the database at `path`, in WAL mode with synchronous=FULL so a
    /// committed run survives kill -9 and power loss.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let err = |source| StoreError::Sqlite { path: path.to_path_buf(), source };
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        let has_resolve_sent: bool = conn
            .query_row("SELECT COUNT(*) > 0 FROM pragma_table_info('incidents') WHERE name = 'resolve_sent'", [], |r| {
                r.get(0)
            })
            .map_err(err)?;
        if !has_resolve_sent {
            conn.execute_batch(ADD_RESOLVE_SENT).map_err(err)?;
        }
        conn.execute_batch(DELIVERIES).map_err(err)?;
        conn.execute_batch(RECEIVERS).map_err(err)?;
        Ok(Store { conn, path: path.to_path_buf() })
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite { path: self.path.clone(), source }
    }

    /// The state of `probe`: counters and its open incidents (default state for a new probe).
    pub fn load(&self, probe: &str) -> Result<AlertState, StoreError> {
        let counters = self
            .conn
            .query_row("SELECT failures, successes, unknowns FROM probe_state WHERE probe = ?1", params![probe], |r| {
                Ok((r.get::<_, u32>(0)?, r.get::<_, u32>(1)?, r.get::<_, u32>(2)?))
            })
            .optional()
            .map_err(|e| self.err(e))?;
        let mut state = AlertState::default();
        if let Some((f, s, u)) = counters {
            (state.failures, state.successes, state.unknowns) = (f, s, u);
        }
        let mut stmt = self
            .conn
            .prepare(
                "SELECT dedup_key, kind, opened_at, triggered, last_notified FROM incidents
                 WHERE probe = ?1 AND closed_at IS NULL",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![probe], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, DateTime<Utc>>(2)?,
                    r.get::<_, bool>(3)?,
                    r.get::<_, Option<DateTime<Utc>>>(4)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        for row in rows {
            let (dedup_key, kind, opened_at, triggered, last_notified) = row.map_err(|e| self.err(e))?;
            let kind = match kind.as_str() {
                "delivery" => IncidentKind::Delivery,
                "blind" => IncidentKind::Blind,
                other => {
                    return Err(StoreError::Corrupt {
                        path: self.path.clone(),
                        probe: probe.to_string(),
                        message: format!("incident kind {other:?}, expected \"delivery\" or \"blind\""),
                    });
                }
            };
            let incident = Incident { kind, dedup_key, opened_at, triggered, last_notified };
            match kind {
                IncidentKind::Delivery => state.delivery = Some(incident),
                IncidentKind::Blind => state.blind = Some(incident),
            }
        }
        Ok(state)
    }

    /// Records one run and the state it produced, in one transaction: the run row, the counters, new
    /// incidents (untriggered), and closes incidents the state no longer holds. Call before sending.
    pub fn record_run(&mut self, run: &RunRecord<'_>, state: &AlertState) -> Result<(), StoreError> {
        let RunRecord { probe, at, outcome, code, report, late_mails } = *run;
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(err)?;
        tx.execute(
            "INSERT INTO runs (probe, at, outcome, code, report) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![probe, at, outcome, code, report],
        )
        .map_err(err)?;
        let success = if matches!(outcome, "ok" | "warning") { Some(at) } else { None };
        tx.execute(
            "INSERT INTO probe_state (probe, failures, successes, unknowns, late_mails, last_success_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(probe) DO UPDATE SET failures = ?2, successes = ?3, unknowns = ?4,
                 late_mails = late_mails + ?5, last_success_at = COALESCE(?6, last_success_at)",
            params![probe, state.failures, state.successes, state.unknowns, late_mails, success],
        )
        .map_err(err)?;
        let open: Vec<&Incident> = state.delivery.iter().chain(state.blind.iter()).collect();
        let keys: Vec<String> = open.iter().map(|i| i.dedup_key.clone()).collect();
        for i in &open {
            tx.execute(
                "INSERT OR IGNORE INTO incidents (dedup_key, probe, kind, opened_at, triggered, last_notified)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![i.dedup_key, probe, i.kind.name(), i.opened_at, i.triggered, i.last_notified],
            )
            .map_err(err)?;
        }
        // Incidents of this probe the state closed.
        let mut stmt =
            tx.prepare("SELECT dedup_key FROM incidents WHERE probe = ?1 AND closed_at IS NULL").map_err(err)?;
        let stale: Vec<String> = stmt
            .query_map(params![probe], |r| r.get::<_, String>(0))
            .map_err(err)?
            .collect::<Result<_, _>>()
            .map_err(err)?;
        drop(stmt);
        for key in stale.iter().filter(|k| !keys.contains(k)) {
            tx.execute("UPDATE incidents SET closed_at = ?2, resolve_sent = 0 WHERE dedup_key = ?1", params![key, at])
                .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// Records that `action` was delivered: a trigger/reminder sets `triggered` and `last_notified`, a resolve
    /// sets `resolve_sent` of the closed incident.
    pub fn mark_sent(&self, action: &Action, at: DateTime<Utc>) -> Result<(), StoreError> {
        let (sql, at) = match action.kind {
            AlertKind::Resolve | AlertKind::ProbeBlindResolve => {
                ("UPDATE incidents SET resolve_sent = 1 WHERE dedup_key = ?1 AND closed_at IS NOT NULL", None)
            }
            AlertKind::Trigger | AlertKind::Reminder | AlertKind::ProbeBlind => (
                "UPDATE incidents SET triggered = 1, last_notified = ?2 WHERE dedup_key = ?1 AND closed_at IS NULL",
                Some(at),
            ),
        };
        let result = match at {
            Some(at) => self.conn.execute(sql, params![action.dedup_key, at]),
            None => self.conn.execute(sql, params![action.dedup_key]),
        };
        result.map(|_| ()).map_err(|e| self.err(e))
    }

    /// The channels (ids chosen by the caller) that already took `action`'s alert of its incident.
    pub fn delivered_to(&self, action: &Action) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT channel FROM deliveries WHERE dedup_key = ?1 AND alert = ?2")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![action.dedup_key, action.kind.name()], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Records that `channel` took `action`'s alert, so a re-send for the channels that missed it skips it.
    pub fn record_delivery(&self, action: &Action, channel: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO deliveries (dedup_key, alert, channel, at) VALUES (?1, ?2, ?3, ?4)",
                params![action.dedup_key, action.kind.name(), channel, at],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Resolves of `probe` that were due but not delivered by every channel (a crash or a channel down at
    /// recovery), oldest first: closed incidents that had paged and whose resolve is not marked sent.
    pub fn unsent_resolves(&self, probe: &str) -> Result<Vec<Action>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT dedup_key, kind FROM incidents
                 WHERE probe = ?1 AND closed_at IS NOT NULL AND triggered = 1 AND resolve_sent = 0
                 ORDER BY closed_at",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![probe], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| self.err(e))?;
        let mut actions = Vec::new();
        for row in rows {
            let (dedup_key, kind) = row.map_err(|e| self.err(e))?;
            let kind = match kind.as_str() {
                "delivery" => AlertKind::Resolve,
                "blind" => AlertKind::ProbeBlindResolve,
                other => {
                    return Err(StoreError::Corrupt {
                        path: self.path.clone(),
                        probe: probe.to_string(),
                        message: format!("incident kind {other:?}, expected \"delivery\" or \"blind\""),
                    });
                }
            };
            actions.push(Action { kind, dedup_key });
        }
        Ok(actions)
    }

    /// Deletes run history older than `keep`. Runs of open incidents are history too, but counters and
    /// incidents are never pruned.
    pub fn prune(&self, now: DateTime<Utc>, keep: Duration) -> Result<usize, StoreError> {
        let cutoff = now - chrono::Duration::from_std(keep).unwrap_or(chrono::Duration::MAX);
        self.conn.execute("DELETE FROM runs WHERE at < ?1", params![cutoff]).map_err(|e| self.err(e))
    }

    /// Run history of `probe`, newest first.
    pub fn runs(&self, probe: &str) -> Result<Vec<RunRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT probe, at, outcome, code, report FROM runs WHERE probe = ?1 ORDER BY id DESC")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![probe], |r| {
                let report: String = r.get(4)?;
                Ok(RunRow {
                    probe: r.get(0)?,
                    at: r.get(1)?,
                    outcome: r.get(2)?,
                    code: r.get(3)?,
                    report: serde_json::from_str(&report).unwrap_or(serde_json::Value::Null),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Every incident of `probe`, oldest first.
    pub fn incidents(&self, probe: &str) -> Result<Vec<IncidentRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT dedup_key, probe, kind, triggered, closed_at IS NOT NULL FROM incidents
                 WHERE probe = ?1 ORDER BY opened_at",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![probe], |r| {
                Ok(IncidentRow {
                    dedup_key: r.get(0)?,
                    probe: r.get(1)?,
                    kind: r.get(2)?,
                    triggered: r.get(3)?,
                    closed: r.get(4)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// When the latest run of `probe` that triggered a mail stopped waiting for it (`trigger.wait_until`
    /// of its report): where the next run's late-mail window starts with `cleanup = keep`.
    pub fn last_wait_until(&self, probe: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let text: Option<String> = self
            .conn
            .query_row(
                "SELECT json_extract(report, '$.trigger.wait_until') FROM runs
                 WHERE probe = ?1 AND json_extract(report, '$.trigger.wait_until') IS NOT NULL
                 ORDER BY at DESC, id DESC LIMIT 1",
                params![probe],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(text.and_then(|t| DateTime::parse_from_rfc3339(&t).ok()).map(|t| t.to_utc()))
    }

    /// What `probe`'s earlier runs left: the previous deadline and the pinned receiver.
    pub fn memory(&self, probe: &str) -> Result<crate::probe::Memory, StoreError> {
        let receiver = self
            .conn
            .query_row("SELECT receiver FROM receivers WHERE probe = ?1", params![probe], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(crate::probe::Memory { previous_wait_until: self.last_wait_until(probe)?, receiver })
    }

    /// Pins `receiver` for `probe` unless one is pinned already; returns whether this call pinned it.
    pub fn pin_receiver(
        &self,
        probe: &str,
        receiver: &str,
        authserv_id: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO receivers (probe, receiver, authserv_id, pinned_at) VALUES (?1, ?2, ?3, ?4)",
                params![probe, receiver, authserv_id, at.to_rfc3339()],
            )
            .map(|n| n == 1)
            .map_err(|e| self.err(e))
    }

    /// Late mails counted for `probe` over its history.
    pub fn late_mails(&self, probe: &str) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT late_mails FROM probe_state WHERE probe = ?1", params![probe], |r| r.get(0))
            .optional()
            .map(|v| v.unwrap_or(0))
            .map_err(|e| self.err(e))
    }
}

/// The alert's name in `deliveries`: its serde name (`trigger`, `probe_blind_resolve`, …).
#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AlertKind;
    use crate::monitor::state::{Thresholds, step};
    use crate::verdict::Outcome;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_795_000_000 + s, 0).unwrap()
    }

    /// Steps, records and (when `deliver`) marks sent, reopening the database before every run the way
    /// restarts do; returns the store's view of the probe after the last run.
    fn run_all(path: &Path, outcomes: &[Outcome], deliver: bool) -> (AlertState, Vec<Vec<AlertKind>>) {
        let t = Thresholds { failure: 2, success: 2, ..Thresholds::default() };
        let mut kinds = Vec::new();
        for (i, outcome) in outcomes.iter().enumerate() {
            let mut store = Store::open(path).unwrap();
            let now = at(60 * i as i64);
            let (next, actions) = step(store.load("p").unwrap(), "p", *outcome, now, &t);
            let report = serde_json::json!({"outcome": outcome}).to_string();
            let run = RunRecord { probe: "p", at: now, outcome: "x", code: "c", report: &report, late_mails: 1 };
            store.record_run(&run, &next).unwrap();
            if deliver {
                for a in &actions {
                    store.mark_sent(a, now).unwrap();
                }
            }
            kinds.push(actions.iter().map(|a| a.kind).collect());
        }
        (Store::open(path).unwrap().load("p").unwrap(), kinds)
    }

    #[test]
    fn state_survives_reopening_between_every_run() {
        use Outcome::{Critical as C, Ok as O};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let (state, kinds) = run_all(&path, &[C, C, C], true);
        assert_eq!(kinds, vec![vec![], vec![AlertKind::Trigger], vec![]], "paged once across reopenings");
        let incident = state.delivery.clone().unwrap();
        assert!(incident.triggered);
        assert_eq!(state.failures, 3);
        let (state, kinds) = run_all(&path, &[O, O], true);
        assert_eq!(kinds[1], vec![AlertKind::Resolve]);
        assert!(state.delivery.is_none());
        let store = Store::open(&path).unwrap();
        let incidents = store.incidents("p").unwrap();
        assert_eq!(incidents.len(), 1);
        assert!(incidents[0].closed && incidents[0].dedup_key == incident.dedup_key);
        assert_eq!(store.runs("p").unwrap().len(), 5);
        assert_eq!(store.late_mails("p").unwrap(), 5);
    }

    #[test]
    fn a_resolve_stays_pending_until_it_is_delivered() {
        use Outcome::{Critical as C, Ok as O};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let (state, _) = run_all(&path, &[C, C], true);
        let key = state.delivery.unwrap().dedup_key;
        let resolve = Action { kind: AlertKind::Resolve, dedup_key: key.clone() };
        // Recovery, but the resolve is not delivered (crash, channel down).
        let (state, kinds) = run_all(&path, &[O, O], false);
        assert_eq!(kinds[1], vec![AlertKind::Resolve]);
        assert!(state.delivery.is_none(), "the incident is closed");
        let store = Store::open(&path).unwrap();
        assert_eq!(store.unsent_resolves("p").unwrap(), vec![resolve.clone()], "pending across a reopening");
        store.mark_sent(&resolve, at(600)).unwrap();
        assert!(store.unsent_resolves("p").unwrap().is_empty(), "delivered: no longer pending");
        // An incident that never paged needs no resolve.
        let (_, _) = run_all(&path, &[C, C, O, O], false);
        assert!(Store::open(&path).unwrap().unsent_resolves("p").unwrap().is_empty());
    }

    #[test]
    fn deliveries_are_kept_per_alert_and_channel() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.sqlite")).unwrap();
        let trigger = Action { kind: AlertKind::Trigger, dedup_key: "k".into() };
        let resolve = Action { kind: AlertKind::Resolve, dedup_key: "k".into() };
        let other = Action { kind: AlertKind::Trigger, dedup_key: "k2".into() };
        store.record_delivery(&trigger, "0:exec", at(0)).unwrap();
        store.record_delivery(&trigger, "2:sns", at(0)).unwrap();
        store.record_delivery(&trigger, "2:sns", at(60)).unwrap();
        let cases =
            [("trigger", &trigger, vec!["0:exec", "2:sns"]), ("resolve", &resolve, vec![]), ("other", &other, vec![])];
        for (name, action, expected) in cases {
            let mut got = store.delivered_to(action).unwrap();
            got.sort();
            assert_eq!(got, expected, "{name}");
        }
    }

    #[test]
    fn databases_without_resolve_sent_are_upgraded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite");
        let old_schema = SCHEMA.replace(",\n    resolve_sent INTEGER NOT NULL DEFAULT 1", "");
        assert!(!old_schema.contains("resolve_sent"));
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(&old_schema).unwrap();
        conn.execute(
            "INSERT INTO incidents (dedup_key, probe, kind, opened_at, triggered, closed_at)
             VALUES ('k', 'p', 'delivery', ?1, 1, ?1)",
            params![at(0)],
        )
        .unwrap();
        drop(conn);
        let store = Store::open(&path).unwrap();
        assert!(store.unsent_resolves("p").unwrap().is_empty(), "old closed incidents count as resolved");
        assert_eq!(store.incidents("p").unwrap().len(), 1);
    }

    #[test]
    fn undelivered_trigger_stays_untriggered_and_prune_keeps_state() {
        use Outcome::Critical as C;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let (state, kinds) = run_all(&path, &[C, C, C], false);
        assert_eq!(kinds, vec![vec![], vec![AlertKind::Trigger], vec![AlertKind::Trigger]], "re-sent, same incident");
        assert!(!state.delivery.as_ref().unwrap().triggered);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.incidents("p").unwrap().len(), 1);
        assert_eq!(store.prune(at(3600), Duration::from_secs(60)).unwrap(), 3);
        assert!(store.runs("p").unwrap().is_empty());
        assert_eq!(store.load("p").unwrap(), state, "pruning history never touches counters or incidents");
    }
}
