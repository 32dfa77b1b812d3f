//! The probe as an AWS Lambda function (`probe-lambda`, feature `lambda`): the invocation's payload in, one
//! run per probe named — the one-shot run of `probe --probe NAME` ([`crate::cmd::probe::once`]) — one EMF
//! line per run on stdout, where CloudWatch Logs turns it into metrics (CloudWatch User Guide, "Embedded
//! metric format": "On Lambda … writing JSON to standard out … is sufficient"), and a JSON response.
//!
//! The payload EventBridge Scheduler sends: `{"probe": "production", "tick": "<aws.scheduler.scheduled-time>"}`
//! (or `"probes": [..]`, run side by side). Unknown keys are refused. Probe files are packaged with the
//! function in `$PROBE_DIR` (default `$LAMBDA_TASK_ROOT/probes`); secrets come from their sources (on
//! Lambda: `secrets_manager`, or the function's environment), never from the payload.
//!
//! An invocation never fails: a bad payload or a probe file that cannot be found is an UNKNOWN run with its
//! EMF line like any other, so the blind alarm sees it and the scheduler does not retry it (a retried
//! invocation would send a second mail). `PROBE_TICK_TABLE` names the DynamoDB table of tick claims; a
//! tick another invocation claimed sends nothing and writes no EMF line. The function writes nothing but
//! stdout and stderr: no `--state`, no files outside the mailbox.

use std::path::{Path, PathBuf};

use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::aws::Clients;
use crate::aws::ticks::{self, Tick};
use crate::cmd::probe::{Once, once};
use crate::config::lookup::{self, Selector};
use crate::report::Report;

/// The function's environment, read once at start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Directory of probe files.
    pub probe_dir: PathBuf,
    /// DynamoDB table of tick claims; none: every invocation runs.
    pub tick_table: Option<String>,
}

impl Settings {
    /// `PROBE_DIR` (default `$LAMBDA_TASK_ROOT/probes`, the deployment package's `probes/`) and
    /// `PROBE_TICK_TABLE`.
    pub fn from_env() -> Settings {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let probe_dir = var("PROBE_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(&var("LAMBDA_TASK_ROOT").unwrap_or_else(|| ".".to_string())).join("probes"));
        Settings { probe_dir, tick_table: var("PROBE_TICK_TABLE") }
    }
}

/// An invocation's payload.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    /// One probe file's name.
    #[serde(default)]
    probe: Option<String>,
    /// Several, run side by side.
    #[serde(default)]
    probes: Option<Vec<String>>,
    /// The scheduled time (RFC 3339); default: now floored to each probe's interval.
    #[serde(default)]
    tick: Option<String>,
}

/// What one run answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Response {
    pub probe: String,
    /// `OK`, `WARNING`, `CRITICAL`, `UNKNOWN`; none when the tick was a duplicate (nothing ran).
    pub outcome: Option<String>,
    /// The exit code `probe` would have: 0..3 (0 for a duplicate).
    pub code: u8,
    /// The diagnosis code (`delivered`, `config_invalid`, …); none for a duplicate.
    pub diagnosis: Option<String>,
    /// The diagnosis in one line.
    pub summary: Option<String>,
    /// Another invocation had claimed this tick: nothing was sent.
    pub duplicate: bool,
}

impl Response {
    fn of(report: &Report) -> Response {
        Response {
            probe: report.probe.clone(),
            outcome: Some(report.outcome.label().to_string()),
            code: report.outcome.exit_code(),
            diagnosis: Some(report.diagnosis.code.to_string()),
            summary: Some(report.diagnosis.summary.clone()),
            duplicate: false,
        }
    }
}

/// Handles one invocation: the response is one object for `probe`, an array for `probes`. Each run's EMF
/// line goes to stdout through `emit` as soon as it finished.
pub async fn handle(event: serde_json::Value, settings: &Settings, emit: &(dyn Fn(&str) + Sync)) -> serde_json::Value {
    let payload = match parse(&event) {
        Ok(p) => p,
        Err(message) => {
            // The probe's name when the payload names one, so the line carries its dimension.
            let name = event.get("probe").and_then(|p| p.as_str()).unwrap_or_default();
            let report = Report::unusable_config(name, &format!("Lambda payload: {message}"));
            emit(&emf_line(&report, false));
            return json(&Response::of(&report));
        }
    };
    let tick = payload.tick.as_deref().map(ticks::parse).transpose();
    let runs = payload.names.iter().map(|name| run_one(name, tick.clone(), settings, emit));
    let mut responses = futures::future::join_all(runs).await;
    match (payload.single, responses.pop()) {
        (true, Some(only)) => json(&only),
        (_, last) => {
            responses.extend(last);
            json(&responses)
        }
    }
}

