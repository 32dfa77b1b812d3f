//! The monitor's state in SQLite (WAL): run history, per-probe counters, incidents with their dedup keys,
//! late-mail counts, the pinned receivers and the delivery ledger ([`super::ledger`]). Every run is recorded
//! in one transaction together with the state it produced and the alerts it owes each channel, and that
//! happens BEFORE any alert is sent; a crash at any point leaves either the run and its owed alerts or
//! neither — never a second incident, never a page without its record.
//!
//! One process at a time: [`Store::open`] takes an exclusive lock ([`super::lock`]) held for the store's
//! life, so a second monitor (or a `probe --state` run) on the same file is refused with who holds it.
//! The files are created 0600 (SQLite gives its `-wal` and `-shm` files the database's mode).

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::state::{AlertState, Incident, IncidentKind};
use crate::alert::{Alert, AlertKind};

/// A failure of the state database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state database {path}: {source} (hint: is the file writable and not used by another monitor?)")]
    Sqlite { path: PathBuf, source: rusqlite::Error },
    #[error("state database {path}: stored state of probe {probe:?} is not valid JSON: {message}")]
    Corrupt { path: PathBuf, probe: String, message: String },
    #[error(
        "state database {path} is in use by another probe process ({holder}); two monitors on one state \
         would page twice — stop the other one or give this one its own --state"
    )]
    Locked { path: PathBuf, holder: String },
    #[error("state database {path}: cannot lock or create it: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// The state database. One connection; callers serialise access (the monitor holds it behind a mutex).
pub struct Store {
    pub(super) conn: Connection,
    pub(super) path: PathBuf,
    /// Held for the store's life; `None` for a read-only inspection ([`Store::inspect`]).
    _lock: Option<super::lock::StateLock>,
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
    /// At least one channel took its opening alert.
    pub triggered: bool,
    pub closed: bool,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

impl Store {
    /// Opens (creating when missing, mode 0600) the database at `path`, in WAL mode with synchronous=FULL so
    /// a committed run survives kill -9 and power loss, after taking its exclusive lock.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let lock = super::lock::StateLock::acquire(path)?;
        let mut store = Self::connect(path)?;
        store._lock = Some(lock);
        Ok(store)
    }

    /// Opens the database for reading what a monitor recorded, without its lock (the monitor may be
    /// running): history, incidents, the ledger. Never write through it.
    pub fn inspect(path: &Path) -> Result<Store, StoreError> {
        let err = |source| StoreError::Sqlite { path: path.to_path_buf(), source };
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(err)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(err)?;
        Ok(Store { conn, path: path.to_path_buf(), _lock: None })
    }

    fn connect(path: &Path) -> Result<Store, StoreError> {
        let err = |source| StoreError::Sqlite { path: path.to_path_buf(), source };
        super::lock::create_private(path).map_err(|source| StoreError::Io { path: path.to_path_buf(), source })?;
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
        conn.execute_batch(super::ledger::SCHEMA).map_err(err)?;
        let mut store = Store { conn, path: path.to_path_buf(), _lock: None };
        store.owe_legacy_resolves().map_err(err)?;
        Ok(store)
    }

