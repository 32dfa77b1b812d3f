//! The identity-policy check: do the SES identity's sending-authorization policies let Cognito send for
//! THIS pool? The rule is research/aws.md §3.3 as [`crate::aws::policy::evaluate`] implements it in its live
//! mode (principal
//! variants, actions, resource, `aws:SourceAccount`/`aws:SourceArn` conditions, a Deny that cancels).
//!
//! A missing policy is the runbook's two-piece gotcha. How bad it is depends on the mode (research/aws.md
//! §0.2): FAIL for COGNITO_DEFAULT with a SourceArn (AWS requires the policy); for DEVELOPER, FAIL by
//! default as the runbook states, WARN with `--policy-missing warn` since AWS documents the service-linked
//! role as sufficient. The message says both.

use std::collections::BTreeMap;

use super::{Finding, PolicyMissing, Status, is_own_trouble};
use crate::aws::AwsFailure;
use crate::aws::cognito::Pool;
use crate::aws::policy::{PolicyDecision, Subject, evaluate};
use crate::aws::ses::EmailIdentity;
use crate::fix::{self, PolicyFix};

const SOURCE: &str =
    "runbook: \"The two-piece gotcha\"; research/aws.md §3.3 (checker rule), §0.2 (service-linked role)";

/// The pool-specific Terraform fix: the identity policy written with this pool's identity ARN, ARN and
/// account ([`crate::fix::identity_policy`]).
pub fn terraform_fix(subject: &Subject) -> String {
    fix::identity_policy(&PolicyFix::for_subject(subject))
}

/// The finding for a pool without SourceArn: Cognito's own mailer needs no identity policy.
pub fn not_needed(pool: &Pool) -> Finding {
    Finding::new(
        "ses.policy",
        Status::Ok,
        format!("no SES identity in use ({}, no SourceArn): no identity policy needed", pool.sending_account),
        SOURCE,
    )
}

/// Judges the policies of the pool's identity. `policies` is GetEmailIdentityPolicies' answer; when it
/// failed, the policies GetEmailIdentity returned are used instead, when there are any.
pub fn check(
    pool: &Pool,
    subject: Option<&Subject>,
    identity: Option<&EmailIdentity>,
    policies: &Result<BTreeMap<String, String>, AwsFailure>,
    missing: PolicyMissing,
) -> Finding {
    let Some(subject) = subject else {
        return not_needed(pool);
    };
    let docs = match (policies, identity) {
        (Ok(p), _) => p,
        (Err(_), Some(i)) if !i.policies.is_empty() => &i.policies,
        (Err(err), _) if is_own_trouble(err) => return Finding::aws_unknown("ses.policy", err),
        (Err(err), _) => {
            // §3.2: "If you have not verified the identity, this API will return an error".
            return Finding::new(
                "ses.policy",
                Status::Fail,
                format!("cannot read the identity's policies: {err}"),
                SOURCE,
            )
            .fix(
                "Verify the identity first (see ses.identity); then attach the policy:\n".to_string()
                    + &terraform_fix(subject),
            );
        }
    };
    let evaluation = evaluate(docs.iter().map(|(k, v)| (k.as_str(), v.as_str())), subject);
    let mut evidence = vec![
        format!(
            "policies on the identity: {}",
            if docs.is_empty() { "none".to_string() } else { docs.keys().cloned().collect::<Vec<_>>().join(", ") }
        ),
        format!(
            "pool {} (account {}), identity {}",
            subject.pool_arn.as_deref().unwrap_or("?"),
            subject.account_id.as_deref().unwrap_or("?"),
            subject.identity
        ),
    ];
    evidence.extend(evaluation.malformed.iter().map(|e| format!("ignored: {e}")));
    let named = |policy: &str, statement: &Option<String>| match statement {
        Some(sid) => format!("{policy} (statement {sid})"),
        None => policy.to_string(),
    };
    let mut finding = match &evaluation.decision {
        PolicyDecision::Allowed { policy, statement } => Finding::new(
            "ses.policy",
            Status::Ok,
            format!("identity policy {} lets Cognito send for this pool", named(policy, statement)),
            SOURCE,
        ),
        PolicyDecision::Denied { policy, statement } => Finding::new(
            "ses.policy",
            Status::Fail,
            format!(
                "identity policy {} DENIES Cognito sending for this pool: an explicit Deny wins over any Allow, SES \
                    refuses silently",
                named(policy, statement)
            ),
            SOURCE,
        )
        .fix(format!(
            "Remove or narrow the Deny statement {} in Terraform so it no longer covers the Cognito principal and \
                ses:SendEmail/ses:SendRawEmail.",
            named(policy, statement)
        )),
        PolicyDecision::NotAllowed => not_allowed(pool, subject, missing),
    };
    finding.evidence.extend(evidence);
    finding
}

