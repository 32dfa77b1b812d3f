//! Paging channels against real receivers: one conformance suite (trigger, reminder, resolve, probe blind,
//! each with hostile summaries) run against every backend — exec with a small recording program, the
//! webhook and PagerDuty channels against an axum server on 127.0.0.1:0 that records what it receives —
//! and SNS on moto, read back from moto's `/moto-api/data.json` — then the failure paths: a channel that is down is
//! retried and fails with a clear error, 429 and 5xx are
//! retried, other 4xx are not, and a hung program is killed.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cognito_delivery_probe::alert::{Alert, AlertKind, Channel, ChannelConfig, ChannelError, RetryPolicy};
use cognito_delivery_probe::secret::SecretSource;
use cognito_delivery_probe::verdict::{Outcome, Phase};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use testkit::moto::Moto;
use testkit::recorder::Recorder;

/// Fast retries so failure tests take milliseconds, not the default seconds.
fn quick_retry(attempts: u32) -> RetryPolicy {
    RetryPolicy { attempts, initial_backoff: Duration::from_millis(5), max_backoff: Duration::from_millis(20) }
}

// ---------------------------------------------------------------------------------------------------------
// The conformance suite.

/// Summaries an attacker could place in a bounce, a subject or an error text. `{canary}` becomes a path
/// that must never be created: if any of these ran as shell text, it would be.
const HOSTILE: [&str; 6] = [
    "$(touch {canary})",
    "`touch {canary}`",
    "\"; touch {canary}; echo \"",
    "'; touch {canary}; '",
    "line one\nline two\r\n\ttabbed",
    "unicode ✉ ünïcødé 中文 🚨 \u{202e}rtl",
];

fn alert(kind: AlertKind, summary: &str) -> Alert {
    let (outcome, failures) = match kind {
        AlertKind::Trigger | AlertKind::Reminder => (Outcome::Critical, 3),
        AlertKind::ProbeBlind => (Outcome::Unknown, 12),
        AlertKind::MonitorDegraded => (Outcome::Unknown, 0),
        AlertKind::Resolve | AlertKind::ProbeBlindResolve | AlertKind::MonitorDegradedResolve => (Outcome::Ok, 0),
    };
    Alert {
        kind,
        probe: "prod-eu".into(),
        pool_id: "eu-west-1_AbCdEf".into(),
        dedup_key: format!("cdp/prod-eu/{kind:?}/42").to_lowercase(),
        idempotency_key: format!("cdp/prod-eu/{kind:?}/42/{}/1", kind.name()).to_lowercase(),
        outcome,
        phase: Phase::Inbox,
        code: "MAIL_NOT_DELIVERED".into(),
        summary: summary.into(),
        consecutive_failures: failures,
        at: "2026-11-26T10:00:00Z".parse().unwrap(),
        report: serde_json::json!({"outcome": outcome, "phase": "inbox", "diagnosis": {"summary": summary}}),
    }
}

/// Every (alert) the suite sends: four kinds, each with every hostile summary.
fn conformance_cases(canary: &Path) -> Vec<Alert> {
    let kinds = [AlertKind::Trigger, AlertKind::Reminder, AlertKind::Resolve, AlertKind::ProbeBlind];
    kinds
        .into_iter()
        .flat_map(|kind| {
            HOSTILE.iter().map(move |s| alert(kind, &s.replace("{canary}", &canary.display().to_string())))
        })
        .collect()
}

/// A backend under test: how to configure a channel to it and how to read back what it received.
enum Backend {
    Exec { dir: PathBuf },
    Webhook { recorder: Recorder, secret: String },
    PagerDuty { recorder: Recorder, routing_key: String },
    Sns { moto: Moto, topic_arn: String, seen: std::cell::Cell<usize> },
}

