//! Paging that can be trusted, tried as an SRE would before letting the monitor page a team: a channel
//! down for a whole incident, a state file on a full disk or damaged, two monitors on one state, a probe
//! removed while its incident is open, a channel that hangs, a long probe name, a broken `--state` file,
//! and a loop of a hundred SIGKILLs at random points with a flapping webhook. The real `probe monitor`
//! binary where a process is the point; the AWS twin in-process; alerts recorded by a real exec program
//! and loopback HTTP receivers.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cognito_delivery_probe::config::ProbeFile;
use cognito_delivery_probe::monitor::notify::Channels;
use cognito_delivery_probe::monitor::store::Store;
use cognito_delivery_probe::monitor::{Context, handle_report};
use cognito_delivery_probe::verdict::Outcome;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use testkit::monitor::{self, metric, sigterm, wait_for};
use testkit::recorder::Recorder;

use crate::twin_harness::http;

/// Debian's interpreter, not a pyenv shim (those are shell scripts).
const PYTHON: &str = "/usr/bin/python3";

/// The exec channel's recording program: appends `{kind, dedup_key, idempotency_key, summary}` of the
/// alert on stdin to `$1`, after `$2` seconds (a slow receiver, so kills land mid-send too).
const RECORD_PY: &str = r#"import json, sys, time
alert = json.load(sys.stdin)
time.sleep(float(sys.argv[2]))
line = {k: alert[k] for k in ("kind", "dedup_key", "idempotency_key", "summary")}
with open(sys.argv[1], "a", encoding="utf-8") as f:
    f.write(json.dumps(line) + "\n")
"#;

/// One alert as a receiver saw it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Seen {
    kind: String,
    dedup_key: String,
    idempotency_key: String,
}

fn seen(v: &Value) -> Seen {
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    Seen { kind: s("kind"), dedup_key: s("dedup_key"), idempotency_key: s("idempotency_key") }
}

fn exec_seen(path: &Path) -> Vec<Seen> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).map(|v| seen(&v)).collect()
}

fn webhook_seen(recorder: &Recorder) -> Vec<Seen> {
    recorder.accepted().iter().map(|r| seen(&r.json())).collect()
}

fn toml_str(p: &Path) -> String {
    toml::Value::String(p.display().to_string()).to_string()
}

/// The probe file: the twin's pool and Maildir, runs every 10 s (the shortest interval), pages after one
/// failure and resolves after one success, through `channels` (TOML `[[alert.channels]]` tables).
fn probe_text(rig: &testkit::Rig, name: &str, channels: &str) -> String {
    format!(
        "name = {name:?}\npool_id = \"us-east-1_knEL7cqS3\"\nusername = \"probe-prod-fcp\"\ntimeout = \"2s\"\n\
         interval = \"10s\"\n{}{}[cloudwatch]\npoll_interval = \"200ms\"\nsettle = \"1s\"\n\
         [alert]\nfailure_threshold = 1\nsuccess_threshold = 1\n{channels}",
        rig.aws_section(),
        rig.maildir_section()
    )
}

fn exec_channel(dir: &Path, log: &Path, delay: f64) -> String {
    let script = dir.join("record.py");
    std::fs::write(&script, RECORD_PY).unwrap();
    format!(
        "[[alert.channels]]\ntype = \"exec\"\ncommand = [\"{PYTHON}\", {}, {}, \"{delay}\"]\ntimeout = \"10s\"\n",
        toml_str(&script),
        toml_str(log)
    )
}

fn webhook_channel(url: &str, timeout: &str) -> String {
    format!("[[alert.channels]]\ntype = \"webhook\"\nurl = {url:?}\ntimeout = {timeout:?}\n")
}

fn spawn(dir: &Path, state: &Path, n: u32) -> (Child, String) {
    let log = std::fs::File::create(dir.join(format!("monitor-{n}.log"))).unwrap();
    monitor::start(monitor::command(crate::PROBE, &dir.join("probes"), state).env("RUST_LOG", "info").stderr(log))
}

