//! Checks of the sender-side evidence a run can read (research/ses-events-oauth-emf.md §1, §2, §6):
//!
//! * `ses.suppression` — the test user's address on the account suppression list: SES accepts every mail
//!   to it and never sends one, so no run can pass until it is removed (FAIL, with why it got there and the
//!   exact removal command);
//! * `cognito.log_delivery` — whether the pool exports its message-delivery errors (userNotification,
//!   ERROR) to CloudWatch Logs, which proves the two-piece gotcha within seconds instead of inferring it;
//! * `ses.events` — the `[ses_events]` queue: the pool sends through a configuration set, the set has an
//!   enabled EventBridge or SNS destination for the records a verdict uses, and the queue answers.
//!
//! Only reads: GetSuppressedDestination, GetLogDeliveryConfiguration, GetConfigurationSetEventDestinations
//! and one ReceiveMessage that deletes nothing (records it sees reappear for their consumer after the
//! probe file's visibility timeout, as in a run).

use super::{Finding, Status, is_own_trouble};
use crate::aws::cognito::Pool;
use crate::aws::ses::{EventDestination, Suppressed};
use crate::aws::{AwsFailure, Clients};
use crate::config::ProbeFile;

const SUPPRESSION_SOURCE: &str = "research/ses-events-oauth-emf.md §2 (account suppression list)";
const LOGS_SOURCE: &str = "research/ses-events-oauth-emf.md §6 (userNotification error logs)";
const EVENTS_SOURCE: &str = "research/ses-events-oauth-emf.md §1 (event publishing)";

/// Whether a failure is a missing permission: for these optional sources a finding with the IAM fix (WARN),
/// not the doctor's own trouble — a role that predates them must not turn the whole doctor UNKNOWN.
fn own_trouble(e: &AwsFailure) -> bool {
    is_own_trouble(e) && !matches!(e.code(), Some("AccessDeniedException" | "AccessDenied"))
}

/// The event types a verdict reads (research §1 MatchingEventTypes).
const VERDICT_TYPES: [&str; 6] = ["SEND", "DELIVERY", "BOUNCE", "REJECT", "RENDERING_FAILURE", "DELIVERY_DELAY"];

/// Reads and judges the three sources for this probe file, pool and recipient.
pub async fn run(probe: &ProbeFile, pool: &Pool, clients: &Clients, recipient: Option<&str>) -> Vec<Finding> {
    let ses = pool.ses_region().map(|r| clients.in_ses_region(r)).unwrap_or_else(|| clients.clone());
    let region = pool.ses_region().map(str::to_string).unwrap_or_else(|| probe.region());
    let suppression = async {
        match recipient {
            Some(address) if probe.suppression.check && pool.is_developer() => {
                Some(ses.suppressed(address, &region).await)
            }
            _ => None,
        }
    };
    let logs = async {
        if probe.cognito_logs.enabled && probe.cognito_logs.log_group.is_none() {
            Some(clients.notification_log_group(&probe.pool_id).await)
        } else {
            None
        }
    };
    let destinations = async {
        match (&probe.ses_events, &pool.configuration_set) {
            (Some(_), Some(set)) => Some(ses.event_destinations(set).await),
            _ => None,
        }
    };
    let (suppression, logs, destinations) = tokio::join!(suppression, logs, destinations);
    let mut out = Vec::new();
    out.extend(suppression.map(suppression_finding));
    out.push(logs_finding(probe, pool, logs));
    if probe.ses_events.is_some() {
        out.push(events_finding(pool, destinations, queue_check(probe, &ses).await));
    }
    out
}

/// `ses.suppression`.
pub fn suppression_finding(read: Result<Option<Suppressed>, AwsFailure>) -> Finding {
    match read {
        Ok(None) => Finding::new(
            "ses.suppression",
            Status::Ok,
            "the test address is not on the account suppression list",
            SUPPRESSION_SOURCE,
        ),
        Ok(Some(entry)) => {
            let since = entry.since.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_else(|| "?".into());
            let why = match entry.reason.as_str() {
                "COMPLAINT" => "a mail to it was marked as spam",
                _ => "a mail to it bounced",
            };
            let mut finding = Finding::new(
                "ses.suppression",
                Status::Fail,
                format!("{} is on the account suppression list ({}, since {since})", entry.address, entry.reason),
                SUPPRESSION_SOURCE,
            )
            .evidence(format!("GetSuppressedDestination: Reason {}, LastUpdateTime {since}", entry.reason))
            .evidence("SES accepts every mail to a suppressed address, counts it as a Send and never sends it");
            if let Some(id) = &entry.message_id {
                finding = finding.evidence(format!("put there by message {id}"));
            }
            finding.fix(format!(
                "It got there because {why}; find why (the message id above is in the SES event records) and, \
                 once the address accepts mail again, remove it: {}",
                entry.removal
            ))
        }
        Err(e) if own_trouble(&e) => Finding::aws_unknown("ses.suppression", &e),
        Err(e) => Finding::new(
            "ses.suppression",
            Status::Warn,
            format!("the suppression list cannot be read: {e}"),
            SUPPRESSION_SOURCE,
        )
        .fix(
            "Allow ses:GetSuppressedDestination (Resource \"*\": the suppression API has no resource-level \
             permissions) to the probe's role, or set [suppression] check = false.",
        ),
    }
}

