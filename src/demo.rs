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

/// The account a scenario runs in, and the sender evidence its probe file reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum World {
    /// The twin's default scenario: an account that sends nothing but the probe's mail; metrics only.
    Quiet,
    /// The twin's busy scenario (`crates/twin/scenarios/busy.toml`): another sender mails 30 a minute
    /// through the pool's configuration set. The probe file reads the metrics only.
    Busy,
    /// The busy account, the probe file reading the configuration set's SES event records (`[ses_events]`)
    /// and Cognito's delivery-error log.
    BusyWithEvidence,
}

/// One demo scenario: a user of a twin scenario, the faults switched on, the expected verdict.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    pub name: &'static str,
    pub about: &'static str,
    pub world: World,
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
        world: World::Quiet,
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
        world: World::Quiet,
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
        world: World::Quiet,
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
        world: World::Quiet,
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
        world: World::Quiet,
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
        world: World::Quiet,
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
        world: World::Quiet,
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
        world: World::Quiet,
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
        world: World::Quiet,
        name: "user-disabled",
        about: "the test user is disabled: no trigger can make a mail",
        pool_id: PROD,
        username: "probe-prod-disabled",
        client_id: None,
        faults: "{}",
        outcome: Outcome::Unknown,
        code: Code::UserState,
    },
    Case {
        world: World::Busy,
        name: "busy-two-piece-gotcha-metrics-only",
        about: "busy account, identity policy missing, metrics only: other mail moves Send, so the probe says it \
                cannot tell instead of guessing",
        pool_id: PROD,
        username: "probe-prod-fcp",
        client_id: None,
        faults: r#"{"identity_policy_missing": true}"#,
        outcome: Outcome::Critical,
        code: Code::SenderUnknown,
    },
    Case {
        world: World::BusyWithEvidence,
        name: "busy-two-piece-gotcha",
        about: "busy account, identity policy missing: Cognito's log quotes SES's refusal within seconds",
        pool_id: PROD,
        username: "probe-prod-fcp",
        client_id: None,
        faults: r#"{"identity_policy_missing": true}"#,
        outcome: Outcome::Critical,
        code: Code::TwoPieceGotcha,
    },
    Case {
        world: World::BusyWithEvidence,
        name: "suppressed",
        about: "the test address is on the account suppression list: refused before any mail is sent",
        pool_id: PROD,
        username: "probe-prod-suppressed",
        client_id: None,
        faults: "{}",
        outcome: Outcome::Critical,
        code: Code::Suppressed,
    },
    Case {
        world: World::BusyWithEvidence,
        name: "hard-bounce",
        about: "the receiver refuses the address: SES's Bounce record (Permanent/NoEmail) decides at once",
        pool_id: PROD,
        username: "probe-prod-fcp",
        client_id: None,
        faults: r#"{"bounce": {"type": "Permanent", "subtype": "NoEmail"}}"#,
        outcome: Outcome::Critical,
        code: Code::Bounced,
    },
    Case {
        world: World::BusyWithEvidence,
        name: "soft-bounce",
        about: "the mailbox is full and SES gives up retrying: a Transient/MailboxFull Bounce record",
        pool_id: PROD,
        username: "probe-prod-fcp",
        client_id: None,
        faults: r#"{"bounce": {"type": "Transient", "subtype": "MailboxFull", "after_seconds": 1}}"#,
        outcome: Outcome::Critical,
        code: Code::Bounced,
    },
    Case {
        world: World::BusyWithEvidence,
        name: "reject",
        about: "SES finds a virus and does not send: its Reject record",
        pool_id: PROD,
        username: "probe-prod-fcp",
        client_id: None,
        faults: r#"{"reject": true}"#,
        outcome: Outcome::Critical,
        code: Code::Rejected,
    },
    Case {
        world: World::BusyWithEvidence,
        name: "rendering-failure",
        about: "SES cannot render the message: its Rendering Failure record",
        pool_id: PROD,
        username: "probe-prod-fcp",
        client_id: None,
        faults: r#"{"rendering_failure": true}"#,
        outcome: Outcome::Critical,
        code: Code::RenderingFailed,
    },
    Case {
        world: World::BusyWithEvidence,
        name: "delivery-delayed",
        about: "the receiver cannot be reached and SES keeps retrying: a DeliveryDelay record, a warning",
        pool_id: PROD,
        username: "probe-prod-fcp",
        client_id: None,
        faults: r#"{"delivery_delay": {"type": "TransientCommunicationFailure", "then": "pending"}}"#,
        outcome: Outcome::Warning,
        code: Code::DeliveryDelayed,
    },
    Case {
        world: World::BusyWithEvidence,
        name: "busy-recipient-drop",
        about: "busy account, the receiver answers 250 and the mail never shows: recipient side, proven by the \
                Delivery record",
        pool_id: PROD,
        username: "probe-prod-fcp",
        client_id: None,
        faults: r#"{"recipient_drop": "silent"}"#,
        outcome: Outcome::Critical,
        code: Code::RecipientSide,
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

/// The SES event queue of the busy scenario (its `[[queues]]` and account).
const BUSY_QUEUE: &str = "657033058608/cognito-probe-ses-events";

/// The probe file a demo scenario runs: the same TOML a user writes, pointed at the twin and its Maildir.
fn probe_file(case: &Case, endpoint: &str, maildir: &std::path::Path) -> Result<ProbeFile, DemoError> {
    let client = case.client_id.map(|c| format!("client_id = \"{c}\"\n")).unwrap_or_default();
    let evidence = match case.world {
        World::BusyWithEvidence => format!("\n[ses_events]\nqueue_url = \"{endpoint}/{BUSY_QUEUE}\"\n"),
        World::Quiet | World::Busy => "\n[cognito_logs]\nenabled = false\n".to_string(),
    };
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
{evidence}"#,
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
    let (mut quiet, mut busy) = (None, None);
    let mut results = Vec::new();
    for case in cases {
        let slot = if case.world == World::Quiet { &mut quiet } else { &mut busy };
        if slot.is_none() {
            *slot = Some(Account::start(case.world, dir.path()).await?);
        }
        let Some(Account { twin, clients, maildir }) = slot.as_ref() else { continue };
        let endpoint = twin.endpoint_url();
        twin.control().reset();
        let faults: serde_json::Value = serde_json::from_str(case.faults)
            .map_err(|e| DemoError::Twin(format!("scenario {}: faults {:?}: {e}", case.name, case.faults)))?;
        twin.control().patch_faults(&faults).map_err(|e| DemoError::Twin(e.to_string()))?;
        let probe = probe_file(case, &endpoint, maildir)?;
        let report = crate::probe::run(&probe, clients, &|_| {}).await;
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
    for account in [quiet, busy].into_iter().flatten() {
        account.twin.shutdown().await;
    }
    Ok(results)
}

/// One twin account of the demo, its Maildir and the probe's clients for it.
struct Account {
    twin: twin::TwinHandle,
    clients: Clients,
    maildir: std::path::PathBuf,
}

impl Account {
    async fn start(world: World, dir: &std::path::Path) -> Result<Account, DemoError> {
        let (scenario, maildir) = match world {
            World::Quiet => (Scenario::default_scenario(), dir.join("Maildir")),
            World::Busy | World::BusyWithEvidence => (Scenario::busy_scenario(), dir.join("Maildir-busy")),
        };
        let scenario = scenario.map_err(|e| DemoError::Twin(e.to_string()))?;
        let twin = Twin::spawn(scenario, &maildir).await.map_err(|e| DemoError::Twin(e.to_string()))?;
        let sdk = crate::aws::config_loader()
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(twin.endpoint_url())
            .test_credentials()
            .load()
            .await;
        Ok(Account { twin, clients: Clients::from_sdk_config(sdk), maildir })
    }
}
