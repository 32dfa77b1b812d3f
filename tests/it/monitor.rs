//! `probe monitor` against the in-process twin (real SDK clients over HTTP, real mail in a Maildir): the
//! paging a user relies on — page after N, resolve with the same dedup key, no second page across a
//! restart, an undelivered page re-sent with its key, UNKNOWN runs never paging as delivery failures — and
//! `/metrics` scraped by name and value. Alerts go through the real `exec` channel to `tee`, which records
//! the JSON it receives on stdin.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use cognito_delivery_probe::alert::AlertKind;
use cognito_delivery_probe::aws::Clients;
use cognito_delivery_probe::config::ProbeFile;
use cognito_delivery_probe::monitor::notify::Channels;
use cognito_delivery_probe::monitor::store::Store;
use cognito_delivery_probe::monitor::{Context, Runner, handle_report};
use cognito_delivery_probe::report::Report;
use cognito_delivery_probe::verdict::Outcome;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::twin_harness::http;

/// The rig (twin only, probes read its Maildir) and the probe's SDK clients for it.
struct Rig {
    rig: testkit::Rig,
    clients: Clients,
}

impl Rig {
    async fn start() -> Rig {
        let rig = testkit::Rig::builder().build().await;
        let clients = Clients::from_sdk_config(rig.sdk_config().await);
        Rig { rig, clients }
    }

    fn dir(&self) -> &Path {
        self.rig.dir()
    }

    fn alerts_file(&self) -> PathBuf {
        self.dir().join("alerts.jsonl")
    }

    /// A probe file as a user writes it, paging through `exec` into `tee -a alerts.jsonl` (or `command`).
    fn probe_text(&self, name: &str, alert: &str, command: Option<&[&str]>) -> String {
        let cmd = match command {
            Some(c) => serde_json::to_string(c).unwrap(),
            None => serde_json::to_string(&["tee", "-a", &self.alerts_file().display().to_string()]).unwrap(),
        };
        format!(
            r#"name = "{name}"
pool_id = "us-east-1_knEL7cqS3"
username = "probe-prod-fcp"
timeout = "2s"
interval = "10s"

{aws_section}
{maildir_section}
[cloudwatch]
poll_interval = "200ms"
settle = "1s"

[alert]
{alert}

[[alert.channels]]
type = "exec"
command = {cmd}
timeout = "5s"
"#,
            aws_section = self.rig.aws_section(),
            maildir_section = self.rig.maildir_section(),
        )
    }

    fn probe(&self, name: &str, alert: &str, command: Option<&[&str]>) -> ProbeFile {
        ProbeFile::parse(&self.probe_text(name, alert, command), Path::new(&format!("{name}.toml"))).unwrap()
    }

    fn faults(&self, faults: Value) {
        self.rig.control().reset();
        self.rig.control().patch_faults(&faults).unwrap();
    }

    async fn run(&self, probe: &ProbeFile) -> Report {
        cognito_delivery_probe::probe::run(probe, &self.clients, &|_| {}).await
    }

    /// A monitor context over the state file, as a fresh process would open it.
    fn context(&self) -> Context {
        Context::new(Store::open(&self.dir().join("state.sqlite")).unwrap(), Arc::new(Channels), Arc::default())
            .with_retention(std::time::Duration::from_secs(3600))
    }

    /// (kind, dedup_key) of every alert the recorder received, in order.
    fn alerts(&self) -> Vec<(String, String)> {
        let text = std::fs::read_to_string(self.alerts_file()).unwrap_or_default();
        serde_json::Deserializer::from_str(&text)
            .into_iter::<Value>()
            .map(|v| {
                let v = v.unwrap();
                (v["kind"].as_str().unwrap().to_string(), v["dedup_key"].as_str().unwrap().to_string())
            })
            .collect()
    }
}

