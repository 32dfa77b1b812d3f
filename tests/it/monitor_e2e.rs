//! The monitor's whole paging chain at once (issue 6 "Done when"): the AWS twin in-process, a real Dovecot
//! over TLS serving the twin's Maildir (the probe's own IMAP client), and one probe file carrying all four
//! channels — `exec` (a recording program run without a shell), a webhook with an HMAC secret and PagerDuty,
//! both against loopback HTTP recorders, and SNS on moto. Runs are stepped one at a time through
//! [`handle_report`] where the sequence matters, and the real `probe monitor` binary is restarted where a
//! restart is the point.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::Arc;
use std::time::Duration;

use cognito_delivery_probe::alert::{Alert, Channel, ChannelConfig};
use cognito_delivery_probe::aws::Clients;
use cognito_delivery_probe::config::ProbeFile;
use cognito_delivery_probe::metrics::Exposition;
use cognito_delivery_probe::monitor::notify::{NotSent, Notifier, SendFuture, send};
use cognito_delivery_probe::monitor::store::Store;
use cognito_delivery_probe::monitor::{Context, handle_report};
use cognito_delivery_probe::report::Report;
use cognito_delivery_probe::verdict::Outcome;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::twin_harness::http;
use testkit::dovecot::Dovecot;
use testkit::monitor::{self, metric, sigterm as stop_monitor, wait_for};
use testkit::moto::Moto;
use testkit::recorder::{Received, Recorder};

const POOL: &str = "us-east-1_knEL7cqS3";
/// A FORCE_CHANGE_PASSWORD user: triggered with AdminCreateUser RESEND, which has no hourly limit.
const USER: &str = "probe-prod-fcp";
const WEBHOOK_SECRET: &str = "whsec-e2e-4711";
const ROUTING_KEY: &str = "R0UTINGKEY-e2e-0815";
const WEBHOOK_PATH: &str = "/hooks/T0/probe-token";
const PAGERDUTY_PATH: &str = "/v2/enqueue";
/// Debian's interpreter, not a pyenv shim (those are bash scripts, and no shell may run).
const PYTHON: &str = "/usr/bin/python3";

/// The exec channel's recording program: appends one JSON line per alert with what it received on stdin,
/// its `PROBE_*` environment, and the name of the process that started it (the monitor, never a shell).
const RECORDER_PY: &str = r#"import json, os, sys
stdin = sys.stdin.buffer.read().decode("utf-8")
with open(f"/proc/{os.getppid()}/comm") as f:
    parent = f.read().strip()
env = {k: v for k, v in os.environ.items() if k.startswith("PROBE_")}
line = {"stdin": stdin, "env": env, "parent_pid": os.getppid(), "parent": parent}
with open(sys.argv[1], "a", encoding="utf-8") as f:
    f.write(json.dumps(line) + "\n")
"#;

/// Shell metacharacters for the text a failure carries into the alert's summary: if any of this ever ran
/// as shell text, `canary` would be created (or written to).
fn hostile_message(canary: &Path) -> String {
    let c = canary.display();
    format!("mailer said $(touch {c}) and `touch {c}`; touch {c}; rm -rf {c}.d | tee {c} && echo \"q'\" > {c} \\n")
}

/// Everything one chain needs: the rig (Dovecot + twin), moto with a topic, the two HTTP recorders, files.
struct Rig {
    rig: testkit::Rig,
    clients: Clients,
    moto: Moto,
    topic_arn: String,
    webhook: Recorder,
    pagerduty: Recorder,
}

