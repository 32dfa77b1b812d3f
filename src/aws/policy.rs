//! The identity-policy rule: does an SES identity's sending-authorization policy let Cognito send mail
//! for a user pool? research/aws.md §3.3 ("Checker rule"), the one home of that rule, in two modes:
//!
//! * **live** (`probe doctor`): the pool exists, so its ARN, account and Region are known and the
//!   `aws:SourceArn` / `aws:SourceAccount` conditions are judged against them; `Resource` is compared
//!   with the identity ARN.
//! * **planned** (`probe lint-terraform`): before `terraform apply` neither the pool's ARN nor the account
//!   is known, so conditions on them cannot be judged and are taken to hold; `Resource` entries have
//!   been resolved to identity names by the Terraform reader and are compared with the identity name.
//!
//! A missing policy is the runbook's two-piece gotcha (seeds/): Cognito answers success and SES silently
//! refuses.

use serde_json::Value;

use super::arn;
use super::cognito::Pool;

/// The Cognito service principals documented for sending authorization (research/aws.md §3.3: the Cognito
/// developer guide's `email.cognito-idp.amazonaws.com`, the SES guide's `cognito-idp.amazonaws.com`).
/// AWS documents them in lower case and an IAM principal that differs does not match — a wrong principal
/// "fails silently" (§3.3) — so they are compared exactly.
const GLOBAL_PRINCIPALS: [&str; 2] = ["email.cognito-idp.amazonaws.com", "cognito-idp.amazonaws.com"];

/// Who sends and on what: the identity and, where known, the pool. Values that are `None` are not known
/// yet (planned mode) and the conditions on them are taken to hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// The identity as the policies' `Resource` entries name it: its ARN (live) or its name (planned).
    pub identity: String,
    /// ARN of the user pool (`arn:aws:cognito-idp:<region>:<account>:userpool/<id>`): `aws:SourceArn`.
    pub pool_arn: Option<String>,
    /// Account that owns the pool: `aws:SourceAccount`.
    pub account_id: Option<String>,
    /// Region of the pool, for the Regional principal `cognito-idp.<region>.amazonaws.com` (research/aws.md
    /// §3.3, observed for alternate-Region pools); unknown → any Region's form is accepted.
    pub pool_region: Option<String>,
}

impl Subject {
    /// A pool that exists: every value known (`probe doctor`).
    pub fn live(identity_arn: &str, pool_arn: &str, account_id: &str, pool_region: &str) -> Subject {
        Subject {
            identity: identity_arn.to_string(),
            pool_arn: Some(pool_arn.to_string()),
            account_id: Some(account_id.to_string()),
            pool_region: Some(pool_region.to_string()),
        }
    }

    /// The live subject of a pool read from AWS: its SourceArn's identity, its ARN (built from its id when
    /// DescribeUserPool did not return one) and its account; `None` without a SourceArn.
    pub fn of_pool(pool: &Pool, pool_region: &str) -> Option<Subject> {
        let identity_arn = pool.source_arn.as_deref()?;
        let account = pool.account().unwrap_or_default();
        let pool_arn = pool.arn.clone().unwrap_or_else(|| arn::user_pool(pool_region, account, &pool.id));
        Some(Subject::live(identity_arn, &pool_arn, account, pool_region))
    }

    /// A pool still in Terraform: only the identity's name is known (`probe lint-terraform`).
    pub fn planned(identity_name: &str) -> Subject {
        Subject { identity: identity_name.to_string(), pool_arn: None, account_id: None, pool_region: None }
    }
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

impl Evaluation {
    pub fn allows(&self) -> bool {
        matches!(self.decision, PolicyDecision::Allowed { .. })
    }
}

/// Evaluates named policy documents as JSON text (name → text, as SESv2 `GetEmailIdentityPolicies`
/// returns them).
pub fn evaluate<'p>(policies: impl IntoIterator<Item = (&'p str, &'p str)>, subject: &Subject) -> Evaluation {
    let mut malformed = Vec::new();
    let parsed: Vec<(&str, Value)> = policies
        .into_iter()
        .filter_map(|(name, text)| match serde_json::from_str(text) {
            Ok(doc) => Some((name, doc)),
            Err(err) => {
                malformed.push(PolicyError::NotJson { policy: name.to_string(), reason: err.to_string() });
                None
            }
        })
        .collect();
    let mut evaluation = evaluate_documents(parsed.iter().map(|(n, d)| (*n, d)), subject);
    malformed.append(&mut evaluation.malformed);
    evaluation.malformed = malformed;
    evaluation
}

