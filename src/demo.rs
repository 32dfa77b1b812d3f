//! `probe demo`: the whole probe on this machine, no AWS and no setup. The AWS twin runs in-process with
//! a temporary Maildir, and the real probe — real SDK clients over HTTP, the Maildir backend, the
//! Authentication-Results engine — runs over named scenarios, each a situation from the runbook with the
//! verdict a user should get.

use serde::Serialize;

use crate::aws::Clients;
use crate::config::ProbeFile;
use crate::diagnosis::Code;
use crate::report::Report;
use crate::verdict::Outcome;
use twin::Twin;
use twin::scenario::Scenario;

/// One demo scenario: a user of the default twin scenario, the faults switched on, the expected verdict.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    pub name: &'static str,
    pub about: &'static str,
    pub pool_id: &'static str,
    pub username: &'static str,
    pub client_id: Option<&'static str>,
    /// Faults as the twin's control endpoint takes them (JSON object).
    pub faults: &'static str,
    pub outcome: Outcome,
    pub code: Code,
}

const PROD: &str = "us-east-1_knEL7cqS3";

/// The scenarios, in the order they run. Each names the runbook situation it shows.
pub const CASES: &[Case] = &[
    Case {
        name: "healthy-resend",
        about: "FORCE_CHANGE_PASSWORD user, AdminCreateUser RESEND, healthy chain",
        pool_id: PROD,
        username: "probe-prod-fcp",
        client_id: None,
        faults: "{}",
        outcome: Outcome::Ok,
        code: Code::Delivered,
    },
    Case {
        name: "healthy-forgot-password",
        about: "CONFIRMED user, ForgotPassword through an app client, healthy chain",
        pool_id: PROD,
        username: "probe-prod-confirmed",
        client_id: Some("ujzde8gxd6ncf10epf91dhodzd"),
        faults: "{}",
        outcome: Outcome::Ok,
        code: Code::Delivered,
    },
    Case {
        name: "two-piece-gotcha",
        about: "DEVELOPER pool, SES identity policy missing: Cognito says success, SES sends nothing",
        pool_id: PROD,
        username: "probe-prod-fcp",
        client_id: None,
        faults: r#"{"identity_policy_missing": true}"#,
        outcome: Outcome::Critical,
        code: Code::TwoPieceGotcha,
    },
    Case {
        name: "cognito-default",
        about: "pool left on COGNITO_DEFAULT: generic sender, 50 mails a day",
        pool_id: "us-east-1_L3gcyD3f4",
        username: "probe-legacy-fcp",
        client_id: None,
        faults: "{}",
        outcome: Outcome::Warning,
        code: Code::CognitoDefault,
    },
    Case {
        name: "junk",
        about: "delivered, but the receiver filed it as Junk",
        pool_id: PROD,
        username: "probe-prod-fcp",
        client_id: None,
        faults: r#"{"junk": true}"#,
        outcome: Outcome::Warning,
        code: Code::DeliveredJunk,
    },
    Case {
        name: "dkim-unaligned",
        about: "only the amazonses.com DKIM signature: passes, never aligns with the From domain",
        pool_id: PROD,
        username: "probe-prod-fcp",
        client_id: None,
        faults: r#"{"dkim": "unaligned"}"#,
        outcome: Outcome::Critical,
        code: Code::AuthFailed,
    },
    Case {
        name: "recipient-drop",
        about: "SES sends (Send rises) but the mail never reaches the mailbox",
        pool_id: PROD,
        username: "probe-prod-fcp",
        client_id: None,
        faults: r#"{"recipient_drop": "silent"}"#,
        outcome: Outcome::Critical,
        code: Code::RecipientSide,
    },
    Case {
        name: "throttled",
        about: "Cognito throttles the trigger: the probe cannot tell, and must not page as a delivery failure",
        pool_id: PROD,
        username: "probe-prod-fcp",
        client_id: None,
        faults: r#"{"throttle": true, "throttle_operations": ["AdminCreateUser"]}"#,
        outcome: Outcome::Unknown,
        code: Code::Throttled,
    },
    Case {
        name: "user-disabled",
        about: "the test user is disabled: no trigger can make a mail",
        pool_id: PROD,
        username: "probe-prod-disabled",
        client_id: None,
        faults: "{}",
        outcome: Outcome::Unknown,
        code: Code::UserState,
    },
];

