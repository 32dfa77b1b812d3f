//! `probe monitor`: every probe file on its interval with jitter, one task per probe (runs of one probe
//! never overlap, a slow probe never delays another), the alert state machine, the SQLite store and the
//! metrics (DESIGN.md §7, §10).
//!
//! * [`state`] — the pure alert state machine ([`state::step`]).
//! * [`store`] — SQLite state: history, counters, incidents with dedup keys; [`lock`] — one process per
//!   state file.
//! * [`ledger`] — what each channel is owed and took; [`deliver`] sends it, channels side by side.
//! * `degraded` — a state that cannot be written pages and fails `/healthz` instead of going blind.
//! * [`notify`] — the [`notify::Notifier`] seam between the monitor and the channels.
//!
//! [`handle_report`] is the one path from a finished report to persisted state and sent alerts; the
//! monitor and the one-shot `probe --state FILE` both use it.

mod degraded;
pub mod deliver;
pub mod ledger;
pub mod lock;
pub mod notify;
pub mod state;
pub mod store;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use tokio_util::sync::CancellationToken;

use crate::alert::{Alert, AlertKind};
use crate::aws::Clients;
use crate::config::{ConfigError, ProbeFile};
use crate::metrics::Exposition;
use crate::report::Report;
use notify::Notifier;
use state::Action;
use store::{Store, StoreError};

/// A failure of the monitor that stops it (bad probe directory, state database).
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no valid probe file in {dir} (hint: `probe validate {dir}` shows what is wrong)")]
    NoProbes { dir: PathBuf },
    #[error("HTTP server: {0}")]
    Http(std::io::Error),
}

/// How long run history is kept by default.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

/// Runs one probe to its report. The binary uses [`SdkRunner`]; tests and benches substitute their own.
pub trait Runner: Send + Sync {
    /// `memory`: what the probe's earlier runs left in the state ([`crate::probe::Memory`]).
    fn run<'a>(
        &'a self,
        probe: &'a ProbeFile,
        memory: crate::probe::Memory,
    ) -> Pin<Box<dyn Future<Output = Report> + Send + 'a>>;

    /// Releases what the runner holds between runs (idle connections) once every run has stopped.
    fn shutdown(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async {})
    }
}

/// Key under which SDK clients are shared: probes with the same region, endpoint, profile and role reuse
/// one set of clients (one connection pool, one credential cache, one batching CloudWatch reader — so
/// CloudWatch calls grow with accounts × Regions, not with probes).
type ClientKey = (String, Option<String>, Option<String>, Option<String>);

/// The real runner: [`crate::probe::run`] with shared SDK clients.
#[derive(Default)]
pub struct SdkRunner {
    clients: tokio::sync::Mutex<HashMap<ClientKey, Clients>>,
    /// IMAP sessions shared by probes with the same login, for the whole process.
    imap: crate::inbox::pool::ImapPool,
    /// Where every set of clients counts its CloudWatch reads and calls.
    cloudwatch: crate::metrics::CloudWatchMetrics,
}

impl SdkRunner {
    /// A runner whose IMAP pool counts into `metrics` (`cognito_probe_imap_*`).
    pub fn with_metrics(metrics: &crate::metrics::Metrics) -> SdkRunner {
        SdkRunner {
            imap: crate::inbox::pool::ImapPool::with_metrics(metrics.imap()),
            cloudwatch: metrics.cloudwatch(),
            ..SdkRunner::default()
        }
    }

    async fn clients(&self, probe: &ProbeFile) -> Clients {
        let key =
            (probe.region(), probe.aws.endpoint_url.clone(), probe.aws.profile.clone(), probe.aws.role_arn.clone());
        let mut map = self.clients.lock().await;
        if let Some(c) = map.get(&key) {
            return c.clone();
        }
        let c = Clients::new(&probe.aws, &probe.region()).await.with_cloudwatch_metrics(self.cloudwatch.clone());
        map.insert(key, c.clone());
        c
    }

