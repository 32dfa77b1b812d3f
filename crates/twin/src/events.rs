//! SES event publishing: the records SES writes for a message sent through a configuration set, and how
//! they reach the account's SQS queues (research/ses-events-oauth-emf.md §1).
//!
//! * A record is `{eventType, mail, <type object>}` ("Record shape": SNS, Firehose and EventBridge share
//!   it); [`SentMail`] holds the `mail` object, the builders below the per-type objects.
//! * Each enabled destination of the set whose `MatchingEventTypes` hold the type gets it: an EventBridge
//!   destination as the `detail` of an EventBridge event on the default bus (a rule → SQS), an SNS
//!   destination as the `Message` of an SNS notification (an SQS subscription), or the record itself
//!   with raw message delivery; a CloudWatch destination turns it into the fine-grained metric (§3).
//! * Delivery is best effort and "might be delivered out of order" (§1): the faults `event_duplicates`
//!   and `event_out_of_order` make both happen on purpose.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::cloudwatch::SesMetric;
use crate::scenario::DestinationKind;
use crate::{Shared, State};

/// SESv2 `MatchingEventTypes` (research §1 "Destinations and event types").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventType {
    Send,
    Reject,
    Bounce,
    Complaint,
    Delivery,
    Open,
    Click,
    RenderingFailure,
    DeliveryDelay,
    Subscription,
}

impl EventType {
    /// The record's `eventType` (research §1 "Record shape": Bounce | Complaint | Delivery | Send | Reject
    /// | Open | Click | `Rendering Failure` | DeliveryDelay | Subscription).
    pub fn record_name(self) -> &'static str {
        match self {
            EventType::Send => "Send",
            EventType::Reject => "Reject",
            EventType::Bounce => "Bounce",
            EventType::Complaint => "Complaint",
            EventType::Delivery => "Delivery",
            EventType::Open => "Open",
            EventType::Click => "Click",
            EventType::RenderingFailure => "Rendering Failure",
            EventType::DeliveryDelay => "DeliveryDelay",
            EventType::Subscription => "Subscription",
        }
    }

    /// The key of the per-type object (research §1: `bounce`, `complaint`, `delivery`, `send`, `reject`,
    /// `open`, `click`, `failure`, `deliveryDelay`, `subscription`).
    pub fn object_key(self) -> &'static str {
        match self {
            EventType::Send => "send",
            EventType::Reject => "reject",
            EventType::Bounce => "bounce",
            EventType::Complaint => "complaint",
            EventType::Delivery => "delivery",
            EventType::Open => "open",
            EventType::Click => "click",
            EventType::RenderingFailure => "failure",
            EventType::DeliveryDelay => "deliveryDelay",
            EventType::Subscription => "subscription",
        }
    }

    /// The EventBridge `detail-type` (research §1 "EventBridge names").
    pub fn detail_type(self) -> &'static str {
        match self {
            EventType::Send => "Email Sent",
            EventType::Reject => "Email Rejected",
            EventType::Bounce => "Email Bounced",
            EventType::Complaint => "Email Complaint Received",
            EventType::Delivery => "Email Delivered",
            EventType::Open => "Email Opened",
            EventType::Click => "Email Clicked",
            EventType::RenderingFailure => "Email Rendering Failed",
            EventType::DeliveryDelay => "Email Delivery Delayed",
            EventType::Subscription => "Email Subscribed",
        }
    }

    /// The `AWS/SES` metric of this event type (research §3 metric names), where the twin publishes one.
    pub fn metric(self) -> Option<SesMetric> {
        match self {
            EventType::Send => Some(SesMetric::Send),
            EventType::Reject => Some(SesMetric::Reject),
            EventType::Bounce => Some(SesMetric::Bounce),
            EventType::Complaint => Some(SesMetric::Complaint),
            EventType::Delivery => Some(SesMetric::Delivery),
            EventType::RenderingFailure => Some(SesMetric::RenderingFailure),
            EventType::DeliveryDelay => Some(SesMetric::DeliveryDelay),
            EventType::Open | EventType::Click | EventType::Subscription => None,
        }
    }
}

