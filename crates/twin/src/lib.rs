//! The AWS twin: Cognito, SESv2, CloudWatch, SQS and CloudWatch Logs as the probe sees them (DESIGN.md §8).
//!
//! No AWS is reachable from tests and no emulator makes Cognito send mail, so the twin keeps a faithful
//! copy of exactly the AWS behaviour the probe depends on, served over HTTP on loopback to the real SDK
//! clients and the AWS CLI, and delivers real DKIM-signed mail into a Maildir.
//!
//! * [`server`] — one axum server for every service: routing by `X-Amz-Target` / path, the wire
//!   protocols (JSON 1.1, REST JSON, RPC v2 CBOR, JSON 1.0), AWS-shaped errors, the control endpoint.
//! * [`cognito`] — the Cognito operations with their status rules, exceptions and limits.
//! * [`ses`] — SESv2 reads and the decision whether SES really sends a Cognito message;
//!   [`suppression`] — the account suppression list.
//! * [`cloudwatch`] — the `AWS/SES` metrics and GetMetricData / GetMetricStatistics.
//! * [`events`] — SES event records of configuration sets, published to EventBridge or SNS and on into
//!   [`sqs`] queues; [`logs`] — CloudWatch Logs, where Cognito writes its message-delivery errors.
//! * [`sending`] — renders nothing itself: takes a rendered message, applies SES's decision and the
//!   faults, records metrics and events and writes the mail through [`mail`]; [`background`] — the
//!   account's other senders.
//! * [`policy`] — SES's identity-policy rule for Cognito's sends (pure), the twin's own reading of
//!   research/aws.md §3.3; it shares no code with the probe's.
//! * [`scenario`], [`faults`], [`clock`] — the simulated world, what is broken, and what time it is.
//!
//! Start it with [`run`] on a listener (the `probe sandbox` command) or [`Twin::spawn`] (tests, demo).
//!
//! This crate does not depend on the probe and must never: a rule the two shared could be wrong in both
//! and no test would notice (DESIGN.md §8).

pub mod background;
pub mod clock;
pub mod cloudwatch;
pub mod cognito;
pub mod events;
pub mod faults;
pub mod logs;
pub mod mail;
pub mod policy;
pub mod scenario;
pub mod sending;
pub mod server;
pub mod ses;
pub mod sqs;
pub mod suppression;

#[cfg(test)]
mod evidence_tests;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::cloudwatch::{Datum, MetricStore};
use crate::faults::{FaultError, Faults};
use crate::mail::DkimKeys;
use crate::scenario::{Account, Scenario, SuppressionReason};
use crate::sending::{Pending, SendRecord};
use crate::suppression::Entry;

/// Why the twin cannot start or cannot do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum TwinError {
    #[error("cannot create the Maildir {path}: {source}")]
    Maildir { path: PathBuf, source: std::io::Error },
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error(transparent)]
    Fault(#[from] FaultError),
    #[error("invalid account patch: {reason}")]
    Account { reason: String },
    #[error("the twin runs on the system clock; only a manual clock can be advanced (Twin::with_clock)")]
    NotManualClock,
    #[error("no queue {name:?}; the scenario's queues are {known:?}")]
    UnknownQueue { name: String, known: Vec<String> },
    #[error("background mail needs a sender; hint: set [background] from in the scenario")]
    NoBackgroundSender,
}

/// What the twin remembers between requests. Reset restores it from the scenario.
pub(crate) struct State {
    /// The live world: users' statuses change, faults and the account can be switched at run time.
    pub scenario: Scenario,
    /// Last modification of a user (pool id, username); absent means the twin's start.
    pub user_modified: HashMap<(String, String), DateTime<Utc>>,
    /// Per-user attempts in the rolling hour (pool id, username, kind) — research/aws.md §1.6.
    pub attempts: HashMap<(String, String, &'static str), Vec<DateTime<Utc>>>,
    /// COGNITO_DEFAULT mails in the rolling day (research/aws.md §1.6 daily quota).
    pub cognito_default_sent: Vec<DateTime<Utc>>,
    /// Mails SES accepted from this account (SESv2 GetAccount SentLast24Hours).
    pub ses_sent: Vec<DateTime<Utc>>,
    pub metrics: MetricStore,
    pub pending: Vec<Pending>,
    pub log: Vec<SendRecord>,
    /// Calls served, by operation name (`GetMetricData`, `AdminGetUser`, `ReceiveMessage`, …): what a test
    /// or bench counts to show that calls are shared.
    pub calls: std::collections::BTreeMap<String, u64>,
    pub queues: sqs::Queues,
    pub logs: logs::LogStore,
    pub suppression: suppression::SuppressionList,
    /// Event records waiting to reach their queue, per (set/destination, message id): the out-of-order
    /// fault holds a message's records until its last one. Each entry is (queue, body).
    pub held_events: std::collections::BTreeMap<(String, String), Vec<(String, String)>>,
    pub background: background::Schedule,
}

impl State {
    fn new(scenario: Scenario, now: DateTime<Utc>) -> State {
        let mut state = State::empty(scenario, now);
        background::history(&mut state, now);
        state
    }