    /// `Send` metric reads the probes asked for and `GetMetricData` calls made for them, over every set of
    /// clients: the batching at work (src/aws/cloudwatch.rs).
    pub fn cloudwatch_stats(&self) -> (u64, u64) {
        (self.cloudwatch.reads.get(), self.cloudwatch.calls.get())
    }
}

impl Runner for SdkRunner {
    fn run<'a>(
        &'a self,
        probe: &'a ProbeFile,
        memory: crate::probe::Memory,
    ) -> Pin<Box<dyn Future<Output = Report> + Send + 'a>> {
        Box::pin(async move {
            let clients = self.clients(probe).await;
            let ctx = crate::probe::RunContext { clients: &clients, imap: &self.imap, memory };
            crate::probe::run_with(probe, &ctx, &|_| {}).await
        })
    }

    fn shutdown(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(self.imap.close_idle())
    }
}

/// Everything a run's aftermath needs: state, alert delivery, exposition.
pub struct Context {
    pub store: Mutex<Store>,
    pub notifier: Arc<dyn Notifier>,
    pub exposition: Arc<Exposition>,
    pub retention: Duration,
    /// The alert defaults file (`--alerts`), read with the probe files at start and on every reload.
    pub alert_defaults: Option<PathBuf>,
    /// One sender per probe at a time: a run's aftermath, the retry timer and a retirement take turns.
    senders: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    degraded: Mutex<degraded::Degraded>,
}

impl Context {
    /// A context over `store`, keeping [`DEFAULT_RETENTION`] of history, without alert defaults.
    pub fn new(store: Store, notifier: Arc<dyn Notifier>, exposition: Arc<Exposition>) -> Context {
        Context {
            store: Mutex::new(store),
            notifier,
            exposition,
            retention: DEFAULT_RETENTION,
            alert_defaults: None,
            senders: Mutex::default(),
            degraded: Mutex::default(),
        }
    }

    pub fn with_retention(self, retention: Duration) -> Context {
        Context { retention, ..self }
    }

    pub fn with_alert_defaults(self, alert_defaults: Option<PathBuf>) -> Context {
        Context { alert_defaults, ..self }
    }

    /// The sender lock of `probe`.
    fn sender(&self, probe: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut senders = self.senders.lock().unwrap_or_else(|p| p.into_inner());
        senders.entry(probe.to_string()).or_default().clone()
    }
}

fn lock(store: &Mutex<Store>) -> std::sync::MutexGuard<'_, Store> {
    // A panic while holding the lock leaves SQLite consistent (each write is one transaction).
    store.lock().unwrap_or_else(|p| p.into_inner())
}

/// The ids of `probe`'s channels as the ledger names them.
fn channel_ids(probe: &ProbeFile) -> Vec<String> {
    probe.alert.channels.iter().enumerate().map(|(i, c)| ledger::channel_id(i, c.kind())).collect()
}

/// Steps the state machine for `report`, persists run, state and the alerts it raised (owed to every
/// channel that should get them, [`ledger`]) in one transaction before sending anything, then sends what
/// the probe owes — this run's alerts and any an earlier run could not deliver — channels side by side.
/// Returns the actions the run raised.
pub async fn handle_report(ctx: &Context, probe: &ProbeFile, report: &Report) -> Result<Vec<Action>, StoreError> {
    let sender = ctx.sender(&probe.name);
    let _turn = sender.lock().await;
    let now = Utc::now();
    // Serialised once: the state database and /probes keep this text; alerts parse it only when sent.
    let json = serde_json::to_string(report).unwrap_or_else(|_| "null".into());
    let thresholds = state::Thresholds::from(&probe.alert);
    let actions = {
        let mut store = lock(&ctx.store);
        let current = store.load(&probe.name)?;
        let (next, actions) = state::step(current, &probe.name, report.outcome, now, &thresholds);
        let outcome = report.outcome.label().to_ascii_lowercase();
        let run = store::RunRecord {
            probe: &probe.name,
            at: now,
            outcome: &outcome,
            code: report.diagnosis.code.as_str(),
            report: &json,
            late_mails: report.late_mails,
        };
        let alerts: Vec<Alert> = actions.iter().map(|a| alert(a, probe, report, &json, next.failures, now)).collect();
        store.record_run(&run, &next, &alerts, &channel_ids(probe))?;
        // A probe file that names no receiver pins the first one whose results it trusted.
        if probe.mailbox.trusted_authserv_ids().is_empty()
            && let Some(auth) = &report.auth
            && let Some(receiver) = auth.receiver()
            && store.pin_receiver(&probe.name, &receiver, auth.authserv_id.as_deref(), now)?
        {
            tracing::info!(probe = %probe.name, receiver = %receiver, "receiver pinned");
        }
        actions
    };
    ctx.exposition.record(report, &json);
    deliver::owed(ctx, &probe.name, &probe.alert.channels, None).await?;
    lock(&ctx.store).prune(now, ctx.retention)?;
    Ok(actions)
}

