//! `probe sandbox` as a user runs it: the built binary prints one JSON ready line, the AWS CLI works
//! against it (the README's examples), SIGTERM stops it cleanly, and a bad scenario file fails with its
//! file, line and field.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

struct Sandbox {
    child: Child,
    ready: Value,
    _dir: tempfile::TempDir,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_sandbox() -> Sandbox {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_probe"))
        .args(["sandbox", "--listen", "127.0.0.1:0", "--maildir"])
        .arg(dir.path().join("Maildir"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(10)).expect("probe sandbox printed no ready line within 10 s");
    let ready: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("ready line is not JSON ({e}): {line:?}"));
    Sandbox { child, ready, _dir: dir }
}

/// Runs the AWS CLI against the sandbox with test credentials; returns its JSON output.
fn aws(endpoint: &str, args: &[&str]) -> Result<Value, String> {
    let out = Command::new("aws")
        .args(args)
        .args(["--endpoint-url", endpoint, "--region", "us-east-1", "--output", "json"])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .unwrap_or_else(|e| panic!("cannot run the AWS CLI ({e}); hint: install it with `pip install awscli`"));
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).to_string());
    }
    if out.stdout.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("aws output is not JSON: {e}"))
}

#[test]
fn ready_line_and_the_aws_cli_against_probe_sandbox() {
    let mut sandbox = start_sandbox();
    let ready = &sandbox.ready;
    let endpoint = ready["endpoint_url"].as_str().unwrap().to_string();
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");
    assert!(ready["maildir"].as_str().unwrap().ends_with("Maildir"));
    let prod = &ready["pools"][0];
    assert_eq!(prod["id"], "us-east-1_knEL7cqS3");
    assert_eq!(prod["arn"], "arn:aws:cognito-idp:us-east-1:657033058608:userpool/us-east-1_knEL7cqS3");
    assert!(
        prod["clients"].as_array().unwrap().iter().all(|c| c.get("secret").is_none()),
        "no secrets in the ready line"
    );
    assert!(!ready.to_string().contains("vdgaj8gxbenyjqwx"), "the client secret never appears in output");
    let fcp = prod["users"].as_array().unwrap().iter().find(|u| u["status"] == "FORCE_CHANGE_PASSWORD").unwrap();
    assert_eq!(fcp["email"], "probe+prod-fcp@mail.test");
    assert_eq!(ready["ses_identities"][0]["identity"], "noreply@thephenom.app");

    let user = aws(
        &endpoint,
        &[
            "cognito-idp",
            "admin-get-user",
            "--user-pool-id",
            "us-east-1_knEL7cqS3",
            "--username",
            "probe-prod-confirmed",
        ],
    )
    .unwrap();
    assert_eq!(user["UserStatus"], "CONFIRMED");

    let identity =
        aws(&endpoint, &["sesv2", "get-email-identity", "--email-identity", "noreply@thephenom.app"]).unwrap();
    assert_eq!(identity["DkimAttributes"]["Status"], "SUCCESS");
    assert!(identity["Policies"]["AllowCognitoUserPoolsToSend"].is_string());

    let err = aws(
        &endpoint,
        &[
            "cognito-idp",
            "forgot-password",
            "--client-id",
            "ujzde8gxd6ncf10epf91dhodzd",
            "--username",
            "probe-prod-fcp",
        ],
    )
    .unwrap_err();
    assert!(
        err.contains("NotAuthorizedException") && err.contains("User password cannot be reset in the current state."),
        "{err}"
    );

    aws(
        &endpoint,
        &[
            "cognito-idp",
            "admin-create-user",
            "--user-pool-id",
            "us-east-1_knEL7cqS3",
            "--username",
            "probe-prod-fcp",
            "--message-action",
            "RESEND",
            "--desired-delivery-mediums",
            "EMAIL",
        ],
    )
    .unwrap();
    let now = chrono::Utc::now();
    let start = (now - chrono::Duration::minutes(10)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let end = (now + chrono::Duration::minutes(5)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let query = concat!(
        r#"[{"Id":"send","MetricStat":{"Metric":{"Namespace":"AWS/SES","MetricName":"Send"},"#,
        r#""Period":60,"Stat":"Sum"}}]"#
    );
    let data = aws(
        &endpoint,
        &["cloudwatch", "get-metric-data", "--metric-data-queries", query, "--start-time", &start, "--end-time", &end],
    )
    .unwrap();
    assert_eq!(data["MetricDataResults"][0]["Values"], serde_json::json!([1.0]), "{data}");
    let stats = aws(
        &endpoint,
        &[
            "cloudwatch",
            "get-metric-statistics",
            "--namespace",
            "AWS/SES",
            "--metric-name",
            "Send",
            "--start-time",
            &start,
            "--end-time",
            &end,
            "--period",
            "60",
            "--statistics",
            "Sum",
        ],
    )
    .unwrap();
    assert_eq!(stats["Datapoints"][0]["Sum"], 1.0, "{stats}");
    let inbox = std::path::Path::new(ready["maildir"].as_str().unwrap()).join("new");
    assert_eq!(std::fs::read_dir(inbox).unwrap().count(), 1, "the RESEND wrote one message");

    // SIGTERM stops the server cleanly.
    let pid = sandbox.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = sandbox.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "probe sandbox did not stop within 5 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
}

#[test]
fn bad_scenario_file_stops_the_sandbox_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let scenario =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/twin/scenarios/bad/unknown-field.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_probe"))
        .args(["sandbox", "--listen", "127.0.0.1:0", "--maildir"])
        .arg(dir.path())
        .arg("--scenario")
        .arg(&scenario)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty(), "no ready line");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("{}:25:1: field `pools.users.verified`", scenario.display())), "{stderr}");
}
