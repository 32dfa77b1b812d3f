//! The identity-policy rule: does an SES identity's sending-authorization policy let Cognito send mail
//! for a given user pool? The rule of research/aws.md §3.3 ("Checker rule"), as one pure function that
//! the twin uses to decide whether a DEVELOPER-mode send is silently dropped (the runbook's "two-piece
//! gotcha", seeds/) and that `probe doctor` reuses to read real policies.

use serde_json::Value;

/// The sender Cognito acts as when it sends through an SES identity on behalf of a pool.
#[derive(Debug, Clone, Copy)]
pub struct CognitoSender<'a> {
    /// ARN of the SES identity (`arn:aws:ses:<region>:<account>:identity/<name>`), the policy's Resource.
    pub identity_arn: &'a str,
    /// ARN of the user pool (`arn:aws:cognito-idp:<region>:<account>:userpool/<id>`): `aws:SourceArn`.
    pub pool_arn: &'a str,
    /// Account that owns the pool: `aws:SourceAccount`.
    pub account_id: &'a str,
    /// Region of the pool, for the regional principal `cognito-idp.<region>.amazonaws.com`.
    pub pool_region: &'a str,
}

/// What the policies decide for the Cognito principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyDecision {
    /// A statement allows Cognito to send and no statement denies it.
    Allowed { policy: String, statement: Option<String> },
    /// A Deny statement covers Cognito sending (an explicit deny wins over any allow).
    Denied { policy: String, statement: Option<String> },
    /// No statement allows it: Cognito's sends are refused (silently, seen from the Cognito API).
    NotAllowed,
}

/// A policy document that is not valid JSON or not shaped like a policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("policy {policy:?} is not valid JSON: {reason}")]
    NotJson { policy: String, reason: String },
    #[error("policy {policy:?} has no \"Statement\" (expected an object or an array of statements)")]
    NoStatement { policy: String },
}

/// The decision plus every policy that could not be read (those count as allowing nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub decision: PolicyDecision,
    pub malformed: Vec<PolicyError>,
}

/// Evaluates named policy documents (name → JSON text, as SESv2 `GetEmailIdentityPolicies` returns them)
/// for Cognito sending on behalf of `sender`.
///
/// research/aws.md §3.3: pass if some statement has Effect=Allow; a Service principal among
/// `email.cognito-idp.amazonaws.com` (current Cognito guide), `cognito-idp.amazonaws.com` (SES guide,
/// and the runbook's policy) or `cognito-idp.<pool-region>.amazonaws.com` (observed for alternate-Region
/// pools), as a string or array; an Action covering `ses:SendEmail` or `ses:SendRawEmail` (prefix case-
/// insensitive, wildcards such as `ses:*` and `*` count); a Resource matching the identity ARN or `*`; and
/// `aws:SourceArn`/`aws:SourceAccount` conditions, when present, matching the pool ARN and account
/// (ArnLike/StringLike wildcards). A Deny statement covering the same principal and action wins.
pub fn evaluate<'p>(policies: impl IntoIterator<Item = (&'p str, &'p str)>, sender: &CognitoSender<'_>) -> Evaluation {
    let mut allowed = None;
    let mut malformed = Vec::new();
    for (name, text) in policies {
        let doc: Value = match serde_json::from_str(text) {
            Ok(doc) => doc,
            Err(err) => {
                malformed.push(PolicyError::NotJson { policy: name.to_string(), reason: err.to_string() });
                continue;
            }
        };
        let statements: Vec<&Value> = match doc.get("Statement") {
            Some(Value::Array(list)) => list.iter().collect(),
            Some(one @ Value::Object(_)) => vec![one],
            _ => {
                malformed.push(PolicyError::NoStatement { policy: name.to_string() });
                continue;
            }
        };
        for statement in statements {
            if !statement_applies(statement, sender) {
                continue;
            }
            let sid = statement.get("Sid").and_then(Value::as_str).map(str::to_string);
            match statement.get("Effect").and_then(Value::as_str) {
                Some("Deny") => {
                    return Evaluation {
                        decision: PolicyDecision::Denied { policy: name.to_string(), statement: sid },
                        malformed,
                    };
                }
                Some("Allow") if allowed.is_none() => {
                    allowed = Some(PolicyDecision::Allowed { policy: name.to_string(), statement: sid })
                }
                _ => {}
            }
        }
    }
    Evaluation { decision: allowed.unwrap_or(PolicyDecision::NotAllowed), malformed }
}

