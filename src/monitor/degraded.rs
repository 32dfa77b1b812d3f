//! When the state cannot be written (full disk, a damaged database), the monitor cannot keep its paging
//! promise, and says so loudly instead of going blind in silence: the run's report becomes UNKNOWN
//! `state_unwritable` (in `/metrics` and `/probes`), `/healthz` fails, `cognito_probe_state_writable` drops
//! to 0, and every channel of the probe gets a `monitor_degraded` alert. That alert cannot go through the
//! ledger — the ledger is what failed — so it is held in memory and tried again after every run until each
//! channel took it; when the state is written again, the channels that took it get its resolve.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;

use super::ledger::channel_id;
use super::state::{IncidentKind, dedup_key};
use super::{Context, store::StoreError};
use crate::alert::{Alert, AlertKind};
use crate::config::ProbeFile;
use crate::report::Report;

/// One probe whose state cannot be written (or whose degraded alert is still being resolved).
#[derive(Debug)]
struct Episode {
    alert: Alert,
    /// The store's error, for `/healthz`; `None` once the state is written again.
    error: Option<String>,
    /// Channels that took the degraded alert.
    took: BTreeSet<String>,
    /// Channels that took the degraded alert and still need its resolve.
    resolve_owed: BTreeSet<String>,
}

/// The degraded probes, by name.
#[derive(Debug, Default)]
pub(super) struct Degraded {
    episodes: BTreeMap<String, Episode>,
}

impl Degraded {
    /// The first state error still in force, for `/healthz`.
    fn error(&self) -> Option<String> {
        self.episodes.iter().find_map(|(probe, e)| e.error.as_ref().map(|err| format!("probe {probe}: {err}")))
    }
}

/// The run of `probe` ended with `report` but its state could not be recorded: make that visible and page.
pub(super) async fn degrade(ctx: &Context, probe: &ProbeFile, report: &Report, error: &StoreError) {
    tracing::error!(probe = %probe.name, "cannot record the run: {error}");
    let unrecorded = Report::unrecorded(&probe.name, &probe.pool_id, &error.to_string(), Some(report));
    let json = serde_json::to_string(&unrecorded).unwrap_or_else(|_| "null".into());
    ctx.exposition.record(&unrecorded, &json);
    ctx.exposition.metrics.state_error();
    let alert = {
        let mut degraded = ctx.degraded.lock().unwrap_or_else(|p| p.into_inner());
        let episode = degraded.episodes.entry(probe.name.clone()).or_insert_with(|| {
            let now = Utc::now();
            let key = dedup_key(&probe.name, IncidentKind::Degraded, now);
            let alert = Alert {
                kind: AlertKind::MonitorDegraded,
                probe: probe.name.clone(),
                pool_id: probe.pool_id.clone(),
                idempotency_key: format!("{key}/{}/1", AlertKind::MonitorDegraded.name()),
                dedup_key: key,
                outcome: unrecorded.outcome,
                phase: unrecorded.phase,
                code: unrecorded.diagnosis.code.to_string(),
                summary: unrecorded.diagnosis.summary.clone(),
                consecutive_failures: 0,
                at: now,
                report: serde_json::from_str(&json).unwrap_or_default(),
            };
            Episode { alert, error: None, took: BTreeSet::new(), resolve_owed: BTreeSet::new() }
        });
        episode.error = Some(error.to_string());
        let alert = episode.alert.clone();
        ctx.exposition.set_state_error(degraded.error());
        alert
    };
    send(ctx, probe, &alert, |e| &mut e.took, false).await;
}

/// The state of `probe` was written: resolve its degraded alert where it was taken.
pub(super) async fn recovered(ctx: &Context, probe: &ProbeFile) {
    let resolve = {
        let mut degraded = ctx.degraded.lock().unwrap_or_else(|p| p.into_inner());
        let Some(episode) = degraded.episodes.get_mut(&probe.name) else { return };
        if episode.error.take().is_some() {
            tracing::info!(probe = %probe.name, "the state is written again");
            episode.resolve_owed = std::mem::take(&mut episode.took);
        }
        let mut resolve = episode.alert.clone();
        resolve.kind = AlertKind::MonitorDegradedResolve;
        resolve.idempotency_key = format!("{}/{}/1", resolve.dedup_key, resolve.kind.name());
        resolve.outcome = crate::verdict::Outcome::Ok;
        resolve.summary = "the monitor records its state again".to_string();
        resolve.at = Utc::now();
        let error = degraded.error();
        ctx.exposition.set_state_error(error);
        resolve
    };
    send(ctx, probe, &resolve, |e| &mut e.resolve_owed, true).await;
    let mut degraded = ctx.degraded.lock().unwrap_or_else(|p| p.into_inner());
    if degraded.episodes.get(&probe.name).is_some_and(|e| e.error.is_none() && e.resolve_owed.is_empty()) {
        degraded.episodes.remove(&probe.name);
    }
}

/// Sends `alert` to the channels of `probe` that `set` says still need it (`owed`: the set lists the
/// channels that need it; otherwise it lists those that already took it), side by side.
async fn send(
    ctx: &Context,
    probe: &ProbeFile,
    alert: &Alert,
    set: impl Fn(&mut Episode) -> &mut BTreeSet<String>,
    owed: bool,
) {
    let targets: Vec<(String, &crate::alert::ChannelConfig)> = {
        let mut degraded = ctx.degraded.lock().unwrap_or_else(|p| p.into_inner());
        let Some(episode) = degraded.episodes.get_mut(&probe.name) else { return };
        let listed = set(episode).clone();
        (probe.alert.channels.iter().enumerate())
            .map(|(i, c)| (channel_id(i, c.kind()), c))
            .filter(|(id, _)| listed.contains(id) == owed)
            .collect()
    };
    let sends = targets.into_iter().map(|(id, channel)| async move {
        let result = ctx.notifier.notify(channel, alert).await;
        (id, channel.kind(), result)
    });
    for (id, kind, result) in futures::future::join_all(sends).await {
        match result {
            Ok(_) => {
                ctx.exposition.metrics.alert_sent(kind, alert.kind.name());
                let mut degraded = ctx.degraded.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(episode) = degraded.episodes.get_mut(&probe.name) {
                    let listed = set(episode);
                    if owed {
                        listed.remove(&id);
                    } else {
                        listed.insert(id);
                    }
                }
            }
            Err(e) => {
                ctx.exposition.metrics.channel_error(kind);
                let what = alert.kind.name();
                let why = "not delivered, tried again after the next run";
                tracing::warn!(probe = %probe.name, channel = kind, "{what} {why}: {e}");
            }
        }
    }
}
