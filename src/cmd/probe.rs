//! `probe --pool <POOL_ID>` (or `--probe NAME`, `--config FILE`): one probe run, printed as text, JSON or a
//! Nagios line; the exit code is the outcome's.

use std::io::IsTerminal;
use std::path::Path;

use crate::aws::Clients;
use crate::cli::{Format, RunArgs};
use crate::config::{self, Cleanup, ConfigError, ProbeFile};
use crate::output;
use crate::probe::PhaseLine;
use crate::verdict::Outcome;

pub async fn run(args: RunArgs) -> u8 {
    let probe = match locate(&args) {
        Ok(p) => p,
        Err(e) => return config_failure(&args, &e.to_string()),
    };
    let mut probe = apply_overrides(probe, &args);
    // A bad alert defaults file stops the run before anything is sent, like a bad probe file.
    if let Some(path) = &args.alerts {
        match crate::monitor::config::load_defaults(path) {
            Ok(defaults) => probe.apply_alert_defaults(&defaults),
            Err(e) => return config_failure(&args, &e.to_string()),
        }
    }
    let clients = Clients::new(&probe.aws, &probe.region()).await;
    let live = args.format == Format::Text && std::io::stderr().is_terminal();
    let progress = move |line: &PhaseLine| {
        if live {
            eprintln!("{}", output::phase_line(line));
        }
    };
    let report = crate::probe::run(&probe, &clients, &progress).await;
    match args.format {
        Format::Text => print!("{}", output::text(&report)),
        Format::Json => println!("{}", output::json(&report)),
        Format::Nagios => println!("{}", output::nagios(&report)),
    }
    if let Some(path) = &args.state {
        record_state(path, &probe, &report).await;
    }
    report.outcome.exit_code()
}

/// `--state FILE`: the monitor's store and state machine for one-shot runs (cron, systemd timers).
/// A state failure is reported on stderr; the exit code stays the probe's outcome.
async fn record_state(path: &Path, probe: &ProbeFile, report: &crate::report::Report) {
    use crate::monitor::{Context, DEFAULT_RETENTION, handle_report, notify::Channels, store::Store};
    let store = match Store::open(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("probe: {e}");
            return;
        }
    };
    let ctx = Context {
        store: std::sync::Mutex::new(store),
        notifier: std::sync::Arc::new(Channels),
        exposition: Default::default(),
        retention: DEFAULT_RETENTION,
        alert_defaults: None,
    };
    if let Err(e) = handle_report(&ctx, probe, report).await {
        eprintln!("probe: {e}");
    }
}

/// A probe that cannot even be configured is UNKNOWN (exit 3), in the requested format.
fn config_failure(args: &RunArgs, message: &str) -> u8 {
    match args.format {
        Format::Nagios => println!("COGNITO-DELIVERY UNKNOWN - config: {}", message.replace(['\n', '|'], " ")),
        Format::Json => println!(
            "{}",
            serde_json::json!({"outcome": "unknown", "phase": "config", "diagnosis": {"code": "config_invalid", "summary": message}})
        ),
        Format::Text => eprintln!("probe: {message}"),
    }
    Outcome::Unknown.exit_code()
}

/// Finds the probe file: `--config FILE`, else `--probe NAME` or `--pool ID` among the files in `--probes`.
pub fn locate(args: &RunArgs) -> Result<ProbeFile, ConfigError> {
    if let Some(path) = &args.config {
        return ProbeFile::load(path);
    }
    if args.pool.is_none() && args.probe.is_none() {
        return Err(ConfigError::NothingToRun);
    }
    find_in_dir(&args.probes, args.pool.as_deref(), args.probe.as_deref())
}

fn find_in_dir(dir: &Path, pool: Option<&str>, name: Option<&str>) -> Result<ProbeFile, ConfigError> {
    let mut first_error = None;
    for loaded in config::load_dir(dir)? {
        match loaded {
            Ok(p) if pool.is_some_and(|id| p.pool_id == id) || name.is_some_and(|n| p.name == n) => return Ok(p),
            Ok(_) => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    // A broken file might be the one asked for: say so rather than "not found".
    if let Some(e) = first_error {
        return Err(e);
    }
    match (pool, name) {
        (Some(id), _) => Err(ConfigError::NoSuchPool { dir: dir.to_path_buf(), pool_id: id.to_string() }),
        (_, n) => Err(ConfigError::NoSuchProbe { dir: dir.to_path_buf(), name: n.unwrap_or_default().to_string() }),
    }
}

fn apply_overrides(mut probe: ProbeFile, args: &RunArgs) -> ProbeFile {
    if let Some(user) = &args.user {
        probe.username = user.clone();
    }
    if let Some(timeout) = args.timeout {
        probe.timeout = timeout;
    }
    if let Some(region) = &args.region {
        probe.region = Some(region.clone());
    }
    if let Some(url) = &args.endpoint_url {
        probe.aws.endpoint_url = Some(url.clone());
    }
    if args.no_cleanup {
        if let Some(imap) = probe.imap.as_mut() {
            imap.cleanup = Cleanup::Keep;
        }
        if let Some(m) = probe.maildir.as_mut() {
            m.cleanup = Cleanup::Keep;
        }
    }
    probe
}