/// A message SES accepted, as its records' `mail` object describes it (research §1 "Record shape").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SentMail {
    /// The SES message id; the id inside the delivered `Message-ID` header.
    pub message_id: String,
    /// When SES accepted the message.
    pub timestamp: DateTime<Utc>,
    /// The From address as the sender gave it.
    pub source: String,
    /// ARN of the identity SES sent as.
    pub source_arn: String,
    pub sending_account_id: String,
    pub destination: Vec<String>,
    /// The original headers, in order.
    pub headers: Vec<(String, String)>,
    pub subject: String,
    pub reply_to: Option<String>,
    /// RFC 5322 Date of the message.
    pub date: String,
    /// The configuration set SES applied; `None`: no set, so no records at all.
    pub configuration_set: Option<String>,
    pub region: String,
    /// Outbound SES host (Delivery `reportingMTA`) and IP (`ses:outgoing-ip`).
    pub outbound_host: String,
    pub outbound_ip: String,
    /// `ses:caller-identity` and `ses:source-ip`: who called SES, from where.
    pub caller_identity: String,
    pub source_ip: String,
}

impl SentMail {
    /// The `mail` object (research §1): timestamp, messageId, source, sourceArn, sendingAccountId,
    /// destination, headersTruncated, headers, commonHeaders and tags. With a configuration set, SES
    /// adds the auto-tags `ses:configuration-set`, `ses:source-ip`, `ses:from-domain`,
    /// `ses:caller-identity` and `ses:outgoing-ip` ("Auto-tags need a configuration set").
    pub fn to_json(&self) -> Value {
        let headers: Vec<Value> = self.headers.iter().map(|(n, v)| json!({"name": n, "value": v})).collect();
        // research §1: headersTruncated is true when the headers exceed 10 KB.
        let size: usize = self.headers.iter().map(|(n, v)| n.len() + v.len() + 4).sum();
        let mut common = json!({
            "from": [self.source],
            "date": self.date,
            "to": self.destination,
            "subject": self.subject,
        });
        if let Some(reply_to) = &self.reply_to {
            common["replyTo"] = json!([reply_to]);
        }
        let mut tags = BTreeMap::new();
        if let Some(cs) = &self.configuration_set {
            let from_domain = self.source.rsplit_once('@').map(|(_, d)| d.trim_end_matches('>')).unwrap_or_default();
            tags.insert("ses:configuration-set", vec![cs.clone()]);
            tags.insert("ses:source-ip", vec![self.source_ip.clone()]);
            tags.insert("ses:from-domain", vec![from_domain.to_string()]);
            tags.insert("ses:caller-identity", vec![self.caller_identity.clone()]);
            tags.insert("ses:outgoing-ip", vec![self.outbound_ip.clone()]);
        }
        json!({
            "timestamp": iso_millis(self.timestamp),
            "source": self.source,
            "sourceArn": self.source_arn,
            "sendingAccountId": self.sending_account_id,
            "messageId": self.message_id,
            "destination": self.destination,
            "headersTruncated": size > 10 * 1024,
            "headers": headers,
            "commonHeaders": common,
            "tags": tags,
        })
    }

    /// The whole record: `{eventType, mail, <object key>: detail}`.
    pub fn record(&self, event: EventType, detail: Value) -> Value {
        let mut record = json!({"eventType": event.record_name(), "mail": self.to_json()});
        record[event.object_key()] = detail;
        record
    }
}

/// `2026-11-26T12:00:25.000Z`: the millisecond timestamps of SES records and SNS notifications.
pub fn iso_millis(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The EventBridge event SES puts on the default bus (research §1: `source` `aws.ses`, the detail-type
/// of the record, `detail` = the record). `resources` names the configuration set,
/// `arn:aws:ses:<region>:<account>:configuration-set/<name>` (the SES EventBridge reference's sample
/// events; public fixtures with an empty list exist too, so a reader must not depend on it); `time` has
/// second precision like every EventBridge event.
pub fn eventbridge_envelope(record: &Value, event: EventType, account: &str, region: &str, at: DateTime<Utc>) -> Value {
    let resources: Vec<String> = record["mail"]["tags"]["ses:configuration-set"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|set| format!("arn:aws:ses:{region}:{account}:configuration-set/{set}"))
        .collect();
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": event.detail_type(),
        "source": "aws.ses",
        "account": account,
        "time": at.to_rfc3339_opts(SecondsFormat::Secs, true),
        "region": region,
        "resources": resources,
        "detail": record,
    })
}

