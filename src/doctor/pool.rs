//! Checks of the pool's email configuration (DescribeUserPool `EmailConfiguration`, research/aws.md §1.5):
//! the sending account, the SourceArn (its Region and account against the pool's), and the From header —
//! that it parses as an RFC 5322 mailbox, that its address is the SES identity's, and that its display name
//! needs no quoting (the runbook's perpetual Terraform diff). Pure functions of what AWS reported.

use super::{Finding, Status};
use crate::address::parse_mailbox;
use crate::aws::arn;
use crate::aws::cognito::Pool;
use crate::fix;

/// Regions Cognito may use for SES besides the pool's own (research/aws.md §1.5: "US East (N. Virginia),
/// US West (Oregon) and Europe (Ireland) are the alternates").
const ALTERNATE_SES_REGIONS: [&str; 3] = ["us-east-1", "us-west-2", "eu-west-1"];

/// Every pool-level check: sending account, SourceArn, From.
pub fn check(pool: &Pool, production: bool, pool_region: &str) -> Vec<Finding> {
    let mut out = vec![sending_account(pool, production)];
    out.extend(source_arn(pool, pool_region));
    out.extend(from(pool));
    out
}

fn sending_account(pool: &Pool, production: bool) -> Finding {
    const SOURCE: &str = "runbook: \"Why SES instead of the Cognito default\"; research/aws.md §1.5, §1.6";
    let evidence = format!("EmailSendingAccount = {}", pool.sending_account);
    if pool.is_developer() {
        return Finding::new(
            "pool.sending_account",
            Status::Ok,
            "pool sends through your SES account (DEVELOPER)",
            SOURCE,
        )
        .evidence(evidence);
    }
    let (status, why) = if production {
        (Status::Fail, "a production pool")
    } else {
        (Status::Warn, "not marked production (set production = true in the probe file to make this FAIL)")
    };
    Finding::new(
        "pool.sending_account",
        status,
        format!(
            "pool sends with Cognito's default mailer (COGNITO_DEFAULT): 50 mails a day, generic sender, often Junk — \
                {why}"
        ),
        SOURCE,
    )
    .evidence(evidence)
    .fix(fix::developer_sending(pool.from.as_deref(), pool.source_arn.as_deref()))
}

fn source_arn(pool: &Pool, pool_region: &str) -> Option<Finding> {
    const SOURCE: &str = "research/aws.md §1.5 (SourceArn; alternate SES Regions)";
    let Some(arn) = pool.source_arn.as_deref() else {
        if pool.is_developer() {
            return Some(
                Finding::new(
                    "pool.source_arn",
                    Status::Fail,
                    "DEVELOPER pool without SourceArn: no SES identity to send from",
                    SOURCE,
                )
                .fix("Set email_configuration.source_arn = data.aws_ses_email_identity.noreply.arn (Terraform)."),
            );
        }
        return None;
    };
    let Some(arn::SesIdentity { region, account, name }) = arn::ses_identity(arn) else {
        return Some(
            Finding::new(
                "pool.source_arn",
                Status::Fail,
                format!(
                    "SourceArn {arn:?} is not an SES identity ARN, expected \
                    arn:aws:ses:<region>:<account>:identity/<name>"
                ),
                SOURCE,
            )
            .fix("Set email_configuration.source_arn = data.aws_ses_email_identity.noreply.arn (Terraform)."),
        );
    };
    let pool_account = pool.arn.as_deref().and_then(arn::account);
    let mut finding =
        Finding::new("pool.source_arn", Status::Ok, format!("SourceArn names SES identity {name} in {region}"), SOURCE)
            .evidence(format!("SourceArn = {arn}"))
            .evidence(format!("pool Region {pool_region}, account {}", pool_account.unwrap_or("?")));
    if region != pool_region && !ALTERNATE_SES_REGIONS.contains(&region) {
        finding.status = Status::Fail;
        finding.summary = format!(
            "SourceArn is in {region}, which is neither the pool's Region ({pool_region}) nor an alternate SES Region \
                ({})",
            ALTERNATE_SES_REGIONS.join(", ")
        );
        finding.fix = format!(
            "Use an SES identity in {pool_region} or in {} (Terraform: a provider alias for that Region).",
            ALTERNATE_SES_REGIONS.join(", ")
        );
    } else if let Some(pool_account) = pool_account.filter(|p| *p != account) {
        finding.status = Status::Warn;
        finding.summary =
            format!("SourceArn's account {account} is not the pool's account {pool_account}: a cross-account identity");
        finding.fix = format!(
            "Prefer an SES identity in account {pool_account}; otherwise the identity's policy in {account} must let \
                this pool send (aws:SourceAccount = {pool_account})."
        );
    } else if region != pool_region {
        finding.summary = format!("SourceArn names SES identity {name} in the alternate Region {region}");
    }
    Some(finding)
}

