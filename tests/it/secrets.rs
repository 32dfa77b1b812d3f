//! Canary secrets never leave the probe: the IMAP password, the app client's secret and the temporary
//! password inside the mail are absent from stdout and stderr (logs at trace level) in every output
//! format, on success and on failure — checked on the real binary against the twin and Dovecot.

use std::process::Command;

use testkit::dovecot::Dovecot;

const BACKEND_CLIENT: &str = "oc9is0j8ht9lgmxg9edn581u33";
const BACKEND_SECRET: &str = "vdgaj8gxbenyjqwx4hh5344tfjgvq4k7bn7xj8b7tfq7xkwo886";

fn probe_file(dir: &std::path::Path, dovecot: &Dovecot, endpoint: &str, user: &str) -> std::path::PathBuf {
    let path = dir.join(format!("{user}.toml"));
    std::fs::write(
        &path,
        format!(
            r#"pool_id = "us-east-1_knEL7cqS3"
username = "{user}"
client_id = "{BACKEND_CLIENT}"
client_secret = {{ env = "CANARY_CLIENT_SECRET" }}
timeout = "3s"
[aws]
endpoint_url = "{endpoint}"
[imap]
host = "{host}"
port = {port}
ca_file = {ca}
username = "{login}"
password = {{ env = "CANARY_IMAP_PASSWORD" }}
poll_interval = "250ms"
trusted_authserv_ids = ["mx.google.com"]
[cloudwatch]
poll_interval = "200ms"
settle = "1s"
"#,
            host = dovecot.host,
            port = dovecot.port,
            ca = toml::Value::String(dovecot.ca_pem_path.display().to_string()),
            login = dovecot.username,
        ),
    )
    .unwrap();
    path
}

/// Runs the binary; returns stdout + stderr.
fn run(config: &std::path::Path, format: &str, imap_password: &str, client_secret: &str) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_probe"))
        .args(["--config", config.to_str().unwrap(), "--format", format, "--no-cleanup"])
        // Every crate at trace (RUST_LOG's bare level is global), the SDK's request and response logs
        // included: none may show a secret.
        .env("RUST_LOG", "trace")
        .env("CANARY_IMAP_PASSWORD", imap_password)
        .env("CANARY_CLIENT_SECRET", client_secret)
        .env("AWS_ACCESS_KEY_ID", "AKIDTESTTESTTESTTEST")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap();
    let all = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code(), all)
}

/// The temporary password inside the newest delivered message ("… temporary password is XXXXXXXXXXXX.").
fn temporary_password_in_mailbox(maildir: &std::path::Path) -> Option<String> {
    let mut newest: Option<(std::time::SystemTime, std::path::PathBuf)> = None;
    for sub in ["new", "cur"] {
        for e in std::fs::read_dir(maildir.join(sub)).into_iter().flatten().flatten() {
            let t = e.metadata().and_then(|m| m.modified()).ok()?;
            if newest.as_ref().is_none_or(|(n, _)| t > *n) {
                newest = Some((t, e.path()));
            }
        }
    }
    let raw = std::fs::read(newest?.1).ok()?;
    let msg = mail_parser::MessageParser::new().parse(&raw)?;
    let body = msg.body_text(0)?.to_string();
    let start = body.find("temporary password is ")? + "temporary password is ".len();
    Some(body[start..].chars().take(12).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canaries_never_appear_in_any_output_or_log() {
    let rig = testkit::Rig::builder().dovecot(true).build().await;
    let dovecot = rig.dovecot();
    let fcp = probe_file(rig.dir(), dovecot, &rig.endpoint_url(), "probe-prod-fcp");
    let confirmed = probe_file(rig.dir(), dovecot, &rig.endpoint_url(), "probe-prod-confirmed");

    let mut outputs = Vec::new();
    let mut passwords = Vec::new();
    for format in ["text", "json", "nagios"] {
        let (code, all) = tokio::task::spawn_blocking({
            let fcp = fcp.clone();
            let pw = dovecot.password.clone();
            move || run(&fcp, format, &pw, BACKEND_SECRET)
        })
        .await
        .unwrap();
        assert_eq!(code, Some(0), "{format}:\n{all}");
        passwords.push(temporary_password_in_mailbox(&dovecot.maildir).expect("the mail carries a temporary password"));
        outputs.push((format!("fcp {format}"), all));
    }
    // ForgotPassword with the secret (SecretHash), then failures that put error texts in the output.
    // (case, probe file, IMAP password, client secret, exit code: 0 delivered, 3 UNKNOWN — trigger rejected,
    // mailbox login refused)
    let cases: [(&str, &std::path::Path, &str, &str, i32); 3] = [
        ("forgot-password", &confirmed, dovecot.password.as_str(), BACKEND_SECRET, 0),
        ("wrong client secret", &confirmed, dovecot.password.as_str(), "canary-wrong-client-secret-x9", 3),
        ("wrong imap password", &fcp, "canary-wrong-imap-password-q7", BACKEND_SECRET, 3),
    ];
    for (name, config, pw, secret, expected) in cases {
        let (config, pw, secret) = (config.to_path_buf(), pw.to_string(), secret.to_string());
        let (code, all) = tokio::task::spawn_blocking(move || run(&config, "json", &pw, &secret)).await.unwrap();
        assert_eq!(code, Some(expected), "{name}:\n{all}");
        outputs.push((name.to_string(), all));
    }
    let mut canaries = vec![
        dovecot.password.clone(),
        BACKEND_SECRET.to_string(),
        "canary-wrong-client-secret-x9".to_string(),
        "canary-wrong-imap-password-q7".to_string(),
    ];
    canaries.extend(passwords);
    for (name, all) in &outputs {
        assert!(all.len() > 100, "{name}: the run printed something to check:\n{all}");
        assert!(all.contains("TRACE") || all.contains("trace") || name != "fcp text", "{name}: trace logs were on");
        // What the probe did is in the log: its run and phases, each IMAP step and AWS call, by name only.
        for step in
            ["run{probe=", "phase{phase=\"inbox\"}", "IMAP logged in", "IMAP UID FETCH ok", "AWS AdminGetUser ok"]
        {
            assert!(all.contains(step) || !name.starts_with("fcp"), "{name}: the log lacks {step:?}:\n{all}");
        }
        for canary in &canaries {
            assert!(!all.contains(canary.as_str()), "{name}: output contains the secret {canary:?}:\n{all}");
        }
    }
    rig.shutdown().await;
}
