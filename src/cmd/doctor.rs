//! `probe doctor [--pool ID | --probe NAME | --config FILE]`: the read-only preflight for one probe file, or
//! for every file in `--probes` when none is named. Prints text, JSON or a Nagios line; the exit code is the
//! worst finding's (FAIL → 2, WARN → 1, all OK → 0, could not check → 3).

use crate::aws::Clients;
use crate::cli::{DoctorArgs, Format, PolicyMissingArg};
use crate::config::lookup::{self, Selector};
use crate::config::{self, ProbeFile};
use crate::doctor::{self, DoctorReport, Finding, Options, PolicyMissing, Status, render};
use crate::output;

pub async fn run(args: DoctorArgs) -> u8 {
    let options = Options {
        policy_missing: match args.policy_missing {
            PolicyMissingArg::Warn => PolicyMissing::Warn,
            PolicyMissingArg::Fail => PolicyMissing::Fail,
        },
        skip_dns: args.no_dns,
    };
    let mut reports = Vec::new();
    let mut probes = Vec::new();
    for loaded in probe_files(&args) {
        match loaded {
            Ok(p) => probes.push(apply_overrides(p, &args)),
            Err(report) => reports.push(report),
        }
    }
    let runs = probes.iter().map(|probe| async move {
        let clients = Clients::new(&probe.aws, &probe.region()).await;
        doctor::run(probe, &clients, &options).await
    });
    reports.extend(futures::future::join_all(runs).await);
    match args.format {
        Format::Text => output::print(&render::text(&reports)),
        Format::Json => output::println(&render::json(&reports)),
        Format::Nagios => output::println(&render::nagios(&reports)),
    }
    doctor::overall(&reports).exit_code()
}

/// The probe files to check; a file that cannot be loaded becomes a report with one UNKNOWN `config`
/// finding, so it shows in every output format and the exit code.
fn probe_files(args: &DoctorArgs) -> Vec<Result<ProbeFile, DoctorReport>> {
    let broken = |name: &str, message: String| {
        DoctorReport::new(
            name,
            "?",
            vec![
                Finding::new("config", Status::Unknown, message, "DESIGN.md §6 (bad config is UNKNOWN)")
                    .fix("Run `probe validate` on the probe file and fix what it reports."),
            ],
        )
    };
    if args.config.is_some() || args.pool.is_some() || args.probe.is_some() {
        let selector = Selector {
            config: args.config.as_deref(),
            pool: args.pool.as_deref(),
            probe: args.probe.as_deref(),
            dir: &args.probes,
        };
        return vec![lookup::locate(&selector).map_err(|e| broken("config", e.to_string()))];
    }
    match config::load_dir(&args.probes) {
        Ok(files) if files.is_empty() => {
            vec![Err(broken("config", format!("no probe files (*.toml) in {}", args.probes.display())))]
        }
        Ok(files) => files.into_iter().map(|f| f.map_err(|e| broken("config", e.to_string()))).collect(),
        Err(e) => vec![Err(broken("config", e.to_string()))],
    }
}

fn apply_overrides(mut probe: ProbeFile, args: &DoctorArgs) -> ProbeFile {
    if let Some(region) = &args.region {
        probe.region = Some(region.clone());
    }
    if let Some(url) = &args.endpoint_url {
        probe.aws.endpoint_url = Some(url.clone());
    }
    probe
}
