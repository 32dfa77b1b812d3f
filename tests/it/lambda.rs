//! The host-less path (issue 15): tick claims in DynamoDB and secrets from Secrets Manager, both on moto
//! (an independent implementation of the AWS APIs) beside the AWS twin; `probe validate --lambda-timeout`;
//! and the `probe-lambda` function in cargo-lambda's own emulator (`cargo lambda watch` / `invoke`).
//!
//! The one-shot binary and the function are started as processes, as cron, a Fargate task or Lambda
//! start them. The tick table and the secrets are the runner's, reached with the host's AWS settings —
//! here the SDK's service-specific endpoint variables (`AWS_ENDPOINT_URL_DYNAMODB`,
//! `AWS_ENDPOINT_URL_SECRETS_MANAGER`) pointing at moto; the pool's reads and the trigger go through the
//! probe file's `[aws] endpoint_url` (the twin).

use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Output};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use testkit::moto::Moto;

/// The twin's production pool and its FORCE_CHANGE_PASSWORD test user (RESEND: no hourly limit).
const PROD: &str = "us-east-1_knEL7cqS3";
const USER: &str = "probe-prod-fcp";

/// A probe file reading the twin's Maildir directly.
fn maildir_probe(rig: &testkit::Rig, pool: &str, user: &str) -> String {
    format!(
        "pool_id = \"{pool}\"\nusername = \"{user}\"\ntimeout = \"3s\"\ninterval = \"5m\"\n\n{}\n{}\n\
         [cloudwatch]\npoll_interval = \"200ms\"\nsettle = \"1s\"\n",
        rig.aws_section(),
        rig.maildir_section(),
    )
}

/// The one-shot binary with test credentials and moto as DynamoDB and Secrets Manager.
fn probe_cmd(moto: &Moto) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_probe"));
    cmd.env("AWS_ACCESS_KEY_ID", testkit::aws::ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", testkit::aws::SECRET_ACCESS_KEY)
        .env("AWS_REGION", testkit::aws::REGION)
        .env("AWS_ENDPOINT_URL_DYNAMODB", moto.endpoint_url())
        .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto.endpoint_url())
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_LAMBDA_FUNCTION_NAME")
        .env_remove("ECS_CONTAINER_METADATA_URI_V4");
    cmd
}

fn shown(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

async fn create_tick_table(moto: &Moto, name: &str) -> aws_sdk_dynamodb::Client {
    let dynamodb = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    dynamodb
        .create_table()
        .table_name(name)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("pk").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build().unwrap())
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create the tick table on moto");
    dynamodb
}