#[tokio::test]
async fn failures_page_after_n_and_recovery_resolves_with_the_same_key_across_a_restart() {
    let rig = Rig::start().await;
    let probe = rig.probe("prod", "failure_threshold = 2\nsuccess_threshold = 2", None);
    rig.faults(json!({"identity_policy_missing": true}));

    let ctx = rig.context();
    let r = rig.run(&probe).await;
    assert_eq!(r.outcome, Outcome::Critical, "{:?}", r.diagnosis);
    assert!(handle_report(&ctx, &probe, &r).await.unwrap().is_empty(), "one failure must not page");
    let r = rig.run(&probe).await;
    let actions = handle_report(&ctx, &probe, &r).await.unwrap();
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0].kind, AlertKind::Trigger);
    let pages = rig.alerts();
    assert_eq!(pages.len(), 1, "second failure pages once: {pages:?}");
    assert_eq!(pages[0].0, "trigger");
    let key = pages[0].1.clone();
    drop(ctx);

    // Restart: a new process opens the same state file.
    let ctx = rig.context();
    let r = rig.run(&probe).await;
    assert_eq!(r.outcome, Outcome::Critical);
    assert!(handle_report(&ctx, &probe, &r).await.unwrap().is_empty(), "no second page after a restart");
    rig.faults(json!({}));
    let r = rig.run(&probe).await;
    assert_eq!(r.outcome, Outcome::Ok, "{:?}", r.diagnosis);
    handle_report(&ctx, &probe, &r).await.unwrap();
    drop(ctx);
    let ctx = rig.context();
    let r = rig.run(&probe).await;
    handle_report(&ctx, &probe, &r).await.unwrap();

    assert_eq!(rig.alerts(), vec![("trigger".to_string(), key.clone()), ("resolve".to_string(), key.clone())]);
    let store = ctx.store.lock().unwrap();
    let incidents = store.incidents("prod").unwrap();
    assert_eq!(incidents.len(), 1, "one incident, not one per restart: {incidents:?}");
    assert!(incidents[0].triggered && incidents[0].closed);
    assert_eq!(store.runs("prod").unwrap().len(), 5, "every run is in the history");
}

#[tokio::test]
async fn a_page_that_was_not_delivered_is_re_sent_with_its_key_after_a_restart() {
    let rig = Rig::start().await;
    rig.faults(json!({"identity_policy_missing": true}));
    // The channel is down: the incident is written, but not marked triggered.
    let down = rig.probe("prod", "failure_threshold = 1", Some(&["false"]));
    let ctx = rig.context();
    let r = rig.run(&down).await;
    let first = handle_report(&ctx, &down, &r).await.unwrap();
    assert_eq!(first.len(), 1);
    assert!(ctx.exposition.metrics.encode().contains("cognito_probe_channel_errors_total{channel=\"exec\"} 1"));
    {
        let store = ctx.store.lock().unwrap();
        let incidents = store.incidents("prod").unwrap();
        assert_eq!(incidents.len(), 1);
        assert!(!incidents[0].triggered, "triggered only after a successful send");
    }
    drop(ctx);

    let up = rig.probe("prod", "failure_threshold = 1", None);
    let ctx = rig.context();
    let r = rig.run(&up).await;
    handle_report(&ctx, &up, &r).await.unwrap();
    let r = rig.run(&up).await;
    handle_report(&ctx, &up, &r).await.unwrap();
    assert_eq!(rig.alerts(), vec![("trigger".to_string(), first[0].dedup_key.clone())], "re-sent once, same key");
    let store = ctx.store.lock().unwrap();
    let incidents = store.incidents("prod").unwrap();
    assert_eq!(incidents.len(), 1);
    assert!(incidents[0].triggered);
}

#[tokio::test]
async fn unknown_runs_do_not_page_as_delivery_failures() {
    let rig = Rig::start().await;
    let probe = rig.probe("prod", "failure_threshold = 1\nunknown_threshold = 3", None);
    rig.faults(json!({"throttle": true}));
    let ctx = rig.context();
    for _ in 0..3 {
        let r = rig.run(&probe).await;
        assert_eq!(r.outcome, Outcome::Unknown, "{:?}", r.diagnosis);
        handle_report(&ctx, &probe, &r).await.unwrap();
    }
    let alerts = rig.alerts();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].0, "probe_blind", "the probe's own alert, not a delivery page");
    let state = ctx.store.lock().unwrap().load("prod").unwrap();
    assert_eq!((state.failures, state.unknowns), (0, 3));
    assert!(state.delivery.is_none());
}