/// The SNS notification an SQS subscription receives without raw message delivery: `Type`
/// `Notification`, `MessageId`, `TopicArn`, `Message` = the record as a JSON string, `Timestamp`, and the
/// signature fields (the twin does not sign: `Signature` is a placeholder no verifier accepts).
pub fn sns_envelope(record: &Value, topic_arn: &str, region: &str, at: DateTime<Utc>) -> Value {
    use base64::Engine as _;
    let signature = base64::engine::general_purpose::STANDARD.encode(uuid::Uuid::new_v4().as_bytes());
    json!({
        "Type": "Notification",
        "MessageId": uuid::Uuid::new_v4().to_string(),
        "TopicArn": topic_arn,
        "Message": record.to_string(),
        "Timestamp": iso_millis(at),
        "SignatureVersion": "1",
        "Signature": signature,
        "SigningCertURL": format!("https://sns.{region}.amazonaws.com/SimpleNotificationService-twin.pem"),
        "UnsubscribeURL": format!(
            "https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={topic_arn}:{}",
            uuid::Uuid::new_v4()
        ),
    })
}

/// Publishes one event of `mail` to every destination of its configuration set that matches the event
/// type. `last`: the message's final event, which releases the records the out-of-order fault holds.
pub(crate) fn publish(
    shared: &Shared,
    state: &mut State,
    mail: &SentMail,
    event: EventType,
    detail: Value,
    at: DateTime<Utc>,
    last: bool,
) {
    let Some(cs) = &mail.configuration_set else {
        return;
    };
    let Some(set) = state.scenario.configuration_set(cs).cloned() else {
        // A set the scenario does not declare has no destinations.
        return;
    };
    let record = mail.record(event, detail);
    let account = state.scenario.account.id.as_str().to_string();
    let faults = (state.scenario.faults.event_duplicates, state.scenario.faults.event_out_of_order);
    for destination in set.event_destinations.iter().filter(|d| d.enabled) {
        if !destination.matching_event_types.contains(&event) {
            continue;
        }
        let body = match destination.kind {
            DestinationKind::Cloudwatch => {
                // research §3: the fine-grained metrics come from the events a CloudWatch destination
                // matches, with the set's name as the `ses:configuration-set` dimension value.
                if let Some(metric) = event.metric() {
                    state.metrics.record_configuration_set(metric, cs, at);
                }
                continue;
            }
            DestinationKind::Eventbridge => {
                eventbridge_envelope(&record, event, &account, &mail.region, at).to_string()
            }
            DestinationKind::Sns if destination.raw_message_delivery => record.to_string(),
            DestinationKind::Sns => {
                let topic = destination.topic.as_deref().unwrap_or(&destination.name);
                let arn = format!("arn:aws:sns:{}:{account}:{topic}", mail.region);
                sns_envelope(&record, &arn, &mail.region, at).to_string()
            }
        };
        let Some(queue) = destination.queue.clone() else {
            continue;
        };
        let copies = if faults.0 { 2 } else { 1 };
        let key = (format!("{cs}/{}", destination.name), mail.message_id.clone());
        let held = state.held_events.entry(key).or_default();
        for _ in 0..copies {
            held.push((queue.clone(), body.clone()));
        }
        if !faults.1 {
            release(shared, state, &format!("{cs}/{}", destination.name), &mail.message_id, false);
        }
    }
    if last {
        let keys: Vec<String> =
            state.held_events.keys().filter(|(_, id)| *id == mail.message_id).map(|(d, _)| d.clone()).collect();
        for destination in keys {
            release(shared, state, &destination, &mail.message_id, faults.1);
        }
    }
}

/// Moves the held records of one message and destination into their queue, newest first when reversed.
fn release(shared: &Shared, state: &mut State, destination: &str, message_id: &str, reversed: bool) {
    let Some(mut held) = state.held_events.remove(&(destination.to_string(), message_id.to_string())) else {
        return;
    };
    if reversed {
        held.reverse();
    }
    let now = shared.clock.now();
    for (queue, body) in held {
        state.queues.enqueue(&queue, body, now);
    }
    shared.queue_wake.notify_waiters();
}