impl Rig {
    /// Starts everything; `webhook_script` and `pagerduty_script` are the status codes the recorders answer
    /// first (e.g. 503s while the receiver is down).
    async fn start(webhook_script: &[u16], pagerduty_script: &[u16]) -> Rig {
        assert!(Path::new(PYTHON).exists(), "{PYTHON} not found: install Debian's python3 (`apt-get install python3`)");
        let rig = testkit::Rig::builder().dovecot(true).build().await;
        let sdk = rig.sdk_config().await;
        let moto = Moto::start();
        let sns = aws_sdk_sns::Client::new(&moto.sdk_config().await);
        let topic = sns.create_topic().name("probe-alerts").send().await.unwrap();
        let topic_arn = topic.topic_arn().unwrap().to_string();
        let dir = rig.dir();
        std::fs::write(dir.join("webhook-secret"), format!("{WEBHOOK_SECRET}\n")).unwrap();
        std::fs::write(dir.join("pd-key"), format!("{ROUTING_KEY}\n")).unwrap();
        std::fs::write(dir.join("record.py"), RECORDER_PY).unwrap();
        Rig {
            rig,
            clients: Clients::from_sdk_config(sdk),
            moto,
            topic_arn,
            webhook: Recorder::start(200, webhook_script).await,
            pagerduty: Recorder::start(202, pagerduty_script).await,
        }
    }

    fn dovecot(&self) -> &Dovecot {
        self.rig.dovecot()
    }

    fn exec_log(&self) -> PathBuf {
        self.rig.dir().join("exec.jsonl")
    }

    fn canary(&self) -> PathBuf {
        self.rig.dir().join("pwned")
    }

    /// The probe file a user writes: IMAP to Dovecot (or to `imap_port` instead, e.g. a closed one), the
    /// `[alert]` lines given, and all four channels.
    fn probe_text(&self, alert: &str, interval: &str, imap_port: Option<u16>) -> String {
        let s = |p: &Path| toml::Value::String(p.display().to_string()).to_string();
        format!(
            r#"pool_id = "{POOL}"
username = "{USER}"
timeout = "2s"
interval = "{interval}"

{aws_section}
[imap]
{imap_section}
[expect]
from = "noreply@thephenom.app"

[cloudwatch]
poll_interval = "200ms"
settle = "1s"

[alert]
{alert}

[[alert.channels]]
type = "exec"
command = [{python}, {script}, {log}]
timeout = "10s"

[[alert.channels]]
type = "webhook"
url = "{webhook}"
secret = {{ file = {webhook_secret} }}
timeout = "5s"

[[alert.channels]]
type = "pagerduty"
routing_key = {{ file = {pd_key} }}
url = "{pagerduty}"
timeout = "5s"

[[alert.channels]]
type = "sns"
topic_arn = "{topic}"
endpoint_url = "{moto}"
"#,
            aws_section = self.rig.aws_section(),
            imap_section =
                self.dovecot().imap_toml(imap_port.unwrap_or(self.dovecot().port), &self.dovecot().password_file),
            python = s(Path::new(PYTHON)),
            script = s(&self.rig.dir().join("record.py")),
            log = s(&self.exec_log()),
            webhook = self.webhook.url(WEBHOOK_PATH),
            webhook_secret = s(&self.rig.dir().join("webhook-secret")),
            pd_key = s(&self.rig.dir().join("pd-key")),
            pagerduty = self.pagerduty.url(PAGERDUTY_PATH),
            topic = self.topic_arn,
            moto = self.moto.endpoint_url(),
        )
    }

    fn probe(&self, alert: &str) -> ProbeFile {
        self.probe_at(alert, None)
    }