/// The alert for `action`, from the run's report (`json`: the report serialised once). The ledger gives
/// it its idempotency key.
fn alert(action: &Action, probe: &ProbeFile, report: &Report, json: &str, failures: u32, now: DateTime<Utc>) -> Alert {
    Alert {
        kind: action.kind,
        probe: probe.name.clone(),
        pool_id: probe.pool_id.clone(),
        dedup_key: action.dedup_key.clone(),
        idempotency_key: String::new(),
        outcome: report.outcome,
        phase: report.phase,
        code: report.diagnosis.code.to_string(),
        summary: report.diagnosis.summary.clone(),
        consecutive_failures: failures,
        at: now,
        report: serde_json::from_str(json).unwrap_or(serde_json::Value::Null),
    }
}

/// The probe's file was removed from the monitor: its open incidents are closed with the reason, each
/// channel that took a trigger gets the resolve, and its series leave `/metrics`.
async fn retire(ctx: &Context, probe: &ProbeFile) -> Result<usize, StoreError> {
    let sender = ctx.sender(&probe.name);
    let _turn = sender.lock().await;
    let now = Utc::now();
    let resolve = |incident: &state::Incident| Alert {
        kind: if incident.kind == state::IncidentKind::Delivery {
            AlertKind::Resolve
        } else {
            AlertKind::ProbeBlindResolve
        },
        probe: probe.name.clone(),
        pool_id: probe.pool_id.clone(),
        dedup_key: incident.dedup_key.clone(),
        idempotency_key: String::new(),
        outcome: crate::verdict::Outcome::Unknown,
        phase: crate::verdict::Phase::Config,
        code: "probe_removed".to_string(),
        summary: "probe removed from the monitor: incident closed without a recovery".to_string(),
        consecutive_failures: 0,
        at: now,
        report: serde_json::Value::Null,
    };
    let closed = lock(&ctx.store).retire(&probe.name, &channel_ids(probe), now, resolve)?;
    ctx.exposition.forget(&probe.name);
    deliver::owed(ctx, &probe.name, &probe.alert.channels, None).await?;
    Ok(closed.len())
}

/// Loads every probe file of `dir` with the alert defaults of `alerts` applied; bad probe files are
/// returned as errors (kept at their old version on reload). A bad alert defaults file fails the whole load.
pub fn load_probes(dir: &Path, alerts: Option<&Path>) -> Result<Vec<Result<ProbeFile, ConfigError>>, ConfigError> {
    let defaults = alerts.map(crate::config::alert::load_defaults).transpose()?;
    let mut loaded = crate::config::load_dir(dir)?;
    if let Some(defaults) = &defaults {
        for probe in loaded.iter_mut().flatten() {
            probe.apply_alert_defaults(defaults);
        }
    }
    Ok(loaded)
}

