//! `probe lint-terraform`: one fixture tree per rule under `tests/data/lint/<rule>/` with its exact
//! findings, the clean trees (a policy from `aws_iam_policy_document`, terraform-example), a copy of
//! terraform-example with the identity policy removed, and the binary's exit codes and output formats.

use std::path::{Path, PathBuf};
use std::process::Command;

use cognito_delivery_probe::lint::{self, Severity};
use cognito_delivery_probe::verdict::Outcome;

fn fixture(rule: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/lint").join(rule)
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("terraform-example")
}

/// (file relative to the fixture, line, rule, severity, message) of every finding.
fn findings(dir: &Path) -> Vec<(String, usize, &'static str, Severity, String)> {
    let report = lint::lint_dir(dir).unwrap_or_else(|e| panic!("lint {}: {e}", dir.display()));
    let prefix = format!("{}/", dir.display());
    report
        .findings
        .into_iter()
        .map(|f| (f.file.trim_start_matches(&prefix).to_string(), f.line, f.rule, f.severity, f.message))
        .collect()
}

fn probe(args: &[&str]) -> (u8, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_probe")).arg("lint-terraform").args(args).output().expect("probe runs");
    let code = out.status.code().expect("probe exits with a code") as u8;
    (code, String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn missing_identity_policy_flags_a_policy_for_the_wrong_principal() {
    assert_eq!(
        findings(&fixture("missing-identity-policy")),
        vec![(
            "main.tf".to_string(),
            5,
            "missing-identity-policy",
            Severity::Failure,
            "aws_cognito_user_pool.main (shop-staging) sends through SES identity noreply@example.com (DEVELOPER) \
             but no aws_ses_identity_policy in the scanned tree lets the Cognito service principal send on it — \
             the two-piece gotcha: Cognito accepts the call and SES drops the mail (AWS documents the Cognito \
             service-linked role as sufficient for DEVELOPER; the runbook requires the policy)"
                .to_string()
        )]
    );
}

#[test]
fn duplicate_identity_policy_across_two_roots() {
    assert_eq!(
        findings(&fixture("duplicate-identity-policy")),
        vec![(
            "production/main.tf".to_string(),
            15,
            "duplicate-identity-policy",
            Severity::Failure,
            format!(
                "aws_ses_identity_policy.cognito declares identity policy \"AllowCognitoUserPoolsToSend\" on \
                 noreply@example.com again; aws_ses_identity_policy.cognito at {}/development/main.tf:15 already \
                 declares it — two states managing one policy overwrite each other on every apply",
                fixture("duplicate-identity-policy").display()
            )
        )]
    );
}

#[test]
fn from_address_specials_warns_on_parentheses_but_not_on_a_quoted_name() {
    assert_eq!(
        findings(&fixture("from-address-specials")),
        vec![(
            "main.tf".to_string(),
            12,
            "from-address-specials",
            Severity::Warning,
            "aws_cognito_user_pool.dev (shop-dev) from_email_address \"Shop (dev) <noreply@example.com>\" has \
             unquoted RFC 5322 specials '(' ')' in its display name; AWS stores it quoted and Terraform shows a \
             perpetual diff"
                .to_string()
        )]
    );
}

#[test]
fn cognito_default_production_by_path_and_by_name() {
    let tail = ": 50 mails a day per pool, a generic AWS sender that Yahoo and Outlook file as junk";
    assert_eq!(
        findings(&fixture("cognito-default-production")),
        vec![
            (
                "production/main.tf".to_string(),
                2,
                "cognito-default-production",
                Severity::Failure,
                format!(
                    "aws_cognito_user_pool.main (shop) looks like production and sends with COGNITO_DEFAULT (no \
                     email_sending_account: the AWS default){tail}"
                )
            ),
            (
                "production/main.tf".to_string(),
                6,
                "cognito-default-production",
                Severity::Failure,
                format!(
                    "aws_cognito_user_pool.explicit (shop-prod-admin) looks like production and sends with \
                     COGNITO_DEFAULT{tail}"
                )
            ),
        ]
    );
}

#[test]
fn a_policy_from_an_iam_policy_document_counts() {
    assert_eq!(findings(&fixture("clean-policy-document")), vec![]);
}

#[test]
fn terraform_example_is_clean() {
    let report = lint::lint_dir(&example()).expect("terraform-example parses");
    assert_eq!(report.findings, vec![], "{}", report.to_text());
    assert_eq!((report.pools, report.identity_policies), (3, 1), "three pools, the policy declared once");
    assert_eq!(report.outcome, Outcome::Ok);
}

#[test]
fn terraform_example_without_the_identity_policy_fails_every_pool() {
    let dir = tempfile::tempdir().expect("temp dir");
    for root in ["production", "development"] {
        std::fs::create_dir_all(dir.path().join(root)).expect("mkdir");
        for entry in std::fs::read_dir(example().join(root)).expect("read example root") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "tf") {
                let text = std::fs::read_to_string(&path).expect("read .tf");
                // Cut the identity policy resource (the last block of production/cognito.tf).
                let text = match text.find("resource \"aws_ses_identity_policy\"") {
                    Some(at) => text[..at].to_string(),
                    None => text,
                };
                std::fs::write(dir.path().join(root).join(path.file_name().expect("name")), text).expect("write");
            }
        }
    }
    let got: Vec<(String, usize, &str)> =
        findings(dir.path()).into_iter().map(|(file, line, rule, _, _)| (file, line, rule)).collect();
    assert_eq!(
        got,
        vec![
            ("development/main.tf".to_string(), 11, "missing-identity-policy"),
            ("development/main.tf".to_string(), 37, "missing-identity-policy"),
            ("production/cognito.tf".to_string(), 14, "missing-identity-policy"),
        ]
    );
    let (code, stdout, _) = probe(&[&dir.path().display().to_string()]);
    assert_eq!(code, 2, "{stdout}");
}