async fn get(url: &str, path: &str) -> (u16, String) {
    let (status, body, _) = http(url, "GET", path, &[], b"").await;
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn probe_mail(maildir: &Path) -> usize {
    ["new", "cur", ".Junk/new", ".Junk/cur"]
        .iter()
        .map(|d| std::fs::read_dir(maildir.join(d)).map_or(0, |r| r.count()))
        .sum()
}

/// A channel down for the whole incident must not cost the channel that paged its resolve, and must not
/// get a resolve (nor a late page) for a page it never took.
#[tokio::test]
async fn a_channel_down_for_the_whole_incident_costs_no_other_channel_its_resolve() {
    let rig = testkit::Rig::builder().build().await;
    let dir = rig.dir();
    let webhook = Recorder::start(503, &[]).await;
    let log = dir.join("exec.jsonl");
    let text =
        probe_text(&rig, "prod", &(exec_channel(dir, &log, 0.0) + &webhook_channel(&webhook.url("/hook"), "2s")));
    let probe = ProbeFile::parse(&text, Path::new("prod.toml")).unwrap();
    let clients = cognito_delivery_probe::aws::Clients::from_sdk_config(rig.sdk_config().await);
    let ctx = Context::new(Store::open(&dir.join("state.sqlite")).unwrap(), Arc::new(Channels), Arc::default());
    let run = async |faults: Value, expected: Outcome| {
        rig.control().reset();
        rig.control().patch_faults(&faults).unwrap();
        let report = cognito_delivery_probe::probe::run(&probe, &clients, &|_| {}).await;
        assert_eq!(report.outcome, expected, "{:?}", report.diagnosis);
        handle_report(&ctx, &probe, &report).await.unwrap()
    };
    let key = run(json!({"identity_policy_missing": true}), Outcome::Critical).await[0].dedup_key.clone();
    assert_eq!(webhook.received().len(), 4, "the webhook was tried (four attempts) and refused every one");
    run(json!({}), Outcome::Ok).await;
    let exec = exec_seen(&log);
    let kinds: Vec<(&str, &str)> = exec.iter().map(|s| (s.kind.as_str(), s.dedup_key.as_str())).collect();
    assert_eq!(
        kinds,
        vec![("trigger", key.as_str()), ("resolve", key.as_str())],
        "the exec channel paged and resolved"
    );
    // The webhook comes back: nothing is owed to it, neither the old page nor a resolve.
    webhook.take();
    run(json!({}), Outcome::Ok).await;
    assert!(webhook.received().is_empty(), "a closed incident is never paged late: {:?}", webhook.received());
    let store = ctx.store.lock().unwrap();
    assert!(store.owed("prod", None).unwrap().is_empty());
    let webhook_rows: Vec<_> = store.ledger("prod").unwrap().into_iter().filter(|r| r.channel == "1:webhook").collect();
    assert_eq!(webhook_rows.len(), 1, "{webhook_rows:?}");
    assert_eq!(webhook_rows[0].cancelled.as_deref(), Some("incident closed before delivery"));
}

/// A channel that hangs until its timeout delays no other: PagerDuty pages while the webhook listed before
/// it still holds its connection. A probe name too long for PagerDuty's 255-character dedup key pages too.
#[tokio::test]
async fn a_hung_channel_holds_back_no_other_and_a_long_name_still_pages() {
    let rig = testkit::Rig::builder().build().await;
    let dir = rig.dir();
    // Accepts connections and never answers.
    let hung = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hung_url = format!("http://{}/hook", hung.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = hung.accept().await {
            open.push(stream);
        }
    });
    let pagerduty = Recorder::start(202, &[]).await;
    std::fs::write(dir.join("pd-key"), "R0UTING\n").unwrap();
    let channels = webhook_channel(&hung_url, "20s")
        + &format!(
            "[[alert.channels]]\ntype = \"pagerduty\"\nrouting_key = {{ file = {} }}\nurl = {:?}\n",
            toml_str(&dir.join("pd-key")),
            pagerduty.url("/v2/enqueue")
        );
    let name = "prod-".to_string() + &"x".repeat(300);
    let probe = ProbeFile::parse(&probe_text(&rig, &name, &channels), Path::new("long.toml")).unwrap();
    rig.control().patch_faults(&json!({"identity_policy_missing": true})).unwrap();
    let clients = cognito_delivery_probe::aws::Clients::from_sdk_config(rig.sdk_config().await);
    let report = cognito_delivery_probe::probe::run(&probe, &clients, &|_| {}).await;
    let ctx =
        Arc::new(Context::new(Store::open(&dir.join("state.sqlite")).unwrap(), Arc::new(Channels), Arc::default()));
    let started = Instant::now();
    let sending = tokio::spawn({
        let (ctx, probe) = (ctx.clone(), probe.clone());
        async move { handle_report(&ctx, &probe, &report).await }
    });
    let got = pagerduty.wait_accepted(1, Duration::from_secs(15)).await;
    assert!(started.elapsed() < Duration::from_secs(20), "PagerDuty waited for the hung webhook's timeout");
    assert!(!sending.is_finished(), "the webhook is still hanging while PagerDuty has the page");
    let key = got[0].json()["dedup_key"].as_str().unwrap().to_string();
    assert!(key.len() <= 255, "PagerDuty refuses dedup keys over 255 characters: {} in {key}", key.len());
    sending.abort();
    held.abort();
}