/// What arrived for one alert, checked against the alert sent.
impl Backend {
    fn config(&self, secret_dir: &Path) -> ChannelConfig {
        match self {
            Backend::Exec { dir } => ChannelConfig::Exec {
                // The test's own recording program; the probe passes this argv without a shell of its own.
                command: vec![
                    "/bin/sh".into(),
                    "-c".into(),
                    concat!(
                        r#"cat > "$1/stdin.json" && printf %s "$PROBE_SUMMARY" > "$1/summary""#,
                        r#" && printf %s "$PROBE_ALERT_KIND" > "$1/kind" && printf %s "$PROBE_DEDUP_KEY" > "$1/dedup""#,
                    )
                    .into(),
                    "record".into(),
                    dir.display().to_string(),
                ],
                pass_env: Default::default(),
                timeout: Duration::from_secs(10),
            },
            Backend::Webhook { recorder, secret } => {
                let path = secret_dir.join("webhook-secret");
                std::fs::write(&path, format!("{secret}\n")).unwrap();
                ChannelConfig::Webhook {
                    url: recorder.url("/hooks/T0/probe-token"),
                    secret: Some(SecretSource::File(path)),
                    headers: [("X-Team".to_string(), "mail".to_string())].into(),
                    timeout: Duration::from_secs(5),
                }
            }
            Backend::PagerDuty { recorder, routing_key } => {
                let path = secret_dir.join("pd-key");
                std::fs::write(&path, format!("{routing_key}\n")).unwrap();
                ChannelConfig::Pagerduty {
                    routing_key: SecretSource::File(path),
                    url: recorder.url("/v2/enqueue"),
                    timeout: Duration::from_secs(5),
                }
            }
            Backend::Sns { moto, topic_arn, .. } => ChannelConfig::Sns {
                topic_arn: topic_arn.clone(),
                region: None,
                endpoint_url: Some(moto.endpoint_url()),
            },
        }
    }

    fn check(&self, sent: &Alert) {
        let expected_json = serde_json::to_value(sent).unwrap();
        let case = format!("{:?} {:?}", sent.kind, sent.summary);
        match self {
            Backend::Exec { dir } => {
                let read = |name: &str| {
                    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{case}: {name}: {e}"))
                };
                let stdin: Value = serde_json::from_str(&read("stdin.json")).unwrap();
                assert_eq!(stdin, expected_json, "{case}: stdin JSON");
                assert_eq!(read("summary"), sent.summary, "{case}: PROBE_SUMMARY verbatim");
                assert_eq!(read("dedup"), sent.dedup_key, "{case}: PROBE_DEDUP_KEY");
                let kind = serde_json::to_value(sent.kind).unwrap();
                assert_eq!(read("kind"), kind.as_str().unwrap(), "{case}: PROBE_ALERT_KIND");
                for name in ["stdin.json", "summary", "kind", "dedup"] {
                    std::fs::remove_file(dir.join(name)).unwrap();
                }
            }
            Backend::Webhook { recorder, secret } => {
                let got = recorder.take();
                assert_eq!(got.len(), 1, "{case}: one POST");
                let r = &got[0];
                assert_eq!(r.path, "/hooks/T0/probe-token", "{case}");
                assert_eq!(r.json(), expected_json, "{case}: body is the alert");
                assert_eq!(r.headers["content-type"], "application/json", "{case}");
                assert_eq!(r.headers["x-team"], "mail", "{case}: configured header");
                assert_eq!(r.headers["idempotency-key"], sent.idempotency_key.as_str(), "{case}: Idempotency-Key");
                let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
                mac.update(&r.body);
                let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
                assert_eq!(
                    r.headers["x-probe-signature"],
                    format!("sha256={hex}").as_str(),
                    "{case}: HMAC of the body"
                );
            }
            Backend::PagerDuty { recorder, routing_key } => {
                let got = recorder.take();
                assert_eq!(got.len(), 1, "{case}: one POST");
                let r = &got[0];
                assert_eq!(r.path, "/v2/enqueue", "{case}");
                let event = r.json();
                assert_eq!(event["routing_key"], routing_key.as_str(), "{case}");
                assert_eq!(event["dedup_key"], sent.dedup_key.as_str(), "{case}");
                let resolve = sent.kind.is_resolve();
                assert_eq!(event["event_action"], if resolve { "resolve" } else { "trigger" }, "{case}");
                if !resolve {
                    let payload = &event["payload"];
                    let summary = payload["summary"].as_str().unwrap();
                    assert!(summary.ends_with(&sent.summary), "{case}: summary {summary:?}");
                    assert_eq!(payload["custom_details"]["summary"], sent.summary.as_str(), "{case}");
                    let key = &payload["custom_details"]["idempotency_key"];
                    assert_eq!(key, sent.idempotency_key.as_str(), "{case}");
                    assert_eq!(payload["custom_details"]["report"], sent.report, "{case}");
                    assert_eq!(payload["component"], "inbox", "{case}");
                    assert_eq!(payload["group"], "eu-west-1_AbCdEf", "{case}");
                    assert_eq!(payload["class"], "MAIL_NOT_DELIVERED", "{case}");
                    let severity = if sent.kind == AlertKind::ProbeBlind { "error" } else { "critical" };
                    assert_eq!(payload["severity"], severity, "{case}");
                }
            }
            Backend::Sns { moto, topic_arn, seen } => {
                let sent_notifications = moto.sent_notifications(topic_arn);
                assert_eq!(sent_notifications.len(), seen.get() + 1, "{case}: one Publish");
                seen.set(sent_notifications.len());
                // moto records (message_id, message, subject, attributes, group_id).
                let last = &sent_notifications[sent_notifications.len() - 1];
                let message: Value = serde_json::from_str(last[1].as_str().unwrap()).unwrap();
                assert_eq!(message, expected_json, "{case}: Message is the alert");
                let subject = last[2].as_str().unwrap();
                assert!(subject.chars().count() < 100, "{case}: subject {subject:?}");
                assert!(!subject.chars().any(char::is_control), "{case}: subject {subject:?}");
                assert!(subject.starts_with("prod-eu: "), "{case}: subject {subject:?}");
            }
        }
    }
}