/// Real probe runs with the rig's clients (the twin has test credentials the default chain lacks).
struct TwinRunner(Clients);

impl Runner for TwinRunner {
    fn run<'a>(
        &'a self,
        probe: &'a ProbeFile,
        _memory: cognito_delivery_probe::probe::Memory,
    ) -> Pin<Box<dyn std::future::Future<Output = Report> + Send + 'a>> {
        Box::pin(cognito_delivery_probe::probe::run(probe, &self.0, &|_| {}))
    }
}

#[tokio::test]
async fn monitor_serves_metrics_healthz_and_last_reports() {
    let rig = Rig::start().await;
    let probes = rig.dir().join("probes");
    std::fs::create_dir(&probes).unwrap();
    std::fs::write(probes.join("healthy.toml"), rig.probe_text("healthy", "", None)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let ctx = Arc::new(rig.context());
    let shutdown = CancellationToken::new();
    let (_reload_tx, reload_rx) = tokio::sync::mpsc::channel(1);
    let monitor = tokio::spawn({
        let (ctx, shutdown, probes) = (ctx.clone(), shutdown.clone(), probes.clone());
        let runner = Arc::new(TwinRunner(rig.clients.clone()));
        async move { cognito_delivery_probe::monitor::run(&probes, ctx, runner, listener, reload_rx, shutdown).await }
    });
    let mut reports = Value::Null;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let (status, body, _) = http(&url, "GET", "/probes", &[], b"").await;
        assert_eq!(status, 200);
        reports = serde_json::from_slice(&body).unwrap();
        if reports.get("healthy").is_some() {
            break;
        }
    }
    assert_eq!(reports["healthy"]["outcome"], "ok", "{reports}");
    let (status, body, _) = http(&url, "GET", "/healthz", &[], b"").await;
    assert_eq!((status, body.as_slice()), (200, b"ok\n".as_slice()));
    let (_, body, _) = http(&url, "GET", "/metrics", &[], b"").await;
    let text = String::from_utf8(body).unwrap();
    for line in [
        "cognito_probe_success{probe=\"healthy\"} 1",
        "cognito_probe_outcome{probe=\"healthy\",result=\"ok\"} 1",
        "cognito_probe_outcome{probe=\"healthy\",result=\"critical\"} 0",
        "cognito_probe_runs_total{probe=\"healthy\",result=\"ok\"} 1",
        "cognito_probe_auth_results_total{probe=\"healthy\",method=\"dmarc\",result=\"pass\"} 1",
        "cognito_probe_delivery_latency_seconds_count{probe=\"healthy\"} 1",
        "cognito_probe_late_mails_total{probe=\"healthy\"} 0",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    // One count per DKIM signature (SES signs with amazonses.com and the sender's domain).
    let signatures = reports["healthy"]["auth"]["dkim"].as_array().map(Vec::len).unwrap_or(0);
    assert!(signatures >= 1, "{reports}");
    let dkim =
        format!("cognito_probe_auth_results_total{{probe=\"healthy\",method=\"dkim\",result=\"pass\"}} {signatures}");
    assert!(text.contains(&dkim), "missing {dkim:?} in\n{text}");
    for phase in ["config", "resolve", "trigger", "ses", "inbox", "authenticate", "cleanup"] {
        let prefix = format!("cognito_probe_phase_duration_seconds{{probe=\"healthy\",phase=\"{phase}\"}} ");
        assert!(text.contains(&prefix), "phase {phase} not pre-filled in\n{text}");
    }
    assert!(text.contains("cognito_probe_last_success_timestamp_seconds{probe=\"healthy\"} 1"));
    shutdown.cancel();
    monitor.await.unwrap().unwrap();
}

/// Real probe runs fed what the state remembers, as the monitor's own runner does.
struct RememberingRunner(Clients, cognito_delivery_probe::inbox::pool::ImapPool);

impl Runner for RememberingRunner {
    fn run<'a>(
        &'a self,
        probe: &'a ProbeFile,
        memory: cognito_delivery_probe::probe::Memory,
    ) -> Pin<Box<dyn std::future::Future<Output = Report> + Send + 'a>> {
        Box::pin(async move {
            let ctx = cognito_delivery_probe::probe::RunContext { clients: &self.0, imap: &self.1, memory };
            cognito_delivery_probe::probe::run_with(probe, &ctx, &|_| {}).await
        })
    }
}

