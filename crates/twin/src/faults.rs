//! Faults the twin can be told to show, from the scenario file or at run time through the control
//! endpoint (`POST /_twin/faults`). Each fault imitates one way a real Cognito→SES→inbox chain breaks
//! (DESIGN.md §8), so the probe's diagnosis for it can be tested end to end — including what SES reports
//! about it through event records (research/ses-events-oauth-emf.md §1): bounces, rejects, rendering
//! failures, delivery delays, complaints, duplicated and reordered records.

use serde::{Deserialize, Serialize};

use crate::mail::DkimFault;

/// Every operation of the twin's Cognito side; exception and throttling faults may name one of these.
pub const COGNITO_OPERATIONS: [&str; 8] = [
    "AdminGetUser",
    "AdminCreateUser",
    "ForgotPassword",
    "AdminResetUserPassword",
    "ResendConfirmationCode",
    "DescribeUserPool",
    "DescribeUserPoolClient",
    "GetLogDeliveryConfiguration",
];

/// The operations of the other services a probe calls (SQS, CloudWatch Logs, SESv2, CloudWatch):
/// with [`COGNITO_OPERATIONS`], what the `access_denied` fault may name.
pub const OTHER_OPERATIONS: [&str; 16] = [
    "ReceiveMessage",
    "DeleteMessage",
    "DeleteMessageBatch",
    "ChangeMessageVisibility",
    "GetQueueAttributes",
    "GetQueueUrl",
    "FilterLogEvents",
    "DescribeLogGroups",
    "GetSuppressedDestination",
    "ListSuppressedDestinations",
    "GetConfigurationSetEventDestinations",
    "GetAccount",
    "GetEmailIdentity",
    "GetEmailIdentityPolicies",
    "GetMetricData",
    "GetMetricStatistics",
];

/// The active faults. The default is a healthy chain.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// The SES identity's policies are gone: DEVELOPER-mode sends are silently dropped, Send stays flat
    /// (the runbook's two-piece gotcha). SESv2 then reports no policies.
    pub identity_policy_missing: bool,
    /// The receiver files the message in Junk instead of INBOX.
    pub junk: bool,
    /// The receiver accepts the message this many seconds after SES sent it.
    pub delivery_delay_seconds: u64,
    /// SES sends (Send rises) but nothing reaches the mailbox.
    pub recipient_drop: RecipientDrop,
    /// The receiver's DKIM verdict.
    pub dkim: DkimFault,
    pub spf_fail: bool,
    pub dmarc_fail: bool,
    /// An Authentication-Results header claiming pass, added upstream by a foreign host.
    pub forged_upstream: bool,
    /// CloudWatch shows a data point only this many seconds after it happened.
    pub metric_lag_seconds: u64,
    /// Cognito answers TooManyRequestsException (the request-rate quota, research/aws.md §1.6).
    pub throttle: bool,
    /// Operations `throttle` applies to; empty means every Cognito operation.
    pub throttle_operations: Vec<String>,
    /// Exceptions Cognito returns on the next matching calls, consumed in order.
    pub exceptions: Vec<InjectedException>,
    /// The receiver bounces the message (research/ses-events-oauth-emf.md §1 `bounce`).
    pub bounce: Option<BounceFault>,
    /// SES accepts the message, finds a virus and does not send it (research §1 `reject`, §3 Reject).
    pub reject: bool,
    /// SES cannot render the message's template (research §1 `failure`, §3 Rendering Failure).
    pub rendering_failure: bool,
    /// The recipient marks the delivered message as spam (research §1 `complaint`).
    pub complaint: bool,
    /// SES cannot hand the message over for a while (research §1 `deliveryDelay`).
    pub delivery_delay: Option<DelayFault>,
    /// Every event record reaches its queue twice (research §1: EventBridge delivery is best effort; SNS
    /// and SQS standard queues deliver at least once).
    pub event_duplicates: bool,
    /// A message's event records reach the queue newest first (research §1: events "might be delivered
    /// out of order").
    pub event_out_of_order: bool,
    /// The caller's IAM policy lacks these actions: each named operation answers its service's
    /// AccessDenied error (an unreachable queue, a missing `logs:FilterLogEvents`, …).
    pub access_denied: Vec<String>,
}

/// What happens to a message SES sent that never arrives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecipientDrop {
    #[default]
    None,
    /// The receiver accepts it (250, a Delivery record, Delivery rises) and it never reaches the
    /// mailbox: the runbook's recipient-side case.
    Silent,
    /// The receiver rejects it: a Permanent/General bounce, the Bounce metric rises.
    Bounce,
}