async fn run_conformance(backend: Backend) {
    let work = tempfile::tempdir().unwrap();
    let canary = work.path().join("pwned");
    let config = backend.config(work.path());
    let channel = match &backend {
        // moto takes any credentials; the test's come from the harness, not the environment.
        Backend::Sns { moto, .. } => Channel::from_config_with_aws(&config, &moto.sdk_config().await).await,
        _ => Channel::from_config(&config).await,
    }
    .unwrap();
    for sent in conformance_cases(&canary) {
        channel.send(&sent).await.unwrap_or_else(|e| panic!("{:?} {:?}: {e}", sent.kind, sent.summary));
        backend.check(&sent);
        assert!(!canary.exists(), "{:?}: a hostile summary was executed as shell text", sent.summary);
    }
    assert_eq!(channel.errors(), 0, "no failed attempts against a healthy receiver");
}

#[tokio::test]
async fn conformance_exec() {
    let dir = tempfile::tempdir().unwrap();
    run_conformance(Backend::Exec { dir: dir.path().to_path_buf() }).await;
}

#[tokio::test]
async fn conformance_webhook() {
    let recorder = Recorder::start(200, &[]).await;
    run_conformance(Backend::Webhook { recorder, secret: "whsec-canary-4711".into() }).await;
}

#[tokio::test]
async fn conformance_pagerduty() {
    let recorder = Recorder::start(202, &[]).await;
    run_conformance(Backend::PagerDuty { recorder, routing_key: "R0UTINGKEY-canary-0815".into() }).await;
}

#[tokio::test]
async fn conformance_sns_on_moto() {
    let moto = Moto::start();
    let sns = aws_sdk_sns::Client::new(&moto.sdk_config().await);
    let topic = sns.create_topic().name("probe-alerts").send().await.unwrap();
    let topic_arn = topic.topic_arn().unwrap().to_string();
    run_conformance(Backend::Sns { moto, topic_arn, seen: Default::default() }).await;
}

