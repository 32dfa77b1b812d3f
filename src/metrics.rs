//! Prometheus metrics of the monitor and its HTTP endpoints (`/metrics`, `/healthz`, `/probes`).
//!
//! Every metric name and help text is in [`NAMES`]; README "Monitor mode" lists them. One prefix
//! (`cognito_probe_`), base units (`_seconds`), `_total` on counters (appended by the encoder), bounded
//! labels only: `probe`, `phase`, `method`, `result`, `channel` (STYLE.md, blackbox_exporter).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

use crate::report::Report;
use crate::verdict::{Outcome, Phase};

/// Metric names (as registered; counters get `_total` from the encoder) and help texts.
pub const NAMES: [(&str, &str); 14] = [
    ("cognito_probe_success", "1 when the last run of the probe delivered (OK or WARNING), else 0"),
    (
        "cognito_probe_outcome",
        "1 for the outcome of the probe's last run (result=ok|warning|critical|unknown), 0 for the others",
    ),
    (
        "cognito_probe_phase_duration_seconds",
        "Seconds spent in each phase of the last run; 0 for phases that did not run",
    ),
    ("cognito_probe_delivery_latency_seconds", "Trigger to detection of the probe's mail"),
    ("cognito_probe_auth_results", "Authentication results of delivered mail by method (dkim, spf, dmarc) and result"),
    ("cognito_probe_late_mails", "Probe mail found after its run had timed out"),
    ("cognito_probe_last_success_timestamp_seconds", "Unix time of the probe's last delivering run"),
    ("cognito_probe_channel_errors", "Alerts a channel failed to deliver"),
    ("cognito_probe_runs", "Finished probe runs by result"),
    ("cognito_probe_alerts", "Alerts delivered by channel and result (alert kind)"),
    ("cognito_probe_schedule_drift_seconds", "How late a run started against its schedule (jitter excluded)"),
    (
        "cognito_probe_channel_retries",
        "Alert delivery attempts repeated after a failed one (the channel was down, busy or slow)",
    ),
    ("cognito_probe_state_writable", "1 while the monitor records runs in its state file, 0 after a failed write"),
    ("cognito_probe_state_errors", "Runs whose state could not be recorded (full disk, damaged database)"),
];

/// The shared IMAP connections of `probe monitor` ([`crate::inbox::pool::ImapPool`]), labelled by
/// `mailbox` = the login's `host:port` (bounded by the probe files; no user names in labels).
pub const IMAP_NAMES: [(&str, &str); 4] = [
    ("cognito_probe_imap_connections_opened", "IMAP connections opened and logged in (TCP, TLS, login)"),
    ("cognito_probe_imap_sessions_reused", "Runs served by an idle logged-in IMAP session instead of a new connection"),
    (
        "cognito_probe_imap_sessions_discarded",
        "Idle IMAP sessions dropped by reason (expired: idle too long; dead: failed its NOOP or first command)",
    ),
    (
        "cognito_probe_imap_slot_wait_seconds",
        "How long a run waited for a free connection of its login (imap.max_connections); only runs that waited",
    ),
];

/// The batched CloudWatch reads of the SES checkpoint ([`crate::aws::cloudwatch::SendReader`]): how many
/// reads probes asked for and how many `GetMetricData` calls served them (the quota is 50 TPS per Region).
pub const CLOUDWATCH_NAMES: [(&str, &str); 2] = [
    ("cognito_probe_cloudwatch_reads", "Reads of the AWS/SES Send metric asked for by probes"),
    ("cognito_probe_cloudwatch_calls", "GetMetricData calls made to serve them, batched per account and Region"),
];

/// The CloudWatch reader's counters. Clones share the same series; readers built without a registry (the
/// one-shot probe) count into series nobody exports.
#[derive(Clone, Debug, Default)]
pub struct CloudWatchMetrics {
    pub reads: Counter,
    pub calls: Counter,
}

type Labels = Vec<(&'static str, String)>;
type FGauge = Gauge<f64, AtomicU64>;

fn latency_histogram() -> Histogram {
    Histogram::new([1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0])
}

fn slot_wait_histogram() -> Histogram {
    Histogram::new([0.01, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0])
}

/// The IMAP pool's counters, handed to the pool by the monitor. Clones share the same series; a pool
/// built without a registry (the one-shot probe) counts into series nobody exports.
#[derive(Clone)]
pub struct ImapMetrics {
    opened: Family<Labels, Counter>,
    reused: Family<Labels, Counter>,
    discarded: Family<Labels, Counter>,
    slot_wait: Family<Labels, Histogram, fn() -> Histogram>,
}

impl Default for ImapMetrics {
    fn default() -> Self {
        ImapMetrics {
            opened: Family::default(),
            reused: Family::default(),
            discarded: Family::default(),
            slot_wait: Family::new_with_constructor(slot_wait_histogram as fn() -> Histogram),
        }
    }
}

impl std::fmt::Debug for ImapMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ImapMetrics")
    }
}

