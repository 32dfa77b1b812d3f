//! The SNS channel: `Publish` to a topic with the alert as the JSON `Message` and a one-line `Subject`, so
//! one topic can fan out to email, SMS, chat bots and queues. Region defaults to the topic ARN's.

use aws_config::retry::RetryConfig;
use aws_config::{Region, SdkConfig};
use aws_sdk_sns::error::SdkError;
use sha2::{Digest as _, Sha256};

use super::channel::{AttemptError, ChannelError};
use super::{Alert, AlertKind};

/// `Subject` must be "UTF-8 text with no line breaks or control characters, and less than 100 characters
/// long" (SNS API reference, `Publish`, Subject).
const SUBJECT_MAX: usize = 99;

/// A topic ARN taken apart: `arn:<partition>:sns:<region>:<account>:<name>` (IAM User Guide, "Amazon
/// Resource Names (ARNs)", format `arn:partition:service:region:account-id:resource-id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TopicArn {
    pub region: String,
    pub fifo: bool,
}

/// Validates a topic ARN. Topic names are 1–256 characters of ASCII letters, digits, `-` and `_`, with
/// `.fifo` at the end of FIFO topics (SNS API reference, `CreateTopic`, Name); accounts are 12 digits.
pub(crate) fn parse_arn(arn: &str) -> Result<TopicArn, ChannelError> {
    let bad = |detail: &str| ChannelError::BadArn { arn: arn.to_string(), detail: detail.to_string() };
    let parts: Vec<&str> = arn.split(':').collect();
    let [prefix, partition, service, region, account, name] = parts.as_slice() else {
        return Err(bad("expected arn:aws:sns:<region>:<account>:<topic>"));
    };
    if *prefix != "arn" || !partition.starts_with("aws") {
        return Err(bad("expected it to start with arn:aws"));
    }
    if *service != "sns" {
        return Err(bad(&format!("service is {service:?}, expected \"sns\"")));
    }
    let region_ok =
        !region.is_empty() && region.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !region_ok {
        return Err(bad(&format!("region {region:?} is not a region name like us-east-1")));
    }
    if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad(&format!("account {account:?} is not 12 digits")));
    }
    let fifo = name.ends_with(".fifo");
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    let name_ok = (1..=256).contains(&name.len())
        && !base.is_empty()
        && base.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !name_ok {
        return Err(bad(&format!("topic name {name:?} is not 1-256 letters, digits, '-' or '_' (optionally .fifo)")));
    }
    Ok(TopicArn { region: region.to_string(), fifo })
}

/// `Subject`: `<probe>: <OUTCOME> <what>: <summary>` with control characters (newlines included) turned
/// into spaces and cut to 99 characters.
pub fn subject(alert: &Alert) -> String {
    let what = match alert.kind {
        AlertKind::Trigger => "failing",
        AlertKind::Reminder => "still failing",
        AlertKind::Resolve => "resolved",
        AlertKind::ProbeBlind => "probe cannot see",
        AlertKind::ProbeBlindResolve => "probe can see again",
        AlertKind::MonitorDegraded => "monitor cannot record its state",
        AlertKind::MonitorDegradedResolve => "monitor records its state again",
    };
    let full = format!("{}: {} {what}: {}", alert.probe, alert.outcome.label(), alert.summary);
    let clean: String = full.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if clean.chars().count() <= SUBJECT_MAX {
        return clean;
    }
    let mut cut: String = clean.chars().take(SUBJECT_MAX - 1).collect();
    cut.push('…');
    cut
}

/// `Message`: the alert as one JSON document, the same as exec's stdin and the webhook body.
pub fn message(alert: &Alert) -> String {
    String::from_utf8(super::exec::payload(alert)).unwrap_or_default()
}

/// A configured topic.
#[derive(Debug)]
pub(crate) struct Sns {
    topic_arn: String,
    fifo: bool,
    client: aws_sdk_sns::Client,
}

impl Sns {
    /// A client for the topic's region (or `region`), on `base` when given (the monitor's shared AWS
    /// configuration) or the standard credential chain. SDK retries are off: the channel's own retry loop
    /// counts and logs every attempt.
    pub(crate) async fn new(
        topic_arn: &str,
        region: Option<&str>,
        endpoint_url: Option<&str>,
        base: Option<&SdkConfig>,
    ) -> Result<Sns, ChannelError> {
        let arn = parse_arn(topic_arn)?;
        if let Some(url) = endpoint_url {
            super::http::parse_url("sns", url)?;
        }
        let region = Region::new(region.unwrap_or(&arn.region).to_string());
        let base = match base {
            Some(base) => base.clone(),
            None => crate::aws::config_loader().region(region.clone()).load().await,
        };
        let mut conf = aws_sdk_sns::config::Builder::from(&base).region(region).retry_config(RetryConfig::disabled());
        if let Some(url) = endpoint_url {
            conf = conf.endpoint_url(url);
        }
        Ok(Sns {
            topic_arn: topic_arn.to_string(),
            fifo: arn.fifo,
            client: aws_sdk_sns::Client::from_conf(conf.build()),
        })
    }

