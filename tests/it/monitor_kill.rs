//! The real `probe monitor` process killed with SIGKILL in the middle of a run — after Cognito accepted the
//! trigger, while the mail is still in flight — and started again on the same state file, reading a real
//! Dovecot over TLS: the open incident is remembered, no second page is sent, the mail that landed after the
//! kill is swept and counted as late (report, store, `/metrics`), recovery resolves with the original dedup
//! key, and no probe mail is left in the mailbox. Also SIGHUP reloads and one-shot runs with `--state`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cognito_delivery_probe::monitor::store::Store;
use serde_json::{Value, json};
use testkit::monitor::{self, metric};

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
        .map(|d| {
            std::fs::read_dir(maildir.join(d)).unwrap_or_else(|e| panic!("read {d} of {}: {e}", maildir.display()))
        })
        .map(|rd| rd.count())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_the_mail_in_flight_then_restart_sweeps_it_as_late_and_pages_once() {
    let rig = testkit::Rig::builder().dovecot(true).build().await;
    let (dir, twin) = (rig.dir(), rig.twin());
    let maildir = rig.maildir().to_path_buf();
    // Run 1: SES silently drops the mail (no mail at all) — CRITICAL, paged at once.
    twin.control().patch_faults(&json!({"identity_policy_missing": true})).unwrap();
    let recorded = dir.join("alerts.jsonl");
    let s = |p: &Path| toml::Value::String(p.display().to_string()).to_string();
    std::fs::create_dir(dir.join("probes")).unwrap();
    std::fs::write(
        dir.join("probes/prod.toml"),
        format!(
            r#"pool_id = "us-east-1_knEL7cqS3"
username = "probe-prod-fcp"
timeout = "2s"
interval = "10s"

{aws_section}
{imap_section}
[expect]
from = "noreply@thephenom.app"

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
            aws_section = rig.aws_section(),
            imap_section = rig.imap_section(),
            recorded = s(&recorded),
        ),
    )
    .unwrap();

    let (mut monitor, _) = spawn_with_url(dir);
    wait_for("the first page", Duration::from_secs(30), || !alerts(&recorded).is_empty()).await;
    // Run 2 (10 s after run 1): the mail is sent but reaches the mailbox only 6 s later. Kill the monitor as
    // soon as Cognito accepted the trigger, while that mail is in flight.
    twin.control().reset();
    twin.control().patch_faults(&json!({"delivery_delay_seconds": 6})).unwrap();
    let sends = twin.control().sent().len();
    wait_for("run 2's trigger", Duration::from_secs(20), || twin.control().sent().len() > sends).await;
    monitor.kill().unwrap();
    monitor.wait().unwrap();
    assert_eq!(probe_mail(&maildir), 0, "the mail is still in flight when the monitor dies");
    let runs = Store::open(&dir.join("state.sqlite")).unwrap().runs("prod").unwrap();
    assert_eq!(runs.len(), 1, "the killed run recorded nothing: {runs:?}");

    // The mail lands with nobody left to delete it; it is older than a run's timeout by the restart.
    wait_for("the late mail to land", Duration::from_secs(20), || probe_mail(&maildir) == 1).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    twin.control().reset();
    let (mut monitor, url) = spawn_with_url(dir);
    wait_for("the resolve", Duration::from_secs(30), || alerts(&recorded).len() >= 2).await;
    let (_, body, _) = crate::twin_harness::http(&url, "GET", "/metrics", &[], b"").await;
    let metrics = String::from_utf8(body).unwrap();
    monitor.kill().unwrap();
    monitor.wait().unwrap();

    let got = alerts(&recorded);
    assert_eq!(got.len(), 2, "one page and one resolve, nothing twice: {got:?}");
    assert_eq!(got[0].0, "trigger");
    assert_eq!(got[1], ("resolve".to_string(), got[0].1.clone()), "resolved with the page's dedup key");
    let store = Store::open(&dir.join("state.sqlite")).unwrap();
    let incidents = store.incidents("prod").unwrap();
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    assert!(incidents[0].triggered && incidents[0].closed);
    let runs = store.runs("prod").unwrap();
    assert_eq!(runs.len(), 2, "the run before the kill and the one after: {runs:?}");
    assert_eq!(runs[0].outcome, "ok");
    assert_eq!(runs[0].report["late_mails"], 1, "the sweep found the killed run's mail: {}", runs[0].report);
    assert_eq!(store.late_mails("prod").unwrap(), 1, "the store counts it");
    assert!(
        metrics.contains("cognito_probe_late_mails_total{probe=\"prod\"} 1"),
        "late-mail counter in /metrics:\n{metrics}"
    );
    assert_eq!(probe_mail(&maildir), 0, "no probe mail left behind");
    // The SES checkpoint read the Send metric through the batching reader; the twin served every call.
    let counter = |name: &str| metric(&metrics, name).unwrap_or_else(|| panic!("{name} in:\n{metrics}")) as u64;
    let (reads, calls) =
        (counter("cognito_probe_cloudwatch_reads_total"), counter("cognito_probe_cloudwatch_calls_total"));
    assert!(reads >= 1 && (1..=reads).contains(&calls), "at least the baseline read: {reads} reads, {calls} calls");
    assert!(twin.control().calls("GetMetricData") >= calls, "the twin served them");
    rig.shutdown().await;
}