fn from(pool: &Pool) -> Vec<Finding> {
    const SOURCE: &str = "RFC 5322 §3.4, §3.2.3; research/aws.md §3.1 (identity from SourceArn)";
    const QUIRK: &str = "runbook: \"Display name quirk: avoid parentheses in from_email_address\"";
    let identity = pool.ses_identity();
    let Some(value) = pool.from.as_deref() else {
        return match identity {
            Some(name) if !name.contains('@') => vec![
                Finding::new(
                    "pool.from",
                    Status::Warn,
                    format!("no From address set while the SES identity is the domain {name}"),
                    SOURCE,
                )
                .fix(format!("Set email_configuration.from_email_address = \"Name <noreply@{name}>\" (Terraform).")),
            ],
            _ => vec![],
        };
    };
    let mailbox = match parse_mailbox(value) {
        Ok(m) => m,
        Err(err) => {
            return vec![
                Finding::new("pool.from", Status::Fail, err.to_string(), SOURCE)
                    .evidence(format!("From = {value}"))
                    .fix("Set email_configuration.from_email_address = \"Name <noreply@your.domain>\" (Terraform)."),
            ];
        }
    };
    let mut out = Vec::new();
    let matches = identity.map(|name| {
        let name = name.to_ascii_lowercase();
        if name.contains('@') { mailbox.address == name } else { mailbox.domain() == name }
    });
    out.push(match (identity, matches) {
        (Some(name), Some(false)) => Finding::new(
            "pool.from",
            Status::Fail,
            format!(
                "From address {} is not covered by the SES identity {name}: SES refuses to send from it",
                mailbox.address
            ),
            SOURCE,
        )
        .evidence(format!("From = {value}"))
        .evidence(format!("SourceArn identity = {name}"))
        .fix(format!(
            "Make from_email_address use the identity: {} (Terraform), or point source_arn at an identity for {}.",
            fix::string(&format!(
                "{} <{}>",
                mailbox.display_name.as_deref().unwrap_or("Name"),
                if name.contains('@') { name.to_string() } else { format!("noreply@{name}") }
            )),
            mailbox.address
        )),
        (Some(name), _) => Finding::new(
            "pool.from",
            Status::Ok,
            format!("From {} is covered by SES identity {name}", mailbox.address),
            SOURCE,
        )
        .evidence(format!("From = {value}")),
        (None, _) => Finding::new(
            "pool.from",
            Status::Ok,
            format!("From {} parses as an RFC 5322 mailbox", mailbox.address),
            SOURCE,
        )
        .evidence(format!("From = {value}")),
    });
    if !mailbox.unquoted_specials.is_empty() {
        let name = mailbox.display_name.clone().unwrap_or_default();
        let quoted = format!("\"{}\" <{}>", name.replace('\\', "\\\\").replace('"', "\\\""), mailbox.address);
        let specials: String = mailbox.unquoted_specials.iter().collect();
        out.push(
            Finding::new(
                "pool.from_display_name",
                Status::Warn,
                format!(
                    "display name {name:?} has unquoted specials {specials:?}: AWS stores it quoted, so Terraform \
                    shows a perpetual diff"
                ),
                QUIRK,
            )
            .evidence(format!("From = {value}"))
            .fix(format!("Quote the display name in Terraform: from_email_address = {}", fix::string(&quoted))),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(account: &str, source_arn: Option<&str>, from: Option<&str>) -> Pool {
        Pool {
            id: "us-east-1_knEL7cqS3".into(),
            arn: Some("arn:aws:cognito-idp:us-east-1:657033058608:userpool/us-east-1_knEL7cqS3".into()),
            sending_account: crate::aws::cognito::SendingAccount::from_aws(account),
            source_arn: source_arn.map(str::to_string),
            from: from.map(str::to_string),
            reply_to: None,
            configuration_set: None,
        }
    }

    const ARN: &str = "arn:aws:ses:us-east-1:657033058608:identity/noreply@thephenom.app";

    #[test]
    fn pool_checks_judge_each_configuration() {
        use Status::*;
        // (name, pool, production, check id, expected status)
        let other_acct = "arn:aws:ses:us-east-1:111111111111:identity/noreply@thephenom.app";
        let far_region = "arn:aws:ses:ap-south-1:657033058608:identity/noreply@thephenom.app";
        let alt_region = "arn:aws:ses:eu-west-1:657033058608:identity/thephenom.app";
        let cases: Vec<(&str, Pool, bool, &str, Option<Status>)> = vec![
            (
                "healthy developer",
                pool("DEVELOPER", Some(ARN), Some("Phenom <noreply@thephenom.app>")),
                true,
                "pool.sending_account",
                Some(Ok),
            ),
            (
                "default mailer, not production",
                pool("COGNITO_DEFAULT", None, None),
                false,
                "pool.sending_account",
                Some(Warn),
            ),
            (
                "default mailer, production",
                pool("COGNITO_DEFAULT", None, None),
                true,
                "pool.sending_account",
                Some(Fail),
            ),
            (
                "default mailer has no SourceArn to judge",
                pool("COGNITO_DEFAULT", None, None),
                true,
                "pool.source_arn",
                None,
            ),
            ("developer without SourceArn", pool("DEVELOPER", None, None), true, "pool.source_arn", Some(Fail)),
            (
                "SourceArn not an identity ARN",
                pool("DEVELOPER", Some("arn:aws:ses:us-east-1:657033058608:configuration-set/x"), None),
                true,
                "pool.source_arn",
                Some(Fail),
            ),
            (
                "SourceArn in another account",
                pool("DEVELOPER", Some(other_acct), None),
                true,
                "pool.source_arn",
                Some(Warn),
            ),
            (
                "SourceArn in a Region Cognito cannot use",
                pool("DEVELOPER", Some(far_region), None),
                true,
                "pool.source_arn",
                Some(Fail),
            ),
            (
                "SourceArn in an alternate Region",
                pool("DEVELOPER", Some(alt_region), Some("noreply@thephenom.app")),
                true,
                "pool.source_arn",
                Some(Ok),
            ),
            (
                "From equals the address identity",
                pool("DEVELOPER", Some(ARN), Some("Phenom <noreply@thephenom.app>")),
                true,
                "pool.from",
                Some(Ok),
            ),
            (
                "From in the domain identity",
                pool("DEVELOPER", Some(alt_region), Some("Phenom <hello@thephenom.app>")),
                true,
                "pool.from",
                Some(Ok),
            ),
            (
                "From another address than the identity",
                pool("DEVELOPER", Some(ARN), Some("Phenom <hello@thephenom.app>")),
                true,
                "pool.from",
                Some(Fail),
            ),
            (
                "From outside the domain identity",
                pool("DEVELOPER", Some(alt_region), Some("x@other.example")),
                true,
                "pool.from",
                Some(Fail),
            ),
            (
                "From does not parse",
                pool("DEVELOPER", Some(ARN), Some("Phenom <noreply@thephenom.app")),
                true,
                "pool.from",
                Some(Fail),
            ),
            ("domain identity, no From", pool("DEVELOPER", Some(alt_region), None), true, "pool.from", Some(Warn)),
            (
                "parentheses in the display name",
                pool("DEVELOPER", Some(ARN), Some("Phenom (dev) <noreply@thephenom.app>")),
                true,
                "pool.from_display_name",
                Some(Warn),
            ),
            (
                "quoted display name",
                pool("DEVELOPER", Some(ARN), Some("\"Phenom (dev)\" <noreply@thephenom.app>")),
                true,
                "pool.from_display_name",
                None,
            ),
        ];
        for (name, pool, production, check_id, expected) in cases {
            let findings = check(&pool, production, "us-east-1");
            let got = findings.iter().find(|f| f.check == check_id).map(|f| f.status);
            assert_eq!(got, expected, "{name}: {findings:#?}");
        }
    }

    #[test]
    fn display_name_fix_is_the_quoted_terraform_literal() {
        let findings =
            check(&pool("DEVELOPER", Some(ARN), Some("Phenom (dev) <noreply@thephenom.app>")), true, "us-east-1");
        let f = findings.iter().find(|f| f.check == "pool.from_display_name").unwrap();
        assert!(f.fix.contains(r#"from_email_address = "\"Phenom (dev)\" <noreply@thephenom.app>""#), "{}", f.fix);
    }
}