/// The issue: "the same tick twice → one mail and one run; a new tick → a second mail; table missing →
/// mail sent and the note present".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_sends_one_mail_however_often_it_is_delivered() {
    let moto = Moto::start();
    let rig = testkit::Rig::builder().build().await;
    let dynamodb = create_tick_table(&moto, "probe-ticks").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("production.toml");
    std::fs::write(&file, maildir_probe(&rig, PROD, USER)).unwrap();
    let run_as = |format: &str, table: &str, tick: &str| {
        let out = probe_cmd(&moto)
            .arg("--config")
            .arg(&file)
            .args(["--format", format, "--tick-table", table, "--tick", tick])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.code(), stdout, shown(&out))
    };
    let run = |table: &str, tick: &str| run_as("json", table, tick);
    let sent = || rig.control().sent().len();

    let (code, first, all) = run_as("emf", "probe-ticks", "2026-12-02T03:10:00Z");
    assert_eq!(code, Some(0), "{all}");
    assert_eq!(sent(), 1, "{all}");
    assert_eq!(first.lines().count(), 1, "one EMF line: {all}");
    let emf = crate::emf::assert_valid_emf(first.trim_end());
    assert_eq!((emf["Probe"].as_str(), emf["Success"].as_f64()), (Some("production"), Some(1.0)), "{all}");

    // The scheduler's redelivery of the same tick, written with another offset: no mail, no EMF line, exit 0.
    let (code, again, all) = run_as("emf", "probe-ticks", "2026-12-02T04:10:00+01:00");
    assert_eq!(code, Some(0), "{all}");
    assert_eq!(sent(), 1, "a duplicate tick sends nothing: {all}");
    assert_eq!(again, "", "a duplicate is no datapoint: {all}");
    let (code, again, all) = run("probe-ticks", "2026-12-02T03:10:00Z");
    assert_eq!((code, sent()), (Some(0), 1), "{all}");
    let duplicate: serde_json::Value = serde_json::from_str(&again).unwrap_or_else(|e| panic!("{e}: {all}"));
    assert_eq!(duplicate["duplicate"], true, "{all}");
    assert!(duplicate.get("outcome").is_none(), "no run, no verdict: {all}");

    let item = dynamodb
        .get_item()
        .table_name("probe-ticks")
        .key("pk", AttributeValue::S("production#2026-12-02T03:10:00Z".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap_or_else(|| panic!("the claim is in the table under probe#tick"));
    assert_eq!(item["tick"].as_s().unwrap(), "2026-12-02T03:10:00Z");
    assert_eq!(item["probe"].as_s().unwrap(), "production");
    let expires: i64 = item["expires_at"].as_n().unwrap().parse().unwrap();
    assert_eq!(expires, 1_796_181_000 + 86_400, "TTL one day after the tick");

    let (code, _, all) = run("probe-ticks", "2026-12-02T03:15:00Z");
    assert_eq!(code, Some(0), "{all}");
    assert_eq!(sent(), 2, "the next tick sends again: {all}");

    // No such table: the run goes ahead (a second mail beats a silent probe) and says why.
    let (code, report, all) = run("no-such-table", "2026-12-02T03:20:00Z");
    assert_eq!(code, Some(0), "{all}");
    assert_eq!(sent(), 3, "{all}");
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    let notes = report["notes"].to_string();
    assert!(
        notes.contains("tick 2026-12-02T03:20:00Z could not be claimed in DynamoDB table \\\"no-such-table\\\"")
            && notes.contains("ResourceNotFoundException"),
        "{notes}"
    );
    rig.shutdown().await;
}

/// Without `--tick`, runs started within one interval share the tick: a cron job started twice in the
/// same five minutes sends once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_without_a_tick_share_the_interval_they_start_in() {
    let moto = Moto::start();
    let rig = testkit::Rig::builder().build().await;
    create_tick_table(&moto, "probe-ticks").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("production.toml");
    // An hour: both runs fall in the same interval unless the test straddles the hour's turn.
    std::fs::write(&file, maildir_probe(&rig, PROD, USER).replace("interval = \"5m\"", "interval = \"1h\"")).unwrap();
    let run = || {
        let out = probe_cmd(&moto).arg("--config").arg(&file).args(["--tick-table", "probe-ticks"]).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), shown(&out))
    };
    let hour = || chrono::Utc::now().format("%Y-%m-%dT%H").to_string();
    let started_in = hour();
    let (first, _, all) = run();
    assert_eq!(first, Some(0), "{all}");
    let (second, stdout, all) = run();
    assert_eq!(second, Some(0), "{all}");
    // Both runs in one hour share the tick; across the hour's turn they rightly do not.
    if hour() == started_in {
        assert!(stdout.starts_with("DUPLICATE production: tick ") && stdout.contains("nothing sent"), "{all}");
        assert_eq!(rig.control().sent().len(), 1, "{all}");
    }
    rig.shutdown().await;
}