/// Whether a statement's principal, action, resource and conditions all cover Cognito sending for this
/// pool. `NotPrincipal`/`NotAction`/`NotResource` statements are not evaluated (treated as not applying).
fn statement_applies(statement: &Value, sender: &CognitoSender<'_>) -> bool {
    if ["NotPrincipal", "NotAction", "NotResource"].iter().any(|k| statement.get(k).is_some()) {
        return false;
    }
    principal_matches(statement.get("Principal"), sender)
        && strings(statement.get("Action")).iter().any(|a| action_covers_send(a))
        && strings(statement.get("Resource")).iter().any(|r| glob(r, sender.identity_arn))
        && conditions_hold(statement.get("Condition"), sender)
}

/// research/aws.md §3.3: the accepted Cognito service principals; `*` (anyone) also covers Cognito.
fn principal_matches(principal: Option<&Value>, sender: &CognitoSender<'_>) -> bool {
    let regional = format!("cognito-idp.{}.amazonaws.com", sender.pool_region);
    let accepted =
        |s: &str| s == "email.cognito-idp.amazonaws.com" || s == "cognito-idp.amazonaws.com" || s == regional;
    match principal {
        Some(Value::String(s)) => s == "*",
        Some(Value::Object(map)) => {
            strings(map.get("Service")).iter().any(|s| accepted(s)) || strings(map.get("AWS")).iter().any(|s| s == "*")
        }
        _ => false,
    }
}

/// research/aws.md §3.3: `ses:SendEmail`/`ses:SendRawEmail`, prefix in any case, wildcards allowed.
pub(crate) fn action_covers_send(action: &str) -> bool {
    ["ses:sendemail", "ses:sendrawemail"].iter().any(|wanted| glob(&action.to_ascii_lowercase(), wanted))
}

/// research/aws.md §3.3: `aws:SourceAccount` / `aws:SourceArn` conditions must match the pool's account
/// and ARN. Condition keys are case-sensitive as SES validates them (§3.3, `AWS:SourceAccount` is
/// rejected), so an unknown key or operator makes the statement not apply.
fn conditions_hold(condition: Option<&Value>, sender: &CognitoSender<'_>) -> bool {
    let Some(condition) = condition else {
        return true;
    };
    let Some(operators) = condition.as_object() else {
        return false;
    };
    operators.iter().all(|(operator, keys)| {
        let Some(keys) = keys.as_object() else {
            return false;
        };
        let op = operator.strip_suffix("IfExists").unwrap_or(operator);
        keys.iter().all(|(key, wanted)| {
            let actual = match key.as_str() {
                "aws:SourceAccount" => sender.account_id,
                "aws:SourceArn" => sender.pool_arn,
                _ => return false,
            };
            let wanted = strings(Some(wanted));
            match op {
                "StringEquals" | "ArnEquals" => wanted.iter().any(|w| w == actual),
                "StringEqualsIgnoreCase" => wanted.iter().any(|w| w.eq_ignore_ascii_case(actual)),
                "StringLike" | "ArnLike" => wanted.iter().any(|w| glob(w, actual)),
                _ => false,
            }
        })
    })
}

/// A policy value that may be a string or an array of strings.
pub(crate) fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