/// A payload that passed [`parse`]: the probes to run (one, or several), and the tick.
#[derive(Debug)]
struct Request {
    names: Vec<String>,
    /// `probe` was given: the response is one object.
    single: bool,
    tick: Option<String>,
}

/// The payload, or why it is not one (quoting serde's field-level message, never a value).
fn parse(event: &serde_json::Value) -> Result<Request, String> {
    let payload: Payload = serde_json::from_value(event.clone())
        .map_err(|e| format!("{e}; expected {{\"probe\": \"NAME\", \"tick\": \"<aws.scheduler.scheduled-time>\"}}"))?;
    let tick = payload.tick;
    match (payload.probe, payload.probes) {
        (Some(p), None) if p.trim().is_empty() => Err("\"probe\" is empty, expected a probe file's name".into()),
        (None, Some(list)) if list.is_empty() => Err("\"probes\" is empty, expected probe file names".into()),
        (Some(one), None) => Ok(Request { names: vec![one], single: true, tick }),
        (None, Some(names)) => Ok(Request { names, single: false, tick }),
        (Some(_), Some(_)) => Err("both \"probe\" and \"probes\" given, expected one of them".into()),
        (None, None) => Err("no \"probe\", expected {\"probe\": \"NAME\"} or {\"probes\": [\"NAME\", …]}".into()),
    }
}

/// One probe's run: locate its file, claim the tick, run, emit the EMF line.
async fn run_one(
    name: &str,
    tick: Result<Option<chrono::DateTime<Utc>>, String>,
    settings: &Settings,
    emit: &(dyn Fn(&str) + Sync),
) -> Response {
    let selector = Selector { config: None, pool: None, probe: Some(name), dir: &settings.probe_dir };
    let probe = match (lookup::locate(&selector), tick) {
        (Ok(probe), Ok(tick)) => (probe, tick),
        (Err(e), _) => return unusable(&selector, &e.to_string(), emit),
        (Ok(_), Err(message)) => return unusable(&selector, &format!("Lambda payload: \"tick\": {message}"), emit),
    };
    let (probe, tick) = probe;
    let tick = settings
        .tick_table
        .clone()
        .map(|table| Tick { table, at: tick.unwrap_or_else(|| ticks::floor(Utc::now(), probe.interval)) });
    let clients = Clients::new(&probe.aws, &probe.region()).await;
    match once(&probe, &clients, Default::default(), tick.as_ref(), &|_| {}).await {
        Once::Ran(report) => {
            emit(&emf_line(&report, probe.alert.warning_is_failure));
            Response::of(&report)
        }
        Once::Duplicate { .. } => Response {
            probe: probe.name.clone(),
            outcome: None,
            code: 0,
            diagnosis: None,
            summary: None,
            duplicate: true,
        },
    }
}

/// An UNKNOWN run of a probe that could not be set up, with its EMF line — filed under the broken file's
/// own name and pool id when they can be read, so the probe's blind alarm counts it.
fn unusable(selector: &Selector<'_>, message: &str, emit: &(dyn Fn(&str) + Sync)) -> Response {
    let asked = selector.probe.unwrap_or_default();
    tracing::warn!(probe = asked, "{message}");
    let (name, pool) = lookup::identity_hint(selector);
    let mut report = Report::unusable_config(name.as_deref().unwrap_or(asked), message);
    report.pool_id = pool.unwrap_or_default();
    emit(&emf_line(&report, false));
    Response::of(&report)
}

/// The run's EMF document (one line).
fn emf_line(report: &Report, warning_is_failure: bool) -> String {
    crate::emf::document(report, warning_is_failure)
}

fn json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_one_probe_or_a_list_and_nothing_else() {
        let cases = [
            ("scheduler payload", r#"{"probe": "production", "tick": "2026-12-02T03:10:00Z"}"#, None),
            ("list", r#"{"probes": ["a", "b"]}"#, None),
            ("unknown key", r#"{"probe": "p", "pool": "x"}"#, Some("unknown field `pool`")),
            ("both", r#"{"probe": "p", "probes": ["q"]}"#, Some("both \"probe\" and \"probes\"")),
            ("neither", r#"{}"#, Some("no \"probe\"")),
            ("empty name", r#"{"probe": " "}"#, Some("\"probe\" is empty")),
            ("empty list", r#"{"probes": []}"#, Some("\"probes\" is empty")),
            ("not an object", r#""production""#, Some("expected {\"probe\"")),
            ("wrong type", r#"{"probe": 7}"#, Some("invalid type")),
        ];
        for (case, text, expected) in cases {
            let result = parse(&serde_json::from_str(text).unwrap());
            match expected {
                None => assert!(result.is_ok(), "{case}: {:?}", result.err()),
                Some(message) => {
                    let err = result.expect_err(case);
                    assert!(err.contains(message), "{case}: {err}");
                }
            }
        }
    }
}