/// The issue: "an IMAP password from Secrets Manager logs in to Dovecot". A missing secret is UNKNOWN and
/// names the secret and AWS's error, never a value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imap_password_from_secrets_manager_logs_in() {
    let moto = Moto::start();
    let rig = testkit::Rig::builder().dovecot(true).build().await;
    let password = std::fs::read_to_string(&rig.dovecot().password_file).unwrap().trim_end().to_string();
    let secrets = aws_sdk_secretsmanager::Client::new(&moto.sdk_config().await);
    let created = secrets
        .create_secret()
        .name("probe/imap")
        .secret_string(serde_json::json!({"username": "probe", "password": password}).to_string())
        .send()
        .await
        .expect("create the secret on moto");
    let arn = created.arn.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let probe = |source: &str| {
        let imap = rig.imap_section();
        let line = imap.lines().find(|l| l.starts_with("password = ")).unwrap().to_string();
        let file = dir.path().join("imap.toml");
        let text = format!(
            "pool_id = \"{PROD}\"\nusername = \"{USER}\"\ntimeout = \"5s\"\n\n{}\n{}\n[expect]\nfrom = \
             \"noreply@thephenom.app\"\n[cloudwatch]\npoll_interval = \"200ms\"\nsettle = \"1s\"\n",
            rig.aws_section(),
            imap.replace(&line, &format!("password = {source}")),
        );
        std::fs::write(&file, text).unwrap();
        let out = probe_cmd(&moto).arg("--config").arg(&file).args(["--format", "json"]).output().unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        (out.status.code(), report["diagnosis"]["code"].as_str().unwrap_or_default().to_string(), shown(&out))
    };

    let cases = [
        ("by name with json_key", r#"{ secrets_manager = "probe/imap", json_key = "password" }"#.to_string()),
        ("by ARN", format!(r#"{{ secrets_manager = "{arn}", json_key = "password" }}"#)),
    ];
    for (case, source) in &cases {
        let (code, diagnosis, all) = probe(source);
        assert_eq!((code, diagnosis.as_str()), (Some(0), "delivered"), "{case}: {all}");
        assert!(!all.contains(&password), "{case}: the password shows: {all}");
    }
    let failures = [
        (
            "missing secret",
            r#"{ secrets_manager = "probe/absent" }"#,
            &["probe/absent", "ResourceNotFoundException"][..],
        ),
        (
            "missing key",
            r#"{ secrets_manager = "probe/imap", json_key = "pw" }"#,
            &["json_key \\\"pw\\\"", "no such key"],
        ),
        // The whole JSON as the password: Dovecot refuses the login, and the value never shows.
        ("no json_key", r#"{ secrets_manager = "probe/imap" }"#, &["imap"]),
    ];
    for (case, source, expected) in failures {
        let (code, _, all) = probe(source);
        assert_eq!(code, Some(3), "{case}: UNKNOWN, the probe's own trouble: {all}");
        for e in expected {
            assert!(all.contains(e), "{case}: {e:?} missing: {all}");
        }
        assert!(!all.contains(&password), "{case}: the password shows: {all}");
    }
    assert!(rig.control().sent().len() == 2, "no mail without a mailbox: {}", rig.control().sent().len());
    rig.shutdown().await;
}

/// `probe validate --lambda-timeout` refuses a probe whose longest run does not fit, with the numbers.
#[test]
fn validate_refuses_a_probe_that_cannot_finish_within_the_lambda_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("slow.toml");
    std::fs::write(
        &file,
        "pool_id = \"us-east-1_abc\"\nusername = \"u\"\ntimeout = \"4m\"\n[maildir]\npath = \"/tmp/x\"\n",
    )
    .unwrap();
    let validate = |limit: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_probe"))
            .arg("validate")
            .arg(dir.path())
            .args(["--skip-secrets", "--lambda-timeout", limit])
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (code, out) = validate("300s");
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.starts_with("BAD ")
            && out.contains(
                "slow.toml:3: timeout: a run can take 5m 30s (timeout 4m + cloudwatch.settle 1m + 30s \
                             margin), more than the Lambda timeout 5m"
            ),
        "{out}"
    );
    let (code, out) = validate("330s");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("ok  slow "), "{out}");
}