/// The result of one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    pub scenario: &'static str,
    pub about: &'static str,
    pub expected_outcome: Outcome,
    pub expected_code: Code,
    pub matched: bool,
    pub report: Report,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("no demo scenario named {0:?}; known: {1}")]
    UnknownScenario(String, String),
    #[error("cannot start the AWS twin: {0}")]
    Twin(String),
    #[error("cannot create a temporary Maildir: {0}")]
    TempDir(std::io::Error),
    #[error("demo probe file for {0}: {1}")]
    Config(&'static str, String),
}

/// The probe file a demo scenario runs: the same TOML a user writes, pointed at the twin and its Maildir.
fn probe_file(case: &Case, endpoint: &str, maildir: &std::path::Path) -> Result<ProbeFile, DemoError> {
    let client = case.client_id.map(|c| format!("client_id = \"{c}\"\n")).unwrap_or_default();
    let text = format!(
        r#"name = "{name}"
pool_id = "{pool}"
username = "{user}"
{client}timeout = "2s"

[aws]
endpoint_url = "{endpoint}"

[maildir]
path = {maildir}

[cloudwatch]
poll_interval = "200ms"
settle = "1s"
"#,
        name = case.name,
        pool = case.pool_id,
        user = case.username,
        maildir = toml::Value::String(maildir.display().to_string()),
    );
    ProbeFile::parse(&text, std::path::Path::new(&format!("demo/{}.toml", case.name)))
        .map_err(|e| DemoError::Config(case.name, e.to_string()))
}

/// Runs the named scenarios (all when `only` is `None`) against a fresh in-process twin.
pub async fn run(only: Option<&str>, mut each: impl FnMut(&CaseResult)) -> Result<Vec<CaseResult>, DemoError> {
    let cases: Vec<&Case> = match only {
        Some(name) => vec![CASES.iter().find(|c| c.name == name).ok_or_else(|| {
            DemoError::UnknownScenario(name.to_string(), CASES.iter().map(|c| c.name).collect::<Vec<_>>().join(", "))
        })?],
        None => CASES.iter().collect(),
    };
    let dir = tempfile::tempdir().map_err(DemoError::TempDir)?;
    let maildir = dir.path().join("Maildir");
    let scenario = Scenario::default_scenario().map_err(|e| DemoError::Twin(e.to_string()))?;
    let twin = Twin::spawn(scenario, &maildir).await.map_err(|e| DemoError::Twin(e.to_string()))?;
    let endpoint = twin.endpoint_url();
    let sdk = crate::aws::config_loader()
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&endpoint)
        .test_credentials()
        .load()
        .await;
    let clients = Clients::from_sdk_config(sdk);
    let mut results = Vec::new();
    for case in cases {
        twin.control().reset();
        let faults: serde_json::Value = serde_json::from_str(case.faults)
            .map_err(|e| DemoError::Twin(format!("scenario {}: faults {:?}: {e}", case.name, case.faults)))?;
        twin.control().patch_faults(&faults).map_err(|e| DemoError::Twin(e.to_string()))?;
        let probe = probe_file(case, &endpoint, &maildir)?;
        let report = crate::probe::run(&probe, &clients, &|_| {}).await;
        let result = CaseResult {
            scenario: case.name,
            about: case.about,
            expected_outcome: case.outcome,
            expected_code: case.code,
            matched: report.outcome == case.outcome && report.diagnosis.code == case.code,
            report,
        };
        each(&result);
        results.push(result);
    }
    twin.shutdown().await;
    Ok(results)
}