/// Two monitors on one state file would double-page: the second one is refused with the first one's pid,
/// and so is a one-shot `probe --state` run (which sends no mail then: its verdict could not be recorded).
/// The state files are the monitor's user's only.
#[tokio::test]
async fn a_second_process_on_a_state_in_use_is_refused_with_who_holds_it() {
    use std::os::unix::fs::PermissionsExt;
    let rig = testkit::Rig::builder().build().await;
    let dir = rig.dir();
    std::fs::create_dir(dir.join("probes")).unwrap();
    let file = dir.join("probes/prod.toml");
    std::fs::write(&file, probe_text(&rig, "prod", "")).unwrap();
    let state = dir.join("state.sqlite");
    let (first, url) = spawn(dir, &state, 1);
    wait_for("the first run", Duration::from_secs(20), async || {
        metric(&get(&url, "/metrics").await.1, "cognito_probe_runs_total{probe=\"prod\",result=\"ok\"}").is_some()
    })
    .await;
    let second = monitor::command(crate::PROBE, &dir.join("probes"), &state).stderr(Stdio::piped()).output().unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains(&format!("in use by another probe process (pid {} on ", first.id())), "{stderr}");
    assert!(stderr.contains("probe monitor"), "names the holder's command: {stderr}");

    let sent = rig.control().sent().len();
    let one_shot = Command::new(crate::PROBE)
        .arg("--config")
        .arg(&file)
        .arg("--state")
        .arg(&state)
        .args(["--format", "json"])
        .env("AWS_ACCESS_KEY_ID", testkit::aws::ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", testkit::aws::SECRET_ACCESS_KEY)
        .output()
        .unwrap();
    assert_eq!(one_shot.status.code(), Some(3), "{}", String::from_utf8_lossy(&one_shot.stderr));
    let report: Value = serde_json::from_slice(&one_shot.stdout).unwrap();
    assert_eq!((&report["schema"], &report["diagnosis"]["code"]), (&json!(1), &json!("state_unwritable")));
    assert!(report["diagnosis"]["summary"].as_str().unwrap().contains(&format!("pid {}", first.id())));
    assert_eq!(rig.control().sent().len(), sent, "no mail sent for a run that could not be recorded");

    for name in ["state.sqlite", "state.sqlite-wal", "state.sqlite-shm", "state.sqlite.lock"] {
        let mode = std::fs::metadata(dir.join(name)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name}");
    }
    sigterm(first);
}

