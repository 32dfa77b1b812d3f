//! The sender-side evidence end to end inside the crate: a Cognito send through the busy scenario's
//! configuration set, and what SES leaves behind — event records in the queue, the delivered mail's
//! Message-ID, the AWS/SES metrics, Cognito's error log and the suppression list — for each fault
//! (research/ses-events-oauth-emf.md §1–§3, §6).

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::Twin;
use crate::clock::Clock;
use crate::cloudwatch::SesMetric;
use crate::scenario::Scenario;

const POOL: &str = "us-east-1_knEL7cqS3";
const QUEUE: &str = "cognito-probe-ses-events";
const GROUP: &str = "/aws/cognito/userpools/phenom-prod/notifications";
const FCP: &str = "probe-prod-fcp";
const FCP_EMAIL: &str = "probe+prod-fcp@mail.test";

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-26T12:00:25Z").unwrap().to_utc()
}

/// The busy scenario without its background traffic (tests switch it on when they need it).
fn quiet_busy() -> Scenario {
    let mut s = Scenario::busy_scenario().expect("busy scenario loads");
    s.background.rate_per_minute = 0;
    s
}

fn twin(scenario: Scenario) -> (Twin, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let twin = Twin::with_clock(scenario, dir.path(), Clock::manual(t0())).unwrap();
    (twin, dir)
}

fn resend(twin: &Twin, user: &str) {
    let input = json!({"UserPoolId": POOL, "Username": user, "MessageAction": "RESEND",
        "DesiredDeliveryMediums": ["EMAIL"]});
    crate::cognito::call(&twin.0, "AdminCreateUser", &input).expect("RESEND succeeds");
}

/// The records in the queue (EventBridge envelopes), as (detail-type, record).
fn records(twin: &Twin) -> Vec<(String, Value)> {
    twin.queue_messages(QUEUE)
        .into_iter()
        .map(|m| (m["detail-type"].as_str().unwrap_or_default().to_string(), m["detail"].clone()))
        .collect()
}

fn types(twin: &Twin) -> Vec<String> {
    records(twin).into_iter().map(|(_, r)| r["eventType"].as_str().unwrap_or_default().to_string()).collect()
}

/// Account-level data points of one metric.
fn account_metric(twin: &Twin, metric: SesMetric) -> usize {
    twin.metric_data().iter().filter(|d| d.metric == metric && d.configuration_set.is_none()).count()
}

fn set_metric(twin: &Twin, metric: SesMetric) -> usize {
    twin.metric_data()
        .iter()
        .filter(|d| d.metric == metric && d.configuration_set.as_deref() == Some("cognito-mail"))
        .count()
}