#[tokio::test]
async fn sns_to_a_missing_topic_fails_without_retrying() {
    let moto = Moto::start();
    let config = ChannelConfig::Sns {
        topic_arn: format!("arn:aws:sns:{}:{}:no-such-topic", testkit::moto::REGION, testkit::moto::ACCOUNT),
        region: None,
        endpoint_url: Some(moto.endpoint_url()),
    };
    let channel =
        Channel::from_config_with_aws(&config, &moto.sdk_config().await).await.unwrap().with_retry(quick_retry(4));
    let (attempts, text) = undelivered(channel.send(&alert(AlertKind::Trigger, "x")).await.unwrap_err());
    assert_eq!(attempts, 1, "{text}");
    assert!(text.contains("no-such-topic") && text.contains("NotFound"), "{text}");
}

// ---------------------------------------------------------------------------------------------------------
// Failure paths.

fn undelivered(err: ChannelError) -> (u32, String) {
    let text = err.to_string();
    match err {
        ChannelError::Undelivered { attempts, .. } => (attempts, text),
        other => panic!("expected Undelivered, got {other}"),
    }
}

async fn webhook_to(url: String) -> Channel {
    let config =
        ChannelConfig::Webhook { url, secret: None, headers: Default::default(), timeout: Duration::from_secs(5) };
    Channel::from_config(&config).await.unwrap()
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_fails_naming_the_target_but_not_the_path() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let channel =
        webhook_to(format!("http://127.0.0.1:{port}/hooks/secret-path-token")).await.with_retry(quick_retry(3));
    let err = channel.send(&alert(AlertKind::Trigger, "down")).await.unwrap_err();
    let (attempts, text) = undelivered(err);
    assert_eq!(attempts, 3, "{text}");
    assert!(text.contains(&format!("http://127.0.0.1:{port}")), "{text}");
    assert!(text.to_lowercase().contains("refused"), "{text}");
    assert!(!text.contains("secret-path-token"), "{text}");
    assert_eq!((channel.errors(), channel.undelivered()), (3, 1));
}

#[tokio::test]
async fn server_errors_are_retried_until_attempts_run_out() {
    let recorder = Recorder::start(500, &[]).await;
    let channel = webhook_to(recorder.url("/hook")).await.with_retry(quick_retry(3));
    let (attempts, text) = undelivered(channel.send(&alert(AlertKind::Trigger, "x")).await.unwrap_err());
    assert_eq!(attempts, 3, "{text}");
    assert!(text.contains("HTTP 500"), "{text}");
    assert_eq!(recorder.take().len(), 3, "three POSTs reached the server");
    assert_eq!(channel.errors(), 3);
}

#[tokio::test]
async fn rate_limits_and_unavailability_are_retried_until_accepted() {
    let recorder = Recorder::start(202, &[429, 503]).await;
    let pd_key = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(pd_key.path(), "KEY").unwrap();
    let config = ChannelConfig::Pagerduty {
        routing_key: SecretSource::File(pd_key.path().to_path_buf()),
        url: recorder.url("/v2/enqueue"),
        timeout: Duration::from_secs(5),
    };
    let channel = Channel::from_config(&config).await.unwrap().with_retry(quick_retry(4));
    channel.send(&alert(AlertKind::Trigger, "x")).await.unwrap();
    let got = recorder.take();
    assert_eq!(got.len(), 3, "429, 503, then 202");
    assert!(got.iter().all(|r| r.json()["dedup_key"] == "cdp/prod-eu/trigger/42"), "same dedup_key on every retry");
    assert_eq!((channel.errors(), channel.undelivered()), (2, 0));
}