// ---------------------------------------------------------------- per-type objects (research §1)

/// `delivery`: timestamp, processingTimeMillis ("between when Amazon SES accepted the request from the
/// sender to when Amazon SES passed the message to the recipient's mail server"), recipients,
/// smtpResponse, reportingMTA ("host name of the Amazon SES mail server that sent the mail").
pub fn delivery(mail: &SentMail, at: DateTime<Utc>, smtp_response: &str) -> Value {
    json!({
        "timestamp": iso_millis(at),
        "processingTimeMillis": (at - mail.timestamp).num_milliseconds().max(0),
        "recipients": mail.destination,
        "smtpResponse": smtp_response,
        "reportingMTA": mail.outbound_host,
    })
}

/// One bounced recipient: with a DSN, `action`, `status` and `diagnosticCode` (research §1 `bounce`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BouncedRecipient {
    pub email: String,
    /// `None`: no DSN (an Undetermined bounce) — only `emailAddress`.
    pub dsn: Option<(String, String)>,
}

/// `bounce`: bounceType, bounceSubType, bouncedRecipients, timestamp, feedbackId, and reportingMTA
/// (research §1: "only with a DSN").
pub fn bounce(
    at: DateTime<Utc>,
    bounce_type: &str,
    subtype: &str,
    recipients: &[BouncedRecipient],
    reporting_mta: Option<&str>,
    feedback_id: &str,
) -> Value {
    let recipients: Vec<Value> = recipients
        .iter()
        .map(|r| match &r.dsn {
            Some((status, diagnostic)) => json!({"emailAddress": r.email, "action": "failed", "status": status,
                "diagnosticCode": diagnostic}),
            None => json!({"emailAddress": r.email}),
        })
        .collect();
    let mut out = json!({
        "bounceType": bounce_type,
        "bounceSubType": subtype,
        "bouncedRecipients": recipients,
        "timestamp": iso_millis(at),
        "feedbackId": feedback_id,
    });
    if let Some(mta) = reporting_mta {
        out["reportingMTA"] = json!(mta);
    }
    out
}

/// `complaint`: complainedRecipients, timestamp, feedbackId, complaintSubType (null unless the address
/// was on the suppression list), complaintFeedbackType and arrivalDate (research §1).
pub fn complaint(mail: &SentMail, at: DateTime<Utc>, arrival: DateTime<Utc>, feedback_id: &str) -> Value {
    let recipients: Vec<Value> = mail.destination.iter().map(|d| json!({"emailAddress": d})).collect();
    json!({
        "complainedRecipients": recipients,
        "timestamp": iso_millis(at),
        "feedbackId": feedback_id,
        "complaintSubType": null,
        "complaintFeedbackType": "abuse",
        "arrivalDate": iso_millis(arrival),
    })
}

/// `reject`: research §1 "`reject.reason`: only `Bad content` (virus)".
pub fn reject() -> Value {
    json!({"reason": "Bad content"})
}

/// `failure` of a Rendering Failure: templateName, errorMessage (research §1). The message is the one of
/// the SES developer guide's example record.
pub fn rendering_failure(template: &str) -> Value {
    json!({"errorMessage": "Attribute 'attributeName' is not present in the rendering data.", "templateName": template})
}

