//! `probe doctor` against the AWS twin in-process (real SDK clients over HTTP) and a real Dovecot over TLS:
//! the healthy default scenario is all OK; one twin scenario change or fault per finding proves each check
//! fires; the two-piece gotcha (`identity_policy_missing`) is named with its `aws_ses_identity_policy` fix;
//! and the `probe doctor` binary exits 0/1/2/3 with the outcome (issue 5).

use std::path::{Path, PathBuf};
use std::process::Command;

use cognito_delivery_probe::aws::Clients;
use cognito_delivery_probe::config::ProbeFile;
use cognito_delivery_probe::doctor::{self, DoctorReport, Options, PolicyMissing, Status};
use cognito_delivery_probe::verdict::Outcome;
use serde_json::{Value, json};
use twin::TwinHandle;
use twin::scenario::{MxFailure, Scenario, VerificationStatus};

use testkit::dovecot::Dovecot;

const PROD: &str = "us-east-1_knEL7cqS3";
const LEGACY: &str = "us-east-1_L3gcyD3f4";
const WEB_CLIENT: &str = "ujzde8gxd6ncf10epf91dhodzd";
const BACKEND_CLIENT: &str = "oc9is0j8ht9lgmxg9edn581u33";
const IDENTITY_ARN: &str = "arn:aws:ses:us-east-1:657033058608:identity/noreply@thephenom.app";

/// Every check the doctor runs on a healthy IMAP probe of a DEVELOPER pool.
const HEALTHY_CHECKS: [&str; 21] = [
    "pool.sending_account",
    "pool.source_arn",
    "pool.from",
    "ses.identity",
    "ses.dkim",
    "ses.mail_from",
    "ses.policy",
    "ses.account.sandbox",
    "ses.account.sending",
    "ses.account.quota",
    "user.state",
    "user.rate",
    "ses.suppression",
    "cognito.log_delivery",
    "imap.connect",
    "imap.tls",
    "imap.login",
    "imap.folders",
    "imap.junk",
    "imap.idle",
    "dns.posture",
];

/// What a probe file under test looks like; the defaults are a healthy probe of the prod pool.
#[derive(Clone)]
struct Knobs {
    pool: &'static str,
    user: &'static str,
    /// Extra top-level lines (`client_id = …`, `interval = …`, `production = …`).
    top: String,
    /// Extra `[imap]` lines.
    imap: String,
    wrong_password: bool,
    with_ca: bool,
    /// Replaces Dovecot's port (a closed port: the server is unreachable).
    port: Option<u16>,
    /// Replaces the twin's endpoint (a closed port: AWS is unreachable).
    endpoint: Option<String>,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            pool: PROD,
            user: "probe-prod-fcp",
            top: String::new(),
            imap: String::new(),
            wrong_password: false,
            with_ca: true,
            port: None,
            endpoint: None,
        }
    }
}

/// One rig (Dovecot) shared by the cases of a test; a fresh twin on its Maildir per case.
struct Rig {
    rig: testkit::Rig,
}

impl Rig {
    async fn start() -> Rig {
        let rig = testkit::Rig::builder().dovecot(true).build().await;
        std::fs::write(rig.dir().join("imap-password"), format!("{}\n", rig.dovecot().password)).unwrap();
        std::fs::write(rig.dir().join("wrong-password"), "not-the-password\n").unwrap();
        Rig { rig }
    }

    fn dovecot(&self) -> &Dovecot {
        self.rig.dovecot()
    }

    fn dir(&self) -> &Path {
        self.rig.dir()
    }

    async fn twin(&self, scenario: Scenario) -> TwinHandle {
        self.rig.spawn_twin(scenario).await
    }