fn not_allowed(pool: &Pool, subject: &Subject, missing: PolicyMissing) -> Finding {
    let both = "The runbook: without it \"Cognito returns success at the API but SES silently denies\"; AWS \
                documents the service-linked role AWSServiceRoleForAmazonCognitoIdpEmailService as sufficient for \
                DEVELOPER pools";
    let (status, summary) = if !pool.is_developer() {
        (
            Status::Fail,
            format!(
                "the two-piece gotcha: no identity policy lets Cognito send for this pool, and a COGNITO_DEFAULT pool \
                    with a SourceArn requires one (AWS: \"you must attach a policy\") — {both}"
            ),
        )
    } else {
        let status = match missing {
            PolicyMissing::Fail => Status::Fail,
            PolicyMissing::Warn => Status::Warn,
        };
        (
            status,
            format!(
                "the two-piece gotcha: no identity policy lets Cognito send for this DEVELOPER pool. {both}; judged \
                    {} (--policy-missing {})",
                status.label(),
                match missing {
                    PolicyMissing::Fail => "fail",
                    PolicyMissing::Warn => "warn",
                }
            ),
        )
    };
    Finding::new("ses.policy", status, summary, SOURCE).fix(terraform_fix(subject))
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDENTITY: &str = "arn:aws:ses:us-east-1:657033058608:identity/noreply@example.com";
    const POOL_ARN: &str = "arn:aws:cognito-idp:us-east-1:657033058608:userpool/us-east-1_knEL7cqS3";

    fn pool(account: &str) -> Pool {
        Pool {
            id: "us-east-1_knEL7cqS3".into(),
            arn: Some(POOL_ARN.into()),
            sending_account: crate::aws::cognito::SendingAccount::from_aws(account),
            source_arn: Some(IDENTITY.into()),
            from: Some("Example <noreply@example.com>".into()),
            reply_to: None,
            configuration_set: None,
        }
    }

    fn policy(effect: &str, condition: &str) -> String {
        let head = r#"{"Version":"2012-10-17","Statement":[{"Sid":"S1","#;
        let principal = r#""Principal":{"Service":"cognito-idp.amazonaws.com"}"#;
        let action = r#""Action":["ses:SendEmail","ses:SendRawEmail"]"#;
        format!(r#"{head}"Effect":"{effect}",{principal},{action},"Resource":"{IDENTITY}"{condition}}}]}}"#)
    }

    #[test]
    fn policy_check_follows_the_mode_and_the_flag() {
        use Status::*;
        let allow = policy("Allow", r#","Condition":{"StringEquals":{"aws:SourceAccount":"657033058608"}}"#);
        let other_pool = policy(
            "Allow",
            concat!(
                r#","Condition":{"ArnLike":{"aws:SourceArn":"#,
                r#""arn:aws:cognito-idp:us-east-1:657033058608:userpool/us-east-1_other"}}"#
            ),
        );
        let deny = policy("Deny", "");
        // (name, mode, policies, --policy-missing, expected)
        let cases: Vec<(&str, &str, Vec<&str>, PolicyMissing, Status)> = vec![
            ("allowed", "DEVELOPER", vec![&allow], PolicyMissing::Fail, Ok),
            ("missing, developer, default", "DEVELOPER", vec![], PolicyMissing::Fail, Fail),
            ("missing, developer, warn", "DEVELOPER", vec![], PolicyMissing::Warn, Warn),
            ("missing, default mailer with SourceArn", "COGNITO_DEFAULT", vec![], PolicyMissing::Warn, Fail),
            ("scoped to another pool", "DEVELOPER", vec![&other_pool], PolicyMissing::Fail, Fail),
            ("a Deny cancels the Allow", "DEVELOPER", vec![&allow, &deny], PolicyMissing::Warn, Fail),
        ];
        for (name, mode, docs, missing, expected) in cases {
            let p = pool(mode);
            let subject = Subject::of_pool(&p, "us-east-1").unwrap();
            let map: BTreeMap<String, String> =
                docs.iter().enumerate().map(|(i, d)| (format!("P{i}"), d.to_string())).collect();
            let f = check(&p, Some(&subject), None, &Result::Ok(map), missing);
            assert_eq!(f.status, expected, "{name}: {f:#?}");
        }
    }

    #[test]
    fn missing_policy_names_the_gotcha_both_readings_and_the_terraform_fix() {
        let p = pool("DEVELOPER");
        let subject = Subject::of_pool(&p, "us-east-1").unwrap();
        let f = check(&p, Some(&subject), None, &Ok(BTreeMap::new()), PolicyMissing::Fail);
        assert!(f.summary.contains("two-piece gotcha"), "{}", f.summary);
        assert!(f.summary.contains("silently denies") && f.summary.contains("service-linked role"), "{}", f.summary);
        assert!(f.fix.contains("resource \"aws_ses_identity_policy\""), "{}", f.fix);
        assert!(f.fix.contains(POOL_ARN) && f.fix.contains("\"aws:SourceAccount\" = \"657033058608\""), "{}", f.fix);
    }
}
