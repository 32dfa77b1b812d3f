//! `probe --pool <POOL_ID>` (or `--probe NAME`, `--config FILE`): one probe run, printed as text, JSON or a
//! Nagios line; the exit code is the outcome's.

use std::io::IsTerminal;

use crate::aws::Clients;
use crate::cli::{RunArgs, RunFormat};
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
    // A state that cannot be opened (locked by a monitor, damaged, unwritable) stops the run before any mail
    // is sent: its outcome could not be recorded nor paged, and cron must see that (exit 3).
    let store = match args.state.as_deref().map(Store::open).transpose() {
        Ok(store) => store,
        Err(e) => return state_failure(&args, &probe, &e.to_string(), None),
    };
    let memory = match &store {
        Some(s) => match s.memory(&probe.name) {
            Ok(memory) => memory,
            Err(e) => return state_failure(&args, &probe, &e.to_string(), None),
        },
        None => Default::default(),
    };
    let clients = Clients::new(&probe.aws, &probe.region()).await;
    let live = args.format == RunFormat::Text && std::io::stderr().is_terminal();
    let progress = move |line: &PhaseLine| {
        if live {
            eprintln!("{}", output::phase_line(line));
        }
    };
    let imap = ImapPool::one_shot();
    let ctx = RunContext { clients: &clients, imap: &imap, memory };
    let report = crate::probe::run_with(&probe, &ctx, &progress).await;
    if let Some(store) = store
        && let Err(e) = record_state(store, &probe, &report).await
    {
        return state_failure(&args, &probe, &e.to_string(), Some(&report));
    }
    emit(&report, args.format, probe.alert.warning_is_failure);
    report.outcome.exit_code()
}

/// `--state` could not be used: the report says `state_unwritable` (keeping the run's own verdict when it
/// ran), in the requested format, and the exit code is 3 whatever the run found.
fn state_failure(args: &RunArgs, probe: &ProbeFile, message: &str, run: Option<&Report>) -> u8 {
    let report = Report::unrecorded(&probe.name, &probe.pool_id, message, run);
    match args.format {
        RunFormat::Text if run.is_none() => eprintln!("probe: {message}"),
        format => {
            emit(&report, format, probe.alert.warning_is_failure);
            if format == RunFormat::Text {
                eprintln!("probe: {message}");
            }
        }
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

/// Prints the report; `warning_is_failure` decides whether a WARNING counts as `Failure` in EMF.
fn emit(report: &Report, format: RunFormat, warning_is_failure: bool) {
    match format {
        RunFormat::Text => output::print(&output::text(report)),
        RunFormat::Json => output::println(&output::json(report)),
        RunFormat::Nagios => output::println(&output::nagios(report)),
        RunFormat::Emf => output::println(&crate::emf::document(report, warning_is_failure)),
    }
}

/// `--state FILE`: the monitor's store and state machine for one-shot runs (cron, systemd timers). An
/// alert a channel did not take stays owed in the ledger and goes out with the next run.
async fn record_state(
    store: Store,
    probe: &ProbeFile,
    report: &Report,
) -> Result<(), crate::monitor::store::StoreError> {
    use crate::monitor::{Context, handle_report, notify::Channels};
    let ctx = Context::new(store, std::sync::Arc::new(Channels), Default::default());
    handle_report(&ctx, probe, report).await.map(|_| ())
}

/// A probe that cannot even be configured is UNKNOWN (exit 3), in the requested format: JSON is a
/// schema-1 report like any run's, the nagios line carries the same perfdata labels.
fn config_failure(args: &RunArgs, message: &str) -> u8 {
    // No probe file was loaded, so there is no probe name: the nagios line says `config`.
    let mut report = Report::unusable_config("", message);
    match args.format {
        RunFormat::Text => eprintln!("probe: {message}"),
        RunFormat::Emf => {
            // The EMF dimensions are what the command line asked for (`--probe production`), so a broken
            // probe file is an `Unknown` datapoint of that probe's metrics, or, without a name, no datapoint
            // at all — either way its alarm, which treats missing data as breaching, fires.
            report.probe = args.probe.clone().unwrap_or_default();
            report.pool_id = args.pool.clone().unwrap_or_default();
            emit(&report, RunFormat::Emf, false)
        }
        format => emit(&report, format, false),
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
