//! The lint rules, each a function from the tree's facts to findings. Rule names are stable: they appear in
//! output, JSON and the fixture directories under `tests/data/lint/`.

use std::collections::BTreeMap;

use super::tree::{Pool, Tree};
use super::{Finding, Severity};
use crate::aws::policy::{Subject, evaluate_documents};
use crate::fix::{self, Hcl, PolicyFix};

/// Rule: a pool sending through SES needs an identity policy for the Cognito principal (runbook "The
/// two-piece gotcha"; research/aws.md §3.3).
pub const MISSING_IDENTITY_POLICY: &str = "missing-identity-policy";
/// Rule: the identity policy is declared once across the tree (runbook "TF layout": "DO NOT redeclare
/// elsewhere or the two TF states will fight").
pub const DUPLICATE_IDENTITY_POLICY: &str = "duplicate-identity-policy";
/// Rule: no unquoted RFC 5322 specials in from_email_address's display name (runbook "Display name quirk").
pub const FROM_ADDRESS_SPECIALS: &str = "from-address-specials";
/// Rule: a production pool must not use COGNITO_DEFAULT (runbook "Why SES instead of the Cognito default";
/// issue 5: FAIL for a production pool).
pub const COGNITO_DEFAULT_PRODUCTION: &str = "cognito-default-production";
/// Not a rule about Terraform but about the check itself: an entry of the tree the lint did not read (a
/// symbolic link to a directory or out of the tree, a FIFO or device, a file over the size limit), so
/// what it holds was not checked.
pub const UNREAD_FILE: &str = "unread-file";

/// Runs every rule; findings come out ordered by file and line.
pub fn check(tree: &Tree) -> Vec<Finding> {
    let mut findings = Vec::new();
    for pool in &tree.pools {
        missing_identity_policy(tree, pool, &mut findings);
        from_address_specials(pool, &mut findings);
        cognito_default_production(pool, &mut findings);
    }
    duplicate_identity_policy(tree, &mut findings);
    unread_files(tree, &mut findings);
    findings.sort_by(|a, b| (&a.file, a.line, &a.rule).cmp(&(&b.file, b.line, &b.rule)));
    findings
}

/// A warning per entry the walk left out: the verdict holds only for what was read.
fn unread_files(tree: &Tree, findings: &mut Vec<Finding>) {
    for skipped in &tree.skipped {
        findings.push(Finding {
            file: skipped.file.clone(),
            line: 1,
            rule: UNREAD_FILE,
            severity: Severity::Warning,
            message: format!("{} {}", skipped.file, skipped.why.message()),
            fix: skipped.why.fix(),
        });
    }
}

/// The sending account as the rules read it: absent means COGNITO_DEFAULT (the AWS default); an expression
/// the lint cannot evaluate means "unknown" and no rule fires on it.
fn sending_account(pool: &Pool) -> Option<&str> {
    match &pool.sending_account {
        None => Some("COGNITO_DEFAULT"),
        Some(Ok(s)) => Some(s.as_str()),
        Some(Err(_)) => None,
    }
}

fn describe(pool: &Pool) -> String {
    match &pool.name {
        Some(name) if !name.contains("${") => format!("{} ({name})", pool.address),
        _ => pool.address.clone(),
    }
}

fn missing_identity_policy(tree: &Tree, pool: &Pool, out: &mut Vec<Finding>) {
    // Sending through SES: DEVELOPER, or COGNITO_DEFAULT with a SourceArn (research/aws.md §3.3: a policy is
    // needed "when you use both the default email functionality … and a verified Amazon SES identity").
    let Some(account) = sending_account(pool) else { return };
    let Some(identity) = pool.source_arn.as_deref() else { return };
    if account != "DEVELOPER" && account != "COGNITO_DEFAULT" {
        return;
    }
    // The planned mode of the one policy rule: the pool's ARN and account are not known before apply.
    let subject = Subject::planned(identity);
    let allows = |doc| evaluate_documents([("", doc)], &subject).allows();
    if tree.policies.iter().any(|p| p.document.as_ref().is_ok_and(allows)) {
        return;
    }
    let mut message = format!(
        "{} sends through SES identity {identity} ({account}) but no aws_ses_identity_policy in the scanned tree \
         lets the Cognito service principal send on it — the two-piece gotcha: Cognito accepts the call and \
         SES drops the mail",
        describe(pool)
    );
    if account == "DEVELOPER" {
        message.push_str(
            " (AWS documents the Cognito service-linked role as sufficient for DEVELOPER; the runbook requires \
             the policy)",
        );
    }
    let unreadable: Vec<String> = tree
        .policies
        .iter()
        .filter_map(|p| p.document.as_ref().err().map(|why| format!("{} at {}: {why}", p.address, p.at)))
        .collect();
    if !unreadable.is_empty() {
        message.push_str(&format!("; not read: {}", unreadable.join("; ")));
    }
    out.push(Finding {
        file: pool.at.file.display().to_string(),
        line: pool.at.line,
        rule: MISSING_IDENTITY_POLICY,
        severity: Severity::Failure,
        message,
        fix: fix::identity_policy(&PolicyFix {
            identity: Hcl::Literal(identity.to_string()),
            // A template: the Region and account come from the user's own provider.
            identity_arn: Hcl::Reference(format!(
                "\"arn:aws:ses:${{data.aws_region.current.name}}:${{data.aws_caller_identity.current.account_id}}:\
                 identity/{identity}\""
            )),
            pool_arn: Hcl::Reference(format!("{}.arn", pool.address)),
            ..PolicyFix::generic()
        }),
    });
}