/// A bounce: its type and subtype (research §1 `bounce`: Undetermined/Undetermined; Permanent/General,
/// NoEmail, Suppressed; Transient/General, MailboxFull, MessageTooLarge, ContentRejected,
/// AttachmentRejected). A Transient one is published only as the soft bounce SES gave up on ("soft
/// bounces are only included when SES fails to deliver the email after retrying").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BounceFault {
    #[serde(rename = "type")]
    pub bounce_type: BounceType,
    /// Default: General (Undetermined for an Undetermined bounce).
    #[serde(default)]
    pub subtype: Option<BounceSubType>,
    /// Seconds after SES accepted the message that the bounce arrives (for a Transient one: when SES gives
    /// up retrying).
    #[serde(default)]
    pub after_seconds: u64,
}

impl BounceFault {
    /// The subtype in effect.
    pub fn subtype(&self) -> BounceSubType {
        self.subtype.unwrap_or(match self.bounce_type {
            BounceType::Undetermined => BounceSubType::Undetermined,
            _ => BounceSubType::General,
        })
    }
}

/// research §1 `bounceType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BounceType {
    Undetermined,
    Permanent,
    Transient,
}

impl BounceType {
    pub fn as_str(self) -> &'static str {
        match self {
            BounceType::Undetermined => "Undetermined",
            BounceType::Permanent => "Permanent",
            BounceType::Transient => "Transient",
        }
    }
}

/// research §1 `bounceSubType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BounceSubType {
    Undetermined,
    General,
    NoEmail,
    /// The global suppression list: "recent history of bouncing as an invalid address".
    Suppressed,
    /// The account suppression list (produced by the list itself, never a fault).
    OnAccountSuppressionList,
    MailboxFull,
    MessageTooLarge,
    ContentRejected,
    AttachmentRejected,
}

impl BounceSubType {
    pub fn as_str(self) -> &'static str {
        match self {
            BounceSubType::Undetermined => "Undetermined",
            BounceSubType::General => "General",
            BounceSubType::NoEmail => "NoEmail",
            BounceSubType::Suppressed => "Suppressed",
            BounceSubType::OnAccountSuppressionList => "OnAccountSuppressionList",
            BounceSubType::MailboxFull => "MailboxFull",
            BounceSubType::MessageTooLarge => "MessageTooLarge",
            BounceSubType::ContentRejected => "ContentRejected",
            BounceSubType::AttachmentRejected => "AttachmentRejected",
        }
    }

    /// The subtypes research §1 lists for a bounce type.
    pub fn allowed(bounce_type: BounceType) -> &'static [BounceSubType] {
        use BounceSubType::*;
        match bounce_type {
            BounceType::Undetermined => &[Undetermined],
            BounceType::Permanent => &[General, NoEmail, Suppressed],
            BounceType::Transient => &[General, MailboxFull, MessageTooLarge, ContentRejected, AttachmentRejected],
        }
    }
}

/// SES holds the message: a DeliveryDelay record now, then after `after_seconds` what `then` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelayFault {
    #[serde(rename = "type")]
    pub delay_type: DelayType,
    #[serde(default)]
    pub then: DelayThen,
    #[serde(default)]
    pub after_seconds: u64,
}

/// research §1 `deliveryDelay.delayType` (the values mozilla/fxa lists from the live page).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DelayType {
    InternalFailure,
    General,
    MailboxFull,
    SpamDetected,
    RecipientServerError,
    #[serde(rename = "IPFailure")]
    IpFailure,
    TransientCommunicationFailure,
    #[serde(rename = "BYOIPHostNameLookupUnavailable")]
    ByoipHostNameLookupUnavailable,
    Undetermined,
    SendingDeferral,
}

impl DelayType {
    pub fn as_str(self) -> &'static str {
        match self {
            DelayType::InternalFailure => "InternalFailure",
            DelayType::General => "General",
            DelayType::MailboxFull => "MailboxFull",
            DelayType::SpamDetected => "SpamDetected",
            DelayType::RecipientServerError => "RecipientServerError",
            DelayType::IpFailure => "IPFailure",
            DelayType::TransientCommunicationFailure => "TransientCommunicationFailure",
            DelayType::ByoipHostNameLookupUnavailable => "BYOIPHostNameLookupUnavailable",
            DelayType::Undetermined => "Undetermined",
            DelayType::SendingDeferral => "SendingDeferral",
        }
    }
}

/// How a delivery delay ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DelayThen {
    /// The receiver takes the message at last.
    #[default]
    Delivered,
    /// SES gives up: a Transient bounce.
    Bounce,
    /// Still retrying (nothing more happens).
    Pending,
}

