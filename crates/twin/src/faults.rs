//! Faults the twin can be told to show, from the scenario file or at run time through the control
//! endpoint (`POST /_twin/faults`). Each fault imitates one way a real Cognito→SES→inbox chain breaks
//! (DESIGN.md §8, issue 2), so the probe's diagnosis for it can be tested end to end.

use serde::{Deserialize, Serialize};

use crate::mail::DkimFault;

/// Every operation of the twin's Cognito side; exception and throttling faults may name one of these.
pub const COGNITO_OPERATIONS: [&str; 7] = [
    "AdminGetUser",
    "AdminCreateUser",
    "ForgotPassword",
    "AdminResetUserPassword",
    "ResendConfirmationCode",
    "DescribeUserPool",
    "DescribeUserPoolClient",
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
}

/// What happens to a message SES sent that never arrives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecipientDrop {
    #[default]
    None,
    /// Dropped without trace (no Delivery, no Bounce).
    Silent,
    /// The receiver rejects it: the Bounce metric rises.
    Bounce,
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