/// One probe's schedule: runs at start + k·interval + jitter, sequentially (never overlapping); a run that
/// overruns skips the ticks it missed. Cancelling `stop` abandons a run in flight without recording it.
async fn probe_loop(ctx: Arc<Context>, runner: Arc<dyn Runner>, probe: ProbeFile, stop: CancellationToken) {
    let interval = probe.interval;
    let mut next = tokio::time::Instant::now();
    loop {
        let jitter = if probe.jitter.is_zero() {
            Duration::ZERO
        } else {
            rand::thread_rng().gen_range(Duration::ZERO..probe.jitter)
        };
        let due = next + jitter;
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep_until(due) => {}
        }
        let drift = tokio::time::Instant::now().saturating_duration_since(due);
        ctx.exposition.metrics.drift(drift.as_secs_f64());
        let report = tokio::select! {
            _ = stop.cancelled() => {
                tracing::info!(probe = %probe.name, "shutting down: run abandoned, nothing recorded");
                return;
            }
            r = runner.run(&probe, memory(&ctx, &probe)) => r,
        };
        if stop.is_cancelled() {
            // Removed or changed while running: its successor (or its retirement) takes over.
            return;
        }
        match handle_report(&ctx, &probe, &report).await {
            Ok(_) => degraded::recovered(&ctx, &probe).await,
            Err(e) => degraded::degrade(&ctx, &probe, &report, &e).await,
        }
        let now = tokio::time::Instant::now();
        // The next tick not in the past: ticks missed while the run overran are skipped (interval ≥ 10 s).
        next += interval;
        while next < now {
            next += interval;
        }
    }
}

/// What the probe's earlier runs left in the state (read before every run, so it survives restarts).
fn memory(ctx: &Context, probe: &ProbeFile) -> crate::probe::Memory {
    lock(&ctx.store).memory(&probe.name).unwrap_or_else(|e| {
        tracing::warn!(probe = %probe.name, "cannot read the probe's earlier runs from the state: {e}");
        crate::probe::Memory::default()
    })
}

/// The channels of every probe the monitor has run, retired ones included until restart: what the retry
/// timer sends owed alerts through.
type KnownChannels = Arc<Mutex<BTreeMap<String, Vec<crate::alert::ChannelConfig>>>>;

/// The set of running probe tasks, keyed by probe name.
struct Running {
    tasks: HashMap<String, (ProbeFile, CancellationToken, tokio::task::JoinHandle<()>)>,
    channels: KnownChannels,
}

impl Running {
    /// Starts, restarts and stops tasks to match `loaded`. A file that fails to load keeps its old version.
    fn apply(
        &mut self,
        loaded: Vec<Result<ProbeFile, ConfigError>>,
        ctx: &Arc<Context>,
        runner: &Arc<dyn Runner>,
        stop: &CancellationToken,
    ) {
        let mut seen = std::collections::HashSet::new();
        let mut failed_sources = Vec::new();
        for item in loaded {
            match item {
                Ok(p) => {
                    seen.insert(p.name.clone());
                    // Every setting counts, secrets' sources and URL paths included (Debug hides those), so a reload
                    // restarts exactly the probes whose file changed.
                    if self.tasks.get(&p.name).is_some_and(|(old, _, _)| *old == p) {
                        continue;
                    }
                    if let Some((_, token, _)) = self.tasks.remove(&p.name) {
                        token.cancel();
                    }
                    let token = stop.child_token();
                    let handle = tokio::spawn(probe_loop(ctx.clone(), runner.clone(), p.clone(), token.clone()));
                    tracing::info!(probe = %p.name, interval = ?p.interval, "scheduled");
                    let mut known = self.channels.lock().unwrap_or_else(|e| e.into_inner());
                    known.insert(p.name.clone(), p.alert.channels.clone());
                    self.tasks.insert(p.name.clone(), (p, token, handle));
                }
                Err(e) => {
                    tracing::error!("probe file not loaded, the running version (if any) is kept: {e}");
                    if let ConfigError::Syntax { path, .. }
                    | ConfigError::Invalid { path, .. }
                    | ConfigError::Read { path, .. } = &e
                    {
                        failed_sources.push(path.clone());
                    }
                }
            }
        }
        // Remove probes whose file is gone (not those whose file failed to load).
        let gone: Vec<String> = self
            .tasks
            .iter()
            .filter(|(name, (p, _, _))| {
                !seen.contains(*name) && !p.source.as_ref().is_some_and(|s| failed_sources.contains(s))
            })
            .map(|(n, _)| n.clone())
            .collect();
        for name in gone {
            if let Some((probe, token, handle)) = self.tasks.remove(&name) {
                token.cancel();
                tracing::info!(probe = %name, "probe file removed: unscheduled");
                let ctx = ctx.clone();
                // Once its last run is recorded (or abandoned), its open incidents are resolved.
                tokio::spawn(async move {
                    let _ = handle.await;
                    match retire(&ctx, &probe).await {
                        Ok(0) => {}
                        Ok(n) => {
                            tracing::info!(probe = %name, incidents = n, "open incidents of a removed probe resolved")
                        }
                        Err(e) => tracing::error!(probe = %name, "cannot close the removed probe's incidents: {e}"),
                    }
                });
            }
        }
    }
}

