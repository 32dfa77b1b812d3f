//! Sender-side evidence end to end on a busy account (issue: "every sender-side fault gets its own correct
//! diagnosis with events enabled, and no run without events ever claims 'SES sent' when other mail could
//! explain the rise"). The twin's busy scenario (`crates/twin/scenarios/busy.toml`): another sender of the
//! account mails 30 a minute through the pool's configuration set, whose records reach the SQS queue the
//! probe reads; the pool exports its delivery errors to CloudWatch Logs. Real SDK clients over HTTP, a real
//! Dovecot over TLS for the inbox.

use std::path::Path;

use cognito_delivery_probe::aws::Clients;
use cognito_delivery_probe::config::ProbeFile;
use cognito_delivery_probe::report::Report;
use cognito_delivery_probe::verdict::{Outcome, Phase};
use serde_json::{Value, json};
use twin::scenario::Scenario;

const PROD: &str = "us-east-1_knEL7cqS3";
const ACCOUNT: &str = "657033058608";
const QUEUE: &str = "cognito-probe-ses-events";

struct Rig {
    rig: testkit::Rig,
    clients: Clients,
}

/// Which sender evidence a probe file sets up.
#[derive(Clone, Copy, PartialEq)]
enum Evidence {
    /// `[ses_events]` and Cognito's logs (both on).
    Full,
    /// Only the events queue; `[cognito_logs] enabled = false`.
    EventsOnly,
    /// Neither: the metrics and the suppression list.
    MetricsOnly,
}

impl Rig {
    async fn start() -> Rig {
        let scenario = Scenario::busy_scenario().expect("the busy scenario parses");
        let rig = testkit::Rig::builder().scenario(scenario).dovecot(true).build().await;
        let clients = Clients::from_sdk_config(rig.sdk_config().await);
        Rig { rig, clients }
    }

    fn queue_url(&self) -> String {
        format!("{}/{ACCOUNT}/{QUEUE}", self.rig.endpoint_url())
    }