/// The exec channel's program for the test below: records the alert (stdin) to `$1`, except that the
/// first resolve hangs — it creates `$2` and sleeps, so the monitor can be killed while sending it.
const HANG_ON_FIRST_RESOLVE_PY: &str = r#"import os, sys, time
alert = sys.stdin.read()
if os.environ.get("PROBE_ALERT_KIND") == "resolve" and not os.path.exists(sys.argv[2]):
    open(sys.argv[2], "w").close()
    time.sleep(10)
    sys.exit(1)
with open(sys.argv[1], "a") as f:
    f.write(alert + "\n")
"#;

#[tokio::test]
async fn sigkill_while_the_resolve_is_being_sent_then_restart_sends_it() {
    let python = Path::new("/usr/bin/python3");
    assert!(python.exists(), "{} not found: install Debian's python3 (`apt-get install python3`)", python.display());
    let rig = testkit::Rig::builder().build().await;
    let (dir, twin) = (rig.dir(), rig.twin());
    twin.control().patch_faults(&json!({"identity_policy_missing": true})).unwrap();
    let (recorded, hanging) = (dir.join("alerts.jsonl"), dir.join("resolve-started"));
    std::fs::write(dir.join("record.py"), HANG_ON_FIRST_RESOLVE_PY).unwrap();
    let s = |p: &Path| toml::Value::String(p.display().to_string()).to_string();
    std::fs::create_dir(dir.join("probes")).unwrap();
    let text = healthy_probe(&rig, "probe-prod-fcp")
        + &format!(
            "[alert]\nfailure_threshold = 1\nsuccess_threshold = 1\n[[alert.channels]]\ntype = \"exec\"\n\
             command = [\"/usr/bin/python3\", {}, {}, {}]\n",
            s(&dir.join("record.py")),
            s(&recorded),
            s(&hanging)
        );
    std::fs::write(dir.join("probes/prod.toml"), text).unwrap();

    let (mut monitor, _) = spawn_with_url(dir);
    wait_for("the page", Duration::from_secs(30), || !alerts(&recorded).is_empty()).await;
    twin.control().reset();
    // The next run (10 s later) delivers and starts the resolve; the monitor dies while it is being sent.
    wait_for("the resolve to start", Duration::from_secs(30), || hanging.exists()).await;
    monitor.kill().unwrap();
    monitor.wait().unwrap();
    assert_eq!(alerts(&recorded).len(), 1, "the resolve did not get through before the kill");

    let (mut monitor, _) = spawn_with_url(dir);
    let waited = tokio::time::timeout(Duration::from_secs(30), async {
        while alerts(&recorded).len() < 2 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    monitor.kill().unwrap();
    monitor.wait().unwrap();
    let got = alerts(&recorded);
    assert!(waited.is_ok(), "the resolve was never sent after the restart: {got:?}");
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[1], ("resolve".to_string(), got[0].1.clone()), "resolved with the page's dedup key");
    rig.shutdown().await;
}

/// Starts the monitor on `dir/probes` and `dir/state.sqlite`; returns it with the base URL it printed.
fn spawn_with_url(dir: &Path) -> (Child, String) {
    monitor::start(monitor::command(crate::PROBE, &dir.join("probes"), &dir.join("state.sqlite")).stderr(Stdio::null()))
}

fn healthy_probe(rig: &testkit::Rig, user: &str) -> String {
    // The CONFIRMED user is triggered with ForgotPassword through the pool's web client.
    let client = if user == "probe-prod-confirmed" { "client_id = \"ujzde8gxd6ncf10epf91dhodzd\"\n" } else { "" };
    format!(
        "pool_id = \"us-east-1_knEL7cqS3\"\n{client}username = \"{user}\"\ntimeout = \"2s\"\ninterval = \"10s\"\n\
         {}{}[cloudwatch]\npoll_interval = \"200ms\"\nsettle = \"1s\"\n",
        rig.aws_section(),
        rig.maildir_section()
    )
}

#[tokio::test]
async fn sighup_adds_new_probes_and_keeps_the_old_version_of_a_broken_file() {
    use crate::twin_harness::http;
    let rig = testkit::Rig::builder().build().await;
    let dir = rig.dir();
    let probes = dir.join("probes");
    std::fs::create_dir(&probes).unwrap();
    std::fs::write(probes.join("prod.toml"), healthy_probe(&rig, "probe-prod-fcp")).unwrap();
    let (mut monitor, url) = spawn_with_url(dir);
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
    std::fs::write(probes.join("staging.toml"), healthy_probe(&rig, "probe-prod-confirmed")).unwrap();
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
    rig.shutdown().await;
}

#[tokio::test]
async fn one_shot_runs_with_state_page_after_n_like_the_monitor() {
    let rig = testkit::Rig::builder().build().await;
    let (dir, twin) = (rig.dir(), rig.twin());
    twin.control().patch_faults(&json!({"identity_policy_missing": true})).unwrap();
    let recorded = dir.join("alerts.jsonl");
    let file = dir.join("prod.toml");
    let text = healthy_probe(&rig, "probe-prod-fcp")
        + &format!(
            "[alert]\nfailure_threshold = 2\n[[alert.channels]]\ntype = \"exec\"\ncommand = [\"tee\", \"-a\", {}]\n",
            toml::Value::String(recorded.display().to_string())
        );
    std::fs::write(&file, text).unwrap();
    let state = dir.join("oneshot.sqlite");
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
    rig.shutdown().await;
}

/// `--alerts FILE`: one alert defaults file for every probe file. A probe file without `[alert]` pages
/// through the defaults' channel with the defaults' threshold; one with its own channels pages only through
/// those. The one-shot `probe --state … --alerts FILE` does the same.
#[tokio::test]
async fn an_alert_defaults_file_pages_for_probe_files_without_their_own_channels() {
    let rig = testkit::Rig::builder().build().await;
    let (dir, twin) = (rig.dir(), rig.twin());
    twin.control().patch_faults(&json!({"identity_policy_missing": true})).unwrap();
    let (global, own) = (dir.join("global.jsonl"), dir.join("own.jsonl"));
    let tee = |path: &Path| {
        format!(
            "[[alert.channels]]\ntype = \"exec\"\ncommand = [\"tee\", \"-a\", {}]\n",
            toml::Value::String(path.display().to_string())
        )
    };
    let alerts_file = dir.join("alerts.toml");
    std::fs::write(&alerts_file, format!("[alert]\nfailure_threshold = 1\n{}", tee(&global))).unwrap();
    let probes = dir.join("probes");
    std::fs::create_dir(&probes).unwrap();
    std::fs::write(probes.join("prod.toml"), healthy_probe(&rig, "probe-prod-fcp")).unwrap();
    std::fs::write(
        probes.join("prod-confirmed.toml"),
        healthy_probe(&rig, "probe-prod-confirmed") + "[alert]\n" + &tee(&own),
    )
    .unwrap();

    let (mut monitor, _) = monitor::start(
        monitor::command(crate::PROBE, &probes, &dir.join("state.sqlite"))
            .arg("--alerts")
            .arg(&alerts_file)
            .stderr(Stdio::null()),
    );
    wait_for("a page on each channel", Duration::from_secs(30), || {
        !alerts(&global).is_empty() && !alerts(&own).is_empty()
    })
    .await;
    monitor.kill().unwrap();
    monitor.wait().unwrap();
    let probe_of = |path: &Path| -> Vec<String> {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        serde_json::Deserializer::from_str(&text)
            .into_iter::<Value>()
            .map(|v| v.unwrap()["probe"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(probe_of(&global), ["prod"], "the defaults' channel pages for the file without one, after 1 run");
    assert_eq!(probe_of(&own), ["prod-confirmed"], "a file's own channels replace the defaults' channels");

    // The one-shot run with the same defaults file pages after one failure too.
    std::fs::remove_file(&global).unwrap();
    let out = tokio::task::spawn_blocking({
        let (file, state, alerts_file) = (probes.join("prod.toml"), dir.join("oneshot.sqlite"), alerts_file.clone());
        move || {
            Command::new(env!("CARGO_BIN_EXE_probe"))
                .arg("--config")
                .arg(&file)
                .arg("--state")
                .arg(&state)
                .arg("--alerts")
                .arg(&alerts_file)
                .env("AWS_ACCESS_KEY_ID", "AKIDTWIN")
                .env("AWS_SECRET_ACCESS_KEY", "twin-secret")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(probe_of(&global), ["prod"]);

    // A broken defaults file stops a one-shot run before anything is sent, naming file and line.
    std::fs::write(&alerts_file, "[alert]\nfailure_threshold = 0\n").unwrap();
    let sends = twin.control().sent().len();
    let out = Command::new(env!("CARGO_BIN_EXE_probe"))
        .arg("--config")
        .arg(probes.join("prod.toml"))
        .arg("--state")
        .arg(dir.join("oneshot.sqlite"))
        .arg("--alerts")
        .arg(&alerts_file)
        .env("AWS_ACCESS_KEY_ID", "AKIDTWIN")
        .env("AWS_SECRET_ACCESS_KEY", "twin-secret")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("alerts.toml:2: alert.failure_threshold: is 0"), "{stderr}");
    assert_eq!(twin.control().sent().len(), sends, "nothing sent");
    rig.shutdown().await;
}
