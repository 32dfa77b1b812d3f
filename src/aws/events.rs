//! SES event records (research/ses-events-oauth-emf.md §1): what SES publishes through a configuration set's
//! event destination, as the probe reads it from an SQS queue. One record per event of one message; the
//! same record arrives in three envelopes, all parsed here:
//!
//! * EventBridge (the default bus, a rule targeting the queue): `{"detail-type": "Email Delivered",
//!   "source": "aws.ses", "detail": <record>, …}`;
//! * SNS with raw message delivery off: `{"Type": "Notification", "Message": "<record as a JSON string>", …}`;
//! * SNS with raw message delivery on: the record itself.
//!
//! Only the fields a verdict needs are kept; anything else of the record is ignored, and a body that is none
//! of the three is [`Parsed::Malformed`] with the reason, never a panic.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

/// What an event says happened to one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// SES accepted the request and will try to deliver (also for a suppressed address, §2).
    Send,
    /// The receiving mail server accepted it.
    Delivery {
        smtp_response: Option<String>,
        reporting_mta: Option<String>,
        processing_time_millis: Option<i64>,
    },
    /// A hard bounce, or a soft bounce SES gave up on (§1 "Event publishing only publishes hard bounces and
    /// soft bounces no longer retried").
    Bounce {
        bounce_type: String,
        bounce_sub_type: String,
        diagnostic_code: Option<String>,
        status: Option<String>,
        reporting_mta: Option<String>,
    },
    Complaint {
        feedback_type: Option<String>,
        sub_type: Option<String>,
    },
    /// SES found a virus and did not attempt delivery (`reject.reason` is only "Bad content").
    Reject {
        reason: Option<String>,
    },
    /// A templated send SES could not render.
    RenderingFailure {
        error_message: Option<String>,
        template_name: Option<String>,
    },
    /// A temporary failure; SES retries until `expiration_time`.
    DeliveryDelay {
        delay_type: Option<String>,
        expiration_time: Option<String>,
        status: Option<String>,
        diagnostic_code: Option<String>,
        reporting_mta: Option<String>,
    },
    /// Open, Click, Subscription: nothing a delivery verdict uses.
    Other(String),
}

impl EventKind {
    /// The record's `eventType` spelling.
    pub fn name(&self) -> &str {
        match self {
            EventKind::Send => "Send",
            EventKind::Delivery { .. } => "Delivery",
            EventKind::Bounce { .. } => "Bounce",
            EventKind::Complaint { .. } => "Complaint",
            EventKind::Reject { .. } => "Reject",
            EventKind::RenderingFailure { .. } => "Rendering Failure",
            EventKind::DeliveryDelay { .. } => "DeliveryDelay",
            EventKind::Other(name) => name,
        }
    }
}

/// One SES event record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SesEvent {
    pub kind: EventKind,
    /// `mail.messageId`: the id inside the delivered `Message-ID` (research §1 "SES messageId vs delivered
    /// Message-ID header").
    pub message_id: String,
    /// `mail.timestamp`: when SES accepted the message.
    pub sent_at: Option<DateTime<Utc>>,
    /// When this event happened (the per-type `timestamp`, else the envelope's time).
    pub at: Option<DateTime<Utc>>,
    /// `mail.destination`.
    pub destination: Vec<String>,
    /// `mail.tags["ses:configuration-set"]`.
    pub configuration_set: Option<String>,
}

/// A queue message's body as read.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Event(Box<SesEvent>),
    /// Valid JSON of another kind (an SNS subscription confirmation, another service's event).
    NotSes(String),
    Malformed(String),
}

/// Parses one queue message body in any of the three envelopes.
pub fn parse(body: &str) -> Parsed {
    let value: Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(e) => return Parsed::Malformed(format!("not JSON: {e}")),
    };
    let envelope_time = value.get("time").or_else(|| value.get("Timestamp")).and_then(Value::as_str).and_then(time);
    let record = if value.get("source").and_then(Value::as_str) == Some("aws.ses") && value.get("detail").is_some() {
        value["detail"].clone()
    } else if value.get("Type").and_then(Value::as_str).is_some() {
        match (value["Type"].as_str(), value.get("Message").and_then(Value::as_str)) {
            (Some("Notification"), Some(message)) => match serde_json::from_str::<Value>(message) {
                Ok(v) => v,
                Err(e) => return Parsed::Malformed(format!("SNS Message is not JSON: {e}")),
            },
            (Some(kind), _) => return Parsed::NotSes(format!("SNS {kind}")),
            (None, _) => return Parsed::NotSes("SNS message without a type".into()),
        }
    } else if value.get("source").is_some() && value.get("detail-type").is_some() {
        return Parsed::NotSes(format!("EventBridge event from {}", value["source"]));
    } else {
        value
    };
    record_of(&record, envelope_time)
}

