//! `probe --pool <POOL_ID>` (or `--probe NAME`, `--config FILE`): one probe run, printed as text, JSON or a
//! Nagios line; the exit code is the outcome's.

use std::io::IsTerminal;

use chrono::{DateTime, Utc};

use crate::aws::Clients;
use crate::aws::ticks::{self, Claim, Tick};
use crate::cli::{RunArgs, RunFormat};
use crate::config::lookup::{self, Selector};
use crate::config::{Cleanup, ConfigError, ProbeFile};
use crate::inbox::pool::ImapPool;
use crate::monitor::store::Store;
use crate::output;
use crate::probe::{Memory, PhaseLine, Progress, RunContext};
use crate::report::Report;

/// What one scheduled run did.
#[derive(Debug)]
pub enum Once {
    /// The probe ran; its report.
    Ran(Box<Report>),
    /// Another run had claimed this tick: nothing was sent.
    Duplicate { tick: DateTime<Utc>, claimed_at: Option<String> },
}

/// One run as cron, a Fargate task and the Lambda function make it: claim the tick when there is a tick
/// table (before anything is sent, [`crate::aws::ticks`]), then the same run as every other
/// ([`crate::probe::run_with`]) with a one-shot IMAP pool. A tick that could not be claimed runs anyway,
/// with a note saying why.
pub async fn once(
    probe: &ProbeFile,
    clients: &Clients,
    memory: Memory,
    tick: Option<&Tick>,
    progress: Progress<'_>,
) -> Once {
    let mut unclaimed = None;
    if let Some(tick) = tick {
        match ticks::claim(&ticks::client(&probe.region()).await, &probe.name, tick).await {
            Claim::Claimed => {}
            Claim::Duplicate { claimed_at } => {
                tracing::info!(
                    probe = %probe.name,
                    tick = %ticks::show(tick.at),
                    claimed_at = claimed_at.as_deref().unwrap_or("unknown"),
                    "tick already claimed by another run: nothing sent"
                );
                return Once::Duplicate { tick: tick.at, claimed_at };
            }
            Claim::Unclaimed { reason } => {
                tracing::warn!(probe = %probe.name, tick = %ticks::show(tick.at), %reason, "tick not claimed; running");
                unclaimed = Some(tick.unclaimed_note(&reason));
            }
        }
    }
    let imap = ImapPool::one_shot();
    let ctx = RunContext { clients, imap: &imap, memory };
    let mut report = crate::probe::run_with(probe, &ctx, progress).await;
    report.notes.extend(unclaimed);
    Once::Ran(Box::new(report))
}

/// The tick `--tick-table` claims: `--tick`, or now floored to the probe's interval.
pub fn tick_of(args: &RunArgs, probe: &ProbeFile) -> Option<Tick> {
    let table = args.tick_table.clone()?;
    let at = args.tick.unwrap_or_else(|| ticks::floor(Utc::now(), probe.interval));
    Some(Tick { table, at })
}

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
    let report = match once(&probe, &clients, memory, tick_of(&args, &probe).as_ref(), &progress).await {
        Once::Ran(report) => report,
        Once::Duplicate { tick, claimed_at } => {
            emit_duplicate(&probe, tick, claimed_at.as_deref(), args.format);
            return 0;
        }
    };
    if let Some(store) = store
        && let Err(e) = record_state(store, &probe, &report).await
    {
        return state_failure(&args, &probe, &e.to_string(), Some(&report));
    }
    emit(&report, args.format, probe.alert.warning_is_failure);
    report.outcome.exit_code()
}

/// A tick another run claimed: exit 0 and a line that says nothing was sent (none in JSON's report shape:
/// no run happened). No EMF document: a duplicate is not a run, and the run that claimed the tick wrote
/// its datapoint.
fn emit_duplicate(probe: &ProbeFile, tick: DateTime<Utc>, claimed_at: Option<&str>, format: RunFormat) {
    let tick = ticks::show(tick);
    let by = claimed_at.map(|at| format!(" at {at}")).unwrap_or_default();
    match format {
        RunFormat::Emf => {}
        RunFormat::Text => {
            output::println(&format!("DUPLICATE {}: tick {tick} was claimed{by}; nothing sent", probe.name))
        }
        RunFormat::Json => output::println(
            &serde_json::json!({"probe": probe.name, "tick": tick, "duplicate": true, "claimed_at": claimed_at})
                .to_string(),
        ),
        RunFormat::Nagios => {
            output::println(&format!("OK - {}: tick {tick} already run{by}, nothing sent", probe.name))
        }
    }
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

/// Which probe file the command line means.
fn selector(args: &RunArgs) -> Selector<'_> {
    Selector {
        config: args.config.as_deref(),
        pool: args.pool.as_deref(),
        probe: args.probe.as_deref(),
        dir: &args.probes,
    }
}

/// The probe file with the command line's overrides and the alert defaults applied.
fn configure(args: &RunArgs) -> Result<ProbeFile, ConfigError> {
    let mut probe = apply_overrides(lookup::locate(&selector(args))?, args);
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
            // The EMF dimensions are the broken file's own name and pool id, read loosely, else what the
            // command line asked for: an `Unknown` datapoint of that probe's metrics, which its blind alarm
            // counts. Without either there is no datapoint for it, and missing data pages as breaching.
            let (name, pool) = lookup::identity_hint(&selector(args));
            report.probe = name.or_else(|| args.probe.clone()).unwrap_or_default();
            report.pool_id = pool.or_else(|| args.pool.clone()).unwrap_or_default();
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
