//! Monitor scale benchmark (DESIGN.md §10): the real `probe monitor` process with 1,000 probe files (one
//! test user each) against the AWS twin and its Maildir, run for a while, then a table of the monitor
//! process's peak RSS and CPU time, schedule drift p50/p99, and the CloudWatch `Send` reads its probes asked
//! for against the `GetMetricData` calls it made. Goal: ≤ 64 MB RSS, p99 drift < 1 s, calls growing with
//! accounts × Regions rather than probes.
//!
//! `cargo bench --bench monitor` (env `PROBES`, default 1000; `BENCH_SECONDS`, default 40). The twin runs in
//! this process and the monitor in its own, so RSS and CPU are the monitor's alone; `/metrics` is scraped
//! every 10 s meanwhile, as Prometheus would, and the peak includes it. Drift quantiles are read
//! from the monitor's `/metrics` histogram the way Prometheus' `histogram_quantile` does (linear within a
//! bucket), as an operator would see them.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use cognito_delivery_probe::monitor::store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use twin::scenario::Scenario;

fn proc_status(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User + system CPU seconds of a process (/proc/PID/stat fields 14 and 15, in clock ticks of 1/100 s).
fn cpu_seconds(pid: u32) -> f64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = text.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// GET `path` from the monitor's HTTP server; the body.
async fn get(base: &str, path: &str) -> String {
    let addr = base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect to the monitor");
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes()).await.expect("send request");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("read response");
    out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default()
}

/// Sum of the samples of metric `name` whose labels contain `label` (empty: all).
fn sum(metrics: &str, name: &str, label: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']) && l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .fold(0.0, |a, b| a + b)
}

/// `histogram_quantile(q, name)`: (upper bound, cumulative count) buckets, linear within the bucket.
fn histogram_quantile(metrics: &str, name: &str, q: f64) -> f64 {
    let bucket = format!("{name}_bucket{{le=\"");
    let mut buckets: Vec<(f64, f64)> = metrics
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(&bucket)?;
            let (le, count) = rest.split_once("\"} ")?;
            let le = if le == "+Inf" { f64::INFINITY } else { le.parse().ok()? };
            Some((le, count.trim().parse().ok()?))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let Some(&(_, total)) = buckets.last() else { return f64::NAN };
    let rank = q * total;
    let (mut lower, mut below) = (0.0, 0.0);
    for (le, count) in buckets {
        if count >= rank {
            if le.is_infinite() {
                return lower;
            }
            return lower + (le - lower) * (rank - below) / (count - below).max(f64::MIN_POSITIVE);
        }
        (lower, below) = (le, count);
    }
    lower
}

fn probe_file(dir: &Path, i: u64, rig: &testkit::Rig) {
    let text = format!(
        "pool_id = \"us-east-1_knEL7cqS3\"\nusername = \"probe-bench-{i:04}\"\ntimeout = \"3s\"\ninterval = \"10s\"\n\
         jitter = \"10s\"\n{}{}[cloudwatch]\npoll_interval = \"1s\"\nsettle = \"0s\"\n",
        rig.aws_section(),
        rig.maildir_section()
    );
    std::fs::write(dir.join(format!("p{i:04}.toml")), text).expect("probe file");
}

#[tokio::main]
async fn main() {
    let probes = env_num("PROBES", 1000);
    let seconds = env_num("BENCH_SECONDS", 40);
    // One test user per probe file, as deployments do: probes sharing a user could not tell their mail apart.
    let mut scenario = Scenario::default_scenario().expect("scenario");
    let template = scenario.pools[0].users[0].clone();
    for i in 0..probes {
        let mut user = template.clone();
        user.username = format!("probe-bench-{i:04}");
        user.email = Some(format!("probe+bench-{i:04}@mail.test"));
        scenario.pools[0].users.push(user);
    }
    let rig = testkit::Rig::builder().scenario(scenario).build().await;
    let probe_dir = rig.dir().join("probes");
    std::fs::create_dir(&probe_dir).expect("probes dir");
    for i in 0..probes {
        probe_file(&probe_dir, i, &rig);
    }
    let state = rig.dir().join("state.sqlite");
    let (mut monitor, base) = testkit::monitor::start(
        testkit::monitor::command(env!("CARGO_BIN_EXE_probe"), &probe_dir, &state).stderr(Stdio::null()),
    );
    let pid = monitor.id();
    let rss_before = proc_status(pid, "VmRSS:").unwrap_or(0);
    let cpu_before = cpu_seconds(pid);
    let started = Instant::now();
    // Scraped every 10 s meanwhile, as Prometheus would: encoding a thousand probes' series counts too.
    let deadline = started + Duration::from_secs(seconds);
    let mut metrics = String::new();
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(10).min(deadline - Instant::now())).await;
        metrics = get(&base, "/metrics").await;
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(pid) - cpu_before;
    let peak = proc_status(pid, "VmHWM:").unwrap_or(0);
    let _ = monitor.kill();
    let _ = monitor.wait();

    let drift = "cognito_probe_schedule_drift_seconds";
    let q = |p: f64| histogram_quantile(&metrics, drift, p) * 1000.0;
    let runs = sum(&metrics, &format!("{drift}_count"), "");
    let within_1s = {
        let le1 = sum(&metrics, &format!("{drift}_bucket"), "le=\"1.0\"");
        100.0 * le1 / runs.max(1.0)
    };
    let by_result = |r: &str| sum(&metrics, "cognito_probe_runs_total", &format!("result=\"{r}\""));
    let reads = sum(&metrics, "cognito_probe_cloudwatch_reads_total", "");
    let calls = sum(&metrics, "cognito_probe_cloudwatch_calls_total", "");
    let served = rig.control().calls("GetMetricData");
    // Why runs did not deliver, by outcome and diagnosis code, from the monitor's state file.
    let mut not_ok: BTreeMap<String, u64> = BTreeMap::new();
    let store = Store::open(&state).expect("state file");
    for i in 0..probes {
        for run in store.runs(&format!("p{i:04}")).unwrap_or_default() {
            if run.outcome != "ok" {
                *not_ok.entry(format!("{} {}", run.outcome, run.code)).or_default() += 1;
            }
        }
    }

    println!(
        "| probes | seconds | runs started | ok | warning | critical | unknown | RSS at start MB | peak RSS MB | CPU \
            s (% of one core) | drift p50 ms | drift p99 ms | runs started within 1 s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {probes} | {wall:.0} | {runs} | {} | {} | {} | {} | {:.1} | {:.1} | {cpu:.1} ({:.0}%) | {:.1} | {:.1} | \
            {within_1s:.2}% |",
        by_result("ok"),
        by_result("warning"),
        by_result("critical"),
        by_result("unknown"),
        rss_before as f64 / 1024.0,
        peak as f64 / 1024.0,
        100.0 * cpu / wall,
        q(0.5),
        q(0.99),
    );
    println!();
    println!(
        "| CloudWatch Send reads asked for | GetMetricData calls made | calls the twin served | reads per call | \
            calls per second |"
    );
    println!("|---|---|---|---|---|");
    println!("| {reads} | {calls} | {served} | {:.1} | {:.2} |", reads / calls.max(1.0), calls / wall);
    if !not_ok.is_empty() {
        println!();
        println!("runs that did not deliver, by outcome and diagnosis: {not_ok:?}");
    }
    println!(
        "goal: peak RSS <= 64 MB, drift p99 < 1000 ms, GetMetricData calls per second independent of the number of \
            probes"
    );
    rig.shutdown().await;
}
