//! Canary secrets never leave the probe: the IMAP password, the app client's secret, the AWS credentials
//! and the temporary password inside the mail are absent from stdout and stderr (logs at trace level) in
//! every output format, on success and on failure — and from the environment of every program the probe
//! starts (exec channels, secret commands). A secret command that hangs is killed and the run is UNKNOWN.
//! All checked on the real binary against the twin and Dovecot.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

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

/// AWS credentials the twin accepts, distinctive enough to be searched for.
const AWS_SECRET_ACCESS_KEY: &str = "aws-secret-canary-Zq81kT";
const AWS_SESSION_TOKEN: &str = "aws-session-canary-Xv27pL";

/// The binary with the canaries in its environment: the IMAP password and the client secret in the
/// variables the probe files name, test AWS credentials with a session token.
fn probe_command(config: &Path, args: &[&str], imap_password: &str, client_secret: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_probe"));
    command
        .args(["--config", config.to_str().unwrap()])
        .args(args)
        // Every crate at trace (RUST_LOG's bare level is global), the SDK's request and response logs
        // included: none may show a secret.
        .env("RUST_LOG", "trace")
        .env("CANARY_IMAP_PASSWORD", imap_password)
        .env("CANARY_CLIENT_SECRET", client_secret)
        .env("AWS_ACCESS_KEY_ID", "AKIDTESTTESTTESTTEST")
        .env("AWS_SECRET_ACCESS_KEY", AWS_SECRET_ACCESS_KEY)
        .env("AWS_SESSION_TOKEN", AWS_SESSION_TOKEN)
        .env("AWS_REGION", "us-east-1");
    command
}

/// Runs the binary; returns stdout + stderr.
fn run(config: &Path, format: &str, imap_password: &str, client_secret: &str) -> (Option<i32>, String) {
    run_with(config, format, imap_password, client_secret, &[])
}

/// [`run`] with more variables in the probe's environment.
fn run_with(
    config: &Path,
    format: &str,
    imap_password: &str,
    client_secret: &str,
    env: &[(&str, &str)],
) -> (Option<i32>, String) {
    let out = probe_command(config, &["--format", format, "--no-cleanup"], imap_password, client_secret)
        .envs(env.iter().copied())
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
    // The IMAP password as a systemd credential ($CREDENTIALS_DIRECTORY/imap-password), as under
    // LoadCredential=; the variable the other files read is unset for this run.
    let credentials = rig.dir().join("credentials");
    std::fs::create_dir_all(&credentials).unwrap();
    std::fs::write(credentials.join("imap-password"), format!("{}\n", dovecot.password)).unwrap();
    let from_credential = rig.dir().join("probe-prod-credential.toml");
    let text = std::fs::read_to_string(&fcp).unwrap();
    std::fs::write(
        &from_credential,
        text.replace(r#"{ env = "CANARY_IMAP_PASSWORD" }"#, r#"{ credential = "imap-password" }"#),
    )
    .unwrap();
    // ForgotPassword with the secret (SecretHash), then failures that put error texts in the output.
    // (case, probe file, IMAP password, client secret, CREDENTIALS_DIRECTORY, exit code: 0 delivered,
    // 3 UNKNOWN — trigger rejected, mailbox login refused)
    let cases = [
        ("forgot-password", &confirmed, dovecot.password.as_str(), BACKEND_SECRET, None, 0),
        ("wrong client secret", &confirmed, dovecot.password.as_str(), "canary-wrong-client-secret-x9", None, 3),
        ("wrong imap password", &fcp, "canary-wrong-imap-password-q7", BACKEND_SECRET, None, 3),
        ("imap password from a credential", &from_credential, "", BACKEND_SECRET, Some(&credentials), 0),
    ];
    for (name, config, pw, secret, credentials, expected) in cases {
        let (config, pw, secret) = (config.to_path_buf(), pw.to_string(), secret.to_string());
        let credentials = credentials.map(|c| c.to_str().unwrap().to_string());
        let (code, all) = tokio::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> = credentials.iter().map(|c| ("CREDENTIALS_DIRECTORY", c.as_str())).collect();
            run_with(&config, "json", &pw, &secret, &env)
        })
        .await
        .unwrap();
        assert_eq!(code, Some(expected), "{name}:\n{all}");
        outputs.push((name.to_string(), all));
    }
    let mut canaries = vec![
        dovecot.password.clone(),
        BACKEND_SECRET.to_string(),
        "canary-wrong-client-secret-x9".to_string(),
        "canary-wrong-imap-password-q7".to_string(),
        AWS_SECRET_ACCESS_KEY.to_string(),
        AWS_SESSION_TOKEN.to_string(),
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

/// `env -0`'s output as a map.
fn read_env_dump(path: &Path) -> BTreeMap<String, String> {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    String::from_utf8_lossy(&raw)
        .split('\0')
        .filter(|entry| !entry.is_empty())
        .map(|entry| entry.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())).unwrap_or_default())
        .collect()
}

