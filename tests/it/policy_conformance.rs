//! Conformance of the identity-policy rule (research/aws.md §3.3): one table of SES identity-policy
//! documents, each evaluated by the probe's rule (what `probe doctor` reports) and by the twin's own rule
//! (what the twin's SES does with Cognito's mail). The two are separate implementations on purpose
//! (DESIGN.md §8): a bug in either shows here as a disagreement.
//!
//! Every case states the decision AWS documents; the twin must reach it, and the probe must agree with
//! the twin — except where a disagreement is listed with its reason. A listed disagreement is asserted
//! exactly as listed, so fixing either side makes its case fail until the list is updated.

use serde_json::{Value, json};

// The probe's rule, in its live mode (what `probe doctor` applies to a pool read from AWS).
use cognito_delivery_probe::aws::policy as product;

const ACCOUNT: &str = "657033058608";
const IDENTITY: &str = "arn:aws:ses:us-east-1:657033058608:identity/noreply@thephenom.app";
const POOL: &str = "arn:aws:cognito-idp:us-east-1:657033058608:userpool/us-east-1_knEL7cqS3";
/// research/aws.md §1.5: an alternate-Region pool sends through an identity in another Region.
const EU_POOL: &str = "arn:aws:cognito-idp:eu-west-1:657033058608:userpool/eu-west-1_Zr8PqT2nX";
const COGNITO: &str = "cognito-idp.amazonaws.com";
const COGNITO_EMAIL: &str = "email.cognito-idp.amazonaws.com";

/// Which pool is sending.
#[derive(Debug, Clone, Copy)]
enum Pool {
    UsEast1,
    EuWest1,
}

impl Pool {
    fn parts(self) -> (&'static str, &'static str) {
        match self {
            Pool::UsEast1 => (POOL, "us-east-1"),
            Pool::EuWest1 => (EU_POOL, "eu-west-1"),
        }
    }
}

/// A decision as both rules report it: which policy and statement decided.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Decision {
    Allowed(String, Option<String>),
    Denied(String, Option<String>),
    NotAllowed,
}

fn allowed(policy: &str, sid: Option<&str>) -> Decision {
    Decision::Allowed(policy.into(), sid.map(Into::into))
}

fn denied(policy: &str, sid: Option<&str>) -> Decision {
    Decision::Denied(policy.into(), sid.map(Into::into))
}

/// What a rule made of the policies: the decision and how many documents it could not read.
type Outcome = (Decision, usize);