    fn probe_at(&self, alert: &str, imap_port: Option<u16>) -> ProbeFile {
        let text = self.probe_text(alert, "1m", imap_port);
        ProbeFile::parse(&text, Path::new("prod.toml")).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    /// The twin's faults from now on (replacing earlier ones).
    fn faults(&self, faults: Value) {
        self.rig.control().reset();
        self.rig.control().patch_faults(&faults).unwrap();
    }

    /// Cognito refuses every RESEND with CodeDeliveryFailureException carrying `message` (CRITICAL at
    /// trigger: `cognito_cannot_send`, its message quoted in the diagnosis summary).
    fn refuse_with(&self, message: &str) {
        self.faults(json!({"exceptions": [{
            "name": "CodeDeliveryFailureException",
            "message": message,
            "count": 1000,
            "operation": "AdminCreateUser",
        }]}));
    }

    async fn run(&self, probe: &ProbeFile, expected: Outcome) -> Report {
        let report = cognito_delivery_probe::probe::run(probe, &self.clients, &|_| {}).await;
        assert_eq!(
            report.outcome,
            expected,
            "{}\n{}",
            cognito_delivery_probe::output::text(&report),
            self.dovecot().log()
        );
        report
    }

    /// A monitor context over the state file, as a fresh process opens it.
    async fn context(&self) -> Context {
        let store = Store::open(&self.rig.dir().join("state.sqlite")).unwrap();
        Context::new(store, Arc::new(MotoChannels(self.moto.sdk_config().await)), Arc::default())
            .with_retention(Duration::from_secs(3600))
    }

    fn exec_alerts(&self) -> Vec<Value> {
        exec_alerts(&self.exec_log())
    }

    fn sns_alerts(&self) -> Vec<Value> {
        sns_alerts(&self.moto, &self.topic_arn)
    }

    /// (kind, dedup_key) of what every channel accepted, in order: exec, webhook, PagerDuty, SNS. PagerDuty
    /// is mapped back from its event_action: `trigger`/`resolve`.
    fn delivered(&self) -> [Vec<(String, String)>; 4] {
        let kind_key =
            |v: &Value| (v["kind"].as_str().unwrap().to_string(), v["dedup_key"].as_str().unwrap().to_string());
        [
            self.exec_alerts()
                .iter()
                .map(|a| kind_key(&serde_json::from_str(a["stdin"].as_str().unwrap()).unwrap()))
                .collect(),
            self.webhook.accepted().iter().map(|r| kind_key(&r.json())).collect(),
            self.pagerduty
                .accepted()
                .iter()
                .map(|r| {
                    let e = r.json();
                    (e["event_action"].as_str().unwrap().to_string(), e["dedup_key"].as_str().unwrap().to_string())
                })
                .collect(),
            self.sns_alerts().iter().map(kind_key).collect(),
        ]
    }
}

/// The binary's notifier ([`cognito_delivery_probe::monitor::notify::Channels`]) except that SNS uses
/// moto's test credentials instead of the default chain (this test process has no AWS environment; the
/// `probe monitor` tests below go through `Channels` itself with credentials in the environment).
struct MotoChannels(aws_config::SdkConfig);

impl Notifier for MotoChannels {
    fn notify<'a>(&'a self, channel: &'a ChannelConfig, alert: &'a Alert) -> SendFuture<'a> {
        Box::pin(async move {
            let channel = Channel::from_config_with_aws(channel, &self.0).await.map_err(|e| NotSent {
                retries: 0,
                error: e.to_string(),
                uncertain: false,
            })?;
            send(&channel, alert).await
        })
    }
}

/// The exec recorder's lines.
fn exec_alerts(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

/// The alerts SNS published to the topic (each Message is the alert JSON).
fn sns_alerts(moto: &Moto, topic_arn: &str) -> Vec<Value> {
    moto.sent_notifications(topic_arn).iter().map(|n| serde_json::from_str(n[1].as_str().unwrap()).unwrap()).collect()
}

/// Checks the webhook's HMAC-SHA256 signature of the body, the way a receiver verifies it.
fn assert_signed(r: &Received) {
    let mut mac = Hmac::<Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    mac.update(&r.body);
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(r.headers["x-probe-signature"], format!("sha256={hex}").as_str(), "HMAC of the body");
}

/// Serves `/metrics` of `exposition` on 127.0.0.1:0; returns the base URL.
async fn serve_metrics(exposition: Arc<Exposition>, stop: tokio_util::sync::CancellationToken) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(cognito_delivery_probe::metrics::serve(listener, exposition, stop));
    url
}

/// Asserts `series` has `value` on the page and its metric name is in README's metrics table.
fn assert_metric(text: &str, series: &str, value: f64) {
    assert_eq!(metric(text, series), Some(value), "{series} in\n{text}");
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let name = series.split('{').next().unwrap();
    assert!(readme.contains(&format!("| `{name}` |")), "{name} is not documented in README's metrics table");
}