/// A Cognito exception returned on the next `count` calls (of `operation`, or of any operation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InjectedException {
    /// Exception name as Cognito spells it, e.g. `CodeDeliveryFailureException`.
    pub name: String,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default = "one")]
    pub count: u32,
    #[serde(default)]
    pub operation: Option<String>,
}

fn one() -> u32 {
    1
}

/// A fault setting that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultError {
    #[error("faults.{field}: unknown Cognito operation {value:?}; expected one of {expected}")]
    UnknownOperation { field: &'static str, value: String, expected: String },
    #[error("faults.exceptions: {value:?} is not an exception name; expected a name ending in \"Exception\"")]
    NotAnException { value: String },
    #[error("faults.exceptions: count of {name} is 0; expected at least 1")]
    ZeroCount { name: String },
    #[error("faults: {reason}")]
    Invalid { reason: String },
}

impl Faults {
    /// Checks names the serde types cannot: operations and exception names.
    pub fn validate(&self) -> Result<(), FaultError> {
        let known = |op: &str| COGNITO_OPERATIONS.contains(&op);
        let expected = || COGNITO_OPERATIONS.join(", ");
        for op in &self.throttle_operations {
            if !known(op) {
                return Err(FaultError::UnknownOperation {
                    field: "throttle_operations",
                    value: op.clone(),
                    expected: expected(),
                });
            }
        }
        for op in &self.access_denied {
            if !known(op) && !OTHER_OPERATIONS.contains(&op.as_str()) {
                return Err(FaultError::Invalid {
                    reason: format!(
                        "access_denied: unknown operation {op:?}; expected one of {}, {}",
                        expected(),
                        OTHER_OPERATIONS.join(", ")
                    ),
                });
            }
        }
        if let Some(b) = &self.bounce {
            let allowed = BounceSubType::allowed(b.bounce_type);
            if !allowed.contains(&b.subtype()) {
                return Err(FaultError::Invalid {
                    reason: format!(
                        "bounce: subtype {} is not a {} bounce; expected one of {}",
                        b.subtype().as_str(),
                        b.bounce_type.as_str(),
                        allowed.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                });
            }
        }
        for ex in &self.exceptions {
            if !ex.name.ends_with("Exception") || ex.name.contains(char::is_whitespace) {
                return Err(FaultError::NotAnException { value: ex.name.clone() });
            }
            if ex.count == 0 {
                return Err(FaultError::ZeroCount { name: ex.name.clone() });
            }
            if let Some(op) = &ex.operation
                && !known(op)
            {
                return Err(FaultError::UnknownOperation {
                    field: "exceptions.operation",
                    value: op.clone(),
                    expected: expected(),
                });
            }
        }
        Ok(())
    }

    /// Applies a JSON merge patch (the control endpoint's body): the fields present replace the current
    /// ones, unknown fields are refused.
    pub fn patched(&self, patch: &serde_json::Value) -> Result<Faults, FaultError> {
        let Some(patch) = patch.as_object() else {
            return Err(FaultError::Invalid { reason: format!("expected a JSON object of fault fields, got {patch}") });
        };
        let mut current = serde_json::to_value(self).map_err(|e| FaultError::Invalid { reason: e.to_string() })?;
        if let Some(obj) = current.as_object_mut() {
            for (k, v) in patch {
                obj.insert(k.clone(), v.clone());
            }
        }
        let faults: Faults =
            serde_json::from_value(current).map_err(|e| FaultError::Invalid { reason: e.to_string() })?;
        faults.validate()?;
        Ok(faults)
    }

    /// Whether the throttling fault applies to `operation`.
    pub fn throttles(&self, operation: &str) -> bool {
        self.throttle
            && (self.throttle_operations.is_empty() || self.throttle_operations.iter().any(|o| o == operation))
    }

    /// Whether the `access_denied` fault names `operation`.
    pub fn denies(&self, operation: &str) -> bool {
        self.access_denied.iter().any(|o| o == operation)
    }

    /// Takes the next injected exception for `operation`, if any, consuming one of its `count`.
    pub fn take_exception(&mut self, operation: &str) -> Option<(String, Option<String>)> {
        let idx = self.exceptions.iter().position(|e| e.operation.as_deref().is_none_or(|op| op == operation))?;
        let ex = &mut self.exceptions[idx];
        let taken = (ex.name.clone(), ex.message.clone());
        ex.count -= 1;
        if ex.count == 0 {
            self.exceptions.remove(idx);
        }
        Some(taken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patch_cases() {
        let base = Faults::default();
        type Case = (&'static str, serde_json::Value, Result<fn(&Faults) -> bool, &'static str>);
        let cases: &[Case] = &[
            ("junk on", json!({"junk": true}), Ok(|f| f.junk && !f.spf_fail)),
            ("dkim fault by name", json!({"dkim": "unaligned"}), Ok(|f| f.dkim == DkimFault::Unaligned)),
            ("unknown field refused", json!({"jnuk": true}), Err("unknown field")),
            ("wrong type refused", json!({"delivery_delay_seconds": "soon"}), Err("invalid type")),
            (
                "unknown operation refused",
                json!({"throttle_operations": ["SignUp"]}),
                Err("unknown Cognito operation \"SignUp\""),
            ),
            ("not an exception name", json!({"exceptions": [{"name": "Oops"}]}), Err("not an exception name")),
            ("not an object", json!([1]), Err("expected a JSON object")),
            (
                "bounce with its subtype",
                json!({"bounce": {"type": "Transient", "subtype": "MailboxFull"}}),
                Ok(|f| f.bounce.is_some_and(|b| b.subtype() == BounceSubType::MailboxFull)),
            ),
            (
                "bounce subtype defaults to General",
                json!({"bounce": {"type": "Permanent"}}),
                Ok(|f| f.bounce.is_some_and(|b| b.subtype() == BounceSubType::General)),
            ),
            (
                "bounce subtype of another type refused",
                json!({"bounce": {"type": "Permanent", "subtype": "MailboxFull"}}),
                Err("subtype MailboxFull is not a Permanent bounce; expected one of General, NoEmail, Suppressed"),
            ),
            ("unknown bounce type refused", json!({"bounce": {"type": "Hard"}}), Err("unknown variant `Hard`")),
            (
                "delivery delay with its documented names",
                json!({"delivery_delay": {"type": "IPFailure", "then": "bounce", "after_seconds": 60}}),
                Ok(|f| {
                    f.delivery_delay
                        .is_some_and(|d| d.delay_type == DelayType::IpFailure && d.then == DelayThen::Bounce)
                }),
            ),
            (
                "delivery delay ends delivered by default",
                json!({"delivery_delay": {"type": "TransientCommunicationFailure"}}),
                Ok(|f| f.delivery_delay.is_some_and(|d| d.then == DelayThen::Delivered && d.after_seconds == 0)),
            ),
            ("clearing a fault with null", json!({"bounce": null}), Ok(|f| f.bounce.is_none())),
            (
                "access denied names operations of every service",
                json!({"access_denied": ["ReceiveMessage", "FilterLogEvents", "GetLogDeliveryConfiguration"]}),
                Ok(|f| {
                    f.denies("ReceiveMessage") && f.denies("GetLogDeliveryConfiguration") && !f.denies("GetQueueUrl")
                }),
            ),
            (
                "access denied to an unknown operation refused",
                json!({"access_denied": ["SendEmail"]}),
                Err("access_denied: unknown operation \"SendEmail\""),
            ),
            (
                "event faults",
                json!({"event_duplicates": true, "event_out_of_order": true, "reject": true}),
                Ok(|f| f.event_duplicates && f.event_out_of_order && f.reject && !f.rendering_failure),
            ),
        ];
        for (name, patch, want) in cases {
            match (base.patched(patch), want) {
                (Ok(f), Ok(check)) => assert!(check(&f), "{name}: {f:?}"),
                (Err(e), Err(text)) => assert!(e.to_string().contains(text), "{name}: {e}"),
                (got, _) => panic!("{name}: unexpected {got:?}"),
            }
        }
    }

    #[test]
    fn injected_exceptions_are_consumed_per_operation() {
        let mut f = Faults::default()
            .patched(&json!({"exceptions": [
                {"name": "CodeDeliveryFailureException", "count": 2, "operation": "ForgotPassword"},
                {"name": "InternalErrorException"}
            ]}))
            .unwrap();
        assert_eq!(f.take_exception("AdminGetUser").unwrap().0, "InternalErrorException");
        assert_eq!(f.take_exception("AdminGetUser"), None);
        assert_eq!(f.take_exception("ForgotPassword").unwrap().0, "CodeDeliveryFailureException");
        assert_eq!(f.take_exception("ForgotPassword").unwrap().0, "CodeDeliveryFailureException");
        assert_eq!(f.take_exception("ForgotPassword"), None);
    }

    #[test]
    fn throttling_scope() {
        let mut f = Faults { throttle: true, ..Faults::default() };
        assert!(f.throttles("AdminGetUser"));
        f.throttle_operations = vec!["ForgotPassword".into()];
        assert!(!f.throttles("AdminGetUser"));
        assert!(f.throttles("ForgotPassword"));
    }
}