impl ImapMetrics {
    /// A new connection to `mailbox` (`host:port`) logged in.
    pub fn opened(&self, mailbox: &str) {
        self.opened.get_or_create(&vec![("mailbox", mailbox.to_string())]).inc();
    }

    /// A run got an idle logged-in session instead of connecting.
    pub fn reused(&self, mailbox: &str) {
        self.reused.get_or_create(&vec![("mailbox", mailbox.to_string())]).inc();
    }

    /// An idle session was dropped; `reason` is `expired` or `dead`.
    pub fn discarded(&self, mailbox: &str, reason: &'static str) {
        self.discarded.get_or_create(&vec![("mailbox", mailbox.to_string()), ("reason", reason.to_string())]).inc();
    }

    /// A run waited `seconds` for a free connection.
    pub fn waited(&self, mailbox: &str, seconds: f64) {
        self.slot_wait.get_or_create(&vec![("mailbox", mailbox.to_string())]).observe(seconds.max(0.0));
    }
}

fn drift_histogram() -> Histogram {
    Histogram::new([0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0])
}

/// The monitor's metrics. Cheap to share (`Arc`); every update is lock-free but the registry encode.
pub struct Metrics {
    registry: Registry,
    success: Family<Labels, Gauge>,
    outcome: Family<Labels, Gauge>,
    phase: Family<Labels, FGauge>,
    latency: Family<Labels, Histogram, fn() -> Histogram>,
    auth: Family<Labels, Counter>,
    late: Family<Labels, Counter>,
    last_success: Family<Labels, FGauge>,
    channel_errors: Family<Labels, Counter>,
    channel_retries: Family<Labels, Counter>,
    runs: Family<Labels, Counter>,
    alerts: Family<Labels, Counter>,
    drift: Histogram,
    state_writable: Gauge,
    state_errors: Counter,
    imap: ImapMetrics,
    cloudwatch: CloudWatchMetrics,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric of [`NAMES`].
    pub fn new() -> Metrics {
        let m = Metrics {
            registry: Registry::default(),
            success: Family::default(),
            outcome: Family::default(),
            phase: Family::default(),
            latency: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            auth: Family::default(),
            late: Family::default(),
            last_success: Family::default(),
            channel_errors: Family::default(),
            channel_retries: Family::default(),
            runs: Family::default(),
            alerts: Family::default(),
            drift: drift_histogram(),
            state_writable: Gauge::default(),
            state_errors: Counter::default(),
            imap: ImapMetrics::default(),
            cloudwatch: CloudWatchMetrics::default(),
        };
        let mut registry = Registry::default();
        let [success, outcome, phase, latency, auth, late, last, chan, runs, alerts, drift, retries, writable, errors] =
            NAMES;
        registry.register(success.0, success.1, m.success.clone());
        registry.register(outcome.0, outcome.1, m.outcome.clone());
        registry.register(phase.0, phase.1, m.phase.clone());
        registry.register(latency.0, latency.1, m.latency.clone());
        registry.register(auth.0, auth.1, m.auth.clone());
        registry.register(late.0, late.1, m.late.clone());
        registry.register(last.0, last.1, m.last_success.clone());
        registry.register(chan.0, chan.1, m.channel_errors.clone());
        registry.register(runs.0, runs.1, m.runs.clone());
        registry.register(alerts.0, alerts.1, m.alerts.clone());
        registry.register(drift.0, drift.1, m.drift.clone());
        registry.register(retries.0, retries.1, m.channel_retries.clone());
        registry.register(writable.0, writable.1, m.state_writable.clone());
        registry.register(errors.0, errors.1, m.state_errors.clone());
        m.state_writable.set(1);
        let [opened, reused, discarded, slot_wait] = IMAP_NAMES;
        registry.register(opened.0, opened.1, m.imap.opened.clone());
        registry.register(reused.0, reused.1, m.imap.reused.clone());
        registry.register(discarded.0, discarded.1, m.imap.discarded.clone());
        registry.register(slot_wait.0, slot_wait.1, m.imap.slot_wait.clone());
        let [cw_reads, cw_calls] = CLOUDWATCH_NAMES;
        registry.register(cw_reads.0, cw_reads.1, m.cloudwatch.reads.clone());
        registry.register(cw_calls.0, cw_calls.1, m.cloudwatch.calls.clone());
        Metrics { registry, ..m }
    }