fn time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.to_utc())
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn record_of(record: &Value, envelope_time: Option<DateTime<Utc>>) -> Parsed {
    // Identity-level feedback notifications say `notificationType`; configuration sets say `eventType`.
    let Some(event_type) = record.get("eventType").or_else(|| record.get("notificationType")).and_then(Value::as_str)
    else {
        return Parsed::Malformed("no eventType: not an SES event record".into());
    };
    let mail = &record["mail"];
    let Some(message_id) = text(mail, "messageId") else {
        return Parsed::Malformed(format!("{event_type} record without mail.messageId"));
    };
    let destination: Vec<String> = match mail.get("destination").and_then(Value::as_array) {
        Some(list) => list.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        None => return Parsed::Malformed(format!("{event_type} record without mail.destination")),
    };
    let configuration_set = mail
        .get("tags")
        .and_then(|t| t.get("ses:configuration-set"))
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        .map(str::to_string);
    let (kind, object) = kind_of(event_type, record);
    let at = object.and_then(|o| o.get("timestamp")).and_then(Value::as_str).and_then(time).or(envelope_time);
    Parsed::Event(Box::new(SesEvent {
        kind,
        message_id,
        sent_at: text(mail, "timestamp").as_deref().and_then(time),
        at,
        destination,
        configuration_set,
    }))
}

/// The event's kind and its per-type object (`bounce`, `delivery`, …).
fn kind_of<'a>(event_type: &str, record: &'a Value) -> (EventKind, Option<&'a Value>) {
    let obj = |key: &str| record.get(key).filter(|v| v.is_object());
    let first = |o: Option<&Value>, list: &str| -> Option<Value> {
        o.and_then(|o| o.get(list)).and_then(Value::as_array).and_then(|a| a.first()).cloned()
    };
    match event_type {
        "Send" => (EventKind::Send, obj("send")),
        "Delivery" => {
            let o = obj("delivery");
            let get = |k: &str| o.and_then(|o| text(o, k));
            let millis = o.and_then(|o| o.get("processingTimeMillis")).and_then(Value::as_i64);
            let kind = EventKind::Delivery {
                smtp_response: get("smtpResponse"),
                reporting_mta: get("reportingMTA"),
                processing_time_millis: millis,
            };
            (kind, o)
        }
        "Bounce" => {
            let o = obj("bounce");
            let recipient = first(o, "bouncedRecipients");
            let kind = EventKind::Bounce {
                bounce_type: o.and_then(|o| text(o, "bounceType")).unwrap_or_else(|| "Undetermined".into()),
                bounce_sub_type: o.and_then(|o| text(o, "bounceSubType")).unwrap_or_else(|| "Undetermined".into()),
                diagnostic_code: recipient.as_ref().and_then(|r| text(r, "diagnosticCode")),
                status: recipient.as_ref().and_then(|r| text(r, "status")),
                reporting_mta: o.and_then(|o| text(o, "reportingMTA")),
            };
            (kind, o)
        }
        "Complaint" => {
            let o = obj("complaint");
            let kind = EventKind::Complaint {
                feedback_type: o.and_then(|o| text(o, "complaintFeedbackType")),
                sub_type: o.and_then(|o| text(o, "complaintSubType")),
            };
            (kind, o)
        }
        "Reject" => {
            let o = obj("reject");
            (EventKind::Reject { reason: o.and_then(|o| text(o, "reason")) }, o)
        }
        "Rendering Failure" => {
            let o = obj("failure");
            let kind = EventKind::RenderingFailure {
                error_message: o.and_then(|o| text(o, "errorMessage")),
                template_name: o.and_then(|o| text(o, "templateName")),
            };
            (kind, o)
        }
        "DeliveryDelay" => {
            let o = obj("deliveryDelay");
            let recipient = first(o, "delayedRecipients");
            let kind = EventKind::DeliveryDelay {
                delay_type: o.and_then(|o| text(o, "delayType")),
                expiration_time: o.and_then(|o| text(o, "expirationTime")),
                status: recipient.as_ref().and_then(|r| text(r, "status")),
                diagnostic_code: recipient.as_ref().and_then(|r| text(r, "diagnosticCode")),
                reporting_mta: o.and_then(|o| text(o, "reportingMTA")),
            };
            (kind, o)
        }
        other => (EventKind::Other(other.to_string()), None),
    }
}

