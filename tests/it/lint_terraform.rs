//! `probe lint-terraform`: one fixture tree per rule under `tests/data/lint/<rule>/` with its exact
//! findings, the clean trees (a policy from `aws_iam_policy_document`, terraform-example), a copy of
//! terraform-example with the identity policy removed, the binary's exit codes and output formats, and a
//! tree of links, FIFOs and oversized files that must not hang or exhaust it.

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
        (0, Some("lint-terraform OK: 0 failure(s), 0 warning(s) in 38 file(s), 3 pool(s), 1 identity policy(ies)"))
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

/// Runs `probe lint-terraform` and kills it after a minute: a guard against a hang, not a timing.
fn probe_within_a_minute(args: &[&str]) -> (u8, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_probe"))
        .arg("lint-terraform")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("probe runs");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut out);
        out
    });
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for probe") {
            break status;
        }
        if started.elapsed() > std::time::Duration::from_secs(60) {
            child.kill().expect("kill probe");
            panic!("probe lint-terraform {args:?} did not finish within a minute: it hung on the tree");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    (status.code().expect("probe exits with a code") as u8, reader.join().expect("stdout"))
}

/// Two links of a directory to itself, a `.tf` link to itself, one to /dev/zero and one out of the tree, a
/// FIFO named `.tf` and a 5 MiB `.tf` file: the lint finishes, warns `unread-file` for each, and reads
/// the regular files — a `.tf` link into the tree included.
#[test]
fn links_fifos_devices_and_oversized_files_are_warnings_never_a_hang() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().expect("temp dir");
    let outside = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    std::fs::write(root.join("main.tf"), "variable \"region\" {}\n").expect("write");
    std::fs::create_dir(root.join("shared")).expect("mkdir");
    std::fs::write(root.join("shared/providers.tf"), "variable \"profile\" {}\n").expect("write");
    symlink("shared/providers.tf", root.join("providers.tf")).expect("symlink");
    symlink(".", root.join("loop-a")).expect("symlink");
    symlink(".", root.join("loop-b")).expect("symlink");
    symlink("self.tf", root.join("self.tf")).expect("symlink");
    symlink("/dev/zero", root.join("zero.tf")).expect("symlink");
    std::fs::write(outside.path().join("x.tf"), "variable \"x\" {}\n").expect("write");
    symlink(outside.path().join("x.tf"), root.join("outside.tf")).expect("symlink");
    let fifo = std::ffi::CString::new(root.join("pipe.tf").as_os_str().as_encoded_bytes()).expect("path");
    // SAFETY: a valid NUL-terminated path; mkfifo has no other preconditions.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0, "mkfifo");
    std::fs::write(root.join("big.tf"), "# generated\n".repeat(5 * 1024 * 1024 / 12 + 1)).expect("write");
    let big = std::fs::metadata(root.join("big.tf")).expect("big.tf").len();

    let shown = root.display().to_string();
    let (code, stdout) = probe_within_a_minute(&[&shown, "--format", "json"]);
    assert_eq!(code, 1, "warnings only:\n{stdout}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON document");
    assert_eq!((json["outcome"].as_str(), json["files"].as_u64()), (Some("warning"), Some(3)), "{stdout}");
    let got: Vec<(String, String)> = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            assert_eq!((f["rule"].as_str(), f["severity"].as_str()), (Some("unread-file"), Some("warning")), "{f}");
            (f["file"].as_str().unwrap_or_default().to_string(), f["message"].as_str().unwrap_or_default().to_string())
        })
        .collect();
    let outside_x = std::fs::canonicalize(outside.path().join("x.tf")).expect("canonical");
    let linked_dir = "is a symbolic link to a directory; not followed (a link can loop or lead out of the tree), so \
                      the files behind it were not checked";
    let expected = [
        ("big.tf", format!("is {big} bytes, over the 4 MiB the lint reads of a .tf file; not read")),
        ("loop-a", linked_dir.to_string()),
        ("loop-b", linked_dir.to_string()),
        ("outside.tf", format!("is a symbolic link to {}, outside the scanned tree; not read", outside_x.display())),
        ("pipe.tf", "is a FIFO, not a regular file; not read".to_string()),
        (
            "self.tf",
            "is a symbolic link that does not resolve (Too many levels of symbolic links (os error 40)); not read"
                .to_string(),
        ),
        ("zero.tf", "is a symbolic link to /dev/zero, outside the scanned tree; not read".to_string()),
    ];
    let expected: Vec<(String, String)> = expected
        .into_iter()
        .map(|(file, message)| (format!("{shown}/{file}"), format!("{shown}/{file} {message}")))
        .collect();
    assert_eq!(got, expected);

    let (code, stdout) = probe_within_a_minute(&[&shown]);
    assert_eq!(
        (code, stdout.lines().last()),
        (1, Some("lint-terraform WARNING: 0 failure(s), 7 warning(s) in 3 file(s), 0 pool(s), 0 identity policy(ies)"))
    );
}

/// A tree whose only `.tf` files cannot be read could not be checked: exit 3, saying why.
#[test]
fn a_tree_with_nothing_readable_is_unknown() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.tf")).expect("symlink");
    let (code, _, stderr) = probe(&[&dir.path().display().to_string()]);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("no .tf file under") && stderr.contains("zero.tf is a symbolic link to /dev/zero"),
        "{stderr}"
    );
}
