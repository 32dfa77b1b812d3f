//! Cognito's own message-delivery errors (research/ses-events-oauth-emf.md §6, aws.md §1): a pool that
//! exports `userNotification` logs at `ERROR` level (`SetLogDeliveryConfiguration` → CloudWatch Logs) writes
//! one record each time it could not hand a message to SES or SNS. The API call that triggered the mail
//! still succeeded, so these records are the only place the error shows — the two-piece gotcha proven
//! instead of inferred from a flat metric. The probe finds the log group through
//! `GetLogDeliveryConfiguration` (or `[cognito_logs] log_group`) and reads it from the trigger on.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{AwsFailure, Clients};

/// The `[cognito_logs]` section of a probe file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CognitoLogsSettings {
    /// Read the pool's notification error logs (default: when the pool exports them).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The log group, instead of the one `GetLogDeliveryConfiguration` names.
    #[serde(default)]
    pub log_group: Option<String>,
}

fn yes() -> bool {
    true
}

impl Default for CognitoLogsSettings {
    fn default() -> Self {
        CognitoLogsSettings { enabled: true, log_group: None }
    }
}

/// One error record of the pool's notification log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryError {
    pub at: Option<DateTime<Utc>>,
    /// The record's text: its `message`, with the error detail it carries.
    pub message: String,
}

impl DeliveryError {
    /// Whether the error is SES refusing Cognito the identity: sending authorization (the identity policy,
    /// the two-piece gotcha) rather than another failure.
    pub fn is_authorization(&self) -> bool {
        let m = self.message.to_ascii_lowercase();
        m.contains("not authorized") || m.contains("sending authorization") || m.contains("accessdenied")
    }
}

/// The log group name inside a log group ARN (`arn:aws:logs:<region>:<account>:log-group:<name>[:*]`), or
/// the text itself when it is a name.
pub fn group_name(arn_or_name: &str) -> &str {
    match arn_or_name.split_once(":log-group:") {
        Some((_, rest)) => rest.strip_suffix(":*").unwrap_or(rest),
        None => arn_or_name,
    }
}

/// The text of one log event: Cognito writes JSON (`message`, plus the error in a field of its own);
/// anything else is quoted as it is.
pub fn describe(event_message: &str) -> String {
    let Ok(value) = serde_json::from_str::<Value>(event_message) else {
        return event_message.chars().take(500).collect();
    };
    let mut parts: Vec<String> = Vec::new();
    for key in ["message", "error", "errorMessage", "reason", "details"] {
        match value.get(key) {
            Some(Value::String(s)) if !s.is_empty() => parts.push(s.clone()),
            Some(v @ Value::Object(_)) => parts.push(v.to_string()),
            _ => {}
        }
    }
    if parts.is_empty() { value.to_string().chars().take(500).collect() } else { parts.join(": ") }
}

/// Whether an event of the log is about `pool_id` (records name their pool in `logSourceId.userPoolId`;
/// one that names none is kept: a log group may serve one pool only).
fn of_pool(event_message: &str, pool_id: &str) -> bool {
    match serde_json::from_str::<Value>(event_message) {
        Ok(v) => {
            v.get("logSourceId").and_then(|s| s.get("userPoolId")).and_then(Value::as_str).is_none_or(|p| p == pool_id)
        }
        Err(_) => true,
    }
}

impl Clients {
    /// The CloudWatch Logs group the pool exports `userNotification` errors to, if any.
    pub async fn notification_log_group(&self, pool_id: &str) -> Result<Option<String>, AwsFailure> {
        let out = super::call(
            "GetLogDeliveryConfiguration",
            self.cognito.get_log_delivery_configuration().user_pool_id(pool_id).send(),
        )
        .await?;
        let group = out.log_delivery_configuration().and_then(|c| {
            c.log_configurations()
                .iter()
                .filter(|l| l.event_source().as_str() == "userNotification")
                .find_map(|l| l.cloud_watch_logs_configuration().and_then(|cw| cw.log_group_arn()))
                .map(|arn| group_name(arn).to_string())
        });
        Ok(group)
    }

    /// Error records of `pool_id` in `group` since `since` (at most a few pages: a pool writes few).
    pub async fn delivery_errors(
        &self,
        group: &str,
        pool_id: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<DeliveryError>, AwsFailure> {
        let mut errors = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..5 {
            let out = super::call(
                "FilterLogEvents",
                self.logs
                    .filter_log_events()
                    .log_group_name(group)
                    .start_time(since.timestamp_millis())
                    .set_next_token(token.clone())
                    .send(),
            )
            .await?;
            for event in out.events() {
                let Some(message) = event.message() else { continue };
                if !of_pool(message, pool_id) {
                    continue;
                }
                let at = event.timestamp().and_then(DateTime::from_timestamp_millis);
                errors.push(DeliveryError { at, message: describe(message) });
            }
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        Ok(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names_and_records() {
        let arn = "arn:aws:logs:us-east-1:657033058608:log-group:/aws/cognito/prod/notifications:*";
        assert_eq!(group_name(arn), "/aws/cognito/prod/notifications");
        assert_eq!(group_name("/plain/name"), "/plain/name");
        let record = concat!(
            r#"{"eventTimestamp":"1764583201000","eventSource":"USER_NOTIFICATION","logLevel":"ERROR","#,
            r#""message":"Message failed to deliver.","logSourceId":{"userPoolId":"us-east-1_knEL7cqS3"},"#,
            r#""error":"User `arn:aws:sts::657033058608:assumed-role/x` is not authorized to perform "#,
            r#"`ses:SendEmail' on resource `arn:aws:ses:us-east-1:657033058608:identity/noreply@thephenom.app'"}"#
        );
        let text = describe(record);
        assert!(text.starts_with("Message failed to deliver.: User"), "{text}");
        assert!(DeliveryError { at: None, message: text }.is_authorization());
        assert!(of_pool(record, "us-east-1_knEL7cqS3"));
        assert!(!of_pool(record, "us-east-1_other"));
        assert!(of_pool("plain text line", "us-east-1_other"), "a record naming no pool is kept");
        assert_eq!(describe("plain text line"), "plain text line");
    }
}