    /// The probe file's text, as a user writes it.
    fn probe_text(&self, twin: &TwinHandle, k: &Knobs) -> String {
        let endpoint = k.endpoint.clone().unwrap_or_else(|| twin.endpoint_url());
        format!(
            r#"name = "doctor-check"
pool_id = "{pool}"
username = "{user}"
{top}
[aws]
endpoint_url = "{endpoint}"

[imap]
host = "{host}"
port = {port}
{ca}
username = "{imap_user}"
password = {{ file = {pw} }}
{imap}
[expect]
from = "noreply@thephenom.app"
"#,
            pool = k.pool,
            user = k.user,
            top = k.top,
            host = self.dovecot().host,
            port = k.port.unwrap_or(self.dovecot().port),
            ca = if k.with_ca {
                format!("ca_file = {}", testkit::toml_path(&self.dovecot().ca_pem_path))
            } else {
                String::new()
            },
            imap_user = self.dovecot().username,
            pw =
                testkit::toml_path(&self.dir().join(if k.wrong_password { "wrong-password" } else { "imap-password" })),
            imap = k.imap,
        )
    }

    fn probe(&self, twin: &TwinHandle, k: &Knobs) -> ProbeFile {
        let text = self.probe_text(twin, k);
        ProbeFile::parse(&text, Path::new("doctor-check.toml")).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    async fn doctor(&self, twin: &TwinHandle, k: &Knobs, missing: PolicyMissing) -> DoctorReport {
        let probe = self.probe(twin, k);
        let endpoint = probe.aws.endpoint_url.clone().unwrap();
        let sdk = testkit::aws::sdk_config(&endpoint).await;
        let options = Options { policy_missing: missing, skip_dns: true };
        doctor::run(&probe, &Clients::from_sdk_config(sdk), &options).await
    }
}

fn describe(r: &DoctorReport) -> String {
    doctor::render::text(std::slice::from_ref(r))
}

fn status(r: &DoctorReport, check: &str) -> Option<Status> {
    r.finding(check).map(|f| f.status)
}

fn scenario(change: impl FnOnce(&mut Scenario)) -> Scenario {
    let mut s = Scenario::default_scenario().unwrap();
    change(&mut s);
    s
}

fn prod_pool(s: &mut Scenario) -> &mut twin::scenario::Pool {
    s.pools.iter_mut().find(|p| p.id.as_str() == PROD).unwrap()
}

/// A policy on the identity with one statement; `extra` is appended inside the statement.
fn policy(effect: &str, extra: &str) -> String {
    format!(
        concat!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"S","Effect":"{effect}","#,
            r#""Principal":{{"Service":"email.cognito-idp.amazonaws.com"}},"#,
            r#""Action":"ses:SendEmail","Resource":"{IDENTITY_ARN}"{extra}}}]}}"#,
        ),
        effect = effect,
        IDENTITY_ARN = IDENTITY_ARN,
        extra = extra,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_default_scenario_is_all_ok() {
    let rig = Rig::start().await;
    let twin = rig.twin(Scenario::default_scenario().unwrap()).await;
    let report = rig.doctor(&twin, &Knobs::default(), PolicyMissing::Fail).await;
    assert_eq!(report.outcome, Outcome::Ok, "{}", describe(&report));
    for check in HEALTHY_CHECKS {
        // The default scenario's pool exports no delivery-error log: optional evidence, skipped.
        let expected = if matches!(check, "dns.posture" | "cognito.log_delivery") { Status::Skip } else { Status::Ok };
        assert_eq!(status(&report, check), Some(expected), "{check}:\n{}", describe(&report));
    }
    assert_eq!(report.findings.len(), HEALTHY_CHECKS.len(), "{}", describe(&report));
    assert!(twin.control().sent().is_empty(), "doctor must never send mail");
    twin.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_scenario_change_or_fault_fires_its_check() {
    let rig = Rig::start().await;
    let k = Knobs::default;
    let no_change = |_: &mut Scenario| {};
    #[allow(clippy::type_complexity)] // a case table reads best as tuples
    let cases: Vec<(&str, Knobs, Box<dyn Fn(&mut Scenario)>, Value, &str, Status)> = vec![
        // Pool email configuration.
        (
            "COGNITO_DEFAULT pool",
            Knobs { pool: LEGACY, user: "probe-legacy-fcp", ..k() },
            Box::new(no_change),
            json!({}),
            "pool.sending_account",
            Status::Warn,
        ),
        (
            "COGNITO_DEFAULT production pool",
            Knobs { pool: LEGACY, user: "probe-legacy-fcp", top: "production = true".into(), ..k() },
            Box::new(no_change),
            json!({}),
            "pool.sending_account",
            Status::Fail,
        ),
        (
            "COGNITO_DEFAULT quota vs the probe's rate",
            Knobs { pool: LEGACY, user: "probe-legacy-fcp", ..k() },
            Box::new(no_change),
            json!({}),
            "ses.account.quota",
            Status::Fail,
        ),
        (
            "SourceArn in another account",
            k(),
            Box::new(|s| prod_pool(s).email.source_arn = Some(IDENTITY_ARN.replace("657033058608", "111111111111"))),
            json!({}),
            "pool.source_arn",
            Status::Warn,
        ),
        (
            "SourceArn in a Region Cognito cannot use",
            k(),
            Box::new(|s| prod_pool(s).email.source_arn = Some(IDENTITY_ARN.replace("us-east-1", "ap-south-1"))),
            json!({}),
            "pool.source_arn",
            Status::Fail,
        ),
        (
            "From not covered by the identity",
            k(),
            Box::new(|s| prod_pool(s).email.from = Some("Phenom <hello@other.example>".into())),
            json!({}),
            "pool.from",
            Status::Fail,
        ),
        (
            "From that does not parse",
            k(),
            Box::new(|s| prod_pool(s).email.from = Some("Phenom <noreply@thephenom.app".into())),
            json!({}),
            "pool.from",
            Status::Fail,
        ),
        (
            "parentheses in the display name",
            k(),
            Box::new(|s| prod_pool(s).email.from = Some("Phenom (dev) <noreply@thephenom.app>".into())),
            json!({}),
            "pool.from_display_name",
            Status::Warn,
        ),
        // SES identity.
        (
            "identity pending verification",
            k(),
            Box::new(|s| s.identities[0].verification_status = VerificationStatus::Pending),
            json!({}),
            "ses.identity",
            Status::Fail,
        ),
        (
            "DKIM failed",
            k(),
            Box::new(|s| s.identities[0].dkim_status = VerificationStatus::Failed),
            json!({}),
            "ses.dkim",
            Status::Fail,
        ),
        (
            "MAIL FROM failing, silent fallback",
            k(),
            Box::new(|s| {
                s.identities[0].mail_from_domain = Some("mail.thephenom.app".into());
                s.identities[0].mail_from_status = VerificationStatus::Failed;
            }),
            json!({}),
            "ses.mail_from",
            Status::Warn,
        ),
        (
            "MAIL FROM failing, reject",
            k(),
            Box::new(|s| {
                s.identities[0].mail_from_domain = Some("mail.thephenom.app".into());
                s.identities[0].mail_from_status = VerificationStatus::Pending;
                s.identities[0].behavior_on_mx_failure = MxFailure::RejectMessage;
            }),
            json!({}),
            "ses.mail_from",
            Status::Fail,
        ),
        // Identity policies (research/aws.md §3.3).
        (
            "policy missing (the two-piece gotcha)",
            k(),
            Box::new(no_change),
            json!({"identity_policy_missing": true}),
            "ses.policy",
            Status::Fail,
        ),
        (
            "policy scoped to another pool",
            k(),
            Box::new(|s| {
                s.identities[0].policies.clear();
                let other = "arn:aws:cognito-idp:us-east-1:657033058608:userpool/us-east-1_other";
                let condition = format!(r#","Condition":{{"ArnLike":{{"aws:SourceArn":"{other}"}}}}"#);
                s.identities[0].policies.insert("OtherPool".into(), policy("Allow", &condition));
            }),
            json!({}),
            "ses.policy",
            Status::Fail,
        ),
        (
            "a Deny cancels the Allow",
            k(),
            Box::new(|s| {
                s.identities[0].policies.insert("DenyCognito".into(), policy("Deny", ""));
            }),
            json!({}),
            "ses.policy",
            Status::Fail,
        ),
        // Account.
        (
            "sandbox",
            k(),
            Box::new(|s| s.account.production_access_enabled = false),
            json!({}),
            "ses.account.sandbox",
            Status::Warn,
        ),
        (
            "sandbox, production probe",
            Knobs { top: "production = true".into(), ..k() },
            Box::new(|s| s.account.production_access_enabled = false),
            json!({}),
            "ses.account.sandbox",
            Status::Fail,
        ),
        (
            "sending disabled",
            k(),
            Box::new(|s| s.account.sending_enabled = false),
            json!({}),
            "ses.account.sending",
            Status::Fail,
        ),
        (
            "quota smaller than the probe's rate",
            k(),
            Box::new(|s| s.account.max_24_hour_send = 50.0),
            json!({}),
            "ses.account.quota",
            Status::Fail,
        ),
        // Test user.
        ("user missing", Knobs { user: "nobody", ..k() }, Box::new(no_change), json!({}), "user.state", Status::Fail),
        (
            "user disabled",
            Knobs { user: "probe-prod-disabled", ..k() },
            Box::new(no_change),
            json!({}),
            "user.state",
            Status::Fail,
        ),
        (
            "federated user",
            Knobs { user: "Google_107716451260948812345", ..k() },
            Box::new(no_change),
            json!({}),
            "user.state",
            Status::Fail,
        ),
        (
            "confirmed user, unverified email",
            Knobs { user: "probe-prod-unverified", top: format!("client_id = \"{WEB_CLIENT}\""), ..k() },
            Box::new(no_change),
            json!({}),
            "user.email",
            Status::Warn,
        ),
        (
            "ForgotPassword every 5 minutes",
            Knobs {
                user: "probe-prod-confirmed",
                top: format!("client_id = \"{WEB_CLIENT}\"\ninterval = \"5m\""),
                ..k()
            },
            Box::new(no_change),
            json!({}),
            "user.rate",
            Status::Warn,
        ),
        (
            "client secret not configured",
            Knobs { user: "probe-prod-confirmed", top: format!("client_id = \"{BACKEND_CLIENT}\""), ..k() },
            Box::new(no_change),
            json!({}),
            "user.client",
            Status::Fail,
        ),
        // Mailbox.
        (
            "wrong IMAP password",
            Knobs { wrong_password: true, ..k() },
            Box::new(no_change),
            json!({}),
            "imap.login",
            Status::Fail,
        ),
        (
            "certificate from an unknown CA",
            Knobs { with_ca: false, ..k() },
            Box::new(no_change),
            json!({}),
            "imap.tls",
            Status::Fail,
        ),
        (
            "missing Junk folder name",
            Knobs { imap: "junk_folder = \"Nope\"".into(), ..k() },
            Box::new(no_change),
            json!({}),
            "imap.folders",
            Status::Fail,
        ),
        (
            "IDLE turned off",
            Knobs { imap: "idle = false".into(), ..k() },
            Box::new(no_change),
            json!({}),
            "imap.idle",
            Status::Warn,
        ),
        (
            "IMAP server unreachable",
            Knobs { port: Some(closed_port()), ..k() },
            Box::new(no_change),
            json!({}),
            "imap.connect",
            Status::Unknown,
        ),
        // The doctor's own trouble.
        (
            "AWS unreachable",
            Knobs { endpoint: Some(format!("http://127.0.0.1:{}", closed_port())), ..k() },
            Box::new(no_change),
            json!({}),
            "pool.email",
            Status::Unknown,
        ),
    ];
    let mut failures = Vec::new();
    for (name, knobs, change, faults, check, expected) in cases {
        let twin = rig.twin(scenario(|s| change(s))).await;
        twin.control().patch_faults(&faults).unwrap();
        let report = rig.doctor(&twin, &knobs, PolicyMissing::Fail).await;
        if status(&report, check) != Some(expected) {
            failures.push(format!(
                "{name}: {check} expected {expected:?}, got {:?}\n{}",
                status(&report, check),
                describe(&report)
            ));
        }
        let worst_expected = match expected {
            Status::Fail => Outcome::Critical,
            Status::Unknown => Outcome::Unknown,
            _ => Outcome::Warning,
        };
        if expected != Status::Unknown
            && report.outcome != worst_expected
            && !(worst_expected == Outcome::Warning && report.outcome == Outcome::Critical)
        {
            failures.push(format!(
                "{name}: outcome {:?}, expected {worst_expected:?}\n{}",
                report.outcome,
                describe(&report)
            ));
        }
        assert!(twin.control().sent().is_empty(), "{name}: doctor must never send mail");
        twin.shutdown().await;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A local port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_policy_is_fail_by_default_and_warn_on_request() {
    let rig = Rig::start().await;
    let twin = rig.twin(Scenario::default_scenario().unwrap()).await;
    twin.control().patch_faults(&json!({"identity_policy_missing": true})).unwrap();
    let strict = rig.doctor(&twin, &Knobs::default(), PolicyMissing::Fail).await;
    assert_eq!(strict.outcome, Outcome::Critical, "{}", describe(&strict));
    let lenient = rig.doctor(&twin, &Knobs::default(), PolicyMissing::Warn).await;
    assert_eq!(status(&lenient, "ses.policy"), Some(Status::Warn), "{}", describe(&lenient));
    assert_eq!(lenient.outcome, Outcome::Warning, "{}", describe(&lenient));
    for r in [&strict, &lenient] {
        let f = r.finding("ses.policy").unwrap();
        assert!(f.summary.contains("silently denies") && f.summary.contains("service-linked role"), "{}", f.summary);
    }
    twin.shutdown().await;
}

/// Runs the `probe doctor` binary on a probe file written to disk; returns (exit code, stdout).
fn probe_doctor(file: &Path, extra: &[&str]) -> (i32, String) {
    let flag = if file.is_dir() { "--probes" } else { "--config" };
    let out = Command::new(env!("CARGO_BIN_EXE_probe"))
        .args(["doctor", "--no-dns", flag])
        .arg(file)
        .args(extra)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_names_the_two_piece_gotcha_prints_the_terraform_fix_and_exits_by_outcome() {
    let rig = Rig::start().await;
    let twin = rig.twin(Scenario::default_scenario().unwrap()).await;
    let write = |name: &str, k: &Knobs| -> PathBuf {
        let path = rig.dir().join(name);
        std::fs::write(&path, rig.probe_text(&twin, k)).unwrap();
        path
    };
    let healthy = write("healthy.toml", &Knobs::default());
    let bin =
        |file: PathBuf, extra: &'static [&'static str]| tokio::task::spawn_blocking(move || probe_doctor(&file, extra));

    let (code, out) = bin(healthy.clone(), &[]).await.unwrap();
    assert_eq!(code, 0, "healthy: {out}");

    twin.control().patch_faults(&json!({"identity_policy_missing": true})).unwrap();
    let (code, out) = bin(healthy.clone(), &[]).await.unwrap();
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("FAIL    ses.policy") && out.contains("the two-piece gotcha"), "{out}");
    assert!(out.contains("resource \"aws_ses_identity_policy\" \"cognito_noreply\""), "{out}");
    assert!(
        out.contains("\"aws:SourceArn\" = \"arn:aws:cognito-idp:us-east-1:657033058608:userpool/us-east-1_knEL7cqS3\""),
        "{out}"
    );

    let (code, out) = bin(healthy.clone(), &["--policy-missing", "warn"]).await.unwrap();
    assert_eq!(code, 1, "{out}");

    let (code, out) = bin(healthy.clone(), &["--format", "nagios"]).await.unwrap();
    assert_eq!(code, 2, "{out}");
    assert!(out.starts_with("COGNITO-DOCTOR CRITICAL - doctor-check: ses.policy"), "{out}");

    let (code, out) = bin(healthy.clone(), &["--format", "json"]).await.unwrap();
    let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(doc["outcome"], "critical");
    assert_eq!(code, 2);

    let unreachable = write(
        "unreachable.toml",
        &Knobs { endpoint: Some(format!("http://127.0.0.1:{}", closed_port())), ..Knobs::default() },
    );
    let (code, out) = bin(unreachable, &[]).await.unwrap();
    assert_eq!(code, 3, "AWS unreachable is the doctor's own trouble: {out}");

    // Without --pool/--probe/--config: every file in --probes; the worst decides.
    let dir = rig.dir().join("probes");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(&healthy, dir.join("phenom-prod.toml")).unwrap();
    let legacy = Knobs { pool: LEGACY, user: "probe-legacy-fcp", top: "interval = \"1h\"".into(), ..Knobs::default() };
    std::fs::write(dir.join("phenom-legacy.toml"), rig.probe_text(&twin, &legacy)).unwrap();
    twin.control().patch_faults(&json!({"identity_policy_missing": false})).unwrap();
    let (code, out) = bin(dir.clone(), &[]).await.unwrap();
    assert_eq!(code, 1, "the legacy pool's COGNITO_DEFAULT warns, the rest is OK: {out}");
    assert!(out.contains("overall: WARNING") && out.contains("warn    pool.sending_account"), "{out}");

    let missing = rig.dir().join("no-such-file.toml");
    let (code, _) = bin(missing, &[]).await.unwrap();
    assert_eq!(code, 3, "a probe file that cannot be read is UNKNOWN");
    twin.shutdown().await;
}

/// The sender-evidence checks on the twin's busy account: the suppression list, Cognito's delivery-error
/// log and the SES event queue, each judged as a run will read it — and doctor deletes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sender_evidence_checks_judge_what_a_run_will_read() {
    const QUEUE: &str = "cognito-probe-ses-events";
    let rig = Rig::start().await;
    let twin = rig.twin(Scenario::busy_scenario().unwrap()).await;
    let queue = |name: &str| format!("[ses_events]\nqueue_url = \"{}/657033058608/{name}\"\n", twin.endpoint_url());
    twin.control().send_to_queue(QUEUE, "{not json").unwrap();

    let full = Knobs { top: queue(QUEUE), ..Knobs::default() };
    let report = rig.doctor(&twin, &full, PolicyMissing::Fail).await;
    for check in ["ses.suppression", "cognito.log_delivery", "ses.events"] {
        assert_eq!(status(&report, check), Some(Status::Ok), "{check}:\n{}", describe(&report));
    }
    assert!(twin.control().queue_messages(QUEUE).iter().any(|m| m == "{not json"), "doctor deletes nothing");

    let suppressed = Knobs { user: "probe-prod-suppressed", ..full.clone() };
    let report = rig.doctor(&twin, &suppressed, PolicyMissing::Fail).await;
    let finding = report.finding("ses.suppression").unwrap_or_else(|| panic!("{}", describe(&report)));
    assert_eq!((finding.status, report.outcome), (Status::Fail, Outcome::Critical), "{}", describe(&report));
    assert!(finding.summary.contains("BOUNCE, since 2026-11-20 08:00 UTC"), "{}", finding.summary);
    assert!(finding.evidence.iter().any(|e| e.contains("0100019aa0b1c2d3-7e4f5a6b")), "{:?}", finding.evidence);
    assert!(
        finding.fix.contains(
            "aws sesv2 delete-suppressed-destination --email-address 'probe+prod-suppressed@mail.test' --region \
             us-east-1"
        ),
        "{}",
        finding.fix
    );

    let gone = Knobs { top: queue("no-such-queue"), ..Knobs::default() };
    let report = rig.doctor(&twin, &gone, PolicyMissing::Fail).await;
    assert_eq!(status(&report, "ses.events"), Some(Status::Fail), "{}", describe(&report));
    let staging =
        Knobs { pool: "us-east-1_Qp3xT9vLm", user: "probe-staging-fcp", top: queue(QUEUE), ..Knobs::default() };
    let report = rig.doctor(&twin, &staging, PolicyMissing::Fail).await;
    let events = report.finding("ses.events").unwrap_or_else(|| panic!("{}", describe(&report)));
    assert_eq!(events.status, Status::Fail, "a pool without a configuration set: {}", describe(&report));
    assert_eq!(status(&report, "cognito.log_delivery"), Some(Status::Skip), "{}", describe(&report));

    // A role that predates the evidence sources: a finding with the IAM fix, not an UNKNOWN doctor.
    twin.control()
        .patch_faults(&json!({"access_denied": ["GetSuppressedDestination", "GetLogDeliveryConfiguration"]}))
        .unwrap();
    let report = rig.doctor(&twin, &Knobs::default(), PolicyMissing::Fail).await;
    for check in ["ses.suppression", "cognito.log_delivery"] {
        assert_eq!(status(&report, check), Some(Status::Warn), "{check}:\n{}", describe(&report));
    }
    assert!(twin.control().sent().is_empty(), "doctor must never send mail");
    twin.shutdown().await;
}