/// `cognito.log_delivery`.
pub fn logs_finding(probe: &ProbeFile, pool: &Pool, read: Option<Result<Option<String>, AwsFailure>>) -> Finding {
    const CHECK: &str = "cognito.log_delivery";
    if !probe.cognito_logs.enabled {
        return Finding::new(CHECK, Status::Skip, "[cognito_logs] enabled = false", LOGS_SOURCE);
    }
    if let Some(group) = &probe.cognito_logs.log_group {
        return Finding::new(
            CHECK,
            Status::Ok,
            format!("Cognito's delivery errors are read from {group}"),
            LOGS_SOURCE,
        )
        .evidence("[cognito_logs] log_group set in the probe file");
    }
    let advice = format!(
        "Export the pool's message-delivery errors: aws_cognito_log_delivery_configuration {{ user_pool_id = \
         \"{}\", log_configurations {{ event_source = \"userNotification\", log_level = \"ERROR\", \
         cloud_watch_logs_configuration {{ log_group_arn = aws_cloudwatch_log_group.cognito.arn }} }} }} \
         (terraform-example/modules/cognito-logs). A run then quotes SES's own error within seconds.",
        pool.id
    );
    match read {
        Some(Ok(Some(group))) => {
            Finding::new(CHECK, Status::Ok, format!("the pool exports its delivery errors to {group}"), LOGS_SOURCE)
                .evidence("GetLogDeliveryConfiguration: userNotification → CloudWatch Logs")
        }
        // Optional evidence, not a fault of the chain: skipped, with the Terraform that sets it up.
        Some(Ok(None)) => Finding::new(
            CHECK,
            Status::Skip,
            "the pool does not export its delivery errors (optional): a missing identity policy is only inferred \
             from the metrics after the timeout",
            LOGS_SOURCE,
        )
        .evidence("GetLogDeliveryConfiguration: no userNotification configuration to CloudWatch Logs")
        .fix(advice),
        Some(Err(e)) if own_trouble(&e) => Finding::aws_unknown(CHECK, &e),
        Some(Err(e)) => Finding::new(CHECK, Status::Warn, format!("log delivery cannot be read: {e}"), LOGS_SOURCE)
            .fix("Allow cognito-idp:GetLogDeliveryConfiguration and logs:FilterLogEvents to the probe's role."),
        None => Finding::new(CHECK, Status::Skip, "not read", LOGS_SOURCE),
    }
}

/// Whether the queue answers a receive (the records it brings are left to their consumer).
async fn queue_check(probe: &ProbeFile, ses: &Clients) -> Option<Result<u32, AwsFailure>> {
    let settings = probe.ses_events.clone()?;
    let queue = crate::aws::sqs::EventQueue::new(
        ses.sqs.clone(),
        crate::aws::sqs::SesEventsSettings {
            // Never delete in doctor, whatever the probe file says: doctor changes nothing.
            dedicated: false,
            ..settings
        },
    );
    let nobody = crate::aws::events::Interest {
        recipient: String::new(),
        not_before: chrono::DateTime::<chrono::Utc>::MAX_UTC,
        message_id: None,
    };
    Some(queue.poll(&nobody, std::time::Duration::ZERO).await.map(|p| p.foreign.len() as u32))
}

