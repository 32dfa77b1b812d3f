//! terraform-example really works: `terraform fmt -check`, `init -backend=false` from the provider mirror and
//! `validate` (no errors, no warnings) on every root and module; the parts moto implements applied to a
//! moto_server on loopback and read back through the probe's own clients; checkov with no failed check and
//! every skip justified. Each slow tool runs once.

use std::path::{Path, PathBuf};
use std::process::Command;

use cognito_delivery_probe::aws::Clients;
use cognito_delivery_probe::config::ProbeFile;
use cognito_delivery_probe::doctor;

use testkit::moto::Moto;
use testkit::terraform::{Terraform, copy_tree};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("terraform-example")
}

/// The roots the README's test command checks: both environment roots and each module on its own.
const ROOTS: [&str; 4] = ["production", "development", "modules/probe-iam", "modules/probe-schedule"];

#[test]
fn every_root_is_formatted_and_validates_offline() {
    let tf = Terraform::new();
    let dir = tempfile::tempdir().expect("temp dir");
    copy_tree(&example(), dir.path());
    tf.run(dir.path(), &["fmt", "-check", "-recursive", "-diff", "-no-color"]);
    for root in ROOTS {
        let root_dir = dir.path().join(root);
        tf.run(&root_dir, &["init", "-backend=false", "-input=false", "-no-color"]);
        let out = tf.run(&root_dir, &["validate", "-json", "-no-color"]);
        let json: serde_json::Value = serde_json::from_str(&out).expect("validate -json");
        assert_eq!(json["valid"], true, "{root}: {out}");
        assert_eq!(json["error_count"], 0, "{root}: {out}");
        assert_eq!(json["warning_count"], 0, "{root}: {out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_apply_is_read_back_by_the_probe() {
    let tf = Terraform::new();
    let moto = Moto::start();
    let dir = tempfile::tempdir().expect("temp dir");
    copy_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/terraform-moto"), dir.path());
    let endpoint = format!("endpoint={}", moto.endpoint_url());
    let outputs = tokio::task::block_in_place(|| {
        tf.run(dir.path(), &["init", "-backend=false", "-input=false", "-no-color"]);
        tf.run(dir.path(), &["apply", "-auto-approve", "-input=false", "-no-color", "-var", &endpoint]);
        tf.run(dir.path(), &["output", "-json", "-no-color"])
    });
    let outputs: serde_json::Value = serde_json::from_str(&outputs).expect("terraform output -json");
    let out = |k: &str| outputs[k]["value"].as_str().unwrap_or_else(|| panic!("output {k}: {outputs}")).to_string();
    let (pool_id, client_id, username) = (out("pool_id"), out("client_id"), out("username"));

    let clients = Clients::from_sdk_config(moto.sdk_config().await);
    let pool = clients.describe_user_pool(&pool_id).await.expect("DescribeUserPool");
    assert_eq!(pool.sending_account, "DEVELOPER");
    assert_eq!(
        pool.source_arn.as_deref(),
        Some("arn:aws:ses:us-east-1:123456789012:identity/noreply@thephenom.app"),
        "source_arn from the identity resource"
    );
    assert_eq!(pool.from.as_deref(), Some("Phenom <noreply@thephenom.app>"));
    assert_eq!(pool.ses_identity(), Some("noreply@thephenom.app"));

    let user = clients.admin_get_user(&pool_id, &username).await.expect("AdminGetUser");
    assert_eq!(user.status, "FORCE_CHANGE_PASSWORD", "SUPPRESS keeps the test user in FORCE_CHANGE_PASSWORD");
    assert!(user.enabled);
    assert_eq!(user.email.as_deref(), Some("probe+prod@thephenom.app"));
    assert!(user.email_verified);

    let client = clients.describe_user_pool_client(&pool_id, &client_id).await.expect("DescribeUserPoolClient");
    assert_eq!(client.name.as_deref(), Some("cognito-delivery-probe"));
    assert!(client.secret.is_none(), "the ForgotPassword client has no secret");

    let identity = clients.get_email_identity("noreply@thephenom.app").await.expect("GetEmailIdentity");
    assert_eq!(identity.name, "noreply@thephenom.app");

    // `probe doctor` reads the applied configuration back: the pool, identity, policy and test user Terraform
    // made are found and judged, not reported missing.
    let maildir = dir.path().join("Maildir");
    std::fs::create_dir_all(maildir.join("new")).unwrap();
    let probe_text = format!(
        "pool_id = \"{pool_id}\"\nusername = \"{username}\"\n[maildir]\npath = {}\n",
        toml::Value::String(maildir.display().to_string())
    );
    let probe = ProbeFile::parse(&probe_text, Path::new("moto.toml")).expect("probe file for the applied pool");
    let options = doctor::Options { policy_missing: doctor::PolicyMissing::Fail, skip_dns: true };
    let report = doctor::run(&probe, &clients, &options).await;
    let status = |check: &str| {
        report
            .findings
            .iter()
            .find(|f| f.check == check)
            .map(|f| f.status)
            .unwrap_or_else(|| panic!("no {check}: {report:#?}"))
    };
    for check in ["pool.sending_account", "pool.source_arn", "pool.from", "user.state", "user.rate"] {
        assert_eq!(status(check), doctor::Status::Ok, "{check} on the applied example: {report:#?}");
    }
    // The moto root carries no identity policy (moto has no SES v1 PutIdentityPolicy, research/aws.md §4.1),
    // so this is the two-piece gotcha, and the doctor names it with the fix for this very pool.
    assert_eq!(status("ses.policy"), doctor::Status::Fail, "{report:#?}");
    let policy = report.findings.iter().find(|f| f.check == "ses.policy").unwrap();
    assert!(policy.summary.contains("two-piece gotcha") && policy.fix.contains(&pool_id), "{policy:#?}");
    assert_ne!(status("ses.identity"), doctor::Status::Unknown, "{report:#?}");
}

/// checkov (PyPI) over terraform-example: no failed check, and every skip carries its reason inline.
#[test]
fn checkov_finds_no_failed_check() {
    let program = std::env::var_os("CHECKOV").unwrap_or_else(|| "checkov".into());
    let out = match Command::new(&program)
        .args(["-d", &example().display().to_string(), "--framework", "terraform", "--skip-download", "-o", "json"])
        .output()
    {
        Ok(out) => out,
        Err(err) => panic!(
            "{} not runnable ({err}); install checkov: `pip install checkov` (`bash tests/run-all.sh` does it)",
            program.to_string_lossy()
        ),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("checkov output is not JSON ({e}):\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr))
    });
    let report = if json.is_array() { json[0].clone() } else { json };
    let summary = &report["summary"];
    let failed: Vec<String> = report["results"]["failed_checks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| format!("{} {} {}: {}", c["check_id"], c["resource"], c["file_path"], c["check_name"]))
        .collect();
    assert_eq!(failed, Vec::<String>::new(), "checkov failed checks");
    assert_eq!(summary["parsing_errors"], 0, "{summary}");
    assert!(summary["passed"].as_u64().is_some_and(|n| n > 50), "checkov checked the example: {summary}");
    for skipped in report["results"]["skipped_checks"].as_array().into_iter().flatten() {
        let reason = skipped["check_result"]["suppress_comment"].as_str().unwrap_or_default();
        assert!(reason.len() > 20, "skip of {} on {} needs an inline reason", skipped["check_id"], skipped["resource"]);
    }
}