/// Runs the monitor until `shutdown` is cancelled: schedules every probe file in `dir`, serves the HTTP
/// endpoints on `listener`, and reloads `dir` each time `reload` yields.
pub async fn run(
    dir: &Path,
    ctx: Arc<Context>,
    runner: Arc<dyn Runner>,
    listener: tokio::net::TcpListener,
    mut reload: tokio::sync::mpsc::Receiver<()>,
    shutdown: CancellationToken,
) -> Result<(), MonitorError> {
    let loaded = load_probes(dir, ctx.alert_defaults.as_deref())?;
    if !loaded.iter().any(|p| p.is_ok()) {
        for e in loaded.iter().filter_map(|p| p.as_ref().err()) {
            tracing::error!("{e}");
        }
        return Err(MonitorError::NoProbes { dir: dir.to_path_buf() });
    }
    let mut running = Running { tasks: HashMap::new(), channels: KnownChannels::default() };
    running.apply(loaded, &ctx, &runner, &shutdown);
    let server = tokio::spawn(crate::metrics::serve(listener, ctx.exposition.clone(), shutdown.clone()));
    let retries = tokio::spawn(deliver::retry_loop(ctx.clone(), running.channels.clone(), shutdown.clone()));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(()) = reload.recv() => {
                tracing::info!(dir = %dir.display(), "reloading probe files");
                match load_probes(dir, ctx.alert_defaults.as_deref()) {
                    Ok(loaded) => running.apply(loaded, &ctx, &runner, &shutdown),
                    Err(e) => tracing::error!("reload failed, probes unchanged: {e}"),
                }
            }
        }
    }
    for (_, (_, token, handle)) in running.tasks.drain() {
        token.cancel();
        let _ = handle.await;
    }
    runner.shutdown().await;
    let _ = retries.await;
    match server.await {
        Ok(Ok(())) | Err(_) => Ok(()),
        Ok(Err(e)) => Err(MonitorError::Http(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reload must restart a probe whose webhook URL path or header changed (a rotated token), though
    /// the redacted `Debug` of the channel shows neither.
    #[test]
    fn a_changed_channel_secret_is_a_changed_probe_file() {
        let file = |url: &str, auth: &str| {
            let text = format!(
                "pool_id = \"us-east-1_knEL7cqS3\"\nusername = \"u\"\n[maildir]\npath = \"/tmp/m\"\n\
                 [[alert.channels]]\ntype = \"webhook\"\nurl = \"{url}\"\nheaders = {{ Authorization = \"{auth}\" }}\n"
            );
            ProbeFile::parse(&text, Path::new("p.toml")).unwrap()
        };
        let old = file("https://hooks.example.net/T1/token-a", "Bearer a");
        assert!(old == file("https://hooks.example.net/T1/token-a", "Bearer a"));
        for changed in [
            file("https://hooks.example.net/T1/token-b", "Bearer a"),
            file("https://hooks.example.net/T1/token-a", "Bearer b"),
        ] {
            assert_eq!(format!("{old:?}"), format!("{changed:?}"), "Debug redacts the difference");
            assert!(old != changed, "but the files differ");
        }
    }
}