    /// State files written before the ledger kept pending resolves as `resolve_sent = 0` and the channels
    /// that took each trigger in `deliveries`: those resolves become ledger rows, once.
    fn owe_legacy_resolves(&mut self) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        let pending: Vec<(String, String, String)> = {
            let mut stmt = tx.prepare(
                "SELECT dedup_key, probe, kind FROM incidents
                 WHERE closed_at IS NOT NULL AND triggered = 1 AND resolve_sent = 0",
            )?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<Result<_, _>>()?
        };
        for (dedup_key, probe, kind) in pending {
            let channels: Vec<String> = {
                let mut stmt = tx.prepare(
                    "SELECT DISTINCT channel FROM deliveries
                     WHERE dedup_key = ?1 AND alert IN ('trigger', 'probe_blind')",
                )?;
                stmt.query_map(params![dedup_key], |r| r.get(0))?.collect::<Result<_, _>>()?
            };
            let kind = if kind == "blind" { AlertKind::ProbeBlindResolve } else { AlertKind::Resolve };
            let alert = legacy_resolve(&probe, &dedup_key, kind);
            super::ledger::enqueue(&tx, &alert, &channels, Utc::now())?;
            tx.execute("UPDATE incidents SET resolve_sent = 1 WHERE dedup_key = ?1", params![dedup_key])?;
        }
        tx.commit()
    }

    pub(super) fn err(&self, source: rusqlite::Error) -> StoreError {
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
                IncidentKind::Blind | IncidentKind::Degraded => state.blind = Some(incident),
            }
        }
        Ok(state)
    }

    /// Records one run, the state it produced and the alerts it raised, in one transaction: the run row, the
    /// counters, new incidents (untriggered), closes incidents the state no longer holds, and owes each of
    /// `alerts` to `channels` in the ledger. Call before sending.
    pub fn record_run(
        &mut self,
        run: &RunRecord<'_>,
        state: &AlertState,
        alerts: &[Alert],
        channels: &[String],
    ) -> Result<(), StoreError> {
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
            tx.execute("UPDATE incidents SET closed_at = ?2 WHERE dedup_key = ?1", params![key, at]).map_err(err)?;
        }
        for i in &open {
            tx.execute(
                "UPDATE incidents SET last_notified = ?2 WHERE dedup_key = ?1 AND closed_at IS NULL",
                params![i.dedup_key, i.last_notified],
            )
            .map_err(err)?;
        }
        for alert in alerts {
            super::ledger::enqueue(&tx, alert, channels, at).map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// Closes the open incidents of `probe` (its file was removed from the monitor) and owes each one's
    /// resolve, built by `resolve`, to the channels that took its trigger. Returns the incidents closed.
    pub fn retire(
        &mut self,
        probe: &str,
        channels: &[String],
        now: DateTime<Utc>,
        resolve: impl Fn(&Incident) -> Alert,
    ) -> Result<Vec<Incident>, StoreError> {
        let state = self.load(probe)?;
        let open: Vec<Incident> = state.delivery.iter().chain(state.blind.iter()).cloned().collect();
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(err)?;
        for incident in &open {
            tx.execute("UPDATE incidents SET closed_at = ?2 WHERE dedup_key = ?1", params![incident.dedup_key, now])
                .map_err(err)?;
            super::ledger::enqueue(&tx, &resolve(incident), channels, now).map_err(err)?;
        }
        tx.execute("DELETE FROM probe_state WHERE probe = ?1", params![probe]).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(open)
    }

    /// Deletes run history and settled ledger rows (delivered or cancelled) older than `keep`. Runs of open
    /// incidents are history too, but counters, incidents and owed alerts are never pruned.
    pub fn prune(&self, now: DateTime<Utc>, keep: Duration) -> Result<usize, StoreError> {
        let cutoff = now - chrono::Duration::from_std(keep).unwrap_or(chrono::Duration::MAX);
        self.conn
            .execute(
                "DELETE FROM ledger WHERE created_at < ?1 AND (delivered_at IS NOT NULL OR cancelled_at IS NOT NULL)",
                params![cutoff],
            )
            .map_err(|e| self.err(e))?;
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
                "SELECT dedup_key, probe, kind, triggered, closed_at IS NOT NULL, opened_at, closed_at FROM incidents
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
                    opened_at: r.get(5)?,
                    closed_at: r.get(6)?,
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
        let since = Utc::now() - chrono::TimeDelta::minutes(crate::probe::ses::BACKGROUND_MINUTES + 2);
        Ok(crate::probe::Memory {
            previous_wait_until: self.last_wait_until(probe)?,
            receiver,
            own_triggers: self.triggers_since(probe, since)?,
        })
    }

    /// When `probe`'s runs since `since` triggered a mail (their reports' `trigger.at`).
    pub fn triggers_since(&self, probe: &str, since: DateTime<Utc>) -> Result<Vec<DateTime<Utc>>, StoreError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT json_extract(report, '$.trigger.at') FROM runs
                 WHERE probe = ?1 AND json_extract(report, '$.trigger.at') IS NOT NULL
                 ORDER BY id DESC LIMIT 64",
            )
            .map_err(|e| self.err(e))?;
        let rows = statement.query_map(params![probe], |r| r.get::<_, String>(0)).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let text = row.map_err(|e| self.err(e))?;
            match DateTime::parse_from_rfc3339(&text) {
                Ok(t) if t.to_utc() >= since => out.push(t.to_utc()),
                _ => {}
            }
        }
        Ok(out)
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

