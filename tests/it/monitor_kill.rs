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

/// Starts the monitor with stdout piped and returns it with the base URL it printed.
fn spawn_with_url(dir: &Path) -> (Child, String) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_probe"))
        .args(["monitor", "--listen", "127.0.0.1:0", "--probes"])
        .arg(dir.join("probes"))
        .arg("--state")
        .arg(dir.join("state.sqlite"))
        .env("AWS_ACCESS_KEY_ID", "AKIDTWIN")
        .env("AWS_SECRET_ACCESS_KEY", "twin-secret")
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the probe binary");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("listening on ").and_then(|u| u.strip_suffix("/metrics")).unwrap().to_string();
    (child, url)
}

fn healthy_probe(endpoint: &str, maildir: &Path, user: &str) -> String {
    // The CONFIRMED user is triggered with ForgotPassword through the pool's web client.
    let client = if user == "probe-prod-confirmed" { "client_id = \"ujzde8gxd6ncf10epf91dhodzd\"\n" } else { "" };
    format!(
        "pool_id = \"us-east-1_knEL7cqS3\"\n{client}username = \"{user}\"\ntimeout = \"2s\"\ninterval = \"10s\"\n\
         [aws]\nendpoint_url = \"{endpoint}\"\n[maildir]\npath = {}\n[cloudwatch]\npoll_interval = \"200ms\"\nsettle = \"1s\"\n",
        toml::Value::String(maildir.display().to_string())
    )
}

#[tokio::test]
async fn sighup_adds_new_probes_and_keeps_the_old_version_of_a_broken_file() {
    use crate::twin_harness::http;
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("Maildir");
    let twin = Twin::spawn(Scenario::default_scenario().unwrap(), &maildir).await.unwrap();
    let probes = dir.path().join("probes");
    std::fs::create_dir(&probes).unwrap();
    std::fs::write(probes.join("prod.toml"), healthy_probe(&twin.endpoint_url(), &maildir, "probe-prod-fcp")).unwrap();
    let (mut monitor, url) = spawn_with_url(dir.path());
    let runs = |probe: &'static str| {
        let url = url.clone();
        async move {
            let (_, body, _) = http(&url, "GET", "/metrics", &[], b"").await;
            let text = String::from_utf8(body).unwrap();
            let prefix = format!("cognito_probe_runs_total{{probe=\"{probe}\",result=\"ok\"}} ");
            text.lines().find_map(|l| l.strip_prefix(&prefix)).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0)
        }
    };
    let start = Instant::now();
    while runs("prod").await < 1 {
        assert!(start.elapsed() < Duration::from_secs(20), "prod never ran");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Break prod.toml and add a new probe, then SIGHUP.
    std::fs::write(probes.join("prod.toml"), "pool_id = \"not a pool\"\n").unwrap();
    std::fs::write(probes.join("staging.toml"), healthy_probe(&twin.endpoint_url(), &maildir, "probe-prod-confirmed"))
        .unwrap();
    let status = Command::new("kill").args(["-HUP", &monitor.id().to_string()]).status().unwrap();
    assert!(status.success());
    let start = Instant::now();
    while runs("staging").await < 1 || runs("prod").await < 2 {
        assert!(start.elapsed() < Duration::from_secs(25), "after SIGHUP: staging should run, prod keep running");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, body, _) = http(&url, "GET", "/healthz", &[], b"").await;
    assert_eq!(body, b"ok\n", "the monitor survived the broken file");
    monitor.kill().unwrap();
    monitor.wait().unwrap();
    twin.shutdown().await;
}

#[tokio::test]
async fn one_shot_runs_with_state_page_after_n_like_the_monitor() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("Maildir");
    let twin = Twin::spawn(Scenario::default_scenario().unwrap(), &maildir).await.unwrap();
    twin.control().patch_faults(&json!({"identity_policy_missing": true})).unwrap();
    let recorded = dir.path().join("alerts.jsonl");
    let file = dir.path().join("prod.toml");
    let text = healthy_probe(&twin.endpoint_url(), &maildir, "probe-prod-fcp")
        + &format!(
            "[alert]\nfailure_threshold = 2\n[[alert.channels]]\ntype = \"exec\"\ncommand = [\"tee\", \"-a\", {}]\n",
            toml::Value::String(recorded.display().to_string())
        );
    std::fs::write(&file, text).unwrap();
    let state = dir.path().join("oneshot.sqlite");
    let run = || {
        let (file, state) = (file.clone(), state.clone());
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_probe"))
                .arg("--config")
                .arg(&file)
                .arg("--state")
                .arg(&state)
                .args(["--format", "json"])
                .env("AWS_ACCESS_KEY_ID", "AKIDTWIN")
                .env("AWS_SECRET_ACCESS_KEY", "twin-secret")
                .output()
                .unwrap()
        })
    };
    let first = run().await.unwrap();
    assert_eq!(first.status.code(), Some(2), "CRITICAL exit code kept with --state");
    assert!(alerts(&recorded).is_empty(), "one failure does not page");
    let second = run().await.unwrap();
    assert_eq!(second.status.code(), Some(2));
    let got = alerts(&recorded);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "trigger");
    let third = run().await.unwrap();
    assert_eq!(third.status.code(), Some(2));
    assert_eq!(alerts(&recorded).len(), 1, "no second page on the next cron run");
    assert_eq!(Store::open(&state).unwrap().runs("prod").unwrap().len(), 3);
    twin.shutdown().await;
}
