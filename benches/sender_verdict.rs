//! Time from the trigger to the CRITICAL verdict for each sender-side fault, on the twin's busy account
//! (`crates/twin/scenarios/busy.toml`: another sender mails 30 a minute through the pool's configuration
//! set), side by side in one run:
//!
//! * **per-message evidence** — `[ses_events]` (the set's records in the twin's SQS queue) and Cognito's
//!   delivery-error log: the run ends as soon as the evidence is conclusive;
//! * **metric only** — the `AWS/SES` metrics and nothing else, as every run did before: the verdict waits
//!   out the inbox timeout plus `settle`, and on a busy account it cannot name the side at all.
//!
//! Both rows use the same probe file (timeout `SENDER_BENCH_TIMEOUT`, default 20 s; settle 5 s; metric
//! polling 1 s) against the same twin and read the mailbox as a Maildir (the inbox is not what is
//! measured). A suppressed address is refused before the trigger: its row shows the time from the run's
//! start. Run: `cargo bench --bench sender_verdict`.

use std::path::Path;
use std::time::Duration;

use cognito_delivery_probe::aws::Clients;
use cognito_delivery_probe::config::ProbeFile;
use cognito_delivery_probe::report::Report;
use serde_json::{Value, json};
use twin::scenario::Scenario;

const PROD: &str = "us-east-1_knEL7cqS3";
const QUEUE: &str = "cognito-probe-ses-events";

/// (fault, test user, twin faults)
fn faults() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        ("identity policy missing", "probe-prod-fcp", json!({"identity_policy_missing": true})),
        ("suppressed address", "probe-prod-suppressed", json!({})),
        ("hard bounce", "probe-prod-fcp", json!({"bounce": {"type": "Permanent", "subtype": "General"}})),
        (
            "soft bounce given up (after 2 s)",
            "probe-prod-fcp",
            json!({"bounce": {"type": "Transient", "subtype": "MailboxFull", "after_seconds": 2}}),
        ),
        ("reject", "probe-prod-fcp", json!({"reject": true})),
        ("rendering failure", "probe-prod-fcp", json!({"rendering_failure": true})),
        ("recipient drop after a 250", "probe-prod-fcp", json!({"recipient_drop": "silent"})),
    ]
}

fn clear() -> Value {
    json!({
        "identity_policy_missing": false, "recipient_drop": "none", "bounce": null, "reject": false,
        "rendering_failure": false, "delivery_delay": null,
    })
}

fn probe_file(rig: &testkit::Rig, user: &str, timeout: Duration, evidence: bool) -> ProbeFile {
    let sources = if evidence {
        format!("[ses_events]\nqueue_url = \"{}/657033058608/{QUEUE}\"\n", rig.endpoint_url())
    } else {
        "[cognito_logs]\nenabled = false\n".to_string()
    };
    let text = format!(
        "pool_id = \"{PROD}\"\nusername = \"{user}\"\ntimeout = \"{}s\"\n{}\n{}\n[expect]\nfrom = \
         \"noreply@thephenom.app\"\n[cloudwatch]\npoll_interval = \"1s\"\nsettle = \"5s\"\n{sources}",
        timeout.as_secs(),
        rig.aws_section(),
        rig.maildir_section(),
    );
    ProbeFile::parse(&text, Path::new("bench.toml")).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// Seconds from the trigger (or the run's start, when nothing was triggered) to the verdict.
fn decided_after(r: &Report) -> f64 {
    let from = r.trigger.as_ref().map(|t| t.at).unwrap_or(r.started_at);
    (r.finished_at - from).as_seconds_f64()
}

fn main() {
    let timeout = std::env::var("SENDER_BENCH_TIMEOUT")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(20));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let scenario = Scenario::busy_scenario().expect("the busy scenario parses");
        let rig = testkit::Rig::builder().scenario(scenario).build().await;
        let clients = Clients::from_sdk_config(rig.sdk_config().await);
        println!(
            "sender-side faults on a busy account (30 other mails a minute); timeout {}s + settle 5s = {}s",
            timeout.as_secs(),
            timeout.as_secs() + 5
        );
        println!("{:<34} {:>30} {:>30}", "fault", "events + Cognito logs", "metric only");
        for (name, user, faults) in faults() {
            let mut cells = Vec::new();
            for evidence in [true, false] {
                rig.control().patch_faults(&clear()).unwrap();
                // A hard bounce lists the address, as SES does: each row starts off the list.
                rig.control().unsuppress("probe+prod-fcp@mail.test");
                rig.control().patch_faults(&faults).unwrap();
                let probe = probe_file(&rig, user, timeout, evidence);
                let report = cognito_delivery_probe::probe::run(&probe, &clients, &|_| {}).await;
                cells.push(format!("{:>7.2}s {:<20}", decided_after(&report), report.diagnosis.code.as_str()));
            }
            println!("{name:<34} {:>30} {:>30}", cells[0], cells[1]);
        }
        rig.shutdown().await;
    });
}