/// `ses.events`.
pub fn events_finding(
    pool: &Pool,
    destinations: Option<Result<Vec<EventDestination>, AwsFailure>>,
    queue: Option<Result<u32, AwsFailure>>,
) -> Finding {
    const CHECK: &str = "ses.events";
    let Some(set) = &pool.configuration_set else {
        return Finding::new(
            CHECK,
            Status::Fail,
            "[ses_events] is set but the pool sends through no configuration set: SES publishes no records of its \
             mail",
            EVENTS_SOURCE,
        )
        .fix(format!(
            "Set the pool's email_configuration {{ configuration_set = \"<name>\" }} for pool {} \
             (terraform-example/modules/ses-events).",
            pool.id
        ));
    };
    let destinations = match destinations {
        Some(Ok(d)) => d,
        Some(Err(e)) if own_trouble(&e) => return Finding::aws_unknown(CHECK, &e),
        Some(Err(e)) => {
            return Finding::new(CHECK, Status::Warn, format!("configuration set {set}: {e}"), EVENTS_SOURCE)
                .fix("Allow ses:GetConfigurationSetEventDestinations to the probe's role.");
        }
        None => Vec::new(),
    };
    let publishing: Vec<&EventDestination> =
        destinations.iter().filter(|d| d.enabled && (d.eventbridge || d.sns)).collect();
    let missing: Vec<&str> =
        VERDICT_TYPES.iter().copied().filter(|t| !publishing.iter().any(|d| d.types.iter().any(|x| x == t))).collect();
    let mut finding = if publishing.is_empty() {
        Finding::new(
            CHECK,
            Status::Fail,
            format!("configuration set {set} has no enabled EventBridge or SNS destination: the queue gets nothing"),
            EVENTS_SOURCE,
        )
        .fix("Add an event destination to the set (terraform-example/modules/ses-events).")
    } else if !missing.is_empty() {
        Finding::new(
            CHECK,
            Status::Warn,
            format!("configuration set {set} does not publish {}", missing.join(", ")),
            EVENTS_SOURCE,
        )
        .fix(format!("Add {} to the destination's matching_types.", missing.join(", ")))
    } else {
        Finding::new(
            CHECK,
            Status::Ok,
            format!("configuration set {set} publishes every record a verdict uses"),
            EVENTS_SOURCE,
        )
    };
    for d in &publishing {
        let kind = if d.eventbridge { "EventBridge" } else { "SNS" };
        finding = finding.evidence(format!("destination {} ({kind}): {}", d.name, d.types.join(", ")));
    }
    match queue {
        Some(Ok(n)) => finding.evidence(format!("the queue answers ({n} records of other mail seen)")),
        Some(Err(e)) if own_trouble(&e) => Finding::aws_unknown(CHECK, &e),
        Some(Err(e)) => Finding { status: Status::Fail, ..finding }
            .evidence(format!("the queue: {e}"))
            .fix("Check [ses_events] queue_url, and allow sqs:ReceiveMessage and sqs:DeleteMessage on it."),
        None => finding,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(name: &str, eventbridge: bool, types: &[&str]) -> EventDestination {
        EventDestination {
            name: name.into(),
            enabled: true,
            cloudwatch: !eventbridge,
            eventbridge,
            sns: false,
            types: types.iter().map(|t| t.to_string()).collect(),
        }
    }

    #[test]
    fn a_suppressed_address_fails_with_why_and_the_removal_command() {
        let entry = Suppressed {
            address: "probe@mail.test".into(),
            reason: "BOUNCE".into(),
            since: chrono::DateTime::from_timestamp(1_763_625_600, 0),
            message_id: Some("0100019aa0b1c2d3-x-000000".into()),
            removal: crate::aws::ses::removal("probe@mail.test", "eu-west-1"),
            during_run: false,
        };
        let f = suppression_finding(Ok(Some(entry)));
        assert_eq!(f.status, Status::Fail);
        assert!(f.summary.contains("BOUNCE, since 2025-11-20 08:00 UTC"), "{}", f.summary);
        assert!(f.evidence.iter().any(|e| e.contains("0100019aa0b1c2d3-x-000000")), "{:?}", f.evidence);
        assert!(f.fix.contains("a mail to it bounced"), "{}", f.fix);
        assert!(
            f.fix.ends_with(
                "aws sesv2 delete-suppressed-destination --email-address 'probe@mail.test' --region eu-west-1"
            ),
            "{}",
            f.fix
        );
        assert_eq!(suppression_finding(Ok(None)).status, Status::Ok);
        let denied = AwsFailure::Service {
            operation: "GetSuppressedDestination",
            code: "AccessDeniedException".into(),
            message: "no".into(),
        };
        assert_eq!(suppression_finding(Err(denied)).status, Status::Warn);
        assert_eq!(
            crate::aws::ses::removal("o'brien@mail.test", "us-east-1"),
            r"aws sesv2 delete-suppressed-destination --email-address 'o'\''brien@mail.test' --region us-east-1"
        );
    }

    #[test]
    fn the_event_set_up_is_judged_by_what_reaches_the_queue() {
        let mut pool = Pool {
            id: "us-east-1_abc".into(),
            arn: None,
            sending_account: crate::aws::cognito::SendingAccount::Developer,
            source_arn: None,
            from: None,
            reply_to: None,
            configuration_set: None,
        };
        assert_eq!(events_finding(&pool, None, None).status, Status::Fail, "no configuration set");
        pool.configuration_set = Some("cognito-mail".into());
        let all = dest("probe-events", true, &VERDICT_TYPES);
        let cases = [
            ("complete", vec![all.clone()], Some(Ok(3)), Status::Ok),
            ("metrics only", vec![dest("cw", false, &VERDICT_TYPES)], Some(Ok(0)), Status::Fail),
            ("no delays", vec![dest("e", true, &["SEND", "DELIVERY", "BOUNCE", "REJECT"])], Some(Ok(0)), Status::Warn),
            (
                "queue gone",
                vec![all],
                Some(Err(AwsFailure::Service {
                    operation: "ReceiveMessage",
                    code: "AWS.SimpleQueueService.NonExistentQueue".into(),
                    message: "The specified queue does not exist.".into(),
                })),
                Status::Fail,
            ),
        ];
        for (case, destinations, queue, want) in cases {
            let f = events_finding(&pool, Some(Ok(destinations)), queue);
            assert_eq!(f.status, want, "{case}: {f:?}");
        }
    }
}