/// Evaluates already parsed policy documents (name → JSON value).
///
/// research/aws.md §3.3: allowed if some statement has Effect=Allow; a Service principal among the
/// documented ones (string or array), or `*` / `{"AWS": "*"}` (anyone, Cognito included); an Action
/// covering `ses:SendEmail` or `ses:SendRawEmail` (prefix case-insensitive, wildcards such as `ses:*` and
/// `*` count); a Resource matching the identity or `*`; and `aws:SourceArn`/`aws:SourceAccount`
/// conditions, when present and the values are known, matching the pool ARN and account (ArnLike/
/// StringLike wildcards). A Deny statement covering the same principal and action wins ("Also check that
/// no Deny statement covers the same principal and action").
pub fn evaluate_documents<'p>(
    policies: impl IntoIterator<Item = (&'p str, &'p Value)>,
    subject: &Subject,
) -> Evaluation {
    let mut allowed = None;
    let mut malformed = Vec::new();
    for (name, doc) in policies {
        let statements: Vec<&Value> = match doc.get("Statement") {
            Some(Value::Array(list)) => list.iter().collect(),
            Some(one @ Value::Object(_)) => vec![one],
            _ => {
                malformed.push(PolicyError::NoStatement { policy: name.to_string() });
                continue;
            }
        };
        for statement in statements.into_iter().filter(|s| statement_applies(s, subject)) {
            let sid = statement.get("Sid").and_then(Value::as_str).map(str::to_string);
            match statement.get("Effect").and_then(Value::as_str) {
                Some("Deny") => {
                    let decision = PolicyDecision::Denied { policy: name.to_string(), statement: sid };
                    return Evaluation { decision, malformed };
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
/// subject. `NotPrincipal`/`NotAction`/`NotResource` statements are not evaluated (treated as not
/// applying): their meaning depends on every other principal and action AWS knows.
fn statement_applies(statement: &Value, subject: &Subject) -> bool {
    if ["NotPrincipal", "NotAction", "NotResource"].iter().any(|k| statement.get(k).is_some()) {
        return false;
    }
    principal_matches(statement.get("Principal"), subject)
        && strings(statement.get("Action")).iter().any(|a| action_covers_send(a))
        && strings(statement.get("Resource")).iter().any(|r| glob(r, &subject.identity))
        && conditions_hold(statement.get("Condition"), subject)
}

/// research/aws.md §3.3: the accepted Cognito service principals; `*` (anyone) also covers Cognito.
fn principal_matches(principal: Option<&Value>, subject: &Subject) -> bool {
    let accepted = |service: &str| {
        GLOBAL_PRINCIPALS.contains(&service)
            || service.strip_prefix("cognito-idp.").and_then(|s| s.strip_suffix(".amazonaws.com")).is_some_and(
                |region| !region.contains('.') && subject.pool_region.as_deref().is_none_or(|r| r == region),
            )
    };
    match principal {
        Some(Value::String(s)) => s == "*",
        Some(Value::Object(map)) => {
            strings(map.get("Service")).iter().any(|s| accepted(s)) || strings(map.get("AWS")).iter().any(|s| s == "*")
        }
        _ => false,
    }
}

/// research/aws.md §3.3: `ses:SendEmail`/`ses:SendRawEmail`, prefix in any case, wildcards allowed (IAM
/// action names are case-insensitive).
fn action_covers_send(action: &str) -> bool {
    ["ses:sendemail", "ses:sendrawemail"].iter().any(|wanted| glob(&action.to_ascii_lowercase(), wanted))
}

/// research/aws.md §3.3: `aws:SourceAccount` / `aws:SourceArn` conditions must match the pool's account
/// and ARN. Condition keys are case-sensitive as SES validates them (§3.3, `AWS:SourceAccount` is
/// rejected), so an unknown key or operator makes the statement not apply. A value not known yet
/// (planned mode) is taken to match.
fn conditions_hold(condition: Option<&Value>, subject: &Subject) -> bool {
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
                "aws:SourceAccount" => subject.account_id.as_deref(),
                "aws:SourceArn" => subject.pool_arn.as_deref(),
                _ => return false,
            };
            let Some(actual) = actual else {
                return matches!(
                    op,
                    "StringEquals" | "ArnEquals" | "StringEqualsIgnoreCase" | "StringLike" | "ArnLike"
                );
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
fn strings(value: Option<&Value>) -> Vec<String> {
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
    use serde_json::json;

    const IDENTITY: &str = "arn:aws:ses:us-east-1:657033058608:identity/noreply@example.com";
    const POOL: &str = "arn:aws:cognito-idp:us-east-1:657033058608:userpool/us-east-1_knEL7cqS3";

    fn live() -> Subject {
        Subject::live(IDENTITY, POOL, "657033058608", "us-east-1")
    }

    fn policy(effect: &str, principal: &str, action: &str, resource: &str, condition: &str) -> String {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"s1","Effect":"{effect}","Principal":{principal},
            "Action":{action},"Resource":"{resource}"{condition}}}]}}"#
        )
    }

    #[test]
    fn live_statements_case_table() {
        let svc = r#"{"Service":"cognito-idp.amazonaws.com"}"#;
        let send = r#"["SES:SendEmail","SES:SendRawEmail"]"#;
        let acct = r#","Condition":{"StringEquals":{"aws:SourceAccount":"657033058608"}}"#;
        let both = r#","Condition":{"StringEquals":{"aws:SourceAccount":"657033058608"},
            "ArnLike":{"aws:SourceArn":"arn:aws:cognito-idp:us-east-1:657033058608:userpool/*"}}"#;
        let other_acct = r#","Condition":{"StringEquals":{"aws:SourceAccount":"111122223333"}}"#;
        let other_pool = r#","Condition":{"ArnLike":{"aws:SourceArn":
            "arn:aws:cognito-idp:us-east-1:657033058608:userpool/us-east-1_other"}}"#;
        let key_case = r#","Condition":{"StringEquals":{"AWS:SourceAccount":"657033058608"}}"#;
        let numeric = r#","Condition":{"NumericEquals":{"aws:SourceAccount":"657033058608"}}"#;
        let if_exists = r#","Condition":{"StringEqualsIfExists":{"aws:SourceAccount":"657033058608"}}"#;
        let email_svc = r#"{"Service":["email.cognito-idp.amazonaws.com"]}"#;
        let regional = r#"{"Service":"cognito-idp.us-east-1.amazonaws.com"}"#;
        let far_regional = r#"{"Service":"cognito-idp.eu-west-1.amazonaws.com"}"#;
        let other_id = "arn:aws:ses:us-east-1:657033058608:identity/other.example";
        let cases: &[(&str, String, bool)] = &[
            (
                "runbook policy: cognito-idp principal, account condition",
                policy("Allow", svc, send, IDENTITY, acct),
                true,
            ),
            (
                "Cognito guide: email.cognito-idp principal, both conditions",
                policy("Allow", email_svc, send, IDENTITY, both),
                true,
            ),
            ("regional principal of the pool's Region", policy("Allow", regional, send, IDENTITY, ""), true),
            ("regional principal of another Region", policy("Allow", far_regional, send, IDENTITY, ""), false),
            ("wildcard action and resource", policy("Allow", svc, r#""ses:*""#, "*", ""), true),
            ("only SendRawEmail", policy("Allow", svc, r#""ses:SendRawEmail""#, IDENTITY, ""), true),
            ("anyone as principal", policy("Allow", r#""*""#, send, IDENTITY, ""), true),
            ("IfExists operator", policy("Allow", svc, send, IDENTITY, if_exists), true),
            (
                "principal in another case",
                policy("Allow", r#"{"Service":"Cognito-IDP.amazonaws.com"}"#, send, IDENTITY, ""),
                false,
            ),
            (
                "other service principal",
                policy("Allow", r#"{"Service":"lambda.amazonaws.com"}"#, send, IDENTITY, ""),
                false,
            ),
            ("action does not send", policy("Allow", svc, r#""ses:GetEmailIdentity""#, IDENTITY, ""), false),
            ("other identity", policy("Allow", svc, send, other_id, ""), false),
            ("other account", policy("Allow", svc, send, IDENTITY, other_acct), false),
            ("other pool", policy("Allow", svc, send, IDENTITY, other_pool), false),
            ("condition key in wrong case (SES rejects it)", policy("Allow", svc, send, IDENTITY, key_case), false),
            ("unknown operator", policy("Allow", svc, send, IDENTITY, numeric), false),
        ];
        for (name, doc, expect_allowed) in cases {
            let ev = evaluate([("p", doc.as_str())], &live());
            assert_eq!(ev.allows(), *expect_allowed, "{name}: {ev:?}");
            assert!(ev.malformed.is_empty(), "{name}");
        }
    }

    #[test]
    fn explicit_deny_wins_over_allow() {
        let svc = r#"{"Service":"cognito-idp.amazonaws.com"}"#;
        let allow = policy("Allow", svc, r#""ses:SendEmail""#, IDENTITY, "");
        let deny = policy("Deny", r#"{"Service":"email.cognito-idp.amazonaws.com"}"#, r#""ses:*""#, "*", "");
        let ev = evaluate([("allow", allow.as_str()), ("deny", deny.as_str())], &live());
        assert_eq!(ev.decision, PolicyDecision::Denied { policy: "deny".into(), statement: Some("s1".into()) });
    }

    #[test]
    fn no_policies_and_malformed_policies_allow_nothing() {
        assert_eq!(evaluate([], &live()).decision, PolicyDecision::NotAllowed);
        let ev = evaluate([("broken", "{not json"), ("empty", "{}")], &live());
        assert_eq!(ev.decision, PolicyDecision::NotAllowed);
        assert_eq!(ev.malformed.len(), 2);
        assert!(matches!(&ev.malformed[1], PolicyError::NoStatement { policy } if policy == "empty"));
    }

    /// Planned mode: resources are identity names, the pool's ARN and account are not known yet.
    #[test]
    fn planned_statements_case_table() {
        let id = "noreply@example.com";
        fn statement(principal: Value, action: Value, resource: Value, effect: &str) -> Value {
            let one = json!({ "Effect": effect, "Principal": principal, "Action": action, "Resource": resource });
            json!({ "Statement": [one] })
        }
        let svc = |s: &str| json!({ "Service": s });
        let send = json!(["ses:SendEmail", "ses:SendRawEmail"]);
        let cognito = svc("cognito-idp.amazonaws.com");
        let with_conditions = json!({ "Statement": [{
            "Effect": "Allow", "Principal": cognito, "Action": send, "Resource": id,
            "Condition": { "StringEquals": { "aws:SourceAccount": "657033058608" },
                           "ArnLike": { "aws:SourceArn": "arn:aws:cognito-idp:*:657033058608:userpool/*" } } }] });
        let cases: Vec<(&str, Value, bool)> = vec![
            (
                "developer guide form",
                statement(svc("email.cognito-idp.amazonaws.com"), send.clone(), json!(id), "Allow"),
                true,
            ),
            ("ses guide principal", statement(cognito.clone(), json!("SES:SendRawEmail"), json!(id), "Allow"), true),
            (
                "any Region's principal",
                statement(svc("cognito-idp.eu-west-1.amazonaws.com"), send.clone(), json!(id), "Allow"),
                true,
            ),
            (
                "principal array",
                statement(
                    json!({"Service": ["x.amazonaws.com", "cognito-idp.amazonaws.com"]}),
                    send.clone(),
                    json!(id),
                    "Allow",
                ),
                true,
            ),
            ("conditions on values not known yet", with_conditions, true),
            ("ses:* action", statement(cognito.clone(), json!("ses:*"), json!(id), "Allow"), true),
            ("wildcard resource", statement(cognito.clone(), send.clone(), json!("*"), "Allow"), true),
            ("other principal", statement(svc("lambda.amazonaws.com"), send.clone(), json!(id), "Allow"), false),
            ("read-only action", statement(cognito.clone(), json!("ses:GetEmailIdentity"), json!(id), "Allow"), false),
            ("other identity", statement(cognito.clone(), send.clone(), json!("other@example.com"), "Allow"), false),
            ("deny only", statement(cognito.clone(), send.clone(), json!(id), "Deny"), false),
            (
                "allow cancelled by deny",
                json!({ "Statement": [
                    { "Effect": "Allow", "Principal": cognito, "Action": send, "Resource": id },
                    { "Effect": "Deny", "Principal": cognito, "Action": "ses:Send*", "Resource": "*" },
                ]}),
                false,
            ),
            ("no statements", json!({}), false),
        ];
        for (name, doc, want) in cases {
            let ev = evaluate_documents([("p", &doc)], &Subject::planned(id));
            assert_eq!(ev.allows(), want, "{name}: {ev:?}");
        }
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
            ("*@example.com", "noreply@example.com", true),
            ("noreply", "noreply@example.com", false),
        ];
        for (p, t, want) in cases {
            assert_eq!(glob(p, t), want, "{p} vs {t}");
        }
    }
}
