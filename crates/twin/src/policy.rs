//! The twin's reading of SES sending-authorization policies: does an identity's policy let Cognito send
//! for a user pool? SES decides this before it sends a message Cognito hands over; when no policy allows
//! it, Cognito still answers success and nothing goes out (the runbook's "two-piece gotcha").
//!
//! Written from the documentation, not from the probe: research/aws.md §3.3 ("A correct identity policy for
//! Cognito", its "Checker rule"), plus the IAM policy grammar that the SES guide defers to for the
//! elements §3.3 does not cover (`NotPrincipal`, `NotAction`, `NotResource`, negated condition operators).
//! The probe has its own implementation of the same rule; `tests/it/policy_conformance.rs` compares the two.
//!
//! The model: Cognito's send is one request — a principal with one of Cognito's service names, a send
//! action, the identity's ARN as resource, and the pool's ARN and account as `aws:SourceArn` /
//! `aws:SourceAccount`. A statement *covers* the request when every element it has matches it. An
//! explicit Deny that covers the request wins; otherwise an Allow that covers it lets Cognito send.

use serde_json::Value;

/// The sender Cognito acts as when it sends through an SES identity on behalf of a pool.
#[derive(Debug, Clone, Copy)]
pub struct CognitoSender<'a> {
    /// ARN of the SES identity (`arn:aws:ses:<region>:<account>:identity/<name>`): the request's resource.
    pub identity_arn: &'a str,
    /// ARN of the user pool: the request's `aws:SourceArn` (research/aws.md §3.3).
    pub pool_arn: &'a str,
    /// Account that owns the pool: the request's `aws:SourceAccount` (research/aws.md §3.3).
    pub account_id: &'a str,
    /// Region of the pool, for the regional principal `cognito-idp.<region>.amazonaws.com`.
    pub pool_region: &'a str,
}

/// What the policies decide for Cognito's send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyDecision {
    /// A statement allows the send and none denies it.
    Allowed { policy: String, statement: Option<String> },
    /// A Deny statement covers the send; research/aws.md §3.3: "check that no Deny statement covers the
    /// same principal and action".
    Denied { policy: String, statement: Option<String> },
    /// Nothing allows the send: SES refuses it (silently, seen from the Cognito API).
    NotAllowed,
}

/// A policy document the twin cannot read. It allows nothing (SES would not have stored it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("policy {policy:?} is not valid JSON: {reason}")]
    NotJson { policy: String, reason: String },
    #[error("policy {policy:?} has no \"Statement\" (expected an object or an array of statements)")]
    NoStatement { policy: String },
}

/// The decision, and the policies that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub decision: PolicyDecision,
    pub malformed: Vec<PolicyError>,
}

/// Evaluates named policy documents (name → JSON text, as `GetEmailIdentityPolicies` returns them) for
/// Cognito sending on behalf of `sender`. The first covering Deny (in the order given) decides; else the
/// first covering Allow.
pub fn evaluate<'p>(policies: impl IntoIterator<Item = (&'p str, &'p str)>, sender: &CognitoSender<'_>) -> Evaluation {
    let request = Request::of(sender);
    let mut malformed = Vec::new();
    let mut first_allow = None;
    let mut first_deny = None;
    for (name, text) in policies {
        let statements = match statements_of(name, text) {
            Ok(statements) => statements,
            Err(err) => {
                malformed.push(err);
                continue;
            }
        };
        for statement in statements.iter().filter(|s| s.covers(&request)) {
            let slot = match statement.effect {
                Effect::Allow => &mut first_allow,
                Effect::Deny => &mut first_deny,
                Effect::Unknown => continue,
            };
            slot.get_or_insert_with(|| (name.to_string(), statement.sid.clone()));
        }
    }
    let decision = match (first_deny, first_allow) {
        (Some((policy, statement)), _) => PolicyDecision::Denied { policy, statement },
        (None, Some((policy, statement))) => PolicyDecision::Allowed { policy, statement },
        (None, None) => PolicyDecision::NotAllowed,
    };
    Evaluation { decision, malformed }
}

/// Cognito's send as SES sees it.
struct Request<'a> {
    /// research/aws.md §3.3: Cognito's service principal is documented as `email.cognito-idp.amazonaws.com`
    /// (current Cognito guide) and `cognito-idp.amazonaws.com` (SES guide), and observed as
    /// `cognito-idp.<pool-region>.amazonaws.com` for alternate-Region pools. Which one a given send
    /// carries is not documented, so a policy naming any of them names Cognito.
    service_names: [String; 3],
    /// research/aws.md §3.3: the checker accepts a statement covering `ses:SendEmail` or
    /// `ses:SendRawEmail`. IAM action names are case-insensitive, so they are kept lower-cased.
    actions: [&'static str; 2],
    resource: &'a str,
    source_arn: &'a str,
    source_account: &'a str,
}