#[test]
fn exit_codes_and_formats() {
    let (code, stdout, _) = probe(&[&example().display().to_string()]);
    assert_eq!(
        (code, stdout.lines().last()),
        (0, Some("lint-terraform OK: 0 failure(s), 0 warning(s) in 17 file(s), 3 pool(s), 1 identity policy(ies)"))
    );

    let specials = fixture("from-address-specials").display().to_string();
    let (code, stdout, _) = probe(&[&specials, "--format", "nagios"]);
    assert_eq!(code, 1);
    assert_eq!(
        stdout.trim_end(),
        format!(
            "LINT-TERRAFORM WARNING - 0 failure(s), 1 warning(s); first: from-address-specials at \
                {specials}/main.tf:12 \
             | failures=0;;;0 warnings=1;;;0 files=1;;;0 pools=2;;;0"
        )
    );

    let (code, stdout, _) = probe(&[&fixture("missing-identity-policy").display().to_string(), "--format", "json"]);
    assert_eq!(code, 2);
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON document");
    assert_eq!(json["outcome"], "critical");
    assert_eq!(json["findings"][0]["rule"], "missing-identity-policy");
    assert_eq!(json["findings"][0]["line"], 5);
    assert!(json["findings"][0]["fix"].as_str().is_some_and(|f| f.contains("aws_ses_identity_policy")));
}

#[test]
fn unparsable_hcl_is_unknown_with_file_and_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("ok.tf"), "variable \"a\" {}\n").expect("write");
    std::fs::write(dir.path().join("broken.tf"), "resource \"aws_cognito_user_pool\" \"p\" {\n  name = \n}\n")
        .expect("write");
    let (code, stdout, stderr) = probe(&[&dir.path().display().to_string()]);
    assert_eq!(code, 3, "{stdout}{stderr}");
    let expected = format!("probe lint-terraform: {}/broken.tf:2:", dir.path().display());
    assert!(stderr.starts_with(&expected), "{stderr}");
    assert!(stderr.contains("not valid HCL"), "{stderr}");

    let empty = tempfile::tempdir().expect("temp dir");
    let (code, _, stderr) = probe(&[&empty.path().display().to_string()]);
    assert_eq!(code, 3);
    assert!(stderr.contains("no .tf files under"), "{stderr}");
}
