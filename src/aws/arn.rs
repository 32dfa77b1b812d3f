//! ARNs the probe reads: the SES identity of a pool's `SourceArn` and the pool's own ARN. One home for
//! their shape, `arn:<partition>:<service>:<region>:<account>:<resource>` (AWS General Reference, "Amazon
//! Resource Names"), so the probe, `probe doctor` and the Terraform fixes read them the same way.

/// An SES identity ARN, `arn:<partition>:ses:<region>:<account>:identity/<name>` (research/aws.md §3.1:
/// "Take the identity name from SourceArn").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SesIdentity<'a> {
    pub region: &'a str,
    pub account: &'a str,
    /// An email address or a domain.
    pub name: &'a str,
}

/// The parts of an ARN; `None` when `arn` does not have six `:`-separated fields starting with `arn`.
fn parts(arn: &str) -> Option<[&str; 6]> {
    let mut it = arn.splitn(6, ':');
    let fields = [it.next()?, it.next()?, it.next()?, it.next()?, it.next()?, it.next()?];
    (fields[0] == "arn").then_some(fields)
}

/// Region, account and name of an SES identity ARN; `None` for anything else.
pub fn ses_identity(arn: &str) -> Option<SesIdentity<'_>> {
    let [_, _, service, region, account, resource] = parts(arn)?;
    let name = resource.strip_prefix("identity/")?;
    (service == "ses" && !region.is_empty() && !account.is_empty() && !name.is_empty()).then_some(SesIdentity {
        region,
        account,
        name,
    })
}

/// The account field of any ARN, when it has one.
pub fn account(arn: &str) -> Option<&str> {
    parts(arn).map(|p| p[4]).filter(|a| !a.is_empty())
}

/// The ARN of a user pool in the commercial partition, for when DescribeUserPool did not return it.
pub fn user_pool(region: &str, account: &str, pool_id: &str) -> String {
    format!("arn:aws:cognito-idp:{region}:{account}:userpool/{pool_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ses_identity_arn_cases() {
        let cases = [
            (
                "arn:aws:ses:eu-west-1:657033058608:identity/noreply@example.com",
                Some(("eu-west-1", "657033058608", "noreply@example.com")),
            ),
            ("arn:aws-cn:ses:cn-north-1:1:identity/example.com", Some(("cn-north-1", "1", "example.com"))),
            ("arn:aws:ses:us-east-1:657033058608:configuration-set/x", None),
            ("arn:aws:sns:us-east-1:657033058608:identity/x", None),
            ("arn:aws:ses::657033058608:identity/x", None),
            ("arn:aws:ses:us-east-1:657033058608:identity/", None),
            ("noreply@example.com", None),
        ];
        for (arn, expected) in cases {
            assert_eq!(ses_identity(arn).map(|s| (s.region, s.account, s.name)), expected, "{arn}");
        }
    }

    #[test]
    fn account_of_an_arn() {
        assert_eq!(account("arn:aws:cognito-idp:us-east-1:657033058608:userpool/us-east-1_x"), Some("657033058608"));
        assert_eq!(account("arn:aws:s3:::bucket"), None);
        assert_eq!(account("not an arn"), None);
    }
}