    pub(crate) fn target(&self) -> &str {
        &self.topic_arn
    }

    /// One `Publish`. FIFO topics get the probe as message group and a deduplication id derived from the
    /// dedup key, kind and time, so a retried publish of the same alert is delivered once.
    pub(crate) async fn attempt(&self, alert: &Alert) -> Result<(), AttemptError> {
        let mut publish =
            self.client.publish().topic_arn(&self.topic_arn).subject(subject(alert)).message(message(alert));
        if self.fifo {
            let id = Sha256::digest(format!("{}\n{:?}\n{}", alert.dedup_key, alert.kind, alert.at.to_rfc3339()));
            let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
            publish = publish.message_group_id(&alert.probe).message_deduplication_id(hex);
        }
        publish.send().await.map(|_| ()).map_err(|e| self.classify(e))
    }

    /// Throttling, SNS's internal errors, 5xx and network trouble are transient; anything else (missing
    /// topic, no permission, invalid parameter) will fail the same way again.
    fn classify<E: aws_sdk_sns::error::ProvideErrorMetadata, R>(&self, error: SdkError<E, R>) -> AttemptError
    where
        SdkError<E, R>: std::error::Error,
    {
        let target = self.topic_arn.clone();
        match &error {
            SdkError::ServiceError(service) => {
                let code = service.err().code().unwrap_or("Unknown").to_string();
                let message = service.err().message().unwrap_or_default().to_string();
                let retryable = matches!(
                    code.as_str(),
                    "Throttled" | "Throttling" | "ThrottlingException" | "InternalError" | "KMSThrottling"
                );
                AttemptError::Aws { target, code, message, retryable, uncertain: false }
            }
            SdkError::ConstructionFailure(_) => AttemptError::Aws {
                target,
                code: "ConstructionFailure".into(),
                message: super::http::error_chain(&error),
                retryable: false,
                uncertain: false,
            },
            // A dispatch failure never reached SNS; a timeout or a cut response may have published.
            _ => AttemptError::Aws {
                target,
                code: "Transport".into(),
                message: super::http::error_chain(&error),
                retryable: true,
                uncertain: !matches!(error, SdkError::DispatchFailure(_)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::{Outcome, Phase};

    #[test]
    fn arns_are_checked_field_by_field() {
        let ok = [
            ("standard", "arn:aws:sns:eu-west-1:123456789012:probe-alerts", "eu-west-1", false),
            ("fifo", "arn:aws:sns:us-east-1:123456789012:probe_alerts.fifo", "us-east-1", true),
            ("gov partition", "arn:aws-us-gov:sns:us-gov-west-1:123456789012:t", "us-gov-west-1", false),
        ];
        for (name, arn, region, fifo) in ok {
            assert_eq!(parse_arn(arn).unwrap(), TopicArn { region: region.into(), fifo }, "{name}");
        }
        let bad = [
            ("too few parts", "arn:aws:sns:eu-west-1:probe", "expected arn:aws:sns"),
            ("other service", "arn:aws:sqs:eu-west-1:123456789012:q", "service is \"sqs\""),
            ("short account", "arn:aws:sns:eu-west-1:1234:t", "account \"1234\""),
            ("bad topic", "arn:aws:sns:eu-west-1:123456789012:has space", "topic name \"has space\""),
            ("empty region", "arn:aws:sns::123456789012:t", "region \"\""),
            ("not an arn", "probe-alerts", "expected arn:aws:sns"),
        ];
        for (name, arn, expected) in bad {
            let err = parse_arn(arn).unwrap_err().to_string();
            assert!(err.contains(expected) && err.contains(arn), "{name}: {err}");
        }
    }

    #[test]
    fn subject_is_one_line_under_100_characters() {
        let alert = |kind, summary: &str| Alert {
            kind,
            probe: "prod-eu".into(),
            pool_id: "p".into(),
            dedup_key: "k".into(),
            idempotency_key: "k/trigger/1".into(),
            outcome: Outcome::Critical,
            phase: Phase::Inbox,
            code: "C".into(),
            summary: summary.into(),
            consecutive_failures: 3,
            at: "2026-11-26T10:00:00Z".parse().unwrap(),
            report: serde_json::Value::Null,
        };
        let cases = [
            ("plain", AlertKind::Trigger, "not delivered", "prod-eu: CRITICAL failing: not delivered"),
            ("newlines", AlertKind::Reminder, "a\r\nb\tc", "prod-eu: CRITICAL still failing: a  b c"),
        ];
        for (name, kind, summary, expected) in cases {
            assert_eq!(subject(&alert(kind, summary)), expected, "{name}");
        }
        let long = subject(&alert(AlertKind::Trigger, &"✉".repeat(300)));
        assert_eq!(long.chars().count(), SUBJECT_MAX);
        assert!(long.ends_with('…'));
    }
}