/// The resolve owed for an incident closed before the ledger existed: what is known of it.
fn legacy_resolve(probe: &str, dedup_key: &str, kind: AlertKind) -> Alert {
    Alert {
        kind,
        probe: probe.to_string(),
        pool_id: String::new(),
        dedup_key: dedup_key.to_string(),
        idempotency_key: String::new(),
        outcome: crate::verdict::Outcome::Ok,
        phase: crate::verdict::Phase::Authenticate,
        code: "delivered".to_string(),
        summary: "incident closed".to_string(),
        consecutive_failures: 0,
        at: Utc::now(),
        report: serde_json::Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AlertKind;
    use crate::monitor::ledger::Owed;
    use crate::monitor::state::{Action, Thresholds, step};
    use crate::verdict::Outcome;

    const CHANNELS: [&str; 2] = ["0:exec", "1:webhook"];

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_795_000_000 + s, 0).unwrap()
    }

    fn channels() -> Vec<String> {
        CHANNELS.iter().map(|c| c.to_string()).collect()
    }

    fn alert_for(action: &Action, now: DateTime<Utc>) -> Alert {
        Alert {
            kind: action.kind,
            dedup_key: action.dedup_key.clone(),
            at: now,
            ..legacy_resolve("p", "", action.kind)
        }
    }

    /// One run: steps, records (owing its alerts to both channels) and returns the actions, reopening the
    /// database the way a restart does.
    fn run(path: &Path, outcome: Outcome, now: DateTime<Utc>) -> Vec<Action> {
        let t =
            Thresholds { failure: 2, success: 2, reminder: Some(Duration::from_secs(300)), ..Thresholds::default() };
        let mut store = Store::open(path).unwrap();
        let (next, actions) = step(store.load("p").unwrap(), "p", outcome, now, &t);
        let report = serde_json::json!({"outcome": outcome}).to_string();
        let record = RunRecord { probe: "p", at: now, outcome: "x", code: "c", report: &report, late_mails: 1 };
        let alerts: Vec<Alert> = actions.iter().map(|a| alert_for(a, now)).collect();
        store.record_run(&record, &next, &alerts, &channels()).unwrap();
        actions
    }

    /// Settles what is owed to `channel`: `Some(true)` delivered, `Some(false)` a certain failure, `None` a
    /// send begun and never finished (a crash).
    fn settle(path: &Path, channel: &str, result: Option<bool>, uncertain: bool) -> Vec<Owed> {
        let mut store = Store::open(path).unwrap();
        let owed: Vec<Owed> = store.owed("p", None).unwrap().into_iter().filter(|o| o.channel == channel).collect();
        for o in &owed {
            store.begin_send(o, at(1)).unwrap();
            match result {
                Some(true) => store.delivered(o, at(1)).unwrap(),
                Some(false) => store.failed(o, uncertain, "HTTP 503", at(1)).unwrap(),
                None => {}
            }
        }
        owed
    }

    fn owed_kinds(path: &Path, channel: &str) -> Vec<String> {
        let store = Store::open(path).unwrap();
        store
            .owed("p", None)
            .unwrap()
            .iter()
            .filter(|o| o.channel == channel)
            .map(|o| o.idempotency_key.clone())
            .collect()
    }

    #[test]
    fn state_survives_reopening_between_every_run() {
        use Outcome::{Critical as C, Ok as O};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let kinds: Vec<Vec<AlertKind>> = [C, C, C]
            .iter()
            .enumerate()
            .map(|(i, o)| run(&path, *o, at(60 * i as i64)).iter().map(|a| a.kind).collect())
            .collect();
        assert_eq!(kinds, vec![vec![], vec![AlertKind::Trigger], vec![]], "paged once across reopenings");
        settle(&path, "0:exec", Some(true), false);
        let state = Store::open(&path).unwrap().load("p").unwrap();
        let incident = state.delivery.clone().unwrap();
        assert!(incident.triggered, "one channel took the page");
        assert_eq!(state.failures, 3);
        run(&path, O, at(600));
        let resolve = run(&path, O, at(660));
        assert_eq!(resolve.iter().map(|a| a.kind).collect::<Vec<_>>(), vec![AlertKind::Resolve]);
        let store = Store::open(&path).unwrap();
        assert!(store.load("p").unwrap().delivery.is_none());
        let incidents = store.incidents("p").unwrap();
        assert_eq!(incidents.len(), 1);
        assert!(incidents[0].closed && incidents[0].dedup_key == incident.dedup_key);
        assert_eq!(store.runs("p").unwrap().len(), 5);
        assert_eq!(store.late_mails("p").unwrap(), 5);
    }

    /// The resolve follows the record of who took the trigger: the channel that took it is owed the
    /// resolve until it takes that too; the channel that refused the trigger gets neither — its owed
    /// trigger is cancelled, no page goes out for a closed incident.
    #[test]
    fn each_channel_that_took_the_trigger_gets_the_resolve_and_no_other() {
        use Outcome::{Critical as C, Ok as O};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        run(&path, C, at(0));
        let key = run(&path, C, at(60))[0].dedup_key.clone();
        settle(&path, "0:exec", Some(true), false);
        settle(&path, "1:webhook", Some(false), false);
        assert_eq!(owed_kinds(&path, "1:webhook"), vec![format!("{key}/trigger/1")], "still owed after a failure");
        run(&path, O, at(120));
        run(&path, O, at(180));
        assert_eq!(owed_kinds(&path, "0:exec"), vec![format!("{key}/resolve/1")]);
        assert!(owed_kinds(&path, "1:webhook").is_empty(), "never took the trigger: no resolve, no late page");
        let ledger = Store::open(&path).unwrap().ledger("p").unwrap();
        let cancelled: Vec<_> = ledger.iter().filter(|r| r.cancelled.is_some()).map(|r| r.channel.as_str()).collect();
        assert_eq!(cancelled, vec!["1:webhook"]);
        // Undelivered across a reopening, then delivered once.
        settle(&path, "0:exec", Some(false), false);
        assert_eq!(owed_kinds(&path, "0:exec").len(), 1, "a failed resolve stays owed");
        settle(&path, "0:exec", Some(true), false);
        assert!(owed_kinds(&path, "0:exec").is_empty());
    }

    /// A channel that may have taken the trigger — its send timed out after the request went out, or a
    /// crash cut the send short — is owed the resolve like one that confirmed it.
    #[test]
    fn a_channel_that_may_have_taken_the_trigger_gets_the_resolve() {
        use Outcome::{Critical as C, Ok as O};
        for (case, result, uncertain) in [("timed out", Some(false), true), ("crash mid-send", None, false)] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("s.sqlite");
            run(&path, C, at(0));
            let key = run(&path, C, at(60))[0].dedup_key.clone();
            settle(&path, "1:webhook", result, uncertain);
            run(&path, O, at(120));
            run(&path, O, at(180));
            assert_eq!(owed_kinds(&path, "1:webhook"), vec![format!("{key}/resolve/1")], "{case}");
            assert!(
                owed_kinds(&path, "0:exec").is_empty(),
                "{case}: the untried channel's trigger is cancelled, no resolve"
            );
        }
    }

    /// Reminders get their own sequence numbers and never pile up behind a channel that has not taken
    /// the previous alert.
    #[test]
    fn reminders_are_numbered_and_wait_for_a_channel_that_is_down() {
        use Outcome::Critical as C;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        run(&path, C, at(0));
        let key = run(&path, C, at(60))[0].dedup_key.clone();
        settle(&path, "0:exec", Some(true), false);
        assert_eq!(run(&path, C, at(400))[0].kind, AlertKind::Reminder);
        settle(&path, "0:exec", Some(true), false);
        assert_eq!(run(&path, C, at(800))[0].kind, AlertKind::Reminder);
        let keys: Vec<String> = Store::open(&path)
            .unwrap()
            .ledger("p")
            .unwrap()
            .iter()
            .map(|r| format!("{} {}", r.channel, r.idempotency_key))
            .collect();
        assert_eq!(
            keys,
            vec![
                format!("0:exec {key}/trigger/1"),
                format!("1:webhook {key}/trigger/1"),
                format!("0:exec {key}/reminder/1"),
                format!("0:exec {key}/reminder/2"),
            ],
            "the webhook still owes its trigger: no reminders queue up behind it"
        );
    }

    /// A channel that took the trigger after its incident closed (a send in flight while recovery was
    /// recorded) is owed the resolve on the spot.
    #[test]
    fn a_trigger_delivered_after_the_close_owes_its_resolve() {
        use Outcome::{Critical as C, Ok as O};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        run(&path, C, at(0));
        let key = run(&path, C, at(60))[0].dedup_key.clone();
        let mut store = Store::open(&path).unwrap();
        let in_flight: Vec<Owed> =
            store.owed("p", None).unwrap().into_iter().filter(|o| o.channel == "0:exec").collect();
        drop(store);
        run(&path, O, at(120));
        run(&path, O, at(180));
        store = Store::open(&path).unwrap();
        store.delivered(&in_flight[0], at(200)).unwrap();
        drop(store);
        assert_eq!(owed_kinds(&path, "0:exec"), vec![format!("{key}/resolve/1")]);
    }

    #[test]
    fn databases_before_the_ledger_owe_their_pending_resolves_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        conn.execute_batch(DELIVERIES).unwrap();
        for (key, resolve_sent) in [("k-pending", 0), ("k-done", 1)] {
            conn.execute(
                "INSERT INTO incidents (dedup_key, probe, kind, opened_at, triggered, closed_at, resolve_sent)
                 VALUES (?1, 'p', 'delivery', ?2, 1, ?2, ?3)",
                params![key, at(0), resolve_sent],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO deliveries (dedup_key, alert, channel, at) VALUES (?1, 'trigger', '2:sns', ?2)",
                params![key, at(0)],
            )
            .unwrap();
        }
        drop(conn);
        let owed = Store::open(&path).unwrap().owed("p", None).unwrap();
        assert_eq!(owed.len(), 1, "{owed:?}");
        assert_eq!((owed[0].channel.as_str(), owed[0].kind), ("2:sns", AlertKind::Resolve));
        assert_eq!(owed[0].idempotency_key, "k-pending/resolve/1");
        assert_eq!(Store::open(&path).unwrap().owed("p", None).unwrap().len(), 1, "owed once, not per opening");
    }

    #[test]
    fn prune_keeps_state_incidents_and_owed_alerts() {
        use Outcome::Critical as C;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        for i in 0..3 {
            run(&path, C, at(60 * i));
        }
        let store = Store::open(&path).unwrap();
        let state = store.load("p").unwrap();
        assert_eq!(store.prune(at(3600), Duration::from_secs(60)).unwrap(), 3);
        assert!(store.runs("p").unwrap().is_empty());
        assert_eq!(store.load("p").unwrap(), state, "pruning history never touches counters or incidents");
        assert_eq!(store.owed("p", None).unwrap().len(), 2, "owed alerts are never pruned");
    }

    #[test]
    fn a_second_open_is_refused_and_inspection_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let first = Store::open(&path).unwrap();
        let err = Store::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::Locked { .. }), "{err}");
        Store::inspect(&path).unwrap().runs("p").unwrap();
        drop(first);
        Store::open(&path).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