    /// Updates every per-run metric from one report. Every phase's duration is set (0 when it did not
    /// run), so a dashboard never shows the previous run's value for a phase this run skipped.
    pub fn observe(&self, report: &Report) {
        let probe = || vec![("probe", report.probe.clone())];
        let delivered = matches!(report.outcome, Outcome::Ok | Outcome::Warning);
        self.success.get_or_create(&probe()).set(i64::from(delivered));
        for o in [Outcome::Ok, Outcome::Warning, Outcome::Critical, Outcome::Unknown] {
            let labels = vec![("probe", report.probe.clone()), ("result", o.label().to_ascii_lowercase())];
            self.outcome.get_or_create(&labels).set(i64::from(o == report.outcome));
        }
        for p in Phase::ALL {
            let secs = report.timings.get(&p).copied().flatten().unwrap_or(0.0);
            let labels = vec![("probe", report.probe.clone()), ("phase", p.name().to_string())];
            self.phase.get_or_create(&labels).set(secs);
        }
        if let Some(total) = report.mail.as_ref().and_then(|m| m.latency.total_seconds) {
            self.latency.get_or_create(&probe()).observe(total);
        }
        if let Some(auth) = &report.auth {
            let results = (auth.dkim.iter().map(|d| ("dkim", d.result.as_str())))
                .chain(auth.spf.iter().map(|r| ("spf", r.result.as_str())))
                .chain(auth.dmarc.iter().map(|r| ("dmarc", r.result.as_str())));
            for (method, result) in results {
                // Bounded: RFC 8601 §2.7 result keywords only; anything else is counted as "other".
                let known = ["pass", "fail", "softfail", "neutral", "none", "temperror", "permerror", "policy"];
                let result = if known.contains(&result) { result.to_string() } else { "other".to_string() };
                let labels = vec![("probe", report.probe.clone()), ("method", method.to_string()), ("result", result)];
                self.auth.get_or_create(&labels).inc();
            }
        }
        self.late.get_or_create(&probe()).inc_by(u64::from(report.late_mails));
        if delivered {
            let at = report.finished_at.timestamp_millis() as f64 / 1000.0;
            self.last_success.get_or_create(&probe()).set(at);
        }
        let labels = vec![("probe", report.probe.clone()), ("result", report.outcome.label().to_ascii_lowercase())];
        self.runs.get_or_create(&labels).inc();
    }

    /// The CloudWatch reader's series in this registry, for [`crate::aws::Clients::with_cloudwatch_metrics`].
    pub fn cloudwatch(&self) -> CloudWatchMetrics {
        self.cloudwatch.clone()
    }

    /// The IMAP pool's series in this registry, for [`crate::inbox::pool::ImapPool::with_metrics`].
    pub fn imap(&self) -> ImapMetrics {
        self.imap.clone()
    }

    /// Counts an alert a channel failed to deliver.
    pub fn channel_error(&self, channel: &str) {
        self.channel_errors.get_or_create(&vec![("channel", channel.to_string())]).inc();
    }

    /// Counts attempts a channel repeated after a failed one. Without it a channel that needs retries to get
    /// an alert through (down, rate-limited, slow) looks healthy until the day its attempts run out.
    pub fn channel_retries(&self, channel: &str, retries: u32) {
        self.channel_retries.get_or_create(&vec![("channel", channel.to_string())]).inc_by(u64::from(retries));
    }

    /// Counts a delivered alert.
    pub fn alert_sent(&self, channel: &str, kind: &str) {
        self.alerts.get_or_create(&vec![("channel", channel.to_string()), ("result", kind.to_string())]).inc();
    }

    /// Counts a run whose state could not be recorded; the state is unwritable until the next recorded run.
    pub fn state_error(&self) {
        self.state_errors.inc();
        self.state_writable.set(0);
    }

    /// Whether the state is written again (set by the exposition with its error).
    fn state_written(&self, ok: bool) {
        self.state_writable.set(i64::from(ok));
    }

    /// Removes every per-probe series of `probe` (its file was removed from the monitor), so a retired
    /// probe neither keeps firing nor keeps a stale value on a dashboard.
    pub fn forget(&self, probe: &str) {
        let p = || ("probe", probe.to_string());
        let results = ["ok", "warning", "critical", "unknown"];
        self.success.remove(&vec![p()]);
        self.latency.remove(&vec![p()]);
        self.late.remove(&vec![p()]);
        self.last_success.remove(&vec![p()]);
        for r in results {
            self.outcome.remove(&vec![p(), ("result", r.to_string())]);
            self.runs.remove(&vec![p(), ("result", r.to_string())]);
        }
        for phase in Phase::ALL {
            self.phase.remove(&vec![p(), ("phase", phase.name().to_string())]);
        }
        let auth = ["pass", "fail", "softfail", "neutral", "none", "temperror", "permerror", "policy", "other"];
        for method in ["dkim", "spf", "dmarc"] {
            for r in auth {
                self.auth.remove(&vec![p(), ("method", method.to_string()), ("result", r.to_string())]);
            }
        }
    }