/// A one-shot run whose `--state` file is not a state database exits 3 (cron sees paging is broken),
/// before sending any mail.
#[tokio::test]
async fn a_one_shot_run_with_a_broken_state_file_exits_3_and_sends_nothing() {
    let rig = testkit::Rig::builder().build().await;
    let dir = rig.dir();
    let file = dir.join("prod.toml");
    std::fs::write(&file, probe_text(&rig, "prod", "")).unwrap();
    let state = dir.join("broken.sqlite");
    std::fs::write(&state, vec![0x5a_u8; 64 * 1024]).unwrap();
    let sent = rig.control().sent().len();
    let out = Command::new(crate::PROBE)
        .arg("--config")
        .arg(&file)
        .arg("--state")
        .arg(&state)
        .env("AWS_ACCESS_KEY_ID", testkit::aws::ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", testkit::aws::SECRET_ACCESS_KEY)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("broken.sqlite"), "names the file: {stderr}");
    assert_eq!(rig.control().sent().len(), sent, "no mail sent");
}

/// A tmpfs mounted for the test (the full disk the state must survive); unmounted on drop.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(at: PathBuf, size: &str) -> SmallDisk {
        std::fs::create_dir_all(&at).unwrap();
        let out = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(&at).output();
        let ok = out.as_ref().is_ok_and(|o| o.status.success());
        assert!(ok, "cannot mount a tmpfs at {} (the full-disk test needs root): {out:?}", at.display());
        SmallDisk(at)
    }

    /// Writes until the filesystem is full.
    fn fill(&self) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.0.join("filler")).unwrap();
        let block = vec![0u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
    }

    fn free(&self) {
        std::fs::remove_file(self.0.join("filler")).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A state that cannot be written is never silent: the run becomes UNKNOWN `state_unwritable` in
/// `/metrics` and `/probes`, `/healthz` fails, `cognito_probe_state_writable` drops to 0 and the channel
/// gets `monitor_degraded`; once the disk has room again, all of it clears and the channel gets the resolve.
/// A state file damaged past its first page is refused just as loudly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_or_a_damaged_state_pages_and_fails_healthz_instead_of_going_blind() {
    let rig = testkit::Rig::builder().build().await;
    let dir = rig.dir();
    let disk = SmallDisk::mount(dir.join("statefs"), "2m");
    let state = disk.0.join("state.sqlite");
    let log = dir.join("exec.jsonl");
    std::fs::create_dir(dir.join("probes")).unwrap();
    std::fs::write(dir.join("probes/prod.toml"), probe_text(&rig, "prod", &exec_channel(dir, &log, 0.0))).unwrap();
    let (child, url) = spawn(dir, &state, 1);
    let runs = async |result: &str| {
        metric(
            &get(&url, "/metrics").await.1,
            &format!("cognito_probe_runs_total{{probe=\"prod\",result=\"{result}\"}}"),
        )
        .unwrap_or(0.0)
    };
    wait_for("the first run", Duration::from_secs(20), async || runs("ok").await >= 1.0).await;
    assert_eq!(get(&url, "/healthz").await, (200, "ok\n".to_string()));

    disk.fill();
    wait_for("the degraded alert", Duration::from_secs(30), async || {
        exec_seen(&log).iter().any(|s| s.kind == "monitor_degraded")
    })
    .await;
    let (status, body) = get(&url, "/healthz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.starts_with("state unwritable: probe prod: state database"), "{body}");
    let text = get(&url, "/metrics").await.1;
    for (series, value) in [
        ("cognito_probe_state_writable", 0.0),
        ("cognito_probe_state_errors_total", 1.0),
        ("cognito_probe_success{probe=\"prod\"}", 0.0),
        ("cognito_probe_outcome{probe=\"prod\",result=\"unknown\"}", 1.0),
    ] {
        assert_eq!(metric(&text, series), Some(value), "{series} in\n{text}");
    }
    let probes: Value = serde_json::from_str(&get(&url, "/probes").await.1).unwrap();
    assert_eq!(probes["prod"]["diagnosis"]["code"], "state_unwritable", "{probes:#}");
    assert!(probes["prod"]["diagnosis"]["evidence"][0].as_str().unwrap().starts_with("the run itself: OK delivered"));

    disk.free();
    wait_for("the degraded resolve", Duration::from_secs(30), async || {
        exec_seen(&log).iter().any(|s| s.kind == "monitor_degraded_resolve")
    })
    .await;
    assert_eq!(get(&url, "/healthz").await, (200, "ok\n".to_string()));
    assert_eq!(metric(&get(&url, "/metrics").await.1, "cognito_probe_state_writable"), Some(1.0));
    let degraded: Vec<Seen> = exec_seen(&log).into_iter().filter(|s| s.kind.starts_with("monitor_degraded")).collect();
    assert_eq!(degraded.len(), 2, "one degraded alert, one resolve: {degraded:?}");
    assert_eq!(degraded[0].dedup_key, degraded[1].dedup_key);
    sigterm(child);

    // Damaged past its first page: every page after the first overwritten.
    let mut bytes = std::fs::read(&state).unwrap();
    assert!(bytes.len() > 8192, "the state has more than one page");
    for b in &mut bytes[4096..] {
        *b = 0xa5;
    }
    std::fs::write(&state, bytes).unwrap();
    let stderr = std::fs::File::create(dir.join("monitor-2.log")).unwrap();
    let mut child = monitor::command(crate::PROBE, &dir.join("probes"), &state).stderr(stderr).spawn().unwrap();
    // Either refused at start (exit 3) or degraded at its first run: never silent.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let text = std::fs::read_to_string(dir.join("monitor-2.log")).unwrap();
            assert_eq!(status.code(), Some(3), "{text}");
            assert!(text.contains("state database"), "{text}");
            break;
        }
        if exec_seen(&log).iter().filter(|s| s.kind == "monitor_degraded").count() >= 2 {
            child.kill().unwrap();
            child.wait().unwrap();
            break;
        }
        assert!(Instant::now() < deadline, "a damaged state went unnoticed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(disk);
}

/// A probe removed on SIGHUP while its incident is open: the incident is resolved with the reason, through
/// the channel that took the page, and its series leave `/metrics`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_removed_on_sighup_resolves_its_open_incident_and_leaves_metrics() {
    let rig = testkit::Rig::builder().build().await;
    let dir = rig.dir();
    let log = dir.join("exec.jsonl");
    std::fs::create_dir(dir.join("probes")).unwrap();
    let channel = exec_channel(dir, &log, 0.0);
    std::fs::write(dir.join("probes/prod.toml"), probe_text(&rig, "prod", &channel)).unwrap();
    rig.control().patch_faults(&json!({"identity_policy_missing": true})).unwrap();
    let (child, url) = spawn(dir, &dir.join("state.sqlite"), 1);
    wait_for("the page", Duration::from_secs(20), async || !exec_seen(&log).is_empty()).await;
    std::fs::write(dir.join("probes/other.toml"), probe_text(&rig, "other", "")).unwrap();
    std::fs::remove_file(dir.join("probes/prod.toml")).unwrap();
    let status = Command::new("kill").args(["-HUP", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    wait_for("the resolve", Duration::from_secs(20), async || exec_seen(&log).len() >= 2).await;
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!((lines[1]["kind"].as_str(), &lines[1]["dedup_key"]), (Some("resolve"), &lines[0]["dedup_key"]));
    assert!(lines[1]["summary"].as_str().unwrap().contains("probe removed"), "{}", lines[1]);
    wait_for("the other probe's first run", Duration::from_secs(20), async || {
        get(&url, "/metrics").await.1.contains("probe=\"other\"")
    })
    .await;
    let metrics = get(&url, "/metrics").await.1;
    assert!(!metrics.contains("probe=\"prod\""), "the removed probe's series are gone:\n{metrics}");
    let probes: Value = serde_json::from_str(&get(&url, "/probes").await.1).unwrap();
    assert!(probes.get("prod").is_none(), "{probes:#}");
    sigterm(child);
    let store = Store::open(&dir.join("state.sqlite")).unwrap();
    assert!(store.incidents("prod").unwrap().iter().all(|i| i.closed));
}

/// What one channel received over the kill loop.
#[derive(Debug, Default)]
struct Audit {
    messages: usize,
    pages: usize,
    resolves: usize,
    duplicates: usize,
    lost: Vec<String>,
    resolves_without_page: usize,
}

/// Checks one channel's record: every alert of an incident has one idempotency key (a repeat carries the
/// same), every page has exactly one resolve.
fn audit(channel: &str, seen: &[Seen]) -> Audit {
    use std::collections::{BTreeMap, BTreeSet};
    let mut keys: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for s in seen {
        keys.entry((s.dedup_key.clone(), s.kind.clone())).or_default().insert(s.idempotency_key.clone());
    }
    for ((dedup, kind), ids) in &keys {
        assert_eq!(ids.len(), 1, "{channel}: {kind} of {dedup} arrived under several idempotency keys: {ids:?}");
        let expected = format!("{dedup}/{kind}/1");
        assert!(ids.contains(&expected), "{channel}: {ids:?}, expected {expected}");
    }
    let of = |kind: &str| keys.keys().filter(|(_, k)| k == kind).map(|(d, _)| d.clone()).collect::<BTreeSet<_>>();
    let (pages, resolves) = (of("trigger"), of("resolve"));
    let distinct: BTreeSet<&String> = seen.iter().map(|s| &s.idempotency_key).collect();
    Audit {
        messages: seen.len(),
        pages: pages.len(),
        resolves: resolves.len(),
        duplicates: seen.len() - distinct.len(),
        lost: pages.difference(&resolves).cloned().collect(),
        resolves_without_page: resolves.difference(&pages).count(),
    }
}

/// A hundred SIGKILLs at random points — at start, mid-run, mid-write, mid-send (the exec receiver is slow,
/// the webhook flaps and is retried) — while the world flips between failing and healthy every third kill. Then one
/// monitor runs
/// to quiet. Per channel: every page is resolved exactly once, a repeated alert carries its idempotency
/// key, no incident was opened twice, no probe mail is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_sigkills_lose_no_resolve_and_leave_no_probe_mail() {
    const KILLS: u32 = 100;
    let rig = testkit::Rig::builder().build().await;
    let dir = rig.dir();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed_4b11);
    // The webhook answers 503 to about a third of the requests, in a fixed random pattern.
    let script: Vec<u16> = (0..4000).map(|_| if rng.gen_bool(0.35) { 503 } else { 200 }).collect();
    let webhook = Recorder::start(200, &script).await;
    let log = dir.join("exec.jsonl");
    std::fs::create_dir(dir.join("probes")).unwrap();
    let channels = exec_channel(dir, &log, 0.15) + &webhook_channel(&webhook.url("/hook"), "2s");
    // Short runs, so kills land in every step: a failing run ends at the trigger (Cognito refuses to send),
    // a healthy one after its mail is found and the SES checkpoint settled.
    let text = probe_text(&rig, "prod", &channels).replace("settle = \"1s\"", "settle = \"300ms\"");
    std::fs::write(dir.join("probes/prod.toml"), text).unwrap();
    let refuse = json!({"exceptions": [{
        "name": "CodeDeliveryFailureException", "message": "refused", "count": 100000, "operation": "AdminCreateUser"
    }]});
    let state = dir.join("state.sqlite");
    let started = Instant::now();
    let mut failing = false;
    for kill in 0..KILLS {
        if kill % 3 == 0 {
            failing = !failing;
            rig.control().reset();
            if failing {
                rig.control().patch_faults(&refuse).unwrap();
            }
        }
        let mut child =
            monitor::start(monitor::command(crate::PROBE, &dir.join("probes"), &state).stderr(Stdio::null())).0;
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..1500))).await;
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let killing = started.elapsed();

    // Quiet: healthy, one monitor until nothing is owed, no incident is open and no probe mail is left.
    rig.control().reset();
    let (child, _) = spawn(dir, &state, 1);
    wait_for("the monitor to settle", Duration::from_secs(90), async || {
        let Ok(store) = Store::inspect(&state) else { return false };
        let settled = store.owed("prod", None).is_ok_and(|o| o.is_empty())
            && store.incidents("prod").is_ok_and(|i| i.iter().all(|i| i.closed));
        settled && probe_mail(rig.maildir()) == 0
    })
    .await;
    sigterm(child);

    let store = Store::open(&state).unwrap();
    let incidents = store.incidents("prod").unwrap();
    for pair in incidents.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert!(a.closed_at.is_some_and(|c| c <= b.opened_at), "incidents overlap (opened twice): {a:?} {b:?}");
    }
    let exec = audit("exec", &exec_seen(&log));
    let hook = audit("webhook", &webhook_seen(&webhook));
    println!("SIGKILL loop: {KILLS} kills in {:.0} s, {} incidents", killing.as_secs_f64(), incidents.len());
    println!(
        "{:<8} {:>8} {:>6} {:>9} {:>11} {:>5} {:>20}",
        "channel", "messages", "pages", "resolves", "duplicates", "lost", "resolves w/o page"
    );
    for (name, a) in [("exec", &exec), ("webhook", &hook)] {
        println!(
            "{name:<8} {:>8} {:>6} {:>9} {:>11} {:>5} {:>20}",
            a.messages,
            a.pages,
            a.resolves,
            a.duplicates,
            a.lost.len(),
            a.resolves_without_page
        );
    }
    println!("orphan probe mail: {}", probe_mail(rig.maildir()));
    for (name, a) in [("exec", &exec), ("webhook", &hook)] {
        assert!(a.lost.is_empty(), "{name}: pages never resolved: {:?}", a.lost);
    }
    assert!(exec.pages >= 5, "the loop opened and closed incidents: {exec:?}");
    assert!(incidents.len() >= exec.pages, "every page belongs to a recorded incident");
}