/// Which events are the probe's: sent to the test user, accepted no earlier than the trigger (less a
/// little clock skew), and — once the mail is in the inbox — carrying its SES messageId.
#[derive(Debug, Clone)]
pub struct Interest {
    pub recipient: String,
    pub not_before: DateTime<Utc>,
    /// The messageId of the probe's mail, once known.
    pub message_id: Option<String>,
}

/// Clock skew allowed between this host and SES when comparing `mail.timestamp` with the trigger time.
pub const SKEW: chrono::TimeDelta = chrono::TimeDelta::seconds(5);

impl Interest {
    /// Whether `event` is about the probe's message.
    pub fn matches(&self, event: &SesEvent) -> bool {
        if let Some(id) = &self.message_id {
            return event.message_id == *id;
        }
        let to_us = event.destination.iter().any(|d| bare(d).eq_ignore_ascii_case(&self.recipient));
        let recent = event.sent_at.is_none_or(|t| t >= self.not_before - SKEW);
        to_us && recent
    }
}

/// `user@example.com` of `Name <user@example.com>`.
fn bare(address: &str) -> &str {
    match (address.rfind('<'), address.rfind('>')) {
        (Some(a), Some(b)) if a < b => &address[a + 1..b],
        _ => address.trim(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Delivery record as SES documents it (SES-DG@2023 `event-publishing-retrieving-sns-examples.md`).
    fn delivery_record() -> Value {
        serde_json::json!({
            "eventType": "Delivery",
            "mail": {
                "timestamp": "2026-12-01T10:00:00.000Z",
                "source": "Phenom <noreply@thephenom.app>",
                "sourceArn": "arn:aws:ses:us-east-1:657033058608:identity/noreply@thephenom.app",
                "sendingAccountId": "657033058608",
                "messageId": "0100019e073d2c68-04b83c28-ae44-470a-afe5-6d58b9fb4ac5-000000",
                "destination": ["probe+prod-fcp@mail.test"],
                "headersTruncated": false,
                "tags": {"ses:configuration-set": ["cognito-mail"]}
            },
            "delivery": {
                "timestamp": "2026-12-01T10:00:01.200Z",
                "processingTimeMillis": 1200,
                "recipients": ["probe+prod-fcp@mail.test"],
                "smtpResponse": "250 2.0.0 OK  1764583201 x - gsmtp",
                "reportingMTA": "a8-64.smtp-out.amazonses.com"
            }
        })
    }

    #[test]
    fn every_envelope_gives_the_same_event() {
        let record = delivery_record();
        let eventbridge = serde_json::json!({
            "version": "0", "id": "e1", "detail-type": "Email Delivered", "source": "aws.ses",
            "account": "657033058608", "time": "2026-12-01T10:00:02Z", "region": "us-east-1",
            "resources": [], "detail": record
        });
        let sns = serde_json::json!({
            "Type": "Notification", "MessageId": "m1", "TopicArn": "arn:aws:sns:us-east-1:657033058608:ses",
            "Message": record.to_string(), "Timestamp": "2026-12-01T10:00:02.000Z"
        });
        let mut seen = Vec::new();
        for (envelope, body) in
            [("raw", record.to_string()), ("eventbridge", eventbridge.to_string()), ("sns", sns.to_string())]
        {
            match parse(&body) {
                Parsed::Event(e) => seen.push((envelope, e)),
                other => panic!("{envelope}: {other:?}"),
            }
        }
        for (envelope, e) in &seen {
            assert_eq!(e, &seen[0].1, "{envelope}");
        }
        let e = &seen[0].1;
        assert_eq!(e.message_id, "0100019e073d2c68-04b83c28-ae44-470a-afe5-6d58b9fb4ac5-000000");
        assert_eq!(e.configuration_set.as_deref(), Some("cognito-mail"));
        assert!(
            matches!(&e.kind, EventKind::Delivery { smtp_response: Some(r), processing_time_millis: Some(1200), .. }
            if r.starts_with("250 "))
        );
        assert_eq!(e.at, time("2026-12-01T10:00:01.200Z"));
    }

    #[test]
    fn bounces_delays_and_odd_bodies() {
        let bounce = serde_json::json!({
            "eventType": "Bounce",
            "mail": {"timestamp": "2026-12-01T10:00:00Z", "messageId": "m", "destination": ["a@b.example"]},
            "bounce": {
                "bounceType": "Permanent", "bounceSubType": "OnAccountSuppressionList",
                "bouncedRecipients": [{"emailAddress": "a@b.example", "action": "failed", "status": "5.1.1",
                    "diagnosticCode": "Amazon SES did not send the message to this address because it is on \
                        the suppression list for your account."}],
                "timestamp": "2026-12-01T10:00:00.5Z", "reportingMTA": "dns; amazonses.com"
            }
        });
        let Parsed::Event(e) = parse(&bounce.to_string()) else { panic!() };
        assert!(matches!(&e.kind, EventKind::Bounce { bounce_sub_type, status: Some(s), .. }
            if bounce_sub_type == "OnAccountSuppressionList" && s == "5.1.1"));
        let delay = serde_json::json!({
            "eventType": "DeliveryDelay",
            "mail": {"timestamp": "2026-12-01T10:00:00Z", "messageId": "m", "destination": ["a@b.example"]},
            "deliveryDelay": {"delayType": "TransientCommunicationFailure", "expirationTime": "2026-12-01T22:00:00Z",
                "delayedRecipients": [{"emailAddress": "a@b.example", "status": "4.4.1",
                    "diagnosticCode": "smtp; 421 4.4.1 Unable to connect to remote host"}]}
        });
        let Parsed::Event(e) = parse(&delay.to_string()) else { panic!() };
        let transient = "TransientCommunicationFailure";
        assert!(matches!(&e.kind, EventKind::DeliveryDelay { delay_type: Some(t), .. } if t == transient));
        let cases = [
            ("{not json", "not JSON"),
            (r#"{"Type": "Notification", "Message": "{broken"}"#, "SNS Message is not JSON"),
            (r#"{"eventType": "Send", "mail": {}}"#, "without mail.messageId"),
            (r#"{"eventType": "Send", "mail": {"messageId": "m"}}"#, "without mail.destination"),
            (r#"{"hello": 1}"#, "no eventType"),
        ];
        for (body, why) in cases {
            assert!(matches!(parse(body), Parsed::Malformed(m) if m.contains(why)), "{body}");
        }
        assert!(matches!(parse(r#"{"Type": "SubscriptionConfirmation"}"#), Parsed::NotSes(_)));
        let other = r#"{"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification", "detail": {}}"#;
        assert!(matches!(parse(other), Parsed::NotSes(_)));
    }

    #[test]
    fn interest_is_the_recipient_after_the_trigger_then_the_message_id() {
        let Parsed::Event(e) = parse(&delivery_record().to_string()) else { panic!() };
        let at = |s: &str| time(s).unwrap();
        let mut interest = Interest {
            recipient: "probe+prod-fcp@mail.test".into(),
            not_before: at("2026-12-01T10:00:03Z"),
            message_id: None,
        };
        assert!(interest.matches(&e), "within the skew allowance");
        interest.not_before = at("2026-12-01T10:01:00Z");
        assert!(!interest.matches(&e), "an earlier run's mail");
        interest.not_before = at("2026-12-01T09:59:00Z");
        interest.recipient = "probe+other@mail.test".into();
        assert!(!interest.matches(&e), "another recipient");
        interest.message_id = Some(e.message_id.clone());
        assert!(interest.matches(&e), "the message id decides once known");
        interest.message_id = Some("another".into());
        assert!(!interest.matches(&e));
    }
}