fn duplicate_identity_policy(tree: &Tree, out: &mut Vec<Finding>) {
    // The AWS object is (identity, policy name): two declarations of the same one are two states fighting.
    let mut seen: BTreeMap<(String, String), &super::tree::IdentityPolicy> = BTreeMap::new();
    for policy in &tree.policies {
        let key =
            (policy.identity.clone().unwrap_or_else(|| "?".into()), policy.name.clone().unwrap_or_else(|| "?".into()));
        match seen.get(&key) {
            Some(first) => out.push(Finding {
                file: policy.at.file.display().to_string(),
                line: policy.at.line,
                rule: DUPLICATE_IDENTITY_POLICY,
                severity: Severity::Failure,
                message: format!(
                    "{} declares identity policy \"{}\" on {} again; {} at {} already declares it — two states \
                     managing one policy overwrite each other on every apply",
                    policy.address, key.1, key.0, first.address, first.at
                ),
                fix: format!(
                    "keep the policy in one root ({}) and delete this declaration; other roots only read the \
                     identity with data \"aws_ses_email_identity\"",
                    first.at.file.display()
                ),
            }),
            None => {
                seen.insert(key, policy);
            }
        }
    }
}

fn from_address_specials(pool: &Pool, out: &mut Vec<Finding>) {
    let Some((from, at)) = &pool.from_email_address else { return };
    let specials = crate::address::unquoted_specials(from);
    if specials.is_empty() {
        return;
    }
    let list: Vec<String> = specials.iter().map(|c| format!("'{c}'")).collect();
    let list = list.join(" ");
    let (name, addr) = from.rsplit_once('<').unwrap_or((from, ""));
    out.push(Finding {
        file: at.file.display().to_string(),
        line: at.line,
        rule: FROM_ADDRESS_SPECIALS,
        severity: Severity::Warning,
        message: format!(
            "{} from_email_address \"{from}\" has unquoted RFC 5322 specials {list} in its display name; AWS \
             stores it quoted and Terraform shows a perpetual diff",
            describe(pool)
        ),
        fix: format!(
            "drop the specials or pre-quote the name: from_email_address = \"\\\"{}\\\" <{addr}\"",
            name.trim().replace('"', "")
        ),
    });
}

/// A pool looks like production when a word of its name or its file's path is `prod` or `production`.
pub fn looks_like_production(pool: &Pool) -> bool {
    let path = pool.at.file.display().to_string();
    let texts = [pool.name.as_deref().unwrap_or_default(), path.as_str()];
    texts.iter().any(|t| {
        t.split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| w.eq_ignore_ascii_case("prod") || w.eq_ignore_ascii_case("production"))
    })
}

fn cognito_default_production(pool: &Pool, out: &mut Vec<Finding>) {
    if sending_account(pool) != Some("COGNITO_DEFAULT") || !looks_like_production(pool) {
        return;
    }
    out.push(Finding {
        file: pool.at.file.display().to_string(),
        line: pool.at.line,
        rule: COGNITO_DEFAULT_PRODUCTION,
        severity: Severity::Failure,
        message: format!(
            "{} looks like production and sends with COGNITO_DEFAULT{}: 50 mails a day per pool, a generic AWS \
             sender that Yahoo and Outlook file as junk",
            describe(pool),
            if pool.sending_account.is_none() { " (no email_sending_account: the AWS default)" } else { "" }
        ),
        fix: fix::developer_sending(pool.from_email_address.as_ref().map(|(f, _)| f.as_str()), None),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::tree::Location;

    #[test]
    fn production_cases() {
        let pool = |name: Option<&str>, file: &str| Pool {
            address: "aws_cognito_user_pool.main".into(),
            at: Location { file: file.into(), line: 1 },
            name: name.map(str::to_string),
            sending_account: None,
            source_arn: None,
            from_email_address: None,
        };
        let cases = [
            ("prod in name", pool(Some("phenom-prod"), "main.tf"), true),
            ("production dir", pool(Some("app"), "envs/production/cognito.tf"), true),
            ("product is not prod", pool(Some("product-catalog"), "main.tf"), false),
            ("staging", pool(Some("phenom-staging"), "development/main.tf"), false),
            ("unnamed", pool(None, "main.tf"), false),
        ];
        for (name, pool, want) in cases {
            assert_eq!(looks_like_production(&pool), want, "{name}");
        }
    }
}
