//! Monitor scale benchmark (DESIGN.md §10): 1,000 probe files in one `probe monitor` scheduler, run
//! against the in-process AWS twin and its Maildir for a while, then a table of peak RSS, CPU time and
//! schedule drift p50/p99. Goal: ≤ 64 MB RSS, p99 drift < 1 s.
//!
//! `cargo bench --bench monitor` (env `PROBES`, default 1000; `BENCH_SECONDS`, default 40). The twin runs in the
//! same process, so RSS and CPU are an upper bound for the monitor alone.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cognito_delivery_probe::metrics::Exposition;
use cognito_delivery_probe::monitor::notify::Channels;
use cognito_delivery_probe::monitor::store::Store;
use cognito_delivery_probe::monitor::{Context, SdkRunner};
use cognito_delivery_probe::twin::Twin;
use cognito_delivery_probe::twin::scenario::Scenario;
use tokio_util::sync::CancellationToken;

fn proc_status(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User + system CPU seconds of this process (/proc/self/stat fields 14 and 15, in clock ticks of 1/100 s).
fn cpu_seconds() -> f64 {
    let text = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = text.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let probes = env_num("PROBES", 1000);
    let seconds = env_num("BENCH_SECONDS", 40);
    // SAFETY of set_var: called before any other thread reads the environment (the SDK reads it later).
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "AKIDTWIN");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "twin-secret");
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let maildir = dir.path().join("Maildir");
    // One test user per probe file, as deployments do: probes sharing a user could not tell their mail apart.
    let mut scenario = Scenario::default_scenario().expect("scenario");
    let template = scenario.pools[0].users[0].clone();
    for i in 0..probes {
        let mut user = template.clone();
        user.username = format!("probe-bench-{i:04}");
        user.email = Some(format!("probe+bench-{i:04}@mail.test"));
        scenario.pools[0].users.push(user);
    }
    let twin = Twin::spawn(scenario, &maildir).await.expect("twin");
    let probe_dir = dir.path().join("probes");
    std::fs::create_dir(&probe_dir).expect("probes dir");
    for i in 0..probes {
        let text = format!(
            "pool_id = \"us-east-1_knEL7cqS3\"\nusername = \"probe-bench-{i:04}\"\ntimeout = \"3s\"\ninterval = \"10s\"\n\
             jitter = \"10s\"\n[aws]\nendpoint_url = \"{}\"\n[maildir]\npath = {}\n[cloudwatch]\npoll_interval = \"1s\"\nsettle = \"0s\"\n",
            twin.endpoint_url(),
            toml::Value::String(maildir.display().to_string())
        );
        std::fs::write(probe_dir.join(format!("p{i:04}.toml")), text).expect("probe file");
    }
    let ctx = Arc::new(Context {
        store: Mutex::new(Store::open(&dir.path().join("state.sqlite")).expect("store")),
        notifier: Arc::new(Channels),
        exposition: Arc::new(Exposition::default()),
        retention: Duration::from_secs(3600),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let shutdown = CancellationToken::new();
    let (_reload, reload_rx) = tokio::sync::mpsc::channel(1);
    let rss_before = proc_status("VmRSS:").unwrap_or(0);
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let runner = Arc::new(SdkRunner::default());
    let monitor = tokio::spawn({
        let (ctx, shutdown, probe_dir, runner) = (ctx.clone(), shutdown.clone(), probe_dir.clone(), runner.clone());
        async move { cognito_delivery_probe::monitor::run(&probe_dir, ctx, runner, listener, reload_rx, shutdown).await }
    });
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_before;
    let q = ctx.exposition.metrics.drift_quantiles(&[0.5, 0.99, 1.0]).unwrap_or_else(|| vec![f64::NAN; 3]);
    let runs = ctx.exposition.metrics.drift_count();
    let metrics = ctx.exposition.metrics.encode();
    let (reads, calls) = runner.cloudwatch_stats().await;
    let served = twin.control().calls("GetMetricData");
    shutdown.cancel();
    let _ = monitor.await;
    let peak = proc_status("VmHWM:").unwrap_or(0);
    // Why runs did not deliver, by diagnosis code (read after the measurement).
    let mut not_ok: std::collections::BTreeMap<String, u64> = Default::default();
    {
        let store = ctx.store.lock().unwrap_or_else(|p| p.into_inner());
        for i in 0..probes {
            for run in store.runs(&format!("p{i:04}")).unwrap_or_default() {
                if run.outcome != "ok" {
                    *not_ok.entry(format!("{} {}", run.outcome, run.code)).or_default() += 1;
                }
            }
        }
    }
    let by_result = |r: &str| -> u64 {
        metrics
            .lines()
            .filter(|l| l.starts_with("cognito_probe_runs_total{") && l.contains(&format!("result=\"{r}\"")))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    };
    println!(
        "| probes | seconds | runs started | ok | warning | critical | unknown | RSS before MB | peak RSS MB | CPU s (% of one core) | drift p50 ms | drift p99 ms | drift max ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {probes} | {wall:.0} | {runs} | {} | {} | {} | {} | {:.1} | {:.1} | {cpu:.1} ({:.0}%) | {:.1} | {:.1} | {:.1} |",
        by_result("ok"),
        by_result("warning"),
        by_result("critical"),
        by_result("unknown"),
        rss_before as f64 / 1024.0,
        peak as f64 / 1024.0,
        100.0 * cpu / wall,
        q[0] * 1000.0,
        q[1] * 1000.0,
        q[2] * 1000.0,
    );
    println!();
    println!(
        "| CloudWatch Send reads asked for | GetMetricData calls made | calls the twin served | reads per call | calls per second |"
    );
    println!("|---|---|---|---|---|");
    println!(
        "| {reads} | {calls} | {served} | {:.1} | {:.2} |",
        reads as f64 / calls.max(1) as f64,
        calls as f64 / wall
    );
    if !not_ok.is_empty() {
        println!();
        println!("runs that did not deliver, by outcome and diagnosis: {not_ok:?}");
    }
    println!("goal: peak RSS <= 64 MB, drift p99 < 1000 ms (twin in the same process: RSS and CPU are upper bounds)");
    twin.shutdown().await;
}