    /// Records how late a run started against its schedule.
    pub fn drift(&self, seconds: f64) {
        self.drift.observe(seconds.max(0.0));
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail; encode only propagates the writer's errors.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// What the HTTP endpoints serve: metrics and the last report per probe.
#[derive(Debug, Default)]
pub struct Exposition {
    pub metrics: Metrics,
    /// The last report of each probe as compact JSON text: a parsed `serde_json::Value` costs about four
    /// times as much memory, which a monitor of a thousand probes notices.
    pub last_reports: Mutex<BTreeMap<String, String>>,
    /// Why the state cannot be written, while it cannot: `/healthz` answers 503 with it.
    state_error: Mutex<Option<String>>,
}

impl Exposition {
    /// Records a finished run for `/metrics` and `/probes`.
    /// `json` is the report serialised once by the caller (it is also what the state database keeps).
    pub fn record(&self, report: &Report, json: &str) {
        self.metrics.observe(report);
        if let Ok(mut map) = self.last_reports.lock() {
            map.insert(report.probe.clone(), json.to_string());
        }
    }

    /// Sets (or with `None` clears) the state failure `/healthz` reports.
    pub fn set_state_error(&self, error: Option<String>) {
        self.metrics.state_written(error.is_none());
        if let Ok(mut e) = self.state_error.lock() {
            *e = error;
        }
    }

    /// The state failure in force, if any.
    pub fn state_error(&self) -> Option<String> {
        self.state_error.lock().ok().and_then(|e| e.clone())
    }

    /// Drops a removed probe's series and last report.
    pub fn forget(&self, probe: &str) {
        self.metrics.forget(probe);
        if let Ok(mut map) = self.last_reports.lock() {
            map.remove(probe);
        }
    }
}

/// The router of `/metrics`, `/healthz` and `/probes`.
pub fn router(state: Arc<Exposition>) -> Router {
    Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(healthz_handler))
        .route("/probes", get(probes_handler))
        .with_state(state)
}

/// `ok` while the monitor can record its runs; 503 with the reason once it cannot (its paging is not to
/// be trusted then).
async fn healthz_handler(State(s): State<Arc<Exposition>>) -> impl IntoResponse {
    match s.state_error() {
        None => (StatusCode::OK, "ok\n".to_string()),
        Some(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("state unwritable: {e}\n")),
    }
}

async fn metrics_handler(State(s): State<Arc<Exposition>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], s.metrics.encode())
}

async fn probes_handler(State(s): State<Arc<Exposition>>) -> impl IntoResponse {
    match s.last_reports.lock() {
        Ok(map) => {
            // `{"probe": report, …}`, written from the stored JSON texts without parsing them again.
            let mut body = String::from("{");
            for (i, (probe, report)) in map.iter().enumerate() {
                if i > 0 {
                    body.push(',');
                }
                body.push_str(&serde_json::to_string(probe).unwrap_or_else(|_| "\"\"".into()));
                body.push(':');
                body.push_str(report);
            }
            body.push('}');
            (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "state poisoned\n").into_response(),
    }
}

/// Serves the endpoints on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<Exposition>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(async move { shutdown.cancelled().await }).await
}

/// The address the server is bound to, for logs.
pub fn describe(addr: SocketAddr) -> String {
    format!("http://{addr}/metrics")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `cognito_probe_*` name the shipped Prometheus rules and Grafana dashboard use is one this
    /// registry exports (with the encoder's `_total`, `_bucket`, `_sum`, `_count` suffixes), so renaming a
    /// metric cannot silently blank a dashboard or disarm an alert.
    #[test]
    fn shipped_rules_and_dashboard_use_only_exported_metrics() {
        let exported: Vec<&str> = NAMES.iter().chain(&IMAP_NAMES).chain(&CLOUDWATCH_NAMES).map(|(n, _)| *n).collect();
        let known = |name: &str| {
            exported.iter().any(|e| {
                name == *e || ["_total", "_bucket", "_sum", "_count"].iter().any(|s| name == format!("{e}{s}"))
            })
        };
        for (file, text) in [
            ("deploy/prometheus-rules.yml", include_str!("../deploy/prometheus-rules.yml")),
            ("deploy/grafana-dashboard.json", include_str!("../deploy/grafana-dashboard.json")),
        ] {
            let mut used = 0;
            for (i, _) in text.match_indices("cognito_probe_") {
                let name: String = text[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                assert!(known(&name), "{file} uses {name}, which the monitor does not export");
                used += 1;
            }
            assert!(used > 5, "{file} names the probe's metrics");
        }
    }
}