fn inbox(dir: &tempfile::TempDir) -> Vec<String> {
    let new = dir.path().join("new");
    let mut out: Vec<String> = std::fs::read_dir(new)
        .map(|d| d.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn busy_scenario_loads_with_every_piece_of_evidence() {
    let s = Scenario::busy_scenario().unwrap();
    assert_eq!(s.background.rate_per_minute, 30);
    assert_eq!(s.pools[0].email.configuration_set.as_deref(), Some("cognito-mail"));
    assert!(s.pools[0].log_delivery.is_some());
    assert_eq!(s.suppressed_destinations.len(), 1);
    assert_eq!(s.queues[0].name, QUEUE);
}

#[test]
fn a_delivered_message_has_send_and_delivery_records_matching_its_message_id() {
    let (twin, dir) = twin(quiet_busy());
    resend(&twin, FCP);
    let got = records(&twin);
    assert_eq!(got.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>(), ["Email Sent", "Email Delivered"]);
    let envelope = &twin.queue_messages(QUEUE)[0];
    assert_eq!(envelope["source"], "aws.ses");
    assert_eq!(envelope["resources"], json!(["arn:aws:ses:us-east-1:657033058608:configuration-set/cognito-mail"]));
    let (send, delivery) = (&got[0].1, &got[1].1);
    assert_eq!(send["send"], json!({}));
    assert_eq!(send["mail"]["destination"], json!([FCP_EMAIL]));
    assert_eq!(send["mail"]["tags"]["ses:configuration-set"], json!(["cognito-mail"]));
    assert_eq!(send["mail"]["sourceArn"], "arn:aws:ses:us-east-1:657033058608:identity/noreply@thephenom.app");
    let id = send["mail"]["messageId"].as_str().unwrap();
    assert_eq!(delivery["mail"]["messageId"], id);
    assert!(delivery["delivery"]["smtpResponse"].as_str().unwrap().starts_with("250 2.0.0 OK"), "{delivery}");
    assert_eq!(delivery["delivery"]["recipients"], json!([FCP_EMAIL]));
    assert!(delivery["delivery"]["reportingMTA"].as_str().unwrap().ends_with(".smtp-out.amazonses.com"));
    let mail = inbox(&dir);
    assert_eq!(mail.len(), 1);
    assert!(mail[0].contains(&format!("Message-ID: <{id}@email.amazonses.com>")), "{}", &mail[0][..600]);
    assert_eq!((account_metric(&twin, SesMetric::Send), account_metric(&twin, SesMetric::Delivery)), (1, 1));
    assert_eq!(set_metric(&twin, SesMetric::Send), 1, "the set's CloudWatch destination publishes the dimension");
}

#[test]
fn a_suppressed_address_counts_a_send_and_bounces_without_delivery() {
    let (twin, dir) = twin(quiet_busy());
    resend(&twin, "probe-prod-suppressed");
    assert_eq!(types(&twin), ["Send", "Bounce"]);
    let bounce = &records(&twin)[1].1["bounce"];
    assert_eq!(
        (bounce["bounceType"].as_str(), bounce["bounceSubType"].as_str()),
        (Some("Permanent"), Some("OnAccountSuppressionList"))
    );
    assert_eq!(bounce["bouncedRecipients"][0]["status"], "5.1.1");
    assert_eq!(bounce["reportingMTA"], "dns; amazonses.com");
    assert!(inbox(&dir).is_empty(), "never reaches the Maildir");
    assert_eq!(account_metric(&twin, SesMetric::Send), 1);
    assert_eq!(account_metric(&twin, SesMetric::Delivery), 0);
}

#[test]
fn the_two_piece_gotcha_is_logged_by_cognito_and_publishes_nothing() {
    let (twin, dir) = twin(quiet_busy());
    twin.patch_faults(&json!({"identity_policy_missing": true})).unwrap();
    resend(&twin, FCP);
    assert!(twin.queue_messages(QUEUE).is_empty(), "SES never accepted it: no records");
    assert!(inbox(&dir).is_empty());
    assert_eq!(account_metric(&twin, SesMetric::Send), 0);
    let logged = twin.log_events(GROUP);
    assert_eq!(logged.len(), 1);
    let record = &logged[0];
    assert_eq!(record["eventSource"], "USER_NOTIFICATION");
    assert_eq!(record["logLevel"], "ERROR");
    assert_eq!(record["message"], "Message failed to deliver.");
    assert_eq!(record["logSourceId"]["userPoolId"], POOL);
    assert_eq!(
        record["logSourceId"]["userPoolArn"],
        "arn:aws:cognito-idp:us-east-1:657033058608:userpool/us-east-1_knEL7cqS3"
    );
    assert_eq!(record["eventTimestamp"], t0().timestamp_millis().to_string());
    let error = record["error"].as_str().unwrap();
    assert!(error.contains("is not authorized to perform `ses:SendEmail'"), "{error}");
}

#[test]
fn paused_sending_is_logged_too() {
    let (twin, _dir) = twin(quiet_busy());
    twin.patch_account(&json!({"sending_enabled": false})).unwrap();
    resend(&twin, FCP);
    let error = twin.log_events(GROUP)[0]["error"].as_str().unwrap().to_string();
    assert!(error.ends_with("Sending paused for this account."), "{error}");
}

#[test]
fn faults_publish_their_records_and_metrics() {
    // (fault patch, event types in the queue right after the send, the metric that rises)
    let cases: &[(Value, &[&str], SesMetric)] = &[
        (json!({"bounce": {"type": "Permanent", "subtype": "NoEmail"}}), &["Send", "Bounce"], SesMetric::Bounce),
        (json!({"reject": true}), &["Send", "Reject"], SesMetric::Reject),
        (json!({"rendering_failure": true}), &["Send", "Rendering Failure"], SesMetric::RenderingFailure),
        (json!({"recipient_drop": "silent"}), &["Send", "Delivery"], SesMetric::Delivery),
        (json!({"complaint": true}), &["Send", "Delivery", "Complaint"], SesMetric::Complaint),
    ];
    for (patch, want, metric) in cases {
        let (twin, dir) = twin(quiet_busy());
        twin.patch_faults(patch).unwrap();
        resend(&twin, FCP);
        assert_eq!(types(&twin), *want, "{patch}");
        assert_eq!(account_metric(&twin, *metric), 1, "{patch}: {metric:?}");
        assert_eq!(set_metric(&twin, *metric), 1, "{patch}: {metric:?} with the set's dimension");
        let delivered = patch.get("complaint").is_some();
        assert_eq!(inbox(&dir).len(), usize::from(delivered), "{patch}");
    }
}

#[test]
fn a_soft_bounce_arrives_when_ses_gives_up() {
    let (twin, _dir) = twin(quiet_busy());
    twin.patch_faults(&json!({"bounce": {"type": "Transient", "subtype": "MailboxFull", "after_seconds": 60}}))
        .unwrap();
    resend(&twin, FCP);
    assert_eq!(types(&twin), ["Send"]);
    twin.advance(Duration::seconds(60)).unwrap();
    assert_eq!(types(&twin), ["Send", "Bounce"]);
    let bounce = &records(&twin)[1].1["bounce"];
    assert_eq!(bounce["bounceSubType"], "MailboxFull");
    assert_eq!(bounce["timestamp"], "2026-11-26T12:01:25.000Z");
    let listed = twin.0.lock().suppression.get(FCP_EMAIL).is_some();
    assert!(!listed, "only a hard bounce lists the address");
}

#[test]
fn a_delivery_delay_then_delivery() {
    let (twin, dir) = twin(quiet_busy());
    let patch =
        json!({"delivery_delay": {"type": "TransientCommunicationFailure", "then": "delivered", "after_seconds": 120}});
    twin.patch_faults(&patch).unwrap();
    resend(&twin, FCP);
    assert_eq!(types(&twin), ["Send", "DeliveryDelay"]);
    let delay = &records(&twin)[1].1["deliveryDelay"];
    assert_eq!(delay["delayType"], "TransientCommunicationFailure");
    assert_eq!(delay["delayedRecipients"][0]["diagnosticCode"], "smtp; 421 4.4.1 Unable to connect to remote host");
    assert!(inbox(&dir).is_empty());
    twin.advance(Duration::seconds(120)).unwrap();
    assert_eq!(types(&twin), ["Send", "DeliveryDelay", "Delivery"]);
    assert_eq!(records(&twin)[2].1["delivery"]["processingTimeMillis"], 120_000);
    assert_eq!(inbox(&dir).len(), 1);
}

#[test]
fn duplicated_and_reordered_records() {
    let (twin, _dir) = twin(quiet_busy());
    twin.patch_faults(&json!({"event_duplicates": true})).unwrap();
    resend(&twin, FCP);
    assert_eq!(types(&twin), ["Send", "Send", "Delivery", "Delivery"]);

    let (twin, _dir) = self::twin(quiet_busy());
    twin.patch_faults(&json!({"event_out_of_order": true})).unwrap();
    resend(&twin, FCP);
    assert_eq!(types(&twin), ["Delivery", "Send"]);
}

#[test]
fn sns_envelopes_and_raw_delivery() {
    use crate::scenario::DestinationKind;
    for raw in [false, true] {
        let mut s = quiet_busy();
        let d = &mut s.configuration_sets[0].event_destinations[0];
        d.kind = DestinationKind::Sns;
        d.topic = Some("ses-events".into());
        d.raw_message_delivery = raw;
        let (twin, _dir) = twin(s);
        resend(&twin, FCP);
        let first = &twin.queue_messages(QUEUE)[0];
        let record: Value = if raw {
            first.clone()
        } else {
            assert_eq!(first["Type"], "Notification");
            assert_eq!(first["TopicArn"], "arn:aws:sns:us-east-1:657033058608:ses-events");
            serde_json::from_str(first["Message"].as_str().unwrap()).unwrap()
        };
        assert_eq!(record["eventType"], "Send", "raw={raw}");
        assert_eq!(record["mail"]["destination"], json!([FCP_EMAIL]));
    }
}

#[test]
fn background_senders_raise_send_and_fill_the_queue_with_foreign_records() {
    let (twin, dir) = twin(Scenario::busy_scenario().unwrap());
    // The account was busy before the twin started: 15 minutes at 30 a minute, in the metrics only.
    let history = 15 * 30;
    assert_eq!(account_metric(&twin, SesMetric::Send), history);
    assert_eq!(records(&twin).len(), 0, "the history's records went to their consumer long ago");
    twin.advance(Duration::seconds(60)).unwrap();
    assert_eq!(account_metric(&twin, SesMetric::Send), history + 30);
    assert_eq!(account_metric(&twin, SesMetric::Delivery), history + 30);
    let recs = records(&twin);
    assert_eq!(recs.len(), 60);
    assert!(recs.iter().all(|(_, r)| r["mail"]["source"] == "news@thephenom.app"));
    assert!(recs.iter().all(|(_, r)| r["mail"]["destination"][0].as_str().unwrap().ends_with("@customers.example")));
    assert!(inbox(&dir).is_empty(), "other senders' mail goes elsewhere");
    twin.set_background(0).unwrap();
    twin.advance(Duration::seconds(60)).unwrap();
    assert_eq!(account_metric(&twin, SesMetric::Send), history + 30, "off: nothing more");
}

#[test]
fn suppress_and_unsuppress_by_control() {
    let (twin, dir) = twin(quiet_busy());
    twin.suppress(FCP_EMAIL, crate::scenario::SuppressionReason::Complaint);
    resend(&twin, FCP);
    assert_eq!(types(&twin), ["Send", "Bounce"]);
    assert!(twin.unsuppress(FCP_EMAIL));
    assert!(!twin.unsuppress(FCP_EMAIL));
    // A new send an hour later (the per-user limit allows it) is delivered.
    twin.advance(Duration::seconds(3600)).unwrap();
    resend(&twin, FCP);
    assert_eq!(inbox(&dir).len(), 1);
}
