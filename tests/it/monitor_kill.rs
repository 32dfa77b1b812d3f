//! The real `probe monitor` process killed with SIGKILL in the middle of a run and started again on the
//! same state file: the open incident is remembered, no second page is sent, recovery resolves it with the
//! original dedup key, and no probe mail is left in the mailbox.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cognito_delivery_probe::monitor::store::Store;
use cognito_delivery_probe::twin::Twin;
use cognito_delivery_probe::twin::scenario::Scenario;
use serde_json::{Value, json};

fn spawn_monitor(dir: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_probe"))
        .args(["monitor", "--listen", "127.0.0.1:0", "--probes"])
        .arg(dir.join("probes"))
        .arg("--state")
        .arg(dir.join("state.sqlite"))
        .env("AWS_ACCESS_KEY_ID", "AKIDTWIN")
        .env("AWS_SECRET_ACCESS_KEY", "twin-secret")
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the probe binary")
}

fn alerts(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    serde_json::Deserializer::from_str(&text)
        .into_iter::<Value>()
        .filter_map(Result::ok)
        .map(|v| (v["kind"].as_str().unwrap_or("").to_string(), v["dedup_key"].as_str().unwrap_or("").to_string()))
        .collect()
}

async fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn probe_mail(maildir: &Path) -> usize {
    ["new", "cur", ".Junk/new", ".Junk/cur"]
        .iter()
        .filter_map(|d| std::fs::read_dir(maildir.join(d)).ok())
        .map(|rd| rd.count())
        .sum()
}

#[tokio::test]
async fn sigkill_mid_run_then_restart_loses_nothing_and_pages_once() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("Maildir");
    let twin = Twin::spawn(Scenario::default_scenario().unwrap(), &maildir).await.unwrap();
    twin.control().patch_faults(&json!({"identity_policy_missing": true})).unwrap();
    let recorded = dir.path().join("alerts.jsonl");
    std::fs::create_dir(dir.path().join("probes")).unwrap();
    std::fs::write(
        dir.path().join("probes/prod.toml"),
        format!(
            r#"pool_id = "us-east-1_knEL7cqS3"
username = "probe-prod-fcp"
timeout = "2s"
interval = "10s"

[aws]
endpoint_url = "{endpoint}"

[maildir]
path = {maildir}

[cloudwatch]
poll_interval = "200ms"
settle = "1s"

[alert]
failure_threshold = 1
success_threshold = 1

[[alert.channels]]
type = "exec"
command = ["tee", "-a", {recorded}]
"#,
            endpoint = twin.endpoint_url(),
            maildir = toml::Value::String(maildir.display().to_string()),
            recorded = toml::Value::String(recorded.display().to_string()),
        ),
    )
    .unwrap();

    let mut monitor = spawn_monitor(dir.path());
    wait_for("the first page", Duration::from_secs(30), || !alerts(&recorded).is_empty()).await;
    let paged = Instant::now();
    // The second run starts 10 s after the first (which took ~3 s to fail): kill it in the middle.
    tokio::time::sleep(Duration::from_secs(8)).await;
    monitor.kill().unwrap();
    monitor.wait().unwrap();
    assert!(paged.elapsed() < Duration::from_secs(10));

    // Delivery works again; a mail delivered for nobody must not stay behind either.
    twin.control().reset();
    let mut monitor = spawn_monitor(dir.path());
    wait_for("the resolve", Duration::from_secs(30), || alerts(&recorded).len() >= 2).await;
    monitor.kill().unwrap();
    monitor.wait().unwrap();

    let got = alerts(&recorded);
    assert_eq!(got.len(), 2, "one page and one resolve, nothing twice: {got:?}");
    assert_eq!(got[0].0, "trigger");
    assert_eq!(got[1], ("resolve".to_string(), got[0].1.clone()), "resolved with the page's dedup key");
    let store = Store::open(&dir.path().join("state.sqlite")).unwrap();
    let incidents = store.incidents("prod").unwrap();
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    assert!(incidents[0].triggered && incidents[0].closed);
    let runs = store.runs("prod").unwrap();
    assert!(runs.len() >= 2, "the run before the kill and the one after are both in the history: {runs:?}");
    assert_eq!(runs[0].outcome, "ok");
    assert_eq!(probe_mail(&maildir), 0, "the probe cleaned up its mail");
    twin.shutdown().await;
}
