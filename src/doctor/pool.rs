//! Checks of the pool's email configuration (DescribeUserPool `EmailConfiguration`, research/aws.md §1.5):
//! the sending account, the SourceArn (its Region and account against the pool's), and the From header —
//! that it parses as an RFC 5322 mailbox, that its address is the SES identity's, and that its display name
//! needs no quoting (the runbook's perpetual Terraform diff). Pure functions of what AWS reported.

use super::{Finding, Status};
use crate::aws::arn;
use crate::aws::cognito::Pool;
use crate::fix;

/// Regions Cognito may use for SES besides the pool's own (research/aws.md §1.5: "US East (N. Virginia),
/// US West (Oregon) and Europe (Ireland) are the alternates").
const ALTERNATE_SES_REGIONS: [&str; 3] = ["us-east-1", "us-west-2", "eu-west-1"];

/// RFC 5322 §3.2.3 `specials`: characters that may not appear in an unquoted display name (an atom).
const SPECIALS: [char; 12] = ['(', ')', '<', '>', '[', ']', ':', ';', '@', '\\', ',', '"'];

/// A From header value that is not an RFC 5322 mailbox.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FromError {
    #[error("From {value:?} has no address, expected \"Name <user@domain>\" or \"user@domain\"")]
    NoAddress { value: String },
    #[error("From {value:?}: \"<\" without a closing \">\" at the end, expected \"Name <user@domain>\"")]
    Unclosed { value: String },
    #[error("From {value:?}: address {address:?} is not user@domain (RFC 5322 §3.4.1 addr-spec)")]
    BadAddress { value: String, address: String },
    #[error("From {value:?}: quoted display name is not closed, expected \"\\\"Name\\\" <user@domain>\"")]
    UnclosedQuote { value: String },
}

/// A parsed From mailbox (RFC 5322 §3.4 `name-addr` or `addr-spec`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// The display name as written (quotes kept), when there is one.
    pub display_name: Option<String>,
    /// The address, lower-cased.
    pub address: String,
    /// Specials in an unquoted display name (RFC 5322 §3.2.3); empty when the name is quoted or clean.
    pub unquoted_specials: Vec<char>,
}

impl Mailbox {
    /// The domain of the address.
    pub fn domain(&self) -> &str {
        self.address.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
    }
}

/// Parses a From value: `addr-spec`, or `display-name <addr-spec>` where the display name is a quoted
/// string (RFC 5322 §3.2.4) or a phrase of atoms. Specials in an unquoted name are reported, not rejected:
/// AWS stores such a name quoted (runbook, "Display name quirk"), which is what makes Terraform's plan differ.
pub fn parse_mailbox(value: &str) -> Result<Mailbox, FromError> {
    let trimmed = value.trim();
    let (display, address) = match trimmed.rfind('<') {
        Some(open) => {
            let Some(inner) = trimmed[open + 1..].strip_suffix('>') else {
                return Err(FromError::Unclosed { value: value.to_string() });
            };
            let name = trimmed[..open].trim();
            (Some(name).filter(|n| !n.is_empty()), inner.trim())
        }
        None => (None, trimmed),
    };
    if address.is_empty() {
        return Err(FromError::NoAddress { value: value.to_string() });
    }
    if !is_addr_spec(address) {
        return Err(FromError::BadAddress { value: value.to_string(), address: address.to_string() });
    }
    let mut unquoted_specials = Vec::new();
    if let Some(name) = display {
        if let Some(rest) = name.strip_prefix('"') {
            if !closes_quote(rest) {
                return Err(FromError::UnclosedQuote { value: value.to_string() });
            }
        } else {
            // A '.' in a phrase is obsolete syntax (RFC 5322 §4.1 obs-phrase) and is quoted by AWS too.
            for c in name.chars().filter(|c| SPECIALS.contains(c) || *c == '.') {
                if !unquoted_specials.contains(&c) {
                    unquoted_specials.push(c);
                }
            }
        }
    }
    Ok(Mailbox { display_name: display.map(str::to_string), address: address.to_ascii_lowercase(), unquoted_specials })
}

/// `rest` (after the opening quote) ends with the closing quote and holds no other unescaped quote.
fn closes_quote(rest: &str) -> bool {
    let mut escaped = false;
    let mut closed_at = None;
    for (i, c) in rest.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => {
                closed_at = Some(i);
                break;
            }
            _ => {}
        }
    }
    closed_at.is_some_and(|i| i + 1 == rest.len())
}

/// RFC 5322 §3.4.1 addr-spec in its dot-atom form (what SES identities use): `local@domain`, both dot-atoms
/// of atext (§3.2.3), the domain made of letter/digit/hyphen labels.
fn is_addr_spec(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    let dot_atom =
        |s: &str, ok: &dyn Fn(char) -> bool| !s.is_empty() && s.split('.').all(|p| !p.is_empty() && p.chars().all(ok));
    dot_atom(local, &atext)
        && dot_atom(domain, &|c: char| c.is_ascii_alphanumeric() || c == '-')
        && domain.contains('.')
}

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
            "pool sends with Cognito's default mailer (COGNITO_DEFAULT): 50 mails a day, generic sender, often Junk — {why}"
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
                format!("SourceArn {arn:?} is not an SES identity ARN, expected arn:aws:ses:<region>:<account>:identity/<name>"),
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
            "SourceArn is in {region}, which is neither the pool's Region ({pool_region}) nor an alternate SES Region ({})",
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
            "Prefer an SES identity in account {pool_account}; otherwise the identity's policy in {account} must let this pool send (aws:SourceAccount = {pool_account})."
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
                format!("display name {name:?} has unquoted specials {specials:?}: AWS stores it quoted, so Terraform shows a perpetual diff"),
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
    fn from_values_parse_as_rfc5322_mailboxes() {
        // (value, address or error, unquoted specials)
        let cases: &[(&str, Result<&str, ()>, &str)] = &[
            ("Phenom <noreply@thephenom.app>", Ok("noreply@thephenom.app"), ""),
            ("noreply@thephenom.app", Ok("noreply@thephenom.app"), ""),
            ("NoReply@ThePhenom.app", Ok("noreply@thephenom.app"), ""),
            ("Phenom (dev) <noreply@thephenom.app>", Ok("noreply@thephenom.app"), "()"),
            ("\"Phenom (dev)\" <noreply@thephenom.app>", Ok("noreply@thephenom.app"), ""),
            ("Phenom, Inc. <noreply@thephenom.app>", Ok("noreply@thephenom.app"), ",."),
            ("<noreply@thephenom.app>", Ok("noreply@thephenom.app"), ""),
            ("Phenom <noreply@thephenom.app", Err(()), ""),
            ("Phenom <>", Err(()), ""),
            ("Phenom <noreply>", Err(()), ""),
            ("Phenom <no reply@thephenom.app>", Err(()), ""),
            ("\"Phenom <noreply@thephenom.app>", Err(()), ""),
            ("", Err(()), ""),
        ];
        for (value, expected, specials) in cases {
            let got = parse_mailbox(value);
            match expected {
                Ok(addr) => {
                    let m = got.unwrap_or_else(|e| panic!("{value:?}: {e}"));
                    assert_eq!(m.address, *addr, "{value:?}");
                    assert_eq!(m.unquoted_specials.iter().collect::<String>(), *specials, "{value:?}");
                }
                Err(()) => assert!(got.is_err(), "{value:?} should not parse: {got:?}"),
            }
        }
    }

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