/// cargo-lambda's emulator, serving the runtime API on a free port and running `probe-lambda`, which it
/// builds itself (`--features lambda`) in the test binary's own target directory. Killed on drop.
struct Emulator {
    child: std::process::Child,
    port: u16,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

/// How long the emulator may take to build the function and answer the first invocation (a build of the
/// crate with the `lambda` feature on a busy machine).
const FIRST_INVOKE: std::time::Duration = std::time::Duration::from_secs(1200);

impl Emulator {
    fn start(env: &[(&str, String)]) -> Emulator {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("watch.log");
        let out = std::fs::File::create(&log).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        // <target>/debug/probe: the function is built beside the binaries under test.
        let target = Path::new(env!("CARGO_BIN_EXE_probe")).parent().and_then(Path::parent).unwrap().to_path_buf();
        let mut cmd = Command::new("cargo");
        cmd.args(["lambda", "watch", "--features", "lambda", "--ignore-changes", "--quiet"])
            .args(["--invoke-address", "127.0.0.1", "--invoke-port", &port.to_string()])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("CARGO_TARGET_DIR", target)
            .stdin(std::process::Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .process_group(0);
        for (name, value) in env {
            cmd.args(["--env-var", &format!("{name}={value}")]);
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cargo lambda watch: {e}; {CARGO_LAMBDA_HINT}"));
        Emulator { child, port, log, _dir: dir }
    }

    /// `cargo lambda invoke probe-lambda --data-ascii <payload>`: the function's response.
    fn invoke(&self, payload: &serde_json::Value) -> serde_json::Value {
        let started = std::time::Instant::now();
        loop {
            let out = Command::new("cargo")
                .args(["lambda", "invoke", "probe-lambda", "--output-format", "json"])
                .args(["--invoke-address", "127.0.0.1", "--invoke-port", &self.port.to_string()])
                .args(["--data-ascii", &payload.to_string()])
                .output()
                .unwrap_or_else(|e| panic!("cargo lambda invoke: {e}; {CARGO_LAMBDA_HINT}"));
            if out.status.success() {
                return serde_json::from_slice(&out.stdout)
                    .unwrap_or_else(|e| panic!("response not JSON ({e}): {}\n{}", shown(&out), self.log()));
            }
            // Refused until the emulator listens; an invocation it could not hand over (still building)
            // fails too. Either way: again, until the first build's limit.
            assert!(started.elapsed() < FIRST_INVOKE, "no answer to {payload}: {}\n{}", shown(&out), self.log());
            std::thread::sleep(std::time::Duration::from_secs(2));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The EMF lines the function printed so far (its stdout, relayed by the emulator).
    fn emf_lines(&self) -> Vec<String> {
        self.log().lines().filter(|l| l.starts_with("{\"") && l.contains("\"_aws\"")).map(String::from).collect()
    }

    /// The function process's peak resident memory (`VmHWM`, proc(5)), found among the emulator's
    /// descendants: what Lambda's REPORT line calls "Max Memory Used", which the emulator does not print.
    fn function_peak_memory(&self) -> Option<String> {
        let parent = |pid: u32| -> Option<u32> {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            stat.rsplit_once(") ")?.1.split_whitespace().nth(1)?.parse().ok()
        };
        std::fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let exe = std::fs::read_link(entry.path().join("exe")).ok()?;
            if exe.file_name()? != "probe-lambda" {
                return None;
            }
            let mut up = pid;
            while up != self.child.id() {
                up = parent(up).filter(|p| *p > 1)?;
            }
            let status = std::fs::read_to_string(entry.path().join("status")).ok()?;
            status.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l.split_whitespace().skip(1).collect())
        })
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // The emulator and the function it started share its process group.
        unsafe { libc::kill(-(self.child.id() as i32), libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

const CARGO_LAMBDA_HINT: &str =
    "install cargo-lambda: `python3 -m pip install cargo-lambda==1.9.2` (`bash tests/run-all.sh` does it)";

/// The issue: the function run by cargo-lambda's emulator against the twin, for OK, WARNING, CRITICAL and
/// UNKNOWN runs: the response, and one EMF line per run on the function's stdout. One build, many
/// invocations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_function_in_cargo_lambdas_emulator_answers_every_verdict_with_one_emf_line() {
    let rig = testkit::Rig::builder().build().await;
    let probes = tempfile::tempdir().unwrap();
    let write = |name: &str, pool: &str, user: &str| {
        std::fs::write(probes.path().join(format!("{name}.toml")), maildir_probe(&rig, pool, user)).unwrap()
    };
    write("production", PROD, USER);
    // The pool left on COGNITO_DEFAULT: delivered, a WARNING.
    write("legacy", "us-east-1_L3gcyD3f4", "probe-legacy-fcp");
    let emulator = Emulator::start(&[
        ("PROBE_DIR", probes.path().display().to_string()),
        ("AWS_ACCESS_KEY_ID", testkit::aws::ACCESS_KEY_ID.to_string()),
        ("AWS_SECRET_ACCESS_KEY", testkit::aws::SECRET_ACCESS_KEY.to_string()),
        ("AWS_REGION", testkit::aws::REGION.to_string()),
        ("RUST_LOG", "info".to_string()),
    ]);
    let invoke = |payload: serde_json::Value| {
        let before = emulator.emf_lines().len();
        let response = emulator.invoke(&payload);
        // The line is written before the response is returned; the emulator relays it within moments.
        let mut lines = emulator.emf_lines();
        for _ in 0..50 {
            if lines.len() > before {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
            lines = emulator.emf_lines();
        }
        (response, lines[before..].to_vec())
    };
    let started = std::time::Instant::now();
    let (first, _) = invoke(serde_json::json!({"probe": "production", "tick": "2026-12-02T03:10:00Z"}));
    let first_invoke = started.elapsed();
    let _ = first;
    rig.control().reset();
    rig.control().patch_faults(&serde_json::json!({})).unwrap();

    let cases: Vec<(&str, serde_json::Value, &str, u8, &str)> = vec![
        ("ok", serde_json::json!({"probe": "production"}), "OK", 0, "delivered"),
        ("warning", serde_json::json!({"probe": "legacy"}), "WARNING", 1, "cognito_default"),
        ("critical", serde_json::json!({"probe": "production"}), "CRITICAL", 2, "two_piece_gotcha"),
        ("no such probe", serde_json::json!({"probe": "absent"}), "UNKNOWN", 3, "config_invalid"),
        ("bad payload", serde_json::json!({"probe": "production", "pool": "x"}), "UNKNOWN", 3, "config_invalid"),
    ];
    let mut timings = Vec::new();
    for (case, payload, outcome, code, diagnosis) in cases {
        if case == "critical" {
            rig.control().patch_faults(&serde_json::json!({"identity_policy_missing": true})).unwrap();
        }
        let sent_before = rig.control().sent().len();
        let started = std::time::Instant::now();
        let (response, lines) = invoke(payload.clone());
        timings.push(format!("{case}: {:?}", started.elapsed()));
        assert_eq!(response["outcome"], outcome, "{case}: {response}\n{}", emulator.log());
        assert_eq!(response["code"], code, "{case}: {response}");
        assert_eq!(response["diagnosis"], diagnosis, "{case}: {response}");
        assert_eq!(response["duplicate"], false, "{case}: {response}");
        assert_eq!(lines.len(), 1, "{case}: one EMF line per run: {lines:#?}\n{}", emulator.log());
        let emf = crate::emf::assert_valid_emf(&lines[0]);
        assert_eq!(emf["Outcome"], outcome, "{case}: {}", lines[0]);
        assert_eq!(emf["OutcomeCode"], code, "{case}: {}", lines[0]);
        let expected_probe = payload["probe"].as_str().unwrap();
        assert_eq!(emf["Probe"], expected_probe, "{case}: {}", lines[0]);
        let mails = rig.control().sent().len() - sent_before;
        // The two-piece gotcha is a mail Cognito hands over and SES drops: one send all the same.
        assert_eq!(mails, usize::from(code < 3), "{case}: one trigger per run, none for UNKNOWN");
        if case == "bad payload" {
            assert!(response["summary"].as_str().unwrap().contains("unknown field `pool`"), "{response}");
        }
    }
    // What a run costs, for the function's sizing: the first invocation (the emulator's build included),
    // each later one end to end (`cargo lambda invoke` included), the function's peak memory.
    eprintln!(
        "first invocation {first_invoke:?}; {}; function peak RSS {}",
        timings.join(", "),
        emulator.function_peak_memory().unwrap_or_else(|| "not found".into())
    );
    drop(emulator);
    rig.shutdown().await;
}