/// Starts the monitor loop over `probes` on a fresh context (a new process on the same state file), waits
/// for the first report of `name` and stops it; returns that report as `/probes` serves it.
async fn one_monitor_run(rig: &Rig, probes: &Path, name: &str) -> Value {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let ctx = Arc::new(rig.context());
    let shutdown = CancellationToken::new();
    let (_reload_tx, reload_rx) = tokio::sync::mpsc::channel(1);
    let runner =
        Arc::new(RememberingRunner(rig.clients.clone(), cognito_delivery_probe::inbox::pool::ImapPool::one_shot()));
    let monitor = tokio::spawn({
        let (ctx, shutdown, probes) = (ctx.clone(), shutdown.clone(), probes.to_path_buf());
        async move { cognito_delivery_probe::monitor::run(&probes, ctx, runner, listener, reload_rx, shutdown).await }
    });
    let mut report = Value::Null;
    for _ in 0..150 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let (_, body, _) = http(&url, "GET", "/probes", &[], b"").await;
        let reports: Value = serde_json::from_slice(&body).unwrap();
        if let Some(r) = reports.get(name) {
            report = r.clone();
            break;
        }
    }
    shutdown.cancel();
    monitor.await.unwrap().unwrap();
    assert!(!report.is_null(), "no report of {name} within 15 s");
    report
}

/// A probe file that names no authserv-id pins the receiver of the first trusted run. When a later run's
/// results come from another receiver — the mailbox moved, or someone forged them — that run is a WARNING
/// naming both, after a restart too; the new receiver is never silently trusted, and the pin stays put
/// until the old receiver is back.
#[tokio::test]
async fn a_changed_receiver_is_a_warning_naming_both_and_the_pin_survives_restarts() {
    use twin::mail::ReceiverStyle;
    let rig = Rig::start().await;
    let probes = rig.dir().join("probes");
    std::fs::create_dir(&probes).unwrap();
    std::fs::write(probes.join("prod.toml"), rig.probe_text("prod", "", None)).unwrap();

    let first = one_monitor_run(&rig, &probes, "prod").await;
    assert_eq!(first["outcome"], "ok", "{first:#}");
    // The mailbox moves from Gmail to Microsoft 365.
    rig.rig.control().set_receiver(ReceiverStyle::Outlook);
    for restart in ["after the change", "after a second restart"] {
        let report = one_monitor_run(&rig, &probes, "prod").await;
        assert_eq!(
            (&report["outcome"], &report["diagnosis"]["code"]),
            (&json!("warning"), &json!("receiver_changed")),
            "{restart}: {report:#}"
        );
        let summary = report["diagnosis"]["summary"].as_str().unwrap();
        assert!(
            summary.contains("pinned google.com") && summary.contains("now outlook.com"),
            "{restart}: both receivers named: {summary}"
        );
        assert_eq!(report["auth"]["verdict"], "ok", "{restart}: the results themselves passed: {report:#}");
    }
    rig.rig.control().set_receiver(ReceiverStyle::Gmail);
    let back = one_monitor_run(&rig, &probes, "prod").await;
    assert_eq!(back["outcome"], "ok", "the pinned receiver is back: {back:#}");
    let store = Store::open(&rig.dir().join("state.sqlite")).unwrap();
    let outcomes: Vec<String> = store.runs("prod").unwrap().into_iter().rev().map(|r| r.outcome).collect();
    assert_eq!(outcomes, ["ok", "warning", "warning", "ok"]);
}
