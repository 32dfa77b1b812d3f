//! The real `probe monitor` process: started on a probe directory and a state file with the twin's test
//! credentials, its base URL read from the `listening on …` line it prints, and one series read from the
//! `/metrics` text it serves.

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `<probe> monitor --listen 127.0.0.1:0 --probes PROBES --state STATE`, with test credentials that the twin
/// and moto accept and no profile or session token from the environment. `probe` is the binary's path:
/// `env!("CARGO_BIN_EXE_probe")`, which only the probe crate's own tests and benches know. Callers add
/// arguments, env and stderr before [`start`].
pub fn command(probe: &str, probes: &Path, state: &Path) -> Command {
    let mut cmd = Command::new(probe);
    cmd.args(["monitor", "--listen", "127.0.0.1:0", "--probes"])
        .arg(probes)
        .arg("--state")
        .arg(state)
        .env("AWS_ACCESS_KEY_ID", crate::aws::ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", crate::aws::SECRET_ACCESS_KEY)
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    cmd
}

/// Starts `cmd` and returns the process with the base URL (`http://127.0.0.1:PORT`) it printed; lines
/// before it (a wrapper's banner) are skipped.
pub fn start(cmd: &mut Command) -> (Child, String) {
    let mut child = cmd.spawn().expect("start the probe binary");
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut line = String::new();
    while !line.starts_with("listening on ") {
        line.clear();
        if stdout.read_line(&mut line).unwrap_or(0) == 0 {
            let _ = child.kill();
            panic!("`probe monitor` ended before printing its address: {:?}", child.wait());
        }
    }
    let url = line.trim().strip_prefix("listening on ").and_then(|u| u.strip_suffix("/metrics"));
    (child, url.unwrap_or_else(|| panic!("unexpected address line {line:?}")).to_string())
}

/// The value of one `series` (name with its labels, exactly as printed) in a `/metrics` text.
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Stops a monitor the way systemd does (SIGTERM) and waits for it to exit.
pub fn sigterm(mut child: Child) {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("run kill");
    assert!(status.success(), "kill -TERM {}: {status}", child.id());
    child.wait().expect("wait for the monitor");
}

/// Polls `done` every 100 ms until it holds; panics naming `what` after `limit`.
pub async fn wait_for(what: &str, limit: Duration, mut done: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !done().await {
        assert!(start.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