    fn empty(scenario: Scenario, now: DateTime<Utc>) -> State {
        State {
            queues: sqs::Queues::from_scenario(&scenario, now),
            logs: logs::LogStore::from_scenario(&scenario, now),
            suppression: suppression::SuppressionList::from_scenario(&scenario),
            held_events: Default::default(),
            background: background::Schedule::new(scenario.background.rate_per_minute, now),
            scenario,
            user_modified: HashMap::new(),
            attempts: HashMap::new(),
            cognito_default_sent: Vec::new(),
            ses_sent: Vec::new(),
            metrics: MetricStore::default(),
            pending: Vec::new(),
            log: Vec::new(),
            calls: Default::default(),
        }
    }
}

pub(crate) struct Shared {
    pub original: Scenario,
    pub state: Mutex<State>,
    pub clock: Clock,
    pub maildir: PathBuf,
    pub keys: DkimKeys,
    pub started: DateTime<Utc>,
    /// Wakes the delivery task when a delayed message is queued.
    pub wake: Notify,
    /// Wakes long polls (ReceiveMessage WaitTimeSeconds) when a queue or the clock changes.
    pub queue_wake: Notify,
}

impl Shared {
    /// The state lock. A panic while holding it cannot leave the state half-written in a way that
    /// matters to a test double, so a poisoned lock is used as is.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The twin: the simulated world plus its Maildir. Cheap to clone (shared).
#[derive(Clone)]
pub struct Twin(pub(crate) Arc<Shared>);

impl std::fmt::Debug for Twin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Twin").field("maildir", &self.0.maildir).finish_non_exhaustive()
    }
}

impl Twin {
    /// A twin on the system clock delivering into `maildir` (created when missing).
    pub fn new(scenario: Scenario, maildir: &Path) -> Result<Twin, TwinError> {
        Twin::with_clock(scenario, maildir, Clock::system())
    }

    /// A twin on a given clock; tests pass [`Clock::manual`] and move time with [`Twin::advance`].
    pub fn with_clock(scenario: Scenario, maildir: &Path, clock: Clock) -> Result<Twin, TwinError> {
        for dir in [maildir.to_path_buf(), maildir.join(".Junk")] {
            for sub in ["tmp", "new", "cur"] {
                let path = dir.join(sub);
                std::fs::create_dir_all(&path).map_err(|source| TwinError::Maildir { path, source })?;
            }
        }
        let started = clock.now();
        Ok(Twin(Arc::new(Shared {
            state: Mutex::new(State::new(scenario.clone(), started)),
            original: scenario,
            clock,
            maildir: maildir.to_path_buf(),
            keys: DkimKeys::test_keys(),
            started,
            wake: Notify::new(),
            queue_wake: Notify::new(),
        })))
    }

    /// Starts the twin in-process on 127.0.0.1 with a free port (tests, `probe demo`).
    pub async fn spawn(scenario: Scenario, maildir: &Path) -> Result<TwinHandle, TwinError> {
        Twin::new(scenario, maildir)?.serve_locally().await
    }