#[tokio::test]
async fn a_rate_limited_channel_waits_as_long_as_retry_after_asks() {
    let recorder = Recorder::start_with_retry_after(200, &[429], Some("1")).await;
    let policy =
        RetryPolicy { attempts: 2, initial_backoff: Duration::from_millis(5), max_backoff: Duration::from_secs(5) };
    let channel = webhook_to(recorder.url("/hook")).await.with_retry(policy);
    let started = std::time::Instant::now();
    channel.send(&alert(AlertKind::Trigger, "x")).await.unwrap();
    // A lower bound, not a speed target: the second POST must not come before the server's Retry-After.
    assert!(started.elapsed() >= Duration::from_secs(1), "retried after {:?}", started.elapsed());
    assert_eq!(recorder.take().len(), 2);
}

#[tokio::test]
async fn a_rejected_request_is_not_retried() {
    let recorder = Recorder::start(200, &[400]).await;
    let channel = webhook_to(recorder.url("/hook")).await.with_retry(quick_retry(5));
    let (attempts, text) = undelivered(channel.send(&alert(AlertKind::Resolve, "x")).await.unwrap_err());
    assert_eq!(attempts, 1, "{text}");
    assert!(text.contains("HTTP 400"), "{text}");
    assert_eq!(recorder.take().len(), 1);
}

#[tokio::test]
async fn a_failing_program_is_retried_and_its_stderr_reported() {
    let dir = tempfile::tempdir().unwrap();
    // Fails the first time (exit 3, a message on stderr), succeeds the second.
    let script = r#"if [ -e "$1/ran" ]; then exit 0; fi; touch "$1/ran"; echo "pager gateway busy" >&2; exit 3"#;
    let config = ChannelConfig::Exec {
        command: vec!["/bin/sh".into(), "-c".into(), script.into(), "flaky".into(), dir.path().display().to_string()],
        pass_env: Default::default(),
        timeout: Duration::from_secs(10),
    };
    let channel = Channel::from_config(&config).await.unwrap().with_retry(quick_retry(3));
    channel.send(&alert(AlertKind::Trigger, "x")).await.unwrap();
    assert_eq!(channel.errors(), 1);

    let always = ChannelConfig::Exec {
        command: vec!["/bin/sh".into(), "-c".into(), "echo 'pager gateway busy' >&2; exit 3".into()],
        pass_env: Default::default(),
        timeout: Duration::from_secs(10),
    };
    let channel = Channel::from_config(&always).await.unwrap().with_retry(quick_retry(2));
    let (attempts, text) = undelivered(channel.send(&alert(AlertKind::Trigger, "x")).await.unwrap_err());
    assert_eq!(attempts, 2, "{text}");
    assert!(text.contains("exit status: 3") && text.contains("pager gateway busy"), "{text}");
}

#[tokio::test]
async fn a_missing_program_fails_at_once_with_a_hint() {
    let config = ChannelConfig::Exec {
        command: vec!["/nonexistent/pager-cli".into()],
        pass_env: Default::default(),
        timeout: Duration::from_secs(1),
    };
    let channel = Channel::from_config(&config).await.unwrap().with_retry(quick_retry(5));
    let (attempts, text) = undelivered(channel.send(&alert(AlertKind::Trigger, "x")).await.unwrap_err());
    assert_eq!(attempts, 1, "{text}");
    assert!(text.contains("/nonexistent/pager-cli") && text.contains("hint:"), "{text}");
}