/// IAM wildcard match: `*` any run of characters, `?` exactly one. `pattern` is matched against `text`.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDENTITY: &str = "arn:aws:ses:us-east-1:657033058608:identity/noreply@thephenom.app";
    const POOL: &str = "arn:aws:cognito-idp:us-east-1:657033058608:userpool/us-east-1_knEL7cqS3";

    fn sender() -> CognitoSender<'static> {
        CognitoSender { identity_arn: IDENTITY, pool_arn: POOL, account_id: "657033058608", pool_region: "us-east-1" }
    }

    fn policy(effect: &str, principal: &str, action: &str, resource: &str, condition: &str) -> String {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"s1","Effect":"{effect}","Principal":{principal},
            "Action":{action},"Resource":"{resource}"{condition}}}]}}"#
        )
    }

    #[test]
    fn statements_case_table() {
        let svc = r#"{"Service":"cognito-idp.amazonaws.com"}"#;
        let send = r#"["SES:SendEmail","SES:SendRawEmail"]"#;
        let acct = r#","Condition":{"StringEquals":{"aws:SourceAccount":"657033058608"}}"#;
        let cases: &[(&str, String, bool)] = &[
            (
                "runbook policy: cognito-idp principal, account condition",
                policy("Allow", svc, send, IDENTITY, acct),
                true,
            ),
            (
                "current Cognito guide: email.cognito-idp principal, both conditions",
                policy(
                    "Allow",
                    r#"{"Service":["email.cognito-idp.amazonaws.com"]}"#,
                    send,
                    IDENTITY,
                    r#","Condition":{"StringEquals":{"aws:SourceAccount":"657033058608"},"ArnLike":{"aws:SourceArn":"arn:aws:cognito-idp:us-east-1:657033058608:userpool/*"}}"#,
                ),
                true,
            ),
            (
                "regional principal",
                policy("Allow", r#"{"Service":"cognito-idp.us-east-1.amazonaws.com"}"#, send, IDENTITY, ""),
                true,
            ),
            ("wildcard action and resource", policy("Allow", svc, r#""ses:*""#, "*", ""), true),
            ("only SendRawEmail", policy("Allow", svc, r#""ses:SendRawEmail""#, IDENTITY, ""), true),
            ("anyone as principal", policy("Allow", r#""*""#, send, IDENTITY, ""), true),
            (
                "other service principal",
                policy("Allow", r#"{"Service":"lambda.amazonaws.com"}"#, send, IDENTITY, ""),
                false,
            ),
            ("action does not send", policy("Allow", svc, r#""ses:GetEmailIdentity""#, IDENTITY, ""), false),
            (
                "other identity",
                policy("Allow", svc, send, "arn:aws:ses:us-east-1:657033058608:identity/other.example", ""),
                false,
            ),
            (
                "other account",
                policy(
                    "Allow",
                    svc,
                    send,
                    IDENTITY,
                    r#","Condition":{"StringEquals":{"aws:SourceAccount":"111122223333"}}"#,
                ),
                false,
            ),
            (
                "other pool",
                policy(
                    "Allow",
                    svc,
                    send,
                    IDENTITY,
                    r#","Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:cognito-idp:us-east-1:657033058608:userpool/us-east-1_other"}}"#,
                ),
                false,
            ),
            (
                "condition key in wrong case (SES rejects it)",
                policy(
                    "Allow",
                    svc,
                    send,
                    IDENTITY,
                    r#","Condition":{"StringEquals":{"AWS:SourceAccount":"657033058608"}}"#,
                ),
                false,
            ),
            (
                "unknown operator",
                policy(
                    "Allow",
                    svc,
                    send,
                    IDENTITY,
                    r#","Condition":{"NumericEquals":{"aws:SourceAccount":"657033058608"}}"#,
                ),
                false,
            ),
        ];
        for (name, doc, expect_allowed) in cases {
            let ev = evaluate([("p", doc.as_str())], &sender());
            assert_eq!(matches!(ev.decision, PolicyDecision::Allowed { .. }), *expect_allowed, "{name}: {ev:?}");
            assert!(ev.malformed.is_empty(), "{name}");
        }
    }

    #[test]
    fn explicit_deny_wins_over_allow() {
        let svc = r#"{"Service":"cognito-idp.amazonaws.com"}"#;
        let allow = policy("Allow", svc, r#""ses:SendEmail""#, IDENTITY, "");
        let deny = policy("Deny", r#"{"Service":"email.cognito-idp.amazonaws.com"}"#, r#""ses:*""#, "*", "");
        let ev = evaluate([("allow", allow.as_str()), ("deny", deny.as_str())], &sender());
        assert_eq!(ev.decision, PolicyDecision::Denied { policy: "deny".into(), statement: Some("s1".into()) });
    }

    #[test]
    fn no_policies_and_malformed_policies_allow_nothing() {
        assert_eq!(evaluate([], &sender()).decision, PolicyDecision::NotAllowed);
        let ev = evaluate([("broken", "{not json"), ("empty", "{}")], &sender());
        assert_eq!(ev.decision, PolicyDecision::NotAllowed);
        assert_eq!(ev.malformed.len(), 2);
        assert!(matches!(&ev.malformed[1], PolicyError::NoStatement { policy } if policy == "empty"));
    }

    #[test]
    fn glob_cases() {
        let cases = [
            ("*", "anything", true),
            ("ses:send*", "ses:sendemail", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("abc", "abd", false),
            ("*b*", "abc", true),
            ("ses:send?mail", "ses:sendemail", true),
            ("ses:send?", "ses:sendemail", false),
            ("*@thephenom.app", "noreply@thephenom.app", true),
            ("noreply", "noreply@thephenom.app", false),
        ];
        for (p, t, want) in cases {
            assert_eq!(glob(p, t), want, "{p} vs {t}");
        }
    }
}