/// `deliveryDelay`: delayType, delayedRecipients {emailAddress, status, diagnosticCode}, expirationTime
/// ("when SES stops retrying"), reportingMTA, timestamp (research §1).
pub fn delivery_delay(
    mail: &SentMail,
    at: DateTime<Utc>,
    delay_type: &str,
    status: &str,
    diagnostic: &str,
    expiration: DateTime<Utc>,
) -> Value {
    let recipients: Vec<Value> = mail
        .destination
        .iter()
        .map(|d| json!({"emailAddress": d, "status": status, "diagnosticCode": diagnostic}))
        .collect();
    json!({
        "timestamp": iso_millis(at),
        "delayType": delay_type,
        "expirationTime": iso_millis(expiration),
        "delayedRecipients": recipients,
        "reportingMTA": mail.outbound_host,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(cs: Option<&str>) -> SentMail {
        let t = DateTime::parse_from_rfc3339("2026-11-26T12:00:25Z").unwrap().to_utc();
        SentMail {
            message_id: "0100019ac0e8e3a8-6f1b7c2e-1111-4222-8333-944445555666-000000".into(),
            timestamp: t,
            source: "Phenom <noreply@thephenom.app>".into(),
            source_arn: "arn:aws:ses:us-east-1:657033058608:identity/noreply@thephenom.app".into(),
            sending_account_id: "657033058608".into(),
            destination: vec!["probe+prod-fcp@mail.test".into()],
            headers: vec![("From".into(), "Phenom <noreply@thephenom.app>".into())],
            subject: "Your temporary password".into(),
            reply_to: None,
            date: "Thu, 26 Nov 2026 12:00:25 +0000".into(),
            configuration_set: cs.map(str::to_string),
            region: "us-east-1".into(),
            outbound_host: "a8-64.smtp-out.amazonses.com".into(),
            outbound_ip: "54.240.8.64".into(),
            caller_identity: "AWSServiceRoleForAmazonCognitoIdpEmailService".into(),
            source_ip: "10.0.1.2".into(),
        }
    }

    #[test]
    fn record_shape_and_names() {
        let m = mail(Some("cognito-mail"));
        let at = m.timestamp + chrono::Duration::milliseconds(1500);
        let r = m.record(EventType::Delivery, delivery(&m, at, "250 ok dirdel"));
        assert_eq!(r["eventType"], "Delivery");
        assert_eq!(r["mail"]["messageId"], m.message_id);
        assert_eq!(r["mail"]["timestamp"], "2026-11-26T12:00:25.000Z");
        assert_eq!(r["mail"]["tags"]["ses:configuration-set"], json!(["cognito-mail"]));
        assert_eq!(r["mail"]["tags"]["ses:from-domain"], json!(["thephenom.app"]));
        assert_eq!(r["delivery"]["processingTimeMillis"], 1500);
        assert_eq!(r["delivery"]["reportingMTA"], "a8-64.smtp-out.amazonses.com");
        let f = m.record(EventType::RenderingFailure, rendering_failure("t"));
        assert_eq!(
            (f["eventType"].as_str(), f["failure"]["templateName"].as_str()),
            (Some("Rendering Failure"), Some("t"))
        );
        assert_eq!(mail(None).to_json()["tags"], json!({}), "no auto-tags without a configuration set");
        let names = [
            (EventType::Send, "Email Sent", "send"),
            (EventType::DeliveryDelay, "Email Delivery Delayed", "deliveryDelay"),
            (EventType::Complaint, "Email Complaint Received", "complaint"),
        ];
        for (t, detail_type, key) in names {
            assert_eq!((t.detail_type(), t.object_key()), (detail_type, key));
        }
    }

    #[test]
    fn envelopes() {
        let m = mail(Some("cognito-mail"));
        let r = m.record(EventType::Send, json!({}));
        let eb = eventbridge_envelope(&r, EventType::Send, "657033058608", "us-east-1", m.timestamp);
        assert_eq!(eb["detail-type"], "Email Sent");
        assert_eq!(eb["source"], "aws.ses");
        assert_eq!(eb["time"], "2026-11-26T12:00:25Z");
        assert_eq!(eb["resources"], json!(["arn:aws:ses:us-east-1:657033058608:configuration-set/cognito-mail"]));
        assert_eq!(eb["detail"], r);
        let sns = sns_envelope(&r, "arn:aws:sns:us-east-1:657033058608:t", "us-east-1", m.timestamp);
        assert_eq!(sns["Type"], "Notification");
        let inner: Value = serde_json::from_str(sns["Message"].as_str().unwrap()).unwrap();
        assert_eq!(inner, r, "Message is the record as a JSON string");
    }

    #[test]
    fn bounce_without_dsn_has_no_reporting_mta() {
        let t = mail(None).timestamp;
        let b = bounce(
            t,
            "Undetermined",
            "Undetermined",
            &[BouncedRecipient { email: "a@b".into(), dsn: None }],
            None,
            "f",
        );
        assert_eq!(b["bouncedRecipients"], json!([{"emailAddress": "a@b"}]));
        assert!(b.get("reportingMTA").is_none());
    }
}
