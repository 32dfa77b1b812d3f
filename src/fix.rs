//! The Terraform fixes the probe prints: all AWS configuration is managed through Terraform (runbook,
//! "Related"), so where a finding's fix is AWS configuration it is written as the Terraform that makes it.
//! One home for each fix, used by the one-shot verdict, `probe doctor` and `probe lint-terraform` alike.
//!
//! Each fix comes generic — references to the user's own Terraform objects
//! (`data.aws_ses_email_identity.noreply.arn`, `aws_cognito_user_pool.main.arn`) — or filled in with the
//! pool's own values where the caller knows them (the identity ARN, the pool ARN, the account, the From
//! address). It never carries anybody else's names.

use crate::aws::policy::Subject;

/// A Terraform expression in a fix: a value the probe read (written as a quoted string) or a reference to
/// the user's own Terraform (written as is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hcl {
    Literal(String),
    Reference(String),
}

impl Hcl {
    pub fn reference(expression: &str) -> Hcl {
        Hcl::Reference(expression.to_string())
    }

    fn render(&self) -> String {
        match self {
            Hcl::Literal(s) => string(s),
            Hcl::Reference(e) => e.clone(),
        }
    }
}

/// A Terraform string literal.
pub fn string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"").replace("${", "$${"))
}

/// The generic references used where a value is not known.
const IDENTITY_ARN: &str = "data.aws_ses_email_identity.noreply.arn";
const ACCOUNT_ID: &str = "data.aws_caller_identity.current.account_id";
const POOL_ARN: &str = "aws_cognito_user_pool.main.arn";

/// The values an identity-policy fix is written with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFix {
    /// The `identity` argument: the identity's name or ARN.
    pub identity: Hcl,
    /// The statement's `Resource`: the identity ARN.
    pub identity_arn: Hcl,
    pub account_id: Hcl,
    /// The `aws:SourceArn` the policy is scoped to.
    pub pool_arn: Hcl,
}

impl PolicyFix {
    /// Every value a reference to the user's own Terraform.
    pub fn generic() -> PolicyFix {
        PolicyFix {
            identity: Hcl::reference(IDENTITY_ARN),
            identity_arn: Hcl::reference(IDENTITY_ARN),
            account_id: Hcl::reference(ACCOUNT_ID),
            pool_arn: Hcl::reference(POOL_ARN),
        }
    }

    /// The values of a pool read from AWS (live subject): literals where known.
    pub fn for_subject(subject: &Subject) -> PolicyFix {
        let literal_or = |value: Option<&String>, reference: &str| match value {
            Some(v) if !v.is_empty() => Hcl::Literal(v.clone()),
            _ => Hcl::reference(reference),
        };
        PolicyFix {
            identity: Hcl::Literal(subject.identity.clone()),
            identity_arn: Hcl::Literal(subject.identity.clone()),
            account_id: literal_or(subject.account_id.as_ref(), ACCOUNT_ID),
            pool_arn: literal_or(subject.pool_arn.as_ref(), POOL_ARN),
        }
    }
}

/// The two-piece gotcha's fix: one `aws_ses_identity_policy`, declared once (runbook: "DO NOT redeclare
/// elsewhere or the two TF states will fight"), with both documented principals and the confused-deputy
/// conditions of research/aws.md §3.3.
pub fn identity_policy(values: &PolicyFix) -> String {
    format!(
        r#"Attach an SES identity policy that lets Cognito send (declare it once, in one Terraform state):
  resource "aws_ses_identity_policy" "cognito_noreply" {{
    identity = {identity}
    name     = "AllowCognitoUserPoolsToSend"
    policy = jsonencode({{
      Version = "2012-10-17"
      Statement = [{{
        Sid       = "AllowCognitoUserPoolsToSend"
        Effect    = "Allow"
        Principal = {{ Service = ["email.cognito-idp.amazonaws.com", "cognito-idp.amazonaws.com"] }}
        Action    = ["ses:SendEmail", "ses:SendRawEmail"]
        Resource  = {resource}
        Condition = {{
          StringEquals = {{ "aws:SourceAccount" = {account} }}
          ArnLike      = {{ "aws:SourceArn" = {pool} }}
        }}
      }}]
    }})
  }}"#,
        identity = values.identity.render(),
        resource = values.identity_arn.render(),
        account = values.account_id.render(),
        pool = values.pool_arn.render(),
    )
}

/// The fix of a pool left on COGNITO_DEFAULT (runbook: "Why SES instead of the Cognito default", "Adding a
/// new Cognito pool"): send through the SES identity, plus the identity policy. `from` and `source_arn`
/// are the pool's own values when it has them.
pub fn developer_sending(from: Option<&str>, source_arn: Option<&str>) -> String {
    let from = from.map(string).unwrap_or_else(|| string("Name <noreply@your-domain.example>"));
    let source_arn = source_arn.map(string).unwrap_or_else(|| IDENTITY_ARN.to_string());
    format!(
        r#"Send through your SES identity (Terraform, aws_cognito_user_pool):
  email_configuration {{
    email_sending_account  = "DEVELOPER"
    source_arn             = {source_arn}
    from_email_address     = {from}
  }}
and attach the SES identity policy for the Cognito principal (aws_ses_identity_policy) — the two-piece gotcha."#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_fixes_name_no_one() {
        for fix in [identity_policy(&PolicyFix::generic()), developer_sending(None, None)] {
            assert!(!fix.contains('@') || fix.contains("your-domain.example"), "{fix}");
            assert!(!fix.to_ascii_lowercase().contains("phenom"), "{fix}");
        }
        let generic = identity_policy(&PolicyFix::generic());
        assert!(generic.contains("identity = data.aws_ses_email_identity.noreply.arn"), "{generic}");
        assert!(generic.contains(r#""aws:SourceArn" = aws_cognito_user_pool.main.arn"#), "{generic}");
    }

    #[test]
    fn pool_specific_fix_uses_the_pools_values() {
        let subject = Subject::live(
            "arn:aws:ses:us-east-1:111122223333:identity/mail.example.org",
            "arn:aws:cognito-idp:us-east-1:111122223333:userpool/us-east-1_abc",
            "111122223333",
            "us-east-1",
        );
        let fix = identity_policy(&PolicyFix::for_subject(&subject));
        assert!(fix.contains(r#"identity = "arn:aws:ses:us-east-1:111122223333:identity/mail.example.org""#), "{fix}");
        assert!(fix.contains(r#""aws:SourceAccount" = "111122223333""#), "{fix}");
        assert!(
            fix.contains(r#""aws:SourceArn" = "arn:aws:cognito-idp:us-east-1:111122223333:userpool/us-east-1_abc""#)
        );
        let sending = developer_sending(Some("Team (dev) <hi@example.org>"), None);
        assert!(sending.contains(r#"from_email_address     = "Team (dev) <hi@example.org>""#), "{sending}");
    }

    #[test]
    fn literals_are_escaped_for_hcl() {
        assert_eq!(string(r#""Ex" <a@b>"#), r#""\"Ex\" <a@b>""#);
        assert_eq!(string("${var.x}"), r#""$${var.x}""#);
    }
}