impl<'a> Request<'a> {
    fn of(sender: &CognitoSender<'a>) -> Request<'a> {
        Request {
            service_names: [
                "email.cognito-idp.amazonaws.com".to_string(),
                "cognito-idp.amazonaws.com".to_string(),
                format!("cognito-idp.{}.amazonaws.com", sender.pool_region),
            ],
            actions: ["ses:sendemail", "ses:sendrawemail"],
            resource: sender.identity_arn,
            source_arn: sender.pool_arn,
            source_account: sender.account_id,
        }
    }

    /// The value of a condition key in this request. research/aws.md §3.3: Cognito sends "on behalf of both
    /// the user pool in the aws:SourceArn condition and the account in the aws:SourceAccount condition",
    /// and SES matches condition keys case-sensitively (`AWS:SourceAccount` is rejected).
    fn context(&self, key: &str) -> Option<&str> {
        match key {
            "aws:SourceArn" => Some(self.source_arn),
            "aws:SourceAccount" => Some(self.source_account),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Allow,
    Deny,
    /// SES's policy anatomy allows only "Allow" or "Deny"; anything else decides nothing.
    Unknown,
}

/// An element that may be given positively (`Principal`) or as its complement (`NotPrincipal`); IAM
/// grammar: the `Not…` form covers everything except what it lists. A statement without either form
/// covers nothing for principals, actions and resources alike.
#[derive(Debug)]
enum Element<T> {
    Listed(T),
    AllExcept(T),
    Absent,
}

#[derive(Debug, Default)]
struct Principals {
    /// `"Principal": "*"` or `{"AWS": "*"}`: everyone, services included (IAM principal element).
    everyone: bool,
    services: Vec<String>,
}

#[derive(Debug)]
struct Condition {
    operator: String,
    key: String,
    values: Vec<String>,
}

#[derive(Debug)]
struct Statement {
    sid: Option<String>,
    effect: Effect,
    principal: Element<Principals>,
    action: Element<Vec<String>>,
    resource: Element<Vec<String>>,
    /// `None`: the Condition block is not an object of operator → {key → value(s)} (covers nothing).
    conditions: Option<Vec<Condition>>,
}

/// The statements of one policy document.
fn statements_of(name: &str, text: &str) -> Result<Vec<Statement>, PolicyError> {
    let document: Value = serde_json::from_str(text)
        .map_err(|err| PolicyError::NotJson { policy: name.to_string(), reason: err.to_string() })?;
    let raw: Vec<&Value> = match document.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(single @ Value::Object(_)) => vec![single],
        _ => return Err(PolicyError::NoStatement { policy: name.to_string() }),
    };
    Ok(raw.into_iter().filter_map(Value::as_object).map(Statement::read).collect())
}

impl Statement {
    fn read(fields: &serde_json::Map<String, Value>) -> Statement {
        let effect = match fields.get("Effect").and_then(Value::as_str) {
            Some("Allow") => Effect::Allow,
            Some("Deny") => Effect::Deny,
            _ => Effect::Unknown,
        };
        let element = |listed: &str, complement: &str| match (fields.get(listed), fields.get(complement)) {
            (Some(v), None) => Element::Listed(v),
            (None, Some(v)) => Element::AllExcept(v),
            // Neither, or both (IAM allows only one of the pair): covers nothing.
            _ => Element::Absent,
        };
        let map = |e: Element<&Value>, f: &dyn Fn(&Value) -> Vec<String>| match e {
            Element::Listed(v) => Element::Listed(f(v)),
            Element::AllExcept(v) => Element::AllExcept(f(v)),
            Element::Absent => Element::Absent,
        };
        let principal = match element("Principal", "NotPrincipal") {
            Element::Listed(v) => Element::Listed(principals(v)),
            Element::AllExcept(v) => Element::AllExcept(principals(v)),
            Element::Absent => Element::Absent,
        };
        Statement {
            sid: fields.get("Sid").and_then(Value::as_str).map(str::to_string),
            effect,
            principal,
            action: map(element("Action", "NotAction"), &one_or_many),
            resource: map(element("Resource", "NotResource"), &one_or_many),
            conditions: fields.get("Condition").map_or(Some(Vec::new()), conditions),
        }
    }

    /// Whether every element of the statement matches the request.
    fn covers(&self, request: &Request<'_>) -> bool {
        let names_cognito = |p: &Principals| p.everyone || p.services.iter().any(|s| request.service_names.contains(s));
        let principal = match &self.principal {
            Element::Listed(p) => names_cognito(p),
            Element::AllExcept(p) => !names_cognito(p),
            Element::Absent => false,
        };
        // research/aws.md §3.3: the action covers ses:SendEmail or ses:SendRawEmail, prefix in any case,
        // `ses:*` and `*` included. `NotAction` covers the send when some send action is not excluded.
        let action = match &self.action {
            Element::Listed(patterns) => {
                request.actions.iter().any(|a| patterns.iter().any(|p| wildcard(&p.to_lowercase(), a)))
            }
            Element::AllExcept(patterns) => {
                request.actions.iter().any(|a| !patterns.iter().any(|p| wildcard(&p.to_lowercase(), a)))
            }
            Element::Absent => false,
        };
        // research/aws.md §3.3: "Resource equals or matches the identity ARN, or is `*`".
        let resource = match &self.resource {
            Element::Listed(patterns) => patterns.iter().any(|p| wildcard(p, request.resource)),
            Element::AllExcept(patterns) => !patterns.iter().any(|p| wildcard(p, request.resource)),
            Element::Absent => false,
        };
        let conditions = self.conditions.as_ref().is_some_and(|all| all.iter().all(|c| c.holds(request)));
        principal && action && resource && conditions
    }
}

/// The principals a `Principal`/`NotPrincipal` value names.
fn principals(value: &Value) -> Principals {
    match value {
        Value::String(s) => Principals { everyone: s == "*", services: Vec::new() },
        Value::Object(by_kind) => Principals {
            everyone: by_kind.get("AWS").is_some_and(|v| one_or_many(v).iter().any(|a| a == "*")),
            services: by_kind.get("Service").map(one_or_many).unwrap_or_default(),
        },
        _ => Principals::default(),
    }
}

/// The condition block as a flat list; `None` when it is not shaped operator → {key → value(s)}.
fn conditions(block: &Value) -> Option<Vec<Condition>> {
    let mut out = Vec::new();
    for (operator, keys) in block.as_object()? {
        for (key, values) in keys.as_object()? {
            out.push(Condition { operator: operator.clone(), key: key.clone(), values: one_or_many(values) });
        }
    }
    Some(out)
}

impl Condition {
    /// research/aws.md §3.3: `aws:SourceArn` / `aws:SourceAccount` must match the pool's ARN and account,
    /// "with ArnLike/StringLike wildcards". The other operators are the IAM condition operators' string and
    /// ARN families: a negated operator holds when no value matches; `…IfExists` behaves like its base
    /// operator because both keys are always in Cognito's request. A key outside those two is not in the
    /// request as §3.3 describes it (SES refuses unknown condition fields), and an operator outside these
    /// families is not modelled: either makes the condition fail, so the statement covers nothing.
    fn holds(&self, request: &Request<'_>) -> bool {
        let Some(actual) = request.context(&self.key) else {
            return false;
        };
        let operator = self.operator.strip_suffix("IfExists").unwrap_or(&self.operator);
        let any = |matches: &dyn Fn(&str) -> bool| self.values.iter().any(|v| matches(v));
        match operator {
            "StringEquals" | "ArnEquals" => any(&|v| v == actual),
            "StringNotEquals" | "ArnNotEquals" => !any(&|v| v == actual),
            "StringEqualsIgnoreCase" => any(&|v| v.to_lowercase() == actual.to_lowercase()),
            "StringNotEqualsIgnoreCase" => !any(&|v| v.to_lowercase() == actual.to_lowercase()),
            "StringLike" | "ArnLike" => any(&|v| wildcard(v, actual)),
            "StringNotLike" | "ArnNotLike" => !any(&|v| wildcard(v, actual)),
            _ => false,
        }
    }
}

/// A policy value given as one string or an array of strings (IAM grammar); non-strings are dropped.
fn one_or_many(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

/// IAM wildcards: `*` matches any run of characters (none included), `?` exactly one; everything else
/// matches itself, case-sensitively. Dynamic programming over (pattern, text) prefixes.
fn wildcard(pattern: &str, text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    // row[j]: the pattern read so far matches the first j characters of text.
    let mut row = vec![false; text.len() + 1];
    row[0] = true;
    for p in pattern.chars() {
        let mut next = vec![false; text.len() + 1];
        for j in 0..=text.len() {
            next[j] = match p {
                '*' => row[j] || (j > 0 && next[j - 1]),
                '?' => j > 0 && row[j - 1],
                c => j > 0 && row[j - 1] && text[j - 1] == c,
            };
        }
        row = next;
    }
    row[text.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDENTITY: &str = "arn:aws:ses:us-east-1:657033058608:identity/noreply@thephenom.app";
    const POOL: &str = "arn:aws:cognito-idp:us-east-1:657033058608:userpool/us-east-1_knEL7cqS3";

    fn sender() -> CognitoSender<'static> {
        CognitoSender { identity_arn: IDENTITY, pool_arn: POOL, account_id: "657033058608", pool_region: "us-east-1" }
    }

    fn decide(docs: &[(&str, &str)]) -> PolicyDecision {
        evaluate(docs.iter().copied(), &sender()).decision
    }

    #[test]
    fn documented_policies_allow_cognito() {
        // research/aws.md §3.3: the current Cognito guide's policy and the SES guide's variant.
        let cognito_guide = r#"{"Version":"2012-10-17","Statement":[{"Sid":"stmnt1234567891234","Effect":"Allow",
            "Principal":{"Service":["email.cognito-idp.amazonaws.com"]},"Action":["SES:SendEmail","SES:SendRawEmail"],
            "Resource":"arn:aws:ses:us-east-1:657033058608:identity/noreply@thephenom.app",
            "Condition":{"StringEquals":{"aws:SourceAccount":"657033058608"},
            "ArnLike":{"aws:SourceArn":"arn:aws:cognito-idp:us-east-1:657033058608:userpool/us-east-1_knEL7cqS3"}}}]}"#;
        let ses_guide = r#"{"Statement":{"Effect":"Allow","Principal":{"Service":["cognito-idp.amazonaws.com"]},
            "Action":"ses:SendRawEmail","Resource":"*","Condition":{"StringEquals":{"aws:SourceAccount":"657033058608",
            "aws:SourceArn":"arn:aws:cognito-idp:us-east-1:657033058608:userpool/us-east-1_knEL7cqS3"}}}}"#;
        for (name, doc) in [("cognito guide", cognito_guide), ("ses guide", ses_guide)] {
            assert!(matches!(decide(&[(name, doc)]), PolicyDecision::Allowed { .. }), "{name}");
        }
    }

    #[test]
    fn a_covering_deny_wins_whatever_the_order() {
        let allow = r#"{"Statement":[{"Sid":"a","Effect":"Allow","Principal":{"Service":"cognito-idp.amazonaws.com"},
            "Action":"ses:SendEmail","Resource":"*"}]}"#;
        let deny = r#"{"Statement":[{"Sid":"d","Effect":"Deny","Principal":"*","Action":"ses:Send*","Resource":"*"}]}"#;
        let denied = PolicyDecision::Denied { policy: "deny".into(), statement: Some("d".into()) };
        assert_eq!(decide(&[("allow", allow), ("deny", deny)]), denied);
        assert_eq!(decide(&[("deny", deny), ("allow", allow)]), denied);
    }

    #[test]
    fn unreadable_policies_are_reported_and_allow_nothing() {
        let ev = evaluate([("broken", "{"), ("no-statement", r#"{"Version":"2012-10-17"}"#)], &sender());
        assert_eq!(ev.decision, PolicyDecision::NotAllowed);
        assert!(matches!(&ev.malformed[..], [PolicyError::NotJson { .. },
                PolicyError::NoStatement { policy }] if policy == "no-statement"));
    }

    #[test]
    fn wildcard_cases() {
        let cases = [
            ("*", "", true),
            ("*", "anything", true),
            ("ses:send*", "ses:sendrawemail", true),
            ("ses:*email", "ses:sendemail", true),
            ("ses:send?mail", "ses:sendemail", true),
            ("ses:send?", "ses:sendemail", false),
            ("a*b*c", "a-b-b-c", true),
            ("a*b*c", "a-c-b", false),
            ("abc", "ABC", false),
            ("", "", true),
            ("", "x", false),
        ];
        for (pattern, text, want) in cases {
            assert_eq!(wildcard(pattern, text), want, "{pattern:?} vs {text:?}");
        }
    }
}