    fn probe(&self, username: &str, evidence: Evidence, extra: &str) -> ProbeFile {
        let events = match evidence {
            Evidence::Full | Evidence::EventsOnly => format!("[ses_events]\nqueue_url = \"{}\"\n", self.queue_url()),
            Evidence::MetricsOnly => String::new(),
        };
        let logs = if evidence == Evidence::Full { "" } else { "[cognito_logs]\nenabled = false\n" };
        let text = format!(
            r#"pool_id = "{PROD}"
username = "{username}"
timeout = "8s"
{aws}
{imap}
[expect]
from = "noreply@thephenom.app"
[cloudwatch]
poll_interval = "200ms"
settle = "1s"
{events}{logs}{extra}"#,
            aws = self.rig.aws_section(),
            imap = self.rig.imap_section(),
        );
        ProbeFile::parse(&text, Path::new("sender.toml")).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    async fn run(&self, probe: &ProbeFile) -> Report {
        cognito_delivery_probe::probe::run(probe, &self.clients, &|_| {}).await
    }

    /// Clears every fault of the previous case and takes the test address off the suppression list, where
    /// a hard bounce puts it as SES does (the background and the queue keep running).
    fn faults(&self, faults: &Value) {
        self.rig.control().unsuppress("probe+prod-fcp@mail.test");
        let clear = json!({
            "identity_policy_missing": false, "recipient_drop": "none", "bounce": null, "reject": false,
            "rendering_failure": false, "delivery_delay": null, "event_duplicates": false,
            "event_out_of_order": false,
        });
        self.rig.control().patch_faults(&clear).unwrap();
        self.rig.control().patch_faults(faults).unwrap_or_else(|e| panic!("{faults}: {e}"));
    }
}

fn text(r: &Report) -> String {
    cognito_delivery_probe::output::text(r).to_string()
}

/// Seconds from the trigger to the verdict.
fn decided_after(r: &Report) -> f64 {
    let trigger = r.trigger.as_ref().map(|t| t.at).unwrap_or(r.started_at);
    (r.finished_at - trigger).as_seconds_f64()
}

/// (case, faults, outcome, phase, code, phrases the text output must hold, decided before the timeout)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::type_complexity)] // a case table reads best as tuples
async fn every_sender_fault_on_a_busy_account_gets_its_own_diagnosis_in_seconds() {
    let rig = Rig::start().await;
    let cases: Vec<(&str, Value, Outcome, Phase, &str, Vec<&str>, bool)> = vec![
        (
            "identity policy missing",
            json!({"identity_policy_missing": true}),
            Outcome::Critical,
            Phase::Ses,
            "two_piece_gotcha",
            vec!["Cognito logged", "is not authorized to perform `ses:SendEmail'", "aws_ses_identity_policy"],
            true,
        ),
        (
            "hard bounce",
            json!({"bounce": {"type": "Permanent", "subtype": "NoEmail"}}),
            Outcome::Critical,
            Phase::Ses,
            "bounced",
            vec!["Permanent/NoEmail", "SES Bounce record"],
            true,
        ),
        (
            "soft bounce given up",
            json!({"bounce": {"type": "Transient", "subtype": "MailboxFull", "after_seconds": 1}}),
            Outcome::Critical,
            Phase::Ses,
            "bounced",
            vec!["Transient/MailboxFull"],
            true,
        ),
        ("reject", json!({"reject": true}), Outcome::Critical, Phase::Ses, "rejected", vec!["Bad content"], true),
        (
            "rendering failure",
            json!({"rendering_failure": true}),
            Outcome::Critical,
            Phase::Ses,
            "rendering_failed",
            vec!["SES Rendering Failure record"],
            true,
        ),
        (
            "delivery delay",
            json!({"delivery_delay": {"type": "TransientCommunicationFailure", "then": "pending"}}),
            Outcome::Warning,
            Phase::Ses,
            "delivery_delayed",
            vec!["TransientCommunicationFailure", "retried until"],
            false,
        ),
        (
            "recipient drop after a 250",
            json!({"recipient_drop": "silent"}),
            Outcome::Critical,
            Phase::Inbox,
            "recipient_side",
            vec!["SES Delivery record", "receiver answered 250"],
            false,
        ),
    ];
    let probe = rig.probe("probe-prod-fcp", Evidence::Full, "");
    for (case, faults, outcome, phase, code, phrases, fast) in cases {
        rig.faults(&faults);
        let report = rig.run(&probe).await;
        let shown = text(&report);
        assert_eq!(
            (report.outcome, report.phase, report.diagnosis.code.as_str()),
            (outcome, phase, code),
            "{case}:\n{shown}"
        );
        for phrase in phrases {
            assert!(shown.contains(phrase), "{case}: {phrase:?} missing:\n{shown}");
        }
        if fast {
            assert!(decided_after(&report) < 8.0, "{case}: decided before the 8 s timeout:\n{shown}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suppressed_address_is_critical_before_any_mail_is_sent() {
    let rig = Rig::start().await;
    let probe = rig.probe("probe-prod-suppressed", Evidence::MetricsOnly, "");
    let sent = rig.rig.control().sent().len();
    let report = rig.run(&probe).await;
    let shown = text(&report);
    assert_eq!((report.outcome, report.diagnosis.code.as_str()), (Outcome::Critical, "suppressed"), "{shown}");
    assert!(report.trigger.is_none(), "no trigger for an address SES would never mail:\n{shown}");
    assert_eq!(rig.rig.control().sent().len(), sent, "nothing was sent");
    for phrase in [
        "BOUNCE, since 2026-11-20 08:00 UTC",
        "0100019aa0b1c2d3-7e4f5a6b-8c9d-4e0f-a1b2-c3d4e5f60718-000000",
        "aws sesv2 delete-suppressed-destination --email-address 'probe+prod-suppressed@mail.test' --region us-east-1",
    ] {
        assert!(shown.contains(phrase), "{phrase:?} missing:\n{shown}");
    }

    // Without the check before the trigger, SES's own OnAccountSuppressionList bounce record decides at once.
    let unchecked = rig.probe("probe-prod-suppressed", Evidence::EventsOnly, "[suppression]\ncheck = false\n");
    let report = rig.run(&unchecked).await;
    let shown = text(&report);
    assert_eq!(report.diagnosis.code.as_str(), "suppressed", "{shown}");
    assert!(shown.contains("OnAccountSuppressionList"), "{shown}");
    assert!(decided_after(&report) < 8.0, "decided before the timeout:\n{shown}");
}

/// Without per-message evidence the metrics decide only what they can: on a busy account every missing
/// mail is `sender_unknown`, with the background rate, never "SES sent" (`recipient_side`) and never an
/// inferred gotcha.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_events_a_busy_account_never_reads_as_ses_sent() {
    let rig = Rig::start().await;
    let probe = rig.probe("probe-prod-fcp", Evidence::MetricsOnly, "");
    for (case, faults) in [
        ("identity policy missing", json!({"identity_policy_missing": true})),
        ("recipient drop", json!({"recipient_drop": "silent"})),
    ] {
        rig.faults(&faults);
        let report = rig.run(&probe).await;
        let shown = text(&report);
        assert_eq!(report.diagnosis.code.as_str(), "sender_unknown", "{case}:\n{shown}");
        assert!(shown.contains("other mails a minute"), "{case}: the background rate is the evidence:\n{shown}");
        assert!(!shown.contains("SES sent the mail"), "{case}:\n{shown}");
    }
    // With the events queue, the same gotcha is proven: no record of the message while other mail's came.
    rig.faults(&json!({"identity_policy_missing": true}));
    let report = rig.run(&rig.probe("probe-prod-fcp", Evidence::EventsOnly, "")).await;
    let shown = text(&report);
    assert_eq!(report.diagnosis.code.as_str(), "two_piece_gotcha", "{shown}");
    assert!(shown.contains("records of other mail came through the same queue"), "{shown}");
}

/// A healthy run's sender timeline, and a queue that misbehaves: duplicated and reordered records, bodies
/// that are not SES records, foreign records — the verdict stays right and the oddities are named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_run_shows_the_sender_timeline_whatever_the_queue_holds() {
    let rig = Rig::start().await;
    let probe = rig.probe("probe-prod-fcp", Evidence::Full, "");
    rig.faults(&json!({"event_duplicates": true, "event_out_of_order": true}));
    rig.rig.control().send_to_queue(QUEUE, "{not json").unwrap();
    rig.rig.control().send_to_queue(QUEUE, r#"{"Type": "SubscriptionConfirmation", "Token": "x"}"#).unwrap();
    let report = rig.run(&probe).await;
    let shown = text(&report);
    assert_eq!((report.outcome, report.diagnosis.code.as_str()), (Outcome::Ok, "delivered"), "{shown}");
    let sender = shown.lines().find(|l| l.trim_start().starts_with("sender:")).unwrap_or_else(|| panic!("{shown}"));
    let order: Vec<usize> = ["SES accepted", "receiver 250", "visible", "detected"]
        .iter()
        .map(|hop| sender.find(hop).unwrap_or_else(|| panic!("{hop:?} not in {sender}")))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "hops in order: {sender}");
    let kinds: Vec<&str> = report.ses.events.iter().map(|e| e.kind.name()).collect();
    assert_eq!(kinds, ["Send", "Delivery"], "one of each, in the order they happened: {kinds:?}");
    let mail_id = report.mail.as_ref().and_then(|m| m.ses_message_id.clone()).expect("SES's Message-ID form");
    assert!(report.ses.events.iter().all(|e| e.message_id == mail_id), "the records are the delivered mail's");
    // A shared queue: the other mail's records and the odd bodies stay for their consumer; the probe's go.
    let left: Vec<Value> = rig.rig.control().queue_messages(QUEUE);
    assert!(left.iter().any(|m| m.as_str() == Some("{not json")), "the malformed body is left: {left:?}");
    assert!(!left.iter().any(|m| m.to_string().contains(&mail_id)), "the probe's own records are deleted");
    let note = report.notes.iter().find(|n| n.contains("queue messages are not SES records"));
    assert!(note.is_some_and(|n| n.starts_with("2 ")), "both odd bodies named once: {:?}", report.notes);
}

/// Sources that cannot be read are notes and the run falls back; never a wrong CRITICAL, never a crash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_sources_are_notes_and_never_a_wrong_verdict() {
    let rig = Rig::start().await;
    let wrong_queue = format!("[ses_events]\nqueue_url = \"{}/{ACCOUNT}/no-such-queue\"\n", rig.rig.endpoint_url());
    let denied = json!({"access_denied": [
        "ReceiveMessage", "FilterLogEvents", "GetSuppressedDestination", "GetLogDeliveryConfiguration"
    ]});
    // (case, evidence, extra probe lines, faults, the note it must leave, what the gotcha then reads as)
    let cases = [
        (
            "a queue that does not exist",
            Evidence::MetricsOnly,
            wrong_queue,
            json!({}),
            "SES event queue",
            "sender_unknown",
        ),
        (
            "a log group that does not exist",
            Evidence::Full,
            "[cognito_logs]\nlog_group = \"/aws/cognito/userpools/gone\"\n".to_string(),
            json!({}),
            "delivery-error log /aws/cognito/userpools/gone not read",
            "two_piece_gotcha",
        ),
        ("no permission for any source", Evidence::Full, String::new(), denied, "not read", "sender_unknown"),
    ];
    for (case, evidence, extra, faults, note, gotcha) in cases {
        let probe = rig.probe("probe-prod-fcp", evidence, &extra);
        for (chain, chain_faults, outcome, code) in [
            ("healthy", json!({}), Outcome::Ok, "delivered"),
            ("gotcha", json!({"identity_policy_missing": true}), Outcome::Critical, gotcha),
        ] {
            rig.faults(&chain_faults);
            rig.rig.control().patch_faults(&faults).unwrap();
            let report = rig.run(&probe).await;
            let shown = text(&report);
            assert_eq!((report.outcome, report.diagnosis.code.as_str()), (outcome, code), "{case}, {chain}:\n{shown}");
            assert!(report.notes.iter().any(|n| n.contains(note)), "{case}, {chain}: {note:?} in {:?}", report.notes);
        }
        rig.rig.control().patch_faults(&json!({"access_denied": []})).unwrap();
    }
}