struct Case {
    name: &'static str,
    pool: Pool,
    policies: Vec<(&'static str, String)>,
    /// What AWS does (research/aws.md §3.3, and the IAM policy grammar for what §3.3 leaves out).
    expect: Outcome,
    /// Where the probe's rule knowingly differs: its outcome and why.
    probe_differs: Option<(Outcome, &'static str)>,
}

fn case(name: &'static str, policies: Vec<(&'static str, String)>, expect: Outcome) -> Case {
    Case { name, pool: Pool::UsEast1, policies, expect, probe_differs: None }
}

/// One statement: effect, principal, action and resource as JSON, plus more fields (`Sid`, `Condition`,
/// `Not…` elements) merged in.
fn statement(effect: &str, principal: Value, action: Value, resource: Value, more: Value) -> Value {
    let mut s = json!({"Effect": effect, "Principal": principal, "Action": action, "Resource": resource});
    if let (Some(map), Some(extra)) = (s.as_object_mut(), more.as_object()) {
        for (k, v) in extra {
            if v.is_null() {
                map.remove(k);
            } else {
                map.insert(k.clone(), v.clone());
            }
        }
    }
    s
}

fn doc(statements: Vec<Value>) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

fn service(name: &str) -> Value {
    json!({"Service": name})
}

fn send() -> Value {
    json!(["SES:SendEmail", "SES:SendRawEmail"])
}

/// The runbook's allow statement (`Sid` "allow"), Cognito principal, both send actions, the identity.
fn allow_cognito() -> Value {
    statement("Allow", service(COGNITO), send(), json!(IDENTITY), json!({"Sid": "allow"}))
}

/// An allowing statement with `more` fields.
fn allow_with(more: Value) -> String {
    doc(vec![statement("Allow", service(COGNITO), send(), json!(IDENTITY), more)])
}

fn one(policy: String) -> Vec<(&'static str, String)> {
    vec![("p", policy)]
}

/// The allow policy plus a policy `deny` holding `deny_statement`.
fn with_deny(deny_statement: Value) -> Vec<(&'static str, String)> {
    vec![("allow", doc(vec![allow_cognito()])), ("deny", doc(vec![deny_statement]))]
}

fn cases() -> Vec<Case> {
    let not_allowed = (Decision::NotAllowed, 0);
    let allowed_p = (allowed("p", None), 0);
    let allowed_by_allow = (allowed("allow", Some("allow")), 0);
    let account_condition = json!({"Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}});
    // research/aws.md §3.3 lists no `Not…` elements and no negated operators; the twin follows the IAM
    // policy grammar for them, the probe treats such statements and conditions as not applying.
    const NOT_ELEMENTS: &str = "the probe skips statements with NotPrincipal/NotAction/NotResource; the twin \
                                applies them as IAM does (everything except what is listed)";
    const NEGATED_OPERATORS: &str = "the probe treats StringNotEquals/ArnNotLike & co. as unknown operators (the \
                                     statement does not apply); the twin evaluates them as IAM does";
    vec![
        // The probe's own unit-test cases (src/policy.rs).
        case(
            "runbook policy: cognito-idp principal, account condition",
            one(allow_with(json!({"Sid": "s1", "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}))),
            (allowed("p", Some("s1")), 0),
        ),
        case(
            "current Cognito guide: email.cognito-idp principal, both conditions",
            one(doc(vec![statement(
                "Allow",
                json!({"Service": [COGNITO_EMAIL]}),
                send(),
                json!(IDENTITY),
                json!({"Condition": {
                    "StringEquals": {"aws:SourceAccount": ACCOUNT},
                    "ArnLike": {"aws:SourceArn": "arn:aws:cognito-idp:us-east-1:657033058608:userpool/*"}
                }}),
            )])),
            allowed_p.clone(),
        ),
        case(
            "regional principal",
            one(doc(vec![statement(
                "Allow",
                service("cognito-idp.us-east-1.amazonaws.com"),
                send(),
                json!(IDENTITY),
                json!({}),
            )])),
            allowed_p.clone(),
        ),
        case(
            "wildcard action and resource",
            one(doc(vec![statement("Allow", service(COGNITO), json!("ses:*"), json!("*"), json!({}))])),
            allowed_p.clone(),
        ),
        case(
            "only SendRawEmail",
            one(doc(vec![statement("Allow", service(COGNITO), json!("ses:SendRawEmail"), json!(IDENTITY), json!({}))])),
            allowed_p.clone(),
        ),
        case(
            "anyone as principal",
            one(doc(vec![statement("Allow", json!("*"), send(), json!(IDENTITY), json!({}))])),
            allowed_p.clone(),
        ),
        case(
            "other service principal",
            one(doc(vec![statement("Allow", service("lambda.amazonaws.com"), send(), json!(IDENTITY), json!({}))])),
            not_allowed.clone(),
        ),
        case(
            "action does not send",
            one(doc(vec![statement(
                "Allow",
                service(COGNITO),
                json!("ses:GetEmailIdentity"),
                json!(IDENTITY),
                json!({}),
            )])),
            not_allowed.clone(),
        ),
        case(
            "other identity",
            one(doc(vec![statement(
                "Allow",
                service(COGNITO),
                send(),
                json!("arn:aws:ses:us-east-1:657033058608:identity/other.example"),
                json!({}),
            )])),
            not_allowed.clone(),
        ),
        case(
            "other account",
            one(allow_with(json!({"Condition": {"StringEquals": {"aws:SourceAccount": "111122223333"}}}))),
            not_allowed.clone(),
        ),
        case(
            "other pool",
            one(allow_with(json!({"Condition": {"ArnLike": {
                "aws:SourceArn": "arn:aws:cognito-idp:us-east-1:657033058608:userpool/us-east-1_other"
            }}}))),
            not_allowed.clone(),
        ),
        case(
            "condition key in wrong case (SES rejects it, research/aws.md §3.3)",
            one(allow_with(json!({"Condition": {"StringEquals": {"AWS:SourceAccount": ACCOUNT}}}))),
            not_allowed.clone(),
        ),
        case(
            "unknown operator",
            one(allow_with(json!({"Condition": {"NumericEquals": {"aws:SourceAccount": ACCOUNT}}}))),
            not_allowed.clone(),
        ),
        case(
            "explicit deny wins over allow",
            vec![
                (
                    "allow",
                    doc(vec![statement("Allow", service(COGNITO), json!("ses:SendEmail"), json!(IDENTITY), json!({}))]),
                ),
                (
                    "deny",
                    doc(vec![statement(
                        "Deny",
                        service(COGNITO_EMAIL),
                        json!("ses:*"),
                        json!("*"),
                        json!({"Sid": "s1"}),
                    )]),
                ),
            ],
            (denied("deny", Some("s1")), 0),
        ),
        case("no policies", vec![], not_allowed.clone()),
        case(
            "malformed JSON and a document without Statement",
            vec![("broken", "{not json".into()), ("empty", "{}".into())],
            (Decision::NotAllowed, 2),
        ),
        // Actions: research/aws.md §3.3 "case-insensitive prefix `SES:`/`ses:`, and `ses:*` or `*` also count".
        case(
            "action *",
            one(doc(vec![statement("Allow", service(COGNITO), json!("*"), json!(IDENTITY), json!({}))])),
            allowed_p.clone(),
        ),
        case(
            "action ses:Send*",
            one(doc(vec![statement("Allow", service(COGNITO), json!("ses:Send*"), json!(IDENTITY), json!({}))])),
            allowed_p.clone(),
        ),
        case(
            "action in upper case",
            one(doc(vec![statement("Allow", service(COGNITO), json!("SES:SENDRAWEMAIL"), json!(IDENTITY), json!({}))])),
            allowed_p.clone(),
        ),
        case(
            "action with a one-character wildcard",
            one(doc(vec![statement("Allow", service(COGNITO), json!("ses:Send?mail"), json!(IDENTITY), json!({}))])),
            allowed_p.clone(),
        ),
        case(
            "templated sending only",
            one(doc(vec![statement(
                "Allow",
                service(COGNITO),
                json!("ses:SendTemplatedEmail"),
                json!(IDENTITY),
                json!({}),
            )])),
            not_allowed.clone(),
        ),
        case(
            "no action at all",
            one(doc(vec![statement("Allow", service(COGNITO), json!([]), json!(IDENTITY), json!({}))])),
            not_allowed.clone(),
        ),
        // Resources: "Resource equals or matches the identity ARN, or is `*`".
        case(
            "resource: every identity of the account",
            one(doc(vec![statement(
                "Allow",
                service(COGNITO),
                send(),
                json!("arn:aws:ses:us-east-1:657033058608:identity/*"),
                json!({}),
            )])),
            allowed_p.clone(),
        ),
        case(
            "resource: any Region",
            one(doc(vec![statement(
                "Allow",
                service(COGNITO),
                send(),
                json!("arn:aws:ses:*:657033058608:identity/noreply@thephenom.app"),
                json!({}),
            )])),
            allowed_p.clone(),
        ),
        case(
            "resource ARN in upper case (ARNs match case-sensitively)",
            one(doc(vec![statement("Allow", service(COGNITO), send(), json!(IDENTITY.to_uppercase()), json!({}))])),
            not_allowed.clone(),
        ),
        case(
            "resource: the domain identity while the pool sends through the address identity",
            one(doc(vec![statement(
                "Allow",
                service(COGNITO),
                send(),
                json!("arn:aws:ses:us-east-1:657033058608:identity/thephenom.app"),
                json!({}),
            )])),
            not_allowed.clone(),
        ),
        // Principals: research/aws.md §3.3 — the three service names, as a string or an array.
        case(
            "principal list naming Cognito among others",
            one(doc(vec![statement(
                "Allow",
                json!({"Service": ["lambda.amazonaws.com", COGNITO_EMAIL]}),
                send(),
                json!(IDENTITY),
                json!({}),
            )])),
            allowed_p.clone(),
        ),
        case(
            "principal {\"AWS\": \"*\"} (everyone, as \"*\")",
            one(doc(vec![statement("Allow", json!({"AWS": "*"}), send(), json!(IDENTITY), json!({}))])),
            allowed_p.clone(),
        ),
        case(
            "principal: the account root, not Cognito",
            one(doc(vec![statement(
                "Allow",
                json!({"AWS": "arn:aws:iam::657033058608:root"}),
                send(),
                json!(IDENTITY),
                json!({}),
            )])),
            not_allowed.clone(),
        ),
        case(
            "principal {\"Service\": \"*\"} is no service name",
            one(doc(vec![statement("Allow", json!({"Service": "*"}), send(), json!(IDENTITY), json!({}))])),
            not_allowed.clone(),
        ),
        case(
            "service name in another case",
            one(doc(vec![statement(
                "Allow",
                service("Cognito-IDP.amazonaws.com"),
                send(),
                json!(IDENTITY),
                json!({}),
            )])),
            not_allowed.clone(),
        ),
        case(
            "regional principal of another Region",
            one(doc(vec![statement(
                "Allow",
                service("cognito-idp.eu-west-1.amazonaws.com"),
                send(),
                json!(IDENTITY),
                json!({}),
            )])),
            not_allowed.clone(),
        ),
        Case {
            name: "alternate-Region pool: its regional principal (research/aws.md §3.3, observed)",
            pool: Pool::EuWest1,
            policies: one(doc(vec![statement(
                "Allow",
                service("cognito-idp.eu-west-1.amazonaws.com"),
                send(),
                json!(IDENTITY),
                json!({"Condition": {"ArnLike": {
                    "aws:SourceArn": "arn:aws:cognito-idp:eu-west-1:657033058608:userpool/*"
                }}}),
            )])),
            expect: allowed_p.clone(),
            probe_differs: None,
        },
        Case {
            name: "alternate-Region pool: a us-east-1 pool condition",
            pool: Pool::EuWest1,
            policies: one(allow_with(json!({"Condition": {"ArnEquals": {"aws:SourceArn": POOL}}}))),
            expect: not_allowed.clone(),
            probe_differs: None,
        },
        // Statement shapes.
        case(
            "a single statement object instead of an array",
            one(json!({"Statement": statement("Allow", service(COGNITO), send(), json!(IDENTITY),
                json!({"Sid": "only"}))})
            .to_string()),
            (allowed("p", Some("only")), 0),
        ),
        case(
            "effect in lower case (SES's anatomy: \"Allow\" or \"Deny\")",
            one(doc(vec![statement("allow", service(COGNITO), send(), json!(IDENTITY), json!({}))])),
            not_allowed.clone(),
        ),
        case(
            "no effect",
            one(doc(vec![statement("Allow", service(COGNITO), send(), json!(IDENTITY), json!({"Effect": null}))])),
            not_allowed.clone(),
        ),
        case("an empty statement list", one(doc(vec![])), not_allowed.clone()),
        case(
            "a non-object entry beside an allowing statement",
            one(json!({"Statement": ["junk", allow_cognito()]}).to_string()),
            (allowed("p", Some("allow")), 0),
        ),
        case(
            "Statement is a string",
            vec![("odd", json!({"Statement": "Allow everything"}).to_string())],
            (Decision::NotAllowed, 1),
        ),
        case("a JSON array, not a policy", vec![("list", "[]".into())], (Decision::NotAllowed, 1)),
        case(
            "a broken policy beside a good one",
            vec![("broken", "{\"Statement\": [".into()), ("good", doc(vec![allow_cognito()]))],
            (allowed("good", Some("allow")), 1),
        ),
        case(
            "two allowing policies: the first decides",
            vec![("first", doc(vec![allow_cognito()])), ("second", doc(vec![allow_cognito()]))],
            (allowed("first", Some("allow")), 0),
        ),
        // Conditions: "if aws:SourceArn or aws:SourceAccount conditions are present, they match the pool ARN
        // and account (with ArnLike/StringLike wildcards)".
        case(
            "StringLike on the account",
            one(allow_with(json!({"Condition": {"StringLike": {"aws:SourceAccount": "6570*"}}}))),
            allowed_p.clone(),
        ),
        case(
            "StringEqualsIgnoreCase on the pool ARN",
            one(allow_with(json!({"Condition": {"StringEqualsIgnoreCase": {"aws:SourceArn": POOL.to_uppercase()}}}))),
            allowed_p.clone(),
        ),
        case(
            "ArnEquals on the pool ARN",
            one(allow_with(json!({"Condition": {"ArnEquals": {"aws:SourceArn": POOL}}}))),
            allowed_p.clone(),
        ),
        case(
            "StringEqualsIfExists on the account",
            one(allow_with(json!({"Condition": {"StringEqualsIfExists": {"aws:SourceAccount": ACCOUNT}}}))),
            allowed_p.clone(),
        ),
        case(
            "ArnLikeIfExists on another pool",
            one(allow_with(json!({"Condition": {"ArnLikeIfExists": {
                "aws:SourceArn": "arn:aws:cognito-idp:us-east-1:657033058608:userpool/us-east-1_other"
            }}}))),
            not_allowed.clone(),
        ),
        case(
            "a list of accounts, one of them ours",
            one(allow_with(json!({"Condition": {"StringEquals": {"aws:SourceAccount": ["111122223333", ACCOUNT]}}}))),
            allowed_p.clone(),
        ),
        case(
            "the account matches, the pool does not",
            one(allow_with(json!({"Condition": {
                "StringEquals": {"aws:SourceAccount": ACCOUNT},
                "ArnEquals": {"aws:SourceArn": EU_POOL}
            }}))),
            not_allowed.clone(),
        ),
        case(
            "a key Cognito's request does not carry (SES refuses unknown condition fields)",
            one(allow_with(json!({"Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}}))),
            not_allowed.clone(),
        ),
        case(
            "IfExists on a key Cognito's request does not carry",
            one(allow_with(json!({"Condition": {"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-abc"}}}))),
            not_allowed.clone(),
        ),
        case(
            "a set operator (ForAnyValue:) is not modelled",
            one(allow_with(json!({"Condition": {"ForAnyValue:StringEquals": {"aws:SourceAccount": ACCOUNT}}}))),
            not_allowed.clone(),
        ),
        case("a Condition that is not an object", one(allow_with(json!({"Condition": "always"}))), not_allowed.clone()),
        case(
            "an operator whose keys are not an object",
            one(allow_with(json!({"Condition": {"StringEquals": "657033058608"}}))),
            not_allowed.clone(),
        ),
        // Deny: "check that no Deny statement covers the same principal and action".
        case(
            "deny in the same policy as the allow",
            one(doc(vec![
                allow_cognito(),
                statement("Deny", json!("*"), json!("ses:SendRawEmail"), json!("*"), json!({"Sid": "no-raw"})),
            ])),
            (denied("p", Some("no-raw")), 0),
        ),
        case(
            "deny for everyone, before the allow",
            vec![
                ("deny", doc(vec![statement("Deny", json!("*"), json!("ses:*"), json!("*"), json!({"Sid": "d"}))])),
                ("allow", doc(vec![allow_cognito()])),
            ],
            (denied("deny", Some("d")), 0),
        ),
        case(
            "deny whose condition does not hold (another account)",
            with_deny(statement(
                "Deny",
                service(COGNITO),
                send(),
                json!("*"),
                json!({"Condition": {"StringEquals": {"aws:SourceAccount": "111122223333"}}}),
            )),
            allowed_by_allow.clone(),
        ),
        case(
            "deny of another action",
            with_deny(statement("Deny", service(COGNITO), json!("ses:DeleteEmailIdentity"), json!("*"), json!({}))),
            allowed_by_allow.clone(),
        ),
        case(
            "deny for another principal",
            with_deny(statement("Deny", service("lambda.amazonaws.com"), json!("ses:*"), json!("*"), json!({}))),
            allowed_by_allow.clone(),
        ),
        case(
            "deny of another identity",
            with_deny(statement(
                "Deny",
                service(COGNITO),
                json!("ses:*"),
                json!("arn:aws:ses:us-east-1:657033058608:identity/other.example"),
                json!({}),
            )),
            allowed_by_allow.clone(),
        ),
        case(
            "confused-deputy guard: deny unless our account (StringNotEquals)",
            with_deny(statement(
                "Deny",
                json!("*"),
                json!("ses:*"),
                json!("*"),
                json!({"Condition": {"StringNotEquals": {"aws:SourceAccount": ACCOUNT}}}),
            )),
            allowed_by_allow.clone(),
        ),
        Case {
            name: "allow unless another account (StringNotEquals)",
            pool: Pool::UsEast1,
            policies: one(allow_with(json!({"Condition": {"StringNotEquals": {"aws:SourceAccount": "111122223333"}}}))),
            expect: allowed_p.clone(),
            probe_differs: Some((not_allowed.clone(), NEGATED_OPERATORS)),
        },
        Case {
            name: "deny every pool but another one (ArnNotLike)",
            pool: Pool::UsEast1,
            policies: with_deny(statement(
                "Deny",
                json!("*"),
                json!("ses:*"),
                json!("*"),
                json!({"Sid": "only-other", "Condition": {"ArnNotLike": {
                    "aws:SourceArn": "arn:aws:cognito-idp:us-east-1:657033058608:userpool/us-east-1_other"
                }}}),
            )),
            expect: (denied("deny", Some("only-other")), 0),
            probe_differs: Some((allowed_by_allow.clone(), NEGATED_OPERATORS)),
        },
        // NotPrincipal / NotAction / NotResource (IAM grammar; research/aws.md §3.3 does not cover them).
        Case {
            name: "deny everyone but the account root (NotPrincipal)",
            pool: Pool::UsEast1,
            policies: with_deny(statement(
                "Deny",
                json!(null),
                json!("ses:*"),
                json!("*"),
                json!({"Sid": "root-only", "Principal": null,
                    "NotPrincipal": {"AWS": "arn:aws:iam::657033058608:root"}}),
            )),
            expect: (denied("deny", Some("root-only")), 0),
            probe_differs: Some((allowed_by_allow.clone(), NOT_ELEMENTS)),
        },
        case(
            "deny everyone but Cognito (NotPrincipal naming all its names)",
            with_deny(statement(
                "Deny",
                json!(null),
                json!("ses:*"),
                json!("*"),
                json!({"Principal": null, "NotPrincipal": {"Service": [COGNITO, COGNITO_EMAIL,
                    "cognito-idp.us-east-1.amazonaws.com"]}}),
            )),
            allowed_by_allow.clone(),
        ),
        Case {
            name: "allow every action but deleting the identity (NotAction)",
            pool: Pool::UsEast1,
            policies: one(doc(vec![statement(
                "Allow",
                service(COGNITO),
                json!(null),
                json!(IDENTITY),
                json!({"Action": null, "NotAction": ["ses:DeleteEmailIdentity"]}),
            )])),
            expect: allowed_p.clone(),
            probe_differs: Some((not_allowed.clone(), NOT_ELEMENTS)),
        },
        case(
            "NotAction excluding both send actions",
            one(doc(vec![statement(
                "Allow",
                service(COGNITO),
                json!(null),
                json!(IDENTITY),
                json!({"Action": null, "NotAction": ["ses:Send*"]}),
            )])),
            not_allowed.clone(),
        ),
        Case {
            name: "allow every identity but another one (NotResource)",
            pool: Pool::UsEast1,
            policies: one(doc(vec![statement(
                "Allow",
                service(COGNITO),
                send(),
                json!(null),
                json!({"Resource": null, "NotResource": "arn:aws:ses:us-east-1:657033058608:identity/other.example"}),
            )])),
            expect: allowed_p.clone(),
            probe_differs: Some((not_allowed.clone(), NOT_ELEMENTS)),
        },
        case(
            "Principal and NotPrincipal together (IAM allows one)",
            one(doc(vec![statement(
                "Allow",
                service(COGNITO),
                send(),
                json!(IDENTITY),
                json!({"NotPrincipal": {"AWS": "*"}}),
            )])),
            not_allowed.clone(),
        ),
        // The shape of the documents the default twin scenario and the runbook ship.
        case(
            "account condition only, wildcard resource",
            one(doc(vec![statement("Allow", service(COGNITO), send(), json!("*"), account_condition)])),
            allowed_p,
        ),
    ]
}

fn by_probe(case: &Case) -> Outcome {
    let (pool_arn, pool_region) = case.pool.parts();
    let subject = product::Subject::live(IDENTITY, pool_arn, ACCOUNT, pool_region);
    let ev = product::evaluate(case.policies.iter().map(|(n, t)| (*n, t.as_str())), &subject);
    let decision = match ev.decision {
        product::PolicyDecision::Allowed { policy, statement } => Decision::Allowed(policy, statement),
        product::PolicyDecision::Denied { policy, statement } => Decision::Denied(policy, statement),
        product::PolicyDecision::NotAllowed => Decision::NotAllowed,
    };
    (decision, ev.malformed.len())
}

fn by_twin(case: &Case) -> Outcome {
    let (pool_arn, pool_region) = case.pool.parts();
    let sender = twin::policy::CognitoSender { identity_arn: IDENTITY, pool_arn, account_id: ACCOUNT, pool_region };
    let ev = twin::policy::evaluate(case.policies.iter().map(|(n, t)| (*n, t.as_str())), &sender);
    let decision = match ev.decision {
        twin::policy::PolicyDecision::Allowed { policy, statement } => Decision::Allowed(policy, statement),
        twin::policy::PolicyDecision::Denied { policy, statement } => Decision::Denied(policy, statement),
        twin::policy::PolicyDecision::NotAllowed => Decision::NotAllowed,
    };
    (decision, ev.malformed.len())
}

#[test]
fn the_probe_and_the_twin_read_identity_policies_alike() {
    let cases = cases();
    let mut failures = Vec::new();
    for case in &cases {
        let (probe, twin) = (by_probe(case), by_twin(case));
        if twin != case.expect {
            failures.push(format!("{}: the twin decided {twin:?}, AWS {:?}", case.name, case.expect));
        }
        match &case.probe_differs {
            None if probe != twin => {
                failures.push(format!("{}: the probe decided {probe:?}, the twin {twin:?}", case.name))
            }
            Some((listed, why)) if probe != *listed => failures.push(format!(
                "{}: listed disagreement ({why}) no longer holds: the probe decided {probe:?}, listed {listed:?}, \
                 the twin {twin:?}",
                case.name
            )),
            _ => {}
        }
    }
    assert!(failures.is_empty(), "{} of {} cases:\n{}", failures.len(), cases.len(), failures.join("\n"));
    let names: std::collections::BTreeSet<&str> = cases.iter().map(|c| c.name).collect();
    assert_eq!(names.len(), cases.len(), "case names are unique");
}
