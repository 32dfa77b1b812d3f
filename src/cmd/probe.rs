//! `probe --pool <POOL_ID>` (or `--probe NAME`, `--config FILE`): one probe run, printed as text, JSON or a
//! Nagios line; the exit code is the outcome's.

use std::io::IsTerminal;

use crate::aws::Clients;
use crate::cli::{Format, RunArgs};
use crate::config::lookup::{self, Selector};
use crate::config::{Cleanup, ConfigError, ProbeFile};
use crate::inbox::pool::ImapPool;
use crate::monitor::store::Store;
use crate::output;
use crate::probe::{PhaseLine, RunContext};
use crate::report::Report;

pub async fn run(args: RunArgs) -> u8 {
    let probe = match configure(&args) {
        Ok(p) => p,
        Err(e) => return config_failure(&args, &e.to_string()),
    };
    // `--state`: what earlier runs left (the late-mail window of `cleanup = keep`, the pinned receiver).
    let store = args.state.as_deref().map(Store::open);
    let memory = match &store {
        Some(Ok(s)) => s.memory(&probe.name).unwrap_or_default(),
        _ => Default::default(),
    };
    let clients = Clients::new(&probe.aws, &probe.region()).await;
    let live = args.format == Format::Text && std::io::stderr().is_terminal();
    let progress = move |line: &PhaseLine| {
        if live {
            eprintln!("{}", output::phase_line(line));
        }
    };
    let imap = ImapPool::one_shot();
    let ctx = RunContext { clients: &clients, imap: &imap, memory };
    let report = crate::probe::run_with(&probe, &ctx, &progress).await;
    emit(&report, args.format);
    if let Some(store) = store {
        record_state(store, &probe, &report).await;
    }
    report.outcome.exit_code()
}

/// The probe file with the command line's overrides and the alert defaults applied.
fn configure(args: &RunArgs) -> Result<ProbeFile, ConfigError> {
    let selector = Selector {
        config: args.config.as_deref(),
        pool: args.pool.as_deref(),
        probe: args.probe.as_deref(),
        dir: &args.probes,
    };
    let mut probe = apply_overrides(lookup::locate(&selector)?, args);
    // A bad alert defaults file stops the run before anything is sent, like a bad probe file.
    if let Some(path) = &args.alerts {
        probe.apply_alert_defaults(&crate::config::alert::load_defaults(path)?);
    }
    Ok(probe)
}

fn emit(report: &Report, format: Format) {
    match format {
        Format::Text => output::print(&output::text(report)),
        Format::Json => output::println(&output::json(report)),
        Format::Nagios => output::println(&output::nagios(report)),
    }
}

/// `--state FILE`: the monitor's store and state machine for one-shot runs (cron, systemd timers).
/// A state failure is reported on stderr; the exit code stays the probe's outcome.
async fn record_state(store: Result<Store, crate::monitor::store::StoreError>, probe: &ProbeFile, report: &Report) {
    use crate::monitor::{Context, DEFAULT_RETENTION, handle_report, notify::Channels};
    let store = match store {
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

/// A probe that cannot even be configured is UNKNOWN (exit 3), in the requested format: JSON is a
/// schema-1 report like any run's, the nagios line carries the same perfdata labels.
fn config_failure(args: &RunArgs, message: &str) -> u8 {
    // No probe file was loaded, so there is no probe name: the nagios line says `config`.
    let report = Report::unusable_config("", message);
    match args.format {
        Format::Text => eprintln!("probe: {message}"),
        format => emit(&report, format),
    }
    report.outcome.exit_code()
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
        *probe.mailbox.cleanup_mut() = Cleanup::Keep;
    }
    probe
}