#[tokio::test]
async fn a_hung_program_is_killed_at_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let config = ChannelConfig::Exec {
        command: vec![
            "/bin/sh".into(),
            "-c".into(),
            // A background job: it must die with the program, not linger as an orphan.
            r#"sleep 600 & echo $! > "$1"; wait"#.into(),
            "hang".into(),
            pid_file.display().to_string(),
        ],
        pass_env: Default::default(),
        timeout: Duration::from_millis(300),
    };
    let channel = Channel::from_config(&config).await.unwrap().with_retry(quick_retry(1));
    let (attempts, text) = undelivered(channel.send(&alert(AlertKind::Trigger, "x")).await.unwrap_err());
    assert_eq!(attempts, 1);
    assert!(text.contains("did not finish within 300ms and was killed"), "{text}");
    let pid = std::fs::read_to_string(&pid_file).unwrap().trim().to_string();
    // The background sleep is not our child, so once killed it is reaped by init: wait for it to go.
    let stat = format!("/proc/{pid}/stat");
    for _ in 0..100 {
        match std::fs::read_to_string(&stat) {
            Err(_) => return,
            Ok(s) if s.split_whitespace().nth(2) == Some("Z") => return,
            Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    panic!("sleep (pid {pid}) still running after the exec timeout");
}

#[tokio::test]
async fn an_unreadable_secret_is_a_config_error_not_a_silent_channel() {
    let config = ChannelConfig::Pagerduty {
        routing_key: SecretSource::File("/nonexistent/pd-key".into()),
        url: "https://events.pagerduty.com/v2/enqueue".into(),
        timeout: Duration::from_secs(1),
    };
    let err = Channel::from_config(&config).await.unwrap_err().to_string();
    assert!(err.contains("pagerduty channel") && err.contains("/nonexistent/pd-key"), "{err}");
}

/// A tracing writer into a shared buffer, to read back what a failing channel logged.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn failures_are_logged_without_secrets() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let recorder = Recorder::start(500, &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let (key_file, hook_secret_file) = (dir.path().join("pd"), dir.path().join("hook"));
    std::fs::write(&key_file, "R0UTINGKEY-canary").unwrap();
    std::fs::write(&hook_secret_file, "whsec-canary").unwrap();
    let configs = [
        ChannelConfig::Pagerduty {
            routing_key: SecretSource::File(key_file),
            url: recorder.url("/v2/enqueue"),
            timeout: Duration::from_secs(5),
        },
        ChannelConfig::Webhook {
            url: recorder.url("/hooks/path-token-canary"),
            secret: Some(SecretSource::File(hook_secret_file)),
            headers: [("Authorization".to_string(), "Bearer header-canary".to_string())].into(),
            timeout: Duration::from_secs(5),
        },
    ];
    let mut shown = String::new();
    for config in &configs {
        let channel = Channel::from_config(config).await.unwrap().with_retry(quick_retry(2));
        let err = channel.send(&alert(AlertKind::Trigger, "x")).await.unwrap_err();
        shown.push_str(&format!("{err}\n{err:?}\n{channel:?}\n{config:?}\n"));
    }
    let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert_eq!(logged.matches("alert channel attempt failed").count(), 4, "two attempts per channel:\n{logged}");
    assert!(logged.contains(&recorder.url("")), "the log names the target:\n{logged}");
    for canary in ["R0UTINGKEY-canary", "whsec-canary", "header-canary", "path-token-canary"] {
        assert!(!logged.contains(canary), "{canary} in the log:\n{logged}");
        assert!(!shown.contains(canary), "{canary} in errors or Debug:\n{shown}");
    }
}

#[tokio::test]
async fn https_urls_use_tls_and_refuse_an_untrusted_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = testkit::tls::TestCa::create(dir.path());
    let acceptor = tokio_rustls::TlsAcceptor::from(ca.server_config());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let handshakes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = handshakes.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            // The client rejects our test CA (it trusts only the public web roots), so this fails.
            let _ = acceptor.accept(tcp).await;
        }
    });

    let channel = webhook_to(format!("https://127.0.0.1:{port}/hook")).await.with_retry(quick_retry(1));
    let (attempts, text) = undelivered(channel.send(&alert(AlertKind::Trigger, "x")).await.unwrap_err());
    assert_eq!(attempts, 1);
    assert!(text.contains(&format!("https://127.0.0.1:{port}")) && text.contains("UnknownIssuer"), "{text}");
    assert_eq!(handshakes.load(std::sync::atomic::Ordering::SeqCst), 1, "one TLS connection attempted");
}