/// What a program started by the probe may see: the minimal environment, the variables `/bin/sh` adds
/// itself, the names its probe-file entry passes, and (exec channels) the alert's `PROBE_*` variables.
fn assert_minimal(who: &str, env: &BTreeMap<String, String>, passed: &str, canaries: &[&str]) {
    let shell_own = ["PWD", "OLDPWD", "SHLVL", "_"];
    for name in env.keys() {
        let allowed = ["PATH", "HOME", "LANG", "TZ", passed].contains(&name.as_str())
            || shell_own.contains(&name.as_str())
            || (who == "exec channel" && name.starts_with("PROBE_"));
        assert!(allowed, "{who} got {name} from the probe's environment: {env:?}");
    }
    assert_eq!(env.get("PATH").map(String::as_str), std::env::var("PATH").ok().as_deref(), "{who}: the probe's PATH");
    assert!(env.contains_key(passed), "{who}: the variable its pass_env names is missing: {env:?}");
    let dump = format!("{env:?}");
    for canary in canaries {
        assert!(!dump.contains(canary), "{who} saw the secret {canary:?}: {env:?}");
    }
}

/// An exec channel and a command secret each dump their environment: neither sees the AWS credentials,
/// the client secret or the IMAP password the probe holds in its environment, nor the other's passed
/// variable; each sees PATH and the variable its own `pass_env` names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn programs_the_probe_starts_see_only_the_minimal_environment() {
    let rig = testkit::Rig::builder().dovecot(true).build().await;
    let dovecot = rig.dovecot();
    let recorder = testkit::recorder::Recorder::start(200, &[]).await;
    let config = probe_file(rig.dir(), dovecot, &rig.endpoint_url(), "probe-prod-confirmed");
    let (exec_dump, secret_dump) = (rig.dir().join("exec.env"), rig.dir().join("secret.env"));
    let alert = format!(
        r#"
[alert]
unknown_threshold = 1

[[alert.channels]]
type = "exec"
command = ["/bin/sh", "-c", 'env -0 > "$0"', {exec_dump}]
pass_env = ["SLACK_CHANNEL"]

[[alert.channels]]
type = "webhook"
url = "{url}"
secret = {{ command = ["/bin/sh", "-c", 'env -0 > "$0"; echo {webhook_secret}', {secret_dump}], {pass_env} }}
"#,
        exec_dump = testkit::rig::toml_path(&exec_dump),
        secret_dump = testkit::rig::toml_path(&secret_dump),
        webhook_secret = "whsec-canary-3391",
        pass_env = r#"pass_env = ["VAULT_ADDR"]"#,
        url = recorder.url("/hooks/T0/B0/path-token-canary"),
    );
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&alert);
    std::fs::write(&config, text).unwrap();
    let state = rig.dir().join("state.sqlite");
    let imap_password = dovecot.password.clone();
    // A wrong client secret: the trigger is refused, the run is UNKNOWN, and `--state` with
    // unknown_threshold = 1 sends probe_blind through both channels.
    let out = tokio::task::spawn_blocking(move || {
        probe_command(
            &config,
            &["--format", "json", "--state", state.to_str().unwrap()],
            &imap_password,
            "canary-cs-77",
        )
        .env("SLACK_CHANNEL", "#identity-oncall")
        .env("VAULT_ADDR", "https://vault.example.net:8200")
        .output()
        .unwrap()
    })
    .await
    .unwrap();
    let all = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(3), "{all}");
    let canaries = [
        AWS_SECRET_ACCESS_KEY,
        AWS_SESSION_TOKEN,
        "AKIDTESTTESTTESTTEST",
        "canary-cs-77",
        dovecot.password.as_str(),
        "CANARY_IMAP_PASSWORD",
        "CANARY_CLIENT_SECRET",
    ];
    let exec = read_env_dump(&exec_dump);
    assert_minimal("exec channel", &exec, "SLACK_CHANNEL", &canaries);
    assert_eq!(exec["SLACK_CHANNEL"], "#identity-oncall");
    assert_eq!(exec["PROBE_ALERT_KIND"], "probe_blind", "{exec:?}");
    assert!(!exec.contains_key("VAULT_ADDR"), "another entry's pass_env leaked: {exec:?}");
    let secret = read_env_dump(&secret_dump);
    assert_minimal("secret command", &secret, "VAULT_ADDR", &canaries);
    assert_eq!(secret["VAULT_ADDR"], "https://vault.example.net:8200");
    assert!(!secret.contains_key("SLACK_CHANNEL"), "another entry's pass_env leaked: {secret:?}");
    // The webhook got the alert signed with the command's output, which no log shows.
    let posts = recorder.take();
    assert_eq!(posts.len(), 1, "{all}");
    assert_eq!(posts[0].json()["kind"], "probe_blind");
    let secrets = [AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, "canary-cs-77", &dovecot.password, "whsec-canary-3391"];
    for canary in secrets.iter().chain(&["path-token-canary"]) {
        assert!(!all.contains(canary), "the output shows {canary:?}:\n{all}");
    }
    rig.shutdown().await;
}

