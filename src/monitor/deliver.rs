//! Sending what the ledger owes ([`super::ledger`]). One sender per probe at a time (a run's aftermath,
//! the retry timer and a probe's retirement take turns), the probe's channels side by side — a channel
//! that hangs until its timeout delays no other — and each channel's rows in the order they were raised,
//! stopping at the first failure, so a resolve never overtakes its trigger.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::ledger::{Owed, channel_id};
use super::store::StoreError;
use super::{Context, lock};
use crate::alert::ChannelConfig;

/// How often the retry timer looks for owed alerts whose backoff has passed.
pub const RETRY_TICK: Duration = Duration::from_secs(5);

/// What one delivery pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub delivered: usize,
    pub failed: usize,
}

/// Sends what `probe` owes through `channels` (the probe file's, in order). With `due_by`, a channel is
/// served only when its oldest owed row's backoff has passed (the retry timer); without, everything owed
/// is tried now (a new run of the probe). The caller holds the probe's sender lock.
pub(super) async fn owed(
    ctx: &Context,
    probe: &str,
    channels: &[ChannelConfig],
    due_by: Option<DateTime<Utc>>,
) -> Result<Pass, StoreError> {
    let owed = lock(&ctx.store).owed(probe, None)?;
    let mut by_channel: BTreeMap<String, Vec<Owed>> = BTreeMap::new();
    for row in owed {
        by_channel.entry(row.channel.clone()).or_default().push(row);
    }
    if let Some(at) = due_by {
        by_channel.retain(|_, rows| rows.first().is_some_and(|r| r.next_attempt_at <= at));
    }
    let sends = by_channel.into_iter().map(|(id, rows)| {
        let config = channels.iter().enumerate().find(|(i, c)| channel_id(*i, c.kind()) == id).map(|(_, c)| c);
        one_channel(ctx, config, rows)
    });
    let mut pass = Pass::default();
    for result in futures::future::join_all(sends).await {
        let p = result?;
        pass.delivered += p.delivered;
        pass.failed += p.failed;
    }
    Ok(pass)
}

async fn one_channel(ctx: &Context, config: Option<&ChannelConfig>, rows: Vec<Owed>) -> Result<Pass, StoreError> {
    let mut pass = Pass::default();
    let Some(config) = config else {
        // The probe file no longer has this channel: nothing can be sent through it.
        for row in &rows {
            tracing::warn!(probe = %row.probe, channel = %row.channel, key = %row.idempotency_key,
                "alert owed to a channel the probe file no longer has: given up");
            lock(&ctx.store).cancel(row, "channel no longer in the probe file", Utc::now())?;
        }
        return Ok(pass);
    };
    for row in rows {
        let Ok(alert) = row.alert() else {
            lock(&ctx.store).cancel(&row, "unreadable alert record", Utc::now())?;
            continue;
        };
        lock(&ctx.store).begin_send(&row, Utc::now())?;
        let kind = config.kind();
        match ctx.notifier.notify(config, &alert).await {
            Ok(sent) => {
                lock(&ctx.store).delivered(&row, Utc::now())?;
                ctx.exposition.metrics.channel_retries(kind, sent.retries);
                ctx.exposition.metrics.alert_sent(kind, row.kind.name());
                pass.delivered += 1;
            }
            Err(e) => {
                lock(&ctx.store).failed(&row, e.uncertain, &e.error, Utc::now())?;
                ctx.exposition.metrics.channel_retries(kind, e.retries);
                ctx.exposition.metrics.channel_error(kind);
                tracing::warn!(probe = %row.probe, channel = kind, dedup_key = %row.dedup_key,
                    key = %row.idempotency_key, uncertain = e.uncertain,
                    "alert not delivered, kept owed and retried: {e}");
                pass.failed += 1;
                // Later rows of this channel wait: a resolve must not overtake its trigger.
                break;
            }
        }
    }
    Ok(pass)
}

/// The retry timer: every [`RETRY_TICK`], sends what is owed and due for every probe whose channels are
/// known (running probes and retired ones still draining), skipping a probe whose sender is busy.
pub(super) async fn retry_loop(
    ctx: Arc<Context>,
    channels: Arc<std::sync::Mutex<BTreeMap<String, Vec<ChannelConfig>>>>,
    stop: tokio_util::sync::CancellationToken,
) {
    let mut unknown_reported = std::collections::BTreeSet::new();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(RETRY_TICK) => {}
        }
        let owing = match lock(&ctx.store).probes_owing() {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!("cannot read the delivery ledger: {e}");
                continue;
            }
        };
        for probe in owing {
            let known = channels.lock().unwrap_or_else(|p| p.into_inner()).get(&probe).cloned();
            let Some(known) = known else {
                if unknown_reported.insert(probe.clone()) {
                    tracing::warn!(probe = %probe, "alerts owed by a probe that is not loaded: sent once it is");
                }
                continue;
            };
            let sender = ctx.sender(&probe);
            let ctx = ctx.clone();
            tokio::spawn(async move {
                let Ok(_turn) = sender.try_lock() else { return };
                if let Err(e) = owed(&ctx, &probe, &known, Some(Utc::now())).await {
                    tracing::error!(probe = %probe, "cannot record an alert delivery: {e}");
                }
            });
        }
    }
}