async fn scrape(url: &str) -> String {
    let (status, body, _) = http(url, "GET", "/metrics", &[], b"").await;
    assert_eq!(status, 200);
    String::from_utf8(body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_four_channels_page_after_n_and_resolve_with_the_same_key_and_exec_runs_no_shell() {
    let rig = Rig::start(&[], &[]).await;
    let probe = rig.probe("failure_threshold = 2\nsuccess_threshold = 1");
    let message = hostile_message(&rig.canary());
    rig.refuse_with(&message);
    let ctx = rig.context().await;

    let r = rig.run(&probe, Outcome::Critical).await;
    assert!(r.diagnosis.summary.contains(&message), "the exception text reaches the summary: {}", r.diagnosis.summary);
    assert!(handle_report(&ctx, &probe, &r).await.unwrap().is_empty(), "one failure pages nobody");
    assert_eq!(rig.delivered(), [vec![], vec![], vec![], vec![]], "one failure pages nobody");

    let r = rig.run(&probe, Outcome::Critical).await;
    handle_report(&ctx, &probe, &r).await.unwrap();
    let [exec, webhook, pagerduty, sns] = rig.delivered();
    assert_eq!(exec.len(), 1, "exec paged exactly once: {exec:?}");
    let key = exec[0].1.clone();
    assert_eq!(exec, vec![("trigger".to_string(), key.clone())]);
    assert_eq!(webhook, vec![("trigger".to_string(), key.clone())], "webhook paged exactly once");
    assert_eq!(pagerduty, vec![("trigger".to_string(), key.clone())], "PagerDuty paged exactly once");
    assert_eq!(sns, vec![("trigger".to_string(), key.clone())], "SNS paged exactly once");

    // exec: the JSON on stdin and the fields in the environment, verbatim; started by this process
    // directly, never through a shell; nothing of the hostile text ever ran.
    let got = &rig.exec_alerts()[0];
    let stdin: Value = serde_json::from_str(got["stdin"].as_str().unwrap()).unwrap();
    assert_eq!(stdin["summary"], r.diagnosis.summary.as_str(), "stdin JSON carries the summary verbatim");
    assert_eq!(stdin["code"], "cognito_cannot_send");
    assert_eq!(stdin["consecutive_failures"], 2);
    assert_eq!(got["env"]["PROBE_SUMMARY"], r.diagnosis.summary.as_str(), "PROBE_SUMMARY verbatim");
    assert_eq!(got["env"]["PROBE_ALERT_KIND"], "trigger");
    assert_eq!(got["env"]["PROBE_DEDUP_KEY"], key.as_str());
    assert_eq!(got["env"]["PROBE_CODE"], "cognito_cannot_send");
    assert_eq!(got["parent_pid"], std::process::id(), "the program's parent is the monitor itself: {got}");
    assert!(!["sh", "bash", "dash"].contains(&got["parent"].as_str().unwrap()), "{got}");
    assert!(!rig.canary().exists(), "hostile alert text was executed as shell text");

    // The webhook's body is the same JSON, signed; PagerDuty's event carries the routing key and summary.
    let hook = &rig.webhook.accepted()[0];
    assert_eq!(hook.path, WEBHOOK_PATH);
    assert_eq!(hook.json(), stdin, "the webhook body is the alert exec received");
    assert_signed(hook);
    let event = rig.pagerduty.accepted()[0].json();
    assert_eq!(event["routing_key"], ROUTING_KEY);
    assert_eq!(event["payload"]["custom_details"]["summary"], r.diagnosis.summary.as_str());
    assert_eq!(rig.sns_alerts()[0], stdin, "the SNS Message is the alert exec received");

    // A third failure is quiet; recovery resolves with the trigger's key on every channel.
    let r = rig.run(&probe, Outcome::Critical).await;
    assert!(handle_report(&ctx, &probe, &r).await.unwrap().is_empty(), "no second page while it keeps failing");
    rig.faults(json!({}));
    let r = rig.run(&probe, Outcome::Ok).await;
    handle_report(&ctx, &probe, &r).await.unwrap();
    let both = vec![("trigger".to_string(), key.clone()), ("resolve".to_string(), key.clone())];
    let [exec, webhook, pagerduty, sns] = rig.delivered();
    assert_eq!(exec, both, "exec");
    assert_eq!(webhook, both, "webhook");
    assert_eq!(pagerduty, both, "PagerDuty: event_action resolve with the trigger's dedup_key");
    assert_eq!(sns, both, "SNS");
    assert_signed(&rig.webhook.accepted()[1]);
    assert_eq!(rig.exec_alerts()[1]["env"]["PROBE_ALERT_KIND"], "resolve");
    assert!(!rig.canary().exists());
    assert!(rig.webhook.received().len() == 2 && rig.pagerduty.received().len() == 2, "no retries were needed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_that_is_down_is_retried_and_metrics_show_it() {
    // The webhook is down for a whole send (the channel makes 4 attempts) and for the first attempt of the
    // re-send; PagerDuty is down for its first attempt.
    let rig = Rig::start(&[503, 503, 503, 503, 503], &[503]).await;
    let probe = rig.probe("failure_threshold = 1");
    rig.refuse_with("CodeDeliveryFailureException from the mailer");
    let ctx = Arc::new(rig.context().await);
    let stop = tokio_util::sync::CancellationToken::new();
    let url = serve_metrics(ctx.exposition.clone(), stop.clone()).await;

    let r = rig.run(&probe, Outcome::Critical).await;
    let actions = handle_report(&ctx, &probe, &r).await.unwrap();
    assert_eq!(actions.len(), 1);
    let key = actions[0].dedup_key.clone();
    assert_eq!(rig.webhook.received().len(), 4, "four attempts reached the webhook");
    assert!(rig.webhook.accepted().is_empty());
    assert_eq!(rig.pagerduty.received().len(), 2, "PagerDuty: 503, then accepted");
    let text = scrape(&url).await;
    for (series, value) in [
        ("cognito_probe_channel_errors_total{channel=\"webhook\"}", 1.0),
        ("cognito_probe_channel_retries_total{channel=\"webhook\"}", 3.0),
        ("cognito_probe_channel_retries_total{channel=\"pagerduty\"}", 1.0),
        ("cognito_probe_alerts_total{channel=\"pagerduty\",result=\"trigger\"}", 1.0),
        ("cognito_probe_alerts_total{channel=\"exec\",result=\"trigger\"}", 1.0),
        ("cognito_probe_alerts_total{channel=\"sns\",result=\"trigger\"}", 1.0),
    ] {
        assert_metric(&text, series, value);
    }
    assert_eq!(metric(&text, "cognito_probe_channel_errors_total{channel=\"pagerduty\"}").unwrap_or(0.0), 0.0);
    {
        let store = ctx.store.lock().unwrap();
        let incidents = store.incidents("prod").unwrap();
        assert_eq!(incidents.len(), 1);
        assert!(incidents[0].triggered, "three channels took the page");
        let owed: Vec<String> = store.owed("prod", None).unwrap().into_iter().map(|o| o.channel).collect();
        assert_eq!(owed, vec!["1:webhook"], "only the webhook still owes the page, re-sent after the next run");
    }

    // The next failing run re-sends the page with its key to the webhook, back after one more 503.
    let r = rig.run(&probe, Outcome::Critical).await;
    handle_report(&ctx, &probe, &r).await.unwrap();
    let accepted = rig.webhook.accepted();
    assert_eq!(accepted.len(), 1, "the webhook got the page once");
    assert_eq!(accepted[0].json()["kind"], "trigger");
    assert_eq!(accepted[0].json()["dedup_key"], key.as_str(), "re-sent with the incident's key");
    assert_signed(&accepted[0]);
    assert_eq!(rig.webhook.received().len(), 6, "4 failed + 1 failed + 1 accepted");
    let text = scrape(&url).await;
    for (series, value) in [
        ("cognito_probe_channel_errors_total{channel=\"webhook\"}", 1.0),
        ("cognito_probe_channel_retries_total{channel=\"webhook\"}", 4.0),
        ("cognito_probe_alerts_total{channel=\"webhook\",result=\"trigger\"}", 1.0),
    ] {
        assert_metric(&text, series, value);
    }
    assert!(ctx.store.lock().unwrap().incidents("prod").unwrap()[0].triggered);
    // The re-send went only to the channel that missed the page: nobody else is paged twice.
    let trigger = vec![("trigger".to_string(), key.clone())];
    assert_eq!(rig.delivered(), [trigger.clone(), trigger.clone(), trigger.clone(), trigger], "one page per channel");
    assert_metric(&text, "cognito_probe_alerts_total{channel=\"pagerduty\",result=\"trigger\"}", 1.0);
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolve_a_channel_missed_is_re_sent_after_the_next_run() {
    // The webhook takes the page, then is down for every attempt of the resolve.
    let rig = Rig::start(&[200, 503, 503, 503, 503], &[]).await;
    let probe = rig.probe("failure_threshold = 1\nsuccess_threshold = 1");
    rig.refuse_with("CodeDeliveryFailureException from the mailer");
    let ctx = rig.context().await;
    let r = rig.run(&probe, Outcome::Critical).await;
    let key = handle_report(&ctx, &probe, &r).await.unwrap()[0].dedup_key.clone();
    rig.faults(json!({}));
    let r = rig.run(&probe, Outcome::Ok).await;
    handle_report(&ctx, &probe, &r).await.unwrap();
    assert_eq!(rig.webhook.received().len(), 5, "the page, then four attempts of the resolve");
    assert_eq!(rig.webhook.accepted().len(), 1, "only the page got through");
    drop(ctx);

    // The next run (here in a new process) sends the resolve again, with the incident's key.
    let ctx = rig.context().await;
    let r = rig.run(&probe, Outcome::Ok).await;
    handle_report(&ctx, &probe, &r).await.unwrap();
    let both = vec![("trigger".to_string(), key.clone()), ("resolve".to_string(), key.clone())];
    let [exec, webhook, pagerduty, sns] = rig.delivered();
    assert_eq!(webhook, both, "the webhook's incident is resolved too");
    assert_eq!((exec, pagerduty, sns), (both.clone(), both.clone(), both), "the others are not resolved twice");
    let r = rig.run(&probe, Outcome::Ok).await;
    handle_report(&ctx, &probe, &r).await.unwrap();
    assert_eq!(rig.webhook.accepted().len(), 2, "a delivered resolve is not sent again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_runs_raise_probe_blind_not_a_page_and_do_not_reset_the_failure_count() {
    let rig = Rig::start(&[], &[]).await;
    let alert = "failure_threshold = 2\nsuccess_threshold = 1\nunknown_threshold = 3";
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let blind = rig.probe_at(alert, Some(closed));
    let seeing = rig.probe(alert);
    let ctx = rig.context().await;

    // The mailbox cannot be read: UNKNOWN, nothing sent. Only the third in a row raises probe_blind.
    for n in 1..=3 {
        let r = rig.run(&blind, Outcome::Unknown).await;
        assert_eq!(r.diagnosis.code, "mailbox_unavailable");
        assert!(rig.rig.control().sent().is_empty(), "no mail is triggered while the mailbox is unreadable");
        handle_report(&ctx, &blind, &r).await.unwrap();
        let delivered = rig.delivered();
        if n < 3 {
            assert_eq!(delivered, [vec![], vec![], vec![], vec![]], "run {n}: nobody alerted");
        }
    }
    let [exec, webhook, pagerduty, sns] = rig.delivered();
    assert_eq!(exec.len(), 1, "{exec:?}");
    let blind_key = exec[0].1.clone();
    let raised = vec![("probe_blind".to_string(), blind_key.clone())];
    assert_eq!(exec, raised, "exec: the probe's own alert, not a delivery page");
    assert_eq!(webhook, raised);
    assert_eq!(sns, raised);
    assert_eq!(pagerduty, vec![("trigger".to_string(), blind_key.clone())], "PagerDuty opens the blind incident");
    assert_eq!(rig.pagerduty.accepted()[0].json()["payload"]["severity"], "error", "blind is not critical");

    // It sees again: probe_blind_resolve with the same key.
    let r = rig.run(&seeing, Outcome::Ok).await;
    handle_report(&ctx, &seeing, &r).await.unwrap();
    let resolved = vec![("probe_blind_resolve".to_string(), blind_key.clone())];
    let [exec, webhook, pagerduty, sns] = rig.delivered();
    assert_eq!(exec[1..], resolved);
    assert_eq!(webhook[1..], resolved);
    assert_eq!(sns[1..], resolved);
    assert_eq!(pagerduty[1..], [("resolve".to_string(), blind_key.clone())]);

    // CRITICAL, UNKNOWN, CRITICAL with threshold 2 pages: UNKNOWN does not reset the count.
    rig.refuse_with("CodeDeliveryFailureException from the mailer");
    let r = rig.run(&seeing, Outcome::Critical).await;
    assert!(handle_report(&ctx, &seeing, &r).await.unwrap().is_empty());
    let r = rig.run(&blind, Outcome::Unknown).await;
    assert!(handle_report(&ctx, &blind, &r).await.unwrap().is_empty(), "UNKNOWN pages nobody");
    assert_eq!(ctx.store.lock().unwrap().load("prod").unwrap().failures, 1, "the failure count survives UNKNOWN");
    let r = rig.run(&seeing, Outcome::Critical).await;
    let actions = handle_report(&ctx, &seeing, &r).await.unwrap();
    assert_eq!(actions.len(), 1, "{actions:?}");
    let key = actions[0].dedup_key.clone();
    assert_ne!(key, blind_key);
    let [exec, webhook, pagerduty, sns] = rig.delivered();
    let trigger = vec![("trigger".to_string(), key.clone())];
    assert_eq!(exec[2..], trigger);
    assert_eq!(webhook[2..], trigger);
    assert_eq!(sns[2..], trigger);
    assert_eq!(pagerduty[2..], trigger);
    let triggers = rig.exec_alerts().iter().filter(|a| a["env"]["PROBE_ALERT_KIND"] == "trigger").count();
    assert_eq!(triggers, 1, "only the CRITICAL pair paged, never an UNKNOWN run");
}

// ---------------------------------------------------------------------------------------------------------
// The real `probe monitor` binary.

/// Starts `probe monitor` on `dir/probes` and `dir/state.sqlite` with moto-compatible credentials in its
/// environment; returns it with the base URL it printed. Its log goes to `dir/monitor-<n>.log`.
fn spawn_monitor(dir: &Path, n: u32) -> (Child, String) {
    let log = std::fs::File::create(dir.join(format!("monitor-{n}.log"))).unwrap();
    monitor::start(
        monitor::command(crate::PROBE, &dir.join("probes"), &dir.join("state.sqlite"))
            .env("RUST_LOG", "info")
            .stderr(log),
    )
}

/// Prints the monitor logs of `dir` when the test fails.
struct PrintLogsOnPanic<'a>(&'a Path);

impl Drop for PrintLogsOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for n in 1..=3 {
                if let Ok(log) = std::fs::read_to_string(self.0.join(format!("monitor-{n}.log"))) {
                    eprintln!("--- probe monitor #{n} ---\n{log}");
                }
            }
        }
    }
}

/// `cognito_probe_runs_total{probe="prod",result=…}` of the monitor at `url`.
async fn runs(url: &str, result: &str) -> f64 {
    let text = scrape(url).await;
    metric(&text, &format!("cognito_probe_runs_total{{probe=\"prod\",result=\"{result}\"}}")).unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_of_the_real_monitor_between_failure_and_recovery_neither_page_twice_nor_forget() {
    let rig = Rig::start(&[], &[]).await;
    let dir = rig.rig.dir();
    std::fs::create_dir(dir.join("probes")).unwrap();
    std::fs::write(
        dir.join("probes/prod.toml"),
        rig.probe_text("failure_threshold = 2\nsuccess_threshold = 1", "10s", None),
    )
    .unwrap();
    rig.refuse_with(&hostile_message(&rig.canary()));
    let _logs = PrintLogsOnPanic(dir);

    // Process 1: the first failure (a probe runs at once on start), then a restart.
    let (first, url) = spawn_monitor(dir, 1);
    wait_for("the first failing run", Duration::from_secs(20), async || runs(&url, "critical").await >= 1.0).await;
    stop_monitor(first);
    assert_eq!(rig.delivered(), [vec![], vec![], vec![], vec![]], "one failure pages nobody");

    // Process 2: its first run is the second failure in a row — the count was not forgotten — and pages
    // every channel once.
    let (second, url) = spawn_monitor(dir, 2);
    wait_for("the page", Duration::from_secs(20), async || !rig.exec_alerts().is_empty()).await;
    rig.webhook.wait_accepted(1, Duration::from_secs(10)).await;
    rig.pagerduty.wait_accepted(1, Duration::from_secs(10)).await;
    wait_for("the SNS page", Duration::from_secs(10), async || !rig.sns_alerts().is_empty()).await;
    assert_eq!(runs(&url, "critical").await, 1.0, "paged by the new process's first run");
    stop_monitor(second);
    let [exec, webhook, pagerduty, sns] = rig.delivered();
    let key = exec[0].1.clone();
    let trigger = vec![("trigger".to_string(), key.clone())];
    assert_eq!((&exec, &webhook, &pagerduty, &sns), (&trigger, &trigger, &trigger, &trigger), "one page per channel");
    let exec_line = &rig.exec_alerts()[0];
    assert_eq!(exec_line["env"]["PROBE_CONSECUTIVE_FAILURES"], "2", "{exec_line}");
    assert_eq!(exec_line["parent"], "probe", "exec started by the monitor itself, no shell between: {exec_line}");
    assert!(!rig.canary().exists(), "hostile alert text was executed as shell text");

    // Process 3: still failing — no second page; then recovery resolves the incident another process
    // opened, with its key.
    let (third, url) = spawn_monitor(dir, 3);
    wait_for("a failing run after the restart", Duration::from_secs(20), async || runs(&url, "critical").await >= 1.0)
        .await;
    rig.faults(json!({}));
    wait_for("the resolve", Duration::from_secs(25), async || rig.exec_alerts().len() >= 2).await;
    rig.webhook.wait_accepted(2, Duration::from_secs(10)).await;
    rig.pagerduty.wait_accepted(2, Duration::from_secs(10)).await;
    wait_for("the SNS resolve", Duration::from_secs(10), async || rig.sns_alerts().len() >= 2).await;
    stop_monitor(third);
    let both = vec![("trigger".to_string(), key.clone()), ("resolve".to_string(), key.clone())];
    let [exec, webhook, pagerduty, sns] = rig.delivered();
    assert_eq!(exec, both, "exec");
    assert_eq!(webhook, both, "webhook");
    assert_eq!(pagerduty, both, "PagerDuty");
    assert_eq!(sns, both, "SNS");
    let store = Store::open(&dir.join("state.sqlite")).unwrap();
    let incidents = store.incidents("prod").unwrap();
    assert_eq!(incidents.len(), 1, "one incident across three processes: {incidents:?}");
    assert!(incidents[0].triggered && incidents[0].closed);
    assert_eq!(incidents[0].dedup_key, key);
    let outcomes: Vec<String> = store.runs("prod").unwrap().into_iter().rev().map(|r| r.outcome).collect();
    assert_eq!(outcomes, ["critical", "critical", "critical", "ok"], "every run of every process is in the history");
}