/// Polls `/proc` until `pid` is gone (or a zombie, waiting for init to reap it).
async fn gone(pid: &str) -> bool {
    for _ in 0..100 {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return true,
            Ok(stat) if stat.split_whitespace().nth(2) == Some("Z") => return true,
            Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    false
}

/// A token helper that hangs (`sleep 1000`, started by a shell that waits for it): the probe kills it
/// and everything it started, the run ends UNKNOWN within the probe's timeout saying which secret command
/// timed out after how long, and `--state` pages probe_blind — the probe is blind, not hung.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_secret_command_is_killed_and_the_run_is_unknown() {
    let rig = testkit::Rig::builder().dovecot(true).build().await;
    let dovecot = rig.dovecot();
    let config = probe_file(rig.dir(), dovecot, &rig.endpoint_url(), "probe-prod-fcp");
    let (pid_file, paged) = (rig.dir().join("sleep.pid"), rig.dir().join("paged"));
    let helper = format!(
        r#"{{ command = ["/bin/sh", "-c", 'sleep 1000 & echo $! > "$0"; wait', {}] }}"#,
        testkit::rig::toml_path(&pid_file)
    );
    let text = std::fs::read_to_string(&config).unwrap().replace(r#"{ env = "CANARY_IMAP_PASSWORD" }"#, &helper);
    let text = text.replace("timeout = \"3s\"", "timeout = \"30s\"");
    let alert = format!(
        "[alert]\nunknown_threshold = 1\n[[alert.channels]]\ntype = \"exec\"\n\
         command = [\"/bin/sh\", \"-c\", 'printf %s \"$PROBE_ALERT_KIND\" > \"$0\"', {}]\n",
        testkit::rig::toml_path(&paged)
    );
    std::fs::write(&config, format!("{text}{alert}")).unwrap();
    let timeout = Duration::from_secs(30);
    let margin = Duration::from_secs(30);

    let state = rig.dir().join("state.sqlite");
    // Into files, not pipes: nobody reads a pipe while the run goes on, and a full one would stall it.
    let (stdout_path, stderr_path) = (rig.dir().join("stdout"), rig.dir().join("stderr"));
    let mut child = probe_command(&config, &["--format", "json", "--state", state.to_str().unwrap()], "", "x")
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > timeout + margin {
            child.kill().unwrap();
            let _ = child.wait();
            panic!("the run still hangs {:?} after it started", started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let elapsed = started.elapsed();
    let stdout = std::fs::read_to_string(&stdout_path).unwrap();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    assert_eq!(status.code(), Some(3), "{stdout}\n{stderr}");
    assert!(elapsed < timeout, "the run took {elapsed:?}, longer than its timeout");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!((report["outcome"].as_str(), report["phase"].as_str()), (Some("unknown"), Some("inbox")), "{report}");
    assert_eq!(report["diagnosis"]["code"], "mailbox_unavailable", "{report}");
    let summary = report["diagnosis"]["summary"].as_str().unwrap();
    assert!(
        summary.contains(r#"secret command "/bin/sh" did not print its secret within 10s and was killed"#),
        "{summary}"
    );
    let pid = std::fs::read_to_string(&pid_file).unwrap().trim().to_string();
    assert!(gone(&pid).await, "the helper's sleep (pid {pid}) outlived the run");
    assert_eq!(std::fs::read_to_string(&paged).unwrap(), "probe_blind", "the blind probe was paged");
    rig.shutdown().await;
}