    /// Serves this twin in-process on 127.0.0.1 with a free port.
    pub async fn serve_locally(self) -> Result<TwinHandle, TwinError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|source| TwinError::Bind { addr: "127.0.0.1:0".into(), source })?;
        let addr = listener.local_addr().map_err(|source| TwinError::Bind { addr: "127.0.0.1:0".into(), source })?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let twin = self.clone();
        let task = tokio::spawn(async move {
            run(listener, twin, async {
                let _ = rx.await;
            })
            .await
        });
        Ok(TwinHandle { twin: self, addr, shutdown: Some(tx), task: Some(task) })
    }

    pub fn maildir(&self) -> &Path {
        &self.0.maildir
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.0.clock.now()
    }

    /// The active faults.
    pub fn faults(&self) -> Faults {
        self.0.lock().scenario.faults.clone()
    }

    /// Merges a JSON object of fault fields into the active faults (the control endpoint's body).
    pub fn patch_faults(&self, patch: &Value) -> Result<Faults, TwinError> {
        let mut state = self.0.lock();
        let faults = state.scenario.faults.patched(patch)?;
        state.scenario.faults = faults.clone();
        Ok(faults)
    }

    /// Switches the receiver's style: the test mailbox moved to another provider, or another host now writes
    /// its Authentication-Results. Messages delivered from now on carry the new receiver's trace; reset
    /// restores the scenario's.
    pub fn set_receiver(&self, receiver: mail::ReceiverStyle) {
        self.0.lock().scenario.delivery.receiver = receiver;
    }

    /// Merges a JSON object of account fields (production access, sending enabled, quotas) into the
    /// live SES account state.
    pub fn patch_account(&self, patch: &Value) -> Result<Account, TwinError> {
        let mut state = self.0.lock();
        let Some(patch) = patch.as_object() else {
            return Err(TwinError::Account {
                reason: format!("expected a JSON object of account fields, got {patch}"),
            });
        };
        let mut current =
            serde_json::to_value(&state.scenario.account).map_err(|e| TwinError::Account { reason: e.to_string() })?;
        if let Some(obj) = current.as_object_mut() {
            for (k, v) in patch {
                obj.insert(k.clone(), v.clone());
            }
        }
        let account: Account =
            serde_json::from_value(current).map_err(|e| TwinError::Account { reason: e.to_string() })?;
        state.scenario.account = account.clone();
        Ok(account)
    }

    /// Restores the scenario's initial state: users, faults, account, counters, metrics, queued mail, queues,
    /// log groups, the suppression list and the background rate. Mail already written to the Maildir stays.
    pub fn reset(&self) {
        *self.0.lock() = State::new(self.0.original.clone(), self.0.clock.now());
        self.0.queue_wake.notify_waiters();
    }

    /// Moves a manual clock forward and delivers whatever became due (mail, delayed events, background
    /// traffic); long polls see the new time.
    pub fn advance(&self, by: Duration) -> Result<(), TwinError> {
        if !self.0.clock.advance(by) {
            return Err(TwinError::NotManualClock);
        }
        sending::run_due(&self.0);
        self.0.queue_wake.notify_waiters();
        Ok(())
    }

    /// Puts an address on the account suppression list, as SES does after a bounce or complaint (or
    /// PutSuppressedDestination does).
    pub fn suppress(&self, email: &str, reason: SuppressionReason) {
        let now = self.0.clock.now();
        self.0.lock().suppression.put(Entry {
            email: email.to_string(),
            reason,
            last_update_time: now,
            message_id: None,
            feedback_id: None,
        });
    }

    /// Takes an address off the suppression list; whether it was on it.
    pub fn unsuppress(&self, email: &str) -> bool {
        self.0.lock().suppression.remove(email)
    }

    /// The account's other senders send `rate_per_minute` mails a minute from now on (0: off), from the
    /// scenario's `[background] from` through its configuration set.
    pub fn set_background(&self, rate_per_minute: u32) -> Result<(), TwinError> {
        let now = self.0.clock.now();
        let mut state = self.0.lock();
        if rate_per_minute > 0 && state.scenario.background.from.is_none() {
            return Err(TwinError::NoBackgroundSender);
        }
        state.background.set_rate(rate_per_minute, now);
        drop(state);
        self.0.wake.notify_one();
        Ok(())
    }

    /// The bodies of every message in a queue (visible or in flight), oldest first, parsed as JSON where
    /// they are JSON (else a JSON string). Reading them receives nothing. Empty for an unknown queue.
    pub fn queue_messages(&self, queue: &str) -> Vec<Value> {
        self.0
            .lock()
            .queues
            .bodies(queue)
            .into_iter()
            .map(|b| serde_json::from_str(&b).unwrap_or(Value::String(b)))
            .collect()
    }

    /// Puts a message into a queue as SendMessage would: a malformed, foreign or duplicated record.
    pub fn send_to_queue(&self, queue: &str, body: &str) -> Result<(), TwinError> {
        let now = self.0.clock.now();
        let mut state = self.0.lock();
        if state.queues.enqueue(queue, body.to_string(), now).is_none() {
            let known = state.queues.counts().into_keys().collect();
            return Err(TwinError::UnknownQueue { name: queue.to_string(), known });
        }
        drop(state);
        self.0.queue_wake.notify_waiters();
        Ok(())
    }

    /// The messages of every event of a log group, oldest first, parsed as JSON where they are JSON.
    pub fn log_events(&self, group: &str) -> Vec<Value> {
        self.0
            .lock()
            .logs
            .events(group)
            .into_iter()
            .map(|e| serde_json::from_str(&e.message).unwrap_or(Value::String(e.message)))
            .collect()
    }

    /// Every trigger that reached the sending stage and what became of it (no codes or passwords).
    pub fn sent(&self) -> Vec<SendRecord> {
        self.0.lock().log.clone()
    }

    /// How many `operation` calls the twin has served since it started (or was reset).
    pub fn calls(&self, operation: &str) -> u64 {
        self.0.lock().calls.get(operation).copied().unwrap_or(0)
    }

    /// Every metric data point published so far (visible or still lagging).
    pub fn metric_data(&self) -> Vec<Datum> {
        self.0.lock().metrics.data.clone()
    }

    /// What `GET /_twin/state` returns: users, faults, account, metrics and the send log.
    pub fn state_json(&self) -> Value {
        let state = self.0.lock();
        let pools: Vec<Value> = state
            .scenario
            .pools
            .iter()
            .map(|p| {
                json!({
                    "id": p.id.as_str(),
                    "users": p.users.iter().map(user_json).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({
            "now": self.0.clock.now(),
            "account": state.scenario.account,
            "faults": state.scenario.faults,
            "pools": pools,
            "metrics": state.metrics.data,
            "sent": state.log,
            "pending": state.pending.len(),
            "calls": state.calls,
            "queues": state.queues.counts(),
            "log_groups": state.logs.counts(),
            "suppressed": state.suppression.entries(),
            "background": state.background,
        })
    }

    /// What the twin holds, as `probe sandbox` prints it when ready: pools (id, ARN, clients, users)
    /// and SES identities. No client secrets.
    pub fn summary(&self, endpoint_url: &str) -> Value {
        let s = &self.0.original;
        let pools: Vec<Value> = s
            .pools
            .iter()
            .map(|p| {
                json!({
                    "id": p.id.as_str(),
                    "name": p.name,
                    "arn": s.pool_arn(p),
                    "region": p.region(),
                    "email_sending_account": p.email.sending_account.as_str(),
                    "from": p.email.from,
                    "clients": p.clients.iter().map(|c| json!({
                        "id": c.id, "name": c.name, "has_secret": c.secret.is_some(),
                        "prevent_user_existence_errors": c.prevent_user_existence_errors.as_str(),
                    })).collect::<Vec<_>>(),
                    "users": p.users.iter().map(user_json).collect::<Vec<_>>(),
                })
            })
            .collect();
        let identities: Vec<Value> = s
            .identities
            .iter()
            .map(|i| {
                json!({"identity": i.identity, "arn": s.identity_arn(i),
                "verification_status": i.verification_status.as_str()})
            })
            .collect();
        let account = s.account.id.as_str();
        let region = s.account.region.as_str();
        let queues: Vec<Value> = s
            .queues
            .iter()
            .map(|q| {
                json!({"name": q.name, "url": format!("{endpoint_url}/{account}/{}", q.name),
                "arn": format!("arn:aws:sqs:{region}:{account}:{}", q.name)})
            })
            .collect();
        let log_groups: Vec<Value> = s
            .log_groups
            .iter()
            .map(|g| json!({"name": g.name, "arn": format!("arn:aws:logs:{region}:{account}:log-group:{}", g.name)}))
            .collect();
        let sets: Vec<Value> = s
            .configuration_sets
            .iter()
            .map(|c| {
                json!({"name": c.name, "event_destinations": c.event_destinations.iter()
                .map(|d| json!({"name": d.name, "kind": d.kind.as_str(), "queue": d.queue})).collect::<Vec<_>>()})
            })
            .collect();
        json!({
            "endpoint_url": endpoint_url,
            "control_url": format!("{endpoint_url}/_twin"),
            "maildir": self.0.maildir,
            "account_id": account,
            "region": region,
            "pools": pools,
            "ses_identities": identities,
            "configuration_sets": sets,
            "queues": queues,
            "log_groups": log_groups,
            "background_rate_per_minute": s.background.rate_per_minute,
        })
    }
}

/// A user as `/_twin/state` and the sandbox summary show it (never a password or code).
fn user_json(u: &scenario::User) -> Value {
    json!({"username": u.username, "email": u.email, "status": u.status.as_str(), "enabled": u.enabled})
}

/// Serves the twin on `listener` until `shutdown` completes. Delayed deliveries still queued at
/// shutdown are abandoned (never written), so shutdown never waits on them.
pub async fn run(listener: tokio::net::TcpListener, twin: Twin, shutdown: impl Future<Output = ()> + Send + 'static) {
    let token = CancellationToken::new();
    let stop = token.clone();
    tokio::spawn(async move {
        shutdown.await;
        stop.cancel();
    });
    let pump = tokio::spawn(sending::delivery_task(twin.0.clone(), token.clone()));
    let app = server::router(twin);
    if let Err(err) = axum::serve(listener, app).with_graceful_shutdown(token.clone().cancelled_owned()).await {
        tracing::error!(%err, "twin server stopped with an error");
    }
    token.cancel();
    let _ = pump.await;
}

/// A twin running in-process; dropping it stops the server.
pub struct TwinHandle {
    twin: Twin,
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TwinHandle {
    /// `http://127.0.0.1:PORT`, for the SDK's `endpoint_url`.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn maildir(&self) -> &Path {
        self.twin.maildir()
    }

    /// Typed control of the running twin: faults, account state, reset, clock, send log.
    pub fn control(&self) -> &Twin {
        &self.twin
    }

    /// Stops the server and waits for it to finish.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for TwinHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
